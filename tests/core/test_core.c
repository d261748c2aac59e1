/* Core API: error codes, thread-local last error, allocator hook with injected
 * failures, log sink, version. */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "internal.h"
#include "pqconn.h"
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


/* Every conninfo form a password can hide in, and libpq's own messages that
 * echo a malformed conninfo: the sentinel never survives, the rest stays
 * readable. */
START_TEST(test_redact_conninfo_forms)
{
    static const char *const leak[] = {
        "host=h password=S3cr3tPW user=u",
        "host=h PASSWORD = 'S3cr3tPW' user=u",
        "host=h password='S3cr\\'3tPW with space' user=u",
        "password=S3cr3tPW",
        "host=h sslpassword=S3cr3tPW",
        "postgresql://u:S3cr3tPW@h:5432/db",
        "postgres://u:S3cr3tPW@h1:5432,h2:5433/db?sslmode=disable",
        "postgresql://h/db?user=u&password=S3cr3tPW&sslmode=disable",
        "postgresql://h/db?user=u&pass%77ord=S3cr3tPW",
        "postgresql://h/db?user=u&%70%61%73%73%77%6F%72%64=S3cr3tPW",
        "postgresql://h/db?password%3DS3cr3tPW",
        "options='-c password=S3cr3tPW' host=h",
        "invalid URI query parameter: \"postgresql://u:S3cr3tPW@h:x/db\"",
        "unexpected spaces found in \"postgresql://u:S3c r3tPW@h/db\", use percent-encoded spaces",
        "postgresql://u:S3cr3tPW/oops@h/db",
        "PGPASSWORD=S3cr3tPW psql",
        "a\nhost=h password=S3cr3tPW\npostgresql://u:S3cr3tPW@h",
        "host=h password\r\r\v =\f S3cr3tPW", /* libpq allows any isspace() around '=' */
        "host=h password=&S3cr3tPW", /* '&' ends a value in a URI query only */
    };
    for (size_t i = 0; i < sizeof leak / sizeof leak[0]; i++) {
        char out[256];
        alchdb__redact_into(out, sizeof out, leak[i], NULL, 0);
        ck_assert_msg(!strstr(out, "S3cr3tPW") && !strstr(out, "S3cr") && !strstr(out, "3tPW"),
                      "case %zu leaked: %s", i, out);
        ck_assert_msg(strstr(out, "***"), "case %zu not marked: %s", i, out);
        char *owned = alchdb__redact(leak[i], NULL, 0);
        ck_assert_ptr_nonnull(owned);
        ck_assert_str_eq(owned, out);
        alchdb_free(owned);
    }
    /* What is not a secret stays as it was. */
    char out[256];
    alchdb__redact_into(out, sizeof out, "host=h port=5432 user=u dbname=d", NULL, 0);
    ck_assert_str_eq(out, "host=h port=5432 user=u dbname=d");
    alchdb__redact_into(out, sizeof out, "postgresql://u@h:5432/d?sslmode=disable", NULL, 0);
    ck_assert_str_eq(out, "postgresql://u@h:5432/d?sslmode=disable");
    alchdb__redact_into(out, sizeof out, "host=h password=pw user=u", NULL, 0);
    ck_assert_str_eq(out, "host=h password=*** user=u");
    alchdb__redact_into(out, sizeof out, "postgresql://u:pw@h/d", NULL, 0);
    ck_assert_str_eq(out, "postgresql://u:***@h/d");
    alchdb__redact_into(out, sizeof out, "postgresql://h/d?password=pw&sslmode=require", NULL, 0);
    ck_assert_str_eq(out, "postgresql://h/d?password=***&sslmode=require");
    /* Verbatim secrets, e.g. a server message repeating the password. */
    const char *sec[] = {NULL, "", "hunter2"};
    alchdb__redact_into(out, sizeof out, "role said hunter2 twice: hunter2", sec, 3);
    ck_assert_str_eq(out, "role said *** twice: ***");
    /* Truncation keeps the NUL and never a partial secret. */
    char small[12];
    size_t n = alchdb__redact_into(small, sizeof small, "password=S3cr3tPW and more", NULL, 0);
    ck_assert_uint_eq(n, strlen(small));
    ck_assert_ptr_null(strstr(small, "S3cr"));
    ck_assert_uint_eq(alchdb__redact_into(small, 1, "x", NULL, 0), 0);
    ck_assert_str_eq(small, "");
}
END_TEST

