/* The Redis backend of the query cache (lib/cache/redis.c) against the rig's
 * real redis-server: fetch/init/fill/bump/lease semantics, foreign and
 * wrong-type values, OOM answers, the circuit breaker, a paused and a
 * restarted server (the epoch must be re-set before anything is served),
 * SIGPIPE, concurrency through a small pool, leaks, and a micro-measure.
 * Entries are arbitrary bytes here (the codec is not involved).
 *
 * The server is shared with other suites: every test uses its own key
 * prefix, and each test case that pauses, stops or reconfigures Redis has an
 * unchecked teardown (run by the parent even when the test failed) that
 * resumes or restarts it and restores its memory settings. */
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "cache/cache_internal.h"
#include "redis_backend_test.h"
#include "redistest.h"
#include "testutil.h"

/* ---- helpers ----------------------------------------------------------------- */

static char g_host[128];
static int g_port;

static void redis_addr(void)
{
    redistest_addr(g_host, sizeof g_host, &g_port);
}

static void setup_prefix(void)
{
    redis_addr();
    keys_reset("adbt");
}

static alchdb__cache_backend_cfg cfg_default(void)
{
    alchdb__cache_backend_cfg cfg = backend_cfg_base();
    cfg.redis_host = g_host;
    cfg.redis_port = g_port;
    return cfg;
}

static alchdb__cache_ver fresh(void)
{
    alchdb__cache_ver v;
    alchdb__cache_ver_new(&v, -1);
    return v;
}

static bool stats_has(alchdb__cache_backend *b, const char *member)
{
    char *json = backend_stats(b);
    bool has = strstr(json, member) != NULL;
    if (!has)
        fprintf(stderr, "stats %s lack %s\n", json, member);
    alchdb__free(json);
    return has;
}

/* ---- a raw connection for setup and inspection --------------------------------- */

static redisContext *raw(void)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(g_host, g_port, tv);
    ck_assert_msg(c && !c->err, "raw connect: %s", c ? c->errstr : "no memory");
    redisSetTimeout(c, tv);
    return c;
}

static redisReply *rawcmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r, "raw command %s: %s", fmt, c->errstr);
    return r;
}

static void rawdo(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "raw %s: %s", fmt, r ? r->str : c->errstr);
    freeReplyObject(r);
}

static long long raw_int(redisContext *c, const char *fmt, const char *key)
{
    redisReply *r = rawcmd(c, fmt, key);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* The string at key ("" when absent or of another type). */
static void raw_get(redisContext *c, const char *key, char *out, size_t n)
{
    redisReply *r = rawcmd(c, "GET %s", key);
    snprintf(out, n, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
}

/* Drop this test's keys (hygiene: the server is shared). */
static void raw_cleanup(void)
{
    redisContext *c = raw();
    char match[128];
    snprintf(match, sizeof match, "%s:*", P);
    char cursor[32] = "0";
    do {
        redisReply *r = rawcmd(c, "SCAN %s MATCH %s COUNT 1000", cursor, match);
        ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++)
            rawdo(c, "DEL %s", r->element[1]->element[i]->str);
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    redisFree(c);
}

/* ---- controlling the rig's server ------------------------------------------------ */

static char saved_maxmemory[32] = "0", saved_policy[64] = "noeviction";

static void config_get(redisContext *c, const char *name, char *out, size_t n)
{
    redisReply *r = redisCommand(c, "CONFIG GET %s", name);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2)
        snprintf(out, n, "%s", r->element[1]->str);
    freeReplyObject(r);
}

/* Unchecked setup (parent process): remember the memory settings. */
static void server_save(void)
{
    redis_addr();
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(g_host, g_port, tv);
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        config_get(c, "maxmemory", saved_maxmemory, sizeof saved_maxmemory);
        config_get(c, "maxmemory-policy", saved_policy, sizeof saved_policy);
    }
    redisFree(c);
}

/* Unchecked teardown (parent process, also after a failed test): leave Redis
 * running, unpaused and with its memory settings. No asserts here. */
static void server_restore(void)
{
    if (redistest_ctl_status("start") != 0 || redistest_ctl_status("resume") != 0)
        fprintf(stderr, "test_redis: could not restore the rig's redis\n");
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout(g_host, g_port, tv);
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        freeReplyObject(redisCommand(c, "CONFIG SET maxmemory %s", saved_maxmemory));
        freeReplyObject(redisCommand(c, "CONFIG SET maxmemory-policy %s", saved_policy));
    }
    redisFree(c);
}

/* ---- fetch helpers ------------------------------------------------------------------ */

static int fill_bytes(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vk,
                      const alchdb__cache_ver *expected, const void *data, size_t len, int64_t ttl_ms)
{
    return b->ops->fill(b, key, n, vk, expected, data, len, ttl_ms);
}

static int fill_str(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vk,
                    const alchdb__cache_ver *expected, const char *value)
{
    return fill_bytes(b, key, n, vk, expected, value, strlen(value), 60000);
}

static bool entry_is(const unsigned char *e, size_t len, const void *want, size_t want_len)
{
    return e && len == want_len && memcmp(e, want, len) == 0;
}

/* ---- semantics ------------------------------------------------------------------------- */

START_TEST(test_constructor_arguments)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend *b = (alchdb__cache_backend *)&b;
    alchdb__cache_backend_cfg cfg = cfg_default();
    ck_assert_int_eq(alchdb__cache_redis_new(NULL, &b), ALCHDB_E_INVALID);
    ck_assert_ptr_null(b);
    ck_assert_int_eq(alchdb__cache_redis_new(&cfg, NULL), ALCHDB_E_INVALID);
    alchdb__cache_backend_cfg bad[7];
    for (int i = 0; i < 7; i++)
        bad[i] = cfg;
    bad[0].epoch_key = NULL;
    bad[1].redis_host = "";
    bad[2].redis_port = 0;
    bad[3].command_timeout_us = 0;
    bad[4].connect_timeout_us = -1;
    bad[5].breaker_failures = 0;
    bad[6].pool_size = 0;
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(alchdb__cache_redis_new(&bad[i], &b), ALCHDB_E_INVALID);
        ck_assert_ptr_null(b);
    }
    /* nothing is connected before the first operation */
    cfg.redis_port = 1;
    b = mk(&cfg);
    ck_assert(stats_has(b, "\"connections\":0"));
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

