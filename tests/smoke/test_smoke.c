/* Smoke test of the rig: a PostgreSQL 15 primary, a streaming replica of it
 * and a Redis server, reached through the ALCHDB_TEST_* variables that
 * tests/services/rig.sh exports. Fails loudly when they are missing. */
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *connect_pg(const char *var)
{
    PGconn *c = PQconnectdb(test_env(var));
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s: %s", var, PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    return c;
}

/* One-row, one-column query; returns a copy of the value (caller frees). */
static char *query_value(PGconn *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
    ck_assert_int_eq(PQntuples(r), 1);
    ck_assert_int_eq(PQnfields(r), 1);
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    ck_assert_ptr_nonnull(v);
    return v;
}

static void exec_ok(PGconn *c, const char *sql, int nparams, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
}

/* A token no other run (or concurrent test) uses. */
static void unique_token(char *buf, size_t n, const char *prefix)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, n, "%s-%ld-%ld-%ld", prefix, (long)getpid(), (long)ts.tv_sec, ts.tv_nsec);
}

START_TEST(test_primary)
{
    PGconn *c = connect_pg("ALCHDB_TEST_PRIMARY");
    char *one = query_value(c, "SELECT 1", 0, NULL);
    ck_assert_str_eq(one, "1");
    free(one);
    ck_assert_int_ge(PQserverVersion(c), 150000);
    char *num = query_value(c, "SELECT current_setting('server_version_num')::int", 0, NULL);
    ck_assert_int_ge(atoi(num), 150000);
    free(num);
    char *rec = query_value(c, "SELECT pg_is_in_recovery()", 0, NULL);
    ck_assert_str_eq(rec, "f");
    free(rec);
    /* The monitor and advisor rely on pg_stat_statements being loaded. */
    char *pss = query_value(c, "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'",
                            0, NULL);
    ck_assert_str_eq(pss, "1");
    free(pss);
    PQfinish(c);
}
END_TEST

START_TEST(test_replica_streams_from_primary)
{
    PGconn *p = connect_pg("ALCHDB_TEST_PRIMARY");
    PGconn *r = connect_pg("ALCHDB_TEST_REPLICA");

    char *rec = query_value(r, "SELECT pg_is_in_recovery()", 0, NULL);
    ck_assert_str_eq(rec, "t");
    free(rec);

    /* A replica refuses writes (SQLSTATE 25006 read_only_sql_transaction). */
    PGresult *w = PQexec(r, "CREATE TABLE smoke_should_fail (id int)");
    ck_assert_int_eq(PQresultStatus(w), PGRES_FATAL_ERROR);
    ck_assert_str_eq(PQresultErrorField(w, PG_DIAG_SQLSTATE), "25006");
    PQclear(w);

    exec_ok(p, "CREATE TABLE IF NOT EXISTS alchdb_smoke_repl (token text PRIMARY KEY, "
               "at timestamptz NOT NULL DEFAULT now())", 0, NULL);
    char token[96];
    unique_token(token, sizeof token, "smoke");
    const char *params[1] = {token};
    exec_ok(p, "INSERT INTO alchdb_smoke_repl (token) VALUES ($1)", 1, params);

    /* Streaming replication: the row shows up on the replica within seconds. */
    int seen = 0;
    for (int i = 0; i < 200 && !seen; i++) {
        PGresult *q = PQexecParams(r, "SELECT count(*) FROM alchdb_smoke_repl WHERE token = $1",
                                   1, NULL, params, NULL, NULL, 0);
        /* The table itself may not have replicated yet (42P01): keep polling. */
        if (PQresultStatus(q) == PGRES_TUPLES_OK)
            seen = strcmp(PQgetvalue(q, 0, 0), "1") == 0;
        PQclear(q);
        if (!seen)
            usleep(50 * 1000);
    }
    ck_assert_msg(seen, "row '%s' written on the primary never reached the replica in 10 s", token);

    exec_ok(p, "DELETE FROM alchdb_smoke_repl WHERE token = $1", 1, params);
    PQfinish(r);
    PQfinish(p);
}
END_TEST

START_TEST(test_redis_roundtrip)
{
    const char *addr = test_env("ALCHDB_TEST_REDIS");
    char host[256];
    const char *colon = strrchr(addr, ':');
    ck_assert_msg(colon && colon != addr && (size_t)(colon - addr) < sizeof host,
                  "ALCHDB_TEST_REDIS is not host:port: '%s'", addr);
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = '\0';
    int port = atoi(colon + 1);
    ck_assert_int_gt(port, 0);

    struct timeval tv = {5, 0};
    redisContext *rc = redisConnectWithTimeout(host, port, tv);
    ck_assert_ptr_nonnull(rc);
    ck_assert_msg(rc->err == 0, "redis %s: %s", addr, rc->errstr);

    redisReply *rep = redisCommand(rc, "PING");
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(rep->str, "PONG");
    freeReplyObject(rep);

    char key[96];
    unique_token(key, sizeof key, "alchdb:smoke");
    /* Binary-safe value with an embedded NUL and a CR/LF. */
    const char value[] = {'v', '\0', '1', '\r', '\n', 'x'};
    rep = redisCommand(rc, "SET %s %b EX 60", key, value, sizeof value);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    ck_assert_str_eq(rep->str, "OK");
    freeReplyObject(rep);

    rep = redisCommand(rc, "GET %s", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    ck_assert_uint_eq(rep->len, sizeof value);
    ck_assert_int_eq(memcmp(rep->str, value, sizeof value), 0);
    freeReplyObject(rep);

    rep = redisCommand(rc, "DEL %s", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    ck_assert_int_eq(rep->integer, 1);
    freeReplyObject(rep);

    rep = redisCommand(rc, "GET %s", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    redisFree(rc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("smoke");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_primary);
    tcase_add_test(tc, test_replica_streams_from_primary);
    tcase_add_test(tc, test_redis_roundtrip);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
