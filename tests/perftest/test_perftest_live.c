/* The perftest against the rig, without load: the generated data (sizes,
 * determinism, reuse, reload), cleanup that touches only what the perftest
 * made, a dead server, and the `alchdb perftest` command (exit codes, JSON,
 * plain progress lines). Its own database: alchdb_pt_live. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "pt_live.h"

#define DB "alchdb_pt_live"

static live L;

static void setup(void)
{
    live_open(&L, DB);
}

static void teardown(void)
{
    live_close(&L, DB);
}

static long schema_exists(const char *name)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_namespace WHERE nspname = '%s'", name);
    return live_count(L.ci, sql);
}

START_TEST(data_sizes_determinism_reuse)
{
    alchdb_perftest_config *cfg = live_cfg("pt_a");
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "recipes", "300"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "users", "20"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "seed", "7"), 0);
    ck_assert_int_eq(alchdb_perftest_setup(&L.t, cfg), 0);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.users"), 20);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.recipes"), 300);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.recipe_ratings"), 900);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.recipe_likes"), 600);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.recipe_views"), 1500);
    /* every foreign reference resolves */
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.recipe_ratings r LEFT JOIN pt_a.recipes x "
                                      "ON x.id = r.recipe_id WHERE x.id IS NULL"),
                     0);
    char a[256];
    snprintf(a, sizeof a, "%s",
             live_value(L.ci, "SELECT md5(string_agg(r::text, ',' ORDER BY id)) FROM pt_a.recipes r"));

    /* the same seed gives the same rows in another schema; another seed does not */
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "schema", "pt_b"), 0);
    ck_assert_int_eq(alchdb_perftest_setup(&L.t, cfg), 0);
    ck_assert_str_eq(live_value(L.ci, "SELECT md5(string_agg(r::text, ',' ORDER BY id)) FROM pt_b.recipes r"), a);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "seed", "8"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "schema", "pt_c"), 0);
    ck_assert_int_eq(alchdb_perftest_setup(&L.t, cfg), 0);
    ck_assert_str_ne(live_value(L.ci, "SELECT md5(string_agg(r::text, ',' ORDER BY id)) FROM pt_c.recipes r"), a);

    /* a complete load of the same size and seed is reused... */
    PGconn *c = PQconnectdb(L.ci);
    pgtest_exec(c, "INSERT INTO pt_a.users VALUES (999999, 'keep', 'k@example.test', now())");
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "schema", "pt_a"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "seed", "7"), 0);
    ck_assert_int_eq(alchdb_perftest_setup(&L.t, cfg), 0);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.users WHERE id = 999999"), 1);
    /* ...and another size reloads it */
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "recipes", "400"), 0);
    ck_assert_int_eq(alchdb_perftest_setup(&L.t, cfg), 0);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.users WHERE id = 999999"), 0);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_a.recipes"), 400);
    PQfinish(c);

    static const char *const schemas[] = {"pt_a", "pt_b", "pt_c"};
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "schema", schemas[i]), 0);
        ck_assert_int_eq(alchdb_perftest_cleanup(&L.t, cfg), 0);
        ck_assert_int_eq(schema_exists(schemas[i]), 0);
    }
    /* cleanup of nothing is fine */
    ck_assert_int_eq(alchdb_perftest_cleanup(&L.t, cfg), 0);
    alchdb_perftest_config_free(cfg);
}
END_TEST

START_TEST(foreign_schema_untouched)
{
    PGconn *c = PQconnectdb(L.ci);
    pgtest_exec(c, "CREATE SCHEMA pt_foreign; CREATE TABLE pt_foreign.recipes (id int); "
                   "INSERT INTO pt_foreign.recipes VALUES (1)");
    PQfinish(c);
    alchdb_perftest_config *cfg = live_cfg("pt_foreign");
    ck_assert_int_eq(alchdb_perftest_setup(&L.t, cfg), ALCHDB_E_STATE);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "pt_foreign"));
    ck_assert_int_eq(alchdb_perftest_cleanup(&L.t, cfg), ALCHDB_E_STATE);
    alchdb_perftest_report *rep = NULL;
    ck_assert_int_eq(alchdb_perftest_run(&L.t, cfg, NULL, NULL, NULL, &rep), ALCHDB_E_STATE);
    ck_assert_ptr_null(rep);
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pt_foreign.recipes"), 1);
    alchdb_perftest_config_free(cfg);
}
END_TEST

START_TEST(dead_server)
{
    alchdb_pool_config *pc;
    ck_assert_int_eq(alchdb_pool_config_new(&pc), 0);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(pc, "acquire_timeout", "2s"), 0);
    alchdb_client *db = NULL;
    /* port 1 on loopback: nothing listens */
    ck_assert_int_eq(alchdb_client_open("host=127.0.0.1 port=1 dbname=x user=x connect_timeout=2", pc, &db), 0);
    alchdb_pool_config_free(pc);
    alchdb_perftest_target t = {.size = sizeof t, .client = db};
    alchdb_perftest_config *cfg = live_cfg("pt_dead");
    alchdb_perftest_report *rep = NULL;
    double t0 = live_now();
    int rc = alchdb_perftest_run(&t, cfg, NULL, NULL, NULL, &rep);
    ck_assert_msg(rc == ALCHDB_E_CONNECT || rc == ALCHDB_E_TIMEOUT, "rc %d: %s", rc, alchdb_last_error_message());
    ck_assert_ptr_null(rep);
    ck_assert_double_lt(live_now() - t0, 30);
    ck_assert_int_eq(alchdb_perftest_setup(&t, cfg), rc);
    alchdb_perftest_config_free(cfg);
    alchdb_client_free(db);
}
END_TEST

