/* An allocator for alchdb_set_allocator() that fails one chosen call, for the
 * suites that check every allocation failure is handled. Counters are atomic
 * so threaded code under test may allocate too. */
#ifndef ALCHDB_FAILALLOC_H
#define ALCHDB_FAILALLOC_H

#include <stdatomic.h>
#include <stdlib.h>

#include "alchdb/alloc.h"

static atomic_long failalloc_at = -1;   /* fail this call (1-based); -1 never */
static atomic_long failalloc_calls;     /* malloc and realloc calls so far */
static atomic_long failalloc_live;      /* successful mallocs not yet freed */
static atomic_size_t failalloc_biggest; /* largest request that succeeded */

/* Counts the call; true when it is the one to fail. */
static inline int failalloc_fails(size_t n)
{
    if (atomic_fetch_add(&failalloc_calls, 1) + 1 == atomic_load(&failalloc_at))
        return 1;
    size_t big = atomic_load(&failalloc_biggest);
    while (n > big && !atomic_compare_exchange_weak(&failalloc_biggest, &big, n))
        ;
    return 0;
}

static inline void *failalloc_malloc(void *ud, size_t n)
{
    (void)ud;
    if (failalloc_fails(n))
        return NULL;
    atomic_fetch_add(&failalloc_live, 1);
    return malloc(n);
}

static inline void *failalloc_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    return failalloc_fails(n) ? NULL : realloc(p, n);
}

static inline void failalloc_free(void *ud, void *p)
{
    (void)ud;
    atomic_fetch_sub(&failalloc_live, 1);
    free(p);
}

static const alchdb_allocator failalloc = {ALCHDB_ALLOCATOR_VERSION, NULL, failalloc_malloc, failalloc_realloc,
                                           failalloc_free};

/* Fail call number at from now on (-1: none); the counters start over. */
static inline void failalloc_arm(long at)
{
    atomic_store(&failalloc_calls, 0);
    atomic_store(&failalloc_biggest, 0);
    atomic_store(&failalloc_at, at);
}

#endif
