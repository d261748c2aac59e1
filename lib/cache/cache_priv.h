/* Private structures of the cache core (config.c, cache.c, catalog.c,
 * hooks.c). The backends and the codec only see cache_internal.h. */
#ifndef ALCHDB_CACHE_PRIV_H
#define ALCHDB_CACHE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "alchdb/cache.h"
#include "cache/cache_internal.h"
#include "core/opt.h"
#include "client/seams.h"
#include "pool/pool_internal.h" /* the pool's seam: borrowing a connection, fatal SQLSTATEs */
#include "sql/sql_internal.h"

struct alchdb_cache_config {
    alchdb__opts opts;
};

/* The cache's option table (config.c). */
extern const alchdb__optspec alchdb__cache_optspec;

/* ---- version key sets --------------------------------------------------------- */

/* Most entries depend on a handful of keys; the bound keeps every per-statement
 * structure on the stack or in one allocation. */
#define CACHE_MAX_VKEYS 64

/* A list of full version key names ("<prefix>:v:t:users") with the expiry
 * each gets when bumped (0 = none: row keys expire, table keys do not). */
typedef struct vset {
    size_t n;
    char *names[CACHE_MAX_VKEYS];
    int64_t ttl_ms[CACHE_MAX_VKEYS];
    bool overflow; /* more than CACHE_MAX_VKEYS were added */
} vset;

/* ---- small shared helpers (cache.c) -------------------------------------------- */

/* Append a copy of s[0..len) to a list unless it is there; false: no memory. */
bool alchdb__names_add(char ***list, size_t *n, const char *s, size_t len);
void alchdb__names_free(char **list, size_t n);

/* ---- catalog facts (catalog.c) ------------------------------------------------ */

enum { PK_NONE = 0, PK_INT, PK_TEXT, PK_UUID };

/* A relation as PostgreSQL names it: schema and name, two fields. */
typedef struct rel_ref {
    char *schema;
    char *name;
} rel_ref;

typedef struct rel_info {
    char *schema;          /* pg_namespace.nspname; NULL: the entry for every relation of this name */
    char *name;            /* pg_class.relname */
    int pk_class;          /* the single-column key's type class, PK_NONE if none/ambiguous */
    char *pk_col;
    bool volatile_rel;     /* sequence or foreign table: never cached */
    bool temp;             /* a temporary table of some session: never cached */
    bool has_triggers;     /* user triggers: writes may touch anything */
    bool is_view;
    size_t nbase;          /* views: the base relations they read, transitively */
    rel_ref *base;
    size_t nchild;         /* relations whose rows a write here may change (FK actions,
                              partitions and inheritance parents/children) */
    rel_ref *child;
    struct rel_info *next;
} rel_info;

/* A function of pg_proc by exact (schema, name); schema NULL: every schema's
 * function of that name. */
typedef struct cache_func {
    char *schema;
    char *name;
    bool no_cache;         /* VOLATILE anywhere, or STABLE outside pg_catalog (may read tables) */
} cache_func;

typedef struct cache_catalog {
    _Atomic int refs;
    size_t nbuckets;
    rel_info **buckets;
    size_t nfuncs;
    cache_func *funcs;
    size_t funcmask;       /* open-addressing set over funcs: funcslot[h & funcmask] */
    uint32_t *funcslot;    /* index + 1, 0 = empty */
    int64_t loaded_ns;
} cache_catalog;

/* The facts of relation (schema, relname), exact names; schema NULL: the
 * facts of every relation of that name merged. NULL when unknown. */
const rel_info *alchdb__catalog_rel(const cache_catalog *cat, const char *schema, const char *relname);
/* Function (schema, name) exactly as called (schema NULL when the call does
 * not qualify it): 1 a cached read must not call it, 0 it may, -1 unknown
 * (no such function in the catalog: not cacheable either). */
int alchdb__catalog_func(const cache_catalog *cat, const char *schema, const char *name);
void alchdb__catalog_release(cache_catalog *cat);
/* Read the session identity (hashed into *identity) and the catalog facts on
 * one connection of pool. */
/* Read the catalog facts through a connection of pool; the acquire and every
 * query are bounded by deadline_ns (absolute, alchdb__now_ns(); 0 = the
 * pool's acquire_timeout and no bound on the queries). */
int alchdb__catalog_load(alchdb_pool *pool, const char *scope, int64_t deadline_ns, uint8_t identity[16],
                         cache_catalog **out);
/* A key value in canonical form for its class (integers without sign noise,
 * uuids lower-case without dashes); false when it is not a valid value. */
bool alchdb__catalog_canon_key(int pk_class, const char *value, char *buf, size_t cap);

/* ---- statement facts (hooks.c) ------------------------------------------------ */

typedef struct stmt_info {
    _Atomic int refs;
    uint64_t hash;
    char *sql;
    size_t len;
    int bypass;            /* -1: a cacheable read; else the alchdb_cache_bypass reason */
    bool writes;           /* invalidates after it ran */
    bool writes_unknown;   /* may write tables nobody can name: bump the namespace */
    bool ddl;              /* changes the schema: reload the catalog, bump the namespace */
    bool creates_temp;     /* CREATE TEMP TABLE: remember its name */
    uint64_t fingerprint;
    const char *normalized; /* for the per-pattern metrics (borrowed from a) */
    size_t nread, nwritten;
    char **read;           /* relation names as version keys use them (the name, never re-split on dots) */
    char **written;
    char **read_schema;    /* each one's schema: NULL when not written, or when the statement names
                              the relation in several schemas (then the catalog's facts for every
                              relation of that name apply) */
    char **written_schema;
    const alchdb__sql_row_target *rt; /* single-relation shape (borrowed from a), or NULL */
    const alchdb_sql_analysis *a; /* the shared analysis, referenced until release */
    struct stmt_info *next;
} stmt_info;

