/* Client internals and the seams where the router, the cache and the monitor
 * plug in. Never exported.
 *
 * The client's execution path is:
 *   route (pick the pool) -> cache lookup -> acquire -> prepare/execute
 *   -> wrap result -> cache before_release -> release -> observe (monitor)
 *   -> cache done (fill a miss, invalidate after a write)
 * Every hook table is NULL until its module is attached, and each hook in a
 * table may be NULL. Hooks run on the calling thread, must be thread-safe, and
 * must not call back into the client. */
#ifndef ALCHDB_CLIENT_INTERNAL_H
#define ALCHDB_CLIENT_INTERNAL_H

#include "alchdb/client.h"
#include "pool/pool_internal.h"

/* A result is a thin wrapper: the PGresult is kept as libpq returned it (no
 * copy of values). Modules that build results themselves (the cache serving a
 * hit) construct a PGresult with PQmakeEmptyPGresult/PQsetResultAttrs/
 * PQsetvalue and wrap it with alchdb__result_wrap(). */
struct alchdb_result {
    PGresult *res;   /* owned; NULL only when libpq gave none */
    int status;      /* 0 or ALCHDB_E_QUERY */
    char sqlstate[6];
    char *message;   /* owned copy of the primary error message, NULL on success */
    char cmd_tag[32]; /* set for results built without a server (cache hits), else "" */
};

/* Wrap (and take ownership of) res. pg (may be NULL) tells a lost connection
 * apart. Returns NULL only when out of memory (res is then cleared). */
alchdb_result *alchdb__result_wrap(PGresult *res, PGconn *pg);
/* A result for an error detected without a PGresult. */
alchdb_result *alchdb__result_error(const char *sqlstate, const char *message);

/* What one statement execution looks like to the hooks. */
typedef struct alchdb__exec_ctx {
    const char *sql;
    size_t sql_len;
    uint64_t sql_hash;       /* alchdb__hash64(sql, sql_len, 0) */
    int nparams;
    const char *const *params;
    const int *param_formats; /* NULL: every parameter is text (NUL-terminated) */
    const int *param_lengths; /* byte lengths of the binary ones (param_formats[i] == 1) */
    uint32_t flags;          /* ALCHDB_EXEC_* */
    alchdb_txn *txn;         /* NULL outside a transaction */
    alchdb_pool *pool;       /* the pool used (the router may choose another) */
    int64_t start_ns, end_ns;
    int64_t deadline_ns;     /* the call's deadline (0 = none): acquire + every round trip */
    alchdb_cancel *cancel;   /* the call's cancel handle, or NULL */
    bool streaming;          /* rows are handed out one at a time (never cached) */
    int64_t rows;            /* rows of a stream, for observers (-1: read them from result) */
    int rc;                  /* outcome */
    const alchdb_result *result;
    const char *token;       /* read-your-writes token for this statement, or NULL */
    int route_reason;        /* alchdb_route_reason when routed (0 otherwise) */
    int route_host;          /* host index when routed (-1 otherwise) */
    const struct alchdb_cache_query *cache_query; /* per-statement cache options, or NULL */
    void *cache_state;       /* owned by the cache hooks between lookup and done */
    bool cache_hit;          /* the result came from the cache (no database call) */
    int64_t write_lsn;       /* WAL position read on the connection after a write (0 = not read):
                                whoever needs it first reads it, the others reuse it */
    uint32_t write_tli;      /* the timeline of write_lsn */
} alchdb__exec_ctx;

typedef struct alchdb__route_hooks {
    /* Choose where ctx runs (a statement outside a transaction, or the BEGIN
     * of one: ctx->txn set) and acquire a connection there; set ctx->pool to
     * its pool. failed: the connection-pool a read just failed on with a
     * connection-class error (retry elsewhere), NULL otherwise. */
    int (*acquire)(void *ud, alchdb__exec_ctx *ctx, alchdb_pool *failed, alchdb_conn **out);
    /* Give the connection back with the SQLSTATE its statement failed with
     * (NULL on success); feeds health and role detection. */
    void (*release)(void *ud, alchdb__exec_ctx *ctx, alchdb_conn *conn, const char *sqlstate);
    /* Whether a statement that failed with a connection-class error may run
     * once more elsewhere (a read that ran on a replica). */
    bool (*may_retry)(void *ud, const alchdb__exec_ctx *ctx);
    /* What the cache asks of a route so that a read runs where the writes
     * it depends on are visible (lib/cache/route.c). Read-your-writes tokens
     * are encoded and parsed only by router/token.h. */
    /* Whether a read may go anywhere but the primary at all. */
    bool (*has_replicas)(void *ud);
    /* The cluster's system identifier and current timeline; ALCHDB_E_STATE
     * until they are known. */
    int (*cluster)(void *ud, uint64_t *sysid, uint32_t *timeline);
    /* A token for the primary's current write position (one round trip). */
    int (*primary_token)(void *ud, char *buf, size_t cap);
    /* The route's verdict on a caller's token (ALCHDB__TOKEN_*) and the
     * position it needs. */
    int (*token_verdict)(void *ud, const char *token, int64_t *need);
} alchdb__route_hooks;

