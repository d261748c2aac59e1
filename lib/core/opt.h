/* The one option engine: every module declares its options in a table of
 * alchdb__optdef and its config object embeds an alchdb__opts; the public
 * alchdb_<module>_config_* functions are thin wrappers (ALCHDB__CONFIG_API).
 *
 * One rule for everything:
 *   - names are lower-case snake_case and matched case-insensitively;
 *   - an unknown key or name is ALCHDB_E_NOTFOUND; a bad value (wrong type,
 *     unparsable text, out of range) is ALCHDB_E_INVALID; both name the option;
 *   - durations are int64 microseconds, written with a unit ("250ms", "5s",
 *     "30m", "1h30m", "100us"; a bare "0" is zero; a bare number is an error);
 *   - sizes are int64 bytes, written as a number with an optional binary
 *     suffix ("65536", "64KiB", "64k", "1MiB", "1G");
 *   - booleans are 0/1, written as 1/0, true/false, on/off, yes/no;
 *   - enums are their choice names (or the choice's integer value);
 *   - environment variables are PREFIX_NAME in upper case (PREFIX_MAX_OPEN_CONNS).
 * Internal; never exported. */
#ifndef ALCHDB_OPT_H
#define ALCHDB_OPT_H

#include <stddef.h>
#include <stdint.h>

#include "alchdb/options.h"
#include "internal.h"

/* Flags of alchdb__optdef. */
enum {
    ALCHDB__OPT_SECRET = 1,  /* a string never shown: get_string gives "***" when set */
    ALCHDB__OPT_CONNINFO = 2 /* a libpq conninfo: shown with every password it holds as "***"
                                (alchdb__redact_conninfo); its bytes wiped when freed */
};

typedef struct alchdb__optdef {
    int key;                      /* the module's public option enum value */
    const char *name;             /* snake_case, unique within the module */
    int type;                     /* ALCHDB_OPT_* of <alchdb/options.h> */
    int64_t min, max, def;        /* integers, durations (us), sizes (bytes), bools, enums */
    const char *def_str;          /* strings: the default (NULL = unset) */
    const char *const *choices;   /* enums: choice names, NULL-terminated; value = index */
    int (*check)(const char *value, char *why, size_t cap); /* strings: extra check or NULL */
    unsigned flags;               /* ALCHDB__OPT_* */
    const char *doc;              /* one line, for --help, the docs and the bindings */
} alchdb__optdef;

typedef struct alchdb__optspec {
    const char *module;           /* "pool", "router", ... */
    const alchdb__optdef *defs;
    size_t n;
} alchdb__optspec;

/* A set of values for one spec, indexed by option key (keys are small
 * non-negative enum values), so a module reads o->v[KEY] / o->s[KEY] directly
 * on its hot paths. */
typedef struct alchdb__opts {
    const alchdb__optspec *spec;
    size_t nslots; /* largest key + 1 */
    int64_t *v;    /* numeric values by key */
    char **s;      /* string values by key (owned; NULL = unset) */
    char **shown;  /* what get_string shows of a conninfo option, by key (owned) */
} alchdb__opts;

/* Defaults; returns 0 or ALCHDB_E_NOMEM (o is then empty and freeable). */
int alchdb__opts_init(alchdb__opts *o, const alchdb__optspec *spec);
void alchdb__opts_free(alchdb__opts *o);
/* dst (uninitialised) becomes a deep copy of src. */
int alchdb__opts_copy(alchdb__opts *dst, const alchdb__opts *src);

/* The engine behind every public setter and getter; func names the public
 * function in messages. */
int alchdb__opts_set_int64(alchdb__opts *o, int key, int64_t value, const char *func);
int alchdb__opts_get_int64(const alchdb__opts *o, int key, int64_t *out, const char *func);
/* value NULL restores the option's default (def_str, which may be NULL). */
int alchdb__opts_set_string(alchdb__opts *o, int key, const char *value, const char *func);
/* *out borrowed until the option changes or the set is freed; NULL if unset.
 * A secret option reads "***", a conninfo option its redacted form: the
 * library reads the values themselves with alchdb__opts_s(). */
int alchdb__opts_get_string(const alchdb__opts *o, int key, const char **out, const char *func);
int alchdb__opts_set_from_string(alchdb__opts *o, const char *name, const char *value,
                                 const char *func);
/* Every option whose PREFIX_NAME variable is set and non-empty; stops at the
 * first bad value (the message names the variable). */
int alchdb__opts_from_env(alchdb__opts *o, const char *prefix, const char *func);

