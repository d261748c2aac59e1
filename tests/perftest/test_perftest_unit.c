/* The perftest without a server: options through the engine, the test
 * selection and target overrides, judging (p95, throughput, errors,
 * utilization, hit rate), health and grades, the report's JSON schema and
 * text, and argument checks of every public function. */
#include <jansson.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "failalloc.h"
#include "perftest/pt.h"
#include "testutil.h"

START_TEST(options_by_name)
{
    alchdb_perftest_config *cfg;
    ck_assert_int_eq(alchdb_perftest_config_new(&cfg), 0);
    int64_t v;
    ck_assert_int_eq(alchdb_perftest_config_get_int64(cfg, ALCHDB_PERFTEST_OPT_PROFILE, &v), 0);
    ck_assert_int_eq(v, ALCHDB_PERFTEST_PROFILE_DEFAULT);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "profile", "quick"), 0);
    ck_assert_int_eq(alchdb_perftest_config_get_int64(cfg, ALCHDB_PERFTEST_OPT_PROFILE, &v), 0);
    ck_assert_int_eq(v, ALCHDB_PERFTEST_PROFILE_QUICK);
    ck_assert_int_eq(alchdb_perftest_config_get_int64(cfg, ALCHDB_PERFTEST_OPT_RECIPES, &v), 0);
    ck_assert_int_eq(v, 10000);
    ck_assert_int_eq(alchdb_perftest_config_get_int64(cfg, ALCHDB_PERFTEST_OPT_USERS, &v), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "duration", "2s"), 0);
    ck_assert_int_eq(alchdb_perftest_config_get_int64(cfg, ALCHDB_PERFTEST_OPT_DURATION, &v), 0);
    ck_assert_int_eq(v, 2000000);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "tests", "recipe_search, burst_load"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "targets", "recipe_search.p95=150ms"), 0);
    const char *s;
    ck_assert_int_eq(alchdb_perftest_config_get_string(cfg, ALCHDB_PERFTEST_OPT_SCHEMA, &s), 0);
    ck_assert_str_eq(s, "alchdb_perftest");

    /* bad values name the option; unknown names are NOTFOUND */
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "tests", "recipe_search,nope"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "nope"));
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "targets", "recipe_search.p95=150"),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "targets", "recipe_search.speed=1"),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "targets", "burst_load.errors=101"),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "schema", "Robert'); DROP TABLE x;--"),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "schema"));
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "recipes", "10"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "profile", "turbo"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "no_such_option", "1"), ALCHDB_E_NOTFOUND);
    /* the failed sets left the earlier values */
    ck_assert_int_eq(alchdb_perftest_config_get_string(cfg, ALCHDB_PERFTEST_OPT_TESTS, &s), 0);
    ck_assert_str_eq(s, "recipe_search, burst_load");
    alchdb_perftest_config_free(cfg);
}
END_TEST

START_TEST(options_from_env)
{
    alchdb_perftest_config *cfg;
    ck_assert_int_eq(alchdb_perftest_config_new(&cfg), 0);
    setenv("PTTEST_PROFILE", "full", 1);
    setenv("PTTEST_RECIPES", "2500", 1);
    ck_assert_int_eq(alchdb_perftest_config_from_env(cfg, "PTTEST"), 0);
    int64_t v;
    alchdb_perftest_config_get_int64(cfg, ALCHDB_PERFTEST_OPT_PROFILE, &v);
    ck_assert_int_eq(v, ALCHDB_PERFTEST_PROFILE_FULL);
    alchdb_perftest_config_get_int64(cfg, ALCHDB_PERFTEST_OPT_RECIPES, &v);
    ck_assert_int_eq(v, 2500);
    unsetenv("PTTEST_PROFILE");
    unsetenv("PTTEST_RECIPES");
    alchdb_perftest_config_free(cfg);
}
END_TEST

