#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *default_malloc(void *ud, size_t size) { (void)ud; return malloc(size); }
static void *default_realloc(void *ud, void *p, size_t size) { (void)ud; return realloc(p, size); }
static void default_free(void *ud, void *p) { (void)ud; free(p); }

static alchdb_allocator g_alloc = {
    ALCHDB_ALLOCATOR_VERSION, NULL, default_malloc, default_realloc, default_free,
};
/* Live allocations: lets alchdb_set_allocator refuse to switch while memory
 * from the old allocator is still out, and lets tests prove "no leak". */
static atomic_long g_outstanding;

#define MAX_FLUSH 8
static void (*g_flush[MAX_FLUSH])(void);
static int g_nflush;
static pthread_mutex_t g_flush_lock = PTHREAD_MUTEX_INITIALIZER;

void alchdb__register_cache_flush(void (*flush)(void))
{
    pthread_mutex_lock(&g_flush_lock);
    for (int i = 0; i < g_nflush; i++)
        if (g_flush[i] == flush)
            goto out;
    if (g_nflush < MAX_FLUSH)
        g_flush[g_nflush++] = flush;
out:
    pthread_mutex_unlock(&g_flush_lock);
}

long alchdb__alloc_outstanding(void) { return atomic_load_explicit(&g_outstanding, memory_order_relaxed); }

void *alchdb__malloc(size_t size)
{
    void *p = g_alloc.malloc_fn(g_alloc.user_data, size ? size : 1);
    if (p)
        atomic_fetch_add_explicit(&g_outstanding, 1, memory_order_relaxed);
    return p;
}

void *alchdb__calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t total = n * size;
    void *p = alchdb__malloc(total);
    if (p)
        memset(p, 0, total ? total : 1);
    return p;
}

void *alchdb__realloc(void *ptr, size_t size)
{
    if (!ptr)
        return alchdb__malloc(size);
    return g_alloc.realloc_fn(g_alloc.user_data, ptr, size ? size : 1);
}

void alchdb__free(void *ptr)
{
    if (!ptr)
        return;
    g_alloc.free_fn(g_alloc.user_data, ptr);
    atomic_fetch_sub_explicit(&g_outstanding, 1, memory_order_relaxed);
}

char *alchdb__strndup(const char *s, size_t n)
{
    char *d = alchdb__malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *alchdb__strdup(const char *s) { return alchdb__strndup(s, strlen(s)); }

void alchdb__wipe(char *s)
{
    /* volatile: the stores must happen although the memory is freed next */
    for (volatile char *p = s; p && *p; p++)
        *p = 0;
}

void alchdb__free_wiped(char *s)
{
    alchdb__wipe(s);
    alchdb__free(s);
}

ALCHDB_API void alchdb_free(void *ptr) { alchdb__free(ptr); }

ALCHDB_API int alchdb_set_allocator(const alchdb_allocator *a)
{
    if (a) {
        ALCHDB_CHECK_ARG(a->version == ALCHDB_ALLOCATOR_VERSION, "allocator",
                         "version must be ALCHDB_ALLOCATOR_VERSION");
        ALCHDB_CHECK_ARG(a->malloc_fn && a->realloc_fn && a->free_fn, "allocator",
                         "malloc_fn, realloc_fn and free_fn must all be set");
    }
    pthread_mutex_lock(&g_flush_lock);
    for (int i = 0; i < g_nflush; i++)
        g_flush[i]();
    pthread_mutex_unlock(&g_flush_lock);
    long live = alchdb__alloc_outstanding();
    if (live != 0)
        return alchdb__error(ALCHDB_E_STATE,
                             "alchdb_set_allocator: %ld allocation(s) of the current allocator "
                             "are still live; install the allocator at start-up or free every "
                             "library object first",
                             live);
    if (a) {
        g_alloc = *a;
    } else {
        g_alloc.version = ALCHDB_ALLOCATOR_VERSION;
        g_alloc.user_data = NULL;
        g_alloc.malloc_fn = default_malloc;
        g_alloc.realloc_fn = default_realloc;
        g_alloc.free_fn = default_free;
    }
    return 0;
}
