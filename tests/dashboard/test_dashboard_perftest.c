/* The dashboard serving the perftest, against the rig: POST test/run starts a
 * quick background run (one small test) through the handler, a second POST
 * while it runs is 409, GET test/results/:id reads the finished report and
 * POST test/cancel stops a run.
 * Without a store the routes answer 404 not_attached. */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../perftest/pt_live.h"

#define P "/api/v1/database/performance/"
#define DB "alchdb_dash_pt"

static live L;

static void setup(void)
{
    live_open(&L, DB);
}

static void teardown(void)
{
    live_close(&L, DB);
}

/* One request through the handler; the body parsed, the status returned. */
static int call(alchdb_dashboard *d, const char *method, const char *target, const char *body,
                json_t **out)
{
    int status = 0;
    const char *type = NULL;
    char *text = NULL;
    size_t n = 0;
    ck_assert_int_eq(alchdb_dashboard_handle(d, method, target, body, body ? strlen(body) : 0, &status,
                                             &type, &text, &n),
                     0);
    json_error_t e;
    *out = json_loadb(text, n, 0, &e);
    ck_assert_msg(*out != NULL, "%s %s: not JSON: %s", method, target, text);
    alchdb_free(text);
    return status;
}

static const char *error_code(json_t *j)
{
    return json_string_value(json_object_get(json_object_get(j, "error"), "code"));
}

START_TEST(not_attached_and_bad_bodies)
{
    alchdb_dashboard *d;
    ck_assert_int_eq(alchdb_dashboard_new(NULL, &d), 0);
    json_t *j;
    ck_assert_int_eq(call(d, "POST", P "test/run", "{}", &j), 404);
    ck_assert_str_eq(error_code(j), "not_attached");
    json_decref(j);
    ck_assert_int_eq(call(d, "GET", P "test/results/1", NULL, &j), 404);
    ck_assert_str_eq(error_code(j), "not_attached");
    json_decref(j);

    alchdb_perftest_store *st;
    ck_assert_int_eq(alchdb_perftest_store_new(10, &st), 0);
    ck_assert_int_eq(alchdb_dashboard_attach_perftest(d, st, NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_dashboard_attach_perftest(d, st, &L.t, NULL), 0);
    static const char *const bad[] = {
        "{\"concurrency\":10}", "{\"test_suite\":\"no_such_test\"}", "{\"profile\":\"fast\"}",
        "{\"duration\":\"soon\"}", "{\"worker_scale\":0}", "{\"colour\":1}", "[]", "{",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(call(d, "POST", P "test/run", bad[i], &j) == 400, "%s", bad[i]);
        ck_assert_str_eq(error_code(j), "bad_request");
        json_decref(j);
    }
    ck_assert_int_eq(call(d, "GET", P "test/results/x1", NULL, &j), 400);
    json_decref(j);
    ck_assert_int_eq(call(d, "GET", P "test/results/7", NULL, &j), 404);
    ck_assert_str_eq(error_code(j), "not_found");
    json_decref(j);
    ck_assert_int_eq(call(d, "GET", P "test/run", NULL, &j), 405);
    json_decref(j);
    /* Detached: 404 again. */
    ck_assert_int_eq(alchdb_dashboard_attach_perftest(d, NULL, NULL, NULL), 0);
    ck_assert_int_eq(call(d, "GET", P "test/results", NULL, &j), 404);
    json_decref(j);
    alchdb_dashboard_free(d);
    alchdb_perftest_store_free(st);
}
END_TEST

START_TEST(run_through_the_handler)
{
    alchdb_dashboard *d;
    ck_assert_int_eq(alchdb_dashboard_new(NULL, &d), 0);
    alchdb_perftest_store *st;
    ck_assert_int_eq(alchdb_perftest_store_new(10, &st), 0);
    /* Small data and short phases from the base options; the body picks the test. */
    alchdb_perftest_config *cfg = live_cfg("alchdb_dash_pt");
    ck_assert_int_eq(alchdb_dashboard_attach_perftest(d, st, &L.t, cfg), 0);
    alchdb_perftest_config_free(cfg); /* copied */

    json_t *j;
    double t0 = live_now();
    ck_assert_int_eq(call(d, "POST", P "test/run",
                          "{\"test_suite\":\"recipe_search\",\"duration\":\"1s\",\"worker_scale\":20}", &j),
                     202);
    ck_assert_str_eq(json_string_value(json_object_get(j, "status")), "success");
    json_t *data = json_object_get(j, "data");
    int64_t id = json_integer_value(json_object_get(data, "id"));
    ck_assert_int_ge(id, 1);
    char path[128];
    snprintf(path, sizeof path, P "test/results/%lld", (long long)id);
    ck_assert_str_eq(json_string_value(json_object_get(data, "result")), path);
    json_decref(j);

    /* One at a time. */
    ck_assert_int_eq(call(d, "POST", P "test/run", "{}", &j), 409);
    ck_assert_str_eq(error_code(j), "conflict");
    json_decref(j);

    /* Poll the result until the run is done (the schema load and 1 s measured). */
    const char *status = "running";
    for (int i = 0; i < 600 && !strcmp(status, "running"); i++) {
        if (i)
            usleep(100000);
        ck_assert_int_eq(call(d, "GET", path, NULL, &j), 200);
        static char keep[32];
        snprintf(keep, sizeof keep, "%s",
                 json_string_value(json_object_get(json_object_get(j, "data"), "status")));
        status = keep;
        if (strcmp(status, "running"))
            break;
        json_decref(j);
    }
    ck_assert_str_eq(status, "done");
    double took = live_now() - t0;
    json_t *rep = json_object_get(json_object_get(j, "data"), "report");
    json_t *tests = json_object_get(rep, "tests");
    ck_assert_int_eq(json_array_size(tests), 1);
    json_t *t = json_array_get(tests, 0);
    const char *name = json_string_value(json_object_get(t, "name"));
    if (!name)
        name = json_string_value(json_object_get(t, "id"));
    ck_assert_msg(name && !strcmp(name, "recipe_search"), "test: %s",
                  json_dumps(t, JSON_COMPACT));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rep, "summary"), "tests")), 1);
    fprintf(stderr, "dashboard test/run: one quick test done in %.1f s\n", took);
    json_decref(j);

    /* The list shows it, nothing running. */
    ck_assert_int_eq(call(d, "GET", P "test/results", NULL, &j), 200);
    data = json_object_get(j, "data");
    ck_assert(json_is_null(json_object_get(data, "running")));
    ck_assert_int_eq(json_array_size(json_object_get(data, "results")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(data, "results"), 0), "id")), id);
    json_decref(j);

    /* That the next run may start once one ended: cancel_through_the_handler. */
    alchdb_dashboard_free(d);
    alchdb_perftest_store_free(st);
}
END_TEST

