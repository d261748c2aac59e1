/* The SQL layer against the rig's real servers:
 *  - deep statements executed for real through a routed client with a cache
 *    attached (PostgreSQL runs them; nothing crashes), also from a thread
 *    with a 256 KiB stack, and the router's decision for them;
 *  - the advisor given deep statements skips them with a note;
 *  - hostile names (dots, quotes, spaces, upper case, unicode, 63-byte names,
 *    reserved words) in several schemas: reads through a client with a cache
 *    attached see every write to a table, through a view over it, a
 *    foreign-key cascade and a trigger; functions are judged by their exact
 *    name (a volatile "Counter"() is never served from the cache, an
 *    unknown function neither);
 *  - transaction modes decide where a transaction runs;
 *  - the keywords that force quoting are PostgreSQL's own.
 * The objects live in a database of this suite's own (alchdb_sql_live) and
 * the caches under a key prefix of their own. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "internal.h"
#include "pgtest.h"
#include "redistest.h"
#include "sql/sql_internal.h"
#include "sql/tree.h"
#include "testutil.h"

#define DB "alchdb_sql_live"
#define SMALL_STACK (256 * 1024)

static char conninfo[1024];

/* ---- helpers ----------------------------------------------------------------------- */

static void on_small_stack(void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    ck_assert_int_eq(pthread_attr_init(&attr), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, &attr, fn, arg), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
}

/* The replica (host 1) takes reads: probed until it does (a standby
 * catching up after the previous suite's writes is not this suite's
 * subject), else the router's own account of why not. */
static void await_replica(alchdb_router *r)
{
    for (int i = 0; i < 200 && alchdb_router_host_healthy(r, 1) != 1; i++) { /* 20 s and more */
        ck_assert_int_eq(alchdb_router_probe_now(r), 0);
        if (alchdb_router_host_healthy(r, 1) != 1)
            usleep(100000);
    }
    if (alchdb_router_host_healthy(r, 1) != 1) {
        char *state = NULL;
        alchdb_router_to_json(r, &state);
        ck_abort_msg("the replica takes no reads: %s", state ? state : alchdb_last_error_message());
    }
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
    size_t len = strlen(head) + n * strlen(unit) + strlen(tail) + 1;
    char *s = malloc(len);
    ck_assert_ptr_nonnull(s);
    char *p = stpcpy(s, head);
    for (size_t i = 0; i < n; i++)
        p = stpcpy(p, unit);
    strcpy(p, tail);
    return s;
}

static void setup_db(void)
{
    PGconn *admin = pgtest_connect();
    pgtest_exec(admin, "DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    pgtest_exec(admin, "CREATE DATABASE " DB " STRATEGY FILE_COPY");
    PQfinish(admin);
    snprintf(conninfo, sizeof conninfo, "%s dbname=" DB, test_env("ALCHDB_TEST_PRIMARY"));
}

static void teardown_db(void)
{
    PGconn *admin = pgtest_connect();
    pgtest_exec(admin, "DROP DATABASE IF EXISTS " DB " WITH (FORCE)");
    PQfinish(admin);
}

static PGconn *db_connect(void)
{
    PGconn *c = PQconnectdb(conninfo);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, pgtest_quiet, NULL);
    return c;
}

static int seq;

static alchdb_cache *mk_cache(const char *backend)
{
    alchdb_cache_config *cfg;
    ck_assert_int_eq(alchdb_cache_config_new(&cfg), 0);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "sqllive%d_%d", (int)getpid(), ++seq);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "prefix", prefix), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cfg, "backend", backend), 0);
    if (!strcmp(backend, "redis")) {
        char host[64];
        int port;
        redistest_addr(host, sizeof host, &port);
        ck_assert_int_eq(alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_REDIS_HOST, host), 0);
        ck_assert_int_eq(alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_REDIS_PORT, port), 0);
    }
    alchdb_cache *c;
    ck_assert_msg(alchdb_cache_new(cfg, &c) == 0, "%s", alchdb_last_error_message());
    alchdb_cache_config_free(cfg);
    return c;
}

