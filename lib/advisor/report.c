/* The report: health score, recommendations, script, JSON, text, accessors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adv.h"

static bool add_reason(alchdb_advisor_report *r, int points, const char *text)
{
    adv_reason *p = alchdb__realloc(r->reasons, (r->nreasons + 1) * sizeof *p);
    if (!p)
        return false;
    r->reasons = p;
    if (!(p[r->nreasons].text = alchdb__strdup(text)))
        return false;
    p[r->nreasons++].points = points;
    return true;
}

static bool add_rec(alchdb_advisor_report *r, const char *text)
{
    char **p = alchdb__realloc(r->recs, (r->nrecs + 1) * sizeof *p);
    if (!p)
        return false;
    r->recs = p;
    return (p[r->nrecs] = alchdb__strdup(text)) && ++r->nrecs;
}

static int imin(int a, int b) { return a < b ? a : b; }

static int health(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    char buf[512];
    int score = 100;
    bool ok = true;
    /* Usage on tables big enough for an index to matter (small tables are
     * rightly scanned sequentially). */
    int64_t seq = 0, idx = 0;
    for (size_t i = 0; i < r->ntables; i++)
        if ((double)r->tables[i].live_rows >= (double)c->opts->min_table_rows) {
            seq += r->tables[i].seq_scan;
            idx += r->tables[i].idx_scan;
        }
    if (seq + idx > 0) {
        double ratio = (double)idx / (double)(seq + idx);
        if (ratio < 0.95) {
            int pts = imin(30, (int)lround((0.95 - ratio) * 100.0));
            if (pts < 1)
                pts = 1;
            snprintf(buf, sizeof buf,
                     "index usage on tables with at least %lld rows is %.1f %% (target > 95 %%; warning below 90 %%)",
                     (long long)c->opts->min_table_rows, ratio * 100.0);
            ok &= add_reason(r, -pts, buf);
            score -= pts;
            ok &= add_rec(r, "Sequential scans dominate on large tables: add the suggested indexes for the "
                             "queries that scan them.");
        }
    }
    int high = 0, other = 0;
    for (size_t i = 0; i < r->nmissing; i++)
        if (!strcmp(r->missing[i].priority, "high"))
            high++;
        else
            other++;
    if (r->nmissing) {
        int pts = imin(30, high * 10 + other * 3);
        snprintf(buf, sizeof buf, "%zu missing index(es) (%d high priority)", r->nmissing, high);
        ok &= add_reason(r, -pts, buf);
        score -= pts;
        ok &= add_rec(r, "Create the missing indexes with CREATE INDEX CONCURRENTLY, highest priority first "
                         "(see the script), then check the plans with EXPLAIN.");
    }
    if (r->nfkmiss) {
        int pts = imin(15, (int)r->nfkmiss * 3);
        snprintf(buf, sizeof buf, "%zu foreign key(s) without an index on the referencing columns", r->nfkmiss);
        ok &= add_reason(r, -pts, buf);
        score -= pts;
        ok &= add_rec(r, "Index the referencing columns of foreign keys: deletes and key updates on the referenced "
                         "table otherwise scan the referencing table and hold locks longer.");
    }
    if (r->nunused) {
        int64_t bytes = 0;
        for (size_t i = 0; i < r->nunused; i++)
            bytes += r->unused[i].idx->bytes;
        int pts = imin(15, (int)r->nunused * 3);
        snprintf(buf, sizeof buf, "%zu unused index(es) holding %lld bytes", r->nunused, (long long)bytes);
        ok &= add_reason(r, -pts, buf);
        score -= pts;
        ok &= add_rec(r, "Unused indexes cost writes, memory and vacuum time: after checking the replicas and a "
                         "long enough observation window, drop them concurrently.");
    }
    if (r->nredundant) {
        int pts = imin(15, (int)r->nredundant * 3);
        snprintf(buf, sizeof buf, "%zu redundant index(es) (duplicates or left prefixes)", r->nredundant);
        ok &= add_reason(r, -pts, buf);
        score -= pts;
        ok &= add_rec(r, "Drop indexes that duplicate another or are a left prefix of one: the other index serves "
                         "the same lookups.");
    }
    if (r->nnotes) {
        snprintf(buf, sizeof buf, "the analysis is partial: %zu note(s) say what could not be done", r->nnotes);
        ok &= add_reason(r, 0, buf);
    }
    if (!r->ntables)
        ok &= add_rec(r, "The database has no user tables: nothing to index yet.");
    else if (score == 100)
        ok &= add_rec(r, "Nothing to do: indexes are used, nothing is missing or redundant.");
    r->health = score < 0 ? 0 : score;
    return ok ? 0 : alchdb__nomem("advisor health");
}

