/* Judging results against their targets, and the report: summary, JSON and
 * the text for people. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pt.h"

static const char *const profile_names[] = {"quick", "default", "full"};

/* The measured value of metric m in the target's unit (us, ops/s, milli-percent). */
static double actual(const pt_result *r, int m)
{
    switch (m) {
    case PT_M_P95: return (double)r->p95_us;
    case PT_M_OPS: return r->ops_per_sec;
    case PT_M_ERRORS: return r->error_pct * 1000.0;
    case PT_M_UTIL: return r->util_mean_pct * 1000.0;
    default: return r->hit_pct * 1000.0;
    }
}

static bool at_least(int m)
{
    return m == PT_M_OPS || m == PT_M_HIT;
}

void alchdb__pt_judge(pt_result *r)
{
    r->passed = r->ops > 0;
    for (int m = 0; m < PT_NMETRICS; m++) {
        r->judged[m] = r->target[m] >= 0;
        if (!r->judged[m])
            continue;
        double a = actual(r, m);
        bool measured = r->ops > 0 && (m != PT_M_UTIL || r->util_mean_pct >= 0) && (m != PT_M_HIT || r->hit_pct >= 0);
        r->met[m] = measured && (at_least(m) ? a >= (double)r->target[m] : a <= (double)r->target[m]);
        r->passed = r->passed && r->met[m];
    }
}

char alchdb__pt_grade(int64_t health)
{
    return health >= 90 ? 'A' : health >= 80 ? 'B' : health >= 70 ? 'C' : health >= 60 ? 'D' : 'F';
}

static void summarize(const alchdb_perftest_report *rep, alchdb_perftest_summary *s)
{
    memset(s, 0, sizeof *s);
    s->tests = (int64_t)rep->n;
    for (size_t i = 0; i < rep->n; i++)
        s->passed += rep->r[i].passed;
    s->failed = s->tests - s->passed;
    s->health = 100 - 10 * s->failed;
    if (s->health < 0)
        s->health = 0;
    s->grade = alchdb__pt_grade(s->health);
    s->duration_us = rep->duration_us;
}

ALCHDB_API int alchdb_perftest_report_summary(const alchdb_perftest_report *rep, alchdb_perftest_summary *s,
                                              size_t size)
{
    ALCHDB_CHECK_ARG(rep, "rep", "must not be NULL");
    ALCHDB_CHECK_ARG(s, "s", "must not be NULL");
    ALCHDB_CHECK_ARG(size >= 8, "size", "must be at least 8");
    alchdb_perftest_summary full;
    summarize(rep, &full);
    size_t n = size < sizeof full ? size : sizeof full;
    full.size = (uint32_t)n;
    memcpy(s, &full, n);
    return 0;
}

/* A value of metric m for people: "12.3 ms", "512 ops/s", "0.20 %". */
static void fmt_value(int m, double v, char *buf, size_t cap)
{
    if (m == PT_M_P95)
        snprintf(buf, cap, "%.3f ms", v / 1000.0);
    else if (m == PT_M_OPS)
        snprintf(buf, cap, "%.0f ops/s", v);
    else
        snprintf(buf, cap, "%.2f %%", v / 1000.0);
}

/* Critical: a test that ran nothing, hit errors beyond its target, or missed
 * a latency target by more than twice. */
