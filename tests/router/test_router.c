/* Router against the real rig: a PostgreSQL 15 primary and a streaming replica. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>
#include <alchdb/router.h>

#include "router/router_internal.h"
#include "procstop.h"
#include "testutil.h"

static alchdb_router *make_router(int64_t probe_us, int64_t max_lag_bytes)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_int64(cfg, ALCHDB_ROUTER_OPT_PROBE_INTERVAL, probe_us), 0);
    ck_assert_int_eq(alchdb_router_config_set_int64(cfg, ALCHDB_ROUTER_OPT_MAX_LAG_BYTES, max_lag_bytes), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "causal_wait", "2s"), 0);
    alchdb_pool_config *pc;
    ck_assert_int_eq(alchdb_pool_config_new(&pc), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_OPEN, 8), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_IDLE, 8), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_CONNECT_TIMEOUT, 2000000), 0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), pc, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    alchdb_pool_config_free(pc);
    alchdb_router_config_free(cfg);
    ck_assert_msg(alchdb_router_start(r) == 0, "start: %s", alchdb_last_error_message());
    return r;
}

static void psql(const char *conninfo, const char *sql)
{
    PGconn *c = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    PGresult *res = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
}

/* Run sql on a routed connection; returns whether the server was in recovery
 * (the truth about where it ran) or -1 on a query error. */
static int run_where(alchdb_router *r, int intent, const char *sql, const char *token, int *reason)
{
    alchdb_conn *c;
    int rc = alchdb_router_acquire(r, intent, sql, token, -1, "test", &c, reason);
    ck_assert_msg(rc == 0, "acquire: %s", alchdb_last_error_message());
    PGresult *res = PQexec(alchdb_conn_pgconn(c), "SELECT pg_is_in_recovery()");
    int rec = PQresultStatus(res) == PGRES_TUPLES_OK ? PQgetvalue(res, 0, 0)[0] == 't' : -1;
    PQclear(res);
    ck_assert_int_eq(rec, alchdb_router_conn_is_replica(r, c));
    alchdb_router_release(r, c, NULL);
    return rec;
}

START_TEST(test_reads_to_replica_writes_to_primary)
{
    alchdb_router *r = make_router(200000, 16 * 1024 * 1024);
    int reason;
    ck_assert_int_eq(alchdb_router_host_healthy(r, 1), 1);
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT * FROM pg_class WHERE oid = 1", NULL, &reason), 1);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_READ_ONLY);
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "UPDATE t SET a = 1", NULL, &reason), 0);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_WRITES);
    /* the classification table drives routing: these never reach a replica */
    static const char *const primary_only[] = {
        "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
        "SELECT * FROM t FOR UPDATE",
        "SELECT nextval('s')",
        "SELECT pg_advisory_lock(1)",
        "SET search_path = app",
        "BEGIN",
        "SELECT * INTO t2 FROM t",
        "CREATE TABLE x (id int)",
        "this is not sql",
    };
    for (size_t i = 0; i < sizeof primary_only / sizeof primary_only[0]; i++) {
        alchdb_conn *c;
        ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, primary_only[i], NULL, -1, NULL, &c, &reason), 0);
        ck_assert_msg(alchdb_router_conn_is_replica(r, c) == 0, "%s reached a replica", primary_only[i]);
        alchdb_router_release(r, c, NULL);
    }
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_READ, NULL, NULL, &reason), 1);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_INTENT_READ);
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_PRIMARY, "SELECT 1", NULL, &reason), 0);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_INTENT_PRIMARY);
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"read_only\":1"));
    ck_assert_ptr_nonnull(strstr(json, "\"role\":\"replica\""));
    ck_assert_ptr_null(strstr(json, "password"));
    alchdb_free(json);
    alchdb_router_free(r);
}
END_TEST

/* A write followed by a read with its token always sees the write. */
START_TEST(test_read_your_writes)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    psql(primary, "DROP TABLE IF EXISTS ryw; CREATE TABLE ryw (id int PRIMARY KEY, v int); INSERT INTO ryw VALUES (1, 0)");
    alchdb_router *r = make_router(200000, 1LL << 40);
    int stale = 0, on_replica = 0;
    const int n = 2000;
    for (int i = 1; i <= n; i++) {
        alchdb_conn *c;
        ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, "UPDATE ryw SET v = $1 WHERE id = 1", NULL, -1,
                                               "w", &c, NULL), 0);
        char val[16];
        snprintf(val, sizeof val, "%d", i);
        const char *p[1] = {val};
        PGresult *res = PQexecParams(alchdb_conn_pgconn(c), "UPDATE ryw SET v = $1 WHERE id = 1", 1, NULL, p, NULL,
                                     NULL, 0);
        ck_assert_int_eq(PQresultStatus(res), PGRES_COMMAND_OK);
        PQclear(res);
        alchdb_router_release(r, c, NULL);
        char tok[96];
        ck_assert_int_eq(alchdb_router_token(r, tok, sizeof tok), 0);
        int reason;
        ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, "SELECT v FROM ryw WHERE id = 1", tok, -1, "r",
                                               &c, &reason), 0);
        res = PQexec(alchdb_conn_pgconn(c), "SELECT v FROM ryw WHERE id = 1");
        ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
        if (atoi(PQgetvalue(res, 0, 0)) < i)
            stale++;
        on_replica += alchdb_router_conn_is_replica(r, c);
        PQclear(res);
        alchdb_router_release(r, c, NULL);
    }
    printf("read-your-writes: %d iterations, %d served by the replica, %d stale\n", n, on_replica, stale);
    ck_assert_int_eq(stale, 0);
    ck_assert_int_gt(on_replica, n / 2); /* the replica really served them */
    /* bad tokens */
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, "SELECT 1", "garbage", -1, NULL, &c, NULL),
                     ALCHDB_E_INVALID);
    ck_assert_ptr_null(c);
    int reason;
    /* version 1 (no timeline) is refused with a reason */
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, "SELECT 1", "alchdb1:12345:0/1", -1, NULL, &c,
                                           &reason), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "timeline"));
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, "SELECT 1", "alchdb2:12345:1:0/1", -1, NULL, &c,
                                           &reason), 0);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_FOREIGN_TOKEN);
    ck_assert_int_eq(alchdb_router_conn_is_replica(r, c), 0);
    alchdb_router_release(r, c, NULL);
    alchdb_router_free(r);
}
END_TEST

