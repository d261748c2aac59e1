/**
 * @file pool.h
 * @brief Thread-safe PostgreSQL connection pool over one endpoint.
 *
 * A pool keeps up to max_open libpq connections to one server (a libpq
 * conninfo string). Callers acquire a connection with a deadline, use it and
 * release it; waiters are served first-in-first-out. On release the pool rolls
 * back whatever transaction the caller left open and discards broken
 * connections. A housekeeping thread closes idle and expired connections,
 * keeps min_idle connections ready, reports leaks through the log sink and
 * retries failed connects with exponential back-off.
 *
 * Hosts that run their own libpq calls borrow the PGconn of an acquired
 * connection through <alchdb/pq.h>; most hosts use <alchdb/client.h>.
 *
 * **Fork:** a pool made before fork() fails in the child with ALCHDB_E_STATE;
 * alchdb_pool_free() there drops its connections without disturbing the
 * parent's server sessions. Create a new pool in the child.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_POOL_H
#define ALCHDB_POOL_H

#include <alchdb/common.h>
#include <alchdb/options.h>

ALCHDB_BEGIN_DECLS

/** A connection pool (opaque, thread-safe). @since 0.1.0 */
typedef struct alchdb_pool alchdb_pool;

/** Pool configuration (opaque; one thread at a time). @since 0.1.0 */
typedef struct alchdb_pool_config alchdb_pool_config;

/**
 * An acquired connection (opaque). Valid from alchdb_pool_acquire() until the
 * matching alchdb_pool_release(); use it from one thread at a time.
 * @since 0.1.0
 */
typedef struct alchdb_conn alchdb_conn;

/**
 * Pool options, the keys of the alchdb_pool_config_* functions. Values are
 * part of the ABI. The bracketed word is the option's name (by-name setter,
 * environment variable). Types, units, ranges, defaults and a line of
 * documentation for each come from the option table the library uses:
 * alchdb_options_info("pool", ...), `alchdb options pool`, or the table in
 * docs/pool.md (generated from it). Durations are int64 microseconds.
 * @since 0.1.0
 */
typedef enum alchdb_pool_opt {
    ALCHDB_POOL_OPT_MAX_OPEN = 1,              /**< [max_open_conns] connections open at most */
    ALCHDB_POOL_OPT_MAX_IDLE = 2,              /**< [max_idle_conns] idle connections kept at most */
    ALCHDB_POOL_OPT_MIN_IDLE = 3,              /**< [min_idle_conns] idle connections kept ready */
    ALCHDB_POOL_OPT_CONN_MAX_LIFETIME = 4,     /**< [conn_max_lifetime] duration; 0 = forever */
    ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME = 5,    /**< [conn_max_idle_time] duration; 0 = never */
    ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT = 6,       /**< [acquire_timeout] wait of an acquire with timeout -1 */
    ALCHDB_POOL_OPT_CONNECT_TIMEOUT = 7,       /**< [connect_timeout] limit of one connection attempt */
    ALCHDB_POOL_OPT_VALIDATION_INTERVAL = 8,   /**< [validation_interval] idle time before a check round trip */
    ALCHDB_POOL_OPT_LEAK_THRESHOLD = 9,        /**< [leak_threshold] hold time that is logged as a leak */
    ALCHDB_POOL_OPT_RESET_POLICY = 10,         /**< [reset_policy] an ::alchdb_pool_reset (enum: by name too) */
    ALCHDB_POOL_OPT_MAX_WAITERS = 11,          /**< [max_waiters] callers allowed to wait at once */
    ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD = 12, /**< [slow_query_threshold] the client's slow-statement log */
    ALCHDB_POOL_OPT_HOUSEKEEPING_INTERVAL = 13, /**< [housekeeping_interval] period of the housekeeper */
    ALCHDB_POOL_OPT_STMT_CACHE_SIZE = 14,      /**< [statement_cache_size] prepared statements per connection */
    ALCHDB_POOL_OPT_MAX_CONNECTING = 15,       /**< [max_connecting] connection attempts in flight at once */
    ALCHDB_POOL_OPT_NAME = 100                 /**< [name] (string) the pool's name in errors, logs and JSON */
} alchdb_pool_opt;

/** Values of ::ALCHDB_POOL_OPT_RESET_POLICY. @since 0.1.0 */
typedef enum alchdb_pool_reset {
    /** Roll back an open or failed transaction; otherwise no round trip. */
    ALCHDB_POOL_RESET_ROLLBACK = 0,
    /** Also run DISCARD ALL on every release (one round trip; clears session
     *  state such as SET, temporary tables and prepared statements). */
    ALCHDB_POOL_RESET_DISCARD_ALL = 1
} alchdb_pool_reset;

