/**
 * @file router.h
 * @brief Read/write splitting over a primary and streaming replicas: lag-aware,
 *        health-checked, with read-your-writes tokens and failover of reads.
 *
 * A router owns one alchdb_pool per host (the primary it is created with,
 * then the replicas added). What each host does follows what it is, as its
 * prober thread finds every probe interval: writes go to the host that is
 * not in recovery, accepts writes and is on the newest timeline (so they
 * follow a failover); reads go to any standby whose data is recent enough,
 * whatever it was configured as. For each statement the router decides where
 * it runs, in this order: the host's explicit intent (write / primary-only /
 * read) → the shared SQL analysis (only read-only, non-locking statements
 * without side effects may go to a standby) → the primary when unsure. Every
 * decision carries a reason code, counted in the metrics. Standbys past the
 * lag threshold, or whose circuit breaker is open, get no reads until they
 * are back under it by a hysteresis margin; while no primary answers they
 * serve reads up to max_staleness and writes fail fast. When no standby can
 * take a read, the primary does (logged and counted; optionally capped).
 *
 * Read-your-writes: after a write, alchdb_router_conn_token() (on the
 * write's connection) or alchdb_router_token() returns an opaque token: the
 * cluster's system identifier, the timeline and the WAL position. A read
 * that passes the token runs only on a standby of the current timeline that
 * has replayed up to it — checked on the standby actually chosen — else waits
 * a bounded time, else runs on the primary. A token whose write a failover
 * lost (or whose timeline cannot be checked) is never satisfied: the primary
 * serves the read with the reason ALCHDB_ROUTE_TOKEN_TIMELINE. A malformed
 * token is rejected; a token from another cluster sends the read to the
 * primary.
 *
 * Hosts that run their own libpq calls use alchdb_router_acquire() /
 * alchdb_router_release() (and <alchdb/pq.h> to reach the PGconn); hosts that
 * use the client facade attach the router to the client.
 *
 * **Thread safety:** a router is thread-safe; a config object is used by one
 * thread at a time.
 * @since 0.1.0
 */
#ifndef ALCHDB_ROUTER_H
#define ALCHDB_ROUTER_H

#include <alchdb/common.h>
#include <alchdb/pool.h>

ALCHDB_BEGIN_DECLS

/** The router (opaque). @since 0.1.0 */
typedef struct alchdb_router alchdb_router;
/** Router options (opaque). @since 0.1.0 */
typedef struct alchdb_router_config alchdb_router_config;

/** Balancing policies for reads over healthy replicas. @since 0.1.0 */
typedef enum alchdb_router_policy {
    ALCHDB_ROUTER_ROUND_ROBIN = 0,       /**< each standby in turn (the default) */
    ALCHDB_ROUTER_RANDOM = 1,            /**< a standby at random */
    ALCHDB_ROUTER_LEAST_OUTSTANDING = 2, /**< fewest connections in use */
    ALCHDB_ROUTER_WEIGHTED = 3           /**< random, proportional to each replica's weight */
} alchdb_router_policy;

/** What the host says about a statement. @since 0.1.0 */
typedef enum alchdb_router_intent {
    ALCHDB_INTENT_AUTO = 0,    /**< decide from the SQL analysis */
    ALCHDB_INTENT_READ = 1,    /**< the host vouches it only reads: a replica may serve it */
    ALCHDB_INTENT_WRITE = 2,   /**< primary */
    ALCHDB_INTENT_PRIMARY = 3  /**< primary, even for reads (e.g. must see the very latest) */
} alchdb_router_intent;