static alchdb_cache_metrics met(alchdb_cache *c)
{
    alchdb_cache_metrics m;
    ck_assert_int_eq(alchdb_cache_get_metrics(c, &m, sizeof m), 0);
    return m;
}

/* The first value of sql's result (owned). */
static char *val(alchdb_client *c, const char *sql)
{
    alchdb_result *r;
    int rc = alchdb_client_exec(c, sql, 0, NULL, &r);
    ck_assert_msg(rc == 0, "%s: %s", sql, alchdb_last_error_message());
    char *v = strdup(alchdb_result_nrows(r) ? alchdb_result_value(r, 0, 0) : "(none)");
    alchdb_result_free(r);
    return v;
}

static void run(alchdb_client *c, const char *sql)
{
    int rc = alchdb_client_exec(c, sql, 0, NULL, NULL);
    ck_assert_msg(rc == 0, "%s: %s", sql, alchdb_last_error_message());
}

/* ---- deep statements through a routed client with a cache ---------------------------- */

typedef struct deep_stmt {
    char *sql;
    const char *want;  /* the value PostgreSQL returns */
    bool replica_ok;   /* the router may send it to a replica */
} deep_stmt;

typedef struct deep_ctx {
    alchdb_router *router;
    alchdb_client *client;
    deep_stmt *stmts;
    size_t n;
    char *too_deep; /* deeper than the library analyses (PostgreSQL refuses it too) */
} deep_ctx;

static void *run_deep(void *arg)
{
    deep_ctx *d = arg;
    for (size_t i = 0; i < d->n; i++) {
        for (int pass = 0; pass < 2; pass++) { /* a miss, then a hit */
            alchdb_result *r = NULL;
            int rc = alchdb_client_exec(d->client, d->stmts[i].sql, 0, NULL, &r);
            ck_assert_msg(rc == 0, "deep statement %zu: %s", i, alchdb_last_error_message());
            ck_assert_str_eq(alchdb_result_value(r, 0, 0), d->stmts[i].want);
            alchdb_result_free(r);
        }
        /* where the router sends it, and why: the analysis must find it a
         * read (READ_ONLY, on a replica) or not; a read that finds no
         * replica taking reads at that moment (NO_HEALTHY_REPLICA: under
         * valgrind a probe can miss its timeout while this thread parses)
         * is the health check's business, not the analysis'. */
        alchdb_conn *conn = NULL;
        int reason = 0;
        ck_assert_int_eq(alchdb_router_acquire(d->router, ALCHDB_INTENT_AUTO, d->stmts[i].sql, NULL, -1, "sql-live",
                                               &conn, &reason),
                         0);
        int on_replica = alchdb_router_conn_is_replica(d->router, conn);
        alchdb_router_release(d->router, conn, NULL);
        bool ok = d->stmts[i].replica_ok
                      ? (reason == ALCHDB_ROUTE_READ_ONLY && on_replica == 1) ||
                            (reason == ALCHDB_ROUTE_NO_HEALTHY_REPLICA && on_replica == 0)
                      : reason == ALCHDB_ROUTE_SIDE_EFFECTS && on_replica == 0;
        if (!ok) {
            char *state = NULL;
            alchdb_router_to_json(d->router, &state);
            ck_abort_msg("deep statement %zu: routed to the %s (%s): %s", i, on_replica ? "replica" : "primary",
                         alchdb_route_reason_name(reason), state ? state : "");
        }
    }
    /* Too deep to analyse: the primary, which refuses it (stack depth
     * limit exceeded, SQLSTATE 54001): an error, not a crash. */
    alchdb_conn *conn = NULL;
    int reason = 0;
    ck_assert_int_eq(
        alchdb_router_acquire(d->router, ALCHDB_INTENT_AUTO, d->too_deep, NULL, -1, "sql-live", &conn, &reason), 0);
    ck_assert_int_eq(alchdb_router_conn_is_replica(d->router, conn), 0);
    /* not judged a read (the conservative answer is "writes") */
    ck_assert_msg(reason != ALCHDB_ROUTE_READ_ONLY && reason != ALCHDB_ROUTE_NO_HEALTHY_REPLICA, "too deep: %s",
                  alchdb_route_reason_name(reason));
    alchdb_router_release(d->router, conn, NULL);
    alchdb_result *r = NULL;
    ck_assert_int_eq(alchdb_client_exec(d->client, d->too_deep, 0, NULL, &r), ALCHDB_E_QUERY);
    ck_assert_str_eq(alchdb_result_sqlstate(r), "54001");
    alchdb_result_free(r);
    return NULL;
}

