/* The client facade: exec with cached prepared statements, transactions. */
#include <stdio.h>
#include <string.h>

#include "client/client_internal.h"
#include "pqconn.h"

#define TAG_EXEC "client"
#define TAG_TXN "client:txn"

ALCHDB_API int alchdb_client_new(alchdb_pool *pool, alchdb_client **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(pool, "pool", "must not be NULL");
    alchdb_client *c = alchdb__calloc(1, sizeof *c);
    if (!c)
        return alchdb__nomem("client");
    c->pool = pool;
    c->slow_ns = alchdb__pool_opt(pool, ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD) * 1000;
    *out = c;
    return 0;
}

ALCHDB_API int alchdb_client_open(const char *conninfo, const alchdb_pool_config *cfg,
                                  alchdb_client **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_pool *pool;
    int rc = alchdb_pool_new(conninfo, cfg, &pool);
    if (rc)
        return rc;
    rc = alchdb_client_new(pool, out);
    if (rc) {
        alchdb_pool_free(pool);
        return rc;
    }
    (*out)->owns_pool = true;
    return 0;
}

ALCHDB_API void alchdb_client_free(alchdb_client *c)
{
    if (!c)
        return;
    if (c->cache && c->cache->destroy)
        c->cache->destroy(c->cache_ud);
    if (c->owns_pool)
        alchdb_pool_free(c->pool);
    alchdb__free(c);
}

ALCHDB_API alchdb_pool *alchdb_client_pool(alchdb_client *c)
{
    if (!c) {
        alchdb__invalid_arg(__func__, "client", "must not be NULL");
        return NULL;
    }
    return c->pool;
}

/* ---- one statement on one connection ------------------------------------- */

static bool retry_state(const char *st)
{
    /* 26000: the prepared statement is gone (DISCARD ALL/DEALLOCATE by the
     * host); 0A000: "cached plan must not change result type" after DDL. */
    return strcmp(st, "26000") == 0 || strcmp(st, "0A000") == 0;
}

/* Run ctx on the connection of slot s. Returns 0 or ALCHDB_E_QUERY with *res
 * set, or ALCHDB_E_NOMEM without a result. Marks the slot broken when the
 * session is gone. */
static int run_on_conn(alchdb_pool *pool, alchdb__slot *s, const alchdb__exec_ctx *ctx,
                       bool in_txn, alchdb_result **res)
{
    PGconn *pg = s->pg;
    int fmt = (ctx->flags & ALCHDB_EXEC_BINARY_RESULT) ? 1 : 0;
    PGresult *pr = NULL;
    alchdb_result *r = NULL;

    if (ctx->flags & ALCHDB_EXEC_SIMPLE) {
        pr = PQexec(pg, ctx->sql);
        /* PQexec keeps only the last result of a multi-statement string. */
    } else if ((ctx->flags & ALCHDB_EXEC_UNPREPARED) ||
               alchdb__pool_opt(pool, ALCHDB_POOL_OPT_STMT_CACHE_SIZE) == 0) {
        pr = PQexecParams(pg, ctx->sql, ctx->nparams, NULL, ctx->params, NULL, NULL, fmt);
    } else {
        alchdb__stmt_cache *cache = s->ext;
        if (!cache) {
            cache = alchdb__stmt_cache_new(
                (size_t)alchdb__pool_opt(pool, ALCHDB_POOL_OPT_STMT_CACHE_SIZE));
            if (!cache)
                return alchdb__nomem("statement cache");
            s->ext = cache;
            s->ext_free = alchdb__stmt_cache_free;
        }
        for (int attempt = 0;; attempt++) {
            alchdb__stmt *st = alchdb__stmt_cache_get(cache, ctx->sql, ctx->sql_len, ctx->sql_hash);
            if (!st) {
                char evicted[24];
                st = alchdb__stmt_cache_put(cache, ctx->sql, ctx->sql_len, ctx->sql_hash, evicted);
                if (evicted[0])
                    alchdb__stmt_cache_defer(cache, evicted);
                alchdb__stmt_cache_flush_deferred(cache, pg);
                if (!st)
                    return alchdb__nomem("prepared statement");
                PGresult *pp = PQprepare(pg, st->name, ctx->sql, ctx->nparams, NULL);
                if (!pp || PQresultStatus(pp) != PGRES_COMMAND_OK) {
                    alchdb__stmt_cache_remove(cache, st);
                    pr = pp;
                    break;
                }
                PQclear(pp);
            }
            pr = PQexecPrepared(pg, st->name, ctx->nparams, ctx->params, NULL, NULL, fmt);
            ExecStatusType es = pr ? PQresultStatus(pr) : PGRES_FATAL_ERROR;
            if (es == PGRES_COMMAND_OK || es == PGRES_TUPLES_OK || es == PGRES_EMPTY_QUERY)
                break;
            const char *code = pr ? PQresultErrorField(pr, PG_DIAG_SQLSTATE) : NULL;
            if (!code || !retry_state(code))
                break;
            /* The server's statement is stale: forget it, and retry once when
             * no transaction was aborted by the failure. */
            if (strcmp(code, "0A000") == 0)
                alchdb__stmt_cache_defer(cache, st->name);
            alchdb__stmt_cache_remove(cache, st);
            if (attempt > 0 || in_txn || PQtransactionStatus(pg) != PQTRANS_IDLE)
                break;
            PQclear(pr);
            pr = NULL;
        }
    }
    r = alchdb__result_wrap(pr, pg);
    if (!r) {
        if (PQstatus(pg) != CONNECTION_OK)
            s->broken = true;
        return ALCHDB_E_NOMEM;
    }
    if (r->status != 0 && (alchdb__sqlstate_is_fatal(r->sqlstate) || PQstatus(pg) != CONNECTION_OK))
        s->broken = true;
    *res = r;
    return r->status;
}

