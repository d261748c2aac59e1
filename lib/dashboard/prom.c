/* Prometheus text exposition (format 0.0.4). Each family is a row of a
 * table: name, type, help and the function that writes its samples; a
 * family whose module is not attached writes no samples and is left out. */
#include <stdio.h>
#include <string.h>

#include "alchdb/sql.h"
#include "dashboard/dash.h"

#define MAX_POOLS 65

typedef void (*emit_fn)(const dash_view *v, alchdb__strbuf *sb, const char *name);

typedef struct family {
    const char *name, *type, *help;
    emit_fn emit;
} family;

void alchdb__dash_prom_label(alchdb__strbuf *sb, const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t left = strlen((const char *)p);
    while (left) {
        size_t bad = 1, n = *p < 0x80 ? 1 : alchdb__utf8_seq(p, left, &bad);
        if (n == 0) {
            alchdb__sb_puts(sb, "\xEF\xBF\xBD");
            p += bad;
            left -= bad;
            continue;
        }
        if (*p == '\\')
            alchdb__sb_puts(sb, "\\\\");
        else if (*p == '"')
            alchdb__sb_puts(sb, "\\\"");
        else if (*p == '\n')
            alchdb__sb_puts(sb, "\\n");
        else
            alchdb__sb_append(sb, (const char *)p, n);
        p += n;
        left -= n;
    }
}

/* name{k1="v1",k2="v2"} value; labels as NULL-terminated key/value pairs. */
static void sample(alchdb__strbuf *sb, const char *name, const char *const *labels, double x)
{
    alchdb__sb_puts(sb, name);
    for (size_t i = 0; labels && labels[i]; i += 2) {
        alchdb__sb_printf(sb, "%s%s=\"", i ? "," : "{", labels[i]);
        alchdb__dash_prom_label(sb, labels[i + 1]);
        alchdb__sb_puts(sb, "\"");
    }
    if (labels && labels[0])
        alchdb__sb_puts(sb, "}");
    if (x == (double)(int64_t)x && x > -9007199254740992.0 && x < 9007199254740992.0)
        alchdb__sb_printf(sb, " %lld\n", (long long)x);
    else
        alchdb__sb_printf(sb, " %.15g\n", x);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- pools -------------------------------------------------------------------------- */

typedef struct pool_row {
    const char *name;
    alchdb_pool_metrics m;
} pool_row;

static size_t pools(const dash_view *v, pool_row *rows)
{
    alchdb_pool *p[MAX_POOLS];
    size_t n = 0, k = 0;
    if (v->pool)
        p[n++] = v->pool;
    if (v->rt)
        for (size_t i = 0; i < alchdb_router_host_count(v->rt) && n < MAX_POOLS; i++)
            if (alchdb_router_host_pool(v->rt, i) && alchdb_router_host_pool(v->rt, i) != v->pool)
                p[n++] = alchdb_router_host_pool(v->rt, i);
    for (size_t i = 0; i < n; i++) {
        memset(&rows[k].m, 0, sizeof rows[k].m);
        if (alchdb_pool_get_metrics(p[i], &rows[k].m, sizeof rows[k].m) == 0)
            rows[k++].name = alchdb_pool_name(p[i]);
    }
    return k;
}

static void conn_state(const dash_view *v, alchdb__strbuf *sb, const char *name, int idle)
{
    pool_row rows[MAX_POOLS];
    size_t n = pools(v, rows);
    if (!n)
        return;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += idle ? rows[i].m.idle : rows[i].m.in_use;
    sample(sb, name, NULL, (double)total);
}

static void f_active(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    conn_state(v, sb, name, 0);
}

static void f_idle(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    conn_state(v, sb, name, 1);
}

/* One family per pool metrics member, by offset. */
#define POOL_FAMILY(fn, member)                                                                \
    static void fn(const dash_view *v, alchdb__strbuf *sb, const char *name)                   \
    {                                                                                          \
        pool_row rows[MAX_POOLS];                                                              \
        size_t n = pools(v, rows);                                                             \
        for (size_t i = 0; i < n; i++)                                                         \
            sample(sb, name, L("pool", rows[i].name), (double)rows[i].m.member);               \
    }
POOL_FAMILY(f_pool_max, max_open)
POOL_FAMILY(f_pool_open, open)
POOL_FAMILY(f_pool_waiters, waiters)
POOL_FAMILY(f_pool_acq, acquisitions)
POOL_FAMILY(f_pool_waited, waited)
POOL_FAMILY(f_pool_timeouts, timeouts)
POOL_FAMILY(f_pool_rejected, rejected)
POOL_FAMILY(f_pool_connect_errors, connect_errors)

static void f_pool_wait_p95(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    pool_row rows[MAX_POOLS];
    size_t n = pools(v, rows);
    for (size_t i = 0; i < n; i++)
        sample(sb, name, L("pool", rows[i].name), (double)rows[i].m.wait_p95_ns / 1e9);
}

/* ---- router --------------------------------------------------------------------------- */

static void router_hosts(const dash_view *v, alchdb__strbuf *sb, const char *name, int what)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(v->router, "hosts"), i, h)
    {
        const char *host = json_string_value(json_object_get(h, "name"));
        const char *role = json_string_value(json_object_get(h, "role"));
        double x = what == 0   ? (json_is_true(json_object_get(h, "healthy")) ? 1 : 0)
                   : what == 1 ? json_number_value(json_object_get(h, "lag_seconds"))
                               : (double)json_integer_value(json_object_get(h, "errors"));
        if (what == 1 && role && strcmp(role, "replica") != 0)
            continue;
        sample(sb, name, L("host", host ? host : "", "role", role ? role : ""), x);
    }
}

