/* Query monitor: the record path, pattern storage with LRU eviction, the
 * text cache, label interning, N+1 tracking, the slow log and reset.
 *
 * Lock order: pat_lock -> pattern lock; a stripe, label or slow-log lock is
 * never held while taking another lock. The record path for a known text
 * takes one stripe lock and one pattern lock, each for a few dozen
 * nanoseconds, and neither allocates nor parses. */
#include <stdio.h>
#include <string.h>

#include "monitor/monitor_internal.h"
#include "sql/sql_internal.h"

#define SEED_RAW 0x7261772d74657874ull
#define TAG_STRIP 0x5354524950504544ull
#define TAG_UNPARSED 0x554e504152534544ull
#define TAG_UNANALYSED 0x554e414e414c5953ull /* the one pattern of statements too deep to analyse */

int64_t alchdb__monitor_now(alchdb_monitor *mon)
{
    int64_t t = mon->clock ? mon->clock(mon->clock_ud) : alchdb__wall_us();
    return t < 0 ? 0 : t;
}

/* ---- text cache ---------------------------------------------------------- */

static pthread_mutex_t *stripe_of(alchdb_monitor *mon, uint32_t set)
{
    return &mon->stripes[set & (MON_STRIPES - 1)];
}

static uint32_t set_of(alchdb_monitor *mon, uint64_t key)
{
    return (uint32_t)(key ^ (key >> 32)) & (mon->cache_sets - 1);
}

static bool cache_get(alchdb_monitor *mon, uint64_t key, uint32_t len, uint32_t stamp,
                      uint32_t *slot, uint32_t *gen)
{
    uint32_t set = set_of(mon, key);
    mon_cache_entry *e = &mon->cache[(size_t)set * MON_CACHE_WAYS];
    bool found = false;
    pthread_mutex_lock(stripe_of(mon, set));
    for (int w = 0; w < MON_CACHE_WAYS; w++) {
        if (e[w].key == key && e[w].len == len) {
            *slot = e[w].slot;
            *gen = e[w].gen;
            e[w].stamp = stamp;
            found = true;
            break;
        }
    }
    pthread_mutex_unlock(stripe_of(mon, set));
    return found;
}

static void cache_put(alchdb_monitor *mon, uint64_t key, uint32_t len, uint32_t stamp,
                      uint32_t slot, uint32_t gen)
{
    uint32_t set = set_of(mon, key);
    mon_cache_entry *e = &mon->cache[(size_t)set * MON_CACHE_WAYS];
    int victim = -1;
    pthread_mutex_lock(stripe_of(mon, set));
    for (int w = 0; w < MON_CACHE_WAYS; w++) {
        if (e[w].key == key && e[w].len == len) {
            victim = w;
            break;
        }
        if (e[w].key == 0 && (victim < 0 || e[victim].key != 0))
            victim = w;
        else if (victim < 0 || (e[victim].key != 0 && (int32_t)(e[w].stamp - e[victim].stamp) < 0))
            victim = w;
    }
    if (e[victim].key != 0 && e[victim].key != key)
        atomic_fetch_add_explicit(&mon->cache_evictions, 1, memory_order_relaxed);
    e[victim] = (mon_cache_entry){.key = key, .len = len, .slot = slot, .gen = gen, .stamp = stamp};
    pthread_mutex_unlock(stripe_of(mon, set));
}

/* ---- pattern map (under pat_lock) ---------------------------------------- */

static uint32_t map_find(alchdb_monitor *mon, uint64_t key)
{
    uint32_t mask = mon->map_cap - 1;
    for (uint32_t i = (uint32_t)(key ^ (key >> 29)) & mask;; i = (i + 1) & mask) {
        if (mon->map_vals[i] == 0)
            return UINT32_MAX;
        if (mon->map_keys[i] == key)
            return mon->map_vals[i] - 1;
    }
}

static void map_put(alchdb_monitor *mon, uint64_t key, uint32_t slot)
{
    uint32_t mask = mon->map_cap - 1;
    uint32_t i = (uint32_t)(key ^ (key >> 29)) & mask;
    while (mon->map_vals[i] != 0)
        i = (i + 1) & mask;
    mon->map_keys[i] = key;
    mon->map_vals[i] = slot + 1;
}

static void map_del(alchdb_monitor *mon, uint64_t key)
{
    uint32_t mask = mon->map_cap - 1;
    uint32_t i = (uint32_t)(key ^ (key >> 29)) & mask;
    while (mon->map_vals[i] != 0 && mon->map_keys[i] != key)
        i = (i + 1) & mask;
    if (mon->map_vals[i] == 0)
        return;
    /* backward-shift deletion keeps probe chains intact without tombstones */
    uint32_t j = i;
    for (;;) {
        mon->map_vals[i] = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (mon->map_vals[j] == 0)
                return;
            uint32_t home = (uint32_t)(mon->map_keys[j] ^ (mon->map_keys[j] >> 29)) & mask;
            bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
            if (movable)
                break;
        }
        mon->map_keys[i] = mon->map_keys[j];
        mon->map_vals[i] = mon->map_vals[j];
        i = j;
    }
}

