/* The cache on the client's execution path (the cache seam of
 * client/seams.h): what each statement reads and writes, the lookup with
 * its version check, single flight and leases on a miss, the check-and-set
 * fill, and the invalidation after a write commits. docs/cache.md explains
 * why this never serves a result older than a write whose commit returned. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/cache_priv.h"
#include "router/token.h"

/* ---- per-client binding ------------------------------------------------------- */

#define STMT_BUCKETS 2048
#define STMT_MAX 8192

typedef struct binding {
    alchdb_cache *cache;
    alchdb_client *client;
    char *scope;
    alchdb__route_ref route; /* routed clients: reads run where their positions were replayed */

    pthread_mutex_t lock;
    pthread_cond_t loaded; /* a catalog load finished */
    uint8_t identity[16];
    cache_catalog *cat;
    bool loading, reload;
    int64_t next_load_ns;
    stmt_info *stmts[STMT_BUCKETS];
    size_t nstmts;
    char **temps; /* relations created as TEMPORARY through this client */
    size_t ntemps;
    _Atomic int any_temps; /* ntemps > 0: lets reads skip the lock */
} binding;

/* ---- statement facts ---------------------------------------------------------- */

static void stmt_release(stmt_info *si)
{
    if (!si || atomic_fetch_sub(&si->refs, 1) != 1)
        return;
    alchdb__names_free(si->read, si->nread);
    alchdb__names_free(si->written, si->nwritten);
    alchdb__names_free(si->read_schema, si->nread);
    alchdb__names_free(si->written_schema, si->nwritten);
    alchdb__free(si->sql);
    alchdb__sql_release(si->a);
    alchdb__free(si);
}

static bool system_rel(const char *schema, const char *name)
{
    return (schema && (!strcmp(schema, "pg_catalog") || !strcmp(schema, "information_schema"))) ||
           !strncmp(name, "pg_", 3);
}

/* Add relation (schema, name) to a statement's list: version keys use the
 * name; the schema picks the catalog's facts, and a name met in several
 * schemas gets them all (schema NULL). */
static bool add_rel(char ***names, char ***schemas, size_t *n, const char *schema, const char *name)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp((*names)[i], name))
            continue;
        if ((*schemas)[i] && (!schema || strcmp((*schemas)[i], schema))) {
            alchdb__free((*schemas)[i]);
            (*schemas)[i] = NULL;
        }
        return true;
    }
    char **gs = alchdb__realloc(*schemas, (*n + 1) * sizeof *gs);
    if (!gs)
        return false;
    *schemas = gs;
    gs[*n] = NULL;
    if (schema && !(gs[*n] = alchdb__strdup(schema)))
        return false;
    size_t before = *n;
    if (!alchdb__names_add(names, n, name, strlen(name))) {
        alchdb__free(gs[before]);
        gs[before] = NULL;
        return false;
    }
    return true;
}

/* Facts of one statement of the analysis into si. */
static int classify_one(stmt_info *si, const alchdb_sql_analysis *a, size_t i, bool single)
{
    uint32_t f = 0;
    alchdb_sql_stmt_flags(a, i, &f);
    int kind = alchdb_sql_stmt_kind(a, i);
    for (int which = 0; which < 2; which++) {
        size_t n = alchdb_sql_stmt_table_count(a, i, which);
        for (size_t j = 0; j < n; j++) {
            const char *schema, *rel;
            alchdb_sql_stmt_table_name(a, i, which, j, &schema, &rel);
            if (which == ALCHDB_SQL_TABLES_READ && system_rel(schema, rel) && si->bypass < 0)
                si->bypass = ALCHDB_CACHE_BYPASS_SYSTEM_CATALOG;
            bool ok = which == ALCHDB_SQL_TABLES_READ
                          ? add_rel(&si->read, &si->read_schema, &si->nread, schema, rel)
                          : add_rel(&si->written, &si->written_schema, &si->nwritten, schema, rel);
            if (!ok)
                return alchdb__nomem("cache statement");
        }
    }
    if (f & ALCHDB_SQL_READ_ONLY) {
        if (!single || (f & ALCHDB_SQL_TXN_CONTROL))
            si->bypass = ALCHDB_CACHE_BYPASS_NOT_CACHEABLE;
        else if (f & ALCHDB_SQL_LOCKING)
            si->bypass = ALCHDB_CACHE_BYPASS_LOCKING;
        else if (f & ALCHDB_SQL_VOLATILE)
            si->bypass = ALCHDB_CACHE_BYPASS_VOLATILE;
        else if (f & ALCHDB_SQL_TEMP_TABLE)
            si->bypass = ALCHDB_CACHE_BYPASS_TEMP_TABLE;
        else if (!(f & ALCHDB_SQL_CACHEABLE) && si->bypass < 0)
            si->bypass = ALCHDB_CACHE_BYPASS_NOT_CACHEABLE;
        return 0;
    }
    /* Not read-only: it writes, changes session state, or calls something with side effects. */
    si->bypass = (f & ALCHDB_SQL_LOCKING) ? ALCHDB_CACHE_BYPASS_LOCKING : ALCHDB_CACHE_BYPASS_WRITE;
    if (kind == ALCHDB_SQL_DDL) {
        si->writes = si->ddl = true;
        si->creates_temp |= (f & ALCHDB_SQL_TEMP_TABLE) != 0;
    } else if (kind == ALCHDB_SQL_UTILITY && alchdb_sql_stmt_table_count(a, i, ALCHDB_SQL_TABLES_WRITTEN) == 0) {
        /* CALL, DO and EXECUTE run code we cannot see; SET, LISTEN, ... write nothing. */
        if (alchdb__sql_stmt_opaque(a, i))
            si->writes = si->writes_unknown = true;
        else if (si->bypass == ALCHDB_CACHE_BYPASS_WRITE)
            si->bypass = ALCHDB_CACHE_BYPASS_NOT_CACHEABLE;
    } else if (kind == ALCHDB_SQL_SELECT && (f & ALCHDB_SQL_LOCKING) &&
               alchdb_sql_stmt_table_count(a, i, ALCHDB_SQL_TABLES_WRITTEN) == 0) {
        si->bypass = ALCHDB_CACHE_BYPASS_LOCKING; /* FOR UPDATE/SHARE: locks rows, changes none */
    } else if (kind == ALCHDB_SQL_TRANSACTION) {
        si->bypass = ALCHDB_CACHE_BYPASS_NOT_CACHEABLE;
    } else if (alchdb_sql_stmt_table_count(a, i, ALCHDB_SQL_TABLES_WRITTEN) > 0) {
        si->writes = true;
    } else if (f & ALCHDB_SQL_SIDE_EFFECTS) {
        si->bypass = ALCHDB_CACHE_BYPASS_VOLATILE; /* nextval(), advisory locks: no table changes */
    } else {
        si->writes = si->writes_unknown = true;
    }
    return 0;
}

