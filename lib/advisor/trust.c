/* Which workload statements the advisor may plan. Planning runs code: the
 * planner folds calls of IMMUTABLE functions with constant arguments and
 * evaluates STABLE ones to estimate selectivity, through views and row-level
 * security policies too. A function that is not built in, not part of an
 * extension and not owned by a superuser (or by the advisor's own role) is
 * someone else's code; a statement that may reach one is not planned, so its
 * code never runs with the advisor's privileges (docs/advisor.md, "Planning
 * untrusted statements"). */
#include <stdio.h>
#include <string.h>

#include "adv.h"
#include "sql/tree.h"

/* Functions the planner may run (not VOLATILE) that nobody trusted wrote. */
#define UNTRUSTED_FUNCS                                                                                         \
    "SELECT p.oid FROM pg_proc p JOIN pg_roles o ON o.oid = p.proowner WHERE p.oid >= 16384 "                  \
    "AND p.provolatile <> 'v' AND NOT o.rolsuper AND o.rolname <> current_user "                               \
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid "    \
    "AND d.deptype = 'e')"

static const char q_trust[] =
    "WITH RECURSIVE u AS (" UNTRUSTED_FUNCS "), "
    /* relations whose rewrite rules (views) or policies reach an untrusted
     * function, directly or through another such relation */
    "dep(rel) AS ("
    "  SELECT coalesce(r.ev_class, pol.polrelid) FROM pg_depend d "
    "  LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid "
    "  LEFT JOIN pg_policy pol ON d.classid = 'pg_policy'::regclass AND pol.oid = d.objid "
    "  WHERE d.refclassid = 'pg_proc'::regclass AND d.refobjid IN (SELECT oid FROM u) "
    "  AND coalesce(r.ev_class, pol.polrelid) IS NOT NULL "
    "  UNION "
    "  SELECT coalesce(r.ev_class, pol.polrelid) FROM dep JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass "
    "  AND d.refobjid = dep.rel "
    "  LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid "
    "  LEFT JOIN pg_policy pol ON d.classid = 'pg_policy'::regclass AND pol.oid = d.objid "
    "  WHERE coalesce(r.ev_class, pol.polrelid) IS NOT NULL AND coalesce(r.ev_class, pol.polrelid) <> dep.rel) "
    "SELECT 'f', p.proname, o.rolname FROM pg_proc p JOIN pg_roles o ON o.oid = p.proowner WHERE p.oid IN "
    "(SELECT oid FROM u) "
    "UNION ALL SELECT 'o', op.oprname, o.rolname FROM pg_operator op JOIN pg_roles o ON o.oid = op.oprowner "
    "WHERE op.oprcode IN (SELECT oid FROM u) "
    "UNION ALL SELECT 'r', c.relname, o.rolname FROM pg_class c JOIN pg_roles o ON o.oid = c.relowner "
    "WHERE c.oid IN (SELECT rel FROM dep) "
    "UNION ALL SELECT 'c', format_type(k.casttarget, NULL), o.rolname FROM pg_cast k JOIN pg_proc p "
    "ON p.oid = k.castfunc JOIN pg_roles o ON o.oid = p.proowner WHERE k.castfunc IN (SELECT oid FROM u)";

struct adv_trust {
    char kind; /* 'f' function, 'o' operator, 'r' relation, 'c' cast */
    char *name, *owner;
};

