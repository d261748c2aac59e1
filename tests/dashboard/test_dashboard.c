/* Dashboard black-box tests without servers: a monitor fed with recorded
 * executions on injected clocks, an in-process cache, every route of the
 * handler with good and bad input, and the Prometheus text's shape. */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "testutil.h"

#define P "/api/v1/database/performance/"
#define MIN 60000000LL

static int64_t now_us;
static int64_t clock_fn(void *ud)
{
    (void)ud;
    return now_us;
}

typedef struct answer {
    int status;
    const char *type;
    char *body;
    size_t len;
    json_t *json;
} answer;

static answer call(alchdb_dashboard *d, const char *method, const char *target, const char *body)
{
    answer a = {0};
    ck_assert_int_eq(alchdb_dashboard_handle(d, method, target, body, body ? strlen(body) : 0,
                                             &a.status, &a.type, &a.body, &a.len),
                     0);
    ck_assert_ptr_nonnull(a.body);
    ck_assert_uint_eq(strlen(a.body), a.len);
    if (strncmp(a.type, "application/json", 16) == 0) {
        json_error_t e;
        a.json = json_loads(a.body, 0, &e);
        ck_assert_msg(a.json != NULL, "%s %s: invalid JSON (%s): %.200s", method, target, e.text,
                      a.body);
    }
    return a;
}

static void done(answer *a)
{
    json_decref(a->json);
    alchdb_free(a->body);
}

/* The answer is the error envelope with this status and code. */
static void expect_error(alchdb_dashboard *d, const char *method, const char *target,
                         const char *body, int status, const char *code)
{
    answer a = call(d, method, target, body);
    ck_assert_msg(a.status == status, "%s %s: status %d, want %d: %s", method, target, a.status,
                  status, a.body);
    ck_assert_str_eq(json_string_value(json_object_get(a.json, "status")), "error");
    json_t *e = json_object_get(a.json, "error");
    ck_assert_str_eq(json_string_value(json_object_get(e, "code")), code);
    ck_assert(strlen(json_string_value(json_object_get(e, "message"))) > 0);
    done(&a);
}

/* The answer is the success envelope; returns its data (borrowed from a). */
static json_t *expect_ok(answer *a, int status)
{
    ck_assert_msg(a->status == status, "status %d, want %d: %.300s", a->status, status, a->body);
    ck_assert_str_eq(json_string_value(json_object_get(a->json, "status")), "success");
    ck_assert(json_object_get(a->json, "data") != NULL);
    return json_object_get(a->json, "data");
}

static alchdb_dashboard *mk(const char *const *kv)
{
    alchdb_dashboard_config *cfg = NULL;
    ck_assert_int_eq(alchdb_dashboard_config_new(&cfg), 0);
    for (size_t i = 0; kv && kv[i]; i += 2)
        ck_assert_msg(alchdb_dashboard_config_set_from_string(cfg, kv[i], kv[i + 1]) == 0, "%s: %s",
                      kv[i], alchdb_last_error_message());
    alchdb_dashboard *d = NULL;
    ck_assert_int_eq(alchdb_dashboard_new(cfg, &d), 0);
    alchdb_dashboard_config_free(cfg);
    ck_assert_int_eq(alchdb_dashboard_set_clock(d, clock_fn, NULL), 0);
    return d;
}

static alchdb_monitor *mk_monitor(void)
{
    alchdb_monitor *m = NULL;
    ck_assert_int_eq(alchdb_monitor_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_monitor_set_clock(m, clock_fn, NULL), 0);
    return m;
}

static void record(alchdb_monitor *m, const char *sql, int n, int64_t us, const char *sqlstate)
{
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, us, sqlstate), 0);
}

