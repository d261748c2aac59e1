/* The query cache through the client against the rig (PostgreSQL primary +
 * streaming replica + Redis): hits, invalidation by table and by primary
 * key, transactions, cacheability, roles with row-level security, races
 * forced at the protocol's pause points, single flight and leases, Redis
 * outages, several processes, replica-served misses, bad input. */
#include <check.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alchdb/alchdb.h"
#include "cache/cache_priv.h"
#include "pgtest.h"
#include "failalloc.h"
#include "procstop.h"
#include "redistest.h"
#include "testutil.h"

static int seq;

/* A cache with a namespace of its own; kv: option name/value pairs, NULL-terminated. */
static alchdb_cache *mk_cache(const char *backend, const char *const *kv)
{
    alchdb_cache_config *cfg;
    ck_assert_int_eq(alchdb_cache_config_new(&cfg), 0);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "ct%d_%d", (int)getpid(), ++seq);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "prefix", prefix), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "backend", backend), 0);
    if (strcmp(backend, "redis") == 0) {
        char host[64];
        int port;
        redistest_addr(host, sizeof host, &port);
        ck_assert_int_eq(alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_REDIS_HOST, host), 0);
        ck_assert_int_eq(alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_REDIS_PORT, port), 0);
    }
    for (size_t i = 0; kv && kv[i]; i += 2)
        ck_assert_msg(alchdb_cache_config_set_from_string(cfg, kv[i], kv[i + 1]) == 0, "%s=%s: %s", kv[i],
                      kv[i + 1], alchdb_last_error_message());
    alchdb_cache *c;
    ck_assert_msg(alchdb_cache_new(cfg, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_cache_config_free(cfg);
    return c;
}

static alchdb_client *mk_client(const char *extra_conninfo, alchdb_cache *cache, int max_open)
{
    char ci[512], n[16];
    snprintf(ci, sizeof ci, "%s %s", test_env("ALCHDB_TEST_PRIMARY"), extra_conninfo ? extra_conninfo : "");
    alchdb_pool_config *pc;
    alchdb_pool_config_new(&pc);
    snprintf(n, sizeof n, "%d", max_open);
    alchdb_pool_config_set_from_string(pc, "max_open_conns", n);
    alchdb_pool_config_set_from_string(pc, "max_idle_conns", n);
    alchdb_client *c;
    ck_assert_msg(alchdb_client_open(ci, pc, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_pool_config_free(pc);
    if (cache)
        ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);
    return c;
}

/* The first value of the statement's result (owned; "NULL" for SQL NULL). */
static char *val(alchdb_client *c, const char *sql, int n, const char *const *p)
{
    alchdb_result *r;
    int rc = alchdb_client_exec(c, sql, n, p, &r);
    ck_assert_msg(rc == 0, "%s: %s", sql, alchdb_last_error_message());
    char *v = strdup(alchdb_result_nrows(r) == 0 ? "(none)"
                     : alchdb_result_is_null(r, 0, 0) ? "NULL"
                                                      : alchdb_result_value(r, 0, 0));
    alchdb_result_free(r);
    return v;
}

static void ok(alchdb_client *c, const char *sql, int n, const char *const *p)
{
    alchdb_result *r;
    ck_assert_msg(alchdb_client_exec(c, sql, n, p, &r) == 0, "%s: %s", sql, alchdb_last_error_message());
    alchdb_result_free(r);
}

static alchdb_cache_metrics met(alchdb_cache *c)
{
    alchdb_cache_metrics m;
    ck_assert_int_eq(alchdb_cache_get_metrics(c, &m, sizeof m), 0);
    return m;
}

#define ck_val(c, sql, n, p, want)                                                                                   \
    do {                                                                                                             \
        char *got_ = val(c, sql, n, p);                                                                              \
        ck_assert_msg(strcmp(got_, want) == 0, "%s -> '%s', want '%s'", sql, got_, want);                            \
        free(got_);                                                                                                  \
    } while (0)

static const char *const BACKENDS[] = {"memory", "redis"};

static void setup_items(const char *t)
{
    PGconn *pg = pgtest_connect();
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS %s CASCADE; CREATE TABLE %s (id int PRIMARY KEY, v text, grp int);"
             "INSERT INTO %s SELECT g, 'v' || g, g %% 3 FROM generate_series(1, 20) g",
             t, t, t);
    pgtest_exec(pg, sql);
    PQfinish(pg);
}

/* ---- basics ------------------------------------------------------------------- */

START_TEST(test_hit_then_invalidate_after_write)
{
    const char *be = BACKENDS[_i];
    setup_items("ct_items");
    alchdb_cache *cache = mk_cache(be, NULL);
    ck_assert_str_eq(alchdb_cache_backend(cache), be);
    alchdb_client *c = mk_client(NULL, cache, 2);
    const char *p1[] = {"1"};
    const char *sel = "SELECT v FROM ct_items WHERE id = $1";
    ck_val(c, sel, 1, p1, "v1");
    ck_val(c, sel, 1, p1, "v1");
    alchdb_cache_metrics m = met(cache);
    ck_assert_int_eq(m.misses, 1);
    ck_assert_int_eq(m.hits, 1);
    ck_assert_int_eq(m.fills, 1);
    /* A hit answers like the database: same columns, tag and row count. */
    alchdb_result *r;
    ck_assert_int_eq(alchdb_client_exec(c, sel, 1, p1, &r), 0);
    ck_assert_str_eq(alchdb_result_column_name(r, 0), "v");
    ck_assert_uint_eq(alchdb_result_column_type(r, 0), 25);
    ck_assert_str_eq(alchdb_result_command_tag(r), "SELECT 1");
    ck_assert_int_eq(alchdb_result_affected_rows(r), 1);
    alchdb_result_free(r);
    ck_assert_int_eq(met(cache).hits, 2);

    const char *up[] = {"changed", "1"};
    ok(c, "UPDATE ct_items SET v = $1 WHERE id = $2", 2, up);
    ck_val(c, sel, 1, p1, "changed");
    ck_val(c, sel, 1, p1, "changed");
    m = met(cache);
    ck_assert_int_eq(m.misses, 2);
    ck_assert_int_eq(m.hits, 3);
    ck_assert_int_ge(m.invalidations, 1);

    /* A write the library did not see needs the host's invalidation. */
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "UPDATE ct_items SET v = 'outside' WHERE id = 1");
    PQfinish(pg);
    ck_val(c, sel, 1, p1, "changed"); /* documented limit: served from the cache */
    const char *tabs[] = {"public.ct_items"};
    ck_assert_int_eq(alchdb_cache_invalidate_tables(cache, tabs, 1), 0);
    ck_val(c, sel, 1, p1, "outside");
    /* Clearing the namespace drops everything. */
    ck_val(c, sel, 1, p1, "outside");
    int64_t before = met(cache).misses;
    ck_assert_int_eq(alchdb_cache_clear(cache), 0);
    ck_val(c, sel, 1, p1, "outside");
    ck_assert_int_eq(met(cache).misses, before + 1);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* Primary-key lookups survive writes to other rows; listings do not. */
START_TEST(test_pk_invalidation)
{
    const char *be = BACKENDS[_i];
    for (int pk = 1; pk >= 0; pk--) {
        setup_items("ct_pk");
        const char *kv[] = {"pk_invalidation", pk ? "1" : "0", NULL};
        alchdb_cache *cache = mk_cache(be, kv);
        alchdb_client *c = mk_client(NULL, cache, 2);
        const char *sel = "SELECT v FROM ct_pk WHERE id = $1";
        const char *list = "SELECT string_agg(v, ',' ORDER BY id) FROM ct_pk WHERE grp = 1";
        const char *p1[] = {"1"}, *p2[] = {"2"};
        ck_val(c, sel, 1, p1, "v1");
        ck_val(c, sel, 1, p2, "v2");
        ck_val(c, list, 0, NULL, "v1,v4,v7,v10,v13,v16,v19");
        const char *up[] = {"new1", "1"};
        ok(c, "UPDATE ct_pk SET v = $1 WHERE id = $2", 2, up);
        int64_t m0 = met(cache).misses;
        ck_val(c, sel, 1, p2, "v2"); /* another row: still a hit with row-level versions */
        ck_assert_int_eq(met(cache).misses, m0 + (pk ? 0 : 1));
        ck_val(c, sel, 1, p1, "new1");
        ck_val(c, list, 0, NULL, "new1,v4,v7,v10,v13,v16,v19");
        /* The key in another spelling is the same row. */
        const char *p1b[] = {" 001"};
        const char *up2[] = {"new1b", " 001"};
        ck_val(c, sel, 1, p1b, "new1");
        ok(c, "UPDATE ct_pk SET v = $1 WHERE id = $2", 2, up2);
        ck_val(c, sel, 1, p1, "new1b");
        ck_val(c, sel, 1, p1b, "new1b");
        /* A write not by key reaches every lookup. */
        ck_val(c, sel, 1, p2, "v2");
        ok(c, "UPDATE ct_pk SET v = v || '+' WHERE grp = 2", 0, NULL);
        ck_val(c, sel, 1, p2, "v2+");
        /* Literal keys, INSERT with an explicit key, DELETE by key. */
        ck_val(c, "SELECT v FROM ct_pk WHERE id = 50", 0, NULL, "(none)");
        ok(c, "INSERT INTO ct_pk (id, v, grp) VALUES (50, 'fifty', 0)", 0, NULL);
        ck_val(c, "SELECT v FROM ct_pk WHERE id = 50", 0, NULL, "fifty");
        ok(c, "DELETE FROM ct_pk WHERE id = 50", 0, NULL);
        ck_val(c, "SELECT v FROM ct_pk WHERE id = 50", 0, NULL, "(none)");
        /* An upsert by key is a single-row write; one that moves the key is not. */
        ck_val(c, sel, 1, p2, "v2+");
        ok(c, "INSERT INTO ct_pk (id, v) VALUES (2, 'upserted') ON CONFLICT (id) DO UPDATE SET v = excluded.v", 0,
           NULL);
        ck_val(c, sel, 1, p2, "upserted");
        const char *p40[] = {"40"};
        ck_val(c, sel, 1, p40, "(none)");
        ok(c, "INSERT INTO ct_pk (id, v) VALUES (4, 'x') ON CONFLICT (id) DO UPDATE SET id = 40", 0, NULL);
        ck_val(c, sel, 1, p40, "v4");
        /* Moving a row to another key is not a single-row write. */
        const char *p21[] = {"21"};
        ck_val(c, sel, 1, p21, "(none)");
        ok(c, "UPDATE ct_pk SET id = 21 WHERE id = 3", 0, NULL);
        ck_val(c, sel, 1, p21, "v3");
        alchdb_client_free(c);
        alchdb_cache_free(cache);
    }
}
END_TEST

/* ---- transactions ----------------------------------------------------------- */

START_TEST(test_transactions)
{
    const char *be = BACKENDS[_i];
    setup_items("ct_txn");
    alchdb_cache *cache = mk_cache(be, NULL);
    alchdb_client *c = mk_client(NULL, cache, 3);
    const char *sel = "SELECT v FROM ct_txn WHERE id = 5";
    ck_val(c, sel, 0, NULL, "v5");
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "UPDATE ct_txn SET v = 'in-txn' WHERE id = 5", 0, NULL, NULL), 0);
    /* Reads inside the transaction are not cached. */
    alchdb_result *r;
    ck_assert_int_eq(alchdb_txn_exec(t, sel, 0, NULL, &r), 0);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "in-txn");
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_cache_bypass_count(cache, ALCHDB_CACHE_BYPASS_IN_TRANSACTION), 1);
    /* While it is open, reads of the table bypass (and see committed data). */
    int64_t b0 = alchdb_cache_bypass_count(cache, ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT);
    ck_val(c, sel, 0, NULL, "v5");
    ck_val(c, "SELECT count(*) FROM ct_txn", 0, NULL, "20");
    ck_assert_int_eq(alchdb_cache_bypass_count(cache, ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT), b0 + 2);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    ck_val(c, sel, 0, NULL, "in-txn");
    ck_val(c, sel, 0, NULL, "in-txn");
    /* A rollback invalidates nothing. */
    int64_t inv = met(cache).invalidations;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "UPDATE ct_txn SET v = 'rolled' WHERE id = 5", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_rollback(t), 0);
    alchdb_txn_free(t);
    ck_assert_int_eq(met(cache).invalidations, inv);
    int64_t h0 = met(cache).hits;
    ck_val(c, sel, 0, NULL, "in-txn");
    ck_assert_int_eq(met(cache).hits, h0 + 1);
    /* Several writes in one transaction: one batched invalidation at commit. */
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    for (int i = 6; i <= 9; i++) {
        char q[96];
        snprintf(q, sizeof q, "UPDATE ct_txn SET v = 'b%d' WHERE id = %d", i, i);
        ck_assert_int_eq(alchdb_txn_exec(t, q, 0, NULL, NULL), 0);
    }
    inv = met(cache).invalidations;
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    ck_assert_int_eq(met(cache).invalidations, inv + 1);
    ck_val(c, "SELECT v FROM ct_txn WHERE id = 9", 0, NULL, "b9");
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* ---- what is cached --------------------------------------------------------------- */

