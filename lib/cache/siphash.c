/* SipHash-2-4 with 128-bit output (Aumasson & Bernstein, "SipHash: a fast
 * short-input PRF"), written from the paper's description: 2 compression
 * rounds per 8-byte word, 4 finalization rounds, 128-bit tweaks (v1 ^= 0xee
 * at init, v2 ^= 0xee before finalization, v1 ^= 0xdd before the second
 * output half). Streaming, so entry keys can be built field by field. */
#include <string.h>

#include "cache/cache_internal.h"

static inline uint64_t rotl(uint64_t x, unsigned b) { return (x << b) | (x >> (64 - b)); }

/* Words are read little-endian whatever the host order: the hash (and so
 * every cache key) must be the same on every machine sharing a backend. */
static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline void store_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void sip_round(alchdb__sip128 *s)
{
    s->v0 += s->v1;
    s->v1 = rotl(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl(s->v2, 32);
}

/* Absorb one message word: c = 2 rounds. */
static inline void sip_compress(alchdb__sip128 *s, uint64_t m)
{
    s->v3 ^= m;
    sip_round(s);
    sip_round(s);
    s->v0 ^= m;
}

static inline void sip_rounds4(alchdb__sip128 *s)
{
    sip_round(s);
    sip_round(s);
    sip_round(s);
    sip_round(s);
}

void alchdb__sip128_init(alchdb__sip128 *s, const uint8_t key[16])
{
    uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
    /* "somepseudorandomlygeneratedbytes" */
    s->v0 = k0 ^ UINT64_C(0x736f6d6570736575);
    s->v1 = k1 ^ UINT64_C(0x646f72616e646f6d) ^ 0xee;
    s->v2 = k0 ^ UINT64_C(0x6c7967656e657261);
    s->v3 = k1 ^ UINT64_C(0x7465646279746573);
    s->tail = 0;
    s->ntail = 0;
    s->total = 0;
}

void alchdb__sip128_update(alchdb__sip128 *s, const void *data, size_t len)
{
    const uint8_t *p = data;
    s->total += len;
    /* Complete a word left pending by an earlier call first. */
    while (s->ntail && len) {
        s->tail |= (uint64_t)*p++ << (8 * s->ntail);
        len--;
        if (++s->ntail == 8) {
            sip_compress(s, s->tail);
            s->tail = 0;
            s->ntail = 0;
        }
    }
    for (; len >= 8; p += 8, len -= 8)
        sip_compress(s, load_le64(p));
    for (; len; len--)
        s->tail |= (uint64_t)*p++ << (8 * s->ntail++);
}

void alchdb__sip128_field(alchdb__sip128 *s, const void *data, size_t len)
{
    uint8_t prefix[8];
    store_le64(prefix, (uint64_t)len);
    alchdb__sip128_update(s, prefix, sizeof prefix);
    if (len)
        alchdb__sip128_update(s, data, len);
}

/* A length no real field can have (it would need 2^64 - 1 bytes after it),
 * so NULL frames differently from every string, "" included. */
void alchdb__sip128_null(alchdb__sip128 *s)
{
    uint8_t marker[8];
    store_le64(marker, UINT64_MAX);
    alchdb__sip128_update(s, marker, sizeof marker);
}

void alchdb__sip128_final(alchdb__sip128 *s, uint8_t out[16])
{
    /* Last word: the pending bytes, and the length mod 256 in the top byte. */
    sip_compress(s, s->tail | (s->total << 56));
    s->v2 ^= 0xee;
    sip_rounds4(s);
    store_le64(out, s->v0 ^ s->v1 ^ s->v2 ^ s->v3);
    s->v1 ^= 0xdd;
    sip_rounds4(s);
    store_le64(out + 8, s->v0 ^ s->v1 ^ s->v2 ^ s->v3);
}

void alchdb__siphash128(const uint8_t key[16], const void *data, size_t len, uint8_t out[16])
{
    alchdb__sip128 s;
    alchdb__sip128_init(&s, key);
    alchdb__sip128_update(&s, data, len);
    alchdb__sip128_final(&s, out);
}
