#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include "internal.h"

static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;
static alchdb_log_fn g_log_fn;
static void *g_log_ud;
/* Read without the lock on every log call so disabled levels cost one load. */
static atomic_int g_log_level;

ALCHDB_API int alchdb_set_log_handler(alchdb_log_fn fn, void *user_data, int level)
{
    ALCHDB_CHECK_ARG(level >= ALCHDB_LOG_NONE && level <= ALCHDB_LOG_DEBUG, "level",
                     "must be ALCHDB_LOG_NONE..ALCHDB_LOG_DEBUG");
    pthread_mutex_lock(&g_log_lock);
    g_log_fn = fn;
    g_log_ud = user_data;
    atomic_store(&g_log_level, fn ? level : ALCHDB_LOG_NONE);
    pthread_mutex_unlock(&g_log_lock);
    return 0;
}

ALCHDB_API const char *alchdb_log_level_name(int level)
{
    switch (level) {
    case ALCHDB_LOG_NONE: return "none";
    case ALCHDB_LOG_ERROR: return "error";
    case ALCHDB_LOG_WARN: return "warn";
    case ALCHDB_LOG_INFO: return "info";
    case ALCHDB_LOG_DEBUG: return "debug";
    default: return "unknown";
    }
}

bool alchdb__log_enabled(int level)
{
    return level > ALCHDB_LOG_NONE &&
           level <= atomic_load_explicit(&g_log_level, memory_order_relaxed);
}

void alchdb__log(int level, const char *module, const char *fmt, ...)
{
    if (!alchdb__log_enabled(level))
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    pthread_mutex_lock(&g_log_lock);
    alchdb_log_fn fn = g_log_fn;
    void *ud = g_log_ud;
    pthread_mutex_unlock(&g_log_lock);
    if (fn)
        fn(ud, level, module ? module : "core", msg);
}
