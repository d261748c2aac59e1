/* `alchdb dashboard`: the dashboard as a standalone agent. */
#ifndef ALCHDB_TOOLS_CMD_DASHBOARD_H
#define ALCHDB_TOOLS_CMD_DASHBOARD_H

int alchdb_cli_dashboard(int argc, char **argv);

#endif
