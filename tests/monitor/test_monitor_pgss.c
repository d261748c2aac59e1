/* Monitor against PostgreSQL itself: a workload run with plain libpq (literal
 * texts, parameters, IN lists of varying lengths) is recorded into a monitor
 * and compared with pg_stat_statements on the rig's primary. Every
 * pg_stat_statements entry must map to exactly one monitor pattern, and call
 * counts must agree (the monitor may merge entries PG keeps apart, never
 * split one). Also: EXPLAIN plan capture for a slow pattern. */
#include <jansson.h>
#include <stdbool.h>
#include <unistd.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "internal.h"
#include "sql/sql_internal.h"
#include "monitor/monitor_internal.h"
#include "pgtest.h"
#include "testutil.h"


/* Run one statement through the client; the client records it into the
 * monitor attached to it (alchdb_client_set_monitor). */
static void run(alchdb_monitor *m, alchdb_client *cl, const char *sql, int np, const char *const *params)
{
    (void)m;
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec_flags(cl, sql, np, params, ALCHDB_EXEC_UNPREPARED, &r);
    ck_assert_msg(rc == 0, "%s: %s", sql, alchdb_last_error_message());
    alchdb_result_free(r);
}

START_TEST(test_matches_pg_stat_statements)
{
    PGconn *c = pgtest_connect();
    pgtest_exec(c, "CREATE TABLE IF NOT EXISTS mon_pgss_w (id int PRIMARY KEY, v text, n int)");
    pgtest_exec(c, "TRUNCATE mon_pgss_w");
    pgtest_exec(c, "INSERT INTO mon_pgss_w SELECT g, 'v' || g, g % 7 FROM generate_series(1, 1000) g");
    pgtest_exec(c, "SELECT pg_stat_statements_reset()");

    alchdb_monitor *m = NULL;
    ck_assert_int_eq(alchdb_monitor_new(NULL, &m), 0);
    alchdb_client *cl = NULL;
    ck_assert_int_eq(alchdb_client_open(test_env("ALCHDB_TEST_PRIMARY"), NULL, &cl), 0);
    ck_assert_int_eq(alchdb_client_set_monitor(cl, m), 0);
    char sql[512], p[8][16];
    const char *pv[8];
    for (int i = 0; i < 8; i++)
        pv[i] = p[i];
    int expected_runs = 0;
    for (int i = 0; i < 240; i++) {
        snprintf(sql, sizeof sql, "SELECT v FROM mon_pgss_w WHERE id = %d", i + 1);
        run(m, cl, sql, 0, NULL);
        /* same statement, other spelling: one PG entry, one pattern */
        snprintf(sql, sizeof sql, "select v  from mon_pgss_w where id=%d", i + 2);
        run(m, cl, sql, 0, NULL);
        /* IN lists of 1..8 literals: PG 15 keeps each length apart, we merge */
        int len = 1 + i % 8;
        int n = snprintf(sql, sizeof sql, "SELECT count(*) FROM mon_pgss_w WHERE id IN (");
        for (int k = 0; k < len; k++)
            n += snprintf(sql + n, sizeof sql - (size_t)n, "%s%d", k ? ", " : "", i * 3 + k);
        snprintf(sql + n, sizeof sql - (size_t)n, ")");
        run(m, cl, sql, 0, NULL);
        /* the same with parameters, lengths 2..4 */
        int plen = 2 + i % 3;
        n = snprintf(sql, sizeof sql, "SELECT count(*) FROM mon_pgss_w WHERE id IN (");
        for (int k = 0; k < plen; k++) {
            n += snprintf(sql + n, sizeof sql - (size_t)n, "%s$%d::int", k ? ", " : "", k + 1);
            snprintf(p[k], sizeof p[k], "%d", i + k);
        }
        snprintf(sql + n, sizeof sql - (size_t)n, ")");
        run(m, cl, sql, plen, pv);
        snprintf(p[0], sizeof p[0], "%d", i + 5);
        run(m, cl, "SELECT v, n FROM mon_pgss_w WHERE id = $1::int", 1, pv);
        snprintf(sql, sizeof sql, "UPDATE mon_pgss_w SET n = n + %d WHERE id = %d", i % 3, i + 1);
        run(m, cl, sql, 0, NULL);
        if (i % 4 == 0) {
            snprintf(sql, sizeof sql, "SELECT id FROM mon_pgss_w WHERE v LIKE '%%%d' ORDER BY id LIMIT 3", i);
            run(m, cl, sql, 0, NULL);
            expected_runs++;
        }
        expected_runs += 6;
    }

    PGresult *r = PQexec(c, "SELECT query, calls FROM pg_stat_statements "
                            "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                            "AND query LIKE '%mon_pgss_w%' AND query NOT LIKE '%pg_stat_statements%' "
                            "AND query NOT LIKE '%TRUNCATE%' AND query NOT LIKE 'CREATE%' "
                            "AND query NOT LIKE 'INSERT%'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    int rows = PQntuples(r);
    ck_assert_int_gt(rows, 5);

    char *js = NULL;
    ck_assert_int_eq(alchdb_monitor_patterns_to_json(m, ALCHDB_MONITOR_SORT_CALLS, 0, 0, &js), 0);
    json_t *pats = json_loads(js, 0, NULL);
    alchdb_free(js);
    ck_assert_ptr_nonnull(pats);
    size_t np = json_array_size(pats);
    int64_t pg_total = 0, ours_total = 0;
    for (int i = 0; i < rows; i++)
        pg_total += atoll(PQgetvalue(r, i, 1));
    for (size_t k = 0; k < np; k++)
        ours_total += json_integer_value(json_object_get(json_array_get(pats, k), "calls"));
    /* statement by statement grouping is compared in test_grouping_corpus */
    ck_assert_int_eq(ours_total, expected_runs);
    ck_assert_int_eq(pg_total, expected_runs);
    ck_assert_int_lt((int)np, rows); /* IN lists were merged */
    fprintf(stderr,
            "pg_stat_statements comparison: %d PG entries -> %zu monitor patterns, %lld calls on "
            "both sides\n",
            rows, np, (long long)pg_total);
    json_decref(pats);
    PQclear(r);
    alchdb_client_free(cl);
    alchdb_monitor_free(m);
    PQfinish(c);
}
END_TEST

/* An unprivileged login role that may read mon_plan_t; its conninfo in ci. */
static void planner_role(PGconn *c, char *ci, size_t cisz)
{
    char sql[512], role[64];
    snprintf(role, sizeof role, "mon_planner_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", role);
    PGresult *r = PQexec(c, sql);
    PQclear(r);
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN", role);
    pgtest_exec(c, sql);
    snprintf(sql, sizeof sql, "GRANT SELECT ON mon_plan_t TO %s", role);
    pgtest_exec(c, sql);
    snprintf(ci, cisz, "%s user=%s", test_env("ALCHDB_TEST_PRIMARY"), role);
}

static void drop_role(PGconn *c, const char *prefix)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP OWNED BY %s_%d CASCADE", prefix, (int)getpid());
    PGresult *r = PQexec(c, sql);
    PQclear(r);
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s_%d", prefix, (int)getpid());
    pgtest_exec(c, sql);
}

