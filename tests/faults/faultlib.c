/* The shared machinery of the fault suites (faultlib.h). */
#include <stdarg.h>

#include "faultlib.h"

void fl_sh(const fl_cluster *c, const char *fmt, ...)
{
    char args[512], cmd[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    /* "verb rest" → cluster.sh verb DIR rest */
    const char *sp = strchr(args, ' ');
    int vl = sp ? (int)(sp - args) : (int)strlen(args);
    snprintf(cmd, sizeof cmd, "'%s' %.*s '%s'%s", test_env("ALCHDB_FAULT_SH"), vl, args, c->dir, sp ? sp : "");
    int rc = system(cmd);
    ck_assert_msg(rc == 0, "%s: exit %d", cmd, rc);
}

static void fl_env_value(const char *file, const char *key, char *out, size_t cap)
{
    FILE *f = fopen(file, "r");
    ck_assert_msg(f != NULL, "cannot read %s", file);
    char line[512];
    size_t kl = strlen(key);
    out[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, kl) || line[kl] != '=')
            continue;
        char *v = line + kl + 1;
        v[strcspn(v, "\n")] = '\0';
        size_t n = strlen(v);
        if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
            v[n - 1] = '\0';
            v++;
        }
        snprintf(out, cap, "%s", v);
    }
    fclose(f);
    ck_assert_msg(out[0], "%s: no %s", file, key);
}

void fl_cluster_create(fl_cluster *c, const char *name, bool netns)
{
    memset(c, 0, sizeof *c);
    snprintf(c->dir, sizeof c->dir, "%s/%s", test_env("ALCHDB_FAULT_BASE"), name);
    fl_sh(c, "create%s", netns ? " --netns" : "");
    char env[400];
    snprintf(env, sizeof env, "%s/env", c->dir);
    fl_env_value(env, "FAULT_NODE0", c->node[0], sizeof c->node[0]);
    fl_env_value(env, "FAULT_NODE1", c->node[1], sizeof c->node[1]);
    fl_env_value(env, "FAULT_PORT0", c->port[0], sizeof c->port[0]);
    fl_env_value(env, "FAULT_PORT1", c->port[1], sizeof c->port[1]);
    fl_env_value(env, "FAULT_HOST1", c->host1, sizeof c->host1);
}

void fl_cluster_destroy(fl_cluster *c)
{
    fl_sh(c, "destroy");
}

static void fl_quiet(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

char *fl_sql(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    char *out = NULL;
    if (PQstatus(pg) == CONNECTION_OK) {
        PQsetNoticeProcessor(pg, fl_quiet, NULL);
        PGresult *r = PQexec(pg, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            out = strdup(PQntuples(r) && PQnfields(r) ? PQgetvalue(r, 0, 0) : "");
        else if (PQresultStatus(r) == PGRES_COMMAND_OK)
            out = strdup("");
        PQclear(r);
    }
    PQfinish(pg);
    return out;
}

void fl_sql_ok(const char *conninfo, const char *sql)
{
    char *v = fl_sql(conninfo, sql);
    ck_assert_msg(v != NULL, "%s failed on %s", sql, conninfo);
    free(v);
}

long fl_sql_long(const char *conninfo, const char *sql)
{
    char *v = fl_sql(conninfo, sql);
    ck_assert_msg(v != NULL, "%s failed on %s", sql, conninfo);
    long n = strtol(v, NULL, 10);
    free(v);
    return n;
}

void fl_wait_sql(const char *conninfo, const char *sql, const char *want, int seconds)
{
    int64_t end = fl_now() + (int64_t)seconds * 1000000000;
    for (;;) {
        char *v = fl_sql(conninfo, sql);
        bool ok = v && !strcmp(v, want);
        free(v);
        if (ok)
            return;
        ck_assert_msg(fl_now() < end, "%s did not answer %s within %d s", sql, want, seconds);
        fl_sleep_ms(50);
    }
}

alchdb_router *fl_router(const fl_opts *o)
{
    alchdb_router_config *cfg;
    ck_assert_int_eq(alchdb_router_config_new(&cfg), 0);
    if (o->probe_interval)
        ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "probe_interval", o->probe_interval), 0);
    if (o->max_staleness)
        ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "max_staleness", o->max_staleness), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(cfg, "causal_wait", "50ms"), 0);
    int64_t acq = o->acquire_timeout_us ? o->acquire_timeout_us : 2000000;
    ck_assert_int_eq(alchdb_router_config_set_int64(cfg, ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT, acq), 0);
    alchdb_pool_config *pc;
    ck_assert_int_eq(alchdb_pool_config_new(&pc), 0);
    int mo = o->max_open ? o->max_open : 8;
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_OPEN, mo), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_MAX_IDLE, mo), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT, acq), 0);
    ck_assert_int_eq(alchdb_pool_config_set_int64(pc, ALCHDB_POOL_OPT_CONNECT_TIMEOUT,
                                                  o->connect_timeout_us ? o->connect_timeout_us : 1000000),
                     0);
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new(o->primary, pc, cfg, &r), 0);
    ck_assert_int_eq(alchdb_router_add_replica(r, o->replica, 1), 0);
    alchdb_pool_config_free(pc);
    alchdb_router_config_free(cfg);
    ck_assert_msg(alchdb_router_start(r) == 0, "start: %s", alchdb_last_error_message());
    return r;
}

