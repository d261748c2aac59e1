/* The client facade: lifecycle, per-call options, and the one execution path
 * of every alchdb_client_exec*() call (route, cache, acquire, run, release,
 * observe). Statements on a connection are in exec.c, transactions in txn.c,
 * streams in stream.c. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alchdb/cache.h"
#include "alchdb/version.h"
#include "client/client_internal.h"
#include "pqconn.h"

#define TAG_EXEC "client"
#define MAX_TIMEOUT_US INT64_C(315360000000000) /* ten years */
#define OPTS_V1_SIZE (offsetof(alchdb_exec_opts, cache) + sizeof(((alchdb_exec_opts *)0)->cache))

ALCHDB_API int alchdb_client_new(alchdb_pool *pool, alchdb_client **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(pool, "pool", "must not be NULL");
    alchdb_client *c = alchdb__calloc(1, sizeof *c);
    if (!c)
        return alchdb__nomem("client");
    c->pool = pool;
    c->fork_gen = alchdb__fork_generation();
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
    /* In a forked child the attached modules are the parent's (their locks
     * may be held by threads that do not exist here): only the client's own
     * memory and its own pool (dropped without Terminate) are released. */
    if (c->cache && c->cache->destroy && !alchdb__forked_since(c->fork_gen))
        c->cache->destroy(c->cache_ud);
    if (c->owns_pool)
        alchdb_pool_free(c->pool);
    alchdb__free(c);
}

alchdb__route_ref alchdb__client_route(const alchdb_client *c)
{
    return (alchdb__route_ref){c->route, c->route_ud};
}

void alchdb__client_set_route(alchdb_client *c, const alchdb__route_hooks *hooks, void *ud)
{
    c->route = hooks;
    c->route_ud = ud;
}

void alchdb__client_set_observer(alchdb_client *c, const alchdb__observe_hooks *hooks, void *ud)
{
    c->observe = hooks;
    c->observe_ud = hooks ? ud : NULL;
}

void alchdb__client_attach_cache(alchdb_client *c, const alchdb__cache_hooks *hooks, void *ud)
{
    if (c->cache && c->cache->destroy)
        c->cache->destroy(c->cache_ud);
    c->cache = hooks;
    c->cache_ud = hooks ? ud : NULL;
}

void *alchdb__client_cache_ud(const alchdb_client *c, const alchdb__cache_hooks *hooks)
{
    return c && c->cache == hooks ? c->cache_ud : NULL;
}

ALCHDB_API alchdb_pool *alchdb_client_pool(alchdb_client *c)
{
    if (!c) {
        alchdb__invalid_arg(__func__, "client", "must not be NULL");
        return NULL;
    }
    return c->pool;
}

int alchdb__client_fork_check(const alchdb_client *c, const char *func)
{
    if (ALCHDB_LIKELY(!alchdb__forked_since(c->fork_gen)))
        return 0;
    return alchdb__error(ALCHDB_E_STATE,
                         "%s: the client was created before fork() and cannot be used in the child "
                         "(its connections belong to the parent): create a new client after fork()",
                         func);
}

/* ---- options and arguments ------------------------------------------------------ */

int alchdb__exec_opts_load(const char *func, const alchdb_exec_opts *opts, bool statement,
                           alchdb_exec_opts *full)
{
    memset(full, 0, sizeof *full);
    full->size = sizeof *full;
    if (!opts)
        return 0;
    /* The struct is append-only: a caller built against an older header
     * passes a smaller size (at least the first version's, whose last member
     * is `cache`) and gets defaults for the rest; a newer one passes a larger
     * size, fine as long as the members this library does not know are 0. */
    if (opts->size < OPTS_V1_SIZE)
        return alchdb__invalid_arg(func, "opts", "size must be sizeof(alchdb_exec_opts)");
    for (size_t i = sizeof *full; i < opts->size; i++)
        if (((const unsigned char *)opts)[i])
            return alchdb__error(ALCHDB_E_UNSUPPORTED,
                                 "%s: opts has members this library version (%s) does not know", func,
                                 alchdb_version_string());
    memcpy(full, opts, opts->size < sizeof *full ? opts->size : sizeof *full);
    full->size = sizeof *full;
    if (full->timeout_us < 0)
        return alchdb__invalid_arg(func, "opts", "timeout_us must be 0 (none) or positive");
    if (full->timeout_us > MAX_TIMEOUT_US)
        full->timeout_us = MAX_TIMEOUT_US;
    if (!statement && (full->flags || full->token || full->param_formats || full->param_lengths || full->cache))
        return alchdb__invalid_arg(func, "opts", "only timeout_us and cancel apply to this call");
    return 0;
}

