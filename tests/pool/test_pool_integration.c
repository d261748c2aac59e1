/* Pool integration tests against the real PostgreSQL of tests/services/rig.sh. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "internal.h"
#include "pgtest.h"
#include "pool/pqwait.h"
#include "procstop.h"
#include "testutil.h"

static int64_t now_ms(void) { return alchdb__now_ns() / 1000000; }

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static char *conninfo_app(const char *app)
{
    static _Thread_local char buf[1024];
    snprintf(buf, sizeof buf, "%s application_name=%s", test_env("ALCHDB_TEST_PRIMARY"), app);
    return buf;
}

static alchdb_pool *make_pool(const char *app, int max_open, const char *const *kv)
{
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, max_open), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, max_open), 0);
    for (; kv && kv[0]; kv += 2)
        ck_assert_msg(alchdb_pool_config_set_from_string(cfg, kv[0], kv[1]) == 0, "%s=%s: %s", kv[0],
                      kv[1], alchdb_last_error_message());
    alchdb_pool *pool = NULL;
    ck_assert_msg(alchdb_pool_new(conninfo_app(app), cfg, &pool) == 0, "%s",
                  alchdb_last_error_message());
    alchdb_pool_config_free(cfg);
    return pool;
}

static void admin_exec(const char *sql)
{
    PGconn *a = pgtest_connect();
    pgtest_exec(a, sql);
    PQfinish(a);
}

static long backends_of(const char *app)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s'", app);
    return pgtest_count(sql);
}

static void metrics(alchdb_pool *p, alchdb_pool_metrics *m)
{
    ck_assert_int_eq(alchdb_pool_get_metrics(p, m, sizeof *m), 0);
}

/* ---- 200 threads over a pool of 10 ---- */

enum { NTHREADS = 200, PER_THREAD = 10, POOL10 = 10 };
static alchdb_pool *g_pool;
static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static PGconn *reg_conn[64];
static atomic_int reg_busy[64];
static int reg_n;
static atomic_int answered, overlaps, failures;

static int reg_index(PGconn *pg)
{
    pthread_mutex_lock(&reg_mu);
    int i = 0;
    for (; i < reg_n; i++)
        if (reg_conn[i] == pg)
            break;
    if (i == reg_n && reg_n < 64)
        reg_conn[reg_n++] = pg;
    pthread_mutex_unlock(&reg_mu);
    return i < 64 ? i : 63;
}

static pthread_barrier_t start_200;

static void *worker_200(void *arg)
{
    int id = (int)(intptr_t)arg;
    /* Everyone starts at once, so 200 threads really compete for 10
     * connections (also under TSan/valgrind, which slow thread start-up). */
    pthread_barrier_wait(&start_200);
    char tag[32];
    snprintf(tag, sizeof tag, "worker-%d", id);
    for (int k = 0; k < PER_THREAD; k++) {
        alchdb_conn *c;
        if (alchdb_pool_acquire(g_pool, 60000000, tag, &c) != 0) {
            atomic_fetch_add(&failures, 1);
            continue;
        }
        PGconn *pg = alchdb_conn_pgconn(c);
        int idx = reg_index(pg);
        if (atomic_exchange(&reg_busy[idx], 1) != 0)
            atomic_fetch_add(&overlaps, 1);
        char v[32], want[32];
        snprintf(v, sizeof v, "%d", id * 1000 + k);
        snprintf(want, sizeof want, "%d", id * 1000 + k + 1);
        const char *params[] = {v};
        PGresult *r = PQexecParams(pg, "SELECT $1::int + 1", 1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && strcmp(PQgetvalue(r, 0, 0), want) == 0)
            atomic_fetch_add(&answered, 1);
        else
            atomic_fetch_add(&failures, 1);
        PQclear(r);
        atomic_store(&reg_busy[idx], 0);
        alchdb_pool_release(g_pool, c);
    }
    return NULL;
}

START_TEST(test_200_threads_pool_of_10)
{
    g_pool = make_pool("alchdb_t200", POOL10, NULL);
    atomic_store(&answered, 0);
    atomic_store(&overlaps, 0);
    atomic_store(&failures, 0);
    pthread_t t[NTHREADS];
    pthread_barrier_init(&start_200, NULL, NTHREADS);
    for (int i = 0; i < NTHREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker_200, (void *)(intptr_t)i), 0);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_200);
    ck_assert_int_eq(atomic_load(&failures), 0);
    ck_assert_int_eq(atomic_load(&overlaps), 0);
    ck_assert_int_eq(atomic_load(&answered), NTHREADS * PER_THREAD);
    alchdb_pool_metrics m;
    metrics(g_pool, &m);
    ck_assert_int_le(m.open, POOL10);
    ck_assert_int_le(reg_n, POOL10);
    ck_assert_int_eq(m.in_use, 0);
    ck_assert_int_eq(m.waiters, 0);
    ck_assert_int_eq(m.acquisitions, NTHREADS * PER_THREAD);
    ck_assert_int_gt(m.waited, 0); /* 200 threads over 10 connections must queue */
    ck_assert_int_ge(m.wait_p99_ns, m.wait_p50_ns);
    ck_assert_int_eq(backends_of("alchdb_t200"), m.open);
    alchdb_pool_free(g_pool);
}
END_TEST

