/* The libalchdb demo: the main job of the README.
 *
 *   examples/run-demo.sh          installs, builds, starts the rig and runs this
 *   demo [SQL_FILE]               with ALCHDB_TEST_PRIMARY / _REPLICA / _REDIS set
 *
 * The demo is a list of sections, each showing one thing against the real
 * servers of tests/services/rig.sh. Later modules add their section to
 * `sections[]` (pool, router, cache, monitor, advisor, migration, dashboard).
 * Exit status: 0 when every section succeeded. */
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

struct demo {
    const char *sql_path; /* the SQL script the analysis section reads */
    const char *primary;  /* libpq conninfo */
    const char *replica;  /* libpq conninfo */
    const char *redis;    /* host:port */
    char token[64];       /* marks this run's rows and keys */
};

enum { SECTION_OK = 0, SECTION_FAILED = 1, SECTION_SKIPPED = 2 };

static int fail(const char *what, const char *detail)
{
    printf("  FAILED: %s: %s\n", what, detail ? detail : "(none)");
    return SECTION_FAILED;
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *pg_open(const char *conninfo, const char *what)
{
    if (!conninfo || !*conninfo) {
        printf("  FAILED: no conninfo for the %s (run through examples/run-demo.sh, "
               "which starts tests/services/rig.sh)\n", what);
        return NULL;
    }
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        printf("  FAILED: cannot connect to the %s: %s", what, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, ignore_notice, NULL);
    return c;
}

/* Run a parameterised statement; prints the error and returns NULL on failure. */
static PGresult *pg_run(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        printf("  FAILED: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

/* ---- section: library --------------------------------------------------- */
static int section_library(struct demo *d)
{
    (void)d;
    printf("  libalchdb %s (headers %s, ABI libalchdb.so.%d)\n", alchdb_version_string(),
           ALCHDB_VERSION_STRING, ALCHDB_ABI_MAJOR);
    int rc = alchdb_set_log_handler(NULL, NULL, 42);
    printf("  a bad argument returns %d (%s): \"%s\"\n", rc, alchdb_strerror(rc),
           alchdb_last_error_message());
    return rc == ALCHDB_E_INVALID ? SECTION_OK : SECTION_FAILED;
}

/* ---- section: SQL analysis --------------------------------------------- */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int section_sql(struct demo *d)
{
    size_t len = 0;
    char *sql = read_file(d->sql_path, &len);
    if (!sql)
        return fail("cannot read", d->sql_path);
    printf("  analysing %s (%zu bytes)\n", d->sql_path, len);
    alchdb_sql_analysis *a = NULL;
    int rc = alchdb_sql_analyze(sql, len, &a);
    free(sql);
    if (rc != 0) {
        alchdb_sql_analysis_free(a); /* a syntax error still hands back the analysis */
        return fail("alchdb_sql_analyze", alchdb_last_error_message());
    }
    char *json = NULL;
    rc = alchdb_sql_analysis_to_json(a, &json);
    alchdb_sql_analysis_free(a);
    if (rc != 0)
        return fail("alchdb_sql_analysis_to_json", alchdb_last_error_message());
    printf("  %s\n", json);
    alchdb_free(json);
    return SECTION_OK;
}

/* ---- section: primary --------------------------------------------------- */
static int section_primary(struct demo *d)
{
    PGconn *c = pg_open(d->primary, "primary");
    if (!c)
        return SECTION_FAILED;
    int ok = 0;
    PGresult *r = pg_run(c, "SELECT version(), pg_is_in_recovery()", 0, NULL);
    if (r) {
        printf("  %s\n  in recovery: %s\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
        ok = strcmp(PQgetvalue(r, 0, 1), "f") == 0;
        PQclear(r);
    }
    const char *params[1] = {d->token};
    if (ok && (r = pg_run(c, "CREATE TABLE IF NOT EXISTS alchdb_demo (token text, n int, "
                             "at timestamptz DEFAULT now())", 0, NULL)))
        PQclear(r);
    else
        ok = 0;
    if (ok && (r = pg_run(c, "INSERT INTO alchdb_demo (token, n) "
                             "SELECT $1, g FROM generate_series(1, 20000) g", 1, params))) {
        printf("  wrote %s rows tagged %s\n", PQcmdTuples(r), d->token);
        PQclear(r);
    } else {
        ok = 0;
    }
    PQfinish(c);
    return ok ? SECTION_OK : SECTION_FAILED;
}

/* ---- section: replica --------------------------------------------------- */
static int section_replica(struct demo *d)
{
    PGconn *c = pg_open(d->replica, "replica");
    if (!c)
        return SECTION_FAILED;
    const char *params[1] = {d->token};
    int seen = -1;
    for (int i = 0; i < 200 && seen != 20000; i++) {
        PGresult *r = PQexecParams(c, "SELECT count(*) FROM alchdb_demo WHERE token = $1", 1,
                                   NULL, params, NULL, NULL, 0);
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            seen = atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (seen != 20000)
            usleep(50 * 1000);
    }
    int ok = seen == 20000;
    printf("  the replica sees %d of the 20000 rows written on the primary\n", seen < 0 ? 0 : seen);
    PGresult *r = pg_run(c, "SELECT pg_is_in_recovery(), "
                            "coalesce(now() - pg_last_xact_replay_timestamp(), '0'::interval)",
                         0, NULL);
    if (r) {
        printf("  in recovery: %s, replay delay: %s\n", PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
        ok = ok && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
        PQclear(r);
    } else {
        ok = 0;
    }
    PQfinish(c);
    return ok ? SECTION_OK : SECTION_FAILED;
}

/* ---- section: redis ----------------------------------------------------- */
static int section_redis(struct demo *d)
{
    if (!d->redis || !strchr(d->redis, ':'))
        return fail("ALCHDB_TEST_REDIS is not host:port", d->redis);
    char host[256];
    const char *colon = strrchr(d->redis, ':');
    size_t hl = (size_t)(colon - d->redis);
    if (hl == 0 || hl >= sizeof host)
        return fail("bad redis address", d->redis);
    memcpy(host, d->redis, hl);
    host[hl] = '\0';
    struct timeval tv = {5, 0};
    redisContext *rc = redisConnectWithTimeout(host, atoi(colon + 1), tv);
    if (!rc || rc->err) {
        int st = fail("cannot connect to redis", rc ? rc->errstr : "out of memory");
        redisFree(rc);
        return st;
    }
    int ok = 0;
    char key[96];
    snprintf(key, sizeof key, "alchdb:demo:%s", d->token);
    redisReply *rep = redisCommand(rc, "SET %s %s EX 60", key, "cached result");
    if (rep && rep->type == REDIS_REPLY_STATUS) {
        freeReplyObject(rep);
        rep = redisCommand(rc, "GET %s", key);
        if (rep && rep->type == REDIS_REPLY_STRING) {
            printf("  SET/GET %s -> \"%s\"\n", key, rep->str);
            ok = strcmp(rep->str, "cached result") == 0;
        }
    }
    freeReplyObject(rep);
    rep = redisCommand(rc, "DEL %s", key);
    freeReplyObject(rep);
    redisFree(rc);
    return ok ? SECTION_OK : SECTION_FAILED;
}


/* ---- section: client (pool + one-call exec) ------------------------------ */
static int section_client(struct demo *d)
{
    alchdb_pool_config *cfg;
    alchdb_client *c;
    if (alchdb_pool_config_new(&cfg) || alchdb_pool_config_set_from_string(cfg, "max_open_conns", "8") ||
        alchdb_pool_config_set_from_string(cfg, "max_idle_conns", "4") ||
        alchdb_client_open(d->primary, cfg, &c)) {
        alchdb_pool_config_free(cfg);
        return fail("client", alchdb_last_error_message());
    }
    alchdb_pool_config_free(cfg);
    const char *params[1] = {d->token};
    alchdb_result *r = NULL;
    int ok = alchdb_client_exec(c, "SELECT count(*), sum(n) FROM alchdb_demo WHERE token = $1", 1, params, &r) == 0;
    if (ok)
        printf("  %s rows of this run, sum %s (prepared once per connection, cached)\n",
               alchdb_result_value(r, 0, 0), alchdb_result_value(r, 0, 1));
    alchdb_result_free(r);
    alchdb_txn *t;
    if (ok && alchdb_client_begin(c, 0, &t) == 0) {
        ok = alchdb_txn_exec(t, "UPDATE alchdb_demo SET n = n + 1 WHERE token = $1", 1, params, &r) == 0;
        if (ok)
            printf("  transaction updated %lld rows\n", (long long)alchdb_result_affected_rows(r));
        alchdb_result_free(r);
        ok = ok && alchdb_txn_commit(t) == 0;
        alchdb_txn_free(t);
    }
    if (alchdb_client_exec(c, "SELECT * FROM no_such_table", 0, NULL, &r) == ALCHDB_E_QUERY)
        printf("  an error keeps its SQLSTATE: %s (%s)\n", alchdb_result_sqlstate(r), alchdb_result_error_message(r));
    alchdb_result_free(r);
    alchdb_pool_metrics m = {.size = sizeof m};
    if (alchdb_pool_get_metrics(alchdb_client_pool(c), &m, sizeof m) == 0)
        printf("  pool: %lld open, %lld acquisitions, wait p99 %lld ns\n", (long long)m.open,
               (long long)m.acquisitions, (long long)m.wait_p99_ns);
    alchdb_client_free(c);
    return ok ? SECTION_OK : fail("client", alchdb_last_error_message());
}

/* ---- section: router (read/write splitting, read-your-writes) ------------ */
static int section_router(struct demo *d)
{
    alchdb_router *r;
    alchdb_client *c;
    if (alchdb_router_new(d->primary, NULL, NULL, &r))
        return fail("router", alchdb_last_error_message());
    if (alchdb_router_add_replica(r, d->replica, 1) || alchdb_router_start(r) || alchdb_client_new_routed(r, &c)) {
        alchdb_router_free(r);
        return fail("router", alchdb_last_error_message());
    }
    const char *params[1] = {d->token};
    alchdb_result *res = NULL;
    int ok = alchdb_client_exec(c, "UPDATE alchdb_demo SET n = n * 2 WHERE token = $1", 1, params, &res) == 0;
    alchdb_result_free(res);
    char tok[64];
    ok = ok && alchdb_client_token(c, tok, sizeof tok) == 0;
    if (ok && alchdb_client_exec_token(c, "SELECT pg_is_in_recovery(), sum(n) FROM alchdb_demo WHERE token = $1", 1,
                                       params, 0, tok, &res) == 0) {
        printf("  write on the primary, read with its token (%s) on %s: sum %s\n", tok,
               alchdb_result_value(res, 0, 0)[0] == 't' ? "the replica" : "the primary",
               alchdb_result_value(res, 0, 1));
        alchdb_result_free(res);
    } else {
        ok = 0;
    }
    char *json = NULL;
    if (ok && alchdb_router_to_json(r, &json) == 0)
        printf("  %.300s…\n", json);
    alchdb_free(json);
    alchdb_client_free(c);
    alchdb_router_free(r);
    return ok ? SECTION_OK : fail("router", alchdb_last_error_message());
}

/* ---- section: monitor (patterns, percentiles, suggestions) --------------- */
static int section_monitor(struct demo *d)
{
    alchdb_monitor *m;
    alchdb_client *c;
    if (alchdb_monitor_new(NULL, &m))
        return fail("monitor", alchdb_last_error_message());
    if (alchdb_client_open(d->primary, NULL, &c) || alchdb_client_set_monitor(c, m)) {
        alchdb_monitor_free(m);
        return fail("monitor", alchdb_last_error_message());
    }
    char sql[160];
    int ok = 1;
    for (int i = 0; i < 200 && ok; i++) {
        snprintf(sql, sizeof sql, "SELECT * FROM alchdb_demo WHERE n = %d", i % 37);
        ok = alchdb_client_exec_flags(c, sql, 0, NULL, ALCHDB_EXEC_UNPREPARED, NULL) == 0;
    }
    ok = ok && alchdb_client_exec(c, "SELECT pg_sleep(0.06)", 0, NULL, NULL) == 0; /* one slow query (> 50 ms) */
    char *json = NULL;
    if (ok && alchdb_monitor_patterns_to_json(m, 0, 3, 0, &json) == 0)
        printf("  top patterns: %.400s…\n", json);
    alchdb_free(json);
    json = NULL;
    if (ok && alchdb_monitor_analysis_to_json(m, 3, &json) == 0)
        printf("  analysis: %.400s…\n", json);
    alchdb_free(json);
    alchdb_client_free(c);
    alchdb_monitor_free(m);
    return ok ? SECTION_OK : fail("monitor", alchdb_last_error_message());
}

/* ---- section: migration (lock/rewrite/risk of a migration) --------------- */
static int section_migration(struct demo *d)
{
    (void)d;
    static const char migration[] = "ALTER TABLE alchdb_demo ADD COLUMN note text;\n"
                                    "ALTER TABLE alchdb_demo ALTER COLUMN n TYPE bigint;\n"
                                    "CREATE INDEX alchdb_demo_token ON alchdb_demo (token);\n";
    alchdb_migration *m;
    if (alchdb_migration_new(NULL, &m) || alchdb_migration_add_file(m, "demo_migration.sql", migration, (size_t)-1)) {
        alchdb_migration_free(m);
        return fail("migration", alchdb_last_error_message());
    }
    for (size_t i = 0; i < alchdb_migration_stmt_count(m, 0); i++) {
        int mode = 0;
        const char *rel = alchdb_migration_lock_count(m, 0, i) ? alchdb_migration_lock(m, 0, i, 0, &mode) : "-";
        printf("  %-55s risk %-6s %s on %s\n", alchdb_migration_stmt_text(m, 0, i, "sql"),
               alchdb_migration_risk_name(alchdb_migration_stmt_risk(m, 0, i)), alchdb_lock_mode_name(mode), rel);
        const char *safer = alchdb_migration_stmt_text(m, 0, i, "safer_rewrite");
        if (safer)
            printf("    safer: %.120s\n", safer);
    }
    int worst = alchdb_migration_max_risk(m);
    alchdb_migration_free(m);
    return worst == ALCHDB_RISK_HIGH ? SECTION_OK : fail("migration", "expected the int -> bigint rewrite to be high risk");
}


/* ---- section: advisor (indexes of the live database) --------------------- */
static int section_advisor(struct demo *d)
{
    alchdb_advisor_config *o;
    alchdb_advisor_report *rep = NULL;
    if (alchdb_advisor_config_new(&o))
        return fail("advisor", alchdb_last_error_message());
    /* a workload the demo table has no index for */
    int rc = alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, d->primary);
    if (rc == 0)
        rc = alchdb_advisor_config_add_query(o, "SELECT * FROM alchdb_demo WHERE token = 'x' AND n = 7", 5000, 900.0);
    if (rc == 0)
        rc = alchdb_advisor_analyze(o, &rep);
    if (rc) {
        alchdb_advisor_config_free(o);
        return fail("advisor", alchdb_last_error_message());
    }
    printf("  index usage ratio %.1f %%, health %d/100; unused %lld, redundant %lld, FK without index %lld, "
           "missing %lld\n",
           alchdb_advisor_report_index_usage_ratio(rep) * 100, alchdb_advisor_report_health(rep),
           (long long)alchdb_advisor_report_count(rep, ALCHDB_ADVISOR_UNUSED),
           (long long)alchdb_advisor_report_count(rep, ALCHDB_ADVISOR_REDUNDANT),
           (long long)alchdb_advisor_report_count(rep, ALCHDB_ADVISOR_FK),
           (long long)alchdb_advisor_report_count(rep, ALCHDB_ADVISOR_MISSING));
    for (int64_t i = 0; i < alchdb_advisor_report_count(rep, ALCHDB_ADVISOR_MISSING); i++)
        printf("  suggest (%s): %s\n", alchdb_advisor_report_missing_verified_by(rep, (size_t)i),
               alchdb_advisor_report_item_sql(rep, ALCHDB_ADVISOR_MISSING, (size_t)i));
    alchdb_advisor_report_free(rep);
    alchdb_advisor_config_free(o);
    return SECTION_OK;
}

/* ---- section: cache (Redis, invalidated by the client's own writes) ------ */
static int section_cache(struct demo *d)
{
    const char *colon = d->redis ? strrchr(d->redis, ':') : NULL;
    if (!colon)
        return fail("ALCHDB_TEST_REDIS is not host:port", d->redis);
    char host[256];
    snprintf(host, sizeof host, "%.*s", (int)(colon - d->redis), d->redis);
    alchdb_cache_config *cc;
    alchdb_cache *cache = NULL;
    alchdb_client *c = NULL;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "alchemorsel:query:%s", d->token);
    int rc = alchdb_cache_config_new(&cc);
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "backend", "redis");
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "redis_host", host);
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "redis_port", colon + 1);
    if (!rc)
        rc = alchdb_cache_config_set_from_string(cc, "prefix", prefix);
    if (!rc)
        rc = alchdb_cache_new(cc, &cache);
    alchdb_cache_config_free(cc);
    if (!rc)
        rc = alchdb_client_open(d->primary, NULL, &c);
    if (!rc)
        rc = alchdb_client_set_cache(c, cache, NULL);
    if (rc) {
        alchdb_client_free(c);
        alchdb_cache_free(cache);
        return fail("cache", alchdb_last_error_message());
    }
    const char *params[1] = {d->token};
    const char *q = "SELECT count(*), sum(n) FROM alchdb_demo WHERE token = $1";
    int ok = 1;
    char first[64] = "";
    for (int i = 0; i < 3 && ok; i++) {
        alchdb_result *r = NULL;
        ok = alchdb_client_exec(c, q, 1, params, &r) == 0;
        if (ok && i == 0)
            snprintf(first, sizeof first, "%s", alchdb_result_value(r, 0, 1));
        alchdb_result_free(r);
    }
    alchdb_cache_metrics m;
    alchdb_cache_get_metrics(cache, &m, sizeof m);
    printf("  the same read 3 times: %lld miss, %lld hits (sum %s)\n", (long long)m.misses, (long long)m.hits, first);
    ok = ok && m.hits == 2;
    /* A write through the client invalidates before the call returns. */
    ok = ok && alchdb_client_exec(c, "UPDATE alchdb_demo SET n = n + 100 WHERE token = $1", 1, params, NULL) == 0;
    alchdb_result *r = NULL;
    ok = ok && alchdb_client_exec(c, q, 1, params, &r) == 0;
    if (ok) {
        printf("  after an UPDATE through the client: sum %s (fresh, from the database)\n",
               alchdb_result_value(r, 0, 1));
        ok = strcmp(alchdb_result_value(r, 0, 1), first) != 0;
    }
    alchdb_result_free(r);
    char *json = NULL;
    if (ok && alchdb_cache_to_json(cache, &json) == 0)
        printf("  %.240s…\n", json);
    alchdb_free(json);
    alchdb_client_free(c);
    alchdb_cache_free(cache);
    return ok ? SECTION_OK : fail("cache", alchdb_last_error_message());
}

