/* Monitor configuration: numbered options plus a by-name text setter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monitor/monitor_internal.h"

enum { T_COUNT, T_DURATION, T_BOOL };

static const struct opt_desc {
    int opt;
    const char *name;
    int type;
    int64_t min, max, def;
} opts[] = {
    {ALCHDB_MONITOR_OPT_SLOW_THRESHOLD, "slow_query_threshold", T_DURATION, 1, 3600000000LL, 50000},
    {ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE, "slow_log_size", T_COUNT, 0, 100000, 1000},
    {ALCHDB_MONITOR_OPT_MAX_PATTERNS, "max_patterns", T_COUNT, 16, 1000000, 1000},
    {ALCHDB_MONITOR_OPT_TEXT_CACHE_SIZE, "text_cache_size", T_COUNT, 64, 16777216, 16384},
    {ALCHDB_MONITOR_OPT_MAX_LABEL_VALUES, "max_label_values", T_COUNT, 0, 1000000, 1000},
    {ALCHDB_MONITOR_OPT_MAX_TEXT_LENGTH, "max_text_length", T_COUNT, 64, 1048576, 4096},
    {ALCHDB_MONITOR_OPT_KEEP_PARAMETERS, "keep_parameters", T_BOOL, 0, 1, 0},
    {ALCHDB_MONITOR_OPT_N_PLUS_ONE_THRESHOLD, "n_plus_one_threshold", T_COUNT, 2, 1000000, 20},
    {ALCHDB_MONITOR_OPT_N_PLUS_ONE_WINDOW, "n_plus_one_window", T_DURATION, 1000, 3600000000LL,
     1000000},
    {ALCHDB_MONITOR_OPT_REGRESSION_WINDOW, "regression_window", T_DURATION, 1000000,
     86400000000LL, 300000000},
    {ALCHDB_MONITOR_OPT_REGRESSION_FACTOR, "regression_factor", T_COUNT, 110, 100000, 200},
    {ALCHDB_MONITOR_OPT_PLAN_INTERVAL, "plan_capture_interval", T_DURATION, 0, 86400000000LL,
     60000000},
    {ALCHDB_MONITOR_OPT_LARGE_OFFSET, "large_offset", T_COUNT, 1, 1000000000000LL, 1000},
    {ALCHDB_MONITOR_OPT_MAX_PARSE_LENGTH, "max_parse_length", T_COUNT, 1024, 67108864, 1048576},
    {ALCHDB_MONITOR_OPT_PARSE_QUEUE_SIZE, "parse_queue_size", T_COUNT, 0, 1048576, 0},
};

static const struct opt_desc *find_opt(int opt)
{
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (opts[i].opt == opt)
            return &opts[i];
    return NULL;
}

void alchdb__monitor_config_defaults(alchdb_monitor_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        cfg->v[opts[i].opt] = opts[i].def;
}

int alchdb_monitor_config_new(alchdb_monitor_config **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_monitor_config *cfg = alchdb__malloc(sizeof *cfg);
    if (!cfg)
        return alchdb__nomem("monitor config");
    alchdb__monitor_config_defaults(cfg);
    *out = cfg;
    return 0;
}

void alchdb_monitor_config_free(alchdb_monitor_config *cfg) { alchdb__free(cfg); }

int alchdb_monitor_config_set_int64(alchdb_monitor_config *cfg, int opt, int64_t value)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    const struct opt_desc *d = find_opt(opt);
    if (!d)
        return alchdb__error(ALCHDB_E_INVALID, "alchdb_monitor_config_set_int64: unknown option %d",
                             opt);
    if (value < d->min || value > d->max)
        return alchdb__error(ALCHDB_E_INVALID,
                             "alchdb_monitor_config_set_int64: %s = %lld is out of range %lld..%lld",
                             d->name, (long long)value, (long long)d->min, (long long)d->max);
    cfg->v[opt] = value;
    return 0;
}

int alchdb_monitor_config_get_int64(const alchdb_monitor_config *cfg, int opt, int64_t *out)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    const struct opt_desc *d = find_opt(opt);
    if (!d)
        return alchdb__error(ALCHDB_E_INVALID, "alchdb_monitor_config_get_int64: unknown option %d",
                             opt);
    *out = cfg->v[opt];
    return 0;
}

static int parse_count(const char *text, int64_t *out)
{
    char *end;
    if (!*text)
        return -1;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

static int parse_bool(const char *t, int64_t *out)
{
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(t, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(t, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int alchdb_monitor_config_set_from_string(alchdb_monitor_config *cfg, const char *name,
                                          const char *value)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    const struct opt_desc *d = NULL;
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        if (!strcasecmp(opts[i].name, name))
            d = &opts[i];
    if (!d)
        return alchdb__error(ALCHDB_E_NOTFOUND, "monitor config: unknown option \"%.64s\"", name);
    int64_t v = 0;
    int rc;
    if (d->type == T_DURATION) {
        rc = alchdb_parse_duration(value, &v);
    } else if (d->type == T_BOOL) {
        rc = parse_bool(value, &v);
    } else {
        rc = parse_count(value, &v);
    }
    if (rc != 0)
        return alchdb__error(ALCHDB_E_INVALID, "monitor config: %s: cannot parse \"%.64s\"", d->name,
                             value);
    if (v < d->min || v > d->max)
        return alchdb__error(ALCHDB_E_INVALID,
                             "monitor config: %s = \"%.64s\" is out of range %lld..%lld", d->name,
                             value, (long long)d->min, (long long)d->max);
    cfg->v[d->opt] = v;
    return 0;
}
