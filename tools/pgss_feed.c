/* pg_stat_statements deltas into a monitor: per queryid, the calls since the
 * last tick are recorded at their mean duration (pg_stat_statements keeps no
 * per-execution times and no errors, so percentiles are of means and the
 * failure rate stays 0). */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/pq.h>

#include "pgss_feed.h"

/* At most this many executions are recorded per tick (a busy server runs
 * millions between ticks); the rest are dropped from the monitor's counts. */
#define MAX_RECORDS_PER_TICK 200000

typedef struct seen {
    long long queryid;
    long long calls;
    double total_ms;
} seen;

struct pgss_feed {
    alchdb_pool *pool;
    alchdb_monitor *mon;
    seen *prev;
    size_t nprev;
    int ticks;
};

static const char pgss_sql[] =
    "SELECT queryid, query, calls, total_exec_time FROM pg_stat_statements "
    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    "AND queryid IS NOT NULL ORDER BY queryid";

pgss_feed *pgss_feed_new(alchdb_pool *pool, alchdb_monitor *mon)
{
    pgss_feed *f = calloc(1, sizeof *f);
    if (f) {
        f->pool = pool;
        f->mon = mon;
    }
    return f;
}

void pgss_feed_free(pgss_feed *f)
{
    if (!f)
        return;
    free(f->prev);
    free(f);
}

static const seen *find(const pgss_feed *f, long long id)
{
    size_t lo = 0, hi = f->nprev;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (f->prev[mid].queryid < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->nprev && f->prev[lo].queryid == id ? &f->prev[lo] : NULL;
}

int pgss_feed_tick(pgss_feed *f)
{
    alchdb_conn *c = NULL;
    int rc = alchdb_pool_acquire(f->pool, 5000000, "dashboard pg_stat_statements", &c);
    if (rc != 0)
        return rc;
    PGresult *res = PQexec(alchdb_conn_pgconn(c), pgss_sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        PQclear(res);
        alchdb_pool_release(f->pool, c);
        return ALCHDB_E_QUERY;
    }
    int n = PQntuples(res);
    seen *cur = n ? calloc((size_t)n, sizeof *cur) : NULL;
    if (n && !cur) {
        PQclear(res);
        alchdb_pool_release(f->pool, c);
        return ALCHDB_E_NOMEM;
    }
    long long budget = MAX_RECORDS_PER_TICK;
    for (int i = 0; i < n; i++) {
        cur[i].queryid = strtoll(PQgetvalue(res, i, 0), NULL, 10);
        cur[i].calls = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        cur[i].total_ms = strtod(PQgetvalue(res, i, 3), NULL);
        if (f->ticks == 0)
            continue;
        const seen *p = find(f, cur[i].queryid);
        long long dc = cur[i].calls - (p ? p->calls : 0);
        double dt = cur[i].total_ms - (p ? p->total_ms : 0);
        if (dc <= 0 || dt < 0) /* reset or unchanged */
            continue;
        int64_t mean_us = (int64_t)(dt * 1000.0 / (double)dc);
        const char *sql = PQgetvalue(res, i, 1);
        for (long long k = 0; k < dc && budget > 0; k++, budget--)
            alchdb_monitor_record_simple(f->mon, sql, mean_us, NULL);
    }
    PQclear(res);
    alchdb_pool_release(f->pool, c);
    free(f->prev);
    f->prev = cur;
    f->nprev = (size_t)n;
    f->ticks++;
    return 0;
}
