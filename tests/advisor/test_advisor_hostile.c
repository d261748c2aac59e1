/* Hostile names and untrusted statements through every advisor generator, on
 * the rig: objects whose names hold newlines, quotes, dots, `--`, unicode and
 * 63 bytes, in several schemas and in a database named like that too. The
 * generated script runs through psql and every suggestion through
 * alchdb_advisor_apply(), and a catalog diff before/after shows that only the
 * intended indexes changed. A role that may not write files plants an
 * IMMUTABLE function that would (COPY ... TO PROGRAM); planning its statement
 * must not run it with the advisor's superuser privileges. Unqualified names
 * resolve along the search_path of the role that ran the statement. */
#include <fcntl.h>
#include <sys/wait.h>

#include "advtest.h"

#define HOSTILE "\nDROP TABLE victim; --"
#define HDB "adv_h" HOSTILE
#define HTABLE "nl" HOSTILE
#define LONG63 "lllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"

/* conninfo for a database whose name needs conninfo quoting. */
static char *quoted_conninfo(const char *db)
{
    static char buf[1024];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s dbname='", test_env("ALCHDB_TEST_PRIMARY"));
    for (const char *p = db; *p && n + 3 < sizeof buf; p++) {
        if (*p == '\'' || *p == '\\')
            buf[n++] = '\\';
        buf[n++] = *p;
    }
    snprintf(buf + n, sizeof buf - n, "'");
    return buf;
}

static PGconn *connect_ci(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    return c;
}

/* Every relation outside the system schemas as "schema|name|kind". */
typedef struct snapshot {
    char **rows;
    int n;
} snapshot;

static snapshot take(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT n.nspname || '|' || c.relname || '|' || c.relkind::text FROM pg_class c "
                            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname NOT IN "
                            "('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' ORDER BY 1");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    snapshot s = {calloc((size_t)PQntuples(r) + 1, sizeof(char *)), PQntuples(r)};
    for (int i = 0; i < s.n; i++)
        s.rows[i] = strdup(PQgetvalue(r, i, 0));
    PQclear(r);
    return s;
}

static bool in(const snapshot *s, const char *row)
{
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->rows[i], row))
            return true;
    return false;
}

static void release(snapshot *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->rows[i]);
    free(s->rows);
}

/* The rows of b not in a, each checked against the allowed "schema|name|kind"
 * list; returns how many there are. */
static int diff_only(const snapshot *a, const snapshot *b, char **allowed, int nallowed, const char *what)
{
    int n = 0;
    for (int i = 0; i < b->n; i++) {
        if (in(a, b->rows[i]))
            continue;
        bool ok = false;
        for (int k = 0; k < nallowed && !ok; k++)
            ok = !strcmp(allowed[k], b->rows[i]);
        ck_assert_msg(ok, "%s: unexpected catalog change: %s", what, b->rows[i]);
        n++;
    }
    return n;
}

static char *row_of(const char *schema, const char *name, char kind)
{
    char *s = malloc(strlen(schema) + strlen(name) + 5);
    sprintf(s, "%s|%s|%c", schema, name, kind);
    return s;
}

