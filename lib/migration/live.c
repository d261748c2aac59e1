/* Live mode: table sizes, column types and lock-queue risks read from the
 * target database, so classes become estimated durations. All values are
 * passed as parameters; relation names go through to_regclass() with each part
 * quoted, and come back as (schema, name) turned into keys here. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"
#include "pqconn.h"
#include "sql/tree.h"

typedef struct mig_live {
    PGconn *conn;
    int tz_utc; /* the session's TimeZone: 1 UTC, -1 another zone, 0 unknown */
} mig_live;

/* The zone names PostgreSQL 15 treats as UTC (offset zero, no daylight
 * saving): with one of these, timestamp → timestamptz needs no rewrite. */
static bool zone_is_utc(const char *z)
{
    static const char *const utc[] = {"UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich",
                                      "Zulu", "Universal", "Z", NULL};
    if (!strncasecmp(z, "Etc/", 4))
        z += 4;
    for (int i = 0; utc[i]; i++)
        if (!strcasecmp(z, utc[i]))
            return true;
    return false;
}

int alchdb__mig_live_open(alchdb_migration *m)
{
    PGconn *conn = NULL;
    int rc = alchdb__pq_connect_default(m->opts.conninfo, "migration", "migration live mode: cannot connect", &conn);
    if (rc < 0)
        return rc;
    mig_live *l = alchdb__malloc(sizeof *l);
    if (!l) {
        PQfinish(conn);
        return alchdb__nomem("migration live mode");
    }
    l->conn = conn;
    const char *tz = PQparameterStatus(conn, "TimeZone"); /* reported by the server at connect */
    l->tz_utc = tz ? (zone_is_utc(tz) ? 1 : -1) : 0;
    m->live = l;
    return 0;
}

void alchdb__mig_live_close(alchdb_migration *m)
{
    mig_live *l = m->live;
    if (!l)
        return;
    PQfinish(l->conn);
    alchdb__free(l);
    m->live = NULL;
}

/* A relation key (names.c) → the text to_regclass() reads: each part
 * double-quoted where quote_ident would (control characters are plain bytes
 * inside a quoted identifier there). */
static char *regclass_text(const char *rel)
{
    mig_rel r;
    if (!alchdb__mig_rel_parse(rel, &r))
        return NULL;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sql_quote_qualified(&sb, NULL, r.schema, r.name);
    alchdb__mig_rel_free(&r);
    return alchdb__sb_finish(&sb);
}

/* Row i's relation (columns col: schema, col + 1: name) as a key. */
static char *key_of(PGresult *r, int i, int col)
{
    const char *nsp = PQgetvalue(r, i, col);
    char key[ALCHDB_MIG_REL_CAP];
    alchdb__mig_rel_key(key, sizeof key, strcmp(nsp, "public") ? nsp : NULL, PQgetvalue(r, i, col + 1));
    return alchdb__strdup(key);
}

/* The relations of r (columns 0, 1: schema, name) as owned keys, at most
 * cap; clears r. */
static size_t keys_of(PGresult *r, char **out, size_t cap)
{
    size_t n = 0;
    for (int i = 0; r && i < PQntuples(r) && n < cap; i++) {
        out[n] = key_of(r, i, 0);
        if (out[n])
            n++;
    }
    PQclear(r);
    return n;
}

static PGresult *query(mig_live *l, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(l->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        alchdb__pq_result_message(msg, sizeof msg, l->conn, r, false);
        alchdb__log(ALCHDB_LOG_WARN, "migration", "live query failed: %s", msg);
        PQclear(r);
        return NULL;
    }
    return r;
}

/* A catalog query about one relation as written: $1 is its quoted name (for
 * to_regclass), $2 an optional second text parameter. NULL when there is no
 * live connection or the query failed. */
static PGresult *rel_query(alchdb_migration *m, const char *sql, const char *relation, const char *second)
{
    mig_live *l = m->live;
    if (!l)
        return NULL;
    char *rc = regclass_text(relation);
    if (!rc)
        return NULL;
    const char *p[2] = {rc, second};
    PGresult *r = query(l, sql, strstr(sql, "$2") ? 2 : 1, p);
    alchdb__free(rc);
    return r;
}

bool alchdb__mig_live_size(alchdb_migration *m, const char *relation, int64_t *bytes, double *rows)
{
    PGresult *r = rel_query(m,
                        "SELECT greatest(c.reltuples, 0)::float8, pg_total_relation_size(c.oid)::int8 "
                        "FROM pg_class c WHERE c.oid = to_regclass($1)",
                        relation, NULL);
    bool ok = r && PQntuples(r) == 1;
    if (ok) {
        *rows = strtod(PQgetvalue(r, 0, 0), NULL);
        *bytes = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    }
    PQclear(r);
    return ok;
}

