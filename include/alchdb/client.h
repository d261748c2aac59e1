/**
 * @file client.h
 * @brief The one-call facade: execute SQL through a pool with cached prepared
 *        statements, transactions pinned to one connection, and results.
 *
 * @code
 * alchdb_client *db;
 * if (alchdb_client_open("host=127.0.0.1 dbname=app", NULL, &db) != 0)
 *     fprintf(stderr, "%s\n", alchdb_last_error_message());
 * const char *params[] = {"42"};
 * alchdb_result *r = NULL;
 * int rc = alchdb_client_exec(db, "SELECT name FROM users WHERE id = $1", 1, params, &r);
 * if (rc == 0 && alchdb_result_nrows(r) == 1)
 *     printf("%s\n", alchdb_result_value(r, 0, 0));
 * else if (rc == ALCHDB_E_QUERY)
 *     fprintf(stderr, "%s: %s\n", alchdb_result_sqlstate(r), alchdb_result_error_message(r));
 * alchdb_result_free(r);
 * alchdb_client_free(db);
 * @endcode
 *
 * Parameters are always sent separately from the SQL text (never spliced in).
 * By default a statement is prepared once per connection and kept in an LRU
 * cache (size: the pool's statement_cache_size); it is re-prepared
 * transparently after a reconnect, and retried once, outside transactions,
 * only when the server refused the cached statement before running it:
 * SQLSTATE 26000 "prepared statement ... does not exist" or 0A000 "cached
 * plan must not change result type" raised by the server's plan cache (not
 * by a function, which may already have had effects).
 *
 * Per-call options (alchdb_client_exec_opts()): a deadline covering the wait
 * for a connection and the statement (sent to the server as a cancel when it
 * passes), a cancel handle usable from another thread, binary parameters,
 * a read-your-writes token and cache options. Large results can be read row
 * by row (alchdb_client_stream()).
 *
 * **Fork:** a client made before fork() fails in the child with
 * ALCHDB_E_STATE; alchdb_client_free() in the child drops its connections
 * without disturbing the parent's server sessions. Create new objects in the
 * child.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_CLIENT_H
#define ALCHDB_CLIENT_H

#include <alchdb/common.h>
#include <alchdb/pool.h>

ALCHDB_BEGIN_DECLS

/* Declared in <alchdb/router.h> and <alchdb/monitor.h>. */
struct alchdb_router;
struct alchdb_monitor;

/** The client (opaque, thread-safe). @since 0.1.0 */
typedef struct alchdb_client alchdb_client;

/** A query result (opaque, immutable once returned: any thread may read it). @since 0.1.0 */
typedef struct alchdb_result alchdb_result;

/** A transaction pinned to one connection (opaque; one thread at a time). @since 0.1.0 */
typedef struct alchdb_txn alchdb_txn;

/** A result read row by row (opaque; one thread at a time). @since 0.1.0 */
typedef struct alchdb_stream alchdb_stream;

/**
 * A cancel handle (opaque, thread-safe): pass it to calls in
 * ::alchdb_exec_opts and trigger it from any thread to stop them, like a Go
 * context's cancel or psycopg's cancel(). One handle may serve several calls
 * at once; triggering it stops all of them.
 * @since 0.1.0
 */
typedef struct alchdb_cancel alchdb_cancel;

struct alchdb_cache_query; /* <alchdb/cache.h> */

/** Flags of alchdb_client_exec_flags() and alchdb_txn_exec_flags(). @since 0.1.0 */
typedef enum alchdb_exec_flag {
    /** Prepare once per connection and cache (the default). */
    ALCHDB_EXEC_DEFAULT = 0,
    /** Extended protocol without preparing (one-off statements). */
    ALCHDB_EXEC_UNPREPARED = 1,
    /** Simple protocol: allows several statements separated by ';'; nparams must be 0.
     *  Only the last statement's result is returned. */
    ALCHDB_EXEC_SIMPLE = 2,
    /** Ask for results in binary format (read them with alchdb_result_length()). */
    ALCHDB_EXEC_BINARY_RESULT = 4,
    /** Routed clients: the host vouches the statement only reads (a replica may serve it). */
    ALCHDB_EXEC_READ = 8,
    /** Routed clients: run on the primary even if it only reads. */
    ALCHDB_EXEC_PRIMARY = 16
} alchdb_exec_flag;

