/* Query-cache keyed hash and entry codec (lib/cache/siphash.c, codec.c):
 * SipHash-2-4-128 against the reference vectors, field framing, result round
 * trips, compression, the size cap, stale detection, and decode robustness on
 * truncated, bit-flipped, random and crafted (correctly checksummed) input.
 * No server: results are built with PQmakeEmptyPGresult/PQsetResultAttrs. */
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "cache/cache_internal.h"
#include "failalloc.h"
#include "testutil.h"

/* Header layout (cache_internal.h): magic, version, flags, checksum, raw len. */
#define HDR 18
#define FLAGS_AT 5

/* ck_assert records its location on every call, success or not (through a
 * file in CK_FORK=no mode): tens of thousands of them dominate the run under
 * valgrind. Checks inside loops use this, which costs nothing until it fails. */
#define EXPECT(cond, ...)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            ck_abort_msg(__VA_ARGS__);                                         \
    } while (0)

/* ---- fixtures: every test must give back what it allocated ---------------- */

static long live_at_start;
static void count_setup(void) { live_at_start = alchdb__alloc_outstanding(); }
static void count_teardown(void)
{
    ck_assert_msg(alchdb__alloc_outstanding() == live_at_start, "leak: %ld allocation(s) outstanding",
                  alchdb__alloc_outstanding() - live_at_start);
}

/* ---- SipHash ---------------------------------------------------------------- */

/* vectors_sip128 of the reference implementation (github.com/veorq/SipHash):
 * key 00..0f, message 00..(n-1) for n = 0..63. */
static const char *const sip128_vectors[64] = {
    "a3817f04ba25a8e66df67214c7550293", /* 0 */
    "da87c1d86b99af44347659119b22fc45", /* 1 */
    "8177228da4a45dc7fca38bdef60affe4", /* 2 */
    "9c70b60c5267a94e5f33b6b02985ed51", /* 3 */
    "f88164c12d9c8faf7d0f6e7c7bcd5579", /* 4 */
    "1368875980776f8854527a07690e9627", /* 5 */
    "14eeca338b208613485ea0308fd7a15e", /* 6 */
    "a1f1ebbed8dbc153c0b84aa61ff08239", /* 7 */
    "3b62a9ba6258f5610f83e264f31497b4", /* 8 */
    "264499060ad9baabc47f8b02bb6d71ed", /* 9 */
    "00110dc378146956c95447d3f3d0fbba", /* 10 */
    "0151c568386b6677a2b4dc6f81e5dc18", /* 11 */
    "d626b266905ef35882634df68532c125", /* 12 */
    "9869e247e9c08b10d029934fc4b952f7", /* 13 */
    "31fcefac66d7de9c7ec7485fe4494902", /* 14 */
    "5493e99933b0a8117e08ec0f97cfc3d9", /* 15 */
    "6ee2a4ca67b054bbfd3315bf85230577", /* 16 */
    "473d06e8738db89854c066c47ae47740", /* 17 */
    "a426e5e423bf4885294da481feaef723", /* 18 */
    "78017731cf65fab074d5208952512eb1", /* 19 */
    "9e25fc833f2290733e9344a5e83839eb", /* 20 */
    "568e495abe525a218a2214cd3e071d12", /* 21 */
    "4a29b54552d16b9a469c10528eff0aae", /* 22 */
    "c9d184ddd5a9f5e0cf8ce29a9abf691c", /* 23 */
    "2db479ae78bd50d8882a8a178a6132ad", /* 24 */
    "8ece5f042d5e447b5051b9eacb8d8f6f", /* 25 */
    "9c0b53b4b3c307e87eaee08678141f66", /* 26 */
    "abf248af69a6eae4bfd3eb2f129eeb94", /* 27 */
    "0664da1668574b88b935f3027358aef4", /* 28 */
    "aa4b9dc4bf337de90cd4fd3c467c6ab7", /* 29 */
    "ea5c7f471faf6bde2b1ad7d4686d2287", /* 30 */
    "2939b0183223fafc1723de4f52c43d35", /* 31 */
    "7c3956ca5eeafc3e363e9d556546eb68", /* 32 */
    "77c6077146f01c32b6b69d5f4ea9ffcf", /* 33 */
    "37a6986cb8847edf0925f0f1309b54de", /* 34 */
    "a705f0e69da9a8f907241a2e923c8cc8", /* 35 */
    "3dc47d1f29c448461e9e76ed904f6711", /* 36 */
    "0d62bf01e6fc0e1a0d3c4751c5d3692b", /* 37 */
    "8c03468bca7c669ee4fd5e084bbee7b5", /* 38 */
    "528a5bb93baf2c9c4473cce5d0d22bd9", /* 39 */
    "df6a301e95c95dad97ae0cc8c6913bd8", /* 40 */
    "801189902c857f39e73591285e70b6db", /* 41 */
    "e617346ac9c231bb3650ae34ccca0c5b", /* 42 */
    "27d93437efb721aa401821dcec5adf89", /* 43 */
    "89237d9ded9c5e78d8b1c9b166cc7342", /* 44 */
    "4a6d8091bf5e7d651189fa94a250b14c", /* 45 */
    "0e33f96055e7ae893ffc0e3dcf492902", /* 46 */
    "e61c432b720b19d18ec8d84bdc63151b", /* 47 */
    "f7e5aef549f782cf379055a608269b16", /* 48 */
    "438d030fd0b7a54fa837f2ad201a6403", /* 49 */
    "a590d3ee4fbf04e3247e0d27f286423f", /* 50 */
    "5fe2c1a172fe93c4b15cd37caef9f538", /* 51 */
    "2c97325cbd06b36eb2133dd08b3a017c", /* 52 */
    "92c814227a6bca949ff0659f002ad39e", /* 53 */
    "dce850110bd8328cfbd50841d6911d87", /* 54 */
    "67f14984c7da791248e32bb5922583da", /* 55 */
    "1938f2cf72d54ee97e94166fa91d2a36", /* 56 */
    "74481e9646ed49fe0f6224301604698e", /* 57 */
    "57fca5de98a9d6d8006438d0583d8a1d", /* 58 */
    "9fecde1cefdc1cbed4763674d9575359", /* 59 */
    "e3040c00eb28f15366ca73cbd872e740", /* 60 */
    "7697009a6a831dfecca91c5993670f7a", /* 61 */
    "5853542321f567a005d547a4f04759bd", /* 62 */
    "5150d1772f50834a503e069a973fbd7c", /* 63 */
};

