/* Helpers shared by the advisor's files: notes, quoting, catalog look-ups. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "adv.h"
#include "pqconn.h"

bool alchdb__adv_push(void **arr, size_t *n, size_t *cap, size_t elem)
{
    if (*n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 8;
    void *p = alchdb__realloc(*arr, nc * elem);
    if (!p)
        return false;
    memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
    *arr = p;
    *cap = nc;
    return true;
}

bool alchdb__adv_note(alchdb_advisor_report *r, const char *fmt, ...)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    va_list ap;
    va_start(ap, fmt);
    char tmp[1024];
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    alchdb__sb_puts(&sb, tmp);
    char *s = alchdb__sb_finish(&sb);
    if (!s)
        return false;
    char **p = alchdb__realloc(r->notes, (r->nnotes + 1) * sizeof *p);
    if (!p) {
        alchdb__free(s);
        return false;
    }
    r->notes = p;
    r->notes[r->nnotes++] = s;
    alchdb__log(ALCHDB_LOG_INFO, ADV_MOD, "%s", s);
    return true;
}

static bool is_keyword(const alchdb_advisor_report *r, const char *id)
{
    for (size_t i = 0; i < r->nkeywords; i++)
        if (!strcmp(r->keywords[i], id))
            return true;
    return false;
}

char *alchdb__adv_ident(adv_ctx *c, const char *id)
{
    bool plain = (*id >= 'a' && *id <= 'z') || *id == '_';
    for (const char *p = id; *p && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_';
    if (plain && !is_keyword(c->r, id))
        return alchdb__strdup(id);
    if (c->conn) {
        char *q = PQescapeIdentifier(c->conn, id, strlen(id));
        if (q) {
            char *copy = alchdb__strdup(q);
            PQfreemem(q);
            return copy;
        }
    }
    /* PQescapeIdentifier's rule: wrap in double quotes, double the quotes. */
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "\"");
    for (const char *p = id; *p; p++)
        alchdb__sb_append(&sb, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1);
    alchdb__sb_puts(&sb, "\"");
    return alchdb__sb_finish(&sb);
}

char *alchdb__adv_qualified(adv_ctx *c, const char *schema, const char *name)
{
    char *qs = alchdb__adv_ident(c, schema), *qn = alchdb__adv_ident(c, name);
    char *out = NULL;
    if (qs && qn) {
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        alchdb__sb_printf(&sb, "%s.%s", qs, qn);
        out = alchdb__sb_finish(&sb);
    }
    alchdb__free(qs);
    alchdb__free(qn);
    return out;
}

char *alchdb__adv_literal(adv_ctx *c, const char *s)
{
    char *q = c->conn ? PQescapeLiteral(c->conn, s, strlen(s)) : NULL;
    if (!q)
        return NULL;
    char *copy = alchdb__strdup(q);
    PQfreemem(q);
    return copy;
}

PGresult *alchdb__adv_query(adv_ctx *c, const char *what, const char *sql, int nparams,
                            const char *const *params)
{
    PGresult *res = PQexecParams(c->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    char buf[512];
    alchdb__pq_result_message(buf, sizeof buf, c->conn, res, false);
    alchdb__adv_note(c->r, "could not read %s: %s", what, buf);
    PQclear(res);
    return NULL;
}

adv_table *alchdb__adv_find_table(alchdb_advisor_report *r, const char *schema, const char *name)
{
    adv_table *found = NULL;
    for (size_t i = 0; i < r->ntables; i++) {
        adv_table *t = &r->tables[i];
        if (strcmp(t->name, name))
            continue;
        if (schema ? !strcmp(t->schema, schema) : !strcmp(t->schema, "public"))
            return t;
        if (!schema && !found)
            found = t; /* not in public: the only other candidate on the search path */
    }
    return found;
}

adv_table *alchdb__adv_table_by_oid(alchdb_advisor_report *r, uint32_t oid)
{
    size_t lo = 0, hi = r->ntables; /* tables are sorted by oid */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->tables[mid].oid == oid)
            return &r->tables[mid];
        if (r->tables[mid].oid < oid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int alchdb__adv_attnum(const adv_table *t, const char *col)
{
    for (int i = 1; i <= t->ncols; i++)
        if (t->cols[i] && !strcmp(t->cols[i], col))
            return i;
    return 0;
}
