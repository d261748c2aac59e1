/* Private state of the query monitor (lib/monitor). Never exported. */
#ifndef ALCHDB_MONITOR_INTERNAL_H
#define ALCHDB_MONITOR_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "alchdb/monitor.h"
#include "core/opt.h"
#include "internal.h"
#include "core/hist.h"

#define MON_MODULE "monitor"
#define MON_MINUTES 60
#define MON_HOURS 24
#define MON_ERR_CLASSES 8
#define MON_MAX_LABELS_PER_QUERY 8
#define MON_LABEL_MAX_LEN 128
#define MON_CACHE_WAYS 4
#define MON_STRIPES 64
#define MON_N1_SLOTS 4096
#define MON_HIST_MAX_US ((int64_t)3600 * 1000000) /* 1 h; longer runs are clamped */
#define MON_LABEL_OTHER 0u                         /* id of "(other)" */

struct alchdb_monitor_config {
    alchdb__opts opts;
};

/* The options as plain values, copied when a monitor is made (config.c). */
typedef struct alchdb__monitor_settings {
    int64_t v[16]; /* indexed by alchdb_monitor_opt */
} alchdb__monitor_settings;

/* suggestion bits (suggest.c) */
enum {
    MON_SUG_SELECT_STAR = 1u << 0,
    MON_SUG_LEADING_LIKE = 1u << 1,
    MON_SUG_LARGE_OFFSET = 1u << 2,
    MON_SUG_NO_WHERE_WRITE = 1u << 3,
    MON_SUG_FUNC_ON_COLUMN = 1u << 4,
    MON_SUG_ORDER_RANDOM = 1u << 5,
    MON_SUG_UNBOUNDED = 1u << 6,
};
#define MON_SUG_COUNT 7

/* Latency distribution of one window: the buckets of core/hist.h that hold
 * at least one value, sorted by bucket index (a window usually touches a few
 * dozen of the ~1,000 buckets, so this costs a few hundred bytes instead of
 * 8 KB). The array is kept when the window rolls over and reused. */
typedef struct mon_wbucket {
    uint32_t idx, n;
} mon_wbucket;

typedef struct mon_window {
    int64_t id; /* minute or hour number since the epoch; -1 = empty */
    int64_t calls, errors, slow, total_us, max_us;
    mon_wbucket *b; /* owned; nb used of cap */
    uint32_t nb, cap;
    int64_t unbucketed; /* values not in b (its growth failed): not in the percentiles */
} mon_window;

/* A window as readers see it: counts plus its percentiles (window.c). */
typedef struct mon_wsnap {
    int64_t id; /* -1 = empty */
    int64_t calls, errors, slow, total_us, max_us;
    int64_t p50_us, p90_us, p95_us, p99_us;
} mon_wsnap;

/* The monitor-wide distribution of one window (every record, evicted
 * patterns included): recorded lock-free, rolled over under roll. */
typedef struct mon_gwindow {
    _Atomic int64_t id;
    alchdb__hist h;
} mon_gwindow;

typedef struct mon_errclass {
    char cls[3];
    int64_t n;
} mon_errclass;

/* Patterns: parsed (keyed by fingerprint), unparsed (libpg_query refused
 * the text: keyed by its literal-stripped hash), unanalysed (nested too
 * deeply to parse safely: all such statements share one pattern). */
enum { MON_KIND_PARSED = 0, MON_KIND_UNPARSED = 1, MON_KIND_UNANALYSED = 2 };
#define MON_UNANALYSED_TEXT "(statements nested too deeply to analyse)"

typedef struct mon_slow_entry {
    bool set;     /* holds an execution */
    int64_t ts_us, duration_us, rows;
    char sqlstate[6];
    char route[32];
    uint64_t pattern_key;
    int kind;
    char *text;   /* owned */
    char *labels; /* owned: nlabels NUL-terminated "key=value" strings back to back, or NULL */
    uint32_t nlabels, labels_len; /* labels_len: bytes of labels including the NULs */
} mon_slow_entry;

