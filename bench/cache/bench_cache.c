/* bench/cache: the query cache (lib/cache), side by side in one run, on the
 * real servers of tests/services/rig.sh (ALCHDB_TEST_PRIMARY, ALCHDB_TEST_REDIS):
 *
 *   1. a cache hit through alchdb_client_exec (Redis backend) vs a raw hiredis
 *      MGET of the very entry and version keys the hit reads (one persistent
 *      redisContext) and vs a raw GET of the entry, for a 1 KB and a 16 KB value;
 *   2. a hit (memory and Redis backends) vs running the query on a client
 *      without a cache (same pool settings): primary-key lookup, 1000-row range
 *      aggregate, group-by over the whole 100k-row table;
 *   3. hit ratio over posts(100k rows, 1000 authors), Zipf(s=1) keys, N threads:
 *      (A) read-only (90 % PK lookups, 10 % per-author listings), after a
 *          warm-up; (B) 90 % PK lookups, 9 % listings and aggregates, 1 %
 *          single-row updates, with pk_invalidation=1 and =0;
 *   4. memory-backend hit cost in ns (1 and 2 threads) vs Redis hit vs query.
 *
 * Every figure comes from this run. Results are checked while measuring: hits
 * must return the rows the database returns, timed hit batches must be all
 * hits, and in (B) no read that began after an UPDATE returned may see a score
 * older than that update (per-row and per-author counters bracket the values).
 *
 *   bench_cache [--quick] [--threads N] [--only SECTIONS] [--json] [--json-out FILE]
 *
 * --json prints the JSON on stdout (the tables then go to stderr); --json-out
 * writes it to FILE as well as printing the tables. Exit status 0 unless an
 * error or a wrong result was seen (the targets are informational).
 * One command: bench/cache/run.sh (see bench/README.md). */
#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#define NPOSTS 100000
#define NAUTHORS 1000
#define POSTS_PER_AUTHOR (NPOSTS / NAUTHORS)
#define LIST_LIMIT 20

#define Q_PK "SELECT id, author_id, title, body, score FROM posts WHERE id = $1"
#define Q_LIST "SELECT id, title FROM posts WHERE author_id = $1 ORDER BY id LIMIT 20"
#define Q_AGG "SELECT count(*), sum(score) FROM posts WHERE author_id = $1"
#define Q_UPD "UPDATE posts SET score = score + 1 WHERE id = $1"
#define Q_RANGE "SELECT count(*), sum(score) FROM posts WHERE id BETWEEN $1 AND $2"
#define Q_HEAVY                                                                                                    \
    "SELECT author_id, count(*), sum(score) FROM posts GROUP BY author_id ORDER BY sum(score) DESC, author_id "    \
    "LIMIT 20"
#define Q_PAYLOAD "SELECT val FROM bench_payload WHERE size_kb = $1"

/* ---- options, output ------------------------------------------------------------- */

static bool g_quick, g_json;
static const char *g_json_out;
static int g_threads = 4;
static unsigned g_only = 0xf; /* sections to run (bit 0 = section 1) */
static const char *g_primary;
static char g_redis_host[128];
static int g_redis_port;
static FILE *g_txt; /* the human-readable tables */
static alchdb_pool_config *g_pc;
static alchdb_client *g_plain; /* no cache: setup, verification, uncached timings */
static atomic_long g_wrong;    /* wrong results, stale reads, errors */
static char g_first_wrong[512];
static pthread_mutex_t g_wrong_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_warnings;

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;
static sbuf g_js;

static void sb_printf(sbuf *s, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = s->cap - s->len;
        int n = vsnprintf(s->p ? s->p + s->len : NULL, s->p ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (s->p && (size_t)n < room) {
            s->len += (size_t)n;
            return;
        }
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + (size_t)n + 1)
            cap *= 2;
        char *g = realloc(s->p, cap);
        if (!g) {
            fprintf(stderr, "bench_cache: out of memory\n");
            exit(1);
        }
        s->p = g;
        s->cap = cap;
    }
}

#define OUT(...) fprintf(g_txt, __VA_ARGS__)
#define JS(...) sb_printf(&g_js, __VA_ARGS__)

static void progress(const char *fmt, ...)
{
    fflush(g_txt); /* keep the tables and the progress lines in order on a terminal */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "bench_cache: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "bench_cache: %s: %s\n", what, detail ? detail : alchdb_last_error_message());
    exit(1);
}

/* A wrong result or an error seen while measuring: counted, the first one kept. */
static void wrong(const char *fmt, ...)
{
    if (atomic_fetch_add(&g_wrong, 1) == 0) {
        pthread_mutex_lock(&g_wrong_lock);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(g_first_wrong, sizeof g_first_wrong, fmt, ap);
        va_end(ap);
        pthread_mutex_unlock(&g_wrong_lock);
    }
}

static void warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(g_txt, "  WARNING: ");
    vfprintf(g_txt, fmt, ap);
    fprintf(g_txt, "\n");
    va_end(ap);
    g_warnings++;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    double *c = malloc(sizeof *c * (size_t)n);
    memcpy(c, v, sizeof *c * (size_t)n);
    qsort(c, (size_t)n, sizeof *c, cmpd);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

/* ---- PRNG and Zipf ------------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s) /* splitmix64 */
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rnd01(uint64_t *s)
{
    return (double)(rnd(s) >> 11) * (1.0 / 9007199254740992.0);
}

typedef struct zipf {
    int n;
    double *cdf; /* cdf[i] = P(rank <= i) */
    int *map;    /* rank -> value (a fixed random permutation: hot keys are scattered) */
} zipf;

static void zipf_init(zipf *z, int n, double s, int first_value, uint64_t seed)
{
    z->n = n;
    z->cdf = malloc(sizeof *z->cdf * (size_t)n);
    z->map = malloc(sizeof *z->map * (size_t)n);
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += 1.0 / pow(i + 1, s);
    double acc = 0;
    for (int i = 0; i < n; i++) {
        acc += 1.0 / pow(i + 1, s) / sum;
        z->cdf[i] = acc;
    }
    z->cdf[n - 1] = 1.0;
    for (int i = 0; i < n; i++)
        z->map[i] = first_value + i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)(rnd(&seed) % (uint64_t)(i + 1));
        int t = z->map[i];
        z->map[i] = z->map[j];
        z->map[j] = t;
    }
}

static int zipf_rank(const zipf *z, uint64_t *s)
{
    double u = rnd01(s);
    int lo = 0, hi = z->n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (z->cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static int zipf_next(const zipf *z, uint64_t *s)
{
    return z->map[zipf_rank(z, s)];
}

/* ---- database helpers ------------------------------------------------------------------ */

static int author_of(int id)
{
    return 1 + (int)(((long)id * 7919) % NAUTHORS);
}

static alchdb_result *xexec(alchdb_client *c, const char *sql, int n, const char *const *p)
{
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec(c, sql, n, p, &r);
    if (rc != 0) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s [%s] %s", sql, r ? alchdb_result_sqlstate(r) : "",
                 r ? alchdb_result_error_message(r) : alchdb_last_error_message());
        die("query", msg);
    }
    return r;
}

/* Same rows, columns and values (text). */
static bool same_result(const alchdb_result *a, const alchdb_result *b)
{
    int64_t n = alchdb_result_nrows(a);
    int m = alchdb_result_ncols(a);
    if (n != alchdb_result_nrows(b) || m != alchdb_result_ncols(b))
        return false;
    for (int j = 0; j < m; j++)
        if (strcmp(alchdb_result_column_name(a, j), alchdb_result_column_name(b, j)) ||
            alchdb_result_column_type(a, j) != alchdb_result_column_type(b, j))
            return false;
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            if (alchdb_result_is_null(a, i, j) != alchdb_result_is_null(b, i, j))
                return false;
            const char *x = alchdb_result_value(a, i, j), *y = alchdb_result_value(b, i, j);
            if ((x || y) && (!x || !y || strcmp(x, y)))
                return false;
        }
    return true;
}

