/* Client tests: bad input (unit) and execution against the rig (integration).
 * Run with an argument "unit" to run only the server-less cases. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "client/client_internal.h"
#include "internal.h"
#include "pgtest.h"
#include "testutil.h"

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static alchdb_client *open_client(const char *app, int max_open, const char *const *kv)
{
    alchdb_pool_config *cfg;
    ck_assert_int_eq(alchdb_pool_config_new(&cfg), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_OPEN, max_open), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(cfg, ALCHDB_POOL_OPT_MAX_IDLE, max_open), 0);
    for (; kv && kv[0]; kv += 2)
        ck_assert_int_eq(alchdb_pool_config_set_from_string(cfg, kv[0], kv[1]), 0);
    char ci[1024];
    snprintf(ci, sizeof ci, "%s application_name=%s", test_env("ALCHDB_TEST_PRIMARY"), app);
    alchdb_client *c = NULL;
    ck_assert_msg(alchdb_client_open(ci, cfg, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_pool_config_free(cfg);
    return c;
}

static alchdb_result *ok_exec(alchdb_client *c, const char *sql, int n, const char *const *p)
{
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec(c, sql, n, p, &r);
    ck_assert_msg(rc == 0, "%s: rc %d: %s", sql, rc, alchdb_last_error_message());
    ck_assert_ptr_nonnull(r);
    return r;
}

/* How many alchdb_s* statements the (single) pooled connection holds. */
static long prepared_count(alchdb_client *c)
{
    alchdb_conn *conn;
    ck_assert_int_eq(alchdb_pool_acquire(alchdb_client_pool(c), -1, "probe", &conn), 0);
    PGresult *r = PQexec(alchdb_conn_pgconn(conn),
                         "SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'alchdb_s%'");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    alchdb_pool_release(alchdb_client_pool(c), conn);
    return n;
}

/* ---- unit: bad input ---- */