/* ---- patterns ------------------------------------------------------------ */

static void pattern_clear(mon_pattern *p)
{
    alchdb__free(p->text);
    alchdb__free(p->plan_json);
    alchdb__free(p->plan_error);
    p->text = p->plan_json = p->plan_error = NULL;
    alchdb__monitor_slow_entry_free(&p->slowest);
    p->used = false;
    p->gen++;
    p->calls = p->errors = p->slow = p->rows = p->total_us = 0;
    p->first_seen_us = 0;
    atomic_store_explicit(&p->last_used_us, 0, memory_order_relaxed);
    atomic_store_explicit(&p->last_touch, 0, memory_order_relaxed);
    memset(p->errc, 0, sizeof p->errc);
    p->errc_other = 0;
    alchdb__hist_reset(&p->all);
    alchdb__hist_reset(&p->recent);
    p->recent_start_us = 0;
    p->prev_p95_us = p->prev_count = 0;
    alchdb__monitor_windows_clear(p->minute, MON_MINUTES);
    alchdb__monitor_windows_clear(p->hour, MON_HOURS);
    p->sugg = 0;
    p->sugg_offset = 0;
    p->n1_bursts = p->n1_max_burst = 0;
    p->plan_tried = false;
    p->plan_at_us = 0;
    p->truncated = false;
    p->text_len = 0;
}

