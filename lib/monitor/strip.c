/* The cheap literal-stripped key of the record path. It only has to be
 * consistent: two texts that strip alike must fingerprint alike (libpg_query's
 * fingerprint ignores every constant and parameter), while texts that strip
 * differently merely cost one more parse before both land on the same
 * fingerprint. So literals and $n become '?', comments and whitespace runs
 * collapse, unquoted words fold to lower case; nothing else is interpreted. */
#include <ctype.h>
#include <string.h>

#include "monitor/monitor_internal.h"

typedef struct stripper {
    unsigned char buf[256];
    size_t n;
    uint64_t h;
    alchdb__strbuf *out;
    size_t out_max;
    bool space; /* a separator is pending */
} stripper;

static void flush(stripper *s)
{
    if (s->n) {
        s->h = alchdb__hash64(s->buf, s->n, s->h);
        if (s->out && s->out->len < s->out_max) {
            size_t room = s->out_max - s->out->len;
            alchdb__sb_append(s->out, (const char *)s->buf, s->n < room ? s->n : room);
        }
        s->n = 0;
    }
}

static void emit(stripper *s, unsigned char c)
{
    if (s->space) {
        s->space = false;
        if (s->n == sizeof s->buf)
            flush(s);
        s->buf[s->n++] = ' ';
    }
    if (s->n == sizeof s->buf)
        flush(s);
    s->buf[s->n++] = c;
}

static bool ident_start(unsigned char c) { return isalpha(c) || c == '_' || c >= 0x80; }
static bool ident_char(unsigned char c) { return isalnum(c) || c == '_' || c == '$' || c >= 0x80; }

/* Skip a '...' literal starting at p[i] == '\''; backslash escapes when esc. */
static size_t skip_quoted(const char *p, size_t len, size_t i, bool esc)
{
    i++;
    while (i < len) {
        if (esc && p[i] == '\\' && i + 1 < len) {
            i += 2;
            continue;
        }
        if (p[i] == '\'') {
            if (i + 1 < len && p[i + 1] == '\'') {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i++;
    }
    return len;
}

static const char *const dml_words[] = {"select", "insert", "update", "delete",
                                        "with",   "values", "table"};

uint64_t alchdb__monitor_strip(const char *sql, size_t len, alchdb__strbuf *out, size_t out_max,
                               int *tokens, bool *dml)
{
    stripper s = {.n = 0, .h = 0x6d6f6e69746f72ull, .out = out, .out_max = out_max};
    const char *p = sql;
    int ntok = 0;
    bool first_word = true;
    *dml = false;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)p[i];
        if (isspace(c)) {
            s.space = ntok > 0;
            i++;
            continue;
        }
        if (c == '-' && i + 1 < len && p[i + 1] == '-') {
            while (i < len && p[i] != '\n')
                i++;
            s.space = ntok > 0;
            continue;
        }
        if (c == '/' && i + 1 < len && p[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (i < len && depth > 0) {
                if (p[i] == '/' && i + 1 < len && p[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (p[i] == '*' && i + 1 < len && p[i + 1] == '/') {
                    depth--;
                    i += 2;
                } else {
                    i++;
                }
            }
            s.space = ntok > 0;
            continue;
        }
        ntok++;
        if (c == '\'') {
            i = skip_quoted(p, len, i, false);
            emit(&s, '?');
            continue;
        }
        if ((c == 'e' || c == 'E') && i + 1 < len && p[i + 1] == '\'') {
            i = skip_quoted(p, len, i + 1, true);
            emit(&s, '?');
            continue;
        }
        if ((c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'n' || c == 'N') && i + 1 < len &&
            p[i + 1] == '\'') {
            i = skip_quoted(p, len, i + 1, false);
            emit(&s, '?');
            continue;
        }
        if (c == '"') { /* quoted identifier: verbatim */
            size_t j = i + 1;
            while (j < len) {
                if (p[j] == '"') {
                    if (j + 1 < len && p[j + 1] == '"') {
                        j += 2;
                        continue;
                    }
                    j++;
                    break;
                }
                j++;
            }
            for (size_t k = i; k < j; k++)
                emit(&s, (unsigned char)p[k]);
            i = j;
            first_word = false;
            continue;
        }
        if (c == '$') {
            size_t j = i + 1;
            if (j < len && isdigit((unsigned char)p[j])) { /* parameter */
                while (j < len && isdigit((unsigned char)p[j]))
                    j++;
                emit(&s, '?');
                i = j;
                continue;
            }
            while (j < len && (isalnum((unsigned char)p[j]) || p[j] == '_'))
                j++;
            if (j < len && p[j] == '$') { /* dollar-quoted literal */
                size_t taglen = j + 1 - i;
                size_t k = j + 1;
                while (k + taglen <= len && memcmp(p + k, p + i, taglen) != 0)
                    k++;
                i = k + taglen <= len ? k + taglen : len;
                emit(&s, '?');
                continue;
            }
            emit(&s, c);
            i++;
            continue;
        }
        if (isdigit(c) || (c == '.' && i + 1 < len && isdigit((unsigned char)p[i + 1]))) {
            size_t j = i;
            if (c == '0' && j + 1 < len && (p[j + 1] == 'x' || p[j + 1] == 'X')) {
                j += 2;
                while (j < len && (isxdigit((unsigned char)p[j]) || p[j] == '_'))
                    j++;
            } else {
                while (j < len && (isdigit((unsigned char)p[j]) || p[j] == '.' || p[j] == '_'))
                    j++;
                if (j < len && (p[j] == 'e' || p[j] == 'E')) {
                    size_t k = j + 1;
                    if (k < len && (p[k] == '+' || p[k] == '-'))
                        k++;
                    if (k < len && isdigit((unsigned char)p[k])) {
                        j = k;
                        while (j < len && isdigit((unsigned char)p[j]))
                            j++;
                    }
                }
            }
            emit(&s, '?');
            i = j;
            continue;
        }
        if (ident_start(c)) {
            size_t j = i;
            char word[8];
            size_t wl = 0;
            while (j < len && ident_char((unsigned char)p[j])) {
                unsigned char lc = (unsigned char)tolower((unsigned char)p[j]);
                if (wl < sizeof word - 1)
                    word[wl++] = (char)lc;
                emit(&s, lc);
                j++;
            }
            word[wl] = '\0';
            if (first_word) {
                first_word = false;
                for (size_t k = 0; k < sizeof dml_words / sizeof dml_words[0]; k++)
                    if (j - i == strlen(dml_words[k]) && !strcmp(word, dml_words[k]))
                        *dml = true;
            }
            i = j;
            continue;
        }
        if (c != '(') /* "(SELECT ...)" still counts as a SELECT */
            first_word = false;
        emit(&s, c);
        i++;
    }
    flush(&s);
    *tokens = ntok;
    return s.h ? s.h : 1; /* 0 marks empty cache entries */
}
