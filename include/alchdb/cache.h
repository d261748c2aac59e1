/**
 * @file cache.h
 * @brief Query-result cache in Redis or in process, invalidated by table
 *        versions, with no stale read after a committed write.
 *
 * Attach a cache to a client with alchdb_client_set_cache(): from then on
 * every read-only statement the client runs outside a transaction is served
 * from the cache when an entry is current, and stored after a miss; every
 * write the client commits invalidates what it wrote. Nothing else changes
 * for the host: the results are the same alchdb_result objects.
 *
 * Consistency (docs/cache.md has the argument): every table, every row
 * looked up by primary key, every host tag and the namespace carry a random
 * version token in the backend. An entry records the tokens of what it read,
 * read *before* its query ran; a hit is served only when they are all still
 * current (one round trip), and a fill is stored only when they did not move
 * while the query ran (an atomic check-and-set). A committed write replaces
 * the tokens of the tables (or rows) it wrote, before alchdb_txn_commit() or
 * the exec call returns (and marks them in Redis before it can commit, so a
 * writer that dies in between leaves nothing current). Hence a read that
 * begins after a write's commit call returned never sees a result older than
 * that write, in this process or in any other process sharing the Redis —
 * also a read the cache does not answer: with a routed client, every such
 * read runs on a replica that has replayed the writes it depends on, or on
 * the primary.
 *
 * Writes that bypass the library (psql, other applications, triggers writing
 * other tables, functions called by a SELECT that write) are not seen: call
 * alchdb_cache_invalidate_tables() for them, or use the LISTEN/NOTIFY recipe
 * of docs/cache.md.
 *
 * When Redis is slow or down the cache fails open: statements run on the
 * database, bounded by the connect and command timeouts and a circuit breaker.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_CACHE_H
#define ALCHDB_CACHE_H

#include <alchdb/common.h>
#include <alchdb/client.h>

ALCHDB_BEGIN_DECLS

/** A query cache (opaque, thread-safe; may be shared by several clients). @since 0.1.0 */
typedef struct alchdb_cache alchdb_cache;

/** Cache configuration (opaque; one thread at a time). @since 0.1.0 */
typedef struct alchdb_cache_config alchdb_cache_config;

/**
 * Cache options, the keys of the alchdb_cache_config_* functions. Values are
 * part of the ABI. The bracketed word is the option's name (by-name setter,
 * environment variable). Types, units, ranges, defaults and a line of
 * documentation for each come from the option table the library uses:
 * alchdb_options_info("cache", ...), `alchdb options cache`, or the table in
 * docs/cache.md. Durations are microseconds, sizes bytes.
 * @since 0.1.0
 */
