/* The in-process cache backend (lib/cache/memory.c): entries, version keys,
 * check-and-set fills, TTLs, LRU and byte bounds, the version-key bound,
 * leases, the epoch reset on a lost invalidation, concurrency, leaks. Entries
 * are arbitrary byte strings here (the codec is not involved). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <alchdb/alchdb.h>

#include "backend_test.h"
#include "cache/cache_internal.h"
#include "failalloc.h"
#include "testutil.h"

#define EPOCH "p:v:n"
/* Short expiries, and a sleep comfortably past them (margin for loaded CI
 * machines and valgrind between setting a key and checking it is there). */
#define TTL_MS 50
#define PAST_TTL_MS 120

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static alchdb__cache_backend *mk(int64_t bytes)
{
    alchdb__cache_backend_cfg cfg = {.epoch_key = EPOCH, .memory_bytes = bytes};
    alchdb__cache_backend *b = NULL;
    ck_assert_int_eq(alchdb__cache_memory_new(&cfg, &b), 0);
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->ops->name, "memory");
    return b;
}

static alchdb__cache_ver fresh(void)
{
    alchdb__cache_ver v;
    alchdb__cache_ver_new(&v, -1);
    return v;
}

static int fill_str(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                    const alchdb__cache_ver *expected, const char *value, int64_t ttl_ms)
{
    return b->ops->fill(b, key, n, vkeys, expected, (const unsigned char *)value, strlen(value), ttl_ms);
}

/* True when key holds exactly value (the versions are written to cur). */
static bool holds(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                  alchdb__cache_ver *cur, const char *value)
{
    unsigned char *e = NULL;
    size_t len = 99;
    ck_assert_int_eq(b->ops->fetch(b, key, n, vkeys, cur, &e, &len), 0);
    if (!e) {
        ck_assert_uint_eq(len, 0);
        return false;
    }
    bool same = len == strlen(value) && memcmp(e, value, len) == 0;
    alchdb__free(e);
    return same;
}

static bool absent(alchdb__cache_backend *b, const char *key)
{
    unsigned char *e = NULL;
    size_t len = 0;
    ck_assert_int_eq(b->ops->fetch(b, key, 0, NULL, NULL, &e, &len), 0);
    alchdb__free(e);
    return e == NULL;
}

