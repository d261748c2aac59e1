/* Private to lib/pool: the pool object and helpers shared by pool.c,
 * housekeeper.c and metrics.c. */
#ifndef ALCHDB_POOL_PRIV_H
#define ALCHDB_POOL_PRIV_H

#include "pool/pool_internal.h"

/* A caller waiting for a connection. Lives on the waiter's stack. Whoever
 * serves it (a release handing over a connection, close, a wake to connect,
 * its cancel handle) fills the fields below and then sets `woken` to 1 under
 * the pool lock, and wakes it with a futex: a release does that after
 * unlocking, so the woken thread never blocks on the pool lock, and the waiter
 * takes a handed-over connection without touching the lock at all. Each
 * waiter sleeps on its own word: a release wakes exactly the one it serves. */
typedef struct alchdb__waiter {
    _Atomic uint32_t woken;
    struct alchdb__waiter *next, *prev;
    alchdb_pool *pool;
    alchdb_conn *conn; /* handed over by a releaser */
    const char *tag;   /* the waiter's tag (valid while it waits) */
    int err;           /* ALCHDB_E_CLOSED when the pool closed */
    bool retry;        /* woken to make a connection itself (or to fail fast) */
    bool queued;
    bool canceled;     /* its cancel handle fired */
} alchdb__waiter;

/* A physical connection detached from its slot, to be closed without the lock. */
typedef struct alchdb__dead {
    PGconn *pg;
    void *ext;
    void (*ext_free)(void *ext, PGconn *pg);
} alchdb__dead;

typedef struct alchdb__pool_counters {
    int64_t acquisitions, waited, timeouts, rejected, connects, connect_errors;
    int64_t closed_idle, closed_lifetime, closed_broken, closed_surplus, closed_shutdown;
    int64_t rollbacks, validations, leaks, cancels, connect_requeued;
} alchdb__pool_counters;

struct alchdb_pool {
    uint32_t magic;
    uint32_t fork_gen; /* alchdb__fork_generation() when made: a child of fork() sees a newer one */
    long pid;          /* the creating process, for the fork error */
    pthread_mutex_t mu;
    alchdb__opts cfg; /* a copy of the caller's config: read as cfg.v[ALCHDB_POOL_OPT_*] */
    int max_open, max_idle, max_connecting;
    int64_t validate_ns; /* validation_interval in ns: reuse after this long idle gets a round trip */
    char *conninfo;        /* as given (may hold a password: never shown) */
    char *masked_conninfo; /* password replaced by *** */
    char *password;        /* to mask it out of libpq messages */
    char *label;           /* "name (host:port/db)" or "host:port/db" */
    char *qlabel;          /* "'name' (host:port/db)" or "'host:port/db'" */

    alchdb__slot *slots; /* max_open of them */
    alchdb__slot *idle_head, *idle_tail; /* head = most recently used */
    alchdb__slot *free_head;
    int nidle, open, in_use, connecting;
    alchdb__waiter *wait_head, *wait_tail;
    int nwaiters;
    bool closed, freeing;

    int64_t backoff_ns, backoff_until_ns;
    char last_connect_error[512];

    pthread_t hk;
    bool hk_started;
    bool hk_wants_waiters; /* the housekeeper sleeps until back-off ends */
    pthread_cond_t hk_cond;

    uint64_t rng;
    _Atomic uint64_t generation; /* drain.c: connections of an older one are not reused */
    alchdb__pool_counters m;
    alchdb__hist wait_hist; /* acquire wait in ns */
};

void *alchdb__pool_housekeeper(void *arg);
void alchdb__pool_idle_remove(alchdb_pool *p, alchdb__slot *s);
void alchdb__pool_slot_retire(alchdb_pool *p, alchdb__slot *s, alchdb__dead *dead);
void alchdb__dead_close(alchdb__dead *d);
bool alchdb__pool_can_connect(const alchdb_pool *p, int64_t now);
void alchdb__pool_wake_connector(alchdb_pool *p, int64_t now);
/* *wake: a waiter that was handed the connection, to wake with
 * alchdb__waiter_wake() after unlocking (NULL otherwise). */
bool alchdb__pool_put_back(alchdb_pool *p, alchdb__slot *s, int64_t now, alchdb__waiter **wake);
/* Wake a waiter whose `woken` was set under the lock (either side of the unlock). */
void alchdb__waiter_wake(alchdb__waiter *w);
void alchdb__pool_set_connect_error(alchdb_pool *p, const char *msg, int64_t now);
/* Connect slot s, bounded by connect_timeout and by deadline_ns (0 = none).
 * ALCHDB_E_TIMEOUT only when deadline_ns ended the attempt first. */
int alchdb__pool_connect(alchdb_pool *p, alchdb__slot *s, int64_t deadline_ns, char *err, size_t errlen);
/* Close a retired connection outside the lock; a query still running on it
 * gets a cancel request first. */
void alchdb__pool_discard(alchdb_pool *p, alchdb__dead *d);
/* Whether a slot's connection predates the last drain. */
bool alchdb__pool_stale(const alchdb_pool *p, const alchdb__slot *s);

#endif /* ALCHDB_POOL_PRIV_H */
