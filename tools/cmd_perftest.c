/* `alchdb perftest`: the nine load tests against the ADR-0008 targets, through
 * a client built like an application's (pool, optional replicas through the
 * router, a memory or Redis cache, the monitor). Exit status: 0 every target
 * met, 1 some missed, 2 usage or a run that could not happen. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "cli_io.h"
#include "cmd_options.h"
#include "cmd_perftest.h"

#define MAX_REPLICAS 8

static void help(FILE *to)
{
    fputs("usage: alchdb perftest [OPTIONS] CONNINFO\n"
          "\n"
          "Load tests of the Alchemorsel workload through the library's client (pool,\n"
          "router, cache, monitor), judged on p95 against the ADR-0008 targets.\n"
          "\n"
          "  --quick | --full           durations (default: shortened)\n"
          "  --test NAME                run only this test (repeatable; see --list)\n"
          "  --target TEST.METRIC=V     override a target (repeatable), e.g. recipe_search.p95=150ms\n"
          "  --set NAME=VALUE           any perftest option by name (recipes, users, seed, schema,\n"
          "                             duration, warmup, worker_scale, keep_data, ...)\n"
          "  --replica CONNINFO         route reads to this streaming replica (repeatable)\n"
          "  --redis HOST:PORT          cache in Redis (default: the in-process memory cache)\n"
          "  --cache-prefix PREFIX      Redis key prefix (default alchdb:perftest)\n"
          "  --no-cache                 run without a cache\n"
          "  --max-open N               the pool's max_open_conns (default 100)\n"
          "  --monitor-report N         after the report, print the monitor's top N patterns\n"
          "                             and its suggestions\n"
          "  --format text|json         report format (default text)\n"
          "  --load                     only create and load the schema (kept)\n"
          "  --cleanup                  only drop the schema\n"
          "  --list                     list the tests and their targets\n"
          "\n"
          "Options are also read from ALCHDB_PERFTEST_<NAME> variables (e.g.\n"
          "ALCHDB_PERFTEST_DURATION=1s); flags override them.\n"
          "\n"
          "Progress is shown live on a terminal and as plain lines otherwise (on standard\n"
          "error with --format json). Exit status: 0 every target met, 1 some missed,\n"
          "2 usage errors or a run that could not happen.\n",
          to);
}

typedef struct opts {
    alchdb_perftest_config *cfg;
    const char *conninfo;
    const char *replicas[MAX_REPLICAS];
    int nreplicas;
    const char *redis;
    const char *prefix;
    int no_cache;
    long max_open;
    long monitor_top;
    int json;
    int load_only, cleanup_only, list;
    char *tests, *targets; /* accumulated comma lists */
} opts;

static int append(char **list, const char *item)
{
    size_t a = *list ? strlen(*list) : 0, b = strlen(item);
    char *n = realloc(*list, a + b + 2);
    if (!n)
        return -1;
    if (a)
        n[a++] = ',';
    memcpy(n + a, item, b + 1);
    *list = n;
    return 0;
}

