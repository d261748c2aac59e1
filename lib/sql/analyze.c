/* Building an analysis: one parse of the whole script into the layer's tree,
 * then per statement the walk, the classification, the fingerprint and the
 * normalized text; the cached entry point.
 *
 * A script too deep to parse in one piece is split (libpg_query's splitter
 * does not recurse) and its statements are parsed one by one; a statement too
 * deep even alone is kept "unanalysed": its kind from its first words, not
 * read-only, not cacheable (too_complex), one shared fingerprint, and the
 * reason as its status (ALCHDB_E_RANGE). */
#include "sql_priv.h"
#include "tree.h"

/* The fingerprint every unanalysed statement gets, so that monitors group
 * them as one pattern ("unanalysed" hashed). */
#define SQL_UNANALYSED_FINGERPRINT 0x756e616e616c7973ull

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

void sql__analysis_destroy(alchdb_sql_analysis *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        sql_stmt *st = &a->stmts[i];
        alchdb__free(st->normalized);
        alchdb__free(st->status_message);
        sql__nameset_free(&st->tables[0]);
        sql__nameset_free(&st->tables[1]);
        sql__strset_free(&st->funcs);
        sql__nameset_free(&st->calls);
    }
    alchdb__free(a->stmts);
    alchdb__sql_row_target_free(a->rt);
    alchdb__free(a->error);
    alchdb__free(a->text);
    alchdb__free(a);
}

/* Trim [start, end) of text to the statement proper: no leading whitespace
 * or comments, no trailing whitespace. */
static void trim_span(const char *text, size_t *start, size_t *end)
{
    *start = alchdb__sql_skip_space_comments(text, *start, *end);
    while (*end > *start && is_space(text[*end - 1]))
        (*end)--;
}

/* Fingerprint and normalized text of one statement's own text; a statement
 * libpg_query cannot be given safely gets the shared unanalysed
 * fingerprint and its own text. */
static int fingerprint_stmt(const char *text, size_t len, sql_stmt *st)
{
    sql_pgq q;
    int rc = sql__pgq_prepare(&q, text, len, SQL_PGQ_FINGERPRINT | SQL_PGQ_NORMALIZE);
    if (rc == ALCHDB_E_NOMEM)
        return rc;
    if (rc == 0)
        rc = sql__pgq_run(&q);
    const char *norm = text;
    if (rc == 0) {
        st->fingerprint = q.fp.error ? alchdb__hash64(text, len, 0) : q.fp.fingerprint;
        if (!q.norm.error && q.norm.normalized_query)
            norm = q.norm.normalized_query;
    } else {
        st->fingerprint = SQL_UNANALYSED_FINGERPRINT;
    }
    st->normalized = alchdb__strdup(norm);
    sql__pgq_done(&q);
    return st->normalized ? 0 : alchdb__nomem("normalized SQL");
}

/* Fill st from the walk result (taken over) and the statement's own text. */
static int finish_stmt(alchdb_sql_analysis *a, sql_stmt *st, size_t start, size_t end, sql_walk_result *r)
{
    st->offset = start;
    st->length = end - start;
    if (r->nomem) {
        sql__walk_result_free(r);
        return alchdb__nomem("SQL analysis");
    }
    st->kind = r->kind;
    st->txn = r->txn;
    st->opaque = r->opaque;
    sql__classify(r, &st->flags, &st->reason);
    st->tables[0] = r->tables[0];
    st->tables[1] = r->tables[1];
    st->funcs = r->funcs;
    st->calls = r->calls;
    char *text = alchdb__strndup(a->text + start, end - start);
    if (!text)
        return alchdb__nomem("SQL statement");
    int rc = fingerprint_stmt(text, end - start, st);
    alchdb__free(text);
    return rc;
}

/* A statement that cannot be parsed safely: why (the thread-local detail
 * of the refusal), and the conservative answers. */
static int unanalysed_stmt(alchdb_sql_analysis *a, sql_stmt *st, size_t start, size_t end)
{
    sql_walk_result r;
    memset(&r, 0, sizeof r);
    r.kind = sql__kind_from_text(a->text + start, end - start);
    r.incomplete = true;
    st->status = ALCHDB_E_RANGE;
    if (!(st->status_message = alchdb__strdup(alchdb_last_error_message())))
        return alchdb__nomem("SQL analysis");
    return finish_stmt(a, st, start, end, &r);
}

/* The statements of tree t (parsed from text + base) into a->stmts[first..]. */
static int build_from_tree(alchdb_sql_analysis *a, const alchdb__sql_tree *t, size_t base, size_t first,
                           size_t limit)
{
    size_t n = alchdb__sql_tree_count(t);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n && first + i < limit; i++) {
        size_t off, slen, tlen;
        alchdb__sql_tree_text(t, &tlen);
        const alchdb__sql_node *stmt = alchdb__sql_tree_stmt(t, i, &off, &slen);
        size_t start = base + off, end = slen ? start + slen : base + tlen;
        if (end > a->len)
            end = a->len;
        trim_span(a->text, &start, &end);
        sql_walk_result r;
        memset(&r, 0, sizeof r);
        sql__walk_stmt(stmt, &r);
        a->n = first + i + 1; /* so destroy frees a half-built statement too */
        rc = finish_stmt(a, &a->stmts[first + i], start, end, &r);
    }
    return rc;
}

