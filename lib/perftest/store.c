/* Finished runs kept with ids, and one background run at a time: what the
 * dashboard serves as test/run and test/results/:id. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "pt.h"
#include "seam.h"

enum { ST_RUNNING, ST_DONE, ST_FAILED, ST_CANCELED };
static const char *const status_names[] = {"running", "done", "failed", "canceled"};

typedef struct entry {
    int64_t id;
    int status;
    char error[512];
    alchdb_perftest_report *rep;
} entry;

struct alchdb_perftest_store {
    pthread_mutex_t start_mu; /* one store_start at a time: it replaces target and cfg */
    pthread_mutex_t mu;
    size_t max, n;
    entry *e;          /* oldest first */
    int64_t next_id;
    bool running;      /* a run is in progress */
    bool joinable;     /* th has not been joined */
    pthread_t th;
    int64_t run_id;
    alchdb_perftest_target target;
    alchdb_perftest_config *cfg;  /* the run's copy */
    alchdb_cancel *cancel;
    alchdb_perftest_progress last;
    char test_name[64];
};

ALCHDB_API int alchdb_perftest_store_new(int64_t max_results, alchdb_perftest_store **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(max_results >= 1 && max_results <= 1000, "max_results", "must be 1..1000");
    alchdb_perftest_store *st = alchdb__calloc(1, sizeof *st);
    if (!st)
        return alchdb__nomem("perftest store");
    st->e = alchdb__calloc((size_t)max_results, sizeof *st->e);
    if (!st->e || alchdb_cancel_new(&st->cancel) != 0) {
        alchdb__free(st->e);
        alchdb__free(st);
        return alchdb__nomem("perftest store");
    }
    pthread_mutex_init(&st->mu, NULL);
    pthread_mutex_init(&st->start_mu, NULL);
    st->max = (size_t)max_results;
    st->next_id = 1;
    *out = st;
    return 0;
}

static entry *find(alchdb_perftest_store *st, int64_t id)
{
    for (size_t i = 0; i < st->n; i++)
        if (st->e[i].id == id)
            return &st->e[i];
    return NULL;
}

static void on_progress(void *ud, const alchdb_perftest_progress *p)
{
    alchdb_perftest_store *st = ud;
    pthread_mutex_lock(&st->mu);
    st->last = *p;
    snprintf(st->test_name, sizeof st->test_name, "%s", p->test_name ? p->test_name : "");
    st->last.test_name = NULL;
    pthread_mutex_unlock(&st->mu);
}

static void *run_main(void *arg)
{
    alchdb_perftest_store *st = arg;
    alchdb_perftest_report *rep = NULL;
    int rc = alchdb_perftest_run(&st->target, st->cfg, st->cancel, on_progress, st, &rep);
    pthread_mutex_lock(&st->mu);
    entry *e = find(st, st->run_id);
    if (e) {
        e->status = rc == 0 ? ST_DONE : rc == ALCHDB_E_CANCELED ? ST_CANCELED : ST_FAILED;
        if (rc != 0)
            snprintf(e->error, sizeof e->error, "%s", alchdb_last_error_message());
        e->rep = rep;
        rep = NULL;
    }
    st->running = false;
    pthread_mutex_unlock(&st->mu);
    alchdb_perftest_report_free(rep);
    return NULL;
}

static void join_finished(alchdb_perftest_store *st)
{
    pthread_mutex_lock(&st->mu);
    bool join = st->joinable;
    st->joinable = false;
    pthread_mutex_unlock(&st->mu);
    if (join)
        pthread_join(st->th, NULL);
}

/* The start itself, under start_mu: two concurrent starts (two POST
 * test/run through a threaded listener) must not both see "not running"
 * and then replace the target and options of the run one of them started. */