typedef struct mon_pattern {
    pthread_mutex_t lock;
    bool used;
    uint32_t gen;          /* bumped on eviction/reset: stale cache entries see a mismatch */
    uint32_t slot;
    int kind;
    bool dml;              /* SELECT/INSERT/UPDATE/DELETE/WITH/VALUES: may be EXPLAINed */
    uint64_t key;          /* fingerprint (parsed) or literal-stripped hash (unparsed) */
    char *text;            /* display text (normalized, truncated), owned */
    int64_t text_len;      /* length of the text it was made from */
    bool truncated;
    int64_t calls, errors, slow, rows, total_us;
    int64_t first_seen_us;
    _Atomic int64_t last_used_us; /* wall-clock label of the last use */
    _Atomic uint64_t last_touch;  /* LRU order: the monitor's touch counter at the last use */
    mon_errclass errc[MON_ERR_CLASSES];
    int64_t errc_other;
    alchdb__hist all;      /* since creation or reset */
    alchdb__hist recent;   /* current regression window */
    int64_t recent_start_us;
    int64_t prev_p95_us, prev_count; /* the regression window before */
    mon_window minute[MON_MINUTES];
    mon_window hour[MON_HOURS];
    uint32_t sugg;         /* MON_SUG_* */
    int64_t sugg_offset;   /* the OFFSET value seen */
    int64_t n1_bursts, n1_max_burst;
    mon_slow_entry slowest; /* its slowest slow execution (slowlog.c) */
    /* plan capture */
    bool plan_tried;
    char *plan_json;       /* owned raw EXPLAIN output */
    char *plan_error;      /* owned */
    int64_t plan_at_us;
} mon_pattern;

typedef struct mon_cache_entry {
    uint64_t key;   /* 0 = empty */
    uint32_t slot, gen;
    uint32_t len;   /* raw text length (truncated to 32 bits) as a cheap extra check */
    uint32_t stamp; /* for replacement within a set */
} mon_cache_entry;


typedef struct mon_n1_entry {
    uint32_t slot, gen, label; /* label 0 = empty entry */
    int64_t win_start_us, count, bursts, max_count;
} mon_n1_entry;

struct alchdb_monitor {
    alchdb__monitor_settings cfg;
    alchdb_monitor_clock_fn clock;
    void *clock_ud;

    /* patterns: slots[] holds max_patterns pointers, allocated on first use */
    pthread_mutex_t pat_lock;   /* creation, eviction, map; never held while recording */
    mon_pattern **slots;
    uint32_t nslots, nused, nalloc;
    uint64_t *map_keys;         /* open addressing: key -> slot+1 (0 empty) */
    uint32_t *map_vals;
    uint32_t map_cap;           /* power of two, >= 2 * nslots */

    /* text cache (raw-text hash and literal-stripped hash share it) */
    mon_cache_entry *cache;
    uint32_t cache_sets;        /* power of two */
    pthread_mutex_t stripes[MON_STRIPES];

    /* label values */
    pthread_rwlock_t label_lock;
    char **labels;              /* id -> string (owned); id 0 = "(other)" */
    uint64_t *label_hash;
    uint32_t nlabels, label_cap; /* label_cap = max_label_values + 1 */
    uint32_t *label_map;        /* open addressing: id+1 (0 empty) */
    uint32_t label_map_cap;

    /* N+1 bursts */
    mon_n1_entry *n1;

    /* slow log (slowlog.c): the most recent slow executions (a ring) and the
     * slowest ones (a min-heap by duration), slow_cap entries each; the
     * slowest execution of each pattern lives in the pattern */
    pthread_mutex_t slow_lock;
    mon_slow_entry *slowlog;
    uint32_t slow_cap, slow_head, slow_count;
    mon_slow_entry *slowest;
    uint32_t slowest_count;

    /* aggregate of evicted patterns (under pat_lock) */
    alchdb__hist ev_hist;
    int64_t ev_calls, ev_errors, ev_slow, ev_rows, ev_total_us;
    mon_wsnap ev_minute[MON_MINUTES];
    mon_wsnap ev_hour[MON_HOURS];

    /* monitor-wide window distributions (the trend's percentiles) */
    pthread_mutex_t roll_lock;
    mon_gwindow gminute[MON_MINUTES];
    mon_gwindow ghour[MON_HOURS];

    /* ordering time (window.c): ordering = max(wall, monotonic + offset),
     * offset only grows, so it never runs backwards when the wall clock steps */
    _Atomic int64_t ord_offset;
    _Atomic uint64_t touch; /* LRU counter: every record takes the next value */

    /* counters */
    _Atomic int64_t evicted, cache_evictions, parses, labels_dropped, rejected, truncated,
        plans_captured, unparsed;
    _Atomic uint32_t stamp;

    /* never-seen shapes parsed off the recording thread (queue.c) */
    pthread_mutex_t q_lock;
    pthread_cond_t q_more, q_idle;
    struct mon_pending *q;      /* ring of q_cap entries */
    uint32_t q_cap, q_head, q_count, q_busy;
    bool q_stopping, q_running;
    pthread_t q_worker;
    _Atomic int64_t q_queued, q_dropped;

    pthread_mutex_t plan_lock;  /* one capture run at a time */
    int64_t last_plan_run_us;
};

/* config.c: cfg's values (NULL: the defaults) into s; 0 or ALCHDB_E_NOMEM. */
int alchdb__monitor_settings_load(alchdb__monitor_settings *s, const alchdb_monitor_config *cfg);