/* Planning evaluates IMMUTABLE functions of constants: a function planted by
 * an unprivileged role that writes a server file (lo_export) must never run with a
 * superuser's rights. Capture refuses a privileged session (nothing planned,
 * no side effect); as an unprivileged role the function runs without the
 * right to do harm (RESET ROLE gives nothing back) and the plan records the
 * error. */
START_TEST(test_plan_capture_untrusted)
{
    PGconn *c = pgtest_connect();
    pgtest_exec(c, "CREATE TABLE IF NOT EXISTS mon_plan_t (id int PRIMARY KEY, n int)");
    char planner[1024], sql[2048], evil[64], mark[256];
    /* the role of docs/monitor.md, made as written there */
    PGresult *r0 = PQexec(c, "DROP OWNED BY alchdb_planner CASCADE");
    PQclear(r0);
    r0 = PQexec(c, "DROP ROLE IF EXISTS alchdb_planner");
    PQclear(r0);
    pgtest_exec(c, "CREATE ROLE alchdb_planner LOGIN;");
    pgtest_exec(c, "GRANT SELECT ON ALL TABLES IN SCHEMA public TO alchdb_planner;");
    snprintf(planner, sizeof planner, "%s user=alchdb_planner", test_env("ALCHDB_TEST_PRIMARY"));
    snprintf(evil, sizeof evil, "mon_evil_%d", (int)getpid());
    snprintf(mark, sizeof mark, "/tmp/alchdb_mon_evil_%d", (int)getpid());
    unlink(mark);
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", evil);
    pgtest_exec(c, sql);
    snprintf(sql, sizeof sql, "DROP ROLE IF EXISTS %s", evil);
    PGresult *r = PQexec(c, sql);
    PQclear(r);
    snprintf(sql, sizeof sql, "CREATE ROLE %s", evil);
    pgtest_exec(c, sql);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s AUTHORIZATION %s", evil, evil);
    pgtest_exec(c, sql);
    snprintf(sql, sizeof sql, "SET ROLE %s", evil);
    pgtest_exec(c, sql);
    /* a large object of the attacker's, readable by anyone */
    r = PQexec(c, "SELECT pg_catalog.lo_from_bytea(0, 'planted')");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    char lo[32];
    snprintf(lo, sizeof lo, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    snprintf(sql, sizeof sql, "GRANT SELECT ON LARGE OBJECT %s TO PUBLIC", lo);
    pgtest_exec(c, sql);
    /* writing it to a server file needs a superuser (or pg_write_server_files) */
    snprintf(sql, sizeof sql,
             "CREATE FUNCTION %s.f() RETURNS int LANGUAGE plpgsql IMMUTABLE AS $f$ BEGIN "
             "PERFORM pg_catalog.lo_export(%s, '%s'); RETURN 3; END $f$",
             evil, lo, mark);
    pgtest_exec(c, sql);
    snprintf(sql, sizeof sql, "GRANT USAGE ON SCHEMA %s TO PUBLIC", evil);
    pgtest_exec(c, sql);
    pgtest_exec(c, "RESET ROLE");

    alchdb_monitor_config *cfg = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(cfg, "plan_capture_interval", "0"), 0);
    alchdb_monitor *m = NULL;
    ck_assert_int_eq(alchdb_monitor_new(cfg, &m), 0);
    alchdb_monitor_config_free(cfg);
    /* no arguments: the normalized text keeps the call constant, so the
     * planner folds it */
    snprintf(sql, sizeof sql, "SELECT id FROM mon_plan_t WHERE n = %s.f()", evil);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, sql, 900000, NULL), 0);
    int got = -1;
    /* as the superuser: refused */
    int rc = alchdb_monitor_capture_plans(m, NULL, test_env("ALCHDB_TEST_PRIMARY"), 5, &got);
    ck_assert_msg(rc == ALCHDB_E_STATE, "rc %d: %s", rc, alchdb_last_error_message());
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "superuser"));
    ck_assert_int_eq(got, 0);
    ck_assert_msg(access(mark, F_OK) != 0, "the planted function ran with superuser rights");
    /* the same through a pool of a superuser */
    alchdb_pool *pool = NULL;
    ck_assert_int_eq(alchdb_pool_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, &pool), 0);
    ck_assert_int_eq(alchdb_monitor_capture_plans(m, pool, NULL, 5, &got), ALCHDB_E_STATE);
    alchdb_pool_free(pool);
    ck_assert_msg(access(mark, F_OK) != 0, "the planted function ran with superuser rights");
    /* as an unprivileged role: planned, and the function may not do harm */
    ck_assert_msg(alchdb_monitor_capture_plans(m, NULL, planner, 5, &got) == 0, "%s",
                  alchdb_last_error_message());
    ck_assert_int_eq(got, 0);
    ck_assert_msg(access(mark, F_OK) != 0, "the planted function wrote a server file");
    char *js = NULL;
    ck_assert_int_eq(alchdb_monitor_patterns_to_json(m, 0, 0, 0, &js), 0);
    ck_assert_msg(strstr(js, "\"error\":") && strstr(js, "lo_export"), "%s", js);
    alchdb_free(js);
    alchdb_monitor_free(m);
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", evil);
    pgtest_exec(c, sql);
    drop_role(c, "mon_evil");
    pgtest_exec(c, "DROP OWNED BY alchdb_planner CASCADE");
    pgtest_exec(c, "DROP ROLE alchdb_planner");
    PQfinish(c);
}
END_TEST

