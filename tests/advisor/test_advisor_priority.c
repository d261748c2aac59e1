/* The priority model of missing-index suggestions (lib/advisor/priority.c),
 * white-box: the workload share sets the level, a wide filter and a
 * write-heavy table lower it one step each, unplanned text is low, and the
 * reason names every factor. */
#include <check.h>
#include <string.h>

#include "advisor/adv.h"
#include "testutil.h"

static adv_table table = {.bytes = 8192000};

static adv_missing base(void)
{
    adv_missing m = {.table = &table, .workload_share = 0.30, .calls = 500, .saving_per_call = 120.5,
                     .selectivity = 0.001, .table_rows = 100000, .writes = 10, .reads = 400,
                     .est_bytes = 2000000, .table_bytes = 8192000};
    return m;
}

static void check(adv_missing *m, bool verified, bool planned, const char *priority, const char *needle)
{
    ck_assert_int_eq(alchdb__adv_prioritize(m, verified, planned), 0);
    ck_assert_str_eq(m->priority, priority);
    ck_assert_msg(m->why && strstr(m->why, needle), "%s: %s", needle, m->why ? m->why : "(null)");
    alchdb__free(m->why);
    m->why = NULL;
}

START_TEST(test_levels)
{
    adv_missing m = base();
    check(&m, true, true, "high", "saves 30.0 % of the workload's plan cost (500 call(s) x 120.5 per call)");
    m = base();
    check(&m, true, true, "high", "the filter keeps about 0.1 % of the table's 100000 rows");
    m = base();
    check(&m, true, true, "high", "10 row(s) written vs 400 scan(s)");
    m = base();
    check(&m, true, true, "high", "estimated index size 2000000 bytes, table 8192000 bytes");
    m = base();
    m.workload_share = 0.05;
    check(&m, true, true, "medium", "saves 5.0 %");
    m = base();
    m.workload_share = 0.001;
    check(&m, true, true, "low", "saves 0.1 %");
}
END_TEST

/* An index over a third of the table for an aggregate is not urgent
 * whatever its share of the workload; a write-heavy table lowers it too. */
START_TEST(test_costs_lower)
{
    adv_missing m = base();
    m.selectivity = 0.33;
    check(&m, true, true, "medium", "keeps about 33 % of the table's 100000 rows (a large share");
    m = base();
    m.writes = 100000;
    m.reads = 10;
    check(&m, true, true, "medium", "(write-heavy: every index adds work to each write; one step lower)");
    m = base();
    m.selectivity = 0.5;
    m.writes = 100000;
    check(&m, true, true, "low", "write-heavy");
    m = base();
    m.selectivity = 0.5;
    m.writes = 100000;
    m.workload_share = 0.02;
    check(&m, true, true, "low", "a large share");
    m = base();
    m.selectivity = -1;
    check(&m, true, true, "high", "scan(s) since"); /* unknown selectivity: not a factor */
    ck_assert_int_eq(alchdb__adv_prioritize(&m, true, true), 0);
    ck_assert_ptr_null(strstr(m.why, "filter keeps"));
    alchdb__free(m.why);
}
END_TEST

START_TEST(test_unverified)
{
    adv_missing m = base();
    check(&m, false, true, "high", "its statements are 30.0 % of the workload's plan cost (500 call(s)); saving not verified");
    m = base();
    check(&m, false, false, "low", "could not be planned");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("advisor-priority");
    TCase *tc = tcase_create("model");
    tcase_add_test(tc, test_levels);
    tcase_add_test(tc, test_costs_lower);
    tcase_add_test(tc, test_unverified);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
