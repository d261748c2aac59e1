/* SQL analysis: classification table, spans, fingerprints, JSON shape, bad
 * input, the cache (hits, eviction, 8 threads) and allocation failures. */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "testutil.h"

#include <alchdb/alchdb.h>

#include "internal.h"
#include "sql/sql_internal.h"

enum { S = ALCHDB_SQL_SELECT, I = ALCHDB_SQL_INSERT, U = ALCHDB_SQL_UPDATE, D = ALCHDB_SQL_DELETE,
       M = ALCHDB_SQL_MERGE, DDL = ALCHDB_SQL_DDL, T = ALCHDB_SQL_TRANSACTION, UT = ALCHDB_SQL_UTILITY };

typedef struct row {
    const char *sql;
    int kind;
    int ro, lock, cache;
    const char *read, *written, *vol; /* comma-separated exact sets */
} row;

static const row rows[] = {
    /* plain reads */
    {"SELECT 1", S, 1, 0, 1, "", "", ""},
    {"SELECT * FROM users", S, 1, 0, 1, "users", "", ""},
    {"SELECT * FROM app.users WHERE id = 5", S, 1, 0, 1, "app.users", "", ""},
    {"SELECT * FROM \"App\".\"Users\"", S, 1, 0, 1, "\"App\".\"Users\"", "", ""},
    {"SELECT * FROM USERS", S, 1, 0, 1, "users", "", ""},
    {"SELECT count(*) FROM db.app.t", S, 1, 0, 1, "db.app.t", "", ""},
    {"SELECT u.id FROM users u JOIN orders o ON o.uid = u.id LEFT JOIN app.items i ON i.oid = o.id", S, 1, 0, 1,
     "users,orders,app.items", "", ""},
    {"SELECT * FROM users WHERE id IN (SELECT uid FROM orders)", S, 1, 0, 1, "users,orders", "", ""},
    {"SELECT (SELECT count(*) FROM orders o WHERE o.uid = u.id) FROM users u", S, 1, 0, 1, "users,orders", "", ""},
    {"SELECT * FROM users WHERE EXISTS (SELECT 1 FROM bans b WHERE b.uid = users.id)", S, 1, 0, 1, "users,bans", "",
     ""},
    {"SELECT id FROM a UNION SELECT id FROM b EXCEPT SELECT id FROM c", S, 1, 0, 1, "a,b,c", "", ""},
    {"SELECT * FROM users u, LATERAL (SELECT * FROM orders o WHERE o.uid = u.id LIMIT 1) lo", S, 1, 0, 1,
     "users,orders", "", ""},
    {"SELECT * FROM (SELECT * FROM t1) sub JOIN t2 USING (id)", S, 1, 0, 1, "t1,t2", "", ""},
    {"SELECT * FROM generate_series(1, 10) g", S, 1, 0, 1, "", "", ""},
    {"VALUES (1), (2)", S, 1, 0, 1, "", "", ""},
    {"TABLE users", S, 1, 0, 1, "users", "", ""},
    {"SELECT * FROM t WHERE id = ANY(ARRAY[1,2])", S, 1, 0, 1, "t", "", ""},
    {"SELECT * FROM active_users_view v WHERE v.id = 1", S, 1, 0, 1, "active_users_view", "", ""},
    /* CTEs */
    {"WITH recent AS (SELECT * FROM orders WHERE ts > '2020-01-01') SELECT * FROM recent", S, 1, 0, 1, "orders", "",
     ""},
    {"WITH users AS (SELECT * FROM users WHERE active) SELECT * FROM users", S, 1, 0, 1, "users", "", ""},
    {"WITH a AS (SELECT * FROM t1), b AS (SELECT * FROM a JOIN t2 USING (id)) SELECT * FROM b", S, 1, 0, 1, "t1,t2",
     "", ""},
    {"WITH x AS (WITH y AS (SELECT * FROM x) SELECT * FROM y) SELECT * FROM x", S, 1, 0, 1, "x", "", ""},
    {"WITH q AS (SELECT 1) SELECT * FROM q, (WITH q AS (SELECT * FROM q) SELECT * FROM q) z", S, 1, 0, 1, "", "",
     ""},
    {"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r", S, 1, 0, 1, "",
     "", ""},
    {"WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", S, 0, 0, 0, "", "t", ""},
    {"WITH u AS (UPDATE accounts SET balance = 0 WHERE id = 1 RETURNING id) SELECT * FROM u JOIN audit a USING (id)",
     S, 0, 0, 0, "audit", "accounts", ""},
    {"WITH ins AS (INSERT INTO log(msg) VALUES ('x') RETURNING id) SELECT id FROM ins", S, 0, 0, 0, "", "log", ""},
    /* locking */
    {"SELECT * FROM users FOR UPDATE", S, 0, 1, 0, "users", "", ""},
    {"SELECT * FROM users WHERE id IN (SELECT uid FROM orders FOR SHARE)", S, 0, 1, 0, "users,orders", "", ""},
    {"SELECT * FROM jobs FOR NO KEY UPDATE SKIP LOCKED", S, 0, 1, 0, "jobs", "", ""},
    {"SELECT * FROM t FOR KEY SHARE", S, 0, 1, 0, "t", "", ""},
    {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", UT, 0, 1, 0, "t", "", ""},
    /* functions */
    {"SELECT now()", S, 1, 0, 0, "", "", "now"},
    {"SELECT random() FROM t", S, 1, 0, 0, "t", "", "random"},
    {"SELECT CURRENT_TIMESTAMP, current_date", S, 1, 0, 0, "", "", "current_timestamp,current_date"},
    {"SELECT * FROM events WHERE ts > localtimestamp - interval '1 day'", S, 1, 0, 0, "events", "",
     "localtimestamp"},
    {"SELECT pg_catalog.NOW()", S, 1, 0, 0, "", "", "now"},
    {"SELECT gen_random_uuid()", S, 1, 0, 0, "", "", "gen_random_uuid"},
    {"SELECT pg_sleep(1)", S, 1, 0, 0, "", "", "pg_sleep"},
    {"SELECT current_setting('work_mem')", S, 1, 0, 0, "", "", "current_setting"},
    {"SELECT * FROM t TABLESAMPLE BERNOULLI (10)", S, 1, 0, 0, "t", "", "tablesample"},
    {"SELECT nextval('s')", S, 0, 0, 0, "", "", "nextval"},
    {"SELECT currval('s')", S, 0, 0, 0, "", "", "currval"},
    {"SELECT pg_advisory_lock(42)", S, 0, 0, 0, "", "", "pg_advisory_lock"},
    {"SELECT pg_try_advisory_xact_lock(1, 2)", S, 0, 0, 0, "", "", "pg_try_advisory_xact_lock"},
    {"SELECT set_config('search_path', 'app', false)", S, 0, 0, 0, "", "", "set_config"},
    {"SELECT pg_notify('c', 'x')", S, 0, 0, 0, "", "", "pg_notify"},
    {"SELECT dblink_exec('conn', 'DELETE FROM x')", S, 0, 0, 0, "", "", "dblink_exec"},
    {"SELECT * FROM pg_temp.scratch", S, 1, 0, 0, "pg_temp.scratch", "", ""},
    /* SELECT INTO and DML */
    {"SELECT id INTO new_t FROM old_t", DDL, 0, 0, 0, "old_t", "new_t", ""},
    {"INSERT INTO t (a) VALUES (1)", I, 0, 0, 0, "", "t", ""},
    {"INSERT INTO t DEFAULT VALUES RETURNING id", I, 0, 0, 0, "", "t", ""},
    {"INSERT INTO t SELECT * FROM s WHERE x > 1", I, 0, 0, 0, "s", "t", ""},
    {"INSERT INTO t (id, v) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", I, 0, 0, 0, "", "t", ""},
    {"UPDATE t SET v = s.v FROM s WHERE t.id = s.id", U, 0, 0, 0, "s", "t", ""},
    {"UPDATE t SET v = (SELECT max(v) FROM s)", U, 0, 0, 0, "s", "t", ""},
    {"UPDATE app.users SET last_seen = now() WHERE id = 1", U, 0, 0, 0, "", "app.users", "now"},
    {"DELETE FROM t USING s WHERE t.id = s.id", D, 0, 0, 0, "s", "t", ""},
    {"DELETE FROM app.sessions WHERE expires < now()", D, 0, 0, 0, "", "app.sessions", "now"},
    {"MERGE INTO target t USING source s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v "
     "WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)",
     M, 0, 0, 0, "source", "target", ""},
    /* DDL */
    {"CREATE TABLE t (id int PRIMARY KEY)", DDL, 0, 0, 0, "", "t", ""},
    {"CREATE TABLE child (id int REFERENCES parent(id))", DDL, 0, 0, 0, "parent", "child", ""},
    {"CREATE TEMP TABLE tmp (id int)", DDL, 0, 0, 0, "", "tmp", ""},
    {"ALTER TABLE t ADD COLUMN c int", DDL, 0, 0, 0, "", "t", ""},
    {"ALTER TABLE t RENAME TO t_old", DDL, 0, 0, 0, "", "t", ""},
    {"DROP TABLE a, app.b", DDL, 0, 0, 0, "", "a,app.b", ""},
    {"DROP INDEX idx", DDL, 0, 0, 0, "", "", ""},
    {"CREATE INDEX CONCURRENTLY idx ON t (c)", DDL, 0, 0, 0, "", "t", ""},
    {"CREATE VIEW v AS SELECT * FROM t", DDL, 0, 0, 0, "t", "v", ""},
    {"CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM t", DDL, 0, 0, 0, "t", "mv", ""},
    {"CREATE TABLE t2 AS SELECT * FROM t1", DDL, 0, 0, 0, "t1", "t2", ""},
    {"REFRESH MATERIALIZED VIEW CONCURRENTLY mv", DDL, 0, 0, 0, "", "mv", ""},
    {"TRUNCATE a, b", DDL, 0, 0, 0, "", "a,b", ""},
    {"GRANT SELECT ON t TO bob", DDL, 0, 0, 0, "", "t", ""},
    {"COMMENT ON TABLE t IS 'x'", DDL, 0, 0, 0, "", "t", ""},
    {"CREATE SEQUENCE s", DDL, 0, 0, 0, "", "s", ""},
    {"CREATE TRIGGER trg AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", DDL, 0, 0, 0, "", "t", ""},
    {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$", DDL, 0, 0, 0, "", "", ""},
    /* maintenance (utility) */
    {"VACUUM ANALYZE t", UT, 0, 0, 0, "", "t", ""},
    {"ANALYZE t", UT, 0, 0, 0, "", "t", ""},
    {"CLUSTER t USING idx", UT, 0, 0, 0, "", "t", ""},
    {"REINDEX TABLE t", UT, 0, 0, 0, "", "t", ""},
    /* COPY, EXPLAIN */
    {"COPY t FROM STDIN", UT, 0, 0, 0, "", "t", ""},
    {"COPY t TO STDOUT", UT, 1, 0, 0, "t", "", ""},
    {"COPY (SELECT * FROM t WHERE x > 1) TO STDOUT", UT, 1, 0, 0, "t", "", ""},
    {"EXPLAIN SELECT * FROM t", UT, 1, 0, 0, "t", "", ""},
    {"EXPLAIN DELETE FROM t", UT, 1, 0, 0, "t", "", ""},
    {"EXPLAIN ANALYZE DELETE FROM t", UT, 0, 0, 0, "", "t", ""},
    {"EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t", UT, 1, 0, 0, "t", "", ""},
    {"EXPLAIN (ANALYZE false) DELETE FROM t", UT, 1, 0, 0, "t", "", ""},
    {"EXPLAIN ANALYZE UPDATE t SET v = 1 FROM s WHERE t.id = s.id", UT, 0, 0, 0, "s", "t", ""},
    /* session and procedural */
    {"CALL do_things(1)", UT, 0, 0, 0, "", "", ""},
    {"DO $$ BEGIN PERFORM 1; END $$", UT, 0, 0, 0, "", "", ""},
    {"SET search_path = app", UT, 0, 0, 0, "", "", ""},
    {"SET LOCAL statement_timeout = '5s'", UT, 0, 0, 0, "", "", ""},
    {"RESET ALL", UT, 0, 0, 0, "", "", ""},
    {"SHOW search_path", UT, 1, 0, 0, "", "", ""},
    {"PREPARE q AS SELECT * FROM t WHERE id = $1", UT, 0, 0, 0, "t", "", ""},
    {"PREPARE q2 AS DELETE FROM t WHERE id = $1", UT, 0, 0, 0, "", "t", ""},
    {"EXECUTE q(1)", UT, 0, 0, 0, "", "", ""},
    {"DEALLOCATE q", UT, 0, 0, 0, "", "", ""},
    {"DECLARE c CURSOR FOR SELECT * FROM t", UT, 0, 0, 0, "t", "", ""},
    {"LISTEN jobs", UT, 0, 0, 0, "", "", ""},
    {"NOTIFY jobs, 'x'", UT, 0, 0, 0, "", "", ""},
    {"UNLISTEN *", UT, 0, 0, 0, "", "", ""},
    {"DISCARD ALL", UT, 0, 0, 0, "", "", ""},
    /* transaction control */
    {"BEGIN", T, 0, 0, 0, "", "", ""},
    {"BEGIN ISOLATION LEVEL SERIALIZABLE", T, 0, 0, 0, "", "", ""},
    {"COMMIT", T, 0, 0, 0, "", "", ""},
    {"ROLLBACK", T, 0, 0, 0, "", "", ""},
    {"SAVEPOINT sp1", T, 0, 0, 0, "", "", ""},
    {"ROLLBACK TO SAVEPOINT sp1", T, 0, 0, 0, "", "", ""},
    {"RELEASE SAVEPOINT sp1", T, 0, 0, 0, "", "", ""},
    {"PREPARE TRANSACTION 'tx1'", T, 0, 0, 0, "", "", ""},
    {"COMMIT PREPARED 'tx1'", T, 0, 0, 0, "", "", ""},
};

/* Does the comma-separated set `want` equal the n names got(j)? */
static bool same_set(const char *want, size_t n, const char *(*get)(const alchdb_sql_analysis *, size_t, int, size_t),
                     const alchdb_sql_analysis *a, int which, char *why, size_t whylen)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", want);
    size_t nwant = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        nwant++;
        bool found = false;
        for (size_t j = 0; j < n; j++)
            found |= !strcmp(get(a, 0, which, j), tok);
        if (!found) {
            snprintf(why, whylen, "missing '%s'", tok);
            return false;
        }
    }
    if (nwant != n) {
        snprintf(why, whylen, "expected %zu names, got %zu (first: %s)", nwant, n, n ? get(a, 0, which, 0) : "-");
        return false;
    }
    return true;
}

