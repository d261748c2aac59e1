/* The router object: hosts, lifecycle, read-your-writes tokens and
 * introspection. Routing decisions are in route.c, health in probe.c and
 * roles.c, options in config.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alchdb/pq.h"
#include "pqconn.h"
#include "router/router_internal.h"

/* ---- hosts ------------------------------------------------------------------- */

/* Zip a comma-separated host list with its port list: "h1:p1,h2:p2". libpq
 * allows one port for all hosts, or one per host. */
static void sb_hosts(alchdb__strbuf *sb, const char *hosts, const char *ports)
{
    const char *h = hosts, *p = ports;
    for (bool first = true;; first = false) {
        size_t hl = strcspn(h, ",");
        size_t pl = p ? strcspn(p, ",") : 0;
        if (!first)
            alchdb__sb_puts(sb, ",");
        alchdb__sb_append(sb, hl ? h : "localhost", hl ? hl : strlen("localhost"));
        alchdb__sb_puts(sb, ":");
        alchdb__sb_append(sb, pl ? p : "5432", pl ? pl : 4);
        if (!h[hl])
            break;
        h += hl + 1;
        if (p && p[pl])
            p += pl + 1; /* else: the single port applies to every host */
    }
}

/* What identifies a host entry: its host list, ports, database and the
 * session attributes libpq will insist on (the same hosts with
 * target_session_attrs=read-write and =standby are two different entries:
 * the primary and the standbys of one cluster). Never the password. Returns
 * the display name (owned) or NULL with the error set. */
static int tsa_of(const char *v)
{
    static const char *const names[] = {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"};
    for (int i = 0; v && i < 6; i++)
        if (!strcmp(v, names[i]))
            return i;
    return TSA_ANY;
}

static char *identity_of(const char *conninfo, bool *multi_host, int *tsa_out)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        char msg[512];
        alchdb__redact_conninfo_into(msg, sizeof msg, err ? err : "out of memory", conninfo);
        PQfreemem(err);
        alchdb__error(ALCHDB_E_INVALID, "invalid conninfo: %s", msg);
        return NULL;
    }
    const char *host = NULL, *addr = NULL, *port = NULL, *db = NULL, *user = NULL, *tsa = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "hostaddr"))
            addr = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            db = o->val;
        else if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "target_session_attrs"))
            tsa = o->val;
    }
    const char *hosts = host ? host : addr ? addr : "localhost";
    *multi_host = strchr(hosts, ',') != NULL;
    *tsa_out = tsa_of(tsa);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    sb_hosts(&sb, hosts, port);
    alchdb__sb_printf(&sb, "/%s", db ? db : user ? user : "");
    if (tsa && strcmp(tsa, "any") != 0)
        alchdb__sb_printf(&sb, " (%s)", tsa);
    alchdb__pq_conninfo_free(opts);
    char *shown = alchdb__sb_finish(&sb);
    char *d = shown ? alchdb__redact_conninfo(shown, conninfo) : NULL;
    alchdb__free(shown);
    if (!d)
        alchdb__nomem("router host name");
    return d;
}

static int add_host(alchdb_router *r, const char *conninfo, int64_t weight, bool primary)
{
    const char *func = primary ? "alchdb_router_new" : "alchdb_router_add_replica";
    bool multi = false;
    int tsa = TSA_ANY;
    char *display = identity_of(conninfo, &multi, &tsa);
    if (!display)
        return alchdb_last_error_code();
    for (size_t i = 0; i < r->nhosts; i++)
        if (!strcmp(r->hosts[i].display, display)) {
            int rc = alchdb__error(ALCHDB_E_INVALID, "%s: %s is already %s of this router", func, display,
                                   r->hosts[i].configured_primary ? "the primary" : "a replica");
            alchdb__free(display);
            return rc;
        }
    if (r->nhosts == ROUTER_MAX_HOSTS) {
        alchdb__free(display);
        return alchdb__error(ALCHDB_E_RANGE, "%s: at most %d hosts", func, ROUTER_MAX_HOSTS);
    }
    if (r->nhosts == r->caphosts) {
        /* Hosts never move once the router starts (adding is refused then). */
        size_t nc = r->caphosts ? r->caphosts * 2 : 4;
        router_host *nh = alchdb__realloc(r->hosts, nc * sizeof *nh);
        if (!nh) {
            alchdb__free(display);
            return alchdb__nomem("router hosts");
        }
        r->hosts = nh;
        r->caphosts = nc;
    }
    router_host *h = &r->hosts[r->nhosts];
    memset(h, 0, sizeof *h);
    h->display = display;
    h->configured_primary = primary;
    h->multi_host = multi;
    h->tsa = tsa;
    h->weight = weight;
    h->index = (int)r->nhosts;
    atomic_store(&h->in_recovery, -1);
    atomic_store(&h->replay_lsn, 0);
    h->open_period_ns = r->cfg.breaker_open_us * 1000;
    h->conninfo = alchdb__strdup(conninfo);
    int rc = h->conninfo ? 0 : alchdb__nomem("router conninfo");
    if (rc == 0) {
        char name[64];
        if (primary)
            snprintf(name, sizeof name, "primary");
        else
            snprintf(name, sizeof name, "replica%zu", r->nhosts);
        rc = alchdb_pool_config_set_string(r->pool_cfg, ALCHDB_POOL_OPT_NAME, name);
        if (rc == 0)
            rc = alchdb_pool_new(conninfo, r->pool_cfg, &h->pool);
    }
    if (rc < 0) {
        alchdb__free(h->display);
        alchdb__free_wiped(h->conninfo); /* may hold a password */
        return rc;
    }
    pthread_mutex_init(&h->probe_lock, NULL);
    r->nhosts++;
    return 0;
}

