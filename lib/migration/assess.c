/* The rule engine: walks libpg_query's parse tree of each statement (obtained
 * from lib/sql, the one place that parses SQL) and records, as PostgreSQL 15
 * behaves, which relations it locks in which mode, whether it rewrites, scans
 * or builds, the risk, findings, a safer rewrite and a rollback. The lock table
 * follows AlterTableGetLockLevel() and friends in PostgreSQL 15's sources and is
 * checked against a real server by tests/migration (trace mode). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "sql/sql_internal.h"
#include "sql/tree.h"

/* ---- reading the tree (lib/sql's parse-tree layer) ---------------------------
 * Nodes are read through sql/tree.h: a wrapped node ({"ColumnDef": {...}})
 * is one node whose type is "ColumnDef"; no JSON is walked here, and every
 * walk into an expression goes through the layer's iterative visitor. */

typedef alchdb__sql_node node;

static const node *jget(const node *o, const char *k) { return alchdb__sql_node_get(o, k); }

static const char *jstr(const node *o, const char *k) { return alchdb__sql_field_str(o, k); }

static bool jbool(const node *o, const char *k) { return alchdb__sql_node_true(jget(o, k)); }

static long long jint(const node *o, const char *k, long long dflt) { return alchdb__sql_node_int(jget(o, k), dflt); }

/* The node's type ("TypeName", ...); *body is the node itself. */
static const char *node_type(const node *n, const node **body)
{
    if (body)
        *body = n;
    return alchdb__sql_node_type(n);
}

static const node *as_node(const node *n, const char *type) { return alchdb__sql_node_is(n, type) ? n : NULL; }

#define list_size(l) alchdb__sql_node_count(l)
#define list_get(l, i) alchdb__sql_node_item((l), (i))
#define list_foreach(l, i, v) for ((i) = 0; (i) < list_size(l) && ((v) = list_get((l), (i))) != NULL; (i)++)

/* Last String of a names list ([{"String":{"sval":"pg_catalog"}},...]). */
static const char *last_name(const node *list)
{
    size_t n = list_size(list);
    if (!n)
        return NULL;
    const node *s = as_node(list_get(list, n - 1), "String");
    return jstr(s, "sval");
}

/* The relation key (names.c) of a qualified-name list: its last two parts
 * (a catalog name before them is not part of the key). */
static void names_join(const node *list, char *buf, size_t cap)
{
    size_t n = list_size(list);
    const char *schema = n >= 2 ? jstr(as_node(list_get(list, n - 2), "String"), "sval") : NULL;
    const char *name = n ? jstr(as_node(list_get(list, n - 1), "String"), "sval") : NULL;
    alchdb__mig_rel_key(buf, cap, schema, name);
}

/* The relation key of a RangeVar: schema and name as two fields of the tree. */
static void rangevar_name(const node *rv, char *buf, size_t cap)
{
    alchdb__mig_rel_key(buf, cap, jstr(rv, "schemaname"), jstr(rv, "relname"));
}

/* ---- growing arrays and formatting --------------------------------------- */

static bool grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 8;
    while (nc < need)
        nc *= 2;
    void *p = alchdb__realloc(*arr, nc * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

static char *vfmt(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = alchdb__malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static char *fmt(const char *f, ...) ALCHDB_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(f, ap);
    va_end(ap);
    return s;
}

/* ---- string sets in the state ---------------------------------------------- */

static bool set_has(char **set, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i], key) == 0)
            return true;
    return false;
}

static bool set_add(char ***set, size_t *n, size_t *cap, const char *key)
{
    if (set_has(*set, *n, key))
        return true;
    if (!grow((void **)set, cap, *n + 1, sizeof(char *)))
        return false;
    char *d = alchdb__strdup(key);
    if (!d)
        return false;
    (*set)[(*n)++] = d;
    return true;
}

static void set_del(char **set, size_t *n, const char *key)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(set[i], key) == 0) {
            alchdb__free(set[i]);
            set[i] = set[--*n];
            return;
        }
}

static void set_free(char **set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        alchdb__free(set[i]);
    alchdb__free(set);
}

/* Relation names are compared as written, but "public.t" and "t" are the same
 * table for all practical purposes of a migration. */
static const char *unqualified(const char *rel)
{
    if (strncmp(rel, "public.", 7) == 0)
        return rel + 7;
    return rel;
}

static bool same_rel(const char *a, const char *b) { return strcmp(unqualified(a), unqualified(b)) == 0; }

static bool in_rel_set(char **set, size_t n, const char *rel)
{
    for (size_t i = 0; i < n; i++)
        if (same_rel(set[i], rel))
            return true;
    return false;
}

/* ---- the per-statement context ---------------------------------------------- */

typedef struct ctx {
    alchdb_migration *m;
    mig_state *s;
    mig_stmt *st;
    bool oom;
} ctx;

static bool is_new(ctx *c, const char *rel) { return in_rel_set(c->s->new_tables, c->s->n_new, rel); }

static int risk_rank(int r)
{
    switch (r) {
    case ALCHDB_RISK_NONE: return 0;
    case ALCHDB_RISK_LOW: return 1;
    case ALCHDB_RISK_MEDIUM: return 2;
    case ALCHDB_RISK_UNKNOWN: return 3;
    case ALCHDB_RISK_HIGH: return 4;
    default: return 0;
    }
}

static void risk(ctx *c, int r, const char *f, ...) ALCHDB_PRINTF(3, 4);
static void risk(ctx *c, int r, const char *f, ...)
{
    if (risk_rank(r) < risk_rank(c->st->risk) || (risk_rank(r) == risk_rank(c->st->risk) && c->st->reason))
        return;
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(f, ap);
    va_end(ap);
    if (!s) {
        c->oom = true;
        return;
    }
    alchdb__free(c->st->reason);
    c->st->reason = s;
    c->st->risk = r;
}

static void lock(ctx *c, const char *rel, int mode)
{
    mig_stmt *st = c->st;
    for (size_t i = 0; i < st->nlocks; i++)
        if (strcmp(st->locks[i].relation, rel) == 0) {
            if (mode > st->locks[i].mode)
                st->locks[i].mode = mode;
            return;
        }
    if (!grow((void **)&st->locks, &st->caplocks, st->nlocks + 1, sizeof *st->locks)) {
        c->oom = true;
        return;
    }
    char *d = alchdb__strdup(rel);
    if (!d) {
        c->oom = true;
        return;
    }
    st->locks[st->nlocks].relation = d;
    st->locks[st->nlocks].mode = mode;
    st->locks[st->nlocks].existing = !is_new(c, rel);
    st->nlocks++;
}

static void finding(ctx *c, const char *rule, const char *severity, char *message, char *help)
{
    mig_stmt *st = c->st;
    if (!message || !help ||
        !grow((void **)&st->findings, &st->capfindings, st->nfindings + 1, sizeof *st->findings)) {
        alchdb__free(message);
        alchdb__free(help);
        c->oom = true;
        return;
    }
    for (size_t i = 0; i < st->nfindings; i++)
        if (strcmp(st->findings[i].rule, rule) == 0) { /* one finding per rule per statement */
            alchdb__free(message);
            alchdb__free(help);
            return;
        }
    st->findings[st->nfindings++] = (mig_finding){rule, severity, message, help};
}

static void set_text(ctx *c, char **slot, char *value)
{
    if (!value) {
        c->oom = true;
        return;
    }
    if (*slot) { /* several commands in one statement: join them */
        char *j = fmt("%s\n%s", *slot, value);
        alchdb__free(value);
        if (!j) {
            c->oom = true;
            return;
        }
        value = j;
    }
    alchdb__free(*slot);
    *slot = value;
}

static void irreversible(ctx *c, const char *f, ...) ALCHDB_PRINTF(2, 3);
static void irreversible(ctx *c, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = vfmt(f, ap);
    va_end(ap);
    c->st->flags &= ~ALCHDB_MIG_REVERSIBLE;
    c->st->flags |= 0x80000000u; /* sticky: once irreversible, stays so */
    set_text(c, &c->st->rollback_note, s);
}

static void rollback(ctx *c, char *sql)
{
    if (!(c->st->flags & 0x80000000u))
        c->st->flags |= ALCHDB_MIG_REVERSIBLE;
    set_text(c, &c->st->rollback, sql);
}

/* Quoted identifier for generated SQL. */
static char *q(ctx *c, const char *name)
{
    char *r = alchdb__mig_quote_ident(name);
    if (!r)
        c->oom = true;
    return r;
}

/* Owned strings that die with the statement assessment. */
typedef struct scratch {
    char **p;
    size_t n, cap;
} scratch;

static const char *keep(scratch *sc, char *s)
{
    if (!s)
        return "";
    if (!grow((void **)&sc->p, &sc->cap, sc->n + 1, sizeof *sc->p)) {
        alchdb__free(s); /* the caller sees "" and the ctx is already marked oom by q() or fmt() users */
        return "";
    }
    sc->p[sc->n++] = s;
    return s;
}

static void scratch_free(scratch *sc)
{
    for (size_t i = 0; i < sc->n; i++)
        alchdb__free(sc->p[i]);
    alchdb__free(sc->p);
    sc->p = NULL;
    sc->n = sc->cap = 0;
}

/* A relation key is already SQL (names.c): each part quoted where needed. */
static char *qrel(ctx *c, const char *rel)
{
    char *r = alchdb__strdup(rel);
    if (!r)
        c->oom = true;
    return r;
}

/* A string literal for generated SQL. */
static char *lit(ctx *c, const char *s)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__mig_sql_literal(&sb, s);
    char *r = alchdb__sb_finish(&sb);
    if (!r)
        c->oom = true;
    return r;
}

/* ---- type rules -------------------------------------------------------------- */

/* A column type from the tree: the name the rules compare (the last part,
 * as pg_catalog spells built-in types), its modifiers, and the type as SQL
 * rendered from the name's parts (each quoted where needed: "My Type" and
 * "char" keep their quotes; a schema other than pg_catalog is kept). */
static void type_from(const node *typeName, mig_type *t)
{
    memset(t, 0, sizeof *t);
    const char *n = last_name(jget(typeName, "names"));
    snprintf(t->name, sizeof t->name, "%s", n ? n : "?");
    const node *mods = jget(typeName, "typmods");
    for (size_t i = 0; i < list_size(mods) && t->nmods < 2; i++) {
        const node *ac = as_node(list_get(mods, i), "A_Const");
        const node *iv = jget(ac, "ival");
        t->mods[t->nmods++] = (int32_t)jint(iv, "ival", 0);
    }
    t->is_array = list_size(jget(typeName, "arrayBounds")) > 0;
    const node *names = jget(typeName, "names");
    size_t nn = list_size(names);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    for (size_t i = 0; i < nn; i++) {
        const char *part = jstr(as_node(list_get(names, i), "String"), "sval");
        if (i == 0 && nn > 1 && part && !strcmp(part, "pg_catalog"))
            continue; /* built-in types read as written without it */
        if (sb.len)
            alchdb__sb_puts(&sb, ".");
        alchdb__mig_sql_ident(&sb, part ? part : "?");
    }
    if (t->nmods == 2)
        alchdb__sb_printf(&sb, "(%d,%d)", t->mods[0], t->mods[1]);
    else if (t->nmods == 1)
        alchdb__sb_printf(&sb, "(%d)", t->mods[0]);
    if (t->is_array)
        alchdb__sb_puts(&sb, "[]");
    char *r = alchdb__sb_finish(&sb);
    snprintf(t->sql, sizeof t->sql, "%s", r ? r : "?");
    alchdb__free(r);
}

static void type_str(const mig_type *t, char *buf, size_t cap)
{
    if (t->sql[0])
        snprintf(buf, cap, "%s", t->sql);
    else if (t->nmods == 2)
        snprintf(buf, cap, "%s(%d,%d)%s", t->name, t->mods[0], t->mods[1], t->is_array ? "[]" : "");
    else if (t->nmods == 1)
        snprintf(buf, cap, "%s(%d)%s", t->name, t->mods[0], t->is_array ? "[]" : "");
    else
        snprintf(buf, cap, "%s%s", t->name, t->is_array ? "[]" : "");
}

enum { TC_NO_REWRITE, TC_REWRITE, TC_TZ, TC_UNKNOWN };

static bool tn(const mig_type *t, const char *n) { return strcmp(t->name, n) == 0; }

/* Whether ALTER COLUMN TYPE rewrites, from PostgreSQL's rules for binary
 * coercible casts and the length/precision support functions (varchar,
 * varbit, numeric, time types). */
