/**
 * @file advisor.h
 * @brief Index advisor: usage, unused, redundant and missing indexes of a live
 *        PostgreSQL database, each finding backed by evidence (statistics,
 *        catalog, and plan costs with HypoPG hypothetical indexes).
 *
 * Typical use:
 * @code
 *   alchdb_advisor_config *cfg;
 *   alchdb_advisor_config_new(&cfg);
 *   alchdb_advisor_config_set_string(cfg, ALCHDB_ADVISOR_OPT_CONNINFO, "dbname=app");
 *   alchdb_advisor_config_add_query(cfg, "SELECT * FROM orders WHERE customer_id = $1", 1200, 340.0);
 *   alchdb_advisor_report *r;
 *   if (alchdb_advisor_analyze(cfg, &r) == 0) {
 *       char *json;
 *       alchdb_advisor_report_to_json(r, &json);
 *       ...
 *       alchdb_free(json);
 *       alchdb_advisor_report_free(r);
 *   }
 *   alchdb_advisor_config_free(cfg);
 * @endcode
 *
 * A report is partial rather than absent when something cannot be done
 * (no privileges on the statistics views, no HypoPG, queries that do not parse
 * or name dropped tables): alchdb_advisor_report_note() lists what was not done.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_ADVISOR_H
#define ALCHDB_ADVISOR_H

#include <alchdb/common.h>

ALCHDB_BEGIN_DECLS

/** The configuration of an analysis: its options and its workload (one
 *  thread at a time). @since 0.1.0 */
typedef struct alchdb_advisor_config alchdb_advisor_config;

/** A finished analysis: immutable, safe to read from many threads. @since 0.1.0 */
typedef struct alchdb_advisor_report alchdb_advisor_report;

/**
 * Advisor options, the keys of the alchdb_advisor_config_* functions. Values
 * are part of the ABI. The bracketed word is the option's name (by-name
 * setter, environment variable). Types, units, ranges, defaults and a line of
 * documentation for each come from the option table the library uses:
 * alchdb_options_info("advisor", ...), `alchdb options advisor`, or the table
 * in docs/advisor.md. Durations are int64 microseconds, sizes bytes.
 * @since 0.1.0
 */
typedef enum alchdb_advisor_opt {
    /** [conninfo] string: libpq conninfo of the database to analyse (required by alchdb_advisor_analyze()). */
    ALCHDB_ADVISOR_OPT_CONNINFO = 1,
    /** [use_pg_stat_statements] bool: read the workload from pg_stat_statements when installed; default 1. */
    ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS = 2,
    /** [use_hypopg] bool: verify candidates with HypoPG when installed; default 1. */
    ALCHDB_ADVISOR_OPT_USE_HYPOPG = 3,
    /** [max_suggestions] at most this many missing-index suggestions, 0..1000; default 10. */
    ALCHDB_ADVISOR_OPT_MAX_SUGGESTIONS = 4,
    /** [max_index_bytes] size: budget for the estimated size of all suggested indexes; default 0 = none. */
    ALCHDB_ADVISOR_OPT_MAX_INDEX_BYTES = 5,
    /** [min_gain_pct] minimum plan-cost saving in percent for a query to count as helped, 1..99; default 50 (Dexter's minimum cost saving). */
    ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT = 6,
    /** [max_queries] at most this many pg_stat_statements entries, by total time, 0..100000; default 200. */
    ALCHDB_ADVISOR_OPT_MAX_QUERIES = 7,
    /** [statement_timeout] duration: statement_timeout of the advisor's session, 0 = none; default 30 s. */
    ALCHDB_ADVISOR_OPT_STATEMENT_TIMEOUT = 8,
    /** [lock_timeout] duration: lock_timeout alchdb_advisor_apply() uses and the script sets, 1 ms..1 h; default 5 s. */
    ALCHDB_ADVISOR_OPT_LOCK_TIMEOUT = 9,
    /** [min_table_rows] tables with fewer estimated rows get no missing-index suggestion; default 1000. */
    ALCHDB_ADVISOR_OPT_MIN_TABLE_ROWS = 10
} alchdb_advisor_opt;

