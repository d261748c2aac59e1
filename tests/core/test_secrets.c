/* No password out, anywhere: every public entry point that takes a conninfo,
 * and every CLI command, run with a sentinel password in every conninfo form,
 * both when libpq cannot parse the conninfo and when the server refuses it.
 * Everything the library and the CLI let out is gathered (thread-local error
 * details, log lines at DEBUG from any thread, JSON documents, result
 * messages, the CLI's standard output and error) and searched for the
 * sentinel and for parts of it. Needs the rig (a role that must authenticate
 * with SCRAM). The CLI's path is argv[1]. */
#include <stdbool.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "capture.h"
#include "pgtest.h"

static const char *cli;

/* The sentinel password is "Sntl7Kq9Xw". Every form hides it somewhere; the
 * search is for fragments that survive percent-encoding of 'S' and 'K'. */
static const char *const fragments[] = {"ntl7", "q9Xw", "Sntl", "Kq9"};

static const char *find_leak(const char *text)
{
    for (size_t i = 0; i < sizeof fragments / sizeof fragments[0]; i++) {
        const char *hit = strstr(text, fragments[i]);
        if (hit)
            return hit;
    }
    return NULL;
}

typedef struct form {
    const char *name;
    const char *tmpl; /* {port} and {user} (the SCRAM role) are filled in */
    int parses;      /* 1: libpq parses it and the server refuses the password */
} form;

static const form forms[] = {
    {"keyword", "host=127.0.0.1 port={port} user={user} dbname=alchdb_test password=Sntl7Kq9Xw", 1},
    {"quoted keyword", "host=127.0.0.1 port={port} user={user} dbname=alchdb_test password = 'Sntl7\\'Kq9Xw'", 1},
    {"URI userinfo", "postgresql://{user}:Sntl7Kq9Xw@127.0.0.1:{port}/alchdb_test", 1},
    {"percent-encoded userinfo", "postgresql://{user}:%53ntl7%4Bq9Xw@127.0.0.1:{port}/alchdb_test", 1},
    {"URI query", "postgresql://127.0.0.1:{port}/alchdb_test?user={user}&password=Sntl7Kq9Xw", 1},
    {"percent-encoded query keyword", "postgresql://127.0.0.1:{port}/alchdb_test?user={user}&pass%77ord=Sntl7Kq9Xw", 1},
    {"password inside options",
     "host=127.0.0.1 port={port} user={user} dbname=alchdb_test password=wrong options='-c alchdb.password=Sntl7Kq9Xw'",
     1},
    {"malformed URI", "postgresql://{user}:Sntl7Kq9Xw@[::1:{port}/alchdb_test", 0},
    {"bad percent-encoding in userinfo", "postgresql://{user}:Sntl7%zzKq9Xw@127.0.0.1:{port}/alchdb_test", 0},
    {"bad percent-encoding in query", "postgresql://127.0.0.1:{port}/alchdb_test?user={user}&password=Sntl7Kq9Xw%", 0},
    {"keyword with an unknown option", "host=127.0.0.1 port={port} user={user} password=Sntl7Kq9Xw bogus=1", 0},
    {"upper-case keyword (libpq's keywords are case-sensitive)",
     "host=127.0.0.1 port={port} user={user} PASSWORD='Sntl7Kq9Xw'", 0},
    {"unterminated quote", "host=127.0.0.1 port={port} user={user} password='Sntl7Kq9Xw", 0},
    {"URI query with an unknown parameter",
     "postgresql://127.0.0.1:{port}/alchdb_test?password=Sntl7Kq9Xw&user={user}&bogus=1", 0},
    {"options, then garbage", "port={port} user={user} options='-c password=Sntl7Kq9Xw' bogus", 0},
};