/* The script: statements as they run, everything else in `--` comment lines
 * made by alchdb__adv_line(), so no name, predicate or reason can end a
 * comment and smuggle a statement. A commented-out statement shows its
 * control characters escaped; the JSON keeps the exact SQL. */
static int script(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__adv_line(&sb, "-- ", "libalchdb index advisor: optimisation script for database %s", r->database);
    alchdb__adv_line(&sb, "-- ", "Run outside a transaction block (CONCURRENTLY). Review every statement first.");
    if (r->search_path_note)
        alchdb__adv_line(&sb, "-- ", "%s", r->search_path_note);
    alchdb__sb_printf(&sb, "SET lock_timeout = '%lldms';\n", alchdb__duration_ms_ceil(r->lock_timeout_us));
    size_t n = 0;
    static const char *const order[] = {"high", "medium", "low"};
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < r->nmissing; i++) {
            adv_missing *m = &r->missing[i];
            if (strcmp(m->priority, order[p]))
                continue;
            char ev[160];
            if (m->gain_pct >= 0)
                snprintf(ev, sizeof ev, ": plan cost %.1f -> %.1f (-%.0f %%), verified by %s", m->cost_before,
                         m->cost_after, m->gain_pct, m->verified_by);
            else
                snprintf(ev, sizeof ev, ": %s (unverified)", m->verified_by);
            alchdb__sb_puts(&sb, "\n");
            alchdb__adv_line(&sb, "-- ", "%zu. [%s] missing index on %s (%s)%s", ++n, m->priority, m->table->display,
                             m->cols_text, ev);
            alchdb__sb_printf(&sb, "%s\n", m->create_sql);
        }
    for (size_t i = 0; i < r->nfkmiss; i++) {
        bool dup = false; /* the workload may already have asked for the same index */
        for (size_t j = 0; j < r->nmissing && !dup; j++) {
            size_t fl = strlen(r->fkmiss[i].cols_text);
            const char *mc = r->missing[j].cols_text;
            dup = r->missing[j].table == r->fkmiss[i].fk->table && !r->missing[j].pred &&
                  !strncmp(mc, r->fkmiss[i].cols_text, fl) && (mc[fl] == '\0' || mc[fl] == ',');
        }
        alchdb__sb_puts(&sb, "\n");
        alchdb__adv_line(&sb, "-- ", "%zu. foreign key %s on %s (%s) has no index%s", ++n, r->fkmiss[i].fk->name,
                         r->fkmiss[i].fk->table->display, r->fkmiss[i].cols_text,
                         dup ? " (a suggestion above covers it)" : "");
        if (dup)
            for (size_t k = 0; k < r->fkmiss[i].nsteps; k++)
                alchdb__adv_line(&sb, "-- ", "%s", r->fkmiss[i].steps[k].sql);
        else
            alchdb__sb_printf(&sb, "%s\n", r->fkmiss[i].create_sql);
    }
    if (r->nunused || r->nredundant) {
        alchdb__sb_puts(&sb, "\n");
        alchdb__adv_line(&sb, "-- ", "Drops, commented out: uncomment after checking the replicas and that the "
                                     "statistics window covers every job.");
    }
    for (size_t i = 0; i < r->nredundant; i++) {
        alchdb__adv_line(&sb, "-- ", "%s: %s", r->redundant[i].kind, r->redundant[i].reason);
        alchdb__adv_line(&sb, "-- ", "%s", r->redundant[i].drop_sql);
    }
    for (size_t i = 0; i < r->nunused; i++) {
        bool dup = false;
        for (size_t j = 0; j < r->nredundant && !dup; j++)
            dup = r->redundant[j].idx == r->unused[i].idx;
        if (dup)
            continue;
        alchdb__adv_line(&sb, "-- ", "unused (%lld bytes, confidence %s)", (long long)r->unused[i].idx->bytes,
                         r->unused[i].confidence);
        alchdb__adv_line(&sb, "-- ", "%s", r->unused[i].drop_sql);
    }
    r->script = alchdb__sb_finish(&sb);
    return r->script ? 0 : alchdb__nomem("advisor script");
}

int alchdb__adv_finish(adv_ctx *c)
{
    int rc = health(c);
    return rc ? rc : script(c);
}

