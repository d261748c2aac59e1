/* Internal API of the SQL module for the other modules (router, cache,
 * monitor, advisor, migration). Never exported. */
#ifndef ALCHDB_SQL_INTERNAL_H
#define ALCHDB_SQL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alchdb/sql.h"

/* Cached analysis; the caller owns one reference and drops it with
 * alchdb__sql_release(). On error returns NULL and sets *err (if err) to the
 * ALCHDB_E_* code, except ALCHDB_E_PARSE, which returns the analysis carrying
 * the error (and sets *err = ALCHDB_E_PARSE). *err = 0 on success. */
const alchdb_sql_analysis *alchdb__sql_analyze_shared(const char *sql, size_t len, int *err);
void alchdb__sql_release(const alchdb_sql_analysis *a);

/* libpg_query's JSON parse tree of a script (owned, alchdb__free), for the
 * modules that still walk it with jansson (advisor, migration). On
 * ALCHDB_E_PARSE, *err_offset (if err_offset) receives the byte offset of the
 * error (-1 when unknown) and the thread-local message is PostgreSQL's.
 * ALCHDB_E_RANGE when the script is nested too deeply: the tree would be
 * deeper than ALCHDB__SQL_JSON_MAX_DEPTH JSON levels, so that recursive
 * walkers of it need no more than a small thread's stack. New code uses the
 * layer of sql/tree.h instead. */
#define ALCHDB__SQL_JSON_MAX_DEPTH 400
int alchdb__sql_parse_tree(const char *sql, size_t len, char **json_tree, int64_t *err_offset);

/* Fingerprint and (optional: NULL to skip) owned normalized text of ONE
 * statement. No cache, no analysis. ALCHDB_E_RANGE: nested too deeply to
 * fingerprint safely (the detail says so). */
int alchdb__sql_fingerprint(const char *sql, size_t len, uint64_t *fp, char **normalized);

/* Query key of ONE statement (jumble.c): equal for executions PostgreSQL 15's
 * pg_stat_statements counts as one query (order and length of lists,
 * constants by kind, parameters by number, ORDER BY / GROUP BY positions),
 * except that lists of constants in IN, ARRAY and VALUES rows count as one
 * item whatever their length. ALCHDB_E_PARSE / ALCHDB_E_RANGE as the parser;
 * ALCHDB_E_INVALID when the text is not exactly one statement. */
int alchdb__sql_query_key(const char *sql, size_t len, uint64_t *key);

/* Statement spans of a script (leading whitespace/comments skipped, no
 * semicolon). *offsets and *lengths are owned (alchdb__free), NULL when n = 0. */
int alchdb__sql_split(const char *sql, size_t len, size_t **offsets, size_t **lengths, size_t *n);

/* Function tables: name may be qualified ("pg_catalog.now"); matched on the
 * unqualified part, case-insensitively. Side-effecting functions are also
 * volatile. */
bool alchdb__sql_func_is_volatile(const char *name);
bool alchdb__sql_func_has_side_effects(const char *name);

/* Statement i runs code the analysis cannot see (CALL, DO, EXECUTE of a
 * prepared statement): it may have written anything. */
bool alchdb__sql_stmt_opaque(const alchdb_sql_analysis *a, size_t i);

/* Transaction modes of statement i of an analysis (0 for a statement that
 * sets none): BEGIN/START TRANSACTION, SET TRANSACTION and SET SESSION
 * CHARACTERISTICS AS TRANSACTION, with the modes they name, read from the
 * parse tree. */
#define ALCHDB__SQL_TXN_START 0x1u   /* BEGIN / START TRANSACTION */
#define ALCHDB__SQL_TXN_SET 0x2u     /* SET TRANSACTION */
#define ALCHDB__SQL_TXN_SESSION 0x4u /* SET SESSION CHARACTERISTICS AS TRANSACTION */
#define ALCHDB__SQL_TXN_READ_ONLY 0x10u
#define ALCHDB__SQL_TXN_READ_WRITE 0x20u
#define ALCHDB__SQL_TXN_DEFERRABLE 0x40u
#define ALCHDB__SQL_TXN_NOT_DEFERRABLE 0x80u
#define ALCHDB__SQL_TXN_ISO_READ_UNCOMMITTED 0x100u
#define ALCHDB__SQL_TXN_ISO_READ_COMMITTED 0x200u
#define ALCHDB__SQL_TXN_ISO_REPEATABLE_READ 0x400u
#define ALCHDB__SQL_TXN_ISO_SERIALIZABLE 0x800u
uint32_t alchdb__sql_stmt_txn(const alchdb_sql_analysis *a, size_t i);
/* Whether the statements that open a transaction (BEGIN / START TRANSACTION /
 * SET TRANSACTION, from the parse) make it READ ONLY and not SERIALIZABLE
 * (standbys refuse SERIALIZABLE): the one rule by which the router may run a
 * transaction on a replica, and by which the cache knows it must. Anything
 * else, including text that does not parse as such, is false. */
bool alchdb__sql_txn_replica_ok(const char *sql, size_t len);

/* ---- the one text scanner (scan.c) ----
 * PostgreSQL 15's lexical rules: every text-level routine (comment skipping,
 * the monitor's literal-stripped key, the nesting estimate) reads SQL through
 * it. Malformed text still yields tokens covering every byte. */