static const char *vkey_present(alchdb__cache_backend *b, const char *vkey, alchdb__cache_ver *cur)
{
    unsigned char *e = NULL;
    size_t len = 0;
    ck_assert_int_eq(b->ops->fetch(b, "p:e:none", 1, &vkey, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    return cur->v[0] ? cur->v : NULL;
}

static int64_t bytes_of(alchdb__cache_backend *b)
{
    int64_t bytes;
    alchdb__cache_memory_counts(b, NULL, NULL, &bytes, NULL);
    return bytes;
}

/* ---- fetch, init, fill, bump ---- */

START_TEST(test_fetch_absent_then_present)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(1 << 20);
    const char *vk[2] = {EPOCH, "p:v:t:users"};
    alchdb__cache_ver cur[2] = {{"junk"}, {"junk"}};
    unsigned char *e = (unsigned char *)"x";
    size_t len = 7;
    ck_assert_int_eq(b->ops->fetch(b, "p:e:1", 2, vk, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(cur[0].v, "");
    ck_assert_str_eq(cur[1].v, "");

    alchdb__cache_ver init[2] = {fresh(), fresh()};
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);
    ck_assert_str_eq(cur[0].v, init[0].v);
    ck_assert_str_eq(cur[1].v, init[1].v);
    /* binary values with NUL bytes round-trip */
    const unsigned char value[6] = {1, 0, 2, 0, 255, 0};
    ck_assert_int_eq(b->ops->fill(b, "p:e:1", 2, vk, cur, value, sizeof value, 0), 1);
    alchdb__cache_ver got[2];
    ck_assert_int_eq(b->ops->fetch(b, "p:e:1", 2, vk, got, &e, &len), 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(len, sizeof value);
    ck_assert_mem_eq(e, value, sizeof value);
    ck_assert_str_eq(got[0].v, init[0].v);
    ck_assert_str_eq(got[1].v, init[1].v);
    /* the copy is the caller's: scribbling on it changes nothing stored */
    e[0] = 99;
    alchdb__free(e);
    ck_assert_int_eq(b->ops->fetch(b, "p:e:1", 0, NULL, NULL, &e, &len), 0);
    ck_assert_int_eq(e[0], 1);
    alchdb__free(e);
    /* an empty value is a present entry, not an absent one */
    ck_assert_int_eq(b->ops->fill(b, "p:e:empty", 2, vk, cur, NULL, 0, 0), 1);
    ck_assert_int_eq(b->ops->fetch(b, "p:e:empty", 0, NULL, NULL, &e, &len), 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(len, 0);
    alchdb__free(e);

    size_t entries, versions;
    alchdb__cache_memory_counts(b, &entries, &versions, NULL, NULL);
    ck_assert_uint_eq(entries, 2);
    ck_assert_uint_eq(versions, 2);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

START_TEST(test_fill_only_when_versions_match)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(1 << 20);
    const char *vk[2] = {EPOCH, "p:v:t:a"};
    alchdb__cache_ver init[2] = {fresh(), fresh()}, cur[2];
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);

    alchdb__cache_ver wrong[2] = {cur[0], fresh()};
    ck_assert_int_eq(fill_str(b, "p:e:1", 2, vk, wrong, "v0", 0), 0);
    ck_assert(absent(b, "p:e:1"));
    ck_assert_int_eq(fill_str(b, "p:e:1", 2, vk, cur, "v1", 0), 1);
    ck_assert(holds(b, "p:e:1", 0, NULL, NULL, "v1"));

    /* a bump makes the tokens read before it useless */
    alchdb__cache_ver before[2] = {cur[0], cur[1]};
    alchdb__cache_ver nv = fresh();
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[1], &nv, NULL), 0);
    ck_assert_int_eq(fill_str(b, "p:e:1", 2, vk, before, "v2", 0), 0);
    ck_assert(holds(b, "p:e:1", 2, vk, cur, "v1")); /* the old entry stays, now stale */
    ck_assert_str_eq(cur[0].v, before[0].v);
    ck_assert_str_eq(cur[1].v, nv.v);
    ck_assert_int_eq(fill_str(b, "p:e:1", 2, vk, cur, "v3", 0), 1); /* replaces */
    ck_assert(holds(b, "p:e:1", 0, NULL, NULL, "v3"));

    /* an absent key never matches, not even an empty expected token */
    const char *vk3[3] = {EPOCH, "p:v:t:a", "p:v:t:never"};
    alchdb__cache_ver exp3[3] = {cur[0], cur[1], {""}};
    ck_assert_int_eq(fill_str(b, "p:e:2", 3, vk3, exp3, "x", 0), 0);
    exp3[2] = fresh();
    ck_assert_int_eq(fill_str(b, "p:e:2", 3, vk3, exp3, "x", 0), 0);
    ck_assert(absent(b, "p:e:2"));
    /* an entry with no version keys at all is always accepted */
    ck_assert_int_eq(fill_str(b, "p:e:3", 0, NULL, NULL, "free", 0), 1);

    size_t entries;
    int64_t bytes;
    alchdb__cache_memory_counts(b, &entries, NULL, &bytes, NULL);
    ck_assert_uint_eq(entries, 2);
    ck_assert_int_gt(bytes, 0);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

START_TEST(test_init_is_set_if_absent)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(1 << 20);
    const char *vk[2] = {"p:v:t:a", "p:v:t:b"};
    alchdb__cache_ver first = fresh(), cur[2];
    ck_assert_int_eq(b->ops->init(b, 1, vk, &first, NULL, cur), 0);
    ck_assert_str_eq(cur[0].v, first.v);
    /* a second init keeps a's token and sets only the absent b */
    alchdb__cache_ver second[2] = {fresh(), fresh()};
    ck_assert_int_eq(b->ops->init(b, 2, vk, second, NULL, cur), 0);
    ck_assert_str_eq(cur[0].v, first.v);
    ck_assert_str_eq(cur[1].v, second[1].v);
    /* bump overwrites unconditionally; init after it returns the bumped token */
    alchdb__cache_ver nv = fresh(), third[2] = {fresh(), fresh()};
    ck_assert_int_eq(b->ops->bump(b, 1, vk, &nv, NULL), 0);
    ck_assert_int_eq(b->ops->init(b, 2, vk, third, NULL, cur), 0);
    ck_assert_str_eq(cur[0].v, nv.v);
    ck_assert_str_eq(cur[1].v, second[1].v);
    /* bump creates absent keys */
    const char *c = "p:v:t:c";
    ck_assert_int_eq(b->ops->bump(b, 1, &c, &nv, NULL), 0);
    ck_assert_str_eq(vkey_present(b, c, cur), nv.v);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- expiry ---- */

START_TEST(test_entry_ttl)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(1 << 20);
    ck_assert_int_eq(fill_str(b, "p:e:short", 0, NULL, NULL, "s", TTL_MS), 1);
    ck_assert_int_eq(fill_str(b, "p:e:long", 0, NULL, NULL, "l", 60000), 1);
    ck_assert_int_eq(fill_str(b, "p:e:never", 0, NULL, NULL, "n", 0), 1);
    ck_assert(holds(b, "p:e:short", 0, NULL, NULL, "s"));
    sleep_ms(PAST_TTL_MS);
    ck_assert(absent(b, "p:e:short"));
    ck_assert(holds(b, "p:e:long", 0, NULL, NULL, "l"));
    ck_assert(holds(b, "p:e:never", 0, NULL, NULL, "n"));
    /* the expired entry was reclaimed by the fetch that found it */
    size_t entries;
    int64_t bytes_two = bytes_of(b);
    alchdb__cache_memory_counts(b, &entries, NULL, NULL, NULL);
    ck_assert_uint_eq(entries, 2);
    ck_assert_int_eq(b->ops->del(b, "p:e:long"), 0);
    ck_assert_int_lt(bytes_of(b), bytes_two);
    ck_assert_int_eq(b->ops->del(b, "p:e:never"), 0);
    ck_assert_int_eq(b->ops->del(b, "p:e:never"), 0); /* deleting the absent is fine */
    ck_assert_int_eq(bytes_of(b), 0);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

START_TEST(test_version_ttl)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(1 << 20);
    const char *vk[3] = {"p:v:t:short", "p:v:t:kept", "p:v:t:forever"};
    alchdb__cache_ver init[3] = {fresh(), fresh(), fresh()}, cur[3];
    int64_t ttl[3] = {TTL_MS, TTL_MS, 0};
    ck_assert_int_eq(b->ops->init(b, 3, vk, init, ttl, cur), 0);
    ck_assert_int_eq(fill_str(b, "p:e:1", 3, vk, cur, "v", 0), 1);
    /* a bump with ttl 0 removes kept's expiry */
    alchdb__cache_ver nv = fresh();
    int64_t none = 0;
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[1], &nv, &none), 0);
    sleep_ms(PAST_TTL_MS);
    alchdb__cache_ver got[3];
    ck_assert(holds(b, "p:e:1", 3, vk, got, "v"));
    ck_assert_str_eq(got[0].v, ""); /* expired = absent */
    ck_assert_str_eq(got[1].v, nv.v);
    ck_assert_str_eq(got[2].v, init[2].v);
    alchdb__cache_ver expect[3] = {cur[0], nv, cur[2]};
    ck_assert_int_eq(fill_str(b, "p:e:2", 3, vk, expect, "w", 0), 0);
    /* init re-creates it with a new token: still no match with the old one */
    alchdb__cache_ver again[3] = {fresh(), fresh(), fresh()};
    ck_assert_int_eq(b->ops->init(b, 3, vk, again, NULL, got), 0);
    ck_assert_str_eq(got[0].v, again[0].v);
    ck_assert_int_eq(fill_str(b, "p:e:2", 3, vk, expect, "w", 0), 0);
    ck_assert_int_eq(fill_str(b, "p:e:2", 3, vk, got, "w", 0), 1);
    /* a bump with a ttl expires too */
    int64_t short_ttl = TTL_MS;
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[2], &nv, &short_ttl), 0);
    ck_assert_ptr_nonnull(vkey_present(b, vk[2], got));
    sleep_ms(PAST_TTL_MS);
    ck_assert_ptr_null(vkey_present(b, vk[2], got));
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- bounds ---- */

