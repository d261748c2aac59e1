/* The pool's options, declared once for the option engine (lib/core/opt.c):
 * the public alchdb_pool_config_* functions, the listing, the CLI's help and
 * the table in docs/pool.md all come from this table. */
#include <stdio.h>
#include <string.h>

#include "pool/pool_internal.h"

#define MS INT64_C(1000)
#define SEC INT64_C(1000000)
#define TEN_YEARS (INT64_C(10) * 366 * 24 * 3600 * SEC)

static const char *const RESET_POLICIES[] = {"rollback", "discard_all", NULL};

/* A pool's name shows in errors, logs and JSON: short and printable. */
static int check_name(const char *v, char *why, size_t cap)
{
    size_t n = strlen(v);
    if (n < 1 || n > 63) {
        snprintf(why, cap, "a pool name has 1..63 characters");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i] < 0x20 || v[i] >= 0x7f) {
            snprintf(why, cap, "a pool name has printable ASCII characters only");
            return -1;
        }
    }
    return 0;
}

#define INT_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_INT, lo, hi, def, NULL, NULL, NULL, 0, doc}
#define DUR_OPT(key, name, lo, hi, def, doc) {key, name, ALCHDB_OPT_DURATION, lo, hi, def, NULL, NULL, NULL, 0, doc}

static const alchdb__optdef DEFS[] = {
    INT_OPT(ALCHDB_POOL_OPT_MAX_OPEN, "max_open_conns", 1, 10000, 100,
            "connections open at most (in use + idle)"),
    INT_OPT(ALCHDB_POOL_OPT_MAX_IDLE, "max_idle_conns", 0, 10000, 25,
            "idle connections kept at most (at most max_open_conns)"),
    INT_OPT(ALCHDB_POOL_OPT_MIN_IDLE, "min_idle_conns", 0, 10000, 0,
            "idle connections the housekeeper keeps ready (at most max_idle_conns)"),
    DUR_OPT(ALCHDB_POOL_OPT_CONN_MAX_LIFETIME, "conn_max_lifetime", 0, TEN_YEARS, 30 * 60 * SEC,
            "a connection is closed this long after it was made (jittered +/-10 %); 0 = forever"),
    DUR_OPT(ALCHDB_POOL_OPT_CONN_MAX_IDLE_TIME, "conn_max_idle_time", 0, TEN_YEARS, 5 * 60 * SEC,
            "an idle connection is closed after this long unused; 0 = never"),
    DUR_OPT(ALCHDB_POOL_OPT_ACQUIRE_TIMEOUT, "acquire_timeout", 0, TEN_YEARS, 10 * SEC,
            "the longest wait for a connection when a call names none"),
    DUR_OPT(ALCHDB_POOL_OPT_CONNECT_TIMEOUT, "connect_timeout", MS, 3600 * SEC, 5 * SEC,
            "limit of one connection attempt"),
    DUR_OPT(ALCHDB_POOL_OPT_VALIDATION_INTERVAL, "validation_interval", 0, TEN_YEARS, 5 * SEC,
            "a connection idle longer than this gets a round trip before it is handed out; 0 = always"),
    DUR_OPT(ALCHDB_POOL_OPT_LEAK_THRESHOLD, "leak_threshold", 0, TEN_YEARS, 60 * SEC,
            "a connection held longer than this is logged with its acquire tag; 0 = off"),
    {ALCHDB_POOL_OPT_RESET_POLICY, "reset_policy", ALCHDB_OPT_ENUM, 0, 1, ALCHDB_POOL_RESET_ROLLBACK,
     NULL, RESET_POLICIES, NULL, 0,
     "what release does to a clean connection: rollback (no round trip) or discard_all"},
    INT_OPT(ALCHDB_POOL_OPT_MAX_WAITERS, "max_waiters", 0, 1000000, 10000,
            "callers allowed to wait at once (more fail with ALCHDB_E_BUSY); 0 = never wait"),
    DUR_OPT(ALCHDB_POOL_OPT_SLOW_QUERY_THRESHOLD, "slow_query_threshold", 0, TEN_YEARS, 50 * MS,
            "a client statement taking at least this long is logged as slow; 0 = off"),
    DUR_OPT(ALCHDB_POOL_OPT_HOUSEKEEPING_INTERVAL, "housekeeping_interval", MS, 3600 * SEC, SEC,
            "period of the housekeeping thread"),
    INT_OPT(ALCHDB_POOL_OPT_STMT_CACHE_SIZE, "statement_cache_size", 0, 100000, 256,
            "prepared statements kept per connection by the client (LRU); 0 = no preparing"),
    INT_OPT(ALCHDB_POOL_OPT_MAX_CONNECTING, "max_connecting", 1, 1000, 4,
            "connection attempts in flight at once"),
    {ALCHDB_POOL_OPT_NAME, "name", ALCHDB_OPT_STRING, 0, 0, 0, NULL, NULL, check_name, 0,
     "the pool's name in errors, logs and JSON (1..63 printable characters); default host:port/dbname"},
};

const alchdb__optspec alchdb__pool_optspec = {"pool", DEFS, sizeof DEFS / sizeof DEFS[0]};

ALCHDB__CONFIG_API(pool, alchdb_pool_config, opts, &alchdb__pool_optspec)
