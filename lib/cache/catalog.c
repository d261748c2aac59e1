/* What the cache must know about the database, read once per client and
 * refreshed periodically: the session identity that keys entries, and the
 * catalog facts that make invalidation complete (views expand to their base
 * tables, foreign-key actions reach child tables, triggers and volatile user
 * functions are distrusted) or precise (single-column primary keys). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache_priv.h"
#include "pqconn.h"

static const char IDENTITY_SQL[] =
    "SELECT current_database(), current_user, session_user, current_setting('search_path'),"
    " current_setting('TimeZone'), current_setting('DateStyle'), current_setting('IntervalStyle'),"
    " current_setting('extra_float_digits'), current_setting('bytea_output'),"
    " current_setting('lc_monetary'), current_setting('lc_numeric'),"
    " current_setting('standard_conforming_strings'), current_setting('server_version_num')";

/* Relations (schema, name) and their single-column primary keys (NULL
 * when none). */
static const char RELS_SQL[] =
    "SELECT n.nspname, c.relname, c.relkind::text, c.relpersistence::text,"
    " (SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
    "   WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnkeyatts = 1),"
    " (SELECT format_type(a.atttypid, NULL) || CASE WHEN EXISTS (SELECT 1 FROM pg_collation co"
    "   WHERE co.oid = a.attcollation AND NOT co.collisdeterministic) THEN ' nondeterministic' ELSE '' END"
    "   FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
    "   WHERE i.indrelid = c.oid AND i.indisprimary AND i.indnkeyatts = 1),"
    " EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relkind IN ('r','p','v','m','f','S') AND n.nspname NOT IN ('pg_catalog','information_schema')";

/* View -> relation it reads (direct; expanded transitively here). */
static const char VIEWS_SQL[] =
    "SELECT DISTINCT vn.nspname, v.relname, tn.nspname, t.relname FROM pg_rewrite r"
    " JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'"
    " JOIN pg_namespace vn ON vn.oid = v.relnamespace"
    " JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid"
    "  AND d.refclassid = 'pg_class'::regclass"
    " JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid"
    " JOIN pg_namespace tn ON tn.oid = t.relnamespace";

/* Parent -> child whose rows an action on the parent changes. */
static const char FKS_SQL[] =
    "SELECT DISTINCT pn.nspname, p.relname, cn.nspname, c.relname FROM pg_constraint k"
    " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace"
    " JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace"
    " WHERE k.contype = 'f' AND (k.confdeltype IN ('c','n','d') OR k.confupdtype IN ('c','n','d'))";

/* Partitions and inheritance: rows written through one are rows of the other. */
static const char INHERITS_SQL[] =
    "WITH i AS (SELECT pn.nspname AS ps, p.relname AS pr, cn.nspname AS cs, c.relname AS cr FROM pg_inherits h"
    " JOIN pg_class c ON c.oid = h.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace"
    " JOIN pg_class p ON p.oid = h.inhparent JOIN pg_namespace pn ON pn.oid = p.relnamespace)"
    " SELECT ps, pr, cs, cr FROM i UNION SELECT cs, cr, ps, pr FROM i";

/* Every function by exact (schema, name), and whether a cached read must not
 * call it: VOLATILE ones anywhere (PostgreSQL's own verdict, also for
 * built-ins the SQL analysis does not list), and STABLE ones outside
 * pg_catalog, which may read tables the statement does not name. A name with
 * any such overload counts. A function not listed is unknown: not cacheable
 * either. */
static const char FUNCS_SQL[] =
    "SELECT n.nspname, p.proname, bool_or(p.provolatile = 'v' OR (p.provolatile = 's'"
    " AND n.nspname NOT IN ('pg_catalog','information_schema')))::text"
    " FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace GROUP BY 1, 2";

/* ---- the relation map ------------------------------------------------------------
 * Keyed by exact (schema, name), never by a name re-split on dots. Each name
 * also has an entry with schema NULL that stands for every relation of that
 * name, with their facts merged, for statements that do not qualify it
 * (which of them the session's search_path picks is not known here). */