/** The lists of a report. @since 0.1.0 */
typedef enum alchdb_advisor_kind {
    ALCHDB_ADVISOR_TABLES = 1,    /**< tables with their usage */
    ALCHDB_ADVISOR_UNUSED = 2,    /**< unused indexes */
    ALCHDB_ADVISOR_REDUNDANT = 3, /**< exact duplicates and left-prefix redundant indexes */
    ALCHDB_ADVISOR_FK = 4,        /**< foreign keys without a supporting index */
    ALCHDB_ADVISOR_MISSING = 5    /**< missing indexes suggested from the workload */
} alchdb_advisor_kind;

/**
 * Create a configuration holding the defaults and an empty workload.
 * @param out receives the owned config (free with alchdb_advisor_config_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID (out NULL) or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned by the caller.
 * **Thread safety:** any thread; the config itself is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_new(alchdb_advisor_config **out);

/**
 * Free a configuration and its workload.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_advisor_config_free(alchdb_advisor_config *cfg);

/**
 * Set a numeric option: an integer, a duration in microseconds, a size in
 * bytes or a boolean (0/1).
 * @param cfg   the config.
 * @param opt   an ::alchdb_advisor_opt value.
 * @param value the value, within the option's range.
 * @return 0, ALCHDB_E_NOTFOUND (unknown option) or ALCHDB_E_INVALID (NULL
 *         cfg, a string option, out of range: the message names the option and its range).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_set_int64(alchdb_advisor_config *cfg, int opt, int64_t value);

/**
 * Read a numeric option.
 * @param cfg the config.
 * @param opt an ::alchdb_advisor_opt value.
 * @param out receives the value.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_get_int64(const alchdb_advisor_config *cfg, int opt, int64_t *out);

/**
 * Set a string option (ALCHDB_ADVISOR_OPT_CONNINFO).
 * @param cfg   the config.
 * @param opt   an ::alchdb_advisor_opt value.
 * @param value the text (copied); NULL restores the default (unset).
 * @return 0, ALCHDB_E_NOTFOUND, ALCHDB_E_INVALID (a numeric option) or ALCHDB_E_NOMEM.
 * **Ownership:** @p value is copied.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_set_string(alchdb_advisor_config *cfg, int opt, const char *value);

/**
 * Read a string option.
 * @param cfg the config.
 * @param opt an ::alchdb_advisor_opt value.
 * @param out receives the value (borrowed until the option changes or the
 *            config is freed; NULL when unset). ALCHDB_ADVISOR_OPT_CONNINFO reads back with
 *            every password it holds as "***" (the library connects with
 *            the value as set).
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_get_string(const alchdb_advisor_config *cfg, int opt, const char **out);

/**
 * Set an option by name from text, with the rules of <alchdb/options.h>:
 * names case-insensitive, durations with a unit ("500ms", "30s"; "0"), sizes
 * with an optional binary suffix ("64MiB"), booleans 1/0, true/false, yes/no,
 * on/off.
 * @param cfg   the config.
 * @param name  option name (copied).
 * @param value option text (copied).
 * @return 0, ALCHDB_E_NOTFOUND (unknown name), ALCHDB_E_INVALID (the message
 *         names the option) or ALCHDB_E_NOMEM.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_set_from_string(alchdb_advisor_config *cfg, const char *name,
                                                     const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME (NAME the
 * upper-cased option name: APP_ADVISOR_MAX_SUGGESTIONS). Absent or empty
 * variables leave the option unchanged.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** one thread at a time per config; reads the environment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_from_env(alchdb_advisor_config *cfg, const char *prefix);

/**
 * Add one workload statement (e.g. a monitor pattern): its text, how often it
 * ran and the total time it took. Texts may hold $n parameters. The workload
 * is not an option: it is the input the analysis plans, kept with the options
 * so that one config describes one analysis.
 * @param cfg the config.
 * @param sql one SQL statement (copied).
 * @param calls times it ran (>= 1).
 * @param total_time_ms total execution time in milliseconds (>= 0; 0 when unknown).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * **Ownership:** @p sql is copied.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_add_query(alchdb_advisor_config *cfg, const char *sql, int64_t calls,
                                               double total_time_ms);

/**
 * Add every statement of a script (statements separated by `;`), each with
 * one call. Statements that do not parse are kept and reported as such by the
 * analysis.
 * @param cfg the config.
 * @param text the script (copied).
 * @param len its length in bytes, or (size_t)-1 when NUL-terminated.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * **Ownership:** @p text is copied.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_config_add_queries(alchdb_advisor_config *cfg, const char *text, size_t len);

/**
 * Analyse the database named by ALCHDB_ADVISOR_OPT_CONNINFO. Only reads: the
 * session is read-only; hypothetical indexes live in the session only.
 * @param cfg the config (read, not kept).
 * @param out receives the report (owned: alchdb_advisor_report_free()); NULL on failure.
 * @return 0 (possibly a partial report: see alchdb_advisor_report_note()),
 *         ALCHDB_E_INVALID (no conninfo), ALCHDB_E_CONNECT, ALCHDB_E_QUERY (the
 *         catalog could not be read at all), ALCHDB_E_NOMEM.
 * **Ownership:** the caller owns *out.
 * **Thread safety:** any thread; @p cfg must not change during the call.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_analyze(const alchdb_advisor_config *cfg, alchdb_advisor_report **out);

/**
 * Free a report.
 * @param report a report or NULL.
 * **Thread safety:** not while another thread reads @p report.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_advisor_report_free(alchdb_advisor_report *report);

/**
 * The report as JSON: top-level keys `tables`, `index_usage_ratio`,
 * `unused_indexes`, `redundant_indexes`, `fk_without_index`, `missing_indexes`,
 * `health`, `script`, `notes` and `environment` (see docs/advisor.md).
 * @param report a report.
 * @param out receives the text (owned: alchdb_free()).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * **Ownership:** the caller owns *out.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_report_to_json(const alchdb_advisor_report *report, char **out);

/**
 * The report as text for people.
 * @param report a report.
 * @param out receives the text (owned: alchdb_free()).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * **Ownership:** the caller owns *out.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_report_to_text(const alchdb_advisor_report *report, char **out);

/**
 * The optimisation script: CREATE INDEX CONCURRENTLY statements in priority
 * order, then the DROP INDEX CONCURRENTLY statements commented out.
 * @param report a report.
 * @return borrowed until alchdb_advisor_report_free(); never NULL for a valid report, NULL (error set) for NULL.
 * **Ownership:** borrowed.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_advisor_report_script(const alchdb_advisor_report *report);

/**
 * Number of items of a list.
 * @param report a report.
 * @param kind an ::alchdb_advisor_kind.
 * @return the count, or a negative ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int64_t alchdb_advisor_report_count(const alchdb_advisor_report *report, int kind);

/**
 * The table of an item, as "schema.name" unquoted (public tables without schema).
 * @param report a report.
 * @param kind an ::alchdb_advisor_kind.
 * @param i the item, 0-based.
 * @return borrowed until alchdb_advisor_report_free(); NULL (error set) when out of range.
 * **Ownership:** borrowed.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_advisor_report_item_table(const alchdb_advisor_report *report, int kind, size_t i);

/**
 * The index an item is about (unused, redundant: the index to drop; missing:
 * the suggested name; FK: the constraint name; tables: NULL).
 * @param report a report.
 * @param kind an ::alchdb_advisor_kind.
 * @param i the item, 0-based.
 * @return borrowed until alchdb_advisor_report_free(); NULL when none or out of range.
 * **Ownership:** borrowed.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_advisor_report_item_name(const alchdb_advisor_report *report, int kind, size_t i);

/**
 * The columns of an item, comma-separated and unquoted (missing and FK: the
 * columns to index; unused and redundant: the index definition).
 * @param report a report.
 * @param kind an ::alchdb_advisor_kind.
 * @param i the item, 0-based.
 * @return borrowed until alchdb_advisor_report_free(); NULL when none or out of range.
 * **Ownership:** borrowed.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_advisor_report_item_detail(const alchdb_advisor_report *report, int kind, size_t i);

/**
 * The SQL that acts on an item: CREATE INDEX CONCURRENTLY (missing, FK) or
 * DROP INDEX CONCURRENTLY (unused, redundant), identifiers quoted.
 * @param report a report.
 * @param kind an ::alchdb_advisor_kind.
 * @param i the item, 0-based.
 * @return borrowed until alchdb_advisor_report_free(); NULL for tables or out of range.
 * **Ownership:** borrowed.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_advisor_report_item_sql(const alchdb_advisor_report *report, int kind, size_t i);

/**
 * How a missing-index suggestion was checked: "hypopg" (plan costs with a
 * hypothetical index), "explain" (the current plan scans the table
 * sequentially; unverified) or "heuristic" (from the query text only; unverified).
 * @param report a report.
 * @param i the missing-index item, 0-based.
 * @return static text; NULL (error set) when out of range.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_advisor_report_missing_verified_by(const alchdb_advisor_report *report, size_t i);

/**
 * The database-wide index usage ratio idx_scan / (idx_scan + seq_scan) over
 * user tables (the "index effectiveness" target is > 0.95).
 * @param report a report.
 * @return 0..1, or -1 when no scans were counted (or @p report is NULL).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API double alchdb_advisor_report_index_usage_ratio(const alchdb_advisor_report *report);

/**
 * The index health score, 0 (bad) to 100 (nothing to do).
 * @param report a report.
 * @return the score, or ALCHDB_E_INVALID for NULL.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_report_health(const alchdb_advisor_report *report);

/**
 * Number of notes: things the analysis could not do (privileges, missing
 * extensions, queries that do not parse or name unknown tables).
 * @param report a report.
 * @return the count, or ALCHDB_E_INVALID for NULL.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int64_t alchdb_advisor_report_note_count(const alchdb_advisor_report *report);

/**
 * One note.
 * @param report a report.
 * @param i the note, 0-based.
 * @return borrowed until alchdb_advisor_report_free(); NULL (error set) when out of range.
 * **Ownership:** borrowed.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_advisor_report_note(const alchdb_advisor_report *report, size_t i);

/**
 * Apply one item of a report to the database of ALCHDB_ADVISOR_OPT_CONNINFO:
 * a missing or FK item runs its CREATE INDEX CONCURRENTLY (on a partitioned
 * table: CREATE INDEX ... ON ONLY the parent, CONCURRENTLY on each partition,
 * ALTER INDEX ... ATTACH PARTITION, one statement at a time), an unused or
 * redundant item its DROP INDEX [CONCURRENTLY], with lock_timeout
 * (ALCHDB_ADVISOR_OPT_LOCK_TIMEOUT). An INVALID index left by a failed
 * concurrent build (this one or an earlier one with the same name) is dropped;
 * when a statement of a partitioned table's sequence fails, the indexes the
 * call made are dropped again.
 * @param cfg the config with the conninfo.
 * @param report the report the item comes from.
 * @param kind an ::alchdb_advisor_kind other than ALCHDB_ADVISOR_TABLES.
 * @param i the item, 0-based.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_CONNECT, ALCHDB_E_STATE (a valid index
 *         of that name exists already), ALCHDB_E_QUERY (the server refused or
 *         timed out; the message says why), ALCHDB_E_NOMEM.
 * **Thread safety:** any thread; it opens its own connection.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_apply(const alchdb_advisor_config *cfg, const alchdb_advisor_report *report,
                                    int kind, size_t i);

ALCHDB_END_DECLS

#endif /* ALCHDB_ADVISOR_H */
