/* Helpers shared by the advisor's files: notes, quoting, catalog look-ups. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
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

adv_table *alchdb__adv_find_table(alchdb_advisor_report *r, const char *schema, const char *name,
                                  char *const *path, size_t npath)
{
    if (schema) {
        for (size_t i = 0; i < r->ntables; i++)
            if (!strcmp(r->tables[i].name, name) && !strcmp(r->tables[i].schema, schema))
                return &r->tables[i];
        return NULL;
    }
    for (size_t p = 0; p < npath; p++)
        for (size_t i = 0; i < r->ntables; i++)
            if (!strcmp(r->tables[i].name, name) && !strcmp(r->tables[i].schema, path[p]))
                return &r->tables[i];
    return NULL;
}

const adv_relname *alchdb__adv_find_rel(const alchdb_advisor_report *r, const char *schema, const char *name,
                                        char *const *path, size_t npath)
{
    for (size_t p = 0; p < (schema ? 1 : npath); p++)
        for (size_t i = 0; i < r->nrelnames; i++)
            if (!strcmp(r->relnames[i].name, name) && !strcmp(r->relnames[i].schema, schema ? schema : path[p]))
                return &r->relnames[i];
    return NULL;
}

static bool name_taken(const alchdb_advisor_report *r, const char *schema, const char *name)
{
    for (size_t i = 0; i < r->nrelnames; i++)
        if (!strcmp(r->relnames[i].name, name) && !strcmp(r->relnames[i].schema, schema))
            return true;
    for (size_t i = 0; i < r->nreserved; i++)
        if (!strcmp(r->reserved[i].name, name) && !strcmp(r->reserved[i].schema, schema))
            return true;
    return false;
}

/* Every name handed out is reserved, so that the indexes of one suggestion
 * (a partitioned table's) and of all others never share one. */
static char *reserve(alchdb_advisor_report *r, const char *schema, char *name)
{
    adv_relname rn = {.schema = alchdb__strdup(schema), .name = name, .kind = 'i'};
    if (!rn.schema || !alchdb__adv_push((void **)&r->reserved, &r->nreserved, &r->capreserved, sizeof rn)) {
        alchdb__free(rn.schema);
        alchdb__free(name);
        return NULL;
    }
    r->reserved[r->nreserved++] = rn;
    return alchdb__strdup(name);
}

char *alchdb__adv_index_name(alchdb_advisor_report *r, const char *schema, const char *stem, const char *suffix)
{
    for (int n = 1; n < 10000; n++) {
        char num[16] = "";
        if (n > 1)
            snprintf(num, sizeof num, "_%d", n);
        size_t room = 63 - strlen(suffix) - strlen(num), cut = strlen(stem);
        if (cut > room) {
            cut = room;
            while (cut > 0 && ((unsigned char)stem[cut] & 0xC0) == 0x80)
                cut--;
        }
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        alchdb__sb_append(&sb, stem, cut);
        alchdb__sb_puts(&sb, suffix);
        alchdb__sb_puts(&sb, num);
        char *name = alchdb__sb_finish(&sb);
        if (!name)
            return NULL;
        if (!name_taken(r, schema, name))
            return reserve(r, schema, name);
        alchdb__free(name);
    }
    return NULL;
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

/* Append s so that it stays on one line whatever its bytes: C0 controls,
 * DEL, NEL and the Unicode line/paragraph separators become escapes (\n, \r,
 * \t, \xHH, \u2028), and a backslash is doubled so an escape is never
 * ambiguous. Everything else (well-formed or not) passes unchanged. */
static void one_line(alchdb__strbuf *sb, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = p[i];
        char esc[8];
        size_t skip = 1;
        if (ch == '\\')
            strcpy(esc, "\\\\");
        else if (ch == '\n')
            strcpy(esc, "\\n");
        else if (ch == '\r')
            strcpy(esc, "\\r");
        else if (ch == '\t')
            strcpy(esc, "\\t");
        else if (ch < 0x20 || ch == 0x7f)
            snprintf(esc, sizeof esc, "\\x%02x", ch);
        else if (ch == 0xc2 && i + 1 < n && p[i + 1] == 0x85) {
            strcpy(esc, "\\u0085");
            skip = 2;
        } else if (ch == 0xe2 && i + 2 < n && p[i + 1] == 0x80 && (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
            strcpy(esc, p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029");
            skip = 3;
        } else
            continue;
        alchdb__sb_append(sb, s + start, i - start);
        alchdb__sb_puts(sb, esc);
        i += skip - 1;
        start = i + 1;
    }
    alchdb__sb_append(sb, s + start, n - start);
}

void alchdb__adv_line(alchdb__strbuf *sb, const char *prefix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *buf = n >= 0 ? alchdb__malloc((size_t)n + 1) : NULL;
    if (!buf) {
        sb->failed = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(buf, (size_t)n + 1, fmt, ap);
    va_end(ap);
    alchdb__sb_puts(sb, prefix);
    one_line(sb, buf, (size_t)n);
    alchdb__sb_puts(sb, "\n");
    alchdb__free(buf);
}

int alchdb__adv_load_path(PGconn *conn, char ***path, size_t *n)
{
    *path = NULL;
    *n = 0;
    PGresult *res = PQexecParams(conn,
                                 "SELECT s FROM unnest(current_schemas(false)) WITH ORDINALITY AS p(s, i) ORDER BY i",
                                 0, NULL, NULL, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK) {
        int rows = PQntuples(res);
        *path = alchdb__calloc((size_t)rows + 1, sizeof(char *));
        for (int i = 0; *path && i < rows; i++)
            if (((*path)[*n] = alchdb__strdup(PQgetvalue(res, i, 0))))
                (*n)++;
        if (!*path || *n < (size_t)rows)
            rc = alchdb__nomem("advisor search path");
    }
    PQclear(res);
    return rc;
}