long fl_metric(alchdb_router *r, const char *name)
{
    char *json;
    ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
    char key[96];
    snprintf(key, sizeof key, "\"%s\":", name);
    const char *p = strstr(json, key);
    long v = p ? strtol(p + strlen(key), NULL, 10) : -1;
    alchdb_free(json);
    ck_assert_msg(p != NULL, "no metric %s", name);
    return v;
}

void fl_wait_json(alchdb_router *r, const char *text, int seconds)
{
    int64_t end = fl_now() + (int64_t)seconds * 1000000000;
    for (;;) {
        char *json;
        ck_assert_int_eq(alchdb_router_to_json(r, &json), 0);
        bool ok = strstr(json, text) != NULL;
        if (ok || fl_now() >= end) {
            ck_assert_msg(ok, "the router's metrics never showed %s: %s", text, json);
            alchdb_free(json);
            return;
        }
        alchdb_free(json);
        fl_sleep_ms(50);
    }
}

static void fl_fail_note(fl_load *l, int kind, const char *code, int64_t start)
{
    atomic_fetch_add(&l->failed[kind], 1);
    long i = atomic_fetch_add(&l->nfails, 1);
    if (i >= FL_MAX_FAILS)
        return;
    int64_t now = fl_now();
    l->fails[i].t_ns = now;
    l->fails[i].lat_ns = now - start;
    l->fails[i].kind = kind;
    snprintf(l->fails[i].code, sizeof l->fails[i].code, "%s", code);
}

static void *fl_reader(void *p)
{
    fl_load *l = p;
    while (!atomic_load(&l->stop)) {
        int64_t t = fl_now();
        alchdb_result *res = NULL;
        int rc = alchdb_client_exec(l->c, "SELECT pg_is_in_recovery(), count(*) FROM fo WHERE id < 100", 0, NULL,
                                    &res);
        if (rc == 0) {
            atomic_fetch_add(&l->ok[FL_READ], 1);
            long long lat = (long long)(fl_now() - t), cur = atomic_load(&l->slowest_read_ns);
            while (lat > cur && !atomic_compare_exchange_weak(&l->slowest_read_ns, &cur, lat))
                ;
            if (alchdb_result_value(res, 0, 0)[0] == 't')
                atomic_fetch_add(&l->on_standby, 1);
        } else {
            char code[16];
            const char *st = res ? alchdb_result_sqlstate(res) : NULL;
            if (st && st[0])
                snprintf(code, sizeof code, "%s", st);
            else
                snprintf(code, sizeof code, "E%d", rc);
            fl_fail_note(l, FL_READ, code, t);
        }
        alchdb_result_free(res);
        fl_sleep_ms(2);
    }
    return NULL;
}