START_TEST(test_conninfo_password_and_messages)
{
    char *pw = alchdb__conninfo_password("host=h password='a b' user=u");
    ck_assert_ptr_nonnull(pw);
    ck_assert_str_eq(pw, "a b");
    alchdb_free(pw);
    pw = alchdb__conninfo_password("postgresql://u:p%40ss@h/d");
    ck_assert_ptr_nonnull(pw);
    ck_assert_str_eq(pw, "p@ss");
    alchdb_free(pw);
    ck_assert_ptr_null(alchdb__conninfo_password("host=h user=u"));
    ck_assert_ptr_null(alchdb__conninfo_password("postgresql://u:pw@[::1/d"));
    ck_assert_ptr_null(alchdb__conninfo_password(NULL));
    char out[128];
    alchdb__pq_message(out, sizeof out, "FATAL:  bad\nDETAIL: password=x\n");
    ck_assert_str_eq(out, "FATAL:  bad DETAIL: password=***");
}
END_TEST

/* A conninfo that does not parse fails with a redacted, one-line message (no
 * server needed: libpq rejects it before connecting). */
START_TEST(test_pq_connect_bad_conninfo_is_redacted)
{
    PGconn *pg = (PGconn *)1;
    char err[256];
    int rc = alchdb__pq_connect("postgresql://u:S3cr3tPW@[::1/d?bogus", alchdb__now_ns() + 1000000000,
                                "core", "connect", &pg, err, sizeof err);
    ck_assert_int_eq(rc, ALCHDB_E_CONNECT);
    ck_assert_ptr_null(pg);
    ck_assert_ptr_null(strstr(err, "S3cr3tPW"));
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "S3cr3tPW"));
    ck_assert_ptr_null(strchr(alchdb_last_error_message(), '\n'));
    /* A port nobody listens on, and a deadline already passed. */
    rc = alchdb__pq_connect("host=127.0.0.1 port=1 password=S3cr3tPW connect_timeout=1",
                            alchdb__now_ns() + 2000000000LL, "core", "connect", &pg, err, sizeof err);
    ck_assert_int_eq(rc, ALCHDB_E_CONNECT);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "S3cr3tPW"));
    rc = alchdb__pq_connect("host=127.0.0.1 port=1", alchdb__now_ns() - 1, "core", "connect", &pg,
                            NULL, 0);
    ck_assert(rc == ALCHDB_E_TIMEOUT || rc == ALCHDB_E_CONNECT);
    ck_assert_int_eq(alchdb__pq_connect(NULL, 0, NULL, NULL, &pg, NULL, 0), ALCHDB_E_INVALID);
}
END_TEST


/* The escaper's output for n bytes, as an owned string. */
static char *json_of(const char *s, size_t n)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_json_strn(&sb, s, n);
    return alchdb__sb_finish(&sb);
}

/* Any bytes give a JSON string that jansson parses; well-formed UTF-8 comes
 * back unchanged and each ill-formed part becomes one U+FFFD. */
