/* Hostile names through every SQL the assessor generates, on a real
 * PostgreSQL 15: tables whose schema and name hold newlines, quotes,
 * semicolons, "--", dots, spaces, upper case, reserved words, unicode and 63
 * bytes. For each table, each migration is run, then its rollback, and a
 * catalog snapshot of the whole database must be exactly what it was; each
 * safer rewrite is run in a transaction and must change that table only.
 * Canary tables (public.victim, a.b) catch a name that escapes its quotes or
 * a dotted name split into schema and table. Trace mode runs on the same
 * tables and must agree with the static locks. */
#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>
#include <alchdb/migration.h>

#include "testutil.h"

#define DB "alchdb_mig_names"

static const char *const schemas[] = {"public", "Sch.Dot", "nl\nDROP TABLE victim; --"};

static const char *const names[] = {
    "a.b",
    "nl\nDROP TABLE victim; --",
    "q\"uote'",
    "semi;colon",
    "dash--dash",
    "Space Name",
    "UPPER",
    "select",
    "ünïcødé",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",            /* 63 bytes */
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" /* 31 x é + "x": 63 bytes */
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
    "\xc3\xa9x",
};

#define NSCHEMAS (sizeof schemas / sizeof schemas[0])
#define NNAMES (sizeof names / sizeof names[0])

static PGconn *db;
static char conninfo[1024];

static void exec_ok(PGconn *c, const char *sql, const char *what)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY,
                  "%s failed: %s\n--- SQL ---\n%s", what, PQresultErrorMessage(r), sql);
    PQclear(r);
}

/* "schema"."name" with libpq's escaping: the way the test writes its own SQL. */
static char *qualified(const char *schema, const char *name)
{
    char *s = PQescapeIdentifier(db, schema, strlen(schema));
    char *n = PQescapeIdentifier(db, name, strlen(name));
    ck_assert(s && n);
    size_t len = strlen(s) + strlen(n) + 2;
    char *out = malloc(len);
    snprintf(out, len, "%s.%s", s, n);
    PQfreemem(s);
    PQfreemem(n);
    return out;
}

/* Every user table: columns, indexes and constraints, one line each, sorted.
 * skip (schema, name) when not NULL: "everything but that table". */
static char *snapshot(const char *skip_schema, const char *skip_name)
{
    const char *p[2] = {skip_schema, skip_name};
    PGresult *r = PQexecParams(
        db,
        "SELECT string_agg(line, E'\\n' ORDER BY line) FROM ("
        " SELECT format('%I.%I', n.nspname, c.relname) || ' | ' ||"
        "  coalesce((SELECT string_agg(format('%I %s %s', a.attname, format_type(a.atttypid, a.atttypmod),"
        "   a.attnotnull), ', ' ORDER BY a.attnum) FROM pg_attribute a"
        "   WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || ' | ' ||"
        "  coalesce((SELECT string_agg(pg_get_indexdef(i.indexrelid), ', ' ORDER BY 1) FROM pg_index i"
        "   WHERE i.indrelid = c.oid), '') || ' | ' ||"
        "  coalesce((SELECT string_agg(format('%I %s', k.conname, pg_get_constraintdef(k.oid)), ', '"
        "   ORDER BY k.conname) FROM pg_constraint k WHERE k.conrelid = c.oid), '') AS line"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        "  AND n.nspname NOT LIKE 'pg_toast%'"
        "  AND NOT (n.nspname = $1::text AND c.relname = $2::text) IS TRUE) s",
        2, NULL, p, NULL, NULL, 0);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "snapshot: %s", PQresultErrorMessage(r));
    char *out = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

/* The assessment of one statement in live mode on the scratch database. */
static alchdb_migration *assess(const char *sql)
{
    alchdb_migration_config *o;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, conninfo), 0);
    alchdb_migration *m;
    ck_assert_int_eq(alchdb_migration_new(o, &m), 0);
    alchdb_migration_config_free(o);
    ck_assert_int_eq(alchdb_migration_add_file(m, "hostile.sql", sql, (size_t)-1), 0);
    ck_assert_msg(alchdb_migration_file_error(m, 0, NULL, NULL) == NULL, "parse error in %s", sql);
    return m;
}

