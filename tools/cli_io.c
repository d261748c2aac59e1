#include "cli_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