static bool same_schema(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

static size_t bucket_of(const cache_catalog *cat, const char *schema, const char *name)
{
    uint64_t h = alchdb__hash64(name, strlen(name), 7);
    if (schema)
        h = alchdb__hash64(schema, strlen(schema), h);
    return (size_t)(h % cat->nbuckets);
}

const rel_info *alchdb__catalog_rel(const cache_catalog *cat, const char *schema, const char *relname)
{
    if (!cat || !cat->nbuckets || !relname)
        return NULL;
    for (const rel_info *r = cat->buckets[bucket_of(cat, schema, relname)]; r; r = r->next)
        if (strcmp(r->name, relname) == 0 && same_schema(r->schema, schema))
            return r;
    return NULL;
}

static rel_info *rel_get(cache_catalog *cat, const char *schema, const char *name, bool *created)
{
    size_t b = bucket_of(cat, schema, name);
    for (rel_info *r = cat->buckets[b]; r; r = r->next)
        if (strcmp(r->name, name) == 0 && same_schema(r->schema, schema))
            return *created = false, r;
    rel_info *r = alchdb__calloc(1, sizeof *r);
    if (!r || !(r->name = alchdb__strdup(name)) || (schema && !(r->schema = alchdb__strdup(schema)))) {
        if (r)
            alchdb__free(r->name);
        alchdb__free(r);
        return NULL;
    }
    r->next = cat->buckets[b];
    cat->buckets[b] = r;
    *created = true;
    return r;
}

/* Add (schema, name) to a list of references unless it is there. */
static bool refs_add(rel_ref **list, size_t *n, const char *schema, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*list)[i].name, name) && same_schema((*list)[i].schema, schema))
            return true;
    rel_ref *grown = alchdb__realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return false;
    *list = grown;
    rel_ref r = {schema ? alchdb__strdup(schema) : NULL, alchdb__strdup(name)};
    if (!r.name || (schema && !r.schema)) {
        alchdb__free(r.schema);
        alchdb__free(r.name);
        return false;
    }
    grown[(*n)++] = r;
    return true;
}

static void refs_free(rel_ref *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        alchdb__free(list[i].schema);
        alchdb__free(list[i].name);
    }
    alchdb__free(list);
}

/* ---- functions ---------------------------------------------------------------------
 * An open-addressing set of (schema, name) -> "must not be cached", with an
 * entry of schema NULL per name for calls that do not qualify it (set when
 * any schema's function of that name must not be cached). */

static uint64_t func_hash(const char *schema, const char *name)
{
    uint64_t h = alchdb__hash64(name, strlen(name), 11);
    return schema ? alchdb__hash64(schema, strlen(schema), h) : h;
}

static cache_func *func_find(const cache_catalog *cat, const char *schema, const char *name)
{
    if (!cat->funcslot)
        return NULL;
    for (size_t h = (size_t)func_hash(schema, name);; h++) {
        uint32_t slot = cat->funcslot[h & cat->funcmask];
        if (!slot)
            return NULL;
        cache_func *f = &cat->funcs[slot - 1];
        if (!strcmp(f->name, name) && same_schema(f->schema, schema))
            return f;
    }
}

int alchdb__catalog_func(const cache_catalog *cat, const char *schema, const char *name)
{
    if (!cat || !name)
        return -1;
    const cache_func *f = func_find(cat, schema, name);
    return f ? f->no_cache : -1;
}

void alchdb__catalog_release(cache_catalog *cat)
{
    if (!cat || atomic_fetch_sub(&cat->refs, 1) != 1)
        return;
    for (size_t b = 0; b < cat->nbuckets; b++) {
        rel_info *r = cat->buckets[b];
        while (r) {
            rel_info *next = r->next;
            alchdb__free(r->schema);
            alchdb__free(r->name);
            alchdb__free(r->pk_col);
            refs_free(r->base, r->nbase);
            refs_free(r->child, r->nchild);
            alchdb__free(r);
            r = next;
        }
    }
    alchdb__free(cat->buckets);
    for (size_t i = 0; i < cat->nfuncs; i++) {
        alchdb__free(cat->funcs[i].schema);
        alchdb__free(cat->funcs[i].name);
    }
    alchdb__free(cat->funcs);
    alchdb__free(cat->funcslot);
    alchdb__free(cat);
}

