/* The cache's options, declared once for the option engine (lib/core/opt.c):
 * the public alchdb_cache_config_* functions, the listing, the CLI's help and
 * the table in docs/cache.md all come from this table. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cache/cache_priv.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
#define DAY (86400 * SEC)
#define KIB INT64_C(1024)
#define MIB (KIB * 1024)

/* The backend is any registered backend kind (backends.c). */
static int check_backend(const char *v, char *why, size_t cap)
{
    if (alchdb__cache_backend_find(v))
        return 0;
    alchdb__cache_backend_names(why, cap);
    return -1;
}

static int check_prefix(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 100;
    for (const char *p = v; ok && *p; p++)
        ok = isalnum((unsigned char)*p) || strchr(":_.-", *p);
    if (!ok)
        snprintf(why, cap, "must have 1..100 characters of A-Z a-z 0-9 : _ . -");
    return ok ? 0 : -1;
}

static int check_hex32(const char *v, char *why, size_t cap)
{
    bool ok = strlen(v) == 32;
    for (const char *p = v; ok && *p; p++)
        ok = isxdigit((unsigned char)*p);
    if (!ok)
        snprintf(why, cap, "must be 32 hexadecimal digits");
    return ok ? 0 : -1;
}

static int check_host(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    if (n >= 1 && n <= 255 && !strpbrk(v, " \t\r\n"))
        return 0;
    snprintf(why, cap, "must be a host name or address (1..255 characters, no spaces)");
    return -1;
}

/* Any bytes but NUL, bounded; the message never shows the value. */
static int check_password(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    if (n >= 1 && n <= 512)
        return 0;
    snprintf(why, cap, "must have 1..512 characters");
    return -1;
}

/* "host:port,host:port" (redis.c parses it the same way). */
static int check_sentinels(const char *v, char *why, size_t cap)
{
    return alchdb__cache_sentinels_check(v, why, cap) < 0 ? -1 : 0;
}

static int check_name(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 200;
    for (const char *p = v; ok && *p; p++)
        ok = (unsigned char)*p > ' ' && *p != 0x7f;
    if (!ok)
        snprintf(why, cap, "must have 1..200 characters, no spaces or control characters");
    return ok ? 0 : -1;
}

#define STR_OPT(key, name, def, check, flags, doc) {key, name, ALCHDB_OPT_STRING, 0, 0, 0, def, NULL, check, flags, doc}
#define INT_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_INT, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define DUR_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_DURATION, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define SIZE_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_SIZE, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define BOOL_OPT(key, name, def, doc) {key, name, ALCHDB_OPT_BOOL, 0, 1, def, NULL, NULL, NULL, 0, doc}

