/* `alchdb advise`: the index advisor. */
#ifndef ALCHDB_TOOLS_CMD_ADVISE_H
#define ALCHDB_TOOLS_CMD_ADVISE_H

int alchdb_cli_advise(int argc, char **argv);

#endif
