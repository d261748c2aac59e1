#include <string.h>
#include <time.h>

#include "internal.h"

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

__extension__ typedef unsigned __int128 u128;

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A multiply-xorshift hash reading 16 bytes per step; about 0.1 ns per byte
 * here, so hashing a query text is far cheaper than parsing it. */
uint64_t alchdb__hash64(const void *data, size_t len, uint64_t seed)
{
    const uint64_t k0 = 0x9e3779b97f4a7c15ull, k1 = 0xbf58476d1ce4e5b9ull,
                   k2 = 0x94d049bb133111ebull;
    const unsigned char *p = data;
    uint64_t h = seed ^ mix(seed ^ k0, (uint64_t)len ^ k1);
    size_t i = 0;
    for (; i + 16 <= len; i += 16)
        h = mix(rd64(p + i) ^ k1 ^ h, rd64(p + i + 8) ^ k2);
    uint64_t a = 0, b = 0;
    size_t rest = len - i;
    if (rest >= 8) {
        a = rd64(p + i);
        memcpy(&b, p + i + 8, rest - 8);
    } else {
        memcpy(&a, p + i, rest);
    }
    h = mix(a ^ k1 ^ h, b ^ k2 ^ (uint64_t)rest);
    return mix(h ^ k0, (uint64_t)len ^ k2);
}

int64_t alchdb__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t alchdb__wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
