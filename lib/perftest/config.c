/* Perftest options (through the one option engine), the table of tests with
 * their ADR-0008 targets, and the parsers of the test selection and of the
 * target overrides. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pt.h"
#include "seam.h"

#define MS 1000
#define S (1000 * MS)
#define PCT 1000 /* percentages are stored in milli-percent */
#define NJ (-1)  /* not judged */

/* The ADR-0008 suite: its workers and targets; think times model an
 * application that does work between queries (the throughput tests have none). */
const pt_test_def alchdb__pt_tests[PT_NTESTS] = {
    {"pool_utilization", "Connection Pool Utilization", 100, PT_OP_MIX, 20 * MS, 0,
     {NJ, NJ, 1 * PCT, 90 * PCT, NJ},
     "raise max_open_conns or shorten the time each request holds a connection.", 0},
    {"connection_acquisition", "Connection Acquisition Speed", 50, PT_OP_ACQUIRE, 2 * MS, 0,
     {5 * MS, NJ, PCT / 10, NJ, NJ},
     "keep idle connections ready (min_idle_conns) and make sure the pool is not exhausted.", 0},
    {"recipe_search", "Recipe Search", 50, PT_OP_SEARCH, 0, 0,
     {100 * MS, 100, PCT / 2, NJ, NJ},
     "index recipes(cuisine, created_at), consider a trigram index for title search, route it to replicas.", 0},
    {"user_recipe_lookup", "User Recipe Lookup", 30, PT_OP_USER, 0, 0,
     {50 * MS, 200, NJ, NJ, NJ},
     "index recipes(user_id, created_at) and route these reads to replicas.", 0},
    {"rating_aggregation", "Recipe Rating Aggregation", 20, PT_OP_RATING, 0, 0,
     {200 * MS, 50, NJ, NJ, NJ},
     "index recipe_ratings(recipe_id) and cache the aggregates (or keep a summary table).", 0},
    {"cache_hit_rate", "Query Cache Hit Rate", 100, PT_OP_CACHED, 0, 0,
     {10 * MS, 500, NJ, NJ, 90 * PCT},
     "a hit costs a cache round trip plus decoding: on a saturated client host use the memory backend for hot keys or fewer workers per core.", 0},
    {"sustained_load", "Sustained Load", 200, PT_OP_MIX, 20 * MS, 1,
     {500 * MS, 100, 2 * PCT, 85 * PCT, NJ},
     "add replicas for reads, raise max_open_conns, and cache the heaviest read patterns.", 0},
    {"burst_load", "Burst Load", 500, PT_OP_MIX, 50 * MS, 0,
     {1 * S, NJ, 5 * PCT, 95 * PCT, NJ},
     "keep max_waiters and acquire_timeout high enough to absorb bursts; pre-open connections.", 1},
    {"index_vs_seq_scan", "Index Scan vs Sequential Scan", 30, PT_OP_SCAN, 0, 0,
     {100 * MS, 100, NJ, NJ, NJ},
     "index the columns the slow half filters on (recipe_views.user_id); run the advisor.", 0},
};

static const char *const metric_names[PT_NMETRICS] = {"p95", "ops", "errors", "util", "hit"};

static const char *const profile_choices[] = {"quick", "default", "full", NULL};

static int check_schema(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 63 && (islower((unsigned char)v[0]) || v[0] == '_');
    for (size_t i = 0; ok && i < n; i++)
        ok = islower((unsigned char)v[i]) || isdigit((unsigned char)v[i]) || v[i] == '_';
    if (!ok)
        snprintf(why, cap, "must be a plain lower-case identifier of 1..63 characters");
    return ok ? 0 : -1;
}

static int check_tests(const char *v, char *why, size_t cap)
{
    unsigned mask;
    return alchdb__pt_select(v, &mask, why, cap) == 0 ? 0 : -1;
}

static int check_targets(const char *v, char *why, size_t cap)
{
    pt_targets t;
    return alchdb__pt_targets_parse(v, &t, why, cap) == 0 ? 0 : -1;
}

