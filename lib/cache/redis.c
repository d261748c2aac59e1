/* The Redis backend of the query cache (cache_internal.h).
 *
 * hiredis 0.14 blocking contexts in a small pool. Every operation has one
 * deadline (connect timeout + command timeout from its start) that bounds the
 * wait for a pooled context, the connect and every socket wait. A circuit
 * breaker stops talking to a Redis that keeps failing, and the "dirty" rule
 * bumps the namespace epoch before anything is served again whenever an
 * invalidation may have been lost (a failed bump, a reconnect, a restart).
 *
 * With Redis Sentinel (redis_sentinels) every new connection first asks the
 * sentinels, in turn and within the operation's deadline, where the master
 * named redis_master_name is. Every new connection checks with ROLE that it
 * reached a master, and a context that hears READONLY, LOADING or MASTERDOWN
 * is dropped, so the next operation finds the master again. A promoted
 * replica has another run_id than the master the namespace was checked on:
 * like a restart, the generation check replaces the epoch before anything is
 * served (replication is asynchronous, the replica may lack invalidations). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cache/cache_internal.h"

#define LOG_MODULE "cache"
#define SHA_LEN 40      /* SCRIPT LOAD answers a hex SHA-1 */
#define RUN_ID_LEN 40   /* INFO server: run_id is 40 hex digits */
#define MAX_VKEYS 65536 /* hiredis takes the argument count as an int */
#define ARGS_INLINE 16  /* commands this small need no argument arrays on the heap */
#define HOST_MAX 256    /* a host name or address (the option's check: 1..255) */
#define SENTINEL_RECHECK_NS INT64_C(1000000000) /* pooled connections: ask the sentinels again after 1 s */

/* Store entry under KEYS[1] only if every version key KEYS[2..] still holds
 * its expected token ARGV[3..]; ARGV[1] is the ttl in ms (0: none), ARGV[2]
 * the entry. An absent key reads as false and so never equals a token. */
static const char FILL_LUA[] =
    "for i = 2, #KEYS do\n"
    "  if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then return 0 end\n"
    "end\n"
    "if tonumber(ARGV[1]) > 0 then\n"
    "  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])\n"
    "else\n"
    "  redis.call('SET', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 1\n";

/* Delete the lease KEYS[1] only while it still holds our token ARGV[1]. */
static const char UNLEASE_LUA[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('DEL', KEYS[1])\n"
    "end\n"
    "return 0\n";

/* Version tokens that change: one script, three operations (ARGV[1]).
 * KEYS are n version keys followed by their n mark keys ("<prefix>:w:..."),
 * sorted sets of mark id -> expiry (ms, Redis clock).
 *   mark  ARGV = id, ttl_ms: each key's token becomes pending ("...:w", its
 *         position kept) and expires with its last live mark.
 *   bump  ARGV = n tokens "<id>:<pos>", n ttls (ms, 0 = none): remove mark
 *         id; store "<id>:<max(old pos, pos)>" ("u" when either is
 *         unknown), still pending while other marks live.
 *   gen   KEYS = gen key, epoch key, epoch marks; ARGV = "<id>:u": unless the
 *         gen key holds this server's run_id, bump the epoch and record it.
 * A mark that expired instead of being removed by its bump belongs to a
 * write that may have committed at any position: whoever finds it (the next
 * mark or bump of the key) makes the key's position unknown.
 * When Redis refuses to store (maxmemory with noeviction) the key is
 * deleted instead: an absent key matches no entry and has no position, which
 * is the conservative answer; DEL is allowed at any memory use. */
static const char VERSIONS_LUA[] =
    "if redis.replicate_commands then redis.replicate_commands() end\n" /* TIME, INFO before writes (Redis < 7) */
    "local function now_ms()\n"
    "  local t = redis.call('TIME')\n"
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "end\n"
    "local function position(k)\n"
    "  local cur = redis.pcall('GET', k)\n"
    "  if type(cur) == 'table' and cur.err then redis.call('DEL', k) end\n"
    "  if type(cur) ~= 'string' then return nil end\n"
    "  local p = string.match(cur, '^%x+:(%x+)')\n"
    "  if p and #p == 16 then return p end\n"
    "  return nil\n"
    "end\n"
    "local function store(k, v, px)\n"
    "  local r\n"
    "  if px > 0 then r = redis.pcall('SET', k, v, 'PX', px) else r = redis.pcall('SET', k, v) end\n"
    "  if type(r) == 'table' and r.err then redis.call('DEL', k) end\n"
    "end\n"
    "local function last_mark(m, now)\n"
    "  local gone = redis.pcall('ZREMRANGEBYSCORE', m, '-inf', now)\n"
    "  if type(gone) == 'table' then\n"
    "    redis.call('DEL', m)\n"
    "    return nil, true\n"
    "  end\n"
    "  local top = redis.call('ZRANGE', m, -1, -1, 'WITHSCORES')\n"
    "  if top[2] then return tonumber(top[2]), gone > 0 end\n"
    "  return nil, gone > 0\n"
    "end\n"
    "local function bump(k, m, id, pos, ttl, now)\n"
    "  redis.pcall('ZREM', m, id)\n"
    "  local have = position(k)\n"
    "  local last, expired = last_mark(m, now)\n"
    "  if not have or #pos ~= 16 or expired then pos = 'u' elseif have > pos then pos = have end\n"
    "  if last then store(k, id .. ':' .. pos .. ':w', last - now) else store(k, id .. ':' .. pos, ttl) end\n"
    "end\n"
    "local op, now = ARGV[1], now_ms()\n"
    "if op == 'gen' then\n"
    "  local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)') or ''\n"
    "  if redis.pcall('GET', KEYS[1]) == run then return {0, run} end\n"
    "  bump(KEYS[2], KEYS[3], string.sub(ARGV[2], 1, 16), 'u', 0, now)\n"
    "  store(KEYS[1], run, 0)\n"
    "  return {1, run}\n"
    "end\n"
    "local n = #KEYS / 2\n"
    "if op == 'mark' then\n"
    "  local id, ttl = ARGV[2], tonumber(ARGV[3])\n"
    "  for i = 1, n do\n"
    "    local k, m = KEYS[i], KEYS[n + i]\n"
    "    local pos = position(k) or 'u'\n"
    "    if type(redis.pcall('ZADD', m, now + ttl, id)) == 'table' then\n"
    "      redis.call('DEL', k)\n"
    "    else\n"
    "      local last, expired = last_mark(m, now)\n"
    "      if expired then pos = 'u' end\n"
    "      redis.call('PEXPIRE', m, last - now)\n"
    "      store(k, id .. ':' .. pos .. ':w', last - now)\n"
    "    end\n"
    "  end\n"
    "  return n\n"
    "end\n"
    "for i = 1, n do\n"
    "  local id, pos = string.match(ARGV[1 + i], '^(%x+):(%w+)$')\n"
    "  if not id then return redis.error_reply('ERR malformed version token') end\n"
    "  bump(KEYS[i], KEYS[n + i], id, pos, tonumber(ARGV[1 + n + i]), now)\n"
    "end\n"
    "return n\n";

enum { SCRIPT_FILL, SCRIPT_UNLEASE, SCRIPT_VERSIONS, NSCRIPTS };
static const char *const SCRIPTS[NSCRIPTS] = {FILL_LUA, UNLEASE_LUA, VERSIONS_LUA};
static const char *const SCRIPT_NAMES[NSCRIPTS] = {"fill", "unlease", "versions"};

/* ---- types ------------------------------------------------------------------ */

typedef struct rconn {
    redisContext *ctx;
    uint64_t addr_gen;              /* the master address it was opened to (rbackend.addr_gen) */
    int64_t timeout_us;             /* socket timeout currently set on ctx (0: none yet) */
    char sha[NSCRIPTS][SHA_LEN + 1]; /* the scripts (SCRIPT_*) as loaded into this server */
    struct rconn *next;             /* idle list */
} rconn;

typedef enum { BRK_CLOSED, BRK_OPEN, BRK_HALF_OPEN } brk_state;

/* One sentinel of the redis_sentinels list. */
typedef struct saddr {
    char host[HOST_MAX];
    int port;
} saddr;

typedef struct rbackend {
    alchdb__cache_backend base;
    char *password, *epoch_key;        /* copies of the configuration */
    saddr *sentinels;                  /* NULL: talk to the configured host:port */
    int nsentinels;
    char *master_name, *sentinel_password;
    char *epoch_marks, *gen_key;       /* "<prefix>:w:n", "<prefix>:v:gen" */
    size_t prefix_len;
    int db, pool_size, breaker_failures;
    int64_t connect_timeout_us, command_timeout_us, breaker_open_us;

    pthread_mutex_t mu;   /* everything below */
    pthread_cond_t freed; /* a context or slot came back, or the breaker opened */
    rconn *idle;
    int live;             /* contexts open or being opened (<= pool_size) */
    char host[HOST_MAX];  /* the master: configured, or as the sentinels said last */
    int port;
    uint64_t addr_gen;    /* bumped when host:port changes: older contexts are dropped */
    int sentinel_next;    /* the sentinel that answered last is asked first */
    int64_t checked_ns;   /* when the sentinels last answered */
    bool checking;        /* a session is asking them again (sentinel_recheck) */
    brk_state brk;        /* HALF_OPEN: one trial operation is running */
    int consecutive;      /* transport failures in a row */
    int64_t open_until_ns;
    /* Dirty while they differ: an epoch bump that started when dirty_seq was
     * s cleans up to s only, so a bump failing meanwhile is never forgotten. */
    uint64_t dirty_seq, clean_seq;
    bool failure_seen;    /* a transport failure since the last new connection */
    bool connected_once;
    char run_id[RUN_ID_LEN + 1]; /* the server of the last new connection */
    uint64_t errors, timeouts, reconnects, breaker_opens, epoch_bumps, rejected, server_changes, marks;
    uint64_t discoveries, master_moves; /* sentinel answers; how many named a new address */
} rbackend;

/* One operation's hold on the backend: a context, its deadline, what happened. */
typedef struct sess {
    rbackend *b;
    rconn *c;          /* NULL until taken or connected */
    char host[HOST_MAX]; /* where c is (or is being) connected: for messages */
    int port;
    uint64_t addr_gen;   /* of that address */
    int64_t deadline_ns;
    bool slot;         /* holds one of the pool_size slots */
    bool trial;        /* the single trial of a half-open breaker */
    bool force;        /* an invalidation: tried even while the breaker is open */
    bool io_ok;        /* Redis answered at least once */
    bool broken;       /* transport failure: c must not be reused */
    bool timed_out;
    bool rejected;     /* refused by the breaker while waiting for a context */
    bool pipe_risk;    /* a sentinel's connection failed: a write may have raised SIGPIPE */
    sigset_t oldmask;
    bool sigpipe_was_pending;
} sess;

/* A command's arguments with explicit lengths (binary safe, no formatting). */
typedef struct args {
    int argc;
    const char **v;
    size_t *len;
    const char *iv[ARGS_INLINE];
    size_t ilen[ARGS_INLINE];
} args;

/* ---- small helpers -------------------------------------------------------------- */

static void args_free(args *a)
{
    if (a->v != a->iv)
        alchdb__free((void *)a->v);
    if (a->len != a->ilen)
        alchdb__free(a->len);
}

static int args_init(args *a, size_t cap)
{
    a->argc = 0;
    a->v = a->iv;
    a->len = a->ilen;
    if (cap <= ARGS_INLINE)
        return 0;
    const char **v = alchdb__malloc(cap * sizeof *v);
    size_t *len = alchdb__malloc(cap * sizeof *len);
    if (!v || !len) {
        alchdb__free((void *)v);
        alchdb__free(len);
        return alchdb__nomem("redis command arguments");
    }
    a->v = v;
    a->len = len;
    return 0;
}

static void args_add(args *a, const void *s, size_t len)
{
    a->v[a->argc] = s;
    a->len[a->argc++] = len;
}

static void args_str(args *a, const char *s) { args_add(a, s, strlen(s)); }

static struct timeval us_to_tv(int64_t us)
{
    struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
    return tv;
}

static int64_t remaining_us(const sess *s) { return (s->deadline_ns - alchdb__now_ns()) / 1000; }

/* hiredis reports a socket timeout as an I/O error carrying errno's text;
 * errno itself may be stale by then, so the text is checked too. */
static bool is_timeout(const redisContext *ctx, int e)
{
    if (ctx->err != REDIS_ERR_IO)
        return false;
#if EWOULDBLOCK != EAGAIN
    if (e == EWOULDBLOCK)
        return true;
#endif
    return e == EAGAIN || e == ETIMEDOUT || e == EINPROGRESS || strstr(ctx->errstr, "timed out") ||
           strstr(ctx->errstr, "temporarily unavailable");
}

static bool reply_is_ok(const redisReply *r)
{
    return r->type == REDIS_REPLY_STATUS && r->len == 2 && memcmp(r->str, "OK", 2) == 0;
}

/* Set the thread's error for a reply of the wrong shape; a server error's
 * text (OOM, WRONGTYPE...) is kept, it never contains our secrets. */
static int reply_error(const redisReply *r, const char *what)
{
    if (r->type == REDIS_REPLY_ERROR)
        return alchdb__error(ALCHDB_E_BACKEND, "redis %s: %.*s", what, (int)r->len, r->str);
    return alchdb__error(ALCHDB_E_BACKEND, "redis %s: unexpected reply (type %d)", what, r->type);
}

/* A version token from an MGET element: anything but a plain string short
 * enough to be a token (nil, foreign data) reads as absent. */
static void take_token(const redisReply *e, alchdb__cache_ver *v)
{
    v->v[0] = '\0';
    if (e->type != REDIS_REPLY_STRING || e->len >= sizeof v->v || memchr(e->str, 0, e->len))
        return;
    memcpy(v->v, e->str, e->len);
    v->v[e->len] = '\0';
}

/* ---- SIGPIPE ------------------------------------------------------------------ */

/* hiredis 0.14 writes with write(2): a server that closed the connection
 * would kill the process with SIGPIPE. As libpq does, block it in this thread
 * while talking to Redis and swallow the one we caused. */
static void sigpipe_block(sess *s)
{
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &s->oldmask);
    s->sigpipe_was_pending = false;
    if (sigismember(&s->oldmask, SIGPIPE)) {
        sigset_t pending;
        sigpending(&pending);
        s->sigpipe_was_pending = sigismember(&pending, SIGPIPE);
    }
}

