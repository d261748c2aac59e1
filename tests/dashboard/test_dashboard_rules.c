/* Pure-logic tests of the dashboard's rules (white-box, no server): every
 * penalty tier at and around its threshold, the status and grade edges,
 * minimum samples, and the alerts' hysteresis. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "dashboard/dash.h"
#include "testutil.h"

static dash_sample one(int k, double v)
{
    dash_sample s;
    memset(&s, 0, sizeof s);
    s.v[k] = v;
    s.have[k] = true;
    s.max_lag_bound_s = 30;
    return s;
}

static double score_of(int k, double v)
{
    dash_sample s = one(k, v);
    dash_health h;
    alchdb__dash_score(&s, &h);
    return h.score;
}

/* value -> expected penalty, per rule; values straddle each threshold. */
static const struct edge {
    int input;
    double value, points;
} edges[] = {
    {DS_CONN_UTIL_PCT, 0, 0},       {DS_CONN_UTIL_PCT, 80, 0},      {DS_CONN_UTIL_PCT, 80.01, 15},
    {DS_CONN_UTIL_PCT, 90, 15},     {DS_CONN_UTIL_PCT, 90.01, 25},  {DS_CONN_UTIL_PCT, 100, 25},
    {DS_FAILURE_RATE_PCT, 1, 0},    {DS_FAILURE_RATE_PCT, 1.001, 30}, {DS_FAILURE_RATE_PCT, 100, 30},
    {DS_SLOW_RATIO_PCT, 5, 0},      {DS_SLOW_RATIO_PCT, 5.01, 15},  {DS_SLOW_RATIO_PCT, 10, 15},
    {DS_SLOW_RATIO_PCT, 10.01, 25}, {DS_CACHE_HIT_PCT, 100, 0},     {DS_CACHE_HIT_PCT, 90, 0},
    {DS_CACHE_HIT_PCT, 89.99, 10},  {DS_CACHE_HIT_PCT, 85, 10},     {DS_CACHE_HIT_PCT, 84.99, 15},
    {DS_CACHE_HIT_PCT, 70, 15},     {DS_CACHE_HIT_PCT, 69.99, 25},  {DS_CACHE_HIT_PCT, 0, 25},
    {DS_INDEX_SCORE, 100, 0},       {DS_INDEX_SCORE, 90, 2},        {DS_INDEX_SCORE, 0, 20},
    {DS_INDEX_SCORE, 55, 9},
};

START_TEST(penalty_edges)
{
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        double got = 100 - score_of(edges[i].input, edges[i].value);
        ck_assert_msg(fabs(got - edges[i].points) < 1e-9, "input %d value %g: penalty %g, want %g",
                      edges[i].input, edges[i].value, got, edges[i].points);
    }
}
END_TEST

START_TEST(unknown_values_cost_nothing)
{
    /* The values say "terrible" but no rule may judge them without `have`. */
    dash_sample s;
    memset(&s, 0, sizeof s);
    s.v[DS_CONN_UTIL_PCT] = 100;
    s.v[DS_FAILURE_RATE_PCT] = 100;
    s.v[DS_CACHE_HIT_PCT] = 0;
    s.v[DS_INDEX_SCORE] = 0;
    dash_health h;
    alchdb__dash_score(&s, &h);
    ck_assert_double_eq(h.score, 100);
    ck_assert_int_eq(h.npen, 0);
    ck_assert_int_eq(h.grade, 'A');
    ck_assert_int_eq(h.status, ALCHDB_DASHBOARD_HEALTHY);
}
END_TEST

START_TEST(failure_replaces_slow)
{
    dash_sample s = one(DS_FAILURE_RATE_PCT, 5);
    s.v[DS_SLOW_RATIO_PCT] = 50;
    s.have[DS_SLOW_RATIO_PCT] = true;
    dash_health h;
    alchdb__dash_score(&s, &h);
    ck_assert_double_eq(h.score, 70);
    ck_assert_int_eq(h.npen, 1);
    ck_assert_str_eq(h.pen[0].id, "query_failure_rate");
    /* without failures, the slow tier applies */
    s.v[DS_FAILURE_RATE_PCT] = 0.5;
    alchdb__dash_score(&s, &h);
    ck_assert_double_eq(h.score, 75);
    ck_assert_str_eq(h.pen[0].id, "slow_query_ratio");
    ck_assert_double_eq(h.pen[0].threshold, 10);
    ck_assert_double_eq(h.pen[0].value, 50);
}
END_TEST

