/* `alchdb sql analyze`: the SQL module's analysis of a script, as JSON (the
 * library's stable shape) or as text for people. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "cli_io.h"
#include "cmd_sql.h"

static const char analyze_usage[] =
    "usage: alchdb sql analyze [--format json|text] [FILE|-]\n"
    "\n"
    "Analyse every statement of a SQL script (default: standard input): kind, read-only,\n"
    "locking, tables read and written, functions called, cacheability, fingerprint and\n"
    "normalized text.\n"
    "\n"
    "  --format json|text   the stable JSON interface (default) or a text report\n"
    "\n"
    "Exit status: 0 analysed; 2 usage error, unreadable file, invalid input or a syntax\n"
    "error (JSON: {\"error\":{\"message\":...,\"offset\":N}} on standard output; text: the\n"
    "message, the line and a caret on standard error).\n";

/* Prints FILE:LINE:COLUMN: message, the offending line and a caret under the
 * offending character (columns count UTF-8 characters). */
static void print_syntax_error(const char *name, const char *sql, size_t len, const char *msg, int64_t off)
{
    size_t pos = off >= 0 && (size_t)off <= len ? (size_t)off : 0;
    size_t line_start = pos;
    while (line_start > 0 && sql[line_start - 1] != '\n')
        line_start--;
    size_t line_end = pos;
    while (line_end < len && sql[line_end] != '\n')
        line_end++;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < line_start; i++)
        line += sql[i] == '\n';
    for (size_t i = line_start; i < pos; i++)
        col += ((unsigned char)sql[i] & 0xC0) != 0x80;
    alchdb_cli_error("%s:%zu:%zu: syntax error: %s\n", name, line, col, msg);
    fprintf(stderr, "  %.*s\n  ", (int)(line_end - line_start), sql + line_start);
    for (size_t i = line_start; i < pos; i++) {
        unsigned char ch = (unsigned char)sql[i];
        if (ch == '\t')
            fputc('\t', stderr);
        else if ((ch & 0xC0) != 0x80)
            fputc(' ', stderr);
    }
    fputs("^\n", stderr);
}

static void print_list(const char *label, const alchdb_sql_analysis *a, size_t i, int which)
{
    size_t n = which < 0 ? alchdb_sql_stmt_volatile_count(a, i) : alchdb_sql_stmt_table_count(a, i, which);
    printf("  %-12s", label);
    if (!n)
        fputs(" -", stdout);
    for (size_t j = 0; j < n; j++)
        printf("%s%s", j ? ", " : " ",
               which < 0 ? alchdb_sql_stmt_volatile(a, i, j) : alchdb_sql_stmt_table(a, i, which, j));
    fputc('\n', stdout);
}

/* A name part, double-quoted unless it is lower-case letters, digits and _
 * (so "a.b" and a.b read apart). */
static void print_part(const char *s)
{
    bool bare = *s && !(*s >= '0' && *s <= '9');
    for (const char *p = s; *p && bare; p++)
        bare = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (bare) {
        fputs(s, stdout);
        return;
    }
    fputc('"', stdout);
    for (const char *p = s; *p; p++)
        fputs(*p == '"' ? "\"\"" : (char[]){*p, '\0'}, stdout);
    fputc('"', stdout);
}

/* Every function called, as [schema.]name. */
static void print_functions(const alchdb_sql_analysis *a, size_t i)
{
    size_t n = alchdb_sql_stmt_function_count(a, i);
    printf("  %-12s", "functions:");
    if (!n)
        fputs(" -", stdout);
    for (size_t j = 0; j < n; j++) {
        const char *schema, *name;
        alchdb_sql_stmt_function(a, i, j, &schema, &name);
        fputs(j ? ", " : " ", stdout);
        if (schema) {
            print_part(schema);
            fputc('.', stdout);
        }
        print_part(name);
    }
    fputc('\n', stdout);
}

