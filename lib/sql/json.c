/* The analysis as JSON (a stable interface: keys are only ever added). */
#include <inttypes.h>

#include "sql_priv.h"

static void str_array(alchdb__strbuf *sb, const sql_strset *s)
{
    alchdb__sb_puts(sb, "[");
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            alchdb__sb_puts(sb, ",");
        alchdb__sb_json_str(sb, s->items[i]);
    }
    alchdb__sb_puts(sb, "]");
}

/* Names as objects with their parts apart: {"schema":"public","name":"a.b"}
 * ("catalog" first when one was written). */
static void name_array(alchdb__strbuf *sb, const sql_nameset *s)
{
    alchdb__sb_puts(sb, "[");
    for (size_t i = 0; i < s->n; i++) {
        const sql_name *nm = &s->items[i];
        alchdb__sb_puts(sb, i ? ",{" : "{");
        if (nm->catalog) {
            alchdb__sb_puts(sb, "\"catalog\":");
            alchdb__sb_json_str(sb, nm->catalog);
            alchdb__sb_puts(sb, ",");
        }
        alchdb__sb_puts(sb, "\"schema\":");
        alchdb__sb_json_str(sb, nm->schema);
        alchdb__sb_puts(sb, ",\"name\":");
        alchdb__sb_json_str(sb, nm->name);
        alchdb__sb_puts(sb, "}");
    }
    alchdb__sb_puts(sb, "]");
}

static const char *tf(bool b) { return b ? "true" : "false"; }

ALCHDB_API int alchdb_sql_analysis_to_json(const alchdb_sql_analysis *a, char **json_out)
{
    ALCHDB_CHECK_ARG(json_out, "json_out", "must not be NULL");
    *json_out = NULL;
    ALCHDB_CHECK_ARG(a, "a", "must not be NULL");
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    if (a->error) {
        alchdb__sb_puts(&sb, "{\"error\":{\"message\":");
        alchdb__sb_json_str(&sb, a->error);
        alchdb__sb_printf(&sb, ",\"offset\":%" PRId64 "}}", a->err_offset);
    } else {
        alchdb__sb_puts(&sb, "{\"statements\":[");
        for (size_t i = 0; i < a->n; i++) {
            const sql_stmt *st = &a->stmts[i];
            alchdb__sb_printf(&sb,
                              "%s{\"index\":%zu,\"offset\":%zu,\"kind\":\"%s\",\"read_only\":%s,\"locking\":%s,"
                              "\"fingerprint\":\"%016" PRIx64 "\",\"normalized\":",
                              i ? "," : "", i, st->offset, alchdb_sql_kind_name(st->kind),
                              tf(st->flags & ALCHDB_SQL_READ_ONLY), tf(st->flags & ALCHDB_SQL_LOCKING),
                              st->fingerprint);
            alchdb__sb_json_str(&sb, st->normalized);
            alchdb__sb_puts(&sb, ",\"tables_read\":");
            name_array(&sb, &st->tables[ALCHDB_SQL_TABLES_READ]);
            alchdb__sb_puts(&sb, ",\"tables_written\":");
            name_array(&sb, &st->tables[ALCHDB_SQL_TABLES_WRITTEN]);
            alchdb__sb_puts(&sb, ",\"volatile_functions\":");
            str_array(&sb, &st->funcs);
            alchdb__sb_printf(&sb, ",\"cacheable\":%s,\"not_cacheable_reason\":", tf(st->flags & ALCHDB_SQL_CACHEABLE));
            alchdb__sb_json_str(&sb, st->reason);
            alchdb__sb_puts(&sb, ",\"functions\":");
            name_array(&sb, &st->calls);
            alchdb__sb_puts(&sb, ",\"unanalysed\":");
            alchdb__sb_json_str(&sb, st->status_message);
            alchdb__sb_puts(&sb, "}");
        }
        alchdb__sb_puts(&sb, "]}");
    }
    char *out = alchdb__sb_finish(&sb);
    if (!out)
        return alchdb__nomem("SQL analysis JSON");
    *json_out = out;
    return 0;
}
