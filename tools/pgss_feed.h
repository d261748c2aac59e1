/* Feeds a monitor from pg_stat_statements deltas (the dashboard agent's
 * view of a database whose application does not use the library). */
#ifndef ALCHDB_TOOLS_PGSS_FEED_H
#define ALCHDB_TOOLS_PGSS_FEED_H

#include <alchdb/alchdb.h>

typedef struct pgss_feed pgss_feed;

/* A feed reading through pool into mon (both borrowed). */
pgss_feed *pgss_feed_new(alchdb_pool *pool, alchdb_monitor *mon);
void pgss_feed_free(pgss_feed *f);
/* Read pg_stat_statements and record the executions since the last tick
 * (the first tick only takes the baseline). Returns 0 or an ALCHDB_E_* code
 * (the message says why). */
int pgss_feed_tick(pgss_feed *f);

#endif
