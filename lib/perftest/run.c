/* The load engine: per test, N worker threads with small stacks run the
 * test's operation in a closed loop (with the test's think time), released
 * together; the calling thread times the phases, samples pool utilization,
 * reports progress and watches the cancel handle. Latencies of operations that
 * started in the measured phase go into one histogram per test. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pt.h"

/* Small stacks so that the burst test's 500 workers fit a small machine;
 * big enough for libpq, the client and the monitor's first parse of a query
 * shape on the worker's own thread. */
#define WORKER_STACK (512 * 1024)
#define TICK_US 250000
#define HIST_MAX_US (INT64_C(600) * 1000000)

enum { PH_GATE, PH_WARMUP, PH_MEASURE, PH_STOP };

typedef struct shared {
    const pt_ctx *ctx;
    int op;
    int64_t think_us;
    uint64_t seed;
    _Atomic int phase;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    alchdb__hist hist, hist_idx, hist_seq;
    _Atomic int64_t ops, errors;
    _Atomic int have_error;
    char first_error[256];
} shared;

typedef struct worker {
    shared *sh;
    int index;
    pthread_t th;
} worker;

static void sleep_us(int64_t us)
{
    if (us <= 0)
        return;
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int phase_of(shared *sh)
{
    return atomic_load_explicit(&sh->phase, memory_order_acquire);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    pthread_mutex_lock(&sh->mu);
    while (phase_of(sh) == PH_GATE)
        pthread_cond_wait(&sh->cv, &sh->mu);
    pthread_mutex_unlock(&sh->mu);
    uint64_t rng = sh->seed ^ ((uint64_t)(w->index + 1) * UINT64_C(0x9e3779b97f4a7c15));
    /* Spread the first think times so a think-time test does not move in lock step. */
    if (sh->think_us > 0)
        sleep_us((int64_t)(alchdb__pt_rand(&rng) % (uint64_t)sh->think_us));
    for (;;) {
        int ph = phase_of(sh);
        if (ph == PH_STOP)
            break;
        int64_t lat = 0;
        int which = 0;
        char err[256] = "";
        int rc = alchdb__pt_op(sh->ctx, sh->op, &rng, &lat, &which, err, sizeof err);
        if (ph == PH_MEASURE) {
            alchdb__hist_record(&sh->hist, lat);
            if (sh->op == PT_OP_SCAN)
                alchdb__hist_record(which ? &sh->hist_seq : &sh->hist_idx, lat);
            atomic_fetch_add_explicit(&sh->ops, 1, memory_order_relaxed);
            if (rc != 0) {
                atomic_fetch_add_explicit(&sh->errors, 1, memory_order_relaxed);
                if (atomic_exchange(&sh->have_error, 1) == 0)
                    snprintf(sh->first_error, sizeof sh->first_error, "%s", err);
            }
        }
        if (sh->think_us > 0) {
            /* think time, +/- 50 %, cut short by the end of the test */
            int64_t left = sh->think_us / 2 + (int64_t)(alchdb__pt_rand(&rng) % (uint64_t)sh->think_us);
            while (left > 0 && phase_of(sh) != PH_STOP) {
                int64_t step = left < 50000 ? left : 50000;
                sleep_us(step);
                left -= step;
            }
        }
    }
    return NULL;
}

static void set_phase(shared *sh, int ph)
{
    pthread_mutex_lock(&sh->mu);
    atomic_store_explicit(&sh->phase, ph, memory_order_release);
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
}

/* Start n workers; a thread that cannot be made for lack of resources is
 * retried for a while before the test gives up. Returns workers started. */
static int start_workers(worker *ws, int n, shared *sh)
{
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WORKER_STACK);
    int started = 0;
    for (int i = 0; i < n; i++) {
        ws[i].sh = sh;
        ws[i].index = i;
        int rc, tries = 0;
        while ((rc = pthread_create(&ws[i].th, &attr, worker_main, &ws[i])) == EAGAIN && tries++ < 200)
            sleep_us(10000);
        if (rc != 0)
            break;
        started++;
    }
    pthread_attr_destroy(&attr);
    return started;
}

