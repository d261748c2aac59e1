/* The router: configuration, hosts, routing decisions, read-your-writes
 * tokens, breakers and failover of reads. Health comes from probe.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alchdb/sql.h"
#include "pqconn.h"
#include "router_internal.h"

#define MAX_HOSTS 64

static const alchdb_router_config defaults = {
    .policy = ALCHDB_ROUTER_ROUND_ROBIN,
    .probe_interval_us = 1000000,
    .max_lag_bytes = 16 * 1024 * 1024,
    .max_lag_us = 5000000,
    .hysteresis_pct = 50,
    .causal_wait_us = 20000,
    .breaker_failures = 3,
    .breaker_open_us = 1000000,
    .breaker_max_open_us = 30000000,
    .fallback_max_per_sec = 0,
    .causal_default = 0,
    .acquire_timeout_us = 5000000,
};

/* ---- configuration --------------------------------------------------------- */

ALCHDB_API int alchdb_router_config_new(alchdb_router_config **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = alchdb__malloc(sizeof **out);
    if (!*out)
        return alchdb__nomem("router config");
    **out = defaults;
    return 0;
}

ALCHDB_API void alchdb_router_config_free(alchdb_router_config *cfg) { alchdb__free(cfg); }

ALCHDB_API int alchdb_router_config_set_int64(alchdb_router_config *c, int opt, int64_t v)
{
    ALCHDB_CHECK_ARG(c, "cfg", "must not be NULL");
    switch (opt) {
    case ALCHDB_ROUTER_OPT_POLICY:
        ALCHDB_CHECK_ARG(v >= ALCHDB_ROUTER_ROUND_ROBIN && v <= ALCHDB_ROUTER_WEIGHTED, "value",
                         "must be an alchdb_router_policy");
        c->policy = v;
        return 0;
    case ALCHDB_ROUTER_OPT_PROBE_INTERVAL:
        ALCHDB_CHECK_ARG(v >= 10000 && v <= INT64_C(3600000000), "value", "must be 10 ms .. 1 h");
        c->probe_interval_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_MAX_LAG_BYTES:
        ALCHDB_CHECK_ARG(v >= 0, "value", "must be >= 0");
        c->max_lag_bytes = v;
        return 0;
    case ALCHDB_ROUTER_OPT_MAX_LAG_TIME:
        ALCHDB_CHECK_ARG(v >= 0, "value", "must be >= 0");
        c->max_lag_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT:
        ALCHDB_CHECK_ARG(v >= 0 && v <= 100, "value", "must be 0..100");
        c->hysteresis_pct = v;
        return 0;
    case ALCHDB_ROUTER_OPT_CAUSAL_WAIT:
        ALCHDB_CHECK_ARG(v >= 0 && v <= 60000000, "value", "must be 0 .. 60 s");
        c->causal_wait_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_BREAKER_FAILURES:
        ALCHDB_CHECK_ARG(v >= 1 && v <= 1000, "value", "must be 1..1000");
        c->breaker_failures = v;
        return 0;
    case ALCHDB_ROUTER_OPT_BREAKER_OPEN_TIME:
        ALCHDB_CHECK_ARG(v >= 1000 && v <= INT64_C(3600000000), "value", "must be 1 ms .. 1 h");
        c->breaker_open_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_BREAKER_MAX_OPEN_TIME:
        ALCHDB_CHECK_ARG(v >= 1000 && v <= INT64_C(3600000000), "value", "must be 1 ms .. 1 h");
        c->breaker_max_open_us = v;
        return 0;
    case ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC:
        ALCHDB_CHECK_ARG(v >= 0, "value", "must be >= 0 (0 = no cap)");
        c->fallback_max_per_sec = v;
        return 0;
    case ALCHDB_ROUTER_OPT_CAUSAL_DEFAULT:
        ALCHDB_CHECK_ARG(v == 0 || v == 1, "value", "must be 0 or 1");
        c->causal_default = v;
        return 0;
    case ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT:
        ALCHDB_CHECK_ARG(v >= 0 && v <= INT64_C(3600000000), "value", "must be 0 .. 1 h");
        c->acquire_timeout_us = v;
        return 0;
    default:
        return alchdb__invalid_arg(__func__, "opt", "not an alchdb_router_opt");
    }
}