/* ---- exhaustion, deadline, FIFO ---- */

START_TEST(test_deadline_under_exhaustion)
{
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, 2), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, 2), 0);
    ck_assert_int_eq(alchdb_pool_config_set_string(cfg, ALCHDB_POOL_OPT_NAME, "primary"), 0);
    alchdb_pool *pool;
    ck_assert_int_eq(alchdb_pool_new(conninfo_app("alchdb_tdead"), cfg, &pool), 0);
    alchdb_pool_config_free(cfg);
    alchdb_conn *a, *b, *c = (alchdb_conn *)1;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "report-job", &a), 0);
    sleep_ms(30);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "web:/api/x", &b), 0);
    sleep_ms(20);
    int64_t t0 = now_ms();
    ck_assert_int_eq(alchdb_pool_acquire(pool, 250000, "late", &c), ALCHDB_E_TIMEOUT);
    int64_t waited = now_ms() - t0;
    ck_assert_ptr_null(c);
    ck_assert_int_ge(waited, 249);
    ck_assert_int_lt(waited, 3000);
    const char *msg = alchdb_last_error_message();
    ck_assert_msg(strstr(msg, "pool 'primary' (127.0.0.1:"), "%s", msg);
    ck_assert_msg(strstr(msg, "timed out after"), "%s", msg);
    ck_assert_msg(strstr(msg, "2/2 connections in use"), "%s", msg);
    ck_assert_msg(strstr(msg, "report-job ("), "%s", msg);
    ck_assert_msg(strstr(msg, "web:/api/x ("), "%s", msg);
    /* longest holder first */
    ck_assert(strstr(msg, "report-job") < strstr(msg, "web:/api/x"));
    /* timeout 0: no wait */
    t0 = now_ms();
    ck_assert_int_eq(alchdb_pool_acquire(pool, 0, "now", &c), ALCHDB_E_TIMEOUT);
    ck_assert_int_lt(now_ms() - t0, 200);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.timeouts, 2);
    ck_assert_int_eq(m.in_use, 2);
    ck_assert_double_eq_tol(m.utilization_pct, 100.0, 0.01);
    char *json;
    ck_assert_int_eq(alchdb_pool_to_json(pool, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"tag\":\"report-job\""));
    ck_assert_ptr_nonnull(strstr(json, "\"timeouts\":2"));
    alchdb_free(json);
    alchdb_pool_release(pool, a);
    alchdb_pool_release(pool, b);
    alchdb_pool_free(pool);
}
END_TEST

static alchdb_pool *fifo_pool;
static atomic_int fifo_seq;
static int fifo_order[5];
static void *fifo_waiter(void *arg)
{
    int id = (int)(intptr_t)arg;
    alchdb_conn *c;
    if (alchdb_pool_acquire(fifo_pool, 20000000, "fifo", &c) == 0) {
        fifo_order[atomic_fetch_add(&fifo_seq, 1)] = id;
        sleep_ms(20);
        alchdb_pool_release(fifo_pool, c);
    }
    return NULL;
}

START_TEST(test_waiters_fifo)
{
    fifo_pool = make_pool("alchdb_tfifo", 1, NULL);
    atomic_store(&fifo_seq, 0);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(fifo_pool, -1, "holder", &c), 0);
    pthread_t t[5];
    for (int i = 0; i < 5; i++) {
        pthread_create(&t[i], NULL, fifo_waiter, (void *)(intptr_t)i);
        /* let each waiter queue before the next arrives */
        for (int k = 0; k < 200; k++) {
            alchdb_pool_metrics m;
            metrics(fifo_pool, &m);
            if (m.waiters == i + 1)
                break;
            sleep_ms(5);
        }
    }
    alchdb_pool_release(fifo_pool, c);
    for (int i = 0; i < 5; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&fifo_seq), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_msg(fifo_order[i] == i, "position %d served waiter %d", i, fifo_order[i]);
    alchdb_pool_free(fifo_pool);
}
END_TEST

/* ---- reset on release ---- */

START_TEST(test_open_transaction_rolled_back)
{
    admin_exec("DROP TABLE IF EXISTS pool_rb; CREATE TABLE pool_rb (v int)");
    alchdb_pool *pool = make_pool("alchdb_trb", 1, NULL);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "txn-left-open", &c), 0);
    PGconn *pg = alchdb_conn_pgconn(c);
    PQclear(PQexec(pg, "BEGIN"));
    PQclear(PQexec(pg, "INSERT INTO pool_rb VALUES (1)"));
    ck_assert_int_eq(PQtransactionStatus(pg), PQTRANS_INTRANS);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);

    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "check", &c), 0);
    ck_assert_ptr_eq(alchdb_conn_pgconn(c), pg); /* same connection, reused */
    ck_assert_int_eq(PQtransactionStatus(pg), PQTRANS_IDLE);
    /* a failed transaction too */
    PQclear(PQexec(pg, "BEGIN"));
    PQclear(PQexec(pg, "SELECT 1/0"));
    ck_assert_int_eq(PQtransactionStatus(pg), PQTRANS_INERROR);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "check", &c), 0);
    ck_assert_int_eq(PQtransactionStatus(alchdb_conn_pgconn(c)), PQTRANS_IDLE);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    ck_assert_int_eq(pgtest_count("SELECT count(*) FROM pool_rb"), 0);

    /* a query left running: the connection is not reused */
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "busy", &c), 0);
    ck_assert_int_eq(PQsendQuery(alchdb_conn_pgconn(c), "SELECT pg_sleep(0.05)"), 1);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "after", &c), 0);
    PGresult *r = PQexec(alchdb_conn_pgconn(c), "SELECT 7");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "7");
    PQclear(r);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);

    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.rollbacks, 2);
    ck_assert_int_eq(m.closed_broken, 1);
    alchdb_pool_free(pool);
    admin_exec("DROP TABLE pool_rb");
}
END_TEST

