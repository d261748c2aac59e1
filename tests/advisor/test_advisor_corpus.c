/* The advisor's decisions on tests/advisor/corpus.sql (Dexter's kind of
 * cases), on the rig with HypoPG: each case once with the statement given to
 * the advisor (as from a file) and once from pg_stat_statements after running
 * it. Every case must get the expected decision; the run prints the agreement. */
#include "advtest.h"

#define MAX_CASES 64

typedef struct ccase {
    char name[64];
    char sql[1024];
    char expect[128]; /* "table(cols)" or "none" */
    char note[128];   /* a note the report must hold, "" when none */
} ccase;

static char *setup_sql;
static ccase cases[MAX_CASES];
static int ncases;

static char *trim(char *s)
{
    while (*s == ' ')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

static void load_corpus(void)
{
    FILE *f = fopen(CORPUS_PATH, "r");
    ck_assert_msg(f != NULL, "cannot open %s", CORPUS_PATH);
    char line[2048];
    size_t cap = 1 << 16, len = 0;
    setup_sql = calloc(1, cap);
    int in_setup = 0;
    ccase *c = NULL;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "-- setup", 8)) {
            in_setup = 1;
            continue;
        }
        if (!strncmp(line, "-- end setup", 12)) {
            in_setup = 0;
            continue;
        }
        if (in_setup) {
            size_t n = strlen(line);
            ck_assert(len + n < cap);
            memcpy(setup_sql + len, line, n + 1);
            len += n;
        } else if (!strncmp(line, "-- case:", 8)) {
            ck_assert_int_lt(ncases, MAX_CASES);
            c = &cases[ncases++];
            snprintf(c->name, sizeof c->name, "%s", trim(line + 8));
        } else if (!strncmp(line, "-- expect:", 10) && c) {
            char *why = strstr(line, "-- why:");
            ck_assert_msg(why != NULL, "case %s: no reason given", c->name);
            *why = '\0';
            snprintf(c->expect, sizeof c->expect, "%s", trim(line + 10));
        } else if (!strncmp(line, "-- note:", 8) && c) {
            snprintf(c->note, sizeof c->note, "%s", trim(line + 8));
        } else if (c && !c->sql[0] && strncmp(line, "--", 2) && line[0] != '\n') {
            snprintf(c->sql, sizeof c->sql, "%s", trim(line));
        }
    }
    fclose(f);
    ck_assert_int_ge(ncases, 10);
    for (int i = 0; i < ncases; i++)
        ck_assert_msg(cases[i].sql[0] && cases[i].expect[0], "case %s is incomplete", cases[i].name);
}

static const char *case_sql;

static void add_case(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, case_sql, 100, 100.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS, 0), 0);
}

static void pgss_only(alchdb_advisor_config *o) { (void)o; }

/* The report's decision as "table(cols)" (then " WHERE pred;" for a partial
 * index) or "none" ("a; b" when several). */
static void decision(const alchdb_advisor_report *r, char *out, size_t cap)
{
    int64_t n = alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING);
    size_t len = (size_t)snprintf(out, cap, "%s", n ? "" : "none");
    for (int64_t i = 0; i < n && len < cap; i++)
    {
        const char *where = strstr(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, (size_t)i), ") WHERE ");
        len += (size_t)snprintf(out + len, cap - len, "%s%s(%s)%s", i ? "; " : "",
                                alchdb_advisor_report_item_table(r, ALCHDB_ADVISOR_MISSING, (size_t)i),
                                alchdb_advisor_report_item_detail(r, ALCHDB_ADVISOR_MISSING, (size_t)i),
                                where ? where + 1 : "");
    }
}

START_TEST(test_corpus)
{
    load_corpus();
    const char *db = "adv_corpus";
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    PGresult *res = PQexec(c, setup_sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK, "setup: %s",
                  PQresultErrorMessage(res));
    PQclear(res);
    int agree[2] = {0, 0}, failures = 0;
    for (int mode = 0; mode < 2; mode++)
        for (int i = 0; i < ncases; i++) {
            case_sql = cases[i].sql;
            if (mode == 1) { /* run it (writes rolled back) so pg_stat_statements has it */
                exec_ok(c, "SELECT pg_stat_statements_reset()");
                exec_ok(c, "BEGIN");
                for (int k = 0; k < 3; k++)
                    exec_ok(c, "%s", case_sql);
                exec_ok(c, "ROLLBACK");
            }
            alchdb_advisor_report *r = analyze(db, NULL, true, mode ? pgss_only : add_case);
            char got[512];
            decision(r, got, sizeof got);
            if (!strcmp(got, cases[i].expect) && (!cases[i].note[0] || has_note(r, cases[i].note))) {
                agree[mode]++;
            } else {
                failures++;
                fprintf(stderr, "corpus %s (%s): expected %s%s%s, got %s\n", cases[i].name,
                        mode ? "pg_stat_statements" : "file", cases[i].expect, cases[i].note[0] ? " and note " : "",
                        cases[i].note, got);
                dump(r);
            }
            alchdb_advisor_report_free(r);
        }
    fprintf(stderr, "corpus: %d/%d cases agree from a file, %d/%d from pg_stat_statements\n", agree[0], ncases,
            agree[1], ncases);
    PQfinish(c);
    drop_db(db);
    free(setup_sql);
    ck_assert_int_eq(failures, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("advisor-corpus");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_corpus);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