static void expect_bypass(alchdb_client *c, alchdb_cache *cache, const char *sql, int reason)
{
    int64_t b0 = alchdb_cache_bypass_count(cache, reason);
    int64_t l0 = met(cache).lookups;
    alchdb_result *r;
    unsigned flags = strchr(sql, ';') ? ALCHDB_EXEC_SIMPLE : 0; /* several statements */
    ck_assert_msg(alchdb_client_exec_flags(c, sql, 0, NULL, flags, &r) == 0, "%s: %s", sql,
                  alchdb_last_error_message());
    alchdb_result_free(r);
    ck_assert_msg(alchdb_cache_bypass_count(cache, reason) == b0 + 1, "%s: not bypassed as %s", sql,
                  alchdb_cache_bypass_name(reason));
    ck_assert_msg(met(cache).lookups == l0, "%s was looked up", sql);
}

START_TEST(test_cacheability)
{
    setup_items("ct_cab");
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "CREATE OR REPLACE FUNCTION ct_bump() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 1';"
                    "CREATE OR REPLACE FUNCTION ct_peek(int) RETURNS text LANGUAGE sql STABLE"
                    "  AS 'SELECT v FROM ct_cab WHERE id = $1';"
                    "DROP SEQUENCE IF EXISTS ct_seq; CREATE SEQUENCE ct_seq");
    PQfinish(pg);
    alchdb_cache *cache = mk_cache("memory", NULL);
    alchdb_client *c = mk_client(NULL, cache, 1); /* one session: the temp table stays visible */
    expect_bypass(c, cache, "SELECT now(), v FROM ct_cab WHERE id = 1", ALCHDB_CACHE_BYPASS_VOLATILE);
    expect_bypass(c, cache, "SELECT random()", ALCHDB_CACHE_BYPASS_VOLATILE);
    expect_bypass(c, cache, "SELECT ct_bump(), v FROM ct_cab", ALCHDB_CACHE_BYPASS_VOLATILE);
    expect_bypass(c, cache, "SELECT last_value FROM ct_seq", ALCHDB_CACHE_BYPASS_VOLATILE);
    /* A STABLE user function may read tables the statement does not name. */
    expect_bypass(c, cache, "SELECT ct_peek(1)", ALCHDB_CACHE_BYPASS_VOLATILE);
    /* PostgreSQL's own VOLATILE built-ins, also those the analysis does not list. */
    expect_bypass(c, cache, "SELECT pg_is_in_recovery()", ALCHDB_CACHE_BYPASS_VOLATILE);
    expect_bypass(c, cache, "SELECT v FROM ct_cab WHERE id = 1 FOR UPDATE", ALCHDB_CACHE_BYPASS_LOCKING);
    expect_bypass(c, cache, "SELECT v FROM ct_cab WHERE id = 2 FOR SHARE", ALCHDB_CACHE_BYPASS_LOCKING);
    expect_bypass(c, cache, "WITH d AS (UPDATE ct_cab SET v = v WHERE id = 3 RETURNING v) SELECT * FROM d",
                  ALCHDB_CACHE_BYPASS_WRITE);
    expect_bypass(c, cache, "SELECT relname FROM pg_class LIMIT 1", ALCHDB_CACHE_BYPASS_SYSTEM_CATALOG);
    expect_bypass(c, cache, "SELECT count(*) FROM pg_stat_activity", ALCHDB_CACHE_BYPASS_SYSTEM_CATALOG);
    expect_bypass(c, cache, "SELECT 1; SELECT 2", ALCHDB_CACHE_BYPASS_NOT_CACHEABLE);
    expect_bypass(c, cache, "EXPLAIN SELECT 1", ALCHDB_CACHE_BYPASS_NOT_CACHEABLE);
    ok(c, "CREATE TEMP TABLE ct_tmp AS SELECT 1 AS x", 0, NULL);
    expect_bypass(c, cache, "SELECT x FROM ct_tmp", ALCHDB_CACHE_BYPASS_TEMP_TABLE);
    expect_bypass(c, cache, "SELECT x FROM pg_temp.ct_tmp", ALCHDB_CACHE_BYPASS_TEMP_TABLE);
    const alchdb_cache_query skip = {ALCHDB_CACHE_QUERY_VERSION, ALCHDB_CACHE_SKIP, 0, NULL, 0};
    int64_t b0 = alchdb_cache_bypass_count(cache, ALCHDB_CACHE_BYPASS_SKIP_FLAG);
    ck_assert_int_eq(alchdb_client_exec_cached(c, "SELECT v FROM ct_cab WHERE id = 1", 0, NULL, 0, &skip, NULL), 0);
    ck_assert_int_eq(alchdb_cache_bypass_count(cache, ALCHDB_CACHE_BYPASS_SKIP_FLAG), b0 + 1);
    /* Cacheable: a plain read, a read of no table, an immutable function. */
    int64_t l0 = met(cache).lookups;
    ok(c, "SELECT v FROM ct_cab WHERE id = 1", 0, NULL);
    ok(c, "SELECT 1 + 1", 0, NULL);
    ok(c, "SELECT lower(v) FROM ct_cab WHERE id = 2", 0, NULL);
    ck_assert_int_eq(met(cache).lookups, l0 + 3);
    /* An oversize result is returned and counted, not stored. */
    alchdb_cache *small = mk_cache("memory", (const char *const[]){"max_entry_bytes", "200", NULL});
    alchdb_client *c2 = mk_client(NULL, small, 1);
    alchdb_result *r;
    ck_assert_int_eq(alchdb_client_exec(c2, "SELECT repeat('x', 1000)", 0, NULL, &r), 0);
    ck_assert_int_eq((int)strlen(alchdb_result_value(r, 0, 0)), 1000);
    alchdb_result_free(r);
    ck_assert_int_eq(met(small).fills_too_large, 1);
    alchdb_client_free(c2);
    alchdb_cache_free(small);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* Views expand to their base tables; foreign-key actions reach child tables. */
