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

/* libpg_query's JSON parse tree of a script (owned, alchdb__free). On
 * ALCHDB_E_PARSE, *err_offset (if err_offset) receives the byte offset of the
 * error (-1 when unknown) and the thread-local message is PostgreSQL's. */
int alchdb__sql_parse_tree(const char *sql, size_t len, char **json_tree, int64_t *err_offset);

/* Fingerprint and (optional: NULL to skip) owned normalized text of ONE
 * statement. No cache, no analysis. */
int alchdb__sql_fingerprint(const char *sql, size_t len, uint64_t *fp, char **normalized);

/* Statement spans of a script (leading whitespace/comments skipped, no
 * semicolon). *offsets and *lengths are owned (alchdb__free), NULL when n = 0. */
int alchdb__sql_split(const char *sql, size_t len, size_t **offsets, size_t **lengths, size_t *n);

/* Function tables: name may be qualified ("pg_catalog.now"); matched on the
 * unqualified part, case-insensitively. Side-effecting functions are also
 * volatile. */
bool alchdb__sql_func_is_volatile(const char *name);
bool alchdb__sql_func_has_side_effects(const char *name);

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
    char *table;   /* the relation as the analysis spells it ("app.users") */
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
