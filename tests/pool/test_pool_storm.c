/* The connect storm: 1,000 threads (small stacks) arrive at once on a cold
 * pool of 100 connections. Every request must succeed: a caller whose own
 * connect attempt fails while connections are open waits in line for a
 * released one instead of failing. A load test: the valgrind phase skips it. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "pgtest.h"
#include "testutil.h"

enum { USERS = 1000, PER_USER = 5, POOL = 100 };

static alchdb_client *g_client;
static pthread_barrier_t g_start;
static atomic_int g_ok, g_failed;
static char g_first_error[600];

static void *user(void *arg)
{
    int id = (int)(intptr_t)arg;
    pthread_barrier_wait(&g_start);
    for (int k = 0; k < PER_USER; k++) {
        char v[16], want[16];
        snprintf(v, sizeof v, "%d", id * 100 + k);
        snprintf(want, sizeof want, "%d", id * 100 + k + 1);
        const char *p[] = {v};
        alchdb_result *r = NULL;
        if (alchdb_client_exec(g_client, "SELECT $1::int + 1", 1, p, &r) == 0 &&
            strcmp(alchdb_result_value(r, 0, 0), want) == 0) {
            atomic_fetch_add(&g_ok, 1);
        } else if (atomic_fetch_add(&g_failed, 1) == 0) {
            snprintf(g_first_error, sizeof g_first_error, "%s", alchdb_last_error_message());
        }
        alchdb_result_free(r);
    }
    return NULL;
}

START_TEST(test_cold_pool_storm)
{
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, POOL), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, POOL), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_CONNECTING, 16), 0);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "acquire_timeout", "60s"), 0);
    char ci[1024];
    snprintf(ci, sizeof ci, "%s application_name=alchdb_tstorm", test_env("ALCHDB_TEST_PRIMARY"));
    ck_assert_int_eq(alchdb_client_open(ci, cfg, &g_client), 0);
    alchdb_pool_config_free(cfg);
    atomic_store(&g_ok, 0);
    atomic_store(&g_failed, 0);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    pthread_attr_setstacksize(&attr, 512 * 1024); /* sanitizers need room for their redzones */
#else
    pthread_attr_setstacksize(&attr, 64 * 1024);
#endif
    pthread_barrier_init(&g_start, NULL, USERS);
    pthread_t *t = calloc(USERS, sizeof *t);
    for (int i = 0; i < USERS; i++)
        ck_assert_int_eq(pthread_create(&t[i], &attr, user, (void *)(intptr_t)i), 0);
    for (int i = 0; i < USERS; i++)
        pthread_join(t[i], NULL);
    free(t);
    pthread_barrier_destroy(&g_start);
    pthread_attr_destroy(&attr);
    alchdb_pool_metrics m;
    ck_assert_int_eq(alchdb_pool_get_metrics(alchdb_client_pool(g_client), &m, sizeof m), 0);
    fprintf(stderr, "storm: ok=%d failed=%d open=%lld connects=%lld connect_errors=%lld requeued=%lld "
                    "wait p99 %.1f ms max %.1f ms\n",
            atomic_load(&g_ok), atomic_load(&g_failed), (long long)m.open, (long long)m.connects,
            (long long)m.connect_errors, (long long)m.connect_requeued, (double)m.wait_p99_ns / 1e6,
            (double)m.wait_max_ns / 1e6);
    ck_assert_msg(atomic_load(&g_failed) == 0, "%d requests failed; first: %s", atomic_load(&g_failed),
                  g_first_error);
    ck_assert_int_eq(atomic_load(&g_ok), USERS * PER_USER);
    ck_assert_int_le(m.open, POOL);
    ck_assert_int_eq(m.in_use, 0);
    ck_assert_int_eq(m.waiters, 0);
    ck_assert_int_le(pgtest_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'alchdb_tstorm'"),
                     POOL);
    alchdb_client_free(g_client);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool-storm");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_cold_pool_storm);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
