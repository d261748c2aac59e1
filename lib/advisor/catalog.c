/* The catalog side: tables, indexes and foreign keys with their statistics,
 * then unused indexes, redundant indexes and foreign keys without an index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv.h"
#include "sql/tree.h"

/* Relations the advisor looks at: ordinary, partitioned and materialized
 * tables outside the system schemas and not owned by an extension. */
#define USER_RELS                                                                                  \
    "c.relkind IN ('r','p','m') AND n.nspname NOT IN ('pg_catalog','information_schema') "         \
    "AND n.nspname !~ '^pg_toast' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = "     \
    "'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')"

static const char q_env[] =
    "SELECT current_database(), current_setting('server_version_num')::int, "
    "extract(epoch FROM now() - coalesce(d.stats_reset, pg_postmaster_start_time()))::float8, "
    "coalesce(d.stats_reset, pg_postmaster_start_time())::text, "
    "(SELECT count(*) FROM pg_stat_replication)::int, "
    "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'), "
    "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'), "
    "pg_has_role(current_user, 'pg_read_all_stats', 'USAGE'), "
    "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user) "
    "FROM pg_stat_database d WHERE d.datname = current_database()";

static const char q_keywords[] = "SELECT word FROM pg_get_keywords() WHERE catcode <> 'U'";

static const char q_tables[] =
    "SELECT c.oid, n.nspname, c.relname, pg_table_size(c.oid), coalesce(s.n_live_tup, 0), "
    "coalesce(s.seq_scan, 0), coalesce(s.seq_tup_read, 0), coalesce(s.idx_scan, 0), "
    "coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0), c.reltuples::float8, s.relid IS NOT NULL, "
    "c.relkind::text, CASE WHEN c.relispartition THEN (SELECT h.inhparent FROM pg_inherits h WHERE h.inhrelid = c.oid) "
    "ELSE 0 END, (SELECT count(*) FROM pg_inherits h WHERE h.inhparent = c.oid) "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE " USER_RELS " ORDER BY c.oid";

static const char q_cols[] =
    "SELECT a.attrelid, a.attnum, a.attname FROM pg_attribute a "
    "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE a.attnum > 0 AND NOT a.attisdropped AND " USER_RELS " ORDER BY a.attrelid, a.attnum";

static const char q_indexes[] =
    "SELECT i.indexrelid, i.indrelid, n.nspname, ci.relname, am.amname, pg_get_indexdef(i.indexrelid), "
    "coalesce(pg_get_expr(i.indexprs, i.indrelid), ''), coalesce(pg_get_expr(i.indpred, i.indrelid), ''), "
    "i.indkey::text, i.indclass::text, i.indcollation::text, i.indoption::text, i.indnkeyatts, i.indnatts, "
    "i.indisunique, i.indisprimary, i.indisexclusion, i.indisvalid, "
    "EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p','u','x')), "
    "CASE WHEN ci.relkind = 'I' THEN (SELECT coalesce(sum(pg_relation_size(t.relid)), 0) FROM "
    "pg_partition_tree(i.indexrelid) t) ELSE pg_relation_size(i.indexrelid) END, "
    "CASE WHEN ci.relkind = 'I' THEN (SELECT coalesce(sum(u.idx_scan), 0) FROM pg_partition_tree(i.indexrelid) t "
    "JOIN pg_stat_user_indexes u ON u.indexrelid = t.relid) ELSE coalesce(s.idx_scan, 0) END, "
    "ci.relkind = 'I', ci.relispartition, "
    "NOT EXISTS (SELECT 1 FROM generate_series(0, i.indnkeyatts - 1) s JOIN pg_opclass o ON o.oid = i.indclass[s] "
    "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[s] "
    "WHERE NOT o.opcdefault OR a.attnum IS NULL OR i.indcollation[s] <> a.attcollation) "
    "FROM pg_index i JOIN pg_class ci ON ci.oid = i.indexrelid JOIN pg_class c ON c.oid = i.indrelid "
    "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = ci.relam "
    "LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid WHERE " USER_RELS
    " ORDER BY i.indrelid, i.indexrelid";

