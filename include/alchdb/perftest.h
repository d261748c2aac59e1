/**
 * @file perftest.h
 * @brief Load tests against the ADR-0008 targets, run through the host's own
 *        client (pool, router, cache and monitor, whichever it has).
 *
 * Nine tests model the Alchemorsel application: pool utilization, connection
 * acquisition, recipe search, user recipe lookup, rating aggregation, query
 * cache hit rate, sustained load, burst load and index vs sequential scan.
 * Every test runs real recipe queries with all their arguments against a
 * schema of its own (users, recipes, recipe_ratings, recipe_likes,
 * recipe_views) filled by a deterministic generator with COPY. Latency
 * targets are judged on the 95th percentile of a log-linear histogram
 * (relative error under 2 %); p50, p99 and the maximum are reported too.
 *
 * @code
 * alchdb_perftest_config *cfg;
 * alchdb_perftest_config_new(&cfg);
 * alchdb_perftest_config_set_from_string(cfg, "profile", "quick");
 * alchdb_perftest_target t = {.size = sizeof t, .client = db};
 * alchdb_perftest_report *rep = NULL;
 * if (alchdb_perftest_run(&t, cfg, NULL, NULL, NULL, &rep) == 0) {
 *     char *text = NULL;
 *     alchdb_perftest_report_text(rep, &text);
 *     fputs(text, stdout);
 *     alchdb_free(text);
 * }
 * alchdb_perftest_report_free(rep);
 * alchdb_perftest_config_free(cfg);
 * @endcode
 *
 * Workers are threads with small stacks (256 KiB each), so the 500 workers
 * of the burst test fit a small machine. Each test has a warm-up (not
 * measured), a measured phase and a cool-down (workers drain).
 *
 * **Fork:** do not run a perftest across fork().
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_PERFTEST_H
#define ALCHDB_PERFTEST_H

#include <alchdb/common.h>
#include <alchdb/client.h>

ALCHDB_BEGIN_DECLS

struct alchdb_router;
struct alchdb_cache;

/** Perftest configuration (opaque; one thread at a time). @since 0.1.0 */
typedef struct alchdb_perftest_config alchdb_perftest_config;

/** A finished run (opaque, immutable: any thread may read it). @since 0.1.0 */
typedef struct alchdb_perftest_report alchdb_perftest_report;

/** Finished runs with ids and one background run at a time (opaque, thread-safe). @since 0.1.0 */
typedef struct alchdb_perftest_store alchdb_perftest_store;

/** Values of ALCHDB_PERFTEST_OPT_PROFILE. @since 0.1.0 */
typedef enum alchdb_perftest_profile {
    ALCHDB_PERFTEST_PROFILE_QUICK = 0,   /**< 0.5 s warm-up per test, 3 s measured (6 s sustained) */
    ALCHDB_PERFTEST_PROFILE_DEFAULT = 1, /**< 5 s warm-up per test, 20 s measured (60 s sustained) */
    ALCHDB_PERFTEST_PROFILE_FULL = 2     /**< 2 min warm-up first, 1 min measured per test (5 min sustained) */
} alchdb_perftest_profile;

/**
 * Perftest options. Values are part of the ABI; the by-name names are in
 * brackets.
 * @since 0.1.0
 */
