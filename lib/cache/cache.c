/* The cache object: configuration, version bumps, in-flight writes, metrics
 * and the explicit invalidation API. The per-statement protocol is in hooks.c. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_priv.h"

/* ---- test seam ------------------------------------------------------------------ */

static alchdb__cache_test_hook test_hook;
static void *test_hook_ud;

void alchdb__cache_set_test_hook(alchdb__cache_test_hook hook, void *ud)
{
    test_hook_ud = ud;
    test_hook = hook;
}

void alchdb__cache_test_point(const char *point, const char *sql)
{
    if (test_hook)
        test_hook(point, sql, test_hook_ud);
}

/* ---- construction ------------------------------------------------------------- */

static void derive_hash_key(alchdb_cache *c)
{
    const char *hex = alchdb__opts_s(&c->cfg, ALCHDB_CACHE_OPT_HASH_KEY);
    if (hex) {
        for (int i = 0; i < 16; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            c->hash_key[i] = (uint8_t)v;
        }
        return;
    }
    /* Default: derived from the prefix, so every process sharing a namespace
     * computes the same keys without configuration. */
    static const uint8_t zero[16];
    alchdb__siphash128(zero, c->prefix, strlen(c->prefix), c->hash_key);
}

static int make_backend(alchdb_cache *c)
{
    const alchdb__opts *g = &c->cfg;
#define I(opt) alchdb__opts_i(g, ALCHDB_CACHE_OPT_##opt)
    alchdb__cache_backend_cfg bc = {
        .epoch_key = c->epoch_key,
        .memory_bytes = I(MEMORY_BYTES),
        .redis_host = alchdb__opts_s(g, ALCHDB_CACHE_OPT_REDIS_HOST),
        .redis_port = (int)I(REDIS_PORT),
        .redis_password = alchdb__opts_s(g, ALCHDB_CACHE_OPT_REDIS_PASSWORD),
        .redis_db = (int)I(REDIS_DB),
        .redis_sentinels = alchdb__opts_s(g, ALCHDB_CACHE_OPT_REDIS_SENTINELS),
        .redis_master_name = alchdb__opts_s(g, ALCHDB_CACHE_OPT_REDIS_MASTER_NAME),
        .redis_sentinel_password = alchdb__opts_s(g, ALCHDB_CACHE_OPT_REDIS_SENTINEL_PASSWORD),
        .connect_timeout_us = I(CONNECT_TIMEOUT),
        .command_timeout_us = I(COMMAND_TIMEOUT),
        .breaker_failures = (int)I(BREAKER_FAILURES),
        .breaker_open_us = I(BREAKER_OPEN),
        .pool_size = (int)I(REDIS_POOL_SIZE),
    };
#undef I
    /* The option's check admitted only registered kinds. */
    const alchdb__cache_backend_kind *kind = alchdb__cache_backend_find(alchdb__opts_s(g, ALCHDB_CACHE_OPT_BACKEND));
    if (!kind)
        return alchdb__error(ALCHDB_E_INVALID, "alchdb_cache_new: no such backend");
    return kind->create(&bc, &c->be);
}

