/**
 * @file error.h
 * @brief Error codes and the thread-local last-error detail.
 *
 * Every fallible function returns 0 on success or a negative ALCHDB_E_* code.
 * The detail of the most recent failure in the calling thread is kept in
 * thread-local storage and read with alchdb_last_error_code() and
 * alchdb_last_error_message(). A successful call does not clear it.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_ERROR_H
#define ALCHDB_ERROR_H

#include <alchdb/common.h>

ALCHDB_BEGIN_DECLS

/**
 * Error codes. Values are part of the ABI: never renumbered, never reused.
 * @since 0.1.0
 */
typedef enum alchdb_error {
    ALCHDB_OK = 0,                /**< success */
    ALCHDB_E_INVALID = -1,        /**< an argument is invalid (the message names it) */
    ALCHDB_E_NOMEM = -2,          /**< an allocation failed */
    ALCHDB_E_PARSE = -3,          /**< SQL or input text could not be parsed */
    ALCHDB_E_IO = -4,             /**< a file or socket operation failed */
    ALCHDB_E_TIMEOUT = -5,        /**< a deadline passed */
    ALCHDB_E_CONNECT = -6,        /**< a server connection could not be made */
    ALCHDB_E_QUERY = -7,          /**< the server answered a query with an error */
    ALCHDB_E_STATE = -8,          /**< the call is not allowed in the object's current state */
    ALCHDB_E_NOTFOUND = -9,       /**< the named thing does not exist */
    ALCHDB_E_UNSUPPORTED = -10,   /**< not supported by this build or server */
    ALCHDB_E_CLOSED = -11,        /**< the object was closed */
    ALCHDB_E_BUSY = -12,          /**< a limit was reached (e.g. too many waiters) */
    ALCHDB_E_BACKEND = -13,       /**< a backend (e.g. Redis) failed */
    ALCHDB_E_RANGE = -14,         /**< a value is out of range or too large */
    ALCHDB_E_INTERNAL = -15,      /**< an internal invariant failed (a bug: please report) */
    ALCHDB_E_CANCELED = -16       /**< the call was canceled through its cancel handle */
} alchdb_error;

/**
 * Static, human-readable text for an error code.
 * @param code an ALCHDB_E_* value (or 0).
 * @return a static string (never NULL); "unknown error" for unknown codes.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_strerror(int code);

/**
 * Code of the most recent failure in the calling thread.
 * @return an ALCHDB_E_* value, or 0 when nothing has failed in this thread.
 * **Thread safety:** thread-local.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_last_error_code(void);

/**
 * Message of the most recent failure in the calling thread.
 * @return a borrowed string, valid until the next library call in this
 *         thread; never NULL ("" when nothing has failed).
 * **Thread safety:** thread-local.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_last_error_message(void);

/**
 * SQLSTATE of the most recent failure in the calling thread, when that failure
 * came from a PostgreSQL server (a statement, a COMMIT, a BEGIN ...), e.g.
 * "23505" or "40001"; "" when it did not (bad argument, timeout, connect
 * error) or when nothing has failed. Set and cleared together with
 * alchdb_last_error_code().
 * @return a borrowed string of 5 characters or "", valid until the next
 *         library call in this thread; never NULL.
 * **Thread safety:** thread-local.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_last_error_sqlstate(void);

/**
 * Forget the calling thread's last error.
 * **Thread safety:** thread-local.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_clear_error(void);

/**
 * Redact passwords from a text, as the library does for everything it echoes
 * (error details, log lines, JSON): every value of a `password` keyword (any
 * case, spaces around '=', quoted or bare, percent-encoded in a URI query,
 * inside `options='-c password=...'`) and every URI userinfo password (also
 * in a malformed URI) becomes "***". When @p conninfo is given, every
 * password it holds is also replaced wherever it occurs verbatim (as libpq
 * parses it, and every span the rules above find in it, as written and
 * percent-decoded) — pass the conninfo a message is about, or the text itself
 * to redact a conninfo that may not parse.
 * Example: `alchdb_redact("postgresql://app:s3cret@db/app", NULL, &out)` gives
 * `postgresql://app:***@db/app`. When not every password of @p conninfo can be
 * collected (more than 24 spans), the whole text is replaced by
 * "(text withheld: ...)" rather than shown half redacted.
 * @param text     the text (copied), not NULL.
 * @param conninfo NULL, or a libpq conninfo whose passwords to replace too.
 * @param out      receives the owned result; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (NULL text or out), ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: free with alchdb_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_redact(const char *text, const char *conninfo, char **out);

ALCHDB_END_DECLS

#endif /* ALCHDB_ERROR_H */