int alchdb__check_exec_args(const char *func, const char *sql, int nparams, const char *const *params,
                            const alchdb_exec_opts *o)
{
    uint32_t flags = o->flags;
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
    for (int i = 0; o->param_formats && i < nparams; i++) {
        if (o->param_formats[i] != 0 && o->param_formats[i] != 1)
            return alchdb__invalid_arg(func, "opts", "param_formats: each entry must be 0 (text) or 1 (binary)");
        if (o->param_formats[i] == 1 && params[i] && (!o->param_lengths || o->param_lengths[i] < 0))
            return alchdb__invalid_arg(func, "opts",
                                       "param_lengths: required (>= 0) for every binary parameter");
    }
    return 0;
}

void alchdb__exec_ctx_init(alchdb__exec_ctx *ctx, const char *sql, int nparams, const char *const *params,
                           const alchdb_exec_opts *o, int64_t start_ns)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->sql = sql;
    ctx->sql_len = strlen(sql);
    ctx->sql_hash = alchdb__hash64(sql, ctx->sql_len, 0);
    ctx->nparams = nparams;
    ctx->params = params;
    bool binary = false;
    for (int i = 0; o->param_formats && i < nparams; i++)
        binary |= o->param_formats[i] == 1;
    if (binary) { /* all-text formats are the default: leave them out */
        ctx->param_formats = o->param_formats;
        ctx->param_lengths = o->param_lengths;
    }
    ctx->flags = o->flags;
    ctx->token = o->token;
    ctx->cancel = o->cancel;
    ctx->start_ns = start_ns;
    ctx->deadline_ns = o->timeout_us ? start_ns + o->timeout_us * 1000 : 0;
    ctx->route_host = -1;
    ctx->rows = -1;
    ctx->cache_query = o->cache;
}

void alchdb__client_finish(alchdb_client *c, alchdb__exec_ctx *ctx, int rc, alchdb_result *r)
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

int alchdb__client_query_error(const char *func, const alchdb_result *r)
{
    alchdb__error(ALCHDB_E_QUERY, "%s: %s: %s", func, r->sqlstate, r->message ? r->message : "");
    alchdb__set_error_sqlstate(r->sqlstate);
    return ALCHDB_E_QUERY;
}

void alchdb__err_save(alchdb__saved_error *e)
{
    e->code = alchdb_last_error_code();
    snprintf(e->sqlstate, sizeof e->sqlstate, "%s", alchdb_last_error_sqlstate());
    snprintf(e->msg, sizeof e->msg, "%s", alchdb_last_error_message());
}

int alchdb__err_restore(const alchdb__saved_error *e)
{
    alchdb__error(e->code, "%s", e->msg);
    alchdb__set_error_sqlstate(e->sqlstate);
    return e->code;
}

static void hand_out(alchdb_result *r, alchdb_result **out)
{
    if (out)
        *out = r;
    else
        alchdb_result_free(r);
}

/* ---- the execution path ------------------------------------------------------------ */

static int acquire(alchdb_client *c, alchdb__exec_ctx *ctx, alchdb_pool *failed, alchdb_conn **conn)
{
    if (c->route)
        return c->route->acquire(c->route_ud, ctx, failed, conn);
    /* ctx->start_ns is fresh unless a cache lookup ran first */
    int64_t now = c->cache ? alchdb__now_ns() : ctx->start_ns;
    return alchdb__pool_acquire_ex(ctx->pool, now, ctx->deadline_ns, ctx->cancel, TAG_EXEC, conn);
}

static void release(alchdb_client *c, alchdb__exec_ctx *ctx, alchdb_conn *conn, const char *sqlstate)
{
    if (c->route)
        c->route->release(c->route_ud, ctx, conn, sqlstate);
    else
        alchdb__pool_release_ex(ctx->pool, conn, ctx->deadline_ns);
}

