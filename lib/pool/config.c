/* Pool configuration: typed setters, by-name text setter, environment loader
 * and the Go-style duration parser. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pool/pool_internal.h"

#define US_PER_MS INT64_C(1000)
#define US_PER_S INT64_C(1000000)
#define MAX_DUR_US (INT64_C(10) * 366 * 24 * 3600 * US_PER_S) /* ten years */

enum { K_COUNT, K_DUR, K_RESET, K_STRING };

typedef struct opt_def {
    int opt;
    const char *name;
    int kind;
    int64_t min, max, def;
} opt_def;

static const opt_def OPTS[] = {
    {ALCHDB_POOL_OPT_MAX_OPEN, "max_open_conns", K_COUNT, 1, 10000, 100},
    {ALCHDB_POOL_OPT_MAX_IDLE, "max_idle_conns", K_COUNT, 0, 10000, 25},
    {ALCHDB_POOL_OPT_MIN_IDLE, "min_idle_conns", K_COUNT, 0, 10000, 0},
    {ALCHDB_POOL_OPT_CONN_MAX_LIFETIME, "conn_max_lifetime", K_DUR, 0, MAX_DUR_US, 30 * 60 * US_PER_S},
    {ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME, "conn_max_idle_time", K_DUR, 0, MAX_DUR_US, 5 * 60 * US_PER_S},
    {ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT, "acquire_timeout", K_DUR, 0, MAX_DUR_US, 10 * US_PER_S},
    {ALCHDB_POOL_OPT_CONNECT_TIMEOUT, "connect_timeout", K_DUR, US_PER_MS, 3600 * US_PER_S, 5 * US_PER_S},
    {ALCHDB_POOL_OPT_VALIDATION_INTERVAL, "validation_interval", K_DUR, 0, MAX_DUR_US, 5 * US_PER_S},
    {ALCHDB_POOL_OPT_LEAK_THRESHOLD, "leak_threshold", K_DUR, 0, MAX_DUR_US, 60 * US_PER_S},
    {ALCHDB_POOL_OPT_RESET_POLICY, "reset_policy", K_RESET, 0, 1, ALCHDB_POOL_RESET_ROLLBACK},
    {ALCHDB_POOL_OPT_MAX_WAITERS, "max_waiters", K_COUNT, 0, 1000000, 10000},
    {ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD, "slow_query_threshold", K_DUR, 0, MAX_DUR_US, 50 * US_PER_MS},
    {ALCHDB_POOL_OPT_HOUSEKEEPING_INTERVAL, "housekeeping_interval", K_DUR, US_PER_MS, 3600 * US_PER_S, US_PER_S},
    {ALCHDB_POOL_OPT_STMT_CACHE_SIZE, "statement_cache_size", K_COUNT, 0, 100000, 256},
    {ALCHDB_POOL_OPT_MAX_CONNECTING, "max_connecting", K_COUNT, 1, 1000, 4},
    {ALCHDB_POOL_OPT_NAME, "name", K_STRING, 0, 0, 0},
};
#define NOPTS (sizeof OPTS / sizeof OPTS[0])

static const opt_def *find_opt(int opt)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (OPTS[i].opt == opt)
            return &OPTS[i];
    return NULL;
}

static const opt_def *find_opt_name(const char *name)
{
    for (size_t i = 0; i < NOPTS; i++)
        if (strcasecmp(OPTS[i].name, name) == 0)
            return &OPTS[i];
    return NULL;
}

void alchdb__pool_config_defaults(struct alchdb_pool_config *cfg)
{
    memset(cfg->v, 0, sizeof cfg->v);
    for (size_t i = 0; i < NOPTS; i++)
        if (OPTS[i].kind != K_STRING)
            cfg->v[OPTS[i].opt] = OPTS[i].def;
    cfg->name = NULL;
}

ALCHDB_API int alchdb_pool_config_new(alchdb_pool_config **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_pool_config *cfg = alchdb__malloc(sizeof *cfg);
    if (!cfg)
        return alchdb__nomem("pool config");
    alchdb__pool_config_defaults(cfg);
    *out = cfg;
    return 0;
}

ALCHDB_API void alchdb_pool_config_free(alchdb_pool_config *cfg)
{
    if (!cfg)
        return;
    alchdb__free(cfg->name);
    alchdb__free(cfg);
}

