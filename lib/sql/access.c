/* The public accessors of an analysis (include/alchdb/sql.h). */
#include "sql_priv.h"

static const char *const kind_names[] = {"select", "insert", "update", "delete",
                                         "merge", "ddl", "transaction", "utility"};

ALCHDB_API int alchdb_sql_analyze(const char *sql, size_t len, alchdb_sql_analysis **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    int err = 0;
    *out = (alchdb_sql_analysis *)alchdb__sql_analyze_shared(sql, len, &err);
    return err;
}

ALCHDB_API void alchdb_sql_analysis_free(alchdb_sql_analysis *a) { alchdb__sql_release(a); }

ALCHDB_API const char *alchdb_sql_analysis_error(const alchdb_sql_analysis *a, int64_t *offset_out)
{
    if (offset_out)
        *offset_out = -1;
    if (!a) {
        alchdb__invalid_arg(__func__, "a", "must not be NULL");
        return NULL;
    }
    if (offset_out && a->error)
        *offset_out = a->err_offset;
    return a->error;
}

ALCHDB_API size_t alchdb_sql_analysis_count(const alchdb_sql_analysis *a)
{
    if (!a) {
        alchdb__invalid_arg(__func__, "a", "must not be NULL");
        return 0;
    }
    return a->n;
}

static const sql_stmt *stmt_at(const alchdb_sql_analysis *a, size_t i, const char *func)
{
    if (!a) {
        alchdb__invalid_arg(func, "a", "must not be NULL");
        return NULL;
    }
    if (i >= a->n) {
        alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'i': statement %zu of %zu", func, i, a->n);
        return NULL;
    }
    return &a->stmts[i];
}

ALCHDB_API int alchdb_sql_stmt_kind(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->kind : ALCHDB_E_INVALID;
}

ALCHDB_API const char *alchdb_sql_kind_name(int kind)
{
    if (kind < 0 || (size_t)kind >= sizeof kind_names / sizeof kind_names[0]) {
        alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'kind': %d is not an alchdb_sql_kind", __func__, kind);
        return NULL;
    }
    return kind_names[kind];
}

ALCHDB_API int alchdb_sql_stmt_flags(const alchdb_sql_analysis *a, size_t i, uint32_t *flags_out)
{
    ALCHDB_CHECK_ARG(flags_out, "flags_out", "must not be NULL");
    *flags_out = 0;
    const sql_stmt *st = stmt_at(a, i, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    *flags_out = st->flags;
    return 0;
}

ALCHDB_API int alchdb_sql_stmt_span(const alchdb_sql_analysis *a, size_t i, size_t *offset, size_t *length)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    if (offset)
        *offset = st->offset;
    if (length)
        *length = st->length;
    return 0;
}

