/* Allocation failure through the modules that talk to the server: pool,
 * client (with a monitor attached), router (primary + replica, prober
 * running), monitor plan capture (through a pool and by conninfo), advisor
 * (analyze and the report), migration live mode and trace. One Check case per
 * module (CK_RUN_CASE=pool ...). Needs the rig. */
#include <libpq-fe.h>

#include <alchdb/pq.h>

#include "oom.h"
#include "pgtest.h"

#define DB "alchdb_trust_oom"

static char db_ci[512], replica_ci[512], planner_ci[600];

static void setup_db(void)
{
    pgtest_fresh_db(DB, db_ci, sizeof db_ci);
    snprintf(replica_ci, sizeof replica_ci, "%s dbname=" DB, test_env("ALCHDB_TEST_REPLICA"));
    PGconn *c = PQconnectdb(db_ci);
    ck_assert_int_eq(PQstatus(c), CONNECTION_OK);
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);
    pgtest_exec(c, "CREATE TABLE customers (id int PRIMARY KEY, email text, region text)");
    pgtest_exec(c, "INSERT INTO customers SELECT g, 'u' || g || '@x', 'r' || g % 10 FROM generate_series(1, 3000) g");
    pgtest_exec(c, "CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers(id), total int)");
    pgtest_exec(c, "INSERT INTO orders SELECT g, 1 + g % 3000, g % 97 FROM generate_series(1, 6000) g");
    pgtest_exec(c, "CREATE INDEX customers_region_a ON customers (region)");
    pgtest_exec(c, "CREATE INDEX customers_region_b ON customers (region)");
    pgtest_exec(c, "ANALYZE");
    /* plan capture refuses superuser sessions: plan as a role without rights */
    pgtest_exec(c, "DO $$BEGIN CREATE ROLE " DB "_planner LOGIN; "
                   "EXCEPTION WHEN duplicate_object THEN NULL; END$$");
    pgtest_exec(c, "GRANT SELECT ON customers, orders TO " DB "_planner");
    snprintf(planner_ci, sizeof planner_ci, "%s user=" DB "_planner", db_ci);
    PQfinish(c);
}

static void drop_db(void) { pgtest_drop_db(DB); }

/* ---- pool ------------------------------------------------------------------ */

typedef struct pool_state {
    alchdb_pool_config *cfg;
    alchdb_pool *pool;
} pool_state;

static int pool_use(alchdb_pool *pool, oom_state *st)
{
    alchdb_conn *c = NULL;
    int rc = alchdb_pool_acquire(pool, 10000000, "oom", &c);
    if (st)
        rc = oom_note(st, "alchdb_pool_acquire", rc);
    if (rc)
        return rc;
    PGresult *r = PQexec(alchdb_conn_pgconn(c), "SELECT count(*) FROM orders");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    rc = alchdb_pool_release(pool, c);
    return st ? oom_note(st, "alchdb_pool_release", rc) : rc;
}

static int pool_run(oom_state *st)
{
    pool_state *s = st->data;
    if (OOM_CALL(st, alchdb_pool_config_new(&s->cfg)) ||
        OOM_CALL(st, alchdb_pool_config_set_from_string(s->cfg, "max_open_conns", "2")) ||
        OOM_CALL(st, alchdb_pool_config_set_from_string(s->cfg, "max_idle_conns", "1")) ||
        OOM_CALL(st, alchdb_pool_config_set_string(s->cfg, ALCHDB_POOL_OPT_NAME, "oom")) ||
        OOM_CALL(st, alchdb_pool_new(db_ci, s->cfg, &s->pool)))
        return -1;
    if (pool_use(s->pool, st) || pool_use(s->pool, st))
        return -1;
    char *json = NULL;
    int rc = OOM_CALL(st, alchdb_pool_to_json(s->pool, &json));
    alchdb_free(json);
    alchdb_pool_metrics m;
    if (!rc)
        rc = OOM_CALL(st, alchdb_pool_get_metrics(s->pool, &m, sizeof m));
    return rc;
}

static void pool_check(oom_state *st)
{
    pool_state *s = st->data;
    if (!s->pool)
        return;
    ck_assert_msg(pool_use(s->pool, NULL) == 0, "pool after allocation %ld failed: %s", st->k,
                  alchdb_last_error_message());
    char *json = NULL;
    ck_assert_int_eq(alchdb_pool_to_json(s->pool, &json), 0);
    alchdb_free(json);
}