ALCHDB_API int alchdb_router_new(const char *primary_conninfo, const alchdb_pool_config *pool_cfg,
                                 const alchdb_router_config *cfg, alchdb_router **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(primary_conninfo, "primary_conninfo", "must not be NULL");
    alchdb_router *r = alchdb__calloc(1, sizeof *r);
    if (!r)
        return alchdb__nomem("router");
    if (cfg) {
        alchdb__router_settings_load(&r->cfg, &cfg->opts);
    } else {
        alchdb__opts defaults;
        if (alchdb__opts_init(&defaults, &alchdb__router_optspec) != 0) {
            alchdb__free(r);
            return ALCHDB_E_NOMEM;
        }
        alchdb__router_settings_load(&r->cfg, &defaults);
        alchdb__opts_free(&defaults);
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->state_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->wake, &ca);
    pthread_cond_init(&r->first_round, &ca);
    pthread_condattr_destroy(&ca);
    atomic_store(&r->writer, -1);
    atomic_store(&r->last_writer, 0);
    int rc = alchdb_pool_config_new(&r->pool_cfg);
    if (rc == 0 && pool_cfg) { /* every host's pool gets these options; names come from each conninfo */
        alchdb__opts_free(&r->pool_cfg->opts);
        rc = alchdb__opts_copy(&r->pool_cfg->opts, &pool_cfg->opts);
        if (rc == 0)
            rc = alchdb__opts_set_string(&r->pool_cfg->opts, ALCHDB_POOL_OPT_NAME, NULL, __func__);
    }
    if (rc == 0)
        rc = add_host(r, primary_conninfo, 1, true);
    if (rc < 0) {
        alchdb_router_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

ALCHDB_API int alchdb_router_add_replica(alchdb_router *r, const char *conninfo, int64_t weight)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(conninfo, "conninfo", "must not be NULL");
    ALCHDB_CHECK_ARG(weight >= 1 && weight <= 1000, "weight", "must be 1..1000");
    pthread_mutex_lock(&r->lock);
    bool started = r->started;
    pthread_mutex_unlock(&r->lock);
    if (started)
        return alchdb__error(ALCHDB_E_STATE, "alchdb_router_add_replica: the router is already started");
    return add_host(r, conninfo, weight, false);
}

ALCHDB_API int alchdb_router_start(alchdb_router *r)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    pthread_mutex_lock(&r->lock);
    if (r->started) {
        pthread_mutex_unlock(&r->lock);
        return alchdb__error(ALCHDB_E_STATE, "alchdb_router_start: already started");
    }
    r->started = true;
    pthread_mutex_unlock(&r->lock);
    int rc = alchdb__router_start_probers(r);
    if (rc == 0 && atomic_load(&r->sysid) == 0) {
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        for (size_t i = 0; i < r->nhosts; i++)
            alchdb__sb_printf(&sb, "%s%s", i ? ", " : "", r->hosts[i].display);
        char *names = alchdb__sb_finish(&sb);
        rc = alchdb__error(ALCHDB_E_CONNECT, "alchdb_router_start: no host answered a probe (%s)",
                           names ? names : "out of memory");
        alchdb__free(names);
    }
    if (rc < 0) {
        alchdb__router_stop_probers(r);
        pthread_mutex_lock(&r->lock);
        r->started = false;
        pthread_mutex_unlock(&r->lock);
    }
    return rc;
}