static int start_locked(alchdb_perftest_store *st, const alchdb_perftest_target *target,
                        const alchdb_perftest_config *cfg, int64_t *id)
{
    pthread_mutex_lock(&st->mu);
    bool busy = st->running;
    pthread_mutex_unlock(&st->mu);
    if (busy)
        return alchdb__error(ALCHDB_E_BUSY, "alchdb_perftest_store_start: a run is in progress");
    join_finished(st);
    alchdb_perftest_config *copy;
    int rc = alchdb__perftest_config_copy(cfg, &copy);
    if (rc != 0)
        return rc;
    alchdb_perftest_config_free(st->cfg);
    st->cfg = copy;
    memset(&st->target, 0, sizeof st->target);
    memcpy(&st->target, target, target->size < sizeof st->target ? target->size : sizeof st->target);
    st->target.size = sizeof st->target;
    alchdb_cancel_reset(st->cancel);

    pthread_mutex_lock(&st->mu);
    if (st->n == st->max) {
        alchdb_perftest_report_free(st->e[0].rep);
        memmove(st->e, st->e + 1, (st->n - 1) * sizeof *st->e);
        st->n--;
    }
    entry *e = &st->e[st->n++];
    memset(e, 0, sizeof *e);
    e->id = st->next_id++;
    e->status = ST_RUNNING;
    st->run_id = e->id;
    memset(&st->last, 0, sizeof st->last);
    st->test_name[0] = 0;
    st->running = true;
    rc = pthread_create(&st->th, NULL, run_main, st);
    if (rc != 0) {
        st->running = false;
        e->status = ST_FAILED;
        snprintf(e->error, sizeof e->error, "could not start the run's thread");
        pthread_mutex_unlock(&st->mu);
        return alchdb__error(ALCHDB_E_BUSY, "alchdb_perftest_store_start: could not start a thread");
    }
    st->joinable = true;
    *id = e->id;
    pthread_mutex_unlock(&st->mu);
    return 0;
}

ALCHDB_API int alchdb_perftest_store_start(alchdb_perftest_store *st, const alchdb_perftest_target *target,
                                           const alchdb_perftest_config *cfg, int64_t *id)
{
    ALCHDB_CHECK_ARG(st, "st", "must not be NULL");
    ALCHDB_CHECK_ARG(id, "id", "must not be NULL");
    ALCHDB_CHECK_ARG(target && target->size >= offsetof(alchdb_perftest_target, client) + sizeof target->client &&
                         target->client,
                     "target", "must not be NULL, with size set and a client");
    pthread_mutex_lock(&st->start_mu);
    int rc = start_locked(st, target, cfg, id);
    pthread_mutex_unlock(&st->start_mu);
    return rc;
}

ALCHDB_API int alchdb_perftest_store_cancel(alchdb_perftest_store *st)
{
    ALCHDB_CHECK_ARG(st, "st", "must not be NULL");
    return alchdb_cancel_trigger(st->cancel);
}

/* Under mu, so that the run it tells to stop is the one named: a run that has
 * ended cannot be replaced by the next one (whose start resets the handle)
 * between the check and the trigger. */
