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
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    /* The text as its own conninfo: every password-looking span in it is
     * replaced, also where it shows up again verbatim or decoded. */
    char *shown = NULL;
    if (alchdb_redact(buf, buf, &shown) == 0)
        fputs(shown, stderr);
    else
        fputs("alchdb: (message withheld: out of memory while removing passwords)\n", stderr);
    alchdb_free(shown);
}