ALCHDB_API int alchdb_router_config_set_from_string(alchdb_router_config *c, const char *name, const char *value)
{
    ALCHDB_CHECK_ARG(c, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(name, "name", "must not be NULL");
    ALCHDB_CHECK_ARG(value, "value", "must not be NULL");
    static const struct {
        const char *name;
        int opt;
        int kind; /* 0 integer, 1 duration, 2 policy, 3 bool */
    } names[] = {
        {"policy", ALCHDB_ROUTER_OPT_POLICY, 2},
        {"probe_interval", ALCHDB_ROUTER_OPT_PROBE_INTERVAL, 1},
        {"max_lag_bytes", ALCHDB_ROUTER_OPT_MAX_LAG_BYTES, 0},
        {"max_lag_time", ALCHDB_ROUTER_OPT_MAX_LAG_TIME, 1},
        {"lag_hysteresis_pct", ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT, 0},
        {"causal_wait", ALCHDB_ROUTER_OPT_CAUSAL_WAIT, 1},
        {"breaker_failures", ALCHDB_ROUTER_OPT_BREAKER_FAILURES, 0},
        {"breaker_open_time", ALCHDB_ROUTER_OPT_BREAKER_OPEN_TIME, 1},
        {"breaker_max_open_time", ALCHDB_ROUTER_OPT_BREAKER_MAX_OPEN_TIME, 1},
        {"fallback_max_per_sec", ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC, 0},
        {"causal_default", ALCHDB_ROUTER_OPT_CAUSAL_DEFAULT, 3},
        {"acquire_timeout", ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT, 1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(names[i].name, name) != 0)
            continue;
        int64_t v = 0;
        if (names[i].kind == 1) {
            if (alchdb_pool_parse_duration(value, &v) < 0)
                return alchdb__error(ALCHDB_E_INVALID, "%s: %s: '%s' is not a duration (e.g. 250ms, 1s)", __func__,
                                     name, value);
        } else if (names[i].kind == 2) {
            static const char *const pol[] = {"round_robin", "random", "least_outstanding", "weighted"};
            v = -1;
            for (int k = 0; k < 4; k++)
                if (!strcmp(value, pol[k]))
                    v = k;
            if (v < 0)
                return alchdb__error(ALCHDB_E_INVALID,
                                     "%s: policy '%s' is not round_robin|random|least_outstanding|weighted", __func__,
                                     value);
        } else if (names[i].kind == 3) {
            if (!strcmp(value, "true") || !strcmp(value, "1") || !strcmp(value, "on"))
                v = 1;
            else if (!strcmp(value, "false") || !strcmp(value, "0") || !strcmp(value, "off"))
                v = 0;
            else
                return alchdb__error(ALCHDB_E_INVALID, "%s: %s: '%s' is not true|false", __func__, name, value);
        } else {
            char *end;
            long long ll = strtoll(value, &end, 10);
            if (end == value || *end)
                return alchdb__error(ALCHDB_E_INVALID, "%s: %s: '%s' is not an integer", __func__, name, value);
            v = ll;
        }
        return alchdb_router_config_set_int64(c, names[i].opt, v);
    }
    return alchdb__error(ALCHDB_E_INVALID, "%s: unknown router option '%s'", __func__, name);
}

/* ---- hosts ------------------------------------------------------------------- */

/* "host:port/db" from a conninfo (never the password); NULL with the error set
 * when libpq cannot parse it. */
static char *display_of(const char *conninfo)
{
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (!opts) {
        char msg[512];
        alchdb__redact_conninfo_into(msg, sizeof msg, err ? err : "out of memory", conninfo);
        alchdb__error(ALCHDB_E_INVALID, "invalid conninfo: %s", msg);
        PQfreemem(err);
        return NULL;
    }
    const char *host = NULL, *addr = NULL, *port = NULL, *db = NULL, *user = NULL;
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
    }
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "%s:%s/%s", host ? host : addr ? addr : "localhost", port ? port : "5432",
                      db ? db : user ? user : "");
    PQconninfoFree(opts);
    char *shown = alchdb__sb_finish(&sb);
    char *d = shown ? alchdb__redact_conninfo(shown, conninfo) : NULL;
    alchdb__free(shown);
    if (!d)
        alchdb__nomem("router host name");
    return d;
}