/* A foreign key of a partitioned table is cloned onto each partition
 * (conparentid): the one on the parent stands for them all. */
static const char q_fks[] =
    "SELECT k.conname, k.conrelid, k.confrelid, array_to_string(k.conkey, ' ') "
    "FROM pg_constraint k WHERE k.contype = 'f' AND k.conparentid = 0 ORDER BY k.conrelid, k.conname";

static const char q_relnames[] =
    "SELECT n.nspname, c.relname, c.relkind::text, CASE WHEN c.relkind = 'v' THEN pg_get_viewdef(c.oid) END "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname !~ '^pg_toast' "
    "ORDER BY 1, 2";

static int64_t i64(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool tf(const PGresult *res, int row, int col)
{
    return !PQgetisnull(res, row, col) && PQgetvalue(res, row, col)[0] == 't';
}

/* "1 2 0" → numbers; returns count parsed (at most max). */
static int parse_vec(const char *s, int64_t *out, int max)
{
    int n = 0;
    while (*s && n < max) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s)
            break;
        out[n++] = v;
        s = end;
        while (*s == ' ' || *s == ',' || *s == '{' || *s == '}')
            s++;
    }
    return n;
}

/* How reports name a table: as SQL would write it (each part quoted where
 * PostgreSQL needs it, so "sch.dot"."t.x" never reads like sch.dot.t.x),
 * the schema left out for public. */
static char *display_name(const char *schema, const char *name)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sql_quote_qualified(&sb, NULL, strcmp(schema, "public") ? schema : NULL, name);
    return alchdb__sb_finish(&sb);
}

static int load_env(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    PGresult *res = alchdb__adv_query(c, "the server environment", q_env, 0, NULL);
    if (!res)
        return alchdb__error(ALCHDB_E_QUERY, "advisor: cannot read the server environment: %s",
                             r->nnotes ? r->notes[r->nnotes - 1] : "");
    if (PQntuples(res) == 1) {
        r->database = alchdb__strdup(PQgetvalue(res, 0, 0));
        r->server_version = (int)i64(res, 0, 1);
        r->window_s = PQgetisnull(res, 0, 2) ? -1 : strtod(PQgetvalue(res, 0, 2), NULL);
        r->stats_since = alchdb__strdup(PQgetvalue(res, 0, 3));
        r->replicas = (int)i64(res, 0, 4);
        r->has_hypopg = tf(res, 0, 5);
        r->has_pgss = tf(res, 0, 6);
        r->read_all_stats = tf(res, 0, 7);
        r->superuser = tf(res, 0, 8);
    }
    PQclear(res);
    if (!r->database || !r->stats_since)
        return alchdb__nomem("advisor environment");
    res = alchdb__adv_query(c, "the keyword list", q_keywords, 0, NULL);
    if (res) {
        int n = PQntuples(res);
        r->keywords = alchdb__calloc((size_t)n + 1, sizeof(char *));
        if (!r->keywords) {
            PQclear(res);
            return alchdb__nomem("advisor keywords");
        }
        for (int i = 0; i < n; i++)
            if ((r->keywords[r->nkeywords] = alchdb__strdup(PQgetvalue(res, i, 0))))
                r->nkeywords++;
        PQclear(res);
    }
    int rc = alchdb__adv_load_path(c->conn, &r->search_path, &r->nsearch_path);
    if (rc)
        return rc;
    res = alchdb__adv_query(c, "the relation names", q_relnames, 0, NULL);
    if (res) {
        int n = PQntuples(res);
        r->relnames = alchdb__calloc((size_t)n + 1, sizeof *r->relnames);
        if (!r->relnames) {
            PQclear(res);
            return alchdb__nomem("advisor relation names");
        }
        for (int i = 0; i < n; i++) {
            adv_relname *rn = &r->relnames[r->nrelnames++];
            rn->schema = alchdb__strdup(PQgetvalue(res, i, 0));
            rn->name = alchdb__strdup(PQgetvalue(res, i, 1));
            rn->kind = PQgetvalue(res, i, 2)[0];
            rn->viewdef = PQgetisnull(res, i, 3) ? NULL : alchdb__strdup(PQgetvalue(res, i, 3));
            if (!rn->schema || !rn->name || (!PQgetisnull(res, i, 3) && !rn->viewdef)) {
                PQclear(res);
                return alchdb__nomem("advisor relation names");
            }
        }
        PQclear(res);
    }
    return 0;
}

