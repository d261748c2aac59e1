/* The PostgreSQL fault suites, one Check case per scenario
 * (CK_RUN_CASE=<scenario> runs one): failover (test_failover.c), kill -9 under
 * load (test_kill9.c), a partitioned standby (test_partition.c), a slow
 * server with statement timeouts (test_slow.c). Run through run.sh. */
#include "faultlib.h"

int main(void)
{
    Suite *s = suite_create("faults");
    faults_failover(s);
    faults_kill9(s);
    faults_partition(s);
    faults_slow(s);
    return run_suite(s);
}