static stmt_info *stmt_build(const char *sql, size_t len, uint64_t hash)
{
    stmt_info *si = alchdb__calloc(1, sizeof *si);
    if (!si || !(si->sql = alchdb__strndup(sql, len))) {
        alchdb__free(si);
        return NULL;
    }
    atomic_init(&si->refs, 1);
    si->hash = hash;
    si->len = len;
    si->bypass = -1;
    int err = 0;
    const alchdb_sql_analysis *a = alchdb__sql_analyze_shared(sql, len, &err);
    if (!a || err) {
        /* Unparseable here; the server may still run it (newer syntax): if it
         * succeeds it may have written anything. */
        si->bypass = err == ALCHDB_E_PARSE ? ALCHDB_CACHE_BYPASS_PARSE_ERROR : ALCHDB_CACHE_BYPASS_NOT_CACHEABLE;
        si->writes = si->writes_unknown = true;
        alchdb__sql_release(a);
        return si;
    }
    size_t n = alchdb_sql_analysis_count(a);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = classify_one(si, a, i, n == 1);
    if (n == 0)
        si->bypass = ALCHDB_CACHE_BYPASS_NOT_CACHEABLE;
    if (rc == 0 && n == 1) {
        /* Borrowed from the analysis, which si keeps: computed from its one
         * parse tree, not parsed again. */
        alchdb_sql_stmt_fingerprint(a, 0, &si->fingerprint);
        si->normalized = alchdb_sql_stmt_normalized(a, 0);
        si->rt = alchdb__sql_row_target_of(a);
    }
    si->a = a;
    if (rc) {
        stmt_release(si);
        return NULL;
    }
    return si;
}

static stmt_info *stmt_get(binding *b, const char *sql, size_t len, uint64_t hash)
{
    size_t k = (size_t)(hash % STMT_BUCKETS);
    pthread_mutex_lock(&b->lock);
    for (stmt_info *si = b->stmts[k]; si; si = si->next) {
        if (si->hash == hash && si->len == len && !memcmp(si->sql, sql, len)) {
            atomic_fetch_add(&si->refs, 1);
            pthread_mutex_unlock(&b->lock);
            return si;
        }
    }
    pthread_mutex_unlock(&b->lock);
    stmt_info *si = stmt_build(sql, len, hash);
    if (!si)
        return NULL;
    pthread_mutex_lock(&b->lock);
    if (b->nstmts >= STMT_MAX) { /* many one-off texts: start over rather than track recency */
        for (size_t i = 0; i < STMT_BUCKETS; i++) {
            while (b->stmts[i]) {
                stmt_info *x = b->stmts[i];
                b->stmts[i] = x->next;
                stmt_release(x);
            }
        }
        b->nstmts = 0;
    }
    atomic_fetch_add(&si->refs, 1);
    si->next = b->stmts[k];
    b->stmts[k] = si;
    b->nstmts++;
    pthread_mutex_unlock(&b->lock);
    return si;
}

/* ---- catalog and identity -------------------------------------------------------- */

/* The current catalog (a reference, or NULL when it could not be read) and
 * the identity. Loads or refreshes it when may_load (never while the caller
 * holds a connection: the pool may have only one). */
static cache_catalog *catalog_get(binding *b, bool may_load, int64_t deadline_ns, uint8_t identity[16])
{
    int64_t now = alchdb__now_ns();
    int64_t refresh_ns = alchdb__opts_i(&b->cache->cfg, ALCHDB_CACHE_OPT_CATALOG_REFRESH) * 1000;
    pthread_mutex_lock(&b->lock);
    bool stale = !b->cat || b->reload || now - b->cat->loaded_ns > refresh_ns;
    if (may_load && stale && !b->loading && now >= b->next_load_ns) {
        b->loading = true;
        pthread_mutex_unlock(&b->lock);
        uint8_t id[16];
        cache_catalog *fresh = NULL;
        int rc = alchdb__catalog_load(alchdb_client_pool(b->client), b->scope, deadline_ns, id, &fresh);
        if (rc)
            alchdb__log(ALCHDB_LOG_WARN, "cache", "cannot read the catalog (%s): reads bypass the cache",
                        alchdb_last_error_message());
        pthread_mutex_lock(&b->lock);
        b->loading = false;
        pthread_cond_broadcast(&b->loaded);
        if (rc == 0) {
            alchdb__catalog_release(b->cat);
            b->cat = fresh;
            memcpy(b->identity, id, 16);
            b->reload = false;
        } else {
            b->next_load_ns = now + 1000000000; /* retry in a second, not on every statement */
        }
    }
    /* The first statements wait for the first load rather than bypass, up
     * to their own deadline (then they bypass: no catalog). */
    while (may_load && !b->cat && b->loading) {
        if (!deadline_ns) {
            pthread_cond_wait(&b->loaded, &b->lock);
            continue;
        }
        int64_t left_ns = deadline_ns - alchdb__now_ns();
        if (left_ns <= 0)
            break;
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at); /* the condition variable's clock */
        int64_t ns = at.tv_nsec + left_ns % 1000000000;
        at.tv_sec += (time_t)(left_ns / 1000000000 + ns / 1000000000);
        at.tv_nsec = (long)(ns % 1000000000);
        pthread_cond_timedwait(&b->loaded, &b->lock, &at);
    }
    cache_catalog *cat = b->cat;
    if (cat) {
        atomic_fetch_add(&cat->refs, 1);
        memcpy(identity, b->identity, 16);
    }
    pthread_mutex_unlock(&b->lock);
    return cat;
}

static bool is_temp(binding *b, const char *rel)
{
    if (!atomic_load_explicit(&b->any_temps, memory_order_acquire))
        return false;
    bool t = false;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->ntemps && !t; i++)
        t = strcmp(b->temps[i], rel) == 0;
    pthread_mutex_unlock(&b->lock);
    return t;
}

/* ---- version keys of a statement ------------------------------------------------ */

static int64_t row_ttl(const alchdb_cache *c)
{
    /* Row keys expire (there are many); an expired key only causes misses. */
    return c->max_ttl_ms + 60000;
}

