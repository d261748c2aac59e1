/* Internal state of the router (lib/router), shared by its files and by the
 * routed client (lib/router/client_route.c). Never exported.
 *
 * The files: router.c (hosts, lifecycle, tokens, introspection), config.c
 * (options), routing.c (routing decisions, breakers, release), probe.c (the per-host
 * prober threads and what a probe learns), roles.c (who is the primary, who
 * may serve reads, lag and staleness), timeline.c (the cluster's timeline
 * history and checking tokens against it), token.c (the token itself). */
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
#include "router/token.h"

#define ROUTER_MAX_REASON 16
#define ROUTER_MAX_HOSTS 64
#define ROUTER_SAMPLES 32     /* primary positions kept to measure replica lag in time */
#define ROUTER_MAX_HISTORY 64 /* ancestor timelines kept */

enum { BREAKER_CLOSED = 0, BREAKER_OPEN = 1, BREAKER_HALF_OPEN = 2 };

/* What a host is, as its last probe found it. */
enum {
    HOST_UNKNOWN = 0,  /* not probed yet */
    HOST_DOWN = 1,     /* the probe failed (connect, query or deadline) */
    HOST_PRIMARY = 2,  /* not in recovery and accepts writes */
    HOST_READ_ONLY = 3,/* not in recovery, but transaction_read_only is on */
    HOST_STANDBY = 4,  /* in recovery */
    HOST_FOREIGN = 5   /* answers with another system identifier */
};

/* What libpq insists on when it connects (target_session_attrs): a pool
 * that reconnects lands only on a server of that kind, so a host entry can
 * only serve in the roles its attribute allows. */
enum { TSA_ANY = 0, TSA_READ_WRITE, TSA_READ_ONLY, TSA_PRIMARY, TSA_STANDBY, TSA_PREFER_STANDBY };

/* One probe's answer (probe.c → roles.c). */
typedef struct probe_result {
    bool in_recovery, read_only;
    uint64_t sysid;
    uint32_t timeline;  /* primary: exact; standby: see timeline_exact */
    bool timeline_exact;
    int64_t insert_lsn;  /* primary / read-only: WAL insert position; -1 otherwise */
    /* primary / read-only: WAL flushed, all a standby can ever have; -1
     * otherwise. Lag is measured against this, not the insert position:
     * after a segment switch on an idle primary the insert position sits
     * past the new segment's header, where no standby's replay ever gets
     * until the next record. */
    int64_t flush_lsn;
    int64_t replay_lsn, receive_lsn; /* standby; -1 unknown */
    int64_t replay_ts_us; /* wall clock of the last replayed commit; 0 unknown */
} probe_result;

