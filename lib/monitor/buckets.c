/* Cumulative bucket counts of the monitor's duration histograms, for
 * exporters that need the Prometheus histogram shape (count of executions at
 * or below each bound) rather than quantiles. */
#include <stdio.h>
#include <string.h>

#include "monitor/monitor_internal.h"

/* Add the histogram's executions at or below each bound. A bucket counts for
 * a bound when its midpoint (the value quantiles report) is at or below it, so
 * the counts carry the histogram's 1/64 relative error at the bounds. */
static void add_le(const alchdb__hist *h, const int64_t *bounds, size_t nb, int64_t *le,
                   int64_t *count, int64_t *sum)
{
    alchdb__hist *hh = (alchdb__hist *)h;
    for (size_t i = 0; i < hh->nbuckets; i++) {
        int64_t c = atomic_load_explicit(&hh->buckets[i], memory_order_relaxed);
        if (!c)
            continue;
        int64_t lo = alchdb__hist_bucket_low(i), hi = alchdb__hist_bucket_high(i);
        int64_t mid = lo + (hi - lo) / 2;
        for (size_t b = 0; b < nb; b++)
            if (mid <= bounds[b])
                le[b] += c;
        *count += c;
    }
    *sum += atomic_load_explicit(&hh->sum, memory_order_relaxed);
}

ALCHDB_API int alchdb_monitor_histogram(alchdb_monitor *mon, const char *pattern_id,
                                        const int64_t *bounds_us, size_t nbounds, int64_t *le,
                                        int64_t *count, int64_t *sum_us)
{
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    ALCHDB_CHECK_ARG(nbounds <= 64, "nbounds", "must be at most 64");
    ALCHDB_CHECK_ARG(bounds_us || nbounds == 0, "bounds_us", "must not be NULL");
    ALCHDB_CHECK_ARG(le || nbounds == 0, "le", "must not be NULL");
    ALCHDB_CHECK_ARG(count, "count", "must not be NULL");
    ALCHDB_CHECK_ARG(sum_us, "sum_us", "must not be NULL");
    unsigned long long key = 0;
    if (pattern_id) {
        char tail;
        ALCHDB_CHECK_ARG(strlen(pattern_id) == 16 && sscanf(pattern_id, "%16llx%c", &key, &tail) == 1,
                         "pattern_id", "must be 16 hex digits (a pattern id)");
    }
    alchdb__monitor_drain(mon);
    for (size_t b = 0; b < nbounds; b++)
        le[b] = 0;
    *count = *sum_us = 0;
    bool found = !pattern_id;
    pthread_mutex_lock(&mon->pat_lock);
    for (uint32_t i = 0; i < mon->nalloc; i++) {
        mon_pattern *p = mon->slots[i];
        pthread_mutex_lock(&p->lock);
        if (p->used && (!pattern_id || p->key == key)) {
            add_le(&p->all, bounds_us, nbounds, le, count, sum_us);
            found = true;
        }
        pthread_mutex_unlock(&p->lock);
    }
    if (!pattern_id)
        add_le(&mon->ev_hist, bounds_us, nbounds, le, count, sum_us);
    pthread_mutex_unlock(&mon->pat_lock);
    if (!found)
        return alchdb__error(ALCHDB_E_NOTFOUND, "alchdb_monitor_histogram: no pattern %s",
                             pattern_id);
    return 0;
}