typedef enum alchdb_perftest_opt {
    /** [profile] durations: "quick" (seconds per test, for CI and demos), "default" (shortened) or "full" (2 min warm-up, 1-5 min per test); default "default". */
    ALCHDB_PERFTEST_OPT_PROFILE = 1,
    /** [tests] comma-separated test names to run (see alchdb_perftest_test_name()); empty = all; default empty. */
    ALCHDB_PERFTEST_OPT_TESTS = 2,
    /** [targets] overrides of the targets, "test.metric=value,..." (metrics: p95, ops, errors, util, hit; latencies with a unit, e.g. "recipe_search.p95=150ms"); default empty. */
    ALCHDB_PERFTEST_OPT_TARGETS = 3,
    /** [recipes] recipes generated, 100..10000000; default 10000. */
    ALCHDB_PERFTEST_OPT_RECIPES = 4,
    /** [users] users generated, 10..1000000; default 1000. */
    ALCHDB_PERFTEST_OPT_USERS = 5,
    /** [seed] seed of the data and argument generators, 0..2^62; default 42. */
    ALCHDB_PERFTEST_OPT_SEED = 6,
    /** [schema] schema the perftest creates and owns (a plain lower-case identifier); default "alchdb_perftest". */
    ALCHDB_PERFTEST_OPT_SCHEMA = 7,
    /** [keep_data] 1 = leave the schema after the run (the next run reuses it when its size matches); 0 = drop it; default 0. */
    ALCHDB_PERFTEST_OPT_KEEP_DATA = 8,
    /** [duration] measured time per test, 0 = the profile's; 0..1 day; default 0. */
    ALCHDB_PERFTEST_OPT_DURATION = 9,
    /** [warmup] warm-up per test (the run also warms up once, twice as long, before the first test); 0 = the profile's; 0..1 day; default 0. */
    ALCHDB_PERFTEST_OPT_WARMUP = 10,
    /** [worker_scale] percent of each test's workers to start, 1..100; default 100. */
    ALCHDB_PERFTEST_OPT_WORKER_SCALE = 11
} alchdb_perftest_opt;

/**
 * Create a configuration holding the defaults.
 * @param out receives the config (free with alchdb_perftest_config_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID (NULL out) or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned by the caller.
 * **Thread safety:** any thread; the config itself is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_config_new(alchdb_perftest_config **out);

/**
 * Free a configuration.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_perftest_config_free(alchdb_perftest_config *cfg);

/**
 * Set an integer, boolean, enum or duration (microseconds) option.
 * @param cfg   the config.
 * @param opt   an ::alchdb_perftest_opt value.
 * @param value the value; ranges are listed with each option.
 * @return 0, ALCHDB_E_INVALID (NULL cfg, out of range, string option),
 *         ALCHDB_E_NOTFOUND (unknown option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_config_set_int64(alchdb_perftest_config *cfg, int opt, int64_t value);

/**
 * Read an integer, boolean, enum or duration option.
 * @param cfg the config.
 * @param opt an ::alchdb_perftest_opt value.
 * @param out receives the value.
 * @return 0, ALCHDB_E_INVALID (NULL argument, string option) or ALCHDB_E_NOTFOUND (unknown option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_config_get_int64(const alchdb_perftest_config *cfg, int opt, int64_t *out);

/**
 * Set a string option ([tests], [targets], [schema]); the value is checked
 * (known test names, well-formed targets, a plain lower-case identifier).
 * [profile] is also set by its name here ("quick", "default", "full"; NULL =
 * the default).
 * @param cfg   the config.
 * @param opt   an ::alchdb_perftest_opt value.
 * @param value copied.
 * @return 0, ALCHDB_E_INVALID (NULL argument, bad value, numeric option other
 *         than [profile]), ALCHDB_E_NOTFOUND (unknown option) or ALCHDB_E_NOMEM.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_config_set_string(alchdb_perftest_config *cfg, int opt, const char *value);

/**
 * Read a string option.
 * @param cfg the config.
 * @param opt an ::alchdb_perftest_opt value.
 * @param out receives a borrowed string.
 * @return 0, ALCHDB_E_INVALID (NULL argument, numeric option) or ALCHDB_E_NOTFOUND (unknown option).
 * **Ownership:** *out is borrowed until the option changes or @p cfg is freed.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_config_get_string(const alchdb_perftest_config *cfg, int opt, const char **out);

/**
 * Set any option by its bracketed name from text ("profile", "quick";
 * "duration", "10s"; "keep_data", "1").
 * @param cfg   the config.
 * @param name  option name.
 * @param value option text (copied).
 * @return 0, ALCHDB_E_NOTFOUND (unknown name), ALCHDB_E_INVALID (bad value; the message
 *         names the option) or ALCHDB_E_NOMEM.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_config_set_from_string(alchdb_perftest_config *cfg, const char *name,
                                                      const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME (NAME the
 * upper-cased bracketed name, e.g. ALCHDB_PERFTEST_PROFILE); absent or empty
 * variables change nothing.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore.
 * @return 0, ALCHDB_E_INVALID (NULL argument) or the error of the first bad
 *         variable (the message names it).
 * **Thread safety:** reads the environment with getenv().
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_config_from_env(alchdb_perftest_config *cfg, const char *prefix);

/**
 * What a run goes through. Zero members are "absent"; initialise with
 * `alchdb_perftest_target t = {.size = sizeof t, .client = db}`. Append-only.
 * @since 0.1.0
 */
