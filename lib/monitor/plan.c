/* Plan capture: EXPLAIN (FORMAT JSON) of slow patterns, generic plans for
 * texts with $n parameters. Runs on the caller's thread, never holding a lock
 * the recorders need across a server round trip. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alchdb/pq.h"
#include "monitor/monitor_internal.h"
#include "sql/sql_internal.h"
#include "pqconn.h"

#define PLAN_STMT "alchdb_monitor_plan"
#define PLAN_MAX_BYTES (256 * 1024)

typedef struct cand {
    uint32_t slot, gen;
    int64_t total_us;
    char *text;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return x->total_us > y->total_us ? -1 : x->total_us < y->total_us;
}

/* Highest $n in a normalized text, read with the SQL module's scanner (a
 * "$5" inside a string, a dollar quote or a comment is not a parameter). */
static int count_params(const char *t)
{
    int maxn = 0;
    size_t len = strlen(t);
    alchdb__sql_tok tok;
    for (size_t pos = 0; pos < len;) {
        pos = alchdb__sql_token(t, len, pos, &tok);
        if (tok.kind != ALCHDB__SQL_TOK_PARAM || tok.len > 6)
            continue;
        int n = (int)strtol(t + tok.start + 1, NULL, 10);
        if (n > maxn && n <= 65535)
            maxn = n;
    }
    return maxn;
}

static void exec_quiet(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    PQclear(r);
}

/* The server's error for a failed step, redacted and on one line (owned). */
static char *step_error(PGconn *c, const PGresult *r)
{
    char msg[512];
    alchdb__pq_result_message(msg, sizeof msg, c, r, false);
    return alchdb__strdup(msg);
}

/* The plan is embedded as it is in the monitor's JSON documents: keep it only
 * when it parses (a client_encoding other than UTF8 could make it invalid). */
static bool plan_is_json(const char *plan)
{
    json_error_t e;
    json_t *root = json_loads(plan, JSON_REJECT_DUPLICATES, &e);
    bool ok = root != NULL;
    json_decref(root);
    return ok;
}

/* Planning runs code of the statement's authors: the planner evaluates
 * IMMUTABLE functions of constant arguments, with the rights of the session.
 * A monitor records other people's statements, so it refuses to plan on a
 * session whose user is a superuser or may run server programs or read and
 * write server files. The session user is checked, not the current user: a
 * function can RESET ROLE, so SET ROLE would not be a boundary. Returns 0, or
 * ALCHDB_E_STATE / ALCHDB_E_QUERY with the detail set. */
static int check_session_rights(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT r.rolsuper"
                            " OR pg_has_role(session_user, 'pg_execute_server_program', 'USAGE')"
                            " OR pg_has_role(session_user, 'pg_write_server_files', 'USAGE')"
                            " OR pg_has_role(session_user, 'pg_read_server_files', 'USAGE')"
                            " FROM pg_catalog.pg_roles r WHERE r.rolname = session_user");
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        char msg[512];
        alchdb__pq_result_message(msg, sizeof msg, c, r, false);
        rc = alchdb__error(ALCHDB_E_QUERY, "monitor plan capture: cannot read the session's rights: %s", msg);
    } else if (strcmp(PQgetvalue(r, 0, 0), "f") != 0) {
        rc = alchdb__error(ALCHDB_E_STATE,
                           "monitor plan capture: refused: planning runs functions of the recorded "
                           "statements with the session's rights, and this session's user is a "
                           "superuser or may run server programs or files; connect as a role "
                           "without those rights (docs/monitor.md, \"Plan capture\")");
    }
    PQclear(r);
    return rc;
}

/* Returns the plan (owned) or NULL with *err (owned) set. */
static char *explain_one(PGconn *c, const char *text, char **err)
{
    *err = NULL;
    char *plan = NULL;
    exec_quiet(c, "BEGIN");
    exec_quiet(c, "SET LOCAL plan_cache_mode = force_generic_plan");
    PGresult *r = PQprepare(c, PLAN_STMT, text, 0, NULL);
    bool prepared = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!prepared)
        *err = step_error(c, r);
    PQclear(r);
    if (prepared) {
        int np = count_params(text);
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        alchdb__sb_puts(&sb, "EXPLAIN (FORMAT JSON) EXECUTE " PLAN_STMT);
        for (int i = 0; i < np; i++)
            alchdb__sb_puts(&sb, i ? ",NULL" : "(NULL");
        if (np)
            alchdb__sb_puts(&sb, ")");
        char *q = alchdb__sb_finish(&sb);
        if (q) {
            r = PQexec(c, q);
            if (PQresultStatus(r) != PGRES_TUPLES_OK)
                *err = step_error(c, r);
            else if (PQntuples(r) != 1 || PQgetlength(r, 0, 0) > PLAN_MAX_BYTES)
                *err = alchdb__strdup("plan too large or empty");
            else if (!plan_is_json(PQgetvalue(r, 0, 0)))
                *err = alchdb__strdup("plan is not valid JSON (is client_encoding UTF8?)");
            else
                plan = alchdb__strdup(PQgetvalue(r, 0, 0));
            PQclear(r);
            alchdb__free(q);
        }
    }
    exec_quiet(c, "ROLLBACK");
    if (prepared)
        exec_quiet(c, "DEALLOCATE " PLAN_STMT); /* prepared statements outlive ROLLBACK */
    return plan;
}