static int load_tables(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    PGresult *res = alchdb__adv_query(c, "the tables", q_tables, 0, NULL);
    if (!res)
        return alchdb__error(ALCHDB_E_QUERY, "advisor: cannot read the tables: %s", r->notes[r->nnotes - 1]);
    int n = PQntuples(res);
    r->tables = alchdb__calloc((size_t)n + 1, sizeof *r->tables);
    if (!r->tables) {
        PQclear(res);
        return alchdb__nomem("advisor tables");
    }
    for (int i = 0; i < n; i++) {
        adv_table *t = &r->tables[r->ntables++];
        t->oid = (uint32_t)i64(res, i, 0);
        t->schema = alchdb__strdup(PQgetvalue(res, i, 1));
        t->name = alchdb__strdup(PQgetvalue(res, i, 2));
        t->bytes = i64(res, i, 3);
        t->live_rows = i64(res, i, 4);
        t->seq_scan = i64(res, i, 5);
        t->seq_tup_read = i64(res, i, 6);
        t->idx_scan = i64(res, i, 7);
        t->writes = i64(res, i, 8);
        t->reltuples = strtod(PQgetvalue(res, i, 9), NULL);
        t->has_stats = tf(res, i, 10);
        t->kind = PQgetvalue(res, i, 11)[0];
        t->parent_oid = (uint32_t)i64(res, i, 12);
        t->nparts = i64(res, i, 13);
        if (!t->schema || !t->name)
            break;
        t->qname = alchdb__adv_qualified(c, t->schema, t->name);
        t->display = display_name(t->schema, t->name);
        if (!t->qname || !t->display)
            break;
        r->tot_seq += t->seq_scan;
        r->tot_idx += t->idx_scan;
    }
    PQclear(res);
    if (r->ntables && !r->tables[r->ntables - 1].display)
        return alchdb__nomem("advisor tables");
    for (size_t i = 0; i < r->ntables; i++)
        if (r->tables[i].parent_oid)
            r->tables[i].parent = alchdb__adv_table_by_oid(r, r->tables[i].parent_oid);

    res = alchdb__adv_query(c, "the columns", q_cols, 0, NULL);
    if (!res)
        return alchdb__error(ALCHDB_E_QUERY, "advisor: cannot read the columns");
    n = PQntuples(res);
    /* Two passes: the highest attnum per table, then the names. */
    for (int i = 0; i < n; i++) {
        adv_table *t = alchdb__adv_table_by_oid(r, (uint32_t)i64(res, i, 0));
        int att = (int)i64(res, i, 1);
        if (t && att > t->ncols)
            t->ncols = att;
    }
    int rc = 0;
    for (size_t i = 0; i < r->ntables && !rc; i++)
        if (!(r->tables[i].cols = alchdb__calloc((size_t)r->tables[i].ncols + 1, sizeof(char *))))
            rc = alchdb__nomem("advisor columns");
    for (int i = 0; i < n && !rc; i++) {
        adv_table *t = alchdb__adv_table_by_oid(r, (uint32_t)i64(res, i, 0));
        int att = (int)i64(res, i, 1);
        if (t && att >= 1 && att <= t->ncols && !(t->cols[att] = alchdb__strdup(PQgetvalue(res, i, 2))))
            rc = alchdb__nomem("advisor columns");
    }
    PQclear(res);
    return rc;
}

