/* Views of the live database (the PgHero set): running queries with who
 * blocks whom, cancel, connections by user/application/client, maintenance
 * (vacuum, dead tuples, XID age) and space, through a connection borrowed
 * from the attached pool. Every statement is fixed text; the only input, a
 * pid to cancel, is a bound parameter. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "alchdb/pq.h"
#include "core/pqconn.h"
#include "dashboard/dash.h"

#define ACQUIRE_TIMEOUT_US 2000000

static const char activity_sql[] =
    "SELECT pid, usename AS user, application_name, host(client_addr) AS client, state, "
    "wait_event_type, wait_event, backend_type, "
    "round(extract(epoch FROM now() - query_start)::numeric, 3) AS query_seconds, "
    "round(extract(epoch FROM now() - xact_start)::numeric, 3) AS transaction_seconds, "
    "left(query, 2000) AS query, pg_blocking_pids(pid) AS blocked_by "
    "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
    "ORDER BY query_start NULLS LAST LIMIT 500";

static const char connections_sql[] =
    "SELECT usename AS user, application_name, host(client_addr) AS client, state, "
    "count(*) AS connections FROM pg_stat_activity WHERE backend_type = 'client backend' "
    "GROUP BY 1, 2, 3, 4 ORDER BY 5 DESC LIMIT 500";

static const char maintenance_sql[] =
    "SELECT s.schemaname AS schema, s.relname AS table, s.n_live_tup AS live_tuples, "
    "s.n_dead_tup AS dead_tuples, s.last_vacuum, s.last_autovacuum, s.last_analyze, "
    "s.last_autoanalyze, age(c.relfrozenxid) AS xid_age "
    "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "ORDER BY s.n_dead_tup DESC, s.relname LIMIT 100";

static const char xid_sql[] =
    "SELECT datname AS database, age(datfrozenxid) AS xid_age, "
    "round(100.0 * age(datfrozenxid) / 2147483647, 2) AS pct_towards_wraparound "
    "FROM pg_database ORDER BY 2 DESC";

static const char space_sql[] =
    "SELECT n.nspname AS schema, c.relname AS name, "
    "CASE c.relkind WHEN 'i' THEN 'index' ELSE 'table' END AS kind, "
    "pg_total_relation_size(c.oid) AS bytes "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'm', 'p', 'i') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' "
    "ORDER BY 4 DESC LIMIT 40";

static const char dbsize_sql[] = "SELECT pg_database_size(current_database())";

static alchdb_pool *pool_of(const dash_view *v)
{
    return v->pool ? v->pool : v->rt ? alchdb_router_host_pool(v->rt, 0) : NULL;
}

/* A cell as JSON: numbers and booleans bare, arrays of ints ({1,2}) as
 * arrays, everything else a string. */
static void cell(alchdb__strbuf *sb, const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        alchdb__sb_puts(sb, "null");
        return;
    }
    const char *val = PQgetvalue(res, row, col);
    switch (PQftype(res, col)) {
    case 20: case 21: case 23: case 26: case 28: case 700: case 701: case 1700: /* numbers, xid */
        alchdb__sb_puts(sb, val);
        return;
    case 16: /* bool */
        alchdb__sb_puts(sb, val[0] == 't' ? "true" : "false");
        return;
    case 1007: /* int4[] */
        alchdb__sb_puts(sb, "[");
        for (const char *p = val + 1; *p && *p != '}'; p++)
            alchdb__sb_append(sb, p, 1);
        alchdb__sb_puts(sb, "]");
        return;
    default:
        alchdb__sb_json_str(sb, val);
    }
}

static void rows_json(alchdb__strbuf *sb, const PGresult *res)
{
    alchdb__sb_puts(sb, "[");
    for (int r = 0; r < PQntuples(res); r++) {
        alchdb__sb_puts(sb, r ? ",{" : "{");
        for (int c = 0; c < PQnfields(res); c++) {
            if (c)
                alchdb__sb_puts(sb, ",");
            alchdb__sb_json_str(sb, PQfname(res, c));
            alchdb__sb_puts(sb, ":");
            cell(sb, res, r, c);
        }
        alchdb__sb_puts(sb, "}");
    }
    alchdb__sb_puts(sb, "]");
}

typedef struct live {
    alchdb_pool *pool;
    alchdb_conn *conn;
    PGconn *pg;
} live;