static void unhex(const char *hex, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        EXPECT(sscanf(hex + 2 * i, "%2x", &v) == 1, "bad hex vector");
        out[i] = (uint8_t)v;
    }
}

static const uint8_t sip_key[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

START_TEST(test_sip128_reference_vectors)
{
    uint8_t msg[64], out[16], want[16];
    for (int i = 0; i < 64; i++)
        msg[i] = (uint8_t)i;
    for (size_t n = 0; n < 64; n++) {
        unhex(sip128_vectors[n], want, 16);
        alchdb__siphash128(sip_key, msg, n, out);
        EXPECT(memcmp(out, want, 16) == 0, "one-shot SipHash-2-4-128 of %zu bytes", n);
        /* Streaming must not depend on how the input is split. */
        for (size_t cut = 0; cut <= n; cut++) {
            alchdb__sip128 s;
            alchdb__sip128_init(&s, sip_key);
            alchdb__sip128_update(&s, msg, cut);
            alchdb__sip128_update(&s, msg + cut, n - cut);
            alchdb__sip128_final(&s, out);
            EXPECT(memcmp(out, want, 16) == 0, "%zu bytes split at %zu", n, cut);
        }
        alchdb__sip128 s;
        alchdb__sip128_init(&s, sip_key);
        for (size_t i = 0; i < n; i++)
            alchdb__sip128_update(&s, msg + i, 1);
        alchdb__sip128_final(&s, out);
        EXPECT(memcmp(out, want, 16) == 0, "%zu bytes fed one at a time", n);
    }
}
END_TEST

typedef struct field {
    const char *s; /* NULL = SQL NULL */
} field;

static void hash_fields(const uint8_t key[16], const field *f, size_t n, uint8_t out[16])
{
    alchdb__sip128 s;
    alchdb__sip128_init(&s, key);
    for (size_t i = 0; i < n; i++) {
        if (f[i].s)
            alchdb__sip128_field(&s, f[i].s, strlen(f[i].s));
        else
            alchdb__sip128_null(&s);
    }
    alchdb__sip128_final(&s, out);
}

static bool fields_collide(const field *a, size_t na, const field *b, size_t nb)
{
    uint8_t ha[16], hb[16];
    hash_fields(sip_key, a, na, ha);
    hash_fields(sip_key, b, nb, hb);
    return memcmp(ha, hb, 16) == 0;
}

START_TEST(test_sip128_field_framing)
{
    ck_assert(!fields_collide((field[]){{"ab"}, {"c"}}, 2, (field[]){{"a"}, {"bc"}}, 2));
    ck_assert(!fields_collide((field[]){{NULL}}, 1, (field[]){{""}}, 1));
    ck_assert(!fields_collide((field[]){{""}}, 1, NULL, 0));
    ck_assert(!fields_collide((field[]){{"x"}, {NULL}}, 2, (field[]){{NULL}, {"x"}}, 2));
    ck_assert(fields_collide((field[]){{"ab"}, {NULL}}, 2, (field[]){{"ab"}, {NULL}}, 2));

    /* The documented framing: an 8-byte little-endian length, then the bytes;
     * NULL is the length UINT64_MAX alone. */
    uint8_t framed[16], via_field[16];
    alchdb__sip128 s;
    alchdb__sip128_init(&s, sip_key);
    alchdb__sip128_update(&s, (const uint8_t[]){3, 0, 0, 0, 0, 0, 0, 0}, 8);
    alchdb__sip128_update(&s, "abc", 3);
    alchdb__sip128_update(&s, (const uint8_t[]){0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8);
    alchdb__sip128_final(&s, framed);
    hash_fields(sip_key, (field[]){{"abc"}, {NULL}}, 2, via_field);
    ck_assert(memcmp(framed, via_field, 16) == 0);

    /* The key matters. */
    uint8_t other_key[16] = {1}, h1[16], h2[16];
    hash_fields(sip_key, (field[]){{"abc"}}, 1, h1);
    hash_fields(other_key, (field[]){{"abc"}}, 1, h2);
    ck_assert(memcmp(h1, h2, 16) != 0);
}
END_TEST

/* ---- building results ------------------------------------------------------- */

typedef struct col {
    const char *name;
    Oid type;
    int typmod;
    int format;
} col;

static PGresult *make_result(const col *cols, int ncols)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    ck_assert_ptr_nonnull(res);
    PGresAttDesc a[16];
    ck_assert_int_le(ncols, 16);
    for (int c = 0; c < ncols; c++)
        a[c] = (PGresAttDesc){.name = (char *)cols[c].name, .typid = cols[c].type, .atttypmod = cols[c].typmod,
                              .format = cols[c].format};
    ck_assert(PQsetResultAttrs(res, ncols, ncols ? a : NULL));
    return res;
}

/* len -1 = NULL, -2 = strlen(v). */
static void set_cell(PGresult *res, int row, int c, const char *v, int len)
{
    if (len == -2)
        len = (int)strlen(v);
    EXPECT(PQsetvalue(res, row, c, (char *)v, len), "PQsetvalue(%d, %d)", row, c);
}

static void assert_same_result(const PGresult *a, const PGresult *b)
{
    ck_assert_int_eq(PQresultStatus(b), PGRES_TUPLES_OK);
    ck_assert_int_eq(PQnfields(a), PQnfields(b));
    ck_assert_int_eq(PQntuples(a), PQntuples(b));
    for (int c = 0; c < PQnfields(a); c++) {
        EXPECT(strcmp(PQfname(a, c), PQfname(b, c)) == 0 && PQftype(a, c) == PQftype(b, c) &&
                   PQfmod(a, c) == PQfmod(b, c) && PQfformat(a, c) == PQfformat(b, c),
               "column %d differs", c);
    }
    for (int r = 0; r < PQntuples(a); r++) {
        for (int c = 0; c < PQnfields(a); c++) {
            EXPECT(PQgetisnull(a, r, c) == PQgetisnull(b, r, c) && PQgetlength(a, r, c) == PQgetlength(b, r, c) &&
                       memcmp(PQgetvalue(a, r, c), PQgetvalue(b, r, c), (size_t)PQgetlength(a, r, c)) == 0,
                   "cell %d,%d differs", r, c);
        }
    }
}

/* ---- entries ---------------------------------------------------------------- */

static const uint8_t entry_key[16] = {0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
#define DEPS 0x0123456789abcdefull
#define NVER 3
static alchdb__cache_ver vers[NVER] = {{"00000000000000aa:u"},
                                       {"00000000000000bb:0000000001000000"},
                                       {"00000000000000cc:u"}};

static int encode(const PGresult *res, size_t threshold, size_t max, unsigned char **out, size_t *len)
{
    alchdb__cache_entry_in in = {.res = res, .key = entry_key, .deps_hash = DEPS, .nver = NVER, .vers = vers,
                                 .exec_us = 1234};
    return alchdb__cache_encode(&in, threshold, max, out, len);
}

static int decode(const unsigned char *buf, size_t len, PGresult **res)
{
    int64_t us = -1;
    *res = NULL;
    int rc = alchdb__cache_decode(buf, len, entry_key, DEPS, NVER, vers, res, &us);
    if (rc == 0)
        EXPECT(us == 1234, "exec_us %lld", (long long)us);
    else
        EXPECT(*res == NULL, "result set on rc %d", rc);
    return rc;
}

/* Encode, decode, compare; returns the entry length. */
static size_t round_trip(const PGresult *res, size_t threshold)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(encode(res, threshold, SIZE_MAX, &buf, &len), 0);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_ge(len, HDR);
    ck_assert(memcmp(buf, "ADBC\1", 5) == 0);
    PGresult *back;
    ck_assert_int_eq(decode(buf, len, &back), 0);
    assert_same_result(res, back);
    PQclear(back);
    alchdb__free(buf);
    return len;
}

/* Three columns: text, int4 with a typmod, bytea in binary format, with
 * unicode names; NULLs, empty strings, embedded NUL bytes, unicode values. */
static PGresult *mixed_result(void)
{
    const col cols[] = {{"prénom", 25, -1, 0}, {"名前 ✓", 23, 42, 0}, {"blob", 17, -1, 1}};
    PGresult *res = make_result(cols, 3);
    set_cell(res, 0, 0, "Zoë", -2);
    set_cell(res, 0, 1, "7", -2);
    set_cell(res, 0, 2, "\0a\0b\0", 5);
    set_cell(res, 1, 0, "", 0);
    set_cell(res, 1, 1, NULL, -1);
    set_cell(res, 1, 2, "", 0);
    set_cell(res, 2, 0, NULL, -1);
    set_cell(res, 2, 1, NULL, -1);
    set_cell(res, 2, 2, NULL, -1);
    return res;
}

START_TEST(test_round_trip_mixed)
{
    PGresult *res = mixed_result();
    round_trip(res, 0);
    round_trip(res, 1); /* compressed if it pays, else stored plain */

    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(encode(res, 0, SIZE_MAX, &buf, &len), 0);
    PGresult *back;
    ck_assert_int_eq(decode(buf, len, &back), 0);
    /* NULL and "" stay apart; binary bytes survive whole. */
    ck_assert(PQgetisnull(back, 1, 1));
    ck_assert(!PQgetisnull(back, 1, 0));
    ck_assert_int_eq(PQgetlength(back, 1, 0), 0);
    ck_assert_int_eq(PQgetlength(back, 0, 2), 5);
    ck_assert(memcmp(PQgetvalue(back, 0, 2), "\0a\0b\0", 5) == 0);
    ck_assert(PQgetisnull(back, 2, 0) && PQgetisnull(back, 2, 2));
    ck_assert_int_eq(PQfformat(back, 2), 1);
    ck_assert_int_eq(PQfnumber(back, "\"名前 ✓\""), 1);
    PQclear(back);
    alchdb__free(buf);
    PQclear(res);
}
END_TEST

START_TEST(test_round_trip_empty_shapes)
{
    const col cols[] = {{"a", 25, -1, 0}, {"b", 20, -1, 0}};
    PGresult *no_rows = make_result(cols, 2);
    round_trip(no_rows, 0);
    PQclear(no_rows);

    PGresult *no_cols = make_result(NULL, 0);
    round_trip(no_cols, 0);
    PQclear(no_cols);
}
END_TEST

START_TEST(test_round_trip_10k_rows)
{
    const col cols[] = {{"id", 23, -1, 0}, {"name", 25, -1, 0}, {"note", 25, -1, 0}};
    PGresult *res = make_result(cols, 3);
    char v[32];
    for (int r = 0; r < 10000; r++) {
        snprintf(v, sizeof v, "%d", r);
        set_cell(res, r, 0, v, -2);
        snprintf(v, sizeof v, "name-%d", r * 7);
        set_cell(res, r, 1, v, -2);
        set_cell(res, r, 2, r % 3 ? "x" : NULL, r % 3 ? 1 : -1);
    }
    size_t plain = round_trip(res, 0);
    size_t packed = round_trip(res, 1024);
    ck_assert_uint_lt(packed, plain);
    PQclear(res);
}
END_TEST

static size_t raw_body_len(const unsigned char *buf)
{
    return (size_t)buf[14] | (size_t)buf[15] << 8 | (size_t)buf[16] << 16 | (size_t)buf[17] << 24;
}

START_TEST(test_compression)
{
    const col cols[] = {{"doc", 25, -1, 0}};
    PGresult *res = make_result(cols, 1);
    static char big[200000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = "lorem ipsum dolor sit amet, "[i % 28];
    set_cell(res, 0, 0, big, (int)sizeof big);

    unsigned char *plain, *packed;
    size_t plain_len, packed_len;
    ck_assert_int_eq(encode(res, 0, SIZE_MAX, &plain, &plain_len), 0);
    ck_assert_int_eq(encode(res, 4096, SIZE_MAX, &packed, &packed_len), 0);
    ck_assert_uint_eq(plain[FLAGS_AT], 0);
    ck_assert_uint_eq(packed[FLAGS_AT], 1);
    ck_assert_uint_eq(raw_body_len(plain), plain_len - HDR);
    ck_assert_uint_eq(raw_body_len(packed), plain_len - HDR); /* raw length of the body */
    ck_assert_uint_lt(packed_len, plain_len / 10);
    PGresult *back;
    ck_assert_int_eq(decode(packed, packed_len, &back), 0);
    assert_same_result(res, back);
    PQclear(back);

    /* Below the threshold: stored plain. */
    unsigned char *below;
    size_t below_len;
    ck_assert_int_eq(encode(res, plain_len, SIZE_MAX, &below, &below_len), 0);
    ck_assert_uint_eq(below[FLAGS_AT], 0);
    ck_assert_uint_eq(below_len, plain_len);

    alchdb__free(plain);
    alchdb__free(packed);
    alchdb__free(below);
    PQclear(res);
}
END_TEST

/* xorshift64*: reproducible noise for the random tests. */
static uint64_t rng_state;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

START_TEST(test_incompressible_is_stored_plain)
{
    const col cols[] = {{"noise", 17, -1, 1}};
    PGresult *res = make_result(cols, 1);
    static char noise[50000];
    rng_state = 42;
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (char)rng();
    set_cell(res, 0, 0, noise, (int)sizeof noise);
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(encode(res, 1, SIZE_MAX, &buf, &len), 0);
    ck_assert_uint_eq(buf[FLAGS_AT], 0);
    ck_assert_uint_eq(raw_body_len(buf), len - HDR);
    alchdb__free(buf);
    round_trip(res, 1);
    PQclear(res);
}
END_TEST

START_TEST(test_max_bytes)
{
    PGresult *res = mixed_result();
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(encode(res, 0, SIZE_MAX, &buf, &len), 0);
    alchdb__free(buf);

    unsigned char *exact = NULL;
    size_t exact_len = 0;
    ck_assert_int_eq(encode(res, 0, len, &exact, &exact_len), 0);
    ck_assert_uint_eq(exact_len, len);
    alchdb__free(exact);

    /* One byte short: refused, nothing allocated, outputs untouched. */
    unsigned char *none = (unsigned char *)"untouched";
    size_t none_len = 7;
    long live = alchdb__alloc_outstanding();
    ck_assert_int_eq(encode(res, 0, len - 1, &none, &none_len), ALCHDB_E_RANGE);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_RANGE);
    ck_assert_int_eq(alchdb__alloc_outstanding(), live);
    ck_assert_str_eq((const char *)none, "untouched");
    ck_assert_uint_eq(none_len, 7);
    ck_assert_int_eq(encode(res, 0, 0, &none, &none_len), ALCHDB_E_RANGE);
    ck_assert_int_eq(encode(res, 0, HDR, &none, &none_len), ALCHDB_E_RANGE);
    PQclear(res);

    /* Compressed: the cap applies to the compressed size. */
    const col cols[] = {{"doc", 25, -1, 0}};
    res = make_result(cols, 1);
    static char big[100000];
    memset(big, 'z', sizeof big);
    set_cell(res, 0, 0, big, (int)sizeof big);
    ck_assert_int_eq(encode(res, 1, SIZE_MAX, &buf, &len), 0);
    ck_assert_uint_eq(buf[FLAGS_AT], 1);
    alchdb__free(buf);
    ck_assert_int_eq(encode(res, 1, len, &buf, &len), 0); /* far below the raw size, fits */
    alchdb__free(buf);
    ck_assert_int_eq(encode(res, 1, len - 1, &none, &none_len), ALCHDB_E_RANGE);
    ck_assert_int_eq(encode(res, 0, len, &none, &none_len), ALCHDB_E_RANGE); /* uncompressed cannot fit */
    ck_assert_int_eq(alchdb__alloc_outstanding(), live);
    PQclear(res);
}
END_TEST

START_TEST(test_only_tuples_ok)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
    unsigned char *buf = NULL;
    size_t len = 0;
    ck_assert_int_eq(encode(res, 0, SIZE_MAX, &buf, &len), ALCHDB_E_INVALID);
    ck_assert_ptr_null(buf);
    PQclear(res);
}
END_TEST

