/* The allocation-failure sweep shared by the OOM suites: a typical sequence of
 * a module is run again and again with the k-th allocation of the library
 * failing (k = 1, 2, ...) until the sequence no longer reaches k. At each k:
 *   - every call returns 0, ALCHDB_E_NOMEM or a code the case allows, and a
 *     failure leaves a message in the thread's error;
 *   - nothing crashes (ASan, valgrind);
 *   - the objects that exist are still usable: the case's check runs them
 *     without injected failures and must succeed;
 *   - after the teardown no allocation of the library is left (the SQL
 *     analysis cache is flushed first: it keeps what it parsed).
 * Threads of the library (pool housekeeper, router prober) allocate too; the
 * counter is shared, so a failure can land there instead, which must be
 * harmless as well. */
#ifndef ALCHDB_OOM_H
#define ALCHDB_OOM_H

#include <stdio.h>
#include <string.h>

#include <alchdb/alchdb.h>

#include "failalloc.h"
#include "internal.h"
#include "testutil.h"

/* Within a run: the call's code must be 0, ALCHDB_E_NOMEM or one of the
 * case's extra codes; on failure the message must say something. Returns rc
 * so that a run can stop at the first failure. */
#define OOM_CALL(st, expr)                                                                         \
    oom_note((st), #expr, (expr))

typedef struct oom_state oom_state;

typedef struct oom_case {
    const char *name;
    size_t state_size;                 /* the case's own state, zeroed before each run */
    int (*run)(oom_state *st);         /* the sequence, under injected failures */
    void (*check)(oom_state *st);      /* afterwards, no failures: what exists still works */
    void (*teardown)(oom_state *st);   /* frees everything (also half-built) */
    const int *allowed;                /* extra return codes allowed under failure, 0-terminated */
} oom_case;

struct oom_state {
    const oom_case *c;
    long k;
    int nomem_seen;
    void *data; /* the case's state */
};

static inline int oom_note(oom_state *st, const char *what, int rc)
{
    if (rc == 0)
        return 0;
    bool ok = rc == ALCHDB_E_NOMEM;
    for (const int *a = st->c->allowed; a && *a && !ok; a++)
        ok = rc == *a;
    ck_assert_msg(ok, "%s, allocation %ld failing: %s returned %d (%s)", st->c->name, st->k, what, rc,
                  alchdb_last_error_message());
    ck_assert_msg(alchdb_last_error_message()[0], "%s, allocation %ld failing: %s failed (%d) without a message",
                  st->c->name, st->k, what, rc);
    if (rc == ALCHDB_E_NOMEM)
        st->nomem_seen++;
    return rc;
}

/* The sweep; returns the number of allocation points failed in turn. */
static inline long oom_sweep(const oom_case *c, long max_k)
{
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    oom_state st = {.c = c};
    st.data = calloc(1, c->state_size ? c->state_size : 1);
    ck_assert_ptr_nonnull(st.data);
    long k, nomem_runs = 0;
    for (k = 1; k <= max_k; k++) {
        memset(st.data, 0, c->state_size ? c->state_size : 1);
        st.k = k;
        st.nomem_seen = 0;
        alchdb_clear_error();
        failalloc_arm(k);
        c->run(&st);
        long reached = atomic_load(&failalloc_calls);
        failalloc_arm(-1);
        if (st.nomem_seen)
            nomem_runs++;
        if (c->check)
            c->check(&st);
        c->teardown(&st);
        alchdb_sql_cache_clear();
        long live = alchdb__alloc_outstanding();
        ck_assert_msg(live == 0, "%s, allocation %ld failing: %ld allocation(s) leaked", c->name, k, live);
        if (reached < k)
            break; /* the sequence no longer reaches allocation k: every point was failed */
    }
    free(st.data);
    ck_assert_msg(k <= max_k, "%s: still allocating after %ld failure points: raise the bound", c->name, max_k);
    ck_assert_msg(nomem_runs > 0, "%s: no call ever reported ALCHDB_E_NOMEM", c->name);
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
    fprintf(stderr, "oom %s: %ld allocation points failed in turn, %ld runs reported ALCHDB_E_NOMEM\n", c->name,
            k - 1, nomem_runs);
    return k - 1;
}

#endif