START_TEST(empty_dashboard)
{
    now_us = 1000 * MIN;
    alchdb_dashboard *d = mk(NULL);
    double score = -1;
    int status = -1;
    ck_assert_int_eq(alchdb_dashboard_health(d, &score, &status), 0);
    ck_assert_double_eq(score, 100);
    ck_assert_int_eq(status, ALCHDB_DASHBOARD_HEALTHY);

    answer a = call(d, "GET", P "dashboard", NULL);
    json_t *data = expect_ok(&a, 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(data, "health"), "grade")), "A");
    ck_assert(json_is_null(json_object_get(data, "queries")));
    ck_assert(json_is_null(json_object_get(data, "cache")));
    done(&a);

    /* every route whose module is missing: 404 with a JSON error, never a stub */
    static const char *const need[][2] = {
        {"GET", P "queries/slow"},        {"GET", P "queries/analysis"},
        {"GET", P "queries/patterns"},    {"GET", P "indexes/analysis"},
        {"GET", P "indexes/suggestions"}, {"GET", P "indexes/unused"},
        {"POST", P "indexes/optimize"},   {"GET", P "cache/stats"},
        {"POST", P "cache/clear"},        {"POST", P "cache/invalidate"},
        {"GET", P "connections"},         {"GET", P "connections/health"},
        {"GET", P "database/activity"},   {"POST", P "database/activity/cancel"},
        {"GET", P "database/connections"}, {"GET", P "database/maintenance"},
        {"GET", P "database/space"},      {"GET", P "queries/explain?id=0123456789abcdef"},
    };
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        expect_error(d, need[i][0], need[i][1], NULL, 404, "not_attached");

    a = call(d, "GET", P "health", NULL);
    data = expect_ok(&a, 200);
    ck_assert_double_eq(json_number_value(json_object_get(data, "score")), 100);
    done(&a);

    a = call(d, "GET", "/metrics", NULL);
    ck_assert_int_eq(a.status, 200);
    ck_assert_str_eq(a.type, "text/plain; version=0.0.4; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(a.body, "\nalchdb_health_score 100\n"));
    ck_assert_ptr_nonnull(strstr(a.body, "alchdb_alert_firing{alert=\"conn_util_critical\",severity=\"critical\"} 0\n"));
    ck_assert_ptr_null(strstr(a.body, "db_connections_active")); /* no pool: no family */
    done(&a);
    alchdb_dashboard_free(d);
}
END_TEST