START_TEST(test_plan_capture)
{
    PGconn *c = pgtest_connect();
    pgtest_exec(c, "CREATE TABLE IF NOT EXISTS mon_plan_t (id int PRIMARY KEY, n int)");
    pgtest_exec(c, "INSERT INTO mon_plan_t SELECT g, g % 10 FROM generate_series(1, 2000) g "
            "ON CONFLICT DO NOTHING");
    pgtest_exec(c, "ANALYZE mon_plan_t");
    char planner[1024];
    planner_role(c, planner, sizeof planner);
    alchdb_monitor_config *cfg = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(cfg, "plan_capture_interval", "1h"), 0);
    alchdb_monitor *m = NULL;
    ck_assert_int_eq(alchdb_monitor_new(cfg, &m), 0);
    alchdb_monitor_config_free(cfg);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT id FROM mon_plan_t WHERE n = 3", 90000, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT id FROM mon_plan_t WHERE id = 3", 10, NULL), 0);
    int got = -1;
    ck_assert_msg(alchdb_monitor_capture_plans(m, NULL, planner, 5, &got) == 0,
                  "%s", alchdb_last_error_message());
    ck_assert_int_eq(got, 1); /* only the slow pattern */
    /* rate-limited: a second run right away does nothing */
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT n FROM mon_plan_t WHERE n > 1", 90000, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_capture_plans(m, NULL, planner, 5, &got), 0);
    ck_assert_int_eq(got, 0);
    char *js = NULL;
    ck_assert_int_eq(alchdb_monitor_patterns_to_json(m, ALCHDB_MONITOR_SORT_MAX, 0, 0, &js), 0);
    json_t *p = json_loads(js, 0, NULL);
    alchdb_free(js);
    json_t *plan = NULL;
    int with_plan = 0;
    for (size_t k = 0; k < json_array_size(p); k++) {
        json_t *pt = json_array_get(p, k);
        if (json_object_get(pt, "plan")) {
            with_plan++;
            plan = json_object_get(pt, "plan");
            ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(pt, "text")), "n = $1"));
        }
    }
    ck_assert_int_eq(with_plan, 1);
    json_t *seq = json_object_get(plan, "seq_scans");
    ck_assert_int_eq(json_array_size(seq), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(seq, 0), "relation")), "mon_plan_t");
    ck_assert_ptr_nonnull(json_object_get(plan, "explain"));
    json_decref(p);
    /* "$5" in a comment or a string is not a parameter: the plan of the one
     * real parameter is captured */
    ck_assert_int_eq(alchdb_monitor_reset(m), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT id FROM mon_plan_t /* $5 */ WHERE n = 5 OR "
                                                     "$$ $7 $$ = 'x'", 90000, NULL), 0);
    ck_assert_msg(alchdb_monitor_capture_plans(m, NULL, planner, 5, &got) == 0, "%s",
                  alchdb_last_error_message());
    ck_assert_int_eq(got, 1);
    /* a bad conninfo: a clear error, no password shown */
    ck_assert_int_eq(alchdb_monitor_reset(m), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, "SELECT id FROM mon_plan_t WHERE n = 4", 90000, NULL), 0);
    ck_assert_int_eq(alchdb_monitor_capture_plans(m, NULL, "host=127.0.0.1 port=1 password=hunter2 connect_timeout=2", 1, &got),
                     ALCHDB_E_CONNECT);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "hunter2"));
    alchdb_monitor_free(m);
    drop_role(c, "mon_planner");
    PQfinish(c);
}
END_TEST

