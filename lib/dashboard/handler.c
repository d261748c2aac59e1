/* The embeddable HTTP request handler: a table of routes, each naming the
 * module it needs (a route whose module is not attached answers 404), the
 * seed's envelope {"status":"success","data":...} and JSON errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/dash.h"

#define PREFIX "/api/v1/database/performance/"
#define JSON_TYPE "application/json; charset=utf-8"
#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define MAX_TARGET 4096
#define MAX_ITEMS 1000

enum { NEED_NONE = 0, NEED_POOL = 1, NEED_MONITOR = 2, NEED_CACHE = 4, NEED_ADVISOR = 8, NEED_PERFTEST = 16 };

typedef struct req {
    alchdb_dashboard *d;
    const dash_view *v;
    const char *query; /* after '?', or "" */
    const char *param; /* the path's last segment for a route ending in ":id" */
    size_t param_len;
    const char *body;
    size_t len;
    /* the answer */
    int status;
    const char *type;
    alchdb__strbuf out;
    bool raw; /* out holds the whole body (no envelope) */
} req;

typedef void (*route_fn)(req *r);

typedef struct route {
    const char *method, *path; /* path relative to PREFIX, or absolute when it starts with '/';
                                * a last segment ":id" matches any one non-empty segment */
    unsigned need;
    route_fn fn;
} route;

/* ---- answers ------------------------------------------------------------------- */

static void fail(req *r, int status, const char *code, const char *msg)
{
    alchdb__sb_reset(&r->out);
    r->status = status;
    r->type = JSON_TYPE;
    r->raw = true;
    alchdb__sb_printf(&r->out, "{\"status\":\"error\",\"error\":{\"code\":\"%s\",\"message\":",
                      code);
    alchdb__sb_json_str(&r->out, msg);
    alchdb__sb_puts(&r->out, "}}");
}

/* A library call failed: its error becomes the answer. */
static void fail_call(req *r, int rc)
{
    int status = rc == ALCHDB_E_INVALID ? 400 : rc == ALCHDB_E_NOTFOUND ? 404 : 500;
    fail(r, status, status == 400 ? "bad_request" : status == 404 ? "not_found" : "internal",
         alchdb_last_error_message());
}

/* data = the owned JSON text of a module call. */
static void data_text(req *r, int rc, char *text)
{
    if (rc != 0) {
        alchdb_free(text);
        fail_call(r, rc);
        return;
    }
    alchdb__sb_puts(&r->out, text);
    alchdb_free(text);
}

/* ---- query string -------------------------------------------------------------- */

/* The value of integer parameter `name` in 1..max, def when absent; -1 after
 * answering 400. */
static int64_t param_int(req *r, const char *name, int64_t def, int64_t max)
{
    size_t nl = strlen(name);
    for (const char *p = r->query; *p;) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && !strncmp(p, name, nl) && p[nl] == '=') {
            char buf[24];
            size_t vl = len - nl - 1;
            char *stop;
            if (vl == 0 || vl >= sizeof buf)
                goto bad;
            memcpy(buf, p + nl + 1, vl);
            buf[vl] = '\0';
            errno = 0;
            long long x = strtoll(buf, &stop, 10);
            if (*stop || errno || x < 1 || x > max)
                goto bad;
            return x;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    return def;
bad:;
    char msg[128];
    snprintf(msg, sizeof msg, "parameter %s must be an integer from 1 to %lld", name,
             (long long)max);
    fail(r, 400, "bad_request", msg);
    return -1;
}

/* The request body as a JSON object ({} when empty); NULL after answering 400. */
static json_t *body_object(req *r)
{
    if (r->len == 0)
        return json_object();
    json_error_t e;
    json_t *j = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &e);
    if (!j || !json_is_object(j)) {
        char msg[256];
        snprintf(msg, sizeof msg, "the body must be a JSON object%s%s", j ? "" : ": ",
                 j ? "" : e.text);
        json_decref(j);
        fail(r, 400, "bad_request", msg);
        return NULL;
    }
    return j;
}

/* Strings of array member `key` (absent = none); -1 after answering 400. The
 * pointers borrow from the object. */
