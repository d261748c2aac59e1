/* The monitor's options, declared once for the option engine (lib/core/opt.c):
 * the public alchdb_monitor_config_* functions, the listing, the CLI's help
 * and the table in docs/monitor.md all come from this table. A monitor copies
 * the values into its plain settings (mon->cfg.v[OPT]) when it is made. */
#include <string.h>

#include "monitor/monitor_internal.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
#define DAY (86400 * SEC)

#define INT_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_INT, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define DUR_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_DURATION, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define SIZE_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_SIZE, lo, hi, def, NULL, NULL, NULL, 0, doc}

static const alchdb__optdef DEFS[] = {
    DUR_OPT(ALCHDB_MONITOR_OPT_SLOW_THRESHOLD, "slow_query_threshold", 1, 3600 * SEC, 50 * MS,
            "an execution taking at least this long is slow"),
    INT_OPT(ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE, "slow_log_size", 0, 100000, 1000,
            "entries of the slow-query ring; 0 = no log"),
    INT_OPT(ALCHDB_MONITOR_OPT_MAX_PATTERNS, "max_patterns", 16, 1000000, 1000,
            "distinct patterns kept (least recently used evicted beyond)"),
    INT_OPT(ALCHDB_MONITOR_OPT_TEXT_CACHE_SIZE, "text_cache_size", 64, 16777216, 16384,
            "raw-text cache entries (rounded up to a power of two)"),
    INT_OPT(ALCHDB_MONITOR_OPT_MAX_LABEL_VALUES, "max_label_values", 0, 1000000, 1000,
            "distinct label strings kept"),
    SIZE_OPT(ALCHDB_MONITOR_OPT_MAX_TEXT_LENGTH, "max_text_length", 64, 1048576, 4096,
             "query text kept for display (longer texts are truncated, still grouped)"),
    {ALCHDB_MONITOR_OPT_KEEP_PARAMETERS, "keep_parameters", ALCHDB_OPT_BOOL, 0, 1, 0, NULL, NULL, NULL, 0,
     "1: the slow log keeps the raw text with its literals; 0: the redacted normalized text"},
    INT_OPT(ALCHDB_MONITOR_OPT_N_PLUS_ONE_THRESHOLD, "n_plus_one_threshold", 2, 1000000, 20,
            "calls of one pattern from one label within n_plus_one_window that make an N+1 burst"),
    DUR_OPT(ALCHDB_MONITOR_OPT_N_PLUS_ONE_WINDOW, "n_plus_one_window", MS, 3600 * SEC, SEC, "N+1 burst window"),
    DUR_OPT(ALCHDB_MONITOR_OPT_REGRESSION_WINDOW, "regression_window", SEC, DAY, 300 * SEC,
            "length of the current window compared with the baseline"),
    INT_OPT(ALCHDB_MONITOR_OPT_REGRESSION_FACTOR, "regression_factor", 110, 100000, 200,
            "percent: a current p95 at least baseline p95 * factor / 100 is a regression"),
    DUR_OPT(ALCHDB_MONITOR_OPT_PLAN_INTERVAL, "plan_capture_interval", 0, DAY, 60 * SEC,
            "minimum time between two plan-capture runs; 0 = no limit"),
    INT_OPT(ALCHDB_MONITOR_OPT_LARGE_OFFSET, "large_offset", 1, INT64_C(1000000000000), 1000,
            "an OFFSET at least this large draws a pagination suggestion"),
    SIZE_OPT(ALCHDB_MONITOR_OPT_MAX_PARSE_LENGTH, "max_parse_length", 1024, 67108864, 1048576,
             "longer texts are not parsed but grouped as unparsed by their literal-stripped hash"),
    INT_OPT(ALCHDB_MONITOR_OPT_PARSE_QUEUE_SIZE, "parse_queue_size", 0, 1048576, 0,
            "0: new query shapes are parsed on the recording thread; N: in a background thread, "
            "through a queue of N (full: the record is dropped and counted)"),
};

const alchdb__optspec alchdb__monitor_optspec = {"monitor", DEFS, sizeof DEFS / sizeof DEFS[0]};

ALCHDB__CONFIG_API(monitor, alchdb_monitor_config, opts, &alchdb__monitor_optspec)

int alchdb__monitor_settings_load(alchdb__monitor_settings *s, const alchdb_monitor_config *cfg)
{
    memset(s, 0, sizeof *s);
    alchdb__opts defaults;
    const alchdb__opts *o = cfg ? &cfg->opts : &defaults;
    if (!cfg && alchdb__opts_init(&defaults, &alchdb__monitor_optspec) != 0)
        return ALCHDB_E_NOMEM;
    for (int k = 0; k < (int)(sizeof s->v / sizeof s->v[0]); k++)
        s->v[k] = alchdb__opts_i(o, k);
    if (!cfg)
        alchdb__opts_free(&defaults);
    return 0;
}