START_TEST(test_discard_all_policy)
{
    const char *kv[] = {"reset_policy", "discard_all", NULL};
    alchdb_pool *pool = make_pool("alchdb_tdiscard", 1, kv);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "setter", &c), 0);
    PQclear(PQexec(alchdb_conn_pgconn(c), "SET statement_timeout = 4321"));
    alchdb_pool_release(pool, c);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "reader", &c), 0);
    PGresult *r = PQexec(alchdb_conn_pgconn(c), "SHOW statement_timeout");
    ck_assert_str_eq(PQgetvalue(r, 0, 0), "0");
    PQclear(r);
    alchdb_pool_release(pool, c);
    alchdb_pool_free(pool);
}
END_TEST

/* ---- broken connections ---- */

START_TEST(test_terminated_backends_replaced)
{
    alchdb_pool *pool = make_pool("alchdb_tterm", 4, NULL);
    alchdb_conn *c[4];
    int old_pid[4];
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "warm", &c[i]), 0);
        old_pid[i] = PQbackendPID(alchdb_conn_pgconn(c[i]));
    }
    for (int i = 0; i < 4; i++)
        alchdb_pool_release(pool, c[i]);
    ck_assert_int_eq(backends_of("alchdb_tterm"), 4);
    ck_assert_int_eq(pgtest_count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = 'alchdb_tterm'"),
                     4);
    for (int k = 0; k < 100 && backends_of("alchdb_tterm") > 0; k++)
        sleep_ms(20);
    sleep_ms(30);
    /* every acquire gets a live connection: the dead ones are noticed and replaced */
    for (int i = 0; i < 20; i++) {
        alchdb_conn *x;
        ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "after-kill", &x), 0);
        PGconn *pg = alchdb_conn_pgconn(x);
        PGresult *r = PQexec(pg, "SELECT 1");
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "query %d on a dead connection: %s", i,
                      PQerrorMessage(pg));
        PQclear(r);
        for (int k = 0; k < 4; k++)
            ck_assert_int_ne(PQbackendPID(pg), old_pid[k]);
        alchdb_pool_release(pool, x);
    }
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_ge(m.closed_broken, 1);
    ck_assert_int_eq(backends_of("alchdb_tterm"), m.open);

    /* killed while held: the caller sees the error, release discards it */
    alchdb_conn *x;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "held", &x), 0);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(pg_terminate_backend(%d))",
             PQbackendPID(alchdb_conn_pgconn(x)));
    ck_assert_int_eq(pgtest_count(sql), 1);
    sleep_ms(50);
    PGresult *r = PQexec(alchdb_conn_pgconn(x), "SELECT 1");
    ck_assert_int_ne(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    int64_t broken_before = m.closed_broken;
    ck_assert_int_eq(alchdb_pool_release(pool, x), 0);
    metrics(pool, &m);
    ck_assert_int_eq(m.closed_broken, broken_before + 1);
    /* mark_broken from a host that knows better */
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "host", &x), 0);
    ck_assert_int_eq(alchdb_conn_mark_broken(x), 0);
    ck_assert_int_eq(alchdb_pool_release(pool, x), 0);
    metrics(pool, &m);
    ck_assert_int_eq(m.closed_broken, broken_before + 2);
    alchdb_pool_free(pool);
}
END_TEST

static alchdb_pool *rs_pool;
static atomic_bool rs_stop;
static _Atomic int64_t rs_last_ok_ns;
static atomic_long rs_ok, rs_err;
static void *restart_worker(void *arg)
{
    (void)arg;
    while (!atomic_load(&rs_stop)) {
        alchdb_conn *c;
        if (alchdb_pool_acquire(rs_pool, 2000000, "load", &c) != 0) {
            atomic_fetch_add(&rs_err, 1);
            sleep_ms(5);
            continue;
        }
        PGresult *r = PQexec(alchdb_conn_pgconn(c), "SELECT 1");
        if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            atomic_fetch_add(&rs_ok, 1);
            atomic_store(&rs_last_ok_ns, alchdb__now_ns());
        } else {
            atomic_fetch_add(&rs_err, 1);
        }
        PQclear(r);
        alchdb_pool_release(rs_pool, c);
    }
    return NULL;
}