static const char *vol_get(const alchdb_sql_analysis *a, size_t i, int which, size_t j)
{
    (void)which;
    return alchdb_sql_stmt_volatile(a, i, j);
}

START_TEST(test_classification_table)
{
    const row *r = &rows[_i];
    alchdb_sql_analysis *a = NULL;
    int rc = alchdb_sql_analyze(r->sql, (size_t)-1, &a);
    ck_assert_msg(rc == 0, "%s: rc %d (%s)", r->sql, rc, alchdb_last_error_message());
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 1);
    ck_assert_msg(alchdb_sql_stmt_kind(a, 0) == r->kind, "%s: kind %s, want %s", r->sql,
                  alchdb_sql_kind_name(alchdb_sql_stmt_kind(a, 0)), alchdb_sql_kind_name(r->kind));
    uint32_t f = 0;
    ck_assert_int_eq(alchdb_sql_stmt_flags(a, 0, &f), 0);
    ck_assert_msg(!!(f & ALCHDB_SQL_READ_ONLY) == r->ro, "%s: read_only %d", r->sql, !!(f & ALCHDB_SQL_READ_ONLY));
    ck_assert_msg(!!(f & ALCHDB_SQL_LOCKING) == r->lock, "%s: locking %d", r->sql, !!(f & ALCHDB_SQL_LOCKING));
    ck_assert_msg(!!(f & ALCHDB_SQL_CACHEABLE) == r->cache, "%s: cacheable %d (reason %s)", r->sql,
                  !!(f & ALCHDB_SQL_CACHEABLE), alchdb_sql_stmt_not_cacheable_reason(a, 0));
    ck_assert_msg((alchdb_sql_stmt_not_cacheable_reason(a, 0) == NULL) == r->cache, "%s: reason vs flag", r->sql);
    ck_assert_msg(!!(f & ALCHDB_SQL_TXN_CONTROL) == (r->kind == T), "%s: txn flag", r->sql);
    char why[256];
    ck_assert_msg(same_set(r->read, alchdb_sql_stmt_table_count(a, 0, ALCHDB_SQL_TABLES_READ), alchdb_sql_stmt_table,
                           a, ALCHDB_SQL_TABLES_READ, why, sizeof why),
                  "%s: tables_read: %s", r->sql, why);
    ck_assert_msg(same_set(r->written, alchdb_sql_stmt_table_count(a, 0, ALCHDB_SQL_TABLES_WRITTEN),
                           alchdb_sql_stmt_table, a, ALCHDB_SQL_TABLES_WRITTEN, why, sizeof why),
                  "%s: tables_written: %s", r->sql, why);
    ck_assert_msg(same_set(r->vol, alchdb_sql_stmt_volatile_count(a, 0), vol_get, a, 0, why, sizeof why),
                  "%s: volatile: %s", r->sql, why);
    ck_assert_msg(!!(f & ALCHDB_SQL_VOLATILE) == (r->vol[0] != '\0'), "%s: volatile flag", r->sql);
    size_t off = 99, len = 0;
    ck_assert_int_eq(alchdb_sql_stmt_span(a, 0, &off, &len), 0);
    ck_assert_uint_eq(off, 0);
    ck_assert_uint_eq(len, strlen(r->sql));
    alchdb_sql_analysis_free(a);
}
END_TEST