int alchdb_monitor_capture_plans(alchdb_monitor *mon, alchdb_pool *pool, const char *conninfo,
                                 int max_plans, int *captured)
{
    if (captured)
        *captured = 0;
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    alchdb__monitor_drain(mon);
    ALCHDB_CHECK_ARG(pool || conninfo, "conninfo", "must not be NULL when pool is NULL");
    ALCHDB_CHECK_ARG(max_plans >= 1 && max_plans <= 1000, "max_plans", "must be 1..1000");
    if (pthread_mutex_trylock(&mon->plan_lock) != 0)
        return 0; /* another run is in progress: that is the rate limit too */
    int64_t now = alchdb__monitor_now(mon);
    int64_t interval = mon->cfg.v[ALCHDB_MONITOR_OPT_PLAN_INTERVAL];
    pthread_mutex_lock(&mon->pat_lock);
    bool too_soon = interval > 0 && mon->last_plan_run_us != INT64_MIN &&
                    now - mon->last_plan_run_us < interval && now >= mon->last_plan_run_us;
    if (too_soon) {
        pthread_mutex_unlock(&mon->pat_lock);
        pthread_mutex_unlock(&mon->plan_lock);
        return 0;
    }
    mon->last_plan_run_us = now;
    cand *cs = mon->nused ? alchdb__calloc(mon->nused, sizeof *cs) : NULL;
    size_t nc = 0;
    for (uint32_t i = 0; cs && i < mon->nalloc; i++) {
        mon_pattern *p = mon->slots[i];
        pthread_mutex_lock(&p->lock);
        if (p->used && p->kind == MON_KIND_PARSED && p->dml && !p->truncated && !p->plan_tried &&
            p->slow > 0) {
            cs[nc] = (cand){.slot = p->slot, .gen = p->gen, .total_us = p->total_us,
                            .text = alchdb__strdup(p->text)};
            if (cs[nc].text)
                nc++;
        }
        pthread_mutex_unlock(&p->lock);
    }
    pthread_mutex_unlock(&mon->pat_lock);
    if (!nc) {
        alchdb__free(cs);
        pthread_mutex_unlock(&mon->plan_lock);
        return 0;
    }
    qsort(cs, nc, sizeof *cs, cmp_cand);
    if (nc > (size_t)max_plans) {
        for (size_t i = (size_t)max_plans; i < nc; i++)
            alchdb__free(cs[i].text);
        nc = (size_t)max_plans;
    }

    int rc = 0;
    alchdb_conn *pc = NULL;
    PGconn *c = NULL;
    if (pool) {
        rc = alchdb_pool_acquire(pool, -1, "monitor plan capture", &pc);
        if (rc == 0)
            c = alchdb_conn_pgconn(pc);
    } else {
        rc = alchdb__pq_connect_default(conninfo, "monitor", "monitor plan capture", &c);
    }
    if (rc == 0 && c)
        rc = check_session_rights(c);
    int got = 0;
    for (size_t i = 0; rc == 0 && c && i < nc; i++) {
        char *err = NULL;
        char *plan = explain_one(c, cs[i].text, &err);
        mon_pattern *p = mon->slots[cs[i].slot];
        pthread_mutex_lock(&p->lock);
        if (p->used && p->gen == cs[i].gen) {
            p->plan_tried = true;
            p->plan_at_us = now;
            alchdb__free(p->plan_json);
            alchdb__free(p->plan_error);
            p->plan_json = plan;
            p->plan_error = err;
            plan = err = NULL;
            if (p->plan_json) {
                got++;
                atomic_fetch_add(&mon->plans_captured, 1);
            }
        }
        pthread_mutex_unlock(&p->lock);
        alchdb__free(plan);
        alchdb__free(err);
        if (PQstatus(c) != CONNECTION_OK) {
            if (pc)
                alchdb_conn_mark_broken(pc);
            rc = alchdb__error(ALCHDB_E_CONNECT, "monitor plan capture: connection lost");
        }
    }
    if (pc)
        alchdb_pool_release(pool, pc);
    else if (c)
        PQfinish(c);
    for (size_t i = 0; i < nc; i++)
        alchdb__free(cs[i].text);
    alchdb__free(cs);
    pthread_mutex_unlock(&mon->plan_lock);
    if (captured)
        *captured = got;
    return rc;
}