START_TEST(all_penalties_floor_at_zero)
{
    dash_sample s;
    memset(&s, 0, sizeof s);
    double vals[DS_N] = {[DS_CONN_UTIL_PCT] = 99, [DS_FAILURE_RATE_PCT] = 50,
                         [DS_CACHE_HIT_PCT] = 1, [DS_INDEX_SCORE] = 0};
    for (int k = 0; k < DS_N; k++) {
        s.v[k] = vals[k];
        s.have[k] = k == DS_CONN_UTIL_PCT || k == DS_FAILURE_RATE_PCT || k == DS_CACHE_HIT_PCT ||
                    k == DS_INDEX_SCORE;
    }
    dash_health h;
    alchdb__dash_score(&s, &h);
    ck_assert_double_eq(h.score, 0); /* 25 + 30 + 25 + 20 = 100 */
    ck_assert_int_eq(h.npen, 4);
    ck_assert_int_eq(h.status, ALCHDB_DASHBOARD_CRITICAL);
    ck_assert_int_eq(h.grade, 'F');
    for (int i = 0; i < h.npen; i++) {
        ck_assert_ptr_nonnull(h.pen[i].reason);
        ck_assert_ptr_nonnull(alchdb__dash_recs[h.pen[i].rec].text);
    }
}
END_TEST

START_TEST(status_and_grade_edges)
{
    static const struct {
        double score;
        int status;
        char grade;
    } t[] = {{100, ALCHDB_DASHBOARD_HEALTHY, 'A'}, {90, ALCHDB_DASHBOARD_HEALTHY, 'A'},
             {89.9, ALCHDB_DASHBOARD_HEALTHY, 'B'}, {80, ALCHDB_DASHBOARD_HEALTHY, 'B'},
             {79.9, ALCHDB_DASHBOARD_HEALTHY, 'C'}, {75, ALCHDB_DASHBOARD_HEALTHY, 'C'},
             {74.9, ALCHDB_DASHBOARD_WARNING, 'C'}, {70, ALCHDB_DASHBOARD_WARNING, 'C'},
             {69.9, ALCHDB_DASHBOARD_WARNING, 'D'}, {60, ALCHDB_DASHBOARD_WARNING, 'D'},
             {59.9, ALCHDB_DASHBOARD_WARNING, 'F'}, {50, ALCHDB_DASHBOARD_WARNING, 'F'},
             {49.9, ALCHDB_DASHBOARD_CRITICAL, 'F'}, {0, ALCHDB_DASHBOARD_CRITICAL, 'F'}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        ck_assert_int_eq(alchdb__dash_status_of(t[i].score), t[i].status);
        ck_assert_int_eq(alchdb__dash_grade(t[i].score), t[i].grade);
    }
    ck_assert_str_eq(alchdb__dash_status_name(ALCHDB_DASHBOARD_WARNING), "warning");
}
END_TEST

static long rule_index(const char *id)
{
    for (size_t i = 0; i < alchdb__dash_alert_nrules; i++)
        if (!strcmp(alchdb__dash_alert_rules[i].id, id))
            return (long)i;
    ck_abort_msg("no alert rule %s", id);
    return -1;
}

START_TEST(alert_hysteresis)
{
    dash_alert_state st[16];
    memset(st, 0, sizeof st);
    long crit = rule_index("conn_util_critical"), warn = rule_index("conn_util_warning");
    const int64_t S = 1000000, hold = 60 * S, clear = 120 * S;
    dash_sample hot = one(DS_CONN_UTIL_PCT, 95), cool = one(DS_CONN_UTIL_PCT, 10);

    alchdb__dash_alerts_step(st, &hot, 0, hold, clear);
    ck_assert(!st[crit].firing);
    alchdb__dash_alerts_step(st, &hot, 59 * S, hold, clear);
    ck_assert(!st[crit].firing); /* held 59 s < 60 s */
    alchdb__dash_alerts_step(st, &hot, 60 * S, hold, clear);
    ck_assert(st[crit].firing);
    ck_assert(st[warn].firing); /* 95 > 80 too: shown superseded, still tracked */
    ck_assert_int_eq(st[crit].fired_at, 60 * S);

    /* a short dip does not clear it, and re-arms the clear timer */
    alchdb__dash_alerts_step(st, &cool, 61 * S, hold, clear);
    alchdb__dash_alerts_step(st, &cool, 180 * S, hold, clear);
    ck_assert(st[crit].firing); /* 119 s false < 120 s */
    alchdb__dash_alerts_step(st, &hot, 181 * S, hold, clear);
    alchdb__dash_alerts_step(st, &cool, 182 * S, hold, clear);
    alchdb__dash_alerts_step(st, &cool, 301 * S, hold, clear);
    ck_assert(st[crit].firing); /* 119 s since the last true */
    alchdb__dash_alerts_step(st, &cool, 302 * S, hold, clear);
    ck_assert(!st[crit].firing);

    /* a flapping condition never fires */
    for (int i = 0; i < 20; i++)
        alchdb__dash_alerts_step(st, i % 2 ? &cool : &hot, (400 + 30 * i) * S, hold, clear);
    ck_assert(!st[crit].firing);
}
END_TEST

