/* Public entry points of the migration assessor: options, files, accessors. */
#include <string.h>

#include "model.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)

#define INT_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_INT, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define DUR_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_DURATION, lo, hi, def, NULL, NULL, NULL, 0, doc}

/* The migration's options, declared once for the option engine
 * (lib/core/opt.c): the public alchdb_migration_config_* functions, the
 * listing, the CLI's help and the table in docs/migration.md come from it. */
static const alchdb__optdef DEFS[] = {
    INT_OPT(ALCHDB_MIGRATION_OPT_PG_VERSION, "pg_version", 150000, 159999, 150000,
            "target server_version_num (only PostgreSQL 15 is modelled)"),
    {ALCHDB_MIGRATION_OPT_CONNINFO, "conninfo", ALCHDB_OPT_STRING, 0, 0, 0, NULL, NULL, NULL, ALCHDB__OPT_CONNINFO,
     "libpq conninfo of the live database (table sizes, lock queues) or of trace's scratch database"},
    INT_OPT(ALCHDB_MIGRATION_OPT_REWRITE_BYTES_PER_SEC, "rewrite_bytes_per_sec", 1000, INT64_C(1000000000000),
            INT64_C(100000000), "bytes per second a rewrite is assumed to process when estimating durations"),
    /* PostgreSQL's timeouts are int milliseconds */
    DUR_OPT(ALCHDB_MIGRATION_OPT_LOCK_TIMEOUT, "lock_timeout", MS, 3600 * SEC, 2 * SEC,
            "lock_timeout of the plan's phases and the executor"),
    DUR_OPT(ALCHDB_MIGRATION_OPT_STATEMENT_TIMEOUT, "statement_timeout", 0, 86400 * SEC, 0,
            "statement_timeout of the executor's non-concurrent steps; 0 = none"),
    INT_OPT(ALCHDB_MIGRATION_OPT_MAX_RETRIES, "max_retries", 1, 100, 3,
            "attempts per phase step when lock_timeout strikes"),
};

const alchdb__optspec alchdb__migration_optspec = {"migration", DEFS, sizeof DEFS / sizeof DEFS[0]};

ALCHDB__CONFIG_API(migration, alchdb_migration_config, opts, &alchdb__migration_optspec)

static int64_t value(const alchdb_migration_config *cfg, int key)
{
    return alchdb__opts_value(cfg ? &cfg->opts : NULL, &alchdb__migration_optspec, key);
}

/* The settings of an assessment from cfg (NULL: the defaults); the conninfo
 * is copied. 0 or ALCHDB_E_NOMEM. */
static int settings_load(mig_settings *s, const alchdb_migration_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->pg_version = value(cfg, ALCHDB_MIGRATION_OPT_PG_VERSION);
    s->rewrite_bytes_per_sec = value(cfg, ALCHDB_MIGRATION_OPT_REWRITE_BYTES_PER_SEC);
    s->lock_timeout_us = value(cfg, ALCHDB_MIGRATION_OPT_LOCK_TIMEOUT);
    s->statement_timeout_us = value(cfg, ALCHDB_MIGRATION_OPT_STATEMENT_TIMEOUT);
    s->max_retries = value(cfg, ALCHDB_MIGRATION_OPT_MAX_RETRIES);
    const char *ci = cfg ? alchdb__opts_s(&cfg->opts, ALCHDB_MIGRATION_OPT_CONNINFO) : NULL;
    if (ci && !(s->conninfo = alchdb__strdup(ci)))
        return alchdb__nomem("migration conninfo");
    return 0;
}

ALCHDB_API int alchdb_migration_new(const alchdb_migration_config *cfg, alchdb_migration **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_migration *m = alchdb__calloc(1, sizeof *m);
    if (!m)
        return alchdb__nomem("migration");
    if (settings_load(&m->opts, cfg) != 0) {
        alchdb__free(m);
        return ALCHDB_E_NOMEM;
    }
    if (m->opts.conninfo) {
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
    alchdb__free_wiped(m->opts.conninfo);
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
