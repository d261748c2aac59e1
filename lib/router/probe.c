/* Health probes: one prober thread per host, each with its own connection
 * (never a pooled one, so a busy pool cannot starve health checks), opened
 * through alchdb__pq_connect (deadline, notices to the log sink, redacted
 * errors). Every probe, connect included, is bounded by probe_timeout, and
 * because each host has its own thread, a stopped or partitioned server only
 * delays its own probes. One query asks everything: recovery state,
 * read-only, system identifier, positions, timeline. What it means is
 * decided in roles.c. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pqconn.h"
#include "router/router_internal.h"

/* Two evaluations of pg_is_in_recovery() cannot disagree the dangerous way:
 * a server leaves recovery (promotion) but never enters it without a
 * restart, which ends this session. The standby's timeline comes from
 * pg_stat_wal_receiver when the role may read it (pg_read_all_stats), else
 * from the control file, which lags behind a timeline switch until the next
 * restartpoint: only a lower bound. */
static const char PROBE_SQL[] =
    "SELECT r, current_setting('transaction_read_only'), "
    "(SELECT system_identifier FROM pg_control_system())::text, "
    "CASE WHEN r THEN NULL ELSE pg_current_wal_insert_lsn()::text END, "
    "CASE WHEN r THEN NULL ELSE pg_walfile_name(pg_current_wal_insert_lsn()) END, "
    "pg_last_wal_replay_lsn()::text, pg_last_wal_receive_lsn()::text, "
    "(SELECT received_tli FROM pg_stat_wal_receiver), "
    "GREATEST((SELECT timeline_id FROM pg_control_checkpoint()), "
    "(SELECT min_recovery_end_timeline FROM pg_control_recovery())), "
    "(extract(epoch FROM pg_last_xact_replay_timestamp()) * 1000000)::int8, "
    "CASE WHEN r THEN NULL ELSE pg_current_wal_flush_lsn()::text END "
    "FROM pg_is_in_recovery() r";

void alchdb__router_probe_close(router_host *h)
{
    if (h->probe_conn) {
        PQfinish(h->probe_conn);
        h->probe_conn = NULL;
    }
}