/* Utilization now: in use / max open over every pool the client uses. */
static double utilization(const alchdb_perftest_target *t)
{
    int64_t in_use = 0, max_open = 0;
    size_t n = t->router ? alchdb_router_host_count(t->router) : 1;
    for (size_t i = 0; i < n; i++) {
        alchdb_pool *p = t->router ? alchdb_router_host_pool(t->router, i) : alchdb_client_pool(t->client);
        alchdb_pool_metrics m = {.size = sizeof m};
        if (p && alchdb_pool_get_metrics(p, &m, sizeof m) == 0) {
            in_use += m.in_use;
            max_open += m.max_open;
        }
    }
    return max_open > 0 ? 100.0 * (double)in_use / (double)max_open : 0;
}

static int cache_counts(const alchdb_perftest_target *t, int64_t *hits, int64_t *misses)
{
    alchdb_cache_metrics m = {.size = sizeof m};
    if (!t->cache || alchdb_cache_get_metrics(t->cache, &m, sizeof m) != 0)
        return -1;
    *hits = m.hits;
    *misses = m.misses;
    return 0;
}

typedef struct runstate {
    const alchdb_perftest_target *t;
    alchdb_cancel *cancel;
    alchdb_perftest_progress_fn fn;
    void *ud;
    uint32_t index, count;
} runstate;

static void progress(runstate *rs, int phase, const char *name, int64_t elapsed, int64_t total, shared *sh,
                     int passed)
{
    if (!rs->fn)
        return;
    alchdb_perftest_progress p = {.size = sizeof p, .phase = (uint32_t)phase, .test_index = rs->index,
                                  .test_count = rs->count, .test_name = name, .elapsed_us = elapsed,
                                  .total_us = total, .passed = passed};
    if (sh && phase == ALCHDB_PERFTEST_PHASE_MEASURE) {
        p.ops = atomic_load(&sh->ops);
        p.errors = atomic_load(&sh->errors);
        p.ops_per_sec = elapsed > 0 ? (double)p.ops * 1e6 / (double)elapsed : 0;
        p.p95_us = alchdb__hist_quantile(&sh->hist, 0.95);
    }
    rs->fn(rs->ud, &p);
}

static bool canceled(runstate *rs)
{
    return rs->cancel && alchdb_cancel_is_triggered(rs->cancel);
}

/* Wait through one phase in ticks; false when canceled. util (optional)
 * accumulates utilization samples. */
static bool wait_phase(runstate *rs, int phase, const char *name, int64_t total, shared *sh, double *usum,
                       double *umax, int64_t *un)
{
    int64_t t0 = alchdb__now_ns();
    for (;;) {
        int64_t el = (alchdb__now_ns() - t0) / 1000;
        if (usum) {
            double u = utilization(rs->t);
            *usum += u;
            *umax = u > *umax ? u : *umax;
            (*un)++;
        }
        progress(rs, phase, name, el, total, sh, -1);
        if (canceled(rs))
            return false;
        if (el >= total)
            return true;
        int64_t left = total - el;
        sleep_us(left < TICK_US ? left : TICK_US);
    }
}