/* Reads by key, bounds-checked (0 / NULL for a key out of range). */
int64_t alchdb__opts_i(const alchdb__opts *o, int key);
const char *alchdb__opts_s(const alchdb__opts *o, int key);
/* A numeric option's value in o, or its default when o is NULL (a module
 * that takes "config or NULL for the defaults" reads through it without
 * building a set); 0 for a key the spec does not have. */
int64_t alchdb__opts_value(const alchdb__opts *o, const alchdb__optspec *spec, int key);

/* The parsers, shared with callers that take one value outside a config. */
int alchdb__parse_duration(const char *text, int64_t *out_us);
int alchdb__parse_size(const char *text, int64_t *out_bytes);
int alchdb__parse_bool(const char *text, int64_t *out);
/* A duration in the same syntax, shortest exact form ("250ms", "1h30m", "0"). */
void alchdb__format_duration(int64_t us, char *buf, size_t cap);
/* A duration option as PostgreSQL's timeout settings take it (SET
 * lock_timeout = N): whole milliseconds, rounded up so that a non-zero value
 * never becomes 0 ("no timeout"). */
long long alchdb__duration_ms_ceil(int64_t us);

/* The registry of every module's spec (lib/options_registry.c). */
extern const alchdb__optspec *const alchdb__option_specs[];
const alchdb__optspec *alchdb__optspec_find(const char *module);

/* The eight public functions of a module's config, all the same shape:
 *   ALCHDB__CONFIG_API(pool, alchdb_pool_config, opts, &POOL_SPEC)
 * for a config struct `struct alchdb_pool_config { alchdb__opts opts; ... }`.
 * A config that carries more than options (the advisor's workload) names a
 * function `void free_extra(T *cfg)` that releases it:
 *   ALCHDB__CONFIG_API_HOOKS(advisor, alchdb_advisor_config, opts, &SPEC, workload_free)
 * (the new config is zeroed, so the extra state starts empty). */
#define ALCHDB__CONFIG_API(m, T, field, specp) ALCHDB__CONFIG_API_HOOKS(m, T, field, specp, (void))

#define ALCHDB__CONFIG_API_HOOKS(m, T, field, specp, free_extra)                                \
    ALCHDB_API int alchdb_##m##_config_new(T **out)                                             \
    {                                                                                          \
        ALCHDB_CHECK_ARG(out, "out", "must not be NULL");                                      \
        *out = NULL;                                                                           \
        T *cfg = alchdb__calloc(1, sizeof *cfg);                                               \
        if (!cfg)                                                                              \
            return alchdb__nomem(#m " config");                                                \
        if (alchdb__opts_init(&cfg->field, (specp)) != 0) {                                    \
            alchdb__free(cfg);                                                                 \
            return ALCHDB_E_NOMEM;                                                             \
        }                                                                                      \
        *out = cfg;                                                                            \
        return 0;                                                                              \
    }                                                                                          \
    ALCHDB_API void alchdb_##m##_config_free(T *cfg)                                            \
    {                                                                                          \
        if (!cfg)                                                                              \
            return;                                                                            \
        free_extra(cfg);                                                                       \
        alchdb__opts_free(&cfg->field);                                                        \
        alchdb__free(cfg);                                                                     \
    }                                                                                          \
    ALCHDB_API int alchdb_##m##_config_set_int64(T *cfg, int opt, int64_t value)                \
    {                                                                                          \
        ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");                                      \
        return alchdb__opts_set_int64(&cfg->field, opt, value, __func__);                      \
    }                                                                                          \
    ALCHDB_API int alchdb_##m##_config_get_int64(const T *cfg, int opt, int64_t *out)           \
    {                                                                                          \
        ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");                                      \
        return alchdb__opts_get_int64(&cfg->field, opt, out, __func__);                        \
    }                                                                                          \
    ALCHDB_API int alchdb_##m##_config_set_string(T *cfg, int opt, const char *value)           \
    {                                                                                          \
        ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");                                      \
        return alchdb__opts_set_string(&cfg->field, opt, value, __func__);                     \
    }                                                                                          \
    ALCHDB_API int alchdb_##m##_config_get_string(const T *cfg, int opt, const char **out)      \
    {                                                                                          \
        ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");                                      \
        return alchdb__opts_get_string(&cfg->field, opt, out, __func__);                       \
    }                                                                                          \
    ALCHDB_API int alchdb_##m##_config_set_from_string(T *cfg, const char *name,                \
                                                       const char *value)                      \
    {                                                                                          \
        ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");                                      \
        return alchdb__opts_set_from_string(&cfg->field, name, value, __func__);               \
    }                                                                                          \
    ALCHDB_API int alchdb_##m##_config_from_env(T *cfg, const char *prefix)                     \
    {                                                                                          \
        ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");                                      \
        return alchdb__opts_from_env(&cfg->field, prefix, __func__);                           \
    }

#endif /* ALCHDB_OPT_H */