/* psql -X -v ON_ERROR_STOP=1 -f FILE "conninfo": the script as a user runs it. */
static int run_psql(const char *ci, const char *script)
{
    char path[] = "/tmp/alchdb-adv-scriptXXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, script, strlen(script)), (ssize_t)strlen(script));
    close(fd);
    char psql[512];
    snprintf(psql, sizeof psql, "%s/psql", test_env("ALCHDB_TEST_PG_BIN"));
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        execl(psql, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", path, ci, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *const hostile_schema[] = {
    "CREATE EXTENSION hypopg",
    "CREATE TABLE victim (id int)",
    "INSERT INTO victim VALUES (1)",
    "CREATE TABLE parent (id int PRIMARY KEY)",
    "INSERT INTO parent SELECT g FROM generate_series(1, 1000) g",
    /* FK without an index, hostile table and column names, an unused and a duplicate index */
    "CREATE TABLE \"" HTABLE "\" (\"c" HOSTILE "\" int REFERENCES parent(id), v int, w int)",
    "INSERT INTO \"" HTABLE "\" SELECT 1 + g % 1000, g % 5000, g % 7000 FROM generate_series(1, 20000) g",
    "CREATE INDEX \"ix" HOSTILE "\" ON \"" HTABLE "\" (v)",
    "CREATE INDEX \"ix2" HOSTILE "\" ON \"" HTABLE "\" (v)",
    /* dots and quotes in schema and names */
    "CREATE SCHEMA \"sch.dot\"",
    "CREATE TABLE \"sch.dot\".\"t.x\" (id int, \"a\"\"b\" int REFERENCES parent(id))",
    "INSERT INTO \"sch.dot\".\"t.x\" SELECT g, 1 + g % 1000 FROM generate_series(1, 20000) g",
    /* a 63-byte table name whose FK index names are taken by a sequence and a view */
    "CREATE SCHEMA \"Évé\"",
    "CREATE TABLE \"Évé\"." LONG63 " (p int REFERENCES parent(id))",
    "CREATE SEQUENCE \"Évé\".llllllllllllllllllllllllllllllllllllllllllllllllllllllll_fk_idx",
    "CREATE VIEW \"Évé\".llllllllllllllllllllllllllllllllllllllllllllllllllllll_fk_idx_2 AS SELECT 1 AS one",
    "ANALYZE",
};

static void add_hostile_queries(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM \"" HTABLE "\" WHERE w = $1", 500, 100.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM \"sch.dot\".\"t.x\" WHERE id = $1", 500, 100.0),
                     0);
}

static alchdb_advisor_report *analyze_ci(const char *ci, void (*add)(alchdb_advisor_config *))
{
    alchdb_advisor_config *o;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, ci), 0);
    if (add)
        add(o);
    alchdb_advisor_report *r = NULL;
    ck_assert_msg(alchdb_advisor_analyze(o, &r) == 0, "analyze: %s", alchdb_last_error_message());
    alchdb_advisor_config_free(o);
    return r;
}

