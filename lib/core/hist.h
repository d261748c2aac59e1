/* Log-linear histogram shared by the pool (acquire wait times), the monitor
 * (query durations) and whoever else measures latencies. Internal: never
 * exported.
 *
 * Layout: values below 2^SUB_BITS get one bucket each; above, every power of
 * two is split into 2^SUB_BITS equal buckets. With SUB_BITS = 5 a bucket is at
 * most 1/32 of its lower bound wide, and quantiles report the bucket midpoint,
 * so the relative error is at most 1/64 (about 1.6 %).
 *
 * Recording is lock-free (relaxed atomic adds) and safe from any number of
 * threads; quantile/merge/snapshot reads are consistent per bucket but not
 * across buckets while writers run (fine for metrics). */
#ifndef ALCHDB_HIST_H
#define ALCHDB_HIST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define ALCHDB__HIST_SUB_BITS 5
#define ALCHDB__HIST_SUB (1 << ALCHDB__HIST_SUB_BITS)

typedef struct alchdb__hist {
    int64_t max_value;       /* larger values are clamped (and counted) */
    size_t nbuckets;
    _Atomic int64_t count;
    _Atomic int64_t sum;
    _Atomic int64_t min;
    _Atomic int64_t max;
    _Atomic int64_t clamped;
    _Atomic int64_t *buckets;
} alchdb__hist;

/* Initialise in place for values 0..max_value (max_value >= 1). Returns 0 or
 * ALCHDB_E_NOMEM / ALCHDB_E_INVALID (error detail set). */
int alchdb__hist_init(alchdb__hist *h, int64_t max_value);
void alchdb__hist_destroy(alchdb__hist *h);
/* Heap-allocated variants. */
alchdb__hist *alchdb__hist_new(int64_t max_value);
void alchdb__hist_free(alchdb__hist *h);

/* Record one value (negative values count as 0). Lock-free. */
void alchdb__hist_record(alchdb__hist *h, int64_t v);
void alchdb__hist_record_n(alchdb__hist *h, int64_t v, int64_t n);

/* Add src into dst. Both must have the same max_value; ALCHDB_E_INVALID
 * otherwise. */
int alchdb__hist_merge(alchdb__hist *dst, const alchdb__hist *src);
void alchdb__hist_reset(alchdb__hist *h);

int64_t alchdb__hist_count(const alchdb__hist *h);
int64_t alchdb__hist_min(const alchdb__hist *h); /* 0 when empty */
int64_t alchdb__hist_max(const alchdb__hist *h); /* 0 when empty */
double alchdb__hist_mean(const alchdb__hist *h);
/* Value at quantile q (0..1): the midpoint of the bucket holding the value of
 * rank ceil(q * count), clamped to [min, max]. 0 when empty. */
int64_t alchdb__hist_quantile(const alchdb__hist *h, double q);

/* Bucket arithmetic (exposed for tests). */
size_t alchdb__hist_bucket_of(int64_t v);
int64_t alchdb__hist_bucket_low(size_t idx);
int64_t alchdb__hist_bucket_high(size_t idx); /* inclusive */

#endif /* ALCHDB_HIST_H */
