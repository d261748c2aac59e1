/* Advisor against the real rig: a schema with planted problems, a workload run
 * through plain libpq, and the advisor must find each problem, suggest nothing
 * harmful, and its suggested indexes must change the plans. Also: no HypoPG,
 * no privileges, an empty database, identifiers that need quoting. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "advtest.h"

static const char *const planted_schema[] = {
    "CREATE EXTENSION hypopg",
    "CREATE EXTENSION pg_stat_statements",
    "CREATE TABLE customers (id int PRIMARY KEY, email text, region text, created_at timestamptz)",
    "INSERT INTO customers SELECT g, 'user' || g || '@example.com', 'r' || (g % 20), now() - g * interval '1 min' "
    "FROM generate_series(1, 20000) g",
    "CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), status text, total numeric, "
    "created_at timestamptz, note text)",
    "INSERT INTO orders SELECT g, 1 + g % 200, CASE WHEN g % 100 = 0 THEN 'pending' ELSE 'done' END, g % 997, "
    "now() - g * interval '1 s', 'n' || g FROM generate_series(1, 100000) g",
    "CREATE TABLE order_items (id int PRIMARY KEY, order_id int REFERENCES orders(id), sku text, qty int)",
    "INSERT INTO order_items SELECT g, 1 + g % 100000, 's' || g % 50, 1 FROM generate_series(1, 5000) g",
    "CREATE TABLE events (id int PRIMARY KEY, kind text, ts timestamptz, payload text)",
    "INSERT INTO events SELECT g, 'k' || (g % 50), now() - g * interval '1 s', 'p' FROM generate_series(1, 50000) g",
    "CREATE TABLE sessions (id int PRIMARY KEY, user_id int, started_at timestamptz)",
    "INSERT INTO sessions SELECT g, g % 5000, now() - g * interval '1 s' FROM generate_series(1, 50000) g",
    "CREATE TABLE \"Order Items\" (\"Customer Ref\" int, \"select\" int, \"MixedCase\" text)",
    "INSERT INTO \"Order Items\" SELECT g % 3000, g % 7, 'm' FROM generate_series(1, 30000) g",
    /* planted: unused index */
    "CREATE INDEX orders_note_idx ON orders (note)",
    /* planted: exact duplicate */
    "CREATE INDEX customers_region_idx ON customers (region)",
    "CREATE INDEX customers_region_dup ON customers (region)",
    /* planted: left prefix, narrow unused and wide used -> drop the narrow */
    "CREATE INDEX events_kind_idx ON events (kind)",
    "CREATE INDEX events_kind_ts_idx ON events (kind, ts)",
    /* the trap: narrow used, wide unused -> never drop the narrow */
    "CREATE INDEX sessions_user_idx ON sessions (user_id)",
    "ANALYZE",
};

static void run_workload(const char *db)
{
    PGconn *w = connect_to(db, NULL);
    exec_ok(w, "SELECT pg_stat_reset()");
    exec_ok(w, "SELECT pg_stat_statements_reset()");
    run_n(w, 30, "SELECT * FROM customers WHERE email = $1", 1, "user77@example.com", NULL);
    run_n(w, 30, "SELECT id, total FROM orders WHERE customer_id = $1 AND created_at >= now() - $2::interval", 2, "42",
          "1 hour");
    run_n(w, 30, "SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 20", 0, NULL, NULL);
    run_n(w, 20, "SELECT id FROM events WHERE kind = $1 AND ts >= now() - $2::interval", 2, "k7", "1 hour");
    run_n(w, 20, "SELECT id FROM sessions WHERE user_id = $1", 1, "17", NULL);
    run_n(w, 20, "SELECT * FROM \"Order Items\" WHERE \"Customer Ref\" = $1 AND \"select\" = $2", 2, "5", "5");
    PQfinish(w);
}

static void add_bad_queries(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELEC * FRM customers", 5, 1.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM gone_table WHERE id = 1", 500, 90.0), 0);
    /* pg_stat_statements hides constants; monitor samples keep them (partial-index opportunity). */
    ck_assert_int_eq(alchdb_advisor_config_add_query(
                         o, "SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 20", 5000, 900.0),
                     0);
    /* The same constant predicate in a second statement: the workload shows a hot 'pending' set. */
    ck_assert_int_eq(alchdb_advisor_config_add_query(
                         o, "SELECT count(*) FROM orders WHERE status = 'pending' AND created_at > now() - interval '1 day'",
                         3000, 600.0),
                     0);
}