static mon_pattern *pattern_alloc(uint32_t slot)
{
    mon_pattern *p = alchdb__calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (alchdb__hist_init(&p->all, MON_HIST_MAX_US) != 0 ||
        alchdb__hist_init(&p->recent, MON_HIST_MAX_US) != 0) {
        alchdb__hist_destroy(&p->all);
        alchdb__free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->slot = slot;
    p->gen = 1;
    alchdb__monitor_windows_clear(p->minute, MON_MINUTES);
    alchdb__monitor_windows_clear(p->hour, MON_HOURS);
    return p;
}

static void pattern_destroy(mon_pattern *p)
{
    if (!p)
        return;
    pattern_clear(p);
    alchdb__monitor_windows_free(p->minute, MON_MINUTES);
    alchdb__monitor_windows_free(p->hour, MON_HOURS);
    alchdb__hist_destroy(&p->all);
    alchdb__hist_destroy(&p->recent);
    pthread_mutex_destroy(&p->lock);
    alchdb__free(p);
}

/* Fold an evicted pattern into the aggregate so totals stay true. Caller
 * holds pat_lock and the pattern's lock. */
static void evict_into_aggregate(alchdb_monitor *mon, mon_pattern *p)
{
    alchdb__hist_merge(&mon->ev_hist, &p->all);
    mon->ev_calls += p->calls;
    mon->ev_errors += p->errors;
    mon->ev_slow += p->slow;
    mon->ev_rows += p->rows;
    mon->ev_total_us += p->total_us;
    mon_wsnap w;
    for (int i = 0; i < MON_MINUTES; i++) {
        alchdb__monitor_window_snap(&w, &p->minute[i]);
        alchdb__monitor_wsnap_add(&mon->ev_minute[i], &w);
    }
    for (int i = 0; i < MON_HOURS; i++) {
        alchdb__monitor_window_snap(&w, &p->hour[i]);
        alchdb__monitor_wsnap_add(&mon->ev_hour[i], &w);
    }
}

/* Pick a slot for a new pattern (caller holds pat_lock): a free one, a new
 * one, or the least recently used (evicted). Returns it locked. */
static mon_pattern *slot_take(alchdb_monitor *mon)
{
    for (uint32_t i = 0; i < mon->nalloc && mon->nused < mon->nalloc; i++) {
        if (!mon->slots[i]->used) {
            pthread_mutex_lock(&mon->slots[i]->lock);
            return mon->slots[i];
        }
    }
    if (mon->nalloc < mon->nslots) {
        mon_pattern *p = pattern_alloc(mon->nalloc);
        if (!p)
            return NULL;
        mon->slots[mon->nalloc++] = p;
        pthread_mutex_lock(&p->lock);
        return p;
    }
    mon_pattern *victim = NULL;
    /* Least recently used by the touch counter, not by time: every record
     * takes a distinct counter value, so there are no ties (a clock that
     * stands still or steps back cannot make a just-touched pattern look old). */
    uint64_t oldest = UINT64_MAX;
    for (uint32_t i = 0; i < mon->nalloc; i++) {
        uint64_t t = atomic_load_explicit(&mon->slots[i]->last_touch, memory_order_relaxed);
        if (t < oldest) {
            oldest = t;
            victim = mon->slots[i];
        }
    }
    pthread_mutex_lock(&victim->lock);
    evict_into_aggregate(mon, victim);
    map_del(mon, victim->key);
    if (victim->kind != MON_KIND_PARSED)
        atomic_fetch_sub_explicit(&mon->unparsed, 1, memory_order_relaxed);
    if (alchdb__log_enabled(ALCHDB_LOG_DEBUG))
        alchdb__log(ALCHDB_LOG_DEBUG, MON_MODULE, "evicting pattern %016llx (%lld calls)",
                    (unsigned long long)victim->key, (long long)victim->calls);
    pattern_clear(victim);
    mon->nused--;
    atomic_fetch_add_explicit(&mon->evicted, 1, memory_order_relaxed);
    return victim;
}

/* Truncate at a UTF-8 character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* Find or create the pattern for key and return with it locked; *created
 * tells the caller to compute suggestions. text is consumed (owned) in every
 * case. */
static int pattern_get(alchdb_monitor *mon, uint64_t key, int kind, bool dml, char *text,
                       size_t src_len, int64_t now, int64_t ord, uint32_t *slot, uint32_t *gen,
                       bool *created)
{
    *created = false;
    pthread_mutex_lock(&mon->pat_lock);
    uint32_t s = map_find(mon, key);
    if (s != UINT32_MAX) {
        mon_pattern *p = mon->slots[s];
        pthread_mutex_lock(&p->lock); /* returned locked: it cannot be evicted under us */
        *slot = s;
        *gen = p->gen;
        pthread_mutex_unlock(&mon->pat_lock);
        alchdb__free(text);
        return 0;
    }
    mon_pattern *p = slot_take(mon);
    if (!p) {
        pthread_mutex_unlock(&mon->pat_lock);
        alchdb__free(text);
        return alchdb__nomem("monitor pattern");
    }
    size_t max = (size_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_TEXT_LENGTH];
    size_t tl = strlen(text);
    size_t cut = utf8_cut(text, tl, max);
    p->truncated = cut < tl || src_len > (size_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_PARSE_LENGTH];
    if (cut < tl) {
        if (tl - cut >= 3) {
            memcpy(text + cut, "...", 3);
            text[cut + 3] = '\0';
        } else {
            text[cut] = '\0';
        }
    }
    if (p->truncated)
        atomic_fetch_add_explicit(&mon->truncated, 1, memory_order_relaxed);
    p->text = text;
    p->text_len = (int64_t)src_len;
    p->used = true;
    p->key = key;
    p->kind = kind;
    p->dml = dml;
    p->first_seen_us = now;
    p->recent_start_us = ord;
    atomic_store_explicit(&p->last_used_us, now, memory_order_relaxed);
    atomic_store_explicit(&p->last_touch,
                          atomic_fetch_add_explicit(&mon->touch, 1, memory_order_relaxed),
                          memory_order_relaxed);
    if (kind != MON_KIND_PARSED)
        atomic_fetch_add_explicit(&mon->unparsed, 1, memory_order_relaxed);
    *slot = p->slot;
    *gen = p->gen;
    map_put(mon, key, p->slot);
    mon->nused++;
    pthread_mutex_unlock(&mon->pat_lock);
    *created = true;
    return 0;
}

static void compute_suggestions(alchdb_monitor *mon, const char *sql, size_t len, uint32_t slot,
                                uint32_t gen)
{
    int64_t off = 0;
    uint32_t bits = alchdb__monitor_suggest(sql, len, mon->cfg.v[ALCHDB_MONITOR_OPT_LARGE_OFFSET], &off);
    mon_pattern *p = mon->slots[slot];
    pthread_mutex_lock(&p->lock);
    if (p->used && p->gen == gen) {
        p->sugg = bits;
        p->sugg_offset = off;
    }
    pthread_mutex_unlock(&p->lock);
}

/* The slow path: text-cache miss. On success the pattern is returned locked
 * (so a concurrent eviction cannot take it before the caller counts). */
#define MON_NEEDS_PARSE 1 /* resolve(): the background parser must take it */

static int resolve(alchdb_monitor *mon, const char *sql, size_t len, uint64_t raw_key,
                   uint32_t stamp, int64_t now, int64_t ord, bool may_queue, uint32_t *slot,
                   uint32_t *gen, bool *created)
{
    *created = false;
    int tokens;
    bool dml;
    uint64_t sh = alchdb__monitor_strip(sql, len, NULL, 0, &tokens, &dml);
    if (tokens == 0)
        return alchdb__error(ALCHDB_E_INVALID,
                             "alchdb_monitor_record: sql contains no statement (only whitespace "
                             "or comments)");
    uint64_t skey = sh ^ TAG_STRIP;
    if (!skey)
        skey = 1;
    if (cache_get(mon, skey, 0, stamp, slot, gen)) {
        mon_pattern *p = mon->slots[*slot];
        pthread_mutex_lock(&p->lock);
        if (p->used && p->gen == *gen) {
            cache_put(mon, raw_key, (uint32_t)len, stamp, *slot, *gen);
            return 0;
        }
        pthread_mutex_unlock(&p->lock);
    }

    uint64_t fp = 0;
    char *normalized = NULL;
    int kind = MON_KIND_UNPARSED;
    if (may_queue && mon->q_cap > 0 && len <= (size_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_PARSE_LENGTH])
        return MON_NEEDS_PARSE;
    if (len <= (size_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_PARSE_LENGTH]) {
        atomic_fetch_add_explicit(&mon->parses, 1, memory_order_relaxed);
        int rc = alchdb__sql_fingerprint(sql, len, &fp, &normalized);
        if (rc == ALCHDB_E_NOMEM)
            return rc;
        if (rc == 0 && normalized)
            kind = MON_KIND_PARSED;
        else {
            if (rc == ALCHDB_E_RANGE) /* too deep to parse safely: one shared pattern */
                kind = MON_KIND_UNANALYSED;
            alchdb__free(normalized);
            normalized = NULL;
        }
    }
    uint64_t key;
    char *text;
    if (kind == MON_KIND_PARSED) {
        /* libpg_query's fingerprint merges queries PostgreSQL keeps apart
         * (lists as sets, constants ignored, utility statements' details):
         * DML is keyed by the query key of lib/sql, utility statements by
         * their text as pg_stat_statements 15 does (strip.c). The
         * fingerprint remains the fallback when the key cannot be computed. */
        uint64_t qk = 0;
        if (!dml)
            key = fp ^ (alchdb__monitor_utility_key(sql, len) * 0x9e3779b97f4a7c15ull);
        else if (alchdb__sql_query_key(sql, len, &qk) == 0)
            key = qk;
        else
            key = fp;
        text = normalized;
    } else if (kind == MON_KIND_UNANALYSED) {
        key = TAG_UNANALYSED;
        if (!(text = alchdb__strdup(MON_UNANALYSED_TEXT)))
            return alchdb__nomem("monitor pattern text");
    } else {
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        size_t max = (size_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_TEXT_LENGTH] + 4;
        int t2;
        bool d2;
        alchdb__monitor_strip(sql, len, &sb, max, &t2, &d2);
        text = alchdb__sb_finish(&sb);
        if (!text)
            return alchdb__nomem("monitor pattern text");
        key = sh ^ TAG_UNPARSED;
    }
    int rc = pattern_get(mon, key, kind, dml, text, len, now, ord, slot, gen, created);
    if (rc != 0)
        return rc;
    /* The stripped key may stand for the fingerprint only where constants are
     * plain A_Const nodes: DML. Utility statements keep strings in their
     * nodes (COMMENT ... IS '...', NOTIFY), so they always get parsed. */
    if (kind != MON_KIND_PARSED || dml)
        cache_put(mon, skey, 0, stamp, *slot, *gen);
    cache_put(mon, raw_key, (uint32_t)len, stamp, *slot, *gen);
    return 0;
}

/* ---- labels -------------------------------------------------------------- */

static uint32_t label_probe(alchdb_monitor *mon, uint64_t h, const char *s, size_t n,
                            uint32_t *empty)
{
    uint32_t mask = mon->label_map_cap - 1;
    for (uint32_t i = (uint32_t)h & mask;; i = (i + 1) & mask) {
        uint32_t v = mon->label_map[i];
        if (v == 0) {
            if (empty)
                *empty = i;
            return 0;
        }
        uint32_t id = v - 1;
        if (mon->label_hash[id] == h && strlen(mon->labels[id]) == n &&
            !memcmp(mon->labels[id], s, n))
            return id;
    }
}

/* Id of a label string, 0 = "(other)" when the cap is reached. */
static uint32_t label_intern(alchdb_monitor *mon, const char *s, size_t n)
{
    uint64_t h = alchdb__hash64(s, n, 0x6c6162656c);
    pthread_rwlock_rdlock(&mon->label_lock);
    uint32_t id = label_probe(mon, h, s, n, NULL);
    pthread_rwlock_unlock(&mon->label_lock);
    if (id)
        return id;
    pthread_rwlock_wrlock(&mon->label_lock);
    uint32_t empty = 0;
    id = label_probe(mon, h, s, n, &empty);
    if (!id && mon->nlabels < mon->label_cap) {
        char *copy = alchdb__strndup(s, n);
        if (copy) {
            id = mon->nlabels++;
            mon->labels[id] = copy;
            mon->label_hash[id] = h;
            mon->label_map[empty] = id + 1;
        }
    }
    pthread_rwlock_unlock(&mon->label_lock);
    if (!id)
        atomic_fetch_add_explicit(&mon->labels_dropped, 1, memory_order_relaxed);
    return id;
}

/* ---- N+1 ----------------------------------------------------------------- */

static void n1_note(alchdb_monitor *mon, uint32_t slot, uint32_t gen, uint32_t label, int64_t now)
{
    uint64_t h = ((uint64_t)slot << 32 | gen) * 0x9e3779b97f4a7c15ull ^ (uint64_t)label * 0xbf58476d1ce4e5b9ull;
    uint32_t idx = (uint32_t)(h >> 40) & (MON_N1_SLOTS - 1);
    mon_n1_entry *e = &mon->n1[idx];
    int64_t window = mon->cfg.v[ALCHDB_MONITOR_OPT_N_PLUS_ONE_WINDOW];
    int64_t threshold = mon->cfg.v[ALCHDB_MONITOR_OPT_N_PLUS_ONE_THRESHOLD];
    bool burst = false;
    int64_t count = 0;
    pthread_mutex_t *l = &mon->stripes[idx & (MON_STRIPES - 1)];
    pthread_mutex_lock(l);
    if (e->label != label || e->slot != slot || e->gen != gen) {
        *e = (mon_n1_entry){.slot = slot, .gen = gen, .label = label, .win_start_us = now};
    } else if (now - e->win_start_us >= window || now < e->win_start_us) {
        e->win_start_us = now;
        e->count = 0;
    }
    count = ++e->count;
    if (count > e->max_count)
        e->max_count = count;
    if (count == threshold) {
        e->bursts++;
        burst = true;
    }
    pthread_mutex_unlock(l);
    if (burst || count > threshold) {
        mon_pattern *p = mon->slots[slot];
        pthread_mutex_lock(&p->lock);
        if (p->used && p->gen == gen) {
            if (burst)
                p->n1_bursts++;
            if (count > p->n1_max_burst)
                p->n1_max_burst = count;
        }
        pthread_mutex_unlock(&p->lock);
    }
}

/* ---- slow log ------------------------------------------------------------ */

/* Labels of a query for the slow log: the used "key=value" strings, each cut
 * to MON_LABEL_MAX_LEN at a UTF-8 boundary, NUL-terminated back to back. */
static void pack_labels(const alchdb_monitor_query *q, mon_slow_entry *ent)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    uint32_t n = q->nlabels < MON_MAX_LABELS_PER_QUERY ? q->nlabels : MON_MAX_LABELS_PER_QUERY;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *l = q->labels[i];
        if (!l || !*l)
            continue;
        size_t ln = strnlen(l, MON_LABEL_MAX_LEN + 1);
        alchdb__sb_append(&sb, l, utf8_cut(l, ln, MON_LABEL_MAX_LEN));
        alchdb__sb_append(&sb, "", 1);
        k++;
    }
    size_t len = sb.len;
    ent->labels = k ? alchdb__sb_finish(&sb) : (alchdb__sb_reset(&sb), NULL);
    if (ent->labels) {
        ent->nlabels = k;
        ent->labels_len = (uint32_t)len;
    }
}

