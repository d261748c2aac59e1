/* Identifiers rendered as PostgreSQL's quote_ident renders them, so that a
 * name printed by the library reads back as the same object: "a.b" stays one
 * name, "App" keeps its case, "char" is not the type char.
 *
 * The keywords that force quoting are PostgreSQL 15's reserved, column-name
 * and type/function-name keywords (unreserved ones are valid bare names):
 * the categories of pg_get_keywords() on PostgreSQL 15, which the names test
 * checks against a live server. */
#include <stdlib.h>

#include "sql_priv.h"
#include "tree.h"

static const char *const quoted_keywords[] = { /* sorted for bsearch */
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization", "between",
    "bigint", "binary", "bit", "boolean", "both", "case", "cast", "char", "character", "check", "coalesce",
    "collate", "collation", "column", "concurrently", "constraint", "create", "cross", "current_catalog",
    "current_date", "current_role", "current_schema", "current_time", "current_timestamp", "current_user",
    "dec", "decimal", "default", "deferrable", "desc", "distinct", "do", "else", "end", "except", "exists",
    "extract", "false", "fetch", "float", "for", "foreign", "freeze", "from", "full", "grant", "greatest",
    "group", "grouping", "having", "ilike", "in", "initially", "inner", "inout", "int", "integer", "intersect",
    "interval", "into", "is", "isnull", "join", "lateral", "leading", "least", "left", "like", "limit",
    "localtime", "localtimestamp", "national", "natural", "nchar", "none", "normalize", "not", "notnull",
    "null", "nullif", "numeric", "offset", "on", "only", "or", "order", "out", "outer", "overlaps", "overlay",
    "placing", "position", "precision", "primary", "real", "references", "returning", "right", "row", "select",
    "session_user", "setof", "similar", "smallint", "some", "substring", "symmetric", "table", "tablesample",
    "then", "time", "timestamp", "to", "trailing", "treat", "trim", "true", "union", "unique", "user", "using",
    "values", "varchar", "variadic", "verbose", "when", "where", "window", "with", "xmlattributes",
    "xmlconcat", "xmlelement", "xmlexists", "xmlforest", "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot",
    "xmlserialize", "xmltable",
};

static int cmp_word(const void *key, const void *elem)
{
    return strcmp(key, *(const char *const *)elem);
}

bool sql__keyword_needs_quotes(const char *word)
{
    return bsearch(word, quoted_keywords, sizeof quoted_keywords / sizeof quoted_keywords[0],
                   sizeof quoted_keywords[0], cmp_word) != NULL;
}

size_t sql__quoted_keyword_count(void) { return sizeof quoted_keywords / sizeof quoted_keywords[0]; }
const char *sql__quoted_keyword(size_t i) { return quoted_keywords[i]; }

bool alchdb__sql_ident_needs_quotes(const char *ident)
{
    if (!ident || !*ident || !((ident[0] >= 'a' && ident[0] <= 'z') || ident[0] == '_'))
        return true;
    for (const char *p = ident; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            return true;
    return sql__keyword_needs_quotes(ident);
}

void alchdb__sql_quote_ident(alchdb__strbuf *sb, const char *ident)
{
    if (!ident)
        ident = "";
    if (!alchdb__sql_ident_needs_quotes(ident)) {
        alchdb__sb_puts(sb, ident);
        return;
    }
    alchdb__sb_puts(sb, "\"");
    for (const char *p = ident; *p;) {
        const char *q = strchr(p, '"');
        if (!q) {
            alchdb__sb_puts(sb, p);
            break;
        }
        alchdb__sb_append(sb, p, (size_t)(q - p) + 1);
        alchdb__sb_puts(sb, "\"");
        p = q + 1;
    }
    alchdb__sb_puts(sb, "\"");
}

void alchdb__sql_quote_qualified(alchdb__strbuf *sb, const char *catalog, const char *schema, const char *name)
{
    if (catalog) {
        alchdb__sql_quote_ident(sb, catalog);
        alchdb__sb_puts(sb, ".");
    }
    if (schema) {
        alchdb__sql_quote_ident(sb, schema);
        alchdb__sb_puts(sb, ".");
    }
    alchdb__sql_quote_ident(sb, name);
}

/* One identifier token: an unquoted word folded to lower case (ASCII, as
 * PostgreSQL folds), or a quoted one with its doubled quotes undone. */
static char *ident_of(const char *s, const alchdb__sql_tok *t)
{
    if (t->kind == ALCHDB__SQL_TOK_WORD) {
        char *out = alchdb__strndup(s + t->start, t->len);
        for (char *p = out; p && *p; p++)
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p + ('a' - 'A'));
        return out;
    }
    /* "..." (a U&"..." identifier is refused by the caller) */
    const char *p = s + t->start + 1, *end = s + t->start + t->len - 1;
    char *out = alchdb__malloc((size_t)(end - p) + 1);
    size_t n = 0;
    for (; out && p < end; p++) {
        out[n++] = *p;
        if (*p == '"')
            p++;
    }
    if (out)
        out[n] = '\0';
    return out;
}

int alchdb__sql_qualified_name(const char *text, size_t len, char **schema_out, char **name_out)
{
    *schema_out = *name_out = NULL;
    ALCHDB_CHECK_ARG(text, "name", "must not be NULL");
    if (len == (size_t)-1)
        len = strlen(text);
    char *parts[3] = {NULL, NULL, NULL};
    size_t np = 0;
    bool want_ident = true;
    alchdb__sql_tok t;
    int rc = 0;
    for (size_t pos = alchdb__sql_skip_space_comments(text, 0, len); pos < len && rc == 0;
         pos = alchdb__sql_skip_space_comments(text, pos, len)) {
        pos = alchdb__sql_token(text, len, pos, &t);
        bool quoted_ok = t.kind == ALCHDB__SQL_TOK_QIDENT && text[t.start] == '"' && t.len >= 2 &&
                         text[t.start + t.len - 1] == '"' && t.len > 2;
        if (want_ident && (t.kind == ALCHDB__SQL_TOK_WORD || quoted_ok) && np < 3) {
            if (!(parts[np++] = ident_of(text, &t)))
                rc = alchdb__nomem("SQL name");
            want_ident = false;
        } else if (!want_ident && t.kind == ALCHDB__SQL_TOK_PUNCT && t.len == 1 && text[t.start] == '.') {
            want_ident = true;
        } else {
            rc = ALCHDB_E_INVALID;
        }
    }
    if (rc == 0 && (np == 0 || want_ident))
        rc = ALCHDB_E_INVALID;
    if (rc == 0) {
        *name_out = parts[np - 1];
        parts[np - 1] = NULL;
        if (np >= 2) {
            *schema_out = parts[np - 2];
            parts[np - 2] = NULL;
        }
    }
    for (size_t i = 0; i < 3; i++)
        alchdb__free(parts[i]);
    if (rc == ALCHDB_E_INVALID)
        return alchdb__error(ALCHDB_E_INVALID,
                             "'%.*s' is not a relation name as SQL writes it ([catalog.][schema.]name, each part "
                             "an identifier or a double-quoted name)",
                             (int)(len > 200 ? 200 : len), text);
    return rc;
}