START_TEST(test_fetch_init_fill_bump)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    alchdb__cache_backend *b = mk(&cfg);
    redisContext *rc = raw();
    const char *vk[3] = {K("v:n"), K("v:t:a"), K("v:t:b")};
    const char *ek = K("e:1");
    alchdb__cache_ver cur[3], cur2[3];
    unsigned char *e;
    size_t len;

    /* nothing there yet but the epoch, which the first connection's
     * generation check set (position unknown) */
    ck_assert_int_eq(fetch(b, ek, 3, vk, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    ck_assert_uint_eq(len, 0);
    ck_assert_int_eq(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_UNKNOWN);
    alchdb__cache_ver epoch = cur[0];
    for (int i = 1; i < 3; i++)
        ck_assert_str_eq(cur[i].v, "");

    /* init: set-if-absent, with the given expiries */
    alchdb__cache_ver init[3] = {fresh(), fresh(), fresh()}, init2[3] = {fresh(), fresh(), fresh()};
    int64_t ttl[3] = {0, 60000, 0};
    ck_assert_int_eq(b->ops->init(b, 3, vk, init, ttl, cur), 0);
    init[0] = epoch; /* it was there */
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(cur[i].v, init[i].v);
    ck_assert_int_eq(raw_int(rc, "PTTL %s", vk[0]), -1);
    long long pttl = raw_int(rc, "PTTL %s", vk[1]);
    ck_assert(pttl > 0 && pttl <= 60000);
    ck_assert_int_eq(b->ops->init(b, 3, vk, init2, NULL, cur2), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(cur2[i].v, init[i].v);

    /* fill with the current tokens: stored, binary safe, with its ttl */
    unsigned char blob[1024];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (unsigned char)(i * 7); /* contains NUL bytes */
    ck_assert_int_eq(fill_bytes(b, ek, 3, vk, cur, blob, sizeof blob, 30000), 1);
    ck_assert_int_eq(fetch(b, ek, 3, vk, cur2, &e, &len), 0);
    ck_assert(entry_is(e, len, blob, sizeof blob));
    alchdb__free(e);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(cur2[i].v, init[i].v);
    pttl = raw_int(rc, "PTTL %s", ek);
    ck_assert(pttl > 0 && pttl <= 30000);
    ck_assert_int_eq(fill_bytes(b, K("e:nottl"), 3, vk, cur, "x", 1, 0), 1);
    ck_assert_int_eq(raw_int(rc, "PTTL %s", K("e:nottl")), -1);
    ck_assert_int_eq(fill_bytes(b, K("e:empty"), 3, vk, cur, NULL, 0, 1000), 1);
    ck_assert_int_eq(fetch(b, K("e:empty"), 0, NULL, NULL, &e, &len), 0);
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(len, 0);
    alchdb__free(e);

    /* a bump makes fills with the old tokens fail; the entry is not touched */
    alchdb__cache_ver nv = fresh();
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[1], &nv, NULL), 0);
    ck_assert_int_eq(fill_str(b, ek, 3, vk, cur, "newer"), 0);
    ck_assert_int_eq(fetch(b, ek, 3, vk, cur2, &e, &len), 0);
    ck_assert(entry_is(e, len, blob, sizeof blob));
    alchdb__free(e);
    ck_assert_str_eq(cur2[1].v, nv.v);
    ck_assert_int_eq(raw_int(rc, "PTTL %s", vk[1]), -1); /* bump without ttl: none */
    ck_assert_int_eq(fill_str(b, ek, 3, vk, cur2, "newer"), 1);
    ck_assert_int_eq(fetch(b, ek, 3, vk, cur, &e, &len), 0);
    ck_assert(entry_is(e, len, "newer", 5));
    alchdb__free(e);

    /* an absent version key never matches, whatever was expected */
    rawdo(rc, "DEL %s", vk[2]);
    ck_assert_int_eq(fill_str(b, ek, 3, vk, cur2, "x"), 0);
    alchdb__cache_ver none[3] = {cur2[0], cur2[1], {""}};
    ck_assert_int_eq(fill_str(b, ek, 3, vk, none, "x"), 0);
    ck_assert_int_eq(fetch(b, ek, 3, vk, cur, &e, &len), 0);
    ck_assert(entry_is(e, len, "newer", 5));
    alchdb__free(e);
    ck_assert_str_eq(cur[2].v, "");

    /* bump with expiries; several keys in one call */
    alchdb__cache_ver nb[2] = {fresh(), fresh()};
    int64_t bttl[2] = {0, 5000};
    ck_assert_int_eq(b->ops->bump(b, 2, &vk[1], nb, bttl), 0);
    ck_assert_int_eq(raw_int(rc, "PTTL %s", vk[1]), -1);
    pttl = raw_int(rc, "PTTL %s", vk[2]);
    ck_assert(pttl > 0 && pttl <= 5000);

    /* del */
    ck_assert_int_eq(b->ops->del(b, ek), 0);
    ck_assert_int_eq(b->ops->del(b, ek), 0);
    ck_assert_int_eq(fetch(b, ek, 3, vk, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(cur[2].v, nb[1].v);

    ck_assert(stats_has(b, "\"breaker\":\"closed\",\"errors\":0,\"timeouts\":0,\"reconnects\":0"));
    /* the first connection to a namespace nobody checked on this server replaces its epoch */
    ck_assert(stats_has(b, "\"epoch_bumps\":1,\"server_changes\":1,\"write_marks\":0,\"dirty\":false,\"connections\":1"));
    redisFree(rc);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

START_TEST(test_lease)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    alchdb__cache_backend *b = mk(&cfg);
    redisContext *rc = raw();
    const char *lk = K("e:1:lease");
    char held[64];
    ck_assert_int_eq(b->ops->lease(b, lk, "tok-a", 60000), 1);
    ck_assert_int_eq(b->ops->lease(b, lk, "tok-b", 60000), 0);
    long long pttl = raw_int(rc, "PTTL %s", lk);
    ck_assert(pttl > 0 && pttl <= 60000);
    ck_assert_int_eq(b->ops->unlease(b, lk, "tok-b"), 0); /* not b's: stays */
    raw_get(rc, lk, held, sizeof held);
    ck_assert_str_eq(held, "tok-a");
    ck_assert_int_eq(b->ops->unlease(b, lk, "tok-a"), 0);
    raw_get(rc, lk, held, sizeof held);
    ck_assert_str_eq(held, "");
    ck_assert_int_eq(b->ops->unlease(b, lk, "tok-a"), 0); /* gone: fine */
    ck_assert_int_eq(b->ops->lease(b, lk, "tok-b", 50), 1);
    sleep_ms(120);
    ck_assert_int_eq(b->ops->lease(b, lk, "tok-c", 60000), 1); /* b's expired */
    ck_assert_int_eq(b->ops->unlease(b, lk, "tok-b"), 0);      /* the late owner cannot free c's */
    raw_get(rc, lk, held, sizeof held);
    ck_assert_str_eq(held, "tok-c");
    ck_assert_int_eq(b->ops->lease(b, lk, "tok-d", 0), ALCHDB_E_INVALID);
    redisFree(rc);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

/* Someone else's data under our names: a miss or an error, never a crash,
 * and no effect on the breaker (the server answered). Also the EVAL fallback
 * after SCRIPT FLUSH. */
START_TEST(test_foreign_and_wrong_type)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.breaker_failures = 1;
    alchdb__cache_backend *b = mk(&cfg);
    redisContext *rc = raw();
    const char *vk[2] = {K("v:n"), K("v:t:a")};
    alchdb__cache_ver init[2] = {fresh(), fresh()}, cur[2];
    unsigned char *e;
    size_t len;
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);

    /* a foreign string at the entry key comes back as bytes (the codec rejects it) */
    rawdo(rc, "SET %s %b", K("e:str"), "\x00junk", (size_t)5);
    ck_assert_int_eq(fetch(b, K("e:str"), 2, vk, cur, &e, &len), 0);
    ck_assert(entry_is(e, len, "\x00junk", 5));
    alchdb__free(e);

    /* a list at the entry key: a miss; a fill replaces it */
    rawdo(rc, "RPUSH %s a b c", K("e:list"));
    ck_assert_int_eq(fetch(b, K("e:list"), 2, vk, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(cur[1].v, init[1].v);
    ck_assert_int_eq(fill_str(b, K("e:list"), 2, vk, cur, "mine"), 1);
    ck_assert_int_eq(fetch(b, K("e:list"), 2, vk, cur, &e, &len), 0);
    ck_assert(entry_is(e, len, "mine", 4));
    alchdb__free(e);

    /* a list at a version key: absent to fetch and init, fill refuses or fails */
    const char *lvk[2] = {vk[0], K("v:t:list")};
    rawdo(rc, "RPUSH %s x", lvk[1]);
    ck_assert_int_eq(fetch(b, K("e:2"), 2, lvk, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    ck_assert_str_eq(cur[1].v, "");
    alchdb__cache_ver li[2] = {fresh(), fresh()};
    int rv = b->ops->init(b, 2, lvk, li, NULL, cur);
    ck_assert(rv == 0 || rv == ALCHDB_E_BACKEND);
    if (rv == 0)
        ck_assert_str_eq(cur[1].v, "");
    alchdb__cache_ver exp[2] = {init[0], {"guess"}};
    rv = fill_str(b, K("e:2"), 2, lvk, exp, "x");
    ck_assert_msg(rv == 0 || rv == ALCHDB_E_BACKEND, "fill over a list version key: %d", rv);
    ck_assert_int_eq(fetch(b, K("e:2"), 0, NULL, NULL, &e, &len), 0);
    ck_assert_ptr_null(e);
    /* a bump overwrites it with a token */
    alchdb__cache_ver nv = fresh();
    ck_assert_int_eq(b->ops->bump(b, 1, &lvk[1], &nv, NULL), 0);
    ck_assert_int_eq(fetch(b, K("e:2"), 2, lvk, cur, &e, &len), 0);
    ck_assert_str_eq(cur[1].v, nv.v);

    /* a foreign string too long to be a token reads as absent */
    char longv[100];
    memset(longv, 'z', sizeof longv - 1);
    longv[sizeof longv - 1] = 0;
    rawdo(rc, "SET %s %s", K("v:t:long"), longv);
    const char *gvk[1] = {K("v:t:long")};
    ck_assert_int_eq(fetch(b, K("e:3"), 1, gvk, cur, &e, &len), 0);
    ck_assert_str_eq(cur[0].v, "");
    ck_assert_int_eq(fill_str(b, K("e:3"), 1, gvk, cur, "x"), 0);

    /* a hash at the lease key: held by "another"; unlease errors or does nothing */
    rawdo(rc, "HSET %s f v", K("l:h"));
    ck_assert_int_eq(b->ops->lease(b, K("l:h"), "t", 1000), 0);
    rv = b->ops->unlease(b, K("l:h"), "t");
    ck_assert(rv == 0 || rv == ALCHDB_E_BACKEND);
    ck_assert_int_eq(raw_int(rc, "EXISTS %s", K("l:h")), 1);

    /* the server forgot the scripts: EVAL takes over */
    rawdo(rc, "SCRIPT FLUSH");
    ck_assert_int_eq(fetch(b, K("e:4"), 2, vk, cur, &e, &len), 0);
    ck_assert_int_eq(fill_str(b, K("e:4"), 2, vk, cur, "after flush"), 1);
    ck_assert_int_eq(b->ops->lease(b, K("l:4"), "t", 1000), 1);
    rawdo(rc, "SCRIPT FLUSH");
    ck_assert_int_eq(b->ops->unlease(b, K("l:4"), "t"), 0);
    ck_assert_int_eq(raw_int(rc, "EXISTS %s", K("l:4")), 0);

    /* error answers are errors, not transport failures: the breaker stays closed */
    ck_assert(stats_has(b, "\"breaker\":\"closed\""));
    ck_assert(stats_has(b, "\"dirty\":false"));
    redisFree(rc);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

/* The password reaches no message and no stats; a failed AUTH is an error. */
START_TEST(test_auth_failure_hides_password)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.redis_password = "pw-SECRET-4711";
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[1] = {K("v:n")};
    alchdb__cache_ver cur[1];
    unsigned char *e;
    size_t len;
    ck_assert_int_lt(fetch(b, K("e:1"), 1, vk, cur, &e, &len), 0);
    ck_assert_ptr_null(e);
    ck_assert_msg(strstr(alchdb_last_error_message(), "AUTH"), "%s", alchdb_last_error_message());
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "SECRET"));
    ck_assert_int_lt(b->ops->lease(b, K("l"), "t", 1000), 0);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "SECRET"));
    char *json = backend_stats(b);
    ck_assert_ptr_null(strstr(json, "SECRET"));
    ck_assert_ptr_nonnull(strstr(json, "\"connections\":0"));
    alchdb__free(json);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

START_TEST(test_select_db)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.redis_db = 5;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[1] = {K("v:n")};
    alchdb__cache_ver init[1] = {fresh()}, cur[1];
    ck_assert_int_eq(b->ops->init(b, 1, vk, init, NULL, cur), 0);
    ck_assert_int_eq(fill_str(b, K("e:1"), 1, vk, cur, "in five"), 1);
    redisContext *rc = raw();
    ck_assert_int_eq(raw_int(rc, "EXISTS %s", K("e:1")), 0);
    rawdo(rc, "SELECT 5");
    ck_assert_int_eq(raw_int(rc, "EXISTS %s", K("e:1")), 1);
    rawdo(rc, "DEL %s %s", K("e:1"), vk[0]);
    redisFree(rc);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- failures ----------------------------------------------------------------------- */

/* Redis refusing writes (maxmemory, noeviction): fills fail or are refused,
 * a failed bump makes the backend serve nothing until the epoch bump gets
 * through (here: once memory is back). */
START_TEST(test_oom)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    alchdb__cache_backend *b = mk(&cfg);
    redisContext *rc = raw();
    const char *vk[2] = {K("v:n"), K("v:t:a")};
    alchdb__cache_ver init[2] = {fresh(), fresh()}, cur[2];
    unsigned char *e;
    size_t len;
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);
    ck_assert_int_eq(fill_str(b, K("e:0"), 2, vk, cur, "before"), 1);

    rawdo(rc, "CONFIG SET maxmemory-policy noeviction");
    rawdo(rc, "CONFIG SET maxmemory 1mb");
    static unsigned char big[64 * 1024];
    memset(big, 'b', sizeof big);
    int failures = 0;
    for (int i = 0; i < 64 && failures < 3; i++) {
        char key[160];
        snprintf(key, sizeof key, "%s:e:big:%d", P, i);
        int rv = fill_bytes(b, key, 2, vk, cur, big, sizeof big, 60000);
        ck_assert_msg(rv == 1 || rv == 0 || rv == ALCHDB_E_BACKEND, "fill under OOM: %d", rv);
        if (rv != 1)
            failures++;
        if (rv < 0)
            ck_assert_msg(strstr(alchdb_last_error_message(), "OOM"), "%s", alchdb_last_error_message());
    }
    ck_assert_int_gt(failures, 0);
    /* small writes too: the server is over its limit, not just a big request */
    int small_failed = 0;
    for (int i = 0; i < 1000 && !small_failed; i++) {
        char key[160];
        snprintf(key, sizeof key, "%s:e:small:%d", P, i);
        small_failed = fill_bytes(b, key, 2, vk, cur, big, 1024, 60000) != 1;
    }
    ck_assert(small_failed);
    /* reads still work */
    ck_assert_int_eq(fetch(b, K("e:0"), 2, vk, cur, &e, &len), 0);
    ck_assert(entry_is(e, len, "before", 6));
    alchdb__free(e);

    /* A bump over maxmemory is still delivered: Redis 7 lets a script that
     * already wrote go on writing (the version script starts with a ZREM),
     * and where a store is refused the script deletes the key instead (DEL
     * is allowed at any memory use). Either way the old token is gone. */
    alchdb__cache_ver nv = fresh();
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[1], &nv, NULL), 0);
    ck_assert(stats_has(b, "\"dirty\":false"));
    ck_assert_int_eq(fetch(b, K("e:0"), 2, vk, cur, &e, &len), 0);
    ck_assert_str_ne(cur[1].v, init[1].v);
    ck_assert(cur[1].v[0] == '\0' || strcmp(cur[1].v, nv.v) == 0);
    alchdb__free(e);
    ck_assert_int_eq(fill_str(b, K("e:0"), 2, vk, init, "x"), 0); /* the old tokens: refused */
    /* A mark, likewise: the epoch is pending or gone, never the old token. */
    alchdb__cache_ver old_epoch = cur[0];
    ck_assert_int_ge(b->ops->mark(b, 1, vk, "00000000000000aa", 60000), 0);
    ck_assert_int_eq(fetch(b, K("e:0"), 2, vk, cur, &e, &len), 0);
    alchdb__free(e);
    ck_assert_str_ne(cur[0].v, old_epoch.v);
    ck_assert_int_ne(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_KNOWN);
    ck_assert_int_ne(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_UNKNOWN);
    ck_assert(stats_has(b, "\"breaker\":\"closed\"")); /* the server did answer */

    rawdo(rc, "CONFIG SET maxmemory %s", saved_maxmemory);
    alchdb__cache_ver end = {""};
    alchdb__cache_ver_make(&end, "00000000000000aa", -1); /* the mark's own bump ends it */
    ck_assert_int_eq(b->ops->bump(b, 1, vk, &end, NULL), 0);
    alchdb__cache_ver again[2] = {fresh(), fresh()};
    ck_assert_int_eq(b->ops->init(b, 2, vk, again, NULL, cur), 0);
    ck_assert_str_eq(cur[0].v, end.v);
    ck_assert_int_eq(fetch(b, K("e:0"), 2, vk, cur, &e, &len), 0);
    ck_assert(entry_is(e, len, "before", 6)); /* still there, never current again */
    alchdb__free(e);
    ck_assert_int_eq(fill_str(b, K("e:0"), 2, vk, cur, "after"), 1);
    ck_assert(stats_has(b, "\"dirty\":false"));
    char epoch[64];
    raw_get(rc, vk[0], epoch, sizeof epoch);
    ck_assert_str_eq(epoch, cur[0].v);
    redisFree(rc);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