START_TEST(test_views_and_cascades)
{
    const char *be = BACKENDS[_i];
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "DROP TABLE IF EXISTS ct_child, ct_parent CASCADE;"
                    "CREATE TABLE ct_parent (id int PRIMARY KEY, name text);"
                    "CREATE TABLE ct_child (id int PRIMARY KEY, parent int REFERENCES ct_parent ON DELETE CASCADE);"
                    "INSERT INTO ct_parent VALUES (1, 'a'), (2, 'b');"
                    "INSERT INTO ct_child VALUES (10, 1), (11, 1), (12, 2);"
                    "CREATE VIEW ct_pview AS SELECT name FROM ct_parent WHERE id = 1;"
                    "CREATE VIEW ct_vv AS SELECT upper(name) AS u FROM ct_pview");
    PQfinish(pg);
    alchdb_cache *cache = mk_cache(be, NULL);
    alchdb_client *c = mk_client(NULL, cache, 2);
    ck_val(c, "SELECT name FROM ct_pview", 0, NULL, "a");
    ck_val(c, "SELECT u FROM ct_vv", 0, NULL, "A");
    ck_val(c, "SELECT count(*) FROM ct_child", 0, NULL, "3");
    ok(c, "UPDATE ct_parent SET name = 'z' WHERE id = 1", 0, NULL);
    ck_val(c, "SELECT name FROM ct_pview", 0, NULL, "z");
    ck_val(c, "SELECT u FROM ct_vv", 0, NULL, "Z");
    ck_val(c, "SELECT count(*) FROM ct_child", 0, NULL, "3");
    ok(c, "DELETE FROM ct_parent WHERE id = 1", 0, NULL);
    ck_val(c, "SELECT count(*) FROM ct_child", 0, NULL, "1");
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* Two roles under row-level security never see each other's rows. */
START_TEST(test_rls_roles)
{
    const char *be = BACKENDS[_i];
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "DROP TABLE IF EXISTS ct_docs;"
                    "DO $$BEGIN CREATE ROLE ct_alice LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$;"
                    "DO $$BEGIN CREATE ROLE ct_bob LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END$$;"
                    "CREATE TABLE ct_docs (id int PRIMARY KEY, owner text, body text);"
                    "INSERT INTO ct_docs VALUES (1, 'ct_alice', 'alice secret'), (2, 'ct_bob', 'bob secret');"
                    "ALTER TABLE ct_docs ENABLE ROW LEVEL SECURITY;"
                    "CREATE POLICY own ON ct_docs USING (owner = current_user);"
                    "GRANT SELECT ON ct_docs TO ct_alice, ct_bob");
    PQfinish(pg);
    alchdb_cache *cache = mk_cache(be, NULL);
    alchdb_client *a = mk_client("user=ct_alice", cache, 1);
    alchdb_client *b = mk_client("user=ct_bob", cache, 1);
    const char *all = "SELECT string_agg(body, ',') FROM ct_docs";
    for (int round = 0; round < 2; round++) {
        ck_val(a, all, 0, NULL, "alice secret");
        ck_val(b, all, 0, NULL, "bob secret");
    }
    /* The second round hit for both, each on its own entry. */
    ck_assert_int_eq(met(cache).hits, 2);
    ck_assert_int_eq(met(cache).misses, 2);
    /* A scope separates requests of one role, too. */
    alchdb_client *s1 = mk_client("user=ct_alice", NULL, 1), *s2 = mk_client("user=ct_alice", NULL, 1);
    ck_assert_int_eq(alchdb_client_set_cache(s1, cache, "tenant-1"), 0);
    ck_assert_int_eq(alchdb_client_set_cache(s2, cache, "tenant-2"), 0);
    ck_val(s1, all, 0, NULL, "alice secret");
    ck_val(s2, all, 0, NULL, "alice secret");
    ck_assert_int_eq(met(cache).misses, 4);
    alchdb_client_free(s1);
    alchdb_client_free(s2);
    alchdb_client_free(a);
    alchdb_client_free(b);
    alchdb_cache_free(cache);
}
END_TEST