ALCHDB_API int alchdb_cache_new(const alchdb_cache_config *cfg, alchdb_cache **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    if (cfg && alchdb__opts_i(&cfg->opts, ALCHDB_CACHE_OPT_DEFAULT_TTL) > alchdb__opts_i(&cfg->opts, ALCHDB_CACHE_OPT_MAX_TTL))
        return alchdb__error(ALCHDB_E_INVALID, "%s: default_ttl must not exceed max_ttl", __func__);
    alchdb_cache *c = alchdb__calloc(1, sizeof *c);
    if (!c)
        return alchdb__nomem("cache");
    int rc = cfg ? alchdb__opts_copy(&c->cfg, &cfg->opts) : alchdb__opts_init(&c->cfg, &alchdb__cache_optspec);
    if (rc) {
        alchdb__free(c);
        return rc;
    }
    const int64_t *iv = c->cfg.v;
    c->prefix = alchdb__strdup(alchdb__opts_s(&c->cfg, ALCHDB_CACHE_OPT_PREFIX));
    c->epoch_key = c->prefix ? alchdb__cache_vkey(c, "n", NULL, NULL) : NULL;
    if (!c->prefix || !c->epoch_key) {
        alchdb_cache_free(c);
        return alchdb__nomem("cache");
    }
    c->default_ttl_ms = iv[ALCHDB_CACHE_OPT_DEFAULT_TTL] / 1000;
    c->max_ttl_ms = iv[ALCHDB_CACHE_OPT_MAX_TTL] / 1000;
    c->jitter_pct = iv[ALCHDB_CACHE_OPT_TTL_JITTER_PCT];
    c->lease_ttl_ms = iv[ALCHDB_CACHE_OPT_LEASE_TTL] / 1000;
    c->lease_wait_us = iv[ALCHDB_CACHE_OPT_LEASE_WAIT];
    c->write_mark_ttl_ms = iv[ALCHDB_CACHE_OPT_WRITE_MARK_TTL] / 1000;
    c->max_entry = (size_t)iv[ALCHDB_CACHE_OPT_MAX_ENTRY_BYTES];
    c->compress_threshold = (size_t)iv[ALCHDB_CACHE_OPT_COMPRESS_THRESHOLD];
    c->pk_inval = iv[ALCHDB_CACHE_OPT_PK_INVALIDATION] != 0;
    c->trust_triggers = iv[ALCHDB_CACHE_OPT_TRUST_TRIGGERS] != 0;
    c->cache_all = iv[ALCHDB_CACHE_OPT_CACHE_ALL] != 0;
    derive_hash_key(c);
    pthread_mutex_init(&c->lock, NULL);
    rc = make_backend(c);
    if (rc) {
        alchdb_cache_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

ALCHDB_API void alchdb_cache_free(alchdb_cache *c)
{
    if (!c)
        return;
    if (c->be)
        c->be->ops->destroy(c->be);
    while (c->inflight_head) {
        inflight *f = c->inflight_head;
        c->inflight_head = f->next;
        alchdb__free(f->key);
        alchdb__free(f);
    }
    pthread_mutex_destroy(&c->lock);
    alchdb__free(c->epoch_key);
    alchdb__free(c->prefix);
    alchdb__opts_free(&c->cfg);
    alchdb__free(c);
}

ALCHDB_API const char *alchdb_cache_backend(const alchdb_cache *c)
{
    return c && c->be ? c->be->ops->name : "";
}

/* ---- version keys --------------------------------------------------------------- */

char *alchdb__cache_vkey(const alchdb_cache *c, const char *kind, const char *rel, const char *key)
{
    /* "<prefix>:v:<kind>[:<rel>[:<key>]]", built without printf: it runs for
     * every key of every lookup. */
    const char *part[] = {c->prefix, ":v:", kind, rel ? ":" : "", rel ? rel : "", key ? ":" : "", key ? key : ""};
    size_t len[7], total = 1;
    for (int i = 0; i < 7; i++)
        total += len[i] = strlen(part[i]);
    char *out = alchdb__malloc(total), *p = out;
    if (!out)
        return NULL;
    for (int i = 0; i < 7; i++) {
        memcpy(p, part[i], len[i]);
        p += len[i];
    }
    *p = '\0';
    return out;
}

void alchdb__vset_add(vset *s, char *name, int64_t ttl_ms)
{
    if (!name) {
        s->overflow = true; /* out of memory: the caller treats it like too many */
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->names[i], name) == 0) {
            alchdb__free(name);
            return;
        }
    }
    if (s->n == CACHE_MAX_VKEYS) {
        s->overflow = true;
        alchdb__free(name);
        return;
    }
    s->names[s->n] = name;
    s->ttl_ms[s->n++] = ttl_ms;
}

void alchdb__vset_clear(vset *s)
{
    for (size_t i = 0; i < s->n; i++)
        alchdb__free(s->names[i]);
    s->n = 0;
    s->overflow = false;
}

int alchdb__cache_bump(alchdb_cache *c, const vset *s, const char *writer, int64_t lsn)
{
    if (s->n == 0)
        return 0;
    char id[17];
    if (!writer)
        alchdb__cache_random_hex(id);
    alchdb__cache_ver v[CACHE_MAX_VKEYS];
    for (size_t i = 0; i < s->n; i++)
        alchdb__cache_ver_make(&v[i], writer ? writer : id, lsn);
    atomic_fetch_add(&c->invalidations, 1);
    int rc = c->be->ops->bump(c->be, s->n, (const char *const *)s->names, v, s->ttl_ms);
    if (rc < 0) {
        atomic_fetch_add(&c->backend_errors, 1);
        alchdb__log(ALCHDB_LOG_WARN, "cache",
                    "invalidation not delivered (%s); the cache serves nothing from %s until it is",
                    alchdb_last_error_message(), c->be->ops->name);
    }
    return rc;
}