static void f_rt_up(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    router_hosts(v, sb, name, 0);
}

static void f_rt_lag(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    router_hosts(v, sb, name, 1);
}

static void f_rt_errors(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    router_hosts(v, sb, name, 2);
}

/* ---- cache ------------------------------------------------------------------------------ */

static bool cache_metrics(const dash_view *v, alchdb_cache_metrics *m)
{
    memset(m, 0, sizeof *m);
    m->size = sizeof *m;
    return v->cache && alchdb_cache_get_metrics(v->cache, m, sizeof *m) == 0;
}

static void f_cache_ratio(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    alchdb_cache_metrics m;
    if (cache_metrics(v, &m))
        sample(sb, name, L("cache_type", alchdb_cache_backend(v->cache)),
               m.lookups ? (double)m.hits / (double)m.lookups : 0.0);
}

static void f_cache_ops(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    alchdb_cache_metrics m;
    if (!cache_metrics(v, &m))
        return;
    const char *t = alchdb_cache_backend(v->cache);
    const struct {
        const char *op, *status;
        int64_t n;
    } rows[] = {
        {"get", "hit", m.hits},
        {"get", "miss", m.misses},
        {"set", "stored", m.fills},
        {"set", "rejected", m.fills_rejected},
        {"set", "too_large", m.fills_too_large},
        {"invalidate", "sent", m.invalidations},
        {"backend", "error", m.backend_errors},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        sample(sb, name, L("operation", rows[i].op, "cache_type", t, "status", rows[i].status),
               (double)rows[i].n);
}

static void f_cache_bypass(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    if (!v->cache)
        return;
    /* every reason, new ones included: the count answers INVALID past the last */
    int64_t n;
    for (int r = 0; (n = alchdb_cache_bypass_count(v->cache, r)) >= 0; r++)
        sample(sb, name, L("reason", alchdb_cache_bypass_name(r)), (double)n);
}

/* ---- monitor ------------------------------------------------------------------------------ */

static const int64_t bounds_us[] = {1000, 5000, 10000, 50000, 100000, 500000, 1000000};
#define NB (sizeof bounds_us / sizeof bounds_us[0])

typedef struct hgroup {
    char op[16], table[128];
    int64_t le[NB], count, sum_us;
} hgroup;

static hgroup *group_of(hgroup *g, size_t *n, size_t cap, const char *op, const char *table)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp(g[i].op, op) && !strcmp(g[i].table, table))
            return &g[i];
    if (*n >= cap)
        return NULL;
    hgroup *x = &g[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->op, sizeof x->op, "%s", op);
    snprintf(x->table, sizeof x->table, "%s", table);
    return x;
}

