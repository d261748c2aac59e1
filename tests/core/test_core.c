/* Core API: error codes, thread-local last error, allocator hook with injected
 * failures, log sink, version. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "internal.h"
#include "failalloc.h"
#include "testutil.h"

START_TEST(test_strerror_known_and_unknown)
{
    ck_assert_str_eq(alchdb_strerror(ALCHDB_OK), "success");
    ck_assert_str_eq(alchdb_strerror(ALCHDB_E_NOMEM), "out of memory");
    ck_assert_str_eq(alchdb_strerror(ALCHDB_E_TIMEOUT), "timed out");
    ck_assert_str_eq(alchdb_strerror(-9999), "unknown error");
    ck_assert_str_eq(alchdb_strerror(42), "unknown error");
    for (int c = ALCHDB_E_INTERNAL; c < 0; c++)
        ck_assert_str_ne(alchdb_strerror(c), "unknown error");
}
END_TEST

START_TEST(test_last_error_set_and_clear)
{
    alchdb_clear_error();
    ck_assert_int_eq(alchdb_last_error_code(), 0);
    ck_assert_str_eq(alchdb_last_error_message(), "");
    ck_assert_int_eq(alchdb_set_log_handler(NULL, NULL, 99), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "level"));
    alchdb_clear_error();
    ck_assert_int_eq(alchdb_last_error_code(), 0);
}
END_TEST

static atomic_int ready;
static void *thread_error(void *arg)
{
    int want = (int)(intptr_t)arg;
    alchdb__error(want, "thread %d", -want);
    atomic_fetch_add(&ready, 1);
    while (atomic_load(&ready) < 8) /* everyone has written before anyone reads */
        ;
    char expect[32];
    snprintf(expect, sizeof expect, "thread %d", -want);
    int ok = alchdb_last_error_code() == want && strcmp(alchdb_last_error_message(), expect) == 0;
    return (void *)(intptr_t)ok;
}

START_TEST(test_last_error_is_thread_local)
{
    pthread_t t[8];
    atomic_store(&ready, 0);
    alchdb_clear_error();
    for (int i = 0; i < 8; i++)
        pthread_create(&t[i], NULL, thread_error, (void *)(intptr_t)(-(i + 1)));
    for (int i = 0; i < 8; i++) {
        void *ok;
        pthread_join(t[i], &ok);
        ck_assert_msg((intptr_t)ok == 1, "thread %d saw another thread's error", i);
    }
    ck_assert_int_eq(alchdb_last_error_code(), 0); /* main thread untouched */
}
END_TEST

/* ---- allocator hook ---- */

START_TEST(test_allocator_validation)
{
    alchdb_allocator bad = failalloc;
    bad.version = 99;
    ck_assert_int_eq(alchdb_set_allocator(&bad), ALCHDB_E_INVALID);
    bad = failalloc;
    bad.free_fn = NULL;
    ck_assert_int_eq(alchdb_set_allocator(&bad), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "allocator"));
}
END_TEST

START_TEST(test_allocator_is_used_and_startup_only)
{
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    failalloc_calls = 0;
    failalloc_live = 0;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "hello");
    ck_assert_int_ge(failalloc_calls, 1);
    ck_assert_int_eq(failalloc_live, 1);
    /* memory of the current allocator is live: switching is refused */
    ck_assert_int_eq(alchdb_set_allocator(NULL), ALCHDB_E_STATE);
    char *s = alchdb__sb_finish(&sb);
    ck_assert_str_eq(s, "hello");
    alchdb_free(s);
    ck_assert_int_eq(failalloc_live, 0);
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}
END_TEST

/* Every allocation failure in a multi-allocation operation surfaces as a
 * failure and leaks nothing. */
START_TEST(test_allocator_injected_failures)
{
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    for (long k = 1; k < 64; k++) {
        failalloc_at = k;
        failalloc_calls = 0;
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        for (int i = 0; i < 200; i++)
            alchdb__sb_printf(&sb, "line %d of a long enough text to grow the buffer\n", i);
        char *s = alchdb__sb_finish(&sb);
        if (failalloc_calls >= k)
            ck_assert_ptr_null(s);
        else
            ck_assert_ptr_nonnull(s);
        alchdb_free(s);
        ck_assert_int_eq(failalloc_live, 0);
        ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
    }
    failalloc_at = -1;
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}
END_TEST

