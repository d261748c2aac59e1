/* Walk of libpg_query's JSON parse tree of one statement: tables read and
 * written (CTE names are not tables), locking clauses, volatile and
 * side-effecting functions, writable CTEs, SELECT INTO, temp tables.
 *
 * Nodes arrive either wrapped ({"SelectStmt":{...}}) or bare (fields typed as
 * a specific node, e.g. "relation":{"relname":...}). The walk is generic (every
 * key of every node is visited, so subqueries in FROM, WHERE, the target list,
 * set operations and LATERAL are all seen); only the keys that name a written
 * table are special. */
#include <ctype.h>
#include <string.h>

#include "sql_priv.h"

enum { M_READ = ALCHDB_SQL_TABLES_READ, M_WRITE = ALCHDB_SQL_TABLES_WRITTEN };

typedef struct walk_ctx {
    sql_walk_result *r;
    const char **scope; /* visible CTE names (borrowed from the tree) */
    size_t nscope, capscope;
    bool not_executed;     /* plain EXPLAIN: tables are only read, functions not run */
    const json_t *ddl_body; /* the top-level DDL node: its target keys are written */
    int depth;
} walk_ctx;

/* Deep trees are legal SQL; bound the recursion (and so the stack the walk
 * needs, about 130 bytes a level) all the same. Deeper statements are
 * "too_complex": not read-only, not cacheable. */
#define WALK_MAX_DEPTH 1000

/* Keep the leaf helpers' name buffers out of the recursive frames. */
#if defined(__GNUC__)
#define SQL_NOINLINE __attribute__((noinline))
#else
#define SQL_NOINLINE
#endif

static void walk_value(walk_ctx *c, json_t *v, int mode);

bool sql__strset_add(sql_strset *s, const char *str, size_t n)
{
    for (size_t i = 0; i < s->n; i++)
        if (strlen(s->items[i]) == n && !memcmp(s->items[i], str, n))
            return true;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4;
        char **items = alchdb__realloc(s->items, cap * sizeof *items);
        if (!items)
            return false;
        s->items = items;
        s->cap = cap;
    }
    char *d = alchdb__strndup(str, n);
    if (!d)
        return false;
    s->items[s->n++] = d;
    return true;
}