static char *conninfo_of(const form *f)
{
    static char buf[512];
    size_t n = 0;
    for (const char *t = f->tmpl; *t && n < sizeof buf - 64;) {
        const char *fill = !strncmp(t, "{port}", 6) ? test_env("ALCHDB_TEST_PRIMARY_PORT")
                           : !strncmp(t, "{user}", 6) ? test_env("ALCHDB_TEST_PASSWORD_USER")
                                                      : NULL;
        if (fill) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", fill);
            t += 6;
        } else {
            buf[n++] = *t++;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* Fail with the context of the first leak in what was captured. */
static void assert_no_leak(const form *f, const char *what)
{
    char *all = cap_text(&cap_all);
    const char *hit = find_leak(all);
    if (hit) {
        const char *from = hit - all > 160 ? hit - 160 : all;
        ck_abort_msg("%s, form '%s': the sentinel leaked: ...%.*s...", what, f->name, (int)(hit - from + 40), from);
    }
    free(all);
}

static void json_doc(const char *what, int rc, char *json)
{
    cap_printf(&cap_all, "%s -> %d: %s", what, rc, json ? json : "(none)");
    alchdb_free(json);
}

/* ---- the library's entry points ----------------------------------------- */

static void run_pool(const char *ci)
{
    alchdb_pool_config *cfg = NULL;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "connect_timeout", "5s"), 0);
    alchdb_pool *pool = NULL;
    int rc = alchdb_pool_new(ci, cfg, &pool);
    cap_error(&cap_all, "alchdb_pool_new", rc);
    if (rc == 0) {
        alchdb_conn *c = NULL;
        rc = alchdb_pool_acquire(pool, 3000000, "secrets", &c);
        cap_error(&cap_all, "alchdb_pool_acquire", rc);
        ck_assert_msg(rc < 0, "a wrong password was accepted");
        cap_put(&cap_all, alchdb_pool_name(pool));
        char *json = NULL;
        rc = alchdb_pool_to_json(pool, &json);
        ck_assert_int_eq(rc, 0);
        json_doc("pool metrics", rc, json);
        alchdb_pool_free(pool);
    }
    alchdb_pool_config_free(cfg);

    alchdb_client *client = NULL;
    rc = alchdb_client_open(ci, NULL, &client);
    cap_error(&cap_all, "alchdb_client_open", rc);
    if (rc == 0) {
        alchdb_result *res = NULL;
        rc = alchdb_client_exec(client, "SELECT 1", 0, NULL, &res);
        cap_error(&cap_all, "alchdb_client_exec", rc);
        if (res)
            cap_put(&cap_all, alchdb_result_error_message(res));
        alchdb_result_free(res);
        alchdb_client_free(client);
    }
}

static void run_router(const char *ci)
{
    alchdb_router_config *rcfg = NULL;
    ck_assert_int_eq(alchdb_router_config_new(&rcfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(rcfg, "probe_interval", "50ms"), 0);
    alchdb_router *r = NULL;
    int rc = alchdb_router_new(ci, NULL, rcfg, &r);
    cap_error(&cap_all, "alchdb_router_new", rc);
    if (rc != 0) {
        /* a router over a good primary, with the form as its replica */
        rc = alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, rcfg, &r);
        ck_assert_int_eq(rc, 0);
    }
    rc = alchdb_router_add_replica(r, ci, 1);
    cap_error(&cap_all, "alchdb_router_add_replica", rc);
    rc = alchdb_router_start(r);
    cap_error(&cap_all, "alchdb_router_start", rc);
    alchdb_conn *c = NULL;
    int reason = 0;
    rc = alchdb_router_acquire(r, ALCHDB_INTENT_READ, "SELECT 1", NULL, 2000000, "secrets", &c, &reason);
    cap_error(&cap_all, "alchdb_router_acquire", rc);
    if (rc == 0)
        alchdb_router_release(r, c, NULL);
    alchdb_router_probe_now(r);
    char *json = NULL;
    rc = alchdb_router_to_json(r, &json);
    json_doc("router metrics", rc, json);
    for (size_t i = 0; i < alchdb_router_host_count(r); i++) {
        alchdb_pool *p = alchdb_router_host_pool(r, i);
        if (p) {
            cap_put(&cap_all, alchdb_pool_name(p));
            rc = alchdb_pool_to_json(p, &json);
            json_doc("router host pool metrics", rc, json);
        }
    }
    alchdb_router_free(r);
    alchdb_router_config_free(rcfg);
}

static void run_monitor(const char *ci)
{
    alchdb_monitor_config *cfg = NULL;
    ck_assert_int_eq(alchdb_monitor_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(cfg, "plan_capture_interval", "0"), 0);
    alchdb_monitor *mon = NULL;
    ck_assert_int_eq(alchdb_monitor_new(cfg, &mon), 0);
    alchdb_monitor_config_free(cfg);
    ck_assert_int_eq(alchdb_monitor_record_simple(mon, "SELECT relname FROM pg_class WHERE oid = 1259", 900000, NULL),
                     0);
    int captured = -1;
    int rc = alchdb_monitor_capture_plans(mon, NULL, ci, 5, &captured);
    cap_error(&cap_all, "alchdb_monitor_capture_plans", rc);
    ck_assert_msg(rc < 0, "plan capture connected with a wrong password");
    ck_assert_int_eq(captured, 0);
    char *json = NULL;
    rc = alchdb_monitor_patterns_to_json(mon, ALCHDB_MONITOR_SORT_TOTAL_TIME, 0, ALCHDB_MONITOR_JSON_WINDOWS, &json);
    json_doc("monitor patterns", rc, json);
    rc = alchdb_monitor_analysis_to_json(mon, 0, &json);
    json_doc("monitor analysis", rc, json);
    rc = alchdb_monitor_slow_log_to_json(mon, 0, &json);
    json_doc("monitor slow log", rc, json);
    alchdb_monitor_free(mon);
}

