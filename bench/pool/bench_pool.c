/* bench_pool: the pool and client side by side with raw libpq, PgBouncer and
 * connection-per-request, on the same primary-key SELECT of a pgbench table.
 * Driven by bench/pool/run.sh (which starts the servers); see bench/README.md.
 *
 *   bench_pool --direct CONNINFO [--bouncer CONNINFO] [--threads 8] [--quick]
 *              [--json FILE] [--only tp,unc,closed,refs,open] [--modes abcd]
 *              [--rounds N] [--closed-secs S]
 *
 * --only runs some parts and --modes some of the rounds (a)-(d) (for
 * profiling one of them, e.g. under perf): "refs"
 * are the closed loop's two raw-libpq references ("raw", "naive": one of them). The closed loop also
 * reports context switches per request (getrusage).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "internal.h"
#include "core/hist.h"

#define QUERY "SELECT abalance FROM pgbench_accounts WHERE aid = $1"
#define NACCOUNTS 1000000 /* pgbench -s 10 */

enum { M_RAW, M_CLIENT, M_BOUNCER, M_NEWCONN, NMODES };
static const char *MODE_NAME[NMODES] = {"a_raw_libpq_prepared", "b_alchdb_client_prepared",
                                        "c_pgbouncer_txn", "d_new_conn_per_request"};

static const char *g_direct, *g_bouncer;
static atomic_bool g_stop;
static alchdb_client *g_client;

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_pool: %s: %s\n", what, detail ? detail : "");
    exit(2);
}

static uint64_t xs(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static PGconn *connect_or_die(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", PQerrorMessage(c));
    return c;
}

/* ---- throughput rounds at N threads ------------------------------------ */

typedef struct worker {
    int mode;
    pthread_t th;
    pthread_barrier_t *bar;
    long count;
    long errors;
    uint64_t rng;
} worker;

static void *tp_worker(void *arg)
{
    worker *w = arg;
    PGconn *pg = NULL;
    char aid[16];
    const char *params[] = {aid};
    if (w->mode == M_RAW) {
        pg = connect_or_die(g_direct);
        PGresult *r = PQprepare(pg, "s", QUERY, 1, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("prepare", PQerrorMessage(pg));
        PQclear(r);
    } else if (w->mode == M_BOUNCER) {
        pg = connect_or_die(g_bouncer);
    } else if (w->mode == M_CLIENT) {
        for (int i = 0; i < 20; i++) { /* warm: prepare on the pooled connections */
            snprintf(aid, sizeof aid, "%d", (int)(xs(&w->rng) % NACCOUNTS) + 1);
            alchdb_client_exec(g_client, QUERY, 1, params, NULL);
        }
    }
    pthread_barrier_wait(w->bar);
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        snprintf(aid, sizeof aid, "%d", (int)(xs(&w->rng) % NACCOUNTS) + 1);
        bool ok;
        if (w->mode == M_RAW) {
            PGresult *r = PQexecPrepared(pg, "s", 1, params, NULL, NULL, 0);
            ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
            PQclear(r);
        } else if (w->mode == M_CLIENT) {
            alchdb_result *r = NULL;
            ok = alchdb_client_exec(g_client, QUERY, 1, params, &r) == 0 &&
                 alchdb_result_nrows(r) == 1;
            alchdb_result_free(r);
        } else if (w->mode == M_BOUNCER) {
            PGresult *r = PQexecParams(pg, QUERY, 1, NULL, params, NULL, NULL, 0);
            ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
            PQclear(r);
        } else {
            PGconn *c = PQconnectdb(g_direct);
            PGresult *r = PQexecParams(c, QUERY, 1, NULL, params, NULL, NULL, 0);
            ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
            PQclear(r);
            PQfinish(c);
        }
        if (ok)
            w->count++;
        else
            w->errors++;
    }
    if (pg)
        PQfinish(pg);
    return NULL;
}

static double rusage_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 + (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* Throughput of one round; *cpu_us gets the bench process's CPU time (user +
 * system, all threads) per request: the client side's cost of a query, a
 * figure the servers' share of the 2 cores does not blur as much as tps. */
static double tp_round(int mode, int nthreads, double seconds, long *errors, double *cpu_us)
{
    worker *w = calloc((size_t)nthreads, sizeof *w);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
    atomic_store(&g_stop, false);
    for (int i = 0; i < nthreads; i++) {
        w[i].mode = mode;
        w[i].bar = &bar;
        w[i].rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) + (uint64_t)alchdb__now_ns();
        pthread_create(&w[i].th, NULL, tp_worker, &w[i]);
    }
    pthread_barrier_wait(&bar);
    double c0 = rusage_cpu_us();
    int64_t t0 = alchdb__now_ns();
    usleep((useconds_t)(seconds * 1e6));
    atomic_store(&g_stop, true);
    int64_t t1 = alchdb__now_ns();
    long total = 0;
    for (int i = 0; i < nthreads; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].count;
        *errors += w[i].errors;
    }
    *cpu_us = (rusage_cpu_us() - c0) / (double)(total > 0 ? total : 1);
    pthread_barrier_destroy(&bar);
    free(w);
    return (double)total / ((double)(t1 - t0) / 1e9);
}