void sql__strset_free(sql_strset *s)
{
    for (size_t i = 0; i < s->n; i++)
        alchdb__free(s->items[i]);
    alchdb__free(s->items);
    s->items = NULL;
    s->n = s->cap = 0;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool scope_has(const walk_ctx *c, const char *name)
{
    for (size_t i = c->nscope; i-- > 0;)
        if (!strcmp(c->scope[i], name))
            return true;
    return false;
}

static void scope_push(walk_ctx *c, const char *name)
{
    if (!name)
        return;
    if (c->nscope == c->capscope) {
        size_t cap = c->capscope ? c->capscope * 2 : 8;
        const char **s = alchdb__realloc(c->scope, cap * sizeof *s);
        if (!s) {
            c->r->nomem = true;
            return;
        }
        c->scope = s;
        c->capscope = cap;
    }
    c->scope[c->nscope++] = name;
}

static void add_name(walk_ctx *c, sql_strset *set, const char *name, size_t n)
{
    if (!sql__strset_add(set, name, n))
        c->r->nomem = true;
}

static SQL_NOINLINE void add_table(walk_ctx *c, const json_t *rv, int mode)
{
    const char *rel = jstr(rv, "relname"), *schema = jstr(rv, "schemaname"), *cat = jstr(rv, "catalogname");
    if (!rel)
        return;
    if (!schema && !cat && scope_has(c, rel))
        return; /* a CTE reference, not a table */
    const char *persist = jstr(rv, "relpersistence");
    if ((persist && !strcmp(persist, "t")) || (schema && !strncmp(schema, "pg_temp", 7)))
        c->r->temp_table = true;
    char buf[3 * 64 + 3];
    int n = snprintf(buf, sizeof buf, "%s%s%s%s%s", cat ? cat : "", cat ? "." : "", schema ? schema : "",
                     schema ? "." : "", rel);
    if (n < 0 || (size_t)n >= sizeof buf)
        return; /* identifiers are at most 63 bytes: cannot happen */
    if (c->not_executed)
        mode = M_READ;
    add_name(c, &c->r->tables[mode], buf, (size_t)n);
}

/* always_volatile: not a function but random all the same (TABLESAMPLE). */
static SQL_NOINLINE void add_func(walk_ctx *c, const char *name, bool always_volatile)
{
    if (c->not_executed || !name || (!always_volatile && !alchdb__sql_func_is_volatile(name)))
        return;
    char buf[64];
    size_t n = 0;
    for (; name[n] && n < sizeof buf - 1; n++)
        buf[n] = (char)tolower((unsigned char)name[n]);
    add_name(c, &c->r->funcs, buf, n);
    c->r->volatile_fn = true;
    if (alchdb__sql_func_has_side_effects(name))
        c->r->side_effects = true;
}

static SQL_NOINLINE void func_call(walk_ctx *c, const json_t *fc)
{
    json_t *names = json_object_get(fc, "funcname");
    size_t n = json_array_size(names);
    if (!n)
        return;
    json_t *last = json_object_get(json_array_get(names, n - 1), "String");
    add_func(c, jstr(last, "sval"), false);
}

static SQL_NOINLINE void sql_value_function(walk_ctx *c, const json_t *body)
{
    const char *op = jstr(body, "op");
    if (!op || strncmp(op, "SVFOP_", 6))
        return;
    op += 6;
    char buf[64];
    size_t n = 0;
    for (; op[n] && n < sizeof buf - 1; n++)
        buf[n] = (char)tolower((unsigned char)op[n]);
    buf[n] = '\0';
    if (n > 2 && !strcmp(buf + n - 2, "_n"))
        buf[n - 2] = '\0';
    add_func(c, buf, false);
}

static bool is_dml(const char *type)
{
    return type && (!strcmp(type, "InsertStmt") || !strcmp(type, "UpdateStmt") || !strcmp(type, "DeleteStmt") ||
                    !strcmp(type, "MergeStmt"));
}

/* Keys of the top-level DDL/maintenance node that name its target tables. */
static bool ddl_target_key(const char *key)
{
    static const char *const keys[] = {"relation", "relations", "rels", "into", "view", "objects", "table",
                                       "sequence"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i]))
            return true;
    return false;
}

static int child_mode(const walk_ctx *c, const json_t *body, const char *type, const char *key, int mode)
{
    if (is_dml(type) && !strcmp(key, "relation"))
        return M_WRITE;
    if (type && !strcmp(type, "SelectStmt") && !strcmp(key, "intoClause"))
        return M_WRITE;
    if (body == c->ddl_body && ddl_target_key(key))
        return M_WRITE;
    return type ? M_READ : mode;
}

static void with_clause(walk_ctx *c, const json_t *with)
{
    json_t *ctes = json_object_get(with, "ctes");
    bool recursive = json_is_true(json_object_get(with, "recursive"));
    size_t i;
    json_t *item;
    if (recursive)
        json_array_foreach(ctes, i, item) scope_push(c, jstr(json_object_get(item, "CommonTableExpr"), "ctename"));
    json_array_foreach(ctes, i, item)
    {
        json_t *cte = json_object_get(item, "CommonTableExpr");
        json_t *q = json_object_get(cte, "ctequery");
        if (json_object_size(q) == 1 && is_dml(json_object_iter_key(json_object_iter(q))))
            c->r->writable_cte = true;
        walk_value(c, q, M_READ);
        if (!recursive) /* visible to the later CTEs and the body, not to itself */
            scope_push(c, jstr(cte, "ctename"));
    }
}

