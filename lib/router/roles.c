/* Roles: what each host is (from its probes), which one takes writes, and
 * which standbys may serve reads.
 *
 * The writer is the host that is not in recovery, accepts writes and is on
 * the newest timeline of the cluster (a promoted standby starts a new
 * timeline, so an old primary still accepting writes after a failover loses
 * to it); ties keep the current writer, then prefer the configured primary.
 *
 * A standby serves reads while its data is recent enough. With a primary
 * answering, "recent" is measured against the primary: its positions are
 * sampled at every probe, and a standby that has replayed up to a sample
 * taken at time t has everything the primary had at t (lag in time = now -
 * t; lag in bytes against the newest sample). With no primary answering,
 * there is nothing to compare with, and a standby keeps serving reads up to
 * max_staleness, measured from the last time its data is known to have been
 * current: when it was last seen in step with a primary, while it keeps
 * receiving and replaying WAL (from a primary the router cannot see), or the
 * time of the last transaction it replayed, whichever is newest. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "router/router_internal.h"

const char *alchdb__host_state_name(int state)
{
    static const char *const names[] = {"unknown", "down", "primary", "read_only", "standby", "other_cluster"};
    return state >= 0 && state <= HOST_FOREIGN ? names[state] : "unknown";
}

/* Whether the pool of h, reconnecting, can land on a primary that takes
 * writes, or on a standby, given its target_session_attrs. */
static bool tsa_allows_writes(const router_host *h)
{
    return h->tsa == TSA_ANY || h->tsa == TSA_READ_WRITE || h->tsa == TSA_PRIMARY;
}

static bool tsa_allows_standby(const router_host *h)
{
    return h->tsa != TSA_READ_WRITE && h->tsa != TSA_PRIMARY;
}

bool alchdb__router_on_current_timeline(const alchdb_router *r, const router_host *h)
{
    uint32_t tli = atomic_load(&r->timeline);
    return tli != 0 && atomic_load(&h->timeline) == tli;
}

bool alchdb__router_host_takes_reads(const alchdb_router *r, const router_host *h)
{
    if (!atomic_load(&h->probe_ok))
        return false;
    if (atomic_load(&h->breaker) == BREAKER_OPEN && alchdb__now_ns() < atomic_load(&h->open_until_ns))
        return false;
    switch (atomic_load(&h->state)) {
    case HOST_STANDBY: return atomic_load(&h->readable) != 0;
    case HOST_PRIMARY: return atomic_load(&r->writer) == h->index;
    case HOST_READ_ONLY: return alchdb__router_on_current_timeline(r, h);
    default: return false;
    }
}

/* ---- the writer ------------------------------------------------------------------- */

static void push_sample(alchdb_router *r, int64_t lsn, int64_t now)
{
    if (r->nsamples > 0 && r->samples[r->nsamples - 1].lsn >= lsn) {
        /* an idle primary: the newest sample stands for "now" as well */
        r->samples[r->nsamples - 1].t_ns = now;
        return;
    }
    if (r->nsamples == ROUTER_SAMPLES) {
        /* Thin the older half (every other sample goes), so that the ring
         * spans ever longer periods at a coarser grain whatever the probe
         * interval, while recent samples stay dense. */
        int w = 1;
        for (int i = 1; i < ROUTER_SAMPLES; i++)
            if (i >= ROUTER_SAMPLES / 2 || i % 2 == 0)
                r->samples[w++] = r->samples[i];
        r->nsamples = w;
    }
    r->samples[r->nsamples].lsn = lsn;
    r->samples[r->nsamples].t_ns = now;
    r->nsamples++;
}

