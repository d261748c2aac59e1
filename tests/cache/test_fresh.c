/* Freshness of every read path of a cached client, against the rig.
 *
 * "No stale read after a committed write" must hold for every row the
 * client returns: a hit, a miss, and every kind of bypass, in the writing
 * process and in others sharing the Redis. The replica's replay is paused
 * behind a committed write, so any read the router sends to it without a
 * position check returns the old row: each case reads right after such a
 * write and must see it (and must have run on the primary, the only server
 * that has it).
 *
 * Then the holes of a shared Redis, each forced deterministically: a bump
 * lost after the commit while other processes keep their connections, a
 * writer that dies between commit and bump, and a Redis that comes back
 * from an older snapshot to a process that never saw it before. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alchdb/alchdb.h"
#include "cache/cache_priv.h"
#include "pgtest.h"
#include "redistest.h"
#include "testutil.h"

/* ---- fixtures ------------------------------------------------------------------- */

static alchdb_cache *mk_cache(const char *prefix, const char *const *kv)
{
    alchdb_cache_config *cfg;
    ck_assert_int_eq(alchdb_cache_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "prefix", prefix), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "backend", "redis"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "command_timeout", "100ms"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "connect_timeout", "100ms"), 0);
    char host[64];
    int port;
    redistest_addr(host, sizeof host, &port);
    ck_assert_int_eq(alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_REDIS_HOST, host), 0);
    ck_assert_int_eq(alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_REDIS_PORT, port), 0);
    for (size_t i = 0; kv && kv[i]; i += 2)
        ck_assert_msg(alchdb_cache_config_set_from_string(cfg, kv[i], kv[i + 1]) == 0, "%s=%s: %s", kv[i], kv[i + 1],
                      alchdb_last_error_message());
    alchdb_cache *c;
    ck_assert_msg(alchdb_cache_new(cfg, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_cache_config_free(cfg);
    return c;
}

/* A router over the rig's primary and replica. The lag thresholds are out of
 * reach so that a paused replica keeps taking reads: only a position check
 * keeps them off it. extra: conninfo words appended to both (or NULL). */
static alchdb_router *mk_router(const char *extra, int max_open)
{
    char p[512], r[512], n[16];
    snprintf(p, sizeof p, "%s %s", test_env("ALCHDB_TEST_PRIMARY"), extra ? extra : "");
    snprintf(r, sizeof r, "%s %s", test_env("ALCHDB_TEST_REPLICA"), extra ? extra : "");
    alchdb_pool_config *pc;
    alchdb_pool_config_new(&pc);
    snprintf(n, sizeof n, "%d", max_open);
    alchdb_pool_config_set_from_string(pc, "max_open_conns", n);
    alchdb_pool_config_set_from_string(pc, "max_idle_conns", n);
    alchdb_router_config *rc;
    ck_assert_int_eq(alchdb_router_config_new(&rc), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(rc, "probe_interval", "50ms"), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(rc, "max_lag_time", "1h"), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(rc, "max_lag_bytes", "1000000000"), 0);
    alchdb_router *router;
    ck_assert_msg(alchdb_router_new(p, pc, rc, &router) == 0, "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_router_add_replica(router, r, 1), 0);
    ck_assert_int_eq(alchdb_router_start(router), 0);
    alchdb_router_config_free(rc);
    alchdb_pool_config_free(pc);
    for (int i = 0; i < 200 && alchdb_router_host_healthy(router, 1) != 1; i++)
        usleep(25000);
    ck_assert_int_eq(alchdb_router_host_healthy(router, 1), 1);
    return router;
}

static alchdb_client *routed(alchdb_router *router, alchdb_cache *cache)
{
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(router, &c), 0);
    if (cache)
        ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);
    return c;
}

static alchdb_client *direct(alchdb_cache *cache)
{
    alchdb_client *c;
    ck_assert_msg(alchdb_client_open(test_env("ALCHDB_TEST_PRIMARY"), NULL, &c) == 0, "%s",
                  alchdb_last_error_message());
    ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);
    return c;
}