/* The status of run `path` once it is no longer "running", polled for at
 * most ~60 s (far below the 120 s the canceled run would otherwise last). */
static void wait_ended(alchdb_dashboard *d, const char *path, char *status, size_t cap, json_t **last)
{
    snprintf(status, cap, "running");
    for (int i = 0; i < 600; i++) {
        if (i)
            usleep(100000);
        ck_assert_int_eq(call(d, "GET", path, NULL, last), 200);
        snprintf(status, cap, "%s", json_string_value(json_object_get(json_object_get(*last, "data"), "status")));
        if (strcmp(status, "running"))
            return;
        json_decref(*last);
    }
    *last = NULL;
}

/* POST test/cancel stops the named run: its result says "canceled", its
 * schema is dropped, and the next run may start. Unknown ids are 404, ended
 * runs 409, bad bodies 400. */
START_TEST(cancel_through_the_handler)
{
    alchdb_dashboard *d;
    ck_assert_int_eq(alchdb_dashboard_new(NULL, &d), 0);
    json_t *j;
    ck_assert_int_eq(call(d, "POST", P "test/cancel", "{\"id\":1}", &j), 404);
    ck_assert_str_eq(error_code(j), "not_attached");
    json_decref(j);

    alchdb_perftest_store *st;
    ck_assert_int_eq(alchdb_perftest_store_new(10, &st), 0);
    alchdb_perftest_config *cfg = live_cfg("alchdb_dash_pt_cancel");
    ck_assert_int_eq(alchdb_dashboard_attach_perftest(d, st, &L.t, cfg), 0);
    alchdb_perftest_config_free(cfg);

    /* A run that would take minutes (an integer duration counts seconds). */
    ck_assert_int_eq(call(d, "POST", P "test/run", "{\"test_suite\":\"recipe_search\",\"duration\":120}", &j),
                     202);
    int64_t id = json_integer_value(json_object_get(json_object_get(j, "data"), "id"));
    json_decref(j);
    char path[128], body[64];
    snprintf(path, sizeof path, P "test/results/%lld", (long long)id);

    static const char *const bad[] = {"{}", "{\"id\":0}", "{\"id\":\"1\"}", "{\"id\":1,\"x\":2}", "[1]", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(call(d, "POST", P "test/cancel", bad[i], &j) == 400, "%s", bad[i]);
        ck_assert_str_eq(error_code(j), "bad_request");
        json_decref(j);
    }
    ck_assert_int_eq(call(d, "GET", P "test/cancel", NULL, &j), 405);
    json_decref(j);
    snprintf(body, sizeof body, "{\"id\":%lld}", (long long)id + 1);
    ck_assert_int_eq(call(d, "POST", P "test/cancel", body, &j), 404);
    ck_assert_str_eq(error_code(j), "not_found");
    json_decref(j);

    snprintf(body, sizeof body, "{\"id\":%lld}", (long long)id);
    double t0 = live_now();
    ck_assert_int_eq(call(d, "POST", P "test/cancel", body, &j), 202);
    json_t *data = json_object_get(j, "data");
    ck_assert_int_eq(json_integer_value(json_object_get(data, "id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(data, "status")), "canceling");
    ck_assert_str_eq(json_string_value(json_object_get(data, "result")), path);
    json_decref(j);

    char status[32];
    wait_ended(d, path, status, sizeof status, &j);
    ck_assert_str_eq(status, "canceled");
    data = json_object_get(j, "data");
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(data, "error")), "canceled"));
    ck_assert(json_is_null(json_object_get(data, "report")));
    json_decref(j);
    fprintf(stderr, "dashboard test/cancel: run ended %.1f s after the cancel\n", live_now() - t0);
    /* Cleanly: the run dropped its schema on the way out. */
    ck_assert_int_eq(live_count(L.ci, "SELECT count(*) FROM pg_namespace WHERE nspname = 'alchdb_dash_pt_cancel'"), 0);

    /* Ended: 409, and the store is free for the next run, which a stale
     * cancel of the old id does not touch. */
    ck_assert_int_eq(call(d, "POST", P "test/cancel", body, &j), 409);
    ck_assert_str_eq(error_code(j), "conflict");
    json_decref(j);
    ck_assert_int_eq(call(d, "POST", P "test/run", "{\"test_suite\":\"recipe_search\",\"duration\":\"300ms\"}", &j),
                     202);
    int64_t id2 = json_integer_value(json_object_get(json_object_get(j, "data"), "id"));
    json_decref(j);
    ck_assert_int_eq(call(d, "POST", P "test/cancel", body, &j), 409);
    json_decref(j);
    snprintf(path, sizeof path, P "test/results/%lld", (long long)id2);
    wait_ended(d, path, status, sizeof status, &j);
    ck_assert_str_eq(status, "done");
    json_decref(j);

    alchdb_dashboard_free(d);
    alchdb_perftest_store_free(st);
}
END_TEST