ALCHDB_API void alchdb_router_free(alchdb_router *r)
{
    if (!r)
        return;
    alchdb__router_stop_probers(r);
    for (size_t i = 0; i < r->nhosts; i++) {
        alchdb__router_probe_close(&r->hosts[i]);
        alchdb_pool_free(r->hosts[i].pool);
        alchdb__free_wiped(r->hosts[i].conninfo); /* may hold a password */
        alchdb__free(r->hosts[i].display);
        pthread_mutex_destroy(&r->hosts[i].probe_lock);
    }
    alchdb__free(r->hosts);
    alchdb_pool_config_free(r->pool_cfg);
    pthread_cond_destroy(&r->first_round);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->state_lock);
    pthread_mutex_destroy(&r->lock);
    alchdb__free(r);
}

/* ---- tokens ------------------------------------------------------------------ */

int alchdb__router_cluster(alchdb_router *r, uint64_t *sysid, uint32_t *timeline)
{
    uint64_t id = atomic_load(&r->sysid);
    uint32_t tli = atomic_load(&r->timeline);
    if (id == 0 || tli == 0)
        return alchdb__error(ALCHDB_E_STATE, "router: the cluster's identity is not known yet");
    *sysid = id;
    *timeline = tli;
    return 0;
}

/* Newer: a later timeline, or the same timeline further on. */
static bool token_newer(const alchdb__token *a, const alchdb__token *b)
{
    return a->timeline != b->timeline ? a->timeline > b->timeline : a->lsn > b->lsn;
}

void alchdb__router_note(alchdb_router *r, const alchdb__token *t)
{
    alchdb__token mine = *t, cur;
    mine.sysid = atomic_load(&r->sysid);
    pthread_mutex_lock(&r->lock);
    if (!r->last_token[0] || alchdb__token_parse(r->last_token, strlen(r->last_token), &cur, NULL) < 0 ||
        token_newer(&mine, &cur))
        alchdb__token_format(&mine, r->last_token, sizeof r->last_token);
    pthread_mutex_unlock(&r->lock);
}

ALCHDB_API int alchdb_router_note_token(alchdb_router *r, const char *token)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(token, "token", "must not be NULL");
    alchdb__token t;
    const char *why;
    if (alchdb__token_parse(token, strlen(token), &t, &why) < 0)
        return alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'token': %s", __func__, why);
    uint64_t id = atomic_load(&r->sysid);
    if (id == 0)
        return alchdb__error(ALCHDB_E_STATE, "%s: the router does not know its cluster yet (start it first)",
                             __func__);
    if (t.sysid != id)
        return alchdb__error(ALCHDB_E_INVALID,
                             "%s: invalid argument 'token': it names another cluster (system identifier %" PRIu64
                             ", this one is %" PRIu64 ")",
                             __func__, t.sysid, id);
    alchdb__router_note(r, &t);
    return 0;
}

ALCHDB_API int alchdb_router_token(alchdb_router *r, char *buf, size_t cap)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(buf, "buf", "must not be NULL");
    ALCHDB_CHECK_ARG(cap >= ALCHDB__TOKEN_CAP, "cap", "must be at least 64");
    buf[0] = '\0';
    alchdb_conn *c = NULL;
    int host = -1;
    int rc = alchdb__router_acquire_writer(r, -1, "router-token", &c, &host);
    if (rc < 0)
        return rc;
    alchdb__token t;
    char why[512];
    /* One small query: bounded like a health probe. */
    int64_t deadline = alchdb__now_ns() + r->cfg.probe_timeout_us * 1000;
    bool ok = alchdb__token_read(c->slot->pg, atomic_load(&r->sysid), deadline, &t, why, sizeof why) == 0;
    bool lost = !ok && PQstatus(c->slot->pg) != CONNECTION_OK;
    bool timed_out = !ok && !lost && PQtransactionStatus(c->slot->pg) == PQTRANS_ACTIVE;
    if (timed_out)
        alchdb_conn_mark_broken(c); /* the query may still run: never reused */
    alchdb_router_release(r, c, lost ? "08006" : NULL);
    if (!ok)
        return alchdb__error(lost ? ALCHDB_E_CONNECT : timed_out ? ALCHDB_E_TIMEOUT : ALCHDB_E_QUERY,
                             "alchdb_router_token: %s", why);
    if (t.sysid == 0)
        return alchdb__error(ALCHDB_E_STATE, "alchdb_router_token: the router does not know its cluster yet");
    if (alchdb__token_format(&t, buf, cap) < 0)
        return alchdb__error(ALCHDB_E_INTERNAL, "alchdb_router_token: cannot format the token");
    alchdb__router_note(r, &t);
    return 0;
}