/* ---- record -------------------------------------------------------------- */

static int reject(alchdb_monitor *mon, int rc)
{
    if (mon)
        atomic_fetch_add_explicit(&mon->rejected, 1, memory_order_relaxed);
    return rc;
}

static bool valid_sqlstate(const char *s)
{
    for (int i = 0; i < 5; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
            return false;
    return s[5] == '\0';
}


int alchdb_monitor_record(alchdb_monitor *mon, const alchdb_monitor_query *q)
{
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    if (!q)
        return reject(mon, alchdb__invalid_arg(__func__, "q", "must not be NULL"));
    if (q->version != ALCHDB_MONITOR_QUERY_VERSION)
        return reject(mon, alchdb__invalid_arg(__func__, "q->version",
                                               "must be ALCHDB_MONITOR_QUERY_VERSION"));
    if (!q->sql)
        return reject(mon, alchdb__invalid_arg(__func__, "q->sql", "must not be NULL"));
    size_t len = q->sql_len < 0 ? strlen(q->sql) : (size_t)q->sql_len;
    if (len == 0)
        return reject(mon, alchdb__invalid_arg(__func__, "q->sql", "must not be empty"));
    if (q->duration_us < 0)
        return reject(mon, alchdb__invalid_arg(__func__, "q->duration_us", "must not be negative"));
    if (q->nlabels > 0 && !q->labels)
        return reject(mon, alchdb__invalid_arg(__func__, "q->labels", "NULL with nlabels > 0"));
    bool err = false;
    if (q->sqlstate) {
        if (!valid_sqlstate(q->sqlstate))
            return reject(mon, alchdb__invalid_arg(__func__, "q->sqlstate",
                                                   "must be 5 characters [0-9A-Z] or NULL"));
        err = strcmp(q->sqlstate, "00000") != 0 && strncmp(q->sqlstate, "01", 2) != 0 &&
              strncmp(q->sqlstate, "02", 2) != 0;
    }

    return alchdb__monitor_record_at(mon, q, len, err, alchdb__monitor_now(mon), true);
}

int alchdb__monitor_record_at(alchdb_monitor *mon, const alchdb_monitor_query *q, size_t len, bool err,
                              int64_t now, bool may_queue)
{
    /* now (wall clock) labels; ord (never runs backwards) orders: windows,
     * regression and N+1 windows, LRU */
    int64_t ord = alchdb__monitor_order_time(mon, now);
    uint32_t stamp = (uint32_t)(ord >> 10);
    uint64_t raw_key = alchdb__hash64(q->sql, len, SEED_RAW);
    if (!raw_key)
        raw_key = 1;
    uint32_t slot = 0, gen = 0;
    mon_pattern *p;
    bool created = false;
    /* The slow path may absorb failures (a text that does not parse, a
     * suggestion that cannot be computed): a successful record leaves the
     * caller's error detail as it was. */
    alchdb__error_state saved;
    bool restore = false;
    for (;;) {
        if (!cache_get(mon, raw_key, (uint32_t)len, stamp, &slot, &gen)) {
            if (!restore) {
                alchdb__error_save(&saved);
                restore = true;
            }
            int rc = resolve(mon, q->sql, len, raw_key, stamp, now, ord, may_queue, &slot, &gen,
                             &created);
            if (rc == MON_NEEDS_PARSE)
                return alchdb__monitor_enqueue(mon, q, len, now);
            if (rc != 0)
                return reject(mon, rc);
            p = mon->slots[slot];
            break; /* resolve returns it locked and current */
        }
        p = mon->slots[slot];
        pthread_mutex_lock(&p->lock);
        if (p->used && p->gen == gen)
            break;
        pthread_mutex_unlock(&p->lock);
        /* evicted or reset since it was cached: drop the entry, resolve again */
        uint32_t set = set_of(mon, raw_key);
        pthread_mutex_lock(stripe_of(mon, set));
        mon_cache_entry *e = &mon->cache[(size_t)set * MON_CACHE_WAYS];
        for (int w = 0; w < MON_CACHE_WAYS; w++)
            if (e[w].key == raw_key && e[w].gen == gen)
                e[w].key = 0;
        pthread_mutex_unlock(stripe_of(mon, set));
    }

    /* pattern locked: a handful of counter updates */
    int64_t d = q->duration_us;
    bool slow = d >= mon->cfg.v[ALCHDB_MONITOR_OPT_SLOW_THRESHOLD];
    p->calls++;
    p->total_us += d;
    if (q->rows > 0)
        p->rows += q->rows;
    if (slow)
        p->slow++;
    if (err) {
        p->errors++;
        int i = 0;
        for (; i < MON_ERR_CLASSES; i++) {
            if (p->errc[i].n == 0) {
                p->errc[i].cls[0] = q->sqlstate[0];
                p->errc[i].cls[1] = q->sqlstate[1];
                p->errc[i].n = 1;
                break;
            }
            if (p->errc[i].cls[0] == q->sqlstate[0] && p->errc[i].cls[1] == q->sqlstate[1]) {
                p->errc[i].n++;
                break;
            }
        }
        if (i == MON_ERR_CLASSES)
            p->errc_other++;
    }
    atomic_store_explicit(&p->last_used_us, now, memory_order_relaxed);
    atomic_store_explicit(&p->last_touch,
                          atomic_fetch_add_explicit(&mon->touch, 1, memory_order_relaxed),
                          memory_order_relaxed);
    if (ord - p->recent_start_us >= mon->cfg.v[ALCHDB_MONITOR_OPT_REGRESSION_WINDOW] ||
        ord < p->recent_start_us) {
        p->prev_count = alchdb__hist_count(&p->recent);
        p->prev_p95_us = alchdb__hist_quantile(&p->recent, 0.95);
        alchdb__hist_reset(&p->recent);
        p->recent_start_us = ord;
    }
    alchdb__hist_record(&p->all, d);
    alchdb__hist_record(&p->recent, d);
    int64_t mid = ord / 60000000, hid = ord / 3600000000LL;
    alchdb__monitor_window_note(&p->minute[mid % MON_MINUTES], mid, d, err, slow);
    alchdb__monitor_window_note(&p->hour[hid % MON_HOURS], hid, d, err, slow);
    mon_slow_entry ent;
    bool log_it = slow && mon->slow_cap > 0;
    if (log_it) {
        memset(&ent, 0, sizeof ent);
        ent.pattern_key = p->key;
        ent.kind = p->kind;
        if (!mon->cfg.v[ALCHDB_MONITOR_OPT_KEEP_PARAMETERS])
            ent.text = alchdb__strdup(p->text);
    }
    int kind = p->kind;
    pthread_mutex_unlock(&p->lock);
    alchdb__monitor_gwindow_note(mon, mid, hid, d);
    if (created && kind == MON_KIND_PARSED)
        compute_suggestions(mon, q->sql, len, slot, gen);

    uint32_t nl = q->nlabels;
    if (nl > MON_MAX_LABELS_PER_QUERY) {
        atomic_fetch_add_explicit(&mon->labels_dropped, nl - MON_MAX_LABELS_PER_QUERY,
                                  memory_order_relaxed);
        nl = MON_MAX_LABELS_PER_QUERY;
    }
    for (uint32_t i = 0; i < nl; i++) {
        const char *l = q->labels[i];
        if (!l || !*l) {
            atomic_fetch_add_explicit(&mon->labels_dropped, 1, memory_order_relaxed);
            continue;
        }
        size_t ln = strnlen(l, MON_LABEL_MAX_LEN + 1);
        uint32_t id = label_intern(mon, l, utf8_cut(l, ln, MON_LABEL_MAX_LEN));
        if (id)
            n1_note(mon, slot, gen, id, ord);
    }

    if (log_it) {
        if (mon->cfg.v[ALCHDB_MONITOR_OPT_KEEP_PARAMETERS]) {
            size_t max = (size_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_TEXT_LENGTH];
            ent.text = alchdb__strndup(q->sql, utf8_cut(q->sql, len, max));
        }
        ent.ts_us = now;
        ent.duration_us = d;
        ent.rows = q->rows;
        if (q->sqlstate)
            memcpy(ent.sqlstate, q->sqlstate, 6);
        if (q->route)
            snprintf(ent.route, sizeof ent.route, "%s", q->route);
        if (q->nlabels)
            pack_labels(q, &ent);
        ent.set = true;
        alchdb__monitor_slow_keep(mon, mon->slots[slot], gen, &ent);
    }
    if (restore)
        alchdb__error_restore(&saved);
    return 0;
}

int alchdb__monitor_key_of(alchdb_monitor *mon, const char *sql, size_t len, uint64_t *key)
{
    *key = 0;
    alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION, .sql = sql,
                              .sql_len = (int64_t)len, .rows = -1};
    int rc = alchdb__monitor_record_at(mon, &q, len, false, alchdb__monitor_now(mon), false);
    if (rc != 0)
        return rc;
    uint64_t raw_key = alchdb__hash64(sql, len, SEED_RAW);
    uint32_t slot = 0, gen = 0;
    if (!cache_get(mon, raw_key ? raw_key : 1, (uint32_t)len, 0, &slot, &gen))
        return alchdb__error(ALCHDB_E_NOTFOUND, "monitor key: text not in the cache");
    mon_pattern *p = mon->slots[slot];
    pthread_mutex_lock(&p->lock);
    if (p->used && p->gen == gen)
        *key = p->key;
    else
        rc = alchdb__error(ALCHDB_E_NOTFOUND, "monitor key: pattern evicted");
    pthread_mutex_unlock(&p->lock);
    return rc;
}

