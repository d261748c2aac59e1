/* The connection pool: acquire/release hot path, FIFO waiters, connect with
 * back-off, close/free. Housekeeping lives in housekeeper.c, metrics and JSON
 * in metrics.c. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "alchdb/pq.h"
#include "pool/futex.h"
#include "pool/pool_priv.h"
#include "pqconn.h"

#define LEASE_MAGIC 0x414c4331u /* "ALC1" */
#define POOL_MAGIC 0x414c5030u  /* "ALP0" */
#define DEAD_MAGIC 0xdeadbeefu

/* An idle connection older than this gets a non-blocking socket check (one
 * poll() call) before it is handed out: a backend that was terminated while
 * the connection sat idle has already sent its FATAL message and EOF. */
#define LIVENESS_IDLE_NS INT64_C(10000000) /* 10 ms */

#define BACKOFF_MIN_NS INT64_C(25000000)   /* 25 ms */
#define BACKOFF_MAX_NS INT64_C(1000000000) /* 1 s */

/* ---- small helpers ------------------------------------------------------ */

bool alchdb__sqlstate_is_fatal(const char *st)
{
    if (!st || strlen(st) != 5)
        return false;
    if (st[0] == '0' && st[1] == '8')
        return true;
    return strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0;
}

int64_t alchdb__pool_opt(const alchdb_pool *pool, int opt)
{
    return alchdb__opts_i(&pool->cfg, opt);
}

ALCHDB_API const char *alchdb_pool_name(const alchdb_pool *pool)
{
    return pool ? pool->label : "";
}

static void copy_tag(char *dst, const char *tag)
{
    if (!tag) {
        dst[0] = '\0';
        return;
    }
    size_t i = 0;
    for (; i + 1 < ALCHDB__POOL_TAG_MAX && tag[i]; i++)
        dst[i] = tag[i];
    dst[i] = '\0';
}

