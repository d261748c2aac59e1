/* Query monitor unit tests: grouping, percentiles, windows, threshold,
 * redaction, eviction, labels, suggestions, N+1, regressions, bad input and
 * concurrent recording (suite 'threaded'). No server needed. */
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "testutil.h"

static alchdb_monitor *mk(alchdb_monitor_config *cfg)
{
    alchdb_monitor *m = NULL;
    ck_assert_int_eq(alchdb_monitor_new(cfg, &m), 0);
    ck_assert_ptr_nonnull(m);
    return m;
}

static alchdb_monitor_metrics stats(alchdb_monitor *m)
{
    alchdb_monitor_metrics st;
    ck_assert_int_eq(alchdb_monitor_get_metrics(m, &st, sizeof st), 0);
    return st;
}

static json_t *patterns(alchdb_monitor *m, int sort, int64_t limit, uint32_t flags)
{
    char *s = NULL;
    ck_assert_int_eq(alchdb_monitor_patterns_to_json(m, sort, limit, flags, &s), 0);
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    ck_assert_msg(j != NULL, "invalid JSON: %s", e.text);
    alchdb_free(s);
    return j;
}

static json_t *analysis(alchdb_monitor *m)
{
    char *s = NULL;
    ck_assert_int_eq(alchdb_monitor_analysis_to_json(m, 0, &s), 0);
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    ck_assert_msg(j != NULL, "invalid JSON: %s", e.text);
    alchdb_free(s);
    return j;
}

/* The whole slow-log document. */
static json_t *slowlog_doc(alchdb_monitor *m, int64_t limit)
{
    char *s = NULL;
    ck_assert_int_eq(alchdb_monitor_slow_log_to_json(m, limit, &s), 0);
    json_t *j = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(j);
    alchdb_free(s);
    return j;
}

/* Its "recent" list (newest first). */
static json_t *slowlog(alchdb_monitor *m)
{
    json_t *j = slowlog_doc(m, 0);
    json_t *r = json_object_get(j, "recent");
    ck_assert_ptr_nonnull(r);
    json_incref(r);
    json_decref(j);
    return r;
}

static int64_t jint(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(v != NULL, "missing key %s", k);
    return json_integer_value(v);
}

/* Distinct table names: libpg_query's fingerprint ignores numeric suffixes of
 * two or more digits on table names (partitions), so use letters. */
static const char *tname(int i, char buf[16])
{
    int k = 0;
    buf[k++] = 't';
    do {
        buf[k++] = (char)('a' + i % 26);
        i /= 26;
    } while (i && k < 14);
    buf[k] = '\0';
    return buf;
}

/* controllable clock */
static int64_t fake_now;
static int64_t fake_clock(void *ud)
{
    (void)ud;
    return __atomic_load_n(&fake_now, __ATOMIC_RELAXED);
}

START_TEST(test_config)
{
    alchdb_monitor_config *c = NULL;
    int64_t v;
    ck_assert_int_eq(alchdb_monitor_config_new(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
    ck_assert_int_eq(alchdb_monitor_config_get_int64(c, ALCHDB_MONITOR_OPT_SLOW_THRESHOLD, &v), 0);
    ck_assert_int_eq(v, 50000);
    ck_assert_int_eq(alchdb_monitor_config_get_int64(c, ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE, &v), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "slow_query_threshold", "75ms"), 0);
    ck_assert_int_eq(alchdb_monitor_config_get_int64(c, ALCHDB_MONITOR_OPT_SLOW_THRESHOLD, &v), 0);
    ck_assert_int_eq(v, 75000);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "SLOW_QUERY_THRESHOLD", "20ms"), 0);
    ck_assert_int_eq(alchdb_monitor_config_get_int64(c, ALCHDB_MONITOR_OPT_SLOW_THRESHOLD, &v), 0);
    ck_assert_int_eq(v, 20000);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "keep_parameters", "yes"), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "keep_parameters", "maybe"),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "slow_query_threshold", "fast"),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "slow_query_threshold"));
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "nope", "1"), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 1),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(c, 999, 1), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(NULL, 1, 1), ALCHDB_E_INVALID);
    alchdb_monitor_config_free(c);
    alchdb_monitor_config_free(NULL);
    alchdb_monitor_free(NULL);
}
END_TEST

START_TEST(test_grouping_in_lists_and_literals)
{
    alchdb_monitor *m = mk(NULL);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT * FROM t WHERE id IN (1,2,3)", 10, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT * FROM t WHERE id IN (4,5,6,7)", 20, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "select *  from t where id in (9)", 30, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT * FROM t WHERE id = 'x' -- c", 40, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT * FROM u WHERE id = 1", 50, NULL), 0);
    alchdb_monitor_metrics st = stats(m);
    ck_assert_int_eq(st.calls, 5);
    /* IN lists of constants of any length are one query (squashed, as
     * PostgreSQL 18 does); "= 'x'" is another, as in pg_stat_statements */
    ck_assert_int_eq(st.patterns, 3);
    int64_t parses = st.parses;
    /* already-seen texts and new literals of a known shape do not parse */
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT * FROM u WHERE id = 1", 5, NULL), 0);
    char sql[64];
    for (int i = 0; i < 100; i++) {
        snprintf(sql, sizeof sql, "SELECT * FROM u WHERE id = %d", i * 7919);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 5, NULL), 0);
    }
    st = stats(m);
    ck_assert_int_eq(st.parses, parses);
    ck_assert_int_eq(st.patterns, 3);
    json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 0, 0);
    ck_assert_int_eq(json_array_size(p), 3);
    json_t *top = json_array_get(p, 0);
    ck_assert_int_eq(jint(top, "calls"), 201);
    ck_assert_str_eq(json_string_value(json_object_get(top, "kind")), "parsed");
    /* normalized display text, literals gone */
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(top, "text")), "$1"));
    json_t *t = json_array_get(p, 1);
    ck_assert_int_eq(jint(t, "calls"), 3);
    ck_assert_int_eq(jint(t, "total_us"), 60);
    ck_assert_int_eq(jint(t, "min_us"), 10);
    ck_assert_int_eq(jint(t, "max_us"), 30);
    ck_assert_int_eq(jint(json_array_get(p, 2), "calls"), 1);
    json_decref(p);
    /* limit and another sort order */
    p = patterns(m, ALCHDB_MONITOR_SORT_MAX, 1, 0);
    ck_assert_int_eq(json_array_size(p), 1);
    ck_assert_int_eq(jint(json_array_get(p, 0), "max_us"), 50);
    json_decref(p);
    char *s = (char *)1;
    ck_assert_int_eq(alchdb_monitor_patterns_to_json(m, 99, 0, 0, &s), ALCHDB_E_INVALID);
    ck_assert_ptr_null(s);
    alchdb_monitor_free(m);
}
END_TEST

/* The literal-stripped key tells a literal from the jsonb operators ?, ?|
 * and ?&: "j 'a' ?" (no longer valid SQL: it stays unparsed) and "j ? 'a'"
 * once both stripped to "j ? ?", so whichever came first took the other's
 * records. Each must get its own pattern whatever the order. */
/* Statements pg_stat_statements (PostgreSQL 15) keeps apart get their own
 * patterns, whatever order they arrive in and through whichever cache path;
 * the deliberate merges stay merged. */