START_TEST(test_negative_exec_time_is_zero)
{
    PGresult *res = mixed_result();
    alchdb__cache_entry_in in = {.res = res, .key = entry_key, .deps_hash = DEPS, .nver = NVER, .vers = vers,
                                 .exec_us = -5};
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(alchdb__cache_encode(&in, 0, SIZE_MAX, &buf, &len), 0);
    PGresult *back = NULL;
    int64_t us = -1;
    ck_assert_int_eq(alchdb__cache_decode(buf, len, entry_key, DEPS, NVER, vers, &back, &us), 0);
    ck_assert_int_eq(us, 0);
    PQclear(back);
    alchdb__free(buf);
    PQclear(res);
}
END_TEST

/* ---- stale detection -------------------------------------------------------- */

static int decode_with(const unsigned char *buf, size_t len, const uint8_t *key, uint64_t deps, size_t nver,
                       const alchdb__cache_ver *cur)
{
    PGresult *res = NULL;
    int64_t us = -1;
    int rc = alchdb__cache_decode(buf, len, key, deps, nver, cur, &res, &us);
    if (rc == 0)
        PQclear(res);
    else
        EXPECT(res == NULL && us == -1, "outputs written on rc %d", rc);
    return rc;
}

START_TEST(test_stale_detection)
{
    PGresult *res = mixed_result();
    for (size_t threshold = 0; threshold <= 1; threshold++) {
        unsigned char *buf;
        size_t len;
        ck_assert_int_eq(encode(res, threshold, SIZE_MAX, &buf, &len), 0);
        ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS, NVER, vers), 0);

        uint8_t other_key[16];
        memcpy(other_key, entry_key, 16);
        other_key[15] ^= 1;
        ck_assert_int_eq(decode_with(buf, len, other_key, DEPS, NVER, vers), 1);
        ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS ^ 1, NVER, vers), 1);
        ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS, NVER - 1, vers), 1);
        alchdb__cache_ver more[NVER + 1];
        memcpy(more, vers, sizeof vers);
        strcpy(more[NVER].v, "00000000000000dd:u");
        ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS, NVER + 1, more), 1);
        for (size_t i = 0; i < NVER; i++) {
            alchdb__cache_ver cur[NVER];
            memcpy(cur, vers, sizeof vers);
            cur[i].v[3] ^= 1; /* same length, one character off */
            ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS, NVER, cur), 1);
            memcpy(cur, vers, sizeof vers);
            strcat(cur[i].v, "0"); /* a prefix is not a match */
            ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS, NVER, cur), 1);
            memcpy(cur, vers, sizeof vers);
            cur[i].v[0] = '\0'; /* version key now absent */
            ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS, NVER, cur), 1);
        }
        alchdb__free(buf);
    }

    /* An absent version key proves nothing, even if the entry recorded it
     * absent too. */
    alchdb__cache_ver absent[NVER];
    memcpy(absent, vers, sizeof vers);
    absent[1].v[0] = '\0';
    alchdb__cache_entry_in in = {.res = res, .key = entry_key, .deps_hash = DEPS, .nver = NVER, .vers = absent};
    unsigned char *buf;
    size_t len;
    ck_assert_int_eq(alchdb__cache_encode(&in, 0, SIZE_MAX, &buf, &len), 0);
    ck_assert_int_eq(decode_with(buf, len, entry_key, DEPS, NVER, absent), 1);
    alchdb__free(buf);
    PQclear(res);
}
END_TEST

