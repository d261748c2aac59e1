/* The waiter hand-off of the pool: a 32-bit word per waiter and Linux futexes,
 * so a release can hand a connection over under the pool lock and wake the
 * waiter after unlocking (the woken thread never blocks on the pool lock, as
 * it would after a condition-variable signal made under the lock). Never
 * exported. */
#ifndef ALCHDB_FUTEX_H
#define ALCHDB_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Wake one thread sleeping on addr. The kernel only hashes the address: it
 * is safe to call when the waiter has already gone (its next sleep on a word
 * at the same address may then wake spuriously, which every futex user
 * tolerates). */
static inline void alchdb__futex_wake(_Atomic uint32_t *addr)
{
    syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Sleep while *addr == val, at most until the absolute CLOCK_MONOTONIC
 * deadline_ns. Returns ETIMEDOUT when it passed, 0 otherwise (woken, the
 * value differed, a signal or a spurious wake-up: the caller re-checks). */
static inline int alchdb__futex_wait(_Atomic uint32_t *addr, uint32_t val, int64_t deadline_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline_ns / 1000000000), .tv_nsec = (long)(deadline_ns % 1000000000)};
    long r = syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_BITSET_PRIVATE, val, &ts, NULL,
                     FUTEX_BITSET_MATCH_ANY);
    return r == -1 && errno == ETIMEDOUT ? ETIMEDOUT : 0;
}

#endif /* ALCHDB_FUTEX_H */