START_TEST(test_planted_problems)
{
    const char *db = "adv_planted";
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    for (size_t i = 0; i < sizeof planted_schema / sizeof planted_schema[0]; i++)
        exec_ok(c, "%s", planted_schema[i]);
    run_workload(db);
    wait_stats(c, "(SELECT idx_scan > 0 FROM pg_stat_user_indexes WHERE indexrelname = 'sessions_user_idx') AND "
                  "(SELECT idx_scan > 0 FROM pg_stat_user_indexes WHERE indexrelname = 'events_kind_ts_idx')");
    /* The trap: the wide index arrives after the workload, so the narrow one is the used one. */
    exec_ok(c, "CREATE INDEX sessions_user_started_idx ON sessions (user_id, started_at)");
    char *wide = scalar(c, "SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'sessions_user_started_idx'");
    ck_assert_str_eq(wide, "0");
    free(wide);

    alchdb_advisor_report *r = analyze(db, NULL, true, add_bad_queries);
    dump(r);

    /* Missing single- and multi-column indexes, verified with HypoPG. */
    int m1 = find_item(r, ALCHDB_ADVISOR_MISSING, "customers", "email");
    ck_assert_msg(m1 >= 0, "missing index on customers(email) not found");
    ck_assert_str_eq(alchdb_advisor_report_missing_verified_by(r, (size_t)m1), "hypopg");
    int m2 = find_item(r, ALCHDB_ADVISOR_MISSING, "orders", "customer_id,created_at");
    ck_assert_msg(m2 >= 0, "missing index on orders(customer_id, created_at) not found");
    int m3 = -1; /* the partial-index opportunity */
    for (int64_t i = 0; i < alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING); i++) {
        const char *sql = alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, (size_t)i);
        if (strstr(sql, "ON public.orders") && strstr(sql, "WHERE status = 'pending'"))
            m3 = (int)i;
    }
    ck_assert_msg(m3 >= 0, "partial index on orders WHERE status = 'pending' not found");
    int mq = find_item(r, ALCHDB_ADVISOR_MISSING, "\"Order Items\"", "Customer Ref,select");
    if (mq < 0)
        mq = find_item(r, ALCHDB_ADVISOR_MISSING, "\"Order Items\"", "select,Customer Ref");
    if (mq < 0)
        mq = find_item(r, ALCHDB_ADVISOR_MISSING, "\"Order Items\"", "Customer Ref");
    ck_assert_msg(mq >= 0, "missing index on \"Order Items\" not found");
    ck_assert_ptr_nonnull(strstr(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, (size_t)mq),
                                 "ON public.\"Order Items\" (\"Customer Ref\""));

    /* Unused, duplicates, prefix, FK. */
    ck_assert_int_ge(find_item(r, ALCHDB_ADVISOR_UNUSED, "orders", "orders_note_idx"), 0);
    int d = find_item(r, ALCHDB_ADVISOR_REDUNDANT, "customers", "customers_region_dup");
    ck_assert_msg(d >= 0, "exact duplicate customers_region_dup not found");
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_REDUNDANT, "customers", "customers_region_idx"), 0);
    ck_assert_int_ge(find_item(r, ALCHDB_ADVISOR_REDUNDANT, "events", "events_kind_idx"), 0);
    ck_assert_int_ge(find_item(r, ALCHDB_ADVISOR_FK, "order_items", "order_items_order_id_fkey"), 0);
    ck_assert_int_ge(find_item(r, ALCHDB_ADVISOR_FK, "orders", "orders_customer_id_fkey"), 0);

    /* Nothing harmful: the used narrow index stays; primary keys are never unused. */
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_REDUNDANT, "sessions", "sessions_user_idx"), 0);
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_UNUSED, "sessions", "sessions_user_idx"), 0);
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_UNUSED, "order_items", "order_items_pkey"), 0);
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_MISSING, "sessions", "user_id"), 0);
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_MISSING, "events", "kind,ts"), 0);

    /* Bad input is reported, not suggested from. */
    ck_assert(has_note(r, "does not parse"));
    ck_assert(has_note(r, "gone_table"));
    for (int64_t i = 0; i < alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING); i++)
        ck_assert_ptr_null(strstr(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, (size_t)i), "gone"));

    /* JSON: the stable keys. */
    char *js = NULL;
    ck_assert_int_eq(alchdb_advisor_report_to_json(r, &js), 0);
    json_error_t err;
    json_t *j = json_loads(js, 0, &err);
    ck_assert_msg(j != NULL, "JSON: %s", err.text);
    const char *keys[] = {"tables", "index_usage_ratio", "unused_indexes", "redundant_indexes", "fk_without_index",
                          "missing_indexes", "health", "script"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(json_object_get(j, keys[i]) != NULL, "JSON key %s missing", keys[i]);
    json_t *mi = json_array_get(json_object_get(j, "missing_indexes"), (size_t)m1);
    const char *mkeys[] = {"table", "columns", "create_sql", "priority", "estimated_gain_pct", "cost_before",
                           "cost_after", "verified_by", "queries"};
    for (size_t i = 0; i < sizeof mkeys / sizeof mkeys[0]; i++)
        ck_assert_msg(json_object_get(mi, mkeys[i]) != NULL, "missing_indexes key %s missing", mkeys[i]);
    ck_assert(json_number_value(json_object_get(mi, "cost_after")) < json_number_value(json_object_get(mi, "cost_before")));
    ck_assert_int_ge(json_array_size(json_object_get(mi, "queries")), 1);
    /* The priority's evidence: calls, saving, selectivity, the table's writes and scans, in words too. */
    json_t *ev = json_object_get(mi, "evidence");
    ck_assert_msg(json_is_object(ev), "no evidence");
    ck_assert_int_eq((int)json_number_value(json_object_get(ev, "calls")), 30);
    ck_assert(json_number_value(json_object_get(ev, "saving_per_call")) > 0);
    ck_assert(json_is_integer(json_object_get(ev, "rows_written")) && json_is_integer(json_object_get(ev, "table_scans")));
    const char *why = json_string_value(json_object_get(ev, "why"));
    ck_assert_msg(why && strstr(why, "saves ") && strstr(why, "written vs") && strstr(why, "estimated index size"), "%s",
                  why ? why : "(null)");
    ck_assert(json_is_integer(json_object_get(json_object_get(j, "health"), "score")));
    json_decref(j);
    alchdb_free(js);
    const char *script = alchdb_advisor_report_script(r);
    ck_assert_ptr_nonnull(strstr(script, "CREATE INDEX CONCURRENTLY"));
    ck_assert_ptr_nonnull(strstr(script, "-- DROP INDEX CONCURRENTLY IF EXISTS public.customers_region_dup;"));
    ck_assert_int_lt(alchdb_advisor_report_health(r), 100);

    /* Apply every suggestion; then the workload's plans use them. */
    alchdb_advisor_config *o;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, db_conninfo(db, NULL)), 0);
    for (int64_t i = 0; i < alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING); i++)
        ck_assert_msg(alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_MISSING, (size_t)i) == 0, "apply: %s",
                      alchdb_last_error_message());
    /* Applying twice is refused, not duplicated. */
    ck_assert_int_eq(alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_MISSING, 0), ALCHDB_E_STATE);
    alchdb_advisor_config_free(o);
    exec_ok(c, "ANALYZE");
    struct {
        int item;
        const char *sql;
    } checks[] = {
        {m1, "EXPLAIN SELECT * FROM customers WHERE email = 'user77@example.com'"},
        {m2, "EXPLAIN SELECT id, total FROM orders WHERE customer_id = 42 AND created_at >= now() - interval '1 hour'"},
        {m3, "EXPLAIN SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 20"},
        {mq, "EXPLAIN SELECT * FROM \"Order Items\" WHERE \"Customer Ref\" = 5 AND \"select\" = 5"},
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        const char *name = alchdb_advisor_report_item_name(r, ALCHDB_ADVISOR_MISSING, (size_t)checks[i].item);
        PGresult *pr = PQexec(c, checks[i].sql);
        ck_assert_int_eq(PQresultStatus(pr), PGRES_TUPLES_OK);
        bool used = false;
        for (int row = 0; row < PQntuples(pr); row++)
            used |= strstr(PQgetvalue(pr, row, 0), name) != NULL;
        PQclear(pr);
        ck_assert_msg(used, "plan of \"%s\" does not use %s", checks[i].sql, name);
    }
    alchdb_advisor_report_free(r);

    /* A second analysis never suggests what now exists. */
    r = analyze(db, NULL, true, NULL);
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_MISSING, "customers", "email"), 0);
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_MISSING, "orders", "customer_id,created_at"), 0);
    alchdb_advisor_report_free(r);
    PQfinish(c);
    drop_db(db);
}
END_TEST

