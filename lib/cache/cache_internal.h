/* Internals of the query cache (lib/cache). Never exported.
 *
 * Layers, each in its own file:
 *   siphash.c  keyed 128-bit hash of length-prefixed fields (entry keys)
 *   codec.c    binary encoding of a result + the versions it depends on
 *   memory.c   the in-process backend (bounded by bytes, LRU, TTL)
 *   redis.c    the Redis backend (hiredis 0.14, RESP2, timeouts, breaker)
 *   catalog.c  per-client identity and catalog facts (primary keys, views, FKs)
 *   cache.c    version bumps and marks, in-flight writes, metrics, public API
 *   route.c    where a read of a routed client runs (positions of the tokens)
 *   hooks.c    the client's cache hooks: lookup, single flight, fill, marks
 *              and invalidation around writes
 *
 * The consistency protocol (docs/cache.md) works on "version keys": names of
 * things whose change invalidates entries. Every version key holds an opaque
 * token; an entry records the tokens of the keys it depends on, read before
 * its query ran. A write replaces tokens with fresh random ones (never a
 * counter: no ABA after eviction or restart). Version key names (the core
 * builds full backend keys as "<prefix>:v:<name>"):
 *   n                namespace epoch (every entry depends on it)
 *   t:<rel>          a table (entries that are not primary-key lookups)
 *   b:<rel>          a table's "bulk" version (primary-key lookups)
 *   r:<rel>:<key>    one row by primary key (primary-key lookups)
 *   g:<tag>          a host-defined tag
 */
#ifndef ALCHDB_CACHE_INTERNAL_H
#define ALCHDB_CACHE_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"

/* ---- version tokens --------------------------------------------------------- */

/* "<16 hex random>:<pos>" where pos is the write position (WAL LSN as 16
 * lower-case hex digits) of the last write the token stands for, or "u" when
 * it is unknown. A write in flight (marked ahead of its commit, see mark)
 * appends ":w": the token is *pending*, and nothing may be served or filled
 * against it. An empty string (v[0] == 0) means the key is absent. */
#define ALCHDB__CACHE_VER_MAX 40
typedef struct alchdb__cache_ver {
    char v[ALCHDB__CACHE_VER_MAX];
} alchdb__cache_ver;

enum {
    ALCHDB__VER_ABSENT = 0,  /* no token: matches no entry, position unknown */
    ALCHDB__VER_KNOWN = 1,   /* committed, write position known */
    ALCHDB__VER_UNKNOWN = 2, /* committed, write position unknown (or foreign bytes) */
    ALCHDB__VER_PENDING = 3  /* a write is in flight (or its end was lost) */
};

/* ---- keyed hash (siphash.c) --------------------------------------------------- */

/* SipHash-2-4 with 128-bit output (Aumasson & Bernstein), implemented from the
 * paper. Streaming over length-prefixed fields so that ("ab","c") and
 * ("a","bc") never collide. */
typedef struct alchdb__sip128 {
    uint64_t v0, v1, v2, v3;
    uint64_t tail;   /* pending bytes, little-endian */
    size_t ntail;    /* 0..7 */
    uint64_t total;  /* bytes absorbed */
} alchdb__sip128;
void alchdb__sip128_init(alchdb__sip128 *s, const uint8_t key[16]);
/* Absorb raw bytes. */
void alchdb__sip128_update(alchdb__sip128 *s, const void *data, size_t len);
/* Absorb one field: an 8-byte little-endian length, then the bytes. data may
 * be NULL only with len == 0. A SQL NULL parameter is written with
 * alchdb__sip128_null() so it differs from the empty string. */
void alchdb__sip128_field(alchdb__sip128 *s, const void *data, size_t len);
void alchdb__sip128_null(alchdb__sip128 *s);
void alchdb__sip128_final(alchdb__sip128 *s, uint8_t out[16]);
/* One-shot SipHash-2-4-128 of a buffer (for the published test vectors). */
void alchdb__siphash128(const uint8_t key[16], const void *data, size_t len, uint8_t out[16]);

