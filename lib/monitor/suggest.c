/* Suggestions from the parse tree (computed once per pattern, off the record
 * path's fast lane), read through the SQL layer's visitor: any depth of
 * statement is walked without recursion. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "monitor/monitor_internal.h"
#include "sql/tree.h"

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
    const alchdb__sql_tree *tree;
    const alchdb__sql_node *root; /* the statement being walked */
    uint32_t bits;
    int64_t large_offset;
    int64_t offset_seen;
} sctx;

/* Visit state: the node is inside the WHERE clause of a SELECT, UPDATE or
 * DELETE (not crossing into a subquery). */
#define IN_WHERE ((uintptr_t)1)

static const char *funcname_last(const alchdb__sql_node *fc)
{
    const char *schema, *name;
    return alchdb__sql_func_of(fc, &schema, &name) ? name : NULL;
}

/* A function call with a column (or a cast column) among its arguments. */
static bool func_on_column(const alchdb__sql_node *side)
{
    if (!alchdb__sql_node_is(side, "FuncCall"))
        return false;
    const alchdb__sql_node *args = alchdb__sql_node_get(side, "args");
    for (size_t i = 0; i < alchdb__sql_node_count(args); i++) {
        const alchdb__sql_node *a = alchdb__sql_node_item(args, i);
        if (alchdb__sql_node_is(a, "ColumnRef") ||
            (alchdb__sql_node_is(a, "TypeCast") && alchdb__sql_node_is(alchdb__sql_node_get(a, "arg"), "ColumnRef")))
            return true;
    }
    return false;
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

/* OFFSET's value when it is an integer constant, else -1. */
static int64_t const_int(const sctx *c, const alchdb__sql_node *n)
{
    alchdb__sql_const k;
    if (!alchdb__sql_const_of(c->tree, n, &k) || k.kind != ALCHDB__SQL_CONST_INT)
        return alchdb__sql_node_is(n, "A_Const") && alchdb__sql_node_get(n, "ival") ? 0 : -1;
    return strtoll(k.text, NULL, 10);
}

/* What a SELECT says at its own level (its subqueries are visited as SELECTs
 * of their own). */
static void check_select(sctx *c, const alchdb__sql_node *s, bool top)
{
    bool aggregate = false;
    const alchdb__sql_node *tl = alchdb__sql_node_get(s, "targetList");
    for (size_t i = 0; i < alchdb__sql_node_count(tl); i++) {
        const alchdb__sql_node *val = alchdb__sql_node_get(alchdb__sql_node_item(tl, i), "val");
        const char *fields[4];
        bool star;
        if (alchdb__sql_column_of(val, fields, 4, &star) && star)
            c->bits |= MON_SUG_SELECT_STAR;
        if (alchdb__sql_node_is(val, "FuncCall") && is_aggregate(funcname_last(val)))
            aggregate = true;
    }
    const alchdb__sql_node *sort = alchdb__sql_node_get(s, "sortClause");
    for (size_t i = 0; i < alchdb__sql_node_count(sort); i++) {
        const alchdb__sql_node *node = alchdb__sql_node_get(alchdb__sql_node_item(sort, i), "node");
        const char *fn = alchdb__sql_node_is(node, "FuncCall") ? funcname_last(node) : NULL;
        if (fn && !strcasecmp(fn, "random"))
            c->bits |= MON_SUG_ORDER_RANDOM;
    }
    int64_t off = const_int(c, alchdb__sql_node_get(s, "limitOffset"));
    if (off >= c->large_offset) {
        c->bits |= MON_SUG_LARGE_OFFSET;
        if (off > c->offset_seen)
            c->offset_seen = off;
    }
    const char *op = alchdb__sql_field_str(s, "op");
    if (top && alchdb__sql_node_count(alchdb__sql_node_get(s, "fromClause")) > 0 &&
        !alchdb__sql_node_get(s, "whereClause") && !alchdb__sql_node_get(s, "limitCount") &&
        !alchdb__sql_node_get(s, "groupClause") && !alchdb__sql_node_get(s, "havingClause") && !aggregate &&
        (!op || !strcmp(op, "SETOP_NONE")))
        c->bits |= MON_SUG_UNBOUNDED;
}

static int enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                 uintptr_t *state)
{
    sctx *c = ud;
    const char *type = alchdb__sql_node_type(n);
    const char *pt = alchdb__sql_node_type(parent);
    if (key && !strcmp(key, "whereClause") && pt &&
        (!strcmp(pt, "SelectStmt") || !strcmp(pt, "UpdateStmt") || !strcmp(pt, "DeleteStmt")))
        *state |= IN_WHERE;
    if (!type)
        return ALCHDB__SQL_VISIT_DESCEND;
    if (!strcmp(type, "SelectStmt")) {
        *state &= ~IN_WHERE;
        check_select(c, n, n == c->root);
    } else if (!strcmp(type, "UpdateStmt") || !strcmp(type, "DeleteStmt")) {
        *state &= ~IN_WHERE;
        if (!alchdb__sql_node_get(n, "whereClause"))
            c->bits |= MON_SUG_NO_WHERE_WRITE;
    } else if (!strcmp(type, "A_Expr")) {
        const char *kind = alchdb__sql_field_str(n, "kind");
        if (kind && (!strcmp(kind, "AEXPR_LIKE") || !strcmp(kind, "AEXPR_ILIKE"))) {
            const alchdb__sql_node *r = alchdb__sql_node_get(n, "rexpr");
            alchdb__sql_const k;
            if (alchdb__sql_const_of(c->tree, r, &k) && k.kind == ALCHDB__SQL_CONST_STRING && k.text[0] == '%')
                c->bits |= MON_SUG_LEADING_LIKE;
        }
        if ((*state & IN_WHERE) &&
            (func_on_column(alchdb__sql_node_get(n, "lexpr")) || func_on_column(alchdb__sql_node_get(n, "rexpr"))))
            c->bits |= MON_SUG_FUNC_ON_COLUMN;
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

uint32_t alchdb__monitor_suggest(const char *sql, size_t len, int64_t large_offset, int64_t *offset_seen)
{
    *offset_seen = 0;
    alchdb__sql_tree *t = NULL;
    if (alchdb__sql_tree_parse(sql, len, &t, NULL) != 0)
        return 0; /* unparsed or too deep: no suggestions */
    sctx c = {.tree = t, .large_offset = large_offset};
    for (size_t i = 0; i < alchdb__sql_tree_count(t); i++) {
        c.root = alchdb__sql_tree_stmt(t, i, NULL, NULL);
        alchdb__sql_visit(c.root, alchdb__sql_tree_depth(t), 0, enter, NULL, &c);
    }
    alchdb__sql_tree_free(t);
    *offset_seen = c.offset_seen;
    return c.bits;
}
