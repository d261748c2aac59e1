/* bench_monitor: cost of alchdb_monitor_record() and the monitor's memory.
 *
 *   bench_monitor [--json] [--quick]
 *
 * Prints medians over batches: an already-seen text (1 and 2 threads), a text
 * with new literals (literal-stripped cache hit), a never-seen pattern (the
 * parser runs), memory after 1 M records of 100 k distinct texts, and, when
 * ALCHDB_TEST_PRIMARY is set (tests/services/rig.sh run -- ...), throughput of
 * the client's prepared query with the monitor attached vs not. */
#include <libpq-fe.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <alchdb/alchdb.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmpd);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *SEEN = "SELECT r.id, r.title, r.created_at FROM recipes r JOIN users u ON u.id = "
                          "r.user_id WHERE r.user_id = 42 AND r.published = true ORDER BY "
                          "r.created_at DESC LIMIT 20"; /* about 150 characters */

static alchdb_monitor *mon;
static int batches = 400, batch = 1000;

static double seen_ns_per_record(void)
{
    double *v = malloc(sizeof *v * (size_t)batches);
    for (int b = 0; b < batches; b++) {
        int64_t t0 = now_ns();
        for (int i = 0; i < batch; i++)
            alchdb_monitor_record_simple(mon, SEEN, 1200 + i, NULL);
        v[b] = (double)(now_ns() - t0) / batch;
    }
    double m = median(v, batches);
    free(v);
    return m;
}

static void *seen_thread(void *arg)
{
    *(double *)arg = seen_ns_per_record();
    return NULL;
}

static void tname(int i, char *buf)
{
    int k = 0;
    do {
        buf[k++] = (char)('a' + i % 26);
        i /= 26;
    } while (i);
    buf[k] = '\0';
}

static long heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return (long)(mi.uordblks + mi.hblkhd);
}

/* End to end through the client facade (prepared, pooled): one client with
 * the monitor attached, one without, alternating rounds. */
static double onoff_ratio(const char *conninfo, double *on_qps, double *off_qps)
{
    alchdb_client *with = NULL, *without = NULL;
    if (alchdb_client_open(conninfo, NULL, &with) || alchdb_client_open(conninfo, NULL, &without) ||
        alchdb_client_set_monitor(with, mon)) {
        fprintf(stderr, "client: %s\n", alchdb_last_error_message());
        alchdb_client_free(with);
        alchdb_client_free(without);
        return 0;
    }
    const int n = 5000, rounds = 6;
    double on[6], off[6];
    char p[16];
    const char *pv[1] = {p};
    for (int r = 0; r < rounds * 2; r++) {
        bool use = r % 2;
        alchdb_client *c = use ? with : without;
        int64_t t0 = now_ns();
        for (int i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%d", i);
            if (alchdb_client_exec(c, "SELECT $1::int + 1", 1, pv, NULL) != 0) {
                fprintf(stderr, "exec: %s\n", alchdb_last_error_message());
                break;
            }
        }
        double qps = n / ((double)(now_ns() - t0) / 1e9);
        if (use)
            on[r / 2] = qps;
        else
            off[r / 2] = qps;
    }
    alchdb_client_free(with);
    alchdb_client_free(without);
    *on_qps = median(on, rounds);
    *off_qps = median(off, rounds);
    return *on_qps / *off_qps;
}

