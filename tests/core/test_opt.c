/* The option engine of lib/core/opt.c, through a spec of every type: the one
 * rule for names, unknown options, units, ranges and the environment.
 * White-box on purpose: a made-up table exercises every type and flag
 * (secrets, checks, enums) whether or not a module uses it today; the public
 * side of every real module is tests/core/test_config_shape.c. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "opt.h"
#include "failalloc.h"
#include "testutil.h"

enum { K_COUNT = 1, K_DUR = 2, K_SIZE = 3, K_FLAG = 4, K_MODE = 5, K_NAME = 6, K_CI = 7, K_PASS = 9 };

static const char *const MODES[] = {"rollback", "discard_all", NULL};

static int check_name(const char *v, char *why, size_t cap)
{
    if (strlen(v) > 8) {
        snprintf(why, cap, "at most 8 characters");
        return -1;
    }
    return 0;
}

static const alchdb__optdef DEFS[] = {
    {K_COUNT, "max_things", ALCHDB_OPT_INT, 1, 1000, 100, NULL, NULL, NULL, 0, "how many"},
    {K_DUR, "some_timeout", ALCHDB_OPT_DURATION, 1000, 7200000000LL, 5000000, NULL, NULL, NULL, 0,
     "how long"},
    {K_SIZE, "max_bytes", ALCHDB_OPT_SIZE, 64, INT64_C(1) << 40, 65536, NULL, NULL, NULL, 0, "bytes"},
    {K_FLAG, "enabled", ALCHDB_OPT_BOOL, 0, 1, 1, NULL, NULL, NULL, 0, "on or off"},
    {K_MODE, "reset_policy", ALCHDB_OPT_ENUM, 0, 1, 0, NULL, MODES, NULL, 0, "how to reset"},
    {K_NAME, "name", ALCHDB_OPT_STRING, 0, 0, 0, "dflt", NULL, check_name, 0, "a label"},
    {K_PASS, "password", ALCHDB_OPT_STRING, 0, 0, 0, NULL, NULL, NULL, ALCHDB__OPT_SECRET, "secret"},
    {K_CI, "conninfo", ALCHDB_OPT_STRING, 0, 0, 0, NULL, NULL, NULL, ALCHDB__OPT_CONNINFO, "a conninfo"},
};
static const alchdb__optspec SPEC = {"demo", DEFS, sizeof DEFS / sizeof DEFS[0]};

START_TEST(test_defaults_and_typed_access)
{
    alchdb__opts o;
    ck_assert_int_eq(alchdb__opts_init(&o, &SPEC), 0);
    ck_assert_uint_eq(o.nslots, 10);
    ck_assert_int_eq(o.v[K_COUNT], 100);
    ck_assert_int_eq(alchdb__opts_i(&o, K_DUR), 5000000);
    ck_assert_str_eq(alchdb__opts_s(&o, K_NAME), "dflt");
    ck_assert_ptr_null(alchdb__opts_s(&o, K_PASS));
    ck_assert_int_eq(alchdb__opts_i(&o, 77), 0);

    ck_assert_int_eq(alchdb__opts_set_int64(&o, K_COUNT, 7, "f"), 0);
    int64_t v = 0;
    ck_assert_int_eq(alchdb__opts_get_int64(&o, K_COUNT, &v, "f"), 0);
    ck_assert_int_eq(v, 7);
    /* Out of range: INVALID, names the option, value unchanged. */
    ck_assert_int_eq(alchdb__opts_set_int64(&o, K_COUNT, 0, "f"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_things"));
    ck_assert_int_eq(o.v[K_COUNT], 7);
    ck_assert_int_eq(alchdb__opts_set_int64(&o, K_DUR, 999, "f"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "999us"));
    /* Unknown key: NOTFOUND; wrong type: INVALID. */
    ck_assert_int_eq(alchdb__opts_set_int64(&o, 8, 1, "f"), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb__opts_get_int64(&o, -1, &v, "f"), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb__opts_set_int64(&o, K_NAME, 1, "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_COUNT, "1", "f"), ALCHDB_E_INVALID);
    const char *s = NULL;
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_COUNT, &s, "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_get_int64(&o, K_COUNT, NULL, "f"), ALCHDB_E_INVALID);
    /* Strings: the check runs, NULL restores the default, secrets read back masked. */
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_NAME, "toolongname", "f"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "at most 8"));
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_NAME, "ok", "f"), 0);
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_NAME, &s, "f"), 0);
    ck_assert_str_eq(s, "ok");
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_NAME, NULL, "f"), 0);
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_NAME, &s, "f"), 0);
    ck_assert_str_eq(s, "dflt");
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_PASS, NULL, "f"), 0); /* no default: unset */
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_PASS, &s, "f"), 0);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_PASS, "hunter2", "f"), 0);
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_PASS, &s, "f"), 0);
    ck_assert_str_eq(s, "***");
    ck_assert_str_eq(alchdb__opts_s(&o, K_PASS), "hunter2");

    alchdb__opts c;
    ck_assert_int_eq(alchdb__opts_copy(&c, &o), 0);
    alchdb__opts_free(&o);
    ck_assert_int_eq(c.v[K_COUNT], 7);
    ck_assert_str_eq(alchdb__opts_s(&c, K_PASS), "hunter2");
    alchdb__opts_free(&c);
    alchdb__opts_free(&c); /* idempotent */
}
END_TEST