static int live_open(const dash_view *v, live *l, int64_t timeout_us)
{
    memset(l, 0, sizeof *l);
    l->pool = pool_of(v);
    int rc = alchdb_pool_acquire(l->pool, timeout_us, "dashboard", &l->conn);
    if (rc != 0)
        return rc;
    l->pg = alchdb_conn_pgconn(l->conn);
    return 0;
}

static void live_close(live *l)
{
    if (l->conn)
        alchdb_pool_release(l->pool, l->conn);
    l->conn = NULL;
}

/* Run a fixed statement (with at most one text parameter); NULL and the
 * thread's error set (redacted server message) on failure. */
static PGresult *run(live *l, const char *sql, const char *param)
{
    PGresult *res = PQexecParams(l->pg, sql, param ? 1 : 0, NULL, param ? &param : NULL, NULL,
                                 NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK)
        return res;
    char msg[512];
    alchdb__pq_result_message(msg, sizeof msg, l->pg, res, true);
    PQclear(res);
    alchdb__error(ALCHDB_E_QUERY, "dashboard: %s", msg);
    return NULL;
}

/* Emit one statement's rows as a named member ("name":[...]); returns 0 or
 * the error. */
static int member(live *l, alchdb__strbuf *sb, const char *name, const char *sql, bool comma)
{
    PGresult *res = run(l, sql, NULL);
    if (!res)
        return ALCHDB_E_QUERY;
    alchdb__sb_printf(sb, "%s\"%s\":", comma ? "," : "", name);
    rows_json(sb, res);
    PQclear(res);
    return 0;
}

/* The lock tree: each blocking session that is not itself blocked, with
 * the sessions waiting on it, recursively (depth-capped against cycles). */
static void tree(alchdb__strbuf *sb, const PGresult *res, const char *pid, int depth)
{
    alchdb__sb_printf(sb, "{\"pid\":%s,\"waiting\":[", pid);
    bool first = true;
    int col = PQfnumber(res, "blocked_by"), pcol = PQfnumber(res, "pid");
    for (int r = 0; depth < 16 && r < PQntuples(res); r++) {
        const char *b = PQgetvalue(res, r, col);
        /* "{12,34}": is pid in it? */
        size_t n = strlen(pid);
        bool in = false;
        for (const char *p = b; (p = strstr(p, pid)) != NULL; p += n)
            if ((p[-1] == '{' || p[-1] == ',') && (p[n] == ',' || p[n] == '}'))
                in = true;
        if (!in)
            continue;
        if (!first)
            alchdb__sb_puts(sb, ",");
        tree(sb, res, PQgetvalue(res, r, pcol), depth + 1);
        first = false;
    }
    alchdb__sb_puts(sb, "]}");
}

int alchdb__dash_live_activity(const dash_view *v, alchdb__strbuf *sb)
{
    live l;
    int rc = live_open(v, &l, ACQUIRE_TIMEOUT_US);
    if (rc != 0)
        return rc;
    PGresult *res = run(&l, activity_sql, NULL);
    live_close(&l);
    if (!res)
        return ALCHDB_E_QUERY;
    alchdb__sb_puts(sb, "{\"sessions\":");
    rows_json(sb, res);
    alchdb__sb_puts(sb, ",\"lock_tree\":[");
    int col = PQfnumber(res, "blocked_by"), pcol = PQfnumber(res, "pid");
    bool first = true;
    for (int r = 0; r < PQntuples(res); r++) {
        /* a root: blocks someone, is blocked by nobody */
        const char *pid = PQgetvalue(res, r, pcol);
        if (strcmp(PQgetvalue(res, r, col), "{}") != 0)
            continue;
        bool blocks = false;
        size_t n = strlen(pid);
        for (int k = 0; k < PQntuples(res) && !blocks; k++)
            for (const char *p = PQgetvalue(res, k, col); (p = strstr(p, pid)) != NULL; p += n)
                if ((p[-1] == '{' || p[-1] == ',') && (p[n] == ',' || p[n] == '}'))
                    blocks = true;
        if (!blocks)
            continue;
        if (!first)
            alchdb__sb_puts(sb, ",");
        tree(sb, res, pid, 0);
        first = false;
    }
    alchdb__sb_puts(sb, "]}");
    PQclear(res);
    return 0;
}

