/* `alchdb dashboard`: a standalone agent: its own router (pool per host,
 * probes), optional Redis cache, an advisor report, and a monitor fed from
 * pg_stat_statements deltas, behind the dashboard's listener. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "cli_io.h"
#include "cmd_dashboard.h"
#include "pgss_feed.h"

#define MAX_REPLICAS 16

static const char usage[] =
    "usage: alchdb dashboard --conninfo STR [--replica STR]... [--redis HOST:PORT]\n"
    "                        [--listen ADDR:PORT] [--token-file FILE] [--interval DURATION]\n"
    "                        [--no-advisor] [--perftest] [--once | --metrics-once]\n"
    "\n"
    "Run the dashboard as an agent for one database: a router over the primary and its\n"
    "replicas, a Redis cache's statistics (--redis), the index advisor's report, and a\n"
    "monitor fed from pg_stat_statements every --interval (default 10s). Serves the\n"
    "dashboard's routes and /metrics on --listen (default 127.0.0.1:8080); POST routes need\n"
    "the bearer token of --token-file. The dashboard's options come from ALCHDB_DASHBOARD_*\n"
    "variables (ALCHDB_DASHBOARD_ALERT_FOR=30s, ...; see docs/dashboard.md).\n"
    "\n"
    "  --once           print the dashboard JSON (after two pg_stat_statements samples 1s\n"
    "                   apart) and exit\n"
    "  --metrics-once   print the Prometheus text likewise and exit\n"
    "  --perftest       serve POST test/run and GET test/results[/:id]: perftest runs in\n"
    "                   the background through a client over the router (no cache), in\n"
    "                   their own schema of this database; options from ALCHDB_PERFTEST_*\n"
    "\n"
    "Exit status: 0 ok; 1 runtime error (connection, listener); 2 usage error.\n";

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

typedef struct agent {
    alchdb_router *router;
    alchdb_cache *cache;
    alchdb_monitor *mon;
    alchdb_advisor_config *adv_opts;
    alchdb_advisor_report *report;
    alchdb_dashboard *dash;
    pgss_feed *feed;
    alchdb_client *client;       /* --perftest: what the runs go through */
    alchdb_perftest_store *store;
} agent;

static void agent_free(agent *a)
{
    alchdb_dashboard_free(a->dash);
    alchdb_perftest_store_free(a->store); /* cancels and waits for a run */
    alchdb_client_free(a->client);
    pgss_feed_free(a->feed);
    alchdb_advisor_report_free(a->report);
    alchdb_advisor_config_free(a->adv_opts);
    alchdb_monitor_free(a->mon);
    alchdb_cache_free(a->cache);
    alchdb_router_free(a->router);
}

static int fail(const char *what)
{
    alchdb_cli_error("alchdb dashboard: %s: %s\n", what, alchdb_last_error_message());
    return 1;
}

static int setup_cache(agent *a, const char *redis)
{
    const char *hp = strncmp(redis, "redis://", 8) ? redis : redis + 8;
    const char *colon = strrchr(hp, ':');
    char host[256];
    if (!colon || (size_t)(colon - hp) >= sizeof host || colon == hp) {
        alchdb_cli_error("alchdb dashboard: --redis must be HOST:PORT\n");
        return 2;
    }
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = '\0';
    alchdb_cache_config *cfg = NULL;
    if (alchdb_cache_config_new(&cfg) || alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_BACKEND, "redis") ||
        alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_REDIS_HOST, host) ||
        alchdb_cache_config_set_from_string(cfg, "redis_port", colon + 1)) {
        alchdb_cache_config_free(cfg);
        fail("--redis");
        return 2;
    }
    int rc = alchdb_cache_new(cfg, &a->cache);
    alchdb_cache_config_free(cfg);
    return rc ? fail("cache") : 0;
}

/* --perftest: a client over the agent's router (no cache: the runs must not
 * fill the application's Redis; no monitor: pg_stat_statements already sees
 * their queries) and a store of the last 20 runs. */
static int setup_perftest(agent *a)
{
    alchdb_perftest_config *cfg = NULL;
    if (alchdb_perftest_config_new(&cfg) || alchdb_perftest_config_from_env(cfg, "ALCHDB_PERFTEST")) {
        alchdb_perftest_config_free(cfg);
        return fail("ALCHDB_PERFTEST_* environment");
    }
    alchdb_perftest_target t = {.size = sizeof t, .router = a->router};
    int rc = alchdb_client_new_routed(a->router, &a->client) || alchdb_perftest_store_new(20, &a->store);
    if (!rc) {
        t.client = a->client;
        rc = alchdb_dashboard_attach_perftest(a->dash, a->store, &t, cfg);
    }
    alchdb_perftest_config_free(cfg);
    return rc ? fail("--perftest") : 0;
}

static void sleep_us(long long us)
{
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && !stop) {
    }
}