typedef struct router_host {
    /* Configuration: fixed once the router starts. */
    char *conninfo;
    char *display; /* "host:port/db", several hosts comma-separated, target_session_attrs appended; no password */
    alchdb_pool *pool;
    int64_t weight;
    int index;
    bool configured_primary;
    bool multi_host; /* libpq picks one of several hosts at each connect */
    int tsa;         /* TSA_*: its target_session_attrs */
    struct alchdb_router *router;

    /* What the probes found. Written by this host's prober (and by failures
     * seen on requests); read without locks on the hot path. */
    _Atomic int state;          /* HOST_* */
    _Atomic int probe_ok;       /* the last probe answered */
    _Atomic int in_recovery;    /* -1 unknown, 0 no, 1 yes */
    _Atomic int read_only;      /* transaction_read_only while not in recovery */
    _Atomic uint64_t sysid;     /* as last answered (0 unknown) */
    _Atomic uint32_t timeline;  /* 0 unknown */
    _Atomic int timeline_exact; /* standbys: from pg_stat_wal_receiver (else a lower bound from pg_control) */
    _Atomic int64_t insert_lsn;
    _Atomic int64_t replay_lsn; /* highest replayed position known while the host stays up, 0 = unknown */
    _Atomic int64_t receive_lsn;
    _Atomic int64_t asof_ns;    /* standbys: newest monotonic time its data is known to have been current */
    _Atomic int64_t lag_bytes;
    _Atomic int64_t lag_us;     /* behind the primary in time; while no primary answers, the staleness */
    _Atomic int lag_excluded;   /* over a lag or staleness threshold (hysteresis state) */
    _Atomic int readable;       /* a standby that may serve reads */
    _Atomic int wrong_role;     /* the configured role is not what it is */
    _Atomic int64_t outstanding;

    /* Circuit breaker: state read without the lock on the hot path, changed
     * under the router lock. */
    _Atomic int breaker;
    _Atomic int failures;
    _Atomic int64_t open_until_ns;
    int64_t open_period_ns;
    bool trial_in_flight;

    /* Counters. */
    _Atomic int64_t reads, writes, errors, connect_failures, breaker_opens, probes, probe_failures, reresolves,
        read_only_answers;

    /* The prober of this host. */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t probe_lock; /* probe_conn; one probe of this host at a time */
    PGconn *probe_conn;
    bool first_probe_done;      /* under r->lock */
    int64_t next_probe_ns;      /* under r->lock */
    _Atomic int64_t last_early_ns;     /* rate limit of early probes */
    _Atomic int64_t last_reresolve_ns; /* rate limit of re-resolving */
    _Atomic int reresolve_pending;     /* the prober reconnects at its next probe */
    int64_t prev_receive_lsn;          /* under r->state_lock: receipt progress between probes */
    probe_result last_probe;           /* under r->state_lock: the last answer (standbys are judged again
                                          against a new primary's first sample) */
} router_host;

struct alchdb_router_config {
    alchdb__opts opts;
};

/* The options as plain fields, copied when a router is made (config.c). */
typedef struct router_settings {
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
    int64_t max_staleness_us;
    int64_t probe_timeout_us;
} router_settings;

extern const alchdb__optspec alchdb__router_optspec;
/* o's values into s; o NULL: the defaults. */
void alchdb__router_settings_load(router_settings *s, const alchdb__opts *o);

typedef struct router_switch {
    uint32_t timeline; /* an ancestor timeline */
    int64_t end;       /* where it ended: the position its child timeline starts at */
} router_switch;

struct alchdb_router {
    router_settings cfg;
    alchdb_pool_config *pool_cfg;
    router_host *hosts; /* [0] is the configured primary */
    size_t nhosts, caphosts;

    pthread_mutex_t lock; /* breakers, token, lifecycle, prober schedule */
    pthread_cond_t wake;  /* probers sleep here (CLOCK_MONOTONIC) */
    pthread_cond_t first_round; /* alchdb_router_start waits for every host's first probe */
    bool started, stopping;

    _Atomic uint64_t sysid;     /* the cluster's system identifier (0 unknown) */
    _Atomic int writer;         /* host index writes go to, -1 none */
    _Atomic int last_writer;    /* the previous writer (configured primary at first) */
    _Atomic uint32_t timeline;  /* the writer's timeline, or the newest seen while there is none */
    _Atomic uint64_t rr;

    /* Roles, lag samples and the timeline history (roles.c, timeline.c). */
    pthread_mutex_t state_lock;
    struct {
        int64_t lsn, t_ns;
    } samples[ROUTER_SAMPLES]; /* the writer's positions over time, oldest first */
    int nsamples;
    int64_t writer_since_ns;
    router_switch history[ROUTER_MAX_HISTORY];
    int nhistory;
    uint32_t history_of;     /* the timeline history[] leads to (0: none loaded) */
    uint32_t history_denied; /* the timeline whose history file the role may not read */

    char last_token[ALCHDB__TOKEN_CAP]; /* under lock */

    _Atomic int64_t reasons[ROUTER_MAX_REASON];
    _Atomic int64_t fallbacks, retries, fallback_rejected, causal_checks, causal_waits, wrong_role_events,
        writer_changes, writes_refused, reads_refused, tokens_lost, tokens_unverifiable;
    _Atomic int64_t fb_second, fb_count;
    _Atomic int64_t last_fallback_log_ns, last_token_log_ns;
};