static long string_list(req *r, json_t *obj, const char *key, const char **items, size_t cap)
{
    json_t *a = json_object_get(obj, key);
    if (!a)
        return 0;
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an array of at most %zu non-empty strings", key, cap);
    if (!json_is_array(a) || json_array_size(a) > cap) {
        fail(r, 400, "bad_request", msg);
        return -1;
    }
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        const char *s = json_string_value(x);
        if (!s || !*s || strlen(s) != json_string_length(x)) {
            fail(r, 400, "bad_request", msg);
            return -1;
        }
        items[i] = s;
    }
    return (long)json_array_size(a);
}

/* ---- routes --------------------------------------------------------------------- */

static void r_dashboard(req *r)
{
    if (alchdb__dash_snapshot_json(r->v, &r->out) != 0)
        fail_call(r, alchdb_last_error_code());
}

static void r_export(req *r)
{
    alchdb__sb_printf(&r->out, "{\"filename\":\"alchdb-dashboard-%lld.json\",\"snapshot\":",
                      (long long)(r->v->now_us / 1000000));
    if (alchdb__dash_snapshot_json(r->v, &r->out) != 0) {
        fail_call(r, alchdb_last_error_code());
        return;
    }
    alchdb__sb_puts(&r->out, "}");
}

static void r_health(req *r)
{
    static const int code[] = {200, 202, 503};
    r->status = code[r->v->health.status];
    alchdb__sb_puts(&r->out, "{");
    alchdb__dash_health_members(&r->out, &r->v->health, r->v->alerts, &r->v->sample);
    alchdb__sb_puts(&r->out, "}");
}

static void r_metrics_json(req *r)
{
    const dash_view *v = r->v;
    alchdb__sb_printf(&r->out, "{\"score\":%.1f,\"qps\":", v->health.score);
    if (v->monitor)
        alchdb__sb_printf(&r->out, "{\"uptime\":%.3f,\"last_minute\":%.3f}", v->qps_uptime,
                          v->qps_last_minute);
    else
        alchdb__sb_puts(&r->out, "null");
    alchdb__sb_puts(&r->out, ",\"connections\":");
    if (v->pool || v->rt)
        alchdb__dash_pools_json(v, &r->out);
    else
        alchdb__sb_puts(&r->out, "null");
    alchdb__sb_puts(&r->out, ",\"cache\":");
    if (v->cache) {
        char *t = NULL;
        if (alchdb_cache_to_json(v->cache, &t) != 0) {
            alchdb_free(t);
            fail_call(r, alchdb_last_error_code());
            return;
        }
        alchdb__sb_puts(&r->out, t);
        alchdb_free(t);
    } else {
        alchdb__sb_puts(&r->out, "null");
    }
    alchdb__sb_puts(&r->out, ",\"queries\":");
    if (v->analysis) {
        char *t = json_dumps(json_object_get(v->analysis, "summary"), JSON_COMPACT);
        alchdb__sb_puts(&r->out, t ? t : "null");
        free(t);
    } else {
        alchdb__sb_puts(&r->out, "null");
    }
    alchdb__sb_puts(&r->out, "}");
}

static void r_slow(req *r)
{
    int64_t limit = param_int(r, "limit", 50, 10000);
    if (limit < 0)
        return;
    char *t = NULL;
    int rc = alchdb_monitor_slow_log_to_json(r->v->monitor, limit, &t);
    data_text(r, rc, t);
}

static void r_analysis(req *r)
{
    int64_t limit = param_int(r, "limit", 10, 1000);
    if (limit < 0)
        return;
    char *t = NULL;
    int rc = alchdb_monitor_analysis_to_json(r->v->monitor, limit, &t);
    data_text(r, rc, t);
}

static void r_patterns(req *r)
{
    int64_t limit = param_int(r, "limit", 50, 10000);
    if (limit < 0)
        return;
    char *t = NULL;
    int rc = alchdb_monitor_patterns_to_json(r->v->monitor, ALCHDB_MONITOR_SORT_TOTAL_TIME, limit,
                                              ALCHDB_MONITOR_JSON_WINDOWS, &t);
    data_text(r, rc, t);
}

static void r_index_analysis(req *r)
{
    char *t = NULL;
    int rc = alchdb_advisor_report_to_json(r->v->adv_report, &t);
    data_text(r, rc, t);
}

static bool table_wanted(const char *table, const char *const *tables, long n)
{
    if (n <= 0)
        return true;
    for (long i = 0; i < n; i++)
        if (table && !strcmp(table, tables[i]))
            return true;
    return false;
}