static const alchdb__optdef defs[] = {
    {ALCHDB_PERFTEST_OPT_PROFILE, "profile", ALCHDB_OPT_ENUM, 0, 2, 1, NULL, profile_choices, NULL, 0,
     "durations: quick (seconds per test), default (shortened) or full (ADR-0008's)"},
    {ALCHDB_PERFTEST_OPT_TESTS, "tests", ALCHDB_OPT_STRING, 0, 0, 0, "", NULL, check_tests, 0,
     "comma-separated test names to run; empty = all nine"},
    {ALCHDB_PERFTEST_OPT_TARGETS, "targets", ALCHDB_OPT_STRING, 0, 0, 0, "", NULL, check_targets, 0,
     "target overrides, test.metric=value,... (metrics p95, ops, errors, util, hit)"},
    {ALCHDB_PERFTEST_OPT_RECIPES, "recipes", ALCHDB_OPT_INT, 100, 10000000, 10000, NULL, NULL, NULL, 0,
     "recipes generated"},
    {ALCHDB_PERFTEST_OPT_USERS, "users", ALCHDB_OPT_INT, 10, 1000000, 1000, NULL, NULL, NULL, 0,
     "users generated"},
    {ALCHDB_PERFTEST_OPT_SEED, "seed", ALCHDB_OPT_INT, 0, INT64_C(1) << 62, 42, NULL, NULL, NULL, 0,
     "seed of the data and argument generators"},
    {ALCHDB_PERFTEST_OPT_SCHEMA, "schema", ALCHDB_OPT_STRING, 0, 0, 0, "alchdb_perftest", NULL, check_schema, 0,
     "schema the perftest creates, owns and drops"},
    {ALCHDB_PERFTEST_OPT_KEEP_DATA, "keep_data", ALCHDB_OPT_BOOL, 0, 1, 0, NULL, NULL, NULL, 0,
     "leave the schema after the run (the next run reuses it)"},
    {ALCHDB_PERFTEST_OPT_DURATION, "duration", ALCHDB_OPT_DURATION, 0, INT64_C(86400000000), 0, NULL, NULL, NULL, 0,
     "measured time per test; 0 = the profile's"},
    {ALCHDB_PERFTEST_OPT_WARMUP, "warmup", ALCHDB_OPT_DURATION, 0, INT64_C(86400000000), 0, NULL, NULL, NULL, 0,
     "warm-up per test; 0 = the profile's"},
    {ALCHDB_PERFTEST_OPT_WORKER_SCALE, "worker_scale", ALCHDB_OPT_INT, 1, 100, 100, NULL, NULL, NULL, 0,
     "percent of each test's workers to start"},
};

const alchdb__optspec alchdb__perftest_spec = {"perftest", defs, sizeof defs / sizeof defs[0]};

ALCHDB__CONFIG_API(perftest, alchdb_perftest_config, opts, &alchdb__perftest_spec)

ALCHDB_API size_t alchdb_perftest_test_count(void)
{
    return PT_NTESTS;
}

ALCHDB_API const char *alchdb_perftest_test_name(size_t i)
{
    return i < PT_NTESTS ? alchdb__pt_tests[i].name : NULL;
}

static int test_index(const char *name, size_t len)
{
    for (int i = 0; i < PT_NTESTS; i++)
        if (strlen(alchdb__pt_tests[i].name) == len && strncasecmp(alchdb__pt_tests[i].name, name, len) == 0)
            return i;
    return -1;
}

/* Items of a comma-separated list, blanks around them ignored. */
static const char *next_item(const char *p, const char **start, size_t *len)
{
    while (*p == ' ' || *p == ',')
        p++;
    *start = p;
    while (*p && *p != ',')
        p++;
    size_t n = (size_t)(p - *start);
    while (n && (*start)[n - 1] == ' ')
        n--;
    *len = n;
    return p;
}

int alchdb__pt_select(const char *text, unsigned *mask, char *why, size_t cap)
{
    *mask = 0;
    const char *p = text ? text : "";
    for (;;) {
        const char *s;
        size_t n;
        p = next_item(p, &s, &n);
        if (!n)
            break;
        int i = test_index(s, n);
        if (i < 0) {
            snprintf(why, cap, "unknown test '%.*s' (tests: pool_utilization, connection_acquisition, "
                               "recipe_search, user_recipe_lookup, rating_aggregation, cache_hit_rate, "
                               "sustained_load, burst_load, index_vs_seq_scan)",
                     (int)(n > 64 ? 64 : n), s);
            return ALCHDB_E_INVALID;
        }
        *mask |= 1u << i;
    }
    if (!*mask)
        *mask = (1u << PT_NTESTS) - 1;
    return 0;
}

