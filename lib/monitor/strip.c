/* The cheap literal-stripped key of the record path. It only has to be
 * consistent: two texts that strip alike must fingerprint alike (libpg_query's
 * fingerprint ignores every constant and parameter), while texts that strip
 * differently merely cost one more parse before both land on the same
 * fingerprint.
 *
 * The text is read with the SQL module's one scanner. The key hashes the
 * token stream, each token preceded by a byte naming its kind: literals and
 * parameters are one kind with no text, so no literal can be mistaken for
 * an operator (the jsonb operators ?, ?| and ?& keep their own spelling),
 * and token boundaries are explicit. Comments and whitespace do not count;
 * unquoted words fold to lower case. The display text (for unparsed
 * patterns) shows literals as '?' and whitespace runs as one space. */
#include <string.h>

#include "monitor/monitor_internal.h"
#include "sql/scan.h"

enum { K_LITERAL = 1, K_WORD, K_QIDENT, K_OP, K_PUNCT, K_OTHER };

typedef struct stripper {
    unsigned char buf[256];
    size_t n;
    uint64_t h;
} stripper;

static void flush(stripper *s)
{
    if (s->n) {
        s->h = alchdb__hash64(s->buf, s->n, s->h);
        s->n = 0;
    }
}

static inline void put_byte(stripper *s, unsigned char c)
{
    if (s->n == sizeof s->buf)
        flush(s);
    s->buf[s->n++] = c;
}

/* Tokens are short: a byte loop beats a call to memcpy. */
static void put(stripper *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_byte(s, (unsigned char)p[i]);
}

/* The display text, bounded by out_max. */
static void show(alchdb__strbuf *out, size_t out_max, const char *p, size_t n)
{
    if (out && out->len < out_max)
        alchdb__sb_append(out, p, n < out_max - out->len ? n : out_max - out->len);
}

static const char *const dml_words[] = {"select", "insert", "update", "delete", "with", "values", "table"};

uint64_t alchdb__monitor_strip(const char *sql, size_t len, alchdb__strbuf *out, size_t out_max,
                               int *tokens, bool *dml)
{
    stripper s = {.n = 0, .h = 0x6d6f6e69746f72ull};
    int ntok = 0;
    bool first_word = true, space = false;
    *dml = false;
    alchdb__sql_tok t;
    alchdb__sql_scan_ready();
    for (size_t pos = 0; pos < len;) {
        pos = alchdb__sql_scan_token(sql, len, pos, &t);
        if (t.kind == ALCHDB__SQL_TOK_SPACE || t.kind == ALCHDB__SQL_TOK_COMMENT) {
            space = ntok > 0;
            continue;
        }
        ntok++;
        if (space) {
            show(out, out_max, " ", 1);
            space = false;
        }
        const char *p = sql + t.start;
        switch (t.kind) {
        case ALCHDB__SQL_TOK_STRING:
        case ALCHDB__SQL_TOK_NUMBER:
        case ALCHDB__SQL_TOK_PARAM:
            put_byte(&s, K_LITERAL);
            show(out, out_max, "?", 1);
            first_word = false;
            break;
        case ALCHDB__SQL_TOK_WORD: {
            put_byte(&s, K_WORD);
            for (size_t i = 0; i < t.len; i++) {
                char c = p[i];
                c = c >= 'A' && c <= 'Z' ? (char)(c + ('a' - 'A')) : c;
                put_byte(&s, (unsigned char)c);
                if (out)
                    show(out, out_max, &c, 1);
            }
            if (first_word) {
                first_word = false;
                for (size_t k = 0; k < sizeof dml_words / sizeof dml_words[0]; k++)
                    if (alchdb__sql_word_is(sql, &t, dml_words[k]))
                        *dml = true;
            }
            break;
        }
        default: {
            static const unsigned char kinds[] = {[ALCHDB__SQL_TOK_QIDENT] = K_QIDENT,
                                                  [ALCHDB__SQL_TOK_OP] = K_OP,
                                                  [ALCHDB__SQL_TOK_PUNCT] = K_PUNCT,
                                                  [ALCHDB__SQL_TOK_OTHER] = K_OTHER};
            put_byte(&s, kinds[t.kind]);
            put(&s, p, t.len);
            show(out, out_max, p, t.len);
            if (!(t.kind == ALCHDB__SQL_TOK_PUNCT && p[0] == '(')) /* "(SELECT ...)" still counts as a SELECT */
                first_word = false;
            break;
        }
        }
    }
    flush(&s);
    *tokens = ntok;
    return s.h ? s.h : 1; /* 0 marks empty cache entries */
}
