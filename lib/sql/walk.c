/* What one statement reads and writes, from the layer's tree: tables read
 * and written (CTE references are not tables: the layer resolved them),
 * locking clauses, volatile and side-effecting functions, every function
 * called, writable CTEs, SELECT INTO, temp tables, transaction modes.
 *
 * The walk is generic (every node is visited, so subqueries in FROM, WHERE,
 * the target list, set operations and LATERAL are all seen); only the members
 * that name a written table are special. It runs on the layer's visitor, so
 * no depth of tree can overflow the stack. */
#include <ctype.h>

#include "sql_priv.h"
#include "tree.h"

enum { M_READ = ALCHDB_SQL_TABLES_READ, M_WRITE = ALCHDB_SQL_TABLES_WRITTEN };

typedef struct walk_ctx {
    sql_walk_result *r;
    bool not_executed;                  /* plain EXPLAIN: tables are only read, functions not run */
    const alchdb__sql_node *ddl_body;   /* the top-level DDL node: its target members are written */
} walk_ctx;

static void add_name(walk_ctx *c, sql_nameset *set, const char *catalog, const char *schema, const char *name)
{
    if (!sql__nameset_add(set, catalog, schema, name))
        c->r->nomem = true;
}

static void add_table(walk_ctx *c, const alchdb__sql_relref *rel, int mode)
{
    if (rel->cte)
        return;
    if (rel->temp)
        c->r->temp_table = true;
    add_name(c, &c->r->tables[c->not_executed ? M_READ : mode], rel->catalog, rel->schema, rel->name);
}

/* A built-in volatile or side-effecting function by its unqualified name
 * (always_volatile: not a function but random all the same, TABLESAMPLE). */
static void add_volatile(walk_ctx *c, const char *name, bool always_volatile)
{
    if (c->not_executed || !name || (!always_volatile && !alchdb__sql_func_is_volatile(name)))
        return;
    char buf[64];
    size_t n = 0;
    for (; name[n] && n < sizeof buf - 1; n++)
        buf[n] = (char)tolower((unsigned char)name[n]);
    if (!sql__strset_add(&c->r->funcs, buf, n))
        c->r->nomem = true;
    c->r->volatile_fn = true;
    if (alchdb__sql_func_has_side_effects(name))
        c->r->side_effects = true;
}

static void func_call(walk_ctx *c, const alchdb__sql_node *fc)
{
    const char *schema, *name;
    if (c->not_executed || !alchdb__sql_func_of(fc, &schema, &name))
        return;
    add_name(c, &c->r->calls, NULL, schema, name);
    add_volatile(c, name, false);
}

/* CURRENT_TIMESTAMP and friends: SQLValueFunction nodes, not calls. */
static void sql_value_function(walk_ctx *c, const alchdb__sql_node *n)
{
    const char *op = alchdb__sql_field_str(n, "op");
    if (!op || strncmp(op, "SVFOP_", 6))
        return;
    char buf[64];
    size_t k = 0;
    for (op += 6; op[k] && k < sizeof buf - 1; k++)
        buf[k] = (char)tolower((unsigned char)op[k]);
    buf[k] = '\0';
    if (k > 2 && !strcmp(buf + k - 2, "_n"))
        buf[k - 2] = '\0';
    add_volatile(c, buf, false);
}

static bool is_dml(const char *type)
{
    return type && (!strcmp(type, "InsertStmt") || !strcmp(type, "UpdateStmt") || !strcmp(type, "DeleteStmt") ||
                    !strcmp(type, "MergeStmt"));
}

/* Members of the top-level DDL/maintenance node that name its target tables. */
static bool ddl_target_key(const char *key)
{
    static const char *const keys[] = {"relation", "relations", "rels", "into", "view", "objects", "table",
                                       "sequence"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i]))
            return true;
    return false;
}

/* Node types that only carry a table reference through: a child of one
 * keeps the mode the node has. */
