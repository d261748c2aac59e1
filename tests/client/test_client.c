/* Client tests: bad input (unit) and execution against the rig (integration).
 * Run with an argument "unit" to run only the server-less cases. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "client/client_internal.h"
#include "failalloc.h"
#include "internal.h"
#include "pgtest.h"
#include "pool/pqwait.h"
#include "procstop.h"
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

START_TEST(test_bad_options)
{
    alchdb_pool *pool;
    alchdb_client *c;
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 port=1", NULL, &pool), 0);
    ck_assert_int_eq(alchdb_client_new(pool, &c), 0);
    alchdb_result *r = (alchdb_result *)1;
    /* a short struct, a larger one with unknown members set, bad values */
    alchdb_exec_opts o = {.size = 4};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, &o, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_null(r);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "opts"));
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "");
    unsigned char big[sizeof(alchdb_exec_opts) + 8] = {0};
    ((alchdb_exec_opts *)(void *)big)->size = sizeof big;
    big[sizeof(alchdb_exec_opts) + 3] = 1;
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, (alchdb_exec_opts *)(void *)big, &r),
                     ALCHDB_E_UNSUPPORTED);
    o = (alchdb_exec_opts){.size = sizeof o, .timeout_us = -5};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, &o, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "timeout_us"));
    const int32_t fmt2[] = {2}, fmt1[] = {1};
    const char *p[] = {"x"};
    o = (alchdb_exec_opts){.size = sizeof o, .param_formats = fmt2};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT $1", 1, p, &o, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "param_formats"));
    o = (alchdb_exec_opts){.size = sizeof o, .param_formats = fmt1};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT $1", 1, p, &o, &r), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "param_lengths"));
    o = (alchdb_exec_opts){.size = sizeof o, .token = "alchdb1:1:0/1"};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, &o, &r), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_client_exec_opts(NULL, "SELECT 1", 0, NULL, NULL, &r), ALCHDB_E_INVALID);
    /* begin/commit/rollback take only a deadline and a cancel handle */
    alchdb_txn *t = (alchdb_txn *)1;
    o = (alchdb_exec_opts){.size = sizeof o, .flags = ALCHDB_EXEC_READ};
    ck_assert_int_eq(alchdb_client_begin_opts(c, 0, &o, &t), ALCHDB_E_INVALID);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(alchdb_txn_commit_opts(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_txn_rollback_opts(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_txn_exec_opts(NULL, "SELECT 1", 0, NULL, NULL, NULL), ALCHDB_E_INVALID);
    /* streams */
    alchdb_stream *st = (alchdb_stream *)1;
    ck_assert_int_eq(alchdb_client_stream(c, NULL, 0, NULL, NULL, &st), ALCHDB_E_INVALID);
    ck_assert_ptr_null(st);
    o = (alchdb_exec_opts){.size = sizeof o, .flags = ALCHDB_EXEC_SIMPLE};
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT 1", 0, NULL, &o, &st), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_client_stream(NULL, "SELECT 1", 0, NULL, NULL, &st), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT 1", 0, NULL, NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_txn_stream(NULL, "SELECT 1", 0, NULL, NULL, &st), ALCHDB_E_INVALID);
    const alchdb_result *row = (const alchdb_result *)1;
    ck_assert_int_eq(alchdb_stream_next(NULL, &row), ALCHDB_E_INVALID);
    ck_assert_ptr_null(row);
    ck_assert_int_eq(alchdb_stream_rows(NULL), ALCHDB_E_INVALID);
    ck_assert_str_eq(alchdb_stream_command_tag(NULL), "");
    alchdb_stream_free(NULL);
    ck_assert_int_eq(alchdb_result_column_format(NULL, 0), ALCHDB_E_INVALID);
    /* the server is not there: connect error, no SQLSTATE */
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, NULL, &r), ALCHDB_E_CONNECT);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "");
    alchdb_client_free(c);
    alchdb_pool_free(pool);
}
END_TEST

START_TEST(test_cancel_handle_api)
{
    alchdb_cancel *k = (alchdb_cancel *)1;
    ck_assert_int_eq(alchdb_cancel_new(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cancel_trigger(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cancel_is_triggered(NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cancel_reset(NULL), ALCHDB_E_INVALID);
    alchdb_cancel_free(NULL);
    ck_assert_int_eq(alchdb_cancel_new(&k), 0);
    ck_assert_int_eq(alchdb_cancel_is_triggered(k), 0);
    ck_assert_int_eq(alchdb_cancel_trigger(k), 0);
    ck_assert_int_eq(alchdb_cancel_trigger(k), 0);
    ck_assert_int_eq(alchdb_cancel_is_triggered(k), 1);
    /* a triggered handle fails a call at once, before any connection */
    alchdb_pool *pool;
    alchdb_client *c;
    ck_assert_int_eq(alchdb_pool_new("host=127.0.0.1 port=1", NULL, &pool), 0);
    ck_assert_int_eq(alchdb_client_new(pool, &c), 0);
    alchdb_exec_opts o = {.size = sizeof o, .cancel = k};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, &o, NULL), ALCHDB_E_CANCELED);
    ck_assert_str_eq(alchdb_strerror(ALCHDB_E_CANCELED), "canceled");
    ck_assert_int_eq(alchdb_cancel_reset(k), 0);
    ck_assert_int_eq(alchdb_cancel_is_triggered(k), 0);
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, &o, NULL), ALCHDB_E_CONNECT);
    alchdb_client_free(c);
    alchdb_pool_free(pool);
    alchdb_cancel_free(k);
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
    /* Generous margins: the machine is shared, a "fast" statement must stay
     * far below the threshold even under load (the connection is made and
     * the statement prepared before the log is captured). */
    const char *kv[] = {"slow_query_threshold", "300ms", NULL};
    alchdb_client *c = open_client("alchdb_cslow", 1, kv);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 'fast'", 0, NULL, NULL), 0);
    log_buf[0] = '\0';
    alchdb_set_log_handler(capture, NULL, ALCHDB_LOG_INFO);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 'fast'", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT pg_sleep(0.4), 'slowpoke'", 0, NULL, NULL), 0);
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