/* ---- corrupt input ---------------------------------------------------------- */

static void assert_parse(const unsigned char *buf, size_t len, const char *what)
{
    PGresult *res;
    alchdb_clear_error();
    int rc = decode(buf, len, &res);
    EXPECT(rc == ALCHDB_E_PARSE && alchdb_last_error_code() == ALCHDB_E_PARSE, "%s: rc %d", what, rc);
    EXPECT(strstr(alchdb_last_error_message(), "cache entry"), "%s: message '%s'", what,
           alchdb_last_error_message());
}

/* A small entry (about 200 bytes) to mutate. */
static unsigned char *small_entry(size_t threshold, size_t *len)
{
    PGresult *res = mixed_result();
    for (int r = 3; r < 8; r++)
        set_cell(res, r, 0, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -2);
    unsigned char *buf;
    ck_assert_int_eq(encode(res, threshold, SIZE_MAX, &buf, len), 0);
    PQclear(res);
    return buf;
}

START_TEST(test_header_errors)
{
    size_t len;
    unsigned char *good = small_entry(0, &len);
    unsigned char *b = alchdb__malloc(len);
    assert_parse(NULL, 0, "empty");

    memcpy(b, good, len);
    b[0] = 'X';
    assert_parse(b, len, "magic");

    memcpy(b, good, len);
    b[4] = 2;
    assert_parse(b, len, "version");
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "version"));

    memcpy(b, good, len);
    b[FLAGS_AT] = 0x02;
    assert_parse(b, len, "unknown flag");

    memcpy(b, good, len);
    b[6] ^= 0x80;
    assert_parse(b, len, "checksum");
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "checksum"));

    memcpy(b, good, len);
    b[len - 1] ^= 0x01;
    assert_parse(b, len, "body byte");

    alchdb__free(b);
    alchdb__free(good);
}
END_TEST

