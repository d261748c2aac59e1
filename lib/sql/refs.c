/* What the layer reads out of single nodes: relation references with their
 * schema and name as separate fields, exact function names, column
 * references, constants (with their exact values), parameters, and type
 * names rendered as SQL. */
#include <inttypes.h>
#include <stdio.h>

#include "sql_priv.h"
#include "tree.h"

bool alchdb__sql_relref_of(const alchdb__sql_node *n, alchdb__sql_relref *out)
{
    const char *name = alchdb__sql_field_str(n, "relname");
    if (!name || (n->type && strcmp(n->type, "RangeVar")))
        return false;
    out->catalog = alchdb__sql_field_str(n, "catalogname");
    out->schema = alchdb__sql_field_str(n, "schemaname");
    out->name = name;
    out->alias = alchdb__sql_field_str(alchdb__sql_node_get(n, "alias"), "aliasname");
    out->cte = (n->flags & ALCHDB__SQL_NF_CTE_REF) != 0;
    const char *persist = alchdb__sql_field_str(n, "relpersistence");
    out->temp = (persist && !strcmp(persist, "t")) || (out->schema && !strncmp(out->schema, "pg_temp", 7));
    return true;
}

size_t alchdb__sql_name_parts(const alchdb__sql_node *list, const char **parts, size_t max)
{
    if (alchdb__sql_node_is(list, "List"))
        list = alchdb__sql_node_get(list, "items");
    size_t n = alchdb__sql_node_count(list);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(parts[i] = alchdb__sql_string_node(alchdb__sql_node_item(list, i))))
            return 0;
    return n;
}

bool alchdb__sql_func_of(const alchdb__sql_node *n, const char **schema, const char **name)
{
    if (n->type && strcmp(n->type, "FuncCall"))
        return false;
    const char *parts[3];
    size_t np = alchdb__sql_name_parts(alchdb__sql_node_get(n, "funcname"), parts, 3);
    if (!np)
        return false;
    *schema = np >= 2 ? parts[np - 2] : NULL;
    *name = parts[np - 1];
    return true;
}

size_t alchdb__sql_column_of(const alchdb__sql_node *n, const char **fields, size_t max, bool *star)
{
    *star = false;
    if (!alchdb__sql_node_is(n, "ColumnRef"))
        return 0;
    const alchdb__sql_node *list = alchdb__sql_node_get(n, "fields");
    size_t k = alchdb__sql_node_count(list);
    if (k == 0 || k > max)
        return 0;
    for (size_t i = 0; i < k; i++) {
        const alchdb__sql_node *f = alchdb__sql_node_item(list, i);
        if (alchdb__sql_node_is(f, "A_Star") && i == k - 1) {
            *star = true;
            fields[i] = "*";
        } else if (!(fields[i] = alchdb__sql_string_node(f))) {
            return 0;
        }
    }
    return k;
}

int alchdb__sql_param_of(const alchdb__sql_node *n)
{
    if (!alchdb__sql_node_is(n, "ParamRef"))
        return 0;
    int64_t num = alchdb__sql_node_int(alchdb__sql_node_get(n, "number"), 0);
    return num >= 1 && num <= 65535 ? (int)num : 0; /* PostgreSQL's limit on bind parameters */
}

/* ---- constants ----------------------------------------------------------------- */

static bool ident_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           ch == '.' || ch == '$' || (unsigned char)ch >= 0x80;
}

/* libpg_query 15-4.0.0 prints an Integer constant only when it is positive:
 * 0 and negative values arrive as "ival": {}. Recover the value from the
 * script at the constant's location, accepting only "digits" and "-digits"
 * (PostgreSQL reports a negated constant at its minus sign). */
static bool int_from_source(const alchdb__sql_tree *t, int64_t loc, alchdb__sql_const *out)
{
    size_t len;
    const char *sql = alchdb__sql_tree_text(t, &len);
    if (loc < 0 || (uint64_t)loc >= len)
        return false;
    const char *p = sql + loc, *end = sql + len;
    bool neg = *p == '-';
    if (neg)
        p++;
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    size_t nd = (size_t)(p - digits);
    if (nd == 0 || (p < end && ident_char(*p)))
        return false;
    while (nd > 1 && *digits == '0') {
        digits++;
        nd--;
    }
    if (nd > 10)
        return false; /* not an int4: it would not be an Integer node */
    long long v = 0;
    for (size_t i = 0; i < nd; i++)
        v = v * 10 + (digits[i] - '0');
    if (neg)
        v = -v;
    if (v > 0 || v < -2147483648LL)
        return false; /* a positive value would have been printed: not this constant */
    snprintf(out->buf, sizeof out->buf, "%lld", v);
    out->text = out->buf;
    return true;
}