static int load_indexes(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    PGresult *res = alchdb__adv_query(c, "the indexes", q_indexes, 0, NULL);
    if (!res)
        return alchdb__error(ALCHDB_E_QUERY, "advisor: cannot read the indexes");
    int n = PQntuples(res);
    r->indexes = alchdb__calloc((size_t)n + 1, sizeof *r->indexes);
    if (!r->indexes) {
        PQclear(res);
        return alchdb__nomem("advisor indexes");
    }
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        adv_table *t = alchdb__adv_table_by_oid(r, (uint32_t)i64(res, i, 1));
        if (!t)
            continue;
        adv_index *x = &r->indexes[r->nindexes++];
        x->oid = (uint32_t)i64(res, i, 0);
        x->table = t;
        x->schema = alchdb__strdup(PQgetvalue(res, i, 2));
        x->name = alchdb__strdup(PQgetvalue(res, i, 3));
        x->am = alchdb__strdup(PQgetvalue(res, i, 4));
        x->def = alchdb__strdup(PQgetvalue(res, i, 5));
        x->exprs = PQgetvalue(res, i, 6)[0] ? alchdb__strdup(PQgetvalue(res, i, 6)) : NULL;
        x->pred = PQgetvalue(res, i, 7)[0] ? alchdb__strdup(PQgetvalue(res, i, 7)) : NULL;
        x->nkeys = (int)i64(res, i, 12);
        x->natts = (int)i64(res, i, 13);
        x->unique = tf(res, i, 14);
        x->primary = tf(res, i, 15);
        x->exclusion = tf(res, i, 16);
        x->valid = tf(res, i, 17);
        x->constraint = tf(res, i, 18);
        x->bytes = i64(res, i, 19);
        x->scans = i64(res, i, 20);
        x->partitioned = tf(res, i, 21);
        x->attached = tf(res, i, 22);
        x->plain_keys = tf(res, i, 23);
        if (!x->schema || !x->name || !x->am || !x->def || x->natts < 0 || x->natts > 64 ||
            (PQgetvalue(res, i, 6)[0] && !x->exprs) || (PQgetvalue(res, i, 7)[0] && !x->pred)) {
            rc = alchdb__nomem("advisor indexes");
            break;
        }
        x->qname = alchdb__adv_qualified(c, x->schema, x->name);
        int na = x->natts ? x->natts : 1;
        x->keys = alchdb__calloc((size_t)na, sizeof *x->keys);
        x->opclass = alchdb__calloc((size_t)na, sizeof *x->opclass);
        x->collation = alchdb__calloc((size_t)na, sizeof *x->collation);
        x->option = alchdb__calloc((size_t)na, sizeof *x->option);
        if (!x->qname || !x->keys || !x->opclass || !x->collation || !x->option) {
            rc = alchdb__nomem("advisor indexes");
            break;
        }
        int64_t v[64];
        int k = parse_vec(PQgetvalue(res, i, 8), v, 64);
        for (int j = 0; j < k && j < x->natts; j++)
            x->keys[j] = (int16_t)v[j];
        k = parse_vec(PQgetvalue(res, i, 9), v, 64);
        for (int j = 0; j < k && j < x->natts; j++)
            x->opclass[j] = (uint32_t)v[j];
        k = parse_vec(PQgetvalue(res, i, 10), v, 64);
        for (int j = 0; j < k && j < x->natts; j++)
            x->collation[j] = (uint32_t)v[j];
        k = parse_vec(PQgetvalue(res, i, 11), v, 64);
        for (int j = 0; j < k && j < x->natts; j++)
            x->option[j] = (int16_t)v[j];
    }
    PQclear(res);
    return rc;
}

static int load_fks(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    PGresult *res = alchdb__adv_query(c, "the foreign keys", q_fks, 0, NULL);
    if (!res)
        return 0; /* a partial report: the note says what is missing */
    int n = PQntuples(res), rc = 0;
    r->fks = alchdb__calloc((size_t)n + 1, sizeof *r->fks);
    if (!r->fks) {
        PQclear(res);
        return alchdb__nomem("advisor foreign keys");
    }
    for (int i = 0; i < n; i++) {
        adv_table *t = alchdb__adv_table_by_oid(r, (uint32_t)i64(res, i, 1));
        adv_table *ref = alchdb__adv_table_by_oid(r, (uint32_t)i64(res, i, 2));
        if (!t || !ref)
            continue;
        int64_t v[32];
        int k = parse_vec(PQgetvalue(res, i, 3), v, 32);
        adv_fk *f = &r->fks[r->nfks++];
        f->table = t;
        f->ref = ref;
        f->name = alchdb__strdup(PQgetvalue(res, i, 0));
        f->cols = alchdb__calloc((size_t)k + 1, sizeof *f->cols);
        if (!f->name || !f->cols) {
            rc = alchdb__nomem("advisor foreign keys");
            break;
        }
        for (int j = 0; j < k; j++)
            f->cols[j] = (int16_t)v[j];
        f->ncols = k;
        f->ref_writes = ref->writes;
    }
    PQclear(res);
    return rc;
}

