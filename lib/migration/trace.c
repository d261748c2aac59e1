/* Trace mode: run a migration against a scratch database and compare the
 * static assessment with what PostgreSQL actually did (pg_locks, file nodes). */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "pqconn.h"

/* PostgreSQL's first OID for user objects: everything below is a system catalog. */
#define FIRST_NORMAL_OID 16384

typedef struct rel_snap {
    int64_t oid;
    int64_t filenode;
    char relkind;
    char name[ALCHDB_MIG_REL_CAP]; /* its key (names.c), no schema when in public */
} rel_snap;

typedef struct snap {
    rel_snap *r;
    size_t n;
} snap;

typedef struct obs_lock {
    char name[ALCHDB_MIG_REL_CAP];
    int mode;
    char relkind;
    bool existed; /* the relation existed before the statement */
    bool granted;
} obs_lock;

typedef struct obs {
    obs_lock l[64];
    size_t n;
} obs;

static int mode_from_pg(const char *m)
{
    static const char *const names[] = {"", "AccessShareLock", "RowShareLock", "RowExclusiveLock",
                                        "ShareUpdateExclusiveLock", "ShareLock", "ShareRowExclusiveLock",
                                        "ExclusiveLock", "AccessExclusiveLock"};
    for (int i = 1; i <= 8; i++)
        if (!strcmp(m, names[i]))
            return i;
    return 0;
}

static const char *unq(const char *rel) { return strncmp(rel, "public.", 7) == 0 ? rel + 7 : rel; }

static int take_snap(PGconn *c, snap *s)
{
    PGresult *r = PQexec(c, "SELECT c.oid::int8, c.relfilenode::int8, c.relkind, "
                            "n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                            "WHERE c.oid >= 16384 AND n.nspname NOT IN ('pg_toast', 'information_schema') "
                            "AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        alchdb__pq_result_message(msg, sizeof msg, c, r, false);
        int rc = alchdb__error(ALCHDB_E_QUERY, "trace: reading pg_class failed: %s", msg);
        PQclear(r);
        return rc;
    }
    size_t n = (size_t)PQntuples(r);
    s->r = alchdb__calloc(n ? n : 1, sizeof *s->r);
    if (!s->r) {
        PQclear(r);
        return alchdb__nomem("trace snapshot");
    }
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        s->r[i].oid = strtoll(PQgetvalue(r, (int)i, 0), NULL, 10);
        s->r[i].filenode = strtoll(PQgetvalue(r, (int)i, 1), NULL, 10);
        s->r[i].relkind = PQgetvalue(r, (int)i, 2)[0];
        const char *nsp = PQgetvalue(r, (int)i, 3);
        alchdb__mig_rel_key(s->r[i].name, sizeof s->r[i].name, strcmp(nsp, "public") ? nsp : NULL,
                            PQgetvalue(r, (int)i, 4));
    }
    PQclear(r);
    return 0;
}

static const rel_snap *snap_find(const snap *s, int64_t oid)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->r[i].oid == oid)
            return &s->r[i];
    return NULL;
}

static const rel_snap *snap_find_name(const snap *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(unq(s->r[i].name), unq(name)))
            return &s->r[i];
    return NULL;
}

