/* Time and windows of the monitor: the ordering clock, per-pattern windows
 * with their latency distribution, and the monitor-wide windows whose
 * percentiles the trend reports.
 *
 * Windows are aligned to the Unix epoch: minute window id = t / 60 s, hour
 * window id = t / 3600 s, stored in a ring indexed by id modulo its length.
 * t is the ordering time, which never runs backwards, so a newer window is
 * never overwritten by an older one when the wall clock steps back. */
#include <math.h>
#include <string.h>

#include "monitor/monitor_internal.h"

int64_t alchdb__monitor_order_time(alchdb_monitor *mon, int64_t wall)
{
    /* With the system clock, ordering follows the monotonic clock; an
     * injected clock (tests, replays) is the only time there is, so ordering
     * is its running maximum (mono = 0). */
    int64_t mono = mon->clock ? 0 : alchdb__now_ns() / 1000;
    int64_t off = atomic_load_explicit(&mon->ord_offset, memory_order_relaxed);
    /* The wall clock ran ahead of monotonic + offset (normal progress of an
     * injected clock, or a step forward): move the offset up to it. A step
     * back leaves the offset alone, so ordering time keeps running from where
     * it was on the monotonic clock. */
    while (wall - mono > off) {
        if (atomic_compare_exchange_weak_explicit(&mon->ord_offset, &off, wall - mono,
                                                  memory_order_relaxed, memory_order_relaxed))
            return wall;
    }
    return mono + off;
}

/* ---- per-pattern windows -------------------------------------------------- */

static void bucket_add(mon_window *w, uint32_t idx)
{
    uint32_t lo = 0, hi = w->nb;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (w->b[mid].idx < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < w->nb && w->b[lo].idx == idx) {
        w->b[lo].n++;
        return;
    }
    if (w->nb == w->cap) {
        uint32_t cap = w->cap ? w->cap * 2 : 8;
        mon_wbucket *nb = alchdb__realloc(w->b, sizeof *nb * cap);
        if (!nb) { /* no memory: still counted, left out of the percentiles */
            w->unbucketed++;
            return;
        }
        w->b = nb;
        w->cap = cap;
    }
    memmove(&w->b[lo + 1], &w->b[lo], sizeof *w->b * (w->nb - lo));
    w->b[lo] = (mon_wbucket){.idx = idx, .n = 1};
    w->nb++;
}

void alchdb__monitor_window_note(mon_window *w, int64_t id, int64_t d, bool err, bool slow)
{
    if (w->id != id) {
        if (w->id > id)
            return; /* cannot happen with the ordering time; never go back */
        w->id = id;
        w->calls = w->errors = w->slow = w->total_us = w->max_us = w->unbucketed = 0;
        w->nb = 0;
    }
    w->calls++;
    w->errors += err;
    w->slow += slow;
    w->total_us += d;
    if (d > w->max_us)
        w->max_us = d;
    bucket_add(w, (uint32_t)alchdb__hist_bucket_of(d < MON_HIST_MAX_US ? d : MON_HIST_MAX_US));
}

void alchdb__monitor_windows_clear(mon_window *w, int n)
{
    for (int i = 0; i < n; i++) {
        w[i].id = -1;
        w[i].calls = w[i].errors = w[i].slow = w[i].total_us = w[i].max_us = 0;
        w[i].unbucketed = 0;
        w[i].nb = 0;
    }
}

void alchdb__monitor_windows_free(mon_window *w, int n)
{
    for (int i = 0; i < n; i++) {
        alchdb__free(w[i].b);
        w[i].b = NULL;
        w[i].nb = w[i].cap = 0;
    }
}

static int64_t mid_of(uint32_t idx)
{
    int64_t lo = alchdb__hist_bucket_low(idx), hi = alchdb__hist_bucket_high(idx);
    return lo + (hi - lo) / 2;
}

void alchdb__monitor_window_snap(mon_wsnap *dst, const mon_window *src)
{
    *dst = (mon_wsnap){.id = src->id,
                       .calls = src->calls,
                       .errors = src->errors,
                       .slow = src->slow,
                       .total_us = src->total_us,
                       .max_us = src->max_us};
    int64_t total = 0;
    for (uint32_t i = 0; i < src->nb; i++)
        total += src->b[i].n;
    if (total == 0)
        return;
    static const double qs[4] = {0.50, 0.90, 0.95, 0.99};
    int64_t *outs[4] = {&dst->p50_us, &dst->p90_us, &dst->p95_us, &dst->p99_us};
    int64_t seen = 0;
    uint32_t i = 0;
    for (int k = 0; k < 4; k++) {
        int64_t rank = (int64_t)ceil(qs[k] * (double)total);
        if (rank < 1)
            rank = 1;
        while (i < src->nb && seen + src->b[i].n < rank)
            seen += src->b[i++].n;
        int64_t v = mid_of(src->b[i < src->nb ? i : src->nb - 1].idx);
        *outs[k] = v > src->max_us ? src->max_us : v;
    }
}