int alchdb_monitor_flush(alchdb_monitor *mon)
{
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    alchdb__monitor_drain(mon);
    return 0;
}

int alchdb_monitor_record_simple(alchdb_monitor *mon, const char *sql, int64_t duration_us,
                                 const char *sqlstate)
{
    alchdb_monitor_query q = {.version = ALCHDB_MONITOR_QUERY_VERSION,
                              .sql = sql,
                              .sql_len = -1,
                              .duration_us = duration_us,
                              .rows = -1,
                              .sqlstate = sqlstate};
    return alchdb_monitor_record(mon, &q);
}

/* ---- lifecycle ----------------------------------------------------------- */

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t c = 1;
    while (c < n && c < (1u << 31))
        c <<= 1;
    return c;
}

int alchdb_monitor_new(const alchdb_monitor_config *cfg, alchdb_monitor **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_monitor *mon = alchdb__calloc(1, sizeof *mon);
    if (!mon)
        return alchdb__nomem("monitor");
    if (alchdb__monitor_settings_load(&mon->cfg, cfg) != 0) {
        alchdb__free(mon);
        return alchdb__nomem("monitor");
    }
    pthread_mutex_init(&mon->pat_lock, NULL);
    pthread_mutex_init(&mon->slow_lock, NULL);
    pthread_mutex_init(&mon->plan_lock, NULL);
    pthread_mutex_init(&mon->roll_lock, NULL);
    pthread_mutex_init(&mon->q_lock, NULL);
    pthread_cond_init(&mon->q_more, NULL);
    pthread_cond_init(&mon->q_idle, NULL);
    pthread_rwlock_init(&mon->label_lock, NULL);
    for (int i = 0; i < MON_STRIPES; i++)
        pthread_mutex_init(&mon->stripes[i], NULL);
    mon->last_plan_run_us = INT64_MIN;
    alchdb__monitor_wsnaps_clear(mon->ev_minute, MON_MINUTES);
    alchdb__monitor_wsnaps_clear(mon->ev_hour, MON_HOURS);

    mon->nslots = (uint32_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_PATTERNS];
    mon->map_cap = pow2_at_least((uint64_t)mon->nslots * 2);
    mon->cache_sets = pow2_at_least((uint64_t)mon->cfg.v[ALCHDB_MONITOR_OPT_TEXT_CACHE_SIZE]) /
                      MON_CACHE_WAYS;
    mon->label_cap = (uint32_t)mon->cfg.v[ALCHDB_MONITOR_OPT_MAX_LABEL_VALUES] + 1;
    mon->label_map_cap = pow2_at_least((uint64_t)mon->label_cap * 2);
    mon->slow_cap = (uint32_t)mon->cfg.v[ALCHDB_MONITOR_OPT_SLOW_LOG_SIZE];

    mon->slots = alchdb__calloc(mon->nslots, sizeof *mon->slots);
    mon->map_keys = alchdb__calloc(mon->map_cap, sizeof *mon->map_keys);
    mon->map_vals = alchdb__calloc(mon->map_cap, sizeof *mon->map_vals);
    mon->cache = alchdb__calloc((size_t)mon->cache_sets * MON_CACHE_WAYS, sizeof *mon->cache);
    mon->labels = alchdb__calloc(mon->label_cap, sizeof *mon->labels);
    mon->label_hash = alchdb__calloc(mon->label_cap, sizeof *mon->label_hash);
    mon->label_map = alchdb__calloc(mon->label_map_cap, sizeof *mon->label_map);
    mon->n1 = alchdb__calloc(MON_N1_SLOTS, sizeof *mon->n1);
    bool slow_ok = alchdb__monitor_slow_init(mon) == 0;
    int rc = alchdb__hist_init(&mon->ev_hist, MON_HIST_MAX_US);
    if (rc == 0)
        rc = alchdb__monitor_gwindows_init(mon);
    if (rc == 0 && mon->slots && mon->map_keys && mon->map_vals && mon->cache && mon->labels &&
        mon->label_hash && mon->label_map && mon->n1 && slow_ok) {
        mon->labels[0] = alchdb__strdup("(other)");
        if (mon->labels[0]) {
            mon->nlabels = 1;
            rc = alchdb__monitor_queue_start(mon);
            if (rc == 0) {
                *out = mon;
                return 0;
            }
            alchdb_monitor_free(mon);
            return rc;
        }
    }
    alchdb_monitor_free(mon);
    return alchdb__nomem("monitor");
}