/* Locks of backend pid (or of our own backend when pid == 0). */
static int read_locks(PGconn *c, int pid, const snap *before, obs *o)
{
    char pidbuf[32];
    snprintf(pidbuf, sizeof pidbuf, "%d", pid);
    const char *p[1] = {pidbuf};
    PGresult *r = PQexecParams(c,
                               "SELECT l.relation::int8, l.mode, l.granted, coalesce(c.relkind::text, ''), "
                               "n.nspname, c.relname "
                               "FROM pg_locks l LEFT JOIN pg_class c ON c.oid = l.relation "
                               "LEFT JOIN pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE l.locktype = 'relation' AND l.relation >= 16384 "
                               "AND l.pid = CASE WHEN $1::int = 0 THEN pg_backend_pid() ELSE $1::int END",
                               1, NULL, p, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        char msg[512];
        alchdb__pq_result_message(msg, sizeof msg, c, r, false);
        int rc = alchdb__error(ALCHDB_E_QUERY, "trace: reading pg_locks failed: %s", msg);
        PQclear(r);
        return rc;
    }
    o->n = 0;
    for (int i = 0; i < PQntuples(r) && o->n < sizeof o->l / sizeof o->l[0]; i++) {
        int64_t oid = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        const rel_snap *was = snap_find(before, oid);
        obs_lock *ol = &o->l[o->n];
        /* Existing relations keep the name they had before the statement (it
         * may have renamed or dropped them); new ones use the current name. */
        if (!was && PQgetisnull(r, i, 5))
            continue;
        if (!was && !strncmp(PQgetvalue(r, i, 4), "pg_toast", 8)) /* pg_toast, pg_toast_temp_N */
            continue;
        if (was) {
            snprintf(ol->name, sizeof ol->name, "%s", was->name);
        } else {
            const char *nsp = PQgetvalue(r, i, 4);
            alchdb__mig_rel_key(ol->name, sizeof ol->name, strcmp(nsp, "public") ? nsp : NULL, PQgetvalue(r, i, 5));
        }
        ol->mode = mode_from_pg(PQgetvalue(r, i, 1));
        ol->granted = PQgetvalue(r, i, 2)[0] == 't';
        ol->relkind = PQgetvalue(r, i, 3)[0] ? PQgetvalue(r, i, 3)[0] : (was ? was->relkind : '?');
        ol->existed = was != NULL;
        /* keep the strongest mode per relation */
        bool merged = false;
        for (size_t k = 0; k < o->n; k++)
            if (!strcmp(o->l[k].name, ol->name)) {
                if (ol->mode > o->l[k].mode)
                    o->l[k].mode = ol->mode;
                o->l[k].granted = o->l[k].granted && ol->granted;
                merged = true;
                break;
            }
        if (!merged)
            o->n++;
    }
    PQclear(r);
    return 0;
}

