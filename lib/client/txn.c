/* Transactions: one connection from BEGIN to the end, the server's
 * transaction status as the truth about when that end came, and every round
 * trip bounded by the call's deadline. */
#include <stdio.h>
#include <string.h>

#include "client/client_internal.h"
#include "pqconn.h"

#define TAG_TXN "client:txn"

/* Give a transaction's connection back (through the router when routed). */
static void txn_release(alchdb_txn *t, int64_t deadline_ns)
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
        ctx.write_tli = t->write_tli;
        c->route->release(c->route_ud, &ctx, t->conn, NULL);
    } else {
        alchdb__pool_release_ex(t->pool, t->conn, deadline_ns);
    }
}

void alchdb__txn_finish(alchdb_txn *t, bool committed, int64_t deadline_ns, const char *why)
{
    txn_release(t, deadline_ns);
    t->conn = NULL;
    t->open = false;
    snprintf(t->ended_by, sizeof t->ended_by, "%s", why);
    alchdb_client *c = t->client;
    if (c->cache)
        c->cache->txn_end(c->cache_ud, t, committed);
}

/* Let the cache read the write position on the connection that committed. */
static void before_commit_release(alchdb_txn *t)
{
    alchdb_client *c = t->client;
    if (!c->cache)
        return;
    alchdb__exec_ctx ctx = {0};
    ctx.sql = "COMMIT";
    ctx.sql_len = 6;
    ctx.pool = t->pool;
    ctx.txn = t;
    ctx.route_host = -1;
    c->cache->before_release(c->cache_ud, &ctx, t->conn->slot->pg);
}

void alchdb__txn_after_stmt(alchdb_txn *t, const alchdb__exec_ctx *ctx, int rc, const alchdb_result *r)
{
    alchdb__slot *s = t->conn->slot;
    if (rc == ALCHDB_E_QUERY && r && !t->first_error[0])
        memcpy(t->first_error, r->sqlstate, sizeof t->first_error);
    if (rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CANCELED) {
        /* The statement (maybe a COMMIT) was cut short: its connection is
         * closed, so the server rolls back whatever was not committed. */
        alchdb__txn_finish(t, true, ctx->deadline_ns,
                           rc == ALCHDB_E_TIMEOUT ? "a statement timed out; the server rolled it back"
                                                  : "a statement was canceled; the server rolled it back");
        return;
    }
    if (s->broken || PQstatus(s->pg) != CONNECTION_OK) {
        /* A COMMIT may have reached the server before the connection broke. */
        alchdb__txn_finish(t, true, ctx->deadline_ns, "the connection was lost");
        return;
    }
    if (PQtransactionStatus(s->pg) != PQTRANS_IDLE)
        return;
    /* The statement ended the transaction itself (COMMIT, ROLLBACK, PREPARE
     * TRANSACTION ...): so does the handle. A COMMIT of an aborted
     * transaction answers ROLLBACK. */
    const char *tag = rc == 0 && r && r->res ? PQcmdStatus(r->res) : "";
    bool committed = rc == 0 && strcmp(tag, "ROLLBACK") != 0;
    if (committed)
        before_commit_release(t);
    char why[96];
    snprintf(why, sizeof why, "ended by %.40s sent through alchdb_txn_exec()", rc == 0 && *tag ? tag : "a statement");
    alchdb__txn_finish(t, committed, ctx->deadline_ns, why);
}

/* A transaction-control statement on the transaction's connection. Returns 0
 * (the result kept in *keep when asked), ALCHDB_E_QUERY (message and SQLSTATE
 * set), or the deadline's codes. */