/**
 * Create a configuration holding the defaults.
 * @param out receives the owned config (free with alchdb_pool_config_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID (out NULL) or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned by the caller.
 * **Thread safety:** any thread; the config itself is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_new(alchdb_pool_config **out);

/**
 * Free a configuration.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_pool_config_free(alchdb_pool_config *cfg);

/**
 * Set a numeric option: an integer, a duration in microseconds, a size in
 * bytes, a boolean (0/1) or an enum's value.
 * @param cfg   the config.
 * @param opt   an ::alchdb_pool_opt.
 * @param value the value, within the option's range.
 * @return 0, ALCHDB_E_NOTFOUND (unknown option), ALCHDB_E_INVALID (NULL cfg,
 *         a string option, value out of range: the message names the option
 *         and its range).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_set_int64(alchdb_pool_config *cfg, int opt, int64_t value);

/**
 * Read a numeric option.
 * @param cfg the config.
 * @param opt an ::alchdb_pool_opt.
 * @param out receives the value.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID (NULL, a string option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_get_int64(const alchdb_pool_config *cfg, int opt, int64_t *out);

/**
 * Set a string option, or an enum option by its choice's name.
 * @param cfg   the config.
 * @param opt   an ::alchdb_pool_opt.
 * @param value copied; NULL restores the default.
 * @return 0, ALCHDB_E_NOTFOUND, ALCHDB_E_INVALID (a numeric option, a value
 *         the option refuses) or ALCHDB_E_NOMEM.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_set_string(alchdb_pool_config *cfg, int opt, const char *value);

/**
 * Read a string option, or an enum option's choice name.
 * @param cfg the config.
 * @param opt an ::alchdb_pool_opt.
 * @param out receives the value (NULL when unset); a secret option reads "***".
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Ownership:** *out is borrowed until the option changes or the config is freed.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_get_string(const alchdb_pool_config *cfg, int opt,
                                             const char **out);

/**
 * Set an option by name from text, for configuration files and the
 * environment, with the rules of <alchdb/options.h>: names case-insensitive,
 * durations with a unit ("250ms", "5s", "30m", "1h30m"; "0"), sizes in bytes
 * with an optional binary suffix, booleans 1/0, true/false, on/off, yes/no,
 * enums by choice name.
 * @param cfg   the config.
 * @param name  option name (copied).
 * @param value option text (copied).
 * @return 0, ALCHDB_E_NOTFOUND (unknown name), ALCHDB_E_INVALID (unparseable
 *         or out of range; the message names the option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_set_from_string(alchdb_pool_config *cfg, const char *name,
                                                  const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME, NAME being the
 * upper-cased option name: with prefix "APP_DATABASE" that is
 * APP_DATABASE_MAX_OPEN_CONNS, APP_DATABASE_CONN_MAX_LIFETIME, ...
 * Variables that are absent or empty leave the option unchanged.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore, 1..100 characters.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** reads the environment with getenv(): do not call while
 * another thread changes the environment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_from_env(alchdb_pool_config *cfg, const char *prefix);

/**
 * Create a pool. No connection is made until the first acquire (or until the
 * housekeeper fills min_idle), so a reachable server is not required here.
 * @param conninfo a libpq conninfo string or URI (copied); validated with
 *                 PQconninfoParse (ALCHDB_E_INVALID with libpq's message,
 *                 passwords masked).
 * @param cfg      options (copied) or NULL for the defaults.
 * @param out      receives the pool; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (bad conninfo, max_idle > max_open, min_idle >
 *         max_idle, ...), ALCHDB_E_NOMEM, ALCHDB_E_INTERNAL (thread creation).
 * **Ownership:** *out is owned: free with alchdb_pool_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_new(const char *conninfo, const alchdb_pool_config *cfg,
                               alchdb_pool **out);

/**
 * Close a pool without freeing it: waiters are woken with ALCHDB_E_CLOSED,
 * the housekeeping thread is joined, idle connections are closed, later
 * acquires fail with ALCHDB_E_CLOSED, and connections still in use are closed
 * when they are released. Idempotent.
 * @param pool pool or NULL.
 * **Thread safety:** any thread, also concurrently with acquire/release.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_pool_close(alchdb_pool *pool);

/**
 * Close (as alchdb_pool_close()) and free a pool. When connections are still
 * in use, the memory is released by the last alchdb_pool_release(); the
 * handle must not be used for anything else after this call.
 * @param pool pool or NULL.
 * **Thread safety:** call once, after every other use of the handle except
 * releases of connections still held.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_pool_free(alchdb_pool *pool);

/**
 * The pool's display name: "name (host:port/db)" or "host:port/db".
 * @param pool the pool.
 * @return borrowed, valid until the pool is freed; "" when @p pool is NULL.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_pool_name(const alchdb_pool *pool);

/**
 * Acquire a connection, waiting up to a deadline. Waiters are served in
 * arrival order. A connection that sat idle at least the validation
 * interval is checked first; broken ones are replaced transparently. Every
 * wait inside (the queue, a connection attempt, the validation round trip)
 * ends at the deadline, also when a server stops answering. A caller whose
 * own connection attempt fails while other connections are open waits for
 * a released one instead of failing.
 * @param pool       the pool.
 * @param timeout_us the longest wait: -1 = the pool's acquire_timeout, 0 =
 *                   do not wait, > 0 = microseconds.
 * @param tag        who holds the connection (copied, truncated to 47
 *                   bytes), shown in timeout errors, leak reports and JSON;
 *                   NULL for none.
 * @param out        receives the connection; set to NULL first.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_TIMEOUT (the message names the pool,
 *         its size, the waiters, the longest holders and the last connect
 *         error), ALCHDB_E_CONNECT (a connection attempt failed, or the
 *         server is down and nothing is open: libpq's message),
 *         ALCHDB_E_BUSY (too many waiters), ALCHDB_E_CLOSED, ALCHDB_E_STATE
 *         (the pool was made before fork() of this child process).
 * **Ownership:** *out belongs to the pool; give it back with alchdb_pool_release().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_acquire(alchdb_pool *pool, int64_t timeout_us, const char *tag,
                                   alchdb_conn **out);

/**
 * Give a connection back. An open or failed transaction is rolled back
 * (bounded by connect_timeout); a query still running gets a cancel request
 * on the server and the connection is closed; a broken connection (PQstatus
 * bad, SQLSTATE class 08 or 57P01..57P03 seen by the client,
 * alchdb_conn_mark_broken(), a failed or late rollback) is closed and
 * replaced later; on a closed pool the connection is closed. Releasing a
 * handle twice or to another pool is detected (ALCHDB_E_STATE /
 * ALCHDB_E_INVALID) and leaves the pool intact; a second release is
 * recognised until the same connection has been acquired four more times.
 * @param pool the pool the connection came from.
 * @param conn the connection.
 * @return 0, ALCHDB_E_INVALID (NULL, not a connection, other pool),
 *         ALCHDB_E_STATE (not currently acquired).
 * **Thread safety:** any thread (not necessarily the acquiring one), once per acquire.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_release(alchdb_pool *pool, alchdb_conn *conn);

/**
 * Mark an acquired connection as unusable: release will close it.
 * @param conn an acquired connection.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_STATE (not acquired).
 * **Thread safety:** the holder's thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_conn_mark_broken(alchdb_conn *conn);

/**
 * Pool metrics, filled by alchdb_pool_get_metrics(). Append-only: new fields
 * go at the end, and the library fills only the first @c size bytes.
 * Durations in nanoseconds.
 * @since 0.1.0
 */