int alchdb__cache_mark(alchdb_cache *c, const vset *s, const char *writer)
{
    if (s->n == 0)
        return 0;
    int rc = c->be->ops->mark(c->be, s->n, (const char *const *)s->names, writer, c->write_mark_ttl_ms);
    if (rc < 0)
        atomic_fetch_add(&c->backend_errors, 1);
    return rc;
}

int alchdb__cache_bump_epoch(alchdb_cache *c, const char *writer, int64_t lsn)
{
    /* No allocation here: the fallback when remembering what to invalidate
     * failed (the memory backend keeps the epoch's slot; Redis marks itself
     * dirty if it cannot send, which also ends in an epoch bump). */
    char id[17];
    if (!writer)
        alchdb__cache_random_hex(id);
    alchdb__cache_ver v;
    alchdb__cache_ver_make(&v, writer ? writer : id, lsn);
    const char *key = c->epoch_key;
    int64_t ttl = 0;
    atomic_fetch_add(&c->invalidations, 1);
    int rc = c->be->ops->bump(c->be, 1, &key, &v, &ttl);
    if (rc < 0)
        atomic_fetch_add(&c->backend_errors, 1);
    return rc;
}

int64_t alchdb__cache_ttl(const alchdb_cache *c, int64_t ttl_us)
{
    int64_t ms = ttl_us > 0 ? ttl_us / 1000 : c->default_ttl_ms;
    if (ms < 1)
        ms = 1;
    if (c->jitter_pct > 0 && ms > 10) {
        /* Spread expiries so entries filled together do not expire together. */
        static _Thread_local uint64_t x;
        if (!x)
            x = (uint64_t)alchdb__now_ns() | 1;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        ms -= (int64_t)(x % (uint64_t)(ms * c->jitter_pct / 100 + 1));
    }
    return ms;
}

/* ---- writes in flight (this process), marked on version key names ------------ */

void alchdb__cache_inflight_add(alchdb_cache *c, char *const *keys, size_t n)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        inflight *f = c->inflight_head;
        while (f && strcmp(f->key, keys[i]) != 0)
            f = f->next;
        if (!f) {
            f = alchdb__calloc(1, sizeof *f);
            if (f && !(f->key = alchdb__strdup(keys[i]))) {
                alchdb__free(f);
                f = NULL;
            }
            if (!f)
                continue; /* out of memory: the version check still keeps reads correct */
            f->next = c->inflight_head;
            c->inflight_head = f;
        }
        f->count++;
        atomic_fetch_add(&c->inflight_total, 1);
    }
    pthread_mutex_unlock(&c->lock);
}

void alchdb__cache_inflight_remove(alchdb_cache *c, char *const *keys, size_t n)
{
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < n; i++) {
        for (inflight **pp = &c->inflight_head; *pp; pp = &(*pp)->next) {
            inflight *f = *pp;
            if (strcmp(f->key, keys[i]) != 0)
                continue;
            atomic_fetch_sub(&c->inflight_total, 1);
            if (--f->count == 0) {
                *pp = f->next;
                alchdb__free(f->key);
                alchdb__free(f);
            }
            break;
        }
    }
    pthread_mutex_unlock(&c->lock);
}