START_TEST(test_bad_input)
{
    alchdb_client *c = (alchdb_client *)1;
    alchdb_result *r = (alchdb_result *)1;
    alchdb_txn *t = (alchdb_txn *)1;
    ck_assert_int_eq(alchdb_client_new(NULL, &c), ALCHDB_E_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(alchdb_client_new(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_client_open("bogus_key=1", NULL, &c), ALCHDB_E_INVALID);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(alchdb_client_exec(NULL, "SELECT 1", 0, NULL, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_null(r);
    ck_assert_ptr_null(alchdb_client_pool(NULL));

    alchdb_pool *pool;
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 port=1", NULL, &pool), 0);
    ck_assert_int_eq(alchdb_client_new(pool, &c), 0);
    ck_assert_ptr_eq(alchdb_client_pool(c), pool);
    ck_assert_int_eq(alchdb_client_exec(c, NULL, 0, NULL, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "sql"));
    ck_assert_int_eq(alchdb_client_exec(c, "", 0, NULL, &r), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT $1", -1, NULL, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "nparams"));
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT $1", 1, NULL, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "params"));
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT $1", 70000, NULL, &r), ALCHDB_E_INVALID);
    const char *p[] = {"1"};
    ck_assert_int_eq(alchdb_client_exec_flags(c, "SELECT 1", 0, NULL, 0x100, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "flags"));
    ck_assert_int_eq(alchdb_client_exec_flags(c, "SELECT $1", 1, p, ALCHDB_EXEC_SIMPLE, &r),
                     ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_client_begin(c, 0x80, &t), ALCHDB_E_INVALID);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(alchdb_client_begin(NULL, 0, &t), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_client_begin(c, 0, NULL), ALCHDB_E_INVALID);
    /* nothing listens on port 1: a connect error, no result */
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1", 0, NULL, &r), ALCHDB_E_CONNECT);
    ck_assert_ptr_null(r);
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), ALCHDB_E_CONNECT);
    ck_assert_ptr_null(t);

    ck_assert_int_eq(alchdb_txn_exec(NULL, "SELECT 1", 0, NULL, &r), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_txn_commit(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_txn_rollback(NULL), ALCHDB_E_INVALID);
    alchdb_txn_free(NULL);
    ck_assert_int_eq(alchdb_result_nrows(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_result_ncols(NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_null(alchdb_result_value(NULL, 0, 0));
    ck_assert_ptr_null(alchdb_result_column_name(NULL, 0));
    ck_assert_uint_eq(alchdb_result_column_type(NULL, 0), 0);
    ck_assert_int_eq(alchdb_result_is_null(NULL, 0, 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_result_length(NULL, 0, 0), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_result_affected_rows(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_result_status(NULL), ALCHDB_E_INVALID);
    ck_assert_str_eq(alchdb_result_sqlstate(NULL), "");
    ck_assert_str_eq(alchdb_result_error_message(NULL), "");
    ck_assert_str_eq(alchdb_result_command_tag(NULL), "");
    ck_assert_ptr_null(alchdb_result_pgresult(NULL));
    alchdb_result_free(NULL);
    alchdb_client_free(c);
    alchdb_client_free(NULL);
    /* the pool was borrowed: still usable */
    alchdb_pool_metrics m;
    ck_assert_int_eq(alchdb_pool_get_metrics(pool, &m, sizeof m), 0);
    alchdb_pool_free(pool);
}
END_TEST

/* ---- integration ---- */

START_TEST(test_exec_values_and_types)
{
    alchdb_client *c = open_client("alchdb_cvals", 2, NULL);
    const char *p[] = {"41", "hello world", NULL};
    alchdb_result *r = ok_exec(c, "SELECT $1::int + 1 AS n, $2::text AS t, $3::text AS z", 3, p);
    ck_assert_int_eq(alchdb_result_nrows(r), 1);
    ck_assert_int_eq(alchdb_result_ncols(r), 3);
    ck_assert_str_eq(alchdb_result_column_name(r, 0), "n");
    ck_assert_str_eq(alchdb_result_column_name(r, 2), "z");
    ck_assert_uint_eq(alchdb_result_column_type(r, 0), 23);
    ck_assert_uint_eq(alchdb_result_column_type(r, 1), 25);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "42");
    ck_assert_str_eq(alchdb_result_value(r, 0, 1), "hello world");
    ck_assert_int_eq(alchdb_result_length(r, 0, 1), 11);
    ck_assert_int_eq(alchdb_result_is_null(r, 0, 1), 0);
    ck_assert_int_eq(alchdb_result_is_null(r, 0, 2), 1);
    ck_assert_ptr_null(alchdb_result_value(r, 0, 2));
    ck_assert_int_eq(alchdb_result_length(r, 0, 2), 0);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "00000");
    ck_assert_str_eq(alchdb_result_error_message(r), "");
    ck_assert_str_eq(alchdb_result_command_tag(r), "SELECT 1");
    ck_assert_int_eq(alchdb_result_status(r), 0);
    /* out of range */
    ck_assert_ptr_null(alchdb_result_value(r, 1, 0));
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_RANGE);
    ck_assert_ptr_null(alchdb_result_value(r, 0, 3));
    ck_assert_ptr_null(alchdb_result_column_name(r, -1));
    ck_assert_uint_eq(alchdb_result_column_type(r, 9), 0);
    ck_assert_int_eq(alchdb_result_is_null(r, -1, 0), ALCHDB_E_RANGE);
    ck_assert_ptr_nonnull(alchdb_result_pgresult(r));
    alchdb_result_free(r);

    /* binary-safe: a bytea with a NUL inside, binary format */
    alchdb_result *b = NULL;
    ck_assert_int_eq(alchdb_client_exec_flags(c, "SELECT '\\x610062'::bytea", 0, NULL,
                                              ALCHDB_EXEC_BINARY_RESULT, &b),
                     0);
    ck_assert_int_eq(alchdb_result_length(b, 0, 0), 3);
    ck_assert_int_eq(memcmp(alchdb_result_value(b, 0, 0), "a\0b", 3), 0);
    alchdb_result_free(b);

    /* several statements with the simple protocol: the last result */
    r = NULL;
    ck_assert_int_eq(alchdb_client_exec_flags(c, "SELECT 1; SELECT 2 AS two", 0, NULL,
                                              ALCHDB_EXEC_SIMPLE, &r),
                     0);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "2");
    alchdb_result_free(r);
    /* the result may be discarded */
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1", 0, NULL, NULL), 0);
    alchdb_client_free(c);
}
END_TEST

START_TEST(test_error_results)
{
    alchdb_client *c = open_client("alchdb_cerr", 1, NULL);
    alchdb_result *r = NULL;
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1/0", 0, NULL, &r), ALCHDB_E_QUERY);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "22012");
    ck_assert_ptr_nonnull(strstr(alchdb_result_error_message(r), "division by zero"));
    ck_assert_int_eq(alchdb_result_status(r), ALCHDB_E_QUERY);
    ck_assert_int_eq(alchdb_result_nrows(r), 0);
    ck_assert_str_eq(alchdb_result_command_tag(r), "");
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "22012"));
    alchdb_result_free(r);
    r = NULL;
    ck_assert_int_eq(alchdb_client_exec(c, "SELEC nonsense", 0, NULL, &r), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "42601");
    alchdb_result_free(r);
    r = NULL;
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT * FROM no_such_table_xyz", 0, NULL, &r),
                     ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "42P01");
    alchdb_result_free(r);
    /* the connection is still fine afterwards */
    r = ok_exec(c, "SELECT 5", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "5");
    alchdb_result_free(r);
    alchdb_pool_metrics m;
    alchdb_pool_get_metrics(alchdb_client_pool(c), &m, sizeof m);
    ck_assert_int_eq(m.closed_broken, 0);
    alchdb_client_free(c);
}
END_TEST

START_TEST(test_affected_rows_and_transactions)
{
    alchdb_client *c = open_client("alchdb_ctxn", 2, NULL);
    ck_assert_int_eq(alchdb_client_exec_flags(c,
                                              "DROP TABLE IF EXISTS ctxn; "
                                              "CREATE TABLE ctxn (id int primary key, v text)",
                                              0, NULL, ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    for (int i = 1; i <= 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        const char *p[] = {id, "x"};
        ck_assert_int_eq(alchdb_client_exec(c, "INSERT INTO ctxn VALUES ($1, $2)", 2, p, NULL), 0);
    }
    alchdb_result *r = ok_exec(c, "UPDATE ctxn SET v = 'y'", 0, NULL);
    ck_assert_int_eq(alchdb_result_affected_rows(r), 3);
    ck_assert_str_eq(alchdb_result_command_tag(r), "UPDATE 3");
    alchdb_result_free(r);

    /* commit: visible; pinned to one connection */
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    const char *p4[] = {"4", "committed"};
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctxn VALUES ($1, $2)", 2, p4, NULL), 0);
    alchdb_result *pid1 = NULL, *pid2 = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT pg_backend_pid()", 0, NULL, &pid1), 0);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1", 0, NULL, NULL), 0); /* other conn */
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT pg_backend_pid()", 0, NULL, &pid2), 0);
    ck_assert_str_eq(alchdb_result_value(pid1, 0, 0), alchdb_result_value(pid2, 0, 0));
    alchdb_result_free(pid1);
    alchdb_result_free(pid2);
    /* not visible outside before commit */
    r = ok_exec(c, "SELECT count(*) FROM ctxn WHERE id = 4", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "0");
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    ck_assert_int_eq(alchdb_txn_commit(t), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), ALCHDB_E_STATE);
    alchdb_txn_free(t);

    /* rollback and free-without-commit: not visible */
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    const char *p5[] = {"5", "rolled back"};
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctxn VALUES ($1, $2)", 2, p5, NULL), 0);
    ck_assert_int_eq(alchdb_txn_rollback(t), 0);
    ck_assert_int_eq(alchdb_txn_rollback(t), ALCHDB_E_STATE);
    alchdb_txn_free(t);
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    const char *p6[] = {"6", "abandoned"};
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctxn VALUES ($1, $2)", 2, p6, NULL), 0);
    alchdb_txn_free(t);
    r = ok_exec(c, "SELECT string_agg(id::text, ',' ORDER BY id) FROM ctxn", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "1,2,3,4");
    alchdb_result_free(r);

    /* an error aborts the transaction; commit reports it */
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    const char *dup[] = {"1", "dup"};
    r = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctxn VALUES ($1, $2)", 2, dup, &r),
                     ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "23505");
    alchdb_result_free(r);
    r = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, &r), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "25P02");
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_txn_commit(t), ALCHDB_E_QUERY);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "rolled back"));
    alchdb_txn_free(t);

    /* flags */
    ck_assert_int_eq(alchdb_client_begin(c, ALCHDB_TXN_SERIALIZABLE | ALCHDB_TXN_READ_ONLY, &t), 0);
    r = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "SHOW transaction_isolation", 0, NULL, &r), 0);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "serializable");
    alchdb_result_free(r);
    r = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "DELETE FROM ctxn", 0, NULL, &r), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "25006");
    alchdb_result_free(r);
    alchdb_txn_free(t);

    alchdb_pool_metrics m;
    alchdb_pool_get_metrics(alchdb_client_pool(c), &m, sizeof m);
    ck_assert_int_eq(m.in_use, 0);
    ck_assert_int_eq(m.closed_broken, 0);
    ck_assert_int_eq(alchdb_client_exec(c, "DROP TABLE ctxn", 0, NULL, NULL), 0);
    alchdb_client_free(c);
}
END_TEST

