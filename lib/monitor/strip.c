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

enum { K_LITERAL = 1, K_WORD, K_QIDENT, K_OP, K_PUNCT, K_OTHER, K_PARAM };

/* Kind of a literal as the parser will see it: the query key (lib/sql's
 * jumble.c) counts constants by kind, so texts that strip alike must agree on
 * it. 'i' integer that fits int4, 'f' other numbers, 'b' bit strings
 * (B'...', X'...'), 's' other strings. */
static unsigned char literal_kind(const char *p, size_t n, int tok)
{
    if (tok == ALCHDB__SQL_TOK_STRING)
        return (p[0] == 'b' || p[0] == 'B' || p[0] == 'x' || p[0] == 'X') && n > 1 && p[1] == '\'' ? 'b' : 's';
    if (n > 10)
        return 'f';
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 'f';
        v = v * 10 + (p[i] - '0');
    }
    return v <= 2147483647 ? 'i' : 'f';
}

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

static uint64_t strip(const char *sql, size_t len, alchdb__strbuf *out, size_t out_max,
                      int *tokens, bool *dml, bool literals)
{
    stripper s = {.n = 0, .h = literals ? 0x7574696c697479ull : 0x6d6f6e69746f72ull};
    bool execute = false;
    /* ORDER BY / GROUP BY lists: an integer item is a column position whose
     * value the query key keeps, so it stays in the stripped key too */
    int depth = 0, by_depth = -1;
    bool prev_order_group = false, item_start = false;
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
        case ALCHDB__SQL_TOK_PARAM:
            put_byte(&s, K_PARAM); /* $1 and $2 are different parameters */
            put(&s, p, t.len);
            put_byte(&s, 0);
            show(out, out_max, "?", 1);
            first_word = false;
            item_start = false;
            break;
        case ALCHDB__SQL_TOK_STRING:
        case ALCHDB__SQL_TOK_NUMBER: {
            unsigned char lk = literal_kind(p, t.len, t.kind);
            put_byte(&s, K_LITERAL);
            put_byte(&s, lk);
            if ((literals && !execute) || (item_start && lk == 'i')) {
                put(&s, p, t.len);
                put_byte(&s, 0); /* where the literal ends */
            }
            show(out, out_max, "?", 1);
            first_word = false;
            item_start = false;
            break;
        }
        case ALCHDB__SQL_TOK_WORD: {
            bool og = alchdb__sql_word_is(sql, &t, "order") || alchdb__sql_word_is(sql, &t, "group");
            if (prev_order_group && alchdb__sql_word_is(sql, &t, "by")) {
                by_depth = depth;
                item_start = true;
            } else {
                item_start = false;
            }
            prev_order_group = og;
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
                execute = alchdb__sql_word_is(sql, &t, "execute");
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
            prev_order_group = false;
            if (t.kind == ALCHDB__SQL_TOK_PUNCT && p[0] == '(') {
                depth++;
                item_start = false;
            } else if (t.kind == ALCHDB__SQL_TOK_PUNCT && p[0] == ')') {
                if (depth-- == by_depth)
                    by_depth = -1;
                item_start = false;
            } else {
                /* a comma at the depth of an ORDER BY / GROUP BY list starts the next item */
                item_start = t.kind == ALCHDB__SQL_TOK_PUNCT && p[0] == ',' && depth == by_depth;
            }
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

uint64_t alchdb__monitor_strip(const char *sql, size_t len, alchdb__strbuf *out, size_t out_max,
                               int *tokens, bool *dml)
{
    return strip(sql, len, out, out_max, tokens, dml, false);
}

uint64_t alchdb__monitor_utility_key(const char *sql, size_t len)
{
    int tokens;
    bool dml;
    return strip(sql, len, NULL, 0, &tokens, &dml, true);
}
