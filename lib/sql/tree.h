/* The parse-tree layer: the one internal API over libpg_query's parse tree.
 *
 * Only lib/sql reads libpg_query's output; other modules (and lib/sql's own
 * walkers) ask this layer. A tree is parsed once (tree.c: libpg_query behind
 * the stack guard of pgq.c, its JSON read without recursion into nodes),
 * CTE references are resolved once at parse time, and every walk goes
 * through alchdb__sql_visit(): an explicit stack, never recursion, with a
 * depth limit. So a statement of any depth PostgreSQL accepts is either
 * walked or refused with ALCHDB_E_RANGE, never a stack overflow.
 *
 * Nodes: an "object" node is one parse node. Its type is libpg_query's node
 * name ("SelectStmt", "RangeVar", "A_Expr", ...) when the tree wraps it
 * ({"SelectStmt": {...}}), or NULL for a node printed bare under a field of
 * a fixed type ("relation": {"relname": ...}). Lists are libpg_query's JSON
 * arrays; scalars are strings, integers and booleans. docs/sql.md describes
 * the layer for maintainers. */
#ifndef ALCHDB_SQL_TREE_H
#define ALCHDB_SQL_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct alchdb__sql_tree alchdb__sql_tree;
typedef struct alchdb__sql_node alchdb__sql_node;

enum {
    ALCHDB__SQL_J_NULL = 0,
    ALCHDB__SQL_J_OBJECT, /* a parse node */
    ALCHDB__SQL_J_LIST,
    ALCHDB__SQL_J_STRING,
    ALCHDB__SQL_J_INT,
    ALCHDB__SQL_J_BOOL,
};

/* Node flags set by the layer. */
#define ALCHDB__SQL_NF_CTE_REF 0x1u /* a RangeVar that names a CTE in scope, not a table */

struct alchdb__sql_node {
    uint8_t jtype;
    uint8_t flags;
    uint32_t n;        /* members of an object, items of a list */
    const char *type;  /* object: the node type, or NULL when printed bare */
    const char *str;   /* string value */
    int64_t num;       /* integer value; booleans: 0 or 1 */
    const char **keys; /* object: member names, in document order */
    alchdb__sql_node *kids; /* object: member values; list: items */
};

/* ---- parsing ---------------------------------------------------------------- */

/* Parse a script (len bytes, or (size_t)-1 when NUL-terminated; UTF-8
 * without NUL bytes). Returns 0 with *out set; ALCHDB_E_PARSE with
 * *err_offset (if err_offset) the byte offset of the error (-1 unknown) and
 * PostgreSQL's message as the thread-local detail; ALCHDB_E_RANGE when the
 * script is nested too deeply to parse safely (the detail says so);
 * ALCHDB_E_INVALID / ALCHDB_E_RANGE for bad input (as alchdb_sql_analyze);
 * ALCHDB_E_NOMEM. */
int alchdb__sql_tree_parse(const char *sql, size_t len, alchdb__sql_tree **out, int64_t *err_offset);
void alchdb__sql_tree_free(alchdb__sql_tree *t);

/* The script the tree was parsed from (NUL-terminated copy) and its length. */
const char *alchdb__sql_tree_text(const alchdb__sql_tree *t, size_t *len);
/* The deepest nesting of nodes in the tree. */
size_t alchdb__sql_tree_depth(const alchdb__sql_tree *t);
size_t alchdb__sql_tree_count(const alchdb__sql_tree *t);
/* Statement i: its node (e.g. a "SelectStmt"), and the span libpg_query
 * reports for it (offset, length; length 0 means "to the end"). */
const alchdb__sql_node *alchdb__sql_tree_stmt(const alchdb__sql_tree *t, size_t i, size_t *offset, size_t *length);

/* ---- nodes ------------------------------------------------------------------- */

const char *alchdb__sql_node_type(const alchdb__sql_node *n);
bool alchdb__sql_node_is(const alchdb__sql_node *n, const char *type);
/* Member `field` of an object node (NULL when absent or n is not an object). */
const alchdb__sql_node *alchdb__sql_node_get(const alchdb__sql_node *n, const char *field);
/* Items of a list (0 / NULL for anything else). */
size_t alchdb__sql_node_count(const alchdb__sql_node *n);
const alchdb__sql_node *alchdb__sql_node_item(const alchdb__sql_node *n, size_t i);
/* Scalars: the string (NULL when not a string), the integer (dflt when not an
 * integer), true only for the boolean true. */
const char *alchdb__sql_node_str(const alchdb__sql_node *n);
int64_t alchdb__sql_node_int(const alchdb__sql_node *n, int64_t dflt);
bool alchdb__sql_node_true(const alchdb__sql_node *n);
/* Shorthands for a member: alchdb__sql_node_str(alchdb__sql_node_get(n, field)). */
const char *alchdb__sql_field_str(const alchdb__sql_node *n, const char *field);
/* The String node's text ({"String": {"sval": ...}}), or NULL. */
const char *alchdb__sql_string_node(const alchdb__sql_node *n);

/* ---- relations, functions, columns, constants, parameters, types ---------- */

