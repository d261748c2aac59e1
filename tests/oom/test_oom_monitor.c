/* Allocation failure through the monitor: configure, create, record parsed
 * and unparsed texts with labels and routes (slow ones too), the three JSON
 * documents, stats, reset. No server. */
#include "oom.h"

typedef struct mon_state {
    alchdb_monitor_config *cfg;
    alchdb_monitor *mon;
} mon_state;

static const char *const labels[] = {"endpoint=/orders", "job=nightly"};

static int record_all(alchdb_monitor *mon, oom_state *st)
{
    static const char *const texts[] = {
        "SELECT * FROM orders WHERE id = 1",
        "SELECT * FROM orders WHERE id = 2",
        "UPDATE orders SET status = 'x' WHERE id = 3",
        "SELEC broken text 'literal' 42",
        "SELECT * FROM items WHERE order_id = 7 OFFSET 5000",
        "SELECT * FROM items WHERE order_id = 8",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION,
                                  .nlabels = 2,
                                  .sql = texts[i],
                                  .sql_len = -1,
                                  .duration_us = 100000 * (int64_t)(i + 1),
                                  .rows = 1,
                                  .sqlstate = i == 2 ? "40001" : NULL,
                                  .route = "replica",
                                  .labels = labels};
        int rc = st ? OOM_CALL(st, alchdb_monitor_record(mon, &q)) : alchdb_monitor_record(mon, &q);
        if (rc)
            return rc;
    }
    return 0;
}

static int run(oom_state *st)
{
    mon_state *m = st->data;
    if (OOM_CALL(st, alchdb_monitor_config_new(&m->cfg)))
        return -1;
    if (OOM_CALL(st, alchdb_monitor_config_set_from_string(m->cfg, "slow_query_threshold", "50ms")) ||
        OOM_CALL(st, alchdb_monitor_config_set_from_string(m->cfg, "n_plus_one_threshold", "2")))
        return -1;
    if (OOM_CALL(st, alchdb_monitor_new(m->cfg, &m->mon)))
        return -1;
    if (record_all(m->mon, st))
        return -1;
    char *json = NULL;
    int rc = OOM_CALL(st, alchdb_monitor_patterns_to_json(m->mon, ALCHDB_MONITOR_SORT_TOTAL_TIME, 0,
                                                       ALCHDB_MONITOR_JSON_WINDOWS, &json));
    alchdb_free(json);
    json = NULL;
    if (!rc)
        rc = OOM_CALL(st, alchdb_monitor_analysis_to_json(m->mon, 0, &json));
    alchdb_free(json);
    json = NULL;
    if (!rc)
        rc = OOM_CALL(st, alchdb_monitor_slow_log_to_json(m->mon, 0, &json));
    alchdb_free(json);
    alchdb_monitor_metrics s;
    if (!rc)
        rc = OOM_CALL(st, alchdb_monitor_get_metrics(m->mon, &s, sizeof s));
    if (!rc)
        rc = OOM_CALL(st, alchdb_monitor_reset(m->mon));
    if (!rc)
        rc = record_all(m->mon, st);
    return rc;
}

/* The monitor that exists still records and reports. */
static void check(oom_state *st)
{
    mon_state *m = st->data;
    if (!m->mon)
        return;
    ck_assert_int_eq(record_all(m->mon, NULL), 0);
    char *json = NULL;
    ck_assert_int_eq(alchdb_monitor_analysis_to_json(m->mon, 0, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "orders"));
    alchdb_free(json);
    alchdb_monitor_metrics s;
    ck_assert_int_eq(alchdb_monitor_get_metrics(m->mon, &s, sizeof s), 0);
    ck_assert_int_ge(s.calls, 6);
}

static void teardown(oom_state *st)
{
    mon_state *m = st->data;
    alchdb_monitor_free(m->mon);
    alchdb_monitor_config_free(m->cfg);
}

START_TEST(test_monitor_oom)
{
    static const oom_case c = {"monitor", sizeof(mon_state), run, check, teardown, NULL};
    ck_assert_int_gt(oom_sweep(&c, 5000), 50);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oom-monitor");
    TCase *tc = tcase_create("monitor");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_monitor_oom);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
