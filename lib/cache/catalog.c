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

/* Relations and their single-column primary keys (NULL when none). */
static const char RELS_SQL[] =
    "SELECT c.relname, c.relkind::text, c.relpersistence::text,"
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
    "SELECT DISTINCT v.relname, t.relname FROM pg_rewrite r"
    " JOIN pg_class v ON v.oid = r.ev_class AND v.relkind = 'v'"
    " JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid"
    "  AND d.refclassid = 'pg_class'::regclass"
    " JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid";

/* Parent -> child whose rows an action on the parent changes. */
static const char FKS_SQL[] =
    "SELECT DISTINCT p.relname, c.relname FROM pg_constraint k"
    " JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid"
    " WHERE k.contype = 'f' AND (k.confdeltype IN ('c','n','d') OR k.confupdtype IN ('c','n','d'))";

/* Partitions and inheritance: rows written through one are rows of the other. */
static const char INHERITS_SQL[] =
    "SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " JOIN pg_class p ON p.oid = i.inhparent"
    " UNION SELECT c.relname, p.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " JOIN pg_class p ON p.oid = i.inhparent";

/* Functions a cached read must not call: VOLATILE ones anywhere (PostgreSQL's
 * own verdict, also for built-ins the SQL analysis does not list), and STABLE
 * ones outside pg_catalog, which may read tables the statement does not name.
 * Names with any such overload count. */
static const char FUNCS_SQL[] =
    "SELECT DISTINCT lower(p.proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
    " WHERE p.provolatile = 'v' OR (p.provolatile = 's' AND n.nspname NOT IN ('pg_catalog','information_schema'))";

/* ---- the relation map ------------------------------------------------------------ */

static size_t bucket_of(const cache_catalog *cat, const char *name)
{
    return (size_t)(alchdb__hash64(name, strlen(name), 7) % cat->nbuckets);
}

const rel_info *alchdb__catalog_rel(const cache_catalog *cat, const char *relname)
{
    if (!cat || !cat->nbuckets)
        return NULL;
    for (const rel_info *r = cat->buckets[bucket_of(cat, relname)]; r; r = r->next)
        if (strcmp(r->name, relname) == 0)
            return r;
    return NULL;
}

static rel_info *rel_get(cache_catalog *cat, const char *name, bool *created)
{
    size_t b = bucket_of(cat, name);
    for (rel_info *r = cat->buckets[b]; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return *created = false, r;
    rel_info *r = alchdb__calloc(1, sizeof *r);
    if (!r || !(r->name = alchdb__strdup(name))) {
        alchdb__free(r);
        return NULL;
    }
    r->next = cat->buckets[b];
    cat->buckets[b] = r;
    *created = true;
    return r;
}

static bool names_add_str(char ***list, size_t *n, const char *s)
{
    return alchdb__names_add(list, n, s, strlen(s));
}

bool alchdb__catalog_volatile_func(const cache_catalog *cat, const char *name)
{
    if (!cat || !cat->funcslot)
        return false;
    for (size_t h = (size_t)alchdb__hash64(name, strlen(name), 11);; h++) {
        uint32_t slot = cat->funcslot[h & cat->funcmask];
        if (!slot)
            return false;
        if (strcmp(cat->funcs[slot - 1], name) == 0)
            return true;
    }
}

void alchdb__catalog_release(cache_catalog *cat)
{
    if (!cat || atomic_fetch_sub(&cat->refs, 1) != 1)
        return;
    for (size_t b = 0; b < cat->nbuckets; b++) {
        rel_info *r = cat->buckets[b];
        while (r) {
            rel_info *next = r->next;
            alchdb__free(r->name);
            alchdb__free(r->pk_col);
            alchdb__names_free(r->base, r->nbase);
            alchdb__names_free(r->child, r->nchild);
            alchdb__free(r);
            r = next;
        }
    }
    alchdb__free(cat->buckets);
    alchdb__names_free(cat->funcs, cat->nfuncs);
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

static PGresult *run(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        alchdb__pq_result_message(msg, sizeof msg, pg, r, false);
        alchdb__error(ALCHDB_E_QUERY, "cache catalog query failed: %s", msg);
        PQclear(r);
        return NULL;
    }
    return r;
}

static int load_rels(PGconn *pg, cache_catalog *cat)
{
    PGresult *r = run(pg, RELS_SQL);
    if (!r)
        return ALCHDB_E_QUERY;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        bool created;
        rel_info *ri = rel_get(cat, PQgetvalue(r, i, 0), &created);
        if (!ri) {
            rc = alchdb__nomem("cache catalog");
            break;
        }
        const char *kind = PQgetvalue(r, i, 1);
        int cls = PQgetisnull(r, i, 3) ? PK_NONE : pk_class_of(PQgetvalue(r, i, 4));
        ri->volatile_rel |= strchr("fS", kind[0]) != NULL;
        ri->temp |= PQgetvalue(r, i, 2)[0] == 't';
        ri->has_triggers |= PQgetvalue(r, i, 5)[0] == 't';
        ri->is_view |= kind[0] == 'v';
        /* Same-named relations in several schemas share version keys; they
         * may share a key column only when they agree on it. */
        if (created && cls != PK_NONE) {
            ri->pk_class = cls;
            if (!(ri->pk_col = alchdb__strdup(PQgetvalue(r, i, 3))))
                rc = alchdb__nomem("cache catalog");
        } else if (!created && (cls != ri->pk_class || !ri->pk_col || strcmp(ri->pk_col, PQgetvalue(r, i, 3)))) {
            ri->pk_class = PK_NONE;
        }
    }
    PQclear(r);
    return rc;
}