typedef struct alchdb_perftest_target {
    uint32_t size;                 /**< sizeof(alchdb_perftest_target) as the caller knows it */
    uint32_t reserved;             /**< zero */
    alchdb_client *client;         /**< required, borrowed for the run: every query goes through it */
    struct alchdb_router *router;  /**< the client's router or NULL: utilization then counts every host's pool */
    struct alchdb_cache *cache;    /**< the cache attached to the client or NULL: the cache test then fails with a reason */
} alchdb_perftest_target;

/** Phases reported to the progress callback. @since 0.1.0 */
typedef enum alchdb_perftest_phase {
    ALCHDB_PERFTEST_PHASE_SETUP = 1,   /**< creating and loading the schema */
    ALCHDB_PERFTEST_PHASE_WARMUP = 2,  /**< a test's warm-up */
    ALCHDB_PERFTEST_PHASE_MEASURE = 3, /**< a test's measured phase */
    ALCHDB_PERFTEST_PHASE_DONE = 4,    /**< a test finished (pass or fail known) */
    ALCHDB_PERFTEST_PHASE_CLEANUP = 5  /**< dropping the schema */
} alchdb_perftest_phase;

/**
 * A progress snapshot (about four a second while a test runs, and one at
 * every phase change). Append-only.
 * @since 0.1.0
 */
typedef struct alchdb_perftest_progress {
    uint32_t size;          /**< sizeof(alchdb_perftest_progress) filled by the library */
    uint32_t phase;         /**< ::alchdb_perftest_phase */
    uint32_t test_index;    /**< 0-based among the selected tests */
    uint32_t test_count;    /**< selected tests */
    const char *test_name;  /**< borrowed for the callback; "" during setup/cleanup */
    int64_t elapsed_us;     /**< in the current phase */
    int64_t total_us;       /**< length of the current phase (0 when unknown) */
    int64_t ops;            /**< operations completed in the measured phase */
    int64_t errors;         /**< failed operations in the measured phase */
    double ops_per_sec;     /**< ops / elapsed */
    int64_t p95_us;         /**< 95th percentile so far */
    int32_t passed;         /**< PHASE_DONE: 1 all targets met, 0 not; else -1 */
    int32_t reserved;       /**< zero */
} alchdb_perftest_progress;

/**
 * Progress callback.
 * **Thread safety:** called from the run's monitoring thread (not a worker),
 * one call at a time; it must not call back into the perftest.
 * @since 0.1.0
 */
typedef void (*alchdb_perftest_progress_fn)(void *user_data, const alchdb_perftest_progress *p);