/**
 * Per-call options of alchdb_client_exec_opts(), alchdb_txn_exec_opts(),
 * alchdb_client_stream(), alchdb_txn_stream(), alchdb_client_begin_opts(),
 * alchdb_txn_commit_opts() and alchdb_txn_rollback_opts(). Zero means
 * "default" for every member, so initialise with
 * `alchdb_exec_opts o = {.size = sizeof o, ...}`. Append-only: new members go
 * at the end; the library reads only the first @c size bytes (a larger size
 * from a newer header is accepted when the members it does not know are zero).
 * @since 0.1.0
 */
typedef struct alchdb_exec_opts {
    uint32_t size;                 /**< sizeof(alchdb_exec_opts) as the caller knows it */
    uint32_t flags;                /**< OR of ::alchdb_exec_flag (statements only) */
    int64_t timeout_us;            /**< 0: no per-call deadline; > 0: the call's deadline,
                                        covering the wait for a connection (never longer than the
                                        pool's acquire_timeout) and every round trip; when it
                                        passes the server gets a cancel request, the connection is
                                        closed and the call returns ALCHDB_E_TIMEOUT */
    alchdb_cancel *cancel;         /**< borrowed for the call, or NULL: when it is triggered the
                                        call returns ALCHDB_E_CANCELED as for a timeout */
    const char *token;             /**< read-your-writes token (routed clients, statements only) or NULL */
    const int32_t *param_formats;  /**< nparams entries, 0 = text, 1 = binary; NULL = all text */
    const int32_t *param_lengths;  /**< nparams byte lengths of the binary parameters (text
                                        ones are NUL-terminated: their entries are ignored);
                                        required when a format is 1 */
    const struct alchdb_cache_query *cache; /**< per-statement cache options (<alchdb/cache.h>) or NULL */
} alchdb_exec_opts;

/** Flags of alchdb_client_begin(). @since 0.1.0 */
typedef enum alchdb_txn_flag {
    ALCHDB_TXN_DEFAULT = 0,         /**< BEGIN (the server's default isolation) */
    ALCHDB_TXN_READ_ONLY = 1,       /**< READ ONLY */
    ALCHDB_TXN_REPEATABLE_READ = 2, /**< ISOLATION LEVEL REPEATABLE READ */
    ALCHDB_TXN_SERIALIZABLE = 4     /**< ISOLATION LEVEL SERIALIZABLE (wins over REPEATABLE_READ) */
} alchdb_txn_flag;