static uint64_t next_rand(alchdb_pool *p)
{
    /* xorshift64*, under the pool lock */
    uint64_t x = p->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* ---- lists (all under p->mu) ------------------------------------------- */

static void idle_push_head(alchdb_pool *p, alchdb__slot *s)
{
    s->state = ALCHDB__SLOT_IDLE;
    s->prev = NULL;
    s->next = p->idle_head;
    if (p->idle_head)
        p->idle_head->prev = s;
    else
        p->idle_tail = s;
    p->idle_head = s;
    p->nidle++;
}

void alchdb__pool_idle_remove(alchdb_pool *p, alchdb__slot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        p->idle_head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        p->idle_tail = s->prev;
    s->next = s->prev = NULL;
    p->nidle--;
}

static alchdb__slot *free_pop(alchdb_pool *p)
{
    alchdb__slot *s = p->free_head;
    if (s) {
        p->free_head = s->next;
        s->next = NULL;
    }
    return s;
}

/* Detach the physical connection of a slot and return the slot to the free
 * list. The caller closes *dead outside the lock with alchdb__dead_close. */
void alchdb__pool_slot_retire(alchdb_pool *p, alchdb__slot *s, alchdb__dead *dead)
{
    dead->pg = s->pg;
    dead->ext = s->ext;
    dead->ext_free = s->ext_free;
    s->pg = NULL;
    s->ext = NULL;
    s->ext_free = NULL;
    s->state = ALCHDB__SLOT_FREE;
    s->broken = s->fatal_seen = s->leak_reported = false;
    s->tag[0] = '\0';
    s->next = p->free_head;
    s->prev = NULL;
    p->free_head = s;
    p->open--;
}

void alchdb__dead_close(alchdb__dead *d)
{
    if (d->ext && d->ext_free)
        d->ext_free(d->ext, NULL);
    if (d->pg) {
        PQsetnonblocking(d->pg, 1); /* the Terminate message never waits on a stuck server */
        PQfinish(d->pg);
    }
    d->pg = NULL;
    d->ext = NULL;
}

static void waiter_enqueue(alchdb_pool *p, alchdb__waiter *w, bool front)
{
    w->next = w->prev = NULL;
    if (!p->wait_head) {
        p->wait_head = p->wait_tail = w;
    } else if (front) {
        w->next = p->wait_head;
        p->wait_head->prev = w;
        p->wait_head = w;
    } else {
        w->prev = p->wait_tail;
        p->wait_tail->next = w;
        p->wait_tail = w;
    }
    w->queued = true;
    p->nwaiters++;
}

static void waiter_remove(alchdb_pool *p, alchdb__waiter *w)
{
    if (!w->queued)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        p->wait_head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->wait_tail = w->prev;
    w->next = w->prev = NULL;
    w->queued = false;
    p->nwaiters--;
}

/* Mark a slot as held by a new lease; returns the lease. Under p->mu. */
static alchdb_conn *slot_take(alchdb_pool *p, alchdb__slot *s, const char *tag, int64_t now)
{
    s->state = ALCHDB__SLOT_INUSE;
    s->acquired_ns = now;
    s->leak_reported = false;
    copy_tag(s->tag, tag);
    alchdb_conn *lease = &s->leases[s->lease_ix++ % ALCHDB__POOL_LEASES];
    atomic_store_explicit(&lease->held, 1, memory_order_relaxed);
    p->in_use++;
    p->m.acquisitions++;
    return lease;
}

bool alchdb__pool_can_connect(const alchdb_pool *p, int64_t now)
{
    return p->open + p->connecting < p->max_open && p->connecting < p->max_connecting &&
           now >= p->backoff_until_ns;
}

/* Capacity appeared (or back-off ended): let the oldest waiter make a
 * connection itself. Under p->mu. */
void alchdb__pool_wake_connector(alchdb_pool *p, int64_t now)
{
    if (p->wait_head && !p->closed && alchdb__pool_can_connect(p, now)) {
        alchdb__waiter *w = p->wait_head;
        waiter_remove(p, w);
        w->retry = true;
        atomic_store_explicit(&w->woken, 1, memory_order_release);
        alchdb__waiter_wake(w);
    }
}

void alchdb__waiter_wake(alchdb__waiter *w) { alchdb__futex_wake(&w->woken); }

/* Put a usable connection back: straight to the oldest waiter when there is
 * one (no barging, no thundering herd), else onto the idle stack. Returns
 * false when the connection must be closed instead (surplus). Under p->mu. */
bool alchdb__pool_put_back(alchdb_pool *p, alchdb__slot *s, int64_t now, alchdb__waiter **wake)
{
    if (alchdb__pool_stale(p, s))
        return false;
    alchdb__waiter *w = p->wait_head;
    *wake = NULL;
    if (w) {
        waiter_remove(p, w);
        w->conn = slot_take(p, s, w->tag, now);
        atomic_store_explicit(&w->woken, 1, memory_order_release);
        *wake = w;
        return true;
    }
    if (p->nidle >= p->max_idle)
        return false;
    s->last_used_ns = now;
    idle_push_head(p, s);
    return true;
}

void alchdb__pool_set_connect_error(alchdb_pool *p, const char *msg, int64_t now)
{
    snprintf(p->last_connect_error, sizeof p->last_connect_error, "%s", msg);
    p->m.connect_errors++;
    p->backoff_ns = p->backoff_ns ? p->backoff_ns * 2 : BACKOFF_MIN_NS;
    if (p->backoff_ns > BACKOFF_MAX_NS)
        p->backoff_ns = BACKOFF_MAX_NS;
    p->backoff_until_ns = now + p->backoff_ns;
}

/* ---- notices and connecting -------------------------------------------- */

static void notice_rx(void *arg, const PGresult *res)
{
    alchdb__slot *s = arg;
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
        s->fatal_seen = true;
    /* "there is no transaction in progress": COMMIT/ROLLBACK outside one */
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (code && strcmp(code, "25P01") == 0)
        s->no_txn_warning = true;
    if (alchdb__log_enabled(ALCHDB_LOG_DEBUG)) {
        char msg[768];
        alchdb__pq_message(msg, sizeof msg, PQresultErrorMessage(res));
        alchdb__pool_mask_secret(s->pool, msg);
        alchdb__log(ALCHDB_LOG_DEBUG, "pool", "pool %s: server notice: %s", s->pool->qlabel, msg);
    }
}

static void strip_nl(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
    for (char *q = s; *q; q++)
        if (*q == '\n' || *q == '\t')
            *q = ' ';
}

int alchdb__pool_connect(alchdb_pool *p, alchdb__slot *s, int64_t deadline_ns, char *err, size_t errlen)
{
    int64_t timeout_us = p->cfg.v[ALCHDB_POOL_OPT_CONNECT_TIMEOUT];
    int64_t own = alchdb__now_ns() + timeout_us * 1000;
    bool caller_first = deadline_ns && deadline_ns < own;
    PGconn *pg = NULL;
    s->generation = atomic_load(&p->generation);
    int rc = alchdb__pq_connect(p->conninfo, caller_first ? deadline_ns : own, "pool", "connect", &pg,
                                err, errlen);
    if (rc == ALCHDB_E_TIMEOUT && !caller_first) {
        snprintf(err, errlen, "connection attempt timed out after %lld ms",
                 (long long)(timeout_us / 1000));
        rc = ALCHDB_E_CONNECT;
    }
    if (rc != 0) {
        alchdb__pool_mask_secret(p, err);
        return rc;
    }
    PQsetNoticeReceiver(pg, notice_rx, s);
    PQsetnonblocking(pg, 1); /* see pqwait.h: borrowers get blocking mode back */
    int64_t now = alchdb__now_ns();
    s->pg = pg;
    s->created_ns = now;
    s->last_used_ns = now;
    s->broken = s->fatal_seen = s->no_txn_warning = false;
    int64_t life = p->cfg.v[ALCHDB_POOL_OPT_CONN_MAX_LIFETIME] * 1000;
    if (life > 0) {
        pthread_mutex_lock(&p->mu);
        uint64_t r = next_rand(p);
        pthread_mutex_unlock(&p->mu);
        /* jitter of +/-10 % so a pool made at once does not expire at once */
        double f = 0.9 + 0.2 * ((double)(r >> 11) / 9007199254740992.0);
        s->expires_ns = now + (int64_t)((double)life * f);
    } else {
        s->expires_ns = 0;
    }
    return 0;
}

void alchdb__pool_discard(alchdb_pool *p, alchdb__dead *d)
{
    if (d->pg && PQstatus(d->pg) == CONNECTION_OK && PQtransactionStatus(d->pg) == PQTRANS_ACTIVE &&
        alchdb__pq_cancel_async(d->pg)) {
        pthread_mutex_lock(&p->mu);
        p->m.cancels++;
        pthread_mutex_unlock(&p->mu);
    }
    alchdb__dead_close(d);
}

int alchdb__pool_fork_error(const alchdb_pool *p, const char *func)
{
    return alchdb__error(ALCHDB_E_STATE,
                         "%s: pool %s was created in process %ld and cannot be used in the forked "
                         "child %ld (its connections belong to the parent): create a new pool "
                         "after fork()",
                         func, p->qlabel, p->pid, (long)getpid());
}

/* ---- acquire ----------------------------------------------------------- */

enum { USABLE = 0, EXPIRED = 1, BROKEN = 2 };

/* Decide whether an idle connection may be handed out: USABLE, EXPIRED,
 * BROKEN, or the deadline's ALCHDB_E_TIMEOUT / ALCHDB_E_CANCELED while the
 * validation round trip was in flight. Runs without the lock on a slot the
 * caller holds. */
static int slot_check(alchdb_pool *p, alchdb__slot *s, int64_t now, const alchdb__deadline *d)
{
    if (s->expires_ns && now >= s->expires_ns)
        return EXPIRED;
    int64_t idle = now - s->last_used_ns;
    if (idle >= LIVENESS_IDLE_NS) {
        struct pollfd pfd = {.fd = PQsocket(s->pg), .events = POLLIN};
        if (pfd.fd < 0)
            return BROKEN;
        if (poll(&pfd, 1, 0) > 0) {
            /* Unsolicited data on an idle connection: a notification, a
             * parameter change, or the server saying goodbye. PQisBusy parses
             * it, so a FATAL notice reaches notice_rx (fatal_seen); a second
             * read sees the EOF that follows it. */
            if (!PQconsumeInput(s->pg))
                return BROKEN;
            (void)PQisBusy(s->pg);
            if (!s->fatal_seen && poll(&pfd, 1, 0) > 0 && !PQconsumeInput(s->pg))
                return BROKEN;
        }
        if (PQstatus(s->pg) != CONNECTION_OK || s->fatal_seen)
            return BROKEN;
    }
    if (idle >= p->validate_ns) {
        PGresult *r = NULL;
        int rc = alchdb__pq_exec(s->pg, "", d, &r);
        bool ok = rc == 0 && r && PQresultStatus(r) == PGRES_EMPTY_QUERY;
        PQclear(r);
        pthread_mutex_lock(&p->mu);
        p->m.validations++;
        pthread_mutex_unlock(&p->mu);
        if (rc)
            return rc;
        if (!ok || PQstatus(s->pg) != CONNECTION_OK)
            return BROKEN;
    }
    return USABLE;
}

static void top_holders(alchdb_pool *p, int64_t now, char *buf, size_t len)
{
    enum { TOP = 3 };
    alchdb__slot *best[TOP] = {NULL};
    for (int i = 0; i < p->max_open; i++) {
        alchdb__slot *s = &p->slots[i];
        if (s->state != ALCHDB__SLOT_INUSE)
            continue;
        for (int k = 0; k < TOP; k++) {
            if (!best[k] || s->acquired_ns < best[k]->acquired_ns) {
                for (int j = TOP - 1; j > k; j--)
                    best[j] = best[j - 1];
                best[k] = s;
                break;
            }
        }
    }
    size_t off = 0;
    buf[0] = '\0';
    for (int k = 0; k < TOP && best[k]; k++) {
        int n = snprintf(buf + off, len - off, "%s%s (%lld ms)", k ? ", " : "",
                         best[k]->tag[0] ? best[k]->tag : "(untagged)",
                         (long long)((now - best[k]->acquired_ns) / 1000000));
        if (n < 0 || (size_t)n >= len - off)
            break;
        off += (size_t)n;
    }
    if (p->in_use > TOP && off + 6 < len)
        snprintf(buf + off, len - off, ", ...");
}

/* Build the timeout error under the lock. */
static int timeout_error(alchdb_pool *p, int64_t waited_ns, int64_t now, const char *during)
{
    char holders[512];
    top_holders(p, now, holders, sizeof holders);
    char conn_err[560] = "";
    if (p->last_connect_error[0] && p->open < p->max_open)
        snprintf(conn_err, sizeof conn_err, "; last connect error: %s", p->last_connect_error);
    return alchdb__error(ALCHDB_E_TIMEOUT,
                         "pool %s: acquire timed out after %lld ms%s: %d/%d connections in use, "
                         "%d waiters%s%s%s",
                         p->qlabel, (long long)(waited_ns / 1000000), during, p->in_use, p->max_open,
                         p->nwaiters, holders[0] ? "; longest holders: " : "", holders, conn_err);
}

static void maybe_destroy_locked_then_unlock(alchdb_pool *p);

/* The server is down and nothing is open or being opened: every waiter
 * re-evaluates now and fails fast instead of waiting out its deadline. */
static void wake_all_waiters(alchdb_pool *p)
{
    while (p->wait_head) {
        alchdb__waiter *w = p->wait_head;
        waiter_remove(p, w);
        w->retry = true;
        atomic_store_explicit(&w->woken, 1, memory_order_release);
        alchdb__waiter_wake(w);
    }
}

static void waiter_cancel_wake(void *arg)
{
    alchdb__waiter *w = arg;
    pthread_mutex_lock(&w->pool->mu);
    w->canceled = true;
    if (w->queued) {
        waiter_remove(w->pool, w);
        atomic_store_explicit(&w->woken, 1, memory_order_release);
        alchdb__waiter_wake(w);
    }
    pthread_mutex_unlock(&w->pool->mu);
}

static int canceled_error(alchdb_pool *p, int64_t start)
{
    return alchdb__error(ALCHDB_E_CANCELED, "pool %s: acquire canceled after %lld ms", p->qlabel,
                         (long long)((alchdb__now_ns() - start) / 1000000));
}

/* A connection taken from the idle stack: check it outside the lock.
 * Returns 1 when it is handed out, 0 when it was retired (look again), or a
 * negative code (the deadline or the cancel handle ended the check). */
static int take_idle(alchdb_pool *p, alchdb__slot *s, const alchdb__deadline *d, int64_t start, int64_t now,
                     bool waited, const char *tag, alchdb_conn **out)
{
    alchdb__pool_idle_remove(p, s);
    alchdb_conn *lease = slot_take(p, s, tag, now);
    pthread_mutex_unlock(&p->mu);
    int64_t idle = now - s->last_used_ns;
    int why = USABLE;
    if (ALCHDB_UNLIKELY(idle >= LIVENESS_IDLE_NS || idle >= p->validate_ns ||
                        (s->expires_ns && now >= s->expires_ns)))
        why = slot_check(p, s, now, d);
    if (ALCHDB_LIKELY(why == USABLE)) {
        alchdb__hist_record(&p->wait_hist, waited ? now - start : 0);
        *out = lease;
        return 1;
    }
    /* Unusable: retire it (a validation cut short by the deadline may still
     * be running on a stuck backend: cancel it). */
    atomic_store(&lease->held, 0);
    alchdb__dead dead;
    pthread_mutex_lock(&p->mu);
    p->in_use--;
    p->m.acquisitions--;
    if (why == EXPIRED)
        p->m.closed_lifetime++;
    else
        p->m.closed_broken++;
    alchdb__pool_slot_retire(p, s, &dead);
    alchdb__pool_wake_connector(p, alchdb__now_ns());
    pthread_mutex_unlock(&p->mu);
    alchdb__pool_discard(p, &dead);
    if (why == ALCHDB_E_TIMEOUT) {
        pthread_mutex_lock(&p->mu);
        p->m.timeouts++;
        now = alchdb__now_ns();
        int rc = timeout_error(p, now - start, now, " while validating an idle connection (no answer)");
        pthread_mutex_unlock(&p->mu);
        return rc;
    }
    if (why == ALCHDB_E_CANCELED)
        return canceled_error(p, start);
    if (why < 0)
        return alchdb__error(why, "pool %s: validating an idle connection failed", p->qlabel);
    pthread_mutex_lock(&p->mu);
    return 0;
}

/* Make a connection for the caller (the lock is held on entry and on a 0
 * return). Returns 1 when one is handed out (unlocked), 0 to look again
 * (locked: the attempt failed but connections are open or coming, so the
 * caller goes back in line), or a negative code (unlocked). */
static int connect_for(alchdb_pool *p, const alchdb__deadline *d, int64_t start, bool waited,
                       const char *tag, alchdb_conn **out)
{
    int64_t now = alchdb__now_ns();
    alchdb__slot *ns = free_pop(p);
    if (!ns) { /* cannot happen: open + connecting < max_open */
        pthread_mutex_unlock(&p->mu);
        return alchdb__error(ALCHDB_E_INTERNAL, "pool %s: no free slot", p->qlabel);
    }
    ns->state = ALCHDB__SLOT_CONNECTING;
    p->connecting++;
    /* Capacity may remain for the next waiter to connect in parallel. */
    alchdb__pool_wake_connector(p, now);
    pthread_mutex_unlock(&p->mu);
    char err[512];
    int crc = alchdb__pool_connect(p, ns, d->at_ns, err, sizeof err);
    pthread_mutex_lock(&p->mu);
    p->connecting--;
    now = alchdb__now_ns();
    if (crc != 0) {
        ns->state = ALCHDB__SLOT_FREE;
        ns->next = p->free_head;
        p->free_head = ns;
        if (crc == ALCHDB_E_TIMEOUT) {
            /* The caller's deadline ended the attempt, not the server: no
             * back-off; another caller may use the capacity. */
            p->m.timeouts++;
            alchdb__pool_wake_connector(p, now);
            int rc = timeout_error(p, now - start, now, " while connecting");
            pthread_mutex_unlock(&p->mu);
            return rc;
        }
        alchdb__pool_set_connect_error(p, err, now);
        if (crc == ALCHDB_E_NOMEM || (p->open == 0 && p->connecting == 0)) {
            /* Nothing open and nothing coming: the server is down (or we are
             * out of memory). Fail now, and so do the waiters. */
            wake_all_waiters(p);
            pthread_mutex_unlock(&p->mu);
            return alchdb__error(crc == ALCHDB_E_NOMEM ? crc : ALCHDB_E_CONNECT,
                                 "pool %s: cannot connect: %s", p->qlabel, err);
        }
        /* Connections are open (or being opened): this caller still has
         * time, so it waits in line for a released one instead of failing. */
        p->m.connect_requeued++;
        return 0;
    }
    p->open++;
    p->m.connects++;
    p->backoff_ns = 0;
    p->backoff_until_ns = 0;
    p->last_connect_error[0] = '\0';
    if (p->closed) {
        alchdb__dead dead;
        p->m.closed_shutdown++;
        alchdb__pool_slot_retire(p, ns, &dead);
        pthread_mutex_unlock(&p->mu);
        alchdb__dead_close(&dead);
        return alchdb__error(ALCHDB_E_CLOSED, "pool %s is closed", p->qlabel);
    }
    alchdb_conn *lease = slot_take(p, ns, tag, now);
    alchdb__pool_wake_connector(p, now);
    pthread_mutex_unlock(&p->mu);
    alchdb__hist_record(&p->wait_hist, waited ? now - start : 0);
    *out = lease;
    return 1;
}

static int acquire_loop(alchdb_pool *p, const alchdb__deadline *d, int64_t start, const char *tag,
                        alchdb__waiter *w, alchdb_conn **out)
{
    bool waited = false, front = false;
    int rc = 0;
    /* The caller's clock reading serves the first look (one clock read per
     * uncontended acquire: on this kind of VM each costs about 65 ns). */
    int64_t now = start;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->closed) {
            rc = alchdb__error(ALCHDB_E_CLOSED, "pool %s is closed", p->qlabel);
            break;
        }
        if (ALCHDB_UNLIKELY(w->canceled || alchdb__cancel_fired(d->cancel))) {
            rc = canceled_error(p, start);
            break;
        }
        alchdb__slot *s = p->idle_head;
        if (s && !p->wait_head) {
            int t = take_idle(p, s, d, start, now, waited, tag, out);
            if (t == 1)
                return 0;
            if (t < 0)
                return t;
            now = alchdb__now_ns();
            continue; /* retired: look again (locked) */
        }
        if ((!p->wait_head || front) && alchdb__pool_can_connect(p, now)) {
            int t = connect_for(p, d, start, waited, tag, out);
            if (t == 1)
                return 0;
            if (t < 0)
                return t;
            front = true; /* connecting failed, others are open: back in line, first */
            now = alchdb__now_ns();
        }
        /* Nothing idle and no connect allowed now: fail fast when the server
         * is down and nothing can come back, else wait in line. */
        if (now < p->backoff_until_ns && p->open == 0 && p->connecting == 0) {
            rc = alchdb__error(ALCHDB_E_CONNECT,
                               "pool %s: server unavailable (retrying in %lld ms): %s",
                               p->qlabel, (long long)((p->backoff_until_ns - now) / 1000000),
                               p->last_connect_error);
            break;
        }
        if (now >= d->at_ns) {
            p->m.timeouts++;
            rc = timeout_error(p, now - start, now, "");
            break;
        }
        if (!waited && p->nwaiters >= p->cfg.v[ALCHDB_POOL_OPT_MAX_WAITERS]) {
            p->m.rejected++;
            rc = alchdb__error(ALCHDB_E_BUSY,
                               "pool %s: %d callers already waiting (max_waiters): %d/%d "
                               "connections in use",
                               p->qlabel, p->nwaiters, p->in_use, p->max_open);
            break;
        }
        if (!waited) {
            waited = true;
            p->m.waited++;
        }
        w->conn = NULL;
        w->err = 0;
        w->retry = false;
        w->tag = tag;
        atomic_store_explicit(&w->woken, 0, memory_order_relaxed);
        waiter_enqueue(p, w, front);
        if (p->hk_wants_waiters)
            pthread_cond_signal(&p->hk_cond);
        pthread_mutex_unlock(&p->mu);
        while (!atomic_load_explicit(&w->woken, memory_order_acquire))
            if (alchdb__futex_wait(&w->woken, 0, d->at_ns) == ETIMEDOUT)
                break;
        if (atomic_load_explicit(&w->woken, memory_order_acquire) && w->conn) {
            /* handed over by a release: ours without taking the lock */
            alchdb__hist_record(&p->wait_hist, alchdb__now_ns() - start);
            *out = w->conn;
            return 0;
        }
        pthread_mutex_lock(&p->mu);
        waiter_remove(p, w); /* timed out: still queued */
        if (w->conn) {       /* handed over between the timeout and the lock */
            pthread_mutex_unlock(&p->mu);
            alchdb__hist_record(&p->wait_hist, alchdb__now_ns() - start);
            *out = w->conn;
            return 0;
        }
        if (w->err) {
            rc = alchdb__error(w->err, "pool %s was closed while waiting", p->qlabel);
            break;
        }
        /* retry (woken to connect), canceled or timeout: the loop decides; a
         * woken connector keeps its place at the head of the line. */
        front = w->retry;
        now = alchdb__now_ns();
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static int acquire_at(alchdb_pool *p, int64_t start, int64_t deadline_ns, alchdb_cancel *cancel, const char *tag,
                      alchdb_conn **out)
{
    alchdb__deadline d = {deadline_ns, cancel};
    alchdb__waiter w;
    w.pool = p;
    w.canceled = false;
    w.queued = false;
    w.conn = NULL;
    atomic_init(&w.woken, 0);
    alchdb__cancel_wake cw = {waiter_cancel_wake, &w, NULL, NULL};
    if (cancel) {
        if (alchdb__cancel_fired(cancel))
            return canceled_error(p, start);
        alchdb__cancel_register(cancel, &cw);
    }
    int rc = acquire_loop(p, &d, start, tag, &w, out);
    if (cancel)
        alchdb__cancel_unregister(cancel, &cw); /* after this no wake-up touches w */
    return rc;
}

int alchdb__pool_acquire_ex(alchdb_pool *p, int64_t now_ns, int64_t call_deadline_ns, alchdb_cancel *cancel,
                            const char *tag, alchdb_conn **out)
{
    if (ALCHDB_UNLIKELY(alchdb__forked_since(p->fork_gen)))
        return alchdb__pool_fork_error(p, "acquire");
    int64_t at = now_ns + p->cfg.v[ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT] * 1000;
    if (call_deadline_ns && call_deadline_ns < at)
        at = call_deadline_ns;
    return acquire_at(p, now_ns, at, cancel, tag, out);
}

int alchdb__pool_acquire(alchdb_pool *p, int64_t timeout_us, const char *tag, alchdb_conn **out)
{
    if (ALCHDB_UNLIKELY(alchdb__forked_since(p->fork_gen)))
        return alchdb__pool_fork_error(p, "alchdb_pool_acquire");
    if (timeout_us < 0)
        timeout_us = p->cfg.v[ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT];
    int64_t now = alchdb__now_ns();
    return acquire_at(p, now, now + timeout_us * 1000, NULL, tag, out);
}

ALCHDB_API int alchdb_pool_acquire(alchdb_pool *pool, int64_t timeout_us, const char *tag,
                                   alchdb_conn **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(pool && pool->magic == POOL_MAGIC, "pool", "must be a live pool");
    ALCHDB_CHECK_ARG(timeout_us >= -1, "timeout_us", "must be -1 (pool default), 0 or positive");
    if (timeout_us > INT64_C(315360000000000))
        timeout_us = INT64_C(315360000000000); /* ten years */
    return alchdb__pool_acquire(pool, timeout_us, tag, out);
}

/* ---- release ----------------------------------------------------------- */

int alchdb__pool_release_ex(alchdb_pool *p, alchdb_conn *lease, int64_t deadline_ns)
{
    alchdb__slot *s = lease->slot;
    uint32_t one = 1;
    if (!atomic_compare_exchange_strong(&lease->held, &one, 0))
        return alchdb__error(ALCHDB_E_STATE,
                             "alchdb_pool_release: connection of pool %s is not acquired "
                             "(released twice?)",
                             p->qlabel);
    PGconn *pg = s->pg;
    bool broken = s->broken || s->fatal_seen || PQstatus(pg) != CONNECTION_OK || alchdb__pool_stale(p, s);
    bool rolled_back = false;
    alchdb__deadline d = {deadline_ns, NULL};
    if (!broken) {
        PGTransactionStatusType ts = PQtransactionStatus(pg);
        if (ts != PQTRANS_IDLE && !d.at_ns)
            d.at_ns = alchdb__now_ns() + p->cfg.v[ALCHDB_POOL_OPT_CONNECT_TIMEOUT] * 1000;
        switch (ts) {
        case PQTRANS_IDLE:
            break;
        case PQTRANS_INTRANS:
        case PQTRANS_INERROR: {
            PGresult *r = NULL;
            int wrc = alchdb__pq_exec(pg, "ROLLBACK", &d, &r);
            broken = wrc != 0 || !r || PQresultStatus(r) != PGRES_COMMAND_OK ||
                     PQtransactionStatus(pg) != PQTRANS_IDLE;
            PQclear(r);
            rolled_back = true;
            break;
        }
        default: /* a query still running (or unknown state): never reused */
            broken = true;
            break;
        }
    }
    bool discard_reset = false;
    if (!broken && p->cfg.v[ALCHDB_POOL_OPT_RESET_POLICY] == ALCHDB_POOL_RESET_DISCARD_ALL) {
        if (!d.at_ns)
            d.at_ns = alchdb__now_ns() + p->cfg.v[ALCHDB_POOL_OPT_CONNECT_TIMEOUT] * 1000;
        PGresult *r = NULL;
        int wrc = alchdb__pq_exec(pg, "DISCARD ALL", &d, &r);
        broken = wrc != 0 || !r || PQresultStatus(r) != PGRES_COMMAND_OK;
        PQclear(r);
        discard_reset = true;
    }
    /* A query left running (the holder's, or a reset cut short) is stopped
     * on the server; the connection is closed below, so a late cancel cannot
     * hit another statement. */
    bool cancel_sent = broken && PQstatus(pg) == CONNECTION_OK && PQtransactionStatus(pg) == PQTRANS_ACTIVE &&
                       alchdb__pq_cancel_async(pg);
    int64_t now = alchdb__now_ns();
    alchdb__dead dead = {0};
    void *stale_ext = NULL;
    void (*stale_free)(void *, PGconn *) = NULL;
    if (discard_reset && s->ext) {
        /* DISCARD ALL dropped the server's prepared statements. */
        stale_ext = s->ext;
        stale_free = s->ext_free;
        s->ext = NULL;
        s->ext_free = NULL;
    }
    pthread_mutex_lock(&p->mu);
    p->in_use--;
    if (rolled_back)
        p->m.rollbacks++;
    if (cancel_sent)
        p->m.cancels++;
    bool close = true;
    alchdb__waiter *handed = NULL;
    if (p->closed) {
        p->m.closed_shutdown++;
    } else if (broken) {
        p->m.closed_broken++;
    } else if (s->expires_ns && now >= s->expires_ns) {
        p->m.closed_lifetime++;
    } else if (alchdb__pool_put_back(p, s, now, &handed)) {
        close = false;
    } else {
        p->m.closed_surplus++;
    }
    if (close) {
        alchdb__pool_slot_retire(p, s, &dead);
        alchdb__pool_wake_connector(p, now);
    }
    if (p->freeing) {
        maybe_destroy_locked_then_unlock(p); /* p may be gone after this */
    } else {
        pthread_mutex_unlock(&p->mu);
    }
    if (handed)
        alchdb__waiter_wake(handed); /* after unlocking: it never waits for our lock */
    if (stale_ext && stale_free)
        stale_free(stale_ext, NULL);
    alchdb__dead_close(&dead);
    return 0;
}

int alchdb__pool_release(alchdb_pool *p, alchdb_conn *lease)
{
    return alchdb__pool_release_ex(p, lease, 0);
}

ALCHDB_API int alchdb_pool_release(alchdb_pool *pool, alchdb_conn *conn)
{
    ALCHDB_CHECK_ARG(pool && pool->magic == POOL_MAGIC, "pool", "must be a live pool");
    ALCHDB_CHECK_ARG(conn, "conn", "must not be NULL");
    ALCHDB_CHECK_ARG(conn->magic == LEASE_MAGIC, "conn", "is not a connection handle");
    if (conn->pool != pool)
        return alchdb__error(ALCHDB_E_INVALID,
                             "alchdb_pool_release: the connection belongs to pool %s, not to "
                             "pool %s",
                             conn->pool->qlabel, pool->qlabel);
    if (ALCHDB_UNLIKELY(alchdb__forked_since(pool->fork_gen)))
        return alchdb__pool_fork_error(pool, __func__);
    return alchdb__pool_release_ex(pool, conn, 0);
}

ALCHDB_API int alchdb_conn_mark_broken(alchdb_conn *conn)
{
    ALCHDB_CHECK_ARG(conn && conn->magic == LEASE_MAGIC, "conn", "is not a connection handle");
    if (!atomic_load(&conn->held))
        return alchdb__error(ALCHDB_E_STATE, "alchdb_conn_mark_broken: connection is not acquired");
    if (ALCHDB_UNLIKELY(alchdb__forked_since(conn->pool->fork_gen)))
        return alchdb__pool_fork_error(conn->pool, __func__);
    conn->slot->broken = true;
    return 0;
}

ALCHDB_API PGconn *alchdb_conn_pgconn(alchdb_conn *conn)
{
    if (!conn || conn->magic != LEASE_MAGIC) {
        alchdb__invalid_arg(__func__, "conn", "is not a connection handle");
        return NULL;
    }
    if (!atomic_load(&conn->held)) {
        alchdb__error(ALCHDB_E_STATE, "alchdb_conn_pgconn: connection is not acquired");
        return NULL;
    }
    if (ALCHDB_UNLIKELY(alchdb__forked_since(conn->pool->fork_gen))) {
        alchdb__pool_fork_error(conn->pool, __func__);
        return NULL;
    }
    PQsetnonblocking(conn->slot->pg, 0); /* the borrower's contract: blocking mode (pq.h) */
    return conn->slot->pg;
}

/* ---- conninfo: parse, display name, masking ------------------------------ */

void alchdb__pool_mask_secret(const alchdb_pool *p, char *msg)
{
    if (!p->password || !p->password[0])
        return;
    size_t pl = strlen(p->password);
    char *hit;
    while ((hit = strstr(msg, p->password)) != NULL) {
        memmove(hit + 3, hit + pl, strlen(hit + pl) + 1);
        memcpy(hit, "***", 3);
    }
}

static void sb_conninfo_value(alchdb__strbuf *sb, const char *v)
{
    bool plain = *v != '\0';
    for (const char *c = v; *c; c++)
        if (*c == ' ' || *c == '\'' || *c == '\\' || *c == '=')
            plain = false;
    if (plain) {
        alchdb__sb_puts(sb, v);
        return;
    }
    alchdb__sb_puts(sb, "'");
    for (const char *c = v; *c; c++) {
        if (*c == '\'' || *c == '\\')
            alchdb__sb_puts(sb, "\\");
        alchdb__sb_append(sb, c, 1);
    }
    alchdb__sb_puts(sb, "'");
}

static int parse_conninfo(alchdb_pool *p, const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        char msg[512];
        alchdb__redact_conninfo_into(msg, sizeof msg, err ? err : "out of memory", conninfo);
        if (err)
            PQfreemem(err);
        strip_nl(msg);
        return alchdb__error(ALCHDB_E_INVALID, "alchdb_pool_new: invalid conninfo: %s", msg);
    }
    const char *host = NULL, *hostaddr = NULL, *port = NULL, *db = NULL, *user = NULL;
    alchdb__strbuf masked;
    alchdb__sb_init(&masked);
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "port") == 0)
            port = o->val;
        else if (strcmp(o->keyword, "dbname") == 0)
            db = o->val;
        else if (strcmp(o->keyword, "user") == 0)
            user = o->val;
        if (masked.len)
            alchdb__sb_puts(&masked, " ");
        alchdb__sb_puts(&masked, o->keyword);
        alchdb__sb_puts(&masked, "=");
        if (strcmp(o->keyword, "password") == 0) {
            alchdb__sb_puts(&masked, "***");
            alchdb__free_wiped(p->password);
            p->password = alchdb__strdup(o->val);
        } else {
            sb_conninfo_value(&masked, o->val);
        }
    }
    char addr[200];
    snprintf(addr, sizeof addr, "%s:%s/%s", host ? host : hostaddr ? hostaddr : "localhost",
             port ? port : "5432", db ? db : user ? user : "postgres");
    alchdb__pq_conninfo_free(opts);
    /* Other values may carry a password too (options='-c password=...', a
     * dbname that is itself a conninfo): the display forms are redacted. */
    char *shown = alchdb__sb_finish(&masked);
    p->masked_conninfo = alchdb__redact_conninfo(shown ? shown : "", conninfo);
    alchdb__free(shown);
    char shown_addr[200];
    alchdb__redact_conninfo_into(shown_addr, sizeof shown_addr, addr, conninfo);
    char label[300], qlabel[310];
    const char *name = alchdb__opts_s(&p->cfg, ALCHDB_POOL_OPT_NAME);
    if (name) {
        snprintf(label, sizeof label, "%s (%s)", name, shown_addr);
        snprintf(qlabel, sizeof qlabel, "'%s' (%s)", name, shown_addr);
    } else {
        snprintf(label, sizeof label, "%s", shown_addr);
        snprintf(qlabel, sizeof qlabel, "'%s'", shown_addr);
    }
    p->label = alchdb__strdup(label);
    p->qlabel = alchdb__strdup(qlabel);
    if (!p->label || !p->qlabel || !p->masked_conninfo)
        return alchdb__nomem("pool name");
    return 0;
}

