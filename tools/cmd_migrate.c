/* `alchdb migrate check` and `alchdb migrate trace`. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>
#include <alchdb/migration.h>

#include "cli_io.h"
#include "cmd_migrate.h"
#include "cmd_options.h"

static const char check_usage[] =
    "usage: alchdb migrate check [--format text|json] [--fail-on low|medium|high] [--pg-version N]\n"
    "                            [--conninfo STR] [--lock-timeout DURATION] [--set NAME=VALUE]...\n"
    "                            FILE...\n"
    "\n"
    "Assess migration SQL files: for every statement the locks it takes (PostgreSQL 15), what they\n"
    "block, whether it rewrites, scans or builds, its risk, findings, a safer rewrite and a rollback,\n"
    "and a phased plan per file. Files share state in the order given.\n"
    "\n"
    "  --format text|json    output for people (default) or the stable JSON interface\n"
    "  --fail-on LEVEL       exit 1 when any statement is at or above LEVEL (default high;\n"
    "                        'unknown' statements rank between medium and high)\n"
    "  --pg-version N        target PostgreSQL major version (only 15 is modelled)\n"
    "  --conninfo STR        live mode: table sizes, column types, lock-queue risks from this database\n"
    "  --lock-timeout D      lock_timeout the plan uses, with a unit: 2s, 500ms (default 2s)\n"
    "  --set NAME=VALUE      any migration option below, by name (repeatable)\n"
    "\n"
    "Migration options (also read from ALCHDB_MIGRATION_<NAME> variables; flags override them):\n";

static const char check_usage_end[] =
    "\n"
    "Exit status: 0 nothing at or above --fail-on; 1 something is; 2 usage error, unreadable file\n"
    "or a syntax error (reported as FILE:LINE:COLUMN; the other files are still assessed).\n";

/* --pg-version takes a major version ("15") or a server_version_num. */
static int set_pg_version(alchdb_migration_config *cfg, const char *v)
{
    char num[32];
    size_t n = strspn(v, "0123456789");
    if (n > 0 && n <= 2 && !v[n]) {
        snprintf(num, sizeof num, "%s0000", v);
        v = num;
    }
    return alchdb_migration_config_set_from_string(cfg, "pg_version", v);
}

static const char trace_usage[] =
    "usage: alchdb migrate trace --conninfo STR [--format text|json] FILE\n"
    "\n"
    "Run FILE against a SCRATCH database (it is modified: each statement is committed), read the\n"
    "locks PostgreSQL takes (pg_locks) and whether tables are rewritten (file nodes), and report\n"
    "where the static assessment disagrees.\n"
    "\n"
    "Exit status: 0 all compared statements agree; 1 some disagree; 2 usage or connection error.\n";


static int rank(int risk) { return risk == ALCHDB_RISK_UNKNOWN ? 3 : risk == ALCHDB_RISK_HIGH ? 4 : risk; }