/* ---- grouping against pg_stat_statements' queryid, statement by statement */

typedef struct corpus_stmt {
    char *sql;
    char *merge_class; /* "-- merge:CLASS" marker, or NULL */
    uint64_t ours, qid;
    int tracked;       /* pg_stat_statements made one top-level entry */
} corpus_stmt;

/* Run sql on c, draining COPY ... TO STDOUT; false on an error. */
static bool run_stmt(PGconn *c, const char *sql, char *err, size_t errsz)
{
    PGresult *r = PQexec(c, sql);
    bool ok = true;
    for (; r; r = PQgetResult(c)) {
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_OUT) {
            char *buf;
            while (PQgetCopyData(c, &buf, 0) > 0)
                PQfreemem(buf);
        } else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
            snprintf(err, errsz, "%s", PQresultErrorMessage(r));
            ok = false;
        }
        PQclear(r);
    }
    return ok;
}

/* The corpus file: $ALCHDB_MONITOR_CORPUS (meson sets it), else the source tree's. */
static const char *corpus_path(void)
{
    const char *p = getenv("ALCHDB_MONITOR_CORPUS");
    return p && *p ? p : "tests/monitor/pgss_corpus.sql";
}

START_TEST(test_grouping_corpus)
{
    FILE *f = fopen(corpus_path(), "r");
    ck_assert_msg(f != NULL, "cannot open %s (set ALCHDB_MONITOR_CORPUS)", corpus_path());
    PGconn *admin = pgtest_connect();
    char db[64], sql[8192], err[512];
    snprintf(db, sizeof db, "mon_corpus_%d", (int)getpid());
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", db);
    pgtest_exec(admin, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s STRATEGY FILE_COPY", db);
    pgtest_exec(admin, sql);
    snprintf(sql, sizeof sql, "SELECT oid FROM pg_database WHERE datname = '%s'", db);
    PGresult *r = PQexec(admin, sql);
    ck_assert_int_eq(PQntuples(r), 1);
    char dboid[32];
    snprintf(dboid, sizeof dboid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    char ci[1024];
    snprintf(ci, sizeof ci, "%s dbname=%s", test_env("ALCHDB_TEST_PRIMARY"), db);
    PGconn *c = PQconnectdb(ci);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);

    alchdb_monitor_config *cfg = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 100000), 0);
    alchdb_monitor *m = NULL;
    ck_assert_int_eq(alchdb_monitor_new(cfg, &m), 0);
    alchdb_monitor_config_free(cfg);

    corpus_stmt *v = calloc(1000, sizeof *v);
    size_t n = 0, setup = 0;
    char line[8192];
    char reset[256], fetch[256];
    snprintf(reset, sizeof reset, "SELECT pg_stat_statements_reset(0, %s, 0)", dboid);
    snprintf(fetch, sizeof fetch,
             "SELECT queryid FROM pg_stat_statements WHERE dbid = %s AND toplevel", dboid);
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r'))
            line[--l] = '\0';
        if (!l || !strncmp(line, "--", 2))
            continue;
        if (line[0] == '!') {
            ck_assert_msg(run_stmt(c, line + 1, err, sizeof err), "setup %s: %s", line + 1, err);
            setup++;
            continue;
        }
        ck_assert(n < 1000);
        corpus_stmt *st = &v[n++];
        char *mark = strstr(line, " -- merge:");
        if (mark) {
            st->merge_class = strdup(mark + 10);
            *mark = '\0';
        }
        st->sql = strdup(line);
        pgtest_exec(admin, reset);
        ck_assert_msg(run_stmt(c, st->sql, err, sizeof err), "%s: %s", st->sql, err);
        r = PQexec(admin, fetch);
        ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        ck_assert_msg(PQntuples(r) <= 1, "%s: %d top-level entries", st->sql, PQntuples(r));
        if (PQntuples(r) == 1) {
            st->tracked = 1;
            st->qid = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        }
        PQclear(r);
        ck_assert_msg(alchdb__monitor_key_of(m, st->sql, strlen(st->sql), &st->ours) == 0, "%s: %s",
                      st->sql, alchdb_last_error_message());
    }
    fclose(f);

    /* merges: one pattern of ours holding statements PG keeps apart */
    size_t compared = 0, merges = 0, deliberate = 0, splits = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].tracked)
            continue;
        compared++;
        for (size_t j = 0; j < i; j++) {
            if (!v[j].tracked)
                continue;
            if (v[i].ours == v[j].ours && v[i].qid != v[j].qid) {
                bool ok = v[i].merge_class && v[j].merge_class &&
                          !strcmp(v[i].merge_class, v[j].merge_class);
                if (ok) {
                    deliberate++;
                } else {
                    merges++;
                    fprintf(stderr, "MERGE: [%s] and [%s]\n", v[j].sql, v[i].sql);
                }
            } else if (v[i].ours != v[j].ours && v[i].qid == v[j].qid) {
                splits++;
                fprintf(stderr, "split: [%s] and [%s]\n", v[j].sql, v[i].sql);
            }
        }
    }
    /* partition sizes */
    size_t pg_groups = 0, our_groups = 0;
    for (size_t i = 0; i < n; i++) {
        if (!v[i].tracked)
            continue;
        bool new_pg = true, new_ours = true;
        for (size_t j = 0; j < i; j++) {
            if (!v[j].tracked)
                continue;
            new_pg &= v[j].qid != v[i].qid;
            new_ours &= v[j].ours != v[i].ours;
        }
        pg_groups += new_pg;
        our_groups += new_ours;
    }
    fprintf(stderr,
            "grouping corpus: %zu statements (+%zu setup), %zu tracked by pg_stat_statements: "
            "%zu queryids, %zu monitor patterns; merges: %zu unexpected, %zu deliberate pairs; "
            "splits: %zu pairs\n",
            n, setup, compared, pg_groups, our_groups, merges, deliberate, splits);
    ck_assert_int_gt(compared, 250);
    ck_assert_msg(merges == 0, "%zu statement pairs merged that pg_stat_statements keeps apart", merges);
    ck_assert_int_gt(deliberate, 0); /* the constant lists were squashed */

    for (size_t i = 0; i < n; i++) {
        free(v[i].sql);
        free(v[i].merge_class);
    }
    free(v);
    alchdb_monitor_free(m);
    PQfinish(c);
    snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", db);
    pgtest_exec(admin, sql);
    PQfinish(admin);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("monitor-pgss");
    TCase *tc = tcase_create("pgss");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_matches_pg_stat_statements);
    tcase_add_test(tc, test_plan_capture);
    tcase_add_test(tc, test_plan_capture_untrusted);
    tcase_add_test(tc, test_grouping_corpus);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
