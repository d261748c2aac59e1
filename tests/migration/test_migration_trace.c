/* The migration corpus, checked against a real PostgreSQL 15: for every case
 * the static assessment's expected risk, rewrite and findings, and then trace
 * mode compares every statement's lock and rewrite claims with what the
 * server actually did. Any disagreement fails the suite. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <alchdb/alchdb.h>
#include <alchdb/migration.h>

#include "testutil.h"

#ifndef CORPUS_PATH
#error CORPUS_PATH must be defined
#endif

typedef struct mcase {
    char name[96];
    char *setup;
    char *migrate;
    char expect[256];
} mcase;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = '\0';
    fclose(f);
    return b;
}

static size_t parse_corpus(char *text, mcase *cases, size_t cap)
{
    size_t n = 0;
    mcase *cur = NULL;
    int section = 0; /* 1 setup, 2 migrate */
    static char setup_buf[256][4096], mig_buf[256][4096];
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strncmp(line, "-- case: ", 9)) {
            if (n == cap)
                break;
            cur = &cases[n];
            memset(cur, 0, sizeof *cur);
            snprintf(cur->name, sizeof cur->name, "%s", line + 9);
            cur->setup = setup_buf[n];
            cur->migrate = mig_buf[n];
            cur->setup[0] = cur->migrate[0] = '\0';
            n++;
            section = 1;
        } else if (cur && !strcmp(line, "-- migrate")) {
            section = 2;
        } else if (cur && !strncmp(line, "-- expect:", 10)) {
            snprintf(cur->expect, sizeof cur->expect, "%s", line + 10);
            section = 0;
        } else if (cur && section && strncmp(line, "--", 2) != 0) {
            char *dst = section == 1 ? cur->setup : cur->migrate;
            strncat(dst, line, 4095 - strlen(dst));
            strncat(dst, "\n", 4095 - strlen(dst));
        }
    }
    return n;
}

static bool expect_has(const char *expect, const char *key, char *val, size_t cap)
{
    const char *p = strstr(expect, key);
    if (!p)
        return false;
    p += strlen(key);
    size_t i = 0;
    while (p[i] && p[i] != ' ' && i + 1 < cap) {
        val[i] = p[i];
        i++;
    }
    val[i] = '\0';
    return true;
}

static bool has_rule(const alchdb_migration *m, const char *rule)
{
    for (size_t s = 0; s < alchdb_migration_stmt_count(m, 0); s++)
        for (size_t f = 0; f < alchdb_migration_finding_count(m, 0, s); f++)
            if (!strcmp(alchdb_migration_finding(m, 0, s, f, "rule"), rule))
                return true;
    return false;
}

static bool any_rewrite(const alchdb_migration *m)
{
    for (size_t s = 0; s < alchdb_migration_stmt_count(m, 0); s++) {
        uint32_t fl = 0;
        alchdb_migration_stmt_flags(m, 0, s, &fl);
        if (fl & ALCHDB_MIG_REWRITES_TABLE)
            return true;
    }
    return false;
}

static void exec_or_fail(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY, "%s failed: %s", what,
                  PQresultErrorMessage(r));
    PQclear(r);
}