/* A report with one foreign key without an index, made with a good conninfo,
 * so that alchdb_advisor_apply() gets as far as connecting. */
static alchdb_advisor_report *good_report;

static void make_good_report(void)
{
    char ci[512];
    pgtest_fresh_db("alchdb_trust_secrets", ci, sizeof ci);
    PGconn *c = PQconnectdb(ci);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    pgtest_exec(c, "CREATE TABLE parent (id int PRIMARY KEY)");
    pgtest_exec(c, "CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent(id))");
    PQfinish(c);
    alchdb_advisor_config *o = NULL;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, ci), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_HYPOPG, 0), 0);
    int rc = alchdb_advisor_analyze(o, &good_report);
    ck_assert_msg(rc == 0, "advisor on the planted database: %s", alchdb_last_error_message());
    ck_assert_int_ge(alchdb_advisor_report_count(good_report, ALCHDB_ADVISOR_FK), 1);
    alchdb_advisor_config_free(o);
}

static void run_advisor(const char *ci)
{
    alchdb_advisor_config *o = NULL;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    int rc = alchdb_advisor_config_set_from_string(o, "conninfo", ci);
    cap_error(&cap_all, "alchdb_advisor_config_set_from_string", rc);
    ck_assert_int_eq(rc, 0);
    const char *shown = NULL;
    ck_assert_int_eq(alchdb_advisor_config_get_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, &shown), 0);
    ck_assert_ptr_nonnull(shown);
    cap_printf(&cap_all, "advisor conninfo read back: %s", shown);
    alchdb_advisor_report *r = NULL;
    rc = alchdb_advisor_analyze(o, &r);
    cap_error(&cap_all, "alchdb_advisor_analyze", rc);
    ck_assert_msg(rc < 0, "the advisor connected with a wrong password");
    rc = alchdb_advisor_apply(o, good_report, ALCHDB_ADVISOR_FK, 0);
    cap_error(&cap_all, "alchdb_advisor_apply", rc);
    ck_assert_msg(rc < 0, "apply connected with a wrong password");
    alchdb_advisor_config_free(o);
}

static void run_migration(const char *ci)
{
    alchdb_migration_config *o = NULL;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    int rc = alchdb_migration_config_set_from_string(o, "conninfo", ci);
    cap_error(&cap_all, "alchdb_migration_config_set_from_string", rc);
    ck_assert_int_eq(rc, 0);
    const char *shown = NULL;
    ck_assert_int_eq(alchdb_migration_config_get_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, &shown), 0);
    ck_assert_ptr_nonnull(shown);
    cap_printf(&cap_all, "migration conninfo read back: %s", shown);
    alchdb_migration *m = NULL;
    rc = alchdb_migration_new(o, &m);
    cap_error(&cap_all, "alchdb_migration_new (live mode)", rc);
    ck_assert_msg(rc < 0, "live mode connected with a wrong password");
    char *json = NULL;
    size_t agreed = 0, disagreed = 0;
    rc = alchdb_migration_trace(o, "CREATE TABLE t (id int);", (size_t)-1, &json, &agreed, &disagreed);
    cap_error(&cap_all, "alchdb_migration_trace", rc);
    ck_assert_msg(rc < 0, "trace connected with a wrong password");
    json_doc("migration trace", rc, json);
    alchdb_migration_config_free(o);
}

/* ---- the CLI -------------------------------------------------------------- */

static char sql_file[64];

/* Only the case number is recorded with the output: the arguments hold the
 * sentinel. */
static void run_cli_case(const form *f, size_t n, const char *const *args)
{
    cli_result r = cli_run(cli, args);
    cap_printf(&cap_all, "cli case %zu -> %d\nstdout: %s\nstderr: %s", n, r.status, r.out, r.err);
    ck_assert_msg(r.status != 0 && r.status != 127, "form '%s': CLI case %zu exited %d", f->name, n, r.status);
    ck_assert_msg(r.err[0] != '\0', "form '%s': CLI case %zu said nothing on stderr", f->name, n);
    /* the commands given --conninfo got as far as the server, which refused */
    bool connects = n == 1 || n == 2 || n == 4 || n == 5 || n == 7;
    if (f->parses && connects)
        ck_assert_msg(strstr(r.err, "password authentication failed"), "form '%s': CLI case %zu never reached the server",
                      f->name, n);
    cli_done(&r);
}