START_TEST(test_statement_cache)
{
    const char *kv[] = {"statement_cache_size", "2", NULL};
    alchdb_client *c = open_client("alchdb_cstmt", 1, kv);
    const char *p[] = {"1"};
    for (int i = 0; i < 3; i++)
        alchdb_result_free(ok_exec(c, "SELECT $1::int AS a", 1, p));
    ck_assert_int_eq(prepared_count(c), 1);
    ck_assert_int_eq(alchdb_client_exec_flags(c, "SELECT 'unprepared'", 0, NULL,
                                              ALCHDB_EXEC_UNPREPARED, NULL),
                     0);
    ck_assert_int_eq(prepared_count(c), 1);
    /* LRU bound: never more than statement_cache_size on the server */
    alchdb_result_free(ok_exec(c, "SELECT $1::int AS b", 1, p));
    alchdb_result_free(ok_exec(c, "SELECT $1::int AS c", 1, p));
    alchdb_result_free(ok_exec(c, "SELECT $1::int AS d", 1, p));
    ck_assert_int_eq(prepared_count(c), 2);

    /* the host dropped the statements (26000): re-prepared transparently */
    alchdb_conn *conn;
    ck_assert_int_eq(alchdb_pool_acquire(alchdb_client_pool(c), -1, "host", &conn), 0);
    PQclear(PQexec(alchdb_conn_pgconn(conn), "DEALLOCATE ALL"));
    alchdb_pool_release(alchdb_client_pool(c), conn);
    alchdb_result *r = ok_exec(c, "SELECT $1::int AS d", 1, p);
    ck_assert_str_eq(alchdb_result_column_name(r, 0), "d");
    alchdb_result_free(r);

    /* the result type changed under a cached plan (0A000): re-prepared */
    ck_assert_int_eq(alchdb_client_exec_flags(c, "DROP TABLE IF EXISTS cplan; "
                                                 "CREATE TABLE cplan (a int); "
                                                 "INSERT INTO cplan VALUES (1)",
                                              0, NULL, ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    r = ok_exec(c, "SELECT * FROM cplan", 0, NULL);
    ck_assert_int_eq(alchdb_result_ncols(r), 1);
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_client_exec(c, "ALTER TABLE cplan ADD COLUMN b int DEFAULT 7", 0, NULL,
                                        NULL),
                     0);
    r = ok_exec(c, "SELECT * FROM cplan", 0, NULL);
    ck_assert_int_eq(alchdb_result_ncols(r), 2);
    ck_assert_str_eq(alchdb_result_value(r, 0, 1), "7");
    alchdb_result_free(r);
    ck_assert_int_le(prepared_count(c), 2);
    ck_assert_int_eq(alchdb_client_exec(c, "DROP TABLE cplan", 0, NULL, NULL), 0);

    /* after a reconnect the cache starts empty and statements are prepared again */
    ck_assert_int_eq(alchdb_pool_acquire(alchdb_client_pool(c), -1, "host", &conn), 0);
    alchdb_conn_mark_broken(conn);
    alchdb_pool_release(alchdb_client_pool(c), conn);
    r = ok_exec(c, "SELECT $1::int AS d", 1, p);
    alchdb_result_free(r);
    ck_assert_int_eq(prepared_count(c), 1);
    alchdb_client_free(c);
}
END_TEST

static alchdb_client *kill_client;
static void *long_query(void *arg)
{
    (void)arg;
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec(kill_client, "SELECT pg_sleep(5)", 0, NULL, &r);
    char *st = NULL;
    if (r)
        st = strdup(alchdb_result_sqlstate(r));
    alchdb_result_free(r);
    return rc == ALCHDB_E_QUERY ? st : NULL;
}

START_TEST(test_broken_connection_through_client)
{
    kill_client = open_client("alchdb_ckill", 2, NULL);
    pthread_t t;
    pthread_create(&t, NULL, long_query, NULL);
    for (int k = 0; k < 100; k++) {
        if (pgtest_count("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                        "'alchdb_ckill' AND query LIKE 'SELECT pg_sleep%' AND state = 'active'") == 1)
            break;
        sleep_ms(20);
    }
    ck_assert_int_eq(pgtest_count("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = 'alchdb_ckill'"),
                     1);
    void *st;
    pthread_join(t, &st);
    ck_assert_ptr_nonnull(st);
    ck_assert_msg(strcmp(st, "57P01") == 0 || strncmp(st, "08", 2) == 0, "sqlstate %s", (char *)st);
    free(st);
    alchdb_pool_metrics m;
    alchdb_pool_get_metrics(alchdb_client_pool(kill_client), &m, sizeof m);
    ck_assert_int_eq(m.closed_broken, 1);
    ck_assert_int_eq(m.open, 0);
    alchdb_result *r = ok_exec(kill_client, "SELECT 3", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "3");
    alchdb_result_free(r);
    alchdb_client_free(kill_client);
}
END_TEST

enum { CT = 16, CN = 150 };
static alchdb_client *mt_client;
static atomic_int mt_bad;
static void *mt_worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < CN; i++) {
        char a[16], want[16];
        snprintf(a, sizeof a, "%d", id * 10000 + i);
        snprintf(want, sizeof want, "%d", (id * 10000 + i) * 2);
        const char *p[] = {a};
        alchdb_result *r = NULL;
        const char *sql = (i % 2) ? "SELECT $1::int * 2" : "SELECT ($1::int * 2)::text AS v";
        if (alchdb_client_exec(mt_client, sql, 1, p, &r) != 0 ||
            strcmp(alchdb_result_value(r, 0, 0), want) != 0)
            atomic_fetch_add(&mt_bad, 1);
        alchdb_result_free(r);
        if (i % 50 == 0) {
            alchdb_txn *t;
            if (alchdb_client_begin(mt_client, 0, &t) == 0) {
                if (alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL) != 0)
                    atomic_fetch_add(&mt_bad, 1);
                if (alchdb_txn_commit(t) != 0)
                    atomic_fetch_add(&mt_bad, 1);
                alchdb_txn_free(t);
            } else {
                atomic_fetch_add(&mt_bad, 1);
            }
        }
    }
    return NULL;
}

