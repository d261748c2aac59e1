/**
 * @file sql.h
 * @brief SQL analysis: statement kind, read-only-ness, locking, tables read and
 *        written, volatile and side-effecting functions, cacheability,
 *        fingerprint and normalized text of every statement of a script.
 *
 * This is the one place in libalchdb that parses SQL (with libpg_query, the
 * PostgreSQL 15 parser); the router, cache, monitor, advisor and migration
 * assessor all use it. Typical use:
 * @code
 *   alchdb_sql_analysis *a;
 *   if (alchdb_sql_analyze("SELECT * FROM app.users WHERE id = 1", (size_t)-1, &a) == 0) {
 *       uint32_t flags;
 *       alchdb_sql_stmt_flags(a, 0, &flags);
 *       if (flags & ALCHDB_SQL_READ_ONLY)
 *           ...send it to a replica...
 *   }
 *   alchdb_sql_analysis_free(a);
 * @endcode
 *
 * Results are cached: analysing the same text again returns the same
 * immutable, reference-counted object (see docs/sql.md for the rules, the
 * reason codes and the limits).
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_SQL_H
#define ALCHDB_SQL_H

#include <alchdb/common.h>

ALCHDB_BEGIN_DECLS

/** The analysis of one script: immutable and reference-counted; safe to read
 *  from many threads at once. @since 0.1.0 */
typedef struct alchdb_sql_analysis alchdb_sql_analysis;

/** Statement kinds. Values are part of the ABI. @since 0.1.0 */
typedef enum alchdb_sql_kind {
    ALCHDB_SQL_SELECT = 0,      /**< SELECT, VALUES, TABLE (also with writable CTEs) */
    ALCHDB_SQL_INSERT = 1,      /**< INSERT (incl. ON CONFLICT) */
    ALCHDB_SQL_UPDATE = 2,      /**< UPDATE */
    ALCHDB_SQL_DELETE = 3,      /**< DELETE */
    ALCHDB_SQL_MERGE = 4,       /**< MERGE */
    ALCHDB_SQL_DDL = 5,         /**< CREATE/ALTER/DROP/TRUNCATE/GRANT/COMMENT/REFRESH, SELECT INTO, ... */
    ALCHDB_SQL_TRANSACTION = 6, /**< BEGIN/COMMIT/ROLLBACK/SAVEPOINT/PREPARE TRANSACTION, ... */
    ALCHDB_SQL_UTILITY = 7      /**< SET/SHOW/COPY/EXPLAIN/CALL/DO/LOCK/PREPARE/EXECUTE/LISTEN/VACUUM, ... */
} alchdb_sql_kind;

/** Statement flags (bit set) returned by alchdb_sql_stmt_flags(). @since 0.1.0 */
#define ALCHDB_SQL_READ_ONLY (1u << 0)    /**< may run on a replica: changes no data and no session state */
#define ALCHDB_SQL_LOCKING (1u << 1)      /**< FOR UPDATE/NO KEY UPDATE/SHARE/KEY SHARE anywhere, or LOCK TABLE */
#define ALCHDB_SQL_CACHEABLE (1u << 2)    /**< its result may be cached (see docs/sql.md) */
#define ALCHDB_SQL_VOLATILE (1u << 3)     /**< calls a volatile, random or time-dependent function */
#define ALCHDB_SQL_SIDE_EFFECTS (1u << 4) /**< calls a function with side effects (nextval, advisory locks, ...) */
#define ALCHDB_SQL_WRITABLE_CTE (1u << 5) /**< a WITH query is an INSERT/UPDATE/DELETE/MERGE */
#define ALCHDB_SQL_TXN_CONTROL (1u << 6)  /**< transaction control (kind ALCHDB_SQL_TRANSACTION) */
#define ALCHDB_SQL_SELECT_INTO (1u << 7)  /**< SELECT ... INTO creates a table */
#define ALCHDB_SQL_TEMP_TABLE (1u << 8)   /**< names a pg_temp-qualified or TEMPORARY table */

/** Which table list alchdb_sql_stmt_table_count()/alchdb_sql_stmt_table() read. @since 0.1.0 */
#define ALCHDB_SQL_TABLES_READ 0
/** @copydoc ALCHDB_SQL_TABLES_READ */
#define ALCHDB_SQL_TABLES_WRITTEN 1

/** Largest script alchdb_sql_analyze() accepts, in bytes (64 MiB). @since 0.1.0 */
#define ALCHDB_SQL_MAX_BYTES ((size_t)64 * 1024 * 1024)