static char *stmt_text(alchdb_migration *m, const char *what, const char *sql)
{
    const char *t = alchdb_migration_stmt_text(m, 0, 0, what);
    ck_assert_msg(t != NULL, "no %s for: %s", what, sql);
    /* No generated line may start with what a hostile name carries, except
     * inside a copy of the statement itself (the CONCURRENTLY form keeps the
     * script's own quoted identifiers, newlines included). Running it below
     * with the canaries in place is the real check. */
    bool copy = !strcmp(what, "safer_rewrite") && strstr(sql, "CREATE /* index */");
    ck_assert_msg(copy || !strstr(t, "\nDROP TABLE victim"), "%s lets a name out of its quotes: %s", what, t);
    return strdup(t);
}

/* Run the migration, then its rollback: the database is back as it was. */
static void migrate_and_roll_back(const char *sql, const char *baseline, bool trace)
{
    alchdb_migration *m = assess(sql);
    char *undo = stmt_text(m, "rollback", sql);
    alchdb_migration_free(m);
    if (trace) {
        /* trace mode runs the statement (and commits it): its locks, named
         * from the catalog, must be the static ones */
        alchdb_migration_config *o;
        ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
        ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, conninfo), 0);
        char *json = NULL;
        size_t agreed = 0, disagreed = 0;
        ck_assert_int_eq(alchdb_migration_trace(o, sql, (size_t)-1, &json, &agreed, &disagreed), 0);
        ck_assert_msg(agreed == 1 && disagreed == 0, "trace of %s: %zu agree, %zu disagree: %s", sql, agreed,
                      disagreed, json);
        alchdb_free(json);
        alchdb_migration_config_free(o);
    } else {
        exec_ok(db, sql, "migration");
    }
    exec_ok(db, undo, "rollback");
    char *after = snapshot(NULL, NULL);
    ck_assert_msg(!strcmp(after, baseline), "after %s and its rollback %s the catalog differs", sql, undo);
    free(after);
    free(undo);
}

/* Run the safer rewrite in a transaction: only (schema, name) changed. */
static void safer_touches_only(const char *sql, const char *schema, const char *name, const char *baseline)
{
    alchdb_migration *m = assess(sql);
    char *safer = stmt_text(m, "safer_rewrite", sql);
    alchdb_migration_free(m);
    char *others = snapshot(schema, name);
    exec_ok(db, "BEGIN", "begin");
    exec_ok(db, safer, "safer rewrite");
    char *mine = snapshot(NULL, NULL);
    char *others_after = snapshot(schema, name);
    exec_ok(db, "ROLLBACK", "rollback");
    ck_assert_msg(!strcmp(others, others_after), "the safer rewrite of %s changed another table: %s", sql, safer);
    ck_assert_msg(strcmp(mine, baseline) != 0, "the safer rewrite of %s changed nothing: %s", sql, safer);
    free(others);
    free(others_after);
    free(mine);
    free(safer);
}

static void quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static void setup_db(void)
{
    const char *primary = test_env("ALCHDB_TEST_PRIMARY");
    PGconn *admin = PQconnectdb(primary);
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "connect: %s", PQerrorMessage(admin));
    PQsetNoticeProcessor(admin, quiet, NULL);
    exec_ok(admin, "DROP DATABASE IF EXISTS " DB " WITH (FORCE)", "drop scratch db");
    exec_ok(admin, "CREATE DATABASE " DB " STRATEGY FILE_COPY", "create scratch db");
    PQfinish(admin);
    snprintf(conninfo, sizeof conninfo, "%s dbname=" DB, primary);
    db = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(db) == CONNECTION_OK, "connect scratch: %s", PQerrorMessage(db));
    PQsetNoticeProcessor(db, quiet, NULL);
    exec_ok(db, "CREATE TABLE victim (id int); CREATE SCHEMA a; CREATE TABLE a.b (id int, v int)", "canaries");
    for (size_t s = 0; s < NSCHEMAS; s++) {
        if (strcmp(schemas[s], "public")) {
            char *qs = PQescapeIdentifier(db, schemas[s], strlen(schemas[s]));
            char sql[512];
            snprintf(sql, sizeof sql, "CREATE SCHEMA %s", qs);
            PQfreemem(qs);
            exec_ok(db, sql, "schema");
        }
        for (size_t n = 0; n < NNAMES; n++) {
            char *t = qualified(schemas[s], names[n]);
            char sql[1024];
            snprintf(sql, sizeof sql, "CREATE TABLE %s (id int PRIMARY KEY, v int)", t);
            exec_ok(db, sql, "table");
            free(t);
        }
    }
}