static void fl_write_once(fl_load *l)
{
    long id = atomic_fetch_add(&l->next_id, 1);
    char ids[24];
    snprintf(ids, sizeof ids, "%ld", id);
    const char *pv[1] = {ids};
    int64_t t = fl_now();
    alchdb_conn *conn;
    int rc = alchdb_router_acquire(l->r, ALCHDB_INTENT_WRITE, NULL, NULL, -1, "fault-writer", &conn, NULL);
    if (rc < 0) {
        char code[16];
        snprintf(code, sizeof code, "E%d", rc);
        fl_fail_note(l, FL_WRITE, code, t);
        fl_sleep_ms(20); /* a failing write loop must not spin */
        return;
    }
    PGresult *res = PQexecParams(alchdb_conn_pgconn(conn), "INSERT INTO fo (id) VALUES ($1)", 1, NULL, pv, NULL, NULL,
                                 0);
    char tok[96] = "";
    const char *st = NULL;
    char stbuf[8] = "";
    if (PQresultStatus(res) == PGRES_COMMAND_OK) {
        atomic_fetch_add(&l->ok[FL_WRITE], 1);
        if (l->tokens && alchdb_router_conn_token(l->r, conn, tok, sizeof tok) < 0)
            tok[0] = '\0';
    } else {
        const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(stbuf, sizeof stbuf, "%s", s ? s : "08006");
        st = stbuf;
        fl_fail_note(l, FL_WRITE, stbuf, t);
    }
    PQclear(res);
    alchdb_router_release(l->r, conn, st);
    if (!tok[0])
        return;
    t = fl_now();
    int reason = 0;
    rc = alchdb_router_acquire(l->r, ALCHDB_INTENT_AUTO, "SELECT 1 FROM fo WHERE id = $1", tok, -1, "fault-token",
                               &conn, &reason);
    if (rc < 0) {
        char code[16];
        snprintf(code, sizeof code, "E%d", rc);
        fl_fail_note(l, FL_TOKEN, code, t);
        return;
    }
    res = PQexecParams(alchdb_conn_pgconn(conn), "SELECT 1 FROM fo WHERE id = $1", 1, NULL, pv, NULL, NULL, 0);
    st = NULL;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        atomic_fetch_add(&l->ok[FL_TOKEN], 1);
        if (PQntuples(res) == 1)
            atomic_fetch_add(&l->tok_ok, 1);
        else if (reason == ALCHDB_ROUTE_TOKEN_TIMELINE)
            atomic_fetch_add(&l->tok_flagged, 1); /* the router said so: not a lie */
        else if (reason == ALCHDB_ROUTE_CAUSAL_REPLICA || reason == ALCHDB_ROUTE_CAUSAL_PRIMARY ||
                 reason == ALCHDB_ROUTE_READ_ONLY || reason == ALCHDB_ROUTE_NO_HEALTHY_REPLICA ||
                 reason == ALCHDB_ROUTE_NO_REPLICAS)
            atomic_fetch_add(&l->tok_misattributed, 1);
        else
            atomic_fetch_add(&l->tok_unknown, 1);
    } else {
        const char *s = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(stbuf, sizeof stbuf, "%s", s ? s : "08006");
        st = stbuf;
        fl_fail_note(l, FL_TOKEN, stbuf, t);
    }
    PQclear(res);
    alchdb_router_release(l->r, conn, st);
}

static void *fl_writer(void *p)
{
    fl_load *l = p;
    while (!atomic_load(&l->stop)) {
        fl_write_once(l);
        fl_sleep_ms(5);
    }
    return NULL;
}

void fl_schema(const char *primary)
{
    fl_sql_ok(primary, "CREATE TABLE IF NOT EXISTS fo (id bigint PRIMARY KEY, ts timestamptz DEFAULT clock_timestamp())");
}

fl_load *fl_load_start(alchdb_router *r, int readers, int writers, bool tokens)
{
    fl_load *l = calloc(1, sizeof *l);
    ck_assert_ptr_nonnull(l);
    l->fails = calloc(FL_MAX_FAILS, sizeof *l->fails);
    ck_assert_ptr_nonnull(l->fails);
    l->r = r;
    ck_assert_int_eq(alchdb_client_new_routed(r, &l->c), 0);
    l->readers = readers;
    l->writers = writers;
    l->tokens = tokens;
    atomic_init(&l->next_id, 1000000 + (long)(fl_now() % 1000000) * 1000);
    l->t0 = fl_now();
    for (int i = 0; i < readers + writers; i++) {
        ck_assert_int_lt(l->nth, 512);
        ck_assert_int_eq(pthread_create(&l->th[l->nth++], NULL, i < readers ? fl_reader : fl_writer, l), 0);
    }
    return l;
}

void fl_load_stop(fl_load *l)
{
    atomic_store(&l->stop, 1);
    for (int i = 0; i < l->nth; i++)
        pthread_join(l->th[i], NULL);
    alchdb_client_free(l->c);
    l->c = NULL;
}

