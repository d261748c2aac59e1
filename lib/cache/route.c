/* Where a read of a routed client must run so that its rows include every
 * write committed before it began: a replica that has replayed the write
 * positions of everything the read depends on, or the primary.
 *
 * The cache's version tokens carry those positions (ver.c): a miss or a
 * bypass whose dependencies are known asks the router for a replica past the
 * highest of them; when a position cannot be known (Redis down, a token
 * unknown or pending, a statement whose tables cannot all be named) the read
 * goes to the primary. docs/cache.md ("Replicas") has the argument. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cache/cache_priv.h"
#include "router/token.h"
#include "sql/sql_internal.h"

/* ---- the router's read-your-writes token ----------------------------------------
 * The only three places the cache knows the token: whether the router knows
 * its cluster yet, reading a token's position, writing one. */

static bool cluster_known(const alchdb__route_ref *r)
{
    uint64_t sysid;
    uint32_t tli;
    return r->hooks->cluster(r->ud, &sysid, &tli) == 0;
}

static int64_t token_lsn(const char *tok)
{
    alchdb__token t;
    return tok && alchdb__token_parse(tok, strlen(tok), &t, NULL) == 0 ? t.lsn : -1;
}

/* false when no token can be written (then the read goes to the primary). */
static bool token_for(const alchdb__route_ref *r, int64_t lsn, char *buf, size_t cap)
{
    alchdb__token t = {0, 0, lsn};
    return r->hooks->cluster(r->ud, &t.sysid, &t.timeline) == 0 &&
           alchdb__token_format(&t, buf, cap) > 0;
}

/* ---- steering --------------------------------------------------------------------- */

/* The statement's token must outlive this hook until the router acquires a
 * connection, which the client does next on the same thread. */
static _Thread_local char tl_token[ALCHDB__TOKEN_CAP];

static void to_primary(alchdb_cache *c, alchdb__exec_ctx *ctx)
{
    atomic_fetch_add_explicit(&c->routed_primary, 1, memory_order_relaxed);
    ctx->flags = (ctx->flags & ~(unsigned)ALCHDB_EXEC_READ) | ALCHDB_EXEC_PRIMARY;
}

/* A replica that has replayed need, else the primary (the router decides). */
static void at_position(alchdb_cache *c, const alchdb__route_ref *r, alchdb__exec_ctx *ctx, int64_t need)
{
    if (ctx->token && token_lsn(ctx->token) >= need) {
        atomic_fetch_add_explicit(&c->routed_position, 1, memory_order_relaxed);
        return; /* the caller's own token asks for at least as much */
    }
    if (!token_for(r, need, tl_token, sizeof tl_token)) {
        to_primary(c, ctx);
        return;
    }
    atomic_fetch_add_explicit(&c->routed_position, 1, memory_order_relaxed);
    ctx->token = tl_token;
}

/* Whether the router would consider a replica at all for ctx. */
static bool replica_possible(const alchdb__route_ref *r, const alchdb__exec_ctx *ctx)
{
    return r->hooks && !(ctx->flags & ALCHDB_EXEC_PRIMARY) && r->hooks->has_replicas(r->ud);
}

/* The primary's current write position (a round trip to it), or -1. */
static int64_t primary_position(const alchdb__route_ref *r)
{
    char tok[ALCHDB__TOKEN_CAP];
    return r->hooks->primary_token(r->ud, tok, sizeof tok) == 0 ? token_lsn(tok) : -1;
}

/* Give tokens of unknown write position ("u": created at first use, by an
 * unrouted writer, or after invalidations were lost) the primary's current
 * position. Safe: every write before now is at or below it, and a write
 * after it replaces the token, which makes the compare-and-set fail. */
static int64_t resolve_unknown(alchdb_cache *c, const alchdb__route_ref *r, const vset *vs, alchdb__cache_ver *expected)
{
    int64_t now = primary_position(r);
    if (now < 0)
        return -1;
    for (size_t i = 0; i < vs->n; i++) {
        if (alchdb__cache_ver_state(&expected[i], NULL) != ALCHDB__VER_UNKNOWN)
            continue;
        alchdb__cache_ver v;
        alchdb__cache_ver_new(&v, now);
        if (c->be->ops->cas(c->be, vs->names[i], &expected[i], &v, vs->ttl_ms[i]) != 1)
            return -1; /* moved meanwhile (or unreachable): not worth a second try */
        expected[i] = v;
    }
    return now;
}

void alchdb__cache_route_miss(alchdb_cache *c, const alchdb__route_ref *r, const vset *vs, alchdb__cache_ver *expected,
                              alchdb__exec_ctx *ctx)
{
    if (!replica_possible(r, ctx))
        return;
    if (!cluster_known(r)) {
        to_primary(c, ctx);
        return;
    }
    int64_t need = 0;
    bool unknown = false;
    for (size_t i = 0; i < vs->n; i++) {
        int64_t l;
        int s = alchdb__cache_ver_state(&expected[i], &l);
        if (s == ALCHDB__VER_ABSENT || s == ALCHDB__VER_PENDING) { /* cannot be resolved: no fill either */
            to_primary(c, ctx);
            return;
        }
        unknown |= s == ALCHDB__VER_UNKNOWN;
        need = l > need ? l : need;
    }
    if (unknown) {
        int64_t now = resolve_unknown(c, r, vs, expected);
        if (now < 0) {
            to_primary(c, ctx);
            return;
        }
        need = now > need ? now : need;
    }
    at_position(c, r, ctx, need);
}

void alchdb__cache_route_bypass(alchdb_cache *c, const alchdb__route_ref *r, const vset *deps, alchdb__exec_ctx *ctx)
{
    if (!replica_possible(r, ctx))
        return;
    if (!deps || !cluster_known(r)) {
        to_primary(c, ctx);
        return;
    }
    /* The positions of what it reads, without the entry: one round trip. */
    alchdb__cache_ver cur[CACHE_MAX_VKEYS];
    unsigned char *none = NULL;
    size_t none_len = 0;
    if (c->be->ops->fetch(c->be, NULL, deps->n, (const char *const *)deps->names, cur, &none, &none_len) < 0) {
        atomic_fetch_add(&c->backend_errors, 1);
        to_primary(c, ctx);
        return;
    }
    int64_t need = 0;
    for (size_t i = 0; i < deps->n; i++) {
        int64_t l;
        if (alchdb__cache_ver_state(&cur[i], &l) != ALCHDB__VER_KNOWN) {
            to_primary(c, ctx); /* absent, unknown or a write in flight */
            return;
        }
        need = l > need ? l : need;
    }
    at_position(c, r, ctx, need);
}

void alchdb__cache_route_txn(alchdb_cache *c, const alchdb__route_ref *r, alchdb__exec_ctx *ctx)
{
    /* A transaction the router may run on a replica (by the same rule the
     * router uses) reads tables nobody names in advance: it needs everything
     * committed so far, the primary's current position. */
    if (!r->hooks || !r->hooks->has_replicas(r->ud) || !ctx->sql || !alchdb__sql_txn_replica_ok(ctx->sql, ctx->sql_len))
        return;
    int64_t now = primary_position(r);
    if (now < 0) {
        alchdb__log(ALCHDB_LOG_WARN, "cache", "cannot read the primary's write position (%s): the read-only "
                    "transaction runs where the router sends it", alchdb_last_error_message());
        return;
    }
    at_position(c, r, ctx, now);
}
