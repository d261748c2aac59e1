/* Waiting on libpq with a deadline and a cancel handle: the one mechanism
 * behind every round trip the pool and the client make (validation, reset,
 * prepare, execute, transaction control, streaming). Non-blocking libpq plus
 * poll() on the connection's socket and the cancel handle's eventfd, so a
 * server that stops answering never holds a caller past its deadline. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "pool/pqwait.h"

int alchdb__deadline_check(const alchdb__deadline *d)
{
    if (d->cancel && alchdb__cancel_fired(d->cancel))
        return ALCHDB_E_CANCELED;
    if (d->at_ns && alchdb__now_ns() >= d->at_ns)
        return ALCHDB_E_TIMEOUT;
    return 0;
}

int alchdb__pq_wait_socket(PGconn *pg, bool want_write, const alchdb__deadline *d)
{
    int fd = PQsocket(pg);
    if (fd < 0)
        return 0; /* no socket: the next libpq call reports the lost connection */
    struct pollfd pfd[2] = {{.fd = fd, .events = (short)(POLLIN | (want_write ? POLLOUT : 0))},
                            {.fd = alchdb__cancel_fd(d->cancel), .events = POLLIN}};
    nfds_t n = pfd[1].fd >= 0 ? 2 : 1;
    for (;;) {
        int rc = alchdb__deadline_check(d);
        if (rc)
            return rc;
        int timeout_ms = -1;
        if (d->at_ns) {
            int64_t left_ns = d->at_ns - alchdb__now_ns();
            int64_t ms = (left_ns + 999999) / 1000000;
            timeout_ms = ms > 60000 ? 60000 : (int)ms;
        }
        int r = poll(pfd, n, timeout_ms);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ALCHDB_E_IO;
        }
        if (r > 0 && pfd[0].revents)
            return 0;
        /* timeout or the handle fired: the check at the top decides */
    }
}

int alchdb__pq_next(PGconn *pg, const alchdb__deadline *d, PGresult **out)
{
    *out = NULL;
    for (;;) {
        int f = PQflush(pg); /* 0 all sent, 1 more to send, -1 failed */
        if (f != 1 && !PQisBusy(pg)) {
            *out = PQgetResult(pg);
            return 0;
        }
        int rc = alchdb__pq_wait_socket(pg, f == 1, d);
        if (rc)
            return rc;
        /* A failed read marks the connection bad; PQisBusy() is then false
         * and PQgetResult() hands out the error. */
        (void)PQconsumeInput(pg);
    }
}

int alchdb__pq_last(PGconn *pg, const alchdb__deadline *d, PGresult **out)
{
    PGresult *last = NULL;
    for (;;) {
        PGresult *r;
        int rc = alchdb__pq_next(pg, d, &r);
        if (rc) {
            PQclear(last);
            *out = NULL;
            return rc;
        }
        if (!r)
            break;
        PQclear(last);
        last = r;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH ||
            PQstatus(pg) == CONNECTION_BAD)
            break; /* as PQexec: COPY is left to the caller (it discards the connection) */
    }
    *out = last;
    return 0;
}

int alchdb__pq_exec(PGconn *pg, const char *sql, const alchdb__deadline *d, PGresult **out)
{
    *out = NULL;
    int rc = alchdb__deadline_check(d);
    if (rc)
        return rc;
    PQsetnonblocking(pg, 1);
    if (!PQsendQuery(pg, sql))
        return 0; /* not sent (connection bad): no result, PQerrorMessage says why */
    return alchdb__pq_last(pg, d, out);
}

int alchdb__deadline_error(int code, const char *what, const alchdb__deadline *d, int64_t start_ns)
{
    (void)d;
    switch (code) {
    case ALCHDB_E_TIMEOUT:
        return alchdb__error(code, "%s: timed out after %lld ms", what,
                             (long long)((alchdb__now_ns() - start_ns) / 1000000));
    case ALCHDB_E_CANCELED:
        return alchdb__error(code, "%s: canceled by its cancel handle", what);
    default:
        return alchdb__error(code, "%s: poll() failed: %s", what, strerror(errno));
    }
}