START_TEST(bad_requests)
{
    now_us = 1000 * MIN;
    alchdb_dashboard *d = mk((const char *const[]){"max_body_size", "1KiB", NULL});
    alchdb_monitor *m = mk_monitor();
    ck_assert_int_eq(alchdb_dashboard_attach_monitor(d, m), 0);
    expect_error(d, "GET", "/nope", NULL, 404, "not_found");
    expect_error(d, "GET", P "dashboards", NULL, 404, "not_found");
    expect_error(d, "GET", "", NULL, 404, "not_found");
    expect_error(d, "POST", P "dashboard", NULL, 405, "method_not_allowed");
    expect_error(d, "GET", P "cache/clear", NULL, 405, "method_not_allowed");
    expect_error(d, "DELETE", P "dashboard", NULL, 405, "method_not_allowed");
    expect_error(d, "get", P "dashboard", NULL, 405, "method_not_allowed");
    expect_error(d, "GET", P "queries/slow?limit=0", NULL, 400, "bad_request");
    expect_error(d, "GET", P "queries/slow?limit=abc", NULL, 400, "bad_request");
    expect_error(d, "GET", P "queries/slow?limit=", NULL, 400, "bad_request");
    expect_error(d, "GET", P "queries/slow?limit=99999999999999999999", NULL, 400, "bad_request");
    expect_error(d, "GET", P "queries/patterns?limit=-1", NULL, 400, "bad_request");
    char big[2048];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_error(d, "GET", P "dashboard", big, 413, "payload_too_large");
    char *target = malloc(5000);
    memset(target, 'a', 4999);
    target[0] = '/';
    target[4999] = '\0';
    expect_error(d, "GET", target, NULL, 414, "uri_too_long");
    free(target);
    /* a trailing slash and a query string name the same route */
    answer a = call(d, "GET", P "queries/slow/?limit=5&x=%zz", NULL);
    expect_ok(&a, 200);
    done(&a);
    a = call(d, "HEAD", P "health", NULL);
    expect_ok(&a, 200);
    done(&a);

    /* NULL arguments: ALCHDB_E_INVALID naming the argument */
    int st;
    const char *ct;
    char *out = (char *)1;
    size_t len;
    ck_assert_int_eq(alchdb_dashboard_handle(NULL, "GET", "/", NULL, 0, &st, &ct, &out, &len),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "d"));
    ck_assert_int_eq(alchdb_dashboard_handle(d, NULL, "/", NULL, 0, &st, &ct, &out, &len),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "method"));
    ck_assert_int_eq(alchdb_dashboard_handle(d, "GET", NULL, NULL, 0, &st, &ct, &out, &len),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "path_and_query"));
    ck_assert_int_eq(alchdb_dashboard_handle(d, "GET", "/", NULL, 5, &st, &ct, &out, &len),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "body"));
    ck_assert_int_eq(alchdb_dashboard_handle(d, "GET", "/", NULL, 0, NULL, &ct, &out, &len),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_to_json(NULL, &out), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_to_json(d, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_metrics(NULL, &out), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_health_to_json(NULL, &out), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_health(NULL, NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_attach_pool(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_new(NULL, NULL), ALCHDB_E_INVALID);
    alchdb_dashboard_free(NULL);

    /* arbitrary bytes as targets and bodies: an answer, never a crash */
    unsigned seed = 7;
    for (int i = 0; i < 300; i++) {
        char buf[64];
        size_t n = (size_t)(rand_r(&seed) % 63);
        for (size_t k = 0; k < n; k++)
            buf[k] = (char)(rand_r(&seed) % 255 + 1);
        buf[n] = '\0';
        answer x = call(d, i % 2 ? "POST" : "GET", i % 3 ? buf : P "cache/invalidate", buf);
        ck_assert(x.status >= 200 && x.status < 600);
        done(&x);
    }
    alchdb_dashboard_free(d);
    alchdb_monitor_free(m);
}
END_TEST

static int64_t pick(const char *text, const char *line_prefix)
{
    const char *p = strstr(text, line_prefix);
    ck_assert_msg(p != NULL, "no line %s in:\n%s", line_prefix, text);
    return strtoll(p + strlen(line_prefix), NULL, 10);
}

START_TEST(monitor_rules_qps_trend_and_histogram)
{
    now_us = 1000 * MIN + 30000000; /* half-way through minute 1000 */
    alchdb_dashboard *d = mk(NULL);
    alchdb_monitor *m = mk_monitor();
    ck_assert_int_eq(alchdb_dashboard_attach_monitor(d, m), 0);

    /* minute 1000: 99 executions, 10 failing: below min_queries, no judgement */
    record(m, "SELECT * FROM users WHERE id = 1", 89, 800, NULL);
    record(m, "SELECT * FROM users WHERE id = 2", 10, 800, "57014");
    double score;
    ck_assert_int_eq(alchdb_dashboard_health(d, &score, NULL), 0);
    ck_assert_double_eq(score, 100);
    /* the 100th execution makes it count: 10 % failures */
    record(m, "INSERT INTO orders (id) VALUES (3)", 1, 20000, NULL);
    ck_assert_int_eq(alchdb_dashboard_health(d, &score, NULL), 0);
    ck_assert_double_eq(score, 70);

    /* one minute later: QPS of the last complete minute, per uptime */
    now_us = 1001 * MIN + 30000000;
    record(m, "UPDATE orders SET id = 4 WHERE id = 5", 20, 2000000, NULL);
    answer a = call(d, "GET", P "dashboard", NULL);
    json_t *data = expect_ok(&a, 200);
    json_t *qps = json_object_get(data, "qps");
    ck_assert_double_eq_tol(json_number_value(json_object_get(qps, "last_minute")), 100.0 / 60, 1e-3);
    ck_assert_double_eq_tol(json_number_value(json_object_get(qps, "uptime")), 120.0 / 60, 1e-3);
    json_t *minutes = json_object_get(json_object_get(json_object_get(data, "queries"), "trend"), "minutes");
    ck_assert_int_eq(json_array_size(minutes), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(minutes, 0), "calls")), 100);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(minutes, 1), "calls")), 20);
    ck_assert(json_number_value(json_object_get(json_array_get(minutes, 1), "mean_us")) >= 1.9e6);
    /* each point carries its window's p95 (what the page draws): minute 1000
     * is 99 executions of 800 us and one of 20 ms, so p95 800 us, mean 992 us */
    const json_t *m0 = json_array_get(minutes, 0);
    ck_assert_double_eq_tol(json_number_value(json_object_get(m0, "mean_us")), 992, 1);
    ck_assert_double_eq_tol(json_number_value(json_object_get(m0, "p95_us")), 800, 800 * 0.02);
    ck_assert_double_eq_tol(json_number_value(json_object_get(json_array_get(minutes, 1), "p95_us")), 2e6, 2e6 * 0.02);
    json_t *pen = json_object_get(json_object_get(data, "health"), "penalties");
    ck_assert_int_eq(json_array_size(pen), 1); /* failures replace the slow tier */
    json_t *p0 = json_array_get(pen, 0);
    ck_assert_str_eq(json_string_value(json_object_get(p0, "id")), "query_failure_rate");
    ck_assert_double_eq_tol(json_number_value(json_object_get(p0, "value")), 100.0 * 10 / 120, 1e-2);
    ck_assert(strlen(json_string_value(json_object_get(p0, "fix"))) > 10);
    done(&a);

    /* the Prometheus histogram: seed buckets, by operation and table */
    char *text = NULL;
    ck_assert_int_eq(alchdb_dashboard_metrics(d, &text), 0);
    ck_assert_int_eq(pick(text, "db_query_duration_seconds_bucket{operation=\"select\",table=\"users\",le=\"0.001\"} "), 99);
    ck_assert_int_eq(pick(text, "db_query_duration_seconds_bucket{operation=\"insert\",table=\"orders\",le=\"0.01\"} "), 0);
    ck_assert_int_eq(pick(text, "db_query_duration_seconds_bucket{operation=\"insert\",table=\"orders\",le=\"0.05\"} "), 1);
    ck_assert_int_eq(pick(text, "db_query_duration_seconds_bucket{operation=\"update\",table=\"orders\",le=\"1\"} "), 0);
    ck_assert_int_eq(pick(text, "db_query_duration_seconds_bucket{operation=\"update\",table=\"orders\",le=\"+Inf\"} "), 20);
    ck_assert_int_eq(pick(text, "db_query_duration_seconds_count{operation=\"update\",table=\"orders\"} "), 20);
    ck_assert_int_eq(pick(text, "alchdb_monitor_queries_total{result=\"error\"} "), 10);
    ck_assert_ptr_nonnull(strstr(text, "alchdb_monitor_pattern_calls_total{queryid=\""));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE db_query_duration_seconds histogram\n"));
    alchdb_free(text);

    /* query routes */
    a = call(d, "GET", P "queries/slow?limit=3", NULL);
    data = expect_ok(&a, 200);
    /* the monitor's slow log: the most recent, the slowest, the slowest per pattern */
    ck_assert_int_eq(json_array_size(json_object_get(data, "recent")), 3);
    ck_assert_int_eq(json_array_size(json_object_get(data, "slowest")), 3);
    ck_assert(json_is_array(json_object_get(data, "slowest_per_pattern")));
    done(&a);
    a = call(d, "GET", P "queries/patterns?limit=2", NULL);
    data = expect_ok(&a, 200);
    ck_assert_int_eq(json_array_size(data), 2);
    done(&a);
    a = call(d, "GET", P "queries/analysis", NULL);
    data = expect_ok(&a, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(data, "summary"), "calls")), 120);
    done(&a);

    /* the cardinality cap */
    alchdb_dashboard_free(d);
    d = mk((const char *const[]){"max_pattern_series", "1", NULL});
    ck_assert_int_eq(alchdb_dashboard_attach_monitor(d, m), 0);
    ck_assert_int_eq(alchdb_dashboard_metrics(d, &text), 0);
    const char *first = strstr(text, "alchdb_monitor_pattern_calls_total{");
    ck_assert_ptr_nonnull(first);
    ck_assert_ptr_null(strstr(first + 1, "alchdb_monitor_pattern_calls_total{"));
    ck_assert_ptr_nonnull(strstr(text, "db_query_duration_seconds_count{operation=\"other\",table=\"other\"} "));
    alchdb_free(text);
    alchdb_dashboard_free(d);
    alchdb_monitor_free(m);
}
END_TEST