/* ---- lifecycle --------------------------------------------------------- */

/* The memory of a pool (its connections are closed or dropped by then). */
static void pool_free_memory(alchdb_pool *p)
{
    for (int i = 0; p->slots && i < p->max_open; i++)
        for (int k = 0; k < ALCHDB__POOL_LEASES; k++)
            p->slots[i].leases[k].magic = DEAD_MAGIC;
    alchdb__free(p->slots);
    alchdb__hist_destroy(&p->wait_hist);
    alchdb__free_wiped(p->conninfo); /* may hold a password */
    alchdb__free(p->masked_conninfo);
    alchdb__free_wiped(p->password);
    alchdb__free(p->label);
    alchdb__free(p->qlabel);
    alchdb__opts_free(&p->cfg);
    p->magic = DEAD_MAGIC;
    alchdb__free(p);
}

static void pool_destroy(alchdb_pool *p)
{
    for (int i = 0; p->slots && i < p->max_open; i++) {
        alchdb__slot *s = &p->slots[i];
        alchdb__dead d = {s->pg, s->ext, s->ext_free};
        alchdb__dead_close(&d);
    }
    pthread_cond_destroy(&p->hk_cond);
    pthread_mutex_destroy(&p->mu);
    pool_free_memory(p);
}

static void maybe_destroy_locked_then_unlock(alchdb_pool *p)
{
    bool destroy = p->freeing && p->in_use == 0 && p->connecting == 0;
    pthread_mutex_unlock(&p->mu);
    if (destroy)
        pool_destroy(p);
}

