/* The query key of one statement: which executions are "the same query",
 * close to PostgreSQL 15's query jumbling (pg_stat_statements' queryid) but
 * read from the raw parse tree.
 *
 * libpg_query's fingerprint is not that: it hashes each list as the set of
 * its items' hashes and ignores every constant, so `SELECT a` and
 * `SELECT a, a`, `f(1)` and `f(1, 2)`, `INSERT (k, v)` and `INSERT (v, k)`,
 * `ORDER BY 1` and `ORDER BY 2`, `LIMIT 5` and `LIMIT 5 OFFSET 10` all share
 * one fingerprint. Here the whole tree is hashed in order: lists keep their
 * length and order, constants count by kind (integer, numeric, string, bit
 * string, boolean, NULL) but not by value, parameters by number. Exceptions,
 * each as PostgreSQL treats them:
 *   - an integer constant that is an ORDER BY or GROUP BY item is a column
 *     position: its value counts;
 *   - column aliases in SELECT and RETURNING lists and relation aliases do
 *     not count;
 *   - source locations do not count.
 * And one deliberate difference: a list made only of constants and
 * parameters in `IN (...)`, `ARRAY[...]` or the rows of VALUES counts as one
 * item whatever its length (PostgreSQL 18 squashes such lists too), so
 * `IN (1, 2)` and `IN (3, 4, 5)` are one query.
 *
 * The walk uses an explicit stack (the tree's depth is bounded when it is
 * parsed), never recursion. */
#include <string.h>

#include "sql/sql_internal.h"
#include "sql/tree.h"

typedef struct jhash {
    unsigned char buf[512];
    size_t n;
    uint64_t h;
} jhash;

static void jflush(jhash *j)
{
    if (j->n) {
        j->h = alchdb__hash64(j->buf, j->n, j->h);
        j->n = 0;
    }
}

static void jput(jhash *j, const void *p, size_t n)
{
    const unsigned char *s = p;
    while (n) {
        if (j->n == sizeof j->buf)
            jflush(j);
        size_t k = sizeof j->buf - j->n < n ? sizeof j->buf - j->n : n;
        memcpy(j->buf + j->n, s, k);
        j->n += k;
        s += k;
        n -= k;
    }
}

static void jbyte(jhash *j, unsigned char c) { jput(j, &c, 1); }

static void jstr(jhash *j, const char *s)
{
    jput(j, s ? s : "", s ? strlen(s) : 0);
    jbyte(j, 0);
}

static void jint(jhash *j, int64_t v) { jput(j, &v, sizeof v); }

/* A_Const, ParamRef, or a TypeCast of one of them. */
static bool const_like(const alchdb__sql_node *n)
{
    if (alchdb__sql_node_is(n, "TypeCast"))
        n = alchdb__sql_node_get(n, "arg");
    return alchdb__sql_node_is(n, "A_Const") || alchdb__sql_node_is(n, "ParamRef");
}

static bool all_const(const alchdb__sql_node *list)
{
    size_t n = alchdb__sql_node_count(list);
    for (size_t i = 0; i < n; i++)
        if (!const_like(alchdb__sql_node_item(list, i)))
            return false;
    return n > 0;
}

/* Rows of VALUES made only of constants: their common width, else 0. */
static size_t const_rows(const alchdb__sql_node *rows)
{
    size_t n = alchdb__sql_node_count(rows), width = 0;
    for (size_t i = 0; i < n; i++) {
        const alchdb__sql_node *row = alchdb__sql_node_item(rows, i);
        const alchdb__sql_node *items = alchdb__sql_node_is(row, "List") ? alchdb__sql_node_get(row, "items") : row;
        if (!all_const(items))
            return 0;
        size_t w = alchdb__sql_node_count(items);
        if (i > 0 && w != width)
            return 0;
        width = w;
    }
    return width;
}

enum { F_NODE = 0, F_END, F_KEY, F_SQUASHED };

typedef struct jframe {
    int kind;
    const alchdb__sql_node *n;
    const char *key;    /* member of the parent object it hangs under (directly or in a list) */
    const char *parent; /* type of the nearest object above, or NULL */
    int64_t width;      /* F_SQUASHED: row width of squashed VALUES rows, 0 for a list */
} jframe;

typedef struct jstack {
    jframe *v;
    size_t n, cap;
} jstack;

static int jpush(jstack *s, jframe f)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        jframe *v = alchdb__realloc(s->v, sizeof *v * cap);
        if (!v)
            return alchdb__nomem("query key");
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = f;
    return 0;
}

static bool skip_member(const alchdb__sql_node *obj, const char *objkey, const char *objparent,
                        const char *member)
{
    if (!strcmp(member, "location") || !strcmp(member, "stmt_location") || !strcmp(member, "stmt_len"))
        return true;
    if (!strcmp(member, "alias"))
        return true; /* relation aliases: PostgreSQL jumbles the relation, not its name here */
    /* an output column's alias, not an INSERT or UPDATE target column */
    if (!strcmp(member, "name") && alchdb__sql_node_is(obj, "ResTarget") && objkey &&
        ((!strcmp(objkey, "targetList") && objparent && !strcmp(objparent, "SelectStmt")) ||
         !strcmp(objkey, "returningList")))
        return true;
    return false;
}