typedef enum alchdb_cache_opt {
    ALCHDB_CACHE_OPT_BACKEND = 0,            /**< [backend] string "memory" (default) or "redis" */
    ALCHDB_CACHE_OPT_REDIS_HOST = 1,         /**< [redis_host] string, default "127.0.0.1" */
    ALCHDB_CACHE_OPT_REDIS_PORT = 2,         /**< [redis_port] 1..65535, default 6379 */
    ALCHDB_CACHE_OPT_REDIS_PASSWORD = 3,     /**< [redis_password] string (never logged or shown), default none */
    ALCHDB_CACHE_OPT_REDIS_DB = 4,           /**< [redis_db] 0..1000, default 0 */
    ALCHDB_CACHE_OPT_PREFIX = 5,             /**< [prefix] key prefix, default "alchemorsel:query";
                                                  1..100 characters of A-Z a-z 0-9 : _ . - */
    ALCHDB_CACHE_OPT_DEFAULT_TTL = 6,        /**< [default_ttl] 1 ms..max_ttl, default 5 min */
    ALCHDB_CACHE_OPT_MAX_TTL = 7,            /**< [max_ttl] 1 s..30 days, default 24 h */
    ALCHDB_CACHE_OPT_TTL_JITTER_PCT = 8,     /**< [ttl_jitter_pct] 0..50: TTLs shortened by up to this %, default 10 */
    ALCHDB_CACHE_OPT_MAX_ENTRY_BYTES = 9,    /**< [max_entry_bytes] 64 B..512 MiB encoded, default 1 MiB */
    ALCHDB_CACHE_OPT_MEMORY_BYTES = 10,      /**< [memory_bytes] bound of the memory backend, 64 KiB..1 TiB, default 64 MiB */
    ALCHDB_CACHE_OPT_COMPRESS_THRESHOLD = 11, /**< [compress_threshold] bytes; zstd above it, 0 = never, default 65536 */
    ALCHDB_CACHE_OPT_CONNECT_TIMEOUT = 12,   /**< [connect_timeout] Redis connect, 1 ms..60 s, default 250 ms */
    ALCHDB_CACHE_OPT_COMMAND_TIMEOUT = 13,   /**< [command_timeout] Redis command, 1 ms..60 s, default 100 ms */
    ALCHDB_CACHE_OPT_BREAKER_FAILURES = 14,  /**< [breaker_failures] 1..1000, default 3 */
    ALCHDB_CACHE_OPT_BREAKER_OPEN = 15,      /**< [breaker_open] 1 ms..10 min, default 1 s */
    ALCHDB_CACHE_OPT_REDIS_POOL_SIZE = 16,   /**< [redis_pool_size] 1..256, default 8 */
    ALCHDB_CACHE_OPT_LEASE_TTL = 17,         /**< [lease_ttl] miss lease in Redis, 1 ms..10 min, default 5 s */
    ALCHDB_CACHE_OPT_LEASE_WAIT = 18,        /**< [lease_wait] how long a miss waits for another process's
                                                  lease, 0..60 s (0 = no cross-process lease), default 200 ms */
    ALCHDB_CACHE_OPT_PK_INVALIDATION = 19,   /**< [pk_invalidation] 0/1: row-level versions for primary-key
                                                  lookups and writes, default 1 */
    ALCHDB_CACHE_OPT_HASH_KEY = 20,          /**< [hash_key] 32 hex digits keying the entry hash; default
                                                  derived from the prefix (set it when keys must be unguessable) */
    ALCHDB_CACHE_OPT_CATALOG_REFRESH = 21,   /**< [catalog_refresh] how often primary keys, views and foreign
                                                  keys are re-read, 1 s..1 day, default 60 s */
    ALCHDB_CACHE_OPT_TRUST_TRIGGERS = 22,    /**< [trust_triggers] 0/1: 0 (default) treats a write to a table
                                                  with user triggers as a write to everything */
    ALCHDB_CACHE_OPT_CACHE_ALL = 23,         /**< [cache_all] 0/1: 1 (default) caches every cacheable read of an
                                                  attached client; 0 only alchdb_client_exec_cached() */
    ALCHDB_CACHE_OPT_WRITE_MARK_TTL = 24,    /**< [write_mark_ttl] how long a write's mark in Redis (placed
                                                  before it commits) holds back the entries it will invalidate
                                                  if its invalidation after the commit never arrives (the
                                                  process died or lost Redis), 100 ms..1 day, default 60 s */
    ALCHDB_CACHE_OPT_REDIS_SENTINELS = 25,   /**< [redis_sentinels] "host:port,host:port" of Redis Sentinels,
                                                  asked in turn where the master is (then redis_host and
                                                  redis_port are not used), at most 16; default none */
    ALCHDB_CACHE_OPT_REDIS_MASTER_NAME = 26, /**< [redis_master_name] the master's name at the sentinels,
                                                  default "mymaster" */
    ALCHDB_CACHE_OPT_REDIS_SENTINEL_PASSWORD = 27 /**< [redis_sentinel_password] the sentinels' AUTH password
                                                  (never logged or shown), default none */
} alchdb_cache_opt;

