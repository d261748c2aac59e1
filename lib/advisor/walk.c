/* What a statement asks of each table it reads, from the parse tree (lib/sql):
 * per SELECT, UPDATE or DELETE level, the columns compared with a value
 * (equality), one range column, the ORDER BY columns (by name, output alias
 * or position), join keys and partial-index predicates (`col = constant`,
 * `IS [NOT] NULL`). Tables are resolved as (schema, name) along the
 * search_path of the session that ran the statement; CTE references are not
 * tables, and each CTE's body is a level of its own (so inlined CTEs are seen
 * through). Every walk is iterative (the lib/sql visitor and explicit
 * stacks): a statement of any depth is walked or refused, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv.h"
#include "sql/tree.h"

#define MAX_TABLES 16

typedef struct scope {
    adv_use tabs[MAX_TABLES];
    int n;
} scope;

/* A growable stack of nodes for the iterative walks below. */
typedef struct nstack {
    const alchdb__sql_node **v;
    size_t n, cap;
} nstack;

static bool push(adv_walk *w, nstack *s, const alchdb__sql_node *n)
{
    if (!n)
        return true;
    if (!alchdb__adv_push((void **)&s->v, &s->n, &s->cap, sizeof *s->v)) {
        w->nomem = true;
        return false;
    }
    s->v[s->n++] = n;
    return true;
}

/* A view's parsed definition and the base column of each output column. */
typedef struct view_read {
    alchdb__sql_tree *tree;
    const char **names;
    int16_t *atts;
} view_read;

typedef struct view_list {
    view_read *v;
    size_t n, cap;
} view_list;

static int scope_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                       uintptr_t *state);

/* A query reads view rn: its definition is walked as a level of its own
 * (its conditions are the base tables'), and when it reads one table its
 * output columns map to that table's columns, so the outer conditions on
 * the view become conditions on the base table. */
static void see_view(adv_walk *w, scope *s, const adv_relname *rn, const char *alias)
{
    if (w->view_depth >= 8 || !rn->viewdef)
        return;
    view_list *vl = w->views;
    if (!vl && !(vl = w->views = alchdb__calloc(1, sizeof *vl))) {
        w->nomem = true;
        return;
    }
    if (!alchdb__adv_push((void **)&vl->v, &vl->n, &vl->cap, sizeof *vl->v)) {
        w->nomem = true;
        return;
    }
    view_read *v = &vl->v[vl->n++];
    memset(v, 0, sizeof *v);
    if (alchdb__sql_tree_parse(rn->viewdef, strlen(rn->viewdef), &v->tree, NULL) || alchdb__sql_tree_count(v->tree) != 1)
        return;
    const alchdb__sql_node *st = alchdb__sql_tree_stmt(v->tree, 0, NULL, NULL);
    if (!alchdb__sql_node_is(st, "SelectStmt"))
        return;
    w->known++;
    const alchdb__sql_node *from = alchdb__sql_node_get(st, "fromClause");
    alchdb__sql_relref base;
    adv_table *t = NULL;
    if (alchdb__sql_node_count(from) == 1 && alchdb__sql_relref_of(alchdb__sql_node_item(from, 0), &base) &&
        !alchdb__sql_node_get(st, "groupClause") && !alchdb__sql_node_get(st, "distinctClause"))
        t = alchdb__adv_find_table(w->c->r, base.schema, base.name, w->c->r->search_path, w->c->r->nsearch_path);
    const alchdb__sql_node *targets = alchdb__sql_node_get(st, "targetList");
    size_t nt = alchdb__sql_node_count(targets);
    if (t && nt && s->n < MAX_TABLES) {
        v->names = alchdb__calloc(nt, sizeof *v->names);
        v->atts = alchdb__calloc(nt, sizeof *v->atts);
        if (!v->names || !v->atts) {
            w->nomem = true;
            return;
        }
        for (size_t i = 0; i < nt; i++) {
            const alchdb__sql_node *rt = alchdb__sql_node_item(targets, i);
            const char *f[3];
            bool star = false;
            size_t nf = alchdb__sql_column_of(alchdb__sql_node_get(rt, "val"), f, 3, &star);
            v->names[i] = alchdb__sql_field_str(rt, "name");
            if (nf && !star) {
                v->atts[i] = (int16_t)alchdb__adv_attnum(t, f[nf - 1]);
                if (!v->names[i])
                    v->names[i] = f[nf - 1];
            }
            if (!v->names[i])
                v->names[i] = "";
        }
        adv_use *u = &s->tabs[s->n++];
        memset(u, 0, sizeof *u);
        u->t = t;
        u->alias = alias ? alias : rn->name;
        u->map_names = v->names;
        u->map_atts = v->atts;
        u->nmap = (int)nt;
    }
    w->view_depth++;
    int rc = alchdb__sql_visit(st, ADV_MAX_TREE_DEPTH, 0, scope_enter, NULL, w);
    w->view_depth--;
    if (rc == ALCHDB_E_NOMEM)
        w->nomem = true;
    if (!w->view_seen)
        w->view_seen = rn;
}