static alchdb_cache *make_cache(const char *backend, const char *tag, int pk_inval, int64_t compress)
{
    alchdb_cache_config *cfg;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "bench:cache:%ld:%s", (long)getpid(), tag);
    if (alchdb_cache_config_new(&cfg) || alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_BACKEND, backend) ||
        alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_PREFIX, prefix) ||
        alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_PK_INVALIDATION, pk_inval))
        die("cache config", NULL);
    if (!strcmp(backend, "redis") &&
        (alchdb_cache_config_set_string(cfg, ALCHDB_CACHE_OPT_REDIS_HOST, g_redis_host) ||
         alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_REDIS_PORT, g_redis_port)))
        die("cache config", NULL);
    if (compress >= 0 && alchdb_cache_config_set_int64(cfg, ALCHDB_CACHE_OPT_COMPRESS_THRESHOLD, compress))
        die("cache config", NULL);
    alchdb_cache *c;
    if (alchdb_cache_new(cfg, &c))
        die("cache new", NULL);
    alchdb_cache_config_free(cfg);
    /* A namespace of its own (pid in the prefix), and cleared in case one existed. */
    if (alchdb_cache_clear(c))
        die("cache clear", NULL);
    return c;
}

static const char *cache_prefix_of(const char *tag, char *buf, size_t cap)
{
    snprintf(buf, cap, "bench:cache:%ld:%s", (long)getpid(), tag);
    return buf;
}

static alchdb_client *open_client(alchdb_cache *cache)
{
    alchdb_client *c;
    if (alchdb_client_open(g_primary, g_pc, &c))
        die("client open", NULL);
    if (cache && alchdb_client_set_cache(c, cache, NULL))
        die("set cache", NULL);
    return c;
}

static alchdb_cache_metrics metrics(alchdb_cache *c)
{
    alchdb_cache_metrics m;
    memset(&m, 0, sizeof m);
    m.size = sizeof m;
    if (alchdb_cache_get_metrics(c, &m, sizeof m))
        die("cache metrics", NULL);
    return m;
}

/* ---- setup -------------------------------------------------------------------------------- */

static void load_data(void)
{
    int64_t t0 = now_ns();
    alchdb_result *r = NULL;
    const char *sql =
        "DROP TABLE IF EXISTS posts, bench_payload;"
        "CREATE TABLE posts (id int PRIMARY KEY, author_id int NOT NULL, title text NOT NULL,"
        " body text NOT NULL, score int NOT NULL);"
        "INSERT INTO posts SELECT g, 1 + (g * 7919) % 1000, 'title ' || g, repeat(md5(g::text), 3), g % 100"
        " FROM generate_series(1, 100000) g;"
        "CREATE INDEX posts_author_id_id ON posts (author_id, id);"
        "CREATE TABLE bench_payload (id int PRIMARY KEY, size_kb int NOT NULL, val text NOT NULL);"
        "INSERT INTO bench_payload SELECT k, k, string_agg(md5(k || ':' || g), '' ORDER BY g)"
        " FROM unnest(ARRAY[1, 16]) k, generate_series(1, k * 32) g GROUP BY k";
    if (alchdb_client_exec_flags(g_plain, sql, 0, NULL, ALCHDB_EXEC_SIMPLE, &r) != 0)
        die("load", r ? alchdb_result_error_message(r) : NULL);
    alchdb_result_free(r);
    /* VACUUM too (outside a transaction: one statement each), so autovacuum has
     * no reason to scan the fresh tables while the first sections are timed. */
    const char *vac[2] = {"VACUUM (ANALYZE) posts", "VACUUM (ANALYZE) bench_payload"};
    for (int i = 0; i < 2; i++) {
        r = NULL;
        if (alchdb_client_exec_flags(g_plain, vac[i], 0, NULL, ALCHDB_EXEC_SIMPLE, &r) != 0)
            die("vacuum", r ? alchdb_result_error_message(r) : NULL);
        alchdb_result_free(r);
    }
    r = xexec(g_plain, "SELECT count(*), count(DISTINCT author_id), min(length(body)) FROM posts", 0, NULL);
    if (atoi(alchdb_result_value(r, 0, 0)) != NPOSTS || atoi(alchdb_result_value(r, 0, 1)) != NAUTHORS)
        die("load", "posts does not hold 100000 rows of 1000 authors");
    progress("loaded posts (100000 rows, 1000 authors, body %s B) and bench_payload in %.1f s",
             alchdb_result_value(r, 0, 2), (double)(now_ns() - t0) / 1e9);
    alchdb_result_free(r);
}

/* ---- 1. hit vs raw hiredis ------------------------------------------------------------ */

static redisContext *redis_connect(void)
{
    struct timeval tv = {2, 0};
    redisContext *rc = redisConnectWithTimeout(g_redis_host, g_redis_port, tv);
    if (!rc || rc->err)
        die("redis connect", rc ? rc->errstr : "no memory");
    return rc;
}

static redisReply *rcmd(redisContext *rc, int argc, const char **argv, const size_t *lens)
{
    redisReply *r = redisCommandArgv(rc, argc, argv, lens);
    if (!r)
        die("redis", rc->errstr);
    return r;
}

/* Entry keys ("<prefix>:e:<32 hex>") currently in Redis. */
static int scan_entries(redisContext *rc, const char *prefix, char keys[][160], int max)
{
    char pattern[160], cursor[32] = "0";
    snprintf(pattern, sizeof pattern, "%s:e:*", prefix);
    size_t want = strlen(prefix) + 3 + 32;
    int n = 0;
    do {
        redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2)
            die("redis SCAN", rc->errstr);
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            const redisReply *k = r->element[1]->element[i];
            if (k->len == want && n < max)
                snprintf(keys[n++], 160, "%s", k->str);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return n;
}

typedef struct payload_res {
    const char *name;
    int size_kb;
    bool compress;
    long long enc_bytes;
    double hit_us, mget_us, get_us;
} payload_res;