void alchdb_monitor_free(alchdb_monitor *mon)
{
    if (!mon)
        return;
    alchdb__monitor_queue_stop(mon); /* joins the parser thread, frees what it had not taken */
    if (mon->slots)
        for (uint32_t i = 0; i < mon->nalloc; i++)
            pattern_destroy(mon->slots[i]);
    alchdb__free(mon->slots);
    alchdb__free(mon->map_keys);
    alchdb__free(mon->map_vals);
    alchdb__free(mon->cache);
    if (mon->labels)
        for (uint32_t i = 0; i < mon->nlabels; i++)
            alchdb__free(mon->labels[i]);
    alchdb__free(mon->labels);
    alchdb__free(mon->label_hash);
    alchdb__free(mon->label_map);
    alchdb__free(mon->n1);
    alchdb__monitor_slow_destroy(mon);
    alchdb__hist_destroy(&mon->ev_hist);
    alchdb__monitor_gwindows_destroy(mon);
    pthread_mutex_destroy(&mon->roll_lock);
    for (int i = 0; i < MON_STRIPES; i++)
        pthread_mutex_destroy(&mon->stripes[i]);
    pthread_rwlock_destroy(&mon->label_lock);
    pthread_mutex_destroy(&mon->plan_lock);
    pthread_cond_destroy(&mon->q_idle);
    pthread_cond_destroy(&mon->q_more);
    pthread_mutex_destroy(&mon->q_lock);
    pthread_mutex_destroy(&mon->slow_lock);
    pthread_mutex_destroy(&mon->pat_lock);
    alchdb__free(mon);
}

