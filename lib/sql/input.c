/* The checks every SQL entry point applies to its input (UTF-8, no NUL
 * bytes, the size limit) and the conversion of PostgreSQL's error positions
 * to byte offsets. */
#include "sql_priv.h"

/* Offset of the first invalid UTF-8 sequence, or n when s is valid. Rejects
 * overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07u;
        } else {
            return i;
        }
        if (n - i - 1 < need)
            return i;
        for (size_t k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((need == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (need == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += need + 1;
    }
    return n;
}

bool sql__valid_input(const char *func, const char *sql, size_t *len, int *err)
{
    if (!sql) {
        *err = alchdb__invalid_arg(func, "sql", "must not be NULL");
        return false;
    }
    if (*len == (size_t)-1)
        *len = strlen(sql);
    else if (memchr(sql, '\0', *len)) {
        *err = alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'sql': embedded NUL byte at byte offset %zu",
                             func, (size_t)((const char *)memchr(sql, '\0', *len) - sql));
        return false;
    }
    if (*len > ALCHDB_SQL_MAX_BYTES) {
        *err = alchdb__error(ALCHDB_E_RANGE, "%s: 'sql' is %zu bytes, more than the %zu-byte limit", func, *len,
                             ALCHDB_SQL_MAX_BYTES);
        return false;
    }
    size_t bad = utf8_invalid_at((const unsigned char *)sql, *len);
    if (bad != *len) {
        *err = alchdb__error(ALCHDB_E_INVALID, "%s: invalid argument 'sql': invalid UTF-8 at byte offset %zu", func,
                             bad);
        return false;
    }
    return true;
}

/* PostgreSQL reports a 1-based character position; turn it into a byte offset
 * (the input is valid UTF-8). */
int64_t sql__cursor_to_offset(const char *s, size_t len, int cursorpos)
{
    if (cursorpos <= 0)
        return -1;
    size_t chars = (size_t)cursorpos - 1, i = 0;
    while (i < len && chars > 0) {
        i++;
        while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        chars--;
    }
    return (int64_t)i;
}
