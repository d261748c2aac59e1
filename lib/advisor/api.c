/* alchdb_advisor_analyze and alchdb_advisor_apply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv.h"
#include "alchdb/pq.h"
#include "pqconn.h"

static void session_setup(PGconn *conn, const adv_settings *o)
{
    char buf[96];
    /* Only reads: nothing the advisor sends can change data. */
    PQclear(PQexecParams(conn, "SET default_transaction_read_only = on", 0, NULL, NULL, NULL, NULL, 0));
    snprintf(buf, sizeof buf, "SET statement_timeout = %lld", alchdb__duration_ms_ceil(o->statement_timeout_us));
    PQclear(PQexecParams(conn, buf, 0, NULL, NULL, NULL, NULL, 0));
}

static int run(PGconn *conn, const adv_settings *opts, alchdb_advisor_report **out)
{
    alchdb_advisor_report *r = alchdb__calloc(1, sizeof *r);
    if (!r)
        return alchdb__nomem("advisor report");
    r->window_s = -1;
    r->lock_timeout_us = opts->lock_timeout_us;
    adv_ctx c = {conn, opts, r};
    int64_t t0 = alchdb__now_ns();
    int rc = alchdb__adv_load_catalog(&c);
    if (!rc)
        rc = alchdb__adv_find_problems(&c);
    if (!rc && !r->ntables)
        alchdb__adv_note(r, "the database has no user tables: nothing to analyse");
    if (!rc)
        rc = alchdb__adv_missing(&c);
    if (!rc) {
        alchdb__adv_keep_attached(r);
        rc = alchdb__adv_finish(&c);
    }
    if (rc) {
        alchdb__adv_report_destroy(r);
        return rc;
    }
    alchdb__log(ALCHDB_LOG_DEBUG, ADV_MOD, "analysed %zu tables, %zu indexes, %zu statements in %.1f ms", r->ntables,
                r->nindexes, r->nqueries_seen, (double)(alchdb__now_ns() - t0) / 1e6);
    *out = r;
    return 0;
}

ALCHDB_API int alchdb_advisor_analyze_pgconn(PGconn *conn, const alchdb_advisor_config *cfg, alchdb_advisor_report **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(conn && PQstatus(conn) == CONNECTION_OK, "conn", "must be an open connection");
    adv_settings opts;
    alchdb__adv_settings_load(&opts, cfg);
    /* Borrowed session: restore what we change. */
    PQclear(PQexecParams(conn, "SET SESSION default_transaction_read_only = on", 0, NULL, NULL, NULL, NULL, 0));
    int rc = run(conn, &opts, out);
    PQclear(PQexecParams(conn, "RESET default_transaction_read_only", 0, NULL, NULL, NULL, NULL, 0));
    PQclear(PQexecParams(conn, "RESET plan_cache_mode", 0, NULL, NULL, NULL, NULL, 0));
    return rc;
}

static PGconn *connect_db(const adv_settings *opts, const char *what)
{
    PGconn *conn = NULL;
    char label[64];
    snprintf(label, sizeof label, "%s: cannot connect", what);
    alchdb__pq_connect_default(opts->conninfo, ADV_MOD, label, &conn);
    return conn;
}

int alchdb_advisor_analyze(const alchdb_advisor_config *cfg, alchdb_advisor_report **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    adv_settings opts;
    alchdb__adv_settings_load(&opts, cfg);
    ALCHDB_CHECK_ARG(opts.conninfo && *opts.conninfo, "cfg", "has no conninfo (ALCHDB_ADVISOR_OPT_CONNINFO)");
    PGconn *conn = connect_db(&opts, "advisor");
    if (!conn)
        return alchdb_last_error_code();
    session_setup(conn, &opts);
    int rc = run(conn, &opts, out);
    PQfinish(conn);
    return rc;
}

/* ---- apply --------------------------------------------------------------------- */

/* Is there an index of this name in this schema, and is it valid? 1 valid,
 * 0 invalid, -1 absent, -2 error. */
static int index_state(PGconn *conn, const char *schema, const char *name)
{
    const char *p[2] = {schema, name};
    PGresult *res = PQexecParams(conn,
                                 "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                                 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2",
                                 2, NULL, p, NULL, NULL, 0);
    int st = -2;
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        st = PQntuples(res) == 0 ? -1 : PQgetvalue(res, 0, 0)[0] == 't' ? 1 : 0;
    PQclear(res);
    return st;
}

static int exec_simple(PGconn *conn, const char *sql, char *err, size_t errlen)
{
    PGresult *res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        alchdb__pq_result_message(err, errlen, conn, res, true);
    PQclear(res);
    return ok ? 0 : -1;
}

/* DROP INDEX [CONCURRENTLY] IF EXISTS schema.name (a partitioned index, or
 * one that has such an index as its parent, cannot be dropped concurrently). */
static int drop_index(PGconn *conn, const char *schema, const char *name, bool concurrently)
{
    char *qs = PQescapeIdentifier(conn, schema, strlen(schema));
    char *qn = PQescapeIdentifier(conn, name, strlen(name));
    int rc = -1;
    if (qs && qn) {
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        alchdb__sb_printf(&sb, "DROP INDEX %sIF EXISTS %s.%s", concurrently ? "CONCURRENTLY " : "", qs, qn);
        char *sql = alchdb__sb_finish(&sb);
        char err[256];
        rc = sql ? exec_simple(conn, sql, err, sizeof err) : -1;
        alchdb__free(sql);
    }
    PQfreemem(qs);
    PQfreemem(qn);
    return rc;
}

