/* The stale-read checker. Writer threads increment rows (by primary key, by
 * group, and in transactions) through a cached client and publish, after
 * each commit call returned, the value they committed. Reader threads (and
 * a second process sharing the Redis) note the published values before each
 * read begins and check that the answer is at least that new: rows only
 * grow, so a smaller value (or a smaller group sum) is a stale read.
 *
 * Configurations: the memory backend; Redis with a second process; Redis
 * behind a router so misses are served by the streaming replica; Redis
 * paused (SIGSTOP), killed (SIGKILL) and restarted during the run. Every one must end with
 * zero stale reads, and must actually have served hits. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alchdb/alchdb.h"
#include "client/client_internal.h"
#include "internal.h"
#include "pgtest.h"
#include "redistest.h"
#include "testutil.h"

#define NROWS 40
#define NGROUPS 4

typedef struct shared {
    _Atomic int64_t committed[NROWS + 1]; /* highest committed value per id (1-based) */
    _Atomic int stop;
    _Atomic int64_t reads, stale, writes, slow_reads;
    int64_t t0;
    char last_stale[256];
} shared;

static shared *sh;

typedef struct cfg {
    const char *name;
    const char *backend;
    bool routed;
    bool second_process;
    bool chaos;
} cfg;

static double seconds(void)
{
    const char *e = getenv("ALCHDB_STALE_SECONDS");
    return e && atof(e) > 0 ? atof(e) : 5.0;
}

