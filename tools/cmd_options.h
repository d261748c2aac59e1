/* `alchdb options`: the option listing of every module, from the tables the
 * library itself uses (alchdb_options_info / alchdb_options_to_json). */
#ifndef ALCHDB_TOOLS_CMD_OPTIONS_H
#define ALCHDB_TOOLS_CMD_OPTIONS_H

#include <stdio.h>

int alchdb_cli_options(int argc, char **argv);

/* One module's options as the indented text table of the CLI, for the
 * `--help` of a subcommand that takes a module's options by name: every
 * subcommand prints its options from the listing, never from its own text.
 * Returns 0, or the library's error for an unknown module. */
int alchdb_cli_print_options(FILE *to, const char *module);

/* The NAME=VALUE of a `--set` flag: copies NAME into name (cap bytes) and
 * returns VALUE (inside pair), or NULL when pair has no '=', an empty NAME or
 * one too long for name. */
const char *alchdb_cli_split_set(const char *pair, char *name, size_t cap);

#endif
