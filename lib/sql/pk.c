/* Row targets for the query cache's primary-key invalidation: for one
 * statement of a simple shape, its single relation and the column = value
 * conjuncts that pin rows (see sql_internal.h for the contract).
 *
 * Everything not recognised is refused (*out = NULL: the cache falls back to
 * table-level invalidation), so every check here errs on that side: a shape we
 * are unsure of is rejected, a conjunct we are unsure of is skipped.
 *
 * The relation is named by the same tree walk the analysis uses (walk.c), so
 * the two always spell it alike; the walk's table sets also double-check that
 * the statement touches exactly one relation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sql_priv.h"

typedef struct pk_ctx {
    const char *sql; /* the statement text: A_Const locations index it */
    size_t len;
    const json_t *rel; /* the RangeVar body of the one relation */
    alchdb__sql_row_target *t;
    size_t cap_eq;
} pk_ctx;

enum { PK_SKIP = 0, PK_OK = 1, PK_NOMEM = -1 };

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* {"Type": {...}} -> the inner object when the wrapper is of that type. */
static json_t *node_of(const json_t *v, const char *type)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return NULL;
    json_t *inner = json_object_get(v, type);
    return json_is_object(inner) ? inner : NULL;
}

/* The sval of a {"String": {"sval": ...}} list element. */
static const char *string_node(const json_t *v)
{
    return jstr(node_of(v, "String"), "sval");
}

/* ---- shape checks ----------------------------------------------------------- */

/* Node types and fields that make a statement more than "one relation, plain
 * expressions": subqueries, other relations, CTEs, cursors, locking, SELECT
 * INTO, VALUES lists. Any of them anywhere in a scanned subtree refuses it. */
static bool forbidden_key(const char *key)
{
    static const char *const keys[] = {
        "SubLink",       "SelectStmt",   "InsertStmt",      "UpdateStmt",    "DeleteStmt",
        "MergeStmt",     "RangeVar",     "RangeSubselect",  "JoinExpr",      "RangeFunction",
        "RangeTableSample", "RangeTableFunc", "CurrentOfExpr", "withClause", "WithClause",
        "CommonTableExpr", "intoClause", "IntoClause",      "lockingClause", "LockingClause",
        "valuesLists",   "larg",         "rarg",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i]))
            return true;
    return false;
}

static bool has_forbidden(const json_t *v)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) if (has_forbidden(item)) return true;
    } else if (json_is_object(v)) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            if (forbidden_key(key) || has_forbidden(val))
                return true;
        }
    }
    return false;
}

/* Every field of body except skip (NULL: none) is free of forbidden nodes. */
static bool fields_clean(const json_t *body, const char *skip)
{
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val)
    {
        if (skip && !strcmp(key, skip))
            continue;
        if (forbidden_key(key) || has_forbidden(val))
            return false;
    }
    return true;
}

/* ---- values ---------------------------------------------------------------- */

static bool ident_char(char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           ch == '.' || ch == '$' || (unsigned char)ch >= 0x80;
}

/* libpg_query 15-4.0.0 prints an Integer constant only when it is positive:
 * 0 and every negative value both arrive as "ival": {}. Recover the value
 * from the statement text at the constant's location, accepting only the
 * spellings "digits" and "-digits" (PostgreSQL reports a negated constant at
 * its minus sign); anything else (- 5, -(5), comments) is skipped. */
static int int_from_source(pk_ctx *c, const json_t *aconst, char **lit)
{
    json_int_t loc = json_integer_value(json_object_get(aconst, "location"));
    if (!json_is_integer(json_object_get(aconst, "location")) || loc < 0 || (size_t)loc >= c->len)
        return PK_SKIP;
    const char *p = c->sql + loc, *end = c->sql + c->len;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    const char *digits = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    size_t nd = (size_t)(p - digits);
    if (nd == 0 || (p < end && ident_char(*p)))
        return PK_SKIP;
    while (nd > 1 && *digits == '0') { /* leading zeros */
        digits++;
        nd--;
    }
    if (nd > 10)
        return PK_SKIP; /* not an int4: cannot be an Integer node */
    long long v = 0;
    for (size_t i = 0; i < nd; i++)
        v = v * 10 + (digits[i] - '0');
    if (neg)
        v = -v;
    if (v > 0 || v < -2147483648LL)
        return PK_SKIP; /* a positive value would have been printed: not this constant */
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", v);
    return (*lit = alchdb__strdup(buf)) ? PK_OK : PK_NOMEM;
}

/* A_Const kinds we record. */
enum { C_NONE, C_INT, C_FLOAT, C_STRING };

