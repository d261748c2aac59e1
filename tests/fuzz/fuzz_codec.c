/* The cache entry codec (lib/cache/codec.c). The first byte picks a mode:
 *   0  decode the rest as it is (a backend may hold anything);
 *   1  the rest is a body: a valid header and checksum are put in front, and
 *      the key and dependency hash expected are the body's own, so decoding
 *      gets past the checks to the columns and rows;
 *   2  the same with the body zstd-compressed;
 *   3  round trip: a result built from the rest is encoded (compressed or
 *      not) and decoded back, and must come back identical; with one version
 *      changed it must be reported stale.
 * Properties: decode never crashes and returns 0, 1 or a documented error. */
#include <zstd.h>

#include "fuzz.h"
#include "cache/cache_internal.h"


static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void decode_check(const unsigned char *buf, size_t len, const uint8_t key[16], uint64_t deps)
{
    PGresult *res = NULL;
    int64_t us = -1;
    int rc = alchdb__cache_decode(buf, len, key, deps, 0, NULL, &res, &us);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == ALCHDB_E_PARSE || rc == ALCHDB_E_NOMEM, "decode returned %d", rc);
    if (rc < 0)
        fuzz_check_rc("alchdb__cache_decode", rc);
    FUZZ_CHECK((rc == 0) == (res != NULL), "decode %d with result %p", rc, (void *)res);
    if (res) {
        FUZZ_CHECK(us >= 0, "negative query time");
        for (int r = 0; r < PQntuples(res); r++)
            for (int c = 0; c < PQnfields(res); c++)
                (void)PQgetvalue(res, r, c);
        PQclear(res);
    }
}

static void framed(const unsigned char *body, size_t n, bool compress)
{
    unsigned char *stored = NULL;
    size_t stored_len = n;
    if (compress) {
        size_t cap = ZSTD_compressBound(n);
        stored = malloc(cap ? cap : 1);
        stored_len = ZSTD_compress(stored, cap, body, n, 1);
        if (ZSTD_isError(stored_len)) {
            free(stored);
            return;
        }
    }
    unsigned char *buf = malloc(18 + stored_len);
    memcpy(buf, "ADBC", 4);
    buf[4] = ALCHDB__CACHE_FORMAT;
    buf[5] = compress ? 1 : 0;
    memcpy(buf + 18, compress ? stored : body, stored_len);
    put_le(buf + 6, alchdb__cache_checksum(buf + 18, stored_len), 8);
    put_le(buf + 14, n, 4);
    uint8_t key[16] = {0};
    uint64_t deps = 0;
    memcpy(key, body, n < 16 ? n : 16);
    for (int i = 0; i < 8 && 16 + (size_t)i < n; i++)
        deps |= (uint64_t)body[16 + i] << (8 * i);
    decode_check(buf, 18 + stored_len, key, deps);
    free(buf);
    free(stored);
}

/* A result from the input: 1..4 columns, 0..7 rows, values cut from the
 * input by length bytes (0xff = NULL). */
static void round_trip(const unsigned char *d, size_t n)
{
    if (n < 4)
        return;
    int ncols = 1 + d[0] % 4, nrows = d[1] % 8;
    bool compress = d[2] & 1;
    size_t nver = (d[2] >> 1) % 3;
    size_t pos = 3;
    PGresAttDesc attrs[4];
    char names[4][8];
    for (int c = 0; c < ncols; c++) {
        snprintf(names[c], sizeof names[c], "c%d", c);
        attrs[c] = (PGresAttDesc){.name = names[c], .typid = 23 + (Oid)(d[3] % 5) + (Oid)c, .typlen = -1,
                                  .atttypmod = -1, .format = 0};
    }
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    if (!res || !PQsetResultAttrs(res, ncols, attrs))
        abort();
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) {
            unsigned l = pos < n ? d[pos++] : 0;
            if (l == 0xff) {
                PQsetvalue(res, r, c, NULL, -1);
                continue;
            }
            l = l % 64;
            if (l > n - pos)
                l = (unsigned)(n - pos);
            PQsetvalue(res, r, c, (char *)(d + pos), (int)l);
            pos += l;
        }
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)(d[i % n] + i);
    alchdb__cache_ver vers[2];
    memset(vers, 0, sizeof vers);
    for (size_t i = 0; i < nver; i++)
        snprintf(vers[i].v, sizeof vers[i].v, "v%zu-%u", i, d[i % n]);
    alchdb__cache_entry_in in = {.res = res, .key = key, .deps_hash = 42, .nver = nver, .vers = vers,
                                 .exec_us = (int64_t)d[1] * 1000};
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = alchdb__cache_encode(&in, compress ? 1 : 0, (size_t)1 << 20, &buf, &len);
    FUZZ_CHECK(rc == 0, "encode of a %dx%d result failed: %d %s", nrows, ncols, rc, alchdb_last_error_message());
    PGresult *back = NULL;
    int64_t us = -1;
    rc = alchdb__cache_decode(buf, len, key, 42, nver, vers, &back, &us);
    FUZZ_CHECK(rc == 0 && back, "decode of a fresh entry: %d %s", rc, alchdb_last_error_message());
    FUZZ_CHECK(us == in.exec_us, "query time %lld came back as %lld", (long long)in.exec_us, (long long)us);
    FUZZ_CHECK(PQntuples(back) == nrows && PQnfields(back) == ncols, "shape changed");
    for (int c = 0; c < ncols; c++) {
        FUZZ_CHECK(!strcmp(PQfname(back, c), names[c]), "column name changed");
        FUZZ_CHECK(PQftype(back, c) == attrs[c].typid, "column type changed");
    }
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) {
            FUZZ_CHECK(PQgetisnull(back, r, c) == PQgetisnull(res, r, c), "NULL changed at %d,%d", r, c);
            FUZZ_CHECK(PQgetlength(back, r, c) == PQgetlength(res, r, c), "length changed at %d,%d", r, c);
            FUZZ_CHECK(!memcmp(PQgetvalue(back, r, c), PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c)),
                       "value changed at %d,%d", r, c);
        }
    PQclear(back);
    if (nver) {
        vers[nver - 1].v[0] ^= 1;
        back = NULL;
        rc = alchdb__cache_decode(buf, len, key, 42, nver, vers, &back, &us);
        FUZZ_CHECK(rc == 1 && !back, "a changed version was not stale: %d", rc);
    }
    alchdb__free(buf);
    PQclear(res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const unsigned char *d = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0: {
        uint8_t key[16] = {0};
        decode_check(d, n, key, 0);
        break;
    }
    case 1: framed(d, n, false); break;
    case 2: framed(d, n, true); break;
    default: round_trip(d, n); break;
    }
    return 0;
}