static void sigpipe_restore(sess *s)
{
    /* Only a broken connection can have raised one. */
    if ((s->broken || s->pipe_risk) && !s->sigpipe_was_pending) {
        sigset_t pending, pipe_set;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            sigemptyset(&pipe_set);
            sigaddset(&pipe_set, SIGPIPE);
            const struct timespec zero = {0, 0};
            while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
            }
        }
    }
    pthread_sigmask(SIG_SETMASK, &s->oldmask, NULL);
}

/* ---- talking to one context ------------------------------------------------------ */

/* The connection failed (I/O error, timeout, protocol error): it is out of
 * step with the server and is dropped at the end of the operation. */
static int conn_failed(sess *s, const redisContext *ctx, int err_no, const char *what)
{
    s->broken = true;
    if (is_timeout(ctx, err_no)) {
        s->timed_out = true;
        return alchdb__error(ALCHDB_E_TIMEOUT, "redis %s: no answer from %s:%d in time", what, s->host,
                             s->port);
    }
    return alchdb__error(ALCHDB_E_BACKEND, "redis %s: %s:%d: %s", what, s->host, s->port, ctx->errstr);
}

/* Give the next socket wait what is left of the operation's budget, capped
 * at the command timeout (setsockopt only when that changes). With replies
 * still pending (sent), running out of budget leaves the context out of step. */
static int conn_arm(sess *s, bool sent)
{
    int64_t want = remaining_us(s);
    if (want <= 0) {
        s->timed_out = true;
        s->broken |= sent;
        return alchdb__error(ALCHDB_E_TIMEOUT, "redis: operation deadline passed (%s:%d)", s->host, s->port);
    }
    if (want > s->b->command_timeout_us)
        want = s->b->command_timeout_us;
    if (want == s->c->timeout_us)
        return 0;
    errno = 0;
    if (redisSetTimeout(s->c->ctx, us_to_tv(want)) != REDIS_OK)
        return conn_failed(s, s->c->ctx, errno, "set timeout");
    s->c->timeout_us = want;
    return 0;
}

/* A server that is not (or not yet) a writable master answers READONLY (a
 * replica, maybe a demoted master), LOADING (still reading its data) or
 * MASTERDOWN: the context is dropped after this operation, so the next one
 * connects again (with Sentinel: to the master the sentinels name then). */
static void note_not_master(sess *s, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ERROR || !r->str)
        return;
    static const char *const codes[] = {"READONLY", "LOADING", "MASTERDOWN"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        size_t n = strlen(codes[i]);
        /* A script's error carries the command's error after its own text. */
        for (const char *p = r->str; (size_t)(p - r->str) + n <= r->len; p++)
            if (memcmp(p, codes[i], n) == 0 && (p == r->str || p[-1] == ' ' || p[-1] == '-')) {
                s->broken = true;
                return;
            }
    }
}