static bool transparent(const char *type)
{
    return !type || !strcmp(type, "RangeVar") || !strcmp(type, "List") || !strcmp(type, "VacuumRelation") ||
           !strcmp(type, "IntoClause");
}

/* The mode (read or write) of a node from its parent's. */
static int child_mode(const walk_ctx *c, const alchdb__sql_node *parent, const char *key, int mode)
{
    if (!parent || !key)
        return mode;
    const char *pt = alchdb__sql_node_type(parent);
    if (is_dml(pt) && !strcmp(key, "relation"))
        return M_WRITE;
    if (pt && !strcmp(pt, "SelectStmt") && !strcmp(key, "intoClause"))
        return M_WRITE;
    if (parent == c->ddl_body && ddl_target_key(key))
        return M_WRITE;
    return transparent(pt) ? mode : M_READ;
}

static int enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                 uintptr_t *state)
{
    walk_ctx *c = ud;
    if (c->r->nomem)
        return ALCHDB__SQL_VISIT_STOP;
    int mode = child_mode(c, parent, key, (int)*state);
    *state = (uintptr_t)mode;
    alchdb__sql_relref rel;
    if (alchdb__sql_relref_of(n, &rel)) {
        add_table(c, &rel, mode);
        return ALCHDB__SQL_VISIT_SKIP;
    }
    const char *type = alchdb__sql_node_type(n);
    if (!type)
        return ALCHDB__SQL_VISIT_DESCEND;
    if (!strcmp(type, "SQLValueFunction")) {
        sql_value_function(c, n);
        return ALCHDB__SQL_VISIT_SKIP;
    }
    if (!strcmp(type, "FuncCall"))
        func_call(c, n);
    else if (!strcmp(type, "RangeTableSample") && !alchdb__sql_node_get(n, "repeatable"))
        add_volatile(c, "tablesample", true);
    else if (!strcmp(type, "CommonTableExpr") && is_dml(alchdb__sql_node_type(alchdb__sql_node_get(n, "ctequery"))))
        c->r->writable_cte = true;
    if (alchdb__sql_node_count(alchdb__sql_node_get(n, "lockingClause")) > 0 && !c->not_executed)
        c->r->locking = true;
    return ALCHDB__SQL_VISIT_DESCEND;
}

static void walk(walk_ctx *c, const alchdb__sql_node *n, int mode)
{
    int rc = alchdb__sql_visit(n, SQL_MAX_TREE_DEPTH, (uintptr_t)mode, enter, NULL, c);
    if (rc == ALCHDB_E_NOMEM)
        c->r->nomem = true;
    else if (rc < 0)
        c->r->incomplete = true;
}

/* DROP and COMMENT name their objects as lists of strings. */
static void name_list(walk_ctx *c, const alchdb__sql_node *list, bool drop_last)
{
    const char *parts[4];
    size_t n = alchdb__sql_name_parts(list, parts, 4);
    if (drop_last && n)
        n--;
    if (!n || n > 3)
        return;
    add_name(c, &c->r->tables[M_WRITE], n == 3 ? parts[0] : NULL, n >= 2 ? parts[n - 2] : NULL, parts[n - 1]);
}

static bool table_like(const char *objtype)
{
    return objtype && (!strcmp(objtype, "OBJECT_TABLE") || !strcmp(objtype, "OBJECT_VIEW") ||
                       !strcmp(objtype, "OBJECT_MATVIEW") || !strcmp(objtype, "OBJECT_FOREIGN_TABLE"));
}

