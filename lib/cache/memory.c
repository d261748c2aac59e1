/* The in-process backend of the query cache (cache_internal.h).
 *
 * One mutex guards everything. A fill must check several version keys and
 * store its entry atomically, and every entry depends on the namespace epoch
 * key, so striping by key would still serialize on the epoch's stripe while
 * making fill take several locks. Instead the critical sections are kept to
 * hash lookups and small copies: keys are hashed before locking, new entries
 * and leases are built before locking, and entry values are copied out after
 * unlocking (entries are immutable and reference-counted, so an entry that is
 * replaced or evicted meanwhile stays valid until its reader lets go).
 * Whatever is unlinked under the lock is freed after it. Measured on a
 * 2-core VM: ~125 ns per fetch of a 1 KB entry with 3 version keys on one
 * thread, and ~7.5 M fetches/s in aggregate from 1 to 8 threads (the mutex
 * does not collapse under contention; glibc's adaptive mutex measured the
 * same, so the plain one is used).
 *
 * Three tables share one chained hash table + LRU ring implementation:
 *   entries   bounded by bytes (key + value + ENTRY_OVERHEAD), LRU eviction
 *   versions  name -> token, bounded by count (not charged to the bytes)
 *   leases    name -> owner token, bounded like versions
 * Expired nodes count as absent and are reclaimed when next looked up (or
 * evicted, or swept when the version/lease bound is reached). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "cache/cache_internal.h"

#define INITIAL_BUCKETS 256
/* Version keys and leases kept: max(MIN_KEYS, memory_bytes / BYTES_PER_KEY). */
#define MIN_KEYS 100000
#define BYTES_PER_KEY 256
/* Key lists up to this long are hashed into a stack array. */
#define KEYREF_STACK 16

/* ---- hash table with an LRU ring ------------------------------------------------ */

/* Common head of every stored object; the key lives in the same allocation. */
typedef struct node {
    struct node *chain;       /* next in the bucket; next garbage once unlinked */
    struct node *prev, *next; /* LRU ring through table.lru */
    uint64_t hash;
    int64_t deadline_ns;      /* 0 = never expires */
    const char *key;
    size_t klen;
} node;

typedef struct table {
    node **buckets;
    size_t mask;        /* buckets - 1 (a power of two) */
    size_t n;
    node lru;           /* sentinel: lru.next most recent, lru.prev least recent */
    size_t since_sweep; /* insertions since the last expiry sweep (keys_bound) */
    int64_t dropped;    /* live nodes dropped to honour a count bound */
} table;

static int table_init(table *t)
{
    t->buckets = alchdb__calloc(INITIAL_BUCKETS, sizeof *t->buckets);
    if (!t->buckets)
        return alchdb__nomem("memory cache table");
    t->mask = INITIAL_BUCKETS - 1;
    t->lru.prev = t->lru.next = &t->lru;
    return 0;
}

static node *table_find(const table *t, uint64_t hash, const char *key, size_t klen)
{
    for (node *x = t->buckets[hash & t->mask]; x; x = x->chain)
        if (x->hash == hash && x->klen == klen && !memcmp(x->key, key, klen))
            return x;
    return NULL;
}

static void lru_unlink(node *x)
{
    x->prev->next = x->next;
    x->next->prev = x->prev;
}

static void lru_push_front(table *t, node *x)
{
    x->prev = &t->lru;
    x->next = t->lru.next;
    t->lru.next->prev = x;
    t->lru.next = x;
}

static void table_touch(table *t, node *x)
{
    if (t->lru.next != x) {
        lru_unlink(x);
        lru_push_front(t, x);
    }
}

/* Doubling keeps chains short. When the bigger array cannot be allocated the
 * table keeps its longer chains: lookups get slower, never wrong. */
static void table_grow(table *t)
{
    size_t nb = (t->mask + 1) * 2;
    node **b = alchdb__calloc(nb, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i <= t->mask; i++) {
        node *x = t->buckets[i];
        while (x) {
            node *next = x->chain;
            node **head = &b[x->hash & (nb - 1)];
            x->chain = *head;
            *head = x;
            x = next;
        }
    }
    alchdb__free(t->buckets);
    t->buckets = b;
    t->mask = nb - 1;
}

