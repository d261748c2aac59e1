/* The one redaction of secrets from anything that may echo a conninfo or a
 * server message (interface in pqconn.h), and its public form alchdb_redact(). */
#include <ctype.h>
#include <string.h>

#include "pqconn.h"

/* ---- redaction ----------------------------------------------------------- */

typedef struct redact_out {
    char *buf;
    size_t cap; /* > 0 */
    size_t len;
} redact_out;

static void out_put(redact_out *o, const char *s, size_t n)
{
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Length of the word "password" at s, letters in any case and each possibly
 * percent-encoded (a URI query); 0 when there is none. */
static size_t match_password_word(const char *s)
{
    static const char word[] = "password";
    size_t j = 0;
    for (size_t k = 0; word[k]; k++) {
        int c = (unsigned char)s[j];
        if (c == '%' && hexval((unsigned char)s[j + 1]) >= 0 && hexval((unsigned char)s[j + 2]) >= 0) {
            c = hexval((unsigned char)s[j + 1]) * 16 + hexval((unsigned char)s[j + 2]);
            j += 3;
        } else if (c) {
            j++;
        } else {
            return 0;
        }
        if (tolower(c) != word[k])
            return 0;
    }
    return j;
}

/* After a "password" word at s: the value's span [*vs, *ve) (relative to s)
 * when an '=' follows (white space allowed around it, as libpq allows any
 * isspace() character there). A quoted value ends at its unescaped closing
 * quote, a bare one at white space or the end, and in a URI query (the word
 * follows '?' or '&') also at '&'; backslash escapes the next character. In
 * a keyword conninfo '&' is part of the value, as libpq reads it. */
static bool keyword_value(const char *s, size_t wlen, bool in_query, size_t *vs, size_t *ve)
{
    size_t i = wlen;
    while (isspace((unsigned char)s[i]))
        i++;
    if (s[i] == '%' && s[i + 1] == '3' && (s[i + 2] == 'd' || s[i + 2] == 'D'))
        i += 3; /* a percent-encoded '=' */
    else if (s[i] == '=')
        i++;
    else
        return false;
    while (isspace((unsigned char)s[i]))
        i++;
    if (s[i] == '\'') {
        size_t j = ++i;
        while (s[j] && s[j] != '\'') {
            if (s[j] == '\\' && s[j + 1])
                j++;
            j++;
        }
        *vs = i;
        *ve = j;
        return true;
    }
    size_t j = i;
    while (s[j] && !isspace((unsigned char)s[j]) && !(in_query && s[j] == '&')) {
        if (s[j] == '\\' && s[j + 1])
            j++;
        j++;
    }
    *vs = i;
    *ve = j;
    return true;
}

/* A URI's userinfo password after the "://" at s: [*ps, *pe) relative to s.
 * The authority is not trusted to be well formed (libpq echoes malformed URIs
 * in its errors): the password runs from the first ':' after the scheme to the
 * LAST '@' of the line, which may hide a little more than the password but
 * never less. */
static bool uri_password(const char *s, size_t *ps, size_t *pe)
{
    size_t i = 3, colon = 0, at = 0;
    for (; s[i] && s[i] != '\n' && s[i] != '\r'; i++) {
        if (s[i] == ':' && !colon && !at)
            colon = i;
        else if (s[i] == '@')
            at = i;
    }
    if (!colon || !at || at < colon)
        return false;
    *ps = colon + 1;
    *pe = at;
    return true;
}

/* Does a secret start at s (prev: the byte before s, or 0)? Then *keep is the
 * number of bytes before it to copy as they are (the keyword and '=', or the
 * URI up to the userinfo's ':'), [*keep, *end) is the secret (relative to s;
 * may be empty) and the scan resumes at *end. */
static bool secret_at(const char *s, char prev, size_t *keep, size_t *end)
{
    size_t w = match_password_word(s);
    if (w && keyword_value(s, w, prev == '?' || prev == '&', keep, end))
        return true;
    return s[0] == ':' && s[1] == '/' && s[2] == '/' && uri_password(s, keep, end);
}

size_t alchdb__redact_into(char *out, size_t cap, const char *text, const char *const *secrets,
                           size_t nsecrets)
{
    if (!out || cap == 0)
        return 0;
    redact_out o = {out, cap, 0};
    if (!text)
        text = "";
    /* A pattern's secret [mask_at, mask_end) is replaced when the scan gets
     * there; the bytes before it (the keyword, the URI up to its ':') are
     * scanned like any others, so a verbatim secret among them (a password
     * that is also the user name) is replaced too. */
    size_t i = 0, mask_at = SIZE_MAX, mask_end = 0;
    while (text[i] && o.len < cap - 1) {
        if (i == mask_at) {
            out_put(&o, "***", 3);
            i = mask_end;
            mask_at = SIZE_MAX;
            continue;
        }
        const char *s = text + i;
        size_t n = 0;
        for (size_t k = 0; k < nsecrets && !n; k++) {
            const char *sec = secrets ? secrets[k] : NULL;
            size_t sl = sec ? strlen(sec) : 0;
            if (sl && strncmp(s, sec, sl) == 0)
                n = sl;
        }
        if (n) {
            out_put(&o, "***", 3);
            i += n;
            if (mask_at != SIZE_MAX && i > mask_at) { /* it ran into the pattern's secret */
                if (i < mask_end)
                    i = mask_end;
                mask_at = SIZE_MAX;
            }
            continue;
        }
        size_t a, b;
        if (mask_at == SIZE_MAX && secret_at(s, i ? text[i - 1] : '\0', &a, &b) && b > a) {
            mask_at = i + a;
            mask_end = i + b;
            if (a == 0)
                continue; /* the secret starts here */
        }
        out_put(&o, s, 1);
        i++;
    }
    out[o.len] = '\0';
    return o.len;
}

char *alchdb__redact(const char *text, const char *const *secrets, size_t nsecrets)
{
    if (!text)
        text = "";
    /* A replaced span becomes "***": at worst every byte is a one-byte
     * secret and the text triples. */
    size_t len = strlen(text);
    if (len > (SIZE_MAX - 4) / 3)
        return NULL;
    size_t cap = len * 3 + 4;
    char *buf = alchdb__malloc(cap);
    if (!buf)
        return NULL;
    alchdb__redact_into(buf, cap, text, secrets, nsecrets);
    return buf;
}

char *alchdb__conninfo_password(const char *conninfo)
{
    if (!conninfo)
        return NULL;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    if (err)
        PQfreemem(err);
    if (!opts)
        return NULL;
    char *pw = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
            pw = alchdb__strdup(o->val);
    alchdb__pq_conninfo_free(opts);
    return pw;
}

void alchdb__pq_conninfo_free(PQconninfoOption *opts)
{
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (strcmp(o->keyword, "password") == 0)
            alchdb__wipe(o->val);
    }
    PQconninfoFree(opts);
}