/* What one entry with this key and value length is charged (key + value +
 * the fixed overhead), measured on a scratch backend. */
static int64_t cost_of(const char *key, size_t vlen)
{
    alchdb__cache_backend *b = mk(1 << 20);
    char v[4096];
    ck_assert_uint_lt(vlen, sizeof v);
    memset(v, 'v', vlen);
    ck_assert_int_eq(b->ops->fill(b, key, 0, NULL, NULL, (unsigned char *)v, vlen, 0), 1);
    int64_t c = bytes_of(b);
    b->ops->destroy(b);
    ck_assert_int_gt(c, (int64_t)(strlen(key) + vlen));
    return c;
}

START_TEST(test_lru_eviction_order)
{
    long base = alchdb__alloc_outstanding();
    int64_t cost = cost_of("p:e:A", 100);
    alchdb__cache_backend *b = mk(3 * cost);
    char v[101];
    memset(v, 'v', 100);
    v[100] = 0;
    const char *keys[4] = {"p:e:A", "p:e:B", "p:e:C", "p:e:D"};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fill_str(b, keys[i], 0, NULL, NULL, v, 0), 1);
    ck_assert_int_eq(bytes_of(b), 3 * cost);
    /* replacing an entry is not double-counted and evicts nothing */
    ck_assert_int_eq(fill_str(b, "p:e:C", 0, NULL, NULL, v, 0), 1);
    ck_assert_int_eq(bytes_of(b), 3 * cost);
    ck_assert(holds(b, "p:e:A", 0, NULL, NULL, v)); /* A is now the most recent */
    ck_assert_int_eq(fill_str(b, keys[3], 0, NULL, NULL, v, 0), 1);
    ck_assert(absent(b, "p:e:B"));
    ck_assert(holds(b, "p:e:A", 0, NULL, NULL, v));
    ck_assert(holds(b, "p:e:C", 0, NULL, NULL, v));
    ck_assert(holds(b, "p:e:D", 0, NULL, NULL, v));
    size_t entries;
    int64_t bytes, evictions;
    alchdb__cache_memory_counts(b, &entries, NULL, &bytes, &evictions);
    ck_assert_uint_eq(entries, 3);
    ck_assert_int_eq(bytes, 3 * cost);
    ck_assert_int_eq(evictions, 1);
    /* the fetches above left the order (oldest first) A, C, D: an entry
     * needing two slots evicts A and C */
    char big[4096];
    size_t blen = (size_t)(2 * cost) - strlen("p:e:E") - (size_t)(cost - 100 - 5);
    memset(big, 'b', blen);
    big[blen] = 0;
    ck_assert_int_eq(fill_str(b, "p:e:E", 0, NULL, NULL, big, 0), 1);
    ck_assert(absent(b, "p:e:C"));
    ck_assert(absent(b, "p:e:A"));
    ck_assert(holds(b, "p:e:D", 0, NULL, NULL, v));
    ck_assert(holds(b, "p:e:E", 0, NULL, NULL, big));
    alchdb__cache_memory_counts(b, NULL, NULL, &bytes, &evictions);
    ck_assert_int_eq(bytes, 3 * cost);
    ck_assert_int_eq(evictions, 3);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

