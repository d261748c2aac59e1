/**
 * @file pq.h
 * @brief libpq adapter: the one public header that may mention PGconn/PGresult.
 *
 * Hosts that keep their own libpq calls acquire a connection from an
 * ::alchdb_pool (see <alchdb/pool.h>), borrow its PGconn, and release it:
 *
 * @code
 * alchdb_conn *c;
 * if (alchdb_pool_acquire(pool, -1, "report-job", &c) == 0) {
 *     PGresult *r = PQexec(alchdb_conn_pgconn(c), "SELECT 1");
 *     PQclear(r);
 *     alchdb_pool_release(pool, c);
 * }
 * @endcode
 *
 * Rules for the borrowed PGconn: do not PQfinish() it, do not keep it after
 * release. alchdb_conn_pgconn() hands it out in blocking mode. Release rolls
 * back an open transaction; a query still in flight is canceled on the server
 * and the connection closed; session state you change (SET, LISTEN,
 * temporary tables) stays unless the pool's reset policy is DISCARD ALL. Call
 * alchdb_conn_mark_broken() when you know the session is unusable.
 *
 * The pool installs its own notice receiver on every connection (notices go
 * to the log sink at debug level; libpq never prints).
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_PQ_H
#define ALCHDB_PQ_H

#include <libpq-fe.h>

#include <alchdb/common.h>
#include <alchdb/pool.h>
#include <alchdb/client.h>

ALCHDB_BEGIN_DECLS

/**
 * The libpq connection of an acquired connection.
 * @param conn an acquired connection.
 * @return borrowed until alchdb_pool_release(); NULL (error set:
 *         ALCHDB_E_INVALID or ALCHDB_E_STATE) when @p conn is not acquired.
 * **Ownership:** borrowed: never PQfinish() it.
 * **Thread safety:** the holder's thread.
 * @since 0.1.0
 */
ALCHDB_API PGconn *alchdb_conn_pgconn(alchdb_conn *conn);

/**
 * The libpq result behind an ::alchdb_result.
 * @param result a result.
 * @return borrowed until alchdb_result_free(); NULL when @p result is NULL or
 *         carries no server result (e.g. out of memory while receiving it).
 * **Ownership:** borrowed: never PQclear() it.
 * **Thread safety:** results are immutable: any thread.
 * @since 0.1.0
 */
ALCHDB_API const PGresult *alchdb_result_pgresult(const alchdb_result *result);

struct alchdb_advisor_config; /* <alchdb/advisor.h> */
struct alchdb_advisor_report;

/**
 * Run the index advisor (<alchdb/advisor.h>) on a connection the host already
 * has, e.g. one borrowed from a pool with alchdb_conn_pgconn(). The
 * connection must be idle (no open transaction); the advisor leaves it as it
 * found it.
 * @param conn the connection (borrowed for the call).
 * @param cfg  the config (its conninfo is ignored), or NULL for the defaults and no workload.
 * @param out  receives the report (owned: alchdb_advisor_report_free()).
 * @return as alchdb_advisor_analyze().
 * **Thread safety:** the connection's thread.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_advisor_analyze_pgconn(PGconn *conn, const struct alchdb_advisor_config *cfg,
                                             struct alchdb_advisor_report **out);

ALCHDB_END_DECLS

#endif /* ALCHDB_PQ_H */
