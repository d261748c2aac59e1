/* Pool metrics snapshot and JSON. */
#include <stdio.h>
#include <string.h>

#include "pool/pool_priv.h"

#define POOL_MAGIC 0x414c5030u

static void fill(alchdb_pool *p, alchdb_pool_metrics *m)
{
    memset(m, 0, sizeof *m);
    pthread_mutex_lock(&p->mu);
    m->max_open = p->max_open;
    m->open = p->open;
    m->idle = p->nidle;
    m->in_use = p->in_use;
    m->connecting = p->connecting;
    m->waiters = p->nwaiters;
    m->acquisitions = p->m.acquisitions;
    m->waited = p->m.waited;
    m->timeouts = p->m.timeouts;
    m->rejected = p->m.rejected;
    m->connects = p->m.connects;
    m->connect_errors = p->m.connect_errors;
    m->closed_idle = p->m.closed_idle;
    m->closed_lifetime = p->m.closed_lifetime;
    m->closed_broken = p->m.closed_broken;
    m->closed_surplus = p->m.closed_surplus;
    m->closed_shutdown = p->m.closed_shutdown;
    m->rollbacks = p->m.rollbacks;
    m->validations = p->m.validations;
    m->leaks = p->m.leaks;
    m->cancels = p->m.cancels;
    m->connect_requeued = p->m.connect_requeued;
    pthread_mutex_unlock(&p->mu);
    m->utilization_pct = p->max_open ? 100.0 * (double)m->in_use / (double)p->max_open : 0;
    m->wait_p50_ns = alchdb__hist_quantile(&p->wait_hist, 0.50);
    m->wait_p95_ns = alchdb__hist_quantile(&p->wait_hist, 0.95);
    m->wait_p99_ns = alchdb__hist_quantile(&p->wait_hist, 0.99);
    m->wait_max_ns = alchdb__hist_max(&p->wait_hist);
}

ALCHDB_API int alchdb_pool_get_metrics(alchdb_pool *pool, alchdb_pool_metrics *m, size_t size)
{
    ALCHDB_CHECK_ARG(pool && pool->magic == POOL_MAGIC, "pool", "must be a live pool");
    ALCHDB_CHECK_ARG(m, "m", "must not be NULL");
    ALCHDB_CHECK_ARG(size >= 8, "size", "must be at least 8 (pass sizeof(alchdb_pool_metrics))");
    if (alchdb__forked_since(pool->fork_gen))
        return alchdb__pool_fork_error(pool, __func__);
    alchdb_pool_metrics full;
    fill(pool, &full);
    size_t n = size < sizeof full ? size : sizeof full;
    full.size = (uint32_t)n;
    memcpy(m, &full, n);
    return 0;
}

static const char *reset_name(int64_t v)
{
    return v == ALCHDB_POOL_RESET_DISCARD_ALL ? "discard_all" : "rollback";
}

