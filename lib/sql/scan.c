/* The one text scanner: PostgreSQL 15's lexical rules for whitespace,
 * comments, string constants (plain, E'', B'', X'', N'', U&''), dollar
 * quotes, quoted identifiers, words, numbers, parameters, operators and
 * punctuation. Every text-level routine of the library (comment skipping,
 * the monitor's literal-stripped key, the nesting estimate that guards
 * libpg_query) reads SQL through it, so they all agree on where a string or
 * a comment ends.
 *
 * The scanner never fails: malformed input (an unterminated string or
 * comment, a stray byte) still yields tokens that cover every byte, so
 * callers can always make progress. */
#include <pthread.h>
#include <string.h>

#include "sql_priv.h"

/* Character classes, one table lookup per byte. */
enum {
    C_SPACE = 1,       /* whitespace */
    C_IDENT_START = 2, /* letters, _, bytes >= 0x80 */
    C_IDENT_CONT = 4,  /* also digits and $ */
    C_DIGIT = 8,
    C_OP = 16,         /* operator characters */
    C_PUNCT = 32,      /* ( ) , ; [ ] . */
    C_PREFIX = 64,     /* letters that may start a string constant: e b x n u */
};

static unsigned char cls[256];

static void init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            k |= C_SPACE;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80)
            k |= C_IDENT_START | C_IDENT_CONT;
        if (c >= '0' && c <= '9')
            k |= C_DIGIT | C_IDENT_CONT;
        if (c == '$')
            k |= C_IDENT_CONT;
        if (c && strchr("~!@#^&|`?+-*/%<>=", c))
            k |= C_OP;
        if (c && strchr("(),;[].", c))
            k |= C_PUNCT;
        if (c && strchr("eEbBxXnNuU", c))
            k |= C_PREFIX;
        cls[c] = k;
    }
}

static pthread_once_t classes_once = PTHREAD_ONCE_INIT;

static bool is_space(unsigned char c) { return cls[c] & C_SPACE; }
static bool ident_start(unsigned char c) { return cls[c] & C_IDENT_START; }
static bool ident_cont(unsigned char c) { return cls[c] & C_IDENT_CONT; }
static bool digit(unsigned char c) { return cls[c] & C_DIGIT; }
static bool op_char(unsigned char c) { return cls[c] & C_OP; }

/* Position after a quoted run that started at s[i] == q: doubled quotes
 * continue it; with backslashes, \x escapes the next byte. Unterminated:
 * the end of the text. */
static size_t skip_quoted(const char *s, size_t len, size_t i, char q, bool backslashes)
{
    for (i++; i < len; i++) {
        if (backslashes && s[i] == '\\') {
            if (++i >= len)
                break;
            continue;
        }
        if (s[i] == q) {
            if (i + 1 < len && s[i + 1] == q) {
                i++;
                continue;
            }
            return i + 1;
        }
    }
    return len;
}

/* A dollar quote's opening tag at s[i] == '$': its length ("$tag$"), or 0
 * when what follows is not a tag. */
static size_t dollar_tag(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && s[j] != '$') {
        if (!ident_start((unsigned char)s[j]))
            return 0;
        while (j < len && s[j] != '$' && (ident_start((unsigned char)s[j]) || digit((unsigned char)s[j])))
            j++;
    }
    return j < len && s[j] == '$' ? j + 1 - i : 0;
}

static size_t skip_block_comment(const char *s, size_t len, size_t i)
{
    size_t depth = 0; /* PostgreSQL's block comments nest */
    while (i < len) {
        if (s[i] == '/' && i + 1 < len && s[i + 1] == '*') {
            depth++;
            i += 2;
        } else if (s[i] == '*' && i + 1 < len && s[i + 1] == '/') {
            i += 2;
            if (--depth == 0)
                return i;
        } else {
            i++;
        }
    }
    return len;
}

/* PostgreSQL's operator rule: the longest run of operator characters, cut
 * before an embedded comment start, and a trailing + or - dropped unless the
 * operator contains one of ~ ! @ # ^ & | ` ? % (so "=-1" is "=" then "-1"). */
static size_t operator_len(const char *s, size_t len, size_t i)
{
    size_t n = 0;
    while (i + n < len && op_char((unsigned char)s[i + n])) {
        if (n > 0 && ((s[i + n - 1] == '/' && s[i + n] == '*') || (s[i + n - 1] == '-' && s[i + n] == '-'))) {
            n--;
            break;
        }
        n++;
    }
    if (n > 1 && (s[i + n - 1] == '+' || s[i + n - 1] == '-')) {
        bool special = false;
        for (size_t k = 0; k < n && !special; k++)
            special = s[i + k] != '+' && s[i + k] != '-' && s[i + k] != '*' && s[i + k] != '/' &&
                      s[i + k] != '<' && s[i + k] != '>' && s[i + k] != '=';
        while (!special && n > 1 && (s[i + n - 1] == '+' || s[i + n - 1] == '-'))
            n--;
    }
    return n;
}

/* A numeric constant as PostgreSQL 15 reads it: digits, an optional
 * fraction (not "1..2"), an optional exponent with digits. Whatever follows
 * (letters included) is the next token. */