/* The allocator of this suite: failalloc's failures and counts, and a free
 * that counts blocks still holding WATCH (a password freed without being
 * wiped). To search a whole block the free needs its size and every byte of
 * it defined (memcheck flags reading bytes nobody wrote): each block carries
 * its size in a header and is filled with 0xA5 when handed out. The engine's
 * own reads of unwritten memory stay checked by the suites that run it with
 * the default allocator (core-config-shape and every module's suite). */
#define WATCH "Sntl7Kq9Xw"
#define HDR 16 /* keeps malloc's alignment */
static atomic_long watch_hits;

static void *watch_malloc(void *ud, size_t n)
{
    (void)ud;
    if (failalloc_fails(n))
        return NULL;
    unsigned char *b = malloc(n + HDR);
    if (!b)
        return NULL;
    atomic_fetch_add(&failalloc_live, 1);
    memcpy(b, &n, sizeof n);
    memset(b + HDR, 0xA5, n);
    return b + HDR;
}

static void *watch_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    if (failalloc_fails(n))
        return NULL;
    size_t old;
    memcpy(&old, (unsigned char *)p - HDR, sizeof old);
    unsigned char *b = realloc((unsigned char *)p - HDR, n + HDR);
    if (!b)
        return NULL;
    memcpy(b, &n, sizeof n);
    if (n > old)
        memset(b + HDR + old, 0xA5, n - old);
    return b + HDR;
}

static void watch_free(void *ud, void *p)
{
    (void)ud;
    size_t n;
    memcpy(&n, (unsigned char *)p - HDR, sizeof n);
    if (memmem(p, n, WATCH, strlen(WATCH)))
        atomic_fetch_add(&watch_hits, 1);
    atomic_fetch_sub(&failalloc_live, 1);
    free((unsigned char *)p - HDR);
}

static const alchdb_allocator watchalloc = {ALCHDB_ALLOCATOR_VERSION, NULL, watch_malloc, watch_realloc,
                                            watch_free};

/* A conninfo option reads back with its password as "***" (also in a copy),
 * the library reads the value as set, and no freed block keeps the password:
 * not when the value is replaced, not when the set is freed. */
START_TEST(test_conninfo_redacted_and_wiped)
{
    alchdb__opts o, c;
    ck_assert_int_eq(alchdb__opts_init(&o, &SPEC), 0);
    const char *s = "x";
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_CI, &s, "f"), 0);
    ck_assert_ptr_null(s);
    atomic_store(&watch_hits, 0);
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_CI, "host=db.example port=5432 password=" WATCH, "f"), 0);
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_CI, &s, "f"), 0);
    ck_assert_str_eq(s, "host=db.example port=5432 password=***");
    ck_assert_str_eq(alchdb__opts_s(&o, K_CI), "host=db.example port=5432 password=" WATCH);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "CONNINFO", "postgresql://u:" WATCH "@db.example/x", "f"), 0);
    ck_assert_int_eq(alchdb__opts_get_string(&o, K_CI, &s, "f"), 0);
    ck_assert_ptr_null(strstr(s, WATCH));
    ck_assert_ptr_nonnull(strstr(s, "db.example"));
    ck_assert_int_eq(alchdb__opts_set_string(&o, K_PASS, WATCH, "f"), 0);
    ck_assert_int_eq(alchdb__opts_copy(&c, &o), 0);
    ck_assert_int_eq(alchdb__opts_get_string(&c, K_CI, &s, "f"), 0);
    ck_assert_ptr_null(strstr(s, WATCH));
    ck_assert_ptr_nonnull(strstr(s, "db.example"));
    ck_assert_str_eq(alchdb__opts_s(&c, K_CI), "postgresql://u:" WATCH "@db.example/x");
    ck_assert_int_eq(alchdb__opts_set_string(&c, K_CI, NULL, "f"), 0); /* no default: unset */
    ck_assert_int_eq(alchdb__opts_get_string(&c, K_CI, &s, "f"), 0);
    ck_assert_ptr_null(s);
    alchdb__opts_free(&c);
    alchdb__opts_free(&o);
    ck_assert_int_eq(atomic_load(&watch_hits), 0);
    /* the watch sees an unwiped block */
    char *plain = alchdb__strdup("password=" WATCH);
    ck_assert_ptr_nonnull(plain);
    alchdb__free(plain);
    ck_assert_int_eq(atomic_load(&watch_hits), 1);
}
END_TEST

