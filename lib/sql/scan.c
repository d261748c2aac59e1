/* The one text scanner (its body is inline in scan.h): PostgreSQL 15's lexical rules for whitespace,
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
#include <stdatomic.h>
#include <string.h>

#include "sql_priv.h"
#include "scan.h"

unsigned char alchdb__sql_cls[256];

static void init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        unsigned char k = 0;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v')
            k |= SQL_C_SPACE;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80)
            k |= SQL_C_IDENT_START | SQL_C_IDENT_CONT;
        if (c >= '0' && c <= '9')
            k |= SQL_C_DIGIT | SQL_C_IDENT_CONT;
        if (c == '$')
            k |= SQL_C_IDENT_CONT;
        if (c && strchr("~!@#^&|`?+-*/%<>=", c))
            k |= SQL_C_OP;
        if (c && strchr("(),;[].", c))
            k |= SQL_C_PUNCT;
        if (c && strchr("eEbBxXnNuU", c))
            k |= SQL_C_PREFIX;
        alchdb__sql_cls[c] = k;
    }
}

static pthread_once_t classes_once = PTHREAD_ONCE_INIT;
static atomic_bool classes_ready; /* the table is filled: skip pthread_once */

static void fill_classes(void)
{
    init_classes();
    atomic_store_explicit(&classes_ready, true, memory_order_release);
}

void alchdb__sql_scan_ready(void)
{
    if (!atomic_load_explicit(&classes_ready, memory_order_acquire))
        pthread_once(&classes_once, fill_classes);
}

size_t alchdb__sql_token(const char *s, size_t len, size_t pos, alchdb__sql_tok *t)
{
    alchdb__sql_scan_ready();
    return alchdb__sql_scan_token(s, len, pos, t);
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
