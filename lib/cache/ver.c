/* Version tokens of the cache's consistency protocol (cache_internal.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cache/cache_internal.h"

/* Per-thread generator seeded from the kernel: tokens must never repeat
 * across processes (no ABA), so they are random, not counters. */
static _Thread_local uint64_t tl_state;

static uint64_t next_random(void)
{
    if (!tl_state) {
        uint64_t seed = 0;
        if (getrandom(&seed, sizeof seed, 0) != (ssize_t)sizeof seed)
            seed = (uint64_t)alchdb__now_ns() ^ ((uint64_t)(uintptr_t)&tl_state << 17);
        tl_state = seed | 1;
    }
    /* splitmix64 */
    uint64_t z = (tl_state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

void alchdb__cache_ver_new(alchdb__cache_ver *v, int64_t lsn)
{
    uint64_t r = next_random();
    if (lsn < 0)
        snprintf(v->v, sizeof v->v, "%016" PRIx64 ":u", r);
    else
        snprintf(v->v, sizeof v->v, "%016" PRIx64 ":%016" PRIx64, r, (uint64_t)lsn);
}

int64_t alchdb__cache_ver_lsn(const alchdb__cache_ver *v)
{
    const char *colon = memchr(v->v, ':', sizeof v->v);
    if (!colon || colon != v->v + 16 || strlen(colon + 1) != 16)
        return -1;
    char *end;
    unsigned long long x = strtoull(colon + 1, &end, 16);
    if (*end || x > INT64_MAX)
        return -1;
    return (int64_t)x;
}
