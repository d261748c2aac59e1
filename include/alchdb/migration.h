/**
 * @file migration.h
 * @brief Migration assessor: the locks, rewrites and risk of every statement of
 *        a migration script, as PostgreSQL 15 behaves, with safer rewrites,
 *        rollbacks and a phased plan.
 *
 * Typical use:
 * @code
 *   alchdb_migration *m;
 *   alchdb_migration_new(NULL, &m);
 *   alchdb_migration_add_file(m, "001_add_col.sql", sql, (size_t)-1);
 *   char *json;
 *   alchdb_migration_to_json(m, &json);
 *   ...
 *   alchdb_free(json);
 *   alchdb_migration_free(m);
 * @endcode
 *
 * Files added to one assessment share state, in order: a table created in an
 * earlier statement of the same file is new (small, nobody else uses it yet); a
 * validated CHECK (col IS NOT NULL) makes a later SET NOT NULL cheap; a
 * lock_timeout set earlier is in force for later statements.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_MIGRATION_H
#define ALCHDB_MIGRATION_H

#include <alchdb/common.h>

ALCHDB_BEGIN_DECLS

/** An assessment of one or more migration files. Not thread-safe while files are
 *  being added; immutable (and safe to read from many threads) afterwards.
 *  @since 0.1.0 */
typedef struct alchdb_migration alchdb_migration;

/** The configuration of an assessment (one thread at a time). @since 0.1.0 */
typedef struct alchdb_migration_config alchdb_migration_config;

/** Risk levels, ordered. @since 0.1.0 */
typedef enum alchdb_migration_risk {
    ALCHDB_RISK_NONE = 0,    /**< nothing to assess (empty file) */
    ALCHDB_RISK_LOW = 1,     /**< metadata-only or non-blocking */
    ALCHDB_RISK_MEDIUM = 2,  /**< blocks writes for a scan or build, brief ACCESS EXCLUSIVE, or may fail at run time */
    ALCHDB_RISK_UNKNOWN = 3, /**< opaque (DO, functions) or unknown statement: review by hand; ranks above medium */
    ALCHDB_RISK_HIGH = 4     /**< rewrite under ACCESS EXCLUSIVE, data loss, or breaks running clients */
} alchdb_migration_risk;

/** PostgreSQL table lock modes, numbered as PostgreSQL numbers them. @since 0.1.0 */
typedef enum alchdb_lock_mode {
    ALCHDB_LOCK_NONE = 0,
    ALCHDB_LOCK_ACCESS_SHARE = 1,
    ALCHDB_LOCK_ROW_SHARE = 2,
    ALCHDB_LOCK_ROW_EXCLUSIVE = 3,
    ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE = 4,
    ALCHDB_LOCK_SHARE = 5,
    ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE = 6,
    ALCHDB_LOCK_EXCLUSIVE = 7,
    ALCHDB_LOCK_ACCESS_EXCLUSIVE = 8
} alchdb_lock_mode;

/**
 * Migration options, the keys of the alchdb_migration_config_* functions.
 * Values are part of the ABI. The bracketed word is the option's name (by-name
 * setter, environment variable). Types, units, ranges, defaults and a line of
 * documentation for each come from the option table the library uses:
 * alchdb_options_info("migration", ...), `alchdb options migration`, or the
 * table in docs/migration.md. Durations are int64 microseconds.
 * @since 0.1.0
 */
typedef enum alchdb_migration_opt {
    /** [pg_version] target server_version_num, 150000..159999 (only 15 is modelled); default 150000. */
    ALCHDB_MIGRATION_OPT_PG_VERSION = 1,
    /** [conninfo] string: libpq conninfo of the live database for table sizes and lock-queue risks
     *  (of the scratch database for alchdb_migration_trace()); default none. */
    ALCHDB_MIGRATION_OPT_CONNINFO = 2,
    /** [rewrite_bytes_per_sec] bytes per second a rewrite is assumed to process when estimating durations; default 100 MB/s. */
    ALCHDB_MIGRATION_OPT_REWRITE_BYTES_PER_SEC = 3,
    /** [lock_timeout] duration: lock_timeout the plan and executor use, 1 ms..1 h; default 2 s. */
    ALCHDB_MIGRATION_OPT_LOCK_TIMEOUT = 4,
    /** [statement_timeout] duration: statement_timeout of the executor's non-concurrent steps, 0..1 day; default 0 = none. */
    ALCHDB_MIGRATION_OPT_STATEMENT_TIMEOUT = 5,
    /** [max_retries] attempts per phase step when lock_timeout strikes, 1..100; default 3. */
    ALCHDB_MIGRATION_OPT_MAX_RETRIES = 6
} alchdb_migration_opt;

