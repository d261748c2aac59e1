/* JSON (stable public shape) and text renderings of an assessment, and
 * identifier quoting for the SQL the assessor generates. */
#include <stdio.h>
#include <string.h>

#include "model.h"

/* PostgreSQL's reserved key words (and the ones reserved as column or type
 * names): an identifier spelled like one of these must be quoted. */
static const char *const reserved[] = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between",
    "bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character", "check", "coalesce",
    "collate", "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog",
    "current_date", "current_role", "current_schema", "current_time", "current_timestamp", "current_user", "dec",
    "decimal", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists", "extract",
    "false", "fetch", "float", "for", "foreign", "freeze", "from", "full", "grant", "greatest", "group",
    "grouping", "having", "ilike", "in", "initially", "inner", "inout", "int", "integer", "intersect",
    "interval", "into", "is", "isnull", "join", "lateral", "leading", "least", "left", "like", "limit",
    "localtime", "localtimestamp", "national", "natural", "nchar", "none", "normalize", "not", "notnull", "null",
    "nullif", "numeric", "offset", "on", "only", "or", "order", "out", "outer", "overlaps", "overlay", "placing",
    "position", "precision", "primary", "real", "references", "returning", "right", "row", "select",
    "session_user", "setof", "similar", "smallint", "some", "substring", "symmetric", "system_user", "table",
    "tablesample", "then", "time", "timestamp", "to", "trailing", "treat", "trim", "true", "union", "unique",
    "user", "using", "values", "varchar", "variadic", "verbose", "when", "where", "window", "with", "xmlattributes",
    "xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot",
    "xmlserialize", "xmltable", NULL};

char *alchdb__mig_quote_ident(const char *name)
{
    bool plain = name[0] && ((name[0] >= 'a' && name[0] <= 'z') || name[0] == '_');
    for (const char *p = name; plain && *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
            plain = false;
    for (int i = 0; plain && reserved[i]; i++)
        if (!strcmp(name, reserved[i]))
            plain = false;
    if (plain)
        return alchdb__strdup(name);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_append(&sb, "\"", 1);
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            alchdb__sb_append(&sb, "\"", 1);
        alchdb__sb_append(&sb, p, 1);
    }
    alchdb__sb_append(&sb, "\"", 1);
    return alchdb__sb_finish(&sb);
}

static void jbool(alchdb__strbuf *sb, const char *key, bool v)
{
    alchdb__sb_printf(sb, ",\"%s\":%s", key, v ? "true" : "false");
}

static void jstrkv(alchdb__strbuf *sb, const char *key, const char *v)
{
    alchdb__sb_printf(sb, ",\"%s\":", key);
    alchdb__sb_json_str(sb, v);
}