static void walk_body(walk_ctx *c, json_t *body, const char *type, int mode)
{
    if (json_is_string(json_object_get(body, "relname"))) {
        add_table(c, body, mode);
        return;
    }
    if (type && !strcmp(type, "SQLValueFunction")) {
        sql_value_function(c, body);
        return;
    }
    if (json_is_array(json_object_get(body, "funcname")) && json_object_get(body, "funcformat"))
        func_call(c, body);
    if (type && !strcmp(type, "RangeTableSample") && !json_object_get(body, "repeatable"))
        add_func(c, "tablesample", true);
    if (json_array_size(json_object_get(body, "lockingClause")) > 0 && !c->not_executed)
        c->r->locking = true;

    size_t base = c->nscope;
    json_t *with = json_object_get(body, "withClause");
    if (with)
        with_clause(c, with);
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v)
    {
        if (v == with || json_is_string(v) || json_is_number(v) || json_is_boolean(v))
            continue;
        walk_value(c, v, child_mode(c, body, type, key, mode));
    }
    c->nscope = base;
}

/* Node types that only carry a table reference through: they keep the mode. */
static bool transparent(const char *type)
{
    return !strcmp(type, "RangeVar") || !strcmp(type, "List") || !strcmp(type, "VacuumRelation") ||
           !strcmp(type, "IntoClause");
}

static void walk_value(walk_ctx *c, json_t *v, int mode)
{
    if (c->r->nomem)
        return;
    if (c->depth > WALK_MAX_DEPTH) {
        c->r->incomplete = true;
        return;
    }
    c->depth++;
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) walk_value(c, item, mode);
    } else if (json_is_object(v)) {
        void *it = json_object_iter(v);
        const char *key = it ? json_object_iter_key(it) : NULL;
        json_t *inner = it ? json_object_iter_value(it) : NULL;
        if (json_object_size(v) == 1 && isupper((unsigned char)key[0]) && json_is_object(inner)) {
            if (transparent(key))
                walk_body(c, inner, NULL, mode);
            else
                walk_body(c, inner, key, mode);
        } else {
            walk_body(c, v, NULL, mode);
        }
    }
    c->depth--;
}

/* DROP and COMMENT name their objects as lists of strings. */
static void name_list(walk_ctx *c, const json_t *list, bool drop_last)
{
    json_t *items = json_object_get(json_object_get(list, "List"), "items");
    size_t n = json_array_size(items);
    if (drop_last && n)
        n--;
    if (!n || n > 3)
        return;
    char buf[3 * 64 + 3];
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = jstr(json_object_get(json_array_get(items, i), "String"), "sval");
        if (!s)
            return;
        int w = snprintf(buf + len, sizeof buf - len, "%s%s", i ? "." : "", s);
        if (w < 0 || (size_t)w >= sizeof buf - len)
            return;
        len += (size_t)w;
    }
    add_name(c, &c->r->tables[M_WRITE], buf, len);
}

static bool table_like(const char *objtype)
{
    return objtype && (!strcmp(objtype, "OBJECT_TABLE") || !strcmp(objtype, "OBJECT_VIEW") ||
                       !strcmp(objtype, "OBJECT_MATVIEW") || !strcmp(objtype, "OBJECT_FOREIGN_TABLE"));
}

static bool explain_analyze(const json_t *body)
{
    size_t i;
    json_t *opt;
    json_array_foreach(json_object_get(body, "options"), i, opt)
    {
        json_t *de = json_object_get(opt, "DefElem");
        const char *name = jstr(de, "defname");
        if (!name || strcmp(name, "analyze"))
            continue;
        json_t *arg = json_object_get(de, "arg");
        if (!arg)
            return true;
        const char *s = jstr(json_object_get(arg, "String"), "sval");
        if (s)
            return !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1") || !strcmp(s, "yes");
        json_t *iv = json_object_get(arg, "Integer");
        if (iv)
            return json_integer_value(json_object_get(iv, "ival")) != 0;
        json_t *bv = json_object_get(arg, "Boolean");
        if (bv)
            return json_is_true(json_object_get(bv, "boolval"));
        return true; /* unknown spelling: assume it executes */
    }
    return false;
}

