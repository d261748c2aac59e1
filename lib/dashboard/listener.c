/* The built-in HTTP listener: libmicrohttpd in front of
 * alchdb_dashboard_handle(), with a bearer token for every POST and limits
 * on body size, connections and time. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dashboard/dash.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define MAX_TOKEN 4096

struct alchdb_dashboard_listener {
    struct MHD_Daemon *mhd;
    alchdb_dashboard *d;
    char *token; /* NULL: every POST is refused */
    size_t token_len;
    int64_t max_body;
    int port;
};

typedef struct conn_state {
    alchdb__strbuf body;
    bool too_large;
} conn_state;

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    if (!alchdb__log_enabled(ALCHDB_LOG_WARN))
        return;
    char buf[512];
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(buf, sizeof buf, fmt, ap);
#pragma GCC diagnostic pop
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    alchdb__log(ALCHDB_LOG_WARN, "dashboard", "http: %s", buf);
}

/* Equal when the header is exactly "Bearer <token>"; the time depends on the
 * token's length only, never on where the first difference is. */
static bool token_ok(const alchdb_dashboard_listener *l, const char *auth)
{
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    const char *given = auth + 7;
    size_t n = strnlen(given, MAX_TOKEN + 1);
    unsigned char diff = n != l->token_len;
    for (size_t i = 0; i < l->token_len; i++)
        diff |= (unsigned char)(l->token[i] ^ (i < n ? given[i] : 0));
    return diff == 0;
}

static enum MHD_Result send_answer(struct MHD_Connection *c, int status, const char *type,
                                   const char *body, size_t len, const char *url)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (strstr(url, "/dashboard/export"))
        MHD_add_response_header(resp, "Content-Disposition",
                                "attachment; filename=\"alchdb-dashboard.json\"");
    if (status == 401)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result r = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *code,
                                  const char *msg, const char *url)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "{\"status\":\"error\",\"error\":{\"code\":\"%s\",\"message\":", code);
    alchdb__sb_json_str(&sb, msg);
    alchdb__sb_puts(&sb, "}}");
    if (sb.failed) {
        alchdb__sb_reset(&sb);
        return MHD_NO;
    }
    enum MHD_Result r = send_answer(c, status, JSON_TYPE, sb.data, sb.len, url);
    alchdb__sb_reset(&sb);
    return r;
}

/* The query string again, from libmicrohttpd's parsed arguments. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    (void)kind;
    alchdb__strbuf *sb = cls;
    if (sb->failed || !sb->data)
        return MHD_NO;
    alchdb__sb_puts(sb, strchr(sb->data, '?') ? "&" : "?");
    alchdb__sb_puts(sb, key);
    if (value) {
        alchdb__sb_puts(sb, "=");
        alchdb__sb_puts(sb, value);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    alchdb_dashboard_listener *l = cls;
    conn_state *st = *con_cls;
    if (!st) {
        st = alchdb__calloc(1, sizeof *st);
        if (!st)
            return MHD_NO;
        alchdb__sb_init(&st->body);
        *con_cls = st;
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoll(cl, NULL, 10) > l->max_body)
            st->too_large = true;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large && (int64_t)(st->body.len + *upload_size) > l->max_body)
            st->too_large = true;
        if (!st->too_large)
            alchdb__sb_append(&st->body, upload_data, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->too_large)
        return send_error(c, 413, "payload_too_large",
                          "the request body is larger than max_body_size", url);
    if (st->body.failed)
        return send_error(c, 500, "internal", "out of memory reading the body", url);
    if (!strcmp(method, "POST")) {
        if (!l->token)
            return send_error(c, 403, "forbidden",
                              "POST routes need a token: start the listener with a token file", url);
        if (!token_ok(l, MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization")))
            return send_error(c, 401, "unauthorized", "a valid bearer token is required", url);
    }
    alchdb__strbuf target;
    alchdb__sb_init(&target);
    alchdb__sb_puts(&target, url);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &target);
    if (target.failed) {
        alchdb__sb_reset(&target);
        return send_error(c, 500, "internal", "out of memory", url);
    }
    int status = 500;
    const char *type = JSON_TYPE;
    char *out = NULL;
    size_t out_len = 0;
    int rc = alchdb_dashboard_handle(l->d, method, target.data, st->body.data, st->body.len,
                                     &status, &type, &out, &out_len);
    alchdb__sb_reset(&target);
    enum MHD_Result r = rc == 0 ? send_answer(c, status, type, out, out_len, url)
                                : send_error(c, 500, "internal", alchdb_last_error_message(), url);
    alchdb_free(out);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    (void)cls;
    (void)c;
    (void)why;
    conn_state *st = *con_cls;
    if (st) {
        alchdb__sb_reset(&st->body);
        alchdb__free(st);
        *con_cls = NULL;
    }
}

static int read_token(const char *path, alchdb_dashboard_listener *l)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return alchdb__error(ALCHDB_E_INVALID, "alchdb_dashboard_listen: token_file %s: %s", path,
                             strerror(errno));
    char buf[MAX_TOKEN + 2];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = '\0';
    if (n < 16 || n > MAX_TOKEN) {
        explicit_bzero(buf, sizeof buf); /* whatever the file held: not left on the stack */
        return alchdb__error(ALCHDB_E_INVALID,
                             "alchdb_dashboard_listen: token_file %s: the first line must hold a "
                             "token of 16 to %d characters",
                             path, MAX_TOKEN);
    }
    l->token = alchdb__strdup(buf);
    explicit_bzero(buf, sizeof buf); /* a memset of a dead buffer may be dropped by the compiler */
    if (!l->token)
        return alchdb__nomem("dashboard token");
    l->token_len = n;
    return 0;
}