static int add_host(alchdb_router *r, const char *conninfo, int64_t weight, bool primary)
{
    char *display = display_of(conninfo);
    if (!display)
        return alchdb_last_error_code();
    for (size_t i = 0; i < r->nhosts; i++)
        if (!strcmp(r->hosts[i].display, display)) {
            int rc = alchdb__error(ALCHDB_E_INVALID, "alchdb_router_add_replica: %s is already a %s of this router",
                                   display, r->hosts[i].primary ? "the primary" : "replica");
            alchdb__free(display);
            return rc;
        }
    if (r->nhosts == MAX_HOSTS) {
        alchdb__free(display);
        return alchdb__error(ALCHDB_E_RANGE, "alchdb_router_add_replica: at most %d hosts", MAX_HOSTS);
    }
    if (r->nhosts == r->caphosts) {
        /* Hosts never move once the router starts (add is refused then). */
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
    h->primary = primary;
    h->weight = weight;
    atomic_store(&h->in_recovery, -1);
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
        alchdb__free(h->conninfo);
        return rc;
    }
    atomic_store(&h->healthy, primary ? 1 : 0); /* replicas earn reads by answering a probe */
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
    r->cfg = cfg ? *cfg : defaults;
    pthread_mutex_init(&r->lock, NULL);
    pthread_mutex_init(&r->probe_lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    int rc = alchdb_pool_config_new(&r->pool_cfg);
    if (rc == 0 && pool_cfg) {
        for (int opt = 1; opt < ALCHDB__POOL_NOPTS; opt++)
            r->pool_cfg->v[opt] = pool_cfg->v[opt];
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
    alchdb__router_probe_all(r);
    if (atomic_load(&r->sysid) == 0) {
        int rc = alchdb__error(ALCHDB_E_CONNECT, "alchdb_router_start: the primary %s did not answer a probe",
                               r->hosts[0].display);
        pthread_mutex_lock(&r->lock);
        r->started = false;
        pthread_mutex_unlock(&r->lock);
        return rc;
    }
    if (pthread_create(&r->prober, NULL, alchdb__router_prober_main, r) != 0) {
        pthread_mutex_lock(&r->lock);
        r->started = false;
        pthread_mutex_unlock(&r->lock);
        return alchdb__error(ALCHDB_E_INTERNAL, "alchdb_router_start: cannot start the prober thread");
    }
    pthread_mutex_lock(&r->lock);
    r->prober_running = true;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

ALCHDB_API void alchdb_router_free(alchdb_router *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    bool join = r->prober_running;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);
    if (join)
        pthread_join(r->prober, NULL);
    for (size_t i = 0; i < r->nhosts; i++) {
        alchdb__router_probe_close(&r->hosts[i]);
        alchdb_pool_free(r->hosts[i].pool);
        alchdb__free(r->hosts[i].conninfo);
        alchdb__free(r->hosts[i].display);
    }
    alchdb__free(r->hosts);
    alchdb_pool_config_free(r->pool_cfg);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->probe_lock);
    pthread_mutex_destroy(&r->lock);
    alchdb__free(r);
}

/* ---- tokens ------------------------------------------------------------------ */

int64_t alchdb__lsn_parse(const char *text)
{
    if (!text)
        return -1;
    char *end;
    unsigned long long hi = strtoull(text, &end, 16);
    if (end == text || *end != '/' || hi > 0xffffffffULL)
        return -1;
    const char *lo_s = end + 1;
    unsigned long long lo = strtoull(lo_s, &end, 16);
    if (end == lo_s || lo > 0xffffffffULL)
        return -1;
    if (*end && *end != ':')
        return -1;
    return (int64_t)((hi << 32) | lo);
}

/* "alchdb1:<sysid decimal>:<hi>/<lo>" */
static int token_parse(const char *tok, uint64_t *sysid, int64_t *lsn)
{
    if (strncmp(tok, "alchdb1:", 8) != 0)
        return -1;
    char *end;
    unsigned long long id = strtoull(tok + 8, &end, 10);
    if (end == tok + 8 || *end != ':')
        return -1;
    int64_t l = alchdb__lsn_parse(end + 1);
    const char *p = strchr(end + 1, '/');
    if (l < 0 || !p)
        return -1;
    p++;
    while ((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'F') || (*p >= 'a' && *p <= 'f'))
        p++;
    if (*p)
        return -1;
    *sysid = id;
    *lsn = l;
    return 0;
}

ALCHDB_API int alchdb_router_note_token(alchdb_router *r, const char *token)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(token, "token", "must not be NULL");
    uint64_t id;
    int64_t lsn;
    if (token_parse(token, &id, &lsn) < 0 || strlen(token) >= sizeof r->last_token)
        return alchdb__error(ALCHDB_E_INVALID, "%s: malformed consistency token", __func__);
    pthread_mutex_lock(&r->lock);
    uint64_t cur_id;
    int64_t cur = 0;
    if (!r->last_token[0] || token_parse(r->last_token, &cur_id, &cur) < 0 || lsn > cur)
        snprintf(r->last_token, sizeof r->last_token, "%s", token);
    pthread_mutex_unlock(&r->lock);
    return 0;
}