static void teardown_db(void)
{
    PQfinish(db);
    PGconn *admin = PQconnectdb(test_env("ALCHDB_TEST_PRIMARY"));
    exec_ok(admin, "DROP DATABASE IF EXISTS " DB " WITH (FORCE)", "drop scratch db");
    PQfinish(admin);
}

START_TEST(test_hostile_names)
{
    setup_db();
    char *baseline = snapshot(NULL, NULL);
    ck_assert_ptr_nonnull(strstr(baseline, "public.victim |"));
    ck_assert_ptr_nonnull(strstr(baseline, "a.b |"));
    size_t runs = 0;
    for (size_t s = 0; s < NSCHEMAS; s++)
        for (size_t n = 0; n < NNAMES; n++) {
            char *t = qualified(schemas[s], names[n]);
            char *ix = PQescapeIdentifier(db, "I.x;--\nDROP TABLE victim; --", 28);
            char *col = PQescapeIdentifier(db, "v\n;--\"w", 7);
            char *renamed = PQescapeIdentifier(db, "New\nName.\"x", 11);
            char sql[2048];

            /* trace mode (two connections, a blocker) on every name in one
             * schema and every schema with one name: seconds, not minutes */
            bool trace = s == 1 || n == 1;
            snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN c2 int", t);
            migrate_and_roll_back(sql, baseline, trace);
            snprintf(sql, sizeof sql, "CREATE /* index */ UNIQUE INDEX %s ON %s (v)", ix, t);
            migrate_and_roll_back(sql, baseline, trace);
            /* the safer form, CONCURRENTLY, run for real (outside a transaction) */
            {
                alchdb_migration *m = assess(sql);
                char *safer = stmt_text(m, "safer_rewrite", sql);
                char *undo = stmt_text(m, "rollback", sql);
                alchdb_migration_free(m);
                ck_assert_ptr_nonnull(strstr(safer, "UNIQUE INDEX CONCURRENTLY"));
                exec_ok(db, safer, "concurrent build");
                exec_ok(db, undo, "rollback of the concurrent build");
                char *after = snapshot(NULL, NULL);
                ck_assert_msg(!strcmp(after, baseline), "%s then %s: the catalog differs", safer, undo);
                free(after);
                free(safer);
                free(undo);
            }
            snprintf(sql, sizeof sql, "ALTER TABLE %s RENAME COLUMN v TO %s", t, col);
            migrate_and_roll_back(sql, baseline, false);
            snprintf(sql, sizeof sql, "ALTER TABLE %s ALTER COLUMN v TYPE bigint", t);
            migrate_and_roll_back(sql, baseline, false); /* rollback's type from the live catalog */
            snprintf(sql, sizeof sql, "ALTER TABLE %s RENAME TO %s", t, renamed);
            migrate_and_roll_back(sql, baseline, false);

            snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN c3 int NOT NULL", t);
            safer_touches_only(sql, schemas[s], names[n], baseline);
            snprintf(sql, sizeof sql, "ALTER TABLE %s ADD COLUMN u uuid DEFAULT gen_random_uuid()", t);
            safer_touches_only(sql, schemas[s], names[n], baseline);
            snprintf(sql, sizeof sql, "ALTER TABLE %s ALTER COLUMN v TYPE text", t);
            safer_touches_only(sql, schemas[s], names[n], baseline);
            runs += 9;
            PQfreemem(ix);
            PQfreemem(col);
            PQfreemem(renamed);
            free(t);
        }
    char *end = snapshot(NULL, NULL);
    ck_assert_str_eq(end, baseline);
    printf("hostile names: %zu tables, %zu generated statements run, catalog unchanged\n", NSCHEMAS * NNAMES, runs);
    free(end);
    free(baseline);
    teardown_db();
}
END_TEST

/* One statement assessed in live mode with conninfo ci. */
static alchdb_migration *assess_on(const char *ci, const char *sql)
{
    alchdb_migration_config *o;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO, ci), 0);
    alchdb_migration *m;
    ck_assert_int_eq(alchdb_migration_new(o, &m), 0);
    alchdb_migration_config_free(o);
    ck_assert_int_eq(alchdb_migration_add_file(m, "live.sql", sql, (size_t)-1), 0);
    return m;
}