static int load_pairs(PGconn *pg, cache_catalog *cat, const char *sql, bool views)
{
    PGresult *r = run(pg, sql);
    if (!r)
        return ALCHDB_E_QUERY;
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
        bool created;
        rel_info *ri = rel_get(cat, PQgetvalue(r, i, 0), &created);
        bool ok = ri && (views ? names_add_str(&ri->base, &ri->nbase, PQgetvalue(r, i, 1))
                               : names_add_str(&ri->child, &ri->nchild, PQgetvalue(r, i, 1)));
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
                    const rel_info *base = alchdb__catalog_rel(cat, v->base[k]);
                    for (size_t j = 0; base && j < base->nbase; j++) {
                        size_t before = v->nbase;
                        if (!names_add_str(&v->base, &v->nbase, base->base[j]))
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

static int load_funcs(PGconn *pg, cache_catalog *cat)
{
    PGresult *r = run(pg, FUNCS_SQL);
    if (!r)
        return ALCHDB_E_QUERY;
    size_t n = (size_t)PQntuples(r), cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    int rc = 0;
    cat->funcs = alchdb__calloc(n ? n : 1, sizeof *cat->funcs);
    cat->funcslot = alchdb__calloc(cap, sizeof *cat->funcslot);
    if (!cat->funcs || !cat->funcslot)
        rc = alchdb__nomem("cache catalog");
    cat->funcmask = cap - 1;
    /* DISTINCT names: no duplicate check; the set is at most half full. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *name = PQgetvalue(r, (int)i, 0);
        if (!(cat->funcs[i] = alchdb__strdup(name))) {
            rc = alchdb__nomem("cache catalog");
            break;
        }
        cat->nfuncs = i + 1;
        size_t h = (size_t)alchdb__hash64(name, strlen(name), 11);
        while (cat->funcslot[h & cat->funcmask])
            h++;
        cat->funcslot[h & cat->funcmask] = (uint32_t)(i + 1);
    }
    PQclear(r);
    return rc;
}

static int load_identity(PGconn *pg, const char *scope, uint8_t identity[16])
{
    PGresult *r = run(pg, IDENTITY_SQL);
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

int alchdb__catalog_load(alchdb_pool *pool, const char *scope, uint8_t identity[16], cache_catalog **out)
{
    *out = NULL;
    alchdb_conn *conn;
    int rc = alchdb__pool_acquire(pool, -1, "cache:catalog", &conn);
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
    rc = load_identity(pg, scope, identity);
    if (!rc)
        rc = load_rels(pg, cat);
    if (!rc)
        rc = load_pairs(pg, cat, VIEWS_SQL, true);
    if (!rc)
        rc = load_pairs(pg, cat, FKS_SQL, false);
    if (!rc)
        rc = load_pairs(pg, cat, INHERITS_SQL, false);
    if (!rc)
        rc = load_funcs(pg, cat);
    if (!rc)
        rc = expand_views(cat);
    if (rc == ALCHDB_E_QUERY && PQstatus(pg) != CONNECTION_OK)
        alchdb_conn_mark_broken(conn);
    alchdb__pool_release(pool, conn);
    if (rc) {
        alchdb__catalog_release(cat);
        return rc;
    }
    cat->loaded_ns = alchdb__now_ns();
    *out = cat;
    return 0;
}