/* ---- encoding of entries (codec.c) ------------------------------------------- */

/* Entry layout (all integers little-endian; "varint" is LEB128):
 *   magic "ADBC", format version byte (1), flags byte (bit0 zstd body),
 *   u64 checksum of everything after the header (four multiply-xorshift
 *   lanes, codec.c), u32 raw body length; then the body (zstd-compressed when
 *   flag bit0):
 *   16 bytes key, u64 deps hash, varint n versions, n x (varint len, bytes),
 *   varint exec_us, varint ncols, per column (varint len + name, u32 type oid,
 *   i32 typmod, u8 format), varint nrows, then per row and column a varint:
 *   0 = SQL NULL, len + 1 followed by len bytes otherwise.
 * The command tag is rebuilt as "SELECT <nrows>". */
#define ALCHDB__CACHE_FORMAT 1

typedef struct alchdb__cache_entry_in {
    const PGresult *res;       /* PGRES_TUPLES_OK */
    const uint8_t *key;        /* 16 bytes */
    uint64_t deps_hash;        /* hash of the version key names, in order */
    size_t nver;
    const alchdb__cache_ver *vers;
    int64_t exec_us;           /* how long the query took (time saved per hit) */
} alchdb__cache_entry_in;

/* Encode. Bodies of at least compress_threshold bytes are zstd-compressed
 * (0 = never). Returns 0 with *out owned (alchdb__free); ALCHDB_E_RANGE when
 * the encoded entry would exceed max_bytes (nothing allocated);
 * ALCHDB_E_INVALID when res is not PGRES_TUPLES_OK; ALCHDB_E_NOMEM. */
int alchdb__cache_encode(const alchdb__cache_entry_in *in, size_t compress_threshold, size_t max_bytes,
                         unsigned char **out, size_t *out_len);

/* The entry checksum (exposed for the tests that craft entries). */
uint64_t alchdb__cache_checksum(const unsigned char *p, size_t len);

/* Decode and check an entry against what the caller expects: key, deps hash,
 * and the current versions (cur, nver of them). Returns
 *   0  the entry is current: *res is a new PGresult (owned, PQclear) and
 *      *exec_us the recorded query time;
 *   1  well-formed but stale (a version differs) or for another key/deps;
 *   ALCHDB_E_PARSE corrupt, truncated, foreign or of an unknown format
 *      version (never crashes on any input);
 *   ALCHDB_E_NOMEM. */
int alchdb__cache_decode(const unsigned char *buf, size_t len, const uint8_t key[16], uint64_t deps_hash,
                         size_t nver, const alchdb__cache_ver *cur, PGresult **res, int64_t *exec_us);

/* ---- backends (memory.c, redis.c) ------------------------------------------- */

typedef struct alchdb__cache_backend alchdb__cache_backend;

/* Every key passed to a backend is a full backend key (prefix included).
 * All operations are thread-safe and bounded in time. Errors (< 0) set the
 * thread's error message and mean "the backend cannot answer now": the
 * caller falls back to the database. */
