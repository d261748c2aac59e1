/* Helpers shared by the `alchdb` subcommands. */
#ifndef ALCHDB_TOOLS_CLI_IO_H
#define ALCHDB_TOOLS_CLI_IO_H

#include <stddef.h>

/* Read all of PATH ("-" = standard input), at most max bytes (more is an
 * error). Returns a malloc'd buffer (free()) and its length, or NULL with *why
 * set to a short reason ("cannot open", "cannot read", "too large", "out of
 * memory"); errno still tells the system's reason for the first two. */
char *alchdb_cli_read_file(const char *path, size_t max, size_t *len, const char **why);

/* Print a formatted message to standard error with every password removed
 * (alchdb_redact, the text taken as its own conninfo): every message the CLI
 * writes there goes through this, because they echo arguments. */
void alchdb_cli_error(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
