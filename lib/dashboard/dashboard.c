/* The dashboard object: attachments, clock, and one evaluation (sample,
 * score, alert step) behind every public read. */
#include <string.h>

#include "dashboard/dash.h"
#include "perftest/seam.h"

ALCHDB_API int alchdb_dashboard_new(const alchdb_dashboard_config *cfg, alchdb_dashboard **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_dashboard *d = alchdb__calloc(1, sizeof *d);
    if (!d)
        return alchdb__nomem("dashboard");
    int rc = cfg ? alchdb__opts_copy(&d->opts, &cfg->opts)
                 : alchdb__opts_init(&d->opts, &alchdb__dashboard_spec);
    if (rc != 0) {
        alchdb__free(d);
        return alchdb__nomem("dashboard options");
    }
    if (pthread_mutex_init(&d->mu, NULL) != 0) {
        alchdb__opts_free(&d->opts);
        alchdb__free(d);
        return alchdb__error(ALCHDB_E_NOMEM, "alchdb_dashboard_new: cannot create a mutex");
    }
    d->created_us = alchdb__wall_us();
    d->xid_age = -1;
    *out = d;
    return 0;
}

ALCHDB_API void alchdb_dashboard_free(alchdb_dashboard *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->mu);
    alchdb_perftest_config_free(d->pt_cfg);
    alchdb__opts_free(&d->opts);
    alchdb__free(d);
}

int64_t alchdb__dash_now(const alchdb_dashboard *d)
{
    return d->clock ? d->clock(d->clock_ud) : alchdb__wall_us();
}

#define ATTACH(field, value)                                                                   \
    do {                                                                                       \
        ALCHDB_CHECK_ARG(d, "d", "must not be NULL");                                          \
        pthread_mutex_lock(&d->mu);                                                            \
        d->field = (value);                                                                    \
        pthread_mutex_unlock(&d->mu);                                                          \
        return 0;                                                                              \
    } while (0)

ALCHDB_API int alchdb_dashboard_attach_pool(alchdb_dashboard *d, alchdb_pool *pool)
{
    ATTACH(pool, pool);
}

ALCHDB_API int alchdb_dashboard_attach_router(alchdb_dashboard *d, alchdb_router *r)
{
    ATTACH(router, r);
}

ALCHDB_API int alchdb_dashboard_attach_cache(alchdb_dashboard *d, alchdb_cache *cache)
{
    ATTACH(cache, cache);
}

