/* The slow-query log: which slow executions are kept, and its JSON.
 *
 * A ring of the most recent ones alone loses exactly what a user looks for:
 * with five slots, a 10 s outlier is pushed out by the next five 10 ms
 * queries. So three views are kept, each bounded:
 *   recent               the last slow_log_size slow executions (a ring);
 *   slowest              the slow_log_size slowest since the last reset (a
 *                        min-heap by duration: a new entry replaces the
 *                        fastest kept one only when it is strictly slower);
 *   slowest_per_pattern  the slowest execution of each kept pattern (in the
 *                        pattern; it goes when the pattern is evicted).
 * Only slow executions (duration >= slow_query_threshold) are considered, so
 * the copies below are off the fast path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/monitor_internal.h"

void alchdb__monitor_slow_entry_free(mon_slow_entry *e)
{
    alchdb__free(e->text);
    alchdb__free(e->labels);
    memset(e, 0, sizeof *e);
}

/* Deep copy; false (dst untouched) when memory runs out. */
static bool entry_copy(mon_slow_entry *dst, const mon_slow_entry *src)
{
    mon_slow_entry e = *src;
    e.text = src->text ? alchdb__strdup(src->text) : NULL;
    e.labels = NULL;
    if (src->labels && (e.labels = alchdb__malloc(src->labels_len)) != NULL)
        memcpy(e.labels, src->labels, src->labels_len);
    if ((src->text && !e.text) || (src->labels && !e.labels)) {
        alchdb__free(e.text);
        alchdb__free(e.labels);
        return false;
    }
    *dst = e;
    return true;
}

int alchdb__monitor_slow_init(alchdb_monitor *mon)
{
    if (!mon->slow_cap)
        return 0;
    mon->slowlog = alchdb__calloc(mon->slow_cap, sizeof *mon->slowlog);
    mon->slowest = alchdb__calloc(mon->slow_cap, sizeof *mon->slowest);
    return mon->slowlog && mon->slowest ? 0 : ALCHDB_E_NOMEM;
}

static void clear_locked(alchdb_monitor *mon)
{
    for (uint32_t i = 0; mon->slowlog && i < mon->slow_cap; i++)
        alchdb__monitor_slow_entry_free(&mon->slowlog[i]);
    for (uint32_t i = 0; mon->slowest && i < mon->slow_cap; i++)
        alchdb__monitor_slow_entry_free(&mon->slowest[i]);
    mon->slow_head = mon->slow_count = mon->slowest_count = 0;
}

void alchdb__monitor_slow_clear(alchdb_monitor *mon)
{
    pthread_mutex_lock(&mon->slow_lock);
    clear_locked(mon);
    pthread_mutex_unlock(&mon->slow_lock);
}

void alchdb__monitor_slow_destroy(alchdb_monitor *mon)
{
    clear_locked(mon);
    alchdb__free(mon->slowlog);
    alchdb__free(mon->slowest);
    mon->slowlog = mon->slowest = NULL;
}

/* ---- the min-heap of the slowest (root = the fastest kept) ---------------- */

static bool faster(const mon_slow_entry *a, const mon_slow_entry *b)
{
    /* equal durations: the newer one is "faster", so the older stays kept */
    return a->duration_us < b->duration_us ||
           (a->duration_us == b->duration_us && a->ts_us > b->ts_us);
}

static void sift_down(mon_slow_entry *h, uint32_t n, uint32_t i)
{
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && faster(&h[l], &h[m]))
            m = l;
        if (r < n && faster(&h[r], &h[m]))
            m = r;
        if (m == i)
            return;
        mon_slow_entry t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static void sift_up(mon_slow_entry *h, uint32_t i)
{
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!faster(&h[i], &h[parent]))
            return;
        mon_slow_entry t = h[i];
        h[i] = h[parent];
        h[parent] = t;
        i = parent;
    }
}

