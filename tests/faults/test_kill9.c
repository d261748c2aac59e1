/* kill -9 of the primary under a 200-thread load (100 readers through the
 * routed client, 100 writers through the router), then a restart: nothing
 * crashes, every failed call returns within its deadline, writes recover
 * within 5 s of the restart, reads keep being served by the standby, and no
 * connection leaks (none held after the load, none left on the servers after
 * the router is freed). The primary stays down 2 s. */
#include "faultlib.h"

#define ACQUIRE_US 1000000
#define CONNECT_US 1000000
/* A failed call waits at most for the acquire deadline and, when it makes a
 * connection, for the connect deadline; the rest is slack for 200 threads on
 * a loaded 2-core machine. */
#define FAIL_BOUND_NS (INT64_C(1000) * (ACQUIRE_US + CONNECT_US) + INT64_C(2000000000))
#define RECOVERY_NS INT64_C(5000000000)

/* Backends of the library (application_name libalchdb) on a server. */
static long library_backends(const char *conninfo)
{
    return fl_sql_long(conninfo, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'libalchdb'");
}

START_TEST(test_kill9_under_load)
{
    fl_cluster c;
    fl_cluster_create(&c, "kill9", false);
    fl_schema(c.node[0]);
    fl_opts o = {.primary = c.node[0],
                 .replica = c.node[1],
                 .max_open = 20,
                 .acquire_timeout_us = ACQUIRE_US,
                 .connect_timeout_us = CONNECT_US};
    alchdb_router *r = fl_router(&o);
    fl_load *l = fl_load_start(r, 100, 100, false);
    fl_sleep_ms(1000);
    long writes_before = atomic_load(&l->ok[FL_WRITE]);
    int64_t t_kill = fl_now();
    fl_sh(&c, "kill9 0");
    fl_sleep_ms(2000);
    long reads_down = atomic_load(&l->ok[FL_READ]);
    int64_t t_start = fl_now();
    fl_sh(&c, "start 0");
    int64_t t_started = fl_now();
    /* writes succeed again (bounded wait), then a while of steady load */
    long w0 = atomic_load(&l->ok[FL_WRITE]);
    int64_t t_first_write = 0;
    while (fl_now() - t_started < INT64_C(15000000000)) {
        if (atomic_load(&l->ok[FL_WRITE]) > w0 + 50) {
            t_first_write = fl_now();
            break;
        }
        fl_sleep_ms(20);
    }
    fl_sleep_ms(2000);
    fl_load_stop(l);
    int64_t last_w = fl_last_fail(l, FL_WRITE);
    int64_t max_lat = fl_max_fail_latency(l, FL_WRITE);
    int64_t max_rlat = fl_max_fail_latency(l, FL_READ);
    fl_report("kill9", l, t_kill, t_started);
    printf("FIGURES kill9: 200 threads; %ld writes before the kill; reads served while the primary was down: %ld; "
           "restart (crash recovery) took %.2f s; writes back %.2f s after it; last failed write %.2f s after it; "
           "slowest failed write %.2f s, read %.2f s (bound %.1f s)\n",
           writes_before, reads_down, fl_sec(t_started - t_start),
           t_first_write ? fl_sec(t_first_write - t_started) : -1.0, last_w > t_started ? fl_sec(last_w - t_started) : 0.0,
           fl_sec(max_lat), fl_sec(max_rlat), fl_sec(FAIL_BOUND_NS));
    ck_assert_msg(t_first_write != 0, "writes never came back after the restart");
    ck_assert_msg(last_w <= t_started + RECOVERY_NS, "writes kept failing %.2f s after the restart",
                  fl_sec(last_w - t_started));
    ck_assert_msg(max_lat <= FAIL_BOUND_NS && max_rlat <= FAIL_BOUND_NS, "a failed call outlived its deadline");
    ck_assert_int_gt(atomic_load(&l->failed[FL_WRITE]), 0); /* the fault did happen */
    ck_assert_int_gt(reads_down, 0);
    /* no connection held after the load, and the servers see no more than
     * the pools (plus one probe each) keep open */
    long server[2], open[2];
    for (size_t i = 0; i < 2; i++) {
        alchdb_pool_metrics m;
        ck_assert_int_eq(alchdb_pool_get_metrics(alchdb_router_host_pool(r, i), &m, sizeof m), 0);
        ck_assert_msg(m.in_use == 0, "host %zu: %lld connections still held", i, (long long)m.in_use);
        open[i] = m.open;
        server[i] = library_backends(c.node[i]);
        ck_assert_msg(server[i] <= m.open + 1, "host %zu: %ld backends for %lld pooled connections", i, server[i],
                      (long long)m.open);
    }
    alchdb_router_free(r);
    long left = -1;
    for (int i = 0; i < 100; i++) {
        left = library_backends(c.node[0]) + library_backends(c.node[1]);
        if (left == 0)
            break;
        fl_sleep_ms(50);
    }
    printf("FIGURES kill9: after the load %ld+%ld pooled connections, %ld+%ld backends; after alchdb_router_free %ld\n",
           open[0], open[1], server[0], server[1], left);
    ck_assert_int_eq(left, 0);
    fl_load_free(l);
    fl_cluster_destroy(&c);
}
END_TEST

void faults_kill9(Suite *s)
{
    TCase *tc = tcase_create("kill9");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_kill9_under_load);
    suite_add_tcase(s, tc);
}