static int simple(alchdb__slot *s, const char *func, const char *sql, const alchdb__deadline *d, int64_t start,
                  PGresult **keep)
{
    PGresult *r = NULL;
    int rc = alchdb__pq_exec(s->pg, sql, d, &r);
    if (rc == ALCHDB_E_TIMEOUT)
        return alchdb__error(rc, "%s: %s timed out after %lld ms; it was canceled on the server and the "
                                 "connection closed",
                             func, sql, (long long)((alchdb__now_ns() - start) / 1000000));
    if (rc == ALCHDB_E_CANCELED)
        return alchdb__error(rc, "%s: %s canceled through its cancel handle; the connection was closed", func, sql);
    if (rc)
        return alchdb__deadline_error(rc, func, d, start);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK) {
        const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        bool lost = PQstatus(s->pg) != CONNECTION_OK;
        if (lost || alchdb__sqlstate_is_fatal(code))
            s->broken = true;
        if (!code && lost)
            code = "08006";
        char m[600];
        alchdb__pq_result_message(m, sizeof m, s->pg, r, true);
        alchdb__error(ALCHDB_E_QUERY, "%s: %s failed: %s%s%s", func, sql, code ? code : "", code ? ": " : "", m);
        alchdb__set_error_sqlstate(code);
        PQclear(r);
        return ALCHDB_E_QUERY;
    }
    if (keep)
        *keep = r;
    else
        PQclear(r);
    return 0;
}

static int ended_error(const alchdb_txn *t, const char *func)
{
    return alchdb__error(ALCHDB_E_STATE, "%s: the transaction has ended (%s)", func,
                         t->ended_by[0] ? t->ended_by : "committed or rolled back");
}

static int usable(alchdb_txn *t, const char *func)
{
    int rc = alchdb__client_fork_check(t->client, func);
    if (rc)
        return rc;
    if (!t->open)
        return ended_error(t, func);
    if (t->stream)
        return alchdb__error(ALCHDB_E_STATE, "%s: a stream is still reading on this transaction "
                                             "(finish it or free it first)", func);
    return 0;
}

/* ---- begin ------------------------------------------------------------------------ */

ALCHDB_API int alchdb_client_begin_opts(alchdb_client *c, uint32_t flags, const alchdb_exec_opts *opts,
                                        alchdb_txn **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(c, "client", "must not be NULL");
    ALCHDB_CHECK_ARG(!(flags & ~(unsigned)(ALCHDB_TXN_READ_ONLY | ALCHDB_TXN_REPEATABLE_READ |
                                           ALCHDB_TXN_SERIALIZABLE)),
                     "flags", "unknown ALCHDB_TXN_* flag");
    alchdb_exec_opts o;
    int rc = alchdb__exec_opts_load(__func__, opts, false, &o);
    if (rc || (rc = alchdb__client_fork_check(c, __func__)) != 0)
        return rc;
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
    int64_t start = alchdb__now_ns();
    alchdb__deadline d = {o.timeout_us ? start + o.timeout_us * 1000 : 0, o.cancel};
    if (c->route) {
        alchdb__exec_ctx ctx = {0};
        ctx.sql = begin;
        ctx.sql_len = strlen(begin);
        ctx.pool = c->pool;
        ctx.txn = t;
        ctx.route_host = -1;
        ctx.start_ns = start;
        ctx.deadline_ns = d.at_ns;
        ctx.cancel = o.cancel;
        if (c->cache && c->cache->txn_begin)
            c->cache->txn_begin(c->cache_ud, &ctx);
        rc = c->route->acquire(c->route_ud, &ctx, NULL, &t->conn);
        t->pool = ctx.pool;
    } else {
        rc = alchdb__pool_acquire_ex(t->pool, start, d.at_ns, o.cancel, TAG_TXN, &t->conn);
    }
    if (rc == 0) {
        rc = simple(t->conn->slot, __func__, begin, &d, start, NULL);
        if (rc) {
            alchdb__saved_error e;
            alchdb__err_save(&e);
            txn_release(t, d.at_ns);
            alchdb__err_restore(&e);
        }
    }
    if (rc) {
        alchdb__free(t);
        return rc;
    }
    t->open = true;
    *out = t;
    return 0;
}

ALCHDB_API int alchdb_client_begin(alchdb_client *c, uint32_t flags, alchdb_txn **out)
{
    return alchdb_client_begin_opts(c, flags, NULL, out);
}