/* A DefElem's value as a boolean: EXPLAIN (ANALYZE off), READ ONLY, ... */
static bool defelem_true(const alchdb__sql_node *de, bool absent)
{
    const alchdb__sql_node *arg = alchdb__sql_node_get(de, "arg");
    if (!arg)
        return absent;
    const char *s = alchdb__sql_string_node(arg);
    if (s)
        return !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "yes");
    const alchdb__sql_node *v = alchdb__sql_node_get(arg, "ival");
    if (alchdb__sql_node_is(arg, "Integer"))
        return alchdb__sql_node_int(v, 0) != 0;
    if (alchdb__sql_node_is(arg, "A_Const") && v) /* 0 prints as {} */
        return alchdb__sql_node_int(alchdb__sql_node_get(v, "ival"), 0) != 0;
    if (alchdb__sql_node_is(arg, "Boolean"))
        return alchdb__sql_node_true(alchdb__sql_node_get(arg, "boolval"));
    if (alchdb__sql_node_is(arg, "A_Const") && alchdb__sql_node_get(arg, "boolval"))
        return alchdb__sql_node_true(alchdb__sql_node_get(alchdb__sql_node_get(arg, "boolval"), "boolval"));
    return absent; /* an unknown spelling: as if given without a value */
}

static bool explain_analyze(const alchdb__sql_node *body)
{
    const alchdb__sql_node *opts = alchdb__sql_node_get(body, "options");
    for (size_t i = 0; i < alchdb__sql_node_count(opts); i++) {
        const alchdb__sql_node *de = alchdb__sql_node_item(opts, i);
        const char *name = alchdb__sql_field_str(de, "defname");
        if (name && !strcmp(name, "analyze"))
            return defelem_true(de, true); /* unknown spelling: assume it executes */
    }
    return false;
}

/* BEGIN/START TRANSACTION and SET TRANSACTION options. */
static uint32_t txn_modes(const alchdb__sql_node *opts)
{
    uint32_t m = 0;
    for (size_t i = 0; i < alchdb__sql_node_count(opts); i++) {
        const alchdb__sql_node *de = alchdb__sql_node_item(opts, i);
        const char *name = alchdb__sql_field_str(de, "defname");
        if (!name)
            continue;
        if (!strcmp(name, "transaction_read_only")) {
            m |= defelem_true(de, true) ? ALCHDB__SQL_TXN_READ_ONLY : ALCHDB__SQL_TXN_READ_WRITE;
        } else if (!strcmp(name, "transaction_deferrable")) {
            m |= defelem_true(de, true) ? ALCHDB__SQL_TXN_DEFERRABLE : ALCHDB__SQL_TXN_NOT_DEFERRABLE;
        } else if (!strcmp(name, "transaction_isolation")) {
            const alchdb__sql_node *arg = alchdb__sql_node_get(de, "arg");
            const char *lvl = alchdb__sql_field_str(alchdb__sql_node_get(arg, "sval"), "sval");
            if (!lvl)
                m |= ALCHDB__SQL_TXN_ISO_SERIALIZABLE; /* unknown: the strictest */
            else if (!strcmp(lvl, "read uncommitted"))
                m |= ALCHDB__SQL_TXN_ISO_READ_UNCOMMITTED;
            else if (!strcmp(lvl, "read committed"))
                m |= ALCHDB__SQL_TXN_ISO_READ_COMMITTED;
            else if (!strcmp(lvl, "repeatable read"))
                m |= ALCHDB__SQL_TXN_ISO_REPEATABLE_READ;
            else
                m |= ALCHDB__SQL_TXN_ISO_SERIALIZABLE;
        }
    }
    return m;
}

static const char *const utility_types[] = {
    "VariableSetStmt", "VariableShowStmt", "CopyStmt", "ExplainStmt", "CallStmt", "DoStmt", "LockStmt",
    "PrepareStmt", "ExecuteStmt", "DeallocateStmt", "ListenStmt", "UnlistenStmt", "NotifyStmt",
    "DeclareCursorStmt", "FetchStmt", "ClosePortalStmt", "DiscardStmt", "CheckPointStmt", "LoadStmt",
    "VacuumStmt", "ClusterStmt", "ReindexStmt", "ConstraintsSetStmt",
};

