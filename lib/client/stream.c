/* Streams: one statement whose rows arrive one at a time (libpq's single-row
 * mode), so a result of any size needs the memory of one row. Routed,
 * observed and (for writes) invalidated like any statement; never cached. */
#include <stdio.h>
#include <string.h>

#include "alchdb/cache.h"
#include "client/client_internal.h"

#define TAG_STREAM "client:stream"

enum { ST_OPEN, ST_DONE, ST_FAILED };

struct alchdb_stream {
    alchdb_client *client;
    alchdb_txn *txn;       /* NULL outside a transaction */
    alchdb_conn *conn;     /* held while ST_OPEN */
    char *sql;             /* owned: the hooks see it at the end */
    alchdb_cache_query skip; /* the cache options: never looked up, never stored */
    alchdb__exec_ctx ctx;
    PGresult *pending;     /* a result read ahead (the first one, at open) */
    alchdb_result row;     /* handed out; its PGresult is replaced by each row */
    int64_t rows;
    int state;
    int err;               /* the error of ST_FAILED */
    char sqlstate[6];
    char errmsg[600];
    char tag[64];
};

static void remember_error(alchdb_stream *st, int code)
{
    st->state = ST_FAILED;
    st->err = code;
    snprintf(st->sqlstate, sizeof st->sqlstate, "%s", alchdb_last_error_sqlstate());
    snprintf(st->errmsg, sizeof st->errmsg, "%s", alchdb_last_error_message());
}

static int repeat_error(const alchdb_stream *st)
{
    alchdb__error(st->err, "%s", st->errmsg);
    alchdb__set_error_sqlstate(st->sqlstate);
    return st->err;
}

/* The statement is over (rc 0 or an error; res: the final or the error
 * result, or NULL): give the connection back and tell the observers. The
 * thread's error (for rc != 0) is kept. */
static void stream_end(alchdb_stream *st, int rc, alchdb_result *res)
{
    alchdb_client *c = st->client;
    alchdb__exec_ctx *ctx = &st->ctx;
    alchdb__saved_error e;
    if (rc)
        alchdb__err_save(&e);
    ctx->rows = st->rows;
    if (st->txn) {
        alchdb__txn_after_stmt(st->txn, ctx, rc, res);
        st->txn->stream = NULL;
    } else if (st->conn) {
        if (ctx->cache_state)
            c->cache->before_release(c->cache_ud, ctx, st->conn->slot->pg);
        if (c->route)
            c->route->release(c->route_ud, ctx, st->conn, rc == ALCHDB_E_QUERY && res ? res->sqlstate : NULL);
        else
            alchdb__pool_release_ex(ctx->pool, st->conn, ctx->deadline_ns);
    }
    st->conn = NULL;
    alchdb__client_finish(c, ctx, rc, res);
    if (c->cache && !st->txn)
        c->cache->done(c->cache_ud, ctx, res);
    if (rc)
        alchdb__err_restore(&e);
}

/* Read what is left of the statement after its final or error result
 * (libpq then answers NULL); the deadline bounds it. */
static int drain(alchdb_stream *st)
{
    alchdb__deadline d = {st->ctx.deadline_ns, st->ctx.cancel};
    PGresult *rest = NULL;
    int rc = alchdb__pq_last(st->conn->slot->pg, &d, &rest);
    PQclear(rest);
    return rc;
}

/* A result that is not a row: the statement's end. Returns 0 or the error. */
static int finish_with(alchdb_stream *st, PGresult *r, const char *func)
{
    alchdb__slot *s = st->conn->slot;
    alchdb_result *res = alchdb__result_wrap(r, s->pg); /* takes r */
    int rc = res ? res->status : ALCHDB_E_NOMEM;
    if (res && rc && (alchdb__sqlstate_is_fatal(res->sqlstate) || PQstatus(s->pg) != CONNECTION_OK))
        s->broken = true;
    int drc = s->broken ? 0 : drain(st);
    if (rc == 0 && res && res->res)
        snprintf(st->tag, sizeof st->tag, "%s", PQcmdStatus(res->res));
    if (rc == ALCHDB_E_QUERY)
        alchdb__client_query_error(func, res);
    else if (rc == 0 && drc)
        rc = alchdb__exec_interrupted(func, drc, &st->ctx);
    else if (rc == 0 && !st->txn)
        rc = alchdb__client_txn_misuse(func, s, res);
    if (rc)
        remember_error(st, rc);
    else
        st->state = ST_DONE;
    stream_end(st, rc, res);
    alchdb_result_free(res);
    return rc;
}