ALCHDB_API int alchdb_router_token(alchdb_router *r, char *buf, size_t cap)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(buf, "buf", "must not be NULL");
    ALCHDB_CHECK_ARG(cap >= 64, "cap", "must be at least 64");
    alchdb_conn *c = NULL;
    int rc = alchdb__pool_acquire(r->hosts[0].pool, r->cfg.acquire_timeout_us, "router-token", &c);
    if (rc < 0)
        return rc;
    /* The insert position covers every record already inserted, including our
     * commit even with synchronous_commit = off. */
    PGresult *res = PQexec(c->slot->pg, "SELECT pg_current_wal_insert_lsn()::text, "
                                        "(SELECT system_identifier FROM pg_control_system())::text");
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        rc = alchdb__error(ALCHDB_E_QUERY, "alchdb_router_token: %s", PQresultErrorMessage(res));
        if (alchdb__sqlstate_is_fatal(st) || PQstatus(c->slot->pg) != CONNECTION_OK)
            alchdb_conn_mark_broken(c);
        PQclear(res);
        alchdb__pool_release(r->hosts[0].pool, c);
        return rc;
    }
    int n = snprintf(buf, cap, "alchdb1:%s:%s", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
    PQclear(res);
    alchdb__pool_release(r->hosts[0].pool, c);
    if (n < 0 || (size_t)n >= cap)
        return alchdb__error(ALCHDB_E_RANGE, "alchdb_router_token: buffer too small");
    alchdb_router_note_token(r, buf);
    return 0;
}

/* ---- breaker ----------------------------------------------------------------- */

bool alchdb__router_breaker_allows(alchdb_router *r, router_host *h)
{
    if (atomic_load_explicit(&h->breaker, memory_order_acquire) == BREAKER_CLOSED)
        return true;
    bool ok = false;
    pthread_mutex_lock(&r->lock);
    int st = atomic_load(&h->breaker);
    if (st == BREAKER_CLOSED) {
        ok = true;
    } else if (st == BREAKER_OPEN && alchdb__now_ns() >= h->open_until_ns) {
        atomic_store(&h->breaker, BREAKER_HALF_OPEN);
        h->trial_in_flight = true;
        ok = true;
    } else if (st == BREAKER_HALF_OPEN && !h->trial_in_flight) {
        h->trial_in_flight = true;
        ok = true;
    }
    pthread_mutex_unlock(&r->lock);
    return ok;
}

void alchdb__router_breaker_result(alchdb_router *r, router_host *h, bool ok)
{
    if (ok && atomic_load_explicit(&h->breaker, memory_order_acquire) == BREAKER_CLOSED &&
        atomic_load_explicit(&h->failures, memory_order_relaxed) == 0)
        return;
    pthread_mutex_lock(&r->lock);
    int st = atomic_load(&h->breaker);
    if (ok) {
        if (st != BREAKER_CLOSED)
            alchdb__log(ALCHDB_LOG_INFO, "router", "%s: circuit breaker closed (host answers again)", h->display);
        atomic_store(&h->breaker, BREAKER_CLOSED);
        h->failures = 0;
        h->trial_in_flight = false;
        h->open_period_ns = r->cfg.breaker_open_us * 1000;
    } else {
        h->failures++;
        if (st == BREAKER_HALF_OPEN) {
            h->open_period_ns *= 2;
            if (h->open_period_ns > r->cfg.breaker_max_open_us * 1000)
                h->open_period_ns = r->cfg.breaker_max_open_us * 1000;
            h->open_until_ns = alchdb__now_ns() + h->open_period_ns;
            h->trial_in_flight = false;
            atomic_store(&h->breaker, BREAKER_OPEN);
        } else if (st == BREAKER_CLOSED && h->failures >= r->cfg.breaker_failures) {
            h->open_until_ns = alchdb__now_ns() + h->open_period_ns;
            atomic_store(&h->breaker, BREAKER_OPEN);
            atomic_fetch_add(&h->breaker_opens, 1);
            alchdb__log(ALCHDB_LOG_WARN, "router", "%s: circuit breaker open after %d consecutive failures",
                        h->display, atomic_load(&h->failures));
        }
    }
    pthread_mutex_unlock(&r->lock);
}

/* ---- routing ------------------------------------------------------------------ */

static _Thread_local uint64_t tl_rand;

static uint64_t rnd(void)
{
    if (!tl_rand)
        tl_rand = (uint64_t)alchdb__now_ns() ^ (uint64_t)(uintptr_t)&tl_rand;
    tl_rand ^= tl_rand << 13;
    tl_rand ^= tl_rand >> 7;
    tl_rand ^= tl_rand << 17;
    return tl_rand;
}

static bool replica_candidate(const router_host *h, int64_t need_lsn)
{
    if (h->primary || !atomic_load_explicit(&h->healthy, memory_order_relaxed))
        return false;
    int st = atomic_load_explicit(&h->breaker, memory_order_relaxed);
    if (st == BREAKER_OPEN && alchdb__now_ns() < h->open_until_ns)
        return false;
    if (need_lsn > 0 && atomic_load_explicit(&h->replay_lsn, memory_order_relaxed) < need_lsn)
        return false;
    return true;
}

