/* Which functions make a statement volatile (not cacheable) and which have side
 * effects (not read-only). User-defined functions are assumed non-volatile. */
#include <string.h>
#include <strings.h>

#include "sql_priv.h"

/* Side effects: they change data, session or server state, or depend on the
 * session they run in (currval/lastval need the session that called nextval,
 * so they must run on the primary too). */
static const char *const side_exact[] = {
    "nextval", "setval", "currval", "lastval", "setseed", "set_config",
    "txid_current", "pg_current_xact_id", "pg_notify", "pg_terminate_backend",
    "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_switch_wal",
    "pg_create_restore_point", "pg_drop_replication_slot", "pg_logical_emit_message",
    "pg_promote", "pg_backup_start", "pg_backup_stop", "pg_start_backup", "pg_stop_backup",
    "pg_import_system_collations", "pg_file_write", "pg_file_rename", "pg_file_unlink",
    "pg_file_sync", "pg_log_backend_memory_contexts", "pg_wal_replay_pause",
    "pg_wal_replay_resume", "pg_replication_slot_advance", "pg_copy_physical_replication_slot",
    "pg_copy_logical_replication_slot", "pg_export_snapshot",
};
static const char *const side_prefix[] = {
    "pg_advisory_", "pg_try_advisory_", "lo_", "dblink", "pg_stat_reset",
    "pg_create_physical_replication_slot", "pg_create_logical_replication_slot",
    "pg_replication_origin_", "pg_logical_slot_get_", "pg_logical_slot_peek_",
};
/* Volatile without side effects: random, time-dependent or session-setting
 * dependent results. */
static const char *const vol_exact[] = {
    "random", "random_normal", "clock_timestamp", "statement_timestamp", "timeofday", "now",
    "transaction_timestamp", "current_timestamp", "localtimestamp", "current_time", "current_date",
    "localtime", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4",
    "txid_current_if_assigned", "pg_current_xact_id_if_assigned", "txid_current_snapshot",
    "pg_current_snapshot", "current_setting", "gen_random_bytes", "gen_salt", "crypt",
    "pg_backend_pid", "inet_client_addr", "inet_client_port", "pg_stat_get_activity",
};
static const char *const vol_prefix[] = {
    "pg_sleep",
};

static const char *unqualified(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

static bool match(const char *name, const char *const *exact, size_t ne, const char *const *prefix, size_t np)
{
    if (!name)
        return false;
    name = unqualified(name);
    for (size_t i = 0; i < ne; i++)
        if (!strcasecmp(name, exact[i]))
            return true;
    for (size_t i = 0; i < np; i++)
        if (!strncasecmp(name, prefix[i], strlen(prefix[i])))
            return true;
    return false;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

bool alchdb__sql_func_has_side_effects(const char *name)
{
    return match(name, side_exact, N(side_exact), side_prefix, N(side_prefix));
}

bool alchdb__sql_func_is_volatile(const char *name)
{
    return alchdb__sql_func_has_side_effects(name) ||
           match(name, vol_exact, N(vol_exact), vol_prefix, N(vol_prefix));
}