/* The statement kind and main table of a pattern's text: the written table
 * for writes, else the first table read. */
static void op_table(const char *text, char *op, size_t opcap, char *table, size_t tcap)
{
    snprintf(op, opcap, "other");
    snprintf(table, tcap, "none");
    alchdb_sql_analysis *a = NULL;
    alchdb__error_state es;
    alchdb__error_save(&es);
    if (text && alchdb_sql_analyze(text, strlen(text), &a) == 0 && alchdb_sql_analysis_count(a) >= 1) {
        int kind = alchdb_sql_stmt_kind(a, 0);
        const char *kn = kind >= 0 ? alchdb_sql_kind_name(kind) : NULL;
        if (kn)
            snprintf(op, opcap, "%s", kn);
        int which = alchdb_sql_stmt_table_count(a, 0, ALCHDB_SQL_TABLES_WRITTEN)
                        ? ALCHDB_SQL_TABLES_WRITTEN
                        : ALCHDB_SQL_TABLES_READ;
        const char *t = alchdb_sql_stmt_table_count(a, 0, which)
                            ? alchdb_sql_stmt_table(a, 0, which, 0)
                            : NULL;
        if (t)
            snprintf(table, tcap, "%s", t);
    }
    alchdb_sql_analysis_free(a);
    alchdb__error_restore(&es);
}

static void emit_hist(alchdb__strbuf *sb, const char *name, const hgroup *g)
{
    char bucket[128], sum[128], count[128];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    snprintf(sum, sizeof sum, "%s_sum", name);
    snprintf(count, sizeof count, "%s_count", name);
    static const char *const le[] = {"0.001", "0.005", "0.01", "0.05", "0.1", "0.5", "1"};
    for (size_t b = 0; b < NB; b++)
        sample(sb, bucket, L("operation", g->op, "table", g->table, "le", le[b]),
               (double)g->le[b]);
    sample(sb, bucket, L("operation", g->op, "table", g->table, "le", "+Inf"), (double)g->count);
    sample(sb, sum, L("operation", g->op, "table", g->table), (double)g->sum_us / 1e6);
    sample(sb, count, L("operation", g->op, "table", g->table), (double)g->count);
}

/* The top patterns (at most max_pattern_series) grouped by operation and
 * table; every other execution under operation="other", table="other", so
 * the family's total is the monitor's total. */