typedef struct alchdb__cache_backend_ops {
    const char *name; /* "memory" or "redis" */
    /* One round trip: the entry under key (owned copy in *entry, NULL when
     * absent) and the current token of each version key (cur[i].v[0] == 0
     * when absent). key may be NULL: only the tokens are read. */
    int (*fetch)(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                 alchdb__cache_ver *cur, unsigned char **entry, size_t *entry_len);
    /* One round trip: set each absent version key to init[i] (set-if-absent;
     * ttl_ms[i] > 0 gives it that expiry) and return every key's current
     * token in cur. */
    int (*init)(alchdb__cache_backend *b, size_t n, const char *const *vkeys, const alchdb__cache_ver *init,
                const int64_t *ttl_ms, alchdb__cache_ver *cur);
    /* Check-and-set: store entry under key for ttl_ms only if every version
     * key still holds expected[i] (atomically: a Lua script on Redis, under
     * the lock in memory). Returns 1 stored, 0 rejected, < 0 error. */
    int (*fill)(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                const alchdb__cache_ver *expected, const unsigned char *entry, size_t entry_len,
                int64_t ttl_ms);
    /* One round trip, atomic per key: replace each version key's token by
     * newv[i]'s random part with the position merged as
     * alchdb__cache_ver_merge() does (positions only move forward; unknown
     * stays unknown), ttl_ms[i] > 0 giving it that expiry. The mark whose id
     * is newv[i]'s random part (16 hex digits) is removed; while other marks
     * of the key are live, the new token stays pending. When the backend
     * refuses to store (Redis OOM), the key is deleted instead: an absent key
     * matches no entry. On failure the backend remembers that an
     * invalidation was lost (see "dirty" below). */
    int (*bump)(alchdb__cache_backend *b, size_t n, const char *const *vkeys, const alchdb__cache_ver *newv,
                const int64_t *ttl_ms);
    /* One round trip: mark each version key as written ahead of a commit:
     * the key's token becomes pending (its position kept) and the mark, named
     * id (16 hex digits), lives for ttl_ms unless the bump with a token of
     * random part id removes it first. A pending key expires with its last
     * mark, so a writer that dies between its commit and its bump leaves an
     * absent key (never a current one). Only shared backends need it: the
     * memory backend answers 0 and does nothing. */
    int (*mark)(alchdb__cache_backend *b, size_t n, const char *const *vkeys, const char *id, int64_t ttl_ms);
    /* Compare-and-set of one version key: replace its token by newv (with
     * ttl_ms > 0 as its expiry) only if it still holds expected. Returns 1
     * replaced, 0 not, < 0 error. Used to give a token of unknown write
     * position a known one without invalidating a concurrent write's. */
    int (*cas)(alchdb__cache_backend *b, const char *vkey, const alchdb__cache_ver *expected,
               const alchdb__cache_ver *newv, int64_t ttl_ms);
    /* Cross-process lease on a miss (SET NX PX): 1 acquired, 0 held by
     * another, < 0 error. unlease deletes it only if it still holds token. */
    int (*lease)(alchdb__cache_backend *b, const char *lease_key, const char *token, int64_t ttl_ms);
    int (*unlease)(alchdb__cache_backend *b, const char *lease_key, const char *token);
    /* Delete an entry (found corrupt). */
    int (*del)(alchdb__cache_backend *b, const char *key);
    /* Whether a circuit breaker refuses operations now (Redis; never in memory). */
    bool (*breaker_open)(alchdb__cache_backend *b);
    /* Backend-specific state for the metrics JSON: appends members (no
     * braces) such as "\"breaker\":\"closed\",\"errors\":3". */
    void (*stats_json)(alchdb__cache_backend *b, alchdb__strbuf *sb);
    void (*destroy)(alchdb__cache_backend *b);
} alchdb__cache_backend_ops;

struct alchdb__cache_backend {
    const alchdb__cache_backend_ops *ops;
};

/* Shared by both backends' constructors. */
typedef struct alchdb__cache_backend_cfg {
    /* Full name of the namespace-epoch version key ("<prefix>:v:n"). The
     * backend replaces its token (with a fresh random one, position "u")
     * whenever invalidations may have been lost: a bump that failed (then
     * every operation first replaces the epoch), a reconnect after a
     * failure, and on every new connection to a Redis server that is not the
     * one the namespace was last checked on ("<prefix>:v:gen" holds that
     * server's run_id: a restart, maybe from an older snapshot, or a
     * failover changes it; this is how a process that never saw the old
     * server notices). */
    const char *epoch_key;
    /* memory */
    int64_t memory_bytes;      /* bound on entry bytes (keys + values) */
    /* redis */
    const char *redis_host;
    int redis_port;
    const char *redis_password; /* NULL = none; never logged */
    /* Redis Sentinel: "host:port,..." (NULL or empty = none: redis_host and
     * redis_port name the server), the master's name, and the sentinels'
     * AUTH password (NULL = none; never logged). */
    const char *redis_sentinels;
    const char *redis_master_name;
    const char *redis_sentinel_password;
    int redis_db;
    int64_t connect_timeout_us;
    int64_t command_timeout_us;
    int breaker_failures;       /* consecutive failures that open the breaker */
    int64_t breaker_open_us;    /* how long it stays open before one trial */
    int pool_size;              /* at most this many Redis connections */
} alchdb__cache_backend_cfg;