static void render_stmt(alchdb__strbuf *sb, const mig_stmt *st, size_t idx)
{
    alchdb__sb_printf(sb, "{\"index\":%zu,\"line\":%lld,\"column\":%lld,\"offset\":%zu", idx, (long long)st->line,
                      (long long)st->column, st->offset);
    jstrkv(sb, "sql", st->sql);
    alchdb__sb_puts(sb, ",\"locks\":[");
    for (size_t i = 0; i < st->nlocks; i++) {
        alchdb__sb_puts(sb, i ? ",{\"relation\":" : "{\"relation\":");
        alchdb__sb_json_str(sb, st->locks[i].relation);
        jstrkv(sb, "mode", alchdb_lock_mode_name(st->locks[i].mode));
        jbool(sb, "new_relation", !st->locks[i].existing);
        alchdb__sb_puts(sb, "}");
    }
    alchdb__sb_puts(sb, "]");
    jbool(sb, "blocks_reads", st->flags & ALCHDB_MIG_BLOCKS_READS);
    jbool(sb, "blocks_writes", st->flags & ALCHDB_MIG_BLOCKS_WRITES);
    jbool(sb, "rewrites_table", st->flags & ALCHDB_MIG_REWRITES_TABLE);
    jbool(sb, "scans_table", st->flags & ALCHDB_MIG_SCANS_TABLE);
    jbool(sb, "builds_index", st->flags & ALCHDB_MIG_BUILDS_INDEX);
    jbool(sb, "opaque", st->flags & ALCHDB_MIG_OPAQUE);
    jbool(sb, "in_transaction", st->flags & ALCHDB_MIG_IN_TRANSACTION);
    jbool(sb, "requires_no_transaction", st->concurrent);
    jstrkv(sb, "risk", alchdb_migration_risk_name(st->risk));
    jstrkv(sb, "reason", st->reason);
    alchdb__sb_puts(sb, ",\"findings\":[");
    for (size_t i = 0; i < st->nfindings; i++) {
        alchdb__sb_puts(sb, i ? ",{\"rule\":" : "{\"rule\":");
        alchdb__sb_json_str(sb, st->findings[i].rule);
        jstrkv(sb, "severity", st->findings[i].severity);
        jstrkv(sb, "message", st->findings[i].message);
        jstrkv(sb, "help", st->findings[i].help);
        alchdb__sb_puts(sb, "}");
    }
    alchdb__sb_puts(sb, "]");
    jstrkv(sb, "safer_rewrite", st->safer_rewrite);
    bool rev = st->flags & ALCHDB_MIG_REVERSIBLE;
    jstrkv(sb, "rollback", rev ? st->rollback : NULL);
    jbool(sb, "reversible", rev);
    jstrkv(sb, "irreversible_reason", rev ? NULL : st->rollback_note);
    if (st->estimated_seconds >= 0)
        alchdb__sb_printf(sb, ",\"estimated_seconds\":%.3f", st->estimated_seconds);
    else
        alchdb__sb_puts(sb, ",\"estimated_seconds\":null");
    jstrkv(sb, "estimate", st->size_note);
    alchdb__sb_puts(sb, "}");
}

static void render_plan(alchdb__strbuf *sb, const alchdb_migration *m, const mig_file *f)
{
    alchdb__sb_puts(sb, ",\"plan\":[");
    for (size_t i = 0; i < f->nphases; i++) {
        const mig_phase *p = &f->phases[i];
        alchdb__sb_printf(sb, "%s{\"phase\":%zu", i ? "," : "", i + 1);
        jstrkv(sb, "name", p->name);
        jbool(sb, "transactional", p->transactional);
        alchdb__sb_puts(sb, ",\"statements\":[");
        for (size_t k = 0; k < p->nstmts; k++)
            alchdb__sb_printf(sb, "%s%zu", k ? "," : "", p->stmts[k]);
        alchdb__sb_puts(sb, "]");
        jstrkv(sb, "lock", p->lock ? alchdb_lock_mode_name(p->lock) : NULL);
        alchdb__sb_printf(sb, ",\"lock_timeout_ms\":%lld", (long long)m->opts.lock_timeout_ms);
        if (p->expected_seconds >= 0)
            alchdb__sb_printf(sb, ",\"expected_seconds\":%.3f", p->expected_seconds);
        else
            alchdb__sb_puts(sb, ",\"expected_seconds\":null");
        jstrkv(sb, "checkpoint", p->checkpoint);
        alchdb__sb_puts(sb, "}");
    }
    alchdb__sb_puts(sb, "]");
}

int alchdb__mig_render_json(const alchdb_migration *m, char **out)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{\"files\":[");
    for (size_t i = 0; i < m->nfiles; i++) {
        const mig_file *f = &m->files[i];
        alchdb__sb_puts(&sb, i ? ",{\"file\":" : "{\"file\":");
        alchdb__sb_json_str(&sb, f->name);
        jstrkv(&sb, "max_risk", alchdb_migration_risk_name(f->max_risk));
        if (f->error) {
            alchdb__sb_puts(&sb, ",\"error\":{\"message\":");
            alchdb__sb_json_str(&sb, f->error);
            alchdb__sb_printf(&sb, ",\"line\":%lld,\"column\":%lld}", (long long)f->err_line,
                              (long long)f->err_column);
        } else {
            alchdb__sb_puts(&sb, ",\"error\":null");
        }
        alchdb__sb_puts(&sb, ",\"statements\":[");
        for (size_t k = 0; k < f->nstmts; k++) {
            if (k)
                alchdb__sb_puts(&sb, ",");
            render_stmt(&sb, &f->stmts[k], k);
        }
        alchdb__sb_puts(&sb, "]");
        render_plan(&sb, m, f);
        alchdb__sb_puts(&sb, "}");
    }
    alchdb__sb_puts(&sb, "]}");
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("migration JSON");
}