void alchdb__adv_report_destroy(alchdb_advisor_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->ntables; i++) {
        adv_table *t = &r->tables[i];
        alchdb__free(t->schema);
        alchdb__free(t->name);
        alchdb__free(t->qname);
        alchdb__free(t->display);
        for (int j = 0; t->cols && j <= t->ncols; j++)
            alchdb__free(t->cols[j]);
        alchdb__free(t->cols);
    }
    alchdb__free(r->tables);
    for (size_t i = 0; i < r->nindexes; i++) {
        adv_index *x = &r->indexes[i];
        alchdb__free(x->schema);
        alchdb__free(x->name);
        alchdb__free(x->qname);
        alchdb__free(x->am);
        alchdb__free(x->def);
        alchdb__free(x->exprs);
        alchdb__free(x->pred);
        alchdb__free(x->keys);
        alchdb__free(x->opclass);
        alchdb__free(x->collation);
        alchdb__free(x->option);
    }
    alchdb__free(r->indexes);
    for (size_t i = 0; i < r->nfks; i++) {
        alchdb__free(r->fks[i].name);
        alchdb__free(r->fks[i].cols);
    }
    alchdb__free(r->fks);
    for (size_t i = 0; i < r->nunused; i++) {
        alchdb__free(r->unused[i].warning);
        alchdb__free(r->unused[i].drop_sql);
    }
    alchdb__free(r->unused);
    for (size_t i = 0; i < r->nredundant; i++) {
        alchdb__free(r->redundant[i].reason);
        alchdb__free(r->redundant[i].drop_sql);
    }
    alchdb__free(r->redundant);
    for (size_t i = 0; i < r->nfkmiss; i++) {
        alchdb__free(r->fkmiss[i].create_sql);
        alchdb__free(r->fkmiss[i].cols_text);
        alchdb__free(r->fkmiss[i].idx_name);
        alchdb__adv_steps_free(r->fkmiss[i].steps, r->fkmiss[i].nsteps);
    }
    alchdb__free(r->fkmiss);
    for (size_t i = 0; i < r->nmissing; i++) {
        adv_missing *m = &r->missing[i];
        alchdb__free(m->colnames);
        alchdb__free(m->name);
        alchdb__free(m->pred);
        alchdb__free(m->create_sql);
        alchdb__free(m->cols_text);
        alchdb__free(m->note);
        alchdb__free(m->why);
        alchdb__adv_steps_free(m->steps, m->nsteps);
        for (size_t j = 0; m->qs && j < m->nqs; j++)
            alchdb__free(m->qs[j].sql);
        alchdb__free(m->qs);
    }
    alchdb__free(r->missing);
    for (size_t i = 0; i < r->nnotes; i++)
        alchdb__free(r->notes[i]);
    alchdb__free(r->notes);
    for (size_t i = 0; i < r->nreasons; i++)
        alchdb__free(r->reasons[i].text);
    alchdb__free(r->reasons);
    for (size_t i = 0; i < r->nrecs; i++)
        alchdb__free(r->recs[i]);
    alchdb__free(r->recs);
    for (size_t i = 0; i < r->nkeywords; i++)
        alchdb__free(r->keywords[i]);
    alchdb__free(r->keywords);
    alchdb__free(r->script);
    alchdb__free(r->database);
    alchdb__free(r->stats_since);
    alchdb__free(r->search_path_note);
    for (size_t i = 0; i < r->nrelnames; i++) {
        alchdb__free(r->relnames[i].schema);
        alchdb__free(r->relnames[i].name);
        alchdb__free(r->relnames[i].viewdef);
    }
    alchdb__free(r->relnames);
    for (size_t i = 0; i < r->nreserved; i++) {
        alchdb__free(r->reserved[i].schema);
        alchdb__free(r->reserved[i].name);
    }
    alchdb__free(r->reserved);
    for (size_t i = 0; i < r->nsearch_path; i++)
        alchdb__free(r->search_path[i]);
    alchdb__free(r->search_path);
    alchdb__adv_trust_free(r);
    alchdb__free(r);
}

void alchdb_advisor_report_free(alchdb_advisor_report *report) { alchdb__adv_report_destroy(report); }

/* ---- JSON ------------------------------------------------------------------------ */

static void jnum(alchdb__strbuf *sb, double v)
{
    if (v < 0 || !isfinite(v))
        alchdb__sb_puts(sb, "null");
    else
        alchdb__sb_printf(sb, "%.2f", v);
}

static void jcols(alchdb__strbuf *sb, char *const *names, int n)
{
    alchdb__sb_puts(sb, "[");
    for (int i = 0; i < n; i++) {
        if (i)
            alchdb__sb_puts(sb, ",");
        alchdb__sb_json_str(sb, names[i]);
    }
    alchdb__sb_puts(sb, "]");
}

