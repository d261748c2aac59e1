/* The redaction of conninfo strings and messages (lib/core/pqconn.c). The
 * input is a text and a conninfo separated by the first 0x00 (without one,
 * the text is its own conninfo, as the CLI uses it). Properties:
 *   - the output of alchdb__redact_conninfo(text, conninfo) never contains
 *     the password libpq parses from the conninfo, nor any secret collected
 *     from it (unless the secret has a '*', which the "***" put in place of
 *     another secret can complete: "ord=" + "***" holds "ord=*", or the set
 *     was incomplete and the text withheld);
 *   - alchdb__redact_into() with any capacity writes a NUL-terminated string
 *     of at most cap - 1 bytes and returns its length, and with a large
 *     enough buffer gives what alchdb__redact() gives;
 *   - without secrets, the output never contains the value of a keyword
 *     "password" that libpq reads from a keyword conninfo (when that value
 *     is long enough to be told apart from the rest). */
#include "fuzz.h"
#include "internal.h"
#include "pqconn.h"


/* A '*' in a secret: the "***" of a replacement next to text may hold it. */
static bool has_star(const char *s) { return strchr(s, '*') != NULL; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *parts[2];
    size_t np = fuzz_split(data, size, '\0', parts, 2);
    const char *text = parts[0], *conninfo = np > 1 ? parts[1] : parts[0];

    char *red = alchdb__redact_conninfo(text, conninfo);
    FUZZ_CHECK(red != NULL, "out of memory without an allocator failure");
    bool withheld = strstr(red, "(text withheld") == red;
    alchdb__conninfo_secrets cs;
    bool complete = alchdb__conninfo_secrets_init(&cs, conninfo);
    FUZZ_CHECK(complete || withheld, "an incomplete secret set, but the text was shown");
    if (!withheld)
        for (size_t i = 0; i < cs.n; i++)
            FUZZ_CHECK(has_star(cs.v[i]) || !strstr(red, cs.v[i]), "secret '%s' survived in '%s'", cs.v[i], red);
    char *pw = alchdb__conninfo_password(conninfo);
    if (pw && !withheld)
        FUZZ_CHECK(has_star(pw) || !strstr(red, pw), "password '%s' survived in '%s'", pw, red);

    /* bounded writes, any capacity */
    size_t cap = size ? (size_t)data[0] % 64 + 1 : 1;
    char *small = malloc(cap);
    size_t n = alchdb__redact_into(small, cap, text, (const char *const *)cs.v, cs.n);
    FUZZ_CHECK(n < cap && small[n] == '\0' && strlen(small) == n, "redact_into: %zu bytes in %zu", n, cap);
    if (complete)
        FUZZ_CHECK(!strncmp(small, red, n), "a truncated redaction differs from the whole one");
    free(small);

    /* patterns alone: a keyword conninfo's password disappears */
    char *plain = alchdb__redact(conninfo, NULL, 0);
    FUZZ_CHECK(plain != NULL, "out of memory");
    if (pw && strlen(pw) >= 8 && !strstr(conninfo, "://") && !has_star(pw)) {
        /* it may still occur where the conninfo repeats it under another
         * keyword; only a conninfo where it occurs once is checked */
        const char *first = strstr(conninfo, pw);
        if (first && !strstr(first + 1, pw))
            FUZZ_CHECK(!strstr(plain, pw), "the patterns let '%s' through: '%s'", pw, plain);
    }
    alchdb__free(plain);
    alchdb__free(pw);
    alchdb__conninfo_secrets_free(&cs);
    alchdb__free(red);
    free(parts[0]);
    return 0;
}