/* Run the statements that create one index (one, or for a partitioned table
 * the parent's, each partition's and the ATTACHes). When one fails, the
 * indexes this call made are dropped (the parent's first: dropping it drops
 * the partitions' indexes attached to it), and so is an INVALID index the
 * failed statement left; an index someone else made is never touched. */
static int run_steps(PGconn *conn, const adv_step *steps, size_t n)
{
    char err[512];
    for (size_t i = 0; i < n; i++) {
        if (!exec_simple(conn, steps[i].sql, err, sizeof err))
            continue;
        bool left = steps[i].name && index_state(conn, steps[i].schema, steps[i].name) == 0;
        bool clean = !left || drop_index(conn, steps[i].schema, steps[i].name, steps[i].concurrent) == 0;
        for (size_t j = 0; j < i; j++)
            if (steps[j].name && drop_index(conn, steps[j].schema, steps[j].name, steps[j].concurrent))
                clean = false;
        return alchdb__error(ALCHDB_E_QUERY, "advisor apply: CREATE INDEX failed%s%s: %s; %s", n > 1 ? " at " : "",
                             n > 1 ? steps[i].sql : "", err,
                             !left && i == 0 ? "nothing was left behind"
                             : clean ? (n > 1 ? "the indexes it made were dropped" : "the INVALID index it left was dropped")
                                     : "what it made could not all be dropped");
    }
    return 0;
}

int alchdb_advisor_apply(const alchdb_advisor_config *cfg, const alchdb_advisor_report *report, int kind, size_t i)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    adv_settings opts;
    alchdb__adv_settings_load(&opts, cfg);
    ALCHDB_CHECK_ARG(opts.conninfo && *opts.conninfo, "cfg", "has no conninfo (ALCHDB_ADVISOR_OPT_CONNINFO)");
    ALCHDB_CHECK_ARG(report, "report", "must not be NULL");
    ALCHDB_CHECK_ARG(kind >= ALCHDB_ADVISOR_UNUSED && kind <= ALCHDB_ADVISOR_MISSING, "kind",
                     "must be UNUSED, REDUNDANT, FK or MISSING");
    int64_t n = alchdb_advisor_report_count(report, kind);
    ALCHDB_CHECK_ARG((int64_t)i < n, "i", "is out of range");
    const char *sql = alchdb_advisor_report_item_sql(report, kind, i);
    const adv_step *steps = NULL;
    size_t nsteps = 0;
    const char *schema, *name;
    bool create = kind == ALCHDB_ADVISOR_MISSING || kind == ALCHDB_ADVISOR_FK;
    if (kind == ALCHDB_ADVISOR_MISSING) {
        schema = report->missing[i].table->schema;
        name = report->missing[i].name;
        steps = report->missing[i].steps;
        nsteps = report->missing[i].nsteps;
    } else if (kind == ALCHDB_ADVISOR_FK) {
        schema = report->fkmiss[i].fk->table->schema;
        name = report->fkmiss[i].idx_name;
        steps = report->fkmiss[i].steps;
        nsteps = report->fkmiss[i].nsteps;
    } else if (kind == ALCHDB_ADVISOR_UNUSED) {
        schema = report->unused[i].idx->schema;
        name = report->unused[i].idx->name;
    } else {
        schema = report->redundant[i].idx->schema;
        name = report->redundant[i].idx->name;
    }
    PGconn *conn = connect_db(&opts, "advisor apply");
    if (!conn)
        return alchdb_last_error_code();
    char buf[96], err[512];
    snprintf(buf, sizeof buf, "SET lock_timeout = %lld", alchdb__duration_ms_ceil(opts.lock_timeout_us));
    int rc = 0;
    if (exec_simple(conn, buf, err, sizeof err) || exec_simple(conn, "SET statement_timeout = 0", err, sizeof err)) {
        rc = alchdb__error(ALCHDB_E_QUERY, "advisor apply: %s", err);
        goto done;
    }
    if (create) {
        int st = index_state(conn, schema, name);
        if (st == 1) {
            rc = alchdb__error(ALCHDB_E_STATE, "advisor apply: index %s.%s exists already", schema, name);
            goto done;
        }
        /* a leftover of an earlier failed build */
        if (st == 0 && drop_index(conn, schema, name, nsteps && steps[0].concurrent)) {
            rc = alchdb__error(ALCHDB_E_QUERY, "advisor apply: cannot drop the INVALID index %s.%s", schema, name);
            goto done;
        }
        rc = run_steps(conn, steps, nsteps);
    } else if (exec_simple(conn, sql, err, sizeof err)) {
        rc = alchdb__error(ALCHDB_E_QUERY, "advisor apply: DROP INDEX failed: %s", err);
    }
    if (!rc)
        alchdb__log(ALCHDB_LOG_INFO, ADV_MOD, "applied: %s", sql);
done:
    PQfinish(conn);
    return rc;
}