static void table_insert(table *t, node *x)
{
    if (t->n > t->mask)
        table_grow(t);
    node **head = &t->buckets[x->hash & t->mask];
    x->chain = *head;
    *head = x;
    lru_push_front(t, x);
    t->n++;
}

static void table_unlink(table *t, node *x)
{
    node **pp = &t->buckets[x->hash & t->mask];
    while (*pp != x)
        pp = &(*pp)->chain;
    *pp = x->chain;
    lru_unlink(x);
    t->n--;
}

/* At destroy time nobody else holds a node: everything is freed directly. */
static void table_free(table *t)
{
    if (!t->buckets)
        return;
    node *x = t->lru.next;
    while (x != &t->lru) {
        node *next = x->next;
        alchdb__free(x);
        x = next;
    }
    alchdb__free(t->buckets);
}

static bool expired(const node *x, int64_t now) { return x->deadline_ns && now >= x->deadline_ns; }

/* Absolute deadline of a ttl; 0 (never) for ttl_ms <= 0 or one so far away
 * that it would overflow. */
static int64_t deadline_of(int64_t now, int64_t ttl_ms)
{
    if (ttl_ms <= 0 || ttl_ms > (INT64_MAX - now) / 1000000)
        return 0;
    return now + ttl_ms * 1000000;
}

/* ---- keys hashed before locking -------------------------------------------------- */

typedef struct keyref {
    const char *s;
    size_t len;
    uint64_t hash;
} keyref;

typedef struct keyrefs {
    keyref *k;
    keyref stack[KEYREF_STACK];
} keyrefs;

static keyref keyref_of(uint64_t seed, const char *s)
{
    size_t len = strlen(s);
    return (keyref){s, len, alchdb__hash64(s, len, seed)};
}

static int keyrefs_init(keyrefs *kr, uint64_t seed, size_t n, const char *const *keys)
{
    kr->k = n <= KEYREF_STACK ? kr->stack : alchdb__calloc(n, sizeof *kr->k);
    if (!kr->k)
        return alchdb__nomem("memory cache key list");
    for (size_t i = 0; i < n; i++)
        kr->k[i] = keyref_of(seed, keys[i]);
    return 0;
}

static void keyrefs_done(keyrefs *kr)
{
    if (kr->k != kr->stack)
        alchdb__free(kr->k);
}

static void node_init(node *x, const keyref *k, const char *stored_key, int64_t deadline)
{
    *x = (node){.hash = k->hash, .deadline_ns = deadline, .key = stored_key, .klen = k->len};
}

/* ---- stored objects ----------------------------------------------------------------- */

typedef struct entry {
    node n;
    atomic_int refs;       /* the table's reference + readers copying the value */
    size_t vlen;
    unsigned char *value;  /* into data, after the key */
    char data[];           /* key, NUL, value */
} entry;

/* Charged per entry on top of key and value: the node, its bucket slot and
 * the allocator's header. Fixed so the bound is predictable. */
#define ENTRY_OVERHEAD ((int64_t)(sizeof(entry) + 2 * sizeof(void *)))

typedef struct vnode {
    node n;
    alchdb__cache_ver ver; /* "" = absent (only the epoch's pinned node) */
    char name[];
} vnode;

typedef struct lease {
    node n;
    const char *token;     /* into data, after the key */
    char data[];           /* key, NUL, token, NUL */
} lease;

static entry *entry_new(const keyref *k, const unsigned char *value, size_t vlen, int64_t deadline)
{
    entry *e = alchdb__malloc(sizeof *e + k->len + 1 + vlen);
    if (!e)
        return NULL;
    memcpy(e->data, k->s, k->len + 1);
    node_init(&e->n, k, e->data, deadline);
    atomic_init(&e->refs, 1);
    e->vlen = vlen;
    e->value = (unsigned char *)e->data + k->len + 1;
    if (vlen)
        memcpy(e->value, value, vlen);
    return e;
}

static int64_t entry_cost(const entry *e) { return (int64_t)(e->n.klen + e->vlen) + ENTRY_OVERHEAD; }

static void entry_release(entry *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1)
        alchdb__free(e);
}

