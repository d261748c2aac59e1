/* The client's seams: what the modules that plug into the client (the
 * router through the route hooks, the cache through the cache hooks, the
 * monitor through the observe hooks) see of it. Each table has one owner:
 * the client calls the hooks, the plugged-in module implements them; a
 * module that plugs in includes this header, never client_internal.h.
 * Never exported.
 *
 * The client's execution path is:
 *   route (pick the pool) -> cache lookup -> acquire -> prepare/execute
 *   -> wrap result -> cache before_release -> release -> observe (monitor)
 *   -> cache done (fill a miss, invalidate after a write)
 * Every hook table is NULL until its module is attached, and each hook in a
 * table may be NULL. Hooks run on the calling thread, must be thread-safe, and
 * must not call back into the client. */
#ifndef ALCHDB_CLIENT_SEAMS_H
#define ALCHDB_CLIENT_SEAMS_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alchdb/client.h"
#include "alchdb/pool.h"

struct alchdb_cache_query;

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

/* What a module plugged into a client may ask of and do to it (client.c,
 * txn.c): the client and its transactions stay the client's structs. */
/* The client's route (hooks NULL when it is not routed). */
alchdb__route_ref alchdb__client_route(const alchdb_client *c);
/* Route the client's statements through hooks/ud (set once, at creation). */
void alchdb__client_set_route(alchdb_client *c, const alchdb__route_hooks *hooks, void *ud);
/* Report the client's statements to hooks/ud (hooks NULL: to nobody). */
void alchdb__client_set_observer(alchdb_client *c, const alchdb__observe_hooks *hooks, void *ud);
/* Install hooks/ud as the client's cache binding (hooks NULL: none), after
 * the previous binding's destroy hook ran. */
void alchdb__client_attach_cache(alchdb_client *c, const alchdb__cache_hooks *hooks, void *ud);
/* The cache binding's ud when the client's cache hooks are hooks, else NULL. */
void *alchdb__client_cache_ud(const alchdb_client *c, const alchdb__cache_hooks *hooks);
/* The transaction's slot for the cache hooks' state (owned by them until
 * txn_end). */
void **alchdb__txn_cache_state(alchdb_txn *t);
/* Whether a statement other than SELECT ran in the transaction. */
bool alchdb__txn_wrote(const alchdb_txn *t);
/* The WAL position the transaction's writes reached (for its COMMIT's token). */
void alchdb__txn_set_write_pos(alchdb_txn *t, int64_t lsn, uint32_t tli);
/* Run a statement as alchdb_client_exec() does (func names the public
 * caller); cq carries per-statement cache options (alchdb_client_exec_cached)
 * or NULL. */
int alchdb__client_exec(const char *func, alchdb_client *c, const char *sql, int nparams,
                        const char *const *params, uint32_t flags, const char *token,
                        const struct alchdb_cache_query *cq, alchdb_result **out);

#endif /* ALCHDB_CLIENT_SEAMS_H */