/**
 * Create a configuration holding the defaults.
 * @param out receives the owned config (free with alchdb_migration_config_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID (out NULL) or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned by the caller.
 * **Thread safety:** any thread; the config itself is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_config_new(alchdb_migration_config **out);

/**
 * Free a configuration.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_migration_config_free(alchdb_migration_config *cfg);

/**
 * Set a numeric option: an integer or a duration in microseconds.
 * @param cfg   the config.
 * @param opt   an ::alchdb_migration_opt value.
 * @param value the value, within the option's range.
 * @return 0, ALCHDB_E_NOTFOUND (unknown option) or ALCHDB_E_INVALID (NULL
 *         cfg, a string option, out of range: the message names the option and its range).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_config_set_int64(alchdb_migration_config *cfg, int opt, int64_t value);

/**
 * Read a numeric option.
 * @param cfg the config.
 * @param opt an ::alchdb_migration_opt value.
 * @param out receives the value.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_config_get_int64(const alchdb_migration_config *cfg, int opt, int64_t *out);

/**
 * Set a string option (ALCHDB_MIGRATION_OPT_CONNINFO).
 * @param cfg   the config.
 * @param opt   an ::alchdb_migration_opt value.
 * @param value the text (copied); NULL restores the default (unset).
 * @return 0, ALCHDB_E_NOTFOUND, ALCHDB_E_INVALID (a numeric option) or ALCHDB_E_NOMEM.
 * **Ownership:** @p value is copied.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_config_set_string(alchdb_migration_config *cfg, int opt, const char *value);

/**
 * Read a string option.
 * @param cfg the config.
 * @param opt an ::alchdb_migration_opt value.
 * @param out receives the value (borrowed until the option changes or the
 *            config is freed; NULL when unset). ALCHDB_MIGRATION_OPT_CONNINFO reads back with
 *            every password it holds as "***" (the library connects with
 *            the value as set).
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_config_get_string(const alchdb_migration_config *cfg, int opt,
                                                  const char **out);

/**
 * Set an option by name from text, with the rules of <alchdb/options.h>:
 * names case-insensitive, durations with a unit ("2s", "500ms"; "0").
 * @param cfg   the config.
 * @param name  option name (copied).
 * @param value option text (copied).
 * @return 0, ALCHDB_E_NOTFOUND (unknown name), ALCHDB_E_INVALID (the message
 *         names the option) or ALCHDB_E_NOMEM.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_config_set_from_string(alchdb_migration_config *cfg, const char *name,
                                                       const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME (NAME the
 * upper-cased option name: APP_MIGRATION_LOCK_TIMEOUT). Absent or empty
 * variables leave the option unchanged.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** one thread at a time per config; reads the environment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_config_from_env(alchdb_migration_config *cfg, const char *prefix);

/**
 * Start an assessment.
 * @param cfg  the config (copied) or NULL for the defaults.
 * @param out  receives the assessment (owned: alchdb_migration_free()).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM, ALCHDB_E_CONNECT (live mode could not connect).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_new(const alchdb_migration_config *cfg, alchdb_migration **out);

/**
 * Assess one file and append it to the assessment. A file that does not parse
 * is recorded with its error (line and column) and 0 statements; later files
 * are still assessed.
 * @param m    the assessment.
 * @param name display name of the file (copied).
 * @param sql  the script (copied); need not be NUL-terminated when len is given.
 * @param len  byte length, or (size_t)-1 for a NUL-terminated string.
 * @return 0 (also when the file had a syntax error: see
 *         alchdb_migration_file_error()), ALCHDB_E_INVALID (NULL, invalid UTF-8,
 *         NUL bytes), ALCHDB_E_RANGE (over ALCHDB_MIGRATION_MAX_FILE_BYTES),
 *         ALCHDB_E_NOMEM. A rejected file is not added; later files can be.
 * **Thread safety:** one thread at a time per assessment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_add_file(alchdb_migration *m, const char *name, const char *sql,
                                         size_t len);

/**
 * Free an assessment.
 * @param m the assessment or NULL.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_migration_free(alchdb_migration *m);

/**
 * The highest risk over all files (ALCHDB_RISK_* value), or a negative error.
 * A file with a syntax error counts as ALCHDB_RISK_UNKNOWN.
 * @param m the assessment.
 * @return an ALCHDB_RISK_* value or a negative error.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_max_risk(const alchdb_migration *m);

/** Largest file alchdb_migration_add_file() accepts (bytes). @since 0.1.0 */
#define ALCHDB_MIGRATION_MAX_FILE_BYTES (64u * 1024u * 1024u)

