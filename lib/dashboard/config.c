/* The dashboard's options, declared once for the option engine. */
#include "dashboard/dash.h"

#define MIN_US 60000000LL
#define HOUR_US (60 * MIN_US)
#define DAY_US (24 * HOUR_US)

static const alchdb__optdef defs[] = {
    {ALCHDB_DASHBOARD_OPT_MIN_QUERIES, "min_queries", ALCHDB_OPT_INT, 1, 1000000000, 100, NULL,
     NULL, NULL, 0,
     "executions in the health window before the failure and slow-query rules apply"},
    {ALCHDB_DASHBOARD_OPT_MIN_CACHE_LOOKUPS, "min_cache_lookups", ALCHDB_OPT_INT, 1, 1000000000,
     100, NULL, NULL, NULL, 0, "cache lookups before the hit-ratio rules apply"},
    {ALCHDB_DASHBOARD_OPT_HEALTH_WINDOW, "health_window", ALCHDB_OPT_DURATION, MIN_US, HOUR_US,
     5 * MIN_US, NULL, NULL, NULL, 0,
     "the monitor's per-minute windows summed for the query rules"},
    {ALCHDB_DASHBOARD_OPT_ALERT_FOR, "alert_for", ALCHDB_OPT_DURATION, 0, DAY_US, MIN_US, NULL,
     NULL, NULL, 0, "a condition must hold this long before its alert fires"},
    {ALCHDB_DASHBOARD_OPT_ALERT_CLEAR_AFTER, "alert_clear_after", ALCHDB_OPT_DURATION, 0, DAY_US,
     2 * MIN_US, NULL, NULL, NULL, 0,
     "a firing alert clears after its condition stayed false this long"},
    {ALCHDB_DASHBOARD_OPT_MAX_REPLICA_LAG, "max_replica_lag", ALCHDB_OPT_DURATION, 1000, DAY_US,
     30000000, NULL, NULL, NULL, 0, "a replica lagging more than this raises replica_lag_high"},
    {ALCHDB_DASHBOARD_OPT_MAX_PATTERN_SERIES, "max_pattern_series", ALCHDB_OPT_INT, 0, 1000, 20,
     NULL, NULL, NULL, 0, "top monitor patterns exported as Prometheus series (cardinality cap)"},
    {ALCHDB_DASHBOARD_OPT_MAX_BODY_SIZE, "max_body_size", ALCHDB_OPT_SIZE, 1024, 16777216, 65536,
     NULL, NULL, NULL, 0, "request bodies above this get HTTP 413"},
    {ALCHDB_DASHBOARD_OPT_MAX_CONNECTIONS, "max_connections", ALCHDB_OPT_INT, 1, 10000, 64, NULL,
     NULL, NULL, 0, "connections the built-in listener serves at once"},
    {ALCHDB_DASHBOARD_OPT_REQUEST_TIMEOUT, "request_timeout", ALCHDB_OPT_DURATION, 1000000,
     HOUR_US, 10000000, NULL, NULL, NULL, 0,
     "the built-in listener closes a connection idle or trickling this long"},
};

const alchdb__optspec alchdb__dashboard_spec = {"dashboard", defs, sizeof defs / sizeof defs[0]};

ALCHDB__CONFIG_API(dashboard, alchdb_dashboard_config, opts, &alchdb__dashboard_spec)