START_TEST(test_every_truncation)
{
    for (size_t threshold = 0; threshold <= 1; threshold++) {
        size_t len;
        unsigned char *good = small_entry(threshold, &len);
        ck_assert_uint_eq(good[FLAGS_AT], threshold); /* both kinds really tested */
        for (size_t n = 0; n < len; n++) {
            /* A copy of exactly n bytes, so ASan/valgrind see any over-read. */
            unsigned char *b = alchdb__malloc(n);
            memcpy(b, good, n);
            assert_parse(b, n, "truncated");
            alchdb__free(b);
        }
        alchdb__free(good);
    }
}
END_TEST

START_TEST(test_every_bit_flip)
{
    for (size_t threshold = 0; threshold <= 1; threshold++) {
        size_t len;
        unsigned char *good = small_entry(threshold, &len);
        ck_assert_uint_le(len, 400);
        unsigned char *b = alchdb__malloc(len);
        for (size_t bit = 0; bit < len * 8; bit++) {
            memcpy(b, good, len);
            b[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            assert_parse(b, len, "bit flip");
        }
        alchdb__free(b);
        alchdb__free(good);
    }
}
END_TEST

START_TEST(test_random_buffers)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 3000; i++) {
        size_t n = (size_t)(rng() % 300);
        unsigned char *b = alchdb__malloc(n);
        for (size_t j = 0; j < n; j++)
            b[j] = (unsigned char)rng();
        /* Half get a valid magic and version, to reach the later checks. */
        if (i % 2 && n >= 6) {
            memcpy(b, "ADBC\1", 5);
            b[FLAGS_AT] &= 1;
        }
        assert_parse(b, n, "random");
        alchdb__free(b);
    }
}
END_TEST

