/* The router's options, declared once for the option engine (lib/core/opt.c):
 * the public alchdb_router_config_* functions, the listing, the CLI's help
 * and the table in docs/router.md all come from this table. A router copies
 * the values into its plain settings struct when it is made, so the hot
 * paths read fields, not the table. */
#include "router/router_internal.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
#define HOUR (3600 * SEC)

static const char *const POLICIES[] = {"round_robin", "random", "least_outstanding", "weighted", NULL};

#define INT_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_INT, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define DUR_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_DURATION, lo, hi, def, NULL, NULL, NULL, 0, doc}

static const alchdb__optdef DEFS[] = {
    {ALCHDB_ROUTER_OPT_POLICY, "policy", ALCHDB_OPT_ENUM, 0, 3, ALCHDB_ROUTER_ROUND_ROBIN, NULL, POLICIES, NULL, 0,
     "how a read picks among healthy standbys"},
    DUR_OPT(ALCHDB_ROUTER_OPT_PROBE_INTERVAL, "probe_interval", 10 * MS, HOUR, SEC, "health probe period"),
    {ALCHDB_ROUTER_OPT_MAX_LAG_BYTES, "max_lag_bytes", ALCHDB_OPT_SIZE, 0, INT64_MAX, 16 * 1024 * 1024, NULL, NULL,
     NULL, 0, "replay lag in WAL bytes above which a standby gets no reads"},
    DUR_OPT(ALCHDB_ROUTER_OPT_MAX_LAG_TIME, "max_lag_time", 0, INT64_MAX, 5 * SEC,
            "replay lag in time above which a standby gets no reads"),
    INT_OPT(ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT, "lag_hysteresis_pct", 0, 100, 50,
            "a lagging standby is re-admitted only below this percentage of the thresholds"),
    DUR_OPT(ALCHDB_ROUTER_OPT_CAUSAL_WAIT, "causal_wait", 0, 60 * SEC, 20 * MS,
            "how long a read with a token may wait for a standby to reach it"),
    INT_OPT(ALCHDB_ROUTER_OPT_BREAKER_FAILURES, "breaker_failures", 1, 1000, 3,
            "consecutive failures that open a host's breaker"),
    DUR_OPT(ALCHDB_ROUTER_OPT_BREAKER_OPEN_TIME, "breaker_open_time", MS, HOUR, SEC,
            "first open period of a breaker; doubles while the host keeps failing"),
    DUR_OPT(ALCHDB_ROUTER_OPT_BREAKER_MAX_OPEN_TIME, "breaker_max_open_time", MS, HOUR, 30 * SEC,
            "cap of a breaker's open period"),
    INT_OPT(ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC, "fallback_max_per_sec", 0, INT64_MAX, 0,
            "reads per second the primary takes for failed-over standbys, beyond: ALCHDB_E_BUSY; 0 = no cap"),
    {ALCHDB_ROUTER_OPT_CAUSAL_DEFAULT, "causal_default", ALCHDB_OPT_BOOL, 0, 1, 0, NULL, NULL, NULL, 0,
     "every read is causal, with the router's last token"},
    DUR_OPT(ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT, "acquire_timeout", 0, HOUR, 5 * SEC,
            "the longest wait for a connection when a call names none"),
    DUR_OPT(ALCHDB_ROUTER_OPT_MAX_STALENESS, "max_staleness", 0, 24 * HOUR, 60 * SEC,
            "while no primary answers, how old a standby's data may be and still serve reads; 0 = no limit"),
    DUR_OPT(ALCHDB_ROUTER_OPT_PROBE_TIMEOUT, "probe_timeout", 10 * MS, 60 * SEC, 2 * SEC,
            "deadline of one health probe, connect included"),
};

const alchdb__optspec alchdb__router_optspec = {"router", DEFS, sizeof DEFS / sizeof DEFS[0]};

ALCHDB__CONFIG_API(router, alchdb_router_config, opts, &alchdb__router_optspec)

void alchdb__router_settings_load(router_settings *s, const alchdb__opts *o)
{
    s->policy = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_POLICY);
    s->probe_interval_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_PROBE_INTERVAL);
    s->max_lag_bytes = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_MAX_LAG_BYTES);
    s->max_lag_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_MAX_LAG_TIME);
    s->hysteresis_pct = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT);
    s->causal_wait_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_CAUSAL_WAIT);
    s->breaker_failures = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_BREAKER_FAILURES);
    s->breaker_open_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_BREAKER_OPEN_TIME);
    s->breaker_max_open_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_BREAKER_MAX_OPEN_TIME);
    s->fallback_max_per_sec = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC);
    s->causal_default = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_CAUSAL_DEFAULT);
    s->acquire_timeout_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT);
    s->max_staleness_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_MAX_STALENESS);
    s->probe_timeout_us = alchdb__opts_i(o, ALCHDB_ROUTER_OPT_PROBE_TIMEOUT);
}
