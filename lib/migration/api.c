/* Public entry points of the migration assessor: options, files, accessors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static const alchdb_migration_options defaults = {
    150000, NULL, 100LL * 1000 * 1000, 2000, 0, 3,
};

ALCHDB_API int alchdb_migration_options_new(alchdb_migration_options **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_migration_options *o = alchdb__malloc(sizeof *o);
    if (!o)
        return alchdb__nomem("migration options");
    *o = defaults;
    *out = o;
    return 0;
}

ALCHDB_API void alchdb_migration_options_free(alchdb_migration_options *opts)
{
    if (!opts)
        return;
    alchdb__free(opts->conninfo);
    alchdb__free(opts);
}

ALCHDB_API int alchdb_migration_options_set_int64(alchdb_migration_options *o, int key, int64_t v)
{
    ALCHDB_CHECK_ARG(o, "opts", "must not be NULL");
    switch (key) {
    case ALCHDB_MIGRATION_OPT_PG_VERSION:
        ALCHDB_CHECK_ARG(v >= 150000 && v < 160000, "value",
                         "only PostgreSQL 15 (150000..159999) is modelled");
        o->pg_version = v;
        return 0;
    case ALCHDB_MIGRATION_OPT_REWRITE_BYTES_PER_SEC:
        ALCHDB_CHECK_ARG(v >= 1000 && v <= INT64_C(1000000000000), "value", "must be 1e3..1e12 bytes/s");
        o->rewrite_bytes_per_sec = v;
        return 0;
    case ALCHDB_MIGRATION_OPT_LOCK_TIMEOUT_MS:
        ALCHDB_CHECK_ARG(v >= 1 && v <= 3600000, "value", "must be 1..3600000 ms");
        o->lock_timeout_ms = v;
        return 0;
    case ALCHDB_MIGRATION_OPT_STATEMENT_TIMEOUT_MS:
        ALCHDB_CHECK_ARG(v >= 0 && v <= INT64_C(86400000), "value", "must be 0..86400000 ms");
        o->statement_timeout_ms = v;
        return 0;
    case ALCHDB_MIGRATION_OPT_MAX_RETRIES:
        ALCHDB_CHECK_ARG(v >= 1 && v <= 100, "value", "must be 1..100");
        o->max_retries = v;
        return 0;
    default:
        return alchdb__invalid_arg(__func__, "key", "not an integer option of alchdb_migration_opt");
    }
}

ALCHDB_API int alchdb_migration_options_set_string(alchdb_migration_options *o, int key, const char *value)
{
    ALCHDB_CHECK_ARG(o, "opts", "must not be NULL");
    ALCHDB_CHECK_ARG(key == ALCHDB_MIGRATION_OPT_CONNINFO, "key", "not a string option of alchdb_migration_opt");
    char *d = NULL;
    if (value && !(d = alchdb__strdup(value)))
        return alchdb__nomem("conninfo");
    alchdb__free(o->conninfo);
    o->conninfo = d;
    return 0;
}

/* "2s", "500ms", "1m", or plain milliseconds. */
static int parse_ms(const char *s, int64_t *out)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || errno || !(v >= 0)) /* also NaN */
        return -1;
    double mult = 1;
    if (!*end || !strcmp(end, "ms"))
        mult = 1;
    else if (!strcmp(end, "s"))
        mult = 1000;
    else if (!strcmp(end, "m") || !strcmp(end, "min"))
        mult = 60000;
    else if (!strcmp(end, "h"))
        mult = 3600000;
    else
        return -1;
    /* converting a double beyond int64_t (1e40s, inf) is undefined */
    double ms = v * mult;
    if (!(ms < 9.2e18))
        return -1;
    *out = (int64_t)ms;
    return 0;
}

