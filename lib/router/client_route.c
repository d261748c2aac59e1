/* The client routed through an alchdb_router: the router's implementation
 * of the client's route seam (client/seams.h). */
#include <stdio.h>
#include <string.h>

#include "client/seams.h"
#include "router/router_internal.h"
#include "sql/sql_internal.h"

static int r_acquire(void *ud, alchdb__exec_ctx *ctx, alchdb_pool *failed, alchdb_conn **out)
{
    alchdb_router *r = ud;
    int intent = ALCHDB_INTENT_AUTO;
    if (ctx->txn) {
        intent = alchdb__sql_txn_replica_ok(ctx->sql, ctx->sql_len) ? ALCHDB_INTENT_READ : ALCHDB_INTENT_WRITE;
    } else if (ctx->flags & ALCHDB_EXEC_PRIMARY) {
        intent = ALCHDB_INTENT_PRIMARY;
    } else if (ctx->flags & ALCHDB_EXEC_READ) {
        intent = ALCHDB_INTENT_READ;
    }
    int exclude = -1;
    for (size_t i = 0; failed && i < r->nhosts; i++)
        if (r->hosts[i].pool == failed)
            exclude = (int)i;
    /* The call's deadline caps the wait (the router's acquire_timeout otherwise). */
    int64_t timeout_us = -1;
    if (ctx->deadline_ns) {
        int64_t left_us = (ctx->deadline_ns - alchdb__now_ns()) / 1000;
        timeout_us = left_us < 0 ? 0 : left_us < r->cfg.acquire_timeout_us ? left_us : r->cfg.acquire_timeout_us;
    }
    int reason = 0, host = -1;
    int rc = alchdb__router_acquire_ex(r, intent, ctx->sql, ctx->sql_len, ctx->token, timeout_us,
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
    bool wrote = ctx->txn ? alchdb__txn_wrote(ctx->txn) : alchdb__route_is_write(ctx->route_reason);
    if (r->cfg.causal_default && !sqlstate && wrote && PQtransactionStatus(conn->slot->pg) == PQTRANS_IDLE) {
        alchdb__token t = {0};
        int rc = 0;
        if (ctx->write_lsn > 0 && ctx->write_tli > 0) { /* the cache read it already on this connection */
            t.lsn = ctx->write_lsn;
            t.timeline = ctx->write_tli;
        } else {
            rc = alchdb__token_read(conn->slot->pg, 0, ctx->deadline_ns, &t, NULL, 0);
        }
        if (rc == 0)
            alchdb__router_note(r, &t);
    }
    alchdb_router_release(r, conn, sqlstate);
}

static bool r_may_retry(void *ud, const alchdb__exec_ctx *ctx)
{
    (void)ud;
    return !ctx->txn && ctx->route_host >= 0 && alchdb__route_is_read(ctx->route_reason);
}

static bool r_has_replicas(void *ud)
{
    const alchdb_router *r = ud;
    return r->nhosts > 1;
}

static int r_cluster(void *ud, uint64_t *sysid, uint32_t *timeline)
{
    return alchdb__router_cluster(ud, sysid, timeline);
}

static int r_primary_token(void *ud, char *buf, size_t cap)
{
    return alchdb_router_token(ud, buf, cap);
}

static int r_token_verdict(void *ud, const char *token, int64_t *need)
{
    return alchdb__router_token_verdict(ud, token, need);
}

static const alchdb__route_hooks router_hooks = {r_acquire,      r_release, r_may_retry,    r_has_replicas,
                                                 r_cluster,      r_primary_token, r_token_verdict};

ALCHDB_API int alchdb_client_new_routed(struct alchdb_router *router, alchdb_client **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(router, "router", "must not be NULL");
    int rc = alchdb_client_new(router->hosts[0].pool, out);
    if (rc)
        return rc;
    alchdb__client_set_route(*out, &router_hooks, router);
    return 0;
}

ALCHDB_API int alchdb_client_token(alchdb_client *c, char *buf, size_t cap)
{
    ALCHDB_CHECK_ARG(c, "client", "must not be NULL");
    alchdb__route_ref route = alchdb__client_route(c);
    if (route.hooks != &router_hooks)
        return alchdb__error(ALCHDB_E_STATE, "%s: the client has no router (alchdb_client_new_routed)", __func__);
    return alchdb_router_token(route.ud, buf, cap);
}
