/* libpq connections as every module opens them (pqconn.c), and the one
 * redaction for anything that may echo a conninfo or a server message
 * (redact.c). Internal: the only private header that includes libpq-fe.h for
 * all modules. Never exported. */
#ifndef ALCHDB_PQCONN_H
#define ALCHDB_PQCONN_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "internal.h"

/* ---- redaction -------------------------------------------------------------
 * Copy `text` into `out` (capacity `cap` > 0, always NUL-terminated, truncated
 * if needed) with every secret a conninfo or a libpq/server message can carry
 * replaced by "***":
 *   - the value of every `password` keyword, in any case, also with its letters
 *     percent-encoded (URI query), spaces around '=', quoted ('...' with
 *     backslash escapes) or not, wherever it stands (a keyword conninfo, a URI
 *     query, inside options='-c password=...');
 *   - the password of a URI's userinfo (scheme://user:SECRET@host...), also
 *     when the URI is malformed;
 *   - each of `secrets` (may be NULL; entries NULL or "" are ignored) verbatim,
 *     wherever it occurs (e.g. a password libpq parsed, echoed by the server).
 * Returns the length written (without the NUL). */
size_t alchdb__redact_into(char *out, size_t cap, const char *text, const char *const *secrets,
                           size_t nsecrets);
/* The same into an owned buffer (alchdb__free); NULL when out of memory. */
char *alchdb__redact(const char *text, const char *const *secrets, size_t nsecrets);

/* PQconninfoFree() after overwriting the password libpq parsed (NULL fine):
 * for every PQconninfoParse() result, so the password does not linger in
 * freed memory. */
void alchdb__pq_conninfo_free(PQconninfoOption *opts);

/* The password a conninfo would connect with (keyword or URI form), owned
 * (free with alchdb__free_wiped), or NULL when it names none or cannot be
 * parsed. For passing to the redaction as a verbatim secret. */
char *alchdb__conninfo_password(const char *conninfo);

/* Every secret a conninfo holds, as verbatim strings for the redaction: the
 * password libpq parses from it, and every span the patterns above find in
 * the raw text, as written, percent-decoded and backslash-unescaped (so a
 * conninfo that libpq cannot parse, and whose token libpq then quotes alone,
 * is covered too). Longest first. Returns false when the set is incomplete
 * (out of memory, or more than ALCHDB__MAX_CONNINFO_SECRETS): the caller must
 * then not show the text. Free with _free() in both cases (it wipes them). */
#define ALCHDB__MAX_CONNINFO_SECRETS 24
typedef struct alchdb__conninfo_secrets {
    char *v[ALCHDB__MAX_CONNINFO_SECRETS];
    size_t n;
} alchdb__conninfo_secrets;
bool alchdb__conninfo_secrets_init(alchdb__conninfo_secrets *cs, const char *conninfo);
void alchdb__conninfo_secrets_free(alchdb__conninfo_secrets *cs);

/* alchdb__redact_into() with the secrets of `conninfo` (may be NULL): for any
 * text that may echo that conninfo or a part of it (libpq's messages about
 * it, a display form of it). When the secrets cannot be collected (out of
 * memory), out receives a fixed "(text withheld: ...)" instead. */
size_t alchdb__redact_conninfo_into(char *out, size_t cap, const char *text, const char *conninfo);
/* The same into an owned buffer (alchdb__free), "(text withheld: ...)" too;
 * NULL only when out of memory. */
char *alchdb__redact_conninfo(const char *text, const char *conninfo);

/* ---- connecting ------------------------------------------------------------
 * Open a connection with the non-blocking libpq calls, bounded by the absolute
 * monotonic deadline `deadline_ns` (alchdb__now_ns() clock), and by the
 * conninfo's connect_timeout (else PGCONNECT_TIMEOUT) when that is sooner: the
 * non-blocking calls ignore it, so it bounds the whole attempt here (libpq's
 * blocking connect applies it per host). The conninfo may be
 * in keyword or URI form; it is expanded as libpq's dbname is, with
 * fallback_application_name=libalchdb and client_encoding=UTF8 unless the
 * conninfo sets its own. Every connection gets a notice receiver that sends
 * server notices and warnings to the log sink under `module` (redacted): the
 * library never lets libpq print to stderr. A caller that needs its own
 * receiver installs it afterwards with PQsetNoticeReceiver().
 *
 * On failure returns ALCHDB_E_CONNECT (or ALCHDB_E_NOMEM, ALCHDB_E_TIMEOUT when
 * the deadline passed), sets the thread's error to "<what>: <reason>" with the
 * reason redacted and on one line, copies the same reason into err (if err,
 * errlen > 0), and *out = NULL. */
int alchdb__pq_connect(const char *conninfo, int64_t deadline_ns, const char *module,
                       const char *what, PGconn **out, char *err, size_t errlen);

/* The notice receiver alchdb__pq_connect installs; `arg` is the module name
 * (a string with static storage). For connections made elsewhere. */
void alchdb__pq_notice_to_log(void *arg, const PGresult *res);

/* alchdb__pq_connect() for the modules without a connect timeout option of
 * their own (monitor plan capture, advisor, migration): at most
 * ALCHDB__PQ_CONNECT_TIMEOUT_MS, or the conninfo's connect_timeout when
 * shorter; a deadline that passes is reported as ALCHDB_E_CONNECT, which is
 * what those functions document. */
#define ALCHDB__PQ_CONNECT_TIMEOUT_MS 30000
int alchdb__pq_connect_default(const char *conninfo, const char *module, const char *what, PGconn **out);

/* A libpq message (PQerrorMessage, PQresultErrorMessage) on one line,
 * redacted, into out. */
void alchdb__pq_message(char *out, size_t cap, const char *msg);

/* The error of a failed query on one line, redacted (also of the connection's
 * own password, verbatim), into out: res's primary message when `primary`
 * (else its full message with DETAIL and HINT lines), else conn's message,
 * else a fixed text. res and conn may be NULL. */
void alchdb__pq_result_message(char *out, size_t cap, const PGconn *conn, const PGresult *res,
                               bool primary);

/* Record `code` as the thread's error: "<what>: <libpq message of conn>",
 * redacted, one line. Returns code. */
int alchdb__pq_error(int code, const PGconn *conn, const char *what);

#endif /* ALCHDB_PQCONN_H */