int main(int argc, char **argv)
{
    bool json = false, quick = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--quick"))
            quick = true;
    }
    if (quick)
        batches = 50;
    alchdb_monitor_config *cfg;
    alchdb_monitor_config_new(&cfg);
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 100000);
    alchdb_monitor_new(cfg, &mon);

    /* already-seen text */
    alchdb_monitor_record_simple(mon, SEEN, 1, NULL);
    double seen1 = seen_ns_per_record();
    double t2[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, seen_thread, &t2[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    double seen2 = (t2[0] + t2[1]) / 2;

    /* new literals of a known shape */
    int nlit = quick ? 20000 : 100000;
    char **texts = malloc(sizeof *texts * (size_t)nlit);
    for (int i = 0; i < nlit; i++) {
        texts[i] = malloc(256);
        snprintf(texts[i], 256,
                 "SELECT r.id, r.title, r.created_at FROM recipes r JOIN users u ON u.id = "
                 "r.user_id WHERE r.user_id = %d AND r.published = true ORDER BY "
                 "r.created_at DESC LIMIT %d",
                 1000 + i, 10 + i % 7);
    }
    int nb = nlit / 100;
    double *v = malloc(sizeof *v * (size_t)nb);
    for (int b = 0; b < nb; b++) {
        int64_t t0 = now_ns();
        for (int i = 0; i < 100; i++)
            alchdb_monitor_record_simple(mon, texts[b * 100 + i], 500, NULL);
        v[b] = (double)(now_ns() - t0) / 100;
    }
    double newlit = median(v, nb);
    free(v);

    /* never-seen patterns (the parser runs) */
    int npat = quick ? 2000 : 10000;
    char (*pt)[160] = malloc(sizeof *pt * (size_t)npat);
    for (int i = 0; i < npat; i++) {
        char tn[16];
        tname(i, tn);
        snprintf(pt[i], sizeof pt[i], "SELECT id, name, price FROM products_%s WHERE category = 3 "
                                      "AND price < 100 ORDER BY price LIMIT 50", tn);
    }
    nb = npat / 20;
    v = malloc(sizeof *v * (size_t)nb);
    for (int b = 0; b < nb; b++) {
        int64_t t0 = now_ns();
        for (int i = 0; i < 20; i++)
            alchdb_monitor_record_simple(mon, pt[b * 20 + i], 500, NULL);
        v[b] = (double)(now_ns() - t0) / 20;
    }
    double neverseen = median(v, nb);
    free(v);
    alchdb_monitor_free(mon);

    /* memory: 1 M records of 100 k distinct texts (500 shapes x 200 literals), defaults */
    long h0 = heap_bytes();
    alchdb_monitor_new(NULL, &mon);
    long h1 = heap_bytes();
    int nrec = quick ? 200000 : 1000000;
    char buf[200];
    int64_t t0 = now_ns();
    for (int i = 0; i < nrec; i++) {
        int text = i % 100000, shape = text % 500;
        char tn[16];
        tname(shape, tn);
        snprintf(buf, sizeof buf, "SELECT a, b FROM orders_%s WHERE id = %d", tn, text / 500);
        alchdb_monitor_record_simple(mon, buf, 100 + i % 5000, NULL);
    }
    double mem_run_s = (double)(now_ns() - t0) / 1e9;
    long h2 = heap_bytes();
    alchdb_monitor_metrics st;
    alchdb_monitor_get_metrics(mon, &st, sizeof st);

    double on_qps = 0, off_qps = 0, ratio = 0;
    const char *ci = getenv("ALCHDB_TEST_PRIMARY");
    if (ci && *ci) {
        alchdb_monitor_reset(mon);
        ratio = onoff_ratio(ci, &on_qps, &off_qps);
    }
    alchdb_monitor_free(mon);
    alchdb_monitor_config_free(cfg);

    if (json) {
        printf("{\"record_seen_ns_1thread\":%.1f,\"record_seen_ns_2threads\":%.1f,"
               "\"record_new_literals_ns\":%.1f,\"record_new_pattern_ns\":%.1f,"
               "\"memory_empty_bytes\":%ld,\"memory_after_bytes\":%ld,\"memory_records\":%d,"
               "\"memory_patterns\":%lld,\"memory_evicted\":%lld,\"memory_run_s\":%.2f,"
               "\"onoff_qps_on\":%.0f,\"onoff_qps_off\":%.0f,\"onoff_ratio\":%.3f}\n",
               seen1, seen2, newlit, neverseen, h1 - h0, h2 - h0, nrec,
               (long long)st.patterns, (long long)st.patterns_evicted, mem_run_s, on_qps, off_qps,
               ratio);
    } else {
        printf("record, already-seen text, 1 thread   : %8.1f ns median (target <= 1000)\n", seen1);
        printf("record, already-seen text, 2 threads  : %8.1f ns median per record\n", seen2);
        printf("record, new literals of a known shape : %8.1f ns median\n", newlit);
        printf("record, never-seen pattern (parses)   : %8.1f ns median\n", neverseen);
        printf("memory: empty monitor %.1f MB; after %d records of 100k distinct texts %.1f MB "
               "(%lld patterns kept, %lld evicted, %.2f s)\n",
               (h1 - h0) / 1048576.0, nrec, (h2 - h0) / 1048576.0, (long long)st.patterns,
               (long long)st.patterns_evicted, mem_run_s);
        if (ratio > 0)
            printf("client exec (prepared, pooled), monitor on vs off: %.0f vs %.0f qps, ratio %.3f "
                   "(target >= 0.98)\n", on_qps, off_qps, ratio);
        else
            printf("monitor on vs off: skipped (ALCHDB_TEST_PRIMARY not set; run under "
                   "tests/services/rig.sh run --)\n");
    }
    for (int i = 0; i < nlit; i++)
        free(texts[i]);
    free(texts);
    free(pt);
    return 0;
}
