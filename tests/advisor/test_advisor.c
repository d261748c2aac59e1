/* Advisor, unit: argument checks, options, script splitting (no server). */
#include <string.h>

#include <alchdb/alchdb.h>

#include "testutil.h"

START_TEST(test_config_args)
{
    ck_assert_int_eq(alchdb_advisor_config_new(NULL), ALCHDB_E_INVALID);
    alchdb_advisor_config *o = NULL;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(NULL, ALCHDB_ADVISOR_OPT_MAX_SUGGESTIONS, 1), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "cfg"));
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, 999, 1), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT, 0), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "min_gain_pct"));
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT, 100), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT, 25), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_CONNINFO, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_MAX_QUERIES, "x"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, "dbname=x"), 0);
    const char *ci = NULL;
    ck_assert_int_eq(alchdb_advisor_config_get_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, &ci), 0);
    ck_assert_str_eq(ci, "dbname=x");
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "use_hypopg", "off"), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "use_hypopg", "maybe"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "max_suggestions", "12x"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "no_such_option", "1"), ALCHDB_E_NOTFOUND);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "no_such_option"));
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "Max_Suggestions", "5"), 0);
    /* Timeouts are durations: a unit is required, microseconds come back. */
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "lock_timeout", "2000"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "lock_timeout", "1.5s"), 0);
    int64_t v = 0;
    ck_assert_int_eq(alchdb_advisor_config_get_int64(o, ALCHDB_ADVISOR_OPT_LOCK_TIMEOUT, &v), 0);
    ck_assert_int_eq(v, 1500000);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "lock_timeout", "500us"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "statement_timeout", "0"), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(o, "max_index_bytes", "64MiB"), 0);
    ck_assert_int_eq(alchdb_advisor_config_get_int64(o, ALCHDB_ADVISOR_OPT_MAX_INDEX_BYTES, &v), 0);
    ck_assert_int_eq(v, 64 << 20);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, NULL, 1, 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "", 1, 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT 1", 0, 0), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "calls"));
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT 1", 1, -1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT 1", 3, 2.5), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_queries(o, NULL, 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_config_add_queries(o, "SELECT 1; SELEC oops; SELECT ';'", (size_t)-1), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_queries(o, "SELECT 1;\0 x", 12), ALCHDB_E_INVALID);
    alchdb_advisor_config_free(o);
    alchdb_advisor_config_free(NULL);
}
END_TEST

START_TEST(test_analyze_args)
{
    alchdb_advisor_report *r = (alchdb_advisor_report *)&r;
    ck_assert_int_eq(alchdb_advisor_analyze(NULL, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_null(r);
    alchdb_advisor_config *o = NULL;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_analyze(o, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_advisor_analyze(o, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "conninfo"));
    /* A server that is not there: a connect error, not a crash; no password in the message. */
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO,
                                                       "host=127.0.0.1 port=1 password=sekrit connect_timeout=2"),
                     0);
    ck_assert_int_eq(alchdb_advisor_analyze(o, &r), ALCHDB_E_CONNECT);
    ck_assert_ptr_null(r);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "sekrit"));
    ck_assert_int_eq(alchdb_advisor_apply(o, NULL, ALCHDB_ADVISOR_MISSING, 0), ALCHDB_E_INVALID);
    alchdb_advisor_config_free(o);

    char *s = (char *)&s;
    ck_assert_int_eq(alchdb_advisor_report_to_json(NULL, &s), ALCHDB_E_INVALID);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(alchdb_advisor_report_to_text(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_null(alchdb_advisor_report_script(NULL));
    ck_assert_int_eq(alchdb_advisor_report_count(NULL, ALCHDB_ADVISOR_MISSING), ALCHDB_E_INVALID);
    ck_assert_ptr_null(alchdb_advisor_report_item_sql(NULL, ALCHDB_ADVISOR_MISSING, 0));
    ck_assert_ptr_null(alchdb_advisor_report_note(NULL, 0));
    ck_assert_int_eq(alchdb_advisor_report_health(NULL), ALCHDB_E_INVALID);
    ck_assert(alchdb_advisor_report_index_usage_ratio(NULL) < 0);
    alchdb_advisor_report_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("advisor");
    TCase *tc = tcase_create("unit");
    tcase_add_test(tc, test_config_args);
    tcase_add_test(tc, test_analyze_args);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
