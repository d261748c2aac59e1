/* Entry point: input checks, one parse of the whole script, per-statement
 * walk, classification, fingerprint and normalized text; the accessors. */
#include <pg_query.h>
#include <string.h>

#include "sql_priv.h"

static const char *const kind_names[] = {"select", "insert", "update", "delete",
                                         "merge", "ddl", "transaction", "utility"};

/* Offset of the first invalid UTF-8 sequence, or n when s is valid. Rejects
 * overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07u;
        } else {
            return i;
        }
        if (n - i - 1 < need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += need + 1;
    }
    return n;
}

bool sql__valid_input(const char *func, const char *sql, size_t *len, int *err)
{
    if (!sql) {
        *err = alchdb__invalid_arg(func, "sql", "must not be NULL");
        return false;
    }
    if (*len == (size_t)-1)
        *len = strlen(sql);
    else if (memchr(sql, '\0', *len)) {
        *err = alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'sql': embedded NUL byte at byte offset %zu",
                             func, (size_t)((const char *)memchr(sql, '\0', *len) - sql));
        return false;
    }
    if (*len > ALCHDB_SQL_MAX_BYTES) {
        *err = alchdb__error(ALCHDB_E_RANGE, "%s: 'sql' is %zu bytes, more than the %zu-byte limit", func, *len,
                             ALCHDB_SQL_MAX_BYTES);
        return false;
    }
    size_t bad = utf8_invalid_at((const unsigned char *)sql, *len);
    if (bad != *len) {
        *err = alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'sql': invalid UTF-8 at byte offset %zu", func,
                             bad);
        return false;
    }
    return true;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

size_t sql__skip_space_comments(const char *s, size_t pos, size_t end)
{
    while (pos < end) {
        if (is_space(s[pos])) {
            pos++;
        } else if (s[pos] == '-' && pos + 1 < end && s[pos + 1] == '-') {
            while (pos < end && s[pos] != '\n')
                pos++;
        } else if (s[pos] == '/' && pos + 1 < end && s[pos + 1] == '*') {
            int depth = 0; /* PostgreSQL's block comments nest */
            while (pos < end) {
                if (s[pos] == '/' && pos + 1 < end && s[pos + 1] == '*') {
                    depth++;
                    pos += 2;
                } else if (s[pos] == '*' && pos + 1 < end && s[pos + 1] == '/') {
                    pos += 2;
                    if (--depth == 0)
                        break;
                } else {
                    pos++;
                }
            }
        } else {
            break;
        }
    }
    return pos;
}

/* PostgreSQL reports a 1-based character position; turn it into a byte offset
 * (the input is valid UTF-8). */
int64_t sql__cursor_to_offset(const char *s, size_t len, int cursorpos)
{
    if (cursorpos <= 0)
        return -1;
    size_t chars = (size_t)cursorpos - 1, i = 0;
    while (i < len && chars > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        chars--;
    }
    return (int64_t)i;
}

void sql__analysis_destroy(alchdb_sql_analysis *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        sql_stmt *st = &a->stmts[i];
        alchdb__free(st->normalized);
        sql__strset_free(&st->tables[0]);
        sql__strset_free(&st->tables[1]);
        sql__strset_free(&st->funcs);
    }
    alchdb__free(a->stmts);
    alchdb__sql_row_target_free(a->rt);
    alchdb__free(a->error);
    alchdb__free(a->text);
    alchdb__free(a);
}

static void free_walk(sql_walk_result *r)
{
    sql__strset_free(&r->tables[0]);
    sql__strset_free(&r->tables[1]);
    sql__strset_free(&r->funcs);
}

/* Fingerprint and normalized text of one statement's own text. */
static int fingerprint_stmt(const char *text, sql_stmt *st)
{
    PgQueryFingerprintResult fr = pg_query_fingerprint(text);
    st->fingerprint = fr.error ? alchdb__hash64(text, strlen(text), 0) : fr.fingerprint;
    pg_query_free_fingerprint_result(fr);
    PgQueryNormalizeResult nr = pg_query_normalize(text);
    st->normalized = alchdb__strdup(nr.error || !nr.normalized_query ? text : nr.normalized_query);
    pg_query_free_normalize_result(nr);
    return st->normalized ? 0 : alchdb__nomem("normalized SQL");
}