/* One command, one reply. NULL on failure (*rc and the message set). */
static redisReply *run(sess *s, const args *a, const char *what, int *rc)
{
    if ((*rc = conn_arm(s, false)) < 0)
        return NULL;
    errno = 0;
    redisReply *r = redisCommandArgv(s->c->ctx, a->argc, a->v, a->len);
    if (!r) {
        *rc = conn_failed(s, s->c->ctx, errno, what);
        return NULL;
    }
    s->io_ok = true;
    note_not_master(s, r);
    return r;
}

/* Pipelining: queue commands, then read their replies in order. */
static int append(sess *s, const args *a, const char *what)
{
    if (redisAppendCommandArgv(s->c->ctx, a->argc, a->v, a->len) != REDIS_OK)
        return conn_failed(s, s->c->ctx, errno, what);
    return 0;
}

static redisReply *next_reply(sess *s, const char *what, int *rc)
{
    if ((*rc = conn_arm(s, true)) < 0)
        return NULL;
    void *r = NULL;
    errno = 0;
    if (redisGetReply(s->c->ctx, &r) != REDIS_OK || !r) {
        *rc = conn_failed(s, s->c->ctx, errno, what);
        return NULL;
    }
    s->io_ok = true;
    note_not_master(s, r);
    return r;
}

/* a is "EVALSHA <placeholder> ..." for script (SCRIPT_*), loaded at connect
 * time: the context's sha goes in. When the server lost it (SCRIPT FLUSH) it
 * becomes "EVAL <body> ...", which also loads it again for the next EVALSHA. */
static redisReply *run_script(sess *s, args *a, int script, int *rc)
{
    const char *what = SCRIPT_NAMES[script];
    a->v[0] = "EVALSHA";
    a->len[0] = 7;
    a->v[1] = s->c->sha[script];
    a->len[1] = SHA_LEN;
    redisReply *r = run(s, a, what, rc);
    if (!r || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0)
        return r;
    freeReplyObject(r);
    a->v[0] = "EVAL";
    a->len[0] = 4;
    a->v[1] = SCRIPTS[script];
    a->len[1] = strlen(SCRIPTS[script]);
    return run(s, a, what, rc);
}

/* ---- calls of VERSIONS_LUA ---------------------------------------------------------- */

/* "EVALSHA <sha> 2n vkeys... markkeys..." followed by the operation's
 * arguments; the mark key names live in one allocation. */
typedef struct vcall {
    args a;
    char *names;
    char numkeys[24];
} vcall;

static void vcall_free(vcall *vc)
{
    args_free(&vc->a);
    alchdb__free(vc->names);
}

/* The mark key of a version key: "<prefix>:v:<name>" -> "<prefix>:w:<name>". */
static size_t mark_name(const rbackend *b, const char *vkey, char *out)
{
    size_t len = strlen(vkey);
    memcpy(out, vkey, len + 1);
    if (len > b->prefix_len + 3 && memcmp(vkey + b->prefix_len, ":v:", 3) == 0) {
        out[b->prefix_len + 1] = 'w';
        return len;
    }
    memcpy(out + len, ":w", 3); /* not one of ours: still a name of its own */
    return len + 2;
}

static int vcall_init(const rbackend *b, vcall *vc, size_t n, const char *const *vkeys, size_t nargs)
{
    vc->names = NULL;
    int rc = args_init(&vc->a, 3 + 2 * n + nargs);
    if (rc < 0)
        return rc;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += strlen(vkeys[i]) + 3;
    char *p = vc->names = alchdb__malloc(total ? total : 1);
    if (!p) {
        args_free(&vc->a);
        return alchdb__nomem("redis mark key names");
    }
    snprintf(vc->numkeys, sizeof vc->numkeys, "%zu", 2 * n);
    args_add(&vc->a, "", 0); /* EVALSHA and the sha: run_script() */
    args_add(&vc->a, "", 0);
    args_str(&vc->a, vc->numkeys);
    for (size_t i = 0; i < n; i++)
        args_str(&vc->a, vkeys[i]);
    for (size_t i = 0; i < n; i++) {
        size_t len = mark_name(b, vkeys[i], p);
        args_add(&vc->a, p, len);
        p += len + 1;
    }
    return 0;
}

/* Run a prepared call; the script answers how many keys it changed. */
static int vcall_run(sess *s, vcall *vc)
{
    int rc;
    redisReply *r = run_script(s, &vc->a, SCRIPT_VERSIONS, &rc);
    if (!r)
        return rc;
    rc = r->type == REDIS_REPLY_INTEGER && r->integer >= 0 ? (int)(r->integer > INT32_MAX ? INT32_MAX : r->integer)
                                                           : reply_error(r, "versions");
    freeReplyObject(r);
    return rc;
}

/* ---- connecting ------------------------------------------------------------------- */

static int take_sha(const redisReply *r, char out[SHA_LEN + 1])
{
    if (r->type != REDIS_REPLY_STRING || r->len != SHA_LEN)
        return reply_error(r, "SCRIPT LOAD");
    memcpy(out, r->str, SHA_LEN);
    out[SHA_LEN] = '\0';
    return 0;
}

/* The next handshake reply into *r (owned by the caller), or the failure. */
static int handshake_reply(sess *s, const char *what, redisReply **r)
{
    int rc;
    *r = next_reply(s, what, &rc);
    return *r ? 0 : rc;
}

/* The generation check's answer {replaced 0/1, run_id}. */
static int take_gen(const redisReply *r, bool *replaced, char run_id[RUN_ID_LEN + 1])
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_STRING)
        return reply_error(r, "generation check");
    *replaced = r->element[0]->integer == 1;
    snprintf(run_id, RUN_ID_LEN + 1, "%.*s", (int)r->element[1]->len, r->element[1]->str);
    return 0;
}

/* ROLE answers an array whose first element is master, slave or sentinel:
 * entries are read and written on a master only (a replica may lag, and a
 * demoted master may still hold what the new master lost). */
static int check_role(sess *s, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_STRING)
        return reply_error(r, "ROLE");
    const redisReply *e = r->element[0];
    if (e->len == 6 && memcmp(e->str, "master", 6) == 0)
        return 0;
    return alchdb__error(ALCHDB_E_BACKEND, "redis %s:%d is a %.*s, not a master: the cache reads and writes on the "
                         "master only", s->host, s->port, (int)(e->len > 32 ? 32 : e->len), e->str);
}

/* Read the handshake's replies in order. The AUTH error text is not kept:
 * the password must never reach a message, whatever the server echoes. */
static int handshake_read(sess *s, bool *replaced, char run_id[RUN_ID_LEN + 1])
{
    rbackend *b = s->b;
    redisReply *r;
    int rc;
    if (b->password) {
        if ((rc = handshake_reply(s, "AUTH", &r)) < 0)
            return rc;
        bool ok = reply_is_ok(r);
        freeReplyObject(r);
        if (!ok)
            return alchdb__error(ALCHDB_E_BACKEND, "redis AUTH to %s:%d failed (wrong password, or none set on "
                                 "the server)", s->host, s->port);
    }
    if (b->db) {
        if ((rc = handshake_reply(s, "SELECT", &r)) < 0)
            return rc;
        rc = reply_is_ok(r) ? 0 : reply_error(r, "SELECT");
        freeReplyObject(r);
        if (rc < 0)
            return rc;
    }
    if ((rc = handshake_reply(s, "ROLE", &r)) < 0)
        return rc;
    rc = check_role(s, r);
    freeReplyObject(r);
    if (rc < 0)
        return rc;
    int first = 0; /* read every reply even after a bad one: the context stays in step */
    for (int i = 0; i < NSCRIPTS; i++) {
        if ((rc = handshake_reply(s, "SCRIPT LOAD", &r)) < 0)
            return rc;
        rc = take_sha(r, s->c->sha[i]);
        freeReplyObject(r);
        if (rc < 0 && first == 0)
            first = rc;
    }
    if ((rc = handshake_reply(s, "generation check", &r)) < 0)
        return rc;
    rc = take_gen(r, replaced, run_id);
    freeReplyObject(r);
    return first < 0 ? first : rc;
}

/* One round trip on a new context: AUTH, SELECT, ROLE, loading the scripts and the
 * generation check. A context that fails it is never used, so nothing is
 * served on a connection to a server whose generation was not checked. */