/* flag names the command-line flag the option came from, for the message */
static int set_opt(opts *o, const char *flag, const char *name, const char *value)
{
    if (alchdb_perftest_config_set_from_string(o->cfg, name, value) != 0) {
        alchdb_cli_error("alchdb perftest: %s: %s\n", flag, alchdb_last_error_message());
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                                       \
    do {                                                                             \
        if (!next) {                                                                 \
            alchdb_cli_error("alchdb perftest: %s needs a value\n", a);              \
            return -1;                                                               \
        }                                                                            \
        i++;                                                                         \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help(stdout);
            return 1;
        } else if (!strcmp(a, "--quick") || !strcmp(a, "--full")) {
            if (set_opt(o, a, "profile", a + 2) != 0)
                return -1;
        } else if (!strcmp(a, "--test")) {
            NEED();
            if (append(&o->tests, next) != 0)
                return -1;
        } else if (!strcmp(a, "--target")) {
            NEED();
            if (append(&o->targets, next) != 0)
                return -1;
        } else if (!strcmp(a, "--set")) {
            NEED();
            char name[128];
            const char *value = alchdb_cli_split_set(next, name, sizeof name);
            if (!value) {
                alchdb_cli_error("alchdb perftest: --set wants NAME=VALUE, not '%s'\n", next);
                return -1;
            }
            if (set_opt(o, "--set", name, value) != 0)
                return -1;
        } else if (!strcmp(a, "--replica")) {
            NEED();
            if (o->nreplicas == MAX_REPLICAS) {
                alchdb_cli_error("alchdb perftest: at most %d replicas\n", MAX_REPLICAS);
                return -1;
            }
            o->replicas[o->nreplicas++] = next;
        } else if (!strcmp(a, "--redis")) {
            NEED();
            o->redis = next;
        } else if (!strcmp(a, "--cache-prefix")) {
            NEED();
            o->prefix = next;
        } else if (!strcmp(a, "--no-cache")) {
            o->no_cache = 1;
        } else if (!strcmp(a, "--max-open") || !strcmp(a, "--monitor-report")) {
            NEED();
            char *end;
            long v = strtol(next, &end, 10);
            if (*end || v < 1 || v > 10000) {
                alchdb_cli_error("alchdb perftest: %s wants a number 1..10000, not '%s'\n", a, next);
                return -1;
            }
            *(a[2] == 'm' && a[3] == 'a' ? &o->max_open : &o->monitor_top) = v;
        } else if (!strcmp(a, "--format")) {
            NEED();
            if (strcmp(next, "text") && strcmp(next, "json")) {
                alchdb_cli_error("alchdb perftest: --format is text or json, not '%s'\n", next);
                return -1;
            }
            o->json = !strcmp(next, "json");
        } else if (!strcmp(a, "--load")) {
            o->load_only = 1;
        } else if (!strcmp(a, "--cleanup")) {
            o->cleanup_only = 1;
        } else if (!strcmp(a, "--list")) {
            o->list = 1;
        } else if (a[0] == '-' && a[1]) {
            alchdb_cli_error("alchdb perftest: unknown option '%s' (see --help)\n", a);
            return -1;
        } else if (o->conninfo) {
            alchdb_cli_error("alchdb perftest: one CONNINFO only (see --help)\n");
            return -1;
        } else {
            o->conninfo = a;
        }
#undef NEED
    }
    if (o->tests && set_opt(o, "--test", "tests", o->tests) != 0)
        return -1;
    if (o->targets && set_opt(o, "--target", "targets", o->targets) != 0)
        return -1;
    if (!o->conninfo && !o->list) {
        alchdb_cli_error("alchdb perftest: CONNINFO is required (see --help)\n");
        return -1;
    }
    return 0;
}

/* ---- progress --------------------------------------------------------------- */

typedef struct display {
    FILE *to;
    int tty;
    int64_t last_plain_us;
} display;

static const char *phase_name(uint32_t p)
{
    static const char *const names[] = {"", "setup", "warm-up", "measure", "done", "cleanup"};
    return p <= 5 ? names[p] : "";
}

static void on_progress(void *ud, const alchdb_perftest_progress *p)
{
    display *d = ud;
    if (p->phase == ALCHDB_PERFTEST_PHASE_SETUP || p->phase == ALCHDB_PERFTEST_PHASE_CLEANUP) {
        fprintf(d->to, "%s%s the perftest schema...\n", d->tty ? "\r\033[K" : "",
                p->phase == ALCHDB_PERFTEST_PHASE_SETUP ? "loading" : "dropping");
        fflush(d->to);
        return;
    }
    if (p->phase == ALCHDB_PERFTEST_PHASE_DONE) {
        fprintf(d->to, "%s[%u/%u] %-24s %s\n", d->tty ? "\r\033[K" : "", p->test_index + 1, p->test_count,
                p->test_name, p->passed ? "PASS" : "FAIL");
        fflush(d->to);
        return;
    }
    double el = (double)p->elapsed_us / 1e6, left = (double)(p->total_us - p->elapsed_us) / 1e6;
    if (left < 0)
        left = 0;
    if (d->tty) {
        fprintf(d->to, "\r\033[K[%u/%u] %-24s %-7s %5.1fs elapsed %5.1fs left", p->test_index + 1, p->test_count,
                p->test_name, phase_name(p->phase), el, left);
        if (p->phase == ALCHDB_PERFTEST_PHASE_MEASURE)
            fprintf(d->to, "  %8.1f ops/s  p95 %7.2f ms  errors %lld", p->ops_per_sec, (double)p->p95_us / 1e3,
                    (long long)p->errors);
        fflush(d->to);
        return;
    }
    /* plain lines: one at each phase start, then about every 5 s */
    if (p->elapsed_us == 0 || p->elapsed_us - d->last_plain_us >= 5000000 || p->elapsed_us < d->last_plain_us) {
        d->last_plain_us = p->elapsed_us;
        fprintf(d->to, "[%u/%u] %s %s %.1fs/%.1fs", p->test_index + 1, p->test_count, p->test_name,
                phase_name(p->phase), el, (double)p->total_us / 1e6);
        if (p->phase == ALCHDB_PERFTEST_PHASE_MEASURE && p->elapsed_us > 0)
            fprintf(d->to, " %.1f ops/s p95 %.2f ms errors %lld", p->ops_per_sec, (double)p->p95_us / 1e3,
                    (long long)p->errors);
        fputc('\n', d->to);
        fflush(d->to);
    }
}

