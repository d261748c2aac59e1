/* Helpers shared by the backend suites (test_memory.c, test_redis.c). */
#ifndef ALCHDB_CACHE_BACKEND_TEST_H
#define ALCHDB_CACHE_BACKEND_TEST_H

#include <check.h>

#include "cache/cache_internal.h"

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