/* Trim [start, end) to the statement proper: no leading whitespace/comments,
 * no trailing whitespace. */
static void trim_span(const alchdb_sql_analysis *a, size_t *start, size_t *end)
{
    *start = sql__skip_space_comments(a->text, *start, *end);
    while (*end > *start && is_space(a->text[*end - 1]))
        (*end)--;
}

/* Fill st from the walk result (taken over) and the statement's own text. */
static int finish_stmt(alchdb_sql_analysis *a, sql_stmt *st, size_t start, size_t end, sql_walk_result *r)
{
    st->offset = start;
    st->length = end - start;
    if (r->nomem) {
        free_walk(r);
        return alchdb__nomem("SQL analysis");
    }
    st->kind = r->kind;
    sql__classify(r, &st->flags, &st->reason);
    st->tables[0] = r->tables[0];
    st->tables[1] = r->tables[1];
    st->funcs = r->funcs;

    char *text = alchdb__strndup(a->text + start, end - start);
    if (!text)
        return alchdb__nomem("SQL statement");
    int rc = fingerprint_stmt(text, st);
    alchdb__free(text);
    return rc;
}

static int build_stmt(alchdb_sql_analysis *a, json_t *raw, sql_stmt *st)
{
    json_int_t loc = json_integer_value(json_object_get(raw, "stmt_location"));
    json_int_t slen = json_integer_value(json_object_get(raw, "stmt_len"));
    size_t start = loc > 0 && (size_t)loc <= a->len ? (size_t)loc : 0;
    size_t end = slen > 0 && (size_t)slen <= a->len - start ? start + (size_t)slen : a->len;
    trim_span(a, &start, &end);
    sql_walk_result r;
    memset(&r, 0, sizeof r);
    sql__walk_stmt(json_object_get(raw, "stmt"), &r);
    return finish_stmt(a, st, start, end, &r);
}

/* The node type of the first statement in libpg_query's JSON text. */
static void sniff_type(const char *tree, char *buf, size_t size)
{
    const char *p = strstr(tree, "\"stmt\":{\"");
    size_t n = 0;
    if (p)
        for (p += 9; *p && *p != '"' && n + 1 < size; p++)
            buf[n++] = *p;
    buf[n] = '\0';
}

/* One statement of a script whose whole tree was too deep for the JSON
 * parser: parse it alone; if it is the deep one, only its type is known. */
static int build_alone(alchdb_sql_analysis *a, size_t start, size_t end, sql_stmt *st)
{
    char *text = alchdb__strndup(a->text + start, end - start);
    if (!text)
        return alchdb__nomem("SQL statement");
    sql_walk_result r;
    memset(&r, 0, sizeof r);
    PgQueryParseResult pr = pg_query_parse(text);
    alchdb__free(text);
    json_error_t jerr;
    json_t *root = pr.error ? NULL : json_loads(pr.parse_tree, 0, &jerr);
    if (root) {
        sql__walk_stmt(json_object_get(json_array_get(json_object_get(root, "stmts"), 0), "stmt"), &r);
        json_decref(root);
    } else if (!pr.error && json_error_code(&jerr) == json_error_out_of_memory) {
        pg_query_free_parse_result(pr);
        return alchdb__nomem("SQL parse tree");
    } else {
        char type[64];
        sniff_type(pr.parse_tree ? pr.parse_tree : "", type, sizeof type);
        sql__walk_opaque(type[0] ? type : NULL, &r);
    }
    pg_query_free_parse_result(pr);
    return finish_stmt(a, st, start, end, &r);
}