int alchdb__adv_load_catalog(adv_ctx *c)
{
    int rc = load_env(c);
    if (!rc)
        rc = load_tables(c);
    if (!rc)
        rc = load_indexes(c);
    if (!rc)
        rc = load_fks(c);
    return rc;
}

/* ---- findings ------------------------------------------------------------------ */

/* Does index x serve lookups on the columns cols (any order) as its leading keys? */
static bool leading_cover(const adv_index *x, const int16_t *cols, int ncols)
{
    if (!x->valid || x->pred || ncols > x->nkeys || strcmp(x->am, "btree"))
        return false;
    for (int j = 0; j < ncols; j++) {
        bool found = false;
        for (int k = 0; k < ncols && !found; k++)
            found = x->keys[k] == cols[j];
        if (!found)
            return false;
    }
    return true;
}

static char *drop_sql(const adv_index *x)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    /* A partitioned table's index cannot be dropped CONCURRENTLY. */
    alchdb__sb_printf(&sb, "DROP INDEX %sIF EXISTS %s;", x->partitioned ? "" : "CONCURRENTLY ", x->qname);
    return alchdb__sb_finish(&sb);
}

/* An index attached to a partitioned table's index goes only with it. */
static bool droppable(const adv_index *x)
{
    return x->valid && !x->primary && !x->exclusion && !x->constraint && !x->attached;
}

static int find_unused(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    r->unused = alchdb__calloc(r->nindexes + 1, sizeof *r->unused);
    if (!r->unused)
        return alchdb__nomem("advisor unused");
    for (size_t i = 0; i < r->nindexes; i++) {
        adv_index *x = &r->indexes[i];
        if (!droppable(x) || x->unique || x->scans > 0 || !x->table->has_stats)
            continue;
        adv_unused *u = &r->unused[r->nunused++];
        u->idx = x;
        u->confidence = r->window_s >= 7 * 86400.0 ? "high" : r->window_s >= 86400.0 ? "medium" : "low";
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        if (r->window_s < 86400.0)
            alchdb__sb_printf(&sb, "statistics cover only %.0f s: a weekly or monthly job may still need it. ",
                              r->window_s);
        if (r->replicas > 0)
            alchdb__sb_printf(&sb,
                              "this server has %d streaming replica(s): idx_scan counts this server's scans only; "
                              "check pg_stat_user_indexes on every replica before dropping. ",
                              r->replicas);
        if (x->fk_name) {
            u->confidence = "low";
            alchdb__sb_printf(&sb,
                              "it supports foreign key %s: without it, deletes and key updates on the referenced "
                              "table scan %s. ",
                              x->fk_name, x->table->display);
        }
        if (sb.len && sb.data[sb.len - 1] == ' ')
            sb.data[--sb.len] = '\0';
        u->warning = sb.len ? alchdb__sb_finish(&sb) : (alchdb__sb_reset(&sb), NULL);
        u->drop_sql = drop_sql(x);
        if (!u->drop_sql)
            return alchdb__nomem("advisor unused");
    }
    return 0;
}

static bool same_cols(const adv_index *a, const adv_index *b, int n)
{
    for (int j = 0; j < n; j++)
        if (a->keys[j] != b->keys[j] || a->opclass[j] != b->opclass[j] || a->collation[j] != b->collation[j] ||
            a->option[j] != b->option[j])
            return false;
    return true;
}

static bool str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

/* Every INCLUDE column of a is somewhere in b. */
static bool includes_covered(const adv_index *a, const adv_index *b)
{
    for (int j = a->nkeys; j < a->natts; j++) {
        bool found = false;
        for (int k = 0; k < b->natts && !found; k++)
            found = b->keys[k] == a->keys[j];
        if (!found)
            return false;
    }
    return true;
}

