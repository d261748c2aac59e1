/* The read-your-writes token and the timeline history parser: pure functions
 * over bytes, no server. White-box (lib/router/token.h is internal) because
 * the token's text form is the seam the router, the client and the cache
 * share, and the fuzz target drives the same parser. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/router_internal.h"
#include "router/token.h"
#include "testutil.h"

static int parse(const char *s, alchdb__token *t)
{
    return alchdb__token_parse(s, strlen(s), t, NULL);
}

START_TEST(test_round_trip)
{
    const alchdb__token cases[] = {
        {1, 1, 0},
        {7714984100493093343ull, 2, 0x4010D30},
        {UINT64_MAX, UINT32_MAX, INT64_MAX},
        {42, 7, (int64_t)0x7FFFFFFF00000000ll},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[ALCHDB__TOKEN_CAP];
        int n = alchdb__token_format(&cases[i], buf, sizeof buf);
        ck_assert_int_gt(n, 0);
        ck_assert_uint_eq((size_t)n, strlen(buf));
        ck_assert_int_lt(n, ALCHDB__TOKEN_CAP);
        alchdb__token t;
        ck_assert_msg(parse(buf, &t) == 0, "%s", buf);
        ck_assert(t.sysid == cases[i].sysid && t.timeline == cases[i].timeline && t.lsn == cases[i].lsn);
    }
    char buf[ALCHDB__TOKEN_CAP];
    alchdb__token t = {7714984100493093343ull, 2, 0x4010D30};
    ck_assert_int_gt(alchdb__token_format(&t, buf, sizeof buf), 0);
    ck_assert_str_eq(buf, "alchdb2:7714984100493093343:2:0/4010D30");
    /* the longest token fits the documented 64 bytes */
    alchdb__token big = {UINT64_MAX, UINT32_MAX, INT64_MAX};
    ck_assert_int_eq(alchdb__token_format(&big, buf, sizeof buf), 57);
    /* not tokens: refused, never formatted half */
    alchdb__token bad[] = {{0, 1, 1}, {1, 0, 1}, {1, 1, -1}};
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(alchdb__token_format(&bad[i], buf, sizeof buf), -1);
    ck_assert_int_eq(alchdb__token_format(&big, buf, 57), -1);
    ck_assert_str_eq(buf, "");
}
END_TEST

START_TEST(test_malformed_refused)
{
    static const char *const bad[] = {
        "",
        "alchdb",
        "alchdb2",
        "alchdb2:",
        "garbage",
        "alchdb1:12345:0/1",               /* version 1: no timeline */
        "alchdb3:1:1:0/1",                 /* unknown version */
        "alchdb2:1:1:0/1 ",                /* trailing byte */
        "alchdb2:1:1:0/1:",
        " alchdb2:1:1:0/1",
        "alchdb2:0:1:0/1",                 /* system identifier 0 */
        "alchdb2:1:0:0/1",                 /* timeline 0 */
        "alchdb2:-1:1:0/1",
        "alchdb2:+1:1:0/1",
        "alchdb2:18446744073709551616:1:0/1", /* 2^64 */
        "alchdb2:1:4294967296:0/1",        /* 2^32 */
        "alchdb2:1:1:0/",
        "alchdb2:1:1:/1",
        "alchdb2:1:1:01",
        "alchdb2:1:1:123456789/1",         /* nine hex digits */
        "alchdb2:1:1:1/123456789",
        "alchdb2:1:1:g/1",
        "alchdb2::1:0/1",
        "alchdb2:1::0/1",
        "ALCHDB2:1:1:0/1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        alchdb__token t = {9, 9, 9};
        const char *why = NULL;
        ck_assert_msg(alchdb__token_parse(bad[i], strlen(bad[i]), &t, &why) == -1, "accepted '%s'", bad[i]);
        ck_assert_ptr_nonnull(why);
        ck_assert_msg(why[0], "no reason for '%s'", bad[i]);
        ck_assert(t.sysid == 9 && t.timeline == 9 && t.lsn == 9); /* untouched */
    }
    const char *why;
    alchdb__token t;
    ck_assert_int_eq(alchdb__token_parse("alchdb1:1:0/1", 13, &t, &why), -1);
    ck_assert_ptr_nonnull(strstr(why, "timeline"));
    /* an embedded NUL ends nothing: the length counts */
    ck_assert_int_eq(alchdb__token_parse("alchdb2:1:1:0/1\0x", 17, &t, NULL), -1);
    ck_assert_int_eq(alchdb__token_parse("alchdb2:1:1:0/1\0x", 15, &t, NULL), 0);
    /* a prefix of a valid token is not a token, up to the first digit of
     * the position's low half */
    const char *ok = "alchdb2:77:3:1A/FF";
    for (size_t n = 0; n < strlen(ok) - 1; n++)
        ck_assert_msg(alchdb__token_parse(ok, n, &t, NULL) == -1, "prefix %zu", n);
    ck_assert_int_eq(alchdb__token_parse(ok, strlen(ok), &t, NULL), 0);
    ck_assert_int_eq(t.lsn, (0x1All << 32) | 0xFF);
    ck_assert_int_eq(alchdb__token_parse(NULL, 5, &t, NULL), -1);
}
END_TEST

