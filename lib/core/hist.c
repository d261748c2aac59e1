#include <math.h>
#include <string.h>

#include "internal.h"
#include "core/hist.h"

size_t alchdb__hist_bucket_of(int64_t v)
{
    if (v < ALCHDB__HIST_SUB)
        return v < 0 ? 0 : (size_t)v;
    int e = 63 - __builtin_clzll((unsigned long long)v); /* e >= SUB_BITS */
    size_t sub = (size_t)((uint64_t)v >> (e - ALCHDB__HIST_SUB_BITS)) & (ALCHDB__HIST_SUB - 1);
    return (size_t)(e - ALCHDB__HIST_SUB_BITS + 1) * ALCHDB__HIST_SUB + sub;
}

int64_t alchdb__hist_bucket_low(size_t idx)
{
    if (idx < ALCHDB__HIST_SUB)
        return (int64_t)idx;
    size_t tier = idx / ALCHDB__HIST_SUB; /* >= 1 */
    size_t sub = idx % ALCHDB__HIST_SUB;
    int e = (int)tier + ALCHDB__HIST_SUB_BITS - 1;
    return (int64_t)(((uint64_t)ALCHDB__HIST_SUB + sub) << (e - ALCHDB__HIST_SUB_BITS));
}

int64_t alchdb__hist_bucket_high(size_t idx)
{
    if (idx < ALCHDB__HIST_SUB)
        return (int64_t)idx;
    size_t tier = idx / ALCHDB__HIST_SUB;
    int e = (int)tier + ALCHDB__HIST_SUB_BITS - 1;
    return alchdb__hist_bucket_low(idx) + ((int64_t)1 << (e - ALCHDB__HIST_SUB_BITS)) - 1;
}

int alchdb__hist_init(alchdb__hist *h, int64_t max_value)
{
    memset(h, 0, sizeof *h);
    if (max_value < 1 || max_value > INT64_MAX / 2)
        return alchdb__error(ALCHDB_E_INVALID, "histogram: max_value out of range");
    h->max_value = max_value;
    h->nbuckets = alchdb__hist_bucket_of(max_value) + 1;
    h->buckets = alchdb__calloc(h->nbuckets, sizeof *h->buckets);
    if (!h->buckets)
        return alchdb__nomem("histogram");
    atomic_init(&h->count, 0);
    atomic_init(&h->sum, 0);
    atomic_init(&h->min, INT64_MAX);
    atomic_init(&h->max, 0);
    atomic_init(&h->clamped, 0);
    return 0;
}

void alchdb__hist_destroy(alchdb__hist *h)
{
    if (!h)
        return;
    alchdb__free((void *)h->buckets);
    h->buckets = NULL;
}

alchdb__hist *alchdb__hist_new(int64_t max_value)
{
    alchdb__hist *h = alchdb__malloc(sizeof *h);
    if (!h) {
        alchdb__nomem("histogram");
        return NULL;
    }
    if (alchdb__hist_init(h, max_value) != 0) {
        alchdb__free(h);
        return NULL;
    }
    return h;
}

void alchdb__hist_free(alchdb__hist *h)
{
    if (!h)
        return;
    alchdb__hist_destroy(h);
    alchdb__free(h);
}

void alchdb__hist_record_n(alchdb__hist *h, int64_t v, int64_t n)
{
    if (n <= 0)
        return;
    if (v < 0)
        v = 0;
    if (v > h->max_value) {
        v = h->max_value;
        atomic_fetch_add_explicit(&h->clamped, n, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&h->buckets[alchdb__hist_bucket_of(v)], n, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, n, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v * n, memory_order_relaxed);
    int64_t cur = atomic_load_explicit(&h->min, memory_order_relaxed);
    while (v < cur &&
           !atomic_compare_exchange_weak_explicit(&h->min, &cur, v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
    cur = atomic_load_explicit(&h->max, memory_order_relaxed);
    while (v > cur &&
           !atomic_compare_exchange_weak_explicit(&h->max, &cur, v, memory_order_relaxed,
                                                  memory_order_relaxed))
        ;
}

void alchdb__hist_record(alchdb__hist *h, int64_t v) { alchdb__hist_record_n(h, v, 1); }

int alchdb__hist_merge(alchdb__hist *dst, const alchdb__hist *src)
{
    if (!dst || !src || dst->max_value != src->max_value)
        return alchdb__error(ALCHDB_E_INVALID, "histogram merge: layouts differ");
    alchdb__hist *s = (alchdb__hist *)src; /* atomics need non-const access */
    for (size_t i = 0; i < s->nbuckets; i++) {
        int64_t n = atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        if (n)
            atomic_fetch_add_explicit(&dst->buckets[i], n, memory_order_relaxed);
    }
    atomic_fetch_add(&dst->count, atomic_load(&s->count));
    atomic_fetch_add(&dst->sum, atomic_load(&s->sum));
    atomic_fetch_add(&dst->clamped, atomic_load(&s->clamped));
    int64_t smin = atomic_load(&s->min), smax = atomic_load(&s->max);
    int64_t cur = atomic_load(&dst->min);
    while (smin < cur && !atomic_compare_exchange_weak(&dst->min, &cur, smin))
        ;
    cur = atomic_load(&dst->max);
    while (smax > cur && !atomic_compare_exchange_weak(&dst->max, &cur, smax))
        ;
    return 0;
}

void alchdb__hist_reset(alchdb__hist *h)
{
    for (size_t i = 0; i < h->nbuckets; i++)
        atomic_store_explicit(&h->buckets[i], 0, memory_order_relaxed);
    atomic_store(&h->count, 0);
    atomic_store(&h->sum, 0);
    atomic_store(&h->min, INT64_MAX);
    atomic_store(&h->max, 0);
    atomic_store(&h->clamped, 0);
}

int64_t alchdb__hist_count(const alchdb__hist *h)
{
    return atomic_load(&((alchdb__hist *)h)->count);
}

int64_t alchdb__hist_min(const alchdb__hist *h)
{
    int64_t m = atomic_load(&((alchdb__hist *)h)->min);
    return m == INT64_MAX ? 0 : m;
}

int64_t alchdb__hist_max(const alchdb__hist *h) { return atomic_load(&((alchdb__hist *)h)->max); }

double alchdb__hist_mean(const alchdb__hist *h)
{
    int64_t n = alchdb__hist_count(h);
    return n ? (double)atomic_load(&((alchdb__hist *)h)->sum) / (double)n : 0.0;
}

int64_t alchdb__hist_quantile(const alchdb__hist *h, double q)
{
    alchdb__hist *hh = (alchdb__hist *)h;
    int64_t total = 0;
    for (size_t i = 0; i < hh->nbuckets; i++)
        total += atomic_load_explicit(&hh->buckets[i], memory_order_relaxed);
    if (total == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    int64_t rank = (int64_t)ceil(q * (double)total);
    if (rank < 1)
        rank = 1;
    int64_t seen = 0;
    size_t idx = hh->nbuckets - 1;
    for (size_t i = 0; i < hh->nbuckets; i++) {
        seen += atomic_load_explicit(&hh->buckets[i], memory_order_relaxed);
        if (seen >= rank) {
            idx = i;
            break;
        }
    }
    int64_t lo = alchdb__hist_bucket_low(idx), hi = alchdb__hist_bucket_high(idx);
    int64_t v = lo + (hi - lo) / 2;
    int64_t mn = alchdb__hist_min(h), mx = alchdb__hist_max(h);
    if (v < mn)
        v = mn;
    if (v > mx)
        v = mx;
    return v;
}
