/* Private to lib/sql: the analysis object and the helpers between its files. */
#ifndef ALCHDB_SQL_PRIV_H
#define ALCHDB_SQL_PRIV_H

#include <jansson.h>
#include <stdatomic.h>

#include "internal.h"
#include "sql_internal.h"

/* A set of owned strings in order of insertion (small: linear dedupe). */
typedef struct sql_strset {
    char **items;
    size_t n, cap;
} sql_strset;

typedef struct sql_stmt {
    int kind;
    uint32_t flags;
    size_t offset, length;
    uint64_t fingerprint;
    char *normalized;
    sql_strset tables[2]; /* ALCHDB_SQL_TABLES_READ / _WRITTEN */
    sql_strset funcs;     /* volatile or side-effecting functions */
    const char *reason;   /* static; NULL when cacheable */
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

/* The row target of one parsed statement node (pk.c); *out NULL when the
 * shape is not simple. sql is the text the node's locations index. */
int sql__row_target_build(const char *sql, size_t len, json_t *stmt, alchdb__sql_row_target **out);

/* What the tree walk found in one statement. */
typedef struct sql_walk_result {
    int kind;
    bool locking, side_effects, volatile_fn, writable_cte, select_into, temp_table;
    bool read_only_hint; /* a utility statement that is read-only by nature */
    bool incomplete;     /* the tree was too deep to walk: nothing is known */
    bool nomem;
    sql_strset tables[2];
    sql_strset funcs;
} sql_walk_result;

/* strset.c-like helpers (walk.c) */
bool sql__strset_add(sql_strset *s, const char *str, size_t n);
void sql__strset_free(sql_strset *s);

/* walk.c: fills r from one RawStmt's "stmt" node. */
void sql__walk_stmt(json_t *stmt, sql_walk_result *r);
/* A statement whose tree could not be walked: only its node type is known. */
void sql__walk_opaque(const char *type, sql_walk_result *r);
/* classify.c: flags and reason from the walk. */
void sql__classify(const sql_walk_result *r, uint32_t *flags, const char **reason);

/* analyze.c */
void sql__analysis_destroy(alchdb_sql_analysis *a);
size_t sql__skip_space_comments(const char *s, size_t pos, size_t end);
int64_t sql__cursor_to_offset(const char *s, size_t len, int cursorpos);
bool sql__valid_input(const char *func, const char *sql, size_t *len, int *err);

/* cache.c */
alchdb_sql_analysis *sql__cache_get(uint64_t hash, const char *sql, size_t len);
/* Insert a (refs >= 1) analysis; returns the object the caller should use
 * (another thread's equal one when it won the race: a is then released). */
alchdb_sql_analysis *sql__cache_put(alchdb_sql_analysis *a);
void sql__cache_init(void);

#define SQL_CACHE_MAX_TEXT 65536

#endif /* ALCHDB_SQL_PRIV_H */
