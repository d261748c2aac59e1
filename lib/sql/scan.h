/* The one text scanner (scan.c), inline for the loops that run it on every
 * record (the monitor's literal-stripped key): PostgreSQL 15's lexical rules
 * for whitespace, comments, string constants (plain, E'', B'', X'', N'',
 * U&''), dollar quotes, quoted identifiers, words, numbers, parameters,
 * operators and punctuation. Callers outside the hot loops use
 * alchdb__sql_token() of sql_internal.h, which is this. */
#ifndef ALCHDB_SQL_SCAN_H
#define ALCHDB_SQL_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "sql/sql_internal.h"

/* Character classes, one table lookup per byte. */
enum {
    SQL_C_SPACE = 1,       /* whitespace */
    SQL_C_IDENT_START = 2, /* letters, _, bytes >= 0x80 */
    SQL_C_IDENT_CONT = 4,  /* also digits and $ */
    SQL_C_DIGIT = 8,
    SQL_C_OP = 16,         /* operator characters */
    SQL_C_PUNCT = 32,      /* ( ) , ; [ ] . */
    SQL_C_PREFIX = 64,     /* letters that may start a string constant: e b x n u */
};

/* Filled once (alchdb__sql_scan_ready()). */
extern unsigned char alchdb__sql_cls[256];
/* Make sure the class table is filled; cheap after the first call. */
void alchdb__sql_scan_ready(void);

static inline bool sql_is_space(unsigned char c) { return alchdb__sql_cls[c] & SQL_C_SPACE; }
static inline bool sql_ident_start(unsigned char c) { return alchdb__sql_cls[c] & SQL_C_IDENT_START; }
static inline bool sql_ident_cont(unsigned char c) { return alchdb__sql_cls[c] & SQL_C_IDENT_CONT; }
static inline bool sql_digit(unsigned char c) { return alchdb__sql_cls[c] & SQL_C_DIGIT; }
static inline bool sql_op_char(unsigned char c) { return alchdb__sql_cls[c] & SQL_C_OP; }

/* Position after a quoted run that started at s[i] == q: doubled quotes
 * continue it; with backslashes, \x escapes the next byte. Unterminated:
 * the end of the text. */
static inline size_t skip_quoted(const char *s, size_t len, size_t i, char q, bool backslashes)
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
static inline size_t dollar_tag(const char *s, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && s[j] != '$') {
        if (!sql_ident_start((unsigned char)s[j]))
            return 0;
        while (j < len && s[j] != '$' && (sql_ident_start((unsigned char)s[j]) || sql_digit((unsigned char)s[j])))
            j++;
    }
    return j < len && s[j] == '$' ? j + 1 - i : 0;
}

static inline size_t skip_block_comment(const char *s, size_t len, size_t i)
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
static inline size_t operator_len(const char *s, size_t len, size_t i)
{
    size_t n = 0;
    while (i + n < len && sql_op_char((unsigned char)s[i + n])) {
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
static inline size_t number_len(const char *s, size_t len, size_t i)
{
    size_t j = i;
    while (j < len && sql_digit((unsigned char)s[j]))
        j++;
    if (j < len && s[j] == '.' && !(j + 1 < len && s[j + 1] == '.')) {
        j++;
        while (j < len && sql_digit((unsigned char)s[j]))
            j++;
    }
    if (j < len && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < len && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k < len && sql_digit((unsigned char)s[k])) {
            j = k;
            while (j < len && sql_digit((unsigned char)s[j]))
                j++;
        }
    }
    return j - i;
}

/* A string constant's prefix (E'', B'', X'', N'', U&'' and U&"") at
 * s[pos]: the position of its opening quote, or 0 when there is none. */
static inline size_t prefix_quote(const char *s, size_t len, size_t pos)
{
    unsigned char c = (unsigned char)s[pos];
    if (pos + 1 >= len)
        return 0;
    if ((c == 'u' || c == 'U'))
        return s[pos + 1] == '&' && pos + 2 < len && (s[pos + 2] == '\'' || s[pos + 2] == '"') ? pos + 2 : 0;
    return s[pos + 1] == '\'' ? pos + 1 : 0;
}

/* The scanner itself; alchdb__sql_scan_ready() must have been called. */
static inline size_t alchdb__sql_scan_token(const char *s, size_t len, size_t pos, alchdb__sql_tok *t)
{
    t->start = pos;
    if (pos >= len) {
        t->kind = ALCHDB__SQL_TOK_END;
        t->len = 0;
        return pos;
    }
    unsigned char c = (unsigned char)s[pos];
    unsigned char n1 = pos + 1 < len ? (unsigned char)s[pos + 1] : 0;
    unsigned char k = alchdb__sql_cls[c];
    size_t end = pos + 1, q;
    int kind = ALCHDB__SQL_TOK_OTHER;
    if (k & SQL_C_SPACE) {
        while (end < len && sql_is_space((unsigned char)s[end]))
            end++;
        kind = ALCHDB__SQL_TOK_SPACE;
    } else if ((k & SQL_C_PREFIX) && (q = prefix_quote(s, len, pos)) > 0) {
        bool backslashes = (c == 'e' || c == 'E');
        end = skip_quoted(s, len, q, s[q], backslashes);
        kind = s[q] == '"' ? ALCHDB__SQL_TOK_QIDENT : ALCHDB__SQL_TOK_STRING;
    } else if (k & SQL_C_IDENT_START) {
        while (end < len && sql_ident_cont((unsigned char)s[end]))
            end++;
        kind = ALCHDB__SQL_TOK_WORD;
    } else if (k & SQL_C_DIGIT || (c == '.' && sql_digit(n1))) {
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
    } else if (k & SQL_C_PUNCT) {
        kind = ALCHDB__SQL_TOK_PUNCT;
    } else if (k & SQL_C_OP) {
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
        if (sql_digit(n1)) {
            while (end < len && sql_digit((unsigned char)s[end]))
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

#endif /* ALCHDB_SQL_SCAN_H */