START_TEST(test_corpus_against_postgres)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    char *text = slurp(CORPUS_PATH);
    ck_assert_msg(text != NULL, "cannot read %s", CORPUS_PATH);
    static mcase cases[256];
    size_t n = parse_corpus(text, cases, 256);
    ck_assert_uint_ge(n, 80);

    PGconn *admin = PQconnectdb(primary);
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "connect: %s", PQerrorMessage(admin));
    size_t agreed = 0, disagreed = 0, not_compared = 0, failures = 0;
    for (size_t i = 0; i < n; i++) {
        mcase *c = &cases[i];
        /* FILE_COPY: PG 15's default WAL_LOG strategy writes the whole template
         * into the WAL (~8 MB a database), which the replica then has to replay
         * before the router tests can use it. */
        exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_case WITH (FORCE)", "drop scratch db");
        exec_or_fail(admin, "CREATE DATABASE alchdb_mig_case STRATEGY FILE_COPY", "create scratch db");
        char conninfo[1024];
        snprintf(conninfo, sizeof conninfo, "%s dbname=alchdb_mig_case", primary);
        PGconn *db = PQconnectdb(conninfo);
        ck_assert_msg(PQstatus(db) == CONNECTION_OK, "connect scratch: %s", PQerrorMessage(db));
        if (c->setup[0])
            exec_or_fail(db, c->setup, c->name);
        PQfinish(db);

        alchdb_migration_config *o;
        ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
        ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, conninfo), 0);

        /* Static expectations, assessed against the database before the migration. */
        alchdb_migration *m;
        ck_assert_int_eq(alchdb_migration_new(o, &m), 0);
        ck_assert_int_eq(alchdb_migration_add_file(m, c->name, c->migrate, (size_t)-1), 0);
        ck_assert_msg(alchdb_migration_file_error(m, 0, NULL, NULL) == NULL, "%s: parse error", c->name);
        char val[200];
        if (expect_has(c->expect, "risk=", val, sizeof val)) {
            const char *got = alchdb_migration_risk_name(alchdb_migration_max_risk(m));
            if (strcmp(got, val)) {
                printf("FAIL %s: risk %s, expected %s\n", c->name, got, val);
                failures++;
            }
        }
        if (expect_has(c->expect, "rewrite=", val, sizeof val) && any_rewrite(m) != !strcmp(val, "yes")) {
            printf("FAIL %s: static rewrite=%s, expected %s\n", c->name, any_rewrite(m) ? "yes" : "no", val);
            failures++;
        }
        for (int want = 1; want >= 0; want--) {
            if (!expect_has(c->expect, want ? " rules=" : "norules=", val, sizeof val))
                continue;
            for (char *r = strtok(val, ","); r; r = strtok(NULL, ","))
                if (has_rule(m, r) != want) {
                    printf("FAIL %s: rule %s %s\n", c->name, r, want ? "missing" : "present but must not be");
                    failures++;
                }
        }
        alchdb_migration_free(m);

        /* PostgreSQL's own word on every lock and rewrite claim. */
        char *json = NULL;
        size_t a = 0, d = 0;
        int rc = alchdb_migration_trace(o, c->migrate, (size_t)-1, &json, &a, &d);
        ck_assert_msg(rc == 0, "%s: trace failed: %s", c->name, alchdb_last_error_message());
        json_error_t jerr;
        json_t *root = json_loads(json, 0, &jerr);
        ck_assert_msg(root != NULL, "%s: trace JSON does not parse: %s", c->name, jerr.text);
        bool observed_rewrite = false;
        size_t i2;
        json_t *st;
        json_array_foreach(json_object_get(root, "statements"), i2, st)
        {
            json_t *obs = json_object_get(st, "observed");
            if (json_is_true(json_object_get(obs, "rewrites_table")))
                observed_rewrite = true;
            const char *err = json_string_value(json_object_get(obs, "error"));
            if (err) {
                printf("FAIL %s: statement %zu failed on PostgreSQL: %s\n", c->name, i2, err);
                failures++;
            }
            json_t *dis = json_object_get(st, "disagreements");
            size_t k;
            json_t *msg;
            json_array_foreach(dis, k, msg) printf("DISAGREE %s #%zu: %s\n", c->name, i2, json_string_value(msg));
        }
        if (expect_has(c->expect, "rewrite=", val, sizeof val) && observed_rewrite != !strcmp(val, "yes")) {
            printf("FAIL %s: PostgreSQL rewrite=%s, corpus expects %s\n", c->name, observed_rewrite ? "yes" : "no",
                   val);
            failures++;
        }
        not_compared += (size_t)json_integer_value(json_object_get(root, "not_compared"));
        json_decref(root);
        alchdb_free(json);
        agreed += a;
        disagreed += d;
        alchdb_migration_config_free(o);
    }
    exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_case WITH (FORCE)", "drop scratch db");
    PQfinish(admin);
    free(text);
    printf("migration corpus: %zu cases; statements compared with PostgreSQL: %zu agree, %zu disagree "
           "(%zu not comparable: transaction control); expectation failures: %zu\n",
           n, agreed, disagreed, not_compared, failures);
    ck_assert_uint_gt(agreed, 80);
    ck_assert_msg(disagreed == 0, "%zu statements where the static assessment and PostgreSQL disagree", disagreed);
    ck_assert_msg(failures == 0, "%zu corpus expectations failed", failures);
}
END_TEST

