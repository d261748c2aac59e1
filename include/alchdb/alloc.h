/**
 * @file alloc.h
 * @brief Allocator hook and alchdb_free().
 *
 * Every allocation the library makes for itself goes through the allocator
 * installed here (the C library's malloc/realloc/free by default). Third-party
 * libraries keep their own allocators: libalchdb never changes jansson's,
 * hiredis' or libpq's global allocators; what they return is copied.
 *
 * @since 0.1.0
 */
#ifndef ALCHDB_ALLOC_H
#define ALCHDB_ALLOC_H

#include <alchdb/common.h>

ALCHDB_BEGIN_DECLS

/** Version of struct alchdb_allocator understood by this header. @since 0.1.0 */
#define ALCHDB_ALLOCATOR_VERSION 1u

/**
 * A versioned allocator table. Set @c version to ALCHDB_ALLOCATOR_VERSION.
 * The functions are called from any thread that calls into the library and
 * must be thread-safe. @c malloc_fn and @c realloc_fn return NULL on failure;
 * the library then fails with ALCHDB_E_NOMEM.
 * @since 0.1.0
 */
typedef struct alchdb_allocator {
    uint32_t version;                                               /**< ALCHDB_ALLOCATOR_VERSION */
    void *user_data;                                                /**< passed to every function */
    void *(*malloc_fn)(void *user_data, size_t size);               /**< like malloc() */
    void *(*realloc_fn)(void *user_data, void *ptr, size_t size);   /**< like realloc() */
    void (*free_fn)(void *user_data, void *ptr);                    /**< like free() */
} alchdb_allocator;

/**
 * Install an allocator (start-up only).
 *
 * Allowed only while the library holds no memory from the current allocator
 * (before the first use, or after every object has been freed); internal
 * caches are flushed first. Otherwise fails with ALCHDB_E_STATE.
 *
 * @param allocator the table (copied), or NULL to restore malloc/realloc/free.
 * @return 0, ALCHDB_E_INVALID (bad version or NULL function), ALCHDB_E_STATE.
 * **Thread safety:** call before other threads use the library.
 * @since 0.1.0
 */
ALCHDB_API int alchdb_set_allocator(const alchdb_allocator *allocator);

/**
 * Free memory the library handed out as **owned** (JSON strings, copies).
 * @param ptr owned pointer or NULL.
 * **Thread safety:** any thread.
 * @since 0.1.0
 */
ALCHDB_API void alchdb_free(void *ptr);

ALCHDB_END_DECLS

#endif /* ALCHDB_ALLOC_H */