static int handshake(sess *s, bool *replaced, char run_id[RUN_ID_LEN + 1])
{
    rbackend *b = s->b;
    char dbnum[16];
    snprintf(dbnum, sizeof dbnum, "%d", b->db);
    args a;
    args_init(&a, 9);
    int rc = 0;
    if (b->password) {
        args_str(&a, "AUTH");
        args_str(&a, b->password);
        rc = append(s, &a, "AUTH");
    }
    if (rc == 0 && b->db) {
        a.argc = 0;
        args_str(&a, "SELECT");
        args_str(&a, dbnum);
        rc = append(s, &a, "SELECT");
    }
    if (rc == 0) {
        a.argc = 0;
        args_str(&a, "ROLE");
        rc = append(s, &a, "ROLE");
    }
    for (int i = 0; i < NSCRIPTS && rc == 0; i++) {
        a.argc = 0;
        args_str(&a, "SCRIPT");
        args_str(&a, "LOAD");
        args_str(&a, SCRIPTS[i]);
        rc = append(s, &a, "SCRIPT LOAD");
    }
    alchdb__cache_ver epoch;
    alchdb__cache_ver_new(&epoch, -1);
    a.argc = 0;
    args_str(&a, "EVAL");
    args_str(&a, VERSIONS_LUA);
    args_str(&a, "3");
    args_str(&a, b->gen_key);
    args_str(&a, b->epoch_key);
    args_str(&a, b->epoch_marks);
    args_str(&a, "gen");
    args_str(&a, epoch.v);
    if (rc == 0)
        rc = append(s, &a, "generation check");
    if (rc == 0)
        rc = handshake_read(s, replaced, run_id);
    s->broken |= rc < 0;
    return rc;
}

/* A new context is up. A reconnect after a failure means invalidations may
 * have been lost, so the epoch is bumped before anything is served (not on
 * the first connection). A server that is not the one the namespace was last
 * checked on had its epoch replaced by the handshake already: that covers
 * every process, also one connecting for the first time. */
static void conn_register(sess *s, bool replaced, const char *run_id)
{
    rbackend *b = s->b;
    pthread_mutex_lock(&b->mu);
    bool reconnect = b->connected_once && b->failure_seen;
    if (reconnect) {
        b->reconnects++;
        b->dirty_seq++;
    }
    if (replaced) {
        b->server_changes++;
        b->epoch_bumps++;
    }
    b->failure_seen = false;
    b->connected_once = true;
    snprintf(b->run_id, sizeof b->run_id, "%s", run_id);
    pthread_mutex_unlock(&b->mu);
    if (replaced)
        alchdb__log(ALCHDB_LOG_WARN, LOG_MODULE,
                    "redis %s:%d: the namespace was last checked on another server or this one restarted "
                    "(run_id %s): cache epoch replaced",
                    s->host, s->port, run_id);
    if (reconnect)
        alchdb__log(ALCHDB_LOG_INFO, LOG_MODULE, "redis %s:%d reconnected: bumping the cache epoch", s->host,
                    s->port);
}

/* ---- Sentinel ---------------------------------------------------------------------- */

/* What the operation's budget allows for the next connect (0: nothing left). */
static int64_t connect_budget_us(sess *s)
{
    int64_t us = remaining_us(s);
    return us > s->b->connect_timeout_us ? s->b->connect_timeout_us : us > 0 ? us : 0;
}

/* Ask one sentinel where the master is: 0 and host/port, or a negative code
 * with why (no secret in it: an AUTH refusal is not echoed). */
static int ask_sentinel(sess *s, const saddr *sa, char host[HOST_MAX], int *port, char *why, size_t cap)
{
    rbackend *b = s->b;
    int64_t us = connect_budget_us(s);
    if (us <= 0) {
        s->timed_out = true;
        snprintf(why, cap, "operation deadline passed");
        return ALCHDB_E_TIMEOUT;
    }
    errno = 0;
    redisContext *ctx = redisConnectWithTimeout(sa->host, sa->port, us_to_tv(us));
    if (!ctx)
        return alchdb__nomem("redis sentinel context");
    int rc = ALCHDB_E_BACKEND;
    redisReply *r = NULL;
    if (ctx->err) {
        snprintf(why, cap, "%s", ctx->errstr);
        goto out;
    }
    us = remaining_us(s);
    if (us > b->command_timeout_us)
        us = b->command_timeout_us;
    if (us <= 0 || redisSetTimeout(ctx, us_to_tv(us)) != REDIS_OK) {
        snprintf(why, cap, "operation deadline passed");
        goto out;
    }
    if (b->sentinel_password) {
        const char *av[] = {"AUTH", b->sentinel_password};
        size_t al[] = {4, strlen(b->sentinel_password)};
        r = redisCommandArgv(ctx, 2, av, al);
        bool ok = r && reply_is_ok(r);
        if (!ok) {
            snprintf(why, cap, r ? "AUTH failed (wrong sentinel password, or none set on the sentinel)" : "%s",
                     ctx->errstr);
            goto out;
        }
        freeReplyObject(r);
    }
    const char *av[] = {"SENTINEL", "get-master-addr-by-name", b->master_name};
    size_t al[] = {8, 23, strlen(b->master_name)};
    r = redisCommandArgv(ctx, 3, av, al);
    if (!r) {
        snprintf(why, cap, "%s", ctx->errstr);
        goto out;
    }
    if (r->type == REDIS_REPLY_NIL) {
        snprintf(why, cap, "knows no master named '%s'", b->master_name);
        goto out;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(why, cap, "%.*s", (int)(r->len > 160 ? 160 : r->len), r->str);
        goto out;
    }
    char *end = NULL;
    long p = 0;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING && r->element[0]->len > 0 && r->element[0]->len < HOST_MAX &&
        r->element[1]->len > 0) {
        errno = 0;
        p = strtol(r->element[1]->str, &end, 10);
    }
    if (!end || *end || errno || p <= 0 || p > 65535) {
        snprintf(why, cap, "unexpected answer to SENTINEL get-master-addr-by-name (type %d)", r->type);
        goto out;
    }
    memcpy(host, r->element[0]->str, r->element[0]->len);
    host[r->element[0]->len] = '\0';
    *port = (int)p;
    rc = 0;
out:
    if (r)
        freeReplyObject(r);
    redisFree(ctx);
    s->pipe_risk |= rc != 0;
    return rc;
}

/* The master as the sentinels see it now, asked in turn from the one that
 * answered last, within the operation's deadline. A new address makes every
 * context opened to the old one obsolete (idle ones are closed here, busy
 * ones when they come back). */
static int discover(sess *s, bool must)
{
    rbackend *b = s->b;
    pthread_mutex_lock(&b->mu);
    int first = b->sentinel_next;
    pthread_mutex_unlock(&b->mu);
    char host[HOST_MAX], why[1024] = "";
    size_t used = 0;
    int port = 0, rc = ALCHDB_E_BACKEND, i = 0;
    for (; i < b->nsentinels; i++) {
        const saddr *sa = &b->sentinels[(first + i) % b->nsentinels];
        char one[256];
        rc = ask_sentinel(s, sa, host, &port, one, sizeof one);
        if (rc == 0 || rc == ALCHDB_E_NOMEM)
            break;
        if (used < sizeof why)
            used += (size_t)snprintf(why + used, sizeof why - used, "%s%s:%d: %s", used ? "; " : "", sa->host,
                                     sa->port, one);
        if (rc == ALCHDB_E_TIMEOUT)
            break;
    }
    if (rc == ALCHDB_E_NOMEM)
        return rc;
    if (rc < 0 && !must) {
        alchdb__log(ALCHDB_LOG_DEBUG, LOG_MODULE, "redis sentinel: recheck of master '%s' failed (%s)",
                    b->master_name, why);
        return 0;
    }
    if (rc < 0) {
        s->broken = true; /* counts for the breaker like a failed connect */
        return alchdb__error(rc, "redis sentinel: no sentinel named the master '%s' (%s)", b->master_name, why);
    }
    rconn *old = NULL;
    pthread_mutex_lock(&b->mu);
    bool moved = strcmp(host, b->host) != 0 || port != b->port;
    bool first_answer = b->discoveries++ == 0;
    b->sentinel_next = (first + i) % b->nsentinels;
    b->checked_ns = alchdb__now_ns();
    if (moved) {
        /* Invalidations sent to the old master since it was replaced are
         * lost: the next connection replaces the epoch, like a reconnect. */
        if (!first_answer) {
            b->master_moves++;
            b->failure_seen = true;
        }
        memcpy(b->host, host, sizeof host);
        b->port = port;
        b->addr_gen++;
        old = b->idle;
        b->idle = NULL;
        for (rconn *c = old; c; c = c->next)
            b->live--;
        pthread_cond_broadcast(&b->freed); /* their slots are free */
    }
    pthread_mutex_unlock(&b->mu);
    while (old) {
        rconn *c = old;
        old = c->next;
        redisFree(c->ctx);
        alchdb__free(c);
    }
    if (moved)
        alchdb__log(first_answer ? ALCHDB_LOG_INFO : ALCHDB_LOG_WARN, LOG_MODULE,
                    "redis sentinel: master '%s' is at %s:%d", b->master_name, host, port);
    return 0;
}