/* ---- races forced at the pause points -------------------------------------------- */

typedef struct race {
    const char *point;    /* where to act */
    const char *sql;      /* whose miss */
    alchdb_client *writer; /* another client sharing the cache (another process, in effect) */
    const char *write;
    int fired;
} race;

static void race_hook(const char *point, const char *sql, void *ud)
{
    race *r = ud;
    if (r->fired || strcmp(point, r->point) != 0 || strcmp(sql, r->sql) != 0)
        return;
    r->fired = 1;
    ok(r->writer, r->write, 0, NULL); /* commits and invalidates before returning */
}

START_TEST(test_forced_races)
{
    const char *be = BACKENDS[_i];
    static const char *const points[] = {"versions-read", "query-done", "before-fill"};
    for (int k = 0; k < 3; k++) {
        setup_items("ct_race");
        alchdb_cache *cache = mk_cache(be, NULL);
        alchdb_client *reader = mk_client(NULL, cache, 1), *writer = mk_client(NULL, cache, 1);
        const char *sel = "SELECT v FROM ct_race WHERE id = 7";
        char w[96];
        snprintf(w, sizeof w, "UPDATE ct_race SET v = 'w-%d' WHERE id = 7", k);
        race r = {points[k], sel, writer, w, 0};
        alchdb__cache_set_test_hook(race_hook, &r);
        char *first = val(reader, sel, 0, NULL);
        alchdb__cache_set_test_hook(NULL, NULL);
        ck_assert_int_eq(r.fired, 1);
        /* versions-read: the write lands before the query runs, which sees it.
         * Later: the query saw the old row, legitimately (it began first). */
        ck_assert_str_eq(first, k == 0 ? "w-0" : "v7");
        free(first);
        /* Either way the fill was refused: the versions moved while it ran. */
        alchdb_cache_metrics m = met(cache);
        ck_assert_int_eq(m.fills_rejected, 1);
        ck_assert_int_eq(m.fills, 0);
        /* And the next read, which begins after the write returned, is fresh. */
        char want[16];
        snprintf(want, sizeof want, "w-%d", k);
        ck_val(reader, sel, 0, NULL, want);
        ck_val(reader, sel, 0, NULL, want);
        ck_assert_int_eq(met(cache).hits, 1);
        alchdb_client_free(reader);
        alchdb_client_free(writer);
        alchdb_cache_free(cache);
    }
}
END_TEST

/* ---- stampede ------------------------------------------------------------------------ */

typedef struct herd {
    alchdb_client *c;
    const char *sql;
    pthread_barrier_t *go;
    int bad;
} herd;

static void *herd_main(void *arg)
{
    herd *h = arg;
    pthread_barrier_wait(h->go);
    alchdb_result *r;
    if (alchdb_client_exec(h->c, h->sql, 0, NULL, &r) != 0 || strcmp(alchdb_result_value(r, 0, 0), "285714") != 0)
        h->bad++;
    alchdb_result_free(r);
    return NULL;
}

static const char SLOW[] = "SELECT count(*) FROM generate_series(1, 2000000) g WHERE g % 7 = 0";