START_TEST(test_byte_bound_never_exceeded)
{
    long base = alchdb__alloc_outstanding();
    const int64_t max = 20000;
    alchdb__cache_backend *b = mk(max);
    unsigned rng = 12345;
    static unsigned char v[3000];
    memset(v, 'x', sizeof v);
    int64_t prev_evictions = 0;
    for (int i = 0; i < 3000; i++) {
        rng = rng * 1103515245u + 12345u;
        char key[32];
        snprintf(key, sizeof key, "p:e:%u", (rng >> 8) % 64);
        size_t vlen = (rng >> 16) % sizeof v;
        ck_assert_int_eq(b->ops->fill(b, key, 0, NULL, NULL, v, vlen, 0), 1);
        size_t entries;
        int64_t bytes, evictions;
        alchdb__cache_memory_counts(b, &entries, NULL, &bytes, &evictions);
        ck_assert_int_le(bytes, max);
        ck_assert_int_ge(bytes, (int64_t)vlen);
        ck_assert_uint_ge(entries, 1);
        ck_assert_int_ge(evictions, prev_evictions);
        prev_evictions = evictions;
    }
    ck_assert_int_gt(prev_evictions, 0);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

START_TEST(test_oversize_entry_refused)
{
    long base = alchdb__alloc_outstanding();
    const char *key = "p:e:big";
    int64_t overhead = cost_of(key, 10) - 10 - (int64_t)strlen(key);
    const int64_t max = 4000;
    alchdb__cache_backend *b = mk(max);
    static unsigned char v[8192];
    size_t largest = (size_t)(max - overhead) - strlen(key);
    ck_assert_int_eq(b->ops->fill(b, "p:e:small", 0, NULL, NULL, v, 10, 0), 1);
    alchdb_clear_error();
    ck_assert_int_eq(b->ops->fill(b, key, 0, NULL, NULL, v, largest + 1, 0), ALCHDB_E_RANGE);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_RANGE);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "exceeds"));
    ck_assert_int_eq(b->ops->fill(b, key, 0, NULL, NULL, v, sizeof v, 0), ALCHDB_E_RANGE);
    ck_assert(!absent(b, "p:e:small")); /* a refused fill evicts nothing */
    /* exactly the bound fits (evicting everything else) */
    ck_assert_int_eq(b->ops->fill(b, key, 0, NULL, NULL, v, largest, 0), 1);
    ck_assert_int_eq(bytes_of(b), max);
    ck_assert(absent(b, "p:e:small"));
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

#define BATCH 1000

/* Bump count keys named "<prefix><first + i>" in batches, with ttl_ms each. */
static void bump_many(alchdb__cache_backend *b, const char *prefix, int first, int count, int64_t ttl_ms)
{
    static char names[BATCH][32];
    static const char *vk[BATCH];
    static alchdb__cache_ver vals[BATCH];
    static int64_t ttl[BATCH];
    for (int done = 0; done < count;) {
        int n = count - done < BATCH ? count - done : BATCH;
        for (int i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "%s%d", prefix, first + done + i);
            vk[i] = names[i];
            vals[i] = fresh();
            ttl[i] = ttl_ms;
        }
        ck_assert_int_eq(b->ops->bump(b, (size_t)n, vk, vals, ttl), 0);
        done += n;
    }
}

static bool vkey_held(alchdb__cache_backend *b, const char *name)
{
    alchdb__cache_ver cur;
    return vkey_present(b, name, &cur) != NULL;
}

START_TEST(test_version_key_bound)
{
    long base = alchdb__alloc_outstanding();
    /* 1 MB / 256 is below the floor: the bound is 100000 keys */
    alchdb__cache_backend *b = mk(1 << 20);
    bump_many(b, "p:v:old", 0, 2, 0);
    bump_many(b, "p:v:x", 0, 1000, TTL_MS);
    sleep_ms(PAST_TTL_MS);
    /* 2 + 1000 expired + 99000 > 100000: the expired keys go first */
    bump_many(b, "p:v:k", 0, 99000, 0);
    size_t versions;
    alchdb__cache_memory_counts(b, NULL, &versions, NULL, NULL);
    ck_assert_uint_eq(versions, 99002);
    ck_assert(vkey_held(b, "p:v:old0")); /* touched: now the most recent */
    ck_assert(!vkey_held(b, "p:v:x0"));
    /* Over the bound with nothing expired: the least recently touched go
     * (old1, then the oldest k keys), never old0. The epoch's pinned slot
     * (absent here) counts towards the bound: 101003 slots, 1003 dropped. */
    bump_many(b, "p:v:k", 99000, 2000, 0);
    alchdb__cache_memory_counts(b, NULL, &versions, NULL, NULL);
    ck_assert_uint_eq(versions, 99999);
    ck_assert(vkey_held(b, "p:v:old0"));
    ck_assert(!vkey_held(b, "p:v:old1"));
    ck_assert(!vkey_held(b, "p:v:k0"));
    ck_assert(!vkey_held(b, "p:v:k1001"));
    ck_assert(vkey_held(b, "p:v:k1002"));
    ck_assert(vkey_held(b, "p:v:k100999"));
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    b->ops->stats_json(b, &sb);
    char *json = alchdb__sb_finish(&sb);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strstr(json, "\"version_drops\":1003"), "%s", json);
    alchdb__free(json);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- leases ---- */