static char *val_q(alchdb_client *c, const char *sql, unsigned flags, const alchdb_cache_query *q)
{
    alchdb_result *r;
    int rc = alchdb_client_exec_cached(c, sql, 0, NULL, flags, q, &r);
    ck_assert_msg(rc == 0, "%s: %s", sql, alchdb_last_error_message());
    char *v = strdup(alchdb_result_nrows(r) ? alchdb_result_value(r, 0, 0) : "(none)");
    alchdb_result_free(r);
    return v;
}

static void ok(alchdb_client *c, const char *sql)
{
    alchdb_result *r;
    ck_assert_msg(alchdb_client_exec(c, sql, 0, NULL, &r) == 0, "%s: %s", sql, alchdb_last_error_message());
    alchdb_result_free(r);
}

#define ck_read(c, sql, flags, q, want)                                                                              \
    do {                                                                                                             \
        char *got_ = val_q(c, sql, flags, q);                                                                        \
        ck_assert_msg(strcmp(got_, want) == 0, "%s -> '%s', want '%s'", sql, got_, want);                            \
        free(got_);                                                                                                  \
    } while (0)

static PGconn *replica(const char *extra)
{
    char ci[512];
    snprintf(ci, sizeof ci, "%s %s", test_env("ALCHDB_TEST_REPLICA"), extra ? extra : "");
    PGconn *c = PQconnectdb(ci);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "replica: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);
    return c;
}

/* Replay on the replica, paused or resumed. Every case resumes it first, and
 * main() at the end, so a failing case never leaves it paused for others. */
static void replay(bool on)
{
    redistest_ctl_status("resume"); /* likewise Redis, which a case pauses */
    PGconn *c = replica(NULL);
    pgtest_exec(c, on ? "SELECT pg_wal_replay_resume()" : "SELECT pg_wal_replay_pause()");
    PQfinish(c);
}

/* Wait until the replica answers sql with want. */
static void replica_has(const char *extra, const char *sql, const char *want)
{
    PGconn *c = replica(extra);
    bool seen = false;
    for (int i = 0; i < 400 && !seen; i++) {
        PGresult *r = PQexec(c, sql);
        seen = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), want) == 0;
        PQclear(r);
        if (!seen)
            usleep(25000);
    }
    PQfinish(c);
    ck_assert_msg(seen, "the replica never showed '%s' for %s", want, sql);
}

static alchdb_cache_metrics met(alchdb_cache *c)
{
    alchdb_cache_metrics m;
    ck_assert_int_eq(alchdb_cache_get_metrics(c, &m, sizeof m), 0);
    return m;
}

static char prefix_buf[64];
static const char *new_prefix(const char *what)
{
    static int n;
    snprintf(prefix_buf, sizeof prefix_buf, "ctf%d_%s_%d", (int)getpid(), what, ++n);
    return prefix_buf;
}

/* ---- every read path behind a paused replica ------------------------------------ */

#define T "ct_fresh"

typedef struct fx {
    alchdb_router *router;
    alchdb_cache *cache;
    alchdb_client *c;
} fx;

typedef struct path_case {
    const char *name;
    int path;   /* ALCHDB__CACHE_PATH_* expected */
    int reason; /* expected bypass reason, -1 for none */
    void (*run)(fx *f);
} path_case;

static void read_plain(fx *f)
{
    ck_read(f->c, "SELECT v FROM " T " WHERE id = 1", 0, NULL, "new");
}

static void read_skip(fx *f)
{
    alchdb_cache_query q = {ALCHDB_CACHE_QUERY_VERSION, ALCHDB_CACHE_SKIP, 0, NULL, 0};
    ck_read(f->c, "SELECT v FROM " T " WHERE id = 1", 0, &q, "new");
}

static void read_now(fx *f) /* now() is STABLE: only the named table is read */
{
    ck_read(f->c, "SELECT v FROM " T " WHERE id = 1 AND now() IS NOT NULL", 0, NULL, "new");
}

