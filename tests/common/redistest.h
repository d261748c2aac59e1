/* The rig's Redis for the cache suites: where it is, and stopping, pausing
 * or restarting it through tests/services/rig.sh (ALCHDB_RIG_SH, set by
 * meson for these suites). */
#ifndef ALCHDB_REDISTEST_H
#define ALCHDB_REDISTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* ALCHDB_TEST_REDIS ("host:port") split; fails the test when malformed. */
static inline void redistest_addr(char *host, size_t cap, int *port)
{
    const char *addr = test_env("ALCHDB_TEST_REDIS");
    const char *colon = strrchr(addr, ':');
    ck_assert_msg(colon && colon != addr, "ALCHDB_TEST_REDIS is not host:port: %s", addr);
    snprintf(host, cap, "%.*s", (int)(colon - addr), addr);
    *port = atoi(colon + 1);
    ck_assert_int_gt(*port, 0);
}

/* `rig.sh redisctl ACTION`: its exit status, -1 without a rig. For cleanup
 * code that must not fail the test itself. */
static inline int redistest_ctl_status(const char *action)
{
    const char *sh = getenv("ALCHDB_RIG_SH");
    if (!sh || !*sh)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' redisctl %s", sh, action);
    return system(cmd);
}

/* The same, failing the test (loudly, when there is no rig). */
static inline void redistest_ctl(const char *action)
{
    test_env("ALCHDB_RIG_SH");
    ck_assert_msg(redistest_ctl_status(action) == 0, "rig.sh redisctl %s failed", action);
}

/* `redis-cli COMMAND` against the rig's Redis; fails the test when it fails. */
static inline void redistest_cli(const char *command)
{
    char host[64], cmd[512];
    int port;
    redistest_addr(host, sizeof host, &port);
    snprintf(cmd, sizeof cmd, "redis-cli -h %s -p %d %s >/dev/null", host, port, command);
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

#endif