static void run_cli(const form *f, const char *ci)
{
    const char *a1[] = {"advise", "--conninfo", ci, "--no-hypopg", NULL};
    const char *a2[] = {"advise", "--conninfo", ci, "--format", "json", NULL};
    const char *a3[] = {"advise", ci, NULL};                      /* forgot --conninfo */
    const char *a4[] = {"migrate", "check", "--conninfo", ci, sql_file, NULL};
    const char *a5[] = {"migrate", "check", "--format", "json", "--conninfo", ci, sql_file, NULL};
    const char *a6[] = {"migrate", "check", ci, NULL};            /* a conninfo where a file goes */
    const char *a7[] = {"migrate", "trace", "--conninfo", ci, sql_file, NULL};
    const char *a8[] = {"migrate", "trace", "--conninfo", ci, NULL}; /* no FILE */
    const char *a9[] = {"migrate", "trace", ci, "--bogus", NULL};
    const char *a10[] = {"sql", "analyze", ci, NULL};
    const char *a11[] = {"sql", "analyze", "--format", "text", "--conninfo", ci, NULL};
    const char *a12[] = {ci, NULL};                               /* as the command */
    const char *a13[] = {"migrate", ci, NULL};
    const char *a14[] = {"sql", ci, NULL};
    const char *a15[] = {"advise", "--conninfo", ci, "--max-suggestions", ci, NULL};
    const char *const *all[] = {a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        run_cli_case(f, i + 1, all[i]);
}

START_TEST(test_no_password_out)
{
    const form *f = &forms[_i];
    const char *ci = conninfo_of(f);
    /* The form is what it claims: libpq parses it or not. */
    char *perr = NULL;
    PQconninfoOption *po = PQconninfoParse(ci, &perr);
    ck_assert_msg((po != NULL) == (f->parses != 0), "form '%s' %s: %s", f->name,
                  po ? "parses" : "does not parse", perr ? perr : "");
    PQconninfoFree(po);
    PQfreemem(perr);

    cap_reset(&cap_all);
    ck_assert_int_eq(alchdb_set_log_handler(cap_log, &cap_all, ALCHDB_LOG_DEBUG), 0);
    run_pool(ci);
    assert_no_leak(f, "pool and client");
    run_router(ci);
    assert_no_leak(f, "router");
    run_monitor(ci);
    assert_no_leak(f, "monitor plan capture");
    run_advisor(ci);
    assert_no_leak(f, "advisor");
    run_migration(ci);
    assert_no_leak(f, "migration");
    ck_assert_int_eq(alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_NONE), 0);
    run_cli(f, ci);
    assert_no_leak(f, "CLI");

    /* The search works: the raw conninfo would have been caught. */
    ck_assert_ptr_nonnull(find_leak(ci));
    /* And something was captured from every part. */
    char *all = cap_text(&cap_all);
    ck_assert_ptr_nonnull(strstr(all, "alchdb_monitor_capture_plans -> "));
    ck_assert_ptr_nonnull(strstr(all, "cli case 15 -> "));
    if (f->parses)
        ck_assert_msg(strstr(all, "password authentication failed"), "form '%s': the server never refused it: %s",
                      f->name, all);
    free(all);
}
END_TEST

static void setup(void)
{
    strcpy(sql_file, "/tmp/alchdb-secrets-XXXXXX");
    int fd = mkstemp(sql_file);
    ck_assert_int_ge(fd, 0);
    const char *sql = "CREATE TABLE IF NOT EXISTS secrets_t (id int);\n";
    ck_assert_int_eq(write(fd, sql, strlen(sql)), (ssize_t)strlen(sql));
    close(fd);
    make_good_report();
}

static void teardown(void)
{
    unlink(sql_file);
    alchdb_advisor_report_free(good_report);
    good_report = NULL;
    pgtest_drop_db("alchdb_trust_secrets");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-alchdb-CLI\n", argv[0]);
        return 2;
    }
    cli = argv[1];
    Suite *s = suite_create("secrets");
    TCase *tc = tcase_create("secrets");
    tcase_set_timeout(tc, 300);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_no_password_out, 0, (int)(sizeof forms / sizeof forms[0]));
    suite_add_tcase(s, tc);
    return run_suite(s);
}
