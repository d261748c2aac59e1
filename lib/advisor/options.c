/* Advisor options and the workload statements they carry. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adv.h"
#include "sql/sql_internal.h"

int alchdb_advisor_options_new(alchdb_advisor_options **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_advisor_options *o = alchdb__calloc(1, sizeof *o);
    if (!o)
        return alchdb__nomem("advisor options");
    o->use_pgss = 1;
    o->use_hypopg = 1;
    o->max_suggestions = 10;
    o->max_index_bytes = 0;
    o->min_gain_pct = 50;
    o->max_queries = 200;
    o->statement_timeout_ms = 30000;
    o->lock_timeout_ms = 5000;
    o->min_table_rows = 1000;
    *out = o;
    return 0;
}

void alchdb_advisor_options_free(alchdb_advisor_options *opts)
{
    if (!opts)
        return;
    for (size_t i = 0; i < opts->nqueries; i++)
        alchdb__free(opts->queries[i].sql);
    alchdb__free(opts->queries);
    alchdb__free(opts->conninfo);
    alchdb__free(opts);
}

int alchdb_advisor_options_set_int64(alchdb_advisor_options *opts, int key, int64_t value)
{
    ALCHDB_CHECK_ARG(opts, "opts", "must not be NULL");
    int64_t *slot = NULL, lo = 0, hi = 0;
    switch (key) {
    case ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS: slot = &opts->use_pgss; hi = 1; break;
    case ALCHDB_ADVISOR_OPT_USE_HYPOPG: slot = &opts->use_hypopg; hi = 1; break;
    case ALCHDB_ADVISOR_OPT_MAX_SUGGESTIONS: slot = &opts->max_suggestions; hi = 1000; break;
    case ALCHDB_ADVISOR_OPT_MAX_INDEX_BYTES: slot = &opts->max_index_bytes; hi = INT64_MAX; break;
    case ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT: slot = &opts->min_gain_pct; lo = 1; hi = 99; break;
    case ALCHDB_ADVISOR_OPT_MAX_QUERIES: slot = &opts->max_queries; hi = 100000; break;
    case ALCHDB_ADVISOR_OPT_STATEMENT_TIMEOUT_MS: slot = &opts->statement_timeout_ms; hi = INT32_MAX; break;
    case ALCHDB_ADVISOR_OPT_LOCK_TIMEOUT_MS: slot = &opts->lock_timeout_ms; lo = 1; hi = 3600000; break;
    case ALCHDB_ADVISOR_OPT_MIN_TABLE_ROWS: slot = &opts->min_table_rows; hi = INT64_MAX; break;
    default: return alchdb__invalid_arg(__func__, "key", "is not an integer advisor option");
    }
    ALCHDB_CHECK_ARG(value >= lo && value <= hi, "value", "is out of range for this option");
    *slot = value;
    return 0;
}

int alchdb_advisor_options_set_string(alchdb_advisor_options *opts, int key, const char *value)
{
    ALCHDB_CHECK_ARG(opts, "opts", "must not be NULL");
    ALCHDB_CHECK_ARG(key == ALCHDB_ADVISOR_OPT_CONNINFO, "key", "is not a string advisor option");
    char *copy = NULL;
    if (value && !(copy = alchdb__strdup(value)))
        return alchdb__nomem("advisor conninfo");
    alchdb__free(opts->conninfo);
    opts->conninfo = copy;
    return 0;
}

static const struct {
    const char *name;
    int key;
    bool boolean;
} names[] = {
    {"use_pg_stat_statements", ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS, true},
    {"use_hypopg", ALCHDB_ADVISOR_OPT_USE_HYPOPG, true},
    {"max_suggestions", ALCHDB_ADVISOR_OPT_MAX_SUGGESTIONS, false},
    {"max_index_bytes", ALCHDB_ADVISOR_OPT_MAX_INDEX_BYTES, false},
    {"min_gain_pct", ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT, false},
    {"max_queries", ALCHDB_ADVISOR_OPT_MAX_QUERIES, false},
    {"statement_timeout", ALCHDB_ADVISOR_OPT_STATEMENT_TIMEOUT_MS, false},
    {"lock_timeout", ALCHDB_ADVISOR_OPT_LOCK_TIMEOUT_MS, false},
    {"min_table_rows", ALCHDB_ADVISOR_OPT_MIN_TABLE_ROWS, false},
};

int alchdb_advisor_options_set_from_string(alchdb_advisor_options *opts, const char *name, const char *value)
{
    ALCHDB_CHECK_ARG(opts, "opts", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    if (!strcmp(name, "conninfo"))
        return alchdb_advisor_options_set_string(opts, ALCHDB_ADVISOR_OPT_CONNINFO, value);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name))
            continue;
        int64_t v;
        if (names[i].boolean && (!strcasecmp(value, "true") || !strcasecmp(value, "on") || !strcasecmp(value, "yes"))) {
            v = 1;
        } else if (names[i].boolean &&
                   (!strcasecmp(value, "false") || !strcasecmp(value, "off") || !strcasecmp(value, "no"))) {
            v = 0;
        } else {
            char *end;
            errno = 0;
            long long ll = strtoll(value, &end, 10);
            if (errno || end == value || *end)
                return alchdb__invalid_arg(__func__, "value", "is not an integer");
            v = ll;
        }
        return alchdb_advisor_options_set_int64(opts, names[i].key, v);
    }
    return alchdb__invalid_arg(__func__, "name", "is not a known advisor option");
}

static int add_query(alchdb_advisor_options *opts, const char *sql, size_t len, int64_t calls, double ms,
                     const char *source)
{
    if (!alchdb__adv_push((void **)&opts->queries, &opts->nqueries, &opts->capqueries, sizeof(adv_query)))
        return alchdb__nomem("advisor workload");
    adv_query *q = &opts->queries[opts->nqueries];
    q->sql = alchdb__strndup(sql, len);
    if (!q->sql)
        return alchdb__nomem("advisor workload");
    q->calls = calls;
    q->total_ms = ms;
    q->source = source;
    opts->nqueries++;
    return 0;
}

int alchdb_advisor_options_add_query(alchdb_advisor_options *opts, const char *sql, int64_t calls,
                                     double total_time_ms)
{
    ALCHDB_CHECK_ARG(opts, "opts", "must not be NULL");
    ALCHDB_CHECK_ARG(sql && *sql, "sql", "must be a non-empty string");
    ALCHDB_CHECK_ARG(calls >= 1, "calls", "must be >= 1");
    ALCHDB_CHECK_ARG(total_time_ms >= 0 && total_time_ms < 1e300, "total_time_ms", "must be >= 0");
    return add_query(opts, sql, strlen(sql), calls, total_time_ms, "api");
}

int alchdb__adv_add_script(alchdb_advisor_options *opts, const char *text, size_t len, const char *source)
{
    size_t *off = NULL, *lens = NULL, n = 0;
    int rc = alchdb__sql_split(text, len, &off, &lens, &n);
    if (rc == 0) {
        for (size_t i = 0; i < n && rc == 0; i++)
            if (lens[i] > 0)
                rc = add_query(opts, text + off[i], lens[i], 1, 0, source);
        alchdb__free(off);
        alchdb__free(lens);
        return rc;
    }
    if (rc != ALCHDB_E_PARSE)
        return rc;
    /* The script does not split cleanly (a statement that does not parse):
     * cut at semicolons outside quotes so the others still count. */
    size_t start = 0;
    char quote = 0;
    for (size_t i = 0; i <= len; i++) {
        char ch = i < len ? text[i] : ';';
        if (quote) {
            if (ch == quote)
                quote = 0;
            continue;
        }
        if (ch == '\'' || ch == '"') {
            quote = ch;
            continue;
        }
        if (ch != ';')
            continue;
        size_t a = start, b = i;
        while (a < b && strchr(" \t\r\n", text[a]))
            a++;
        while (b > a && strchr(" \t\r\n", text[b - 1]))
            b--;
        if (b > a && (rc = add_query(opts, text + a, b - a, 1, 0, source)) != 0)
            return rc;
        start = i + 1;
    }
    return 0;
}

int alchdb_advisor_options_add_queries(alchdb_advisor_options *opts, const char *text, size_t len)
{
    ALCHDB_CHECK_ARG(opts, "opts", "must not be NULL");
    ALCHDB_CHECK_ARG(text, "text", "must not be NULL");
    if (len == (size_t)-1)
        len = strlen(text);
    ALCHDB_CHECK_ARG(memchr(text, 0, len) == NULL, "text", "must not contain NUL bytes");
    return alchdb__adv_add_script(opts, text, len, "file");
}