static const alchdb__optdef DEFS[] = {
    STR_OPT(ALCHDB_CACHE_OPT_BACKEND, "backend", "memory", check_backend, 0,
            "where entries live: memory (in this process) or redis (shared)"),
    STR_OPT(ALCHDB_CACHE_OPT_REDIS_HOST, "redis_host", "127.0.0.1", check_host, 0, "Redis host name or address"),
    INT_OPT(ALCHDB_CACHE_OPT_REDIS_PORT, "redis_port", 1, 65535, 6379, "Redis TCP port"),
    STR_OPT(ALCHDB_CACHE_OPT_REDIS_PASSWORD, "redis_password", NULL, check_password, ALCHDB__OPT_SECRET,
            "Redis AUTH password (never logged or shown)"),
    INT_OPT(ALCHDB_CACHE_OPT_REDIS_DB, "redis_db", 0, 1000, 0, "Redis database number"),
    STR_OPT(ALCHDB_CACHE_OPT_PREFIX, "prefix", "alchemorsel:query", check_prefix, 0,
            "namespace of every key (processes that share it share entries)"),
    DUR_OPT(ALCHDB_CACHE_OPT_DEFAULT_TTL, "default_ttl", MS, 30 * DAY, 300 * SEC,
            "lifetime of an entry when a call names none (at most max_ttl)"),
    DUR_OPT(ALCHDB_CACHE_OPT_MAX_TTL, "max_ttl", SEC, 30 * DAY, DAY, "the longest lifetime an entry gets"),
    INT_OPT(ALCHDB_CACHE_OPT_TTL_JITTER_PCT, "ttl_jitter_pct", 0, 50, 10,
            "lifetimes are shortened at random by up to this percentage, so entries do not expire together"),
    SIZE_OPT(ALCHDB_CACHE_OPT_MAX_ENTRY_BYTES, "max_entry_bytes", 64, 512 * MIB, MIB,
             "larger encoded results are not cached"),
    SIZE_OPT(ALCHDB_CACHE_OPT_MEMORY_BYTES, "memory_bytes", 64 * KIB, INT64_C(1) << 40, 64 * MIB,
             "bound of the memory backend (keys + values), least recently used out first"),
    SIZE_OPT(ALCHDB_CACHE_OPT_COMPRESS_THRESHOLD, "compress_threshold", 0, 512 * MIB, 64 * KIB,
             "entries larger than this are compressed; 0 = never"),
    DUR_OPT(ALCHDB_CACHE_OPT_CONNECT_TIMEOUT, "connect_timeout", MS, 60 * SEC, 250 * MS, "limit of a Redis connect"),
    DUR_OPT(ALCHDB_CACHE_OPT_COMMAND_TIMEOUT, "command_timeout", MS, 60 * SEC, 100 * MS, "limit of a Redis command"),
    INT_OPT(ALCHDB_CACHE_OPT_BREAKER_FAILURES, "breaker_failures", 1, 1000, 3,
            "consecutive backend failures that open the breaker (the cache is then bypassed)"),
    DUR_OPT(ALCHDB_CACHE_OPT_BREAKER_OPEN, "breaker_open", MS, 600 * SEC, SEC,
            "how long the breaker stays open before one trial"),
    INT_OPT(ALCHDB_CACHE_OPT_REDIS_POOL_SIZE, "redis_pool_size", 1, 256, 8, "Redis connections at most"),
    DUR_OPT(ALCHDB_CACHE_OPT_LEASE_TTL, "lease_ttl", MS, 600 * SEC, 5 * SEC,
            "lifetime of a miss lease in Redis (one process fills, the others wait)"),
    DUR_OPT(ALCHDB_CACHE_OPT_LEASE_WAIT, "lease_wait", 0, 60 * SEC, 200 * MS,
            "how long a miss waits for another process's fill before it runs the query itself; 0 = no cross-process lease"),
    BOOL_OPT(ALCHDB_CACHE_OPT_PK_INVALIDATION, "pk_invalidation", 1,
             "row-level versions for primary-key lookups: a write to one row keeps other rows' entries"),
    STR_OPT(ALCHDB_CACHE_OPT_HASH_KEY, "hash_key", NULL, check_hex32, ALCHDB__OPT_SECRET,
            "32 hex digits keying the entry hash; default derived from the prefix"),
    DUR_OPT(ALCHDB_CACHE_OPT_CATALOG_REFRESH, "catalog_refresh", SEC, DAY, 60 * SEC,
            "how often primary keys, views and foreign keys are read again from the catalog"),
    BOOL_OPT(ALCHDB_CACHE_OPT_TRUST_TRIGGERS, "trust_triggers", 0,
             "0: a write to a table with user triggers counts as a write to every table; 1: only to that table"),
    BOOL_OPT(ALCHDB_CACHE_OPT_CACHE_ALL, "cache_all", 1,
             "1: every cacheable read of an attached client is cached; 0: only alchdb_client_exec_cached()"),
    DUR_OPT(ALCHDB_CACHE_OPT_WRITE_MARK_TTL, "write_mark_ttl", 100 * MS, DAY, 60 * SEC,
            "how long a write's mark in Redis outlives a process that died mid-write"),
    STR_OPT(ALCHDB_CACHE_OPT_REDIS_SENTINELS, "redis_sentinels", NULL, check_sentinels, 0,
            "Redis Sentinel host:port list (comma-separated, tried in turn); when set, the master comes from "
            "them and redis_host/redis_port are not used"),
    STR_OPT(ALCHDB_CACHE_OPT_REDIS_MASTER_NAME, "redis_master_name", "mymaster", check_name, 0,
            "the master's name as the sentinels know it"),
    STR_OPT(ALCHDB_CACHE_OPT_REDIS_SENTINEL_PASSWORD, "redis_sentinel_password", NULL, check_password,
            ALCHDB__OPT_SECRET, "AUTH password of the sentinels (never logged or shown)"),
};

const alchdb__optspec alchdb__cache_optspec = {"cache", DEFS, sizeof DEFS / sizeof DEFS[0]};

ALCHDB__CONFIG_API(cache, alchdb_cache_config, opts, &alchdb__cache_optspec)
