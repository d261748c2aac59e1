/**
 * @file dashboard.h
 * @brief Health score, grade, alerts, JSON snapshot, Prometheus text and an
 *        embeddable HTTP request handler over the modules a host attaches.
 *
 * A dashboard reads snapshots of whatever modules the host attaches (a pool,
 * a router, a cache, a monitor, an advisor report); each is optional and
 * borrowed. Every read (alchdb_dashboard_to_json(), _health_to_json(),
 * _metrics(), _handle()) first evaluates: it samples the attached modules,
 * scores health (100 minus explainable penalties), and steps the alert rules'
 * hysteresis. docs/dashboard.md lists every rule, threshold and route.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_DASHBOARD_H
#define ALCHDB_DASHBOARD_H

#include <alchdb/common.h>
#include <alchdb/advisor.h>
#include <alchdb/cache.h>
#include <alchdb/monitor.h>
#include <alchdb/perftest.h>
#include <alchdb/pool.h>
#include <alchdb/router.h>

ALCHDB_BEGIN_DECLS

/** A dashboard (opaque, thread-safe). @since 0.1.0 */
typedef struct alchdb_dashboard alchdb_dashboard;

/** Dashboard configuration (opaque; one thread at a time). @since 0.1.0 */
typedef struct alchdb_dashboard_config alchdb_dashboard_config;

/**
 * Dashboard options. Values are part of the ABI. The by-name names are given
 * in brackets (alchdb_dashboard_config_set_from_string(), and PREFIX_NAME for
 * alchdb_dashboard_config_from_env()).
 * @since 0.1.0
 */
typedef enum alchdb_dashboard_opt {
    /** [min_queries] executions the monitor must have seen in the health window before the failure and slow-query rules apply, 1..1000000000; default 100. */
    ALCHDB_DASHBOARD_OPT_MIN_QUERIES = 1,
    /** [min_cache_lookups] cache lookups before the hit-ratio rules apply, 1..1000000000; default 100. */
    ALCHDB_DASHBOARD_OPT_MIN_CACHE_LOOKUPS = 2,
    /** [health_window] the monitor's per-minute windows summed for the query rules, 1m..1h; default 5m. */
    ALCHDB_DASHBOARD_OPT_HEALTH_WINDOW = 3,
    /** [alert_for] a condition must hold this long before its alert fires, 0..24h; default 1m. */
    ALCHDB_DASHBOARD_OPT_ALERT_FOR = 4,
    /** [alert_clear_after] a firing alert clears after its condition stayed false this long, 0..24h; default 2m. */
    ALCHDB_DASHBOARD_OPT_ALERT_CLEAR_AFTER = 5,
    /** [max_replica_lag] a replica lagging more than this raises replica_lag_high, 1ms..24h; default 30s. */
    ALCHDB_DASHBOARD_OPT_MAX_REPLICA_LAG = 6,
    /** [max_pattern_series] top monitor patterns exported as Prometheus series (the cardinality cap), 0..1000; default 20. */
    ALCHDB_DASHBOARD_OPT_MAX_PATTERN_SERIES = 7,
    /** [max_body_size] request bodies above this get HTTP 413, 1KiB..16MiB; default 64KiB. */
    ALCHDB_DASHBOARD_OPT_MAX_BODY_SIZE = 8,
    /** [max_connections] connections the built-in listener serves at once (more are refused), 1..10000; default 64. */
    ALCHDB_DASHBOARD_OPT_MAX_CONNECTIONS = 9,
    /** [request_timeout] the built-in listener closes a connection idle (or trickling) this long, 1s..1h; default 10s. */
    ALCHDB_DASHBOARD_OPT_REQUEST_TIMEOUT = 10
} alchdb_dashboard_opt;

