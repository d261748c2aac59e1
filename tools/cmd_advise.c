/* `alchdb advise --conninfo STR [--queries FILE] [--format text|json] [--apply]
 * [--set NAME=VALUE]...`: the options are the advisor's (alchdb_advisor_config),
 * read from ALCHDB_ADVISOR_<NAME> variables, then from the flags; --help lists
 * them from the library's table. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "cli_io.h"
#include "cmd_advise.h"
#include "cmd_options.h"

static void help(FILE *to)
{
    fputs("usage: alchdb advise --conninfo STR [--queries FILE] [--format text|json] [--apply]\n"
          "                     [--set NAME=VALUE]... [--no-hypopg] [--no-pg-stat-statements]\n"
          "                     [--max-suggestions N]\n"
          "\n"
          "Analyse the indexes of a live database: usage, unused and redundant indexes, foreign keys\n"
          "without an index, and missing indexes for the workload (pg_stat_statements when installed,\n"
          "plus FILE: statements separated by ';'), verified with HypoPG when installed.\n"
          "\n"
          "  --apply              create the suggested missing indexes (CONCURRENTLY, with lock_timeout);\n"
          "                       drops are never applied by the CLI: they stay commented out in the script\n"
          "  --set NAME=VALUE     any advisor option below, by name (repeatable)\n"
          "  --conninfo STR       the same as --set conninfo=STR\n"
          "  --no-hypopg          the same as --set use_hypopg=off\n"
          "  --no-pg-stat-statements  the same as --set use_pg_stat_statements=off\n"
          "  --max-suggestions N  the same as --set max_suggestions=N\n"
          "\n"
          "Advisor options (also read from ALCHDB_ADVISOR_<NAME> variables; flags override them):\n",
          to);
    alchdb_cli_print_options(to, "advisor");
    fputs("\n"
          "Exit status: 0 done (the report may be partial: see its notes); 1 --apply failed;\n"
          "2 usage error, unreadable file or connection error.\n",
          to);
}

static int set_opt(alchdb_advisor_config *o, const char *flag, const char *name, const char *value)
{
    if (alchdb_advisor_config_set_from_string(o, name, value) == 0)
        return 0;
    alchdb_cli_error("alchdb advise: %s: %s\n", flag, alchdb_last_error_message());
    return -1;
}

/* --set NAME=VALUE */
static int set_pair(alchdb_advisor_config *o, const char *pair)
{
    char name[128];
    const char *value = alchdb_cli_split_set(pair, name, sizeof name);
    if (!value) {
        alchdb_cli_error("alchdb advise: --set wants NAME=VALUE, not '%s'\n", pair);
        return -1;
    }
    return set_opt(o, "--set", name, value);
}

int alchdb_cli_advise(int argc, char **argv)
{
    const char *queries = NULL, *format = "text";
    bool apply = false;
    alchdb_advisor_config *o = NULL;
    if (alchdb_advisor_config_new(&o) || alchdb_advisor_config_from_env(o, "ALCHDB_ADVISOR")) {
        alchdb_cli_error("alchdb advise: %s\n", alchdb_last_error_message());
        alchdb_advisor_config_free(o);
        return 2;
    }
    int rc = 2;
    for (int i = 0; i < argc; i++) { /* argv holds the arguments after "advise" */
        const char *a = argv[i];
        bool takes_value = !strcmp(a, "--conninfo") || !strcmp(a, "--queries") || !strcmp(a, "--format") ||
                           !strcmp(a, "--max-suggestions") || !strcmp(a, "--set");
        if (takes_value && i + 1 >= argc) {
            alchdb_cli_error("alchdb advise: %s needs a value (see `alchdb advise --help`)\n", a);
            goto out;
        }
        int bad = 0;
        if (!strcmp(a, "--conninfo"))
            bad = set_opt(o, a, "conninfo", argv[++i]);
        else if (!strcmp(a, "--queries"))
            queries = argv[++i];
        else if (!strcmp(a, "--format"))
            format = argv[++i];
        else if (!strcmp(a, "--apply"))
            apply = true;
        else if (!strcmp(a, "--set"))
            bad = set_pair(o, argv[++i]);
        else if (!strcmp(a, "--no-hypopg"))
            bad = set_opt(o, a, "use_hypopg", "off");
        else if (!strcmp(a, "--no-pg-stat-statements"))
            bad = set_opt(o, a, "use_pg_stat_statements", "off");
        else if (!strcmp(a, "--max-suggestions"))
            bad = set_opt(o, a, "max_suggestions", argv[++i]);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            help(stdout);
            rc = 0;
            goto out;
        } else {
            alchdb_cli_error("alchdb advise: unknown argument '%s' (see `alchdb advise --help`)\n", a);
            goto out;
        }
        if (bad)
            goto out;
    }
    const char *conninfo = NULL;
    alchdb_advisor_config_get_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, &conninfo);
    if (!conninfo || !*conninfo) {
        alchdb_cli_error("alchdb advise: --conninfo is required (see `alchdb advise --help`)\n");
        goto out;
    }
    if (strcmp(format, "text") && strcmp(format, "json")) {
        alchdb_cli_error("alchdb advise: --format must be text or json, not '%s'\n", format);
        goto out;
    }
    if (queries) {
        size_t len = 0;
        const char *why = NULL;
        char *text = alchdb_cli_read_file(queries, (size_t)64 << 20, &len, &why);
        if (!text) {
            alchdb_cli_error("alchdb advise: %s: %s\n", queries, why);
            goto out;
        }
        int qrc = alchdb_advisor_config_add_queries(o, text, len);
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
    alchdb_advisor_config_free(o);
    return rc;
}
