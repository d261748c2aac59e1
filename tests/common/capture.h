/* What the library and the CLI let out, gathered for the suites that grep it:
 * a growable text, a log handler at DEBUG (any thread), and a CLI runner that
 * captures standard output and standard error. */
#ifndef ALCHDB_TEST_CAPTURE_H
#define ALCHDB_TEST_CAPTURE_H

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <alchdb/alchdb.h>

#include "testutil.h"

typedef struct capture {
    pthread_mutex_t mu;
    char *buf;
    size_t len, cap;
} capture;

static capture cap_all __attribute__((unused)) = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0};

static inline void cap_put(capture *c, const char *s)
{
    if (!s)
        return;
    size_t n = strlen(s);
    pthread_mutex_lock(&c->mu);
    if (c->len + n + 2 > c->cap) {
        size_t nc = c->cap ? c->cap : 4096;
        while (c->len + n + 2 > nc)
            nc *= 2;
        char *b = realloc(c->buf, nc);
        if (!b) {
            pthread_mutex_unlock(&c->mu);
            ck_abort_msg("capture: out of memory");
        }
        c->buf = b;
        c->cap = nc;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len++] = '\n';
    c->buf[c->len] = '\0';
    pthread_mutex_unlock(&c->mu);
}

static inline void cap_printf(capture *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void cap_printf(capture *c, const char *fmt, ...)
{
    char b[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    cap_put(c, b);
}

static inline void cap_reset(capture *c)
{
    pthread_mutex_lock(&c->mu);
    c->len = 0;
    if (c->buf)
        c->buf[0] = '\0';
    pthread_mutex_unlock(&c->mu);
}

/* A copy of what was captured (free()). */
static inline char *cap_text(capture *c)
{
    pthread_mutex_lock(&c->mu);
    char *s = strdup(c->buf ? c->buf : "");
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* The log sink at DEBUG, every message tagged with its level and module. */
static inline void cap_log(void *ud, int level, const char *module, const char *message)
{
    cap_printf(ud, "log %s %s: %s", alchdb_log_level_name(level), module, message);
}

/* The thread's last error, after a call that returned rc. */
static inline void cap_error(capture *c, const char *call, int rc)
{
    cap_printf(c, "%s -> %d: %s", call, rc, alchdb_last_error_message());
}

/* ---- running the CLI ------------------------------------------------------ */

typedef struct cli_result {
    int status;
    char *out, *err;
} cli_result;

static inline char *cap_read_fd(int fd)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    lseek(fd, 0, SEEK_SET);
    ssize_t got;
    while ((got = read(fd, buf + n, cap - n - 1)) > 0) {
        n += (size_t)got;
        if (cap - n - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    buf[n] = '\0';
    return buf;
}

static inline int cap_temp_fd(void)
{
    char path[] = "/tmp/alchdb-capture-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    unlink(path);
    return fd;
}

/* Run `cli args...` (NULL-terminated, at most 30) with input as its stdin
 * (NULL: /dev/null); its exit status and everything it wrote. */
static inline cli_result cli_run_input(const char *cli, const char *input, const char *const *args)
{
    int in = input ? cap_temp_fd() : open("/dev/null", O_RDONLY), out = cap_temp_fd(), err = cap_temp_fd();
    ck_assert_int_ge(in, 0);
    if (input) {
        ck_assert_int_eq(write(in, input, strlen(input)), (ssize_t)strlen(input));
        lseek(in, 0, SEEK_SET);
    }
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)cli;
    for (size_t i = 0; args[i] && argc < 31; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(in, 0);
        dup2(out, 1);
        dup2(err, 2);
        execv(cli, argv);
        _exit(127);
    }
    int st = 0;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    cli_result r = {WIFEXITED(st) ? WEXITSTATUS(st) : -1, cap_read_fd(out), cap_read_fd(err)};
    close(in);
    close(out);
    close(err);
    return r;
}

/* The same with /dev/null as input. */
static inline cli_result cli_run(const char *cli, const char *const *args)
{
    return cli_run_input(cli, NULL, args);
}

static inline void cli_done(cli_result *r)
{
    free(r->out);
    free(r->err);
}

#endif
