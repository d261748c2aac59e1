/* The client behind a real PgBouncer 1.18 in transaction pooling, where
 * consecutive transactions of one client connection run on different server
 * sessions and protocol-level prepared statements do not survive: with
 * statement_cache_size = 0 every operation (statements with parameters,
 * transactions, streams, the cache, deadlines) must work and return the right
 * rows. The test starts its own PgBouncer in front of the rig's primary, with
 * fewer server connections than the client has, so that sessions are shared,
 * and stops it at the end (a watchdog process stops it if the test dies). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "pgtest.h"
#include "testutil.h"

#define DB "alchdb_pgbouncer"
#define PGBOUNCER "/usr/sbin/pgbouncer"
#define RIG_USER "alchdbrig"
#define SERVER_CONNS 2 /* PgBouncer's pool: fewer than the client's connections */

static char g_dir[64];
static char g_bouncer_ci[512]; /* conninfo through PgBouncer */
static int g_port;

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &len), 0);
    close(s);
    return ntohs(a.sin_port);
}

static void write_file(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static pid_t bouncer_pid(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/pgbouncer.pid", g_dir);
    FILE *f = fopen(path, "r");
    long pid = 0;
    if (f) {
        if (fscanf(f, "%ld", &pid) != 1)
            pid = 0;
        fclose(f);
    }
    return (pid_t)pid;
}

static void stop_bouncer(void)
{
    pid_t pid = bouncer_pid();
    if (pid > 0 && kill(pid, SIGTERM) == 0)
        for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
            usleep(50 * 1000);
}

/* A child that outlives nothing: when the test process exits for any reason,
 * its end of the pipe closes and the child stops PgBouncer and removes the
 * directory. */
static void start_watchdog(void)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t w = fork();
    ck_assert_int_ge(w, 0);
    if (w == 0) {
        close(fds[1]);
        char b;
        while (read(fds[0], &b, 1) < 0 && errno == EINTR)
            ;
        stop_bouncer();
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            _exit(1);
        _exit(0);
    }
    close(fds[0]);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC); /* PgBouncer must not inherit it */
}

static void setup(void)
{
    char ci[512];
    pgtest_fresh_db(DB, ci, sizeof ci);
    const char *primary = test_env("ALCHDB_TEST_PRIMARY_PORT");

    snprintf(g_dir, sizeof g_dir, "/tmp/alchdb-pgbouncer.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    chmod(g_dir, 0755);
    g_port = free_port();
    char ini[2048];
    snprintf(ini, sizeof ini,
             "[databases]\n" DB " = host=127.0.0.1 port=%s dbname=" DB " user=postgres\n"
             "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
             "auth_type = trust\nauth_file = %s/userlist.txt\npool_mode = transaction\n"
             "default_pool_size = %d\nmax_client_conn = 200\n"
             "ignore_startup_parameters = extra_float_digits\n"
             "logfile = %s/pgbouncer.log\npidfile = %s/pgbouncer.pid\n",
             primary, g_port, g_dir, SERVER_CONNS, g_dir, g_dir);
    write_file("pgbouncer.ini", ini);
    write_file("userlist.txt", "\"postgres\" \"\"\n");

    char cmd[512];
    if (geteuid() == 0) { /* PgBouncer refuses to run as root */
        snprintf(cmd, sizeof cmd, "chown -R " RIG_USER " '%s' && runuser -u " RIG_USER " -- " PGBOUNCER
                 " -q -d '%s/pgbouncer.ini'", g_dir, g_dir);
    } else {
        snprintf(cmd, sizeof cmd, PGBOUNCER " -q -d '%s/pgbouncer.ini'", g_dir);
    }
    ck_assert_msg(system(cmd) == 0, "could not start PgBouncer: %s", cmd);
    start_watchdog();
    snprintf(g_bouncer_ci, sizeof g_bouncer_ci,
             "host=127.0.0.1 port=%d dbname=" DB " user=postgres application_name=alchdb_pgb", g_port);
    /* Ready when a query answers through it. */
    for (int i = 0;; i++) {
        PGconn *c = PQconnectdb(g_bouncer_ci);
        int ok = PQstatus(c) == CONNECTION_OK;
        PQfinish(c);
        if (ok)
            break;
        ck_assert_msg(i < 200, "PgBouncer did not accept connections on port %d", g_port);
        usleep(50 * 1000);
    }
}

static void teardown(void)
{
    stop_bouncer();
    pgtest_drop_db(DB);
}

/* A client over PgBouncer with more connections than PgBouncer has server
 * connections, the prepared-statement cache off. */
static alchdb_client *bouncer_client(int max_open)
{
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, max_open), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, max_open), 0);
    ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, "statement_cache_size", "0"), 0);
    alchdb_client *c = NULL;
    ck_assert_msg(alchdb_client_open(g_bouncer_ci, cfg, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_pool_config_free(cfg);
    return c;
}

static long long exec_int(alchdb_client *c, alchdb_txn *t, const char *sql, int n, const char *const *p)
{
    alchdb_result *r = NULL;
    int rc = t ? alchdb_txn_exec(t, sql, n, p, &r) : alchdb_client_exec(c, sql, n, p, &r);
    ck_assert_msg(rc == 0, "%s: rc %d: %s [%s]", sql, rc, alchdb_last_error_message(),
                  alchdb_last_error_sqlstate());
    long long v = alchdb_result_nrows(r) > 0 && !alchdb_result_is_null(r, 0, 0)
                      ? strtoll(alchdb_result_value(r, 0, 0), NULL, 10)
                      : -1;
    alchdb_result_free(r);
    return v;
}

/* ---- statements with parameters from many threads ---- */

typedef struct worker {
    alchdb_client *c;
    int id;
    int errors;
    char msg[256];
} worker;

static void *param_worker(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 150; i++) {
        char a[32], b[32];
        snprintf(a, sizeof a, "%d", w->id * 1000 + i);
        snprintf(b, sizeof b, "%d", i % 7);
        const char *p[] = {a, b};
        /* A few distinct texts, each run many times: what a statement cache would prepare. */
        static const char *const sqls[] = {"SELECT $1::int + $2::int", "SELECT $2::int + $1::int + 0",
                                           "SELECT ($1::int + $2::int)::bigint"};
        alchdb_result *r = NULL;
        int rc = alchdb_client_exec(w->c, sqls[i % 3], 2, p, &r);
        long long want = w->id * 1000 + i + i % 7;
        if (rc != 0 || strtoll(alchdb_result_value(r, 0, 0), NULL, 10) != want) {
            if (w->errors++ == 0)
                snprintf(w->msg, sizeof w->msg, "%s: rc %d %s [%s]", sqls[i % 3], rc,
                         alchdb_last_error_message(), alchdb_last_error_sqlstate());
        }
        alchdb_result_free(r);
    }
    return NULL;
}