/* n threads of one process miss the same key at once. */
static void run_herd(alchdb_client *c, int n)
{
    pthread_t th[64];
    herd h[64];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        h[i] = (herd){c, SLOW, &go, 0};
        pthread_create(&th[i], NULL, herd_main, &h[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(h[i].bad, 0);
    }
    pthread_barrier_destroy(&go);
}

START_TEST(test_single_flight)
{
    const char *be = BACKENDS[_i];
    alchdb_cache *cache = mk_cache(be, (const char *const[]){"lease_wait", "20s", NULL});
    alchdb_client *c = mk_client(NULL, cache, 8);
    run_herd(c, 40);
    alchdb_cache_metrics m = met(cache);
    ck_assert_int_eq(m.misses, 1); /* the query ran once */
    ck_assert_int_eq(m.hits, 39);
    ck_assert_int_ge(m.coalesced, 1);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* Two processes share one Redis: one of them runs the query, the other waits
 * for its lease and is served; each sees the other's invalidations. */
START_TEST(test_two_processes)
{
    setup_items("ct_mp");
    char prefix[64];
    snprintf(prefix, sizeof prefix, "ctmp%d", (int)getpid());
    const char *kv[] = {"prefix", prefix, "lease_wait", "20s", NULL};
    int up[2], down[2]; /* child -> parent, parent -> child */
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    pid_t pid = fork();
    if (pid == 0) {
        alchdb_cache *cache = mk_cache("redis", kv);
        alchdb_client *c = mk_client(NULL, cache, 8);
        run_herd(c, 10);
        int64_t misses = met(cache).misses;
        ck_assert_int_eq(write(up[1], &misses, sizeof misses), (ssize_t)sizeof misses);
        /* Wait for the parent's write, then read: fresh. */
        char go;
        ck_assert_int_eq(read(down[0], &go, 1), 1);
        ck_val(c, "SELECT v FROM ct_mp WHERE id = 2", 0, NULL, "from-parent");
        alchdb_client_free(c);
        alchdb_cache_free(cache);
        _exit(0);
    }
    alchdb_cache *cache = mk_cache("redis", kv);
    alchdb_client *c = mk_client(NULL, cache, 8);
    ck_val(c, "SELECT v FROM ct_mp WHERE id = 2", 0, NULL, "v2");
    run_herd(c, 10);
    int64_t child_misses = 0;
    ck_assert_int_eq(read(up[0], &child_misses, sizeof child_misses), (ssize_t)sizeof child_misses);
    ck_assert_int_eq(met(cache).misses - 1 + child_misses, 1); /* one execution for 20 threads in 2 processes */
    ok(c, "UPDATE ct_mp SET v = 'from-parent' WHERE id = 2", 0, NULL);
    ck_assert_int_eq(write(down[1], "g", 1), 1);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");
    for (int i = 0; i < 2; i++)
        close(up[i]), close(down[i]);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* ---- Redis outages ------------------------------------------------------------------- */

static void timed_val(alchdb_client *c, const char *sql, const char *want, double max_s)
{
    int64_t t0 = alchdb__now_ns();
    ck_val(c, sql, 0, NULL, want);
    double s = (double)(alchdb__now_ns() - t0) / 1e9;
    ck_assert_msg(s < max_s, "%s took %.3f s with Redis unavailable", sql, s);
}

START_TEST(test_redis_outage)
{
    setup_items("ct_out");
    const char *kv[] = {"command_timeout", "100ms", "connect_timeout", "100ms", "breaker_open", "300ms", NULL};
    alchdb_cache *cache = mk_cache("redis", kv);
    alchdb_client *c = mk_client(NULL, cache, 2);
    const char *sel = "SELECT v FROM ct_out WHERE id = 4";
    ck_val(c, sel, 0, NULL, "v4");
    ck_val(c, sel, 0, NULL, "v4");
    ck_assert_int_eq(met(cache).hits, 1);

    /* Paused: every statement still answers, within the timeouts; a write
     * whose invalidation cannot be delivered is not forgotten. */
    redistest_ctl("pause");
    for (int i = 0; i < 5; i++)
        timed_val(c, sel, "v4", 1.0);
    ck_assert_int_eq(met(cache).breaker_open, 1);
    ok(c, "UPDATE ct_out SET v = 'during-pause' WHERE id = 4", 0, NULL);
    timed_val(c, sel, "during-pause", 1.0);
    ck_assert_int_gt(alchdb_cache_bypass_count(cache, ALCHDB_CACHE_BYPASS_BACKEND), 0);
    /* An explicit invalidation that cannot be delivered says so, and is not lost. */
    const char *tabs[] = {"ct_out"};
    ck_assert_int_lt(alchdb_cache_invalidate_tables(cache, tabs, 1), 0);
    ck_assert_msg(strstr(alchdb_last_error_message(), "alchdb_cache_invalidate_tables: "), "%s",
                  alchdb_last_error_message());
    redistest_ctl("resume");
    usleep(400000); /* past the breaker's open period */
    ck_val(c, sel, 0, NULL, "during-pause"); /* never the entry filled before the write */
    ck_val(c, sel, 0, NULL, "during-pause");

    /* Stopped, written to, restarted. */
    ck_val(c, sel, 0, NULL, "during-pause");
    redistest_ctl("stop");
    ok(c, "UPDATE ct_out SET v = 'during-stop' WHERE id = 4", 0, NULL);
    timed_val(c, sel, "during-stop", 1.0);
    redistest_ctl("start");
    usleep(400000);
    ck_val(c, sel, 0, NULL, "during-stop");
    ck_val(c, sel, 0, NULL, "during-stop");
    int64_t h0 = met(cache).hits;
    ck_val(c, sel, 0, NULL, "during-stop");
    ck_assert_int_eq(met(cache).hits, h0 + 1); /* serving again */
    ck_assert_int_eq(met(cache).breaker_open, 0);
    char *json;
    ck_assert_int_eq(alchdb_cache_to_json(cache, &json), 0);
    json_error_t err;
    json_t *doc = json_loads(json, 0, &err);
    ck_assert_msg(doc, "stats JSON: %s", err.text);
    ck_assert_int_gt(json_integer_value(json_object_get(doc, "backend_errors")), 0);
    json_decref(doc);
    alchdb_free(json);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* Redis refusing writes (maxmemory with noeviction): results stay correct. */
START_TEST(test_redis_oom)
{
    setup_items("ct_oom");
    alchdb_cache *cache = mk_cache("redis", NULL);
    alchdb_client *c = mk_client(NULL, cache, 2);
    ck_val(c, "SELECT v FROM ct_oom WHERE id = 1", 0, NULL, "v1"); /* versions exist */
    char host[64], cmd[256];
    int port;
    redistest_addr(host, sizeof host, &port);
    snprintf(cmd, sizeof cmd,
             "redis-cli -p %d CONFIG SET maxmemory 1 >/dev/null && redis-cli -p %d CONFIG SET maxmemory-policy "
             "noeviction >/dev/null",
             port, port);
    ck_assert_int_eq(system(cmd), 0);
    for (int i = 2; i < 8; i++) {
        char q[64], want[8];
        snprintf(q, sizeof q, "SELECT v FROM ct_oom WHERE id = %d", i);
        snprintf(want, sizeof want, "v%d", i);
        ck_val(c, q, 0, NULL, want);
    }
    ok(c, "UPDATE ct_oom SET v = 'oom' WHERE id = 1", 0, NULL);
    snprintf(cmd, sizeof cmd, "redis-cli -p %d CONFIG SET maxmemory 0 >/dev/null", port);
    ck_assert_int_eq(system(cmd), 0);
    usleep(1200000); /* let the breaker close */
    ck_val(c, "SELECT v FROM ct_oom WHERE id = 1", 0, NULL, "oom");
    ck_assert_int_gt(met(cache).backend_errors, 0);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

/* ---- replicas ---------------------------------------------------------------------- */

START_TEST(test_replica_misses)
{
    setup_items("ct_rep");
    alchdb_router_config *rc;
    ck_assert_int_eq(alchdb_router_config_new(&rc), 0);
    alchdb_router_config_set_from_string(rc, "probe_interval", "50ms");
    alchdb_router *router;
    ck_assert_msg(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, rc, &router) == 0, "%s",
                  alchdb_last_error_message());
    ck_assert_int_eq(alchdb_router_add_replica(router, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    ck_assert_int_eq(alchdb_router_start(router), 0);
    alchdb_router_config_free(rc);
    alchdb_cache *cache = mk_cache("redis", NULL);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(router, &c), 0);
    ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);
    /* Wait until the replica has the table. */
    for (int i = 0; i < 100 && alchdb_router_host_healthy(router, 1) != 1; i++)
        usleep(50000);
    const char *sel = "SELECT v FROM ct_rep WHERE id = 3";
    ok(c, "UPDATE ct_rep SET v = 'first' WHERE id = 3", 0, NULL);
    ck_val(c, sel, 0, NULL, "first");
    /* Replay paused: the replica keeps the old row; the next miss must not
     * store it (the router is asked for a replica past the write, or the primary). */
    PGconn *rep = PQconnectdb(test_env("ALCHDB_TEST_REPLICA"));
    ck_assert_int_eq(PQstatus(rep), CONNECTION_OK);
    PQclear(PQexec(rep, "SELECT pg_wal_replay_pause()"));
    ok(c, "UPDATE ct_rep SET v = 'second' WHERE id = 3", 0, NULL);
    for (int i = 0; i < 5; i++)
        ck_val(c, sel, 0, NULL, "second");
    PQclear(PQexec(rep, "SELECT pg_wal_replay_resume()"));
    PQfinish(rep);
    ck_val(c, sel, 0, NULL, "second");
    ck_assert_int_ge(met(cache).hits, 4);
    /* Misses are served by the replica once it has replayed far enough. */
    bool on_replica = false;
    int64_t fills0 = met(cache).fills;
    for (int i = 0; i < 40 && !on_replica; i++) {
        char q[128];
        snprintf(q, sizeof q, "SELECT v FROM ct_rep WHERE id = 3 AND %d = %d", i, i);
        ck_val(c, q, 0, NULL, "second");
        on_replica = met(cache).fills_from_replica > 0;
        if (!on_replica)
            usleep(50000);
    }
    ck_assert_msg(on_replica, "no miss was served by the replica");
    ck_assert_int_gt(met(cache).fills, fills0); /* looked up, missed and stored: not a bypass */
    alchdb_client_free(c);
    alchdb_cache_free(cache);
    alchdb_router_free(router);
}
END_TEST

/* ---- bad input ------------------------------------------------------------------------ */

START_TEST(test_bad_input)
{
    alchdb_cache_config *cfg;
    ck_assert_int_eq(alchdb_cache_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "prefix", "has space"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "prefix", "ctl\x01"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "prefix", ""), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "default_ttl", "-5s"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "default_ttl", "100000h"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "max_ttl", "0"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "backend", "memcached"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "hash_key", "xyz"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "no_such", "1"), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "redis_password", "hunter2"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_REDIS_PORT, "1"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_PREFIX, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_int64(cfg, 999, 1), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_cache_config_set_int64(NULL, ALCHDB_CACHE_OPT_MAX_TTL, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "default_ttl", "2h"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "max_ttl", "1h"), 0);
    alchdb_cache *c = NULL;
    ck_assert_int_eq(alchdb_cache_new(cfg, &c), ALCHDB_E_INVALID); /* default above max */
    ck_assert_ptr_null(c);
    ck_assert_int_eq(alchdb_cache_new(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "default_ttl", "1m"), 0);
    ck_assert_int_eq(alchdb_cache_new(cfg, &c), 0);
    alchdb_cache_config_free(cfg);
    /* The password never shows. */
    char *json;
    ck_assert_int_eq(alchdb_cache_to_json(c, &json), 0);
    ck_assert_ptr_null(strstr(json, "hunter2"));
    ck_assert_ptr_nonnull(strstr(json, "\"backend\":\"memory\""));
    alchdb_free(json);
    ck_assert_int_eq(alchdb_cache_invalidate_tables(NULL, (const char *const[]){"t"}, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_invalidate_tables(c, NULL, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_invalidate_tables(c, (const char *const[]){"t"}, 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_invalidate_tables(c, (const char *const[]){""}, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_invalidate_tag(c, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_invalidate_tag(c, ""), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_clear(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_get_metrics(c, NULL, 8), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_bypass_count(c, -1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_bypass_count(c, ALCHDB_CACHE_BYPASS_TOO_MANY_TABLES + 1), ALCHDB_E_INVALID);
    ck_assert_str_eq(alchdb_cache_bypass_name(99), "unknown");
    ck_assert_str_eq(alchdb_cache_bypass_name(ALCHDB_CACHE_BYPASS_VOLATILE), "volatile");
    ck_assert_str_eq(alchdb_cache_backend(NULL), "");
    ck_assert_int_eq(alchdb_cache_to_json(NULL, &json), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_client_set_cache(NULL, c, NULL), ALCHDB_E_INVALID);
    /* Per-query options are checked. */
    alchdb_client *cl = mk_client(NULL, c, 1);
    alchdb_cache_query q = {ALCHDB_CACHE_QUERY_VERSION, 0, -1, NULL, 0};
    ck_assert_int_eq(alchdb_client_exec_cached(cl, "SELECT 1", 0, NULL, 0, &q, NULL), ALCHDB_E_INVALID);
    q.ttl_us = (int64_t)1e15;
    ck_assert_int_eq(alchdb_client_exec_cached(cl, "SELECT 1", 0, NULL, 0, &q, NULL), ALCHDB_E_INVALID);
    q.ttl_us = 0;
    q.flags = 64;
    ck_assert_int_eq(alchdb_client_exec_cached(cl, "SELECT 1", 0, NULL, 0, &q, NULL), ALCHDB_E_INVALID);
    q.flags = 0;
    q.version = 99;
    ck_assert_int_eq(alchdb_client_exec_cached(cl, "SELECT 1", 0, NULL, 0, &q, NULL), ALCHDB_E_INVALID);
    q.version = ALCHDB_CACHE_QUERY_VERSION;
    q.ntags = 1;
    ck_assert_int_eq(alchdb_client_exec_cached(cl, "SELECT 1", 0, NULL, 0, &q, NULL), ALCHDB_E_INVALID);
    /* Tags: an entry stored with a tag goes when the tag is invalidated. */
    const char *tags[] = {"report"};
    q.tags = tags;
    alchdb_result *r;
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(alchdb_client_exec_cached(cl, "SELECT 41 + 1", 0, NULL, 0, &q, &r), 0);
        ck_assert_str_eq(alchdb_result_value(r, 0, 0), "42");
        alchdb_result_free(r);
    }
    ck_assert_int_eq(met(c).hits, 1);
    ck_assert_int_eq(alchdb_cache_invalidate_tag(c, "report"), 0);
    ck_assert_int_eq(alchdb_client_exec_cached(cl, "SELECT 41 + 1", 0, NULL, 0, &q, NULL), 0);
    ck_assert_int_eq(met(c).misses, 2);
    /* A long pattern with multi-byte names is cut on a character boundary:
     * the stats stay valid JSON (jansson rejects broken UTF-8). */
    char q2[512] = "SELECT 1 AS \"";
    for (int i = 0; i < 70; i++)
        strcat(q2, "\xc3\xa9");
    strcat(q2, "\"");
    ck_assert_int_eq(alchdb_client_exec(cl, q2, 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_cache_to_json(c, &json), 0);
    json_error_t jerr;
    json_t *doc = json_loads(json, 0, &jerr);
    ck_assert_msg(doc, "stats JSON: %s", jerr.text);
    ck_assert_int_ge(json_array_size(json_object_get(doc, "patterns")), 2);
    json_decref(doc);
    alchdb_free(json);
    alchdb_client_free(cl);
    alchdb_cache_free(c);
}
END_TEST

/* Per-statement options, cache_all off, and the key's hash key. */
START_TEST(test_query_options)
{
    setup_items("ct_opt");
    alchdb_cache *cache = mk_cache("memory", (const char *const[]){"cache_all", "off", NULL});
    alchdb_client *c = mk_client(NULL, cache, 1);
    const char *sel = "SELECT v FROM ct_opt WHERE id = 3";
    /* cache_all off: plain exec is not cached, exec_cached is. */
    ck_val(c, sel, 0, NULL, "v3");
    ck_assert_int_eq(met(cache).lookups, 0);
    ck_assert_int_eq(alchdb_cache_bypass_count(cache, ALCHDB_CACHE_BYPASS_SKIP_FLAG), 1);
    alchdb_cache_query q = {ALCHDB_CACHE_QUERY_VERSION, ALCHDB_CACHE_NO_FILL, 0, NULL, 0};
    alchdb_result *r;
    ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, &r), 0);
    alchdb_result_free(r);
    ck_assert_int_eq(met(cache).fills, 0); /* NO_FILL: looked up, not stored */
    q.flags = 0;
    q.ttl_us = 1000000; /* 1 s (shortened by up to 10 % jitter) */
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, &r), 0);
        ck_assert_str_eq(alchdb_result_value(r, 0, 0), "v3");
        alchdb_result_free(r);
    }
    ck_assert_int_eq(met(cache).hits, 1);
    /* The TTL ends the entry. */
    usleep(1200000);
    ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, NULL), 0);
    ck_assert_int_eq(met(cache).hits, 1);
    ck_assert_int_eq(met(cache).fills, 2);
    /* REFRESH runs the query and stores it even when an entry exists. */
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "UPDATE ct_opt SET v = 'behind' WHERE id = 3"); /* outside the library */
    PQfinish(pg);
    q.flags = ALCHDB_CACHE_REFRESH;
    ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, &r), 0);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "behind");
    alchdb_result_free(r);
    q.flags = 0;
    ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, &r), 0);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "behind");
    alchdb_result_free(r);
    ck_assert_int_eq(met(cache).hits, 2);
    /* The stats list the 50 busiest of more patterns, busiest first. */
    PGconn *pgp = pgtest_connect();
    /* Names differ in letters: fingerprints ignore literals, aliases and a
     * relation name's trailing digits. */
    pgtest_exec(pgp, "DO $$DECLARE n text; BEGIN FOR i IN 0..69 LOOP n := 'ct_p' || chr(97 + i / 26) || "
                     "chr(97 + i % 26); EXECUTE format('DROP TABLE IF EXISTS %I; CREATE TABLE %I (x int)', n, n); "
                     "END LOOP; END$$");
    PQfinish(pgp);
    for (int i = 0; i < 70; i++) {
        char pq[64];
        snprintf(pq, sizeof pq, "SELECT x FROM ct_p%c%c", 'a' + i / 26, 'a' + i % 26);
        for (int rep = 0; rep <= i % 4; rep++)
            ck_assert_int_eq(alchdb_client_exec_cached(c, pq, 0, NULL, 0, &q, NULL), 0);
    }
    char *js;
    ck_assert_int_eq(alchdb_cache_to_json(cache, &js), 0);
    json_error_t jerr;
    json_t *doc = json_loads(js, 0, &jerr);
    ck_assert_msg(doc, "%s", jerr.text);
    json_t *pats = json_object_get(doc, "patterns");
    ck_assert_msg(json_array_size(pats) == 50, "%s", js);
    for (size_t i = 1; i < 50; i++)
        ck_assert_int_ge(json_integer_value(json_object_get(json_array_get(pats, i - 1), "lookups")),
                         json_integer_value(json_object_get(json_array_get(pats, i), "lookups")));
    /* 53 patterns have 2 or more lookups: none with 1 makes the list */
    ck_assert_int_ge(json_integer_value(json_object_get(json_array_get(pats, 49), "lookups")), 2);
    json_decref(doc);
    alchdb_free(js);
    /* A monitor on the same client sees hits as route "cache", label cache=hit.
     * The entry is filled again with the default TTL first: the 1 s one above
     * may have ended while the patterns were made on a slow machine. */
    q.ttl_us = 0;
    ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, NULL), 0);
    ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, NULL), 0);
    alchdb_monitor_config *mc;
    alchdb_monitor_config_new(&mc);
    ck_assert_int_eq(alchdb_monitor_config_set_from_string(mc, "slow_query_threshold", "1us"), 0);
    alchdb_monitor *mon;
    ck_assert_int_eq(alchdb_monitor_new(mc, &mon), 0);
    alchdb_monitor_config_free(mc);
    ck_assert_int_eq(alchdb_client_set_monitor(c, mon), 0);
    ck_assert_int_eq(alchdb_client_exec_cached(c, sel, 0, NULL, 0, &q, NULL), 0);
    char *slow;
    ck_assert_int_eq(alchdb_monitor_slow_log_to_json(mon, 10, &slow), 0);
    ck_assert_msg(strstr(slow, "\"route\":\"cache\"") && strstr(slow, "\"cache\":\"hit\""), "%s", slow);
    alchdb_free(slow);
    alchdb_client_set_monitor(c, NULL);
    alchdb_monitor_free(mon);
    alchdb_client_free(c);
    alchdb_cache_free(cache);

    /* Two caches on one Redis prefix with different hash keys never share an
     * entry; with the same key they do. */
    char prefix[64];
    snprintf(prefix, sizeof prefix, "cthk%d", (int)getpid());
    const char *k1[] = {"prefix", prefix, "hash_key", "000102030405060708090a0b0c0d0e0f", NULL};
    const char *k2[] = {"prefix", prefix, "hash_key", "ffeeddccbbaa99887766554433221100", NULL};
    alchdb_cache *a = mk_cache("redis", k1), *b = mk_cache("redis", k2), *a2 = mk_cache("redis", k1);
    alchdb_client *ca = mk_client(NULL, a, 1), *cb = mk_client(NULL, b, 1), *ca2 = mk_client(NULL, a2, 1);
    ck_val(ca, sel, 0, NULL, "behind");
    ck_val(cb, sel, 0, NULL, "behind");
    ck_assert_int_eq(met(b).hits, 0);
    ck_val(ca2, sel, 0, NULL, "behind");
    ck_assert_int_eq(met(a2).hits, 1);
    alchdb_client_free(ca);
    alchdb_client_free(cb);
    alchdb_client_free(ca2);
    alchdb_cache_free(a);
    alchdb_cache_free(b);
    alchdb_cache_free(a2);
}
END_TEST