static int set_checked(alchdb_pool_config *cfg, const opt_def *d, int64_t value, const char *func)
{
    if (value < d->min || value > d->max) {
        if (d->kind == K_DUR)
            return alchdb__error(ALCHDB_E_INVALID,
                                 "%s: option '%s' = %lld us is out of range (%lld..%lld us)", func,
                                 d->name, (long long)value, (long long)d->min, (long long)d->max);
        return alchdb__error(ALCHDB_E_INVALID, "%s: option '%s' = %lld is out of range (%lld..%lld)",
                             func, d->name, (long long)value, (long long)d->min, (long long)d->max);
    }
    cfg->v[d->opt] = value;
    return 0;
}

ALCHDB_API int alchdb_pool_config_set_int64(alchdb_pool_config *cfg, int opt, int64_t value)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    const opt_def *d = find_opt(opt);
    ALCHDB_CHECK_ARG(d, "opt", "unknown pool option");
    ALCHDB_CHECK_ARG(d->kind != K_STRING, "opt", "is a string option: use alchdb_pool_config_set_string");
    return set_checked(cfg, d, value, __func__);
}

ALCHDB_API int alchdb_pool_config_get_int64(const alchdb_pool_config *cfg, int opt, int64_t *out)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    const opt_def *d = find_opt(opt);
    ALCHDB_CHECK_ARG(d, "opt", "unknown pool option");
    ALCHDB_CHECK_ARG(d->kind != K_STRING, "opt", "is a string option");
    *out = cfg->v[opt];
    return 0;
}

ALCHDB_API int alchdb_pool_config_set_string(alchdb_pool_config *cfg, int opt, const char *value)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(opt == ALCHDB_POOL_OPT_NAME, "opt", "not a string option");
    if (value) {
        size_t n = strlen(value);
        ALCHDB_CHECK_ARG(n >= 1 && n <= 63, "value", "a pool name has 1..63 characters");
        for (size_t i = 0; i < n; i++)
            ALCHDB_CHECK_ARG(value[i] >= 0x20 && value[i] < 0x7f, "value",
                             "a pool name has printable ASCII characters only");
    }
    char *copy = NULL;
    if (value && !(copy = alchdb__strdup(value)))
        return alchdb__nomem("pool name");
    alchdb__free(cfg->name);
    cfg->name = copy;
    return 0;
}

/* Units, longest first so "ms" wins over "m". */
static const struct {
    const char *unit;
    int64_t ns;
} UNITS[] = {
    {"ns", 1},
    {"us", 1000},
    {"\xc2\xb5s", 1000}, /* micro sign */
    {"\xce\xbcs", 1000}, /* Greek mu */
    {"ms", 1000000},
    {"s", INT64_C(1000000000)},
    {"m", INT64_C(60000000000)},
    {"h", INT64_C(3600000000000)},
};

ALCHDB_API int alchdb_pool_parse_duration(const char *text, int64_t *out_us)
{
    ALCHDB_CHECK_ARG(text, "text", "must not be NULL");
    ALCHDB_CHECK_ARG(out_us, "out_us", "must not be NULL");
    const char *p = text;
    if (*p == '+')
        p++;
    if (*p == '\0')
        return alchdb__error(ALCHDB_E_INVALID, "invalid duration '%s': empty", text);
    if (*p == '-')
        return alchdb__error(ALCHDB_E_INVALID, "invalid duration '%s': must not be negative", text);

    /* A bare integer is milliseconds. */
    bool all_digits = true;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            all_digits = false;
    if (all_digits) {
        errno = 0;
        char *end;
        unsigned long long ms = strtoull(p, &end, 10);
        if (errno == ERANGE || ms > (unsigned long long)(INT64_MAX / 1000))
            return alchdb__error(ALCHDB_E_RANGE, "duration '%s' is too large", text);
        *out_us = (int64_t)ms * 1000;
        return 0;
    }

    int64_t total_ns = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p) && *p != '.')
            return alchdb__error(ALCHDB_E_INVALID,
                                 "invalid duration '%s': expected a number at '%s' "
                                 "(use e.g. 30m, 1h30m, 50ms, 2s)",
                                 text, p);
        int64_t ipart = 0;
        int ndig = 0;
        bool overflow = false;
        while (isdigit((unsigned char)*p)) {
            if (ipart > (INT64_MAX - 9) / 10)
                overflow = true;
            else
                ipart = ipart * 10 + (*p - '0');
            p++;
            ndig++;
        }
        long double frac = 0, scale = 1;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) {
                scale /= 10;
                frac += (long double)(*p - '0') * scale;
                p++;
                ndig++;
            }
        }
        if (ndig == 0)
            return alchdb__error(ALCHDB_E_INVALID, "invalid duration '%s': a '.' without digits",
                                 text);
        int64_t unit = 0;
        size_t ulen = 0;
        for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++) {
            size_t n = strlen(UNITS[i].unit);
            if (n > ulen && strncmp(p, UNITS[i].unit, n) == 0) {
                unit = UNITS[i].ns;
                ulen = n;
            }
        }
        if (!unit)
            return alchdb__error(ALCHDB_E_INVALID,
                                 "invalid duration '%s': missing or unknown unit at '%s' "
                                 "(units: ns, us, ms, s, m, h)",
                                 text, p);
        p += ulen;
        if (overflow || ipart > INT64_MAX / unit)
            return alchdb__error(ALCHDB_E_RANGE, "duration '%s' is too large", text);
        int64_t fpart = (int64_t)(frac * (long double)unit); /* < unit */
        if (ipart * unit > INT64_MAX - fpart)
            return alchdb__error(ALCHDB_E_RANGE, "duration '%s' is too large", text);
        int64_t part = ipart * unit + fpart;
        if (part > INT64_MAX - total_ns)
            return alchdb__error(ALCHDB_E_RANGE, "duration '%s' is too large", text);
        total_ns += part;
    }
    *out_us = total_ns / 1000;
    return 0;
}