/* ---- retries never run a statement twice ---- */

START_TEST(test_retry_only_refused_statements)
{
    alchdb_client *c = open_client("alchdb_cretry", 1, NULL);
    ck_assert_int_eq(alchdb_client_exec_flags(c,
                                              "DROP SEQUENCE IF EXISTS cretry_seq; CREATE SEQUENCE cretry_seq; "
                                              "CREATE OR REPLACE FUNCTION cretry_f(code text) RETURNS int "
                                              "LANGUAGE plpgsql AS $$ BEGIN PERFORM nextval('cretry_seq'); "
                                              "RAISE EXCEPTION 'cached plan must not change result type' "
                                              "USING ERRCODE = code; END $$",
                                              0, NULL, ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    /* the same codes as the plan cache's, raised by a function after a side
     * effect: never retried */
    const char *codes[] = {"0A000", "26000"};
    for (int i = 0; i < 2; i++) {
        const char *p[] = {codes[i]};
        alchdb_result *r = NULL;
        ck_assert_int_eq(alchdb_client_exec(c, "SELECT cretry_f($1)", 1, p, &r), ALCHDB_E_QUERY);
        ck_assert_str_eq(alchdb_result_sqlstate(r), codes[i]);
        ck_assert_str_eq(alchdb_last_error_sqlstate(), codes[i]);
        alchdb_result_free(r);
        char want[8];
        snprintf(want, sizeof want, "%d", i + 1);
        r = ok_exec(c, "SELECT last_value FROM cretry_seq", 0, NULL);
        ck_assert_msg(strcmp(alchdb_result_value(r, 0, 0), want) == 0, "nextval ran %s times for %d calls",
                      alchdb_result_value(r, 0, 0), i + 1);
        alchdb_result_free(r);
    }
    ck_assert_int_eq(alchdb_client_exec_flags(c, "DROP FUNCTION cretry_f(text); DROP SEQUENCE cretry_seq", 0, NULL,
                                              ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    alchdb_client_free(c);
}
END_TEST

/* ---- transaction state never lies ---- */

static long count_where(alchdb_client *c, const char *sql)
{
    alchdb_result *r = ok_exec(c, sql, 0, NULL);
    long n = strtol(alchdb_result_value(r, 0, 0), NULL, 10);
    alchdb_result_free(r);
    return n;
}

START_TEST(test_transaction_state)
{
    alchdb_client *c = open_client("alchdb_ctstate", 2, NULL);
    ck_assert_int_eq(alchdb_client_exec_flags(c, "DROP TABLE IF EXISTS ctstate; CREATE TABLE ctstate (v int)", 0, NULL,
                                              ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    /* COMMIT through txn_exec ends the handle */
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctstate VALUES (1)", 0, NULL, NULL), 0);
    alchdb_result *r = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "COMMIT", 0, NULL, &r), 0);
    ck_assert_str_eq(alchdb_result_command_tag(r), "COMMIT");
    alchdb_result_free(r);
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctstate VALUES (2)", 0, NULL, NULL), ALCHDB_E_STATE);
    ck_assert_msg(strstr(alchdb_last_error_message(), "COMMIT"), "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_txn_rollback(t), ALCHDB_E_STATE); /* no claim of a rollback that did not happen */
    ck_assert_int_eq(alchdb_txn_commit(t), ALCHDB_E_STATE);
    alchdb_txn_free(t);
    ck_assert_int_eq(count_where(c, "SELECT count(*) FROM ctstate"), 1);
    /* ROLLBACK through txn_exec too */
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctstate VALUES (3)", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "ROLLBACK", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_txn_rollback(t), ALCHDB_E_STATE);
    alchdb_txn_free(t);
    ck_assert_int_eq(count_where(c, "SELECT count(*) FROM ctstate"), 1);
    /* savepoints stay inside the transaction */
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "SAVEPOINT a", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO ctstate VALUES (4)", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "ROLLBACK TO SAVEPOINT a", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    ck_assert_int_eq(count_where(c, "SELECT count(*) FROM ctstate"), 1);

    /* transaction control through client_exec: refused, pointing to the txn API */
    alchdb_pool_metrics m0, m1;
    alchdb_pool_get_metrics(alchdb_client_pool(c), &m0, sizeof m0);
    r = (alchdb_result *)1;
    ck_assert_int_eq(alchdb_client_exec(c, "BEGIN", 0, NULL, &r), ALCHDB_E_STATE);
    ck_assert_ptr_null(r);
    ck_assert_msg(strstr(alchdb_last_error_message(), "alchdb_client_begin"), "%s", alchdb_last_error_message());
    alchdb_pool_get_metrics(alchdb_client_pool(c), &m1, sizeof m1);
    ck_assert_int_eq(m1.rollbacks, m0.rollbacks + 1); /* the opened transaction was rolled back */
    ck_assert_int_eq(alchdb_client_exec(c, "INSERT INTO ctstate VALUES (5)", 0, NULL, NULL), 0); /* autocommit */
    ck_assert_int_eq(alchdb_client_exec(c, "COMMIT", 0, NULL, NULL), ALCHDB_E_STATE);
    ck_assert_msg(strstr(alchdb_last_error_message(), "alchdb_txn_commit"), "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_client_exec(c, "ROLLBACK", 0, NULL, NULL), ALCHDB_E_STATE);
    ck_assert_int_eq(alchdb_client_exec(c, "SAVEPOINT x", 0, NULL, NULL), ALCHDB_E_STATE);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "25P01");
    ck_assert_int_eq(alchdb_client_exec_flags(c, "SELECT 1; BEGIN", 0, NULL, ALCHDB_EXEC_SIMPLE, NULL),
                     ALCHDB_E_STATE);
    /* a whole transaction in one simple-protocol string is atomic and fine */
    ck_assert_int_eq(alchdb_client_exec_flags(c, "BEGIN; INSERT INTO ctstate VALUES (6); COMMIT", 0, NULL,
                                              ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    ck_assert_int_eq(count_where(c, "SELECT count(*) FROM ctstate"), 3);
    ck_assert_int_eq(alchdb_client_exec(c, "DROP TABLE ctstate", 0, NULL, NULL), 0);
    alchdb_client_free(c);
}
END_TEST

/* ---- SQLSTATE on every server error, commit-time ones included ---- */

START_TEST(test_sqlstate_accessor)
{
    alchdb_client *c = open_client("alchdb_csqlstate", 3, NULL);
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1/0", 0, NULL, NULL), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "22012");
    alchdb_clear_error();
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "");
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1/0", 0, NULL, NULL), ALCHDB_E_QUERY);
    ck_assert_int_eq(alchdb_client_exec(c, NULL, 0, NULL, NULL), ALCHDB_E_INVALID); /* a new error clears it */
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "");
    ck_assert_int_eq(alchdb_client_exec_flags(c,
                                              "DROP TABLE IF EXISTS cdefer; CREATE TABLE cdefer (id int UNIQUE "
                                              "DEFERRABLE INITIALLY DEFERRED); "
                                              "DROP TABLE IF EXISTS cskew; CREATE TABLE cskew (class int, v int); "
                                              "INSERT INTO cskew VALUES (1, 10), (2, 20)",
                                              0, NULL, ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    /* a deferred unique violation fails the COMMIT: 23505 there */
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "INSERT INTO cdefer VALUES (1), (1)", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_commit(t), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "23505");
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), ALCHDB_E_STATE);
    alchdb_txn_free(t);
    ck_assert_int_eq(count_where(c, "SELECT count(*) FROM cdefer"), 0);
    /* write skew under SERIALIZABLE: one transaction fails with 40001 */
    alchdb_txn *a, *b;
    ck_assert_int_eq(alchdb_client_begin(c, ALCHDB_TXN_SERIALIZABLE, &a), 0);
    ck_assert_int_eq(alchdb_client_begin(c, ALCHDB_TXN_SERIALIZABLE, &b), 0);
    ck_assert_int_eq(alchdb_txn_exec(a, "SELECT sum(v) FROM cskew WHERE class = 1", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_exec(b, "SELECT sum(v) FROM cskew WHERE class = 2", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_exec(a, "INSERT INTO cskew VALUES (2, 30)", 0, NULL, NULL), 0);
    int rb = alchdb_txn_exec(b, "INSERT INTO cskew VALUES (1, 300)", 0, NULL, NULL);
    char st_b[6] = "";
    if (rb != 0)
        snprintf(st_b, sizeof st_b, "%s", alchdb_last_error_sqlstate());
    ck_assert_int_eq(alchdb_txn_commit(a), 0);
    int cb = alchdb_txn_commit(b);
    ck_assert_int_eq(cb, ALCHDB_E_QUERY);
    /* at the commit, or at the insert (then the commit reports that first error) */
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "40001");
    if (rb != 0)
        ck_assert_str_eq(st_b, "40001");
    alchdb_txn_free(a);
    alchdb_txn_free(b);
    /* an earlier error: the commit's SQLSTATE is that error's */
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1/0", 0, NULL, NULL), ALCHDB_E_QUERY);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "25P02");
    ck_assert_int_eq(alchdb_txn_commit(t), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "22012");
    alchdb_txn_free(t);
    /* BEGIN refused by the server (a standby refuses SERIALIZABLE? the
     * primary refuses nothing here): a bad statement inside instead */
    ck_assert_int_eq(alchdb_client_exec_flags(c, "DROP TABLE cdefer; DROP TABLE cskew", 0, NULL, ALCHDB_EXEC_SIMPLE,
                                              NULL),
                     0);
    alchdb_client_free(c);
}
END_TEST

/* ---- per-call deadline and cancel ---- */

static long active_sleepers(const char *app) { return pgtest_active(app, "SELECT pg_sleep%"); }

static void wait_sleepers(const char *app, long want)
{
    for (int k = 0; k < 250 && active_sleepers(app) != want; k++)
        sleep_ms(20);
    ck_assert_int_eq(active_sleepers(app), want);
}

static int64_t ms_now(void) { return alchdb__now_ns() / 1000000; }

START_TEST(test_call_timeout)
{
    alchdb_client *c = open_client("alchdb_ctimeout", 1, NULL);
    alchdb_exec_opts o = {.size = sizeof o, .timeout_us = 300000};
    alchdb_result *r = (alchdb_result *)1;
    int64_t t0 = ms_now();
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT pg_sleep(30)", 0, NULL, &o, &r), ALCHDB_E_TIMEOUT);
    int64_t took = ms_now() - t0;
    ck_assert_ptr_null(r);
    ck_assert_msg(took >= 290 && took < 1300, "took %lld ms", (long long)took);
    ck_assert_msg(strstr(alchdb_last_error_message(), "timed out"), "%s", alchdb_last_error_message());
    wait_sleepers("alchdb_ctimeout", 0); /* canceled on the server, not left for 30 s */
    alchdb_pool_metrics m;
    alchdb_pool_get_metrics(alchdb_client_pool(c), &m, sizeof m);
    ck_assert_int_eq(m.cancels, 1);
    ck_assert_int_eq(m.closed_broken, 1); /* never back in the pool mid-query */
    ck_assert_int_eq(m.in_use, 0);
    r = ok_exec(c, "SELECT 'after'", 0, NULL);
    alchdb_result_free(r);

    /* the deadline also covers the wait for a connection */
    alchdb_conn *held;
    ck_assert_int_eq(alchdb_pool_acquire(alchdb_client_pool(c), -1, "holder", &held), 0);
    o.timeout_us = 200000;
    t0 = ms_now();
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, &o, NULL), ALCHDB_E_TIMEOUT);
    took = ms_now() - t0;
    ck_assert_msg(took >= 190 && took < 1200, "took %lld ms", (long long)took);
    ck_assert_msg(strstr(alchdb_last_error_message(), "holder"), "%s", alchdb_last_error_message());
    alchdb_pool_release(alchdb_client_pool(c), held);

    /* a stopped backend: the statement's deadline holds */
    alchdb_result *pid = ok_exec(c, "SELECT pg_backend_pid()", 0, NULL);
    procstop ps = procstop_begin(atoi(alchdb_result_value(pid, 0, 0)), 20000);
    alchdb_result_free(pid);
    o.timeout_us = 300000;
    t0 = ms_now();
    int rc = alchdb_client_exec_opts(c, "SELECT 2", 0, NULL, &o, NULL);
    took = ms_now() - t0;
    procstop_end(&ps);
    ck_assert_int_eq(rc, ALCHDB_E_TIMEOUT);
    ck_assert_msg(took >= 290 && took < 1300, "took %lld ms", (long long)took);
    r = ok_exec(c, "SELECT 'fresh connection'", 0, NULL);
    alchdb_result_free(r);

    /* a parameter too big for the socket buffers, to a stopped backend: the
     * send itself waits, and the deadline holds there too */
    enum { BIG = 32 << 20 };
    char *big = malloc(BIG);
    ck_assert_ptr_nonnull(big);
    memset(big, 'z', BIG);
    const int32_t bfmt[] = {1};
    const int32_t blen[] = {BIG};
    const char *bp[] = {big};
    alchdb_exec_opts obig = {.size = sizeof obig, .timeout_us = 300000, .param_formats = bfmt,
                             .param_lengths = blen};
    pid = ok_exec(c, "SELECT pg_backend_pid()", 0, NULL);
    ps = procstop_begin(atoi(alchdb_result_value(pid, 0, 0)), 20000);
    alchdb_result_free(pid);
    t0 = ms_now();
    rc = alchdb_client_exec_opts(c, "SELECT octet_length($1::bytea)", 1, bp, &obig, NULL);
    took = ms_now() - t0;
    procstop_end(&ps);
    ck_assert_int_eq(rc, ALCHDB_E_TIMEOUT);
    ck_assert_msg(took >= 290 && took < 1300, "took %lld ms", (long long)took);
    /* and the same parameter goes through when the server answers */
    obig.timeout_us = 60000000;
    r = NULL;
    ck_assert_msg(alchdb_client_exec_opts(c, "SELECT octet_length($1::bytea)", 1, bp, &obig, &r) == 0, "%s",
                  alchdb_last_error_message());
    ck_assert_int_eq(atoi(alchdb_result_value(r, 0, 0)), BIG);
    alchdb_result_free(r);
    free(big);

    /* transactions: a timed-out statement ends the transaction */
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin_opts(c, 0, &o, &t), 0);
    t0 = ms_now();
    ck_assert_int_eq(alchdb_txn_exec_opts(t, "SELECT pg_sleep(30)", 0, NULL, &o, NULL), ALCHDB_E_TIMEOUT);
    ck_assert_int_lt(ms_now() - t0, 1300);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), ALCHDB_E_STATE);
    ck_assert_msg(strstr(alchdb_last_error_message(), "timed out"), "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_txn_commit(t), ALCHDB_E_STATE);
    alchdb_txn_free(t);
    wait_sleepers("alchdb_ctimeout", 0);
    alchdb_client_free(c);
    for (int k = 0; k < 250 && alchdb__pq_cancel_inflight() > 0; k++)
        sleep_ms(20);
}
END_TEST

typedef struct canceled_call {
    alchdb_client *c;
    alchdb_cancel *k;
    int rc;
    int64_t ms;
} canceled_call;

static void *cancel_victim(void *arg)
{
    canceled_call *cc = arg;
    alchdb_exec_opts o = {.size = sizeof o, .cancel = cc->k};
    int64_t t0 = ms_now();
    cc->rc = alchdb_client_exec_opts(cc->c, "SELECT pg_sleep(30)", 0, NULL, &o, NULL);
    cc->ms = ms_now() - t0;
    return NULL;
}

START_TEST(test_cancel_from_another_thread)
{
    alchdb_client *c = open_client("alchdb_ccancel", 1, NULL);
    canceled_call cc = {.c = c};
    ck_assert_int_eq(alchdb_cancel_new(&cc.k), 0);
    /* a running statement */
    pthread_t th;
    pthread_create(&th, NULL, cancel_victim, &cc);
    wait_sleepers("alchdb_ccancel", 1);
    int64_t t0 = ms_now();
    ck_assert_int_eq(alchdb_cancel_trigger(cc.k), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(cc.rc, ALCHDB_E_CANCELED);
    ck_assert_int_lt(ms_now() - t0, 1000);
    wait_sleepers("alchdb_ccancel", 0);
    /* a caller waiting for a connection */
    ck_assert_int_eq(alchdb_cancel_reset(cc.k), 0);
    alchdb_conn *held;
    ck_assert_int_eq(alchdb_pool_acquire(alchdb_client_pool(c), -1, "holder", &held), 0);
    pthread_create(&th, NULL, cancel_victim, &cc);
    for (int k = 0; k < 250; k++) {
        alchdb_pool_metrics m;
        alchdb_pool_get_metrics(alchdb_client_pool(c), &m, sizeof m);
        if (m.waiters == 1)
            break;
        sleep_ms(10);
    }
    ck_assert_int_eq(alchdb_cancel_trigger(cc.k), 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(cc.rc, ALCHDB_E_CANCELED);
    ck_assert_int_lt(cc.ms, 5000);
    alchdb_pool_release(alchdb_client_pool(c), held);
    alchdb_result *r = ok_exec(c, "SELECT 'still fine'", 0, NULL);
    alchdb_result_free(r);
    alchdb_client_free(c);
    alchdb_cancel_free(cc.k);
    for (int k = 0; k < 250 && alchdb__pq_cancel_inflight() > 0; k++)
        sleep_ms(20);
}
END_TEST

/* ---- binary parameters and result formats ---- */

START_TEST(test_binary_parameters)
{
    alchdb_client *c = open_client("alchdb_cbinary", 1, NULL);
    ck_assert_int_eq(alchdb_client_exec_flags(c, "DROP TABLE IF EXISTS cbin; CREATE TABLE cbin (id int, b bytea)", 0,
                                              NULL, ALCHDB_EXEC_SIMPLE, NULL),
                     0);
    static const char blob[] = {'a', 0, 'b', 0, 0, (char)0xff, '\\', 'x'};
    const int32_t fmt[] = {1, 1};
    const int32_t len[] = {4, (int32_t)sizeof blob};
    const char id[4] = {0, 0, 0x01, 0x02}; /* int4 258, network order */
    const char *p[] = {id, blob};
    alchdb_exec_opts o = {.size = sizeof o, .param_formats = fmt, .param_lengths = len};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "INSERT INTO cbin VALUES ($1, $2)", 2, p, &o, NULL), 0);
    /* both ways: prepared (cached) and unprepared */
    o.flags = ALCHDB_EXEC_UNPREPARED;
    ck_assert_int_eq(alchdb_client_exec_opts(c, "INSERT INTO cbin VALUES ($1, $2)", 2, p, &o, NULL), 0);
    alchdb_result *r = ok_exec(c, "SELECT count(*), min(id), min(octet_length(b)), bool_and(b = '\\x6100620000ff5c78') FROM cbin", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "2");
    ck_assert_str_eq(alchdb_result_value(r, 0, 1), "258");
    ck_assert_str_eq(alchdb_result_value(r, 0, 2), "8");
    ck_assert_str_eq(alchdb_result_value(r, 0, 3), "t");
    ck_assert_int_eq(alchdb_result_column_format(r, 0), 0);
    ck_assert_int_eq(alchdb_result_column_format(r, 9), ALCHDB_E_RANGE);
    alchdb_result_free(r);
    /* binary results: the bytes, no hex */
    alchdb_exec_opts ob = {.size = sizeof ob, .flags = ALCHDB_EXEC_BINARY_RESULT, .param_formats = fmt,
                           .param_lengths = len};
    r = NULL;
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT b, id FROM cbin WHERE id = $1 LIMIT 1", 1, p, &ob, &r), 0);
    ck_assert_int_eq(alchdb_result_nrows(r), 1);
    ck_assert_int_eq(alchdb_result_column_format(r, 0), 1);
    ck_assert_int_eq(alchdb_result_length(r, 0, 0), (int64_t)sizeof blob);
    ck_assert_int_eq(memcmp(alchdb_result_value(r, 0, 0), blob, sizeof blob), 0);
    ck_assert_int_eq(alchdb_result_length(r, 0, 1), 4);
    ck_assert_int_eq(memcmp(alchdb_result_value(r, 0, 1), id, 4), 0);
    alchdb_result_free(r);
    /* mixed: a text parameter next to a binary one, and a binary NULL */
    const int32_t mixed[] = {0, 1};
    const char *pm[] = {"7", NULL};
    alchdb_exec_opts om = {.size = sizeof om, .param_formats = mixed, .param_lengths = len};
    ck_assert_int_eq(alchdb_client_exec_opts(c, "INSERT INTO cbin VALUES ($1::int, $2)", 2, pm, &om, NULL), 0);
    ck_assert_int_eq(count_where(c, "SELECT count(*) FROM cbin WHERE id = 7 AND b IS NULL"), 1);
    ck_assert_int_eq(alchdb_client_exec(c, "DROP TABLE cbin", 0, NULL, NULL), 0);
    alchdb_client_free(c);
}
END_TEST

/* ---- streaming ---- */

static int obs_stream_calls;
static int64_t obs_stream_rows;
static int obs_stream_rc;
static void obs_stream(void *ud, const alchdb__exec_ctx *ctx)
{
    (void)ud;
    if (!ctx->streaming)
        return;
    obs_stream_calls++;
    obs_stream_rows = ctx->rows;
    obs_stream_rc = ctx->rc;
}

START_TEST(test_stream_rows)
{
    alchdb_client *c = open_client("alchdb_cstream", 1, NULL);
    static const alchdb__observe_hooks oh = {obs_stream};
    c->observe = &oh;
    obs_stream_calls = 0;
    const char *p[] = {"1000"};
    alchdb_stream *st = NULL;
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT g, 'row ' || g FROM generate_series(1, $1::int) g", 1, p, NULL,
                                          &st),
                     0);
    const alchdb_result *row;
    int64_t n = 0;
    int rc;
    while ((rc = alchdb_stream_next(st, &row)) == 1) {
        n++;
        ck_assert_int_eq(alchdb_result_nrows(row), 1);
        char want[32];
        snprintf(want, sizeof want, "%lld", (long long)n);
        ck_assert_str_eq(alchdb_result_value(row, 0, 0), want);
    }
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(n, 1000);
    ck_assert_int_eq(alchdb_stream_rows(st), 1000);
    ck_assert_str_eq(alchdb_stream_command_tag(st), "SELECT 1000");
    ck_assert_int_eq(alchdb_stream_next(st, &row), 0); /* stays ended */
    alchdb_stream_free(st);
    ck_assert_int_eq(obs_stream_calls, 1);
    ck_assert_int_eq(obs_stream_rows, 1000);
    alchdb_pool_metrics m;
    alchdb_pool_get_metrics(alchdb_client_pool(c), &m, sizeof m);
    ck_assert_int_eq(m.in_use, 0); /* the connection went back at the end */

    /* an error half way: the rows before it, then the error and its SQLSTATE */
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT 1 / (500 - g) FROM generate_series(1, 1000) g", 0, NULL, NULL,
                                          &st),
                     0);
    n = 0;
    while ((rc = alchdb_stream_next(st, &row)) == 1)
        n++;
    ck_assert_int_eq(rc, ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "22012");
    ck_assert_int_eq(n, 499);
    ck_assert_int_eq(alchdb_stream_next(st, &row), ALCHDB_E_QUERY); /* stays failed */
    alchdb_stream_free(st);
    /* refused at once: no stream */
    st = (alchdb_stream *)1;
    ck_assert_int_eq(alchdb_client_stream(c, "SELEC nonsense", 0, NULL, NULL, &st), ALCHDB_E_QUERY);
    ck_assert_ptr_null(st);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "42601");
    /* no rows, and a command */
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT 1 WHERE false", 0, NULL, NULL, &st), 0);
    ck_assert_int_eq(alchdb_stream_next(st, &row), 0);
    ck_assert_str_eq(alchdb_stream_command_tag(st), "SELECT 0");
    alchdb_stream_free(st);

    /* freed before the end: canceled on the server, the connection closed
     * (rows of 9000 bytes: the server flushes its 8 KB buffer at each) */
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT g, repeat('x', 9000), pg_sleep(0.01) FROM generate_series(1, 100000) g", 0, NULL,
                                          NULL, &st),
                     0);
    ck_assert_int_eq(alchdb_stream_next(st, &row), 1);
    alchdb_stream_free(st);
    for (int k = 0; k < 250 && pgtest_active("alchdb_cstream", "%generate_series(1, 100000)%") > 0; k++)
        sleep_ms(20);
    ck_assert_int_eq(pgtest_active("alchdb_cstream", "%generate_series(1, 100000)%"), 0);
    ck_assert_int_eq(obs_stream_rc, ALCHDB_E_CANCELED);

    /* the deadline covers the whole stream */
    alchdb_exec_opts o = {.size = sizeof o, .timeout_us = 300000};
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT g, repeat('x', 9000), pg_sleep(0.05) FROM generate_series(1, 1000) g", 0, NULL, &o,
                                          &st),
                     0);
    int64_t t0 = ms_now();
    n = 0;
    while ((rc = alchdb_stream_next(st, &row)) == 1)
        n++;
    ck_assert_int_eq(rc, ALCHDB_E_TIMEOUT);
    ck_assert_int_lt(ms_now() - t0, 1300);
    ck_assert_int_lt(n, 50);
    alchdb_stream_free(st);

    /* in a transaction: the transaction waits for the stream */
    alchdb_txn *t;
    ck_assert_int_eq(alchdb_client_begin(c, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "CREATE TEMP TABLE cst (v int)", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_stream(t, "INSERT INTO cst SELECT generate_series(1, 10) RETURNING v", 0, NULL, NULL,
                                       &st),
                     0);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), ALCHDB_E_STATE);
    n = 0;
    while ((rc = alchdb_stream_next(st, &row)) == 1)
        n++;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(n, 10);
    ck_assert_str_eq(alchdb_stream_command_tag(st), "INSERT 0 10");
    alchdb_stream_free(st);
    alchdb_result *r = NULL;
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT count(*) FROM cst", 0, NULL, &r), 0);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "10");
    alchdb_result_free(r);
    /* a transaction's stream freed early ends the transaction */
    ck_assert_int_eq(alchdb_txn_stream(t, "SELECT g, repeat('x', 9000), pg_sleep(0.01) FROM generate_series(1, 100000) g", 0, NULL,
                                       NULL, &st),
                     0);
    alchdb_stream_free(st);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), ALCHDB_E_STATE);
    alchdb_txn_free(t);
    alchdb_client_free(c);
    for (int k = 0; k < 250 && alchdb__pq_cancel_inflight() > 0; k++)
        sleep_ms(20);
}
END_TEST