/* Run one load phase set (warm-up, measure) with def's workers; fills r. */
static int run_test(runstate *rs, const pt_ctx *ctx, const pt_test_def *def, int workers, const pt_timing *tm,
                    bool measure, pt_result *r)
{
    shared sh;
    memset(&sh, 0, sizeof sh);
    sh.ctx = ctx;
    sh.op = def->op;
    sh.think_us = def->think_us;
    sh.seed = (uint64_t)ctx->d->seed * 7919u + (uint64_t)(r ? r->index : 99);
    int rc = alchdb__hist_init(&sh.hist, HIST_MAX_US);
    if (rc == 0)
        rc = alchdb__hist_init(&sh.hist_idx, HIST_MAX_US);
    if (rc == 0)
        rc = alchdb__hist_init(&sh.hist_seq, HIST_MAX_US);
    worker *ws = rc == 0 ? alchdb__calloc((size_t)workers, sizeof *ws) : NULL;
    if (rc == 0 && !ws)
        rc = alchdb__nomem("perftest workers");
    if (rc != 0) {
        alchdb__hist_destroy(&sh.hist);
        alchdb__hist_destroy(&sh.hist_idx);
        alchdb__hist_destroy(&sh.hist_seq);
        return rc;
    }
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    int started = start_workers(ws, workers, &sh);
    bool ok = started == workers;
    int64_t hits0 = 0, misses0 = 0, hits1 = 0, misses1 = 0;
    int have_cache = -1;
    double usum = 0, umax = 0;
    int64_t un = 0, measured_us = 0;
    if (ok && !measure) {
        set_phase(&sh, PH_WARMUP);
        ok = wait_phase(rs, ALCHDB_PERFTEST_PHASE_WARMUP, "warmup", tm->global_warmup_us, NULL, NULL, NULL, NULL);
    } else if (ok) {
        if (!def->burst && tm->warmup_us > 0) {
            set_phase(&sh, PH_WARMUP);
            ok = wait_phase(rs, ALCHDB_PERFTEST_PHASE_WARMUP, def->name, tm->warmup_us, NULL, NULL, NULL, NULL);
        }
        have_cache = cache_counts(rs->t, &hits0, &misses0);
        int64_t total = tm->measure_us * (def->long_run ? tm->long_factor : 1);
        int64_t t0 = alchdb__now_ns();
        if (ok) {
            set_phase(&sh, PH_MEASURE);
            ok = wait_phase(rs, ALCHDB_PERFTEST_PHASE_MEASURE, def->name, total, &sh, &usum, &umax, &un);
        }
        measured_us = (alchdb__now_ns() - t0) / 1000;
        if (have_cache == 0)
            have_cache = cache_counts(rs->t, &hits1, &misses1);
    }
    set_phase(&sh, PH_STOP);
    for (int i = 0; i < started; i++)
        pthread_join(ws[i].th, NULL);
    if (r && measure) {
        r->workers = workers;
        r->duration_us = measured_us;
        r->ops = atomic_load(&sh.ops);
        r->errors = atomic_load(&sh.errors);
        r->p50_us = alchdb__hist_quantile(&sh.hist, 0.50);
        r->p95_us = alchdb__hist_quantile(&sh.hist, 0.95);
        r->p99_us = alchdb__hist_quantile(&sh.hist, 0.99);
        r->max_us = alchdb__hist_max(&sh.hist);
        r->mean_us = alchdb__hist_mean(&sh.hist);
        r->ops_per_sec = measured_us > 0 ? (double)r->ops * 1e6 / (double)measured_us : 0;
        r->error_pct = r->ops > 0 ? 100.0 * (double)r->errors / (double)r->ops : 0;
        r->util_mean_pct = un > 0 ? usum / (double)un : -1;
        r->util_max_pct = un > 0 ? umax : -1;
        r->hit_pct = -1;
        r->idx_p95_us = def->op == PT_OP_SCAN ? alchdb__hist_quantile(&sh.hist_idx, 0.95) : -1;
        r->seq_p95_us = def->op == PT_OP_SCAN ? alchdb__hist_quantile(&sh.hist_seq, 0.95) : -1;
        if (def->op == PT_OP_CACHED) {
            int64_t h = hits1 - hits0, m = misses1 - misses0;
            if (have_cache == 0 && h + m > 0)
                r->hit_pct = 100.0 * (double)h / (double)(h + m);
            else if (have_cache != 0 && !r->first_error[0])
                snprintf(r->first_error, sizeof r->first_error,
                         "no cache: attach one to the client and pass it in the target");
        }
        if (atomic_load(&sh.have_error) && !r->first_error[0])
            snprintf(r->first_error, sizeof r->first_error, "%s", sh.first_error);
        if (started < workers)
            snprintf(r->first_error, sizeof r->first_error, "could start only %d of %d workers", started, workers);
    }
    pthread_cond_destroy(&sh.cv);
    pthread_mutex_destroy(&sh.mu);
    alchdb__hist_destroy(&sh.hist);
    alchdb__hist_destroy(&sh.hist_idx);
    alchdb__hist_destroy(&sh.hist_seq);
    alchdb__free(ws);
    if (canceled(rs))
        return alchdb__error(ALCHDB_E_CANCELED, "perftest: canceled");
    if (started < workers)
        return alchdb__error(ALCHDB_E_BUSY, "perftest: could start only %d of %d workers", started, workers);
    return 0;
}

