/* Every JSON document the library (and the CLI) emits parses, whatever bytes
 * came in: query texts that do not parse, labels, routes, slow-log texts,
 * names, file names, prefixes, SQL and server messages, fed with invalid
 * UTF-8 (stray continuation bytes, overlong forms, surrogates, code points
 * above U+10FFFF, truncated sequences), control characters, quotes,
 * backslashes and U+2028. Each document is parsed with jansson, which rejects
 * invalid UTF-8. The 'offline' case needs no server; the 'live' case uses the
 * rig (advisor, migration trace and execute, a pool's connect error).
 * argv[1] is the CLI. */
#include <jansson.h>
#include <stdbool.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "capture.h"
#include "pgtest.h"

static const char *cli;

/* Ill-formed UTF-8 of every kind, control characters and JSON's own specials. */
#define BAD "\xff\xfe|\xc3\x28|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82|\x80|\x01\x1b\x7f|\"\\|\xe2\x80\xa8|\xe2\x82"

static int docs_checked;

/* The text must parse as JSON and hold U+FFFD (the bad bytes were replaced,
 * not dropped). */
static void must_parse_text(const char *what, const char *json, bool replaced)
{
    json_error_t e;
    json_t *v = json_loads(json, 0, &e);
    ck_assert_msg(v != NULL, "%s is not valid JSON (%s at %d): %.400s", what, e.text, e.position, json);
    json_decref(v);
    ck_assert_msg(!replaced || strstr(json, "\xef\xbf\xbd"), "%s: no U+FFFD in %.3000s", what, json);
    docs_checked++;
}

/* A document the library made (rc, owned json). */
static void must_parse(const char *what, int rc, char *json)
{
    ck_assert_msg(rc == 0 && json, "%s: %d %s", what, rc, alchdb_last_error_message());
    must_parse_text(what, json, true);
    alchdb_free(json);
}

static void check_monitor(int keep_parameters)
{
    alchdb_monitor_config *cfg = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_KEEP_PARAMETERS, keep_parameters), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_N_PLUS_ONE_THRESHOLD, 2), 0);
    alchdb_monitor *mon = NULL;
    ck_assert_int_eq(alchdb_monitor_new(cfg, &mon), 0);
    alchdb_monitor_config_free(cfg);
    const char *labels[] = {"endpoint=" BAD, BAD "=x", "job=" BAD};
    const char *texts[] = {
        "SELEC " BAD " FROM nowhere",                   /* does not parse: kept as an unparsed pattern */
        "SELECT '" BAD "' FROM t WHERE a = 1",          /* a literal (normalized away unless kept) */
        "SELECT \"" BAD "\" FROM \"" BAD "\"",          /* quoted identifiers: kept */
        "SELECT 1 /* " BAD " */",
        BAD,
    };
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION,
                                      .nlabels = 3,
                                      .sql = texts[i],
                                      .sql_len = -1,
                                      .duration_us = 200000,
                                      .rows = 1,
                                      .sqlstate = rep ? NULL : "42601",
                                      .route = "replica " BAD,
                                      .labels = labels};
            ck_assert_int_eq(alchdb_monitor_record(mon, &q), 0);
        }
    char *json = NULL;
    int rc = alchdb_monitor_patterns_to_json(mon, ALCHDB_MONITOR_SORT_TOTAL_TIME, 0, ALCHDB_MONITOR_JSON_WINDOWS, &json);
    must_parse("monitor patterns", rc, json);
    rc = alchdb_monitor_analysis_to_json(mon, 0, &json);
    must_parse("monitor analysis", rc, json);
    rc = alchdb_monitor_slow_log_to_json(mon, 0, &json);
    must_parse("monitor slow log", rc, json);
    alchdb_monitor_free(mon);
}