/* Run the CLI with args; stdout into out, stderr into err; returns its exit status. */
static int cli(const char *args, char *out, size_t cap, char *err, size_t ecap)
{
    char cmd[2048], errf[] = "/tmp/pt-cli-err-XXXXXX";
    int fd = mkstemp(errf);
    ck_assert_int_ge(fd, 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "'%s' perftest %s 2>%s", test_env("ALCHDB_CLI"), args, errf);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    FILE *e = fopen(errf, "r");
    n = e ? fread(err, 1, ecap - 1, e) : 0;
    err[n] = 0;
    if (e)
        fclose(e);
    unlink(errf);
    ck_assert(WIFEXITED(st));
    return WEXITSTATUS(st);
}

START_TEST(cli_json_and_exit_codes)
{
    static char out[1 << 16], err[1 << 16];
    char args[1400];
    snprintf(args, sizeof args,
             "--quick --format json --test recipe_search --target recipe_search.p95=60s --set recipes=300 "
             "--set users=20 --set duration=300ms --set warmup=100ms --set schema=pt_cli --replica '%s' '%s'",
             L.replica_ci, L.ci);
    int st = cli(args, out, sizeof out, err, sizeof err);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    ck_assert_msg(j, "stdout is not JSON (%s): %s / %s", je.text, out, err);
    json_t *tests = json_object_get(j, "tests");
    ck_assert_uint_eq(json_array_size(tests), 1);
    int passed = json_is_true(json_object_get(json_array_get(tests, 0), "passed"));
    ck_assert_int_eq(st, passed ? 0 : 1);
    ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(tests, 0), "ops")), 0);
    json_decref(j);
    /* progress went to stderr as plain lines (not a terminal) */
    ck_assert_ptr_nonnull(strstr(err, "[1/1] recipe_search"));
    ck_assert_ptr_null(strstr(err, "\033["));
    ck_assert_int_eq(schema_exists("pt_cli"), 0);

    /* an impossible target: exit 1 and the text report says why */
    snprintf(args, sizeof args,
             "--quick --test user_recipe_lookup --target user_recipe_lookup.ops=100000000 --set recipes=300 "
             "--set users=20 --set duration=300ms --set warmup=100ms --set schema=pt_cli --no-cache '%s'",
             L.ci);
    ck_assert_int_eq(cli(args, out, sizeof out, err, sizeof err), 1);
    ck_assert_ptr_nonnull(strstr(out, "MISSED"));
    ck_assert_ptr_nonnull(strstr(out, "Grade: A")); /* one failed test: health 90 */
    ck_assert_ptr_nonnull(strstr(out, "[1/1] user_recipe_lookup"));

    /* usage errors: exit 2 with a message */
    ck_assert_int_eq(cli("--bogus x", out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "--bogus"));
    ck_assert_int_eq(cli("--test nope x", out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "nope"));
    ck_assert_int_eq(cli("--quick", out, sizeof out, err, sizeof err), 2);
    /* a malformed --set: no '=', an empty name, an unknown name, a bad value */
    ck_assert_int_eq(cli("--set recipes x", out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "--set wants NAME=VALUE, not 'recipes'"));
    ck_assert_int_eq(cli("--set =300 x", out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "--set wants NAME=VALUE, not '=300'"));
    ck_assert_int_eq(cli("--set no_such_option=1 x", out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "alchdb perftest: --set: "));
    ck_assert_ptr_nonnull(strstr(err, "no_such_option"));
    ck_assert_int_eq(cli("--set recipes=lots x", out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "recipes"));
    /* options from the environment, checked like flags */
    setenv("ALCHDB_PERFTEST_TESTS", "nope_env", 1);
    ck_assert_int_eq(cli("x", out, sizeof out, err, sizeof err), 2);
    ck_assert_ptr_nonnull(strstr(err, "ALCHDB_PERFTEST_TESTS"));
    unsetenv("ALCHDB_PERFTEST_TESTS");
    ck_assert_int_eq(cli("--list", out, sizeof out, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(out, "index_vs_seq_scan"));
    ck_assert_int_eq(cli("--help", out, sizeof out, err, sizeof err), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: alchdb perftest"));
    /* a dead server: exit 2, the password not echoed */
    ck_assert_int_eq(cli("--quick 'host=127.0.0.1 port=1 password=hunter2 connect_timeout=1'", out, sizeof out, err,
                         sizeof err),
                     2);
    ck_assert_ptr_null(strstr(err, "hunter2"));
    ck_assert_ptr_null(strstr(out, "hunter2"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("perftest-live");
    TCase *tc = tcase_create("live");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, data_sizes_determinism_reuse);
    tcase_add_test(tc, foreign_schema_untouched);
    tcase_add_test(tc, dead_server);
    tcase_add_test(tc, cli_json_and_exit_codes);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