START_TEST(test_deep_statements_through_client)
{
    alchdb_router_config *rc;
    ck_assert_int_eq(alchdb_router_config_new(&rc), 0);
    ck_assert_int_eq(alchdb_router_config_set_from_string(rc, "probe_interval", "100ms"), 0);
    alchdb_router *router;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, rc, &router), 0);
    alchdb_router_config_free(rc);
    ck_assert_int_eq(alchdb_router_add_replica(router, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    ck_assert_int_eq(alchdb_router_start(router), 0);
    ck_assert_int_eq(alchdb_router_probe_now(router), 0);
    await_replica(router);
    alchdb_client *client;
    ck_assert_int_eq(alchdb_client_new_routed(router, &client), 0);
    alchdb_cache *cache = mk_cache("memory");
    ck_assert_int_eq(alchdb_client_set_cache(client, cache, NULL), 0);

    /* What PostgreSQL 15 accepts with its default max_stack_depth (2 MB). */
    char *open_parens = repeat("SELECT ", "(", 5000, "1"), *open_subs = repeat("SELECT ", "(SELECT ", 300, "1");
    deep_stmt stmts[] = {
        {repeat("SELECT 1", " + 1", 4000, ""), "4001", true},
        {repeat("SELECT length('a'", " || 'b'", 3000, ")"), "3001", true},
        {repeat("SELECT 1000", " UNION ALL SELECT 1", 999, ""), "1000", true},
        {repeat("SELECT count(*) FROM generate_series(1, 10) g WHERE g IN (0", ", 7", 20000, ")"), "1", true},
        {repeat(open_parens, ")", 5000, ""), "1", true},
        {repeat("SELECT ", "NOT ", 3000, "true"), "t", true},
        {repeat(open_subs, ")", 300, ""), "1", true},
        /* a side-effecting function: the primary, not cached */
        {repeat("SELECT length(set_config('alchdb.sql_live', 'x', false))", " + 1", 3000, ""), "3001", false},
    };
    free(open_parens);
    free(open_subs);
    deep_ctx d = {router, client, stmts, sizeof stmts / sizeof stmts[0], repeat("SELECT 1", " + 1", 140000, "")};
    run_deep(&d);
    alchdb_sql_cache_clear();
    on_small_stack(run_deep, &d);
    ck_assert_int_ge(met(cache).hits, 10);

    for (size_t i = 0; i < d.n; i++)
        free(stmts[i].sql);
    free(d.too_deep);
    alchdb_client_free(client);
    alchdb_cache_free(cache);
    alchdb_router_free(router);
}
END_TEST

/* ---- the advisor --------------------------------------------------------------------- */

static void *run_advisor(void *arg)
{
    alchdb_advisor_config *o = arg;
    alchdb_advisor_report *r = NULL;
    int rc = alchdb_advisor_analyze(o, &r);
    ck_assert_msg(rc == 0, "%s", alchdb_last_error_message());
    bool noted = false;
    for (int64_t i = 0; i < alchdb_advisor_report_note_count(r); i++)
        noted |= strstr(alchdb_advisor_report_note(r, (size_t)i), "nested too deeply") != NULL;
    ck_assert_msg(noted, "no note about the statement too deep to analyse");
    alchdb_advisor_report_free(r);
    return NULL;
}

START_TEST(test_advisor_skips_deep_statements)
{
    setup_db();
    PGconn *c = db_connect();
    pgtest_exec(c, "CREATE TABLE orders (id int PRIMARY KEY, customer int, total int)");
    pgtest_exec(c, "INSERT INTO orders SELECT g, g % 1000, g FROM generate_series(1, 20000) g");
    pgtest_exec(c, "ANALYZE orders");
    PQfinish(c);
    alchdb_advisor_config *o;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, conninfo), 0);
    char *deep = repeat("SELECT * FROM orders WHERE customer = 1 + 1", " + 1", 140000, "");
    /* the deepest statement whose tree the advisor's walkers get */
    char *limit = NULL, *tree = NULL;
    for (size_t n = 250;; n--) {
        free(limit);
        limit = repeat("SELECT * FROM orders WHERE customer = 1", " + 1", n, "");
        if (alchdb__sql_parse_tree(limit, (size_t)-1, &tree, NULL) == 0)
            break;
        ck_assert_uint_gt(n, 100);
    }
    alchdb__free(tree);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, deep, 100, 5.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, limit, 100, 5.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM orders WHERE customer = 42", 1000, 5.0), 0);
    run_advisor(o);
    on_small_stack(run_advisor, o);
    alchdb_advisor_config_free(o);
    free(deep);
    free(limit);
    teardown_db();
}
END_TEST

