/**
 * @file monitor.h
 * @brief Thread-safe query monitor: per-pattern timing with percentiles,
 *        time windows, slow-query log, N+1 detection, suggestions and plans.
 *
 * Hosts record every executed query with alchdb_monitor_record() (the client
 * does it automatically). Queries are grouped into patterns the way
 * PostgreSQL 15's pg_stat_statements groups them into queryids (constants
 * ignored, list order and length kept; utility statements by their text),
 * except that lists of constants in IN, ARRAY and VALUES rows are squashed,
 * so `IN (1,2,3)` and `IN (4,5,6,7)` are one pattern (docs/monitor.md,
 * "Grouping"); the first-seen normalized text (literals replaced by `$n`) is
 * kept for display. Recording an already-seen text neither allocates nor parses: a
 * cache keyed by a hash of the raw text finds the pattern, then a cache keyed
 * by a literal-stripped hash, and only then the SQL parser runs (once per new
 * text shape, on the caller's thread).
 *
 * Per pattern the monitor keeps calls, errors by SQLSTATE class, rows,
 * total/min/max/mean time, p50/p90/p95/p99/p99.9 from a log-linear histogram
 * (relative error under 2 %), per-minute windows for the last hour and
 * per-hour windows for the last day, each with its own p50/p90/p95/p99. Memory is bounded: at most max_patterns
 * patterns (least-recently-used eviction, counted; evicted patterns still
 * count in the totals), a fixed-size text cache and at most max_label_values
 * distinct label values (further values are counted and folded into
 * "(other)").
 *
 * **Fork:** do not use a monitor in a child process after fork().
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_MONITOR_H
#define ALCHDB_MONITOR_H

#include <alchdb/common.h>
#include <alchdb/pool.h>

ALCHDB_BEGIN_DECLS

/** A query monitor (opaque, thread-safe). @since 0.1.0 */
typedef struct alchdb_monitor alchdb_monitor;

/** Monitor configuration (opaque; one thread at a time). @since 0.1.0 */
typedef struct alchdb_monitor_config alchdb_monitor_config;

/**
 * Monitor options, the keys of the alchdb_monitor_config_* functions. Values
 * are part of the ABI. The bracketed word is the option's name (by-name
 * setter, environment variable). Types, units, ranges, defaults and a line of
 * documentation for each come from the option table the library uses:
 * alchdb_options_info("monitor", ...), `alchdb options monitor`, or the table
 * in docs/monitor.md. Durations are int64 microseconds, sizes bytes.
 * @since 0.1.0
 */