START_TEST(test_grouping_classes)
{
    static const char *const apart[][2] = {
        {"BEGIN", "BEGIN ISOLATION LEVEL SERIALIZABLE"},
        {"BEGIN READ ONLY", "BEGIN READ WRITE"},
        {"START TRANSACTION READ ONLY", "START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"},
        {"DO $$ BEGIN PERFORM 1; END $$", "DO $$ BEGIN PERFORM 2; END $$"},
        {"EXECUTE get_a(1)", "EXECUTE get_b(1)"},
        {"CREATE TABLE t1 AS SELECT 1", "CREATE TABLE t2 AS SELECT 1"},
        {"SELECT a FROM t", "SELECT a, a FROM t"},
        {"SELECT f(1)", "SELECT f(1, 2)"},
        {"SELECT 1", "SELECT 1, 2"},
        {"SELECT 1", "SELECT 'a'"},
        {"SELECT a, b FROM t", "SELECT b, a FROM t"},
        {"INSERT INTO t (k, v) VALUES (1, 2)", "INSERT INTO t (v, k) VALUES (1, 2)"},
        {"UPDATE t SET a = 1, b = 2", "UPDATE t SET b = 2, a = 1"},
        {"UPDATE t SET a = 1", "UPDATE t SET b = 1"},
        {"DELETE FROM t RETURNING a", "DELETE FROM t RETURNING b"},
        {"SELECT a, b FROM t ORDER BY 1", "SELECT a, b FROM t ORDER BY 2"},
        {"SELECT a, count(*) FROM t GROUP BY 1 ORDER BY 2", "SELECT a, count(*) FROM t GROUP BY 1 ORDER BY 1"},
        {"SELECT a FROM t ORDER BY a, 1", "SELECT a FROM t ORDER BY a, 2"},
        {"SELECT a FROM t LIMIT 5", "SELECT a FROM t LIMIT 5 OFFSET 10"},
        {"SELECT a FROM t WHERE p > 10", "SELECT a FROM t WHERE p > 10.5"},
        {"SELECT a FROM t WHERE id = 1", "SELECT a FROM t WHERE id IN (1, 2)"},
        {"SELECT a FROM t WHERE id = $1", "SELECT a FROM t WHERE id = $2"},
        {"SELECT a FROM t WHERE id = $1", "SELECT a FROM t WHERE id = 1"},
        {"SELECT CASE WHEN a > 1 THEN 1 END FROM t", "SELECT CASE WHEN a > 1 THEN 1 WHEN a > 2 THEN 2 END FROM t"},
        {"VALUES (1)", "VALUES (1, 2)"},
        {"SET work_mem = '4MB'", "SET work_mem = '8MB'"},
    };
    static const char *const together[][2] = {
        {"SELECT a FROM t WHERE id IN (1, 2, 3)", "SELECT a FROM t WHERE id IN (4, 5)"},
        {"SELECT a FROM t WHERE id = ANY(ARRAY[1, 2])", "SELECT a FROM t WHERE id = ANY(ARRAY[3, 4, 5])"},
        {"INSERT INTO t (k, v) VALUES (1, 2)", "INSERT INTO t (k, v) VALUES (3, 4), (5, 6)"},
        {"SELECT a FROM t WHERE id = 1", "select a  from t where id = 2 -- c"},
        {"SELECT 1 AS one", "SELECT 1 AS uno"},
        {"SELECT x.a FROM t x WHERE x.id = 1", "SELECT x.a FROM t AS x WHERE x.id = 7"},
        {"SELECT a FROM t ORDER BY a LIMIT 5", "SELECT a FROM t ORDER BY a LIMIT 50"},
        {"EXECUTE get_a(1)", "EXECUTE get_a(2)"},
    };
    for (int order = 0; order < 2; order++) {
        for (size_t i = 0; i < sizeof apart / sizeof apart[0]; i++) {
            alchdb_monitor *m = mk(NULL);
            ck_assert_int_eq(alchdb_monitor_record_simple(m, apart[i][order], 10, NULL), 0);
            ck_assert_int_eq(alchdb_monitor_record_simple(m, apart[i][1 - order], 10, NULL), 0);
            ck_assert_msg(stats(m).patterns == 2, "merged: [%s] and [%s]", apart[i][0], apart[i][1]);
            alchdb_monitor_free(m);
        }
        for (size_t i = 0; i < sizeof together / sizeof together[0]; i++) {
            alchdb_monitor *m = mk(NULL);
            ck_assert_int_eq(alchdb_monitor_record_simple(m, together[i][order], 10, NULL), 0);
            ck_assert_int_eq(alchdb_monitor_record_simple(m, together[i][1 - order], 10, NULL), 0);
            ck_assert_msg(stats(m).patterns == 1, "split: [%s] and [%s]", together[i][0], together[i][1]);
            alchdb_monitor_free(m);
        }
    }
}
END_TEST

START_TEST(test_text_key_literal_vs_operator)
{
    static const char *const pairs[][2] = {
        {"SELECT * FROM t WHERE j 'a' ?", "SELECT * FROM t WHERE j ? 'a'"},
        {"SELECT * FROM t WHERE j '{a}' ?|", "SELECT * FROM t WHERE j ?| '{a}'"},
        {"SELECT * FROM t WHERE j '{a}' ?&", "SELECT * FROM t WHERE j ?& '{a}'"},
        {"SELECT j ? 'a' FROM t", "SELECT j 'a' ? FROM t"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        alchdb_monitor *m = mk(NULL);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, pairs[i][0], 10, NULL), 0);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, pairs[i][1], 20, NULL), 0);
        alchdb_monitor_metrics st = stats(m);
        ck_assert_msg(st.patterns == 2, "'%s' and '%s' share a pattern", pairs[i][0], pairs[i][1]);
        ck_assert_int_eq(st.unparsed_patterns, 1);
        /* new literals of each shape still find their own pattern without parsing */
        int64_t parses = st.parses;
        ck_assert_int_eq(alchdb_monitor_record_simple(m, pairs[i][1], 30, NULL), 0);
        st = stats(m);
        ck_assert_int_eq(st.patterns, 2);
        ck_assert_int_eq(st.parses, parses);
        alchdb_monitor_free(m);
    }
}
END_TEST

/* Statements too deep to analyse safely share one "unanalysed" pattern
 * (also from a thread with a 256 KiB stack: tests/sql/test_deep.c). */
START_TEST(test_unanalysed_pattern)
{
    alchdb_monitor *m = mk(NULL);
    for (int shape = 0; shape < 2; shape++) {
        size_t n = 140000;
        char *sql = malloc(64 + n * 8);
        ck_assert_ptr_nonnull(sql);
        char *p = sql + sprintf(sql, shape ? "SELECT 'x'" : "SELECT 1");
        for (size_t k = 0; k < n; k++)
            p += sprintf(p, shape ? " || 'x'" : " + %d", (int)(k % 10));
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 100, NULL), 0);
        free(sql);
    }
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 1, NULL), 0);
    alchdb_monitor_metrics st = stats(m);
    ck_assert_int_eq(st.calls, 3);
    ck_assert_int_eq(st.patterns, 2);
    json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 0, 0);
    json_t *u = json_array_get(p, 0);
    ck_assert_str_eq(json_string_value(json_object_get(u, "kind")), "unanalysed");
    ck_assert_int_eq(jint(u, "calls"), 2);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(u, "text")), "too deeply"));
    json_decref(p);
    alchdb_monitor_free(m);
}
END_TEST

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