ALCHDB_API int alchdb_migration_options_set_from_string(alchdb_migration_options *o, const char *name,
                                                        const char *value)
{
    ALCHDB_CHECK_ARG(o, "opts", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    if (!strcmp(name, "conninfo"))
        return alchdb_migration_options_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, value);
    int key;
    bool duration = false;
    if (!strcmp(name, "pg_version"))
        key = ALCHDB_MIGRATION_OPT_PG_VERSION;
    else if (!strcmp(name, "rewrite_bytes_per_sec"))
        key = ALCHDB_MIGRATION_OPT_REWRITE_BYTES_PER_SEC;
    else if (!strcmp(name, "lock_timeout"))
        key = ALCHDB_MIGRATION_OPT_LOCK_TIMEOUT_MS, duration = true;
    else if (!strcmp(name, "statement_timeout"))
        key = ALCHDB_MIGRATION_OPT_STATEMENT_TIMEOUT_MS, duration = true;
    else if (!strcmp(name, "max_retries"))
        key = ALCHDB_MIGRATION_OPT_MAX_RETRIES;
    else
        return alchdb__error(ALCHDB_E_INVALID, "%s: unknown migration option '%s'", __func__, name);
    int64_t v;
    if (duration) {
        if (parse_ms(value, &v) < 0)
            return alchdb__error(ALCHDB_E_INVALID, "%s: '%s' is not a duration for %s (e.g. 2s, 500ms)",
                                 __func__, value, name);
    } else {
        errno = 0;
        char *end;
        long long ll = strtoll(value, &end, 10);
        if (end == value || *end || errno)
            return alchdb__error(ALCHDB_E_INVALID, "%s: '%s' is not an integer for %s", __func__, value, name);
        v = ll;
        if (key == ALCHDB_MIGRATION_OPT_PG_VERSION && v < 100)
            v *= 10000; /* "15" → 150000 */
    }
    return alchdb_migration_options_set_int64(o, key, v);
}

ALCHDB_API int alchdb_migration_new(const alchdb_migration_options *opts, alchdb_migration **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_migration *m = alchdb__calloc(1, sizeof *m);
    if (!m)
        return alchdb__nomem("migration");
    m->opts = opts ? *opts : defaults;
    m->opts.conninfo = NULL;
    if (opts && opts->conninfo) {
        m->opts.conninfo = alchdb__strdup(opts->conninfo);
        if (!m->opts.conninfo) {
            alchdb__free(m);
            return alchdb__nomem("migration conninfo");
        }
        int rc = alchdb__mig_live_open(m);
        if (rc < 0) {
            alchdb_migration_free(m);
            return rc;
        }
    }
    *out = m;
    return 0;
}

ALCHDB_API void alchdb_migration_free(alchdb_migration *m)
{
    if (!m)
        return;
    alchdb__mig_live_close(m);
    for (size_t i = 0; i < m->nfiles; i++)
        alchdb__mig_file_free(&m->files[i]);
    alchdb__free(m->files);
    alchdb__mig_state_free(&m->state);
    alchdb__free(m->opts.conninfo);
    alchdb__free(m);
}

static bool valid_utf8(const unsigned char *s, size_t n, size_t *bad)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        if (c < 0x80) {
            if (c == 0) {
                *bad = i;
                return false;
            }
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
            len = 2;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3;
        } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
            len = 4;
        } else {
            *bad = i;
            return false;
        }
        if (i + len > n) {
            *bad = i;
            return false;
        }
        for (size_t k = 1; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) {
                *bad = i;
                return false;
            }
        i += len;
    }
    return true;
}

