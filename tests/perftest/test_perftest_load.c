/* The perftest under load against the rig: all nine tests (500 workers in
 * the burst test) through a routed, cached, monitored client with nothing
 * failing, the progress callback, cleanup afterwards, and the store's
 * background run (busy, status, cancel within a bound, results by id). Its
 * own database: alchdb_pt_load. */
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include <jansson.h>

#include "pt_live.h"

#define DB "alchdb_pt_load"

static live L;

static void setup(void)
{
    live_open(&L, DB);
}

static void teardown(void)
{
    live_close(&L, DB);
}

typedef struct seen {
    int setup, cleanup, done, measure_ticks;
    uint32_t last_count;
    int passed_flags;
} seen;

static void on_progress(void *ud, const alchdb_perftest_progress *p)
{
    seen *s = ud;
    ck_assert_uint_ge(p->size, sizeof *p);
    ck_assert_ptr_nonnull(p->test_name);
    s->last_count = p->test_count;
    switch (p->phase) {
    case ALCHDB_PERFTEST_PHASE_SETUP: s->setup++; break;
    case ALCHDB_PERFTEST_PHASE_CLEANUP: s->cleanup++; break;
    case ALCHDB_PERFTEST_PHASE_DONE:
        s->done++;
        ck_assert(p->passed == 0 || p->passed == 1);
        break;
    case ALCHDB_PERFTEST_PHASE_MEASURE:
        s->measure_ticks++;
        ck_assert_int_ge(p->ops, p->errors);
        ck_assert_int_le(p->elapsed_us, p->total_us + 60000000);
        break;
    default: break;
    }
}

START_TEST(all_nine_through_the_full_client)
{
    alchdb_perftest_config *cfg = live_cfg("pt_all");
    seen s = {0};
    alchdb_perftest_report *rep = NULL;
    int rc = alchdb_perftest_run(&L.t, cfg, NULL, on_progress, &s, &rep);
    ck_assert_msg(rc == 0, "run: %s", alchdb_last_error_message());
    ck_assert_int_eq(s.setup, 1);
    ck_assert_int_eq(s.cleanup, 1);
    ck_assert_int_eq(s.done, 9);
    ck_assert_int_ge(s.measure_ticks, 9);
    ck_assert_uint_eq(s.last_count, 9);

    char *js = NULL;
    ck_assert_int_eq(alchdb_perftest_report_json(rep, &js), 0);
    json_t *j = json_loads(js, 0, NULL);
    ck_assert_ptr_nonnull(j);
    json_t *tests = json_object_get(j, "tests");
    ck_assert_uint_eq(json_array_size(tests), 9);
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t)
    {
        const char *name = json_string_value(json_object_get(t, "name"));
        ck_assert_str_eq(name, alchdb_perftest_test_name(i));
        /* every operation of every test ran, nothing failed for lack of resources */
        ck_assert_msg(json_integer_value(json_object_get(t, "ops")) > 0, "%s ran nothing", name);
        ck_assert_msg(json_integer_value(json_object_get(t, "errors")) == 0, "%s: %s", name,
                      json_string_value(json_object_get(t, "first_error")));
        double p95 = json_real_value(json_object_get(json_object_get(t, "latency_ms"), "p95"));
        double p99 = json_real_value(json_object_get(json_object_get(t, "latency_ms"), "p99"));
        double mx = json_real_value(json_object_get(json_object_get(t, "latency_ms"), "max"));
        ck_assert_msg(p95 <= p99 + 1e-9 && p99 <= mx + 1e-9, "%s: p95 %f p99 %f max %f", name, p95, p99, mx);
    }
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(tests, 7), "workers")), 500);
    /* the hot set is served from the cache */
    ck_assert_double_ge(json_real_value(json_object_get(json_array_get(tests, 5), "cache_hit_pct")), 50);
    json_decref(j);
    alchdb_free(js);

    /* the monitor saw the application's queries */
    alchdb_monitor_metrics ms;
    memset(&ms, 0, sizeof ms);
    ck_assert_int_eq(alchdb_monitor_flush(L.monitor), 0);
    ck_assert_int_eq(alchdb_monitor_get_metrics(L.monitor, &ms, sizeof ms), 0);
    ck_assert_int_ge(ms.calls, 1000);
    ck_assert_int_ge(ms.patterns, 5);
    /* the schema is gone */
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pt_all'"), 0);
    alchdb_perftest_report_free(rep);
    alchdb_perftest_config_free(cfg);
}
END_TEST