static vnode *vnode_new(const keyref *k)
{
    vnode *v = alchdb__malloc(sizeof *v + k->len + 1);
    if (!v)
        return NULL;
    memcpy(v->name, k->s, k->len + 1);
    node_init(&v->n, k, v->name, 0);
    v->ver.v[0] = '\0';
    return v;
}

static lease *lease_new(const keyref *k, const char *token, int64_t deadline)
{
    size_t tlen = strlen(token);
    lease *l = alchdb__malloc(sizeof *l + k->len + 1 + tlen + 1);
    if (!l)
        return NULL;
    memcpy(l->data, k->s, k->len + 1);
    memcpy(l->data + k->len + 1, token, tlen + 1);
    node_init(&l->n, k, l->data, deadline);
    l->token = l->data + k->len + 1;
    return l;
}

/* Nodes unlinked under the lock, freed after it. */
typedef struct garbage {
    node *entries; /* reference-counted: released, freed by the last holder */
    node *plain;
} garbage;

static void garbage_push(node **list, node *x)
{
    x->chain = *list;
    *list = x;
}

static void garbage_free(garbage *g)
{
    for (node *x = g->entries, *next; x; x = next) {
        next = x->chain;
        entry_release((entry *)x);
    }
    for (node *x = g->plain, *next; x; x = next) {
        next = x->chain;
        alchdb__free(x);
    }
}

/* ---- the backend ---------------------------------------------------------------------- */

typedef struct mem {
    alchdb__cache_backend base;
    pthread_mutex_t lock;
    uint64_t seed;
    table entries, versions, leases;
    vnode *epoch;          /* pinned in versions: never freed before destroy */
    int64_t bytes, max_bytes, evictions, epoch_resets;
    size_t max_keys;       /* bound of versions and of leases, each */
} mem;

static void entry_remove(mem *m, entry *e, garbage *g)
{
    table_unlink(&m->entries, &e->n);
    m->bytes -= entry_cost(e);
    garbage_push(&g->entries, &e->n);
}

static entry *entry_lookup(mem *m, const keyref *k, int64_t now, garbage *g)
{
    entry *e = (entry *)table_find(&m->entries, k->hash, k->s, k->len);
    if (e && expired(&e->n, now)) {
        entry_remove(m, e, g);
        return NULL;
    }
    return e;
}

/* Replace any entry under the same key, then evict from the LRU end until
 * the bound holds again (the new entry fits: entry_fits was checked). */
static void entry_store(mem *m, entry *e, garbage *g)
{
    entry *old = (entry *)table_find(&m->entries, e->n.hash, e->n.key, e->n.klen);
    if (old)
        entry_remove(m, old, g);
    table_insert(&m->entries, &e->n);
    m->bytes += entry_cost(e);
    while (m->bytes > m->max_bytes) {
        entry_remove(m, (entry *)m->entries.lru.prev, g);
        m->evictions++;
    }
}

static bool entry_fits(const mem *m, size_t klen, size_t vlen)
{
    if (klen > (uint64_t)m->max_bytes || vlen > (uint64_t)m->max_bytes)
        return false;
    return (int64_t)(klen + vlen) + ENTRY_OVERHEAD <= m->max_bytes;
}

/* Version keys and leases are not charged to memory_bytes but must not grow
 * without bound. Expired nodes go first; a sweep visits every node, so it runs
 * at most once per max/8 insertions (a few node visits per insertion,
 * amortized). Between sweeps the least recently touched nodes go. Dropping a
 * version key is safe: tokens are random, so an absent key never matches a
 * recorded one. The pinned node (the epoch) is never dropped. */
static void keys_sweep(table *t, const node *pinned, int64_t now, garbage *g)
{
    for (node *x = t->lru.next, *next; x != &t->lru; x = next) {
        next = x->next;
        if (x != pinned && expired(x, now)) {
            table_unlink(t, x);
            garbage_push(&g->plain, x);
        }
    }
}

static void keys_bound(table *t, size_t max, const node *pinned, int64_t now, garbage *g)
{
    t->since_sweep++;
    if (t->n <= max)
        return;
    if (t->since_sweep >= max / 8) {
        keys_sweep(t, pinned, now, g);
        t->since_sweep = 0;
    }
    for (node *x = t->lru.prev, *prev; t->n > max && x != &t->lru; x = prev) {
        prev = x->prev;
        if (x != pinned) {
            table_unlink(t, x);
            garbage_push(&g->plain, x);
            t->dropped++;
        }
    }
}