/**
 * Analyse every statement of a SQL script.
 *
 * The text must be valid UTF-8 without NUL bytes. Empty, whitespace-only and
 * comment-only scripts give an analysis with 0 statements.
 *
 * @param sql the script (copied).
 * @param len its length in bytes, or (size_t)-1 when @p sql is NUL-terminated.
 * @param out receives the analysis; set to NULL first.
 * @return 0; ALCHDB_E_PARSE on a syntax error, and then @p out still receives
 *         an analysis carrying the error (see alchdb_sql_analysis_error()) and 0
 *         statements; ALCHDB_E_INVALID (NULL argument, invalid UTF-8 or an
 *         embedded NUL: the message names the byte offset); ALCHDB_E_RANGE
 *         (longer than ALCHDB_SQL_MAX_BYTES); ALCHDB_E_NOMEM. On these other
 *         errors @p out stays NULL.
 * **Ownership:** @p out is owned: release it with alchdb_sql_analysis_free().
 * The object may be shared with other callers through the internal cache; it
 * never changes.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_analyze(const char *sql, size_t len, alchdb_sql_analysis **out);

/**
 * Release an analysis (drop one reference). Accepts NULL.
 * @param a the analysis or NULL.
 * **Thread safety:** any thread; each reference is released once.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_sql_analysis_free(alchdb_sql_analysis *a);

/**
 * The syntax error of a script that did not parse.
 * @param a the analysis.
 * @param offset_out optional; receives the byte offset of the error in the
 *        script (-1 when PostgreSQL gave no position).
 * @return the message (borrowed, valid until the analysis is freed), or NULL
 *         when the script parsed (or @p a is NULL: then the thread-local error
 *         is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_sql_analysis_error(const alchdb_sql_analysis *a, int64_t *offset_out);

/**
 * Number of statements.
 * @param a the analysis.
 * @return the count; 0 for a NULL analysis (and the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_sql_analysis_count(const alchdb_sql_analysis *a);

/**
 * Kind of statement @p i.
 * @param a the analysis.
 * @param i statement index, below alchdb_sql_analysis_count().
 * @return an alchdb_sql_kind value, or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_stmt_kind(const alchdb_sql_analysis *a, size_t i);

/**
 * Name of a kind: "select", "insert", "update", "delete", "merge", "ddl",
 * "transaction" or "utility".
 * @param kind an alchdb_sql_kind value.
 * @return static text, or NULL for an unknown kind (the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_sql_kind_name(int kind);

/**
 * Flags of statement @p i (ALCHDB_SQL_READ_ONLY, ...).
 * @param a the analysis.
 * @param i statement index.
 * @param flags_out receives the flags.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_stmt_flags(const alchdb_sql_analysis *a, size_t i, uint32_t *flags_out);

/**
 * Where statement @p i is in the script: from its first token (leading
 * whitespace and comments skipped) to its end, without the semicolon.
 * @param a the analysis.
 * @param i statement index.
 * @param offset optional; receives the byte offset.
 * @param length optional; receives the length in bytes.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_stmt_span(const alchdb_sql_analysis *a, size_t i, size_t *offset, size_t *length);

/**
 * libpg_query fingerprint of statement @p i: equal for statements that differ
 * only in constants, list lengths of IN (...), comments and whitespace.
 * @param a the analysis.
 * @param i statement index.
 * @param out receives the fingerprint.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_stmt_fingerprint(const alchdb_sql_analysis *a, size_t i, uint64_t *out);

/**
 * Statement @p i with its constants replaced by $1, $2, ...
 * @param a the analysis.
 * @param i statement index.
 * @return borrowed text valid until the analysis is freed, or NULL on a bad
 *         argument (the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_sql_stmt_normalized(const alchdb_sql_analysis *a, size_t i);

/**
 * Number of distinct tables statement @p i reads or writes.
 * @param a the analysis.
 * @param i statement index.
 * @param which ALCHDB_SQL_TABLES_READ or ALCHDB_SQL_TABLES_WRITTEN.
 * @return the count; 0 on a bad argument (the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_sql_stmt_table_count(const alchdb_sql_analysis *a, size_t i, int which);

/**
 * Name of table @p j of statement @p i rendered as SQL: "[schema.]name" as
 * written (a catalog too when one was written), with PostgreSQL's case
 * folding applied and each part double-quoted where PostgreSQL needs it, so
 * the text reads back as the same table: app.users, "App"."Users",
 * public."a.b", "select". alchdb_sql_stmt_table_name() gives the parts.
 * @param a the analysis.
 * @param i statement index.
 * @param which ALCHDB_SQL_TABLES_READ or ALCHDB_SQL_TABLES_WRITTEN.
 * @param j table index, below alchdb_sql_stmt_table_count().
 * @return borrowed text valid until the analysis is freed, or NULL on a bad
 *         argument (the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_sql_stmt_table(const alchdb_sql_analysis *a, size_t i, int which, size_t j);

/**
 * Schema and name of table @p j of statement @p i as two fields, taken from
 * the parse tree (never split on dots), as PostgreSQL folded them: for
 * public."a.b" the schema "public" and the name "a.b"; for "a.b" no schema
 * and the name "a.b"; for "App"."Users" "App" and "Users".
 * @param a the analysis.
 * @param i statement index.
 * @param which ALCHDB_SQL_TABLES_READ or ALCHDB_SQL_TABLES_WRITTEN.
 * @param j table index, below alchdb_sql_stmt_table_count().
 * @param schema_out optional; receives the schema, or NULL when the table
 *        was not qualified (borrowed, valid until the analysis is freed).
 * @param name_out optional; receives the name (borrowed, likewise).
 * @return 0 or ALCHDB_E_INVALID (then both outputs are NULL).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_stmt_table_name(const alchdb_sql_analysis *a, size_t i, int which, size_t j,
                                          const char **schema_out, const char **name_out);

/**
 * Number of distinct functions statement @p i calls (every function call
 * written in it, built-in or not; operators and casts are not calls).
 * @param a the analysis.
 * @param i statement index.
 * @return the count; 0 on a bad argument (the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_sql_stmt_function_count(const alchdb_sql_analysis *a, size_t i);

/**
 * Function @p j that statement @p i calls, exactly as written: quoted names
 * keep their case ("Counter"), unquoted ones are folded to lower case, the
 * schema is given only when written (public."a.b"() has the schema "public"
 * and the name "a.b"). In order of first appearance.
 * @param a the analysis.
 * @param i statement index.
 * @param j function index, below alchdb_sql_stmt_function_count().
 * @param schema_out optional; receives the schema or NULL (borrowed, valid
 *        until the analysis is freed).
 * @param name_out optional; receives the name (borrowed, likewise).
 * @return 0 or ALCHDB_E_INVALID (then both outputs are NULL).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_stmt_function(const alchdb_sql_analysis *a, size_t i, size_t j, const char **schema_out,
                                        const char **name_out);

/**
 * Whether statement @p i was analysed in full. A statement nested too deeply
 * to analyse safely (see docs/sql.md, "Deep statements") is kept with
 * conservative answers: not read-only, not cacheable ("too_complex"), no
 * tables, the fingerprint every such statement shares, its own text as the
 * normalized text; its status says why.
 * @param a the analysis.
 * @param i statement index.
 * @param message_out optional; receives NULL when the statement was
 *        analysed, else why not (borrowed, valid until the analysis is freed).
 * @return 0 when analysed, ALCHDB_E_RANGE when too deep to analyse,
 *         ALCHDB_E_INVALID on a bad argument.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_stmt_status(const alchdb_sql_analysis *a, size_t i, const char **message_out);

/**
 * Number of distinct volatile or side-effecting functions statement @p i calls.
 * @param a the analysis.
 * @param i statement index.
 * @return the count; 0 on a bad argument (the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_sql_stmt_volatile_count(const alchdb_sql_analysis *a, size_t i);

/**
 * Name of volatile function @p j of statement @p i: unqualified, lower case
 * ("now", "nextval", "current_timestamp", ...), in order of first appearance.
 * @param a the analysis.
 * @param i statement index.
 * @param j function index, below alchdb_sql_stmt_volatile_count().
 * @return borrowed text valid until the analysis is freed, or NULL on a bad
 *         argument (the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_sql_stmt_volatile(const alchdb_sql_analysis *a, size_t i, size_t j);

/**
 * Why statement @p i is not cacheable, as a stable code: "not_select",
 * "select_into", "too_complex", "writes", "side_effects", "locking_clause",
 * "volatile_function" or "temp_table" (docs/sql.md).
 * @param a the analysis.
 * @param i statement index.
 * @return static text, or NULL when the statement is cacheable (or on a bad
 *         argument: then the thread-local error is set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_sql_stmt_not_cacheable_reason(const alchdb_sql_analysis *a, size_t i);

/**
 * The analysis as JSON: {"statements":[{"index":0,"offset":0,"kind":"select",
 * "read_only":true,"locking":false,"fingerprint":"<16 hex>","normalized":"...",
 * "tables_read":[...],"tables_written":[...],"volatile_functions":[...],
 * "cacheable":true,"not_cacheable_reason":null}, ...]}, or
 * {"error":{"message":"...","offset":N}} for a script that did not parse.
 * @param a the analysis.
 * @param json_out receives the text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** @p json_out is owned: free it with alchdb_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_sql_analysis_to_json(const alchdb_sql_analysis *a, char **json_out);

/**
 * Cheap 64-bit hash of raw SQL text (no parsing; differs for any change of the
 * text, including whitespace).
 * @param sql the text, or NULL (hashes as empty).
 * @param len its length, or (size_t)-1 when NUL-terminated.
 * @return the hash.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API uint64_t alchdb_sql_hash(const char *sql, size_t len);

/**
 * Empty the internal analysis cache. Analyses held by callers stay valid.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_sql_cache_clear(void);

ALCHDB_END_DECLS

#endif /* ALCHDB_SQL_H */