/* Concurrent POST test/run (a threaded listener): exactly one starts. */
typedef struct racer {
    alchdb_dashboard *d;
    pthread_barrier_t *go;
    int status;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    int status = 0;
    const char *type;
    char *text = NULL;
    size_t n;
    const char *body = "{\"test_suite\":\"user_recipe_lookup\",\"duration\":\"300ms\",\"worker_scale\":10}";
    pthread_barrier_wait(r->go);
    if (alchdb_dashboard_handle(r->d, "POST", P "test/run", body, strlen(body), &status, &type, &text, &n) == 0)
        r->status = status;
    alchdb_free(text);
    return NULL;
}

START_TEST(concurrent_starts_one_wins)
{
    alchdb_dashboard *d;
    ck_assert_int_eq(alchdb_dashboard_new(NULL, &d), 0);
    alchdb_perftest_store *st;
    ck_assert_int_eq(alchdb_perftest_store_new(10, &st), 0);
    alchdb_perftest_config *cfg = live_cfg("alchdb_dash_pt");
    ck_assert_int_eq(alchdb_dashboard_attach_perftest(d, st, &L.t, cfg), 0);
    alchdb_perftest_config_free(cfg);
    enum { N = 8 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, N);
    racer r[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer){.d = d, .go = &go};
        ck_assert_int_eq(pthread_create(&th[i], NULL, race, &r[i]), 0);
    }
    int started = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        started += r[i].status == 202;
        busy += r[i].status == 409;
    }
    pthread_barrier_destroy(&go);
    ck_assert_int_eq(started, 1);
    ck_assert_int_eq(busy, N - 1);
    ck_assert_int_eq(alchdb_perftest_store_wait(st), 0);
    json_t *j;
    ck_assert_int_eq(call(d, "GET", P "test/results/1", NULL, &j), 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "data"), "status")), "done");
    json_decref(j);
    alchdb_dashboard_free(d);
    alchdb_perftest_store_free(st);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dashboard-perftest");
    TCase *tc = tcase_create("live");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, not_attached_and_bad_bodies);
    tcase_add_test(tc, run_through_the_handler);
    tcase_add_test(tc, concurrent_starts_one_wins);
    tcase_add_test(tc, cancel_through_the_handler);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
