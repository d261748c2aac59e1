/* The housekeeping thread: idle/lifetime expiry, min-idle refill with
 * back-off, waking a waiter to connect when back-off ends, leak reports. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "pool/pool_priv.h"

enum { BATCH = 32 };

static void report_leaks(alchdb_pool *p, int64_t now)
{
    int64_t thr = p->cfg.v[ALCHDB_POOL_OPT_LEAK_THRESHOLD] * 1000;
    if (thr <= 0)
        return;
    for (int i = 0; i < p->max_open; i++) {
        alchdb__slot *s = &p->slots[i];
        if (s->state != ALCHDB__SLOT_INUSE || s->leak_reported || now - s->acquired_ns < thr)
            continue;
        s->leak_reported = true;
        p->m.leaks++;
        alchdb__log(ALCHDB_LOG_WARN, "pool",
                    "pool %s: possible connection leak: held for %lld ms by '%s' "
                    "(leak_threshold %lld ms)",
                    p->qlabel, (long long)((now - s->acquired_ns) / 1000000),
                    s->tag[0] ? s->tag : "(untagged)", (long long)(thr / 1000000));
    }
}

/* Collect idle connections that expired; returns how many were put in dead. */
static int collect_expired(alchdb_pool *p, int64_t now, alchdb__dead *dead)
{
    int n = 0;
    int64_t max_idle_ns = p->cfg.v[ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME] * 1000;
    int min_idle = (int)p->cfg.v[ALCHDB_POOL_OPT_MIN_IDLE];
    alchdb__slot *s = p->idle_tail; /* oldest first */
    while (s && n < BATCH) {
        alchdb__slot *prev = s->prev;
        bool lifetime = s->expires_ns && now >= s->expires_ns;
        bool idle = max_idle_ns > 0 && now - s->last_used_ns >= max_idle_ns && p->nidle > min_idle;
        if (lifetime || idle) {
            alchdb__pool_idle_remove(p, s);
            if (lifetime)
                p->m.closed_lifetime++;
            else
                p->m.closed_idle++;
            alchdb__pool_slot_retire(p, s, &dead[n++]);
        }
        s = prev;
    }
    return n;
}

void *alchdb__pool_housekeeper(void *arg)
{
    alchdb_pool *p = arg;
    int64_t interval = p->cfg.v[ALCHDB_POOL_OPT_HOUSEKEEPING_INTERVAL] * 1000;
    int min_idle = (int)p->cfg.v[ALCHDB_POOL_OPT_MIN_IDLE];
    alchdb__dead dead[BATCH];
    pthread_mutex_lock(&p->mu);
    while (!p->closed) {
        int64_t now = alchdb__now_ns();
        report_leaks(p, now);
        int ndead = collect_expired(p, now, dead);
        if (ndead)
            alchdb__pool_wake_connector(p, now);
        else if (p->wait_head && now >= p->backoff_until_ns)
            alchdb__pool_wake_connector(p, now);
        bool refill = !p->wait_head && p->nidle + p->connecting < min_idle &&
                      alchdb__pool_can_connect(p, now);
        alchdb__slot *ns = NULL;
        if (refill && (ns = p->free_head) != NULL) {
            p->free_head = ns->next;
            ns->next = NULL;
            ns->state = ALCHDB__SLOT_CONNECTING;
            p->connecting++;
        }
        pthread_mutex_unlock(&p->mu);
        for (int i = 0; i < ndead; i++)
            alchdb__dead_close(&dead[i]);
        if (ns) {
            char err[512];
            int rc = alchdb__pool_connect(p, ns, 0, err, sizeof err);
            pthread_mutex_lock(&p->mu);
            p->connecting--;
            now = alchdb__now_ns();
            if (rc != 0) {
                ns->state = ALCHDB__SLOT_FREE;
                ns->next = p->free_head;
                p->free_head = ns;
                alchdb__pool_set_connect_error(p, err, now);
                alchdb__log(ALCHDB_LOG_WARN, "pool", "pool %s: refill failed (retry in %lld ms): %s",
                            p->qlabel, (long long)(p->backoff_ns / 1000000), err);
            } else {
                p->open++;
                p->m.connects++;
                p->backoff_ns = 0;
                p->backoff_until_ns = 0;
                p->last_connect_error[0] = '\0';
                alchdb__waiter *handed = NULL;
                if (p->closed || !alchdb__pool_put_back(p, ns, now, &handed)) {
                    alchdb__dead d;
                    if (p->closed)
                        p->m.closed_shutdown++;
                    else
                        p->m.closed_surplus++;
                    alchdb__pool_slot_retire(p, ns, &d);
                    pthread_mutex_unlock(&p->mu);
                    alchdb__dead_close(&d);
                    pthread_mutex_lock(&p->mu);
                }
                if (handed)
                    alchdb__waiter_wake(handed); /* under the lock here: fine, rare */
            }
            continue; /* re-evaluate at once: more may be needed */
        }
        if (ndead) {
            pthread_mutex_lock(&p->mu);
            continue;
        }
        pthread_mutex_lock(&p->mu);
        if (p->closed)
            break;
        /* Sleep a tick, or only until back-off ends when someone waits for a
         * connection or min_idle is short. */
        int64_t wake = now + interval;
        bool need = p->wait_head || p->nidle + p->connecting < min_idle;
        p->hk_wants_waiters = !need;
        if (need && p->backoff_until_ns > now && p->backoff_until_ns < wake)
            wake = p->backoff_until_ns;
        struct timespec ts = {.tv_sec = (time_t)(wake / 1000000000),
                              .tv_nsec = (long)(wake % 1000000000)};
        pthread_cond_timedwait(&p->hk_cond, &p->mu, &ts);
        p->hk_wants_waiters = false;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