static const char *eq_value(const alchdb__sql_eq *e, const alchdb__exec_ctx *ctx)
{
    if (e->param > 0) {
        if (e->param > ctx->nparams)
            return NULL;
        if (ctx->param_formats && ctx->param_formats[e->param - 1] == 1)
            return NULL; /* binary bytes are not a text key: the table-level key is used */
        return ctx->params[e->param - 1];
    }
    return e->literal;
}

/* The canonical key of the row a single-row statement targets, or false. */
static bool row_key(const alchdb__sql_row_target *rt, const rel_info *ri, const alchdb__exec_ctx *ctx, char *buf,
                    size_t cap)
{
    if (!rt || !ri || ri->pk_class == PK_NONE || ri->is_view)
        return false;
    for (size_t i = 0; i < rt->nset; i++) /* UPDATE SET, ON CONFLICT DO UPDATE SET */
        if (strcmp(rt->set_cols[i], ri->pk_col) == 0)
            return false; /* moves the row to another key */
    if (rt->kind == ALCHDB_SQL_INSERT && rt->on_conflict == 2 &&
        (rt->nconflict != 1 || strcmp(rt->conflict_cols[0], ri->pk_col) != 0))
        return false; /* may update a row found through another constraint */
    for (size_t i = 0; i < rt->neq; i++)
        if (strcmp(rt->eq[i].column, ri->pk_col) == 0)
            return alchdb__catalog_canon_key(ri->pk_class, eq_value(&rt->eq[i], ctx), buf, cap);
    return false;
}

/* What a read depends on; returns -1 or a bypass reason. */
static int read_deps(binding *b, const stmt_info *si, const cache_catalog *cat, const alchdb__exec_ctx *ctx, vset *vs)
{
    alchdb_cache *c = b->cache;
    alchdb__vset_add(vs, alchdb__strdup(c->epoch_key), 0);
    for (size_t i = 0; i < si->nread; i++) {
        const char *rel = si->read[i];
        const rel_info *ri = alchdb__catalog_rel(cat, si->read_schema[i], rel);
        if ((ri && ri->temp) || is_temp(b, rel))
            return ALCHDB_CACHE_BYPASS_TEMP_TABLE;
        if (ri && ri->volatile_rel)
            return ALCHDB_CACHE_BYPASS_VOLATILE;
        char key[256];
        if (c->pk_inval && si->nread == 1 && si->rt && si->rt->kind == ALCHDB_SQL_SELECT &&
            row_key(si->rt, ri, ctx, key, sizeof key)) {
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "r", rel, key), row_ttl(c));
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "b", rel, NULL), 0);
        } else {
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "t", rel, NULL), 0);
        }
        for (size_t k = 0; ri && k < ri->nbase; k++)
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "t", ri->base[k].name, NULL), 0);
    }
    /* Every function the read calls, by its exact name: one the catalog
     * distrusts or does not know makes the result uncacheable. */
    size_t ncalls = si->a && alchdb_sql_analysis_count(si->a) == 1 ? alchdb_sql_stmt_function_count(si->a, 0) : 0;
    for (size_t i = 0; i < ncalls; i++) {
        const char *schema, *name;
        alchdb_sql_stmt_function(si->a, 0, i, &schema, &name);
        if (alchdb__catalog_func(cat, schema, name) != 0)
            return ALCHDB_CACHE_BYPASS_VOLATILE;
    }
    const alchdb_cache_query *q = ctx->cache_query;
    for (size_t i = 0; q && i < q->ntags; i++)
        alchdb__vset_add(vs, alchdb__cache_vkey(c, "g", q->tags[i], NULL), 0);
    return vs->overflow ? ALCHDB_CACHE_BYPASS_TOO_MANY_TABLES : -1;
}

/* What a write invalidates, added to vs. Returns true when only a namespace
 * bump is safe. */
static bool write_deps(binding *b, const stmt_info *si, const cache_catalog *cat, const alchdb__exec_ctx *ctx,
                       vset *vs)
{
    alchdb_cache *c = b->cache;
    if (!si || si->writes_unknown || si->ddl || !cat)
        return true;
    for (size_t i = 0; i < si->nwritten; i++) {
        const char *rel = si->written[i];
        const rel_info *ri = alchdb__catalog_rel(cat, si->written_schema[i], rel);
        if (ri && ri->has_triggers && !c->trust_triggers)
            return true;
        char key[256];
        if (c->pk_inval && si->nwritten == 1 && row_key(si->rt, ri, ctx, key, sizeof key)) {
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "r", rel, key), row_ttl(c));
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "t", rel, NULL), 0);
        } else {
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "t", rel, NULL), 0);
            alchdb__vset_add(vs, alchdb__cache_vkey(c, "b", rel, NULL), 0);
        }
        /* Writes through a view land in its base tables; foreign-key actions
         * in child tables (and their children: a bounded walk). */
        const rel_info *todo[32];
        size_t ntodo = 0;
        if (ri)
            todo[ntodo++] = ri;
        for (size_t t = 0; t < ntodo; t++) {
            const rel_info *x = todo[t];
            for (size_t k = 0; k < x->nbase + x->nchild; k++) {
                const rel_ref *oref = k < x->nbase ? &x->base[k] : &x->child[k - x->nbase];
                const char *other = oref->name;
                const rel_info *ox = alchdb__catalog_rel(cat, oref->schema, other);
                if (ox && ox->has_triggers && !c->trust_triggers)
                    return true;
                alchdb__vset_add(vs, alchdb__cache_vkey(c, "t", other, NULL), 0);
                alchdb__vset_add(vs, alchdb__cache_vkey(c, "b", other, NULL), 0);
                if (ox && ntodo < 32 && k >= x->nbase) {
                    bool seen = false;
                    for (size_t s = 0; s < ntodo; s++)
                        seen |= todo[s] == ox;
                    if (!seen)
                        todo[ntodo++] = ox;
                } else if (ox && ntodo == 32) {
                    return true; /* a deeper cascade than we follow */
                }
            }
        }
    }
    return vs->overflow;
}

/* ---- per-statement state -------------------------------------------------------- */

enum { ST_READ = 1, ST_WRITE = 2 };

struct cache_flight {
    uint8_t key[16];
    uint64_t vers_hash;
    int refs;
    bool done;
    PGresult *res; /* the leader's result for waiting followers (owned), or NULL */
    int64_t exec_us;
    pthread_cond_t cond;
    cache_flight *next;
};

