/* Soak: mixed load through the full client (router over the primary and a
 * streaming replica, the Redis cache, the monitor) for a long time, sampling
 * the process's resident memory and open file descriptors, and reporting
 * their slope. It is not part of the test command at full length (30 minutes:
 * see docs/reliability.md); the test command runs it for a few seconds so
 * that the program and its documented form keep working.
 *
 *   tests/services/rig.sh run -- build/tests/soak/soak --seconds 1800
 *
 * Options: --seconds N (1800), --threads N (16), --interval N (10 s between
 * samples). Servers from ALCHDB_TEST_PRIMARY, ALCHDB_TEST_REPLICA and
 * ALCHDB_TEST_REDIS (host:port), as tests/services/rig.sh sets them.
 *
 * Load per thread: 80 % reads of one row by key (cacheable, routed), 15 %
 * single-row updates, 5 % two-row transactions; every read checks that the
 * row is at least as new as the value this thread last committed to it (a
 * stale read counts as an error).
 *
 * Exit status: 0 when no operation failed, no read was stale and the open
 * descriptors after the warm-up (the first quarter) did not grow by more than
 * 8; 1 otherwise; 2 on a usage error. The memory slope (KiB per minute, a
 * least-squares fit over the samples after the warm-up) is reported, and
 * judged only on runs of at least 10 minutes: more than 256 KiB/min fails.
 * The live heap (mallinfo2: bytes handed out and not freed) is sampled and
 * reported beside it, to tell a growing heap from the allocator's reserve. */
#include <dirent.h>
#include <libpq-fe.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#define NROWS 1000
#define MAX_THREADS 256
#define MAX_SAMPLES 4096