START_TEST(test_reasons_and_special_flags)
{
    static const struct {
        const char *sql;
        const char *reason;
        uint32_t must;
    } cases[] = {
        {"SELECT 1", NULL, ALCHDB_SQL_CACHEABLE | ALCHDB_SQL_READ_ONLY},
        {"INSERT INTO t VALUES (1)", "not_select", 0},
        {"SELECT a INTO b FROM c", "select_into", ALCHDB_SQL_SELECT_INTO},
        {"WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x", "writes", ALCHDB_SQL_WRITABLE_CTE},
        {"SELECT nextval('s')", "side_effects", ALCHDB_SQL_SIDE_EFFECTS | ALCHDB_SQL_VOLATILE},
        {"SELECT * FROM t FOR UPDATE", "locking_clause", ALCHDB_SQL_LOCKING},
        {"SELECT now()", "volatile_function", ALCHDB_SQL_VOLATILE | ALCHDB_SQL_READ_ONLY},
        {"SELECT * FROM pg_temp.x", "temp_table", ALCHDB_SQL_TEMP_TABLE | ALCHDB_SQL_READ_ONLY},
        {"CREATE TEMPORARY TABLE x (a int)", "not_select", ALCHDB_SQL_TEMP_TABLE},
        {"COMMIT", "not_select", ALCHDB_SQL_TXN_CONTROL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        alchdb_sql_analysis *a;
        ck_assert_int_eq(alchdb_sql_analyze(cases[k].sql, (size_t)-1, &a), 0);
        const char *why = alchdb_sql_stmt_not_cacheable_reason(a, 0);
        if (cases[k].reason)
            ck_assert_msg(why && !strcmp(why, cases[k].reason), "%s: reason %s", cases[k].sql, why ? why : "(null)");
        else
            ck_assert_ptr_null(why);
        uint32_t f;
        alchdb_sql_stmt_flags(a, 0, &f);
        ck_assert_msg((f & cases[k].must) == cases[k].must, "%s: flags %#x", cases[k].sql, f);
        alchdb_sql_analysis_free(a);
    }
}
END_TEST

static size_t find_off(const char *hay, const char *needle)
{
    const char *p = strstr(hay, needle);
    ck_assert_ptr_nonnull(p);
    return (size_t)(p - hay);
}

START_TEST(test_script_offsets_and_comments)
{
    const char *sql = "-- leading comment\nSELECT 1;\n  /* block /* nested */ */ UPDATE t SET a = 'x;y' WHERE b = 2;\n"
                      "\n-- c\nDELETE FROM s -- trailing\n;\n  SELECT 'é', 2  ";
    alchdb_sql_analysis *a;
    ck_assert_int_eq(alchdb_sql_analyze(sql, (size_t)-1, &a), 0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 4);
    const char *starts[] = {"SELECT 1", "UPDATE t", "DELETE FROM s", "SELECT 'é'"};
    const size_t lens[] = {8, strlen("UPDATE t SET a = 'x;y' WHERE b = 2"), strlen("DELETE FROM s -- trailing"),
                           strlen("SELECT 'é', 2")};
    const int kinds[] = {S, U, D, S};
    for (size_t i = 0; i < 4; i++) {
        size_t off, len;
        ck_assert_int_eq(alchdb_sql_stmt_span(a, i, &off, &len), 0);
        ck_assert_uint_eq(off, find_off(sql, starts[i]));
        ck_assert_uint_eq(len, lens[i]);
        ck_assert_int_eq(alchdb_sql_stmt_kind(a, i), kinds[i]);
    }
    alchdb_sql_analysis_free(a);

    /* dollar-quoted bodies containing semicolons stay one statement */
    const char *fn = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $body$ BEGIN UPDATE t SET a = 1; "
                     "DELETE FROM s; END $body$;\nSELECT 2; DO $$ BEGIN PERFORM 1; PERFORM 2; END $$";
    ck_assert_int_eq(alchdb_sql_analyze(fn, (size_t)-1, &a), 0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 3);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 0), DDL);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 1), S);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 2), UT);
    size_t off;
    alchdb_sql_stmt_span(a, 1, &off, NULL);
    ck_assert_uint_eq(off, find_off(fn, "SELECT 2"));
    alchdb_sql_stmt_span(a, 2, &off, NULL);
    ck_assert_uint_eq(off, find_off(fn, "DO $$"));
    alchdb_sql_analysis_free(a);

    /* len shorter than the string: only that prefix is analysed */
    const char *two = "SELECT 1; DELETE FROM t";
    ck_assert_int_eq(alchdb_sql_analyze(two, 8, &a), 0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 1);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 0), S);
    alchdb_sql_analysis_free(a);
}
END_TEST