/* ---- keys ----------------------------------------------------------------------- */

static int pk_class_of(const char *type)
{
    if (!strcmp(type, "integer") || !strcmp(type, "bigint") || !strcmp(type, "smallint"))
        return PK_INT;
    if (!strcmp(type, "text") || !strcmp(type, "character varying"))
        return PK_TEXT;
    if (!strcmp(type, "uuid"))
        return PK_UUID;
    return PK_NONE; /* numeric, bpchar, citext, nondeterministic collations: equality is not byte equality */
}

bool alchdb__catalog_canon_key(int pk_class, const char *v, char *buf, size_t cap)
{
    if (!v)
        return false;
    switch (pk_class) {
    case PK_INT: {
        /* PostgreSQL accepts surrounding blanks, a sign and leading zeros. */
        while (isspace((unsigned char)*v))
            v++;
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || errno)
            return false;
        while (isspace((unsigned char)*end))
            end++;
        if (*end)
            return false;
        return (size_t)snprintf(buf, cap, "%lld", x) < cap;
    }
    case PK_UUID: {
        /* Accepted spellings: upper/lower case, braces, hyphens between groups. */
        size_t n = 0;
        for (const char *p = v; *p; p++) {
            if (*p == '-' || *p == '{' || *p == '}')
                continue;
            if (!isxdigit((unsigned char)*p) || n + 1 >= cap || n >= 32)
                return false;
            buf[n++] = (char)tolower((unsigned char)*p);
        }
        buf[n] = '\0';
        return n == 32;
    }
    case PK_TEXT: {
        size_t n = strlen(v);
        if (n + 1 > cap)
            return false; /* too long for a row key: the table-level path is used */
        memcpy(buf, v, n + 1);
        return true;
    }
    default:
        return false;
    }
}

/* ---- loading -------------------------------------------------------------------- */

/* One catalog query, bounded by d (the call's deadline; none when 0). */
static PGresult *run(PGconn *pg, const char *sql, const alchdb__deadline *d)
{
    PGresult *r = NULL;
    int wrc = alchdb__pq_exec(pg, sql, d, &r);
    if (wrc) {
        alchdb__error(wrc, "cache catalog query %s", wrc == ALCHDB_E_TIMEOUT ? "timed out (the call's deadline)"
                                                     : wrc == ALCHDB_E_CANCELED ? "canceled" : "failed: poll()");
        return NULL;
    }
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        alchdb__pq_result_message(msg, sizeof msg, pg, r, false);
        alchdb__error(ALCHDB_E_QUERY, "cache catalog query failed: %s", msg);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* Fold a relation's key facts into an entry: the first relation sets the
 * key column; relations sharing an entry keep it only when they agree. */
static int merge_key(rel_info *ri, bool first, int cls, const char *col)
{
    if (first && cls != PK_NONE) {
        ri->pk_class = cls;
        return (ri->pk_col = alchdb__strdup(col)) ? 0 : alchdb__nomem("cache catalog");
    }
    if (!first && (cls != ri->pk_class || !ri->pk_col || !col || strcmp(ri->pk_col, col)))
        ri->pk_class = PK_NONE;
    return 0;
}

static int load_rels(PGconn *pg, cache_catalog *cat, const alchdb__deadline *d)
{
    PGresult *r = run(pg, RELS_SQL, d);
    if (!r)
        return ALCHDB_E_QUERY;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        bool created;
        rel_info *ri = rel_get(cat, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), &created);
        if (!ri) {
            rc = alchdb__nomem("cache catalog");
            break;
        }
        const char *kind = PQgetvalue(r, i, 2);
        int cls = PQgetisnull(r, i, 4) ? PK_NONE : pk_class_of(PQgetvalue(r, i, 5));
        ri->volatile_rel = strchr("fS", kind[0]) != NULL;
        ri->temp = PQgetvalue(r, i, 3)[0] == 't';
        ri->has_triggers = PQgetvalue(r, i, 6)[0] == 't';
        ri->is_view = kind[0] == 'v';
        rc = merge_key(ri, created, cls, PQgetvalue(r, i, 4));
    }
    PQclear(r);
    return rc;
}

