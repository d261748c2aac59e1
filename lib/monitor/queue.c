/* The background parse queue: a record whose query shape was never seen must
 * be fingerprinted (≈ 10–100 µs with libpg_query). Instead of parsing on the
 * host's thread, the record is copied into a bounded ring and counted by one
 * parser thread. When the ring is full the record is dropped and counted:
 * recording never blocks on the parser. Readers (stats, JSON) first count
 * whatever is queued, so what they show includes every record made before. */
#include <string.h>

#include "monitor/monitor_internal.h"

typedef struct mon_pending {
    char *sql;
    size_t len;
    int64_t duration_us, rows, now;
    char sqlstate[6];
    bool has_sqlstate;
    char *route;
    char **labels;
    uint32_t nlabels;
} mon_pending;

static void pending_free(mon_pending *e)
{
    alchdb__free(e->sql);
    alchdb__free(e->route);
    for (uint32_t i = 0; i < e->nlabels; i++)
        alchdb__free(e->labels[i]);
    alchdb__free(e->labels);
    memset(e, 0, sizeof *e);
}

/* Count one queued record (on the parser thread or a draining reader). */
static void process(alchdb_monitor *mon, mon_pending *e)
{
    alchdb_monitor_query q = {
        .version = ALCHDB_MONITOR_QUERY_VERSION,
        .nlabels = e->nlabels,
        .sql = e->sql,
        .sql_len = (int64_t)e->len,
        .duration_us = e->duration_us,
        .rows = e->rows,
        .sqlstate = e->has_sqlstate ? e->sqlstate : NULL,
        .route = e->route,
        .labels = (const char *const *)e->labels,
    };
    bool err = e->has_sqlstate && strcmp(e->sqlstate, "00000") != 0 && strncmp(e->sqlstate, "01", 2) != 0 &&
               strncmp(e->sqlstate, "02", 2) != 0;
    alchdb__monitor_record_at(mon, &q, e->len, err, e->now, false);
    pending_free(e);
}

/* Take the oldest entry; q_lock held. */
static bool pop(alchdb_monitor *mon, mon_pending *out)
{
    if (mon->q_count == 0)
        return false;
    *out = mon->q[mon->q_head];
    memset(&mon->q[mon->q_head], 0, sizeof mon->q[mon->q_head]);
    mon->q_head = (mon->q_head + 1) % mon->q_cap;
    mon->q_count--;
    mon->q_busy++;
    return true;
}

static void done_one(alchdb_monitor *mon)
{
    mon->q_busy--;
    if (mon->q_count == 0 && mon->q_busy == 0)
        pthread_cond_broadcast(&mon->q_idle);
}

static void *worker(void *arg)
{
    alchdb_monitor *mon = arg;
    pthread_mutex_lock(&mon->q_lock);
    for (;;) {
        while (mon->q_count == 0 && !mon->q_stopping)
            pthread_cond_wait(&mon->q_more, &mon->q_lock);
        if (mon->q_stopping)
            break;
        mon_pending e;
        pop(mon, &e);
        pthread_mutex_unlock(&mon->q_lock);
        process(mon, &e);
        pthread_mutex_lock(&mon->q_lock);
        done_one(mon);
    }
    pthread_mutex_unlock(&mon->q_lock);
    return NULL;
}

int alchdb__monitor_queue_start(alchdb_monitor *mon)
{
    uint32_t cap = (uint32_t)mon->cfg.v[ALCHDB_MONITOR_OPT_PARSE_QUEUE_SIZE];
    if (cap == 0)
        return 0;
    mon->q = alchdb__calloc(cap, sizeof *mon->q);
    if (!mon->q)
        return alchdb__nomem("monitor parse queue");
    mon->q_cap = cap;
    if (pthread_create(&mon->q_worker, NULL, worker, mon) != 0) {
        alchdb__free(mon->q);
        mon->q = NULL;
        mon->q_cap = 0;
        return alchdb__error(ALCHDB_E_INTERNAL, "alchdb_monitor_new: cannot start the parser thread");
    }
    mon->q_running = true;
    return 0;
}

void alchdb__monitor_queue_stop(alchdb_monitor *mon)
{
    if (mon->q_running) {
        pthread_mutex_lock(&mon->q_lock);
        mon->q_stopping = true;
        pthread_cond_broadcast(&mon->q_more);
        pthread_mutex_unlock(&mon->q_lock);
        pthread_join(mon->q_worker, NULL);
        mon->q_running = false;
    }
    for (uint32_t i = 0; i < mon->q_cap; i++)
        pending_free(&mon->q[i]);
    alchdb__free(mon->q);
    mon->q = NULL;
    mon->q_cap = mon->q_count = 0;
}

int alchdb__monitor_enqueue(alchdb_monitor *mon, const alchdb_monitor_query *q, size_t len, int64_t now)
{
    mon_pending e;
    memset(&e, 0, sizeof e);
    e.sql = alchdb__strndup(q->sql, len);
    e.len = len;
    e.duration_us = q->duration_us;
    e.rows = q->rows;
    e.now = now;
    if (q->sqlstate) {
        memcpy(e.sqlstate, q->sqlstate, 5);
        e.has_sqlstate = true;
    }
    bool ok = e.sql != NULL;
    if (ok && q->route)
        ok = (e.route = alchdb__strdup(q->route)) != NULL;
    if (ok && q->nlabels) {
        e.labels = alchdb__calloc(q->nlabels, sizeof *e.labels);
        ok = e.labels != NULL;
        for (uint32_t i = 0; ok && i < q->nlabels; i++) {
            e.labels[i] = alchdb__strdup(q->labels[i] ? q->labels[i] : "");
            ok = e.labels[i] != NULL;
            e.nlabels = i + 1;
        }
    }
    if (!ok) {
        pending_free(&e);
        atomic_fetch_add_explicit(&mon->q_dropped, 1, memory_order_relaxed);
        return alchdb__nomem("monitor parse queue entry");
    }
    pthread_mutex_lock(&mon->q_lock);
    if (mon->q_count == mon->q_cap || mon->q_stopping) {
        pthread_mutex_unlock(&mon->q_lock);
        pending_free(&e);
        atomic_fetch_add_explicit(&mon->q_dropped, 1, memory_order_relaxed);
        return 0; /* counted degradation, never a blocked caller */
    }
    mon->q[(mon->q_head + mon->q_count) % mon->q_cap] = e;
    mon->q_count++;
    atomic_fetch_add_explicit(&mon->q_queued, 1, memory_order_relaxed);
    pthread_cond_signal(&mon->q_more);
    pthread_mutex_unlock(&mon->q_lock);
    return 0;
}

void alchdb__monitor_drain(alchdb_monitor *mon)
{
    if (!mon->q_cap)
        return;
    pthread_mutex_lock(&mon->q_lock);
    mon_pending e;
    while (pop(mon, &e)) {
        pthread_mutex_unlock(&mon->q_lock);
        process(mon, &e);
        pthread_mutex_lock(&mon->q_lock);
        done_one(mon);
    }
    while (mon->q_busy > 0) /* the parser thread is still counting one */
        pthread_cond_wait(&mon->q_idle, &mon->q_lock);
    pthread_mutex_unlock(&mon->q_lock);
}