START_TEST(test_primary_restart_mid_load)
{
    const char *rig = test_env("ALCHDB_RIG_SH");
    test_env("ALCHDB_TEST_RIG_DIR");
    rs_pool = make_pool("alchdb_trestart", 8, NULL);
    atomic_store(&rs_stop, false);
    atomic_store(&rs_ok, 0);
    atomic_store(&rs_err, 0);
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, restart_worker, NULL);
    sleep_ms(300);
    ck_assert_int_gt(atomic_load(&rs_ok), 0);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' pgctl primary restart fast", rig);
    ck_assert_int_eq(system(cmd), 0);
    int64_t up = alchdb__now_ns();
    /* the pool must serve again within a few seconds of the server being back */
    int64_t recovered = -1;
    for (int k = 0; k < 1000; k++) {
        if (atomic_load(&rs_last_ok_ns) > up) {
            recovered = (atomic_load(&rs_last_ok_ns) - up) / 1000000;
            break;
        }
        sleep_ms(10);
    }
    sleep_ms(500);
    atomic_store(&rs_stop, true);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    fprintf(stderr, "restart: recovered %lld ms after the server was back; ok=%ld err=%ld\n",
            (long long)recovered, atomic_load(&rs_ok), atomic_load(&rs_err));
    ck_assert_msg(recovered >= 0 && recovered < 5000, "not recovered (%lld ms)", (long long)recovered);
    ck_assert_int_gt(atomic_load(&rs_err), 0); /* the restart was felt */
    /* no leaked connection: the server sees exactly the pool's open count */
    alchdb_pool_metrics m;
    long seen = -1;
    for (int k = 0; k < 100; k++) {
        metrics(rs_pool, &m);
        seen = backends_of("alchdb_trestart");
        if (seen == m.open)
            break;
        sleep_ms(30);
    }
    ck_assert_int_eq(seen, m.open);
    ck_assert_int_eq(m.in_use, 0);
    ck_assert_int_ge(m.closed_broken, 1);
    alchdb_pool_free(rs_pool);
    for (int k = 0; k < 100 && backends_of("alchdb_trestart") > 0; k++)
        sleep_ms(20); /* backends exit asynchronously after Terminate */
    ck_assert_int_eq(backends_of("alchdb_trestart"), 0);
}
END_TEST

/* ---- connect errors ---- */

static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    return ntohs(a.sin_port);
}

START_TEST(test_connect_errors_are_clear)
{
    const char *port = test_env("ALCHDB_TEST_PRIMARY_PORT");
    const char *user = test_env("ALCHDB_TEST_PASSWORD_USER");
    const char *good = test_env("ALCHDB_TEST_PASSWORD");
    char ci[512];
    alchdb_pool *pool;
    alchdb_conn *c;

    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%s dbname=alchdb_test user=%s password=Wr0ngPassw0rdX",
             port, user);
    ck_assert_int_eq(alchdb_pool_new(ci, NULL, &pool), 0);
    int64_t t0 = now_ms();
    /* refused at once, not after the acquire's timeout */
    ck_assert_int_eq(alchdb_pool_acquire(pool, 5000000LL * test_slowdown(), "pw", &c), ALCHDB_E_CONNECT);
    ck_assert_int_lt(now_ms() - t0, 3000 * test_slowdown());
    const char *msg = alchdb_last_error_message();
    ck_assert_msg(strstr(msg, "password authentication failed"), "%s", msg);
    ck_assert_ptr_null(strstr(msg, "Wr0ngPassw0rdX"));
    char *json;
    ck_assert_int_eq(alchdb_pool_to_json(pool, &json), 0);
    ck_assert_ptr_null(strstr(json, "Wr0ngPassw0rdX"));
    ck_assert_ptr_nonnull(strstr(json, "password authentication failed"));
    alchdb_free(json);
    alchdb_pool_free(pool);

    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%s dbname=alchdb_test user=%s password=%s", port,
             user, good);
    ck_assert_int_eq(alchdb_pool_new(ci, NULL, &pool), 0);
    ck_assert_msg(alchdb_pool_acquire(pool, 5000000, "pw-ok", &c) == 0, "%s",
                  alchdb_last_error_message());
    alchdb_pool_release(pool, c);
    ck_assert_int_eq(alchdb_pool_to_json(pool, &json), 0);
    ck_assert_ptr_null(strstr(json, good));
    alchdb_free(json);
    alchdb_pool_free(pool);

    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=alchdb_test", closed_port());
    ck_assert_int_eq(alchdb_pool_new(ci, NULL, &pool), 0);
    t0 = now_ms();
    ck_assert_int_eq(alchdb_pool_acquire(pool, 5000000, "port", &c), ALCHDB_E_CONNECT);
    ck_assert_int_lt(now_ms() - t0, 3000);
    ck_assert_msg(strstr(alchdb_last_error_message(), "refused"), "%s", alchdb_last_error_message());
    alchdb_pool_free(pool);

    /* an address that does not answer: bounded by connect_timeout */
    alchdb_pool_config *cfg;
    alchdb_pool_config_new(&cfg);
    alchdb_pool_config_set_from_string(cfg, "connect_timeout", "300ms");
    ck_assert_int_eq(alchdb_pool_new("host=10.255.255.1 port=5432 dbname=x", cfg, &pool), 0);
    alchdb_pool_config_free(cfg);
    t0 = now_ms();
    ck_assert_int_eq(alchdb_pool_acquire(pool, 5000000, "blackhole", &c), ALCHDB_E_CONNECT);
    ck_assert_int_lt(now_ms() - t0, 2000);
    alchdb_pool_free(pool);
}
END_TEST

