/* The one JSON string escaper (alchdb__sb_json_strn). Properties: the output
 * of any bytes parses as one JSON string; when the input is well-formed UTF-8
 * (as jansson judges it) the string decodes to exactly the input; otherwise
 * it decodes to the input with ill-formed parts replaced (never longer than
 * three bytes per input byte), and the U+FFFD count is at least one. The
 * escaper's own UTF-8 decoder is also checked against jansson's, sequence by
 * sequence. */
#include "fuzz.h"
#include "internal.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_json_strn(&sb, (const char *)data, size);
    char *js = alchdb__sb_finish(&sb);
    FUZZ_CHECK(js != NULL, "out of memory");
    json_error_t e;
    json_t *v = json_loads(js, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    FUZZ_CHECK(v && json_is_string(v), "not a JSON string (%s): %s", e.text, js);
    json_t *orig = json_stringn(size ? (const char *)data : "", size); /* NULL when not UTF-8 */
    if (orig) {
        FUZZ_CHECK(json_string_length(v) == size && !memcmp(json_string_value(v), data, size),
                   "well-formed UTF-8 came back altered");
        json_decref(orig);
    } else {
        FUZZ_CHECK(strstr(js, "\xef\xbf\xbd") != NULL, "ill-formed input without a U+FFFD");
        FUZZ_CHECK(json_string_length(v) <= 3 * size, "grew past three bytes per byte");
    }
    json_decref(v);
    alchdb__free(js);

    /* each sequence the decoder accepts, jansson accepts alone, and back */
    for (size_t i = 0; i < size;) {
        size_t bad = 0;
        size_t len = alchdb__utf8_seq(data + i, size - i, &bad);
        json_t *one = json_stringn((const char *)data + i, len ? len : 1);
        if (len) {
            FUZZ_CHECK(data[i] == 0 || one != NULL, "sequence at %zu accepted by the escaper only", i);
            i += len;
        } else {
            FUZZ_CHECK(bad >= 1 && bad <= 3 && bad <= size - i, "bad length %zu", bad);
            json_t *sub = json_stringn((const char *)data + i, bad);
            FUZZ_CHECK(sub == NULL, "a maximal subpart at %zu is valid UTF-8", i);
            i += bad;
        }
        json_decref(one);
    }
    return 0;
}