/* Same key columns in the same order with the same INCLUDE set. */
static bool exact_dup(const adv_index *a, const adv_index *b)
{
    return a->nkeys == b->nkeys && a->natts == b->natts && same_cols(a, b, a->nkeys) && str_eq(a->exprs, b->exprs) &&
           includes_covered(a, b) && includes_covered(b, a);
}

/* Which of two exact duplicates to keep: constraints first, then uniqueness,
 * then use, then age. */
static bool keep_first(const adv_index *a, const adv_index *b)
{
    if (a->constraint != b->constraint)
        return a->constraint;
    if (a->unique != b->unique)
        return a->unique;
    if (a->scans != b->scans)
        return a->scans > b->scans;
    return a->oid < b->oid;
}

static bool has_expr_key(const adv_index *a, int n)
{
    for (int j = 0; j < n; j++)
        if (a->keys[j] == 0)
            return true;
    return false;
}

static int find_redundant(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    r->redundant = alchdb__calloc(r->nindexes + 1, sizeof *r->redundant);
    bool *dropped = alchdb__calloc(r->nindexes + 1, sizeof *dropped);
    if (!r->redundant || !dropped) {
        alchdb__free(dropped);
        return alchdb__nomem("advisor redundant");
    }
    int rc = 0;
    /* indexes are ordered by table: compare within each run */
    for (size_t s = 0; s < r->nindexes && !rc;) {
        size_t e = s;
        while (e < r->nindexes && r->indexes[e].table == r->indexes[s].table)
            e++;
        for (size_t i = s; i < e && !rc; i++) {
            adv_index *a = &r->indexes[i];
            if (!droppable(a))
                continue;
            for (size_t j = s; j < e; j++) {
                adv_index *b = &r->indexes[j];
                if (i == j || dropped[j] || !b->valid || strcmp(a->am, b->am) || !str_eq(a->pred, b->pred))
                    continue;
                const char *kind = NULL;
                if (exact_dup(a, b) && (!a->unique || b->unique) && keep_first(b, a)) {
                    kind = "exact_duplicate";
                } else if (!strcmp(a->am, "btree") && !a->unique && a->nkeys < b->nkeys &&
                           !has_expr_key(a, a->nkeys) && same_cols(a, b, a->nkeys) && includes_covered(a, b)) {
                    if (a->scans > 0 && b->scans == 0) {
                        /* Never trade a used narrow index for an unused wide one. */
                        continue;
                    }
                    kind = "left_prefix";
                }
                if (!kind)
                    continue;
                adv_redundant *d = &r->redundant[r->nredundant++];
                d->idx = a;
                d->by = b;
                d->kind = kind;
                alchdb__strbuf sb;
                alchdb__sb_init(&sb);
                if (!strcmp(kind, "exact_duplicate"))
                    alchdb__sb_printf(&sb, "%s has the same definition as %s", a->name, b->name);
                else
                    alchdb__sb_printf(&sb, "the keys of %s are a left prefix of %s, which serves the same lookups",
                                      a->name, b->name);
                alchdb__sb_printf(&sb, " (scans since the statistics reset: %lld vs %lld)", (long long)a->scans,
                                  (long long)b->scans);
                d->reason = alchdb__sb_finish(&sb);
                d->drop_sql = drop_sql(a);
                if (!d->reason || !d->drop_sql)
                    rc = alchdb__nomem("advisor redundant");
                dropped[i] = true;
                break;
            }
        }
        s = e;
    }
    alchdb__free(dropped);
    return rc;
}