static bool wait_socket(PGconn *c, bool for_write, int64_t deadline_ns)
{
    for (;;) {
        int64_t left = (deadline_ns - alchdb__now_ns() + 999999) / 1000000;
        if (left <= 0)
            return false;
        struct pollfd p = {PQsocket(c), for_write ? POLLOUT : POLLIN, 0};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

/* Run sql on the probe connection within the deadline. Returns the last
 * result (any status: the caller looks at it), or NULL when the connection
 * failed or the deadline passed; the connection is then dropped. */
static PGresult *probe_exec(router_host *h, const char *sql, int64_t deadline_ns, char *why, size_t cap)
{
    PGconn *c = h->probe_conn;
    PGresult *last = NULL;
    if (!PQsendQuery(c, sql))
        goto fail;
    while (PQflush(c) == 1)
        if (!wait_socket(c, true, deadline_ns))
            goto timeout;
    for (;;) {
        while (PQisBusy(c)) {
            if (!wait_socket(c, false, deadline_ns))
                goto timeout;
            if (!PQconsumeInput(c))
                goto fail;
        }
        PGresult *res = PQgetResult(c);
        if (!res)
            break;
        PQclear(last);
        last = res;
    }
    if (!last || PQstatus(c) != CONNECTION_OK)
        goto fail;
    return last;
timeout:
    snprintf(why, cap, "no answer within probe_timeout");
    PQclear(last);
    alchdb__router_probe_close(h);
    return NULL;
fail:
    alchdb__pq_message(why, cap, PQerrorMessage(c));
    PQclear(last);
    alchdb__router_probe_close(h);
    return NULL;
}

static bool col_null(const PGresult *res, int col)
{
    return PQgetisnull(res, 0, col) != 0;
}

static int64_t col_lsn(const PGresult *res, int col)
{
    return col_null(res, col) ? -1 : alchdb__lsn_parse(PQgetvalue(res, 0, col));
}

static uint64_t col_u64(const PGresult *res, int col)
{
    return col_null(res, col) ? 0 : strtoull(PQgetvalue(res, 0, col), NULL, 10);
}

/* The probe's answer as a probe_result; false when it is not one. */
static bool parse_probe(const PGresult *res, probe_result *out, char *why, size_t cap)
{
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 11) {
        alchdb__pq_message(why, cap, PQresultErrorMessage(res));
        if (!why[0])
            snprintf(why, cap, "unexpected answer to the probe");
        return false;
    }
    memset(out, 0, sizeof *out);
    out->in_recovery = PQgetvalue(res, 0, 0)[0] == 't';
    out->read_only = !strcmp(PQgetvalue(res, 0, 1), "on");
    out->sysid = col_u64(res, 2);
    out->insert_lsn = col_lsn(res, 3);
    out->flush_lsn = col_lsn(res, 10);
    out->replay_lsn = col_lsn(res, 5);
    out->receive_lsn = col_lsn(res, 6);
    out->replay_ts_us = col_null(res, 9) ? 0 : strtoll(PQgetvalue(res, 0, 9), NULL, 10);
    if (!out->in_recovery && !col_null(res, 4)) {
        out->timeline = alchdb__walfile_timeline(PQgetvalue(res, 0, 4));
        out->timeline_exact = true;
    } else if (col_u64(res, 7) > 0) {
        out->timeline = (uint32_t)col_u64(res, 7);
        out->timeline_exact = true;
    } else {
        out->timeline = (uint32_t)col_u64(res, 8);
        out->timeline_exact = false;
    }
    if (out->sysid == 0 || out->timeline == 0) {
        snprintf(why, cap, "the probe's answer has no system identifier or timeline");
        return false;
    }
    return true;
}

/* A primary on a timeline after the first has a history file saying where
 * each ancestor timeline ended; tokens from before a failover are checked
 * against it. Reading it needs pg_read_server_files (or superuser); without
 * that the router says so once and treats such tokens as unverifiable. */
static void load_history(alchdb_router *r, router_host *h, uint32_t tli, int64_t deadline)
{
    if (tli <= 1 || !alchdb__router_history_wanted(r, tli) || !h->probe_conn)
        return;
    char sql[96], why[256];
    snprintf(sql, sizeof sql, "SELECT pg_read_file('pg_wal/%08" PRIX32 ".history')", tli);
    PGresult *res = probe_exec(h, sql, deadline, why, sizeof why);
    if (!res)
        return;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0)) {
        alchdb__router_set_history(r, tli, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
    } else {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        if (st && (!strcmp(st, "42501") || !strcmp(st, "58P01"))) {
            alchdb__log(ALCHDB_LOG_WARN, "router",
                        "%s: cannot read the history of timeline %" PRIu32 " (%s): read-your-writes tokens from "
                        "earlier timelines are served by the primary without a consistency guarantee (grant "
                        "pg_read_server_files to the router's role to check them)",
                        h->display, tli, !strcmp(st, "42501") ? "permission denied" : "no such file");
            alchdb__router_set_history(r, tli, NULL, 0);
        }
    }
    PQclear(res);
}

/* One probe of h, then what it means. */
static void probe_host(alchdb_router *r, router_host *h)
{
    char why[512] = "";
    probe_result pr;
    bool ok = false;
    pthread_mutex_lock(&h->probe_lock);
    int64_t deadline = alchdb__now_ns() + r->cfg.probe_timeout_us * 1000;
    if (atomic_exchange(&h->reresolve_pending, 0))
        alchdb__router_probe_close(h);
    if (!h->probe_conn) {
        PGconn *c = NULL;
        if (alchdb__pq_connect(h->conninfo, deadline, "router", "probe", &c, why, sizeof why) == 0) {
            if (PQsetnonblocking(c, 1) == 0)
                h->probe_conn = c;
            else
                PQfinish(c);
        }
    }
    if (h->probe_conn) {
        PGresult *res = probe_exec(h, PROBE_SQL, deadline, why, sizeof why);
        if (res) {
            ok = parse_probe(res, &pr, why, sizeof why);
            PQclear(res);
        }
        if (ok && !pr.in_recovery)
            load_history(r, h, pr.timeline, deadline);
    }
    pthread_mutex_unlock(&h->probe_lock);
    alchdb__router_apply_probe(r, h, ok ? &pr : NULL, why);
}

int alchdb__router_probe_all(alchdb_router *r)
{
    for (size_t i = 0; i < r->nhosts; i++)
        probe_host(r, &r->hosts[i]);
    return 0;
}

/* ---- scheduling ------------------------------------------------------------------------- */

static void abs_time(int64_t mono_ns, struct timespec *ts)
{
    ts->tv_sec = (time_t)(mono_ns / 1000000000);
    ts->tv_nsec = (long)(mono_ns % 1000000000);
}