int alchdb_advisor_report_to_json(const alchdb_advisor_report *r, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(r, "report", "must not be NULL");
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{\"environment\":{\"database\":");
    alchdb__sb_json_str(&sb, r->database);
    alchdb__sb_printf(&sb,
                      ",\"server_version\":%d,\"hypopg\":%s,\"pg_stat_statements\":%s,\"read_all_stats\":%s,"
                      "\"stats_window_seconds\":",
                      r->server_version, r->has_hypopg ? "true" : "false", r->has_pgss ? "true" : "false",
                      r->read_all_stats ? "true" : "false");
    jnum(&sb, r->window_s);
    alchdb__sb_puts(&sb, ",\"stats_since\":");
    alchdb__sb_json_str(&sb, r->stats_since);
    alchdb__sb_printf(&sb, ",\"replicas\":%d,\"queries_seen\":%zu,\"queries_planned\":%zu,\"search_path_assumed\":",
                      r->replicas, r->nqueries_seen, r->nqueries_used);
    alchdb__sb_json_str(&sb, r->search_path_note);
    alchdb__sb_puts(&sb, "},");

    alchdb__sb_puts(&sb, "\"tables\":[");
    for (size_t i = 0; i < r->ntables; i++) {
        const adv_table *t = &r->tables[i];
        size_t nidx = 0;
        for (size_t j = 0; j < r->nindexes; j++)
            nidx += r->indexes[j].table == t;
        alchdb__sb_puts(&sb, i ? ",{\"table\":" : "{\"table\":");
        alchdb__sb_json_str(&sb, t->display);
        alchdb__sb_puts(&sb, ",\"schema\":");
        alchdb__sb_json_str(&sb, t->schema);
        alchdb__sb_puts(&sb, ",\"name\":");
        alchdb__sb_json_str(&sb, t->name);
        alchdb__sb_printf(&sb,
                          ",\"bytes\":%lld,\"live_rows\":%lld,\"seq_scan\":%lld,\"seq_tup_read\":%lld,"
                          "\"idx_scan\":%lld,\"rows_written\":%lld,\"indexes\":%zu,\"index_usage_ratio\":",
                          (long long)t->bytes, (long long)t->live_rows, (long long)t->seq_scan,
                          (long long)t->seq_tup_read, (long long)t->idx_scan, (long long)t->writes, nidx);
        if (t->seq_scan + t->idx_scan > 0)
            alchdb__sb_printf(&sb, "%.4f}", (double)t->idx_scan / (double)(t->seq_scan + t->idx_scan));
        else
            alchdb__sb_puts(&sb, "null}");
    }
    alchdb__sb_puts(&sb, "],\"index_usage_ratio\":");
    if (r->tot_seq + r->tot_idx > 0)
        alchdb__sb_printf(&sb, "%.4f", (double)r->tot_idx / (double)(r->tot_seq + r->tot_idx));
    else
        alchdb__sb_puts(&sb, "null");

    alchdb__sb_puts(&sb, ",\"unused_indexes\":[");
    for (size_t i = 0; i < r->nunused; i++) {
        const adv_unused *u = &r->unused[i];
        alchdb__sb_puts(&sb, i ? ",{\"table\":" : "{\"table\":");
        alchdb__sb_json_str(&sb, u->idx->table->display);
        alchdb__sb_puts(&sb, ",\"index\":");
        alchdb__sb_json_str(&sb, u->idx->name);
        alchdb__sb_puts(&sb, ",\"definition\":");
        alchdb__sb_json_str(&sb, u->idx->def);
        alchdb__sb_printf(&sb, ",\"scans\":%lld,\"reclaimable_bytes\":%lld,\"observation_window_seconds\":",
                          (long long)u->idx->scans, (long long)u->idx->bytes);
        jnum(&sb, r->window_s);
        alchdb__sb_puts(&sb, ",\"stats_since\":");
        alchdb__sb_json_str(&sb, r->stats_since);
        alchdb__sb_puts(&sb, ",\"confidence\":");
        alchdb__sb_json_str(&sb, u->confidence);
        alchdb__sb_puts(&sb, ",\"supports_foreign_key\":");
        alchdb__sb_json_str(&sb, u->idx->fk_name);
        alchdb__sb_puts(&sb, ",\"warning\":");
        alchdb__sb_json_str(&sb, u->warning);
        alchdb__sb_puts(&sb, ",\"drop_sql\":");
        alchdb__sb_json_str(&sb, u->drop_sql);
        alchdb__sb_puts(&sb, "}");
    }
    alchdb__sb_puts(&sb, "],\"redundant_indexes\":[");
    for (size_t i = 0; i < r->nredundant; i++) {
        const adv_redundant *d = &r->redundant[i];
        alchdb__sb_puts(&sb, i ? ",{\"table\":" : "{\"table\":");
        alchdb__sb_json_str(&sb, d->idx->table->display);
        alchdb__sb_puts(&sb, ",\"index\":");
        alchdb__sb_json_str(&sb, d->idx->name);
        alchdb__sb_puts(&sb, ",\"kind\":");
        alchdb__sb_json_str(&sb, d->kind);
        alchdb__sb_puts(&sb, ",\"covered_by\":");
        alchdb__sb_json_str(&sb, d->by->name);
        alchdb__sb_puts(&sb, ",\"definition\":");
        alchdb__sb_json_str(&sb, d->idx->def);
        alchdb__sb_puts(&sb, ",\"covered_by_definition\":");
        alchdb__sb_json_str(&sb, d->by->def);
        alchdb__sb_printf(&sb, ",\"scans\":%lld,\"covered_by_scans\":%lld,\"reclaimable_bytes\":%lld,\"reason\":",
                          (long long)d->idx->scans, (long long)d->by->scans, (long long)d->idx->bytes);
        alchdb__sb_json_str(&sb, d->reason);
        alchdb__sb_puts(&sb, ",\"drop_sql\":");
        alchdb__sb_json_str(&sb, d->drop_sql);
        alchdb__sb_puts(&sb, "}");
    }
    alchdb__sb_puts(&sb, "],\"fk_without_index\":[");
    for (size_t i = 0; i < r->nfkmiss; i++) {
        const adv_fkmiss *f = &r->fkmiss[i];
        alchdb__sb_puts(&sb, i ? ",{\"table\":" : "{\"table\":");
        alchdb__sb_json_str(&sb, f->fk->table->display);
        alchdb__sb_puts(&sb, ",\"constraint\":");
        alchdb__sb_json_str(&sb, f->fk->name);
        alchdb__sb_puts(&sb, ",\"columns\":[");
        for (int k = 0; k < f->fk->ncols; k++) {
            int16_t a = f->fk->cols[k];
            if (k)
                alchdb__sb_puts(&sb, ",");
            alchdb__sb_json_str(&sb, a > 0 && a <= f->fk->table->ncols ? f->fk->table->cols[a] : NULL);
        }
        alchdb__sb_puts(&sb, "],\"references\":");
        alchdb__sb_json_str(&sb, f->fk->ref->display);
        alchdb__sb_printf(&sb, ",\"referenced_rows_written\":%lld,\"create_sql\":", (long long)f->fk->ref_writes);
        alchdb__sb_json_str(&sb, f->create_sql);
        alchdb__sb_puts(&sb, "}");
    }
    alchdb__sb_puts(&sb, "],\"missing_indexes\":[");
    for (size_t i = 0; i < r->nmissing; i++) {
        const adv_missing *m = &r->missing[i];
        alchdb__sb_puts(&sb, i ? ",{\"table\":" : "{\"table\":");
        alchdb__sb_json_str(&sb, m->table->display);
        alchdb__sb_puts(&sb, ",\"columns\":");
        jcols(&sb, m->colnames, m->ncols);
        alchdb__sb_puts(&sb, ",\"keys\":");
        alchdb__sb_json_str(&sb, m->cols_text);
        alchdb__sb_puts(&sb, ",\"where\":");
        alchdb__sb_json_str(&sb, m->pred);
        alchdb__sb_puts(&sb, ",\"index_name\":");
        alchdb__sb_json_str(&sb, m->name);
        alchdb__sb_puts(&sb, ",\"create_sql\":");
        alchdb__sb_json_str(&sb, m->create_sql);
        alchdb__sb_puts(&sb, ",\"priority\":");
        alchdb__sb_json_str(&sb, m->priority);
        alchdb__sb_puts(&sb, ",\"estimated_gain_pct\":");
        jnum(&sb, m->gain_pct);
        alchdb__sb_puts(&sb, ",\"cost_before\":");
        jnum(&sb, m->cost_before);
        alchdb__sb_puts(&sb, ",\"cost_after\":");
        jnum(&sb, m->cost_after);
        alchdb__sb_puts(&sb, ",\"workload_share_pct\":");
        jnum(&sb, m->workload_share * 100.0);
        alchdb__sb_printf(&sb, ",\"estimated_bytes\":%lld,\"verified_by\":", (long long)m->est_bytes);
        alchdb__sb_json_str(&sb, m->verified_by);
        alchdb__sb_printf(&sb, ",\"verified\":%s,\"note\":", strcmp(m->verified_by, "hypopg") ? "false" : "true");
        alchdb__sb_json_str(&sb, m->note);
        alchdb__sb_puts(&sb, ",\"evidence\":{\"calls\":");
        jnum(&sb, m->calls);
        alchdb__sb_puts(&sb, ",\"saving_per_call\":");
        jnum(&sb, m->saving_per_call);
        if (m->selectivity >= 0)
            alchdb__sb_printf(&sb, ",\"selectivity\":%.6f", m->selectivity);
        else
            alchdb__sb_puts(&sb, ",\"selectivity\":null");
        alchdb__sb_puts(&sb, ",\"table_rows\":");
        jnum(&sb, m->table_rows);
        alchdb__sb_printf(&sb, ",\"rows_written\":%lld,\"table_scans\":%lld,\"table_bytes\":%lld,\"why\":",
                          (long long)m->writes, (long long)m->reads, (long long)m->table_bytes);
        alchdb__sb_json_str(&sb, m->why);
        alchdb__sb_puts(&sb, "}");
        alchdb__sb_puts(&sb, ",\"queries\":[");
        for (size_t j = 0; j < m->nqs; j++) {
            alchdb__sb_puts(&sb, j ? ",{\"query\":" : "{\"query\":");
            alchdb__sb_json_str(&sb, m->qs[j].sql);
            alchdb__sb_printf(&sb, ",\"calls\":%lld,\"cost_before\":", (long long)m->qs[j].calls);
            jnum(&sb, m->qs[j].before);
            alchdb__sb_puts(&sb, ",\"cost_after\":");
            jnum(&sb, m->qs[j].after);
            alchdb__sb_puts(&sb, "}");
        }
        alchdb__sb_puts(&sb, "]}");
    }
    alchdb__sb_printf(&sb, "],\"health\":{\"score\":%d,\"reasons\":[", r->health);
    for (size_t i = 0; i < r->nreasons; i++) {
        alchdb__sb_puts(&sb, i ? ",{\"reason\":" : "{\"reason\":");
        alchdb__sb_json_str(&sb, r->reasons[i].text);
        alchdb__sb_printf(&sb, ",\"points\":%d}", r->reasons[i].points);
    }
    alchdb__sb_puts(&sb, "],\"recommendations\":[");
    for (size_t i = 0; i < r->nrecs; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        alchdb__sb_json_str(&sb, r->recs[i]);
    }
    alchdb__sb_puts(&sb, "]},\"script\":");
    alchdb__sb_json_str(&sb, r->script);
    alchdb__sb_puts(&sb, ",\"notes\":[");
    for (size_t i = 0; i < r->nnotes; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        alchdb__sb_json_str(&sb, r->notes[i]);
    }
    alchdb__sb_puts(&sb, "]}");
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("advisor JSON");
}

