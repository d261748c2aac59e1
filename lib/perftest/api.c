/* The public entry points of the perftest: argument checks, then the run,
 * the setup and the cleanup. */
#include <stddef.h>
#include <string.h>

#include "pt.h"

/* The caller's target copied into the layout this library knows (a shorter
 * struct from an older header leaves the newer members absent). */
static int take_target(const alchdb_perftest_target *in, alchdb_perftest_target *t, const char *func)
{
    if (!in)
        return alchdb__invalid_arg(func, "target", "must not be NULL");
    if (in->size < offsetof(alchdb_perftest_target, client) + sizeof in->client)
        return alchdb__invalid_arg(func, "target", "size must be sizeof(alchdb_perftest_target)");
    memset(t, 0, sizeof *t);
    memcpy(t, in, in->size < sizeof *t ? in->size : sizeof *t);
    t->size = sizeof *t;
    if (!t->client)
        return alchdb__invalid_arg(func, "target->client", "must not be NULL");
    return 0;
}

/* cfg or the defaults. */
static int take_opts(const alchdb_perftest_config *cfg, alchdb__opts *o)
{
    if (cfg)
        return alchdb__opts_copy(o, &cfg->opts);
    return alchdb__opts_init(o, &alchdb__perftest_spec);
}

/* The data step fn (setup or cleanup) on the caller's target with cfg. */
static int data_step(const alchdb_perftest_target *target, const alchdb_perftest_config *cfg,
                     int (*fn)(const alchdb_perftest_target *, const pt_data *), const char *func)
{
    alchdb_perftest_target t;
    int rc = take_target(target, &t, func);
    if (rc != 0)
        return rc;
    alchdb__opts o;
    if (take_opts(cfg, &o) != 0)
        return alchdb__nomem("perftest options");
    pt_data d;
    alchdb__pt_data_init(&d, &o);
    rc = fn(&t, &d);
    alchdb__opts_free(&o);
    return rc;
}

ALCHDB_API int alchdb_perftest_setup(const alchdb_perftest_target *target, const alchdb_perftest_config *cfg)
{
    return data_step(target, cfg, alchdb__pt_setup, __func__);
}

ALCHDB_API int alchdb_perftest_cleanup(const alchdb_perftest_target *target, const alchdb_perftest_config *cfg)
{
    return data_step(target, cfg, alchdb__pt_cleanup, __func__);
}

ALCHDB_API int alchdb_perftest_run(const alchdb_perftest_target *target, const alchdb_perftest_config *cfg,
                                   alchdb_cancel *cancel, alchdb_perftest_progress_fn fn, void *user_data,
                                   alchdb_perftest_report **out)
{
    ALCHDB_CHECK_ARG(out, "out", "must not be NULL");
    *out = NULL;
    alchdb_perftest_target t;
    int rc = take_target(target, &t, __func__);
    if (rc != 0)
        return rc;
    alchdb__opts o;
    if (take_opts(cfg, &o) != 0)
        return alchdb__nomem("perftest options");
    rc = alchdb__pt_run_all(&t, &o, cancel, fn, user_data, out);
    alchdb__opts_free(&o);
    return rc;
}