static int const_kind(const json_t *aconst)
{
    if (json_is_object(json_object_get(aconst, "ival")))
        return C_INT;
    if (json_is_string(json_object_get(json_object_get(aconst, "fval"), "fval")))
        return C_FLOAT;
    if (json_is_string(json_object_get(json_object_get(aconst, "sval"), "sval")))
        return C_STRING;
    return C_NONE; /* NULL, booleans, bit strings */
}

static int const_text(pk_ctx *c, const json_t *aconst, char **lit)
{
    const char *s;
    switch (const_kind(aconst)) {
    case C_INT: {
        json_t *iv = json_object_get(json_object_get(aconst, "ival"), "ival");
        if (!iv)
            return int_from_source(c, aconst, lit);
        if (!json_is_integer(iv))
            return PK_SKIP;
        char buf[24];
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(iv));
        return (*lit = alchdb__strdup(buf)) ? PK_OK : PK_NOMEM;
    }
    case C_FLOAT:
        s = jstr(json_object_get(aconst, "fval"), "fval");
        break;
    case C_STRING:
        s = jstr(json_object_get(aconst, "sval"), "sval");
        break;
    default:
        return PK_SKIP;
    }
    return (*lit = alchdb__strdup(s)) ? PK_OK : PK_NOMEM;
}

/* Casts that leave the value's identity alone: plain (no typmod, no array)
 * built-in key types. A typmod truncates or rounds ('abcd'::varchar(2)), other
 * types may compare differently (citext), so those conjuncts are skipped.
 * Returns the cast's type name, or NULL when not acceptable. */
static const char *plain_cast_type(const json_t *tn)
{
    if (!json_is_object(tn) || json_array_size(json_object_get(tn, "typmods")) ||
        json_array_size(json_object_get(tn, "arrayBounds")) || json_is_true(json_object_get(tn, "setof")) ||
        json_is_true(json_object_get(tn, "pct_type")))
        return NULL;
    json_t *names = json_object_get(tn, "names");
    size_t n = json_array_size(names);
    if (n == 2) {
        const char *schema = string_node(json_array_get(names, 0));
        if (!schema || strcmp(schema, "pg_catalog"))
            return NULL;
    } else if (n != 1) {
        return NULL;
    }
    const char *name = string_node(json_array_get(names, n - 1));
    static const char *const ok[] = {"int2", "int4", "int8", "numeric", "text", "varchar", "uuid"};
    for (size_t i = 0; name && i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(name, ok[i]))
            return name;
    return NULL;
}

/* The value side of an equality: $n, a constant, or either under a plain
 * cast. */
static int value_of(pk_ctx *c, const json_t *v, int *param, char **lit)
{
    *param = 0;
    *lit = NULL;
    const json_t *tc = node_of(v, "TypeCast");
    const char *cast = NULL;
    if (tc) {
        if (!(cast = plain_cast_type(json_object_get(tc, "typeName"))))
            return PK_SKIP;
        v = json_object_get(tc, "arg");
    }
    const json_t *pr = node_of(v, "ParamRef");
    if (pr) {
        json_int_t num = json_integer_value(json_object_get(pr, "number"));
        if (num < 1 || num > 65535) /* PostgreSQL's limit on bind parameters */
            return PK_SKIP;
        *param = (int)num;
        return PK_OK;
    }
    const json_t *ac = node_of(v, "A_Const");
    if (!ac)
        return PK_SKIP;
    /* A float constant under an integer or text cast is rounded or reprinted
     * (1.5::int = 2, 1e3::text = '1000'): keep only numeric. */
    if (cast && const_kind(ac) == C_FLOAT && strcmp(cast, "numeric"))
        return PK_SKIP;
    return const_text(c, ac, lit);
}

/* ---- columns --------------------------------------------------------------- */

/* The column of a ColumnRef naming a column of the one relation: id, t.id,
 * alias.id, schema.t.id, catalog.schema.t.id; NULL otherwise. */
static const char *column_of(const pk_ctx *c, const json_t *v)
{
    const json_t *cr = node_of(v, "ColumnRef");
    json_t *fields = json_object_get(cr, "fields");
    size_t n = json_array_size(fields);
    if (n < 1 || n > 4)
        return NULL;
    const char *f[4];
    for (size_t i = 0; i < n; i++)
        if (!(f[i] = string_node(json_array_get(fields, i))))
            return NULL; /* A_Star */
    if (n == 1)
        return f[0];
    const char *alias = jstr(json_object_get(c->rel, "alias"), "aliasname");
    if (alias) /* an aliased relation is only visible under its alias */
        return n == 2 && !strcmp(f[0], alias) ? f[1] : NULL;
    const char *names[3] = {jstr(c->rel, "catalogname"), jstr(c->rel, "schemaname"), jstr(c->rel, "relname")};
    size_t quals = n - 1;
    for (size_t i = 0; i < quals; i++) {
        const char *want = names[3 - quals + i];
        if (!want || strcmp(f[i], want))
            return NULL;
    }
    return f[n - 1];
}