START_TEST(test_percentiles_accuracy)
{
    const int n = 20000;
    int64_t *v = malloc(sizeof *v * (size_t)n);
    srand(12345 + (unsigned)_i);
    for (int dist = 0; dist < 3; dist++) {
        alchdb_monitor *m = mk(NULL);
        for (int i = 0; i < n; i++) {
            double u = (rand() + 1.0) / ((double)RAND_MAX + 2.0);
            double x;
            if (dist == 0)
                x = 100 + u * 200000;                      /* uniform 0.1..200 ms */
            else if (dist == 1)
                x = -log(u) * 3000;                        /* exponential, mean 3 ms */
            else
                x = exp(7 + 1.5 * sqrt(-2 * log(u)) * cos(6.2831853 * rand() / RAND_MAX)); /* lognormal */
            v[i] = (int64_t)x + 1;
            ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", v[i], NULL), 0);
        }
        qsort(v, (size_t)n, sizeof *v, cmp64);
        alchdb_monitor_metrics st = stats(m);
        const double qs[] = {0.50, 0.90, 0.95, 0.99, 0.999};
        const int64_t got[] = {st.p50_us, st.p90_us, st.p95_us, st.p99_us, st.p999_us};
        for (int k = 0; k < 5; k++) {
            int64_t rank = (int64_t)ceil(qs[k] * n);
            int64_t exact = v[rank - 1];
            double rel = fabs((double)got[k] - (double)exact) / (double)exact;
            ck_assert_msg(rel <= 0.02 || llabs(got[k] - exact) <= 1,
                          "dist %d q %.3f: got %lld exact %lld (%.2f%%)", dist, qs[k],
                          (long long)got[k], (long long)exact, rel * 100);
        }
        ck_assert_int_eq(st.max_us, v[n - 1]);
        alchdb_monitor_free(m);
    }
    free(v);
}
END_TEST

START_TEST(test_threshold_exact)
{
    alchdb_monitor_config *c = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "slow_query_threshold", "50ms"), 0);
    alchdb_monitor *m = mk(c);
    alchdb_monitor_config_free(c);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 49999, NULL), 0);
    ck_assert_int_eq(stats(m).slow, 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 50000, NULL), 0);
    ck_assert_int_eq(stats(m).slow, 1);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 99999, NULL), 0); /* the Go 100 ms bug */
    alchdb_monitor_metrics st = stats(m);
    ck_assert_int_eq(st.slow, 2);
    ck_assert_int_eq(st.slow_log_entries, 2);
    json_t *l = slowlog(m);
    ck_assert_int_eq(json_array_size(l), 2);
    ck_assert_int_eq(jint(json_array_get(l, 0), "duration_us"), 99999); /* newest first */
    ck_assert_int_eq(jint(json_array_get(l, 1), "duration_us"), 50000);
    json_decref(l);
    alchdb_monitor_free(m);
}
END_TEST

START_TEST(test_slow_log_ring_bounded)
{
    alchdb_monitor_config *c = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE, 10), 0);
    alchdb_monitor *m = mk(c);
    alchdb_monitor_config_free(c);
    for (int i = 0; i < 25; i++)
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 100000 + i, NULL), 0);
    json_t *l = slowlog(m);
    ck_assert_int_eq(json_array_size(l), 10);
    ck_assert_int_eq(jint(json_array_get(l, 0), "duration_us"), 100024);
    ck_assert_int_eq(jint(json_array_get(l, 9), "duration_us"), 100015);
    json_decref(l);
    alchdb_monitor_free(m);
}
END_TEST

/* Five slots: a 10 s outlier stays among the slowest (overall and for its
 * pattern) after five 10 ms queries pushed it out of the recent ring. */
START_TEST(test_slow_log_keeps_outliers)
{
    alchdb_monitor_config *c = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE, 5), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(c, "slow_query_threshold", "5ms"), 0);
    alchdb_monitor *m = mk(c);
    alchdb_monitor_config_free(c);
    const char *labels[] = {"endpoint=/a,b", "job=nightly", "endpoint=/dup", "bare"};
    alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION, .sql = "SELECT * FROM big",
                              .sql_len = -1, .duration_us = 10000000, .rows = 3,
                              .labels = labels, .nlabels = 4};
    ck_assert_int_eq(alchdb_monitor_record(m, &q), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 2 FROM other", 20000, NULL), 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1 FROM small", 10000 + i, NULL), 0);
    json_t *d = slowlog_doc(m, 0);
    ck_assert_int_eq(jint(d, "slow_threshold_us"), 5000);
    json_t *recent = json_object_get(d, "recent");
    ck_assert_int_eq(json_array_size(recent), 5);
    ck_assert_int_eq(jint(json_array_get(recent, 0), "duration_us"), 10004); /* newest first */
    json_t *slowest = json_object_get(d, "slowest");
    ck_assert_int_eq(json_array_size(slowest), 5);
    json_t *top = json_array_get(slowest, 0);
    ck_assert_int_eq(jint(top, "duration_us"), 10000000); /* slowest first */
    ck_assert_int_eq(jint(json_array_get(slowest, 1), "duration_us"), 20000);
    ck_assert_int_eq(jint(json_array_get(slowest, 4), "duration_us"), 10002);
    /* labels as an object: commas in values survive, the first value of a key wins */
    json_t *l = json_object_get(top, "labels");
    ck_assert(json_is_object(l));
    ck_assert_str_eq(json_string_value(json_object_get(l, "endpoint")), "/a,b");
    ck_assert_str_eq(json_string_value(json_object_get(l, "job")), "nightly");
    ck_assert_str_eq(json_string_value(json_object_get(l, "bare")), "");
    ck_assert_int_eq(json_object_size(l), 3);
    json_t *per = json_object_get(d, "slowest_per_pattern");
    ck_assert_int_eq(json_array_size(per), 3);
    ck_assert_int_eq(jint(json_array_get(per, 0), "duration_us"), 10000000);
    ck_assert_int_eq(jint(json_array_get(per, 1), "duration_us"), 20000);
    ck_assert_int_eq(jint(json_array_get(per, 2), "duration_us"), 10004);
    json_decref(d);
    /* limit applies to each list */
    d = slowlog_doc(m, 1);
    ck_assert_int_eq(json_array_size(json_object_get(d, "recent")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(d, "slowest")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(d, "slowest_per_pattern")), 1);
    json_decref(d);
    /* a slower one replaces the fastest kept; equal durations keep the older */
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1 FROM small", 10002, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1 FROM small", 30000, NULL), 0);
    d = slowlog_doc(m, 0);
    slowest = json_object_get(d, "slowest");
    ck_assert_int_eq(jint(json_array_get(slowest, 1), "duration_us"), 30000);
    ck_assert_int_eq(jint(json_array_get(slowest, 4), "duration_us"), 10003);
    per = json_object_get(d, "slowest_per_pattern");
    ck_assert_int_eq(jint(json_array_get(per, 1), "duration_us"), 30000);
    json_decref(d);
    /* reset forgets all three */
    ck_assert_int_eq(alchdb_monitor_reset(m), 0);
    d = slowlog_doc(m, 0);
    ck_assert_int_eq(json_array_size(json_object_get(d, "recent")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(d, "slowest")), 0);
    ck_assert_int_eq(json_array_size(json_object_get(d, "slowest_per_pattern")), 0);
    json_decref(d);
    alchdb_monitor_free(m);
}
END_TEST