/* (schema, name) -> (schema, name) pairs into the bases (views) or the
 * children (foreign keys, inheritance) of the first relation. */
static int load_pairs(PGconn *pg, cache_catalog *cat, const char *sql, bool views, const alchdb__deadline *d)
{
    PGresult *r = run(pg, sql, d);
    if (!r)
        return ALCHDB_E_QUERY;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        bool created;
        rel_info *ri = rel_get(cat, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), &created);
        bool ok = ri && (views ? refs_add(&ri->base, &ri->nbase, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3))
                               : refs_add(&ri->child, &ri->nchild, PQgetvalue(r, i, 2), PQgetvalue(r, i, 3)));
        if (!ok)
            rc = alchdb__nomem("cache catalog");
    }
    PQclear(r);
    return rc;
}

/* Views over views: add the bases of bases until nothing changes (bounded). */
static int expand_views(cache_catalog *cat)
{
    for (int round = 0; round < 16; round++) {
        bool grew = false;
        for (size_t b = 0; b < cat->nbuckets; b++) {
            for (rel_info *v = cat->buckets[b]; v; v = v->next) {
                for (size_t k = 0; k < v->nbase; k++) {
                    const rel_info *base = alchdb__catalog_rel(cat, v->base[k].schema, v->base[k].name);
                    for (size_t j = 0; base && j < base->nbase; j++) {
                        size_t before = v->nbase;
                        if (!refs_add(&v->base, &v->nbase, base->base[j].schema, base->base[j].name))
                            return alchdb__nomem("cache catalog");
                        grew |= v->nbase != before;
                    }
                }
            }
        }
        if (!grew)
            return 0;
    }
    return 0;
}

/* The entries of schema NULL: for each name, the facts of every relation of
 * that name merged (flags or-ed, bases and children united, a key column
 * only when all agree). */
static int add_any_schema_entries(cache_catalog *cat)
{
    size_t nb = cat->nbuckets;
    for (size_t b = 0; b < nb; b++) {
        for (rel_info *ri = cat->buckets[b]; ri; ri = ri->next) {
            if (!ri->schema)
                continue;
            bool created;
            rel_info *any = rel_get(cat, NULL, ri->name, &created);
            if (!any || merge_key(any, created, ri->pk_class, ri->pk_col) < 0)
                return alchdb__nomem("cache catalog");
            any->volatile_rel |= ri->volatile_rel;
            any->temp |= ri->temp;
            any->has_triggers |= ri->has_triggers;
            any->is_view |= ri->is_view;
            for (size_t k = 0; k < ri->nbase; k++)
                if (!refs_add(&any->base, &any->nbase, ri->base[k].schema, ri->base[k].name))
                    return alchdb__nomem("cache catalog");
            for (size_t k = 0; k < ri->nchild; k++)
                if (!refs_add(&any->child, &any->nchild, ri->child[k].schema, ri->child[k].name))
                    return alchdb__nomem("cache catalog");
        }
    }
    return 0;
}

static bool func_insert(cache_catalog *cat, const char *schema, const char *name, bool no_cache)
{
    cache_func *f = func_find(cat, schema, name);
    if (f) {
        f->no_cache |= no_cache;
        return true;
    }
    cache_func nf = {schema ? alchdb__strdup(schema) : NULL, alchdb__strdup(name), no_cache};
    if (!nf.name || (schema && !nf.schema)) {
        alchdb__free(nf.schema);
        alchdb__free(nf.name);
        return false;
    }
    cat->funcs[cat->nfuncs++] = nf;
    size_t h = (size_t)func_hash(schema, name);
    while (cat->funcslot[h & cat->funcmask])
        h++;
    cat->funcslot[h & cat->funcmask] = (uint32_t)cat->nfuncs;
    return true;
}