int alchdb__dash_live_cancel(const dash_view *v, int64_t pid, bool *cancelled)
{
    live l;
    int rc = live_open(v, &l, ACQUIRE_TIMEOUT_US);
    if (rc != 0)
        return rc;
    char p[24];
    snprintf(p, sizeof p, "%lld", (long long)pid);
    /* Only a session of this database, never the dashboard's own. */
    PGresult *res = run(&l,
                        "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = $1::int "
                        "AND datname = current_database() AND pid <> pg_backend_pid()",
                        p);
    live_close(&l);
    if (!res)
        return ALCHDB_E_QUERY;
    rc = PQntuples(res) == 1 ? 0 : alchdb__error(ALCHDB_E_NOTFOUND,
                                                 "no session %lld in this database", (long long)pid);
    *cancelled = rc == 0 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    return rc;
}

int alchdb__dash_live_connections(const dash_view *v, alchdb__strbuf *sb)
{
    live l;
    int rc = live_open(v, &l, ACQUIRE_TIMEOUT_US);
    if (rc != 0)
        return rc;
    alchdb__sb_puts(sb, "{");
    rc = member(&l, sb, "by_user_application_client", connections_sql, false);
    live_close(&l);
    alchdb__sb_puts(sb, "}");
    return rc;
}

int alchdb__dash_live_maintenance(const dash_view *v, alchdb__strbuf *sb)
{
    live l;
    int rc = live_open(v, &l, ACQUIRE_TIMEOUT_US);
    if (rc != 0)
        return rc;
    alchdb__sb_puts(sb, "{");
    rc = member(&l, sb, "tables", maintenance_sql, false);
    if (rc == 0)
        rc = member(&l, sb, "databases", xid_sql, true);
    live_close(&l);
    alchdb__sb_puts(sb, "}");
    return rc;
}

/* Space, and the database's size over the dashboard's own samples (one per
 * minute at most, the last 1,440 kept). */
int alchdb__dash_live_space(alchdb_dashboard *d, const dash_view *v, alchdb__strbuf *sb)
{
    live l;
    int rc = live_open(v, &l, ACQUIRE_TIMEOUT_US);
    if (rc != 0)
        return rc;
    alchdb__sb_puts(sb, "{");
    rc = member(&l, sb, "largest", space_sql, false);
    PGresult *res = rc == 0 ? run(&l, dbsize_sql, NULL) : NULL;
    live_close(&l);
    if (!res) {
        alchdb__sb_puts(sb, "}");
        return rc ? rc : ALCHDB_E_QUERY;
    }
    int64_t size = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    pthread_mutex_lock(&d->mu);
    dash_size_ring *h = &d->sizes;
    size_t last = (h->start + h->n + DASH_SIZE_SAMPLES - 1) % DASH_SIZE_SAMPLES;
    if (h->n == 0 || v->now_us - h->at[last] >= 60000000) {
        size_t at = (h->start + h->n) % DASH_SIZE_SAMPLES;
        if (h->n == DASH_SIZE_SAMPLES)
            h->start = (h->start + 1) % DASH_SIZE_SAMPLES;
        else
            h->n++;
        h->at[at] = v->now_us;
        h->bytes[at] = size;
    }
    alchdb__sb_printf(sb, ",\"database_bytes\":%lld,\"history\":[", (long long)size);
    for (size_t i = 0; i < h->n; i++) {
        size_t k = (h->start + i) % DASH_SIZE_SAMPLES;
        alchdb__sb_printf(sb, "%s{\"at_us\":%lld,\"bytes\":%lld}", i ? "," : "",
                          (long long)h->at[k], (long long)h->bytes[k]);
    }
    size_t first = h->start, lastk = (h->start + h->n - 1) % DASH_SIZE_SAMPLES;
    double span_s = (double)(h->at[lastk] - h->at[first]) / 1e6;
    alchdb__sb_printf(sb, "],\"growth_bytes\":%lld,\"growth_bytes_per_day\":",
                      (long long)(h->bytes[lastk] - h->bytes[first]));
    if (span_s > 0)
        alchdb__sb_printf(sb, "%.0f}", (double)(h->bytes[lastk] - h->bytes[first]) * 86400.0 / span_s);
    else
        alchdb__sb_puts(sb, "null}");
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* The oldest unfrozen XID's age, for the wraparound rule; -1 when it cannot
 * be read now (pool busy or down: the rule keeps its last value). A short
 * wait: the health route must answer when the pool is exhausted. */
int64_t alchdb__dash_live_xid_age(const dash_view *v)
{
    live l;
    alchdb__error_state es;
    alchdb__error_save(&es);
    int64_t age = -1;
    if (live_open(v, &l, 100000) == 0) {
        PGresult *res = run(&l, "SELECT max(age(datfrozenxid))::int8 FROM pg_database", NULL);
        live_close(&l);
        if (res && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            age = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
    }
    alchdb__error_restore(&es);
    return age;
}