typedef struct alchdb_pool_metrics {
    uint32_t size;               /**< in: sizeof(struct alchdb_pool_metrics) of the caller; out: bytes filled */
    uint32_t reserved;           /**< zero */
    int64_t max_open;            /**< configured maximum */
    int64_t open;                /**< open connections (idle + in use) */
    int64_t idle;                /**< idle connections */
    int64_t in_use;              /**< connections held by callers */
    int64_t connecting;          /**< connection attempts in flight */
    int64_t waiters;             /**< callers waiting now */
    double utilization_pct;      /**< in_use / max_open * 100 */
    int64_t acquisitions;        /**< successful acquires */
    int64_t waited;              /**< acquires that had to wait */
    int64_t wait_p50_ns;         /**< acquire wait percentiles over all acquisitions (<= 2 % error) */
    int64_t wait_p95_ns;         /**< see wait_p50_ns */
    int64_t wait_p99_ns;         /**< see wait_p50_ns */
    int64_t wait_max_ns;         /**< longest acquire wait */
    int64_t timeouts;            /**< acquires that timed out */
    int64_t rejected;            /**< acquires refused because max_waiters were waiting */
    int64_t connects;            /**< connections created */
    int64_t connect_errors;      /**< failed connection attempts */
    int64_t closed_idle;         /**< closed: idle longer than conn_max_idle_time */
    int64_t closed_lifetime;     /**< closed: older than conn_max_lifetime */
    int64_t closed_broken;       /**< closed: broken or failed validation */
    int64_t closed_surplus;      /**< closed on release: max_idle reached */
    int64_t closed_shutdown;     /**< closed by alchdb_pool_close() */
    int64_t rollbacks;           /**< releases that rolled a transaction back */
    int64_t validations;         /**< round-trip validations run */
    int64_t leaks;               /**< leak reports logged */
    int64_t cancels;             /**< cancel requests sent for statements left running (release, timeouts, cancel handles) */
    int64_t connect_requeued;    /**< failed connection attempts whose caller went back in line (connections were open) instead of failing */
} alchdb_pool_metrics;

/**
 * Snapshot the pool's metrics.
 * @param pool the pool (also after alchdb_pool_close()).
 * @param m    filled up to @p size bytes; m->size is set to the bytes filled.
 * @param size sizeof(*m) as the caller knows it (at least 8).
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_get_metrics(alchdb_pool *pool, alchdb_pool_metrics *m, size_t size);

/**
 * The metrics, the configuration (conninfo with the password masked) and the
 * current holders (tag and hold time) as a JSON object.
 * @param pool the pool.
 * @param out  receives the owned JSON text; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** free *out with alchdb_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_to_json(alchdb_pool *pool, char **out);

ALCHDB_END_DECLS

#endif /* ALCHDB_POOL_H */
