/* Waiting on libpq with a deadline and a cancel handle, sending cancel
 * requests without blocking, and detecting use after fork(). Shared by
 * lib/pool and lib/client. Never exported. */
#ifndef ALCHDB_PQWAIT_H
#define ALCHDB_PQWAIT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "internal.h"

typedef struct alchdb_cancel alchdb_cancel; /* public and opaque in <alchdb/client.h> */

/* What bounds one wait: an absolute monotonic deadline (alchdb__now_ns()
 * clock; 0 = none) and a cancel handle (NULL = none). */
typedef struct alchdb__deadline {
    int64_t at_ns;
    alchdb_cancel *cancel;
} alchdb__deadline;

/* The earlier of two absolute deadlines, 0 meaning "none". */
static inline int64_t alchdb__deadline_min(int64_t a, int64_t b)
{
    if (!a)
        return b;
    if (!b)
        return a;
    return a < b ? a : b;
}

/* ---- cancel handles (cancel.c) ---------------------------------------------- */

/* A thread waiting on something other than a socket (a pool's condition
 * variable) registers a wake-up that alchdb_cancel_trigger() calls, under the
 * handle's lock, for every registration. wake must not block for long. */
typedef struct alchdb__cancel_wake {
    void (*wake)(void *arg);
    void *arg;
    struct alchdb__cancel_wake *next, *prev;
} alchdb__cancel_wake;

bool alchdb__cancel_fired(const alchdb_cancel *c);
/* Readable (eventfd) once the handle fired; -1 for NULL. */
int alchdb__cancel_fd(const alchdb_cancel *c);
void alchdb__cancel_register(alchdb_cancel *c, alchdb__cancel_wake *w);
void alchdb__cancel_unregister(alchdb_cancel *c, alchdb__cancel_wake *w);

/* Ask the server to cancel what `pg` is running, without waiting for it.
 * libpq 15's PQcancel() blocks until the postmaster closes the cancel socket
 * (forever when the postmaster is stopped), so the request is sent from a
 * short-lived detached thread; at most 64 are in flight, further requests are
 * dropped and logged. Returns true when a request was started. The caller
 * must not reuse the connection: a late cancel could hit its next statement. */
bool alchdb__pq_cancel_async(PGconn *pg);
/* Cancel requests still being sent (for tests, which wait for 0 before exit). */
int alchdb__pq_cancel_inflight(void);
/* After fork(): the child has none of the parent's sender threads. */
void alchdb__pq_cancel_forget(void);

/* ---- waiting on a connection (pqwait.c) ----------------------------------------
 * Pooled connections stay in libpq's non-blocking mode (set when they are
 * made; PQexec() by other modules works there too, as libpq documents);
 * alchdb_conn_pgconn() switches a borrowed one back to blocking mode. These
 * functions set non-blocking mode themselves and return 0,
 * ALCHDB_E_TIMEOUT (the deadline passed), ALCHDB_E_CANCELED (the handle fired)
 * or ALCHDB_E_IO (poll failed). After TIMEOUT or CANCELED a query may still be
 * running: the caller sends a cancel and discards the connection. */

/* Fail at once when the deadline has passed or the handle fired. */
int alchdb__deadline_check(const alchdb__deadline *d);
/* Wait until the socket is readable (or writable too, when want_write). */
int alchdb__pq_wait_socket(PGconn *pg, bool want_write, const alchdb__deadline *d);
/* The next result of the query in flight, as PQgetResult() (NULL when done). */
int alchdb__pq_next(PGconn *pg, const alchdb__deadline *d, PGresult **out);
/* Every result of the query in flight; *out is the last one (PQexec's rule). */
int alchdb__pq_last(PGconn *pg, const alchdb__deadline *d, PGresult **out);
/* PQexec() bounded by d. A send failure gives 0 with an error result (or
 * NULL when libpq had none). */
int alchdb__pq_exec(PGconn *pg, const char *sql, const alchdb__deadline *d, PGresult **out);
/* Record the thread's error for a TIMEOUT/CANCELED/IO code of the functions
 * above: "<what>: <why>". Returns code. */
int alchdb__deadline_error(int code, const char *what, const alchdb__deadline *d, int64_t start_ns);

/* ---- fork detection (fork.c) ----------------------------------------------------
 * Every object that owns sockets or threads records the fork generation when it
 * is made; a child of fork() sees a newer generation (a pthread_atfork child
 * handler counts it), which costs one relaxed load per check. */
extern _Atomic uint32_t alchdb__fork_gen;
uint32_t alchdb__fork_generation(void);
static inline bool alchdb__forked_since(uint32_t gen)
{
    return ALCHDB_UNLIKELY(gen != atomic_load_explicit(&alchdb__fork_gen, memory_order_relaxed));
}
/* Close a libpq connection inherited from the parent without sending the
 * Terminate message: the parent's server session stays intact. */
void alchdb__pq_drop_inherited(PGconn *pg);

#endif /* ALCHDB_PQWAIT_H */