typedef struct exec_state {
    int mode;
    stmt_info *si;
    vset vs;
    /* reads */
    uint8_t key[16];
    char keystr[160];
    char lease_key[170];
    char lease_token[24];
    bool lease_held, no_fill;
    uint64_t deps_hash;
    alchdb__cache_ver expected[CACHE_MAX_VKEYS];
    int64_t ttl_ms;
    cache_flight *flight;
    cache_pattern *pattern;
    /* writes */
    bool epoch;
    int64_t lsn;
    size_t nmarked;  /* how many of vs.names are marked in flight (the first ones) */
    bool epoch_marked; /* the namespace epoch is marked in flight */
    char writer[17]; /* id of this write's marks in the backend, and of its tokens */
    bool marked;     /* its marks were placed in the backend (ahead of the commit) */
} exec_state;

static void state_free(exec_state *st)
{
    if (!st)
        return;
    stmt_release(st->si);
    alchdb__vset_clear(&st->vs);
    alchdb__free(st);
}

/* What the thread's last statement did (a test seam: alchdb__cache_last_statement). */
static _Thread_local alchdb__cache_last tl_last = {ALCHDB__CACHE_PATH_NONE, -1, -1};

alchdb__cache_last alchdb__cache_last_statement(void)
{
    return tl_last;
}

static void note_path(int path, int reason)
{
    tl_last.path = path;
    tl_last.reason = reason;
    tl_last.host = -1;
}

static void count_bypass(alchdb_cache *c, int reason)
{
    atomic_fetch_add_explicit(&c->bypasses, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&c->bypass[reason], 1, memory_order_relaxed);
    note_path(ALCHDB__CACHE_PATH_BYPASS, reason);
}

/* A read the cache does not answer still needs a server that has every
 * write committed before it began: deps, when known, give the positions. */
static void bypass_read(binding *b, alchdb__exec_ctx *ctx, int reason, const vset *deps)
{
    count_bypass(b->cache, reason);
    alchdb__cache_route_bypass(b->cache, &b->route, deps, ctx);
}

/* ---- keys ------------------------------------------------------------------------ */

static void entry_key(binding *b, const uint8_t identity[16], const alchdb__exec_ctx *ctx, uint8_t out[16])
{
    alchdb__sip128 s;
    alchdb__sip128_init(&s, b->cache->hash_key);
    alchdb__sip128_field(&s, identity, 16);
    uint8_t fmt = (ctx->flags & ALCHDB_EXEC_BINARY_RESULT) ? 1 : 0;
    alchdb__sip128_field(&s, &fmt, 1);
    alchdb__sip128_field(&s, ctx->sql, ctx->sql_len);
    uint32_t np = (uint32_t)ctx->nparams;
    alchdb__sip128_field(&s, &np, sizeof np);
    for (int i = 0; i < ctx->nparams; i++) {
        bool bin = ctx->param_formats && ctx->param_formats[i] == 1;
        if (!ctx->params[i]) {
            alchdb__sip128_null(&s);
        } else {
            uint8_t f = bin ? 1 : 0; /* the same bytes as text and as binary mean different values */
            alchdb__sip128_field(&s, &f, 1);
            alchdb__sip128_field(&s, ctx->params[i], bin ? (size_t)ctx->param_lengths[i] : strlen(ctx->params[i]));
        }
    }
    const alchdb_cache_query *q = ctx->cache_query;
    for (size_t i = 0; q && i < q->ntags; i++)
        alchdb__sip128_field(&s, q->tags[i], strlen(q->tags[i]));
    alchdb__sip128_final(&s, out);
}

/* "<prefix>:e:<32 hex>" and its lease key (on every lookup: no printf). */
static void format_key(const alchdb_cache *c, exec_state *st)
{
    static const char hex[] = "0123456789abcdef";
    size_t p = strlen(c->prefix); /* at most 100 (config) */
    memcpy(st->keystr, c->prefix, p);
    memcpy(st->keystr + p, ":e:", 3);
    p += 3;
    for (int i = 0; i < 16; i++) {
        st->keystr[p++] = hex[st->key[i] >> 4];
        st->keystr[p++] = hex[st->key[i] & 15];
    }
    st->keystr[p] = '\0';
    memcpy(st->lease_key, st->keystr, p);
    memcpy(st->lease_key + p, ":lease", 7);
}

static uint64_t names_hash(const vset *vs)
{
    uint64_t h = 0;
    for (size_t i = 0; i < vs->n; i++)
        h = alchdb__hash64(vs->names[i], strlen(vs->names[i]), h + 1);
    return h;
}

static uint64_t vers_hash(const alchdb__cache_ver *v, size_t n)
{
    uint64_t h = 0;
    for (size_t i = 0; i < n; i++)
        h = alchdb__hash64(v[i].v, strlen(v[i].v), h + 1);
    return h;
}

/* ---- results ---------------------------------------------------------------------- */

static alchdb_result *wrap_hit(PGresult *res)
{
    alchdb_result *r = alchdb__result_wrap(res, NULL);
    if (r)
        snprintf(r->cmd_tag, sizeof r->cmd_tag, "SELECT %d", PQntuples(res));
    return r;
}

/* Serve a decoded entry when it is current. 1 hit, 0 miss. */
static int try_entry(alchdb_cache *c, exec_state *st, const alchdb__cache_ver *cur, unsigned char *entry,
                     size_t len, alchdb_result **out)
{
    PGresult *res = NULL;
    int64_t exec_us = 0;
    int d = alchdb__cache_decode(entry, len, st->key, st->deps_hash, st->vs.n, cur, &res, &exec_us);
    if (d == 0) {
        alchdb_result *r = wrap_hit(res);
        if (r) {
            atomic_fetch_add(&c->bytes_served, (int64_t)len);
            atomic_fetch_add(&c->saved_us, exec_us);
            if (st->pattern)
                atomic_fetch_add(&st->pattern->saved_us, exec_us);
            *out = r;
            return 1;
        }
        return 0;
    }
    if (d < 0) {
        /* Corrupt or foreign bytes under our key: a miss, and remove them. */
        atomic_fetch_add(&c->misses_corrupt, 1);
        c->be->ops->del(c->be, st->keystr);
        return -1;
    }
    return -2; /* stale */
}

/* ---- single flight ------------------------------------------------------------ */