/* The modules that keep a conninfo or a password of their own (the pool, the
 * router's hosts, the Redis backend) wipe them too: nothing they free holds
 * the password. Nothing connects (nothing listens on port 1; the router is
 * never started). */
START_TEST(test_modules_wipe_passwords)
{
    atomic_store(&watch_hits, 0);
    alchdb_pool *p = NULL;
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 port=1 dbname=x password=" WATCH, NULL, &p), 0);
    alchdb_pool_free(p);
    ck_assert_int_eq(atomic_load(&watch_hits), 0);
    alchdb_router *r = NULL;
    ck_assert_int_eq(alchdb_router_new("postgresql://u:" WATCH "@127.0.0.1:1/x", NULL, NULL, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, "host=127.0.0.1 port=1 password=" WATCH, 1), 0);
    alchdb_router_free(r);
    ck_assert_int_eq(atomic_load(&watch_hits), 0);
    alchdb_cache_config *cc = NULL;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    ck_assert_int_eq(alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_BACKEND, "redis"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_REDIS_PASSWORD, WATCH), 0);
    ck_assert_int_eq(alchdb_cache_config_set_int64(cc, ALCHDB_CACHE_OPT_REDIS_PORT, 1), 0);
    alchdb_cache *c = NULL;
    int rc = alchdb_cache_new(cc, &c);
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_CONNECT, "%d %s", rc, alchdb_last_error_message());
    alchdb_cache_free(c);
    alchdb_cache_config_free(cc);
    ck_assert_int_eq(atomic_load(&watch_hits), 0);
    /* the dashboard listener's bearer token (127.0.0.1, a free port) */
    char path[] = "/tmp/alchdb-watch-token-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, WATCH "-bearer-token\n", strlen(WATCH "-bearer-token\n")),
                     (ssize_t)strlen(WATCH "-bearer-token\n"));
    close(fd);
    alchdb_dashboard *d = NULL;
    ck_assert_int_eq(alchdb_dashboard_new(NULL, &d), 0);
    alchdb_dashboard_listener *l = NULL;
    rc = alchdb_dashboard_listen(d, NULL, path, &l);
    unlink(path);
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_UNSUPPORTED, "%s", alchdb_last_error_message());
    alchdb_dashboard_listener_stop(l);
    alchdb_dashboard_free(d);
    ck_assert_int_eq(atomic_load(&watch_hits), 0);
}
END_TEST

START_TEST(test_by_name_every_type)
{
    alchdb__opts o;
    ck_assert_int_eq(alchdb__opts_init(&o, &SPEC), 0);
    /* Names are case-insensitive; unknown names are NOTFOUND. */
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "MAX_Things", " 12 ", "f"), 0);
    ck_assert_int_eq(o.v[K_COUNT], 12);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_thing", "1", "f"), ALCHDB_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_thing"));
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_things", "12x", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_things", "", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_things", "99999999999999999999", "f"),
                     ALCHDB_E_INVALID);
    /* Durations need a unit. */
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "1h30m", "f"), 0);
    ck_assert_int_eq(o.v[K_DUR], INT64_C(5400000000));
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "250ms", "f"), 0);
    ck_assert_int_eq(o.v[K_DUR], 250000);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "1.5s", "f"), 0);
    ck_assert_int_eq(o.v[K_DUR], 1500000);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "250", "f"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "unit"));
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "-5s", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "5 s", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "2h", "f"), 0);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "some_timeout", "2h1s", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(o.v[K_DUR], INT64_C(7200000000));
    /* Sizes. */
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_bytes", "64KiB", "f"), 0);
    ck_assert_int_eq(o.v[K_SIZE], 65536);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_bytes", "2m", "f"), 0);
    ck_assert_int_eq(o.v[K_SIZE], 2 * 1048576);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_bytes", "100", "f"), 0);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_bytes", "1PB", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "max_bytes", "2TiB", "f"), ALCHDB_E_INVALID);
    /* Booleans and enums. */
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "enabled", "Off", "f"), 0);
    ck_assert_int_eq(o.v[K_FLAG], 0);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "enabled", "yes", "f"), 0);
    ck_assert_int_eq(o.v[K_FLAG], 1);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "enabled", "2", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "reset_policy", "DISCARD_ALL", "f"), 0);
    ck_assert_int_eq(o.v[K_MODE], 1);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "reset_policy", "0", "f"), 0);
    ck_assert_int_eq(o.v[K_MODE], 0);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "reset_policy", "nuke", "f"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "rollback, discard_all"));
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "reset_policy", "7", "f"), ALCHDB_E_INVALID);
    /* Strings by name. */
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "name", "abc", "f"), 0);
    ck_assert_str_eq(o.s[K_NAME], "abc");
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, NULL, "abc", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_set_from_string(&o, "name", NULL, "f"), ALCHDB_E_INVALID);
    alchdb__opts_free(&o);
}
END_TEST

