/* Alert rules as a table, a hysteresis step per rule, and the health JSON
 * members (penalties, firing alerts, de-duplicated recommendations). */
#include <string.h>

#include "dashboard/dash.h"

#define FROM_SAMPLE -1.0

const dash_alert_rule alchdb__dash_alert_rules[] = {
    {"conn_util_critical", "critical", "connections", "Connection pool nearly exhausted", REC_POOL,
     DS_CONN_UTIL_PCT, 1, 90},
    {"conn_util_warning", "warning", "connections", "Connection pool utilisation high", REC_POOL,
     DS_CONN_UTIL_PCT, 1, 80},
    {"slow_query_critical", "critical", "performance", "Too many slow queries", REC_SLOW,
     DS_SLOW_RATIO_PCT, 1, 10},
    {"query_failure_critical", "critical", "reliability", "Query failure rate high", REC_FAILURES,
     DS_FAILURE_RATE_PCT, 1, 1},
    {"cache_hit_low", "warning", "cache", "Cache hit ratio low", REC_CACHE, DS_CACHE_HIT_PCT, 0,
     80},
    {"index_usage_low", "warning", "indexes", "Index usage low", REC_INDEXES, DS_INDEX_USAGE_PCT, 0,
     95},
    {"unused_indexes", "info", "indexes", "Unused indexes found", REC_UNUSED, DS_UNUSED_INDEXES, 1,
     0},
    {"replica_down", "warning", "replication", "A replica does not take reads", REC_REPLICA,
     DS_REPLICAS_DOWN, 1, 0},
    {"replica_lag_high", "warning", "replication", "Replica lag above the bound", REC_LAG,
     DS_MAX_LAG_S, 1, FROM_SAMPLE},
    {"replicas_all_excluded", "critical", "replication", "Every replica is excluded from reads",
     REC_REPLICA, DS_REPLICAS_ALL_OUT, 1, 0},
    {"xid_wraparound", "critical", "maintenance", "Transaction ID wraparound approaching",
     REC_VACUUM, DS_XID_AGE, 1, 1000000000},
};
const size_t alchdb__dash_alert_nrules =
    sizeof alchdb__dash_alert_rules / sizeof alchdb__dash_alert_rules[0];

/* The state array of the dashboard is sized for the table. */
_Static_assert(sizeof alchdb__dash_alert_rules / sizeof alchdb__dash_alert_rules[0] <= 16,
               "dash_alert_state arrays hold 16 rules");

double alchdb__dash_rule_threshold(const dash_alert_rule *r, const dash_sample *s)
{
    return r->threshold == FROM_SAMPLE ? s->max_lag_bound_s : r->threshold;
}

void alchdb__dash_alerts_step(dash_alert_state *st, const dash_sample *s, int64_t now,
                              int64_t hold_us, int64_t clear_us)
{
    for (size_t i = 0; i < alchdb__dash_alert_nrules; i++) {
        const dash_alert_rule *r = &alchdb__dash_alert_rules[i];
        dash_alert_state *a = &st[i];
        /* An unknown value (module detached, too few samples) counts as false:
         * a rule never fires on too little evidence. */
        bool cond = false;
        if (s->have[r->input]) {
            double v = s->v[r->input], thr = alchdb__dash_rule_threshold(r, s);
            cond = r->above ? v > thr : v < thr;
            a->value = v;
        }
        if (!a->stepped || cond != a->cond) {
            a->stepped = true;
            a->cond = cond;
            a->since = now;
        }
        int64_t held = now - a->since;
        if (cond && !a->firing && held >= hold_us) {
            a->firing = true;
            a->fired_at = now;
        } else if (!cond && a->firing && held >= clear_us) {
            a->firing = false;
        }
    }
}

bool alchdb__dash_alert_firing(const dash_alert_state *st) { return st->firing; }

/* A warning is not shown while a critical rule on the same input fires. */
static bool superseded(const dash_alert_state *st, size_t i)
{
    const dash_alert_rule *r = &alchdb__dash_alert_rules[i];
    if (strcmp(r->severity, "critical") == 0)
        return false;
    for (size_t j = 0; j < alchdb__dash_alert_nrules; j++)
        if (j != i && st[j].firing && alchdb__dash_alert_rules[j].input == r->input &&
            strcmp(alchdb__dash_alert_rules[j].severity, "critical") == 0)
            return true;
    return false;
}

static int sev_rank(const char *sev)
{
    return !strcmp(sev, "critical") ? 3 : !strcmp(sev, "warning") ? 2 : 1;
}

void alchdb__dash_health_members(alchdb__strbuf *sb, const dash_health *h,
                                 const dash_alert_state *st, const dash_sample *s)
{
    alchdb__sb_printf(sb, "\"score\":%.1f,\"status\":\"%s\",\"grade\":\"%c\",\"penalties\":[",
                      h->score, alchdb__dash_status_name(h->status), h->grade);
    /* the highest severity pointing at each recommendation (0 = none) */
    int rec_rank[REC_N] = {0};
    for (int i = 0; i < h->npen; i++) {
        const dash_penalty *p = &h->pen[i];
        alchdb__sb_printf(sb, "%s{\"id\":\"%s\",\"metric\":\"%s\",\"value\":%.4g,"
                              "\"threshold\":%.4g,\"points\":%.4g,\"reason\":",
                          i ? "," : "", p->id, p->metric, p->value, p->threshold, p->points);
        alchdb__sb_json_str(sb, p->reason);
        alchdb__sb_puts(sb, ",\"fix\":");
        alchdb__sb_json_str(sb, alchdb__dash_recs[p->rec].text);
        alchdb__sb_puts(sb, "}");
        if (rec_rank[p->rec] < 2)
            rec_rank[p->rec] = 2;
    }
    alchdb__sb_puts(sb, "],\"alerts\":[");
    bool first = true;
    for (size_t i = 0; i < alchdb__dash_alert_nrules; i++) {
        const dash_alert_rule *r = &alchdb__dash_alert_rules[i];
        if (!st[i].firing || superseded(st, i))
            continue;
        alchdb__sb_printf(sb,
                          "%s{\"id\":\"%s\",\"severity\":\"%s\",\"category\":\"%s\",\"title\":",
                          first ? "" : ",", r->id, r->severity, r->category);
        alchdb__sb_json_str(sb, r->title);
        alchdb__sb_printf(sb, ",\"value\":%.4g,\"threshold\":%.4g,\"since_us\":%lld,\"action\":",
                          st[i].value, alchdb__dash_rule_threshold(r, s),
                          (long long)st[i].fired_at);
        alchdb__sb_json_str(sb, alchdb__dash_recs[r->rec].text);
        alchdb__sb_puts(sb, "}");
        first = false;
        if (rec_rank[r->rec] < sev_rank(r->severity))
            rec_rank[r->rec] = sev_rank(r->severity);
    }
    alchdb__sb_puts(sb, "],\"recommendations\":[");
    static const char *const rank_name[] = {"", "info", "warning", "critical"};
    first = true;
    for (int rank = 3; rank >= 1; rank--)
        for (int k = 0; k < REC_N; k++) {
            if (rec_rank[k] != rank)
                continue;
            alchdb__sb_printf(sb, "%s{\"id\":\"%s\",\"priority\":\"%s\",\"text\":",
                              first ? "" : ",", alchdb__dash_recs[k].id, rank_name[rank]);
            alchdb__sb_json_str(sb, alchdb__dash_recs[k].text);
            alchdb__sb_puts(sb, "}");
            first = false;
        }
    alchdb__sb_puts(sb, "]");
}
