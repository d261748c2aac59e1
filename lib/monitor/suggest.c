/* Suggestions from libpg_query's JSON parse tree (computed once per pattern,
 * off the record path's fast lane). */
#include <jansson.h>
#include <string.h>
#include <strings.h>

#include "monitor/monitor_internal.h"

static const struct {
    unsigned bit;
    const char *code, *text;
} sugg_table[] = {
    {MON_SUG_SELECT_STAR, "select_star",
     "SELECT * reads every column: name the columns you need (less I/O, index-only scans possible)"},
    {MON_SUG_LEADING_LIKE, "leading_wildcard_like",
     "LIKE with a leading wildcard cannot use a btree index: use a trigram (pg_trgm) index or full-text search"},
    {MON_SUG_LARGE_OFFSET, "large_offset",
     "large OFFSET pagination reads and discards every skipped row: use keyset pagination (WHERE key > last_seen)"},
    {MON_SUG_NO_WHERE_WRITE, "write_without_where",
     "UPDATE/DELETE without WHERE touches every row of the table"},
    {MON_SUG_FUNC_ON_COLUMN, "function_on_filtered_column",
     "a function applied to a filtered column prevents a plain index on it: use an expression index or compare the bare column"},
    {MON_SUG_ORDER_RANDOM, "order_by_random",
     "ORDER BY random() sorts the whole input: use TABLESAMPLE or pick random keys"},
    {MON_SUG_UNBOUNDED, "unbounded_result",
     "SELECT from a table without WHERE or LIMIT returns an unbounded result set: add a LIMIT or a filter"},
};

const char *alchdb__monitor_suggest_code(unsigned bit)
{
    for (size_t i = 0; i < sizeof sugg_table / sizeof sugg_table[0]; i++)
        if (sugg_table[i].bit == bit)
            return sugg_table[i].code;
    return "unknown";
}

const char *alchdb__monitor_suggest_text(unsigned bit)
{
    for (size_t i = 0; i < sizeof sugg_table / sizeof sugg_table[0]; i++)
        if (sugg_table[i].bit == bit)
            return sugg_table[i].text;
    return "";
}

typedef struct sctx {
    uint32_t bits;
    int64_t large_offset;
    int64_t offset_seen;
} sctx;

static const char *funcname_last(json_t *funccall)
{
    json_t *names = json_object_get(funccall, "funcname");
    size_t n = json_array_size(names);
    if (!n)
        return NULL;
    json_t *s = json_object_get(json_array_get(names, n - 1), "String");
    return json_string_value(json_object_get(s, "sval"));
}

static bool has_column_arg(json_t *funccall)
{
    json_t *args = json_object_get(funccall, "args");
    size_t i;
    json_t *a;
    json_array_foreach(args, i, a) {
        if (json_object_get(a, "ColumnRef"))
            return true;
        json_t *tc = json_object_get(a, "TypeCast");
        if (tc && json_object_get(json_object_get(tc, "arg"), "ColumnRef"))
            return true;
    }
    return false;
}

static bool func_on_column(json_t *side)
{
    json_t *fc = json_object_get(side, "FuncCall");
    return fc && has_column_arg(fc);
}

/* Walk a WHERE clause for comparisons with a function of a column on one side. */
static void walk_where(json_t *n, sctx *c)
{
    if (json_is_array(n)) {
        size_t i;
        json_t *v;
        json_array_foreach(n, i, v) walk_where(v, c);
        return;
    }
    if (!json_is_object(n))
        return;
    json_t *ae = json_object_get(n, "A_Expr");
    if (ae && (func_on_column(json_object_get(ae, "lexpr")) ||
               func_on_column(json_object_get(ae, "rexpr"))))
        c->bits |= MON_SUG_FUNC_ON_COLUMN;
    json_t *sel = json_object_get(n, "SelectStmt"); /* subqueries are walked separately */
    if (sel)
        return;
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v) walk_where(v, c);
}

static int64_t const_int(json_t *n)
{
    json_t *ac = json_object_get(n, "A_Const");
    json_t *iv = json_object_get(ac, "ival");
    if (!iv)
        return -1;
    json_t *x = json_object_get(iv, "ival");
    return x ? json_integer_value(x) : 0;
}