START_TEST(test_redaction)
{
    const char *q = "SELECT * FROM users WHERE email = 'alice@secret.example' AND pin = 4242";
    for (int keep = 0; keep <= 1; keep++) {
        alchdb_monitor_config *c = NULL;
        ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
        ck_assert_int_eq(alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_KEEP_PARAMETERS, keep), 0);
        alchdb_monitor *m = mk(c);
        alchdb_monitor_config_free(c);
        const char *labels[] = {"endpoint=/login"};
        alchdb_monitor_query qq = {.version = ALCHDB_MONITOR_QUERY_VERSION, .sql = q, .sql_len = -1,
                                   .duration_us = 80000, .rows = 1, .route = "replica",
                                   .labels = labels, .nlabels = 1};
        ck_assert_int_eq(alchdb_monitor_record(m, &qq), 0);
        char *s = NULL;
        ck_assert_int_eq(alchdb_monitor_slow_log_to_json(m, 0, &s), 0);
        if (keep) {
            ck_assert_ptr_nonnull(strstr(s, "alice@secret.example"));
        } else {
            ck_assert_ptr_null(strstr(s, "alice"));
            ck_assert_ptr_null(strstr(s, "4242"));
            ck_assert_ptr_nonnull(strstr(s, "$1"));
        }
        ck_assert_ptr_nonnull(strstr(s, "replica"));
        ck_assert_ptr_nonnull(strstr(s, "\"endpoint\":\"/login\""));
        alchdb_free(s);
        /* pattern texts are always redacted */
        ck_assert_int_eq(alchdb_monitor_patterns_to_json(m, 0, 0, 0, &s), 0);
        ck_assert_ptr_null(strstr(s, "alice"));
        alchdb_free(s);
        ck_assert_int_eq(alchdb_monitor_analysis_to_json(m, 0, &s), 0);
        ck_assert_ptr_null(strstr(s, "alice"));
        alchdb_free(s);
        alchdb_monitor_free(m);
    }
}
END_TEST

START_TEST(test_eviction_lru)
{
    alchdb_monitor_config *c = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 16), 0);
    alchdb_monitor *m = mk(c);
    alchdb_monitor_config_free(c);
    alchdb_monitor_set_clock(m, fake_clock, NULL);
    fake_now = 1700000000000000LL;
    char sql[64];
    for (int i = 0; i < 100; i++) {
        fake_now += 1000;
        char nb[16];
        snprintf(sql, sizeof sql, "SELECT a FROM table_%s", tname(i, nb));
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 10, NULL), 0);
        fake_now += 1000; /* keep table_0 the most recently used */
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT a FROM table_ta", 10, NULL), 0);
    }
    alchdb_monitor_metrics st = stats(m);
    ck_assert_int_eq(st.patterns, 16);
    ck_assert_int_eq(st.patterns_evicted, 100 - 16);
    ck_assert_int_eq(st.calls, 200); /* evicted patterns still count */
    ck_assert_int_eq(st.total_us, 2000);
    json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 1, 0);
    json_t *t = json_array_get(p, 0);
    ck_assert_int_eq(jint(t, "calls"), 101);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(t, "text")), "table_ta"));
    json_decref(p);
    /* the most recent one survived too */
    p = patterns(m, ALCHDB_MONITOR_SORT_LAST_SEEN, 2, 0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(json_array_get(p, 1), "text")), "table_tvd"));
    json_decref(p);
    alchdb_monitor_free(m);
}
END_TEST

static int64_t window_calls(json_t *arr, int64_t start)
{
    size_t i;
    json_t *w;
    json_array_foreach(arr, i, w) if (jint(w, "start_us") == start) return jint(w, "calls");
    return 0;
}

START_TEST(test_windows_rollover)
{
    alchdb_monitor *m = mk(NULL);
    ck_assert_int_eq(alchdb_monitor_set_clock(m, fake_clock, NULL), 0);
    const int64_t MIN = 60000000, HOUR = 60 * MIN;
    int64_t t0 = 1700000000000000LL / HOUR * HOUR; /* an hour boundary */
    fake_now = t0 + 5;
    for (int i = 0; i < 3; i++)
        alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL);
    fake_now = t0 + MIN - 1; /* still minute 0 */
    alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL);
    fake_now = t0 + MIN; /* minute 1 */
    alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL);
    alchdb_monitor_record_simple(m, "SELECT 2 FROM x", 100000, "57014");
    json_t *a = analysis(m);
    json_t *mins = json_object_get(json_object_get(a, "trend"), "minutes");
    ck_assert_int_eq(json_array_size(mins), 2);
    ck_assert_int_eq(window_calls(mins, t0), 4);
    ck_assert_int_eq(window_calls(mins, t0 + MIN), 2);
    json_t *w1 = json_array_get(mins, 1);
    ck_assert_int_eq(jint(w1, "errors"), 1);
    ck_assert_int_eq(jint(w1, "slow"), 1);
    json_t *hours = json_object_get(json_object_get(a, "trend"), "hours");
    ck_assert_int_eq(window_calls(hours, t0), 6);
    json_decref(a);
    /* 61 minutes later: minute windows of the first hour are gone, the hour stays */
    fake_now = t0 + 61 * MIN;
    alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL);
    a = analysis(m);
    mins = json_object_get(json_object_get(a, "trend"), "minutes");
    ck_assert_int_eq(json_array_size(mins), 1);
    ck_assert_int_eq(window_calls(mins, t0 + 61 * MIN), 1);
    hours = json_object_get(json_object_get(a, "trend"), "hours");
    ck_assert_int_eq(window_calls(hours, t0), 6);
    ck_assert_int_eq(window_calls(hours, t0 + HOUR), 1);
    json_decref(a);
    /* the same minute slot 60 minutes later is reset, not added to */
    fake_now = t0 + 121 * MIN;
    alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL);
    json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 1, ALCHDB_MONITOR_JSON_WINDOWS);
    mins = json_object_get(json_array_get(p, 0), "minutes");
    ck_assert_int_eq(json_array_size(mins), 1);
    ck_assert_int_eq(window_calls(mins, t0 + 121 * MIN), 1);
    json_t *hrs = json_object_get(json_array_get(p, 0), "hours");
    ck_assert_int_eq(json_array_size(hrs), 3);
    json_decref(p);
    /* a day later the hour windows have rolled over as well */
    fake_now = t0 + 25 * HOUR;
    alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL);
    a = analysis(m);
    hours = json_object_get(json_object_get(a, "trend"), "hours");
    ck_assert_int_eq(json_array_size(hours), 2); /* hour 2 and hour 25 */
    ck_assert_int_eq(window_calls(hours, t0), 0);
    ck_assert_int_eq(window_calls(hours, t0 + HOUR), 0);
    ck_assert_int_eq(window_calls(hours, t0 + 25 * HOUR), 1);
    json_decref(a);
    alchdb_monitor_free(m);
}
END_TEST

/* Exact quantile (rank ceil(q * n)) of a sorted array. */
static int64_t exact_q(const int64_t *v, int n, double q)
{
    int64_t rank = (int64_t)ceil(q * n);
    return v[(rank < 1 ? 1 : rank) - 1];
}