/* Every line through alchdb__adv_line(): names, predicates, statements and
 * notes come from the database and the workload, and none may forge a line. */
int alchdb_advisor_report_to_text(const alchdb_advisor_report *r, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(r, "report", "must not be NULL");
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__adv_line(&sb, "", "Index advisor: database %s, %zu table(s), %zu index(es)", r->database, r->ntables,
                     r->nindexes);
    alchdb__adv_line(&sb, "", "Statistics since %s (%.0f s); HypoPG %s; pg_stat_statements %s; %zu/%zu queries planned",
                     r->stats_since, r->window_s, r->has_hypopg ? "yes" : "no", r->has_pgss ? "yes" : "no",
                     r->nqueries_used, r->nqueries_seen);
    if (r->search_path_note)
        alchdb__adv_line(&sb, "", "%s", r->search_path_note);
    if (r->tot_seq + r->tot_idx > 0)
        alchdb__adv_line(&sb, "", "Index usage ratio: %.1f %% (target > 95 %%)",
                         100.0 * (double)r->tot_idx / (double)(r->tot_seq + r->tot_idx));
    alchdb__adv_line(&sb, "", "Health: %d/100", r->health);
    for (size_t i = 0; i < r->nreasons; i++)
        alchdb__adv_line(&sb, "  ", "%+d  %s", r->reasons[i].points, r->reasons[i].text);
    alchdb__sb_puts(&sb, "\n");
    alchdb__adv_line(&sb, "", "Missing indexes (%zu):", r->nmissing);
    for (size_t i = 0; i < r->nmissing; i++) {
        const adv_missing *m = &r->missing[i];
        char ev[128] = "";
        if (m->gain_pct >= 0)
            snprintf(ev, sizeof ev, ", cost %.1f -> %.1f (-%.0f %%)", m->cost_before, m->cost_after, m->gain_pct);
        alchdb__adv_line(&sb, "  ", "[%s] %s (%s)%s%s  verified by %s%s, %zu quer%s", m->priority, m->table->display,
                         m->cols_text, m->pred ? " WHERE " : "", m->pred ? m->pred : "", m->verified_by, ev, m->nqs,
                         m->nqs == 1 ? "y" : "ies");
        for (size_t k = 0; k < m->nsteps; k++)
            alchdb__adv_line(&sb, "    ", "%s", m->steps[k].sql);
        alchdb__adv_line(&sb, "    ", "why %s: %s", m->priority, m->why ? m->why : "");
        if (m->note)
            alchdb__adv_line(&sb, "    ", "note: %s", m->note);
    }
    alchdb__sb_puts(&sb, "\n");
    alchdb__adv_line(&sb, "", "Foreign keys without an index (%zu):", r->nfkmiss);
    for (size_t i = 0; i < r->nfkmiss; i++) {
        alchdb__adv_line(&sb, "  ", "%s %s (%s) -> %s", r->fkmiss[i].fk->table->display, r->fkmiss[i].fk->name,
                         r->fkmiss[i].cols_text, r->fkmiss[i].fk->ref->display);
        for (size_t k = 0; k < r->fkmiss[i].nsteps; k++)
            alchdb__adv_line(&sb, "    ", "%s", r->fkmiss[i].steps[k].sql);
    }
    alchdb__sb_puts(&sb, "\n");
    alchdb__adv_line(&sb, "", "Unused indexes (%zu):", r->nunused);
    for (size_t i = 0; i < r->nunused; i++) {
        alchdb__adv_line(&sb, "  ", "%s on %s, %lld bytes, confidence %s", r->unused[i].idx->name,
                         r->unused[i].idx->table->display, (long long)r->unused[i].idx->bytes, r->unused[i].confidence);
        alchdb__adv_line(&sb, "    ", "%s", r->unused[i].drop_sql);
        if (r->unused[i].warning)
            alchdb__adv_line(&sb, "    ", "warning: %s", r->unused[i].warning);
    }
    alchdb__sb_puts(&sb, "\n");
    alchdb__adv_line(&sb, "", "Redundant indexes (%zu):", r->nredundant);
    for (size_t i = 0; i < r->nredundant; i++) {
        alchdb__adv_line(&sb, "  ", "%s (%s): %s", r->redundant[i].idx->name, r->redundant[i].kind,
                         r->redundant[i].reason);
        alchdb__adv_line(&sb, "    ", "%s", r->redundant[i].drop_sql);
    }
    if (r->nrecs)
        alchdb__sb_puts(&sb, "\nRecommendations:\n");
    for (size_t i = 0; i < r->nrecs; i++)
        alchdb__adv_line(&sb, "  - ", "%s", r->recs[i]);
    if (r->nnotes)
        alchdb__sb_puts(&sb, "\nNot done (partial report):\n");
    for (size_t i = 0; i < r->nnotes; i++)
        alchdb__adv_line(&sb, "  - ", "%s", r->notes[i]);
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("advisor text");
}