static void section_payload(payload_res *out, int *nout)
{
    OUT("\n== 1. cache hit (Redis backend) vs raw hiredis round trip of the same bytes ==\n");
    OUT("   query: %s, one thread; raw: one persistent redisContext, MGET <entry> <2 version keys>\n"
        "   (exactly what the hit reads) and GET <entry>; median us per op over batches\n",
        Q_PAYLOAD);
    /* Many small interleaved batches: a noisy neighbour then slows every mode alike. */
    int rounds = g_quick ? 41 : 121, batch = 50;
    char *expect[2];
    int sizes[2] = {1, 16};
    for (int i = 0; i < 2; i++) {
        char p[8];
        snprintf(p, sizeof p, "%d", sizes[i]);
        const char *pp[1] = {p};
        alchdb_result *r = xexec(g_plain, Q_PAYLOAD, 1, pp);
        expect[i] = strdup(alchdb_result_value(r, 0, 0));
        if ((int)strlen(expect[i]) != sizes[i] * 1024)
            die("payload", "unexpected value length");
        alchdb_result_free(r);
    }
    char pfx_d[96], pfx_n[96];
    cache_prefix_of("s1", pfx_d, sizeof pfx_d);
    cache_prefix_of("s1n", pfx_n, sizeof pfx_n);
    alchdb_cache *cd = make_cache("redis", "s1", 1, -1); /* defaults: zstd from 64 KiB, so neither value */
    alchdb_cache *cn = make_cache("redis", "s1n", 1, 8192); /* zstd from 8 KiB: the 16 KB value compressed */
    alchdb_client *kd = open_client(cd), *kn = open_client(cn);
    redisContext *rc = redis_connect();

    struct {
        const char *name;
        int which; /* index into sizes */
        alchdb_client *cl;
        alchdb_cache *ca;
        const char *prefix;
    } var[3] = {
        {"1 KB", 0, kd, cd, pfx_d},
        {"16 KB", 1, kd, cd, pfx_d},
        {"16 KB, zstd (8 KiB)", 1, kn, cn, pfx_n},
    };
    OUT("   %-24s %8s %9s %9s %9s %9s %9s %8s\n", "value", "entry B", "hit us", "MGET us", "GET us", "hit-MGET",
        "hit/MGET", "hit/GET");
    for (int v = 0; v < 3; v++) {
        char p[8];
        snprintf(p, sizeof p, "%d", sizes[var[v].which]);
        const char *pp[1] = {p};
        char before[8][160], after[8][160];
        int nb = scan_entries(rc, var[v].prefix, before, 8);
        /* warm: a miss that fills, then a hit checked against the database's value */
        alchdb_cache_metrics m0 = metrics(var[v].ca);
        alchdb_result_free(xexec(var[v].cl, Q_PAYLOAD, 1, pp));
        alchdb_result *r = xexec(var[v].cl, Q_PAYLOAD, 1, pp);
        alchdb_cache_metrics m1 = metrics(var[v].ca);
        if (m1.hits - m0.hits != 1 || m1.fills - m0.fills != 1)
            die("payload warm-up", "the second exec was not a hit after a fill");
        if (strcmp(alchdb_result_value(r, 0, 0), expect[var[v].which]))
            wrong("section 1: a hit returned another value than the database");
        alchdb_result_free(r);
        int na = scan_entries(rc, var[v].prefix, after, 8);
        const char *ekey = NULL;
        for (int i = 0; i < na && !ekey; i++) {
            bool seen = false;
            for (int j = 0; j < nb; j++)
                seen |= !strcmp(after[i], before[j]);
            if (!seen)
                ekey = after[i];
        }
        if (!ekey || na != nb + 1)
            die("payload", "could not find the cache entry in Redis");
        char vk_n[160], vk_t[160];
        snprintf(vk_n, sizeof vk_n, "%s:v:n", var[v].prefix);
        snprintf(vk_t, sizeof vk_t, "%s:v:t:bench_payload", var[v].prefix);
        redisReply *x = redisCommand(rc, "EXISTS %s %s", vk_n, vk_t);
        if (!x || x->type != REDIS_REPLY_INTEGER || x->integer != 2)
            die("payload", "the version keys n and t:bench_payload are not in Redis (layout changed?)");
        freeReplyObject(x);
        x = redisCommand(rc, "STRLEN %s", ekey);
        long long enc = x ? x->integer : 0;
        freeReplyObject(x);
        const char *margv[4] = {"MGET", ekey, vk_n, vk_t};
        size_t mlen[4] = {4, strlen(ekey), strlen(vk_n), strlen(vk_t)};
        size_t vlen = (size_t)sizes[var[v].which] * 1024;

        double t[3][128];
        alchdb_cache_metrics a0 = metrics(var[v].ca);
        long hit_ops = 0;
        for (int round = -1; round < rounds; round++) { /* round -1: untimed warm-up */
            for (int k = 0; k < 3; k++) {
                int mode = (round + 3 + k) % 3;
                int64_t t0 = now_ns();
                for (int i = 0; i < batch; i++) {
                    if (mode == 0) {
                        alchdb_result *h = NULL;
                        if (alchdb_client_exec(var[v].cl, Q_PAYLOAD, 1, pp, &h) != 0 || alchdb_result_nrows(h) != 1 ||
                            alchdb_result_length(h, 0, 0) != (int64_t)vlen)
                            wrong("section 1: a hit failed or returned a value of another length");
                        alchdb_result_free(h);
                        hit_ops++;
                    } else {
                        redisReply *y = rcmd(rc, mode == 1 ? 4 : 2, mode == 1 ? margv : (const char *[]){"GET", ekey},
                                             mode == 1 ? mlen : (const size_t[]){3, strlen(ekey)});
                        const redisReply *e = y->type == REDIS_REPLY_ARRAY ? y->element[0] : y;
                        if (e->type != REDIS_REPLY_STRING || (long long)e->len != enc)
                            wrong("section 1: raw %s returned another entry length", mode == 1 ? "MGET" : "GET");
                        freeReplyObject(y);
                    }
                }
                if (round >= 0)
                    t[mode][round] = (double)(now_ns() - t0) / 1e3 / batch;
            }
        }
        alchdb_cache_metrics a1 = metrics(var[v].ca);
        if (a1.hits - a0.hits != hit_ops || a1.lookups - a0.lookups != hit_ops)
            warn("section 1 (%s): %lld of %ld timed lookups were hits (expected all)", var[v].name,
                 (long long)(a1.hits - a0.hits), hit_ops);
        payload_res *pr = &out[(*nout)++];
        pr->name = var[v].name;
        pr->size_kb = sizes[var[v].which];
        pr->compress = v == 2;
        pr->enc_bytes = enc;
        pr->hit_us = median(t[0], rounds);
        pr->mget_us = median(t[1], rounds);
        pr->get_us = median(t[2], rounds);
        OUT("   %-24s %8lld %9.1f %9.1f %9.1f %9.1f %8.2fx %7.2fx\n", pr->name, enc, pr->hit_us, pr->mget_us, pr->get_us,
            pr->hit_us - pr->mget_us, pr->hit_us / pr->mget_us, pr->hit_us / pr->get_us);
    }
    OUT("   (%d batches of %d ops per figure, modes interleaved; entry B = the encoded entry as stored in Redis,\n"
        "    zstd-compressed from compress_threshold on, 64 KiB by default; hit-MGET = the cache's own cost in us)\n",
        rounds, batch);
    JS("\"hit_vs_raw_redis\":{\"rounds\":%d,\"batch\":%d,\"rows\":[", rounds, batch);
    for (int i = 0; i < *nout; i++)
        JS("%s{\"value\":\"%s\",\"value_bytes\":%d,\"compression\":%s,\"entry_bytes\":%lld,\"hit_us\":%.2f,"
           "\"raw_mget_us\":%.2f,\"raw_get_us\":%.2f,\"hit_over_mget\":%.3f,\"hit_over_get\":%.3f}",
           i ? "," : "", out[i].name, out[i].size_kb * 1024, out[i].compress ? "true" : "false", out[i].enc_bytes,
           out[i].hit_us, out[i].mget_us, out[i].get_us, out[i].hit_us / out[i].mget_us,
           out[i].hit_us / out[i].get_us);
    JS("]},");
    redisFree(rc);
    alchdb_client_free(kd);
    alchdb_client_free(kn);
    alchdb_cache_free(cd);
    alchdb_cache_free(cn);
    free(expect[0]);
    free(expect[1]);
}

/* ---- 2. hit vs query ----------------------------------------------------------------- */

typedef struct qdef {
    const char *name;
    const char *sql;
    int nparams;
    int nsets;
    char (*params)[2][16]; /* nsets x nparams */
    int batch_unc, batch_hit;
} qdef;

typedef struct qres {
    const char *name;
    double unc_us, mem_us, red_us;
} qres;

static void run_batch(alchdb_client *c, const qdef *q, int *next, int nops, const alchdb_result *const *expect)
{
    for (int i = 0; i < nops; i++) {
        int s = (*next)++ % q->nsets;
        const char *p[2] = {q->params[s][0], q->params[s][1]};
        alchdb_result *r = NULL;
        if (alchdb_client_exec(c, q->sql, q->nparams, p, &r) != 0)
            wrong("%s: exec failed: %s", q->name, r ? alchdb_result_error_message(r) : alchdb_last_error_message());
        else if (alchdb_result_nrows(r) != alchdb_result_nrows(expect[s]) ||
                 strcmp(alchdb_result_value(r, 0, 0), alchdb_result_value(expect[s], 0, 0)))
            wrong("%s: wrong result while timing", q->name);
        alchdb_result_free(r);
    }
}