static int type_change(const mig_type *old, const mig_type *nw, bool has_using)
{
    if (has_using)
        return TC_REWRITE;
    if (!old)
        return TC_UNKNOWN;
    if (old->is_array != nw->is_array)
        return TC_REWRITE;
    if (strcmp(old->name, nw->name) == 0) {
        if (tn(nw, "varchar") || tn(nw, "varbit")) {
            if (nw->nmods == 0)
                return TC_NO_REWRITE;
            if (old->nmods == 0)
                return TC_REWRITE;
            return nw->mods[0] >= old->mods[0] ? TC_NO_REWRITE : TC_REWRITE;
        }
        if (tn(nw, "numeric")) {
            if (nw->nmods == 0)
                return TC_NO_REWRITE;
            if (old->nmods == 0)
                return TC_REWRITE;
            int os = old->nmods > 1 ? old->mods[1] : 0, ns = nw->nmods > 1 ? nw->mods[1] : 0;
            return (ns == os && nw->mods[0] >= old->mods[0]) ? TC_NO_REWRITE : TC_REWRITE;
        }
        if (tn(nw, "timestamp") || tn(nw, "timestamptz") || tn(nw, "time") || tn(nw, "timetz") ||
            tn(nw, "interval")) {
            if (nw->nmods == 0)
                return TC_NO_REWRITE;
            if (old->nmods == 0)
                return TC_REWRITE;
            return nw->mods[0] >= old->mods[0] ? TC_NO_REWRITE : TC_REWRITE;
        }
        if (old->nmods == nw->nmods && (old->nmods == 0 || memcmp(old->mods, nw->mods, sizeof old->mods) == 0))
            return TC_NO_REWRITE;
        return TC_REWRITE;
    }
    if (tn(old, "varchar") && tn(nw, "text"))
        return TC_NO_REWRITE;
    if (tn(old, "text") && tn(nw, "varchar") && nw->nmods == 0)
        return TC_NO_REWRITE;
    if (tn(old, "cidr") && tn(nw, "inet"))
        return TC_NO_REWRITE;
    if (tn(old, "bit") && tn(nw, "varbit") && nw->nmods == 0)
        return TC_NO_REWRITE;
    if ((tn(old, "timestamp") && tn(nw, "timestamptz")) || (tn(old, "timestamptz") && tn(nw, "timestamp")))
        return TC_TZ;
    return TC_REWRITE;
}

/* Functions whose pg_proc.provolatile is 'v' and that appear in defaults: a
 * column added with such a default is filled row by row (a rewrite). now() and
 * friends are stable, so their defaults are evaluated once (no rewrite). This
 * is a different question from the SQL analysis' cacheability list. */
static bool volatile_name(const char *n)
{
    static const char *const vol[] = {"random", "clock_timestamp", "timeofday", "gen_random_uuid",
                                      "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4",
                                      "nextval", "txid_current", "setseed", "random_normal", NULL};
    for (int i = 0; n && vol[i]; i++)
        if (strcasecmp(n, vol[i]) == 0)
            return true;
    return false;
}