static bool ver_present(const vnode *v, int64_t now) { return v && v->ver.v[0] && !expired(&v->n, now); }

static vnode *ver_lookup(mem *m, const keyref *k)
{
    return (vnode *)table_find(&m->versions, k->hash, k->s, k->len);
}

/* The epoch's node stays in the table when absent so that resetting the
 * epoch (mark_dirty) never needs to allocate. */
static void ver_drop(mem *m, vnode *v, garbage *g)
{
    if (v == m->epoch) {
        v->ver.v[0] = '\0';
        v->n.deadline_ns = 0;
        return;
    }
    table_unlink(&m->versions, &v->n);
    garbage_push(&g->plain, &v->n);
}

/* The current token of a key, touching it; NULL when absent (an expired
 * node is reclaimed on the way). */
static const vnode *ver_get(mem *m, const keyref *k, int64_t now, garbage *g)
{
    vnode *v = ver_lookup(m, k);
    if (ver_present(v, now)) {
        table_touch(&m->versions, &v->n);
        return v;
    }
    if (v)
        ver_drop(m, v, g);
    return NULL;
}

static void ver_read(mem *m, const keyref *k, int64_t now, garbage *g, alchdb__cache_ver *out)
{
    const vnode *v = ver_get(m, k, now, g);
    if (v)
        *out = v->ver;
    else
        out->v[0] = '\0';
}

/* Store val under k, reusing v (the key's node, present or not) when there
 * is one. NULL when a new node cannot be allocated. */
static vnode *ver_put(mem *m, const keyref *k, vnode *v, const alchdb__cache_ver *val, int64_t ttl_ms,
                      int64_t now, garbage *g)
{
    if (v) {
        table_touch(&m->versions, &v->n);
    } else {
        v = vnode_new(k);
        if (!v)
            return NULL;
        table_insert(&m->versions, &v->n);
        keys_bound(&m->versions, m->max_keys, &m->epoch->n, now, g);
    }
    v->ver = *val;
    v->ver.v[ALCHDB__CACHE_VER_MAX - 1] = '\0';
    v->n.deadline_ns = deadline_of(now, ttl_ms);
    return v;
}

/* An invalidation was lost: a fresh epoch token makes every entry stale. */
static void mark_dirty(mem *m)
{
    alchdb__cache_ver_new(&m->epoch->ver, -1);
    m->epoch->n.deadline_ns = 0;
    table_touch(&m->versions, &m->epoch->n);
    m->epoch_resets++;
}

static size_t versions_held(const mem *m, int64_t now)
{
    return m->versions.n - (ver_present(m->epoch, now) ? 0 : 1);
}

/* ---- operations ----------------------------------------------------------------------- */

static int entry_copy_out(entry *e, unsigned char **out, size_t *out_len)
{
    unsigned char *buf = alchdb__malloc(e->vlen);
    if (buf) {
        memcpy(buf, e->value, e->vlen);
        *out = buf;
        *out_len = e->vlen;
    }
    entry_release(e);
    return buf ? 0 : alchdb__nomem("memory cache entry copy");
}

static int mem_fetch(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                     alchdb__cache_ver *cur, unsigned char **out, size_t *out_len)
{
    mem *m = (mem *)b;
    *out = NULL;
    *out_len = 0;
    keyrefs kr;
    int rc = keyrefs_init(&kr, m->seed, n, vkeys);
    if (rc)
        return rc;
    keyref k = key ? keyref_of(m->seed, key) : (keyref){0};
    int64_t now = alchdb__now_ns();
    garbage g = {0};

    pthread_mutex_lock(&m->lock);
    entry *e = key ? entry_lookup(m, &k, now, &g) : NULL;
    if (e) {
        table_touch(&m->entries, &e->n);
        /* Relaxed is enough: the lock orders it before any removal from
         * the table, and entry_release's acq_rel decrement makes the last
         * holder, who frees, see every other holder's reads. */
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
    }
    for (size_t i = 0; i < n; i++)
        ver_read(m, &kr.k[i], now, &g, &cur[i]);
    pthread_mutex_unlock(&m->lock);

    garbage_free(&g);
    keyrefs_done(&kr);
    return e ? entry_copy_out(e, out, out_len) : 0;
}

