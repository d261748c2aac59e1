/* Reading a monitor: stats snapshot, pattern JSON, the analysis and the slow
 * log. Everything here copies what it needs under short locks and formats
 * afterwards; recorders are only delayed while one pattern is being copied. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_internal.h"

#define REG_MIN_CURRENT 20
#define REG_MIN_BASELINE 50
#define REG_MIN_DELTA_US 1000

typedef struct psnap {
    uint32_t slot, gen;
    int kind;
    bool dml, truncated;
    uint64_t key;
    char *text;
    int64_t text_len;
    int64_t calls, errors, slow, rows, total_us, min_us, max_us, first_us, last_us;
    double mean_us;
    int64_t p50, p90, p95, p99, p999;
    mon_errclass errc[MON_ERR_CLASSES];
    int64_t errc_other;
    uint32_t sugg;
    int64_t sugg_offset, n1_bursts, n1_max;
    int64_t cur_p95, cur_count, base_p95, base_count;
    char *plan_json, *plan_error;
    int64_t plan_at;
    mon_wsnap minute[MON_MINUTES], hour[MON_HOURS];
} psnap;

/* Quantile of the values in a but not in b (b's buckets are a subset of a's). */
static int64_t diff_quantile(const alchdb__hist *a, const alchdb__hist *b, double q, int64_t *count)
{
    alchdb__hist *ha = (alchdb__hist *)a, *hb = (alchdb__hist *)b;
    int64_t total = 0;
    for (size_t i = 0; i < ha->nbuckets; i++)
        total += atomic_load_explicit(&ha->buckets[i], memory_order_relaxed) -
                 atomic_load_explicit(&hb->buckets[i], memory_order_relaxed);
    *count = total;
    if (total <= 0)
        return 0;
    int64_t rank = (int64_t)ceil(q * (double)total), seen = 0;
    if (rank < 1)
        rank = 1;
    for (size_t i = 0; i < ha->nbuckets; i++) {
        seen += atomic_load_explicit(&ha->buckets[i], memory_order_relaxed) -
                atomic_load_explicit(&hb->buckets[i], memory_order_relaxed);
        if (seen >= rank) {
            int64_t lo = alchdb__hist_bucket_low(i), hi = alchdb__hist_bucket_high(i);
            return lo + (hi - lo) / 2;
        }
    }
    return alchdb__hist_max(a);
}

static void psnap_free(psnap *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        alchdb__free(s[i].text);
        alchdb__free(s[i].plan_json);
        alchdb__free(s[i].plan_error);
    }
    alchdb__free(s);
}

typedef struct totals {
    alchdb__hist hist;
    int64_t calls, errors, slow, rows, total_us;
    mon_wsnap minute[MON_MINUTES], hour[MON_HOURS];
} totals;