ALCHDB_API int alchdb_perftest_store_cancel_run(alchdb_perftest_store *st, int64_t id)
{
    ALCHDB_CHECK_ARG(st, "st", "must not be NULL");
    ALCHDB_CHECK_ARG(id >= 1, "id", "must be a run's id (1, 2, ...)");
    pthread_mutex_lock(&st->mu);
    entry *e = find(st, id);
    int rc = 0;
    if (!e)
        rc = alchdb__error(ALCHDB_E_NOTFOUND, "alchdb_perftest_store_cancel_run: no run with id %lld",
                           (long long)id);
    else if (e->status != ST_RUNNING)
        rc = alchdb__error(ALCHDB_E_STATE, "alchdb_perftest_store_cancel_run: run %lld has already ended (%s)",
                           (long long)id, status_names[e->status]);
    else
        rc = alchdb_cancel_trigger(st->cancel);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

ALCHDB_API int alchdb_perftest_store_wait(alchdb_perftest_store *st)
{
    ALCHDB_CHECK_ARG(st, "st", "must not be NULL");
    join_finished(st);
    return 0;
}

static void entry_json(alchdb__strbuf *sb, const entry *e, bool full)
{
    alchdb__sb_printf(sb, "{\"id\":%lld,\"status\":\"%s\"", (long long)e->id, status_names[e->status]);
    if (e->rep) {
        alchdb_perftest_summary s = {.size = sizeof s};
        alchdb_perftest_report_summary(e->rep, &s, sizeof s);
        alchdb__sb_printf(sb, ",\"health\":%lld,\"grade\":\"%c\",\"passed\":%lld,\"failed\":%lld",
                          (long long)s.health, (char)s.grade, (long long)s.passed, (long long)s.failed);
    }
    if (full) {
        alchdb__sb_puts(sb, ",\"error\":");
        alchdb__sb_json_str(sb, e->error[0] ? e->error : NULL);
        alchdb__sb_puts(sb, ",\"report\":");
        char *js = NULL;
        if (e->rep && alchdb_perftest_report_json(e->rep, &js) == 0)
            alchdb__sb_puts(sb, js);
        else
            alchdb__sb_puts(sb, "null");
        alchdb__free(js);
    }
    alchdb__sb_puts(sb, "}");
}

ALCHDB_API int alchdb_perftest_store_status_json(alchdb_perftest_store *st, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(st, "st", "must not be NULL");
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    pthread_mutex_lock(&st->mu);
    alchdb__sb_puts(&sb, "{\"running\":");
    if (st->running) {
        static const char *const phases[] = {"", "setup", "warmup", "measure", "done", "cleanup"};
        uint32_t ph = st->last.phase <= 5 ? st->last.phase : 0;
        alchdb__sb_printf(&sb, "{\"id\":%lld,\"test\":", (long long)st->run_id);
        alchdb__sb_json_str(&sb, st->test_name);
        alchdb__sb_printf(&sb,
                          ",\"phase\":\"%s\",\"test_index\":%u,\"test_count\":%u,\"elapsed_us\":%lld,"
                          "\"total_us\":%lld,\"ops\":%lld,\"errors\":%lld,\"ops_per_sec\":%.3f,\"p95_ms\":%.3f}",
                          phases[ph], st->last.test_index, st->last.test_count, (long long)st->last.elapsed_us,
                          (long long)st->last.total_us, (long long)st->last.ops, (long long)st->last.errors,
                          st->last.ops_per_sec, (double)st->last.p95_us / 1e3);
    } else {
        alchdb__sb_puts(&sb, "null");
    }
    alchdb__sb_puts(&sb, ",\"results\":[");
    for (size_t i = 0; i < st->n; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        entry_json(&sb, &st->e[i], false);
    }
    alchdb__sb_puts(&sb, "]}");
    pthread_mutex_unlock(&st->mu);
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("perftest store JSON");
}

ALCHDB_API int alchdb_perftest_store_result_json(alchdb_perftest_store *st, int64_t id, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(st, "st", "must not be NULL");
    pthread_mutex_lock(&st->mu);
    entry *e = find(st, id);
    if (!e) {
        pthread_mutex_unlock(&st->mu);
        return alchdb__error(ALCHDB_E_NOTFOUND, "alchdb_perftest_store_result_json: no run with id %lld",
                             (long long)id);
    }
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    entry_json(&sb, e, true);
    pthread_mutex_unlock(&st->mu);
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("perftest store JSON");
}

ALCHDB_API void alchdb_perftest_store_free(alchdb_perftest_store *st)
{
    if (!st)
        return;
    alchdb_cancel_trigger(st->cancel);
    join_finished(st);
    for (size_t i = 0; i < st->n; i++)
        alchdb_perftest_report_free(st->e[i].rep);
    alchdb__free(st->e);
    alchdb_perftest_config_free(st->cfg);
    alchdb_cancel_free(st->cancel);
    pthread_mutex_destroy(&st->mu);
    pthread_mutex_destroy(&st->start_mu);
    alchdb__free(st);
}
