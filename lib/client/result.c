/* alchdb_result: a wrapper that keeps libpq's PGresult (values are read in
 * place, never copied). */
#include <stdlib.h>
#include <string.h>

#include "alchdb/pq.h"
#include "client/client_internal.h"
#include "pqconn.h"

static void set_state(alchdb_result *r, const char *st)
{
    memcpy(r->sqlstate, st, 5);
    r->sqlstate[5] = '\0';
}

alchdb_result *alchdb__result_wrap(PGresult *res, PGconn *pg)
{
    alchdb_result *r = alchdb__malloc(sizeof *r);
    if (!r) {
        PQclear(res);
        alchdb__nomem("result");
        return NULL;
    }
    r->res = res;
    r->message = NULL;
    r->cmd_tag[0] = '\0';
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY ||
        st == PGRES_SINGLE_TUPLE) {
        r->status = 0;
        set_state(r, "00000");
        return r;
    }
    r->status = ALCHDB_E_QUERY;
    const char *code = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (code && strlen(code) == 5)
        set_state(r, code);
    else if (!pg || PQstatus(pg) != CONNECTION_OK)
        set_state(r, "08006");
    else
        set_state(r, "XX000");
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (!msg || !*msg)
        msg = res ? PQresultErrorMessage(res) : NULL;
    if ((!msg || !*msg) && pg)
        msg = PQerrorMessage(pg);
    if (!msg || !*msg)
        msg = "query failed (no message)";
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    /* Redacted: a server message may echo a conninfo (dblink, subscriptions). */
    char *raw = alchdb__strndup(msg, n);
    const char *pw = pg ? PQpass(pg) : NULL;
    const char *secrets[1] = {pw};
    r->message = raw ? alchdb__redact(raw, secrets, pw && *pw ? 1 : 0) : NULL;
    alchdb__free(raw);
    if (!r->message) {
        alchdb_result_free(r);
        alchdb__nomem("result message");
        return NULL;
    }
    return r;
}

alchdb_result *alchdb__result_error(const char *sqlstate, const char *message)
{
    alchdb_result *r = alchdb__malloc(sizeof *r);
    if (!r)
        return NULL;
    r->res = NULL;
    r->status = ALCHDB_E_QUERY;
    set_state(r, sqlstate);
    r->message = alchdb__strdup(message);
    if (!r->message) {
        alchdb__free(r);
        return NULL;
    }
    return r;
}

ALCHDB_API void alchdb_result_free(alchdb_result *r)
{
    if (!r)
        return;
    PQclear(r->res);
    alchdb__free(r->message);
    alchdb__free(r);
}

ALCHDB_API const PGresult *alchdb_result_pgresult(const alchdb_result *r)
{
    if (!r) {
        alchdb__invalid_arg(__func__, "result", "must not be NULL");
        return NULL;
    }
    return r->res;
}

ALCHDB_API int64_t alchdb_result_nrows(const alchdb_result *r)
{
    ALCHDB_CHECK_ARG(r, "result", "must not be NULL");
    return r->res ? PQntuples(r->res) : 0;
}

ALCHDB_API int alchdb_result_ncols(const alchdb_result *r)
{
    ALCHDB_CHECK_ARG(r, "result", "must not be NULL");
    return r->res ? PQnfields(r->res) : 0;
}

static int check_col(const alchdb_result *r, int col, const char *func)
{
    if (!r)
        return alchdb__invalid_arg(func, "result", "must not be NULL");
    int n = r->res ? PQnfields(r->res) : 0;
    if (col < 0 || col >= n)
        return alchdb__error(ALCHDB_E_RANGE, "%s: column %d out of range (0..%d)", func, col, n - 1);
    return 0;
}

static int check_cell(const alchdb_result *r, int64_t row, int col, const char *func)
{
    int rc = check_col(r, col, func);
    if (rc)
        return rc;
    int64_t n = PQntuples(r->res);
    if (row < 0 || row >= n)
        return alchdb__error(ALCHDB_E_RANGE, "%s: row %lld out of range (0..%lld)", func,
                             (long long)row, (long long)(n - 1));
    return 0;
}

ALCHDB_API const char *alchdb_result_column_name(const alchdb_result *r, int col)
{
    if (check_col(r, col, __func__))
        return NULL;
    return PQfname(r->res, col);
}

ALCHDB_API uint32_t alchdb_result_column_type(const alchdb_result *r, int col)
{
    if (check_col(r, col, __func__))
        return 0;
    return (uint32_t)PQftype(r->res, col);
}

ALCHDB_API int alchdb_result_column_format(const alchdb_result *r, int col)
{
    int rc = check_col(r, col, __func__);
    if (rc)
        return rc;
    return PQfformat(r->res, col);
}

ALCHDB_API const char *alchdb_result_value(const alchdb_result *r, int64_t row, int col)
{
    if (check_cell(r, row, col, __func__))
        return NULL;
    if (PQgetisnull(r->res, (int)row, col))
        return NULL;
    return PQgetvalue(r->res, (int)row, col);
}

ALCHDB_API int64_t alchdb_result_length(const alchdb_result *r, int64_t row, int col)
{
    int rc = check_cell(r, row, col, __func__);
    if (rc)
        return rc;
    return PQgetisnull(r->res, (int)row, col) ? 0 : PQgetlength(r->res, (int)row, col);
}

ALCHDB_API int alchdb_result_is_null(const alchdb_result *r, int64_t row, int col)
{
    int rc = check_cell(r, row, col, __func__);
    if (rc)
        return rc;
    return PQgetisnull(r->res, (int)row, col) ? 1 : 0;
}

ALCHDB_API int64_t alchdb_result_affected_rows(const alchdb_result *r)
{
    ALCHDB_CHECK_ARG(r, "result", "must not be NULL");
    if (!r->res || r->status)
        return 0;
    if (r->cmd_tag[0]) /* a result built by the cache: "SELECT <n>" */
        return PQntuples(r->res);
    const char *t = PQcmdTuples(r->res);
    return (t && *t) ? strtoll(t, NULL, 10) : 0;
}

ALCHDB_API const char *alchdb_result_command_tag(const alchdb_result *r)
{
    if (!r || !r->res || r->status)
        return "";
    return r->cmd_tag[0] ? r->cmd_tag : PQcmdStatus(r->res);
}

ALCHDB_API int alchdb_result_status(const alchdb_result *r)
{
    ALCHDB_CHECK_ARG(r, "result", "must not be NULL");
    return r->status;
}

ALCHDB_API const char *alchdb_result_sqlstate(const alchdb_result *r)
{
    return r ? r->sqlstate : "";
}

ALCHDB_API const char *alchdb_result_error_message(const alchdb_result *r)
{
    return (r && r->message) ? r->message : "";
}