ALCHDB_API int alchdb_pool_to_json(alchdb_pool *pool, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(pool && pool->magic == POOL_MAGIC, "pool", "must be a live pool");
    if (alchdb__forked_since(pool->fork_gen))
        return alchdb__pool_fork_error(pool, __func__);
    alchdb_pool_metrics m;
    fill(pool, &m);
    const int64_t *v = pool->cfg.v;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{\"name\":");
    alchdb__sb_json_str(&sb, pool->label);
    alchdb__sb_puts(&sb, ",\"conninfo\":");
    alchdb__sb_json_str(&sb, pool->masked_conninfo);
    alchdb__sb_printf(&sb,
                      ",\"config\":{\"max_open_conns\":%lld,\"max_idle_conns\":%lld,"
                      "\"min_idle_conns\":%lld,\"conn_max_lifetime_us\":%lld,"
                      "\"conn_max_idle_time_us\":%lld,\"acquire_timeout_us\":%lld,",
                      (long long)v[ALCHDB_POOL_OPT_MAX_OPEN], (long long)v[ALCHDB_POOL_OPT_MAX_IDLE],
                      (long long)v[ALCHDB_POOL_OPT_MIN_IDLE],
                      (long long)v[ALCHDB_POOL_OPT_CONN_MAX_LIFETIME],
                      (long long)v[ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME],
                      (long long)v[ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT]);
    alchdb__sb_printf(&sb,
                      "\"connect_timeout_us\":%lld,\"validation_interval_us\":%lld,"
                      "\"leak_threshold_us\":%lld,\"reset_policy\":\"%s\",\"max_waiters\":%lld,"
                      "\"slow_query_threshold_us\":%lld,\"statement_cache_size\":%lld,"
                      "\"max_connecting\":%lld},",
                      (long long)v[ALCHDB_POOL_OPT_CONNECT_TIMEOUT],
                      (long long)v[ALCHDB_POOL_OPT_VALIDATION_INTERVAL],
                      (long long)v[ALCHDB_POOL_OPT_LEAK_THRESHOLD],
                      reset_name(v[ALCHDB_POOL_OPT_RESET_POLICY]),
                      (long long)v[ALCHDB_POOL_OPT_MAX_WAITERS],
                      (long long)v[ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD],
                      (long long)v[ALCHDB_POOL_OPT_STMT_CACHE_SIZE],
                      (long long)v[ALCHDB_POOL_OPT_MAX_CONNECTING]);
    alchdb__sb_printf(&sb,
                      "\"open\":%lld,\"idle\":%lld,\"in_use\":%lld,\"connecting\":%lld,"
                      "\"waiters\":%lld,\"utilization_pct\":%.1f,\"acquisitions\":%lld,"
                      "\"waited\":%lld,\"wait_ns\":{\"p50\":%lld,\"p95\":%lld,\"p99\":%lld,"
                      "\"max\":%lld},\"timeouts\":%lld,\"rejected\":%lld,",
                      (long long)m.open, (long long)m.idle, (long long)m.in_use,
                      (long long)m.connecting, (long long)m.waiters, m.utilization_pct,
                      (long long)m.acquisitions, (long long)m.waited, (long long)m.wait_p50_ns,
                      (long long)m.wait_p95_ns, (long long)m.wait_p99_ns, (long long)m.wait_max_ns,
                      (long long)m.timeouts, (long long)m.rejected);
    alchdb__sb_printf(&sb,
                      "\"connections_created\":%lld,\"connect_errors\":%lld,"
                      "\"connections_closed\":{\"idle_timeout\":%lld,\"lifetime\":%lld,"
                      "\"broken\":%lld,\"surplus\":%lld,\"shutdown\":%lld},\"rollbacks\":%lld,"
                      "\"validations\":%lld,\"leaks\":%lld,\"cancels\":%lld,\"connect_requeued\":%lld,",
                      (long long)m.connects, (long long)m.connect_errors, (long long)m.closed_idle,
                      (long long)m.closed_lifetime, (long long)m.closed_broken,
                      (long long)m.closed_surplus, (long long)m.closed_shutdown,
                      (long long)m.rollbacks, (long long)m.validations, (long long)m.leaks,
                      (long long)m.cancels, (long long)m.connect_requeued);
    /* holders and last connect error under the lock */
    pthread_mutex_lock(&pool->mu);
    int64_t now = alchdb__now_ns();
    alchdb__sb_puts(&sb, "\"closed\":");
    alchdb__sb_puts(&sb, pool->closed ? "true" : "false");
    alchdb__sb_puts(&sb, ",\"last_connect_error\":");
    alchdb__sb_json_str(&sb, pool->last_connect_error[0] ? pool->last_connect_error : NULL);
    alchdb__sb_puts(&sb, ",\"holders\":[");
    bool first = true;
    for (int i = 0; i < pool->max_open; i++) {
        alchdb__slot *s = &pool->slots[i];
        if (s->state != ALCHDB__SLOT_INUSE)
            continue;
        alchdb__sb_puts(&sb, first ? "{\"tag\":" : ",{\"tag\":");
        first = false;
        alchdb__sb_json_str(&sb, s->tag);
        alchdb__sb_printf(&sb, ",\"held_ms\":%lld}", (long long)((now - s->acquired_ns) / 1000000));
    }
    pthread_mutex_unlock(&pool->mu);
    alchdb__sb_puts(&sb, "]}");
    char *json = alchdb__sb_finish(&sb);
    if (!json)
        return alchdb__nomem("pool metrics JSON");
    *out = json;
    return 0;
}