static void section_queries(qres *out, int *nout)
{
    OUT("\n== 2. cache hit vs running the query (one thread, same pool settings) ==\n");
    alchdb_cache *cm = make_cache("memory", "s2m", 1, -1), *cr = make_cache("redis", "s2r", 1, -1);
    alchdb_client *km = open_client(cm), *kr = open_client(cr);
    uint64_t seed = 0x5eed0002;
    static char pk[256][2][16], rg[32][2][16], none[1][2][16];
    for (int i = 0; i < 256; i++) /* distinct ids: every first lookup is a miss */
        snprintf(pk[i][0], 16, "%d", 1 + (int)((rnd(&seed) % (NPOSTS / 256)) + (uint64_t)i * (NPOSTS / 256)));
    for (int i = 0; i < 32; i++) { /* distinct ranges */
        int lo = 1 + i * 3000 + (int)(rnd(&seed) % 2000);
        snprintf(rg[i][0], 16, "%d", lo);
        snprintf(rg[i][1], 16, "%d", lo + 999);
    }
    qdef qs[3] = {
        {"primary-key lookup", Q_PK, 1, 256, pk, 25, 50},
        {"1000-row range aggregate", Q_RANGE, 2, 32, rg, 10, 50},
        {"group-by over 100k rows", Q_HEAVY, 0, 1, none, 1, 20},
    };
    int rounds = g_quick ? 15 : 41;
    OUT("   %-26s %12s %12s %12s %10s %10s\n", "query", "uncached us", "mem hit us", "redis hit us", "q/mem hit",
        "q/redis hit");
    for (int qi = 0; qi < 3; qi++) {
        qdef *q = &qs[qi];
        alchdb_result **expect = calloc((size_t)q->nsets, sizeof *expect);
        alchdb_cache_metrics m0 = metrics(cm), r0 = metrics(cr);
        for (int s = 0; s < q->nsets; s++) {
            const char *p[2] = {q->params[s][0], q->params[s][1]};
            expect[s] = xexec(g_plain, q->sql, q->nparams, p);
            for (int k = 0; k < 2; k++) {
                alchdb_client *c = k ? kr : km;
                alchdb_result_free(xexec(c, q->sql, q->nparams, p)); /* miss, fill */
                alchdb_result *h = xexec(c, q->sql, q->nparams, p);  /* hit */
                if (!same_result(h, expect[s]))
                    wrong("%s: a %s hit differs from the database's result", q->name, k ? "redis" : "memory");
                alchdb_result_free(h);
            }
        }
        alchdb_cache_metrics m1 = metrics(cm), r1 = metrics(cr);
        if (m1.hits - m0.hits != q->nsets || r1.hits - r0.hits != q->nsets)
            warn("%s: warm-up hits %lld (memory) and %lld (redis), expected %d each (not cacheable? bypasses %lld/%lld)",
                 q->name, (long long)(m1.hits - m0.hits), (long long)(r1.hits - r0.hits), q->nsets,
                 (long long)(m1.bypasses - m0.bypasses), (long long)(r1.bypasses - r0.bypasses));
        double t[3][64];
        int next[3] = {0, 0, 0};
        for (int round = -1; round < rounds; round++) {
            for (int k = 0; k < 3; k++) {
                int mode = (round + 3 + k) % 3;
                alchdb_client *c = mode == 0 ? g_plain : mode == 1 ? km : kr;
                int nops = mode == 0 ? q->batch_unc : q->batch_hit;
                int64_t t0 = now_ns();
                run_batch(c, q, &next[mode], nops, (const alchdb_result *const *)expect);
                if (round >= 0)
                    t[mode][round] = (double)(now_ns() - t0) / 1e3 / nops;
            }
        }
        alchdb_cache_metrics m2 = metrics(cm), r2 = metrics(cr);
        long want = (long)(rounds + 1) * q->batch_hit;
        if (m2.hits - m1.hits != want || r2.hits - r1.hits != want)
            warn("%s: timed hits %lld (memory), %lld (redis) of %ld lookups", q->name, (long long)(m2.hits - m1.hits),
                 (long long)(r2.hits - r1.hits), want);
        qres *qr = &out[(*nout)++];
        qr->name = q->name;
        qr->unc_us = median(t[0], rounds);
        qr->mem_us = median(t[1], rounds);
        qr->red_us = median(t[2], rounds);
        OUT("   %-26s %12.1f %12.1f %12.1f %9.1fx %9.1fx\n", qr->name, qr->unc_us, qr->mem_us, qr->red_us,
            qr->unc_us / qr->mem_us, qr->unc_us / qr->red_us);
        for (int s = 0; s < q->nsets; s++)
            alchdb_result_free(expect[s]);
        free(expect);
    }
    OUT("   queries: PK  %s\n            range %s\n            heavy %s\n", Q_PK, Q_RANGE, Q_HEAVY);
    OUT("   (%d interleaved rounds, median of batch means; PK over 256 ids, range over 32 ranges)\n", rounds);
    JS("\"hit_vs_query\":{\"rounds\":%d,\"rows\":[", rounds);
    for (int i = 0; i < *nout; i++)
        JS("%s{\"query\":\"%s\",\"uncached_us\":%.2f,\"memory_hit_us\":%.2f,\"redis_hit_us\":%.2f,"
           "\"query_over_memory_hit\":%.2f,\"query_over_redis_hit\":%.2f}",
           i ? "," : "", out[i].name, out[i].unc_us, out[i].mem_us, out[i].red_us, out[i].unc_us / out[i].mem_us,
           out[i].unc_us / out[i].red_us);
    JS("]},");
    alchdb_client_free(km);
    alchdb_client_free(kr);
    alchdb_cache_free(cm);
    alchdb_cache_free(cr);
}

/* ---- 3. hit ratio under Zipf workloads --------------------------------------------------- */

static zipf g_zid, g_zauth;
static atomic_int g_started[NPOSTS + 1], g_done[NPOSTS + 1];           /* updates per row */
static atomic_long g_astarted[NAUTHORS + 1], g_adone[NAUTHORS + 1];    /* updates per author */
static long g_base_sum[NAUTHORS + 1];

enum { W_SWEEP, W_A, W_B };

/* First requests of each key (cold-start phases): an infinite cache with no
 * invalidation still misses these, so 1 - first/reads is the ideal hit ratio. */
static atomic_uchar g_seen_pk[NPOSTS + 1], g_seen_list[NAUTHORS + 1];

typedef struct wk {
    alchdb_client *c;
    int kind, tid, nthreads;
    bool track;
    long nops, first;
    int64_t deadline_ns;
    uint64_t rng;
    long pk, list, agg, upd, ops;
    pthread_t th;
} wk;

static void op_pk(alchdb_client *c, int id)
{
    char p[16];
    snprintf(p, sizeof p, "%d", id);
    const char *pp[1] = {p};
    int lo = atomic_load(&g_done[id]);
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec(c, Q_PK, 1, pp, &r);
    int hi = atomic_load(&g_started[id]);
    char title[32];
    snprintf(title, sizeof title, "title %d", id);
    if (rc != 0 || alchdb_result_nrows(r) != 1)
        wrong("PK lookup %d failed: %s", id, r ? alchdb_result_error_message(r) : alchdb_last_error_message());
    else if (strcmp(alchdb_result_value(r, 0, 0), p) || strcmp(alchdb_result_value(r, 0, 2), title) ||
             atoi(alchdb_result_value(r, 0, 1)) != author_of(id))
        wrong("PK lookup %d returned another row", id);
    else {
        int score = atoi(alchdb_result_value(r, 0, 4)), base = id % 100;
        if (score < base + lo || score > base + hi)
            wrong("stale read: post %d score %d, expected %d..%d (updates done before the read began: %d)", id,
                  score, base + lo, base + hi, lo);
    }
    alchdb_result_free(r);
}

static void op_list(alchdb_client *c, int a)
{
    char p[16];
    snprintf(p, sizeof p, "%d", a);
    const char *pp[1] = {p};
    alchdb_result *r = NULL;
    if (alchdb_client_exec(c, Q_LIST, 1, pp, &r) != 0 || alchdb_result_nrows(r) != LIST_LIMIT) {
        wrong("listing of author %d failed or short", a);
    } else {
        int prev = 0;
        for (int i = 0; i < LIST_LIMIT; i++) {
            int id = atoi(alchdb_result_value(r, i, 0));
            char title[32];
            snprintf(title, sizeof title, "title %d", id);
            if (id <= prev || author_of(id) != a || strcmp(alchdb_result_value(r, i, 1), title)) {
                wrong("listing of author %d: wrong row %d", a, i);
                break;
            }
            prev = id;
        }
    }
    alchdb_result_free(r);
}

static void op_agg(alchdb_client *c, int a)
{
    char p[16];
    snprintf(p, sizeof p, "%d", a);
    const char *pp[1] = {p};
    long lo = atomic_load(&g_adone[a]);
    alchdb_result *r = NULL;
    int rc = alchdb_client_exec(c, Q_AGG, 1, pp, &r);
    long hi = atomic_load(&g_astarted[a]);
    if (rc != 0 || alchdb_result_nrows(r) != 1 || atoi(alchdb_result_value(r, 0, 0)) != POSTS_PER_AUTHOR) {
        wrong("aggregate of author %d failed or wrong count", a);
    } else {
        long sum = atol(alchdb_result_value(r, 0, 1));
        if (sum < g_base_sum[a] + lo || sum > g_base_sum[a] + hi)
            wrong("stale read: author %d sum(score) %ld, expected %ld..%ld", a, sum, g_base_sum[a] + lo,
                  g_base_sum[a] + hi);
    }
    alchdb_result_free(r);
}