static void critical_issues(const pt_result *r, void (*emit)(void *, const char *), void *arg)
{
    const pt_test_def *def = &alchdb__pt_tests[r->index];
    char line[512];
    if (r->ops == 0) {
        snprintf(line, sizeof line, "%s: no operation completed%s%s", def->name, r->first_error[0] ? ": " : "",
                 r->first_error);
        emit(arg, line);
        return;
    }
    if (r->judged[PT_M_ERRORS] && !r->met[PT_M_ERRORS]) {
        snprintf(line, sizeof line, "%s: %.2f %% of operations failed (first: %s)", def->name, r->error_pct,
                 r->first_error[0] ? r->first_error : "unknown");
        emit(arg, line);
    }
    if (r->judged[PT_M_P95] && (double)r->p95_us > 2.0 * (double)r->target[PT_M_P95]) {
        snprintf(line, sizeof line, "%s: p95 %.1f ms is more than twice the %.1f ms target", def->name,
                 (double)r->p95_us / 1000.0, (double)r->target[PT_M_P95] / 1000.0);
        emit(arg, line);
    }
    if (r->judged[PT_M_HIT] && r->hit_pct < 0) {
        snprintf(line, sizeof line, "%s: %s", def->name, r->first_error[0] ? r->first_error : "no cache measured");
        emit(arg, line);
    }
}

/* One recommendation per missed target: what was missed and what to do. */
static void recommendations(const pt_result *r, void (*emit)(void *, const char *), void *arg)
{
    const pt_test_def *def = &alchdb__pt_tests[r->index];
    char line[768], got[32], want[32];
    for (int m = 0; m < PT_NMETRICS; m++) {
        if (!r->judged[m] || r->met[m] || r->ops == 0)
            continue;
        fmt_value(m, actual(r, m), got, sizeof got);
        fmt_value(m, (double)r->target[m], want, sizeof want);
        switch (m) {
        case PT_M_P95:
        case PT_M_OPS:
            snprintf(line, sizeof line, "%s: %s %s %s target %s: %s", def->name, m == PT_M_P95 ? "p95" : "throughput",
                     got, m == PT_M_P95 ? "exceeds the" : "is below the", want, def->advice);
            break;
        case PT_M_ERRORS:
            snprintf(line, sizeof line,
                     "%s: %s of operations failed (target %s): check the first error, the server's logs and the "
                     "pool's max_waiters and acquire_timeout",
                     def->name, got, want);
            break;
        case PT_M_UTIL:
            snprintf(line, sizeof line,
                     "%s: mean pool utilization %s is above %s: raise max_open_conns, add replicas, or hold "
                     "connections for less time",
                     def->name, got, want);
            break;
        default:
            if (r->hit_pct < 0)
                snprintf(line, sizeof line, "%s: no cache was measured: attach a cache to the client (and pass it "
                                            "in the perftest target)", def->name);
            else
                snprintf(line, sizeof line, "%s: hit rate %s is below %s: give hot read queries a TTL long enough "
                                            "to be reused and check what invalidates them", def->name, got, want);
            break;
        }
        emit(arg, line);
    }
    if (r->ops == 0) {
        snprintf(line, sizeof line, "%s: no operation completed: check the connection and the first error",
                 def->name);
        emit(arg, line);
    }
}

/* ---- JSON ----------------------------------------------------------------- */

static void json_emit(void *arg, const char *s)
{
    alchdb__strbuf *sb = arg;
    if (sb->len && sb->data[sb->len - 1] != '[')
        alchdb__sb_puts(sb, ",");
    alchdb__sb_json_str(sb, s);
}

static void json_num(alchdb__strbuf *sb, double v, bool valid)
{
    if (valid)
        alchdb__sb_printf(sb, "%.3f", v);
    else
        alchdb__sb_puts(sb, "null");
}