/* Every kind of operation once; all must fail with the breaker's error,
 * each within max_us. A bump is the exception: invalidations are attempted
 * even with the breaker open (so they fail with the connection's error). */
static void all_ops_refused(alchdb__cache_backend *b, int64_t max_us)
{
    const char *vk[1] = {K("v:n")};
    alchdb__cache_ver v[1] = {fresh()}, cur[1];
    unsigned char *e;
    size_t len;
    for (int op = 0; op < 7; op++) {
        int64_t t0 = now_us();
        int rv = 0;
        switch (op) {
        case 0: rv = fetch(b, K("e"), 1, vk, cur, &e, &len); break;
        case 1: rv = b->ops->init(b, 1, vk, v, NULL, cur); break;
        case 2: rv = fill_str(b, K("e"), 1, vk, v, "x"); break;
        case 3: rv = b->ops->bump(b, 1, vk, v, NULL); break;
        case 4: rv = b->ops->lease(b, K("l"), "t", 1000); break;
        case 5: rv = b->ops->unlease(b, K("l"), "t"); break;
        default: rv = b->ops->del(b, K("e")); break;
        }
        int64_t took = now_us() - t0;
        ck_assert_int_lt(rv, 0);
        if (op != 3)
            ck_assert_str_eq(alchdb_last_error_message(), "redis circuit breaker open");
        else
            ck_assert_ptr_null(strstr(alchdb_last_error_message(), "breaker"));
        ck_assert_msg(took < max_us, "op %d took %lld us with the breaker open", op, (long long)took);
    }
}