/* A client's route as another module holds it: the hooks (NULL: the client
 * is not routed) and their user data. */
typedef struct alchdb__route_ref {
    const alchdb__route_hooks *hooks;
    void *ud;
} alchdb__route_ref;

typedef struct alchdb__cache_hooks {
    /* A statement outside a transaction is about to run. Return 1 and set
     * *out on a hit (no database call; done is not called). Return 0 to run
     * it; the hook may keep per-statement state in ctx->cache_state and may
     * steer routing (ctx->token, ALCHDB_EXEC_PRIMARY in ctx->flags) so that a
     * result it will store comes from a server that is fresh enough. */
    int (*lookup)(void *ud, alchdb__exec_ctx *ctx, alchdb_result **out);
    /* On the connection that ran a statement with ctx->cache_state set, or a
     * transaction's COMMIT (ctx->txn set), before it goes back to the pool:
     * the hook may read the write position there. */
    void (*before_release)(void *ud, alchdb__exec_ctx *ctx, PGconn *pg);
    /* After a statement for which lookup returned 0, whatever its outcome
     * (res may be an error result or NULL): store a miss, invalidate after a
     * write, free ctx->cache_state. */
    void (*done)(void *ud, alchdb__exec_ctx *ctx, const alchdb_result *res);
    /* A statement is about to run inside a transaction (not cached; what it
     * writes is remembered in txn->cache_state). */
    void (*txn_stmt)(void *ud, alchdb__exec_ctx *ctx);
    /* The transaction ended. committed: COMMIT was sent and did not fail with
     * a server error (also when its outcome is unknown: invalidate). */
    void (*txn_end)(void *ud, alchdb_txn *txn, bool committed);
    /* The client is being freed. */
    void (*destroy)(void *ud);
    /* A transaction is about to begin (ctx->sql is its BEGIN, ctx->txn set),
     * before the router chooses its connection: the hook may steer it
     * (ctx->token) so that its reads are fresh enough. */
    void (*txn_begin)(void *ud, alchdb__exec_ctx *ctx);
    /* COMMIT is about to be sent (the hook may mark what the transaction
     * wrote before it can become visible). */
    void (*txn_commit)(void *ud, alchdb_txn *txn);
} alchdb__cache_hooks;

/* The checks of per-statement cache options (lib/cache/hooks.c): 0 or
 * ALCHDB_E_INVALID naming func and 'q'. */
int alchdb__cache_query_check(const alchdb_client *client, const struct alchdb_cache_query *q,
                              const char *func);

typedef struct alchdb__observe_hooks {
    /* Every statement, after it finished (also errors and cache hits). */
    void (*observe)(void *ud, const alchdb__exec_ctx *ctx);
} alchdb__observe_hooks;

struct alchdb_client {
    alchdb_pool *pool;
    bool owns_pool;
    uint32_t fork_gen; /* alchdb__fork_generation() when made */
    int64_t slow_ns; /* slow_query_threshold of the pool, ns (0 = off) */
    const alchdb__route_hooks *route;
    void *route_ud;
    const alchdb__cache_hooks *cache;
    void *cache_ud;
    const alchdb__observe_hooks *observe;
    void *observe_ud;
};

struct alchdb_txn {
    alchdb_client *client;
    alchdb_pool *pool;
    alchdb_conn *conn;
    bool open;
    bool wrote; /* a statement other than SELECT ran (for after_commit) */
    void *cache_state; /* owned by the cache hooks until txn_end */
    int64_t write_lsn; /* as alchdb__exec_ctx.write_lsn, for the COMMIT */
    uint32_t write_tli;
    alchdb_stream *stream; /* a stream holds the connection (txn_stream) */
    char first_error[6];   /* SQLSTATE of the error that aborted the transaction */
    char ended_by[96];     /* why the handle ended, for ALCHDB_E_STATE messages */
};

/* The one execution path of every alchdb_client_exec*() (client.c); opts is
 * complete (checked, defaults applied). */
int alchdb__client_exec_opts(const char *func, alchdb_client *c, const char *sql, int nparams,
                             const char *const *params, const alchdb_exec_opts *opts,
                             alchdb_result **out);
/* The same with the older arguments; cq carries per-statement cache options
 * (alchdb_client_exec_cached) or NULL. */
int alchdb__client_exec(const char *func, alchdb_client *c, const char *sql, int nparams,
                        const char *const *params, uint32_t flags, const char *token,
                        const struct alchdb_cache_query *cq, alchdb_result **out);
/* Check a caller's options and copy them into *full (defaults for NULL or a
 * shorter struct). statement: flags/token/params/cache allowed. */
int alchdb__exec_opts_load(const char *func, const alchdb_exec_opts *opts, bool statement,
                           alchdb_exec_opts *full);
/* Check sql/nparams/params/flags and the parameter formats. */
int alchdb__check_exec_args(const char *func, const char *sql, int nparams, const char *const *params,
                            const alchdb_exec_opts *o);