static int find_fk_without_index(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    r->fkmiss = alchdb__calloc(r->nfks + 1, sizeof *r->fkmiss);
    if (!r->fkmiss)
        return alchdb__nomem("advisor foreign keys");
    for (size_t i = 0; i < r->nfks; i++) {
        adv_fk *f = &r->fks[i];
        bool covered = false;
        for (size_t j = 0; j < r->nindexes; j++) {
            adv_index *x = &r->indexes[j];
            if (x->table == f->table && leading_cover(x, f->cols, f->ncols)) {
                covered = true;
                if (!x->fk_name)
                    x->fk_name = f->name;
            }
        }
        if (covered)
            continue;
        adv_fkmiss *m = &r->fkmiss[r->nfkmiss++];
        m->fk = f;
        alchdb__strbuf cols, keys, stem;
        alchdb__sb_init(&cols);
        alchdb__sb_init(&keys);
        alchdb__sb_init(&stem);
        for (int k = 0; k < f->ncols; k++) {
            const char *cn = f->cols[k] > 0 && f->cols[k] <= f->table->ncols ? f->table->cols[f->cols[k]] : NULL;
            if (!cn)
                cn = "?";
            char *q = alchdb__adv_ident(c, cn);
            alchdb__sb_printf(&cols, "%s%s", k ? "," : "", cn);
            alchdb__sb_printf(&keys, "%s%s", k ? ", " : "", q ? q : "");
            alchdb__sb_printf(&stem, "_%s", cn);
            if (!q)
                keys.failed = true;
            alchdb__free(q);
        }
        m->cols_text = alchdb__sb_finish(&cols);
        char *keys_text = alchdb__sb_finish(&keys);
        char *stem_cols = alchdb__sb_finish(&stem);
        char *stems = NULL;
        if (stem_cols) {
            alchdb__sb_init(&stem);
            alchdb__sb_printf(&stem, "%s%s", f->table->name, stem_cols);
            stems = alchdb__sb_finish(&stem);
        }
        m->idx_name = stems ? alchdb__adv_index_name(r, f->table->schema, stems, "_fk_idx") : NULL;
        const char **names = alchdb__calloc((size_t)(f->ncols ? f->ncols : 1), sizeof *names);
        bool named = names != NULL;
        for (int k = 0; names && k < f->ncols; k++) {
            names[k] = f->cols[k] > 0 && f->cols[k] <= f->table->ncols ? f->table->cols[f->cols[k]] : NULL;
            named = named && names[k];
        }
        adv_keyspec spec = {names, NULL, f->ncols};
        int rc = !m->cols_text || !m->idx_name || !keys_text || !names
                     ? ALCHDB_E_NOMEM
                     : alchdb__adv_create_steps(c, f->table, m->idx_name, keys_text, NULL, named ? &spec : NULL,
                                                stem_cols, "_fk_idx", &m->steps, &m->nsteps, &m->create_sql);
        alchdb__free(names);
        alchdb__free(stems);
        alchdb__free(stem_cols);
        alchdb__free(keys_text);
        if (rc == ALCHDB_E_STATE) { /* a partition that cannot hold an index: say so, suggest nothing */
            r->nfkmiss--;
            alchdb__free(m->cols_text);
            alchdb__free(m->idx_name);
            memset(m, 0, sizeof *m);
            if (!alchdb__adv_note(r, "foreign key %s on %s has no index, but a partition of the table cannot hold one "
                                     "(a foreign table?): not suggested", f->name, f->table->display))
                return alchdb__nomem("advisor foreign keys");
        } else if (rc) {
            return alchdb__nomem("advisor foreign keys");
        }
    }
    return 0;
}

void alchdb__adv_keep_attached(alchdb_advisor_report *r)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nunused; i++) {
        adv_unused *u = &r->unused[i];
        if (u->idx->to_attach) {
            alchdb__free(u->warning);
            alchdb__free(u->drop_sql);
            continue;
        }
        r->unused[k++] = *u;
    }
    r->nunused = k;
    k = 0;
    for (size_t i = 0; i < r->nredundant; i++) {
        adv_redundant *d = &r->redundant[i];
        if (d->idx->to_attach) {
            alchdb__free(d->reason);
            alchdb__free(d->drop_sql);
            continue;
        }
        r->redundant[k++] = *d;
    }
    r->nredundant = k;
}

int alchdb__adv_find_problems(adv_ctx *c)
{
    int rc = find_fk_without_index(c); /* first: it marks the indexes that serve foreign keys */
    if (!rc)
        rc = find_unused(c);
    if (!rc)
        rc = find_redundant(c);
    return rc;
}
