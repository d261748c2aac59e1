/* Partitioned tables: how an index is created on one, and what its
 * partitions hold.
 *
 * CREATE INDEX CONCURRENTLY is refused on a partitioned table, and a plain
 * CREATE INDEX on it blocks writes to every partition for the whole build.
 * PostgreSQL's documented way (15, "Partition Maintenance") is: CREATE INDEX
 * ... ON ONLY the parent (an invalid index, no data read), CREATE INDEX
 * CONCURRENTLY on each partition, then ALTER INDEX parent ATTACH PARTITION
 * for each; the parent's index becomes valid when every partition has one
 * attached. A partition that is itself partitioned is done the same way one
 * level down before it is attached. */
#include <string.h>

#include "adv.h"

/* Partition trees deeper than this are not built statement by statement. */
#define MAX_LEVELS 32

bool alchdb__adv_inherits(const adv_table *t, const adv_table *a)
{
    int depth = 0;
    for (const adv_table *p = t ? t->parent : NULL; p && depth < MAX_LEVELS * 4; p = p->parent, depth++)
        if (p == a)
            return true;
    return false;
}

/* The planner's row count (ANALYZE), else the statistics' live rows. */
static double rows_of(const adv_table *t)
{
    return t->reltuples > 0 ? t->reltuples : (double)t->live_rows;
}

void alchdb__adv_tree_stats(const alchdb_advisor_report *r, const adv_table *t, adv_tree_stats *s)
{
    s->rows = rows_of(t);
    s->live = (double)t->live_rows;
    s->writes = t->writes;
    s->seq_scan = t->seq_scan;
    s->idx_scan = t->idx_scan;
    s->bytes = t->bytes;
    if (t->kind != 'p')
        return;
    double leaves = 0, live = 0;
    for (size_t i = 0; i < r->ntables; i++) {
        const adv_table *p = &r->tables[i];
        if (p->kind == 'p' || !alchdb__adv_inherits(p, t))
            continue;
        leaves += rows_of(p);
        live += (double)p->live_rows;
        s->writes += p->writes;
        s->seq_scan += p->seq_scan;
        s->idx_scan += p->idx_scan;
        s->bytes += p->bytes;
    }
    if (leaves > s->rows)
        s->rows = leaves;
    if (live > s->live)
        s->live = live;
}

void alchdb__adv_steps_free(adv_step *steps, size_t n)
{
    for (size_t i = 0; steps && i < n; i++) {
        alchdb__free(steps[i].sql);
        alchdb__free(steps[i].name);
    }
    alchdb__free(steps);
}

typedef struct builder {
    adv_ctx *c;
    const char *keys, *pred, *stem_cols, *suffix;
    const adv_keyspec *spec;
    adv_step *v;
    size_t n, cap;
    int rc;
} builder;

/* Append a step; takes sql and name (owned) whatever happens. */
static void add(builder *b, char *sql, const char *schema, char *name, bool concurrent)
{
    if (!b->rc && !sql)
        b->rc = alchdb__nomem("advisor index statements");
    if (!b->rc && !alchdb__adv_push((void **)&b->v, &b->n, &b->cap, sizeof *b->v))
        b->rc = alchdb__nomem("advisor index statements");
    if (b->rc) {
        alchdb__free(sql);
        alchdb__free(name);
        return;
    }
    b->v[b->n++] = (adv_step){.sql = sql, .schema = schema, .name = name, .concurrent = concurrent};
}

static char *create_sql(builder *b, const adv_table *t, const char *name, bool only)
{
    char *qn = alchdb__adv_ident(b->c, name);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "CREATE INDEX %s%s ON %s%s (%s)", only ? "" : "CONCURRENTLY ", qn ? qn : "",
                      only ? "ONLY " : "", t->qname, b->keys);
    if (b->pred)
        alchdb__sb_printf(&sb, " WHERE %s", b->pred);
    alchdb__sb_puts(&sb, ";");
    bool ok = qn != NULL;
    alchdb__free(qn);
    if (!ok) {
        alchdb__sb_reset(&sb);
        return NULL;
    }
    return alchdb__sb_finish(&sb);
}

static bool buildable_at(const alchdb_advisor_report *r, const adv_table *t, int level)
{
    if (t->kind != 'p')
        return true;
    if (level >= MAX_LEVELS)
        return false;
    int64_t found = 0;
    for (size_t i = 0; i < r->ntables; i++)
        if (r->tables[i].parent == t) {
            found++;
            if (!buildable_at(r, &r->tables[i], level + 1))
                return false;
        }
    return found == t->nparts; /* a foreign or unreadable partition cannot take the index */
}

bool alchdb__adv_indexable(const alchdb_advisor_report *r, const adv_table *t)
{
    return buildable_at(r, t, 0);
}