static struct {
    alchdb_client *client;
    char table[64];
    _Atomic int stop;
    _Atomic long long reads, writes, txns, errors, stale;
    char last_error[512];
    pthread_mutex_t lock;
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void note_error(const char *what, const char *msg)
{
    atomic_fetch_add(&g.errors, 1);
    pthread_mutex_lock(&g.lock);
    snprintf(g.last_error, sizeof g.last_error, "%s: %s", what, msg ? msg : "(no message)");
    pthread_mutex_unlock(&g.lock);
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, res = 0;
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

/* The bytes the allocator has handed out and not got back (all arenas, mmapped
 * chunks included): live heap, apart from what the allocator keeps for reuse,
 * which RSS also counts. */
static long heap_kib(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long)((mi.uordblks + mi.hblkhd) / 1024);
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

/* xorshift: each thread its own sequence, no shared state. */
static unsigned next_rand(unsigned *s)
{
    unsigned x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

struct worker {
    pthread_t tid;
    unsigned seed;
    long long mine[NROWS + 1]; /* the value this thread last committed per row, 0 = none */
};

static void *work(void *arg)
{
    struct worker *w = arg;
    char sql_read[160], sql_write[160];
    snprintf(sql_read, sizeof sql_read, "SELECT v FROM %s WHERE id = $1", g.table);
    snprintf(sql_write, sizeof sql_write, "UPDATE %s SET v = v + 1 WHERE id = $1 RETURNING v", g.table);
    while (!atomic_load(&g.stop)) {
        unsigned r = next_rand(&w->seed);
        int id = 1 + (int)(r % NROWS), kind = (int)((r >> 16) % 100);
        char idtxt[16];
        snprintf(idtxt, sizeof idtxt, "%d", id);
        const char *params[1] = {idtxt};
        alchdb_result *res = NULL;
        if (kind < 80) {
            int rc = alchdb_client_exec(g.client, sql_read, 1, params, &res);
            if (rc != 0 || alchdb_result_nrows(res) != 1) {
                note_error("read", alchdb_last_error_message());
            } else {
                long long v = atoll(alchdb_result_value(res, 0, 0));
                if (v < w->mine[id]) {
                    atomic_fetch_add(&g.stale, 1);
                    note_error("stale read", sql_read);
                }
                atomic_fetch_add(&g.reads, 1);
            }
        } else if (kind < 95) {
            if (alchdb_client_exec(g.client, sql_write, 1, params, &res) != 0 || alchdb_result_nrows(res) != 1) {
                note_error("update", alchdb_last_error_message());
            } else {
                w->mine[id] = atoll(alchdb_result_value(res, 0, 0));
                atomic_fetch_add(&g.writes, 1);
            }
        } else {
            int id2 = 1 + (int)(next_rand(&w->seed) % NROWS);
            char idtxt2[16];
            snprintf(idtxt2, sizeof idtxt2, "%d", id2);
            const char *params2[1] = {idtxt2};
            alchdb_txn *t = NULL;
            alchdb_result *r1 = NULL, *r2 = NULL;
            int ok = alchdb_client_begin(g.client, 0, &t) == 0 &&
                     alchdb_txn_exec(t, sql_write, 1, params, &r1) == 0 &&
                     alchdb_txn_exec(t, sql_write, 1, params2, &r2) == 0 && alchdb_txn_commit(t) == 0;
            if (!ok) {
                note_error("transaction", alchdb_last_error_message());
                if (t)
                    alchdb_txn_rollback(t);
            } else {
                /* Both rows may be the same: the second value is the newer one. */
                w->mine[id] = atoll(alchdb_result_value(r1, 0, 0));
                long long v2 = atoll(alchdb_result_value(r2, 0, 0));
                if (v2 > w->mine[id2])
                    w->mine[id2] = v2;
                atomic_fetch_add(&g.txns, 1);
            }
            alchdb_result_free(r1);
            alchdb_result_free(r2);
            alchdb_txn_free(t);
        }
        alchdb_result_free(res);
    }
    return NULL;
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static int setup_table(const char *primary)
{
    PGconn *c = PQconnectdb(primary);
    PQsetNoticeProcessor(c, quiet, NULL);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "soak: cannot connect to the primary: %s", PQerrorMessage(c));
        PQfinish(c);
        return -1;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "DROP TABLE IF EXISTS %s; CREATE TABLE %s (id int PRIMARY KEY, v bigint NOT NULL); "
             "INSERT INTO %s SELECT g, 0 FROM generate_series(1, %d) g",
             g.table, g.table, g.table, NROWS);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "soak: setup failed: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static void drop_table(const char *primary)
{
    PGconn *c = PQconnectdb(primary);
    if (PQstatus(c) == CONNECTION_OK) {
        char sql[160];
        snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", g.table);
        PQclear(PQexec(c, sql));
    }
    PQfinish(c);
}

/* Least-squares slope of y over x. */
static double slope(const double *x, const double *y, int n)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
    }
    double d = n * sxx - sx * sx;
    return n < 2 || d == 0 ? 0 : (n * sxy - sx * sy) / d;
}

static int usage(void)
{
    fprintf(stderr, "usage: soak [--seconds N] [--threads N] [--interval N]\n");
    return 2;
}

int main(int argc, char **argv)
{
    long seconds = 1800, threads = 16, interval = 10;
    for (int i = 1; i < argc; i++) {
        long *dst = !strcmp(argv[i], "--seconds")    ? &seconds
                    : !strcmp(argv[i], "--threads")  ? &threads
                    : !strcmp(argv[i], "--interval") ? &interval
                                                     : NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: soak [--seconds N] [--threads N] [--interval N]\n"
                   "Mixed load through the routed, cached, monitored client; samples RSS and open\n"
                   "descriptors every interval and reports their slope. Needs ALCHDB_TEST_PRIMARY,\n"
                   "ALCHDB_TEST_REPLICA and ALCHDB_TEST_REDIS (tests/services/rig.sh sets them).\n");
            return 0;
        }
        char *end = NULL;
        if (!dst || i + 1 >= argc || (*dst = strtol(argv[++i], &end, 10)) <= 0 || *end)
            return usage();
    }
    if (threads > MAX_THREADS)
        return usage();
    const char *primary = getenv("ALCHDB_TEST_PRIMARY"), *replica = getenv("ALCHDB_TEST_REPLICA"),
               *redis = getenv("ALCHDB_TEST_REDIS");
    const char *colon = redis ? strrchr(redis, ':') : NULL;
    if (!primary || !replica || !colon) {
        fprintf(stderr, "soak: ALCHDB_TEST_PRIMARY, ALCHDB_TEST_REPLICA and ALCHDB_TEST_REDIS (host:port) "
                        "must be set: run it under tests/services/rig.sh run --\n");
        return 2;
    }
    snprintf(g.table, sizeof g.table, "alchdb_soak_%ld", (long)getpid());
    if (setup_table(primary))
        return 1;

    char host[256], prefix[64];
    snprintf(host, sizeof host, "%.*s", (int)(colon - redis), redis);
    snprintf(prefix, sizeof prefix, "alchdb:soak:%ld", (long)getpid());
    alchdb_router *router = NULL;
    alchdb_cache_config *cc = NULL;
    alchdb_cache *cache = NULL;
    alchdb_monitor *mon = NULL;
    int rc = alchdb_router_new(primary, NULL, NULL, &router);
    if (!rc)
        rc = alchdb_router_add_replica(router, replica, 1);
    if (!rc)
        rc = alchdb_router_start(router);
    if (!rc)
        rc = alchdb_cache_config_new(&cc);
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "backend", "redis");
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "redis_host", host);
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "redis_port", colon + 1);
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "prefix", prefix);
    if (!rc)
        rc = alchdb_cache_new(cc, &cache);
    if (!rc)
        rc = alchdb_monitor_new(NULL, &mon);
    if (!rc)
        rc = alchdb_client_new_routed(router, &g.client);
    if (!rc)
        rc = alchdb_client_set_cache(g.client, cache, NULL);
    if (!rc)
        rc = alchdb_client_set_monitor(g.client, mon);
    alchdb_cache_config_free(cc);
    if (rc) {
        fprintf(stderr, "soak: setup: %s\n", alchdb_last_error_message());
        alchdb_client_free(g.client);
        alchdb_cache_free(cache);
        alchdb_monitor_free(mon);
        alchdb_router_free(router);
        drop_table(primary);
        return 1;
    }

    static struct worker workers[MAX_THREADS];
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024); /* as small as some runtimes give */
    long started = 0;
    for (long i = 0; i < threads; i++) {
        workers[i].seed = 2463534242u + (unsigned)i * 7919u;
        if (pthread_create(&workers[i].tid, &attr, work, &workers[i]) != 0)
            break;
        started++;
    }
    pthread_attr_destroy(&attr);

    static double ts[MAX_SAMPLES], rss[MAX_SAMPLES], heap[MAX_SAMPLES], fds[MAX_SAMPLES];
    int n = 0;
    double t0 = now_s(), end = t0 + (double)seconds;
    printf("soak: %ld threads for %ld s, a sample every %ld s (table %s)\n", started, seconds, interval, g.table);
    printf("%8s %10s %10s %6s %10s %10s %8s %7s %6s\n", "t_s", "rss_kib", "heap_kib", "fds", "reads", "writes",
           "txns", "errors", "stale");
    while (n < MAX_SAMPLES) {
        double now = now_s();
        ts[n] = now - t0;
        rss[n] = (double)rss_kib();
        heap[n] = (double)heap_kib();
        fds[n] = (double)open_fds();
        printf("%8.0f %10.0f %10.0f %6.0f %10lld %10lld %8lld %7lld %6lld\n", ts[n], rss[n], heap[n], fds[n],
               (long long)atomic_load(&g.reads), (long long)atomic_load(&g.writes),
               (long long)atomic_load(&g.txns), (long long)atomic_load(&g.errors),
               (long long)atomic_load(&g.stale));
        fflush(stdout);
        n++;
        if (now >= end)
            break;
        double nap = now + (double)interval > end ? end - now : (double)interval;
        usleep((useconds_t)(nap * 1e6));
    }
    atomic_store(&g.stop, 1);
    for (long i = 0; i < started; i++)
        pthread_join(workers[i].tid, NULL);

    int from = n / 4; /* the warm-up: pools, caches and the monitor fill up */
    double kib_per_min = slope(ts + from, rss + from, n - from) * 60.0;
    double heap_per_min = slope(ts + from, heap + from, n - from) * 60.0;
    double fd_growth = fds[n - 1] - fds[from];
    long long ops = atomic_load(&g.reads) + atomic_load(&g.writes) + atomic_load(&g.txns);
    alchdb_cache_metrics cm = {.size = sizeof cm};
    alchdb_cache_get_metrics(cache, &cm, sizeof cm);
    printf("soak: %lld operations (%.0f/s), %lld errors, %lld stale reads, cache hits %lld of %lld lookups\n",
           ops, (double)ops / (ts[n - 1] > 0 ? ts[n - 1] : 1), (long long)atomic_load(&g.errors),
           (long long)atomic_load(&g.stale), (long long)cm.hits, (long long)(cm.hits + cm.misses));
    printf("soak: RSS %.0f -> %.0f KiB, slope after warm-up %.1f KiB/min; live heap %.0f -> %.0f KiB, "
           "slope %.1f KiB/min; open descriptors %.0f -> %.0f\n",
           rss[from], rss[n - 1], kib_per_min, heap[from], heap[n - 1], heap_per_min, fds[from], fds[n - 1]);
    if (atomic_load(&g.errors))
        printf("soak: last error: %s\n", g.last_error);

    alchdb_client_free(g.client);
    alchdb_cache_free(cache);
    alchdb_monitor_free(mon);
    alchdb_router_free(router);
    drop_table(primary);

    int failed = atomic_load(&g.errors) > 0 || fd_growth > 8 || ops == 0;
    if (seconds >= 600 && kib_per_min > 256.0)
        failed = 1;
    printf("soak: %s\n", failed ? "FAILED" : "passed");
    return failed;
}
