/* Router options: defaults, the numbered setter and the by-name setter. */
#include <stdlib.h>
#include <string.h>

#include "router/router_internal.h"

const alchdb_router_config alchdb__router_defaults = {
    .policy = ALCHDB_ROUTER_ROUND_ROBIN,
    .probe_interval_us = 1000000,
    .max_lag_bytes = 16 * 1024 * 1024,
    .max_lag_us = 5000000,
    .hysteresis_pct = 50,
    .causal_wait_us = 20000,
    .breaker_failures = 3,
    .breaker_open_us = 1000000,
    .breaker_max_open_us = 30000000,
    .fallback_max_per_sec = 0,
    .causal_default = 0,
    .acquire_timeout_us = 5000000,
    .max_staleness_us = 60000000,
    .probe_timeout_us = 2000000,
};

/* ---- configuration --------------------------------------------------------- */

ALCHDB_API int alchdb_router_config_new(alchdb_router_config **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = alchdb__malloc(sizeof **out);
    if (!*out)
        return alchdb__nomem("router config");
    **out = alchdb__router_defaults;
    return 0;
}

ALCHDB_API void alchdb_router_config_free(alchdb_router_config *cfg) { alchdb__free(cfg); }

ALCHDB_API int alchdb_router_config_set_int64(alchdb_router_config *c, int opt, int64_t v)
{
    ALCHDB_CHECK_ARG(c, "cfg", "must not be NULL");
    switch (opt) {
    case ALCHDB_ROUTER_OPT_POLICY:
        ALCHDB_CHECK_ARG(v >= ALCHDB_ROUTER_ROUND_ROBIN && v <= ALCHDB_ROUTER_WEIGHTED, "value",
                         "must be an alchdb_router_policy");
        c->policy = v;
        return 0;
    case ALCHDB_ROUTER_OPT_PROBE_INTERVAL:
        ALCHDB_CHECK_ARG(v >= 10000 && v <= INT64_C(3600000000), "value", "must be 10 ms .. 1 h");
        c->probe_interval_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_MAX_LAG_BYTES:
        ALCHDB_CHECK_ARG(v >= 0, "value", "must be >= 0");
        c->max_lag_bytes = v;
        return 0;
    case ALCHDB_ROUTER_OPT_MAX_LAG_TIME:
        ALCHDB_CHECK_ARG(v >= 0, "value", "must be >= 0");
        c->max_lag_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT:
        ALCHDB_CHECK_ARG(v >= 0 && v <= 100, "value", "must be 0..100");
        c->hysteresis_pct = v;
        return 0;
    case ALCHDB_ROUTER_OPT_CAUSAL_WAIT:
        ALCHDB_CHECK_ARG(v >= 0 && v <= 60000000, "value", "must be 0 .. 60 s");
        c->causal_wait_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_BREAKER_FAILURES:
        ALCHDB_CHECK_ARG(v >= 1 && v <= 1000, "value", "must be 1..1000");
        c->breaker_failures = v;
        return 0;
    case ALCHDB_ROUTER_OPT_BREAKER_OPEN_TIME:
        ALCHDB_CHECK_ARG(v >= 1000 && v <= INT64_C(3600000000), "value", "must be 1 ms .. 1 h");
        c->breaker_open_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_BREAKER_MAX_OPEN_TIME:
        ALCHDB_CHECK_ARG(v >= 1000 && v <= INT64_C(3600000000), "value", "must be 1 ms .. 1 h");
        c->breaker_max_open_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC:
        ALCHDB_CHECK_ARG(v >= 0, "value", "must be >= 0 (0 = no cap)");
        c->fallback_max_per_sec = v;
        return 0;
    case ALCHDB_ROUTER_OPT_CAUSAL_DEFAULT:
        ALCHDB_CHECK_ARG(v == 0 || v == 1, "value", "must be 0 or 1");
        c->causal_default = v;
        return 0;
    case ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT:
        ALCHDB_CHECK_ARG(v >= 0 && v <= INT64_C(3600000000), "value", "must be 0 .. 1 h");
        c->acquire_timeout_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_MAX_STALENESS:
        ALCHDB_CHECK_ARG(v >= 0 && v <= INT64_C(86400000000), "value", "must be 0 (no limit) .. 24 h");
        c->max_staleness_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_PROBE_TIMEOUT:
        ALCHDB_CHECK_ARG(v >= 10000 && v <= INT64_C(60000000), "value", "must be 10 ms .. 60 s");
        c->probe_timeout_us = v;
        return 0;
    default:
        return alchdb__invalid_arg(__func__, "opt", "not an alchdb_router_opt");
    }
}

ALCHDB_API int alchdb_router_config_set_from_string(alchdb_router_config *c, const char *name, const char *value)
{
    ALCHDB_CHECK_ARG(c, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    static const struct {
        const char *name;
        int opt;
        int kind; /* 0 integer, 1 duration, 2 policy, 3 bool */
    } names[] = {
        {"policy", ALCHDB_ROUTER_OPT_POLICY, 2},
        {"probe_interval", ALCHDB_ROUTER_OPT_PROBE_INTERVAL, 1},
        {"max_lag_bytes", ALCHDB_ROUTER_OPT_MAX_LAG_BYTES, 0},
        {"max_lag_time", ALCHDB_ROUTER_OPT_MAX_LAG_TIME, 1},
        {"lag_hysteresis_pct", ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT, 0},
        {"causal_wait", ALCHDB_ROUTER_OPT_CAUSAL_WAIT, 1},
        {"breaker_failures", ALCHDB_ROUTER_OPT_BREAKER_FAILURES, 0},
        {"breaker_open_time", ALCHDB_ROUTER_OPT_BREAKER_OPEN_TIME, 1},
        {"breaker_max_open_time", ALCHDB_ROUTER_OPT_BREAKER_MAX_OPEN_TIME, 1},
        {"fallback_max_per_sec", ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC, 0},
        {"causal_default", ALCHDB_ROUTER_OPT_CAUSAL_DEFAULT, 3},
        {"acquire_timeout", ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT, 1},
        {"max_staleness", ALCHDB_ROUTER_OPT_MAX_STALENESS, 1},
        {"probe_timeout", ALCHDB_ROUTER_OPT_PROBE_TIMEOUT, 1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i].name, name) != 0)
            continue;
        int64_t v = 0;
        if (names[i].kind == 1) {
            if (alchdb_parse_duration(value, &v) < 0)
                return alchdb__error(ALCHDB_E_INVALID, "%s: %s: '%s' is not a duration (e.g. 250ms, 1s)", __func__,
                                     name, value);
        } else if (names[i].kind == 2) {
            static const char *const pol[] = {"round_robin", "random", "least_outstanding", "weighted"};
            v = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(value, pol[k]))
                    v = k;
            if (v < 0)
                return alchdb__error(ALCHDB_E_INVALID,
                                     "%s: policy '%s' is not round_robin|random|least_outstanding|weighted", __func__,
                                     value);
        } else if (names[i].kind == 3) {
            if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "on"))
                v = 1;
            else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "off"))
                v = 0;
            else
                return alchdb__error(ALCHDB_E_INVALID, "%s: %s: '%s' is not true|false", __func__, name, value);
        } else {
            char *end;
            long long ll = strtoll(value, &end, 10);
            if (end == value || *end)
                return alchdb__error(ALCHDB_E_INVALID, "%s: %s: '%s' is not an integer", __func__, name, value);
            v = ll;
        }
        return alchdb_router_config_set_int64(c, names[i].opt, v);
    }
    return alchdb__error(ALCHDB_E_INVALID, "%s: unknown router option '%s'", __func__, name);
}
