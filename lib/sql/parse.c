/* Uncached access for modules that need libpg_query's JSON tree (until they
 * move to the layer of tree.h), a single fingerprint or the statement
 * boundaries. Everything goes through the stack guard of pgq.c. */
#include <string.h>

#include "sql_priv.h"

/* The checked, NUL-terminated copy libpg_query needs; NULL with *err set. */
static char *input_copy(const char *func, const char *sql, size_t *len, int *err)
{
    if (!sql__valid_input(func, sql, len, err))
        return NULL;
    char *text = alchdb__strndup(sql, *len);
    if (!text)
        *err = alchdb__nomem("SQL text");
    return text;
}

/* libpg_query's error as ALCHDB_E_PARSE with PostgreSQL's message. */
static int parse_error(const PgQueryError *e)
{
    return alchdb__error(ALCHDB_E_PARSE, "%s", e->message ? e->message : "syntax error");
}

/* The nesting of a JSON text (brackets outside strings). */
static size_t json_depth(const char *j)
{
    size_t depth = 0, max = 0;
    for (const char *p = j; *p; p++) {
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1])
                    p++;
            if (!*p)
                break;
        } else if (*p == '{' || *p == '[') {
            if (++depth > max)
                max = depth;
        } else if (*p == '}' || *p == ']') {
            depth--;
        }
    }
    return max;
}

int alchdb__sql_parse_tree(const char *sql, size_t len, char **json_tree, int64_t *err_offset)
{
    if (err_offset)
        *err_offset = -1;
    ALCHDB_CHECK_ARG(json_tree, "json_tree", "must not be NULL");
    *json_tree = NULL;
    int err = 0;
    char *text = input_copy(__func__, sql, &len, &err);
    if (!text)
        return err;
    sql_pgq q;
    int rc = sql__pgq_prepare(&q, text, len, SQL_PGQ_PARSE);
    if (rc == 0)
        rc = sql__pgq_run(&q);
    if (rc == 0 && q.parse.error) {
        if (err_offset)
            *err_offset = sql__cursor_to_offset(text, len, q.parse.error->cursorpos);
        rc = parse_error(q.parse.error);
    } else if (rc == 0 && json_depth(q.parse.parse_tree) > ALCHDB__SQL_JSON_MAX_DEPTH) {
        rc = alchdb__error(ALCHDB_E_RANGE,
                           "SQL nested too deeply to analyse: its parse tree is %zu levels deep, more than %d",
                           json_depth(q.parse.parse_tree), ALCHDB__SQL_JSON_MAX_DEPTH);
    } else if (rc == 0 && !(*json_tree = alchdb__strdup(q.parse.parse_tree))) {
        rc = alchdb__nomem("SQL parse tree");
    }
    sql__pgq_done(&q);
    alchdb__free(text);
    return rc;
}

int alchdb__sql_fingerprint(const char *sql, size_t len, uint64_t *fp, char **normalized)
{
    if (normalized)
        *normalized = NULL;
    ALCHDB_CHECK_ARG(fp, "fp", "must not be NULL");
    *fp = 0;
    int err = 0;
    char *text = input_copy(__func__, sql, &len, &err);
    if (!text)
        return err;
    sql_pgq q;
    int rc = sql__pgq_prepare(&q, text, len, SQL_PGQ_FINGERPRINT | (normalized ? SQL_PGQ_NORMALIZE : 0));
    if (rc == 0)
        rc = sql__pgq_run(&q);
    if (rc == 0 && q.fp.error)
        rc = parse_error(q.fp.error);
    else if (rc == 0)
        *fp = q.fp.fingerprint;
    if (rc == 0 && normalized) {
        if (q.norm.error)
            rc = parse_error(q.norm.error);
        else if (!(*normalized = alchdb__strdup(q.norm.normalized_query)))
            rc = alchdb__nomem("normalized SQL");
    }
    sql__pgq_done(&q);
    alchdb__free(text);
    return rc;
}

int alchdb__sql_split(const char *sql, size_t len, size_t **offsets, size_t **lengths, size_t *n)
{
    ALCHDB_CHECK_ARG(offsets && lengths && n, "offsets/lengths/n", "must not be NULL");
    *offsets = *lengths = NULL;
    *n = 0;
    int err = 0;
    char *text = input_copy(__func__, sql, &len, &err);
    if (!text)
        return err;
    PgQuerySplitResult sr = pg_query_split_with_parser(text);
    int rc = 0;
    if (sr.error) {
        rc = parse_error(sr.error);
    } else if (sr.n_stmts > 0) {
        size_t cnt = (size_t)sr.n_stmts, k = 0;
        *offsets = alchdb__calloc(cnt, sizeof **offsets);
        *lengths = alchdb__calloc(cnt, sizeof **lengths);
        if (!*offsets || !*lengths) {
            rc = alchdb__nomem("SQL split");
        } else {
            for (size_t i = 0; i < cnt; i++) {
                size_t start = (size_t)sr.stmts[i]->stmt_location;
                size_t end = sr.stmts[i]->stmt_len > 0 ? start + (size_t)sr.stmts[i]->stmt_len : len;
                if (start > len)
                    start = len;
                if (end > len)
                    end = len;
                start = alchdb__sql_skip_space_comments(text, start, end);
                while (end > start && strchr(" \t\n\r\f\v", text[end - 1]))
                    end--;
                if (end == start)
                    continue;
                (*offsets)[k] = start;
                (*lengths)[k] = end - start;
                k++;
            }
            *n = k;
        }
        if (rc < 0 || k == 0) {
            alchdb__free(*offsets);
            alchdb__free(*lengths);
            *offsets = *lengths = NULL;
        }
    }
    pg_query_free_split_result(sr);
    alchdb__free(text);
    return rc;
}