typedef enum alchdb_monitor_opt {
    /** [slow_query_threshold] an execution taking at least this long is slow, 1 us..1 h; default 50 ms. */
    ALCHDB_MONITOR_OPT_SLOW_THRESHOLD = 1,
    /** [slow_log_size] entries of the slow-query ring, 0..100000; 0 = no log; default 1000. */
    ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE = 2,
    /** [max_patterns] distinct patterns kept (LRU eviction beyond), 16..1000000; default 1000. */
    ALCHDB_MONITOR_OPT_MAX_PATTERNS = 3,
    /** [text_cache_size] raw-text cache entries (rounded up to a power of two), 64..16777216; default 16384. */
    ALCHDB_MONITOR_OPT_TEXT_CACHE_SIZE = 4,
    /** [max_label_values] distinct label strings kept, 0..1000000; default 1000. */
    ALCHDB_MONITOR_OPT_MAX_LABEL_VALUES = 5,
    /** [max_text_length] bytes of query text kept for display (longer texts are truncated, still grouped), 64..1048576; default 4096. */
    ALCHDB_MONITOR_OPT_MAX_TEXT_LENGTH = 6,
    /** [keep_parameters] 1 = the slow log keeps the raw text with its literals; 0 (default) = the redacted normalized text. */
    ALCHDB_MONITOR_OPT_KEEP_PARAMETERS = 7,
    /** [n_plus_one_threshold] calls of one pattern from one label within n_plus_one_window that make an N+1 burst, 2..1000000; default 20. */
    ALCHDB_MONITOR_OPT_N_PLUS_ONE_THRESHOLD = 8,
    /** [n_plus_one_window] burst window, 1 ms..1 h; default 1 s. */
    ALCHDB_MONITOR_OPT_N_PLUS_ONE_WINDOW = 9,
    /** [regression_window] length of the "current" window compared with the baseline, 1 s..1 day; default 5 min. */
    ALCHDB_MONITOR_OPT_REGRESSION_WINDOW = 10,
    /** [regression_factor] percent: current p95 >= baseline p95 * factor / 100 is a regression, 110..100000; default 200. */
    ALCHDB_MONITOR_OPT_REGRESSION_FACTOR = 11,
    /** [plan_capture_interval] minimum time between two plan-capture runs, 0..1 day; 0 = no limit; default 60 s. */
    ALCHDB_MONITOR_OPT_PLAN_INTERVAL = 12,
    /** [large_offset] an OFFSET at least this large draws a pagination suggestion, 1..1e12; default 1000. */
    ALCHDB_MONITOR_OPT_LARGE_OFFSET = 13,
    /** [max_parse_length] texts longer than this (bytes) are not parsed but grouped as "unparsed" by their literal-stripped hash, 1024..67108864; default 1 MiB. */
    ALCHDB_MONITOR_OPT_MAX_PARSE_LENGTH = 14,
    /** 0 (default): a never-seen query shape is fingerprinted on the recording
     *  thread (once per shape, ≈ 0.1 ms), so every record is counted exactly and
     *  in order. N > 0: such records go to a bounded queue of N entries that a
     *  background thread parses, so the recording thread never runs the parser;
     *  when the queue is full the record is dropped and counted
     *  (parse_queue_dropped), and records of a new shape may be counted after
     *  later records of known shapes (slow log order, N+1 bursts). */
    ALCHDB_MONITOR_OPT_PARSE_QUEUE_SIZE = 15
} alchdb_monitor_opt;

/**
 * Create a configuration holding the defaults.
 * @param out receives the owned config (free with alchdb_monitor_config_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID (out NULL) or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned by the caller.
 * **Thread safety:** any thread; the config itself is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_config_new(alchdb_monitor_config **out);

/**
 * Free a configuration.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_monitor_config_free(alchdb_monitor_config *cfg);

/**
 * Set a numeric option: an integer, a duration in microseconds, a size in
 * bytes or a boolean (0/1).
 * @param cfg   the config.
 * @param opt   an ::alchdb_monitor_opt value.
 * @param value the value, within the option's range.
 * @return 0, ALCHDB_E_NOTFOUND (unknown option) or ALCHDB_E_INVALID (NULL
 *         cfg, out of range: the message names the option and its range).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_config_set_int64(alchdb_monitor_config *cfg, int opt, int64_t value);

/**
 * Read an option.
 * @param cfg the config.
 * @param opt an ::alchdb_monitor_opt value.
 * @param out receives the value.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_config_get_int64(const alchdb_monitor_config *cfg, int opt,
                                               int64_t *out);

/**
 * Set a string option. The monitor has none today: every key answers
 * ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID (a numeric option); the function
 * exists so that every module's configuration has the same shape.
 * @param cfg   the config.
 * @param opt   an ::alchdb_monitor_opt value.
 * @param value the text (copied).
 * @return ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_config_set_string(alchdb_monitor_config *cfg, int opt, const char *value);

/**
 * Read a string option (see alchdb_monitor_config_set_string()).
 * @param cfg the config.
 * @param opt an ::alchdb_monitor_opt value.
 * @param out receives the value.
 * @return ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_config_get_string(const alchdb_monitor_config *cfg, int opt,
                                                const char **out);

/**
 * Set an option by name from text, with the rules of <alchdb/options.h>:
 * names case-insensitive, durations with a unit ("50ms", "1.5s", "5m"; "0"),
 * sizes with an optional binary suffix ("4KiB"), booleans 1/0, true/false,
 * yes/no, on/off.
 * @param cfg   the config.
 * @param name  option name (copied).
 * @param value option text (copied).
 * @return 0, ALCHDB_E_NOTFOUND (unknown name) or ALCHDB_E_INVALID (the
 *         message names the option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_config_set_from_string(alchdb_monitor_config *cfg, const char *name,
                                                     const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME (NAME the
 * upper-cased option name: APP_MONITOR_SLOW_QUERY_THRESHOLD). Absent or
 * empty variables leave the option unchanged.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** one thread at a time per config; reads the environment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_config_from_env(alchdb_monitor_config *cfg, const char *prefix);

/**
 * Create a monitor.
 * @param cfg options (copied) or NULL for the defaults.
 * @param out receives the monitor; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: free with alchdb_monitor_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_new(const alchdb_monitor_config *cfg, alchdb_monitor **out);

/**
 * Free a monitor and everything it holds.
 * @param mon monitor or NULL.
 * **Thread safety:** no other call on @p mon may run or follow.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_monitor_free(alchdb_monitor *mon);

/**
 * Clock of a monitor: returns wall-clock time in microseconds since the Unix
 * epoch. Called from the recording threads; must be thread-safe and must not
 * call back into the library. Windows are ordered by the running maximum of
 * an injected clock (by the monotonic clock for the system clock), so a clock
 * that steps back never overwrites a newer window.
 * @since 0.1.0
 */
