/* The cache's Redis backend behind Redis Sentinel (lib/cache/redis.c), on a
 * Sentinel group of this suite's own (tests/services/rig.sh sentinel: a
 * master, a replica and two sentinels with a password), started before the
 * tests and stopped after them:
 *   - the options' checks (list syntax, bounds, the secret shown as ***);
 *   - discovery through the sentinels, a dead sentinel listed first skipped;
 *   - clear errors for dead sentinels, an unknown master name and a wrong
 *     sentinel password (which no message shows);
 *   - a replica named directly is refused (ROLE), it may lag;
 *   - a failover (SENTINEL FAILOVER) where the promoted replica lacks an
 *     invalidation: the epoch is replaced, so the entry is not served;
 *   - a failover under load through a cached client on PostgreSQL: reads and
 *     writes go on, no stale read, hits again after it.
 * Every log message of the run is checked for the passwords. */
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "cache/cache_internal.h"
#include "cache/cache_priv.h"
#include "failalloc.h"
#include "pgtest.h"
#include "redis_backend_test.h"
#include "testutil.h"

#define WRONG_PW "wrong-sentinel-secret-4711"

static char g_dir[512], g_sentinels[256], g_master[64], g_pw[64];
static _Atomic int g_leaks;
static char g_leak[512];

/* ---- the group ------------------------------------------------------------------- */

static void rig_sh(char *cmd, size_t cap, const char *args)
{
    const char *sh = getenv("ALCHDB_RIG_SH");
    if (!sh || !*sh) {
        fprintf(stderr, "FATAL: ALCHDB_RIG_SH is not set (run the suite through meson and tests/run.sh)\n");
        exit(EXIT_FAILURE);
    }
    snprintf(cmd, cap, "'%s' sentinel %s", sh, args);
}

/* "export NAME='value'" lines of `rig.sh sentinel start` into the globals. */
static void group_start(void)
{
    char cmd[1024], line[1024];
    rig_sh(cmd, sizeof cmd, "start");
    FILE *f = popen(cmd, "r");
    if (!f) {
        perror("popen");
        exit(EXIT_FAILURE);
    }
    static const struct {
        const char *name;
        char *dst;
        size_t cap;
    } vars[] = {{"ALCHDB_TEST_SENTINEL_DIR", g_dir, sizeof g_dir},
                {"ALCHDB_TEST_SENTINELS", g_sentinels, sizeof g_sentinels},
                {"ALCHDB_TEST_SENTINEL_MASTER", g_master, sizeof g_master},
                {"ALCHDB_TEST_SENTINEL_PASSWORD", g_pw, sizeof g_pw}};
    while (fgets(line, sizeof line, f))
        for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
            char pat[96];
            snprintf(pat, sizeof pat, "export %s='", vars[i].name);
            if (strncmp(line, pat, strlen(pat)) == 0) {
                const char *v = line + strlen(pat);
                const char *q = strchr(v, '\'');
                snprintf(vars[i].dst, vars[i].cap, "%.*s", q ? (int)(q - v) : 0, v);
            }
        }
    if (pclose(f) != 0 || !*g_dir || !*g_sentinels || !*g_master || !*g_pw) {
        fprintf(stderr, "FATAL: rig.sh sentinel start failed\n");
        exit(EXIT_FAILURE);
    }
}

static void group_stop(void)
{
    char cmd[1024], args[600];
    snprintf(args, sizeof args, "stop '%s'", g_dir);
    rig_sh(cmd, sizeof cmd, args);
    if (system(cmd) != 0)
        fprintf(stderr, "rig.sh sentinel stop failed\n");
}

static void failover(void)
{
    char cmd[1024], args[600];
    snprintf(args, sizeof args, "failover '%s' >/dev/null", g_dir);
    rig_sh(cmd, sizeof cmd, args);
    ck_assert_msg(system(cmd) == 0, "rig.sh sentinel failover failed");
}

/* host:port of the master (master true) or of the replica, as the first
 * sentinel says (the group has exactly one of each). */
