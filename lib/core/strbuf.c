#include <stdio.h>
#include <string.h>

#include "internal.h"

void alchdb__sb_init(alchdb__strbuf *sb)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->failed = false;
}

static bool sb_reserve(alchdb__strbuf *sb, size_t extra)
{
    if (sb->failed)
        return false;
    if (sb->len + extra + 1 <= sb->cap)
        return true;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            sb->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *d = alchdb__realloc(sb->data, cap);
    if (!d) {
        sb->failed = true;
        return false;
    }
    sb->data = d;
    sb->cap = cap;
    return true;
}

void alchdb__sb_append(alchdb__strbuf *sb, const char *s, size_t n)
{
    if (!sb_reserve(sb, n))
        return;
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void alchdb__sb_puts(alchdb__strbuf *sb, const char *s) { alchdb__sb_append(sb, s, strlen(s)); }

void alchdb__sb_printf(alchdb__strbuf *sb, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        alchdb__sb_append(sb, tmp, (size_t)n);
        return;
    }
    if (!sb_reserve(sb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

/* Length of the well-formed UTF-8 sequence at p (1..4), or 0 when the bytes
 * at p do not start one; *bad then receives the length of the maximal subpart
 * (the longest prefix of a valid sequence, at least 1) that one U+FFFD
 * replaces, as Unicode recommends (and WHATWG's decoder does). `left` > 0 is
 * the number of bytes available. */
size_t alchdb__utf8_seq(const unsigned char *p, size_t left, size_t *bad)
{
    unsigned c = p[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    *bad = 1;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* no overlong forms */
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        return 0; /* 0x80..0xC1 and 0xF5..0xFF never start a character */
    }
    for (size_t k = 1; k < need; k++) {
        unsigned b = k < left ? p[k] : 0;
        if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
            *bad = k;
            return 0;
        }
    }
    return need;
}

void alchdb__sb_json_strn(alchdb__strbuf *sb, const char *s, size_t n)
{
    if (!s) {
        alchdb__sb_puts(sb, "null");
        return;
    }
    alchdb__sb_append(sb, "\"", 1);
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    const unsigned char *run = p; /* bytes copied verbatim, not yet appended */
    while (p < end) {
        const char *esc = NULL;
        char ubuf[8];
        size_t len = 1, bad = 1;
        switch (*p) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(ubuf, sizeof ubuf, "\\u%04x", *p);
                esc = ubuf;
            } else if (*p >= 0x80) {
                len = alchdb__utf8_seq(p, (size_t)(end - p), &bad);
                if (len == 0) {
                    esc = "\xEF\xBF\xBD"; /* U+FFFD REPLACEMENT CHARACTER */
                    len = bad;
                } else if (len == 3 && p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9)) {
                    /* U+2028 and U+2029 are valid JSON but end a line in
                     * JavaScript: escaped so the text embeds anywhere. */
                    esc = p[2] == 0xA8 ? "\\u2028" : "\\u2029";
                }
            }
        }
        if (esc) {
            alchdb__sb_append(sb, (const char *)run, (size_t)(p - run));
            alchdb__sb_puts(sb, esc);
            run = p + len;
        }
        p += len;
    }
    alchdb__sb_append(sb, (const char *)run, (size_t)(p - run));
    alchdb__sb_append(sb, "\"", 1);
}

void alchdb__sb_json_str(alchdb__strbuf *sb, const char *s)
{
    alchdb__sb_json_strn(sb, s, s ? strlen(s) : 0);
}

char *alchdb__sb_finish(alchdb__strbuf *sb)
{
    if (!sb->failed && !sb->data)
        sb_reserve(sb, 0);
    if (sb->failed) {
        alchdb__free(sb->data);
        alchdb__sb_init(sb);
        return NULL;
    }
    sb->data[sb->len] = '\0';
    char *d = sb->data;
    alchdb__sb_init(sb);
    return d;
}

void alchdb__sb_reset(alchdb__strbuf *sb)
{
    alchdb__free(sb->data);
    alchdb__sb_init(sb);
}