/* A relation reference (RangeVar), names as PostgreSQL folded them. */
typedef struct alchdb__sql_relref {
    const char *catalog; /* NULL unless written db.schema.name */
    const char *schema;  /* NULL when unqualified */
    const char *name;
    const char *alias;   /* NULL when none */
    bool cte;            /* names a CTE in scope (resolved once at parse time) */
    bool temp;           /* CREATE TEMP ... or a pg_temp schema */
} alchdb__sql_relref;
/* n is a RangeVar (wrapped or bare); false otherwise. */
bool alchdb__sql_relref_of(const alchdb__sql_node *n, alchdb__sql_relref *out);

/* A list of String nodes (a qualified name: funcname, TypeName.names, DROP
 * objects) into parts[0..max); returns the number of parts, or 0 when an
 * item is not a String or there are more than max. */
size_t alchdb__sql_name_parts(const alchdb__sql_node *list, const char **parts, size_t max);

/* The exact function a FuncCall names: schema (NULL when unqualified) and
 * name, as written (quoted names keep their case, unquoted are folded). */
bool alchdb__sql_func_of(const alchdb__sql_node *n, const char **schema, const char **name);

/* A ColumnRef's fields (at most max; *star when the last is "*"). Returns
 * the number of fields (0: not a ColumnRef). */
size_t alchdb__sql_column_of(const alchdb__sql_node *n, const char **fields, size_t max, bool *star);

/* A constant (A_Const). */
enum {
    ALCHDB__SQL_CONST_NULL = 1,
    ALCHDB__SQL_CONST_INT,    /* text: the value in decimal */
    ALCHDB__SQL_CONST_FLOAT,  /* text: as written (numeric constants that are not int4) */
    ALCHDB__SQL_CONST_STRING, /* text: the string's value */
    ALCHDB__SQL_CONST_BOOL,   /* text: "true" or "false" */
    ALCHDB__SQL_CONST_BITS,   /* text: b0101 / x1F as libpg_query spells it */
};
typedef struct alchdb__sql_const {
    int kind;
    const char *text; /* borrowed from the tree, or from buf */
    int64_t location; /* byte offset in the script, -1 unknown */
    char buf[24];
} alchdb__sql_const;
/* n is an A_Const; false otherwise or when its value cannot be known (an
 * integer libpg_query does not print, whose source text is not plain
 * digits). */
bool alchdb__sql_const_of(const alchdb__sql_tree *t, const alchdb__sql_node *n, alchdb__sql_const *out);

/* $n of a ParamRef (1..65535), 0 for anything else. */
int alchdb__sql_param_of(const alchdb__sql_node *n);

/* A TypeName rendered as SQL from the tree: every name part quoted where
 * PostgreSQL needs it ("My Type", "char" stays "char"), the schema kept
 * (pg_catalog.int4 for int), typmods, array bounds, SETOF and %TYPE.
 * Returns 0, or ALCHDB_E_UNSUPPORTED when a typmod is not a constant. */
int alchdb__sql_type_render(const alchdb__sql_node *type_name, alchdb__strbuf *sb);

/* ---- identifiers (names.c) ----------------------------------------------------- */

/* Append ident as PostgreSQL's quote_ident would: bare when it is lower
 * case ASCII letters, digits and _ (not first a digit) and not a reserved,
 * column-name or type/function-name keyword; double-quoted otherwise. */
void alchdb__sql_quote_ident(alchdb__strbuf *sb, const char *ident);
bool alchdb__sql_ident_needs_quotes(const char *ident);
/* Append [catalog.][schema.]name, each part quoted where needed. */
void alchdb__sql_quote_qualified(alchdb__strbuf *sb, const char *catalog, const char *schema, const char *name);

/* ---- the visitor ------------------------------------------------------------------ */

enum {
    ALCHDB__SQL_VISIT_DESCEND = 0, /* visit the node's children */
    ALCHDB__SQL_VISIT_SKIP,        /* not its children; carry on with its siblings */
    ALCHDB__SQL_VISIT_STOP,        /* end the walk now */
};

/* Called for every object node before its children: key is the member of
 * the parent (the nearest object node above) the node hangs under, directly
 * or in a list (NULL for the root); *state arrives as the parent's state
 * after its own enter and may be changed for this node and its subtree. */
typedef int (*alchdb__sql_enter_fn)(void *ud, const alchdb__sql_node *n, const char *key,
                                    const alchdb__sql_node *parent, uintptr_t *state);
/* Called after the node's children (when enter returned DESCEND), with the
 * state enter left. May be NULL. */
typedef void (*alchdb__sql_leave_fn)(void *ud, const alchdb__sql_node *n, const char *key, uintptr_t state);

/* Walk the object nodes under root (root included when it is an object) in
 * document order, except that a node's "withClause" is visited before its
 * other members (CTEs are defined before they are used). Nodes deeper than
 * max_depth (root = 1) are not visited. Returns 0, 1 when enter stopped the
 * walk, ALCHDB_E_RANGE when nodes were left out for max_depth (the rest was
 * visited), ALCHDB_E_NOMEM. */
int alchdb__sql_visit(const alchdb__sql_node *root, size_t max_depth, uintptr_t state, alchdb__sql_enter_fn enter,
                      alchdb__sql_leave_fn leave, void *ud);

#endif /* ALCHDB_SQL_TREE_H */