START_TEST(test_names_and_selection)
{
    ck_assert_uint_eq(alchdb_perftest_test_count(), 9);
    ck_assert_str_eq(alchdb_perftest_test_name(0), "pool_utilization");
    ck_assert_str_eq(alchdb_perftest_test_name(7), "burst_load");
    ck_assert_str_eq(alchdb_perftest_test_name(8), "index_vs_seq_scan");
    ck_assert_ptr_null(alchdb_perftest_test_name(9));
    unsigned mask;
    char why[256];
    ck_assert_int_eq(alchdb__pt_select("", &mask, why, sizeof why), 0);
    ck_assert_uint_eq(mask, 0x1ffu);
    ck_assert_int_eq(alchdb__pt_select(" BURST_LOAD ,recipe_search,", &mask, why, sizeof why), 0);
    ck_assert_uint_eq(mask, (1u << 7) | (1u << 2));
    /* ADR-0008's workers and targets */
    ck_assert_int_eq(alchdb__pt_tests[7].workers, 500);
    ck_assert_int_eq(alchdb__pt_tests[0].workers, 100);
    ck_assert_int_eq(alchdb__pt_tests[5].target[PT_M_HIT], 90000);
    ck_assert_int_eq(alchdb__pt_tests[6].target[PT_M_P95], 500000);
    /* only the sustained test runs long */
    for (int i = 0; i < PT_NTESTS; i++)
        ck_assert_int_eq(alchdb__pt_tests[i].long_run, i == 6);
    ck_assert_int_eq(alchdb__pt_tests[7].burst, 1);
}
END_TEST

START_TEST(targets_override)
{
    pt_targets t;
    char why[256];
    ck_assert_int_eq(alchdb__pt_targets_parse("recipe_search.p95=150ms, burst_load.errors=7.5,cache_hit_rate.hit=80,"
                                              "sustained_load.ops=20,pool_utilization.util=99",
                                              &t, why, sizeof why),
                     0);
    ck_assert_int_eq(t.v[2][PT_M_P95], 150000);
    ck_assert_int_eq(t.v[7][PT_M_ERRORS], 7500);
    ck_assert_int_eq(t.v[5][PT_M_HIT], 80000);
    ck_assert_int_eq(t.v[6][PT_M_OPS], 20);
    ck_assert_int_eq(t.v[0][PT_M_UTIL], 99000);
    ck_assert_int_eq(t.v[3][PT_M_P95], 50000); /* untouched */
    ck_assert_int_eq(alchdb__pt_targets_parse("recipe_search", &t, why, sizeof why), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(why, "test.metric=value"));
    ck_assert_int_eq(alchdb__pt_targets_parse("nope.p95=1s", &t, why, sizeof why), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__pt_targets_parse("recipe_search.p95=-1ms", &t, why, sizeof why), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__pt_targets_parse("recipe_search.ops=abc", &t, why, sizeof why), ALCHDB_E_INVALID);
}
END_TEST

START_TEST(timing_profiles)
{
    alchdb_perftest_config *cfg;
    ck_assert_int_eq(alchdb_perftest_config_new(&cfg), 0);
    pt_timing tm;
    alchdb__pt_timing(&cfg->opts, &tm);
    ck_assert_int_eq(tm.measure_us, 20000000);
    ck_assert_int_eq(tm.long_factor, 3);
    alchdb_perftest_config_set_from_string(cfg, "profile", "full");
    alchdb__pt_timing(&cfg->opts, &tm);
    ck_assert_int_eq(tm.global_warmup_us, 120000000); /* ADR-0008's 2 min warm-up */
    ck_assert_int_eq(tm.measure_us * tm.long_factor, 300000000);
    alchdb_perftest_config_set_from_string(cfg, "profile", "quick");
    alchdb_perftest_config_set_from_string(cfg, "duration", "400ms");
    alchdb_perftest_config_set_from_string(cfg, "warmup", "100ms");
    alchdb__pt_timing(&cfg->opts, &tm);
    ck_assert_int_eq(tm.measure_us, 400000);
    ck_assert_int_eq(tm.warmup_us, 100000);
    ck_assert_int_eq(tm.global_warmup_us, 200000);
    ck_assert_int_le(tm.cooldown_us, 100000);
    alchdb_perftest_config_free(cfg);
}
END_TEST