START_TEST(test_hostile_names)
{
    PGconn *a = connect_to("alchdb_test", NULL);
    PGresult *pr = PQexec(a, "DROP DATABASE IF EXISTS \"" HDB "\" WITH (FORCE)");
    PQclear(pr);
    exec_ok(a, "CREATE DATABASE \"%s\" STRATEGY FILE_COPY", HDB);
    PQfinish(a);
    char ci[1024];
    snprintf(ci, sizeof ci, "%s", quoted_conninfo(HDB));
    PGconn *c = connect_ci(ci);
    for (size_t i = 0; i < sizeof hostile_schema / sizeof hostile_schema[0]; i++)
        exec_ok(c, "%s", hostile_schema[i]);
    exec_ok(c, "SELECT count(*) FROM \"" HTABLE "\" WHERE w = 5");

    alchdb_advisor_report *r = analyze_ci(ci, add_hostile_queries);
    dump(r);

    /* The findings are there, with the names intact. */
    ck_assert_int_ge(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_FK), 3);
    ck_assert_int_ge(find_item(r, ALCHDB_ADVISOR_MISSING, "\"" HTABLE "\"", "w"), 0);
    ck_assert_int_ge(find_item(r, ALCHDB_ADVISOR_REDUNDANT, "\"" HTABLE "\"", "ix2" HOSTILE), 0);
    /* The 63-byte table: the suffix is kept and the names a sequence and a view hold are skipped. */
    bool long_ok = false;
    for (int64_t i = 0; i < alchdb_advisor_report_count(r, ALCHDB_ADVISOR_FK); i++)
        long_ok |= strstr(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_FK, (size_t)i),
                          "llllllllllllllllllllllllllllllllllllllllllllllllllllll_fk_idx_3 ON \"Évé\"." LONG63) != NULL;
    ck_assert_msg(long_ok, "FK index of the 63-byte table not named ..._fk_idx_3");

    /* Text report and script: no line a name could forge. */
    char *text = NULL;
    ck_assert_int_eq(alchdb_advisor_report_to_text(r, &text), 0);
    ck_assert_ptr_null(strstr(text, "\nDROP TABLE"));
    ck_assert_ptr_nonnull(strstr(text, "\\nDROP TABLE victim; --"));
    alchdb_free(text);
    const char *script = alchdb_advisor_report_script(r);
    ck_assert_ptr_nonnull(strstr(script, "-- libalchdb index advisor: optimisation script for database adv_h\\nDROP"));
    /* every "DROP TABLE" at a line start must be inside a quoted identifier of a CREATE INDEX */
    for (const char *p = script; (p = strstr(p, "\nDROP TABLE")); p++) {
        const char *line = p;
        while (line > script && line[-1] != '\n')
            line--;
        ck_assert_msg(line[0] != '-', "a comment line was ended by a name: %.80s", line);
    }

    /* Run the script as a user would (psql); only the suggested indexes appear. */
    snapshot before = take(c);
    char *allowed[64];
    int nallowed = 0;
    for (int kind = ALCHDB_ADVISOR_FK; kind <= ALCHDB_ADVISOR_MISSING; kind++)
        for (int64_t i = 0; i < alchdb_advisor_report_count(r, kind) && nallowed < 64; i++) {
            const char *sql = alchdb_advisor_report_item_sql(r, kind, (size_t)i);
            const char *schema = strstr(sql, " ON \"sch.dot\".") ? "sch.dot" : strstr(sql, " ON \"Évé\".") ? "Évé" : "public";
            const char *name = kind == ALCHDB_ADVISOR_MISSING ? alchdb_advisor_report_item_name(r, kind, (size_t)i) : NULL;
            if (!name) { /* FK items: the index name is in the SQL: CREATE INDEX CONCURRENTLY <name> ON */
                char *ident = NULL;
                PGresult *q = PQexecParams(c, "SELECT (regexp_match($1, '^CREATE INDEX CONCURRENTLY (\"(?:[^\"]|\"\")*\"|\\S+) ON'))[1]", 1, NULL, &sql, NULL, NULL, 0);
                ck_assert_int_eq(PQresultStatus(q), PGRES_TUPLES_OK);
                ident = strdup(PQgetvalue(q, 0, 0));
                PQclear(q);
                if (ident[0] == '"') { /* unquote */
                    char *o = ident;
                    for (char *s = ident + 1; *s; s++) {
                        if (*s == '"' && s[1] == '"')
                            s++;
                        else if (*s == '"')
                            break;
                        *o++ = *s;
                    }
                    *o = '\0';
                }
                allowed[nallowed++] = row_of(schema, ident, 'i');
                free(ident);
            } else {
                allowed[nallowed++] = row_of(schema, name, 'i');
            }
        }
    ck_assert_int_eq(run_psql(ci, script), 0);
    snapshot after = take(c);
    int added = diff_only(&before, &after, allowed, nallowed, "script");
    ck_assert_int_ge(added, 2);
    ck_assert_int_eq(diff_only(&after, &before, NULL, 0, "script (removed)"), 0);
    char *victims = scalar(c, "SELECT count(*) FROM victim");
    ck_assert_str_eq(victims, "1");
    free(victims);
    release(&after);

    /* --apply's path: undo the script, then apply every suggestion and every drop. */
    for (int k = 0; k < nallowed; k++) {
        char *bar = strchr(allowed[k], '|');
        *bar = '\0';
        char *name = bar + 1;
        name[strlen(name) - 2] = '\0';
        char *qs = PQescapeIdentifier(c, allowed[k], strlen(allowed[k]));
        char *qn = PQescapeIdentifier(c, name, strlen(name));
        exec_ok(c, "DROP INDEX IF EXISTS %s.%s", qs, qn);
        PQfreemem(qs);
        PQfreemem(qn);
        name[strlen(name)] = '|';
        *bar = '|';
    }
    alchdb_advisor_config *o;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, ci), 0);
    for (int kind = ALCHDB_ADVISOR_FK; kind <= ALCHDB_ADVISOR_MISSING; kind++)
        for (int64_t i = 0; i < alchdb_advisor_report_count(r, kind); i++)
            ck_assert_msg(alchdb_advisor_apply(o, r, kind, (size_t)i) == 0, "apply %d/%lld: %s", kind, (long long)i,
                          alchdb_last_error_message());
    after = take(c);
    ck_assert_int_eq(diff_only(&before, &after, allowed, nallowed, "apply"), nallowed);
    ck_assert_int_eq(diff_only(&after, &before, NULL, 0, "apply (removed)"), 0);
    release(&after);
    release(&before);
    before = take(c);
    int64_t drops = alchdb_advisor_report_count(r, ALCHDB_ADVISOR_REDUNDANT);
    char *dropped[8];
    for (int64_t i = 0; i < drops && i < 8; i++) {
        dropped[i] = row_of("public", alchdb_advisor_report_item_name(r, ALCHDB_ADVISOR_REDUNDANT, (size_t)i), 'i');
        ck_assert_msg(alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_REDUNDANT, (size_t)i) == 0, "drop: %s",
                      alchdb_last_error_message());
    }
    after = take(c);
    ck_assert_int_eq(diff_only(&before, &after, NULL, 0, "drops (added)"), 0);
    ck_assert_int_eq(diff_only(&after, &before, dropped, (int)drops, "drops"), (int)drops);
    victims = scalar(c, "SELECT count(*) FROM victim");
    ck_assert_str_eq(victims, "1");
    free(victims);
    for (int64_t i = 0; i < drops && i < 8; i++)
        free(dropped[i]);
    for (int k = 0; k < nallowed; k++)
        free(allowed[k]);
    release(&after);
    release(&before);
    alchdb_advisor_config_free(o);
    alchdb_advisor_report_free(r);
    PQfinish(c);
    a = connect_to("alchdb_test", NULL);
    exec_ok(a, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", HDB);
    PQfinish(a);
}
END_TEST