START_TEST(test_lease_exclusive_expiring_owned)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(1 << 20);
    const char *k = "p:l:1";
    ck_assert_int_eq(b->ops->lease(b, k, "a", 60000), 1);
    ck_assert_int_eq(b->ops->lease(b, k, "b", 60000), 0);
    ck_assert_int_eq(b->ops->lease(b, k, "a", 60000), 0); /* not re-entrant either */
    ck_assert_int_eq(b->ops->unlease(b, k, "b"), 0);      /* not b's: stays */
    ck_assert_int_eq(b->ops->lease(b, k, "b", 60000), 0);
    ck_assert_int_eq(b->ops->unlease(b, k, "a"), 0);
    ck_assert_int_eq(b->ops->lease(b, k, "b", TTL_MS), 1);
    /* leases live apart from entries and version keys of the same name */
    ck_assert(absent(b, k));
    alchdb__cache_ver cur;
    ck_assert_ptr_null(vkey_present(b, k, &cur));
    ck_assert_int_eq(b->ops->lease(b, "p:l:2", "c", 60000), 1);
    sleep_ms(PAST_TTL_MS);
    ck_assert_int_eq(b->ops->lease(b, k, "c", 60000), 1); /* b's expired */
    ck_assert_int_eq(b->ops->unlease(b, k, "b"), 0);      /* the late owner cannot free c's */
    ck_assert_int_eq(b->ops->lease(b, k, "d", 60000), 0);
    ck_assert_int_eq(b->ops->lease(b, "p:l:2", "d", 60000), 0);
    b->ops->destroy(b); /* destroy frees held leases */
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- stats ---- */

START_TEST(test_stats_json)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(123456);
    const char *vk = "p:v:t:a";
    alchdb__cache_ver init = fresh(), cur;
    ck_assert_int_eq(b->ops->init(b, 1, &vk, &init, NULL, &cur), 0);
    ck_assert_int_eq(fill_str(b, "p:e:1", 1, &vk, &cur, "abc", 0), 1);
    char *json = backend_stats(b), want[128];
    snprintf(want, sizeof want, "{\"entries\":1,\"bytes\":%lld,\"max_bytes\":123456,\"evictions\":0,\"versions\":1,",
             (long long)bytes_of(b));
    ck_assert_msg(strncmp(json, want, strlen(want)) == 0, "%s", json);
    ck_assert_ptr_nonnull(strstr(json, "\"leases\":0"));
    ck_assert_ptr_nonnull(strstr(json, "\"epoch_resets\":0}"));
    alchdb__free(json);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- allocation failures ---- */


static void fail_next_allocation(void)
{
    failalloc_arm(1);
}

/* A bump that cannot store a key has lost an invalidation: the epoch gets a
 * fresh token, so every entry (all depend on it) becomes stale. */
START_TEST(test_lost_bump_resets_epoch)
{
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    alchdb__cache_backend *b = mk(1 << 20);
    const char *vk[2] = {EPOCH, "p:v:t:a"};
    alchdb__cache_ver init[2] = {fresh(), fresh()}, cur[2], now[2];
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);
    ck_assert_int_eq(fill_str(b, "p:e:1", 2, vk, cur, "v", 0), 1);

    /* bumping an existing key needs no memory: no reset */
    alchdb__cache_ver nv = fresh();
    fail_next_allocation();
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[1], &nv, NULL), 0);
    atomic_store(&failalloc_at, -1);
    ck_assert(holds(b, "p:e:1", 2, vk, now, "v"));
    ck_assert_str_eq(now[0].v, cur[0].v);
    cur[1] = nv;
    ck_assert_int_eq(fill_str(b, "p:e:1", 2, vk, cur, "v", 0), 1);

    /* a new key cannot be stored: NOMEM, and the epoch changed */
    const char *bk[2] = {"p:v:t:new", "p:v:t:a"};
    alchdb__cache_ver bv[2] = {fresh(), fresh()};
    fail_next_allocation();
    ck_assert_int_eq(b->ops->bump(b, 2, bk, bv, NULL), ALCHDB_E_NOMEM);
    atomic_store(&failalloc_at, -1);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_NOMEM);
    ck_assert(holds(b, "p:e:1", 2, vk, now, "v"));
    ck_assert_str_ne(now[0].v, cur[0].v);
    ck_assert_str_ne(now[0].v, "");
    ck_assert_str_eq(now[1].v, bv[1].v); /* the keys that could be stored were */
    ck_assert_int_eq(fill_str(b, "p:e:2", 2, vk, cur, "w", 0), 0);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    b->ops->stats_json(b, &sb);
    char *json = alchdb__sb_finish(&sb);
    ck_assert_ptr_nonnull(strstr(json, "\"epoch_resets\":1"));
    alchdb__free(json);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0); /* nothing leaked */
}
END_TEST

/* Fail each allocation of a scripted session in turn: every operation either
 * succeeds or reports NOMEM, nothing leaks, and a failed bump always leaves
 * the previously current entry stale. */