static int mem_init(alchdb__cache_backend *b, size_t n, const char *const *vkeys, const alchdb__cache_ver *init,
                    const int64_t *ttl_ms, alchdb__cache_ver *cur)
{
    mem *m = (mem *)b;
    keyrefs kr;
    int rc = keyrefs_init(&kr, m->seed, n, vkeys);
    if (rc)
        return rc;
    int64_t now = alchdb__now_ns();
    garbage g = {0};
    bool nomem = false;

    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        vnode *v = ver_lookup(m, &kr.k[i]);
        if (ver_present(v, now))
            table_touch(&m->versions, &v->n);
        else
            v = ver_put(m, &kr.k[i], v, &init[i], ttl_ms ? ttl_ms[i] : 0, now, &g);
        if (v) {
            cur[i] = v->ver;
        } else {
            cur[i].v[0] = '\0';
            nomem = true;
        }
    }
    pthread_mutex_unlock(&m->lock);

    garbage_free(&g);
    keyrefs_done(&kr);
    return nomem ? alchdb__nomem("memory cache version key") : 0;
}

/* Every version key must hold exactly its expected token; an absent key
 * never matches, even an empty expected token. */
static bool versions_match(mem *m, const keyrefs *kr, size_t n, const alchdb__cache_ver *expected, int64_t now,
                           garbage *g)
{
    for (size_t i = 0; i < n; i++) {
        const vnode *v = ver_get(m, &kr->k[i], now, g);
        if (!v || strncmp(v->ver.v, expected[i].v, ALCHDB__CACHE_VER_MAX) != 0)
            return false;
    }
    return true;
}

static int mem_fill(alchdb__cache_backend *b, const char *key, size_t n, const char *const *vkeys,
                    const alchdb__cache_ver *expected, const unsigned char *value, size_t vlen, int64_t ttl_ms)
{
    mem *m = (mem *)b;
    keyref k = keyref_of(m->seed, key);
    if (!entry_fits(m, k.len, vlen))
        return alchdb__error(ALCHDB_E_RANGE,
                             "memory cache: an entry of %zu bytes (key %zu) exceeds the cache bound of %" PRId64
                             " bytes",
                             vlen, k.len, m->max_bytes);
    keyrefs kr;
    int rc = keyrefs_init(&kr, m->seed, n, vkeys);
    if (rc)
        return rc;
    int64_t now = alchdb__now_ns();
    entry *e = entry_new(&k, value, vlen, deadline_of(now, ttl_ms));
    if (!e) {
        keyrefs_done(&kr);
        return alchdb__nomem("memory cache entry");
    }
    garbage g = {0};

    pthread_mutex_lock(&m->lock);
    bool stored = versions_match(m, &kr, n, expected, now, &g);
    if (stored)
        entry_store(m, e, &g);
    pthread_mutex_unlock(&m->lock);

    garbage_free(&g);
    keyrefs_done(&kr);
    if (!stored)
        entry_release(e);
    return stored ? 1 : 0;
}

static int mem_bump(alchdb__cache_backend *b, size_t n, const char *const *vkeys, const alchdb__cache_ver *newv,
                    const int64_t *ttl_ms)
{
    mem *m = (mem *)b;
    keyrefs kr;
    int rc = keyrefs_init(&kr, m->seed, n, vkeys);
    if (rc) {
        /* Not one key could be bumped: the invalidation is lost. */
        pthread_mutex_lock(&m->lock);
        mark_dirty(m);
        pthread_mutex_unlock(&m->lock);
        return rc;
    }
    int64_t now = alchdb__now_ns();
    garbage g = {0};
    bool nomem = false;

    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < n; i++) {
        vnode *v = ver_lookup(m, &kr.k[i]);
        alchdb__cache_ver next, cur = {""};
        if (ver_present(v, now))
            cur = v->ver;
        alchdb__cache_ver_merge(&next, &cur, &newv[i]); /* positions only move forward */
        if (!ver_put(m, &kr.k[i], v, &next, ttl_ms ? ttl_ms[i] : 0, now, &g))
            nomem = true;
    }
    if (nomem)
        mark_dirty(m);
    pthread_mutex_unlock(&m->lock);

    garbage_free(&g);
    keyrefs_done(&kr);
    return nomem ? alchdb__nomem("memory cache version key (epoch reset)") : 0;
}