static int kind_of(const char *type, const alchdb__sql_node *body)
{
    if (!strcmp(type, "SelectStmt"))
        return alchdb__sql_node_get(body, "intoClause") ? ALCHDB_SQL_DDL : ALCHDB_SQL_SELECT;
    if (!strcmp(type, "InsertStmt"))
        return ALCHDB_SQL_INSERT;
    if (!strcmp(type, "UpdateStmt"))
        return ALCHDB_SQL_UPDATE;
    if (!strcmp(type, "DeleteStmt"))
        return ALCHDB_SQL_DELETE;
    if (!strcmp(type, "MergeStmt"))
        return ALCHDB_SQL_MERGE;
    if (!strcmp(type, "TransactionStmt"))
        return ALCHDB_SQL_TRANSACTION;
    for (size_t i = 0; i < sizeof utility_types / sizeof utility_types[0]; i++)
        if (!strcmp(type, utility_types[i]))
            return ALCHDB_SQL_UTILITY;
    return ALCHDB_SQL_DDL; /* unknown statements are treated as DDL: not read-only */
}

void sql__walk_stmt(const alchdb__sql_node *stmt, sql_walk_result *r)
{
    walk_ctx c = {.r = r};
    const char *type = alchdb__sql_node_type(stmt);
    if (!type) {
        r->kind = ALCHDB_SQL_DDL;
        r->incomplete = true;
        return;
    }
    r->kind = kind_of(type, stmt);
    r->opaque = !strcmp(type, "CallStmt") || !strcmp(type, "DoStmt") || !strcmp(type, "ExecuteStmt");
    if (!strcmp(type, "SelectStmt") && alchdb__sql_node_get(stmt, "intoClause"))
        r->select_into = true;

    if (!strcmp(type, "DropStmt")) {
        const alchdb__sql_node *objs = alchdb__sql_node_get(stmt, "objects");
        if (table_like(alchdb__sql_field_str(stmt, "removeType")))
            for (size_t i = 0; i < alchdb__sql_node_count(objs); i++)
                name_list(&c, alchdb__sql_node_item(objs, i), false);
    } else if (!strcmp(type, "CommentStmt")) {
        const char *ot = alchdb__sql_field_str(stmt, "objtype");
        if (table_like(ot) || (ot && !strcmp(ot, "OBJECT_COLUMN")))
            name_list(&c, alchdb__sql_node_get(stmt, "object"), !strcmp(ot, "OBJECT_COLUMN"));
    } else if (!strcmp(type, "ExplainStmt")) {
        bool analyze = explain_analyze(stmt);
        const alchdb__sql_node *q = alchdb__sql_node_get(stmt, "query");
        c.not_executed = !analyze;
        r->read_only_hint = !analyze || alchdb__sql_node_is(q, "SelectStmt");
        walk(&c, q, M_READ);
    } else if (!strcmp(type, "CopyStmt")) {
        bool from = alchdb__sql_node_true(alchdb__sql_node_get(stmt, "is_from"));
        const alchdb__sql_node *rel = alchdb__sql_node_get(stmt, "relation");
        r->read_only_hint = !from;
        if (rel)
            walk(&c, rel, from ? M_WRITE : M_READ);
        walk(&c, alchdb__sql_node_get(stmt, "query"), M_READ);
    } else if (!strcmp(type, "LockStmt")) {
        r->locking = true;
        walk(&c, alchdb__sql_node_get(stmt, "relations"), M_READ);
    } else {
        if (!strcmp(type, "VariableShowStmt"))
            r->read_only_hint = true;
        if (!strcmp(type, "TransactionStmt")) {
            const char *k = alchdb__sql_field_str(stmt, "kind");
            if (k && (!strcmp(k, "TRANS_STMT_BEGIN") || !strcmp(k, "TRANS_STMT_START")))
                r->txn = ALCHDB__SQL_TXN_START | txn_modes(alchdb__sql_node_get(stmt, "options"));
        } else if (!strcmp(type, "VariableSetStmt")) {
            const char *name = alchdb__sql_field_str(stmt, "name");
            if (name && !strcmp(name, "TRANSACTION"))
                r->txn = ALCHDB__SQL_TXN_SET | txn_modes(alchdb__sql_node_get(stmt, "args"));
            else if (name && !strcmp(name, "SESSION CHARACTERISTICS"))
                r->txn = ALCHDB__SQL_TXN_SESSION | txn_modes(alchdb__sql_node_get(stmt, "args"));
        }
        if (r->kind == ALCHDB_SQL_DDL || r->kind == ALCHDB_SQL_UTILITY)
            c.ddl_body = stmt;
        walk(&c, stmt, M_READ);
    }
}