static void read_random(fx *f) /* random() is VOLATILE in pg_proc, like any function that may read anything */
{
    ck_read(f->c, "SELECT v FROM " T " WHERE id = 1 AND random() < 2", 0, NULL, "new");
}

static void read_two_statements(fx *f)
{
    ck_read(f->c, "SELECT 1; SELECT v FROM " T " WHERE id = 1", ALCHDB_EXEC_SIMPLE, NULL, "new");
}

static void read_catalog(fx *f)
{
    ck_read(f->c, "SELECT v FROM " T " JOIN pg_class c ON c.relname = '" T "' WHERE id = 1", 0, NULL, "new");
}

static void read_temp(fx *f)
{
    /* One connection per server, so the session that has the table reads it. */
    alchdb_router *one = mk_router(NULL, 1);
    alchdb_client *c = routed(one, f->cache);
    ok(c, "CREATE TEMP TABLE ct_fresh_tmp AS SELECT 1 AS x");
    ck_read(c, "SELECT v FROM " T " WHERE id = 1 AND EXISTS (SELECT 1 FROM ct_fresh_tmp)", 0, NULL, "new");
    alchdb_client_free(c);
    alchdb_router_free(one);
}

static void read_in_flight(fx *f)
{
    /* A transaction of this process has written the table (not committed). */
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(f->c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "UPDATE " T " SET v = 'txn' WHERE id = 2", 0, NULL, NULL), 0);
    ck_read(f->c, "SELECT max(v) FROM " T " WHERE id <= 1", 0, NULL, "new");
    ck_assert_int_eq(alchdb_txn_rollback(t), 0);
    alchdb_txn_free(t);
}

static void read_marked_elsewhere(fx *f)
{
    /* Another process marked the table ahead of a write that has not ended. */
    char *vk = alchdb__cache_vkey(f->cache, "b", T, NULL);
    const char *vks[1] = {vk};
    ck_assert_int_eq(f->cache->be->ops->mark(f->cache->be, 1, vks, "0123456789abcdef", 60000), 1);
    ck_read(f->c, "SELECT v FROM " T " WHERE id = 1", 0, NULL, "new");
    alchdb__cache_ver end;
    alchdb__cache_ver_make(&end, "0123456789abcdef", -1);
    ck_assert_int_eq(f->cache->be->ops->bump(f->cache->be, 1, vks, &end, NULL), 0);
    alchdb__free(vk);
}

static void read_redis_paused(fx *f)
{
    redistest_ctl("pause");
    for (int i = 0; i < 5; i++) /* timeouts first, then the breaker */
        ck_read(f->c, "SELECT v FROM " T " WHERE id = 1", 0, NULL, "new");
    ck_assert_int_eq(met(f->cache).breaker_open, 1);
    redistest_ctl("resume");
}

static void read_many_tables(fx *f)
{
    char sql[8192] = "SELECT v FROM " T " WHERE id = 1";
    for (int i = 1; i <= 64; i++) {
        char part[64];
        snprintf(part, sizeof part, " AND NOT EXISTS (SELECT 1 FROM ct_fresh_m%d)", i);
        strcat(sql, part);
    }
    ck_read(f->c, sql, 0, NULL, "new");
}

static void read_locking(fx *f)
{
    ck_read(f->c, "SELECT v FROM " T " WHERE id = 1 FOR SHARE", 0, NULL, "new");
}

static void read_txn_read_only(fx *f)
{
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(f->c, ALCHDB_TXN_READ_ONLY, &t), 0);
    alchdb_result *r;
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT v FROM " T " WHERE id = 1", 0, NULL, &r), 0);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "new");
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
}

static void read_hit(fx *f)
{
    read_plain(f); /* a miss */
    ck_read(f->c, "SELECT v FROM " T " WHERE id = 1", 0, NULL, "new");
}

enum { P_HIT = ALCHDB__CACHE_PATH_HIT, P_MISS = ALCHDB__CACHE_PATH_MISS, P_BYPASS = ALCHDB__CACHE_PATH_BYPASS };

/* parse_error and write are not here: a statement the parser rejects is
 * routed to the primary by the router itself (and returns no rows on a
 * server of the same version), and writes run on the primary. */