static int parse_address(const char *address, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(address, ':');
    char host[64];
    if (!colon || (size_t)(colon - address) >= sizeof host)
        return -1;
    memcpy(host, address, (size_t)(colon - address));
    host[colon - address] = '\0';
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || port < 0 || port > 65535)
        return -1;
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return -1;
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

ALCHDB_API int alchdb_dashboard_listen(alchdb_dashboard *d, const char *address,
                                       const char *token_file, alchdb_dashboard_listener **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(d, "d", "must not be NULL");
    struct sockaddr_in sa;
    if (!address)
        address = "127.0.0.1:0";
    ALCHDB_CHECK_ARG(parse_address(address, &sa) == 0, "address",
                     "must be an IPv4 address and a port, e.g. 127.0.0.1:8080");
    alchdb_dashboard_listener *l = alchdb__calloc(1, sizeof *l);
    if (!l)
        return alchdb__nomem("dashboard listener");
    l->d = d;
    int rc = token_file ? read_token(token_file, l) : 0;
    if (rc != 0) {
        alchdb_dashboard_listener_stop(l);
        return rc;
    }
    pthread_mutex_lock(&d->mu);
    l->max_body = alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_MAX_BODY_SIZE);
    unsigned conns = (unsigned)alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_MAX_CONNECTIONS);
    unsigned timeout_s =
        (unsigned)(alchdb__opts_i(&d->opts, ALCHDB_DASHBOARD_OPT_REQUEST_TIMEOUT) / 1000000);
    pthread_mutex_unlock(&d->mu);
    l->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, l, MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, conns, MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, l,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    if (!l->mhd) {
        alchdb_dashboard_listener_stop(l);
        return alchdb__error(ALCHDB_E_IO, "alchdb_dashboard_listen: cannot listen on %s", address);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->mhd, MHD_DAEMON_INFO_BIND_PORT);
    l->port = info ? info->port : ntohs(sa.sin_port);
    alchdb__log(ALCHDB_LOG_INFO, "dashboard", "listening on port %d", l->port);
    *out = l;
    return 0;
}

ALCHDB_API int alchdb_dashboard_listener_port(const alchdb_dashboard_listener *l)
{
    ALCHDB_CHECK_ARG(l, "l", "must not be NULL");
    return l->port;
}

ALCHDB_API void alchdb_dashboard_listener_stop(alchdb_dashboard_listener *l)
{
    if (!l)
        return;
    if (l->mhd)
        MHD_stop_daemon(l->mhd);
    alchdb__free_wiped(l->token);
    alchdb__free(l);
}
