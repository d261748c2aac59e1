/* Helpers shared by the advisor's integration suites: databases of their
 * own on the rig, workloads through plain libpq, report look-ups. */
#ifndef ALCHDB_ADVTEST_H
#define ALCHDB_ADVTEST_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "testutil.h"

static char conninfo_buf[1024];

static inline const char *db_conninfo(const char *db, const char *user)
{
    snprintf(conninfo_buf, sizeof conninfo_buf, "%s dbname=%s%s%s", test_env("ALCHDB_TEST_PRIMARY"), db,
             user ? " user=" : "", user ? user : "");
    return conninfo_buf;
}

static inline PGconn *connect_to(const char *db, const char *user)
{
    PGconn *c = PQconnectdb(db_conninfo(db, user));
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect %s: %s", db, PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

static inline void exec_ok(PGconn *c, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

static inline char *scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql, PQresultErrorMessage(r));
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static inline void fresh_db(const char *db)
{
    PGconn *a = connect_to("alchdb_test", NULL);
    exec_ok(a, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    exec_ok(a, "CREATE DATABASE %s STRATEGY FILE_COPY", db);
    PQfinish(a);
}

static inline void drop_db(const char *db)
{
    PGconn *a = connect_to("alchdb_test", NULL);
    exec_ok(a, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    PQfinish(a);
}

/* Run a parameterized statement n times (so pg_stat_statements normalizes it). */
static inline void run_n(PGconn *c, int n, const char *sql, int np, const char *p1, const char *p2)
{
    const char *p[2] = {p1, p2};
    for (int i = 0; i < n; i++) {
        PGresult *r = PQexecParams(c, sql, np, NULL, p, NULL, NULL, 0);
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
        PQclear(r);
    }
}

static inline alchdb_advisor_report *analyze(const char *db, const char *user, bool hypopg,
                                      void (*add)(alchdb_advisor_config *))
{
    alchdb_advisor_config *o;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, db_conninfo(db, user)), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_HYPOPG, hypopg), 0);
    if (add)
        add(o);
    alchdb_advisor_report *r = NULL;
    int rc = alchdb_advisor_analyze(o, &r);
    ck_assert_msg(rc == 0, "analyze: %s", alchdb_last_error_message());
    ck_assert_ptr_nonnull(r);
    alchdb_advisor_config_free(o);
    return r;
}

/* Index of the item on table with detail (columns / definition) containing needle, or -1. */
static inline int find_item(const alchdb_advisor_report *r, int kind, const char *table, const char *name_or_detail)
{
    int64_t n = alchdb_advisor_report_count(r, kind);
    for (int64_t i = 0; i < n; i++) {
        const char *t = alchdb_advisor_report_item_table(r, kind, (size_t)i);
        const char *nm = alchdb_advisor_report_item_name(r, kind, (size_t)i);
        const char *d = alchdb_advisor_report_item_detail(r, kind, (size_t)i);
        if (strcmp(t, table))
            continue;
        if ((nm && !strcmp(nm, name_or_detail)) || (d && !strcmp(d, name_or_detail)))
            return (int)i;
    }
    return -1;
}

static inline bool has_note(const alchdb_advisor_report *r, const char *needle)
{
    for (int64_t i = 0; i < alchdb_advisor_report_note_count(r); i++)
        if (strstr(alchdb_advisor_report_note(r, (size_t)i), needle))
            return true;
    return false;
}

static inline void dump(const alchdb_advisor_report *r)
{
    char *text = NULL;
    if (alchdb_advisor_report_to_text(r, &text) == 0)
        fprintf(stderr, "%s\n", text);
    alchdb_free(text);
}

/* Wait until the backends that ran the workload have flushed their counters. */
static inline void wait_stats(PGconn *c, const char *cond)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s", cond);
    for (int i = 0; i < 100; i++) {
        char *v = scalar(c, sql);
        bool ok = v[0] == 't';
        free(v);
        if (ok)
            return;
        usleep(100000);
    }
    PGresult *r = PQexec(c, "SELECT string_agg(indexrelname || '=' || idx_scan, ' ') FROM pg_stat_user_indexes");
    fprintf(stderr, "index scans: %s\n", PQntuples(r) ? PQgetvalue(r, 0, 0) : "?");
    PQclear(r);
    ck_abort_msg("statistics never showed: %s", cond);
}

#endif