/* ---- statements ------------------------------------------------------------------ */

static int txn_exec(const char *func, alchdb_txn *t, const char *sql, int nparams, const char *const *params,
                    const alchdb_exec_opts *opts, alchdb_result **out)
{
    if (out)
        *out = NULL;
    if (!t)
        return alchdb__invalid_arg(func, "txn", "must not be NULL");
    alchdb_exec_opts o;
    int rc = alchdb__exec_opts_load(func, opts, true, &o);
    if (rc)
        return rc;
    if (o.token)
        return alchdb__invalid_arg(func, "opts", "token: a transaction stays on its connection");
    if (o.cache)
        return alchdb__invalid_arg(func, "opts", "cache: statements in a transaction are never cached");
    if ((rc = alchdb__check_exec_args(func, sql, nparams, params, &o)) != 0 || (rc = usable(t, func)) != 0)
        return rc;
    alchdb_client *c = t->client;
    alchdb__exec_ctx ctx;
    alchdb__exec_ctx_init(&ctx, sql, nparams, params, &o, alchdb__now_ns());
    ctx.pool = t->pool;
    ctx.txn = t;
    if (c->cache)
        c->cache->txn_stmt(c->cache_ud, &ctx);
    alchdb_result *r = NULL;
    t->conn->slot->no_txn_warning = false;
    rc = alchdb__exec_on_conn(t->pool, t->conn->slot, &ctx, true, &r);
    if (rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CANCELED)
        alchdb__exec_interrupted(func, rc, &ctx);
    alchdb__saved_error e;
    if (rc && rc != ALCHDB_E_QUERY)
        alchdb__err_save(&e);
    t->wrote = true; /* conservative until the SQL analysis can tell reads apart */
    alchdb__txn_after_stmt(t, &ctx, rc, r);
    alchdb__client_finish(c, &ctx, rc, r);
    if (rc == ALCHDB_E_QUERY)
        alchdb__client_query_error(func, r);
    else if (rc)
        alchdb__err_restore(&e);
    if (out)
        *out = r;
    else
        alchdb_result_free(r);
    return rc;
}

ALCHDB_API int alchdb_txn_exec_opts(alchdb_txn *t, const char *sql, int nparams, const char *const *params,
                                    const alchdb_exec_opts *opts, alchdb_result **out)
{
    return txn_exec(__func__, t, sql, nparams, params, opts, out);
}

ALCHDB_API int alchdb_txn_exec_flags(alchdb_txn *t, const char *sql, int nparams,
                                     const char *const *params, uint32_t flags,
                                     alchdb_result **out)
{
    alchdb_exec_opts o = {.size = sizeof o, .flags = flags};
    return txn_exec(__func__, t, sql, nparams, params, &o, out);
}

ALCHDB_API int alchdb_txn_exec(alchdb_txn *t, const char *sql, int nparams,
                               const char *const *params, alchdb_result **out)
{
    return txn_exec(__func__, t, sql, nparams, params, NULL, out);
}

/* ---- the end --------------------------------------------------------------------- */

/* The checks and the deadline of a commit or a rollback. */
static int end_begins(alchdb_txn *t, const char *func, const alchdb_exec_opts *opts, int64_t *start,
                      alchdb__deadline *d)
{
    if (!t)
        return alchdb__invalid_arg(func, "txn", "must not be NULL");
    alchdb_exec_opts o;
    int rc = alchdb__exec_opts_load(func, opts, false, &o);
    if (rc || (rc = usable(t, func)) != 0)
        return rc;
    *start = alchdb__now_ns();
    d->at_ns = o.timeout_us ? *start + o.timeout_us * 1000 : 0;
    d->cancel = o.cancel;
    return 0;
}

