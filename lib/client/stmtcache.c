/* Per-connection LRU of prepared statements, keyed by the SQL text (hash and
 * full compare). Lives in the pool slot's ext pointer, so it dies with the
 * server session it describes. */
#include <stdio.h>
#include <string.h>

#include "client/client_internal.h"

enum { DEFER_MAX = 32 };

struct alchdb__stmt_cache {
    alchdb__stmt **buckets;
    size_t mask;
    size_t count, cap;
    alchdb__stmt *mru, *lru;
    uint32_t next_id;
    int ndefer;
    char defer[DEFER_MAX][24];
};

alchdb__stmt_cache *alchdb__stmt_cache_new(size_t capacity)
{
    alchdb__stmt_cache *c = alchdb__calloc(1, sizeof *c);
    if (!c)
        return NULL;
    size_t nb = 16;
    while (nb < capacity * 2)
        nb *= 2;
    c->buckets = alchdb__calloc(nb, sizeof *c->buckets);
    if (!c->buckets) {
        alchdb__free(c);
        return NULL;
    }
    c->mask = nb - 1;
    c->cap = capacity;
    return c;
}

static void lru_unlink(alchdb__stmt_cache *c, alchdb__stmt *s)
{
    if (s->lru_prev)
        s->lru_prev->lru_next = s->lru_next;
    else
        c->mru = s->lru_next;
    if (s->lru_next)
        s->lru_next->lru_prev = s->lru_prev;
    else
        c->lru = s->lru_prev;
    s->lru_prev = s->lru_next = NULL;
}

static void lru_push(alchdb__stmt_cache *c, alchdb__stmt *s)
{
    s->lru_prev = NULL;
    s->lru_next = c->mru;
    if (c->mru)
        c->mru->lru_prev = s;
    else
        c->lru = s;
    c->mru = s;
}

void alchdb__stmt_cache_free(void *cache, PGconn *pg)
{
    (void)pg;
    alchdb__stmt_cache *c = cache;
    if (!c)
        return;
    for (alchdb__stmt *s = c->mru; s;) {
        alchdb__stmt *n = s->lru_next;
        alchdb__free(s->sql);
        alchdb__free(s);
        s = n;
    }
    alchdb__free(c->buckets);
    alchdb__free(c);
}

alchdb__stmt *alchdb__stmt_cache_get(alchdb__stmt_cache *c, const char *sql, size_t len,
                                     uint64_t hash)
{
    for (alchdb__stmt *s = c->buckets[hash & c->mask]; s; s = s->chain) {
        if (s->hash == hash && s->len == len && memcmp(s->sql, sql, len) == 0) {
            if (c->mru != s) {
                lru_unlink(c, s);
                lru_push(c, s);
            }
            return s;
        }
    }
    return NULL;
}

void alchdb__stmt_cache_remove(alchdb__stmt_cache *c, alchdb__stmt *s)
{
    alchdb__stmt **pp = &c->buckets[s->hash & c->mask];
    while (*pp && *pp != s)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = s->chain;
    lru_unlink(c, s);
    c->count--;
    alchdb__free(s->sql);
    alchdb__free(s);
}

alchdb__stmt *alchdb__stmt_cache_put(alchdb__stmt_cache *c, const char *sql, size_t len,
                                     uint64_t hash, char evicted[24])
{
    evicted[0] = '\0';
    if (c->cap == 0)
        return NULL;
    alchdb__stmt *s = alchdb__calloc(1, sizeof *s);
    char *copy = s ? alchdb__strndup(sql, len) : NULL;
    if (!copy) {
        alchdb__free(s);
        return NULL;
    }
    if (c->count >= c->cap && c->lru) {
        snprintf(evicted, 24, "%s", c->lru->name);
        alchdb__stmt_cache_remove(c, c->lru);
    }
    s->hash = hash;
    s->sql = copy;
    s->len = len;
    snprintf(s->name, sizeof s->name, "alchdb_s%u", ++c->next_id);
    s->chain = c->buckets[hash & c->mask];
    c->buckets[hash & c->mask] = s;
    lru_push(c, s);
    c->count++;
    return s;
}

size_t alchdb__stmt_cache_count(const alchdb__stmt_cache *c) { return c ? c->count : 0; }

void alchdb__stmt_cache_defer(alchdb__stmt_cache *c, const char *name)
{
    if (c->ndefer < DEFER_MAX)
        snprintf(c->defer[c->ndefer++], 24, "%s", name);
    /* beyond that the statement lingers until the session ends: harmless */
}

int alchdb__stmt_cache_flush_deferred(alchdb__stmt_cache *c, PGconn *pg, const alchdb__deadline *d)
{
    /* DEALLOCATE is not transactional, but fails inside an aborted transaction. */
    PGTransactionStatusType ts = PQtransactionStatus(pg);
    if (!c->ndefer || (ts != PQTRANS_IDLE && ts != PQTRANS_INTRANS))
        return 0;
    while (c->ndefer > 0) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", c->defer[c->ndefer - 1]);
        PGresult *r = NULL;
        int rc = alchdb__pq_exec(pg, sql, d, &r);
        PQclear(r);
        if (rc)
            return rc; /* the rest waits for the next statement */
        c->ndefer--;
    }
    return 0;
}