static void pool_teardown(oom_state *st)
{
    pool_state *s = st->data;
    alchdb_pool_free(s->pool);
    alchdb_pool_config_free(s->cfg);
}

/* A connection attempt that failed for memory is a failed connect. */
static const int pool_allowed[] = {ALCHDB_E_CONNECT, 0};

START_TEST(test_pool_oom)
{
    static const oom_case c = {"pool", sizeof(pool_state), pool_run, pool_check, pool_teardown, pool_allowed};
    ck_assert_int_gt(oom_sweep(&c, 5000), 10);
}
END_TEST

/* ---- client with a monitor --------------------------------------------------- */

typedef struct client_state {
    alchdb_client *client;
    alchdb_monitor *mon;
    alchdb_txn *txn;
} client_state;

static int client_use(alchdb_client *cl, oom_state *st)
{
    const char *p[2] = {"7", NULL};
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec(cl, "SELECT id, email FROM customers WHERE id = $1", 1, p, &r);
    if (st)
        rc = oom_note(st, "alchdb_client_exec", rc);
    if (!rc) {
        ck_assert_int_eq(alchdb_result_nrows(r), 1);
        ck_assert_str_eq(alchdb_result_value(r, 0, 0), "7");
    }
    alchdb_result_free(r);
    return rc;
}

static int client_run(oom_state *st)
{
    client_state *s = st->data;
    if (OOM_CALL(st, alchdb_client_open(db_ci, NULL, &s->client)) ||
        OOM_CALL(st, alchdb_monitor_new(NULL, &s->mon)) ||
        OOM_CALL(st, alchdb_client_set_monitor(s->client, s->mon)))
        return -1;
    if (client_use(s->client, st) || client_use(s->client, st))
        return -1;
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec(s->client, "SELECT * FROM no_such_table", 0, NULL, &r);
    if (rc != ALCHDB_E_QUERY && OOM_CALL(st, rc))
        return -1;
    if (r)
        ck_assert_str_eq(alchdb_result_sqlstate(r), "42P01");
    alchdb_result_free(r);
    if (OOM_CALL(st, alchdb_client_begin(s->client, ALCHDB_TXN_DEFAULT, &s->txn)))
        return -1;
    rc = OOM_CALL(st, alchdb_txn_exec(s->txn, "UPDATE orders SET total = total WHERE id = 1", 0, NULL, NULL));
    if (!rc)
        rc = OOM_CALL(st, alchdb_txn_commit(s->txn));
    else
        alchdb_txn_rollback(s->txn);
    alchdb_txn_free(s->txn);
    s->txn = NULL;
    if (!rc)
        rc = OOM_CALL(st, alchdb_client_exec_flags(s->client, "SELECT 1", 0, NULL, ALCHDB_EXEC_SIMPLE, NULL));
    return rc;
}

static void client_check(oom_state *st)
{
    client_state *s = st->data;
    if (!s->client)
        return;
    ck_assert_msg(client_use(s->client, NULL) == 0, "client after allocation %ld failed: %s", st->k,
                  alchdb_last_error_message());
    alchdb_txn *t = NULL;
    ck_assert_int_eq(alchdb_client_begin(s->client, 0, &t), 0);
    ck_assert_int_eq(alchdb_txn_exec(t, "SELECT 1", 0, NULL, NULL), 0);
    ck_assert_int_eq(alchdb_txn_commit(t), 0);
    alchdb_txn_free(t);
    if (s->mon) {
        char *json = NULL;
        ck_assert_int_eq(alchdb_monitor_patterns_to_json(s->mon, 0, 0, 0, &json), 0);
        alchdb_free(json);
    }
}

static void client_teardown(oom_state *st)
{
    client_state *s = st->data;
    alchdb_txn_free(s->txn);
    alchdb_client_free(s->client);
    alchdb_monitor_free(s->mon);
}

static const int client_allowed[] = {ALCHDB_E_CONNECT, ALCHDB_E_QUERY, 0};

START_TEST(test_client_oom)
{
    static const oom_case c = {"client", sizeof(client_state), client_run, client_check, client_teardown,
                               client_allowed};
    ck_assert_int_gt(oom_sweep(&c, 5000), 10);
}
END_TEST