/**
 * Create a configuration holding the defaults.
 * @param out receives the owned config; set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Ownership:** free with alchdb_cache_config_free().
 * **Thread safety:** any thread; the config is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_config_new(alchdb_cache_config **out);

/**
 * Free a configuration.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_cache_config_free(alchdb_cache_config *cfg);

/**
 * Set a numeric option: an integer, a duration in microseconds, a size in
 * bytes or a boolean (0/1).
 * @param cfg   the config.
 * @param opt   an ::alchdb_cache_opt that is not a string option.
 * @param value in the option's range.
 * @return 0, ALCHDB_E_NOTFOUND (unknown option) or ALCHDB_E_INVALID (a string
 *         option, out of range: the message names the option and the range).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_config_set_int64(alchdb_cache_config *cfg, int opt, int64_t value);

/**
 * Read a numeric option.
 * @param cfg the config.
 * @param opt an ::alchdb_cache_opt that is not a string option.
 * @param out receives the value.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_config_get_int64(const alchdb_cache_config *cfg, int opt, int64_t *out);

/**
 * Set a string option (backend, redis_host, redis_password, prefix, hash_key).
 * @param cfg   the config.
 * @param opt   a string ::alchdb_cache_opt.
 * @param value copied; NULL restores the default.
 * @return 0, ALCHDB_E_NOTFOUND, ALCHDB_E_INVALID (a numeric option, a value
 *         the option refuses: the message never shows the value) or ALCHDB_E_NOMEM.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_config_set_string(alchdb_cache_config *cfg, int opt, const char *value);

/**
 * Read a string option.
 * @param cfg the config.
 * @param opt a string ::alchdb_cache_opt.
 * @param out receives the value, or its default; the secret options
 *            (redis_password, hash_key) read "***" when set.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Ownership:** *out is borrowed until the option changes or the config is freed.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_config_get_string(const alchdb_cache_config *cfg, int opt, const char **out);

/**
 * Set an option by its bracketed name from text, with the rules of
 * <alchdb/options.h>: names case-insensitive, durations with a unit ("5m",
 * "250ms", "1h30m"; "0"), sizes with an optional binary suffix ("64MiB"),
 * booleans 1/0, true/false, on/off, yes/no.
 * @param cfg   the config.
 * @param name  option name.
 * @param value option text.
 * @return 0, ALCHDB_E_NOTFOUND (unknown name) or ALCHDB_E_INVALID.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_config_set_from_string(alchdb_cache_config *cfg, const char *name, const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME (NAME the
 * upper-cased option name: APP_CACHE_BACKEND, APP_CACHE_REDIS_PASSWORD).
 * Absent or empty variables leave the option unchanged.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** one thread at a time per config; reads the environment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_config_from_env(alchdb_cache_config *cfg, const char *prefix);

/**
 * Create a cache. The memory backend needs nothing; the Redis backend
 * connects lazily (a Redis that is down makes the cache fail open, not this
 * call fail).
 * @param cfg the options (copied) or NULL for the defaults (memory backend).
 * @param out receives the cache; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (e.g. default_ttl > max_ttl) or ALCHDB_E_NOMEM.
 * **Ownership:** free with alchdb_cache_free() after every client using it.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_new(const alchdb_cache_config *cfg, alchdb_cache **out);

/**
 * Free a cache. Clients it is attached to must be freed (or detached) first.
 * @param cache cache or NULL.
 * **Thread safety:** once, after all other use.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_cache_free(alchdb_cache *cache);

/**
 * Attach a cache to a client (or detach with NULL). Entries are keyed by the
 * client's database, role, search_path and output settings, read from the
 * server on first use, and by @p scope: set a scope when the host changes
 * what a role can see per request (e.g. a tenant id in a session variable
 * that row-level security reads), so those requests never share entries.
 * @param client the client; no statement may be running on it.
 * @param cache  the cache (borrowed: must outlive the client) or NULL.
 * @param scope  extra key material (copied, up to 1024 bytes) or NULL.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** before the client is shared between threads.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_set_cache(alchdb_client *client, alchdb_cache *cache, const char *scope);

/** Flags of ::alchdb_cache_query. @since 0.1.0 */
#define ALCHDB_CACHE_SKIP 1u    /**< neither look up nor store (counted as a bypass) */
#define ALCHDB_CACHE_NO_FILL 2u /**< may be served from the cache, a miss is not stored */
#define ALCHDB_CACHE_REFRESH 4u /**< do not look up: run the query and store the result */

