/* The Alchemorsel schema and its deterministic data: created and loaded with
 * COPY in one transaction on the primary (a failed load leaves nothing), and
 * marked with a comment so that cleanup drops only a schema the perftest made
 * and a later run can reuse a complete load of the same size. */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alchdb/pq.h"
#include "core/pqconn.h"
#include "pt.h"

#define MARK_PREFIX "alchdb perftest v1 "
#define BASE_EPOCH 1735689600 /* 2025-01-01 00:00:00 UTC */
#define COPY_CHUNK (1 << 20)

const char *const alchdb__pt_cuisines[] = {"italian", "mexican", "indian",  "chinese", "japanese",
                                           "thai",    "french",  "greek",   "spanish", "korean"};
const size_t alchdb__pt_ncuisines = sizeof alchdb__pt_cuisines / sizeof alchdb__pt_cuisines[0];
const char *const alchdb__pt_words[] = {"spicy", "creamy", "roasted", "garlic", "lemon",  "tomato",
                                        "chicken", "beef", "tofu",    "mushroom", "basil", "curry",
                                        "noodle", "rice",  "salad",   "soup",   "stew",   "pasta",
                                        "taco",   "pie",   "cake",    "bread",  "honey",  "ginger"};
const size_t alchdb__pt_nwords = sizeof alchdb__pt_words / sizeof alchdb__pt_words[0];

/* splitmix64: small, fast, and the same sequence on every platform. */
uint64_t alchdb__pt_rand(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t pick(uint64_t *rng, uint64_t n)
{
    return alchdb__pt_rand(rng) % n;
}

static void ts(char *buf, size_t cap, uint64_t *rng)
{
    time_t t = (time_t)(BASE_EPOCH + (int64_t)pick(rng, 365u * 86400u));
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S+00", &tm);
}

static int fail_pg(PGconn *pg, const char *what)
{
    char w[300];
    snprintf(w, sizeof w, "perftest: %s", what);
    return alchdb__pq_error(ALCHDB_E_QUERY, pg, w);
}

static int fail_res(PGresult *r, const char *what)
{
    char msg[600];
    alchdb__pq_result_message(msg, sizeof msg, NULL, r, true);
    int rc = alchdb__error(ALCHDB_E_QUERY, "perftest: %s: %s", what, msg);
    alchdb__set_error_sqlstate(PQresultErrorField(r, PG_DIAG_SQLSTATE));
    PQclear(r);
    return rc;
}

static int run(PGconn *pg, const char *sql, const char *what)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return fail_res(r, what);
    PQclear(r);
    return 0;
}

static int acquire(const alchdb_perftest_target *t, alchdb_conn **c, PGconn **pg)
{
    alchdb_pool *pool = alchdb_client_pool(t->client);
    int rc = alchdb_pool_acquire(pool, -1, "perftest-setup", c);
    if (rc != 0)
        return rc;
    *pg = alchdb_conn_pgconn(*c);
    return 0;
}

int alchdb__pt_data_init(pt_data *d, const alchdb__opts *o)
{
    memset(d, 0, sizeof *d);
    d->recipes = alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_RECIPES);
    d->users = alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_USERS);
    d->seed = alchdb__opts_i(o, ALCHDB_PERFTEST_OPT_SEED);
    const char *s = alchdb__opts_s(o, ALCHDB_PERFTEST_OPT_SCHEMA);
    snprintf(d->schema, sizeof d->schema, "%s", s ? s : "alchdb_perftest");
    return 0;
}

/* The quoted schema name, through libpq's escaping. */
int alchdb__pt_quote_schema(PGconn *pg, const pt_data *d, char *out, size_t cap)
{
    char *q = PQescapeIdentifier(pg, d->schema, strlen(d->schema));
    if (!q)
        return fail_pg(pg, "quote the schema name");
    int n = snprintf(out, cap, "%s", q);
    PQfreemem(q);
    return n > 0 && (size_t)n < cap ? 0 : alchdb__error(ALCHDB_E_RANGE, "perftest: schema name too long");
}