/* Items of one kind of the attached report, optionally only for some tables. */
static void items(req *r, int kind, const char *const *tables, long ntables)
{
    const alchdb_advisor_report *rep = r->v->adv_report;
    int64_t n = alchdb_advisor_report_count(rep, kind);
    alchdb__sb_puts(&r->out, "[");
    bool first = true;
    for (int64_t i = 0; i < n; i++) {
        const char *table = alchdb_advisor_report_item_table(rep, kind, (size_t)i);
        if (!table_wanted(table, tables, ntables))
            continue;
        alchdb__sb_puts(&r->out, first ? "{\"table\":" : ",{\"table\":");
        alchdb__sb_json_str(&r->out, table);
        alchdb__sb_puts(&r->out, ",\"name\":");
        alchdb__sb_json_str(&r->out, alchdb_advisor_report_item_name(rep, kind, (size_t)i));
        alchdb__sb_puts(&r->out, ",\"detail\":");
        alchdb__sb_json_str(&r->out, alchdb_advisor_report_item_detail(rep, kind, (size_t)i));
        alchdb__sb_puts(&r->out, ",\"sql\":");
        alchdb__sb_json_str(&r->out, alchdb_advisor_report_item_sql(rep, kind, (size_t)i));
        alchdb__sb_puts(&r->out, "}");
        first = false;
    }
    alchdb__sb_puts(&r->out, "]");
}

static void r_suggestions(req *r)
{
    alchdb__sb_puts(&r->out, "{\"missing_indexes\":");
    items(r, ALCHDB_ADVISOR_MISSING, NULL, 0);
    alchdb__sb_puts(&r->out, ",\"fk_without_index\":");
    items(r, ALCHDB_ADVISOR_FK, NULL, 0);
    alchdb__sb_puts(&r->out, ",\"redundant_indexes\":");
    items(r, ALCHDB_ADVISOR_REDUNDANT, NULL, 0);
    alchdb__sb_puts(&r->out, ",\"script\":");
    alchdb__sb_json_str(&r->out, alchdb_advisor_report_script(r->v->adv_report));
    alchdb__sb_puts(&r->out, "}");
}

static void r_unused(req *r)
{
    items(r, ALCHDB_ADVISOR_UNUSED, NULL, 0);
}

/* Dry run: the suggestions that would be applied. Apply: each missing index
 * through the advisor (CREATE INDEX CONCURRENTLY with its lock timeout). */
static void r_optimize(req *r)
{
    json_t *b = body_object(r);
    if (!b)
        return;
    const char *tables[MAX_ITEMS];
    long nt = string_list(r, b, "tables", tables, MAX_ITEMS);
    json_t *dr = json_object_get(b, "dry_run");
    if (nt < 0 || (dr && !json_is_boolean(dr))) {
        if (nt >= 0)
            fail(r, 400, "bad_request", "dry_run must be true or false");
        json_decref(b);
        return;
    }
    bool dry = !dr || json_is_true(dr);
    if (!dry && !r->v->adv_opts) {
        json_decref(b);
        fail(r, 404, "not_attached",
             "applying needs the advisor's options: attach them with alchdb_dashboard_attach_advisor()");
        return;
    }
    alchdb__sb_printf(&r->out, "{\"dry_run\":%s,\"indexes\":", dry ? "true" : "false");
    if (dry) {
        items(r, ALCHDB_ADVISOR_MISSING, tables, nt);
    } else {
        const alchdb_advisor_report *rep = r->v->adv_report;
        int64_t n = alchdb_advisor_report_count(rep, ALCHDB_ADVISOR_MISSING);
        alchdb__sb_puts(&r->out, "[");
        bool first = true;
        for (int64_t i = 0; i < n; i++) {
            const char *table = alchdb_advisor_report_item_table(rep, ALCHDB_ADVISOR_MISSING, (size_t)i);
            if (!table_wanted(table, tables, nt))
                continue;
            int rc = alchdb_advisor_apply(r->v->adv_opts, rep, ALCHDB_ADVISOR_MISSING, (size_t)i);
            alchdb__sb_puts(&r->out, first ? "{\"table\":" : ",{\"table\":");
            alchdb__sb_json_str(&r->out, table);
            alchdb__sb_puts(&r->out, ",\"sql\":");
            alchdb__sb_json_str(&r->out,
                                alchdb_advisor_report_item_sql(rep, ALCHDB_ADVISOR_MISSING, (size_t)i));
            alchdb__sb_printf(&r->out, ",\"applied\":%s,\"error\":", rc == 0 ? "true" : "false");
            alchdb__sb_json_str(&r->out, rc == 0 ? NULL : alchdb_last_error_message());
            alchdb__sb_puts(&r->out, "}");
            first = false;
        }
        alchdb__sb_puts(&r->out, "]");
    }
    alchdb__sb_puts(&r->out, "}");
    json_decref(b);
}