ALCHDB_API int alchdb_txn_commit_opts(alchdb_txn *t, const alchdb_exec_opts *opts)
{
    int64_t start = 0;
    alchdb__deadline d = {0, NULL};
    int rc = end_begins(t, __func__, opts, &start, &d);
    if (rc)
        return rc;
    alchdb__slot *s = t->conn->slot;
    alchdb__saved_error e;
    if (PQtransactionStatus(s->pg) == PQTRANS_INERROR) {
        alchdb__txn_finish(t, false, d.at_ns, "rolled back at commit: an earlier error had aborted it");
        alchdb__error(ALCHDB_E_QUERY,
                      "alchdb_txn_commit: the transaction was aborted by an earlier error (SQLSTATE %s) "
                      "and has been rolled back",
                      t->first_error[0] ? t->first_error : "unknown");
        alchdb__set_error_sqlstate(t->first_error[0] ? t->first_error : "25P02");
        return ALCHDB_E_QUERY;
    }
    PGresult *r = NULL;
    if (t->client->cache && t->client->cache->txn_commit)
        t->client->cache->txn_commit(t->client->cache_ud, t);
    rc = simple(s, "alchdb_txn_commit", "COMMIT", &d, start, &r);
    /* A COMMIT that got no answer (lost connection, deadline, cancel) may
     * have committed: the cache invalidates as if it had. */
    bool maybe_committed = rc == 0 || s->broken || rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CANCELED;
    if (rc == 0) {
        /* COMMIT of a transaction the server had already aborted answers ROLLBACK. */
        if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
            rc = alchdb__error(ALCHDB_E_QUERY, "alchdb_txn_commit: the server rolled the transaction back");
            alchdb__set_error_sqlstate(t->first_error[0] ? t->first_error : "25P02");
            maybe_committed = false;
        }
        PQclear(r);
    }
    if (rc)
        alchdb__err_save(&e);
    if (maybe_committed && rc != ALCHDB_E_TIMEOUT && rc != ALCHDB_E_CANCELED)
        before_commit_release(t);
    alchdb__txn_finish(t, maybe_committed, d.at_ns,
                       rc == 0 ? "committed" : maybe_committed ? "COMMIT got no answer: its outcome is unknown"
                                                               : "COMMIT failed: rolled back");
    if (rc)
        alchdb__err_restore(&e);
    return rc;
}

ALCHDB_API int alchdb_txn_commit(alchdb_txn *t) { return alchdb_txn_commit_opts(t, NULL); }

ALCHDB_API int alchdb_txn_rollback_opts(alchdb_txn *t, const alchdb_exec_opts *opts)
{
    int64_t start = 0;
    alchdb__deadline d = {0, NULL};
    int rc = end_begins(t, __func__, opts, &start, &d);
    if (rc)
        return rc;
    rc = simple(t->conn->slot, "alchdb_txn_rollback", "ROLLBACK", &d, start, NULL);
    alchdb__saved_error e;
    if (rc)
        alchdb__err_save(&e);
    alchdb__txn_finish(t, false, d.at_ns, rc == 0 ? "rolled back" : "ROLLBACK failed: the connection was closed");
    if (rc)
        alchdb__err_restore(&e);
    return rc;
}

ALCHDB_API int alchdb_txn_rollback(alchdb_txn *t) { return alchdb_txn_rollback_opts(t, NULL); }

ALCHDB_API void alchdb_txn_free(alchdb_txn *t)
{
    if (!t)
        return;
    if (alchdb__forked_since(t->client->fork_gen)) {
        alchdb__free(t); /* the connection is the parent's pool's: its free drops it */
        return;
    }
    if (t->stream)
        alchdb__stream_abandon(t->stream); /* ends the transaction */
    if (t->open)
        alchdb__txn_finish(t, false, 0, "freed"); /* release rolls back an open transaction */
    alchdb__free(t);
}

bool alchdb__txn_wrote(const alchdb_txn *t)
{
    return t->wrote;
}

void **alchdb__txn_cache_state(alchdb_txn *t)
{
    return &t->cache_state;
}

void alchdb__txn_set_write_pos(alchdb_txn *t, int64_t lsn, uint32_t tli)
{
    t->write_lsn = lsn;
    t->write_tli = tli;
}
