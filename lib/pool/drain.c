/* Draining a pool: forget every connection made so far, so that the next
 * acquire connects anew; and forgetting its connect back-off when its
 * server is known to answer again. Connections carry the pool's generation from when
 * they were made; a drain starts a new generation and closes the idle ones at
 * once, and the others are closed instead of being reused when they come
 * back (release, or a refill that finishes after the drain). */
#include "pool/pool_priv.h"

bool alchdb__pool_stale(const alchdb_pool *p, const alchdb__slot *s)
{
    return s->generation != atomic_load_explicit(&p->generation, memory_order_acquire);
}

void alchdb__pool_drain(alchdb_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    for (;;) {
        alchdb__slot *s = p->idle_head;
        if (!s || p->closed)
            break;
        alchdb__dead dead;
        alchdb__pool_idle_remove(p, s);
        p->m.closed_broken++;
        alchdb__pool_slot_retire(p, s, &dead);
        /* Capacity freed: a waiter may connect (to whatever libpq picks now). */
        alchdb__pool_wake_connector(p, alchdb__now_ns());
        pthread_mutex_unlock(&p->mu);
        alchdb__dead_close(&dead);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
}

void alchdb__pool_reset_backoff(alchdb_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    if (p->backoff_until_ns) {
        p->backoff_ns = 0;
        p->backoff_until_ns = 0;
        alchdb__pool_wake_connector(p, alchdb__now_ns());
    }
    pthread_mutex_unlock(&p->mu);
}
