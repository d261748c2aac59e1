/* One statement on one connection: prepare (cached per connection), send,
 * wait within the call's deadline, and the one retry that can never run a
 * statement twice. */
#include <stdio.h>
#include <string.h>

#include "client/client_internal.h"

static alchdb__deadline ctx_deadline(const alchdb__exec_ctx *ctx)
{
    alchdb__deadline d = {ctx->deadline_ns, ctx->cancel};
    return d;
}

static bool uses_stmt_cache(alchdb_pool *pool, const alchdb__exec_ctx *ctx)
{
    return !(ctx->flags & (ALCHDB_EXEC_SIMPLE | ALCHDB_EXEC_UNPREPARED)) &&
           alchdb__pool_opt(pool, ALCHDB_POOL_OPT_STMT_CACHE_SIZE) > 0;
}

static bool field_is(const PGresult *r, int field, const char *want)
{
    const char *v = PQresultErrorField(r, field);
    return v && strcmp(v, want) == 0;
}

/* Whether a failed execution of a cached prepared statement was refused by
 * the server before anything ran, so that preparing it again and running it
 * once more cannot repeat an effect: the statement is gone (26000, raised by
 * FetchPreparedStatement when the Bind message names it) or its cached plan
 * changed result type after DDL (0A000, raised by RevalidateCachedQuery
 * before execution). Both must come from the top level (no CONTEXT field):
 * the same codes raised inside a function (RAISE ... USING ERRCODE, or a
 * nested EXECUTE of a stale statement) may follow side effects. */
static bool refused_before_running(const PGresult *r)
{
    if (PQresultErrorField(r, PG_DIAG_CONTEXT))
        return false;
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (!code)
        return false;
    if (strcmp(code, "26000") == 0)
        return field_is(r, PG_DIAG_SOURCE_FUNCTION, "FetchPreparedStatement");
    if (strcmp(code, "0A000") == 0)
        return field_is(r, PG_DIAG_SOURCE_FUNCTION, "RevalidateCachedQuery");
    return false;
}

typedef struct sent {
    alchdb__stmt_cache *cache;
    alchdb__stmt *st; /* the cached statement that was executed, or NULL */
} sent;

/* Send ctx's statement (preparing it first when it is new on this
 * connection). Returns 0 when sent; ALCHDB_E_QUERY with *refused when the
 * server refused the PREPARE; the deadline's codes; ALCHDB_E_NOMEM. */
static int send_stmt(alchdb_pool *pool, alchdb__slot *s, const alchdb__exec_ctx *ctx,
                     const alchdb__deadline *d, sent *out, PGresult **refused)
{
    PGconn *pg = s->pg;
    int fmt = (ctx->flags & ALCHDB_EXEC_BINARY_RESULT) ? 1 : 0;
    out->cache = NULL;
    out->st = NULL;
    *refused = NULL;
    int rc = alchdb__deadline_check(d);
    if (rc)
        return rc;
    PQsetnonblocking(pg, 1);
    if (ctx->flags & ALCHDB_EXEC_SIMPLE)
        return PQsendQuery(pg, ctx->sql) ? 0 : ALCHDB_E_QUERY;
    if (!uses_stmt_cache(pool, ctx))
        return PQsendQueryParams(pg, ctx->sql, ctx->nparams, NULL, ctx->params, ctx->param_lengths,
                                 ctx->param_formats, fmt)
                   ? 0
                   : ALCHDB_E_QUERY;
    alchdb__stmt_cache *cache = s->ext;
    if (!cache) {
        cache = alchdb__stmt_cache_new((size_t)alchdb__pool_opt(pool, ALCHDB_POOL_OPT_STMT_CACHE_SIZE));
        if (!cache)
            return alchdb__nomem("statement cache");
        s->ext = cache;
        s->ext_free = alchdb__stmt_cache_free;
    }
    out->cache = cache;
    alchdb__stmt *st = alchdb__stmt_cache_get(cache, ctx->sql, ctx->sql_len, ctx->sql_hash);
    if (!st) {
        char evicted[24];
        st = alchdb__stmt_cache_put(cache, ctx->sql, ctx->sql_len, ctx->sql_hash, evicted);
        if (evicted[0])
            alchdb__stmt_cache_defer(cache, evicted);
        if ((rc = alchdb__stmt_cache_flush_deferred(cache, pg, d)) != 0) {
            if (st)
                alchdb__stmt_cache_remove(cache, st);
            return rc;
        }
        if (!st)
            return alchdb__nomem("prepared statement");
        PQsetnonblocking(pg, 1);
        PGresult *pp = NULL;
        rc = PQsendPrepare(pg, st->name, ctx->sql, ctx->nparams, NULL) ? alchdb__pq_last(pg, d, &pp) : 0;
        if (rc != 0 || !pp || PQresultStatus(pp) != PGRES_COMMAND_OK) {
            alchdb__stmt_cache_remove(cache, st);
            if (rc)
                return rc;
            *refused = pp;
            return ALCHDB_E_QUERY;
        }
        PQclear(pp);
        PQsetnonblocking(pg, 1);
    }
    out->st = st;
    return PQsendQueryPrepared(pg, st->name, ctx->nparams, ctx->params, ctx->param_lengths,
                               ctx->param_formats, fmt)
               ? 0
               : ALCHDB_E_QUERY;
}

/* A failed statement: forget a stale cached statement, and say whether it
 * may run once more. */