static void stream_free_mem(alchdb_stream *st)
{
    PQclear(st->row.res);
    PQclear(st->pending);
    alchdb__free(st->sql);
    alchdb__free(st);
}

static int stream_open(const char *func, alchdb_client *c, alchdb_txn *t, const char *sql, int nparams,
                       const char *const *params, const alchdb_exec_opts *opts, alchdb_stream **out)
{
    if (!out)
        return alchdb__invalid_arg(func, "out", "must not be NULL");
    *out = NULL;
    if (!c)
        return alchdb__invalid_arg(func, t ? "txn" : "client", "must not be NULL");
    alchdb_exec_opts o;
    int rc = alchdb__exec_opts_load(func, opts, true, &o);
    if (rc || (rc = alchdb__check_exec_args(func, sql, nparams, params, &o)) != 0)
        return rc;
    if (o.flags & ALCHDB_EXEC_SIMPLE)
        return alchdb__invalid_arg(func, "flags", "ALCHDB_EXEC_SIMPLE cannot stream (one statement only)");
    if (t && (o.token || o.cache))
        return alchdb__invalid_arg(func, "opts", "token and cache do not apply in a transaction");
    if (o.token && !c->route)
        return alchdb__error(ALCHDB_E_STATE, "%s: a token needs a router (alchdb_client_new_routed)", func);
    if (o.cache && (rc = alchdb__cache_query_check(c, o.cache, func)) != 0)
        return rc;
    if ((rc = alchdb__client_fork_check(c, func)) != 0)
        return rc;
    if (t && !t->open)
        return alchdb__error(ALCHDB_E_STATE, "%s: the transaction has ended (%s)", func, t->ended_by);
    if (t && t->stream)
        return alchdb__error(ALCHDB_E_STATE, "%s: another stream is still reading on this transaction", func);
    alchdb_stream *st = alchdb__calloc(1, sizeof *st);
    if (!st || !(st->sql = alchdb__strdup(sql))) {
        alchdb__free(st);
        return alchdb__nomem("stream");
    }
    st->client = c;
    st->txn = t;
    st->state = ST_OPEN;
    memcpy(st->row.sqlstate, "00000", 6);
    alchdb__exec_ctx *ctx = &st->ctx;
    alchdb__exec_ctx_init(ctx, st->sql, nparams, params, &o, alchdb__now_ns());
    ctx->streaming = true;
    ctx->pool = t ? t->pool : c->pool;
    ctx->txn = t;
    /* Rows are handed out one at a time: nothing to store, and a stored
     * entry is never a substitute. Writes still invalidate (lookup_write). */
    st->skip = o.cache ? *o.cache : (alchdb_cache_query){.version = ALCHDB_CACHE_QUERY_VERSION};
    st->skip.flags |= ALCHDB_CACHE_SKIP;
    ctx->cache_query = &st->skip;
    if (t) {
        st->conn = t->conn;
        t->stream = st;
        if (c->cache)
            c->cache->txn_stmt(c->cache_ud, ctx);
    } else {
        alchdb_result *hit = NULL;
        if (c->cache && c->cache->lookup(c->cache_ud, ctx, &hit) == 1)
            alchdb_result_free(hit); /* not with ALCHDB_CACHE_SKIP; never served anyway */
        if (c->route)
            rc = c->route->acquire(c->route_ud, ctx, NULL, &st->conn);
        else
            rc = alchdb__pool_acquire_ex(ctx->pool, alchdb__now_ns(), ctx->deadline_ns, ctx->cancel, TAG_STREAM,
                                         &st->conn);
        if (rc) {
            if (rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CANCELED) {
                char why[900];
                snprintf(why, sizeof why, "%s", alchdb_last_error_message());
                alchdb__error(rc, "%s: %s", func, why);
            }
            stream_end(st, rc, NULL);
            stream_free_mem(st);
            return rc;
        }
    }
    alchdb__slot *s = st->conn->slot;
    s->no_txn_warning = false;
    PGresult *first = NULL;
    rc = alchdb__stream_start_on_conn(ctx->pool, s, ctx, t != NULL, &first);
    /* The caller's parameters are not kept: nothing reads them from here on. */
    ctx->params = NULL;
    ctx->param_formats = NULL;
    ctx->param_lengths = NULL;
    if (rc) {
        if (rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CANCELED)
            alchdb__exec_interrupted(func, rc, ctx);
        remember_error(st, rc);
        stream_end(st, rc, NULL);
        stream_free_mem(st);
        return rc;
    }
    if (first && PQresultStatus(first) == PGRES_SINGLE_TUPLE) {
        st->pending = first;
        *out = st;
        return 0;
    }
    rc = finish_with(st, first, func); /* no rows: the statement is already over */
    if (rc) {
        stream_free_mem(st);
        return rc;
    }
    *out = st;
    return 0;
}