int alchdb__mig_render_text(const alchdb_migration *m, char **out)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    for (size_t i = 0; i < m->nfiles; i++) {
        const mig_file *f = &m->files[i];
        alchdb__sb_printf(&sb, "%s: max risk %s\n", f->name, alchdb_migration_risk_name(f->max_risk));
        if (f->error)
            alchdb__sb_printf(&sb, "%s:%lld:%lld: syntax error: %s\n", f->name, (long long)f->err_line,
                              (long long)f->err_column, f->error);
        for (size_t k = 0; k < f->nstmts; k++) {
            const mig_stmt *st = &f->stmts[k];
            if (st->txn_control)
                continue;
            const char *nl = strchr(st->sql, '\n');
            int shown = nl ? (int)(nl - st->sql) : (int)strlen(st->sql);
            if (shown > 100)
                shown = 100;
            alchdb__sb_printf(&sb, "\n  %s:%lld  %.*s%s\n", f->name, (long long)st->line, shown, st->sql,
                              (size_t)shown < strlen(st->sql) ? " …" : "");
            alchdb__sb_printf(&sb, "    risk:   %s — %s\n", alchdb_migration_risk_name(st->risk),
                              st->reason ? st->reason : "");
            for (size_t l = 0; l < st->nlocks; l++)
                alchdb__sb_printf(&sb, "    lock:   %s on %s%s\n", alchdb_lock_mode_name(st->locks[l].mode),
                                  st->locks[l].relation, st->locks[l].existing ? "" : " (new)");
            alchdb__sb_printf(&sb, "    blocks: %s\n",
                              (st->flags & ALCHDB_MIG_BLOCKS_READS)    ? "reads and writes"
                              : (st->flags & ALCHDB_MIG_BLOCKS_WRITES) ? "writes"
                                                                       : "nothing");
            if (st->size_note)
                alchdb__sb_printf(&sb, "    size:   %s\n", st->size_note);
            for (size_t d = 0; d < st->nfindings; d++)
                alchdb__sb_printf(&sb, "    %s [%s]: %s\n      help: %s\n", st->findings[d].severity,
                                  st->findings[d].rule, st->findings[d].message, st->findings[d].help);
            if (st->safer_rewrite)
                alchdb__sb_printf(&sb, "    safer:  %s\n", st->safer_rewrite);
            if (st->flags & ALCHDB_MIG_REVERSIBLE)
                alchdb__sb_printf(&sb, "    undo:   %s\n", st->rollback ? st->rollback : "");
            else
                alchdb__sb_printf(&sb, "    undo:   irreversible: %s\n", st->rollback_note ? st->rollback_note : "");
        }
        if (f->nphases) {
            alchdb__sb_puts(&sb, "\n  plan:\n");
            for (size_t p = 0; p < f->nphases; p++) {
                const mig_phase *ph = &f->phases[p];
                alchdb__sb_printf(&sb, "    %zu. %s (%s, lock %s, lock_timeout %lld ms)\n", p + 1, ph->name,
                                  ph->transactional ? "one transaction" : "no transaction",
                                  ph->lock ? alchdb_lock_mode_name(ph->lock) : "none",
                                  (long long)m->opts.lock_timeout_ms);
                alchdb__sb_printf(&sb, "       checkpoint: %s\n", ph->checkpoint ? ph->checkpoint : "");
            }
        }
        alchdb__sb_puts(&sb, "\n");
    }
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("migration text");
}