/* ---- the cache ------------------------------------------------------------------ */

typedef struct cache_flight cache_flight;

#define CACHE_PATTERNS 1024

typedef struct cache_pattern {
    _Atomic uint64_t fp;   /* 0 = free slot */
    _Atomic int ready;     /* text written */
    char text[120];
    _Atomic int64_t lookups, hits, misses, saved_us;
} cache_pattern;

typedef struct inflight {
    char *key; /* a version key a running write will bump */
    int64_t count;
    struct inflight *next;
} inflight;

struct alchdb_cache {
    alchdb__opts cfg; /* a copy of the caller's options */
    alchdb__cache_backend *be;
    char *prefix;
    uint8_t hash_key[16];
    char *epoch_key;
    int64_t default_ttl_ms, max_ttl_ms, jitter_pct, lease_ttl_ms, lease_wait_us, write_mark_ttl_ms;
    size_t max_entry, compress_threshold;
    bool pk_inval, trust_triggers, cache_all;

    pthread_mutex_t lock; /* in-flight writes and single flights */
    _Atomic int64_t inflight_total;
    inflight *inflight_head;
    cache_flight *flights;

    _Atomic int64_t lookups, hits, misses, misses_stale, misses_corrupt, coalesced, fills, fills_rejected,
        fills_too_large, fills_from_replica, bypasses, invalidations, backend_errors, bytes_stored, bytes_served, saved_us;
    _Atomic int64_t routed_primary, routed_position, write_marks; /* reads steered; writes marked ahead */
    _Atomic int64_t bypass[ALCHDB__CACHE_NBYPASS];
    cache_pattern patterns[CACHE_PATTERNS];
};

/* A full version key name for name (e.g. "t:users"); owned. */
char *alchdb__cache_vkey(const alchdb_cache *c, const char *kind, const char *rel, const char *key);
void alchdb__vset_add(vset *s, char *owned_name, int64_t ttl_ms);
void alchdb__vset_clear(vset *s);
/* Replace the tokens of every key in s (one backend round trip) after a
 * write at position lsn (< 0 unknown); writer: the id its marks were placed
 * with (alchdb__cache_mark), or NULL for an invalidation that marked nothing. */
int alchdb__cache_bump(alchdb_cache *c, const vset *s, const char *writer, int64_t lsn);
/* Mark every key in s as written ahead of a commit, for write_mark_ttl
 * (shared backends; a no-op in memory). writer: 16 hex digits. */
int alchdb__cache_mark(alchdb_cache *c, const vset *s, const char *writer);
/* Replace the namespace epoch without allocating (writer, lsn as above). */
int alchdb__cache_bump_epoch(alchdb_cache *c, const char *writer, int64_t lsn);
/* In-process "write in flight" marks on version key names (counted). */
void alchdb__cache_inflight_add(alchdb_cache *c, char *const *keys, size_t n);
void alchdb__cache_inflight_remove(alchdb_cache *c, char *const *keys, size_t n);
bool alchdb__cache_inflight_any(alchdb_cache *c, char *const *keys, size_t n);
cache_pattern *alchdb__cache_pattern(alchdb_cache *c, uint64_t fp, const char *text);
/* TTL in ms with the configured jitter applied. */
int64_t alchdb__cache_ttl(const alchdb_cache *c, int64_t ttl_us);

/* ---- where a read runs (route.c) ---------------------------------------------- */

/* A miss of a routed client that may fill from expected (the tokens read
 * before its query): a replica past their highest position, resolving
 * unknown positions first (compare-and-set in expected); the primary when a
 * position cannot be had. Sets ctx->token or ALCHDB_EXEC_PRIMARY. */
void alchdb__cache_route_miss(alchdb_cache *c, const alchdb__route_ref *r, const vset *vs, alchdb__cache_ver *expected,
                              alchdb__exec_ctx *ctx);
/* A read the cache does not answer: deps are the version keys it depends on
 * (their positions are read), or NULL when they cannot all be named (the
 * primary). */
void alchdb__cache_route_bypass(alchdb_cache *c, const alchdb__route_ref *r, const vset *deps, alchdb__exec_ctx *ctx);
/* The BEGIN of a transaction the router may send to a replica: a replica at
 * the primary's current position, or the primary. */
void alchdb__cache_route_txn(alchdb_cache *c, const alchdb__route_ref *r, alchdb__exec_ctx *ctx);

/* Test seam: what the calling thread's last statement through a cache did. */
typedef struct alchdb__cache_last {
    int path;   /* ALCHDB__CACHE_PATH_* */
    int reason; /* the alchdb_cache_bypass reason of a bypass, else -1 */
    int host;   /* the router host it ran on (0 primary, > 0 a replica), -1 unrouted or a hit */
} alchdb__cache_last;
enum { ALCHDB__CACHE_PATH_NONE = 0, ALCHDB__CACHE_PATH_HIT, ALCHDB__CACHE_PATH_MISS, ALCHDB__CACHE_PATH_BYPASS };
alchdb__cache_last alchdb__cache_last_statement(void);

/* Test seam: called at the named points of a miss ("versions-read",
 * "query-done", "before-fill") and of a write ("before-bump", after its
 * commit) with the statement text. Set only in tests. */
typedef void (*alchdb__cache_test_hook)(const char *point, const char *sql, void *ud);
void alchdb__cache_set_test_hook(alchdb__cache_test_hook hook, void *ud);
void alchdb__cache_test_point(const char *point, const char *sql);

#endif /* ALCHDB_CACHE_PRIV_H */