/* A role that may not run programs plants an IMMUTABLE function that would
 * (COPY ... TO PROGRAM through a helper) and runs one statement with it; the
 * planner folds such a call, so planning it as the superuser would run the
 * program. The advisor, connected as a superuser, must not. */
static char evil_file[64];

static void add_evil_file_query(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM evil.bait WHERE v = evil.boom()", 100, 50.0),
                     0);
}

START_TEST(test_untrusted_function_not_planned_as_superuser)
{
    const char *db = "adv_untrusted";
    snprintf(evil_file, sizeof evil_file, "/tmp/alchdb-adv-evil-%d", (int)getpid());
    unlink(evil_file);
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    exec_ok(c, "DROP ROLE IF EXISTS adv_evil");
    exec_ok(c, "CREATE ROLE adv_evil LOGIN");
    exec_ok(c, "CREATE EXTENSION hypopg");
    exec_ok(c, "CREATE EXTENSION pg_stat_statements");
    exec_ok(c, "CREATE SCHEMA evil AUTHORIZATION adv_evil");
    PQfinish(c);
    PGconn *e = connect_to(db, "adv_evil");
    exec_ok(e, "CREATE TABLE evil.bait (id int, v int)");
    exec_ok(e, "INSERT INTO evil.bait SELECT g, g %% 1000 FROM generate_series(1, 20000) g");
    exec_ok(e, "ANALYZE evil.bait");
    exec_ok(e,
            "CREATE FUNCTION evil.side() RETURNS int VOLATILE LANGUAGE plpgsql AS $$ BEGIN "
            "EXECUTE format('COPY (SELECT 1) TO PROGRAM %%L', 'touch %s'); RETURN 1; "
            "EXCEPTION WHEN insufficient_privilege THEN RETURN 0; END $$",
            evil_file);
    exec_ok(e, "CREATE FUNCTION evil.boom() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$ "
               "BEGIN RETURN evil.side(); END $$");
    /* The planted statement, run by its role: its own privileges cannot run programs. */
    exec_ok(c = connect_to(db, NULL), "SELECT pg_stat_statements_reset()");
    PQfinish(c);
    for (int i = 0; i < 5; i++)
        exec_ok(e, "SELECT * FROM evil.bait WHERE v = evil.boom()");
    ck_assert_msg(access(evil_file, F_OK) != 0, "the planted function ran a program as its own role");
    PQfinish(e);

    alchdb_advisor_report *r = analyze(db, NULL, true, add_evil_file_query);
    dump(r);
    ck_assert_msg(access(evil_file, F_OK) != 0, "planning ran the planted function with the advisor's privileges");
    ck_assert(has_note(r, "not trusted"));
    ck_assert(has_note(r, "boom()"));
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_MISSING, "evil.bait", "v"), 0);
    alchdb_advisor_report_free(r);
    drop_db(db);
    c = connect_to("alchdb_test", NULL);
    exec_ok(c, "DROP ROLE IF EXISTS adv_evil");
    PQfinish(c);
    unlink(evil_file);
}
END_TEST