/* A routed client with causal reads and a cache reads the write position
 * once per write: the cache reads it for its tokens, the router's
 * read-your-writes token reuses it. */
START_TEST(test_causal_write_position_read_once)
{
    setup_items("ct_causal");
    alchdb_router_config *rc;
    ck_assert_int_eq(alchdb_router_config_new(&rc), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(rc, "causal_default", "on"), 0);
    alchdb_router *router;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, rc, &router), 0);
    alchdb_router_config_free(rc);
    ck_assert_int_eq(alchdb_router_add_replica(router, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    ck_assert_int_eq(alchdb_router_start(router), 0);
    alchdb_cache *cache = mk_cache("memory", NULL);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(router, &c), 0);
    ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);
    PGconn *pg = pgtest_connect();
    pgtest_exec(pg, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()");
    for (int i = 0; i < 5; i++) {
        char up[96], want[16];
        snprintf(up, sizeof up, "UPDATE ct_causal SET v = 'c%d' WHERE id = 6", i);
        snprintf(want, sizeof want, "c%d", i);
        ok(c, up, 0, NULL);
        ck_val(c, "SELECT v FROM ct_causal WHERE id = 6", 0, NULL, want); /* read-your-writes holds */
    }
    /* One position read per write, plus one (alchdb_router_token, the same
     * query) that gives the version created at first use its position. */
    long n = pgtest_count("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE "
                          "'SELECT l::text, pg_walfile_name(l)%FROM pg_current_wal_insert_lsn() l'");
    ck_assert_int_eq(n, 6);
    PQfinish(pg);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
    alchdb_router_free(router);
}
END_TEST