static void r_cache_stats(req *r)
{
    char *t = NULL;
    int rc = alchdb_cache_to_json(r->v->cache, &t);
    data_text(r, rc, t);
}

static void r_cache_clear(req *r)
{
    int rc = alchdb_cache_clear(r->v->cache);
    if (rc != 0) {
        fail_call(r, rc);
        return;
    }
    alchdb__sb_puts(&r->out, "{\"cleared\":true}");
}

static void r_cache_invalidate(req *r)
{
    json_t *b = body_object(r);
    if (!b)
        return;
    const char *tables[MAX_ITEMS], *tags[MAX_ITEMS];
    long nt = string_list(r, b, "tables", tables, MAX_ITEMS);
    long ng = nt < 0 ? -1 : string_list(r, b, "tags", tags, MAX_ITEMS);
    if (nt < 0 || ng < 0) {
        json_decref(b);
        return;
    }
    if (nt == 0 && ng == 0) {
        json_decref(b);
        fail(r, 400, "bad_request", "give tables or tags to invalidate");
        return;
    }
    int rc = nt ? alchdb_cache_invalidate_tables(r->v->cache, tables, (size_t)nt) : 0;
    for (long i = 0; rc == 0 && i < ng; i++)
        rc = alchdb_cache_invalidate_tag(r->v->cache, tags[i]);
    json_decref(b);
    if (rc != 0) {
        fail_call(r, rc);
        return;
    }
    alchdb__sb_printf(&r->out, "{\"tables\":%ld,\"tags\":%ld}", nt, ng);
}

static void r_connections(req *r)
{
    alchdb__dash_pools_json(r->v, &r->out);
}

static void r_conn_health(req *r)
{
    const dash_view *v = r->v;
    double u = v->sample.v[DS_CONN_UTIL_PCT];
    const char *st = u > 90 ? "critical" : u > 80 ? "warning" : "healthy";
    r->status = u > 90 ? 503 : u > 80 ? 202 : 200;
    alchdb__sb_printf(&r->out, "{\"status\":\"%s\",\"utilization_pct\":%.2f,\"hosts\":", st, u);
    if (!v->router) {
        alchdb__sb_puts(&r->out, "null}");
        return;
    }
    alchdb__sb_puts(&r->out, "[");
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(v->router, "hosts"), i, h)
    {
        alchdb__sb_puts(&r->out, i ? ",{\"name\":" : "{\"name\":");
        alchdb__sb_json_str(&r->out, json_string_value(json_object_get(h, "name")));
        alchdb__sb_puts(&r->out, ",\"role\":");
        alchdb__sb_json_str(&r->out, json_string_value(json_object_get(h, "role")));
        alchdb__sb_printf(&r->out, ",\"healthy\":%s,\"lag_seconds\":%.3f}",
                          json_is_true(json_object_get(h, "healthy")) ? "true" : "false",
                          json_number_value(json_object_get(h, "lag_seconds")));
    }
    alchdb__sb_puts(&r->out, "]}");
}

/* A live-database view: its error (pool exhausted, server down) is a 503. */
static void live_view(req *r, int rc)
{
    if (rc != 0)
        fail(r, rc == ALCHDB_E_INVALID ? 400 : 503, rc == ALCHDB_E_INVALID ? "bad_request" : "unavailable",
             alchdb_last_error_message());
}

static void r_activity(req *r)
{
    live_view(r, alchdb__dash_live_activity(r->v, &r->out));
}

static void r_live_connections(req *r)
{
    live_view(r, alchdb__dash_live_connections(r->v, &r->out));
}

static void r_maintenance(req *r)
{
    live_view(r, alchdb__dash_live_maintenance(r->v, &r->out));
}