static void assert_close(const char *what, int64_t got, int64_t exact)
{
    double rel = fabs((double)got - (double)exact) / (double)exact;
    ck_assert_msg(rel <= 0.02 || llabs(got - exact) <= 1, "%s: got %lld exact %lld (%.2f%%)", what,
                  (long long)got, (long long)exact, rel * 100);
}

static json_t *window_at(json_t *arr, int64_t start)
{
    size_t i;
    json_t *w;
    json_array_foreach(arr, i, w) if (jint(w, "start_us") == start) return w;
    return NULL;
}

/* Per-window p50/p90/p95/p99: each pattern's minute and hour windows, and the
 * trend's windows over every pattern (including evicted ones), each against
 * the exact quantiles of what was recorded in that window. */
START_TEST(test_window_percentiles)
{
    alchdb_monitor_config *c = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 16), 0);
    alchdb_monitor *m = mk(c);
    alchdb_monitor_config_free(c);
    ck_assert_int_eq(alchdb_monitor_set_clock(m, fake_clock, NULL), 0);
    const int64_t MIN = 60000000, HOUR = 60 * MIN;
    int64_t t0 = 1700000000000000LL / HOUR * HOUR;
    enum { N = 4000 };
    static int64_t a0[N], b0[N], all0[2 * N], a1[N];
    srand(777);
    fake_now = t0 + 10;
    for (int i = 0; i < N; i++) { /* minute 0: A uniform 1..100 ms, B exponential mean 2 ms */
        double u = (rand() + 1.0) / ((double)RAND_MAX + 2.0);
        a0[i] = 1000 + (int64_t)(u * 99000);
        b0[i] = 1 + (int64_t)(-log(u) * 2000);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT a FROM wa", a0[i], NULL), 0);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT b FROM wb", b0[i], NULL), 0);
        all0[2 * i] = a0[i];
        all0[2 * i + 1] = b0[i];
    }
    fake_now = t0 + MIN + 10; /* minute 1: A only, ten times slower */
    for (int i = 0; i < N; i++) {
        a1[i] = a0[i] * 10;
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT a FROM wa", a1[i], NULL), 0);
    }
    qsort(a0, N, sizeof *a0, cmp64);
    qsort(b0, N, sizeof *b0, cmp64);
    qsort(all0, 2 * N, sizeof *all0, cmp64);
    qsort(a1, N, sizeof *a1, cmp64);
    static int64_t a01[2 * N];
    memcpy(a01, a0, sizeof a0);
    memcpy(a01 + N, a1, sizeof a1);
    qsort(a01, 2 * N, sizeof *a01, cmp64);
    const double qs[] = {0.50, 0.90, 0.95, 0.99};
    const char *names[] = {"p50_us", "p90_us", "p95_us", "p99_us"};

    /* the pattern's own windows */
    json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 0, ALCHDB_MONITOR_JSON_WINDOWS);
    json_t *pa = NULL, *pb = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(p, i, x)
    {
        const char *t = json_string_value(json_object_get(x, "text"));
        if (strstr(t, "wa"))
            pa = x;
        else if (strstr(t, "wb"))
            pb = x;
    }
    ck_assert_ptr_nonnull(pa);
    ck_assert_ptr_nonnull(pb);
    json_t *wa0 = window_at(json_object_get(pa, "minutes"), t0);
    json_t *wa1 = window_at(json_object_get(pa, "minutes"), t0 + MIN);
    json_t *wb0 = window_at(json_object_get(pb, "minutes"), t0);
    json_t *wah = window_at(json_object_get(pa, "hours"), t0);
    ck_assert_ptr_nonnull(wa0);
    ck_assert_ptr_nonnull(wa1);
    ck_assert_ptr_nonnull(wb0);
    ck_assert_ptr_nonnull(wah);
    ck_assert_int_eq(jint(wa0, "calls"), N);
    ck_assert_int_eq(jint(wa1, "calls"), N);
    for (int k = 0; k < 4; k++) {
        assert_close("pattern A minute 0", jint(wa0, names[k]), exact_q(a0, N, qs[k]));
        assert_close("pattern A minute 1", jint(wa1, names[k]), exact_q(a1, N, qs[k]));
        assert_close("pattern B minute 0", jint(wb0, names[k]), exact_q(b0, N, qs[k]));
        assert_close("pattern A hour 0", jint(wah, names[k]), exact_q(a01, 2 * N, qs[k]));
    }
    assert_close("pattern A p90 overall", jint(pa, "p90_us"), exact_q(a01, 2 * N, 0.90));
    json_decref(p);

    /* evict both patterns: the trend keeps their counts and percentiles */
    char sql[64], nb[16];
    for (int k = 0; k < 20; k++) {
        snprintf(sql, sizeof sql, "SELECT z FROM %s", tname(k, nb));
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 5000, NULL), 0);
    }
    ck_assert_int_ge(stats(m).patterns_evicted, 2);
    json_t *an = analysis(m);
    json_t *mins = json_object_get(json_object_get(an, "trend"), "minutes");
    json_t *t0w = window_at(mins, t0);
    ck_assert_ptr_nonnull(t0w);
    ck_assert_int_eq(jint(t0w, "calls"), 2 * N);
    for (int k = 0; k < 4; k++)
        assert_close("trend minute 0", jint(t0w, names[k]), exact_q(all0, 2 * N, qs[k]));
    json_t *sum = json_object_get(an, "summary");
    ck_assert_int_gt(jint(sum, "p90_us"), 0);
    ck_assert_int_le(jint(sum, "p90_us"), jint(sum, "p95_us"));
    json_decref(an);
    alchdb_monitor_free(m);
}
END_TEST

/* A wall clock that steps back an hour (or more) must not put the new
 * records into the slot of a newer window and wipe it. */
START_TEST(test_clock_step_back)
{
    alchdb_monitor *m = mk(NULL);
    ck_assert_int_eq(alchdb_monitor_set_clock(m, fake_clock, NULL), 0);
    const int64_t MIN = 60000000, HOUR = 60 * MIN;
    int64_t t0 = 1700000000000000LL / HOUR * HOUR;
    for (int step = 0; step < 3; step++) {
        const int64_t back[] = {60 * MIN, 61 * MIN, 24 * HOUR};
        ck_assert_int_eq(alchdb_monitor_reset(m), 0);
        fake_now = t0 + step * 48 * HOUR + 5 * MIN + 10;
        int64_t newer = fake_now / MIN * MIN;
        for (int i = 0; i < 3; i++)
            ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL), 0);
        fake_now -= back[step];
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 100, NULL), 0);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 2 FROM y", 100, NULL), 0);
        json_t *a = analysis(m);
        json_t *mins = json_object_get(json_object_get(a, "trend"), "minutes");
        json_t *w = window_at(mins, newer);
        ck_assert_msg(w != NULL, "step %d: the newer minute window is gone", step);
        ck_assert_int_eq(jint(w, "calls"), 5); /* counted in the newest window, none lost */
        ck_assert_int_eq(json_array_size(mins), 1);
        json_t *hours = json_object_get(json_object_get(a, "trend"), "hours");
        ck_assert_int_eq(json_array_size(hours), 1);
        ck_assert_int_eq(jint(json_array_get(hours, 0), "calls"), 5);
        ck_assert_int_eq(jint(json_object_get(a, "summary"), "calls"), 5);
        json_decref(a);
        json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 1, ALCHDB_MONITOR_JSON_WINDOWS);
        w = window_at(json_object_get(json_array_get(p, 0), "minutes"), newer);
        ck_assert_ptr_nonnull(w);
        ck_assert_int_eq(jint(w, "calls"), 4);
        json_decref(p);
    }
    alchdb_monitor_free(m);
}
END_TEST