int alchdb_monitor_set_clock(alchdb_monitor *mon, alchdb_monitor_clock_fn fn, void *user_data)
{
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    mon->clock = fn;
    mon->clock_ud = fn ? user_data : NULL;
    return 0;
}

int alchdb_monitor_reset(alchdb_monitor *mon)
{
    ALCHDB_CHECK_ARG(mon, "mon", "must not be NULL");
    alchdb__monitor_drain(mon);
    pthread_mutex_lock(&mon->pat_lock);
    for (uint32_t i = 0; i < mon->nalloc; i++) {
        mon_pattern *p = mon->slots[i];
        pthread_mutex_lock(&p->lock);
        if (p->used)
            pattern_clear(p); /* bumps gen: every cache entry for it goes stale */
        else
            p->gen++;
        pthread_mutex_unlock(&p->lock);
    }
    memset(mon->map_vals, 0, sizeof *mon->map_vals * mon->map_cap);
    mon->nused = 0;
    alchdb__hist_reset(&mon->ev_hist);
    alchdb__monitor_gwindows_reset(mon);
    mon->ev_calls = mon->ev_errors = mon->ev_slow = mon->ev_rows = mon->ev_total_us = 0;
    alchdb__monitor_wsnaps_clear(mon->ev_minute, MON_MINUTES);
    alchdb__monitor_wsnaps_clear(mon->ev_hour, MON_HOURS);
    mon->last_plan_run_us = INT64_MIN;
    pthread_mutex_unlock(&mon->pat_lock);

    for (uint32_t s = 0; s < mon->cache_sets; s++) {
        pthread_mutex_lock(stripe_of(mon, s));
        memset(&mon->cache[(size_t)s * MON_CACHE_WAYS], 0, sizeof *mon->cache * MON_CACHE_WAYS);
        pthread_mutex_unlock(stripe_of(mon, s));
    }
    for (uint32_t i = 0; i < MON_N1_SLOTS; i++) {
        pthread_mutex_lock(&mon->stripes[i & (MON_STRIPES - 1)]);
        memset(&mon->n1[i], 0, sizeof mon->n1[i]);
        pthread_mutex_unlock(&mon->stripes[i & (MON_STRIPES - 1)]);
    }
    pthread_rwlock_wrlock(&mon->label_lock);
    for (uint32_t i = 1; i < mon->nlabels; i++) {
        alchdb__free(mon->labels[i]);
        mon->labels[i] = NULL;
    }
    mon->nlabels = 1;
    memset(mon->label_map, 0, sizeof *mon->label_map * mon->label_map_cap);
    pthread_rwlock_unlock(&mon->label_lock);
    alchdb__monitor_slow_clear(mon);
    atomic_store(&mon->evicted, 0);
    atomic_store(&mon->cache_evictions, 0);
    atomic_store(&mon->parses, 0);
    atomic_store(&mon->labels_dropped, 0);
    atomic_store(&mon->rejected, 0);
    atomic_store(&mon->truncated, 0);
    atomic_store(&mon->plans_captured, 0);
    atomic_store(&mon->unparsed, 0);
    return 0;
}