static void jconst(jhash *j, const alchdb__sql_tree *t, const alchdb__sql_node *n, const char *key,
                   const char *parent)
{
    alchdb__sql_const c;
    bool known = alchdb__sql_const_of(t, n, &c);
    jbyte(j, 'C');
    jint(j, known ? c.kind : -1);
    /* ORDER BY 2 / GROUP BY 2 name a column by position */
    bool position = (key && !strcmp(key, "groupClause")) ||
                    (key && !strcmp(key, "node") && parent && !strcmp(parent, "SortBy"));
    if (position && known && c.kind == ALCHDB__SQL_CONST_INT)
        jstr(j, c.text);
}

/* Push the members of object n (hashed in document order). */
static int push_members(jstack *s, const alchdb__sql_node *n, const char *objkey, const char *objparent)
{
    const char *kind = alchdb__sql_field_str(n, "kind");
    bool in_list = alchdb__sql_node_is(n, "A_Expr") && kind && !strcmp(kind, "AEXPR_IN");
    int rc = jpush(s, (jframe){.kind = F_END, .n = n});
    for (size_t i = n->n; rc == 0 && i-- > 0;) {
        const char *k = n->keys[i];
        const alchdb__sql_node *v = &n->kids[i];
        if (skip_member(n, objkey, objparent, k))
            continue;
        /* IN's list arrives as a List node, ARRAY's elements as a bare list */
        const alchdb__sql_node *items = alchdb__sql_node_is(v, "List") ? alchdb__sql_node_get(v, "items") : v;
        bool list = items && items->jtype == ALCHDB__SQL_J_LIST;
        size_t width = list && !strcmp(k, "valuesLists") ? const_rows(items) : 0;
        bool squash = list && ((in_list && !strcmp(k, "rexpr")) ||
                               (!strcmp(k, "elements") && alchdb__sql_node_is(n, "A_ArrayExpr"))) &&
                      all_const(items);
        if (squash || width)
            rc = jpush(s, (jframe){.kind = F_SQUASHED, .width = (int64_t)width});
        else
            rc = jpush(s, (jframe){.kind = F_NODE, .n = v, .key = k, .parent = n->type});
        if (rc == 0)
            rc = jpush(s, (jframe){.kind = F_KEY, .key = k});
    }
    return rc;
}

static int walk(jhash *j, const alchdb__sql_tree *t, const alchdb__sql_node *root)
{
    jstack s = {0};
    int rc = jpush(&s, (jframe){.kind = F_NODE, .n = root});
    while (rc == 0 && s.n) {
        jframe f = s.v[--s.n];
        const alchdb__sql_node *n = f.n;
        switch (f.kind) {
        case F_END:
            jbyte(j, 'E');
            continue;
        case F_KEY:
            jbyte(j, 'K');
            jstr(j, f.key);
            continue;
        case F_SQUASHED:
            jbyte(j, 'Q');
            jint(j, f.width);
            continue;
        default:
            break;
        }
        if (!n) {
            jbyte(j, 'N');
            continue;
        }
        switch (n->jtype) {
        case ALCHDB__SQL_J_OBJECT:
            if (alchdb__sql_node_is(n, "A_Const")) {
                jconst(j, t, n, f.key, f.parent);
                break;
            }
            jbyte(j, 'O');
            jstr(j, n->type);
            rc = push_members(&s, n, f.key, f.parent);
            break;
        case ALCHDB__SQL_J_LIST:
            jbyte(j, 'L');
            jint(j, (int64_t)n->n);
            for (size_t i = n->n; rc == 0 && i-- > 0;)
                rc = jpush(&s, (jframe){.kind = F_NODE, .n = &n->kids[i], .key = f.key, .parent = f.parent});
            break;
        case ALCHDB__SQL_J_STRING:
            jbyte(j, 'S');
            jstr(j, n->str);
            break;
        case ALCHDB__SQL_J_INT:
            jbyte(j, 'I');
            jint(j, n->num);
            break;
        case ALCHDB__SQL_J_BOOL:
            jbyte(j, 'B');
            jbyte(j, (unsigned char)n->num);
            break;
        default:
            jbyte(j, 'N');
            break;
        }
    }
    alchdb__free(s.v);
    return rc;
}

int alchdb__sql_query_key(const char *sql, size_t len, uint64_t *key)
{
    ALCHDB_CHECK_ARG(key, "key", "must not be NULL");
    *key = 0;
    alchdb__sql_tree *t = NULL;
    int rc = alchdb__sql_tree_parse(sql, len, &t, NULL);
    if (rc != 0)
        return rc;
    jhash j = {.n = 0, .h = 0x6a756d626c65ull};
    size_t off, sl;
    const alchdb__sql_node *st = alchdb__sql_tree_stmt(t, 0, &off, &sl);
    if (!st || alchdb__sql_tree_stmt(t, 1, &off, &sl)) {
        alchdb__sql_tree_free(t);
        return alchdb__error(ALCHDB_E_INVALID, "query key: not exactly one statement");
    }
    rc = walk(&j, t, st);
    alchdb__sql_tree_free(t);
    if (rc != 0)
        return rc;
    jflush(&j);
    *key = j.h ? j.h : 1;
    return 0;
}