START_TEST(test_threads_share_client)
{
    mt_client = open_client("alchdb_cmt", 4, NULL);
    atomic_store(&mt_bad, 0);
    pthread_t t[CT];
    for (int i = 0; i < CT; i++)
        pthread_create(&t[i], NULL, mt_worker, (void *)(intptr_t)i);
    for (int i = 0; i < CT; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(atomic_load(&mt_bad), 0);
    alchdb_pool_metrics m;
    alchdb_pool_get_metrics(alchdb_client_pool(mt_client), &m, sizeof m);
    ck_assert_int_le(m.open, 4);
    ck_assert_int_eq(m.in_use, 0);
    alchdb_client_free(mt_client);
}
END_TEST

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char log_buf[2048];
static void capture(void *ud, int level, const char *module, const char *message)
{
    (void)ud;
    (void)level;
    pthread_mutex_lock(&log_mu);
    if (strcmp(module, "client") == 0 && strlen(log_buf) + strlen(message) + 2 < sizeof log_buf) {
        strcat(log_buf, message);
        strcat(log_buf, "\n");
    }
    pthread_mutex_unlock(&log_mu);
}

START_TEST(test_slow_statement_logged)
{
    log_buf[0] = '\0';
    alchdb_set_log_handler(capture, NULL, ALCHDB_LOG_INFO);
    const char *kv[] = {"slow_query_threshold", "30ms", NULL};
    alchdb_client *c = open_client("alchdb_cslow", 1, kv);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 'fast'", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT pg_sleep(0.06), 'slowpoke'", 0, NULL, NULL), 0);
    alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_NONE);
    ck_assert_msg(strstr(log_buf, "slowpoke"), "%s", log_buf);
    ck_assert_ptr_null(strstr(log_buf, "'fast'"));
    alchdb_client_free(c);
}
END_TEST