static const pt_test_def warmup_def = {"warmup", "Warm-up", 20, PT_OP_MIX, 0, 0, {-1, -1, -1, -1, -1}, "", 0};

int alchdb__pt_run_all(const alchdb_perftest_target *t, const alchdb__opts *o, alchdb_cancel *cancel,
                       alchdb_perftest_progress_fn fn, void *ud, alchdb_perftest_report **out)
{
    char why[512];
    unsigned mask;
    pt_targets targets;
    if (alchdb__pt_select(alchdb__opts_s(o, ALCHDB_PERFTEST_OPT_TESTS), &mask, why, sizeof why) != 0 ||
        alchdb__pt_targets_parse(alchdb__opts_s(o, ALCHDB_PERFTEST_OPT_TARGETS), &targets, why, sizeof why) != 0)
        return alchdb__error(ALCHDB_E_INVALID, "alchdb_perftest_run: cfg: %s", why);
    pt_timing tm;
    alchdb__pt_timing(o, &tm);
    pt_data d;
    alchdb__pt_data_init(&d, o);
    int64_t scale = alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_WORKER_SCALE);
    runstate rs = {.t = t, .cancel = cancel, .fn = fn, .ud = ud};
    for (int i = 0; i < PT_NTESTS; i++)
        rs.count += (mask >> i) & 1u;

    alchdb_perftest_report *rep = alchdb__calloc(1, sizeof *rep);
    pt_ctx *ctx = alchdb__calloc(1, sizeof *ctx);
    if (!rep || !ctx) {
        alchdb__free(rep);
        alchdb__free(ctx);
        return alchdb__nomem("perftest report");
    }
    rep->started_wall_us = alchdb__wall_us();
    rep->profile = (int)alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_PROFILE);
    rep->recipes = d.recipes;
    rep->users = d.users;
    int64_t t0 = alchdb__now_ns();

    progress(&rs, ALCHDB_PERFTEST_PHASE_SETUP, "", 0, 0, NULL, -1);
    int rc = alchdb__pt_setup(t, &d);
    if (rc == 0)
        rc = alchdb__pt_ctx_init(ctx, t, &d);
    if (rc == 0 && tm.global_warmup_us > 0) {
        int n = (int)(warmup_def.workers * scale / 100);
        rc = run_test(&rs, ctx, &warmup_def, n > 0 ? n : 1, &tm, false, NULL);
    }
    for (int i = 0; rc == 0 && i < PT_NTESTS; i++) {
        if (!((mask >> i) & 1u))
            continue;
        const pt_test_def *def = &alchdb__pt_tests[i];
        pt_result *r = &rep->r[rep->n];
        r->index = i;
        memcpy(r->target, targets.v[i], sizeof r->target);
        int n = (int)(def->workers * scale / 100);
        rc = run_test(&rs, ctx, def, n > 0 ? n : 1, &tm, true, r);
        if (rc == ALCHDB_E_CANCELED)
            break;
        alchdb__pt_judge(r);
        rep->n++;
        progress(&rs, ALCHDB_PERFTEST_PHASE_DONE, def->name, r->duration_us, r->duration_us, NULL, r->passed);
        if (rc == ALCHDB_E_BUSY)
            rc = 0; /* the test failed and says why; the run goes on */
        rs.index++;
        if (rc == 0 && tm.cooldown_us > 0)
            sleep_us(tm.cooldown_us);
    }
    if (!alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_KEEP_DATA)) {
        alchdb__error_state es;
        alchdb__error_save(&es);
        progress(&rs, ALCHDB_PERFTEST_PHASE_CLEANUP, "", 0, 0, NULL, -1);
        int crc = alchdb__pt_cleanup(t, &d);
        if (rc == 0)
            rc = crc;
        else
            alchdb__error_restore(&es);
    }
    alchdb__free(ctx);
    rep->duration_us = (alchdb__now_ns() - t0) / 1000;
    if (rc != 0) {
        alchdb__free(rep);
        return rc;
    }
    *out = rep;
    return 0;
}