/* The trace must be able to say no: an INSERT whose trigger writes another
 * table takes ROW EXCLUSIVE there, which no static assessment can see. And in
 * live mode ALTER DOMAIN … ADD CONSTRAINT names the tables using the domain
 * (PostgreSQL 15 takes SHARE on each), so the trace agrees. */
START_TEST(test_trace_reports_disagreement)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    PGconn *admin = PQconnectdb(primary);
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "connect: %s", PQerrorMessage(admin));
    exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_neg WITH (FORCE)", "drop");
    exec_or_fail(admin, "CREATE DATABASE alchdb_mig_neg STRATEGY FILE_COPY", "create");
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s dbname=alchdb_mig_neg", primary);
    PGconn *db = PQconnectdb(conninfo);
    exec_or_fail(db, "CREATE DOMAIN posint AS int; CREATE TABLE t (id int PRIMARY KEY, n posint);"
                     "INSERT INTO t SELECT g, g FROM generate_series(1, 20) g; CREATE TABLE audit (id int);"
                     "CREATE FUNCTION audit_t() RETURNS trigger LANGUAGE plpgsql AS "
                     "$$BEGIN INSERT INTO audit VALUES (NEW.id); RETURN NEW; END$$;"
                     "CREATE TRIGGER t_audit AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION audit_t()", "setup");
    PQfinish(db);
    alchdb_migration_config *o;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, conninfo), 0);
    char *json = NULL;
    size_t a = 0, d = 0;
    ck_assert_int_eq(alchdb_migration_trace(o, "INSERT INTO t VALUES (100, 100)", (size_t)-1, &json, &a, &d), 0);
    ck_assert_uint_eq(d, 1);
    ck_assert_msg(strstr(json, "PostgreSQL took ROW EXCLUSIVE on audit, which the static assessment does not list"),
                  "%s", json);
    alchdb_free(json);
    ck_assert_int_eq(alchdb_migration_trace(o, "ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0)",
                                            (size_t)-1, &json, &a, &d), 0);
    ck_assert_msg(d == 0 && a == 1, "%s", json);
    ck_assert_msg(strstr(json, "{\"relation\":\"t\",\"mode\":\"SHARE\"}"), "%s", json);
    alchdb_free(json);
    /* bad scratch database: a clear connection error */
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO,
                                                         "host=127.0.0.1 port=1 connect_timeout=2"), 0);
    ck_assert_int_eq(alchdb_migration_trace(o, "SELECT 1", (size_t)-1, &json, NULL, NULL), ALCHDB_E_CONNECT);
    ck_assert_ptr_null(json);
    alchdb_migration_config_free(o);
    exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_neg WITH (FORCE)", "drop");
    PQfinish(admin);
}
END_TEST

