/* `alchdb advise --conninfo STR [--queries FILE] [--format text|json] [--apply]`. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "cli_io.h"
#include "cmd_advise.h"

static const char usage[] =
    "usage: alchdb advise --conninfo STR [--queries FILE] [--format text|json] [--apply]\n"
    "                     [--no-hypopg] [--no-pg-stat-statements] [--max-suggestions N]\n"
    "\n"
    "Analyse the indexes of a live database: usage, unused and redundant indexes, foreign keys\n"
    "without an index, and missing indexes for the workload (pg_stat_statements when installed,\n"
    "plus FILE: statements separated by ';'), verified with HypoPG when installed.\n"
    "\n"
    "  --apply    create the suggested missing indexes (CONCURRENTLY, with lock_timeout);\n"
    "             drops are never applied by the CLI: they stay commented out in the script\n"
    "\n"
    "Exit status: 0 done (the report may be partial: see its notes); 1 --apply failed;\n"
    "2 usage error, unreadable file or connection error.\n";


int alchdb_cli_advise(int argc, char **argv)
{
    const char *conninfo = NULL, *queries = NULL, *format = "text";
    bool apply = false;
    alchdb_advisor_options *o = NULL;
    if (alchdb_advisor_options_new(&o)) {
        alchdb_cli_error("alchdb advise: %s\n", alchdb_last_error_message());
        return 2;
    }
    int rc = 2;
    for (int i = 0; i < argc; i++) { /* argv holds the arguments after "advise" */
        const char *a = argv[i];
        bool takes_value = !strcmp(a, "--conninfo") || !strcmp(a, "--queries") || !strcmp(a, "--format") ||
                           !strcmp(a, "--max-suggestions");
        if (takes_value && i + 1 >= argc) {
            alchdb_cli_error("alchdb advise: %s needs a value (see `alchdb advise --help`)\n", a);
            goto out;
        }
        if (!strcmp(a, "--conninfo"))
            conninfo = argv[++i];
        else if (!strcmp(a, "--queries"))
            queries = argv[++i];
        else if (!strcmp(a, "--format"))
            format = argv[++i];
        else if (!strcmp(a, "--apply"))
            apply = true;
        else if (!strcmp(a, "--no-hypopg"))
            alchdb_advisor_options_set_int64(o, ALCHDB_ADVISOR_OPT_USE_HYPOPG, 0);
        else if (!strcmp(a, "--no-pg-stat-statements"))
            alchdb_advisor_options_set_int64(o, ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS, 0);
        else if (!strcmp(a, "--max-suggestions")) {
            if (alchdb_advisor_options_set_from_string(o, "max_suggestions", argv[++i])) {
                alchdb_cli_error("alchdb advise: --max-suggestions: %s\n", alchdb_last_error_message());
                goto out;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        } else {
            alchdb_cli_error("alchdb advise: unknown argument '%s' (see `alchdb advise --help`)\n", a);
            goto out;
        }
    }
    if (!conninfo) {
        alchdb_cli_error("alchdb advise: --conninfo is required (see `alchdb advise --help`)\n");
        goto out;
    }
    if (strcmp(format, "text") && strcmp(format, "json")) {
        alchdb_cli_error("alchdb advise: --format must be text or json, not '%s'\n", format);
        goto out;
    }
    alchdb_advisor_options_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, conninfo);
    if (queries) {
        size_t len = 0;
        const char *why = NULL;
        char *text = alchdb_cli_read_file(queries, (size_t)64 << 20, &len, &why);
        if (!text) {
            alchdb_cli_error("alchdb advise: %s: %s\n", queries, why);
            goto out;
        }
        int qrc = alchdb_advisor_options_add_queries(o, text, len);
        free(text);
        if (qrc) {
            alchdb_cli_error("alchdb advise: %s: %s\n", queries, alchdb_last_error_message());
            goto out;
        }
    }
    alchdb_advisor_report *r = NULL;
    if (alchdb_advisor_analyze(o, &r)) {
        alchdb_cli_error("alchdb advise: %s\n", alchdb_last_error_message());
        goto out;
    }
    char *outs = NULL;
    int frc = !strcmp(format, "json") ? alchdb_advisor_report_to_json(r, &outs) : alchdb_advisor_report_to_text(r, &outs);
    if (frc == 0)
        printf("%s%s", outs, !strcmp(format, "json") ? "\n" : "");
    alchdb_free(outs);
    rc = 0;
    if (apply) {
        int64_t n = alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING);
        for (int64_t i = 0; i < n; i++) {
            const char *sql = alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, (size_t)i);
            if (alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_MISSING, (size_t)i)) {
                alchdb_cli_error("alchdb advise: apply failed: %s\n", alchdb_last_error_message());
                rc = 1;
            } else {
                alchdb_cli_error("applied: %s\n", sql);
            }
        }
    }
    alchdb_advisor_report_free(r);
out:
    alchdb_advisor_options_free(o);
    return rc;
}