void fl_load_free(fl_load *l)
{
    if (!l)
        return;
    free(l->fails);
    free(l);
}

long fl_fails_since(const fl_load *l, int kind, int64_t t, const char *code)
{
    long n = atomic_load(&l->nfails), k = 0;
    if (n > FL_MAX_FAILS)
        n = FL_MAX_FAILS;
    for (long i = 0; i < n; i++)
        if (l->fails[i].kind == kind && l->fails[i].t_ns >= t && (!code || !strcmp(code, l->fails[i].code)))
            k++;
    return k;
}

enum { SCAN_FIRST, SCAN_LAST, SCAN_SLOWEST };

/* One pass over the recorded failures of kind. */
static int64_t fail_scan(const fl_load *l, int kind, int what)
{
    long n = atomic_load(&l->nfails);
    if (n > FL_MAX_FAILS)
        n = FL_MAX_FAILS;
    int64_t v = 0;
    for (long i = 0; i < n; i++) {
        const fl_fail *f = &l->fails[i];
        if (f->kind != kind)
            continue;
        if (what == SCAN_FIRST && (!v || f->t_ns < v))
            v = f->t_ns;
        else if (what == SCAN_LAST && f->t_ns > v)
            v = f->t_ns;
        else if (what == SCAN_SLOWEST && f->lat_ns > v)
            v = f->lat_ns;
    }
    return v;
}

int64_t fl_last_fail(const fl_load *l, int kind)
{
    return fail_scan(l, kind, SCAN_LAST);
}

int64_t fl_first_fail(const fl_load *l, int kind)
{
    return fail_scan(l, kind, SCAN_FIRST);
}

int64_t fl_max_fail_latency(const fl_load *l, int kind)
{
    return fail_scan(l, kind, SCAN_SLOWEST);
}

void fl_codes(const fl_load *l, int kind, char *buf, size_t cap)
{
    char codes[32][16];
    long counts[32];
    int nc = 0;
    long n = atomic_load(&l->nfails);
    if (n > FL_MAX_FAILS)
        n = FL_MAX_FAILS;
    for (long i = 0; i < n; i++) {
        if (l->fails[i].kind != kind)
            continue;
        int k = 0;
        while (k < nc && strcmp(codes[k], l->fails[i].code))
            k++;
        if (k == nc && nc < 32) {
            snprintf(codes[nc], sizeof codes[nc], "%s", l->fails[i].code);
            counts[nc++] = 0;
        }
        if (k < nc)
            counts[k]++;
    }
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < nc && len + 1 < cap; k++) {
        int w = snprintf(buf + len, cap - len, "%s%s:%ld", k ? " " : "", codes[k], counts[k]);
        if (w < 0)
            break;
        len += (size_t)w;
    }
    if (!nc)
        snprintf(buf, cap, "none");
}

void fl_report(const char *scenario, const fl_load *l, int64_t t_fault, int64_t t_done)
{
    char rc[256], wc[256], tc[256];
    fl_codes(l, FL_READ, rc, sizeof rc);
    fl_codes(l, FL_WRITE, wc, sizeof wc);
    fl_codes(l, FL_TOKEN, tc, sizeof tc);
    int64_t fw = fl_first_fail(l, FL_WRITE), lw = fl_last_fail(l, FL_WRITE);
    printf("FIGURES %s: fault took %.2f s; reads %ld ok, %ld failed, %ld after the first second [%s]; writes %ld ok, "
           "%ld failed [%s], failing for %.2f s, last failure %.2f s after the fault was complete; tokens %ld "
           "satisfied, %ld flagged, %ld misattributed; token reads failed [%s]; reads on a standby %ld; slowest read %.2f s\n",
           scenario, fl_sec(t_done - t_fault), atomic_load(&l->ok[FL_READ]), atomic_load(&l->failed[FL_READ]),
           fl_fails_since(l, FL_READ, t_fault + 1000000000, NULL), rc, atomic_load(&l->ok[FL_WRITE]),
           atomic_load(&l->failed[FL_WRITE]), wc, fw ? fl_sec(lw - fw) : 0.0, lw > t_done ? fl_sec(lw - t_done) : 0.0,
           atomic_load(&l->tok_ok), atomic_load(&l->tok_flagged), atomic_load(&l->tok_misattributed), tc,
           atomic_load(&l->on_standby), fl_sec(atomic_load(&l->slowest_read_ns)));
    fflush(stdout);
}