/* Copy every live pattern (and, if tot, the totals including evicted ones). */
static int take(alchdb_monitor *mon, bool plans, psnap **out, size_t *n, totals *tot)
{
    *out = NULL;
    *n = 0;
    if (tot) {
        memset(tot, 0, sizeof *tot);
        if (alchdb__hist_init(&tot->hist, MON_HIST_MAX_US) != 0)
            return ALCHDB_E_NOMEM;
        for (int i = 0; i < MON_MINUTES; i++)
            tot->minute[i].id = -1;
        for (int i = 0; i < MON_HOURS; i++)
            tot->hour[i].id = -1;
    }
    pthread_mutex_lock(&mon->pat_lock);
    psnap *arr = mon->nused ? alchdb__calloc(mon->nused, sizeof *arr) : NULL;
    if (mon->nused && !arr) {
        pthread_mutex_unlock(&mon->pat_lock);
        if (tot)
            alchdb__hist_destroy(&tot->hist);
        return alchdb__nomem("monitor snapshot");
    }
    size_t k = 0;
    bool oom = false;
    for (uint32_t i = 0; i < mon->nalloc && k < mon->nused; i++) {
        mon_pattern *p = mon->slots[i];
        pthread_mutex_lock(&p->lock);
        if (!p->used) {
            pthread_mutex_unlock(&p->lock);
            continue;
        }
        psnap *s = &arr[k++];
        s->slot = p->slot;
        s->gen = p->gen;
        s->kind = p->kind;
        s->dml = p->dml;
        s->truncated = p->truncated;
        s->key = p->key;
        s->text = alchdb__strdup(p->text);
        s->text_len = p->text_len;
        s->calls = p->calls;
        s->errors = p->errors;
        s->slow = p->slow;
        s->rows = p->rows;
        s->total_us = p->total_us;
        s->min_us = alchdb__hist_min(&p->all);
        s->max_us = alchdb__hist_max(&p->all);
        s->mean_us = p->calls ? (double)p->total_us / (double)p->calls : 0.0;
        s->first_us = p->first_seen_us;
        s->last_us = atomic_load_explicit(&p->last_used_us, memory_order_relaxed);
        s->p50 = alchdb__hist_quantile(&p->all, 0.50);
        s->p90 = alchdb__hist_quantile(&p->all, 0.90);
        s->p95 = alchdb__hist_quantile(&p->all, 0.95);
        s->p99 = alchdb__hist_quantile(&p->all, 0.99);
        s->p999 = alchdb__hist_quantile(&p->all, 0.999);
        memcpy(s->errc, p->errc, sizeof s->errc);
        s->errc_other = p->errc_other;
        s->sugg = p->sugg;
        s->sugg_offset = p->sugg_offset;
        s->n1_bursts = p->n1_bursts;
        s->n1_max = p->n1_max_burst;
        int64_t rc = alchdb__hist_count(&p->recent);
        if (rc >= REG_MIN_CURRENT) {
            s->cur_count = rc;
            s->cur_p95 = alchdb__hist_quantile(&p->recent, 0.95);
        } else {
            s->cur_count = p->prev_count;
            s->cur_p95 = p->prev_p95_us;
        }
        s->base_p95 = diff_quantile(&p->all, &p->recent, 0.95, &s->base_count);
        if (plans) {
            s->plan_json = p->plan_json ? alchdb__strdup(p->plan_json) : NULL;
            s->plan_error = p->plan_error ? alchdb__strdup(p->plan_error) : NULL;
            oom |= (p->plan_json && !s->plan_json) || (p->plan_error && !s->plan_error);
        }
        s->plan_at = p->plan_at_us;
        for (int w = 0; w < MON_MINUTES; w++)
            alchdb__monitor_window_snap(&s->minute[w], &p->minute[w]);
        for (int w = 0; w < MON_HOURS; w++)
            alchdb__monitor_window_snap(&s->hour[w], &p->hour[w]);
        if (tot) {
            alchdb__hist_merge(&tot->hist, &p->all);
            tot->calls += p->calls;
            tot->errors += p->errors;
            tot->slow += p->slow;
            tot->rows += p->rows;
            tot->total_us += p->total_us;
        }
        pthread_mutex_unlock(&p->lock);
        oom |= !s->text;
    }
    if (tot) {
        alchdb__hist_merge(&tot->hist, &mon->ev_hist);
        tot->calls += mon->ev_calls;
        tot->errors += mon->ev_errors;
        tot->slow += mon->ev_slow;
        tot->rows += mon->ev_rows;
        tot->total_us += mon->ev_total_us;
        memcpy(tot->minute, mon->ev_minute, sizeof tot->minute);
        memcpy(tot->hour, mon->ev_hour, sizeof tot->hour);
    }
    pthread_mutex_unlock(&mon->pat_lock);
    if (oom) {
        psnap_free(arr, k);
        if (tot)
            alchdb__hist_destroy(&tot->hist);
        return alchdb__nomem("monitor snapshot");
    }
    if (tot) {
        for (size_t i = 0; i < k; i++) {
            for (int w = 0; w < MON_MINUTES; w++)
                alchdb__monitor_wsnap_add(&tot->minute[w], &arr[i].minute[w]);
            for (int w = 0; w < MON_HOURS; w++)
                alchdb__monitor_wsnap_add(&tot->hour[w], &arr[i].hour[w]);
        }
        alchdb__monitor_gwindow_fill(mon, tot->minute, tot->hour);
    }
    *out = arr;
    *n = k;
    return 0;
}