static void wait_flight(alchdb_cache *c, cache_flight *f, int64_t wait_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + (wait_us > 0 ? wait_us : 1000) * 1000;
    ts.tv_sec += (time_t)(ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    while (!f->done)
        if (pthread_cond_timedwait(&f->cond, &c->lock, &ts) != 0)
            break;
}

static void flight_unref_locked(cache_flight *f)
{
    if (--f->refs > 0)
        return;
    PQclear(f->res);
    pthread_cond_destroy(&f->cond);
    alchdb__free(f);
}

/* Join a flight for the same key begun with the same versions (its result is
 * then fresh enough for us), or lead a new one. Returns a result when one was
 * received, NULL otherwise; st->flight is set when we lead. */
static PGresult *flight_join(alchdb_cache *c, exec_state *st, uint64_t vh)
{
    pthread_mutex_lock(&c->lock);
    cache_flight *f = c->flights;
    while (f && memcmp(f->key, st->key, 16) != 0)
        f = f->next;
    if (f && f->vers_hash == vh && !f->done) {
        f->refs++;
        /* Bounded: a stuck leader costs at most the lease wait (or 5 s). */
        wait_flight(c, f, c->lease_wait_us > 0 ? c->lease_wait_us : 5000000);
        PGresult *res = f->res ? PQcopyResult(f->res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES) : NULL;
        flight_unref_locked(f);
        pthread_mutex_unlock(&c->lock);
        return res;
    }
    if (!f) {
        f = alchdb__calloc(1, sizeof *f);
        if (f) {
            memcpy(f->key, st->key, 16);
            f->vers_hash = vh;
            f->refs = 1;
            pthread_cond_init(&f->cond, NULL);
            f->next = c->flights;
            c->flights = f;
            st->flight = f;
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void flight_finish(alchdb_cache *c, exec_state *st, const alchdb_result *res)
{
    cache_flight *f = st->flight;
    if (!f)
        return;
    pthread_mutex_lock(&c->lock);
    for (cache_flight **pp = &c->flights; *pp; pp = &(*pp)->next) {
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    }
    if (f->refs > 1 && res && res->status == 0 && res->res && PQresultStatus(res->res) == PGRES_TUPLES_OK)
        f->res = PQcopyResult(res->res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
    f->done = true;
    pthread_cond_broadcast(&f->cond);
    flight_unref_locked(f);
    pthread_mutex_unlock(&c->lock);
    st->flight = NULL;
}

/* ---- lookup --------------------------------------------------------------------- */

static bool any_pending(const alchdb__cache_ver *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (alchdb__cache_ver_state(&v[i], NULL) == ALCHDB__VER_PENDING)
            return true;
    return false;
}

/* Writes in flight are marked on the version keys they will bump, so a
 * single-row write holds back reads of that row and of table-level entries,
 * not lookups of other rows. A write that can only bump the namespace marks
 * the epoch, which every read depends on. */
static void mark_in_flight(alchdb_cache *c, exec_state *st)
{
    if (st->epoch) {
        if (!st->epoch_marked) {
            alchdb__cache_inflight_add(c, &c->epoch_key, 1);
            st->epoch_marked = true;
        }
        return;
    }
    alchdb__cache_inflight_add(c, st->vs.names + st->nmarked, st->vs.n - st->nmarked);
    st->nmarked = st->vs.n;
}

static void unmark_in_flight(alchdb_cache *c, exec_state *st)
{
    if (st->epoch_marked)
        alchdb__cache_inflight_remove(c, &c->epoch_key, 1);
    alchdb__cache_inflight_remove(c, st->vs.names, st->nmarked);
    st->epoch_marked = false;
    st->nmarked = 0;
}

/* Marks in the backend, placed before the write can commit. If its bump
 * never arrives (the process dies between commit and bump, or loses Redis),
 * every process sharing the backend stops serving what it wrote until the
 * marks expire (write_mark_ttl), and the keys are then absent: nothing
 * filled before is ever current again. A mark that cannot be placed leaves
 * the bump after the commit (always attempted) as the invalidation. */
static void mark_ahead(alchdb_cache *c, exec_state *st)
{
    vset epoch = {.n = 1};
    epoch.names[0] = c->epoch_key; /* borrowed: never cleared */
    int rc = alchdb__cache_mark(c, st->epoch ? &epoch : &st->vs, st->writer);
    if (rc > 0) {
        st->marked = true;
        atomic_fetch_add_explicit(&c->write_marks, 1, memory_order_relaxed);
    }
}

/* The state of a write whose details could not be remembered (out of
 * memory): invalidate the whole namespace after it, which needs nothing. */
static exec_state epoch_after;

static int lookup_write(binding *b, stmt_info *si, alchdb__exec_ctx *ctx)
{
    alchdb_cache *c = b->cache;
    count_bypass(c, ALCHDB_CACHE_BYPASS_WRITE);
    exec_state *st = alchdb__calloc(1, sizeof *st);
    if (!st) {
        stmt_release(si);
        ctx->cache_state = &epoch_after;
        return 0;
    }
    st->mode = ST_WRITE;
    st->si = si;
    st->lsn = -1;
    alchdb__cache_random_hex(st->writer);
    uint8_t id[16];
    cache_catalog *cat = catalog_get(b, true, ctx->deadline_ns, id);
    st->epoch = write_deps(b, si, cat, ctx, &st->vs);
    alchdb__catalog_release(cat);
    mark_in_flight(c, st);
    mark_ahead(c, st); /* a statement outside a transaction commits when it ends */
    ctx->cache_state = st;
    return 0;
}

static int h_lookup(void *ud, alchdb__exec_ctx *ctx, alchdb_result **out)
{
    binding *b = ud;
    alchdb_cache *c = b->cache;
    const alchdb_cache_query *q = ctx->cache_query;
    unsigned qf = q ? q->flags : 0;
    stmt_info *si = stmt_get(b, ctx->sql, ctx->sql_len, ctx->sql_hash);
    if (!si || si->writes)
        return lookup_write(b, si, ctx); /* si NULL (no memory): treated as an unknown write */
    int reason = si->bypass;
    int64_t token_need;
    if (reason < 0 && ctx->token && b->route.hooks &&
        b->route.hooks->token_verdict(b->route.ud, ctx->token, &token_need) != ALCHDB__TOKEN_OK) {
        /* A token that does not parse, names another cluster, or names a
         * write the router cannot find on the current timeline is the
         * router's to judge (it refuses it, or the primary serves the read
         * and counts the token): no cached result may stand in for that
         * answer, and the cache does not re-route the read either. */
        count_bypass(c, ALCHDB_CACHE_BYPASS_NOT_CACHEABLE);
        stmt_release(si);
        return 0;
    }
    if (reason < 0 && ((qf & ALCHDB_CACHE_SKIP) || (!c->cache_all && !q)))
        reason = ALCHDB_CACHE_BYPASS_SKIP_FLAG;
    /* Skipped reads, and reads calling functions like now() or random(),
     * read only the tables they name: a routed client runs them where those
     * tables' writes have been replayed. Any other bypass goes to the
     * primary (routed) or simply runs (not routed). */
    bool named = reason == ALCHDB_CACHE_BYPASS_SKIP_FLAG || reason == ALCHDB_CACHE_BYPASS_VOLATILE;
    if (reason >= 0 && !(named && b->route.hooks)) {
        bypass_read(b, ctx, reason, NULL);
        stmt_release(si);
        return 0;
    }
    uint8_t identity[16];
    cache_catalog *cat = catalog_get(b, true, ctx->deadline_ns, identity);
    exec_state *st = cat ? alchdb__calloc(1, sizeof *st) : NULL;
    if (!st) { /* no catalog (database down) or no memory */
        bypass_read(b, ctx, reason >= 0 ? reason : cat ? ALCHDB_CACHE_BYPASS_NOT_CACHEABLE : ALCHDB_CACHE_BYPASS_IDENTITY,
                    NULL);
        alchdb__catalog_release(cat);
        stmt_release(si);
        return 0;
    }
    st->mode = ST_READ;
    st->si = si;
    int unnamed = read_deps(b, si, cat, ctx, &st->vs); /* >= 0: what it reads cannot all be named */
    alchdb__catalog_release(cat);
    if (reason < 0 && unnamed < 0 && alchdb__cache_inflight_any(c, st->vs.names, st->vs.n))
        reason = ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT;
    if (reason >= 0 || unnamed >= 0) {
        bypass_read(b, ctx, reason >= 0 ? reason : unnamed, unnamed >= 0 ? NULL : &st->vs);
        state_free(st);
        return 0;
    }
    entry_key(b, identity, ctx, st->key);
    format_key(c, st);
    st->deps_hash = names_hash(&st->vs);
    st->ttl_ms = alchdb__cache_ttl(c, q ? q->ttl_us : 0);
    st->no_fill = (qf & ALCHDB_CACHE_NO_FILL) != 0;
    const char *const *vk = (const char *const *)st->vs.names;
    alchdb__cache_ver *cur = st->expected;
    unsigned char *entry = NULL;
    size_t elen = 0;
    if (!(qf & ALCHDB_CACHE_REFRESH) && c->be->ops->fetch(c->be, st->keystr, st->vs.n, vk, cur, &entry, &elen) < 0) {
        atomic_fetch_add(&c->backend_errors, 1);
        bypass_read(b, ctx, ALCHDB_CACHE_BYPASS_BACKEND, NULL); /* positions unknown: the primary */
        state_free(st);
        return 0;
    }
    if (any_pending(cur, st->vs.n)) {
        /* A write to something it reads is in flight in some process, or
         * ended without its bump: nothing is served or stored, and where it
         * committed is unknown, so the primary answers. */
        alchdb__free(entry);
        bypass_read(b, ctx, ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT, NULL);
        state_free(st);
        return 0;
    }
    st->pattern = alchdb__cache_pattern(c, si->fingerprint, si->normalized);
    atomic_fetch_add_explicit(&c->lookups, 1, memory_order_relaxed);
    if (st->pattern)
        atomic_fetch_add_explicit(&st->pattern->lookups, 1, memory_order_relaxed);
    bool stale = false;
    if (entry) {
        int t = try_entry(c, st, cur, entry, elen, out);
        alchdb__free(entry);
        if (t == 1)
            goto hit;
        stale = t == -2;
    }
    /* A miss. Every key must hold a token before the query runs. */
    bool absent = false;
    for (size_t i = 0; i < st->vs.n; i++)
        absent |= cur[i].v[0] == '\0';
    if (absent || (qf & ALCHDB_CACHE_REFRESH)) {
        alchdb__cache_ver init[CACHE_MAX_VKEYS];
        for (size_t i = 0; i < st->vs.n; i++)
            alchdb__cache_ver_new(&init[i], -1);
        if (c->be->ops->init(c->be, st->vs.n, vk, init, st->vs.ttl_ms, cur) < 0) {
            atomic_fetch_add(&c->backend_errors, 1);
            st->no_fill = true;
        }
        st->no_fill |= any_pending(cur, st->vs.n); /* marked since the fetch */
    }
    if (!st->no_fill && !(qf & ALCHDB_CACHE_REFRESH)) {
        PGresult *shared = flight_join(c, st, vers_hash(cur, st->vs.n));
        if (shared) {
            atomic_fetch_add(&c->coalesced, 1);
            *out = wrap_hit(shared);
            if (*out)
                goto hit;
        }
        /* Another process may be running the same miss: wait for its fill. */
        if (st->flight && c->lease_wait_us > 0 && strcmp(c->be->ops->name, "redis") == 0) {
            uintptr_t self = (uintptr_t)st;
            snprintf(st->lease_token, sizeof st->lease_token, "%016" PRIx64,
                     alchdb__hash64(&self, sizeof self, (uint64_t)alchdb__now_ns()));
            int l = c->be->ops->lease(c->be, st->lease_key, st->lease_token, c->lease_ttl_ms);
            st->lease_held = l == 1;
            int64_t deadline = alchdb__now_ns() + c->lease_wait_us * 1000;
            while (l == 0 && alchdb__now_ns() < deadline) {
                struct timespec ts = {0, 2000000};
                nanosleep(&ts, NULL);
                alchdb__cache_ver now_v[CACHE_MAX_VKEYS];
                if (c->be->ops->fetch(c->be, st->keystr, st->vs.n, vk, now_v, &entry, &elen) < 0)
                    break;
                if (entry) {
                    int t = try_entry(c, st, now_v, entry, elen, out);
                    alchdb__free(entry);
                    if (t == 1) {
                        atomic_fetch_add(&c->coalesced, 1);
                        flight_finish(c, st, *out);
                        goto hit;
                    }
                }
            }
        }
    }
    atomic_fetch_add_explicit(&c->misses, 1, memory_order_relaxed);
    if (stale)
        atomic_fetch_add(&c->misses_stale, 1);
    if (st->pattern)
        atomic_fetch_add_explicit(&st->pattern->misses, 1, memory_order_relaxed);
    note_path(ALCHDB__CACHE_PATH_MISS, -1);
    alchdb__cache_route_miss(c, &b->route, &st->vs, st->expected, ctx);
    alchdb__cache_test_point("versions-read", ctx->sql);
    ctx->cache_state = st;
    return 0;
hit:
    note_path(ALCHDB__CACHE_PATH_HIT, -1);
    atomic_fetch_add_explicit(&c->hits, 1, memory_order_relaxed);
    if (st->pattern)
        atomic_fetch_add_explicit(&st->pattern->hits, 1, memory_order_relaxed);
    state_free(st);
    return 1;
}

/* ---- after the statement ---------------------------------------------------------- */

static void read_lsn(binding *b, PGconn *pg, int64_t deadline_ns, int64_t *lsn, uint32_t *tli)
{
    if (!b->route.hooks || PQtransactionStatus(pg) != PQTRANS_IDLE)
        return;
    alchdb__token t;
    /* Bounded by the call's deadline; a read cut short leaves the query
     * running, and the pool discards (and cancels) such a connection. */
    if (alchdb__token_read(pg, 0, deadline_ns, &t, NULL, 0) == 0) {
        *lsn = t.lsn;
        *tli = t.timeline;
    }
}

static void h_before_release(void *ud, alchdb__exec_ctx *ctx, PGconn *pg)
{
    binding *b = ud;
    exec_state *st = ctx->txn ? *alchdb__txn_cache_state(ctx->txn) : ctx->cache_state;
    if (!st || st == &epoch_after || st->mode != ST_WRITE)
        return;
    uint32_t tli = 0;
    read_lsn(b, pg, ctx->deadline_ns, &st->lsn, &tli);
    if (st->lsn > 0) { /* the router's read-your-writes token reuses it */
        ctx->write_lsn = st->lsn;
        ctx->write_tli = tli;
        if (ctx->txn) {
            alchdb__txn_set_write_pos(ctx->txn, st->lsn, tli);
        }
    }
}

/* Whether a failed write may still have changed data: only when the server
 * did not answer (the connection broke, maybe after the commit). */
static bool may_have_written(const alchdb__exec_ctx *ctx, const alchdb_result *res)
{
    if (ctx->rc == 0)
        return true;
    if (!res)
        return ctx->rc != ALCHDB_E_TIMEOUT && ctx->rc != ALCHDB_E_CONNECT && ctx->rc != ALCHDB_E_BUSY &&
               ctx->rc != ALCHDB_E_CLOSED && ctx->rc != ALCHDB_E_NOMEM;
    return !strncmp(res->sqlstate, "08", 2) || alchdb__sqlstate_is_fatal(res->sqlstate);
}

static void remember_temps(binding *b, const stmt_info *si)
{
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < si->nwritten; i++)
        if (!alchdb__names_add(&b->temps, &b->ntemps, si->written[i], strlen(si->written[i])))
            break;
    atomic_store_explicit(&b->any_temps, b->ntemps > 0, memory_order_release);
    pthread_mutex_unlock(&b->lock);
}

static void finish_write(binding *b, exec_state *st, bool wrote)
{
    alchdb_cache *c = b->cache;
    if (wrote)
        alchdb__cache_test_point("before-bump", st->si ? st->si->sql : "");
    if (wrote || st->marked) {
        /* After a write that certainly did not commit, the bump only takes
         * its marks back (and forgets the position: rare, and safe). */
        int64_t lsn = wrote ? st->lsn : -1;
        if (st->epoch)
            alchdb__cache_bump_epoch(c, st->writer, lsn);
        else
            alchdb__cache_bump(c, &st->vs, st->writer, lsn);
    }
    if (wrote) {
        if (st->si && (st->si->ddl || st->si->writes_unknown)) {
            pthread_mutex_lock(&b->lock);
            b->reload = true;
            pthread_mutex_unlock(&b->lock);
        }
        if (st->si && st->si->creates_temp)
            remember_temps(b, st->si);
    }
    unmark_in_flight(c, st);
}

static void fill(alchdb_cache *c, exec_state *st, const alchdb__exec_ctx *ctx, const alchdb_result *res)
{
    alchdb__cache_test_point("query-done", ctx->sql);
    if (st->no_fill || ctx->rc != 0 || !res || !res->res || PQresultStatus(res->res) != PGRES_TUPLES_OK)
        return;
    alchdb__cache_entry_in in = {
        .res = res->res,
        .key = st->key,
        .deps_hash = st->deps_hash,
        .nver = st->vs.n,
        .vers = st->expected,
        .exec_us = (ctx->end_ns - ctx->start_ns) / 1000,
    };
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = alchdb__cache_encode(&in, c->compress_threshold, c->max_entry, &buf, &len);
    if (rc == ALCHDB_E_RANGE) {
        atomic_fetch_add(&c->fills_too_large, 1);
        return;
    }
    if (rc)
        return;
    alchdb__cache_test_point("before-fill", ctx->sql);
    rc = c->be->ops->fill(c->be, st->keystr, st->vs.n, (const char *const *)st->vs.names, st->expected, buf, len,
                          st->ttl_ms);
    alchdb__free(buf);
    if (rc == 1) {
        atomic_fetch_add(&c->fills, 1);
        if (ctx->route_host > 0)
            atomic_fetch_add(&c->fills_from_replica, 1);
        atomic_fetch_add(&c->bytes_stored, (int64_t)len);
    } else if (rc == 0) {
        atomic_fetch_add(&c->fills_rejected, 1); /* a write raced the query: caught */
    } else {
        atomic_fetch_add(&c->backend_errors, 1);
    }
}

static void h_done(void *ud, alchdb__exec_ctx *ctx, const alchdb_result *res)
{
    binding *b = ud;
    tl_last.host = ctx->route_host;
    exec_state *st = ctx->cache_state;
    if (!st)
        return;
    ctx->cache_state = NULL;
    if (st == &epoch_after) {
        if (may_have_written(ctx, res))
            alchdb__cache_bump_epoch(b->cache, NULL, -1);
        return;
    }
    if (st->mode == ST_WRITE) {
        finish_write(b, st, may_have_written(ctx, res));
    } else {
        fill(b->cache, st, ctx, res);
        flight_finish(b->cache, st, res);
        if (st->lease_held)
            b->cache->be->ops->unlease(b->cache->be, st->lease_key, st->lease_token);
    }
    state_free(st);
}

/* ---- transactions ------------------------------------------------------------------ */

static void h_txn_stmt(void *ud, alchdb__exec_ctx *ctx)
{
    binding *b = ud;
    alchdb_cache *c = b->cache;
    stmt_info *si = stmt_get(b, ctx->sql, ctx->sql_len, ctx->sql_hash);
    if (si && !si->writes) {
        if (si->bypass < 0)
            count_bypass(c, ALCHDB_CACHE_BYPASS_IN_TRANSACTION);
        stmt_release(si);
        return;
    }
    exec_state *st = *alchdb__txn_cache_state(ctx->txn);
    if (st == &epoch_after) { /* already reduced to a namespace bump at commit */
        stmt_release(si);
        return;
    }
    if (!st) {
        st = alchdb__calloc(1, sizeof *st);
        if (!st) {
            stmt_release(si);
            *alchdb__txn_cache_state(ctx->txn) = &epoch_after;
            return;
        }
        st->mode = ST_WRITE;
        st->lsn = -1;
        alchdb__cache_random_hex(st->writer);
        *alchdb__txn_cache_state(ctx->txn) = st;
    }
    count_bypass(c, ALCHDB_CACHE_BYPASS_WRITE);
    /* The transaction holds a connection: use the catalog as it is (no load). */
    uint8_t id[16];
    cache_catalog *cat = catalog_get(b, false, 0, id);
    st->epoch |= write_deps(b, si, cat, ctx, &st->vs);
    alchdb__catalog_release(cat);
    mark_in_flight(c, st);
    if (si && si->creates_temp)
        remember_temps(b, si);
    if (si && (si->ddl || si->writes_unknown)) {
        pthread_mutex_lock(&b->lock);
        b->reload = true;
        pthread_mutex_unlock(&b->lock);
    }
    stmt_release(si);
}

/* BEGIN: where the transaction runs is decided now, for all its reads. */
static void h_txn_begin(void *ud, alchdb__exec_ctx *ctx)
{
    binding *b = ud;
    alchdb__cache_route_txn(b->cache, &b->route, ctx);
}

/* Just before COMMIT is sent: the marks of everything the transaction wrote
 * (in-process marks cover the transaction from its first write; the
 * backend's only need to cover the commit and the bump after it). */
static void h_txn_commit(void *ud, alchdb_txn *t)
{
    binding *b = ud;
    exec_state *st = *alchdb__txn_cache_state(t);
    if (st && st != &epoch_after)
        mark_ahead(b->cache, st);
}

static void h_txn_end(void *ud, alchdb_txn *t, bool committed)
{
    binding *b = ud;
    exec_state *st = *alchdb__txn_cache_state(t);
    if (!st)
        return;
    *alchdb__txn_cache_state(t) = NULL;
    if (st == &epoch_after) {
        if (committed)
            alchdb__cache_bump_epoch(b->cache, NULL, -1);
        return;
    }
    finish_write(b, st, committed);
    state_free(st);
}

static void binding_free(void *ud)
{
    binding *b = ud;
    if (!b)
        return;
    for (size_t i = 0; i < STMT_BUCKETS; i++) {
        while (b->stmts[i]) {
            stmt_info *x = b->stmts[i];
            b->stmts[i] = x->next;
            stmt_release(x);
        }
    }
    alchdb__names_free(b->temps, b->ntemps);
    alchdb__catalog_release(b->cat);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->loaded);
    alchdb__free(b->scope);
    alchdb__free(b);
}

static const alchdb__cache_hooks cache_hooks = {h_lookup,      h_before_release, h_done,     h_txn_stmt,
                                                h_txn_end,     binding_free,     h_txn_begin, h_txn_commit};

/* ---- public entry points ------------------------------------------------------------ */

ALCHDB_API int alchdb_client_set_cache(alchdb_client *client, alchdb_cache *cache, const char *scope)
{
    ALCHDB_CHECK_ARG(client, "client", "must not be NULL");
    ALCHDB_CHECK_ARG(!scope || strlen(scope) <= 1024, "scope", "must have at most 1024 bytes");
    binding *b = NULL;
    if (cache) {
        b = alchdb__calloc(1, sizeof *b);
        if (!b || (scope && !(b->scope = alchdb__strdup(scope)))) {
            alchdb__free(b);
            return alchdb__nomem("cache binding");
        }
        b->cache = cache;
        b->client = client;
        b->route = alchdb__client_route(client);
        pthread_mutex_init(&b->lock, NULL);
        pthread_cond_init(&b->loaded, NULL);
    }
    alchdb__client_attach_cache(client, b ? &cache_hooks : NULL, b);
    return 0;
}

/* The checks of per-statement cache options; func names the public caller. */
#define Q_CHECK(cond, why)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            return alchdb__invalid_arg(func, "q", (why));                                          \
    } while (0)

int alchdb__cache_query_check(const alchdb_client *client, const alchdb_cache_query *q, const char *func)
{
    if (!q)
        return 0;
    Q_CHECK(q->version == ALCHDB_CACHE_QUERY_VERSION, "version must be ALCHDB_CACHE_QUERY_VERSION");
    Q_CHECK(!(q->flags & ~(ALCHDB_CACHE_SKIP | ALCHDB_CACHE_NO_FILL | ALCHDB_CACHE_REFRESH)),
            "flags: unknown ALCHDB_CACHE_* flag");
    Q_CHECK(q->ntags <= 16 && (!q->ntags || q->tags), "tags: at most 16, not NULL when ntags > 0");
    for (size_t i = 0; i < q->ntags; i++)
        Q_CHECK(q->tags[i] && *q->tags[i] && strlen(q->tags[i]) <= 200, "tags: each 1..200 bytes");
    const binding *bound = q->ttl_us != 0 ? alchdb__client_cache_ud(client, &cache_hooks) : NULL;
    if (bound) {
        const alchdb_cache *c = bound->cache;
        Q_CHECK(q->ttl_us >= 1000 && q->ttl_us / 1000 <= c->max_ttl_ms, "ttl_us: must be 0 (default) or 1 ms..max_ttl");
    } else {
        Q_CHECK(q->ttl_us >= 0, "ttl_us: must not be negative");
    }
    return 0;
}

ALCHDB_API int alchdb_client_exec_cached(alchdb_client *client, const char *sql, int nparams,
                                         const char *const *params, uint32_t flags, const alchdb_cache_query *q,
                                         alchdb_result **out)
{
    if (out)
        *out = NULL;
    int rc = alchdb__cache_query_check(client, q, __func__);
    if (rc)
        return rc;
    return alchdb__client_exec(__func__, client, sql, nparams, params, flags, NULL, q, out);
}
