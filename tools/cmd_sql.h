/* `alchdb sql …` subcommands. */
#ifndef ALCHDB_TOOLS_CMD_SQL_H
#define ALCHDB_TOOLS_CMD_SQL_H

int alchdb_cli_sql(int argc, char **argv);
int alchdb_cli_sql_analyze(int argc, char **argv);

#endif
