/* Health score: 100 minus the penalties of a table of rules, each with the
 * metric it reads, its tiers, the reason and the fix shown to the user. */
#include <string.h>

#include "dashboard/dash.h"

enum { ABOVE, BELOW, DEFICIT };

typedef struct tier {
    double threshold, points;
} tier;

typedef struct penalty_rule {
    const char *id, *metric;
    int input; /* DS_* */
    int kind;  /* ABOVE: value > threshold; BELOW: value < threshold; DEFICIT: (threshold - value) * points */
    tier tiers[3]; /* most severe first; the first tier that matches applies */
    int skip_if;   /* index of a rule whose penalty replaces this one, or -1 */
    const char *reason;
    int rec; /* REC_* */
} penalty_rule;

const dash_rec alchdb__dash_recs[REC_N] = {
    [REC_POOL] = {"pool_capacity",
                  "raise max_open_conns (and the server's max_connections), or shorten the time "
                  "each caller holds a connection"},
    [REC_FAILURES] = {"query_failures",
                      "look at the failing patterns and their SQLSTATE classes in queries/analysis"},
    [REC_SLOW] = {"slow_queries",
                  "start with the top patterns by total time; add the suggested indexes"},
    [REC_CACHE] = {"cache_effectiveness",
                   "cache only expensive, read-mostly statements; raise the TTL or the memory "
                   "limit"},
    [REC_INDEXES] = {"index_review",
                     "review the advisor's suggestions (indexes/suggestions) and apply its script"},
    [REC_UNUSED] = {"unused_indexes",
                    "drop indexes that no query uses (indexes/unused) after checking replicas and "
                    "rare jobs"},
    [REC_REPLICA] = {"replica_health",
                     "check the replica's server and network; reads go to the primary meanwhile"},
    [REC_VACUUM] = {"vacuum_freeze",
                    "run VACUUM (FREEZE) on the oldest tables (database/maintenance lists their XID "
                    "age) and check that autovacuum keeps up"},
    [REC_LAG] = {"replica_lag",
                 "look for long transactions or I/O saturation on the replica; reads needing "
                 "fresh data go to the primary meanwhile"},
};

static const penalty_rule rules[] = {
    {"connection_utilization", "pool.utilization_pct", DS_CONN_UTIL_PCT, ABOVE,
     {{90, 25}, {80, 15}}, -1,
     "connections in use are close to the pool's maximum: callers will queue", REC_POOL},
    {"query_failure_rate", "monitor.failure_rate_pct", DS_FAILURE_RATE_PCT, ABOVE, {{1, 30}}, -1,
     "more than 1 % of the recent executions failed", REC_FAILURES},
    {"slow_query_ratio", "monitor.slow_ratio_pct", DS_SLOW_RATIO_PCT, ABOVE, {{10, 25}, {5, 15}},
     1, "too many recent executions ran at or above the slow-query threshold", REC_SLOW},
    {"cache_hit_ratio", "cache.hit_ratio_pct", DS_CACHE_HIT_PCT, BELOW,
     {{70, 25}, {85, 15}, {90, 10}}, -1,
     "the cache answers too few lookups: most cacheable reads still hit the database", REC_CACHE},
    {"index_health", "advisor.index_score", DS_INDEX_SCORE, DEFICIT, {{100, 0.2}}, -1,
     "the index advisor found unused, redundant or missing indexes", REC_INDEXES},
};

static bool matches(int kind, double v, double thr)
{
    return kind == ABOVE ? v > thr : v < thr;
}

void alchdb__dash_score(const dash_sample *s, dash_health *h)
{
    memset(h, 0, sizeof *h);
    bool applied[sizeof rules / sizeof rules[0]] = {false};
    double total = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const penalty_rule *r = &rules[i];
        if (!s->have[r->input] || (r->skip_if >= 0 && applied[r->skip_if]))
            continue;
        double v = s->v[r->input], pts = 0, thr = 0;
        if (r->kind == DEFICIT) {
            thr = r->tiers[0].threshold;
            pts = v < thr ? (thr - v) * r->tiers[0].points : 0;
        } else {
            for (size_t t = 0; t < 3 && r->tiers[t].points > 0; t++)
                if (matches(r->kind, v, r->tiers[t].threshold)) {
                    pts = r->tiers[t].points;
                    thr = r->tiers[t].threshold;
                    break;
                }
        }
        if (pts <= 0 || h->npen >= DASH_MAX_PENALTIES)
            continue;
        applied[i] = true;
        total += pts;
        h->pen[h->npen++] = (dash_penalty){r->id, r->metric, r->reason, r->rec, v, thr, pts};
    }
    h->score = total >= 100 ? 0 : 100 - total;
    h->status = alchdb__dash_status_of(h->score);
    h->grade = alchdb__dash_grade(h->score);
}

int alchdb__dash_status_of(double score)
{
    return score < 50 ? ALCHDB_DASHBOARD_CRITICAL
           : score < 75 ? ALCHDB_DASHBOARD_WARNING
                        : ALCHDB_DASHBOARD_HEALTHY;
}

const char *alchdb__dash_status_name(int status)
{
    static const char *const names[] = {"healthy", "warning", "critical"};
    return status >= 0 && status < 3 ? names[status] : "unknown";
}

char alchdb__dash_grade(double score)
{
    static const struct {
        double min;
        char grade;
    } grades[] = {{90, 'A'}, {80, 'B'}, {70, 'C'}, {60, 'D'}};
    for (size_t i = 0; i < sizeof grades / sizeof grades[0]; i++)
        if (score >= grades[i].min)
            return grades[i].grade;
    return 'F';
}