/* A router metric by name from its JSON (the first occurrence). */
static long fl_metric_rig(alchdb_router *r, const char *name)
{
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    char key[96];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(json, key);
    ck_assert_ptr_nonnull(p);
    long v = strtol(p + strlen(key), NULL, 10);
    alchdb_free(json);
    return v;
}

static void wait_health(alchdb_router *r, size_t host, int want, int seconds)
{
    for (int i = 0; i < seconds * 20 && alchdb_router_host_healthy(r, host) != want; i++)
        usleep(50000);
    ck_assert_msg(alchdb_router_host_healthy(r, host) == want, "replica health did not become %d", want);
}

/* Pausing replay makes the replica lag: excluded past the threshold, reads
 * served by the primary, re-admitted after resume. */
START_TEST(test_lagging_replica_excluded)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY"), *replica = test_env("ALCHDB_TEST_REPLICA");
    psql(primary, "DROP TABLE IF EXISTS lagtest; CREATE TABLE lagtest (id int, pad text)");
    alchdb_router *r = make_router(100000, 256 * 1024);
    wait_health(r, 1, 1, 10);
    psql(replica, "SELECT pg_wal_replay_pause()");
    psql(primary, "INSERT INTO lagtest SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
    wait_health(r, 1, 0, 10);
    int reason;
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT count(*) FROM lagtest", NULL, &reason), 0);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_NO_HEALTHY_REPLICA);
    char *json;
    alchdb_router_to_json(r, &json);
    ck_assert_ptr_nonnull(strstr(json, "\"lag_excluded\":true"));
    alchdb_free(json);
    psql(replica, "SELECT pg_wal_replay_resume()");
    wait_health(r, 1, 1, 20);
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT count(*) FROM lagtest", NULL, &reason), 1);
    alchdb_router_free(r);
}
END_TEST

/* An idle primary after a WAL segment switch: its insert position sits past
 * the new segment's page header, which no standby ever replays (replay ends
 * at the boundary until the next record). The replica is caught up all the
 * same and keeps its reads, however long the primary stays idle. */
START_TEST(test_idle_primary_after_wal_switch)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", "100ms"), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "max_lag_time", "1s"), 0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, cfg, &r), 0);
    alchdb_router_config_free(cfg);
    ck_assert_int_eq(alchdb_router_add_replica(r, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    ck_assert_int_eq(alchdb_router_start(r), 0);
    wait_health(r, 1, 1, 10 * test_slowdown());
    psql(test_env("ALCHDB_TEST_PRIMARY"), "DROP TABLE IF EXISTS switchtest; CREATE TABLE switchtest (id int)");
    psql(test_env("ALCHDB_TEST_PRIMARY"), "SELECT pg_switch_wal()");
    /* well past max_lag_time, with the primary idle */
    for (int i = 0; i < 30; i++) {
        usleep(100000);
        ck_assert_int_eq(alchdb_router_probe_now(r), 0);
    }
    char *json = NULL;
    alchdb_router_to_json(r, &json);
    ck_assert_msg(alchdb_router_host_healthy(r, 1) == 1, "caught-up replica excluded after a WAL switch: %s", json);
    alchdb_free(json);
    int reason;
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT 1", NULL, &reason), 1);
    /* A token taken now (nothing written since the switch: the insert
     * position sits after the new segment's page header) is one the replica
     * has reached: the end of the switch record. A background record (the
     * bgwriter's running-transactions snapshot) may come in before the token
     * and take the replica a moment to replay, so a read that went to the
     * primary is retried for a bounded time. Unless such a record came in,
     * this fails when the token keeps the header (the replica never reaches
     * it while the primary is idle). */
    char tok[128];
    ck_assert_int_eq(alchdb_router_token(r, tok, sizeof tok), 0);
    int where = 0;
    for (int i = 0; i < 50 * test_slowdown() && where != 1; i++) {
        ck_assert_int_eq(alchdb_router_probe_now(r), 0);
        where = run_where(r, ALCHDB_INTENT_AUTO, "SELECT 1", tok, &reason);
        if (where != 1)
            usleep(100000);
    }
    ck_assert_msg(where == 1, "a token taken on the idle primary after a WAL switch never reached the replica: %s",
                  tok);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_CAUSAL_REPLICA);
    alchdb_router_free(r);
}
END_TEST