static void add_range_var(adv_walk *w, scope *s, const alchdb__sql_node *n)
{
    alchdb__sql_relref rel;
    if (!alchdb__sql_relref_of(n, &rel) || rel.cte)
        return;
    adv_table *t = alchdb__adv_find_table(w->c->r, rel.schema, rel.name, w->path, w->npath);
    const adv_relname *rn = t ? NULL : alchdb__adv_find_rel(w->c->r, rel.schema, rel.name, w->path, w->npath);
    if (rn && rn->kind == 'v') {
        see_view(w, s, rn, rel.alias);
        return;
    }
    if (rn && rn->kind == 'f') {
        if (!w->foreign_seen)
            w->foreign_seen = rn;
        return;
    }
    if (!t) {
        if ((rel.schema && (!strcmp(rel.schema, "pg_catalog") || !strcmp(rel.schema, "information_schema"))) ||
            (!rel.schema && !strncmp(rel.name, "pg_", 3)))
            return; /* the system catalogs are not ours to index */
        if (!w->bad) {
            w->bad = true;
            alchdb__strbuf sb;
            alchdb__sb_init(&sb);
            alchdb__sql_quote_qualified(&sb, NULL, rel.schema, rel.name);
            w->bad_name = alchdb__sb_finish(&sb);
        }
        return;
    }
    w->known++;
    if (s->n < MAX_TABLES) {
        memset(&s->tabs[s->n], 0, sizeof s->tabs[0]);
        s->tabs[s->n].t = t;
        s->tabs[s->n].alias = rel.alias;
        s->n++;
    }
}

/* FROM items: tables, and joins (their ON conditions go to quals). */
static void walk_from(adv_walk *w, scope *s, const alchdb__sql_node *list, nstack *quals)
{
    nstack todo = {0};
    for (size_t i = alchdb__sql_node_count(list); i-- > 0;)
        push(w, &todo, alchdb__sql_node_item(list, i));
    while (todo.n && !w->nomem) {
        const alchdb__sql_node *item = todo.v[--todo.n];
        if (alchdb__sql_node_is(item, "RangeVar")) {
            add_range_var(w, s, item);
        } else if (alchdb__sql_node_is(item, "JoinExpr")) {
            push(w, quals, alchdb__sql_node_get(item, "quals"));
            push(w, &todo, alchdb__sql_node_get(item, "rarg"));
            push(w, &todo, alchdb__sql_node_get(item, "larg"));
        }
    }
    alchdb__free(todo.v);
}

