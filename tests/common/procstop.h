/* Stopping a rig server process (SIGSTOP) for a deadline test, safely: a
 * watchdog process resumes it (SIGCONT) after a bound whatever happens to the
 * test (a failed assertion, a crash, a Check timeout), and procstop_end()
 * resumes it at once on the normal path. The rig runs PostgreSQL as
 * alchdbrig; the tests run as root, so kill() is allowed. */
#ifndef ALCHDB_PROCSTOP_H
#define ALCHDB_PROCSTOP_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

typedef struct procstop {
    pid_t pid;
    pid_t watchdog;
} procstop;

/* Stop pid for at most max_ms. */
static inline procstop procstop_begin(pid_t pid, int max_ms)
{
    procstop p = {pid, -1};
    ck_assert_int_gt(pid, 1);
    pid_t w = fork();
    ck_assert_int_ge(w, 0);
    if (w == 0) { /* the watchdog: only async-signal-safe calls */
        struct timespec ts = {max_ms / 1000, (long)(max_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0)
            ;
        kill(pid, SIGCONT);
        _exit(0);
    }
    p.watchdog = w;
    ck_assert_msg(kill(pid, SIGSTOP) == 0, "SIGSTOP %d failed (run the tests as root)", (int)pid);
    return p;
}

/* Resume the process and retire the watchdog. */
static inline void procstop_end(procstop *p)
{
    if (p->pid > 1)
        kill(p->pid, SIGCONT);
    if (p->watchdog > 0) {
        kill(p->watchdog, SIGKILL);
        waitpid(p->watchdog, NULL, 0);
    }
    p->pid = -1;
    p->watchdog = -1;
}

/* The rig primary's postmaster pid (first line of postmaster.pid). */
static inline pid_t procstop_postmaster(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/primary/postmaster.pid", test_env("ALCHDB_TEST_RIG_DIR"));
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    long pid = 0;
    ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
    fclose(f);
    return (pid_t)pid;
}

#endif