static void json_test(alchdb__strbuf *sb, const pt_result *r)
{
    const pt_test_def *def = &alchdb__pt_tests[r->index];
    alchdb__sb_puts(sb, "{\"name\":");
    alchdb__sb_json_str(sb, def->name);
    alchdb__sb_puts(sb, ",\"title\":");
    alchdb__sb_json_str(sb, def->title);
    alchdb__sb_printf(sb,
                      ",\"workers\":%lld,\"duration_s\":%.3f,\"ops\":%lld,\"errors\":%lld,\"error_pct\":%.3f,"
                      "\"ops_per_sec\":%.3f,\"latency_ms\":{\"p50\":%.3f,\"p95\":%.3f,\"p99\":%.3f,\"max\":%.3f,"
                      "\"mean\":%.3f},\"utilization_pct\":",
                      (long long)r->workers, (double)r->duration_us / 1e6, (long long)r->ops, (long long)r->errors,
                      r->error_pct, r->ops_per_sec, (double)r->p50_us / 1e3, (double)r->p95_us / 1e3,
                      (double)r->p99_us / 1e3, (double)r->max_us / 1e3, r->mean_us / 1e3);
    if (r->util_mean_pct >= 0)
        alchdb__sb_printf(sb, "{\"mean\":%.3f,\"max\":%.3f}", r->util_mean_pct, r->util_max_pct);
    else
        alchdb__sb_puts(sb, "null");
    alchdb__sb_puts(sb, ",\"cache_hit_pct\":");
    json_num(sb, r->hit_pct, r->hit_pct >= 0);
    alchdb__sb_puts(sb, ",\"index_p95_ms\":");
    json_num(sb, (double)r->idx_p95_us / 1e3, r->idx_p95_us >= 0);
    alchdb__sb_puts(sb, ",\"seq_p95_ms\":");
    json_num(sb, (double)r->seq_p95_us / 1e3, r->seq_p95_us >= 0);
    alchdb__sb_printf(sb, ",\"passed\":%s,\"first_error\":", r->passed ? "true" : "false");
    alchdb__sb_json_str(sb, r->first_error[0] ? r->first_error : NULL);
    alchdb__sb_puts(sb, ",\"targets\":[");
    bool first = true;
    for (int m = 0; m < PT_NMETRICS; m++) {
        if (!r->judged[m])
            continue;
        double scale = m == PT_M_P95 ? 1e3 : m == PT_M_OPS ? 1 : 1e3;
        double a = actual(r, m) / scale;
        bool valid = r->ops > 0 && (m != PT_M_UTIL || r->util_mean_pct >= 0) && (m != PT_M_HIT || r->hit_pct >= 0);
        alchdb__sb_printf(sb, "%s{\"metric\":\"%s\",\"op\":\"%s\",\"unit\":\"%s\",\"target\":%.3f,\"actual\":",
                          first ? "" : ",", alchdb__pt_metric_name(m), at_least(m) ? ">=" : "<=",
                          m == PT_M_P95 ? "ms" : m == PT_M_OPS ? "ops/s" : "%", (double)r->target[m] / scale);
        json_num(sb, a, valid);
        alchdb__sb_printf(sb, ",\"met\":%s}", r->met[m] ? "true" : "false");
        first = false;
    }
    alchdb__sb_puts(sb, "]}");
}