static void print_text(const alchdb_sql_analysis *a, const char *sql)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } flag_names[] = {
        {ALCHDB_SQL_READ_ONLY, "read_only"},     {ALCHDB_SQL_LOCKING, "locking"},
        {ALCHDB_SQL_CACHEABLE, "cacheable"},     {ALCHDB_SQL_VOLATILE, "volatile"},
        {ALCHDB_SQL_SIDE_EFFECTS, "side_effects"}, {ALCHDB_SQL_WRITABLE_CTE, "writable_cte"},
        {ALCHDB_SQL_TXN_CONTROL, "txn_control"}, {ALCHDB_SQL_SELECT_INTO, "select_into"},
        {ALCHDB_SQL_TEMP_TABLE, "temp_table"},
    };
    size_t n = alchdb_sql_analysis_count(a);
    if (!n)
        puts("no statements");
    for (size_t i = 0; i < n; i++) {
        size_t off = 0, len = 0;
        uint32_t flags = 0;
        uint64_t fp = 0;
        alchdb_sql_stmt_span(a, i, &off, &len);
        alchdb_sql_stmt_flags(a, i, &flags);
        alchdb_sql_stmt_fingerprint(a, i, &fp);
        size_t line = 1;
        for (size_t k = 0; k < off; k++)
            line += sql[k] == '\n';
        const char *reason = alchdb_sql_stmt_not_cacheable_reason(a, i);
        printf("%sstatement %zu (offset %zu, line %zu, %zu bytes)\n", i ? "\n" : "", i, off, line, len);
        printf("  %-12s %s\n", "kind:", alchdb_sql_kind_name(alchdb_sql_stmt_kind(a, i)));
        printf("  %-12s", "flags:");
        int any = 0;
        for (size_t k = 0; k < sizeof flag_names / sizeof flag_names[0]; k++)
            if (flags & flag_names[k].bit) {
                printf(" %s", flag_names[k].name);
                any = 1;
            }
        puts(any ? "" : " -");
        printf("  %-12s %016" PRIx64 "\n", "fingerprint:", fp);
        printf("  %-12s %s\n", "normalized:", alchdb_sql_stmt_normalized(a, i));
        print_list("reads:", a, i, ALCHDB_SQL_TABLES_READ);
        print_list("writes:", a, i, ALCHDB_SQL_TABLES_WRITTEN);
        print_list("volatile:", a, i, -1);
        print_functions(a, i);
        printf("  %-12s %s%s%s\n", "cacheable:", reason ? "no (" : "yes", reason ? reason : "", reason ? ")" : "");
        const char *why = NULL;
        if (alchdb_sql_stmt_status(a, i, &why) < 0)
            printf("  %-12s %s\n", "unanalysed:", why);
    }
}

int alchdb_cli_sql_analyze(int argc, char **argv)
{
    const char *format = "json", *file = NULL;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(analyze_usage, stdout);
            return 0;
        } else if (!strcmp(arg, "--format") || !strncmp(arg, "--format=", 9)) {
            if (arg[8] == '=') {
                format = arg + 9;
            } else if (i + 1 < argc) {
                format = argv[++i];
            } else {
                fputs("alchdb sql analyze: --format needs a value (json|text)\n", stderr);
                return 2;
            }
            if (strcmp(format, "json") && strcmp(format, "text")) {
                alchdb_cli_error("alchdb sql analyze: unknown format '%s' (json|text)\n", format);
                return 2;
            }
        } else if (arg[0] == '-' && arg[1] != '\0') {
            alchdb_cli_error("alchdb sql analyze: unknown option '%s' (see --help)\n", arg);
            return 2;
        } else if (file) {
            alchdb_cli_error("alchdb sql analyze: only one FILE is accepted ('%s' and '%s')\n", file, arg);
            return 2;
        } else {
            file = arg;
        }
    }
    if (!file)
        file = "-";
    const char *name = strcmp(file, "-") ? file : "<stdin>";
    size_t len = 0;
    const char *why = NULL;
    char *sql = alchdb_cli_read_file(file, ALCHDB_SQL_MAX_BYTES, &len, &why);
    if (!sql) {
        alchdb_cli_error("alchdb sql analyze: %s: %s\n", name, why);
        return 2;
    }
    alchdb_sql_analysis *a = NULL;
    int rc = alchdb_sql_analyze(sql, len, &a);
    if (rc < 0 && !a) {
        alchdb_cli_error("alchdb sql analyze: %s: %s\n", name, alchdb_last_error_message());
        free(sql);
        return 2;
    }
    int status = rc == 0 ? 0 : 2;
    if (!strcmp(format, "json")) {
        char *json = NULL;
        if (alchdb_sql_analysis_to_json(a, &json) < 0) {
            alchdb_cli_error("alchdb sql analyze: %s\n", alchdb_last_error_message());
            status = 2;
        } else {
            puts(json);
            alchdb_free(json);
        }
    } else if (rc == ALCHDB_E_PARSE) {
        int64_t off = -1;
        const char *msg = alchdb_sql_analysis_error(a, &off);
        print_syntax_error(name, sql, len, msg, off);
    } else {
        print_text(a, sql);
    }
    alchdb_sql_analysis_free(a);
    free(sql);
    if (fflush(stdout) != 0)
        status = 2;
    return status;
}

int alchdb_cli_sql(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        fputs("usage: alchdb sql analyze [OPTIONS] [FILE|-]\n"
              "  analyze   kind, tables, read-only, cacheability and fingerprint of each statement\n"
              "Run `alchdb sql SUBCOMMAND --help` for details.\n",
              argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    if (!strcmp(argv[0], "analyze"))
        return alchdb_cli_sql_analyze(argc - 1, argv + 1);
    alchdb_cli_error("alchdb sql: unknown subcommand '%s' (analyze)\n", argv[0]);
    return 2;
}
