/* The advisor's options, declared once for the option engine (lib/core/opt.c):
 * the public alchdb_advisor_config_* functions, the listing, the CLI's help
 * and the table in docs/advisor.md all come from this table. The config also
 * carries the workload (add_query, add_queries); an analysis reads both
 * through plain settings loaded when it starts. */
#include <string.h>

#include "adv.h"
#include "sql/sql_internal.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)

#define INT_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_INT, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define BOOL_OPT(key, name, def, doc) {key, name, ALCHDB_OPT_BOOL, 0, 1, def, NULL, NULL, NULL, 0, doc}
#define DUR_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_DURATION, lo, hi, def, NULL, NULL, NULL, 0, doc}

static const alchdb__optdef DEFS[] = {
    {ALCHDB_ADVISOR_OPT_CONNINFO, "conninfo", ALCHDB_OPT_STRING, 0, 0, 0, NULL, NULL, NULL, ALCHDB__OPT_CONNINFO,
     "libpq conninfo of the database to analyse (required)"},
    BOOL_OPT(ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS, "use_pg_stat_statements", 1,
             "read the workload from pg_stat_statements when it is installed"),
    BOOL_OPT(ALCHDB_ADVISOR_OPT_USE_HYPOPG, "use_hypopg", 1, "verify candidates with HypoPG when it is installed"),
    INT_OPT(ALCHDB_ADVISOR_OPT_MAX_SUGGESTIONS, "max_suggestions", 0, 1000, 10,
            "at most this many missing-index suggestions"),
    {ALCHDB_ADVISOR_OPT_MAX_INDEX_BYTES, "max_index_bytes", ALCHDB_OPT_SIZE, 0, INT64_MAX, 0, NULL, NULL, NULL, 0,
     "budget for the estimated size of all suggested indexes; 0 = none"},
    INT_OPT(ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT, "min_gain_pct", 1, 99, 50,
            "percent of plan cost a candidate must save for a query to count as helped"),
    INT_OPT(ALCHDB_ADVISOR_OPT_MAX_QUERIES, "max_queries", 0, 100000, 200,
            "at most this many pg_stat_statements entries, by total time"),
    /* PostgreSQL's timeouts are int milliseconds */
    DUR_OPT(ALCHDB_ADVISOR_OPT_STATEMENT_TIMEOUT, "statement_timeout", 0, INT64_C(2147483647) * MS, 30 * SEC,
            "statement_timeout of the advisor's session; 0 = none"),
    DUR_OPT(ALCHDB_ADVISOR_OPT_LOCK_TIMEOUT, "lock_timeout", MS, 3600 * SEC, 5 * SEC,
            "lock_timeout of apply and of the generated script"),
    INT_OPT(ALCHDB_ADVISOR_OPT_MIN_TABLE_ROWS, "min_table_rows", 0, INT64_MAX, 1000,
            "tables with fewer estimated rows get no missing-index suggestion"),
};

const alchdb__optspec alchdb__advisor_optspec = {"advisor", DEFS, sizeof DEFS / sizeof DEFS[0]};

static void workload_free(alchdb_advisor_config *cfg)
{
    for (size_t i = 0; i < cfg->nqueries; i++)
        alchdb__free(cfg->queries[i].sql);
    alchdb__free(cfg->queries);
}

ALCHDB__CONFIG_API_HOOKS(advisor, alchdb_advisor_config, opts, &alchdb__advisor_optspec, workload_free)

static int64_t value(const alchdb_advisor_config *cfg, int key)
{
    return alchdb__opts_value(cfg ? &cfg->opts : NULL, &alchdb__advisor_optspec, key);
}

void alchdb__adv_settings_load(adv_settings *s, const alchdb_advisor_config *cfg)
{
    memset(s, 0, sizeof *s);
    s->conninfo = cfg ? alchdb__opts_s(&cfg->opts, ALCHDB_ADVISOR_OPT_CONNINFO) : NULL;
    s->use_pgss = value(cfg, ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS);
    s->use_hypopg = value(cfg, ALCHDB_ADVISOR_OPT_USE_HYPOPG);
    s->max_suggestions = value(cfg, ALCHDB_ADVISOR_OPT_MAX_SUGGESTIONS);
    s->max_index_bytes = value(cfg, ALCHDB_ADVISOR_OPT_MAX_INDEX_BYTES);
    s->min_gain_pct = value(cfg, ALCHDB_ADVISOR_OPT_MIN_GAIN_PCT);
    s->max_queries = value(cfg, ALCHDB_ADVISOR_OPT_MAX_QUERIES);
    s->statement_timeout_us = value(cfg, ALCHDB_ADVISOR_OPT_STATEMENT_TIMEOUT);
    s->lock_timeout_us = value(cfg, ALCHDB_ADVISOR_OPT_LOCK_TIMEOUT);
    s->min_table_rows = value(cfg, ALCHDB_ADVISOR_OPT_MIN_TABLE_ROWS);
    if (cfg) {
        s->queries = cfg->queries;
        s->nqueries = cfg->nqueries;
    }
}

static int add_query(alchdb_advisor_config *opts, const char *sql, size_t len, int64_t calls, double ms,
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

ALCHDB_API int alchdb_advisor_config_add_query(alchdb_advisor_config *cfg, const char *sql, int64_t calls,
                                               double total_time_ms)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(sql && *sql, "sql", "must be a non-empty string");
    ALCHDB_CHECK_ARG(calls >= 1, "calls", "must be >= 1");
    ALCHDB_CHECK_ARG(total_time_ms >= 0 && total_time_ms < 1e300, "total_time_ms", "must be >= 0");
    return add_query(cfg, sql, strlen(sql), calls, total_time_ms, "api");
}

int alchdb__adv_add_script(alchdb_advisor_config *opts, const char *text, size_t len, const char *source)
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

ALCHDB_API int alchdb_advisor_config_add_queries(alchdb_advisor_config *cfg, const char *text, size_t len)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(text, "text", "must not be NULL");
    if (len == (size_t)-1)
        len = strlen(text);
    ALCHDB_CHECK_ARG(memchr(text, 0, len) == NULL, "text", "must not contain NUL bytes");
    return alchdb__adv_add_script(cfg, text, len, "file");
}