static void op_upd(alchdb_client *c, int id)
{
    char p[16];
    snprintf(p, sizeof p, "%d", id);
    const char *pp[1] = {p};
    int a = author_of(id);
    atomic_fetch_add(&g_started[id], 1);
    atomic_fetch_add(&g_astarted[a], 1);
    alchdb_result *r = NULL;
    if (alchdb_client_exec(c, Q_UPD, 1, pp, &r) != 0 || alchdb_result_affected_rows(r) != 1) {
        wrong("update of post %d failed: %s", id, r ? alchdb_result_error_message(r) : alchdb_last_error_message());
    } else {
        atomic_fetch_add(&g_done[id], 1);
        atomic_fetch_add(&g_adone[a], 1);
    }
    alchdb_result_free(r);
}

static void *worker(void *arg)
{
    wk *w = arg;
    if (w->kind == W_SWEEP) { /* every post and every author once: the cache then holds the working set */
        for (int id = 1 + w->tid; id <= NPOSTS; id += w->nthreads, w->pk++)
            op_pk(w->c, id);
        for (int a = 1 + w->tid; a <= NAUTHORS; a += w->nthreads, w->list++)
            op_list(w->c, a);
        w->ops = w->pk + w->list;
        return NULL;
    }
    for (long i = 0; i < w->nops; i++) {
        if ((i & 63) == 0 && now_ns() > w->deadline_ns)
            break;
        double u = rnd01(&w->rng);
        if (u < 0.90) {
            int id = zipf_next(&g_zid, &w->rng);
            if (w->track && !atomic_exchange(&g_seen_pk[id], 1))
                w->first++;
            op_pk(w->c, id);
            w->pk++;
        } else if (w->kind == W_A) {
            int a = zipf_next(&g_zauth, &w->rng);
            if (w->track && !atomic_exchange(&g_seen_list[a], 1))
                w->first++;
            op_list(w->c, a);
            w->list++;
        } else if (u < 0.945) {
            op_list(w->c, zipf_next(&g_zauth, &w->rng));
            w->list++;
        } else if (u < 0.99) {
            op_agg(w->c, zipf_next(&g_zauth, &w->rng));
            w->agg++;
        } else {
            op_upd(w->c, zipf_next(&g_zid, &w->rng));
            w->upd++;
        }
        w->ops++;
    }
    return NULL;
}

/* lookups and hits of the statement patterns whose text contains `needle`, from the stats JSON */
static void pattern_counts(alchdb_cache *c, const char *needle, long long *lookups, long long *hits)
{
    *lookups = *hits = 0;
    char *js = NULL;
    if (alchdb_cache_to_json(c, &js) || !js)
        return;
    const char *p = strstr(js, "\"patterns\":[");
    while (p && (p = strstr(p, "\"query\":\"")) != NULL) {
        p += 9;
        const char *e = p;
        while (*e && !(*e == '"' && e[-1] != '\\'))
            e++;
        bool match = false;
        size_t nl = strlen(needle);
        for (const char *q = p; q + nl <= e && !match; q++)
            match = !memcmp(q, needle, nl);
        const char *l = strstr(e, "\"lookups\":"), *h = strstr(e, "\"hits\":");
        if (match && l && h) {
            *lookups += atoll(l + 10);
            *hits += atoll(h + 7);
        }
        p = e;
    }
    alchdb_free(js);
}

typedef struct cls {
    long long lookups, hits;
} cls;

typedef struct phase_res {
    int threads;
    long ops, pk, list, agg, upd, first;
    double seconds;
    bool capped;
    alchdb_cache_metrics d; /* metric deltas */
    long long bypass_inflight, bypass_write, bypass_other;
    cls pk_c, list_c, agg_c;
} phase_res;

static const char *NEEDLE_PK = "FROM posts WHERE id =";
static const char *NEEDLE_LIST = "ORDER BY id LIMIT";
static const char *NEEDLE_AGG = "sum(score) FROM posts WHERE author_id";

static phase_res run_phase(alchdb_client *c, alchdb_cache *cache, int kind, int nthreads, long nops, double cap_s,
                           uint64_t seed, bool track)
{
    phase_res pr;
    memset(&pr, 0, sizeof pr);
    pr.threads = nthreads;
    alchdb_cache_metrics m0 = metrics(cache);
    long long b0[64]; /* every reason: counted up from 0 until the cache answers "no such reason" */
    int nreasons = 0;
    while (nreasons < 64 && (b0[nreasons] = alchdb_cache_bypass_count(cache, nreasons)) >= 0)
        nreasons++;
    cls p0[3];
    pattern_counts(cache, NEEDLE_PK, &p0[0].lookups, &p0[0].hits);
    pattern_counts(cache, NEEDLE_LIST, &p0[1].lookups, &p0[1].hits);
    pattern_counts(cache, NEEDLE_AGG, &p0[2].lookups, &p0[2].hits);
    wk w[64];
    int64_t t0 = now_ns();
    for (int i = 0; i < nthreads; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].c = c;
        w[i].kind = kind;
        w[i].tid = i;
        w[i].nthreads = nthreads;
        w[i].track = track;
        w[i].nops = nops;
        w[i].deadline_ns = t0 + (int64_t)(cap_s * 1e9);
        w[i].rng = seed * 1000003u + (uint64_t)i * 7919u + 1;
        pthread_create(&w[i].th, NULL, worker, &w[i]);
    }
    for (int i = 0; i < nthreads; i++) {
        pthread_join(w[i].th, NULL);
        pr.first += w[i].first;
        pr.ops += w[i].ops;
        pr.pk += w[i].pk;
        pr.list += w[i].list;
        pr.agg += w[i].agg;
        pr.upd += w[i].upd;
    }
    pr.seconds = (double)(now_ns() - t0) / 1e9;
    pr.capped = kind != W_SWEEP && pr.ops < nops * nthreads;
    alchdb_cache_metrics m1 = metrics(cache);
#define D(f) pr.d.f = m1.f - m0.f
    D(lookups);
    D(hits);
    D(misses);
    D(misses_stale);
    D(coalesced);
    D(fills);
    D(fills_rejected);
    D(bypasses);
    D(invalidations);
    D(backend_errors);
#undef D
    for (int i = 0; i < nreasons; i++) {
        long long d = alchdb_cache_bypass_count(cache, i) - b0[i];
        if (i == ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT)
            pr.bypass_inflight = d;
        else if (i == ALCHDB_CACHE_BYPASS_WRITE)
            pr.bypass_write = d;
        else
            pr.bypass_other += d;
    }
    cls p1[3];
    pattern_counts(cache, NEEDLE_PK, &p1[0].lookups, &p1[0].hits);
    pattern_counts(cache, NEEDLE_LIST, &p1[1].lookups, &p1[1].hits);
    pattern_counts(cache, NEEDLE_AGG, &p1[2].lookups, &p1[2].hits);
    pr.pk_c = (cls){p1[0].lookups - p0[0].lookups, p1[0].hits - p0[0].hits};
    pr.list_c = (cls){p1[1].lookups - p0[1].lookups, p1[1].hits - p0[1].hits};
    pr.agg_c = (cls){p1[2].lookups - p0[2].lookups, p1[2].hits - p0[2].hits};
    return pr;
}

static long reads_of(const phase_res *p)
{
    return p->pk + p->list + p->agg;
}

static double hit_ratio(const phase_res *p)
{
    return reads_of(p) ? (double)p->d.hits / (double)reads_of(p) : 0;
}

static double pct(long long a, long long b)
{
    return b ? 100.0 * (double)a / (double)b : 0;
}