static int check_exec_args(const char *func, const char *sql, int nparams,
                           const char *const *params, unsigned flags)
{
    if (!sql)
        return alchdb__invalid_arg(func, "sql", "must not be NULL");
    if (!*sql)
        return alchdb__invalid_arg(func, "sql", "must not be empty");
    if (nparams < 0 || nparams > 65535)
        return alchdb__invalid_arg(func, "nparams", "must be 0..65535");
    if (nparams > 0 && !params)
        return alchdb__invalid_arg(func, "params", "must not be NULL when nparams > 0");
    if (flags & ~(unsigned)(ALCHDB_EXEC_UNPREPARED | ALCHDB_EXEC_SIMPLE | ALCHDB_EXEC_BINARY_RESULT |
                            ALCHDB_EXEC_READ | ALCHDB_EXEC_PRIMARY))
        return alchdb__invalid_arg(func, "flags", "unknown ALCHDB_EXEC_* flag");
    if ((flags & ALCHDB_EXEC_READ) && (flags & ALCHDB_EXEC_PRIMARY))
        return alchdb__invalid_arg(func, "flags", "ALCHDB_EXEC_READ and ALCHDB_EXEC_PRIMARY exclude each other");
    if ((flags & ALCHDB_EXEC_SIMPLE) && nparams)
        return alchdb__invalid_arg(func, "nparams", "must be 0 with ALCHDB_EXEC_SIMPLE");
    if ((flags & ALCHDB_EXEC_SIMPLE) && (flags & ALCHDB_EXEC_BINARY_RESULT))
        return alchdb__invalid_arg(func, "flags", "ALCHDB_EXEC_SIMPLE returns text only");
    return 0;
}

static void finish(alchdb_client *c, alchdb__exec_ctx *ctx, int rc, alchdb_result *r)
{
    ctx->end_ns = alchdb__now_ns();
    ctx->rc = rc;
    ctx->result = r;
    if (c->slow_ns > 0 && ctx->end_ns - ctx->start_ns >= c->slow_ns)
        alchdb__log(ALCHDB_LOG_INFO, "client", "slow statement (%.1f ms) on pool %s: %.200s",
                    (double)(ctx->end_ns - ctx->start_ns) / 1e6, alchdb_pool_name(ctx->pool),
                    ctx->sql);
    if (c->observe && c->observe->observe)
        c->observe->observe(c->observe_ud, ctx);
}