/* Where the next connection goes: asked from the sentinels, or the one
 * configured address. */
static int conn_target(sess *s)
{
    rbackend *b = s->b;
    int rc = b->sentinels ? discover(s, true) : 0;
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&b->mu);
    memcpy(s->host, b->host, sizeof s->host);
    s->port = b->port;
    s->addr_gen = b->addr_gen;
    pthread_mutex_unlock(&b->mu);
    return 0;
}

static int conn_open(sess *s)
{
    int rc = conn_target(s);
    if (rc < 0)
        return rc;
    int64_t us = connect_budget_us(s);
    if (us <= 0) {
        s->timed_out = true;
        return alchdb__error(ALCHDB_E_TIMEOUT, "redis: operation deadline passed before connecting");
    }
    errno = 0;
    redisContext *ctx = redisConnectWithTimeout(s->host, s->port, us_to_tv(us));
    if (!ctx)
        return alchdb__nomem("redis context");
    if (ctx->err) {
        rc = conn_failed(s, ctx, errno, "connect");
        redisFree(ctx);
        return rc;
    }
    s->c = alchdb__calloc(1, sizeof *s->c);
    if (!s->c) {
        redisFree(ctx);
        return alchdb__nomem("redis connection");
    }
    s->c->ctx = ctx;
    s->c->addr_gen = s->addr_gen;
    char run_id[RUN_ID_LEN + 1] = "";
    bool replaced = false;
    rc = handshake(s, &replaced, run_id);
    if (rc == 0)
        conn_register(s, replaced, run_id);
    return rc;
}

/* ---- breaker, pool, dirty ------------------------------------------------------------ */

/* Under mu. While open every operation is refused at once; once the open
 * period is over, the first caller becomes the trial, all others are refused
 * until it finishes. */
static int breaker_admit(rbackend *b, sess *s, int64_t now)
{
    if (b->brk == BRK_CLOSED)
        return 0;
    if (b->brk == BRK_OPEN && now >= b->open_until_ns) {
        b->brk = BRK_HALF_OPEN;
        s->trial = true;
        return 0;
    }
    b->rejected++;
    return alchdb__error(ALCHDB_E_BACKEND, "redis circuit breaker open");
}

/* Under mu. Returns +1 when the breaker opened, -1 when it closed. */
static int breaker_record(rbackend *b, const sess *s, int64_t now)
{
    if (s->broken || s->timed_out) {
        b->consecutive++;
        if (s->trial || (b->brk == BRK_CLOSED && b->consecutive >= b->breaker_failures)) {
            b->brk = BRK_OPEN;
            b->open_until_ns = now + b->breaker_open_us * 1000;
            b->breaker_opens++;
            pthread_cond_broadcast(&b->freed); /* waiters give up now */
            return 1;
        }
        return 0;
    }
    if (s->io_ok) {
        b->consecutive = 0;
        if (s->trial) {
            b->brk = BRK_CLOSED;
            return -1;
        }
    } else if (s->trial) {
        b->brk = BRK_OPEN; /* no verdict (e.g. out of memory): the next caller tries */
    }
    return 0;
}

/* Under mu: an idle context, or a free slot to connect in, waiting until the
 * deadline for one to come back. */
static int pool_take(rbackend *b, sess *s)
{
    struct timespec ts = {.tv_sec = (time_t)(s->deadline_ns / 1000000000),
                          .tv_nsec = (long)(s->deadline_ns % 1000000000)};
    for (;;) {
        if (b->idle) {
            s->c = b->idle;
            b->idle = s->c->next;
            s->slot = true;
            return 0;
        }
        if (b->live < b->pool_size) {
            b->live++;
            s->slot = true;
            return 0;
        }
        if (b->brk != BRK_CLOSED && !s->trial && !s->force) {
            s->rejected = true;
            return alchdb__error(ALCHDB_E_BACKEND, "redis circuit breaker open");
        }
        if (alchdb__now_ns() >= s->deadline_ns) {
            s->timed_out = true;
            return alchdb__error(ALCHDB_E_TIMEOUT, "redis: no free connection in time (pool_size %d)",
                                 b->pool_size);
        }
        pthread_cond_timedwait(&b->freed, &b->mu, &ts);
    }
}

static void mark_dirty(rbackend *b)
{
    char host[HOST_MAX];
    pthread_mutex_lock(&b->mu);
    bool was_clean = b->dirty_seq == b->clean_seq;
    b->dirty_seq++;
    memcpy(host, b->host, sizeof host);
    int port = b->port;
    pthread_mutex_unlock(&b->mu);
    if (was_clean)
        alchdb__log(ALCHDB_LOG_WARN, LOG_MODULE, "redis %s:%d: an invalidation may have been lost; the cache "
                    "serves nothing until its epoch is bumped", host, port);
}

/* Before any operation while invalidations may have been lost: replace the
 * namespace epoch's token, which makes every entry stale. */
static int ensure_clean(sess *s)
{
    rbackend *b = s->b;
    pthread_mutex_lock(&b->mu);
    uint64_t seq = b->dirty_seq;
    bool dirty = seq != b->clean_seq;
    pthread_mutex_unlock(&b->mu);
    if (!dirty)
        return 0;
    /* A bump of the epoch with position unknown: live marks keep it pending. */
    alchdb__cache_ver tok;
    alchdb__cache_ver_new(&tok, -1);
    const char *key = b->epoch_key;
    vcall vc;
    int rc = vcall_init(b, &vc, 1, &key, 3);
    if (rc == 0) {
        args_str(&vc.a, "bump");
        args_str(&vc.a, tok.v);
        args_str(&vc.a, "0");
        rc = vcall_run(s, &vc);
        vcall_free(&vc);
    }
    if (rc < 0) {
        char why[256]; /* the message buffer is about to be rewritten */
        snprintf(why, sizeof why, "%s", alchdb_last_error_message());
        return alchdb__error(ALCHDB_E_BACKEND, "redis: invalidations may have been lost and the cache epoch "
                             "could not be bumped: %s", why);
    }
    pthread_mutex_lock(&b->mu);
    if (seq > b->clean_seq)
        b->clean_seq = seq;
    b->epoch_bumps++;
    pthread_mutex_unlock(&b->mu);
    alchdb__log(ALCHDB_LOG_INFO, LOG_MODULE, "redis %s:%d: cache epoch bumped", s->host, s->port);
    return 0;
}

/* ---- sessions ------------------------------------------------------------------------- */

/* Give the context back (or drop a broken one), account for the outcome and
 * feed the breaker. Returns rc. */
static int sess_end(sess *s, int rc)
{
    rbackend *b = s->b;
    rconn *drop = NULL;
    int64_t now = alchdb__now_ns();
    pthread_mutex_lock(&b->mu);
    if (s->c && !s->broken && s->c->addr_gen == b->addr_gen) {
        s->c->next = b->idle;
        b->idle = s->c;
    } else if (s->slot) {
        drop = s->c;
        b->live--;
    }
    if (s->slot)
        pthread_cond_signal(&b->freed);
    if (s->broken)
        b->failure_seen = true;
    if (s->rejected)
        b->rejected++;
    else if (rc < 0)
        b->errors++;
    if (s->timed_out)
        b->timeouts++;
    int change = breaker_record(b, s, now);
    pthread_mutex_unlock(&b->mu);
    if (drop) {
        redisFree(drop->ctx);
        alchdb__free(drop);
    }
    sigpipe_restore(s);
    if (change > 0)
        alchdb__log(ALCHDB_LOG_WARN, LOG_MODULE, "redis %s:%d: circuit breaker open for %" PRId64 " ms",
                    s->host, s->port, b->breaker_open_us / 1000);
    else if (change < 0)
        alchdb__log(ALCHDB_LOG_INFO, LOG_MODULE, "redis %s:%d: circuit breaker closed", s->host, s->port);
    return rc;
}

/* A master that Sentinel replaced but has not demoted (not yet, or cut off
 * from the sentinels) still takes writes: pooled connections would go on
 * sending invalidations there. So while connections are reused the sentinels
 * are asked again, at most once a second per process (one session asks, the
 * others go on); when the master moved, the context taken is dropped and a
 * new one opened to the new master. A failed check changes nothing. */
static int sentinel_recheck(sess *s)
{
    rbackend *b = s->b;
    int rc = discover(s, false);
    pthread_mutex_lock(&b->mu);
    b->checking = false;
    b->checked_ns = alchdb__now_ns(); /* also after no answer: the next try is a second away */
    bool moved = rc == 0 && s->c->addr_gen != b->addr_gen;
    pthread_mutex_unlock(&b->mu);
    if (rc < 0 || !moved)
        return rc;
    redisFree(s->c->ctx); /* its slot stays with this session for the new one */
    alchdb__free(s->c);
    s->c = NULL;
    return conn_open(s);
}