static bool is_aggregate(const char *name)
{
    static const char *aggs[] = {"count",     "sum",      "avg",        "min",      "max",
                                 "array_agg", "string_agg", "bool_and", "bool_or",  "every",
                                 "json_agg",  "jsonb_agg", "json_object_agg", "jsonb_object_agg",
                                 "stddev",    "variance", "percentile_cont", "percentile_disc"};
    for (size_t i = 0; name && i < sizeof aggs / sizeof aggs[0]; i++)
        if (!strcasecmp(name, aggs[i]))
            return true;
    return false;
}

static void check_select(json_t *s, sctx *c, bool top)
{
    size_t i;
    json_t *v;
    bool aggregate = false;
    json_array_foreach(json_object_get(s, "targetList"), i, v) {
        json_t *val = json_object_get(json_object_get(v, "ResTarget"), "val");
        json_t *cr = json_object_get(val, "ColumnRef");
        if (cr) {
            json_t *fields = json_object_get(cr, "fields");
            json_t *last = json_array_get(fields, json_array_size(fields) - 1);
            if (json_object_get(last, "A_Star"))
                c->bits |= MON_SUG_SELECT_STAR;
        }
        json_t *fc = json_object_get(val, "FuncCall");
        if (fc && is_aggregate(funcname_last(fc)))
            aggregate = true;
    }
    json_array_foreach(json_object_get(s, "sortClause"), i, v) {
        json_t *fc = json_object_get(json_object_get(json_object_get(v, "SortBy"), "node"),
                                     "FuncCall");
        const char *fn = fc ? funcname_last(fc) : NULL;
        if (fn && !strcasecmp(fn, "random"))
            c->bits |= MON_SUG_ORDER_RANDOM;
    }
    int64_t off = const_int(json_object_get(s, "limitOffset"));
    if (off >= c->large_offset) {
        c->bits |= MON_SUG_LARGE_OFFSET;
        if (off > c->offset_seen)
            c->offset_seen = off;
    }
    json_t *where = json_object_get(s, "whereClause");
    if (where)
        walk_where(where, c);
    const char *op = json_string_value(json_object_get(s, "op"));
    if (top && json_array_size(json_object_get(s, "fromClause")) > 0 && !where &&
        !json_object_get(s, "limitCount") && !json_object_get(s, "groupClause") &&
        !json_object_get(s, "havingClause") && !aggregate && (!op || !strcmp(op, "SETOP_NONE")))
        c->bits |= MON_SUG_UNBOUNDED;
}

static void walk(json_t *n, sctx *c)
{
    if (json_is_array(n)) {
        size_t i;
        json_t *v;
        json_array_foreach(n, i, v) walk(v, c);
        return;
    }
    if (!json_is_object(n))
        return;
    const char *k;
    json_t *v;
    json_object_foreach(n, k, v) {
        if (!strcmp(k, "SelectStmt")) {
            check_select(v, c, false);
        } else if (!strcmp(k, "UpdateStmt") || !strcmp(k, "DeleteStmt")) {
            json_t *where = json_object_get(v, "whereClause");
            if (!where)
                c->bits |= MON_SUG_NO_WHERE_WRITE;
            else
                walk_where(where, c);
        } else if (!strcmp(k, "A_Expr")) {
            const char *kind = json_string_value(json_object_get(v, "kind"));
            if (kind && (!strcmp(kind, "AEXPR_LIKE") || !strcmp(kind, "AEXPR_ILIKE"))) {
                json_t *ac = json_object_get(json_object_get(v, "rexpr"), "A_Const");
                const char *pat =
                    json_string_value(json_object_get(json_object_get(ac, "sval"), "sval"));
                if (pat && pat[0] == '%')
                    c->bits |= MON_SUG_LEADING_LIKE;
            }
        }
        walk(v, c);
    }
}

uint32_t alchdb__monitor_suggest(const char *json_tree, int64_t large_offset, int64_t *offset_seen)
{
    json_error_t jerr;
    json_t *root = json_loads(json_tree, 0, &jerr);
    if (!root)
        return 0;
    sctx c = {.bits = 0, .large_offset = large_offset, .offset_seen = 0};
    json_t *stmts = json_object_get(root, "stmts");
    size_t i;
    json_t *st;
    json_array_foreach(stmts, i, st) {
        json_t *stmt = json_object_get(st, "stmt");
        json_t *sel = json_object_get(stmt, "SelectStmt");
        if (sel)
            check_select(sel, &c, true); /* walk() below re-checks it as a non-top node */
        walk(stmt, &c);
    }
    json_decref(root);
    *offset_seen = c.offset_seen;
    return c.bits;
}