/* ---- uncontended acquire + release --------------------------------------- */

static double uncontended_ns(alchdb_pool *pool, int batches, int per_batch)
{
    double *avg = malloc(sizeof(double) * (size_t)batches);
    alchdb_conn *c;
    for (int b = 0; b < batches; b++) {
        int64_t t0 = alchdb__now_ns();
        for (int i = 0; i < per_batch; i++) {
            if (alchdb_pool_acquire(pool, -1, "bench", &c) != 0)
                die("acquire", alchdb_last_error_message());
            alchdb_pool_release(pool, c);
        }
        avg[b] = (double)(alchdb__now_ns() - t0) / per_batch;
    }
    double m = median(avg, batches);
    free(avg);
    return m;
}

/* ---- 1000 users: closed and open loop --------------------------------------- */

typedef struct user {
    pthread_t th;
    uint64_t rng;
    long count, errors;
} user;

static alchdb__hist *g_lat;
static pthread_barrier_t g_ubar;
static int64_t g_open_start, g_open_end;
static double g_mean_gap_ns;

/* What the closed loop's users go through: the alchdb client, or one of two
 * references built from raw libpq in this file, so the pool's own cost can
 * be told apart from what the thread-per-request model costs on its own:
 *  - RAW: every user thread owns a prepared connection (as many users as
 *    connections; nothing is shared, nothing waits: the ceiling of blocking
 *    libpq threads on this machine);
 *  - NAIVE: the users share the connections through the textbook pool, a
 *    mutex, a condition variable and a stack, signalled under the lock. */
enum { CL_CLIENT, CL_RAW, CL_NAIVE };
static int g_kind = CL_CLIENT;

typedef struct naive_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    PGconn **free;
    int nfree;
} naive_pool;
static naive_pool g_naive;

static PGconn *connect_prepared(void)
{
    PGconn *pg = connect_or_die(g_direct);
    PGresult *r = PQprepare(pg, "s", QUERY, 1, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("prepare", PQerrorMessage(pg));
    PQclear(r);
    return pg;
}

static bool raw_query(PGconn *pg, const char *const *params)
{
    PGresult *r = PQexecPrepared(pg, "s", 1, params, NULL, NULL, 0);
    bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
    PQclear(r);
    return ok;
}

static bool one_query(uint64_t *rng, PGconn *own)
{
    char aid[16];
    const char *params[] = {aid};
    snprintf(aid, sizeof aid, "%d", (int)(xs(rng) % NACCOUNTS) + 1);
    if (g_kind == CL_RAW)
        return raw_query(own, params);
    if (g_kind == CL_NAIVE) {
        pthread_mutex_lock(&g_naive.mu);
        while (g_naive.nfree == 0)
            pthread_cond_wait(&g_naive.cv, &g_naive.mu);
        PGconn *pg = g_naive.free[--g_naive.nfree];
        pthread_mutex_unlock(&g_naive.mu);
        bool ok = raw_query(pg, params);
        pthread_mutex_lock(&g_naive.mu);
        g_naive.free[g_naive.nfree++] = pg;
        pthread_cond_signal(&g_naive.cv);
        pthread_mutex_unlock(&g_naive.mu);
        return ok;
    }
    alchdb_result *r = NULL;
    bool ok = alchdb_client_exec(g_client, QUERY, 1, params, &r) == 0 && alchdb_result_nrows(r) == 1;
    alchdb_result_free(r);
    return ok;
}

static void *closed_user(void *arg)
{
    user *u = arg;
    PGconn *own = g_kind == CL_RAW ? connect_prepared() : NULL;
    pthread_barrier_wait(&g_ubar);
    while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
        int64_t t0 = alchdb__now_ns();
        bool ok = one_query(&u->rng, own);
        alchdb__hist_record(g_lat, alchdb__now_ns() - t0);
        if (ok)
            u->count++;
        else
            u->errors++;
    }
    if (own)
        PQfinish(own);
    return NULL;
}