/* Admission by the breaker, a context (maybe a new connection) and, before
 * serving, the epoch bump owed. On failure the session is already ended. */
static int sess_begin(rbackend *b, sess *s, bool force)
{
    memset(s, 0, sizeof *s);
    s->b = b;
    s->force = force;
    int64_t now = alchdb__now_ns();
    s->deadline_ns = now + (b->connect_timeout_us + b->command_timeout_us) * 1000;
    pthread_mutex_lock(&b->mu);
    memcpy(s->host, b->host, sizeof s->host); /* an idle context is always at the current address */
    s->port = b->port;
    /* Invalidations skip the breaker: one that is not even attempted is lost
     * for the other processes sharing this Redis, which may be able to reach
     * it. It still costs at most the timeouts. */
    int rc = force ? 0 : breaker_admit(b, s, now);
    if (rc < 0) {
        pthread_mutex_unlock(&b->mu);
        return rc;
    }
    rc = pool_take(b, s);
    bool recheck = rc == 0 && s->c && b->sentinels && !b->checking && now - b->checked_ns >= SENTINEL_RECHECK_NS;
    b->checking |= recheck;
    pthread_mutex_unlock(&b->mu);
    sigpipe_block(s);
    if (recheck)
        rc = sentinel_recheck(s);
    if (rc == 0 && !s->c)
        rc = conn_open(s);
    /* Every operation, not only those that serve: a process that only
     * writes delivers the epoch bump it owes with its next write. */
    if (rc == 0)
        rc = ensure_clean(s);
    return rc < 0 ? sess_end(s, rc) : 0;
}

typedef int (*sess_fn)(sess *s, void *arg);

static int bump_run(sess *s, void *arg);

static int with_session(alchdb__cache_backend *base, sess_fn fn, void *arg)
{
    sess s;
    int rc = sess_begin((rbackend *)base, &s, fn == bump_run);
    if (rc < 0)
        return rc;
    return sess_end(&s, fn(&s, arg));
}

/* ---- operations -------------------------------------------------------------------------- */

typedef struct fetch_op {
    args a; /* MGET key vkeys... */
    size_t n;
    alchdb__cache_ver *cur;
    unsigned char **entry;
    size_t *entry_len;
} fetch_op;

static int fetch_run(sess *s, void *arg)
{
    fetch_op *op = arg;
    int rc;
    redisReply *r = run(s, &op->a, "MGET", &rc);
    if (!r)
        return rc;
    size_t first = op->entry ? 1 : 0; /* the entry's element, when it was asked for */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != op->n + first) {
        rc = reply_error(r, "MGET");
    } else {
        for (size_t i = 0; i < op->n; i++)
            take_token(r->element[i + first], &op->cur[i]);
        const redisReply *e = r->element[0];
        /* A key of another type reads as nil: a miss. */
        if (first && e->type == REDIS_REPLY_STRING) {
            *op->entry = alchdb__malloc(e->len);
            if (*op->entry) {
                memcpy(*op->entry, e->str, e->len);
                *op->entry_len = e->len;
            } else {
                rc = alchdb__nomem("redis entry");
            }
        }
    }
    freeReplyObject(r);
    return rc;
}

static int redis_fetch(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                       alchdb__cache_ver *cur, unsigned char **entry, size_t *entry_len)
{
    ALCHDB_CHECK_ARG(entry && entry_len, "entry", "must not be NULL");
    *entry = NULL;
    *entry_len = 0;
    ALCHDB_CHECK_ARG(key || n > 0, "key", "must not be NULL without version keys");
    ALCHDB_CHECK_ARG(n == 0 || (vkeys && cur), "vkeys", "must not be NULL");
    ALCHDB_CHECK_ARG(n <= MAX_VKEYS, "n", "too many version keys");
    for (size_t i = 0; i < n; i++)
        cur[i].v[0] = '\0';
    fetch_op op = {.n = n, .cur = cur, .entry = key ? entry : NULL, .entry_len = entry_len};
    int rc = args_init(&op.a, n + 2);
    if (rc < 0)
        return rc;
    args_str(&op.a, "MGET");
    if (key)
        args_str(&op.a, key);
    for (size_t i = 0; i < n; i++)
        args_str(&op.a, vkeys[i]);
    rc = with_session(b, fetch_run, &op);
    if (rc < 0) {
        alchdb__free(*entry);
        *entry = NULL;
        *entry_len = 0;
    }
    args_free(&op.a);
    return rc;
}

/* SET vk value [NX] [PX ttl], queued on the context. */
static int append_set(sess *s, const char *vk, const char *value, bool nx, int64_t ttl_ms)
{
    char ttl[24];
    args a;
    args_init(&a, 6);
    args_str(&a, "SET");
    args_str(&a, vk);
    args_str(&a, value);
    if (nx)
        args_str(&a, "NX");
    if (ttl_ms > 0) {
        snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
        args_str(&a, "PX");
        args_str(&a, ttl);
    }
    return append(s, &a, "SET");
}

/* Read n SET replies; all are read even after a bad one so the context stays
 * in step. OK, or nil for an NX that found the key (when nil_ok). */
static int read_sets(sess *s, size_t n, bool nil_ok)
{
    int first = 0;
    for (size_t i = 0; i < n; i++) {
        int rc;
        redisReply *r = next_reply(s, "SET", &rc);
        if (!r)
            return rc;
        if (!reply_is_ok(r) && !(nil_ok && r->type == REDIS_REPLY_NIL) && first == 0)
            first = reply_error(r, "SET");
        freeReplyObject(r);
    }
    return first;
}

typedef struct init_op {
    size_t n;
    const char *const *vkeys;
    const alchdb__cache_ver *init;
    const int64_t *ttl_ms;
    alchdb__cache_ver *cur;
    args mget;
} init_op;

static int init_run(sess *s, void *arg)
{
    init_op *op = arg;
    int rc = 0;
    for (size_t i = 0; i < op->n && rc == 0; i++)
        rc = append_set(s, op->vkeys[i], op->init[i].v, true, op->ttl_ms ? op->ttl_ms[i] : 0);
    if (rc == 0)
        rc = append(s, &op->mget, "MGET");
    if (rc < 0)
        return rc;
    int set_rc = read_sets(s, op->n, true);
    if (s->broken)
        return set_rc;
    redisReply *r = next_reply(s, "MGET", &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != op->n)
        rc = reply_error(r, "MGET");
    else
        for (size_t i = 0; i < op->n; i++)
            take_token(r->element[i], &op->cur[i]);
    freeReplyObject(r);
    return rc < 0 ? rc : set_rc;
}

static int redis_init(alchdb__cache_backend *b, size_t n, const char *const *vkeys, const alchdb__cache_ver *init,
                      const int64_t *ttl_ms, alchdb__cache_ver *cur)
{
    ALCHDB_CHECK_ARG(n == 0 || (vkeys && init && cur), "vkeys", "must not be NULL");
    ALCHDB_CHECK_ARG(n <= MAX_VKEYS, "n", "too many version keys");
    for (size_t i = 0; i < n; i++)
        cur[i].v[0] = '\0';
    init_op op = {.n = n, .vkeys = vkeys, .init = init, .ttl_ms = ttl_ms, .cur = cur};
    int rc = args_init(&op.mget, n + 1);
    if (rc < 0)
        return rc;
    args_str(&op.mget, "MGET");
    for (size_t i = 0; i < n; i++)
        args_str(&op.mget, vkeys[i]);
    rc = n ? with_session(b, init_run, &op) : 0;
    args_free(&op.mget);
    return rc;
}

typedef struct script_op {
    args a;     /* EVALSHA <sha> numkeys keys... args... */
    int script; /* SCRIPT_FILL or SCRIPT_UNLEASE */
} script_op;

static int script_run(sess *s, void *arg)
{
    script_op *op = arg;
    const char *what = SCRIPT_NAMES[op->script];
    int rc;
    redisReply *r = run_script(s, &op->a, op->script, &rc);
    if (!r)
        return rc;
    if (r->type != REDIS_REPLY_INTEGER)
        rc = reply_error(r, what);
    else
        rc = op->script == SCRIPT_FILL ? (r->integer == 1) : 0;
    freeReplyObject(r);
    return rc;
}