/* ---- housekeeping ---- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[4096];
static void capture(void *ud, int level, const char *module, const char *message)
{
    (void)ud;
    pthread_mutex_lock(&log_mu);
    if (level <= ALCHDB_LOG_WARN && strcmp(module, "pool") == 0 &&
        strlen(log_buf) + strlen(message) + 2 < sizeof log_buf) {
        strcat(log_buf, message);
        strcat(log_buf, "\n");
    }
    pthread_mutex_unlock(&log_mu);
}

START_TEST(test_leak_reported_with_tag)
{
    log_buf[0] = '\0';
    alchdb_set_log_handler(capture, NULL, ALCHDB_LOG_WARN);
    const char *kv[] = {"leak_threshold", "100ms", "housekeeping_interval", "20ms", NULL};
    alchdb_pool *pool = make_pool("alchdb_tleak", 2, kv);
    alchdb_conn *c, *d;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "leaky-job", &c), 0);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "quick-job", &d), 0);
    alchdb_pool_release(pool, d);
    sleep_ms(400);
    pthread_mutex_lock(&log_mu);
    ck_assert_msg(strstr(log_buf, "leaky-job"), "log: %s", log_buf);
    ck_assert_ptr_null(strstr(log_buf, "quick-job"));
    pthread_mutex_unlock(&log_mu);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.leaks, 1); /* reported once */
    alchdb_pool_release(pool, c);
    alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_NONE);
    alchdb_pool_free(pool);
}
END_TEST

START_TEST(test_idle_lifetime_min_idle)
{
    const char *kv[] = {"conn_max_idle_time", "100ms", "housekeeping_interval", "20ms", NULL};
    alchdb_pool *pool = make_pool("alchdb_tidle", 3, kv);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "x", &c), 0);
    alchdb_pool_release(pool, c);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.idle, 1);
    sleep_ms(500);
    metrics(pool, &m);
    ck_assert_int_eq(m.idle, 0);
    ck_assert_int_eq(m.open, 0);
    ck_assert_int_eq(m.closed_idle, 1);
    alchdb_pool_free(pool);

    const char *kv2[] = {"conn_max_lifetime", "200ms", "housekeeping_interval", "1h", NULL};
    pool = make_pool("alchdb_tlife", 1, kv2);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "x", &c), 0);
    int pid1 = PQbackendPID(alchdb_conn_pgconn(c));
    alchdb_pool_release(pool, c);
    sleep_ms(300);
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "x", &c), 0);
    ck_assert_int_ne(PQbackendPID(alchdb_conn_pgconn(c)), pid1);
    alchdb_pool_release(pool, c);
    metrics(pool, &m);
    ck_assert_int_eq(m.closed_lifetime, 1);
    alchdb_pool_free(pool);

    const char *kv3[] = {"min_idle_conns", "3", "housekeeping_interval", "20ms", NULL};
    pool = make_pool("alchdb_tminidle", 5, kv3);
    for (int k = 0; k < 200; k++) {
        metrics(pool, &m);
        if (m.idle == 3)
            break;
        sleep_ms(10);
    }
    ck_assert_int_eq(m.idle, 3);
    sleep_ms(100);
    metrics(pool, &m);
    ck_assert_int_eq(m.open, 3); /* no more than min_idle */
    ck_assert_int_eq(backends_of("alchdb_tminidle"), 3);
    alchdb_pool_free(pool);
    for (int k = 0; k < 100 && backends_of("alchdb_tminidle") > 0; k++)
        sleep_ms(20);
    ck_assert_int_eq(backends_of("alchdb_tminidle"), 0);
}
END_TEST

/* ---- bad use of handles ---- */

START_TEST(test_double_release_and_wrong_pool)
{
    const char *kv[] = {"name", "pool-a", NULL};
    const char *kvb[] = {"name", "pool-b", NULL};
    alchdb_pool *a = make_pool("alchdb_tda", 2, kv), *b = make_pool("alchdb_tdb", 2, kvb);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(a, -1, "x", &c), 0);
    ck_assert_int_eq(alchdb_pool_release(b, c), ALCHDB_E_INVALID);
    ck_assert_msg(strstr(alchdb_last_error_message(), "pool-a") &&
                      strstr(alchdb_last_error_message(), "pool-b"),
                  "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_pool_release(a, c), 0);
    ck_assert_int_eq(alchdb_pool_release(a, c), ALCHDB_E_STATE);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "released twice"));
    ck_assert_ptr_null(alchdb_conn_pgconn(c));
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_conn_mark_broken(c), ALCHDB_E_STATE);
    /* the same slot acquired again: the stale handle still cannot release it */
    alchdb_conn *c2;
    ck_assert_int_eq(alchdb_pool_acquire(a, -1, "y", &c2), 0);
    ck_assert_int_eq(alchdb_pool_release(a, c), ALCHDB_E_STATE);
    alchdb_pool_metrics m;
    metrics(a, &m);
    ck_assert_int_eq(m.in_use, 1);
    ck_assert_int_eq(m.open, 1);
    PGresult *r = PQexec(alchdb_conn_pgconn(c2), "SELECT 1");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    ck_assert_int_eq(alchdb_pool_release(a, c2), 0);
    metrics(a, &m);
    ck_assert_int_eq(m.in_use, 0);
    ck_assert_int_eq(m.idle, 1);
    alchdb_pool_free(a);
    alchdb_pool_free(b);
}
END_TEST