static bool alert_shown(alchdb_dashboard *d, const char *id)
{
    answer a = call(d, "GET", P "health", NULL);
    json_t *data = expect_ok(&a, 200); /* 100 - 25 = 75: still healthy */
    ck_assert_double_eq(json_number_value(json_object_get(data, "score")), 75);
    bool found = false;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(data, "alerts"), i, x)
        found |= !strcmp(json_string_value(json_object_get(x, "id")), id);
    done(&a);
    return found;
}

START_TEST(alert_hysteresis_through_the_api)
{
    now_us = 2000 * MIN;
    alchdb_dashboard *d = mk((const char *const[]){"alert_for", "1m", "alert_clear_after", "2m", NULL});
    alchdb_monitor *m = mk_monitor();
    ck_assert_int_eq(alchdb_dashboard_attach_monitor(d, m), 0);
    record(m, "SELECT 1", 200, 100000, NULL); /* every execution slow (threshold 50 ms) */
    ck_assert(!alert_shown(d, "slow_query_critical"));
    now_us += 59000000;
    ck_assert(!alert_shown(d, "slow_query_critical"));
    now_us += 1000000;
    ck_assert(alert_shown(d, "slow_query_critical"));
    /* the executions leave the 5-minute health window: too few samples now,
     * the condition is false, and the alert clears 2 minutes later */
    now_us = 2005 * MIN + 1;
    answer a = call(d, "GET", P "health", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(expect_ok(&a, 200), "alerts")), 1);
    ck_assert_double_eq(json_number_value(json_object_get(json_object_get(a.json, "data"), "score")), 100);
    done(&a);
    now_us = 2007 * MIN; /* 1 us short of 2 minutes false */
    a = call(d, "GET", P "health", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(expect_ok(&a, 200), "alerts")), 1);
    done(&a);
    now_us = 2007 * MIN + 1;
    a = call(d, "GET", P "health", NULL);
    ck_assert_int_eq(json_array_size(json_object_get(expect_ok(&a, 200), "alerts")), 0);
    done(&a);
    alchdb_dashboard_free(d);
    alchdb_monitor_free(m);
}
END_TEST