/* ---- routing.c ---- */
/* The client's entry point: like alchdb_router_acquire, but may exclude a host
 * (the one a read just failed on) and reports the host index. */
int alchdb__router_acquire_ex(alchdb_router *r, int intent, const char *sql, size_t sql_len, const char *token,
                              int64_t timeout_us, const char *tag, int exclude_host, alchdb_conn **conn_out,
                              int *reason_out, int *host_out);
/* The host a connection came from, or -1. */
int alchdb__router_conn_host(const alchdb_router *r, const alchdb_conn *conn);
/* Acquire a connection where writes go now (no routing decision counted). */
int alchdb__router_acquire_writer(alchdb_router *r, int64_t timeout_us, const char *tag, alchdb_conn **conn_out,
                                  int *host_out);
/* Whether a route reason sent a read that any server with the data may serve
 * (so a failed attempt may run once more elsewhere). */
bool alchdb__route_is_read(int reason);
/* Whether a route reason sent a write (or a statement that may write). */
bool alchdb__route_is_write(int reason);
void alchdb__router_breaker_result(alchdb_router *r, router_host *h, bool ok);
bool alchdb__router_breaker_allows(alchdb_router *r, router_host *h);

/* ---- router.c ---- */
/* Remember t (the cluster's system identifier is filled in) as the router's
 * latest token when it is newer than the one it has. */
void alchdb__router_note(alchdb_router *r, const alchdb__token *t);

/* ---- probe.c ---- */
int alchdb__router_probe_all(alchdb_router *r);
int alchdb__router_start_probers(alchdb_router *r);
void alchdb__router_stop_probers(alchdb_router *r);
void alchdb__router_probe_close(router_host *h);
/* Probe h soon (rate-limited): a request saw a sign that its role changed. */
void alchdb__router_request_probe(alchdb_router *r, router_host *h);
/* Close the probe connection and drain the pool of a multi-host entry so
 * that libpq picks a host again (rate-limited). */
void alchdb__router_reresolve(alchdb_router *r, router_host *h, const char *why);

/* ---- roles.c ---- */
/* Record a probe's answer (pr NULL: the probe failed, why says how) and
 * re-derive the host's role, the writer and, for a standby, its lag. */
void alchdb__router_apply_probe(alchdb_router *r, router_host *h, const probe_result *pr, const char *why);
/* Re-derive the hosts' states that depend on the cluster's identity, and the writer. */
void alchdb__router_evaluate(alchdb_router *r);
/* A request learnt that h refuses writes (SQLSTATE 25006). */
void alchdb__router_saw_read_only(alchdb_router *r, router_host *h);
/* Whether a standby's timeline is the cluster's current one (tokens need it). */
bool alchdb__router_on_current_timeline(const alchdb_router *r, const router_host *h);
/* Whether host i takes reads now (the public alchdb_router_host_healthy). */
bool alchdb__router_host_takes_reads(const alchdb_router *r, const router_host *h);
const char *alchdb__host_state_name(int state);

/* ---- timeline.c ---- */
/* How a token relates to the cluster's current history: ALCHDB__TOKEN_OK with *need
 * the position a server on the current timeline must have replayed. */
int alchdb__router_token_check(alchdb_router *r, const alchdb__token *t, int64_t *need);
/* Parse a timeline history file (pg_wal/<TLI>.history): one line per
 * ancestor, "<timeline> <switch position> <reason>". Pure. Returns how many
 * entries were written (the newest cap ones), or -1 when malformed. */
int alchdb__timeline_history_parse(const char *text, size_t len, router_switch *out, int cap);
/* Whether the history of timeline tli is wanted: the newest timeline seen,
 * not loaded yet, not refused. */
bool alchdb__router_history_wanted(alchdb_router *r, uint32_t tli);
/* Store the history file text of timeline tli (text NULL: the server refused
 * to show it, do not ask again for this timeline). */
void alchdb__router_set_history(alchdb_router *r, uint32_t tli, const char *text, size_t len);

#endif