/* Reads on many threads while the replica is stopped (-m immediate) and
 * restarted: every read succeeds (failed over to the primary), and the replica
 * is re-admitted after it comes back. */
typedef struct reader_arg {
    alchdb_client *c;
    atomic_int *stop;
    atomic_long ok, failed, on_replica; /* read by the main thread while the reader runs */
} reader_arg;

/* A host's reads through the client: the failover is the client's job. */
static void *reader(void *p)
{
    reader_arg *a = p;
    while (!atomic_load(a->stop)) {
        alchdb_result *res = NULL;
        if (alchdb_client_exec(a->c, "SELECT pg_is_in_recovery(), count(*) FROM pg_class", 0, NULL, &res) == 0) {
            a->ok++;
            a->on_replica += alchdb_result_value(res, 0, 0)[0] == 't';
        } else {
            a->failed++;
            fprintf(stderr, "read failed: %s\n", alchdb_last_error_message());
        }
        alchdb_result_free(res);
    }
    return NULL;
}

START_TEST(test_replica_stop_zero_failed_reads)
{
    alchdb_router *r = make_router(100000, 1LL << 40);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(r, &c), 0);
    wait_health(r, 1, 1, 10);
    atomic_int stop = 0;
    reader_arg args[6];
    pthread_t th[6];
    for (int i = 0; i < 6; i++) {
        args[i].c = c;
        args[i].stop = &stop;
        atomic_init(&args[i].ok, 0);
        atomic_init(&args[i].failed, 0);
        atomic_init(&args[i].on_replica, 0);
        pthread_create(&th[i], NULL, reader, &args[i]);
    }
    /* A restartpoint first, so crash recovery after the immediate stop starts
     * from here rather than replaying everything earlier suites did. */
    psql(test_env("ALCHDB_TEST_PRIMARY"), "CHECKPOINT");
    psql(test_env("ALCHDB_TEST_REPLICA"), "CHECKPOINT");
    usleep(500000);
    ck_assert_int_eq(system(RIG_SCRIPT " pgctl replica stop immediate"), 0);
    usleep(1500000);
    ck_assert_int_eq(alchdb_router_host_healthy(r, 1), 0);
    ck_assert_int_eq(system(RIG_SCRIPT " pgctl replica start"), 0);
    wait_health(r, 1, 1, 30);
    long before = 0;
    for (int i = 0; i < 6; i++)
        before += args[i].on_replica;
    usleep(500000);
    atomic_store(&stop, 1);
    long ok = 0, failed = 0, replica_reads = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ok += args[i].ok;
        failed += args[i].failed;
        replica_reads += args[i].on_replica;
    }
    printf("replica stop: %ld reads ok, %ld failed, %ld on the replica (%ld after it came back)\n", ok, failed,
           replica_reads, replica_reads - before);
    ck_assert_int_eq(failed, 0);
    ck_assert_int_gt(ok, 100);
    ck_assert_int_gt(replica_reads - before, 0); /* re-admitted */
    alchdb_client_free(c);
    alchdb_router_free(r);
}
END_TEST

/* The client routes through the router with the same exec call. */
START_TEST(test_client_routes)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    psql(primary, "DROP TABLE IF EXISTS croute; CREATE TABLE croute (id int PRIMARY KEY, v int); INSERT INTO croute VALUES (1, 0)");
    alchdb_router *r = make_router(200000, 1LL << 40);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(r, &c), 0);
    alchdb_result *res;
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT pg_is_in_recovery()", 0, NULL, &res), 0);
    ck_assert_str_eq(alchdb_result_value(res, 0, 0), "t");
    alchdb_result_free(res);
    ck_assert_int_eq(alchdb_client_exec_flags(c, "SELECT pg_is_in_recovery()", 0, NULL, ALCHDB_EXEC_PRIMARY, &res), 0);
    ck_assert_str_eq(alchdb_result_value(res, 0, 0), "f");
    alchdb_result_free(res);
    /* a writable CTE never reaches a replica (it would fail there with 25006) */
    ck_assert_int_eq(alchdb_client_exec(c, "WITH u AS (UPDATE croute SET v = v + 1 RETURNING v) SELECT v FROM u", 0,
                                        NULL, &res), 0);
    alchdb_result_free(res);
    int stale = 0;
    for (int i = 1; i <= 300; i++) {
        char val[16];
        snprintf(val, sizeof val, "%d", 1000 + i);
        const char *p[1] = {val};
        ck_assert_int_eq(alchdb_client_exec(c, "UPDATE croute SET v = $1 WHERE id = 1", 1, p, NULL), 0);
        char tok[96];
        ck_assert_int_eq(alchdb_client_token(c, tok, sizeof tok), 0);
        ck_assert_int_eq(alchdb_client_exec_token(c, "SELECT v FROM croute WHERE id = 1", 0, NULL, 0, tok, &res), 0);
        stale += atoi(alchdb_result_value(res, 0, 0)) < 1000 + i;
        alchdb_result_free(res);
    }
    ck_assert_int_eq(stale, 0);
    /* a read-only transaction may run on the replica; others on the primary */
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(c, ALCHDB_TXN_READ_ONLY | ALCHDB_TXN_REPEATABLE_READ, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT pg_is_in_recovery()", 0, NULL, &res), 0);
    ck_assert_str_eq(alchdb_result_value(res, 0, 0), "t");
    alchdb_result_free(res);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT pg_is_in_recovery()", 0, NULL, &res), 0);
    ck_assert_str_eq(alchdb_result_value(res, 0, 0), "f");
    alchdb_result_free(res);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    /* an unrouted client has no tokens */
    alchdb_client *plain;
    ck_assert_int_eq(alchdb_client_open(primary, NULL, &plain), 0);
    char tok[96];
    ck_assert_int_eq(alchdb_client_token(plain, tok, sizeof tok), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_client_exec_token(plain, "SELECT 1", 0, NULL, 0, "alchdb1:1:0/1", &res), ALCHDB_E_STATE);
    alchdb_client_free(plain);
    alchdb_client_free(c);
    alchdb_router_free(r);
}
END_TEST

