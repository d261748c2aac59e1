/**
 * @file pool.h
 * @brief (module under construction)
 * @since 0.1.0
 */
#ifndef ALCHDB_POOL_H
#define ALCHDB_POOL_H

#include <alchdb/common.h>

#endif /* ALCHDB_POOL_H */