static const path_case CASES[] = {
    {"miss", P_MISS, -1, read_plain},
    {"hit", P_HIT, -1, read_hit},
    {"skip_flag", P_BYPASS, ALCHDB_CACHE_BYPASS_SKIP_FLAG, read_skip},
    {"volatile (now)", P_BYPASS, ALCHDB_CACHE_BYPASS_VOLATILE, read_now},
    {"volatile (random)", P_BYPASS, ALCHDB_CACHE_BYPASS_VOLATILE, read_random},
    {"not_cacheable", P_BYPASS, ALCHDB_CACHE_BYPASS_NOT_CACHEABLE, read_two_statements},
    {"system_catalog", P_BYPASS, ALCHDB_CACHE_BYPASS_SYSTEM_CATALOG, read_catalog},
    {"temp_table", P_BYPASS, ALCHDB_CACHE_BYPASS_TEMP_TABLE, read_temp},
    {"write_in_flight (this process)", P_BYPASS, ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT, read_in_flight},
    {"write_in_flight (marked in Redis)", P_BYPASS, ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT, read_marked_elsewhere},
    {"backend (Redis paused, breaker)", P_BYPASS, ALCHDB_CACHE_BYPASS_BACKEND, read_redis_paused},
    {"too_many_tables", P_BYPASS, ALCHDB_CACHE_BYPASS_TOO_MANY_TABLES, read_many_tables},
    {"locking", P_BYPASS, ALCHDB_CACHE_BYPASS_LOCKING, read_locking},
    {"in_transaction (READ ONLY)", P_BYPASS, ALCHDB_CACHE_BYPASS_IN_TRANSACTION, read_txn_read_only},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

static void setup_table(void)
{
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "DROP TABLE IF EXISTS " T "; CREATE TABLE " T " (id int PRIMARY KEY, v text);"
                    "INSERT INTO " T " SELECT g, 'old' FROM generate_series(1, 3) g");
    char sql[8192] = "";
    for (int i = 1; i <= 64; i++) {
        char part[96];
        snprintf(part, sizeof part, "CREATE TABLE IF NOT EXISTS ct_fresh_m%d (x int);", i);
        strcat(sql, part);
    }
    pgtest_exec(pg, sql);
    PQfinish(pg);
}

START_TEST(test_every_read_path_is_fresh)
{
    const path_case *k = &CASES[_i];
    replay(true);
    setup_table();
    fx f;
    f.router = mk_router(NULL, 4);
    f.cache = mk_cache(new_prefix("path"), NULL);
    f.c = routed(f.router, f.cache);
    replica_has(NULL, "SELECT v FROM " T " WHERE id = 1", "old");
    replica_has(NULL, "SELECT count(*) FROM pg_class WHERE relname = 'ct_fresh_m64'", "1");
    replay(false);
    ok(f.c, "UPDATE " T " SET v = 'new' WHERE id = 1"); /* committed; the replica will not see it */
    int64_t before = k->reason >= 0 ? alchdb_cache_bypass_count(f.cache, k->reason) : 0;
    k->run(&f);
    alchdb__cache_last last = alchdb__cache_last_statement();
    replay(true);
    if (k->reason != ALCHDB_CACHE_BYPASS_IN_TRANSACTION) { /* the transaction's COMMIT was its last statement */
        ck_assert_msg(last.path == k->path, "%s: path %d, want %d", k->name, last.path, k->path);
        if (k->path == P_BYPASS)
            ck_assert_msg(last.reason == k->reason, "%s: reason %s", k->name, alchdb_cache_bypass_name(last.reason));
        if (k->path != P_HIT)
            ck_assert_msg(last.host == 0, "%s: ran on host %d, not the primary", k->name, last.host);
    }
    if (k->reason >= 0)
        ck_assert_int_gt(alchdb_cache_bypass_count(f.cache, k->reason), before);
    alchdb_client_free(f.c);
    alchdb_cache_free(f.cache);
    alchdb_router_free(f.router);
}
END_TEST

