/* Health prober: one round asks the primary for its WAL position and role and
 * every replica for its recovery state and replay position, then derives lag
 * (bytes and time), applies the lag threshold with hysteresis and feeds the
 * breakers. Each host has a dedicated probe connection (never a pooled one, so
 * a busy pool cannot starve health checks), and every probe is bounded in time
 * so a stopped (SIGSTOP) server cannot hang the prober. */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "router_internal.h"

#define PROBE_TIMEOUT_MS 2000

void alchdb__router_probe_close(router_host *h)
{
    if (h->probe_conn) {
        PQfinish(h->probe_conn);
        h->probe_conn = NULL;
    }
}

static bool wait_socket(PGconn *c, bool for_write, int64_t deadline_ns)
{
    int64_t left = (deadline_ns - alchdb__now_ns()) / 1000000;
    if (left <= 0)
        return false;
    struct pollfd p = {PQsocket(c), for_write ? POLLOUT : POLLIN, 0};
    return poll(&p, 1, (int)left) > 0;
}

/* Connect without blocking past the deadline. */
static PGconn *probe_connect(const char *conninfo, int64_t deadline_ns)
{
    PGconn *c = PQconnectStart(conninfo);
    if (!c)
        return NULL;
    if (PQstatus(c) == CONNECTION_BAD) {
        PQfinish(c);
        return NULL;
    }
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED || !wait_socket(c, st == PGRES_POLLING_WRITING, deadline_ns)) {
            PQfinish(c);
            return NULL;
        }
        st = PQconnectPoll(c);
    }
    return c;
}

/* One query with a deadline; NULL on failure (the connection is then dropped). */
static PGresult *probe_query(router_host *h, const char *sql, int64_t deadline_ns)
{
    PGconn *c = h->probe_conn;
    if (!PQsendQuery(c, sql))
        goto fail;
    PGresult *res = NULL, *last = NULL;
    for (;;) {
        while (PQisBusy(c)) {
            if (!wait_socket(c, false, deadline_ns) || !PQconsumeInput(c))
                goto fail_res;
        }
        res = PQgetResult(c);
        if (!res)
            break;
        PQclear(last);
        last = res;
    }
    if (!last || PQresultStatus(last) != PGRES_TUPLES_OK || PQntuples(last) != 1) {
        PQclear(last);
        goto fail;
    }
    return last;
fail_res:
    PQclear(last);
fail:
    alchdb__router_probe_close(h);
    return NULL;
}

static void mark_unreachable(alchdb_router *r, router_host *h)
{
    if (atomic_exchange(&h->probe_ok, 0))
        alchdb__log(ALCHDB_LOG_WARN, "router", "%s: health probe failed", h->display);
    if (!h->primary) {
        atomic_store(&h->healthy, 0);
        atomic_store(&h->replay_lsn, 0);
    }
    alchdb__router_breaker_result(r, h, false);
}

static void probe_primary(alchdb_router *r, router_host *h, int64_t deadline)
{
    if (!h->probe_conn)
        h->probe_conn = probe_connect(h->conninfo, deadline);
    PGresult *res = h->probe_conn
                        ? probe_query(h,
                                      "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN NULL "
                                      "ELSE pg_current_wal_insert_lsn()::text END, "
                                      "(SELECT system_identifier FROM pg_control_system())::text",
                                      deadline)
                        : NULL;
    if (!res) {
        mark_unreachable(r, h);
        return;
    }
    bool rec = PQgetvalue(res, 0, 0)[0] == 't';
    uint64_t id = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    int64_t lsn = PQgetisnull(res, 0, 1) ? -1 : alchdb__lsn_parse(PQgetvalue(res, 0, 1));
    PQclear(res);
    atomic_store(&h->probe_ok, 1);
    atomic_store(&h->in_recovery, rec ? 1 : 0);
    uint64_t known = atomic_load(&r->sysid);
    if (known == 0)
        atomic_store(&r->sysid, id);
    else if (known != id)
        alchdb__log(ALCHDB_LOG_ERROR, "router", "%s: system identifier changed (%" PRIu64 " → %" PRIu64
                    "): a different cluster answers at the primary's address", h->display, known, id);
    if (rec) {
        if (!atomic_exchange(&h->wrong_role, 1)) {
            atomic_fetch_add(&r->wrong_role_events, 1);
            alchdb__log(ALCHDB_LOG_ERROR, "router", "%s is in recovery: the configured primary is a standby now",
                        h->display);
        }
    } else {
        if (atomic_exchange(&h->wrong_role, 0))
            alchdb__log(ALCHDB_LOG_INFO, "router", "%s is a primary again", h->display);
        if (lsn > 0)
            atomic_store(&r->primary_lsn, lsn);
    }
    alchdb__router_breaker_result(r, h, true);
}