START_TEST(test_breaker)
{
    long base = alchdb__alloc_outstanding();
    int fd;
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.redis_port = closed_port(&fd);
    cfg.breaker_open_us = 10000 * MS;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[1] = {K("v:n")};
    alchdb__cache_ver cur[1];
    unsigned char *e;
    size_t len;
    for (int i = 0; i < 3; i++) {
        ck_assert(stats_has(b, "\"breaker\":\"closed\""));
        ck_assert(!b->ops->breaker_open(b));
        ck_assert_int_eq(fetch(b, K("e"), 1, vk, cur, &e, &len), ALCHDB_E_BACKEND);
        ck_assert_msg(strstr(alchdb_last_error_message(), "refused"), "%s", alchdb_last_error_message());
    }
    ck_assert(stats_has(b, "\"breaker\":\"open\",\"errors\":3"));
    ck_assert(b->ops->breaker_open(b));
    ck_assert(stats_has(b, "\"breaker_opens\":1"));
    for (int round = 0; round < 20; round++) /* at once: far below the 1 s connect timeout */
        all_ops_refused(b, 200 * MS);
    ck_assert_int_eq(backend_stat(b, "rejected"), 20 * 6);
    ck_assert_int_eq(backend_stat(b, "errors"), 3 + 20); /* the 20 bumps that were attempted */
    ck_assert(stats_has(b, "\"dirty\":true")); /* the failed bumps were lost */
    b->ops->destroy(b);

    /* after the open period one trial goes through; its failure reopens */
    cfg.breaker_open_us = 100 * MS;
    b = mk(&cfg);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(fetch(b, K("e"), 1, vk, cur, &e, &len), ALCHDB_E_BACKEND);
    all_ops_refused(b, 50 * MS);
    sleep_ms(150);
    ck_assert_int_eq(fetch(b, K("e"), 1, vk, cur, &e, &len), ALCHDB_E_BACKEND);
    ck_assert_msg(strstr(alchdb_last_error_message(), "refused"), "the trial: %s", alchdb_last_error_message());
    ck_assert(stats_has(b, "\"breaker\":\"open\""));
    ck_assert_int_eq(backend_stat(b, "breaker_opens"), 2);
    all_ops_refused(b, 50 * MS);
    b->ops->destroy(b);
    close(fd);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* A listener whose accept queue is full: the kernel drops further SYNs, so
 * a connect hangs until its timeout. */
static int full_listener(int *lfd, int plug[2])
{
    int port = closed_port(lfd);
    ck_assert_int_eq(listen(*lfd, 0), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    for (int i = 0; i < 2; i++) {
        plug[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        ck_assert_int_ge(plug[i], 0);
        connect(plug[i], (struct sockaddr *)&a, sizeof a); /* in progress or done: either fills it */
    }
    sleep_ms(50);
    return port;
}

START_TEST(test_connect_timeout)
{
    long base = alchdb__alloc_outstanding();
    int lfd, plug[2];
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.redis_port = full_listener(&lfd, plug);
    cfg.connect_timeout_us = 100 * MS;
    cfg.command_timeout_us = 100 * MS;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[1] = {K("v:n")};
    alchdb__cache_ver cur[1];
    unsigned char *e;
    size_t len;
    for (int i = 0; i < 2; i++) {
        int64_t t0 = now_us();
        ck_assert_int_eq(fetch(b, K("e"), 1, vk, cur, &e, &len), ALCHDB_E_TIMEOUT);
        int64_t took = now_us() - t0;
        ck_assert_msg(took >= 80 * MS && took < 1000 * MS, "connect gave up after %lld us", (long long)took);
    }
    ck_assert_int_eq(backend_stat(b, "timeouts"), 2);
    b->ops->destroy(b);
    close(plug[0]);
    close(plug[1]);
    close(lfd);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

typedef struct timed_fetch {
    alchdb__cache_backend *b;
    const char *ek;
    const char *const *vk;
    int rc;
    int64_t took_us;
} timed_fetch;

static void *timed_fetch_thread(void *arg)
{
    timed_fetch *t = arg;
    alchdb__cache_ver cur[2];
    unsigned char *e = NULL;
    size_t len;
    int64_t t0 = now_us();
    t->rc = t->b->ops->fetch(t->b, t->ek, 2, t->vk, cur, &e, &len);
    t->took_us = now_us() - t0;
    alchdb__free(e);
    return NULL;
}

/* Redis stopped (SIGSTOP): every operation fails within the command timeout
 * (also callers waiting for one of the pool's two contexts); after SIGCONT
 * the epoch is re-set before the first fetch is answered. */
START_TEST(test_pause_resume)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.connect_timeout_us = 100 * MS;
    cfg.command_timeout_us = 100 * MS;
    cfg.breaker_open_us = 200 * MS;
    cfg.pool_size = 2;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[2] = {K("v:n"), K("v:t:a")};
    alchdb__cache_ver init[2] = {fresh(), fresh()}, cur[2];
    unsigned char *e;
    size_t len;
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);
    ck_assert_int_eq(fill_str(b, K("e:1"), 2, vk, cur, "v1"), 1);

    redistest_ctl("pause");
    for (int i = 0; i < 3; i++) {
        int64_t t0 = now_us();
        int rv = fetch(b, K("e:1"), 2, vk, cur, &e, &len);
        int64_t took = now_us() - t0;
        ck_assert_int_lt(rv, 0);
        ck_assert_ptr_null(e);
        ck_assert_msg(took < 1000 * MS, "fetch against a paused redis took %lld us", (long long)took);
    }
    int64_t t0 = now_us();
    ck_assert_int_lt(fill_str(b, K("e:1"), 2, vk, init, "v2"), 0);
    ck_assert_int_lt(b->ops->lease(b, K("l"), "t", 1000), 0);
    ck_assert_int_lt(now_us() - t0, 2000 * MS);
    ck_assert_int_ge(backend_stat(b, "timeouts"), 1);
    ck_assert(stats_has(b, "\"breaker\":\"open\""));

    /* four callers, two contexts, no breaker in the way: two wait for a
     * context, and still give up in time */
    cfg.breaker_failures = 100;
    alchdb__cache_backend *b2 = mk(&cfg);
    timed_fetch tf[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        tf[i] = (timed_fetch){.b = b2, .ek = K("e:1"), .vk = vk};
        ck_assert_int_eq(pthread_create(&th[i], NULL, timed_fetch_thread, &tf[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_lt(tf[i].rc, 0);
        ck_assert_msg(tf[i].took_us < 1000 * MS, "thread %d: %lld us", i, (long long)tf[i].took_us);
    }
    ck_assert_int_eq(backend_stat(b2, "timeouts"), 4);
    ck_assert(stats_has(b2, "\"connections\":0"));
    b2->ops->destroy(b2);

    redistest_ctl("resume");
    fetch_until_ok(b, K("e:1"), 2, vk, cur, &e, &len, 10);
    ck_assert_str_ne(cur[0].v, "");
    ck_assert_str_ne(cur[0].v, init[0].v); /* the epoch was bumped first */
    ck_assert_str_eq(cur[1].v, init[1].v);
    alchdb__free(e);
    redisContext *rc = raw();
    char epoch[64];
    raw_get(rc, vk[0], epoch, sizeof epoch);
    ck_assert_str_eq(epoch, cur[0].v);
    redisFree(rc);
    ck_assert_int_ge(backend_stat(b, "epoch_bumps"), 1);
    ck_assert_int_ge(backend_stat(b, "reconnects"), 1);
    ck_assert(stats_has(b, "\"breaker\":\"closed\""));
    ck_assert(stats_has(b, "\"dirty\":false"));
    /* and it works normally again */
    ck_assert_int_eq(fill_str(b, K("e:1"), 2, vk, cur, "v3"), 1);
    ck_assert_int_eq(fetch(b, K("e:1"), 2, vk, cur, &e, &len), 0);
    ck_assert(entry_is(e, len, "v3", 2));
    alchdb__free(e);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

/* A bump that times out may or may not have been applied: after resume the
 * epoch is bumped before the first fetch is answered. */
START_TEST(test_bump_while_paused)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.command_timeout_us = 100 * MS;
    cfg.breaker_failures = 100;
    cfg.pool_size = 1;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[2] = {K("v:n"), K("v:t:a")};
    alchdb__cache_ver init[2] = {fresh(), fresh()}, cur[2];
    unsigned char *e;
    size_t len;
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);

    redistest_ctl("pause");
    alchdb__cache_ver nv = fresh();
    int64_t t0 = now_us();
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[1], &nv, NULL), ALCHDB_E_TIMEOUT);
    ck_assert_int_lt(now_us() - t0, 1000 * MS);
    ck_assert(stats_has(b, "\"dirty\":true"));
    redistest_ctl("resume");

    ck_assert_int_eq(fetch_until_ok(b, K("e:1"), 2, vk, cur, &e, &len, 10), 0);
    alchdb__free(e);
    ck_assert_str_ne(cur[0].v, "");
    ck_assert_str_ne(cur[0].v, init[0].v);
    ck_assert(stats_has(b, "\"dirty\":false"));
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

/* Redis restarted without persistence: everything is gone, the connections
 * are dead; the first fetch answered must come after the epoch was re-set. */
START_TEST(test_restart)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.command_timeout_us = 200 * MS;
    cfg.breaker_open_us = 100 * MS;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[2] = {K("v:n"), K("v:t:a")};
    alchdb__cache_ver init[2] = {fresh(), fresh()}, cur[2];
    unsigned char *e;
    size_t len;
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);
    ck_assert_int_eq(fill_str(b, K("e:1"), 2, vk, cur, "v1"), 1);

    redistest_ctl("restart");
    fetch_until_ok(b, K("e:1"), 2, vk, cur, &e, &len, 10);
    ck_assert_ptr_null(e);                 /* nothing survived */
    ck_assert_str_ne(cur[0].v, "");        /* but the epoch was re-set first */
    ck_assert_str_ne(cur[0].v, init[0].v);
    ck_assert_str_eq(cur[1].v, "");
    ck_assert_int_ge(backend_stat(b, "epoch_bumps"), 1);
    ck_assert(stats_has(b, "\"dirty\":false"));
    alchdb__cache_ver init2[2] = {fresh(), fresh()};
    ck_assert_int_eq(b->ops->init(b, 2, vk, init2, NULL, cur), 0);
    ck_assert_str_ne(cur[0].v, init2[0].v); /* the epoch exists: init keeps it */
    ck_assert_str_eq(cur[1].v, init2[1].v);
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

/* Redis gone while a large write is in flight: the write hits a reset
 * connection (EPIPE). The process must not die of SIGPIPE. */
START_TEST(test_sigpipe)
{
    long base = alchdb__alloc_outstanding();
    signal(SIGPIPE, SIG_DFL);
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.breaker_failures = 100;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[1] = {K("v:n")};
    alchdb__cache_ver init[1] = {fresh()}, cur[1];
    ck_assert_int_eq(b->ops->init(b, 1, vk, init, NULL, cur), 0);
    redistest_ctl("stop");
    size_t n = 16u << 20;
    unsigned char *big = malloc(n);
    ck_assert_ptr_nonnull(big);
    memset(big, 'p', n);
    for (int i = 0; i < 3; i++)
        ck_assert_int_lt(fill_bytes(b, K("e:big"), 1, vk, cur, big, n, 1000), 0);
    free(big);
    sigset_t pending;
    sigpending(&pending);
    ck_assert(!sigismember(&pending, SIGPIPE));
    redistest_ctl("start");
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------------------- */

#define NTHREADS 4
#define NVKEYS 3

typedef struct worker {
    alchdb__cache_backend *b;
    const char *ek;
    const char *const *vk;
    unsigned seed;
    int64_t until_us;
    long ops, errors, stored, hits, ryw_violations;
    char first_error[256];
} worker;

static void worker_error(worker *w, const char *what, int rc)
{
    if (!w->errors++)
        snprintf(w->first_error, sizeof w->first_error, "%s: %d %s", what, rc, alchdb_last_error_message());
}

/* fetch / fill-with-what-was-read / bump a random version key; after its own
 * bump a thread must never read the old token again. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    const char *ek = w->ek;
    while (now_us() < w->until_us) {
        /* the entry is the raw tokens array: no uninitialised bytes after the NULs */
        alchdb__cache_ver cur[NVKEYS];
        memset(cur, 0, sizeof cur);
        unsigned char *e = NULL;
        size_t len;
        int rc = w->b->ops->fetch(w->b, ek, NVKEYS, w->vk, cur, &e, &len);
        w->ops++;
        if (rc < 0) {
            worker_error(w, "fetch", rc);
            continue;
        }
        if (e && len == sizeof cur && memcmp(e, cur, len) == 0)
            w->hits++;
        alchdb__free(e);
        rc = w->b->ops->fill(w->b, ek, NVKEYS, w->vk, cur, (const unsigned char *)cur, sizeof cur, 5000);
        w->ops++;
        if (rc < 0)
            worker_error(w, "fill", rc);
        w->stored += rc == 1;
        if (rand_r(&w->seed) % 4)
            continue;
        int k = 1 + (int)(rand_r(&w->seed) % (NVKEYS - 1));
        alchdb__cache_ver nv = fresh(), after[NVKEYS];
        rc = w->b->ops->bump(w->b, 1, &w->vk[k], &nv, NULL);
        w->ops++;
        if (rc < 0) {
            worker_error(w, "bump", rc);
            continue;
        }
        rc = w->b->ops->fetch(w->b, ek, NVKEYS, w->vk, after, &e, &len);
        w->ops++;
        if (rc < 0)
            worker_error(w, "fetch", rc);
        else if (strcmp(after[k].v, cur[k].v) == 0)
            w->ryw_violations++;
        alchdb__free(e);
    }
    return NULL;
}

START_TEST(test_threads)
{
    long base = alchdb__alloc_outstanding();
    alchdb__cache_backend_cfg cfg = cfg_default();
    cfg.pool_size = 2;
    cfg.command_timeout_us = 2000 * MS;
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[NVKEYS] = {K("v:n"), K("v:t:a"), K("v:t:b")};
    alchdb__cache_ver init[NVKEYS] = {fresh(), fresh(), fresh()}, cur[NVKEYS];
    ck_assert_int_eq(b->ops->init(b, NVKEYS, vk, init, NULL, cur), 0);
    worker w[NTHREADS];
    pthread_t th[NTHREADS];
    int64_t until = now_us() + 500 * MS;
    for (int i = 0; i < NTHREADS; i++) {
        w[i] = (worker){.b = b, .ek = K("e:shared"), .vk = vk, .seed = (unsigned)(i * 7919 + 1), .until_us = until};
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
    }
    long ops = 0, stored = 0, hits = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(w[i].errors == 0, "thread %d: %ld errors, first %s", i, w[i].errors, w[i].first_error);
        ck_assert_int_eq(w[i].ryw_violations, 0);
        ops += w[i].ops;
        stored += w[i].stored;
        hits += w[i].hits;
    }
    printf("threads: %ld ops in 0.5 s through 2 contexts, %ld fills stored, %ld hits\n", ops, stored, hits);
    ck_assert_int_gt(stored, 0);
    ck_assert_int_le(backend_stat(b, "connections"), 2);
    ck_assert(stats_has(b, "\"errors\":0,\"timeouts\":0"));
    b->ops->destroy(b);
    ck_assert_int_eq(alchdb__alloc_outstanding(), base);
    raw_cleanup();
}
END_TEST

