/* Shared by the libFuzzer targets: what a target checks beyond "no crash"
 * fails through fuzz_fail(), which aborts so that libFuzzer records the input
 * as a crash. The library is silent (no log handler) unless FUZZ_LOG is set. */
#ifndef ALCHDB_FUZZ_H
#define ALCHDB_FUZZ_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

__attribute__((noreturn, format(printf, 1, 2))) static void fuzz_fail(const char *fmt, ...);
static void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("FUZZ PROPERTY FAILED: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond))                                                           \
            fuzz_fail(__VA_ARGS__);                                            \
    } while (0)

/* A library return code must be 0 or one of the known negative codes, and a
 * failure must leave a message. */
static inline void fuzz_check_rc(const char *call, int rc)
{
    FUZZ_CHECK(rc <= 0 && rc >= ALCHDB_E_INTERNAL, "%s returned %d", call, rc);
    FUZZ_CHECK(rc != ALCHDB_E_INTERNAL, "%s: internal error: %s", call, alchdb_last_error_message());
    FUZZ_CHECK(rc == 0 || alchdb_last_error_message()[0], "%s failed (%d) without a message", call, rc);
}

/* A JSON document the library produced must parse (jansson rejects invalid
 * UTF-8, control characters and NUL in strings). Frees it. */
static inline void fuzz_json_ok(const char *what, int rc, char *json)
{
    fuzz_check_rc(what, rc);
    if (rc == 0) {
        FUZZ_CHECK(json != NULL, "%s: success without a document", what);
        json_error_t e;
        json_t *v = json_loads(json, JSON_REJECT_DUPLICATES, &e);
        FUZZ_CHECK(v != NULL, "%s: invalid JSON (%s at %d): %.300s", what, e.text, e.position, json);
        json_decref(v);
    } else {
        FUZZ_CHECK(json == NULL, "%s: failure but a document", what);
    }
    alchdb_free(json);
}

/* A NUL-terminated copy of the input (malloc'd). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Splits the input at sep into at most max parts (pointers into a copy the
 * caller frees: parts[0]). Returns the number of parts. */
static inline size_t fuzz_split(const uint8_t *data, size_t size, char sep, char **parts, size_t max)
{
    char *s = fuzz_cstr(data, size);
    size_t n = 0;
    parts[n++] = s;
    for (size_t i = 0; i < size && n < max; i++)
        if (s[i] == sep) {
            s[i] = '\0';
            parts[n++] = s + i + 1;
        }
    return n;
}

static void fuzz_log(void *ud, int level, const char *module, const char *message)
{
    (void)ud;
    fprintf(stderr, "[%s %s] %s\n", alchdb_log_level_name(level), module, message);
}

/* Every target is a program of its own that includes this header once. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (getenv("FUZZ_LOG"))
        alchdb_set_log_handler(fuzz_log, NULL, ALCHDB_LOG_DEBUG);
    return 0;
}

#endif