static int status_of(alchdb_perftest_store *st, int64_t id, char *status, size_t cap)
{
    char *js = NULL;
    int rc = alchdb_perftest_store_result_json(st, id, &js);
    if (rc != 0)
        return rc;
    json_t *j = json_loads(js, 0, NULL);
    ck_assert_ptr_nonnull(j);
    snprintf(status, cap, "%s", json_string_value(json_object_get(j, "status")));
    int has_report = json_is_object(json_object_get(j, "report"));
    json_decref(j);
    alchdb_free(js);
    return has_report;
}

START_TEST(store_background_cancel_and_results)
{
    alchdb_perftest_store *st;
    ck_assert_int_eq(alchdb_perftest_store_new(2, &st), 0);
    alchdb_perftest_config *cfg = live_cfg("pt_store");
    /* the default profile: far longer than the test waits */
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "profile", "default"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "duration", "0"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "warmup", "0"), 0);
    int64_t id1 = 0, id2 = 0;
    ck_assert_int_eq(alchdb_perftest_store_start(st, &L.t, cfg, &id1), 0);
    ck_assert_int_eq(id1, 1);
    ck_assert_int_eq(alchdb_perftest_store_start(st, &L.t, cfg, &id2), ALCHDB_E_BUSY);
    char status[32];
    ck_assert_int_eq(status_of(st, id1, status, sizeof status), 0);
    ck_assert_str_eq(status, "running");
    /* the status shows the running test once setup is through */
    char *js = NULL;
    for (int i = 0; i < 600; i++) {
        ck_assert_int_eq(alchdb_perftest_store_status_json(st, &js), 0);
        bool warm = strstr(js, "\"phase\":\"warmup\"") != NULL;
        alchdb_free(js);
        if (warm)
            break;
        usleep(50000);
    }
    ck_assert_int_eq(alchdb_perftest_store_status_json(st, &js), 0);
    ck_assert_ptr_nonnull(strstr(js, "\"running\":{\"id\":1"));
    alchdb_free(js);
    double t0 = live_now();
    ck_assert_int_eq(alchdb_perftest_store_cancel(st), 0);
    ck_assert_int_eq(alchdb_perftest_store_wait(st), 0);
    ck_assert_double_lt(live_now() - t0, 30); /* a tick plus the workers' last query, with slack */
    ck_assert_int_eq(status_of(st, id1, status, sizeof status), 0);
    ck_assert_str_eq(status, "canceled");
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pg_namespace WHERE nspname = 'pt_store'"), 0);

    /* a short run to completion */
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "profile", "quick"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "duration", "200ms"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "warmup", "50ms"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "tests", "user_recipe_lookup"), 0);
    ck_assert_int_eq(alchdb_perftest_store_start(st, &L.t, cfg, &id2), 0);
    ck_assert_int_eq(id2, 2);
    ck_assert_int_eq(alchdb_perftest_store_wait(st), 0);
    ck_assert_int_eq(status_of(st, id2, status, sizeof status), 1);
    ck_assert_str_eq(status, "done");
    ck_assert_int_eq(alchdb_perftest_store_status_json(st, &js), 0);
    ck_assert_ptr_nonnull(strstr(js, "\"running\":null"));
    ck_assert_ptr_nonnull(strstr(js, "\"id\":2,\"status\":\"done\""));
    alchdb_free(js);
    /* a third result drops the oldest (max_results 2) */
    ck_assert_int_eq(alchdb_perftest_store_start(st, &L.t, cfg, &id2), 0);
    ck_assert_int_eq(alchdb_perftest_store_wait(st), 0);
    ck_assert_int_eq(alchdb_perftest_store_result_json(st, id1, &js), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(status_of(st, 3, status, sizeof status), 1);
    /* free while a run is in progress cancels and waits */
    ck_assert_int_eq(alchdb_perftest_store_start(st, &L.t, cfg, &id2), 0);
    alchdb_perftest_store_free(st);
    alchdb_perftest_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("perftest-load");
    TCase *tc = tcase_create("load");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, all_nine_through_the_full_client);
    tcase_add_test(tc, store_background_cancel_and_results);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
