/* Bounded, thread-safe cache of analyses keyed by the raw text: 16 shards, each
 * a chained hash table with an LRU list, 256 entries per shard (4096 in all).
 * The links live in the analysis object itself, so inserting never allocates
 * (an analysis that was built is always cacheable, even under memory
 * pressure). The cache holds one reference to each entry. */
#include <pthread.h>
#include <string.h>

#include "sql_priv.h"

#define SHARDS 16
#define PER_SHARD 256
#define BUCKETS 512

typedef struct shard {
    pthread_mutex_t lock;
    alchdb_sql_analysis *buckets[BUCKETS];
    alchdb_sql_analysis *lru_head, *lru_tail; /* head = most recently used */
    size_t n;
} shard;

static shard g_shards[SHARDS];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t g_hits, g_misses;

static void flush(void) { alchdb_sql_cache_clear(); }

static void init_once(void)
{
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&g_shards[i].lock, NULL);
    alchdb__register_cache_flush(flush);
}

void sql__cache_init(void) { pthread_once(&g_once, init_once); }

static shard *shard_of(uint64_t h) { return &g_shards[h & (SHARDS - 1)]; }
static size_t bucket_of(uint64_t h) { return (size_t)(h >> 4) & (BUCKETS - 1); }

static void lru_unlink(shard *s, alchdb_sql_analysis *a)
{
    if (a->lru_prev)
        a->lru_prev->lru_next = a->lru_next;
    else
        s->lru_head = a->lru_next;
    if (a->lru_next)
        a->lru_next->lru_prev = a->lru_prev;
    else
        s->lru_tail = a->lru_prev;
    a->lru_prev = a->lru_next = NULL;
}

static void lru_push_front(shard *s, alchdb_sql_analysis *a)
{
    a->lru_prev = NULL;
    a->lru_next = s->lru_head;
    if (s->lru_head)
        s->lru_head->lru_prev = a;
    s->lru_head = a;
    if (!s->lru_tail)
        s->lru_tail = a;
}

static alchdb_sql_analysis *find(shard *s, uint64_t hash, const char *sql, size_t len)
{
    for (alchdb_sql_analysis *e = s->buckets[bucket_of(hash)]; e; e = e->chain)
        if (e->hash == hash && e->len == len && !memcmp(e->text, sql, len))
            return e;
    return NULL;
}

static void remove_entry(shard *s, alchdb_sql_analysis *a)
{
    alchdb_sql_analysis **pp = &s->buckets[bucket_of(a->hash)];
    while (*pp && *pp != a)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = a->chain;
    a->chain = NULL;
    lru_unlink(s, a);
    a->cached = false;
    s->n--;
}

alchdb_sql_analysis *sql__cache_get(uint64_t hash, const char *sql, size_t len)
{
    sql__cache_init();
    shard *s = shard_of(hash);
    pthread_mutex_lock(&s->lock);
    alchdb_sql_analysis *e = find(s, hash, sql, len);
    if (e) {
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        if (s->lru_head != e) {
            lru_unlink(s, e);
            lru_push_front(s, e);
        }
    }
    pthread_mutex_unlock(&s->lock);
    atomic_fetch_add_explicit(e ? &g_hits : &g_misses, 1, memory_order_relaxed);
    return e;
}

alchdb_sql_analysis *sql__cache_put(alchdb_sql_analysis *a)
{
    sql__cache_init();
    shard *s = shard_of(a->hash);
    alchdb_sql_analysis *evicted = NULL, *use = a;
    pthread_mutex_lock(&s->lock);
    alchdb_sql_analysis *e = find(s, a->hash, a->text, a->len);
    if (e) { /* another thread built the same text first: share its object */
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        use = e;
    } else {
        atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed); /* the cache's reference */
        size_t b = bucket_of(a->hash);
        a->chain = s->buckets[b];
        s->buckets[b] = a;
        lru_push_front(s, a);
        a->cached = true;
        if (++s->n > PER_SHARD) {
            evicted = s->lru_tail;
            remove_entry(s, evicted);
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (use != a)
        alchdb__sql_release(a);
    alchdb__sql_release(evicted);
    return use;
}

ALCHDB_API void alchdb_sql_cache_clear(void)
{
    sql__cache_init();
    for (int i = 0; i < SHARDS; i++) {
        shard *s = &g_shards[i];
        pthread_mutex_lock(&s->lock);
        alchdb_sql_analysis *list = s->lru_head;
        for (alchdb_sql_analysis *e = list; e; e = e->lru_next) {
            e->chain = NULL;
            e->cached = false;
        }
        memset(s->buckets, 0, sizeof s->buckets);
        s->lru_head = s->lru_tail = NULL;
        s->n = 0;
        pthread_mutex_unlock(&s->lock);
        while (list) {
            alchdb_sql_analysis *next = list->lru_next;
            list->lru_prev = list->lru_next = NULL;
            alchdb__sql_release(list);
            list = next;
        }
    }
}

void alchdb__sql_cache_get_stats(alchdb__sql_cache_stats *st)
{
    sql__cache_init();
    st->hits = atomic_load_explicit(&g_hits, memory_order_relaxed);
    st->misses = atomic_load_explicit(&g_misses, memory_order_relaxed);
    st->entries = 0;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&g_shards[i].lock);
        st->entries += g_shards[i].n;
        pthread_mutex_unlock(&g_shards[i].lock);
    }
}