START_TEST(test_offline_emitters)
{
    docs_checked = 0; /* CK_FORK=no runs every case in one process */
    check_monitor(0);
    check_monitor(1);

    /* SQL analysis takes UTF-8 only (it says so); control characters,
     * quotes, backslashes and U+2028 in identifiers, and a syntax error. */
    alchdb_sql_analysis *a = NULL;
    const char *bad_sql = "SELECT \"" BAD "\" FROM t";
    ck_assert_int_eq(alchdb_sql_analyze(bad_sql, strlen(bad_sql), &a), ALCHDB_E_INVALID);
    ck_assert_ptr_null(a);
    static const char *const sqls[] = {
        "SELECT \"a\x01\x1b\x7f\"\"\\\xe2\x80\xa8\" FROM \"t\x02\"; SELECT 1",
        "SELECT FROM WHERE \"\x01\xe2\x80\xa9\"\"",
    };
    char *json = NULL;
    int rc;
    for (size_t i = 0; i < 2; i++) {
        rc = alchdb_sql_analyze(sqls[i], strlen(sqls[i]), &a);
        ck_assert_msg(rc == 0 || rc == ALCHDB_E_PARSE, "%d %s", rc, alchdb_last_error_message());
        ck_assert_ptr_nonnull(a);
        rc = alchdb_sql_analysis_to_json(a, &json);
        ck_assert_int_eq(rc, 0);
        must_parse_text("sql analysis", json, false);
        alchdb_free(json);
        alchdb_sql_analysis_free(a);
    }

    /* Pool and router: names and display forms with the bytes. */
    alchdb_pool_config *pc = NULL;
    ck_assert_int_eq(alchdb_pool_config_new(&pc), 0);
    /* a pool name is printable ASCII (it says so): the bytes go in the conninfo */
    ck_assert_int_eq(alchdb_pool_config_set_string(pc, ALCHDB_POOL_OPT_NAME, "pool " BAD), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_pool_config_set_string(pc, ALCHDB_POOL_OPT_NAME, "pool \"\\ name"), 0);
    alchdb_pool *pool = NULL;
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 port=1 dbname='" BAD "' application_name='" BAD "'", pc, &pool), 0);
    rc = alchdb_pool_to_json(pool, &json);
    must_parse("pool metrics", rc, json);
    alchdb_pool_free(pool);
    alchdb_router *r = NULL;
    ck_assert_int_eq(alchdb_router_new("host=127.0.0.1 port=1 dbname='" BAD "'", pc, NULL, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, "host=127.0.0.2 port=1 dbname='r " BAD "'", 1), 0);
    rc = alchdb_router_to_json(r, &json);
    must_parse("router metrics", rc, json);
    alchdb_router_free(r);
    alchdb_pool_config_free(pc);

    /* Cache: the key prefix is checked when set; the stats parse. */
    alchdb_cache_config *cc = NULL;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    ck_assert_int_eq(alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_PREFIX, "app:" BAD), ALCHDB_E_INVALID);
    alchdb_cache *cache = NULL;
    ck_assert_int_eq(alchdb_cache_new(cc, &cache), 0);
    rc = alchdb_cache_to_json(cache, &json);
    ck_assert_int_eq(rc, 0);
    must_parse_text("cache stats", json, false);
    alchdb_free(json);
    alchdb_cache_free(cache);
    alchdb_cache_config_free(cc);

    /* Migration: a file name with the bytes (the SQL itself must be UTF-8). */
    alchdb_migration *m = NULL;
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    const char *mig = "ALTER TABLE \"t\" ADD COLUMN c int NOT NULL DEFAULT 0;\nCREATE INDEX i ON t (c);\n";
    ck_assert_int_eq(alchdb_migration_add_file(m, "0001_" BAD ".sql", mig, strlen(mig)), 0);
    const char *broken = "ALTER TABLE t ADD COLUMN;";
    ck_assert_int_eq(alchdb_migration_add_file(m, "0002_" BAD ".sql", broken, strlen(broken)), 0);
    rc = alchdb_migration_to_json(m, &json);
    must_parse("migration report", rc, json);
    alchdb_migration_free(m);
    ck_assert_int_eq(docs_checked, 12);
}
END_TEST

/* The CLI's JSON on standard output, for files whose names and comments
 * carry the bytes. */
START_TEST(test_cli_json)
{
    char path[] = "/tmp/alchdb-json-\xff\xfe-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *sql = "SELECT \"\x01\xe2\x80\xa8\" FROM t;\nALTER TABLE t ADD COLUMN c int;\n";
    ck_assert_int_eq(write(fd, sql, strlen(sql)), (ssize_t)strlen(sql));
    close(fd);
    const char *a1[] = {"sql", "analyze", "--format", "json", path, NULL};
    cli_result r = cli_run(cli, a1);
    ck_assert_msg(r.status == 0, "sql analyze: %d %s", r.status, r.err);
    must_parse_text("alchdb sql analyze", r.out, false);
    cli_done(&r);
    /* migrate check reads UTF-8 SQL only: the name carries the bytes */
    sql = "ALTER TABLE t ADD COLUMN c int;\n";
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, sql, strlen(sql)), (ssize_t)strlen(sql));
    close(fd);
    const char *a2[] = {"migrate", "check", "--format", "json", path, NULL};
    r = cli_run(cli, a2);
    ck_assert_msg(r.status == 0 || r.status == 1, "migrate check: %d %s", r.status, r.err);
    must_parse_text("alchdb migrate check", r.out, true);
    cli_done(&r);
    unlink(path);
}
END_TEST

/* ---- with the server: messages and names in a client_encoding that is not
 * UTF-8 reach the reports as they come ------------------------------------ */

#define DB "alchdb_trust_json"

static char latin1_ci[512];