int alchdb_monitor_get_metrics(alchdb_monitor *mon, alchdb_monitor_metrics *st, size_t size)
{
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    alchdb__monitor_drain(mon);
    ALCHDB_CHECK_ARG(st, "st", "must not be NULL");
    ALCHDB_CHECK_ARG(size > 0, "size", "must be sizeof(alchdb_monitor_metrics)");
    psnap *arr;
    size_t n;
    totals tot;
    int rc = take(mon, false, &arr, &n, &tot);
    if (rc != 0)
        return rc;
    alchdb_monitor_metrics s;
    memset(&s, 0, sizeof s);
    s.calls = tot.calls;
    s.errors = tot.errors;
    s.slow = tot.slow;
    s.rows = tot.rows;
    s.total_us = tot.total_us;
    s.p50_us = alchdb__hist_quantile(&tot.hist, 0.50);
    s.p90_us = alchdb__hist_quantile(&tot.hist, 0.90);
    s.p95_us = alchdb__hist_quantile(&tot.hist, 0.95);
    s.p99_us = alchdb__hist_quantile(&tot.hist, 0.99);
    s.p999_us = alchdb__hist_quantile(&tot.hist, 0.999);
    s.max_us = alchdb__hist_max(&tot.hist);
    s.patterns = (int64_t)n;
    s.unparsed_patterns = atomic_load(&mon->unparsed);
    s.patterns_evicted = atomic_load(&mon->evicted);
    s.text_cache_evictions = atomic_load(&mon->cache_evictions);
    s.parses = atomic_load(&mon->parses);
    pthread_rwlock_rdlock(&mon->label_lock);
    s.label_values = mon->nlabels - 1;
    pthread_rwlock_unlock(&mon->label_lock);
    s.labels_dropped = atomic_load(&mon->labels_dropped);
    s.rejected = atomic_load(&mon->rejected);
    s.truncated_texts = atomic_load(&mon->truncated);
    pthread_mutex_lock(&mon->slow_lock);
    s.slow_log_entries = mon->slow_count;
    pthread_mutex_unlock(&mon->slow_lock);
    s.plans_captured = atomic_load(&mon->plans_captured);
    s.parse_queued = atomic_load(&mon->q_queued);
    s.parse_queue_dropped = atomic_load(&mon->q_dropped);
    memcpy(st, &s, size < sizeof s ? size : sizeof s);
    psnap_free(arr, n);
    alchdb__hist_destroy(&tot.hist);
    return 0;
}

/* ---- JSON ---------------------------------------------------------------- */

static void key_hex(char buf[17], uint64_t k) { snprintf(buf, 17, "%016llx", (unsigned long long)k); }

static double ratio(int64_t a, int64_t b) { return b ? (double)a / (double)b : 0.0; }

static void emit_windows(alchdb__strbuf *sb, const char *name, const mon_wsnap *w, int n,
                         int64_t cur, int64_t unit_us)
{
    alchdb__sb_printf(sb, ",\"%s\":[", name);
    bool first = true;
    for (int64_t id = cur - n + 1; id <= cur; id++) {
        const mon_wsnap *x = &w[((id % n) + n) % n];
        if (x->id != id || x->calls == 0)
            continue;
        alchdb__sb_printf(sb,
                          "%s{\"start_us\":%lld,\"calls\":%lld,\"errors\":%lld,\"slow\":%lld,"
                          "\"total_us\":%lld,\"mean_us\":%.1f,\"max_us\":%lld,\"p50_us\":%lld,"
                          "\"p90_us\":%lld,\"p95_us\":%lld,\"p99_us\":%lld}",
                          first ? "" : ",", (long long)(id * unit_us), (long long)x->calls,
                          (long long)x->errors, (long long)x->slow, (long long)x->total_us,
                          ratio(x->total_us, x->calls), (long long)x->max_us,
                          (long long)x->p50_us, (long long)x->p90_us, (long long)x->p95_us,
                          (long long)x->p99_us);
        first = false;
    }
    alchdb__sb_puts(sb, "]");
}

static void emit_plan_summary(alchdb__strbuf *sb, const char *plan);