int alchdb__adv_trust_load(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    PGresult *res = alchdb__adv_query(c, "the functions the planner could run", q_trust, 0, NULL);
    if (!res) {
        r->trust_unknown = true; /* nothing is planned: the note says why */
        return 0;
    }
    int n = PQntuples(res);
    r->untrusted = alchdb__calloc((size_t)n + 1, sizeof *r->untrusted);
    if (!r->untrusted) {
        PQclear(res);
        return alchdb__nomem("advisor untrusted functions");
    }
    for (int i = 0; i < n; i++) {
        adv_trust *t = &r->untrusted[r->nuntrusted++];
        t->kind = PQgetvalue(res, i, 0)[0];
        t->name = alchdb__strdup(PQgetvalue(res, i, 1));
        t->owner = alchdb__strdup(PQgetvalue(res, i, 2));
        if (!t->name || !t->owner) {
            PQclear(res);
            return alchdb__nomem("advisor untrusted functions");
        }
        if (t->kind == 'c')
            r->untrusted_cast = true;
    }
    PQclear(res);
    return 0;
}

void alchdb__adv_trust_free(alchdb_advisor_report *r)
{
    for (size_t i = 0; i < r->nuntrusted; i++) {
        alchdb__free(r->untrusted[i].name);
        alchdb__free(r->untrusted[i].owner);
    }
    alchdb__free(r->untrusted);
}

typedef struct screen {
    const alchdb_advisor_report *r;
    const adv_trust *hit;
} screen;

static const adv_trust *lookup(const alchdb_advisor_report *r, char kind, const char *name)
{
    for (size_t i = 0; name && i < r->nuntrusted; i++)
        if (r->untrusted[i].kind == kind && !strcmp(r->untrusted[i].name, name))
            return &r->untrusted[i];
    return NULL;
}

static int enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent, uintptr_t *state)
{
    (void)key;
    (void)parent;
    (void)state;
    screen *s = ud;
    const char *schema, *name;
    alchdb__sql_relref rel;
    if (alchdb__sql_node_is(n, "FuncCall") && alchdb__sql_func_of(n, &schema, &name)) {
        s->hit = lookup(s->r, 'f', name);
    } else if (alchdb__sql_node_is(n, "A_Expr")) {
        const char *parts[3];
        size_t np = alchdb__sql_name_parts(alchdb__sql_node_get(n, "name"), parts, 3);
        if (np)
            s->hit = lookup(s->r, 'o', parts[np - 1]);
    } else if (alchdb__sql_relref_of(n, &rel) && !rel.cte) {
        s->hit = lookup(s->r, 'r', rel.name);
    }
    return s->hit ? ALCHDB__SQL_VISIT_STOP : ALCHDB__SQL_VISIT_DESCEND;
}

int alchdb__adv_trust_check(const alchdb_advisor_report *r, const alchdb__sql_node *stmt, char **why)
{
    *why = NULL;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    screen s = {r, NULL};
    int rc = 0;
    if (r->trust_unknown)
        alchdb__sb_puts(&sb, "the functions it may call could not be checked");
    else if (r->untrusted_cast)
        alchdb__sb_puts(&sb, "a cast in this database runs a function whose owner is not trusted, and any "
                             "statement may apply it");
    else if (!r->nuntrusted)
        return 0;
    else
        rc = alchdb__sql_visit(stmt, ADV_MAX_TREE_DEPTH, 0, enter, NULL, &s);
    if (rc == ALCHDB_E_NOMEM)
        return rc;
    if (s.hit && s.hit->kind == 'r')
        alchdb__sb_printf(&sb, "it reads %s, whose definition or policies call a function of a role that is not "
                               "trusted (%s owns the relation)",
                          s.hit->name, s.hit->owner);
    else if (s.hit)
        alchdb__sb_printf(&sb, "it %s %s%s, owned by role %s, which is not trusted",
                          s.hit->kind == 'f' ? "calls function" : "uses operator", s.hit->name,
                          s.hit->kind == 'f' ? "()" : "", s.hit->owner);
    else if (rc == ALCHDB_E_RANGE)
        alchdb__sb_puts(&sb, "it is nested too deeply to check the functions it calls");
    if (!sb.len && !sb.failed) {
        alchdb__sb_reset(&sb);
        return 0;
    }
    *why = alchdb__sb_finish(&sb);
    return *why ? 0 : alchdb__nomem("advisor trust check");
}