static void probe_replica(alchdb_router *r, router_host *h, int64_t primary_lsn, int64_t deadline)
{
    if (!h->probe_conn)
        h->probe_conn = probe_connect(h->conninfo, deadline);
    PGresult *res = h->probe_conn
                        ? probe_query(h,
                                      "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, "
                                      "(SELECT system_identifier FROM pg_control_system())::text",
                                      deadline)
                        : NULL;
    if (!res) {
        mark_unreachable(r, h);
        return;
    }
    bool rec = PQgetvalue(res, 0, 0)[0] == 't';
    int64_t replay = PQgetisnull(res, 0, 1) ? 0 : alchdb__lsn_parse(PQgetvalue(res, 0, 1));
    uint64_t id = strtoull(PQgetvalue(res, 0, 2), NULL, 10);
    PQclear(res);
    if (!atomic_exchange(&h->probe_ok, 1))
        alchdb__log(ALCHDB_LOG_INFO, "router", "%s: health probe answers", h->display);
    atomic_store(&h->in_recovery, rec ? 1 : 0);
    alchdb__router_breaker_result(r, h, true);

    bool wrong = !rec || (atomic_load(&r->sysid) != 0 && id != atomic_load(&r->sysid));
    if (wrong) {
        if (!atomic_exchange(&h->wrong_role, 1)) {
            atomic_fetch_add(&r->wrong_role_events, 1);
            alchdb__log(ALCHDB_LOG_ERROR, "router", "%s: %s; it gets no reads", h->display,
                        !rec ? "no longer in recovery (promoted?)" : "belongs to another cluster");
        }
        atomic_store(&h->healthy, 0);
        atomic_store(&h->replay_lsn, 0);
        return;
    }
    atomic_store(&h->wrong_role, 0);
    /* Positions only move forward while the host stays up. */
    int64_t known = atomic_load(&h->replay_lsn);
    while (replay > known && !atomic_compare_exchange_weak(&h->replay_lsn, &known, replay))
        ;
    int64_t lag_bytes = primary_lsn > replay ? primary_lsn - replay : 0;
    /* Lag in time: how long since the replica last reached where the primary
     * was one round ago (robust to an idle primary, unlike the last replay
     * timestamp). */
    int64_t now = alchdb__now_ns();
    if (h->lag_since_ns == 0 || replay >= r->prev_primary_lsn)
        h->lag_since_ns = now;
    int64_t lag_us = lag_bytes ? (now - h->lag_since_ns) / 1000 : 0;
    atomic_store(&h->lag_bytes, lag_bytes);
    atomic_store(&h->lag_us, lag_us);

    const alchdb_router_config *c = &r->cfg;
    bool over = (c->max_lag_bytes > 0 && lag_bytes > c->max_lag_bytes) || (c->max_lag_us > 0 && lag_us > c->max_lag_us);
    bool under = (c->max_lag_bytes <= 0 || lag_bytes <= c->max_lag_bytes * c->hysteresis_pct / 100) &&
                 (c->max_lag_us <= 0 || lag_us <= c->max_lag_us * c->hysteresis_pct / 100);
    if (!atomic_load(&h->lag_excluded) && over) {
        atomic_store(&h->lag_excluded, 1);
        alchdb__log(ALCHDB_LOG_WARN, "router", "%s: lag %" PRId64 " bytes / %.1f s over the threshold: no reads",
                    h->display, lag_bytes, (double)lag_us / 1e6);
    } else if (atomic_load(&h->lag_excluded) && under) {
        atomic_store(&h->lag_excluded, 0);
        alchdb__log(ALCHDB_LOG_INFO, "router", "%s: lag back under the threshold: reads again", h->display);
    }
    atomic_store(&h->healthy, !atomic_load(&h->lag_excluded));
}

int alchdb__router_probe_all(alchdb_router *r)
{
    pthread_mutex_lock(&r->probe_lock);
    /* every host gets its own time budget */
    probe_primary(r, &r->hosts[0], alchdb__now_ns() + (int64_t)PROBE_TIMEOUT_MS * 1000000);
    int64_t plsn = atomic_load(&r->primary_lsn);
    for (size_t i = 1; i < r->nhosts; i++)
        probe_replica(r, &r->hosts[i], plsn, alchdb__now_ns() + (int64_t)PROBE_TIMEOUT_MS * 1000000);
    r->prev_primary_lsn = plsn;
    pthread_mutex_unlock(&r->probe_lock);
    return 0;
}

void *alchdb__router_prober_main(void *arg)
{
    alchdb_router *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = (int64_t)ts.tv_nsec + r->cfg.probe_interval_us * 1000;
        ts.tv_sec += (time_t)(ns / 1000000000);
        ts.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&r->wake, &r->lock, &ts);
        if (r->stopping)
            break;
        pthread_mutex_unlock(&r->lock);
        alchdb__router_probe_all(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}