/* ---- the client --------------------------------------------------------------- */

typedef struct rig {
    alchdb_router *router;
    alchdb_client *client;
    alchdb_cache *cache;
    alchdb_monitor *monitor;
} rig;

static void rig_free(rig *r)
{
    alchdb_client_free(r->client);
    alchdb_router_free(r->router);
    alchdb_cache_free(r->cache);
    alchdb_monitor_free(r->monitor);
}

static int fail(const char *what)
{
    alchdb_cli_error("alchdb perftest: %s: %s\n", what, alchdb_last_error_message());
    return -1;
}

static int rig_open(const opts *o, rig *r)
{
    alchdb_pool_config *pc = NULL;
    if (alchdb_pool_config_new(&pc) != 0)
        return fail("pool config");
    alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_OPEN, o->max_open);
    int rc;
    if (o->nreplicas) {
        rc = alchdb_router_new(o->conninfo, pc, NULL, &r->router);
        for (int i = 0; rc == 0 && i < o->nreplicas; i++)
            rc = alchdb_router_add_replica(r->router, o->replicas[i], 1);
        if (rc == 0)
            rc = alchdb_router_start(r->router);
        if (rc == 0)
            rc = alchdb_client_new_routed(r->router, &r->client);
    } else {
        rc = alchdb_client_open(o->conninfo, pc, &r->client);
    }
    alchdb_pool_config_free(pc);
    if (rc != 0)
        return fail("client");
    alchdb_monitor_config *mc = NULL;
    rc = alchdb_monitor_config_new(&mc);
    if (rc == 0)
        rc = alchdb_monitor_new(mc, &r->monitor);
    alchdb_monitor_config_free(mc);
    if (rc == 0)
        rc = alchdb_client_set_monitor(r->client, r->monitor);
    if (rc != 0)
        return fail("monitor");
    if (o->no_cache)
        return 0;
    alchdb_cache_config *cc = NULL;
    rc = alchdb_cache_config_new(&cc);
    if (rc == 0 && o->redis) {
        char host[256];
        const char *colon = strrchr(o->redis, ':');
        size_t hl = colon ? (size_t)(colon - o->redis) : 0;
        if (!colon || !hl || hl >= sizeof host) {
            alchdb_cache_config_free(cc);
            alchdb_cli_error("alchdb perftest: --redis wants HOST:PORT\n");
            return -1;
        }
        memcpy(host, o->redis, hl);
        host[hl] = 0;
        rc = alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_BACKEND, "redis");
        if (rc == 0)
            rc = alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_REDIS_HOST, host);
        if (rc == 0)
            rc = alchdb_cache_config_set_from_string(cc, "redis_port", colon + 1);
        if (rc == 0)
            rc = alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_PREFIX,
                                                o->prefix ? o->prefix : "alchdb:perftest");
    }
    if (rc == 0)
        rc = alchdb_cache_new(cc, &r->cache);
    alchdb_cache_config_free(cc);
    if (rc == 0)
        rc = alchdb_client_set_cache(r->client, r->cache, NULL);
    return rc == 0 ? 0 : fail("cache");
}

/* ---- the monitor's view ------------------------------------------------------- */