/* ---- building the result ----------------------------------------------------- */

static int add_eq(pk_ctx *c, const char *column, int param, char *lit)
{
    alchdb__sql_row_target *t = c->t;
    if (t->neq == c->cap_eq) {
        size_t cap = c->cap_eq ? c->cap_eq * 2 : 4;
        alchdb__sql_eq *eq = alchdb__realloc(t->eq, cap * sizeof *eq);
        if (!eq) {
            alchdb__free(lit);
            return PK_NOMEM;
        }
        t->eq = eq;
        c->cap_eq = cap;
    }
    char *col = alchdb__strdup(column);
    if (!col) {
        alchdb__free(lit);
        return PK_NOMEM;
    }
    t->eq[t->neq++] = (alchdb__sql_eq){.column = col, .param = param, .literal = lit};
    return PK_OK;
}

/* Append name to a deduplicated list. */
static int add_name(char ***list, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i], name))
            return PK_OK;
    char **grown = alchdb__realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return PK_NOMEM;
    *list = grown;
    if (!(grown[*n] = alchdb__strdup(name)))
        return PK_NOMEM;
    (*n)++;
    return PK_OK;
}

/* One conjunct: col = value or value = col with the plain "=" operator. */
static int conjunct(pk_ctx *c, const json_t *ax)
{
    const char *kind = jstr(ax, "kind");
    json_t *name = json_object_get(ax, "name");
    if (!kind || strcmp(kind, "AEXPR_OP") || json_array_size(name) != 1)
        return PK_OK;
    const char *op = string_node(json_array_get(name, 0));
    if (!op || strcmp(op, "="))
        return PK_OK;
    const json_t *l = json_object_get(ax, "lexpr"), *r = json_object_get(ax, "rexpr");
    if (!l || !r)
        return PK_OK;
    const char *col = column_of(c, l);
    const json_t *val = r;
    if (!col) {
        col = column_of(c, r);
        val = l;
    }
    if (!col)
        return PK_OK;
    int param;
    char *lit;
    int rc = value_of(c, val, &param, &lit);
    if (rc != PK_OK)
        return rc == PK_NOMEM ? PK_NOMEM : PK_OK;
    return add_eq(c, col, param, lit);
}

/* The conjuncts of an AND tree (nested ANDs flattened). Anything else at a
 * node (OR, NOT, other operators) contributes nothing below it. */
static int where_eqs(pk_ctx *c, const json_t *w)
{
    const json_t *be = node_of(w, "BoolExpr");
    if (be) {
        const char *op = jstr(be, "boolop");
        if (!op || strcmp(op, "AND_EXPR"))
            return PK_OK;
        size_t i;
        json_t *arg;
        json_array_foreach(json_object_get(be, "args"), i, arg)
        {
            if (where_eqs(c, arg) == PK_NOMEM)
                return PK_NOMEM;
        }
        return PK_OK;
    }
    const json_t *ax = node_of(w, "A_Expr");
    return ax ? conjunct(c, ax) : PK_OK;
}

/* ---- statements ------------------------------------------------------------- */

static bool select_shape(const json_t *body, const json_t **rel)
{
    const char *op = jstr(body, "op");
    if (op && strcmp(op, "SETOP_NONE"))
        return false;
    json_t *from = json_object_get(body, "fromClause");
    if (json_array_size(from) != 1)
        return false;
    const json_t *rv = node_of(json_array_get(from, 0), "RangeVar");
    if (!rv || json_object_get(json_object_get(rv, "alias"), "colnames"))
        return false; /* FROM t AS x(a, b) renames the columns */
    *rel = rv;
    return fields_clean(body, "fromClause");
}

static bool update_delete_shape(const json_t *body, const char *extra_from, const json_t **rel)
{
    if (json_object_get(body, extra_from))
        return false;
    *rel = json_object_get(body, "relation");
    return json_is_string(json_object_get(*rel, "relname")) && fields_clean(body, "relation");
}