/* Pick a replica by policy among candidates not in the exclude mask; -1 when none. */
static int pick_replica(alchdb_router *r, uint64_t exclude, int64_t need_lsn)
{
    int cand[MAX_HOSTS];
    int n = 0;
    int64_t total_w = 0;
    for (size_t i = 1; i < r->nhosts; i++) {
        if ((exclude >> i) & 1 || !replica_candidate(&r->hosts[i], need_lsn))
            continue;
        cand[n++] = (int)i;
        total_w += r->hosts[i].weight;
    }
    if (n == 0)
        return -1;
    switch (r->cfg.policy) {
    case ALCHDB_ROUTER_RANDOM:
        return cand[rnd() % (uint64_t)n];
    case ALCHDB_ROUTER_LEAST_OUTSTANDING: {
        uint64_t start = atomic_fetch_add_explicit(&r->rr, 1, memory_order_relaxed);
        int best = -1;
        int64_t best_out = INT64_MAX;
        for (int k = 0; k < n; k++) {
            int i = cand[(start + (uint64_t)k) % (uint64_t)n];
            int64_t o = atomic_load_explicit(&r->hosts[i].outstanding, memory_order_relaxed);
            if (o < best_out) {
                best_out = o;
                best = i;
            }
        }
        return best;
    }
    case ALCHDB_ROUTER_WEIGHTED: {
        int64_t x = (int64_t)(rnd() % (uint64_t)total_w);
        for (int k = 0; k < n; k++) {
            x -= r->hosts[cand[k]].weight;
            if (x < 0)
                return cand[k];
        }
        return cand[n - 1];
    }
    default:
        return cand[atomic_fetch_add_explicit(&r->rr, 1, memory_order_relaxed) % (uint64_t)n];
    }
}

/* Where the SQL analysis says a statement must run. */
static int classify(const char *sql, size_t len, bool *replica_ok)
{
    *replica_ok = false;
    if (!sql)
        return ALCHDB_ROUTE_UNSURE;
    alchdb_sql_analysis *a = NULL;
    int rc = alchdb_sql_analyze(sql, len, &a);
    if (rc < 0) {
        alchdb_sql_analysis_free(a);
        return ALCHDB_ROUTE_UNSURE;
    }
    size_t n = alchdb_sql_analysis_count(a);
    int reason = n ? ALCHDB_ROUTE_READ_ONLY : ALCHDB_ROUTE_UNSURE;
    for (size_t i = 0; i < n && reason == ALCHDB_ROUTE_READ_ONLY; i++) {
        uint32_t f = 0;
        if (alchdb_sql_stmt_flags(a, i, &f) < 0)
            reason = ALCHDB_ROUTE_UNSURE;
        else if (f & ALCHDB_SQL_LOCKING)
            reason = ALCHDB_ROUTE_LOCKING;
        else if (f & ALCHDB_SQL_SIDE_EFFECTS)
            reason = ALCHDB_ROUTE_SIDE_EFFECTS;
        else if (!(f & ALCHDB_SQL_READ_ONLY))
            reason = ALCHDB_ROUTE_WRITES;
    }
    alchdb_sql_analysis_free(a);
    *replica_ok = reason == ALCHDB_ROUTE_READ_ONLY;
    return reason;
}

static void count(alchdb_router *r, int reason)
{
    if (reason > 0 && reason < ROUTER_MAX_REASON)
        atomic_fetch_add_explicit(&r->reasons[reason], 1, memory_order_relaxed);
}

/* Reads the primary takes for failed-over replicas: logged, counted, capped. */
static int fallback_admit(alchdb_router *r)
{
    atomic_fetch_add_explicit(&r->fallbacks, 1, memory_order_relaxed);
    int64_t now = alchdb__now_ns();
    int64_t last = atomic_load_explicit(&r->last_fallback_log_ns, memory_order_relaxed);
    if (now - last > INT64_C(10000000000) &&
        atomic_compare_exchange_strong(&r->last_fallback_log_ns, &last, now))
        alchdb__log(ALCHDB_LOG_WARN, "router",
                    "no healthy replica: reads fall back to the primary %s (%" PRId64 " reads so far)",
                    r->hosts[0].display, atomic_load(&r->fallbacks));
    if (r->cfg.fallback_max_per_sec <= 0)
        return 0;
    int64_t sec = now / 1000000000;
    int64_t cur = atomic_load(&r->fb_second);
    if (cur != sec && atomic_compare_exchange_strong(&r->fb_second, &cur, sec))
        atomic_store(&r->fb_count, 0);
    if (atomic_fetch_add(&r->fb_count, 1) + 1 > r->cfg.fallback_max_per_sec) {
        atomic_fetch_add(&r->fallback_rejected, 1);
        return alchdb__error(ALCHDB_E_BUSY,
                             "router: no healthy replica and the primary already took %" PRId64
                             " fallback reads this second (fallback_max_per_sec)",
                             r->cfg.fallback_max_per_sec);
    }
    return 0;
}