static void server_addr(bool master, char *host, size_t cap, int *port)
{
    int sport = atoi(strchr(g_sentinels, ':') + 1);
    redisContext *c = redisConnect("127.0.0.1", sport);
    ck_assert(c && !c->err);
    redisReply *r = redisCommand(c, "AUTH %s", g_pw);
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", g_master);
    ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    snprintf(host, cap, "%s", r->element[0]->str);
    *port = atoi(r->element[1]->str);
    freeReplyObject(r);
    if (!master) {
        r = redisCommand(c, "SENTINEL replicas %s", g_master);
        ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
        const redisReply *e = r->element[0];
        for (size_t i = 0; i + 1 < e->elements; i += 2)
            if (strcmp(e->element[i]->str, "port") == 0)
                *port = atoi(e->element[i + 1]->str);
        freeReplyObject(r);
    }
    redisFree(c);
}

static redisContext *server(bool master)
{
    char host[64];
    int port;
    server_addr(master, host, sizeof host, &port);
    redisContext *c = redisConnect(host, port);
    ck_assert(c && !c->err);
    return c;
}

/* ---- the log: no password in any message --------------------------------------------- */

static void log_check(void *user_data, int level, const char *module, const char *message)
{
    (void)user_data;
    (void)level;
    (void)module;
    if ((*g_pw && strstr(message, g_pw)) || strstr(message, WRONG_PW)) {
        if (atomic_fetch_add(&g_leaks, 1) == 0)
            snprintf(g_leak, sizeof g_leak, "%s", message);
    }
}

static void setup(void)
{
    keys_reset("adbs");
    atomic_store(&g_leaks, 0);
    alchdb_set_log_handler(log_check, NULL, ALCHDB_LOG_DEBUG);
}

static void teardown(void)
{
    alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_NONE);
    ck_assert_msg(atomic_load(&g_leaks) == 0, "a password reached the log: %s", g_leak);
}


static void no_secret(const char *msg)
{
    ck_assert_msg(!strstr(msg, g_pw) && !strstr(msg, WRONG_PW), "a password in: %s", msg);
}

/* ---- the backend ---------------------------------------------------------------------- */

/* The group's master through its sentinels; a breaker that reopens soon,
 * since the failovers make it open. */
static alchdb__cache_backend_cfg cfg_sentinel(const char *sentinels)
{
    alchdb__cache_backend_cfg cfg = backend_cfg_base();
    cfg.redis_host = "127.0.0.1";
    cfg.redis_port = 1; /* not used with sentinels */
    cfg.redis_sentinels = sentinels;
    cfg.redis_master_name = g_master;
    cfg.redis_sentinel_password = g_pw;
    cfg.breaker_open_us = 100 * MS;
    return cfg;
}

START_TEST(test_options)
{
    alchdb_cache_config *cc;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    static const char *const bad[] = {"nohostport", "h:0", "h:70000", "h:", ":1", "h:1,", ",h:1", "h:1x", "h 1:2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_msg(alchdb_cache_config_set_from_string(cc, "redis_sentinels", bad[i]) == ALCHDB_E_INVALID, "%s",
                      bad[i]);
        ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "redis_sentinels"));
    }
    char many[1024] = "";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "%sh%d:%d", i ? "," : "", i, 100 + i);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_sentinels", many), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "at most 16"));
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_sentinels", "10.0.0.1:26379,[::1]:26380"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_master_name", "has space"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_master_name", "cache-master"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_REDIS_SENTINEL_PASSWORD, WRONG_PW), 0);
    const char *v = NULL;
    ck_assert_int_eq(alchdb_cache_config_get_string(cc, ALCHDB_CACHE_OPT_REDIS_SENTINEL_PASSWORD, &v), 0);
    ck_assert_str_eq(v, "***");
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_sentinel_password", ""), ALCHDB_E_INVALID);
    no_secret(alchdb_last_error_message());
    alchdb_cache_config_free(cc);

    /* The internal parser: items, brackets stripped. */
    char host[256];
    int port = 0;
    ck_assert_int_eq(alchdb__cache_sentinels_parse("a:1,[::1]:26380", host, &port, 1), 2);
    ck_assert_str_eq(host, "::1");
    ck_assert_int_eq(port, 26380);
    /* The backend checks what it is given, too. */
    alchdb__cache_backend_cfg cfg = cfg_sentinel("nohostport");
    alchdb__cache_backend *b = (alchdb__cache_backend *)1;
    ck_assert_int_eq(alchdb__cache_redis_new(&cfg, &b), ALCHDB_E_INVALID);
    ck_assert_ptr_null(b);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "redis_sentinels"));
    cfg = cfg_sentinel(g_sentinels);
    cfg.redis_master_name = "";
    ck_assert_int_eq(alchdb__cache_redis_new(&cfg, &b), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "redis_master_name"));
}
END_TEST

