/* A standby behind a network partition: its namespace's link goes down, so
 * packets are dropped and every call towards it times out (no connection
 * reset tells anyone). Reads keep working: the prober gives up on it after
 * probe_timeout, reads already on their way time out through TCP keepalives
 * and tcp_user_timeout (set in its conninfo, as docs/router.md advises) and
 * run again on the primary. When the link comes back, so do its reads. */
#include "faultlib.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static int log_timeouts, log_refused;

static void log_sink(void *ud, int level, const char *module, const char *message)
{
    (void)ud;
    (void)level;
    const char *host = ud;
    if (strcmp(module, "router") || !strstr(message, host))
        return;
    pthread_mutex_lock(&log_mu);
    if (strstr(message, "probe_timeout") || strstr(message, "deadline") || strstr(message, "timed out"))
        log_timeouts++;
    if (strstr(message, "refused") || strstr(message, "reset"))
        log_refused++;
    pthread_mutex_unlock(&log_mu);
}

START_TEST(test_partitioned_standby)
{
    fl_cluster c;
    fl_cluster_create(&c, "partition", true);
    fl_schema(c.node[0]);
    char standby[400];
    snprintf(standby, sizeof standby,
             "%s keepalives=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=2 tcp_user_timeout=3000",
             c.node[1]);
    static char host[96];
    snprintf(host, sizeof host, "%s:%s", c.host1, c.port[1]);
    ck_assert_int_eq(alchdb_set_log_handler(log_sink, host, ALCHDB_LOG_DEBUG), 0);
    fl_opts o = {.primary = c.node[0], .replica = standby, .probe_interval = "500ms"};
    alchdb_router *r = fl_router(&o);
    for (int i = 0; i < 100 && alchdb_router_host_healthy(r, 1) != 1; i++)
        fl_sleep_ms(50);
    ck_assert_int_eq(alchdb_router_host_healthy(r, 1), 1);
    fl_load *l = fl_load_start(r, 4, 1, false);
    fl_sleep_ms(1000);
    long standby_before = atomic_load(&l->on_standby);
    ck_assert_int_gt(standby_before, 0);
    int64_t t_part = fl_now();
    fl_sh(&c, "partition on");
    int64_t t_down = 0;
    long standby_at_down = 0;
    while (fl_now() - t_part < INT64_C(15000000000)) {
        if (alchdb_router_host_healthy(r, 1) == 0) {
            t_down = fl_now();
            standby_at_down = atomic_load(&l->on_standby);
            break;
        }
        fl_sleep_ms(20);
    }
    fl_sleep_ms(4000);
    long standby_during = atomic_load(&l->on_standby);
    int64_t t_heal = fl_now();
    fl_sh(&c, "partition off");
    int64_t t_back = 0;
    while (fl_now() - t_heal < INT64_C(30000000000)) {
        if (alchdb_router_host_healthy(r, 1) == 1 && atomic_load(&l->on_standby) > standby_during + 20) {
            t_back = fl_now();
            break;
        }
        fl_sleep_ms(50);
    }
    fl_load_stop(l);
    alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_WARN);
    fl_report("partition", l, t_part, t_part);
    int64_t max_rlat = 0;
    /* the slowest read: failed ones are recorded; successful ones that waited
     * for a timeout show as the gap in reads on the standby */
    max_rlat = fl_max_fail_latency(l, FL_READ);
    printf("FIGURES partition: standby excluded %.2f s after the partition; reads on it during the partition after "
           "that: %ld; back %.2f s after healing; router log lines about it: %d timeouts, %d refused/reset; slowest "
           "failed read %.2f s\n",
           t_down ? fl_sec(t_down - t_part) : -1.0, standby_during - standby_at_down,
           t_back ? fl_sec(t_back - t_heal) : -1.0, log_timeouts, log_refused, fl_sec(max_rlat));
    ck_assert_msg(t_down != 0, "the partitioned standby was never excluded");
    ck_assert_msg(atomic_load(&l->failed[FL_READ]) == 0, "%ld reads failed", atomic_load(&l->failed[FL_READ]));
    ck_assert_int_eq(atomic_load(&l->failed[FL_WRITE]), 0);
    ck_assert_msg(t_back != 0, "the standby never served reads again after the partition healed");
    ck_assert_int_gt(log_timeouts, 0);
    ck_assert_int_eq(log_refused, 0); /* timeouts, not resets */
    alchdb_router_free(r);
    fl_load_free(l);
    fl_cluster_destroy(&c);
}
END_TEST

void faults_partition(Suite *s)
{
    TCase *tc = tcase_create("partition");
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_partitioned_standby);
    suite_add_tcase(s, tc);
}
