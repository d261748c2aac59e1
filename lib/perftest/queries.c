/* The application's queries, each with all its arguments drawn from a
 * worker's own deterministic generator, run through the host's client (so the
 * router, the cache and the monitor see them as they see the application). */
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "alchdb/pq.h"
#include "pt.h"

enum { Q_SEARCH, Q_USER, Q_RATING, Q_DETAIL, Q_VIEW, Q_LIKE, Q_IDX, Q_SEQ };

/* @S is the schema, quoted by libpq. */
static const char *const templates[8] = {
    [Q_SEARCH] = "SELECT id, title, cuisine, difficulty, prep_minutes + cook_minutes AS total_minutes "
                 "FROM @S.recipes WHERE cuisine = $1 AND difficulty <= $2 AND title LIKE $3 "
                 "ORDER BY created_at DESC LIMIT $4",
    [Q_USER] = "SELECT id, title, cuisine, created_at FROM @S.recipes WHERE user_id = $1 "
               "ORDER BY created_at DESC LIMIT $2",
    [Q_RATING] = "SELECT r.id, r.title, avg(rr.rating)::numeric(3,2) AS avg_rating, count(*) AS ratings "
                 "FROM @S.recipes r JOIN @S.recipe_ratings rr ON rr.recipe_id = r.id "
                 "WHERE r.cuisine = $1 GROUP BY r.id, r.title HAVING count(*) >= $2 "
                 "ORDER BY avg_rating DESC, r.id LIMIT $3",
    [Q_DETAIL] = "SELECT r.id, r.title, r.cuisine, r.difficulty, u.username, "
                 "(SELECT count(*) FROM @S.recipe_likes l WHERE l.recipe_id = r.id) AS likes "
                 "FROM @S.recipes r JOIN @S.users u ON u.id = r.user_id WHERE r.id = $1",
    [Q_VIEW] = "INSERT INTO @S.recipe_views (recipe_id, user_id, viewed_at) VALUES ($1, $2, now())",
    [Q_LIKE] = "INSERT INTO @S.recipe_likes (user_id, recipe_id, created_at) VALUES ($1, $2, now()) "
               "ON CONFLICT DO NOTHING",
    [Q_IDX] = "SELECT count(*), max(viewed_at) FROM @S.recipe_views WHERE recipe_id = $1",
    [Q_SEQ] = "SELECT count(*), max(viewed_at) FROM @S.recipe_views WHERE user_id = $1",
};

/* The hot set of the cache test: few enough recipes that repeated requests hit. */
#define HOT_RECIPES 50

int alchdb__pt_ctx_init(pt_ctx *c, const alchdb_perftest_target *t, const pt_data *d)
{
    memset(c, 0, sizeof *c);
    c->t = t;
    c->d = d;
    alchdb_conn *conn;
    alchdb_pool *pool = alchdb_client_pool(t->client);
    int rc = alchdb_pool_acquire(pool, -1, "perftest", &conn);
    if (rc != 0)
        return rc;
    char q[160];
    rc = alchdb__pt_quote_schema(alchdb_conn_pgconn(conn), d, q, sizeof q);
    alchdb_pool_release(pool, conn);
    if (rc != 0)
        return rc;
    for (int i = 0; i < 8; i++) {
        rc = alchdb__pt_subst(templates[i], q, c->sql[i], sizeof c->sql[i]);
        if (rc != 0)
            return rc;
    }
    /* Reads of a routed client wait for (or avoid) replicas that have not
     * replayed the load yet. */
    if (t->router && alchdb_client_token(t->client, c->token, sizeof c->token) != 0)
        c->token[0] = 0;
    return 0;
}

static uint64_t pick(uint64_t *rng, uint64_t n)
{
    return alchdb__pt_rand(rng) % n;
}

static int exec(const pt_ctx *c, int q, int n, const char *const *params, unsigned flags, char *err, size_t cap)
{
    alchdb_exec_opts o = {.size = sizeof o, .flags = flags, .timeout_us = 30 * INT64_C(1000000)};
    if (c->token[0] && q != Q_VIEW && q != Q_LIKE)
        o.token = c->token;
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec_opts(c->t->client, c->sql[q], n, params, &o, &r);
    if (rc != 0 && err && !err[0]) {
        if (rc == ALCHDB_E_QUERY && r)
            snprintf(err, cap, "%s: %s", alchdb_result_sqlstate(r), alchdb_result_error_message(r));
        else
            snprintf(err, cap, "%s", alchdb_last_error_message());
    }
    alchdb_result_free(r);
    return rc;
}