typedef int64_t (*alchdb_monitor_clock_fn)(void *user_data);

/**
 * Replace the monitor's clock (for tests and for replaying recorded traffic).
 * @param mon       the monitor.
 * @param fn        the clock, or NULL to restore the system wall clock.
 * @param user_data passed to @p fn (borrowed until the clock is replaced or the monitor freed).
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** call before the monitor is shared with other threads.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_set_clock(alchdb_monitor *mon, alchdb_monitor_clock_fn fn,
                                        void *user_data);

/** Version of ::alchdb_monitor_query understood by this library. @since 0.1.0 */
#define ALCHDB_MONITOR_QUERY_VERSION 1u

/**
 * One executed query, as recorded by alchdb_monitor_record(). Set version to
 * ::ALCHDB_MONITOR_QUERY_VERSION; zero-initialise the rest and fill what is
 * known. Every pointer is borrowed for the duration of the call only.
 * @since 0.1.0
 */
typedef struct alchdb_monitor_query {
    uint32_t version;           /**< ::ALCHDB_MONITOR_QUERY_VERSION */
    uint32_t nlabels;           /**< entries of labels (at most 8 are used; more are counted as dropped) */
    const char *sql;            /**< the query text as sent (required, non-empty) */
    int64_t sql_len;            /**< bytes of sql, or < 0 when sql is NUL-terminated */
    int64_t duration_us;        /**< execution time, >= 0 */
    int64_t rows;               /**< rows returned or affected; < 0 = unknown */
    const char *sqlstate;       /**< NULL or "00000" = success, otherwise the 5-character SQLSTATE */
    const char *route;          /**< NULL or where it ran ("primary", "replica", ...), kept in the slow log */
    const char *const *labels;  /**< nlabels "key=value" strings (endpoint, job, request), or NULL */
} alchdb_monitor_query;

/**
 * Record one executed query.
 * @param mon the monitor.
 * @param q   the query (copied as needed).
 * @return 0; ALCHDB_E_INVALID (NULL mon or q, wrong version, NULL or empty
 *         sql, negative duration, malformed sqlstate); ALCHDB_E_NOMEM (a new
 *         pattern could not be stored; the call is counted as rejected).
 *         Unparseable SQL is not an error: it is grouped under an "unparsed"
 *         pattern keyed by its literal-stripped text hash.
 * **Thread safety:** any thread, concurrently.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_record(alchdb_monitor *mon, const alchdb_monitor_query *q);

/**
 * Shorthand for alchdb_monitor_record() with a NUL-terminated text, unknown
 * rows and no route or labels.
 * @param mon         the monitor.
 * @param sql         the query text (copied as needed).
 * @param duration_us execution time, >= 0.
 * @param sqlstate    NULL or "00000" for success, else the SQLSTATE.
 * @return as alchdb_monitor_record().
 * **Thread safety:** any thread, concurrently.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_record_simple(alchdb_monitor *mon, const char *sql,
                                            int64_t duration_us, const char *sqlstate);

/**
 * Wait until every queued record (never-seen shapes waiting for the background
 * parser) has been counted. Reads (stats, JSON) do this themselves.
 * @param mon the monitor.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_flush(alchdb_monitor *mon);

/**
 * Totals of a monitor, filled by alchdb_monitor_get_metrics(). Append-only.
 * @since 0.1.0
 */