/* INSERT INTO t (cols) VALUES (one row): *row receives the row's items. */
static bool insert_shape(const json_t *body, const json_t **rel, const json_t **row)
{
    json_t *cols = json_object_get(body, "cols");
    const json_t *sel = node_of(json_object_get(body, "selectStmt"), "SelectStmt");
    if (!json_array_size(cols) || !sel)
        return false;
    /* The source is a bare VALUES list: no WITH, ORDER BY, LIMIT (VALUES (1)
     * LIMIT 0 inserts nothing) or anything else on it. */
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)sel, key, val)
    {
        if (!strcmp(key, "valuesLists") || !strcmp(key, "limitOption"))
            continue;
        if (!strcmp(key, "op") && json_is_string(val) && !strcmp(json_string_value(val), "SETOP_NONE"))
            continue;
        return false;
    }
    json_t *lists = json_object_get(sel, "valuesLists");
    if (json_array_size(lists) != 1)
        return false;
    const json_t *items = json_object_get(node_of(json_array_get(lists, 0), "List"), "items");
    if (json_array_size(items) != json_array_size(cols) || has_forbidden(items))
        return false;
    *rel = json_object_get(body, "relation");
    *row = items;
    return json_is_string(json_object_get(*rel, "relname")) && fields_clean(body, "selectStmt");
}

static int update_set_cols(pk_ctx *c, const json_t *body);

static int insert_fill(pk_ctx *c, const json_t *body, const json_t *row)
{
    alchdb__sql_row_target *t = c->t;
    json_t *cols = json_object_get(body, "cols");
    for (size_t i = 0; i < json_array_size(cols); i++) {
        const json_t *rt = node_of(json_array_get(cols, i), "ResTarget");
        const char *name = jstr(rt, "name");
        if (!name || json_array_size(json_object_get(rt, "indirection")))
            continue; /* a[1], b.c: the value is not the column's */
        int param;
        char *lit;
        int rc = value_of(c, json_array_get(row, i), &param, &lit);
        if (rc == PK_NOMEM)
            return PK_NOMEM;
        if (rc == PK_OK && add_eq(c, name, param, lit) == PK_NOMEM)
            return PK_NOMEM;
    }
    const json_t *oc = json_object_get(body, "onConflictClause");
    if (!oc)
        return PK_OK;
    const char *action = jstr(oc, "action");
    if (action && !strcmp(action, "ONCONFLICT_NOTHING"))
        t->on_conflict = 1;
    else if (action && !strcmp(action, "ONCONFLICT_UPDATE"))
        t->on_conflict = 2;
    else
        return PK_SKIP;
    /* DO UPDATE SET: the assigned columns, as for an UPDATE. */
    if (t->on_conflict == 2) {
        int rc = update_set_cols(c, oc);
        if (rc != PK_OK)
            return rc;
    }
    const json_t *infer = json_object_get(oc, "infer");
    json_t *elems = json_object_get(infer, "indexElems");
    if (jstr(infer, "conname"))
        return PK_OK; /* ON CONSTRAINT name: columns unknown here */
    /* Only a plain column list is reported; an expression element makes the
     * target unknown (nconflict 0), as without a list. */
    for (size_t i = 0; i < json_array_size(elems); i++) {
        const json_t *ie = node_of(json_array_get(elems, i), "IndexElem");
        if (!jstr(ie, "name") || json_object_get(ie, "expr"))
            return PK_OK;
    }
    for (size_t i = 0; i < json_array_size(elems); i++) {
        const char *name = jstr(node_of(json_array_get(elems, i), "IndexElem"), "name");
        if (add_name(&t->conflict_cols, &t->nconflict, name) == PK_NOMEM)
            return PK_NOMEM;
    }
    return PK_OK;
}

static int update_set_cols(pk_ctx *c, const json_t *body)
{
    alchdb__sql_row_target *t = c->t;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(body, "targetList"), i, item)
    {
        const char *name = jstr(node_of(item, "ResTarget"), "name");
        if (!name)
            return PK_SKIP;
        if (add_name(&t->set_cols, &t->nset, name) == PK_NOMEM)
            return PK_NOMEM;
    }
    return PK_OK;
}

void alchdb__sql_row_target_free(alchdb__sql_row_target *t)
{
    if (!t)
        return;
    alchdb__free(t->table);
    for (size_t i = 0; i < t->neq; i++) {
        alchdb__free(t->eq[i].column);
        alchdb__free(t->eq[i].literal);
    }
    alchdb__free(t->eq);
    for (size_t i = 0; i < t->nset; i++)
        alchdb__free(t->set_cols[i]);
    alchdb__free(t->set_cols);
    for (size_t i = 0; i < t->nconflict; i++)
        alchdb__free(t->conflict_cols[i]);
    alchdb__free(t->conflict_cols);
    alchdb__free(t);
}

