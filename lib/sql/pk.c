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
 * the statement touches exactly one relation. All walks use the layer's
 * visitor: no recursion. */
#include "sql_priv.h"
#include "tree.h"

typedef struct pk_ctx {
    const alchdb__sql_tree *tree; /* constants are read through it (exact values) */
    alchdb__sql_relref rel;       /* the one relation */
    alchdb__sql_row_target *t;
    size_t cap_eq;
    int rc; /* PK_OK or PK_NOMEM while walking */
} pk_ctx;

enum { PK_SKIP = 0, PK_OK = 1, PK_NOMEM = -1 };

/* ---- shape checks ----------------------------------------------------------- */

/* Node types and members that make a statement more than "one relation,
 * plain expressions": subqueries, other relations, CTEs, cursors, locking,
 * SELECT INTO, VALUES lists. Any of them anywhere in a checked subtree
 * refuses it. */
static bool forbidden_type(const char *type)
{
    static const char *const types[] = {
        "SubLink",        "SelectStmt",     "InsertStmt",    "UpdateStmt",      "DeleteStmt",
        "MergeStmt",      "RangeVar",       "RangeSubselect", "JoinExpr",       "RangeFunction",
        "RangeTableSample", "RangeTableFunc", "CurrentOfExpr", "WithClause",    "CommonTableExpr",
        "IntoClause",     "LockingClause",
    };
    for (size_t i = 0; type && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(type, types[i]))
            return true;
    return false;
}

static bool forbidden_key(const char *key)
{
    static const char *const keys[] = {"withClause", "intoClause", "lockingClause", "valuesLists", "larg", "rarg"};
    for (size_t i = 0; key && i < sizeof keys / sizeof keys[0]; i++)
        if (!strcmp(key, keys[i]))
            return true;
    return false;
}

typedef struct shape_ctx {
    const alchdb__sql_node *root;
    const char *skip; /* a member of root not checked (NULL: none) */
    bool found;
} shape_ctx;

