/* Dashboard internals shared by its files. The health and alert logic
 * (health.c, alerts.c) is pure: it reads a dash_sample of plain numbers, so
 * that every threshold edge is tested without servers. sample.c fills the
 * sample from the attached modules' public snapshot APIs. */
#ifndef ALCHDB_DASH_H
#define ALCHDB_DASH_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "alchdb/dashboard.h"
#include "core/internal.h"
#include "core/opt.h"

extern const alchdb__optspec alchdb__dashboard_spec;

struct alchdb_dashboard_config {
    alchdb__opts opts;
};

/* The numbers the rules read. A value counts only when its `have` flag is
 * set: a module that is not attached, or too few samples to judge, leaves
 * the rule silent (no penalty, no alert). */
enum {
    DS_CONN_UTIL_PCT,     /* max over the pools of in_use / max_open * 100 */
    DS_FAILURE_RATE_PCT,  /* failed / executions over the health window * 100 */
    DS_SLOW_RATIO_PCT,    /* slow / executions over the health window * 100 */
    DS_CACHE_HIT_PCT,     /* hits / lookups * 100 */
    DS_INDEX_SCORE,       /* the advisor's index health 0..100 */
    DS_INDEX_USAGE_PCT,   /* idx_scan / (idx_scan + seq_scan) * 100 */
    DS_UNUSED_INDEXES,    /* the advisor's unused indexes */
    DS_REPLICAS_DOWN,     /* replicas not taking reads */
    DS_MAX_LAG_S,         /* largest replica lag in seconds */
    DS_REPLICAS_ALL_OUT,  /* 1 when there are replicas and none takes reads */
    DS_XID_AGE,           /* age of the oldest unfrozen XID of any database */
    DS_N
};

typedef struct dash_sample {
    double v[DS_N];
    bool have[DS_N];
    double max_lag_bound_s; /* max_replica_lag in seconds (the lag rule's threshold) */
} dash_sample;

/* ---- recommendations (health.c) -------------------------------------------- */
/* Penalties and alerts point into one table of fixes, so a problem that both
 * costs points and raises alerts is recommended once. */
enum { REC_POOL, REC_FAILURES, REC_SLOW, REC_CACHE, REC_INDEXES, REC_UNUSED, REC_REPLICA,
       REC_LAG, REC_VACUUM, REC_N };
typedef struct dash_rec {
    const char *id, *text;
} dash_rec;
extern const dash_rec alchdb__dash_recs[REC_N];

/* ---- health (health.c) ---------------------------------------------------- */
typedef struct dash_penalty {
    const char *id, *metric, *reason;
    int rec; /* REC_* */
    double value, threshold, points;
} dash_penalty;

#define DASH_MAX_PENALTIES 8

typedef struct dash_health {
    double score;
    int status; /* ALCHDB_DASHBOARD_* */
    char grade;
    int npen;
    dash_penalty pen[DASH_MAX_PENALTIES];
} dash_health;

void alchdb__dash_score(const dash_sample *s, dash_health *h);
const char *alchdb__dash_status_name(int status);
char alchdb__dash_grade(double score);
int alchdb__dash_status_of(double score);

/* ---- alerts (alerts.c) ---------------------------------------------------- */
typedef struct dash_alert_rule {
    const char *id, *severity, *category, *title;
    int rec; /* REC_*: the action */
    int input;       /* DS_* */
    int above;       /* 1: fires when value > threshold; 0: when value < threshold */
    double threshold; /* < 0: read from the sample (max_lag_bound_s) */
} dash_alert_rule;

extern const dash_alert_rule alchdb__dash_alert_rules[];
extern const size_t alchdb__dash_alert_nrules;

typedef struct dash_alert_state {
    bool stepped; /* at least one step was taken */
    bool cond;    /* the condition at the last step */
    bool firing;
    int64_t since;    /* when cond took its current value (us) */
    int64_t fired_at; /* when it started firing (us) */
    double value;     /* the value at the last step it was known */
} dash_alert_state;

/* One step of every rule at `now` (us). hold_us: how long a condition must
 * hold before its alert fires; clear_us: how long it must stay false before
 * a firing alert clears. */
void alchdb__dash_alerts_step(dash_alert_state *st, const dash_sample *s, int64_t now,
                              int64_t hold_us, int64_t clear_us);
bool alchdb__dash_alert_firing(const dash_alert_state *st);
double alchdb__dash_rule_threshold(const dash_alert_rule *r, const dash_sample *s);

/* Health, firing alerts and de-duplicated recommendations as JSON members
 * ("score", ..., "alerts", "recommendations") appended to sb without braces. */
void alchdb__dash_health_members(alchdb__strbuf *sb, const dash_health *h,
                                 const dash_alert_state *st, const dash_sample *s);