/* The seams later modules use: an observer and a cache that serves a hit
 * built from a PGresult made in memory. */
static int observed, observed_err;
static void obs(void *ud, const alchdb__exec_ctx *ctx)
{
    (void)ud;
    observed++;
    if (ctx->rc != 0)
        observed_err++;
}
static int fake_lookup(void *ud, alchdb__exec_ctx *ctx, alchdb_result **out)
{
    (void)ud;
    if (strcmp(ctx->sql, "SELECT 'cached'") != 0)
        return 0;
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att = {.name = (char *)"v", .typid = 25, .typlen = -1, .atttypmod = -1};
    PQsetResultAttrs(res, 1, &att);
    PQsetvalue(res, 0, 0, (char *)"from-cache", 10);
    *out = alchdb__result_wrap(res, NULL);
    return 1;
}

static int fake_done_calls;
static void fake_before_release(void *ud, alchdb__exec_ctx *ctx, PGconn *pg) { (void)ud, (void)ctx, (void)pg; }
static void fake_done(void *ud, alchdb__exec_ctx *ctx, const alchdb_result *res)
{
    (void)ud, (void)ctx, (void)res;
    fake_done_calls++;
}
static void fake_txn_stmt(void *ud, alchdb__exec_ctx *ctx) { (void)ud, (void)ctx; }
static void fake_txn_end(void *ud, alchdb_txn *t, bool committed) { (void)ud, (void)t, (void)committed; }