/* A result that meets every target of test i. */
static pt_result good(int i)
{
    pt_result r;
    memset(&r, 0, sizeof r);
    r.index = i;
    memcpy(r.target, alchdb__pt_tests[i].target, sizeof r.target);
    r.workers = alchdb__pt_tests[i].workers;
    r.duration_us = 1000000;
    r.ops = 100000;
    r.p50_us = 100;
    r.p95_us = 200;
    r.p99_us = 300;
    r.max_us = 400;
    r.mean_us = 120;
    r.ops_per_sec = 100000;
    r.util_mean_pct = 10;
    r.util_max_pct = 20;
    r.hit_pct = i == 5 ? 99 : -1;
    r.idx_p95_us = i == 8 ? 150 : -1;
    r.seq_p95_us = i == 8 ? 250 : -1;
    return r;
}

START_TEST(judging_each_metric)
{
    pt_result r = good(6); /* sustained: p95, ops, errors, util */
    alchdb__pt_judge(&r);
    ck_assert(r.passed);
    /* judged on p95, not on the mean: a fine mean with a p95 just over fails */
    r = good(6);
    r.mean_us = 1000;
    r.p95_us = 500001;
    alchdb__pt_judge(&r);
    ck_assert(!r.passed);
    ck_assert(!r.met[PT_M_P95]);
    ck_assert(r.met[PT_M_OPS]);
    r = good(6);
    r.p95_us = 500000; /* the bound itself is met */
    alchdb__pt_judge(&r);
    ck_assert(r.passed);
    r = good(6);
    r.ops_per_sec = 99.9;
    alchdb__pt_judge(&r);
    ck_assert(!r.met[PT_M_OPS] && !r.passed);
    r = good(6);
    r.errors = 2001;
    r.error_pct = 2.001;
    alchdb__pt_judge(&r);
    ck_assert(!r.met[PT_M_ERRORS]);
    r = good(6);
    r.util_mean_pct = 85.5;
    alchdb__pt_judge(&r);
    ck_assert(!r.met[PT_M_UTIL]);
    r = good(5);
    r.hit_pct = 89.9;
    alchdb__pt_judge(&r);
    ck_assert(!r.met[PT_M_HIT]);
    r = good(5);
    r.hit_pct = -1; /* no cache: not measured is not met */
    alchdb__pt_judge(&r);
    ck_assert(!r.met[PT_M_HIT] && !r.passed);
    r = good(2);
    r.ops = 0; /* nothing ran: fails whatever the numbers */
    alchdb__pt_judge(&r);
    ck_assert(!r.passed);
    /* metrics without a target are not judged */
    r = good(3);
    r.error_pct = 50;
    alchdb__pt_judge(&r);
    ck_assert(!r.judged[PT_M_ERRORS]);
    ck_assert(r.passed);
}
END_TEST

START_TEST(grades)
{
    ck_assert_int_eq(alchdb__pt_grade(100), 'A');
    ck_assert_int_eq(alchdb__pt_grade(90), 'A');
    ck_assert_int_eq(alchdb__pt_grade(89), 'B');
    ck_assert_int_eq(alchdb__pt_grade(80), 'B');
    ck_assert_int_eq(alchdb__pt_grade(70), 'C');
    ck_assert_int_eq(alchdb__pt_grade(60), 'D');
    ck_assert_int_eq(alchdb__pt_grade(59), 'F');
    ck_assert_int_eq(alchdb__pt_grade(0), 'F');
}
END_TEST

