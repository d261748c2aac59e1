/* The monitor's side of the client's observe seam (client/seams.h): every
 * statement a client runs, recorded in the monitor attached with
 * alchdb_client_set_monitor(). Sees the client only through the seam. */
#include <stdlib.h>
#include <string.h>

#include "alchdb/client.h"
#include "alchdb/monitor.h"
#include "client/seams.h"
#include "internal.h"

static void m_observe(void *ud, const alchdb__exec_ctx *ctx)
{
    alchdb_monitor *mon = ud;
    const alchdb_result *r = ctx->result;
    int64_t rows = -1;
    if (ctx->rows >= 0 && ctx->rc == 0) { /* a stream: its rows were handed out one by one */
        rows = ctx->rows;
    } else if (r && r->res && r->status == 0) {
        if (PQresultStatus(r->res) == PGRES_TUPLES_OK)
            rows = PQntuples(r->res);
        else if (*PQcmdTuples(r->res))
            rows = strtoll(PQcmdTuples(r->res), NULL, 10);
    }
    const char *sqlstate = NULL;
    if (ctx->rc == ALCHDB_E_QUERY && r && r->sqlstate[0])
        sqlstate = r->sqlstate;
    else if (ctx->rc == ALCHDB_E_TIMEOUT || ctx->rc == ALCHDB_E_CANCELED)
        sqlstate = "57014"; /* query_canceled: the deadline or the cancel handle stopped it */
    else if (ctx->rc == ALCHDB_E_STATE)
        sqlstate = "25000"; /* invalid_transaction_state: transaction control refused */
    else if (ctx->rc != 0)
        sqlstate = "08000"; /* no server answer (acquire failed, connection lost) */
    alchdb_monitor_query q = {
        .version = ALCHDB_MONITOR_QUERY_VERSION,
        .sql = ctx->sql,
        .sql_len = (int64_t)ctx->sql_len,
        .duration_us = (ctx->end_ns - ctx->start_ns) / 1000,
        .rows = rows,
        .sqlstate = sqlstate,
        .route = ctx->cache_hit ? "cache" : ctx->route_host < 0 ? NULL : ctx->route_host == 0 ? "primary" : "replica",
    };
    /* Cache hits stay visible per pattern but apart from database executions. */
    static const char *const hit_label[] = {"cache=hit"};
    if (ctx->cache_hit) {
        q.labels = hit_label;
        q.nlabels = 1;
    }
    if (q.duration_us < 0)
        q.duration_us = 0;
    /* A monitor failure never fails the query, nor changes its error detail. */
    alchdb__error_state saved;
    alchdb__error_save(&saved);
    alchdb_monitor_record(mon, &q);
    alchdb__error_restore(&saved);
}

static const alchdb__observe_hooks monitor_hooks = {m_observe};

ALCHDB_API int alchdb_client_set_monitor(alchdb_client *c, struct alchdb_monitor *mon)
{
    ALCHDB_CHECK_ARG(c, "client", "must not be NULL");
    alchdb__client_set_observer(c, mon ? &monitor_hooks : NULL, mon);
    return 0;
}