/* ---- hostile names ---------------------------------------------------------------------- */

/* Schemas, each holding the same set of objects. */
static const char *const schemas[] = {
    "\"sch.dot\"",
    "\"Upper Sch\"",
    "\"\xc3\xbcn\xc3\xaf\"",                                               /* ünï */
    "\"select\"",                                                          /* a reserved word */
    "\"q\"\"uote\"",
    "\"s123456789_123456789_123456789_123456789_123456789_123456789_12\"", /* 63 bytes */
    "public",
};
#define NSCHEMAS (sizeof schemas / sizeof schemas[0])

/* sql with every "@" replaced by the schema. */
static void exec_in(PGconn *c, const char *sql, const char *schema)
{
    char buf[2048];
    size_t o = 0;
    for (const char *p = sql; *p && o + 128 < sizeof buf; p++) {
        if (*p == '@') {
            o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", schema);
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    pgtest_exec(c, buf);
}

static void create_objects(PGconn *c, const char *s)
{
    static const char *const stmts[] = {
        "CREATE SCHEMA IF NOT EXISTS @",
        "CREATE TABLE @.\"t.x\" (id int PRIMARY KEY, v int)",
        "INSERT INTO @.\"t.x\" VALUES (1, 10), (2, 20)",
        "CREATE VIEW @.\"v.w\" AS SELECT id, v FROM @.\"t.x\"",
        "CREATE TABLE @.\"P.arent\" (id int PRIMARY KEY)",
        "CREATE TABLE @.\"c.hild\" (id int PRIMARY KEY, pid int REFERENCES @.\"P.arent\" (id) ON DELETE CASCADE)",
        "INSERT INTO @.\"P.arent\" VALUES (1), (2)",
        "INSERT INTO @.\"c.hild\" VALUES (1, 1), (2, 1), (3, 2)",
        "CREATE TABLE @.\"trig.src\" (id int)",
        "CREATE TABLE @.\"trig.dst\" (id int)",
        "CREATE FUNCTION @.\"trg.fn\"() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN "
        "INSERT INTO @.\"trig.dst\" VALUES (NEW.id); RETURN NEW; END $f$",
        "CREATE TRIGGER \"on.src\" AFTER INSERT ON @.\"trig.src\" FOR EACH ROW EXECUTE FUNCTION @.\"trg.fn\"()",
        "CREATE SEQUENCE @.\"seq.q\"",
        /* no schema has a single quote: the name goes into the literal as is */
        "CREATE FUNCTION @.\"Counter\"() RETURNS bigint LANGUAGE sql VOLATILE AS $f$ SELECT nextval('@.\"seq.q\"') $f$",
        "CREATE FUNCTION @.\"Imm.f\"() RETURNS int LANGUAGE sql IMMUTABLE AS $f$ SELECT 42 $f$",
    };
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++)
        exec_in(c, stmts[i], s);
}

/* Stale reads found, reported together at the end so that one run shows
 * every class of name that goes wrong. */
static char stale[8192];

static void note_stale(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note_stale(const char *fmt, ...)
{
    size_t o = strlen(stale);
    va_list ap;
    va_start(ap, fmt);
    if (o + 300 < sizeof stale)
        vsnprintf(stale + o, sizeof stale - o, fmt, ap);
    va_end(ap);
}

/* read, read again (a hit), write, read: the write is seen. */
static void cycle(alchdb_client *c, alchdb_cache *cache, const char *read, const char *write, const char *before,
                  const char *after)
{
    char *v = val(c, read);
    ck_assert_msg(!strcmp(v, before), "%s: %s before the write, want %s", read, v, before);
    free(v);
    int64_t hits = met(cache).hits;
    v = val(c, read);
    ck_assert_str_eq(v, before);
    free(v);
    ck_assert_msg(met(cache).hits == hits + 1, "%s: not served from the cache", read);
    run(c, write);
    v = val(c, read);
    if (strcmp(v, after))
        note_stale("\n  %s after \"%s\": %s, want %s", read, write, v, after);
    free(v);
}

/* A volatile function called twice returns two values (never a cached one). */
static void twice(alchdb_client *c, const char *sql)
{
    char *v1 = val(c, sql), *v2 = val(c, sql);
    if (!strcmp(v1, v2))
        note_stale("\n  %s returned %s twice: served from the cache", sql, v1);
    free(v1);
    free(v2);
}

START_TEST(test_hostile_names_invalidation)
{
    static const char *const backends[] = {"memory", "redis"};
    const char *backend = backends[_i];
    stale[0] = '\0';
    setup_db();
    PGconn *admin = db_connect();
    for (size_t s = 0; s < NSCHEMAS; s++)
        create_objects(admin, schemas[s]);
    /* the confusable pair: public."a.b" and a.b */
    pgtest_exec(admin, "CREATE TABLE public.\"a.b\" (id int PRIMARY KEY, v int)");
    pgtest_exec(admin, "INSERT INTO public.\"a.b\" VALUES (1, 1)");
    pgtest_exec(admin, "CREATE SCHEMA a");
    pgtest_exec(admin, "CREATE TABLE a.b (id int PRIMARY KEY, v int)");
    pgtest_exec(admin, "INSERT INTO a.b VALUES (1, 100)");
    pgtest_exec(admin, "CREATE VIEW public.v_ab AS SELECT * FROM public.\"a.b\"");
    pgtest_exec(admin, "CREATE SEQUENCE public.\"sch.q\"");
    pgtest_exec(admin, "CREATE FUNCTION public.\"a.b\"() RETURNS bigint LANGUAGE sql VOLATILE AS "
                       "$f$ SELECT nextval('public.\"sch.q\"') $f$");
    pgtest_exec(admin, "CREATE SEQUENCE public.\"é.seq\"");
    pgtest_exec(admin, "CREATE FUNCTION public.\"é_cnt\"() RETURNS bigint LANGUAGE sql VOLATILE AS "
                       "$f$ SELECT nextval('public.\"é.seq\"') $f$");

    alchdb_cache *cache = mk_cache(backend);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_open(conninfo, NULL, &c), 0);
    ck_assert_int_eq(alchdb_client_set_cache(c, cache, NULL), 0);
    char r[1024], w[1024];
    for (size_t s = 0; s < NSCHEMAS; s++) {
        const char *S = schemas[s];
        /* the table itself: a key lookup, a count */
        snprintf(r, sizeof r, "SELECT v FROM %s.\"t.x\" WHERE id = 1", S);
        snprintf(w, sizeof w, "UPDATE %s.\"t.x\" SET v = v + 1 WHERE id = 1", S);
        cycle(c, cache, r, w, "10", "11");
        /* a view over the dotted table */
        snprintf(r, sizeof r, "SELECT sum(v) FROM %s.\"v.w\"", S);
        snprintf(w, sizeof w, "UPDATE %s.\"t.x\" SET v = v + 1 WHERE id = 2", S);
        cycle(c, cache, r, w, "31", "32");
        /* a foreign-key cascade into the dotted child */
        snprintf(r, sizeof r, "SELECT count(*) FROM %s.\"c.hild\"", S);
        snprintf(w, sizeof w, "DELETE FROM %s.\"P.arent\" WHERE id = 1", S);
        cycle(c, cache, r, w, "3", "1");
        /* a trigger's target table */
        snprintf(r, sizeof r, "SELECT count(*) FROM %s.\"trig.dst\"", S);
        snprintf(w, sizeof w, "INSERT INTO %s.\"trig.src\" VALUES (7)", S);
        cycle(c, cache, r, w, "0", "1");
        /* a volatile function with a quoted name: never served from the cache */
        snprintf(r, sizeof r, "SELECT %s.\"Counter\"()", S);
        twice(c, r);
        /* an immutable one is cached */
        snprintf(r, sizeof r, "SELECT %s.\"Imm.f\"()", S);
        int64_t hits = met(cache).hits;
        free(val(c, r));
        free(val(c, r));
        ck_assert_msg(met(cache).hits == hits + 1, "%s: not cached", r);
    }
    /* public."a.b" and a.b are two tables; the view over public."a.b" sees its writes */
    cycle(c, cache, "SELECT v FROM public.v_ab", "UPDATE \"a.b\" SET v = 2", "1", "2");
    cycle(c, cache, "SELECT v FROM a.b WHERE id = 1", "UPDATE a.b SET v = 101", "100", "101");
    /* volatile functions with a dotted and a non-ASCII name */
    static const char *const vol[] = {"SELECT public.\"a.b\"()", "SELECT \"é_cnt\"()", "SELECT é_cnt()"};
    for (size_t i = 0; i < sizeof vol / sizeof vol[0]; i++)
        twice(c, vol[i]);
    /* a function the cache's catalog does not know (created behind its back) is not cached */
    pgtest_exec(admin, "CREATE FUNCTION public.late() RETURNS int LANGUAGE sql IMMUTABLE AS $f$ SELECT 1 $f$");
    int64_t hits = met(cache).hits;
    free(val(c, "SELECT public.late()"));
    free(val(c, "SELECT late()"));
    free(val(c, "SELECT late()"));
    if (met(cache).hits != hits)
        note_stale("\n  late(), unknown to the cache's catalog, was served from the cache");
    /* invalidation by name from outside: names as SQL writes them */
    const char *name = "\"sch.dot\".\"t.x\"";
    free(val(c, "SELECT v FROM \"sch.dot\".\"t.x\" WHERE id = 2"));
    pgtest_exec(admin, "UPDATE \"sch.dot\".\"t.x\" SET v = 500 WHERE id = 2");
    ck_assert_int_eq(alchdb_cache_invalidate_tables(cache, &name, 1), 0);
    char *v = val(c, "SELECT v FROM \"sch.dot\".\"t.x\" WHERE id = 2");
    if (strcmp(v, "500"))
        note_stale("\n  %s after invalidating %s: %s, want %s", "\"sch.dot\".\"t.x\"", name, v, "500");
    free(v);
    /* the same table spelled otherwise than the query spells it */
    pgtest_exec(admin, "CREATE TABLE plain (id int PRIMARY KEY, v int)");
    pgtest_exec(admin, "INSERT INTO plain VALUES (1, 1)");
    free(val(c, "SELECT v FROM plain WHERE id = 1"));
    pgtest_exec(admin, "UPDATE plain SET v = 2");
    name = "PUBLIC.\"plain\"";
    ck_assert_int_eq(alchdb_cache_invalidate_tables(cache, &name, 1), 0);
    v = val(c, "SELECT v FROM plain WHERE id = 1");
    if (strcmp(v, "2"))
        note_stale("\n  plain after invalidating %s: %s, want 2", name, v);
    free(v);
    ck_assert_msg(stale[0] == '\0', "%s backend, stale reads:%s", backend, stale);
    const char *bad = "t.x has a space";
    ck_assert_int_eq(alchdb_cache_invalidate_tables(cache, &bad, 1), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "tables"));

    alchdb_client_free(c);
    alchdb_cache_free(cache);
    PQfinish(admin);
    teardown_db();
}
END_TEST