/**
 * Number of tests: 9.
 * @return the number of tests alchdb_perftest_test_name() knows.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_perftest_test_count(void);

/**
 * A test's name, in run order: "pool_utilization", "connection_acquisition",
 * "recipe_search", "user_recipe_lookup", "rating_aggregation",
 * "cache_hit_rate", "sustained_load", "burst_load", "index_vs_seq_scan".
 * @param i 0-based index, below alchdb_perftest_test_count().
 * @return the static name, or NULL when @p i is out of range.
 * **Ownership:** static storage; do not free.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_perftest_test_name(size_t i);

/**
 * Create the schema and load the generated data (COPY, on the primary), or
 * keep it when a complete load of the same size and seed is already there.
 * alchdb_perftest_run() calls it itself; call it alone to load data first.
 * @param target what to load through (borrowed for the call; client required).
 * @param cfg    options or NULL for the defaults (schema, recipes, users, seed).
 * @return 0, ALCHDB_E_INVALID (NULL target or client, bad size), ALCHDB_E_NOMEM,
 *         ALCHDB_E_STATE (the schema exists and was not made by the perftest),
 *         ALCHDB_E_RANGE (schema name or statement too long), or the client's
 *         error (ALCHDB_E_CONNECT, ALCHDB_E_QUERY, ...), message set.
 * **Ownership:** nothing is kept after the call.
 * **Thread safety:** one call per schema at a time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_setup(const alchdb_perftest_target *target, const alchdb_perftest_config *cfg);

/**
 * Drop the perftest's schema (and nothing else): DROP SCHEMA ... CASCADE of
 * the configured schema, only when it carries the perftest's marker comment.
 * @param target what to drop through (borrowed for the call; client required).
 * @param cfg    options or NULL for the defaults (only [schema] matters).
 * @return 0 (also when there was nothing to drop), ALCHDB_E_INVALID (NULL
 *         target or client, bad size), ALCHDB_E_NOMEM, ALCHDB_E_STATE when the
 *         schema exists but was not made by the perftest, or the client's error.
 * **Ownership:** nothing is kept after the call.
 * **Thread safety:** one call per schema at a time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_cleanup(const alchdb_perftest_target *target, const alchdb_perftest_config *cfg);

/**
 * Run the selected tests: setup, a global warm-up, then per test warm-up,
 * measured phase and cool-down; cleanup unless keep_data.
 * @param target   what to test (borrowed for the call).
 * @param cfg      options or NULL for the defaults (copied at the start).
 * @param cancel   a cancel handle or NULL: when triggered the run stops
 *                 within about a second and returns ALCHDB_E_CANCELED.
 * @param fn       progress callback or NULL.
 * @param user_data passed to @p fn.
 * @param out      receives the report; set to NULL first.
 * @return 0 (a report exists: whether the targets were met is in it),
 *         ALCHDB_E_INVALID (NULL target, client or out; bad tests or targets),
 *         ALCHDB_E_NOMEM, ALCHDB_E_CANCELED, or the setup's or cleanup's error
 *         (see alchdb_perftest_setup()); no report then.
 * **Ownership:** *out is owned: alchdb_perftest_report_free().
 * **Thread safety:** any thread; the client is shared with the host as usual.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_run(const alchdb_perftest_target *target, const alchdb_perftest_config *cfg,
                                   alchdb_cancel *cancel, alchdb_perftest_progress_fn fn, void *user_data,
                                   alchdb_perftest_report **out);

/**
 * Summary of a report. Append-only.
 * @since 0.1.0
 */
typedef struct alchdb_perftest_summary {
    uint32_t size;      /**< in: sizeof as the caller knows it; out: bytes filled */
    uint32_t reserved;  /**< zero */
    int64_t tests;      /**< tests run */
    int64_t passed;     /**< tests that met every target */
    int64_t failed;     /**< tests that missed at least one */
    int64_t health;     /**< 100 - 10 per failed test, at least 0 */
    int64_t grade;      /**< 'A' (>= 90), 'B' (>= 80), 'C' (>= 70), 'D' (>= 60) or 'F' */
    int64_t duration_us;/**< wall time of the whole run */
} alchdb_perftest_summary;

