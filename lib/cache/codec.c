/* Binary encoding of cache entries (layout in cache_internal.h).
 *
 * Both directions sit on the cache's hit/fill path, so encode sizes the entry
 * exactly before writing it in one buffer, and decode checks the cheap things
 * (header, checksum, key, versions) before building any PGresult. Decode
 * treats its input as hostile: a backend may hold anything (another program's
 * value, a truncated write, a crafted entry), so every length is checked
 * against the bytes that remain before it is used or allocated. */
#include <string.h>
#include <zstd.h>

#include "cache/cache_internal.h"

/* magic (4), format version (1), flags (1), checksum (8), raw body length (4) */
#define HDR_LEN 18
#define FLAG_ZSTD 0x01u
/* Bodies larger than this are refused both ways: a cached result that big is
 * not worth caching, and decode never allocates more for one entry. */
#define BODY_MAX ((size_t)256 << 20)
/* A zstd block header is 3 bytes and the smallest block that produces output
 * (RLE) is 4 bytes for at most 128 KiB: no frame decodes to more than this
 * many times its own size, so a larger claimed raw length is a lie. */
#define ZSTD_MAX_RATIO 32768u
/* Smallest encoding of one column: empty name (1), oid (4), typmod (4),
 * format (1). Bounds ncols by the bytes left before anything is allocated. */
#define COL_MIN_LEN 10
/* A server sends at most 1664 columns (MaxTupleAttributeNumber). */
#define COLS_MAX 1664
/* libpq spends 16 bytes per cell besides the value: capping the cells keeps
 * a small body of NULLs (a few KiB once compressed) from becoming a
 * multi-GiB PGresult. 16 Mi cells is far beyond anything worth caching. */
#define CELLS_MAX ((uint64_t)16 << 20)

static const unsigned char MAGIC[4] = {'A', 'D', 'B', 'C'};

/* ---- little-endian integers and varints ------------------------------------ */

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* Checksum of the stored bytes: four independent multiply-xorshift lanes of
 * 16 bytes each, so the CPU overlaps the multiplies (a single chain is about
 * three times slower; for a 16 KB hit it was a tenth of the cost), folded
 * with alchdb__hash64 of the lanes and the tail. */
__extension__ typedef unsigned __int128 u128;

uint64_t alchdb__cache_checksum(const unsigned char *p, size_t len)
{
    uint64_t lane[4] = {0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull, 0x2545f4914f6cdd1dull};
    size_t i = 0;
    for (; i + 64 <= len; i += 64) {
        for (int k = 0; k < 4; k++) {
            uint64_t a, b; /* native loads: entries are read by hosts of one byte order */
            memcpy(&a, p + i + 16 * (size_t)k, 8);
            memcpy(&b, p + i + 16 * (size_t)k + 8, 8);
            u128 r = (u128)(a ^ lane[k]) * (b ^ 0xd6e8feb86659fd93ull ^ (uint64_t)k);
            lane[k] = (uint64_t)r ^ (uint64_t)(r >> 64);
        }
    }
    uint64_t h = alchdb__hash64(lane, sizeof lane, ALCHDB__CACHE_FORMAT);
    return alchdb__hash64(p + i, len - i, h ^ (uint64_t)len);
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static unsigned char *put_varint(unsigned char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (unsigned char)v;
    return p;
}

/* ---- encode ---------------------------------------------------------------- */

/* strnlen: a token that fills its array has no terminator to stop at. */
static size_t ver_len(const alchdb__cache_ver *v) { return strnlen(v->v, sizeof v->v); }

static uint64_t exec_us_field(int64_t exec_us) { return exec_us > 0 ? (uint64_t)exec_us : 0; }

/* Exact size of the raw body. */
static size_t body_size(const alchdb__cache_entry_in *in, int ncols, int nrows)
{
    const PGresult *res = in->res;
    size_t n = 16 + 8 + varint_len(in->nver);
    for (size_t i = 0; i < in->nver; i++) {
        size_t l = ver_len(&in->vers[i]);
        n += varint_len(l) + l;
    }
    n += varint_len(exec_us_field(in->exec_us)) + varint_len((uint64_t)ncols);
    for (int c = 0; c < ncols; c++) {
        size_t l = strlen(PQfname(res, c));
        n += varint_len(l) + l + 4 + 4 + 1;
    }
    n += varint_len((uint64_t)nrows);
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            if (PQgetisnull(res, r, c)) {
                n += 1;
            } else {
                size_t l = (size_t)PQgetlength(res, r, c);
                n += varint_len(l + 1) + l;
            }
        }
    }
    return n;
}