/* ---- crafted entries: correct checksum, hostile body ------------------------ */

/* The checksum stops accidental damage before the body parser; these entries
 * carry a correct checksum so the parser itself meets the hostile lengths. */
typedef struct craft {
    unsigned char b[32768];
    size_t n;
} craft;

static void c_bytes(craft *c, const void *p, size_t n)
{
    EXPECT(c->n + n <= sizeof c->b, "craft buffer too small");
    memcpy(c->b + c->n, p, n);
    c->n += n;
}

static void c_le(craft *c, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char byte = (unsigned char)(v >> (8 * i));
        c_bytes(c, &byte, 1);
    }
}

static void c_varint(craft *c, uint64_t v)
{
    for (; v >= 0x80; v >>= 7)
        c_le(c, (v & 0x7f) | 0x80, 1);
    c_le(c, v, 1);
}

static void c_str(craft *c, const char *s)
{
    c_varint(c, strlen(s));
    c_bytes(c, s, strlen(s));
}

/* Key, deps and versions matching what decode() expects, then exec_us. */
static void c_prefix(craft *c)
{
    c->n = 0;
    c_bytes(c, entry_key, 16);
    c_le(c, DEPS, 8);
    c_varint(c, NVER);
    for (int i = 0; i < NVER; i++)
        c_str(c, vers[i].v);
    c_varint(c, 1234);
}

static void c_column(craft *c, const char *name, int format)
{
    c_str(c, name);
    c_le(c, 25, 4);
    c_le(c, UINT32_MAX, 4);
    c_le(c, (uint64_t)format, 1);
}

/* Header + body with a correct checksum; returns the entry length. */
static size_t seal(const craft *body, unsigned flags, uint64_t raw_len, unsigned char *out)
{
    memcpy(out, "ADBC\1", 5);
    out[FLAGS_AT] = (unsigned char)flags;
    uint64_t sum = alchdb__cache_checksum(body->b, body->n);
    for (int i = 0; i < 8; i++)
        out[6 + i] = (unsigned char)(sum >> (8 * i));
    for (int i = 0; i < 4; i++)
        out[14 + i] = (unsigned char)(raw_len >> (8 * i));
    memcpy(out + HDR, body->b, body->n);
    return HDR + body->n;
}

static int decode_crafted(const craft *body)
{
    unsigned char *e = alchdb__malloc(HDR + body->n);
    size_t len = seal(body, 0, body->n, e);
    PGresult *res;
    int rc = decode(e, len, &res);
    PQclear(res);
    alchdb__free(e);
    return rc;
}