/* ---- out of memory --------------------------------------------------------------- */


/* The value, or NULL when the call failed (it may, cleanly, when memory runs out). */
static char *try_val(alchdb_client *c, const char *sql)
{
    alchdb_result *r;
    int rc = alchdb_client_exec(c, sql, 0, NULL, &r);
    char *v = rc == 0 && alchdb_result_nrows(r) == 1 ? strdup(alchdb_result_value(r, 0, 0)) : NULL;
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM || rc == ALCHDB_E_QUERY, "%s: %d %s", sql, rc,
                  alchdb_last_error_message());
    alchdb_result_free(r);
    return v;
}

/* Every allocation of a miss, a hit, a write and a transaction fails in
 * turn: each call answers correctly or fails cleanly, and afterwards the
 * cache never serves a value older than the database's. */
START_TEST(test_out_of_memory)
{
    setup_items("ct_oom2");
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    alchdb_cache *cache = mk_cache("memory", NULL);
    alchdb_client *c = mk_client(NULL, cache, 1);
    char want[32] = "v1";
    ck_val(c, "SELECT v FROM ct_oom2 WHERE id = 1", 0, NULL, want);
    long k;
    for (k = 1; k <= 400; k++) {
        failalloc_calls = 0;
        failalloc_at = k;
        char *v = try_val(c, "SELECT v FROM ct_oom2 WHERE id = 1");
        if (v)
            ck_assert_msg(strcmp(v, want) == 0, "k=%ld: read %s, want %s", k, v, want);
        free(v);
        char up[96];
        snprintf(up, sizeof up, "UPDATE ct_oom2 SET v = 'k%ld' WHERE id = 1", k);
        free(try_val(c, up));
        alchdb_txn *t = NULL;
        if (alchdb_client_begin(c, 0, &t) == 0) {
            snprintf(up, sizeof up, "UPDATE ct_oom2 SET grp = %ld WHERE id = 1", k);
            alchdb_txn_exec(t, up, 0, NULL, NULL);
            alchdb_txn_commit(t);
        }
        alchdb_txn_free(t);
        free(try_val(c, "SELECT grp FROM ct_oom2 WHERE id = 1"));
        failalloc_at = -1;
        /* The truth, from the database directly. */
        PGconn *pg = pgtest_connect();
        PGresult *r = PQexec(pg, "SELECT v, grp::text FROM ct_oom2 WHERE id = 1");
        snprintf(want, sizeof want, "%s", PQgetvalue(r, 0, 0));
        char grp[32];
        snprintf(grp, sizeof grp, "%s", PQgetvalue(r, 0, 1));
        PQclear(r);
        PQfinish(pg);
        ck_val(c, "SELECT v FROM ct_oom2 WHERE id = 1", 0, NULL, want);
        ck_val(c, "SELECT grp FROM ct_oom2 WHERE id = 1", 0, NULL, grp);
        if (failalloc_calls < k)
            break; /* the sequence no longer reaches allocation k */
    }
    fprintf(stderr, "out of memory: failed each of the first %ld allocations in turn\n", k - 1);
    ck_assert_int_gt(k, 40); /* the sequence allocates; the loop really injected failures */
    alchdb_client_free(c);
    alchdb_cache_free(cache);
    alchdb_sql_cache_clear(); /* the shared analysis cache holds what was parsed */
    ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}