/* The relation's name as the analysis spells it: the walk's only table, in
 * the set the statement kind implies (read for SELECT, written otherwise),
 * with the other set empty. Stolen from r (NULL, PK_SKIP when it disagrees). */
static int table_from_walk(json_t *stmt, int kind, char **table)
{
    sql_walk_result r;
    memset(&r, 0, sizeof r);
    sql__walk_stmt(stmt, &r);
    int want = kind == ALCHDB_SQL_SELECT ? ALCHDB_SQL_TABLES_READ : ALCHDB_SQL_TABLES_WRITTEN;
    int rc = PK_SKIP;
    if (r.nomem) {
        rc = PK_NOMEM;
    } else if (!r.incomplete && r.kind == kind && r.tables[want].n == 1 && r.tables[!want].n == 0) {
        *table = r.tables[want].items[0];
        r.tables[want].items[0] = NULL;
        rc = PK_OK;
    }
    sql__strset_free(&r.tables[0]);
    sql__strset_free(&r.tables[1]);
    sql__strset_free(&r.funcs);
    return rc;
}

/* Fill c->t from the statement; PK_SKIP: not a simple shape. */
static int build(pk_ctx *c, json_t *stmt)
{
    void *it = json_object_iter(stmt);
    const char *type = it ? json_object_iter_key(it) : NULL;
    const json_t *body = it ? json_object_iter_value(it) : NULL;
    if (!type || !json_is_object(body) || json_object_size(stmt) != 1)
        return PK_SKIP;
    const json_t *rel = NULL, *row = NULL;
    int kind;
    if (!strcmp(type, "SelectStmt")) {
        kind = ALCHDB_SQL_SELECT;
        if (!select_shape(body, &rel))
            return PK_SKIP;
    } else if (!strcmp(type, "UpdateStmt")) {
        kind = ALCHDB_SQL_UPDATE;
        if (!update_delete_shape(body, "fromClause", &rel))
            return PK_SKIP;
    } else if (!strcmp(type, "DeleteStmt")) {
        kind = ALCHDB_SQL_DELETE;
        if (!update_delete_shape(body, "usingClause", &rel))
            return PK_SKIP;
    } else if (!strcmp(type, "InsertStmt")) {
        kind = ALCHDB_SQL_INSERT;
        if (!insert_shape(body, &rel, &row))
            return PK_SKIP;
    } else {
        return PK_SKIP;
    }

    c->rel = rel;
    alchdb__sql_row_target *t = c->t;
    t->kind = kind;
    int rc = table_from_walk(stmt, kind, &t->table);
    if (rc != PK_OK)
        return rc;
    if (kind == ALCHDB_SQL_INSERT)
        return insert_fill(c, body, row);
    if (kind == ALCHDB_SQL_UPDATE && (rc = update_set_cols(c, body)) != PK_OK)
        return rc;
    const json_t *where = json_object_get(body, "whereClause");
    return where ? where_eqs(c, where) : PK_OK;
}

int sql__row_target_build(const char *sql, size_t len, json_t *stmt, alchdb__sql_row_target **out)
{
    *out = NULL;
    alchdb__sql_row_target *t = alchdb__calloc(1, sizeof *t);
    if (!t)
        return alchdb__nomem("SQL row target");
    pk_ctx c = {.sql = sql, .len = len, .t = t};
    int b = build(&c, stmt);
    if (b == PK_OK) {
        *out = t;
        return 0;
    }
    alchdb__sql_row_target_free(t);
    return b == PK_NOMEM ? alchdb__nomem("SQL row target") : 0;
}

int alchdb__sql_row_target_parse(const char *sql, size_t len, alchdb__sql_row_target **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(sql, "sql", "must not be NULL");
    char *tree = NULL;
    int rc = alchdb__sql_parse_tree(sql, len, &tree, NULL);
    if (rc < 0)
        return rc;
    if (len == (size_t)-1)
        len = strlen(sql);
    json_error_t jerr;
    json_t *root = json_loads(tree, 0, &jerr);
    alchdb__free(tree);
    if (!root) /* too deep for jansson: not a simple statement */
        return json_error_code(&jerr) == json_error_out_of_memory ? alchdb__nomem("SQL parse tree") : 0;
    json_t *stmts = json_object_get(root, "stmts");
    if (json_array_size(stmts) == 1)
        rc = sql__row_target_build(sql, len, json_object_get(json_array_get(stmts, 0), "stmt"), out);
    json_decref(root);
    return rc;
}