/* ---- fork ---- */

START_TEST(test_fork_guard_client)
{
    alchdb_client *c = open_client("alchdb_cfork", 2, NULL);
    alchdb_result *r = ok_exec(c, "SELECT pg_backend_pid()", 0, NULL);
    int pid = atoi(alchdb_result_value(r, 0, 0));
    alchdb_result_free(r);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        int code = 0;
        alchdb_result *x = NULL;
        if (alchdb_client_exec(c, "SELECT 1", 0, NULL, &x) != ALCHDB_E_STATE || x)
            code |= 1;
        if (!strstr(alchdb_last_error_message(), "fork"))
            code |= 2;
        alchdb_txn *t = NULL;
        if (alchdb_client_begin(c, 0, &t) != ALCHDB_E_STATE)
            code |= 4;
        alchdb_stream *st = NULL;
        if (alchdb_client_stream(c, "SELECT 1", 0, NULL, NULL, &st) != ALCHDB_E_STATE)
            code |= 8;
        alchdb_client_free(c); /* drops the inherited connection silently */
        _exit(code);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    r = ok_exec(c, "SELECT pg_backend_pid()", 0, NULL);
    ck_assert_int_eq(atoi(alchdb_result_value(r, 0, 0)), pid); /* the same session, alive */
    alchdb_result_free(r);
    alchdb_client_free(c);
}
END_TEST