/* ---- accessors ------------------------------------------------------------------------ */

const char *alchdb_advisor_report_script(const alchdb_advisor_report *r)
{
    if (!r) {
        alchdb__invalid_arg(__func__, "report", "must not be NULL");
        return NULL;
    }
    return r->script;
}

static size_t count(const alchdb_advisor_report *r, int kind)
{
    switch (kind) {
    case ALCHDB_ADVISOR_TABLES: return r->ntables;
    case ALCHDB_ADVISOR_UNUSED: return r->nunused;
    case ALCHDB_ADVISOR_REDUNDANT: return r->nredundant;
    case ALCHDB_ADVISOR_FK: return r->nfkmiss;
    case ALCHDB_ADVISOR_MISSING: return r->nmissing;
    default: return 0;
    }
}

int64_t alchdb_advisor_report_count(const alchdb_advisor_report *r, int kind)
{
    ALCHDB_CHECK_ARG(r, "report", "must not be NULL");
    ALCHDB_CHECK_ARG(kind >= ALCHDB_ADVISOR_TABLES && kind <= ALCHDB_ADVISOR_MISSING, "kind",
                     "is not an alchdb_advisor_kind");
    return (int64_t)count(r, kind);
}

static bool item_ok(const alchdb_advisor_report *r, int kind, size_t i, const char *func)
{
    if (!r) {
        alchdb__invalid_arg(func, "report", "must not be NULL");
        return false;
    }
    if (kind < ALCHDB_ADVISOR_TABLES || kind > ALCHDB_ADVISOR_MISSING) {
        alchdb__invalid_arg(func, "kind", "is not an alchdb_advisor_kind");
        return false;
    }
    if (i >= count(r, kind)) {
        alchdb__invalid_arg(func, "i", "is out of range");
        return false;
    }
    return true;
}

