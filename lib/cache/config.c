/* Cache configuration: one table of options with kinds, ranges and defaults. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "alchdb/pool.h"
#include "cache/cache_priv.h"

enum { K_STR, K_INT, K_DUR, K_BOOL };

typedef struct opt_def {
    const char *name;
    int kind;
    int64_t min, max, def;
} opt_def;

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
static const opt_def OPTS[ALCHDB_CACHE_OPT_COUNT] = {
    [ALCHDB_CACHE_OPT_BACKEND] = {"backend", K_STR, 0, 0, 0},
    [ALCHDB_CACHE_OPT_REDIS_HOST] = {"redis_host", K_STR, 0, 0, 0},
    [ALCHDB_CACHE_OPT_REDIS_PORT] = {"redis_port", K_INT, 1, 65535, 6379},
    [ALCHDB_CACHE_OPT_REDIS_PASSWORD] = {"redis_password", K_STR, 0, 0, 0},
    [ALCHDB_CACHE_OPT_REDIS_DB] = {"redis_db", K_INT, 0, 1000, 0},
    [ALCHDB_CACHE_OPT_PREFIX] = {"prefix", K_STR, 0, 0, 0},
    [ALCHDB_CACHE_OPT_DEFAULT_TTL] = {"default_ttl", K_DUR, MS, 30 * 86400 * SEC, 300 * SEC},
    [ALCHDB_CACHE_OPT_MAX_TTL] = {"max_ttl", K_DUR, SEC, 30 * 86400 * SEC, 86400 * SEC},
    [ALCHDB_CACHE_OPT_TTL_JITTER_PCT] = {"ttl_jitter_pct", K_INT, 0, 50, 10},
    [ALCHDB_CACHE_OPT_MAX_ENTRY_BYTES] = {"max_entry_bytes", K_INT, 64, INT64_C(512) << 20, INT64_C(1) << 20},
    [ALCHDB_CACHE_OPT_MEMORY_BYTES] = {"memory_bytes", K_INT, INT64_C(64) << 10, INT64_C(1) << 40,
                                       INT64_C(64) << 20},
    [ALCHDB_CACHE_OPT_COMPRESS_THRESHOLD] = {"compress_threshold", K_INT, 0, INT64_C(512) << 20, 65536},
    [ALCHDB_CACHE_OPT_CONNECT_TIMEOUT] = {"connect_timeout", K_DUR, MS, 60 * SEC, 250 * MS},
    [ALCHDB_CACHE_OPT_COMMAND_TIMEOUT] = {"command_timeout", K_DUR, MS, 60 * SEC, 100 * MS},
    [ALCHDB_CACHE_OPT_BREAKER_FAILURES] = {"breaker_failures", K_INT, 1, 1000, 3},
    [ALCHDB_CACHE_OPT_BREAKER_OPEN] = {"breaker_open", K_DUR, MS, 600 * SEC, SEC},
    [ALCHDB_CACHE_OPT_REDIS_POOL_SIZE] = {"redis_pool_size", K_INT, 1, 256, 8},
    [ALCHDB_CACHE_OPT_LEASE_TTL] = {"lease_ttl", K_DUR, MS, 600 * SEC, 5 * SEC},
    [ALCHDB_CACHE_OPT_LEASE_WAIT] = {"lease_wait", K_DUR, 0, 60 * SEC, 200 * MS},
    [ALCHDB_CACHE_OPT_PK_INVALIDATION] = {"pk_invalidation", K_BOOL, 0, 1, 1},
    [ALCHDB_CACHE_OPT_HASH_KEY] = {"hash_key", K_STR, 0, 0, 0},
    [ALCHDB_CACHE_OPT_CATALOG_REFRESH] = {"catalog_refresh", K_DUR, SEC, 86400 * SEC, 60 * SEC},
    [ALCHDB_CACHE_OPT_TRUST_TRIGGERS] = {"trust_triggers", K_BOOL, 0, 1, 0},
    [ALCHDB_CACHE_OPT_CACHE_ALL] = {"cache_all", K_BOOL, 0, 1, 1},
    [ALCHDB_CACHE_OPT_WRITE_MARK_TTL] = {"write_mark_ttl", K_DUR, 100 * MS, 86400 * SEC, 60 * SEC},
};

static bool valid_opt(int opt)
{
    return opt >= 0 && opt < ALCHDB_CACHE_OPT_COUNT;
}

ALCHDB_API int alchdb_cache_config_new(alchdb_cache_config **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_cache_config *c = alchdb__calloc(1, sizeof *c);
    if (!c)
        return alchdb__nomem("cache config");
    for (int i = 0; i < ALCHDB_CACHE_OPT_COUNT; i++)
        c->ival[i] = OPTS[i].def;
    *out = c;
    return 0;
}

ALCHDB_API void alchdb_cache_config_free(alchdb_cache_config *c)
{
    if (!c)
        return;
    for (int i = 0; i < ALCHDB_CACHE_OPT_COUNT; i++) {
        if (c->sval[i] && i == ALCHDB_CACHE_OPT_REDIS_PASSWORD)
            memset(c->sval[i], 0, strlen(c->sval[i]));
        alchdb__free(c->sval[i]);
    }
    alchdb__free(c);
}

int alchdb__cache_config_copy(const alchdb_cache_config *src, alchdb_cache_config **out)
{
    int rc = alchdb_cache_config_new(out);
    if (rc || !src)
        return rc;
    memcpy((*out)->ival, src->ival, sizeof src->ival);
    for (int i = 0; i < ALCHDB_CACHE_OPT_COUNT; i++) {
        if (src->sval[i] && !((*out)->sval[i] = alchdb__strdup(src->sval[i]))) {
            alchdb_cache_config_free(*out);
            *out = NULL;
            return alchdb__nomem("cache config");
        }
    }
    return 0;
}

const char *alchdb__cache_config_str(const alchdb_cache_config *c, int opt)
{
    static const char *const defaults[ALCHDB_CACHE_OPT_COUNT] = {
        [ALCHDB_CACHE_OPT_BACKEND] = "memory",
        [ALCHDB_CACHE_OPT_REDIS_HOST] = "127.0.0.1",
        [ALCHDB_CACHE_OPT_PREFIX] = "alchemorsel:query",
    };
    return c->sval[opt] ? c->sval[opt] : defaults[opt];
}

const char *alchdb__cache_opt_name(int opt)
{
    return valid_opt(opt) ? OPTS[opt].name : "?";
}

ALCHDB_API int alchdb_cache_config_set_int64(alchdb_cache_config *c, int opt, int64_t v)
{
    ALCHDB_CHECK_ARG(c, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(valid_opt(opt), "opt", "must be an alchdb_cache_opt");
    const opt_def *d = &OPTS[opt];
    if (d->kind == K_STR)
        return alchdb__error(ALCHDB_E_INVALID, "%s: option '%s' is a string (alchdb_cache_config_set_string)",
                             __func__, d->name);
    if (v < d->min || v > d->max)
        return alchdb__error(ALCHDB_E_INVALID, "%s: option '%s' must be %lld..%lld%s, not %lld", __func__,
                             d->name, (long long)d->min, (long long)d->max,
                             d->kind == K_DUR ? " microseconds" : "", (long long)v);
    c->ival[opt] = v;
    return 0;
}

static bool prefix_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 100)
        return false;
    for (const char *p = s; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(":_.-", *p))
            return false;
    return true;
}

static bool hex32_ok(const char *s)
{
    if (strlen(s) != 32)
        return false;
    for (const char *p = s; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

ALCHDB_API int alchdb_cache_config_set_string(alchdb_cache_config *c, int opt, const char *value)
{
    ALCHDB_CHECK_ARG(c, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(valid_opt(opt), "opt", "must be an alchdb_cache_opt");
    const opt_def *d = &OPTS[opt];
    if (d->kind != K_STR)
        return alchdb__error(ALCHDB_E_INVALID, "%s: option '%s' is not a string option", __func__, d->name);
    if (value) {
        size_t n = strlen(value);
        bool ok = true;
        const char *why = "";
        switch (opt) {
        case ALCHDB_CACHE_OPT_BACKEND:
            ok = strcmp(value, "memory") == 0 || strcmp(value, "redis") == 0;
            why = "must be \"memory\" or \"redis\"";
            break;
        case ALCHDB_CACHE_OPT_PREFIX:
            ok = prefix_ok(value);
            why = "must have 1..100 characters of A-Z a-z 0-9 : _ . -";
            break;
        case ALCHDB_CACHE_OPT_HASH_KEY:
            ok = hex32_ok(value);
            why = "must be 32 hexadecimal digits";
            break;
        case ALCHDB_CACHE_OPT_REDIS_HOST:
            ok = n >= 1 && n <= 255 && !strpbrk(value, " \t\r\n");
            why = "must be a host name or address (1..255 characters, no spaces)";
            break;
        default: /* the password: any bytes but NUL, bounded */
            ok = n >= 1 && n <= 512;
            why = "must have 1..512 characters";
            break;
        }
        if (!ok) /* never echo the value: it may be the password */
            return alchdb__error(ALCHDB_E_INVALID, "%s: option '%s' %s", __func__, d->name, why);
    }
    char *copy = NULL;
    if (value && !(copy = alchdb__strdup(value)))
        return alchdb__nomem("cache config");
    alchdb__free(c->sval[opt]);
    c->sval[opt] = copy;
    return 0;
}