/* ---- client_encoding ---- */

START_TEST(test_utf8_on_latin1_database)
{
    PGconn *a = pgtest_connect();
    PQclear(PQexec(a, "DROP DATABASE IF EXISTS alchdb_latin1"));
    pgtest_exec(a, "CREATE DATABASE alchdb_latin1 ENCODING 'LATIN1' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'");
    char ci[1024];
    snprintf(ci, sizeof ci, "%s dbname=alchdb_latin1 application_name=alchdb_clatin1", test_env("ALCHDB_TEST_PRIMARY"));
    alchdb_client *c;
    ck_assert_msg(alchdb_client_open(ci, NULL, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_result *r = ok_exec(c, "SHOW client_encoding", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "UTF8");
    alchdb_result_free(r);
    const char *text = "caf\xc3\xa9 \xc3\xb1 \xc3\xbc \xc3\x9f"; /* "café ñ ü ß" in UTF-8 */
    const char *p[] = {text};
    ck_assert_int_eq(alchdb_client_exec(c, "CREATE TABLE enc (v text)", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_client_exec(c, "INSERT INTO enc VALUES ($1)", 1, p, NULL), 0);
    r = ok_exec(c, "SELECT v, length(v), octet_length(v) FROM enc", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), text); /* the same characters back */
    ck_assert_str_eq(alchdb_result_value(r, 0, 1), "10");
    ck_assert_str_eq(alchdb_result_value(r, 0, 2), "10"); /* stored as Latin-1: one byte each */
    alchdb_result_free(r);
    /* a character Latin-1 does not have is an error, not silent garbage */
    const char *euro[] = {"\xe2\x82\xac"};
    ck_assert_int_eq(alchdb_client_exec(c, "INSERT INTO enc VALUES ($1)", 1, euro, NULL), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_last_error_sqlstate(), "22P05");
    alchdb_client_free(c);
    /* the conninfo may choose another client encoding */
    snprintf(ci, sizeof ci, "%s dbname=alchdb_latin1 client_encoding=LATIN1", test_env("ALCHDB_TEST_PRIMARY"));
    ck_assert_int_eq(alchdb_client_open(ci, NULL, &c), 0);
    r = ok_exec(c, "SELECT current_setting('client_encoding'), v FROM enc", 0, NULL);
    ck_assert_str_eq(alchdb_result_value(r, 0, 0), "LATIN1");
    ck_assert_str_eq(alchdb_result_value(r, 0, 1), "caf\xe9 \xf1 \xfc \xdf");
    alchdb_result_free(r);
    alchdb_client_free(c);
    for (int k = 0; k < 100; k++) {
        PGresult *d = PQexec(a, "DROP DATABASE alchdb_latin1");
        ExecStatusType st = PQresultStatus(d);
        PQclear(d);
        if (st == PGRES_COMMAND_OK)
            break;
        sleep_ms(20); /* backends exit asynchronously after Terminate */
    }
    PQfinish(a);
}
END_TEST

/* ---- routed: the call's deadline caps the router's wait; streams route ---- */

START_TEST(test_routed_deadline_and_stream)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    alchdb_pool_config *pc;
    ck_assert_int_eq(alchdb_pool_config_new(&pc), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_OPEN, 1), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_IDLE, 1), 0);
    alchdb_router *rt;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), pc, cfg, &rt), 0);
    ck_assert_int_eq(alchdb_router_add_replica(rt, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    alchdb_pool_config_free(pc);
    alchdb_router_config_free(cfg);
    ck_assert_msg(alchdb_router_start(rt) == 0, "%s", alchdb_last_error_message());
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(rt, &c), 0);
    /* the primary's only connection is held: a write waits, up to the call's deadline */
    alchdb_conn *held;
    ck_assert_int_eq(alchdb_pool_acquire(alchdb_router_host_pool(rt, 0), -1, "holder", &held), 0);
    alchdb_exec_opts o = {.size = sizeof o, .timeout_us = 200000, .flags = ALCHDB_EXEC_PRIMARY};
    int64_t t0 = ms_now();
    ck_assert_int_eq(alchdb_client_exec_opts(c, "SELECT 1", 0, NULL, &o, NULL), ALCHDB_E_TIMEOUT);
    int64_t took = ms_now() - t0;
    ck_assert_msg(took >= 190 && took < 1200, "took %lld ms (the router's acquire_timeout is 10 s)", (long long)took);
    alchdb_pool_release(alchdb_router_host_pool(rt, 0), held);
    /* a read stream runs on the replica */
    alchdb_exec_opts ro = {.size = sizeof ro, .flags = ALCHDB_EXEC_READ};
    alchdb_stream *st;
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT pg_is_in_recovery() FROM generate_series(1, 3)", 0, NULL, &ro,
                                          &st),
                     0);
    const alchdb_result *row;
    int n = 0;
    while (alchdb_stream_next(st, &row) == 1) {
        ck_assert_str_eq(alchdb_result_value(row, 0, 0), "t");
        n++;
    }
    ck_assert_int_eq(n, 3);
    alchdb_stream_free(st);
    alchdb_client_free(c);
    alchdb_router_free(rt);
}
END_TEST

