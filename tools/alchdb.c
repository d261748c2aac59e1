/* The `alchdb` command-line tool: a dispatcher over subcommand groups. Each
 * group lives in its own cmd_<group>.c and receives the arguments after its
 * name. Exit status: 0 success, 1 the command's "found something" result,
 * 2 usage, input or syntax errors. */
#include <stdio.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "cli_io.h"
#include "cmd_advise.h"
#include "cmd_dashboard.h"
#include "cmd_migrate.h"
#include "cmd_options.h"
#include "cmd_perftest.h"
#include "cmd_sql.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"sql", alchdb_cli_sql, "analyse SQL: kind, tables, read-only, cacheability, fingerprints"},
    {"migrate", alchdb_cli_migrate, "assess migration SQL: locks, rewrites, risk, plan"},
    {"advise", alchdb_cli_advise, "index advice for a live database: unused, redundant, missing"},
    {"options", alchdb_cli_options, "every module's options: names, types, defaults, ranges, docs"},
    {"perftest", alchdb_cli_perftest, "load tests against the ADR-0008 targets, judged on p95"},
    {"dashboard", alchdb_cli_dashboard, "health, alerts, JSON routes and Prometheus metrics of a database"},
};

static void usage(FILE *to)
{
    fputs("usage: alchdb [--help] [--version] COMMAND [ARGS...]\n\ncommands:\n", to);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(to, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\nRun `alchdb COMMAND --help` for details.\n", to);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("alchdb %s\n", alchdb_version_string());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(cmd, commands[i].name))
            return commands[i].run(argc - 2, argv + 2);
    alchdb_cli_error("alchdb: unknown command '%s' (see `alchdb --help`)\n", cmd);
    return 2;
}