void alchdb__monitor_wsnap_add(mon_wsnap *dst, const mon_wsnap *src)
{
    if (src->id < 0)
        return;
    if (dst->id != src->id) {
        if (dst->id > src->id)
            return; /* dst already holds a newer period */
        memset(dst, 0, sizeof *dst);
        dst->id = src->id;
    }
    dst->calls += src->calls;
    dst->errors += src->errors;
    dst->slow += src->slow;
    dst->total_us += src->total_us;
    if (src->max_us > dst->max_us)
        dst->max_us = src->max_us;
}

void alchdb__monitor_wsnaps_clear(mon_wsnap *w, int n)
{
    memset(w, 0, sizeof *w * (size_t)n);
    for (int i = 0; i < n; i++)
        w[i].id = -1;
}

/* ---- monitor-wide windows ----------------------------------------------- */

int alchdb__monitor_gwindows_init(alchdb_monitor *mon)
{
    for (int i = 0; i < MON_MINUTES; i++) {
        atomic_init(&mon->gminute[i].id, -1);
        if (alchdb__hist_init(&mon->gminute[i].h, MON_HIST_MAX_US) != 0)
            return ALCHDB_E_NOMEM;
    }
    for (int i = 0; i < MON_HOURS; i++) {
        atomic_init(&mon->ghour[i].id, -1);
        if (alchdb__hist_init(&mon->ghour[i].h, MON_HIST_MAX_US) != 0)
            return ALCHDB_E_NOMEM;
    }
    return 0;
}

void alchdb__monitor_gwindows_destroy(alchdb_monitor *mon)
{
    for (int i = 0; i < MON_MINUTES; i++)
        alchdb__hist_destroy(&mon->gminute[i].h);
    for (int i = 0; i < MON_HOURS; i++)
        alchdb__hist_destroy(&mon->ghour[i].h);
}

void alchdb__monitor_gwindows_reset(alchdb_monitor *mon)
{
    pthread_mutex_lock(&mon->roll_lock);
    for (int i = 0; i < MON_MINUTES; i++) {
        atomic_store(&mon->gminute[i].id, -1);
        alchdb__hist_reset(&mon->gminute[i].h);
    }
    for (int i = 0; i < MON_HOURS; i++) {
        atomic_store(&mon->ghour[i].id, -1);
        alchdb__hist_reset(&mon->ghour[i].h);
    }
    pthread_mutex_unlock(&mon->roll_lock);
}

/* Lock-free while the window is current; the first record of a new period
 * takes roll_lock to clear the slot. A record racing with the roll-over may
 * land in the neighbouring period's distribution (its counts are exact: they
 * live in the patterns' windows). */
static void gnote(alchdb_monitor *mon, mon_gwindow *g, int64_t id, int64_t d)
{
    int64_t cur = atomic_load_explicit(&g->id, memory_order_acquire);
    if (cur != id) {
        if (cur > id)
            return;
        pthread_mutex_lock(&mon->roll_lock);
        cur = atomic_load_explicit(&g->id, memory_order_relaxed);
        if (cur < id) {
            alchdb__hist_reset(&g->h);
            atomic_store_explicit(&g->id, id, memory_order_release);
        }
        pthread_mutex_unlock(&mon->roll_lock);
        if (cur > id)
            return;
    }
    alchdb__hist_record(&g->h, d);
}

void alchdb__monitor_gwindow_note(alchdb_monitor *mon, int64_t mid, int64_t hid, int64_t d)
{
    gnote(mon, &mon->gminute[mid % MON_MINUTES], mid, d);
    gnote(mon, &mon->ghour[hid % MON_HOURS], hid, d);
}

static void gfill(alchdb_monitor *mon, mon_gwindow *g, mon_wsnap *w, int n)
{
    for (int i = 0; i < n; i++) {
        if (w[i].id < 0)
            continue;
        mon_gwindow *x = &g[w[i].id % n];
        pthread_mutex_lock(&mon->roll_lock);
        if (atomic_load(&x->id) == w[i].id && alchdb__hist_count(&x->h) > 0) {
            w[i].p50_us = alchdb__hist_quantile(&x->h, 0.50);
            w[i].p90_us = alchdb__hist_quantile(&x->h, 0.90);
            w[i].p95_us = alchdb__hist_quantile(&x->h, 0.95);
            w[i].p99_us = alchdb__hist_quantile(&x->h, 0.99);
        }
        pthread_mutex_unlock(&mon->roll_lock);
    }
}

void alchdb__monitor_gwindow_fill(alchdb_monitor *mon, mon_wsnap *minute, mon_wsnap *hour)
{
    gfill(mon, mon->gminute, minute, MON_MINUTES);
    gfill(mon, mon->ghour, hour, MON_HOURS);
}