START_TEST(test_unreachable_replica_and_bad_input)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "policy", "fastest"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "policy", "least_outstanding"), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", "soon"), ALCHDB_E_INVALID);
    const char *pol = NULL;
    ck_assert_int_eq(alchdb_router_config_get_string(cfg, ALCHDB_ROUTER_OPT_POLICY, &pol), 0);
    ck_assert_str_eq(pol, "least_outstanding");
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "nonsense", "1"), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_router_config_set_int64(cfg, ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT, 150), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", "100ms"), 0);
    alchdb_router *r = NULL;
    ck_assert_int_eq(alchdb_router_new(NULL, NULL, cfg, &r), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_new("host=127.0.0.1 port", NULL, cfg, &r), ALCHDB_E_INVALID);
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    ck_assert_int_eq(alchdb_router_new(primary, NULL, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, primary, 1), ALCHDB_E_INVALID); /* the primary itself */
    ck_assert_int_eq(alchdb_router_add_replica(r, test_env("ALCHDB_TEST_REPLICA"), 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_add_replica(r, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, test_env("ALCHDB_TEST_REPLICA"), 2), ALCHDB_E_INVALID); /* twice */
    ck_assert_int_eq(alchdb_router_add_replica(r, "host=127.0.0.1 port=1 dbname=x connect_timeout=1", 1), 0);
    ck_assert_int_eq(alchdb_router_start(r), 0);
    ck_assert_int_eq(alchdb_router_start(r), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_router_add_replica(r, "host=127.0.0.1 port=2", 1), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_router_host_count(r), 3);
    ck_assert_int_eq(alchdb_router_host_healthy(r, 2), 0); /* never connects: no reads */
    for (int i = 0; i < 50; i++) /* every read lands on a host that answers */
        ck_assert_int_ge(run_where(r, ALCHDB_INTENT_READ, NULL, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_router_acquire(r, 99, "SELECT 1", NULL, -1, NULL, &(alchdb_conn *){NULL}, NULL),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, NULL, NULL, -1, NULL, &(alchdb_conn *){NULL}, NULL),
                     ALCHDB_E_INVALID);
    char small[8];
    ck_assert_int_eq(alchdb_router_token(r, small, sizeof small), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_note_token(r, "alchdb1:1:zz"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_release(r, NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_str_eq(alchdb_route_reason_name(ALCHDB_ROUTE_CAUSAL_REPLICA), "causal_replica");
    ck_assert_str_eq(alchdb_route_reason_name(999), "unknown");
    alchdb_router_free(r);
    alchdb_router_free(NULL);
    alchdb_router_config_free(cfg);
}
END_TEST

/* All replicas down (here: none reachable) → reads on the primary; a fallback
 * cap turns the excess into a clear ALCHDB_E_BUSY. */
START_TEST(test_no_replica_fallback_and_cap)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_int64(cfg, ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC, 5), 0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, "host=127.0.0.1 port=1 dbname=x connect_timeout=1", 1), 0);
    ck_assert_int_eq(alchdb_router_start(r), 0);
    int busy = 0, ok = 0;
    for (int i = 0; i < 20; i++) {
        alchdb_conn *c;
        int reason;
        int rc = alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, "SELECT 1", NULL, -1, NULL, &c, &reason);
        if (rc == ALCHDB_E_BUSY) {
            busy++;
            ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "fallback"));
            continue;
        }
        ck_assert_int_eq(rc, 0);
        ck_assert_int_eq(reason, ALCHDB_ROUTE_NO_HEALTHY_REPLICA);
        ck_assert_int_eq(alchdb_router_conn_is_replica(r, c), 0);
        alchdb_router_release(r, c, NULL);
        ok++;
    }
    ck_assert_int_ge(ok, 5);
    ck_assert_int_gt(busy, 0);
    alchdb_router_free(r);
    alchdb_router_config_free(cfg);
}
END_TEST

/* A "primary" that is really a standby: detected, never written to (writes
 * fail fast with the reason), and it still serves reads. */
START_TEST(test_wrong_role_detected)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "max_staleness", "0s"), 0); /* no limit */
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_REPLICA"), NULL, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_start(r), 0);
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"wrong_role\":true"));
    ck_assert_ptr_nonnull(strstr(json, "\"state\":\"standby\""));
    ck_assert_ptr_nonnull(strstr(json, "\"writer\":null"));
    alchdb_free(json);
    alchdb_conn *c;
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_WRITE, NULL, NULL, -1, NULL, &c, NULL), ALCHDB_E_CONNECT);
    ck_assert_ptr_null(c);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "no server accepts writes"));
    int reason;
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT 1", NULL, &reason), 1);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_READ_ONLY);
    ck_assert_int_eq(alchdb_router_host_healthy(r, 0), 1);
    alchdb_router_free(r);
    alchdb_router_config_free(cfg);
}
END_TEST