/* Choose the writer from the hosts' states. Under state_lock. */
static void choose_writer(alchdb_router *r, int64_t now)
{
    int cur = atomic_load(&r->writer), best = -1;
    uint32_t best_tli = 0, max_tli = atomic_load(&r->timeline);
    for (size_t i = 0; i < r->nhosts; i++) {
        router_host *h = &r->hosts[i];
        int st = atomic_load(&h->state);
        uint32_t tli = atomic_load(&h->timeline);
        bool exact = st == HOST_PRIMARY || st == HOST_READ_ONLY || atomic_load(&h->timeline_exact);
        if (st != HOST_FOREIGN && st != HOST_DOWN && st != HOST_UNKNOWN && exact && tli > max_tli)
            max_tli = tli;
        if (st != HOST_PRIMARY || !tsa_allows_writes(h))
            continue;
        bool better = best < 0 || tli > best_tli ||
                      (tli == best_tli && ((int)i == cur || (best != cur && h->configured_primary)));
        if (better) {
            best = (int)i;
            best_tli = tli;
        }
    }
    if (best >= 0)
        max_tli = best_tli;
    atomic_store(&r->timeline, max_tli);
    if (best == cur)
        return;
    atomic_store(&r->writer, best);
    atomic_fetch_add(&r->writer_changes, 1);
    r->nsamples = 0;
    r->writer_since_ns = now;
    if (best >= 0) {
        atomic_store(&r->last_writer, best);
        alchdb__log(ALCHDB_LOG_WARN, "router", "writes go to %s (timeline %" PRIu32 ")%s%s", r->hosts[best].display,
                    best_tli, cur >= 0 ? ", no longer to " : "", cur >= 0 ? r->hosts[cur].display : "");
    } else {
        alchdb__log(ALCHDB_LOG_ERROR, "router", "no server accepts writes now (last: %s)",
                    cur >= 0 ? r->hosts[cur].display : "none");
    }
}

/* ---- standbys --------------------------------------------------------------------- */

/* Lag (with a primary) or staleness (without) of a standby just probed,
 * and whether it may serve reads. Under state_lock. */
static void judge_standby(alchdb_router *r, router_host *h, const probe_result *pr, int64_t now)
{
    const router_settings *c = &r->cfg;
    int64_t replay = atomic_load(&h->replay_lsn);
    int64_t asof = atomic_load(&h->asof_ns);
    int64_t lag_bytes = 0, lag_us;
    bool with_primary = atomic_load(&r->writer) >= 0 && r->nsamples > 0;
    if (with_primary) {
        int64_t newest = r->samples[r->nsamples - 1].lsn;
        if (replay >= newest) {
            asof = now;
        } else {
            lag_bytes = newest - replay;
            for (int i = r->nsamples - 1; i >= 0; i--)
                if (r->samples[i].lsn <= replay) {
                    if (r->samples[i].t_ns > asof)
                        asof = r->samples[i].t_ns;
                    break;
                }
        }
        /* Not even at the oldest sample: at least that far behind. */
        int64_t floor_t = r->samples[0].t_ns;
        if (replay < r->samples[0].lsn && (asof == 0 || asof > floor_t))
            asof = floor_t;
    } else {
        if (pr->receive_lsn > h->prev_receive_lsn && h->prev_receive_lsn > 0 && pr->replay_lsn >= pr->receive_lsn)
            asof = now; /* receiving from a primary we cannot see, and replaying all of it */
        if (pr->replay_ts_us > 0) {
            int64_t t = now - (alchdb__wall_us() - pr->replay_ts_us) * 1000;
            if (t > asof)
                asof = t < now ? t : now;
        }
    }
    h->prev_receive_lsn = pr->receive_lsn;
    atomic_store(&h->asof_ns, asof);
    lag_us = asof > 0 ? (now - asof) / 1000 : INT64_MAX / 2;
    atomic_store(&h->lag_bytes, lag_bytes);
    atomic_store(&h->lag_us, lag_us);
    bool over, under;
    if (with_primary) {
        over = (c->max_lag_bytes > 0 && lag_bytes > c->max_lag_bytes) || (c->max_lag_us > 0 && lag_us > c->max_lag_us);
        under = (c->max_lag_bytes <= 0 || lag_bytes <= c->max_lag_bytes * c->hysteresis_pct / 100) &&
                (c->max_lag_us <= 0 || lag_us <= c->max_lag_us * c->hysteresis_pct / 100);
    } else {
        over = c->max_staleness_us > 0 && lag_us > c->max_staleness_us;
        under = c->max_staleness_us <= 0 || lag_us <= c->max_staleness_us * c->hysteresis_pct / 100;
    }
    if (!atomic_load(&h->lag_excluded) && over) {
        atomic_store(&h->lag_excluded, 1);
        if (with_primary)
            alchdb__log(ALCHDB_LOG_WARN, "router", "%s: lag %" PRId64 " bytes / %.1f s over the threshold: no reads",
                        h->display, lag_bytes, (double)lag_us / 1e6);
        else
            alchdb__log(ALCHDB_LOG_WARN, "router",
                        "%s: no primary answers and its data may be %.1f s old (max_staleness): no reads",
                        h->display, (double)lag_us / 1e6);
    } else if (atomic_load(&h->lag_excluded) && under) {
        atomic_store(&h->lag_excluded, 0);
        alchdb__log(ALCHDB_LOG_INFO, "router", "%s: %s: reads again", h->display,
                    with_primary ? "lag back under the threshold" : "recent enough");
    }
    atomic_store(&h->readable, !atomic_load(&h->lag_excluded) && tsa_allows_standby(h));
}