static int redis_fill(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                      const alchdb__cache_ver *expected, const unsigned char *entry, size_t entry_len,
                      int64_t ttl_ms)
{
    ALCHDB_CHECK_ARG(key, "key", "must not be NULL");
    ALCHDB_CHECK_ARG(n == 0 || (vkeys && expected), "vkeys", "must not be NULL");
    ALCHDB_CHECK_ARG(entry || entry_len == 0, "entry", "must not be NULL");
    ALCHDB_CHECK_ARG(n <= MAX_VKEYS, "n", "too many version keys");
    char numkeys[24], ttl[24];
    snprintf(numkeys, sizeof numkeys, "%zu", n + 1);
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms > 0 ? ttl_ms : 0);
    script_op op = {.script = SCRIPT_FILL};
    int rc = args_init(&op.a, 2 * n + 6);
    if (rc < 0)
        return rc;
    args_add(&op.a, "", 0); /* EVALSHA and the sha: run_script() */
    args_add(&op.a, "", 0);
    args_str(&op.a, numkeys);
    args_str(&op.a, key);
    for (size_t i = 0; i < n; i++)
        args_str(&op.a, vkeys[i]);
    args_str(&op.a, ttl);
    args_add(&op.a, entry ? (const char *)entry : "", entry_len);
    for (size_t i = 0; i < n; i++)
        args_str(&op.a, expected[i].v);
    rc = with_session(b, script_run, &op);
    args_free(&op.a);
    return rc;
}

/* The fill script with the version key as its own entry: SET it only while
 * it still holds the expected token. */
static int redis_cas(alchdb__cache_backend *b, const char *vkey, const alchdb__cache_ver *expected,
                     const alchdb__cache_ver *newv, int64_t ttl_ms)
{
    ALCHDB_CHECK_ARG(vkey && expected && newv, "vkey", "must not be NULL");
    return redis_fill(b, vkey, 1, &vkey, expected, (const unsigned char *)newv->v, strlen(newv->v), ttl_ms);
}

static int bump_run(sess *s, void *arg)
{
    return vcall_run(s, arg);
}

/* Any failure of a bump (even refused before sending) loses an invalidation. */
static int redis_bump(alchdb__cache_backend *base, size_t n, const char *const *vkeys, const alchdb__cache_ver *newv,
                      const int64_t *ttl_ms)
{
    rbackend *b = (rbackend *)base;
    int rc = 0;
    if ((n && (!vkeys || !newv)) || n > MAX_VKEYS)
        rc = alchdb__invalid_arg(__func__, "vkeys", "must not be NULL, at most 65536");
    vcall vc;
    char *ttls = NULL; /* n decimal numbers, 24 bytes each */
    if (rc == 0 && n && (rc = vcall_init(b, &vc, n, vkeys, 1 + 2 * n)) == 0) {
        if (!(ttls = alchdb__malloc(24 * n)))
            rc = alchdb__nomem("redis bump");
        for (size_t i = 0; rc == 0 && i < n; i++)
            snprintf(ttls + 24 * i, 24, "%" PRId64, ttl_ms && ttl_ms[i] > 0 ? ttl_ms[i] : 0);
        if (rc == 0) {
            args_str(&vc.a, "bump");
            for (size_t i = 0; i < n; i++)
                args_str(&vc.a, newv[i].v);
            for (size_t i = 0; i < n; i++)
                args_str(&vc.a, ttls + 24 * i);
            rc = with_session(base, bump_run, &vc);
        }
        alchdb__free(ttls);
        vcall_free(&vc);
    }
    if (rc < 0)
        mark_dirty(b);
    return rc < 0 ? rc : 0;
}

static int mark_run(sess *s, void *arg)
{
    int rc = vcall_run(s, arg);
    if (rc > 0) {
        pthread_mutex_lock(&s->b->mu);
        s->b->marks++;
        pthread_mutex_unlock(&s->b->mu);
    }
    return rc;
}

/* Subject to the breaker, unlike bumps: a write marks ahead only when Redis
 * answers; otherwise the bump after it (always attempted) is what remains. */
static int redis_mark(alchdb__cache_backend *base, size_t n, const char *const *vkeys, const char *id,
                      int64_t ttl_ms)
{
    ALCHDB_CHECK_ARG(n == 0 || vkeys, "vkeys", "must not be NULL");
    ALCHDB_CHECK_ARG(n <= MAX_VKEYS, "n", "too many version keys");
    ALCHDB_CHECK_ARG(id && strlen(id) == 16, "id", "must be 16 hex digits");
    ALCHDB_CHECK_ARG(ttl_ms > 0, "ttl_ms", "a mark must expire");
    if (n == 0)
        return 0;
    rbackend *b = (rbackend *)base;
    vcall vc;
    int rc = vcall_init(b, &vc, n, vkeys, 3);
    if (rc < 0)
        return rc;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    args_str(&vc.a, "mark");
    args_str(&vc.a, id);
    args_str(&vc.a, ttl);
    rc = with_session(base, mark_run, &vc);
    vcall_free(&vc);
    return rc;
}

typedef struct simple_op {
    args a;
    const char *what;
    int (*answer)(const redisReply *r, const char *what); /* reply -> rc */
} simple_op;

static int simple_run(sess *s, void *arg)
{
    simple_op *op = arg;
    int rc;
    redisReply *r = run(s, &op->a, op->what, &rc);
    if (!r)
        return rc;
    rc = op->answer(r, op->what);
    freeReplyObject(r);
    return rc;
}

/* SET NX: OK = acquired, nil = held by another. */
static int lease_answer(const redisReply *r, const char *what)
{
    if (reply_is_ok(r))
        return 1;
    return r->type == REDIS_REPLY_NIL ? 0 : reply_error(r, what);
}

static int redis_lease(alchdb__cache_backend *b, const char *lease_key, const char *token, int64_t ttl_ms)
{
    ALCHDB_CHECK_ARG(lease_key && token, "lease_key", "must not be NULL");
    ALCHDB_CHECK_ARG(ttl_ms > 0, "ttl_ms", "a lease must expire");
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    simple_op op = {.what = "lease", .answer = lease_answer};
    args_init(&op.a, 6);
    args_str(&op.a, "SET");
    args_str(&op.a, lease_key);
    args_str(&op.a, token);
    args_str(&op.a, "NX");
    args_str(&op.a, "PX");
    args_str(&op.a, ttl);
    return with_session(b, simple_run, &op);
}

static int redis_unlease(alchdb__cache_backend *b, const char *lease_key, const char *token)
{
    ALCHDB_CHECK_ARG(lease_key && token, "lease_key", "must not be NULL");
    script_op op = {.script = SCRIPT_UNLEASE};
    args_init(&op.a, 5);
    args_add(&op.a, "", 0); /* EVALSHA and the sha: run_script() */
    args_add(&op.a, "", 0);
    args_str(&op.a, "1");
    args_str(&op.a, lease_key);
    args_str(&op.a, token);
    return with_session(b, script_run, &op);
}

static int del_answer(const redisReply *r, const char *what)
{
    return r->type == REDIS_REPLY_INTEGER ? 0 : reply_error(r, what);
}

static int redis_del(alchdb__cache_backend *b, const char *key)
{
    ALCHDB_CHECK_ARG(key, "key", "must not be NULL");
    simple_op op = {.what = "DEL", .answer = del_answer};
    args_init(&op.a, 2);
    args_str(&op.a, "DEL");
    args_str(&op.a, key);
    return with_session(b, simple_run, &op);
}

static bool redis_breaker_open(alchdb__cache_backend *base)
{
    rbackend *b = (rbackend *)base;
    pthread_mutex_lock(&b->mu);
    bool open = b->brk == BRK_OPEN;
    pthread_mutex_unlock(&b->mu);
    return open;
}

static void redis_stats_json(alchdb__cache_backend *base, alchdb__strbuf *sb)
{
    rbackend *b = (rbackend *)base;
    pthread_mutex_lock(&b->mu);
    const char *state = b->brk == BRK_CLOSED ? "closed" : b->brk == BRK_OPEN ? "open" : "half_open";
    alchdb__sb_printf(sb,
                      "\"breaker\":\"%s\",\"errors\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"reconnects\":%" PRIu64
                      ",\"breaker_opens\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"epoch_bumps\":%" PRIu64
                      ",\"server_changes\":%" PRIu64 ",\"write_marks\":%" PRIu64 ",\"dirty\":%s,\"connections\":%d",
                      state, b->errors, b->timeouts, b->reconnects, b->breaker_opens, b->rejected, b->epoch_bumps,
                      b->server_changes, b->marks, b->dirty_seq != b->clean_seq ? "true" : "false", b->live);
    if (b->sentinels)
        alchdb__sb_printf(sb, ",\"sentinel_discoveries\":%" PRIu64 ",\"master_moves\":%" PRIu64, b->discoveries,
                          b->master_moves);
    pthread_mutex_unlock(&b->mu);
}