static int volatile_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                          uintptr_t *state)
{
    const char *schema, *name;
    if (alchdb__sql_func_of(n, &schema, &name) && (!schema || !strcmp(schema, "pg_catalog")) && volatile_name(name)) {
        *(bool *)ud = true;
        return ALCHDB__SQL_VISIT_STOP;
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

/* Walked by the layer's visitor (no recursion): an expression of any depth
 * PostgreSQL accepts. A default too deep to walk whole counts as volatile
 * (the cautious answer). */
static bool default_is_volatile(const node *expr)
{
    if (!expr)
        return false;
    bool found = false;
    int rc = alchdb__sql_visit(expr, SIZE_MAX, 0, volatile_enter, NULL, &found);
    return found || rc < 0;
}

/* ---- state: columns and constraints ------------------------------------------ */

static mig_column *find_col(mig_state *s, const char *table, const char *col)
{
    for (size_t i = 0; i < s->ncols; i++)
        if (same_rel(s->cols[i].table, table) && strcmp(s->cols[i].column, col) == 0)
            return &s->cols[i];
    return NULL;
}

static void remember_col(ctx *c, const char *table, const char *col, const mig_type *t)
{
    mig_column *mc = find_col(c->s, table, col);
    if (mc) {
        mc->type = *t;
        return;
    }
    if (!grow((void **)&c->s->cols, &c->s->capcols, c->s->ncols + 1, sizeof *c->s->cols)) {
        c->oom = true;
        return;
    }
    char *tb = alchdb__strdup(table), *cl = alchdb__strdup(col);
    if (!tb || !cl) {
        alchdb__free(tb);
        alchdb__free(cl);
        c->oom = true;
        return;
    }
    c->s->cols[c->s->ncols++] = (mig_column){tb, cl, *t};
}

static void key2(char *buf, size_t cap, const char *a, const char *b)
{
    snprintf(buf, cap, "%s\x1f%s", unqualified(a), b);
}

/* The column of a CHECK (col IS NOT NULL) expression, or NULL. */
static const char *notnull_check_column(const node *constraint)
{
    const node *nt = as_node(jget(constraint, "raw_expr"), "NullTest");
    if (!nt || !jstr(nt, "nulltesttype") || strcmp(jstr(nt, "nulltesttype"), "IS_NOT_NULL") != 0)
        return NULL;
    const node *cr = as_node(jget(nt, "arg"), "ColumnRef");
    return last_name(jget(cr, "fields"));
}

/* Live mode: lock the tables related to `table` through foreign keys. */
static void lock_fk_rels(ctx *c, const char *table, const char *conname, bool incoming, int mode)
{
    char *rels[32];
    size_t n = alchdb__mig_live_fk_rels(c->m, table, conname, incoming, rels, 32);
    for (size_t i = 0; i < n; i++) {
        lock(c, rels[i], mode);
        alchdb__free(rels[i]);
    }
}

/* ---- statement kinds ---------------------------------------------------------- */

static void blocks_from_locks(mig_stmt *st)
{
    for (size_t i = 0; i < st->nlocks; i++) {
        if (!st->locks[i].existing)
            continue;
        if (st->locks[i].mode >= ALCHDB_LOCK_SHARE)
            st->flags |= ALCHDB_MIG_BLOCKS_WRITES;
        if (st->locks[i].mode == ALCHDB_LOCK_ACCESS_EXCLUSIVE)
            st->flags |= ALCHDB_MIG_BLOCKS_READS;
    }
}

static void fk_target_lock(ctx *c, const node *constraint)
{
    char ref[ALCHDB_MIG_REL_CAP];
    rangevar_name(jget(constraint, "pktable"), ref, sizeof ref);
    lock(c, ref, ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE);
}

static void check_new_column_type(ctx *c, const char *table, const char *col, const mig_type *t)
{
    if (tn(t, "bpchar"))
        finding(c, "ban-char-field", "warning",
                fmt("column %s of %s is char(n): it pads with spaces and is no faster than text", col, table),
                fmt("use text or varchar, with a CHECK constraint if a length limit is needed"));
    if (tn(t, "timestamp"))
        finding(c, "prefer-timestamptz", "info",
                fmt("column %s of %s is timestamp without time zone", col, table),
                fmt("timestamptz stores an absolute instant; timestamp changes meaning with the client's time zone"));
}

/* CREATE TABLE */
static void do_create(ctx *c, const node *cs)
{
    char rel[ALCHDB_MIG_REL_CAP];
    rangevar_name(jget(cs, "relation"), rel, sizeof rel);
    if (!set_add(&c->s->new_tables, &c->s->n_new, &c->s->cap_new, rel))
        c->oom = true;
    lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    size_t i;
    const node *e;
    list_foreach(jget(cs, "tableElts"), i, e)
    {
        const node *cd = as_node(e, "ColumnDef");
        const node *con = as_node(e, "Constraint");
        if (cd) {
            mig_type t;
            type_from(jget(cd, "typeName"), &t);
            const char *col = jstr(cd, "colname");
            if (col) {
                remember_col(c, rel, col, &t);
                check_new_column_type(c, rel, col, &t);
            }
            size_t j;
            const node *cc;
            list_foreach(jget(cd, "constraints"), j, cc)
            {
                const node *k = as_node(cc, "Constraint");
                const char *ct = jstr(k, "contype");
                if (ct && strcmp(ct, "CONSTR_FOREIGN") == 0)
                    fk_target_lock(c, k);
            }
        } else if (con) {
            const char *ct = jstr(con, "contype");
            if (ct && strcmp(ct, "CONSTR_FOREIGN") == 0)
                fk_target_lock(c, con);
        }
    }
    /* Partitions and inheritance children lock their parents. */
    const node *parents = jget(cs, "inhRelations");
    bool partition = jget(cs, "partbound") != NULL;
    list_foreach(parents, i, e)
    {
        const node *rv = as_node(e, "RangeVar");
        if (!rv)
            continue;
        char p[ALCHDB_MIG_REL_CAP];
        rangevar_name(rv, p, sizeof p);
        lock(c, p, partition ? ALCHDB_LOCK_ACCESS_EXCLUSIVE : ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
        if (partition && !is_new(c, p))
            risk(c, ALCHDB_RISK_MEDIUM,
                 "CREATE TABLE … PARTITION OF takes ACCESS EXCLUSIVE on the parent %s (brief, but it queues "
                 "behind every running query on it)", p);
    }
    risk(c, ALCHDB_RISK_LOW, "creates the new table %s", rel);
    char *r = qrel(c, rel);
    if (r) {
        rollback(c, fmt("DROP TABLE %s;", r));
        alchdb__free(r);
    }
}

static void index_cols(const node *is, char *buf, size_t cap)
{
    buf[0] = '\0';
    size_t off = 0, i;
    const node *p;
    list_foreach(jget(is, "indexParams"), i, p)
    {
        const node *ie = as_node(p, "IndexElem");
        const char *n = jstr(ie, "name");
        char *qn = n ? alchdb__mig_quote_ident(n) : NULL;
        int w = snprintf(buf + off, cap - off, "%s%s", off ? ", " : "", qn ? qn : "(expression)");
        alchdb__free(qn);
        if (w < 0 || (size_t)w >= cap - off)
            break;
        off += (size_t)w;
    }
}

/* CREATE INDEX */
static void do_index(ctx *c, const node *is, const char *stmt_sql)
{
    char rel[ALCHDB_MIG_REL_CAP], cols[1024];
    rangevar_name(jget(is, "relation"), rel, sizeof rel);
    index_cols(is, cols, sizeof cols);
    bool conc = jbool(is, "concurrent");
    const char *name = jstr(is, "idxname");
    c->st->flags |= ALCHDB_MIG_BUILDS_INDEX | ALCHDB_MIG_SCANS_TABLE;
    scratch sc = {0};
    if (conc) {
        c->st->concurrent = true;
        lock(c, rel, ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
        risk(c, ALCHDB_RISK_LOW, "builds an index on %s concurrently: reads and writes continue", rel);
    } else {
        lock(c, rel, ALCHDB_LOCK_SHARE);
        if (is_new(c, rel)) {
            risk(c, ALCHDB_RISK_LOW, "builds an index on %s, created in this file", rel);
        } else {
            risk(c, ALCHDB_RISK_MEDIUM, "builds an index on %s (%s) under SHARE: writes to %s wait for the whole build",
                 rel, cols, rel);
            finding(c, "require-concurrent-index-creation", "warning",
                    fmt("CREATE INDEX on %s blocks INSERT, UPDATE and DELETE until the index is built", rel),
                    fmt("use CREATE INDEX CONCURRENTLY (outside a transaction block); if it fails, drop the "
                        "INVALID index it leaves and retry"));
            /* The safer rewrite: the same statement with CONCURRENTLY after
             * its INDEX keyword, found by the SQL scanner (comments, quoted
             * names and strings are skipped, so a comment that says "index"
             * is left alone). */
            size_t len = strlen(stmt_sql), pos = 0;
            alchdb__sql_tok tok;
            for (;;) {
                pos = alchdb__sql_token(stmt_sql, len, pos, &tok);
                if (tok.kind == ALCHDB__SQL_TOK_END || alchdb__sql_word_is(stmt_sql, &tok, "index"))
                    break;
            }
            if (tok.kind != ALCHDB__SQL_TOK_END)
                set_text(c, &c->st->safer_rewrite,
                         fmt("%.*s CONCURRENTLY%s", (int)(tok.start + tok.len), stmt_sql, stmt_sql + tok.start + tok.len));
        }
    }
    if (name) {
        const char *qn = keep(&sc, q(c, name));
        const char *schema = jstr(jget(is, "relation"), "schemaname");
        const char *qs = schema ? keep(&sc, q(c, schema)) : NULL;
        rollback(c, fmt("DROP INDEX CONCURRENTLY IF EXISTS %s%s%s;", qs ? qs : "", qs ? "." : "", qn));
    } else {
        rollback(c, fmt("DROP INDEX CONCURRENTLY IF EXISTS <generated name of the index on %s (%s)>;", rel, cols));
    }
    scratch_free(&sc);
}

/* ALTER TABLE: the lock level of each subcommand (PostgreSQL 15,
 * AlterTableGetLockLevel), then what it does to the data. */
/* One subcommand of an ALTER TABLE statement, for the functions of the rows
 * below that decide its cost from its details. */
typedef struct alter_cmd {
    ctx *c;
    scratch *sc;                  /* keeps quoted names until the statement is done */
    const char *rel, *qr;         /* the table as written, and quoted */
    bool fresh;                   /* created earlier in this file */
    const char *sub, *col, *qcol; /* subtype; the command's name (column, constraint) as written, quoted */
    const node *def;
    int mode; /* the lock the table gets: the row's, unless the function changes it */
} alter_cmd;

/* ADD COLUMN: the cost depends on the default, the constraints and the type. */
static void at_add_column(alter_cmd *a)
{
    ctx *c = a->c;
    const node *cd = as_node(a->def, "ColumnDef");
    const char *cn = jstr(cd, "colname");
    const char *qcn = cn ? keep(a->sc, q(c, cn)) : "?";
    mig_type t;
    type_from(jget(cd, "typeName"), &t);
    bool notnull = false, has_default = false, vol_default = false, identity = false, generated = false,
         pk_or_unique = false, check = false;
    size_t j;
    const node *k;
    list_foreach(jget(cd, "constraints"), j, k)
    {
        const node *con = as_node(k, "Constraint");
        const char *ct = jstr(con, "contype");
        if (!ct)
            continue;
        if (!strcmp(ct, "CONSTR_NOTNULL"))
            notnull = true;
        else if (!strcmp(ct, "CONSTR_DEFAULT")) {
            has_default = true;
            vol_default = default_is_volatile(jget(con, "raw_expr"));
        } else if (!strcmp(ct, "CONSTR_IDENTITY"))
            identity = true;
        else if (!strcmp(ct, "CONSTR_GENERATED"))
            generated = true;
        else if (!strcmp(ct, "CONSTR_PRIMARY") || !strcmp(ct, "CONSTR_UNIQUE"))
            pk_or_unique = true;
        else if (!strcmp(ct, "CONSTR_CHECK"))
            check = true;
        else if (!strcmp(ct, "CONSTR_FOREIGN"))
            fk_target_lock(c, con);
    }
    bool serial = tn(&t, "serial") || tn(&t, "bigserial") || tn(&t, "smallserial") || tn(&t, "serial4") ||
                  tn(&t, "serial8") || tn(&t, "serial2");
    if (cn) {
        remember_col(c, a->rel, cn, &t);
        check_new_column_type(c, a->rel, cn, &t);
    }
    rollback(c, fmt("ALTER TABLE %s DROP COLUMN %s;", a->qr, qcn));
    if (a->fresh) {
        risk(c, ALCHDB_RISK_LOW, "adds column %s to %s, created in this file", cn ? cn : "?", a->rel);
    } else if (vol_default || serial || identity || generated) {
        c->st->flags |= ALCHDB_MIG_REWRITES_TABLE;
        risk(c, ALCHDB_RISK_HIGH,
             "adds column %s with a %s: every row of %s is rewritten under ACCESS EXCLUSIVE", cn ? cn : "?",
             serial ? "serial default" : identity ? "identity" : generated ? "stored generated value"
                                                                           : "volatile default",
             a->rel);
        finding(c, "adding-field-with-volatile-default", "error",
                fmt("adding %s to %s fills every existing row: a full table rewrite that blocks reads and "
                    "writes",
                    cn ? cn : "the column", a->rel),
                fmt("add the column without a default (or with a constant one), then set the default and "
                    "backfill existing rows in batches"));
        set_text(c, &c->st->safer_rewrite,
                 fmt("ALTER TABLE %s ADD COLUMN %s %s;  -- no volatile default\n"
                     "-- then: ALTER TABLE %s ALTER COLUMN %s SET DEFAULT …; backfill in batches of ~10k rows "
                     "by primary key",
                     a->qr, qcn, t.sql, a->qr, qcn));
    } else if (notnull && !has_default) {
        risk(c, ALCHDB_RISK_MEDIUM,
             "adds NOT NULL column %s without a default: fails at run time if %s has any row", cn ? cn : "?",
             a->rel);
        finding(c, "adding-required-field", "error",
                fmt("ADD COLUMN %s NOT NULL without a DEFAULT fails on a table that has rows", cn ? cn : "?"),
                fmt("add it with a constant DEFAULT (metadata-only since PostgreSQL 11), or add it "
                    "nullable, backfill, then add CHECK (%s IS NOT NULL) NOT VALID, VALIDATE, SET NOT NULL",
                    cn ? cn : "col"));
        set_text(c, &c->st->safer_rewrite,
                 fmt("ALTER TABLE %s ADD COLUMN %s %s;\n-- backfill in batches, then:\n"
                     "ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID;\n"
                     "ALTER TABLE %s VALIDATE CONSTRAINT %s;\nALTER TABLE %s ALTER COLUMN %s SET NOT NULL;",
                     a->qr, qcn, t.sql, a->qr, keep(a->sc, q(c, "chk_not_null")), qcn, a->qr,
                     keep(a->sc, q(c, "chk_not_null")), a->qr, qcn));
    } else if (pk_or_unique) {
        c->st->flags |= ALCHDB_MIG_BUILDS_INDEX;
        risk(c, ALCHDB_RISK_MEDIUM, "adds column %s with an index built under ACCESS EXCLUSIVE on %s",
             cn ? cn : "?", a->rel);
    } else if (check) {
        c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
        risk(c, ALCHDB_RISK_MEDIUM, "adds column %s with a CHECK that is verified on every row of %s",
             cn ? cn : "?", a->rel);
    } else {
        risk(c, ALCHDB_RISK_LOW,
             "adds column %s to %s: metadata only (brief ACCESS EXCLUSIVE; a constant default is not "
             "written to existing rows)",
             cn ? cn : "?", a->rel);
    }
}

/* ALTER COLUMN TYPE: a rewrite unless the old and new types are binary compatible. */
static void at_alter_column_type(alter_cmd *a)
{
    ctx *c = a->c;
    const node *cd = as_node(a->def, "ColumnDef");
    mig_type nt;
    type_from(jget(cd, "typeName"), &nt);
    bool using_expr = jget(cd, "raw_default") != NULL;
    mig_column *known = a->col ? find_col(c->s, a->rel, a->col) : NULL;
    mig_type live_t;
    const mig_type *old = known ? &known->type : NULL;
    if (!old && a->col && alchdb__mig_live_column_type(c->m, a->rel, a->col, &live_t))
        old = &live_t;
    char ob[300] = "its current type", nb[300];
    type_str(&nt, nb, sizeof nb);
    if (old)
        type_str(old, ob, sizeof ob);
    int tc = type_change(old, &nt, using_expr);
    /* timestamp → timestamptz skips the rewrite only when the
     * session's TimeZone is UTC: a SET in this file decides, else the
     * live server's setting, else it is unknown (rated as a rewrite). */
    int tzs = c->s->timezone_utc ? c->s->timezone_utc : alchdb__mig_live_timezone_utc(c->m);
    bool tz_utc = tzs > 0;
    /* Live mode: PostgreSQL refuses to change the type of a column a
     * view or rule uses. */
    char *deps = a->col && !a->fresh ? alchdb__mig_live_column_dependents(c->m, a->rel, a->col) : NULL;
    if (old)
        rollback(c, fmt("ALTER TABLE %s ALTER COLUMN %s TYPE %s;%s", a->qr, a->qcol, ob,
                        tc == TC_NO_REWRITE ? "  -- narrowing back rewrites and re-checks the table" : ""));
    else
        rollback(c, fmt("ALTER TABLE %s ALTER COLUMN %s TYPE <previous type>;", a->qr, a->qcol));
    if (deps) {
        risk(c, ALCHDB_RISK_HIGH, "fails: %s.%s is used by %s, and PostgreSQL refuses to change the type "
             "of a column a view or rule uses", a->rel, a->col, deps);
        finding(c, "column-type-change-blocked-by-view", "error",
                fmt("ALTER COLUMN TYPE on %s.%s fails: used by %s", a->rel, a->col, deps),
                fmt("drop the dependent views and rules, change the type and recreate them in the same "
                    "transaction, or add a new column and move the views to it"));
    } else if (a->fresh) {
        if (tc != TC_NO_REWRITE && !(tc == TC_TZ && tz_utc))
            c->st->flags |= ALCHDB_MIG_REWRITES_TABLE;
        risk(c, ALCHDB_RISK_LOW, "changes the type of %s.%s, created in this file", a->rel, a->col ? a->col : "?");
    } else if (tc == TC_NO_REWRITE) {
        risk(c, ALCHDB_RISK_LOW, "changes %s.%s from %s to %s: binary compatible, no rewrite (brief ACCESS "
             "EXCLUSIVE)", a->rel, a->col ? a->col : "?", ob, nb);
    } else if (tc == TC_TZ && tz_utc) {
        risk(c, ALCHDB_RISK_LOW, "changes %s.%s from %s to %s with the session TimeZone %s UTC: no "
             "rewrite (brief ACCESS EXCLUSIVE)", a->rel, a->col ? a->col : "?", ob, nb,
             c->s->timezone_utc ? "set to" : "of the live server");
    } else if (tc == TC_TZ) {
        c->st->flags |= ALCHDB_MIG_REWRITES_TABLE;
        risk(c, ALCHDB_RISK_HIGH,
             "changes %s.%s from %s to %s: no rewrite only when the session TimeZone is UTC, otherwise every "
             "row is rewritten under ACCESS EXCLUSIVE",
             a->rel, a->col ? a->col : "?", ob, nb);
        finding(c, "changing-column-type-timezone-dependent", "warning",
                fmt("%s → %s rewrites %s unless the session time zone is UTC", ob, nb, a->rel),
                fmt("run SET timezone = 'UTC' in the migration's session first (PostgreSQL 12+ then skips "
                    "the rewrite), or migrate with a new column and a batched backfill"));
    } else {
        c->st->flags |= ALCHDB_MIG_REWRITES_TABLE | ALCHDB_MIG_BUILDS_INDEX;
        if (tc == TC_UNKNOWN)
            risk(c, ALCHDB_RISK_HIGH,
                 "changes the type of %s.%s to %s: a full rewrite under ACCESS EXCLUSIVE unless the current "
                 "type is binary compatible (unknown without --conninfo or the table's definition)",
                 a->rel, a->col ? a->col : "?", nb);
        else
            risk(c, ALCHDB_RISK_HIGH,
                 "changes %s.%s from %s to %s%s: every row and index of %s is rewritten under ACCESS "
                 "EXCLUSIVE",
                 a->rel, a->col ? a->col : "?", ob, nb, using_expr ? " (USING)" : "", a->rel);
        finding(c, "changing-column-type", "error",
                fmt("changing the type of %s.%s rewrites the table and its indexes while reads and writes "
                    "wait",
                    a->rel, a->col ? a->col : "?"),
                fmt("add a new column of the new type, keep both in sync (trigger or application), backfill "
                    "in batches, then swap the names in one short transaction"));
        set_text(c, &c->st->safer_rewrite,
                 fmt("ALTER TABLE %s ADD COLUMN %s %s;\n-- sync trigger + batched backfill, then in one "
                     "transaction: rename the old column away and the new one into place",
                     a->qr,
                     keep(a->sc, q(c, a->col ? keep(a->sc, alchdb__mig_generated_name(a->col, "_new")) : "new_col")),
                     nb));
    }
    if (a->col)
        remember_col(c, a->rel, a->col, &nt);
    alchdb__free(deps);
}

/* SET NOT NULL: a scan unless a validated CHECK (col IS NOT NULL) proves it. */
static void at_set_not_null(alter_cmd *a)
{
    ctx *c = a->c;
    char k[3 * ALCHDB_MIG_REL_CAP];
    key2(k, sizeof k, a->rel, a->col ? a->col : "");
    rollback(c, fmt("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;", a->qr, a->qcol));
    if (a->fresh) {
        risk(c, ALCHDB_RISK_LOW, "sets %s.%s NOT NULL on a table created in this file", a->rel, a->col ? a->col : "?");
    } else if (set_has(c->s->notnull_checks, c->s->n_nn, k)) {
        risk(c, ALCHDB_RISK_LOW,
             "sets %s.%s NOT NULL: a validated CHECK (%s IS NOT NULL) proves it, so no scan (brief ACCESS "
             "EXCLUSIVE)",
             a->rel, a->col ? a->col : "?", a->col ? a->col : "?");
    } else {
        c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
        risk(c, ALCHDB_RISK_MEDIUM,
             "sets %s.%s NOT NULL: scans every row of %s under ACCESS EXCLUSIVE (reads and writes wait)", a->rel,
             a->col ? a->col : "?", a->rel);
        finding(c, "setting-not-null-scans", "warning",
                fmt("SET NOT NULL scans all of %s while holding ACCESS EXCLUSIVE", a->rel),
                fmt("add CHECK (%s IS NOT NULL) NOT VALID, VALIDATE it (no blocking), then SET NOT NULL "
                    "(PostgreSQL 12+ uses the check and skips the scan) and drop the check",
                    a->col ? a->col : "col"));
        const char *cn = keep(a->sc, q(c, keep(a->sc, fmt("%s_not_null", a->col ? a->col : "col"))));
        set_text(c, &c->st->safer_rewrite,
                 fmt("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID;\n"
                     "ALTER TABLE %s VALIDATE CONSTRAINT %s;\n"
                     "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL;\n"
                     "ALTER TABLE %s DROP CONSTRAINT %s;",
                     a->qr, cn, a->qcol, a->qr, cn, a->qr, a->qcol, a->qr, cn));
    }
}

/* ADD CONSTRAINT: lock, scan and index build by constraint kind; NOT VALID skips the scan. */
static void at_add_constraint(alter_cmd *a)
{
    ctx *c = a->c;
    const node *con = as_node(a->def, "Constraint");
    const char *ct = jstr(con, "contype");
    const char *cn = jstr(con, "conname");
    bool not_valid = jbool(con, "skip_validation");
    const char *qcn = cn ? keep(a->sc, q(c, cn)) : "<constraint name>";
    if (cn)
        rollback(c, fmt("ALTER TABLE %s DROP CONSTRAINT %s;", a->qr, qcn));
    if (ct && !strcmp(ct, "CONSTR_FOREIGN")) {
        a->mode = ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE;
        fk_target_lock(c, con);
        char ref[ALCHDB_MIG_REL_CAP];
        rangevar_name(jget(con, "pktable"), ref, sizeof ref);
        if (cn) {
            char k[3 * ALCHDB_MIG_REL_CAP];
            snprintf(k, sizeof k, "%s\x1f%s\x1f%s", unqualified(a->rel), cn, ref);
            if (!set_add(&c->s->fks, &c->s->n_fk, &c->s->cap_fk, k))
                c->oom = true;
        }
        if (a->fresh || not_valid) {
            risk(c, ALCHDB_RISK_LOW, "adds foreign key %s on %s%s (SHARE ROW EXCLUSIVE on %s and %s, brief)",
                 cn ? cn : "", a->rel, not_valid ? " NOT VALID" : "", a->rel, ref);
        } else {
            c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
            risk(c, ALCHDB_RISK_MEDIUM,
                 "adds foreign key %s: checks every row of %s while writes to %s and %s wait", cn ? cn : "",
                 a->rel, a->rel, ref);
            finding(c, "constraint-missing-not-valid", "warning",
                    fmt("the foreign key is validated while SHARE ROW EXCLUSIVE blocks writes to %s and %s",
                        a->rel, ref),
                    fmt("add it NOT VALID (brief lock), then VALIDATE CONSTRAINT in a separate transaction "
                        "(only SHARE UPDATE EXCLUSIVE)"));
            set_text(c, &c->st->safer_rewrite,
                     fmt("ALTER TABLE %s ADD CONSTRAINT %s FOREIGN KEY … REFERENCES %s (…) NOT VALID;\n"
                         "ALTER TABLE %s VALIDATE CONSTRAINT %s;",
                         a->qr, qcn, keep(a->sc, qrel(c, ref)), a->qr, qcn));
        }
    } else if (ct && !strcmp(ct, "CONSTR_CHECK")) {
        const char *nncol = notnull_check_column(con);
        if (nncol && !not_valid) {
            char k[3 * ALCHDB_MIG_REL_CAP];
            key2(k, sizeof k, a->rel, nncol);
            if (!set_add(&c->s->notnull_checks, &c->s->n_nn, &c->s->cap_nn, k))
                c->oom = true;
        }
        if (nncol && cn && not_valid) { /* remember by name until VALIDATE */
            char k[3 * ALCHDB_MIG_REL_CAP];
            snprintf(k, sizeof k, "%s\x1f%s\x1fnn:%s", unqualified(a->rel), cn, nncol);
            if (!set_add(&c->s->fks, &c->s->n_fk, &c->s->cap_fk, k))
                c->oom = true;
        }
        if (a->fresh || not_valid) {
            risk(c, ALCHDB_RISK_LOW, "adds CHECK %s on %s%s: no scan (brief ACCESS EXCLUSIVE)", cn ? cn : "",
                 a->rel, not_valid ? " NOT VALID" : "");
        } else {
            c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
            risk(c, ALCHDB_RISK_MEDIUM,
                 "adds CHECK %s: scans every row of %s under ACCESS EXCLUSIVE (reads and writes wait)",
                 cn ? cn : "", a->rel);
            finding(c, "constraint-missing-not-valid", "warning",
                    fmt("the CHECK is verified against every row while ACCESS EXCLUSIVE is held on %s", a->rel),
                    fmt("add it NOT VALID, then VALIDATE CONSTRAINT separately"));
            set_text(c, &c->st->safer_rewrite,
                     fmt("ALTER TABLE %s ADD CONSTRAINT %s CHECK (…) NOT VALID;\n"
                         "ALTER TABLE %s VALIDATE CONSTRAINT %s;",
                         a->qr, qcn, a->qr, qcn));
        }
    } else if (ct && (!strcmp(ct, "CONSTR_PRIMARY") || !strcmp(ct, "CONSTR_UNIQUE") ||
                      !strcmp(ct, "CONSTR_EXCLUSION"))) {
        bool using_index = jstr(con, "indexname") != NULL;
        if (using_index || a->fresh) {
            risk(c, ALCHDB_RISK_LOW, "adds %s on %s %s", ct + 7, a->rel,
                 using_index ? "using an existing index (brief ACCESS EXCLUSIVE)" : "created in this file");
        } else {
            c->st->flags |= ALCHDB_MIG_BUILDS_INDEX | ALCHDB_MIG_SCANS_TABLE;
            risk(c, ALCHDB_RISK_HIGH,
                 "adds a %s constraint: builds its index under ACCESS EXCLUSIVE on %s (reads and writes wait "
                 "for the whole build)",
                 !strcmp(ct, "CONSTR_PRIMARY") ? "primary key" : "unique", a->rel);
            finding(c, "adding-index-constraint-blocks", "warning",
                    fmt("the constraint's index is built while ACCESS EXCLUSIVE blocks %s", a->rel),
                    fmt("CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT … %s USING INDEX",
                        !strcmp(ct, "CONSTR_PRIMARY") ? "PRIMARY KEY" : "UNIQUE"));
            set_text(c, &c->st->safer_rewrite,
                     fmt("CREATE UNIQUE INDEX CONCURRENTLY %s ON %s (…);\n"
                         "ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s;",
                         qcn, a->qr, a->qr, qcn, !strcmp(ct, "CONSTR_PRIMARY") ? "PRIMARY KEY" : "UNIQUE", qcn));
        }
    } else {
        risk(c, ALCHDB_RISK_LOW, "adds a constraint to %s", a->rel);
    }
}

/* VALIDATE CONSTRAINT: a known foreign key locks its referenced table; a NOT NULL check becomes known. */
static void at_validate_constraint(alter_cmd *a)
{
    ctx *c = a->c;
    /* A validated NOT NULL check or foreign key known from the script. */
    for (size_t j = 0; a->col && j < c->s->n_fk; j++) {
        const char *e = c->s->fks[j];
        const char *s1 = strchr(e, '\x1f');
        if (!s1)
            continue;
        const char *s2 = strchr(s1 + 1, '\x1f');
        if (!s2 || (size_t)(s1 - e) != strlen(unqualified(a->rel)) ||
            strncmp(e, unqualified(a->rel), (size_t)(s1 - e)) != 0 || (size_t)(s2 - s1 - 1) != strlen(a->col) ||
            strncmp(s1 + 1, a->col, strlen(a->col)) != 0)
            continue;
        if (strncmp(s2 + 1, "nn:", 3) == 0) {
            char k[3 * ALCHDB_MIG_REL_CAP];
            key2(k, sizeof k, a->rel, s2 + 4);
            if (!set_add(&c->s->notnull_checks, &c->s->n_nn, &c->s->cap_nn, k))
                c->oom = true;
        } else {
            lock(c, s2 + 1, ALCHDB_LOCK_ROW_SHARE);
        }
    }
    if (a->col)
        lock_fk_rels(c, a->rel, a->col, false, ALCHDB_LOCK_ROW_SHARE);
    risk(c, ALCHDB_RISK_LOW,
         "validates constraint %s: scans %s under SHARE UPDATE EXCLUSIVE (reads and writes continue)",
         a->col ? a->col : "?", a->rel);
    rollback(c, fmt("-- nothing to undo: validation changes no data"));
}

/* DROP CONSTRAINT: a foreign key also locks the table it references. */
static void at_drop_constraint(alter_cmd *a)
{
    ctx *c = a->c;
    for (size_t j = 0; a->col && j < c->s->n_fk; j++) { /* a known FK: its table is locked too */
        const char *e = c->s->fks[j];
        const char *s1 = strchr(e, '\x1f');
        const char *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;
        if (s2 && strncmp(s2 + 1, "nn:", 3) != 0 && (size_t)(s2 - s1 - 1) == strlen(a->col) &&
            strncmp(s1 + 1, a->col, strlen(a->col)) == 0)
            lock(c, s2 + 1, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    }
    if (a->col)
        lock_fk_rels(c, a->rel, a->col, false, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    risk(c, ALCHDB_RISK_LOW,
         "drops constraint %s of %s (brief ACCESS EXCLUSIVE; dropping a foreign key also locks the "
         "referenced table)",
         a->col ? a->col : "?", a->rel);
    irreversible(c, "re-adding the constraint needs its definition (and a new validation scan)");
}

/* SET/RESET (storage parameters): most need only SHARE UPDATE EXCLUSIVE. */
static void at_set_rel_options(alter_cmd *a)
{
    ctx *c = a->c;
    /* fillfactor, autovacuum_* and a few others only need SHARE UPDATE
     * EXCLUSIVE (the row's lock); any other parameter needs ACCESS EXCLUSIVE. */
    size_t j;
    const node *o;
    list_foreach(a->def, j, o)
    {
        const char *dn = jstr(as_node(o, "DefElem"), "defname");
        if (dn && strcmp(dn, "fillfactor") != 0 && strncmp(dn, "autovacuum_", 11) != 0 &&
            strncmp(dn, "toast_tuple_target", 18) != 0 && strcmp(dn, "parallel_workers") != 0 &&
            strncmp(dn, "vacuum_", 7) != 0 && strncmp(dn, "log_autovacuum", 14) != 0)
            a->mode = ALCHDB_LOCK_ACCESS_EXCLUSIVE;
    }
    risk(c, ALCHDB_RISK_LOW, "changes storage parameters of %s", a->rel);
    rollback(c, fmt("ALTER TABLE %s RESET (…);", a->qr));
}

/* SET LOGGED / UNLOGGED: a rewrite, and an unlogged table is not crash-safe. */
static void at_set_logged(alter_cmd *a)
{
    ctx *c = a->c;
    bool unlogged = strcmp(a->sub, "AT_SetUnLogged") == 0;
    if (a->fresh)
        risk(c, ALCHDB_RISK_LOW, "sets %s %s, created in this file", a->rel, unlogged ? "UNLOGGED" : "LOGGED");
    else
        risk(c, ALCHDB_RISK_HIGH, "sets %s %s: rewrites the table under ACCESS EXCLUSIVE%s", a->rel,
             unlogged ? "UNLOGGED" : "LOGGED",
             unlogged ? "; an unlogged table is emptied after a crash and is not replicated" : "");
    finding(c, unlogged ? "set-unlogged" : "set-logged", "warning",
            fmt("SET %s rewrites %s under ACCESS EXCLUSIVE", unlogged ? "UNLOGGED" : "LOGGED", a->rel),
            fmt(unlogged ? "unlogged tables lose their contents on a crash and are absent on replicas; "
                           "keep the table logged"
                         : "schedule it in a maintenance window; the whole table is written to WAL"));
    rollback(c, fmt("ALTER TABLE %s SET %s;  -- rewrites again", a->qr, unlogged ? "LOGGED" : "UNLOGGED"));
}

/* ATTACH PARTITION: the partition is locked and scanned against its bound. */
static void at_attach_partition(alter_cmd *a)
{
    ctx *c = a->c;
    const node *pc = as_node(a->def, "PartitionCmd");
    char part[ALCHDB_MIG_REL_CAP];
    rangevar_name(jget(pc, "name"), part, sizeof part);
    lock(c, part, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    risk(c, ALCHDB_RISK_MEDIUM,
         "attaches %s to %s: SHARE UPDATE EXCLUSIVE on %s, ACCESS EXCLUSIVE on %s and a scan of %s unless a "
         "validated CHECK matches the partition bound",
         part, a->rel, a->rel, part, part);
    rollback(c, fmt("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY;", a->qr, keep(a->sc, qrel(c, part))));
}

/* DETACH PARTITION: CONCURRENTLY takes the weaker lock. */
static void at_detach_partition(alter_cmd *a)
{
    ctx *c = a->c;
    const node *pc = as_node(a->def, "PartitionCmd");
    char part[ALCHDB_MIG_REL_CAP];
    rangevar_name(jget(pc, "name"), part, sizeof part);
    bool conc = jbool(pc, "concurrent");
    a->mode = conc ? ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE : ALCHDB_LOCK_ACCESS_EXCLUSIVE;
    /* CONCURRENTLY: its second transaction takes ACCESS EXCLUSIVE on the
     * partition (PostgreSQL 15, checked by the trace suite). */
    lock(c, part, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    if (conc) {
        c->st->concurrent = true;
        risk(c, ALCHDB_RISK_LOW,
             "detaches %s from %s concurrently: SHARE UPDATE EXCLUSIVE on %s, then, once the transactions "
             "using %s have ended, ACCESS EXCLUSIVE on %s (waits for its readers)",
             part, a->rel, a->rel, a->rel, part);
    } else {
        risk(c, ALCHDB_RISK_MEDIUM, "detaches %s from %s under ACCESS EXCLUSIVE on both", part, a->rel);
        finding(c, "detach-partition-blocks", "warning",
                fmt("DETACH PARTITION takes ACCESS EXCLUSIVE on %s and %s", a->rel, part),
                fmt("use DETACH PARTITION … CONCURRENTLY (PostgreSQL 14+, outside a transaction block)"));
        set_text(c, &c->st->safer_rewrite,
                 fmt("ALTER TABLE %s DETACH PARTITION %s CONCURRENTLY;", a->qr, keep(a->sc, qrel(c, part))));
    }
    rollback(c, fmt("ALTER TABLE %s ATTACH PARTITION %s FOR VALUES …;", a->qr, keep(a->sc, qrel(c, part))));
}

/* ---- ALTER TABLE: one row per subcommand ------------------------------------------ */

/* Expand a row's text: {table} and {column} as written, {qtable} and
 * {qcolumn} quoted for SQL (a missing column is "?" and "" respectively). */
static char *expand(const alter_cmd *a, const char *tpl)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    while (*tpl) {
        const char *open = strchr(tpl, '{');
        if (!open) {
            alchdb__sb_puts(&sb, tpl);
            break;
        }
        alchdb__sb_printf(&sb, "%.*s", (int)(open - tpl), tpl);
        static const char *const keys[] = {"{table}", "{column}", "{qtable}", "{qcolumn}"};
        const char *vals[] = {a->rel, a->col ? a->col : "?", a->qr, a->qcol};
        size_t k = 0;
        while (k < 4 && strncmp(open, keys[k], strlen(keys[k])) != 0)
            k++;
        if (k < 4) {
            alchdb__sb_puts(&sb, vals[k]);
            tpl = open + strlen(keys[k]);
        } else {
            alchdb__sb_puts(&sb, "{");
            tpl = open + 1;
        }
    }
    char *out = alchdb__sb_finish(&sb);
    if (!out)
        a->c->oom = true;
    return out;
}

/* What an ALTER TABLE subcommand takes and costs, as PostgreSQL 15 does it
 * (checked by tests/migration/corpus.sql on a real server); subcommands that
 * behave alike share a row. A row whose cost depends on the command's details
 * names a function that decides it; the others are data: the lock on the
 * table, what the statement does to it (rewrite, scan, index build), the risk
 * and its reason, the undo (or why there is none) and a finding. A subcommand
 * without a row is rated unknown. */
typedef struct alter_rule {
    const char *subtypes; /* libpg_query's AlterTableType names, space-separated; a trailing '*' matches a prefix */
    int lock;            /* on the table; assess may change it (a->mode) */
    unsigned flags;      /* ALCHDB_MIG_REWRITES_TABLE | _SCANS_TABLE | _BUILDS_INDEX */
    void (*assess)(alter_cmd *a);
    /* the rest only for rows without assess */
    int risk;
    const char *reason;       /* the risk's reason */
    const char *undo;         /* the rollback SQL, or NULL */
    const char *irreversible; /* why it cannot be undone, or NULL */
    const char *rule, *severity, *message, *help; /* a finding, or rule NULL */
} alter_rule;

#define AE ALCHDB_LOCK_ACCESS_EXCLUSIVE
#define SUE ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE
#define DECIDED(sub, lock, flags, fn) {sub, lock, flags, fn, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL}
#define FIXED(sub, lock, flags, risk, reason, undo)                                                                    \
    {sub, lock, flags, NULL, risk, reason, undo, NULL, NULL, NULL, NULL, NULL}

static const alter_rule ALTER_RULES[] = {
    DECIDED("AT_AddColumn", AE, 0, at_add_column),
    {"AT_DropColumn", AE, 0, NULL, ALCHDB_RISK_HIGH,
     "drops column {column} of {table}: its data is lost and running code that selects it breaks", NULL,
     "the column's data is deleted; re-adding the column does not bring it back", "ban-drop-column", "warning",
     "dropping {table}.{column} loses its data and breaks clients that still read or write it",
     "first deploy code that no longer uses the column (e.g. ignore it in the ORM), then drop it in a later "
     "migration"},
    DECIDED("AT_AlterColumnType", AE, 0, at_alter_column_type),
    DECIDED("AT_SetNotNull", AE, 0, at_set_not_null),
    FIXED("AT_DropNotNull", AE, 0, ALCHDB_RISK_LOW, "drops NOT NULL on {table}.{column}: metadata only",
          "ALTER TABLE {qtable} ALTER COLUMN {qcolumn} SET NOT NULL;  -- scans the table"),
    FIXED("AT_ColumnDefault", AE, 0, ALCHDB_RISK_LOW,
          "changes the default of {table}.{column}: metadata only (existing rows untouched)",
          "ALTER TABLE {qtable} ALTER COLUMN {qcolumn} DROP DEFAULT;  -- or restore the previous default"),
    DECIDED("AT_AddConstraint", AE, 0, at_add_constraint),
    DECIDED("AT_ValidateConstraint", SUE, ALCHDB_MIG_SCANS_TABLE, at_validate_constraint),
    DECIDED("AT_DropConstraint", AE, 0, at_drop_constraint),
    FIXED("AT_SetStatistics AT_SetOptions AT_ResetOptions AT_ClusterOn AT_DropCluster", SUE, 0, ALCHDB_RISK_LOW,
          "changes planner or storage settings of {table} (SHARE UPDATE EXCLUSIVE)", "-- restore the previous setting"),
    DECIDED("AT_SetRelOptions AT_ResetRelOptions", SUE, 0, at_set_rel_options),
    FIXED("AT_EnableTrig* AT_DisableTrig* AT_EnableAlwaysTrig* AT_EnableReplicaTrig* AT_EnableRule* "
          "AT_DisableRule* AT_EnableAlwaysRule* AT_EnableReplicaRule*",
          ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE, 0, ALCHDB_RISK_LOW,
          "enables or disables triggers/rules of {table} (SHARE ROW EXCLUSIVE, brief)", "-- the opposite ENABLE/DISABLE"),
    DECIDED("AT_SetLogged AT_SetUnLogged", AE, ALCHDB_MIG_REWRITES_TABLE, at_set_logged),
    FIXED("AT_SetTableSpace AT_SetAccessMethod", AE, ALCHDB_MIG_REWRITES_TABLE, ALCHDB_RISK_HIGH,
          "moves {table} (SET TABLESPACE / ACCESS METHOD): copies every block under ACCESS EXCLUSIVE",
          "-- move it back (copies again)"),
    DECIDED("AT_AttachPartition", SUE, ALCHDB_MIG_SCANS_TABLE, at_attach_partition),
    DECIDED("AT_DetachPartition", AE, 0, at_detach_partition),
    FIXED("AT_AddIndex", ALCHDB_LOCK_SHARE, ALCHDB_MIG_BUILDS_INDEX, ALCHDB_RISK_MEDIUM, "builds an index on {table}",
          NULL),
    FIXED("AT_AddIdentity AT_SetIdentity AT_DropIdentity AT_ReplicaIdentity AT_ChangeOwner AT_EnableRowSecurity "
          "AT_DisableRowSecurity AT_ForceRowSecurity AT_NoForceRowSecurity AT_SetStorage AT_SetCompression "
          "AT_DropExpression AT_AddInherit AT_DropInherit AT_GenericOptions AT_AlterColumnGenericOptions",
          AE, 0, ALCHDB_RISK_LOW, "changes metadata of {table} (brief ACCESS EXCLUSIVE)",
          "-- the opposite ALTER TABLE command"),
};

#undef AE
#undef SUE
#undef DECIDED
#undef FIXED

static const alter_rule *alter_rule_find(const char *sub)
{
    size_t len = strlen(sub);
    for (size_t i = 0; i < sizeof ALTER_RULES / sizeof ALTER_RULES[0]; i++)
        for (const char *p = ALTER_RULES[i].subtypes; *p;) {
            size_t n = strcspn(p, " ");
            bool prefix = p[n - 1] == '*';
            if (prefix ? strncmp(sub, p, n - 1) == 0 : n == len && strncmp(sub, p, n) == 0)
                return &ALTER_RULES[i];
            p += n + (p[n] == ' ');
        }
    return NULL;
}

/* A row without a function: its risk, undo and finding, as data. */
static void alter_fixed(alter_cmd *a, const alter_rule *r)
{
    ctx *c = a->c;
    char *reason = expand(a, r->reason);
    if (reason)
        risk(c, r->risk, "%s", reason);
    alchdb__free(reason);
    if (r->rule)
        finding(c, r->rule, r->severity, expand(a, r->message), expand(a, r->help));
    if (r->irreversible) {
        char *why = expand(a, r->irreversible);
        if (why)
            irreversible(c, "%s", why);
        alchdb__free(why);
    }
    if (r->undo)
        rollback(c, expand(a, r->undo));
}

static void do_alter_table(ctx *c, const node *as)
{
    char rel[ALCHDB_MIG_REL_CAP];
    rangevar_name(jget(as, "relation"), rel, sizeof rel);
    scratch sc = {0};
    alter_cmd a = {c, &sc, rel, keep(&sc, qrel(c, rel)), is_new(c, rel), NULL, NULL, "", NULL, 0};
    size_t i;
    const node *cmdn;
    list_foreach(jget(as, "cmds"), i, cmdn)
    {
        const node *cmd = as_node(cmdn, "AlterTableCmd");
        a.sub = jstr(cmd, "subtype");
        if (!a.sub)
            continue;
        a.col = jstr(cmd, "name");
        a.qcol = a.col ? keep(&sc, q(c, a.col)) : "";
        a.def = jget(cmd, "def");
        const alter_rule *r = alter_rule_find(a.sub);
        if (!r) {
            risk(c, ALCHDB_RISK_UNKNOWN, "ALTER TABLE subcommand %s is not modelled", a.sub + 3);
            finding(c, "unknown-statement", "warning", fmt("ALTER TABLE %s is not modelled by the assessor", a.sub + 3),
                    fmt("review its lock and cost by hand (alchdb migrate trace shows what PostgreSQL takes)"));
            lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
            continue;
        }
        a.mode = r->lock;
        c->st->flags |= r->flags;
        if (r->assess)
            r->assess(&a);
        else
            alter_fixed(&a, r);
        lock(c, rel, a.mode);
    }
    scratch_free(&sc);
}

static const char *object_word(const char *objtype)
{
    if (!objtype)
        return "object";
    if (!strcmp(objtype, "OBJECT_TABLE")) return "TABLE";
    if (!strcmp(objtype, "OBJECT_INDEX")) return "INDEX";
    if (!strcmp(objtype, "OBJECT_VIEW")) return "VIEW";
    if (!strcmp(objtype, "OBJECT_MATVIEW")) return "MATERIALIZED VIEW";
    if (!strcmp(objtype, "OBJECT_SEQUENCE")) return "SEQUENCE";
    if (!strcmp(objtype, "OBJECT_SCHEMA")) return "SCHEMA";
    if (!strcmp(objtype, "OBJECT_DATABASE")) return "DATABASE";
    if (!strcmp(objtype, "OBJECT_COLUMN")) return "COLUMN";
    if (!strcmp(objtype, "OBJECT_FUNCTION")) return "FUNCTION";
    if (!strcmp(objtype, "OBJECT_TYPE")) return "TYPE";
    if (!strcmp(objtype, "OBJECT_TABCONSTRAINT")) return "CONSTRAINT";
    if (!strcmp(objtype, "OBJECT_TRIGGER")) return "TRIGGER";
    if (!strcmp(objtype, "OBJECT_EXTENSION")) return "EXTENSION";
    return objtype + 7;
}

/* DROP … */
static void do_drop(ctx *c, const node *ds)
{
    const char *rt = jstr(ds, "removeType");
    bool cascade = jstr(ds, "behavior") && !strcmp(jstr(ds, "behavior"), "DROP_CASCADE");
    bool conc = jbool(ds, "concurrent");
    size_t i;
    const node *o;
    list_foreach(jget(ds, "objects"), i, o)
    {
        char name[ALCHDB_MIG_REL_CAP] = "";
        const node *lst = as_node(o, "List");
        if (lst)
            names_join(jget(lst, "items"), name, sizeof name);
        else if (as_node(o, "String"))
            snprintf(name, sizeof name, "%s", jstr(as_node(o, "String"), "sval"));
        else
            snprintf(name, sizeof name, "%s", "?");
        if (rt && (!strcmp(rt, "OBJECT_TABLE") || !strcmp(rt, "OBJECT_MATVIEW"))) {
            lock(c, name, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
            /* Foreign keys of the dropped table lock their referenced tables. */
            for (size_t j = 0; j < c->s->n_fk; j++) {
                const char *e = c->s->fks[j];
                const char *s1 = strchr(e, '\x1f');
                const char *s2 = s1 ? strchr(s1 + 1, '\x1f') : NULL;
                if (s2 && strncmp(s2 + 1, "nn:", 3) != 0 && (size_t)(s1 - e) == strlen(unqualified(name)) &&
                    strncmp(e, unqualified(name), (size_t)(s1 - e)) == 0)
                    lock(c, s2 + 1, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
                /* CASCADE drops the FKs that reference it: their tables are locked. */
                if (cascade && s2 && strncmp(s2 + 1, "nn:", 3) != 0 && same_rel(s2 + 1, name)) {
                    char ref[ALCHDB_MIG_REL_CAP];
                    snprintf(ref, sizeof ref, "%.*s", (int)(s1 - e), e);
                    lock(c, ref, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
                }
            }
            lock_fk_rels(c, name, NULL, false, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
            if (cascade)
                lock_fk_rels(c, name, NULL, true, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
            if (is_new(c, name)) {
                risk(c, ALCHDB_RISK_LOW, "drops %s, created in this file", name);
            } else {
                risk(c, ALCHDB_RISK_HIGH, "drops %s %s: its data is lost and clients using it break", object_word(rt),
                     name);
                finding(c, "ban-drop-table", "error", fmt("DROP %s %s deletes its data irreversibly", object_word(rt), name),
                        fmt("rename it away first and drop it in a later release once nothing uses it; keep a "
                            "backup"));
            }
            set_del(c->s->new_tables, &c->s->n_new, name);
            irreversible(c, "the table's data is deleted");
        } else if (rt && !strcmp(rt, "OBJECT_INDEX")) {
            /* The index's table is locked too; its name is not in the statement,
             * so only live mode can name it. */
            lock(c, name, conc ? ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE : ALCHDB_LOCK_ACCESS_EXCLUSIVE);
            char *table = alchdb__mig_live_index_table(c->m, name);
            if (table) {
                lock(c, table, conc ? ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE : ALCHDB_LOCK_ACCESS_EXCLUSIVE);
                alchdb__free(table);
            }
            if (conc) {
                c->st->concurrent = true;
                risk(c, ALCHDB_RISK_LOW, "drops index %s concurrently", name);
            } else {
                risk(c, ALCHDB_RISK_MEDIUM,
                     "drops index %s: ACCESS EXCLUSIVE on its table while waiting and dropping (reads and writes "
                     "queue)",
                     name);
                finding(c, "require-concurrent-index-deletion", "warning",
                        fmt("DROP INDEX %s locks its table against reads and writes", name),
                        fmt("use DROP INDEX CONCURRENTLY (outside a transaction block)"));
                char *qn = qrel(c, name);
                if (qn) {
                    set_text(c, &c->st->safer_rewrite,
                             fmt("DROP INDEX CONCURRENTLY%s %s;", jbool(ds, "missing_ok") ? " IF EXISTS" : "", qn));
                    alchdb__free(qn);
                }
            }
            irreversible(c, "recreating the index needs its definition (CREATE INDEX CONCURRENTLY …) and a full "
                            "build");
        } else if (rt && (!strcmp(rt, "OBJECT_DATABASE") || !strcmp(rt, "OBJECT_SCHEMA"))) {
            risk(c, ALCHDB_RISK_HIGH, "drops %s %s: refused in migrations", object_word(rt), name);
            finding(c, !strcmp(rt, "OBJECT_DATABASE") ? "ban-drop-database" : "ban-drop-schema", "error",
                    fmt("DROP %s %s is refused: it deletes everything in it", object_word(rt), name),
                    fmt("this never belongs in an application migration; do it by hand with a backup"));
            irreversible(c, "everything in the %s is deleted", object_word(rt));
        } else if (rt && (!strcmp(rt, "OBJECT_VIEW") || !strcmp(rt, "OBJECT_FUNCTION") ||
                          !strcmp(rt, "OBJECT_PROCEDURE") || !strcmp(rt, "OBJECT_TYPE") ||
                          !strcmp(rt, "OBJECT_SEQUENCE") || !strcmp(rt, "OBJECT_DOMAIN"))) {
            if (!strcmp(rt, "OBJECT_VIEW") || !strcmp(rt, "OBJECT_SEQUENCE"))
                lock(c, name, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
            risk(c, ALCHDB_RISK_MEDIUM, "drops %s %s: clients that use it break", object_word(rt), name);
            irreversible(c, "recreate it from its definition");
        } else {
            risk(c, ALCHDB_RISK_LOW, "drops %s %s", object_word(rt), name);
            irreversible(c, "recreate it from its definition");
        }
        if (cascade && rt && strcmp(rt, "OBJECT_DATABASE") != 0)
            finding(c, "drop-cascade", "warning",
                    fmt("CASCADE also drops every object that depends on %s (views, foreign keys, …) and locks their "
                        "tables",
                        name),
                    fmt("drop the dependent objects explicitly so the migration says what it removes"));
    }
}

static void do_rename(ctx *c, const node *rs)
{
    const char *rt = jstr(rs, "renameType");
    char rel[ALCHDB_MIG_REL_CAP] = "";
    if (jget(rs, "relation"))
        rangevar_name(jget(rs, "relation"), rel, sizeof rel);
    const char *newname = jstr(rs, "newname");
    const char *sub = jstr(rs, "subname");
    if (rt && !strcmp(rt, "OBJECT_INDEX")) {
        lock(c, rel, ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
        risk(c, ALCHDB_RISK_LOW, "renames index %s (SHARE UPDATE EXCLUSIVE)", rel);
    } else if (rt && (!strcmp(rt, "OBJECT_COLUMN") || !strcmp(rt, "OBJECT_TABLE") || !strcmp(rt, "OBJECT_VIEW") ||
                      !strcmp(rt, "OBJECT_MATVIEW") || !strcmp(rt, "OBJECT_SEQUENCE"))) {
        if (rel[0])
            lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        bool col = !strcmp(rt, "OBJECT_COLUMN");
        if (rel[0] && is_new(c, rel)) {
            risk(c, ALCHDB_RISK_LOW, "renames %s of %s, created in this file", col ? "a column" : "the table", rel);
        } else {
            risk(c, ALCHDB_RISK_HIGH, "renames %s%s%s to %s: running code that uses the old name breaks",
                 col ? "column " : "", col && sub ? sub : rel, col ? "" : "", newname ? newname : "?");
            finding(c, col ? "renaming-column" : "renaming-table", "warning",
                    fmt("renaming %s breaks every client still using the old name", col && sub ? sub : rel),
                    fmt("expand and contract: add the new name (column + sync, or a view), move the code, then drop "
                        "the old name"));
        }
        if (col && sub && newname) {
            scratch sc = {0};
            rollback(c, fmt("ALTER TABLE %s RENAME COLUMN %s TO %s;", keep(&sc, qrel(c, rel)), keep(&sc, q(c, newname)),
                            keep(&sc, q(c, sub))));
            scratch_free(&sc);
        } else if (newname && rel[0]) {
            scratch sc = {0};
            const char *schema = jstr(jget(rs, "relation"), "schemaname");
            char nrel[ALCHDB_MIG_REL_CAP];
            alchdb__mig_rel_key(nrel, sizeof nrel, schema, newname);
            rollback(c, fmt("ALTER %s %s RENAME TO %s;", object_word(rt), keep(&sc, qrel(c, nrel)),
                            keep(&sc, q(c, jstr(jget(rs, "relation"), "relname")))));
            scratch_free(&sc);
        }
    } else {
        if (rel[0])
            lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        risk(c, ALCHDB_RISK_LOW, "renames a %s", object_word(rt));
        rollback(c, fmt("-- rename it back"));
    }
}

static void do_reindex(ctx *c, const node *rs)
{
    const char *kind = jstr(rs, "kind");
    char rel[ALCHDB_MIG_REL_CAP] = "?";
    if (jget(rs, "relation"))
        rangevar_name(jget(rs, "relation"), rel, sizeof rel);
    else if (jstr(rs, "name"))
        snprintf(rel, sizeof rel, "%s", jstr(rs, "name"));
    bool conc = false;
    size_t i;
    const node *p;
    list_foreach(jget(rs, "params"), i, p)
    {
        const char *dn = jstr(as_node(p, "DefElem"), "defname");
        if (dn && !strcmp(dn, "concurrently"))
            conc = true;
    }
    c->st->flags |= ALCHDB_MIG_BUILDS_INDEX | ALCHDB_MIG_SCANS_TABLE;
    bool is_index = kind && !strcmp(kind, "REINDEX_OBJECT_INDEX");
    char *table = is_index ? alchdb__mig_live_index_table(c->m, rel) : NULL;
    if (table) {
        lock(c, table, conc ? ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE : ALCHDB_LOCK_SHARE);
        alchdb__free(table);
    }
    if (conc) {
        c->st->concurrent = true;
        lock(c, rel, ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
        risk(c, ALCHDB_RISK_LOW, "rebuilds %s concurrently", rel);
    } else {
        /* SHARE on the table, ACCESS EXCLUSIVE on the index(es): plain SELECTs
         * block too, because planning opens every index of the table. */
        lock(c, rel, is_index ? ALCHDB_LOCK_ACCESS_EXCLUSIVE : ALCHDB_LOCK_SHARE);
        c->st->flags |= ALCHDB_MIG_BLOCKS_READS | ALCHDB_MIG_BLOCKS_WRITES;
        risk(c, ALCHDB_RISK_MEDIUM,
             "REINDEX %s: SHARE on the table and ACCESS EXCLUSIVE on its index(es) — writes wait, and so do reads "
             "(planning opens every index)",
             rel);
        finding(c, "reindex-without-concurrently", "warning", fmt("REINDEX %s blocks reads and writes", rel),
                fmt("use REINDEX … CONCURRENTLY (outside a transaction block)"));
        char *qn = qrel(c, rel);
        if (qn) {
            set_text(c, &c->st->safer_rewrite, fmt("REINDEX %s CONCURRENTLY %s;", is_index ? "INDEX" : "TABLE", qn));
            alchdb__free(qn);
        }
    }
    rollback(c, fmt("-- nothing to undo: the index is rebuilt with the same definition"));
}

static void do_lock_stmt(ctx *c, const node *ls)
{
    int mode = (int)jint(ls, "mode", ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    if (mode < ALCHDB_LOCK_ACCESS_SHARE || mode > ALCHDB_LOCK_ACCESS_EXCLUSIVE)
        mode = ALCHDB_LOCK_ACCESS_EXCLUSIVE;
    size_t i;
    const node *r;
    list_foreach(jget(ls, "relations"), i, r)
    {
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(as_node(r, "RangeVar"), rel, sizeof rel);
        lock(c, rel, mode);
        if (mode >= ALCHDB_LOCK_SHARE && !is_new(c, rel)) {
            risk(c, mode == ALCHDB_LOCK_ACCESS_EXCLUSIVE ? ALCHDB_RISK_HIGH : ALCHDB_RISK_MEDIUM,
                 "LOCK TABLE %s IN %s MODE: held until the transaction ends", rel, alchdb_lock_mode_name(mode));
            finding(c, "lock-table", "warning",
                    fmt("LOCK TABLE %s holds %s until COMMIT: everything after it in the transaction runs while "
                        "others wait",
                        rel, alchdb_lock_mode_name(mode)),
                    fmt("take the weakest lock that works, as late as possible, with lock_timeout set"));
        } else {
            risk(c, ALCHDB_RISK_LOW, "LOCK TABLE %s IN %s MODE", rel, alchdb_lock_mode_name(mode));
        }
    }
    if (!c->s->in_txn)
        finding(c, "lock-outside-transaction", "error", fmt("LOCK TABLE outside a transaction block fails"),
                fmt("wrap it in BEGIN … COMMIT"));
    c->st->flags |= ALCHDB_MIG_REVERSIBLE;
}

static void do_vacuum(ctx *c, const node *vs)
{
    bool full = false, analyze_only = !jbool(vs, "is_vacuumcmd");
    size_t i;
    const node *o;
    list_foreach(jget(vs, "options"), i, o)
    {
        const char *dn = jstr(as_node(o, "DefElem"), "defname");
        if (dn && !strcmp(dn, "full"))
            full = true;
    }
    const node *rels = jget(vs, "rels");
    bool any = false;
    list_foreach(rels, i, o)
    {
        const node *vr = as_node(o, "VacuumRelation");
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(jget(vr, "relation"), rel, sizeof rel);
        lock(c, rel, full ? ALCHDB_LOCK_ACCESS_EXCLUSIVE : ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
        any = true;
    }
    c->st->concurrent = !analyze_only; /* VACUUM cannot run in a transaction block */
    c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
    if (full) {
        c->st->flags |= ALCHDB_MIG_REWRITES_TABLE;
        risk(c, ALCHDB_RISK_HIGH, "VACUUM FULL rewrites %s under ACCESS EXCLUSIVE", any ? "the table" : "every table");
        finding(c, "vacuum-full", "error", fmt("VACUUM FULL rewrites the table while reads and writes wait"),
                fmt("use plain VACUUM, or an online repack tool (pg_repack) in a maintenance window"));
    } else {
        risk(c, ALCHDB_RISK_LOW, "%s under SHARE UPDATE EXCLUSIVE (reads and writes continue)",
             analyze_only ? "ANALYZE" : "VACUUM");
    }
    if (!any && full)
        finding(c, "vacuum-full-all", "error", fmt("VACUUM FULL without a table rewrites the whole database"),
                fmt("name the table"));
    rollback(c, fmt("-- nothing to undo"));
}

static void do_truncate(ctx *c, const node *ts)
{
    size_t i;
    const node *r;
    bool all_new = true;
    c->st->swaps_file = true;
    list_foreach(jget(ts, "relations"), i, r)
    {
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(as_node(r, "RangeVar"), rel, sizeof rel);
        lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        if (jstr(ts, "behavior") && !strcmp(jstr(ts, "behavior"), "DROP_CASCADE"))
            lock_fk_rels(c, rel, NULL, true, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        if (!is_new(c, rel))
            all_new = false;
    }
    if (all_new) {
        risk(c, ALCHDB_RISK_LOW, "truncates tables created in this file");
    } else {
        risk(c, ALCHDB_RISK_HIGH, "TRUNCATE deletes every row irreversibly under ACCESS EXCLUSIVE");
        finding(c, "truncate", "error", fmt("TRUNCATE deletes all rows and blocks reads and writes while it waits"),
                fmt("if this is really meant, do it by hand with a backup; in a migration prefer batched deletes"));
    }
    irreversible(c, "the rows are deleted");
}

static bool has_where(const node *body) { return jget(body, "whereClause") != NULL; }

static void do_dml(ctx *c, const char *type, const node *body)
{
    char rel[ALCHDB_MIG_REL_CAP];
    rangevar_name(jget(body, "relation"), rel, sizeof rel);
    lock(c, rel, ALCHDB_LOCK_ROW_EXCLUSIVE);
    bool upd = !strcmp(type, "UpdateStmt"), del = !strcmp(type, "DeleteStmt");
    if ((upd || del) && !has_where(body) && !is_new(c, rel)) {
        c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
        risk(c, ALCHDB_RISK_HIGH, "%s every row of %s in one statement: row locks on the whole table and one long "
             "transaction", upd ? "updates" : "deletes", rel);
        finding(c, upd ? "update-all-rows" : "delete-all-rows", "error",
                fmt("%s without WHERE touches every row of %s at once", upd ? "UPDATE" : "DELETE", rel),
                fmt("backfill or delete in batches (e.g. 10k rows by primary key range per transaction)"));
        set_text(c, &c->st->safer_rewrite,
                 fmt("-- repeat until no row is affected:\n%s … WHERE <pk> IN (SELECT <pk> FROM %s WHERE <not yet "
                     "done> LIMIT 10000);",
                     upd ? "UPDATE" : "DELETE FROM", rel));
    } else if (upd || del) {
        risk(c, ALCHDB_RISK_LOW, "%s rows of %s (ROW EXCLUSIVE)", upd ? "updates" : "deletes", rel);
    } else {
        risk(c, ALCHDB_RISK_LOW, "writes rows to %s (ROW EXCLUSIVE)", rel);
    }
    irreversible(c, "data changes are not undone by a schema rollback; keep the old values if needed");
}

static void do_txn(ctx *c, const node *ts)
{
    const char *kind = jstr(ts, "kind");
    c->st->txn_control = true;
    c->st->flags |= ALCHDB_MIG_REVERSIBLE;
    risk(c, ALCHDB_RISK_LOW, "transaction control");
    if (!kind)
        return;
    if (!strcmp(kind, "TRANS_STMT_BEGIN") || !strcmp(kind, "TRANS_STMT_START")) {
        if (c->s->in_txn)
            finding(c, "transaction-nesting", "warning", fmt("BEGIN inside an open transaction has no effect"),
                    fmt("remove the inner BEGIN or COMMIT the outer transaction first"));
        c->s->in_txn = true;
    } else if (!strcmp(kind, "TRANS_STMT_COMMIT") || !strcmp(kind, "TRANS_STMT_ROLLBACK") ||
               !strcmp(kind, "TRANS_STMT_PREPARE") || !strcmp(kind, "TRANS_STMT_COMMIT_PREPARED") ||
               !strcmp(kind, "TRANS_STMT_ROLLBACK_PREPARED")) {
        c->s->in_txn = false;
        for (size_t i = 0; i < c->s->n_ae; i++)
            alchdb__free(c->s->ae_held[i]);
        c->s->n_ae = 0;
    }
}

static void do_set(ctx *c, const node *vs)
{
    const char *name = jstr(vs, "name");
    risk(c, ALCHDB_RISK_LOW, "sets %s", name ? name : "a setting");
    c->st->flags |= ALCHDB_MIG_REVERSIBLE;
    if (name && !strcmp(name, "lock_timeout"))
        c->s->lock_timeout_set = true;
    if (name && !strcmp(name, "timezone")) {
        const node *a = as_node(list_get(jget(vs, "args"), 0), "A_Const");
        const char *v = jstr(jget(a, "sval"), "sval");
        c->s->timezone_utc = v && (!strcasecmp(v, "UTC") || !strcasecmp(v, "Etc/UTC") || !strcasecmp(v, "GMT") ||
                                   !strcasecmp(v, "Z") || !strcasecmp(v, "UCT"))
                                 ? 1
                                 : -1;
    }
}

/* One statement. */
static void assess_stmt(ctx *c, const node *stmt, const char *sql)
{
    const node *body;
    const char *type = node_type(stmt, &body);
    c->st->flags |= c->s->in_txn ? ALCHDB_MIG_IN_TRANSACTION : 0;
    if (!type) {
        risk(c, ALCHDB_RISK_UNKNOWN, "empty statement");
        return;
    }
    if (!strcmp(type, "CreateStmt"))
        do_create(c, body);
    else if (!strcmp(type, "IndexStmt"))
        do_index(c, body, sql);
    else if (!strcmp(type, "AlterTableStmt"))
        do_alter_table(c, body);
    else if (!strcmp(type, "DropStmt"))
        do_drop(c, body);
    else if (!strcmp(type, "RenameStmt"))
        do_rename(c, body);
    else if (!strcmp(type, "ReindexStmt"))
        do_reindex(c, body);
    else if (!strcmp(type, "LockStmt"))
        do_lock_stmt(c, body);
    else if (!strcmp(type, "VacuumStmt"))
        do_vacuum(c, body);
    else if (!strcmp(type, "TruncateStmt"))
        do_truncate(c, body);
    else if (!strcmp(type, "UpdateStmt") || !strcmp(type, "DeleteStmt") || !strcmp(type, "InsertStmt") ||
             !strcmp(type, "MergeStmt"))
        do_dml(c, type, body);
    else if (!strcmp(type, "TransactionStmt"))
        do_txn(c, body);
    else if (!strcmp(type, "DropdbStmt")) {
        const char *db = jstr(body, "dbname");
        risk(c, ALCHDB_RISK_HIGH, "drops database %s: refused in migrations", db ? db : "?");
        finding(c, "ban-drop-database", "error", fmt("DROP DATABASE %s is refused: it deletes everything in it",
                                                     db ? db : "?"),
                fmt("this never belongs in an application migration; do it by hand with a backup"));
        irreversible(c, "the whole database is deleted");
    }
    else if (!strcmp(type, "VariableSetStmt"))
        do_set(c, body);
    else if (!strcmp(type, "ClusterStmt")) {
        char rel[ALCHDB_MIG_REL_CAP] = "?";
        if (jget(body, "relation"))
            rangevar_name(jget(body, "relation"), rel, sizeof rel);
        lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        c->st->flags |= ALCHDB_MIG_REWRITES_TABLE | ALCHDB_MIG_BUILDS_INDEX;
        risk(c, ALCHDB_RISK_HIGH, "CLUSTER rewrites %s and its indexes under ACCESS EXCLUSIVE", rel);
        finding(c, "cluster", "error", fmt("CLUSTER %s blocks reads and writes for a full rewrite", rel),
                fmt("use an online repack tool (pg_repack) or a maintenance window"));
        rollback(c, fmt("-- nothing to undo (row order only)"));
    } else if (!strcmp(type, "RefreshMatViewStmt")) {
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(jget(body, "relation"), rel, sizeof rel);
        bool conc = jbool(body, "concurrent");
        lock(c, rel, conc ? ALCHDB_LOCK_EXCLUSIVE : ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        if (!conc) /* a plain refresh swaps in a new file; CONCURRENTLY updates in place */
            c->st->flags |= ALCHDB_MIG_REWRITES_TABLE;
        else
            c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
        if (conc) {
            risk(c, ALCHDB_RISK_LOW, "refreshes %s concurrently (EXCLUSIVE: reads continue)", rel);
        } else {
            risk(c, ALCHDB_RISK_MEDIUM, "refreshes %s under ACCESS EXCLUSIVE: reads of it wait", rel);
            char *qn = qrel(c, rel);
            if (qn) {
                set_text(c, &c->st->safer_rewrite, fmt("REFRESH MATERIALIZED VIEW CONCURRENTLY %s;  -- needs a "
                                                       "unique index", qn));
                alchdb__free(qn);
            }
        }
        rollback(c, fmt("-- nothing to undo"));
    } else if (!strcmp(type, "CreateTrigStmt")) {
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(jget(body, "relation"), rel, sizeof rel);
        lock(c, rel, ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE);
        risk(c, ALCHDB_RISK_LOW, "creates a trigger on %s (SHARE ROW EXCLUSIVE, brief)", rel);
        rollback(c, fmt("DROP TRIGGER %s ON %s;", jstr(body, "trigname") ? jstr(body, "trigname") : "?", rel));
    } else if (!strcmp(type, "CreatePolicyStmt")) {
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(jget(body, "table"), rel, sizeof rel);
        lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        risk(c, ALCHDB_RISK_LOW, "creates a row-level security policy on %s (brief ACCESS EXCLUSIVE)", rel);
        rollback(c, fmt("DROP POLICY …;"));
    } else if (!strcmp(type, "AlterEnumStmt")) {
        char tname[ALCHDB_MIG_REL_CAP];
        names_join(jget(body, "typeName"), tname, sizeof tname);
        if (jstr(body, "oldVal")) {
            scratch esc = {0};
            const char *ov = keep(&esc, lit(c, jstr(body, "oldVal"))), *nv = keep(&esc, lit(c, jstr(body, "newVal")));
            risk(c, ALCHDB_RISK_HIGH, "renames value %s of enum %s: clients sending the old label fail", ov, tname);
            finding(c, "enum-rename-value", "warning",
                    fmt("renaming an enum value breaks every client or stored query that uses the old label"),
                    fmt("add the new value, migrate data and code to it, and stop using the old one"));
            rollback(c, fmt("ALTER TYPE %s RENAME VALUE %s TO %s;", tname, nv, ov));
            scratch_free(&esc);
        } else {
            risk(c, ALCHDB_RISK_LOW, "adds a value to enum %s (metadata only)", tname);
            if (c->s->in_txn)
                finding(c, "enum-value-in-transaction", "info",
                        fmt("a value added inside a transaction block cannot be used until the transaction commits"),
                        fmt("add enum values in their own migration step"));
            irreversible(c, "PostgreSQL cannot drop an enum value");
        }
    } else if (!strcmp(type, "AlterDomainStmt")) {
        const char *st = jstr(body, "subtype");
        char dname[ALCHDB_MIG_REL_CAP];
        names_join(jget(body, "typeName"), dname, sizeof dname);
        bool not_valid = st && !strcmp(st, "C") && jbool(as_node(jget(body, "def"), "Constraint"), "skip_validation");
        /* subtype: C add constraint, O set not null, V validate constraint (N is DROP NOT NULL) */
        if (st && (!strcmp(st, "C") || !strcmp(st, "O") || !strcmp(st, "V")) && !not_valid) {
            /* PostgreSQL 15 takes SHARE on each table storing the domain, also for VALIDATE. */
            c->st->flags |= ALCHDB_MIG_SCANS_TABLE;
            char *rels[32];
            size_t n = alchdb__mig_live_domain_tables(c->m, dname, rels, 32);
            alchdb__strbuf sb;
            alchdb__sb_init(&sb);
            for (size_t i = 0; i < n; i++) {
                lock(c, rels[i], ALCHDB_LOCK_SHARE);
                alchdb__sb_printf(&sb, "%s%s", i ? ", " : "", rels[i]);
                alchdb__free(rels[i]);
            }
            char *names = alchdb__sb_finish(&sb);
            if (n)
                risk(c, ALCHDB_RISK_MEDIUM, "checks domain %s in every table using it: %s%s locked (SHARE) and scanned",
                     dname, names ? names : "", n == 32 ? ", ... " : "");
            else
                risk(c, ALCHDB_RISK_MEDIUM, "checks domain %s: every table with a column of the domain is locked "
                     "(SHARE) and scanned", dname);
            alchdb__free(names);
            finding(c, "domain-constraint-scans", "warning",
                    fmt("ALTER DOMAIN … ADD CONSTRAINT / SET NOT NULL / VALIDATE CONSTRAINT checks every column of the "
                        "domain in every table under SHARE (writes wait)"),
                    fmt("%s", strcmp(st, "V") ? "add the constraint NOT VALID (no scan, new values are checked); its "
                                          "VALIDATE CONSTRAINT still takes SHARE on those tables in PostgreSQL 15, so "
                                          "run it when writes can wait"
                                        : "run it when writes to those tables can wait"));
        } else if (not_valid) {
            risk(c, ALCHDB_RISK_LOW, "adds a NOT VALID constraint to domain %s: new values are checked, existing "
                 "rows are not (no table lock, no scan)", dname);
        } else {
            risk(c, ALCHDB_RISK_LOW, "alters a domain");
        }
        rollback(c, fmt("-- the opposite ALTER DOMAIN"));
    } else if (!strcmp(type, "DoStmt")) {
        c->st->flags |= ALCHDB_MIG_OPAQUE;
        risk(c, ALCHDB_RISK_UNKNOWN, "DO block: its code is opaque to static assessment");
        finding(c, "opaque-code", "warning", fmt("a DO block can lock, rewrite or delete anything"),
                fmt("review it by hand, or run `alchdb migrate trace` to see the locks it takes"));
        irreversible(c, "unknown effects");
    } else if (!strcmp(type, "CreateFunctionStmt")) {
        risk(c, ALCHDB_RISK_LOW, "creates or replaces a function (its body is not executed now)");
        c->st->flags |= ALCHDB_MIG_OPAQUE;
        rollback(c, fmt("DROP FUNCTION …;  -- or restore the previous body"));
    } else if (!strcmp(type, "CreateTableAsStmt")) {
        const node *into = jget(body, "into");
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(jget(into, "rel"), rel, sizeof rel);
        if (!set_add(&c->s->new_tables, &c->s->n_new, &c->s->cap_new, rel))
            c->oom = true;
        risk(c, ALCHDB_RISK_LOW, "creates %s from a query (the query's reads take ACCESS SHARE)", rel);
        char *qn = qrel(c, rel);
        if (qn) {
            rollback(c, fmt("DROP TABLE %s;", qn));
            alchdb__free(qn);
        }
    } else if (!strcmp(type, "ViewStmt")) {
        char rel[ALCHDB_MIG_REL_CAP];
        rangevar_name(jget(body, "view"), rel, sizeof rel);
        risk(c, ALCHDB_RISK_LOW, "creates or replaces view %s", rel);
        if (jbool(body, "replace"))
            lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        char *qn = qrel(c, rel);
        if (qn) {
            rollback(c, fmt("DROP VIEW %s;  -- or restore the previous definition", qn));
            alchdb__free(qn);
        }
    } else if (!strcmp(type, "CreateSeqStmt") || !strcmp(type, "CreateEnumStmt") ||
               !strcmp(type, "CompositeTypeStmt") || !strcmp(type, "CreateDomainStmt") ||
               !strcmp(type, "CreateSchemaStmt") || !strcmp(type, "CreateExtensionStmt") ||
               !strcmp(type, "CreateRangeStmt")) {
        risk(c, ALCHDB_RISK_LOW, "creates a new object");
        rollback(c, fmt("-- DROP the created object"));
    } else if (!strcmp(type, "CommentStmt")) {
        const char *ot = jstr(body, "objtype");
        const node *lst = as_node(jget(body, "object"), "List");
        if (ot && lst && (!strcmp(ot, "OBJECT_TABLE") || !strcmp(ot, "OBJECT_COLUMN") || !strcmp(ot, "OBJECT_VIEW"))) {
            const node *items = jget(lst, "items");
            size_t n = list_size(items);
            if (!strcmp(ot, "OBJECT_COLUMN") && n > 1) { /* drop the column name */
                const char *schema = n > 2 ? jstr(as_node(list_get(items, n - 3), "String"), "sval") : NULL;
                const char *table = jstr(as_node(list_get(items, n - 2), "String"), "sval");
                char rel[ALCHDB_MIG_REL_CAP];
                alchdb__mig_rel_key(rel, sizeof rel, schema, table);
                lock(c, rel, ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
            } else {
                char rel[ALCHDB_MIG_REL_CAP];
                names_join(items, rel, sizeof rel);
                lock(c, rel, ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
            }
        }
        risk(c, ALCHDB_RISK_LOW, "sets a comment (SHARE UPDATE EXCLUSIVE on a commented table)");
        rollback(c, fmt("-- restore the previous comment"));
    } else if (!strcmp(type, "AlterSeqStmt") || !strcmp(type, "GrantStmt") ||
               !strcmp(type, "GrantRoleStmt") || !strcmp(type, "AlterOwnerStmt") ||
               !strcmp(type, "AlterDefaultPrivilegesStmt") || !strcmp(type, "CreateRoleStmt") ||
               !strcmp(type, "AlterRoleStmt") || !strcmp(type, "AlterExtensionStmt") ||
               !strcmp(type, "CreateStatsStmt") || !strcmp(type, "SelectStmt") ||
               !strcmp(type, "AlterFunctionStmt") || !strcmp(type, "DefineStmt") || !strcmp(type, "CreateCastStmt")) {
        risk(c, ALCHDB_RISK_LOW, "catalog change without table locks of note");
        if (!strcmp(type, "CreateStatsStmt")) {
            size_t i;
            const node *r;
            list_foreach(jget(body, "relations"), i, r)
            {
                char rel[ALCHDB_MIG_REL_CAP];
                rangevar_name(as_node(r, "RangeVar"), rel, sizeof rel);
                lock(c, rel, ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE);
            }
        }
        rollback(c, fmt("-- the opposite statement"));
    } else if (!strcmp(type, "AlterObjectSchemaStmt")) {
        char rel[ALCHDB_MIG_REL_CAP] = "?";
        if (jget(body, "relation"))
            rangevar_name(jget(body, "relation"), rel, sizeof rel);
        lock(c, rel, ALCHDB_LOCK_ACCESS_EXCLUSIVE);
        risk(c, ALCHDB_RISK_HIGH, "moves %s to another schema: clients using the old qualified name break", rel);
        rollback(c, fmt("-- SET SCHEMA back"));
    } else {
        risk(c, ALCHDB_RISK_UNKNOWN, "%s is not modelled by the assessor", type);
        finding(c, "unknown-statement", "warning", fmt("the assessor does not model %s", type),
                fmt("review its locks by hand or with `alchdb migrate trace`"));
    }
}

/* ---- per file ------------------------------------------------------------------ */

/* Skip whitespace and comments: the statement's first token. */
static size_t skip_ws_comments(const char *s, size_t i, size_t end)
{
    while (i < end) {
        if (isspace((unsigned char)s[i])) {
            i++;
        } else if (s[i] == '-' && i + 1 < end && s[i + 1] == '-') {
            while (i < end && s[i] != '\n')
                i++;
        } else if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < end && depth > 0) {
                if (s[i] == '/' && i + 1 < end && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (s[i] == '*' && i + 1 < end && s[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
        } else {
            break;
        }
    }
    return i;
}

/* 1-based line and column (in characters) of byte offset off. Statements come
 * in order, so the walk resumes from the previous position (pos): linear in
 * the file size overall. */
typedef struct text_pos {
    size_t off;
    int64_t line, col;
} text_pos;

static void line_col_from(const char *s, text_pos *pos, size_t off, int64_t *line, int64_t *col)
{
    if (off < pos->off)
        *pos = (text_pos){0, 1, 1};
    for (size_t i = pos->off; i < off; i++) {
        if (s[i] == '\n') {
            pos->line++;
            pos->col = 1;
        } else if (((unsigned char)s[i] & 0xC0) != 0x80) {
            pos->col++;
        }
    }
    pos->off = off;
    *line = pos->line;
    *col = pos->col;
}

static void line_col(const char *s, size_t off, int64_t *line, int64_t *col)
{
    text_pos p = {0, 1, 1};
    line_col_from(s, &p, off, line, col);
}

static void stmt_free(mig_stmt *st)
{
    alchdb__free(st->sql);
    for (size_t i = 0; i < st->nlocks; i++)
        alchdb__free(st->locks[i].relation);
    alchdb__free(st->locks);
    alchdb__free(st->reason);
    for (size_t i = 0; i < st->nfindings; i++) {
        alchdb__free(st->findings[i].message);
        alchdb__free(st->findings[i].help);
    }
    alchdb__free(st->findings);
    alchdb__free(st->safer_rewrite);
    alchdb__free(st->rollback);
    alchdb__free(st->rollback_note);
    alchdb__free(st->size_note);
}

void alchdb__mig_file_free(mig_file *f)
{
    alchdb__free(f->name);
    alchdb__free(f->error);
    for (size_t i = 0; i < f->nstmts; i++)
        stmt_free(&f->stmts[i]);
    alchdb__free(f->stmts);
    for (size_t i = 0; i < f->nphases; i++) {
        alchdb__free(f->phases[i].name);
        alchdb__free(f->phases[i].stmts);
        alchdb__free(f->phases[i].checkpoint);
    }
    alchdb__free(f->phases);
}

void alchdb__mig_state_free(mig_state *s)
{
    set_free(s->new_tables, s->n_new);
    set_free(s->known_tables, s->n_known);
    for (size_t i = 0; i < s->ncols; i++) {
        alchdb__free(s->cols[i].table);
        alchdb__free(s->cols[i].column);
    }
    alchdb__free(s->cols);
    set_free(s->notnull_checks, s->n_nn);
    set_free(s->fks, s->n_fk);
    set_free(s->ae_held, s->n_ae);
    memset(s, 0, sizeof *s);
}

/* Live mode: turn the statement's class into an estimated duration and report
 * sessions that would make it queue. */
static void live_estimate(ctx *c)
{
    mig_stmt *st = c->st;
    if (!c->m->live)
        return;
    double secs = -1;
    for (size_t i = 0; i < st->nlocks; i++) {
        if (!st->locks[i].existing)
            continue;
        int64_t bytes;
        double rows;
        if (!alchdb__mig_live_size(c->m, st->locks[i].relation, &bytes, &rows))
            continue;
        double bps = (double)c->m->opts.rewrite_bytes_per_sec;
        double t = 0;
        if (st->flags & ALCHDB_MIG_REWRITES_TABLE)
            t = (double)bytes / bps;
        else if (st->flags & ALCHDB_MIG_BUILDS_INDEX)
            t = (double)bytes / (bps * 2);
        else if (st->flags & ALCHDB_MIG_SCANS_TABLE)
            t = (double)bytes / (bps * 4);
        if (st->flags & (ALCHDB_MIG_REWRITES_TABLE | ALCHDB_MIG_BUILDS_INDEX | ALCHDB_MIG_SCANS_TABLE)) {
            secs = (secs < 0 ? 0 : secs) + t;
            const char *unit = "MB";
            double v = (double)bytes / 1e6;
            if (v >= 1000) {
                v /= 1000;
                unit = "GB";
            }
            char *note = fmt("%s %s, ~%.1f %s, ~%.0f rows, about %.1f s under %s",
                             (st->flags & ALCHDB_MIG_REWRITES_TABLE) ? "rewrites"
                             : (st->flags & ALCHDB_MIG_BUILDS_INDEX) ? "indexes"
                                                                     : "scans",
                             st->locks[i].relation, v, unit, rows, t, alchdb_lock_mode_name(st->locks[i].mode));
            set_text(c, &st->size_note, note);
        } else if (secs < 0) {
            secs = 0;
        }
        if (st->locks[i].mode >= ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE) {
            char *b = alchdb__mig_live_blockers(c->m, st->locks[i].relation);
            if (b) {
                finding(c, "lock-queue-risk", "warning",
                        fmt("sessions now holding locks on %s would make this statement queue (and everyone behind "
                            "it): %s",
                            st->locks[i].relation, b),
                        fmt("run with lock_timeout and retry, or end those sessions first"));
                risk(c, ALCHDB_RISK_MEDIUM, "%s: long-running sessions hold locks on %s", st->reason ? st->reason : "",
                     st->locks[i].relation);
                alchdb__free(b);
            }
        }
    }
    st->estimated_seconds = secs;
}

int alchdb__mig_assess_file(alchdb_migration *m, mig_file *f, const char *sql, size_t len)
{
    mig_state *s = &m->state;
    /* Tables created by earlier files are known but no longer new. */
    for (size_t i = 0; i < s->n_new; i++)
        if (!set_add(&s->known_tables, &s->n_known, &s->cap_known, s->new_tables[i]))
            return alchdb__nomem("migration state");
    set_free(s->new_tables, s->n_new);
    s->new_tables = NULL;
    s->n_new = s->cap_new = 0;
    s->in_txn = false;
    s->lock_timeout_set = false;
    s->timezone_utc = 0;

    alchdb__sql_tree *tree = NULL;
    int64_t err_off = -1;
    int rc = alchdb__sql_tree_parse(sql, len, &tree, &err_off);
    if (rc == ALCHDB_E_PARSE) {
        f->error = alchdb__strdup(alchdb_last_error_message());
        if (!f->error)
            return alchdb__nomem("migration error");
        line_col(sql, err_off >= 0 && (size_t)err_off <= len ? (size_t)err_off : 0, &f->err_line, &f->err_column);
        f->max_risk = ALCHDB_RISK_UNKNOWN;
        return 0;
    }
    if (rc == ALCHDB_E_RANGE) {
        /* Nested too deeply to parse safely: say so instead of guessing. */
        f->error = alchdb__strdup(alchdb_last_error_message());
        if (!f->error)
            return alchdb__nomem("migration error");
        f->err_line = f->err_column = 1;
        f->max_risk = ALCHDB_RISK_UNKNOWN;
        return 0;
    }
    if (rc < 0)
        return rc;
    size_t n = alchdb__sql_tree_count(tree);
    f->stmts = alchdb__calloc(n ? n : 1, sizeof *f->stmts);
    if (!f->stmts) {
        alchdb__sql_tree_free(tree);
        return alchdb__nomem("migration statements");
    }
    rc = 0;
    text_pos pos = {0, 1, 1};
    for (size_t i = 0; i < n; i++) {
        size_t loc = 0, slen = 0;
        const node *stmt = alchdb__sql_tree_stmt(tree, i, &loc, &slen);
        if (loc > len)
            loc = len;
        size_t end = slen ? loc + slen : len;
        if (end > len)
            end = len;
        size_t start = skip_ws_comments(sql, loc, end);
        while (end > start && (isspace((unsigned char)sql[end - 1]) || sql[end - 1] == ';'))
            end--;
        mig_stmt *st = &f->stmts[f->nstmts++];
        st->estimated_seconds = -1;
        st->offset = start;
        st->length = end - start;
        line_col_from(sql, &pos, start, &st->line, &st->column);
        st->sql = alchdb__strndup(sql + start, end - start);
        ctx c = {m, s, st, st->sql == NULL};
        if (!c.oom) {
            /* Statements after an ACCESS EXCLUSIVE in the same transaction run
             * while it is still held. */
            if (s->in_txn && s->n_ae > 0) {
                const node *b;
                const char *t = node_type(stmt, &b);
                const char *k = t && !strcmp(t, "TransactionStmt") ? jstr(b, "kind") : NULL;
                if (!k || (strcmp(k, "TRANS_STMT_COMMIT") && strcmp(k, "TRANS_STMT_ROLLBACK"))) {
                    finding(&c, "access-exclusive-held", "warning",
                            fmt("ACCESS EXCLUSIVE on %s%s, taken earlier in this transaction, is held while this "
                                "statement runs",
                                s->ae_held[0], s->n_ae > 1 ? " (and others)" : ""),
                            fmt("commit right after the statement that needs ACCESS EXCLUSIVE; run slow statements "
                                "in their own transaction"));
                    risk(&c, ALCHDB_RISK_MEDIUM, "runs while ACCESS EXCLUSIVE on %s is held (readers and writers "
                         "wait until COMMIT)", s->ae_held[0]);
                }
            }
            assess_stmt(&c, stmt, st->sql);
            blocks_from_locks(st);
            if (s->in_txn)
                for (size_t k = 0; k < st->nlocks; k++)
                    if (st->locks[k].existing && st->locks[k].mode == ALCHDB_LOCK_ACCESS_EXCLUSIVE &&
                        !set_add(&s->ae_held, &s->n_ae, &s->cap_ae, st->locks[k].relation))
                        c.oom = true;
            if (st->concurrent && s->in_txn) {
                finding(&c, "concurrent-in-transaction", "error",
                        fmt("this statement cannot run inside a transaction block: PostgreSQL rejects it"),
                        fmt("run it on its own, outside BEGIN … COMMIT (and outside a migration tool's implicit "
                            "transaction)"));
                risk(&c, ALCHDB_RISK_MEDIUM, "fails at run time: not allowed inside a transaction block");
            }
            live_estimate(&c);
            st->flags &= ~0x80000000u;
            if (!(st->flags & ALCHDB_MIG_REVERSIBLE) && !st->rollback_note && !st->rollback)
                st->rollback_note = alchdb__strdup("no rollback known");
            if (st->risk == ALCHDB_RISK_NONE)
                st->risk = ALCHDB_RISK_LOW;
        }
        if (c.oom) {
            rc = alchdb__nomem("migration assessment");
            break;
        }
        if (risk_rank(st->risk) > risk_rank(f->max_risk))
            f->max_risk = st->risk;
    }
    alchdb__sql_tree_free(tree);
    return rc;
}
