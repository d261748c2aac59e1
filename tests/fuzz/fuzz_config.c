/* Configuration from text, for every module: lines "name=value" (split at the
 * first '=') through each module's set_from_string, and through
 * alchdb_pool_config_from_env() as environment variables; durations through
 * alchdb_parse_duration(). The first byte picks the modules. Then each
 * configuration that was accepted must build its object (memory cache, pool,
 * router without starting it, monitor, migration) and free it cleanly.
 * Properties: only known return codes, a message naming the problem on every
 * failure, and no accepted value that the constructors then refuse or crash
 * on. */
#include "fuzz.h"


#define NAME_MAX_LEN 64

/* The variable alchdb_pool_config_from_env(cfg, "FZ") reads for an option:
 * FZ_ and the name in upper case. False when the name cannot be one. */
static bool env_name(const char *name, char *var, size_t cap)
{
    int n = snprintf(var, cap, "FZ_%s", name);
    if (n < 0 || (size_t)n >= cap || strchr(name, '=') || !*name)
        return false;
    for (char *p = var; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    unsigned pick = data[0];
    alchdb_pool_config *pc = NULL;
    alchdb_router_config *rc_ = NULL;
    alchdb_monitor_config *mc = NULL;
    alchdb_cache_config *cc = NULL;
    alchdb_advisor_config *ao = NULL;
    alchdb_migration_config *mo = NULL;
    if (alchdb_pool_config_new(&pc) || alchdb_router_config_new(&rc_) || alchdb_monitor_config_new(&mc) ||
        alchdb_cache_config_new(&cc) || alchdb_advisor_config_new(&ao) || alchdb_migration_config_new(&mo))
        abort();
    char *lines[32];
    size_t n = fuzz_split(data + 1, size - 1, '\n', lines, 32);
    char *env_names[32];
    size_t nenv = 0;
    for (size_t i = 0; i < n; i++) {
        char *eq = strchr(lines[i], '=');
        if (!eq)
            continue;
        *eq = '\0';
        const char *name = lines[i], *value = eq + 1;
        int rc;
        if (pick & 1) {
            rc = alchdb_pool_config_set_from_string(pc, name, value);
            fuzz_check_rc("alchdb_pool_config_set_from_string", rc);
        }
        if (pick & 2) {
            rc = alchdb_router_config_set_from_string(rc_, name, value);
            fuzz_check_rc("alchdb_router_config_set_from_string", rc);
        }
        if (pick & 4) {
            rc = alchdb_monitor_config_set_from_string(mc, name, value);
            fuzz_check_rc("alchdb_monitor_config_set_from_string", rc);
        }
        if (pick & 8) {
            rc = alchdb_cache_config_set_from_string(cc, name, value);
            fuzz_check_rc("alchdb_cache_config_set_from_string", rc);
        }
        if (pick & 16) {
            rc = alchdb_advisor_config_set_from_string(ao, name, value);
            fuzz_check_rc("alchdb_advisor_config_set_from_string", rc);
            rc = alchdb_migration_config_set_from_string(mo, name, value);
            fuzz_check_rc("alchdb_migration_config_set_from_string", rc);
        }
        char var[NAME_MAX_LEN + 16];
        if (pick & 32 && nenv < 32 && strlen(name) <= NAME_MAX_LEN && env_name(name, var, sizeof var)) {
            setenv(var, value, 1);
            env_names[nenv++] = lines[i];
        }
        int64_t us = 0;
        rc = alchdb_parse_duration(value, &us);
        fuzz_check_rc("alchdb_parse_duration", rc);
        FUZZ_CHECK(rc != 0 || us >= 0, "duration '%s' parsed as %lld", value, (long long)us);
    }
    if (nenv) {
        int rc = alchdb_pool_config_from_env(pc, "FZ");
        fuzz_check_rc("alchdb_pool_config_from_env", rc);
        for (size_t i = 0; i < nenv; i++) {
            char var[NAME_MAX_LEN + 16];
            if (env_name(env_names[i], var, sizeof var))
                unsetenv(var);
        }
    }
    free(lines[0]);

    /* What was accepted builds (no connection is made). */
    int rc;
    if (pick & 64) {
        alchdb_monitor *mon = NULL;
        rc = alchdb_monitor_new(mc, &mon);
        fuzz_check_rc("alchdb_monitor_new", rc);
        FUZZ_CHECK(rc == 0 || rc == ALCHDB_E_NOMEM, "an accepted monitor configuration was refused: %s",
                   alchdb_last_error_message());
        alchdb_monitor_free(mon);
        /* the cache without Redis: the backend is forced to memory */
        alchdb_cache_config_set_string(cc, ALCHDB_CACHE_OPT_BACKEND, "memory");
        alchdb_cache *cache = NULL;
        rc = alchdb_cache_new(cc, &cache);
        fuzz_check_rc("alchdb_cache_new", rc);
        alchdb_cache_free(cache);
        alchdb_migration_config_set_string(mo, ALCHDB_MIGRATION_OPT_CONNINFO, NULL);
        alchdb_migration *m = NULL;
        rc = alchdb_migration_new(mo, &m);
        fuzz_check_rc("alchdb_migration_new", rc);
        alchdb_migration_free(m);
    }
    if (pick & 128) {
        /* threads are started: only for some inputs, to keep the rate up */
        alchdb_pool *pool = NULL;
        rc = alchdb_pool_new("host=127.0.0.1 port=1", pc, &pool);
        fuzz_check_rc("alchdb_pool_new", rc);
        alchdb_pool_free(pool);
        alchdb_router *r = NULL;
        rc = alchdb_router_new("host=127.0.0.1 port=1", pc, rc_, &r);
        fuzz_check_rc("alchdb_router_new", rc);
        alchdb_router_free(r);
    }
    alchdb_pool_config_free(pc);
    alchdb_router_config_free(rc_);
    alchdb_monitor_config_free(mc);
    alchdb_cache_config_free(cc);
    alchdb_advisor_config_free(ao);
    alchdb_migration_config_free(mo);
    return 0;
}
