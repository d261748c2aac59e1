/* libpq helpers for integration tests that talk to the rig's primary
 * directly (setup, and checking what the library did from the outside). */
#ifndef ALCHDB_PGTEST_H
#define ALCHDB_PGTEST_H

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>

#include "testutil.h"

static inline void pgtest_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* A connection to the rig's primary (notices silenced); fails the test otherwise. */
static inline PGconn *pgtest_connect(void)
{
    PGconn *c = PQconnectdb(test_env("ALCHDB_TEST_PRIMARY"));
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect to the primary: %s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);
    return c;
}

/* Run sql (commands or queries) on c; fails the test on an error. */
static inline void pgtest_exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQresultErrorMessage(r));
    PQclear(r);
}

/* The first column of the first row of sql, as a number, on a fresh connection. */
static inline long pgtest_count(const char *sql)
{
    PGconn *c = pgtest_connect();
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    PQfinish(c);
    return n;
}

/* How many backends of application_name app run a statement LIKE pattern
 * (both plain identifiers and patterns of the test itself, not user input). */
static inline long pgtest_active(const char *app, const char *pattern)
{
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_stat_activity WHERE application_name = '%s' AND state = 'active' "
             "AND query LIKE '%s'",
             app, pattern);
    return pgtest_count(sql);
}

/* A new, empty database on the rig's primary (dropped first when it exists),
 * its conninfo written to ci (cap bytes). db is a plain lower-case name. */
static inline void pgtest_fresh_db(const char *db, char *ci, size_t cap)
{
    char sql[256];
    PGconn *c = pgtest_connect();
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    pgtest_exec(c, sql);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s STRATEGY FILE_COPY", db);
    pgtest_exec(c, sql);
    PQfinish(c);
    snprintf(ci, cap, "%s dbname=%s", test_env("ALCHDB_TEST_PRIMARY"), db);
}

static inline void pgtest_drop_db(const char *db)
{
    char sql[256];
    PGconn *c = pgtest_connect();
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    pgtest_exec(c, sql);
    PQfinish(c);
}

#endif
