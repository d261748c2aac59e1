/* `alchdb migrate …` subcommands. */
#ifndef ALCHDB_TOOLS_CMD_MIGRATE_H
#define ALCHDB_TOOLS_CMD_MIGRATE_H

int alchdb_cli_migrate(int argc, char **argv);
int alchdb_cli_migrate_check(int argc, char **argv);
int alchdb_cli_migrate_trace(int argc, char **argv);

#endif