START_TEST(cache_routes)
{
    now_us = 3000 * MIN;
    alchdb_dashboard *d = mk(NULL);
    alchdb_cache *c = NULL;
    ck_assert_int_eq(alchdb_cache_new(NULL, &c), 0);
    ck_assert_int_eq(alchdb_dashboard_attach_cache(d, c), 0);
    answer a = call(d, "GET", P "cache/stats", NULL);
    expect_ok(&a, 200);
    done(&a);
    a = call(d, "POST", P "cache/clear", NULL);
    ck_assert(json_is_true(json_object_get(expect_ok(&a, 200), "cleared")));
    done(&a);
    a = call(d, "POST", P "cache/invalidate", "{\"tables\":[\"users\",\"orders\"],\"tags\":[\"t1\"]}");
    json_t *data = expect_ok(&a, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(data, "tables")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(data, "tags")), 1);
    done(&a);
    ck_assert_int_eq(alchdb_cache_get_metrics(c, &(alchdb_cache_metrics){.size = 0}, sizeof(alchdb_cache_metrics)), 0);
    expect_error(d, "POST", P "cache/invalidate", "{", 400, "bad_request");
    expect_error(d, "POST", P "cache/invalidate", "[]", 400, "bad_request");
    expect_error(d, "POST", P "cache/invalidate", "{}", 400, "bad_request");
    expect_error(d, "POST", P "cache/invalidate", "{\"tables\":\"users\"}", 400, "bad_request");
    expect_error(d, "POST", P "cache/invalidate", "{\"tables\":[1]}", 400, "bad_request");
    expect_error(d, "POST", P "cache/invalidate", "{\"tables\":[\"\"]}", 400, "bad_request");
    expect_error(d, "POST", P "cache/invalidate", "{\"tags\":[\"a\\u0000b\"]}", 400, "bad_request");
    expect_error(d, "POST", P "cache/invalidate", "{\"tags\":[\"a\"],\"tags\":[\"b\"]}", 400, "bad_request");
    /* deeply nested legal JSON: refused by the parser's depth limit or as a wrong shape, not a crash */
    size_t depth = 100000;
    char *deep = malloc(2 * depth + 20);
    strcpy(deep, "{\"tables\":");
    size_t k = strlen(deep);
    for (size_t i = 0; i < depth; i++)
        deep[k++] = '[';
    for (size_t i = 0; i < depth; i++)
        deep[k++] = ']';
    deep[k++] = '}';
    deep[k] = '\0';
    alchdb_dashboard_config *cfg = NULL;
    ck_assert_int_eq(alchdb_dashboard_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_dashboard_config_set_int64(cfg, ALCHDB_DASHBOARD_OPT_MAX_BODY_SIZE, 1 << 20), 0);
    alchdb_dashboard *d2 = NULL;
    ck_assert_int_eq(alchdb_dashboard_new(cfg, &d2), 0);
    alchdb_dashboard_config_free(cfg);
    ck_assert_int_eq(alchdb_dashboard_attach_cache(d2, c), 0);
    expect_error(d2, "POST", P "cache/invalidate", deep, 400, "bad_request");
    free(deep);
    alchdb_dashboard_free(d2);

    char *text = NULL;
    ck_assert_int_eq(alchdb_dashboard_metrics(d, &text), 0);
    ck_assert_ptr_nonnull(strstr(text, "cache_hit_ratio{cache_type=\"memory\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "cache_operations_total{operation=\"get\",cache_type=\"memory\",status=\"hit\"} 0\n"));
    ck_assert_ptr_nonnull(strstr(text, "alchdb_cache_bypasses_total{reason=\""));
    alchdb_free(text);
    alchdb_dashboard_free(d);
    alchdb_cache_free(c);
}
END_TEST