static void f_duration(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    if (!v->monitor)
        return;
    hgroup all;
    memset(&all, 0, sizeof all);
    if (alchdb_monitor_histogram(v->monitor, NULL, bounds_us, NB, all.le, &all.count,
                                 &all.sum_us) != 0)
        return;
    size_t cap = (size_t)v->max_pattern_series + 1, n = 0;
    hgroup *g = alchdb__calloc(cap, sizeof *g);
    if (!g) {
        sb->failed = true;
        return;
    }
    hgroup rest = all;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(v->analysis, "top_by_total_time"), i, p)
    {
        if ((int64_t)i >= v->max_pattern_series)
            break;
        const char *id = json_string_value(json_object_get(p, "id"));
        hgroup one;
        if (!id || alchdb_monitor_histogram(v->monitor, id, bounds_us, NB, one.le, &one.count,
                                            &one.sum_us) != 0)
            continue;
        char op[16], table[128];
        op_table(json_string_value(json_object_get(p, "text")), op, sizeof op, table, sizeof table);
        hgroup *x = group_of(g, &n, cap, op, table);
        if (!x)
            continue;
        for (size_t b = 0; b < NB; b++) {
            x->le[b] += one.le[b];
            rest.le[b] -= one.le[b];
        }
        x->count += one.count;
        x->sum_us += one.sum_us;
        rest.count -= one.count;
        rest.sum_us -= one.sum_us;
    }
    for (size_t k = 0; k < n; k++)
        emit_hist(sb, name, &g[k]);
    /* Counts move between the reads above; a remainder never goes negative. */
    for (size_t b = 0; b < NB; b++)
        if (rest.le[b] < 0)
            rest.le[b] = 0;
    if (rest.count > 0) {
        for (size_t b = 1; b < NB; b++)
            if (rest.le[b] < rest.le[b - 1])
                rest.le[b] = rest.le[b - 1];
        if (rest.count < rest.le[NB - 1])
            rest.count = rest.le[NB - 1];
        if (rest.sum_us < 0)
            rest.sum_us = 0;
        snprintf(rest.op, sizeof rest.op, "other");
        snprintf(rest.table, sizeof rest.table, "other");
        emit_hist(sb, name, &rest);
    }
    alchdb__free(g);
}

static void f_mon_total(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    const json_t *s = json_object_get(v->analysis, "summary");
    if (!s)
        return;
    sample(sb, name, L("result", "ok"),
           (double)(json_integer_value(json_object_get(s, "calls")) -
                    json_integer_value(json_object_get(s, "errors"))));
    sample(sb, name, L("result", "error"), (double)json_integer_value(json_object_get(s, "errors")));
}

static void f_mon_slow(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    const json_t *s = json_object_get(v->analysis, "summary");
    if (s)
        sample(sb, name, NULL, (double)json_integer_value(json_object_get(s, "slow")));
}

static void f_qps(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    if (!v->monitor)
        return;
    sample(sb, name, L("window", "uptime"), v->qps_uptime);
    sample(sb, name, L("window", "last_minute"), v->qps_last_minute);
}

static void top_patterns(const dash_view *v, alchdb__strbuf *sb, const char *name, int what)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(v->analysis, "top_by_total_time"), i, p)
    {
        if ((int64_t)i >= v->max_pattern_series)
            break;
        const char *id = json_string_value(json_object_get(p, "id"));
        double x = what == 0   ? (double)json_integer_value(json_object_get(p, "calls"))
                   : what == 1 ? (double)json_integer_value(json_object_get(p, "total_us")) / 1e6
                               : (double)json_integer_value(json_object_get(p, "p95_us")) / 1e6;
        sample(sb, name, L("queryid", id ? id : ""), x);
    }
}

static void f_pat_calls(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    top_patterns(v, sb, name, 0);
}

static void f_pat_seconds(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    top_patterns(v, sb, name, 1);
}

static void f_pat_p95(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    top_patterns(v, sb, name, 2);
}

/* ---- health, alerts, indexes ------------------------------------------------------------ */

static void f_score(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    sample(sb, name, NULL, v->health.score);
}

static void f_penalty(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    for (int i = 0; i < v->health.npen; i++)
        sample(sb, name, L("rule", v->health.pen[i].id), v->health.pen[i].points);
}

static void f_alert(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    for (size_t i = 0; i < alchdb__dash_alert_nrules; i++)
        sample(sb, name,
               L("alert", alchdb__dash_alert_rules[i].id, "severity",
                 alchdb__dash_alert_rules[i].severity),
               v->alerts[i].firing ? 1 : 0);
}

static void f_index_score(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    if (v->sample.have[DS_INDEX_SCORE])
        sample(sb, name, NULL, v->sample.v[DS_INDEX_SCORE]);
}

static void f_unused(const dash_view *v, alchdb__strbuf *sb, const char *name)
{
    if (v->sample.have[DS_UNUSED_INDEXES])
        sample(sb, name, NULL, v->sample.v[DS_UNUSED_INDEXES]);
}