int alchdb__client_exec_opts(const char *func, alchdb_client *c, const char *sql, int nparams,
                             const char *const *params, const alchdb_exec_opts *o, alchdb_result **out)
{
    int rc = alchdb__check_exec_args(func, sql, nparams, params, o);
    if (rc)
        return rc;
    if ((rc = alchdb__client_fork_check(c, func)) != 0)
        return rc;
    alchdb__exec_ctx ctx;
    alchdb__exec_ctx_init(&ctx, sql, nparams, params, o, alchdb__now_ns());
    ctx.pool = c->pool;
    alchdb_result *r = NULL;
    if (c->cache && c->cache->lookup(c->cache_ud, &ctx, &r) == 1 && r) {
        ctx.cache_hit = true;
        alchdb__client_finish(c, &ctx, r->status, r);
        hand_out(r, out);
        return ctx.rc;
    }
    alchdb_pool *failed = NULL;
    alchdb__saved_error err;
    for (int attempt = 0;; attempt++) {
        alchdb_conn *conn;
        rc = acquire(c, &ctx, failed, &conn);
        if (rc) {
            if (rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CANCELED) {
                char why[900];
                snprintf(why, sizeof why, "%s", alchdb_last_error_message());
                alchdb__error(rc, "%s: %s", func, why);
            }
            alchdb__err_save(&err);
            alchdb__client_finish(c, &ctx, rc, NULL);
            if (c->cache)
                c->cache->done(c->cache_ud, &ctx, NULL);
            return alchdb__err_restore(&err);
        }
        alchdb__slot *s = conn->slot;
        s->no_txn_warning = false;
        rc = alchdb__exec_on_conn(ctx.pool, s, &ctx, false, &r);
        if (rc == 0 || rc == ALCHDB_E_QUERY) {
            int misuse = alchdb__client_txn_misuse(func, s, r);
            if (misuse) {
                alchdb_result_free(r);
                r = NULL;
                rc = misuse;
            }
        } else if (rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CANCELED) {
            alchdb__exec_interrupted(func, rc, &ctx);
        }
        if (rc && rc != ALCHDB_E_QUERY)
            alchdb__err_save(&err);
        if (ctx.cache_state)
            c->cache->before_release(c->cache_ud, &ctx, s->pg);
        release(c, &ctx, conn, rc == ALCHDB_E_QUERY ? r->sqlstate : NULL);
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
    alchdb__client_finish(c, &ctx, rc, r);
    if (c->cache)
        c->cache->done(c->cache_ud, &ctx, r);
    if (rc == ALCHDB_E_QUERY)
        alchdb__client_query_error(func, r);
    else if (rc)
        alchdb__err_restore(&err);
    hand_out(r, out);
    return rc;
}

int alchdb__client_exec(const char *func, alchdb_client *c, const char *sql, int nparams,
                        const char *const *params, uint32_t flags, const char *token,
                        const struct alchdb_cache_query *cq, alchdb_result **out)
{
    if (out)
        *out = NULL;
    if (!c)
        return alchdb__invalid_arg(func, "client", "must not be NULL");
    alchdb_exec_opts o = {.size = sizeof o, .flags = flags, .token = token, .cache = cq};
    return alchdb__client_exec_opts(func, c, sql, nparams, params, &o, out);
}

ALCHDB_API int alchdb_client_exec_opts(alchdb_client *c, const char *sql, int nparams,
                                       const char *const *params, const alchdb_exec_opts *opts,
                                       alchdb_result **out)
{
    if (out)
        *out = NULL;
    ALCHDB_CHECK_ARG(c, "client", "must not be NULL");
    alchdb_exec_opts o;
    int rc = alchdb__exec_opts_load(__func__, opts, true, &o);
    if (rc)
        return rc;
    if (o.token && !c->route)
        return alchdb__error(ALCHDB_E_STATE, "%s: a token needs a router (alchdb_client_new_routed)", __func__);
    if (o.cache && (rc = alchdb__cache_query_check(c, o.cache, __func__)) != 0)
        return rc;
    return alchdb__client_exec_opts(__func__, c, sql, nparams, params, &o, out);
}

ALCHDB_API int alchdb_client_exec_flags(alchdb_client *c, const char *sql, int nparams,
                                        const char *const *params, uint32_t flags,
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
                                        const char *const *params, uint32_t flags,
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