static void live_setup(void)
{
    char ci[512];
    pgtest_fresh_db(DB, ci, sizeof ci);
    PGconn *c = PQconnectdb(ci);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    /* names with letters LATIN1 has, so the server converts rather than fails */
    pgtest_exec(c, "CREATE TABLE \"tabl\xc3\xa9\" (id int PRIMARY KEY, \"v\xc3\xa4l\" text)");
    pgtest_exec(c, "INSERT INTO \"tabl\xc3\xa9\" SELECT g, 'x' || g FROM generate_series(1, 3000) g");
    pgtest_exec(c, "CREATE TABLE \"kind\xc3\xb6\" (id int PRIMARY KEY, p int REFERENCES \"tabl\xc3\xa9\"(id))");
    pgtest_exec(c, "CREATE INDEX \"unused_\xc3\xbc\" ON \"tabl\xc3\xa9\" (\"v\xc3\xa4l\")");
    pgtest_exec(c, "CREATE TABLE parent_ascii (id int PRIMARY KEY)");
    pgtest_exec(c, "CREATE TABLE \"enfant_\xc3\xa9\" (p int CONSTRAINT \"fk_\xc3\xb6\" REFERENCES parent_ascii)");
    pgtest_exec(c, "ANALYZE");
    PQfinish(c);
    snprintf(latin1_ci, sizeof latin1_ci, "%s dbname=" DB " client_encoding=LATIN1", test_env("ALCHDB_TEST_PRIMARY"));
}

static void live_teardown(void) { pgtest_drop_db(DB); }

START_TEST(test_live_emitters)
{
    docs_checked = 0;
    /* advisor: table, column and index names in LATIN1 */
    alchdb_advisor_config *o = NULL;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, latin1_ci), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_HYPOPG, 0), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_MIN_TABLE_ROWS, 0), 0);
    alchdb_advisor_report *rep = NULL;
    int rc = alchdb_advisor_analyze(o, &rep);
    ck_assert_msg(rc == 0, "advisor: %s", alchdb_last_error_message());
    char *json = NULL;
    rc = alchdb_advisor_report_to_json(rep, &json);
    must_parse("advisor report", rc, json);
    alchdb_advisor_report_free(rep);
    alchdb_advisor_config_free(o);
    /* the CLI's report of the same database */
    const char *args[] = {"advise", "--conninfo", latin1_ci, "--no-hypopg", "--format", "json", NULL};
    cli_result cr = cli_run(cli, args);
    ck_assert_msg(cr.status == 0, "alchdb advise: %d %s", cr.status, cr.err);
    must_parse_text("alchdb advise", cr.out, true);
    cli_done(&cr);

    /* migration trace and execute: the server's errors in LATIN1 */
    alchdb_migration_config *mo = NULL;
    ck_assert_int_eq(alchdb_migration_config_new(&mo), 0);
    ck_assert_int_eq(alchdb_migration_config_set_string(mo, ALCHDB_MIGRATION_OPT_CONNINFO, latin1_ci), 0);
    /* fails; the DETAIL names the dependent objects, from the catalog */
    const char *sql = "DROP TABLE parent_ascii;\n";
    size_t agreed = 0, disagreed = 0;
    rc = alchdb_migration_trace(mo, sql, strlen(sql), &json, &agreed, &disagreed);
    must_parse("migration trace", rc, json);
    alchdb_migration *m = NULL;
    ck_assert_msg(alchdb_migration_new(mo, &m) == 0, "live mode: %s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_migration_add_file(m, "f.sql", sql, strlen(sql)), 0);
    rc = alchdb_migration_to_json(m, &json);
    ck_assert_int_eq(rc, 0);
    must_parse_text("migration report (live)", json, false);
    alchdb_free(json);
    rc = alchdb_migration_execute(m, 0, &json);
    ck_assert_int_eq(rc, ALCHDB_E_QUERY);
    must_parse("migration execute", 0, json);
    alchdb_migration_free(m);
    alchdb_migration_config_free(mo);

    /* pool: the server's connect error for a database that does not exist */
    char ci[512];
    snprintf(ci, sizeof ci, "%s dbname='nicht_\xc3\xa4_\xff' client_encoding=LATIN1",
             test_env("ALCHDB_TEST_PRIMARY"));
    alchdb_pool *pool = NULL;
    ck_assert_int_eq(alchdb_pool_new(ci, NULL, &pool), 0);
    alchdb_conn *c = NULL;
    ck_assert_int_lt(alchdb_pool_acquire(pool, 3000000, "json", &c), 0);
    rc = alchdb_pool_to_json(pool, &json);
    must_parse("pool metrics after a connect error", rc, json);
    alchdb_pool_free(pool);
    ck_assert_int_eq(docs_checked, 6);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-alchdb-CLI\n", argv[0]);
        return 2;
    }
    cli = argv[1];
    Suite *s = suite_create("json-bytes");
    TCase *tc = tcase_create("offline");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_offline_emitters);
    tcase_add_test(tc, test_cli_json);
    suite_add_tcase(s, tc);
    tc = tcase_create("live");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, live_setup, live_teardown);
    tcase_add_test(tc, test_live_emitters);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