static alchdb_pool *close_pool;
static void *close_waiter(void *arg)
{
    (void)arg;
    alchdb_conn *c;
    return (void *)(intptr_t)alchdb_pool_acquire(close_pool, 10000000, "waiter", &c);
}

START_TEST(test_close_wakes_waiters_and_free_with_held)
{
    close_pool = make_pool("alchdb_tclose", 1, NULL);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(close_pool, -1, "holder", &c), 0);
    pthread_t t;
    pthread_create(&t, NULL, close_waiter, NULL);
    sleep_ms(100);
    int64_t t0 = now_ms();
    alchdb_pool_close(close_pool);
    void *rc;
    pthread_join(t, &rc);
    ck_assert_int_eq((int)(intptr_t)rc, ALCHDB_E_CLOSED);
    ck_assert_int_lt(now_ms() - t0, 2000);
    ck_assert_int_eq(backends_of("alchdb_tclose"), 1); /* the held one stays until released */
    ck_assert_int_eq(alchdb_pool_release(close_pool, c), 0);
    alchdb_pool_metrics m;
    metrics(close_pool, &m);
    ck_assert_int_eq(m.open, 0);
    ck_assert_int_eq(m.closed_shutdown, 1);
    alchdb_pool_free(close_pool);
    for (int k = 0; k < 50 && backends_of("alchdb_tclose") > 0; k++)
        sleep_ms(20);
    ck_assert_int_eq(backends_of("alchdb_tclose"), 0);

    /* free while a connection is held: memory goes with the last release */
    alchdb_pool *p = make_pool("alchdb_tfree", 2, NULL);
    alchdb_conn *x, *y;
    ck_assert_int_eq(alchdb_pool_acquire(p, -1, "x", &x), 0);
    ck_assert_int_eq(alchdb_pool_acquire(p, -1, "y", &y), 0);
    alchdb_pool_release(p, y);
    alchdb_pool_free(p);
    ck_assert_int_eq(alchdb_pool_release(p, x), 0);
    for (int k = 0; k < 50 && backends_of("alchdb_tfree") > 0; k++)
        sleep_ms(20);
    ck_assert_int_eq(backends_of("alchdb_tfree"), 0);
}
END_TEST

START_TEST(test_max_waiters)
{
    const char *kv[] = {"max_waiters", "0", NULL};
    alchdb_pool *pool = make_pool("alchdb_tmaxw", 1, kv);
    alchdb_conn *c, *d;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "x", &c), 0);
    ck_assert_int_eq(alchdb_pool_acquire(pool, 1000000, "y", &d), ALCHDB_E_BUSY);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_waiters"));
    alchdb_pool_release(pool, c);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.rejected, 1);
    alchdb_pool_free(pool);
}
END_TEST

/* ---- deadlines that hold ---- */

/* validation_interval 0 means a round trip on every reuse, also within 10 ms. */
START_TEST(test_validation_interval_zero)
{
    const char *kv[] = {"validation_interval", "0", NULL};
    alchdb_pool *pool = make_pool("alchdb_tval0", 1, kv);
    alchdb_conn *c;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "v", &c), 0);
        ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    }
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.connects, 1);
    ck_assert_int_eq(m.validations, 2); /* the two reuses, right after each release */
    alchdb_pool_free(pool);
}
END_TEST

static int backend_pid(alchdb_pool *pool)
{
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "pid", &c), 0);
    int pid = PQbackendPID(alchdb_conn_pgconn(c));
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    return pid;
}

/* A pooled backend that stops answering (SIGSTOP) cannot hold an acquire
 * past its deadline: the validation round trip is bounded by it. */
START_TEST(test_stopped_backend_acquire_deadline)
{
    const char *kv[] = {"validation_interval", "0", NULL};
    alchdb_pool *pool = make_pool("alchdb_tstopb", 1, kv);
    int pid = backend_pid(pool);
    procstop ps = procstop_begin(pid, 20000);
    alchdb_conn *c = NULL;
    int64_t t0 = now_ms();
    int rc = alchdb_pool_acquire(pool, 500000, "stuck", &c);
    int64_t took = now_ms() - t0;
    procstop_end(&ps);
    ck_assert_int_eq(rc, ALCHDB_E_TIMEOUT);
    ck_assert_msg(took >= 490 && took < 1500, "acquire with a 500 ms deadline took %lld ms", (long long)took);
    ck_assert_msg(strstr(alchdb_last_error_message(), "validating"), "%s", alchdb_last_error_message());
    /* the stuck connection was discarded: the next acquire gets a new backend */
    ck_assert_int_ne(backend_pid(pool), pid);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.closed_broken, 1);
    ck_assert_int_eq(m.timeouts, 1);
    alchdb_pool_free(pool);
}
END_TEST