static void r_space(req *r)
{
    live_view(r, alchdb__dash_live_space(r->d, r->v, &r->out));
}

static void r_cancel(req *r)
{
    json_t *b = body_object(r);
    if (!b)
        return;
    json_t *pid = json_object_get(b, "pid");
    if (!json_is_integer(pid) || json_integer_value(pid) < 1 || json_integer_value(pid) > 2147483647) {
        json_decref(b);
        fail(r, 400, "bad_request", "pid must be a positive integer");
        return;
    }
    int64_t p = json_integer_value(pid);
    json_decref(b);
    bool cancelled = false;
    int rc = alchdb__dash_live_cancel(r->v, p, &cancelled);
    if (rc == ALCHDB_E_NOTFOUND) {
        fail(r, 404, "not_found", alchdb_last_error_message());
        return;
    }
    live_view(r, rc);
    if (rc == 0)
        alchdb__sb_printf(&r->out, "{\"pid\":%lld,\"cancelled\":%s}", (long long)p,
                          cancelled ? "true" : "false");
}

/* The captured plan of one monitored pattern. Plans are captured by the
 * monitor's own rules (only SELECT/INSERT/UPDATE/DELETE/WITH, generic plans
 * for $n parameters, inside a rolled-back transaction, nothing executed). */
static void r_explain(req *r)
{
    const char *q = strstr(r->query, "id=");
    char id[17];
    if (!q || (q != r->query && q[-1] != '&') || strspn(q + 3, "0123456789abcdef") != 16 ||
        (q[19] && q[19] != '&')) {
        fail(r, 400, "bad_request", "id must be a pattern id (16 lower-case hex digits)");
        return;
    }
    memcpy(id, q + 3, 16);
    id[16] = '\0';
    int captured = 0;
    alchdb_pool *pool = r->v->pool ? r->v->pool : alchdb_router_host_pool(r->v->rt, 0);
    int rc = alchdb_monitor_capture_plans(r->v->monitor, pool, NULL, 10, &captured);
    if (rc != 0) {
        live_view(r, rc);
        return;
    }
    char *t = NULL;
    rc = alchdb_monitor_patterns_to_json(r->v->monitor, ALCHDB_MONITOR_SORT_TOTAL_TIME, 0, 0, &t);
    json_t *all = rc == 0 ? json_loads(t, 0, NULL) : NULL;
    alchdb_free(t);
    if (!all) {
        fail_call(r, rc ? rc : alchdb__nomem("patterns"));
        return;
    }
    size_t i;
    json_t *p, *hit = NULL;
    json_array_foreach(all, i, p)
        if (!strcmp(json_string_value(json_object_get(p, "id")) ? json_string_value(json_object_get(p, "id")) : "", id))
            hit = p;
    if (!hit) {
        json_decref(all);
        fail(r, 404, "not_found", "no such pattern");
        return;
    }
    alchdb__sb_printf(&r->out, "{\"id\":\"%s\",\"text\":", id);
    alchdb__sb_json_str(&r->out, json_string_value(json_object_get(hit, "text")));
    alchdb__sb_puts(&r->out, ",\"plan\":");
    char *plan = json_object_get(hit, "plan") ? json_dumps(json_object_get(hit, "plan"), JSON_COMPACT) : NULL;
    alchdb__sb_puts(&r->out, plan ? plan : "null");
    free(plan);
    if (!json_object_get(hit, "plan"))
        alchdb__sb_puts(&r->out, ",\"reason\":\"not captured: only slow SELECT, INSERT, UPDATE, DELETE and WITH patterns are planned\"");
    alchdb__sb_puts(&r->out, "}");
    json_decref(all);
}

/* ---- the perftest (a store attached with alchdb_dashboard_attach_perftest) ---- */

/* Members of a test/run body and the perftest options they set. */
static const struct {
    const char *member, *option;
    bool seconds; /* a JSON integer counts seconds */
} run_members[] = {
    {"test_suite", "tests", false}, {"profile", "profile", false},
    {"duration", "duration", true}, {"warmup", "warmup", true},
    {"worker_scale", "worker_scale", false},
};

