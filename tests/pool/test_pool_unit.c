/* Pool unit tests (no server): configuration, environment,
 * validation at creation, bad input, and the log-linear histogram.
 * White-box only for the histogram (lib/core/hist.h), an internal mechanism
 * with no public entry point of its own; the rest is the public API. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "internal.h"
#include "core/hist.h"
#include "testutil.h"

/* A conninfo that parses but is never connected to by these tests (pools are
 * lazy and min_idle defaults to 0). */
#define LAZY_CI "host=127.0.0.1 port=1 dbname=nowhere connect_timeout=2"

static int64_t get(alchdb_pool_config *cfg, int opt)
{
    int64_t v = -1;
    ck_assert_int_eq(alchdb_pool_config_get_int64(cfg, opt, &v), 0);
    return v;
}

START_TEST(test_config_defaults_and_setters)
{
    alchdb_pool_config *cfg = (alchdb_pool_config *)1;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_OPEN), 100);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_IDLE), 25);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_CONN_MAX_LIFETIME), INT64_C(1800000000));
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME), INT64_C(300000000));
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD), 50000);

    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, 7), 0);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_OPEN), 7);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, 0), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_open_conns"));
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, -5), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, -1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_CONN_MAX_LIFETIME, -1),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_RESET_POLICY, 2), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, 999, 1), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_NAME, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_OPEN), 7); /* failed sets change nothing */
    ck_assert_int_eq(alchdb_pool_config_set_int64(NULL, ALCHDB_POOL_OPT_MAX_OPEN, 1), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "cfg"));

    ck_assert_int_eq(alchdb_pool_config_set_string(cfg, ALCHDB_POOL_OPT_NAME, "primary"), 0);
    ck_assert_int_eq(alchdb_pool_config_set_string(cfg, ALCHDB_POOL_OPT_NAME, ""), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_string(cfg, ALCHDB_POOL_OPT_NAME, "a\nb"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_string(cfg, ALCHDB_POOL_OPT_MAX_OPEN, "x"), ALCHDB_E_INVALID);
    alchdb_pool_config_free(cfg);
    alchdb_pool_config_free(NULL);
    ck_assert_int_eq(alchdb_pool_config_new(NULL), ALCHDB_E_INVALID);
}
END_TEST

START_TEST(test_config_by_name)
{
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "max_open_conns", "100"), 0);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "MAX_IDLE_CONNS", "10"), 0);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_IDLE), 10);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "conn_max_lifetime", "1h30m"), 0);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_CONN_MAX_LIFETIME), INT64_C(5400000000));
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "slow_query_threshold", "75ms"), 0);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD), 75000);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "reset_policy", "discard_all"), 0);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_RESET_POLICY), ALCHDB_POOL_RESET_DISCARD_ALL);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "reset_policy", "maybe"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "name", "web"), 0);

    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "max_open_conns", "ten"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_open_conns"));
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "max_open_conns", "-3"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "max_open_conns", "0"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "max_open_conns", "12abc"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "conn_max_idle_time", "5 minutes"),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "conn_max_idle_time"));
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "no_such_option", "1"), ALCHDB_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "no_such_option"));
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, NULL, "1"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "name", NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_OPEN), 100);
    alchdb_pool_config_free(cfg);
}
END_TEST

START_TEST(test_config_from_env)
{
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    setenv("ALCHTEST_DB_MAX_OPEN_CONNS", "40", 1);
    setenv("ALCHTEST_DB_MAX_IDLE_CONNS", "12", 1);
    setenv("ALCHTEST_DB_CONN_MAX_LIFETIME", "30m", 1);
    setenv("ALCHTEST_DB_CONN_MAX_IDLE_TIME", "90s", 1);
    setenv("ALCHTEST_DB_SLOW_QUERY_THRESHOLD", "120ms", 1);
    setenv("ALCHTEST_DB_ACQUIRE_TIMEOUT", "", 1); /* empty: ignored */
    ck_assert_int_eq(alchdb_pool_config_from_env(cfg, "ALCHTEST_DB"), 0);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_OPEN), 40);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_MAX_IDLE), 12);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_CONN_MAX_LIFETIME), INT64_C(1800000000));
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME), INT64_C(90000000));
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD), 120000);
    ck_assert_int_eq(get(cfg, ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT), 10000000);

    setenv("ALCHTEST_DB_CONN_MAX_LIFETIME", "thirty", 1);
    ck_assert_int_eq(alchdb_pool_config_from_env(cfg, "ALCHTEST_DB"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "ALCHTEST_DB_CONN_MAX_LIFETIME"));
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "thirty"));
    unsetenv("ALCHTEST_DB_CONN_MAX_LIFETIME");
    ck_assert_int_eq(alchdb_pool_config_from_env(cfg, ""), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_from_env(cfg, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_from_env(NULL, "X"), ALCHDB_E_INVALID);
    alchdb_pool_config_free(cfg);
}
END_TEST

