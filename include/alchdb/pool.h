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
 * Pool options. Values are part of the ABI. Durations are int64 microseconds
 * (0 disables the feature where noted); the by-name names are given in
 * brackets and also form the environment variable names of
 * alchdb_pool_config_from_env().
 * @since 0.1.0
 */
typedef enum alchdb_pool_opt {
    /** [max_open_conns] connections open at most (in use + idle), 1..10000; default 100. */
    ALCHDB_POOL_OPT_MAX_OPEN = 1,
    /** [max_idle_conns] idle connections kept at most, 0..max_open; default 25. */
    ALCHDB_POOL_OPT_MAX_IDLE = 2,
    /** [min_idle_conns] idle connections the housekeeper keeps ready, 0..max_idle; default 0. */
    ALCHDB_POOL_OPT_MIN_IDLE = 3,
    /** [conn_max_lifetime] a connection is closed this long after it was made (jittered +/-10 %); 0 = forever; default 30 min. */
    ALCHDB_POOL_OPT_CONN_MAX_LIFETIME = 4,
    /** [conn_max_idle_time] an idle connection is closed after this long unused; 0 = never; default 5 min. */
    ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME = 5,
    /** [acquire_timeout] default wait of alchdb_pool_acquire() with timeout -1; default 10 s. */
    ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT = 6,
    /** [connect_timeout] limit of one connection attempt, >= 1 ms; default 5 s. */
    ALCHDB_POOL_OPT_CONNECT_TIMEOUT = 7,
    /** [validation_interval] a connection idle longer than this is checked with a round trip before it is handed out; 0 = always; default 5 s. */
    ALCHDB_POOL_OPT_VALIDATION_INTERVAL = 8,
    /** [leak_threshold] a connection held longer than this is logged (warn, module "pool") with its acquire tag; 0 = off; default 60 s. */
    ALCHDB_POOL_OPT_LEAK_THRESHOLD = 9,
    /** [reset_policy] what release does to a clean connection: an ::alchdb_pool_reset value ("rollback" or "discard_all"); default rollback. */
    ALCHDB_POOL_OPT_RESET_POLICY = 10,
    /** [max_waiters] callers allowed to wait at once (more fail with ALCHDB_E_BUSY), 0..1000000; 0 = never wait; default 10000. */
    ALCHDB_POOL_OPT_MAX_WAITERS = 11,
    /** [slow_query_threshold] kept for the client and the monitor; default 50 ms. */
    ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD = 12,
    /** [housekeeping_interval] period of the housekeeping thread, 1 ms..1 h; default 1 s. */
    ALCHDB_POOL_OPT_HOUSEKEEPING_INTERVAL = 13,
    /** [statement_cache_size] prepared statements kept per connection by the client (LRU), 0..100000; 0 = no preparing; default 256. */
    ALCHDB_POOL_OPT_STMT_CACHE_SIZE = 14,
    /** [max_connecting] connection attempts in flight at once, 1..1000; default 4. */
    ALCHDB_POOL_OPT_MAX_CONNECTING = 15,
    /** [name] (string) the pool's name in errors, logs and JSON; default host:port/dbname. */
    ALCHDB_POOL_OPT_NAME = 100
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
 * Set an integer or duration option (durations in microseconds).
 * @param cfg   the config.
 * @param opt   an ::alchdb_pool_opt value other than ::ALCHDB_POOL_OPT_NAME.
 * @param value the value; ranges are listed with each option.
 * @return 0, ALCHDB_E_INVALID (NULL cfg, unknown or string option, value out of range).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_set_int64(alchdb_pool_config *cfg, int opt, int64_t value);

/**
 * Read an integer or duration option.
 * @param cfg the config.
 * @param opt an ::alchdb_pool_opt value other than ::ALCHDB_POOL_OPT_NAME.
 * @param out receives the value.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_get_int64(const alchdb_pool_config *cfg, int opt, int64_t *out);

/**
 * Set a string option (::ALCHDB_POOL_OPT_NAME).
 * @param cfg   the config.
 * @param opt   ::ALCHDB_POOL_OPT_NAME.
 * @param value copied; 1..63 printable characters, or NULL to restore the default.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_set_string(alchdb_pool_config *cfg, int opt, const char *value);

/**
 * Set an option by name from text, for configuration files and the
 * environment. Names are the bracketed names of ::alchdb_pool_opt
 * (case-insensitive). Counts are decimal integers. Durations are Go-style
 * sequences of a decimal number and a unit: "30m", "1h30m", "50ms", "2s",
 * "1.5s", "250us", "0"; units ns, us (or the UTF-8 micro sign + s), ms, s, m, h. A bare integer
 * means milliseconds. The reset policy is "rollback" or "discard_all".
 * @param cfg   the config.
 * @param name  option name (copied).
 * @param value option text (copied).
 * @return 0, ALCHDB_E_NOTFOUND (unknown name), ALCHDB_E_INVALID (unparseable
 *         or out of range; the message names the option and the text).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_set_from_string(alchdb_pool_config *cfg, const char *name,
                                                  const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME, NAME being the
 * upper-cased by-name option name: with prefix "ALCHEMORSEL_DATABASE" that is
 * ALCHEMORSEL_DATABASE_MAX_OPEN_CONNS, _MAX_IDLE_CONNS, _CONN_MAX_LIFETIME,
 * _CONN_MAX_IDLE_TIME, _SLOW_QUERY_THRESHOLD, _ACQUIRE_TIMEOUT, ... Variables
 * that are absent or empty leave the option unchanged.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore, 1..100 characters.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** reads the environment with getenv(): do not call while
 * another thread changes the environment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_config_from_env(alchdb_pool_config *cfg, const char *prefix);

/**
 * Parse a Go-style duration (see alchdb_pool_config_set_from_string()).
 * @param text   the text.
 * @param out_us receives microseconds (fractions below 1 microsecond are truncated).
 * @return 0, ALCHDB_E_INVALID (NULL, empty, negative, unknown unit, garbage) or
 *         ALCHDB_E_RANGE (more than about 292,000 years).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_pool_parse_duration(const char *text, int64_t *out_us);

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
ALCHDB_API int alchdb_pool_metrics_json(alchdb_pool *pool, char **out);

ALCHDB_END_DECLS

#endif /* ALCHDB_POOL_H */