/* A stopped postmaster: the connect is bounded by the caller's deadline, not
 * by connect_timeout (5 s), and it does not count as a server failure. */
START_TEST(test_stopped_postmaster_connect_deadline)
{
    alchdb_pool *pool = make_pool("alchdb_tstopm", 2, NULL);
    procstop ps = procstop_begin(procstop_postmaster(), 20000);
    alchdb_conn *c = NULL;
    int64_t t0 = now_ms();
    int rc = alchdb_pool_acquire(pool, 300000, "cold", &c);
    int64_t took = now_ms() - t0;
    procstop_end(&ps);
    ck_assert_int_eq(rc, ALCHDB_E_TIMEOUT);
    ck_assert_msg(took >= 290 && took < 1300, "acquire with a 300 ms deadline took %lld ms", (long long)took);
    ck_assert_msg(strstr(alchdb_last_error_message(), "while connecting"), "%s", alchdb_last_error_message());
    /* no back-off was set: the server is back and the next acquire connects */
    ck_assert_msg(alchdb_pool_acquire(pool, 10000000, "warm", &c) == 0, "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.connect_errors, 0);
    alchdb_pool_free(pool);
}
END_TEST

/* The rollback on release is bounded (by connect_timeout when the caller
 * gave no deadline): a stopped backend costs a release that long, and the
 * connection is closed. */
START_TEST(test_stopped_backend_release_bounded)
{
    const char *kv[] = {"connect_timeout", "300ms", NULL};
    alchdb_pool *pool = make_pool("alchdb_tstopr", 1, kv);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "txn", &c), 0);
    PGconn *pg = alchdb_conn_pgconn(c);
    PQclear(PQexec(pg, "BEGIN"));
    procstop ps = procstop_begin(PQbackendPID(pg), 20000);
    int64_t t0 = now_ms();
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    int64_t took = now_ms() - t0;
    procstop_end(&ps);
    ck_assert_msg(took >= 290 && took < 1300, "release took %lld ms", (long long)took);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.closed_broken, 1);
    ck_assert_int_eq(m.open, 0);
    alchdb_pool_free(pool);
}
END_TEST

static long active_sleepers(const char *app) { return pgtest_active(app, "SELECT pg_sleep%"); }

/* Releasing a connection with a query still running cancels it on the server. */
START_TEST(test_release_cancels_running_query)
{
    alchdb_pool *pool = make_pool("alchdb_tcancel", 1, NULL);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "busy", &c), 0);
    ck_assert_int_eq(PQsendQuery(alchdb_conn_pgconn(c), "SELECT pg_sleep(60)"), 1);
    for (int k = 0; k < 250 && active_sleepers("alchdb_tcancel") == 0; k++)
        sleep_ms(20);
    ck_assert_int_eq(active_sleepers("alchdb_tcancel"), 1);
    int64_t t0 = now_ms();
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    ck_assert_int_lt(now_ms() - t0, 1000); /* the cancel request never blocks the release */
    for (int k = 0; k < 250 && active_sleepers("alchdb_tcancel") > 0; k++)
        sleep_ms(20);
    ck_assert_int_eq(active_sleepers("alchdb_tcancel"), 0); /* stopped long before its 60 s */
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.cancels, 1);
    ck_assert_int_eq(m.closed_broken, 1);
    alchdb_pool_free(pool);
    for (int k = 0; k < 250 && alchdb__pq_cancel_inflight() > 0; k++)
        sleep_ms(20);
    ck_assert_int_eq(alchdb__pq_cancel_inflight(), 0);
}
END_TEST

/* ---- the connect storm: a failed connect does not fail a caller with time ---- */

enum { LIM_THREADS = 40, LIM_PER = 10 };
static alchdb_pool *lim_pool;
static atomic_int lim_fail, lim_ok;
static char lim_err[512];
static pthread_barrier_t lim_bar;

static void *lim_worker(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&lim_bar);
    for (int k = 0; k < LIM_PER; k++) {
        alchdb_conn *c;
        if (alchdb_pool_acquire(lim_pool, 60000000, "limited", &c) != 0) {
            if (atomic_fetch_add(&lim_fail, 1) == 0)
                snprintf(lim_err, sizeof lim_err, "%s", alchdb_last_error_message());
            continue;
        }
        PGresult *r = PQexec(alchdb_conn_pgconn(c), "SELECT pg_sleep(0.002)");
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            atomic_fetch_add(&lim_ok, 1);
        else
            atomic_fetch_add(&lim_fail, 1);
        PQclear(r);
        alchdb_pool_release(lim_pool, c);
    }
    return NULL;
}

/* The server takes 3 connections of this role and refuses the rest, while
 * the pool may open 8: the callers whose connect is refused wait for a
 * released connection instead of failing. */