/** Why a statement went where it went. Counted per reason in the metrics. @since 0.1.0 */
typedef enum alchdb_route_reason {
    ALCHDB_ROUTE_INTENT_WRITE = 1,       /**< primary: intent write */
    ALCHDB_ROUTE_INTENT_PRIMARY = 2,     /**< primary: intent primary-only */
    ALCHDB_ROUTE_INTENT_READ = 3,        /**< replica: intent read */
    ALCHDB_ROUTE_READ_ONLY = 4,          /**< replica: the analysis found a read-only statement */
    ALCHDB_ROUTE_WRITES = 5,             /**< primary: the statement writes, is DDL, SET, transaction control, … */
    ALCHDB_ROUTE_LOCKING = 6,            /**< primary: FOR UPDATE/SHARE or LOCK */
    ALCHDB_ROUTE_SIDE_EFFECTS = 7,       /**< primary: calls a function with side effects (nextval, advisory locks, …) */
    ALCHDB_ROUTE_UNSURE = 8,             /**< primary: the SQL did not parse or is empty */
    ALCHDB_ROUTE_NO_HEALTHY_REPLICA = 9, /**< primary: a read, but no replica is healthy (fallback) */
    ALCHDB_ROUTE_CAUSAL_PRIMARY = 10,    /**< primary: no replica reached the token in time */
    ALCHDB_ROUTE_FOREIGN_TOKEN = 11,     /**< primary: the token is from another cluster */
    ALCHDB_ROUTE_CAUSAL_REPLICA = 12,    /**< replica: read with a token, replica verified past it */
    ALCHDB_ROUTE_RETRY = 13,             /**< a read retried after its replica failed */
    ALCHDB_ROUTE_NO_REPLICAS = 14,       /**< primary: the router has no replicas */
    ALCHDB_ROUTE_TOKEN_TIMELINE = 15     /**< primary: the token's write is not on the current timeline as far as
                                              the router can verify (lost or unverifiable after a failover); the
                                              read is NOT causally consistent with it. */
} alchdb_route_reason;

/**
 * Router options, the keys of the alchdb_router_config_* functions. Values
 * are part of the ABI. Names, types, units, ranges, defaults and docs come
 * from the option table the library uses: alchdb_options_info("router", ...),
 * `alchdb options router`, or the table in docs/router.md. Durations are
 * microseconds, sizes bytes.
 * @since 0.1.0
 */
typedef enum alchdb_router_opt {
    ALCHDB_ROUTER_OPT_POLICY = 1,             /**< alchdb_router_policy (default round robin) */
    ALCHDB_ROUTER_OPT_PROBE_INTERVAL = 2,     /**< health probe period (default 1 s) */
    ALCHDB_ROUTER_OPT_MAX_LAG_BYTES = 3,      /**< replay lag above which a replica gets no reads (default 16 MiB) */
    ALCHDB_ROUTER_OPT_MAX_LAG_TIME = 4,       /**< replay lag in time, same (default 5 s) */
    ALCHDB_ROUTER_OPT_LAG_HYSTERESIS_PCT = 5, /**< re-admitted only below this % of the thresholds (default 50) */
    ALCHDB_ROUTER_OPT_CAUSAL_WAIT = 6,        /**< how long a read with a token may wait for a replica (default 20 ms) */
    ALCHDB_ROUTER_OPT_BREAKER_FAILURES = 7,   /**< consecutive failures that open a host's breaker (default 3) */
    ALCHDB_ROUTER_OPT_BREAKER_OPEN_TIME = 8,  /**< first open period; doubles while failing (default 1 s) */
    ALCHDB_ROUTER_OPT_BREAKER_MAX_OPEN_TIME = 9, /**< cap of the open period (default 30 s) */
    ALCHDB_ROUTER_OPT_FALLBACK_MAX_PER_SEC = 10, /**< reads per second the primary takes for failed-over replicas; beyond: ALCHDB_E_BUSY (default 0 = no cap, still logged and counted) */
    ALCHDB_ROUTER_OPT_CAUSAL_DEFAULT = 11,    /**< 1: every read is causal (uses the router's last token) (default 0) */
    ALCHDB_ROUTER_OPT_ACQUIRE_TIMEOUT = 12,   /**< default acquire timeout when a call passes -1 (default 5 s) */
    ALCHDB_ROUTER_OPT_MAX_STALENESS = 13,     /**< while no primary answers, how old a standby's data may be and still
                                                   serve reads, measured from the last time the router saw it in step
                                                   with a primary or receiving WAL (default 60 s; 0 = no limit)
                                                   */
    ALCHDB_ROUTER_OPT_PROBE_TIMEOUT = 14      /**< deadline of one health probe, connect included (default 2 s)
                                                   */
} alchdb_router_opt;

