/**
 * @file sql.h
 * @brief (module under construction)
 * @since 0.1.0
 */
#ifndef ALCHDB_SQL_H
#define ALCHDB_SQL_H

#include <alchdb/common.h>

#endif /* ALCHDB_SQL_H */