static void hand_out(alchdb_result *r, alchdb_result **out)
{
    if (out)
        *out = r;
    else
        alchdb_result_free(r);
}

int alchdb__client_exec(const char *func, alchdb_client *c, const char *sql, int nparams,
                        const char *const *params, unsigned flags, const char *token,
                        const struct alchdb_cache_query *cq, alchdb_result **out)
{
    if (out)
        *out = NULL;
    if (!c)
        return alchdb__invalid_arg(func, "client", "must not be NULL");
    int rc = check_exec_args(func, sql, nparams, params, flags);
    if (rc)
        return rc;
    alchdb__exec_ctx ctx = {0};
    ctx.token = token;
    ctx.sql = sql;
    ctx.sql_len = strlen(sql);
    ctx.sql_hash = alchdb__hash64(sql, ctx.sql_len, 0);
    ctx.nparams = nparams;
    ctx.params = params;
    ctx.flags = flags;
    ctx.pool = c->pool;
    ctx.start_ns = alchdb__now_ns();

    ctx.route_host = -1;
    ctx.cache_query = cq;
    alchdb_result *r = NULL;
    if (c->cache && c->cache->lookup(c->cache_ud, &ctx, &r) == 1 && r) {
        ctx.cache_hit = true;
        finish(c, &ctx, r->status, r);
        hand_out(r, out);
        return ctx.rc;
    }
    alchdb_pool *failed = NULL;
    for (int attempt = 0;; attempt++) {
        alchdb_conn *conn;
        if (c->route)
            rc = c->route->acquire(c->route_ud, &ctx, failed, &conn);
        else
            rc = alchdb__pool_acquire(ctx.pool, -1, TAG_EXEC, &conn);
        if (rc) {
            finish(c, &ctx, rc, NULL);
            if (c->cache)
                c->cache->done(c->cache_ud, &ctx, NULL);
            return rc;
        }
        rc = run_on_conn(ctx.pool, conn->slot, &ctx, false, &r);
        if (ctx.cache_state)
            c->cache->before_release(c->cache_ud, &ctx, conn->slot->pg);
        if (c->route)
            c->route->release(c->route_ud, &ctx, conn, rc == ALCHDB_E_QUERY ? r->sqlstate : NULL);
        else
            alchdb__pool_release(ctx.pool, conn);
        /* A read that lost its replica (gone, shutting down) runs once more
         * elsewhere, so the caller sees no error. Writes are never retried. */
        if (rc == ALCHDB_E_QUERY && attempt == 0 && c->route && alchdb__sqlstate_is_fatal(r->sqlstate) &&
            c->route->may_retry(c->route_ud, &ctx)) {
            alchdb_result_free(r);
            r = NULL;
            failed = ctx.pool;
            continue;
        }
        break;
    }
    if (rc == ALCHDB_E_QUERY)
        alchdb__error(rc, "%s: %s", r->sqlstate, r->message);
    finish(c, &ctx, rc, r);
    if (c->cache)
        c->cache->done(c->cache_ud, &ctx, r);
    hand_out(r, out);
    return rc;
}

ALCHDB_API int alchdb_client_exec_flags(alchdb_client *c, const char *sql, int nparams,
                                        const char *const *params, unsigned flags,
                                        alchdb_result **out)
{
    return alchdb__client_exec(__func__, c, sql, nparams, params, flags, NULL, NULL, out);
}

ALCHDB_API int alchdb_client_exec(alchdb_client *c, const char *sql, int nparams,
                                  const char *const *params, alchdb_result **out)
{
    return alchdb__client_exec(__func__, c, sql, nparams, params, 0, NULL, NULL, out);
}