static bool exec_ok(PGconn *c, const char *sql, char *err, size_t errcap)
{
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
    if (!ok && err)
        alchdb__pq_result_message(err, errcap, c, r, false);
    PQclear(r);
    return ok;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The weakest lock mode that conflicts with `mode` (PostgreSQL's conflict table). */
static const char *weakest_conflicting(int mode)
{
    switch (mode) {
    case ALCHDB_LOCK_ACCESS_EXCLUSIVE: return "ACCESS SHARE";
    case ALCHDB_LOCK_EXCLUSIVE: return "ROW SHARE";
    case ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE:
    case ALCHDB_LOCK_SHARE: return "ROW EXCLUSIVE";
    case ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE: return "SHARE UPDATE EXCLUSIVE";
    case ALCHDB_LOCK_ROW_EXCLUSIVE: return "SHARE";
    case ALCHDB_LOCK_ROW_SHARE: return "EXCLUSIVE";
    default: return "ACCESS EXCLUSIVE";
    }
}

static bool is_table_kind(char k) { return k == 'r' || k == 'p' || k == 'm'; }

typedef struct trace_out {
    alchdb__strbuf sb;
    size_t agreed, disagreed, not_compared;
    bool first_dis;
} trace_out;

static void disagree(trace_out *t, const char *fmt, ...) ALCHDB_PRINTF(2, 3);
static void disagree(trace_out *t, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    alchdb__sb_puts(&t->sb, t->first_dis ? "" : ",");
    alchdb__sb_json_str(&t->sb, buf);
    t->first_dis = false;
}

static void render_locks(alchdb__strbuf *sb, const obs *o)
{
    alchdb__sb_puts(sb, "[");
    for (size_t i = 0; i < o->n; i++) {
        alchdb__sb_puts(sb, i ? ",{\"relation\":" : "{\"relation\":");
        alchdb__sb_json_str(sb, o->l[i].name);
        alchdb__sb_printf(sb, ",\"mode\":\"%s\",\"granted\":%s,\"existed\":%s}", alchdb_lock_mode_name(o->l[i].mode),
                          o->l[i].granted ? "true" : "false", o->l[i].existed ? "true" : "false");
    }
    alchdb__sb_puts(sb, "]");
}

/* Compare one statement. waited: only the lock the statement queued for is
 * known (non-transactional statements). */
static void compare(trace_out *t, const mig_stmt *st, const obs *o, bool waited, bool never_queued, bool rewrote)
{
    alchdb__sb_puts(&t->sb, ",\"disagreements\":[");
    t->first_dis = true;
    bool any = false;
    if (waited) {
        for (size_t i = 0; i < o->n; i++) {
            if (o->l[i].granted || !o->l[i].existed)
                continue;
            bool found = false;
            for (size_t k = 0; k < st->nlocks; k++)
                if (!strcmp(unq(st->locks[k].relation), unq(o->l[i].name))) {
                    found = true;
                    if (st->locks[k].mode != o->l[i].mode) {
                        disagree(t, "%s: static %s, PostgreSQL requested %s", o->l[i].name,
                                 alchdb_lock_mode_name(st->locks[k].mode), alchdb_lock_mode_name(o->l[i].mode));
                        any = true;
                    }
                }
            if (!found) {
                disagree(t, "PostgreSQL requested %s on %s, which the static assessment does not list",
                         alchdb_lock_mode_name(o->l[i].mode), o->l[i].name);
                any = true;
            }
        }
    } else {
        for (size_t k = 0; k < st->nlocks; k++) {
            if (!st->locks[k].existing)
                continue;
            const obs_lock *hit = NULL;
            for (size_t i = 0; i < o->n; i++)
                if (!strcmp(unq(st->locks[k].relation), unq(o->l[i].name)))
                    hit = &o->l[i];
            if (!hit || !hit->existed)
                continue; /* created by this file earlier: nothing to compare */
            if (hit->mode != st->locks[k].mode) {
                disagree(t, "%s: static %s, PostgreSQL took %s", st->locks[k].relation,
                         alchdb_lock_mode_name(st->locks[k].mode), alchdb_lock_mode_name(hit->mode));
                any = true;
            }
        }
        for (size_t i = 0; i < o->n; i++) {
            const obs_lock *ol = &o->l[i];
            if (!ol->existed || !is_table_kind(ol->relkind) || ol->mode <= ALCHDB_LOCK_ACCESS_SHARE)
                continue;
            bool listed = false;
            for (size_t k = 0; k < st->nlocks; k++)
                if (!strcmp(unq(st->locks[k].relation), unq(ol->name)))
                    listed = true;
            if (!listed) {
                disagree(t, "PostgreSQL took %s on %s, which the static assessment does not list",
                         alchdb_lock_mode_name(ol->mode), ol->name);
                any = true;
            }
        }
    }
    if (never_queued) {
        disagree(t, "PostgreSQL never queued behind the blocker: it takes a weaker lock than the static assessment "
                    "claims");
        any = true;
    }
    /* TRUNCATE gives the table a new, empty file: not a rewrite of its rows. */
    if (rewrote && st->swaps_file)
        rewrote = false;
    if (rewrote != !!(st->flags & ALCHDB_MIG_REWRITES_TABLE)) {
        disagree(t, "rewrite: static says %s, PostgreSQL %s", (st->flags & ALCHDB_MIG_REWRITES_TABLE) ? "yes" : "no",
                 rewrote ? "rewrote the table" : "did not rewrite it");
        any = true;
    }
    alchdb__sb_puts(&t->sb, "]");
    alchdb__sb_printf(&t->sb, ",\"compared\":true,\"agree\":%s", any ? "false" : "true");
    if (any)
        t->disagreed++;
    else
        t->agreed++;
}

static bool rewrote_any(const snap *before, const snap *after)
{
    for (size_t i = 0; i < before->n; i++) {
        if (!is_table_kind(before->r[i].relkind) || before->r[i].relkind == 'p')
            continue;
        const rel_snap *a = snap_find(after, before->r[i].oid);
        if (a && a->filenode != before->r[i].filenode)
            return true;
    }
    return false;
}

static int trace_stmt(PGconn *a, PGconn *b, const mig_stmt *st, size_t idx, trace_out *t)
{
    alchdb__sb_printf(&t->sb, "%s{\"index\":%zu,\"sql\":", idx ? "," : "", idx);
    alchdb__sb_json_str(&t->sb, st->sql);
    alchdb__sb_puts(&t->sb, ",\"static\":{\"locks\":[");
    for (size_t k = 0; k < st->nlocks; k++) {
        alchdb__sb_puts(&t->sb, k ? ",{\"relation\":" : "{\"relation\":");
        alchdb__sb_json_str(&t->sb, st->locks[k].relation);
        alchdb__sb_printf(&t->sb, ",\"mode\":\"%s\"}", alchdb_lock_mode_name(st->locks[k].mode));
    }
    alchdb__sb_printf(&t->sb, "],\"rewrites_table\":%s}", (st->flags & ALCHDB_MIG_REWRITES_TABLE) ? "true" : "false");

    if (st->txn_control) {
        alchdb__sb_puts(&t->sb, ",\"observed\":null,\"compared\":false,\"note\":\"transaction control: each statement "
                                "is traced in its own transaction\"}");
        t->not_compared++;
        return 0;
    }
    snap before = {0}, after = {0};
    int rc = take_snap(a, &before);
    if (rc < 0)
        return rc;
    obs o = {0};
    char err[512] = "";
    bool waited = false, failed = false, blocked = false;
    if (!st->concurrent) {
        if (!exec_ok(a, "BEGIN", err, sizeof err)) {
            failed = true;
        } else if (!exec_ok(a, st->sql, err, sizeof err)) {
            failed = true;
            exec_ok(a, "ROLLBACK", NULL, 0);
        } else {
            rc = read_locks(a, 0, &before, &o);
            if (!exec_ok(a, "COMMIT", err, sizeof err))
                failed = true;
        }
    } else {
        /* Cannot run in a transaction block: from connection b, hold on each
         * table it names the weakest mode that conflicts with the claimed one
         * (so transient lookup locks pass), let it queue, read what it waits
         * for. If it does not queue, it takes a weaker lock than claimed. */
        bool blocking = false;
        exec_ok(b, "BEGIN", NULL, 0);
        for (size_t k = 0; k < st->nlocks; k++) {
            const rel_snap *rs = snap_find_name(&before, st->locks[k].relation);
            if (!rs || !is_table_kind(rs->relkind))
                continue;
            /* rs->name is the relation's key: already SQL, each part quoted. */
            alchdb__strbuf sb;
            alchdb__sb_init(&sb);
            alchdb__sb_printf(&sb, "LOCK TABLE %s IN %s MODE", rs->name, weakest_conflicting(st->locks[k].mode));
            char *qn = alchdb__sb_finish(&sb);
            if (qn && exec_ok(b, qn, NULL, 0))
                blocking = true;
            alchdb__free(qn);
        }
        if (!PQsendQuery(a, st->sql)) {
            alchdb__pq_result_message(err, sizeof err, a, NULL, false);
            failed = true;
        } else if (blocking) {
            int pid = PQbackendPID(a);
            for (int tries = 0; tries < 500; tries++) { /* up to ~5 s */
                if (read_locks(b, pid, &before, &o) < 0)
                    break;
                bool queued = false;
                for (size_t i = 0; i < o.n; i++)
                    if (!o.l[i].granted)
                        queued = true;
                if (queued) {
                    waited = true;
                    break;
                }
                sleep_ms(10);
            }
        }
        blocked = blocking;
        exec_ok(b, "ROLLBACK", NULL, 0);
        if (!failed) {
            PGresult *r;
            while ((r = PQgetResult(a)) != NULL) {
                ExecStatusType es = PQresultStatus(r);
                if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK && es != PGRES_EMPTY_QUERY) {
                    alchdb__pq_result_message(err, sizeof err, a, r, false);
                    failed = true;
                }
                PQclear(r);
            }
        }
    }
    if (rc == 0 && !failed)
        rc = take_snap(a, &after);
    alchdb__sb_puts(&t->sb, ",\"observed\":{\"locks\":");
    render_locks(&t->sb, &o);
    bool rewrote = rc == 0 && !failed && rewrote_any(&before, &after);
    alchdb__sb_printf(&t->sb, ",\"rewrites_table\":%s,\"waited\":%s,\"error\":", rewrote ? "true" : "false",
                      waited ? "true" : "false");
    size_t el = strlen(err);
    while (el && (err[el - 1] == '\n' || err[el - 1] == ' '))
        err[--el] = '\0';
    alchdb__sb_json_str(&t->sb, failed ? err : NULL);
    alchdb__sb_puts(&t->sb, "}");
    if (rc < 0 || failed) {
        alchdb__sb_puts(&t->sb, ",\"compared\":false}");
        t->not_compared++;
    } else {
        compare(t, st, &o, waited, st->concurrent && blocked && !waited, rewrote);
        alchdb__sb_puts(&t->sb, "}");
    }
    alchdb__free(before.r);
    alchdb__free(after.r);
    return rc;
}

ALCHDB_API int alchdb_migration_trace(const alchdb_migration_config *cfg, const char *sql, size_t len,
                                      char **json_out, size_t *agreed_out, size_t *disagreed_out)
{
    ALCHDB_CHECK_ARG(json_out, "json_out", "must not be NULL");
    *json_out = NULL;
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    const char *conninfo = alchdb__opts_s(&cfg->opts, ALCHDB_MIGRATION_OPT_CONNINFO);
    ALCHDB_CHECK_ARG(conninfo, "cfg", "must name the scratch database with ALCHDB_MIGRATION_OPT_CONNINFO");
    ALCHDB_CHECK_ARG(sql, "sql", "must not be NULL");
    if (len == (size_t)-1)
        len = strlen(sql);

    alchdb_migration *m = NULL;
    int rc = alchdb_migration_new(cfg, &m);
    if (rc < 0)
        return rc;
    rc = alchdb_migration_add_file(m, "trace", sql, len);
    if (rc < 0) {
        alchdb_migration_free(m);
        return rc;
    }
    if (m->files[0].error) {
        rc = alchdb__error(ALCHDB_E_PARSE, "trace: %s (line %lld, column %lld)", m->files[0].error,
                           (long long)m->files[0].err_line, (long long)m->files[0].err_column);
        alchdb_migration_free(m);
        return rc;
    }
    PGconn *a = NULL, *b = NULL;
    static const char what[] = "trace: cannot connect to the scratch database";
    rc = alchdb__pq_connect_default(conninfo, "migration", what, &a);
    if (rc == 0)
        rc = alchdb__pq_connect_default(conninfo, "migration", what, &b);
    if (rc < 0) {
        PQfinish(a);
        alchdb_migration_free(m);
        return rc;
    }
    /* Never wait forever behind a real session. */
    exec_ok(a, "SET lock_timeout = '10s'", NULL, 0);
    exec_ok(b, "SET lock_timeout = '10s'", NULL, 0);
    trace_out t;
    memset(&t, 0, sizeof t);
    alchdb__sb_init(&t.sb);
    alchdb__sb_puts(&t.sb, "{\"statements\":[");
    const mig_file *f = &m->files[0];
    for (size_t i = 0; i < f->nstmts && rc == 0; i++)
        rc = trace_stmt(a, b, &f->stmts[i], i, &t);
    alchdb__sb_printf(&t.sb, "],\"agreed\":%zu,\"disagreed\":%zu,\"not_compared\":%zu}", t.agreed, t.disagreed,
                      t.not_compared);
    PQfinish(a);
    PQfinish(b);
    alchdb_migration_free(m);
    char *json = alchdb__sb_finish(&t.sb);
    if (rc < 0) {
        alchdb__free(json);
        return rc;
    }
    if (!json)
        return alchdb__nomem("trace report");
    *json_out = json;
    if (agreed_out)
        *agreed_out = t.agreed;
    if (disagreed_out)
        *disagreed_out = t.disagreed;
    return 0;
}
