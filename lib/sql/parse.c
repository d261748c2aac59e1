/* Thin, uncached access to libpg_query for modules that need the raw parse
 * tree, a single fingerprint or the statement boundaries. */
#include <pg_query.h>
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
    PgQueryParseResult pr = pg_query_parse(text);
    int rc = 0;
    if (pr.error) {
        if (err_offset)
            *err_offset = sql__cursor_to_offset(text, len, pr.error->cursorpos);
        rc = parse_error(pr.error);
    } else if (!(*json_tree = alchdb__strdup(pr.parse_tree))) {
        rc = alchdb__nomem("SQL parse tree");
    }
    pg_query_free_parse_result(pr);
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
    PgQueryFingerprintResult fr = pg_query_fingerprint(text);
    int rc = 0;
    if (fr.error)
        rc = parse_error(fr.error);
    else
        *fp = fr.fingerprint;
    pg_query_free_fingerprint_result(fr);
    if (rc == 0 && normalized) {
        PgQueryNormalizeResult nr = pg_query_normalize(text);
        if (nr.error)
            rc = parse_error(nr.error);
        else if (!(*normalized = alchdb__strdup(nr.normalized_query)))
            rc = alchdb__nomem("normalized SQL");
        pg_query_free_normalize_result(nr);
    }
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
                start = sql__skip_space_comments(text, start, end);
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