/**
 * Create a router config with every option at its default.
 * @param out receives the config (owned: alchdb_router_config_free()).
 * @return 0, ALCHDB_E_INVALID (NULL out), ALCHDB_E_NOMEM.
 * **Thread safety:** a config is used by one thread at a time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_config_new(alchdb_router_config **out);

/**
 * Free a router config.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_router_config_free(alchdb_router_config *cfg);

/**
 * Set a numeric option: an integer, a duration in microseconds, a size in
 * bytes, a boolean (0/1) or an enum's value (::alchdb_router_policy).
 * @param cfg   the config.
 * @param opt   an ::alchdb_router_opt.
 * @param value the value, within the option's range (alchdb_options_info()).
 * @return 0, ALCHDB_E_NOTFOUND (unknown option), ALCHDB_E_INVALID (NULL cfg,
 *         out of range: the message names the option and its range).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_config_set_int64(alchdb_router_config *cfg, int opt, int64_t value);

/**
 * Read a numeric option.
 * @param cfg the config.
 * @param opt an ::alchdb_router_opt.
 * @param out receives the value.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID (NULL argument).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_config_get_int64(const alchdb_router_config *cfg, int opt, int64_t *out);

/**
 * Set an enum option by its choice's name ("policy": "round_robin",
 * "random", "least_outstanding", "weighted"); NULL restores the default.
 * The router has no free-text options.
 * @param cfg   the config.
 * @param opt   an ::alchdb_router_opt.
 * @param value the choice name (copied), or NULL.
 * @return 0, ALCHDB_E_NOTFOUND, ALCHDB_E_INVALID (not an enum option, no such choice).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_config_set_string(alchdb_router_config *cfg, int opt, const char *value);

/**
 * Read an enum option's choice name.
 * @param cfg the config.
 * @param opt an ::alchdb_router_opt.
 * @param out receives the name.
 * @return 0, ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID.
 * **Ownership:** *out is borrowed (static).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_config_get_string(const alchdb_router_config *cfg, int opt,
                                               const char **out);

/**
 * Set an option by name from text, with the rules of <alchdb/options.h>
 * (names case-insensitive, durations with a unit: "250ms", "1s", "1m";
 * sizes with an optional binary suffix: "16MiB"; booleans; enums by name).
 * @param cfg   the config.
 * @param name  the option's name (`alchdb options router` lists them).
 * @param value the text.
 * @return 0, ALCHDB_E_NOTFOUND (unknown name), ALCHDB_E_INVALID (bad text,
 *         out of range: the message names the option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_config_set_from_string(alchdb_router_config *cfg, const char *name,
                                                    const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME (NAME the
 * upper-cased option name: APP_ROUTER_MAX_LAG_TIME). Absent or empty
 * variables leave the option unchanged.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** one thread at a time per config; reads the environment.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_config_from_env(alchdb_router_config *cfg, const char *prefix);

/**
 * Create a router for a primary.
 * @param primary_conninfo libpq conninfo of the primary (copied).
 * @param pool_cfg         pool options used for every host's pool (copied), or NULL.
 * @param cfg              router options (copied), or NULL for defaults.
 * @param out              receives the router (owned: alchdb_router_free()).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_new(const char *primary_conninfo, const alchdb_pool_config *pool_cfg,
                                 const alchdb_router_config *cfg, alchdb_router **out);

/**
 * Add a replica before alchdb_router_start().
 * @param r        the router.
 * @param conninfo libpq conninfo of the replica (copied).
 * @param weight   1..1000 (used by the weighted policy).
 * @return 0, ALCHDB_E_INVALID (bad conninfo, weight, the same host:port/db twice,
 *         or the primary's), ALCHDB_E_STATE (already started), ALCHDB_E_NOMEM.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_add_replica(alchdb_router *r, const char *conninfo, int64_t weight);

/**
 * Start the router: start one prober thread per host and wait (bounded by
 * the probe timeout) for each host's first probe; learn the cluster's system
 * identifier (the primary's, else the first host's that answers). A host
 * that cannot be reached yet is not an error (it is probed until it
 * answers), so a router started while the primary is down serves reads from
 * its standbys; no host answering at all is.
 * @param r the router.
 * @return 0, ALCHDB_E_CONNECT (no host answered), ALCHDB_E_STATE (already
 *         started), ALCHDB_E_INTERNAL (thread creation).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_start(alchdb_router *r);

/**
 * Stop the prober, close every pool and free the router (NULL allowed).
 * Connections still acquired must be released first.
 * @param r the router or NULL.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_router_free(alchdb_router *r);

/**
 * Route a statement and acquire a connection from the chosen host's pool.
 * @param r          the router.
 * @param intent     an alchdb_router_intent.
 * @param sql        the statement (analysed when intent is AUTO; may be NULL otherwise).
 * @param token      a consistency token from alchdb_router_token(), or NULL.
 * @param timeout_us acquire timeout (-1: the router's default).
 * @param tag        holder tag for the pool (copied), or NULL.
 * @param conn_out   receives the connection (give it back with alchdb_router_release()).
 * @param reason_out receives the alchdb_route_reason (may be NULL).
 * @return 0, ALCHDB_E_INVALID (bad arguments, malformed token), ALCHDB_E_TIMEOUT,
 *         ALCHDB_E_CONNECT (also: no server accepts writes now, or no standby
 *         is within max_staleness while no primary answers; the message lists
 *         every host's state), ALCHDB_E_BUSY (fallback cap reached),
 *         ALCHDB_E_CLOSED.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_acquire(alchdb_router *r, int intent, const char *sql, const char *token,
                                     int64_t timeout_us, const char *tag, alchdb_conn **conn_out,
                                     int *reason_out);

/**
 * Give back a connection from alchdb_router_acquire(), reporting how its last
 * statement ended so the host's breaker and role detection learn from it.
 * @param r        the router.
 * @param conn     the connection.
 * @param sqlstate the SQLSTATE of the statement's error, or NULL for success.
 *                 Class 08 and 57P01..57P03 count as host failures (the
 *                 connection is discarded); 25006 from a host that is not a
 *                 standby discards the connection, stops writes to that host
 *                 and asks for one (rate-limited) early probe. Other errors
 *                 are answers of a healthy server.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_STATE.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_release(alchdb_router *r, alchdb_conn *conn, const char *sqlstate);

/**
 * True (1) when @p conn came from a host that is a standby now, 0 otherwise,
 * negative on error.
 * @param r    the router.
 * @param conn a connection acquired from @p r.
 * @return 1, 0 or ALCHDB_E_INVALID.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_conn_is_replica(const alchdb_router *r, const alchdb_conn *conn);

/**
 * A read-your-writes token: the primary's current WAL insert position, its
 * timeline and the cluster's system identifier, as an opaque string (one
 * round trip to the primary). Call it after a write has committed; when you
 * hold the write's connection, alchdb_router_conn_token() is exact across a
 * failover, this one is not (see there).
 * @param r   the router.
 * @param buf receives the NUL-terminated token.
 * @param cap the size of @p buf, at least 64.
 * The round trip is bounded by the router's probe_timeout.
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_RANGE (buffer too small),
 *         ALCHDB_E_CONNECT / ALCHDB_E_TIMEOUT / ALCHDB_E_QUERY (primary).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_token(alchdb_router *r, char *buf, size_t cap);

/**
 * A read-your-writes token read on the connection a write just ran on,
 * before it is released: the position of that server, with its timeline
 * (one round trip). Prefer it to alchdb_router_token(), which asks whichever
 * server is the primary when it is called: if the primary changed between
 * the write and that call, its token names the new primary's position and
 * cannot tell whether the write survived the failover; this one names the
 * write's own server, and the router recognises it if a failover lost it.
 * @param r    the router.
 * @param conn a connection from alchdb_router_acquire() that is still held,
 *             outside a transaction (after COMMIT), on a primary.
 * @param buf  receives the NUL-terminated token.
 * @param cap  the size of @p buf, at least 64.
 * @return 0, ALCHDB_E_INVALID (arguments, a connection of another router or
 *         not held), ALCHDB_E_STATE (inside a transaction, or the router has
 *         not learnt its cluster yet), ALCHDB_E_QUERY (the server could not
 *         say, e.g. it is a standby), ALCHDB_E_CONNECT (the connection broke;
 *         it is marked broken), ALCHDB_E_TIMEOUT (no answer within the
 *         router's probe_timeout; the connection is marked broken).
 * **Thread safety:** any thread (the connection's holder).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_conn_token(alchdb_router *r, alchdb_conn *conn, char *buf, size_t cap);

/**
 * Note a token learnt elsewhere (e.g. from a write made through the client) as
 * the router's latest, used by reads when causal_default is on.
 * @param r     the router.
 * @param token the token (copied).
 * @return 0 or ALCHDB_E_INVALID (malformed).
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_note_token(alchdb_router *r, const char *token);

/**
 * Run one health probe of every host now (the prober does this periodically).
 * @param r the router.
 * @return 0 or ALCHDB_E_INVALID.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_probe_now(alchdb_router *r);

/**
 * Name of a route reason.
 * @param reason an ::alchdb_route_reason value.
 * @return a static string ("intent_write", "read_only", …); "unknown" when out of range.
 * @since 0.1.0
 */