bool alchdb__cache_inflight_any(alchdb_cache *c, char *const *keys, size_t n)
{
    if (atomic_load_explicit(&c->inflight_total, memory_order_acquire) == 0)
        return false;
    bool hit = false;
    pthread_mutex_lock(&c->lock);
    for (inflight *f = c->inflight_head; f && !hit; f = f->next)
        for (size_t i = 0; i < n && !hit; i++)
            hit = strcmp(f->key, keys[i]) == 0;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

/* ---- patterns ------------------------------------------------------------------- */

cache_pattern *alchdb__cache_pattern(alchdb_cache *c, uint64_t fp, const char *text)
{
    if (!fp)
        fp = 1;
    /* Lock-free open addressing: a slot is claimed once and never freed. */
    for (size_t i = 0; i < 16; i++) {
        cache_pattern *p = &c->patterns[(fp + i) % CACHE_PATTERNS];
        uint64_t cur = atomic_load_explicit(&p->fp, memory_order_acquire);
        if (cur == fp)
            return p;
        if (cur == 0) {
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong(&p->fp, &expect, fp)) {
                size_t n = text ? strlen(text) : 0;
                if (n >= sizeof p->text) { /* cut on a UTF-8 character boundary */
                    n = sizeof p->text - 1;
                    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
                        n--;
                }
                memcpy(p->text, text ? text : "", n);
                p->text[n] = '\0';
                atomic_store_explicit(&p->ready, 1, memory_order_release);
                return p;
            }
            if (expect == fp)
                return p;
        }
    }
    return NULL; /* table crowded: the statement counts only in the totals */
}

/* ---- explicit invalidation ----------------------------------------------------- */

bool alchdb__names_add(char ***list, size_t *n, const char *s, size_t len)
{
    for (size_t i = 0; i < *n; i++)
        if (strlen((*list)[i]) == len && !memcmp((*list)[i], s, len))
            return true;
    char **grown = alchdb__realloc(*list, (*n + 1) * sizeof **list);
    if (!grown)
        return false;
    *list = grown;
    if (!(grown[*n] = alchdb__strndup(s, len)))
        return false;
    (*n)++;
    return true;
}

void alchdb__names_free(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        alchdb__free(list[i]);
    alchdb__free(list);
}

ALCHDB_API int alchdb_cache_invalidate_tables(alchdb_cache *c, const char *const *tables, size_t n)
{
    ALCHDB_CHECK_ARG(c, "cache", "must not be NULL");
    ALCHDB_CHECK_ARG(tables, "tables", "must not be NULL");
    ALCHDB_CHECK_ARG(n >= 1 && n <= 1024, "n", "must be 1..1024");
    for (size_t i = 0; i < n; i++)
        if (!tables[i] || !*tables[i] || strlen(tables[i]) > 255)
            return alchdb__invalid_arg(__func__, "tables", "every name must have 1..255 bytes");
    /* Names as SQL writes them, read by the SQL module (public."a.b" is the
     * table a.b, not b): version keys use the name, whatever the schema. */
    char **names = alchdb__calloc(n, sizeof *names);
    if (!names)
        return alchdb__nomem("cache invalidation");
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *schema = NULL;
        rc = alchdb__sql_qualified_name(tables[i], (size_t)-1, &schema, &names[i]);
        alchdb__free(schema);
        if (rc == ALCHDB_E_INVALID) {
            char why[320]; /* the thread's message buffer is about to be rewritten */
            snprintf(why, sizeof why, "%s", alchdb_last_error_message());
            rc = alchdb__invalid_arg(__func__, "tables", why);
        }
    }
    vset s = {0};
    for (size_t i = 0; i < n && rc == 0; i++) {
        /* Table and bulk: every entry that read the table, also key lookups. */
        alchdb__vset_add(&s, alchdb__cache_vkey(c, "t", names[i], NULL), 0);
        alchdb__vset_add(&s, alchdb__cache_vkey(c, "b", names[i], NULL), 0);
        if (s.overflow || s.n >= CACHE_MAX_VKEYS - 2) {
            rc = alchdb__cache_bump(c, &s, NULL, -1);
            alchdb__vset_clear(&s);
        }
    }
    if (rc == 0)
        rc = alchdb__cache_bump(c, &s, NULL, -1);
    alchdb__vset_clear(&s);
    alchdb__names_free(names, n);
    if (rc == ALCHDB_E_INVALID)
        return rc;
    if (rc >= 0)
        return 0;
    char why[512]; /* the thread's message buffer is about to be rewritten */
    snprintf(why, sizeof why, "%s", alchdb_last_error_message());
    return alchdb__error(rc, "%s: %s", __func__, why);
}

ALCHDB_API int alchdb_cache_invalidate_tag(alchdb_cache *c, const char *tag)
{
    ALCHDB_CHECK_ARG(c, "cache", "must not be NULL");
    ALCHDB_CHECK_ARG(tag && *tag && strlen(tag) <= 200, "tag", "must have 1..200 bytes");
    vset s = {0};
    alchdb__vset_add(&s, alchdb__cache_vkey(c, "g", tag, NULL), 0);
    int rc = s.overflow ? alchdb__nomem("cache tag") : alchdb__cache_bump(c, &s, NULL, -1);
    alchdb__vset_clear(&s);
    return rc < 0 ? rc : 0;
}