/**
 * Create a configuration holding the defaults.
 * @param out receives the owned config (free with alchdb_dashboard_config_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID (out NULL) or ALCHDB_E_NOMEM.
 * **Ownership:** *out is owned by the caller.
 * **Thread safety:** any thread; the config itself is one-thread-at-a-time.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_config_new(alchdb_dashboard_config **out);

/**
 * Free a configuration.
 * @param cfg config or NULL.
 * **Thread safety:** not concurrently with other calls on @p cfg.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_dashboard_config_free(alchdb_dashboard_config *cfg);

/**
 * Set an integer, duration (microseconds) or size (bytes) option.
 * @param cfg   the config.
 * @param opt   an ::alchdb_dashboard_opt value.
 * @param value the value; ranges are listed with each option.
 * @return 0, ALCHDB_E_INVALID (NULL cfg, out of range), ALCHDB_E_NOTFOUND (unknown option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_config_set_int64(alchdb_dashboard_config *cfg, int opt, int64_t value);

/**
 * Read an integer, duration or size option.
 * @param cfg the config.
 * @param opt an ::alchdb_dashboard_opt value.
 * @param out receives the value.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOTFOUND.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_config_get_int64(const alchdb_dashboard_config *cfg, int opt,
                                                 int64_t *out);

/**
 * Set a string option. The dashboard has none today; every key answers
 * ALCHDB_E_NOTFOUND or ALCHDB_E_INVALID (numeric option).
 * @param cfg   the config.
 * @param opt   an ::alchdb_dashboard_opt value.
 * @param value copied.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOTFOUND.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_config_set_string(alchdb_dashboard_config *cfg, int opt,
                                                  const char *value);

/**
 * Read a string option (see alchdb_dashboard_config_set_string()).
 * @param cfg the config.
 * @param opt an ::alchdb_dashboard_opt value.
 * @param out receives a borrowed string or NULL.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOTFOUND.
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_config_get_string(const alchdb_dashboard_config *cfg, int opt,
                                                  const char **out);

/**
 * Set an option by its bracketed name from text ("5m", "64KiB", "100").
 * @param cfg   the config.
 * @param name  option name (copied; case-insensitive).
 * @param value option text (copied).
 * @return 0, ALCHDB_E_NOTFOUND (unknown name), ALCHDB_E_INVALID (bad value; the message names the option).
 * **Thread safety:** one thread at a time per config.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_config_set_from_string(alchdb_dashboard_config *cfg,
                                                       const char *name, const char *value);

/**
 * Load every option present in the environment as PREFIX_NAME (NAME the
 * upper-cased bracketed name); absent or empty variables change nothing.
 * @param cfg    the config.
 * @param prefix variable prefix without the trailing underscore.
 * @return 0 or the error of the first bad variable (the message names it).
 * **Thread safety:** reads the environment with getenv().
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_config_from_env(alchdb_dashboard_config *cfg, const char *prefix);

/**
 * Create a dashboard with nothing attached.
 * @param cfg the configuration (copied), or NULL for the defaults.
 * @param out receives the dashboard (free with alchdb_dashboard_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_new(const alchdb_dashboard_config *cfg, alchdb_dashboard **out);

/**
 * Free a dashboard. The attached modules are borrowed and stay alive.
 * @param d dashboard or NULL.
 * **Thread safety:** not while another thread uses @p d.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_dashboard_free(alchdb_dashboard *d);

/**
 * Attach (or with NULL detach) a pool. Its utilisation feeds the connection
 * rules unless a router is attached, whose hosts' pools are read instead.
 * @param d    the dashboard.
 * @param pool borrowed until detached or the dashboard is freed.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_attach_pool(alchdb_dashboard *d, alchdb_pool *pool);

/**
 * Attach (or detach) a router: replica health and lag rules, per-host pools.
 * @param d the dashboard.
 * @param r borrowed until detached or the dashboard is freed.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_attach_router(alchdb_dashboard *d, alchdb_router *r);

/**
 * Attach (or detach) a cache: hit-ratio rules, cache routes (stats, clear, invalidate).
 * @param d     the dashboard.
 * @param cache borrowed until detached or the dashboard is freed.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_attach_cache(alchdb_dashboard *d, alchdb_cache *cache);

/**
 * Attach (or detach) a monitor: query rules, QPS, trends, query routes.
 * QPS over the uptime counts executions from the moment of attaching.
 * @param d   the dashboard.
 * @param mon borrowed until detached or the dashboard is freed.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_attach_monitor(alchdb_dashboard *d, alchdb_monitor *mon);

/**
 * Attach (or with a NULL report detach) an advisor report: the index health
 * penalty, the index alerts and the index routes. With @p opts, POST
 * indexes/optimize {"dry_run":false} applies the report's missing-index
 * suggestions through alchdb_advisor_apply(); without, it answers 404.
 * @param d      the dashboard.
 * @param opts   borrowed (the advisor's connection settings) or NULL.
 * @param report borrowed until replaced, detached or the dashboard is freed.
 * @return 0 or ALCHDB_E_INVALID.
 * **Thread safety:** any thread; the report must not be freed while attached.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_attach_advisor(alchdb_dashboard *d, const alchdb_advisor_config *opts,
                                               const alchdb_advisor_report *report);

/**
 * Attach (or with a NULL store detach) a perftest store: the test routes
 * (POST test/run starts a background run in @p st, GET test/results lists the
 * store, GET test/results/:id reads one run). The request body of test/run
 * can choose the tests, profile, duration, warm-up and worker scale; every
 * other option (data size, seed, schema, targets) comes from @p cfg.
 * @param d      the dashboard.
 * @param st     borrowed until detached or the dashboard is freed, or NULL.
 * @param target what runs go through, copied; its client, router and cache
 *               are borrowed until every run started through the dashboard
 *               has ended (alchdb_perftest_store_wait() or _free()).
 *               Required with @p st.
 * @param cfg    the base options of a run (copied), or NULL for the perftest's defaults.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_attach_perftest(alchdb_dashboard *d, alchdb_perftest_store *st,
                                                const alchdb_perftest_target *target,
                                                const alchdb_perftest_config *cfg);

/**
 * Clock of a dashboard: wall-clock microseconds since the Unix epoch. Must be
 * thread-safe and must not call back into the library.
 * @since 0.1.0
 */