START_TEST(test_crafted_bodies)
{
    craft c;
    /* The builder itself is right: a well-formed body decodes. */
    c_prefix(&c);
    c_varint(&c, 1);
    c_column(&c, "a", 0);
    c_varint(&c, 2);
    c_varint(&c, 0);
    c_varint(&c, 3);
    c_bytes(&c, "hi", 2);
    ck_assert_int_eq(decode_crafted(&c), 0);

    c.n--; /* the row data is one byte short */
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    for (int i = 0; i < 10; i++)
        c_le(&c, 0xff, 1); /* a varint past 64 bits */
    c_le(&c, 0x01, 1);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c.n = 0; /* a 10-byte varint whose last byte carries bits past 63 */
    c_bytes(&c, entry_key, 16);
    c_le(&c, DEPS, 8);
    c_varint(&c, NVER);
    for (int i = 0; i < NVER; i++)
        c_str(&c, vers[i].v);
    for (int i = 0; i < 9; i++)
        c_le(&c, 0x80, 1);
    c_le(&c, 0x02, 1); /* 2 << 63: would wrap to exec_us 0 */
    c_varint(&c, 0);
    c_varint(&c, 0);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, UINT64_MAX); /* columns */
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 1000000); /* more columns than bytes */
    for (int i = 0; i < 50; i++)
        c_column(&c, "", 0);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 1);
    c_column(&c, "a", 0);
    c_varint(&c, (uint64_t)1 << 40); /* rows */
    c_varint(&c, 0);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 1);
    c_column(&c, "a", 0);
    c_varint(&c, 1);
    c_varint(&c, (uint64_t)1 << 62); /* a value longer than the entry */
    c_bytes(&c, "xyz", 3);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 1);
    c_varint(&c, 1000); /* a name longer than the entry */
    c_bytes(&c, "abc", 3);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 1);
    c_bytes(&c, "\x03" "a\0b", 4); /* a name with a NUL byte */
    c_le(&c, 25, 4);
    c_le(&c, 0, 4);
    c_le(&c, 0, 1);
    c_varint(&c, 0);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 1);
    c_column(&c, "a", 2); /* no such format */
    c_varint(&c, 0);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 0);
    c_varint(&c, 5); /* rows without columns */
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c_prefix(&c);
    c_varint(&c, 0);
    c_varint(&c, 0);
    c_le(&c, 0, 1); /* trailing byte */
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c.n = 0; /* exec_us over INT64_MAX */
    c_bytes(&c, entry_key, 16);
    c_le(&c, DEPS, 8);
    c_varint(&c, NVER);
    for (int i = 0; i < NVER; i++)
        c_str(&c, vers[i].v);
    c_varint(&c, UINT64_MAX);
    c_varint(&c, 0);
    c_varint(&c, 0);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c.n = 0; /* a version length past the end */
    c_bytes(&c, entry_key, 16);
    c_le(&c, DEPS, 8);
    c_varint(&c, NVER);
    c_varint(&c, 500);
    c_bytes(&c, "0000", 4);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);

    c.n = 10; /* shorter than a key */
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);
}
END_TEST

/* PostgreSQL returns at most 1664 columns; neither side goes beyond. */
static PGresult *wide_result(int ncols)
{
    static PGresAttDesc a[1665];
    ck_assert_int_le(ncols, 1665);
    for (int c = 0; c < ncols; c++)
        a[c] = (PGresAttDesc){.name = "c", .typid = 25, .atttypmod = -1};
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    ck_assert(PQsetResultAttrs(res, ncols, a));
    return res;
}

START_TEST(test_column_limit)
{
    PGresult *res = wide_result(1664);
    set_cell(res, 0, 1663, "last", -2);
    round_trip(res, 0);
    PQclear(res);

    res = wide_result(1665);
    unsigned char *buf = NULL;
    size_t len;
    ck_assert_int_eq(encode(res, 0, SIZE_MAX, &buf, &len), ALCHDB_E_RANGE);
    ck_assert_ptr_null(buf);
    PQclear(res);

    craft c;
    c_prefix(&c);
    c_varint(&c, 1665);
    for (int i = 0; i < 1665; i++)
        c_column(&c, "c", 0);
    c_varint(&c, 0);
    ck_assert_int_eq(decode_crafted(&c), ALCHDB_E_PARSE);
}
END_TEST

/* Every byte of a valid body replaced by a few values, resealed: decode may
 * find it stale, corrupt or (rarely) still valid, but must stay in bounds. */
START_TEST(test_crafted_byte_mutations)
{
    craft good;
    c_prefix(&good);
    c_varint(&good, 2);
    c_column(&good, "col", 0);
    c_column(&good, "b", 1);
    c_varint(&good, 3);
    for (int r = 0; r < 3; r++) {
        c_varint(&good, 0);
        c_str(&good, "value"); /* varint len then bytes: len + 1 is wanted */
    }
    static const unsigned char repl[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    int outcomes[2] = {0, 0};
    for (size_t i = 0; i < good.n; i++) {
        for (size_t k = 0; k < sizeof repl; k++) {
            craft c = good;
            c.b[i] = repl[k];
            int rc = decode_crafted(&c);
            EXPECT(rc == 0 || rc == 1 || rc == ALCHDB_E_PARSE, "byte %zu = %02x: rc %d", i, repl[k], rc);
            outcomes[rc == 1]++;
        }
    }
    ck_assert_int_gt(outcomes[1], 0); /* the key/version bytes give stale */
}
END_TEST

START_TEST(test_zstd_lies)
{
    craft body;
    c_prefix(&body);
    c_varint(&body, 0);
    c_varint(&body, 0);
    unsigned char e[HDR + 1024];

    /* Stored plain but flagged compressed. */
    size_t len = seal(&body, 1, body.n, e);
    assert_parse(e, len, "not zstd");

    /* Plain body whose header claims another length. */
    len = seal(&body, 0, body.n + 1, e);
    assert_parse(e, len, "raw length");

    /* Over the 256 MiB ceiling, and far beyond any zstd ratio. */
    len = seal(&body, 1, ((uint64_t)256 << 20) + 1, e);
    assert_parse(e, len, "huge raw length");
    len = seal(&body, 1, (uint64_t)200 << 20, e);
    assert_parse(e, len, "impossible ratio");

    /* A real frame whose size disagrees with the header. */
    size_t elen;
    unsigned char *real = small_entry(1, &elen);
    ck_assert_uint_eq(real[FLAGS_AT], 1);
    craft frame = {.n = elen - HDR};
    memcpy(frame.b, real + HDR, frame.n);
    len = seal(&frame, 1, raw_body_len(real) - 1, e);
    assert_parse(e, len, "frame size");
    len = seal(&frame, 1, raw_body_len(real) + 1, e);
    assert_parse(e, len, "frame size");
    len = seal(&frame, 1, raw_body_len(real), e);
    PGresult *res;
    ck_assert_int_eq(decode(e, len, &res), 0); /* resealing itself is sound */
    PQclear(res);
    alchdb__free(real);

    /* A frame without a content size is valid zstd; its output must still
     * have exactly the header's length. */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ck_assert_ptr_nonnull(cc);
    ck_assert(!ZSTD_isError(ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0)));
    craft unsized;
    unsized.n = ZSTD_compress2(cc, unsized.b, sizeof unsized.b, body.b, body.n);
    ZSTD_freeCCtx(cc);
    ck_assert(!ZSTD_isError(unsized.n));
    ck_assert_uint_eq(ZSTD_getFrameContentSize(unsized.b, unsized.n), ZSTD_CONTENTSIZE_UNKNOWN);
    len = seal(&unsized, 1, body.n, e);
    ck_assert_int_eq(decode(e, len, &res), 0);
    PQclear(res);
    len = seal(&unsized, 1, body.n + 1, e);
    assert_parse(e, len, "short frame");
}
END_TEST