static void add_nohypo_queries(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_add_queries(
                         o, "SELECT * FROM big WHERE val = 123;\nSELECT * FROM big WHERE other = $1 AND $2 IS NULL;",
                         (size_t)-1),
                     0);
}

START_TEST(test_without_hypopg)
{
    const char *db = "adv_nohypo";
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    exec_ok(c, "CREATE TABLE big (id int PRIMARY KEY, val int, other int)");
    exec_ok(c, "INSERT INTO big SELECT g, g %% 10000, g %% 777 FROM generate_series(1, 50000) g");
    exec_ok(c, "ANALYZE big");
    exec_ok(c, "SELECT count(*) FROM big WHERE val = 5");
    PQfinish(c);
    c = connect_to(db, NULL);
    wait_stats(c, "(SELECT seq_scan > 0 FROM pg_stat_user_tables WHERE relname = 'big')");
    alchdb_advisor_report *r = analyze(db, NULL, true, add_nohypo_queries);
    dump(r);
    ck_assert(has_note(r, "HypoPG is not installed"));
    ck_assert(has_note(r, "pg_stat_statements is not installed"));
    int i = find_item(r, ALCHDB_ADVISOR_MISSING, "big", "val");
    ck_assert_msg(i >= 0, "no suggestion for big(val)");
    ck_assert_str_eq(alchdb_advisor_report_missing_verified_by(r, (size_t)i), "explain");
    int h = find_item(r, ALCHDB_ADVISOR_MISSING, "big", "other");
    ck_assert_msg(h >= 0, "no heuristic suggestion for big(other)");
    ck_assert_str_eq(alchdb_advisor_report_missing_verified_by(r, (size_t)h), "heuristic");
    char *js = NULL;
    ck_assert_int_eq(alchdb_advisor_report_to_json(r, &js), 0);
    ck_assert_ptr_nonnull(strstr(js, "\"verified\":false"));
    alchdb_free(js);
    alchdb_advisor_report_free(r);
    PQfinish(c);
    drop_db(db);
}
END_TEST