enum {
    ALCHDB__SQL_TOK_END = 0, /* pos >= len */
    ALCHDB__SQL_TOK_SPACE,   /* a run of whitespace */
    ALCHDB__SQL_TOK_COMMENT, /* -- to the end of the line, or a (nested) block comment */
    ALCHDB__SQL_TOK_STRING,  /* '...', E'...', B'...', X'...', N'...', U&'...', $tag$...$tag$ */
    ALCHDB__SQL_TOK_QIDENT,  /* "..." or U&"..." */
    ALCHDB__SQL_TOK_WORD,    /* an unquoted identifier or keyword */
    ALCHDB__SQL_TOK_NUMBER,  /* 1, 1.5, .5, 1e9 */
    ALCHDB__SQL_TOK_PARAM,   /* $1 */
    ALCHDB__SQL_TOK_OP,      /* an operator: +, ||, ?|, <=, ... */
    ALCHDB__SQL_TOK_PUNCT,   /* ( ) [ ] , ; . : :: := */
    ALCHDB__SQL_TOK_OTHER,   /* a byte PostgreSQL would refuse here (\, {, a lone $) */
};
typedef struct alchdb__sql_tok {
    int kind;
    size_t start, len; /* the token is s[start, start + len) */
} alchdb__sql_tok;
/* The token at s[pos] (pos < len; at or past len: ALCHDB__SQL_TOK_END).
 * Returns the position after it. */
size_t alchdb__sql_token(const char *s, size_t len, size_t pos, alchdb__sql_tok *t);
/* True when t is the unquoted word `word` (lower case), case-insensitively. */
bool alchdb__sql_word_is(const char *s, const alchdb__sql_tok *t, const char *word);
/* The first position at or after pos that is not whitespace or a comment. */
size_t alchdb__sql_skip_space_comments(const char *s, size_t pos, size_t end);

/* A relation name written as SQL ("app.users", "Users", public."a.b",
 * "My ""quoted"" name"), read with the scanner into its schema (NULL when
 * not written; a catalog part is dropped) and its name, folded and unquoted
 * as PostgreSQL does. Both owned (alchdb__free). ALCHDB_E_INVALID when the
 * text is not such a name; ALCHDB_E_NOMEM. */
int alchdb__sql_qualified_name(const char *text, size_t len, char **schema_out, char **name_out);

/* Cache counters (for tests and metrics). */
typedef struct alchdb__sql_cache_stats {
    uint64_t hits;
    uint64_t misses;
    size_t entries;
} alchdb__sql_cache_stats;
void alchdb__sql_cache_get_stats(alchdb__sql_cache_stats *st);


/* ---- row targets (pk.c): what the cache needs for primary-key invalidation ----
 * For one statement of the simple shapes below, the single relation it reads
 * or writes and the equality predicates that pin rows. The caller (the cache)
 * decides with catalog facts whether a predicate is on the primary key. */
typedef struct alchdb__sql_eq {
    char *column;  /* unqualified column name, folded as PostgreSQL folds it */
    int param;     /* $n (1-based) when the value is a parameter, else 0 */
    char *literal; /* the constant's text when param == 0 (integers, strings) */
} alchdb__sql_eq;

typedef struct alchdb__sql_row_target {
    int kind;      /* ALCHDB_SQL_SELECT, _UPDATE, _DELETE or _INSERT */
    char *table;   /* the relation as alchdb_sql_stmt_table() renders it ("app.users") */
    char *schema;  /* its schema (NULL when not written) and name, from the tree */
    char *name;
    /* SELECT/UPDATE/DELETE: the column = value conjuncts at the top level of
     * WHERE (an AND tree; OR/NOT anywhere above them gives none).
     * INSERT: column = value for each column of the single VALUES row whose
     * value is a parameter or a constant. */
    size_t neq;
    alchdb__sql_eq *eq;
    size_t nset;     /* UPDATE, INSERT ... ON CONFLICT DO UPDATE: the assigned columns */
    char **set_cols;
    int on_conflict; /* INSERT: 0 none, 1 DO NOTHING, 2 DO UPDATE */
    size_t nconflict; /* INSERT ON CONFLICT (cols): the inference columns */
    char **conflict_cols;
} alchdb__sql_row_target;

/* Parse one statement. Returns 0 with *out set for the simple shapes:
 *   SELECT: one plain relation in FROM (no join, no subquery anywhere, no
 *     CTE, no set operation, no locking clause); any target list, ORDER BY,
 *     LIMIT, GROUP BY, aggregates;
 *   UPDATE/DELETE: no WITH, no FROM/USING, no subquery in WHERE;
 *   INSERT: INSERT INTO t (cols) VALUES (one row), no WITH, no SELECT source;
 * and 0 with *out = NULL for everything else (also scripts of several
 * statements). ALCHDB_E_PARSE / ALCHDB_E_NOMEM on failure. */
int alchdb__sql_row_target_parse(const char *sql, size_t len, alchdb__sql_row_target **out);
/* The same, computed once with the (cached) analysis of a one-statement
 * text; borrowed from the analysis, NULL for other shapes and scripts. */
const alchdb__sql_row_target *alchdb__sql_row_target_of(const alchdb_sql_analysis *a);
void alchdb__sql_row_target_free(alchdb__sql_row_target *t);

#endif /* ALCHDB_SQL_INTERNAL_H */
