#include "cli_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

char *alchdb_cli_read_file(const char *path, size_t max, size_t *len, const char **why)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        *why = "cannot open";
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    *why = "out of memory";
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) {
            if (ferror(f)) {
                *why = "cannot read";
                free(buf);
                buf = NULL;
            }
            break;
        }
        if (cap > max) {
            *why = "too large";
            free(buf);
            buf = NULL;
            break;
        }
        char *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    if (f != stdin)
        fclose(f);
    if (buf)
        *len = n;
    return buf;
}

void alchdb_cli_error(const char *fmt, ...)
{
    /* Formatted whole before it is redacted: a cut could leave part of a
     * URI's password without the '@' that marks it. */
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    char *shown = NULL;
    if (buf) {
        va_start(ap, fmt);
        vsnprintf(buf, (size_t)n + 1, fmt, ap);
        va_end(ap);
        /* The text as its own conninfo: every password-looking span in it is
         * replaced, also where it shows up again verbatim or decoded. */
        if (alchdb_redact(buf, buf, &shown) != 0)
            shown = NULL;
    }
    fputs(shown ? shown : "alchdb: (message withheld: out of memory while removing passwords)\n", stderr);
    alchdb_free(shown);
    free(buf);
}