START_TEST(test_every_allocation_failure)
{
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    int failures_seen = 0;
    for (long k = 1; k < 24; k++) {
        atomic_store(&failalloc_calls, 0);
        atomic_store(&failalloc_at, k);
        alchdb__cache_backend_cfg cfg = {.epoch_key = EPOCH, .memory_bytes = 1 << 20};
        alchdb__cache_backend *b = NULL;
        int rc = alchdb__cache_memory_new(&cfg, &b);
        if (rc) {
            ck_assert_int_eq(rc, ALCHDB_E_NOMEM);
            ck_assert_ptr_null(b);
            failures_seen++;
            continue;
        }
        const char *vk[3] = {EPOCH, "p:v:t:a", "p:v:t:b"};
        alchdb__cache_ver init[3] = {fresh(), fresh(), fresh()}, cur[3], got[3];
        rc = b->ops->init(b, 3, vk, init, NULL, cur);
        ck_assert(rc == 0 || rc == ALCHDB_E_NOMEM);
        failures_seen += rc != 0;
        int filled = fill_str(b, "p:e:1", 3, vk, cur, "value", 0);
        ck_assert(filled == 1 || filled == ALCHDB_E_NOMEM || (rc != 0 && filled == 0));
        failures_seen += filled < 0;
        const char *bk[2] = {"p:v:t:b", "p:v:t:c"};
        alchdb__cache_ver bv[2] = {fresh(), fresh()};
        int bumped = b->ops->bump(b, 2, bk, bv, NULL);
        ck_assert(bumped == 0 || bumped == ALCHDB_E_NOMEM);
        failures_seen += bumped != 0;
        unsigned char *e = NULL;
        size_t len = 0;
        int fetched = b->ops->fetch(b, "p:e:1", 3, vk, got, &e, &len);
        ck_assert(fetched == 0 || fetched == ALCHDB_E_NOMEM);
        failures_seen += fetched != 0;
        if (filled == 1 && fetched == 0) {
            ck_assert_ptr_nonnull(e);
            /* filled with b = cur[2]; b was bumped (or the epoch reset) */
            ck_assert(strcmp(got[0].v, cur[0].v) != 0 || strcmp(got[2].v, cur[2].v) != 0);
        }
        alchdb__free(e);
        int leased = b->ops->lease(b, "p:l:1", "tok", 1000);
        ck_assert(leased == 1 || leased == ALCHDB_E_NOMEM);
        failures_seen += leased != 1;
        atomic_store(&failalloc_at, -1);
        b->ops->destroy(b);
        ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
    }
    ck_assert_int_ge(failures_seen, 8);
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}
END_TEST

/* ---- concurrency ----
 * A model of the cache protocol on 4 tables ("the database": a counter per
 * table) and 8 entries, each depending on the epoch and two tables.
 *   writer: truth[t]++, started[t]++, bump t, done[t]++
 *   filler: init (tokens T), note started, read truths, note done, fill
 *           expecting T with a value recording (truths, T)
 *   reader: note done, fetch; an entry whose recorded tokens equal the
 *           current ones is "current"
 * Invariants (each can fail):
 *   fill:  when a bump of a table started after the filler's init and was
 *          done before its fill (done-before-fill > started-after-init), the
 *          table's token changed in between, so the fill must be rejected;
 *   read:  a current entry's truths are at least the number of bumps done
 *          before the fetch (a bump never leaves an older value current). */
#define NTAB 4
#define NENT 8
#define NTHREADS 4

typedef struct model_value {
    uint64_t truth[2];
    alchdb__cache_ver vers[3];
} model_value;

static struct {
    alchdb__cache_backend *b;
    atomic_ullong truth[NTAB], started[NTAB], done[NTAB];
    atomic_int stop;
    atomic_long bad_fill, bad_read, errors, raced_fills, fills, current_hits, writes;
} M;

static const char *const tab_keys[NTAB] = {"p:v:t:0", "p:v:t:1", "p:v:t:2", "p:v:t:3"};

static void entry_deps(int e, const char *vk[3], int tab[2])
{
    tab[0] = e % NTAB;
    tab[1] = (e + 1) % NTAB;
    vk[0] = EPOCH;
    vk[1] = tab_keys[tab[0]];
    vk[2] = tab_keys[tab[1]];
}

static void model_write(int t)
{
    atomic_fetch_add(&M.truth[t], 1);
    atomic_fetch_add(&M.started[t], 1);
    alchdb__cache_ver nv = fresh();
    if (M.b->ops->bump(M.b, 1, &tab_keys[t], &nv, NULL) != 0)
        atomic_fetch_add(&M.errors, 1);
    atomic_fetch_add(&M.done[t], 1);
    atomic_fetch_add(&M.writes, 1);
}

static void model_fill(int e)
{
    const char *vk[3];
    int tab[2];
    entry_deps(e, vk, tab);
    alchdb__cache_ver init[3] = {fresh(), fresh(), fresh()};
    model_value v;
    if (M.b->ops->init(M.b, 3, vk, init, NULL, v.vers) != 0) {
        atomic_fetch_add(&M.errors, 1);
        return;
    }
    unsigned long long started[2], done[2];
    for (int i = 0; i < 2; i++) {
        started[i] = atomic_load(&M.started[tab[i]]);
        v.truth[i] = atomic_load(&M.truth[tab[i]]);
    }
    sched_yield(); /* "the query runs": widen the window for writers */
    for (int i = 0; i < 2; i++)
        done[i] = atomic_load(&M.done[tab[i]]);
    char key[16];
    snprintf(key, sizeof key, "p:e:%d", e);
    int rc = M.b->ops->fill(M.b, key, 3, vk, v.vers, (const unsigned char *)&v, sizeof v, 0);
    bool raced = done[0] > started[0] || done[1] > started[1];
    if (rc < 0)
        atomic_fetch_add(&M.errors, 1);
    if (raced)
        atomic_fetch_add(&M.raced_fills, 1);
    if (rc == 1 && raced)
        atomic_fetch_add(&M.bad_fill, 1);
    if (rc == 1)
        atomic_fetch_add(&M.fills, 1);
}