ALCHDB_API int alchdb_cache_clear(alchdb_cache *c)
{
    ALCHDB_CHECK_ARG(c, "cache", "must not be NULL");
    int rc = alchdb__cache_bump_epoch(c, NULL, -1);
    return rc < 0 ? rc : 0;
}

/* ---- metrics --------------------------------------------------------------------- */

static const char *const BYPASS_NAMES[ALCHDB__CACHE_NBYPASS] = {
    "skip_flag",   "write",        "in_transaction", "locking",  "volatile",
    "temp_table",  "system_catalog", "not_cacheable", "parse_error", "write_in_flight",
    "backend",     "identity",     "too_many_tables",
};

ALCHDB_API const char *alchdb_cache_bypass_name(int reason)
{
    return reason >= 0 && reason < ALCHDB__CACHE_NBYPASS ? BYPASS_NAMES[reason] : "unknown";
}

ALCHDB_API int64_t alchdb_cache_bypass_count(alchdb_cache *c, int reason)
{
    ALCHDB_CHECK_ARG(c, "cache", "must not be NULL");
    ALCHDB_CHECK_ARG(reason >= 0 && reason < ALCHDB__CACHE_NBYPASS, "reason", "must be an alchdb_cache_bypass");
    return atomic_load(&c->bypass[reason]);
}

ALCHDB_API int alchdb_cache_get_metrics(alchdb_cache *c, alchdb_cache_metrics *m, size_t size)
{
    ALCHDB_CHECK_ARG(c, "cache", "must not be NULL");
    ALCHDB_CHECK_ARG(m, "m", "must not be NULL");
    ALCHDB_CHECK_ARG(size >= 8, "size", "must be at least 8 (sizeof(alchdb_cache_metrics))");
    alchdb_cache_metrics all = {
        .lookups = atomic_load(&c->lookups),
        .hits = atomic_load(&c->hits),
        .misses = atomic_load(&c->misses),
        .misses_stale = atomic_load(&c->misses_stale),
        .misses_corrupt = atomic_load(&c->misses_corrupt),
        .coalesced = atomic_load(&c->coalesced),
        .fills = atomic_load(&c->fills),
        .fills_rejected = atomic_load(&c->fills_rejected),
        .fills_too_large = atomic_load(&c->fills_too_large),
        .bypasses = atomic_load(&c->bypasses),
        .invalidations = atomic_load(&c->invalidations),
        .backend_errors = atomic_load(&c->backend_errors),
        .bytes_stored = atomic_load(&c->bytes_stored),
        .bytes_served = atomic_load(&c->bytes_served),
        .db_time_saved_us = atomic_load(&c->saved_us),
        .breaker_open = c->be->ops->breaker_open(c->be),
        .fills_from_replica = atomic_load(&c->fills_from_replica),
        .routed_primary = atomic_load(&c->routed_primary),
        .routed_position = atomic_load(&c->routed_position),
        .write_marks = atomic_load(&c->write_marks),
    };
    size_t n = size < sizeof all ? size : sizeof all;
    all.size = (uint32_t)n;
    memcpy(m, &all, n);
    return 0;
}

static double ratio(int64_t a, int64_t b)
{
    return b > 0 ? (double)a / (double)b : 0.0;
}