/* Apply one member of the body to cfg; false after answering 400. */
static bool run_member(req *r, alchdb_perftest_config *cfg, const char *key, json_t *val)
{
    if (!strcmp(key, "concurrency")) {
        fail(r, 400, "bad_request",
             "concurrency is not settable: each test runs its ADR-0008 number of workers; "
             "worker_scale (1..100) starts that percentage of them");
        return false;
    }
    size_t i = 0, n = sizeof run_members / sizeof run_members[0];
    while (i < n && strcmp(key, run_members[i].member))
        i++;
    char msg[256];
    if (i == n) {
        snprintf(msg, sizeof msg,
                 "unknown member \"%.64s\": test/run takes test_suite, profile, duration, warmup "
                 "and worker_scale",
                 key);
        fail(r, 400, "bad_request", msg);
        return false;
    }
    char num[32];
    const char *text = NULL;
    if (json_is_string(val) && strlen(json_string_value(val)) == json_string_length(val)) {
        text = json_string_value(val);
        if (!strcmp(key, "test_suite") && !strcmp(text, "all"))
            text = "";
    } else if (json_is_integer(val) && strcmp(key, "test_suite") && strcmp(key, "profile")) {
        snprintf(num, sizeof num, "%lld%s", (long long)json_integer_value(val),
                 run_members[i].seconds ? "s" : "");
        text = num;
    }
    if (!text) {
        snprintf(msg, sizeof msg, "%s must be a %s", key,
                 strcmp(key, "test_suite") && strcmp(key, "profile") ? "string or an integer" : "string");
        fail(r, 400, "bad_request", msg);
        return false;
    }
    if (alchdb_perftest_config_set_from_string(cfg, run_members[i].option, text) != 0) {
        snprintf(msg, sizeof msg, "%s: %s", key, alchdb_last_error_message());
        fail(r, 400, "bad_request", msg);
        return false;
    }
    return true;
}

/* Start a background run: 202 with its id, 409 while another one runs. */
static void r_test_run(req *r)
{
    json_t *b = body_object(r);
    if (!b)
        return;
    alchdb_perftest_store *st = NULL;
    alchdb_perftest_target t;
    alchdb_perftest_config *cfg = NULL;
    int rc = alchdb__dash_perftest_base(r->d, &st, &t, &cfg);
    if (rc != 0) {
        fail_call(r, rc);
    } else if (!st) { /* detached since the request was dispatched */
        fail(r, 404, "not_attached", "no perftest store is attached");
    } else {
        const char *key;
        json_t *val;
        bool ok = true;
        json_object_foreach(b, key, val)
            if (ok)
                ok = run_member(r, cfg, key, val);
        int64_t id = 0;
        if (ok && (rc = alchdb_perftest_store_start(st, &t, cfg, &id)) == ALCHDB_E_BUSY) {
            fail(r, 409, "conflict", "a perftest run is in progress: one at a time");
        } else if (ok && rc != 0) {
            fail_call(r, rc);
        } else if (ok) {
            r->status = 202;
            alchdb__sb_printf(&r->out,
                              "{\"id\":%lld,\"status\":\"running\",\"result\":\"" PREFIX
                              "test/results/%lld\"}",
                              (long long)id, (long long)id);
        }
    }
    alchdb_perftest_config_free(cfg);
    json_decref(b);
}

static void r_test_results(req *r)
{
    char *t = NULL;
    int rc = alchdb_perftest_store_status_json(r->v->pt_store, &t);
    data_text(r, rc, t);
}

static void r_test_result(req *r)
{
    char buf[24], *stop;
    long long id = 0;
    if (r->param_len > 0 && r->param_len < sizeof buf) {
        memcpy(buf, r->param, r->param_len);
        buf[r->param_len] = '\0';
        errno = 0;
        id = strtoll(buf, &stop, 10);
        if (*stop || errno || buf[0] == '+' || buf[0] == '-' || buf[0] == ' ')
            id = 0;
    }
    if (id < 1) {
        fail(r, 400, "bad_request", "the result id must be a positive integer");
        return;
    }
    char *t = NULL;
    int rc = alchdb_perftest_store_result_json(r->v->pt_store, id, &t);
    data_text(r, rc, t);
}

/* Cancel a run by id: 202 (it stops shortly; its result then says
 * "canceled"), 404 for an unknown id, 409 when it has already ended. */