/* ---- router ------------------------------------------------------------------- */

typedef struct router_state {
    alchdb_router_config *cfg;
    alchdb_router *r;
    alchdb_client *client;
} router_state;

/* intent AUTO decides from the SQL analysis: a read and a write */
static int router_use(alchdb_router *r, oom_state *st, int intent)
{
    alchdb_conn *c = NULL;
    int reason = 0;
    const char *sql = intent == ALCHDB_INTENT_WRITE ? "UPDATE orders SET total = total WHERE id = 1"
                                                    : "SELECT * FROM customers WHERE id = 1";
    int rc = alchdb_router_acquire(r, ALCHDB_INTENT_AUTO, sql, NULL, 10000000, "oom", &c, &reason);
    if (st)
        rc = oom_note(st, "alchdb_router_acquire", rc);
    if (rc)
        return rc;
    rc = alchdb_router_release(r, c, NULL);
    return st ? oom_note(st, "alchdb_router_release", rc) : rc;
}

static int router_run(oom_state *st)
{
    router_state *s = st->data;
    if (OOM_CALL(st, alchdb_router_config_new(&s->cfg)) ||
        OOM_CALL(st, alchdb_router_config_set_from_string(s->cfg, "probe_interval", "100ms")) ||
        OOM_CALL(st, alchdb_router_new(db_ci, NULL, s->cfg, &s->r)) ||
        OOM_CALL(st, alchdb_router_add_replica(s->r, replica_ci, 1)) ||
        OOM_CALL(st, alchdb_router_start(s->r)))
        return -1;
    if (router_use(s->r, st, ALCHDB_INTENT_WRITE) || router_use(s->r, st, ALCHDB_INTENT_READ))
        return -1;
    /* a client over the router: a write, then a read that must see it */
    if (OOM_CALL(st, alchdb_client_new_routed(s->r, &s->client)) ||
        OOM_CALL(st, alchdb_client_exec(s->client, "UPDATE orders SET total = total WHERE id = 2", 0, NULL, NULL)) ||
        OOM_CALL(st, alchdb_client_exec(s->client, "SELECT total FROM orders WHERE id = 2", 0, NULL, NULL)))
        return -1;
    char tok[256];
    int rc = OOM_CALL(st, alchdb_router_token(s->r, tok, sizeof tok));
    if (!rc)
        rc = OOM_CALL(st, alchdb_router_note_token(s->r, tok));
    char *json = NULL;
    if (!rc)
        rc = OOM_CALL(st, alchdb_router_to_json(s->r, &json));
    alchdb_free(json);
    return rc;
}

static void router_check(oom_state *st)
{
    router_state *s = st->data;
    if (!s->r)
        return;
    alchdb_router_start(s->r); /* may already run, or not have been started */
    ck_assert_msg(router_use(s->r, NULL, ALCHDB_INTENT_WRITE) == 0, "router after allocation %ld: %s", st->k,
                  alchdb_last_error_message());
    ck_assert_msg(router_use(s->r, NULL, ALCHDB_INTENT_READ) == 0, "router read after allocation %ld: %s", st->k,
                  alchdb_last_error_message());
}

static void router_teardown(oom_state *st)
{
    router_state *s = st->data;
    alchdb_client_free(s->client);
    alchdb_router_free(s->r);
    alchdb_router_config_free(s->cfg);
}

static const int router_allowed[] = {ALCHDB_E_CONNECT, ALCHDB_E_QUERY, 0};

START_TEST(test_router_oom)
{
    static const oom_case c = {"router", sizeof(router_state), router_run, router_check, router_teardown,
                               router_allowed};
    ck_assert_int_gt(oom_sweep(&c, 5000), 10);
}
END_TEST

/* ---- monitor plan capture ----------------------------------------------------- */

typedef struct plan_state {
    alchdb_monitor_config *cfg;
    alchdb_monitor *mon;
    alchdb_pool *pool;
} plan_state;

static int plan_record(alchdb_monitor *mon)
{
    int rc = alchdb_monitor_record_simple(mon, "SELECT * FROM orders WHERE customer_id = $1", 900000, NULL);
    if (!rc)
        rc = alchdb_monitor_record_simple(mon, "SELECT * FROM customers WHERE region = 'r1'", 700000, NULL);
    return rc;
}