/* Every byte string of a small alphabet up to length 5, and random bytes:
 * the parser answers, never reads out of bounds (ASan/valgrind run this),
 * and what it accepts formats back to the same bytes. */
START_TEST(test_any_bytes)
{
    static const char alpha[] = {'a', '2', ':', '/', '0', 'F', '\0', '\xff'};
    char buf[8];
    int accepted = 0;
    for (int len = 0; len <= 5; len++) {
        long total = 1;
        for (int k = 0; k < len; k++)
            total *= 8;
        for (long x = 0; x < total; x++) {
            long y = x;
            for (int k = 0; k < len; k++, y /= 8)
                buf[k] = alpha[y % 8];
            alchdb__token t;
            accepted += alchdb__token_parse(buf, (size_t)len, &t, NULL) == 0;
        }
    }
    ck_assert_int_eq(accepted, 0);
    srand(12345);
    char rnd[96];
    for (int i = 0; i < 200000; i++) {
        size_t len = (size_t)(rand() % 70);
        memcpy(rnd, "alchdb2:", 8);
        for (size_t k = (i & 1) ? 8 : 0; k < len; k++)
            rnd[k] = (char)(i % 3 ? "0123456789ABCDEF:/"[rand() % 18] : rand() % 256);
        alchdb__token t;
        if (alchdb__token_parse(rnd, len, &t, NULL) == 0) {
            char back[ALCHDB__TOKEN_CAP];
            ck_assert_int_gt(alchdb__token_format(&t, back, sizeof back), 0);
            alchdb__token again;
            ck_assert_int_eq(alchdb__token_parse(back, strlen(back), &again, NULL), 0);
            ck_assert(again.sysid == t.sysid && again.timeline == t.timeline && again.lsn == t.lsn);
        }
    }
}
END_TEST

START_TEST(test_lsn_and_walfile)
{
    ck_assert_int_eq(alchdb__lsn_parse("0/0"), 0);
    ck_assert_int_eq(alchdb__lsn_parse("16/B374D848"), (0x16ll << 32) | 0xB374D848ll);
    ck_assert_int_eq(alchdb__lsn_parse("7FFFFFFF/FFFFFFFF"), INT64_MAX);
    ck_assert_int_eq(alchdb__lsn_parse("80000000/0"), -1); /* beyond any server, and the sign bit */
    ck_assert_int_eq(alchdb__lsn_parse("0/1 "), -1);
    ck_assert_int_eq(alchdb__lsn_parse("0/"), -1);
    ck_assert_int_eq(alchdb__lsn_parse(NULL), -1);
    ck_assert_int_eq(alchdb__lsn_parse("1/2:3"), -1);
    ck_assert_uint_eq(alchdb__walfile_timeline("000000020000000000000004"), 2);
    ck_assert_uint_eq(alchdb__walfile_timeline("0000000A0000000000000004"), 10);
    ck_assert_uint_eq(alchdb__walfile_timeline("00000002000000000000000"), 0);
    ck_assert_uint_eq(alchdb__walfile_timeline("0000000G0000000000000004"), 0);
    ck_assert_uint_eq(alchdb__walfile_timeline(NULL), 0);
}
END_TEST