const char *alchdb_advisor_report_item_table(const alchdb_advisor_report *r, int kind, size_t i)
{
    if (!item_ok(r, kind, i, __func__))
        return NULL;
    switch (kind) {
    case ALCHDB_ADVISOR_TABLES: return r->tables[i].display;
    case ALCHDB_ADVISOR_UNUSED: return r->unused[i].idx->table->display;
    case ALCHDB_ADVISOR_REDUNDANT: return r->redundant[i].idx->table->display;
    case ALCHDB_ADVISOR_FK: return r->fkmiss[i].fk->table->display;
    default: return r->missing[i].table->display;
    }
}

const char *alchdb_advisor_report_item_name(const alchdb_advisor_report *r, int kind, size_t i)
{
    if (!item_ok(r, kind, i, __func__))
        return NULL;
    switch (kind) {
    case ALCHDB_ADVISOR_TABLES: return NULL;
    case ALCHDB_ADVISOR_UNUSED: return r->unused[i].idx->name;
    case ALCHDB_ADVISOR_REDUNDANT: return r->redundant[i].idx->name;
    case ALCHDB_ADVISOR_FK: return r->fkmiss[i].fk->name;
    default: return r->missing[i].name;
    }
}

const char *alchdb_advisor_report_item_detail(const alchdb_advisor_report *r, int kind, size_t i)
{
    if (!item_ok(r, kind, i, __func__))
        return NULL;
    switch (kind) {
    case ALCHDB_ADVISOR_TABLES: return NULL;
    case ALCHDB_ADVISOR_UNUSED: return r->unused[i].idx->def;
    case ALCHDB_ADVISOR_REDUNDANT: return r->redundant[i].idx->def;
    case ALCHDB_ADVISOR_FK: return r->fkmiss[i].cols_text;
    default: return r->missing[i].cols_text;
    }
}