/* ---- applying a probe ------------------------------------------------------------- */

static int state_of(const alchdb_router *r, const probe_result *pr)
{
    uint64_t id = atomic_load(&r->sysid);
    if (id != 0 && pr->sysid != id)
        return HOST_FOREIGN;
    if (pr->in_recovery)
        return HOST_STANDBY;
    return pr->read_only ? HOST_READ_ONLY : HOST_PRIMARY;
}

/* Whether a host is what it was configured as; logged and counted on change. */
static bool note_role(alchdb_router *r, router_host *h, int st)
{
    bool wrong = st == HOST_FOREIGN || (h->configured_primary ? st != HOST_PRIMARY : st != HOST_STANDBY);
    if (st == HOST_DOWN || st == HOST_UNKNOWN)
        wrong = atomic_load(&h->wrong_role); /* unknown: no news */
    if (wrong && !atomic_exchange(&h->wrong_role, 1)) {
        atomic_fetch_add(&r->wrong_role_events, 1);
        alchdb__log(ALCHDB_LOG_WARN, "router", "%s (configured as %s) is %s now", h->display,
                    h->configured_primary ? "the primary" : "a replica", alchdb__host_state_name(st));
    } else if (!wrong && atomic_exchange(&h->wrong_role, 0)) {
        alchdb__log(ALCHDB_LOG_INFO, "router", "%s is %s again", h->display, alchdb__host_state_name(st));
    }
    return wrong;
}

