/* Helpers of the perftest's integration suites: a database of their own on
 * the rig, a routed, cached and monitored client over it, and counts read
 * from the outside. */
#ifndef ALCHDB_PT_LIVE_H
#define ALCHDB_PT_LIVE_H

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <alchdb/alchdb.h>

#include "pgtest.h"
#include "testutil.h"

typedef struct live {
    char ci[512], replica_ci[512];
    alchdb_router *router;
    alchdb_client *client;
    alchdb_cache *cache;
    alchdb_monitor *monitor;
    alchdb_perftest_target t;
} live;

/* A fresh database `db` and a client routed over the primary and the replica,
 * with a memory cache and a monitor. */
static inline void live_open(live *l, const char *db)
{
    memset(l, 0, sizeof *l);
    pgtest_fresh_db(db, l->ci, sizeof l->ci);
    snprintf(l->replica_ci, sizeof l->replica_ci, "%s dbname=%s", test_env("ALCHDB_TEST_REPLICA"), db);
    ck_assert_int_eq(alchdb_router_new(l->ci, NULL, NULL, &l->router), 0);
    ck_assert_int_eq(alchdb_router_add_replica(l->router, l->replica_ci, 1), 0);
    ck_assert_int_eq(alchdb_router_start(l->router), 0);
    ck_assert_int_eq(alchdb_client_new_routed(l->router, &l->client), 0);
    alchdb_cache_config *cc;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    ck_assert_int_eq(alchdb_cache_new(cc, &l->cache), 0);
    alchdb_cache_config_free(cc);
    ck_assert_int_eq(alchdb_client_set_cache(l->client, l->cache, NULL), 0);
    alchdb_monitor_config *mc;
    ck_assert_int_eq(alchdb_monitor_config_new(&mc), 0);
    ck_assert_int_eq(alchdb_monitor_new(mc, &l->monitor), 0);
    alchdb_monitor_config_free(mc);
    ck_assert_int_eq(alchdb_client_set_monitor(l->client, l->monitor), 0);
    l->t = (alchdb_perftest_target){.size = sizeof l->t, .client = l->client, .router = l->router, .cache = l->cache};
}

static inline void live_close(live *l, const char *db)
{
    alchdb_client_free(l->client);
    alchdb_router_free(l->router);
    alchdb_cache_free(l->cache);
    alchdb_monitor_free(l->monitor);
    pgtest_drop_db(db);
}

/* The first value of sql on the database of ci, as text (static buffer). */
static inline const char *live_value(const char *ci, const char *sql)
{
    static char buf[256];
    PGconn *c = PQconnectdb(ci);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    snprintf(buf, sizeof buf, "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    return buf;
}

static inline long live_count(const char *ci, const char *sql)
{
    return strtol(live_value(ci, sql), NULL, 10);
}

static inline alchdb_perftest_config *live_cfg(const char *schema)
{
    alchdb_perftest_config *cfg;
    ck_assert_int_eq(alchdb_perftest_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "schema", schema), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "profile", "quick"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "recipes", "500"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "users", "50"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "duration", "300ms"), 0);
    ck_assert_int_eq(alchdb_perftest_config_set_from_string(cfg, "warmup", "100ms"), 0);
    return cfg;
}

static inline double live_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