static size_t number_len(const char *s, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && digit((unsigned char)s[j]))
        j++;
    if (j < len && s[j] == '.' && !(j + 1 < len && s[j + 1] == '.')) {
        j++;
        while (j < len && digit((unsigned char)s[j]))
            j++;
    }
    if (j < len && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < len && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k < len && digit((unsigned char)s[k])) {
            j = k;
            while (j < len && digit((unsigned char)s[j]))
                j++;
        }
    }
    return j - i;
}

/* A string constant's prefix (E'', B'', X'', N'', U&'' and U&"") at
 * s[pos]: the position of its opening quote, or 0 when there is none. */
static size_t prefix_quote(const char *s, size_t len, size_t pos)
{
    unsigned char c = (unsigned char)s[pos];
    if (pos + 1 >= len)
        return 0;
    if ((c == 'u' || c == 'U'))
        return s[pos + 1] == '&' && pos + 2 < len && (s[pos + 2] == '\'' || s[pos + 2] == '"') ? pos + 2 : 0;
    return s[pos + 1] == '\'' ? pos + 1 : 0;
}

size_t alchdb__sql_token(const char *s, size_t len, size_t pos, alchdb__sql_tok *t)
{
    pthread_once(&classes_once, init_classes);
    t->start = pos;
    if (pos >= len) {
        t->kind = ALCHDB__SQL_TOK_END;
        t->len = 0;
        return pos;
    }
    unsigned char c = (unsigned char)s[pos];
    unsigned char n1 = pos + 1 < len ? (unsigned char)s[pos + 1] : 0;
    unsigned char k = cls[c];
    size_t end = pos + 1, q;
    int kind = ALCHDB__SQL_TOK_OTHER;
    if (k & C_SPACE) {
        while (end < len && is_space((unsigned char)s[end]))
            end++;
        kind = ALCHDB__SQL_TOK_SPACE;
    } else if ((k & C_PREFIX) && (q = prefix_quote(s, len, pos)) > 0) {
        bool backslashes = (c == 'e' || c == 'E');
        end = skip_quoted(s, len, q, s[q], backslashes);
        kind = s[q] == '"' ? ALCHDB__SQL_TOK_QIDENT : ALCHDB__SQL_TOK_STRING;
    } else if (k & C_IDENT_START) {
        while (end < len && ident_cont((unsigned char)s[end]))
            end++;
        kind = ALCHDB__SQL_TOK_WORD;
    } else if (k & C_DIGIT || (c == '.' && digit(n1))) {
        end = pos + number_len(s, len, pos);
        kind = ALCHDB__SQL_TOK_NUMBER;
    } else if (c == '-' && n1 == '-') {
        end = pos + 2;
        while (end < len && s[end] != '\n')
            end++;
        kind = ALCHDB__SQL_TOK_COMMENT;
    } else if (c == '/' && n1 == '*') {
        end = skip_block_comment(s, len, pos);
        kind = ALCHDB__SQL_TOK_COMMENT;
    } else if (k & C_PUNCT) {
        kind = ALCHDB__SQL_TOK_PUNCT;
    } else if (k & C_OP) {
        end = pos + operator_len(s, len, pos);
        kind = ALCHDB__SQL_TOK_OP;
    } else if (c == '\'') {
        end = skip_quoted(s, len, pos, '\'', false);
        kind = ALCHDB__SQL_TOK_STRING;
    } else if (c == '"') {
        end = skip_quoted(s, len, pos, '"', false);
        kind = ALCHDB__SQL_TOK_QIDENT;
    } else if (c == ':') {
        end = pos + (n1 == ':' || n1 == '=' ? 2 : 1);
        kind = ALCHDB__SQL_TOK_PUNCT;
    } else if (c == '$') {
        size_t tag;
        if (digit(n1)) {
            while (end < len && digit((unsigned char)s[end]))
                end++;
            kind = ALCHDB__SQL_TOK_PARAM;
        } else if ((tag = dollar_tag(s, len, pos)) > 0) {
            size_t m = pos + tag;
            while (m < len && !(s[m] == '$' && len - m >= tag && !memcmp(s + m, s + pos, tag)))
                m++;
            end = m < len ? m + tag : len;
            kind = ALCHDB__SQL_TOK_STRING;
        }
    }
    t->kind = kind;
    t->len = end - pos;
    return end;
}

size_t alchdb__sql_skip_space_comments(const char *s, size_t pos, size_t end)
{
    alchdb__sql_tok t;
    while (pos < end) {
        size_t next = alchdb__sql_token(s, end, pos, &t);
        if (t.kind != ALCHDB__SQL_TOK_SPACE && t.kind != ALCHDB__SQL_TOK_COMMENT)
            break;
        pos = next;
    }
    return pos;
}

bool alchdb__sql_word_is(const char *s, const alchdb__sql_tok *t, const char *word)
{
    size_t n = strlen(word);
    if (t->kind != ALCHDB__SQL_TOK_WORD || t->len != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[t->start + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + ('a' - 'A'));
        if (c != word[i])
            return false;
    }
    return true;
}
