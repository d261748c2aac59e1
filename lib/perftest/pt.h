/* Internal declarations of the perftest module: the test table, the target
 * table, a run's state and the report. */
#ifndef ALCHDB_PT_H
#define ALCHDB_PT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alchdb/cache.h"
#include "alchdb/perftest.h"
#include "alchdb/pool.h"
#include "alchdb/router.h"
#include "core/internal.h"
#include "core/opt.h"
#include "core/hist.h"

#define PT_NTESTS 9

/* Metrics a target can be set on. */
enum pt_metric {
    PT_M_P95,    /* latency p95, us, at most */
    PT_M_OPS,    /* throughput, ops/s, at least */
    PT_M_ERRORS, /* error rate, percent x 1000 (milli-percent), at most */
    PT_M_UTIL,   /* pool utilization, mean over the test, percent x 1000, at most */
    PT_M_HIT,    /* cache hit rate, percent x 1000, at least */
    PT_NMETRICS
};

/* What one worker operation does. */
enum pt_op {
    PT_OP_MIX,       /* an application mix of reads and writes */
    PT_OP_ACQUIRE,   /* acquire + release a pooled connection (only the wait is timed) */
    PT_OP_SEARCH,    /* recipe search */
    PT_OP_USER,      /* a user's recipes */
    PT_OP_RATING,    /* rating aggregation per cuisine */
    PT_OP_CACHED,    /* a hot recipe's detail through the cache */
    PT_OP_SCAN       /* alternately an indexed and a sequential-scan lookup */
};

typedef struct pt_test_def {
    const char *name;
    const char *title;
    int workers;
    int op;
    int64_t think_us;             /* pause between a worker's operations */
    int long_run;                 /* 1: measured for the profile's long duration */
    /* targets: < 0 = not judged */
    int64_t target[PT_NMETRICS];
    const char *advice;           /* recommendation when the test fails */
    int burst;                    /* 1: no warm-up, every worker starts at the same instant */
} pt_test_def;

extern const pt_test_def alchdb__pt_tests[PT_NTESTS];

/* The config object (public type). */
struct alchdb_perftest_config {
    alchdb__opts opts;
};
extern const alchdb__optspec alchdb__perftest_spec;

/* Targets after the overrides: [test][metric]. */
typedef struct pt_targets {
    int64_t v[PT_NTESTS][PT_NMETRICS];
} pt_targets;
int alchdb__pt_targets_parse(const char *text, pt_targets *t, char *why, size_t cap);
/* Selected tests as a bit set; ALCHDB_E_INVALID naming an unknown test. */
int alchdb__pt_select(const char *text, unsigned *mask, char *why, size_t cap);

/* Durations of a run after the profile and the overrides. */
typedef struct pt_timing {
    int64_t global_warmup_us, warmup_us, measure_us, cooldown_us;
    int64_t long_factor; /* long_run tests measure measure_us * long_factor */
} pt_timing;
void alchdb__pt_timing(const alchdb__opts *o, pt_timing *t);

/* Data generation and loading (data.c). */
typedef struct pt_data {
    char schema[64];      /* the schema's name (validated: a plain identifier) */
    int64_t recipes, users, seed;
} pt_data;
int alchdb__pt_data_init(pt_data *d, const alchdb__opts *o);
int alchdb__pt_setup(const alchdb_perftest_target *t, const pt_data *d);
int alchdb__pt_cleanup(const alchdb_perftest_target *t, const pt_data *d);
/* The schema's name quoted by libpq (PQescapeIdentifier) into out. */
struct pg_conn;
int alchdb__pt_quote_schema(struct pg_conn *pg, const pt_data *d, char *out, size_t cap);
const char *alchdb__pt_metric_name(int m);
/* tmpl with every "@S" replaced by the quoted schema q; ALCHDB_E_RANGE when it does not fit. */
int alchdb__pt_subst(const char *tmpl, const char *q, char *out, size_t cap);
/* Deterministic generator shared by the loader and the argument maker. */
uint64_t alchdb__pt_rand(uint64_t *state);
extern const char *const alchdb__pt_cuisines[];
extern const size_t alchdb__pt_ncuisines;
extern const char *const alchdb__pt_words[];
extern const size_t alchdb__pt_nwords;

/* One test's measured result. */
typedef struct pt_result {
    int index;                 /* into alchdb__pt_tests */
    int64_t workers;
    int64_t duration_us;
    int64_t ops, errors;
    int64_t p50_us, p95_us, p99_us, max_us;
    double mean_us;
    double ops_per_sec;
    double error_pct;
    double util_mean_pct, util_max_pct;   /* < 0: no pool to sample */
    double hit_pct;                       /* < 0: not measured */
    int64_t idx_p95_us, seq_p95_us;       /* index_vs_seq_scan only */
    char first_error[256];
    int64_t target[PT_NMETRICS];
    bool met[PT_NMETRICS];
    bool judged[PT_NMETRICS];
    bool passed;
} pt_result;

struct alchdb_perftest_report {
    int64_t started_wall_us;
    int64_t duration_us;
    int profile;
    int64_t recipes, users;
    size_t n;
    pt_result r[PT_NTESTS];
};

/* Run one test (run.c). */
typedef struct pt_run pt_run;
int alchdb__pt_run_all(const alchdb_perftest_target *t, const alchdb__opts *o, alchdb_cancel *cancel,
                       alchdb_perftest_progress_fn fn, void *ud, alchdb_perftest_report **out);
/* Judge a result against its targets (report.c). */
void alchdb__pt_judge(pt_result *r);
char alchdb__pt_grade(int64_t health);

/* The queries (queries.c): one operation of kind op by a worker with its own
 * generator state; returns 0 or the client's error, *lat_us the measured time,
 * *which 0 or 1 for PT_OP_SCAN (index or sequential). */
typedef struct pt_ctx {
    const alchdb_perftest_target *t;
    const pt_data *d;
    char sql[8][512];          /* the statements with the schema spliced in (an identifier, quoted) */
    char token[256];           /* read-your-writes token after the load (routed clients) */
} pt_ctx;
int alchdb__pt_ctx_init(pt_ctx *c, const alchdb_perftest_target *t, const pt_data *d);
int alchdb__pt_op(const pt_ctx *c, int op, uint64_t *rng, int64_t *lat_us, int *which, char *err, size_t cap);

#endif /* ALCHDB_PT_H */