START_TEST(test_empty_inputs)
{
    const char *empties[] = {"", "   \n\t ", "-- only a comment", "/* a */ -- b\n", ";;"};
    for (size_t k = 0; k < sizeof empties / sizeof empties[0]; k++) {
        alchdb_sql_analysis *a = NULL;
        ck_assert_int_eq(alchdb_sql_analyze(empties[k], (size_t)-1, &a), 0);
        ck_assert_ptr_nonnull(a);
        ck_assert_uint_eq(alchdb_sql_analysis_count(a), 0);
        ck_assert_ptr_null(alchdb_sql_analysis_error(a, NULL));
        char *json;
        ck_assert_int_eq(alchdb_sql_analysis_to_json(a, &json), 0);
        ck_assert_str_eq(json, "{\"statements\":[]}");
        alchdb_free(json);
        alchdb_sql_analysis_free(a);
    }
}
END_TEST

START_TEST(test_fingerprint_and_normalized)
{
    alchdb_sql_analysis *a;
    ck_assert_int_eq(alchdb_sql_analyze("SELECT * FROM t WHERE id IN (1,2,3);\n"
                                        "select *  from t where id in (4, 5, 6, 7) -- other\n;"
                                        "SELECT * FROM u WHERE id IN (1,2,3);"
                                        "SELECT * FROM t WHERE id = 'abc' AND x > 42.5",
                                        (size_t)-1, &a),
                     0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 4);
    uint64_t f0, f1, f2, f3;
    ck_assert_int_eq(alchdb_sql_stmt_fingerprint(a, 0, &f0), 0);
    ck_assert_int_eq(alchdb_sql_stmt_fingerprint(a, 1, &f1), 0);
    ck_assert_int_eq(alchdb_sql_stmt_fingerprint(a, 2, &f2), 0);
    ck_assert_int_eq(alchdb_sql_stmt_fingerprint(a, 3, &f3), 0);
    ck_assert(f0 == f1);
    ck_assert(f0 != f2);
    ck_assert(f0 != f3);
    const char *norm = alchdb_sql_stmt_normalized(a, 3);
    ck_assert_ptr_nonnull(strstr(norm, "$1"));
    ck_assert_ptr_nonnull(strstr(norm, "$2"));
    ck_assert_ptr_null(strstr(norm, "abc"));
    ck_assert_ptr_null(strstr(norm, "42.5"));
    alchdb_sql_analysis_free(a);

    /* the internal one-statement helper agrees with the analysis */
    uint64_t fp;
    char *n = NULL;
    ck_assert_int_eq(alchdb__sql_fingerprint("SELECT * FROM t WHERE id IN (9)", (size_t)-1, &fp, &n), 0);
    ck_assert(fp == f0);
    ck_assert_str_eq(n, "SELECT * FROM t WHERE id IN ($1)");
    alchdb__free(n);
    ck_assert_int_eq(alchdb__sql_fingerprint("SELEC 1", (size_t)-1, &fp, NULL), ALCHDB_E_PARSE);
}
END_TEST

START_TEST(test_json_shape)
{
    alchdb_sql_analysis *a;
    const char *sql = "SELECT * FROM app.users WHERE id = 1; UPDATE t SET ts = now() FROM s WHERE t.id = s.id";
    ck_assert_int_eq(alchdb_sql_analyze(sql, (size_t)-1, &a), 0);
    char *text;
    ck_assert_int_eq(alchdb_sql_analysis_to_json(a, &text), 0);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    ck_assert_msg(root != NULL, "invalid JSON: %s", jerr.text);
    ck_assert_uint_eq(json_object_size(root), 1);
    json_t *stmts = json_object_get(root, "statements");
    ck_assert_uint_eq(json_array_size(stmts), 2);
    static const char *const keys[] = {"index", "offset", "kind", "read_only", "locking", "fingerprint",
                                       "normalized", "tables_read", "tables_written", "volatile_functions",
                                       "cacheable", "not_cacheable_reason", "functions", "unanalysed"};
    for (size_t i = 0; i < 2; i++) {
        json_t *st = json_array_get(stmts, i);
        ck_assert_uint_eq(json_object_size(st), sizeof keys / sizeof keys[0]);
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            ck_assert_msg(json_object_get(st, keys[k]) != NULL, "missing %s", keys[k]);
        ck_assert_int_eq(json_integer_value(json_object_get(st, "index")), (json_int_t)i);
        const char *fp = json_string_value(json_object_get(st, "fingerprint"));
        ck_assert_uint_eq(strlen(fp), 16);
        ck_assert_uint_eq(strspn(fp, "0123456789abcdef"), 16);
        uint64_t want;
        alchdb_sql_stmt_fingerprint(a, i, &want);
        ck_assert(strtoull(fp, NULL, 16) == want);
    }
    json_t *s0 = json_array_get(stmts, 0), *s1 = json_array_get(stmts, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(s0, "offset")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(s1, "offset")), (json_int_t)find_off(sql, "UPDATE"));
    ck_assert_str_eq(json_string_value(json_object_get(s0, "kind")), "select");
    ck_assert(json_is_true(json_object_get(s0, "read_only")));
    ck_assert(json_is_true(json_object_get(s0, "cacheable")));
    ck_assert(json_is_null(json_object_get(s0, "not_cacheable_reason")));
    json_t *t0 = json_array_get(json_object_get(s0, "tables_read"), 0);
    ck_assert_uint_eq(json_object_size(t0), 2);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "schema")), "app");
    ck_assert_str_eq(json_string_value(json_object_get(t0, "name")), "users");
    ck_assert(json_is_null(json_object_get(s0, "unanalysed")));
    ck_assert_uint_eq(json_array_size(json_object_get(s0, "functions")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "normalized")), "SELECT * FROM app.users WHERE id = $1");
    ck_assert_str_eq(json_string_value(json_object_get(s1, "kind")), "update");
    ck_assert(json_is_false(json_object_get(s1, "read_only")));
    json_t *w1 = json_array_get(json_object_get(s1, "tables_written"), 0);
    ck_assert(json_is_null(json_object_get(w1, "schema")));
    ck_assert_str_eq(json_string_value(json_object_get(w1, "name")), "t");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(s1, "tables_read"), 0), "name")),
                     "s");
    json_t *f1 = json_array_get(json_object_get(s1, "functions"), 0);
    ck_assert(json_is_null(json_object_get(f1, "schema")));
    ck_assert_str_eq(json_string_value(json_object_get(f1, "name")), "now");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(s1, "volatile_functions"), 0)), "now");
    ck_assert_str_eq(json_string_value(json_object_get(s1, "not_cacheable_reason")), "not_select");
    json_decref(root);
    alchdb_free(text);
    alchdb_sql_analysis_free(a);

    /* a syntax error renders as {"error":{...}} */
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 1; SELECT 'é', 'abc", (size_t)-1, &a), ALCHDB_E_PARSE);
    ck_assert_int_eq(alchdb_sql_analysis_to_json(a, &text), 0);
    root = json_loads(text, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_t *err = json_object_get(root, "error");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(err, "message")), "unterminated"));
    /* byte offset of the quote after the two-byte é */
    ck_assert_int_eq(json_integer_value(json_object_get(err, "offset")), (json_int_t)find_off("SELECT 1; SELECT 'é', 'abc", "'abc"));
    json_decref(root);
    alchdb_free(text);
    alchdb_sql_analysis_free(a);
}
END_TEST