END_TEST

/* The cache reads the database's catalog on first use. When that backend
 * stops answering, the statement that triggered the read returns by its own
 * deadline (the catalog read is bounded by it), instead of waiting as long
 * as the server stays stopped. */
START_TEST(test_catalog_read_deadline)
{
    setup_items("cat_deadline");
    alchdb_cache *cache = mk_cache("memory", NULL);
    alchdb_client *c = mk_client(NULL, NULL, 1); /* one connection: the catalog read gets this one */
    alchdb_result *r;
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT pg_backend_pid()", 0, NULL, &r), 0);
    pid_t pid = (pid_t)atoi(alchdb_result_value(r, 0, 0));
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);
    alchdb_exec_opts o = {.size = sizeof o, .timeout_us = 300000LL * test_slowdown()};
    procstop ps = procstop_begin(pid, 20000);
    int64_t t0 = alchdb__now_ns();
    int rc = alchdb_client_exec_opts(c, "SELECT v FROM cat_deadline WHERE id = 1", 0, NULL, &o, &r);
    int64_t took_ms = (alchdb__now_ns() - t0) / 1000000;
    procstop_end(&ps);
    alchdb_result_free(r);
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_TIMEOUT, "rc %d: %s", rc, alchdb_last_error_message());
    ck_assert_msg(took_ms < 1500LL * test_slowdown(), "the statement waited %lld ms on the catalog read",
                  (long long)took_ms);
    /* the stopped backend's connection was not kept; the cache recovers */
    for (int i = 0; i < 20 && met(cache).hits == 0; i++) {
        ck_val(c, "SELECT v FROM cat_deadline WHERE id = 1", 0, NULL, "v1");
        usleep(100000); /* a failed catalog read is retried after a second */
    }
    ck_assert_int_gt(met(cache).hits, 0);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache-integration");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_query_options);
    tcase_add_loop_test(tc, test_hit_then_invalidate_after_write, 0, 2);
    tcase_add_loop_test(tc, test_pk_invalidation, 0, 2);
    tcase_add_loop_test(tc, test_transactions, 0, 2);
    tcase_add_test(tc, test_cacheability);
    tcase_add_loop_test(tc, test_views_and_cascades, 0, 2);
    tcase_add_loop_test(tc, test_rls_roles, 0, 2);
    tcase_add_loop_test(tc, test_forced_races, 0, 2);
    tcase_add_loop_test(tc, test_single_flight, 0, 2);
    tcase_add_test(tc, test_two_processes);
    tcase_add_test(tc, test_redis_outage);
    tcase_add_test(tc, test_redis_oom);
    tcase_add_test(tc, test_replica_misses);
    tcase_add_test(tc, test_causal_write_position_read_once);
    tcase_add_test(tc, test_catalog_read_deadline);
    tcase_add_test(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
