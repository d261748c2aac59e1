/* The one place that calls libpg_query, and how deep input is kept from
 * overflowing the stack inside it.
 *
 * libpg_query's raw parser keeps its own heap stack (it refuses nesting past
 * 10000 with "memory exhausted"), but turning the tree into JSON, the
 * fingerprint and normalize recurse once per tree level, with no depth check.
 * Measured with libpg_query 15-4.0.0 on this machine, on a 256 KiB thread:
 * pg_query_normalize overflows at about 650 chained "+", 356 chained NOT or
 * 260 nested scalar sub-selects; pg_query_parse at about 1980 chained "+" or
 * 660 nested sub-selects; on an 8 MiB stack at about 22000 and 64000 "+".
 *
 * So before calling it, the scanner estimates the tree depth of the text
 * (depth.c). Each unit of the estimate costs libpg_query at most about 710
 * bytes of stack (NOT chains under normalize, the worst measured; most shapes
 * cost 100-500): the work runs on the calling thread when its remaining stack
 * covers STACK_PER_UNIT bytes a unit plus a reserve, on a short-lived helper
 * thread with a stack sized for the estimate otherwise, and not at all past
 * MAX_HELPER_STACK: the caller then gets ALCHDB_E_RANGE and answers
 * conservatively ("too deep to analyse"). */

#include <pthread.h>

#include "sql_priv.h"

#define STACK_PER_UNIT 1024u
#define STACK_RESERVE (96u * 1024)               /* fixed use of libpg_query and of the library around it */
#define MAX_HELPER_STACK ((size_t)256 << 20)     /* 256 MiB: about 250000 units, 125000 chained "+" */
#define UNKNOWN_STACK_BUDGET ((size_t)64 << 10)  /* assumed free when the thread's stack cannot be read */
/* A new thread does not get all of the stack it asks for: glibc carves its
 * thread-local storage out of the top, which is large when a sanitizer
 * runtime is loaded (about 780 KiB measured under ThreadSanitizer). The
 * helper asks for this much more; only the pages it touches cost memory. */
#define HELPER_MARGIN ((size_t)4 << 20)

size_t sql__pgq_max_units(void) { return (MAX_HELPER_STACK - STACK_RESERVE - HELPER_MARGIN) / STACK_PER_UNIT; }

/* The bounds of the calling thread's stack (0, 0: unknown), read once per
 * thread. */
static _Thread_local uintptr_t t_stack_low, t_stack_high;
static _Thread_local bool t_stack_known;

static size_t stack_left(void)
{
    if (!t_stack_known) {
        t_stack_known = true;
#if defined(__GLIBC__)
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            void *addr = NULL;
            size_t size = 0;
            if (pthread_attr_getstack(&attr, &addr, &size) == 0 && addr && size) {
                t_stack_low = (uintptr_t)addr;
                t_stack_high = t_stack_low + size;
            }
            pthread_attr_destroy(&attr);
        }
#endif
    }
    volatile char probe = 0;
    uintptr_t sp = (uintptr_t)&probe;
    /* Outside the thread's own stack (a coroutine or a stack the caller
     * switched to): nothing is known, assume little. */
    if (sp <= t_stack_low || sp > t_stack_high)
        return UNKNOWN_STACK_BUDGET;
    return (size_t)(sp - t_stack_low);
}

static void run_ops(sql_pgq *q)
{
    if (q->ops & SQL_PGQ_PARSE)
        q->parse = pg_query_parse(q->text);
    if (q->ops & SQL_PGQ_FINGERPRINT)
        q->fp = pg_query_fingerprint(q->text);
    if (q->ops & SQL_PGQ_NORMALIZE)
        q->norm = pg_query_normalize(q->text);
    q->ran = true;
}

static void *helper_main(void *arg)
{
    run_ops(arg);
    return NULL;
}

int sql__pgq_run(sql_pgq *q)
{
    q->ran = false;
    size_t est = q->est;
    if (est > sql__pgq_max_units())
        return alchdb__error(ALCHDB_E_RANGE,
                             "SQL nested too deeply to analyse: about %zu levels, more than the %zu this library "
                             "follows",
                             est, sql__pgq_max_units());
    size_t need = est * STACK_PER_UNIT + STACK_RESERVE;
    if (need <= stack_left()) {
        run_ops(q);
        return 0;
    }
    /* Deep input on a thread without the stack for it: a helper thread with
     * enough stack does the work while this one waits. */
    pthread_attr_t attr;
    pthread_t tid;
    size_t page = 65536;
    need = (need + HELPER_MARGIN + page - 1) / page * page;
    int e = pthread_attr_init(&attr);
    if (e == 0) {
        e = pthread_attr_setstacksize(&attr, need);
        if (e == 0)
            e = pthread_create(&tid, &attr, helper_main, q);
        pthread_attr_destroy(&attr);
    }
    if (e != 0)
        return alchdb__error(ALCHDB_E_RANGE,
                             "SQL nested too deeply to analyse on this thread (about %zu levels) and no helper "
                             "thread with a %zu-byte stack could be started (error %d)",
                             est, need, e);
    /* The helper works on q, which lives on this thread's stack: this
     * thread must not be cancelled before the helper is done. */
    int oldstate;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &oldstate);
    pthread_join(tid, NULL);
    pthread_setcancelstate(oldstate, &oldstate);
    return 0;
}

void sql__pgq_done(sql_pgq *q)
{
    if (!q->ran)
        return;
    if (q->ops & SQL_PGQ_PARSE)
        pg_query_free_parse_result(q->parse);
    if (q->ops & SQL_PGQ_FINGERPRINT)
        pg_query_free_fingerprint_result(q->fp);
    if (q->ops & SQL_PGQ_NORMALIZE)
        pg_query_free_normalize_result(q->norm);
    q->ran = false;
}

int sql__pgq_prepare(sql_pgq *q, const char *text, size_t len, unsigned ops)
{
    memset(q, 0, sizeof *q);
    q->text = text;
    q->len = len;
    q->ops = ops;
    return sql__depth_estimate(text, len, &q->est);
}