/* "host=127.0.0.1 port=<rig port>" with the other parts of a rig conninfo. */
static void conninfo_for(char *buf, size_t cap, const char *hosts, const char *ports, const char *tsa)
{
    snprintf(buf, cap, "host=%s port=%s user=postgres dbname=alchdb_test connect_timeout=2%s%s", hosts, ports,
             tsa ? " target_session_attrs=" : "", tsa ? tsa : "");
}

/* The usual way to follow a Patroni cluster: the same host list twice, once
 * for the primary (read-write) and once for the standbys. Both entries are
 * accepted (the duplicate check counts target_session_attrs), writes land on
 * the primary and reads on the standby, whatever the order of the list. */
START_TEST(test_multi_host_entries)
{
    const char *pp = test_env("ALCHDB_TEST_PRIMARY_PORT"), *rp = test_env("ALCHDB_TEST_REPLICA_PORT");
    char ports_rp[64], ports_pr[64], prim[256], stby[256], pref[256];
    snprintf(ports_rp, sizeof ports_rp, "%s,%s", rp, pp);
    snprintf(ports_pr, sizeof ports_pr, "%s,%s", pp, rp);
    conninfo_for(prim, sizeof prim, "127.0.0.1,127.0.0.1", ports_rp, "read-write");
    conninfo_for(stby, sizeof stby, "127.0.0.1,127.0.0.1", ports_pr, "standby");
    conninfo_for(pref, sizeof pref, "127.0.0.1,127.0.0.1", ports_pr, "prefer-standby");
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", "100ms"), 0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(prim, NULL, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, stby, 1), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, pref, 1), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, stby, 1), ALCHDB_E_INVALID); /* the same entry twice */
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "already"));
    ck_assert_int_eq(alchdb_router_add_replica(r, prim, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_router_start(r), 0);
    wait_health(r, 1, 1, 10);
    wait_health(r, 2, 1, 10);
    int reason;
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "UPDATE t SET a = 1", NULL, &reason), 0);
        ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT 1", NULL, &reason), 1);
    }
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "(standby)"));
    ck_assert_ptr_nonnull(strstr(json, "\"multi_host\":true"));
    ck_assert_ptr_null(strstr(json, "\"wrong_role\":true"));
    alchdb_free(json);
    alchdb_router_free(r);
    alchdb_router_config_free(cfg);
}
END_TEST

/* A writer on the rig's primary, straight through libpq: the standby keeps
 * receiving WAL while it runs. */
typedef struct ticker {
    atomic_int stop;
    pthread_t th;
} ticker;

static void *tick_main(void *p)
{
    ticker *t = p;
    PGconn *c = PQconnectdb(test_env("ALCHDB_TEST_PRIMARY"));
    while (!atomic_load(&t->stop)) {
        PQclear(PQexec(c, "INSERT INTO ticks VALUES (now())"));
        usleep(20000);
    }
    PQfinish(c);
    return NULL;
}

static void ticker_start(ticker *t)
{
    atomic_init(&t->stop, 0);
    ck_assert_int_eq(pthread_create(&t->th, NULL, tick_main, t), 0);
}

static void ticker_stop(ticker *t)
{
    atomic_store(&t->stop, 1);
    pthread_join(t->th, NULL);
}

/* With no primary answering (here: the configured one never existed), the
 * standby serves reads while its data is recent (it keeps receiving WAL from
 * a primary the router does not know), stops once it is older than
 * max_staleness, and serves again when WAL flows; writes fail fast all along
 * and the dead primary's metrics say so. */
START_TEST(test_reads_while_primary_down)
{
    psql(test_env("ALCHDB_TEST_PRIMARY"), "CREATE TABLE IF NOT EXISTS ticks (t timestamptz)");
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", "100ms"), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "max_staleness", "1500ms"), 0);
    alchdb_pool_config *pc;
    ck_assert_int_eq(alchdb_pool_config_new(&pc), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_CONNECT_TIMEOUT, 1000000), 0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new("host=127.0.0.1 port=1 dbname=x user=postgres", pc, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    ticker t;
    ticker_start(&t);
    ck_assert_msg(alchdb_router_start(r) == 0, "%s", alchdb_last_error_message()); /* the standby answers */
    wait_health(r, 1, 1, 10);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(r, &c), 0);
    int failed = 0;
    for (int i = 0; i < 200; i++) {
        alchdb_result *res = NULL;
        if (alchdb_client_exec(c, "SELECT pg_is_in_recovery()", 0, NULL, &res) != 0)
            failed++;
        else
            ck_assert_str_eq(alchdb_result_value(res, 0, 0), "t");
        alchdb_result_free(res);
    }
    ck_assert_int_eq(failed, 0);
    for (int i = 0; i < 5; i++) { /* writes fail fast, with the reason */
        ck_assert_int_eq(alchdb_client_exec(c, "INSERT INTO ticks VALUES (now())", 0, NULL, NULL), ALCHDB_E_CONNECT);
        ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "127.0.0.1:1/x"));
    }
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    /* the dead primary is neither healthy nor error-free */
    ck_assert_msg(strstr(json, "\"role\":\"primary\",\"state\":\"down\",\"writer\":false,\"healthy\":false"), "%s",
                  json);
    ck_assert_ptr_null(strstr(json, "\"connect_failures\":0,\"read_only_answers\":0,\"breaker_opens\":1"));
    alchdb_free(json);
    ck_assert_int_eq(alchdb_router_host_healthy(r, 0), 0);
    ticker_stop(&t);
    wait_health(r, 1, 0, 20); /* its data ages past max_staleness */
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1", 0, NULL, NULL), ALCHDB_E_CONNECT);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "max_staleness"));
    ticker_start(&t);
    wait_health(r, 1, 1, 20);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1", 0, NULL, NULL), 0);
    ticker_stop(&t);
    alchdb_client_free(c);
    alchdb_router_free(r);
    alchdb_pool_config_free(pc);
    alchdb_router_config_free(cfg);
}
END_TEST