/* Fresh random token: 16 hex random digits + ":" + 16 hex lsn, or ":u" when
 * lsn < 0 (unknown). */
void alchdb__cache_ver_new(alchdb__cache_ver *v, int64_t lsn);
/* 16 random lower-case hex digits (a mark id, a token's random part). */
void alchdb__cache_random_hex(char out[17]);
/* The token "<rand16>:<lsn>" (":u" when lsn < 0); rand16: 16 hex digits. */
void alchdb__cache_ver_make(alchdb__cache_ver *v, const char *rand16, int64_t lsn);
/* ALCHDB__VER_* of a token; *lsn (may be NULL) its position when it has one
 * (KNOWN, or PENDING over a known position), else -1. */
int alchdb__cache_ver_state(const alchdb__cache_ver *v, int64_t *lsn);
/* The write position a token carries: >= 0, or -1 for "u"/absent/pending/malformed. */
int64_t alchdb__cache_ver_lsn(const alchdb__cache_ver *v);
/* The token a bump stores over cur: proposed's random part, and the larger
 * of both positions, unknown when either is unknown (absent, "u", pending
 * with "u", foreign). A position never moves backwards: two writers bumping
 * out of commit order leave the later commit's position. The Redis backend
 * does the same in Lua (BUMP_LUA). */
void alchdb__cache_ver_merge(alchdb__cache_ver *out, const alchdb__cache_ver *cur, const alchdb__cache_ver *proposed);

/* The redis_sentinels list (redis.c): its length (1..ALCHDB__CACHE_MAX_SENTINELS),
 * or -1 with why (which names the bad item). */
#define ALCHDB__CACHE_MAX_SENTINELS 16
int alchdb__cache_sentinels_check(const char *list, char *why, size_t cap);
/* Item i of a list that passed the check: host (256 bytes, may be NULL) and
 * port (may be NULL); returns the length. */
int alchdb__cache_sentinels_parse(const char *list, char *host, int *port, int i);

int alchdb__cache_memory_new(const alchdb__cache_backend_cfg *cfg, alchdb__cache_backend **out);
int alchdb__cache_redis_new(const alchdb__cache_backend_cfg *cfg, alchdb__cache_backend **out);

/* The registry of backend kinds (backends.c): the "backend" option names one,
 * and the cache makes its backend through the kind's constructor. A new
 * backend is one file with its ops and one row in the registry. */
typedef struct alchdb__cache_backend_kind {
    const char *name; /* the value of the "backend" option */
    int (*create)(const alchdb__cache_backend_cfg *cfg, alchdb__cache_backend **out);
} alchdb__cache_backend_kind;
/* The kind called name (exact, lower case), or NULL. */
const alchdb__cache_backend_kind *alchdb__cache_backend_find(const char *name);
/* "must be one of: memory, redis" into buf, for the option's message. */
void alchdb__cache_backend_names(char *buf, size_t cap);

/* Number of alchdb_cache_bypass reasons: internal, so that a new reason does
 * not change a public constant. */
#define ALCHDB__CACHE_NBYPASS 13

/* Test seam of the memory backend: entries and version keys it holds, bytes. */
void alchdb__cache_memory_counts(alchdb__cache_backend *b, size_t *entries, size_t *versions, int64_t *bytes,
                                 int64_t *evictions);

#endif /* ALCHDB_CACHE_INTERNAL_H */