/** Version of ::alchdb_cache_query this header describes. @since 0.1.0 */
#define ALCHDB_CACHE_QUERY_VERSION 1

/** Per-statement cache options of alchdb_client_exec_cached(). @since 0.1.0 */
typedef struct alchdb_cache_query {
    uint32_t version;        /**< ALCHDB_CACHE_QUERY_VERSION */
    uint32_t flags;          /**< OR of ALCHDB_CACHE_SKIP, _NO_FILL, _REFRESH */
    int64_t ttl_us;          /**< 0 = the default TTL; else 1 ms..max_ttl */
    const char *const *tags; /**< host tags the entry also depends on (see alchdb_cache_invalidate_tag()) */
    size_t ntags;            /**< number of tags, at most 16 */
} alchdb_cache_query;

/**
 * alchdb_client_exec_flags() with per-statement cache options.
 * @param client  a client (with or without a cache: without, @p q is ignored).
 * @param sql     the statement (copied).
 * @param nparams number of parameters.
 * @param params  text values or NULL entries (copied).
 * @param flags   ::alchdb_exec_flag values.
 * @param q       options or NULL for the defaults.
 * @param out     receives the result or NULL; set to NULL first.
 * @return as alchdb_client_exec_flags(); ALCHDB_E_INVALID for bad options.
 * **Ownership:** *out is owned: free with alchdb_result_free().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_client_exec_cached(alchdb_client *client, const char *sql, int nparams,
                                         const char *const *params, uint32_t flags, const alchdb_cache_query *q,
                                         alchdb_result **out);

/**
 * Invalidate everything that read these tables (writes made outside the
 * library). Names as in SQL ("app.users", "users"); the schema is ignored,
 * so same-named tables of other schemas are invalidated too.
 * @param cache  the cache.
 * @param tables table names.
 * @param n      number of names, 1..1024.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM, or ALCHDB_E_BACKEND (Redis
 *         unreachable: the invalidation is kept and the cache serves nothing
 *         from Redis until it is delivered).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_invalidate_tables(alchdb_cache *cache, const char *const *tables, size_t n);

/**
 * Invalidate every entry stored with this host tag (::alchdb_cache_query::tags).
 * @param cache the cache.
 * @param tag   1..200 bytes.
 * @return as alchdb_cache_invalidate_tables().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_invalidate_tag(alchdb_cache *cache, const char *tag);

/**
 * Invalidate the whole namespace (the prefix) for every process sharing it:
 * one version bump, never a KEYS/SCAN scan; old entries expire by TTL.
 * @param cache the cache.
 * @return as alchdb_cache_invalidate_tables().
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_clear(alchdb_cache *cache);

/** Cache counters (alchdb_cache_get_metrics()). @since 0.1.0 */
typedef struct alchdb_cache_metrics {
    uint32_t size;            /**< in: sizeof(struct alchdb_cache_metrics) of the caller; out: bytes filled */
    uint32_t reserved;        /**< zero */
    int64_t lookups;          /**< cacheable statements looked up */
    int64_t hits;             /**< served from the cache (including ones that waited for another miss) */
    int64_t misses;           /**< looked up and ran on the database */
    int64_t misses_stale;     /**< of misses: an entry existed but a version had moved */
    int64_t misses_corrupt;   /**< of misses: an entry could not be decoded (treated as absent) */
    int64_t coalesced;        /**< of hits: waited for a concurrent miss of the same key */
    int64_t fills;            /**< entries stored */
    int64_t fills_rejected;   /**< fills refused because a version moved while the query ran (races caught) */
    int64_t fills_too_large;  /**< results over max_entry_bytes, not stored */
    int64_t bypasses;         /**< statements not looked up (see alchdb_cache_bypass_count()) */
    int64_t invalidations;    /**< version bumps sent (writes, explicit calls) */
    int64_t backend_errors;   /**< backend operations that failed (the query still ran) */
    int64_t bytes_stored;     /**< encoded bytes stored */
    int64_t bytes_served;     /**< encoded bytes served */
    int64_t db_time_saved_us; /**< sum over hits of the recorded query time of the entry */
    int64_t breaker_open;     /**< 1 when the Redis circuit breaker is open */
    int64_t fills_from_replica; /**< of fills: results a replica served (routed clients) */
    int64_t routed_primary;   /**< reads of a routed client sent to the primary because the write positions
                                   they need could not be known (Redis down, a write in flight, tables
                                   that cannot all be named) */
    int64_t routed_position;  /**< reads of a routed client sent to a replica that has replayed the write
                                   positions they need (or to the primary when none has) */
    int64_t write_marks;      /**< writes marked in Redis before their commit (see write_mark_ttl) */
} alchdb_cache_metrics;