START_TEST(test_hook_seams)
{
    alchdb_client *c = open_client("alchdb_chooks", 1, NULL);
    static const alchdb__observe_hooks oh = {obs};
    static const alchdb__cache_hooks ch = {fake_lookup, fake_before_release, fake_done, fake_txn_stmt,
                                           fake_txn_end, NULL, NULL, NULL};
    c->observe = &oh;
    c->cache = &ch;
    observed = observed_err = fake_done_calls = 0;
    alchdb_result *r = ok_exec(c, "SELECT 'cached'", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "from-cache");
    ck_assert_str_eq(alchdb_result_column_name(r, 0), "v");
    alchdb_result_free(r);
    r = ok_exec(c, "SELECT 'db'", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "db");
    alchdb_result_free(r);
    alchdb_client_exec(c, "SELECT 1/0", 0, NULL, NULL);
    ck_assert_int_eq(observed, 3);
    ck_assert_int_eq(observed_err, 1);
    ck_assert_int_eq(fake_done_calls, 2); /* every statement that was not a hit */
    alchdb_pool_metrics m;
    alchdb_pool_get_metrics(alchdb_client_pool(c), &m, sizeof m);
    ck_assert_int_eq(m.acquisitions, 2); /* the hit did not touch the pool */
    alchdb_client_free(c);
}
END_TEST

int main(int argc, char **argv)
{
    bool unit_only = argc > 1 && strcmp(argv[1], "unit") == 0;
    Suite *s = suite_create(unit_only ? "client-unit" : "client-integration");
    TCase *tc = tcase_create(unit_only ? "unit" : "rig");
    tcase_set_timeout(tc, 60);
    if (unit_only) {
        tcase_add_test(tc, test_bad_input);
    } else {
        tcase_add_test(tc, test_exec_values_and_types);
        tcase_add_test(tc, test_error_results);
        tcase_add_test(tc, test_affected_rows_and_transactions);
        tcase_add_test(tc, test_statement_cache);
        tcase_add_test(tc, test_broken_connection_through_client);
        tcase_add_test(tc, test_threads_share_client);
        tcase_add_test(tc, test_slow_statement_logged);
        tcase_add_test(tc, test_hook_seams);
    }
    suite_add_tcase(s, tc);
    return run_suite(s);
}
