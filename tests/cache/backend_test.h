/* Helpers shared by the backend suites (test_memory.c, test_redis.c,
 * test_sentinel.c). */
#ifndef ALCHDB_CACHE_BACKEND_TEST_H
#define ALCHDB_CACHE_BACKEND_TEST_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_internal.h"
#include "internal.h"

/* The backend's stats as one JSON object (owned: alchdb__free). */
static inline char *backend_stats(alchdb__cache_backend *b)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{");
    b->ops->stats_json(b, &sb);
    alchdb__sb_puts(&sb, "}");
    char *json = alchdb__sb_finish(&sb);
    ck_assert_ptr_nonnull(json);
    return json;
}

/* A numeric member of the stats; fails the test when it is missing. */
static inline long long backend_stat(alchdb__cache_backend *b, const char *name)
{
    char *json = backend_stats(b), pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = strstr(json, pat);
    ck_assert_msg(p, "%s not in %s", name, json);
    long long v = atoll(p + strlen(pat));
    alchdb__free(json);
    return v;
}

/* The token of vk now (into *cur), and its position (-1 when unknown). */
static inline int64_t backend_position(alchdb__cache_backend *b, const char *vk, alchdb__cache_ver *cur)
{
    unsigned char *e = NULL;
    size_t len = 0;
    ck_assert_int_eq(b->ops->fetch(b, NULL, 1, &vk, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    int64_t lsn;
    alchdb__cache_ver_state(cur, &lsn);
    return lsn;
}

#endif