ALCHDB_API int alchdb_pool_new(const char *conninfo, const alchdb_pool_config *cfg,
                               alchdb_pool **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(conninfo, "conninfo", "must not be NULL");
    if (cfg) {
        const int64_t mo = cfg->opts.v[ALCHDB_POOL_OPT_MAX_OPEN], mi = cfg->opts.v[ALCHDB_POOL_OPT_MAX_IDLE],
                      mn = cfg->opts.v[ALCHDB_POOL_OPT_MIN_IDLE];
        if (mi > mo)
            return alchdb__error(ALCHDB_E_INVALID,
                                 "alchdb_pool_new: max_idle_conns (%lld) must not exceed "
                                 "max_open_conns (%lld)",
                                 (long long)mi, (long long)mo);
        if (mn > mi)
            return alchdb__error(ALCHDB_E_INVALID,
                                 "alchdb_pool_new: min_idle_conns (%lld) must not exceed "
                                 "max_idle_conns (%lld)",
                                 (long long)mn, (long long)mi);
    }
    alchdb_pool *p = alchdb__calloc(1, sizeof *p);
    if (!p)
        return alchdb__nomem("pool");
    if ((cfg ? alchdb__opts_copy(&p->cfg, &cfg->opts) : alchdb__opts_init(&p->cfg, &alchdb__pool_optspec)) != 0) {
        alchdb__free(p);
        return ALCHDB_E_NOMEM;
    }
    const alchdb__opts c = p->cfg;
    const int64_t mo = c.v[ALCHDB_POOL_OPT_MAX_OPEN], mi = c.v[ALCHDB_POOL_OPT_MAX_IDLE];
    p->magic = POOL_MAGIC;
    p->fork_gen = alchdb__fork_generation();
    p->pid = (long)getpid();
    p->validate_ns = c.v[ALCHDB_POOL_OPT_VALIDATION_INTERVAL] * 1000;
    p->max_open = (int)mo;
    p->max_idle = (int)mi;
    p->max_connecting = (int)c.v[ALCHDB_POOL_OPT_MAX_CONNECTING];
    p->rng = (uint64_t)alchdb__now_ns() ^ (uint64_t)(uintptr_t)p ^ 0x9e3779b97f4a7c15ull;
    if (!p->rng)
        p->rng = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->hk_cond, &ca);
    pthread_condattr_destroy(&ca);
    int rc = parse_conninfo(p, conninfo);
    if (rc == 0 && !(p->conninfo = alchdb__strdup(conninfo)))
        rc = alchdb__nomem("pool conninfo");
    if (rc == 0)
        rc = alchdb__hist_init(&p->wait_hist, INT64_C(3600000000000)); /* 1 h in ns */
    if (rc == 0 && !(p->slots = alchdb__calloc((size_t)p->max_open, sizeof *p->slots)))
        rc = alchdb__nomem("pool slots");
    if (rc != 0) {
        pool_destroy(p);
        return rc;
    }
    for (int i = p->max_open - 1; i >= 0; i--) {
        alchdb__slot *s = &p->slots[i];
        s->pool = p;
        for (int k = 0; k < ALCHDB__POOL_LEASES; k++) {
            s->leases[k].magic = LEASE_MAGIC;
            atomic_init(&s->leases[k].held, 0);
            s->leases[k].slot = s;
            s->leases[k].pool = p;
        }
        s->next = p->free_head;
        p->free_head = s;
    }
    if (pthread_create(&p->hk, NULL, alchdb__pool_housekeeper, p) != 0) {
        pool_destroy(p);
        return alchdb__error(ALCHDB_E_INTERNAL, "alchdb_pool_new: cannot start the housekeeping thread");
    }
    p->hk_started = true;
    *out = p;
    return 0;
}