static int mem_cas(alchdb__cache_backend *b, const char *vkey, const alchdb__cache_ver *expected,
                   const alchdb__cache_ver *newv, int64_t ttl_ms)
{
    mem *m = (mem *)b;
    keyrefs kr;
    int rc = keyrefs_init(&kr, m->seed, 1, &vkey);
    if (rc)
        return rc;
    int64_t now = alchdb__now_ns();
    garbage g = {0};
    pthread_mutex_lock(&m->lock);
    /* A failed put leaves the old token: the swap did not happen, nothing is lost. */
    bool swapped = versions_match(m, &kr, 1, expected, now, &g) &&
                   ver_put(m, &kr.k[0], ver_lookup(m, &kr.k[0]), newv, ttl_ms, now, &g);
    pthread_mutex_unlock(&m->lock);
    garbage_free(&g);
    keyrefs_done(&kr);
    return swapped ? 1 : 0;
}

/* One process: its writes in flight are marked in the cache object itself
 * (alchdb__cache_inflight_add), and a process that dies takes this backend
 * with it, so nothing needs marking here. */
static int mem_mark(alchdb__cache_backend *b, size_t n, const char *const *vkeys, const char *id, int64_t ttl_ms)
{
    (void)b, (void)n, (void)vkeys, (void)id, (void)ttl_ms;
    return 0;
}

static int mem_lease(alchdb__cache_backend *b, const char *lease_key, const char *token, int64_t ttl_ms)
{
    mem *m = (mem *)b;
    keyref k = keyref_of(m->seed, lease_key);
    int64_t now = alchdb__now_ns();
    lease *l = lease_new(&k, token, deadline_of(now, ttl_ms));
    if (!l)
        return alchdb__nomem("memory cache lease");
    garbage g = {0};

    pthread_mutex_lock(&m->lock);
    node *held = table_find(&m->leases, k.hash, k.s, k.len);
    bool acquired = !held || expired(held, now);
    if (acquired) {
        if (held) {
            table_unlink(&m->leases, held);
            garbage_push(&g.plain, held);
        }
        table_insert(&m->leases, &l->n);
        keys_bound(&m->leases, m->max_keys, NULL, now, &g);
    }
    pthread_mutex_unlock(&m->lock);

    garbage_free(&g);
    if (!acquired)
        alchdb__free(l);
    return acquired ? 1 : 0;
}

static int mem_unlease(alchdb__cache_backend *b, const char *lease_key, const char *token)
{
    mem *m = (mem *)b;
    keyref k = keyref_of(m->seed, lease_key);
    int64_t now = alchdb__now_ns();
    garbage g = {0};

    pthread_mutex_lock(&m->lock);
    lease *l = (lease *)table_find(&m->leases, k.hash, k.s, k.len);
    if (l && (expired(&l->n, now) || strcmp(l->token, token) == 0)) {
        table_unlink(&m->leases, &l->n);
        garbage_push(&g.plain, &l->n);
    }
    pthread_mutex_unlock(&m->lock);

    garbage_free(&g);
    return 0;
}

static int mem_del(alchdb__cache_backend *b, const char *key)
{
    mem *m = (mem *)b;
    keyref k = keyref_of(m->seed, key);
    garbage g = {0};

    pthread_mutex_lock(&m->lock);
    entry *e = (entry *)table_find(&m->entries, k.hash, k.s, k.len);
    if (e)
        entry_remove(m, e, &g);
    pthread_mutex_unlock(&m->lock);

    garbage_free(&g);
    return 0;
}