static void print_phase(const char *name, const phase_res *p)
{
    long reads = reads_of(p);
    OUT("   %-34s %7ld ops %5.1f s %7.0f ops/s  hits/reads %6.2f%%  hits/lookups %6.2f%%\n", name, p->ops,
        p->seconds, (double)p->ops / p->seconds, 100.0 * hit_ratio(p), pct(p->d.hits, p->d.lookups));
    OUT("   %-34s   reads %ld, lookups %lld, hits %lld; by kind (hits/lookups): PK %.2f%% of %lld", "", reads,
        (long long)p->d.lookups, (long long)p->d.hits, pct(p->pk_c.hits, p->pk_c.lookups), p->pk_c.lookups);
    if (p->list)
        OUT(", listing %.2f%% of %lld", pct(p->list_c.hits, p->list_c.lookups), p->list_c.lookups);
    if (p->agg)
        OUT(", aggregate %.2f%% of %lld", pct(p->agg_c.hits, p->agg_c.lookups), p->agg_c.lookups);
    OUT("\n   %-34s   misses %lld (stale %lld), coalesced %lld, fills %lld (rejected %lld), updates %ld,\n"
        "   %-34s   reads bypassing the cache: write_in_flight %lld (%.2f%% of reads), other %lld",
        "", (long long)p->d.misses, (long long)p->d.misses_stale, (long long)p->d.coalesced, (long long)p->d.fills,
        (long long)p->d.fills_rejected, p->upd, "", p->bypass_inflight, pct(p->bypass_inflight, reads),
        p->bypass_other);
    if (p->d.backend_errors)
        OUT("; backend errors %lld", (long long)p->d.backend_errors);
    if (p->first)
        OUT("\n   %-34s   first requests of a key %ld: ideal (infinite cache) hit ratio %.2f%%", "", p->first,
            pct(reads - p->first, reads));
    OUT("\n");
    if (p->capped)
        warn("%s stopped at its time cap before its fixed number of operations", name);
    if (p->d.lookups + p->bypass_inflight + p->bypass_other != reads)
        warn("%s: lookups %lld + read bypasses %lld != reads %ld", name, (long long)p->d.lookups,
             p->bypass_inflight + p->bypass_other, reads);
}

static void js_phase(const char *key, const phase_res *p)
{
    JS("\"%s\":{\"threads\":%d,\"ops\":%ld,\"seconds\":%.3f,\"ops_per_s\":%.1f,\"reads\":%ld,\"pk\":%ld,"
       "\"listings\":%ld,\"aggregates\":%ld,\"updates\":%ld,\"hits\":%lld,\"lookups\":%lld,\"misses\":%lld,"
       "\"misses_stale\":%lld,\"coalesced\":%lld,\"fills\":%lld,\"fills_rejected\":%lld,"
       "\"bypass_write_in_flight\":%lld,\"bypass_other_reads\":%lld,\"backend_errors\":%lld,"
       "\"read_hit_ratio\":%.5f,\"lookup_hit_ratio\":%.5f,\"pk_hit_ratio\":%.5f,\"listing_hit_ratio\":%.5f,"
       "\"aggregate_hit_ratio\":%.5f,\"first_requests\":%ld,\"capped\":%s}",
       key, p->threads, p->ops, p->seconds, (double)p->ops / p->seconds, reads_of(p), p->pk, p->list, p->agg,
       p->upd, (long long)p->d.hits, (long long)p->d.lookups, (long long)p->d.misses,
       (long long)p->d.misses_stale, (long long)p->d.coalesced, (long long)p->d.fills,
       (long long)p->d.fills_rejected, p->bypass_inflight, p->bypass_other, (long long)p->d.backend_errors,
       hit_ratio(p), pct(p->d.hits, p->d.lookups) / 100, pct(p->pk_c.hits, p->pk_c.lookups) / 100,
       pct(p->list_c.hits, p->list_c.lookups) / 100, pct(p->agg_c.hits, p->agg_c.lookups) / 100, p->first,
       p->capped ? "true" : "false");
}

typedef struct ratio_res {
    phase_res cold_warm, cold, sweep, a_warm, a, b1_warm, b1, b1_one, b0_warm, b0;
} ratio_res;

static void section_ratio(ratio_res *rr)
{
    OUT("\n== 3. hit ratio, posts: 100k rows, 1000 authors, Zipf(s=1.0) ids and authors, %d threads, Redis backend ==\n",
        g_threads);
    long warm_a = g_quick ? 2000 : 5000, meas_a = g_quick ? 6000 : 25000;
    long warm_b = g_quick ? 3000 : 10000, meas_b = g_quick ? 6000 : 25000;
    double cap = g_quick ? 20 : 60;
    alchdb_cache *ca = make_cache("redis", "s3pk", 1, -1);
    alchdb_client *ka = open_client(ca);

    OUT("   (A) read-only: 90%% PK lookups (%s), 10%% author listings\n       (%s)\n", Q_PK, Q_LIST);
    progress("3A: read-only Zipf from an empty cache");
    rr->cold_warm = run_phase(ka, ca, W_A, g_threads, warm_a, cap, 10, true);
    rr->cold = run_phase(ka, ca, W_A, g_threads, meas_a, cap, 11, true);
    print_phase("(A) cold: first Zipf ops", &rr->cold_warm);
    print_phase("(A) cold: next Zipf ops", &rr->cold);
    OUT("       (from an empty cache the Zipf tail keeps missing: %.1f%% of the id probability mass is on ranks\n"
        "        > 10k; the cache is only at fault when its ratio is below the ideal ratio printed)\n",
        100 * (1 - g_zid.cdf[9999]));
    progress("3A: warm-up sweep (every post and every author once, %d threads)", g_threads);
    rr->sweep = run_phase(ka, ca, W_SWEEP, g_threads, 0, 1e9, 1, false);
    OUT("   warm-up sweep: every post (PK lookup) and every author (listing) once: %ld ops in %.1f s, %lld misses\n",
        rr->sweep.ops, rr->sweep.seconds, (long long)rr->sweep.d.misses);
    progress("3A: read-only Zipf after the warm-up");
    rr->a_warm = run_phase(ka, ca, W_A, g_threads, warm_a, cap, 12, false);
    rr->a = run_phase(ka, ca, W_A, g_threads, meas_a, cap, 13, false);
    print_phase("(A) after sweep: Zipf warm-up", &rr->a_warm);
    print_phase("(A) after warm-up: measured", &rr->a);

    OUT("   (B) 90%% PK lookups, 4.5%% listings, 4.5%% author aggregates (%s),\n"
        "       1%% %s (Zipf ids); %ld ops/thread warm-up, %ld ops/thread measured\n",
        Q_AGG, Q_UPD, warm_b, meas_b);
    progress("3B: pk_invalidation=1 (continuing on the cache warmed by A)");
    rr->b1_warm = run_phase(ka, ca, W_B, g_threads, warm_b, cap, 21, false);
    rr->b1 = run_phase(ka, ca, W_B, g_threads, meas_b, cap, 22, false);
    print_phase("(B) pk_invalidation=1 warm-up", &rr->b1_warm);
    print_phase("(B) pk_invalidation=1 measured", &rr->b1);
    progress("3B: pk_invalidation=1, one thread");
    rr->b1_one = run_phase(ka, ca, W_B, 1, meas_b, cap, 23, false);
    print_phase("(B) pk_invalidation=1, 1 thread", &rr->b1_one);
    OUT("       (one thread: no read can overlap an UPDATE of this process, so no write_in_flight bypasses)\n");
    alchdb_client_free(ka);
    alchdb_cache_free(ca);

    progress("3B: pk_invalidation=0 (table-level)");
    alchdb_cache *cb = make_cache("redis", "s3tab", 0, -1);
    alchdb_client *kb = open_client(cb);
    rr->b0_warm = run_phase(kb, cb, W_B, g_threads, warm_b, cap, 21, false);
    rr->b0 = run_phase(kb, cb, W_B, g_threads, meas_b, cap, 22, false);
    print_phase("(B) pk_invalidation=0 warm-up", &rr->b0_warm);
    print_phase("(B) pk_invalidation=0 measured", &rr->b0);
    OUT("       (pk_invalidation=0 starts from an empty cache with the same Zipf warm-up but no sweep: with\n"
        "        table-level versions every UPDATE invalidates every posts entry, a sweep is gone within ms)\n");
    alchdb_client_free(kb);
    alchdb_cache_free(cb);

    JS("\"hit_ratio\":{\"threads\":%d,\"backend\":\"redis\",", g_threads);
    js_phase("a_cold_first", &rr->cold_warm);
    JS(",");
    js_phase("a_cold_next", &rr->cold);
    JS(",");
    js_phase("sweep", &rr->sweep);
    JS(",");
    js_phase("a_warmup", &rr->a_warm);
    JS(",");
    js_phase("a_read_only", &rr->a);
    JS(",");
    js_phase("b_pk_invalidation_warmup", &rr->b1_warm);
    JS(",");
    js_phase("b_pk_invalidation", &rr->b1);
    JS(",");
    js_phase("b_pk_invalidation_1thread", &rr->b1_one);
    JS(",");
    js_phase("b_table_level_warmup", &rr->b0_warm);
    JS(",");
    js_phase("b_table_level", &rr->b0);
    JS("},");
}