ALCHDB_API int alchdb_migration_add_file(alchdb_migration *m, const char *name, const char *sql, size_t len)
{
    ALCHDB_CHECK_ARG(m, "m", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(sql, "sql", "must not be NULL");
    if (len == (size_t)-1)
        len = strlen(sql);
    /* libpg_query's JSON tree of a script is many times its size: bound it. */
    if (len > ALCHDB_MIGRATION_MAX_FILE_BYTES)
        return alchdb__error(ALCHDB_E_RANGE, "%s: '%s' is %zu bytes; the limit is %u MiB per file (split it)",
                             __func__, name, len, (unsigned)(ALCHDB_MIGRATION_MAX_FILE_BYTES >> 20));
    size_t bad;
    if (!valid_utf8((const unsigned char *)sql, len, &bad))
        return alchdb__error(ALCHDB_E_INVALID, "%s: '%s' is not valid UTF-8 text (byte offset %zu)", __func__, name,
                             bad);
    mig_file *grown = alchdb__realloc(m->files, (m->nfiles + 1) * sizeof *m->files);
    if (!grown)
        return alchdb__nomem("migration files");
    m->files = grown;
    mig_file *f = &m->files[m->nfiles];
    memset(f, 0, sizeof *f);
    f->name = alchdb__strdup(name);
    if (!f->name)
        return alchdb__nomem("migration file name");
    int rc = alchdb__mig_assess_file(m, f, sql, len);
    if (rc == 0)
        rc = alchdb__mig_plan_file(f);
    if (rc < 0) {
        alchdb__mig_file_free(f);
        return rc;
    }
    m->nfiles++;
    return 0;
}

static int risk_rank(int r) { return r == ALCHDB_RISK_UNKNOWN ? 3 : r == ALCHDB_RISK_HIGH ? 4 : r; }

ALCHDB_API int alchdb_migration_max_risk(const alchdb_migration *m)
{
    ALCHDB_CHECK_ARG(m, "m", "must not be NULL");
    int best = ALCHDB_RISK_NONE;
    for (size_t i = 0; i < m->nfiles; i++)
        if (risk_rank(m->files[i].max_risk) > risk_rank(best))
            best = m->files[i].max_risk;
    return best;
}

ALCHDB_API size_t alchdb_migration_file_count(const alchdb_migration *m)
{
    if (!m) {
        alchdb__invalid_arg(__func__, "m", "must not be NULL");
        return 0;
    }
    return m->nfiles;
}

static const mig_file *get_file(const alchdb_migration *m, size_t file, const char *func)
{
    if (!m) {
        alchdb__invalid_arg(func, "m", "must not be NULL");
        return NULL;
    }
    if (file >= m->nfiles) {
        alchdb__error(ALCHDB_E_INVALID, "%s: file index %zu out of range (%zu files)", func, file, m->nfiles);
        return NULL;
    }
    return &m->files[file];
}

static const mig_stmt *get_stmt(const alchdb_migration *m, size_t file, size_t stmt, const char *func)
{
    const mig_file *f = get_file(m, file, func);
    if (!f)
        return NULL;
    if (stmt >= f->nstmts) {
        alchdb__error(ALCHDB_E_INVALID, "%s: statement index %zu out of range (%zu statements)", func, stmt,
                      f->nstmts);
        return NULL;
    }
    return &f->stmts[stmt];
}

ALCHDB_API const char *alchdb_migration_file_error(const alchdb_migration *m, size_t file, int64_t *line_out,
                                                   int64_t *column_out)
{
    const mig_file *f = get_file(m, file, __func__);
    if (!f)
        return NULL;
    if (line_out)
        *line_out = f->error ? f->err_line : 0;
    if (column_out)
        *column_out = f->error ? f->err_column : 0;
    return f->error;
}

ALCHDB_API const char *alchdb_migration_file_name(const alchdb_migration *m, size_t file)
{
    const mig_file *f = get_file(m, file, __func__);
    return f ? f->name : NULL;
}

ALCHDB_API size_t alchdb_migration_stmt_count(const alchdb_migration *m, size_t file)
{
    const mig_file *f = get_file(m, file, __func__);
    return f ? f->nstmts : 0;
}

ALCHDB_API int alchdb_migration_stmt_risk(const alchdb_migration *m, size_t file, size_t stmt)
{
    const mig_stmt *st = get_stmt(m, file, stmt, __func__);
    return st ? st->risk : ALCHDB_E_INVALID;
}

ALCHDB_API int alchdb_migration_stmt_flags(const alchdb_migration *m, size_t file, size_t stmt, uint32_t *flags_out)
{
    ALCHDB_CHECK_ARG(flags_out, "flags_out", "must not be NULL");
    const mig_stmt *st = get_stmt(m, file, stmt, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    *flags_out = st->flags;
    return 0;
}

ALCHDB_API const char *alchdb_migration_stmt_text(const alchdb_migration *m, size_t file, size_t stmt,
                                                  const char *what)
{
    const mig_stmt *st = get_stmt(m, file, stmt, __func__);
    if (!st)
        return NULL;
    if (!what) {
        alchdb__invalid_arg(__func__, "what", "must not be NULL");
        return NULL;
    }
    if (!strcmp(what, "sql"))
        return st->sql;
    if (!strcmp(what, "reason"))
        return st->reason;
    if (!strcmp(what, "safer_rewrite"))
        return st->safer_rewrite;
    if (!strcmp(what, "rollback"))
        return (st->flags & ALCHDB_MIG_REVERSIBLE) ? st->rollback : NULL;
    alchdb__invalid_arg(__func__, "what", "must be \"sql\", \"reason\", \"safer_rewrite\" or \"rollback\"");
    return NULL;
}

ALCHDB_API size_t alchdb_migration_lock_count(const alchdb_migration *m, size_t file, size_t stmt)
{
    const mig_stmt *st = get_stmt(m, file, stmt, __func__);
    return st ? st->nlocks : 0;
}

ALCHDB_API const char *alchdb_migration_lock(const alchdb_migration *m, size_t file, size_t stmt, size_t lock,
                                             int *mode_out)
{
    const mig_stmt *st = get_stmt(m, file, stmt, __func__);
    if (!st)
        return NULL;
    if (lock >= st->nlocks) {
        alchdb__error(ALCHDB_E_INVALID, "%s: lock index %zu out of range (%zu locks)", __func__, lock, st->nlocks);
        return NULL;
    }
    if (mode_out)
        *mode_out = st->locks[lock].mode;
    return st->locks[lock].relation;
}

ALCHDB_API size_t alchdb_migration_finding_count(const alchdb_migration *m, size_t file, size_t stmt)
{
    const mig_stmt *st = get_stmt(m, file, stmt, __func__);
    return st ? st->nfindings : 0;
}

ALCHDB_API const char *alchdb_migration_finding(const alchdb_migration *m, size_t file, size_t stmt,
                                                size_t finding, const char *what)
{
    const mig_stmt *st = get_stmt(m, file, stmt, __func__);
    if (!st)
        return NULL;
    if (finding >= st->nfindings) {
        alchdb__error(ALCHDB_E_INVALID, "%s: finding index %zu out of range (%zu findings)", __func__, finding,
                      st->nfindings);
        return NULL;
    }
    const mig_finding *fd = &st->findings[finding];
    if (what && !strcmp(what, "rule"))
        return fd->rule;
    if (what && !strcmp(what, "severity"))
        return fd->severity;
    if (what && !strcmp(what, "message"))
        return fd->message;
    if (what && !strcmp(what, "help"))
        return fd->help;
    alchdb__invalid_arg(__func__, "what", "must be \"rule\", \"severity\", \"message\" or \"help\"");
    return NULL;
}

ALCHDB_API int alchdb_migration_to_json(const alchdb_migration *m, char **json_out)
{
    ALCHDB_CHECK_ARG(json_out, "json_out", "must not be NULL");
    *json_out = NULL;
    ALCHDB_CHECK_ARG(m, "m", "must not be NULL");
    return alchdb__mig_render_json(m, json_out);
}

ALCHDB_API int alchdb_migration_to_text(const alchdb_migration *m, char **text_out)
{
    ALCHDB_CHECK_ARG(text_out, "text_out", "must not be NULL");
    *text_out = NULL;
    ALCHDB_CHECK_ARG(m, "m", "must not be NULL");
    return alchdb__mig_render_text(m, text_out);
}

ALCHDB_API const char *alchdb_migration_risk_name(int risk)
{
    switch (risk) {
    case ALCHDB_RISK_NONE: return "none";
    case ALCHDB_RISK_LOW: return "low";
    case ALCHDB_RISK_MEDIUM: return "medium";
    case ALCHDB_RISK_UNKNOWN: return "unknown";
    case ALCHDB_RISK_HIGH: return "high";
    default: return "invalid";
    }
}

ALCHDB_API const char *alchdb_lock_mode_name(int mode)
{
    static const char *const names[] = {"NONE", "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE",
                                        "SHARE UPDATE EXCLUSIVE", "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE",
                                        "ACCESS EXCLUSIVE"};
    if (mode < 0 || mode > 8)
        return "invalid";
    return names[mode];
}
