/* `alchdb options [MODULE] [--format text|json|md]`: what every option is
 * (name, type, default, range, environment variable, one line of doc), from
 * the listing of the library. The md format is the table that
 * tests/docs/options-tables.sh keeps between the markers of each docs/ guide. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "cli_io.h"
#include "cmd_options.h"

static const char usage_text[] =
    "usage: alchdb options [MODULE] [--format text|json|md]\n"
    "\n"
    "List the options of MODULE (pool, router, cache, monitor, ...), or of every\n"
    "module: the name used by the by-name setters and configuration files, the\n"
    "type and unit, the default, the range, and one line of documentation.\n"
    "The environment variable of an option is PREFIX_NAME (upper case), with\n"
    "the prefix the host passes to alchdb_<module>_config_from_env().\n"
    "\n"
    "  --format text   aligned text (default)\n"
    "  --format json   the listing as JSON (alchdb_options_to_json)\n"
    "  --format md     a Markdown table per module (the tables in docs/)\n"
    "\n"
    "Exit status: 0 listed; 2 usage error or unknown module.\n";

enum { FMT_TEXT, FMT_JSON, FMT_MD };

static const char *type_name(int32_t type)
{
    switch (type) {
    case ALCHDB_OPT_INT: return "integer";
    case ALCHDB_OPT_DURATION: return "duration";
    case ALCHDB_OPT_SIZE: return "size";
    case ALCHDB_OPT_BOOL: return "boolean";
    case ALCHDB_OPT_ENUM: return "enum";
    default: return "string";
    }
}

/* A numeric value in the syntax the by-name setter reads back. */
static void value_text(const alchdb_option_info *in, int64_t v, char *buf, size_t cap)
{
    static const struct {
        const char *unit;
        int64_t us;
    } DUR[] = {{"h", INT64_C(3600000000)}, {"m", INT64_C(60000000)}, {"s", 1000000}, {"ms", 1000}, {"us", 1}};
    if (in->type == ALCHDB_OPT_DURATION && v != 0 && v != INT64_MAX) { /* the largest exact unit */
        size_t u = 0;
        while (v % DUR[u].us != 0)
            u++;
        snprintf(buf, cap, "%" PRId64 "%s", v / DUR[u].us, DUR[u].unit);
        return;
    }
    if (in->type == ALCHDB_OPT_SIZE && v != 0 && v != INT64_MAX && v % (INT64_C(1) << 30) == 0)
        snprintf(buf, cap, "%" PRId64 "GiB", v >> 30);
    else if (in->type == ALCHDB_OPT_SIZE && v != 0 && v % (INT64_C(1) << 20) == 0)
        snprintf(buf, cap, "%" PRId64 "MiB", v >> 20);
    else if (in->type == ALCHDB_OPT_SIZE && v != 0 && v % 1024 == 0)
        snprintf(buf, cap, "%" PRId64 "KiB", v >> 10);
    else if (in->type == ALCHDB_OPT_BOOL)
        snprintf(buf, cap, "%s", v ? "true" : "false");
    else if (in->type == ALCHDB_OPT_ENUM && in->choices)
        snprintf(buf, cap, "%s", in->choices[v]);
    else if (v == INT64_MAX)
        snprintf(buf, cap, "no limit");
    else
        snprintf(buf, cap, "%" PRId64, v);
}

static void default_text(const alchdb_option_info *in, char *buf, size_t cap)
{
    if (in->type == ALCHDB_OPT_STRING)
        snprintf(buf, cap, "%s", in->def_string ? in->def_string : "(none)");
    else
        value_text(in, in->def, buf, cap);
}

/* "1..10000", "a | b | c", or "" for strings. */
static void range_text(const alchdb_option_info *in, char *buf, size_t cap)
{
    buf[0] = 0;
    if (in->type == ALCHDB_OPT_STRING || in->type == ALCHDB_OPT_BOOL)
        return;
    if (in->type == ALCHDB_OPT_ENUM) {
        size_t n = 0;
        for (size_t i = 0; in->choices && in->choices[i] && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? " \\| " : "", in->choices[i]);
        return;
    }
    char lo[40], hi[40];
    value_text(in, in->min, lo, sizeof lo);
    value_text(in, in->max, hi, sizeof hi);
    snprintf(buf, cap, "%s .. %s", lo, hi);
}