/* Tokens carry the timeline: one the router cannot place on the current
 * history is never satisfied by a standby, with or without a cache. */
/* A standby that stops answering while the router checks how far it has
 * replayed for a read-your-writes token: the check is bounded by the
 * acquire's deadline and the read goes to the primary, instead of waiting
 * for the standby as long as it stays stopped. */
START_TEST(test_replay_check_deadline)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    /* a slow prober: the router's idea of the standby's position stays old,
     * so a fresh token must be checked on the standby itself */
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", "60s"), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "causal_wait", "2s"), 0);
    alchdb_pool_config *pc;
    ck_assert_int_eq(alchdb_pool_config_new(&pc), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_OPEN, 1), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_IDLE, 1), 0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), pc, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    alchdb_pool_config_free(pc);
    alchdb_router_config_free(cfg);
    ck_assert_msg(alchdb_router_start(r) == 0, "start: %s", alchdb_last_error_message());
    /* the standby's one pooled connection, and its backend */
    alchdb_conn *c;
    int reason;
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_READ, NULL, NULL, -1, "test", &c, &reason), 0);
    ck_assert_int_eq(alchdb_router_conn_is_replica(r, c), 1);
    PGresult *res = PQexec(alchdb_conn_pgconn(c), "SELECT pg_backend_pid()");
    ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    pid_t pid = (pid_t)atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    alchdb_router_release(r, c, NULL);
    psql(test_env("ALCHDB_TEST_PRIMARY"), "DROP TABLE IF EXISTS replay_deadline; CREATE TABLE replay_deadline (a int)");
    char tok[ALCHDB__TOKEN_CAP];
    ck_assert_int_eq(alchdb_router_token(r, tok, sizeof tok), 0);

    procstop ps = procstop_begin(pid, 20000);
    int64_t t0 = alchdb__now_ns();
    int rc = alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, "SELECT 1", tok, 500000, "test", &c, &reason);
    int64_t took_ms = (alchdb__now_ns() - t0) / 1000000;
    procstop_end(&ps);
    ck_assert_msg(rc == 0, "acquire: %s", alchdb_last_error_message());
    ck_assert_msg(took_ms < 2000, "the replay check waited %lld ms on a stopped standby", (long long)took_ms);
    ck_assert_int_eq(alchdb_router_conn_is_replica(r, c), 0);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_CAUSAL_PRIMARY);
    alchdb_router_release(r, c, NULL);
    /* the standby's connection, cut off mid-query, was not kept */
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_READ, NULL, NULL, -1, "test", &c, &reason), 0);
    res = PQexec(alchdb_conn_pgconn(c), "SELECT pg_backend_pid()");
    ck_assert_int_eq(PQresultStatus(res), PGRES_TUPLES_OK);
    ck_assert_int_ne(atoi(PQgetvalue(res, 0, 0)), (int)pid);
    PQclear(res);
    alchdb_router_release(r, c, NULL);
    alchdb_router_free(r);
    psql(test_env("ALCHDB_TEST_PRIMARY"), "DROP TABLE replay_deadline");
}
END_TEST