/* A report of all nine tests, `failed` of them failing. */
static alchdb_perftest_report *mkreport(int failed)
{
    alchdb_perftest_report *rep = alchdb__calloc(1, sizeof *rep);
    ck_assert_ptr_nonnull(rep);
    rep->duration_us = 5000000;
    rep->profile = 0;
    rep->recipes = 10000;
    rep->users = 1000;
    rep->started_wall_us = INT64_C(1767225600) * 1000000;
    rep->n = 9;
    for (int i = 0; i < 9; i++) {
        rep->r[i] = good(i);
        if (i < failed) {
            rep->r[i].errors = 50000;
            rep->r[i].error_pct = 50;
            rep->r[i].p95_us = 10000000;
            snprintf(rep->r[i].first_error, sizeof rep->r[i].first_error, "57014: \"quoted\"\n\tcanceling");
        }
        alchdb__pt_judge(&rep->r[i]);
    }
    return rep;
}

/* The documented JSON schema (docs/perftest.md), checked member by member. */
static void check_schema(const char *text, int failed)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    ck_assert_msg(j, "invalid JSON: %s", e.text);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "version")), 1);
    ck_assert(json_is_string(json_object_get(j, "started_at")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "started_at")), "2026-01-01T00:00:00Z");
    ck_assert(json_is_number(json_object_get(j, "duration_s")));
    ck_assert_str_eq(json_string_value(json_object_get(j, "profile")), "quick");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "data"), "recipes")), 10000);
    json_t *s = json_object_get(j, "summary");
    ck_assert_int_eq(json_integer_value(json_object_get(s, "tests")), 9);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "failed")), failed);
    ck_assert_int_eq(json_integer_value(json_object_get(s, "passed")), 9 - failed);
    int64_t health = 100 - 10 * failed;
    ck_assert_int_eq(json_integer_value(json_object_get(s, "health")), health < 0 ? 0 : health);
    char g[2] = {alchdb__pt_grade(health < 0 ? 0 : health), 0};
    ck_assert_str_eq(json_string_value(json_object_get(s, "grade")), g);
    json_t *tests = json_object_get(j, "tests");
    ck_assert_uint_eq(json_array_size(tests), 9);
    size_t i;
    json_t *t;
    json_array_foreach(tests, i, t)
    {
        ck_assert_str_eq(json_string_value(json_object_get(t, "name")), alchdb_perftest_test_name(i));
        ck_assert(json_is_string(json_object_get(t, "title")));
        ck_assert(json_is_integer(json_object_get(t, "workers")));
        ck_assert(json_is_integer(json_object_get(t, "ops")));
        ck_assert(json_is_integer(json_object_get(t, "errors")));
        ck_assert(json_is_number(json_object_get(t, "error_pct")));
        ck_assert(json_is_number(json_object_get(t, "ops_per_sec")));
        json_t *lat = json_object_get(t, "latency_ms");
        static const char *const q[] = {"p50", "p95", "p99", "max", "mean"};
        for (int k = 0; k < 5; k++)
            ck_assert_msg(json_is_number(json_object_get(lat, q[k])), "latency_ms.%s", q[k]);
        json_t *u = json_object_get(t, "utilization_pct");
        ck_assert(json_is_object(u) && json_is_number(json_object_get(u, "mean")));
        ck_assert(i == 5 ? json_is_number(json_object_get(t, "cache_hit_pct"))
                         : json_is_null(json_object_get(t, "cache_hit_pct")));
        ck_assert(i == 8 ? json_is_number(json_object_get(t, "seq_p95_ms"))
                         : json_is_null(json_object_get(t, "seq_p95_ms")));
        ck_assert(json_is_boolean(json_object_get(t, "passed")));
        ck_assert_int_eq(json_is_true(json_object_get(t, "passed")), (int)i >= failed);
        ck_assert((int)i < failed ? json_is_string(json_object_get(t, "first_error"))
                                  : json_is_null(json_object_get(t, "first_error")));
        json_t *targets = json_object_get(t, "targets");
        ck_assert_uint_ge(json_array_size(targets), 1);
        size_t k;
        json_t *tg;
        json_array_foreach(targets, k, tg)
        {
            const char *m = json_string_value(json_object_get(tg, "metric"));
            ck_assert(m && strstr("p95 ops errors util hit", m));
            const char *op = json_string_value(json_object_get(tg, "op"));
            ck_assert(op && (!strcmp(op, "<=") || !strcmp(op, ">=")));
            ck_assert(json_is_string(json_object_get(tg, "unit")));
            ck_assert(json_is_number(json_object_get(tg, "target")));
            ck_assert(json_is_number(json_object_get(tg, "actual")));
            ck_assert(json_is_boolean(json_object_get(tg, "met")));
        }
    }
    ck_assert(json_is_array(json_object_get(j, "critical_issues")));
    ck_assert(json_is_array(json_object_get(j, "recommendations")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "critical_issues")) > 0, failed > 0);
    ck_assert_int_eq(json_array_size(json_object_get(j, "recommendations")) > 0, failed > 0);
    json_decref(j);
}