/**
 * Snapshot the counters.
 * @param cache the cache.
 * @param m     filled up to @p size bytes; m->size set to the bytes filled.
 * @param size  sizeof(*m).
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_get_metrics(alchdb_cache *cache, alchdb_cache_metrics *m, size_t size);

/** Why a statement was not looked up (alchdb_cache_bypass_count()). @since 0.1.0 */
typedef enum alchdb_cache_bypass {
    ALCHDB_CACHE_BYPASS_SKIP_FLAG = 0,        /**< ALCHDB_CACHE_SKIP, or cache_all off */
    ALCHDB_CACHE_BYPASS_WRITE = 1,            /**< the statement writes (it invalidates instead) */
    ALCHDB_CACHE_BYPASS_IN_TRANSACTION = 2,   /**< inside an explicit transaction */
    ALCHDB_CACHE_BYPASS_LOCKING = 3,          /**< FOR UPDATE/SHARE, LOCK */
    ALCHDB_CACHE_BYPASS_VOLATILE = 4,         /**< calls a volatile function (now(), random(), ...) */
    ALCHDB_CACHE_BYPASS_TEMP_TABLE = 5,       /**< reads a temporary table */
    ALCHDB_CACHE_BYPASS_SYSTEM_CATALOG = 6,   /**< reads pg_catalog / information_schema / pg_* relations */
    ALCHDB_CACHE_BYPASS_NOT_CACHEABLE = 7,    /**< other statements (utility, several statements, EXPLAIN) */
    ALCHDB_CACHE_BYPASS_PARSE_ERROR = 8,      /**< the SQL does not parse */
    ALCHDB_CACHE_BYPASS_WRITE_IN_FLIGHT = 9,  /**< a write transaction of this process is open on a table it reads */
    ALCHDB_CACHE_BYPASS_BACKEND = 10,         /**< the backend cannot answer (down, breaker open, invalidations pending) */
    ALCHDB_CACHE_BYPASS_IDENTITY = 11,        /**< the session identity could not be read */
    ALCHDB_CACHE_BYPASS_TOO_MANY_TABLES = 12  /**< reads more tables than an entry can track (64) */
} alchdb_cache_bypass;

/**
 * How many statements bypassed the cache for @p reason.
 * @param cache  the cache.
 * @param reason an ::alchdb_cache_bypass value.
 * @return the count, or ALCHDB_E_INVALID for a value that is no reason (so
 *         a caller lists every reason, new ones included, by counting up
 *         from 0 until this answers ALCHDB_E_INVALID).
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int64_t alchdb_cache_bypass_count(alchdb_cache *cache, int reason);

/**
 * Stable snake_case name of a bypass reason ("volatile", ...).
 * @param reason an ::alchdb_cache_bypass value.
 * @return a static string; "unknown" when out of range.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_cache_bypass_name(int reason);

/**
 * Everything as a JSON object: configuration (no password), counters, hit
 * ratio overall and per statement pattern (the 50 busiest), bypasses and
 * misses by reason, backend state (entries, bytes, evictions or breaker,
 * errors, reconnects).
 * @param cache the cache.
 * @param out   receives an owned string (free with alchdb_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_cache_to_json(alchdb_cache *cache, char **out);

/**
 * The backend in use.
 * @param cache the cache.
 * @return "memory" or "redis" (static); "" for NULL.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_cache_backend(const alchdb_cache *cache);

ALCHDB_END_DECLS

#endif /* ALCHDB_CACHE_H */