ALCHDB_API int alchdb_client_stream(alchdb_client *c, const char *sql, int nparams, const char *const *params,
                                    const alchdb_exec_opts *opts, alchdb_stream **out)
{
    return stream_open(__func__, c, NULL, sql, nparams, params, opts, out);
}

ALCHDB_API int alchdb_txn_stream(alchdb_txn *t, const char *sql, int nparams, const char *const *params,
                                 const alchdb_exec_opts *opts, alchdb_stream **out)
{
    if (out)
        *out = NULL;
    ALCHDB_CHECK_ARG(t, "txn", "must not be NULL");
    return stream_open(__func__, t->client, t, sql, nparams, params, opts, out);
}

ALCHDB_API int alchdb_stream_next(alchdb_stream *st, const alchdb_result **row)
{
    ALCHDB_CHECK_ARG(row, "row", "must not be NULL");
    *row = NULL;
    ALCHDB_CHECK_ARG(st, "stream", "must not be NULL");
    if (st->state == ST_DONE)
        return 0;
    if (st->state == ST_FAILED)
        return repeat_error(st);
    int rc = alchdb__client_fork_check(st->client, __func__);
    if (rc)
        return rc;
    PGresult *r = st->pending;
    st->pending = NULL;
    if (!r) {
        alchdb__deadline d = {st->ctx.deadline_ns, st->ctx.cancel};
        rc = alchdb__pq_next(st->conn->slot->pg, &d, &r);
        if (rc) {
            alchdb__exec_interrupted(__func__, rc, &st->ctx);
            remember_error(st, rc);
            stream_end(st, rc, NULL);
            return rc;
        }
    }
    if (r && PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
        PQclear(st->row.res);
        st->row.res = r;
        st->rows++;
        *row = &st->row;
        return 1;
    }
    return finish_with(st, r, __func__);
}

ALCHDB_API int64_t alchdb_stream_rows(const alchdb_stream *st)
{
    ALCHDB_CHECK_ARG(st, "stream", "must not be NULL");
    return st->rows;
}

ALCHDB_API const char *alchdb_stream_command_tag(const alchdb_stream *st)
{
    return st && st->state == ST_DONE ? st->tag : "";
}

/* End an open stream early: the statement is canceled on the server and its
 * connection closed (release sees the query still running). */
static void abandon(alchdb_stream *st, const char *why)
{
    alchdb__error(ALCHDB_E_CANCELED, "alchdb_stream_free: %s", why);
    remember_error(st, ALCHDB_E_CANCELED);
    stream_end(st, ALCHDB_E_CANCELED, NULL);
}

void alchdb__stream_abandon(alchdb_stream *st)
{
    if (st->state == ST_OPEN)
        abandon(st, "its transaction was freed before the stream ended");
    st->txn = NULL;
}

ALCHDB_API void alchdb_stream_free(alchdb_stream *st)
{
    if (!st)
        return;
    if (st->state == ST_OPEN && !alchdb__forked_since(st->client->fork_gen)) {
        alchdb__saved_error e;
        alchdb__err_save(&e);
        abandon(st, "the stream was freed before its end");
        alchdb__err_restore(&e); /* a destructor leaves the caller's error alone */
    }
    stream_free_mem(st);
}
