/* Read-only-ness, flags and the not-cacheable reason of a statement, from what
 * the walk found. When unsure the answer is "not read-only". */
#include "sql_priv.h"

void sql__classify(const sql_walk_result *r, uint32_t *flags, const char **reason)
{
    bool wrote = r->tables[ALCHDB_SQL_TABLES_WRITTEN].n > 0 || r->writable_cte || r->select_into;
    bool clean = !wrote && !r->side_effects && !r->locking && !r->incomplete;
    bool ro = false;
    if (r->kind == ALCHDB_SQL_SELECT)
        ro = clean;
    else if (r->kind == ALCHDB_SQL_UTILITY)
        ro = r->read_only_hint && clean;

    uint32_t f = 0;
    if (ro)
        f |= ALCHDB_SQL_READ_ONLY;
    if (r->locking)
        f |= ALCHDB_SQL_LOCKING;
    if (r->volatile_fn)
        f |= ALCHDB_SQL_VOLATILE;
    if (r->side_effects)
        f |= ALCHDB_SQL_SIDE_EFFECTS;
    if (r->writable_cte)
        f |= ALCHDB_SQL_WRITABLE_CTE;
    if (r->kind == ALCHDB_SQL_TRANSACTION)
        f |= ALCHDB_SQL_TXN_CONTROL;
    if (r->select_into)
        f |= ALCHDB_SQL_SELECT_INTO;
    if (r->temp_table)
        f |= ALCHDB_SQL_TEMP_TABLE;

    const char *why = NULL;
    if (r->select_into)
        why = "select_into";
    else if (r->kind != ALCHDB_SQL_SELECT)
        why = "not_select";
    else if (r->incomplete)
        why = "too_complex";
    else if (wrote)
        why = "writes";
    else if (r->side_effects)
        why = "side_effects";
    else if (r->locking)
        why = "locking_clause";
    else if (r->volatile_fn)
        why = "volatile_function";
    else if (r->temp_table)
        why = "temp_table";
    if (!why)
        f |= ALCHDB_SQL_CACHEABLE;
    *flags = f;
    *reason = why;
}