static int print_module(FILE *to, const char *module, int fmt)
{
    size_t n = 0;
    int rc = alchdb_options_count(module, &n);
    if (rc)
        return rc;
    if (fmt == FMT_MD) {
        fputs("| option | type | default | range | description |\n|---|---|---|---|---|\n", to);
    }
    for (size_t i = 0; i < n; i++) {
        alchdb_option_info in;
        rc = alchdb_options_info(module, i, &in, sizeof in);
        if (rc)
            return rc;
        char def[80], range[200];
        default_text(&in, def, sizeof def);
        range_text(&in, range, sizeof range);
        const char *secret = (in.flags & ALCHDB_OPTION_SECRET)     ? " (secret: never shown)"
                             : (in.flags & ALCHDB_OPTION_CONNINFO) ? " (shown with passwords as ***)"
                                                                   : "";
        if (fmt == FMT_MD) {
            fprintf(to, "| `%s` | %s | %s | %s | %s%s |\n", in.name, type_name(in.type), def, range, in.doc, secret);
        } else {
            char range_plain[200];
            size_t k = 0;
            for (const char *p = range; *p && k + 1 < sizeof range_plain; p++)
                if (*p != '\\')
                    range_plain[k++] = *p;
            range_plain[k] = 0;
            fprintf(to, "  %-24s %-8s default %s%s%s\n", in.name, type_name(in.type), def,
                    range_plain[0] ? ", " : "", range_plain);
            fprintf(to, "  %-24s %s%s\n", "", in.doc, secret);
        }
    }
    return 0;
}

int alchdb_cli_print_options(FILE *to, const char *module)
{
    return print_module(to, module, FMT_TEXT);
}

const char *alchdb_cli_split_set(const char *pair, char *name, size_t cap)
{
    const char *eq = strchr(pair, '=');
    if (!eq || eq == pair || (size_t)(eq - pair) >= cap)
        return NULL;
    memcpy(name, pair, (size_t)(eq - pair));
    name[eq - pair] = 0;
    return eq + 1;
}

int alchdb_cli_options(int argc, char **argv)
{
    const char *module = NULL;
    int fmt = FMT_TEXT;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--format") && i + 1 < argc) {
            const char *f = argv[++i];
            if (!strcmp(f, "text"))
                fmt = FMT_TEXT;
            else if (!strcmp(f, "json"))
                fmt = FMT_JSON;
            else if (!strcmp(f, "md"))
                fmt = FMT_MD;
            else {
                alchdb_cli_error("alchdb options: --format is text, json or md, not '%s'\n", f);
                return 2;
            }
        } else if (a[0] == '-') {
            alchdb_cli_error("alchdb options: unknown option %s (see --help)\n", a);
            return 2;
        } else if (!module) {
            module = a;
        } else {
            alchdb_cli_error("alchdb options: one MODULE at most (see --help)\n");
            return 2;
        }
    }
    size_t n;
    if (module && alchdb_options_count(module, &n) != 0) {
        alchdb_cli_error("alchdb options: %s\n", alchdb_last_error_message());
        return 2;
    }
    if (fmt == FMT_JSON) {
        char *json = NULL;
        if (alchdb_options_to_json(module, &json) != 0) {
            alchdb_cli_error("alchdb options: %s\n", alchdb_last_error_message());
            return 2;
        }
        fputs(json, stdout);
        fputc('\n', stdout);
        alchdb_free(json);
        return 0;
    }
    if (module)
        return print_module(stdout, module, fmt) ? 2 : 0;
    int first = 1;
    for (size_t m = 0; alchdb_options_module(m); m++) {
        const char *name = alchdb_options_module(m);
        if (fmt == FMT_MD)
            fprintf(stdout, "%s### %s\n\n", first ? "" : "\n", name);
        else
            fprintf(stdout, "%s%s:\n", first ? "" : "\n", name);
        first = 0;
        if (print_module(stdout, name, fmt) != 0)
            return 2;
    }
    return 0;
}