static int build_split(alchdb_sql_analysis *a)
{
    PgQuerySplitResult sr = pg_query_split_with_parser(a->text);
    int rc = 0;
    if (sr.error) {
        rc = alchdb__error(ALCHDB_E_INTERNAL, "SQL split failed after a successful parse: %s",
                           sr.error->message ? sr.error->message : "?");
    } else if (sr.n_stmts > 0) {
        a->stmts = alchdb__calloc((size_t)sr.n_stmts, sizeof *a->stmts);
        if (!a->stmts)
            rc = alchdb__nomem("SQL statements");
        for (int i = 0; rc == 0 && i < sr.n_stmts; i++) {
            size_t start = (size_t)sr.stmts[i]->stmt_location;
            size_t end = sr.stmts[i]->stmt_len > 0 ? start + (size_t)sr.stmts[i]->stmt_len : a->len;
            if (start > a->len)
                start = a->len;
            if (end > a->len)
                end = a->len;
            trim_span(a, &start, &end);
            a->n = (size_t)i + 1;
            rc = build_alone(a, start, end, &a->stmts[i]);
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
    a->text = alchdb__strndup(sql, len);
    if (!a->text) {
        sql__analysis_destroy(a);
        return alchdb__nomem("SQL text");
    }

    PgQueryParseResult pr = pg_query_parse(a->text);
    if (pr.error) {
        const char *msg = pr.error->message ? pr.error->message : "syntax error";
        a->err_offset = sql__cursor_to_offset(a->text, len, pr.error->cursorpos);
        a->error = alchdb__strdup(msg);
        pg_query_free_parse_result(pr);
        if (!a->error) {
            sql__analysis_destroy(a);
            return alchdb__nomem("SQL error");
        }
        *out = a;
        return alchdb__error(ALCHDB_E_PARSE, "%s", a->error);
    }
    json_error_t jerr;
    json_t *root = json_loads(pr.parse_tree, 0, &jerr);
    pg_query_free_parse_result(pr);
    if (!root) {
        /* jansson refuses nesting deeper than 2048: analyse statement by statement */
        int rc = json_error_code(&jerr) == json_error_stack_overflow ? build_split(a)
                                                                     : alchdb__nomem("SQL parse tree");
        if (rc < 0) {
            sql__analysis_destroy(a);
            return rc;
        }
        *out = a;
        return 0;
    }
    json_t *stmts = json_object_get(root, "stmts");
    size_t n = json_array_size(stmts);
    int rc = 0;
    if (n) {
        a->stmts = alchdb__calloc(n, sizeof *a->stmts);
        if (!a->stmts)
            rc = alchdb__nomem("SQL statements");
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        a->n = i + 1; /* so destroy frees a half-built statement too */
        rc = build_stmt(a, json_array_get(stmts, i), &a->stmts[i]);
    }
    /* From the same tree, for the cache's primary-key invalidation. */
    if (rc == 0 && n == 1)
        rc = sql__row_target_build(a->text, len, json_object_get(json_array_get(stmts, 0), "stmt"), &a->rt);
    json_decref(root);
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

/* ---- public API ----------------------------------------------------------- */

ALCHDB_API int alchdb_sql_analyze(const char *sql, size_t len, alchdb_sql_analysis **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    int err = 0;
    *out = (alchdb_sql_analysis *)alchdb__sql_analyze_shared(sql, len, &err);
    return err;
}

ALCHDB_API void alchdb_sql_analysis_free(alchdb_sql_analysis *a) { alchdb__sql_release(a); }

ALCHDB_API const char *alchdb_sql_analysis_error(const alchdb_sql_analysis *a, int64_t *offset_out)
{
    if (offset_out)
        *offset_out = -1;
    if (!a) {
        alchdb__invalid_arg(__func__, "a", "must not be NULL");
        return NULL;
    }
    if (offset_out && a->error)
        *offset_out = a->err_offset;
    return a->error;
}

ALCHDB_API size_t alchdb_sql_analysis_count(const alchdb_sql_analysis *a)
{
    if (!a) {
        alchdb__invalid_arg(__func__, "a", "must not be NULL");
        return 0;
    }
    return a->n;
}

static const sql_stmt *stmt_at(const alchdb_sql_analysis *a, size_t i, const char *func)
{
    if (!a) {
        alchdb__invalid_arg(func, "a", "must not be NULL");
        return NULL;
    }
    if (i >= a->n) {
        alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'i': statement %zu of %zu", func, i, a->n);
        return NULL;
    }
    return &a->stmts[i];
}

ALCHDB_API int alchdb_sql_stmt_kind(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->kind : ALCHDB_E_INVALID;
}

ALCHDB_API const char *alchdb_sql_kind_name(int kind)
{
    if (kind < 0 || (size_t)kind >= sizeof kind_names / sizeof kind_names[0]) {
        alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'kind': %d is not an alchdb_sql_kind", __func__, kind);
        return NULL;
    }
    return kind_names[kind];
}

ALCHDB_API int alchdb_sql_stmt_flags(const alchdb_sql_analysis *a, size_t i, uint32_t *flags_out)
{
    ALCHDB_CHECK_ARG(flags_out, "flags_out", "must not be NULL");
    *flags_out = 0;
    const sql_stmt *st = stmt_at(a, i, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    *flags_out = st->flags;
    return 0;
}

ALCHDB_API int alchdb_sql_stmt_span(const alchdb_sql_analysis *a, size_t i, size_t *offset, size_t *length)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    if (offset)
        *offset = st->offset;
    if (length)
        *length = st->length;
    return 0;
}

ALCHDB_API int alchdb_sql_stmt_fingerprint(const alchdb_sql_analysis *a, size_t i, uint64_t *out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = 0;
    const sql_stmt *st = stmt_at(a, i, __func__);
    if (!st)
        return ALCHDB_E_INVALID;
    *out = st->fingerprint;
    return 0;
}

ALCHDB_API const char *alchdb_sql_stmt_normalized(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->normalized : NULL;
}

static const sql_strset *tables_of(const alchdb_sql_analysis *a, size_t i, int which, const char *func)
{
    if (which != ALCHDB_SQL_TABLES_READ && which != ALCHDB_SQL_TABLES_WRITTEN) {
        alchdb__invalid_arg(func, "which", "must be ALCHDB_SQL_TABLES_READ or ALCHDB_SQL_TABLES_WRITTEN");
        return NULL;
    }
    const sql_stmt *st = stmt_at(a, i, func);
    return st ? &st->tables[which] : NULL;
}

static const char *set_item(const sql_strset *s, size_t j, const char *func)
{
    if (!s)
        return NULL;
    if (j >= s->n) {
        alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'j': item %zu of %zu", func, j, s->n);
        return NULL;
    }
    return s->items[j];
}

ALCHDB_API size_t alchdb_sql_stmt_table_count(const alchdb_sql_analysis *a, size_t i, int which)
{
    const sql_strset *s = tables_of(a, i, which, __func__);
    return s ? s->n : 0;
}

ALCHDB_API const char *alchdb_sql_stmt_table(const alchdb_sql_analysis *a, size_t i, int which, size_t j)
{
    return set_item(tables_of(a, i, which, __func__), j, __func__);
}

ALCHDB_API size_t alchdb_sql_stmt_volatile_count(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->funcs.n : 0;
}

ALCHDB_API const char *alchdb_sql_stmt_volatile(const alchdb_sql_analysis *a, size_t i, size_t j)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return set_item(st ? &st->funcs : NULL, j, __func__);
}

ALCHDB_API const char *alchdb_sql_stmt_not_cacheable_reason(const alchdb_sql_analysis *a, size_t i)
{
    const sql_stmt *st = stmt_at(a, i, __func__);
    return st ? st->reason : NULL;
}

ALCHDB_API uint64_t alchdb_sql_hash(const char *sql, size_t len)
{
    if (!sql)
        return alchdb__hash64("", 0, 0);
    if (len == (size_t)-1)
        len = strlen(sql);
    return alchdb__hash64(sql, len, 0);
}

const alchdb__sql_row_target *alchdb__sql_row_target_of(const alchdb_sql_analysis *a)
{
    return a ? a->rt : NULL;
}
