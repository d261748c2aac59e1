/* libpq connections as every module opens them, and the messages they echo,
 * redacted (redact.c). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqconn.h"

/* ---- messages -------------------------------------------------------------- */

/* On one line: trailing white space cut, line breaks and tabs made spaces. */
static void one_line(char *out)
{
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    for (char *q = out; *q; q++)
        if (*q == '\n' || *q == '\r' || *q == '\t')
            *q = ' ';
}

void alchdb__pq_message(char *out, size_t cap, const char *msg)
{
    if (!out || cap == 0)
        return;
    alchdb__redact_into(out, cap, msg ? msg : "", NULL, 0);
    one_line(out);
}

void alchdb__pq_result_message(char *out, size_t cap, const PGconn *conn, const PGresult *res,
                               bool primary)
{
    if (!out || cap == 0)
        return;
    const char *msg = NULL;
    if (res && primary)
        msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (res && (!msg || !*msg))
        msg = PQresultErrorMessage(res);
    if ((!msg || !*msg) && conn)
        msg = PQerrorMessage(conn);
    if (!msg || !*msg)
        msg = conn ? "no message from the server" : "no connection";
    /* The connection's own password too, in case a server repeats it. */
    const char *pw = conn ? PQpass(conn) : NULL;
    const char *secrets[1] = {pw};
    alchdb__redact_into(out, cap, msg, secrets, pw && *pw ? 1 : 0);
    one_line(out);
}

int alchdb__pq_error(int code, const PGconn *conn, const char *what)
{
    char msg[768];
    alchdb__pq_result_message(msg, sizeof msg, conn, NULL, false);
    return alchdb__error(code, "%s: %s", what ? what : "libpq", msg);
}

void alchdb__pq_notice_to_log(void *arg, const PGresult *res)
{
    const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
    int level = ALCHDB_LOG_INFO;
    if (sev && strcmp(sev, "WARNING") == 0)
        level = ALCHDB_LOG_WARN;
    else if (sev && strncmp(sev, "DEBUG", 5) == 0)
        level = ALCHDB_LOG_DEBUG;
    if (!alchdb__log_enabled(level))
        return;
    /* "server WARNING: <message> DETAIL: ... HINT: ...": the fields, since
     * PQresultErrorMessage() repeats the severity. */
    const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
    char raw[1024], msg[768];
    if (primary)
        snprintf(raw, sizeof raw, "%s%s%s%s%s", primary, detail ? " DETAIL: " : "", detail ? detail : "",
                 hint ? " HINT: " : "", hint ? hint : "");
    else
        snprintf(raw, sizeof raw, "%s", PQresultErrorMessage(res));
    alchdb__pq_message(msg, sizeof msg, raw);
    alchdb__log(level, arg ? (const char *)arg : "core", "server %s: %s", sev ? sev : "notice",
                msg);
}

/* ---- connecting ------------------------------------------------------------ */

static int connect_fail(PGconn *pg, const char *conninfo, int code, const char *what,
                        const char *reason, char *err, size_t errlen)
{
    char red[768], msg[768];
    /* The password as libpq parsed it and every span that looks like one in
     * the raw conninfo, verbatim (libpq may quote a malformed token alone),
     * then the patterns, then one line. */
    alchdb__redact_conninfo_into(red, sizeof red, reason, conninfo);
    alchdb__pq_message(msg, sizeof msg, red);
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    if (pg)
        PQfinish(pg);
    return alchdb__error(code, "%s: %s", what ? what : "connect", msg);
}

/* libpq's connect_timeout of the conninfo (else PGCONNECT_TIMEOUT) in
 * nanoseconds, 0 when none: what PQconnectdb() would wait at most per host.
 * Values of 1 mean 2 s, as in libpq. */
static int64_t conninfo_connect_timeout_ns(const char *conninfo)
{
    const char *v = NULL;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (err)
        PQfreemem(err);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "connect_timeout") == 0)
            v = o->val;
    if (!v || !*v)
        v = getenv("PGCONNECT_TIMEOUT");
    char *end = NULL;
    long long sec = v && *v ? strtoll(v, &end, 10) : 0;
    if (end && *end)
        sec = 0; /* libpq rejects it; the connect attempt reports that */
    alchdb__pq_conninfo_free(opts);
    if (sec <= 0)
        return 0;
    if (sec < 2)
        sec = 2;
    return sec > INT64_MAX / 1000000000 ? INT64_MAX : (int64_t)sec * 1000000000;
}

int alchdb__pq_connect(const char *conninfo, int64_t deadline_ns, const char *module,
                       const char *what, PGconn **out, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    ALCHDB_CHECK_ARG(conninfo != NULL, "conninfo", "must not be NULL");
    ALCHDB_CHECK_ARG(out != NULL, "out", "must not be NULL");
    int64_t ct = conninfo_connect_timeout_ns(conninfo), start = alchdb__now_ns();
    if (ct && ct < INT64_MAX - start && start + ct < deadline_ns)
        deadline_ns = start + ct;
    /* Entries before "dbname" are defaults the conninfo may override; the
     * expanded conninfo itself comes next. */
    static const char *const kw[] = {"client_encoding", "fallback_application_name", "dbname",
                                     NULL};
    const char *vals[] = {"UTF8", "libalchdb", conninfo, NULL};
    PGconn *pg = PQconnectStartParams(kw, vals, 1);
    if (!pg)
        return connect_fail(NULL, conninfo, ALCHDB_E_NOMEM, what, "out of memory starting a connection",
                            err, errlen);
    PQsetNoticeReceiver(pg, alchdb__pq_notice_to_log, (void *)(module ? module : "core"));
    if (PQstatus(pg) == CONNECTION_BAD)
        return connect_fail(pg, conninfo, ALCHDB_E_CONNECT, what, PQerrorMessage(pg), err, errlen);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        if (st == PGRES_POLLING_FAILED)
            return connect_fail(pg, conninfo, ALCHDB_E_CONNECT, what, PQerrorMessage(pg), err, errlen);
        int64_t left_ms = (deadline_ns - alchdb__now_ns() + 999999) / 1000000;
        if (left_ms <= 0)
            return connect_fail(pg, conninfo, ALCHDB_E_TIMEOUT, what,
                                "the deadline passed before the server answered", err, errlen);
        int fd = PQsocket(pg);
        if (fd < 0)
            return connect_fail(pg, conninfo, ALCHDB_E_CONNECT, what, PQerrorMessage(pg), err, errlen);
        struct pollfd pfd = {.fd = fd, .events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT};
        int n = poll(&pfd, 1, left_ms > 60000 ? 60000 : (int)left_ms);
        if (n < 0 && errno != EINTR) {
            char why[128];
            snprintf(why, sizeof why, "poll() failed while connecting: %s", strerror(errno));
            return connect_fail(pg, conninfo, ALCHDB_E_CONNECT, what, why, err, errlen);
        }
        if (n > 0)
            st = PQconnectPoll(pg);
    }
    *out = pg;
    return 0;
}

int alchdb__pq_connect_default(const char *conninfo, const char *module, const char *what, PGconn **out)
{
    int64_t deadline = alchdb__now_ns() + (int64_t)ALCHDB__PQ_CONNECT_TIMEOUT_MS * 1000000;
    int rc = alchdb__pq_connect(conninfo, deadline, module, what, out, NULL, 0);
    if (rc == ALCHDB_E_TIMEOUT) {
        /* these callers document a connect failure, not a timeout */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", alchdb_last_error_message());
        rc = alchdb__error(ALCHDB_E_CONNECT, "%s", msg);
    }
    return rc;
}