START_TEST(test_bad_input)
{
    alchdb_sql_analysis *a = (alchdb_sql_analysis *)&a;
    ck_assert_int_eq(alchdb_sql_analyze(NULL, 0, &a), ALCHDB_E_INVALID);
    ck_assert_ptr_null(a);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "sql"));
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 1", (size_t)-1, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "out"));

    a = (alchdb_sql_analysis *)&a;
    ck_assert_int_eq(alchdb_sql_analyze("SELECT '\xff'", (size_t)-1, &a), ALCHDB_E_INVALID);
    ck_assert_ptr_null(a);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "byte offset 8"));
    ck_assert_int_eq(alchdb_sql_analyze("SELECT '\xc0\xaf'", (size_t)-1, &a), ALCHDB_E_INVALID); /* overlong */
    ck_assert_int_eq(alchdb_sql_analyze("SELECT '\xed\xa0\x80'", (size_t)-1, &a), ALCHDB_E_INVALID); /* surrogate */
    ck_assert_int_eq(alchdb_sql_analyze("SELECT '\xe2\x82'", (size_t)-1, &a), ALCHDB_E_INVALID); /* truncated */
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 1\0; DROP TABLE t", 23, &a), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "NUL"));
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "offset 8"));
    ck_assert_ptr_null(a);

    /* syntax errors still give an analysis carrying the error */
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 'abc", (size_t)-1, &a), ALCHDB_E_PARSE);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_PARSE);
    int64_t off = -5;
    const char *msg = alchdb_sql_analysis_error(a, &off);
    ck_assert_ptr_nonnull(msg);
    ck_assert_ptr_nonnull(strstr(msg, "unterminated quoted string"));
    ck_assert_int_eq(off, 7);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 0);
    alchdb_sql_analysis_free(a);
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 1;\nSELEC 2", (size_t)-1, &a), ALCHDB_E_PARSE);
    alchdb_sql_analysis_error(a, &off);
    ck_assert_int_eq(off, 10);
    alchdb_sql_analysis_free(a);
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 1 FROM", (size_t)-1, &a), ALCHDB_E_PARSE);
    alchdb_sql_analysis_error(a, &off);
    ck_assert_int_eq(off, 13); /* at end of input */
    alchdb_sql_analysis_free(a);

    /* a 1 MB statement */
    size_t big = 1u << 20;
    char *sql = malloc(big + 32);
    ck_assert_ptr_nonnull(sql);
    strcpy(sql, "SELECT length('");
    size_t p = strlen(sql);
    memset(sql + p, 'x', big);
    strcpy(sql + p + big, "') FROM t");
    ck_assert_int_eq(alchdb_sql_analyze(sql, (size_t)-1, &a), 0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 1);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 0), S);
    ck_assert_str_eq(alchdb_sql_stmt_normalized(a, 0), "SELECT length($1) FROM t");
    alchdb_sql_analysis_free(a);
    free(sql);

    /* accessors with bad arguments return the error and set it */
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 1", (size_t)-1, &a), 0);
    alchdb_clear_error();
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 1), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_sql_stmt_kind(NULL, 0), ALCHDB_E_INVALID);
    uint32_t f;
    ck_assert_int_eq(alchdb_sql_stmt_flags(a, 0, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_sql_stmt_flags(a, 5, &f), ALCHDB_E_INVALID);
    uint64_t fp;
    ck_assert_int_eq(alchdb_sql_stmt_fingerprint(a, 5, &fp), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_sql_stmt_span(a, 5, NULL, NULL), ALCHDB_E_INVALID);
    alchdb_clear_error();
    ck_assert_ptr_null(alchdb_sql_stmt_normalized(a, 5));
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_INVALID);
    alchdb_clear_error();
    ck_assert_uint_eq(alchdb_sql_stmt_table_count(a, 0, 7), 0);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_INVALID);
    ck_assert_ptr_null(alchdb_sql_stmt_table(a, 0, ALCHDB_SQL_TABLES_READ, 0));
    ck_assert_ptr_null(alchdb_sql_stmt_volatile(a, 0, 0));
    alchdb_clear_error();
    ck_assert_uint_eq(alchdb_sql_analysis_count(NULL), 0);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_INVALID);
    ck_assert_ptr_null(alchdb_sql_analysis_error(NULL, NULL));
    char *json = (char *)&json;
    ck_assert_int_eq(alchdb_sql_analysis_to_json(NULL, &json), ALCHDB_E_INVALID);
    ck_assert_ptr_null(json);
    ck_assert_int_eq(alchdb_sql_analysis_to_json(a, NULL), ALCHDB_E_INVALID);
    alchdb_sql_analysis_free(a);
    alchdb_sql_analysis_free(NULL);

    static const char *const names[] = {"select", "insert", "update", "delete",
                                        "merge", "ddl", "transaction", "utility"};
    for (int k = 0; k < 8; k++)
        ck_assert_str_eq(alchdb_sql_kind_name(k), names[k]);
    ck_assert_ptr_null(alchdb_sql_kind_name(8));
    ck_assert_ptr_null(alchdb_sql_kind_name(-1));
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_INVALID);
}
END_TEST