static void write_body(const alchdb__cache_entry_in *in, int ncols, int nrows, unsigned char *p)
{
    const PGresult *res = in->res;
    memcpy(p, in->key, 16);
    put_le(p + 16, in->deps_hash, 8);
    p = put_varint(p + 24, in->nver);
    for (size_t i = 0; i < in->nver; i++) {
        size_t l = ver_len(&in->vers[i]);
        p = put_varint(p, l);
        memcpy(p, in->vers[i].v, l);
        p += l;
    }
    p = put_varint(p, exec_us_field(in->exec_us));
    p = put_varint(p, (uint64_t)ncols);
    for (int c = 0; c < ncols; c++) {
        const char *name = PQfname(res, c);
        size_t l = strlen(name);
        p = put_varint(p, l);
        memcpy(p, name, l);
        p += l;
        put_le(p, PQftype(res, c), 4);
        put_le(p + 4, (uint32_t)PQfmod(res, c), 4);
        p[8] = (unsigned char)PQfformat(res, c);
        p += 9;
    }
    p = put_varint(p, (uint64_t)nrows);
    for (int r = 0; r < nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            if (PQgetisnull(res, r, c)) {
                *p++ = 0;
                continue;
            }
            size_t l = (size_t)PQgetlength(res, r, c);
            p = put_varint(p, l + 1);
            memcpy(p, PQgetvalue(res, r, c), l);
            p += l;
        }
    }
}

static void write_header(unsigned char *out, unsigned flags, size_t stored_len, size_t raw_len)
{
    memcpy(out, MAGIC, 4);
    out[4] = ALCHDB__CACHE_FORMAT;
    out[5] = (unsigned char)flags;
    put_le(out + 6, alchdb__cache_checksum(out + HDR_LEN, stored_len), 8);
    put_le(out + 14, raw_len, 4);
}

static int encode_plain(const alchdb__cache_entry_in *in, int ncols, int nrows, size_t raw, size_t max_bytes,
                        unsigned char **out, size_t *out_len)
{
    if (raw > max_bytes - HDR_LEN)
        return alchdb__error(ALCHDB_E_RANGE, "cache entry of %zu bytes exceeds the limit of %zu", HDR_LEN + raw,
                             max_bytes);
    unsigned char *buf = alchdb__malloc(HDR_LEN + raw);
    if (!buf)
        return alchdb__nomem("cache entry");
    write_body(in, ncols, nrows, buf + HDR_LEN);
    write_header(buf, 0, raw, raw);
    *out = buf;
    *out_len = HDR_LEN + raw;
    return 0;
}

/* The body is built in a scratch buffer and compressed behind the header of
 * the output. When compression does not pay (incompressible data) the raw
 * body is stored instead. zstd gets its full bound: under a tighter buffer it
 * may fail where the entry would fit, and whether an entry fits must not
 * depend on that. */