static void monitor_report(alchdb_monitor *mon, long top)
{
    char *js = NULL;
    alchdb_monitor_flush(mon);
    if (alchdb_monitor_patterns_to_json(mon, ALCHDB_MONITOR_SORT_TOTAL_TIME, top, 0, &js) != 0)
        return;
    json_t *arr = json_loads(js, 0, NULL);
    alchdb_free(js);
    printf("\nMonitor: top %ld query patterns by total time\n", top);
    printf("  %8s %9s %9s  %s\n", "CALLS", "P95 ms", "TOTAL s", "PATTERN");
    size_t i;
    json_t *p;
    json_array_foreach(arr, i, p)
    {
        const char *text = json_string_value(json_object_get(p, "text"));
        printf("  %8lld %9.2f %9.2f  %.90s\n", (long long)json_integer_value(json_object_get(p, "calls")),
               (double)json_integer_value(json_object_get(p, "p95_us")) / 1e3,
               (double)json_integer_value(json_object_get(p, "total_us")) / 1e6, text ? text : "");
    }
    json_decref(arr);
    if (alchdb_monitor_analysis_to_json(mon, top, &js) != 0)
        return;
    json_t *an = json_loads(js, 0, NULL);
    alchdb_free(js);
    printf("\nMonitor: suggestions\n");
    size_t shown = 0;
    json_array_foreach(json_object_get(an, "suggestions"), i, p)
    {
        const char *code = json_string_value(json_object_get(p, "code"));
        const char *msg = json_string_value(json_object_get(p, "message"));
        printf("  - [%s] %s\n", code ? code : "?", msg ? msg : "");
        shown++;
    }
    json_array_foreach(json_object_get(an, "recommendations"), i, p)
    {
        const char *msg = json_is_string(p) ? json_string_value(p) : json_string_value(json_object_get(p, "message"));
        if (msg) {
            printf("  - %s\n", msg);
            shown++;
        }
    }
    if (!shown)
        printf("  none\n");
    json_decref(an);
}

static void list_tests(void)
{
    printf("%-24s\n", "TEST");
    for (size_t i = 0; i < alchdb_perftest_test_count(); i++)
        printf("%s\n", alchdb_perftest_test_name(i));
}

int alchdb_cli_perftest(int argc, char **argv)
{
    opts o = {.max_open = 100};
    if (alchdb_perftest_config_new(&o.cfg) != 0) {
        alchdb_cli_error("alchdb perftest: out of memory\n");
        return 2;
    }
    /* ALCHDB_PERFTEST_<OPTION> variables first; flags override them */
    int rc = alchdb_perftest_config_from_env(o.cfg, "ALCHDB_PERFTEST");
    if (rc != 0) {
        alchdb_cli_error("alchdb perftest: %s\n", alchdb_last_error_message());
        rc = -1;
    } else {
        rc = parse_args(argc, argv, &o);
    }
    int status = 2;
    rig r = {0};
    alchdb_perftest_report *rep = NULL;
    if (rc != 0) {
        status = rc > 0 ? 0 : 2;
        goto out;
    }
    if (o.list) {
        list_tests();
        status = 0;
        goto out;
    }
    if (rig_open(&o, &r) != 0)
        goto out;
    alchdb_perftest_target t = {.size = sizeof t, .client = r.client, .router = r.router, .cache = r.cache};
    if (o.load_only || o.cleanup_only) {
        if (o.load_only && alchdb_perftest_setup(&t, o.cfg) != 0) {
            fail("load");
            goto out;
        }
        if (o.cleanup_only && alchdb_perftest_cleanup(&t, o.cfg) != 0) {
            fail("cleanup");
            goto out;
        }
        printf("%s\n", o.load_only ? "loaded" : "dropped");
        status = 0;
        goto out;
    }
    display d = {.to = o.json ? stderr : stdout};
    d.tty = isatty(fileno(d.to));
    if (alchdb_perftest_run(&t, o.cfg, NULL, on_progress, &d, &rep) != 0) {
        if (d.tty)
            fputc('\n', d.to);
        fail("run");
        goto out;
    }
    char *text = NULL;
    if ((o.json ? alchdb_perftest_report_json(rep, &text) : alchdb_perftest_report_text(rep, &text)) != 0) {
        fail("report");
        goto out;
    }
    fputs(text, stdout);
    if (o.json)
        fputc('\n', stdout);
    alchdb_free(text);
    if (o.monitor_top && !o.json)
        monitor_report(r.monitor, o.monitor_top);
    alchdb_perftest_summary s = {.size = sizeof s};
    alchdb_perftest_report_summary(rep, &s, sizeof s);
    status = s.failed ? 1 : 0;
out:
    alchdb_perftest_report_free(rep);
    rig_free(&r);
    alchdb_perftest_config_free(o.cfg);
    free(o.tests);
    free(o.targets);
    return status;
}