static int plan_run(oom_state *st)
{
    plan_state *s = st->data;
    if (OOM_CALL(st, alchdb_monitor_config_new(&s->cfg)) ||
        OOM_CALL(st, alchdb_monitor_config_set_from_string(s->cfg, "plan_capture_interval", "0")) ||
        OOM_CALL(st, alchdb_monitor_new(s->cfg, &s->mon)) || OOM_CALL(st, plan_record(s->mon)) ||
        OOM_CALL(st, alchdb_pool_new(planner_ci, NULL, &s->pool)))
        return -1;
    int got = 0;
    if (OOM_CALL(st, alchdb_monitor_capture_plans(s->mon, s->pool, NULL, 5, &got)))
        return -1;
    if (OOM_CALL(st, alchdb_monitor_reset(s->mon)) || OOM_CALL(st, plan_record(s->mon)))
        return -1;
    if (OOM_CALL(st, alchdb_monitor_capture_plans(s->mon, NULL, planner_ci, 5, &got)))
        return -1;
    char *json = NULL;
    int rc = OOM_CALL(st, alchdb_monitor_patterns_to_json(s->mon, 0, 0, 0, &json));
    alchdb_free(json);
    return rc;
}

static void plan_check(oom_state *st)
{
    plan_state *s = st->data;
    if (!s->mon)
        return;
    ck_assert_int_eq(alchdb_monitor_reset(s->mon), 0);
    ck_assert_int_eq(plan_record(s->mon), 0);
    int got = 0;
    ck_assert_msg(alchdb_monitor_capture_plans(s->mon, NULL, planner_ci, 5, &got) == 0, "capture after %ld: %s", st->k,
                  alchdb_last_error_message());
    ck_assert_int_eq(got, 2);
}

static void plan_teardown(oom_state *st)
{
    plan_state *s = st->data;
    alchdb_monitor_free(s->mon);
    alchdb_monitor_config_free(s->cfg);
    alchdb_pool_free(s->pool);
}

static const int plan_allowed[] = {ALCHDB_E_CONNECT, 0};

START_TEST(test_plan_capture_oom)
{
    static const oom_case c = {"monitor plan capture", sizeof(plan_state), plan_run, plan_check, plan_teardown,
                               plan_allowed};
    ck_assert_int_gt(oom_sweep(&c, 5000), 10);
}
END_TEST

/* ---- advisor -------------------------------------------------------------------- */

typedef struct adv_state {
    alchdb_advisor_config *o;
    alchdb_advisor_report *r;
} adv_state;

static int adv_run(oom_state *st)
{
    adv_state *s = st->data;
    if (OOM_CALL(st, alchdb_advisor_config_new(&s->o)) ||
        OOM_CALL(st, alchdb_advisor_config_set_string(s->o, ALCHDB_ADVISOR_OPT_CONNINFO, db_ci)) ||
        OOM_CALL(st, alchdb_advisor_config_set_from_string(s->o, "use_hypopg", "off")) ||
        OOM_CALL(st, alchdb_advisor_config_add_queries(
                         s->o, "SELECT * FROM customers WHERE email = 'a'; SELECT * FROM orders WHERE total = 3;",
                         (size_t)-1)) ||
        OOM_CALL(st, alchdb_advisor_analyze(s->o, &s->r)))
        return -1;
    char *out = NULL;
    int rc = OOM_CALL(st, alchdb_advisor_report_to_json(s->r, &out));
    alchdb_free(out);
    out = NULL;
    if (!rc)
        rc = OOM_CALL(st, alchdb_advisor_report_to_text(s->r, &out));
    alchdb_free(out);
    return rc;
}

static void adv_check(oom_state *st)
{
    adv_state *s = st->data;
    if (!s->o)
        return;
    ck_assert_int_eq(alchdb_advisor_config_set_string(s->o, ALCHDB_ADVISOR_OPT_CONNINFO, db_ci), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_from_string(s->o, "use_hypopg", "off"), 0);
    alchdb_advisor_report *r = NULL;
    ck_assert_msg(alchdb_advisor_analyze(s->o, &r) == 0, "advisor after %ld: %s", st->k, alchdb_last_error_message());
    ck_assert_int_ge(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_FK), 1);
    ck_assert_int_ge(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_REDUNDANT), 1);
    alchdb_advisor_report_free(r);
}