char *alchdb__mig_live_blockers(alchdb_migration *m, const char *relation)
{
    PGresult *r = rel_query(m,
                        "SELECT string_agg(format('pid %s (%s, %s s)', a.pid, a.state, "
                        "round(extract(epoch FROM now() - coalesce(a.xact_start, a.query_start)))), '; ') "
                        "FROM pg_locks lk JOIN pg_stat_activity a ON a.pid = lk.pid "
                        "WHERE lk.relation = to_regclass($1) AND a.pid <> pg_backend_pid() "
                        "AND (a.state = 'idle in transaction' "
                        "OR now() - coalesce(a.xact_start, a.query_start) > interval '5 seconds')",
                        relation, NULL);
    char *out = NULL;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        out = alchdb__strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

bool alchdb__mig_live_column_type(alchdb_migration *m, const char *relation, const char *column, mig_type *out)
{
    PGresult *r = rel_query(m,
                        "SELECT CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN e.typname ELSE t.typname END, "
                        "a.atttypmod, (t.typelem <> 0 AND t.typlen = -1), format_type(a.atttypid, a.atttypmod) "
                        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
                        "LEFT JOIN pg_type e ON e.oid = t.typelem "
                        "WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped",
                        relation, column);
    bool ok = r && PQntuples(r) == 1;
    if (ok) {
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", PQgetvalue(r, 0, 0));
        long mod = strtol(PQgetvalue(r, 0, 1), NULL, 10);
        out->is_array = PQgetvalue(r, 0, 2)[0] == 't';
        snprintf(out->sql, sizeof out->sql, "%s", PQgetvalue(r, 0, 3));
        if (mod >= 0) {
            if (!strcmp(out->name, "numeric")) {
                out->mods[0] = (int32_t)(((mod - 4) >> 16) & 0xffff);
                out->mods[1] = (int32_t)((mod - 4) & 0xffff);
                out->nmods = 2;
            } else if (!strcmp(out->name, "varchar") || !strcmp(out->name, "bpchar")) {
                out->mods[0] = (int32_t)(mod - 4);
                out->nmods = 1;
            } else {
                out->mods[0] = (int32_t)mod;
                out->nmods = 1;
            }
        }
    }
    PQclear(r);
    return ok;
}

char *alchdb__mig_live_index_table(alchdb_migration *m, const char *index)
{
    PGresult *r = rel_query(m,
                        "SELECT n.nspname, c.relname "
                        "FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE i.indexrelid = to_regclass($1)",
                        index, NULL);
    char *out = NULL;
    if (r && PQntuples(r) == 1)
        out = key_of(r, 0, 0);
    PQclear(r);
    return out;
}

size_t alchdb__mig_live_fk_rels(alchdb_migration *m, const char *table, const char *conname, bool incoming,
                                char **out, size_t cap)
{
    if (!cap)
        return 0;
    PGresult *r = rel_query(m,
                        incoming ? "SELECT DISTINCT n.nspname, c.relname "
                                   "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
                                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                   "WHERE k.contype = 'f' AND k.confrelid = to_regclass($1) "
                                   "AND k.conrelid <> k.confrelid AND ($2::text IS NULL OR k.conname = $2)"
                                 : "SELECT DISTINCT n.nspname, c.relname "
                                   "FROM pg_constraint k JOIN pg_class c ON c.oid = k.confrelid "
                                   "JOIN pg_namespace n ON n.oid = c.relnamespace "
                                   "WHERE k.contype = 'f' AND k.conrelid = to_regclass($1) "
                                   "AND k.conrelid <> k.confrelid AND ($2::text IS NULL OR k.conname = $2)",
                        table, conname);
    return keys_of(r, out, cap);
}

/* PostgreSQL 15 checks a domain constraint (ADD CONSTRAINT without NOT VALID,
 * SET NOT NULL, VALIDATE CONSTRAINT) on every column of the domain or of a
 * domain over it, in every table and materialized view that stores rows
 * (leaf partitions, not their partitioned parents), under SHARE. */
size_t alchdb__mig_live_domain_tables(alchdb_migration *m, const char *domain, char **out, size_t cap)
{
    if (!cap)
        return 0;
    PGresult *r = rel_query(m,
                        "WITH RECURSIVE d(oid) AS (SELECT t.oid FROM pg_type t WHERE t.oid = to_regtype($1) "
                        "AND t.typtype = 'd' UNION SELECT t.oid FROM pg_type t JOIN d ON t.typbasetype = d.oid "
                        "WHERE t.typtype = 'd') "
                        "SELECT DISTINCT n.nspname, c.relname FROM pg_attribute a "
                        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE a.atttypid IN (SELECT oid FROM d) AND a.attnum > 0 AND NOT a.attisdropped "
                        "AND c.relkind IN ('r', 'm') ORDER BY 1, 2",
                        domain, NULL);
    return keys_of(r, out, cap);
}

int alchdb__mig_live_timezone_utc(alchdb_migration *m)
{
    mig_live *l = m->live;
    return l ? l->tz_utc : 0;
}

char *alchdb__mig_live_column_dependents(alchdb_migration *m, const char *relation, const char *column)
{
    PGresult *r = rel_query(m,
                        "SELECT string_agg(DISTINCT format('%s %s', CASE WHEN c.relkind = 'm' THEN "
                        "'materialized view' WHEN c.relkind = 'v' THEN 'view' ELSE 'rule on' END, "
                        "c.oid::regclass), ', ') "
                        "FROM pg_depend d JOIN pg_rewrite w ON w.oid = d.objid "
                        "JOIN pg_class c ON c.oid = w.ev_class "
                        "JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid "
                        "WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass "
                        "AND d.refobjid = to_regclass($1) AND a.attname = $2 AND w.ev_class <> d.refobjid",
                        relation, column);
    char *out = NULL;
    if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
        out = alchdb__strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}
