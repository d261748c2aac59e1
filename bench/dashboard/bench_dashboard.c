/* The dashboard's costs, side by side in one run (no server needed):
 *   1. the handler: GET dashboard and GET /metrics with 10,000 patterns;
 *   2. the recording path (alchdb_monitor_record_simple from 2 threads) with
 *      a dashboard scraping /metrics every 100 ms against none (target >= 0.98x);
 *   3. the built-in listener: keep-alive GET .../health requests per second.
 * Usage: bench_dashboard [patterns] [seconds]     (defaults 10000, 3) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double handler_ms(alchdb_dashboard *d, const char *target, int reps, size_t *bytes)
{
    double t0 = now_s();
    for (int i = 0; i < reps; i++) {
        int st;
        const char *ct;
        char *out;
        size_t len;
        if (alchdb_dashboard_handle(d, "GET", target, NULL, 0, &st, &ct, &out, &len) || st != 200) {
            fprintf(stderr, "handle %s: %d %s\n", target, st, alchdb_last_error_message());
            exit(1);
        }
        *bytes = len;
        alchdb_free(out);
    }
    return (now_s() - t0) * 1000.0 / reps;
}

typedef struct rec_arg {
    alchdb_monitor *mon;
    double seconds;
    long long n;
} rec_arg;

static void *recorder(void *p)
{
    rec_arg *a = p;
    double end = now_s() + a->seconds;
    long long n = 0;
    while (now_s() < end)
        for (int i = 0; i < 256; i++, n++)
            alchdb_monitor_record_simple(a->mon, "SELECT * FROM users WHERE id = 42", 500, NULL);
    a->n = n;
    return NULL;
}

static atomic_int scraping;
static void *scraper(void *p)
{
    alchdb_dashboard *d = p;
    while (atomic_load(&scraping)) {
        char *out = NULL;
        if (alchdb_dashboard_metrics(d, &out) == 0)
            alchdb_free(out);
        usleep(100000);
    }
    return NULL;
}

static double record_rate(alchdb_monitor *mon, alchdb_dashboard *d, double seconds)
{
    pthread_t t[2], s;
    rec_arg a[2] = {{mon, seconds, 0}, {mon, seconds, 0}};
    if (d) {
        atomic_store(&scraping, 1);
        pthread_create(&s, NULL, scraper, d);
    }
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, recorder, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    if (d) {
        atomic_store(&scraping, 0);
        pthread_join(s, NULL);
    }
    return (double)(a[0].n + a[1].n) / seconds;
}

typedef struct http_arg {
    int port;
    double seconds;
    long long n;
} http_arg;

static void *http_client(void *p)
{
    http_arg *a = p;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)a->port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        perror("connect");
        exit(1);
    }
    static const char req[] = "GET /api/v1/database/performance/health HTTP/1.1\r\nHost: b\r\n\r\n";
    char buf[65536];
    double end = now_s() + a->seconds;
    while (now_s() < end) {
        if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
            exit(1);
        /* read one answer: headers, then Content-Length bytes */
        size_t got = 0;
        long want = -1;
        for (;;) {
            ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
            if (r <= 0)
                exit(1);
            got += (size_t)r;
            buf[got] = '\0';
            char *h = strstr(buf, "\r\n\r\n");
            if (h && want < 0) {
                char *cl = strcasestr(buf, "Content-Length:");
                want = (long)(h + 4 - buf) + (cl ? strtol(cl + 15, NULL, 10) : 0);
            }
            if (want >= 0 && (long)got >= want)
                break;
        }
        a->n++;
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    int npat = argc > 1 ? atoi(argv[1]) : 10000;
    double secs = argc > 2 ? atof(argv[2]) : 3;
    alchdb_monitor_config *mc = NULL;
    alchdb_monitor *mon = NULL;
    alchdb_dashboard *d = NULL;
    if (alchdb_monitor_config_new(&mc) ||
        alchdb_monitor_config_set_int64(mc, ALCHDB_MONITOR_OPT_MAX_PATTERNS, npat + 100) ||
        alchdb_monitor_new(mc, &mon) || alchdb_dashboard_new(NULL, &d)) {
        fprintf(stderr, "setup: %s\n", alchdb_last_error_message());
        return 1;
    }
    alchdb_monitor_config_free(mc);
    char sql[128];
    for (int i = 0; i < npat; i++) {
        snprintf(sql, sizeof sql, "SELECT a, b FROM table_%d WHERE id = %d", i, i);
        alchdb_monitor_record_simple(mon, sql, 100 + i % 5000, NULL);
    }
    alchdb_monitor_flush(mon);
    alchdb_dashboard_attach_monitor(d, mon);
    size_t b1 = 0, b2 = 0;
    double dash = handler_ms(d, "/api/v1/database/performance/dashboard", 20, &b1);
    double metrics = handler_ms(d, "/metrics", 20, &b2);
    printf("handler with %d patterns: GET dashboard %.2f ms (%zu bytes), GET /metrics %.2f ms (%zu bytes)\n",
           npat, dash, b1, metrics, b2);

    alchdb_monitor *m2 = NULL;
    alchdb_dashboard *d2 = NULL;
    if (alchdb_monitor_new(NULL, &m2) || alchdb_dashboard_new(NULL, &d2))
        return 1;
    alchdb_dashboard_attach_monitor(d2, m2);
    double off1 = record_rate(m2, NULL, secs), on1 = record_rate(m2, d2, secs);
    double off2 = record_rate(m2, NULL, secs), on2 = record_rate(m2, d2, secs);
    double off = (off1 + off2) / 2, on = (on1 + on2) / 2;
    printf("recording path, 2 threads: alone %.0f/s, with /metrics scraped every 100 ms %.0f/s: %.3fx\n",
           off, on, on / off);

    alchdb_dashboard_listener *l = NULL;
    if (alchdb_dashboard_listen(d2, "127.0.0.1:0", NULL, &l)) {
        printf("listener: %s\n", alchdb_last_error_message());
    } else {
        pthread_t t[4];
        http_arg a[4];
        for (int i = 0; i < 4; i++) {
            a[i] = (http_arg){alchdb_dashboard_listener_port(l), secs, 0};
            pthread_create(&t[i], NULL, http_client, &a[i]);
        }
        long long n = 0;
        for (int i = 0; i < 4; i++) {
            pthread_join(t[i], NULL);
            n += a[i].n;
        }
        printf("listener: 4 keep-alive clients, GET .../health: %.0f requests/s\n", (double)n / secs);
        alchdb_dashboard_listener_stop(l);
    }
    alchdb_dashboard_free(d2);
    alchdb_monitor_free(m2);
    alchdb_dashboard_free(d);
    alchdb_monitor_free(mon);
    return 0;
}