/* The schema's comment: 1 = ours (its text in mark), 0 = absent, ALCHDB_E_STATE = someone else's. */
static int schema_state(PGconn *pg, const pt_data *d, char *mark, size_t cap)
{
    const char *params[] = {d->schema};
    PGresult *r = PQexecParams(pg,
                               "SELECT coalesce(obj_description(oid, 'pg_namespace'), '') FROM pg_namespace "
                               "WHERE nspname = $1",
                               1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        return fail_res(r, "look up the schema");
    int state = 0;
    if (PQntuples(r) == 1) {
        snprintf(mark, cap, "%s", PQgetvalue(r, 0, 0));
        state = strncmp(mark, MARK_PREFIX, strlen(MARK_PREFIX)) == 0 ? 1 : ALCHDB_E_STATE;
    }
    PQclear(r);
    if (state == ALCHDB_E_STATE)
        return alchdb__error(ALCHDB_E_STATE,
                             "perftest: schema '%s' exists and was not created by the perftest: "
                             "choose another schema (option 'schema')",
                             d->schema);
    return state;
}

static void marker(const pt_data *d, char *buf, size_t cap)
{
    snprintf(buf, cap, MARK_PREFIX "recipes=%lld users=%lld seed=%lld", (long long)d->recipes,
             (long long)d->users, (long long)d->seed);
}

static int copy_flush(PGconn *pg, alchdb__strbuf *sb)
{
    if (sb->failed)
        return alchdb__nomem("perftest COPY buffer");
    if (sb->len && PQputCopyData(pg, sb->data, (int)sb->len) != 1)
        return fail_pg(pg, "COPY");
    sb->len = 0;
    if (sb->data)
        sb->data[0] = 0;
    return 0;
}

static int copy_end(PGconn *pg, alchdb__strbuf *sb, int rc, const char *what)
{
    if (rc == 0)
        rc = copy_flush(pg, sb);
    if (PQputCopyEnd(pg, rc == 0 ? NULL : "perftest load failed") != 1 && rc == 0)
        rc = fail_pg(pg, what);
    PGresult *r;
    while ((r = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = fail_res(r, what);
        else
            PQclear(r);
    }
    return rc;
}

static int copy_begin(PGconn *pg, const char *q, const char *table, const char *cols)
{
    char sql[512];
    snprintf(sql, sizeof sql, "COPY %s.%s (%s) FROM STDIN", q, table, cols);
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        return fail_res(r, sql);
    PQclear(r);
    return 0;
}

/* Each generator appends one row per call into sb. */
static int load_table(PGconn *pg, const char *q, const char *table, const char *cols, int64_t rows,
                      void (*row)(alchdb__strbuf *, const pt_data *, int64_t, uint64_t *), const pt_data *d,
                      uint64_t salt)
{
    int rc = copy_begin(pg, q, table, cols);
    if (rc != 0)
        return rc;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    uint64_t rng = (uint64_t)d->seed * 1000003u + salt;
    for (int64_t i = 1; i <= rows && rc == 0; i++) {
        row(&sb, d, i, &rng);
        if (sb.len >= COPY_CHUNK || sb.failed)
            rc = copy_flush(pg, &sb);
    }
    rc = copy_end(pg, &sb, rc, table);
    alchdb__sb_reset(&sb);
    return rc;
}

static void user_row(alchdb__strbuf *sb, const pt_data *d, int64_t i, uint64_t *rng)
{
    (void)d;
    char t[40];
    ts(t, sizeof t, rng);
    alchdb__sb_printf(sb, "%lld\tcook_%05lld\tcook%lld@example.test\t%s\n", (long long)i, (long long)i,
                      (long long)i, t);
}

static void recipe_row(alchdb__strbuf *sb, const pt_data *d, int64_t i, uint64_t *rng)
{
    char t[40];
    ts(t, sizeof t, rng);
    const char *a = alchdb__pt_words[pick(rng, alchdb__pt_nwords)];
    const char *b = alchdb__pt_words[pick(rng, alchdb__pt_nwords)];
    alchdb__sb_printf(sb, "%lld\t%lld\t%s %s %lld\t%s\t%d\t%d\t%d\t%d\t%s\n", (long long)i,
                      (long long)(1 + pick(rng, (uint64_t)d->users)), a, b, (long long)i,
                      alchdb__pt_cuisines[pick(rng, alchdb__pt_ncuisines)], (int)(1 + pick(rng, 5)),
                      (int)(5 + pick(rng, 56)), (int)pick(rng, 181), (int)(1 + pick(rng, 8)), t);
}

static void rating_row(alchdb__strbuf *sb, const pt_data *d, int64_t i, uint64_t *rng)
{
    char t[40];
    ts(t, sizeof t, rng);
    alchdb__sb_printf(sb, "%lld\t%lld\t%lld\t%d\t%s\n", (long long)i, (long long)(1 + pick(rng, (uint64_t)d->recipes)),
                      (long long)(1 + pick(rng, (uint64_t)d->users)), (int)(1 + pick(rng, 5)), t);
}

/* Two likes per recipe by two distinct users. */
static void like_row(alchdb__strbuf *sb, const pt_data *d, int64_t i, uint64_t *rng)
{
    char t[40];
    ts(t, sizeof t, rng);
    int64_t recipe = (i + 1) / 2, u = d->users;
    int64_t user = 1 + (recipe + (i % 2) * (u / 2)) % u;
    alchdb__sb_printf(sb, "%lld\t%lld\t%s\n", (long long)user, (long long)recipe, t);
}

static void view_row(alchdb__strbuf *sb, const pt_data *d, int64_t i, uint64_t *rng)
{
    char t[40];
    ts(t, sizeof t, rng);
    alchdb__sb_printf(sb, "%lld\t%lld\t%lld\t%s\n", (long long)i, (long long)(1 + pick(rng, (uint64_t)d->recipes)),
                      (long long)(1 + pick(rng, (uint64_t)d->users)), t);
}

int alchdb__pt_subst(const char *tmpl, const char *q, char *out, size_t cap)
{
    size_t n = 0, ql = strlen(q);
    for (const char *p = tmpl; *p; p++) {
        if (p[0] == '@' && p[1] == 'S') {
            if (n + ql >= cap)
                return alchdb__error(ALCHDB_E_RANGE, "perftest: statement too long");
            memcpy(out + n, q, ql);
            n += ql;
            p++;
        } else {
            if (n + 1 >= cap)
                return alchdb__error(ALCHDB_E_RANGE, "perftest: statement too long");
            out[n++] = *p;
        }
    }
    out[n] = 0;
    return 0;
}

static int run_t(PGconn *pg, const char *tmpl, const char *q, const char *what)
{
    char sql[4096];
    int rc = alchdb__pt_subst(tmpl, q, sql, sizeof sql);
    return rc != 0 ? rc : run(pg, sql, what);
}

static int create_and_load(PGconn *pg, const pt_data *d, const char *q)
{
    char sql[4096], mark[200];
    int rc = run_t(pg,
             "CREATE SCHEMA @S;"
             "CREATE TABLE @S.users (id bigint PRIMARY KEY, username text NOT NULL UNIQUE, email text NOT NULL,"
             " created_at timestamptz NOT NULL);"
             "CREATE TABLE @S.recipes (id bigint PRIMARY KEY, user_id bigint NOT NULL REFERENCES @S.users,"
             " title text NOT NULL, cuisine text NOT NULL, difficulty int NOT NULL, prep_minutes int NOT NULL,"
             " cook_minutes int NOT NULL, servings int NOT NULL, created_at timestamptz NOT NULL);"
             "CREATE TABLE @S.recipe_ratings (id bigint PRIMARY KEY, recipe_id bigint NOT NULL, user_id bigint"
             " NOT NULL, rating int NOT NULL CHECK (rating BETWEEN 1 AND 5), created_at timestamptz NOT NULL);"
             "CREATE TABLE @S.recipe_likes (user_id bigint NOT NULL, recipe_id bigint NOT NULL,"
             " created_at timestamptz NOT NULL, PRIMARY KEY (user_id, recipe_id));"
             "CREATE TABLE @S.recipe_views (id bigserial PRIMARY KEY, recipe_id bigint NOT NULL,"
             " user_id bigint NOT NULL, viewed_at timestamptz NOT NULL);",
             q, "create the schema");
    int64_t r = d->recipes;
    if (rc == 0)
        rc = load_table(pg, q, "users", "id, username, email, created_at", d->users, user_row, d, 1);
    if (rc == 0)
        rc = load_table(pg, q, "recipes",
                        "id, user_id, title, cuisine, difficulty, prep_minutes, cook_minutes, servings, created_at",
                        r, recipe_row, d, 2);
    if (rc == 0)
        rc = load_table(pg, q, "recipe_ratings", "id, recipe_id, user_id, rating, created_at", 3 * r, rating_row, d,
                        3);
    if (rc == 0)
        rc = load_table(pg, q, "recipe_likes", "user_id, recipe_id, created_at", 2 * r, like_row, d, 4);
    if (rc == 0)
        rc = load_table(pg, q, "recipe_views", "id, recipe_id, user_id, viewed_at", 5 * r, view_row, d, 5);
    if (rc == 0) {
        /* recipe_views.user_id is left unindexed on purpose: the sequential half of index_vs_seq_scan. */
        snprintf(sql, sizeof sql, "SELECT setval(pg_get_serial_sequence('%s.recipe_views', 'id'), %lld)", q,
                 (long long)(5 * r));
        rc = run(pg, sql, "set the view sequence");
    }
    if (rc == 0) {
        rc = run_t(pg,
                 "CREATE INDEX ON @S.recipes (user_id, created_at);"
                 "CREATE INDEX ON @S.recipes (cuisine, created_at);"
                 "CREATE INDEX ON @S.recipe_ratings (recipe_id);"
                 "CREATE INDEX ON @S.recipe_likes (recipe_id);"
                 "CREATE INDEX ON @S.recipe_views (recipe_id);"
                 "ANALYZE @S.users; ANALYZE @S.recipes; ANALYZE @S.recipe_ratings;"
                 "ANALYZE @S.recipe_likes; ANALYZE @S.recipe_views;",
                 q, "index and analyze");
    }
    if (rc == 0) {
        marker(d, mark, sizeof mark);
        /* the marker is a literal of our own making (digits and fixed words) */
        snprintf(sql, sizeof sql, "COMMENT ON SCHEMA %s IS '%s'", q, mark);
        rc = run(pg, sql, "mark the schema");
    }
    return rc;
}

static void invalidate(const alchdb_perftest_target *t)
{
    static const char *const tables[] = {"users", "recipes", "recipe_ratings", "recipe_likes", "recipe_views"};
    if (t->cache)
        (void)alchdb_cache_invalidate_tables(t->cache, tables, sizeof tables / sizeof tables[0]);
}

static int drop(PGconn *pg, const char *q)
{
    char sql[256];
    snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", q);
    return run(pg, sql, "drop the schema");
}

int alchdb__pt_setup(const alchdb_perftest_target *t, const pt_data *d)
{
    alchdb_conn *c;
    PGconn *pg;
    int rc = acquire(t, &c, &pg);
    if (rc != 0)
        return rc;
    char q[160], have[256], want[200];
    rc = alchdb__pt_quote_schema(pg, d, q, sizeof q);
    int state = rc == 0 ? schema_state(pg, d, have, sizeof have) : rc;
    marker(d, want, sizeof want);
    if (state == 1 && strcmp(have, want) == 0) {
        alchdb_pool_release(alchdb_client_pool(t->client), c);
        return 0;
    }
    rc = state < 0 ? state : run(pg, "BEGIN", "begin");
    if (rc == 0 && state == 1)
        rc = drop(pg, q);
    if (rc == 0)
        rc = create_and_load(pg, d, q);
    if (rc == 0)
        rc = run(pg, "COMMIT", "commit");
    else if (state >= 0)
        (void)run(pg, "ROLLBACK", "rollback");
    alchdb_pool_release(alchdb_client_pool(t->client), c);
    invalidate(t);
    return rc;
}

int alchdb__pt_cleanup(const alchdb_perftest_target *t, const pt_data *d)
{
    alchdb_conn *c;
    PGconn *pg;
    int rc = acquire(t, &c, &pg);
    if (rc != 0)
        return rc;
    char q[160], have[256];
    rc = alchdb__pt_quote_schema(pg, d, q, sizeof q);
    int state = rc == 0 ? schema_state(pg, d, have, sizeof have) : rc;
    rc = state == 1 ? drop(pg, q) : state < 0 ? state : 0;
    alchdb_pool_release(alchdb_client_pool(t->client), c);
    invalidate(t);
    return rc;
}