static void *open_user(void *arg)
{
    user *u = arg;
    pthread_barrier_wait(&g_ubar);
    int64_t next = g_open_start;
    for (;;) {
        double r = ((double)(xs(&u->rng) >> 11) + 1.0) / 9007199254740993.0;
        next += (int64_t)(-log(r) * g_mean_gap_ns); /* Poisson arrivals */
        if (next >= g_open_end)
            break;
        struct timespec ts = {.tv_sec = next / 1000000000, .tv_nsec = next % 1000000000};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0)
            ;
        bool ok = one_query(&u->rng, NULL);
        /* latency from the intended send time: queueing is not hidden */
        alchdb__hist_record(g_lat, alchdb__now_ns() - next);
        if (ok)
            u->count++;
        else
            u->errors++;
    }
    return NULL;
}

typedef struct loop_result {
    double tps, p50_ms, p95_ms, p99_ms;
    long errors;
    double vcsw_per_req, ivcsw_per_req; /* voluntary / involuntary context switches per request */
} loop_result;

static loop_result users_run(bool open_loop, int nusers, double seconds)
{
    user *u = calloc((size_t)nusers, sizeof *u);
    g_lat = alchdb__hist_new(INT64_C(60000000000));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_barrier_init(&g_ubar, NULL, (unsigned)nusers + 1);
    atomic_store(&g_stop, false);
    g_mean_gap_ns = 100e6;
    for (int i = 0; i < nusers; i++) {
        u[i].rng = 0xda942042e4dd58b5ull * (uint64_t)(i + 7) ^ (uint64_t)alchdb__now_ns();
        if (pthread_create(&u[i].th, &attr, open_loop ? open_user : closed_user, &u[i]) != 0)
            die("pthread_create", "too many threads?");
    }
    g_open_start = alchdb__now_ns() + 50000000;
    g_open_end = g_open_start + (int64_t)(seconds * 1e9);
    pthread_barrier_wait(&g_ubar);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    int64_t t0 = alchdb__now_ns();
    if (open_loop) {
        t0 = g_open_start;
    } else {
        usleep((useconds_t)(seconds * 1e6));
        atomic_store(&g_stop, true);
    }
    long total = 0, errors = 0;
    for (int i = 0; i < nusers; i++) {
        pthread_join(u[i].th, NULL);
        total += u[i].count;
        errors += u[i].errors;
    }
    int64_t t1 = open_loop ? g_open_end : alchdb__now_ns();
    getrusage(RUSAGE_SELF, &ru1);
    double nreq = total + errors > 0 ? (double)(total + errors) : 1.0;
    loop_result r = {.vcsw_per_req = (double)(ru1.ru_nvcsw - ru0.ru_nvcsw) / nreq,
                     .ivcsw_per_req = (double)(ru1.ru_nivcsw - ru0.ru_nivcsw) / nreq,
                     .tps = (double)total / ((double)(t1 - t0) / 1e9),
                     .p50_ms = (double)alchdb__hist_quantile(g_lat, 0.50) / 1e6,
                     .p95_ms = (double)alchdb__hist_quantile(g_lat, 0.95) / 1e6,
                     .p99_ms = (double)alchdb__hist_quantile(g_lat, 0.99) / 1e6,
                     .errors = errors};
    pthread_barrier_destroy(&g_ubar);
    pthread_attr_destroy(&attr);
    alchdb__hist_free(g_lat);
    free(u);
    return r;
}

static alchdb_client *make_client(int max_open)
{
    alchdb_pool_config *cfg;
    alchdb_pool_config_new(&cfg);
    alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, max_open);
    alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, max_open);
    alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_CONNECTING, 16);
    alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT, INT64_C(60000000));
    alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD, 0);
    alchdb_client *c;
    if (alchdb_client_open(g_direct, cfg, &c) != 0)
        die("alchdb_client_open", alchdb_last_error_message());
    alchdb_pool_config_free(cfg);
    return c;
}