/* The session identity cannot be read (here: the role may not read pg_proc
 * in its own database): nothing is known of the statement, so the primary. */
START_TEST(test_identity_bypass_is_fresh)
{
    replay(true);
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "DROP DATABASE IF EXISTS ct_fresh_db");
    pgtest_exec(pg, "CREATE DATABASE ct_fresh_db");
    pgtest_exec(pg, "DO $$ BEGIN CREATE ROLE ct_fresh_role LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$");
    PQfinish(pg);
    char ci[512];
    snprintf(ci, sizeof ci, "%s dbname=ct_fresh_db", test_env("ALCHDB_TEST_PRIMARY"));
    pg = PQconnectdb(ci);
    ck_assert_int_eq(PQstatus(pg), CONNECTION_OK);
    PQsetNoticeProcessor(pg, pgtest_quiet, NULL);
    pgtest_exec(pg, "REVOKE SELECT ON pg_catalog.pg_proc FROM PUBLIC;"
                    "CREATE TABLE " T " (id int PRIMARY KEY, v text); INSERT INTO " T " VALUES (1, 'old');"
                    "GRANT SELECT, UPDATE ON " T " TO ct_fresh_role");
    const char *extra = "dbname=ct_fresh_db user=ct_fresh_role";
    alchdb_router *router = mk_router(extra, 2);
    alchdb_cache *cache = mk_cache(new_prefix("identity"), NULL);
    alchdb_client *c = routed(router, cache);
    replica_has(extra, "SELECT v FROM " T " WHERE id = 1", "old");
    replay(false);
    pgtest_exec(pg, "UPDATE " T " SET v = 'new' WHERE id = 1");
    PQfinish(pg);
    ck_read(c, "SELECT v FROM " T " WHERE id = 1", 0, NULL, "new");
    alchdb__cache_last last = alchdb__cache_last_statement();
    replay(true);
    ck_assert_int_eq(last.path, P_BYPASS);
    ck_assert_int_eq(last.reason, ALCHDB_CACHE_BYPASS_IDENTITY);
    ck_assert_int_eq(last.host, 0);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
    alchdb_router_free(router);
}
END_TEST

/* ---- a shared Redis: bumps lost, writers dying, older states -------------------- */

#define L "ct_fresh_lost"

static void setup_lost(void)
{
    redistest_ctl_status("resume");
    redistest_ctl_status("start");
    redistest_cli("CLIENT UNPAUSE"); /* a failed case may have left writes paused */
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "DROP TABLE IF EXISTS " L "; CREATE TABLE " L " (id int PRIMARY KEY, v text);"
                    "INSERT INTO " L " VALUES (1, 'before')");
    PQfinish(pg);
}

/* Another process (a cache object of its own, with its own connections)
 * that has the row cached and keeps its connection through what follows. */
static alchdb_client *warm_reader(alchdb_cache *cache, const char *sel)
{
    alchdb_client *c = direct(cache);
    ck_read(c, sel, 0, NULL, "before");
    ck_read(c, sel, 0, NULL, "before");
    ck_assert_int_eq(met(cache).hits, 1);
    return c;
}

/* Redis holds every write command for 300 ms (CLIENT PAUSE ... WRITE) and
 * keeps answering reads: the writer's bump waits, times out, and its
 * connection is dropped with the command never run. A SIGSTOP would not do:
 * the bump would sit in the socket and run when Redis resumes. */
static void pause_writes_hook(const char *point, const char *sql, void *ud)
{
    (void)sql;
    if (strcmp(point, "before-bump") == 0 && !*(int *)ud) {
        *(int *)ud = 1;
        redistest_cli("CLIENT PAUSE 300 WRITE");
    }
}

/* The writer loses its bump after the commit; the reader keeps its
 * connection, and Redis answers its reads throughout. */