/* ---- the dashboard object (dashboard.c) ------------------------------------ */
#define DASH_SIZE_SAMPLES 1440
typedef struct dash_size_ring {
    size_t start, n;
    int64_t at[DASH_SIZE_SAMPLES], bytes[DASH_SIZE_SAMPLES];
} dash_size_ring;

struct alchdb_dashboard {
    pthread_mutex_t mu; /* guards everything below */
    alchdb__opts opts;
    alchdb_pool *pool;
    alchdb_router *router;
    alchdb_cache *cache;
    alchdb_monitor *monitor;
    const alchdb_advisor_config *adv_opts;
    const alchdb_advisor_report *adv_report;
    alchdb_perftest_store *pt_store;
    alchdb_perftest_target pt_target; /* copied; its members are borrowed */
    alchdb_perftest_config *pt_cfg;   /* owned copy, NULL for the defaults */
    alchdb_dashboard_clock_fn clock;
    void *clock_ud;
    int64_t created_us;
    int64_t mon_attached_us, mon_calls_at_attach;
    dash_alert_state alerts[16];
    /* the last evaluation */
    dash_sample last;
    dash_health health;
    dash_size_ring sizes; /* the database's size over time (live.c) */
    int64_t xid_age, xid_at; /* the last XID age read and when (-1: none yet) */
};

int64_t alchdb__dash_now(const alchdb_dashboard *d);

/* A consistent view of one evaluation, handed to the emitters. Module
 * pointers are borrowed (attachments outlive calls by contract); the JSON
 * texts are owned and freed by alchdb__dash_view_free. */
typedef struct dash_view {
    alchdb_pool *pool;
    alchdb_router *rt;
    alchdb_cache *cache;
    alchdb_monitor *monitor;
    const alchdb_advisor_config *adv_opts;
    const alchdb_advisor_report *adv_report;
    alchdb_perftest_store *pt_store;
    int64_t now_us, uptime_us;
    int64_t mon_calls_since_attach;
    int64_t mon_attached_for_us;
    double qps_uptime, qps_last_minute;
    int64_t max_pattern_series, max_body;
    int64_t health_window_us, min_queries, min_cache_lookups;
    dash_sample sample;
    dash_health health;
    dash_alert_state alerts[16];
    int64_t xid_age, xid_at; /* in: the cached XID age; out: refreshed when stale */
    json_t *router;   /* alchdb_router_to_json parsed, or NULL */
    json_t *analysis; /* alchdb_monitor_analysis_to_json parsed, or NULL */
    int64_t window_calls, window_errors, window_slow; /* summed over the health window */
} dash_view;

/* What a test/run starts: the attached store (NULL when none), a copy of the
 * target and an owned copy of the base options (free with
 * alchdb_perftest_config_free), taken under the dashboard's lock. */
int alchdb__dash_perftest_base(alchdb_dashboard *d, alchdb_perftest_store **st,
                               alchdb_perftest_target *target, alchdb_perftest_config **cfg);

/* Sample, score and step the alerts; fills v (free with _view_free). */
int alchdb__dash_evaluate(alchdb_dashboard *d, dash_view *v);
void alchdb__dash_view_free(dash_view *v);

/* ---- sampling (sample.c) ---------------------------------------------------- */
int alchdb__dash_sample(dash_view *v);

/* ---- the live database (live.c) ------------------------------------------- */
int alchdb__dash_live_activity(const dash_view *v, alchdb__strbuf *sb);
int alchdb__dash_live_cancel(const dash_view *v, int64_t pid, bool *cancelled);
int alchdb__dash_live_connections(const dash_view *v, alchdb__strbuf *sb);
int alchdb__dash_live_maintenance(const dash_view *v, alchdb__strbuf *sb);
int alchdb__dash_live_space(alchdb_dashboard *d, const dash_view *v, alchdb__strbuf *sb);
int64_t alchdb__dash_live_xid_age(const dash_view *v);

/* The web page served at "/" (page.c, generated from page.html). */
extern const char *const alchdb__dash_page[]; /* lines, NULL-terminated */

/* ---- emitters --------------------------------------------------------------- */
int alchdb__dash_snapshot_json(const dash_view *v, alchdb__strbuf *sb); /* json.c */
/* Parts of the snapshot, also served by their own routes (json.c). */
void alchdb__dash_pools_json(const dash_view *v, alchdb__strbuf *sb);
void alchdb__dash_indexes_json(const dash_view *v, alchdb__strbuf *sb);
/* One trend point from a monitor window object (the latency-trend seam). */
void alchdb__dash_trend_point(alchdb__strbuf *sb, const json_t *w, double unit_s);
int alchdb__dash_prometheus(const dash_view *v, alchdb__strbuf *sb);    /* prom.c */
/* Prometheus text of a label value: backslash, quote and newline escaped,
 * ill-formed UTF-8 replaced (the exposition format is UTF-8). */
void alchdb__dash_prom_label(alchdb__strbuf *sb, const char *s);

#endif /* ALCHDB_DASH_H */