START_TEST(test_pool_new_validation)
{
    alchdb_pool_config *cfg;
    alchdb_pool *pool = (alchdb_pool *)1;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, 10), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, 20), 0);
    ck_assert_int_eq(alchdb_pool_new(LAZY_CI, cfg, &pool), ALCHDB_E_INVALID);
    ck_assert_ptr_null(pool);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_idle_conns (20)"));
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_open_conns (10)"));
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, 5), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MIN_IDLE, 6), 0);
    ck_assert_int_eq(alchdb_pool_new(LAZY_CI, cfg, &pool), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "min_idle_conns"));
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MIN_IDLE, 0), 0);

    /* bad conninfo: libpq's message, never the password */
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 bogus_option=1", cfg, &pool), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "bogus_option"));
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 password=Sup3rSecretXyz 'oops", cfg, &pool),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "Sup3rSecretXyz"));
    ck_assert_int_eq(alchdb_pool_new("postgresql://u:Sup3rSecretXyz@[::1/db", cfg, &pool),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "Sup3rSecretXyz"));
    ck_assert_int_eq(alchdb_pool_new(NULL, cfg, &pool), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_new(LAZY_CI, cfg, NULL), ALCHDB_E_INVALID);

    /* name and masked JSON */
    ck_assert_int_eq(alchdb_pool_config_set_string(cfg, ALCHDB_POOL_OPT_NAME, "primary"), 0);
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 port=1 dbname=app password=Sup3rSecretXyz", cfg,
                                     &pool),
                     0);
    ck_assert_str_eq(alchdb_pool_name(pool), "primary (127.0.0.1:1/app)");
    char *json = NULL;
    ck_assert_int_eq(alchdb_pool_to_json(pool, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"max_open_conns\":10"));
    ck_assert_ptr_nonnull(strstr(json, "password=***"));
    ck_assert_ptr_null(strstr(json, "Sup3rSecretXyz"));
    alchdb_free(json);
    alchdb_pool_free(pool);
    alchdb_pool_config_free(cfg);

    /* defaults (cfg NULL), derived name */
    ck_assert_int_eq(alchdb_pool_new("host=db.example port=6543 dbname=shop", NULL, &pool), 0);
    ck_assert_str_eq(alchdb_pool_name(pool), "db.example:6543/shop");
    alchdb_pool_metrics m;
    ck_assert_int_eq(alchdb_pool_get_metrics(pool, &m, sizeof m), 0);
    ck_assert_int_eq(m.size, sizeof m);
    ck_assert_int_eq(m.max_open, 100);
    ck_assert_int_eq(m.open, 0);
    alchdb_pool_free(pool);
}
END_TEST