/* ---- 4. memory backend hit cost ---------------------------------------------------------- */

typedef struct hitcost {
    double mem_ns, mem2_ns, red_ns, unc_ns;
} hitcost;

typedef struct mem2arg {
    alchdb_client *c;
    pthread_barrier_t *bar;
    int rounds, batch, tid;
    double res;
} mem2arg;

static char g_ids4[64][16];

static void pk_batch(alchdb_client *c, int *next, int n)
{
    for (int i = 0; i < n; i++) {
        const char *p = g_ids4[(*next)++ % 64];
        const char *pp[1] = {p};
        alchdb_result *r = NULL;
        if (alchdb_client_exec(c, Q_PK, 1, pp, &r) != 0 || alchdb_result_nrows(r) != 1 ||
            strcmp(alchdb_result_value(r, 0, 0), p))
            wrong("section 4: PK lookup %s failed or returned another row", p);
        alchdb_result_free(r);
    }
}

static void *mem2_thread(void *arg)
{
    mem2arg *a = arg;
    double t[128];
    int next = a->tid * 32;
    for (int round = -1; round < a->rounds; round++) {
        pthread_barrier_wait(a->bar);
        int64_t t0 = now_ns();
        pk_batch(a->c, &next, a->batch);
        if (round >= 0)
            t[round] = (double)(now_ns() - t0) / a->batch;
    }
    a->res = median(t, a->rounds);
    return NULL;
}

static void section_hitcost(hitcost *hc)
{
    OUT("\n== 4. hit cost of a primary-key lookup through the client (ns per op, median of batches) ==\n");
    alchdb_cache *cm = make_cache("memory", "s4m", 1, -1), *cr = make_cache("redis", "s4r", 1, -1);
    alchdb_client *km = open_client(cm), *kr = open_client(cr);
    uint64_t seed = 0x5eed0004;
    for (int i = 0; i < 64; i++) /* distinct ids */
        snprintf(g_ids4[i], 16, "%d", 1 + (int)((rnd(&seed) % (NPOSTS / 64)) + (uint64_t)i * (NPOSTS / 64)));
    for (int i = 0; i < 64; i++) {
        const char *pp[1] = {g_ids4[i]};
        alchdb_result *e = xexec(g_plain, Q_PK, 1, pp);
        for (int k = 0; k < 2; k++) {
            alchdb_client *c = k ? kr : km;
            alchdb_result_free(xexec(c, Q_PK, 1, pp));
            alchdb_result *h = xexec(c, Q_PK, 1, pp);
            if (!same_result(h, e))
                wrong("section 4: a %s hit differs from the database's row", k ? "redis" : "memory");
            alchdb_result_free(h);
        }
        alchdb_result_free(e);
    }
    int rounds = g_quick ? 21 : 61;
    int bm = 500, br = 50, bu = 50;
    double t[3][128];
    int next[3] = {0, 0, 0};
    alchdb_cache_metrics m0 = metrics(cm), r0 = metrics(cr);
    for (int round = -1; round < rounds; round++)
        for (int k = 0; k < 3; k++) {
            int mode = (round + 3 + k) % 3;
            alchdb_client *c = mode == 0 ? km : mode == 1 ? kr : g_plain;
            int n = mode == 0 ? bm : mode == 1 ? br : bu;
            int64_t t0 = now_ns();
            pk_batch(c, &next[mode], n);
            if (round >= 0)
                t[mode][round] = (double)(now_ns() - t0) / n;
        }
    alchdb_cache_metrics m1 = metrics(cm), r1 = metrics(cr);
    if (m1.hits - m0.hits != (long)(rounds + 1) * bm || r1.hits - r0.hits != (long)(rounds + 1) * br)
        warn("section 4: not every timed lookup was a hit (memory %lld of %ld, redis %lld of %ld)",
             (long long)(m1.hits - m0.hits), (long)(rounds + 1) * bm, (long long)(r1.hits - r0.hits),
             (long)(rounds + 1) * br);
    hc->mem_ns = median(t[0], rounds);
    hc->red_ns = median(t[1], rounds);
    hc->unc_ns = median(t[2], rounds);
    /* two threads hitting the memory backend at once (contention on the shared structures) */
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, 2);
    mem2arg ma[2];
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        ma[i] = (mem2arg){km, &bar, rounds, bm, i, 0};
        pthread_create(&th[i], NULL, mem2_thread, &ma[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&bar);
    hc->mem2_ns = (ma[0].res + ma[1].res) / 2;
    OUT("   %-44s %10.0f ns\n", "memory backend hit, 1 thread", hc->mem_ns);
    OUT("   %-44s %10.0f ns per op per thread\n", "memory backend hit, 2 threads at once", hc->mem2_ns);
    OUT("   %-44s %10.0f ns   (%.1fx the memory hit)\n", "redis backend hit", hc->red_ns, hc->red_ns / hc->mem_ns);
    OUT("   %-44s %10.0f ns   (%.1fx the memory hit, %.1fx the redis hit)\n", "uncached query (no cache)", hc->unc_ns,
        hc->unc_ns / hc->mem_ns, hc->unc_ns / hc->red_ns);
    OUT("   (%s over 64 ids; %d interleaved rounds; batches of %d / %d / %d ops)\n", Q_PK, rounds, bm, br, bu);
    JS("\"pk_hit_cost\":{\"rounds\":%d,\"memory_hit_ns\":%.0f,\"memory_hit_2threads_ns\":%.0f,\"redis_hit_ns\":%.0f,"
       "\"uncached_ns\":%.0f,\"redis_over_memory\":%.2f,\"uncached_over_memory\":%.2f,\"uncached_over_redis\":%.2f},",
       rounds, hc->mem_ns, hc->mem2_ns, hc->red_ns, hc->unc_ns, hc->red_ns / hc->mem_ns, hc->unc_ns / hc->mem_ns,
       hc->unc_ns / hc->red_ns);
    alchdb_client_free(km);
    alchdb_client_free(kr);
    alchdb_cache_free(cm);
    alchdb_cache_free(cr);
}

/* ---- main ------------------------------------------------------------------------------------ */