/* Ask the chosen replica how far it has replayed; waits up to the causal
 * wait for it to reach need. */
static bool replica_reached(alchdb_router *r, router_host *h, alchdb_conn *c, int64_t need)
{
    int64_t deadline = alchdb__now_ns() + r->cfg.causal_wait_us * 1000;
    bool waited = false;
    for (;;) {
        atomic_fetch_add_explicit(&r->causal_checks, 1, memory_order_relaxed);
        PGresult *res = PQexec(c->slot->pg, "SELECT pg_last_wal_replay_lsn()::text");
        int64_t lsn = -1;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
            lsn = alchdb__lsn_parse(PQgetvalue(res, 0, 0));
        else if (alchdb__sqlstate_is_fatal(PQresultErrorField(res, PG_DIAG_SQLSTATE)) ||
                 PQstatus(c->slot->pg) != CONNECTION_OK)
            alchdb_conn_mark_broken(c);
        PQclear(res);
        if (lsn < 0)
            return false;
        int64_t known = atomic_load(&h->replay_lsn);
        while (lsn > known && !atomic_compare_exchange_weak(&h->replay_lsn, &known, lsn))
            ;
        if (lsn >= need)
            return true;
        if (alchdb__now_ns() >= deadline)
            return false;
        if (!waited) {
            atomic_fetch_add_explicit(&r->causal_waits, 1, memory_order_relaxed);
            waited = true;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static int acquire_on(alchdb_router *r, int host, int64_t timeout_us, const char *tag, alchdb_conn **out)
{
    router_host *h = &r->hosts[host];
    int rc = alchdb__pool_acquire(h->pool, timeout_us, tag, out);
    if (rc == ALCHDB_E_CONNECT) {
        alchdb__router_breaker_result(r, h, false);
        if (!h->primary)
            atomic_store(&h->replay_lsn, 0);
    }
    if (rc == 0)
        atomic_fetch_add_explicit(&h->outstanding, 1, memory_order_relaxed);
    return rc;
}

int alchdb__router_acquire_ex(alchdb_router *r, int intent, const char *sql, size_t sql_len, const char *token,
                              int64_t timeout_us, const char *tag, int exclude_host, alchdb_conn **conn_out,
                              int *reason_out, int *host_out)
{
    *conn_out = NULL;
    if (timeout_us < 0)
        timeout_us = r->cfg.acquire_timeout_us;
    char tokbuf[64];
    if (!token && r->cfg.causal_default) {
        pthread_mutex_lock(&r->lock);
        snprintf(tokbuf, sizeof tokbuf, "%s", r->last_token);
        pthread_mutex_unlock(&r->lock);
        if (tokbuf[0])
            token = tokbuf;
    }
    int64_t need = 0;
    int reason;
    bool replica_ok = false;
    if (token) {
        uint64_t id;
        if (token_parse(token, &id, &need) < 0)
            return alchdb__error(ALCHDB_E_INVALID, "router: malformed consistency token");
        if (id != atomic_load(&r->sysid)) {
            need = -1; /* from another cluster: never claim consistency */
        }
    }
    switch (intent) {
    case ALCHDB_INTENT_WRITE: reason = ALCHDB_ROUTE_INTENT_WRITE; break;
    case ALCHDB_INTENT_PRIMARY: reason = ALCHDB_ROUTE_INTENT_PRIMARY; break;
    case ALCHDB_INTENT_READ: reason = ALCHDB_ROUTE_INTENT_READ; replica_ok = true; break;
    case ALCHDB_INTENT_AUTO: reason = classify(sql, sql_len, &replica_ok); break;
    default: return alchdb__invalid_arg(__func__, "intent", "must be an alchdb_router_intent");
    }
    if (replica_ok && need < 0) {
        replica_ok = false;
        reason = ALCHDB_ROUTE_FOREIGN_TOKEN;
    }
    if (replica_ok && r->nhosts == 1) {
        replica_ok = false;
        reason = ALCHDB_ROUTE_NO_REPLICAS;
    }
    if (exclude_host >= 0 && replica_ok)
        atomic_fetch_add_explicit(&r->retries, 1, memory_order_relaxed);
    int rc;
    uint64_t excluded = exclude_host > 0 ? UINT64_C(1) << exclude_host : 0;
    for (int attempt = 0; replica_ok && attempt < 2; attempt++) {
        /* Replicas known to have replayed far enough first; then any healthy one, checked. */
        int host = need > 0 ? pick_replica(r, excluded, need) : -1;
        bool known = host >= 0;
        if (host < 0)
            host = pick_replica(r, excluded, 0);
        if (host < 0)
            break;
        excluded |= UINT64_C(1) << host;
        if (!alchdb__router_breaker_allows(r, &r->hosts[host]))
            continue;
        alchdb_conn *c = NULL;
        rc = acquire_on(r, host, timeout_us, tag, &c);
        if (rc == ALCHDB_E_CLOSED)
            return rc;
        if (rc < 0)
            continue; /* that replica cannot give a connection now: try another, then the primary */
        if (need > 0 && !known && !replica_reached(r, &r->hosts[host], c, need)) {
            atomic_fetch_sub_explicit(&r->hosts[host].outstanding, 1, memory_order_relaxed);
            alchdb__pool_release(r->hosts[host].pool, c);
            reason = ALCHDB_ROUTE_CAUSAL_PRIMARY;
            replica_ok = false;
            break;
        }
        if (need > 0)
            reason = ALCHDB_ROUTE_CAUSAL_REPLICA;
        else if (exclude_host >= 0)
            reason = ALCHDB_ROUTE_RETRY;
        atomic_fetch_add_explicit(&r->hosts[host].reads, 1, memory_order_relaxed);
        count(r, reason);
        *conn_out = c;
        if (reason_out)
            *reason_out = reason;
        if (host_out)
            *host_out = host;
        return 0;
    }
    if (replica_ok) { /* wanted a replica, none could take it */
        reason = exclude_host >= 0 ? ALCHDB_ROUTE_RETRY : ALCHDB_ROUTE_NO_HEALTHY_REPLICA;
        if ((rc = fallback_admit(r)) < 0)
            return rc;
    }
    rc = acquire_on(r, 0, timeout_us, tag, conn_out);
    if (rc < 0)
        return rc;
    if (reason == ALCHDB_ROUTE_INTENT_WRITE || reason == ALCHDB_ROUTE_WRITES || reason == ALCHDB_ROUTE_LOCKING ||
        reason == ALCHDB_ROUTE_SIDE_EFFECTS || reason == ALCHDB_ROUTE_UNSURE)
        atomic_fetch_add_explicit(&r->hosts[0].writes, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&r->hosts[0].reads, 1, memory_order_relaxed);
    count(r, reason);
    if (reason_out)
        *reason_out = reason;
    if (host_out)
        *host_out = 0;
    return 0;
}

ALCHDB_API int alchdb_router_acquire(alchdb_router *r, int intent, const char *sql, const char *token,
                                     int64_t timeout_us, const char *tag, alchdb_conn **conn_out, int *reason_out)
{
    ALCHDB_CHECK_ARG(conn_out, "conn_out", "must not be NULL");
    *conn_out = NULL;
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(intent != ALCHDB_INTENT_AUTO || sql, "sql", "must not be NULL when intent is AUTO");
    return alchdb__router_acquire_ex(r, intent, sql, sql ? strlen(sql) : 0, token, timeout_us, tag, -1, conn_out,
                                     reason_out, NULL);
}

int alchdb__router_conn_host(alchdb_router *r, const alchdb_conn *conn)
{
    if (!conn)
        return -1;
    for (size_t i = 0; i < r->nhosts; i++)
        if (conn->pool == r->hosts[i].pool)
            return (int)i;
    return -1;
}

ALCHDB_API int alchdb_router_conn_is_replica(const alchdb_router *r, const alchdb_conn *conn)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(conn, "conn", "must not be NULL");
    int h = alchdb__router_conn_host((alchdb_router *)r, conn);
    if (h < 0)
        return alchdb__invalid_arg(__func__, "conn", "not a connection of this router");
    return h > 0;
}

ALCHDB_API int alchdb_router_release(alchdb_router *r, alchdb_conn *conn, const char *sqlstate)
{
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    ALCHDB_CHECK_ARG(conn, "conn", "must not be NULL");
    int hi = alchdb__router_conn_host(r, conn);
    if (hi < 0)
        return alchdb__invalid_arg(__func__, "conn", "not a connection of this router");
    router_host *h = &r->hosts[hi];
    bool gone = sqlstate && alchdb__sqlstate_is_fatal(sqlstate);
    if (!gone && conn->slot && conn->slot->pg && PQstatus(conn->slot->pg) == CONNECTION_BAD)
        gone = true;
    if (gone) {
        alchdb_conn_mark_broken(conn);
        atomic_fetch_add_explicit(&h->errors, 1, memory_order_relaxed);
        if (!h->primary)
            atomic_store(&h->replay_lsn, 0); /* after a restart it may replay from further back */
        alchdb__router_breaker_result(r, h, false);
    } else if (h->primary && sqlstate && !strcmp(sqlstate, "25006")) {
        /* read_only_sql_transaction on the primary: it is not a primary now. */
        if (!atomic_exchange(&h->wrong_role, 1)) {
            atomic_fetch_add(&r->wrong_role_events, 1);
            alchdb__log(ALCHDB_LOG_ERROR, "router", "%s answered 25006 (read-only): it is not a primary any more",
                        h->display);
        }
        pthread_mutex_lock(&r->lock);
        pthread_cond_broadcast(&r->wake); /* re-probe now */
        pthread_mutex_unlock(&r->lock);
    } else {
        alchdb__router_breaker_result(r, h, true);
    }
    int rc = alchdb_pool_release(h->pool, conn);
    if (rc == 0)
        atomic_fetch_sub_explicit(&h->outstanding, 1, memory_order_relaxed);
    return rc;
}

/* ---- introspection --------------------------------------------------------------- */

ALCHDB_API const char *alchdb_route_reason_name(int reason)
{
    static const char *const names[] = {"unknown",        "intent_write",        "intent_primary", "intent_read",
                                        "read_only",      "writes",              "locking",        "side_effects",
                                        "unsure",         "no_healthy_replica",  "causal_primary", "foreign_token",
                                        "causal_replica", "retry",               "no_replicas"};
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
    const router_host *h = &r->hosts[i];
    if (h->primary)
        return !atomic_load(&h->wrong_role);
    return atomic_load(&h->healthy) && atomic_load(&h->breaker) != BREAKER_OPEN;
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

ALCHDB_API int alchdb_router_metrics_json(alchdb_router *r, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(r, "r", "must not be NULL");
    static const char *const brk[] = {"closed", "open", "half_open"};
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "{\"policy\":%" PRId64 ",\"hosts\":[", r->cfg.policy);
    for (size_t i = 0; i < r->nhosts; i++) {
        router_host *h = &r->hosts[i];
        alchdb__sb_puts(&sb, i ? ",{\"name\":" : "{\"name\":");
        alchdb__sb_json_str(&sb, h->display);
        int rec = atomic_load(&h->in_recovery);
        alchdb__sb_printf(&sb,
                          ",\"role\":\"%s\",\"healthy\":%s,\"in_recovery\":%s,\"wrong_role\":%s,\"probe_ok\":%s,"
                          "\"lag_bytes\":%" PRId64 ",\"lag_seconds\":%.3f,\"lag_excluded\":%s,\"replay_lsn\":%" PRId64
                          ",\"breaker\":\"%s\",\"weight\":%" PRId64 ",\"outstanding\":%" PRId64 ",\"reads\":%" PRId64
                          ",\"writes\":%" PRId64 ",\"errors\":%" PRId64 ",\"breaker_opens\":%" PRId64 "}",
                          h->primary ? "primary" : "replica",
                          alchdb_router_host_healthy(r, i) ? "true" : "false",
                          rec < 0 ? "null" : rec ? "true" : "false", atomic_load(&h->wrong_role) ? "true" : "false",
                          atomic_load(&h->probe_ok) ? "true" : "false", atomic_load(&h->lag_bytes),
                          (double)atomic_load(&h->lag_us) / 1e6, atomic_load(&h->lag_excluded) ? "true" : "false",
                          atomic_load(&h->replay_lsn), brk[atomic_load(&h->breaker) % 3], h->weight,
                          atomic_load(&h->outstanding), atomic_load(&h->reads), atomic_load(&h->writes),
                          atomic_load(&h->errors), atomic_load(&h->breaker_opens));
    }
    alchdb__sb_printf(&sb,
                      "],\"fallbacks\":%" PRId64 ",\"fallback_rejected\":%" PRId64 ",\"retries\":%" PRId64
                      ",\"causal_checks\":%" PRId64 ",\"causal_waits\":%" PRId64 ",\"wrong_role_events\":%" PRId64
                      ",\"decisions\":{",
                      atomic_load(&r->fallbacks), atomic_load(&r->fallback_rejected), atomic_load(&r->retries),
                      atomic_load(&r->causal_checks), atomic_load(&r->causal_waits),
                      atomic_load(&r->wrong_role_events));
    for (int k = 1; k <= ALCHDB_ROUTE_NO_REPLICAS; k++)
        alchdb__sb_printf(&sb, "%s\"%s\":%" PRId64, k > 1 ? "," : "", alchdb_route_reason_name(k),
                          atomic_load(&r->reasons[k]));
    alchdb__sb_puts(&sb, "}}");
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("router metrics");
}