START_TEST(test_json_string_any_bytes)
{
    static const struct {
        const char *in;
        size_t len;
        const char *back; /* the decoded string jansson must return */
    } cases[] = {
        {"plain ascii", 11, "plain ascii"},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
        {"a\xff" "b", 3, "a\xef\xbf\xbd" "b"},                 /* never a lead byte */
        {"\x80\x80", 2, "\xef\xbf\xbd\xef\xbf\xbd"},            /* stray continuations */
        {"\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd"},            /* overlong '/' */
        {"\xe0\x80\xaf", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong, 3 bytes */
        {"\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* > U+10FFFF */
        {"x\xe2\x82", 3, "x\xef\xbf\xbd"},                    /* truncated at the end: one U+FFFD */
        {"\xe2\x82x", 3, "\xef\xbf\xbdx"},                    /* truncated in the middle */
        {"\xf0\x9f\x98", 3, "\xef\xbf\xbd"},
        {"nul\0inside", 10, "nul\0inside"},
        {"\x01\x1f\x7f\"\\\n\r\t", 8, "\x01\x1f\x7f\"\\\n\r\t"},
        {"ls\xe2\x80\xa8ps\xe2\x80\xa9", 10, "ls\xe2\x80\xa8ps\xe2\x80\xa9"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *js = json_of(cases[i].in, cases[i].len);
        ck_assert_ptr_nonnull(js);
        json_error_t e;
        json_t *v = json_loads(js, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        ck_assert_msg(v && json_is_string(v), "case %zu: %s does not parse: %s", i, js, e.text);
        size_t want = i == 11 ? 10 : strlen(cases[i].back);
        ck_assert_uint_eq(json_string_length(v), want);
        ck_assert_msg(memcmp(json_string_value(v), cases[i].back, want) == 0, "case %zu came back altered: %s",
                      i, js);
        json_decref(v);
        alchdb_free(js);
    }
    /* U+2028/2029 are escaped in the text, not only valid. */
    char *js = json_of("\xe2\x80\xa8", 3);
    ck_assert_str_eq(js, "\"\\u2028\"");
    alchdb_free(js);
    /* Every byte value, and every pair, in one string. */
    unsigned char all[256 + 2 * 65536];
    size_t n = 0;
    for (int b = 0; b < 256; b++)
        all[n++] = (unsigned char)b;
    for (int a = 0; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            all[n++] = (unsigned char)a;
            all[n++] = (unsigned char)b;
        }
    js = json_of((const char *)all, n);
    ck_assert_ptr_nonnull(js);
    json_error_t e;
    json_t *v = json_loads(js, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    ck_assert_msg(v != NULL, "all byte pairs: %s", e.text);
    json_decref(v);
    alchdb_free(js);
}
END_TEST

/* A conninfo libpq cannot parse is echoed by libpq as a bare token: the
 * secrets collected from the raw text hide it in every form. */
START_TEST(test_redact_conninfo_secrets)
{
    static const struct {
        const char *conninfo, *message;
    } cases[] = {
        {"postgresql://u:S3cr%zztPW@h/db", "invalid percent-encoded token: \"S3cr%zztPW\""},
        {"postgresql://h?password=S3cr3tPW%", "invalid percent-encoded token: \"S3cr3tPW%\""},
        {"postgresql://u:S3cr%33tPW@h/db", "server said S3cr3tPW"},
        {"host=h password='S3cr\\'3tPW'", "server said S3cr'3tPW"},
        {"host=h password=S3cr3tPW bogus=1", "S3cr3tPW: invalid connection option \"bogus\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char out[256];
        alchdb__redact_conninfo_into(out, sizeof out, cases[i].message, cases[i].conninfo);
        ck_assert_msg(!strstr(out, "S3cr") && !strstr(out, "tPW"), "case %zu leaked: %s", i, out);
        ck_assert_ptr_nonnull(strstr(out, "***"));
        char *owned = alchdb__redact_conninfo(cases[i].message, cases[i].conninfo);
        ck_assert_str_eq(owned, out);
        alchdb_free(owned);
        /* the public form, the message as its own conninfo or with it */
        ck_assert_int_eq(alchdb_redact(cases[i].message, cases[i].conninfo, &owned), 0);
        ck_assert_str_eq(owned, out);
        alchdb_free(owned);
    }
    /* A password that is also the user name: the URI's user part is scanned
     * for verbatim secrets too, not copied as it is. */
    char out2[128];
    alchdb__redact_conninfo_into(out2, sizeof out2, "postgresql://pw0rd:pw0rd@h/db", "postgresql://pw0rd:pw0rd@h/db");
    ck_assert_str_eq(out2, "postgresql://***:***@h/db");
    alchdb__redact_conninfo_into(out2, sizeof out2, "user=password password=password", "password=password");
    ck_assert_ptr_null(strstr(out2, "=password"));
    /* Without a conninfo the patterns alone apply. */
    char *o = NULL;
    ck_assert_int_eq(alchdb_redact("postgresql://app:s3cret@db/app", NULL, &o), 0);
    ck_assert_str_eq(o, "postgresql://app:***@db/app");
    alchdb_free(o);
    /* A one-byte secret triples the text: nothing is cut. */
    const char *sec[] = {"a"};
    o = alchdb__redact("aaaaaaaaaa", sec, 1);
    ck_assert_str_eq(o, "******************************");
    alchdb_free(o);
    ck_assert_int_eq(alchdb_redact(NULL, NULL, &o), ALCHDB_E_INVALID);
    ck_assert_ptr_null(o);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "text"));
    ck_assert_int_eq(alchdb_redact("x", NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "out"));
    /* More password spans than the set holds: the text is withheld. */
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    for (int i = 0; i < 40; i++)
        alchdb__sb_printf(&sb, "password=pw%02d ", i);
    char *many = alchdb__sb_finish(&sb);
    char out[128];
    alchdb__redact_conninfo_into(out, sizeof out, many, many);
    ck_assert_ptr_nonnull(strstr(out, "withheld"));
    alchdb_free(many);
}
END_TEST

/* Every allocation failure while collecting secrets withholds the text: the
 * message is never shown half-redacted. */
START_TEST(test_redact_conninfo_oom)
{
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    const char *ci = "postgresql://u:S3cr%zztPW@h/db";
    const char *msg = "invalid percent-encoded token: \"S3cr%zztPW\"";
    for (long k = 1; k < 40; k++) {
        failalloc_arm(k);
        char out[256];
        alchdb__redact_conninfo_into(out, sizeof out, msg, ci);
        ck_assert_msg(!strstr(out, "S3cr"), "failure at %ld leaked: %s", k, out);
        char *o = NULL;
        int rc = alchdb_redact(msg, ci, &o);
        ck_assert(rc == 0 || rc == ALCHDB_E_NOMEM);
        ck_assert(rc != 0 || !strstr(o, "S3cr"));
        alchdb_free(o);
        failalloc_arm(-1);
        ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
    }
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}
END_TEST

/* The conninfo's connect_timeout bounds the non-blocking connect as it bounds
 * PQconnectdb(): a server that never answers (a listening socket nobody
 * accepts on) fails after about that long, not at the caller's later deadline. */
START_TEST(test_pq_connect_honours_connect_timeout)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(ls, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(ls, 1), 0);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    char ci[160];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d connect_timeout=2 password=S3cr3tPW", ntohs(a.sin_port));
    PGconn *pg = NULL;
    int64_t t0 = alchdb__now_ns();
    int rc = alchdb__pq_connect(ci, t0 + 60LL * 1000000000, "core", "connect", &pg, NULL, 0);
    int64_t took_ms = (alchdb__now_ns() - t0) / 1000000;
    ck_assert_int_eq(rc, ALCHDB_E_TIMEOUT);
    ck_assert_ptr_null(pg);
    ck_assert_msg(took_ms >= 1900 && took_ms < 30000, "took %lld ms", (long long)took_ms);
    ck_assert_ptr_null(strstr(alchdb_last_error_message(), "S3cr3tPW"));
    /* The caller's deadline still wins when it is sooner. */
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d connect_timeout=60", ntohs(a.sin_port));
    t0 = alchdb__now_ns();
    rc = alchdb__pq_connect(ci, t0 + 300000000LL, "core", "connect", &pg, NULL, 0);
    took_ms = (alchdb__now_ns() - t0) / 1000000;
    ck_assert_int_eq(rc, ALCHDB_E_TIMEOUT);
    ck_assert_msg(took_ms < 20000, "took %lld ms", (long long)took_ms);
    /* The modules without a timeout option: bounded the same way, reported as
     * the connect failure they document. */
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d connect_timeout=2", ntohs(a.sin_port));
    t0 = alchdb__now_ns();
    rc = alchdb__pq_connect_default(ci, "core", "connect", &pg);
    took_ms = (alchdb__now_ns() - t0) / 1000000;
    ck_assert_int_eq(rc, ALCHDB_E_CONNECT);
    ck_assert_ptr_null(pg);
    ck_assert_msg(took_ms >= 1900 && took_ms < 30000, "took %lld ms", (long long)took_ms);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "deadline passed"));
    close(ls);
}
END_TEST

/* docs/errors.md, "Passwords": the snippet as written. */
static char logged[256];
__attribute__((format(printf, 1, 2))) static void log_line(const char *fmt, ...);
static void log_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(logged, sizeof logged, fmt, ap);
    va_end(ap);
}

