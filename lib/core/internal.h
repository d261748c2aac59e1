/* Private helpers shared by every module. Never exported (hidden visibility and
 * absent from libalchdb.map). */
#ifndef ALCHDB_INTERNAL_H
#define ALCHDB_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alchdb/alloc.h"
#include "alchdb/error.h"
#include "alchdb/log.h"

#if defined(__GNUC__)
#define ALCHDB_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define ALCHDB_LIKELY(x) __builtin_expect(!!(x), 1)
#define ALCHDB_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define ALCHDB_PRINTF(a, b)
#define ALCHDB_LIKELY(x) (x)
#define ALCHDB_UNLIKELY(x) (x)
#endif

/* ---- errors (error.c) ---------------------------------------------------- */
/* Record code and message as the calling thread's last error; returns code so
 * callers can write `return alchdb__error(ALCHDB_E_INVALID, "...")`. */
int alchdb__error(int code, const char *fmt, ...) ALCHDB_PRINTF(2, 3);
int alchdb__verror(int code, const char *fmt, va_list ap);
/* The thread's error detail, saved and put back by a call that absorbs a
 * failure of its own (a text that does not parse becomes an "unparsed"
 * pattern; a monitor failure never fails the query that reported it), so
 * that it neither leaves a stale detail nor overwrites the caller's. */
typedef struct alchdb__error_state {
    int code;
    char message[1024];
} alchdb__error_state;
void alchdb__error_save(alchdb__error_state *s);
void alchdb__error_restore(const alchdb__error_state *s);
/* Shorthand for the most common failures. */
int alchdb__invalid_arg(const char *func, const char *arg, const char *why);
int alchdb__nomem(const char *what);
/* Attach the server's SQLSTATE to the error just recorded (after
 * alchdb__error); NULL or anything but 5 characters clears it. */
void alchdb__set_error_sqlstate(const char *sqlstate);

/* Check an argument; on failure set ALCHDB_E_INVALID naming it and return. */
#define ALCHDB_CHECK_ARG(cond, name, why)                                      \
    do {                                                                       \
        if (ALCHDB_UNLIKELY(!(cond)))                                          \
            return alchdb__invalid_arg(__func__, (name), (why));               \
    } while (0)

/* ---- allocation (alloc.c) ------------------------------------------------ */
void *alchdb__malloc(size_t size);
void *alchdb__calloc(size_t n, size_t size);
void *alchdb__realloc(void *ptr, size_t size);
void alchdb__free(void *ptr);
char *alchdb__strdup(const char *s);
char *alchdb__strndup(const char *s, size_t n);
/* Overwrite a string that may hold a password (a conninfo, a secret option)
 * with zero bytes, so the password does not linger once the memory is freed;
 * the _free form then frees it through the hook. NULL is fine. */
void alchdb__wipe(char *s);
void alchdb__free_wiped(char *s);
/* Number of live allocations made through the hook (for tests and for
 * alchdb_set_allocator's start-up-only rule). */
long alchdb__alloc_outstanding(void);
/* Internal caches register a flush so alchdb_set_allocator can return their
 * memory before switching allocators. */
void alchdb__register_cache_flush(void (*flush)(void));

/* ---- logging (log.c) ----------------------------------------------------- */
bool alchdb__log_enabled(int level);
void alchdb__log(int level, const char *module, const char *fmt, ...) ALCHDB_PRINTF(3, 4);

/* ---- growable string buffer (strbuf.c) ----------------------------------- */
typedef struct alchdb__strbuf {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; further appends are ignored */
} alchdb__strbuf;
void alchdb__sb_init(alchdb__strbuf *sb);
void alchdb__sb_append(alchdb__strbuf *sb, const char *s, size_t n);
void alchdb__sb_puts(alchdb__strbuf *sb, const char *s);
void alchdb__sb_printf(alchdb__strbuf *sb, const char *fmt, ...) ALCHDB_PRINTF(2, 3);
/* Append s as a JSON string literal (with quotes); NULL appends null. Valid
 * JSON whatever the bytes: '"', '\\' and control characters are escaped,
 * U+2028/U+2029 too (for JavaScript), and every ill-formed UTF-8 sequence
 * (stray continuation bytes, overlong forms, surrogates, code points above
 * U+10FFFF, truncated sequences) becomes one U+FFFD per maximal subpart.
 * Well-formed UTF-8 passes unchanged. The _strn form takes a length and
 * escapes embedded NUL bytes as \u0000. */
void alchdb__sb_json_str(alchdb__strbuf *sb, const char *s);
void alchdb__sb_json_strn(alchdb__strbuf *sb, const char *s, size_t n);
/* Length (1..4) of the well-formed UTF-8 sequence at p, of which `left` > 0
 * bytes are readable; 0 when ill-formed, with *bad the number of bytes one
 * U+FFFD replaces (1..3). */
size_t alchdb__utf8_seq(const unsigned char *p, size_t left, size_t *bad);
/* Hand the buffer over (owned, NUL-terminated) or NULL on failure. */
char *alchdb__sb_finish(alchdb__strbuf *sb);
void alchdb__sb_reset(alchdb__strbuf *sb);

/* ---- hashing and time (util.c) ------------------------------------------- */
/* Fast non-cryptographic 64-bit hash (not keyed; do not use for untrusted
 * keys where collisions matter without a full compare). */
uint64_t alchdb__hash64(const void *data, size_t len, uint64_t seed);
/* Monotonic clock in nanoseconds and wall clock in microseconds. */
int64_t alchdb__now_ns(void);
int64_t alchdb__wall_us(void);

#endif /* ALCHDB_INTERNAL_H */