typedef int64_t (*alchdb_dashboard_clock_fn)(void *user_data);

/**
 * Replace the dashboard's clock (hysteresis and QPS read it; for tests).
 * @param d         the dashboard.
 * @param fn        the clock, or NULL for the system wall clock.
 * @param user_data passed to @p fn (borrowed until replaced or the dashboard is freed).
 * @return 0 or ALCHDB_E_INVALID.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_set_clock(alchdb_dashboard *d, alchdb_dashboard_clock_fn fn,
                                          void *user_data);

/** Health status. @since 0.1.0 */
typedef enum alchdb_dashboard_status {
    ALCHDB_DASHBOARD_HEALTHY = 0,  /**< score >= 75 */
    ALCHDB_DASHBOARD_WARNING = 1,  /**< 50 <= score < 75 */
    ALCHDB_DASHBOARD_CRITICAL = 2  /**< score < 50 */
} alchdb_dashboard_status;

/**
 * Evaluate now and report the score and status.
 * @param d      the dashboard.
 * @param score  receives 0..100 (may be NULL).
 * @param status receives an ::alchdb_dashboard_status (may be NULL).
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_health(alchdb_dashboard *d, double *score, int *status);

/**
 * Evaluate now; the health as JSON: score, status, grade, penalties (metric,
 * value, threshold, points, reason, fix), alerts and recommendations.
 * @param d   the dashboard.
 * @param out receives the owned JSON text (alchdb_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_health_to_json(alchdb_dashboard *d, char **out);

/**
 * Evaluate now; the whole snapshot as JSON: health, QPS, connections, router
 * hosts, cache, queries (summary, trend from the monitor's windows, top
 * patterns), indexes, alerts and recommendations.
 * @param d   the dashboard.
 * @param out receives the owned JSON text (alchdb_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_to_json(alchdb_dashboard *d, char **out);

/**
 * Evaluate now; every metric in the Prometheus text exposition format 0.0.4.
 * @param d   the dashboard.
 * @param out receives the owned text (alchdb_free()); set to NULL first.
 * @return 0, ALCHDB_E_INVALID or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_metrics(alchdb_dashboard *d, char **out);

/**
 * Serve one HTTP request (for a host's own HTTP server). Routes and their
 * answers are listed in docs/dashboard.md; every answer but /metrics is JSON,
 * success as {"status":"success","data":...}, failure as
 * {"status":"error","error":{"code":...,"message":...}} with the matching
 * HTTP status (400, 404 for unknown routes and routes whose module is not
 * attached, 405, 413, 500). The handler does not authenticate: the host (or
 * the built-in listener) checks credentials for POST routes.
 * @param d              the dashboard.
 * @param method         "GET", "HEAD" or "POST" (others answer 405).
 * @param path_and_query the request target, e.g. "/api/v1/database/performance/queries/slow?limit=5".
 * @param body           the request body (may be NULL when @p len is 0).
 * @param len            bytes of @p body.
 * @param status         receives the HTTP status.
 * @param content_type   receives a static string.
 * @param out            receives the owned body (alchdb_free()); set to NULL first.
 * @param out_len        receives the body's length.
 * @return 0 when an answer was produced (whatever its HTTP status);
 *         ALCHDB_E_INVALID (a NULL argument) or ALCHDB_E_NOMEM.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_handle(alchdb_dashboard *d, const char *method,
                                       const char *path_and_query, const char *body, size_t len,
                                       int *status, const char **content_type, char **out,
                                       size_t *out_len);

/** The built-in HTTP listener (opaque). @since 0.1.0 */
typedef struct alchdb_dashboard_listener alchdb_dashboard_listener;