/* ---- allocation failure ---- */

static void oom_round(alchdb_client *c)
{
    const int32_t fmt[] = {1};
    const int32_t len[] = {3};
    const char *p[] = {"a\0b"};
    alchdb_exec_opts o = {.size = sizeof o, .timeout_us = 10000000, .param_formats = fmt, .param_lengths = len};
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec_opts(c, "SELECT octet_length($1::bytea)", 1, p, &o, &r);
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "exec: %d %s", rc, alchdb_last_error_message());
    if (rc == 0)
        ck_assert_str_eq(alchdb_result_value(r, 0, 0), "3");
    alchdb_result_free(r);
    alchdb_stream *st = NULL;
    rc = alchdb_client_stream(c, "SELECT g FROM generate_series(1, 5) g", 0, NULL, NULL, &st);
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "stream: %d %s", rc, alchdb_last_error_message());
    if (rc == 0) {
        const alchdb_result *row;
        int n = 0;
        while ((rc = alchdb_stream_next(st, &row)) == 1)
            n++;
        ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "next: %d %s", rc, alchdb_last_error_message());
        if (rc == 0)
            ck_assert_int_eq(n, 5);
        alchdb_stream_free(st);
    }
    alchdb_txn *t = NULL;
    rc = alchdb_client_begin(c, 0, &t);
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "begin: %d %s", rc, alchdb_last_error_message());
    if (rc == 0) {
        rc = alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL);
        ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "txn exec: %d %s", rc, alchdb_last_error_message());
        rc = alchdb_txn_commit(t);
        ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM || rc == ALCHDB_E_STATE, "commit: %d %s", rc,
                      alchdb_last_error_message());
        alchdb_txn_free(t);
    }
    alchdb_cancel *k = NULL;
    rc = alchdb_cancel_new(&k);
    ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "cancel_new: %d", rc);
    alchdb_cancel_free(k);
}