bool alchdb__sql_const_of(const alchdb__sql_tree *t, const alchdb__sql_node *n, alchdb__sql_const *out)
{
    if (!alchdb__sql_node_is(n, "A_Const"))
        return false;
    out->location = alchdb__sql_node_int(alchdb__sql_node_get(n, "location"), -1);
    out->text = NULL;
    const alchdb__sql_node *v;
    if (alchdb__sql_node_true(alchdb__sql_node_get(n, "isnull"))) {
        out->kind = ALCHDB__SQL_CONST_NULL;
        out->text = "NULL";
        return true;
    }
    if ((v = alchdb__sql_node_get(n, "ival")) != NULL) {
        out->kind = ALCHDB__SQL_CONST_INT;
        const alchdb__sql_node *iv = alchdb__sql_node_get(v, "ival");
        if (!iv)
            return int_from_source(t, out->location, out);
        if (iv->jtype != ALCHDB__SQL_J_INT)
            return false;
        snprintf(out->buf, sizeof out->buf, "%" PRId64, iv->num);
        out->text = out->buf;
        return true;
    }
    if ((v = alchdb__sql_node_get(n, "fval")) != NULL) {
        out->kind = ALCHDB__SQL_CONST_FLOAT;
        out->text = alchdb__sql_field_str(v, "fval");
    } else if ((v = alchdb__sql_node_get(n, "sval")) != NULL) {
        out->kind = ALCHDB__SQL_CONST_STRING;
        out->text = alchdb__sql_field_str(v, "sval");
        if (!out->text)
            out->text = ""; /* '' prints as {} */
    } else if ((v = alchdb__sql_node_get(n, "boolval")) != NULL) {
        out->kind = ALCHDB__SQL_CONST_BOOL;
        out->text = alchdb__sql_node_true(alchdb__sql_node_get(v, "boolval")) ? "true" : "false";
    } else if ((v = alchdb__sql_node_get(n, "bsval")) != NULL) {
        out->kind = ALCHDB__SQL_CONST_BITS;
        out->text = alchdb__sql_field_str(v, "bsval");
    }
    return out->text != NULL;
}

/* ---- type names ---------------------------------------------------------------- */

/* The range keywords of an interval typmod: PostgreSQL stores them as a bit
 * mask (YEAR = 1 << 2, MONTH = 1 << 1, DAY = 1 << 3, HOUR = 1 << 10,
 * MINUTE = 1 << 11, SECOND = 1 << 12; all of them: 0x7FFF). */