static const char *const utility_types[] = {
    "VariableSetStmt", "VariableShowStmt", "CopyStmt", "ExplainStmt", "CallStmt", "DoStmt", "LockStmt",
    "PrepareStmt", "ExecuteStmt", "DeallocateStmt", "ListenStmt", "UnlistenStmt", "NotifyStmt",
    "DeclareCursorStmt", "FetchStmt", "ClosePortalStmt", "DiscardStmt", "CheckPointStmt", "LoadStmt",
    "VacuumStmt", "ClusterStmt", "ReindexStmt", "ConstraintsSetStmt",
};

static int kind_of(const char *type, const json_t *body)
{
    if (!strcmp(type, "SelectStmt"))
        return json_object_get(body, "intoClause") ? ALCHDB_SQL_DDL : ALCHDB_SQL_SELECT;
    if (!strcmp(type, "InsertStmt"))
        return ALCHDB_SQL_INSERT;
    if (!strcmp(type, "UpdateStmt"))
        return ALCHDB_SQL_UPDATE;
    if (!strcmp(type, "DeleteStmt"))
        return ALCHDB_SQL_DELETE;
    if (!strcmp(type, "MergeStmt"))
        return ALCHDB_SQL_MERGE;
    if (!strcmp(type, "TransactionStmt"))
        return ALCHDB_SQL_TRANSACTION;
    for (size_t i = 0; i < sizeof utility_types / sizeof utility_types[0]; i++)
        if (!strcmp(type, utility_types[i]))
            return ALCHDB_SQL_UTILITY;
    return ALCHDB_SQL_DDL; /* unknown statements are treated as DDL: not read-only */
}

void sql__walk_stmt(json_t *stmt, sql_walk_result *r)
{
    walk_ctx c = {.r = r};
    void *it = json_object_iter(stmt);
    const char *type = it ? json_object_iter_key(it) : NULL;
    json_t *body = it ? json_object_iter_value(it) : NULL;
    if (!type || !json_is_object(body)) {
        r->kind = ALCHDB_SQL_DDL;
        return;
    }
    r->kind = kind_of(type, body);
    if (!strcmp(type, "SelectStmt") && json_object_get(body, "intoClause"))
        r->select_into = true;

    if (!strcmp(type, "DropStmt")) {
        if (table_like(jstr(body, "removeType"))) {
            size_t i;
            json_t *obj;
            json_array_foreach(json_object_get(body, "objects"), i, obj) name_list(&c, obj, false);
        }
    } else if (!strcmp(type, "CommentStmt")) {
        const char *ot = jstr(body, "objtype");
        if (table_like(ot) || (ot && !strcmp(ot, "OBJECT_COLUMN")))
            name_list(&c, json_object_get(body, "object"), !strcmp(ot, "OBJECT_COLUMN"));
    } else if (!strcmp(type, "ExplainStmt")) {
        bool analyze = explain_analyze(body);
        c.not_executed = !analyze;
        json_t *q = json_object_get(body, "query");
        const char *qt = json_object_iter_key(json_object_iter(q));
        r->read_only_hint = !analyze || (qt && !strcmp(qt, "SelectStmt"));
        walk_value(&c, q, M_READ);
    } else if (!strcmp(type, "CopyStmt")) {
        bool from = json_is_true(json_object_get(body, "is_from"));
        r->read_only_hint = !from;
        json_t *rel = json_object_get(body, "relation");
        if (rel)
            walk_value(&c, rel, from ? M_WRITE : M_READ);
        walk_value(&c, json_object_get(body, "query"), M_READ);
    } else if (!strcmp(type, "LockStmt")) {
        r->locking = true;
        walk_value(&c, json_object_get(body, "relations"), M_READ);
    } else {
        if (!strcmp(type, "VariableShowStmt"))
            r->read_only_hint = true;
        if (r->kind == ALCHDB_SQL_DDL || r->kind == ALCHDB_SQL_UTILITY)
            c.ddl_body = body;
        walk_body(&c, body, type, M_READ);
    }
    alchdb__free(c.scope);
}

void sql__walk_opaque(const char *type, sql_walk_result *r)
{
    json_t *empty = json_object();
    r->kind = type && empty ? kind_of(type, empty) : ALCHDB_SQL_DDL;
    json_decref(empty);
    r->incomplete = true;
}