static void r_test_cancel(req *r)
{
    json_t *b = body_object(r);
    if (!b)
        return;
    json_t *jid = json_object_get(b, "id");
    if (!json_is_integer(jid) || json_integer_value(jid) < 1 || json_object_size(b) != 1) {
        json_decref(b);
        fail(r, 400, "bad_request", "test/cancel takes {\"id\": N}, N the id test/run answered");
        return;
    }
    int64_t id = json_integer_value(jid);
    json_decref(b);
    int rc = alchdb_perftest_store_cancel_run(r->v->pt_store, id);
    if (rc == ALCHDB_E_STATE) {
        fail(r, 409, "conflict", alchdb_last_error_message());
    } else if (rc != 0) {
        fail_call(r, rc);
    } else {
        r->status = 202;
        alchdb__sb_printf(&r->out,
                          "{\"id\":%lld,\"status\":\"canceling\",\"result\":\"" PREFIX "test/results/%lld\"}",
                          (long long)id, (long long)id);
    }
}

static void r_page(req *r)
{
    r->raw = true;
    r->type = "text/html; charset=utf-8";
    for (size_t i = 0; alchdb__dash_page[i]; i++)
        alchdb__sb_puts(&r->out, alchdb__dash_page[i]);
}

static void r_prometheus(req *r)
{
    r->raw = true;
    r->type = PROM_TYPE;
    if (alchdb__dash_prometheus(r->v, &r->out) != 0)
        fail_call(r, alchdb_last_error_code());
}

static const route routes[] = {
    {"GET", "dashboard", NEED_NONE, r_dashboard},
    {"GET", "dashboard/export", NEED_NONE, r_export},
    {"GET", "health", NEED_NONE, r_health},
    {"GET", "metrics", NEED_NONE, r_metrics_json},
    {"GET", "queries/slow", NEED_MONITOR, r_slow},
    {"GET", "queries/analysis", NEED_MONITOR, r_analysis},
    {"GET", "queries/patterns", NEED_MONITOR, r_patterns},
    {"GET", "indexes/analysis", NEED_ADVISOR, r_index_analysis},
    {"GET", "indexes/suggestions", NEED_ADVISOR, r_suggestions},
    {"GET", "indexes/unused", NEED_ADVISOR, r_unused},
    {"POST", "indexes/optimize", NEED_ADVISOR, r_optimize},
    {"GET", "cache/stats", NEED_CACHE, r_cache_stats},
    {"POST", "cache/clear", NEED_CACHE, r_cache_clear},
    {"POST", "cache/invalidate", NEED_CACHE, r_cache_invalidate},
    {"GET", "connections", NEED_POOL, r_connections},
    {"GET", "connections/health", NEED_POOL, r_conn_health},
    {"GET", "queries/explain", NEED_MONITOR | NEED_POOL, r_explain},
    {"GET", "database/activity", NEED_POOL, r_activity},
    {"POST", "database/activity/cancel", NEED_POOL, r_cancel},
    {"GET", "database/connections", NEED_POOL, r_live_connections},
    {"GET", "database/maintenance", NEED_POOL, r_maintenance},
    {"GET", "database/space", NEED_POOL, r_space},
    {"POST", "test/run", NEED_PERFTEST, r_test_run},
    {"GET", "test/results", NEED_PERFTEST, r_test_results},
    {"GET", "test/results/:id", NEED_PERFTEST, r_test_result},
    {"POST", "test/cancel", NEED_PERFTEST, r_test_cancel},
    {"GET", "/metrics", NEED_NONE, r_prometheus},
    {"GET", "/", NEED_NONE, r_page},
};

static const struct {
    unsigned need;
    const char *what;
} needs[] = {
    {NEED_POOL, "no pool or router is attached"},
    {NEED_MONITOR, "no monitor is attached"},
    {NEED_CACHE, "no cache is attached"},
    {NEED_ADVISOR, "no advisor report is attached"},
    {NEED_PERFTEST, "no perftest store is attached"},
};

static unsigned attached(const dash_view *v)
{
    return (v->pool || v->rt ? NEED_POOL : 0) | (v->monitor ? NEED_MONITOR : 0) |
           (v->cache ? NEED_CACHE : 0) | (v->adv_report ? NEED_ADVISOR : 0) |
           (v->pt_store ? NEED_PERFTEST : 0);
}

