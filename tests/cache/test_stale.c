/* The stale-read checker. Writer threads increment rows (by primary key, by
 * group, and two rows per transaction) through cached clients and publish,
 * after each commit call returned, the value they committed. Reader threads
 * note the published values before each read begins and check that the
 * answer is at least that new: rows only grow, so a smaller value (or a
 * smaller group sum) is a stale read. Every answer is checked, whatever path
 * it took — a hit, a miss, or a bypass of any reason (counted apart, from
 * alchdb__cache_last_statement()) — and whichever server answered it.
 *
 * Configurations: the memory backend in one process; Redis shared by three
 * processes (writers and readers in two, readers only in the third), each
 * with its own cache and its own router over the same primary and replica,
 * without and with routing; and the routed one while Redis is paused
 * (SIGSTOP), killed, restarted empty, restarted from an older snapshot and
 * refuses writes (maxmemory). Every one must end with zero stale reads, no
 * failed read, no read over 2 s (10 s under the sanitizers), and real hits
 * (and, routed, reads answered by the replica). */
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
#include "cache/cache_priv.h"
#include "internal.h"
#include "pgtest.h"
#include "redistest.h"
#include "testutil.h"

#define NROWS 40
#define NGROUPS 4
#define NPATHS 4 /* ALCHDB__CACHE_PATH_* */

typedef struct shared {
    _Atomic int64_t committed[NROWS + 1]; /* highest committed value per id (1-based) */
    _Atomic int stop;
    _Atomic int64_t writes, slow_reads, errors, on_replica, on_primary;
    _Atomic int64_t reads[NPATHS], stale[NPATHS];
    _Atomic int64_t reads_by[ALCHDB__CACHE_NBYPASS], stale_by[ALCHDB__CACHE_NBYPASS];
    _Atomic int64_t hits, misses, fills, fills_from_replica, rejected, backend_errors, marks;
    int64_t t0;
    char last_stale[256], last_error[256];
} shared;

static shared *sh;

typedef struct cfg {
    const char *name;
    const char *backend;
    bool routed;
    int processes; /* 1 or 3 */
    bool faults;
} cfg;

/* How long a read may take: the timeouts of everything it waits for, with
 * generous slack; sanitizers slow every thread of three processes sharing
 * two cores several times over. */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SLOW_READ_NS 10000000000LL
#else
#define SLOW_READ_NS 2000000000LL
#endif

static double seconds(void)
{
    const char *e = getenv("ALCHDB_STALE_SECONDS");
    return e && atof(e) > 0 ? atof(e) : 5.0;
}

static double now_s(void)
{
    return (double)(alchdb__now_ns() - sh->t0) / 1e9;
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
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "write_mark_ttl", "2s"), 0);
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
    alchdb_cache *cache;
} conn;