START_TEST(test_pool_bad_input_and_closed)
{
    alchdb_pool *pool;
    alchdb_conn *c = (alchdb_conn *)1;
    ck_assert_int_eq(alchdb_pool_acquire(NULL, 0, "t", &c), ALCHDB_E_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(alchdb_pool_new(LAZY_CI, NULL, &pool), 0);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -2, "t", &c), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "timeout_us"));
    ck_assert_int_eq(alchdb_pool_acquire(pool, 0, "t", NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_release(pool, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_release(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_conn_mark_broken(NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_null(alchdb_conn_pgconn(NULL));
    alchdb_pool_metrics m;
    ck_assert_int_eq(alchdb_pool_get_metrics(pool, &m, 4), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_get_metrics(pool, NULL, sizeof m), ALCHDB_E_INVALID);
    /* an older, smaller struct gets only its prefix */
    unsigned char small[24];
    memset(small, 0xee, sizeof small);
    ck_assert_int_eq(alchdb_pool_get_metrics(pool, (alchdb_pool_metrics *)(void *)small, 16), 0);
    ck_assert_int_eq(small[16], 0xee);
    ck_assert_int_eq(alchdb_pool_to_json(pool, NULL), ALCHDB_E_INVALID);

    /* refused connection: clear error, quickly */
    int64_t t0 = alchdb__now_ns();
    ck_assert_int_eq(alchdb_pool_acquire(pool, 2000000, "t", &c), ALCHDB_E_CONNECT);
    ck_assert_msg(strstr(alchdb_last_error_message(), "cannot connect") ||
                      strstr(alchdb_last_error_message(), "unavailable"),
                  "%s", alchdb_last_error_message());
    ck_assert_int_lt(alchdb__now_ns() - t0, INT64_C(1500000000));
    /* in back-off with nothing open: fails fast with the connect error */
    ck_assert_int_eq(alchdb_pool_acquire(pool, 2000000, "t", &c), ALCHDB_E_CONNECT);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "refused"));

    alchdb_pool_close(pool);
    alchdb_pool_close(pool); /* idempotent */
    ck_assert_int_eq(alchdb_pool_acquire(pool, 0, "t", &c), ALCHDB_E_CLOSED);
    ck_assert_int_eq(alchdb_pool_get_metrics(pool, &m, sizeof m), 0);
    ck_assert_int_ge(m.connect_errors, 1);
    alchdb_pool_free(pool);
    alchdb_pool_free(NULL);
    alchdb_pool_close(NULL);
}
END_TEST

/* ---- histogram ---- */

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t rs = 88172645463325252ull;
static double urand(void)
{
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return (double)(rs >> 11) / 9007199254740992.0;
}

static void check_accuracy(const char *name, int64_t *vals, size_t n)
{
    alchdb__hist h;
    ck_assert_int_eq(alchdb__hist_init(&h, INT64_C(1) << 40), 0);
    for (size_t i = 0; i < n; i++)
        alchdb__hist_record(&h, vals[i]);
    qsort(vals, n, sizeof *vals, cmp64);
    ck_assert_int_eq(alchdb__hist_count(&h), (int64_t)n);
    ck_assert_int_eq(alchdb__hist_min(&h), vals[0]);
    ck_assert_int_eq(alchdb__hist_max(&h), vals[n - 1]);
    const double qs[] = {0.01, 0.1, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        size_t rank = (size_t)ceil(qs[k] * (double)n);
        if (rank < 1)
            rank = 1;
        int64_t exact = vals[rank - 1];
        int64_t est = alchdb__hist_quantile(&h, qs[k]);
        double err = exact ? fabs((double)(est - exact)) / (double)exact : (double)est;
        ck_assert_msg(err <= 0.02, "%s q=%.3f: exact %lld est %lld (err %.4f)", name, qs[k],
                      (long long)exact, (long long)est, err);
    }
    alchdb__hist_destroy(&h);
}

START_TEST(test_hist_accuracy)
{
    enum { N = 200000 };
    int64_t *v = malloc(N * sizeof *v);
    for (size_t i = 0; i < N; i++) /* log-normal latencies around 1 ms */
        v[i] = (int64_t)exp(13.8 + 1.2 * sqrt(-2 * log(urand() + 1e-12)) * cos(6.2831853 * urand()));
    check_accuracy("lognormal", v, N);
    for (size_t i = 0; i < N; i++) /* uniform over a wide range */
        v[i] = (int64_t)(urand() * 5e9);
    check_accuracy("uniform", v, N);
    for (size_t i = 0; i < N; i++) /* small integers are exact */
        v[i] = (int64_t)(urand() * 40);
    check_accuracy("small", v, N);
    for (size_t i = 0; i < N; i++) /* bimodal: fast path and slow outliers */
        v[i] = urand() < 0.97 ? 300 + (int64_t)(urand() * 200) : 20000000 + (int64_t)(urand() * 1e7);
    check_accuracy("bimodal", v, N);
    free(v);
}
END_TEST

START_TEST(test_hist_buckets_and_merge)
{
    /* bucket bounds are contiguous and each bucket is at most 1/32 of its low bound wide */
    for (size_t i = 1; i < alchdb__hist_bucket_of(INT64_C(1) << 40); i++) {
        ck_assert_int_eq(alchdb__hist_bucket_low(i), alchdb__hist_bucket_high(i - 1) + 1);
        int64_t lo = alchdb__hist_bucket_low(i), hi = alchdb__hist_bucket_high(i);
        ck_assert_int_eq(alchdb__hist_bucket_of(lo), i);
        ck_assert_int_eq(alchdb__hist_bucket_of(hi), i);
        if (lo >= 32)
            ck_assert_int_le((hi - lo + 1) * 32, lo);
    }
    alchdb__hist *a = alchdb__hist_new(1000000), *b = alchdb__hist_new(1000000),
                 *all = alchdb__hist_new(1000000), *other = alchdb__hist_new(5000);
    ck_assert_ptr_nonnull(a);
    for (int i = 0; i < 50000; i++) {
        int64_t x = (int64_t)(urand() * 900000);
        alchdb__hist_record(i % 3 ? a : b, x);
        alchdb__hist_record(all, x);
    }
    ck_assert_int_eq(alchdb__hist_merge(a, b), 0);
    ck_assert_int_eq(alchdb__hist_count(a), alchdb__hist_count(all));
    for (double q = 0.05; q < 1.0; q += 0.05)
        ck_assert_int_eq(alchdb__hist_quantile(a, q), alchdb__hist_quantile(all, q));
    ck_assert_int_eq(alchdb__hist_min(a), alchdb__hist_min(all));
    ck_assert_int_eq(alchdb__hist_max(a), alchdb__hist_max(all));
    ck_assert_int_eq(alchdb__hist_merge(a, other), ALCHDB_E_INVALID);
    /* clamping and negatives */
    alchdb__hist_record(other, 10000000);
    alchdb__hist_record(other, -5);
    ck_assert_int_eq(alchdb__hist_max(other), 5000);
    ck_assert_int_eq(alchdb__hist_min(other), 0);
    alchdb__hist_reset(other);
    ck_assert_int_eq(alchdb__hist_count(other), 0);
    ck_assert_int_eq(alchdb__hist_quantile(other, 0.5), 0);
    alchdb__hist_free(a);
    alchdb__hist_free(b);
    alchdb__hist_free(all);
    alchdb__hist_free(other);
    alchdb__hist_free(NULL);
    ck_assert_ptr_null(alchdb__hist_new(0));
}
END_TEST

static alchdb__hist *shared_h;
static void *hist_writer(void *arg)
{
    int64_t base = (int64_t)(intptr_t)arg;
    for (int i = 0; i < 100000; i++)
        alchdb__hist_record(shared_h, base + i % 1000);
    return NULL;
}

START_TEST(test_hist_concurrent)
{
    shared_h = alchdb__hist_new(INT64_C(1) << 30);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hist_writer, (void *)(intptr_t)(i * 1000));
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(alchdb__hist_count(shared_h), 400000);
    ck_assert_int_eq(alchdb__hist_min(shared_h), 0);
    ck_assert_int_eq(alchdb__hist_max(shared_h), 3999);
    alchdb__hist_free(shared_h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool-unit");
    TCase *tc = tcase_create("unit");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_config_defaults_and_setters);
    tcase_add_test(tc, test_config_by_name);
    tcase_add_test(tc, test_config_from_env);
    tcase_add_test(tc, test_pool_new_validation);
    tcase_add_test(tc, test_pool_bad_input_and_closed);
    tcase_add_test(tc, test_hist_accuracy);
    tcase_add_test(tc, test_hist_buckets_and_merge);
    tcase_add_test(tc, test_hist_concurrent);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