static bool path_is(req *r, const char *path, size_t plen, const route *rt)
{
    const char *want = rt->path;
    size_t off = 0, wl = strlen(want);
    if (want[0] != '/') {
        off = sizeof PREFIX - 1;
        if (plen < off || strncmp(path, PREFIX, off) != 0)
            return false;
    }
    if (wl > 4 && !strcmp(want + wl - 4, "/:id")) {
        /* The fixed part, then one non-empty segment. */
        size_t fixed = wl - 3; /* up to and with the '/' */
        if (plen - off <= fixed || strncmp(path + off, want, fixed) != 0 ||
            memchr(path + off + fixed, '/', plen - off - fixed))
            return false;
        r->param = path + off + fixed;
        r->param_len = plen - off - fixed;
        return true;
    }
    return plen - off == wl && !strncmp(path + off, want, plen - off);
}

/* Find the route; 404 / 405 answered here. */
static const route *dispatch(req *r, const char *method, const char *path, size_t plen)
{
    bool any = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!path_is(r, path, plen, &routes[i]))
            continue;
        any = true;
        if (!strcmp(method, routes[i].method) ||
            (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET")))
            return &routes[i];
    }
    if (any)
        fail(r, 405, "method_not_allowed", "this route does not take that method");
    else
        fail(r, 404, "not_found", "no such route");
    return NULL;
}

ALCHDB_API int alchdb_dashboard_handle(alchdb_dashboard *d, const char *method,
                                       const char *path_and_query, const char *body, size_t len,
                                       int *status, const char **content_type, char **out,
                                       size_t *out_len)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    ALCHDB_CHECK_ARG(method, "method", "must not be NULL");
    ALCHDB_CHECK_ARG(path_and_query, "path_and_query", "must not be NULL");
    ALCHDB_CHECK_ARG(body || len == 0, "body", "must not be NULL when len > 0");
    ALCHDB_CHECK_ARG(status, "status", "must not be NULL");
    ALCHDB_CHECK_ARG(content_type, "content_type", "must not be NULL");
    ALCHDB_CHECK_ARG(out_len, "out_len", "must not be NULL");
    *out_len = 0;

    req r = {.d = d, .status = 200, .type = JSON_TYPE, .body = body, .len = len};
    alchdb__sb_init(&r.out);
    dash_view v;
    bool evaluated = false;
    size_t tlen = strnlen(path_and_query, MAX_TARGET + 1);
    const char *q = memchr(path_and_query, '?', tlen);
    size_t plen = q ? (size_t)(q - path_and_query) : tlen;
    r.query = q ? q + 1 : "";
    /* A trailing slash names the same route. */
    while (plen > 1 && path_and_query[plen - 1] == '/')
        plen--;

    const route *rt = NULL;
    if (tlen > MAX_TARGET) {
        fail(&r, 414, "uri_too_long", "the request target is longer than 4096 bytes");
    } else if (strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "POST")) {
        fail(&r, 405, "method_not_allowed", "only GET, HEAD and POST are served");
    } else if ((rt = dispatch(&r, method, path_and_query, plen)) != NULL) {
        int rc = alchdb__dash_evaluate(d, &v);
        if (rc != 0) {
            fail_call(&r, rc);
        } else {
            evaluated = true;
            r.v = &v;
            if ((int64_t)len > v.max_body) {
                fail(&r, 413, "payload_too_large", "the request body is larger than max_body_size");
            } else if ((rt->need & attached(&v)) != rt->need) {
                for (size_t i = 0; i < sizeof needs / sizeof needs[0]; i++)
                    if ((rt->need & needs[i].need) && !(attached(&v) & needs[i].need)) {
                        fail(&r, 404, "not_attached", needs[i].what);
                        break;
                    }
            } else {
                if (rt->fn != r_prometheus && rt->fn != r_page)
                    alchdb__sb_puts(&r.out, "{\"status\":\"success\",\"data\":");
                size_t mark = r.out.len;
                rt->fn(&r);
                if (!r.raw) {
                    if (r.out.len == mark)
                        alchdb__sb_puts(&r.out, "null");
                    alchdb__sb_puts(&r.out, "}");
                }
            }
        }
    }
    if (evaluated)
        alchdb__dash_view_free(&v);
    size_t n = r.out.len;
    *out = alchdb__sb_finish(&r.out);
    if (!*out)
        return alchdb__nomem("dashboard answer");
    *out_len = n;
    *status = r.status;
    *content_type = r.type;
    return 0;
}