static int op_search(const pt_ctx *c, uint64_t *rng, char *err, size_t cap)
{
    char diff[8], like[48], lim[8];
    snprintf(diff, sizeof diff, "%d", (int)(2 + pick(rng, 4)));
    snprintf(like, sizeof like, "%%%s%%", alchdb__pt_words[pick(rng, alchdb__pt_nwords)]);
    snprintf(lim, sizeof lim, "%d", (int)(10 + 10 * pick(rng, 3)));
    const char *p[] = {alchdb__pt_cuisines[pick(rng, alchdb__pt_ncuisines)], diff, like, lim};
    return exec(c, Q_SEARCH, 4, p, 0, err, cap);
}

static int op_user(const pt_ctx *c, uint64_t *rng, char *err, size_t cap)
{
    char user[24];
    snprintf(user, sizeof user, "%lld", (long long)(1 + pick(rng, (uint64_t)c->d->users)));
    const char *p[] = {user, "20"};
    return exec(c, Q_USER, 2, p, 0, err, cap);
}

static int op_rating(const pt_ctx *c, uint64_t *rng, char *err, size_t cap)
{
    char min[8];
    snprintf(min, sizeof min, "%d", (int)(1 + pick(rng, 3)));
    const char *p[] = {alchdb__pt_cuisines[pick(rng, alchdb__pt_ncuisines)], min, "10"};
    return exec(c, Q_RATING, 3, p, 0, err, cap);
}

static int op_detail(const pt_ctx *c, uint64_t *rng, uint64_t span, char *err, size_t cap)
{
    char id[24];
    uint64_t n = span && span < (uint64_t)c->d->recipes ? span : (uint64_t)c->d->recipes;
    snprintf(id, sizeof id, "%lld", (long long)(1 + pick(rng, n)));
    const char *p[] = {id};
    return exec(c, Q_DETAIL, 1, p, 0, err, cap);
}

static int op_write(const pt_ctx *c, int q, uint64_t *rng, char *err, size_t cap)
{
    char recipe[24], user[24];
    snprintf(recipe, sizeof recipe, "%lld", (long long)(1 + pick(rng, (uint64_t)c->d->recipes)));
    snprintf(user, sizeof user, "%lld", (long long)(1 + pick(rng, (uint64_t)c->d->users)));
    const char *p[] = {q == Q_VIEW ? recipe : user, q == Q_VIEW ? user : recipe};
    return exec(c, q, 2, p, 0, err, cap);
}

/* The application mix: mostly reads, a few writes (views and likes). */
static int op_mix(const pt_ctx *c, uint64_t *rng, char *err, size_t cap)
{
    uint64_t k = pick(rng, 100);
    if (k < 40)
        return op_search(c, rng, err, cap);
    if (k < 65)
        return op_user(c, rng, err, cap);
    if (k < 75)
        return op_rating(c, rng, err, cap);
    if (k < 90)
        return op_detail(c, rng, 0, err, cap);
    return op_write(c, k < 97 ? Q_VIEW : Q_LIKE, rng, err, cap);
}

static int op_acquire(const pt_ctx *c, int64_t *lat_us, char *err, size_t cap)
{
    alchdb_pool *pool = alchdb_client_pool(c->t->client);
    alchdb_conn *conn;
    int64_t t0 = alchdb__now_ns();
    int rc = alchdb_pool_acquire(pool, -1, "perftest", &conn);
    *lat_us = (alchdb__now_ns() - t0) / 1000;
    if (rc != 0) {
        if (err && !err[0])
            snprintf(err, cap, "%s", alchdb_last_error_message());
        return rc;
    }
    return alchdb_pool_release(pool, conn);
}

int alchdb__pt_op(const pt_ctx *c, int op, uint64_t *rng, int64_t *lat_us, int *which, char *err, size_t cap)
{
    *which = 0;
    if (op == PT_OP_ACQUIRE)
        return op_acquire(c, lat_us, err, cap);
    int64_t t0 = alchdb__now_ns();
    int rc;
    switch (op) {
    case PT_OP_SEARCH: rc = op_search(c, rng, err, cap); break;
    case PT_OP_USER: rc = op_user(c, rng, err, cap); break;
    case PT_OP_RATING: rc = op_rating(c, rng, err, cap); break;
    case PT_OP_CACHED: rc = op_detail(c, rng, HOT_RECIPES, err, cap); break;
    case PT_OP_SCAN: {
        char arg[24];
        *which = (int)pick(rng, 2);
        uint64_t n = (uint64_t)(*which ? c->d->users : c->d->recipes);
        snprintf(arg, sizeof arg, "%lld", (long long)(1 + pick(rng, n)));
        const char *p[] = {arg};
        rc = exec(c, *which ? Q_SEQ : Q_IDX, 1, p, 0, err, cap);
        break;
    }
    default: rc = op_mix(c, rng, err, cap); break;
    }
    *lat_us = (alchdb__now_ns() - t0) / 1000;
    return rc;
}