START_TEST(test_from_env)
{
    alchdb__opts o;
    ck_assert_int_eq(alchdb__opts_init(&o, &SPEC), 0);
    setenv("ALCHT_MAX_THINGS", "33", 1);
    setenv("ALCHT_SOME_TIMEOUT", "2s", 1);
    setenv("ALCHT_NAME", "", 1); /* empty: ignored */
    ck_assert_int_eq(alchdb__opts_from_env(&o, "ALCHT", "f"), 0);
    ck_assert_int_eq(o.v[K_COUNT], 33);
    ck_assert_int_eq(o.v[K_DUR], 2000000);
    ck_assert_str_eq(o.s[K_NAME], "dflt");
    setenv("ALCHT_ENABLED", "maybe", 1);
    ck_assert_int_eq(alchdb__opts_from_env(&o, "ALCHT", "f"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "ALCHT_ENABLED"));
    unsetenv("ALCHT_ENABLED");
    ck_assert_int_eq(alchdb__opts_from_env(&o, "", "f"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__opts_from_env(&o, NULL, "f"), ALCHDB_E_INVALID);
    alchdb__opts_free(&o);
}
END_TEST

START_TEST(test_duration_syntax)
{
    int64_t us = -1;
    ck_assert_int_eq(alchdb_parse_duration("0", &us), 0);
    ck_assert_int_eq(us, 0);
    ck_assert_int_eq(alchdb_parse_duration("100us", &us), 0);
    ck_assert_int_eq(us, 100);
    ck_assert_int_eq(alchdb_parse_duration("30m", &us), 0);
    ck_assert_int_eq(us, INT64_C(1800000000));
    ck_assert_int_eq(alchdb_parse_duration("1500ns", &us), 0);
    ck_assert_int_eq(us, 1);
    ck_assert_int_eq(alchdb_parse_duration("9999999999999h", &us), ALCHDB_E_RANGE);
    ck_assert_int_eq(alchdb_parse_duration("", &us), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_parse_duration(".s", &us), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_parse_duration("5 parsecs", &us), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_parse_duration(NULL, &us), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_parse_duration("1s", NULL), ALCHDB_E_INVALID);
    static const struct {
        const char *text;
        int64_t us;
    } good[] = {{"30m", INT64_C(1800000000)}, {"50ms", 50000},       {"2s", 2000000},
                {"250us", 250},               {"250\xc2\xb5s", 250}, {"1h0m0.5s", INT64_C(3600500000)},
                {"+2s", 2000000},             {".5s", 500000},       {" 5s ", 5000000}};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        us = -1;
        ck_assert_msg(alchdb_parse_duration(good[i].text, &us) == 0, "'%s' rejected: %s", good[i].text,
                      alchdb_last_error_message());
        ck_assert_int_eq(us, good[i].us);
    }
    /* One syntax everywhere: a bare number has no unit, so it is refused
     * rather than guessed (milliseconds here, seconds there). */
    const char *bad[] = {"100", "abc", "5x", "-1s", "1h30", "1.5", "s", "10 s", "1..5s", "5S", "5 parsecs"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        us = 777;
        int rc = alchdb_parse_duration(bad[i], &us);
        ck_assert_msg(rc == ALCHDB_E_INVALID, "'%s' accepted (rc %d)", bad[i], rc);
        ck_assert_int_eq(us, 777);
        ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "duration"));
    }
    ck_assert_int_eq(alchdb_parse_duration("99999999999999999999999s", &us), ALCHDB_E_RANGE);
    /* The integer part fits in int64 nanoseconds, the fraction does not. */
    ck_assert_int_eq(alchdb_parse_duration("9223372036.9s", &us), ALCHDB_E_RANGE);
    ck_assert_int_eq(alchdb_parse_duration("9223372036.5s", &us), 0);
    ck_assert_int_eq(us, INT64_C(9223372036500000));
    /* Formatting round-trips through the parser. */
    const int64_t samples[] = {0, 1, 999, 1000, 250000, 1500000, 60000000, 5400000000LL,
                               3600000001LL, 86400000000LL};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        char buf[48];
        alchdb__format_duration(samples[i], buf, sizeof buf);
        ck_assert_int_eq(alchdb_parse_duration(buf, &us), 0);
        ck_assert_msg(us == samples[i], "%lld formatted as %s parsed as %lld",
                      (long long)samples[i], buf, (long long)us);
    }
    char buf[48];
    alchdb__format_duration(250000, buf, sizeof buf);
    ck_assert_str_eq(buf, "250ms");
    alchdb__format_duration(5400000000LL, buf, sizeof buf);
    ck_assert_str_eq(buf, "1h30m");
}
END_TEST