START_TEST(test_params_many_threads)
{
    alchdb_client *c = bouncer_client(6);
    enum { N = 6 };
    pthread_t th[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.c = c, .id = i + 1};
        ck_assert_int_eq(pthread_create(&th[i], NULL, param_worker, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(w[i].errors == 0, "thread %d: %d errors, first: %s", i, w[i].errors, w[i].msg);
    }
    /* SQL NULL and a large value cross the bouncer intact. */
    const char *p[] = {NULL};
    ck_assert_int_eq(exec_int(c, NULL, "SELECT coalesce($1::int, -7)", 1, p), -7);
    char *big = malloc(1 << 20);
    memset(big, 'x', (1 << 20) - 1);
    big[(1 << 20) - 1] = '\0';
    const char *pb[] = {big};
    ck_assert_int_eq(exec_int(c, NULL, "SELECT length($1::text)", 1, pb), (1 << 20) - 1);
    free(big);
    alchdb_client_free(c);
}
END_TEST

/* ---- transactions keep one server session from BEGIN to COMMIT ---- */

START_TEST(test_transactions)
{
    alchdb_client *c = bouncer_client(4);
    exec_int(c, NULL, "CREATE TABLE IF NOT EXISTS t_txn (id int PRIMARY KEY, v text)", 0, NULL);
    exec_int(c, NULL, "TRUNCATE t_txn", 0, NULL);

    for (int i = 0; i < 30; i++) {
        alchdb_txn *t = NULL;
        ck_assert_int_eq(alchdb_client_begin(c, ALCHDB_TXN_DEFAULT, &t), 0);
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        const char *p[] = {id, "row"};
        /* Session state set inside the transaction is seen by its later statements. */
        exec_int(c, t, "SELECT set_config('app.marker', $1, true)::int", 1, p);
        exec_int(c, t, "INSERT INTO t_txn VALUES ($1::int, $2)", 2, p);
        ck_assert_int_eq(exec_int(c, t, "SELECT current_setting('app.marker')::int", 0, NULL), i);
        ck_assert_int_eq(exec_int(c, t, "SELECT count(*) FROM t_txn WHERE id = $1::int", 1, p), 1);
        if (i % 2 == 0)
            ck_assert_int_eq(alchdb_txn_commit(t), 0);
        else
            ck_assert_int_eq(alchdb_txn_rollback(t), 0);
        alchdb_txn_free(t);
    }
    ck_assert_int_eq(exec_int(c, NULL, "SELECT count(*) FROM t_txn", 0, NULL), 15);
    ck_assert_int_eq(exec_int(c, NULL, "SELECT count(*) FROM t_txn WHERE id % 2 = 1", 0, NULL), 0);

    /* A failed statement aborts the transaction; COMMIT reports it; the session is clean after. */
    alchdb_txn *t = NULL;
    ck_assert_int_eq(alchdb_client_begin(c, ALCHDB_TXN_REPEATABLE_READ, &t), 0);
    alchdb_result *r = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1/0", 0, NULL, &r), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "22012");
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_txn_commit(t), ALCHDB_E_QUERY);
    alchdb_txn_free(t);
    ck_assert_int_eq(exec_int(c, NULL, "SELECT 5", 0, NULL), 5);
    alchdb_client_free(c);
}
END_TEST