/**
 * Create a client over an existing pool.
 * @param pool the pool (borrowed: it must outlive the client).
 * @param out  receives the client; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: free with alchdb_client_free(); the pool stays the caller's.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_new(alchdb_pool *pool, alchdb_client **out);

/**
 * Create a client with its own pool (freed with the client).
 * @param conninfo libpq conninfo (copied); see alchdb_pool_new().
 * @param cfg      pool options (copied) or NULL for the defaults.
 * @param out      receives the client; set to NULL first.
 * @return 0 or the error of alchdb_pool_new().
 * **Ownership:** *out is owned: free with alchdb_client_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_open(const char *conninfo, const alchdb_pool_config *cfg,
                                  alchdb_client **out);

/**
 * Create a client that routes through a router (<alchdb/router.h>): reads go
 * to healthy replicas, writes and anything unsure to the primary, a read that
 * loses its replica is retried once elsewhere, transactions stay on the
 * connection they began on (READ ONLY ones may run on a replica).
 * @param router the router (borrowed: must outlive the client).
 * @param out    receives the client; set to NULL first.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: alchdb_client_free() (the router is not freed).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_new_routed(struct alchdb_router *router, alchdb_client **out);

/**
 * Like alchdb_client_exec_flags(), with a read-your-writes token from
 * alchdb_client_token(): the statement runs on a replica that has replayed
 * past the token (checked on that replica), else on the primary.
 * @param client  the client.
 * @param sql     the statement (copied).
 * @param nparams number of parameters.
 * @param params  text values or NULL entries (copied).
 * @param flags   an OR of ::alchdb_exec_flag values.
 * @param token   a token (copied); must not be NULL.
 * @param out     receives the result or NULL; set to NULL first.
 * @return as alchdb_client_exec_flags(); ALCHDB_E_INVALID for a malformed token,
 *         ALCHDB_E_STATE when the client has no router.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_exec_token(alchdb_client *client, const char *sql, int nparams,
                                        const char *const *params, uint32_t flags,
                                        const char *token, alchdb_result **out);

/**
 * A read-your-writes token for everything committed so far (one round trip
 * to the primary). Only for routed clients.
 * @param client the client.
 * @param buf    receives the NUL-terminated token.
 * @param cap    the size of @p buf, at least 64.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_STATE (no router), or the router's errors.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_token(alchdb_client *client, char *buf, size_t cap);

/**
 * Report every statement the client runs (duration, rows, SQLSTATE, where it
 * ran) to a query monitor (<alchdb/monitor.h>). Set it before the client is
 * shared between threads.
 * @param client  the client.
 * @param monitor the monitor (borrowed: must outlive the client), or NULL to stop.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** before concurrent use.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_set_monitor(alchdb_client *client, struct alchdb_monitor *monitor);

/**
 * Free a client (and its pool when it owns one). Transactions and results of
 * the client must be freed first.
 * @param client client or NULL.
 * **Thread safety:** once, after all other use.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_client_free(alchdb_client *client);

/**
 * The pool the client executes on.
 * @param client the client.
 * @return borrowed, valid while the client lives; NULL when @p client is NULL.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API alchdb_pool *alchdb_client_pool(alchdb_client *client);

/**
 * Execute one statement on a pooled connection, prepared and cached.
 * @param client  the client.
 * @param sql     the statement (copied); $1..$n placeholders for parameters.
 * @param nparams number of parameters, 0..65535.
 * @param params  nparams text values (copied); a NULL entry is SQL NULL; may
 *                be NULL when nparams is 0.
 * @param out     receives the result, or NULL to discard it; set to NULL first.
 * @return 0 (*out holds the rows); ALCHDB_E_QUERY when the server answered
 *         with an error or the connection broke during the statement — *out
 *         then ALSO holds a result carrying the SQLSTATE and the message (free
 *         it; alchdb_last_error_sqlstate() has it too); ALCHDB_E_INVALID,
 *         ALCHDB_E_TIMEOUT, ALCHDB_E_CONNECT, ALCHDB_E_BUSY, ALCHDB_E_CLOSED,
 *         ALCHDB_E_NOMEM, ALCHDB_E_STATE (transaction control: see
 *         alchdb_client_exec_opts(); a client made before fork()) (no result).
 * **Ownership:** *out is owned: free with alchdb_result_free().
 * **Thread safety:** any thread; concurrent calls use different connections.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_exec(alchdb_client *client, const char *sql, int nparams,
                                  const char *const *params, alchdb_result **out);

/**
 * alchdb_client_exec() with ::alchdb_exec_flag flags.
 * @param client  the client.
 * @param sql     the statement (copied).
 * @param nparams number of parameters (0 with ::ALCHDB_EXEC_SIMPLE).
 * @param params  text values or NULL entries (copied).
 * @param flags   an OR of ::alchdb_exec_flag values.
 * @param out     receives the result or NULL; set to NULL first.
 * @return as alchdb_client_exec(); ALCHDB_E_INVALID for unknown flags.
 * **Ownership:** *out is owned: free with alchdb_result_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_exec_flags(alchdb_client *client, const char *sql, int nparams,
                                        const char *const *params, uint32_t flags,
                                        alchdb_result **out);

/**
 * Execute one statement with per-call options: the one entry point the other
 * exec calls wrap.
 * @param client  the client.
 * @param sql     the statement (copied); $1..$n placeholders.
 * @param nparams number of parameters, 0..65535.
 * @param params  nparams values (copied): NUL-terminated text, or bytes of
 *                opts->param_lengths[i] when opts->param_formats[i] is 1; a
 *                NULL entry is SQL NULL; may be NULL when nparams is 0.
 * @param opts    options (copied), or NULL for the defaults.
 * @param out     receives the result, or NULL to discard it; set to NULL first.
 * @return as alchdb_client_exec(), plus ALCHDB_E_TIMEOUT (the deadline passed:
 *         no result; a statement in flight was canceled on the server and its
 *         connection closed), ALCHDB_E_CANCELED (the cancel handle fired: the
 *         same), ALCHDB_E_STATE (the statement was transaction control: it
 *         opened a transaction, which was rolled back, or COMMIT/ROLLBACK/
 *         SAVEPOINT ran outside one; use alchdb_client_begin()),
 *         ALCHDB_E_UNSUPPORTED (opts->size larger than this library knows,
 *         with unknown members set).
 * **Ownership:** *out is owned: free with alchdb_result_free().
 * **Thread safety:** any thread; concurrent calls use different connections.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_exec_opts(alchdb_client *client, const char *sql, int nparams,
                                       const char *const *params, const alchdb_exec_opts *opts,
                                       alchdb_result **out);

/**
 * Start a statement whose rows are read one at a time with
 * alchdb_stream_next() (libpq's single-row mode): the result is never held
 * whole in memory. Routed and monitored like alchdb_client_exec(); never
 * served from or stored in the cache (a streamed write still invalidates).
 * The stream keeps its connection until it ends or is freed.
 * @param client  the client.
 * @param sql     one statement (copied); ALCHDB_EXEC_SIMPLE is not allowed.
 * @param nparams number of parameters.
 * @param params  values (copied) as in alchdb_client_exec_opts().
 * @param opts    options or NULL; opts->timeout_us covers the whole stream,
 *                from this call to the last row.
 * @param out     receives the stream; set to NULL first.
 * @return 0 (the statement started: the first row, if any, has arrived);
 *         ALCHDB_E_QUERY when the server refused it at once (message and
 *         alchdb_last_error_sqlstate() say why; no stream); the errors of
 *         alchdb_client_exec_opts().
 * **Ownership:** *out is owned: free with alchdb_stream_free().
 * **Thread safety:** any thread; the stream is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_stream(alchdb_client *client, const char *sql, int nparams,
                                    const char *const *params, const alchdb_exec_opts *opts,
                                    alchdb_stream **out);

/**
 * The next row of a stream.
 * @param stream the stream.
 * @param row    receives a one-row result (borrowed: valid until the next
 *               call on the stream; read it with the alchdb_result_* calls, row 0).
 * @return 1 (a row), 0 (the statement finished; *row NULL), or an error: the
 *         statement failed mid-way (ALCHDB_E_QUERY: message and
 *         alchdb_last_error_sqlstate()), ALCHDB_E_TIMEOUT, ALCHDB_E_CANCELED,
 *         ALCHDB_E_INVALID. After the end or an error the connection is back
 *         in the pool and further calls return the same value.
 * **Thread safety:** one thread at a time per stream.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_stream_next(alchdb_stream *stream, const alchdb_result **row);

/**
 * Rows handed out so far.
 * @param stream the stream.
 * @return the count, or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per stream.
 * @since 0.1.0
 */
