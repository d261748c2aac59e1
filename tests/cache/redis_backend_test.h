/* Helpers shared by the suites of the Redis backend (test_redis.c on the
 * rig's Redis, test_sentinel.c behind a Sentinel group): one test's key
 * names, the backend configuration both start from, making a backend,
 * fetching until the backend is back, and a port that refuses connections. */
#ifndef ALCHDB_CACHE_REDIS_BACKEND_TEST_H
#define ALCHDB_CACHE_REDIS_BACKEND_TEST_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backend_test.h"
#include "testutil.h"

#define MS INT64_C(1000)

static char P[96]; /* this test's key prefix */
static char key_names[512][160];
static int key_next;

/* A unique key prefix per test (pid and clock: also unique with
 * CK_FORK=no); tag tells the suites' keys apart. */
static inline void keys_reset(const char *tag)
{
    snprintf(P, sizeof P, "%s:%ld:%lld", tag, (long)getpid(), (long long)alchdb__now_ns());
    key_next = 0;
}

/* "<P>:<suffix>": key names for one test, valid until the next test
 * (main thread only; threads get their keys passed in). */
static inline const char *K(const char *suffix)
{
    ck_assert_int_lt(key_next, 512);
    char *k = key_names[key_next++];
    snprintf(k, sizeof key_names[0], "%s:%s", P, suffix);
    return k;
}

/* What every backend of these suites starts from: this test's epoch key,
 * 1 s timeouts, a breaker that opens for 1 s after 3 failures, 4
 * connections. The caller says where Redis is (a host and port, or the
 * sentinels). */
static inline alchdb__cache_backend_cfg backend_cfg_base(void)
{
    alchdb__cache_backend_cfg cfg = {
        .epoch_key = K("v:n"),
        .connect_timeout_us = 1000 * MS,
        .command_timeout_us = 1000 * MS,
        .breaker_failures = 3,
        .breaker_open_us = 1000 * MS,
        .pool_size = 4,
    };
    return cfg;
}

static inline alchdb__cache_backend *mk(const alchdb__cache_backend_cfg *cfg)
{
    alchdb__cache_backend *b = NULL;
    ck_assert_msg(alchdb__cache_redis_new(cfg, &b) == 0, "%s", alchdb_last_error_message());
    ck_assert_ptr_nonnull(b);
    ck_assert_str_eq(b->ops->name, "redis");
    return b;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

static inline int64_t now_us(void) { return alchdb__now_ns() / 1000; }

/* Fetch; returns rc, entry (owned) in *e. */
static inline int fetch(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vk,
                        alchdb__cache_ver *cur, unsigned char **e, size_t *len)
{
    *e = NULL;
    *len = 77;
    return b->ops->fetch(b, key, n, vk, cur, e, len);
}

/* Retry a fetch until it succeeds (the breaker may be open a while, a
 * failover under way), failing the test after `seconds` (times the run's
 * slowdown); returns how many attempts failed first. */
static inline int fetch_until_ok(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vk,
                                 alchdb__cache_ver *cur, unsigned char **e, size_t *len, int seconds)
{
    int64_t give_up = now_us() + (int64_t)seconds * test_slowdown() * 1000 * MS;
    int failed = 0;
    while (fetch(b, key, n, vk, cur, e, len) < 0) {
        ck_assert_msg(now_us() < give_up, "fetch still failing after %d s: %s", seconds * test_slowdown(),
                      alchdb_last_error_message());
        failed++;
        sleep_ms(20);
    }
    return failed;
}

/* A port where nothing listens (bound, never listening: connect is refused
 * for as long as *fd stays open; close it when done). */
static inline int closed_port(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(*fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    ck_assert_int_eq(getsockname(*fd, (struct sockaddr *)&a, &al), 0);
    return ntohs(a.sin_port);
}

#endif