static int encode_zstd(const alchdb__cache_entry_in *in, int ncols, int nrows, size_t raw, size_t max_bytes,
                       unsigned char **out, size_t *out_len)
{
    size_t cap = ZSTD_compressBound(raw);
    unsigned char *body = alchdb__malloc(raw);
    unsigned char *buf = alchdb__malloc(HDR_LEN + cap);
    if (!body || !buf) {
        alchdb__free(body);
        alchdb__free(buf);
        return alchdb__nomem("cache entry");
    }
    write_body(in, ncols, nrows, body);
    size_t stored = ZSTD_compress(buf + HDR_LEN, cap, body, raw, 1);
    unsigned flags = FLAG_ZSTD;
    if (ZSTD_isError(stored) || stored >= raw) {
        memcpy(buf + HDR_LEN, body, raw);
        stored = raw;
        flags = 0;
    }
    alchdb__free(body);
    if (stored > max_bytes - HDR_LEN) {
        alchdb__free(buf);
        return alchdb__error(ALCHDB_E_RANGE, "cache entry of %zu bytes (compressed) exceeds the limit of %zu",
                             HDR_LEN + stored, max_bytes);
    }
    write_header(buf, flags, stored, raw);
    /* Give back the unused part of the bound (cached entries live long). */
    unsigned char *shrunk = alchdb__realloc(buf, HDR_LEN + stored);
    *out = shrunk ? shrunk : buf;
    *out_len = HDR_LEN + stored;
    return 0;
}

int alchdb__cache_encode(const alchdb__cache_entry_in *in, size_t compress_threshold, size_t max_bytes,
                         unsigned char **out, size_t *out_len)
{
    ALCHDB_CHECK_ARG(in && in->res && in->key && out && out_len, "in", "entry, result, key and outputs are required");
    ALCHDB_CHECK_ARG(in->vers || !in->nver, "in->vers", "must not be NULL when nver > 0");
    if (PQresultStatus(in->res) != PGRES_TUPLES_OK)
        return alchdb__error(ALCHDB_E_INVALID, "cache entry: only PGRES_TUPLES_OK results are cached (got %s)",
                             PQresStatus(PQresultStatus(in->res)));
    int ncols = PQnfields(in->res), nrows = PQntuples(in->res);
    /* libpq can build rows only through a column (PQsetvalue), so a decoded
     * entry could not give these rows back: refuse rather than lose them. */
    if (ncols == 0 && nrows > 0)
        return alchdb__error(ALCHDB_E_INVALID, "cache entry: a result with rows but no columns cannot be cached");
    /* What decode would refuse is not worth the work of encoding. */
    if (ncols > COLS_MAX || (uint64_t)nrows * (uint64_t)ncols > CELLS_MAX)
        return alchdb__error(ALCHDB_E_RANGE, "cache entry: %d rows x %d columns is over the limit", nrows, ncols);
    if (max_bytes < HDR_LEN)
        return alchdb__error(ALCHDB_E_RANGE, "cache entry: a limit of %zu bytes is smaller than the header",
                             max_bytes);
    size_t raw = body_size(in, ncols, nrows);
    if (raw > BODY_MAX)
        return alchdb__error(ALCHDB_E_RANGE, "cache entry body of %zu bytes exceeds the format's limit of %zu",
                             raw, BODY_MAX);
    if (compress_threshold && raw >= compress_threshold)
        return encode_zstd(in, ncols, nrows, raw, max_bytes, out, out_len);
    return encode_plain(in, ncols, nrows, raw, max_bytes, out, out_len);
}

/* ---- decode ---------------------------------------------------------------- */

/* A bounds-checked cursor over the raw body. */
typedef struct reader {
    const unsigned char *p, *end;
} reader;

static int corrupt(const char *what) { return alchdb__error(ALCHDB_E_PARSE, "corrupt cache entry: %s", what); }

/* n is 64-bit so that a length from a varint is checked before any cast. */
static bool rd_bytes(reader *r, uint64_t n, const unsigned char **out)
{
    if (n > (uint64_t)(r->end - r->p))
        return false;
    *out = r->p;
    r->p += (size_t)n;
    return true;
}