/* With a clock that does not move (equal timestamps), the least recently
 * touched pattern is evicted, not the one in slot 0. */
START_TEST(test_eviction_tie_break)
{
    alchdb_monitor_config *c = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&c), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 16), 0);
    alchdb_monitor *m = mk(c);
    alchdb_monitor_config_free(c);
    ck_assert_int_eq(alchdb_monitor_set_clock(m, fake_clock, NULL), 0);
    fake_now = 1700000000000000LL; /* never moves */
    char sql[64], nb[16];
    for (int i = 0; i < 16; i++) {
        snprintf(sql, sizeof sql, "SELECT a FROM %s", tname(i, nb));
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 10, NULL), 0);
    }
    /* touch the first (slot 0) again, then make room for a new one */
    snprintf(sql, sizeof sql, "SELECT a FROM %s", tname(0, nb));
    ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 10, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT a FROM newcomer", 10, NULL), 0);
    ck_assert_int_eq(stats(m).patterns_evicted, 1);
    json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 0, 0);
    bool has0 = false, has1 = false;
    char t0name[16], t1name[16];
    snprintf(t0name, sizeof t0name, "FROM %s", tname(0, nb));
    snprintf(t1name, sizeof t1name, "FROM %s", tname(1, nb));
    size_t i;
    json_t *x;
    json_array_foreach(p, i, x)
    {
        const char *t = json_string_value(json_object_get(x, "text"));
        size_t tl = strlen(t);
        has0 |= tl >= strlen(t0name) && !strcmp(t + tl - strlen(t0name), t0name);
        has1 |= tl >= strlen(t1name) && !strcmp(t + tl - strlen(t1name), t1name);
    }
    ck_assert_msg(has0, "the just-touched pattern was evicted");
    ck_assert_msg(!has1, "the least recently touched pattern was kept");
    json_decref(p);
    alchdb_monitor_free(m);
}
END_TEST

START_TEST(test_bad_input)
{
    alchdb_monitor *m = mk(NULL);
    ck_assert_int_eq(alchdb_monitor_record_simple(NULL, "SELECT 1", 1, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, NULL, 1, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "sql"));
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "", 1, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "   \n\t -- only a comment", 1, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", -5, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "duration"));
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT 1", 1, "bad"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_record(m, NULL), ALCHDB_E_INVALID);
    alchdb_monitor_query q = {.version = 99, .sql = "SELECT 1", .sql_len = -1};
    ck_assert_int_eq(alchdb_monitor_record(m, &q), ALCHDB_E_INVALID);
    q.version = ALCHDB_MONITOR_QUERY_VERSION;
    q.nlabels = 2;
    ck_assert_int_eq(alchdb_monitor_record(m, &q), ALCHDB_E_INVALID);
    alchdb_monitor_metrics st = stats(m);
    ck_assert_int_eq(st.calls, 0);
    ck_assert_int_eq(st.rejected, 8); /* NULL mon is not counted anywhere */

    /* unparseable SQL: kept under an "unparsed" pattern keyed by its text hash */
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELEC wat FROM WHERE 'x'", 7, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELEC wat FROM WHERE 'y'", 9, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELEC other FROM", 9, NULL), 0);
    st = stats(m);
    ck_assert_int_eq(st.patterns, 2);
    ck_assert_int_eq(st.unparsed_patterns, 2);
    json_t *p = patterns(m, ALCHDB_MONITOR_SORT_CALLS, 0, 0);
    json_t *u = json_array_get(p, 0);
    ck_assert_str_eq(json_string_value(json_object_get(u, "kind")), "unparsed");
    ck_assert_int_eq(jint(u, "calls"), 2);
    ck_assert_ptr_null(strstr(json_string_value(json_object_get(u, "text")), "'x'"));
    json_decref(p);

    /* a 10 MB text: truncated for display, still grouped */
    size_t big = 10u << 20;
    char *s = malloc(big + 1);
    strcpy(s, "SELECT id FROM big WHERE id IN (");
    size_t n = strlen(s);
    while (n + 16 < big)
        n += (size_t)sprintf(s + n, "%zu,", n);
    strcpy(s + n, "1)");
    ck_assert_int_eq(alchdb_monitor_record_simple(m, s, 1000, NULL), 0);
    s[39] = s[39] == '7' ? '6' : '7'; /* other literals, same shape */
    ck_assert_int_eq(alchdb_monitor_record_simple(m, s, 1000, NULL), 0);
    st = stats(m);
    ck_assert_int_eq(st.patterns, 3);
    ck_assert_int_eq(st.truncated_texts, 1);
    p = patterns(m, ALCHDB_MONITOR_SORT_MAX, 1, 0);
    json_t *b = json_array_get(p, 0);
    ck_assert_int_eq(jint(b, "calls"), 2);
    ck_assert(json_is_true(json_object_get(b, "truncated")));
    ck_assert_uint_le(strlen(json_string_value(json_object_get(b, "text"))), 4096 + 3);
    ck_assert_int_eq(jint(b, "text_length"), (int64_t)strlen(s));
    json_decref(p);
    free(s);

    /* label flood: capped and counted */
    alchdb_monitor_config *c = NULL;
    alchdb_monitor_config_new(&c);
    alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_MAX_LABEL_VALUES, 100);
    alchdb_monitor *m2 = mk(c);
    alchdb_monitor_config_free(c);
    char lab[64];
    const char *labels[1] = {lab};
    for (int i = 0; i < 5000; i++) {
        snprintf(lab, sizeof lab, "request=%d", i);
        alchdb_monitor_query lq = {.version = ALCHDB_MONITOR_QUERY_VERSION, .sql = "SELECT 1",
                                   .sql_len = -1, .duration_us = 1, .labels = labels, .nlabels = 1};
        ck_assert_int_eq(alchdb_monitor_record(m2, &lq), 0);
    }
    st = stats(m2);
    ck_assert_int_eq(st.label_values, 100);
    ck_assert_int_eq(st.labels_dropped, 4900);
    ck_assert_int_eq(st.calls, 5000);
    alchdb_monitor_free(m2);
    alchdb_monitor_free(m);

    /* argument checks of the readers */
    char *o = (char *)1;
    ck_assert_int_eq(alchdb_monitor_analysis_to_json(NULL, 0, &o), ALCHDB_E_INVALID);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(alchdb_monitor_get_metrics(NULL, NULL, 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_reset(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_new(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_monitor_capture_plans(NULL, NULL, "x", 1, NULL), ALCHDB_E_INVALID);
}
END_TEST

static bool has_suggestion(alchdb_monitor *m, const char *sql, const char *code)
{
    alchdb_monitor_reset(m);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 10, NULL), 0);
    json_t *p = patterns(m, 0, 0, 0);
    json_t *s = json_object_get(json_array_get(p, 0), "suggestions");
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(s, i, v) found |= !strcmp(json_string_value(v), code);
    json_decref(p);
    return found;
}