static void model_read(int e)
{
    const char *vk[3];
    int tab[2];
    entry_deps(e, vk, tab);
    unsigned long long done[2];
    for (int i = 0; i < 2; i++)
        done[i] = atomic_load(&M.done[tab[i]]);
    char key[16];
    snprintf(key, sizeof key, "p:e:%d", e);
    alchdb__cache_ver cur[3];
    unsigned char *buf = NULL;
    size_t len = 0;
    if (M.b->ops->fetch(M.b, key, 3, vk, cur, &buf, &len) != 0) {
        atomic_fetch_add(&M.errors, 1);
        return;
    }
    if (!buf)
        return;
    model_value v;
    if (len != sizeof v) {
        atomic_fetch_add(&M.bad_read, 1);
        alchdb__free(buf);
        return;
    }
    memcpy(&v, buf, sizeof v);
    alchdb__free(buf);
    for (int i = 0; i < 3; i++)
        if (strcmp(v.vers[i].v, cur[i].v) != 0)
            return; /* stale: the caller would not use it */
    atomic_fetch_add(&M.current_hits, 1);
    if (v.truth[0] < done[0] || v.truth[1] < done[1])
        atomic_fetch_add(&M.bad_read, 1);
}

static void *model_thread(void *arg)
{
    unsigned rng = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    while (!atomic_load(&M.stop)) {
        rng = rng * 1103515245u + 12345u;
        unsigned r = rng >> 8;
        if (r % 10 < 2)
            model_write((int)((r >> 4) % NTAB));
        else if (r % 10 < 5)
            model_fill((int)((r >> 4) % NENT));
        else
            model_read((int)((r >> 4) % NENT));
    }
    return NULL;
}

START_TEST(test_concurrent_protocol_invariants)
{
    long base = alchdb__alloc_outstanding();
    memset(&M, 0, sizeof M);
    /* small enough that fills also evict */
    M.b = mk(8 * (int64_t)sizeof(model_value));
    alchdb__cache_ver init = fresh(), cur;
    const char *ek = EPOCH;
    ck_assert_int_eq(M.b->ops->init(M.b, 1, &ek, &init, NULL, &cur), 0);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, model_thread, (void *)(uintptr_t)(i + 1)), 0);
    sleep_ms(500);
    atomic_store(&M.stop, 1);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    printf("cache-memory concurrency: %ld writes, %ld fills stored, %ld raced fills, %ld current hits\n",
           atomic_load(&M.writes), atomic_load(&M.fills), atomic_load(&M.raced_fills),
           atomic_load(&M.current_hits));
    fflush(stdout);
    ck_assert_int_eq(atomic_load(&M.errors), 0);
    ck_assert_int_eq(atomic_load(&M.bad_fill), 0);
    ck_assert_int_eq(atomic_load(&M.bad_read), 0);
    /* the checks were exercised */
    ck_assert_int_gt(atomic_load(&M.writes), 0);
    ck_assert_int_gt(atomic_load(&M.fills), 0);
    ck_assert_int_gt(atomic_load(&M.raced_fills), 0);
    ck_assert_int_gt(atomic_load(&M.current_hits), 0);
    int64_t bytes;
    alchdb__cache_memory_counts(M.b, NULL, NULL, &bytes, NULL);
    ck_assert_int_le(bytes, 8 * (int64_t)sizeof(model_value));
    M.b->ops->destroy(M.b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- micro-measure (printed, not asserted) ---- */

START_TEST(test_measure_fetch)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = mk(1 << 24);
    const char *vk[3] = {EPOCH, "p:v:t:orders", "p:v:r:orders:42"};
    alchdb__cache_ver init[3] = {fresh(), fresh(), fresh()}, cur[3];
    ck_assert_int_eq(b->ops->init(b, 3, vk, init, NULL, cur), 0);
    static unsigned char v[1024];
    const char *key = "p:e:0123456789abcdef0123456789abcdef";
    ck_assert_int_eq(b->ops->fill(b, key, 3, vk, cur, v, sizeof v, 0), 1);
    long iters = 0, misses = 0;
    int64_t t0 = alchdb__now_ns(), t1 = t0;
    /* Bounded by time so valgrind and TSan runs stay short. No ck_assert in
     * the loop: in fork mode each one writes to a pipe. */
    while (iters < 2000000 && t1 - t0 < 200000000) {
        for (int i = 0; i < 1000; i++) {
            unsigned char *e = NULL;
            size_t len = 0;
            misses += b->ops->fetch(b, key, 3, vk, cur, &e, &len) != 0 || len != sizeof v;
            alchdb__free(e);
        }
        iters += 1000;
        t1 = alchdb__now_ns();
    }
    ck_assert_int_eq(misses, 0);
    printf("cache-memory: %.0f ns per fetch (1 KB entry + 3 version keys, one thread, %ld fetches)\n",
           (double)(t1 - t0) / (double)iters, iters);
    fflush(stdout);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* A version's write position only moves forward: a writer that committed
 * earlier but bumps later leaves the later commit's position. A position
 * nobody knows (an absent key may have lost one) stays unknown until a
 * reader resolves it, and every bump still changes the token. */
START_TEST(test_positions_only_move_forward)
{
    alchdb__cache_backend *b = mk(1 << 20);
    const char *vk = "p:v:t:pos";
    alchdb__cache_ver v, cur, prev;
    alchdb__cache_ver_make(&v, "00000000000000a1", 0x200);
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), -1); /* it was absent */
    ck_assert_int_eq(alchdb__cache_ver_state(&cur, NULL), ALCHDB__VER_UNKNOWN);
    alchdb__cache_ver known;
    alchdb__cache_ver_make(&known, "00000000000000b1", 0x100);
    ck_assert_int_eq(b->ops->cas(b, vk, &cur, &known, 0), 1); /* resolved */
    ck_assert_int_eq(backend_position(b, vk, &cur), 0x100);
    alchdb__cache_ver_make(&v, "00000000000000a2", 0x300); /* commits at 0x300, bumps first */
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), 0x300);
    prev = cur;
    alchdb__cache_ver_make(&v, "00000000000000a3", 0x280); /* committed before it, bumps last */
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), 0x300);
    ck_assert_str_ne(cur.v, prev.v); /* still a new token: entries of before are stale */
    ck_assert(strncmp(cur.v, "00000000000000a3", 16) == 0);
    alchdb__cache_ver_make(&v, "00000000000000a4", -1); /* a write of unknown position */
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), -1);
    alchdb__cache_ver_make(&v, "00000000000000a5", 0x900);
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), -1); /* unknown stays unknown */
    /* Marks belong to shared backends: here they do nothing. */
    ck_assert_int_eq(b->ops->mark(b, 1, &vk, "00000000000000a6", 1000), 0);
    ck_assert_int_eq(alchdb__cache_ver_state(&cur, NULL), ALCHDB__VER_UNKNOWN);
    b->ops->destroy(b);
}
END_TEST