/* ---- measure -------------------------------------------------------------------------- */

/* Printed, not asserted: the backend's fetch (MGET of a 1 KB entry and 3
 * version keys, pool and breaker included) against a bare GET of the value. */
START_TEST(test_measure_fetch)
{
    alchdb__cache_backend_cfg cfg = cfg_default();
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[3] = {K("v:n"), K("v:t:a"), K("v:r:a:1")};
    alchdb__cache_ver init[3] = {fresh(), fresh(), fresh()}, cur[3];
    ck_assert_int_eq(b->ops->init(b, 3, vk, init, NULL, cur), 0);
    unsigned char blob[1024];
    memset(blob, 'm', sizeof blob);
    const char *ek = K("e:m");
    ck_assert_int_eq(fill_bytes(b, ek, 3, vk, cur, blob, sizeof blob, 60000), 1);
    redisContext *rc = raw();
    const int64_t budget = 300 * MS;
    long n_fetch = 0, n_get = 0;
    int64_t t0 = now_us(), t;
    while ((t = now_us()) - t0 < budget) {
        for (int i = 0; i < 50; i++, n_fetch++) {
            unsigned char *e;
            size_t len;
            ck_assert_int_eq(fetch(b, ek, 3, vk, cur, &e, &len), 0);
            ck_assert_uint_eq(len, sizeof blob);
            alchdb__free(e);
        }
    }
    double us_fetch = (double)(t - t0) / (double)n_fetch;
    t0 = now_us();
    while ((t = now_us()) - t0 < budget) {
        for (int i = 0; i < 50; i++, n_get++) {
            redisReply *r = rawcmd(rc, "GET %s", ek);
            ck_assert_uint_eq(r->len, sizeof blob);
            freeReplyObject(r);
        }
    }
    double us_get = (double)(t - t0) / (double)n_get;
    printf("measure: backend fetch (MGET 1 KB entry + 3 version keys) %.1f us/op (%ld ops); "
           "raw redisCommand GET 1 KB %.1f us/op (%ld ops)\n", us_fetch, n_fetch, us_get, n_get);
    redisFree(rc);
    b->ops->destroy(b);
    raw_cleanup();
}
END_TEST

