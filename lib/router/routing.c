/* Routing decisions: where a statement runs, read-your-writes checks,
 * breakers, fallbacks, and what a released connection teaches the router.
 *
 * "The primary" here is whichever host accepts writes now (roles.c picks it
 * from the probes: not in recovery, not read-only, the newest timeline), not
 * necessarily the host configured as primary. Reads go to any standby that
 * has the data (in step with the primary, or, while no primary answers,
 * within the staleness limit), whatever role it was configured with. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alchdb/sql.h"
#include "router/router_internal.h"

/* ---- breaker ----------------------------------------------------------------- */

bool alchdb__router_breaker_allows(alchdb_router *r, router_host *h)
{
    if (atomic_load_explicit(&h->breaker, memory_order_acquire) == BREAKER_CLOSED)
        return true;
    bool ok = false;
    pthread_mutex_lock(&r->lock);
    int st = atomic_load(&h->breaker);
    if (st == BREAKER_CLOSED) {
        ok = true;
    } else if (st == BREAKER_OPEN && alchdb__now_ns() >= atomic_load(&h->open_until_ns)) {
        atomic_store(&h->breaker, BREAKER_HALF_OPEN);
        h->trial_in_flight = true;
        ok = true;
    } else if (st == BREAKER_HALF_OPEN && !h->trial_in_flight) {
        h->trial_in_flight = true;
        ok = true;
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void alchdb__router_breaker_result(alchdb_router *r, router_host *h, bool ok)
{
    if (ok && atomic_load_explicit(&h->breaker, memory_order_acquire) == BREAKER_CLOSED &&
        atomic_load_explicit(&h->failures, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&r->lock);
    int st = atomic_load(&h->breaker);
    if (ok) {
        if (st != BREAKER_CLOSED)
            alchdb__log(ALCHDB_LOG_INFO, "router", "%s: circuit breaker closed (host answers again)", h->display);
        atomic_store(&h->breaker, BREAKER_CLOSED);
        atomic_store(&h->failures, 0);
        h->trial_in_flight = false;
        h->open_period_ns = r->cfg.breaker_open_us * 1000;
    } else {
        int failures = atomic_fetch_add(&h->failures, 1) + 1;
        if (st == BREAKER_HALF_OPEN) {
            h->open_period_ns *= 2;
            if (h->open_period_ns > r->cfg.breaker_max_open_us * 1000)
                h->open_period_ns = r->cfg.breaker_max_open_us * 1000;
            atomic_store(&h->open_until_ns, alchdb__now_ns() + h->open_period_ns);
            h->trial_in_flight = false;
            atomic_store(&h->breaker, BREAKER_OPEN);
        } else if (st == BREAKER_CLOSED && failures >= r->cfg.breaker_failures) {
            atomic_store(&h->open_until_ns, alchdb__now_ns() + h->open_period_ns);
            atomic_store(&h->breaker, BREAKER_OPEN);
            atomic_fetch_add(&h->breaker_opens, 1);
            alchdb__log(ALCHDB_LOG_WARN, "router", "%s: circuit breaker open after %d consecutive failures",
                        h->display, failures);
        }
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- choosing a standby --------------------------------------------------------- */

static _Thread_local uint64_t tl_rand;

static uint64_t rnd(void)
{
    if (!tl_rand)
        tl_rand = (uint64_t)alchdb__now_ns() ^ (uint64_t)(uintptr_t)&tl_rand;
    tl_rand ^= tl_rand << 13;
    tl_rand ^= tl_rand >> 7;
    tl_rand ^= tl_rand << 17;
    return tl_rand;
}

/* A standby that may take this read now. need > 0: a read with a token,
 * which only a standby on the current timeline can satisfy; known: it must
 * already be known to have replayed that far. */
static bool standby_candidate(const alchdb_router *r, const router_host *h, int64_t need, bool known)
{
    if (atomic_load_explicit(&h->state, memory_order_relaxed) != HOST_STANDBY ||
        !atomic_load_explicit(&h->readable, memory_order_relaxed))
        return false;
    if (atomic_load_explicit(&h->breaker, memory_order_relaxed) == BREAKER_OPEN &&
        alchdb__now_ns() < atomic_load_explicit(&h->open_until_ns, memory_order_relaxed))
        return false;
    if (need > 0 && !alchdb__router_on_current_timeline(r, h))
        return false;
    if (known && atomic_load_explicit(&h->replay_lsn, memory_order_relaxed) < need)
        return false;
    return true;
}

/* Pick a standby by policy among candidates not in the exclude mask; -1 when none. */
static int pick_standby(alchdb_router *r, uint64_t exclude, int64_t need, bool known)
{
    int cand[ROUTER_MAX_HOSTS];
    int n = 0;
    int64_t total_w = 0;
    for (size_t i = 0; i < r->nhosts; i++) {
        if ((exclude >> i) & 1 || !standby_candidate(r, &r->hosts[i], need, known))
            continue;
        cand[n++] = (int)i;
        total_w += r->hosts[i].weight;
    }
    if (n == 0)
        return -1;
    switch (r->cfg.policy) {
    case ALCHDB_ROUTER_RANDOM:
        return cand[rnd() % (uint64_t)n];
    case ALCHDB_ROUTER_LEAST_OUTSTANDING: {
        uint64_t start = atomic_fetch_add_explicit(&r->rr, 1, memory_order_relaxed);
        int best = -1;
        int64_t best_out = INT64_MAX;
        for (int k = 0; k < n; k++) {
            int i = cand[(start + (uint64_t)k) % (uint64_t)n];
            int64_t o = atomic_load_explicit(&r->hosts[i].outstanding, memory_order_relaxed);
            if (o < best_out) {
                best_out = o;
                best = i;
            }
        }
        return best;
    }
    case ALCHDB_ROUTER_WEIGHTED: {
        int64_t x = (int64_t)(rnd() % (uint64_t)total_w);
        for (int k = 0; k < n; k++) {
            x -= r->hosts[cand[k]].weight;
            if (x < 0)
                return cand[k];
        }
        return cand[n - 1];
    }
    default:
        return cand[atomic_fetch_add_explicit(&r->rr, 1, memory_order_relaxed) % (uint64_t)n];
    }
}

/* ---- classification --------------------------------------------------------------- */

/* Where the SQL analysis says a statement must run. */
static int classify(const char *sql, size_t len, bool *replica_ok)
{
    *replica_ok = false;
    if (!sql)
        return ALCHDB_ROUTE_UNSURE;
    alchdb_sql_analysis *a = NULL;
    int rc = alchdb_sql_analyze(sql, len, &a);
    if (rc < 0) {
        alchdb_sql_analysis_free(a);
        return ALCHDB_ROUTE_UNSURE;
    }
    size_t n = alchdb_sql_analysis_count(a);
    int reason = n ? ALCHDB_ROUTE_READ_ONLY : ALCHDB_ROUTE_UNSURE;
    for (size_t i = 0; i < n && reason == ALCHDB_ROUTE_READ_ONLY; i++) {
        uint32_t f = 0;
        if (alchdb_sql_stmt_flags(a, i, &f) < 0)
            reason = ALCHDB_ROUTE_UNSURE;
        else if (f & ALCHDB_SQL_LOCKING)
            reason = ALCHDB_ROUTE_LOCKING;
        else if (f & ALCHDB_SQL_SIDE_EFFECTS)
            reason = ALCHDB_ROUTE_SIDE_EFFECTS;
        else if (!(f & ALCHDB_SQL_READ_ONLY))
            reason = ALCHDB_ROUTE_WRITES;
    }
    alchdb_sql_analysis_free(a);
    *replica_ok = reason == ALCHDB_ROUTE_READ_ONLY;
    return reason;
}

bool alchdb__route_is_write(int reason)
{
    return reason == ALCHDB_ROUTE_INTENT_WRITE || reason == ALCHDB_ROUTE_WRITES || reason == ALCHDB_ROUTE_LOCKING ||
           reason == ALCHDB_ROUTE_SIDE_EFFECTS || reason == ALCHDB_ROUTE_UNSURE;
}

bool alchdb__route_is_read(int reason)
{
    return reason > 0 && reason < ROUTER_MAX_REASON && !alchdb__route_is_write(reason) && reason != ALCHDB_ROUTE_INTENT_PRIMARY;
}

static void count(alchdb_router *r, int reason)
{
    if (reason > 0 && reason < ROUTER_MAX_REASON)
        atomic_fetch_add_explicit(&r->reasons[reason], 1, memory_order_relaxed);
}

/* ---- fallbacks ----------------------------------------------------------------------- */

/* Reads the primary takes for standbys that cannot: logged, counted, capped. */
static int fallback_admit(alchdb_router *r, const char *target)
{
    atomic_fetch_add_explicit(&r->fallbacks, 1, memory_order_relaxed);
    int64_t now = alchdb__now_ns();
    int64_t last = atomic_load_explicit(&r->last_fallback_log_ns, memory_order_relaxed);
    if (now - last > INT64_C(10000000000) &&
        atomic_compare_exchange_strong(&r->last_fallback_log_ns, &last, now))
        alchdb__log(ALCHDB_LOG_WARN, "router",
                    "no healthy standby: reads fall back to %s (%" PRId64 " reads so far)", target,
                    atomic_load(&r->fallbacks));
    if (r->cfg.fallback_max_per_sec <= 0)
        return 0;
    int64_t sec = now / 1000000000;
    int64_t cur = atomic_load(&r->fb_second);
    if (cur != sec && atomic_compare_exchange_strong(&r->fb_second, &cur, sec))
        atomic_store(&r->fb_count, 0);
    if (atomic_fetch_add(&r->fb_count, 1) + 1 > r->cfg.fallback_max_per_sec) {
        atomic_fetch_add(&r->fallback_rejected, 1);
        return alchdb__error(ALCHDB_E_BUSY,
                             "router: no healthy standby and the primary already took %" PRId64
                             " fallback reads this second (fallback_max_per_sec)",
                             r->cfg.fallback_max_per_sec);
    }
    return 0;
}

/* "primary a:1/db is down, replica b:2/db is standby, ..." for refusals. */
static void describe_hosts(const alchdb_router *r, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < r->nhosts && len + 1 < cap; i++) {
        const router_host *h = &r->hosts[i];
        int n = snprintf(buf + len, cap - len, "%s%s %s: %s", i ? ", " : "", h->configured_primary ? "primary" : "replica",
                         h->display, alchdb__host_state_name(atomic_load(&h->state)));
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* The host writes go to now, or -1. With no known primary, the last one is
 * still tried when it may simply not have been probed since it came back, or
 * when it is a multi-host entry (libpq may find the new primary on its
 * next connect); a host known to refuse writes is not. */
static int writer_target(alchdb_router *r)
{
    int w = atomic_load(&r->writer);
    if (w >= 0)
        return w;
    int last = atomic_load(&r->last_writer);
    if (last < 0 || (size_t)last >= r->nhosts)
        last = 0;
    router_host *h = &r->hosts[last];
    int st = atomic_load(&h->state);
    if (st == HOST_UNKNOWN || st == HOST_DOWN || h->multi_host)
        return last;
    return -1;
}

/* Where a read goes when no standby can take it: the primary, else a
 * read-only server on the current timeline, else (maybe) the last primary. */
static int read_fallback_target(alchdb_router *r)
{
    int w = atomic_load(&r->writer);
    if (w >= 0)
        return w;
    uint64_t id = atomic_load(&r->sysid);
    uint32_t tli = atomic_load(&r->timeline);
    for (size_t i = 0; i < r->nhosts; i++) {
        router_host *h = &r->hosts[i];
        if (atomic_load(&h->state) == HOST_READ_ONLY && atomic_load(&h->sysid) == id &&
            atomic_load(&h->timeline) == tli)
            return (int)i;
    }
    return writer_target(r);
}

/* No server can take the statement. tried: what the last attempt said (a
 * primary that may have come back but did not answer), or NULL. */
static int refuse(alchdb_router *r, bool write, int64_t need, const char *tried)
{
    char states[512];
    describe_hosts(r, states, sizeof states);
    const char *sep = tried ? "; " : "", *last = tried ? tried : "";
    if (write) {
        atomic_fetch_add_explicit(&r->writes_refused, 1, memory_order_relaxed);
        return alchdb__error(ALCHDB_E_CONNECT, "router: no server accepts writes now (%s)%s%s", states, sep, last);
    }
    atomic_fetch_add_explicit(&r->reads_refused, 1, memory_order_relaxed);
    if (need > 0)
        return alchdb__error(ALCHDB_E_CONNECT,
                             "router: no primary answers and no standby has replayed the token's position (%s)%s%s",
                             states, sep, last);
    return alchdb__error(ALCHDB_E_CONNECT,
                         "router: no server can take this read: no primary answers and no standby is within "
                         "max_staleness (%s)%s%s",
                         states, sep, last);
}

/* ---- acquiring ----------------------------------------------------------------------- */

/* Ask the chosen standby how far it has replayed; waits up to the causal
 * wait for it to reach need. Every round trip is bounded by the acquire's
 * deadline (call_deadline_ns): a standby that stops answering costs the
 * caller no more than that, and the connection (its query maybe still
 * running) is discarded. */
static bool standby_reached(alchdb_router *r, router_host *h, alchdb_conn *c, int64_t need, int64_t call_deadline_ns)
{
    int64_t deadline = alchdb__deadline_min(alchdb__now_ns() + r->cfg.causal_wait_us * 1000, call_deadline_ns);
    alchdb__deadline d = {.at_ns = call_deadline_ns};
    bool waited = false;
    PGconn *pg = c->slot->pg;
    for (;;) {
        atomic_fetch_add_explicit(&r->causal_checks, 1, memory_order_relaxed);
        PGresult *res = NULL;
        if (alchdb__pq_exec(pg, "SELECT pg_last_wal_replay_lsn()::text", &d, &res)) {
            alchdb_conn_mark_broken(c);
            return false;
        }
        int64_t lsn = -1;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            lsn = alchdb__lsn_parse(PQgetvalue(res, 0, 0));
        else if (alchdb__sqlstate_is_fatal(PQresultErrorField(res, PG_DIAG_SQLSTATE)) ||
                 PQstatus(pg) != CONNECTION_OK)
            alchdb_conn_mark_broken(c);
        PQclear(res);
        if (lsn < 0)
            return false;
        int64_t known = atomic_load(&h->replay_lsn);
        while (lsn > known && !atomic_compare_exchange_weak(&h->replay_lsn, &known, lsn))
            ;
        if (lsn >= need)
            return true;
        if (alchdb__now_ns() >= deadline)
            return false;
        if (!waited) {
            atomic_fetch_add_explicit(&r->causal_waits, 1, memory_order_relaxed);
            waited = true;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static int acquire_on(alchdb_router *r, int host, int64_t timeout_us, const char *tag, alchdb_conn **out)
{
    router_host *h = &r->hosts[host];
    int rc = alchdb__pool_acquire(h->pool, timeout_us, tag, out);
    if (rc == ALCHDB_E_CONNECT || rc == ALCHDB_E_TIMEOUT) {
        if (rc == ALCHDB_E_CONNECT) {
            atomic_fetch_add_explicit(&h->connect_failures, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&h->errors, 1, memory_order_relaxed);
            atomic_store(&h->replay_lsn, 0); /* a restarted standby may replay from further back */
            alchdb__router_breaker_result(r, h, false);
        }
        alchdb__router_request_probe(r, h); /* learn its state now rather than at the next period */
    }
    if (rc == 0)
        atomic_fetch_add_explicit(&h->outstanding, 1, memory_order_relaxed);
    return rc;
}

static void give_back(alchdb_router *r, int host, alchdb_conn *c)
{
    atomic_fetch_sub_explicit(&r->hosts[host].outstanding, 1, memory_order_relaxed);
    alchdb__pool_release(r->hosts[host].pool, c);
}

int alchdb__router_acquire_writer(alchdb_router *r, int64_t timeout_us, const char *tag, alchdb_conn **conn_out,
                                  int *host_out)
{
    *conn_out = NULL;
    if (timeout_us < 0)
        timeout_us = r->cfg.acquire_timeout_us;
    int host = writer_target(r);
    if (host < 0)
        return refuse(r, true, 0, NULL);
    bool known_up = atomic_load(&r->writer) == host;
    int rc = acquire_on(r, host, timeout_us, tag, conn_out);
    if (rc == ALCHDB_E_CONNECT && !known_up) {
        char tried[512];
        snprintf(tried, sizeof tried, "%s", alchdb_last_error_message());
        return refuse(r, true, 0, tried);
    }
    if (rc == 0 && host_out)
        *host_out = host;
    return rc;
}

/* What a token is worth for a read (judged against the cluster's current
 * timeline, returned in *tli): sets *need, or turns the read into one the
 * primary serves (*reason, *replica_ok). give_up: the timeline kept moving
 * while routing; serve it from the primary without vouching for it. */
static void judge_token(alchdb_router *r, const alchdb__token *t, bool give_up, int64_t *need, int *reason,
                        bool *replica_ok, uint32_t *tli)
{
    *tli = atomic_load(&r->timeline);
    int verdict = give_up ? ALCHDB__TOKEN_UNVERIFIABLE : alchdb__router_token_check(r, t, need);
    if (verdict == ALCHDB__TOKEN_OK)
        return;
    *need = 0;
    *replica_ok = false;
    if (verdict == ALCHDB__TOKEN_FOREIGN) {
        *reason = ALCHDB_ROUTE_FOREIGN_TOKEN;
        return;
    }
    *reason = ALCHDB_ROUTE_TOKEN_TIMELINE;
    atomic_fetch_add(verdict == ALCHDB__TOKEN_LOST ? &r->tokens_lost : &r->tokens_unverifiable, 1);
    int64_t now = alchdb__now_ns();
    int64_t last = atomic_load(&r->last_token_log_ns);
    if (now - last > INT64_C(10000000000) && atomic_compare_exchange_strong(&r->last_token_log_ns, &last, now))
        alchdb__log(ALCHDB_LOG_WARN, "router",
                    verdict == ALCHDB__TOKEN_LOST
                        ? "a token names a write on timeline %" PRIu32 " that is not in the current timeline %" PRIu32
                          "'s history (a failover lost it): the read runs on the primary without it"
                        : "a token names timeline %" PRIu32 ", which the router cannot check against the current "
                          "timeline %" PRIu32 ": the read runs on the primary, not causally consistent",
                    t->timeline, *tli);
}

/* A routing decision to carry out. */
typedef struct route_plan {
    int reason;
    bool replica_ok;
    int64_t need;  /* a token read: the position to have replayed (0: none) */
    uint32_t tli;  /* the timeline the token was judged against (0: no token) */
    int exclude;   /* a host a read just failed on, or -1 */
} route_plan;

#define ROUTE_AGAIN 1 /* the cluster's timeline moved under a token read: judge it again */

/* A token read may only run where the timeline it was judged against still
 * holds: a failover between the judgement and the acquire would otherwise
 * send it to a server that never had its write. */
static bool timeline_holds(alchdb_router *r, const route_plan *p, int host)
{
    return !p->tli || (atomic_load(&r->timeline) == p->tli && atomic_load(&r->hosts[host].timeline) == p->tli);
}

static int route_plan_run(alchdb_router *r, route_plan *p, int64_t timeout_us, int64_t call_deadline_ns,
                          const char *tag, alchdb_conn **conn_out, int *host_out)
{
    int rc;
    uint64_t excluded = p->exclude >= 0 && (size_t)p->exclude < r->nhosts ? UINT64_C(1) << p->exclude : 0;
    for (int attempt = 0; p->replica_ok && attempt < 2; attempt++) {
        /* Standbys known to have replayed far enough first; then any, checked. */
        int host = p->need > 0 ? pick_standby(r, excluded, p->need, true) : -1;
        bool known = host >= 0;
        if (host < 0)
            host = pick_standby(r, excluded, p->need, false);
        if (host < 0)
            break;
        excluded |= UINT64_C(1) << host;
        if (!alchdb__router_breaker_allows(r, &r->hosts[host]))
            continue;
        alchdb_conn *c = NULL;
        rc = acquire_on(r, host, timeout_us, tag, &c);
        if (rc == ALCHDB_E_CLOSED)
            return rc;
        if (rc < 0)
            continue; /* that standby cannot give a connection now: try another, then the primary */
        if (!timeline_holds(r, p, host)) {
            give_back(r, host, c);
            return ROUTE_AGAIN;
        }
        if (p->need > 0 && !known && !standby_reached(r, &r->hosts[host], c, p->need, call_deadline_ns)) {
            give_back(r, host, c);
            p->reason = ALCHDB_ROUTE_CAUSAL_PRIMARY;
            p->replica_ok = false;
            break;
        }
        if (p->need > 0)
            p->reason = ALCHDB_ROUTE_CAUSAL_REPLICA;
        else if (p->exclude >= 0)
            p->reason = ALCHDB_ROUTE_RETRY;
        atomic_fetch_add_explicit(&r->hosts[host].reads, 1, memory_order_relaxed);
        *conn_out = c;
        *host_out = host;
        return 0;
    }
    bool write = alchdb__route_is_write(p->reason);
    int target;
    if (p->replica_ok) { /* wanted a standby, none could take it */
        p->reason = p->exclude >= 0 ? ALCHDB_ROUTE_RETRY
                    : p->need > 0   ? ALCHDB_ROUTE_CAUSAL_PRIMARY
                    : r->nhosts == 1 ? ALCHDB_ROUTE_NO_REPLICAS
                                     : ALCHDB_ROUTE_NO_HEALTHY_REPLICA;
        target = p->need > 0 ? writer_target(r) : read_fallback_target(r);
        if (target < 0)
            return refuse(r, false, p->need, NULL);
        if ((rc = fallback_admit(r, r->hosts[target].display)) < 0)
            return rc;
    } else {
        /* Writes, reads that must see the primary, and token reads no
         * standby could verify. */
        target = writer_target(r);
        if (target < 0)
            return refuse(r, write, p->need, NULL);
    }
    bool known_up = atomic_load(&r->writer) == target || atomic_load(&r->hosts[target].state) == HOST_READ_ONLY;
    rc = acquire_on(r, target, timeout_us, tag, conn_out);
    if (rc == ALCHDB_E_CONNECT && !known_up) {
        /* It was only tried because it may have come back: say why nothing else could take it. */
        char tried[512];
        snprintf(tried, sizeof tried, "%s", alchdb_last_error_message());
        return refuse(r, write || !alchdb__route_is_read(p->reason), p->need, tried);
    }
    if (rc < 0)
        return rc;
    if (p->need > 0 && !timeline_holds(r, p, target)) {
        give_back(r, target, *conn_out);
        *conn_out = NULL;
        return ROUTE_AGAIN;
    }
    if (write)
        atomic_fetch_add_explicit(&r->hosts[target].writes, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&r->hosts[target].reads, 1, memory_order_relaxed);
    *host_out = target;
    return 0;
}

int alchdb__router_acquire_ex(alchdb_router *r, int intent, const char *sql, size_t sql_len, const char *token,
                              int64_t timeout_us, const char *tag, int exclude_host, alchdb_conn **conn_out,
                              int *reason_out, int *host_out)
{
    *conn_out = NULL;
    if (timeout_us < 0)
        timeout_us = r->cfg.acquire_timeout_us;
    char tokbuf[ALCHDB__TOKEN_CAP];
    if (!token && r->cfg.causal_default) {
        pthread_mutex_lock(&r->lock);
        memcpy(tokbuf, r->last_token, sizeof tokbuf);
        pthread_mutex_unlock(&r->lock);
        if (tokbuf[0])
            token = tokbuf;
    }
    int reason;
    bool replica_ok = false;
    switch (intent) {
    case ALCHDB_INTENT_WRITE: reason = ALCHDB_ROUTE_INTENT_WRITE; break;
    case ALCHDB_INTENT_PRIMARY: reason = ALCHDB_ROUTE_INTENT_PRIMARY; break;
    case ALCHDB_INTENT_READ: reason = ALCHDB_ROUTE_INTENT_READ; replica_ok = true; break;
    case ALCHDB_INTENT_AUTO: reason = classify(sql, sql_len, &replica_ok); break;
    default: return alchdb__invalid_arg(__func__, "intent", "must be an alchdb_router_intent");
    }
    alchdb__token t;
    if (token) {
        const char *why;
        if (alchdb__token_parse(token, strlen(token), &t, &why) < 0)
            return alchdb__error(ALCHDB_E_INVALID, "router: invalid consistency token: %s", why);
    }
    if (exclude_host >= 0 && replica_ok)
        atomic_fetch_add_explicit(&r->retries, 1, memory_order_relaxed);
    /* The whole acquire, replay checks included, ends by this (an acquire
     * that may not wait for a free connection still lets a check take up
     * to probe_timeout). */
    int64_t call_deadline_ns = alchdb__now_ns() + (timeout_us > 0 ? timeout_us : r->cfg.probe_timeout_us) * 1000;
    for (int round = 0;; round++) {
        route_plan p = {.reason = reason, .replica_ok = replica_ok, .exclude = exclude_host};
        /* The primary serves a write or a primary-only read anyway: it has
         * every surviving write, so only reads that may go to a standby
         * need the token. */
        if (token && replica_ok)
            judge_token(r, &t, round >= 2, &p.need, &p.reason, &p.replica_ok, &p.tli);
        if (token == tokbuf && p.reason == ALCHDB_ROUTE_TOKEN_TIMELINE) {
            /* The router's own latest token names a write a failover lost (or
             * one it cannot check): forget it rather than flag every read. */
            pthread_mutex_lock(&r->lock);
            if (!strcmp(r->last_token, tokbuf))
                r->last_token[0] = '\0';
            pthread_mutex_unlock(&r->lock);
        }
        int host = -1;
        int rc = route_plan_run(r, &p, timeout_us, call_deadline_ns, tag, conn_out, &host);
        if (rc == ROUTE_AGAIN)
            continue;
        if (rc < 0)
            return rc;
        count(r, p.reason);
        if (reason_out)
            *reason_out = p.reason;
        if (host_out)
            *host_out = host;
        return 0;
    }
}

ALCHDB_API int alchdb_router_acquire(alchdb_router *r, int intent, const char *sql, const char *token,
                                     int64_t timeout_us, const char *tag, alchdb_conn **conn_out, int *reason_out)
{
    ALCHDB_CHECK_ARG(conn_out, "conn_out", "must not be NULL");
    *conn_out = NULL;
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(intent != ALCHDB_INTENT_AUTO || sql, "sql", "must not be NULL when intent is AUTO");
    ALCHDB_CHECK_ARG(timeout_us >= -1, "timeout_us", "must be -1 (the router's default), 0 or positive");
    return alchdb__router_acquire_ex(r, intent, sql, sql ? strlen(sql) : 0, token, timeout_us, tag, -1, conn_out,
                                     reason_out, NULL);
}

int alchdb__router_conn_host(const alchdb_router *r, const alchdb_conn *conn)
{
    if (!conn)
        return -1;
    for (size_t i = 0; i < r->nhosts; i++)
        if (conn->pool == r->hosts[i].pool)
            return (int)i;
    return -1;
}

ALCHDB_API int alchdb_router_conn_is_replica(const alchdb_router *r, const alchdb_conn *conn)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(conn, "conn", "must not be NULL");
    int h = alchdb__router_conn_host(r, conn);
    if (h < 0)
        return alchdb__invalid_arg(__func__, "conn", "not a connection of this router");
    return atomic_load(&r->hosts[h].state) == HOST_STANDBY;
}

/* ---- release ---------------------------------------------------------------------- */

ALCHDB_API int alchdb_router_release(alchdb_router *r, alchdb_conn *conn, const char *sqlstate)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(conn, "conn", "must not be NULL");
    int hi = alchdb__router_conn_host(r, conn);
    if (hi < 0)
        return alchdb__invalid_arg(__func__, "conn", "not a connection of this router");
    router_host *h = &r->hosts[hi];
    PGconn *pg = conn->slot ? conn->slot->pg : NULL;
    bool gone = sqlstate && alchdb__sqlstate_is_fatal(sqlstate);
    if (!gone && pg && PQstatus(pg) == CONNECTION_BAD)
        gone = true;
    if (gone) {
        alchdb_conn_mark_broken(conn);
        atomic_fetch_add_explicit(&h->errors, 1, memory_order_relaxed);
        atomic_store(&h->replay_lsn, 0); /* after a restart it may replay from further back */
        alchdb__router_breaker_result(r, h, false);
        alchdb__router_request_probe(r, h);
    } else if (sqlstate && !strcmp(sqlstate, "25006") && atomic_load(&h->state) != HOST_STANDBY) {
        /* read_only_sql_transaction where writes were expected: the server
         * refuses writes now (demoted, or default_transaction_read_only).
         * This session is of no use for writes: discard it. */
        alchdb_conn_mark_broken(conn);
        atomic_fetch_add_explicit(&h->read_only_answers, 1, memory_order_relaxed);
        alchdb__router_saw_read_only(r, h);
    } else {
        alchdb__router_breaker_result(r, h, true);
    }
    int rc = alchdb_pool_release(h->pool, conn);
    if (rc == 0)
        atomic_fetch_sub_explicit(&h->outstanding, 1, memory_order_relaxed);
    return rc;
}