/**
 * Fill a summary of the report.
 * @param rep  the report.
 * @param s    receives the summary, up to @p size bytes; s->size is set to the bytes filled.
 * @param size sizeof(*s) as the caller knows it, at least 8.
 * @return 0 or ALCHDB_E_INVALID (NULL rep or s, size below 8).
 * **Thread safety:** any thread (a report is immutable).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_report_summary(const alchdb_perftest_report *rep, alchdb_perftest_summary *s,
                                              size_t size);

/**
 * The report as JSON (schema in docs/perftest.md: "version", "summary",
 * "tests"[], "critical_issues"[], "recommendations"[]).
 * @param rep the report.
 * @param out receives the JSON text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (NULL rep or out) or ALCHDB_E_NOMEM.
 * **Ownership:** *out owned: alchdb_free().
 * **Thread safety:** any thread (a report is immutable).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_report_json(const alchdb_perftest_report *rep, char **out);

/**
 * The report for people: a table with pass/fail per target, health, grade,
 * critical issues and recommendations.
 * @param rep the report.
 * @param out receives the text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (NULL rep or out) or ALCHDB_E_NOMEM.
 * **Ownership:** *out owned: alchdb_free().
 * **Thread safety:** any thread (a report is immutable).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_report_text(const alchdb_perftest_report *rep, char **out);

/**
 * Free a report.
 * @param rep report or NULL.
 * **Thread safety:** not while another thread still reads @p rep.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_perftest_report_free(alchdb_perftest_report *rep);

/**
 * A store of finished runs, keeping the latest @p max_results (1..1000), and
 * one background run at a time (for the dashboard's test/run and
 * test/results/:id).
 * @param max_results finished runs kept, 1..1000 (the oldest is dropped first).
 * @param out         receives the store; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (NULL out, max_results out of range) or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: alchdb_perftest_store_free().
 * **Thread safety:** any thread; the store itself is thread-safe.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_store_new(int64_t max_results, alchdb_perftest_store **out);

/**
 * Start a run in a background thread.
 * @param st     the store.
 * @param target borrowed until the run ends (alchdb_perftest_store_wait()
 *               or alchdb_perftest_store_free()).
 * @param cfg    copied, or NULL.
 * @param id     receives the run's id (1, 2, ...).
 * @return 0, ALCHDB_E_BUSY when a run is in progress (or its thread could not
 *         be started), ALCHDB_E_INVALID (NULL st or id, target NULL, without
 *         size or client), ALCHDB_E_NOMEM. The run's own outcome is read later
 *         with alchdb_perftest_store_result_json().
 * **Ownership:** the store keeps the report; the oldest result is dropped
 *         when max_results are kept.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_store_start(alchdb_perftest_store *st, const alchdb_perftest_target *target,
                                           const alchdb_perftest_config *cfg, int64_t *id);

/**
 * Cancel the background run; it stops within about a second with status
 * "canceled". Does not wait (see alchdb_perftest_store_wait()).
 * @param st the store.
 * @return 0 (also when none runs) or ALCHDB_E_INVALID (NULL st).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_store_cancel(alchdb_perftest_store *st);

/**
 * Cancel the background run with id `id` (and no other): like
 * alchdb_perftest_store_cancel(), it stops within about a second of its setup
 * (the data load is not interrupted) and then reads "canceled" in
 * alchdb_perftest_store_result_json() ("done" when the cancel came during its
 * final cleanup). Does not wait (see alchdb_perftest_store_wait()).
 * @param st the store.
 * @param id a run's id from alchdb_perftest_store_start().
 * @return 0 when the run was in progress and is told to stop;
 *         ALCHDB_E_NOTFOUND when no kept run has that id; ALCHDB_E_STATE when
 *         it has already ended; ALCHDB_E_INVALID (NULL st, id < 1).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_store_cancel_run(alchdb_perftest_store *st, int64_t id);

/**
 * Wait for the background run to end.
 * @param st the store.
 * @return 0 (at once when none runs) or ALCHDB_E_INVALID (NULL st).
 * **Thread safety:** any thread, but not from the progress of the run itself.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_store_wait(alchdb_perftest_store *st);

/**
 * The store as JSON: {"running": {id, test, phase, elapsed_us, ops, errors,
 * p95_ms} or null, "results": [{id, status, health, grade, passed, failed}]}.
 * @param st  the store.
 * @param out receives the JSON text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (NULL st or out) or ALCHDB_E_NOMEM.
 * **Ownership:** *out owned: alchdb_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_store_status_json(alchdb_perftest_store *st, char **out);

/**
 * One run as JSON: {"id", "status": "running"|"done"|"failed"|"canceled",
 * "error", "report": the report's JSON or null}.
 * @param st  the store.
 * @param id  a run's id from alchdb_perftest_store_start().
 * @param out receives the JSON text; set to NULL first.
 * @return 0, ALCHDB_E_NOTFOUND (unknown or dropped id), ALCHDB_E_INVALID (NULL st or out), ALCHDB_E_NOMEM.
 * **Ownership:** *out owned: alchdb_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_perftest_store_result_json(alchdb_perftest_store *st, int64_t id, char **out);

/**
 * Cancel and wait for a background run, then free the store and its reports.
 * @param st store or NULL.
 * **Thread safety:** not concurrently with other calls on @p st.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_perftest_store_free(alchdb_perftest_store *st);

ALCHDB_END_DECLS

#endif /* ALCHDB_PERFTEST_H */