/* Deep trees are walked without recursion: 3000 chained "+" (tens of
 * thousands of levels in libpg_query's output) are analysed in full, and so
 * are the other statements of the script. tests/sql/test_deep.c has the
 * statements too deep to analyse. */
START_TEST(test_deep_statement)
{
    size_t n = 3000;
    char *sql = malloc(64 + n * 4);
    ck_assert_ptr_nonnull(sql);
    char *p = sql + sprintf(sql, "SELECT 1; SELECT a");
    for (size_t k = 0; k < n; k++)
        p += sprintf(p, " + a");
    strcpy(p, " FROM t; DELETE FROM zz");
    alchdb_sql_analysis *a;
    ck_assert_int_eq(alchdb_sql_analyze(sql, (size_t)-1, &a), 0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 3);
    uint32_t f;
    alchdb_sql_stmt_flags(a, 0, &f);
    ck_assert(f & ALCHDB_SQL_CACHEABLE);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 1), S);
    alchdb_sql_stmt_flags(a, 1, &f);
    ck_assert(f & ALCHDB_SQL_READ_ONLY);
    ck_assert(f & ALCHDB_SQL_CACHEABLE);
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 1, ALCHDB_SQL_TABLES_READ, 0), "t");
    ck_assert_int_eq(alchdb_sql_stmt_status(a, 1, NULL), 0);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 2), D);
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 2, ALCHDB_SQL_TABLES_WRITTEN, 0), "zz");
    size_t off;
    alchdb_sql_stmt_span(a, 2, &off, NULL);
    ck_assert_uint_eq(off, find_off(sql, "DELETE"));
    alchdb_sql_analysis_free(a);
    free(sql);

    /* 380 nested subqueries, and a write at the bottom: found */
    size_t depth = 380;
    sql = malloc(64 + depth * 20);
    ck_assert_ptr_nonnull(sql);
    p = sql + sprintf(sql, "SELECT * FROM ");
    for (size_t k = 0; k < depth; k++)
        p += sprintf(p, "(SELECT * FROM ");
    p += sprintf(p, "t FOR UPDATE");
    for (size_t k = 0; k < depth; k++)
        p += sprintf(p, ") x");
    ck_assert_int_eq(alchdb_sql_analyze(sql, (size_t)-1, &a), 0);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 0), S);
    alchdb_sql_stmt_flags(a, 0, &f);
    ck_assert(!(f & ALCHDB_SQL_READ_ONLY));
    ck_assert(f & ALCHDB_SQL_LOCKING);
    ck_assert_str_eq(alchdb_sql_stmt_not_cacheable_reason(a, 0), "locking_clause");
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 0, ALCHDB_SQL_TABLES_READ, 0), "t");
    alchdb_sql_analysis_free(a);
    free(sql);
}
END_TEST

/* Transaction modes come from the parse: comments and strings that mention
 * READ ONLY do not count, case and option order do not matter. */