/* Each allocation of an exec with binary parameters, a stream, a
 * transaction and a cancel handle fails in turn: every call succeeds or
 * returns ALCHDB_E_NOMEM, and nothing leaks. */
START_TEST(test_out_of_memory)
{
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    char ci[1024];
    snprintf(ci, sizeof ci, "%s application_name=alchdb_coom", test_env("ALCHDB_TEST_PRIMARY"));
    long k;
    for (k = 1; k <= 400; k++) {
        /* a new client each time: the first-use allocations (pool, statement
         * cache) fail in turn too */
        failalloc_arm(k);
        alchdb_client *c = NULL;
        int rc = alchdb_client_open(ci, NULL, &c);
        ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "open: %d %s", rc, alchdb_last_error_message());
        if (rc == 0)
            oom_round(c);
        long calls = atomic_load(&failalloc_calls);
        failalloc_arm(-1);
        alchdb_client_free(c);
        if (calls < k)
            break; /* the sequence no longer reaches allocation k */
    }
    fprintf(stderr, "out of memory: failed each of the first %ld allocations in turn\n", k - 1);
    ck_assert_int_gt(k, 20);
    alchdb_client *c = open_client("alchdb_coom", 1, NULL);
    oom_round(c); /* everything works again */
    alchdb_client_free(c);
    ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
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
        tcase_add_test(tc, test_bad_options);
        tcase_add_test(tc, test_cancel_handle_api);
    } else {
        tcase_add_test(tc, test_exec_values_and_types);
        tcase_add_test(tc, test_error_results);
        tcase_add_test(tc, test_affected_rows_and_transactions);
        tcase_add_test(tc, test_statement_cache);
        tcase_add_test(tc, test_broken_connection_through_client);
        tcase_add_test(tc, test_threads_share_client);
        tcase_add_test(tc, test_slow_statement_logged);
        tcase_add_test(tc, test_hook_seams);
        tcase_add_test(tc, test_retry_only_refused_statements);
        tcase_add_test(tc, test_transaction_state);
        tcase_add_test(tc, test_sqlstate_accessor);
        tcase_add_test(tc, test_call_timeout);
        tcase_add_test(tc, test_cancel_from_another_thread);
        tcase_add_test(tc, test_binary_parameters);
        tcase_add_test(tc, test_stream_rows);
        tcase_add_test(tc, test_fork_guard_client);
        tcase_add_test(tc, test_utf8_on_latin1_database);
        tcase_add_test(tc, test_routed_deadline_and_stream);
        tcase_add_test(tc, test_out_of_memory);
    }
    suite_add_tcase(s, tc);
    return run_suite(s);
}