START_TEST(test_listing_rejects_bad_calls)
{
    size_t n = 0;
    ck_assert_int_eq(alchdb_options_count("no-such-module", &n), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_options_count(NULL, &n), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_options_count("pool", NULL), ALCHDB_E_INVALID);
    alchdb_option_info info;
    ck_assert_int_eq(alchdb_options_info("no-such-module", 0, &info, sizeof info), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_options_info("x", 0, &info, 4), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_options_info("x", 0, NULL, sizeof info), ALCHDB_E_INVALID);
    char *json = NULL;
    ck_assert_int_eq(alchdb_options_to_json(NULL, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"modules\":["));
    alchdb_free(json);
    ck_assert_int_eq(alchdb_options_to_json("no-such-module", &json), ALCHDB_E_NOTFOUND);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(alchdb_options_to_json(NULL, NULL), ALCHDB_E_INVALID);
}
END_TEST

/* Every allocation of init, set and copy may fail: a clean NOMEM, no leak.
 * The sweep ends at the first run in which no call failed. */
START_TEST(test_allocation_failure)
{
    int fail_at = 1;
    for (;; fail_at++) {
        ck_assert_int_lt(fail_at, 1000);
        failalloc_arm(fail_at);
        long live0 = atomic_load(&failalloc_live);
        alchdb__opts o, c;
        int rc = alchdb__opts_init(&o, &SPEC);
        if (rc == 0) {
            int rs = alchdb__opts_set_string(&o, K_PASS, "pw", "f");
            ck_assert(rs == 0 || rs == ALCHDB_E_NOMEM);
            rs = alchdb__opts_set_string(&o, K_CI, "host=h password=pw", "f");
            ck_assert(rs == 0 || rs == ALCHDB_E_NOMEM);
            int rcp = alchdb__opts_copy(&c, &o);
            ck_assert(rcp == 0 || rcp == ALCHDB_E_NOMEM);
            if (rcp == 0)
                alchdb__opts_free(&c);
        } else {
            ck_assert_int_eq(rc, ALCHDB_E_NOMEM);
        }
        alchdb__opts_free(&o);
        long calls = atomic_load(&failalloc_calls);
        failalloc_arm(-1);
        ck_assert_int_eq(atomic_load(&failalloc_live), live0);
        if (calls < fail_at)
            break;
    }
    ck_assert_int_gt(fail_at, 10);
}
END_TEST

int main(void)
{
    if (alchdb_set_allocator(&watchalloc) != 0)
        return EXIT_FAILURE;
    Suite *s = suite_create("core-options");
    TCase *tc = tcase_create("options");
    tcase_add_test(tc, test_defaults_and_typed_access);
    tcase_add_test(tc, test_conninfo_redacted_and_wiped);
    tcase_add_test(tc, test_modules_wipe_passwords);
    tcase_add_test(tc, test_by_name_every_type);
    tcase_add_test(tc, test_from_env);
    tcase_add_test(tc, test_duration_syntax);
    tcase_add_test(tc, test_listing_rejects_bad_calls);
    tcase_add_test(tc, test_allocation_failure);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
