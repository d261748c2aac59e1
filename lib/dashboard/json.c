/* The dashboard snapshot as JSON. Module JSON that the dashboard parsed is
 * re-emitted compact; everything the dashboard writes itself goes through
 * the core escaper. */
#include <stdlib.h>
#include <string.h>

#include "dashboard/dash.h"

/* Append a parsed value (or null). */
static int put_json(alchdb__strbuf *sb, const json_t *j)
{
    if (!j) {
        alchdb__sb_puts(sb, "null");
        return 0;
    }
    char *t = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!t)
        return alchdb__nomem("dashboard JSON");
    alchdb__sb_puts(sb, t);
    free(t);
    return 0;
}

/* Append a module's owned JSON text (or null when the call failed). */
static void put_text(alchdb__strbuf *sb, int rc, char *text)
{
    alchdb__sb_puts(sb, rc == 0 && text ? text : "null");
    alchdb_free(text);
}

/* One trend point from a monitor window: its counts, and every latency
 * member of the window (mean, max and the window's own p50/p90/p95/p99; p95
 * is what the page draws, the percentile the ADR-0008 targets are judged
 * on), null only when the window lacks one. */
void alchdb__dash_trend_point(alchdb__strbuf *sb, const json_t *w, double unit_s)
{
    static const char *const lat[] = {"mean_us", "max_us", "p50_us", "p90_us", "p95_us", "p99_us"};
    int64_t calls = json_integer_value(json_object_get(w, "calls"));
    alchdb__sb_printf(sb, "{\"start_us\":%lld,\"calls\":%lld,\"qps\":%.3f,\"errors\":%lld,\"slow\":%lld",
                      (long long)json_integer_value(json_object_get(w, "start_us")),
                      (long long)calls, (double)calls / unit_s,
                      (long long)json_integer_value(json_object_get(w, "errors")),
                      (long long)json_integer_value(json_object_get(w, "slow")));
    for (size_t i = 0; i < sizeof lat / sizeof lat[0]; i++) {
        const json_t *x = json_object_get(w, lat[i]);
        if (json_is_number(x))
            alchdb__sb_printf(sb, ",\"%s\":%.1f", lat[i], json_number_value(x));
        else
            alchdb__sb_printf(sb, ",\"%s\":null", lat[i]);
    }
    alchdb__sb_puts(sb, "}");
}

static void trend(alchdb__strbuf *sb, const json_t *analysis)
{
    const json_t *t = json_object_get(analysis, "trend");
    static const struct {
        const char *name;
        double unit_s;
    } series[] = {{"minutes", 60.0}, {"hours", 3600.0}};
    alchdb__sb_puts(sb, "{");
    for (size_t k = 0; k < 2; k++) {
        alchdb__sb_printf(sb, "%s\"%s\":[", k ? "," : "", series[k].name);
        size_t i;
        const json_t *w;
        json_array_foreach(json_object_get(t, series[k].name), i, w)
        {
            if (i)
                alchdb__sb_puts(sb, ",");
            alchdb__dash_trend_point(sb, w, series[k].unit_s);
        }
        alchdb__sb_puts(sb, "]");
    }
    alchdb__sb_puts(sb, "}");
}

static void pool_json(alchdb__strbuf *sb, alchdb_pool *p, bool *first)
{
    alchdb_pool_metrics m;
    memset(&m, 0, sizeof m);
    if (!p || alchdb_pool_get_metrics(p, &m, sizeof m) != 0)
        return;
    alchdb__sb_puts(sb, *first ? "{\"name\":" : ",{\"name\":");
    alchdb__sb_json_str(sb, alchdb_pool_name(p));
    alchdb__sb_printf(sb,
                      ",\"max_open\":%lld,\"open\":%lld,\"idle\":%lld,\"in_use\":%lld,"
                      "\"waiters\":%lld,\"utilization_pct\":%.2f,\"acquisitions\":%lld,"
                      "\"waited\":%lld,\"timeouts\":%lld,\"wait_p95_ns\":%lld,"
                      "\"connect_errors\":%lld}",
                      (long long)m.max_open, (long long)m.open, (long long)m.idle,
                      (long long)m.in_use, (long long)m.waiters, m.utilization_pct,
                      (long long)m.acquisitions, (long long)m.waited, (long long)m.timeouts,
                      (long long)m.wait_p95_ns, (long long)m.connect_errors);
    *first = false;
}

