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

#endif /* ALCHDB_SQL_INTERNAL_H */