/* An index of partition p that ALTER INDEX ... ATTACH PARTITION accepts for
 * the index being built (PostgreSQL compares them as CompareIndexInfo does:
 * access method, key columns and their order, operator classes, collations,
 * options, no INCLUDE columns, expressions or predicate, and uniqueness),
 * valid and not attached to another parent index yet: attaching it saves
 * building a second one like it. NULL when there is none. */
static adv_index *attachable(const builder *b, const adv_table *p)
{
    alchdb_advisor_report *r = b->c->r;
    if (!b->spec || b->pred || p->kind == 'p')
        return NULL;
    for (size_t i = 0; i < r->nindexes; i++) {
        adv_index *x = &r->indexes[i];
        if (x->table != p || !x->valid || x->attached || x->unique || x->primary || x->exclusion || x->constraint ||
            !x->plain_keys || x->exprs || x->pred || strcmp(x->am, "btree") || x->nkeys != b->spec->n ||
            x->natts != x->nkeys)
            continue;
        bool same = true;
        for (int j = 0; j < b->spec->n && same; j++) {
            int16_t a = x->keys[j];
            int ord = b->spec->ord ? b->spec->ord[j] & (ADV_ORD_DESC | ADV_ORD_NULLS_FIRST) : 0;
            same = a > 0 && a <= p->ncols && p->cols[a] && b->spec->names[j] && !strcmp(p->cols[a], b->spec->names[j]) &&
                   x->option[j] == ord;
        }
        if (same)
            return x;
    }
    return NULL;
}

/* Steps that leave index name on t valid (t partitioned: with its partitions). */
static void build(builder *b, adv_table *t, char *name)
{
    alchdb_advisor_report *r = b->c->r;
    char *sql = create_sql(b, t, name, t->kind == 'p');
    char *qparent = t->kind == 'p' ? alchdb__adv_qualified(b->c, t->schema, name) : NULL;
    bool partitioned = t->kind == 'p';
    add(b, sql, t->schema, name, !partitioned);
    if (!partitioned || b->rc) {
        alchdb__free(qparent);
        return;
    }
    if (!qparent)
        b->rc = alchdb__nomem("advisor index statements");
    for (size_t i = 0; i < r->ntables && !b->rc; i++) {
        adv_table *p = &r->tables[i];
        if (p->parent != t)
            continue;
        alchdb__strbuf sb;
        adv_index *have = attachable(b, p);
        if (have) {
            have->to_attach = true;
            alchdb__sb_init(&sb);
            alchdb__sb_printf(&sb, "ALTER INDEX %s ATTACH PARTITION %s;", qparent, have->qname);
            add(b, alchdb__sb_finish(&sb), NULL, NULL, false);
            continue;
        }
        alchdb__sb_init(&sb);
        alchdb__sb_printf(&sb, "%s%s", p->name, b->stem_cols);
        char *stem = alchdb__sb_finish(&sb);
        char *pname = stem ? alchdb__adv_index_name(r, p->schema, stem, b->suffix) : NULL;
        alchdb__free(stem);
        char *qchild = pname ? alchdb__adv_qualified(b->c, p->schema, pname) : NULL;
        if (!qchild) {
            alchdb__free(pname);
            b->rc = alchdb__nomem("advisor index statements");
            break;
        }
        build(b, p, pname);
        alchdb__sb_init(&sb);
        alchdb__sb_printf(&sb, "ALTER INDEX %s ATTACH PARTITION %s;", qparent, qchild);
        alchdb__free(qchild);
        add(b, alchdb__sb_finish(&sb), NULL, NULL, false);
    }
    alchdb__free(qparent);
}

int alchdb__adv_create_steps(adv_ctx *c, adv_table *t, const char *name, const char *keys, const char *pred,
                             const adv_keyspec *spec, const char *stem_cols, const char *suffix, adv_step **steps,
                             size_t *nsteps, char **create_sql_out)
{
    *steps = NULL;
    *nsteps = 0;
    *create_sql_out = NULL;
    if (!alchdb__adv_indexable(c->r, t))
        return ALCHDB_E_STATE;
    builder b = {.c = c, .keys = keys, .pred = pred, .spec = spec, .stem_cols = stem_cols, .suffix = suffix};
    char *own = alchdb__strdup(name);
    if (!own)
        return alchdb__nomem("advisor index statements");
    build(&b, t, own);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    for (size_t i = 0; i < b.n && !b.rc; i++)
        alchdb__sb_printf(&sb, "%s%s", i ? "\n" : "", b.v[i].sql);
    char *all = alchdb__sb_finish(&sb);
    if (!b.rc && !all)
        b.rc = alchdb__nomem("advisor index statements");
    if (b.rc) {
        alchdb__free(all);
        alchdb__adv_steps_free(b.v, b.n);
        return b.rc;
    }
    *steps = b.v;
    *nsteps = b.n;
    *create_sql_out = all;
    return 0;
}
