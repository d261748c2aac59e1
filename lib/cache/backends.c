/* The registry of cache backend kinds: the one place that maps the
 * "backend" option to a constructor. */
#include <stdio.h>
#include <string.h>

#include "cache/cache_internal.h"

static const alchdb__cache_backend_kind KINDS[] = {
    {"memory", alchdb__cache_memory_new},
    {"redis", alchdb__cache_redis_new},
};
#define NKINDS (sizeof KINDS / sizeof KINDS[0])

const alchdb__cache_backend_kind *alchdb__cache_backend_find(const char *name)
{
    for (size_t i = 0; name && i < NKINDS; i++)
        if (strcmp(KINDS[i].name, name) == 0)
            return &KINDS[i];
    return NULL;
}

void alchdb__cache_backend_names(char *buf, size_t cap)
{
    size_t n = (size_t)snprintf(buf, cap, "must be one of:");
    for (size_t i = 0; i < NKINDS && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s %s", i ? "," : "", KINDS[i].name);
}