/* Early probes are at most this often per host: a burst of failed requests
 * (each asking for a probe) costs one probe, not one each. */
static int64_t early_gap_ns(const alchdb_router *r)
{
    int64_t gap = INT64_C(250000000);
    int64_t interval = r->cfg.probe_interval_us * 1000;
    return interval < gap ? interval : gap;
}

static void *prober_main(void *arg)
{
    router_host *h = arg;
    alchdb_router *r = h->router;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stopping && alchdb__now_ns() < h->next_probe_ns) {
            struct timespec ts;
            abs_time(h->next_probe_ns, &ts);
            pthread_cond_timedwait(&r->wake, &r->lock, &ts);
        }
        if (r->stopping)
            break;
        h->next_probe_ns = alchdb__now_ns() + r->cfg.probe_interval_us * 1000;
        pthread_mutex_unlock(&r->lock);
        probe_host(r, h);
        pthread_mutex_lock(&r->lock);
        if (!h->first_probe_done) {
            h->first_probe_done = true;
            pthread_cond_broadcast(&r->first_round);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

void alchdb__router_request_probe(alchdb_router *r, router_host *h)
{
    int64_t now = alchdb__now_ns();
    int64_t last = atomic_load_explicit(&h->last_early_ns, memory_order_relaxed);
    if (now - last < early_gap_ns(r) || !atomic_compare_exchange_strong(&h->last_early_ns, &last, now))
        return;
    pthread_mutex_lock(&r->lock);
    if (h->next_probe_ns > now) {
        h->next_probe_ns = now;
        pthread_cond_broadcast(&r->wake);
    }
    pthread_mutex_unlock(&r->lock);
}

void alchdb__router_reresolve(alchdb_router *r, router_host *h, const char *why)
{
    if (!h->multi_host)
        return;
    int64_t now = alchdb__now_ns();
    int64_t gap = r->cfg.probe_interval_us * 1000;
    if (gap < INT64_C(1000000000))
        gap = INT64_C(1000000000);
    int64_t last = atomic_load(&h->last_reresolve_ns);
    if ((last && now - last < gap) || !atomic_compare_exchange_strong(&h->last_reresolve_ns, &last, now))
        return;
    atomic_fetch_add(&h->reresolves, 1);
    alchdb__log(ALCHDB_LOG_INFO, "router", "%s: %s: reconnecting so that libpq picks the host again", h->display,
                why);
    atomic_store(&h->reresolve_pending, 1);
    alchdb__pool_drain(h->pool);
    pthread_mutex_lock(&r->lock);
    h->next_probe_ns = now;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
}

/* Start one prober per host and wait (bounded) until each has probed once;
 * then fix the cluster's identity: the configured primary's system
 * identifier if it answered, else the first host's that did. */
int alchdb__router_start_probers(alchdb_router *r)
{
    pthread_mutex_lock(&r->lock);
    r->stopping = false;
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < r->nhosts; i++) {
        router_host *h = &r->hosts[i];
        h->router = r;
        h->next_probe_ns = 0;
        h->first_probe_done = false;
        if (pthread_create(&h->thread, NULL, prober_main, h) != 0) {
            alchdb__router_stop_probers(r);
            return alchdb__error(ALCHDB_E_INTERNAL, "alchdb_router_start: cannot start a prober thread");
        }
        h->thread_started = true;
    }
    int64_t deadline = alchdb__now_ns() + 2 * r->cfg.probe_timeout_us * 1000 + INT64_C(1000000000);
    pthread_mutex_lock(&r->lock);
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < r->nhosts; i++)
            done += r->hosts[i].first_probe_done;
        if (done == r->nhosts || alchdb__now_ns() >= deadline)
            break;
        struct timespec ts;
        abs_time(deadline, &ts);
        pthread_cond_timedwait(&r->first_round, &r->lock, &ts);
    }
    pthread_mutex_unlock(&r->lock);
    if (atomic_load(&r->sysid) == 0) {
        for (size_t i = 0; i < r->nhosts; i++) {
            uint64_t id = atomic_load(&r->hosts[i].sysid);
            if (id) {
                atomic_store(&r->sysid, id);
                break;
            }
        }
        alchdb__router_evaluate(r);
    }
    return 0;
}

void alchdb__router_stop_probers(alchdb_router *r)
{
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < r->nhosts; i++) {
        router_host *h = &r->hosts[i];
        if (h->thread_started)
            pthread_join(h->thread, NULL);
        h->thread_started = false;
    }
}