const char *alchdb_advisor_report_item_sql(const alchdb_advisor_report *r, int kind, size_t i)
{
    if (!item_ok(r, kind, i, __func__))
        return NULL;
    switch (kind) {
    case ALCHDB_ADVISOR_TABLES: return NULL;
    case ALCHDB_ADVISOR_UNUSED: return r->unused[i].drop_sql;
    case ALCHDB_ADVISOR_REDUNDANT: return r->redundant[i].drop_sql;
    case ALCHDB_ADVISOR_FK: return r->fkmiss[i].create_sql;
    default: return r->missing[i].create_sql;
    }
}

const char *alchdb_advisor_report_missing_verified_by(const alchdb_advisor_report *r, size_t i)
{
    if (!item_ok(r, ALCHDB_ADVISOR_MISSING, i, __func__))
        return NULL;
    return r->missing[i].verified_by;
}

double alchdb_advisor_report_index_usage_ratio(const alchdb_advisor_report *r)
{
    if (!r) {
        alchdb__invalid_arg(__func__, "report", "must not be NULL");
        return -1;
    }
    return r->tot_seq + r->tot_idx > 0 ? (double)r->tot_idx / (double)(r->tot_seq + r->tot_idx) : -1;
}

int alchdb_advisor_report_health(const alchdb_advisor_report *r)
{
    ALCHDB_CHECK_ARG(r, "report", "must not be NULL");
    return r->health;
}

int64_t alchdb_advisor_report_note_count(const alchdb_advisor_report *r)
{
    ALCHDB_CHECK_ARG(r, "report", "must not be NULL");
    return (int64_t)r->nnotes;
}

const char *alchdb_advisor_report_note(const alchdb_advisor_report *r, size_t i)
{
    if (!r || i >= r->nnotes) {
        alchdb__invalid_arg(__func__, r ? "i" : "report", r ? "is out of range" : "must not be NULL");
        return NULL;
    }
    return r->notes[i];
}
