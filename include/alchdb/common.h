/**
 * @file common.h
 * @brief Shared macros of the public headers: export marker and C++ linkage.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_COMMON_H
#define ALCHDB_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* ALCHDB_API marks every public declaration. The library is built with hidden
 * visibility, so only declarations carrying this marker (and listed in the
 * linker version script) are exported. */
#if defined(ALCHDB_BUILDING) && defined(__GNUC__)
#define ALCHDB_API __attribute__((visibility("default")))
#else
#define ALCHDB_API
#endif

#ifdef __cplusplus
#define ALCHDB_BEGIN_DECLS extern "C" {
#define ALCHDB_END_DECLS }
#else
#define ALCHDB_BEGIN_DECLS
#define ALCHDB_END_DECLS
#endif

#endif /* ALCHDB_COMMON_H */
