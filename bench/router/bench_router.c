/* bench/router: (1) the cost of a routing decision for an already-analysed
 * statement: router acquire+release vs acquiring from the chosen pool
 * directly; (2) read throughput through a routed client (1 primary + 1
 * replica) vs a client on the primary alone, side by side, alternating rounds.
 * Needs the rig (tests/services/rig.sh run -- bench_router). --json for machines. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <alchdb/alchdb.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_router: %s: %s\n", what, alchdb_last_error_message());
    exit(1);
}

typedef struct worker {
    alchdb_client *c;
    double seconds;
    long n;
} worker;

static void *work(void *p)
{
    worker *w = p;
    char id[16];
    const char *params[1] = {id};
    double end = now_s() + w->seconds;
    long n = 0;
    while (now_s() < end) {
        snprintf(id, sizeof id, "%ld", 1 + n % 1000);
        alchdb_result *r;
        if (alchdb_client_exec(w->c, "SELECT v FROM bench_router WHERE id = $1", 1, params, &r) != 0)
            die("exec");
        alchdb_result_free(r);
        n++;
    }
    w->n = n;
    return NULL;
}

static double throughput(alchdb_client *c, int threads, double seconds)
{
    pthread_t th[64];
    worker w[64];
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){c, seconds, 0};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    long total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        total += w[i].n;
    }
    return (double)total / seconds;
}

int main(int argc, char **argv)
{
    int json = 0, rounds = 3, threads = 4;
    double seconds = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--quick"))
            rounds = 1, seconds = 1;
        else {
            fprintf(stderr, "usage: bench_router [--quick] [--json]   (inside tests/services/rig.sh run --)\n");
            return 2;
        }
    }
    const char *primary = getenv("ALCHDB_TEST_PRIMARY"), *replica = getenv("ALCHDB_TEST_REPLICA");
    if (!primary || !replica) {
        fprintf(stderr, "bench_router: ALCHDB_TEST_PRIMARY/REPLICA not set: run it inside tests/services/rig.sh run --\n");
        return 2;
    }
    alchdb_client *setup;
    if (alchdb_client_open(primary, NULL, &setup) != 0)
        die("connect");
    alchdb_client_exec_flags(setup, "DROP TABLE IF EXISTS bench_router; CREATE TABLE bench_router (id int PRIMARY KEY, v text);"
                             "INSERT INTO bench_router SELECT g, md5(g::text) FROM generate_series(1, 1000) g",
                             0, NULL, ALCHDB_EXEC_SIMPLE, NULL);
    alchdb_client_free(setup);

    alchdb_pool_config *pc;
    alchdb_pool_config_new(&pc);
    alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_OPEN, 16);
    alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_IDLE, 16);
    alchdb_router *r;
    if (alchdb_router_new(primary, pc, NULL, &r) || alchdb_router_add_replica(r, replica, 1) || alchdb_router_start(r))
        die("router");
    alchdb_client *routed, *direct;
    if (alchdb_client_new_routed(r, &routed) || alchdb_client_open(primary, pc, &direct))
        die("client");
    /* wait until the replica took the bench table */
    for (int i = 0; i < 100; i++) {
        alchdb_result *res;
        if (alchdb_client_exec_flags(routed, "SELECT count(*) FROM bench_router", 0, NULL, ALCHDB_EXEC_READ, &res) == 0) {
            int ok = atoi(alchdb_result_value(res, 0, 0)) == 1000;
            alchdb_result_free(res);
            if (ok)
                break;
        }
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }

    /* (1) decision overhead, single thread, statement already analysed */
    const char *sql = "SELECT v FROM bench_router WHERE id = $1";
    alchdb_pool *rp = alchdb_router_host_pool(r, 1);
    const int n = 200000;
    double t_route[5], t_pool[5];
    for (int k = 0; k < 5; k++) {
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            alchdb_conn *c;
            if (alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, sql, NULL, -1, NULL, &c, NULL))
                die("router acquire");
            alchdb_router_release(r, c, NULL);
        }
        t_route[k] = (now_s() - t0) / n * 1e9;
        t0 = now_s();
        for (int i = 0; i < n; i++) {
            alchdb_conn *c;
            if (alchdb_pool_acquire(rp, -1, NULL, &c))
                die("pool acquire");
            alchdb_pool_release(rp, c);
        }
        t_pool[k] = (now_s() - t0) / n * 1e9;
    }
    qsort(t_route, 5, sizeof(double), cmpd);
    qsort(t_pool, 5, sizeof(double), cmpd);
    double overhead = t_route[2] - t_pool[2];

    /* (2) read throughput, alternating rounds */
    double tr[16], td[16];
    for (int k = 0; k < rounds; k++) {
        tr[k] = throughput(routed, threads, seconds);
        td[k] = throughput(direct, threads, seconds);
    }
    qsort(tr, (size_t)rounds, sizeof(double), cmpd);
    qsort(td, (size_t)rounds, sizeof(double), cmpd);
    double mr = tr[rounds / 2], md = td[rounds / 2];
    if (json)
        printf("{\"bench\":\"router\",\"route_acquire_release_ns\":%.0f,\"pool_acquire_release_ns\":%.0f,"
               "\"decision_overhead_ns\":%.0f,\"threads\":%d,\"routed_qps\":%.0f,\"primary_only_qps\":%.0f,"
               "\"ratio\":%.3f}\n",
               t_route[2], t_pool[2], overhead, threads, mr, md, mr / md);
    else
        printf("routing decision (analysed statement): router acquire+release %.0f ns vs pool %.0f ns: "
               "overhead %.0f ns per decision (target <= 500)\n"
               "read throughput, %d threads, median of %d rounds: routed 1 primary + 1 replica %.0f q/s vs "
               "primary alone %.0f q/s: ratio %.2f (one 2-core machine runs both servers: see docs/router.md)\n",
               t_route[2], t_pool[2], overhead, threads, rounds, mr, md, mr / md);
    alchdb_client_free(routed);
    alchdb_client_free(direct);
    alchdb_router_free(r);
    alchdb_pool_config_free(pc);
    return 0;
}
