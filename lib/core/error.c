#include <stdio.h>
#include <string.h>

#include "internal.h"

/* The detail lives in fixed thread-local storage so that reporting an error
 * never allocates (it must work when the allocator has just failed). */
static _Thread_local int tl_code;
static _Thread_local char tl_message[1024];
static _Thread_local char tl_sqlstate[6]; /* "" unless the failure came from a server */

ALCHDB_API const char *alchdb_strerror(int code)
{
    switch (code) {
    case ALCHDB_OK: return "success";
    case ALCHDB_E_INVALID: return "invalid argument";
    case ALCHDB_E_NOMEM: return "out of memory";
    case ALCHDB_E_PARSE: return "parse error";
    case ALCHDB_E_IO: return "input/output error";
    case ALCHDB_E_TIMEOUT: return "timed out";
    case ALCHDB_E_CONNECT: return "connection failed";
    case ALCHDB_E_QUERY: return "query failed";
    case ALCHDB_E_STATE: return "operation not allowed in this state";
    case ALCHDB_E_NOTFOUND: return "not found";
    case ALCHDB_E_UNSUPPORTED: return "not supported";
    case ALCHDB_E_CLOSED: return "object closed";
    case ALCHDB_E_BUSY: return "limit reached";
    case ALCHDB_E_BACKEND: return "backend error";
    case ALCHDB_E_RANGE: return "value out of range";
    case ALCHDB_E_INTERNAL: return "internal error";
    case ALCHDB_E_CANCELED: return "canceled";
    default: return "unknown error";
    }
}

ALCHDB_API int alchdb_last_error_code(void) { return tl_code; }

ALCHDB_API const char *alchdb_last_error_message(void) { return tl_message; }

ALCHDB_API const char *alchdb_last_error_sqlstate(void) { return tl_sqlstate; }

void alchdb__set_error_sqlstate(const char *sqlstate)
{
    size_t n = sqlstate ? strlen(sqlstate) : 0;
    if (n == 5) {
        memcpy(tl_sqlstate, sqlstate, 6);
    } else {
        tl_sqlstate[0] = '\0';
    }
}

ALCHDB_API void alchdb_clear_error(void)
{
    tl_code = 0;
    tl_message[0] = '\0';
    tl_sqlstate[0] = '\0';
}

void alchdb__error_save(alchdb__error_state *s)
{
    s->code = tl_code;
    size_t n = strnlen(tl_message, sizeof tl_message - 1);
    memcpy(s->message, tl_message, n);
    s->message[n] = '\0';
}

void alchdb__error_restore(const alchdb__error_state *s)
{
    tl_code = s->code;
    size_t n = strnlen(s->message, sizeof tl_message - 1);
    memcpy(tl_message, s->message, n);
    tl_message[n] = '\0';
}

int alchdb__verror(int code, const char *fmt, va_list ap)
{
    tl_code = code;
    tl_sqlstate[0] = '\0';
    if (fmt) {
        int n = vsnprintf(tl_message, sizeof tl_message, fmt, ap);
        if (n < 0)
            snprintf(tl_message, sizeof tl_message, "%s", alchdb_strerror(code));
    } else {
        snprintf(tl_message, sizeof tl_message, "%s", alchdb_strerror(code));
    }
    return code;
}

int alchdb__error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    alchdb__verror(code, fmt, ap);
    va_end(ap);
    return code;
}

int alchdb__invalid_arg(const char *func, const char *arg, const char *why)
{
    return alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument '%s': %s", func, arg, why);
}

int alchdb__nomem(const char *what)
{
    return alchdb__error(ALCHDB_E_NOMEM, "out of memory (%s)", what ? what : "allocation");
}