ALCHDB_API int alchdb_sql_stmt_fingerprint(const alchdb_sql_analysis *a, size_t i, uint64_t *out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = 0;
    const sql_stmt *st = stmt_at(a, i, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    *out = st->fingerprint;
    return 0;
}

ALCHDB_API const char *alchdb_sql_stmt_normalized(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->normalized : NULL;
}

static const sql_nameset *tables_of(const alchdb_sql_analysis *a, size_t i, int which, const char *func)
{
    if (which != ALCHDB_SQL_TABLES_READ && which != ALCHDB_SQL_TABLES_WRITTEN) {
        alchdb__invalid_arg(func, "which", "must be ALCHDB_SQL_TABLES_READ or ALCHDB_SQL_TABLES_WRITTEN");
        return NULL;
    }
    const sql_stmt *st = stmt_at(a, i, func);
    return st ? &st->tables[which] : NULL;
}

static bool in_range(size_t j, size_t n, const char *func)
{
    if (j < n)
        return true;
    alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'j': item %zu of %zu", func, j, n);
    return false;
}

static const char *set_item(const sql_strset *s, size_t j, const char *func)
{
    return s && in_range(j, s->n, func) ? s->items[j] : NULL;
}

static const sql_name *name_item(const sql_nameset *s, size_t j, const char *func)
{
    return s && in_range(j, s->n, func) ? &s->items[j] : NULL;
}

/* The parts of a name into the optional outputs. */
static int name_parts(const sql_name *nm, const char **schema_out, const char **name_out)
{
    if (schema_out)
        *schema_out = nm ? nm->schema : NULL;
    if (name_out)
        *name_out = nm ? nm->name : NULL;
    return nm ? 0 : ALCHDB_E_INVALID;
}

ALCHDB_API size_t alchdb_sql_stmt_table_count(const alchdb_sql_analysis *a, size_t i, int which)
{
    const sql_nameset *s = tables_of(a, i, which, __func__);
    return s ? s->n : 0;
}

ALCHDB_API const char *alchdb_sql_stmt_table(const alchdb_sql_analysis *a, size_t i, int which, size_t j)
{
    const sql_name *nm = name_item(tables_of(a, i, which, __func__), j, __func__);
    return nm ? nm->display : NULL;
}

ALCHDB_API int alchdb_sql_stmt_table_name(const alchdb_sql_analysis *a, size_t i, int which, size_t j,
                                          const char **schema_out, const char **name_out)
{
    return name_parts(name_item(tables_of(a, i, which, __func__), j, __func__), schema_out, name_out);
}

ALCHDB_API size_t alchdb_sql_stmt_function_count(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->calls.n : 0;
}

ALCHDB_API int alchdb_sql_stmt_function(const alchdb_sql_analysis *a, size_t i, size_t j, const char **schema_out,
                                        const char **name_out)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return name_parts(name_item(st ? &st->calls : NULL, j, __func__), schema_out, name_out);
}

ALCHDB_API int alchdb_sql_stmt_status(const alchdb_sql_analysis *a, size_t i, const char **message_out)
{
    if (message_out)
        *message_out = NULL;
    const sql_stmt *st = stmt_at(a, i, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    if (message_out)
        *message_out = st->status_message;
    return st->status;
}

ALCHDB_API size_t alchdb_sql_stmt_volatile_count(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->funcs.n : 0;
}

ALCHDB_API const char *alchdb_sql_stmt_volatile(const alchdb_sql_analysis *a, size_t i, size_t j)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return set_item(st ? &st->funcs : NULL, j, __func__);
}

ALCHDB_API const char *alchdb_sql_stmt_not_cacheable_reason(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->reason : NULL;
}

ALCHDB_API uint64_t alchdb_sql_hash(const char *sql, size_t len)
{
    if (!sql)
        return alchdb__hash64("", 0, 0);
    if (len == (size_t)-1)
        len = strlen(sql);
    return alchdb__hash64(sql, len, 0);
}

const alchdb__sql_row_target *alchdb__sql_row_target_of(const alchdb_sql_analysis *a)
{
    return a ? a->rt : NULL;
}

bool alchdb__sql_stmt_opaque(const alchdb_sql_analysis *a, size_t i)
{
    return a && i < a->n && a->stmts[i].opaque;
}

uint32_t alchdb__sql_stmt_txn(const alchdb_sql_analysis *a, size_t i)
{
    return a && i < a->n ? a->stmts[i].txn : 0;
}

bool alchdb__sql_txn_replica_ok(const char *sql, size_t len)
{
    int err = 0;
    const alchdb_sql_analysis *a = alchdb__sql_analyze_shared(sql, len, &err);
    size_t n = a && !err ? alchdb_sql_analysis_count(a) : 0;
    bool ok = n > 0, read_only = false, serializable = false;
    for (size_t i = 0; ok && i < n; i++) {
        uint32_t m = alchdb__sql_stmt_txn(a, i);
        ok = (m & (ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_SET)) != 0;
        if (m & ALCHDB__SQL_TXN_READ_ONLY)
            read_only = true;
        if (m & ALCHDB__SQL_TXN_READ_WRITE)
            read_only = false;
        if (m & ALCHDB__SQL_TXN_ISO_SERIALIZABLE)
            serializable = true;
        else if (m & (ALCHDB__SQL_TXN_ISO_READ_UNCOMMITTED | ALCHDB__SQL_TXN_ISO_READ_COMMITTED |
                      ALCHDB__SQL_TXN_ISO_REPEATABLE_READ))
            serializable = false;
    }
    alchdb__sql_release(a);
    return ok && read_only && !serializable;
}