/* LEB128, at most 10 bytes, and the 10th may only carry bit 63. */
static bool rd_varint(reader *r, uint64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        unsigned char b = *r->p++;
        if (shift == 63 && b > 1)
            return false;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* A varint that counts items still to come: it can never exceed what
 * remains divided by the smallest size of one item. */
static bool rd_count(reader *r, size_t item_min, uint64_t *out)
{
    return rd_varint(r, out) && *out <= (uint64_t)(r->end - r->p) / item_min;
}

/* Header and checksum of the stored bytes; yields the flags and the raw
 * (uncompressed) body length. */
static int check_header(const unsigned char *buf, size_t len, unsigned *flags, size_t *raw_len)
{
    if (len < HDR_LEN)
        return corrupt("shorter than its header");
    if (memcmp(buf, MAGIC, 4) != 0)
        return corrupt("bad magic (not a cache entry)");
    if (buf[4] != ALCHDB__CACHE_FORMAT)
        return alchdb__error(ALCHDB_E_PARSE, "cache entry of unknown format version %u (this build reads %u)",
                             buf[4], ALCHDB__CACHE_FORMAT);
    *flags = buf[5];
    if (*flags & ~FLAG_ZSTD)
        return corrupt("unknown flags");
    if (get_le(buf + 6, 8) != alchdb__cache_checksum(buf + HDR_LEN, len - HDR_LEN))
        return corrupt("checksum mismatch");
    *raw_len = (size_t)get_le(buf + 14, 4);
    if (*raw_len > BODY_MAX)
        return corrupt("body length over the limit");
    return 0;
}

/* Decompress into a new buffer of exactly raw_len bytes. The frame's own
 * content size (if any) is no better evidence than the header's, so the
 * only check before allocating is the ratio zstd can physically reach. */
static int inflate_body(const unsigned char *src, size_t src_len, size_t raw_len, unsigned char **out)
{
    if (raw_len / ZSTD_MAX_RATIO > src_len)
        return corrupt("compressed body claims an impossible size");
    unsigned char *dst = alchdb__malloc(raw_len);
    if (!dst)
        return alchdb__nomem("cache entry body");
    size_t got = ZSTD_decompress(dst, raw_len, src, src_len);
    if (ZSTD_isError(got) || got != raw_len) {
        alchdb__free(dst);
        return corrupt("compressed body does not decompress");
    }
    *out = dst;
    return 0;
}

/* Key, deps hash and versions: 0 current, 1 stale, ALCHDB_E_PARSE. An absent
 * current version (empty token) proves nothing, so it is stale too. */
static int check_current(reader *r, const uint8_t key[16], uint64_t deps_hash, size_t nver,
                         const alchdb__cache_ver *cur)
{
    const unsigned char *k, *d;
    uint64_t n;
    if (!rd_bytes(r, 16, &k) || !rd_bytes(r, 8, &d) || !rd_count(r, 1, &n))
        return corrupt("truncated key or versions");
    if (memcmp(k, key, 16) != 0 || get_le(d, 8) != deps_hash || n != nver)
        return 1;
    for (size_t i = 0; i < nver; i++) {
        uint64_t l;
        const unsigned char *v;
        if (!rd_varint(r, &l) || !rd_bytes(r, l, &v))
            return corrupt("truncated version");
        if (!cur[i].v[0] || l != ver_len(&cur[i]) || memcmp(v, cur[i].v, (size_t)l) != 0)
            return 1;
    }
    return 0;
}

/* One column description: name, then oid, typmod and format ("fix"). */
static bool rd_column(reader *r, const unsigned char **name, size_t *name_len, const unsigned char **fix)
{
    uint64_t l;
    if (!rd_varint(r, &l) || !rd_bytes(r, l, name) || !rd_bytes(r, 9, fix))
        return false;
    *name_len = (size_t)l;
    /* A name is a C string for libpq; libpq's formats are text and binary. */
    return !memchr(*name, 0, *name_len) && (*fix)[8] <= 1;
}

/* Column descriptions, in one owned block: the array, then the names as the
 * C strings PQsetResultAttrs wants. A first pass over a copy of the cursor
 * validates them and sizes the block exactly. */
static int read_columns(reader *r, int *ncols, PGresAttDesc **attrs)
{
    uint64_t n;
    if (!rd_count(r, COL_MIN_LEN, &n) || n > COLS_MAX)
        return corrupt("bad column count");
    const unsigned char *name, *fix;
    size_t l, names_len = 0;
    reader scan = *r;
    for (size_t c = 0; c < n; c++) {
        if (!rd_column(&scan, &name, &l, &fix))
            return corrupt("bad column description");
        names_len += l + 1;
    }
    *ncols = (int)n;
    *attrs = NULL;
    if (n == 0)
        return 0;
    PGresAttDesc *a = alchdb__malloc((size_t)n * sizeof *a + names_len);
    if (!a)
        return alchdb__nomem("cache entry columns");
    char *names = (char *)(a + n);
    for (size_t c = 0; c < n; c++) {
        rd_column(r, &name, &l, &fix); /* cannot fail: scanned above */
        memcpy(names, name, l);
        names[l] = '\0';
        a[c] = (PGresAttDesc){
            .name = names,
            .typid = (Oid)get_le(fix, 4),
            .atttypmod = (int)(int32_t)(uint32_t)get_le(fix + 4, 4),
            .format = fix[8],
        };
        names += l + 1;
    }
    *attrs = a;
    return 0;
}

static int read_rows(reader *r, int ncols, PGresult *res)
{
    uint64_t nrows;
    /* Every cell takes at least one byte; with no columns there can be no
     * rows (the encoder refuses them). */
    if (!rd_varint(r, &nrows) || (ncols == 0 && nrows) ||
        (ncols && (nrows > (uint64_t)(r->end - r->p) / (uint64_t)ncols || nrows * (uint64_t)ncols > CELLS_MAX)))
        return corrupt("bad row count");
    for (int row = 0; row < (int)nrows; row++) {
        for (int c = 0; c < ncols; c++) {
            uint64_t tag;
            const unsigned char *v = NULL;
            if (!rd_varint(r, &tag) || (tag && !rd_bytes(r, tag - 1, &v)))
                return corrupt("truncated value");
            if (!PQsetvalue(res, row, c, (char *)v, tag ? (int)(tag - 1) : -1))
                return alchdb__nomem("cached result value");
        }
    }
    if (r->p != r->end)
        return corrupt("trailing bytes after the rows");
    return 0;
}

static int build_result(reader *r, PGresult **out, int64_t *exec_us)
{
    uint64_t us;
    if (!rd_varint(r, &us) || us > INT64_MAX)
        return corrupt("bad query time");
    int ncols = 0; /* the compiler cannot see that rc != 0 whenever these are unset */
    PGresAttDesc *attrs = NULL;
    int rc = read_columns(r, &ncols, &attrs);
    if (rc)
        return rc;
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    if (!res || !PQsetResultAttrs(res, ncols, attrs))
        rc = alchdb__nomem("cached result");
    alchdb__free(attrs); /* PQsetResultAttrs copied the names */
    if (!rc)
        rc = read_rows(r, ncols, res);
    if (rc) {
        PQclear(res);
        return rc;
    }
    *out = res;
    *exec_us = (int64_t)us;
    return 0;
}

int alchdb__cache_decode(const unsigned char *buf, size_t len, const uint8_t key[16], uint64_t deps_hash,
                         size_t nver, const alchdb__cache_ver *cur, PGresult **res, int64_t *exec_us)
{
    ALCHDB_CHECK_ARG(buf || !len, "buf", "must not be NULL when len > 0");
    ALCHDB_CHECK_ARG(key && res && exec_us, "key", "key and outputs are required");
    ALCHDB_CHECK_ARG(cur || !nver, "cur", "must not be NULL when nver > 0");
    unsigned flags = 0; /* set whenever check_header succeeds; the compiler cannot tell */
    size_t raw_len = 0;
    int rc = check_header(buf, len, &flags, &raw_len);
    if (rc)
        return rc;
    const unsigned char *body = buf + HDR_LEN;
    unsigned char *inflated = NULL;
    if (flags & FLAG_ZSTD) {
        rc = inflate_body(body, len - HDR_LEN, raw_len, &inflated);
        if (rc)
            return rc;
        body = inflated;
    } else if (raw_len != len - HDR_LEN) {
        return corrupt("body length differs from the header");
    }
    reader r = {body, body + raw_len};
    rc = check_current(&r, key, deps_hash, nver, cur);
    if (rc == 0)
        rc = build_result(&r, res, exec_us);
    alchdb__free(inflated);
    return rc;
}