/* ---- streams ---- */

START_TEST(test_streams)
{
    alchdb_client *c = bouncer_client(3);
    const char *p[] = {"20000"};
    alchdb_stream *s = NULL;
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT g FROM generate_series(1, $1::int) g", 1, p, NULL, &s), 0);
    const alchdb_result *row;
    long long sum = 0;
    int rc;
    while ((rc = alchdb_stream_next(s, &row)) == 1)
        sum += strtoll(alchdb_result_value(row, 0, 0), NULL, 10);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(sum, 20000LL * 20001 / 2);
    ck_assert_str_eq(alchdb_stream_command_tag(s), "SELECT 20000");
    alchdb_stream_free(s);

    /* Stopped early: canceled, and the bouncer's session serves the next statement. */
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT g FROM generate_series(1, 50000000) g", 0, NULL, NULL, &s), 0);
    ck_assert_int_eq(alchdb_stream_next(s, &row), 1);
    alchdb_stream_free(s);
    ck_assert_int_eq(exec_int(c, NULL, "SELECT 6", 0, NULL), 6);

    /* In a transaction. */
    alchdb_txn *t = NULL;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_stream(t, "SELECT g FROM generate_series(1, 100) g", 0, NULL, NULL, &s), 0);
    int n = 0;
    while (alchdb_stream_next(s, &row) == 1)
        n++;
    ck_assert_int_eq(n, 100);
    alchdb_stream_free(s);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    alchdb_client_free(c);
}
END_TEST

/* ---- the cache in front of the bouncer ---- */

START_TEST(test_cache)
{
    alchdb_client *c = bouncer_client(3);
    alchdb_cache_config *cc;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "backend", "memory"), 0);
    alchdb_cache *cache;
    ck_assert_int_eq(alchdb_cache_new(cc, &cache), 0);
    alchdb_cache_config_free(cc);
    ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);

    exec_int(c, NULL, "CREATE TABLE IF NOT EXISTS t_cache (id int PRIMARY KEY, v int)", 0, NULL);
    exec_int(c, NULL, "INSERT INTO t_cache VALUES (1, 10) ON CONFLICT (id) DO UPDATE SET v = 10", 0, NULL);
    const char *p[] = {"1"};
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(exec_int(c, NULL, "SELECT v FROM t_cache WHERE id = $1::int", 1, p), 10);
    alchdb_cache_metrics m = {0};
    ck_assert_int_eq(alchdb_cache_get_metrics(cache, &m, sizeof m), 0);
    ck_assert_int_ge(m.hits, 2);
    exec_int(c, NULL, "UPDATE t_cache SET v = 11 WHERE id = 1", 0, NULL);
    ck_assert_int_eq(exec_int(c, NULL, "SELECT v FROM t_cache WHERE id = $1::int", 1, p), 11);
    /* A write inside a transaction invalidates at commit. */
    alchdb_txn *t = NULL;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    exec_int(c, t, "UPDATE t_cache SET v = 12 WHERE id = 1", 0, NULL);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    ck_assert_int_eq(exec_int(c, NULL, "SELECT v FROM t_cache WHERE id = $1::int", 1, p), 12);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* ---- a deadline cancels through the bouncer ---- */

START_TEST(test_deadline)
{
    alchdb_client *c = bouncer_client(2);
    alchdb_exec_opts o = {.size = sizeof o, .timeout_us = 300 * 1000};
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    alchdb_result *r = NULL;
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT pg_sleep(30)", 0, NULL, &o, &r), ALCHDB_E_TIMEOUT);
    clock_gettime(CLOCK_MONOTONIC, &b);
    ck_assert_int_lt(b.tv_sec - a.tv_sec, 15); /* the deadline plus generous slack */
    /* The client goes on: its connection was closed, the bouncer serves the next statements.
     * (The statement itself may run on to its end on the server: PgBouncer 1.18
     * closes its server connection when the client disconnects, and drops a cancel
     * request whose client is gone; docs/client.md says so.) */
    for (int i = 0; i < 2 * SERVER_CONNS; i++)
        ck_assert_int_eq(exec_int(c, NULL, "SELECT 8", 0, NULL), 8);
    alchdb_client_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pgbouncer");
    TCase *tc = tcase_create("bouncer");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_params_many_threads);
    tcase_add_test(tc, test_transactions);
    tcase_add_test(tc, test_streams);
    tcase_add_test(tc, test_cache);
    tcase_add_test(tc, test_deadline);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
