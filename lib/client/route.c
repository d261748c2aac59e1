/* The client routed through an alchdb_router: the route hooks of
 * client_internal.h implemented on the router. */
#include <stdio.h>
#include <string.h>

#include "client/client_internal.h"
#include "router/router_internal.h"
#include "sql/sql_internal.h"

static bool write_reason(int reason)
{
    return reason == ALCHDB_ROUTE_INTENT_WRITE || reason == ALCHDB_ROUTE_WRITES ||
           reason == ALCHDB_ROUTE_LOCKING || reason == ALCHDB_ROUTE_SIDE_EFFECTS || reason == ALCHDB_ROUTE_UNSURE;
}

/* Where a transaction may run, from the parse of the statements that open
 * it: a READ ONLY one on a replica, unless SERIALIZABLE (standbys refuse
 * it); every other one, and anything that does not parse as BEGIN/START
 * TRANSACTION or SET TRANSACTION, on the primary. */
static int txn_intent(const char *sql, size_t len)
{
    int err = 0;
    const alchdb_sql_analysis *a = alchdb__sql_analyze_shared(sql, len, &err);
    size_t n = a && !err ? alchdb_sql_analysis_count(a) : 0;
    bool ok = n > 0, read_only = false, serializable = false;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t m = alchdb__sql_stmt_txn(a, i);
        ok = (m & (ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_SET)) != 0;
        if (m & ALCHDB__SQL_TXN_READ_ONLY)
            read_only = true;
        if (m & ALCHDB__SQL_TXN_READ_WRITE)
            read_only = false;
        if (m & ALCHDB__SQL_TXN_ISO_SERIALIZABLE)
            serializable = true;
        else if (m & (ALCHDB__SQL_TXN_ISO_READ_UNCOMMITTED | ALCHDB__SQL_TXN_ISO_READ_COMMITTED |
                      ALCHDB__SQL_TXN_ISO_REPEATABLE_READ))
            serializable = false;
    }
    alchdb__sql_release(a);
    return ok && read_only && !serializable ? ALCHDB_INTENT_READ : ALCHDB_INTENT_WRITE;
}

static int r_acquire(void *ud, alchdb__exec_ctx *ctx, alchdb_pool *failed, alchdb_conn **out)
{
    alchdb_router *r = ud;
    int intent = ALCHDB_INTENT_AUTO;
    if (ctx->txn) {
        intent = txn_intent(ctx->sql, ctx->sql_len);
    } else if (ctx->flags & ALCHDB_EXEC_PRIMARY) {
        intent = ALCHDB_INTENT_PRIMARY;
    } else if (ctx->flags & ALCHDB_EXEC_READ) {
        intent = ALCHDB_INTENT_READ;
    }
    int exclude = -1;
    for (size_t i = 0; failed && i < r->nhosts; i++)
        if (r->hosts[i].pool == failed)
            exclude = (int)i;
    int reason = 0, host = -1;
    int rc = alchdb__router_acquire_ex(r, intent, ctx->sql, ctx->sql_len, ctx->token, -1,
                                       ctx->txn ? "client:txn" : "client", exclude, out, &reason, &host);
    if (rc == 0) {
        ctx->pool = r->hosts[host].pool;
        ctx->route_reason = reason;
        ctx->route_host = host;
    }
    return rc;
}

static void r_release(void *ud, alchdb__exec_ctx *ctx, alchdb_conn *conn, const char *sqlstate)
{
    alchdb_router *r = ud;
    /* A causal session remembers the position of its last write, so its
     * later reads see it. */
    bool wrote = ctx->txn ? ctx->txn->wrote : write_reason(ctx->route_reason);
    if (r->cfg.causal_default && !sqlstate && wrote && conn->pool == r->hosts[0].pool &&
        PQtransactionStatus(conn->slot->pg) == PQTRANS_IDLE) {
        char tok[64];
        if (ctx->write_lsn > 0) { /* the cache read it already on this connection */
            snprintf(tok, sizeof tok, "alchdb1:%llu:%X/%X", (unsigned long long)atomic_load(&r->sysid),
                     (unsigned)((uint64_t)ctx->write_lsn >> 32), (unsigned)((uint64_t)ctx->write_lsn & 0xffffffffu));
            alchdb_router_note_token(r, tok);
        } else {
            PGresult *res = PQexec(conn->slot->pg, "SELECT pg_current_wal_insert_lsn()::text");
            if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
                snprintf(tok, sizeof tok, "alchdb1:%llu:%s", (unsigned long long)atomic_load(&r->sysid),
                         PQgetvalue(res, 0, 0));
                alchdb_router_note_token(r, tok);
            }
            PQclear(res);
        }
    }
    alchdb_router_release(r, conn, sqlstate);
}

static bool r_may_retry(void *ud, const alchdb__exec_ctx *ctx)
{
    (void)ud;
    return !ctx->txn && ctx->route_host > 0;
}

static const alchdb__route_hooks router_hooks = {r_acquire, r_release, r_may_retry};

ALCHDB_API int alchdb_client_new_routed(struct alchdb_router *router, alchdb_client **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(router, "router", "must not be NULL");
    int rc = alchdb_client_new(router->hosts[0].pool, out);
    if (rc)
        return rc;
    (*out)->route = &router_hooks;
    (*out)->route_ud = router;
    return 0;
}

ALCHDB_API int alchdb_client_token(alchdb_client *c, char *buf, size_t cap)
{
    ALCHDB_CHECK_ARG(c, "client", "must not be NULL");
    if (c->route != &router_hooks)
        return alchdb__error(ALCHDB_E_STATE, "%s: the client has no router (alchdb_client_new_routed)", __func__);
    return alchdb_router_token(c->route_ud, buf, cap);
}