START_TEST(test_suggestions)
{
    alchdb_monitor *m = mk(NULL);
    ck_assert(has_suggestion(m, "SELECT * FROM t WHERE id = 1", "select_star"));
    ck_assert(!has_suggestion(m, "SELECT a FROM t WHERE id = 1", "select_star"));
    ck_assert(has_suggestion(m, "SELECT a FROM t WHERE name LIKE '%son'", "leading_wildcard_like"));
    ck_assert(!has_suggestion(m, "SELECT a FROM t WHERE name LIKE 'son%'", "leading_wildcard_like"));
    ck_assert(has_suggestion(m, "SELECT a FROM t WHERE b = 1 ORDER BY a LIMIT 10 OFFSET 50000", "large_offset"));
    ck_assert(!has_suggestion(m, "SELECT a FROM t WHERE b = 1 ORDER BY a LIMIT 10 OFFSET 20", "large_offset"));
    ck_assert(has_suggestion(m, "UPDATE t SET a = 1", "write_without_where"));
    ck_assert(has_suggestion(m, "DELETE FROM t", "write_without_where"));
    ck_assert(!has_suggestion(m, "DELETE FROM t WHERE id = 3", "write_without_where"));
    ck_assert(has_suggestion(m, "SELECT a FROM t WHERE lower(email) = 'x'", "function_on_filtered_column"));
    ck_assert(!has_suggestion(m, "SELECT a FROM t WHERE email = lower('X')", "function_on_filtered_column"));
    ck_assert(has_suggestion(m, "SELECT a FROM t WHERE b = 2 ORDER BY random() LIMIT 1", "order_by_random"));
    ck_assert(has_suggestion(m, "SELECT a, b FROM t", "unbounded_result"));
    ck_assert(!has_suggestion(m, "SELECT a, b FROM t LIMIT 5", "unbounded_result"));
    ck_assert(!has_suggestion(m, "SELECT count(*) FROM t", "unbounded_result"));
    /* and they reach the analysis */
    alchdb_monitor_reset(m);
    alchdb_monitor_record_simple(m, "DELETE FROM t", 10, NULL);
    json_t *a = analysis(m);
    json_t *sg = json_object_get(a, "suggestions");
    ck_assert_int_eq(json_array_size(sg), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(sg, 0), "code")),
                     "write_without_where");
    json_decref(a);
    alchdb_monitor_free(m);
}
END_TEST

static bool has_rule(json_t *a, const char *rule, const char *severity)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(a, "recommendations"), i, v) {
        if (!strcmp(json_string_value(json_object_get(v, "rule")), rule) &&
            (!severity || !strcmp(json_string_value(json_object_get(v, "severity")), severity)))
            return true;
    }
    return false;
}

START_TEST(test_recommendations_and_errors)
{
    alchdb_monitor *m = mk(NULL);
    /* 100 calls: 7 slow (warning band), 2 failures (> 1 %) */
    for (int i = 0; i < 100; i++)
        alchdb_monitor_record_simple(m, "SELECT a FROM t WHERE id = 1", i < 7 ? 60000 : 1000,
                                     i >= 98 ? (i == 98 ? "40001" : "23505") : NULL);
    alchdb_monitor_record_simple(m, "SELECT a FROM t WHERE id = 1", 1000, "00000");
    json_t *a = analysis(m);
    json_t *sum = json_object_get(a, "summary");
    ck_assert_int_eq(jint(sum, "calls"), 101);
    ck_assert_int_eq(jint(sum, "errors"), 2);
    ck_assert_int_eq(jint(sum, "slow"), 7);
    ck_assert(has_rule(a, "slow_ratio", "warning"));
    ck_assert(!has_rule(a, "slow_ratio", "critical"));
    ck_assert(has_rule(a, "failure_rate", "critical"));
    ck_assert(!has_rule(a, "mean_time", NULL));
    json_t *top = json_array_get(json_object_get(a, "top_by_total_time"), 0);
    json_t *ec = json_object_get(top, "errors_by_class");
    ck_assert_int_eq(jint(ec, "40"), 1);
    ck_assert_int_eq(jint(ec, "23"), 1);
    json_decref(a);
    /* push the slow ratio past 10 % and the mean past 50 ms */
    for (int i = 0; i < 20; i++)
        alchdb_monitor_record_simple(m, "SELECT b FROM u", 500000, NULL);
    a = analysis(m);
    ck_assert(has_rule(a, "slow_ratio", "critical"));
    ck_assert(has_rule(a, "mean_time", NULL));
    ck_assert(has_rule(a, "hot_slow_pattern", NULL));
    json_decref(a);
    alchdb_monitor_free(m);
}
END_TEST

START_TEST(test_n_plus_one)
{
    alchdb_monitor *m = mk(NULL);
    alchdb_monitor_set_clock(m, fake_clock, NULL);
    fake_now = 1700000000000000LL;
    const char *job[] = {"job=render", "endpoint=/recipes"};
    char sql[64];
    for (int i = 0; i < 30; i++) { /* 30 single-row lookups within 30 ms */
        snprintf(sql, sizeof sql, "SELECT * FROM ingredient WHERE recipe_id = %d", i);
        alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION, .sql = sql, .sql_len = -1,
                                  .duration_us = 300, .rows = 1, .labels = job, .nlabels = 2};
        ck_assert_int_eq(alchdb_monitor_record(m, &q), 0);
        fake_now += 1000;
    }
    /* a different label, spread out: not a burst */
    const char *other[] = {"job=nightly"};
    for (int i = 0; i < 30; i++) {
        alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION, .sql = "SELECT 1 FROM b",
                                  .sql_len = -1, .duration_us = 300, .labels = other, .nlabels = 1};
        ck_assert_int_eq(alchdb_monitor_record(m, &q), 0);
        fake_now += 2000000;
    }
    json_t *a = analysis(m);
    json_t *n1 = json_object_get(a, "n_plus_one");
    ck_assert_int_eq(json_array_size(n1), 1);
    json_t *e = json_array_get(n1, 0);
    ck_assert_int_eq(jint(e, "bursts"), 2); /* one per label */
    ck_assert_int_eq(jint(e, "max_burst"), 30);
    ck_assert_int_eq(jint(json_array_get(json_object_get(e, "labels"), 0), "bursts"), 1);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "text")), "ingredient"));
    ck_assert_int_eq(json_array_size(json_object_get(e, "labels")), 2);
    ck_assert(has_rule(a, "n_plus_one", NULL));
    json_decref(a);
    alchdb_monitor_free(m);
}
END_TEST

START_TEST(test_regression)
{
    alchdb_monitor *m = mk(NULL);
    alchdb_monitor_set_clock(m, fake_clock, NULL);
    fake_now = 1700000000000000LL;
    for (int i = 0; i < 200; i++) {
        alchdb_monitor_record_simple(m, "SELECT a FROM r WHERE id = 1", 1000 + i % 50, NULL);
        alchdb_monitor_record_simple(m, "SELECT a FROM steady WHERE id = 1", 1000 + i % 50, NULL);
        fake_now += 1000000;
    }
    json_t *a = analysis(m);
    ck_assert_int_eq(json_array_size(json_object_get(a, "regressions")), 0);
    json_decref(a);
    fake_now += 6 * 60000000LL; /* next regression window */
    for (int i = 0; i < 40; i++) {
        alchdb_monitor_record_simple(m, "SELECT a FROM r WHERE id = 1", 12000 + i, NULL);
        alchdb_monitor_record_simple(m, "SELECT a FROM steady WHERE id = 1", 1000 + i, NULL);
    }
    a = analysis(m);
    json_t *r = json_object_get(a, "regressions");
    ck_assert_int_eq(json_array_size(r), 1);
    json_t *e = json_array_get(r, 0);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(e, "text")), " r "));
    ck_assert_int_ge(jint(e, "current_p95_us"), 11500);
    ck_assert_int_le(jint(e, "baseline_p95_us"), 1100);
    ck_assert_int_eq(jint(e, "baseline_calls"), 200);
    json_decref(a);
    alchdb_monitor_free(m);
}
END_TEST