START_TEST(test_discovery)
{
    char list[512];
    int dead;
    snprintf(list, sizeof list, "127.0.0.1:%d,%s", closed_port(&dead), g_sentinels);
    alchdb__cache_backend_cfg cfg = cfg_sentinel(list);
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk = K("v:t");
    alchdb__cache_ver init, cur;
    alchdb__cache_ver_new(&init, -1);
    ck_assert_msg(b->ops->init(b, 1, &vk, &init, NULL, &cur) == 0, "%s", alchdb_last_error_message());
    ck_assert_str_eq(cur.v, init.v);
    const char *key = K("e");
    ck_assert_int_eq(b->ops->fill(b, key, 1, &vk, &cur, (const unsigned char *)"entry", 5, 60000), 1);
    unsigned char *e = NULL;
    size_t elen = 0;
    ck_assert_int_eq(b->ops->fetch(b, key, 1, &vk, &cur, &e, &elen), 0);
    ck_assert_uint_eq(elen, 5);
    ck_assert_int_eq(memcmp(e, "entry", 5), 0);
    alchdb__free(e);
    ck_assert_int_ge(backend_stat(b, "sentinel_discoveries"), 1);
    ck_assert_int_eq(backend_stat(b, "master_moves"), 0);

    /* The entry is on the master the sentinels name. */
    redisContext *m = server(true);
    redisReply *r = redisCommand(m, "GET %s", key);
    ck_assert(r && r->type == REDIS_REPLY_STRING && r->len == 5);
    freeReplyObject(r);
    redisFree(m);
    b->ops->destroy(b);
    close(dead);
}
END_TEST

/* While connections are reused the sentinels are asked again, at most once a
 * second (a master replaced but not demoted would otherwise keep them). */
START_TEST(test_recheck)
{
    alchdb__cache_backend_cfg cfg = cfg_sentinel(g_sentinels);
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk = K("v:r");
    alchdb__cache_ver cur;
    unsigned char *e = NULL;
    size_t elen = 0;
    ck_assert_int_eq(b->ops->fetch(b, NULL, 1, &vk, &cur, &e, &elen), 0);
    long long d0 = backend_stat(b, "sentinel_discoveries");
    ck_assert_int_ge(d0, 1);
    int64_t t0 = alchdb__now_ns();
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(b->ops->fetch(b, NULL, 1, &vk, &cur, &e, &elen), 0);
    double took_s = (double)(alchdb__now_ns() - t0) / 1e9;
    long long d1 = backend_stat(b, "sentinel_discoveries");
    ck_assert_msg(d1 - d0 <= 1 + (long long)took_s, "%lld sentinel checks in %.2f s", d1 - d0, took_s);
    usleep(1100000);
    ck_assert_int_eq(b->ops->fetch(b, NULL, 1, &vk, &cur, &e, &elen), 0);
    ck_assert_int_eq(backend_stat(b, "sentinel_discoveries"), d1 + 1);
    ck_assert_int_eq(backend_stat(b, "master_moves"), 0);
    ck_assert_int_eq(backend_stat(b, "connections"), 1); /* the same master: the context was kept */
    b->ops->destroy(b);
}
END_TEST

/* Every allocation of the constructor and of a first operation (discovery,
 * connect) may fail: ALCHDB_E_NOMEM, nothing half-made (ASan sees leaks). */