/* ord: the ordering time now (the windows shown are the last hour / day of it). */
static void emit_pattern(alchdb__strbuf *sb, const psnap *s, int64_t ord, bool windows, bool plan)
{
    char id[17];
    key_hex(id, s->key);
    alchdb__sb_printf(sb, "{\"id\":\"%s\",\"kind\":\"%s\",\"text\":", id,
                      s->kind == MON_KIND_PARSED       ? "parsed"
                      : s->kind == MON_KIND_UNANALYSED ? "unanalysed"
                                                       : "unparsed");
    alchdb__sb_json_str(sb, s->text);
    alchdb__sb_printf(
        sb,
        ",\"truncated\":%s,\"text_length\":%lld,\"calls\":%lld,\"errors\":%lld,\"slow\":%lld,"
        "\"rows\":%lld,\"total_us\":%lld,\"mean_us\":%.1f,\"min_us\":%lld,\"max_us\":%lld,"
        "\"p50_us\":%lld,\"p90_us\":%lld,\"p95_us\":%lld,\"p99_us\":%lld,\"p999_us\":%lld,"
        "\"slow_ratio\":%.6f,\"failure_rate\":%.6f,\"first_seen_us\":%lld,\"last_seen_us\":%lld",
        s->truncated ? "true" : "false", (long long)s->text_len, (long long)s->calls,
        (long long)s->errors, (long long)s->slow, (long long)s->rows, (long long)s->total_us,
        s->mean_us, (long long)s->min_us, (long long)s->max_us, (long long)s->p50,
        (long long)s->p90, (long long)s->p95, (long long)s->p99, (long long)s->p999, ratio(s->slow, s->calls),
        ratio(s->errors, s->calls), (long long)s->first_us, (long long)s->last_us);
    alchdb__sb_puts(sb, ",\"errors_by_class\":{");
    bool first = true;
    for (int i = 0; i < MON_ERR_CLASSES && s->errc[i].n; i++) {
        alchdb__sb_printf(sb, "%s\"%c%c\":%lld", first ? "" : ",", s->errc[i].cls[0],
                          s->errc[i].cls[1], (long long)s->errc[i].n);
        first = false;
    }
    if (s->errc_other)
        alchdb__sb_printf(sb, "%s\"other\":%lld", first ? "" : ",", (long long)s->errc_other);
    alchdb__sb_puts(sb, "},\"suggestions\":[");
    first = true;
    for (unsigned b = 0; b < MON_SUG_COUNT; b++) {
        if (!(s->sugg & (1u << b)))
            continue;
        alchdb__sb_printf(sb, "%s\"%s\"", first ? "" : ",", alchdb__monitor_suggest_code(1u << b));
        first = false;
    }
    alchdb__sb_printf(sb, "],\"n_plus_one\":{\"bursts\":%lld,\"max_burst\":%lld}",
                      (long long)s->n1_bursts, (long long)s->n1_max);
    if (s->plan_json || s->plan_error || s->plan_at) {
        alchdb__sb_printf(sb, ",\"plan\":{\"captured_at_us\":%lld", (long long)s->plan_at);
        if (s->plan_error) {
            alchdb__sb_puts(sb, ",\"error\":");
            alchdb__sb_json_str(sb, s->plan_error);
        }
        if (s->plan_json) {
            emit_plan_summary(sb, s->plan_json);
            if (plan) {
                alchdb__sb_puts(sb, ",\"explain\":");
                alchdb__sb_puts(sb, s->plan_json);
            }
        }
        alchdb__sb_puts(sb, "}");
    }
    if (windows) {
        emit_windows(sb, "minutes", s->minute, MON_MINUTES, ord / 60000000, 60000000);
        emit_windows(sb, "hours", s->hour, MON_HOURS, ord / 3600000000LL, 3600000000LL);
    }
    alchdb__sb_puts(sb, "}");
}

/* Seq scans of a captured plan: what the index advisor wants to know. */
static void collect_seq(json_t *n, alchdb__strbuf *sb, bool *first)
{
    if (json_is_array(n)) {
        size_t i;
        json_t *v;
        json_array_foreach(n, i, v) collect_seq(v, sb, first);
        return;
    }
    if (!json_is_object(n))
        return;
    const char *type = json_string_value(json_object_get(n, "Node Type"));
    const char *rel = json_string_value(json_object_get(n, "Relation Name"));
    if (type && rel && !strcmp(type, "Seq Scan")) {
        alchdb__sb_puts(sb, *first ? "{\"relation\":" : ",{\"relation\":");
        alchdb__sb_json_str(sb, rel);
        alchdb__sb_printf(sb, ",\"plan_rows\":%.0f,\"total_cost\":%.2f}",
                          json_number_value(json_object_get(n, "Plan Rows")),
                          json_number_value(json_object_get(n, "Total Cost")));
        *first = false;
    }
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v) if (json_is_array(v) || json_is_object(v)) collect_seq(v, sb, first);
}

