/**
 * @file pq.h
 * @brief libpq adapter: the one public header that may mention PGconn/PGresult.
 * @since 0.1.0
 */
#ifndef ALCHDB_PQ_H
#define ALCHDB_PQ_H

#include <libpq-fe.h>

#include <alchdb/common.h>

#endif /* ALCHDB_PQ_H */