/* A ColumnRef to (scope table, attnum); NULL when unknown or ambiguous. */
static adv_use *resolve(scope *s, const alchdb__sql_node *cr, int16_t *att)
{
    const char *f[4];
    bool star = false;
    size_t n = alchdb__sql_column_of(cr, f, 4, &star);
    if (n < 1 || n > 3 || star)
        return NULL;
    const char *col = f[n - 1], *qual = n >= 2 ? f[n - 2] : NULL;
    adv_use *hit = NULL;
    for (int i = 0; i < s->n; i++) {
        adv_use *u = &s->tabs[i];
        if (qual && strcmp(qual, u->alias ? u->alias : u->t->name))
            continue;
        int a = 0;
        if (u->nmap) {
            for (int m = 0; m < u->nmap && !a; m++)
                if (!strcmp(u->map_names[m], col))
                    a = u->map_atts[m] ? u->map_atts[m] : -1;
            if (a < 0) /* a view column that is an expression: not indexable this way */
                return NULL;
        } else {
            a = alchdb__adv_attnum(u->t, col);
        }
        if (!a)
            continue;
        if (hit)
            return NULL;
        hit = u;
        *att = (int16_t)a;
    }
    return hit;
}

static int colref_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                        uintptr_t *state)
{
    (void)key;
    (void)parent;
    (void)state;
    if (alchdb__sql_node_is(n, "ColumnRef") || alchdb__sql_node_is(n, "SubLink")) {
        *(bool *)ud = true;
        return ALCHDB__SQL_VISIT_STOP;
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

/* Does the expression depend on a column (or a subquery)? Too deep to tell counts as yes. */
static bool has_colref(const alchdb__sql_node *n)
{
    bool found = false;
    int rc = alchdb__sql_visit(n, ADV_MAX_TREE_DEPTH, 0, colref_enter, NULL, &found);
    return found || rc < 0;
}

static void add_col(int16_t *arr, int *n, int16_t att)
{
    for (int i = 0; i < *n; i++)
        if (arr[i] == att)
            return;
    if (*n < ADV_MAX_COLS)
        arr[(*n)++] = att;
}

/* The constant as SQL (an escaped literal for strings), NULL when not a usable constant. */
static char *const_text(adv_walk *w, const alchdb__sql_node *v)
{
    alchdb__sql_const k;
    if (!alchdb__sql_const_of(w->tree, v, &k))
        return NULL;
    switch (k.kind) {
    case ALCHDB__SQL_CONST_INT:
    case ALCHDB__SQL_CONST_FLOAT:
    case ALCHDB__SQL_CONST_BOOL: return alchdb__strdup(k.text);
    case ALCHDB__SQL_CONST_STRING: return alchdb__adv_literal(w->c, k.text);
    default: return NULL;
    }
}

static void add_pred(adv_walk *w, adv_use *u, int16_t att, const char *op, const alchdb__sql_node *value)
{
    if (u->npred >= 2)
        return;
    char *lit = value ? const_text(w, value) : NULL;
    if (value && !lit)
        return;
    char *qc = alchdb__adv_ident(w->c, u->t->cols[att]);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "%s %s%s%s", qc ? qc : "", op, lit ? " " : "", lit ? lit : "");
    alchdb__free(qc);
    alchdb__free(lit);
    char *text = alchdb__sb_finish(&sb);
    if (!text) {
        w->nomem = true;
        return;
    }
    u->pred[u->npred].att = att;
    u->pred[u->npred].text = text;
    u->npred++;
}

static bool is_range_op(const char *op)
{
    return !strcmp(op, "<") || !strcmp(op, ">") || !strcmp(op, "<=") || !strcmp(op, ">=");
}

/* One comparison (A_Expr) or null test of a conjunction. */
static void walk_term(adv_walk *w, scope *s, const alchdb__sql_node *e)
{
    int16_t att = 0;
    if (alchdb__sql_node_is(e, "NullTest")) {
        adv_use *u = resolve(s, alchdb__sql_node_get(e, "arg"), &att);
        const char *t = alchdb__sql_field_str(e, "nulltesttype");
        if (u && t)
            add_pred(w, u, att, !strcmp(t, "IS_NULL") ? "IS NULL" : "IS NOT NULL", NULL);
        return;
    }
    if (!alchdb__sql_node_is(e, "A_Expr"))
        return;
    const char *kind = alchdb__sql_field_str(e, "kind");
    const char *parts[3];
    size_t np = alchdb__sql_name_parts(alchdb__sql_node_get(e, "name"), parts, 3);
    const char *op = np ? parts[np - 1] : NULL;
    const alchdb__sql_node *l = alchdb__sql_node_get(e, "lexpr"), *r = alchdb__sql_node_get(e, "rexpr");
    if (!kind || !op)
        return;
    int16_t la = 0, ra = 0;
    adv_use *ls = alchdb__sql_node_is(l, "ColumnRef") ? resolve(s, l, &la) : NULL;
    adv_use *rs = alchdb__sql_node_is(r, "ColumnRef") ? resolve(s, r, &ra) : NULL;
    if (!strcmp(kind, "AEXPR_OP")) {
        if (ls && rs && ls != rs && !strcmp(op, "=")) {
            add_col(ls->join, &ls->njoin, la);
            add_col(rs->join, &rs->njoin, ra);
            return;
        }
        bool flip = !ls && rs;
        adv_use *u = flip ? rs : ls;
        att = flip ? ra : la;
        const alchdb__sql_node *other = flip ? l : r;
        if (!u || has_colref(other))
            return;
        if (!strcmp(op, "=")) {
            add_col(u->eq, &u->neq, att);
            if (alchdb__sql_node_is(other, "A_Const"))
                add_pred(w, u, att, "=", other);
        } else if (is_range_op(op) && !u->range) {
            u->range = att;
        }
    } else if (!strcmp(kind, "AEXPR_IN") && ls && !has_colref(r)) {
        add_col(ls->eq, &ls->neq, la);
    } else if ((!strcmp(kind, "AEXPR_BETWEEN") || !strcmp(kind, "AEXPR_LIKE")) && ls && !ls->range) {
        ls->range = la;
    }
}

/* A condition: the terms of its top-level AND (nested ANDs included). */
static void walk_cond(adv_walk *w, scope *s, const alchdb__sql_node *cond)
{
    nstack todo = {0};
    push(w, &todo, cond);
    while (todo.n && !w->nomem) {
        const alchdb__sql_node *e = todo.v[--todo.n];
        if (alchdb__sql_node_is(e, "BoolExpr")) {
            const char *op = alchdb__sql_field_str(e, "boolop");
            const alchdb__sql_node *args = alchdb__sql_node_get(e, "args");
            if (op && !strcmp(op, "AND_EXPR"))
                for (size_t i = alchdb__sql_node_count(args); i-- > 0;)
                    push(w, &todo, alchdb__sql_node_item(args, i));
        } else {
            walk_term(w, s, e);
        }
    }
    alchdb__free(todo.v);
}

/* What an ORDER BY item sorts by: the output column it names by position
 * (ORDER BY 2) or alias (ORDER BY total AS written in the SELECT list), else
 * the expression itself. */
static const alchdb__sql_node *sort_target(adv_walk *w, const alchdb__sql_node *stmt, const alchdb__sql_node *n)
{
    const alchdb__sql_node *targets = alchdb__sql_node_get(stmt, "targetList");
    alchdb__sql_const k;
    if (alchdb__sql_const_of(w->tree, n, &k)) {
        long long pos = k.kind == ALCHDB__SQL_CONST_INT ? strtoll(k.text, NULL, 10) : 0;
        const alchdb__sql_node *rt = NULL;
        if (pos >= 1 && (size_t)pos <= alchdb__sql_node_count(targets))
            rt = alchdb__sql_node_item(targets, (size_t)pos - 1);
        return rt ? alchdb__sql_node_get(rt, "val") : NULL;
    }
    const char *f[2];
    bool star = false;
    if (alchdb__sql_column_of(n, f, 2, &star) == 1 && !star)
        for (size_t i = 0; i < alchdb__sql_node_count(targets); i++) {
            const alchdb__sql_node *rt = alchdb__sql_node_item(targets, i);
            const char *name = alchdb__sql_field_str(rt, "name");
            if (name && !strcmp(name, f[0]))
                return alchdb__sql_node_get(rt, "val");
        }
    return n;
}

static void walk_scope(adv_walk *w, const alchdb__sql_node *stmt)
{
    scope s;
    s.n = 0;
    nstack quals = {0};
    if (!alchdb__sql_node_is(stmt, "SelectStmt"))
        add_range_var(w, &s, alchdb__sql_node_get(stmt, "relation"));
    walk_from(w, &s, alchdb__sql_node_get(stmt, "fromClause"), &quals);
    walk_from(w, &s, alchdb__sql_node_get(stmt, "usingClause"), &quals);
    walk_cond(w, &s, alchdb__sql_node_get(stmt, "whereClause"));
    for (size_t i = 0; i < quals.n; i++)
        walk_cond(w, &s, quals.v[i]);
    alchdb__free(quals.v);
    /* ORDER BY: the leading items that sort by columns of one table. */
    const alchdb__sql_node *sorts = alchdb__sql_node_get(stmt, "sortClause");
    adv_use *sorted = NULL;
    for (size_t i = 0; i < alchdb__sql_node_count(sorts); i++) {
        const alchdb__sql_node *sb = alchdb__sql_node_item(sorts, i);
        int16_t att = 0;
        adv_use *u = alchdb__sql_node_is(sb, "SortBy")
                         ? resolve(&s, sort_target(w, stmt, alchdb__sql_node_get(sb, "node")), &att)
                         : NULL;
        if (!u || (sorted && u != sorted))
            break;
        sorted = u;
        /* DESC sorts nulls first unless told otherwise, ASC last. */
        const char *dir = alchdb__sql_field_str(sb, "sortby_dir");
        const char *nulls = alchdb__sql_field_str(sb, "sortby_nulls");
        uint8_t ord = dir && !strcmp(dir, "SORTBY_DESC") ? ADV_ORD_DESC : 0;
        if (nulls && !strcmp(nulls, "SORTBY_NULLS_FIRST"))
            ord |= ADV_ORD_NULLS_FIRST;
        else if (!(nulls && !strcmp(nulls, "SORTBY_NULLS_LAST")) && (ord & ADV_ORD_DESC))
            ord |= ADV_ORD_NULLS_FIRST;
        int before = u->nsort;
        add_col(u->sort, &u->nsort, att);
        if (u->nsort > before)
            u->sort_ord[before] = ord;
    }
    for (int t = 0; t < s.n; t++) {
        if (!w->nomem)
            w->use(w->ud, &s.tabs[t]);
        for (int p = 0; p < s.tabs[t].npred; p++)
            alchdb__free(s.tabs[t].pred[p].text);
    }
}

static int scope_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                       uintptr_t *state)
{
    (void)key;
    (void)parent;
    (void)state;
    adv_walk *w = ud;
    int p = alchdb__sql_param_of(n);
    if (p > w->maxparam)
        w->maxparam = p;
    if (alchdb__sql_node_is(n, "SelectStmt") || alchdb__sql_node_is(n, "UpdateStmt") ||
        alchdb__sql_node_is(n, "DeleteStmt"))
        walk_scope(w, n);
    return w->nomem ? ALCHDB__SQL_VISIT_STOP : ALCHDB__SQL_VISIT_DESCEND;
}

int alchdb__adv_walk(adv_walk *w, const alchdb__sql_node *stmt)
{
    w->known = 0;
    w->bad = false;
    w->bad_name = NULL;
    w->maxparam = 0;
    w->nomem = false;
    w->views = NULL;
    w->view_seen = w->foreign_seen = NULL;
    int rc = alchdb__sql_visit(stmt, ADV_MAX_TREE_DEPTH, 0, scope_enter, NULL, w);
    view_list *vl = w->views;
    for (size_t i = 0; vl && i < vl->n; i++) {
        alchdb__sql_tree_free(vl->v[i].tree);
        alchdb__free(vl->v[i].names);
        alchdb__free(vl->v[i].atts);
    }
    if (vl)
        alchdb__free(vl->v);
    alchdb__free(vl);
    w->views = NULL;
    if (w->nomem || rc == ALCHDB_E_NOMEM)
        return alchdb__nomem("advisor statement walk");
    return rc == ALCHDB_E_RANGE ? rc : 0;
}