void sql__walk_result_free(sql_walk_result *r)
{
    sql__nameset_free(&r->tables[0]);
    sql__nameset_free(&r->tables[1]);
    sql__strset_free(&r->funcs);
    sql__nameset_free(&r->calls);
}

/* ---- statements too deep to parse ------------------------------------------------ */

static const struct {
    const char *word;
    int kind;
} first_words[] = {
    {"select", ALCHDB_SQL_SELECT},      {"values", ALCHDB_SQL_SELECT},      {"table", ALCHDB_SQL_SELECT},
    {"insert", ALCHDB_SQL_INSERT},      {"update", ALCHDB_SQL_UPDATE},      {"delete", ALCHDB_SQL_DELETE},
    {"merge", ALCHDB_SQL_MERGE},        {"begin", ALCHDB_SQL_TRANSACTION}, {"start", ALCHDB_SQL_TRANSACTION},
    {"commit", ALCHDB_SQL_TRANSACTION}, {"end", ALCHDB_SQL_TRANSACTION},   {"rollback", ALCHDB_SQL_TRANSACTION},
    {"abort", ALCHDB_SQL_TRANSACTION},  {"savepoint", ALCHDB_SQL_TRANSACTION},
    {"release", ALCHDB_SQL_TRANSACTION}, {"explain", ALCHDB_SQL_UTILITY},  {"copy", ALCHDB_SQL_UTILITY},
    {"set", ALCHDB_SQL_UTILITY},        {"show", ALCHDB_SQL_UTILITY},      {"call", ALCHDB_SQL_UTILITY},
    {"do", ALCHDB_SQL_UTILITY},         {"lock", ALCHDB_SQL_UTILITY},      {"prepare", ALCHDB_SQL_UTILITY},
    {"execute", ALCHDB_SQL_UTILITY},    {"declare", ALCHDB_SQL_UTILITY},   {"vacuum", ALCHDB_SQL_UTILITY},
    {"analyze", ALCHDB_SQL_UTILITY},    {"analyse", ALCHDB_SQL_UTILITY},
};

/* The statement's first word decides; after WITH, the first of SELECT,
 * INSERT, ... outside brackets. A parenthesized query is a SELECT. */
int sql__kind_from_text(const char *s, size_t len)
{
    alchdb__sql_tok t;
    bool with = false;
    size_t depth = 0;
    for (size_t pos = 0; pos < len;) {
        pos = alchdb__sql_token(s, len, pos, &t);
        if (t.kind == ALCHDB__SQL_TOK_SPACE || t.kind == ALCHDB__SQL_TOK_COMMENT)
            continue;
        if (t.kind == ALCHDB__SQL_TOK_PUNCT && s[t.start] == '(') {
            if (!with && depth == 0)
                return ALCHDB_SQL_SELECT;
            depth++;
            continue;
        }
        if (t.kind == ALCHDB__SQL_TOK_PUNCT && s[t.start] == ')') {
            if (depth)
                depth--;
            continue;
        }
        if (depth > 0 || t.kind != ALCHDB__SQL_TOK_WORD)
            continue;
        if (!with && alchdb__sql_word_is(s, &t, "with")) {
            with = true;
            continue;
        }
        for (size_t i = 0; i < sizeof first_words / sizeof first_words[0]; i++)
            if (alchdb__sql_word_is(s, &t, first_words[i].word) &&
                (!with || first_words[i].kind <= ALCHDB_SQL_MERGE))
                return first_words[i].kind;
        if (!with)
            return ALCHDB_SQL_DDL;
    }
    return ALCHDB_SQL_DDL;
}