START_TEST(test_refused_connects_requeue)
{
    admin_exec("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alchdb_climit') THEN "
               "CREATE ROLE alchdb_climit LOGIN; END IF; END $$; ALTER ROLE alchdb_climit CONNECTION LIMIT 3");
    char ci[1024];
    snprintf(ci, sizeof ci, "%s user=alchdb_climit application_name=alchdb_tclimit", test_env("ALCHDB_TEST_PRIMARY"));
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, 8), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, 8), 0);
    ck_assert_int_eq(alchdb_pool_new(ci, cfg, &lim_pool), 0);
    alchdb_pool_config_free(cfg);
    atomic_store(&lim_fail, 0);
    atomic_store(&lim_ok, 0);
    pthread_barrier_init(&lim_bar, NULL, LIM_THREADS);
    pthread_t t[LIM_THREADS];
    for (int i = 0; i < LIM_THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, lim_worker, NULL), 0);
    for (int i = 0; i < LIM_THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&lim_bar);
    alchdb_pool_metrics m;
    metrics(lim_pool, &m);
    fprintf(stderr, "refused connects: ok=%d failed=%d connects=%lld errors=%lld requeued=%lld\n",
            atomic_load(&lim_ok), atomic_load(&lim_fail), (long long)m.connects, (long long)m.connect_errors,
            (long long)m.connect_requeued);
    ck_assert_msg(atomic_load(&lim_fail) == 0, "%d requests failed, first: %s", atomic_load(&lim_fail), lim_err);
    ck_assert_int_eq(atomic_load(&lim_ok), LIM_THREADS * LIM_PER);
    ck_assert_int_le(m.open, 3);
    ck_assert_int_gt(m.connect_errors, 0); /* the limit was hit */
    ck_assert_int_gt(m.connect_requeued, 0);
    alchdb_pool_free(lim_pool);
    /* the server down with nothing open still fails fast */
    alchdb_pool *down;
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=x", 1);
    ck_assert_int_eq(alchdb_pool_new(ci, NULL, &down), 0);
    alchdb_conn *c;
    int64_t t0 = now_ms();
    ck_assert_int_eq(alchdb_pool_acquire(down, 5000000, "down", &c), ALCHDB_E_CONNECT);
    ck_assert_int_lt(now_ms() - t0, 2000);
    alchdb_pool_free(down);
}
END_TEST

/* ---- fork ---- */

START_TEST(test_fork_guard)
{
    alchdb_pool *pool = make_pool("alchdb_tfork", 2, NULL);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "parent", &c), 0);
    PGconn *pg = alchdb_conn_pgconn(c);
    int pid = PQbackendPID(pg);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        /* In the child: every use fails clearly; free drops the inherited
         * connection without a word to the server. No Check asserts here. */
        alchdb_conn *x = NULL;
        int code = 0;
        if (alchdb_pool_acquire(pool, 1000000, "child", &x) != ALCHDB_E_STATE)
            code |= 1;
        if (!strstr(alchdb_last_error_message(), "fork"))
            code |= 2;
        alchdb_pool_metrics cm;
        if (alchdb_pool_get_metrics(pool, &cm, sizeof cm) != ALCHDB_E_STATE)
            code |= 4;
        alchdb_pool_close(pool);
        alchdb_pool_free(pool);
        _exit(code);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    /* the parent's session is intact: the same backend answers */
    ck_assert_int_eq(alchdb_pool_acquire(pool, -1, "parent", &c), 0);
    ck_assert_ptr_eq(alchdb_conn_pgconn(c), pg);
    PGresult *r = PQexec(pg, "SELECT pg_backend_pid()");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_eq(atoi(PQgetvalue(r, 0, 0)), pid);
    PQclear(r);
    ck_assert_int_eq(alchdb_pool_release(pool, c), 0);
    alchdb_pool_metrics m;
    metrics(pool, &m);
    ck_assert_int_eq(m.closed_broken, 0);
    alchdb_pool_free(pool);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool-integration");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 90);
    tcase_add_test(tc, test_200_threads_pool_of_10);
    tcase_add_test(tc, test_deadline_under_exhaustion);
    tcase_add_test(tc, test_waiters_fifo);
    tcase_add_test(tc, test_open_transaction_rolled_back);
    tcase_add_test(tc, test_discard_all_policy);
    tcase_add_test(tc, test_terminated_backends_replaced);
    tcase_add_test(tc, test_connect_errors_are_clear);
    tcase_add_test(tc, test_leak_reported_with_tag);
    tcase_add_test(tc, test_idle_lifetime_min_idle);
    tcase_add_test(tc, test_double_release_and_wrong_pool);
    tcase_add_test(tc, test_close_wakes_waiters_and_free_with_held);
    tcase_add_test(tc, test_max_waiters);
    tcase_add_test(tc, test_primary_restart_mid_load);
    tcase_add_test(tc, test_validation_interval_zero);
    tcase_add_test(tc, test_stopped_backend_acquire_deadline);
    tcase_add_test(tc, test_stopped_postmaster_connect_deadline);
    tcase_add_test(tc, test_stopped_backend_release_bounded);
    tcase_add_test(tc, test_release_cancels_running_query);
    tcase_add_test(tc, test_refused_connects_requeue);
    tcase_add_test(tc, test_fork_guard);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
