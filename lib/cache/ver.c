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

void alchdb__cache_random_hex(char out[17])
{
    snprintf(out, 17, "%016" PRIx64, next_random());
}

void alchdb__cache_ver_make(alchdb__cache_ver *v, const char *rand16, int64_t lsn)
{
    if (lsn < 0)
        snprintf(v->v, sizeof v->v, "%.16s:u", rand16);
    else
        snprintf(v->v, sizeof v->v, "%.16s:%016" PRIx64, rand16, (uint64_t)lsn);
}

void alchdb__cache_ver_new(alchdb__cache_ver *v, int64_t lsn)
{
    char r[17];
    alchdb__cache_random_hex(r);
    alchdb__cache_ver_make(v, r, lsn);
}

static bool hex16(const char *p)
{
    for (int i = 0; i < 16; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

int alchdb__cache_ver_state(const alchdb__cache_ver *v, int64_t *lsn)
{
    if (lsn)
        *lsn = -1;
    size_t len = strnlen(v->v, sizeof v->v);
    if (len == 0)
        return ALCHDB__VER_ABSENT;
    if (len < 18 || v->v[16] != ':' || !hex16(v->v))
        return ALCHDB__VER_UNKNOWN; /* foreign bytes: never trusted for a position */
    const char *pos = v->v + 17;
    size_t plen = len - 17;
    bool pending = plen >= 2 && strcmp(pos + plen - 2, ":w") == 0;
    if (pending)
        plen -= 2;
    if (plen == 16 && hex16(pos)) {
        char digits[17];
        memcpy(digits, pos, 16);
        digits[16] = '\0';
        uint64_t x = strtoull(digits, NULL, 16);
        if (x > INT64_MAX)
            return pending ? ALCHDB__VER_PENDING : ALCHDB__VER_UNKNOWN;
        if (lsn)
            *lsn = (int64_t)x;
        return pending ? ALCHDB__VER_PENDING : ALCHDB__VER_KNOWN;
    }
    if (plen == 1 && pos[0] == 'u')
        return pending ? ALCHDB__VER_PENDING : ALCHDB__VER_UNKNOWN;
    return ALCHDB__VER_UNKNOWN;
}

int64_t alchdb__cache_ver_lsn(const alchdb__cache_ver *v)
{
    int64_t lsn;
    return alchdb__cache_ver_state(v, &lsn) == ALCHDB__VER_KNOWN ? lsn : -1;
}

void alchdb__cache_ver_merge(alchdb__cache_ver *out, const alchdb__cache_ver *cur, const alchdb__cache_ver *proposed)
{
    int64_t have = -1, want = -1;
    alchdb__cache_ver_state(cur, &have); /* a pending token keeps the position it had */
    bool known = have >= 0 && alchdb__cache_ver_state(proposed, &want) == ALCHDB__VER_KNOWN;
    /* The random part is the proposed token's, so the result is new. */
    alchdb__cache_ver_make(out, proposed->v, known ? (want > have ? want : have) : -1);
}