/* Insert positions right after a page header become the page boundary (the
 * end of the last record, what a standby's replay position says); others
 * stay. 16 MiB segments, 8 KiB pages. */
START_TEST(test_insert_to_end)
{
    const int64_t seg = INT64_C(16) << 20, bs = 8192, base = INT64_C(5) * seg;
    /* a segment's first page: the long header (40; 36 with MAXALIGN 4) */
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 40, 40, bs), base);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 36, 36, bs), base);
    /* any other page: the short header (24; 20) */
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 3 * bs + 24, 3 * bs + 24, bs), base + 3 * bs);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 3 * bs + 20, 3 * bs + 20, bs), base + 3 * bs);
    /* records already on the page, or a short-header offset on the first page */
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 3 * bs + 64, 3 * bs + 64, bs), base + 3 * bs + 64);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 24, 24, bs), base + 24);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 3 * bs + 40, 3 * bs + 40, bs), base + 3 * bs + 40);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 16384 + 24, 16384 + 24, 16384), base + 16384);
    /* nonsense in, unchanged out */
    ck_assert_int_eq(alchdb__lsn_insert_to_end(-1, 40, bs), -1);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 40, -1, bs), base + 40);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(base + 40, 40, 0), base + 40);
    ck_assert_int_eq(alchdb__lsn_insert_to_end(30, 40, bs), 30);
}
END_TEST