ALCHDB_API int alchdb_client_exec_token(alchdb_client *c, const char *sql, int nparams,
                                        const char *const *params, unsigned flags,
                                        const char *token, alchdb_result **out)
{
    if (out)
        *out = NULL;
    ALCHDB_CHECK_ARG(token, "token", "must not be NULL (use alchdb_client_exec_flags without one)");
    if (c && !c->route)
        return alchdb__error(ALCHDB_E_STATE, "%s: the client has no router (alchdb_client_new_routed)",
                             __func__);
    return alchdb__client_exec(__func__, c, sql, nparams, params, flags, token, NULL, out);
}

/* ---- transactions -------------------------------------------------------- */

static int simple(alchdb__slot *s, const char *sql, PGresult **keep)
{
    PGresult *r = PQexec(s->pg, sql);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK) {
        const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        if (PQstatus(s->pg) != CONNECTION_OK || alchdb__sqlstate_is_fatal(code))
            s->broken = true;
        char m[600];
        alchdb__pq_result_message(m, sizeof m, s->pg, r, true);
        alchdb__error(ALCHDB_E_QUERY, "%s failed: %s%s%s", sql, code ? code : "", code ? ": " : "", m);
        PQclear(r);
        return ALCHDB_E_QUERY;
    }
    if (keep)
        *keep = r;
    else
        PQclear(r);
    return 0;
}

/* Give a transaction's connection back (through the router when routed). */
static void txn_release(alchdb_txn *t, const char *sqlstate)
{
    alchdb_client *c = t->client;
    if (c->route) {
        alchdb__exec_ctx ctx = {0};
        ctx.sql = "COMMIT";
        ctx.sql_len = 6;
        ctx.pool = t->pool;
        ctx.txn = t;
        ctx.route_host = -1;
        ctx.write_lsn = t->write_lsn;
        c->route->release(c->route_ud, &ctx, t->conn, sqlstate);
    } else {
        alchdb__pool_release(t->pool, t->conn);
    }
}

ALCHDB_API int alchdb_client_begin(alchdb_client *c, unsigned flags, alchdb_txn **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(c, "client", "must not be NULL");
    ALCHDB_CHECK_ARG(!(flags & ~(unsigned)(ALCHDB_TXN_READ_ONLY | ALCHDB_TXN_REPEATABLE_READ |
                                           ALCHDB_TXN_SERIALIZABLE)),
                     "flags", "unknown ALCHDB_TXN_* flag");
    char begin[96] = "BEGIN";
    if (flags & ALCHDB_TXN_SERIALIZABLE)
        strcat(begin, " ISOLATION LEVEL SERIALIZABLE");
    else if (flags & ALCHDB_TXN_REPEATABLE_READ)
        strcat(begin, " ISOLATION LEVEL REPEATABLE READ");
    if (flags & ALCHDB_TXN_READ_ONLY)
        strcat(begin, " READ ONLY");
    alchdb_txn *t = alchdb__calloc(1, sizeof *t);
    if (!t)
        return alchdb__nomem("transaction");
    t->client = c;
    t->pool = c->pool;
    int rc;
    if (c->route) {
        alchdb__exec_ctx ctx = {0};
        ctx.sql = begin;
        ctx.sql_len = strlen(begin);
        ctx.pool = c->pool;
        ctx.txn = t;
        ctx.route_host = -1;
        rc = c->route->acquire(c->route_ud, &ctx, NULL, &t->conn);
        t->pool = ctx.pool;
    } else {
        rc = alchdb__pool_acquire(t->pool, -1, TAG_TXN, &t->conn);
    }
    if (rc == 0) {
        rc = simple(t->conn->slot, begin, NULL);
        if (rc)
            txn_release(t, NULL);
    }
    if (rc) {
        alchdb__free(t);
        return rc;
    }
    t->open = true;
    *out = t;
    return 0;
}

