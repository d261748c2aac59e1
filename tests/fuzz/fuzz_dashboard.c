/* The dashboard's request handler. Input: a method byte (GET, HEAD, POST,
 * other), then the request target up to the first newline, then the body.
 * Properties: an answer for any bytes; its status is one the handler
 * documents; JSON answers parse and carry the envelope ("success" with data,
 * or "error" with a code and a message). */
#include "fuzz.h"

static alchdb_dashboard *dash;

static void setup(void)
{
    alchdb_monitor *mon = NULL;
    alchdb_cache *cache = NULL;
    if (alchdb_dashboard_new(NULL, &dash) || alchdb_monitor_new(NULL, &mon) ||
        alchdb_cache_new(NULL, &cache))
        fuzz_fail("setup: %s", alchdb_last_error_message());
    alchdb_monitor_record_simple(mon, "SELECT * FROM t WHERE id = 1", 1200, NULL);
    alchdb_monitor_record_simple(mon, "UPDATE t SET v = 2 WHERE id = 1", 90000, "40P01");
    alchdb_dashboard_attach_monitor(dash, mon);
    alchdb_dashboard_attach_cache(dash, cache);
    /* both live for the whole run, as the dashboard does */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dash)
        setup();
    if (size == 0)
        return 0;
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT"};
    const char *method = methods[data[0] % 4];
    const char *rest = (const char *)data + 1;
    size_t left = size - 1;
    const char *nl = memchr(rest, '\n', left);
    size_t tlen = nl ? (size_t)(nl - rest) : left;
    char *target = strndup(rest, tlen); /* stops at a NUL: the API takes C strings */
    if (!target)
        return 0;
    const char *body = nl ? nl + 1 : NULL;
    size_t blen = nl ? left - tlen - 1 : 0;
    int status = 0;
    const char *type = NULL;
    char *out = NULL;
    size_t out_len = 0;
    int rc = alchdb_dashboard_handle(dash, method, target, body, blen, &status, &type, &out, &out_len);
    FUZZ_CHECK(rc == 0, "handle failed: %s", alchdb_last_error_message());
    FUZZ_CHECK(out && strlen(out) == out_len, "body length");
    static const int ok[] = {200, 202, 400, 404, 405, 413, 414, 503};
    bool known = false;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        known |= status == ok[i];
    FUZZ_CHECK(known, "status %d for %s %s", status, method, target);
    if (!strncmp(type, "application/json", 16)) {
        json_error_t e;
        json_t *j = json_loads(out, 0, &e);
        FUZZ_CHECK(j != NULL, "invalid JSON (%s): %.200s", e.text, out);
        const char *st = json_string_value(json_object_get(j, "status"));
        FUZZ_CHECK(st && (!strcmp(st, "success") ? json_object_get(j, "data") != NULL
                                                 : !strcmp(st, "error") &&
                                                       json_string_value(json_object_get(
                                                           json_object_get(j, "error"), "message"))),
                   "envelope: %.200s", out);
        FUZZ_CHECK((status < 400) == !strcmp(st, "success"), "status %d with %s", status, st);
        json_decref(j);
    }
    alchdb_free(out);
    free(target);
    return 0;
}