/* A test case of its own with the restoring teardown. */
static void add_disruptive(Suite *s, const char *name, const TTest *t)
{
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, server_save, server_restore);
    tcase_add_checked_fixture(tc, setup_prefix, NULL);
    tcase_add_test(tc, t);
    suite_add_tcase(s, tc);
}

static alchdb__cache_ver tok(const char *id, int64_t lsn)
{
    alchdb__cache_ver v;
    alchdb__cache_ver_make(&v, id, lsn);
    return v;
}

/* As the memory backend (test_memory.c), in the Lua script: a position never
 * moves backwards, and unknown stays unknown. */
START_TEST(test_positions_only_move_forward)
{
    alchdb__cache_backend_cfg cfg = cfg_default();
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk = K("v:t:pos");
    alchdb__cache_ver cur, prev, v = tok("00000000000000a1", 0x200);
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), -1); /* it was absent */
    alchdb__cache_ver known = tok("00000000000000b1", 0x100);
    ck_assert_int_eq(b->ops->cas(b, vk, &cur, &known, 0), 1);
    ck_assert_int_eq(backend_position(b, vk, &cur), 0x100);
    v = tok("00000000000000a2", 0x300);
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), 0x300);
    prev = cur;
    v = tok("00000000000000a3", 0x280); /* committed earlier, bumps last */
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), 0x300);
    ck_assert_str_ne(cur.v, prev.v);
    ck_assert_str_eq(cur.v, tok("00000000000000a3", 0x300).v);
    v = tok("00000000000000a4", -1);
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), -1);
    v = tok("00000000000000a5", 0x900);
    ck_assert_int_eq(b->ops->bump(b, 1, &vk, &v, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk, &cur), -1);
    b->ops->destroy(b);
    raw_cleanup();
}
END_TEST