static void adv_teardown(oom_state *st)
{
    adv_state *s = st->data;
    alchdb_advisor_report_free(s->r);
    alchdb_advisor_config_free(s->o);
}

static const int adv_allowed[] = {ALCHDB_E_CONNECT, 0};

START_TEST(test_advisor_oom)
{
    static const oom_case c = {"advisor", sizeof(adv_state), adv_run, adv_check, adv_teardown, adv_allowed};
    ck_assert_int_gt(oom_sweep(&c, 20000), 50);
}
END_TEST

/* ---- migration live mode and trace --------------------------------------------- */

typedef struct mig_state {
    alchdb_migration_config *o;
    alchdb_migration *m;
} mig_state;

static const char live_sql[] = "ALTER TABLE orders ADD COLUMN note text;\n"
                               "ALTER TABLE customers ALTER COLUMN email TYPE varchar(100);\n"
                               "CREATE INDEX CONCURRENTLY orders_total_idx ON orders (total);\n";
/* idempotent: every run of the sweep traces it again */
static const char trace_sql[] = "ALTER TABLE orders ALTER COLUMN total SET DEFAULT 0;\n";

static int mig_run(oom_state *st)
{
    mig_state *s = st->data;
    if (OOM_CALL(st, alchdb_migration_config_new(&s->o)) ||
        OOM_CALL(st, alchdb_migration_config_set_string(s->o, ALCHDB_MIGRATION_OPT_CONNINFO, db_ci)) ||
        OOM_CALL(st, alchdb_migration_new(s->o, &s->m)) ||
        OOM_CALL(st, alchdb_migration_add_file(s->m, "live.sql", live_sql, sizeof live_sql - 1)))
        return -1;
    char *json = NULL;
    if (OOM_CALL(st, alchdb_migration_to_json(s->m, &json)))
        return -1;
    alchdb_free(json);
    json = NULL;
    size_t agreed = 0, disagreed = 0;
    int rc = OOM_CALL(st, alchdb_migration_trace(s->o, trace_sql, sizeof trace_sql - 1, &json, &agreed, &disagreed));
    alchdb_free(json);
    return rc;
}

static void mig_check(oom_state *st)
{
    mig_state *s = st->data;
    if (!s->o)
        return;
    ck_assert_int_eq(alchdb_migration_config_set_string(s->o, ALCHDB_MIGRATION_OPT_CONNINFO, db_ci), 0);
    char *json = NULL;
    size_t agreed = 0, disagreed = 0;
    ck_assert_msg(alchdb_migration_trace(s->o, trace_sql, sizeof trace_sql - 1, &json, &agreed, &disagreed) == 0,
                  "trace after %ld: %s", st->k, alchdb_last_error_message());
    alchdb_free(json);
    ck_assert_int_eq(disagreed, 0);
}

static void mig_teardown(oom_state *st)
{
    mig_state *s = st->data;
    alchdb_migration_free(s->m);
    alchdb_migration_config_free(s->o);
}

static const int mig_allowed[] = {ALCHDB_E_CONNECT, 0};

START_TEST(test_migration_live_oom)
{
    static const oom_case c = {"migration live and trace", sizeof(mig_state), mig_run, mig_check, mig_teardown,
                               mig_allowed};
    ck_assert_int_gt(oom_sweep(&c, 20000), 50);
}
END_TEST

#define ADD_CASE(s, name, fn)                                                  \
    do {                                                                       \
        TCase *tc_ = tcase_create(name);                                       \
        tcase_set_timeout(tc_, 900);                                           \
        tcase_add_unchecked_fixture(tc_, setup_db, drop_db);                   \
        tcase_add_test(tc_, fn);                                               \
        suite_add_tcase(s, tc_);                                               \
    } while (0)

int main(void)
{
    Suite *s = suite_create("oom-live");
    ADD_CASE(s, "pool", test_pool_oom);
    ADD_CASE(s, "client", test_client_oom);
    ADD_CASE(s, "router", test_router_oom);
    ADD_CASE(s, "plans", test_plan_capture_oom);
    ADD_CASE(s, "advisor", test_advisor_oom);
    ADD_CASE(s, "migration", test_migration_live_oom);
    return run_suite(s);
}