static int parse_count(const char *name, const char *value, int64_t *out)
{
    const char *p = value;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p || *p == '-' || !isdigit((unsigned char)*p))
        return alchdb__error(ALCHDB_E_INVALID,
                             "option '%s': '%s' is not a non-negative integer", name, value);
    errno = 0;
    char *end;
    long long v = strtoll(p, &end, 10);
    while (isspace((unsigned char)*end))
        end++;
    if (errno == ERANGE)
        return alchdb__error(ALCHDB_E_INVALID, "option '%s': '%s' is too large", name, value);
    if (*end)
        return alchdb__error(ALCHDB_E_INVALID,
                             "option '%s': '%s' is not a non-negative integer", name, value);
    *out = v;
    return 0;
}

ALCHDB_API int alchdb_pool_config_set_from_string(alchdb_pool_config *cfg, const char *name,
                                                  const char *value)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    const opt_def *d = find_opt_name(name);
    if (!d)
        return alchdb__error(ALCHDB_E_NOTFOUND, "unknown pool option '%.64s'", name);
    int64_t v = 0;
    int rc;
    switch (d->kind) {
    case K_STRING:
        return alchdb_pool_config_set_string(cfg, d->opt, value);
    case K_COUNT:
        rc = parse_count(d->name, value, &v);
        break;
    case K_RESET:
        if (strcasecmp(value, "rollback") == 0) {
            v = ALCHDB_POOL_RESET_ROLLBACK;
            rc = 0;
        } else if (strcasecmp(value, "discard_all") == 0) {
            v = ALCHDB_POOL_RESET_DISCARD_ALL;
            rc = 0;
        } else {
            rc = alchdb__error(ALCHDB_E_INVALID,
                               "option '%s': '%.64s' is not 'rollback' or 'discard_all'", d->name,
                               value);
        }
        break;
    default:
        rc = alchdb_pool_parse_duration(value, &v);
        if (rc != 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "%s", alchdb_last_error_message());
            return alchdb__error(rc, "option '%s': %s", d->name, msg);
        }
        break;
    }
    if (rc != 0)
        return rc;
    return set_checked(cfg, d, v, __func__);
}

ALCHDB_API int alchdb_pool_config_from_env(alchdb_pool_config *cfg, const char *prefix)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(prefix, "prefix", "must not be NULL");
    size_t plen = strlen(prefix);
    ALCHDB_CHECK_ARG(plen >= 1 && plen <= 100, "prefix", "must have 1..100 characters");
    char var[160];
    for (size_t i = 0; i < NOPTS; i++) {
        size_t n = (size_t)snprintf(var, sizeof var, "%s_%s", prefix, OPTS[i].name);
        for (size_t k = plen + 1; k < n; k++)
            var[k] = (char)toupper((unsigned char)var[k]);
        const char *val = getenv(var);
        if (!val || !*val)
            continue;
        int rc = alchdb_pool_config_set_from_string(cfg, OPTS[i].name, val);
        if (rc != 0) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s", alchdb_last_error_message());
            return alchdb__error(rc, "environment variable %s: %s", var, msg);
        }
    }
    return 0;
}
