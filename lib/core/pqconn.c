/* libpq connections as every module opens them, and the redaction of secrets
 * from anything that may echo a conninfo or a server message. */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "pqconn.h"

/* ---- redaction ----------------------------------------------------------- */

typedef struct redact_out {
    char *buf;
    size_t cap; /* > 0 */
    size_t len;
} redact_out;

static void out_put(redact_out *o, const char *s, size_t n)
{
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Length of the word "password" at s, letters in any case and each possibly
 * percent-encoded (a URI query); 0 when there is none. */
static size_t match_password_word(const char *s)
{
    static const char word[] = "password";
    size_t j = 0;
    for (size_t k = 0; word[k]; k++) {
        int c = (unsigned char)s[j];
        if (c == '%' && hexval((unsigned char)s[j + 1]) >= 0 && hexval((unsigned char)s[j + 2]) >= 0) {
            c = hexval((unsigned char)s[j + 1]) * 16 + hexval((unsigned char)s[j + 2]);
            j += 3;
        } else if (c) {
            j++;
        } else {
            return 0;
        }
        if (tolower(c) != word[k])
            return 0;
    }
    return j;
}

/* After a "password" word at s: the value's span [*vs, *ve) (relative to s)
 * when an '=' follows (spaces allowed around it). A quoted value ends at its
 * unescaped closing quote, a bare one at white space, '&' or the end;
 * backslash escapes the next character in both. */
static bool keyword_value(const char *s, size_t wlen, size_t *vs, size_t *ve)
{
    size_t i = wlen;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (s[i] == '%' && s[i + 1] == '3' && (s[i + 2] == 'd' || s[i + 2] == 'D'))
        i += 3; /* a percent-encoded '=' */
    else if (s[i] == '=')
        i++;
    else
        return false;
    while (s[i] == ' ' || s[i] == '\t')
        i++;
    if (s[i] == '\'') {
        size_t j = ++i;
        while (s[j] && s[j] != '\'') {
            if (s[j] == '\\' && s[j + 1])
                j++;
            j++;
        }
        *vs = i;
        *ve = j;
        return true;
    }
    size_t j = i;
    while (s[j] && !isspace((unsigned char)s[j]) && s[j] != '&') {
        if (s[j] == '\\' && s[j + 1])
            j++;
        j++;
    }
    *vs = i;
    *ve = j;
    return true;
}

/* A URI's userinfo password after the "://" at s: [*ps, *pe) relative to s.
 * The authority is not trusted to be well formed (libpq echoes malformed URIs
 * in its errors): the password runs from the first ':' after the scheme to the
 * LAST '@' of the line, which may hide a little more than the password but
 * never less. */
static bool uri_password(const char *s, size_t *ps, size_t *pe)
{
    size_t i = 3, colon = 0, at = 0;
    for (; s[i] && s[i] != '\n' && s[i] != '\r'; i++) {
        if (s[i] == ':' && !colon && !at)
            colon = i;
        else if (s[i] == '@')
            at = i;
    }
    if (!colon || !at || at < colon)
        return false;
    *ps = colon + 1;
    *pe = at;
    return true;
}

size_t alchdb__redact_into(char *out, size_t cap, const char *text, const char *const *secrets,
                           size_t nsecrets)
{
    if (!out || cap == 0)
        return 0;
    redact_out o = {out, cap, 0};
    if (!text)
        text = "";
    size_t i = 0;
    while (text[i] && o.len < cap - 1) {
        const char *s = text + i;
        size_t a, b;
        bool hit = false;
        for (size_t k = 0; k < nsecrets && !hit; k++) {
            const char *sec = secrets ? secrets[k] : NULL;
            size_t n = sec ? strlen(sec) : 0;
            if (n && strncmp(s, sec, n) == 0) {
                out_put(&o, "***", 3);
                i += n;
                hit = true;
            }
        }
        if (hit)
            continue;
        size_t w = match_password_word(s);
        if (w && keyword_value(s, w, &a, &b)) {
            out_put(&o, s, a);
            if (b > a)
                out_put(&o, "***", 3);
            i += b;
            continue;
        }
        if (s[0] == ':' && s[1] == '/' && s[2] == '/' && uri_password(s, &a, &b)) {
            out_put(&o, s, a);
            out_put(&o, "***", 3);
            i += b;
            continue;
        }
        out_put(&o, s, 1);
        i++;
    }
    out[o.len] = '\0';
    return o.len;
}

char *alchdb__redact(const char *text, const char *const *secrets, size_t nsecrets)
{
    if (!text)
        text = "";
    /* The result is never longer than the text plus "***" for what is
     * replaced by it; a replaced span of fewer than three bytes grows it. */
    size_t cap = strlen(text) * 2 + 4;
    char *buf = alchdb__malloc(cap);
    if (!buf)
        return NULL;
    alchdb__redact_into(buf, cap, text, secrets, nsecrets);
    return buf;
}

char *alchdb__conninfo_password(const char *conninfo)
{
    if (!conninfo)
        return NULL;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (err)
        PQfreemem(err);
    if (!opts)
        return NULL;
    char *pw = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
            pw = alchdb__strdup(o->val);
    PQconninfoFree(opts);
    return pw;
}

/* ---- messages -------------------------------------------------------------- */

void alchdb__pq_message(char *out, size_t cap, const char *msg)
{
    if (!out || cap == 0)
        return;
    alchdb__redact_into(out, cap, msg ? msg : "", NULL, 0);
    size_t n = strlen(out);
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    for (char *q = out; *q; q++)
        if (*q == '\n' || *q == '\r' || *q == '\t')
            *q = ' ';
}

int alchdb__pq_error(int code, const PGconn *conn, const char *what)
{
    char msg[768];
    alchdb__pq_message(msg, sizeof msg, conn ? PQerrorMessage(conn) : "no connection");
    return alchdb__error(code, "%s: %s", what ? what : "libpq", msg[0] ? msg : "unknown error");
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
    char msg[768];
    alchdb__pq_message(msg, sizeof msg, PQresultErrorMessage(res));
    alchdb__log(level, arg ? (const char *)arg : "core", "server %s: %s", sev ? sev : "notice",
                msg);
}

/* ---- connecting ------------------------------------------------------------ */

static int connect_fail(PGconn *pg, const char *conninfo, int code, const char *what,
                        const char *reason, char *err, size_t errlen)
{
    char red[768], msg[768];
    /* The password libpq would have sent, verbatim, in case a server or a
     * library message repeats it; then the patterns and one line. */
    char *pw = alchdb__conninfo_password(conninfo);
    const char *secrets[1] = {pw};
    alchdb__redact_into(red, sizeof red, reason, secrets, pw ? 1 : 0);
    alchdb__free(pw);
    alchdb__pq_message(msg, sizeof msg, red);
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
    if (pg)
        PQfinish(pg);
    return alchdb__error(code, "%s: %s", what ? what : "connect", msg);
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