void alchdb__monitor_slow_keep(alchdb_monitor *mon, mon_pattern *p, uint32_t gen, mon_slow_entry *ent)
{
    /* the pattern's slowest */
    pthread_mutex_lock(&p->lock);
    if (p->used && p->gen == gen &&
        (!p->slowest.set || ent->duration_us > p->slowest.duration_us)) {
        mon_slow_entry c;
        if (entry_copy(&c, ent)) {
            alchdb__monitor_slow_entry_free(&p->slowest);
            p->slowest = c;
        }
    }
    pthread_mutex_unlock(&p->lock);

    pthread_mutex_lock(&mon->slow_lock);
    /* the slowest overall */
    if (mon->slowest_count < mon->slow_cap) {
        if (entry_copy(&mon->slowest[mon->slowest_count], ent))
            sift_up(mon->slowest, mon->slowest_count++);
    } else if (faster(&mon->slowest[0], ent)) {
        mon_slow_entry c;
        if (entry_copy(&c, ent)) {
            alchdb__monitor_slow_entry_free(&mon->slowest[0]);
            mon->slowest[0] = c;
            sift_down(mon->slowest, mon->slowest_count, 0);
        }
    }
    /* the recent ring takes the entry itself */
    mon_slow_entry *dst = &mon->slowlog[mon->slow_head];
    alchdb__monitor_slow_entry_free(dst);
    *dst = *ent;
    memset(ent, 0, sizeof *ent);
    mon->slow_head = (mon->slow_head + 1) % mon->slow_cap;
    if (mon->slow_count < mon->slow_cap)
        mon->slow_count++;
    pthread_mutex_unlock(&mon->slow_lock);
}

/* ---- JSON ----------------------------------------------------------------- */

static void emit_labels(alchdb__strbuf *sb, const mon_slow_entry *e)
{
    alchdb__sb_puts(sb, "{");
    const char *l = e->labels;
    const char *seen[MON_MAX_LABELS_PER_QUERY];
    size_t seen_len[MON_MAX_LABELS_PER_QUERY];
    uint32_t nseen = 0;
    for (uint32_t i = 0; l && i < e->nlabels; i++, l += strlen(l) + 1) {
        const char *eq = strchr(l, '=');
        size_t kl = eq ? (size_t)(eq - l) : strlen(l);
        bool dup = false;
        for (uint32_t k = 0; k < nseen; k++)
            dup |= seen_len[k] == kl && !memcmp(seen[k], l, kl);
        if (dup || nseen == MON_MAX_LABELS_PER_QUERY)
            continue; /* a key given twice: the first value wins */
        seen[nseen] = l;
        seen_len[nseen++] = kl;
        if (nseen > 1)
            alchdb__sb_puts(sb, ",");
        alchdb__sb_json_strn(sb, l, kl);
        alchdb__sb_puts(sb, ":");
        alchdb__sb_json_str(sb, eq ? eq + 1 : "");
    }
    alchdb__sb_puts(sb, "}");
}

static void emit_entry(alchdb__strbuf *sb, const mon_slow_entry *e, bool redacted, bool first)
{
    alchdb__sb_printf(sb,
                      "%s{\"timestamp_us\":%lld,\"duration_us\":%lld,\"rows\":%lld,"
                      "\"pattern_id\":\"%016llx\",\"sqlstate\":",
                      first ? "" : ",", (long long)e->ts_us, (long long)e->duration_us,
                      (long long)e->rows, (unsigned long long)e->pattern_key);
    alchdb__sb_json_str(sb, e->sqlstate[0] ? e->sqlstate : NULL);
    alchdb__sb_puts(sb, ",\"route\":");
    alchdb__sb_json_str(sb, e->route[0] ? e->route : NULL);
    alchdb__sb_puts(sb, ",\"labels\":");
    emit_labels(sb, e);
    alchdb__sb_printf(sb, ",\"redacted\":%s,\"text\":", redacted ? "true" : "false");
    alchdb__sb_json_str(sb, e->text);
    alchdb__sb_puts(sb, "}");
}

