/* The executor of a phased plan: lock_timeout on every phase, bounded retries
 * on lock timeouts and deadlocks, a clean stop at a phase boundary. */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "pqconn.h"

typedef struct exec_out {
    int status; /* 0 done, 1 failed, 2 skipped */
    int attempts;
    double seconds;
    char error[512];
    char sqlstate[6];
} exec_out;

static bool run(PGconn *c, const char *sql, exec_out *o)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        snprintf(o->sqlstate, sizeof o->sqlstate, "%s", state ? state : "");
        alchdb__pq_result_message(o->error, sizeof o->error, c, r, false);
    }
    PQclear(r);
    return ok;
}

static bool retryable(const char *sqlstate)
{
    return !strcmp(sqlstate, "55P03") || !strcmp(sqlstate, "40P01"); /* lock_not_available, deadlock */
}

/* A failed CREATE INDEX CONCURRENTLY leaves an INVALID index behind. */
static void drop_invalid_indexes(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT format('DROP INDEX CONCURRENTLY IF EXISTS %I.%I', n.nspname, i.relname) "
                            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                            "JOIN pg_namespace n ON n.oid = i.relnamespace WHERE NOT x.indisvalid");
    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        for (int k = 0; k < PQntuples(r); k++) {
            exec_out ignore = {0};
            if (run(c, PQgetvalue(r, k, 0), &ignore))
                alchdb__log(ALCHDB_LOG_INFO, "migration", "dropped an invalid index: %s", PQgetvalue(r, k, 0));
        }
    PQclear(r);
}

static int run_phase(alchdb_migration *m, PGconn *c, const mig_file *f, const mig_phase *p, exec_out *o)
{
    char set[128];
    for (o->attempts = 1;; o->attempts++) {
        o->error[0] = o->sqlstate[0] = '\0';
        snprintf(set, sizeof set, "SET lock_timeout = %lld", alchdb__duration_ms_ceil(m->opts.lock_timeout_us));
        bool ok = run(c, set, o);
        if (ok && m->opts.statement_timeout_us > 0) {
            snprintf(set, sizeof set, "SET statement_timeout = %lld",
                     alchdb__duration_ms_ceil(m->opts.statement_timeout_us));
            ok = run(c, set, o);
        }
        if (ok && p->transactional)
            ok = run(c, "BEGIN", o);
        for (size_t k = 0; ok && k < p->nstmts; k++)
            ok = run(c, f->stmts[p->stmts[k]].sql, o);
        if (ok && p->transactional)
            ok = run(c, "COMMIT", o);
        if (ok)
            return 0;
        if (p->transactional) {
            exec_out ignore = {0};
            run(c, "ROLLBACK", &ignore);
        } else {
            drop_invalid_indexes(c);
        }
        if (!retryable(o->sqlstate) || o->attempts >= m->opts.max_retries)
            return -1;
        /* Give the blocker time to finish: 0.5 s, 1 s, 2 s, … */
        alchdb__log(ALCHDB_LOG_WARN, "migration", "phase '%s' attempt %d: %s; retrying", p->name, o->attempts,
                    o->error);
        int64_t ms = 500LL << (o->attempts - 1 < 6 ? o->attempts - 1 : 6);
        struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

ALCHDB_API int alchdb_migration_execute(alchdb_migration *m, size_t file, char **json_out)
{
    ALCHDB_CHECK_ARG(json_out, "json_out", "must not be NULL");
    *json_out = NULL;
    ALCHDB_CHECK_ARG(m, "m", "must not be NULL");
    ALCHDB_CHECK_ARG(m->opts.conninfo, "m", "needs ALCHDB_MIGRATION_OPT_CONNINFO (the database to migrate)");
    ALCHDB_CHECK_ARG(file < m->nfiles, "file", "index out of range");
    const mig_file *f = &m->files[file];
    if (f->error)
        return alchdb__error(ALCHDB_E_INVALID, "%s: %s does not parse (line %lld): refusing to run it", __func__,
                             f->name, (long long)f->err_line);
    for (size_t i = 0; i < f->nstmts; i++)
        if ((f->stmts[i].flags & ALCHDB_MIG_OPAQUE) && f->stmts[i].risk == ALCHDB_RISK_UNKNOWN)
            return alchdb__error(ALCHDB_E_INVALID,
                                 "%s: statement %zu of %s is opaque (DO block): run it by hand after review",
                                 __func__, i + 1, f->name);
    PGconn *c = NULL;
    int crc = alchdb__pq_connect_default(m->opts.conninfo, "migration", "alchdb_migration_execute: cannot connect", &c);
    if (crc < 0)
        return crc;
    exec_out *outs = alchdb__calloc(f->nphases ? f->nphases : 1, sizeof *outs);
    if (!outs) {
        PQfinish(c);
        return alchdb__nomem("migration executor");
    }
    size_t done = 0;
    bool failed = false;
    for (size_t i = 0; i < f->nphases; i++) {
        if (failed) {
            outs[i].status = 2;
            continue;
        }
        int64_t t0 = alchdb__now_ns();
        if (run_phase(m, c, f, &f->phases[i], &outs[i]) < 0) {
            outs[i].status = 1;
            failed = true;
        } else {
            done++;
        }
        outs[i].seconds = (double)(alchdb__now_ns() - t0) / 1e9;
    }
    PQfinish(c);

    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "{\"file\":");
    alchdb__sb_json_str(&sb, f->name);
    alchdb__sb_printf(&sb, ",\"completed\":%s,\"phases_done\":%zu,\"phases\":[", failed ? "false" : "true", done);
    static const char *const st[] = {"done", "failed", "skipped"};
    for (size_t i = 0; i < f->nphases; i++) {
        alchdb__sb_printf(&sb, "%s{\"phase\":%zu,\"name\":", i ? "," : "", i + 1);
        alchdb__sb_json_str(&sb, f->phases[i].name);
        alchdb__sb_printf(&sb, ",\"status\":\"%s\",\"attempts\":%d,\"seconds\":%.3f,\"error\":", st[outs[i].status],
                          outs[i].attempts, outs[i].seconds);
        alchdb__sb_json_str(&sb, outs[i].status == 1 ? outs[i].error : NULL);
        alchdb__sb_puts(&sb, ",\"sqlstate\":");
        alchdb__sb_json_str(&sb, outs[i].status == 1 ? outs[i].sqlstate : NULL);
        alchdb__sb_puts(&sb, "}");
    }
    alchdb__sb_puts(&sb, "]}");
    char failed_msg[600] = "";
    for (size_t i = 0; i < f->nphases; i++)
        if (outs[i].status == 1)
            snprintf(failed_msg, sizeof failed_msg, "phase %zu (%s) failed after %d attempt(s): %s", i + 1,
                     f->phases[i].name, outs[i].attempts, outs[i].error);
    alchdb__free(outs);
    *json_out = alchdb__sb_finish(&sb);
    if (!*json_out)
        return alchdb__nomem("migration executor report");
    if (failed)
        return alchdb__error(ALCHDB_E_QUERY, "%s: %s; earlier phases stay applied", __func__, failed_msg);
    return 0;
}
