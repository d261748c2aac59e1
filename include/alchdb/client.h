/**
 * @file client.h
 * @brief (module under construction)
 * @since 0.1.0
 */
#ifndef ALCHDB_CLIENT_H
#define ALCHDB_CLIENT_H

#include <alchdb/common.h>

#endif /* ALCHDB_CLIENT_H */
