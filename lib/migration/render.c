/* JSON (stable public shape) and text renderings of an assessment. */
#include <stdio.h>
#include <string.h>

#include "model.h"

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
        /* The two fields as PostgreSQL knows them: "relation" is SQL
         * (quoted), these are the names themselves. */
        mig_rel r;
        bool parsed = alchdb__mig_rel_parse(st->locks[i].relation, &r);
        jstrkv(sb, "schema", parsed ? r.schema : NULL);
        jstrkv(sb, "name", parsed ? r.name : NULL);
        if (parsed)
            alchdb__mig_rel_free(&r);
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
        alchdb__sb_printf(sb, ",\"lock_timeout_ms\":%lld", alchdb__duration_ms_ceil(m->opts.lock_timeout_us));
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
        /* Names, messages and statement text may hold any bytes: control
         * characters are escaped so that every report line stays one line. */
        alchdb__strbuf nb;
        alchdb__sb_init(&nb);
        alchdb__mig_text_escaped(&nb, f->name);
        char *fname = alchdb__sb_finish(&nb);
        if (!fname) {
            alchdb__free(alchdb__sb_finish(&sb));
            return alchdb__nomem("migration text");
        }
        alchdb__sb_printf(&sb, "%s: max risk %s\n", fname, alchdb_migration_risk_name(f->max_risk));
        if (f->error) {
            alchdb__sb_printf(&sb, "%s:%lld:%lld: syntax error: ", fname, (long long)f->err_line,
                              (long long)f->err_column);
            alchdb__mig_text_escaped(&sb, f->error);
            alchdb__sb_puts(&sb, "\n");
        }
        for (size_t k = 0; k < f->nstmts; k++) {
            const mig_stmt *st = &f->stmts[k];
            if (st->txn_control)
                continue;
            const char *nl = strchr(st->sql, '\n');
            int shown = nl ? (int)(nl - st->sql) : (int)strlen(st->sql);
            if (shown > 100)
                shown = 100;
            char *head = alchdb__strndup(st->sql, (size_t)shown);
            alchdb__sb_printf(&sb, "\n  %s:%lld  ", fname, (long long)st->line);
            alchdb__mig_text_escaped(&sb, head ? head : "");
            alchdb__free(head);
            alchdb__sb_printf(&sb, "%s\n", (size_t)shown < strlen(st->sql) ? " …" : "");
            alchdb__sb_printf(&sb, "    risk:   %s — ", alchdb_migration_risk_name(st->risk));
            alchdb__mig_text_escaped(&sb, st->reason ? st->reason : "");
            alchdb__sb_puts(&sb, "\n");
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
            {
                alchdb__sb_printf(&sb, "    %s [%s]: ", st->findings[d].severity, st->findings[d].rule);
                alchdb__mig_text_escaped(&sb, st->findings[d].message);
                alchdb__sb_puts(&sb, "\n      help: ");
                alchdb__mig_text_escaped(&sb, st->findings[d].help);
                alchdb__sb_puts(&sb, "\n");
            }
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
                                  alchdb__duration_ms_ceil(m->opts.lock_timeout_us));
                alchdb__sb_printf(&sb, "       checkpoint: %s\n", ph->checkpoint ? ph->checkpoint : "");
            }
        }
        alchdb__sb_puts(&sb, "\n");
        alchdb__free(fname);
    }
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("migration text");
}