/* Every line of the exposition is a comment of a known family or a sample
 * of the family announced last (a simplified promtool check). */
START_TEST(prometheus_text_shape)
{
    now_us = 4000 * MIN;
    alchdb_dashboard *d = mk(NULL);
    alchdb_monitor *m = mk_monitor();
    alchdb_cache *c = NULL;
    ck_assert_int_eq(alchdb_cache_new(NULL, &c), 0);
    ck_assert_int_eq(alchdb_dashboard_attach_monitor(d, m), 0);
    ck_assert_int_eq(alchdb_dashboard_attach_cache(d, c), 0);
    /* label values that need escaping, and invalid UTF-8 in a pattern text */
    record(m, "SELECT \"we\"\"ird\\\n\xff\" FROM \"t\"\"a\\b\"", 3, 10, NULL);
    char *text = NULL;
    ck_assert_int_eq(alchdb_dashboard_metrics(d, &text), 0);
    regex_t sample, help, type;
    ck_assert_int_eq(regcomp(&sample,
                             "^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\]|\\\\[\\\\\"n])*\",?)*\\})? "
                             "(-?[0-9]+(\\.[0-9]+)?(e[-+][0-9]+)?|\\+Inf|NaN)$",
                             REG_EXTENDED),
                     0);
    ck_assert_int_eq(regcomp(&help, "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* [^\n]+$", REG_EXTENDED), 0);
    ck_assert_int_eq(regcomp(&type, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter|histogram)$", REG_EXTENDED), 0);
    char family[128] = "";
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        regmatch_t mt[2];
        if (!strncmp(line, "# HELP", 6)) {
            ck_assert_msg(regexec(&help, line, 0, NULL, 0) == 0, "bad HELP: %s", line);
        } else if (!strncmp(line, "# TYPE", 6)) {
            ck_assert_msg(regexec(&type, line, 2, mt, 0) == 0, "bad TYPE: %s", line);
            snprintf(family, sizeof family, "%.*s", (int)(mt[1].rm_eo - mt[1].rm_so), line + mt[1].rm_so);
        } else {
            ck_assert_msg(regexec(&sample, line, 2, mt, 0) == 0, "bad sample: %s", line);
            ck_assert_msg(!strncmp(line, family, strlen(family)), "sample %s outside family %s", line, family);
        }
    }
    ck_assert_int_gt(lines, 30);
    regfree(&sample);
    regfree(&help);
    regfree(&type);
    alchdb_free(text);
    alchdb_dashboard_free(d);
    alchdb_monitor_free(m);
    alchdb_cache_free(c);
}
END_TEST

START_TEST(config_engine)
{
    alchdb_dashboard_config *cfg = NULL;
    ck_assert_int_eq(alchdb_dashboard_config_new(&cfg), 0);
    int64_t v = 0;
    ck_assert_int_eq(alchdb_dashboard_config_get_int64(cfg, ALCHDB_DASHBOARD_OPT_HEALTH_WINDOW, &v), 0);
    ck_assert_int_eq(v, 5 * MIN);
    ck_assert_int_eq(alchdb_dashboard_config_set_from_string(cfg, "HEALTH_WINDOW", "10m"), 0);
    ck_assert_int_eq(alchdb_dashboard_config_get_int64(cfg, ALCHDB_DASHBOARD_OPT_HEALTH_WINDOW, &v), 0);
    ck_assert_int_eq(v, 10 * MIN);
    ck_assert_int_eq(alchdb_dashboard_config_set_from_string(cfg, "health_window", "30s"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "health_window"));
    ck_assert_int_eq(alchdb_dashboard_config_set_from_string(cfg, "no_such", "1"), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_dashboard_config_set_int64(cfg, 99, 1), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_dashboard_config_set_int64(cfg, ALCHDB_DASHBOARD_OPT_MAX_PATTERN_SERIES, 1001), ALCHDB_E_INVALID);
    setenv("DASHTEST_MIN_QUERIES", "7", 1);
    ck_assert_int_eq(alchdb_dashboard_config_from_env(cfg, "DASHTEST"), 0);
    ck_assert_int_eq(alchdb_dashboard_config_get_int64(cfg, ALCHDB_DASHBOARD_OPT_MIN_QUERIES, &v), 0);
    ck_assert_int_eq(v, 7);
    unsetenv("DASHTEST_MIN_QUERIES");
    size_t n = 0;
    ck_assert_int_eq(alchdb_options_count("dashboard", &n), 0);
    ck_assert_int_eq(n, 10);
    alchdb_dashboard_config_free(cfg);
}
END_TEST