static void json_patterns(alchdb_cache *c, alchdb__strbuf *sb)
{
    /* The TOP busiest patterns by lookups: insertion into a sorted array. */
    enum { TOP = 50 };
    int idx[TOP];
    int64_t best[TOP];
    int n = 0;
    for (int i = 0; i < CACHE_PATTERNS; i++) {
        cache_pattern *p = &c->patterns[i];
        if (!atomic_load(&p->ready))
            continue;
        int64_t l = atomic_load(&p->lookups);
        if (n == TOP && l <= best[TOP - 1])
            continue;
        int k = n < TOP ? n++ : TOP - 1; /* full: the last one drops out */
        while (k > 0 && best[k - 1] < l) {
            best[k] = best[k - 1];
            idx[k] = idx[k - 1];
            k--;
        }
        best[k] = l;
        idx[k] = i;
    }
    alchdb__sb_puts(sb, "\"patterns\":[");
    for (int k = 0; k < n; k++) {
        cache_pattern *p = &c->patterns[idx[k]];
        int64_t h = atomic_load(&p->hits), m = atomic_load(&p->misses);
        alchdb__sb_printf(sb, "%s{\"fingerprint\":\"%016" PRIx64 "\",\"query\":", k ? "," : "",
                          atomic_load(&p->fp));
        alchdb__sb_json_str(sb, p->text);
        alchdb__sb_printf(sb,
                          ",\"lookups\":%" PRId64 ",\"hits\":%" PRId64 ",\"misses\":%" PRId64
                          ",\"hit_ratio\":%.4f,\"db_time_saved_ms\":%.3f}",
                          atomic_load(&p->lookups), h, m, ratio(h, h + m), (double)atomic_load(&p->saved_us) / 1e3);
    }
    alchdb__sb_puts(sb, "]");
}

ALCHDB_API int alchdb_cache_to_json(alchdb_cache *c, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(c, "cache", "must not be NULL");
    alchdb_cache_metrics m;
    alchdb_cache_get_metrics(c, &m, sizeof m);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{\"backend\":");
    alchdb__sb_json_str(&sb, c->be->ops->name);
    alchdb__sb_puts(&sb, ",\"prefix\":");
    alchdb__sb_json_str(&sb, c->prefix);
    alchdb__sb_printf(&sb,
                      ",\"config\":{\"default_ttl_ms\":%" PRId64 ",\"max_ttl_ms\":%" PRId64
                      ",\"max_entry_bytes\":%zu,\"compress_threshold\":%zu,\"pk_invalidation\":%s,"
                      "\"lease_wait_ms\":%.1f,\"cache_all\":%s,\"trust_triggers\":%s}",
                      c->default_ttl_ms, c->max_ttl_ms, c->max_entry, c->compress_threshold,
                      c->pk_inval ? "true" : "false", (double)c->lease_wait_us / 1e3, c->cache_all ? "true" : "false",
                      c->trust_triggers ? "true" : "false");
    alchdb__sb_printf(&sb,
                      ",\"lookups\":%" PRId64 ",\"hits\":%" PRId64 ",\"misses\":%" PRId64 ",\"hit_ratio\":%.4f"
                      ",\"misses_by_reason\":{\"absent\":%" PRId64 ",\"stale\":%" PRId64 ",\"corrupt\":%" PRId64 "}"
                      ",\"coalesced\":%" PRId64 ",\"fills\":%" PRId64 ",\"fills_rejected\":%" PRId64
                      ",\"fills_too_large\":%" PRId64 ",\"fills_from_replica\":%" PRId64 ",\"invalidations\":%" PRId64 ",\"backend_errors\":%" PRId64
                      ",\"bytes_stored\":%" PRId64 ",\"bytes_served\":%" PRId64 ",\"db_time_saved_ms\":%.3f"
                      ",\"routed_primary\":%" PRId64 ",\"routed_position\":%" PRId64 ",\"write_marks\":%" PRId64,
                      m.lookups, m.hits, m.misses, ratio(m.hits, m.hits + m.misses),
                      m.misses - m.misses_stale - m.misses_corrupt, m.misses_stale, m.misses_corrupt, m.coalesced,
                      m.fills, m.fills_rejected, m.fills_too_large, m.fills_from_replica, m.invalidations, m.backend_errors,
                      m.bytes_stored, m.bytes_served, (double)m.db_time_saved_us / 1e3, m.routed_primary,
                      m.routed_position, m.write_marks);
    alchdb__sb_printf(&sb, ",\"bypasses\":%" PRId64 ",\"bypasses_by_reason\":{", m.bypasses);
    for (int i = 0; i < ALCHDB__CACHE_NBYPASS; i++)
        alchdb__sb_printf(&sb, "%s\"%s\":%" PRId64, i ? "," : "", BYPASS_NAMES[i], atomic_load(&c->bypass[i]));
    alchdb__sb_puts(&sb, "},\"backend_state\":{");
    c->be->ops->stats_json(c->be, &sb);
    alchdb__sb_puts(&sb, "},");
    json_patterns(c, &sb);
    alchdb__sb_puts(&sb, "}");
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("cache stats");
}