static void add_secret_query(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM secret WHERE val = 3", 10, 5.0), 0);
}

START_TEST(test_no_privileges)
{
    const char *db = "adv_noprivs";
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    exec_ok(c, "CREATE EXTENSION pg_stat_statements");
    exec_ok(c, "CREATE EXTENSION hypopg");
    exec_ok(c, "DROP ROLE IF EXISTS adv_nopriv");
    exec_ok(c, "CREATE ROLE adv_nopriv LOGIN");
    exec_ok(c, "CREATE TABLE secret (id int PRIMARY KEY, val int)");
    exec_ok(c, "INSERT INTO secret SELECT g, g %% 1000 FROM generate_series(1, 20000) g");
    exec_ok(c, "ANALYZE secret");
    exec_ok(c, "SELECT count(*) FROM secret WHERE val = 3");
    alchdb_advisor_report *r = analyze(db, "adv_nopriv", true, add_secret_query);
    dump(r);
    ck_assert_int_gt(alchdb_advisor_report_note_count(r), 0);
    ck_assert(has_note(r, "permission denied"));
    ck_assert(has_note(r, "insufficient privilege"));
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING), 0);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_TABLES), 1);
    alchdb_advisor_report_free(r);
    PQfinish(c);
    drop_db(db);
    PGconn *a = connect_to("alchdb_test", NULL);
    exec_ok(a, "DROP ROLE IF EXISTS adv_nopriv");
    PQfinish(a);
}
END_TEST

START_TEST(test_empty_database)
{
    const char *db = "adv_empty";
    fresh_db(db);
    alchdb_advisor_report *r = analyze(db, NULL, true, NULL);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_TABLES), 0);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING), 0);
    ck_assert(has_note(r, "no user tables"));
    ck_assert_int_eq(alchdb_advisor_report_health(r), 100);
    ck_assert(alchdb_advisor_report_index_usage_ratio(r) < 0);
    char *js = NULL;
    ck_assert_int_eq(alchdb_advisor_report_to_json(r, &js), 0);
    json_t *j = json_loads(js, 0, NULL);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_null(json_object_get(j, "index_usage_ratio")));
    json_decref(j);
    alchdb_free(js);
    alchdb_advisor_report_free(r);
    drop_db(db);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("advisor-live");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_planted_problems);
    tcase_add_test(tc, test_without_hypopg);
    tcase_add_test(tc, test_no_privileges);
    tcase_add_test(tc, test_empty_database);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