/* The script as a whole was too deep: split it (the splitter does not
 * recurse) and parse each statement alone. */
static int build_split(alchdb_sql_analysis *a)
{
    PgQuerySplitResult sr = pg_query_split_with_parser(a->text);
    int rc = 0;
    if (sr.error) {
        rc = alchdb__error(ALCHDB_E_PARSE, "%s", sr.error->message ? sr.error->message : "syntax error");
    } else if (sr.n_stmts > 0) {
        size_t cnt = (size_t)sr.n_stmts;
        if (!(a->stmts = alchdb__calloc(cnt, sizeof *a->stmts)))
            rc = alchdb__nomem("SQL statements");
        for (size_t i = 0; rc == 0 && i < cnt; i++) {
            size_t start = (size_t)sr.stmts[i]->stmt_location;
            size_t end = sr.stmts[i]->stmt_len > 0 ? start + (size_t)sr.stmts[i]->stmt_len : a->len;
            if (start > a->len)
                start = a->len;
            if (end > a->len)
                end = a->len;
            alchdb__sql_tree *t = NULL;
            int prc = alchdb__sql_tree_parse(a->text + start, end - start, &t, NULL);
            if (prc == 0 && alchdb__sql_tree_count(t) == 1) {
                rc = build_from_tree(a, t, start, a->n, cnt);
            } else if (prc == ALCHDB_E_RANGE) {
                trim_span(a->text, &start, &end);
                a->n++;
                rc = unanalysed_stmt(a, &a->stmts[a->n - 1], start, end);
            } else if (prc < 0) {
                rc = prc;
            } else {
                rc = alchdb__error(ALCHDB_E_INTERNAL, "a statement of a split script parsed into %zu statements",
                                   alchdb__sql_tree_count(t));
            }
            alchdb__sql_tree_free(t);
        }
    }
    pg_query_free_split_result(sr);
    return rc;
}

/* Build a fresh analysis of text (valid, NUL-free). On ALCHDB_E_PARSE *out
 * carries the error. */
static int build(const char *sql, size_t len, uint64_t hash, alchdb_sql_analysis **out)
{
    *out = NULL;
    alchdb_sql_analysis *a = alchdb__calloc(1, sizeof *a);
    if (!a)
        return alchdb__nomem("SQL analysis");
    atomic_init(&a->refs, 1);
    a->hash = hash;
    a->len = len;
    a->err_offset = -1;
    if (!(a->text = alchdb__strndup(sql, len))) {
        sql__analysis_destroy(a);
        return alchdb__nomem("SQL text");
    }
    alchdb__sql_tree *t = NULL;
    int rc = alchdb__sql_tree_parse(a->text, len, &t, &a->err_offset);
    if (rc == ALCHDB_E_PARSE) {
        if (!(a->error = alchdb__strdup(alchdb_last_error_message()))) {
            sql__analysis_destroy(a);
            return alchdb__nomem("SQL error");
        }
        *out = a;
        return rc;
    }
    if (rc == ALCHDB_E_RANGE) {
        rc = build_split(a);
    } else if (rc == 0) {
        size_t n = alchdb__sql_tree_count(t);
        if (n && !(a->stmts = alchdb__calloc(n, sizeof *a->stmts)))
            rc = alchdb__nomem("SQL statements");
        if (rc == 0)
            rc = build_from_tree(a, t, 0, 0, n);
        /* From the same tree, for the cache's primary-key invalidation. */
        if (rc == 0 && n == 1)
            rc = sql__row_target_build(t, alchdb__sql_tree_stmt(t, 0, NULL, NULL), &a->rt);
    }
    alchdb__sql_tree_free(t);
    if (rc < 0) {
        sql__analysis_destroy(a);
        return rc;
    }
    *out = a;
    return 0;
}

const alchdb_sql_analysis *alchdb__sql_analyze_shared(const char *sql, size_t len, int *err)
{
    int e = 0;
    alchdb_sql_analysis *a = NULL;
    if (!sql__valid_input("alchdb_sql_analyze", sql, &len, &e))
        goto out;
    uint64_t hash = alchdb__hash64(sql, len, 0);
    bool cacheable = len <= SQL_CACHE_MAX_TEXT;
    if (cacheable && (a = sql__cache_get(hash, sql, len)) != NULL) {
        if (a->error)
            e = alchdb__error(ALCHDB_E_PARSE, "%s", a->error);
        goto out;
    }
    e = build(sql, len, hash, &a);
    if (a && cacheable)
        a = sql__cache_put(a);
out:
    if (err)
        *err = e;
    return a;
}

void alchdb__sql_release(const alchdb_sql_analysis *ca)
{
    alchdb_sql_analysis *a = (alchdb_sql_analysis *)ca;
    if (a && atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) == 1)
        sql__analysis_destroy(a);
}
