/* Client internals and the seams where the router, the cache and the monitor
 * plug in (issues 4, 5, 6). Never exported.
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
    unsigned flags;          /* ALCHDB_EXEC_* */
    alchdb_txn *txn;         /* NULL outside a transaction */
    alchdb_pool *pool;       /* the pool used (the router may choose another) */
    int64_t start_ns, end_ns;
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
} alchdb__route_hooks;

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

typedef struct alchdb__observe_hooks {
    /* Every statement, after it finished (also errors and cache hits). */
    void (*observe)(void *ud, const alchdb__exec_ctx *ctx);
} alchdb__observe_hooks;

struct alchdb_client {
    alchdb_pool *pool;
    bool owns_pool;
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
};

/* The one execution path of alchdb_client_exec*() (client.c); cq carries
 * per-statement cache options (alchdb_client_exec_cached) or NULL. */
int alchdb__client_exec(const char *func, alchdb_client *c, const char *sql, int nparams,
                        const char *const *params, unsigned flags, const char *token,
                        const struct alchdb_cache_query *cq, alchdb_result **out);

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
/* DEALLOCATE the deferred names when the connection is outside a transaction. */
void alchdb__stmt_cache_flush_deferred(alchdb__stmt_cache *c, PGconn *pg);

#endif /* ALCHDB_CLIENT_INTERNAL_H */