static alchdb_cache *mk_cache(const cfg *k, const char *prefix)
{
    alchdb_cache_config *cc;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "backend", k->backend), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "prefix", prefix), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "command_timeout", "100ms"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "connect_timeout", "100ms"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "breaker_open", "200ms"), 0);
    if (strcmp(k->backend, "redis") == 0) {
        char host[64];
        int port;
        redistest_addr(host, sizeof host, &port);
        ck_assert_int_eq(alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_REDIS_HOST, host), 0);
        ck_assert_int_eq(alchdb_cache_config_set_int64(cc, ALCHDB_CACHE_OPT_REDIS_PORT, port), 0);
    }
    alchdb_cache *c;
    ck_assert_msg(alchdb_cache_new(cc, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_cache_config_free(cc);
    return c;
}

typedef struct conn {
    alchdb_router *router;
    alchdb_client *client;
} conn;

static conn mk_conn(const cfg *k, alchdb_cache *cache)
{
    conn x = {0};
    alchdb_pool_config *pc;
    alchdb_pool_config_new(&pc);
    alchdb_pool_config_set_from_string(pc, "max_open_conns", "8");
    alchdb_pool_config_set_from_string(pc, "max_idle_conns", "8");
    if (k->routed) {
        alchdb_router_config *rc;
        alchdb_router_config_new(&rc);
        alchdb_router_config_set_from_string(rc, "probe_interval", "50ms");
        /* No causal reads: a read the cache does not answer may see a
         * lagging replica, which is replication lag, not the cache's doing.
         * Only answers from the cache are checked in this configuration. */
        ck_assert_msg(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), pc, rc, &x.router) == 0, "%s",
                      alchdb_last_error_message());
        ck_assert_int_eq(alchdb_router_add_replica(x.router, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
        ck_assert_int_eq(alchdb_router_start(x.router), 0);
        alchdb_router_config_free(rc);
        ck_assert_int_eq(alchdb_client_new_routed(x.router, &x.client), 0);
    } else {
        ck_assert_msg(alchdb_client_open(test_env("ALCHDB_TEST_PRIMARY"), pc, &x.client) == 0, "%s",
                      alchdb_last_error_message());
    }
    alchdb_pool_config_free(pc);
    ck_assert_int_eq(alchdb_client_set_cache(x.client, cache, NULL), 0);
    return x;
}

static void conn_free(conn *x)
{
    alchdb_client_free(x->client);
    alchdb_router_free(x->router);
}

static void publish(int id, int64_t v)
{
    int64_t cur = atomic_load(&sh->committed[id]);
    while (v > cur && !atomic_compare_exchange_weak(&sh->committed[id], &cur, v))
        ;
}

/* Publish every (id, v) row of a RETURNING result. */
static void publish_rows(alchdb_result *r)
{
    for (int64_t i = 0; i < alchdb_result_nrows(r); i++)
        publish(atoi(alchdb_result_value(r, i, 0)), atoll(alchdb_result_value(r, i, 1)));
}

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

typedef struct worker {
    alchdb_client *c;
    uint64_t seed;
    int errors;
    bool hits_only; /* routed: only answers served from the cache are checked */
} worker;

/* Whether r came from the cache (a hit is built without a server). */
static bool from_cache(const alchdb_result *r)
{
    return r->cmd_tag[0] != '\0';
}

static void *writer_main(void *arg)
{
    worker *w = arg;
    char a[16], b[16];
    while (!atomic_load(&sh->stop)) {
        uint64_t x = rnd(&w->seed);
        alchdb_result *r = NULL;
        int rc;
        snprintf(a, sizeof a, "%d", (int)(x % NROWS) + 1);
        if (x % 10 < 6) { /* by primary key */
            const char *p[] = {a};
            rc = alchdb_client_exec(w->c, "UPDATE ct_stale SET v = v + 1 WHERE id = $1 RETURNING id, v", 1, p, &r);
            if (rc == 0)
                publish_rows(r);
        } else if (x % 10 < 8) { /* a whole group */
            snprintf(a, sizeof a, "%d", (int)(x % NGROUPS));
            const char *p[] = {a};
            rc = alchdb_client_exec(w->c, "UPDATE ct_stale SET v = v + 1 WHERE grp = $1 RETURNING id, v", 1, p, &r);
            if (rc == 0)
                publish_rows(r);
        } else { /* two rows in one transaction, published after the commit */
            snprintf(b, sizeof b, "%d", (int)((x >> 20) % NROWS) + 1);
            alchdb_txn *t;
            alchdb_result *r2 = NULL;
            rc = alchdb_client_begin(w->c, 0, &t);
            if (rc == 0) {
                const char *p1[] = {a}, *p2[] = {b};
                rc = alchdb_txn_exec(t, "UPDATE ct_stale SET v = v + 1 WHERE id = $1 RETURNING id, v", 1, p1, &r);
                if (rc == 0)
                    rc = alchdb_txn_exec(t, "UPDATE ct_stale SET v = v + 1 WHERE id = $1 RETURNING id, v", 1, p2, &r2);
                if (rc == 0)
                    rc = alchdb_txn_commit(t);
                if (rc == 0) {
                    publish_rows(r);
                    publish_rows(r2);
                }
                alchdb_txn_free(t);
            }
            alchdb_result_free(r2);
        }
        alchdb_result_free(r);
        if (rc == 0) /* failures (deadlocks between writers) publish nothing */
            atomic_fetch_add(&sh->writes, 1);
        usleep(2000); /* writes are the minority; reads hammer */
    }
    return NULL;
}

static void report_stale(const char *what, int64_t got, int64_t floor)
{
    atomic_fetch_add(&sh->stale, 1);
    snprintf(sh->last_stale, sizeof sh->last_stale,
             "%s: read %lld, but %lld had committed before the read began (pid %d, %.3f s into the run)", what,
             (long long)got, (long long)floor, (int)getpid(), (double)(alchdb__now_ns() - sh->t0) / 1e9);
    fprintf(stderr, "STALE %s\n", sh->last_stale);
}

static void *reader_main(void *arg)
{
    worker *w = arg;
    char a[16];
    while (!atomic_load(&sh->stop)) {
        uint64_t x = rnd(&w->seed);
        alchdb_result *r = NULL;
        int64_t t0 = alchdb__now_ns();
        if (x % 4) {
            /* Hot rows more often, so the cache has something to serve. */
            int id = (int)((x >> 8) % (x % 3 ? 8 : NROWS)) + 1;
            snprintf(a, sizeof a, "%d", id);
            const char *p[] = {a};
            int64_t floor = atomic_load(&sh->committed[id]);
            if (alchdb_client_exec(w->c, "SELECT v FROM ct_stale WHERE id = $1", 1, p, &r) != 0) {
                w->errors++;
            } else {
                int64_t v = atoll(alchdb_result_value(r, 0, 0));
                if (v < floor && (!w->hits_only || from_cache(r)))
                    report_stale("row", v, floor);
            }
        } else {
            int g = (int)((x >> 8) % NGROUPS);
            snprintf(a, sizeof a, "%d", g);
            const char *p[] = {a};
            int64_t floor = 0;
            for (int id = 1; id <= NROWS; id++)
                if (id % NGROUPS == g)
                    floor += atomic_load(&sh->committed[id]);
            if (alchdb_client_exec(w->c, "SELECT sum(v) FROM ct_stale WHERE grp = $1", 1, p, &r) != 0) {
                w->errors++;
            } else {
                int64_t v = atoll(alchdb_result_value(r, 0, 0));
                if (v < floor && (!w->hits_only || from_cache(r)))
                    report_stale("group sum", v, floor);
            }
        }
        alchdb_result_free(r);
        if (alchdb__now_ns() - t0 > 2000000000LL)
            atomic_fetch_add(&sh->slow_reads, 1);
        atomic_fetch_add(&sh->reads, 1);
    }
    return NULL;
}

/* Readers in a second process with their own cache object on the same Redis. */
static void child_readers(const cfg *parent, const char *prefix)
{
    /* Not routed even when the parent is: without the parent's write
     * positions, uncached reads on a lagging replica would be stale for
     * reasons that have nothing to do with the cache. */
    cfg k0 = *parent;
    k0.routed = false;
    const cfg *k = &k0;
    alchdb_cache *cache = mk_cache(k, prefix);
    conn x = mk_conn(k, cache);
    pthread_t th[2];
    worker w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = (worker){x.client, 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 11), 0, false};
        pthread_create(&th[i], NULL, reader_main, &w[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    conn_free(&x);
    alchdb_cache_free(cache);
    _exit(0);
}

static void run_config(const cfg *k)
{
    PGconn *pg = pgtest_connect();
    char sql[256];
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS ct_stale; CREATE TABLE ct_stale (id int PRIMARY KEY, v bigint NOT NULL, grp int);"
             "INSERT INTO ct_stale SELECT g, 0, g %% %d FROM generate_series(1, %d) g",
             NGROUPS, NROWS);
    pgtest_exec(pg, sql);
    if (k->routed) /* the replica must have the table before readers start */
        pgtest_exec(pg, "SELECT pg_sleep(0.3)");
    PQfinish(pg);
    memset(sh, 0, sizeof *sh);
    sh->t0 = alchdb__now_ns();
    char prefix[64];
    snprintf(prefix, sizeof prefix, "cts%d_%s", (int)getpid(), k->name);
    pid_t child = -1;
    if (k->second_process) { /* before this process starts threads (pool, prober) */
        child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0)
            child_readers(k, prefix);
    }
    alchdb_cache *cache = mk_cache(k, prefix);
    conn x = mk_conn(k, cache);
    enum { NW = 2, NR = 3 };
    pthread_t th[NW + NR];
    worker w[NW + NR];
    for (int i = 0; i < NW + NR; i++) {
        w[i] = (worker){x.client, 0x2545F4914F6CDD1DULL * (uint64_t)(i + 1), 0, k->routed};
        pthread_create(&th[i], NULL, i < NW ? writer_main : reader_main, &w[i]);
    }
    double secs = seconds();
    if (k->chaos) {
        usleep((useconds_t)(secs * 0.2e6));
        fprintf(stderr, "chaos: pause at %.3f s\n", (double)(alchdb__now_ns() - sh->t0) / 1e9);
        redistest_ctl("pause");
        usleep(600000);
        redistest_ctl("resume");
        fprintf(stderr, "chaos: resumed at %.3f s\n", (double)(alchdb__now_ns() - sh->t0) / 1e9);
        usleep((useconds_t)(secs * 0.2e6));
        redistest_ctl("kill");
        fprintf(stderr, "chaos: killed at %.3f s\n", (double)(alchdb__now_ns() - sh->t0) / 1e9);
        usleep(400000);
        redistest_ctl("start");
        fprintf(stderr, "chaos: started at %.3f s\n", (double)(alchdb__now_ns() - sh->t0) / 1e9);
        usleep((useconds_t)(secs * 0.3e6));
        redistest_ctl("restart");
        fprintf(stderr, "chaos: restarted at %.3f s\n", (double)(alchdb__now_ns() - sh->t0) / 1e9);
        usleep((useconds_t)(secs * 0.3e6));
    } else {
        usleep((useconds_t)(secs * 1e6));
    }
    atomic_store(&sh->stop, 1);
    int errors = 0;
    for (int i = 0; i < NW + NR; i++) {
        pthread_join(th[i], NULL);
        errors += w[i].errors;
    }
    if (child > 0) {
        int st;
        ck_assert_int_eq(waitpid(child, &st, 0), child);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reader process failed");
    }
    alchdb_cache_metrics m;
    alchdb_cache_get_metrics(cache, &m, sizeof m);
    fprintf(stderr,
            "stale-check %-14s reads %lld writes %lld | hits %lld misses %lld fills %lld (from replica %lld) rejected %lld "
            "bypasses %lld backend_errors %lld | STALE %lld, errors %d, reads over 2 s %lld\n",
            k->name, (long long)atomic_load(&sh->reads), (long long)atomic_load(&sh->writes), (long long)m.hits,
            (long long)m.misses, (long long)m.fills, (long long)m.fills_from_replica, (long long)m.fills_rejected, (long long)m.bypasses,
            (long long)m.backend_errors, (long long)atomic_load(&sh->stale), errors,
            (long long)atomic_load(&sh->slow_reads));
    ck_assert_msg(atomic_load(&sh->stale) == 0, "%s: %lld stale reads; last: %s", k->name,
                  (long long)atomic_load(&sh->stale), sh->last_stale);
    ck_assert_int_eq(atomic_load(&sh->slow_reads), 0);
    ck_assert_int_gt(atomic_load(&sh->writes), 20);
    ck_assert_int_gt(m.hits, 50); /* the check exercised the cache, not just the database */
    if (!k->chaos)
        ck_assert_int_eq(errors, 0);
    if (k->routed) /* the configuration is about misses the replica answered */
        ck_assert_int_gt(m.fills_from_replica, 0);
    conn_free(&x);
    alchdb_cache_free(cache);
}

static const cfg CONFIGS[] = {
    {"memory", "memory", false, false, false},
    {"redis-2proc", "redis", false, true, false},
    {"redis-replica", "redis", true, true, false},
    {"redis-chaos", "redis", false, true, true},
};

START_TEST(test_no_stale_reads)
{
    run_config(&CONFIGS[_i]);
}
END_TEST

int main(void)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    Suite *s = suite_create("cache-stale");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_no_stale_reads, 0, (int)(sizeof CONFIGS / sizeof CONFIGS[0]));
    suite_add_tcase(s, tc);
    return run_suite(s);
}
