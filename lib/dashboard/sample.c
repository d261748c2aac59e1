/* Sampling: the rule inputs of one evaluation, read from the attached
 * modules through their public snapshot APIs only. */
#include <string.h>

#include "dashboard/dash.h"

static void set(dash_sample *s, int k, double v)
{
    s->v[k] = v;
    s->have[k] = true;
}

/* A module's JSON, parsed; NULL (and the error kept) when it cannot be read. */
static int parse(char *text, json_t **out, const char *what)
{
    json_error_t e;
    *out = json_loads(text, 0, &e);
    alchdb_free(text);
    if (!*out)
        return alchdb__error(ALCHDB_E_NOMEM, "dashboard: cannot read the %s snapshot: %s", what,
                             e.text);
    return 0;
}

static void pool_util(alchdb_pool *p, double *max_util, bool *any)
{
    alchdb_pool_metrics m;
    memset(&m, 0, sizeof m);
    if (!p || alchdb_pool_get_metrics(p, &m, sizeof m) != 0 || m.max_open <= 0)
        return;
    /* Utilisation is connections held by callers, not connections open: an
     * idle pool with warm connections is not busy. */
    double u = (double)m.in_use * 100.0 / (double)m.max_open;
    if (!*any || u > *max_util)
        *max_util = u;
    *any = true;
}

static const char *role_of(const json_t *h)
{
    const char *r = json_string_value(json_object_get(h, "role"));
    return r ? r : "";
}

static int sample_router(dash_view *v)
{
    char *text = NULL;
    int rc = alchdb_router_to_json(v->rt, &text);
    if (rc != 0 || (rc = parse(text, &v->router, "router")) != 0)
        return rc;
    int replicas = 0, down = 0;
    double lag = 0;
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(v->router, "hosts"), i, h)
    {
        if (strcmp(role_of(h), "replica") != 0)
            continue;
        replicas++;
        if (!json_is_true(json_object_get(h, "healthy")))
            down++;
        double l = json_number_value(json_object_get(h, "lag_seconds"));
        if (l > lag)
            lag = l;
    }
    if (replicas > 0) {
        set(&v->sample, DS_REPLICAS_DOWN, down);
        set(&v->sample, DS_MAX_LAG_S, lag);
        set(&v->sample, DS_REPLICAS_ALL_OUT, down == replicas ? 1 : 0);
    }
    return 0;
}

/* Sums the monitor's per-minute windows inside the health window, and the
 * last complete minute for QPS. The windows are on the monitor's clock
 * (generated_at_us), which a host may have replaced. */
static void sample_windows(dash_view *v)
{
    int64_t now = json_integer_value(json_object_get(v->analysis, "generated_at_us"));
    int64_t cur = now / 60000000, nwin = v->health_window_us / 60000000;
    size_t i;
    json_t *w;
    json_array_foreach(json_object_get(json_object_get(v->analysis, "trend"), "minutes"), i, w)
    {
        int64_t minute = json_integer_value(json_object_get(w, "start_us")) / 60000000;
        int64_t calls = json_integer_value(json_object_get(w, "calls"));
        if (minute == cur - 1)
            v->qps_last_minute = (double)calls / 60.0;
        if (minute <= cur - nwin || minute > cur)
            continue;
        v->window_calls += calls;
        v->window_errors += json_integer_value(json_object_get(w, "errors"));
        v->window_slow += json_integer_value(json_object_get(w, "slow"));
    }
    if (v->window_calls >= v->min_queries && v->window_calls > 0) {
        set(&v->sample, DS_FAILURE_RATE_PCT, (double)v->window_errors * 100.0 / (double)v->window_calls);
        set(&v->sample, DS_SLOW_RATIO_PCT, (double)v->window_slow * 100.0 / (double)v->window_calls);
    }
}

static int sample_monitor(dash_view *v)
{
    alchdb_monitor_metrics st;
    memset(&st, 0, sizeof st);
    int rc = alchdb_monitor_get_metrics(v->monitor, &st, sizeof st);
    if (rc != 0)
        return rc;
    v->mon_calls_since_attach = st.calls;
    char *text = NULL;
    int64_t limit = v->max_pattern_series > 10 ? v->max_pattern_series : 10;
    if ((rc = alchdb_monitor_analysis_to_json(v->monitor, limit, &text)) != 0 ||
        (rc = parse(text, &v->analysis, "monitor")) != 0)
        return rc;
    sample_windows(v);
    return 0;
}

static void sample_advisor(dash_view *v)
{
    int score = alchdb_advisor_report_health(v->adv_report);
    if (score >= 0)
        set(&v->sample, DS_INDEX_SCORE, score);
    double usage = alchdb_advisor_report_index_usage_ratio(v->adv_report);
    if (usage >= 0)
        set(&v->sample, DS_INDEX_USAGE_PCT, usage * 100.0);
    int64_t unused = alchdb_advisor_report_count(v->adv_report, ALCHDB_ADVISOR_UNUSED);
    if (unused >= 0)
        set(&v->sample, DS_UNUSED_INDEXES, (double)unused);
}

int alchdb__dash_sample(dash_view *v)
{
    double util = 0;
    bool any = false;
    pool_util(v->pool, &util, &any);
    if (v->rt)
        for (size_t i = 0; i < alchdb_router_host_count(v->rt); i++)
            pool_util(alchdb_router_host_pool(v->rt, i), &util, &any);
    if (any)
        set(&v->sample, DS_CONN_UTIL_PCT, util);

    int rc;
    if (v->rt && (rc = sample_router(v)) != 0)
        return rc;
    if (v->cache) {
        alchdb_cache_metrics m;
        memset(&m, 0, sizeof m);
        m.size = sizeof m;
        if ((rc = alchdb_cache_get_metrics(v->cache, &m, sizeof m)) != 0)
            return rc;
        if (m.lookups >= v->min_cache_lookups && m.lookups > 0)
            set(&v->sample, DS_CACHE_HIT_PCT, (double)m.hits * 100.0 / (double)m.lookups);
    }
    if (v->monitor && (rc = sample_monitor(v)) != 0)
        return rc;
    if (v->adv_report)
        sample_advisor(v);
    /* The XID age moves slowly: read at most once a minute, so that a
     * scrape does not queue for a connection of a busy pool every time. */
    if (v->pool || v->rt) {
        if (v->xid_age < 0 || v->now_us - v->xid_at >= 60000000 || v->now_us < v->xid_at) {
            int64_t age = alchdb__dash_live_xid_age(v);
            if (age >= 0) {
                v->xid_age = age;
                v->xid_at = v->now_us;
            }
        }
        if (v->xid_age >= 0)
            set(&v->sample, DS_XID_AGE, (double)v->xid_age);
    }
    return 0;
}