START_TEST(test_redact_doc_snippet)
{
    const char *conninfo = "postgresql://app:s3cret@db/app";
    /* ---- docs/errors.md ---- */
    char *shown = NULL;
    if (alchdb_redact(conninfo, conninfo, &shown) == 0) {
        log_line("connecting to %s", shown); /* postgresql://app:***@db/app */
        alchdb_free(shown);
    }
    /* ---- end ---- */
    ck_assert_str_eq(logged, "connecting to postgresql://app:***@db/app");
}
END_TEST

START_TEST(test_pq_result_message)
{
    char out[64];
    alchdb__pq_result_message(out, sizeof out, NULL, NULL, false);
    ck_assert_str_eq(out, "no connection");
    alchdb__pq_result_message(out, 0, NULL, NULL, true); /* no room: nothing written, no crash */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60); /* the connect-timeout case waits twice for 2 s */
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
    tcase_add_test(tc, test_redact_conninfo_forms);
    tcase_add_test(tc, test_conninfo_password_and_messages);
    tcase_add_test(tc, test_pq_connect_bad_conninfo_is_redacted);
    tcase_add_test(tc, test_json_string_any_bytes);
    tcase_add_test(tc, test_redact_conninfo_secrets);
    tcase_add_test(tc, test_redact_conninfo_oom);
    tcase_add_test(tc, test_pq_connect_honours_connect_timeout);
    tcase_add_test(tc, test_pq_result_message);
    tcase_add_test(tc, test_redact_doc_snippet);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