START_TEST(test_txn_modes)
{
    static const struct {
        const char *sql;
        size_t stmt;
        uint32_t want;
    } cases[] = {
        {"BEGIN", 0, ALCHDB__SQL_TXN_START},
        {"begin read only", 0, ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_READ_ONLY},
        {"BEGIN /* READ ONLY */", 0, ALCHDB__SQL_TXN_START},
        {"BEGIN; SELECT 'READ ONLY'", 0, ALCHDB__SQL_TXN_START},
        {"BEGIN; SELECT 'READ ONLY'", 1, 0},
        {"START TRANSACTION READ WRITE", 0, ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_READ_WRITE},
        {"START TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
         ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_ISO_REPEATABLE_READ | ALCHDB__SQL_TXN_READ_ONLY},
        {"BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE", 0,
         ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_ISO_SERIALIZABLE | ALCHDB__SQL_TXN_READ_ONLY |
             ALCHDB__SQL_TXN_DEFERRABLE},
        {"BEGIN TRANSACTION ISOLATION LEVEL READ COMMITTED, NOT DEFERRABLE", 0,
         ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_ISO_READ_COMMITTED | ALCHDB__SQL_TXN_NOT_DEFERRABLE},
        {"BEGIN ISOLATION LEVEL READ UNCOMMITTED", 0, ALCHDB__SQL_TXN_START | ALCHDB__SQL_TXN_ISO_READ_UNCOMMITTED},
        {"SET TRANSACTION READ ONLY", 0, ALCHDB__SQL_TXN_SET | ALCHDB__SQL_TXN_READ_ONLY},
        {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", 0, ALCHDB__SQL_TXN_SET | ALCHDB__SQL_TXN_ISO_SERIALIZABLE},
        {"SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", 0,
         ALCHDB__SQL_TXN_SESSION | ALCHDB__SQL_TXN_READ_ONLY},
        {"SET default_transaction_read_only = on", 0, 0},
        {"COMMIT", 0, 0},
        {"SELECT 1", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alchdb_sql_analysis *a;
        ck_assert_int_eq(alchdb_sql_analyze(cases[i].sql, (size_t)-1, &a), 0);
        uint32_t got = alchdb__sql_stmt_txn(a, cases[i].stmt);
        ck_assert_msg(got == cases[i].want, "%s [%zu]: modes 0x%x, want 0x%x", cases[i].sql, cases[i].stmt, got,
                      cases[i].want);
        alchdb_sql_analysis_free(a);
    }
    ck_assert_uint_eq(alchdb__sql_stmt_txn(NULL, 0), 0);

    /* The one rule for running a transaction on a replica (router and cache). */
    static const struct {
        const char *sql;
        bool replica;
    } where[] = {
        {"BEGIN READ ONLY", true},
        {"begin read only", true},
        {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", true},
        {"BEGIN READ ONLY ISOLATION LEVEL SERIALIZABLE", false},
        {"BEGIN /* READ ONLY */", false},
        {"BEGIN; SELECT 'READ ONLY'", false},
        {"BEGIN; SET TRANSACTION READ ONLY", true},
        {"BEGIN READ ONLY; SET TRANSACTION READ WRITE", false},
        {"SELECT 'READ ONLY'", false},
        {"BEGIN READ ONLY garbage", false},
    };
    for (size_t i = 0; i < sizeof where / sizeof where[0]; i++)
        ck_assert_msg(alchdb__sql_txn_replica_ok(where[i].sql, strlen(where[i].sql)) == where[i].replica,
                      "%s: replica_ok should be %d", where[i].sql, where[i].replica);

    /* statements that run code the analysis cannot see */
    static const struct {
        const char *sql;
        bool opaque;
    } opaque[] = {
        {"CALL p(1)", true},          {"DO $$ BEGIN NULL; END $$", true}, {"EXECUTE q(1)", true},
        {"call \"P\"()", true},       {"SELECT 'CALL p()'", false},        {"PREPARE q AS SELECT 1", false},
        {"SELECT do_it()", false},
    };
    for (size_t i = 0; i < sizeof opaque / sizeof opaque[0]; i++) {
        alchdb_sql_analysis *a;
        ck_assert_int_eq(alchdb_sql_analyze(opaque[i].sql, (size_t)-1, &a), 0);
        ck_assert_msg(alchdb__sql_stmt_opaque(a, 0) == opaque[i].opaque, "%s", opaque[i].sql);
        alchdb_sql_analysis_free(a);
    }
}
END_TEST

/* The "Use" snippet of docs/sql.md, as written there (its output goes to
 * stdout/stderr of the test). */
START_TEST(test_doc_snippet)
{
    alchdb_sql_analysis *a;
    int rc = alchdb_sql_analyze("SELECT * FROM app.users WHERE id = 1; UPDATE t SET x = 1",
                                (size_t)-1, &a);
    if (rc == ALCHDB_E_PARSE) {                        /* a still carries the error */
        int64_t off;
        const char *msg = alchdb_sql_analysis_error(a, &off);
        fprintf(stderr, "syntax error at byte %lld: %s\n", (long long)off, msg);
    } else if (rc == 0) {
        for (size_t i = 0; i < alchdb_sql_analysis_count(a); i++) {
            uint32_t f;
            alchdb_sql_stmt_flags(a, i, &f);
            const char *reason = alchdb_sql_stmt_not_cacheable_reason(a, i);
            printf("%s read_only=%d cacheable=%d reason=%s\n",
                   alchdb_sql_kind_name(alchdb_sql_stmt_kind(a, i)),
                   !!(f & ALCHDB_SQL_READ_ONLY), !!(f & ALCHDB_SQL_CACHEABLE), reason ? reason : "-");
            for (size_t j = 0; j < alchdb_sql_stmt_table_count(a, i, ALCHDB_SQL_TABLES_READ); j++) {
                const char *schema, *name;
                alchdb_sql_stmt_table_name(a, i, ALCHDB_SQL_TABLES_READ, j, &schema, &name);
                printf("  reads %s (schema %s, name %s)\n",
                       alchdb_sql_stmt_table(a, i, ALCHDB_SQL_TABLES_READ, j), schema ? schema : "-", name);
            }
        }
    }
    alchdb_sql_analysis_free(a);                       /* accepts NULL */
    ck_assert_int_eq(rc, 0);
}
END_TEST

START_TEST(test_hash)
{
    ck_assert(alchdb_sql_hash("SELECT 1", (size_t)-1) == alchdb_sql_hash("SELECT 1", 8));
    ck_assert(alchdb_sql_hash("SELECT 1", (size_t)-1) != alchdb_sql_hash("SELECT  1", (size_t)-1));
    ck_assert(alchdb_sql_hash("SELECT 1; x", 8) == alchdb_sql_hash("SELECT 1", (size_t)-1));
    ck_assert(alchdb_sql_hash(NULL, 0) == alchdb_sql_hash("", 0));
}
END_TEST

START_TEST(test_internal_helpers)
{
    ck_assert(alchdb__sql_func_is_volatile("now"));
    ck_assert(alchdb__sql_func_is_volatile("PG_CATALOG.NOW"));
    ck_assert(!alchdb__sql_func_has_side_effects("now"));
    ck_assert(alchdb__sql_func_has_side_effects("nextval"));
    ck_assert(alchdb__sql_func_is_volatile("nextval"));
    ck_assert(alchdb__sql_func_has_side_effects("pg_advisory_unlock_all"));
    ck_assert(alchdb__sql_func_has_side_effects("lo_import"));
    ck_assert(!alchdb__sql_func_is_volatile("lower"));
    ck_assert(!alchdb__sql_func_is_volatile("count"));
    ck_assert(!alchdb__sql_func_is_volatile(NULL));

    char *tree = NULL;
    int64_t off = 0;
    ck_assert_int_eq(alchdb__sql_parse_tree("SELECT 1; DELETE FROM t", (size_t)-1, &tree, &off), 0);
    json_t *root = json_loads(tree, 0, NULL);
    ck_assert_ptr_nonnull(root);
    ck_assert_uint_eq(json_array_size(json_object_get(root, "stmts")), 2);
    json_decref(root);
    alchdb__free(tree);
    ck_assert_int_eq(alchdb__sql_parse_tree("SELECT 1;\nUPDATE", (size_t)-1, &tree, &off), ALCHDB_E_PARSE);
    ck_assert_ptr_null(tree);
    ck_assert_int_eq(off, 16);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "syntax error"));

    size_t *offs, *lens, n;
    const char *sql = "SELECT 1;  -- c\n DELETE FROM t ; ; VALUES (1)";
    ck_assert_int_eq(alchdb__sql_split(sql, (size_t)-1, &offs, &lens, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(offs[0], 0);
    ck_assert_uint_eq(lens[0], 8);
    ck_assert_uint_eq(offs[1], find_off(sql, "DELETE"));
    ck_assert_uint_eq(lens[1], strlen("DELETE FROM t"));
    ck_assert_uint_eq(offs[2], find_off(sql, "VALUES"));
    alchdb__free(offs);
    alchdb__free(lens);
    ck_assert_int_eq(alchdb__sql_split("SELECT (", (size_t)-1, &offs, &lens, &n), ALCHDB_E_PARSE);
    ck_assert_uint_eq(n, 0);

    int err = 1;
    const alchdb_sql_analysis *sh = alchdb__sql_analyze_shared("SELECT 2", (size_t)-1, &err);
    ck_assert_int_eq(err, 0);
    ck_assert_int_eq(alchdb_sql_stmt_kind(sh, 0), S);
    alchdb__sql_release(sh);
    ck_assert_ptr_null(alchdb__sql_analyze_shared(NULL, 0, &err));
    ck_assert_int_eq(err, ALCHDB_E_INVALID);
}
END_TEST

START_TEST(test_cache_hits_and_eviction)
{
    alchdb_sql_cache_clear();
    alchdb__sql_cache_stats st0, st1;
    alchdb__sql_cache_get_stats(&st0);
    ck_assert_uint_eq(st0.entries, 0);
    alchdb_sql_analysis *a, *b, *c;
    ck_assert_int_eq(alchdb_sql_analyze("SELECT * FROM cached WHERE id = 1", (size_t)-1, &a), 0);
    ck_assert_int_eq(alchdb_sql_analyze("SELECT * FROM cached WHERE id = 1", (size_t)-1, &b), 0);
    ck_assert_int_eq(alchdb_sql_analyze("SELECT * FROM cached WHERE id = 2", (size_t)-1, &c), 0);
    ck_assert_ptr_eq(a, b); /* shared object */
    ck_assert_ptr_ne(a, c);
    alchdb__sql_cache_get_stats(&st1);
    ck_assert_uint_eq(st1.hits - st0.hits, 1);
    ck_assert_uint_eq(st1.misses - st0.misses, 2);
    ck_assert_uint_eq(st1.entries, 2);
    alchdb_sql_analysis_free(b);
    /* parse errors are cached too and still report the error */
    alchdb_sql_analysis *e1, *e2;
    ck_assert_int_eq(alchdb_sql_analyze("SELEC 1", (size_t)-1, &e1), ALCHDB_E_PARSE);
    alchdb_clear_error();
    ck_assert_int_eq(alchdb_sql_analyze("SELEC 1", (size_t)-1, &e2), ALCHDB_E_PARSE);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_PARSE);
    ck_assert_ptr_eq(e1, e2);
    alchdb_sql_analysis_free(e1);
    alchdb_sql_analysis_free(e2);

    alchdb_sql_cache_clear();
    alchdb__sql_cache_get_stats(&st1);
    ck_assert_uint_eq(st1.entries, 0);
    /* held objects survive a clear */
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 0, ALCHDB_SQL_TABLES_READ, 0), "cached");
    ck_assert_int_eq(alchdb_sql_analyze("SELECT * FROM cached WHERE id = 1", (size_t)-1, &b), 0);
    ck_assert_ptr_ne(a, b);
    alchdb_sql_analysis_free(a);
    alchdb_sql_analysis_free(b);
    alchdb_sql_analysis_free(c);

    /* bounded: many distinct texts never exceed 4096 entries */
    char buf[64];
    for (int k = 0; k < 4400; k++) {
        snprintf(buf, sizeof buf, "SELECT %d", k);
        ck_assert_int_eq(alchdb_sql_analyze(buf, (size_t)-1, &a), 0);
        alchdb_sql_analysis_free(a);
    }
    alchdb__sql_cache_get_stats(&st1);
    ck_assert_uint_le(st1.entries, 4096);
    ck_assert_uint_gt(st1.entries, 3000);
    /* the most recent text is still cached */
    alchdb__sql_cache_get_stats(&st0);
    ck_assert_int_eq(alchdb_sql_analyze("SELECT 4399", (size_t)-1, &a), 0);
    alchdb_sql_analysis_free(a);
    alchdb__sql_cache_get_stats(&st1);
    ck_assert_uint_eq(st1.hits - st0.hits, 1);
    alchdb_sql_cache_clear();
    ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
}
END_TEST