START_TEST(report_json_schema)
{
    for (int failed = 0; failed <= 9; failed += 3) {
        alchdb_perftest_report *rep = mkreport(failed);
        char *js = NULL;
        ck_assert_int_eq(alchdb_perftest_report_json(rep, &js), 0);
        check_schema(js, failed);
        alchdb_free(js);
        alchdb_perftest_summary s = {.size = sizeof s};
        ck_assert_int_eq(alchdb_perftest_report_summary(rep, &s, sizeof s), 0);
        ck_assert_int_eq(s.failed, failed);
        ck_assert_int_eq(s.health, failed == 9 ? 10 : 100 - 10 * failed);
        /* an older, shorter struct gets only its own bytes */
        alchdb_perftest_summary small;
        memset(&small, 0x55, sizeof small);
        ck_assert_int_eq(alchdb_perftest_report_summary(rep, &small, 24), 0);
        ck_assert_int_eq(small.size, 24);
        ck_assert_int_eq(small.tests, 9);
        ck_assert_int_eq(small.failed, 0x5555555555555555);
        alchdb_perftest_report_free(rep);
    }
}
END_TEST

START_TEST(report_text)
{
    alchdb_perftest_report *rep = mkreport(2);
    char *t = NULL;
    ck_assert_int_eq(alchdb_perftest_report_text(rep, &t), 0);
    ck_assert_ptr_nonnull(strstr(t, "Health: 80/100"));
    ck_assert_ptr_nonnull(strstr(t, "Grade: B"));
    ck_assert_ptr_nonnull(strstr(t, "pool_utilization"));
    ck_assert_ptr_nonnull(strstr(t, "FAIL"));
    ck_assert_ptr_nonnull(strstr(t, "MISSED"));
    ck_assert_ptr_nonnull(strstr(t, "Critical issues:"));
    ck_assert_ptr_nonnull(strstr(t, "Recommendations:"));
    ck_assert_ptr_nonnull(strstr(t, "index scan p95"));
    alchdb_free(t);
    alchdb_perftest_report_free(rep);
    rep = mkreport(0);
    ck_assert_int_eq(alchdb_perftest_report_text(rep, &t), 0);
    ck_assert_ptr_nonnull(strstr(t, "Grade: A"));
    ck_assert_ptr_nonnull(strstr(t, "none: every target was met"));
    ck_assert_ptr_null(strstr(t, "FAIL"));
    alchdb_free(t);
    alchdb_perftest_report_free(rep);
}
END_TEST