START_TEST(alerts_need_evidence)
{
    dash_alert_state st[16];
    memset(st, 0, sizeof st);
    dash_sample none;
    memset(&none, 0, sizeof none);
    none.v[DS_FAILURE_RATE_PCT] = 100; /* below the minimum of samples: have = false */
    for (int64_t t = 0; t < 10; t++)
        alchdb__dash_alerts_step(st, &none, t * 3600000000LL, 0, 0);
    for (size_t i = 0; i < alchdb__dash_alert_nrules; i++)
        ck_assert_msg(!st[i].firing, "%s fired without evidence", alchdb__dash_alert_rules[i].id);
}
END_TEST

START_TEST(alert_thresholds)
{
    static const struct {
        const char *id;
        int input;
        double quiet, loud;
    } t[] = {
        {"conn_util_critical", DS_CONN_UTIL_PCT, 90, 90.01},
        {"conn_util_warning", DS_CONN_UTIL_PCT, 80, 80.01},
        {"slow_query_critical", DS_SLOW_RATIO_PCT, 10, 10.01},
        {"query_failure_critical", DS_FAILURE_RATE_PCT, 1, 1.01},
        {"cache_hit_low", DS_CACHE_HIT_PCT, 80, 79.99},
        {"index_usage_low", DS_INDEX_USAGE_PCT, 95, 94.99},
        {"unused_indexes", DS_UNUSED_INDEXES, 0, 1},
        {"replica_down", DS_REPLICAS_DOWN, 0, 1},
        {"replica_lag_high", DS_MAX_LAG_S, 30, 30.001},
        {"replicas_all_excluded", DS_REPLICAS_ALL_OUT, 0, 1},
        {"xid_wraparound", DS_XID_AGE, 1e9, 1e9 + 1},
    };
    ck_assert_int_eq(sizeof t / sizeof t[0], alchdb__dash_alert_nrules);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        long k = rule_index(t[i].id);
        dash_alert_state st[16];
        memset(st, 0, sizeof st);
        dash_sample q = one(t[i].input, t[i].quiet), l = one(t[i].input, t[i].loud);
        alchdb__dash_alerts_step(st, &q, 0, 0, 0);
        ck_assert_msg(!st[k].firing, "%s fired at %g", t[i].id, t[i].quiet);
        alchdb__dash_alerts_step(st, &l, 1, 0, 0);
        ck_assert_msg(st[k].firing, "%s silent at %g", t[i].id, t[i].loud);
    }
}
END_TEST

START_TEST(recommendations_deduplicated)
{
    dash_alert_state st[16];
    memset(st, 0, sizeof st);
    dash_sample s = one(DS_CONN_UTIL_PCT, 95);
    alchdb__dash_alerts_step(st, &s, 0, 0, 0);
    dash_health h;
    alchdb__dash_score(&s, &h);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{");
    alchdb__dash_health_members(&sb, &h, st, &s);
    alchdb__sb_puts(&sb, "}");
    char *j = alchdb__sb_finish(&sb);
    ck_assert_ptr_nonnull(j);
    /* one penalty, one alert shown (the warning is superseded), one recommendation */
    const char *first = strstr(j, "\"pool_capacity\"");
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_null(strstr(first + 1, "\"pool_capacity\""));
    ck_assert_ptr_nonnull(strstr(j, "\"conn_util_critical\""));
    ck_assert_ptr_null(strstr(j, "\"conn_util_warning\""));
    ck_assert_ptr_nonnull(strstr(j, "\"priority\":\"critical\""));
    alchdb_free(j);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dashboard-rules");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, penalty_edges);
    tcase_add_test(tc, unknown_values_cost_nothing);
    tcase_add_test(tc, failure_replaces_slow);
    tcase_add_test(tc, all_penalties_floor_at_zero);
    tcase_add_test(tc, status_and_grade_edges);
    tcase_add_test(tc, alert_hysteresis);
    tcase_add_test(tc, alerts_need_evidence);
    tcase_add_test(tc, alert_thresholds);
    tcase_add_test(tc, recommendations_deduplicated);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