/* search_path: tables a.b and public.b; the role that runs the workload has
 * search_path a, public in this database, so its unqualified b is a.b. */
START_TEST(test_search_path_of_the_role)
{
    const char *db = "adv_path";
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    exec_ok(c, "DROP ROLE IF EXISTS adv_pathrole");
    exec_ok(c, "CREATE ROLE adv_pathrole LOGIN");
    exec_ok(c, "CREATE EXTENSION hypopg");
    exec_ok(c, "CREATE EXTENSION pg_stat_statements");
    exec_ok(c, "CREATE SCHEMA a");
    exec_ok(c, "GRANT USAGE ON SCHEMA a TO adv_pathrole");
    exec_ok(c, "ALTER ROLE adv_pathrole IN DATABASE %s SET search_path = a, public", db);
    exec_ok(c, "CREATE TABLE a.b (id int, v int)");
    exec_ok(c, "CREATE TABLE public.b (id int, v int)");
    exec_ok(c, "INSERT INTO a.b SELECT g, g %% 5000 FROM generate_series(1, 20000) g");
    exec_ok(c, "INSERT INTO public.b SELECT g, g %% 5000 FROM generate_series(1, 20000) g");
    exec_ok(c, "GRANT SELECT ON a.b, public.b TO adv_pathrole");
    exec_ok(c, "ANALYZE");
    exec_ok(c, "SELECT pg_stat_statements_reset()");
    PGconn *w = connect_to(db, "adv_pathrole");
    run_n(w, 20, "SELECT id FROM b WHERE v = $1", 1, "17", NULL);
    PQfinish(w);

    alchdb_advisor_report *r = analyze(db, NULL, true, NULL);
    dump(r);
    ck_assert_msg(find_item(r, ALCHDB_ADVISOR_MISSING, "a.b", "v") >= 0, "no suggestion on a.b(v)");
    ck_assert_int_lt(find_item(r, ALCHDB_ADVISOR_MISSING, "b", "v"), 0);
    char *text = NULL;
    ck_assert_int_eq(alchdb_advisor_report_to_text(r, &text), 0);
    ck_assert_msg(strstr(text, "statements of role adv_pathrole (pg_stat_statements) planned as that role with its "
                               "search_path (a, public)") != NULL,
                  "the assumed search_path is not stated");
    alchdb_free(text);
    alchdb_advisor_report_free(r);
    PQfinish(c);
    drop_db(db);
    c = connect_to("alchdb_test", NULL);
    exec_ok(c, "DROP ROLE IF EXISTS adv_pathrole");
    PQfinish(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("advisor-hostile");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_hostile_names);
    tcase_add_test(tc, test_untrusted_function_not_planned_as_superuser);
    tcase_add_test(tc, test_search_path_of_the_role);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
