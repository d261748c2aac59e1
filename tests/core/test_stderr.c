/* The library writes nothing to stderr: standard error is redirected to a file
 * around a full run through the pool, the client, monitor plan capture (by
 * conninfo and through a pool), the advisor, and migration live, trace and
 * execute modes, against a database where every connection gets a WARNING at
 * start-up and the statements raise NOTICEs and WARNINGs (also at plan time).
 * The file must stay empty while the log handler receives those messages.
 * Needs the rig. */
#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "capture.h"
#include "pgtest.h"

#define DB "alchdb_trust_stderr"

static char ci[512], planner_ci[600];

static void setup_db(void)
{
    pgtest_fresh_db(DB, ci, sizeof ci);
    PGconn *c = PQconnectdb(ci);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);
    pgtest_exec(c, "CREATE TABLE t (id int PRIMARY KEY, v text)");
    pgtest_exec(c, "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 2000) g");
    pgtest_exec(c, "ANALYZE t");
    /* Immutable, no arguments: the planner folds it, so EXPLAIN raises its
     * WARNING too. */
    pgtest_exec(c, "CREATE FUNCTION noisy() RETURNS int IMMUTABLE LANGUAGE plpgsql AS "
                   "$$BEGIN RAISE WARNING 'noisy() was planned'; RETURN 1; END$$");
    /* plan capture refuses superuser sessions: plan as a role without rights */
    pgtest_exec(c, "DO $$BEGIN CREATE ROLE " DB "_planner LOGIN; "
                   "EXCEPTION WHEN duplicate_object THEN NULL; END$$");
    pgtest_exec(c, "GRANT SELECT ON t TO " DB "_planner");
    snprintf(planner_ci, sizeof planner_ci, "%s user=" DB "_planner", ci);
    PQfinish(c);
    /* A recorded collation version the C library cannot confirm: PostgreSQL
     * warns on every connection to the database, during the handshake. */
    c = pgtest_connect();
    pgtest_exec(c, "UPDATE pg_database SET datcollversion = '0.alchdb' WHERE datname = '" DB "'");
    PQfinish(c);
}

static void drop_db(void) { pgtest_drop_db(DB); }

/* One slow pattern planned through a pool's connection or by conninfo: the
 * planner folds noisy(), which raises a WARNING. */
static void capture_noisy_plan(alchdb_pool *pool, const char *conninfo, const char *sql)
{
    alchdb_monitor_config *mc = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&mc), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(mc, "plan_capture_interval", "0"), 0);
    alchdb_monitor *mon = NULL;
    ck_assert_int_eq(alchdb_monitor_new(mc, &mon), 0);
    alchdb_monitor_config_free(mc);
    ck_assert_int_eq(alchdb_monitor_record_simple(mon, sql, 900000, NULL), 0);
    int got = 0;
    ck_assert_msg(alchdb_monitor_capture_plans(mon, pool, conninfo, 5, &got) == 0, "capture: %s",
                  alchdb_last_error_message());
    ck_assert_int_eq(got, 1);
    alchdb_monitor_free(mon);
}

static void run_pool_and_client(void)
{
    alchdb_pool *pool = NULL;
    ck_assert_int_eq(alchdb_pool_new(ci, NULL, &pool), 0);
    alchdb_conn *c = NULL;
    ck_assert_msg(alchdb_pool_acquire(pool, 10000000, "stderr", &c) == 0, "acquire: %s", alchdb_last_error_message());
    PGresult *r = PQexec(alchdb_conn_pgconn(c), "DROP TABLE IF EXISTS missing_by_pool");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);

    alchdb_pool *planner_pool = NULL;
    ck_assert_int_eq(alchdb_pool_new(planner_ci, NULL, &planner_pool), 0);
    capture_noisy_plan(planner_pool, NULL, "SELECT v FROM t WHERE id = noisy() + $1");
    alchdb_pool_free(planner_pool);
    alchdb_pool_free(pool);

    alchdb_client *cl = NULL;
    ck_assert_int_eq(alchdb_client_open(ci, NULL, &cl), 0);
    const char *stmts[] = {
        "DROP TABLE IF EXISTS missing_by_client",
        "DO $$BEGIN RAISE WARNING 'a warning from a DO block'; RAISE NOTICE 'a notice from a DO block'; END$$",
        "SELECT noisy()",
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        alchdb_result *res = NULL;
        int rc = alchdb_client_exec(cl, stmts[i], 0, NULL, &res);
        ck_assert_msg(rc == 0, "%s: %s", stmts[i], alchdb_last_error_message());
        alchdb_result_free(res);
    }
    alchdb_client_free(cl);
}