/* Sections run in order; later issues append theirs. */
static const struct section {
    const char *name;
    const char *what;
    int (*run)(struct demo *);
} sections[] = {
    {"library", "version and error reporting", section_library},
    {"sql", "the shared SQL analysis of a script", section_sql},
    {"primary", "PostgreSQL 15 primary", section_primary},
    {"replica", "streaming replica", section_replica},
    {"redis", "Redis", section_redis},
    {"client", "pool + client: prepared exec, transaction, errors, metrics", section_client},
    {"router", "read/write splitting with read-your-writes", section_router},
    {"cache", "query cache in Redis with invalidation by the client's writes", section_cache},
    {"monitor", "query patterns, percentiles and suggestions", section_monitor},
    {"migration", "lock, rewrite and risk of a migration", section_migration},
    {"advisor", "index analysis of the live database", section_advisor},
};

int main(int argc, char **argv)
{
    struct demo d = {
        .sql_path = argc > 1 ? argv[1] : "examples/demo.sql",
        .primary = getenv("ALCHDB_TEST_PRIMARY"),
        .replica = getenv("ALCHDB_TEST_REPLICA"),
        .redis = getenv("ALCHDB_TEST_REDIS"),
    };
    snprintf(d.token, sizeof d.token, "demo-%ld-%ld", (long)getpid(), (long)time(NULL));

    int counts[3] = {0, 0, 0};
    size_t n = sizeof sections / sizeof sections[0];
    for (size_t i = 0; i < n; i++) {
        printf("== %s: %s\n", sections[i].name, sections[i].what);
        int st = sections[i].run(&d);
        counts[st]++;
        printf("   -> %s\n", st == SECTION_OK ? "ok" : st == SECTION_SKIPPED ? "skipped" : "FAILED");
    }
    printf("demo: %d ok, %d failed, %d skipped\n", counts[SECTION_OK], counts[SECTION_FAILED],
           counts[SECTION_SKIPPED]);
    return counts[SECTION_FAILED] == 0 ? 0 : 1;
}