/* Fill the fields of ctx common to every statement. */
void alchdb__exec_ctx_init(alchdb__exec_ctx *ctx, const char *sql, int nparams, const char *const *params,
                           const alchdb_exec_opts *o, int64_t start_ns);
/* ALCHDB_E_STATE when the client was made before a fork() of this process. */
int alchdb__client_fork_check(const alchdb_client *c, const char *func);
/* Report a finished statement: slow log, observer. */
void alchdb__client_finish(alchdb_client *c, alchdb__exec_ctx *ctx, int rc, alchdb_result *r);
/* The thread's error kept across the hooks that run after a failure
 * (release, observer, cache), whatever they do with the thread's error. */
typedef struct alchdb__saved_error {
    int code;
    char sqlstate[6];
    char msg[1024];
} alchdb__saved_error;
void alchdb__err_save(alchdb__saved_error *e);
int alchdb__err_restore(const alchdb__saved_error *e);
/* Record a failed statement as the thread's error (with its SQLSTATE). */
int alchdb__client_query_error(const char *func, const alchdb_result *r);

/* ---- one statement on one connection (exec.c) ---------------------------------- */

/* Run ctx on the connection of slot s. Returns 0 or ALCHDB_E_QUERY with *res
 * set; ALCHDB_E_TIMEOUT, ALCHDB_E_CANCELED (the statement may still run: the
 * release that follows cancels it and closes the connection) or
 * ALCHDB_E_NOMEM without a result (error set). Marks the slot broken when the
 * session is gone. Retries once, outside transactions, a statement the
 * server's plan cache refused before running it. */
int alchdb__exec_on_conn(alchdb_pool *pool, alchdb__slot *s, const alchdb__exec_ctx *ctx, bool in_txn,
                         alchdb_result **res);
/* Start ctx on slot s in single-row mode and wait for its first result
 * (*first: a row, the final result, or an error result). Same codes and
 * retry rule as alchdb__exec_on_conn. */
int alchdb__stream_start_on_conn(alchdb_pool *pool, alchdb__slot *s, const alchdb__exec_ctx *ctx,
                                 bool in_txn, PGresult **first);
/* Check why a call ended on a connection that was left in a transaction or
 * that answered a transaction-control statement outside one: returns
 * ALCHDB_E_STATE (message set, pointing to the txn API) or 0. */
int alchdb__client_txn_misuse(const char *func, alchdb__slot *s, const alchdb_result *r);
/* The deadline error of an interrupted statement, naming func. */
int alchdb__exec_interrupted(const char *func, int code, const alchdb__exec_ctx *ctx);

/* ---- transactions and streams (txn.c, stream.c) ------------------------------- */

/* The transaction's connection ended under a statement or a stream: give it
 * back (the pool cancels and closes it when a query is left running) and end
 * the handle. committed: see the txn_end cache hook. */
void alchdb__txn_finish(alchdb_txn *t, bool committed, int64_t deadline_ns, const char *why);
/* After a transaction's statement: end the handle when the server's
 * transaction status says the transaction is over. */
void alchdb__txn_after_stmt(alchdb_txn *t, const alchdb__exec_ctx *ctx, int rc, const alchdb_result *r);
/* The transaction of a stream is being freed: end the stream (its statement
 * is canceled, the transaction ends) and detach it. */
void alchdb__stream_abandon(alchdb_stream *st);

/* Per-connection prepared-statement cache (stmtcache.c). */
typedef struct alchdb__stmt alchdb__stmt;
typedef struct alchdb__stmt_cache alchdb__stmt_cache;
struct alchdb__stmt {
    uint64_t hash;
    char *sql;
    size_t len;
    char name[24]; /* "alchdb_s<N>" */
    alchdb__stmt *chain;
    alchdb__stmt *lru_prev, *lru_next;
};
alchdb__stmt_cache *alchdb__stmt_cache_new(size_t capacity);
void alchdb__stmt_cache_free(void *cache, PGconn *pg); /* matches slot ext_free */
alchdb__stmt *alchdb__stmt_cache_get(alchdb__stmt_cache *c, const char *sql, size_t len,
                                     uint64_t hash);
/* Insert; when full, the least recently used entry is evicted first and its
 * name written to evicted (empty otherwise) for the caller to DEALLOCATE. */
alchdb__stmt *alchdb__stmt_cache_put(alchdb__stmt_cache *c, const char *sql, size_t len,
                                     uint64_t hash, char evicted[24]);
void alchdb__stmt_cache_remove(alchdb__stmt_cache *c, alchdb__stmt *s);
size_t alchdb__stmt_cache_count(const alchdb__stmt_cache *c);
/* Names whose server-side statement must still be deallocated. */
void alchdb__stmt_cache_defer(alchdb__stmt_cache *c, const char *name);
/* DEALLOCATE the deferred names when the connection is not in a failed
 * transaction, bounded by d: 0 or the deadline's code. */
int alchdb__stmt_cache_flush_deferred(alchdb__stmt_cache *c, PGconn *pg, const alchdb__deadline *d);

#endif /* ALCHDB_CLIENT_INTERNAL_H */
