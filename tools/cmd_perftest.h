/* `alchdb perftest`: load tests against the ADR-0008 targets. */
#ifndef ALCHDB_TOOLS_CMD_PERFTEST_H
#define ALCHDB_TOOLS_CMD_PERFTEST_H

int alchdb_cli_perftest(int argc, char **argv);

#endif