static int by_duration_desc(const void *a, const void *b)
{
    const mon_slow_entry *x = a, *y = b;
    if (x->duration_us != y->duration_us)
        return x->duration_us > y->duration_us ? -1 : 1;
    return x->ts_us < y->ts_us ? -1 : x->ts_us > y->ts_us; /* older first */
}

static void emit_sorted(alchdb__strbuf *sb, const char *name, mon_slow_entry *v, uint32_t n,
                        int64_t limit, bool redacted)
{
    if (n > 1)
        qsort(v, n, sizeof *v, by_duration_desc);
    if (limit && (uint64_t)limit < n)
        n = (uint32_t)limit;
    alchdb__sb_printf(sb, ",\"%s\":[", name);
    for (uint32_t i = 0; i < n; i++)
        emit_entry(sb, &v[i], redacted, i == 0);
    alchdb__sb_puts(sb, "]");
}

int alchdb_monitor_slow_log_to_json(alchdb_monitor *mon, int64_t limit, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    alchdb__monitor_drain(mon);
    ALCHDB_CHECK_ARG(limit >= 0, "limit", "must be >= 0");
    bool redacted = !mon->cfg.v[ALCHDB_MONITOR_OPT_KEEP_PARAMETERS];

    /* the patterns' slowest, copied under their locks and formatted after */
    pthread_mutex_lock(&mon->pat_lock);
    uint32_t cap = mon->nused, np = 0;
    mon_slow_entry *per = cap ? alchdb__calloc(cap, sizeof *per) : NULL;
    bool oom = cap && !per;
    for (uint32_t i = 0; !oom && i < mon->nalloc && np < cap; i++) {
        mon_pattern *p = mon->slots[i];
        pthread_mutex_lock(&p->lock);
        if (p->used && p->slowest.set)
            oom = !entry_copy(&per[np++], &p->slowest);
        pthread_mutex_unlock(&p->lock);
        if (oom)
            np--;
    }
    pthread_mutex_unlock(&mon->pat_lock);

    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "{\"slow_threshold_us\":%lld,\"recent\":[",
                      (long long)mon->cfg.v[ALCHDB_MONITOR_OPT_SLOW_THRESHOLD]);
    mon_slow_entry *top = NULL;
    uint32_t ntop = 0;
    pthread_mutex_lock(&mon->slow_lock);
    uint32_t n = mon->slow_count;
    if (limit && (uint64_t)limit < n)
        n = (uint32_t)limit;
    for (uint32_t i = 0; i < n; i++)
        emit_entry(&sb, &mon->slowlog[(mon->slow_head + mon->slow_cap - 1 - i) % mon->slow_cap],
                   redacted, i == 0);
    alchdb__sb_puts(&sb, "]");
    if (mon->slowest_count) {
        /* shallow copy to sort: the strings stay owned by the heap while we hold the lock */
        top = alchdb__malloc(sizeof *top * mon->slowest_count);
        if (top) {
            ntop = mon->slowest_count;
            memcpy(top, mon->slowest, sizeof *top * ntop);
        } else {
            oom = true;
        }
    }
    emit_sorted(&sb, "slowest", top, ntop, limit, redacted);
    pthread_mutex_unlock(&mon->slow_lock);
    alchdb__free(top);
    emit_sorted(&sb, "slowest_per_pattern", per, np, limit, redacted);
    alchdb__sb_puts(&sb, "}");
    for (uint32_t i = 0; i < np; i++)
        alchdb__monitor_slow_entry_free(&per[i]);
    alchdb__free(per);
    if (oom) {
        alchdb__sb_reset(&sb);
        return alchdb__nomem("monitor slow log");
    }
    char *s = alchdb__sb_finish(&sb);
    if (!s)
        return alchdb__nomem("monitor slow log JSON");
    *out = s;
    return 0;
}