ALCHDB_API int64_t alchdb_stream_rows(const alchdb_stream *stream);

/**
 * The command tag ("SELECT 200000", "UPDATE 3") once the stream has ended.
 * @param stream the stream.
 * @return borrowed until alchdb_stream_free(); "" before the end, after an
 *         error or for NULL.
 * **Thread safety:** one thread at a time per stream.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_stream_command_tag(const alchdb_stream *stream);

/**
 * Free a stream. Before its end the statement is canceled on the server and
 * the connection closed (in a transaction this ends the transaction: it is
 * rolled back).
 * @param stream stream or NULL.
 * **Thread safety:** one thread at a time per stream.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_stream_free(alchdb_stream *stream);

/**
 * Create a cancel handle.
 * @param out receives the handle; set to NULL first.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM, ALCHDB_E_IO (no eventfd).
 * **Ownership:** *out is owned: free with alchdb_cancel_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cancel_new(alchdb_cancel **out);

/**
 * Trigger a cancel handle: every call using it returns ALCHDB_E_CANCELED as
 * soon as it notices (at once while it waits for a connection or the server),
 * and calls started with it later fail at once, until alchdb_cancel_reset().
 * A statement in flight gets a cancel request on the server and its
 * connection is closed. Triggering twice is harmless.
 * @param cancel the handle.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread, also while calls use the handle (that is its purpose).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cancel_trigger(alchdb_cancel *cancel);

/**
 * Whether the handle was triggered.
 * @param cancel the handle.
 * @return 1, 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cancel_is_triggered(const alchdb_cancel *cancel);

/**
 * Re-arm a triggered handle for new calls.
 * @param cancel the handle.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_STATE (a call is still waiting on it).
 * **Thread safety:** when no call uses the handle.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cancel_reset(alchdb_cancel *cancel);

/**
 * Free a cancel handle.
 * @param cancel handle or NULL.
 * **Thread safety:** once, when no call uses it.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_cancel_free(alchdb_cancel *cancel);

/**
 * Begin a transaction: acquires one connection and keeps it until commit,
 * rollback or alchdb_txn_free().
 * @param client the client.
 * @param flags  an OR of ::alchdb_txn_flag values.
 * @param out    receives the transaction; set to NULL first.
 * @return 0, ALCHDB_E_INVALID, the acquire errors, or ALCHDB_E_QUERY (BEGIN failed).
 * **Ownership:** *out is owned: free with alchdb_txn_free() (which rolls back
 * a transaction still open).
 * **Thread safety:** any thread; the transaction is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_begin(alchdb_client *client, uint32_t flags, alchdb_txn **out);

/**
 * alchdb_client_begin() with per-call options: opts->timeout_us bounds the
 * wait for a connection and the BEGIN, opts->cancel stops them; the other
 * members must be zero.
 * @param client the client.
 * @param flags  an OR of ::alchdb_txn_flag values.
 * @param opts   options or NULL.
 * @param out    receives the transaction; set to NULL first.
 * @return as alchdb_client_begin(), plus ALCHDB_E_TIMEOUT and ALCHDB_E_CANCELED.
 * **Ownership:** *out is owned: free with alchdb_txn_free().
 * **Thread safety:** any thread; the transaction is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_begin_opts(alchdb_client *client, uint32_t flags,
                                        const alchdb_exec_opts *opts, alchdb_txn **out);

/**
 * Execute a statement inside the transaction (same rules as alchdb_client_exec()).
 * An error aborts the transaction on the server: later statements fail with
 * SQLSTATE 25P02 until rollback. Not retried. A statement that ends the
 * transaction itself (COMMIT, ROLLBACK, PREPARE TRANSACTION, seen in the
 * server's transaction status) ends the handle too: later calls return
 * ALCHDB_E_STATE. So does a lost connection (the server rolls back).
 * @param txn     an open transaction.
 * @param sql     the statement (copied).
 * @param nparams number of parameters.
 * @param params  text values or NULL entries (copied).
 * @param out     receives the result or NULL; set to NULL first.
 * @return as alchdb_client_exec(); ALCHDB_E_STATE when the transaction has ended.
 * **Ownership:** *out is owned: free with alchdb_result_free().
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_exec(alchdb_txn *txn, const char *sql, int nparams,
                               const char *const *params, alchdb_result **out);

/**
 * alchdb_txn_exec() with ::alchdb_exec_flag flags.
 * @param txn     an open transaction.
 * @param sql     the statement (copied).
 * @param nparams number of parameters.
 * @param params  text values or NULL entries (copied).
 * @param flags   an OR of ::alchdb_exec_flag values.
 * @param out     receives the result or NULL; set to NULL first.
 * @return as alchdb_txn_exec().
 * **Ownership:** *out is owned: free with alchdb_result_free().
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_exec_flags(alchdb_txn *txn, const char *sql, int nparams,
                                     const char *const *params, uint32_t flags,
                                     alchdb_result **out);

/**
 * alchdb_txn_exec() with per-call options (see alchdb_client_exec_opts(); the
 * token is not allowed). A timeout or cancel ends the transaction: the
 * connection is closed and the server rolls back.
 * @param txn     an open transaction.
 * @param sql     the statement (copied).
 * @param nparams number of parameters.
 * @param params  values (copied).
 * @param opts    options or NULL.
 * @param out     receives the result or NULL; set to NULL first.
 * @return as alchdb_txn_exec(), plus ALCHDB_E_TIMEOUT and ALCHDB_E_CANCELED.
 * **Ownership:** *out is owned: free with alchdb_result_free().
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_exec_opts(alchdb_txn *txn, const char *sql, int nparams,
                                    const char *const *params, const alchdb_exec_opts *opts,
                                    alchdb_result **out);

/**
 * alchdb_client_stream() inside a transaction. The transaction runs nothing
 * else until the stream has ended or is freed (ALCHDB_E_STATE).
 * @param txn     an open transaction.
 * @param sql     one statement (copied).
 * @param nparams number of parameters.
 * @param params  values (copied).
 * @param opts    options or NULL (the token is not allowed).
 * @param out     receives the stream; set to NULL first.
 * @return as alchdb_client_stream(); ALCHDB_E_STATE when the transaction has ended.
 * **Ownership:** *out is owned: free with alchdb_stream_free() before the transaction.
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_stream(alchdb_txn *txn, const char *sql, int nparams,
                                 const char *const *params, const alchdb_exec_opts *opts,
                                 alchdb_stream **out);

/**
 * Commit and give the connection back. The handle stays valid (ended) until
 * alchdb_txn_free().
 * @param txn an open transaction.
 * @return 0; ALCHDB_E_QUERY when the commit failed (e.g. a deferred unique
 *         violation 23505 or a serialization failure 40001:
 *         alchdb_last_error_sqlstate()) or the transaction had already failed
 *         (it was rolled back; the SQLSTATE is that of the first error);
 *         ALCHDB_E_STATE when already ended; ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_commit(alchdb_txn *txn);

/**
 * alchdb_txn_commit() with a deadline and a cancel handle (opts->timeout_us,
 * opts->cancel; other members zero). A COMMIT cut short has an unknown
 * outcome: ALCHDB_E_TIMEOUT / ALCHDB_E_CANCELED, the connection is closed.
 * @param txn  an open transaction.
 * @param opts options or NULL.
 * @return as alchdb_txn_commit(), plus ALCHDB_E_TIMEOUT and ALCHDB_E_CANCELED.
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_commit_opts(alchdb_txn *txn, const alchdb_exec_opts *opts);

/**
 * Roll back and give the connection back.
 * @param txn an open transaction.
 * @return 0, ALCHDB_E_STATE (already ended), ALCHDB_E_INVALID, ALCHDB_E_QUERY
 *         (the connection broke; it is discarded and the server rolls back).
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_rollback(alchdb_txn *txn);

/**
 * alchdb_txn_rollback() with a deadline and a cancel handle (opts->timeout_us,
 * opts->cancel; other members zero). When it is cut short the connection is
 * closed, which rolls back on the server too.
 * @param txn  an open transaction.
 * @param opts options or NULL.
 * @return as alchdb_txn_rollback(), plus ALCHDB_E_TIMEOUT and ALCHDB_E_CANCELED.
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_txn_rollback_opts(alchdb_txn *txn, const alchdb_exec_opts *opts);

/**
 * Free a transaction handle, rolling back first when still open.
 * @param txn transaction or NULL.
 * **Thread safety:** one thread at a time per transaction.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_txn_free(alchdb_txn *txn);

/**
 * Number of rows.
 * @param result a result.
 * @return rows (0 for commands and errors) or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int64_t alchdb_result_nrows(const alchdb_result *result);

/**
 * Number of columns.
 * @param result a result.
 * @return columns or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_result_ncols(const alchdb_result *result);

/**
 * Column name.
 * @param result a result.
 * @param col    0..ncols-1.
 * @return borrowed until alchdb_result_free(); NULL when out of range (error set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_result_column_name(const alchdb_result *result, int col);

/**
 * Column type OID (23 = int4, 25 = text, ... see pg_type).
 * @param result a result.
 * @param col    0..ncols-1.
 * @return the OID, or 0 when out of range (error set).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API uint32_t alchdb_result_column_type(const alchdb_result *result, int col);

/**
 * The format of a column's values: 0 text, 1 binary (with
 * ::ALCHDB_EXEC_BINARY_RESULT every column is binary: libpq asks for one
 * format for all columns).
 * @param result a result.
 * @param col    0..ncols-1.
 * @return 0, 1, ALCHDB_E_INVALID or ALCHDB_E_RANGE.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_result_column_format(const alchdb_result *result, int col);

/**
 * A value: text (NUL-terminated) or, with ::ALCHDB_EXEC_BINARY_RESULT, binary
 * bytes (also followed by a NUL; use alchdb_result_length()).
 * @param result a result.
 * @param row    0..nrows-1.
 * @param col    0..ncols-1.
 * @return borrowed until alchdb_result_free(); NULL for SQL NULL or out of
 *         range (then the error is set: tell them apart with alchdb_result_is_null()).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_result_value(const alchdb_result *result, int64_t row, int col);

/**
 * Length in bytes of a value (0 for SQL NULL).
 * @param result a result.
 * @param row    0..nrows-1.
 * @param col    0..ncols-1.
 * @return the length or ALCHDB_E_INVALID / ALCHDB_E_RANGE.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int64_t alchdb_result_length(const alchdb_result *result, int64_t row, int col);

/**
 * Whether a value is SQL NULL.
 * @param result a result.
 * @param row    0..nrows-1.
 * @param col    0..ncols-1.
 * @return 1, 0, or ALCHDB_E_INVALID / ALCHDB_E_RANGE.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_result_is_null(const alchdb_result *result, int64_t row, int col);

/**
 * Rows affected (INSERT/UPDATE/DELETE/MERGE/COPY) or returned (SELECT), from
 * the command tag.
 * @param result a result.
 * @return the count, 0 when the command reports none, or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int64_t alchdb_result_affected_rows(const alchdb_result *result);

/**
 * The command tag ("SELECT 3", "UPDATE 1", ...).
 * @param result a result.
 * @return borrowed until alchdb_result_free(); "" for errors or NULL @p result.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_result_command_tag(const alchdb_result *result);

/**
 * 0 for a successful statement, ALCHDB_E_QUERY for an error result.
 * @param result a result.
 * @return 0, ALCHDB_E_QUERY or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_result_status(const alchdb_result *result);

/**
 * The SQLSTATE: "00000" on success; the server's code on error; "08006" when
 * the connection was lost without a server error.
 * @param result a result.
 * @return borrowed until alchdb_result_free(); "" for a NULL @p result.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_result_sqlstate(const alchdb_result *result);

/**
 * The error message (primary text, no trailing newline); "" on success.
 * @param result a result.
 * @return borrowed until alchdb_result_free(); "" for a NULL @p result.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_result_error_message(const alchdb_result *result);

/**
 * Free a result.
 * @param result result or NULL.
 * **Thread safety:** once per result.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_result_free(alchdb_result *result);

ALCHDB_END_DECLS

#endif /* ALCHDB_CLIENT_H */