/* ---- 8 threads over a mix of texts ---- */
#define NTHREADS 8
#define ITERS 150

static void *worker(void *arg)
{
    size_t seed = (size_t)(uintptr_t)arg;
    long bad = 0;
    for (size_t it = 0; it < ITERS; it++) {
        const row *r = &rows[(seed * 7 + it * 13) % (sizeof rows / sizeof rows[0])];
        alchdb_sql_analysis *a = NULL;
        if (alchdb_sql_analyze(r->sql, (size_t)-1, &a) != 0 || alchdb_sql_stmt_kind(a, 0) != r->kind) {
            bad++;
        } else {
            uint32_t f = 0;
            alchdb_sql_stmt_flags(a, 0, &f);
            if (!!(f & ALCHDB_SQL_READ_ONLY) != r->ro || !!(f & ALCHDB_SQL_CACHEABLE) != r->cache)
                bad++;
            char *json = NULL;
            if (alchdb_sql_analysis_to_json(a, &json) != 0)
                bad++;
            alchdb_free(json);
        }
        alchdb_sql_analysis_free(a);
        if (it % 50 == 49 && seed == 3)
            alchdb_sql_cache_clear(); /* clears race with lookups */
    }
    return (void *)bad;
}

START_TEST(test_cache_concurrent)
{
    alchdb_sql_cache_clear();
    pthread_t th[NTHREADS];
    for (size_t k = 0; k < NTHREADS; k++)
        ck_assert_int_eq(pthread_create(&th[k], NULL, worker, (void *)(uintptr_t)k), 0);
    long bad = 0;
    for (size_t k = 0; k < NTHREADS; k++) {
        void *ret;
        pthread_join(th[k], &ret);
        bad += (long)(intptr_t)ret;
    }
    ck_assert_int_eq(bad, 0);
    alchdb__sql_cache_stats st;
    alchdb__sql_cache_get_stats(&st);
    ck_assert_uint_gt(st.hits, 0);
    alchdb_sql_cache_clear();
    ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
}
END_TEST

/* ---- allocation failures ---- */

static void oom_loop(const char *sql, int final_rc, long min_allocs)
{
    alchdb_sql_cache_clear();
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    int rc = -100;
    long n;
    for (n = 1; n < 10000; n++) {
        failalloc_at = n;
        failalloc_calls = 0;
        alchdb_sql_analysis *a = (alchdb_sql_analysis *)&a;
        rc = alchdb_sql_analyze(sql, (size_t)-1, &a);
        if (rc == final_rc && a) {
            /* success (or the expected parse error): also render JSON under failures */
            char *json = NULL;
            int jr = alchdb_sql_analysis_to_json(a, &json);
            ck_assert(jr == 0 || jr == ALCHDB_E_NOMEM);
            alchdb_free(json);
            alchdb_sql_analysis_free(a);
            alchdb_sql_cache_clear();
            ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
            if (failalloc_calls < failalloc_at && jr == 0)
                break; /* nothing failed: every allocation point was covered */
            continue;
        }
        ck_assert_msg(rc == ALCHDB_E_NOMEM, "failure at allocation %ld returned %d", n, rc);
        ck_assert_ptr_null(a);
        alchdb_sql_cache_clear();
        ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
    }
    ck_assert_int_eq(rc, final_rc);
    ck_assert_int_gt(n, min_allocs); /* the loop really exercised the allocations */
    failalloc_at = -1;
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}

START_TEST(test_allocation_failures)
{
    oom_loop("WITH x AS (DELETE FROM t RETURNING *) SELECT now(), * FROM x JOIN app.u USING (id);\n"
             "UPDATE t SET a = 1 FROM s; SELECT nextval('q') FROM a, b, c, d, e, f",
             0, 20);
    oom_loop("SELECT 1; SELECT 'unterminated", ALCHDB_E_PARSE, 3);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sql");
    TCase *tc = tcase_create("analysis");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_classification_table, 0, (int)(sizeof rows / sizeof rows[0]));
    tcase_add_test(tc, test_reasons_and_special_flags);
    tcase_add_test(tc, test_script_offsets_and_comments);
    tcase_add_test(tc, test_empty_inputs);
    tcase_add_test(tc, test_fingerprint_and_normalized);
    tcase_add_test(tc, test_json_shape);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_hash);
    tcase_add_test(tc, test_txn_modes);
    tcase_add_test(tc, test_doc_snippet);
    tcase_add_test(tc, test_deep_statement);
    tcase_add_test(tc, test_internal_helpers);
    suite_add_tcase(s, tc);
    TCase *tcc = tcase_create("cache");
    tcase_set_timeout(tcc, 120);
    tcase_add_test(tcc, test_cache_hits_and_eviction);
    tcase_add_test(tcc, test_cache_concurrent);
    tcase_add_test(tcc, test_allocation_failures);
    suite_add_tcase(s, tcc);
    return run_suite(s);
}
