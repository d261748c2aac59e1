/* The phased plan: statements grouped into
 * phases that each hold their locks as briefly as possible. Brief metadata
 * changes share one transaction with lock_timeout; anything that cannot run in
 * a transaction block, rewrites, scans or builds, changes data in bulk, or is
 * opaque gets a phase of its own with a checkpoint to verify before going on. */
#include <stdio.h>
#include <string.h>

#include "model.h"

static bool heavy(const mig_stmt *st)
{
    return st->concurrent ||
           (st->flags & (ALCHDB_MIG_REWRITES_TABLE | ALCHDB_MIG_SCANS_TABLE | ALCHDB_MIG_BUILDS_INDEX |
                         ALCHDB_MIG_OPAQUE)) ||
           st->risk == ALCHDB_RISK_HIGH || st->risk == ALCHDB_RISK_UNKNOWN;
}

static int strongest_lock(const mig_stmt *st)
{
    int mode = 0;
    for (size_t i = 0; i < st->nlocks; i++)
        if (st->locks[i].existing && st->locks[i].mode > mode)
            mode = st->locks[i].mode;
    return mode;
}

static const char *first_rel(const mig_stmt *st)
{
    for (size_t i = 0; i < st->nlocks; i++)
        if (st->locks[i].existing)
            return st->locks[i].relation;
    return st->nlocks ? st->locks[0].relation : "the database";
}

static char *phase_name(const mig_stmt *st)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    const char *rel = first_rel(st);
    if (st->flags & ALCHDB_MIG_OPAQUE)
        alchdb__sb_printf(&sb, "opaque code (review by hand)");
    else if (st->concurrent && (st->flags & ALCHDB_MIG_BUILDS_INDEX))
        alchdb__sb_printf(&sb, "concurrent index work on %s (no transaction)", rel);
    else if (st->concurrent)
        alchdb__sb_printf(&sb, "non-transactional step on %s", rel);
    else if (st->flags & ALCHDB_MIG_REWRITES_TABLE)
        alchdb__sb_printf(&sb, "rewrite of %s (maintenance window)", rel);
    else if (st->flags & ALCHDB_MIG_BUILDS_INDEX)
        alchdb__sb_printf(&sb, "index build on %s", rel);
    else if (st->flags & ALCHDB_MIG_SCANS_TABLE)
        alchdb__sb_printf(&sb, "validation scan of %s", rel);
    else if (st->risk == ALCHDB_RISK_HIGH)
        alchdb__sb_printf(&sb, "destructive change on %s", rel);
    else
        alchdb__sb_printf(&sb, "step on %s", rel);
    return alchdb__sb_finish(&sb);
}

static char *checkpoint_for(const mig_stmt *st)
{
    if (st->concurrent && (st->flags & ALCHDB_MIG_BUILDS_INDEX))
        return alchdb__strdup("the index is valid: SELECT indisvalid FROM pg_index WHERE indexrelid = '<index>'::regclass "
                              "returns true (if false: DROP INDEX CONCURRENTLY it and retry)");
    if (st->flags & ALCHDB_MIG_REWRITES_TABLE)
        return alchdb__strdup("the rewrite committed; table size and plans checked (ANALYZE), replicas caught up");
    if (st->flags & ALCHDB_MIG_BUILDS_INDEX)
        return alchdb__strdup("the index exists and is valid (pg_index.indisvalid); writes flowing again, replicas "
                              "caught up");
    if (st->flags & ALCHDB_MIG_SCANS_TABLE)
        return alchdb__strdup("the statement finished (for a constraint: pg_constraint.convalidated is true); error "
                              "rate and p95 latency back to normal");
    if (st->risk == ALCHDB_RISK_HIGH)
        return alchdb__strdup("a backup exists and no client uses the removed or renamed object (check errors)");
    return alchdb__strdup("committed; application error rate and p95 latency unchanged");
}

static int add_phase(mig_file *f, size_t *cap, mig_phase **cur)
{
    if (f->nphases == *cap) {
        size_t nc = *cap ? *cap * 2 : 4;
        mig_phase *p = alchdb__realloc(f->phases, nc * sizeof *p);
        if (!p)
            return alchdb__nomem("migration plan");
        f->phases = p;
        *cap = nc;
    }
    *cur = &f->phases[f->nphases++];
    memset(*cur, 0, sizeof **cur);
    (*cur)->expected_seconds = 0;
    return 0;
}

static int phase_add_stmt(mig_phase *p, size_t idx, const mig_stmt *st)
{
    size_t *s = alchdb__realloc(p->stmts, (p->nstmts + 1) * sizeof *s);
    if (!s)
        return alchdb__nomem("migration plan");
    p->stmts = s;
    p->stmts[p->nstmts++] = idx;
    int l = strongest_lock(st);
    if (l > p->lock)
        p->lock = l;
    if (st->estimated_seconds < 0 || p->expected_seconds < 0)
        p->expected_seconds = -1;
    else
        p->expected_seconds += st->estimated_seconds;
    return 0;
}

int alchdb__mig_plan_file(mig_file *f)
{
    size_t cap = 0;
    mig_phase *batch = NULL; /* the open phase of brief transactional steps */
    for (size_t i = 0; i < f->nstmts; i++) {
        const mig_stmt *st = &f->stmts[i];
        if (st->txn_control)
            continue;
        mig_phase *p = NULL;
        int rc;
        if (heavy(st)) {
            batch = NULL;
            if ((rc = add_phase(f, &cap, &p)) < 0)
                return rc;
            p->transactional = !st->concurrent && !(st->flags & ALCHDB_MIG_OPAQUE);
            p->name = phase_name(st);
            p->checkpoint = checkpoint_for(st);
            if (!p->name || !p->checkpoint)
                return alchdb__nomem("migration plan");
            if ((rc = phase_add_stmt(p, i, st)) < 0)
                return rc;
        } else {
            if (!batch) {
                if ((rc = add_phase(f, &cap, &batch)) < 0)
                    return rc;
                batch->transactional = true;
                batch->name = alchdb__strdup("brief metadata changes in one transaction");
                batch->checkpoint = checkpoint_for(st);
                if (!batch->name || !batch->checkpoint)
                    return alchdb__nomem("migration plan");
            }
            if ((rc = phase_add_stmt(batch, i, st)) < 0)
                return rc;
        }
    }
    return 0;
}