/* ---- log sink ---- */
struct logrec {
    int n;
    int level;
    char module[32];
    char msg[128];
};
static void t_log(void *ud, int level, const char *module, const char *message)
{
    struct logrec *r = ud;
    r->n++;
    r->level = level;
    snprintf(r->module, sizeof r->module, "%s", module);
    snprintf(r->msg, sizeof r->msg, "%s", message);
}

START_TEST(test_log_sink_filters_and_formats)
{
    struct logrec r = {0};
    alchdb__log(ALCHDB_LOG_ERROR, "core", "silent by default %d", 1);
    ck_assert_int_eq(alchdb_set_log_handler(t_log, &r, ALCHDB_LOG_WARN), 0);
    alchdb__log(ALCHDB_LOG_INFO, "pool", "filtered %d", 2);
    ck_assert_int_eq(r.n, 0);
    alchdb__log(ALCHDB_LOG_WARN, "pool", "leak of %s after %d ms", "tag", 1500);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(r.level, ALCHDB_LOG_WARN);
    ck_assert_str_eq(r.module, "pool");
    ck_assert_str_eq(r.msg, "leak of tag after 1500 ms");
    ck_assert_int_eq(alchdb_set_log_handler(NULL, NULL, ALCHDB_LOG_DEBUG), 0);
    alchdb__log(ALCHDB_LOG_ERROR, "pool", "gone");
    ck_assert_int_eq(r.n, 1);
    ck_assert_str_eq(alchdb_log_level_name(ALCHDB_LOG_DEBUG), "debug");
    ck_assert_str_eq(alchdb_log_level_name(17), "unknown");
}
END_TEST

START_TEST(test_version)
{
    ck_assert_uint_eq(alchdb_version(), ALCHDB_VERSION_NUMBER);
    ck_assert_str_eq(alchdb_version_string(), ALCHDB_VERSION_STRING);
    ck_assert(ALCHDB_CHECK_VERSION(0, 0, 1));
    ck_assert(!ALCHDB_CHECK_VERSION(99, 0, 0));
}
END_TEST

START_TEST(test_json_string_escaping)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_json_str(&sb, "a\"b\\c\n\x01");
    alchdb__sb_puts(&sb, ",");
    alchdb__sb_json_str(&sb, NULL);
    char *s = alchdb__sb_finish(&sb);
    ck_assert_str_eq(s, "\"a\\\"b\\\\c\\n\\u0001\",null");
    alchdb_free(s);
}
END_TEST

START_TEST(test_hash_distinguishes)
{
    ck_assert(alchdb__hash64("select 1", 8, 0) == alchdb__hash64("select 1", 8, 0));
    ck_assert(alchdb__hash64("select 1", 8, 0) != alchdb__hash64("select 2", 8, 0));
    ck_assert(alchdb__hash64("", 0, 0) != alchdb__hash64("", 0, 1));
    char buf[100] = {0};
    uint64_t h0 = alchdb__hash64(buf, sizeof buf, 0);
    for (size_t i = 0; i < sizeof buf; i++) {
        buf[i] = 1;
        ck_assert(alchdb__hash64(buf, sizeof buf, 0) != h0);
        buf[i] = 0;
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_strerror_known_and_unknown);
    tcase_add_test(tc, test_last_error_set_and_clear);
    tcase_add_test(tc, test_last_error_is_thread_local);
    tcase_add_test(tc, test_allocator_validation);
    tcase_add_test(tc, test_allocator_is_used_and_startup_only);
    tcase_add_test(tc, test_allocator_injected_failures);
    tcase_add_test(tc, test_log_sink_filters_and_formats);
    tcase_add_test(tc, test_version);
    tcase_add_test(tc, test_json_string_escaping);
    tcase_add_test(tc, test_hash_distinguishes);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