static const char *interval_range(int64_t mask)
{
    static const struct {
        int64_t mask;
        const char *text;
    } ranges[] = {
        {1 << 2, "YEAR"},
        {1 << 1, "MONTH"},
        {1 << 3, "DAY"},
        {1 << 10, "HOUR"},
        {1 << 11, "MINUTE"},
        {1 << 12, "SECOND"},
        {1 << 2 | 1 << 1, "YEAR TO MONTH"},
        {1 << 3 | 1 << 10, "DAY TO HOUR"},
        {1 << 3 | 1 << 10 | 1 << 11, "DAY TO MINUTE"},
        {1 << 3 | 1 << 10 | 1 << 11 | 1 << 12, "DAY TO SECOND"},
        {1 << 10 | 1 << 11, "HOUR TO MINUTE"},
        {1 << 10 | 1 << 11 | 1 << 12, "HOUR TO SECOND"},
        {1 << 11 | 1 << 12, "MINUTE TO SECOND"},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (ranges[i].mask == mask)
            return ranges[i].text;
    return NULL;
}

static int typmod_text(const alchdb__sql_node *m, alchdb__strbuf *sb)
{
    const alchdb__sql_node *iv = alchdb__sql_node_get(m, "ival"), *fv = alchdb__sql_node_get(m, "fval"),
                           *sv = alchdb__sql_node_get(m, "sval");
    if (alchdb__sql_node_is(m, "A_Const") && iv) {
        alchdb__sb_printf(sb, "%" PRId64, alchdb__sql_node_int(alchdb__sql_node_get(iv, "ival"), 0));
    } else if (alchdb__sql_node_is(m, "A_Const") && fv && alchdb__sql_field_str(fv, "fval")) {
        alchdb__sb_puts(sb, alchdb__sql_field_str(fv, "fval"));
    } else if (alchdb__sql_node_is(m, "A_Const") && sv) {
        const char *s = alchdb__sql_field_str(sv, "sval");
        alchdb__sb_puts(sb, "'");
        for (; s && *s; s++)
            alchdb__sb_append(sb, *s == '\'' ? "''" : s, *s == '\'' ? 2 : 1);
        alchdb__sb_puts(sb, "'");
    } else if (alchdb__sql_node_is(m, "ColumnRef")) {
        const char *f[1];
        bool star;
        if (alchdb__sql_column_of(m, f, 1, &star) != 1 || star)
            return ALCHDB_E_UNSUPPORTED;
        alchdb__sql_quote_ident(sb, f[0]);
    } else {
        return ALCHDB_E_UNSUPPORTED;
    }
    return 0;
}

/* An interval with typmods: PostgreSQL reads a generic typmod of
 * pg_catalog.interval as its range mask (interval(2) is "interval month"),
 * so these are written with the INTERVAL keyword: INTERVAL DAY TO
 * SECOND(3), INTERVAL(2). */
static int render_interval(const alchdb__sql_node *mods, alchdb__strbuf *sb)
{
    const alchdb__sql_node *m0 = alchdb__sql_node_get(alchdb__sql_node_item(mods, 0), "ival");
    int64_t mask = alchdb__sql_node_int(alchdb__sql_node_get(m0, "ival"), -1);
    const char *range = interval_range(mask);
    if (!range && mask != 0x7FFF)
        return alchdb__error(ALCHDB_E_UNSUPPORTED, "an interval range this library does not know");
    alchdb__sb_puts(sb, "INTERVAL");
    if (range) {
        alchdb__sb_puts(sb, " ");
        alchdb__sb_puts(sb, range);
    }
    if (alchdb__sql_node_count(mods) > 1) {
        alchdb__sb_puts(sb, "(");
        if (typmod_text(alchdb__sql_node_item(mods, 1), sb) < 0)
            return alchdb__error(ALCHDB_E_UNSUPPORTED, "an interval precision that is not a constant");
        alchdb__sb_puts(sb, ")");
    }
    return 0;
}

int alchdb__sql_type_render(const alchdb__sql_node *tn, alchdb__strbuf *sb)
{
    const char *parts[4];
    size_t np = alchdb__sql_name_parts(alchdb__sql_node_get(tn, "names"), parts, 4);
    if (!np)
        return alchdb__error(ALCHDB_E_UNSUPPORTED, "a type given by OID cannot be rendered");
    if (alchdb__sql_node_true(alchdb__sql_node_get(tn, "setof")))
        alchdb__sb_puts(sb, "SETOF ");
    const alchdb__sql_node *mods = alchdb__sql_node_get(tn, "typmods");
    size_t nm = alchdb__sql_node_count(mods);
    if (np == 2 && !strcmp(parts[0], "pg_catalog") && !strcmp(parts[1], "interval") && nm > 0) {
        int rc = render_interval(mods, sb);
        if (rc < 0)
            return rc;
    } else {
        for (size_t i = 0; i < np; i++) {
            if (i)
                alchdb__sb_puts(sb, ".");
            alchdb__sql_quote_ident(sb, parts[i]);
        }
        if (alchdb__sql_node_true(alchdb__sql_node_get(tn, "pct_type")))
            alchdb__sb_puts(sb, "%TYPE");
        for (size_t i = 0; i < nm; i++) {
            alchdb__sb_puts(sb, i == 0 ? "(" : ", ");
            if (typmod_text(alchdb__sql_node_item(mods, i), sb) < 0)
                return alchdb__error(ALCHDB_E_UNSUPPORTED, "a type modifier that is not a constant cannot be rendered");
            if (i + 1 == nm)
                alchdb__sb_puts(sb, ")");
        }
    }
    const alchdb__sql_node *bounds = alchdb__sql_node_get(tn, "arrayBounds");
    for (size_t i = 0; i < alchdb__sql_node_count(bounds); i++) {
        /* {"Integer": {"ival": 3}}; -1 ("[]") prints without its value */
        int64_t b = alchdb__sql_node_int(alchdb__sql_node_get(alchdb__sql_node_item(bounds, i), "ival"), -1);
        if (b >= 0)
            alchdb__sb_printf(sb, "[%" PRId64 "]", b);
        else
            alchdb__sb_puts(sb, "[]");
    }
    return 0;
}
