/* Detecting use after fork(): a pthread_atfork child handler counts forks, and
 * objects compare the count they were made with (one relaxed load). */
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include "pool/pqwait.h"

_Atomic uint32_t alchdb__fork_gen;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void in_child(void)
{
    atomic_fetch_add_explicit(&alchdb__fork_gen, 1, memory_order_relaxed);
    alchdb__pq_cancel_forget();
}

static void install(void) { pthread_atfork(NULL, NULL, in_child); }

uint32_t alchdb__fork_generation(void)
{
    pthread_once(&g_once, install);
    return atomic_load_explicit(&alchdb__fork_gen, memory_order_relaxed);
}

void alchdb__pq_drop_inherited(PGconn *pg)
{
    if (!pg)
        return;
    /* The socket is shared with the parent. Point our descriptor at /dev/null
     * first: PQfinish()'s Terminate message then fails locally (send() on a
     * non-socket) and only our descriptor is closed; the parent's session
     * never sees it. */
    int fd = PQsocket(pg);
    if (fd >= 0) {
        int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (nul >= 0) {
            dup2(nul, fd);
            close(nul);
        } else {
            close(fd); /* then send() fails with EBADF: still nothing reaches the server */
        }
    }
    PQfinish(pg);
}