static int parse_int(const opt_def *d, const char *value, int64_t *out)
{
    if (d->kind == K_BOOL) {
        static const char *const yes[] = {"1", "true", "on", "yes"}, *const no[] = {"0", "false", "off", "no"};
        for (size_t i = 0; i < 4; i++) {
            if (strcasecmp(value, yes[i]) == 0)
                return *out = 1, 0;
            if (strcasecmp(value, no[i]) == 0)
                return *out = 0, 0;
        }
        return alchdb__error(ALCHDB_E_INVALID, "option '%s': '%.64s' is not a boolean", d->name, value);
    }
    if (d->kind == K_DUR) {
        int rc = alchdb_parse_duration(value, out);
        if (rc) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", alchdb_last_error_message());
            return alchdb__error(rc, "option '%s': %s", d->name, msg);
        }
        return 0;
    }
    errno = 0;
    char *end;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end)
        return alchdb__error(ALCHDB_E_INVALID, "option '%s': '%.64s' is not an integer", d->name, value);
    *out = v;
    return 0;
}

ALCHDB_API int alchdb_cache_config_set_from_string(alchdb_cache_config *c, const char *name, const char *value)
{
    ALCHDB_CHECK_ARG(c, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    for (int i = 0; i < ALCHDB_CACHE_OPT_COUNT; i++) {
        if (strcasecmp(name, OPTS[i].name) != 0)
            continue;
        if (OPTS[i].kind == K_STR)
            return alchdb_cache_config_set_string(c, i, value);
        int64_t v;
        int rc = parse_int(&OPTS[i], value, &v);
        return rc ? rc : alchdb_cache_config_set_int64(c, i, v);
    }
    return alchdb__error(ALCHDB_E_NOTFOUND, "unknown cache option '%.64s'", name);
}
