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

void alchdb__sb_json_str(alchdb__strbuf *sb, const char *s)
{
    if (!s) {
        alchdb__sb_puts(sb, "null");
        return;
    }
    alchdb__sb_append(sb, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;
    for (; *p; p++) {
        const char *esc = NULL;
        char ubuf[8];
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
            }
        }
        if (esc) {
            alchdb__sb_append(sb, (const char *)run, (size_t)(p - run));
            alchdb__sb_puts(sb, esc);
            run = p + 1;
        }
    }
    alchdb__sb_append(sb, (const char *)run, (size_t)(p - run));
    alchdb__sb_append(sb, "\"", 1);
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
