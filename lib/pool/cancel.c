/* Cancel handles (alchdb_cancel_*, <alchdb/client.h>) and cancel requests
 * sent to the server without blocking the caller. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "alchdb/client.h"
#include "pool/pqwait.h"
#include "pqconn.h"

#define CANCEL_MAGIC 0x414c4358u /* "ALCX" */
#define CANCEL_DEAD 0xdeadc0deu
#define MAX_INFLIGHT 64

struct alchdb_cancel {
    uint32_t magic;
    atomic_int fired;
    int efd;
    pthread_mutex_t mu;
    alchdb__cancel_wake *waits; /* registrations of threads waiting on a condition variable */
};

bool alchdb__cancel_fired(const alchdb_cancel *c)
{
    return c && atomic_load_explicit(&c->fired, memory_order_acquire);
}

int alchdb__cancel_fd(const alchdb_cancel *c) { return c ? c->efd : -1; }

void alchdb__cancel_register(alchdb_cancel *c, alchdb__cancel_wake *w)
{
    pthread_mutex_lock(&c->mu);
    w->prev = NULL;
    w->next = c->waits;
    if (c->waits)
        c->waits->prev = w;
    c->waits = w;
    pthread_mutex_unlock(&c->mu);
}

void alchdb__cancel_unregister(alchdb_cancel *c, alchdb__cancel_wake *w)
{
    pthread_mutex_lock(&c->mu);
    if (w->prev)
        w->prev->next = w->next;
    else
        c->waits = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    pthread_mutex_unlock(&c->mu);
}

ALCHDB_API int alchdb_cancel_new(alchdb_cancel **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_cancel *c = alchdb__calloc(1, sizeof *c);
    if (!c)
        return alchdb__nomem("cancel handle");
    c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->efd < 0) {
        int e = errno;
        alchdb__free(c);
        return alchdb__error(ALCHDB_E_IO, "alchdb_cancel_new: eventfd() failed: %s", strerror(e));
    }
    c->magic = CANCEL_MAGIC;
    atomic_init(&c->fired, 0);
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

ALCHDB_API int alchdb_cancel_trigger(alchdb_cancel *c)
{
    ALCHDB_CHECK_ARG(c && c->magic == CANCEL_MAGIC, "cancel", "must be a live cancel handle");
    if (atomic_exchange_explicit(&c->fired, 1, memory_order_acq_rel))
        return 0; /* already fired */
    uint64_t one = 1;
    ssize_t n;
    do
        n = write(c->efd, &one, sizeof one); /* wakes every poll() on it */
    while (n < 0 && errno == EINTR);
    pthread_mutex_lock(&c->mu);
    for (alchdb__cancel_wake *w = c->waits; w; w = w->next)
        w->wake(w->arg);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

ALCHDB_API int alchdb_cancel_is_triggered(const alchdb_cancel *c)
{
    ALCHDB_CHECK_ARG(c && c->magic == CANCEL_MAGIC, "cancel", "must be a live cancel handle");
    return alchdb__cancel_fired(c) ? 1 : 0;
}

ALCHDB_API int alchdb_cancel_reset(alchdb_cancel *c)
{
    ALCHDB_CHECK_ARG(c && c->magic == CANCEL_MAGIC, "cancel", "must be a live cancel handle");
    pthread_mutex_lock(&c->mu);
    bool busy = c->waits != NULL;
    pthread_mutex_unlock(&c->mu);
    if (busy)
        return alchdb__error(ALCHDB_E_STATE, "alchdb_cancel_reset: a call is still waiting on the handle");
    uint64_t v;
    while (read(c->efd, &v, sizeof v) < 0 && errno == EINTR)
        ;
    atomic_store_explicit(&c->fired, 0, memory_order_release);
    return 0;
}

ALCHDB_API void alchdb_cancel_free(alchdb_cancel *c)
{
    if (!c || c->magic != CANCEL_MAGIC)
        return;
    c->magic = CANCEL_DEAD;
    close(c->efd);
    pthread_mutex_destroy(&c->mu);
    alchdb__free(c);
}

/* ---- cancel requests to the server --------------------------------------------- */

static atomic_int g_inflight;

int alchdb__pq_cancel_inflight(void) { return atomic_load(&g_inflight); }

static void *cancel_thread(void *arg)
{
    PGcancel *pc = arg;
    char err[256];
    if (!PQcancel(pc, err, (int)sizeof err)) {
        char msg[300];
        alchdb__pq_message(msg, sizeof msg, err);
        alchdb__log(ALCHDB_LOG_WARN, "pool", "cancel request failed: %s", msg);
    }
    PQfreeCancel(pc);
    atomic_fetch_sub(&g_inflight, 1);
    return NULL;
}

bool alchdb__pq_cancel_async(PGconn *pg)
{
    if (!pg || PQstatus(pg) != CONNECTION_OK)
        return false; /* nothing running on a connection that is gone */
    if (atomic_fetch_add(&g_inflight, 1) >= MAX_INFLIGHT) {
        atomic_fetch_sub(&g_inflight, 1);
        alchdb__log(ALCHDB_LOG_WARN, "pool", "cancel request not sent: %d already in flight "
                                             "(servers not answering?)", MAX_INFLIGHT);
        return false;
    }
    PGcancel *pc = PQgetCancel(pg);
    pthread_attr_t attr;
    pthread_t th;
    bool ok = pc && pthread_attr_init(&attr) == 0;
    if (ok) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        ok = pthread_create(&th, &attr, cancel_thread, pc) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!ok) {
        if (pc)
            PQfreeCancel(pc);
        atomic_fetch_sub(&g_inflight, 1);
        alchdb__log(ALCHDB_LOG_WARN, "pool", "cancel request not sent: %s",
                    pc ? "cannot start a thread" : "out of memory");
        return false;
    }
    return true;
}

void alchdb__pq_cancel_forget(void) { atomic_store(&g_inflight, 0); }
