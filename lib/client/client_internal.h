/* Client internals: the client, transactions, streams, the statement
 * cache and one statement on one connection. The seams other modules plug
 * into are in client/seams.h. Never exported. */
#ifndef ALCHDB_CLIENT_INTERNAL_H
#define ALCHDB_CLIENT_INTERNAL_H

#include "alchdb/client.h"
#include "client/seams.h"
#include "pool/pool_internal.h"


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