START_TEST(test_lost_bump_stops_other_processes)
{
    setup_lost();
    const char *pfx = new_prefix("lost");
    const char *kv[] = {"breaker_open", "100ms", NULL};
    alchdb_cache *rc_cache = mk_cache(pfx, kv), *wc_cache = mk_cache(pfx, kv);
    const char *sel = "SELECT v FROM " L " WHERE id = 1";
    alchdb_client *reader = warm_reader(rc_cache, sel);
    alchdb_client *writer = direct(wc_cache);
    int fired = 0;
    alchdb__cache_set_test_hook(pause_writes_hook, &fired);
    ok(writer, "UPDATE " L " SET v = 'after' WHERE id = 1"); /* its bump times out */
    alchdb__cache_set_test_hook(NULL, NULL);
    ck_assert_int_eq(fired, 1);
    ck_assert_int_gt(met(wc_cache).backend_errors, 0);
    /* The write's mark, placed before it committed, stands in Redis. */
    ck_read(reader, sel, 0, NULL, "after");
    ck_assert_int_eq(alchdb__cache_last_statement().path, P_BYPASS);
    ck_assert_int_eq(alchdb__cache_last_statement().reason, ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT);
    ck_assert_int_eq(met(rc_cache).hits, 1);
    /* The writer owes an epoch bump, delivered with its next operation; the
     * row stays with the primary until the mark expires (write_mark_ttl). */
    char *json;
    ck_assert_int_eq(alchdb_cache_to_json(wc_cache, &json), 0);
    ck_assert_msg(strstr(json, "\"dirty\":true"), "%s", json);
    alchdb_free(json);
    usleep(350000); /* past the pause, and the writer's breaker (100 ms) */
    ck_read(writer, "SELECT v FROM " L " WHERE id = 1 AND 1 = 1", 0, NULL, "after");
    ck_assert_int_eq(alchdb_cache_to_json(wc_cache, &json), 0);
    ck_assert_msg(strstr(json, "\"dirty\":false"), "%s", json);
    alchdb_free(json);
    ck_read(reader, sel, 0, NULL, "after");
    ck_read(writer, sel, 0, NULL, "after");
    alchdb_client_free(reader);
    alchdb_client_free(writer);
    alchdb_cache_free(rc_cache);
    alchdb_cache_free(wc_cache);
}
END_TEST

static void die_hook(const char *point, const char *sql, void *ud)
{
    (void)sql, (void)ud;
    if (strcmp(point, "before-bump") == 0)
        _exit(0); /* committed, never bumped: like a crash */
}

static const char *self_path; /* argv[0]: this program (under valgrind too, unlike /proc/self/exe) */

/* The writer process (this program run again with --writer-that-dies PREFIX:
 * a fresh process, so that it may start threads whatever this one runs;
 * outside a Check test, so no ck_assert here). */
static int writer_that_dies(const char *prefix)
{
    const char *addr = getenv("ALCHDB_TEST_REDIS"), *colon = addr ? strrchr(addr, ':') : NULL;
    if (!colon)
        return 5;
    char host[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - addr), addr);
    alchdb_cache_config *cfg;
    alchdb_cache *wc;
    alchdb_client *w;
    if (alchdb_cache_config_new(&cfg) || alchdb_cache_config_set_from_string(cfg, "backend", "redis") ||
        alchdb_cache_config_set_from_string(cfg, "prefix", prefix) ||
        alchdb_cache_config_set_from_string(cfg, "write_mark_ttl", "3s") ||
        alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_REDIS_HOST, host) ||
        alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_REDIS_PORT, atoi(colon + 1)) ||
        alchdb_cache_new(cfg, &wc) || alchdb_client_open(getenv("ALCHDB_TEST_PRIMARY"), NULL, &w) ||
        alchdb_client_set_cache(w, wc, NULL))
        return 6;
    alchdb__cache_set_test_hook(die_hook, NULL);
    alchdb_client_exec(w, "UPDATE " L " SET v = 'after' WHERE id = 1", 0, NULL, NULL);
    return 3; /* the hook did not fire */
}

/* A writer process dies between its commit and its bump (its marks live
 * 3 s). Readers elsewhere stop serving the row at once, and serve it again
 * after the mark expired. */
