/**
 * @file options.h
 * @brief What every module's options are: names, types, units, bounds,
 *        defaults and one-line docs, from the tables the library itself uses;
 *        and the one duration syntax.
 *
 * Every module's configuration has the same shape:
 * `alchdb_<module>_config_{new,free,set_int64,get_int64,set_string,get_string,
 * set_from_string,from_env}`, with one set of rules:
 * - option names are snake_case, matched case-insensitively; an unknown key or
 *   name is ::ALCHDB_E_NOTFOUND, a bad value ::ALCHDB_E_INVALID;
 * - durations are int64 microseconds and are written with a unit: `250ms`,
 *   `5s`, `30m`, `1h30m`, `100us` (a bare `0` is zero);
 * - sizes are int64 bytes: `65536`, `64KiB`, `64k`, `1MiB`, `1G` (binary);
 * - booleans: `1`/`0`, `true`/`false`, `on`/`off`, `yes`/`no`;
 * - enums: the choice's name;
 * - the environment variable of option `name` under prefix `P` is `P_NAME`.
 *
 * The CLI's `--help`, the tables in docs/ and the language bindings are
 * generated from this listing.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_OPTIONS_H
#define ALCHDB_OPTIONS_H

#include <alchdb/common.h>

ALCHDB_BEGIN_DECLS

/** Option value types. @since 0.1.0 */
typedef enum alchdb_opt_type {
    ALCHDB_OPT_INT = 1,      /**< an integer (a count, a percentage, a port, ...) */
    ALCHDB_OPT_DURATION = 2, /**< int64 microseconds; text with a unit */
    ALCHDB_OPT_SIZE = 3,     /**< int64 bytes; text with an optional binary suffix */
    ALCHDB_OPT_BOOL = 4,     /**< 0 or 1 */
    ALCHDB_OPT_ENUM = 5,     /**< the index of a choice; text is the choice's name */
    ALCHDB_OPT_STRING = 6    /**< text */
} alchdb_opt_type;

/** Flags of alchdb_option_info::flags. @since 0.1.0 */
#define ALCHDB_OPTION_SECRET 1u /**< never shown: get_string answers "***" when set */
/** A libpq conninfo: get_string answers it with every password it holds
 *  replaced by "***"; the library connects with the value as set. @since 0.1.0 */
#define ALCHDB_OPTION_CONNINFO 2u

/**
 * One option as the library declares it. All pointers are borrowed and valid
 * for the life of the process. Filled by alchdb_options_info(); members are
 * only ever appended.
 * @since 0.1.0
 */
typedef struct alchdb_option_info {
    const char *module;           /**< "pool", "router", "cache", ... */
    const char *name;             /**< the by-name key (snake_case) */
    int32_t key;                  /**< the module's option enum value */
    int32_t type;                 /**< an ::alchdb_opt_type */
    int64_t min;                  /**< lower bound (numeric types) */
    int64_t max;                  /**< upper bound (numeric types) */
    int64_t def;                  /**< the default (numeric types) */
    const char *def_string;       /**< strings: the default, or NULL when unset */
    const char *const *choices;   /**< enums: the choice names, NULL-terminated; else NULL */
    const char *unit;             /**< "us", "bytes" or "" */
    const char *doc;              /**< one line */
    uint32_t flags;               /**< ALCHDB_OPTION_* */
} alchdb_option_info;

/**
 * The modules that have options, in registration order.
 * @param index 0, 1, ...
 * @return the module's name (static), or NULL past the last one.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_options_module(size_t index);

/**
 * Number of options of a module.
 * @param module a module name ("pool", "router", "monitor", "cache",
 *               "advisor", "migration", ...).
 * @param n      receives the count.
 * @return 0, ALCHDB_E_INVALID (NULL argument) or ALCHDB_E_NOTFOUND (no such module).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_options_count(const char *module, size_t *n);

/**
 * Describe one option of a module.
 * @param module a module name.
 * @param index  0 .. count-1, in declaration order.
 * @param info   receives the description.
 * @param size   sizeof(alchdb_option_info) as the caller knows it.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOTFOUND (no such module or index).
 * **Ownership:** the strings are borrowed (static).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_options_info(const char *module, size_t index, alchdb_option_info *info,
                                   size_t size);

/**
 * Every option of one module, or of every module, as JSON:
 * `{"modules":[{"module":"pool","options":[{"name":..,"key":..,"type":"duration",
 * "unit":"us","min":..,"max":..,"default":..,"default_text":"5s","choices":[..],
 * "env":"NAME","doc":".."}]}]}`.
 * @param module a module name, or NULL for all.
 * @param out    receives the document.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOTFOUND, ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned: alchdb_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_options_to_json(const char *module, char **out);

/**
 * Parse a duration: a sequence of number+unit pairs (`ns`, `us`, `ms`, `s`,
 * `m`, `h`; decimals allowed: `1.5s`), e.g. `250ms`, `1h30m`; a bare `0`.
 * @param text   the text.
 * @param out_us receives microseconds.
 * @return 0, ALCHDB_E_INVALID (syntax, negative, missing unit), ALCHDB_E_RANGE (too large).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_parse_duration(const char *text, int64_t *out_us);

ALCHDB_END_DECLS

#endif /* ALCHDB_OPTIONS_H */