static int load_funcs(PGconn *pg, cache_catalog *cat, const alchdb__deadline *d)
{
    PGresult *r = run(pg, FUNCS_SQL, d);
    if (!r)
        return ALCHDB_E_QUERY;
    /* Each row is an exact entry and may add a schema-less one: at most 2n
     * entries in a set kept at most half full. */
    size_t n = (size_t)PQntuples(r), cap = 16;
    while (cap < 4 * n)
        cap *= 2;
    int rc = 0;
    cat->funcs = alchdb__calloc(2 * n + 1, sizeof *cat->funcs);
    cat->funcslot = alchdb__calloc(cap, sizeof *cat->funcslot);
    if (!cat->funcs || !cat->funcslot)
        rc = alchdb__nomem("cache catalog");
    cat->funcmask = cap - 1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *schema = PQgetvalue(r, (int)i, 0), *name = PQgetvalue(r, (int)i, 1);
        bool no_cache = PQgetvalue(r, (int)i, 2)[0] == 't';
        if (!func_insert(cat, schema, name, no_cache) || !func_insert(cat, NULL, name, no_cache))
            rc = alchdb__nomem("cache catalog");
    }
    PQclear(r);
    return rc;
}

static int load_identity(PGconn *pg, const char *scope, uint8_t identity[16], const alchdb__deadline *d)
{
    PGresult *r = run(pg, IDENTITY_SQL, d);
    if (!r)
        return ALCHDB_E_QUERY;
    static const uint8_t k[16] = "alchdb-identity";
    alchdb__sip128 s;
    alchdb__sip128_init(&s, k);
    for (int j = 0; j < PQnfields(r); j++)
        alchdb__sip128_field(&s, PQgetvalue(r, 0, j), (size_t)PQgetlength(r, 0, j));
    if (scope)
        alchdb__sip128_field(&s, scope, strlen(scope));
    else
        alchdb__sip128_null(&s);
    alchdb__sip128_final(&s, identity);
    PQclear(r);
    return 0;
}

int alchdb__catalog_load(alchdb_pool *pool, const char *scope, int64_t deadline_ns, uint8_t identity[16],
                         cache_catalog **out)
{
    *out = NULL;
    alchdb_conn *conn;
    alchdb__deadline d = {.at_ns = deadline_ns};
    int rc = alchdb__pool_acquire_ex(pool, alchdb__now_ns(), deadline_ns, NULL, "cache:catalog", &conn);
    if (rc)
        return rc;
    cache_catalog *cat = alchdb__calloc(1, sizeof *cat);
    if (!cat || !(cat->buckets = alchdb__calloc(cat->nbuckets = 1024, sizeof *cat->buckets))) {
        alchdb__free(cat);
        alchdb__pool_release(pool, conn);
        return alchdb__nomem("cache catalog");
    }
    atomic_init(&cat->refs, 1);
    PGconn *pg = conn->slot->pg;
    rc = load_identity(pg, scope, identity, &d);
    if (!rc)
        rc = load_rels(pg, cat, &d);
    if (!rc)
        rc = load_pairs(pg, cat, VIEWS_SQL, true, &d);
    if (!rc)
        rc = load_pairs(pg, cat, FKS_SQL, false, &d);
    if (!rc)
        rc = load_pairs(pg, cat, INHERITS_SQL, false, &d);
    if (!rc)
        rc = load_funcs(pg, cat, &d);
    if (!rc)
        rc = expand_views(cat);
    if (!rc)
        rc = add_any_schema_entries(cat);
    if ((rc == ALCHDB_E_QUERY && PQstatus(pg) != CONNECTION_OK) || PQtransactionStatus(pg) == PQTRANS_ACTIVE)
        alchdb_conn_mark_broken(conn); /* lost, or a query cut short by the deadline still running */
    alchdb__pool_release(pool, conn);
    if (rc) {
        alchdb__catalog_release(cat);
        return rc;
    }
    cat->loaded_ns = alchdb__now_ns();
    *out = cat;
    return 0;
}