ALCHDB_API int alchdb_redact(const char *text, const char *conninfo, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(text, "text", "must not be NULL");
    *out = alchdb__redact_conninfo(text, conninfo);
    return *out ? 0 : alchdb__nomem("redacted text");
}

/* The n bytes at s decoded into out (room for n + 1): percent escapes (a '%'
 * without two hex digits after it stays) or, for a quoted keyword value,
 * backslash escapes, as libpq reads them. */
static void decode_span(char *out, const char *s, size_t n, bool backslash)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (backslash && s[i] == '\\' && i + 1 < n) {
            out[j++] = s[++i];
        } else if (!backslash && s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
                   hexval((unsigned char)s[i + 2]) >= 0) {
            out[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = '\0';
}

/* Takes `owned` (NULL: an allocation failed, returns false). */
static bool secrets_add(alchdb__conninfo_secrets *cs, char *owned)
{
    if (!owned)
        return false;
    bool skip = !owned[0];
    for (size_t i = 0; i < cs->n && !skip; i++)
        skip = strcmp(cs->v[i], owned) == 0;
    if (skip) {
        alchdb__free_wiped(owned);
        return true;
    }
    if (cs->n == ALCHDB__MAX_CONNINFO_SECRETS) {
        alchdb__free_wiped(owned);
        return false;
    }
    /* Longest first, so that a secret containing another is replaced whole. */
    size_t at = cs->n, len = strlen(owned);
    while (at > 0 && strlen(cs->v[at - 1]) < len) {
        cs->v[at] = cs->v[at - 1];
        at--;
    }
    cs->v[at] = owned;
    cs->n++;
    return true;
}

static char *decoded_copy(const char *s, size_t n, bool backslash)
{
    char *d = alchdb__malloc(n + 1);
    if (d)
        decode_span(d, s, n, backslash);
    return d;
}

bool alchdb__conninfo_secrets_init(alchdb__conninfo_secrets *cs, const char *conninfo)
{
    cs->n = 0;
    if (!conninfo)
        return true;
    bool ok = true;
    /* The password as libpq parses it (NULL also when there is none). */
    char *pw = alchdb__conninfo_password(conninfo);
    if (pw)
        ok &= secrets_add(cs, pw);
    /* Every span the patterns find in the raw text, as written and decoded:
     * libpq quotes such a token alone in some parse errors (`invalid
     * percent-encoded token: "..."`), where no pattern shows that it is a
     * password, and cannot parse the conninfo to tell us. */
    for (size_t i = 0; conninfo[i];) {
        size_t a, b;
        if (!secret_at(conninfo + i, i ? conninfo[i - 1] : '\0', &a, &b)) {
            i++;
            continue;
        }
        if (b > a) {
            const char *v = conninfo + i + a;
            size_t n = b - a;
            ok &= secrets_add(cs, alchdb__strndup(v, n));
            ok &= secrets_add(cs, decoded_copy(v, n, false));
            ok &= secrets_add(cs, decoded_copy(v, n, true));
        }
        i += b > 0 ? b : 1;
    }
    return ok;
}

void alchdb__conninfo_secrets_free(alchdb__conninfo_secrets *cs)
{
    if (!cs)
        return;
    for (size_t i = 0; i < cs->n; i++)
        alchdb__free_wiped(cs->v[i]); /* passwords: not left in freed memory */
    cs->n = 0;
}

/* Said instead of a text whose secrets could not all be collected (out of
 * memory, or more password spans than the set holds). */
static const char withheld[] = "(text withheld: out of memory while removing its password)";

size_t alchdb__redact_conninfo_into(char *out, size_t cap, const char *text, const char *conninfo)
{
    if (!out || cap == 0)
        return 0;
    alchdb__conninfo_secrets cs;
    size_t n;
    if (alchdb__conninfo_secrets_init(&cs, conninfo))
        n = alchdb__redact_into(out, cap, text, (const char *const *)cs.v, cs.n);
    else
        n = alchdb__redact_into(out, cap, withheld, NULL, 0);
    alchdb__conninfo_secrets_free(&cs);
    return n;
}

char *alchdb__redact_conninfo(const char *text, const char *conninfo)
{
    alchdb__conninfo_secrets cs;
    char *r;
    if (alchdb__conninfo_secrets_init(&cs, conninfo))
        r = alchdb__redact(text, (const char *const *)cs.v, cs.n);
    else
        r = alchdb__strdup(withheld);
    alchdb__conninfo_secrets_free(&cs);
    return r;
}