/**
 * Number of files added.
 * @param m the assessment.
 * @return the count (0 on a bad argument).
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_migration_file_count(const alchdb_migration *m);

/**
 * Name of a file as given to alchdb_migration_add_file().
 * @param m    the assessment.
 * @param file the file's index.
 * @return borrowed string valid until alchdb_migration_free(), or NULL on a bad argument.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_migration_file_name(const alchdb_migration *m, size_t file);

/**
 * The syntax error of a file, if any.
 * @param m          the assessment.
 * @param file       the file's index.
 * @param line_out   receives the 1-based line (may be NULL).
 * @param column_out receives the 1-based column (may be NULL).
 * @return borrowed message (valid until alchdb_migration_free()), or NULL when the
 *         file parsed (or on a bad argument, with the thread-local error set).
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_migration_file_error(const alchdb_migration *m, size_t file,
                                                   int64_t *line_out, int64_t *column_out);

/**
 * Number of statements of a file.
 * @param m    the assessment.
 * @param file the file's index.
 * @return the count (0 on a bad argument).
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_migration_stmt_count(const alchdb_migration *m, size_t file);

/**
 * Risk of a statement.
 * @param m    the assessment.
 * @param file the file's index.
 * @param stmt the statement's index in the file.
 * @return an ALCHDB_RISK_* value, or a negative error.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_stmt_risk(const alchdb_migration *m, size_t file, size_t stmt);

/** Statement flag: blocks reads of a table. @since 0.1.0 */
#define ALCHDB_MIG_BLOCKS_READS 0x01u
/** Statement flag: blocks writes to a table. @since 0.1.0 */
#define ALCHDB_MIG_BLOCKS_WRITES 0x02u
/** Statement flag: rewrites a table. @since 0.1.0 */
#define ALCHDB_MIG_REWRITES_TABLE 0x04u
/** Statement flag: scans a table (e.g. to validate a constraint). @since 0.1.0 */
#define ALCHDB_MIG_SCANS_TABLE 0x08u
/** Statement flag: builds an index. @since 0.1.0 */
#define ALCHDB_MIG_BUILDS_INDEX 0x10u
/** Statement flag: has a rollback. @since 0.1.0 */
#define ALCHDB_MIG_REVERSIBLE 0x20u
/** Statement flag: its effects cannot be known statically (e.g. DO blocks). @since 0.1.0 */
#define ALCHDB_MIG_OPAQUE 0x40u
/** Statement flag: runs inside an explicit transaction of the script. @since 0.1.0 */
#define ALCHDB_MIG_IN_TRANSACTION 0x80u