int alchdb_cli_migrate_check(int argc, char **argv)
{
    const char *format = "text", *fail_on = "high";
    alchdb_migration_config *opts = NULL;
    if (alchdb_migration_config_new(&opts) < 0 || alchdb_migration_config_from_env(opts, "ALCHDB_MIGRATION") < 0) {
        alchdb_cli_error("alchdb migrate check: %s\n", alchdb_last_error_message());
        alchdb_migration_config_free(opts);
        return 2;
    }
    int i = 0, rc = 0;
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(check_usage, stdout);
            alchdb_cli_print_options(stdout, "migration");
            fputs(check_usage_end, stdout);
            alchdb_migration_config_free(opts);
            return 0;
        }
        if (!strcmp(a, "--")) {
            i++;
            break;
        }
        if (a[0] != '-' || !strcmp(a, "-"))
            break;
        if (i + 1 >= argc) {
            alchdb_cli_error("alchdb migrate check: %s needs a value\n", a);
            alchdb_migration_config_free(opts);
            return 2;
        }
        const char *v = argv[++i];
        int src = 0;
        if (!strcmp(a, "--format"))
            format = v;
        else if (!strcmp(a, "--fail-on"))
            fail_on = v;
        else if (!strcmp(a, "--pg-version"))
            src = set_pg_version(opts, v);
        else if (!strcmp(a, "--conninfo"))
            src = alchdb_migration_config_set_from_string(opts, "conninfo", v);
        else if (!strcmp(a, "--lock-timeout"))
            src = alchdb_migration_config_set_from_string(opts, "lock_timeout", v);
        else if (!strcmp(a, "--set")) {
            char name[128];
            const char *value = alchdb_cli_split_set(v, name, sizeof name);
            if (!value) {
                alchdb_cli_error("alchdb migrate check: --set wants NAME=VALUE, not '%s'\n", v);
                alchdb_migration_config_free(opts);
                return 2;
            }
            src = alchdb_migration_config_set_from_string(opts, name, value);
        } else {
            alchdb_cli_error("alchdb migrate check: unknown option %s (see --help)\n", a);
            alchdb_migration_config_free(opts);
            return 2;
        }
        if (src < 0) {
            alchdb_cli_error("alchdb migrate check: %s %s: %s\n", a, v, alchdb_last_error_message());
            alchdb_migration_config_free(opts);
            return 2;
        }
    }
    int threshold = !strcmp(fail_on, "low")      ? ALCHDB_RISK_LOW
                    : !strcmp(fail_on, "medium") ? ALCHDB_RISK_MEDIUM
                    : !strcmp(fail_on, "high")   ? ALCHDB_RISK_HIGH
                                                 : -1;
    if (threshold < 0 || (strcmp(format, "text") && strcmp(format, "json"))) {
        alchdb_cli_error("alchdb migrate check: --fail-on must be low|medium|high and --format text|json\n");
        alchdb_migration_config_free(opts);
        return 2;
    }
    if (i >= argc) {
        alchdb_cli_error("alchdb migrate check: no FILE given (see --help)\n");
        alchdb_migration_config_free(opts);
        return 2;
    }
    alchdb_migration *m = NULL;
    if (alchdb_migration_new(opts, &m) < 0) {
        alchdb_cli_error("alchdb migrate check: %s\n", alchdb_last_error_message());
        alchdb_migration_config_free(opts);
        return 2;
    }
    alchdb_migration_config_free(opts);
    bool usage_error = false;
    for (; i < argc; i++) {
        size_t len = 0;
        const char *why = NULL;
        char *sql = alchdb_cli_read_file(argv[i], (size_t)ALCHDB_MIGRATION_MAX_FILE_BYTES, &len, &why);
        if (!sql) {
            alchdb_cli_error("alchdb migrate check: %s: %s (%s)\n", argv[i], why, strerror(errno));
            usage_error = true;
            continue;
        }
        if (alchdb_migration_add_file(m, argv[i], sql, len) < 0) {
            alchdb_cli_error("%s: %s\n", argv[i], alchdb_last_error_message());
            usage_error = true;
        }
        free(sql);
    }
    for (size_t f = 0; f < alchdb_migration_file_count(m); f++) {
        int64_t line, col;
        const char *err = alchdb_migration_file_error(m, f, &line, &col);
        if (err) {
            /* file names come from argv; the message from the parser */
            alchdb_cli_error("%s:%lld:%lld: %s\n", alchdb_migration_file_name(m, f), (long long)line, (long long)col,
                    err);
            usage_error = true;
        }
    }
    char *out = NULL;
    rc = !strcmp(format, "json") ? alchdb_migration_to_json(m, &out) : alchdb_migration_to_text(m, &out);
    if (rc < 0) {
        alchdb_cli_error("alchdb migrate check: %s\n", alchdb_last_error_message());
        alchdb_migration_free(m);
        return 2;
    }
    fputs(out, stdout);
    if (!strcmp(format, "json"))
        fputc('\n', stdout);
    alchdb_free(out);
    int worst = alchdb_migration_max_risk(m);
    alchdb_migration_free(m);
    if (usage_error)
        return 2;
    return rank(worst) >= rank(threshold) ? 1 : 0;
}

int alchdb_cli_migrate_trace(int argc, char **argv)
{
    const char *format = "json", *conninfo = NULL, *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(trace_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--conninfo") && i + 1 < argc)
            conninfo = argv[++i];
        else if (!strcmp(argv[i], "--format") && i + 1 < argc)
            format = argv[++i];
        else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) {
            if (file) {
                alchdb_cli_error("alchdb migrate trace: one FILE only\n");
                return 2;
            }
            file = argv[i];
        } else {
            alchdb_cli_error("alchdb migrate trace: unknown option %s (see --help)\n", argv[i]);
            return 2;
        }
    }
    if (!conninfo || !file || (strcmp(format, "json") && strcmp(format, "text"))) {
        alchdb_cli_error("alchdb migrate trace: --conninfo and FILE are required; --format json|text\n");
        return 2;
    }
    size_t len = 0;
    const char *why = NULL;
    char *sql = alchdb_cli_read_file(file, (size_t)ALCHDB_MIGRATION_MAX_FILE_BYTES, &len, &why);
    if (!sql) {
        alchdb_cli_error("alchdb migrate trace: %s: %s (%s)\n", file, why, strerror(errno));
        return 2;
    }
    alchdb_migration_config *opts = NULL;
    char *json = NULL;
    size_t agreed = 0, disagreed = 0;
    int rc = alchdb_migration_config_new(&opts);
    if (rc == 0)
        rc = alchdb_migration_config_set_string(opts, ALCHDB_MIGRATION_OPT_CONNINFO, conninfo);
    if (rc == 0)
        rc = alchdb_migration_trace(opts, sql, len, &json, &agreed, &disagreed);
    alchdb_migration_config_free(opts);
    free(sql);
    if (rc < 0) {
        alchdb_cli_error("alchdb migrate trace: %s\n", alchdb_last_error_message());
        return 2;
    }
    if (!strcmp(format, "json"))
        printf("%s\n", json);
    else
        printf("%s: %zu statement(s) agree with PostgreSQL, %zu disagree\n(--format json shows every lock)\n", file,
               agreed, disagreed);
    alchdb_free(json);
    return disagreed ? 1 : 0;
}

int alchdb_cli_migrate(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs("usage: alchdb migrate check|trace [OPTIONS] FILE...\n"
              "  check   assess migration files (locks, rewrites, risk, plan)\n"
              "  trace   compare the assessment with a real PostgreSQL (scratch database)\n"
              "Run `alchdb migrate SUBCOMMAND --help` for details.\n",
              argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "check"))
        return alchdb_cli_migrate_check(argc - 1, argv + 1);
    if (!strcmp(argv[0], "trace"))
        return alchdb_cli_migrate_trace(argc - 1, argv + 1);
    alchdb_cli_error("alchdb migrate: unknown subcommand '%s' (check|trace)\n", argv[0]);
    return 2;
}