static void summary_line(const char *what, const char *value, const char *target, const char *verdict)
{
    OUT("   %-48s %12s   %-22s %s\n", what, value, target, verdict);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            g_quick = true;
        else if (!strcmp(argv[i], "--json"))
            g_json = true;
        else if (!strcmp(argv[i], "--json-out") && i + 1 < argc)
            g_json_out = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc && atoi(argv[i + 1]) >= 1 && atoi(argv[i + 1]) <= 64)
            g_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) {
            g_only = 0;
            for (const char *q = argv[++i]; *q; q++)
                if (*q >= '1' && *q <= '4')
                    g_only |= 1u << (*q - '1');
        }
        else {
            fprintf(stderr, "usage: bench_cache [--quick] [--threads N] [--only 1234] [--json] [--json-out FILE]\n"
                            "       (inside tests/services/rig.sh run --, or use bench/cache/run.sh)\n");
            return 2;
        }
    }
    g_txt = g_json ? stderr : stdout;
    g_primary = getenv("ALCHDB_TEST_PRIMARY");
    const char *redis = getenv("ALCHDB_TEST_REDIS");
    if (!g_primary || !*g_primary || !redis || !strchr(redis, ':')) {
        fprintf(stderr, "bench_cache: ALCHDB_TEST_PRIMARY/ALCHDB_TEST_REDIS not set: run it inside "
                        "tests/services/rig.sh run -- (or bench/cache/run.sh)\n");
        return 2;
    }
    const char *colon = strrchr(redis, ':');
    snprintf(g_redis_host, sizeof g_redis_host, "%.*s", (int)(colon - redis), redis);
    g_redis_port = atoi(colon + 1);

    int64_t t_start = now_ns();
    if (alchdb_pool_config_new(&g_pc) || alchdb_pool_config_set_int64(g_pc, ALCHDB_POOL_OPT_MAX_IDLE, 8) ||
        alchdb_pool_config_set_int64(g_pc, ALCHDB_POOL_OPT_MAX_OPEN, 8))
        die("pool config", NULL);
    g_plain = open_client(NULL);
    load_data();
    zipf_init(&g_zid, NPOSTS, 1.0, 1, 0x21bf0001);
    zipf_init(&g_zauth, NAUTHORS, 1.0, 1, 0x21bf0002);
    for (int id = 1; id <= NPOSTS; id++)
        g_base_sum[author_of(id)] += id % 100;

    OUT("bench/cache: %s%d threads for (3); PostgreSQL %s, Redis %s:%d; pool max_open_conns 8\n",
        g_quick ? "--quick, " : "", g_threads, g_primary, g_redis_host, g_redis_port);
    JS("{\"bench\":\"cache\",\"quick\":%s,", g_quick ? "true" : "false");

    payload_res pay[3];
    int npay = 0;
    if (g_only & 1) {
        progress("1: hit vs raw hiredis");
        section_payload(pay, &npay);
        fflush(g_txt);
    }
    qres qr[3];
    int nq = 0;
    if (g_only & 2) {
        progress("2: hit vs query");
        section_queries(qr, &nq);
        fflush(g_txt);
    }
    ratio_res rr;
    if (g_only & 4) {
        section_ratio(&rr);
        fflush(g_txt);
    }
    hitcost hc = {0};
    if (g_only & 8) {
        progress("4: PK hit cost");
        section_hitcost(&hc);
    }

    /* ---- summary ---- */
    long nwrong = atomic_load(&g_wrong);
    OUT("\n== summary (informational: the bench exits 0 unless something errored or a result was wrong) ==\n");
    JS("\"summary\":{\"targets\":{\"hit_over_mget_max\":1.2,\"read_only_hit_ratio_min\":0.99,"
       "\"pk_invalidation_hit_ratio_min\":0.90}");
    char v[64];
    if (npay) {
        for (int i = 0; i < 2; i++) {
            double r = pay[i].hit_us / pay[i].mget_us;
            char what[80];
            snprintf(what, sizeof what, "1. hit / raw MGET, %s value", pay[i].name);
            snprintf(v, sizeof v, "%.2fx", r);
            summary_line(what, v, "target <= 1.20x", r <= 1.2 ? "PASS" : "MISS");
            JS(",\"hit_over_mget_%dkb\":%.3f,\"hit_over_mget_%dkb_pass\":%s", pay[i].size_kb, r, pay[i].size_kb,
               r <= 1.2 ? "true" : "false");
        }
        double r = pay[2].hit_us / pay[2].mget_us;
        snprintf(v, sizeof v, "%.2fx", r);
        summary_line("1. hit / raw MGET, 16 KB, zstd from 8 KiB", v, "(info)", "");
        JS(",\"hit_over_mget_16kb_zstd\":%.3f", r);
    }
    for (int i = 0; i < nq; i++) {
        char what[80];
        snprintf(what, sizeof what, "2. %s: query / memory hit", qr[i].name);
        snprintf(v, sizeof v, "%.1fx", qr[i].unc_us / qr[i].mem_us);
        summary_line(what, v, "(info)", "");
        snprintf(what, sizeof what, "2. %s: query / redis hit", qr[i].name);
        snprintf(v, sizeof v, "%.1fx", qr[i].unc_us / qr[i].red_us);
        summary_line(what, v, "(info)", "");
    }
    if (g_only & 4) {
        double ha = hit_ratio(&rr.a), hb1 = hit_ratio(&rr.b1), hb0 = hit_ratio(&rr.b0), h1t = hit_ratio(&rr.b1_one);
        double hc_cold = hit_ratio(&rr.cold), ideal = pct(reads_of(&rr.cold) - rr.cold.first, reads_of(&rr.cold)) / 100;
        snprintf(v, sizeof v, "%.2f%% / %.2f%%", 100 * hc_cold, 100 * ideal);
        summary_line("3A. cold start: hit ratio / ideal", v, "(info)", hc_cold >= ideal - 0.005 ? "(at ideal)" : "(below ideal)");
        snprintf(v, sizeof v, "%.2f%%", 100 * ha);
        summary_line("3A. read-only Zipf hit ratio after warm-up", v, "target >= 99%", ha >= 0.99 ? "PASS" : "MISS");
        snprintf(v, sizeof v, "%.2f%%", 100 * hb1);
        summary_line("3B. 1% updates, pk_invalidation=1: hits/reads", v, "target >= 90%", hb1 >= 0.90 ? "PASS" : "MISS");
        snprintf(v, sizeof v, "%.2f%% / %.2f%%", pct(rr.b1.d.hits, rr.b1.d.lookups),
                 pct(rr.b1.bypass_inflight, reads_of(&rr.b1)));
        summary_line("    of which: hits/lookups / write_in_flight reads", v, "(info)", "");
        snprintf(v, sizeof v, "%.2f%%", 100 * h1t);
        summary_line("    same, 1 thread (no overlapping writes)", v, "(info)", h1t >= 0.90 ? "(>= 90%)" : "(< 90%)");
        snprintf(v, sizeof v, "%.2f%%", 100 * hb0);
        summary_line("3B. 1% updates, table-level only: hits/reads", v, "expected far lower",
                     hb0 < hb1 ? "(as expected)" : "(NOT lower)");
        snprintf(v, sizeof v, "%.0f / %.0f", (double)rr.b1.ops / rr.b1.seconds, (double)rr.b0.ops / rr.b0.seconds);
        summary_line("3B. throughput ops/s, pk_invalidation=1 / =0", v, "(info)", "");
        JS(",\"cold_hit_ratio\":%.5f,\"cold_ideal_hit_ratio\":%.5f,\"read_only_hit_ratio\":%.5f,"
           "\"read_only_hit_ratio_pass\":%s,\"pk_invalidation_hit_ratio\":%.5f,\"pk_invalidation_hit_ratio_pass\":%s,"
           "\"pk_invalidation_lookup_hit_ratio\":%.5f,\"pk_invalidation_write_in_flight_share\":%.5f,"
           "\"pk_invalidation_1thread_hit_ratio\":%.5f,\"table_level_hit_ratio\":%.5f,"
           "\"pk_invalidation_ops_per_s\":%.1f,\"table_level_ops_per_s\":%.1f",
           hc_cold, ideal, ha, ha >= 0.99 ? "true" : "false", hb1, hb1 >= 0.90 ? "true" : "false",
           pct(rr.b1.d.hits, rr.b1.d.lookups) / 100, pct(rr.b1.bypass_inflight, reads_of(&rr.b1)) / 100, h1t, hb0,
           (double)rr.b1.ops / rr.b1.seconds, (double)rr.b0.ops / rr.b0.seconds);
    }
    if (g_only & 8) {
        snprintf(v, sizeof v, "%.0f ns", hc.mem_ns);
        summary_line("4. memory-backend PK hit", v, "(info)", "");
        snprintf(v, sizeof v, "%.1fx / %.1fx", hc.red_ns / hc.mem_ns, hc.unc_ns / hc.mem_ns);
        summary_line("4. redis hit / memory hit, query / memory hit", v, "(info)", "");
    }
    snprintf(v, sizeof v, "%ld", nwrong);
    summary_line("wrong results, stale reads or errors", v, "must be 0", nwrong == 0 ? "PASS" : "FAIL");
    if (nwrong)
        OUT("   first: %s\n", g_first_wrong);
    if (g_warnings)
        OUT("   %ld warning(s) above: some figures may not measure what they claim\n", g_warnings);
    double total_s = (double)(now_ns() - t_start) / 1e9;
    OUT("   total run time %.0f s\n", total_s);
    JS(",\"wrong_results\":%ld,\"warnings\":%ld,\"seconds\":%.1f}}\n", nwrong, g_warnings, total_s);
    if (g_json)
        fputs(g_js.p, stdout);
    if (g_json_out) {
        FILE *f = fopen(g_json_out, "w");
        if (!f || fputs(g_js.p, f) < 0 || fclose(f) != 0)
            die("write JSON", g_json_out);
        OUT("   JSON written to %s\n", g_json_out);
    }
    alchdb_client_free(g_plain);
    alchdb_pool_config_free(g_pc);
    free(g_js.p);
    return nwrong ? 1 : 0;
}