/* strip.c: hash of the text with literals, parameters, comments and
 * whitespace runs replaced; optionally the stripped text itself. Sets *tokens
 * to the number of tokens seen and *dml when the first keyword is a DML verb. */
uint64_t alchdb__monitor_strip(const char *sql, size_t len, alchdb__strbuf *out, size_t out_max,
                               int *tokens, bool *dml);

/* slowlog.c */
/* Keep a slow execution: in the recent ring, among the slowest overall, and
 * as its pattern's slowest (p, checked against gen). Consumes *ent. */
void alchdb__monitor_slow_keep(alchdb_monitor *mon, mon_pattern *p, uint32_t gen, mon_slow_entry *ent);
void alchdb__monitor_slow_entry_free(mon_slow_entry *e);
int alchdb__monitor_slow_init(alchdb_monitor *mon);
void alchdb__monitor_slow_clear(alchdb_monitor *mon); /* ring and heap, not the patterns' */
void alchdb__monitor_slow_destroy(alchdb_monitor *mon);

/* strip.c: the key that tells utility statements apart the way PostgreSQL
 * 15's pg_stat_statements does (it hashes their text): the same token stream
 * as alchdb__monitor_strip() but with every literal's text, except in EXECUTE
 * (its arguments are parameters of one prepared statement). libpg_query's
 * fingerprint ignores what differs between them (transaction modes, DO
 * bodies, the prepared statement's name, ...). */
uint64_t alchdb__monitor_utility_key(const char *sql, size_t len);

/* suggest.c: suggestion bits of a statement text (0 when it does not parse
 * or is too deep to analyse). */
uint32_t alchdb__monitor_suggest(const char *sql, size_t len, int64_t large_offset, int64_t *offset_seen);
const char *alchdb__monitor_suggest_code(unsigned bit);
const char *alchdb__monitor_suggest_text(unsigned bit);

/* queue.c: the background parse queue. */
int alchdb__monitor_queue_start(alchdb_monitor *mon);
void alchdb__monitor_queue_stop(alchdb_monitor *mon);
/* Copy a record for the background parser (0, or counted as dropped). */
int alchdb__monitor_enqueue(alchdb_monitor *mon, const alchdb_monitor_query *q, size_t len, int64_t now);
/* Count every queued record now (readers call it so they see everything). */
void alchdb__monitor_drain(alchdb_monitor *mon);
/* monitor.c: record at a given time; may_queue = 0 parses inline. */
int alchdb__monitor_record_at(alchdb_monitor *mon, const alchdb_monitor_query *q, size_t len, bool err,
                              int64_t now, bool may_queue);

/* Record one execution of sql (duration 0, parsed inline) and give the key
 * of the pattern it was grouped into: how tests compare the grouping with
 * pg_stat_statements' queryid. */
int alchdb__monitor_key_of(alchdb_monitor *mon, const char *sql, size_t len, uint64_t *key);

/* monitor.c helpers used by report.c and plan.c */
/* Wall-clock time (the injected clock or the system's): labels only. */
int64_t alchdb__monitor_now(alchdb_monitor *mon);

/* window.c: time and windows. */
/* Ordering time for wall-clock time `wall`: never less than a value returned
 * before, equal to wall while the wall clock runs forward. Window ids come
 * from it, so a clock step back never overwrites a newer window. */
int64_t alchdb__monitor_order_time(alchdb_monitor *mon, int64_t wall);
/* Count one execution into w (id = its minute or hour number). Caller holds
 * the pattern lock. */
void alchdb__monitor_window_note(mon_window *w, int64_t id, int64_t d, bool err, bool slow);
void alchdb__monitor_windows_clear(mon_window *w, int n); /* keeps the bucket arrays */
void alchdb__monitor_windows_free(mon_window *w, int n);
/* Snapshot of a window with its percentiles (caller holds the pattern lock). */
void alchdb__monitor_window_snap(mon_wsnap *dst, const mon_window *src);
/* Add the counts of src into dst (the percentiles are not additive: the
 * caller fills them from the monitor-wide windows). */
void alchdb__monitor_wsnap_add(mon_wsnap *dst, const mon_wsnap *src);
void alchdb__monitor_wsnaps_clear(mon_wsnap *w, int n);
/* Monitor-wide windows. */
int alchdb__monitor_gwindows_init(alchdb_monitor *mon);
void alchdb__monitor_gwindows_destroy(alchdb_monitor *mon);
void alchdb__monitor_gwindows_reset(alchdb_monitor *mon);
void alchdb__monitor_gwindow_note(alchdb_monitor *mon, int64_t mid, int64_t hid, int64_t d);
/* Fill the percentiles of the totals' windows from the monitor-wide ones. */
void alchdb__monitor_gwindow_fill(alchdb_monitor *mon, mon_wsnap *minute, mon_wsnap *hour);

#endif /* ALCHDB_MONITOR_INTERNAL_H */