void alchdb__router_apply_probe(alchdb_router *r, router_host *h, const probe_result *pr, const char *why)
{
    int64_t now = alchdb__now_ns();
    atomic_fetch_add_explicit(&h->probes, 1, memory_order_relaxed);
    bool wrong = false, reset_backoff = false;
    pthread_mutex_lock(&r->state_lock);
    if (!pr) {
        atomic_fetch_add_explicit(&h->probe_failures, 1, memory_order_relaxed);
        if (atomic_exchange(&h->probe_ok, 0) || atomic_load(&h->state) == HOST_UNKNOWN)
            alchdb__log(ALCHDB_LOG_WARN, "router", "%s: health probe failed: %s", h->display,
                        why && why[0] ? why : "no answer");
        atomic_store(&h->state, HOST_DOWN);
        atomic_store(&h->readable, 0);
        atomic_store(&h->replay_lsn, 0);
        h->prev_receive_lsn = 0;
    } else {
        if (!atomic_exchange(&h->probe_ok, 1) && atomic_load(&h->state) == HOST_DOWN)
            alchdb__log(ALCHDB_LOG_INFO, "router", "%s: health probe answers again", h->display);
        int st = state_of(r, pr);
        if (st != atomic_load(&h->state))
            reset_backoff = true; /* it answers in a new role: connect at once */
        atomic_store(&h->sysid, pr->sysid);
        atomic_store(&h->in_recovery, pr->in_recovery ? 1 : 0);
        atomic_store(&h->read_only, pr->read_only && !pr->in_recovery);
        atomic_store(&h->timeline, pr->timeline);
        atomic_store(&h->timeline_exact, pr->timeline_exact);
        atomic_store(&h->insert_lsn, pr->insert_lsn);
        atomic_store(&h->receive_lsn, pr->receive_lsn);
        if (st == HOST_STANDBY) {
            /* Positions only move forward while the host stays up. */
            int64_t known = atomic_load(&h->replay_lsn);
            while (pr->replay_lsn > known && !atomic_compare_exchange_weak(&h->replay_lsn, &known, pr->replay_lsn))
                ;
        } else {
            atomic_store(&h->replay_lsn, 0);
            atomic_store(&h->readable, 0);
            atomic_store(&h->lag_bytes, 0);
            atomic_store(&h->lag_us, 0);
        }
        atomic_store(&h->state, st);
        wrong = note_role(r, h, st);
    }
    if (pr)
        h->last_probe = *pr;
    choose_writer(r, now);
    if (pr && atomic_load(&r->writer) == h->index && pr->flush_lsn >= 0) {
        bool first = r->nsamples == 0;
        push_sample(r, pr->flush_lsn, now);
        /* A primary to measure against again (at start, or after a
         * failover): the standbys judged without one are judged again now
         * rather than at their next probe. */
        for (size_t i = 0; first && i < r->nhosts; i++)
            if ((int)i != h->index && atomic_load(&r->hosts[i].state) == HOST_STANDBY)
                judge_standby(r, &r->hosts[i], &r->hosts[i].last_probe, now);
    }
    if (pr && atomic_load(&h->state) == HOST_STANDBY)
        judge_standby(r, h, pr, now);
    pthread_mutex_unlock(&r->state_lock);
    alchdb__router_breaker_result(r, h, pr != NULL);
    if (reset_backoff)
        alchdb__pool_reset_backoff(h->pool);
    if (wrong)
        alchdb__router_reresolve(r, h, "it is not the role it was configured for");
}

void alchdb__router_evaluate(alchdb_router *r)
{
    int64_t now = alchdb__now_ns();
    pthread_mutex_lock(&r->state_lock);
    uint64_t id = atomic_load(&r->sysid);
    for (size_t i = 0; i < r->nhosts; i++) {
        router_host *h = &r->hosts[i];
        uint64_t hid = atomic_load(&h->sysid);
        if (id && hid && hid != id && atomic_load(&h->state) != HOST_DOWN) {
            atomic_store(&h->state, HOST_FOREIGN);
            atomic_store(&h->readable, 0);
            note_role(r, h, HOST_FOREIGN);
        }
    }
    choose_writer(r, now);
    pthread_mutex_unlock(&r->state_lock);
}

void alchdb__router_saw_read_only(alchdb_router *r, router_host *h)
{
    pthread_mutex_lock(&r->state_lock);
    bool changed = atomic_load(&h->state) == HOST_PRIMARY;
    if (changed) {
        atomic_store(&h->state, HOST_READ_ONLY);
        atomic_store(&h->read_only, 1);
        note_role(r, h, HOST_READ_ONLY);
        choose_writer(r, alchdb__now_ns());
    }
    pthread_mutex_unlock(&r->state_lock);
    if (changed)
        alchdb__log(ALCHDB_LOG_WARN, "router", "%s refused a write (25006: read-only): no more writes there until "
                    "a probe finds it writable", h->display);
    alchdb__router_request_probe(r, h);
    alchdb__router_reresolve(r, h, "it refused a write");
}
