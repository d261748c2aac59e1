/* The layer's visitor (an explicit stack of frames on the heap: no
 * recursion, so no depth can overflow the C stack) and the one CTE scoping
 * pass built on it. */
#include "sql_priv.h"
#include "tree.h"

typedef struct frame {
    const alchdb__sql_node *n; /* an object, or a list whose items come next */
    const char *key;
    const alchdb__sql_node *parent;
    uintptr_t state;
    size_t depth; /* of n (for a list: of its items) */
    bool leaving;
} frame;

typedef struct fstack {
    frame *f;
    size_t n, cap;
} fstack;

static bool push(fstack *s, frame fr)
{
    frame *f = sql__grow(s->f, &s->cap, s->n + 1, sizeof *s->f);
    if (!f)
        return false;
    s->f = f;
    s->f[s->n++] = fr;
    return true;
}

static bool container(const alchdb__sql_node *v)
{
    return v->jtype == ALCHDB__SQL_J_OBJECT || v->jtype == ALCHDB__SQL_J_LIST;
}

/* The children of an object, pushed so that they pop in document order
 * with "withClause" first. */
static bool push_children(fstack *s, const alchdb__sql_node *n, uintptr_t state, size_t depth)
{
    const alchdb__sql_node *with = NULL;
    for (uint32_t i = n->n; i-- > 0;) {
        const alchdb__sql_node *v = &n->kids[i];
        if (!container(v))
            continue;
        if (!strcmp(n->keys[i], "withClause")) {
            with = v;
            continue;
        }
        if (!push(s, (frame){v, n->keys[i], n, state, depth, false}))
            return false;
    }
    return !with || push(s, (frame){with, "withClause", n, state, depth, false});
}

int alchdb__sql_visit(const alchdb__sql_node *root, size_t max_depth, uintptr_t state, alchdb__sql_enter_fn enter,
                      alchdb__sql_leave_fn leave, void *ud)
{
    if (!root || !container(root))
        return 0;
    fstack s = {0};
    int rc = 0;
    bool cut = false;
    if (!push(&s, (frame){root, NULL, NULL, state, 1, false}))
        return alchdb__nomem("SQL tree walk");
    while (s.n > 0 && rc == 0) {
        frame f = s.f[--s.n];
        if (f.n->jtype == ALCHDB__SQL_J_LIST) {
            for (uint32_t i = f.n->n; i-- > 0 && rc == 0;)
                if (container(&f.n->kids[i]) &&
                    !push(&s, (frame){&f.n->kids[i], f.key, f.parent, f.state, f.depth, false}))
                    rc = alchdb__nomem("SQL tree walk");
            continue;
        }
        if (f.leaving) {
            leave(ud, f.n, f.key, f.state);
            continue;
        }
        if (f.depth > max_depth) {
            cut = true;
            continue;
        }
        uintptr_t st = f.state;
        int action = enter(ud, f.n, f.key, f.parent, &st);
        if (action == ALCHDB__SQL_VISIT_STOP) {
            rc = 1;
            break;
        }
        if (action == ALCHDB__SQL_VISIT_SKIP)
            continue;
        if ((leave && !push(&s, (frame){f.n, f.key, f.parent, st, f.depth, true})) ||
            !push_children(&s, f.n, st, f.depth + 1))
            rc = alchdb__nomem("SQL tree walk");
    }
    alchdb__free(s.f);
    if (rc == 0 && cut)
        rc = alchdb__error(ALCHDB_E_RANGE, "SQL nested too deeply to analyse: more than %zu levels", max_depth);
    return rc;
}

/* ---- CTE scoping ------------------------------------------------------------------
 * PostgreSQL's rules: a WITH list belongs to the query it is attached to and
 * is visible in that query and everything nested in it; a CTE of a plain
 * WITH is visible to the CTEs after it and to the query, not to itself; all
 * CTEs of WITH RECURSIVE are visible everywhere in it. Only an unqualified
 * name can name a CTE, and never the target of INSERT/UPDATE/DELETE/MERGE. */

#define REC_BIT ((uintptr_t)1)

typedef struct scope {
    const char **names;
    size_t n, cap;
    bool nomem;
} scope;

static void scope_push(scope *sc, const char *name)
{
    if (!name)
        return;
    const char **names = sql__grow(sc->names, &sc->cap, sc->n + 1, sizeof *sc->names);
    if (!names) {
        sc->nomem = true;
        return;
    }
    sc->names = names;
    sc->names[sc->n++] = name;
}

static bool scope_has(const scope *sc, const char *name)
{
    for (size_t i = sc->n; i-- > 0;)
        if (!strcmp(sc->names[i], name))
            return true;
    return false;
}

static bool dml_target(const char *key, const alchdb__sql_node *parent)
{
    return key && !strcmp(key, "relation") &&
           (alchdb__sql_node_is(parent, "InsertStmt") || alchdb__sql_node_is(parent, "UpdateStmt") ||
            alchdb__sql_node_is(parent, "DeleteStmt") || alchdb__sql_node_is(parent, "MergeStmt"));
}

static int cte_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                     uintptr_t *state)
{
    scope *sc = ud;
    if (sc->nomem)
        return ALCHDB__SQL_VISIT_STOP;
    if (alchdb__sql_node_get(n, "withClause")) {
        /* the query owning a WITH: remember the scope to restore on leave */
        *state = (uintptr_t)sc->n << 1 | (*state & REC_BIT);
    } else if (key && !strcmp(key, "withClause")) {
        bool rec = alchdb__sql_node_true(alchdb__sql_node_get(n, "recursive"));
        *state = rec ? *state | REC_BIT : *state & ~REC_BIT;
        const alchdb__sql_node *ctes = alchdb__sql_node_get(n, "ctes");
        for (size_t i = 0; rec && i < alchdb__sql_node_count(ctes); i++)
            scope_push(sc, alchdb__sql_field_str(alchdb__sql_node_item(ctes, i), "ctename"));
    } else if (alchdb__sql_field_str(n, "relname") && !alchdb__sql_field_str(n, "schemaname") &&
               !alchdb__sql_field_str(n, "catalogname") && !dml_target(key, parent) &&
               scope_has(sc, alchdb__sql_field_str(n, "relname"))) {
        ((alchdb__sql_node *)n)->flags |= ALCHDB__SQL_NF_CTE_REF; /* the tree is ours while it is built */
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

static void cte_leave(void *ud, const alchdb__sql_node *n, const char *key, uintptr_t state)
{
    (void)key;
    scope *sc = ud;
    if (alchdb__sql_node_get(n, "withClause"))
        sc->n = (size_t)(state >> 1);
    else if (alchdb__sql_node_is(n, "CommonTableExpr") && !(state & REC_BIT))
        scope_push(sc, alchdb__sql_field_str(n, "ctename"));
}

int sql__resolve_ctes(const alchdb__sql_node *stmts)
{
    scope sc = {0};
    int rc = alchdb__sql_visit(stmts, SQL_MAX_TREE_DEPTH, 0, cte_enter, cte_leave, &sc);
    alchdb__free(sc.names);
    if (sc.nomem)
        return alchdb__nomem("SQL CTE scope");
    return rc < 0 ? rc : 0;
}