START_TEST(test_history_parse)
{
    router_switch sw[4];
    const char *h = "1\t0/4010D00\tno recovery target specified\n"
                    "\n"
                    "# a comment\n"
                    "2\t0/5000000\tat restore point \"x\"\n"
                    "5\t1/0\n";
    ck_assert_int_eq(alchdb__timeline_history_parse(h, strlen(h), sw, 4), 3);
    ck_assert_uint_eq(sw[0].timeline, 1);
    ck_assert_int_eq(sw[0].end, 0x4010D00);
    ck_assert_uint_eq(sw[2].timeline, 5);
    ck_assert_int_eq(sw[2].end, 1ll << 32);
    /* more ancestors than room: the newest are kept */
    const char *many = "1\t0/1\n2\t0/2\n3\t0/3\n4\t0/4\n5\t0/5\n6\t0/6\n";
    ck_assert_int_eq(alchdb__timeline_history_parse(many, strlen(many), sw, 4), 4);
    ck_assert_uint_eq(sw[0].timeline, 3);
    ck_assert_uint_eq(sw[3].timeline, 6);
    ck_assert_int_eq(alchdb__timeline_history_parse("", 0, sw, 4), 0);
    static const char *const bad[] = {"x\t0/1\n", "1\t0/1\n1\t0/2\n", "2 0/2\n1 0/1\n", "1\tzz\n", "0\t0/1\n",
                                      "1\n", "99999999999\t0/1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(alchdb__timeline_history_parse(bad[i], strlen(bad[i]), sw, 4) == -1, "accepted %s", bad[i]);
}
END_TEST

/* What a token is worth against a cluster's history, on a router that is
 * never started (no server): its identity and history are set as the
 * probes would set them. */
static alchdb_router *history_router(void)
{
    alchdb_router *r;
    ck_assert_int_eq(alchdb_router_new("host=127.0.0.1 port=1 dbname=x", NULL, NULL, &r), 0);
    return r;
}

static int verdict(alchdb_router *r, uint64_t sysid, uint32_t tli, int64_t lsn, int64_t *need)
{
    alchdb__token t = {sysid, tli, lsn};
    char buf[ALCHDB__TOKEN_CAP];
    ck_assert_int_gt(alchdb__token_format(&t, buf, sizeof buf), 0);
    int v = alchdb__router_token_verdict(r, buf, need);
    int64_t need2;
    ck_assert_int_eq(alchdb__router_token_check(r, &t, &need2), v); /* one judgement, text or parsed */
    return v;
}

START_TEST(test_token_against_history)
{
    alchdb_router *r = history_router();
    int64_t need = -1;
    /* nothing known yet: never trusted */
    ck_assert_int_eq(verdict(r, 42, 1, 100, &need), ALCHDB__TOKEN_FOREIGN);
    atomic_store(&r->sysid, 42);
    ck_assert_int_eq(verdict(r, 42, 1, 100, &need), ALCHDB__TOKEN_UNVERIFIABLE);
    atomic_store(&r->timeline, 3);
    ck_assert_int_eq(verdict(r, 43, 3, 100, &need), ALCHDB__TOKEN_FOREIGN);
    ck_assert_int_eq(verdict(r, 42, 3, 0x12345, &need), ALCHDB__TOKEN_OK);
    ck_assert_int_eq(need, 0x12345);
    ck_assert_int_eq(verdict(r, 42, 4, 1, &need), ALCHDB__TOKEN_UNVERIFIABLE); /* a timeline not seen yet */
    ck_assert_int_eq(need, 0);
    ck_assert_int_eq(verdict(r, 42, 2, 1, &need), ALCHDB__TOKEN_UNVERIFIABLE); /* no history loaded */
    ck_assert(alchdb__router_history_wanted(r, 3));
    ck_assert(!alchdb__router_history_wanted(r, 2)); /* an older timeline's (an old primary still up) */
    const char *h = "1\t0/100\tno recovery target specified\n2\t0/200\tno recovery target specified\n";
    alchdb__router_set_history(r, 3, h, strlen(h));
    ck_assert(!alchdb__router_history_wanted(r, 3));
    ck_assert_int_eq(verdict(r, 42, 1, 0x100, &need), ALCHDB__TOKEN_OK); /* written before timeline 1 ended */
    ck_assert_int_eq(need, 0x100);
    ck_assert_int_eq(verdict(r, 42, 1, 0x101, &need), ALCHDB__TOKEN_LOST); /* after: lost in the failover */
    ck_assert_int_eq(verdict(r, 42, 2, 0x150, &need), ALCHDB__TOKEN_OK);
    ck_assert_int_eq(verdict(r, 42, 2, 0x201, &need), ALCHDB__TOKEN_LOST);
    ck_assert_int_eq(need, 0);
    /* a history for another timeline says nothing about this one */
    atomic_store(&r->timeline, 5);
    ck_assert_int_eq(verdict(r, 42, 1, 0x10, &need), ALCHDB__TOKEN_UNVERIFIABLE);
    /* a sibling timeline is not an ancestor; one older than the kept
     * history cannot be told */
    const char *h5 = "2\t0/200\tx\n4\t0/400\ty\n";
    alchdb__router_set_history(r, 5, h5, strlen(h5));
    ck_assert_int_eq(verdict(r, 42, 3, 0x10, &need), ALCHDB__TOKEN_LOST);
    ck_assert_int_eq(verdict(r, 42, 1, 0x10, &need), ALCHDB__TOKEN_UNVERIFIABLE);
    ck_assert_int_eq(verdict(r, 42, 4, 0x400, &need), ALCHDB__TOKEN_OK);
    /* a history the role may not read: asked once, then unverifiable */
    atomic_store(&r->timeline, 6);
    alchdb__router_set_history(r, 6, NULL, 0);
    ck_assert(!alchdb__router_history_wanted(r, 6));
    ck_assert_int_eq(verdict(r, 42, 5, 0x10, &need), ALCHDB__TOKEN_UNVERIFIABLE);
    /* a file that does not parse is treated the same */
    atomic_store(&r->timeline, 7);
    alchdb__router_set_history(r, 7, "garbage", 7);
    ck_assert(!alchdb__router_history_wanted(r, 7));
    ck_assert_int_eq(verdict(r, 42, 6, 0x10, &need), ALCHDB__TOKEN_UNVERIFIABLE);
    ck_assert_int_eq(alchdb__router_token_verdict(r, "alchdb1:42:0/1", &need), ALCHDB__TOKEN_MALFORMED);
    ck_assert_int_eq(alchdb__router_token_verdict(r, NULL, &need), ALCHDB__TOKEN_MALFORMED);
    alchdb_router_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router-token");
    TCase *tc = tcase_create("token");
    tcase_add_test(tc, test_round_trip);
    tcase_add_test(tc, test_malformed_refused);
    tcase_add_test(tc, test_any_bytes);
    tcase_add_test(tc, test_lsn_and_walfile);
    tcase_add_test(tc, test_insert_to_end);
    tcase_add_test(tc, test_history_parse);
    tcase_add_test(tc, test_token_against_history);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