static bool stale_retry(const sent *snt, const PGresult *r, PGconn *pg, bool in_txn, int attempt)
{
    if (!snt->st || !r || !refused_before_running(r))
        return false;
    const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (strcmp(code, "0A000") == 0) /* the server still holds it */
        alchdb__stmt_cache_defer(snt->cache, snt->st->name);
    alchdb__stmt_cache_remove(snt->cache, snt->st);
    return attempt == 0 && !in_txn && PQtransactionStatus(pg) == PQTRANS_IDLE;
}

static bool failed(const PGresult *r)
{
    ExecStatusType es = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK && es != PGRES_EMPTY_QUERY &&
           es != PGRES_SINGLE_TUPLE;
}

/* Wrap a finished result; marks the slot broken when the session is gone. */
static int wrap(alchdb__slot *s, PGresult *pr, alchdb_result **res)
{
    PGconn *pg = s->pg;
    ExecStatusType es = pr ? PQresultStatus(pr) : PGRES_FATAL_ERROR;
    if (es == PGRES_COPY_IN || es == PGRES_COPY_OUT || es == PGRES_COPY_BOTH) {
        /* COPY through the client is not supported: the connection is in
         * COPY mode and is closed on release. */
        PQclear(pr);
        s->broken = true;
        alchdb_result *r = alchdb__result_error("0A000", "COPY FROM STDIN / TO STDOUT is not supported "
                                                         "through the client (borrow a PGconn from the pool)");
        if (!r)
            return alchdb__nomem("result");
        *res = r;
        return ALCHDB_E_QUERY;
    }
    alchdb_result *r = alchdb__result_wrap(pr, pg);
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

int alchdb__exec_on_conn(alchdb_pool *pool, alchdb__slot *s, const alchdb__exec_ctx *ctx, bool in_txn,
                         alchdb_result **res)
{
    alchdb__deadline d = ctx_deadline(ctx);
    PGresult *pr = NULL;
    for (int attempt = 0;; attempt++) {
        sent snt;
        int rc = send_stmt(pool, s, ctx, &d, &snt, &pr);
        if (rc == 0)
            rc = alchdb__pq_last(s->pg, &d, &pr);
        else if (rc == ALCHDB_E_QUERY)
            rc = 0; /* refused (pr) or not sent (pr NULL: the message is the connection's) */
        if (rc)
            return rc;
        if (!failed(pr) || !stale_retry(&snt, pr, s->pg, in_txn, attempt))
            break;
        PQclear(pr);
        pr = NULL;
    }
    return wrap(s, pr, res);
}

int alchdb__stream_start_on_conn(alchdb_pool *pool, alchdb__slot *s, const alchdb__exec_ctx *ctx,
                                 bool in_txn, PGresult **first)
{
    alchdb__deadline d = ctx_deadline(ctx);
    *first = NULL;
    for (int attempt = 0;; attempt++) {
        sent snt;
        PGresult *pr = NULL;
        int rc = send_stmt(pool, s, ctx, &d, &snt, &pr);
        if (rc == ALCHDB_E_QUERY) {
            *first = pr; /* refused or not sent: the caller wraps the error */
            return 0;
        }
        if (rc)
            return rc;
        PQsetSingleRowMode(s->pg); /* right after the send, before any result */
        if ((rc = alchdb__pq_next(s->pg, &d, &pr)) != 0)
            return rc;
        if (!failed(pr) || !stale_retry(&snt, pr, s->pg, in_txn, attempt)) {
            *first = pr;
            return 0;
        }
        /* drain the end of the refused statement before sending it again */
        PGresult *rest = NULL;
        rc = alchdb__pq_last(s->pg, &d, &rest);
        PQclear(rest);
        PQclear(pr);
        if (rc)
            return rc;
    }
}

int alchdb__exec_interrupted(const char *func, int code, const alchdb__exec_ctx *ctx)
{
    if (code == ALCHDB_E_TIMEOUT)
        return alchdb__error(code,
                             "%s: timed out after %lld ms (deadline %lld ms); a statement in flight "
                             "was canceled on the server and its connection closed",
                             func, (long long)((alchdb__now_ns() - ctx->start_ns) / 1000000),
                             (long long)((ctx->deadline_ns - ctx->start_ns) / 1000000));
    if (code == ALCHDB_E_CANCELED)
        return alchdb__error(code,
                             "%s: canceled through its cancel handle after %lld ms; a statement in "
                             "flight was canceled on the server and its connection closed",
                             func, (long long)((alchdb__now_ns() - ctx->start_ns) / 1000000));
    return code;
}

int alchdb__client_txn_misuse(const char *func, alchdb__slot *s, const alchdb_result *r)
{
    PGTransactionStatusType ts = PQtransactionStatus(s->pg);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        return alchdb__error(ALCHDB_E_STATE,
                             "%s: the statement opened a transaction (BEGIN/START TRANSACTION); it "
                             "was rolled back: transactions run through alchdb_client_begin() and "
                             "alchdb_txn_exec()/alchdb_txn_commit()",
                             func);
    if (s->no_txn_warning)
        return alchdb__error(ALCHDB_E_STATE,
                             "%s: COMMIT/ROLLBACK outside a transaction does nothing (each "
                             "alchdb_client_exec() call runs on its own): use alchdb_client_begin() "
                             "and alchdb_txn_commit()/alchdb_txn_rollback()",
                             func);
    if (r && r->status && strcmp(r->sqlstate, "25P01") == 0) {
        alchdb__error(ALCHDB_E_STATE,
                      "%s: %s (each alchdb_client_exec() call runs on its own: SAVEPOINT and "
                      "friends belong in a transaction of alchdb_client_begin())",
                      func, r->message ? r->message : "no transaction in progress");
        alchdb__set_error_sqlstate(r->sqlstate);
        return ALCHDB_E_STATE;
    }
    return 0;
}