START_TEST(test_allocation_failure)
{
    alchdb__cache_backend_cfg cfg = cfg_sentinel(g_sentinels);
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    long n = 1;
    for (;; n++) {
        alchdb__cache_backend *b = (alchdb__cache_backend *)1;
        failalloc_arm(n);
        int rc = alchdb__cache_redis_new(&cfg, &b);
        bool failed = atomic_load(&failalloc_calls) >= n;
        failalloc_arm(-1);
        if (!failed) {
            ck_assert_int_eq(rc, 0);
            b->ops->destroy(b);
            break;
        }
        ck_assert_msg(rc == ALCHDB_E_NOMEM, "allocation %ld: rc %d", n, rc);
        ck_assert_ptr_null(b);
    }
    ck_assert_int_ge(n, 4); /* the backend, its sentinel list, names and password copies */
    for (n = 1;; n++) {
        alchdb__cache_backend *b = mk(&cfg);
        const char *vk = K("v:oom");
        alchdb__cache_ver cur;
        unsigned char *e = NULL;
        size_t elen = 0;
        key_next--; /* the same key every round */
        failalloc_arm(n);
        int rc = b->ops->fetch(b, NULL, 1, &vk, &cur, &e, &elen);
        bool failed = atomic_load(&failalloc_calls) >= n;
        failalloc_arm(-1);
        b->ops->destroy(b);
        if (!failed) {
            ck_assert_int_eq(rc, 0);
            break;
        }
        ck_assert_msg(rc == ALCHDB_E_NOMEM, "allocation %ld: rc %d: %s", n, rc, alchdb_last_error_message());
    }
    ck_assert_int_ge(n, 2);
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}
END_TEST

/* A failing operation with the cache's message: it must name what failed and
 * never show a password. */
static void expect_failure(const alchdb__cache_backend_cfg *cfg, const char *want)
{
    alchdb__cache_backend *b = mk(cfg);
    unsigned char *e = NULL;
    size_t elen = 0;
    alchdb__cache_ver cur;
    const char *vk = K("v:x");
    int64_t t0 = alchdb__now_ns();
    int rc = b->ops->fetch(b, K("x"), 1, &vk, &cur, &e, &elen);
    int64_t took_ms = (alchdb__now_ns() - t0) / 1000000;
    const char *msg = alchdb_last_error_message();
    ck_assert_msg(rc == ALCHDB_E_BACKEND || rc == ALCHDB_E_TIMEOUT, "rc %d: %s", rc, msg);
    ck_assert_msg(strstr(msg, want), "\"%s\" not in: %s", want, msg);
    no_secret(msg);
    /* Within the operation's deadline (connect + command timeout), with slack. */
    ck_assert_int_lt(took_ms, (2000 + 5000) * test_slowdown());
    b->ops->destroy(b);
}

START_TEST(test_bad_addresses)
{
    char list[512];
    int fd1, fd2, d1 = closed_port(&fd1), d2 = closed_port(&fd2);
    snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d", d1, d2);
    alchdb__cache_backend_cfg cfg = cfg_sentinel(list);
    char want[128];
    snprintf(want, sizeof want, "127.0.0.1:%d", d2); /* every sentinel tried is named */
    expect_failure(&cfg, "no sentinel named the master");
    expect_failure(&cfg, want);

    cfg = cfg_sentinel(g_sentinels);
    cfg.redis_master_name = "no-such-master";
    expect_failure(&cfg, "knows no master named 'no-such-master'");

    cfg = cfg_sentinel(g_sentinels);
    cfg.redis_sentinel_password = WRONG_PW;
    expect_failure(&cfg, "AUTH failed");
    cfg.redis_sentinel_password = NULL; /* the sentinels require one */
    expect_failure(&cfg, "no sentinel named the master");
    close(fd1);
    close(fd2);
}
END_TEST

START_TEST(test_replica_refused)
{
    char host[64];
    int port;
    server_addr(false, host, sizeof host, &port);
    alchdb__cache_backend_cfg cfg = cfg_sentinel(NULL);
    cfg.redis_host = host;
    cfg.redis_port = port;
    expect_failure(&cfg, "not a master");
}
END_TEST

/* The promoted replica lacks an invalidation (asynchronous replication): the
 * version key reads as before the write, but the entry is not fresh because
 * the epoch was replaced on the new master. */
