/**
 * @file log.h
 * @brief The library's single log sink. Silent by default.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_LOG_H
#define ALCHDB_LOG_H

#include <alchdb/common.h>

ALCHDB_BEGIN_DECLS

/** Log levels; a handler receives messages at or below its level. @since 0.1.0 */
typedef enum alchdb_log_level {
    ALCHDB_LOG_NONE = 0,
    ALCHDB_LOG_ERROR = 1,
    ALCHDB_LOG_WARN = 2,
    ALCHDB_LOG_INFO = 3,
    ALCHDB_LOG_DEBUG = 4
} alchdb_log_level;

/**
 * Log callback.
 * @param user_data as given to alchdb_set_log_handler().
 * @param level     an alchdb_log_level value.
 * @param module    borrowed: the module tag ("core", "sql", "pool", ...).
 * @param message   borrowed: the preformatted message (no trailing newline).
 * Called on the thread that logs (any library thread, including background
 * threads); must not call back into the library.
 * @since 0.1.0
 */
typedef void (*alchdb_log_fn)(void *user_data, int level, const char *module,
                              const char *message);

/**
 * Install (or remove, with fn NULL) the log sink. Messages above @p level are
 * discarded before they are formatted.
 * @param fn        callback or NULL (silence).
 * @param user_data passed back to @p fn.
 * @param level     ALCHDB_LOG_NONE .. ALCHDB_LOG_DEBUG.
 * @return 0 or ALCHDB_E_INVALID (level out of range).
 * **Thread safety:** any thread; a message being delivered concurrently may
 * still reach the previous handler.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_set_log_handler(alchdb_log_fn fn, void *user_data, int level);

/**
 * Name of a log level ("error", "warn", "info", "debug", "none").
 * @param level an ::alchdb_log_level value.
 * @return a static string; "unknown" when out of range.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_log_level_name(int level);

ALCHDB_END_DECLS

#endif /* ALCHDB_LOG_H */