ALCHDB_API int alchdb_dashboard_attach_monitor(alchdb_dashboard *d, alchdb_monitor *mon)
{
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    /* QPS over the uptime counts from here: the monitor may be older. */
    alchdb_monitor_metrics st = {0};
    if (mon && alchdb_monitor_get_metrics(mon, &st, sizeof st) != 0)
        return alchdb_last_error_code();
    pthread_mutex_lock(&d->mu);
    d->monitor = mon;
    d->mon_attached_us = alchdb__dash_now(d);
    d->mon_calls_at_attach = st.calls;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

ALCHDB_API int alchdb_dashboard_attach_advisor(alchdb_dashboard *d, const alchdb_advisor_config *opts,
                                               const alchdb_advisor_report *report)
{
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    pthread_mutex_lock(&d->mu);
    d->adv_report = report;
    d->adv_opts = report ? opts : NULL;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

ALCHDB_API int alchdb_dashboard_attach_perftest(alchdb_dashboard *d, alchdb_perftest_store *st,
                                                const alchdb_perftest_target *target,
                                                const alchdb_perftest_config *cfg)
{
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    ALCHDB_CHECK_ARG(!st || (target && target->size >= offsetof(alchdb_perftest_target, client) +
                                                          sizeof target->client &&
                             target->client),
                     "target", "must not be NULL, with size set and a client, when a store is attached");
    alchdb_perftest_config *copy = NULL;
    alchdb_perftest_target t = {0};
    if (st) {
        int rc = cfg ? alchdb__perftest_config_copy(cfg, &copy) : 0;
        if (rc != 0)
            return rc;
        memcpy(&t, target, target->size < sizeof t ? target->size : sizeof t);
        t.size = sizeof t;
    }
    pthread_mutex_lock(&d->mu);
    alchdb_perftest_config *old = d->pt_cfg;
    d->pt_store = st;
    d->pt_target = t;
    d->pt_cfg = copy;
    pthread_mutex_unlock(&d->mu);
    alchdb_perftest_config_free(old);
    return 0;
}

int alchdb__dash_perftest_base(alchdb_dashboard *d, alchdb_perftest_store **st,
                               alchdb_perftest_target *target, alchdb_perftest_config **cfg)
{
    pthread_mutex_lock(&d->mu);
    *st = d->pt_store;
    *target = d->pt_target;
    int rc = alchdb__perftest_config_copy(d->pt_cfg, cfg);
    pthread_mutex_unlock(&d->mu);
    return rc;
}

ALCHDB_API int alchdb_dashboard_set_clock(alchdb_dashboard *d, alchdb_dashboard_clock_fn fn,
                                          void *user_data)
{
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    pthread_mutex_lock(&d->mu);
    d->clock = fn;
    d->clock_ud = fn ? user_data : NULL;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

int alchdb__dash_evaluate(alchdb_dashboard *d, dash_view *v)
{
    memset(v, 0, sizeof *v);
    pthread_mutex_lock(&d->mu);
    v->pool = d->pool;
    v->rt = d->router;
    v->cache = d->cache;
    v->monitor = d->monitor;
    v->adv_opts = d->adv_opts;
    v->adv_report = d->adv_report;
    v->pt_store = d->pt_store;
    v->now_us = alchdb__dash_now(d);
    v->uptime_us = v->now_us - d->created_us;
    v->mon_attached_for_us = v->now_us - d->mon_attached_us;
    int64_t calls_at_attach = d->mon_calls_at_attach;
    v->xid_age = d->xid_age;
    v->xid_at = d->xid_at;
    v->max_pattern_series = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_MAX_PATTERN_SERIES);
    v->max_body = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_MAX_BODY_SIZE);
    v->health_window_us = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_HEALTH_WINDOW);
    v->min_queries = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_MIN_QUERIES);
    v->min_cache_lookups = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_MIN_CACHE_LOOKUPS);
    v->sample.max_lag_bound_s =
        (double)alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_MAX_REPLICA_LAG) / 1e6;
    int64_t hold = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_ALERT_FOR);
    int64_t clear = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_ALERT_CLEAR_AFTER);
    pthread_mutex_unlock(&d->mu);

    /* Reading the modules takes their locks: never under ours. */
    int rc = alchdb__dash_sample(v);
    if (rc != 0) {
        alchdb__dash_view_free(v);
        return rc;
    }
    v->mon_calls_since_attach -= calls_at_attach;
    if (v->mon_calls_since_attach < 0) /* the monitor was reset since */
        v->mon_calls_since_attach = 0;
    /* Real QPS: never divided by less than one second. */
    int64_t span = v->mon_attached_for_us > 1000000 ? v->mon_attached_for_us : 1000000;
    v->qps_uptime = v->monitor ? (double)v->mon_calls_since_attach * 1e6 / (double)span : 0;

    alchdb__dash_score(&v->sample, &v->health);
    pthread_mutex_lock(&d->mu);
    alchdb__dash_alerts_step(d->alerts, &v->sample, v->now_us, hold, clear);
    memcpy(v->alerts, d->alerts, sizeof v->alerts);
    d->last = v->sample;
    d->xid_age = v->xid_age;
    d->xid_at = v->xid_at;
    d->health = v->health;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

void alchdb__dash_view_free(dash_view *v)
{
    json_decref(v->router);
    json_decref(v->analysis);
    v->router = v->analysis = NULL;
}

ALCHDB_API int alchdb_dashboard_health(alchdb_dashboard *d, double *score, int *status)
{
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    dash_view v;
    int rc = alchdb__dash_evaluate(d, &v);
    if (rc != 0)
        return rc;
    if (score)
        *score = v.health.score;
    if (status)
        *status = v.health.status;
    alchdb__dash_view_free(&v);
    return 0;
}

/* A renderer writes one document of an evaluated view into a buffer. */
typedef int (*dash_renderer)(const dash_view *v, alchdb__strbuf *sb);

static int render_health(const dash_view *v, alchdb__strbuf *sb)
{
    alchdb__sb_puts(sb, "{");
    alchdb__dash_health_members(sb, &v->health, v->alerts, &v->sample);
    alchdb__sb_puts(sb, "}");
    return 0;
}

/* Evaluate the attached modules once and render the view into *out (owned,
 * alchdb_free()). The one path of every document the dashboard returns. */
static int render(alchdb_dashboard *d, dash_renderer fn, const char *what, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    dash_view v;
    int rc = alchdb__dash_evaluate(d, &v);
    if (rc != 0)
        return rc;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    rc = fn(&v, &sb);
    alchdb__dash_view_free(&v);
    if (rc != 0) {
        alchdb__sb_reset(&sb);
        return rc;
    }
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem(what);
}

ALCHDB_API int alchdb_dashboard_health_to_json(alchdb_dashboard *d, char **out)
{
    return render(d, render_health, "dashboard health", out);
}

ALCHDB_API int alchdb_dashboard_to_json(alchdb_dashboard *d, char **out)
{
    return render(d, alchdb__dash_snapshot_json, "dashboard JSON", out);
}

ALCHDB_API int alchdb_dashboard_metrics(alchdb_dashboard *d, char **out)
{
    return render(d, alchdb__dash_prometheus, "dashboard metrics", out);
}
