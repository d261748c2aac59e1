/* Full index analysis of a database with 1,000 tables and 3,000 indexes.
 * Run on the rig: tests/services/rig.sh run -- build/bench/advisor/bench_advisor [--json] [--runs N] */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <alchdb/alchdb.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int exec(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok)
        fprintf(stderr, "bench_advisor: %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    bool json = false;
    int runs = 5, queries = 200;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--queries") && i + 1 < argc)
            queries = atoi(argv[++i]);
    }
    if (runs < 1 || runs > 100)
        runs = 5;
    if (queries < 0 || queries > 1000)
        queries = 200;
    const char *base = getenv("ALCHDB_TEST_PRIMARY");
    if (!base) {
        fprintf(stderr, "bench_advisor: ALCHDB_TEST_PRIMARY not set (run through tests/services/rig.sh run --)\n");
        return 2;
    }
    PGconn *a = PQconnectdb(base);
    if (PQstatus(a) != CONNECTION_OK) {
        fprintf(stderr, "bench_advisor: %s", PQerrorMessage(a));
        return 2;
    }
    exec(a, "DROP DATABASE IF EXISTS adv_bench WITH (FORCE)");
    if (exec(a, "CREATE DATABASE adv_bench STRATEGY FILE_COPY")) {
        PQfinish(a);
        return 2;
    }
    char ci[1024];
    snprintf(ci, sizeof ci, "%s dbname=adv_bench", base);
    PGconn *c = PQconnectdb(ci);
    double t0 = now_ms();
    int bad = PQstatus(c) != CONNECTION_OK ||
              exec(c, "DO $$ BEGIN FOR i IN 1..1000 LOOP "
                      "EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, a int, b int, c text, ref int)', i); "
                      "EXECUTE format('CREATE INDEX t%s_a ON t%s (a)', i, i); "
                      "EXECUTE format('CREATE INDEX t%s_ab ON t%s (a, b)', i, i); "
                      "END LOOP; END $$");
    double setup = now_ms() - t0;
    PQfinish(c);
    double *ms = calloc((size_t)runs, sizeof *ms);
    alchdb_advisor_config *o = NULL;
    alchdb_advisor_report *r = NULL;
    if (!bad && ms && alchdb_advisor_config_new(&o) == 0 &&
        alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, ci) == 0) {
        /* A workload: each statement is parsed, screened and planned. */
        for (int i = 1; i <= queries && !bad; i++) {
            char q[128];
            snprintf(q, sizeof q, "SELECT id, c FROM t%d WHERE c = $1 AND b > 10 ORDER BY a LIMIT 5", i);
            bad = alchdb_advisor_config_add_query(o, q, 10, 1.0) != 0;
        }
        for (int i = 0; i < runs && !bad; i++) {
            alchdb_advisor_report_free(r);
            r = NULL;
            double s = now_ms();
            if (alchdb_advisor_analyze(o, &r)) {
                fprintf(stderr, "bench_advisor: %s\n", alchdb_last_error_message());
                bad = 1;
            }
            ms[i] = now_ms() - s;
        }
    } else {
        bad = 1;
    }
    if (!bad) {
        qsort(ms, (size_t)runs, sizeof *ms, cmp);
        int64_t tables = alchdb_advisor_report_count(r, ALCHDB_ADVISOR_TABLES);
        int64_t red = alchdb_advisor_report_count(r, ALCHDB_ADVISOR_REDUNDANT);
        int64_t unused = alchdb_advisor_report_count(r, ALCHDB_ADVISOR_UNUSED);
        if (json)
            printf("{\"bench\":\"advisor\",\"tables\":%lld,\"indexes\":3000,\"queries\":%d,\"runs\":%d,\"setup_ms\":%.1f,"
                   "\"median_ms\":%.1f,\"min_ms\":%.1f,\"max_ms\":%.1f,\"redundant\":%lld,\"unused\":%lld}\n",
                   (long long)tables, queries, runs, setup, ms[runs / 2], ms[0], ms[runs - 1], (long long)red,
                   (long long)unused);
        else
            printf("advisor: %lld tables, 3000 indexes, %d statements (setup %.0f ms)\n"
                   "  full analysis: median %.1f ms, min %.1f, max %.1f over %d runs (goal: under a few seconds)\n"
                   "  found %lld redundant (left-prefix) and %lld unused indexes\n",
                   (long long)tables, queries, setup, ms[runs / 2], ms[0], ms[runs - 1], runs, (long long)red,
                   (long long)unused);
    }
    alchdb_advisor_report_free(r);
    alchdb_advisor_config_free(o);
    free(ms);
    exec(a, "DROP DATABASE IF EXISTS adv_bench WITH (FORCE)");
    PQfinish(a);
    return bad ? 1 : 0;
}
