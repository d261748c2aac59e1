/* Pool internals shared by lib/pool and lib/client. Never exported. */
#ifndef ALCHDB_POOL_INTERNAL_H
#define ALCHDB_POOL_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "alchdb/pool.h"
#include "internal.h"
#include "opt.h"
#include "core/hist.h"
#include "pool/pqwait.h"

#define ALCHDB__POOL_LEASES 4 /* handles per slot: stale releases are caught for 4 reuses */
#define ALCHDB__POOL_TAG_MAX 48

struct alchdb_pool_config {
    alchdb__opts opts;
};

/* The pool's option table (config.c). */
extern const alchdb__optspec alchdb__pool_optspec;

typedef struct alchdb__slot alchdb__slot;

/* The handle callers hold. Each slot owns a small ring of them and hands out
 * the next one on every acquire, so a stale handle (already released) is a
 * different object from the live one and a second release is recognised. */
struct alchdb_conn {
    uint32_t magic;
    _Atomic uint32_t held;
    alchdb__slot *slot;
    alchdb_pool *pool;
};

enum { ALCHDB__SLOT_FREE = 0, ALCHDB__SLOT_CONNECTING, ALCHDB__SLOT_IDLE, ALCHDB__SLOT_INUSE };

/* One physical connection place. Slots live as long as the pool (max_open of
 * them, allocated up front), so handles never dangle while the pool lives. */
struct alchdb__slot {
    PGconn *pg;
    alchdb_pool *pool;
    int state;
    alchdb__slot *next, *prev; /* idle list (doubly linked) or free list */
    struct alchdb_conn leases[ALCHDB__POOL_LEASES];
    unsigned lease_ix;
    int64_t created_ns, expires_ns, last_used_ns, acquired_ns;
    bool broken;        /* set by the holder: close on release */
    bool fatal_seen;    /* a FATAL notice arrived (backend terminating) */
    bool no_txn_warning; /* a WARNING 25P01 arrived: COMMIT/ROLLBACK outside a transaction
                            (the client clears it before each statement) */
    bool leak_reported;
    uint64_t generation; /* the pool's generation when this connection was made */
    char tag[ALCHDB__POOL_TAG_MAX];
    /* Per-physical-connection extension: the client's prepared-statement
     * cache. Freed (ext_free) whenever the server session ends or is reset. */
    void *ext;
    void (*ext_free)(void *ext, PGconn *pg);
};

/* Internal fast paths used by the client, the router and the cache (no handle
 * re-validation beyond the public function's). timeout_us -1 = the pool's
 * acquire_timeout. */
int alchdb__pool_acquire(alchdb_pool *pool, int64_t timeout_us, const char *tag,
                         alchdb_conn **out);
/* Acquire for a call: waits up to the pool's acquire_timeout from now_ns (a
 * recent alchdb__now_ns() reading of the caller: it saves a clock read),
 * capped by the call's absolute deadline call_deadline_ns (0 = none); every
 * wait inside honours that bound (the queue, connecting, validating). cancel
 * (may be NULL) wakes it: ALCHDB_E_CANCELED. ALCHDB_E_STATE after fork(). */
int alchdb__pool_acquire_ex(alchdb_pool *pool, int64_t now_ns, int64_t call_deadline_ns,
                            alchdb_cancel *cancel, const char *tag, alchdb_conn **out);
int alchdb__pool_release(alchdb_pool *pool, alchdb_conn *conn);
/* Release; the reset round trips (ROLLBACK, DISCARD ALL) are bounded by
 * deadline_ns, or by connect_timeout when it is 0 (or already passed). */
int alchdb__pool_release_ex(alchdb_pool *pool, alchdb_conn *conn, int64_t deadline_ns);
/* ALCHDB_E_STATE (message set) when the pool was made before a fork() of this
 * process; func names the caller. */
int alchdb__pool_fork_error(const alchdb_pool *pool, const char *func);
/* Options the client reads (microseconds / counts). */
int64_t alchdb__pool_opt(const alchdb_pool *pool, int opt);
/* True when the SQLSTATE means the session is gone (class 08, 57P01..03). */
bool alchdb__sqlstate_is_fatal(const char *sqlstate);
/* Copy msg into dst, replacing the conninfo's password (if any) by ***. */
void alchdb__pool_mask_secret(const alchdb_pool *pool, char *msg);
/* Forget every connection made so far (drain.c): idle ones are closed now,
 * those in use when they are released, those being made when they are done;
 * the next acquire connects anew. For a conninfo naming several hosts this
 * makes libpq choose again (the router, when a host's role changed). */
void alchdb__pool_drain(alchdb_pool *pool);
/* Forget the connect back-off (drain.c): the server answers again (the
 * router's probe says so), so the next acquire connects at once instead of
 * failing fast until the back-off ends. */
void alchdb__pool_reset_backoff(alchdb_pool *pool);

#endif /* ALCHDB_POOL_INTERNAL_H */