static conn mk_conn(const cfg *k, const char *prefix)
{
    conn x = {0};
    x.cache = mk_cache(k, prefix);
    alchdb_pool_config *pc;
    alchdb_pool_config_new(&pc);
    alchdb_pool_config_set_from_string(pc, "max_open_conns", "8");
    alchdb_pool_config_set_from_string(pc, "max_idle_conns", "8");
    if (k->routed) {
        alchdb_router_config *rc;
        alchdb_router_config_new(&rc);
        alchdb_router_config_set_from_string(rc, "probe_interval", "50ms");
        /* No causal reads of the router's own: every read the cache does not
         * answer is placed by the cache, which is what is checked. */
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
    ck_assert_int_eq(alchdb_client_set_cache(x.client, x.cache, NULL), 0);
    return x;
}

/* Add this process's cache counters to the shared totals, then free. */
static void conn_done(conn *x)
{
    alchdb_cache_metrics m;
    alchdb_cache_get_metrics(x->cache, &m, sizeof m);
    atomic_fetch_add(&sh->hits, m.hits);
    atomic_fetch_add(&sh->misses, m.misses);
    atomic_fetch_add(&sh->fills, m.fills);
    atomic_fetch_add(&sh->fills_from_replica, m.fills_from_replica);
    atomic_fetch_add(&sh->rejected, m.fills_rejected);
    atomic_fetch_add(&sh->backend_errors, m.backend_errors);
    atomic_fetch_add(&sh->marks, m.write_marks);
    alchdb_client_free(x->client);
    alchdb_router_free(x->router);
    alchdb_cache_free(x->cache);
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
} worker;

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

static void count_read(alchdb__cache_last last, int64_t got, int64_t floor, const char *what)
{
    int path = last.path >= 0 && last.path < NPATHS ? last.path : 0;
    bool bypass = path == ALCHDB__CACHE_PATH_BYPASS && last.reason >= 0 && last.reason < ALCHDB__CACHE_NBYPASS;
    atomic_fetch_add(&sh->reads[path], 1);
    if (bypass)
        atomic_fetch_add(&sh->reads_by[last.reason], 1);
    if (last.host > 0)
        atomic_fetch_add(&sh->on_replica, 1);
    else if (last.host == 0)
        atomic_fetch_add(&sh->on_primary, 1);
    if (got >= floor)
        return;
    atomic_fetch_add(&sh->stale[path], 1);
    if (bypass)
        atomic_fetch_add(&sh->stale_by[last.reason], 1);
    snprintf(sh->last_stale, sizeof sh->last_stale,
             "%s: read %lld, but %lld had committed before the read began (path %d, reason %s, host %d, pid %d, "
             "%.3f s into the run)",
             what, (long long)got, (long long)floor, path, bypass ? alchdb_cache_bypass_name(last.reason) : "-",
             last.host, (int)getpid(), now_s());
    fprintf(stderr, "STALE %s\n", sh->last_stale);
}

static void read_error(const char *sql)
{
    atomic_fetch_add(&sh->errors, 1);
    snprintf(sh->last_error, sizeof sh->last_error, "%s: %s (%.3f s)", sql, alchdb_last_error_message(), now_s());
}

/* One read of the first value of sql in one of the ways a host reads. */
static bool read_one(alchdb_client *c, int how, const char *sql, const char *param, int64_t *v,
                     alchdb__cache_last *last)
{
    const char *p[] = {param};
    alchdb_result *r = NULL;
    int rc;
    if (how == 0) { /* a transaction that only reads */
        alchdb_txn *t;
        rc = alchdb_client_begin(c, ALCHDB_TXN_READ_ONLY, &t);
        if (rc == 0) {
            rc = alchdb_txn_exec(t, sql, 1, p, &r);
            *last = alchdb__cache_last_statement();
            if (rc == 0)
                rc = alchdb_txn_commit(t);
            alchdb_txn_free(t);
        }
    } else if (how == 1) { /* a skipped read */
        alchdb_cache_query q = {ALCHDB_CACHE_QUERY_VERSION, ALCHDB_CACHE_SKIP, 0, NULL, 0};
        rc = alchdb_client_exec_cached(c, sql, 1, p, 0, &q, &r);
        *last = alchdb__cache_last_statement();
    } else {
        rc = alchdb_client_exec(c, sql, 1, p, &r);
        *last = alchdb__cache_last_statement();
    }
    if (rc == 0)
        *v = atoll(alchdb_result_value(r, 0, 0));
    else
        read_error(sql);
    alchdb_result_free(r);
    return rc == 0;
}

static void *reader_main(void *arg)
{
    worker *w = arg;
    char a[16];
    /* Mostly cacheable reads; some that bypass the cache by design. */
    static const char *const ROW[] = {
        "SELECT v FROM ct_stale WHERE id = $1",
        "SELECT v FROM ct_stale WHERE id = $1 AND now() IS NOT NULL", /* volatile, tables known */
        "SELECT v FROM ct_stale WHERE id = $1 AND random() < 2",      /* volatile, may read anything */
    };
    while (!atomic_load(&sh->stop)) {
        uint64_t x = rnd(&w->seed);
        int64_t t0 = alchdb__now_ns(), v = 0;
        alchdb__cache_last last = {0, -1, -1};
        int pick = (int)((x >> 40) % 100);
        int how = pick < 3 ? 0 : pick < 6 ? 1 : 2;
        if (x % 4) {
            /* Hot rows more often, so the cache has something to serve. */
            int id = (int)((x >> 8) % (x % 3 ? 8 : NROWS)) + 1;
            snprintf(a, sizeof a, "%d", id);
            const char *sql = ROW[pick < 90 ? 0 : pick < 95 ? 1 : 2];
            int64_t floor = atomic_load(&sh->committed[id]);
            if (read_one(w->c, how, sql, a, &v, &last))
                count_read(last, v, floor, "row");
        } else {
            int g = (int)((x >> 8) % NGROUPS);
            snprintf(a, sizeof a, "%d", g);
            int64_t floor = 0;
            for (int id = 1; id <= NROWS; id++)
                if (id % NGROUPS == g)
                    floor += atomic_load(&sh->committed[id]);
            if (read_one(w->c, how, "SELECT sum(v) FROM ct_stale WHERE grp = $1", a, &v, &last))
                count_read(last, v, floor, "group sum");
        }
        if (alchdb__now_ns() - t0 > SLOW_READ_NS)
            atomic_fetch_add(&sh->slow_reads, 1);
    }
    return NULL;
}

/* One process's workers on its own cache and router; returns when stopped. */
static void run_workers(const cfg *k, const char *prefix, int nwriters, int nreaders, uint64_t seed)
{
    conn x = mk_conn(k, prefix);
    enum { MAXW = 8 };
    pthread_t th[MAXW];
    worker w[MAXW];
    int n = nwriters + nreaders;
    for (int i = 0; i < n; i++) {
        w[i] = (worker){x.client, seed * (uint64_t)(i + 1) | 1};
        pthread_create(&th[i], NULL, i < nwriters ? writer_main : reader_main, &w[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    conn_done(&x);
}

static void fault(const char *what)
{
    fprintf(stderr, "fault: %s at %.3f s\n", what, now_s());
}

/* Redis paused, killed, restarted empty, restarted from a snapshot taken
 * before writes that then happened, and over maxmemory: in slices of secs. */
static void faults(double secs)
{
    useconds_t slice = (useconds_t)(secs * 0.12e6);
    usleep(slice);
    fault("pause (SIGSTOP)");
    redistest_ctl("pause");
    usleep(600000);
    redistest_ctl("resume");
    usleep(slice);
    fault("kill (SIGKILL), down 400 ms");
    redistest_ctl("kill");
    usleep(400000);
    redistest_ctl("start");
    usleep(slice);
    fault("restart without persistence");
    redistest_ctl("restart");
    usleep(slice);
    fault("snapshot");
    redistest_ctl("save");
    usleep(slice);
    fault("kill, then start from the snapshot");
    redistest_ctl("kill");
    redistest_ctl("start");
    redistest_ctl("forget");
    usleep(slice);
    fault("maxmemory (noeviction) for 600 ms");
    redistest_cli("CONFIG SET maxmemory-policy noeviction");
    redistest_cli("CONFIG SET maxmemory 1");
    usleep(600000);
    redistest_cli("CONFIG SET maxmemory 0");
    fault("all restored");
    usleep(slice);
}

typedef struct here_args {
    const cfg *k;
    const char *prefix;
} here_args;

static void *here_main(void *arg)
{
    here_args *h = arg;
    run_workers(h->k, h->prefix, 2, 3, 0x2545F4914F6CDD1DULL);
    return NULL;
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
    /* Other processes first, before this one starts threads (pools, probers). */
    pid_t kids[2] = {-1, -1};
    for (int i = 1; i < k->processes; i++) {
        kids[i - 1] = fork();
        ck_assert_int_ge(kids[i - 1], 0);
        if (kids[i - 1] == 0) {
            if (i == 1)
                run_workers(k, prefix, 1, 2, 0x9e3779b97f4a7c15ULL); /* writes and reads */
            else
                run_workers(k, prefix, 0, 3, 0xbf58476d1ce4e5b9ULL); /* only reads */
            _exit(0);
        }
    }
    /* This process: two writers and three readers, on a thread of their own
     * so that this one can inject the faults. */
    here_args ha = {k, prefix};
    pthread_t here;
    pthread_create(&here, NULL, here_main, &ha);
    double secs = seconds();
    if (k->faults)
        faults(secs);
    else
        usleep((useconds_t)(secs * 1e6));
    atomic_store(&sh->stop, 1);
    pthread_join(here, NULL);
    for (int i = 0; i < 2; i++) {
        if (kids[i] <= 0)
            continue;
        int st;
        ck_assert_int_eq(waitpid(kids[i], &st, 0), kids[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker process %d failed", i + 1);
    }
    int64_t reads = 0, stale = 0;
    for (int p = 0; p < NPATHS; p++) {
        reads += atomic_load(&sh->reads[p]);
        stale += atomic_load(&sh->stale[p]);
    }
    fprintf(stderr,
            "stale-check %-13s %d process(es): reads %lld (hit %lld, miss %lld, bypass %lld; on the replica %lld, "
            "the primary %lld), writes %lld | cache hits %lld misses %lld fills %lld (from the replica %lld) "
            "rejected %lld marks %lld backend_errors %lld | STALE %lld (hit %lld, miss %lld, bypass %lld), "
            "failed reads %lld, slow reads %lld\n",
            k->name, k->processes, (long long)reads, (long long)sh->reads[ALCHDB__CACHE_PATH_HIT],
            (long long)sh->reads[ALCHDB__CACHE_PATH_MISS], (long long)sh->reads[ALCHDB__CACHE_PATH_BYPASS],
            (long long)sh->on_replica, (long long)sh->on_primary, (long long)sh->writes, (long long)sh->hits,
            (long long)sh->misses, (long long)sh->fills, (long long)sh->fills_from_replica, (long long)sh->rejected,
            (long long)sh->marks, (long long)sh->backend_errors, (long long)stale,
            (long long)sh->stale[ALCHDB__CACHE_PATH_HIT], (long long)sh->stale[ALCHDB__CACHE_PATH_MISS],
            (long long)sh->stale[ALCHDB__CACHE_PATH_BYPASS], (long long)sh->errors, (long long)sh->slow_reads);
    fprintf(stderr, "stale-check %-13s bypasses:", k->name);
    for (int r = 0; r < ALCHDB__CACHE_NBYPASS; r++)
        if (sh->reads_by[r])
            fprintf(stderr, " %s %lld (stale %lld)", alchdb_cache_bypass_name(r), (long long)sh->reads_by[r],
                    (long long)sh->stale_by[r]);
    fprintf(stderr, "\n");
    ck_assert_msg(stale == 0, "%s: %lld stale reads; last: %s", k->name, (long long)stale, sh->last_stale);
    ck_assert_msg(sh->errors == 0, "%s: %lld failed reads; last: %s", k->name, (long long)sh->errors,
                  sh->last_error);
    ck_assert_int_eq(atomic_load(&sh->slow_reads), 0);
    ck_assert_int_gt(atomic_load(&sh->writes), 20);
    ck_assert_int_gt(sh->reads[ALCHDB__CACHE_PATH_HIT], 50); /* the check exercised the cache */
    ck_assert_int_gt(sh->reads[ALCHDB__CACHE_PATH_MISS], 0);
    ck_assert_int_gt(sh->reads_by[ALCHDB_CACHE_BYPASS_SKIP_FLAG], 0);
    ck_assert_int_gt(sh->reads_by[ALCHDB_CACHE_BYPASS_IN_TRANSACTION], 0);
    if (k->routed) { /* the replica answered reads, misses among them */
        ck_assert_int_gt(sh->on_replica, 0);
        ck_assert_int_gt(sh->fills_from_replica, 0);
    }
    if (k->faults)
        ck_assert_int_gt(sh->reads_by[ALCHDB_CACHE_BYPASS_BACKEND], 0);
}

static const cfg CONFIGS[] = {
    {"memory", "memory", true, 1, false},
    {"redis-3proc", "redis", false, 3, false},
    {"redis-routed", "redis", true, 3, false},
    {"redis-faults", "redis", true, 3, true},
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
    int rc = run_suite(s);
    /* Whatever failed, leave Redis as the rig started it. */
    redistest_ctl_status("resume");
    redistest_ctl_status("forget");
    redistest_ctl_status("start");
    if (getenv("ALCHDB_TEST_REDIS_PORT")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "redis-cli -p %s CONFIG SET maxmemory 0 >/dev/null", getenv("ALCHDB_TEST_REDIS_PORT"));
        if (system(cmd) != 0)
            fprintf(stderr, "test_stale: could not reset maxmemory\n");
    }
    return rc;
}