ALCHDB_API int alchdb_perftest_report_json(const alchdb_perftest_report *rep, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(rep, "rep", "must not be NULL");
    alchdb_perftest_summary s;
    summarize(rep, &s);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    char when[40];
    time_t t = (time_t)(rep->started_wall_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    alchdb__sb_printf(&sb,
                      "{\"version\":1,\"started_at\":\"%s\",\"duration_s\":%.3f,\"profile\":\"%s\","
                      "\"data\":{\"recipes\":%lld,\"users\":%lld},"
                      "\"summary\":{\"tests\":%lld,\"passed\":%lld,\"failed\":%lld,\"health\":%lld,\"grade\":\"%c\"},"
                      "\"tests\":[",
                      when, (double)rep->duration_us / 1e6, profile_names[rep->profile >= 0 && rep->profile <= 2 ? rep->profile : 1],
                      (long long)rep->recipes, (long long)rep->users, (long long)s.tests, (long long)s.passed,
                      (long long)s.failed, (long long)s.health, (char)s.grade);
    for (size_t i = 0; i < rep->n; i++) {
        if (i)
            alchdb__sb_puts(&sb, ",");
        json_test(&sb, &rep->r[i]);
    }
    alchdb__sb_puts(&sb, "],\"critical_issues\":[");
    for (size_t i = 0; i < rep->n; i++)
        critical_issues(&rep->r[i], json_emit, &sb);
    alchdb__sb_puts(&sb, "],\"recommendations\":[");
    for (size_t i = 0; i < rep->n; i++)
        recommendations(&rep->r[i], json_emit, &sb);
    alchdb__sb_puts(&sb, "]}");
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("perftest JSON");
}

/* ---- text ----------------------------------------------------------------- */

static void text_emit(void *arg, const char *s)
{
    alchdb__sb_printf(arg, "  - %s\n", s);
}

ALCHDB_API int alchdb_perftest_report_text(const alchdb_perftest_report *rep, char **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(rep, "rep", "must not be NULL");
    alchdb_perftest_summary s;
    summarize(rep, &s);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "Performance test report: profile %s, %lld recipes, %lld users, %.1f s\n\n",
                      profile_names[rep->profile >= 0 && rep->profile <= 2 ? rep->profile : 1],
                      (long long)rep->recipes, (long long)rep->users, (double)rep->duration_us / 1e6);
    alchdb__sb_printf(&sb, "%-24s %7s %9s %8s %8s %8s %7s  %s\n", "TEST", "WORKERS", "OPS/S", "P50 ms", "P95 ms",
                      "P99 ms", "ERR %", "RESULT");
    for (size_t i = 0; i < rep->n; i++) {
        const pt_result *r = &rep->r[i];
        alchdb__sb_printf(&sb, "%-24s %7lld %9.1f %8.3f %8.3f %8.3f %7.2f  %s\n", alchdb__pt_tests[r->index].name,
                          (long long)r->workers, r->ops_per_sec, (double)r->p50_us / 1e3, (double)r->p95_us / 1e3,
                          (double)r->p99_us / 1e3, r->error_pct, r->passed ? "PASS" : "FAIL");
        for (int m = 0; m < PT_NMETRICS; m++) {
            if (!r->judged[m])
                continue;
            char want[32], got[32];
            fmt_value(m, (double)r->target[m], want, sizeof want);
            bool valid = r->ops > 0 && (m != PT_M_UTIL || r->util_mean_pct >= 0) && (m != PT_M_HIT || r->hit_pct >= 0);
            if (valid)
                fmt_value(m, actual(r, m), got, sizeof got);
            else
                snprintf(got, sizeof got, "not measured");
            alchdb__sb_printf(&sb, "    %-6s %s %-12s actual %-14s %s\n", alchdb__pt_metric_name(m),
                              at_least(m) ? ">=" : "<=", want, got, r->met[m] ? "met" : "MISSED");
        }
        if (r->idx_p95_us >= 0)
            alchdb__sb_printf(&sb, "    index scan p95 %.2f ms, sequential scan p95 %.2f ms\n",
                              (double)r->idx_p95_us / 1e3, (double)r->seq_p95_us / 1e3);
    }
    alchdb__sb_printf(&sb, "\nHealth: %lld/100   Grade: %c   (%lld passed, %lld failed)\n", (long long)s.health,
                      (char)s.grade, (long long)s.passed, (long long)s.failed);
    alchdb__sb_puts(&sb, "\nCritical issues:\n");
    size_t before = sb.len;
    for (size_t i = 0; i < rep->n; i++)
        critical_issues(&rep->r[i], text_emit, &sb);
    if (sb.len == before)
        alchdb__sb_puts(&sb, "  none\n");
    alchdb__sb_puts(&sb, "\nRecommendations:\n");
    before = sb.len;
    for (size_t i = 0; i < rep->n; i++)
        recommendations(&rep->r[i], text_emit, &sb);
    if (sb.len == before)
        alchdb__sb_puts(&sb, "  none: every target was met\n");
    *out = alchdb__sb_finish(&sb);
    return *out ? 0 : alchdb__nomem("perftest report text");
}

ALCHDB_API void alchdb_perftest_report_free(alchdb_perftest_report *rep)
{
    alchdb__free(rep);
}