static int print_owned(int rc, char *text, const char *what)
{
    if (rc != 0 || !text)
        return fail(what);
    fputs(text, stdout);
    if (text[0] && text[strlen(text) - 1] != '\n')
        fputc('\n', stdout);
    alchdb_free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

int alchdb_cli_dashboard(int argc, char **argv)
{
    const char *conninfo = NULL, *redis = NULL, *listen = "127.0.0.1:8080", *token_file = NULL;
    const char *replicas[MAX_REPLICAS];
    int nrep = 0;
    bool once = false, metrics_once = false, advisor = true, perftest = false;
    int64_t interval = 10000000;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "--conninfo") && more)
            conninfo = argv[++i];
        else if (!strcmp(a, "--replica") && more && nrep < MAX_REPLICAS)
            replicas[nrep++] = argv[++i];
        else if (!strcmp(a, "--redis") && more)
            redis = argv[++i];
        else if (!strcmp(a, "--listen") && more)
            listen = argv[++i];
        else if (!strcmp(a, "--token-file") && more)
            token_file = argv[++i];
        else if (!strcmp(a, "--interval") && more) {
            if (alchdb_parse_duration(argv[++i], &interval) || interval < 1000000) {
                alchdb_cli_error("alchdb dashboard: --interval must be a duration of at least 1s\n");
                return 2;
            }
        } else if (!strcmp(a, "--once"))
            once = true;
        else if (!strcmp(a, "--metrics-once"))
            metrics_once = true;
        else if (!strcmp(a, "--no-advisor"))
            advisor = false;
        else if (!strcmp(a, "--perftest"))
            perftest = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else {
            alchdb_cli_error("alchdb dashboard: unknown or incomplete argument '%s'\n%s", a, usage);
            return 2;
        }
    }
    if (!conninfo || (once && metrics_once)) {
        fputs(usage, stderr);
        return 2;
    }

    agent a = {0};
    int rc = 1;
    if (alchdb_router_new(conninfo, NULL, NULL, &a.router)) {
        rc = fail("router");
        goto out;
    }
    for (int i = 0; i < nrep; i++)
        if (alchdb_router_add_replica(a.router, replicas[i], 1)) {
            rc = fail("--replica");
            goto out;
        }
    if (alchdb_router_start(a.router)) {
        rc = fail("router start");
        goto out;
    }
    if (redis && (rc = setup_cache(&a, redis)) != 0)
        goto out;
    rc = 1;
    alchdb_dashboard_config *cfg = NULL;
    if (alchdb_dashboard_config_new(&cfg) || alchdb_dashboard_config_from_env(cfg, "ALCHDB_DASHBOARD")) {
        alchdb_dashboard_config_free(cfg);
        rc = fail("ALCHDB_DASHBOARD_* environment");
        goto out;
    }
    int made = alchdb_dashboard_new(cfg, &a.dash);
    alchdb_dashboard_config_free(cfg);
    if (made || alchdb_monitor_new(NULL, &a.mon) ||
        !(a.feed = pgss_feed_new(alchdb_router_host_pool(a.router, 0), a.mon))) {
        rc = fail("setup");
        goto out;
    }
    alchdb_dashboard_attach_router(a.dash, a.router);
    alchdb_dashboard_attach_monitor(a.dash, a.mon);
    if (perftest && (rc = setup_perftest(&a)) != 0)
        goto out;
    rc = 1;
    if (a.cache)
        alchdb_dashboard_attach_cache(a.dash, a.cache);
    if (advisor) {
        if (alchdb_advisor_config_new(&a.adv_opts) ||
            alchdb_advisor_config_set_string(a.adv_opts, ALCHDB_ADVISOR_OPT_CONNINFO, conninfo) ||
            alchdb_advisor_analyze(a.adv_opts, &a.report)) {
            rc = fail("advisor");
            goto out;
        }
        alchdb_dashboard_attach_advisor(a.dash, a.adv_opts, a.report);
    }
    if (pgss_feed_tick(a.feed)) {
        rc = fail("pg_stat_statements (is the extension created in this database?)");
        goto out;
    }
    if (once || metrics_once) {
        sleep_us(1000000);
        if (pgss_feed_tick(a.feed)) {
            rc = fail("pg_stat_statements");
            goto out;
        }
        char *text = NULL;
        int got = once ? alchdb_dashboard_to_json(a.dash, &text) : alchdb_dashboard_metrics(a.dash, &text);
        rc = print_owned(got, text, once ? "dashboard" : "metrics");
        goto out;
    }

    alchdb_dashboard_listener *l = NULL;
    if (alchdb_dashboard_listen(a.dash, listen, token_file, &l)) {
        rc = fail("--listen");
        goto out;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("alchdb dashboard: listening on http://127.0.0.1:%d/ (pid %ld)\n",
           alchdb_dashboard_listener_port(l), (long)getpid());
    fflush(stdout);
    rc = 0;
    while (!stop) {
        sleep_us(interval);
        if (!stop && pgss_feed_tick(a.feed))
            alchdb_cli_error("alchdb dashboard: pg_stat_statements: %s\n", alchdb_last_error_message());
    }
    alchdb_dashboard_listener_stop(l);
out:
    agent_free(&a);
    return rc;
}