static void mem_stats_json(alchdb__cache_backend *b, alchdb__strbuf *sb)
{
    mem *m = (mem *)b;
    int64_t now = alchdb__now_ns();
    pthread_mutex_lock(&m->lock);
    size_t entries = m->entries.n, versions = versions_held(m, now), leases = m->leases.n;
    int64_t bytes = m->bytes, evictions = m->evictions, dropped = m->versions.dropped;
    int64_t resets = m->epoch_resets;
    pthread_mutex_unlock(&m->lock);
    alchdb__sb_printf(sb,
                      "\"entries\":%zu,\"bytes\":%" PRId64 ",\"max_bytes\":%" PRId64 ",\"evictions\":%" PRId64
                      ",\"versions\":%zu,\"version_drops\":%" PRId64 ",\"leases\":%zu,\"epoch_resets\":%" PRId64,
                      entries, bytes, m->max_bytes, evictions, versions, dropped, leases, resets);
}

static void mem_destroy(alchdb__cache_backend *b)
{
    mem *m = (mem *)b;
    if (!m)
        return;
    table_free(&m->entries);
    table_free(&m->versions);
    table_free(&m->leases);
    pthread_mutex_destroy(&m->lock);
    alchdb__free(m);
}

static bool mem_breaker_open(alchdb__cache_backend *b)
{
    (void)b;
    return false; /* nothing to break: the process itself */
}

static const alchdb__cache_backend_ops mem_ops = {
    .name = "memory",
    .fetch = mem_fetch,
    .init = mem_init,
    .fill = mem_fill,
    .bump = mem_bump,
    .cas = mem_cas,
    .mark = mem_mark,
    .lease = mem_lease,
    .unlease = mem_unlease,
    .del = mem_del,
    .breaker_open = mem_breaker_open,
    .stats_json = mem_stats_json,
    .destroy = mem_destroy,
};

static int mem_setup(mem *m, const alchdb__cache_backend_cfg *cfg)
{
    int rc;
    if ((rc = table_init(&m->entries)) || (rc = table_init(&m->versions)) || (rc = table_init(&m->leases)))
        return rc;
    keyref ek = keyref_of(m->seed, cfg->epoch_key);
    m->epoch = vnode_new(&ek);
    if (!m->epoch)
        return alchdb__nomem("memory cache epoch key");
    table_insert(&m->versions, &m->epoch->n);
    return 0;
}

int alchdb__cache_memory_new(const alchdb__cache_backend_cfg *cfg, alchdb__cache_backend **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    ALCHDB_CHECK_ARG(cfg, "cfg", "must not be NULL");
    ALCHDB_CHECK_ARG(cfg->epoch_key && cfg->epoch_key[0], "cfg->epoch_key", "must be a non-empty key");
    ALCHDB_CHECK_ARG(cfg->memory_bytes > 0, "cfg->memory_bytes", "must be positive");

    mem *m = alchdb__calloc(1, sizeof *m);
    if (!m)
        return alchdb__nomem("memory cache");
    m->base.ops = &mem_ops;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        alchdb__free(m);
        return alchdb__error(ALCHDB_E_INTERNAL, "memory cache: pthread_mutex_init failed");
    }
    /* Full key compares make collisions harmless; a per-instance seed only
     * keeps chains from being predictable. */
    int64_t now = alchdb__now_ns();
    m->seed = alchdb__hash64(&now, sizeof now, (uint64_t)(uintptr_t)m);
    m->max_bytes = cfg->memory_bytes;
    m->max_keys = cfg->memory_bytes / BYTES_PER_KEY > MIN_KEYS ? (size_t)(cfg->memory_bytes / BYTES_PER_KEY)
                                                                : MIN_KEYS;
    int rc = mem_setup(m, cfg);
    if (rc) {
        mem_destroy(&m->base);
        return rc;
    }
    *out = &m->base;
    return 0;
}

void alchdb__cache_memory_counts(alchdb__cache_backend *b, size_t *entries, size_t *versions, int64_t *bytes,
                                 int64_t *evictions)
{
    mem *m = (mem *)b;
    int64_t now = alchdb__now_ns();
    pthread_mutex_lock(&m->lock);
    if (entries)
        *entries = m->entries.n;
    if (versions)
        *versions = versions_held(m, now);
    if (bytes)
        *bytes = m->bytes;
    if (evictions)
        *evictions = m->evictions;
    pthread_mutex_unlock(&m->lock);
}