int main(int argc, char **argv)
{
    int threads = 8, users = 1000, big_pool = 100, rounds_opt = 0;
    double closed_secs = 0;
    const char *only = "tp,unc,closed,refs,open", *modes = "abcd";
    bool quick = false;
    const char *json_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--direct") && i + 1 < argc)
            g_direct = argv[++i];
        else if (!strcmp(argv[i], "--bouncer") && i + 1 < argc)
            g_bouncer = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--users") && i + 1 < argc)
            users = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json_path = argv[++i];
        else if (!strcmp(argv[i], "--quick"))
            quick = true;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
        else if (!strcmp(argv[i], "--modes") && i + 1 < argc)
            modes = argv[++i];
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds_opt = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--closed-secs") && i + 1 < argc)
            closed_secs = atof(argv[++i]);
        else
            die("usage", "bench_pool --direct CONNINFO [--bouncer CONNINFO] [--threads N] "
                         "[--users N] [--quick] [--json FILE] [--only tp,unc,closed,refs,open] "
                         "[--modes abcd] [--rounds N] [--closed-secs S]");
    }
    if (!g_direct)
        die("usage", "--direct CONNINFO is required");
    int rounds = rounds_opt > 0 ? (rounds_opt > 8 ? 8 : rounds_opt) : quick ? 2 : 4;
    double secs = quick ? 1.5 : 3.0, dsecs = quick ? 1.0 : 2.0, lsecs = quick ? 3.0 : 6.0;
    if (closed_secs > 0)
        lsecs = closed_secs;
    bool do_tp = strstr(only, "tp") != NULL, do_unc = strstr(only, "unc") != NULL;
    bool do_closed = strstr(only, "closed") != NULL, do_open = strstr(only, "open") != NULL;
    bool do_raw = strstr(only, "refs") || strstr(only, "raw"), do_naive = strstr(only, "refs") || strstr(only, "naive");

    /* (a)-(d), alternating rounds */
    g_client = make_client(threads);
    double tps[NMODES][8] = {{0}}, cpu[NMODES][8] = {{0}};
    long errs[NMODES] = {0};
    for (int r = 0; do_tp && r < rounds; r++) {
        for (int m = 0; m < NMODES; m++) {
            int mode = (r % 2) ? NMODES - 1 - m : m; /* alternate the order */
            if ((mode == M_BOUNCER && !g_bouncer) || !strchr(modes, 'a' + mode))
                continue;
            tps[mode][r] = tp_round(mode, threads, mode == M_NEWCONN ? dsecs : secs, &errs[mode], &cpu[mode][r]);
            fprintf(stderr, "  round %d %-26s %10.0f tps, client CPU %.1f us per query\n", r + 1, MODE_NAME[mode],
                    tps[mode][r], cpu[mode][r]);
        }
    }
    double med[NMODES], cpu_med[NMODES];
    for (int m = 0; m < NMODES; m++) {
        med[m] = do_tp ? median(tps[m], rounds) : 0;
        cpu_med[m] = do_tp ? median(cpu[m], rounds) : 0;
    }

    /* uncontended acquire + release */
    alchdb_client_free(g_client);
    alchdb_pool *p1;
    alchdb_pool_config *cfg;
    alchdb_pool_config_new(&cfg);
    alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, 1);
    alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, 1);
    if (alchdb_pool_new(g_direct, cfg, &p1) != 0)
        die("pool", alchdb_last_error_message());
    alchdb_pool_config_free(cfg);
    double unc = do_unc ? uncontended_ns(p1, quick ? 21 : 51, 20000) : 0;
    alchdb_pool_free(p1);
    fprintf(stderr, "  uncontended acquire+release: %.0f ns\n", unc);

    /* 1000 users over a pool of 100 */
    g_client = make_client(big_pool);
    (void)users_run(false, big_pool, 0.5); /* open the 100 connections */
    /* The closed loop, alternating with its two references in each round
     * (the same harness, query and histogram): every kind's best round is
     * reported, the least disturbed one on a shared machine. */
    static const char *KIND_NAME[] = {"alchdb client", "raw thread per connection", "naive mutex+condvar pool"};
    loop_result best[3] = {{0}}, open_r = {0};
    int lrounds = rounds_opt > 0 ? rounds : quick ? 1 : 2;
    bool run_kind[3] = {do_closed, do_raw, do_naive};
    for (int r = 0; (do_closed || do_raw || do_naive) && r < lrounds; r++) {
        for (int k = 0; k < 3; k++) {
            int kind = (r % 2) ? 2 - k : k;
            if (!run_kind[kind])
                continue;
            int n = kind == CL_RAW ? big_pool : users;
            if (kind == CL_NAIVE) {
                g_naive.free = malloc(sizeof(PGconn *) * (size_t)big_pool);
                pthread_mutex_init(&g_naive.mu, NULL);
                pthread_cond_init(&g_naive.cv, NULL);
                for (g_naive.nfree = 0; g_naive.nfree < big_pool; g_naive.nfree++)
                    g_naive.free[g_naive.nfree] = connect_prepared();
            }
            g_kind = kind;
            loop_result lr = users_run(false, n, lsecs);
            g_kind = CL_CLIENT;
            if (kind == CL_NAIVE) {
                for (int i = 0; i < g_naive.nfree; i++)
                    PQfinish(g_naive.free[i]);
                free(g_naive.free);
                pthread_cond_destroy(&g_naive.cv);
                pthread_mutex_destroy(&g_naive.mu);
            }
            fprintf(stderr, "  closed loop %d users, %s, %d connections: %.0f tps p50 %.2f p95 %.2f p99 %.2f ms "
                            "(%ld errors), context switches per request %.2f voluntary %.2f involuntary\n",
                    n, KIND_NAME[kind], big_pool, lr.tps, lr.p50_ms, lr.p95_ms, lr.p99_ms, lr.errors,
                    lr.vcsw_per_req, lr.ivcsw_per_req);
            if (lr.tps > best[kind].tps)
                best[kind] = lr;
        }
    }
    loop_result cl = best[CL_CLIENT];
    if (do_open)
        open_r = users_run(true, users, quick ? 4.0 : 8.0);
    fprintf(stderr, "  open loop %d users x 10/s: %.0f q/s p50 %.2f p95 %.2f p99 %.2f ms (%ld errors)\n",
            users, open_r.tps, open_r.p50_ms, open_r.p95_ms, open_r.p99_ms, open_r.errors);
    char *pool_json = NULL;
    alchdb_pool_to_json(alchdb_client_pool(g_client), &pool_json);
    alchdb_client_free(g_client);

    printf("\n== bench/pool: %d threads, %d rounds, medians ==\n", threads, rounds);
    for (int m = 0; m < NMODES; m++)
        if (med[m] > 0)
            printf("  %-28s %10.0f tps  (errors %ld), client CPU %.1f us per query\n", MODE_NAME[m], med[m], errs[m],
                   cpu_med[m]);
    printf("  (b)/(a) = %.3f   target >= 0.97   (client CPU per query: the client adds %.2f us to raw libpq's %.2f)\n",
           med[M_CLIENT] / med[M_RAW], cpu_med[M_CLIENT] - cpu_med[M_RAW], cpu_med[M_RAW]);
    if (med[M_BOUNCER] > 0)
        printf("  (b)/(c) = %.2f    target >= 1.8\n", med[M_CLIENT] / med[M_BOUNCER]);
    printf("  (b)/(d) = %.1f    target >= 50\n", med[M_CLIENT] / med[M_NEWCONN]);
    printf("  uncontended acquire+release median = %.0f ns   target <= 1000 ns\n", unc);
    printf("  closed loop %d threads / pool %d: %.0f tps, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, %ld errors, "
           "%.2f + %.2f context switches per request\n",
           users, big_pool, cl.tps, cl.p50_ms, cl.p95_ms, cl.p99_ms, cl.errors, cl.vcsw_per_req, cl.ivcsw_per_req);
    printf("  reference, %d threads each owning a raw prepared connection: %.0f tps, p95 %.2f ms, "
           "%.2f + %.2f context switches per request\n",
           big_pool, best[CL_RAW].tps, best[CL_RAW].p95_ms, best[CL_RAW].vcsw_per_req, best[CL_RAW].ivcsw_per_req);
    printf("  reference, %d threads over %d raw connections, naive mutex+condvar pool: %.0f tps, p95 %.2f ms, "
           "%.2f + %.2f context switches per request\n",
           users, big_pool, best[CL_NAIVE].tps, best[CL_NAIVE].p95_ms, best[CL_NAIVE].vcsw_per_req,
           best[CL_NAIVE].ivcsw_per_req);
    if (best[CL_RAW].tps > 0 && best[CL_NAIVE].tps > 0)
        printf("  closed loop / raw thread per connection = %.3f   closed loop / naive pool = %.2f\n",
               cl.tps / best[CL_RAW].tps, cl.tps / best[CL_NAIVE].tps);
    printf("  open loop %d users, ~10k q/s offered: %.0f q/s, p50 %.2f ms, p95 %.2f ms, p99 %.2f ms   "
           "target p95 < 10 ms\n",
           users, open_r.tps, open_r.p50_ms, open_r.p95_ms, open_r.p99_ms);

    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (!f)
            die("open", json_path);
        fprintf(f, "{\"threads\":%d,\"rounds\":%d,\"tps_median\":{", threads, rounds);
        for (int m = 0; m < NMODES; m++)
            fprintf(f, "%s\"%s\":%.1f", m ? "," : "", MODE_NAME[m], med[m]);
        fprintf(f, "},\"tps_rounds\":{");
        for (int m = 0; m < NMODES; m++) {
            fprintf(f, "%s\"%s\":[", m ? "," : "", MODE_NAME[m]);
            for (int r = 0; r < rounds; r++)
                fprintf(f, "%s%.1f", r ? "," : "", tps[m][r]);
            fprintf(f, "]");
        }
        fprintf(f, "},\"client_cpu_us_per_query\":{");
        for (int m = 0; m < NMODES; m++)
            fprintf(f, "%s\"%s\":%.2f", m ? "," : "", MODE_NAME[m], cpu_med[m]);
        fprintf(f, "},\"errors\":{");
        for (int m = 0; m < NMODES; m++)
            fprintf(f, "%s\"%s\":%ld", m ? "," : "", MODE_NAME[m], errs[m]);
        fprintf(f,
                "},\"ratios\":{\"b_over_a\":%.4f,\"b_over_c\":%.4f,\"b_over_d\":%.2f},"
                "\"uncontended_acquire_release_ns\":%.1f,"
                "\"closed_loop\":{\"users\":%d,\"pool\":%d,\"tps\":%.1f,\"p50_ms\":%.3f,"
                "\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%ld,\"vcsw_per_req\":%.3f,\"ivcsw_per_req\":%.3f},"
                "\"closed_loop_raw_thread_per_conn\":{\"threads\":%d,\"tps\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
                "\"p99_ms\":%.3f,\"errors\":%ld,\"vcsw_per_req\":%.3f,\"ivcsw_per_req\":%.3f},"
                "\"closed_loop_naive_pool\":{\"users\":%d,\"pool\":%d,\"tps\":%.1f,\"p50_ms\":%.3f,\"p95_ms\":%.3f,"
                "\"p99_ms\":%.3f,\"errors\":%ld,\"vcsw_per_req\":%.3f,\"ivcsw_per_req\":%.3f},"
                "\"open_loop\":{\"users\":%d,\"offered_qps\":%d,\"qps\":%.1f,\"p50_ms\":%.3f,"
                "\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"errors\":%ld},\"pool\":%s}\n",
                /* parts left out with --only have no figures: 0, never NaN (JSON has none) */
                med[M_RAW] > 0 ? med[M_CLIENT] / med[M_RAW] : 0.0,
                med[M_BOUNCER] > 0 ? med[M_CLIENT] / med[M_BOUNCER] : 0.0,
                med[M_NEWCONN] > 0 ? med[M_CLIENT] / med[M_NEWCONN] : 0.0, unc, users, big_pool, cl.tps, cl.p50_ms, cl.p95_ms,
                cl.p99_ms, cl.errors, cl.vcsw_per_req, cl.ivcsw_per_req, big_pool, best[CL_RAW].tps,
                best[CL_RAW].p50_ms, best[CL_RAW].p95_ms, best[CL_RAW].p99_ms, best[CL_RAW].errors,
                best[CL_RAW].vcsw_per_req, best[CL_RAW].ivcsw_per_req, users, big_pool, best[CL_NAIVE].tps,
                best[CL_NAIVE].p50_ms, best[CL_NAIVE].p95_ms, best[CL_NAIVE].p99_ms, best[CL_NAIVE].errors,
                best[CL_NAIVE].vcsw_per_req, best[CL_NAIVE].ivcsw_per_req, users, users * 10, open_r.tps, open_r.p50_ms, open_r.p95_ms,
                open_r.p99_ms, open_r.errors, pool_json ? pool_json : "null");
        fclose(f);
    }
    alchdb_free(pool_json);
    return 0;
}