ALCHDB_API int alchdb_txn_exec_flags(alchdb_txn *t, const char *sql, int nparams,
                                     const char *const *params, unsigned flags,
                                     alchdb_result **out)
{
    if (out)
        *out = NULL;
    ALCHDB_CHECK_ARG(t, "txn", "must not be NULL");
    int rc = check_exec_args(__func__, sql, nparams, params, flags);
    if (rc)
        return rc;
    if (!t->open)
        return alchdb__error(ALCHDB_E_STATE, "%s: the transaction has ended", __func__);
    alchdb__exec_ctx ctx = {0};
    ctx.sql = sql;
    ctx.sql_len = strlen(sql);
    ctx.sql_hash = alchdb__hash64(sql, ctx.sql_len, 0);
    ctx.nparams = nparams;
    ctx.params = params;
    ctx.flags = flags;
    ctx.pool = t->pool;
    ctx.txn = t;
    ctx.start_ns = alchdb__now_ns();
    if (t->client->cache)
        t->client->cache->txn_stmt(t->client->cache_ud, &ctx);
    alchdb_result *r = NULL;
    rc = run_on_conn(t->pool, t->conn->slot, &ctx, true, &r);
    if (rc == ALCHDB_E_QUERY)
        alchdb__error(rc, "%s: %s", r->sqlstate, r->message);
    t->wrote = true; /* conservative until the SQL analysis can tell reads apart */
    finish(t->client, &ctx, rc, r);
    hand_out(r, out);
    return rc;
}

ALCHDB_API int alchdb_txn_exec(alchdb_txn *t, const char *sql, int nparams,
                               const char *const *params, alchdb_result **out)
{
    return alchdb_txn_exec_flags(t, sql, nparams, params, 0, out);
}

/* Give the connection back and end the handle. committed: COMMIT was sent
 * and its outcome is success or unknown (the cache then invalidates what the
 * transaction wrote). */
static void txn_end(alchdb_txn *t, bool committed)
{
    txn_release(t, NULL);
    t->conn = NULL;
    t->open = false;
    alchdb_client *c = t->client;
    if (c->cache)
        c->cache->txn_end(c->cache_ud, t, committed);
}

ALCHDB_API int alchdb_txn_commit(alchdb_txn *t)
{
    ALCHDB_CHECK_ARG(t, "txn", "must not be NULL");
    if (!t->open)
        return alchdb__error(ALCHDB_E_STATE, "alchdb_txn_commit: the transaction has ended");
    alchdb__slot *s = t->conn->slot;
    if (PQtransactionStatus(s->pg) == PQTRANS_INERROR) {
        txn_end(t, false); /* release rolls back */
        return alchdb__error(ALCHDB_E_QUERY, "alchdb_txn_commit: the transaction was aborted by "
                                             "an earlier error and has been rolled back");
    }
    PGresult *r = NULL;
    int rc = simple(s, "COMMIT", &r);
    /* A COMMIT that failed without a server answer may have committed. */
    bool maybe_committed = rc == 0 || s->broken;
    if (rc == 0) {
        /* COMMIT of a transaction the server had already aborted answers ROLLBACK. */
        if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
            rc = alchdb__error(ALCHDB_E_QUERY, "alchdb_txn_commit: the server rolled the "
                                               "transaction back");
            maybe_committed = false;
        }
        PQclear(r);
    }
    alchdb_client *c = t->client;
    if (maybe_committed && c->cache) {
        alchdb__exec_ctx ctx = {0};
        ctx.sql = "COMMIT";
        ctx.sql_len = 6;
        ctx.pool = t->pool;
        ctx.txn = t;
        ctx.route_host = -1;
        c->cache->before_release(c->cache_ud, &ctx, s->pg);
    }
    txn_end(t, maybe_committed);
    return rc;
}

ALCHDB_API int alchdb_txn_rollback(alchdb_txn *t)
{
    ALCHDB_CHECK_ARG(t, "txn", "must not be NULL");
    if (!t->open)
        return alchdb__error(ALCHDB_E_STATE, "alchdb_txn_rollback: the transaction has ended");
    int rc = simple(t->conn->slot, "ROLLBACK", NULL);
    txn_end(t, false);
    return rc;
}

ALCHDB_API void alchdb_txn_free(alchdb_txn *t)
{
    if (!t)
        return;
    if (t->open)
        txn_end(t, false); /* release rolls back an open transaction */
    alchdb__free(t);
}