START_TEST(bad_arguments)
{
    char *out = (char *)1;
    ck_assert_int_eq(alchdb_perftest_report_json(NULL, &out), ALCHDB_E_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "rep"));
    ck_assert_int_eq(alchdb_perftest_report_text(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "out"));
    ck_assert_int_eq(alchdb_perftest_report_summary(NULL, NULL, 0), ALCHDB_E_INVALID);
    alchdb_perftest_report_free(NULL);
    ck_assert_int_eq(alchdb_perftest_config_new(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_config_set_int64(NULL, 1, 1), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "cfg"));
    alchdb_perftest_config_free(NULL);

    alchdb_perftest_report *rep = (alchdb_perftest_report *)1;
    ck_assert_int_eq(alchdb_perftest_run(NULL, NULL, NULL, NULL, NULL, &rep), ALCHDB_E_INVALID);
    ck_assert_ptr_null(rep);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "target"));
    alchdb_perftest_target t = {.size = sizeof t};
    ck_assert_int_eq(alchdb_perftest_run(&t, NULL, NULL, NULL, NULL, &rep), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "target->client"));
    t.size = 4;
    ck_assert_int_eq(alchdb_perftest_setup(&t, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "size"));
    ck_assert_int_eq(alchdb_perftest_cleanup(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_run(&t, NULL, NULL, NULL, NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "out"));

    alchdb_perftest_store *st = (alchdb_perftest_store *)1;
    ck_assert_int_eq(alchdb_perftest_store_new(0, &st), ALCHDB_E_INVALID);
    ck_assert_ptr_null(st);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_results"));
    ck_assert_int_eq(alchdb_perftest_store_new(1001, &st), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_store_new(3, &st), 0);
    int64_t id;
    ck_assert_int_eq(alchdb_perftest_store_start(st, NULL, NULL, &id), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_store_start(st, &t, NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_store_result_json(st, 1, &out), ALCHDB_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "id 1"));
    ck_assert_int_eq(alchdb_perftest_store_status_json(st, &out), 0);
    ck_assert_str_eq(out, "{\"running\":null,\"results\":[]}");
    alchdb_free(out);
    ck_assert_int_eq(alchdb_perftest_store_cancel(st), 0);
    ck_assert_int_eq(alchdb_perftest_store_wait(st), 0);
    ck_assert_int_eq(alchdb_perftest_store_status_json(NULL, &out), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_store_cancel(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_perftest_store_cancel_run(NULL, 1), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "st"));
    ck_assert_int_eq(alchdb_perftest_store_cancel_run(st, 0), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "id"));
    ck_assert_int_eq(alchdb_perftest_store_cancel_run(st, 1), ALCHDB_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "id 1"));
    alchdb_perftest_store_free(st);
    alchdb_perftest_store_free(NULL);
}
END_TEST

/* Allocation failure in the report builders and the config: NOMEM, no leak,
 * no crash, at every allocation. */
START_TEST(allocation_failure)
{
    alchdb_perftest_report *rep = mkreport(3);
    for (int n = 0; n < 200; n++) {
        char *js = NULL, *tx = NULL;
        failalloc_arm(n + 1);
        int a = alchdb_perftest_report_json(rep, &js);
        int b = alchdb_perftest_report_text(rep, &tx);
        failalloc_arm(-1);
        ck_assert(a == 0 || a == ALCHDB_E_NOMEM);
        ck_assert(b == 0 || b == ALCHDB_E_NOMEM);
        ck_assert((a == 0) == (js != NULL));
        alchdb_free(js);
        alchdb_free(tx);
        alchdb_perftest_config *cfg = NULL;
        failalloc_arm(n + 1);
        int c = alchdb_perftest_config_new(&cfg);
        if (c == 0)
            c = alchdb_perftest_config_set_from_string(cfg, "tests", "burst_load");
        failalloc_arm(-1);
        ck_assert(c == 0 || c == ALCHDB_E_NOMEM);
        alchdb_perftest_config_free(cfg);
    }
    alchdb_perftest_report_free(rep);
}
END_TEST

int main(void)
{
    if (alchdb_set_allocator(&failalloc) != 0)
        return EXIT_FAILURE;
    Suite *s = suite_create("perftest-unit");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, options_by_name);
    tcase_add_test(tc, options_from_env);
    tcase_add_test(tc, test_names_and_selection);
    tcase_add_test(tc, targets_override);
    tcase_add_test(tc, timing_profiles);
    tcase_add_test(tc, judging_each_metric);
    tcase_add_test(tc, grades);
    tcase_add_test(tc, report_json_schema);
    tcase_add_test(tc, report_text);
    tcase_add_test(tc, bad_arguments);
    tcase_add_test(tc, allocation_failure);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
