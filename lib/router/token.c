/* The read-your-writes token (token.h): text form, parser and the one query
 * that reads a primary's position. The parser and the LSN reader are pure
 * functions over bytes, so a fuzzer can drive them without a server. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pqconn.h"
#include "pool/pqwait.h"
#include "router/token.h"

#define PREFIX "alchdb"
#define VERSION 2

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Up to max_digits hex digits at s[*i..len) into *v; at least one. */
static bool take_hex(const char *s, size_t len, size_t *i, int max_digits, uint64_t *v)
{
    uint64_t x = 0;
    int n = 0;
    while (*i < len && hexval((unsigned char)s[*i]) >= 0) {
        if (++n > max_digits)
            return false;
        x = x * 16 + (uint64_t)hexval((unsigned char)s[*i]);
        (*i)++;
    }
    *v = x;
    return n > 0;
}

/* Decimal digits at s[*i..len) into *v, at most max; at least one digit, no
 * sign, no overflow. */
static bool take_dec(const char *s, size_t len, size_t *i, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    size_t start = *i;
    while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
        unsigned d = (unsigned)(s[*i] - '0');
        if (x > (max - d) / 10)
            return false;
        x = x * 10 + d;
        (*i)++;
    }
    *v = x;
    return *i > start;
}

static bool take_char(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

/* An LSN at s[*i..len): 1..8 hex digits, '/', 1..8 hex digits. Positions
 * from 8 EiB up (the top bit set) are refused: no server gets there, and
 * they would not fit the signed positions used everywhere. */
static bool take_lsn(const char *s, size_t len, size_t *i, int64_t *out)
{
    uint64_t hi, lo;
    if (!take_hex(s, len, i, 8, &hi) || !take_char(s, len, i, '/') || !take_hex(s, len, i, 8, &lo) ||
        hi > 0x7fffffffu)
        return false;
    *out = (int64_t)((hi << 32) | lo);
    return true;
}

int64_t alchdb__lsn_parse_n(const char *text, size_t len)
{
    if (!text)
        return -1;
    size_t i = 0;
    int64_t v;
    if (!take_lsn(text, len, &i, &v) || i != len)
        return -1;
    return v;
}

int64_t alchdb__lsn_parse(const char *text)
{
    return text ? alchdb__lsn_parse_n(text, strlen(text)) : -1;
}

uint32_t alchdb__walfile_timeline(const char *name)
{
    if (!name || strlen(name) != 24)
        return 0;
    size_t i = 0;
    uint64_t tli;
    if (!take_hex(name, 8, &i, 8, &tli) || i != 8)
        return 0;
    return (uint32_t)tli;
}

int alchdb__token_format(const alchdb__token *t, char *buf, size_t cap)
{
    if (!t || !buf || cap == 0 || t->sysid == 0 || t->timeline == 0 || t->lsn < 0)
        return -1;
    int n = snprintf(buf, cap, PREFIX "%d:%" PRIu64 ":%" PRIu32 ":%X/%X", VERSION, t->sysid, t->timeline,
                     (unsigned)((uint64_t)t->lsn >> 32), (unsigned)((uint64_t)t->lsn & 0xffffffffu));
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return -1;
    }
    return n;
}

static int fail(const char **why, const char *text)
{
    if (why)
        *why = text;
    return -1;
}

int alchdb__token_parse(const char *text, size_t len, alchdb__token *out, const char **why)
{
    if (why)
        *why = "";
    if (!text || !out)
        return fail(why, "no token");
    size_t plen = sizeof PREFIX - 1, i = plen;
    if (len < plen || memcmp(text, PREFIX, plen) != 0)
        return fail(why, "not a token of this library (it starts with \"alchdb<version>:\")");
    uint64_t version;
    if (!take_dec(text, len, &i, 1000000, &version) || !take_char(text, len, &i, ':'))
        return fail(why, "no format version");
    if (version == 1)
        return fail(why, "format version 1 carries no timeline and cannot be checked across a failover: take "
                         "a new token");
    if (version != VERSION)
        return fail(why, "unknown format version");
    alchdb__token t;
    uint64_t v;
    if (!take_dec(text, len, &i, UINT64_MAX, &v) || v == 0 || !take_char(text, len, &i, ':'))
        return fail(why, "malformed system identifier");
    t.sysid = v;
    if (!take_dec(text, len, &i, UINT32_MAX, &v) || v == 0 || !take_char(text, len, &i, ':'))
        return fail(why, "malformed timeline");
    t.timeline = (uint32_t)v;
    if (!take_lsn(text, len, &i, &t.lsn))
        return fail(why, "malformed WAL position");
    if (i != len)
        return fail(why, "trailing bytes after the WAL position");
    *out = t;
    return 0;
}

int64_t alchdb__lsn_insert_to_end(int64_t lsn, int64_t seg_off, int64_t blcksz)
{
    if (lsn < 0 || seg_off < 0 || blcksz <= 0 || seg_off > lsn)
        return lsn;
    int64_t page_off = seg_off % blcksz;
    bool first = seg_off < blcksz;
    if (first ? (page_off == 40 || page_off == 36) : (page_off == 24 || page_off == 20))
        return lsn - page_off;
    return lsn;
}

int alchdb__token_read(PGconn *pg, uint64_t sysid, int64_t deadline_ns, alchdb__token *out, char *why, size_t cap)
{
    /* One round trip. The insert position covers every record already
     * inserted, our commit included even with synchronous_commit = off; on a
     * primary its timeline never changes (only a promotion starts one). */
    alchdb__deadline d = {.at_ns = deadline_ns};
    PGresult *res = NULL;
    if (alchdb__pq_exec(pg,
                        "SELECT l::text, pg_walfile_name(l), (pg_walfile_name_offset(l)).file_offset, "
                        "current_setting('wal_block_size') FROM pg_current_wal_insert_lsn() l",
                        &d, &res)) {
        if (why && cap)
            snprintf(why, cap, "reading the WAL position timed out");
        return -1;
    }
    int rc = -1;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 4 ||
        PQgetisnull(res, 0, 0)) {
        if (why && cap)
            alchdb__pq_message(why, cap, res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
    } else {
        out->sysid = sysid;
        out->lsn = alchdb__lsn_insert_to_end(alchdb__lsn_parse(PQgetvalue(res, 0, 0)),
                                             strtoll(PQgetvalue(res, 0, 2), NULL, 10),
                                             strtoll(PQgetvalue(res, 0, 3), NULL, 10));
        out->timeline = alchdb__walfile_timeline(PQgetvalue(res, 0, 1));
        if (out->lsn >= 0 && out->timeline != 0)
            rc = 0;
        else if (why && cap)
            snprintf(why, cap, "unexpected answer '%.40s' '%.40s'", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
    }
    PQclear(res);
    return rc;
}