/**
 * Flags of a statement (ALCHDB_MIG_* bits).
 * @param m         the assessment.
 * @param file      the file's index.
 * @param stmt      the statement's index.
 * @param flags_out receives the flags.
 * @return 0 or a negative error.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_stmt_flags(const alchdb_migration *m, size_t file, size_t stmt,
                                           uint32_t *flags_out);

/**
 * A text attribute of a statement. @p what is one of "sql", "reason",
 * "safer_rewrite", "rollback".
 * @param m    the assessment.
 * @param file the file's index.
 * @param stmt the statement's index.
 * @param what the attribute's name.
 * @return borrowed string valid until alchdb_migration_free(); NULL when the
 *         attribute is absent (or on a bad argument, with the thread-local error set).
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_migration_stmt_text(const alchdb_migration *m, size_t file,
                                                  size_t stmt, const char *what);

/**
 * Number of relation locks a statement takes.
 * @param m    the assessment.
 * @param file the file's index.
 * @param stmt the statement's index.
 * @return the count (0 on a bad argument).
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_migration_lock_count(const alchdb_migration *m, size_t file, size_t stmt);

/**
 * One lock of a statement.
 * @param m        the assessment.
 * @param file     the file's index.
 * @param stmt     the statement's index.
 * @param lock     the lock's index.
 * @param mode_out receives the alchdb_lock_mode.
 * @return borrowed relation as SQL ([schema.]name, each part quoted where needed, a
 *         name with control characters as U&"..."), or NULL on a bad argument.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_migration_lock(const alchdb_migration *m, size_t file, size_t stmt,
                                             size_t lock, int *mode_out);

/**
 * Number of findings of a statement.
 * @param m    the assessment.
 * @param file the file's index.
 * @param stmt the statement's index.
 * @return the count (0 on a bad argument).
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_migration_finding_count(const alchdb_migration *m, size_t file,
                                                 size_t stmt);

/**
 * A field of a finding.
 * @param m       the assessment.
 * @param file    the file's index.
 * @param stmt    the statement's index.
 * @param finding the finding's index.
 * @param what    "rule", "severity", "message" or "help".
 * @return borrowed string, or NULL on a bad argument.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_migration_finding(const alchdb_migration *m, size_t file,
                                                size_t stmt, size_t finding, const char *what);

/**
 * The whole assessment as JSON (the stable shape documented in docs/migration.md).
 * @param m        the assessment.
 * @param json_out receives an owned string (free with alchdb_free()).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_to_json(const alchdb_migration *m, char **json_out);

/**
 * The assessment for people: statement, lock, blocks, risk, help.
 * @param m        the assessment.
 * @param text_out receives an owned string (free with alchdb_free()).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_to_text(const alchdb_migration *m, char **text_out);

/**
 * Trace mode: check the static assessment against PostgreSQL itself.
 *
 * Runs the migration, statement by statement, against a SCRATCH database
 * (@p cfg must name it with ALCHDB_MIGRATION_OPT_CONNINFO; the database is
 * modified: each statement runs in its own transaction and is committed so
 * later statements see its effects). For each statement it reads pg_locks from
 * the running transaction (or, for statements that cannot run in a
 * transaction block, queues them behind a blocker and reads the lock they wait
 * for from a second connection), compares table file nodes before and after
 * to detect rewrites, and reports where the static assessment and PostgreSQL
 * disagree. Locks PostgreSQL takes only for reading or planning (ACCESS SHARE,
 * index locks the statement does not name) are shown but not compared.
 *
 * @param cfg       the config with the scratch database's conninfo.
 * @param sql       the migration script.
 * @param len       its length in bytes, or (size_t)-1 when NUL-terminated.
 * @param json_out  receives the owned report (free with alchdb_free()):
 *                  {"statements":[{"index","sql","static":{…},"observed":{…},
 *                  "compared":bool,"agree":bool,"disagreements":[…]}],
 *                  "agreed":N,"disagreed":N,"not_compared":N}.
 * @param agreed_out    receives the number of statements that agree (may be NULL).
 * @param disagreed_out receives the number that disagree (may be NULL).
 * @return 0 when the trace ran (disagreements are in the report),
 *         ALCHDB_E_INVALID, ALCHDB_E_CONNECT, ALCHDB_E_PARSE (script does not
 *         parse), ALCHDB_E_NOMEM.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_trace(const alchdb_migration_config *cfg, const char *sql, size_t len,
                                      char **json_out, size_t *agreed_out, size_t *disagreed_out);

/**
 * Execute the phased plan of one file against the database named by the
 * assessment's ALCHDB_MIGRATION_OPT_CONNINFO.
 *
 * Phases run in order. Each phase runs with SET lock_timeout (the option, 2 s
 * by default) and, when configured, statement_timeout; a transactional phase
 * runs in one BEGIN … COMMIT, the others statement by statement in autocommit
 * (CONCURRENTLY, VACUUM). A phase that fails because a lock could not be
 * taken in time (SQLSTATE 55P03) or a deadlock (40P01) is rolled back and
 * retried, with a growing pause, up to ALCHDB_MIGRATION_OPT_MAX_RETRIES
 * attempts; any other error, or running out of attempts, stops the run
 * cleanly at that phase boundary: earlier phases stay applied, nothing of the
 * failed phase does (for a non-transactional phase, the statements before the
 * failing one stay applied, and an INVALID index left by a failed concurrent
 * build is dropped). A file with a syntax error or opaque statements is
 * refused.
 *
 * @param m        an assessment made with a conninfo (live mode).
 * @param file     index of the file to run.
 * @param json_out receives the owned report (free with alchdb_free()):
 *                 {"file":…,"completed":bool,"phases":[{"phase":1,"status":"done|failed|skipped",
 *                 "attempts":N,"seconds":S,"error":…,"sqlstate":…}],"phases_done":N}.
 * @return 0 when every phase completed; ALCHDB_E_QUERY when a phase failed
 *         (the report says which and why); ALCHDB_E_INVALID (no conninfo,
 *         bad index, syntax error or opaque statements in the file),
 *         ALCHDB_E_CONNECT, ALCHDB_E_NOMEM.
 * **Thread safety:** one call at a time per assessment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_migration_execute(alchdb_migration *m, size_t file, char **json_out);

/**
 * Name of a risk level.
 * @param risk an ALCHDB_RISK_* value.
 * @return a static string ("none", "low", "medium", "unknown", "high").
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_migration_risk_name(int risk);

/**
 * PostgreSQL's name of a lock mode.
 * @param mode an ::alchdb_lock_mode value.
 * @return a static string ("ACCESS SHARE" … "ACCESS EXCLUSIVE").
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_lock_mode_name(int mode);

ALCHDB_END_DECLS

#endif /* ALCHDB_MIGRATION_H */