static bool rewrites(const alchdb_migration *m)
{
    uint32_t f = 0;
    ck_assert_int_eq(alchdb_migration_stmt_flags(m, 0, 0, &f), 0);
    return f & ALCHDB_MIG_REWRITES_TABLE;
}

/* Live mode decides what the static assessment cannot: timestamp →
 * timestamptz rewrites unless the session TimeZone is UTC (read from the
 * server; a SET in the file wins), and a type change of a column a view uses
 * is refused by PostgreSQL, named with the view, not rated as a rewrite.
 * PostgreSQL's own behaviour is checked alongside through relfilenode. */
START_TEST(test_live_residuals)
{
    setup_db();
    exec_ok(db, "CREATE TABLE ev (id int PRIMARY KEY, at timestamp, n int);"
                "INSERT INTO ev SELECT g, now(), g FROM generate_series(1, 10) g;"
                "CREATE VIEW \"Ev View\" AS SELECT id, n FROM ev",
            "setup");
    char utc[1200], ny[1200];
    snprintf(utc, sizeof utc, "%s options='-c TimeZone=UTC'", conninfo);
    snprintf(ny, sizeof ny, "%s options='-c TimeZone=America/New_York'", conninfo);
    const char *tz = "ALTER TABLE ev ALTER COLUMN at TYPE timestamptz";

    alchdb_migration *m = assess_on(utc, tz);
    ck_assert_msg(!rewrites(m), "UTC server: no rewrite expected");
    ck_assert_int_eq(alchdb_migration_max_risk(m), ALCHDB_RISK_LOW);
    alchdb_migration_free(m);
    m = assess_on(ny, tz);
    ck_assert(rewrites(m));
    ck_assert_int_eq(alchdb_migration_max_risk(m), ALCHDB_RISK_HIGH);
    alchdb_migration_free(m);
    char in_file[200];
    snprintf(in_file, sizeof in_file, "SET timezone = 'UTC';\n%s;", tz);
    m = assess_on(ny, in_file);
    uint32_t f = 0;
    ck_assert_int_eq(alchdb_migration_stmt_flags(m, 0, 1, &f), 0);
    ck_assert_msg(!(f & ALCHDB_MIG_REWRITES_TABLE), "SET timezone in the file wins over the server");
    alchdb_migration_free(m);

    /* what PostgreSQL does: the file node changes only outside UTC */
    PGconn *c1 = PQconnectdb(utc);
    ck_assert(PQstatus(c1) == CONNECTION_OK);
    PGresult *r = PQexec(c1, "SELECT relfilenode FROM pg_class WHERE relname = 'ev'");
    char before[32];
    snprintf(before, sizeof before, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    exec_ok(c1, "BEGIN; DROP VIEW \"Ev View\"; ALTER TABLE ev ALTER COLUMN at TYPE timestamptz", "tz change");
    r = PQexec(c1, "SELECT relfilenode FROM pg_class WHERE relname = 'ev'");
    ck_assert_str_eq(PQgetvalue(r, 0, 0), before);
    PQclear(r);
    exec_ok(c1, "ROLLBACK", "rollback");
    PQfinish(c1);

    /* a column the view uses: the statement fails, and the view is named */
    m = assess_on(conninfo, "ALTER TABLE ev ALTER COLUMN n TYPE bigint");
    ck_assert(!rewrites(m));
    ck_assert_int_eq(alchdb_migration_max_risk(m), ALCHDB_RISK_HIGH);
    ck_assert_str_eq(alchdb_migration_finding(m, 0, 0, 0, "rule"), "column-type-change-blocked-by-view");
    ck_assert_ptr_nonnull(strstr(alchdb_migration_finding(m, 0, 0, 0, "message"), "view \"Ev View\""));
    alchdb_migration_free(m);
    PGresult *fail = PQexec(db, "ALTER TABLE ev ALTER COLUMN n TYPE bigint");
    ck_assert_int_eq(PQresultStatus(fail), PGRES_FATAL_ERROR);
    PQclear(fail);
    /* a column no view uses: a rewrite, as before */
    m = assess_on(conninfo, "ALTER TABLE ev ALTER COLUMN at TYPE text");
    ck_assert(rewrites(m));
    alchdb_migration_free(m);
    teardown_db();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migration-names");
    TCase *tc = tcase_create("names");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_hostile_names);
    tcase_add_test(tc, test_live_residuals);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