/* ---- allocations: bounded, and every failure handled ------------------------ */


static void recording_allocator(bool on)
{
    ck_assert_int_eq(alchdb_set_allocator(on ? &failalloc : NULL), 0);
    failalloc_arm(-1);
}

/* A zstd frame that claims 200 MiB of content but holds one 128 KiB RLE
 * block: decode must see the lie from the sizes alone, before allocating. */
START_TEST(test_zstd_bomb_is_not_allocated)
{
    craft frame = {.n = 0};
    c_le(&frame, 0xFD2FB528u, 4); /* zstd magic */
    c_le(&frame, 0xA0, 1);        /* single segment, 4-byte content size */
    c_le(&frame, (uint64_t)200 << 20, 4);
    c_le(&frame, 1u | (1u << 1) | ((uint64_t)(128 << 10) << 3), 3); /* last block, RLE, 128 KiB */
    c_le(&frame, 0, 1);
    unsigned char e[HDR + 64];
    size_t len = seal(&frame, 1, (uint64_t)200 << 20, e);
    recording_allocator(true);
    assert_parse(e, len, "bomb");
    ck_assert_uint_lt(failalloc_biggest, 4096);
    recording_allocator(false);
}
END_TEST

/* Fails each allocation of fn in turn until fn no longer needs the failed
 * one: every failure must surface as ALCHDB_E_NOMEM (or be absorbed, as the
 * optional shrink is) and leak nothing. Returns how many were tried. */
static long fail_each_allocation(int (*fn)(void))
{
    long n;
    for (n = 1;; n++) {
        recording_allocator(true);
        failalloc_at = n;
        int rc = fn();
        long used = failalloc_calls;
        recording_allocator(false); /* refuses while anything is still live */
        ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "allocation %ld failed: rc %d", n, rc);
        if (used < n)
            return n - 1;
    }
}

static int encode_decode(size_t threshold)
{
    PGresult *res = mixed_result();
    for (int r = 3; r < 40; r++)
        set_cell(res, r, 0, "compressible compressible compressible", -2);
    unsigned char *buf;
    size_t len;
    int rc = encode(res, threshold, SIZE_MAX, &buf, &len);
    if (rc == 0) {
        ck_assert_uint_eq(buf[FLAGS_AT], threshold ? 1 : 0);
        PGresult *back;
        rc = decode(buf, len, &back);
        if (rc == 0)
            assert_same_result(res, back);
        PQclear(back);
        alchdb__free(buf);
    }
    PQclear(res);
    return rc;
}
static int encode_decode_plain(void) { return encode_decode(0); }
static int encode_decode_zstd(void) { return encode_decode(1); }

START_TEST(test_allocation_failures)
{
    ck_assert_int_ge(fail_each_allocation(encode_decode_plain), 2);
    ck_assert_int_ge(fail_each_allocation(encode_decode_zstd), 5);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache-codec");
    TCase *tc = tcase_create("codec");
    tcase_add_checked_fixture(tc, count_setup, count_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_sip128_reference_vectors);
    tcase_add_test(tc, test_sip128_field_framing);
    tcase_add_test(tc, test_round_trip_mixed);
    tcase_add_test(tc, test_round_trip_empty_shapes);
    tcase_add_test(tc, test_round_trip_10k_rows);
    tcase_add_test(tc, test_compression);
    tcase_add_test(tc, test_incompressible_is_stored_plain);
    tcase_add_test(tc, test_max_bytes);
    tcase_add_test(tc, test_only_tuples_ok);
    tcase_add_test(tc, test_negative_exec_time_is_zero);
    tcase_add_test(tc, test_stale_detection);
    tcase_add_test(tc, test_header_errors);
    tcase_add_test(tc, test_every_truncation);
    tcase_add_test(tc, test_every_bit_flip);
    tcase_add_test(tc, test_random_buffers);
    tcase_add_test(tc, test_crafted_bodies);
    tcase_add_test(tc, test_column_limit);
    tcase_add_test(tc, test_crafted_byte_mutations);
    tcase_add_test(tc, test_zstd_lies);
    tcase_add_test(tc, test_zstd_bomb_is_not_allocated);
    tcase_add_test(tc, test_allocation_failures);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