/* The password is wiped, not just freed: it must not linger in the heap. */
static void free_config(rbackend *b)
{
    alchdb__free_wiped(b->password);
    alchdb__free_wiped(b->sentinel_password);
    alchdb__free(b->sentinels);
    alchdb__free(b->master_name);
    alchdb__free(b->epoch_key);
    alchdb__free(b->epoch_marks);
    alchdb__free(b->gen_key);
}

/* ---- the sentinel list ("host:port,host:port", "[v6]:port") ---------------------------- */

/* Item i of list into host/port (either may be NULL), or with i < 0 only the
 * check: the number of items, or -1 with why. */
static int sentinels_walk(const char *list, char *host, int *port, int want, char *why, size_t cap)
{
    int n = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *colon = NULL;
        for (size_t k = 0; k < len; k++)
            if (p[k] == ':')
                colon = p + k;
        size_t hl = colon ? (size_t)(colon - p) : 0;
        const char *h = p;
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
            h++;
            hl -= 2;
        }
        long pt = 0;
        bool ok = colon && hl > 0 && hl < HOST_MAX;
        for (size_t k = 0; ok && k < hl; k++)
            ok = h[k] > ' ' && h[k] != ',' && h[k] != 0x7f;
        for (const char *d = colon ? colon + 1 : p; ok && d < p + len; d++)
            ok = *d >= '0' && *d <= '9' && (pt = pt * 10 + (*d - '0')) <= 65535;
        ok = ok && pt > 0;
        if (!ok) {
            snprintf(why, cap, "item %d (\"%.*s\") is not host:port (port 1..65535)", n + 1,
                     (int)(len > 80 ? 80 : len), p);
            return -1;
        }
        if (n == want) {
            if (host) {
                memcpy(host, h, hl);
                host[hl] = '\0';
            }
            if (port)
                *port = (int)pt;
        }
        if (++n > ALCHDB__CACHE_MAX_SENTINELS) {
            snprintf(why, cap, "at most %d sentinels", ALCHDB__CACHE_MAX_SENTINELS);
            return -1;
        }
        if (!end)
            return n;
        p = end + 1;
    }
}

int alchdb__cache_sentinels_check(const char *list, char *why, size_t cap)
{
    if (!list || !*list) {
        snprintf(why, cap, "must list host:port of one sentinel or more");
        return -1;
    }
    return sentinels_walk(list, NULL, NULL, -1, why, cap);
}

int alchdb__cache_sentinels_parse(const char *list, char *host, int *port, int i)
{
    char why[160];
    return sentinels_walk(list, host, port, i, why, sizeof why);
}

/* Every operation must have returned: only idle contexts are left. */
static void redis_destroy(alchdb__cache_backend *base)
{
    rbackend *b = (rbackend *)base;
    if (!b)
        return;
    while (b->idle) {
        rconn *c = b->idle;
        b->idle = c->next;
        redisFree(c->ctx);
        alchdb__free(c);
    }
    pthread_cond_destroy(&b->freed);
    pthread_mutex_destroy(&b->mu);
    free_config(b);
    alchdb__free(b);
}

static const alchdb__cache_backend_ops redis_ops = {
    .name = "redis",
    .fetch = redis_fetch,
    .init = redis_init,
    .fill = redis_fill,
    .bump = redis_bump,
    .cas = redis_cas,
    .mark = redis_mark,
    .lease = redis_lease,
    .unlease = redis_unlease,
    .del = redis_del,
    .breaker_open = redis_breaker_open,
    .stats_json = redis_stats_json,
    .destroy = redis_destroy,
};

static int check_cfg(const alchdb__cache_backend_cfg *cfg)
{
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(cfg->epoch_key && strlen(cfg->epoch_key) > 4 &&
                         strcmp(cfg->epoch_key + strlen(cfg->epoch_key) - 4, ":v:n") == 0,
                     "epoch_key", "must be \"<prefix>:v:n\"");
    ALCHDB_CHECK_ARG(cfg->redis_host && *cfg->redis_host && strlen(cfg->redis_host) < HOST_MAX, "redis_host",
                     "must be set, at most 255 characters");
    if (cfg->redis_sentinels && *cfg->redis_sentinels) {
        char why[160];
        if (alchdb__cache_sentinels_check(cfg->redis_sentinels, why, sizeof why) < 0)
            return alchdb__invalid_arg("alchdb__cache_redis_new", "redis_sentinels", why);
        ALCHDB_CHECK_ARG(cfg->redis_master_name && *cfg->redis_master_name, "redis_master_name",
                         "must be set with redis_sentinels");
    }
    ALCHDB_CHECK_ARG(cfg->redis_port > 0 && cfg->redis_port < 65536, "redis_port", "must be 1..65535");
    ALCHDB_CHECK_ARG(cfg->redis_db >= 0, "redis_db", "must be >= 0");
    ALCHDB_CHECK_ARG(cfg->connect_timeout_us > 0, "connect_timeout_us", "must be > 0");
    ALCHDB_CHECK_ARG(cfg->command_timeout_us > 0, "command_timeout_us", "must be > 0");
    ALCHDB_CHECK_ARG(cfg->breaker_failures > 0, "breaker_failures", "must be > 0");
    ALCHDB_CHECK_ARG(cfg->breaker_open_us >= 0, "breaker_open_us", "must be >= 0");
    ALCHDB_CHECK_ARG(cfg->pool_size > 0, "pool_size", "must be > 0");
    return 0;
}

static int init_sync(rbackend *b)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return alchdb__nomem("redis condition variable");
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines come from alchdb__now_ns */
    int rc = pthread_cond_init(&b->freed, &ca);
    pthread_condattr_destroy(&ca);
    if (rc != 0)
        return alchdb__nomem("redis condition variable");
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        pthread_cond_destroy(&b->freed);
        return alchdb__nomem("redis mutex");
    }
    return 0;
}

/* No connection is made here: the first operation connects. */
int alchdb__cache_redis_new(const alchdb__cache_backend_cfg *cfg, alchdb__cache_backend **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    int rc = check_cfg(cfg);
    if (rc < 0)
        return rc;
    rbackend *b = alchdb__calloc(1, sizeof *b);
    if (!b)
        return alchdb__nomem("redis backend");
    b->base.ops = &redis_ops;
    snprintf(b->host, sizeof b->host, "%s", cfg->redis_host);
    if (cfg->redis_sentinels && *cfg->redis_sentinels) {
        int n = alchdb__cache_sentinels_parse(cfg->redis_sentinels, NULL, NULL, 0);
        b->sentinels = alchdb__calloc((size_t)n, sizeof *b->sentinels);
        b->master_name = alchdb__strdup(cfg->redis_master_name);
        if (cfg->redis_sentinel_password && *cfg->redis_sentinel_password)
            b->sentinel_password = alchdb__strdup(cfg->redis_sentinel_password);
        b->nsentinels = n;
        for (int i = 0; b->sentinels && i < n; i++) /* check_cfg parsed it already */
            alchdb__cache_sentinels_parse(cfg->redis_sentinels, b->sentinels[i].host, &b->sentinels[i].port, i);
    }
    b->epoch_key = alchdb__strdup(cfg->epoch_key);
    b->password = cfg->redis_password && *cfg->redis_password ? alchdb__strdup(cfg->redis_password) : NULL;
    /* "<prefix>:v:n" (check_cfg): the prefix names the marks and the generation key. */
    b->prefix_len = strlen(cfg->epoch_key) - 4;
    b->epoch_marks = alchdb__strdup(cfg->epoch_key);
    b->gen_key = alchdb__malloc(b->prefix_len + sizeof ":v:gen");
    if (b->epoch_marks)
        b->epoch_marks[b->prefix_len + 1] = 'w';
    if (b->gen_key) {
        memcpy(b->gen_key, cfg->epoch_key, b->prefix_len);
        memcpy(b->gen_key + b->prefix_len, ":v:gen", sizeof ":v:gen");
    }
    bool nomem = (b->nsentinels && (!b->sentinels || !b->master_name ||
                                    (cfg->redis_sentinel_password && *cfg->redis_sentinel_password &&
                                     !b->sentinel_password))) ||
                 !b->epoch_key || !b->epoch_marks || !b->gen_key ||
                 (cfg->redis_password && *cfg->redis_password && !b->password);
    if (nomem || init_sync(b) < 0) {
        free_config(b);
        alchdb__free(b);
        return alchdb__nomem("redis backend");
    }
    b->port = cfg->redis_port;
    b->db = cfg->redis_db;
    b->pool_size = cfg->pool_size;
    b->breaker_failures = cfg->breaker_failures;
    b->connect_timeout_us = cfg->connect_timeout_us;
    b->command_timeout_us = cfg->command_timeout_us;
    b->breaker_open_us = cfg->breaker_open_us;
    b->brk = BRK_CLOSED;
    *out = &b->base;
    return 0;
}
