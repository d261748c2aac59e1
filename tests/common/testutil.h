/* Helpers shared by the Check suites. */
#ifndef ALCHDB_TESTUTIL_H
#define ALCHDB_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Integration tests need the rig (tests/services/rig.sh) to have exported the
 * servers' connection strings. A missing variable is a loud failure, never a
 * skip: run the suite through tests/run.sh. */
static inline const char *test_env(const char *name)
{
    const char *v = getenv(name);
    if (!v || !*v) {
        fprintf(stderr, "FATAL: %s is not set: this test needs the real servers of "
                        "tests/services/rig.sh (run the suite with tests/run.sh)\n", name);
        ck_abort_msg("%s not set: start the test rig (tests/run.sh)", name);
    }
    return v;
}

/* How many times slower than a plain build this run is: Check's
 * CK_TIMEOUT_MULTIPLIER (10 in the valgrind test setup), else 1. Bounds that a
 * test asserts on time ("fails before its timeout") scale both the bound and
 * the timeout by it, so they keep their meaning. */
static inline int test_slowdown(void)
{
    const char *v = getenv("CK_TIMEOUT_MULTIPLIER");
    int n = v ? atoi(v) : 0;
    return n > 1 ? n : 1;
}

/* Run a suite; returns the process exit status for main(). */
static inline int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