START_TEST(test_token_timeline)
{
    alchdb_router *r = make_router(100000, 1LL << 40);
    wait_health(r, 1, 1, 10);
    char tok[ALCHDB__TOKEN_CAP];
    ck_assert_int_eq(alchdb_router_token(r, tok, sizeof tok), 0);
    alchdb__token t;
    ck_assert_int_eq(alchdb__token_parse(tok, strlen(tok), &t, NULL), 0);
    ck_assert_uint_eq(t.timeline, 1); /* the rig never failed over */
    int reason;
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT 1", tok, &reason), 1);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_CAUSAL_REPLICA);
    /* a later timeline the router has not seen: the primary, flagged */
    t.timeline = 2;
    char future[ALCHDB__TOKEN_CAP];
    ck_assert_int_gt(alchdb__token_format(&t, future, sizeof future), 0);
    ck_assert_int_eq(run_where(r, ALCHDB_INTENT_AUTO, "SELECT 1", future, &reason), 0);
    ck_assert_int_eq(reason, ALCHDB_ROUTE_TOKEN_TIMELINE);
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"tokens_unverifiable\":1"));
    ck_assert_ptr_nonnull(strstr(json, "\"token_timeline\":1"));
    alchdb_free(json);
    /* the same through a client with a cache: no hit stands in for the check */
    psql(test_env("ALCHDB_TEST_PRIMARY"), "DROP TABLE IF EXISTS tokc; CREATE TABLE tokc (id int PRIMARY KEY, v int);"
                                          "INSERT INTO tokc VALUES (1, 1)");
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(r, &c), 0);
    alchdb_cache_config *cc;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    alchdb_cache *cache;
    ck_assert_int_eq(alchdb_cache_new(cc, &cache), 0);
    ck_assert_int_eq(alchdb_client_set_cache(c, cache, "router-test"), 0);
    alchdb_result *res;
    for (int i = 0; i < 3; i++) { /* fill, then hits */
        ck_assert_int_eq(alchdb_client_exec_token(c, "SELECT v FROM tokc WHERE id = 1", 0, NULL, 0, tok, &res), 0);
        alchdb_result_free(res);
    }
    static const char *const malformed[] = {"garbage", "alchdb1:1:0/1", "alchdb2:1:1:0/1x"};
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(alchdb_client_exec_token(c, "SELECT v FROM tokc WHERE id = 1", 0, NULL, 0, malformed[i], &res),
                         ALCHDB_E_INVALID);
        ck_assert_ptr_null(res);
    }
    ck_assert_int_eq(alchdb_client_exec_token(c, "SELECT v, pg_is_in_recovery() FROM tokc WHERE id = 1", 0, NULL, 0,
                                              future, &res), 0);
    ck_assert_str_eq(alchdb_result_value(res, 0, 1), "f");
    alchdb_result_free(res);
    ck_assert_int_eq(alchdb_client_exec_token(c, "SELECT v FROM tokc WHERE id = 1", 0, NULL, 0, future, &res), 0);
    alchdb_result_free(res);
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, "\"tokens_unverifiable\":3"));
    alchdb_free(json);
    /* note_token: another cluster's token is refused */
    t.sysid ^= 1;
    t.timeline = 1;
    ck_assert_int_gt(alchdb__token_format(&t, future, sizeof future), 0);
    ck_assert_int_eq(alchdb_router_note_token(r, future), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "another cluster"));
    alchdb_client_free(c);
    alchdb_cache_free(cache);
    alchdb_cache_config_free(cc);
    alchdb_router_free(r);
}
END_TEST

/* A primary that turns read-only (default_transaction_read_only, as an
 * operator does to fence it): the sessions that answer 25006 are discarded,
 * the router stops sending writes there at once (they fail fast with the
 * reason) instead of a 25006 storm, probes stay at their pace, and writes
 * come back when it is writable again. */
typedef struct ro_writer {
    alchdb_client *c;
    atomic_int *stop;
    atomic_long ok, read_only, refused, other;
} ro_writer;

static void *ro_write_main(void *p)
{
    ro_writer *w = p;
    while (!atomic_load(w->stop)) {
        alchdb_result *res = NULL;
        int rc = alchdb_client_exec(w->c, "INSERT INTO rotest VALUES (1)", 0, NULL, &res);
        if (rc == 0)
            w->ok++;
        else if (rc == ALCHDB_E_QUERY && !strcmp(alchdb_result_sqlstate(res), "25006"))
            w->read_only++;
        else if (rc == ALCHDB_E_CONNECT && strstr(alchdb_last_error_message(), "no server accepts writes"))
            w->refused++;
        else
            w->other++;
        alchdb_result_free(res);
        usleep(2000);
    }
    return NULL;
}

static void primary_read_only(bool on)
{
    psql(test_env("ALCHDB_TEST_PRIMARY"), on ? "ALTER SYSTEM SET default_transaction_read_only = on"
                                             : "ALTER SYSTEM RESET default_transaction_read_only");
    psql(test_env("ALCHDB_TEST_PRIMARY"), "SELECT pg_reload_conf()");
}

/* Runs in the parent process whatever the test did: the rig is shared. */
static void restore_writable(void)
{
    PGconn *c = PQconnectdb(test_env("ALCHDB_TEST_PRIMARY"));
    PQclear(PQexec(c, "SET default_transaction_read_only = off"));
    PQclear(PQexec(c, "ALTER SYSTEM RESET default_transaction_read_only"));
    PQclear(PQexec(c, "SELECT pg_reload_conf()"));
    PQfinish(c);
}

START_TEST(test_read_only_primary)
{
    psql(test_env("ALCHDB_TEST_PRIMARY"), "DROP TABLE IF EXISTS rotest; CREATE TABLE rotest (a int)");
    alchdb_router *r = make_router(100000, 1LL << 40);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(r, &c), 0);
    atomic_int stop = 0;
    ro_writer w[3];
    pthread_t th[3];
    for (int i = 0; i < 3; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = c;
        w[i].stop = &stop;
        pthread_create(&th[i], NULL, ro_write_main, &w[i]);
    }
    usleep(500000);
    long probes0 = fl_metric_rig(r, "probes");
    primary_read_only(true);
    usleep(3000000);
    long probes1 = fl_metric_rig(r, "probes");
    long ro_during = 0, refused = 0;
    for (int i = 0; i < 3; i++) {
        ro_during += w[i].read_only;
        refused += w[i].refused;
    }
    primary_read_only(false);
    long ok_before = 0;
    for (int i = 0; i < 3; i++)
        ok_before += w[i].ok;
    long ok_after = ok_before;
    for (int t = 0; t < 200 && ok_after < ok_before + 20; t++) {
        usleep(50000);
        ok_after = 0;
        for (int i = 0; i < 3; i++)
            ok_after += w[i].ok;
    }
    atomic_store(&stop, 1);
    long other = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        other += w[i].other;
    }
    printf("read-only primary: %ld writes answered 25006, %ld refused fast, %ld other errors, %ld probes in 3 s\n",
           ro_during, refused, other, probes1 - probes0);
    ck_assert_int_le(ro_during, 8 + 3); /* at most once per pooled session (and one in flight per thread) */
    ck_assert_int_gt(refused, 0);
    ck_assert_int_eq(other, 0);
    ck_assert_int_le(probes1 - probes0, 3 * 10 + 3 * 4 + 2); /* its pace (100 ms) plus early ones (<= 4/s) */
    ck_assert_int_ge(ok_after, ok_before + 20);            /* writes came back */
    alchdb_client_free(c);
    alchdb_router_free(r);
}
END_TEST