/* ---- transaction modes ------------------------------------------------------------------- */

START_TEST(test_transaction_modes_route)
{
    alchdb_router *router;
    ck_assert_int_eq(alchdb_router_new(test_env("ALCHDB_TEST_PRIMARY"), NULL, NULL, &router), 0);
    ck_assert_int_eq(alchdb_router_add_replica(router, test_env("ALCHDB_TEST_REPLICA"), 1), 0);
    ck_assert_int_eq(alchdb_router_start(router), 0);
    ck_assert_int_eq(alchdb_router_probe_now(router), 0);
    await_replica(router);
    alchdb_client *c;
    ck_assert_int_eq(alchdb_client_new_routed(router, &c), 0);
    static const struct {
        unsigned flags;
        const char *in_recovery; /* "t": a replica */
    } cases[] = {
        {ALCHDB_TXN_READ_ONLY, "t"},
        {ALCHDB_TXN_READ_ONLY | ALCHDB_TXN_REPEATABLE_READ, "t"},
        {ALCHDB_TXN_READ_ONLY | ALCHDB_TXN_SERIALIZABLE, "f"}, /* standbys refuse SERIALIZABLE */
        {ALCHDB_TXN_SERIALIZABLE, "f"},
        {0, "f"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alchdb_txn *t;
        ck_assert_int_eq(alchdb_client_begin(c, cases[i].flags, &t), 0);
        alchdb_result *r;
        ck_assert_int_eq(alchdb_txn_exec(t, "SELECT pg_is_in_recovery()", 0, NULL, &r), 0);
        ck_assert_msg(!strcmp(alchdb_result_value(r, 0, 0), cases[i].in_recovery), "flags 0x%x ran on %s",
                      cases[i].flags, alchdb_result_value(r, 0, 0));
        alchdb_result_free(r);
        ck_assert_int_eq(alchdb_txn_commit(t), 0);
        alchdb_txn_free(t);
    }
    alchdb_client_free(c);
    alchdb_router_free(router);
}
END_TEST

/* ---- keywords ------------------------------------------------------------------------------ */

/* Every keyword of the server: quoted exactly when PostgreSQL's quote_ident
 * quotes it (all but the unreserved ones). */
START_TEST(test_keywords_match_server)
{
    PGconn *c = pgtest_connect();
    PGresult *r = PQexec(c, "SELECT word, catcode::text, quote_ident(word) <> word FROM pg_get_keywords()");
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    ck_assert_int_gt(PQntuples(r), 400);
    for (int i = 0; i < PQntuples(r); i++) {
        const char *word = PQgetvalue(r, i, 0);
        bool server_quotes = PQgetvalue(r, i, 2)[0] == 't';
        ck_assert_msg(alchdb__sql_ident_needs_quotes(word) == server_quotes, "%s (%s): server %s it", word,
                      PQgetvalue(r, i, 1), server_quotes ? "quotes" : "does not quote");
    }
    PQclear(r);
    /* and names that are not keywords, as quote_ident renders them */
    static const char *const names[] = {"users", "Users", "a.b", "é", "x y", "q\"uote", "_x1", "1x", "a$b", "char"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *params[1] = {names[i]};
        r = PQexecParams(c, "SELECT quote_ident($1)", 1, NULL, params, NULL, NULL, 0);
        ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        alchdb__sql_quote_ident(&sb, names[i]);
        char *mine = alchdb__sb_finish(&sb);
        ck_assert_str_eq(mine, PQgetvalue(r, 0, 0));
        alchdb__free(mine);
        PQclear(r);
    }
    PQfinish(c);
}
END_TEST

/* Type names rendered from the tree read back as the same type on the
 * server (format_type of a column declared each way). */
START_TEST(test_types_render_as_server)
{
    static const char *const types[] = {
        "int", "\"char\"", "char", "char(10)", "varchar(20)", "numeric(10, 2)", "numeric", "bit(3)",
        "timestamp(3) with time zone", "time without time zone", "interval", "interval(2)",
        "interval day to second(3)", "interval year to month", "interval minute", "int[]", "text[][]",
        "double precision", "\"Typ.e\"", "\"sch.x\".\"Typ.e\"[]", "\"select\"",
    };
    setup_db();
    PGconn *c = db_connect();
    pgtest_exec(c, "CREATE SCHEMA \"sch.x\"");
    pgtest_exec(c, "CREATE TYPE \"sch.x\".\"Typ.e\" AS (a int)");
    pgtest_exec(c, "CREATE TYPE \"Typ.e\" AS (a int)");
    pgtest_exec(c, "CREATE TYPE \"select\" AS (a int)");
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT NULL::%s", types[i]);
        alchdb__sql_tree *t = NULL;
        ck_assert_int_eq(alchdb__sql_tree_parse(sql, (size_t)-1, &t, NULL), 0);
        const alchdb__sql_node *rt = alchdb__sql_node_item(
            alchdb__sql_node_get(alchdb__sql_tree_stmt(t, 0, NULL, NULL), "targetList"), 0);
        const alchdb__sql_node *tn = alchdb__sql_node_get(alchdb__sql_node_get(rt, "val"), "typeName");
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        ck_assert_int_eq(alchdb__sql_type_render(tn, &sb), 0);
        char *rendered = alchdb__sb_finish(&sb);
        alchdb__sql_tree_free(t);
        snprintf(sql, sizeof sql,
                 "CREATE TEMP TABLE ty (a %s, b %s); SELECT format_type(a.atttypid, a.atttypmod), "
                 "format_type(b.atttypid, b.atttypmod) FROM pg_attribute a, pg_attribute b "
                 "WHERE a.attrelid = 'ty'::regclass AND b.attrelid = a.attrelid AND a.attname = 'a' AND b.attname = 'b'",
                 types[i], rendered);
        PGresult *r = PQexec(c, sql);
        ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s as %s: %s", types[i], rendered, PQresultErrorMessage(r));
        ck_assert_msg(!strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)), "%s rendered %s: %s, not %s", types[i],
                      rendered, PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0));
        PQclear(r);
        pgtest_exec(c, "DROP TABLE ty");
        alchdb__free(rendered);
    }
    PQfinish(c);
    teardown_db();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sql-live");
    TCase *tc = tcase_create("live");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_keywords_match_server);
    tcase_add_test(tc, test_types_render_as_server);
    tcase_add_test(tc, test_transaction_modes_route);
    tcase_add_test(tc, test_deep_statements_through_client);
    tcase_add_test(tc, test_advisor_skips_deep_statements);
    tcase_add_loop_test(tc, test_hostile_names_invalidation, 0, 2);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
