/* A 200 MB result read through alchdb_client_stream() never sits in memory
 * whole: the process's peak resident size grows far less than the result.
 * A load test: the valgrind phase skips it (see tests/client/meson.build for
 * the ASan quarantine). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "testutil.h"

/* Peak resident set size of this process, in KiB (VmHWM). */
static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    ck_assert_ptr_nonnull(f);
    char line[256];
    long kib = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
            break;
    fclose(f);
    ck_assert_int_gt(kib, 0);
    return kib;
}

/* Start measuring the peak from the current size (Linux: clear_refs 5). */
static void reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_gt(fputs("5", f), 0);
    fclose(f);
}

START_TEST(test_stream_200mb_bounded_memory)
{
    char ci[1024];
    snprintf(ci, sizeof ci, "%s application_name=alchdb_cstream200", test_env("ALCHDB_TEST_PRIMARY"));
    alchdb_client *c;
    ck_assert_msg(alchdb_client_open(ci, NULL, &c) == 0, "%s", alchdb_last_error_message());
    ck_assert_int_eq(alchdb_client_exec(c, "SELECT 1", 0, NULL, NULL), 0); /* connected and warm */
    reset_peak_rss();
    long before = peak_rss_kib();
    const char *p[] = {"200000"};
    alchdb_stream *st;
    ck_assert_int_eq(alchdb_client_stream(c, "SELECT g, repeat('x', 1000) FROM generate_series(1, $1::int) g", 1, p,
                                          NULL, &st),
                     0);
    const alchdb_result *row;
    int rc;
    int64_t bytes = 0, rows = 0;
    while ((rc = alchdb_stream_next(st, &row)) == 1) {
        bytes += alchdb_result_length(row, 0, 0) + alchdb_result_length(row, 0, 1);
        rows++;
    }
    ck_assert_int_eq(rc, 0);
    alchdb_stream_free(st);
    long grown = peak_rss_kib() - before;
    fprintf(stderr, "stream: %lld rows, %lld MB of values, peak RSS grew by %ld KiB\n", (long long)rows,
            (long long)(bytes >> 20), grown);
    ck_assert_int_eq(rows, 200000);
    ck_assert_int_ge(bytes, 200000000);
    ck_assert_msg(grown < 32 * 1024, "peak RSS grew by %ld KiB for a 200 MB result", grown);
    alchdb_client_free(c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("client-stream");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_stream_200mb_bounded_memory);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