static void run_monitor_by_conninfo(void) { capture_noisy_plan(NULL, planner_ci, "SELECT v FROM t WHERE id > noisy()"); }

static void run_advisor(void)
{
    alchdb_advisor_config *o = NULL;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, ci), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_HYPOPG, 0), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_MIN_TABLE_ROWS, 0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_queries(o, "SELECT * FROM t WHERE v = 'x' || noisy();", (size_t)-1),
                     0);
    alchdb_advisor_report *r = NULL;
    int rc = alchdb_advisor_analyze(o, &r);
    ck_assert_msg(rc == 0, "advisor: %s", alchdb_last_error_message());
    alchdb_advisor_report_free(r);
    alchdb_advisor_config_free(o);
}

static void run_migration(void)
{
    alchdb_migration_config *o = NULL;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, ci), 0);
    /* live mode */
    alchdb_migration *m = NULL;
    ck_assert_msg(alchdb_migration_new(o, &m) == 0, "live mode: %s", alchdb_last_error_message());
    const char *sql = "DROP TABLE IF EXISTS missing_by_execute;\nALTER TABLE t ADD COLUMN IF NOT EXISTS w int;\n";
    ck_assert_int_eq(alchdb_migration_add_file(m, "noisy.sql", sql, strlen(sql)), 0);
    /* execute: the same connection kind, statements that raise NOTICEs */
    char *json = NULL;
    int rc = alchdb_migration_execute(m, 0, &json);
    ck_assert_msg(rc == 0, "execute: %s", alchdb_last_error_message());
    alchdb_free(json);
    alchdb_migration_free(m);
    /* trace */
    const char *tsql = "DROP TABLE IF EXISTS missing_by_trace;\nCREATE TABLE traced (id int);\n"
                       "DO $$BEGIN RAISE WARNING 'a warning in a traced migration'; END$$;\n";
    size_t agreed = 0, disagreed = 0;
    rc = alchdb_migration_trace(o, tsql, strlen(tsql), &json, &agreed, &disagreed);
    ck_assert_msg(rc == 0, "trace: %s", alchdb_last_error_message());
    alchdb_free(json);
    alchdb_migration_config_free(o);
}

START_TEST(test_nothing_on_stderr)
{
    setup_db();
    cap_reset(&cap_all);
    ck_assert_int_eq(alchdb_set_log_handler(cap_log, &cap_all, ALCHDB_LOG_DEBUG), 0);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    int file = cap_temp_fd();
    ck_assert_int_ge(dup2(file, 2), 0);

    run_pool_and_client();
    run_monitor_by_conninfo();
    run_advisor();
    run_migration();

    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ck_assert_int_eq(alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_NONE), 0);
    char *err = cap_read_fd(file);
    close(file);
    char *log = cap_text(&cap_all);
    ck_assert_msg(err[0] == '\0', "the library wrote to stderr:\n%s", err);
    /* The messages reached the log sink instead, tagged by module. */
    static const char *const expect[] = {
        "log warn monitor: server WARNING: database \"" DB "\" has no actual collation version",
        "log warn advisor: server WARNING: database \"" DB "\" has no actual collation version",
        "log warn migration: server WARNING: database \"" DB "\" has no actual collation version",
        "log warn monitor: server WARNING: noisy() was planned",
        "log warn pool: server WARNING: database \"" DB "\" has no actual collation version",
        "table \"missing_by_pool\" does not exist, skipping",
        "table \"missing_by_client\" does not exist",
        "a warning from a DO block",
        "a notice from a DO block",
        "log info migration: server NOTICE: table \"missing_by_execute\" does not exist, skipping",
        "log info migration: server NOTICE: table \"missing_by_trace\" does not exist, skipping",
        "log warn migration: server WARNING: a warning in a traced migration",
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++)
        ck_assert_msg(strstr(log, expect[i]), "the log sink never got: %s\nlog:\n%s", expect[i], log);
    free(err);
    free(log);
    drop_db();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stderr");
    TCase *tc = tcase_create("stderr");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_nothing_on_stderr);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