/* Marks: a marked key is pending (nothing is served or filled against it)
 * until the bump of every live mark; a mark's end is its own writer's bump
 * (by id) or its expiry, after which a key whose bump never came is absent. */
START_TEST(test_marks)
{
    alchdb__cache_backend_cfg cfg = cfg_default();
    alchdb__cache_backend *b = mk(&cfg);
    redisContext *rc = raw();
    const char *vk[2] = {K("v:t:m"), K("v:r:m:1")};
    alchdb__cache_ver cur[2], init[2] = {tok("00000000000000c1", 0x40), tok("00000000000000c2", 0x40)};
    ck_assert_int_eq(b->ops->init(b, 2, vk, init, NULL, cur), 0);
    ck_assert_int_eq(fill_str(b, K("e:m"), 2, vk, cur, "old"), 1);

    /* two writers mark the same keys */
    ck_assert_int_eq(b->ops->mark(b, 2, vk, "00000000000000a1", 60000), 2);
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "00000000000000a2", 60000), 1);
    unsigned char *e;
    size_t len;
    ck_assert_int_eq(fetch(b, K("e:m"), 2, vk, cur, &e, &len), 0);
    alchdb__free(e);
    for (int i = 0; i < 2; i++) {
        int64_t lsn;
        ck_assert_int_eq(alchdb__cache_ver_state(&cur[i], &lsn), ALCHDB__VER_PENDING);
        ck_assert_int_eq(lsn, 0x40); /* the position is kept */
    }
    ck_assert_int_eq(fill_str(b, K("e:m"), 2, vk, init, "stale"), 0);
    long long pttl = raw_int(rc, "PTTL %s", vk[0]);
    ck_assert(pttl > 0 && pttl <= 60000); /* a pending key expires with its marks */
    ck_assert_int_eq(raw_int(rc, "ZCARD %s", K("w:t:m")), 2);

    /* the first writer's bump: the other's mark still stands on vk[0] */
    alchdb__cache_ver done[2] = {tok("00000000000000a1", 0x50), tok("00000000000000a1", 0x50)};
    ck_assert_int_eq(b->ops->bump(b, 2, vk, done, NULL), 0);
    ck_assert_int_eq(fetch(b, K("e:m"), 2, vk, cur, &e, &len), 0);
    alchdb__free(e);
    ck_assert_int_eq(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_PENDING);
    ck_assert_str_eq(cur[1].v, done[1].v);
    ck_assert_int_eq(raw_int(rc, "PTTL %s", vk[1]), -1);
    /* the second one's: done, at the later position, no expiry left */
    alchdb__cache_ver done2 = tok("00000000000000a2", 0x48);
    ck_assert_int_eq(b->ops->bump(b, 1, vk, &done2, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk[0], &cur[0]), 0x50);
    ck_assert_int_eq(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_KNOWN);
    ck_assert_int_eq(raw_int(rc, "PTTL %s", vk[0]), -1);
    ck_assert_int_eq(raw_int(rc, "EXISTS %s", K("w:t:m")), 0);

    /* a writer that never bumps: its mark expires, and so does the key */
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "00000000000000a3", 150), 1);
    usleep(300000);
    ck_assert_int_eq(backend_position(b, vk[0], &cur[0]), -1);
    ck_assert_int_eq(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_ABSENT);
    /* its bump arriving late is harmless: the key becomes current at an unknown position */
    alchdb__cache_ver late = tok("00000000000000a3", 0x60);
    ck_assert_int_eq(b->ops->bump(b, 1, vk, &late, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk[0], &cur[0]), -1);
    ck_assert_int_eq(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_UNKNOWN);

    /* An expired mark of another writer does not keep the key pending, but
     * that writer may have committed anywhere: the position becomes unknown
     * (found by the model, tests/model: "dies-beside-another"). */
    alchdb__cache_ver at90 = tok("00000000000000b2", 0x90);
    ck_assert_int_eq(b->ops->cas(b, vk[0], &cur[0], &at90, 0), 1);
    ck_assert_int_eq(backend_position(b, vk[0], &cur[0]), 0x90);
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "00000000000000a4", 100), 1);
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "00000000000000a5", 60000), 1);
    usleep(200000);
    alchdb__cache_ver done5 = tok("00000000000000a5", 0xa0);
    ck_assert_int_eq(b->ops->bump(b, 1, vk, &done5, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk[0], &cur[0]), -1);
    ck_assert_int_eq(alchdb__cache_ver_state(&cur[0], NULL), ALCHDB__VER_UNKNOWN);
    /* likewise when a new mark finds it */
    ck_assert_int_eq(b->ops->cas(b, vk[0], &cur[0], &at90, 0), 1);
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "00000000000000a6", 100), 1);
    usleep(200000);
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "00000000000000a7", 60000), 1);
    alchdb__cache_ver done7 = tok("00000000000000a7", 0xa0);
    ck_assert_int_eq(b->ops->bump(b, 1, vk, &done7, NULL), 0);
    ck_assert_int_eq(backend_position(b, vk[0], &cur[0]), -1);
    ck_assert(stats_has(b, "\"write_marks\":7"));

    /* bad arguments */
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "short", 100), ALCHDB_E_INVALID);
    ck_assert_int_eq(b->ops->mark(b, 1, vk, "00000000000000a8", 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(b->ops->mark(b, 1, NULL, "00000000000000a8", 10), ALCHDB_E_INVALID);
    ck_assert_int_eq(b->ops->mark(b, 0, NULL, "00000000000000a8", 10), 0);
    redisFree(rc);
    b->ops->destroy(b);
    raw_cleanup();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache-redis");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup_prefix, NULL);
    tcase_add_test(tc, test_constructor_arguments);
    tcase_add_test(tc, test_fetch_init_fill_bump);
    tcase_add_test(tc, test_lease);
    tcase_add_test(tc, test_foreign_and_wrong_type);
    tcase_add_test(tc, test_auth_failure_hides_password);
    tcase_add_test(tc, test_select_db);
    tcase_add_test(tc, test_breaker);
    tcase_add_test(tc, test_connect_timeout);
    tcase_add_test(tc, test_threads);
    tcase_add_test(tc, test_measure_fetch);
    tcase_add_test(tc, test_positions_only_move_forward);
    tcase_add_test(tc, test_marks);
    suite_add_tcase(s, tc);
    add_disruptive(s, "oom", test_oom);
    add_disruptive(s, "pause", test_pause_resume);
    add_disruptive(s, "bump-paused", test_bump_while_paused);
    add_disruptive(s, "restart", test_restart);
    add_disruptive(s, "sigpipe", test_sigpipe);
    return run_suite(s);
}