ALCHDB_API int alchdb_router_conn_token(alchdb_router *r, alchdb_conn *conn, char *buf, size_t cap)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(buf, "buf", "must not be NULL");
    ALCHDB_CHECK_ARG(cap >= ALCHDB__TOKEN_CAP, "cap", "must be at least 64");
    buf[0] = '\0';
    ALCHDB_CHECK_ARG(conn, "conn", "must not be NULL");
    ALCHDB_CHECK_ARG(alchdb__router_conn_host(r, conn) >= 0, "conn", "not a connection of this router");
    PGconn *pg = alchdb_conn_pgconn(conn);
    if (!pg)
        return alchdb__invalid_arg(__func__, "conn", "is not held (already released?)");
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        return alchdb__error(ALCHDB_E_STATE, "%s: the connection is inside a transaction: take the token after COMMIT",
                             __func__);
    uint64_t id = atomic_load(&r->sysid);
    if (id == 0)
        return alchdb__error(ALCHDB_E_STATE, "%s: the router does not know its cluster yet (start it first)", __func__);
    alchdb__token t;
    char why[512];
    if (alchdb__token_read(pg, id, alchdb__now_ns() + r->cfg.probe_timeout_us * 1000, &t, why, sizeof why) < 0) {
        if (PQstatus(pg) != CONNECTION_OK) {
            alchdb_conn_mark_broken(conn);
            return alchdb__error(ALCHDB_E_CONNECT, "%s: %s", __func__, why);
        }
        if (PQtransactionStatus(pg) == PQTRANS_ACTIVE) { /* timed out: the query may still run */
            alchdb_conn_mark_broken(conn);
            return alchdb__error(ALCHDB_E_TIMEOUT, "%s: %s", __func__, why);
        }
        return alchdb__error(ALCHDB_E_QUERY, "%s: %s", __func__, why);
    }
    if (alchdb__token_format(&t, buf, cap) < 0)
        return alchdb__error(ALCHDB_E_INTERNAL, "%s: cannot format the token", __func__);
    alchdb__router_note(r, &t);
    return 0;
}

/* ---- introspection --------------------------------------------------------------- */

ALCHDB_API const char *alchdb_route_reason_name(int reason)
{
    static const char *const names[] = {"unknown",        "intent_write",       "intent_primary", "intent_read",
                                        "read_only",      "writes",             "locking",        "side_effects",
                                        "unsure",         "no_healthy_replica", "causal_primary", "foreign_token",
                                        "causal_replica", "retry",              "no_replicas",    "token_timeline"};
    if (reason < 1 || reason >= (int)(sizeof names / sizeof names[0]))
        return "unknown";
    return names[reason];
}

ALCHDB_API size_t alchdb_router_host_count(const alchdb_router *r)
{
    if (!r) {
        alchdb__invalid_arg(__func__, "r", "must not be NULL");
        return 0;
    }
    return r->nhosts;
}

ALCHDB_API int alchdb_router_host_healthy(const alchdb_router *r, size_t i)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(i < r->nhosts, "i", "host index out of range");
    return alchdb__router_host_takes_reads(r, &r->hosts[i]);
}

ALCHDB_API alchdb_pool *alchdb_router_host_pool(const alchdb_router *r, size_t i)
{
    if (!r || i >= r->nhosts) {
        alchdb__invalid_arg(__func__, r ? "i" : "r", r ? "host index out of range" : "must not be NULL");
        return NULL;
    }
    return r->hosts[i].pool;
}

ALCHDB_API int alchdb_router_probe_now(alchdb_router *r)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    return alchdb__router_probe_all(r);
}