/* The token format: what each state looks like and what a merge keeps. */
START_TEST(test_token_states)
{
    static const struct {
        const char *tok;
        int state;
        int64_t lsn;
    } T[] = {
        {"", ALCHDB__VER_ABSENT, -1},
        {"0123456789abcdef:u", ALCHDB__VER_UNKNOWN, -1},
        {"0123456789abcdef:0000000000000010", ALCHDB__VER_KNOWN, 16},
        {"0123456789abcdef:0000000000000010:w", ALCHDB__VER_PENDING, 16},
        {"0123456789abcdef:u:w", ALCHDB__VER_PENDING, -1},
        {"0123456789abcdef:8000000000000000", ALCHDB__VER_UNKNOWN, -1}, /* beyond int64 */
        {"0123456789ABCDEF:0000000000000010", ALCHDB__VER_UNKNOWN, -1}, /* not ours */
        {"0123456789abcdef:00000000000010", ALCHDB__VER_UNKNOWN, -1},
        {"0123456789abcdef", ALCHDB__VER_UNKNOWN, -1},
        {"garbage", ALCHDB__VER_UNKNOWN, -1},
        {"0123456789abcdef:0000000000000010:x", ALCHDB__VER_UNKNOWN, -1},
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++) {
        alchdb__cache_ver v;
        snprintf(v.v, sizeof v.v, "%s", T[i].tok);
        int64_t lsn = 7;
        ck_assert_msg(alchdb__cache_ver_state(&v, &lsn) == T[i].state, "%s", T[i].tok);
        ck_assert_msg(lsn == T[i].lsn, "%s: %lld", T[i].tok, (long long)lsn);
        ck_assert_int_eq(alchdb__cache_ver_state(&v, NULL), T[i].state);
    }
    alchdb__cache_ver cur, prop, out;
    snprintf(cur.v, sizeof cur.v, "%s", "0123456789abcdef:0000000000000010:w");
    alchdb__cache_ver_make(&prop, "fedcba9876543210", 8);
    alchdb__cache_ver_merge(&out, &cur, &prop); /* a pending token keeps its position */
    ck_assert_str_eq(out.v, "fedcba9876543210:0000000000000010");
    alchdb__cache_ver_make(&prop, "fedcba9876543210", 0x20);
    alchdb__cache_ver_merge(&out, &cur, &prop);
    ck_assert_str_eq(out.v, "fedcba9876543210:0000000000000020");
}
END_TEST

START_TEST(test_constructor_arguments)
{
    alchdb__cache_backend *b = (alchdb__cache_backend *)&b;
    alchdb__cache_backend_cfg cfg = {.epoch_key = EPOCH, .memory_bytes = 0};
    ck_assert_int_eq(alchdb__cache_memory_new(&cfg, &b), ALCHDB_E_INVALID);
    ck_assert_ptr_null(b);
    cfg.memory_bytes = 1000;
    cfg.epoch_key = "";
    ck_assert_int_eq(alchdb__cache_memory_new(&cfg, &b), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__cache_memory_new(NULL, &b), ALCHDB_E_INVALID);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache-memory");
    TCase *tc = tcase_create("memory");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_constructor_arguments);
    tcase_add_test(tc, test_positions_only_move_forward);
    tcase_add_test(tc, test_token_states);
    tcase_add_test(tc, test_fetch_absent_then_present);
    tcase_add_test(tc, test_fill_only_when_versions_match);
    tcase_add_test(tc, test_init_is_set_if_absent);
    tcase_add_test(tc, test_entry_ttl);
    tcase_add_test(tc, test_version_ttl);
    tcase_add_test(tc, test_lru_eviction_order);
    tcase_add_test(tc, test_byte_bound_never_exceeded);
    tcase_add_test(tc, test_oversize_entry_refused);
    tcase_add_test(tc, test_version_key_bound);
    tcase_add_test(tc, test_lease_exclusive_expiring_owned);
    tcase_add_test(tc, test_stats_json);
    tcase_add_test(tc, test_lost_bump_resets_epoch);
    tcase_add_test(tc, test_every_allocation_failure);
    tcase_add_test(tc, test_concurrent_protocol_invariants);
    tcase_add_test(tc, test_measure_fetch);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