/**
 * Serve alchdb_dashboard_handle() over HTTP/1.1 on a built-in listener
 * (libmicrohttpd; builds without it answer ALCHDB_E_UNSUPPORTED). Every POST
 * needs `Authorization: Bearer <token>` (compared in constant time; 401
 * otherwise, 403 when no token file was given). Bodies above max_body_size
 * get 413, connections above max_connections are refused, and connections
 * idle or trickling for request_timeout are closed.
 * @param d          the dashboard (borrowed until the listener is stopped).
 * @param address    "IPv4:port", e.g. "127.0.0.1:8080"; port 0 picks a free
 *                   one; NULL means "127.0.0.1:0".
 * @param token_file a file whose first line is the token (read once, copied),
 *                   or NULL (then every POST answers 403).
 * @param out        receives the listener; set to NULL first.
 * @return 0, ALCHDB_E_INVALID (bad address, empty or unreadable token file),
 *         ALCHDB_E_IO (cannot bind), ALCHDB_E_UNSUPPORTED, ALCHDB_E_NOMEM.
 * **Thread safety:** any thread; requests are served by the listener's own threads.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_listen(alchdb_dashboard *d, const char *address,
                                       const char *token_file, alchdb_dashboard_listener **out);

/**
 * The port a listener is bound to (useful after port 0).
 * @param l the listener.
 * @return the port, or ALCHDB_E_INVALID for NULL.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_dashboard_listener_port(const alchdb_dashboard_listener *l);

/**
 * Stop a listener: waits for requests in flight, closes the socket, frees it.
 * @param l a listener or NULL.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_dashboard_listener_stop(alchdb_dashboard_listener *l);

ALCHDB_END_DECLS

#endif /* ALCHDB_DASHBOARD_H */