typedef struct alchdb_monitor_metrics {
    int64_t calls;              /**< recorded executions (including evicted patterns) */
    int64_t errors;             /**< executions with an error SQLSTATE */
    int64_t slow;               /**< executions at or above the slow threshold */
    int64_t rows;               /**< rows summed over executions that reported them */
    int64_t total_us;           /**< summed execution time */
    int64_t p50_us;             /**< median execution time */
    int64_t p95_us;             /**< 95th percentile */
    int64_t p99_us;             /**< 99th percentile */
    int64_t p999_us;            /**< 99.9th percentile */
    int64_t max_us;             /**< slowest execution */
    int64_t patterns;           /**< patterns currently kept */
    int64_t unparsed_patterns;  /**< of which grouped without the parser */
    int64_t patterns_evicted;   /**< patterns dropped by the LRU cap */
    int64_t text_cache_evictions; /**< raw-text cache entries overwritten */
    int64_t parses;             /**< fingerprint computations (text-cache misses) */
    int64_t label_values;       /**< distinct label strings kept */
    int64_t labels_dropped;     /**< label values folded into "(other)" or ignored */
    int64_t rejected;           /**< record calls refused (bad input or no memory) */
    int64_t truncated_texts;    /**< patterns whose display text was truncated */
    int64_t slow_log_entries;   /**< entries currently in the slow log */
    int64_t plans_captured;     /**< EXPLAIN plans stored */
    int64_t parse_queued;       /**< records handed to the background parser (never-seen shapes) */
    int64_t parse_queue_dropped; /**< records dropped because the parse queue was full */
    int64_t p90_us;             /**< 90th percentile */
} alchdb_monitor_metrics;

/**
 * Fill a snapshot of the totals.
 * @param mon  the monitor.
 * @param st   receives the totals.
 * @param size sizeof(alchdb_monitor_metrics) as the caller knows it (fields
 *             beyond it are not written).
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread, concurrently with recording (each field is
 * consistent on its own, not across fields).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_get_metrics(alchdb_monitor *mon, alchdb_monitor_metrics *st, size_t size);

/**
 * Forget everything recorded (patterns, windows, slow log, labels, plans and
 * counters). The configuration and clock are kept.
 * @param mon the monitor.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread; concurrent recordings land either before or after the reset.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_reset(alchdb_monitor *mon);

/** Sort orders of alchdb_monitor_patterns_to_json() (descending). @since 0.1.0 */
typedef enum alchdb_monitor_sort {
    ALCHDB_MONITOR_SORT_TOTAL_TIME = 0, /**< summed time */
    ALCHDB_MONITOR_SORT_CALLS = 1,      /**< executions */
    ALCHDB_MONITOR_SORT_P95 = 2,        /**< 95th percentile */
    ALCHDB_MONITOR_SORT_MEAN = 3,       /**< mean time */
    ALCHDB_MONITOR_SORT_MAX = 4,        /**< slowest execution */
    ALCHDB_MONITOR_SORT_ERRORS = 5,     /**< failed executions */
    ALCHDB_MONITOR_SORT_SLOW = 6,       /**< slow executions */
    ALCHDB_MONITOR_SORT_LAST_SEEN = 7   /**< most recently used first */
} alchdb_monitor_sort;

/** Flag of alchdb_monitor_patterns_to_json(): include the non-empty minute and hour windows. @since 0.1.0 */
#define ALCHDB_MONITOR_JSON_WINDOWS 1u