START_TEST(test_reset)
{
    alchdb_monitor *m = mk(NULL);
    alchdb_monitor_record_simple(m, "SELECT 1", 100000, NULL);
    alchdb_monitor_record_simple(m, "SELECT x FROM y", 10, "42P01");
    ck_assert_int_eq(alchdb_monitor_reset(m), 0);
    alchdb_monitor_metrics st = stats(m);
    ck_assert_int_eq(st.calls, 0);
    ck_assert_int_eq(st.patterns, 0);
    ck_assert_int_eq(st.slow_log_entries, 0);
    /* still works after reset, and a cached text is not credited to a stale pattern */
    alchdb_monitor_record_simple(m, "SELECT 1", 5, NULL);
    st = stats(m);
    ck_assert_int_eq(st.calls, 1);
    ck_assert_int_eq(st.patterns, 1);
    alchdb_monitor_free(m);
}
END_TEST

#define NTHREADS 8
/* The sanitizers and valgrind look for races and leaks, not volume: they run
 * this 10-50 times slower, which on a loaded 2-core machine passed the test's
 * timeout (TSan) or took minutes (valgrind: CK_TIMEOUT_MULTIPLIER is set). */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define PER_THREAD_FULL 4000
#else
#define PER_THREAD_FULL 20000
#endif
static int per_thread = PER_THREAD_FULL;
#define PER_THREAD per_thread
static alchdb_monitor *shared;
static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    char sql[96], lab[32];
    const char *labels[1] = {lab};
    for (int i = 0; i < PER_THREAD; i++) {
        char nb[16];
        snprintf(sql, sizeof sql, "SELECT v FROM tab_%s WHERE k = %d", tname(i % 40, nb),
                 (i * 31 + id) % 500);
        snprintf(lab, sizeof lab, "worker=%d", id);
        alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION, .sql = sql, .sql_len = -1,
                                  .duration_us = (i % 100) * 1000, .rows = 1,
                                  .sqlstate = i % 50 == 0 ? "57014" : NULL,
                                  .labels = labels, .nlabels = 1};
        if (alchdb_monitor_record(shared, &q) != 0)
            return (void *)1;
        if (id == 0 && i % 5000 == 0) { /* readers run concurrently */
            char *s = NULL;
            if (alchdb_monitor_analysis_to_json(shared, 5, &s) != 0)
                return (void *)1;
            alchdb_free(s);
        }
    }
    return NULL;
}

START_TEST(test_concurrent_recording)
{
    per_thread = test_slowdown() > 1 ? 4000 : PER_THREAD_FULL;
    alchdb_monitor_config *c = NULL;
    alchdb_monitor_config_new(&c);
    alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 32); /* forces eviction races */
    alchdb_monitor_config_set_int64(c, ALCHDB_MONITOR_OPT_TEXT_CACHE_SIZE, 256);
    shared = mk(c);
    alchdb_monitor_config_free(c);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i);
    for (int i = 0; i < NTHREADS; i++) {
        void *rv;
        pthread_join(t[i], &rv);
        ck_assert_ptr_null(rv);
    }
    alchdb_monitor_metrics st = stats(shared);
    ck_assert_int_eq(st.calls, (int64_t)NTHREADS * PER_THREAD);
    ck_assert_int_eq(st.errors, (int64_t)NTHREADS * PER_THREAD / 50);
    ck_assert_int_eq(st.slow, (int64_t)NTHREADS * PER_THREAD / 2);
    ck_assert_int_eq(st.patterns, 32);
    ck_assert_int_eq(st.label_values, NTHREADS);
    ck_assert_int_eq(st.rejected, 0);
    alchdb_monitor_free(shared);
}
END_TEST

/* parse_queue_size > 0: never-seen shapes are parsed by the background
 * thread; every record is counted once read, and a full queue drops and
 * counts instead of blocking. */
START_TEST(test_background_parse_queue)
{
    alchdb_monitor_config *cfg;
    ck_assert_int_eq(alchdb_monitor_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(cfg, "parse_queue_size", "256"), 0);
    alchdb_monitor *m = mk(cfg);
    char sql[128];
    for (int i = 0; i < 50; i++) {
        snprintf(sql, sizeof sql, "SELECT c%d FROM t%d WHERE id = 1", i, i);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 100 + i, NULL), 0);
    }
    ck_assert_int_eq(alchdb_monitor_flush(m), 0);
    alchdb_monitor_metrics st = stats(m);
    ck_assert_int_eq(st.calls, 50);
    ck_assert_int_eq(st.patterns, 50);
    ck_assert_int_eq(st.parse_queued, 50);
    ck_assert_int_eq(st.parse_queue_dropped, 0);
    /* known shapes never queue */
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT c3 FROM t3 WHERE id = 1", 7, NULL), 0);
    st = stats(m);
    ck_assert_int_eq(st.calls, 51);
    ck_assert_int_eq(st.parse_queued, 50);
    alchdb_monitor_free(m);

    /* a queue of one under a flood of new shapes: drops are counted, nothing blocks */
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(cfg, "parse_queue_size", "1"), 0);
    m = mk(cfg);
    for (int i = 0; i < 300; i++) {
        snprintf(sql, sizeof sql, "SELECT d%d FROM u%d WHERE id = 1", i, i);
        ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 10, NULL), 0);
    }
    st = stats(m);
    ck_assert_int_eq(st.calls + st.parse_queue_dropped, 300);
    ck_assert_int_eq(st.parse_queued + st.parse_queue_dropped, 300);
    alchdb_monitor_free(m); /* frees whatever is still queued */
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(cfg, "parse_queue_size", "-1"), ALCHDB_E_INVALID);
    alchdb_monitor_config_free(cfg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("monitor");
    TCase *tc = tcase_create("monitor");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_config);
    tcase_add_test(tc, test_grouping_in_lists_and_literals);
    tcase_add_test(tc, test_grouping_classes);
    tcase_add_test(tc, test_text_key_literal_vs_operator);
    tcase_add_test(tc, test_unanalysed_pattern);
    tcase_add_loop_test(tc, test_percentiles_accuracy, 0, 2);
    tcase_add_test(tc, test_threshold_exact);
    tcase_add_test(tc, test_slow_log_ring_bounded);
    tcase_add_test(tc, test_slow_log_keeps_outliers);
    tcase_add_test(tc, test_redaction);
    tcase_add_test(tc, test_eviction_lru);
    tcase_add_test(tc, test_windows_rollover);
    tcase_add_test(tc, test_window_percentiles);
    tcase_add_test(tc, test_clock_step_back);
    tcase_add_test(tc, test_eviction_tie_break);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_suggestions);
    tcase_add_test(tc, test_recommendations_and_errors);
    tcase_add_test(tc, test_n_plus_one);
    tcase_add_test(tc, test_regression);
    tcase_add_test(tc, test_reset);
    tcase_add_test(tc, test_concurrent_recording);
    tcase_add_test(tc, test_background_parse_queue);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
