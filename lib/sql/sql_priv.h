/* Private to lib/sql: the analysis object and the helpers between its files. */
#ifndef ALCHDB_SQL_PRIV_H
#define ALCHDB_SQL_PRIV_H

#include <pg_query.h>
#include <stdatomic.h>
#include <string.h>

#include "internal.h"
#include "sql_internal.h"

struct alchdb__sql_node;
struct alchdb__sql_tree;

/* A set of owned strings in order of insertion (small: linear dedupe). */
typedef struct sql_strset {
    char **items;
    size_t n, cap;
} sql_strset;

/* A name taken from the tree: its parts as PostgreSQL folded them (catalog
 * and schema NULL when not written) and its rendering as SQL. */
typedef struct sql_name {
    char *catalog, *schema, *name;
    char *display; /* [catalog.][schema.]name, each part quoted where needed */
} sql_name;

typedef struct sql_nameset {
    sql_name *items;
    size_t n, cap;
} sql_nameset;

/* The array arr of *cap elements of `size` bytes, grown (doubling) to hold
 * at least `need`: the array to use from now on, or NULL when memory ran
 * out (arr and *cap unchanged). */
void *sql__grow(void *arr, size_t *cap, size_t need, size_t size);
bool sql__strset_add(sql_strset *s, const char *str, size_t n);
void sql__strset_free(sql_strset *s);
bool sql__nameset_add(sql_nameset *s, const char *catalog, const char *schema, const char *name);
void sql__nameset_free(sql_nameset *s);

typedef struct sql_stmt {
    int kind;
    uint32_t flags;
    uint32_t txn;         /* ALCHDB__SQL_TXN_* of a transaction-mode statement */
    bool opaque;          /* CALL, DO, EXECUTE: runs code the analysis cannot see */
    size_t offset, length;
    uint64_t fingerprint;
    char *normalized;
    sql_nameset tables[2]; /* ALCHDB_SQL_TABLES_READ / _WRITTEN */
    sql_strset funcs;      /* volatile or side-effecting built-in functions (lower case) */
    sql_nameset calls;     /* every function called, exact (schema, name) */
    const char *reason;    /* static; NULL when cacheable */
    int status;            /* 0, or ALCHDB_E_RANGE: too deep to analyse */
    char *status_message;  /* why, when status < 0 */
} sql_stmt;

struct alchdb_sql_analysis {
    atomic_long refs;
    uint64_t hash;
    char *text; /* NUL-terminated copy: the cache key */
    size_t len;
    char *error; /* syntax error message, NULL when parsed */
    int64_t err_offset;
    size_t n;
    sql_stmt *stmts;
    alchdb__sql_row_target *rt; /* one simple statement: its row target (pk.c), else NULL */
    /* cache links, guarded by the shard lock */
    struct alchdb_sql_analysis *chain, *lru_prev, *lru_next;
    bool cached;
};

/* The row target of one statement of the tree (pk.c); *out NULL when the
 * shape is not simple. */
int sql__row_target_build(const struct alchdb__sql_tree *t, const struct alchdb__sql_node *stmt,
                          alchdb__sql_row_target **out);

/* What the tree walk found in one statement. */
typedef struct sql_walk_result {
    int kind;
    uint32_t txn;
    bool opaque;
    bool locking, side_effects, volatile_fn, writable_cte, select_into, temp_table;
    bool read_only_hint; /* a utility statement that is read-only by nature */
    bool incomplete;     /* not all of the tree could be walked: conservative answers */
    bool nomem;
    sql_nameset tables[2];
    sql_strset funcs;
    sql_nameset calls;
} sql_walk_result;

/* walk.c: fills r from one statement node. */
void sql__walk_stmt(const struct alchdb__sql_node *stmt, sql_walk_result *r);
void sql__walk_result_free(sql_walk_result *r);
/* The kind of a statement that could not be parsed safely, from its first
 * words (conservative: DDL when unsure). */
int sql__kind_from_text(const char *s, size_t len);
/* classify.c: flags and reason from the walk. */
void sql__classify(const sql_walk_result *r, uint32_t *flags, const char **reason);

/* analyze.c */
void sql__analysis_destroy(alchdb_sql_analysis *a);
int64_t sql__cursor_to_offset(const char *s, size_t len, int cursorpos);
bool sql__valid_input(const char *func, const char *sql, size_t *len, int *err);

/* depth.c: an upper estimate of the depth of libpg_query's tree of s (in
 * tokens along the nesting); ALCHDB_E_NOMEM only. */
int sql__depth_estimate(const char *s, size_t len, size_t *out);

/* pgq.c: libpg_query behind the stack guard. Prepare (estimates the depth
 * of text, NUL-terminated), run (ALCHDB_E_RANGE: too deep, nothing ran),
 * read the results, done (frees them). */
enum { SQL_PGQ_PARSE = 1, SQL_PGQ_FINGERPRINT = 2, SQL_PGQ_NORMALIZE = 4 };
typedef struct sql_pgq {
    const char *text;
    size_t len, est;
    unsigned ops;
    bool ran;
    PgQueryParseResult parse;
    PgQueryFingerprintResult fp;
    PgQueryNormalizeResult norm;
} sql_pgq;
int sql__pgq_prepare(sql_pgq *q, const char *text, size_t len, unsigned ops);
int sql__pgq_run(sql_pgq *q);
void sql__pgq_done(sql_pgq *q);
/* The largest estimate sql__pgq_run accepts. */
size_t sql__pgq_max_units(void);

/* visit.c: mark the RangeVars that name CTEs (once, at parse time). */
#define SQL_MAX_TREE_DEPTH ((size_t)1 << 22)
int sql__resolve_ctes(const struct alchdb__sql_node *stmts);

/* names.c */
bool sql__keyword_needs_quotes(const char *word);
size_t sql__quoted_keyword_count(void);
const char *sql__quoted_keyword(size_t i);

/* cache.c */
alchdb_sql_analysis *sql__cache_get(uint64_t hash, const char *sql, size_t len);
/* Insert a (refs >= 1) analysis; returns the object the caller should use
 * (another thread's equal one when it won the race: a is then released). */
alchdb_sql_analysis *sql__cache_put(alchdb_sql_analysis *a);
void sql__cache_init(void);

#define SQL_CACHE_MAX_TEXT 65536

#endif /* ALCHDB_SQL_PRIV_H */
