/**
 * @file alchdb.h
 * @brief Umbrella header of libalchdb: includes every public module header
 *        except <alchdb/pq.h> (the libpq adapter, which needs libpq-fe.h).
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_ALCHDB_H
#define ALCHDB_ALCHDB_H

#include <alchdb/common.h>
#include <alchdb/version.h>
#include <alchdb/error.h>
#include <alchdb/alloc.h>
#include <alchdb/log.h>
#include <alchdb/options.h>
#include <alchdb/sql.h>
#include <alchdb/pool.h>
#include <alchdb/client.h>
#include <alchdb/monitor.h>
#include <alchdb/migration.h>
#include <alchdb/router.h>
#include <alchdb/advisor.h>
#include <alchdb/cache.h>
#include <alchdb/perftest.h>
#include <alchdb/dashboard.h>

#endif /* ALCHDB_ALCHDB_H */
