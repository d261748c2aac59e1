/* Internal state of the router (lib/router), shared by its files and the client. */
#ifndef ALCHDB_ROUTER_INTERNAL_H
#define ALCHDB_ROUTER_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "alchdb/pool.h"
#include "alchdb/router.h"
#include "internal.h"
#include "pool/pool_internal.h"

#define ROUTER_MAX_REASON 16

enum { BREAKER_CLOSED = 0, BREAKER_OPEN = 1, BREAKER_HALF_OPEN = 2 };

typedef struct router_host {
    char *conninfo;
    char *display; /* host:port/db, no password */
    alchdb_pool *pool;
    int64_t weight;
    bool primary;

    /* Health, written by the prober (and by failures seen on requests). */
    _Atomic int healthy;       /* takes reads */
    _Atomic int in_recovery;   /* -1 unknown, 0 no, 1 yes */
    _Atomic int lag_excluded;  /* over the lag threshold (hysteresis state) */
    _Atomic int wrong_role;    /* primary in recovery / replica promoted / other cluster */
    _Atomic int probe_ok;      /* last probe answered */
    _Atomic int64_t replay_lsn; /* highest replayed position known, 0 = unknown */
    _Atomic int64_t lag_bytes;
    _Atomic int64_t lag_us;
    _Atomic int64_t outstanding;

    /* Circuit breaker: state read without the lock on the hot path,
     * changed under the router lock. */
    _Atomic int breaker;
    _Atomic int failures; /* read without the lock on the fast path */
    _Atomic int64_t open_until_ns; /* read without the lock by replica_candidate() */
    int64_t open_period_ns;
    bool trial_in_flight;

    /* Counters. */
    _Atomic int64_t reads, writes, errors, breaker_opens;

    PGconn *probe_conn;    /* under probe_lock */
    int64_t lag_since_ns;  /* when the replica last caught up (prober) */
} router_host;

struct alchdb_router_config {
    int64_t policy;
    int64_t probe_interval_us;
    int64_t max_lag_bytes;
    int64_t max_lag_us;
    int64_t hysteresis_pct;
    int64_t causal_wait_us;
    int64_t breaker_failures;
    int64_t breaker_open_us;
    int64_t breaker_max_open_us;
    int64_t fallback_max_per_sec;
    int64_t causal_default;
    int64_t acquire_timeout_us;
};

struct alchdb_router {
    alchdb_router_config cfg;
    alchdb_pool_config *pool_cfg;
    router_host *hosts; /* [0] is the primary */
    size_t nhosts, caphosts;

    pthread_mutex_t lock;       /* breakers, token, lifecycle */
    pthread_mutex_t probe_lock; /* one probe round at a time (prober thread or probe_now) */
    int64_t prev_primary_lsn;   /* primary position at the previous round (under probe_lock) */
    pthread_cond_t wake;
    pthread_t prober;
    bool started, stopping, prober_running;

    _Atomic uint64_t sysid; /* the primary's system identifier (0 unknown) */
    _Atomic int64_t primary_lsn;
    _Atomic uint64_t rr;

    char last_token[64];

    _Atomic int64_t reasons[ROUTER_MAX_REASON];
    _Atomic int64_t fallbacks, retries, fallback_rejected, causal_checks, causal_waits, wrong_role_events;
    _Atomic int64_t fb_second, fb_count;
    _Atomic int64_t last_fallback_log_ns;
};

/* The client's entry point: like alchdb_router_acquire, but may exclude a host
 * (the one a read just failed on) and reports the host index. */
int alchdb__router_acquire_ex(alchdb_router *r, int intent, const char *sql, size_t sql_len, const char *token,
                              int64_t timeout_us, const char *tag, int exclude_host, alchdb_conn **conn_out,
                              int *reason_out, int *host_out);
/* The host a connection came from, or -1. */
int alchdb__router_conn_host(alchdb_router *r, const alchdb_conn *conn);

/* probe.c */
int alchdb__router_probe_all(alchdb_router *r);
void *alchdb__router_prober_main(void *arg);
void alchdb__router_probe_close(router_host *h);
int64_t alchdb__lsn_parse(const char *text); /* "16/B374D848" → bytes; -1 malformed */
void alchdb__router_breaker_result(alchdb_router *r, router_host *h, bool ok);
bool alchdb__router_breaker_allows(alchdb_router *r, router_host *h);

#endif
