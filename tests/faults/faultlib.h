/* Shared by the PostgreSQL fault suites: small clusters of their own
 * (tests/faults/cluster.sh), a load of readers and writers through a routed
 * client, and the figures each scenario reports: failed reads and writes (by
 * SQLSTATE or error code) over time, when things settled, and read-your-
 * writes tokens that were claimed as satisfied while their write was gone.
 *
 * The suites run under tests/faults/run.sh, which gives them a base directory
 * (ALCHDB_FAULT_BASE) and tears every cluster under it down on exit, also on
 * failure. */
#ifndef ALCHDB_FAULTLIB_H
#define ALCHDB_FAULTLIB_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <alchdb/alchdb.h>
#include <alchdb/pq.h>

#include "testutil.h"

/* ---- time ---------------------------------------------------------------------- */

static inline int64_t fl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void fl_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static inline double fl_sec(int64_t ns)
{
    return (double)ns / 1e9;
}

/* ---- clusters ------------------------------------------------------------------ */

typedef struct fl_cluster {
    char dir[300];
    char node[2][256]; /* conninfo of node0 (the first primary) and node1 (its standby) */
    char port[2][16];
    char host1[64];
} fl_cluster;

/* Run "cluster.sh VERB DIR ARGS"; fails the test when it fails. */
void fl_sh(const fl_cluster *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A fresh cluster named name under the base directory: node0 primary,
 * node1 its streaming standby; netns: node1 behind a network namespace. */
void fl_cluster_create(fl_cluster *c, const char *name, bool netns);

void fl_cluster_destroy(fl_cluster *c);

/* Run sql on a node directly (libpq, not the library); returns the first
 * value (malloc'd, "" for none) or NULL on failure. */
char *fl_sql(const char *conninfo, const char *sql);

void fl_sql_ok(const char *conninfo, const char *sql);

long fl_sql_long(const char *conninfo, const char *sql);

/* Wait (bounded) until sql answers want on conninfo. */
void fl_wait_sql(const char *conninfo, const char *sql, const char *want, int seconds);

/* ---- the router under test -------------------------------------------------------- */

typedef struct fl_opts {
    const char *primary, *replica; /* conninfos */
    const char *probe_interval;    /* NULL: the default */
    const char *max_staleness;
    int max_open;                  /* per host (default 8) */
    int64_t acquire_timeout_us;    /* default 2 s */
    int64_t connect_timeout_us;    /* default 1 s */
} fl_opts;

alchdb_router *fl_router(const fl_opts *o);

/* A router metric by name from its JSON (the first occurrence of "name":N). */
long fl_metric(alchdb_router *r, const char *name);

/* Wait (bounded) until the router's metrics JSON contains text. */
void fl_wait_json(alchdb_router *r, const char *text, int seconds);

/* ---- load ---------------------------------------------------------------------------- */

enum { FL_READ = 0, FL_WRITE = 1, FL_TOKEN = 2 };
#define FL_MAX_FAILS 100000

typedef struct fl_fail {
    int64_t t_ns, lat_ns;
    int kind;
    char code[16]; /* SQLSTATE, or "E<n>" for an ALCHDB_E_* code from acquire */
} fl_fail;

typedef struct fl_load {
    alchdb_router *r;
    alchdb_client *c;
    int readers, writers;
    bool tokens; /* writers check each write with a token read */
    atomic_int stop;
    pthread_t th[512];
    int nth;
    atomic_long next_id;
    atomic_long ok[3], failed[3];
    atomic_long tok_ok, tok_flagged, tok_misattributed, tok_unknown;
    atomic_long on_standby; /* reads answered by a server in recovery */
    atomic_llong slowest_read_ns; /* the slowest successful read */
    fl_fail *fails;
    atomic_long nfails;
    int64_t t0;
} fl_load;

/* The table the load uses, made on the primary. */
void fl_schema(const char *primary);

/* Readers run a small read through the routed client; writers insert a row
 * through the router, take its token on the write's own connection, then
 * read the row back with that token: it must be there unless the router said
 * it could not vouch for the token (misattributed otherwise). */
fl_load *fl_load_start(alchdb_router *r, int readers, int writers, bool tokens);

void fl_load_stop(fl_load *l);

void fl_load_free(fl_load *l);

/* Failures of kind at or after t (0: all). code: only that code (NULL: any). */
long fl_fails_since(const fl_load *l, int kind, int64_t t, const char *code);

/* Time of the last failure of kind (0: none). */
int64_t fl_last_fail(const fl_load *l, int kind);

/* Time of the first failure of kind (0: none). */
int64_t fl_first_fail(const fl_load *l, int kind);

/* The longest a failed call of kind took. */
int64_t fl_max_fail_latency(const fl_load *l, int kind);

/* "08006:3 E-6:12" for failures of kind. */
void fl_codes(const fl_load *l, int kind, char *buf, size_t cap);

/* One line of figures for docs/reliability.md. t_fault: the fault began;
 * t_done: it was complete (e.g. the promotion returned). */
void fl_report(const char *scenario, const fl_load *l, int64_t t_fault, int64_t t_done);

/* The scenario groups (one Check case each), registered by test_faults.c. */
void faults_failover(Suite *s);
void faults_kill9(Suite *s);
void faults_partition(Suite *s);
void faults_slow(Suite *s);

#endif
