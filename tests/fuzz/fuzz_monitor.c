/* The monitor's recording path (text cache, normaliser, unparsed patterns,
 * labels, slow log, N+1 detection, eviction) and its JSON documents. The input
 * is a list of records separated by 0x1e; in each, 0x1f separates the text
 * from labels, and the first byte picks the duration, the SQLSTATE and the
 * route. A small monitor (few patterns, a tiny text cache) makes eviction
 * happen. Properties: record returns 0 or a documented error; every JSON
 * document parses; the normaliser stays inside its output bound. */
#include "fuzz.h"
#include "internal.h"
#include "monitor/monitor_internal.h"


static alchdb_monitor *make(int keep_parameters)
{
    alchdb_monitor_config *cfg = NULL;
    if (alchdb_monitor_config_new(&cfg))
        abort();
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_MAX_PATTERNS, 16);
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_TEXT_CACHE_SIZE, 64);
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE, 8);
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_MAX_LABEL_VALUES, 8);
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_MAX_TEXT_LENGTH, 64);
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_N_PLUS_ONE_THRESHOLD, 2);
    alchdb_monitor_config_set_int64(cfg, ALCHDB_MONITOR_OPT_KEEP_PARAMETERS, keep_parameters);
    alchdb_monitor *mon = NULL;
    if (alchdb_monitor_new(cfg, &mon))
        abort();
    alchdb_monitor_config_free(cfg);
    return mon;
}

static const char *const states[] = {NULL, "00000", "42601", "57014", "40001", "23505", "42p0", "XX000"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    alchdb_monitor *mon = make(data[0] & 1);
    char *recs[64];
    size_t nrec = fuzz_split(data + 1, size - 1, 0x1e, recs, 64);
    for (size_t i = 0; i < nrec; i++) {
        char *parts[10];
        size_t np = fuzz_split((const uint8_t *)recs[i], strlen(recs[i]), 0x1f, parts, 10);
        const char *text = parts[0];
        size_t tl = strlen(text);
        unsigned pick = tl ? (unsigned char)text[0] : 0;
        alchdb_monitor_query q = {
            .version = ALCHDB_MONITOR_QUERY_VERSION,
            .nlabels = (uint32_t)(np - 1),
            .sql = text,
            .sql_len = (int64_t)tl,
            .duration_us = (int64_t)(pick % 7) * 40000,
            .rows = (int64_t)(pick % 5) - 1,
            .sqlstate = states[pick % 8],
            .route = pick & 8 ? "replica" : (pick & 16 ? parts[np - 1] : NULL),
            .labels = np > 1 ? (const char *const *)(parts + 1) : NULL,
        };
        int rc = alchdb_monitor_record(mon, &q);
        fuzz_check_rc("alchdb_monitor_record", rc);
        FUZZ_CHECK(rc == 0 || rc == ALCHDB_E_INVALID || rc == ALCHDB_E_NOMEM, "record returned %d", rc);
        if (tl == 0 || (q.sqlstate && !strcmp(q.sqlstate, "42p0")))
            FUZZ_CHECK(rc == ALCHDB_E_INVALID, "an empty text or a bad SQLSTATE was accepted");

        /* the normaliser on its own, with a small output bound */
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        int tokens = -1;
        bool dml = false;
        alchdb__monitor_strip(text, tl, &sb, 32, &tokens, &dml);
        FUZZ_CHECK(tokens >= 0, "strip: %d tokens", tokens);
        FUZZ_CHECK(sb.failed || sb.len <= 32, "strip wrote %zu bytes past a bound of 32", sb.len);
        alchdb__sb_reset(&sb);
        free(parts[0]);
    }
    free(recs[0]);
    char *json = NULL;
    int rc = alchdb_monitor_patterns_to_json(mon, (int)(data[0] >> 1) % 8, 0, ALCHDB_MONITOR_JSON_WINDOWS, &json);
    fuzz_json_ok("alchdb_monitor_patterns_to_json", rc, json);
    json = NULL;
    rc = alchdb_monitor_analysis_to_json(mon, 0, &json);
    fuzz_json_ok("alchdb_monitor_analysis_to_json", rc, json);
    json = NULL;
    rc = alchdb_monitor_slow_log_to_json(mon, 0, &json);
    fuzz_json_ok("alchdb_monitor_slow_log_to_json", rc, json);
    alchdb_monitor_metrics st;
    fuzz_check_rc("alchdb_monitor_get_metrics", alchdb_monitor_get_metrics(mon, &st, sizeof st));
    FUZZ_CHECK(st.patterns <= 16, "%lld patterns in a monitor of 16", (long long)st.patterns);
    alchdb_monitor_free(mon);
    return 0;
}