/* The router never prints and never lets a password out: probes of a dead
 * host and a live one, failed and successful acquires, tokens, metrics and
 * the log sink, with a sentinel password in every conninfo. fd 2 is captured
 * for the whole run. */
static char sink_buf[1 << 16];
static size_t sink_len;
static pthread_mutex_t sink_mu = PTHREAD_MUTEX_INITIALIZER;

static void sink(void *ud, int level, const char *module, const char *message)
{
    (void)ud;
    (void)level;
    pthread_mutex_lock(&sink_mu);
    int n = snprintf(sink_buf + sink_len, sizeof sink_buf - sink_len, "%s: %s\n", module, message);
    if (n > 0 && sink_len + (size_t)n < sizeof sink_buf)
        sink_len += (size_t)n;
    pthread_mutex_unlock(&sink_mu);
}

START_TEST(test_silent_and_no_password)
{
    static const char secret[] = "Sentinel-Pw-7q3";
    char dead[200], live[400];
    snprintf(dead, sizeof dead, "host=127.0.0.1 port=1 dbname=x user=postgres password=%s connect_timeout=1", secret);
    snprintf(live, sizeof live, "%s password=%s", test_env("ALCHDB_TEST_REPLICA"), secret);
    char path[] = "/tmp/alchdb-router-stderr.XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    ck_assert_int_eq(alchdb_set_log_handler(sink, NULL, ALCHDB_LOG_DEBUG), 0);
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", "50ms"), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "max_staleness", "0s"), 0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(dead, NULL, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, live, 1), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, "host=127.0.0.1 port=1 dbname=x password='bad", 1),
                     ALCHDB_E_INVALID);
    char errors[4096] = "";
    strncat(errors, alchdb_last_error_message(), sizeof errors - 1);
    ck_assert_int_eq(alchdb_router_start(r), 0);
    usleep(300000);
    alchdb_conn *c;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_WRITE, NULL, NULL, -1, NULL, &c, NULL), ALCHDB_E_CONNECT);
        strncat(errors, alchdb_last_error_message(), sizeof errors - strlen(errors) - 1);
    }
    char tok[64];
    ck_assert_int_lt(alchdb_router_token(r, tok, sizeof tok), 0);
    strncat(errors, alchdb_last_error_message(), sizeof errors - strlen(errors) - 1);
    ck_assert_int_eq(alchdb_router_acquire(r, ALCHDB_INTENT_READ, NULL, NULL, -1, NULL, &c, NULL), 0);
    PQclear(PQexec(alchdb_conn_pgconn(c), "DO $$ BEGIN RAISE NOTICE 'a notice'; RAISE WARNING 'a warning'; END $$"));
    alchdb_router_release(r, c, NULL);
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    alchdb_router_free(r);
    alchdb_router_config_free(cfg);
    alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_WARN);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    struct stat st;
    ck_assert_int_eq(fstat(fd, &st), 0);
    close(fd);
    unlink(path);
    ck_assert_msg(st.st_size == 0, "the router wrote %lld bytes to stderr", (long long)st.st_size);
    ck_assert_msg(!strstr(json, secret), "password in the metrics: %s", json);
    ck_assert_msg(!strstr(errors, secret), "password in an error: %s", errors);
    ck_assert_msg(!strstr(sink_buf, secret), "password in the log: %s", sink_buf);
    ck_assert_ptr_nonnull(strstr(sink_buf, "health probe failed")); /* the sink did hear about the dead host */
    alchdb_free(json);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_reads_to_replica_writes_to_primary);
    tcase_add_test(tc, test_read_your_writes);
    tcase_add_test(tc, test_lagging_replica_excluded);
    tcase_add_test(tc, test_idle_primary_after_wal_switch);
    tcase_add_test(tc, test_unreachable_replica_and_bad_input);
    tcase_add_test(tc, test_no_replica_fallback_and_cap);
    tcase_add_test(tc, test_wrong_role_detected);
    tcase_add_test(tc, test_client_routes);
    tcase_add_test(tc, test_replica_stop_zero_failed_reads);
    tcase_add_test(tc, test_multi_host_entries);
    tcase_add_test(tc, test_reads_while_primary_down);
    tcase_add_test(tc, test_token_timeline);
    tcase_add_test(tc, test_replay_check_deadline);
    suite_add_tcase(s, tc);
    TCase *quiet = tcase_create("silent");
    tcase_add_test(quiet, test_silent_and_no_password);
    suite_add_tcase(s, quiet);
    TCase *ro = tcase_create("read_only_primary");
    tcase_set_timeout(ro, 120);
    tcase_add_unchecked_fixture(ro, NULL, restore_writable);
    tcase_add_test(ro, test_read_only_primary);
    suite_add_tcase(s, ro);
    return run_suite(s);
}
