/* How urgent a missing-index suggestion is, and why, in words.
 *
 * The benefit is the plan cost the index saves over the workload (saving
 * per call × calls), as a share of the whole workload's plan cost: high
 * from 10 %, medium from 1 %. Two costs then lower it one step each:
 * - the predicate keeps a large share of the table (more than 20 % of its
 *   rows per execution): an index read then saves little over a
 *   sequential scan, and the planner's estimate is the least certain;
 * - the table is write-heavy (rows inserted, updated and deleted since the
 *   statistics reset more than 4 × its scans): every index adds work to
 *   each of those writes.
 * A suggestion that could not be planned (text only) is low. The estimated
 * size of the index is stated beside the table's. */
#include <stdio.h>

#include "adv.h"

#define SHARE_HIGH 0.10
#define SHARE_MEDIUM 0.01
#define WIDE_SELECTIVITY 0.20
#define WRITE_HEAVY_RATIO 4

static const char *const levels[] = {"high", "medium", "low"};

int alchdb__adv_prioritize(adv_missing *m, bool verified, bool planned)
{
    int level = m->workload_share >= SHARE_HIGH ? 0 : m->workload_share >= SHARE_MEDIUM ? 1 : 2;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    if (verified)
        alchdb__sb_printf(&sb, "saves %.1f %% of the workload's plan cost (%.0f call(s) x %.1f per call)",
                          100.0 * m->workload_share, m->calls, m->saving_per_call);
    else if (planned)
        alchdb__sb_printf(&sb, "its statements are %.1f %% of the workload's plan cost (%.0f call(s)); saving not verified",
                          100.0 * m->workload_share, m->calls);
    else
        alchdb__sb_puts(&sb, "its statements could not be planned; suggested from their text");
    if (m->selectivity >= 0) {
        alchdb__sb_printf(&sb, "; the filter keeps about %.2g %% of the table's %.0f rows", 100.0 * m->selectivity,
                          m->table_rows);
        if (m->selectivity > WIDE_SELECTIVITY) {
            alchdb__sb_puts(&sb, " (a large share: little to save over a sequential scan; one step lower)");
            level++;
        }
    }
    alchdb__sb_printf(&sb, "; %lld row(s) written vs %lld scan(s) since the statistics reset", (long long)m->writes,
                      (long long)m->reads);
    if (m->writes > WRITE_HEAVY_RATIO * (m->reads + 1)) {
        alchdb__sb_puts(&sb, " (write-heavy: every index adds work to each write; one step lower)");
        level++;
    }
    if (m->est_bytes > 0)
        alchdb__sb_printf(&sb, "; estimated index size %lld bytes, table %lld bytes", (long long)m->est_bytes,
                          (long long)m->table_bytes);
    if (!planned)
        level = 2;
    m->priority = levels[level > 2 ? 2 : level];
    m->why = alchdb__sb_finish(&sb);
    return m->why ? 0 : alchdb__nomem("advisor suggestions");
}
