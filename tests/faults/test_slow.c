/* A slow server with statement timeouts: statements that sleep (pg_sleep)
 * or wait for a lock end with 57014 / 55P03 within their timeouts, and the
 * router treats them as what they are: answers of a healthy server. No
 * breaker opens, no host leaves the rotation, no read is retried, no
 * connection is discarded, and the rest of the load does not notice. */
#include "faultlib.h"

#define TIMEOUT_BOUND_NS INT64_C(2300000000) /* 300 ms statement_timeout + slack */

typedef struct slow_arg {
    alchdb_client *c;
    const char *sql;
    unsigned flags;
    atomic_int *stop;
    atomic_long ok, timed_out, other;
    atomic_llong slowest_ns;
} slow_arg;

static void *slow_main(void *p)
{
    slow_arg *a = p;
    while (!atomic_load(a->stop)) {
        int64_t t = fl_now();
        alchdb_result *res = NULL;
        int rc = alchdb_client_exec_flags(a->c, a->sql, 0, NULL, a->flags, &res);
        long long lat = (long long)(fl_now() - t), cur = atomic_load(&a->slowest_ns);
        while (lat > cur && !atomic_compare_exchange_weak(&a->slowest_ns, &cur, lat))
            ;
        const char *st = res ? alchdb_result_sqlstate(res) : "";
        if (rc == 0)
            atomic_fetch_add(&a->ok, 1);
        else if (!strcmp(st, "57014") || !strcmp(st, "55P03"))
            atomic_fetch_add(&a->timed_out, 1);
        else
            atomic_fetch_add(&a->other, 1);
        alchdb_result_free(res);
    }
    return NULL;
}

START_TEST(test_slow_server_timeouts)
{
    fl_cluster c;
    fl_cluster_create(&c, "slow", false);
    fl_schema(c.node[0]);
    fl_sql_ok(c.node[0], "INSERT INTO fo (id) VALUES (1)");
    char prim[400], stby[400];
    snprintf(prim, sizeof prim, "%s options='-c statement_timeout=300 -c lock_timeout=200'", c.node[0]);
    snprintf(stby, sizeof stby, "%s options='-c statement_timeout=300'", c.node[1]);
    fl_opts o = {.primary = prim, .replica = stby, .probe_interval = "200ms"};
    alchdb_router *r = fl_router(&o);
    for (int i = 0; i < 100 && alchdb_router_host_healthy(r, 1) != 1; i++)
        fl_sleep_ms(50);
    fl_load *l = fl_load_start(r, 3, 1, true);
    atomic_int stop = 0;
    slow_arg args[3] = {
        {.c = l->c, .sql = "SELECT pg_sleep(1)", .flags = 0, .stop = &stop},                    /* a standby */
        {.c = l->c, .sql = "SELECT pg_sleep(1)", .flags = ALCHDB_EXEC_PRIMARY, .stop = &stop},  /* the primary */
        {.c = l->c, .sql = "UPDATE fo SET ts = now() WHERE id = 1", .flags = 0, .stop = &stop}, /* a lock wait */
    };
    pthread_t th[3];
    /* a session that keeps the row locked, on and off */
    PGconn *holder = PQconnectdb(c.node[0]);
    ck_assert_int_eq(PQstatus(holder), CONNECTION_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, slow_main, &args[i]), 0);
    for (int round = 0; round < 2; round++) {
        PQclear(PQexec(holder, "BEGIN"));
        PQclear(PQexec(holder, "SELECT * FROM fo WHERE id = 1 FOR UPDATE"));
        fl_sleep_ms(1500);
        PQclear(PQexec(holder, "COMMIT"));
        fl_sleep_ms(300);
        ck_assert_int_eq(alchdb_router_host_healthy(r, 0), 1);
        ck_assert_int_eq(alchdb_router_host_healthy(r, 1), 1);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    PQfinish(holder);
    fl_load_stop(l);
    fl_report("slow", l, l->t0, l->t0);
    printf("FIGURES slow: pg_sleep on a standby %ld timed out (slowest %.2f s), on the primary %ld (slowest %.2f s); "
           "lock waits %ld timed out, %ld went through (slowest %.2f s); other errors %ld; breaker opens %ld; "
           "retries %ld\n",
           atomic_load(&args[0].timed_out), fl_sec(atomic_load(&args[0].slowest_ns)), atomic_load(&args[1].timed_out),
           fl_sec(atomic_load(&args[1].slowest_ns)), atomic_load(&args[2].timed_out), atomic_load(&args[2].ok),
           fl_sec(atomic_load(&args[2].slowest_ns)),
           atomic_load(&args[0].other) + atomic_load(&args[1].other) + atomic_load(&args[2].other),
           fl_metric(r, "breaker_opens"), fl_metric(r, "retries"));
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(atomic_load(&args[i].other), 0);
        ck_assert_msg(atomic_load(&args[i].slowest_ns) <= TIMEOUT_BOUND_NS, "a statement outlived its timeout");
    }
    ck_assert_int_gt(atomic_load(&args[0].timed_out), 0);
    ck_assert_int_gt(atomic_load(&args[1].timed_out), 0);
    ck_assert_int_gt(atomic_load(&args[2].timed_out), 0);
    ck_assert_int_eq(atomic_load(&l->failed[FL_READ]), 0);
    ck_assert_int_eq(atomic_load(&l->failed[FL_WRITE]), 0);
    ck_assert_int_eq(atomic_load(&l->tok_misattributed), 0);
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    ck_assert_msg(!strstr(json, "\"breaker\":\"open\"") && strstr(json, "\"retries\":0,"), "%s", json);
    ck_assert_msg(!strstr(json, "\"errors\":1") && !strstr(json, "\"breaker_opens\":1"), "%s", json);
    alchdb_free(json);
    for (size_t i = 0; i < 2; i++) {
        alchdb_pool_metrics m;
        ck_assert_int_eq(alchdb_pool_get_metrics(alchdb_router_host_pool(r, i), &m, sizeof m), 0);
        ck_assert_int_eq(m.in_use, 0);
        ck_assert_msg(m.closed_broken == 0, "host %zu: %lld connections discarded for a timeout", i,
                      (long long)m.closed_broken);
    }
    alchdb_router_free(r);
    fl_load_free(l);
    fl_cluster_destroy(&c);
}
END_TEST

void faults_slow(Suite *s)
{
    TCase *tc = tcase_create("slow");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_slow_server_timeouts);
    suite_add_tcase(s, tc);
}