START_TEST(test_failover_lost_invalidation)
{
    alchdb__cache_backend_cfg cfg = cfg_sentinel(g_sentinels);
    alchdb__cache_backend *b = mk(&cfg);
    const char *vk[2] = {cfg.epoch_key, K("v:t")};
    alchdb__cache_ver init[2], cur[2], old[2], newer;
    alchdb__cache_ver_new(&init[0], -1);
    alchdb__cache_ver_new(&init[1], -1);
    ck_assert_msg(b->ops->init(b, 2, vk, init, NULL, old) == 0, "%s", alchdb_last_error_message());
    const char *key = K("e");
    ck_assert_int_eq(b->ops->fill(b, key, 2, vk, old, (const unsigned char *)"before", 6, 600000), 1);

    /* The write's invalidation reaches the master ... */
    alchdb__cache_ver_new(&newer, -1);
    ck_assert_int_eq(b->ops->bump(b, 1, &vk[1], &newer, NULL), 0);
    redisContext *m = server(true);
    redisReply *r = redisCommand(m, "WAIT 1 5000");
    ck_assert(r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
    freeReplyObject(r);
    redisFree(m);
    /* ... but not the replica that is about to be promoted. */
    redisContext *rep = server(false);
    r = redisCommand(rep, "CONFIG SET replica-read-only no");
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(rep, "SET %s %s", vk[1], old[1].v);
    ck_assert(r && r->type == REDIS_REPLY_STATUS);
    freeReplyObject(r);
    redisFree(rep);

    failover();

    /* A process that never talked to the old master: only the generation
     * check (the new master's run_id) can tell it that the epoch is owed. */
    alchdb__cache_backend *fresh = mk(&cfg);
    unsigned char *e = NULL;
    size_t elen = 0;
    fetch_until_ok(fresh, key, 2, vk, cur, &e, &elen, 30); /* while it finds the new master */
    ck_assert_msg(strcmp(cur[1].v, old[1].v) == 0, "the lost invalidation was not simulated: %s", cur[1].v);
    ck_assert_msg(strcmp(cur[0].v, old[0].v) != 0, "the epoch survived the failover: stale entry served");
    ck_assert_int_eq(backend_stat(fresh, "server_changes"), 1);
    alchdb__free(e);
    fresh->ops->destroy(fresh);

    /* The process that was connected to the old master follows it too. */
    fetch_until_ok(b, key, 2, vk, cur, &e, &elen, 30);
    ck_assert_msg(strcmp(cur[1].v, old[1].v) == 0, "the lost invalidation was not simulated: %s", cur[1].v);
    ck_assert_msg(strcmp(cur[0].v, old[0].v) != 0, "the epoch survived the failover: stale entry served");
    ck_assert_uint_eq(elen, 6); /* the entry is there; its epoch no longer matches */
    alchdb__free(e);
    ck_assert_int_ge(backend_stat(b, "master_moves"), 1);
    b->ops->destroy(b);
}
END_TEST

/* ---- a failover under load through a cached client --------------------------------------- */

typedef struct load {
    alchdb_client *client;
    _Atomic int64_t committed; /* the counter's value after the last commit returned */
    _Atomic int stop;
    _Atomic int64_t reads, writes, stale, read_errors, write_errors, hits_after;
    _Atomic int after; /* the failover is over */
    char last_error[256];
} load;

static void *writer(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        alchdb_result *r = NULL;
        if (alchdb_client_exec(l->client, "UPDATE ct_sentinel SET v = v + 1 WHERE id = 1 RETURNING v", 0, NULL,
                               &r) == 0) {
            atomic_store(&l->committed, atoll(alchdb_result_value(r, 0, 0)));
            atomic_fetch_add(&l->writes, 1);
        } else {
            atomic_fetch_add(&l->write_errors, 1);
            snprintf(l->last_error, sizeof l->last_error, "%s", alchdb_last_error_message());
        }
        alchdb_result_free(r);
        usleep(50000); /* room for hits between invalidations */
    }
    return NULL;
}

static void *reader(void *arg)
{
    load *l = arg;
    while (!atomic_load(&l->stop)) {
        int64_t before = atomic_load(&l->committed);
        int after = atomic_load(&l->after);
        alchdb_result *r = NULL;
        if (alchdb_client_exec(l->client, "SELECT v FROM ct_sentinel WHERE id = 1", 0, NULL, &r) == 0) {
            if (atoll(alchdb_result_value(r, 0, 0)) < before)
                atomic_fetch_add(&l->stale, 1);
            if (after && alchdb__cache_last_statement().path == ALCHDB__CACHE_PATH_HIT)
                atomic_fetch_add(&l->hits_after, 1);
            atomic_fetch_add(&l->reads, 1);
        } else {
            atomic_fetch_add(&l->read_errors, 1);
        }
        alchdb_result_free(r);
    }
    return NULL;
}

static void run_for_ms(int ms)
{
    int64_t end = alchdb__now_ns() + (int64_t)ms * 1000000;
    while (alchdb__now_ns() < end)
        usleep(20000);
}