static int shape_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                       uintptr_t *state)
{
    (void)state;
    shape_ctx *s = ud;
    if (n == s->root)
        return ALCHDB__SQL_VISIT_DESCEND;
    if (parent == s->root && s->skip && !strcmp(key, s->skip))
        return ALCHDB__SQL_VISIT_SKIP;
    if (forbidden_key(key) || forbidden_type(alchdb__sql_node_type(n))) {
        s->found = true;
        return ALCHDB__SQL_VISIT_STOP;
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

/* PK_OK when every member of n except skip is free of forbidden nodes (n's
 * own type does not count), PK_SKIP when not (or too deep to check),
 * PK_NOMEM. */
static int clean(const alchdb__sql_node *n, const char *skip)
{
    shape_ctx s = {n, skip, false};
    int rc = alchdb__sql_visit(n, SQL_MAX_TREE_DEPTH, 0, shape_enter, NULL, &s);
    if (rc == ALCHDB_E_NOMEM)
        return PK_NOMEM;
    return rc >= 0 && !s.found ? PK_OK : PK_SKIP;
}

/* ---- values ---------------------------------------------------------------- */

/* Casts that leave the value's identity alone: plain (no typmod, no array)
 * built-in key types. A typmod truncates or rounds ('abcd'::varchar(2)), other
 * types may compare differently (citext), so those conjuncts are skipped.
 * Returns the cast's type name, or NULL when not acceptable. */
static const char *plain_cast_type(const alchdb__sql_node *tn)
{
    if (!tn || alchdb__sql_node_count(alchdb__sql_node_get(tn, "typmods")) ||
        alchdb__sql_node_count(alchdb__sql_node_get(tn, "arrayBounds")) ||
        alchdb__sql_node_true(alchdb__sql_node_get(tn, "setof")) ||
        alchdb__sql_node_true(alchdb__sql_node_get(tn, "pct_type")))
        return NULL;
    const char *parts[2];
    size_t n = alchdb__sql_name_parts(alchdb__sql_node_get(tn, "names"), parts, 2);
    if (n == 2 && strcmp(parts[0], "pg_catalog"))
        return NULL;
    if (n == 0)
        return NULL;
    static const char *const ok[] = {"int2", "int4", "int8", "numeric", "text", "varchar", "uuid"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (!strcmp(parts[n - 1], ok[i]))
            return parts[n - 1];
    return NULL;
}

/* The value side of an equality: $n, a constant, or either under a plain
 * cast. */
static int value_of(pk_ctx *c, const alchdb__sql_node *v, int *param, char **lit)
{
    *param = 0;
    *lit = NULL;
    const char *cast = NULL;
    if (alchdb__sql_node_is(v, "TypeCast")) {
        if (!(cast = plain_cast_type(alchdb__sql_node_get(v, "typeName"))))
            return PK_SKIP;
        v = alchdb__sql_node_get(v, "arg");
    }
    if ((*param = alchdb__sql_param_of(v)) > 0)
        return PK_OK;
    alchdb__sql_const k;
    if (!alchdb__sql_const_of(c->tree, v, &k))
        return PK_SKIP;
    if (k.kind != ALCHDB__SQL_CONST_INT && k.kind != ALCHDB__SQL_CONST_FLOAT && k.kind != ALCHDB__SQL_CONST_STRING)
        return PK_SKIP; /* NULL, booleans, bit strings */
    /* A float constant under an integer or text cast is rounded or reprinted
     * (1.5::int = 2, 1e3::text = '1000'): keep only numeric. */
    if (cast && k.kind == ALCHDB__SQL_CONST_FLOAT && strcmp(cast, "numeric"))
        return PK_SKIP;
    return (*lit = alchdb__strdup(k.text)) ? PK_OK : PK_NOMEM;
}

/* ---- columns --------------------------------------------------------------- */

/* The column of a ColumnRef naming a column of the one relation: id, t.id,
 * alias.id, schema.t.id, catalog.schema.t.id; NULL otherwise. */
static const char *column_of(const pk_ctx *c, const alchdb__sql_node *v)
{
    const char *f[4];
    bool star;
    size_t n = alchdb__sql_column_of(v, f, 4, &star);
    if (n == 0 || star)
        return NULL;
    if (n == 1)
        return f[0];
    if (c->rel.alias) /* an aliased relation is only visible under its alias */
        return n == 2 && !strcmp(f[0], c->rel.alias) ? f[1] : NULL;
    const char *names[3] = {c->rel.catalog, c->rel.schema, c->rel.name};
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
static int conjunct(pk_ctx *c, const alchdb__sql_node *ax)
{
    const char *kind = alchdb__sql_field_str(ax, "kind");
    const char *op[1];
    if (!kind || strcmp(kind, "AEXPR_OP") || alchdb__sql_name_parts(alchdb__sql_node_get(ax, "name"), op, 1) != 1 ||
        strcmp(op[0], "="))
        return PK_OK;
    const alchdb__sql_node *l = alchdb__sql_node_get(ax, "lexpr"), *r = alchdb__sql_node_get(ax, "rexpr");
    if (!l || !r)
        return PK_OK;
    const char *col = column_of(c, l);
    const alchdb__sql_node *val = r;
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
static int where_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                       uintptr_t *state)
{
    (void)key, (void)parent, (void)state;
    pk_ctx *c = ud;
    if (alchdb__sql_node_is(n, "BoolExpr")) {
        const char *op = alchdb__sql_field_str(n, "boolop");
        return op && !strcmp(op, "AND_EXPR") ? ALCHDB__SQL_VISIT_DESCEND : ALCHDB__SQL_VISIT_SKIP;
    }
    if (alchdb__sql_node_is(n, "A_Expr") && (c->rc = conjunct(c, n)) == PK_NOMEM)
        return ALCHDB__SQL_VISIT_STOP;
    return ALCHDB__SQL_VISIT_SKIP;
}

static int where_eqs(pk_ctx *c, const alchdb__sql_node *w)
{
    c->rc = PK_OK;
    int rc = alchdb__sql_visit(w, SQL_MAX_TREE_DEPTH, 0, where_enter, NULL, c);
    if (rc == ALCHDB_E_NOMEM || c->rc == PK_NOMEM)
        return PK_NOMEM;
    return PK_OK; /* a conjunct left out for depth only means less precision */
}

/* ---- statements ------------------------------------------------------------- */

/* The shapes: PK_OK with *rel set, PK_SKIP, PK_NOMEM. */
static int select_shape(const alchdb__sql_node *body, const alchdb__sql_node **rel)
{
    const char *op = alchdb__sql_field_str(body, "op");
    if (op && strcmp(op, "SETOP_NONE"))
        return PK_SKIP;
    const alchdb__sql_node *from = alchdb__sql_node_get(body, "fromClause");
    if (alchdb__sql_node_count(from) != 1)
        return PK_SKIP;
    const alchdb__sql_node *rv = alchdb__sql_node_item(from, 0);
    if (!alchdb__sql_node_is(rv, "RangeVar") || alchdb__sql_node_get(alchdb__sql_node_get(rv, "alias"), "colnames"))
        return PK_SKIP; /* FROM t AS x(a, b) renames the columns */
    *rel = rv;
    return clean(body, "fromClause");
}

static int update_delete_shape(const alchdb__sql_node *body, const char *extra_from, const alchdb__sql_node **rel)
{
    if (alchdb__sql_node_get(body, extra_from))
        return PK_SKIP;
    *rel = alchdb__sql_node_get(body, "relation");
    return alchdb__sql_field_str(*rel, "relname") ? clean(body, "relation") : PK_SKIP;
}

/* INSERT INTO t (cols) VALUES (one row): *row receives the row's items. */
static int insert_shape(const alchdb__sql_node *body, const alchdb__sql_node **rel, const alchdb__sql_node **row)
{
    const alchdb__sql_node *cols = alchdb__sql_node_get(body, "cols");
    const alchdb__sql_node *sel = alchdb__sql_node_get(body, "selectStmt");
    if (!alchdb__sql_node_count(cols) || !alchdb__sql_node_is(sel, "SelectStmt"))
        return PK_SKIP;
    /* The source is a bare VALUES list: no WITH, ORDER BY, LIMIT (VALUES (1)
     * LIMIT 0 inserts nothing) or anything else on it. */
    for (uint32_t i = 0; i < sel->n; i++) {
        const char *key = sel->keys[i];
        if (!strcmp(key, "valuesLists") || !strcmp(key, "limitOption"))
            continue;
        const char *v = alchdb__sql_node_str(&sel->kids[i]);
        if (!strcmp(key, "op") && v && !strcmp(v, "SETOP_NONE"))
            continue;
        return PK_SKIP;
    }
    const alchdb__sql_node *lists = alchdb__sql_node_get(sel, "valuesLists");
    if (alchdb__sql_node_count(lists) != 1)
        return PK_SKIP;
    const alchdb__sql_node *items = alchdb__sql_node_get(alchdb__sql_node_item(lists, 0), "items");
    if (alchdb__sql_node_count(items) != alchdb__sql_node_count(cols))
        return PK_SKIP;
    int rc = clean(items, NULL);
    if (rc != PK_OK)
        return rc;
    *rel = alchdb__sql_node_get(body, "relation");
    *row = items;
    return alchdb__sql_field_str(*rel, "relname") ? clean(body, "selectStmt") : PK_SKIP;
}

static int update_set_cols(pk_ctx *c, const alchdb__sql_node *body)
{
    alchdb__sql_row_target *t = c->t;
    const alchdb__sql_node *list = alchdb__sql_node_get(body, "targetList");
    for (size_t i = 0; i < alchdb__sql_node_count(list); i++) {
        const char *name = alchdb__sql_field_str(alchdb__sql_node_item(list, i), "name");
        if (!name)
            return PK_SKIP;
        if (add_name(&t->set_cols, &t->nset, name) == PK_NOMEM)
            return PK_NOMEM;
    }
    return PK_OK;
}

static int insert_fill(pk_ctx *c, const alchdb__sql_node *body, const alchdb__sql_node *row)
{
    alchdb__sql_row_target *t = c->t;
    const alchdb__sql_node *cols = alchdb__sql_node_get(body, "cols");
    for (size_t i = 0; i < alchdb__sql_node_count(cols); i++) {
        const alchdb__sql_node *rt = alchdb__sql_node_item(cols, i);
        const char *name = alchdb__sql_field_str(rt, "name");
        if (!name || alchdb__sql_node_count(alchdb__sql_node_get(rt, "indirection")))
            continue; /* a[1], b.c: the value is not the column's */
        int param;
        char *lit;
        int rc = value_of(c, alchdb__sql_node_item(row, i), &param, &lit);
        if (rc == PK_NOMEM)
            return PK_NOMEM;
        if (rc == PK_OK && add_eq(c, name, param, lit) == PK_NOMEM)
            return PK_NOMEM;
    }
    const alchdb__sql_node *oc = alchdb__sql_node_get(body, "onConflictClause");
    if (!oc)
        return PK_OK;
    const char *action = alchdb__sql_field_str(oc, "action");
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
    const alchdb__sql_node *infer = alchdb__sql_node_get(oc, "infer");
    const alchdb__sql_node *elems = alchdb__sql_node_get(infer, "indexElems");
    if (alchdb__sql_field_str(infer, "conname"))
        return PK_OK; /* ON CONSTRAINT name: columns unknown here */
    /* Only a plain column list is reported; an expression element makes the
     * target unknown (nconflict 0), as without a list. */
    for (size_t i = 0; i < alchdb__sql_node_count(elems); i++) {
        const alchdb__sql_node *ie = alchdb__sql_node_item(elems, i);
        if (!alchdb__sql_node_is(ie, "IndexElem") || !alchdb__sql_field_str(ie, "name") ||
            alchdb__sql_node_get(ie, "expr"))
            return PK_OK;
    }
    for (size_t i = 0; i < alchdb__sql_node_count(elems); i++)
        if (add_name(&t->conflict_cols, &t->nconflict, alchdb__sql_field_str(alchdb__sql_node_item(elems, i), "name")) ==
            PK_NOMEM)
            return PK_NOMEM;
    return PK_OK;
}

void alchdb__sql_row_target_free(alchdb__sql_row_target *t)
{
    if (!t)
        return;
    alchdb__free(t->table);
    alchdb__free(t->schema);
    alchdb__free(t->name);
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

/* The relation as the analysis names it: the walk's only table, in the set
 * the statement kind implies (read for SELECT, written otherwise), with the
 * other set empty. PK_SKIP when it disagrees. */
static int table_from_walk(const alchdb__sql_node *stmt, int kind, alchdb__sql_row_target *t)
{
    sql_walk_result r;
    memset(&r, 0, sizeof r);
    sql__walk_stmt(stmt, &r);
    int want = kind == ALCHDB_SQL_SELECT ? ALCHDB_SQL_TABLES_READ : ALCHDB_SQL_TABLES_WRITTEN;
    int rc = PK_SKIP;
    if (r.nomem) {
        rc = PK_NOMEM;
    } else if (!r.incomplete && r.kind == kind && r.tables[want].n == 1 && r.tables[!want].n == 0) {
        sql_name *nm = &r.tables[want].items[0];
        t->table = nm->display;
        t->schema = nm->schema;
        t->name = nm->name;
        nm->display = nm->schema = nm->name = NULL;
        rc = PK_OK;
    }
    sql__walk_result_free(&r);
    return rc;
}

/* Fill c->t from the statement; PK_SKIP: not a simple shape. */
static int build(pk_ctx *c, const alchdb__sql_node *stmt)
{
    const char *type = alchdb__sql_node_type(stmt);
    if (!type)
        return PK_SKIP;
    const alchdb__sql_node *rel = NULL, *row = NULL;
    int kind, rc;
    if (!strcmp(type, "SelectStmt")) {
        kind = ALCHDB_SQL_SELECT;
        rc = select_shape(stmt, &rel);
    } else if (!strcmp(type, "UpdateStmt")) {
        kind = ALCHDB_SQL_UPDATE;
        rc = update_delete_shape(stmt, "fromClause", &rel);
    } else if (!strcmp(type, "DeleteStmt")) {
        kind = ALCHDB_SQL_DELETE;
        rc = update_delete_shape(stmt, "usingClause", &rel);
    } else if (!strcmp(type, "InsertStmt")) {
        kind = ALCHDB_SQL_INSERT;
        rc = insert_shape(stmt, &rel, &row);
    } else {
        return PK_SKIP;
    }
    if (rc != PK_OK)
        return rc;
    if (!alchdb__sql_relref_of(rel, &c->rel))
        return PK_SKIP;
    alchdb__sql_row_target *t = c->t;
    t->kind = kind;
    rc = table_from_walk(stmt, kind, t);
    if (rc != PK_OK)
        return rc;
    if (kind == ALCHDB_SQL_INSERT)
        return insert_fill(c, stmt, row);
    if (kind == ALCHDB_SQL_UPDATE && (rc = update_set_cols(c, stmt)) != PK_OK)
        return rc;
    const alchdb__sql_node *where = alchdb__sql_node_get(stmt, "whereClause");
    return where ? where_eqs(c, where) : PK_OK;
}

int sql__row_target_build(const alchdb__sql_tree *tree, const alchdb__sql_node *stmt, alchdb__sql_row_target **out)
{
    *out = NULL;
    alchdb__sql_row_target *t = alchdb__calloc(1, sizeof *t);
    if (!t)
        return alchdb__nomem("SQL row target");
    pk_ctx c = {.tree = tree, .t = t};
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
    alchdb__sql_tree *t = NULL;
    int rc = alchdb__sql_tree_parse(sql, len, &t, NULL);
    if (rc == ALCHDB_E_RANGE)
        return 0; /* too deep: not a simple statement */
    if (rc < 0)
        return rc;
    if (alchdb__sql_tree_count(t) == 1)
        rc = sql__row_target_build(t, alchdb__sql_tree_stmt(t, 0, NULL, NULL), out);
    alchdb__sql_tree_free(t);
    return rc;
}