static void host_json(alchdb__strbuf *sb, const alchdb_router *r, const router_host *h)
{
    static const char *const brk[] = {"closed", "open", "half_open"};
    int rec = atomic_load(&h->in_recovery);
    alchdb__sb_puts(sb, "{\"name\":");
    alchdb__sb_json_str(sb, h->display);
    alchdb__sb_printf(sb,
                      ",\"role\":\"%s\",\"state\":\"%s\",\"writer\":%s,\"healthy\":%s,\"in_recovery\":%s,"
                      "\"read_only\":%s,\"wrong_role\":%s,\"probe_ok\":%s,\"multi_host\":%s,\"timeline\":%" PRIu32
                      ",\"timeline_exact\":%s,\"lag_bytes\":%" PRId64 ",\"lag_seconds\":%.3f,\"lag_excluded\":%s"
                      ",\"replay_lsn\":%" PRId64 ",\"breaker\":\"%s\",\"weight\":%" PRId64 ",\"outstanding\":%" PRId64
                      ",\"reads\":%" PRId64 ",\"writes\":%" PRId64 ",\"errors\":%" PRId64 ",\"connect_failures\":%" PRId64
                      ",\"read_only_answers\":%" PRId64 ",\"breaker_opens\":%" PRId64 ",\"probes\":%" PRId64
                      ",\"probe_failures\":%" PRId64 ",\"reresolves\":%" PRId64 "}",
                      h->configured_primary ? "primary" : "replica", alchdb__host_state_name(atomic_load(&h->state)),
                      atomic_load(&r->writer) == h->index ? "true" : "false",
                      alchdb__router_host_takes_reads(r, h) ? "true" : "false",
                      rec < 0 ? "null" : rec ? "true" : "false", atomic_load(&h->read_only) ? "true" : "false",
                      atomic_load(&h->wrong_role) ? "true" : "false", atomic_load(&h->probe_ok) ? "true" : "false",
                      h->multi_host ? "true" : "false", atomic_load(&h->timeline),
                      atomic_load(&h->timeline_exact) ? "true" : "false", atomic_load(&h->lag_bytes),
                      (double)atomic_load(&h->lag_us) / 1e6, atomic_load(&h->lag_excluded) ? "true" : "false",
                      atomic_load(&h->replay_lsn), brk[atomic_load(&h->breaker) % 3], h->weight,
                      atomic_load(&h->outstanding), atomic_load(&h->reads), atomic_load(&h->writes),
                      atomic_load(&h->errors), atomic_load(&h->connect_failures),
                      atomic_load(&h->read_only_answers), atomic_load(&h->breaker_opens), atomic_load(&h->probes),
                      atomic_load(&h->probe_failures), atomic_load(&h->reresolves));
}

ALCHDB_API int alchdb_router_to_json(alchdb_router *r, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    int w = atomic_load(&r->writer);
    alchdb__sb_printf(&sb, "{\"policy\":%" PRId64 ",\"writer\":", r->cfg.policy);
    alchdb__sb_json_str(&sb, w >= 0 ? r->hosts[w].display : NULL);
    alchdb__sb_printf(&sb, ",\"system_identifier\":\"%" PRIu64 "\",\"timeline\":%" PRIu32 ",\"hosts\":[",
                      atomic_load(&r->sysid), atomic_load(&r->timeline));
    for (size_t i = 0; i < r->nhosts; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        host_json(&sb, r, &r->hosts[i]);
    }
    alchdb__sb_printf(&sb,
                      "],\"fallbacks\":%" PRId64 ",\"fallback_rejected\":%" PRId64 ",\"retries\":%" PRId64
                      ",\"causal_checks\":%" PRId64 ",\"causal_waits\":%" PRId64 ",\"wrong_role_events\":%" PRId64
                      ",\"writer_changes\":%" PRId64 ",\"writes_refused\":%" PRId64 ",\"reads_refused\":%" PRId64
                      ",\"tokens_lost\":%" PRId64 ",\"tokens_unverifiable\":%" PRId64 ",\"decisions\":{",
                      atomic_load(&r->fallbacks), atomic_load(&r->fallback_rejected), atomic_load(&r->retries),
                      atomic_load(&r->causal_checks), atomic_load(&r->causal_waits),
                      atomic_load(&r->wrong_role_events), atomic_load(&r->writer_changes),
                      atomic_load(&r->writes_refused), atomic_load(&r->reads_refused), atomic_load(&r->tokens_lost),
                      atomic_load(&r->tokens_unverifiable));
    for (int k = 1; k <= ALCHDB_ROUTE_TOKEN_TIMELINE; k++)
        alchdb__sb_printf(&sb, "%s\"%s\":%" PRId64, k > 1 ? "," : "", alchdb_route_reason_name(k),
                          atomic_load(&r->reasons[k]));
    alchdb__sb_puts(&sb, "}}");
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("router metrics");
}