/**
 * JSON array of the patterns: id (the pattern key, hex), kind ("parsed",
 * "unparsed" or "unanalysed"), text, counters, percentiles (microseconds), errors by SQLSTATE
 * class, suggestions, N+1 bursts, captured plan summary and, with
 * ::ALCHDB_MONITOR_JSON_WINDOWS, the windows.
 * @param mon   the monitor.
 * @param sort  an ::alchdb_monitor_sort value.
 * @param limit at most this many patterns; 0 = all.
 * @param flags 0 or ::ALCHDB_MONITOR_JSON_WINDOWS.
 * @param out   receives the owned JSON text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: free with alchdb_free().
 * **Thread safety:** any thread, concurrently with recording.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_patterns_to_json(alchdb_monitor *mon, int sort, int64_t limit,
                                            uint32_t flags, char **out);

/**
 * JSON object of the whole analysis: summary (totals, percentiles, slow
 * ratio, failure rate, eviction and drop counters), trend (per-minute
 * windows of the last hour, per-hour windows of the last day), top patterns
 * by total time and by p95, regressions, N+1 bursts, per-pattern suggestions
 * and recommendations from fixed rules (docs/monitor.md).
 * @param mon   the monitor.
 * @param limit length of each top list and of the other lists; 0 = 10.
 * @param out   receives the owned JSON text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: free with alchdb_free().
 * **Thread safety:** any thread, concurrently with recording.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_analysis_to_json(alchdb_monitor *mon, int64_t limit, char **out);

/**
 * JSON object of the slow-query log: "recent" (the last slow_log_size slow
 * executions, newest first), "slowest" (the slow_log_size slowest since the
 * last reset, slowest first) and "slowest_per_pattern" (the slowest execution
 * of each kept pattern, slowest first). Each entry: timestamp (us since the
 * epoch), duration, rows, sqlstate, route, labels (an object), pattern id and
 * text (redacted unless keep_parameters is set). docs/monitor.md lists every field.
 * @param mon   the monitor.
 * @param limit at most this many entries in each list; 0 = all.
 * @param out   receives the owned JSON text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: free with alchdb_free().
 * **Thread safety:** any thread, concurrently with recording.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_slow_log_to_json(alchdb_monitor *mon, int64_t limit, char **out);

/**
 * Capture EXPLAIN (FORMAT JSON) plans for slow patterns that have none yet,
 * slowest total time first. Texts with `$n` parameters are planned as
 * generic plans (PREPARE, plan_cache_mode = force_generic_plan, EXPLAIN
 * EXECUTE with NULL arguments) inside a transaction that is rolled back;
 * only SELECT/INSERT/UPDATE/DELETE/WITH patterns are planned, and nothing is
 * executed. Each pattern is tried once (until reset). Runs closer together
 * than plan_capture_interval return 0 with nothing captured.
 * @param mon       the monitor.
 * @param pool      a pool to borrow a connection from, or NULL.
 * @param conninfo  used when @p pool is NULL: a libpq conninfo string (copied);
 *                  a connection is opened and closed by this call.
 * @param max_plans at most this many EXPLAINs in this call, 1..1000.
 * @param captured  receives the number of plans stored (may be NULL).
 * Planning evaluates the recorded statements' IMMUTABLE functions with the
 * session's rights, so the session's user must not be a superuser nor have
 * server-program or server-file rights (docs/monitor.md, "Threat model").
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_CONNECT (libpq's message, password
 *         masked), ALCHDB_E_STATE (the session's user has such rights:
 *         nothing was planned), ALCHDB_E_QUERY, or a pool acquire error.
 * **Thread safety:** any thread; blocks on the server round trips (never
 * while holding a lock recorders need).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_capture_plans(alchdb_monitor *mon, alchdb_pool *pool,
                                            const char *conninfo, int max_plans, int *captured);

/**
 * Cumulative duration counts, the shape of a Prometheus histogram: for each
 * bound, the executions that took at most that long. A bucket of the
 * monitor's histogram counts for a bound when its midpoint (the value the
 * percentiles report) is at or below it, so the counts carry the same 1/64
 * relative error near the bounds.
 * @param mon        the monitor.
 * @param pattern_id a pattern id (16 hex digits, as in the JSON) or NULL for
 *                   every execution recorded (evicted patterns included).
 * @param bounds_us  @p nbounds bounds in microseconds, ascending.
 * @param nbounds    0..64.
 * @param le         receives @p nbounds cumulative counts.
 * @param count      receives the number of executions.
 * @param sum_us     receives their summed duration.
 * @return 0, ALCHDB_E_INVALID, or ALCHDB_E_NOTFOUND (no such pattern).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_monitor_histogram(alchdb_monitor *mon, const char *pattern_id,
                                        const int64_t *bounds_us, size_t nbounds, int64_t *le,
                                        int64_t *count, int64_t *sum_us);

ALCHDB_END_DECLS

#endif /* ALCHDB_MONITOR_H */