/* Handlers, scrapes and recorders at once (the TSan phase runs this). */
typedef struct worker {
    alchdb_dashboard *d;
    alchdb_monitor *m;
    int kind, port;
    int failures;
} worker;

static int http_get(int port, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got + 1 < cap && (r = read(fd, buf + got, cap - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    return (int)got;
}

static void *work(void *p)
{
    worker *w = p;
    char *buf = malloc(1 << 16);
    for (int i = 0; i < 40; i++) {
        if (w->kind == 0) {
            alchdb_monitor_record_simple(w->m, i % 2 ? "SELECT 1" : "SELECT * FROM t WHERE id = 3", 100 * i, NULL);
        } else if (w->kind == 1) {
            int st;
            const char *ct;
            char *out = NULL;
            size_t len;
            if (alchdb_dashboard_handle(w->d, "GET", i % 2 ? "/metrics" : P "dashboard", NULL, 0, &st, &ct,
                                        &out, &len) != 0 || st != 200)
                w->failures++;
            alchdb_free(out);
        } else if (http_get(w->port, i % 2 ? "/metrics" : P "health", buf, 1 << 16) <= 0 ||
                   !strstr(buf, " 200 ")) {
            w->failures++;
        }
    }
    free(buf);
    return NULL;
}

START_TEST(concurrent_handlers_and_listener)
{
    now_us = 5000 * MIN;
    alchdb_dashboard *d = mk(NULL);
    alchdb_monitor *m = mk_monitor();
    ck_assert_int_eq(alchdb_dashboard_attach_monitor(d, m), 0);
    alchdb_dashboard_listener *l = NULL;
    ck_assert_int_eq(alchdb_dashboard_listen(d, "127.0.0.1:0", NULL, &l), 0);
    int port = alchdb_dashboard_listener_port(l);
    ck_assert_int_gt(port, 0);
    pthread_t t[6];
    worker w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (worker){d, m, i % 3, port, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 6; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].failures, 0);
    }
    /* the page over HTTP; bad addresses and token files: ALCHDB_E_INVALID naming the argument */
    char buf[4096];
    ck_assert_int_gt(http_get(port, "/", buf, sizeof buf), 0);
    ck_assert_ptr_nonnull(strstr(buf, "text/html"));
    alchdb_dashboard_listener_stop(l);
    alchdb_dashboard_listener *bad = (alchdb_dashboard_listener *)1;
    ck_assert_int_eq(alchdb_dashboard_listen(d, "localhost:80", NULL, &bad), ALCHDB_E_INVALID);
    ck_assert_ptr_null(bad);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "address"));
    ck_assert_int_eq(alchdb_dashboard_listen(d, "127.0.0.1:99999", NULL, &bad), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_listen(d, "127.0.0.1:0", "/nonexistent/token", &bad), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "token_file"));
    alchdb_dashboard_listener_stop(NULL);
    alchdb_dashboard_free(d);
    alchdb_monitor_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dashboard");
    TCase *tc = tcase_create("handler");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, empty_dashboard);
    tcase_add_test(tc, bad_requests);
    tcase_add_test(tc, monitor_rules_qps_trend_and_histogram);
    tcase_add_test(tc, alert_hysteresis_through_the_api);
    tcase_add_test(tc, cache_routes);
    tcase_add_test(tc, prometheus_text_shape);
    tcase_add_test(tc, config_engine);
    tcase_add_test(tc, concurrent_handlers_and_listener);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