START_TEST(test_writer_dies_between_commit_and_bump)
{
    setup_lost();
    const char *pfx = new_prefix("crash");
    alchdb_cache *rc_cache = mk_cache(pfx, NULL);
    const char *sel = "SELECT v FROM " L " WHERE id = 1";
    alchdb_client *reader = warm_reader(rc_cache, sel);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        execl(self_path, self_path, "--writer-that-dies", pfx, (char *)NULL);
        _exit(4);
    }
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer did not die at the bump (%d)",
                  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    ck_assert_int_eq(pgtest_count("SELECT count(*) FROM " L " WHERE v = 'after'"), 1);
    ck_read(reader, sel, 0, NULL, "after");
    ck_assert_int_eq(alchdb__cache_last_statement().reason, ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT);
    /* After write_mark_ttl the key is absent: nothing older is current, and
     * the cache fills and serves again. */
    usleep(3200000);
    ck_read(reader, sel, 0, NULL, "after");
    ck_assert_int_eq(alchdb__cache_last_statement().path, P_MISS);
    int64_t hits = met(rc_cache).hits;
    ck_read(reader, sel, 0, NULL, "after");
    ck_assert_int_eq(met(rc_cache).hits, hits + 1);
    alchdb_client_free(reader);
    alchdb_cache_free(rc_cache);
}
END_TEST

/* Redis comes back from a snapshot taken before a write: the entry and the
 * tokens it was filled with are back. A cache that connects for the first
 * time (a new process) must not serve it, nor must the old one. */
START_TEST(test_restart_from_older_snapshot)
{
    setup_lost();
    const char *pfx = new_prefix("snap");
    alchdb_cache *a = mk_cache(pfx, NULL);
    const char *sel = "SELECT v FROM " L " WHERE id = 1";
    alchdb_client *ca = warm_reader(a, sel);
    redistest_ctl("save");
    ok(ca, "UPDATE " L " SET v = 'after' WHERE id = 1");
    ck_read(ca, sel, 0, NULL, "after");
    redistest_ctl("kill");
    redistest_ctl("start"); /* loads the snapshot */
    redistest_ctl("forget");
    alchdb_cache *b = mk_cache(pfx, NULL);
    alchdb_client *cb = direct(b);
    ck_read(cb, sel, 0, NULL, "after");
    ck_assert_int_eq(met(b).hits, 0);
    ck_read(cb, sel, 0, NULL, "after");
    ck_assert_int_eq(met(b).hits, 1); /* serving again */
    for (int i = 0; i < 3; i++) /* the old process: reconnects, never the old entry */
        ck_read(ca, sel, 0, NULL, "after");
    alchdb_client_free(ca);
    alchdb_client_free(cb);
    alchdb_cache_free(a);
    alchdb_cache_free(b);
}
END_TEST

int main(int argc, char **argv)
{
    self_path = argv[0];
    if (argc == 3 && strcmp(argv[1], "--writer-that-dies") == 0)
        return writer_that_dies(argv[2]);
    Suite *s = suite_create("cache-fresh");
    TCase *tc = tcase_create("paths");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_every_read_path_is_fresh, 0, NCASES);
    tcase_add_test(tc, test_identity_bypass_is_fresh);
    suite_add_tcase(s, tc);
    TCase *tr = tcase_create("shared");
    tcase_set_timeout(tr, 120);
    tcase_add_test(tr, test_lost_bump_stops_other_processes);
    tcase_add_test(tr, test_writer_dies_between_commit_and_bump);
    tcase_add_test(tr, test_restart_from_older_snapshot);
    suite_add_tcase(s, tr);
    int rc = run_suite(s);
    /* Whatever failed, leave the servers as the rig started them. */
    if (getenv("ALCHDB_TEST_REPLICA")) {
        PGconn *c = PQconnectdb(getenv("ALCHDB_TEST_REPLICA"));
        PQclear(PQexec(c, "SELECT pg_wal_replay_resume()"));
        PQfinish(c);
    }
    redistest_ctl_status("resume");
    redistest_ctl_status("forget");
    redistest_ctl_status("start");
    return rc;
}