static void emit_plan_summary(alchdb__strbuf *sb, const char *plan)
{
    json_error_t e;
    json_t *root = json_loads(plan, 0, &e);
    alchdb__sb_puts(sb, ",\"seq_scans\":[");
    bool first = true;
    if (root) {
        collect_seq(root, sb, &first);
        json_t *top = json_object_get(json_object_get(json_array_get(root, 0), "Plan"), "Total Cost");
        alchdb__sb_puts(sb, "]");
        if (top)
            alchdb__sb_printf(sb, ",\"total_cost\":%.2f", json_number_value(top));
        json_decref(root);
    } else {
        alchdb__sb_puts(sb, "]");
    }
}

static int64_t sort_val(const psnap *s, int by)
{
    switch (by) {
    case ALCHDB_MONITOR_SORT_CALLS: return s->calls;
    case ALCHDB_MONITOR_SORT_P95: return s->p95;
    case ALCHDB_MONITOR_SORT_MEAN: return (int64_t)s->mean_us;
    case ALCHDB_MONITOR_SORT_MAX: return s->max_us;
    case ALCHDB_MONITOR_SORT_ERRORS: return s->errors;
    case ALCHDB_MONITOR_SORT_SLOW: return s->slow;
    case ALCHDB_MONITOR_SORT_LAST_SEEN: return s->last_us;
    default: return s->total_us;
    }
}

/* Sorting an index array with a key passed through a thread-local. */
static _Thread_local const psnap *sort_base;
static _Thread_local int sort_by;
static int cmp_idx(const void *a, const void *b)
{
    const psnap *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];
    int64_t vx = sort_val(x, sort_by), vy = sort_val(y, sort_by);
    if (vx != vy)
        return vx > vy ? -1 : 1;
    return x->key < y->key ? -1 : (x->key > y->key);
}

static size_t *sorted(const psnap *arr, size_t n, int by)
{
    size_t *idx = alchdb__malloc((n ? n : 1) * sizeof *idx);
    if (!idx)
        return NULL;
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_base = arr;
    sort_by = by;
    qsort(idx, n, sizeof *idx, cmp_idx);
    return idx;
}

static int finish(alchdb__strbuf *sb, char **out)
{
    char *s = alchdb__sb_finish(sb);
    if (!s)
        return alchdb__nomem("monitor JSON");
    *out = s;
    return 0;
}

int alchdb_monitor_patterns_to_json(alchdb_monitor *mon, int sort, int64_t limit, uint32_t flags,
                                 char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    alchdb__monitor_drain(mon);
    ALCHDB_CHECK_ARG(sort >= ALCHDB_MONITOR_SORT_TOTAL_TIME && sort <= ALCHDB_MONITOR_SORT_LAST_SEEN,
                     "sort", "must be an alchdb_monitor_sort value");
    ALCHDB_CHECK_ARG(limit >= 0, "limit", "must be >= 0");
    ALCHDB_CHECK_ARG((flags & ~ALCHDB_MONITOR_JSON_WINDOWS) == 0, "flags", "unknown flag");
    psnap *arr;
    size_t n;
    int rc = take(mon, true, &arr, &n, NULL);
    if (rc != 0)
        return rc;
    size_t *idx = sorted(arr, n, sort);
    if (!idx) {
        psnap_free(arr, n);
        return alchdb__nomem("monitor JSON");
    }
    int64_t now = alchdb__monitor_now(mon);
    int64_t ord = alchdb__monitor_order_time(mon, now);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "[");
    size_t lim = limit && (uint64_t)limit < n ? (size_t)limit : n;
    for (size_t i = 0; i < lim; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        emit_pattern(&sb, &arr[idx[i]], ord, flags & ALCHDB_MONITOR_JSON_WINDOWS, true);
    }
    alchdb__sb_puts(&sb, "]");
    alchdb__free(idx);
    psnap_free(arr, n);
    return finish(&sb, out);
}