ALCHDB_API const char *alchdb_route_reason_name(int reason);

/**
 * Metrics and state as JSON: the writer, the cluster's system identifier and
 * timeline; per host (configured role, state, writer, health, in_recovery,
 * read_only, timeline, lag bytes and seconds, breaker state, reads/writes
 * routed, errors and connect failures, probes); fallbacks, retries, refusals,
 * token verdicts, decisions by reason (docs/router.md lists every field).
 * @param r   the router.
 * @param out receives an owned string (alchdb_free()).
 * @return 0, ALCHDB_E_INVALID, ALCHDB_E_NOMEM.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_to_json(alchdb_router *r, char **out);

/**
 * Number of hosts (primary first, then replicas in the order added).
 * @param r the router.
 * @return the count (0 for NULL).
 * @since 0.1.0
 */
ALCHDB_API size_t alchdb_router_host_count(const alchdb_router *r);

/**
 * Whether host @p i currently takes reads (1), not (0), or a negative error:
 * a standby within its lag (or, while no primary answers, staleness) limit,
 * the host writes go to, or a read-only primary on the current timeline; never
 * a host whose probe fails or whose breaker is open.
 * @param r the router.
 * @param i the host's index, 0 .. alchdb_router_host_count() - 1.
 * @return 1, 0 or ALCHDB_E_INVALID.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_router_host_healthy(const alchdb_router *r, size_t i);

/**
 * The pool of a host.
 * @param r the router.
 * @param i the host's index.
 * @return the pool of host @p i (borrowed, valid until alchdb_router_free()), or NULL.
 * @since 0.1.0
 */
ALCHDB_API alchdb_pool *alchdb_router_host_pool(const alchdb_router *r, size_t i);

ALCHDB_END_DECLS

#endif /* ALCHDB_ROUTER_H */