static int64_t scalar(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
    int64_t v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* DETACH PARTITION … CONCURRENTLY cannot run in a transaction block, and the
 * corpus trace, which blocks every claimed relation at once, sees it queue on
 * the parent first; so this case asks PostgreSQL 15 about the partition alone:
 * with a reader holding ACCESS SHARE on the partition only, the detach passes
 * its first transaction (SHARE UPDATE EXCLUSIVE on the parent) and then waits
 * for ACCESS EXCLUSIVE on the partition, which the static assessment must
 * claim, with SHARE UPDATE EXCLUSIVE on the parent. */
START_TEST(test_detach_concurrently_locks)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    PGconn *admin = PQconnectdb(primary);
    exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_detach WITH (FORCE)", "drop");
    exec_or_fail(admin, "CREATE DATABASE alchdb_mig_detach STRATEGY FILE_COPY", "create");
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s dbname=alchdb_mig_detach", primary);
    PGconn *reader = PQconnectdb(conninfo), *detacher = PQconnectdb(conninfo);
    ck_assert(PQstatus(reader) == CONNECTION_OK && PQstatus(detacher) == CONNECTION_OK);
    exec_or_fail(reader, "CREATE TABLE m (id int, at date NOT NULL) PARTITION BY RANGE (at);"
                         "CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');"
                         "CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')", "setup");
    const char *sql = "ALTER TABLE m DETACH PARTITION m_2026 CONCURRENTLY";

    alchdb_migration_config *o;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, conninfo), 0);
    alchdb_migration *m;
    ck_assert_int_eq(alchdb_migration_new(o, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "detach.sql", sql, (size_t)-1), 0);
    int parent_mode = -1, part_mode = -1;
    for (size_t k = 0; k < alchdb_migration_lock_count(m, 0, 0); k++) {
        int mode;
        const char *rel = alchdb_migration_lock(m, 0, 0, k, &mode);
        if (!strcmp(rel, "m"))
            parent_mode = mode;
        else if (!strcmp(rel, "m_2026"))
            part_mode = mode;
    }
    alchdb_migration_free(m);
    alchdb_migration_config_free(o);

    exec_or_fail(reader, "BEGIN; SELECT * FROM m_2026", "reader");
    ck_assert(PQsendQuery(detacher, sql));
    int pid = PQbackendPID(detacher);
    char q[256];
    snprintf(q, sizeof q,
             "SELECT count(*) FROM pg_locks WHERE pid = %d AND NOT granted AND mode = 'AccessExclusiveLock' "
             "AND relation = 'm_2026'::regclass",
             pid);
    PGconn *obs = PQconnectdb(conninfo);
    ck_assert(PQstatus(obs) == CONNECTION_OK);
    bool waiting = false;
    for (int i = 0; i < 3000 && !waiting; i++) { /* the state waited for lasts until the reader ends */
        waiting = scalar(obs, q) == 1;
        if (!waiting)
            usleep(10000);
    }
    char held[256];
    snprintf(held, sizeof held,
             "SELECT count(*) FROM pg_locks WHERE pid = %d AND granted AND mode = 'ShareUpdateExclusiveLock' "
             "AND relation = 'm'::regclass",
             pid);
    int64_t parent_held = scalar(obs, held);
    PQfinish(obs);
    exec_or_fail(reader, "COMMIT", "reader done");
    PGresult *r;
    while ((r = PQgetResult(detacher)) != NULL) {
        ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK, "detach: %s", PQresultErrorMessage(r));
        PQclear(r);
    }
    ck_assert_msg(waiting, "PostgreSQL never asked for ACCESS EXCLUSIVE on the partition");
    ck_assert_int_eq(parent_held, 1);
    ck_assert_int_eq(part_mode, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    ck_assert_int_eq(parent_mode, ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
    PQfinish(reader);
    PQfinish(detacher);
    exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_detach WITH (FORCE)", "drop");
    PQfinish(admin);
}
END_TEST

/* The executor runs the phased plan with lock_timeout, retries lock timeouts
 * a bounded number of times and stops cleanly at a phase boundary. */
START_TEST(test_execute_plan)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    PGconn *admin = PQconnectdb(primary);
    exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_exec WITH (FORCE)", "drop");
    exec_or_fail(admin, "CREATE DATABASE alchdb_mig_exec STRATEGY FILE_COPY", "create");
    char conninfo[1024];
    snprintf(conninfo, sizeof conninfo, "%s dbname=alchdb_mig_exec", primary);
    PGconn *db = PQconnectdb(conninfo);
    exec_or_fail(db, "CREATE TABLE t (id int PRIMARY KEY, a int); INSERT INTO t SELECT g, g FROM generate_series(1, 5000) g;"
                     "CREATE TABLE t2 (id int PRIMARY KEY)", "setup");
    alchdb_migration_config *o;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, conninfo), 0);
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "lock_timeout", "200ms"), 0);
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "max_retries", "2"), 0);

    /* a clean run: every phase done, and the database shows it */
    alchdb_migration *m;
    ck_assert_int_eq(alchdb_migration_new(o, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "ok.sql",
                                               "ALTER TABLE t ADD COLUMN b int DEFAULT 1;\n"
                                               "CREATE INDEX CONCURRENTLY t_b ON t (b);\n"
                                               "ALTER TABLE t ADD CONSTRAINT b_pos CHECK (b > 0) NOT VALID;\n"
                                               "ALTER TABLE t VALIDATE CONSTRAINT b_pos;\n",
                                               (size_t)-1), 0);
    char *json = NULL;
    ck_assert_msg(alchdb_migration_execute(m, 0, &json) == 0, "execute: %s", alchdb_last_error_message());
    ck_assert_ptr_nonnull(strstr(json, "\"completed\":true"));
    ck_assert_int_eq(scalar(db, "SELECT count(*) FROM pg_index WHERE indexrelid = 't_b'::regclass AND indisvalid"), 1);
    ck_assert_int_eq(scalar(db, "SELECT count(*) FROM pg_constraint WHERE conname = 'b_pos' AND convalidated"), 1);
    alchdb_free(json);
    alchdb_migration_free(m);

    /* live mode turns a rewrite into an estimate from the table's real size */
    ck_assert_int_eq(alchdb_migration_new(o, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "est.sql", "ALTER TABLE t ALTER COLUMN a TYPE bigint;", (size_t)-1), 0);
    ck_assert_int_eq(alchdb_migration_to_json(m, &json), 0);
    ck_assert_msg(strstr(json, "\"estimated_seconds\":null") == NULL, "no estimate: %s", json);
    ck_assert_ptr_nonnull(strstr(json, "rewrites t, ~"));
    alchdb_free(json);
    alchdb_migration_free(m);

    /* a blocker on t2: the last phase times out twice and the run stops there,
     * earlier phases applied, nothing of the failed one */
    PGconn *blocker = PQconnectdb(conninfo);
    exec_or_fail(blocker, "BEGIN; SELECT * FROM t2", "blocker");
    ck_assert_int_eq(alchdb_migration_new(o, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "blocked.sql",
                                               "ALTER TABLE t ADD COLUMN c int;\n"
                                               "CREATE INDEX CONCURRENTLY t_c ON t (c);\n"
                                               "ALTER TABLE t2 ADD COLUMN z int;\n",
                                               (size_t)-1), 0);
    /* live mode saw the idle-in-transaction session holding a lock on t2 */
    bool queue_risk = false;
    for (size_t f = 0; f < alchdb_migration_finding_count(m, 0, 2); f++)
        queue_risk |= !strcmp(alchdb_migration_finding(m, 0, 2, f, "rule"), "lock-queue-risk");
    ck_assert_msg(queue_risk, "no lock-queue-risk finding for the blocked table");
    ck_assert_int_eq(alchdb_migration_execute(m, 0, &json), ALCHDB_E_QUERY);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "55P03") ? "x" : strstr(json, "55P03"));
    ck_assert_ptr_nonnull(strstr(json, "\"completed\":false"));
    ck_assert_ptr_nonnull(strstr(json, "\"attempts\":2"));
    ck_assert_ptr_nonnull(strstr(json, "\"phases_done\":2"));
    ck_assert_int_eq(scalar(db, "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'c'"), 1);
    ck_assert_int_eq(scalar(db, "SELECT count(*) FROM pg_attribute WHERE attrelid = 't2'::regclass AND attname = 'z'"), 0);
    alchdb_free(json);
    exec_or_fail(blocker, "ROLLBACK", "end blocker");
    PQfinish(blocker);

    /* refused: opaque code, a syntax error, no database */
    ck_assert_int_eq(alchdb_migration_add_file(m, "do.sql", "DO $$ BEGIN PERFORM 1; END $$;", (size_t)-1), 0);
    ck_assert_int_eq(alchdb_migration_execute(m, 1, &json), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_migration_add_file(m, "bad.sql", "ALTER TABLE", (size_t)-1), 0);
    ck_assert_int_eq(alchdb_migration_execute(m, 2, &json), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_migration_execute(m, 9, &json), ALCHDB_E_INVALID);
    alchdb_migration_free(m);
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "x.sql", "SELECT 1;", (size_t)-1), 0);
    ck_assert_int_eq(alchdb_migration_execute(m, 0, &json), ALCHDB_E_INVALID);
    alchdb_migration_free(m);
    alchdb_migration_config_free(o);
    PQfinish(db);
    exec_or_fail(admin, "DROP DATABASE IF EXISTS alchdb_mig_exec WITH (FORCE)", "drop");
    PQfinish(admin);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migration-trace");
    TCase *tc = tcase_create("corpus");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_corpus_against_postgres);
    tcase_add_test(tc, test_trace_reports_disagreement);
    tcase_add_test(tc, test_detach_concurrently_locks);
    tcase_add_test(tc, test_execute_plan);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