static void emit_ref(alchdb__strbuf *sb, const psnap *s)
{
    char id[17];
    key_hex(id, s->key);
    alchdb__sb_printf(sb, "\"id\":\"%s\",\"text\":", id);
    alchdb__sb_json_str(sb, s->text);
}

static void recommend(alchdb__strbuf *sb, bool *first, const char *severity, const char *rule,
                      const char *msg)
{
    alchdb__sb_printf(sb, "%s{\"severity\":\"%s\",\"rule\":\"%s\",\"message\":", *first ? "" : ",",
                      severity, rule);
    alchdb__sb_json_str(sb, msg);
    alchdb__sb_puts(sb, "}");
    *first = false;
}

int alchdb_monitor_analysis_to_json(alchdb_monitor *mon, int64_t limit, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    alchdb__monitor_drain(mon);
    ALCHDB_CHECK_ARG(limit >= 0, "limit", "must be >= 0");
    if (limit == 0)
        limit = 10;
    psnap *arr;
    size_t n;
    totals tot;
    int rc = take(mon, false, &arr, &n, &tot);
    if (rc != 0)
        return rc;
    alchdb_monitor_metrics st;
    rc = alchdb_monitor_get_metrics(mon, &st, sizeof st);
    size_t *by_total = rc == 0 ? sorted(arr, n, ALCHDB_MONITOR_SORT_TOTAL_TIME) : NULL;
    size_t *by_p95 = by_total ? sorted(arr, n, ALCHDB_MONITOR_SORT_P95) : NULL;
    if (!by_p95) {
        alchdb__free(by_total);
        psnap_free(arr, n);
        alchdb__hist_destroy(&tot.hist);
        return rc ? rc : alchdb__nomem("monitor analysis");
    }
    int64_t now = alchdb__monitor_now(mon);
    int64_t ord = alchdb__monitor_order_time(mon, now);
    int64_t thr = mon->cfg.v[ALCHDB_MONITOR_OPT_SLOW_THRESHOLD];
    int64_t factor = mon->cfg.v[ALCHDB_MONITOR_OPT_REGRESSION_FACTOR];
    double slow_ratio = ratio(tot.slow, tot.calls), fail_rate = ratio(tot.errors, tot.calls);
    double mean = ratio(tot.total_us, tot.calls);
    size_t lim = (uint64_t)limit < n ? (size_t)limit : n;

    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(
        &sb,
        "{\"generated_at_us\":%lld,\"slow_threshold_us\":%lld,\"summary\":{\"calls\":%lld,"
        "\"errors\":%lld,\"slow\":%lld,\"rows\":%lld,\"total_us\":%lld,\"mean_us\":%.1f,"
        "\"p50_us\":%lld,\"p90_us\":%lld,\"p95_us\":%lld,\"p99_us\":%lld,\"p999_us\":%lld,"
        "\"max_us\":%lld,\"slow_ratio\":%.6f,\"failure_rate\":%.6f,\"patterns\":%zu,\"unparsed_patterns\":%lld,"
        "\"patterns_evicted\":%lld,\"text_cache_evictions\":%lld,\"parses\":%lld,"
        "\"label_values\":%lld,\"labels_dropped\":%lld,\"rejected\":%lld,"
        "\"truncated_texts\":%lld,\"slow_log_entries\":%lld,\"plans_captured\":%lld}",
        (long long)now, (long long)thr, (long long)tot.calls, (long long)tot.errors,
        (long long)tot.slow, (long long)tot.rows, (long long)tot.total_us, mean,
        (long long)alchdb__hist_quantile(&tot.hist, 0.5),
        (long long)alchdb__hist_quantile(&tot.hist, 0.90),
        (long long)alchdb__hist_quantile(&tot.hist, 0.95),
        (long long)alchdb__hist_quantile(&tot.hist, 0.99),
        (long long)alchdb__hist_quantile(&tot.hist, 0.999), (long long)alchdb__hist_max(&tot.hist),
        slow_ratio, fail_rate, n, (long long)st.unparsed_patterns, (long long)st.patterns_evicted,
        (long long)st.text_cache_evictions, (long long)st.parses, (long long)st.label_values,
        (long long)st.labels_dropped, (long long)st.rejected, (long long)st.truncated_texts,
        (long long)st.slow_log_entries, (long long)st.plans_captured);
    alchdb__sb_puts(&sb, ",\"trend\":{\"unit\":\"window\"");
    emit_windows(&sb, "minutes", tot.minute, MON_MINUTES, ord / 60000000, 60000000);
    emit_windows(&sb, "hours", tot.hour, MON_HOURS, ord / 3600000000LL, 3600000000LL);
    alchdb__sb_puts(&sb, "},\"top_by_total_time\":[");
    for (size_t i = 0; i < lim; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        emit_pattern(&sb, &arr[by_total[i]], ord, false, false);
    }
    alchdb__sb_puts(&sb, "],\"top_by_p95\":[");
    for (size_t i = 0; i < lim; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        emit_pattern(&sb, &arr[by_p95[i]], ord, false, false);
    }

    /* regressions, N+1, suggestions: in total-time order, limited */
    alchdb__sb_puts(&sb, "],\"regressions\":[");
    bool first = true;
    size_t cnt = 0;
    int64_t nreg = 0, nn1 = 0;
    for (size_t i = 0; i < n; i++) {
        const psnap *s = &arr[by_total[i]];
        if (s->cur_count < REG_MIN_CURRENT || s->base_count < REG_MIN_BASELINE)
            continue;
        if (s->cur_p95 * 100 < s->base_p95 * factor || s->cur_p95 - s->base_p95 < REG_MIN_DELTA_US)
            continue;
        nreg++;
        if (cnt++ >= (size_t)limit)
            continue;
        alchdb__sb_puts(&sb, first ? "{" : ",{");
        emit_ref(&sb, s);
        alchdb__sb_printf(&sb,
                          ",\"baseline_p95_us\":%lld,\"baseline_calls\":%lld,"
                          "\"current_p95_us\":%lld,\"current_calls\":%lld,\"ratio\":%.2f}",
                          (long long)s->base_p95, (long long)s->base_count, (long long)s->cur_p95,
                          (long long)s->cur_count, ratio(s->cur_p95, s->base_p95 ? s->base_p95 : 1));
        first = false;
    }
    alchdb__sb_puts(&sb, "],\"n_plus_one\":[");
    first = true;
    cnt = 0;
    for (size_t i = 0; i < n; i++) {
        const psnap *s = &arr[by_total[i]];
        if (!s->n1_bursts)
            continue;
        nn1++;
        if (cnt++ >= (size_t)limit)
            continue;
        alchdb__sb_puts(&sb, first ? "{" : ",{");
        emit_ref(&sb, s);
        alchdb__sb_printf(&sb, ",\"bursts\":%lld,\"max_burst\":%lld,\"labels\":[",
                          (long long)s->n1_bursts, (long long)s->n1_max);
        bool lf = true;
        for (uint32_t e = 0; e < MON_N1_SLOTS; e++) {
            pthread_mutex_lock(&mon->stripes[e & (MON_STRIPES - 1)]);
            mon_n1_entry x = mon->n1[e];
            pthread_mutex_unlock(&mon->stripes[e & (MON_STRIPES - 1)]);
            if (!x.label || x.slot != s->slot || x.gen != s->gen || !x.bursts)
                continue;
            pthread_rwlock_rdlock(&mon->label_lock);
            if (x.label < mon->nlabels) {
                alchdb__sb_puts(&sb, lf ? "{\"label\":" : ",{\"label\":");
                alchdb__sb_json_str(&sb, mon->labels[x.label]);
                alchdb__sb_printf(&sb, ",\"bursts\":%lld,\"max_burst\":%lld}",
                                  (long long)x.bursts, (long long)x.max_count);
                lf = false;
            }
            pthread_rwlock_unlock(&mon->label_lock);
        }
        alchdb__sb_puts(&sb, "]}");
        first = false;
    }
    alchdb__sb_puts(&sb, "],\"suggestions\":[");
    first = true;
    cnt = 0;
    for (size_t i = 0; i < n && cnt < (size_t)limit * MON_SUG_COUNT; i++) {
        const psnap *s = &arr[by_total[i]];
        for (unsigned b = 0; b < MON_SUG_COUNT; b++) {
            if (!(s->sugg & (1u << b)))
                continue;
            alchdb__sb_puts(&sb, first ? "{" : ",{");
            emit_ref(&sb, s);
            alchdb__sb_printf(&sb, ",\"code\":\"%s\",\"message\":",
                              alchdb__monitor_suggest_code(1u << b));
            alchdb__sb_json_str(&sb, alchdb__monitor_suggest_text(1u << b));
            if ((1u << b) == MON_SUG_LARGE_OFFSET)
                alchdb__sb_printf(&sb, ",\"offset\":%lld", (long long)s->sugg_offset);
            alchdb__sb_printf(&sb, ",\"calls\":%lld,\"total_us\":%lld}", (long long)s->calls,
                              (long long)s->total_us);
            first = false;
            cnt++;
        }
    }

    /* Fixed recommendation rules (docs/monitor.md), with the configured threshold. */
    alchdb__sb_puts(&sb, "],\"recommendations\":[");
    first = true;
    char msg[512];
    if (tot.calls > 0 && slow_ratio > 0.10) {
        snprintf(msg, sizeof msg, "slow query ratio %.1f%% exceeds 10%%: optimise the top patterns",
                 slow_ratio * 100);
        recommend(&sb, &first, "critical", "slow_ratio", msg);
    } else if (tot.calls > 0 && slow_ratio > 0.05) {
        snprintf(msg, sizeof msg, "slow query ratio %.1f%% exceeds 5%%", slow_ratio * 100);
        recommend(&sb, &first, "warning", "slow_ratio", msg);
    }
    if (tot.calls > 0 && fail_rate > 0.01) {
        snprintf(msg, sizeof msg, "query failure rate %.2f%% exceeds 1%%", fail_rate * 100);
        recommend(&sb, &first, "critical", "failure_rate", msg);
    }
    if (tot.calls > 0 && mean > (double)thr) {
        snprintf(msg, sizeof msg, "mean query time %.1f ms exceeds the %.1f ms slow threshold",
                 mean / 1000.0, (double)thr / 1000.0);
        recommend(&sb, &first, "warning", "mean_time", msg);
    }
    for (size_t i = 0; i < n; i++) {
        const psnap *s = &arr[by_total[i]];
        /* hot slow pattern: slow at p95 and at least 10 % of all time */
        if (s->p95 >= thr && tot.total_us > 0 && s->total_us * 10 >= tot.total_us && s->calls >= 10) {
            char id[17];
            key_hex(id, s->key);
            snprintf(msg, sizeof msg,
                     "pattern %s takes %.0f%% of query time with p95 %.1f ms: index or rewrite it",
                     id, 100.0 * ratio(s->total_us, tot.total_us), (double)s->p95 / 1000.0);
            recommend(&sb, &first, "warning", "hot_slow_pattern", msg);
        }
    }
    if (nreg) {
        snprintf(msg, sizeof msg, "%lld pattern(s) regressed: current p95 far above baseline",
                 (long long)nreg);
        recommend(&sb, &first, "warning", "regression", msg);
    }
    if (nn1) {
        snprintf(msg, sizeof msg,
                 "%lld pattern(s) run as N+1 bursts: batch them (IN/ANY or a join)", (long long)nn1);
        recommend(&sb, &first, "warning", "n_plus_one", msg);
    }
    if (st.patterns_evicted) {
        snprintf(msg, sizeof msg, "%lld pattern(s) evicted: raise max_patterns for full detail",
                 (long long)st.patterns_evicted);
        recommend(&sb, &first, "info", "patterns_evicted", msg);
    }
    if (st.labels_dropped) {
        snprintf(msg, sizeof msg,
                 "%lld label value(s) dropped at the cap: labels should be low-cardinality",
                 (long long)st.labels_dropped);
        recommend(&sb, &first, "info", "labels_dropped", msg);
    }
    alchdb__sb_puts(&sb, "]}");
    alchdb__free(by_total);
    alchdb__free(by_p95);
    psnap_free(arr, n);
    alchdb__hist_destroy(&tot.hist);
    return finish(&sb, out);
}