static int parse_value(int metric, const char *v, int64_t *out)
{
    if (metric == PT_M_P95)
        return alchdb__parse_duration(v, out) == 0 && *out > 0 ? 0 : -1;
    char *end;
    double d = strtod(v, &end);
    if (end == v || *end || d < 0 || d > 1e12)
        return -1;
    if (metric == PT_M_OPS) {
        *out = (int64_t)(d + 0.5);
        return 0;
    }
    if (d > 100)
        return -1;
    *out = (int64_t)(d * PCT + 0.5);
    return 0;
}

int alchdb__pt_targets_parse(const char *text, pt_targets *t, char *why, size_t cap)
{
    for (int i = 0; i < PT_NTESTS; i++)
        memcpy(t->v[i], alchdb__pt_tests[i].target, sizeof t->v[i]);
    const char *p = text ? text : "";
    for (;;) {
        const char *s;
        size_t n;
        p = next_item(p, &s, &n);
        if (!n)
            return 0;
        char item[160];
        if (n >= sizeof item) {
            snprintf(why, cap, "an item is longer than %zu bytes", sizeof item - 1);
            return ALCHDB_E_INVALID;
        }
        memcpy(item, s, n);
        item[n] = 0;
        char *dot = strchr(item, '.'), *eq = strchr(item, '=');
        if (!dot || !eq || eq < dot) {
            snprintf(why, cap, "'%s' is not test.metric=value", item);
            return ALCHDB_E_INVALID;
        }
        *dot = *eq = 0;
        int ti = test_index(item, strlen(item));
        if (ti < 0) {
            snprintf(why, cap, "unknown test '%s'", item);
            return ALCHDB_E_INVALID;
        }
        int m = -1;
        for (int k = 0; k < PT_NMETRICS; k++)
            if (!strcasecmp(dot + 1, metric_names[k]))
                m = k;
        if (m < 0) {
            snprintf(why, cap, "unknown metric '%s' (p95, ops, errors, util, hit)", dot + 1);
            return ALCHDB_E_INVALID;
        }
        if (parse_value(m, eq + 1, &t->v[ti][m]) != 0) {
            snprintf(why, cap, "bad value '%s' for %s.%s (%s)", eq + 1, item, metric_names[m],
                     m == PT_M_P95   ? "a duration with a unit, e.g. 150ms"
                     : m == PT_M_OPS ? "operations per second"
                                     : "a percentage 0..100");
            return ALCHDB_E_INVALID;
        }
    }
}

const char *alchdb__pt_metric_name(int m)
{
    return m >= 0 && m < PT_NMETRICS ? metric_names[m] : "?";
}

/* quick, default, full: global warm-up, per-test warm-up, measured, cool-down. */
static const pt_timing profiles[3] = {
    {1 * S, S / 2, 3 * S, 3 * S / 10, 2},
    {10 * S, 5 * S, 20 * S, 2 * S, 3},
    {120 * S, 10 * S, 60 * S, 5 * S, 5},
};

void alchdb__pt_timing(const alchdb__opts *o, pt_timing *t)
{
    int64_t p = alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_PROFILE);
    *t = profiles[p >= 0 && p <= 2 ? p : 1];
    int64_t d = alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_DURATION);
    int64_t w = alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_WARMUP);
    if (d > 0)
        t->measure_us = d;
    if (w > 0) {
        t->warmup_us = w;
        t->global_warmup_us = 2 * w;
    }
    if (d > 0 && t->cooldown_us > d / 4)
        t->cooldown_us = d / 4;
}

int alchdb__perftest_config_copy(const alchdb_perftest_config *src, alchdb_perftest_config **out)
{
    *out = NULL;
    alchdb_perftest_config *c;
    int rc = alchdb_perftest_config_new(&c);
    if (rc != 0)
        return rc;
    if (src) {
        alchdb__opts_free(&c->opts);
        if (alchdb__opts_copy(&c->opts, &src->opts) != 0) {
            alchdb__free(c);
            return alchdb__nomem("perftest options");
        }
    }
    *out = c;
    return 0;
}