static const family families[] = {
    {"db_connections_active", "gauge", "Connections held by callers, summed over the pools.", f_active},
    {"db_connections_idle", "gauge", "Idle connections, summed over the pools.", f_idle},
    {"db_query_duration_seconds", "histogram",
     "Query durations by statement kind and main table (top patterns; the rest as other).",
     f_duration},
    {"cache_hit_ratio", "gauge", "Cache hits per lookup since start.", f_cache_ratio},
    {"cache_operations_total", "counter", "Cache operations by outcome.", f_cache_ops},
    {"alchdb_health_score", "gauge", "Dashboard health score, 0 to 100.", f_score},
    {"alchdb_health_penalty_points", "gauge", "Points each health rule takes off the score.",
     f_penalty},
    {"alchdb_alert_firing", "gauge", "1 while the dashboard alert fires.", f_alert},
    {"alchdb_pool_max_open_connections", "gauge", "Configured maximum of the pool.", f_pool_max},
    {"alchdb_pool_open_connections", "gauge", "Open connections (idle and in use).", f_pool_open},
    {"alchdb_pool_waiters", "gauge", "Callers waiting for a connection now.", f_pool_waiters},
    {"alchdb_pool_acquisitions_total", "counter", "Successful acquires.", f_pool_acq},
    {"alchdb_pool_waits_total", "counter", "Acquires that had to wait.", f_pool_waited},
    {"alchdb_pool_timeouts_total", "counter", "Acquires that timed out.", f_pool_timeouts},
    {"alchdb_pool_rejected_total", "counter", "Acquires refused (too many waiters).",
     f_pool_rejected},
    {"alchdb_pool_connect_errors_total", "counter", "Failed connection attempts.",
     f_pool_connect_errors},
    {"alchdb_pool_wait_p95_seconds", "gauge", "95th percentile of acquire waits.",
     f_pool_wait_p95},
    {"alchdb_router_host_up", "gauge", "1 when the host takes reads (or writes).", f_rt_up},
    {"alchdb_router_replica_lag_seconds", "gauge", "Replay lag of each replica.", f_rt_lag},
    {"alchdb_router_host_errors_total", "counter", "Errors seen on each host.", f_rt_errors},
    {"alchdb_cache_bypasses_total", "counter", "Statements the cache did not look up, by reason.",
     f_cache_bypass},
    {"alchdb_monitor_queries_total", "counter", "Executions the monitor recorded, by result.",
     f_mon_total},
    {"alchdb_monitor_slow_queries_total", "counter",
     "Executions at or above the slow-query threshold.", f_mon_slow},
    {"alchdb_monitor_qps", "gauge", "Executions per second over the uptime and the last minute.",
     f_qps},
    {"alchdb_monitor_pattern_calls_total", "counter", "Executions of the top patterns.",
     f_pat_calls},
    {"alchdb_monitor_pattern_seconds_total", "counter", "Time spent in the top patterns.",
     f_pat_seconds},
    {"alchdb_monitor_pattern_p95_seconds", "gauge", "95th percentile duration of the top patterns.",
     f_pat_p95},
    {"alchdb_index_health_score", "gauge", "The index advisor's health score, 0 to 100.",
     f_index_score},
    {"alchdb_unused_indexes", "gauge", "Indexes the advisor found unused.", f_unused},
};

int alchdb__dash_prometheus(const dash_view *v, alchdb__strbuf *sb)
{
    alchdb__strbuf body;
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
        const family *f = &families[i];
        alchdb__sb_init(&body);
        f->emit(v, &body, f->name);
        if (body.failed) {
            alchdb__sb_reset(&body);
            return alchdb__nomem("dashboard metrics");
        }
        if (body.len) {
            alchdb__sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
                              f->type);
            alchdb__sb_append(sb, body.data, body.len);
        }
        alchdb__sb_reset(&body);
    }
    return sb->failed ? alchdb__nomem("dashboard metrics") : 0;
}