/* The pools the dashboard reads: the attached one, then the router's hosts. */
void alchdb__dash_pools_json(const dash_view *v, alchdb__strbuf *sb)
{
    bool first = true;
    alchdb__sb_puts(sb, "{\"pools\":[");
    pool_json(sb, v->pool, &first);
    if (v->rt)
        for (size_t i = 0; i < alchdb_router_host_count(v->rt); i++)
            pool_json(sb, alchdb_router_host_pool(v->rt, i), &first);
    alchdb__sb_printf(sb, "],\"utilization_pct\":%.2f}", v->sample.v[DS_CONN_UTIL_PCT]);
}

void alchdb__dash_indexes_json(const dash_view *v, alchdb__strbuf *sb)
{
    const alchdb_advisor_report *r = v->adv_report;
    double usage = alchdb_advisor_report_index_usage_ratio(r);
    alchdb__sb_printf(sb, "{\"score\":%d,\"usage_ratio\":", alchdb_advisor_report_health(r));
    if (usage < 0)
        alchdb__sb_puts(sb, "null");
    else
        alchdb__sb_printf(sb, "%.4f", usage);
    alchdb__sb_printf(
        sb, ",\"unused\":%lld,\"redundant\":%lld,\"missing\":%lld,\"fk_without_index\":%lld}",
        (long long)alchdb_advisor_report_count(r, ALCHDB_ADVISOR_UNUSED),
        (long long)alchdb_advisor_report_count(r, ALCHDB_ADVISOR_REDUNDANT),
        (long long)alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING),
        (long long)alchdb_advisor_report_count(r, ALCHDB_ADVISOR_FK));
}

int alchdb__dash_snapshot_json(const dash_view *v, alchdb__strbuf *sb)
{
    alchdb__sb_printf(sb, "{\"generated_at_us\":%lld,\"uptime_s\":%.3f,\"health\":{",
                      (long long)v->now_us, (double)v->uptime_us / 1e6);
    alchdb__dash_health_members(sb, &v->health, v->alerts, &v->sample);
    alchdb__sb_puts(sb, "},\"qps\":");
    if (v->monitor)
        alchdb__sb_printf(sb, "{\"uptime\":%.3f,\"last_minute\":%.3f,\"calls_since_attach\":%lld}",
                          v->qps_uptime, v->qps_last_minute, (long long)v->mon_calls_since_attach);
    else
        alchdb__sb_puts(sb, "null");
    alchdb__sb_puts(sb, ",\"connections\":");
    if (v->pool || v->rt)
        alchdb__dash_pools_json(v, sb);
    else
        alchdb__sb_puts(sb, "null");
    alchdb__sb_puts(sb, ",\"router\":");
    int rc = put_json(sb, v->router);
    alchdb__sb_puts(sb, ",\"cache\":");
    if (v->cache) {
        char *t = NULL;
        int crc = alchdb_cache_to_json(v->cache, &t);
        put_text(sb, crc, t);
    } else {
        alchdb__sb_puts(sb, "null");
    }
    alchdb__sb_puts(sb, ",\"queries\":");
    if (v->analysis) {
        alchdb__sb_printf(sb,
                          "{\"window_calls\":%lld,\"window_errors\":%lld,\"window_slow\":%lld,"
                          "\"summary\":",
                          (long long)v->window_calls, (long long)v->window_errors,
                          (long long)v->window_slow);
        if (rc == 0)
            rc = put_json(sb, json_object_get(v->analysis, "summary"));
        alchdb__sb_puts(sb, ",\"trend\":");
        trend(sb, v->analysis);
        alchdb__sb_puts(sb, ",\"top_patterns\":");
        if (rc == 0)
            rc = put_json(sb, json_object_get(v->analysis, "top_by_total_time"));
        alchdb__sb_puts(sb, "}");
    } else {
        alchdb__sb_puts(sb, "null");
    }
    alchdb__sb_puts(sb, ",\"indexes\":");
    if (v->adv_report)
        alchdb__dash_indexes_json(v, sb);
    else
        alchdb__sb_puts(sb, "null");
    alchdb__sb_puts(sb, "}");
    if (rc == 0 && sb->failed)
        rc = alchdb__nomem("dashboard JSON");
    return rc;
}