START_TEST(test_failover_under_load)
{
    char ci[512];
    pgtest_fresh_db("alchdb_sentinel", ci, sizeof ci);
    PGconn *pg = PQconnectdb(ci);
    pgtest_exec(pg, "CREATE TABLE ct_sentinel (id int PRIMARY KEY, v bigint NOT NULL)");
    pgtest_exec(pg, "INSERT INTO ct_sentinel VALUES (1, 0)");
    PQfinish(pg);

    alchdb_cache_config *cc;
    ck_assert_int_eq(alchdb_cache_config_new(&cc), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "backend", "redis"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "prefix", P), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_sentinels", g_sentinels), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_master_name", g_master), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "redis_sentinel_password", g_pw), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "breaker_open", "100ms"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "connect_timeout", "1s"), 0);
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "command_timeout", "1s"), 0);
    /* A failover that falls between a write's mark and its bump leaves the
     * mark on the new master (the bump went to the old one, or failed): the
     * key serves nothing until the mark expires (docs/cache.md). Short here,
     * so "hits again afterwards" is checked within the wait below. */
    ck_assert_int_eq(alchdb_cache_config_set_from_string(cc, "write_mark_ttl", "2s"), 0);
    alchdb_cache *cache;
    ck_assert_msg(alchdb_cache_new(cc, &cache) == 0, "%s", alchdb_last_error_message());
    alchdb_cache_config_free(cc);
    static load l; /* threads see it; zeroed per forked test */
    memset(&l, 0, sizeof l);
    ck_assert_msg(alchdb_client_open(ci, NULL, &l.client) == 0, "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_client_set_cache(l.client, cache, NULL), 0);

    pthread_t w, rd[2];
    ck_assert_int_eq(pthread_create(&w, NULL, writer, &l), 0);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&rd[i], NULL, reader, &l), 0);
    /* Load before the failover, and after it until the new master serves
     * hits and writes went on (each wait bounded, never a speed). */
    for (int i = 0; i < 300 * test_slowdown() && (atomic_load(&l.writes) < 5 || atomic_load(&l.reads) < 20); i++)
        run_for_ms(100);
    int64_t writes_before = atomic_load(&l.writes);
    failover();
    atomic_store(&l.after, 1);
    int64_t writes_at = atomic_load(&l.writes);
    for (int i = 0; i < 300 * test_slowdown() && (atomic_load(&l.hits_after) < 3 || atomic_load(&l.writes) < writes_at + 5);
         i++)
        run_for_ms(100);
    atomic_store(&l.stop, 1);
    pthread_join(w, NULL);
    for (int i = 0; i < 2; i++)
        pthread_join(rd[i], NULL);

    fprintf(stderr, "failover under load: %lld reads, %lld writes (%lld before, %lld after), %lld hits after, "
                    "%lld stale, %lld read errors, %lld write errors\n",
            (long long)l.reads, (long long)l.writes, (long long)writes_before,
            (long long)(l.writes - writes_at), (long long)l.hits_after, (long long)l.stale,
            (long long)l.read_errors, (long long)l.write_errors);
    ck_assert_int_eq(atomic_load(&l.stale), 0);
    ck_assert_int_eq(atomic_load(&l.read_errors), 0);
    ck_assert_msg(atomic_load(&l.write_errors) == 0, "%s", l.last_error);
    ck_assert_int_gt(writes_before, 0);
    ck_assert_int_gt(l.writes - writes_at, 0);
    ck_assert_int_ge(atomic_load(&l.hits_after), 3);
    alchdb_client_free(l.client);
    alchdb_cache_free(cache);
    pgtest_drop_db("alchdb_sentinel");
}
END_TEST

int main(void)
{
    group_start();
    Suite *s = suite_create("cache-sentinel");
    TCase *tc = tcase_create("sentinel");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_options);
    tcase_add_test(tc, test_discovery);
    tcase_add_test(tc, test_recheck);
    tcase_add_test(tc, test_allocation_failure);
    tcase_add_test(tc, test_bad_addresses);
    tcase_add_test(tc, test_replica_refused);
    tcase_add_test(tc, test_failover_lost_invalidation);
    tcase_add_test(tc, test_failover_under_load);
    suite_add_tcase(s, tc);
    int rc = run_suite(s);
    group_stop();
    return rc;
}