ALCHDB_API void alchdb_pool_close(alchdb_pool *p)
{
    if (!p || p->magic != POOL_MAGIC)
        return;
    if (alchdb__forked_since(p->fork_gen))
        return; /* the parent's pool: nothing here may be touched (alchdb_pool_free drops it) */
    pthread_mutex_lock(&p->mu);
    if (p->closed) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->closed = true;
    for (alchdb__waiter *w = p->wait_head; w;) {
        alchdb__waiter *next = w->next;
        waiter_remove(p, w);
        w->err = ALCHDB_E_CLOSED;
        atomic_store_explicit(&w->woken, 1, memory_order_release);
        alchdb__waiter_wake(w);
        w = next;
    }
    pthread_cond_signal(&p->hk_cond);
    bool join = p->hk_started;
    p->hk_started = false;
    pthread_mutex_unlock(&p->mu);
    if (join)
        pthread_join(p->hk, NULL);
    for (;;) {
        alchdb__dead dead;
        pthread_mutex_lock(&p->mu);
        alchdb__slot *s = p->idle_head;
        if (!s) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        alchdb__pool_idle_remove(p, s);
        p->m.closed_shutdown++;
        alchdb__pool_slot_retire(p, s, &dead);
        pthread_mutex_unlock(&p->mu);
        alchdb__dead_close(&dead);
    }
}

/* Free a pool inherited through fork(): its connections are dropped without
 * a Terminate message (the parent's sessions live on), and no lock is taken
 * or destroyed (one may be held by a thread that does not exist here). */
static void pool_free_in_child(alchdb_pool *p)
{
    for (int i = 0; p->slots && i < p->max_open; i++) {
        alchdb__slot *s = &p->slots[i];
        if (s->ext && s->ext_free)
            s->ext_free(s->ext, NULL);
        alchdb__pq_drop_inherited(s->pg);
        s->pg = NULL;
    }
    pool_free_memory(p);
}

ALCHDB_API void alchdb_pool_free(alchdb_pool *p)
{
    if (!p || p->magic != POOL_MAGIC)
        return;
    if (alchdb__forked_since(p->fork_gen)) {
        pool_free_in_child(p);
        return;
    }
    alchdb_pool_close(p);
    pthread_mutex_lock(&p->mu);
    p->freeing = true;
    maybe_destroy_locked_then_unlock(p);
}
