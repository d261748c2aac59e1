/* Missing indexes from the workload: parse each statement (lib/sql), take its
 * equality, range, sort and join columns and partial-index predicates per
 * table, make candidates, verify them with HypoPG plan costs (or fall back to
 * the current plan, or to the text alone), and choose a small set greedily. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adv.h"
#include "pqconn.h"
#include "sql/sql_internal.h"
#include "sql/tree.h"

#define MAX_COLS ADV_MAX_COLS
#define MAX_NOTES_PER_KIND 10

typedef struct wq {
    const char *sql;
    int64_t calls;
    double total_ms;
    const char *source;
    uint32_t userid;
    int user;      /* index into wctx.users: the role that ran it; -1: given to the advisor */
    int nparams;
    bool usable;   /* planned (EXPLAIN worked) */
    bool parsed;   /* parsed, known tables: heuristics possible */
    double before, now;
    adv_table *seq[32]; /* tables the current plan scans sequentially with a filter ... */
    double seq_rows[32]; /* ... and the rows the planner expects the filter to keep */
    int nseq;
} wq;

typedef struct cand {
    adv_table *t;
    int16_t cols[MAX_COLS];
    uint8_t ord[MAX_COLS]; /* ADV_ORD_* of each column; only sort columns have any */
    uint8_t sorted;        /* bit j: column j serves the ORDER BY (its order matters) */
    int ncols;
    char *pred;
    bool primary; /* the main candidate of a (statement, table) */
    size_t *qs;
    size_t nq, capq;
    double *after;
    double gain;
    int64_t bytes;
    bool dead, accepted;
} cand;

/* A role whose statements pg_stat_statements holds: they are planned as that
 * role (SET ROLE), with the search_path its sessions get. */
typedef struct wuser {
    uint32_t oid;
    char *rolname, *path_setting;
    char **path;
    size_t npath;
    bool can_set; /* SET ROLE to it works */
    bool exists;
} wuser;

typedef struct wctx {
    adv_ctx *c;
    wuser *users;
    size_t nusers;
    wq *w;
    size_t nw;
    cand *cs;
    size_t nc, capc;
    size_t cur; /* the statement being walked */
    char *saved_path; /* the advisor session's search_path setting */
    int notes[7];
    bool nomem;
} wctx;

/* ---- candidates ------------------------------------------------------------------ */

static void add_col_unique(int16_t *cols, int *n, int16_t att)
{
    for (int i = 0; i < *n; i++)
        if (cols[i] == att)
            return;
    if (*n < MAX_COLS)
        cols[(*n)++] = att;
}

/* The order of the sort columns of a candidate, made canonical: an index
 * is read forwards or backwards, so (a, b DESC) and (a DESC, b) serve the
 * same sorts; the first sort column is always ascending, nulls last. When
 * every sort column then has the default order, the index needs none. */
static void canonical_order(uint8_t *ord, uint8_t sorted, int n)
{
    int first = -1;
    for (int j = 0; j < n && first < 0; j++)
        if (sorted & (1u << j))
            first = j;
    if (first < 0 || !ord[first])
        return;
    for (int j = 0; j < n; j++)
        if (sorted & (1u << j))
            ord[j] ^= ADV_ORD_DESC | ADV_ORD_NULLS_FIRST;
}

static cand *add_cand_ord(wctx *x, adv_table *t, const int16_t *cols, const uint8_t *ord_in, uint8_t sorted, int n,
                          const char *pred, bool primary)
{
    if (n < 1)
        return NULL;
    if (n > MAX_COLS)
        n = MAX_COLS;
    uint8_t ord[MAX_COLS] = {0};
    if (ord_in)
        memcpy(ord, ord_in, (size_t)n);
    sorted &= (uint8_t)((1u << n) - 1);
    canonical_order(ord, sorted, n);
    cand *k = NULL;
    for (size_t i = 0; i < x->nc && !k; i++) {
        cand *o = &x->cs[i];
        if (o->t == t && o->ncols == n && !memcmp(o->cols, cols, (size_t)n * sizeof *cols) &&
            !memcmp(o->ord, ord, (size_t)n) &&
            ((!o->pred && !pred) || (o->pred && pred && !strcmp(o->pred, pred))))
            k = o;
    }
    if (k) {
        k->primary |= primary;
    } else {
        if (!alchdb__adv_push((void **)&x->cs, &x->nc, &x->capc, sizeof(cand))) {
            x->nomem = true;
            return NULL;
        }
        k = &x->cs[x->nc];
        memset(k, 0, sizeof *k);
        k->t = t;
        memcpy(k->cols, cols, (size_t)n * sizeof *cols);
        memcpy(k->ord, ord, (size_t)n);
        k->sorted = sorted;
        k->ncols = n;
        if (pred && !(k->pred = alchdb__strdup(pred))) {
            x->nomem = true;
            return NULL;
        }
        k->primary = primary;
        x->nc++;
    }
    for (size_t q = 0; q < k->nq; q++)
        if (k->qs[q] == x->cur)
            return k;
    if (!alchdb__adv_push((void **)&k->qs, &k->nq, &k->capq, sizeof(size_t))) {
        x->nomem = true;
        return NULL;
    }
    k->qs[k->nq++] = x->cur;
    return k;
}

static cand *add_cand(wctx *x, adv_table *t, const int16_t *cols, int n, const char *pred, bool primary)
{
    return add_cand_ord(x, t, cols, NULL, 0, n, pred, primary);
}

/* Candidates for one table of one statement level: columns in the order
 * equality, sort, range (an index that serves the sort must put its columns
 * before the range column), then the narrower alternatives HypoPG compares
 * it with, join keys, and partial indexes. */
static void make_cands(void *ud, const adv_use *u)
{
    wctx *x = ud;
    int16_t cols[MAX_COLS];
    uint8_t ord[MAX_COLS] = {0}, sorted = 0;
    int n = 0;
    for (int i = 0; i < u->neq && n < MAX_COLS; i++)
        cols[n++] = u->eq[i];
    int with_eq = n;
    for (int i = 0; i < u->nsort && n < MAX_COLS; i++) {
        int before = n;
        add_col_unique(cols, &n, u->sort[i]); /* a column compared by = is one value: its order is moot */
        if (n > before) {
            ord[before] = u->sort_ord[i];
            sorted |= (uint8_t)(1u << before);
        }
    }
    if (u->range && n < MAX_COLS)
        add_col_unique(cols, &n, u->range);
    add_cand_ord(x, u->t, cols, ord, sorted, n, NULL, true);
    if (u->nsort && u->range && with_eq < MAX_COLS) { /* equality, range: when the sort is cheap */
        int16_t er[MAX_COLS];
        int m = 0;
        for (int i = 0; i < with_eq; i++)
            er[m++] = cols[i];
        add_col_unique(er, &m, u->range);
        add_cand(x, u->t, er, m, NULL, false);
    }
    for (int i = 0; i < u->neq; i++) /* each equality column alone: the planner may prefer it */
        add_cand(x, u->t, &u->eq[i], 1, NULL, false);
    if (u->range && u->neq)
        add_cand(x, u->t, &u->range, 1, NULL, false);
    for (int i = 0; i < u->njoin; i++)
        add_cand(x, u->t, &u->join[i], 1, NULL, u->neq == 0);
    /* Partial indexes: the constant-compared column moves into the predicate. */
    for (int p = 0; p < u->npred; p++) {
        int16_t pc[MAX_COLS];
        int m = 0;
        for (int i = 0; i < n; i++)
            if (cols[i] != u->pred[p].att)
                pc[m++] = cols[i];
        if (!m)
            pc[m++] = u->pred[p].att;
        add_cand(x, u->t, pc, m, u->pred[p].text, false); /* only HypoPG can tell whether it pays */
    }
}

/* A statement's constant is one execution's parameter, not a property of the
 * workload: a partial index on `col = constant` is considered only when at
 * least two different statements of the workload share that predicate. */
static size_t distinct_texts(const wctx *x, const cand *k)
{
    size_t n = 0;
    for (size_t i = 0; i < k->nq && n < 2; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = !strcmp(x->w[k->qs[i]].sql, x->w[k->qs[j]].sql);
        n += !seen;
    }
    return n;
}

/* "query not analysed: WHAT (DETAIL): QUERY", at most MAX_NOTES_PER_KIND per kind. */
static void note_limited(wctx *x, int kind, const char *what, const char *detail, const char *q)
{
    if (x->notes[kind]++ == MAX_NOTES_PER_KIND) {
        alchdb__adv_note(x->c->r, "(further notes of this kind left out)");
        return;
    }
    if (x->notes[kind] > MAX_NOTES_PER_KIND)
        return;
    alchdb__adv_note(x->c->r, "%s%s%s%s: %s", what, detail ? " (" : "", detail ? detail : "", detail ? ")" : "", q);
}

static char *shorten(const char *sql)
{
    size_t n = strlen(sql);
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    for (size_t i = 0; i < n && i < 160; i++)
        alchdb__sb_append(&sb, (sql[i] == '\n' || sql[i] == '\r' || sql[i] == '\t') ? " " : sql + i, 1);
    if (n > 160)
        alchdb__sb_puts(&sb, "...");
    return alchdb__sb_finish(&sb);
}

/* Parse statement i (lib/sql's tree), check that planning it cannot run
 * untrusted code, and add its candidates. */
static void parse_one(wctx *x, size_t i)
{
    wq *q = &x->w[i];
    if (q->user >= 0 && !x->users[q->user].exists)
        return; /* noted once in alchdb__adv_missing */
    alchdb__sql_tree *tree = NULL;
    int rc = alchdb__sql_tree_parse(q->sql, strlen(q->sql), &tree, NULL);
    char *shortq = shorten(q->sql);
    if (!shortq || rc == ALCHDB_E_NOMEM) {
        x->nomem = true;
        alchdb__sql_tree_free(tree);
        alchdb__free(shortq);
        return;
    }
    if (rc == ALCHDB_E_RANGE) {
        note_limited(x, 0, "query not analysed: nested too deeply to analyse", alchdb_last_error_message(), shortq);
        alchdb__free(shortq);
        return;
    }
    if (rc) {
        if (strcmp(q->source, "pg_stat_statements"))
            note_limited(x, 0, "query not analysed: it does not parse", alchdb_last_error_message(), shortq);
        alchdb__free(shortq);
        return;
    }
    const alchdb__sql_node *st = alchdb__sql_tree_count(tree) == 1 ? alchdb__sql_tree_stmt(tree, 0, NULL, NULL) : NULL;
    if (!st || !(alchdb__sql_node_is(st, "SelectStmt") || alchdb__sql_node_is(st, "UpdateStmt") ||
                 alchdb__sql_node_is(st, "DeleteStmt"))) {
        if (strcmp(q->source, "pg_stat_statements"))
            note_limited(x, 1, "query not analysed: only single SELECT, UPDATE and DELETE statements are planned", NULL,
                         shortq);
        goto done;
    }
    char *why = NULL;
    if (alchdb__adv_trust_check(x->c->r, st, &why)) {
        x->nomem = true;
        goto done;
    }
    if (why) {
        note_limited(x, 4, "query not planned: planning could run code of a role that is not trusted", why, shortq);
        alchdb__free(why);
        goto done;
    }
    x->cur = i;
    adv_walk w = {.c = x->c, .tree = tree, .use = make_cands, .ud = x};
    w.path = q->user >= 0 ? x->users[q->user].path : x->c->r->search_path;
    w.npath = q->user >= 0 ? x->users[q->user].npath : x->c->r->nsearch_path;
    rc = alchdb__adv_walk(&w, st);
    if (rc == ALCHDB_E_NOMEM || x->nomem) {
        x->nomem = true;
    } else if (rc == ALCHDB_E_RANGE || w.bad) {
        /* Unknown table (dropped, or a typo), or a part too deep to walk:
         * nothing this query suggests is trustworthy. */
        for (size_t k = 0; k < x->nc; k++)
            if (x->cs[k].nq && x->cs[k].qs[x->cs[k].nq - 1] == i)
                x->cs[k].nq--;
        if (rc == ALCHDB_E_RANGE)
            note_limited(x, 0, "query not analysed: nested too deeply to analyse", NULL, shortq);
        else
            note_limited(x, 2, "query not analysed: a table it names does not exist (dropped?)",
                         w.bad_name ? w.bad_name : "?", shortq);
    } else if (w.known == 0) {
        /* Only catalogs, functions or CTEs: nothing to index (the advisor's own
         * catalog queries show up in pg_stat_statements this way). */
        if (strcmp(q->source, "pg_stat_statements"))
            note_limited(x, 1, "query not analysed: it names no user table", NULL, shortq);
    } else {
        q->parsed = true;
        q->nparams = w.maxparam;
    }
    const adv_relname *seen[2] = {w.view_seen, w.foreign_seen};
    for (int k = 0; k < 2 && !x->nomem; k++) {
        if (!seen[k])
            continue;
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        alchdb__sql_quote_qualified(&sb, NULL, seen[k]->schema, seen[k]->name);
        char *name = alchdb__sb_finish(&sb);
        if (!name) {
            x->nomem = true;
            break;
        }
        note_limited(x, 5 + k,
                     k ? "foreign table: its indexes live on its own server, not analysed here"
                       : "view: seen through to its base table(s), which the suggestions index",
                     name, shortq);
        alchdb__free(name);
    }
    alchdb__free(w.bad_name);
done:
    alchdb__sql_tree_free(tree);
    alchdb__free(shortq);
}

/* ---- planning ------------------------------------------------------------------- */

static void plan_seq(json_t *plan, wq *q, adv_ctx *c)
{
    if (!json_is_object(plan))
        return;
    const char *nt = json_string_value(json_object_get(plan, "Node Type"));
    const char *rel = json_string_value(json_object_get(plan, "Relation Name"));
    if (nt && rel && !strcmp(nt, "Seq Scan") && json_object_get(plan, "Filter") && q->nseq < 32) {
        const char *sch = json_string_value(json_object_get(plan, "Schema"));
        adv_table *t = sch ? alchdb__adv_find_table(c->r, sch, rel, NULL, 0) : NULL;
        json_t *rows = json_object_get(plan, "Plan Rows");
        if (t) {
            q->seq_rows[q->nseq] = json_is_number(rows) ? json_number_value(rows) : -1;
            q->seq[q->nseq++] = t;
        }
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(plan, "Plans"), i, v) plan_seq(v, q, c);
}

/* Plan statement q as a generic plan; returns its total cost or -1 (and the
 * server's message in err). */
static bool exec_ok(PGconn *conn, const char *sql, int np, const char *const *p)
{
    PGresult *res = PQexecParams(conn, sql, np, NULL, p, NULL, NULL, 0);
    bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);
    return ok;
}

/* Become role u with the search_path its sessions get; false when that fails. */
static bool as_user(PGconn *conn, const wuser *u)
{
    char *qr = PQescapeIdentifier(conn, u->rolname, strlen(u->rolname));
    if (!qr)
        return false;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "SET ROLE %s", qr);
    PQfreemem(qr);
    char *sql = alchdb__sb_finish(&sb);
    bool ok = sql && exec_ok(conn, sql, 0, NULL);
    alchdb__free(sql);
    const char *p[1] = {u->path_setting};
    if (ok && !exec_ok(conn, "SELECT set_config('search_path', $1, false)", 1, p)) {
        exec_ok(conn, "RESET ROLE", 0, NULL);
        ok = false;
    }
    return ok;
}

/* Back to the advisor's own role and search_path. */
static void as_advisor(PGconn *conn, const char *saved_path)
{
    const char *p[1] = {saved_path};
    exec_ok(conn, "RESET ROLE", 0, NULL);
    exec_ok(conn, "SELECT set_config('search_path', $1, false)", 1, p);
}

static double plan_cost_as(adv_ctx *c, wq *q, bool record_seq, char *err, size_t errlen, char *sqlstate);

/* Plan q as the role that ran it (pg_stat_statements' userid), so whatever
 * the planner runs, it runs with that role's privileges, never the advisor's;
 * statements given to the advisor are planned as the advisor's role. */
static double plan_cost(wctx *x, wq *q, bool record_seq, char *err, size_t errlen, char *sqlstate)
{
    adv_ctx *c = x->c;
    const wuser *u = q->user >= 0 ? &x->users[q->user] : NULL;
    if (u && u->can_set && !as_user(c->conn, u)) {
        snprintf(err, errlen, "cannot plan as role %s", u->rolname);
        snprintf(sqlstate, 6, "42501");
        return -1;
    }
    double cost = plan_cost_as(c, q, record_seq, err, errlen, sqlstate);
    if (u && u->can_set)
        as_advisor(c->conn, x->saved_path);
    return cost;
}

static double plan_cost_as(adv_ctx *c, wq *q, bool record_seq, char *err, size_t errlen, char *sqlstate)
{
    err[0] = '\0';
    sqlstate[0] = '\0';
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "PREPARE alchdb_advisor_q AS %s", q->sql);
    char *prep = alchdb__sb_finish(&sb);
    if (!prep)
        return -1;
    /* Extended protocol: exactly one statement, never a smuggled second one. */
    PGresult *res = PQexecParams(c->conn, prep, 0, NULL, NULL, NULL, NULL, 0);
    alchdb__free(prep);
    double cost = -1;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        alchdb__pq_result_message(err, errlen, c->conn, res, true);
        const char *ss = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        snprintf(sqlstate, 6, "%s", ss ? ss : "");
        PQclear(res);
        return -1;
    }
    PQclear(res);
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "EXPLAIN (VERBOSE, FORMAT JSON) EXECUTE alchdb_advisor_q");
    for (int i = 0; i < q->nparams; i++)
        alchdb__sb_puts(&sb, i ? ", NULL" : "(NULL");
    if (q->nparams)
        alchdb__sb_puts(&sb, ")");
    char *ex = alchdb__sb_finish(&sb);
    res = ex ? PQexecParams(c->conn, ex, 0, NULL, NULL, NULL, NULL, 0) : NULL;
    alchdb__free(ex);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) >= 1) {
        json_t *j = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
        json_t *plan = json_object_get(json_array_get(j, 0), "Plan");
        json_t *tc = json_object_get(plan, "Total Cost");
        if (json_is_number(tc))
            cost = json_number_value(tc);
        if (record_seq)
            plan_seq(plan, q, c);
        json_decref(j);
    } else {
        const char *m = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : "out of memory";
        snprintf(err, errlen, "%s", m ? m : "");
    }
    PQclear(res);
    PQclear(PQexecParams(c->conn, "DEALLOCATE alchdb_advisor_q", 0, NULL, NULL, NULL, NULL, 0));
    return cost;
}

/* What a key column adds for its order (ascending, nulls last, says nothing). */
static const char *ord_text(uint8_t ord)
{
    switch (ord & (ADV_ORD_DESC | ADV_ORD_NULLS_FIRST)) {
    case ADV_ORD_DESC: return " DESC NULLS LAST";
    case ADV_ORD_NULLS_FIRST: return " NULLS FIRST";
    case ADV_ORD_DESC | ADV_ORD_NULLS_FIRST: return " DESC";
    default: return "";
    }
}

/* The key list of a candidate, each column quoted where needed. */
static char *cand_keys(adv_ctx *c, const cand *k)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    for (int i = 0; i < k->ncols; i++) {
        char *qc = alchdb__adv_ident(c, k->t->cols[k->cols[i]]);
        if (!qc)
            sb.failed = true;
        alchdb__sb_printf(&sb, "%s%s%s", i ? ", " : "", qc ? qc : "", ord_text(k->ord[i]));
        alchdb__free(qc);
    }
    return alchdb__sb_finish(&sb);
}

/* The statement HypoPG is given (unnamed; on a partitioned table its
 * hypothetical index is seen on every partition, as a real one would be). */
static char *hypo_sql(adv_ctx *c, const cand *k)
{
    char *keys = cand_keys(c, k);
    if (!keys)
        return NULL;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_printf(&sb, "CREATE INDEX ON %s (%s)", k->t->qname, keys);
    if (k->pred)
        alchdb__sb_printf(&sb, " WHERE %s", k->pred);
    alchdb__free(keys);
    return alchdb__sb_finish(&sb);
}

static const char *col_name(const cand *k, int j)
{
    return k->t->cols[k->cols[j]];
}

/* The first n columns of a and b are the same, compared by name (a
 * partition's attribute numbers may differ from its parent's). */
static bool same_names(const cand *a, const cand *b, int n)
{
    for (int j = 0; j < n; j++)
        if (!col_name(a, j) || !col_name(b, j) || strcmp(col_name(a, j), col_name(b, j)))
            return false;
    return true;
}

/* A valid btree index of k's table, or of a partitioned table it is a
 * partition of (an index there is inherited by every partition), already
 * starts with these columns. */
static bool covered_by_existing(alchdb_advisor_report *r, const cand *k)
{
    for (size_t i = 0; i < r->nindexes; i++) {
        const adv_index *x = &r->indexes[i];
        bool own = x->table == k->t;
        if ((!own && !alchdb__adv_inherits(k->t, x->table)) || !x->valid || strcmp(x->am, "btree") ||
            x->nkeys < k->ncols)
            continue;
        if (x->pred && (!k->pred || strcmp(x->pred, k->pred)))
            continue; /* a partial index covers only its own predicate (compared as text) */
        bool same = true;
        int flip = -1; /* the sort columns' order: all as the index has it, or all reversed (read backwards) */
        for (int j = 0; j < k->ncols && same; j++) {
            int16_t a = x->keys[j];
            same = a > 0 && a <= x->table->ncols && x->table->cols[a] && col_name(k, j) &&
                   !strcmp(x->table->cols[a], col_name(k, j));
            if (same && (k->sorted & (1u << j))) {
                int d = (x->option[j] ^ k->ord[j]) & (ADV_ORD_DESC | ADV_ORD_NULLS_FIRST);
                if (d != 0 && d != (ADV_ORD_DESC | ADV_ORD_NULLS_FIRST))
                    same = false;
                else if (flip < 0)
                    flip = d;
                else
                    same = flip == d;
            }
        }
        if (same)
            return true;
    }
    return false;
}

/* A candidate on a partition whose ancestor has the same candidate: the
 * ancestor's index would be inherited by the partition, so the partition's
 * statements back the ancestor's candidate and no per-partition index is
 * proposed for them. */
static void merge_into_ancestors(wctx *x)
{
    for (size_t i = 0; i < x->nc && !x->nomem; i++) {
        cand *k = &x->cs[i];
        if (k->dead || !k->t->parent)
            continue;
        for (size_t j = 0; j < x->nc && !x->nomem; j++) {
            cand *a = &x->cs[j];
            if (a->dead || a->ncols != k->ncols || !alchdb__adv_inherits(k->t, a->t) || !same_names(a, k, k->ncols) ||
                memcmp(a->ord, k->ord, (size_t)k->ncols) ||
                !!a->pred != !!k->pred || (a->pred && strcmp(a->pred, k->pred)))
                continue;
            for (size_t q = 0; q < k->nq && !x->nomem; q++) {
                bool have = false;
                for (size_t e = 0; e < a->nq && !have; e++)
                    have = a->qs[e] == k->qs[q];
                if (have)
                    continue;
                if (!alchdb__adv_push((void **)&a->qs, &a->nq, &a->capq, sizeof(size_t)))
                    x->nomem = true;
                else
                    a->qs[a->nq++] = k->qs[q];
            }
            a->primary |= k->primary;
            k->dead = true;
            break;
        }
    }
}

static int64_t hypo_create(adv_ctx *c, const cand *k, int64_t *bytes)
{
    char *sql = hypo_sql(c, k);
    if (!sql)
        return -1;
    const char *p[1] = {sql};
    PGresult *res = PQexecParams(c->conn,
                                 "SELECT indexrelid, hypopg_relation_size(indexrelid) FROM hypopg_create_index($1)",
                                 1, NULL, p, NULL, NULL, 0);
    alchdb__free(sql);
    int64_t oid = -1;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        oid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        *bytes = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    }
    PQclear(res);
    return oid;
}

static void hypo_drop(adv_ctx *c, int64_t oid)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)oid);
    const char *p[1] = {buf};
    PQclear(PQexecParams(c->conn, "SELECT hypopg_drop_index($1::oid)", 1, NULL, p, NULL, NULL, 0));
}

static void evaluate(wctx *x, cand *k, double min_frac)
{
    char err[256], ss[6];
    k->gain = 0;
    if (!k->after) { /* ruled out before planning */
        k->dead = true;
        return;
    }
    int64_t oid = hypo_create(x->c, k, &k->bytes);
    if (oid < 0) {
        k->dead = true;
        return;
    }
    for (size_t i = 0; i < k->nq; i++) {
        wq *q = &x->w[k->qs[i]];
        k->after[i] = -1;
        if (!q->usable)
            continue;
        double a = plan_cost(x, q, false, err, sizeof err, ss);
        k->after[i] = a;
        if (a >= 0 && a < q->now * (1 - min_frac))
            k->gain += (double)q->calls * (q->now - a);
    }
    hypo_drop(x->c, oid);
    if (k->gain <= 0)
        k->dead = true;
}

/* ---- suggestions ---------------------------------------------------------------- */

/* "_col1_col2": what index names add to their table's name. */
static char *stem_cols(const cand *k)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    for (int i = 0; i < k->ncols; i++)
        alchdb__sb_printf(&sb, "_%s", col_name(k, i));
    return alchdb__sb_finish(&sb);
}

static int emit(wctx *x, cand *k, const char *verified, double total_cost)
{
    alchdb_advisor_report *r = x->c->r;
    adv_missing *m = &r->missing[r->nmissing];
    memset(m, 0, sizeof *m);
    m->table = k->t;
    m->ncols = k->ncols;
    m->verified_by = verified;
    m->est_bytes = k->bytes;
    const char *suffix = k->pred ? "_part_idx" : "_idx";
    char *cols_stem = stem_cols(k), *keys = cand_keys(x->c, k), *stem = NULL;
    if (cols_stem) {
        alchdb__strbuf st;
        alchdb__sb_init(&st);
        alchdb__sb_printf(&st, "%s%s", k->t->name, cols_stem);
        stem = alchdb__sb_finish(&st);
    }
    m->name = stem ? alchdb__adv_index_name(r, k->t->schema, stem, suffix) : NULL;
    const char *names[MAX_COLS];
    bool named = true;
    for (int j = 0; j < k->ncols; j++)
        named = named && (names[j] = col_name(k, j)) != NULL;
    adv_keyspec spec = {names, k->ord, k->ncols};
    if (m->name && keys &&
        alchdb__adv_create_steps(x->c, k->t, m->name, keys, k->pred, named ? &spec : NULL, cols_stem, suffix,
                                 &m->steps, &m->nsteps, &m->create_sql))
        m->create_sql = NULL; /* out of memory (tables that cannot take the index were ruled out before) */
    alchdb__free(stem);
    alchdb__free(cols_stem);
    alchdb__free(keys);
    m->pred = k->pred ? alchdb__strdup(k->pred) : NULL;
    m->colnames = alchdb__calloc((size_t)k->ncols, sizeof(char *));
    m->qs = alchdb__calloc(k->nq + 1, sizeof *m->qs);
    alchdb__strbuf cols;
    alchdb__sb_init(&cols);
    for (int i = 0; m->colnames && i < k->ncols; i++) {
        m->colnames[i] = k->t->cols[k->cols[i]];
        alchdb__sb_printf(&cols, "%s%s%s", i ? "," : "", m->colnames[i], ord_text(k->ord[i]));
    }
    m->cols_text = alchdb__sb_finish(&cols);
    r->nmissing++;
    if (!m->name || !m->create_sql || (k->pred && !m->pred) || !m->colnames || !m->qs || !m->cols_text)
        return alchdb__nomem("advisor suggestions");
    double wb = 0, wa = 0, calls = 0, sel = -1;
    bool verified_cost = !strcmp(verified, "hypopg");
    for (size_t i = 0; i < k->nq; i++) {
        wq *q = &x->w[k->qs[i]];
        double a = verified_cost ? k->after[i] : -1;
        if (verified_cost && !(a >= 0 && a < q->now * (1 - (double)x->c->opts->min_gain_pct / 100.0)))
            continue;
        if (!verified_cost && !strcmp(verified, "explain")) {
            bool seq = false;
            for (int s = 0; s < q->nseq; s++)
                seq |= q->seq[s] == k->t || alchdb__adv_inherits(q->seq[s], k->t);
            if (!q->usable || !seq)
                continue;
        }
        struct adv_mq *mq = &m->qs[m->nqs++];
        mq->sql = alchdb__strdup(q->sql);
        if (!mq->sql)
            return alchdb__nomem("advisor suggestions");
        mq->calls = q->calls;
        mq->before = q->usable ? q->now : -1;
        mq->after = a;
        if (q->usable) {
            wb += (double)q->calls * q->now;
            calls += (double)q->calls;
            if (verified_cost)
                wa += (double)q->calls * a;
        }
        /* Selectivity: the widest filter on this table (or its partitions)
         * in the helped statements' current plans. */
        double kept = -1;
        for (int s = 0; s < q->nseq; s++)
            if ((q->seq[s] == k->t || alchdb__adv_inherits(q->seq[s], k->t)) && q->seq_rows[s] >= 0)
                kept = (kept < 0 ? 0 : kept) + q->seq_rows[s];
        if (kept >= 0)
            sel = kept > sel ? kept : sel;
    }
    adv_tree_stats ts;
    alchdb__adv_tree_stats(r, k->t, &ts);
    sel = sel >= 0 && ts.rows > 0 ? (sel > ts.rows ? 1.0 : sel / ts.rows) : -1;
    m->cost_before = calls > 0 ? wb / calls : -1;
    m->cost_after = verified_cost && calls > 0 ? wa / calls : -1;
    m->gain_pct = verified_cost && wb > 0 ? 100.0 * (wb - wa) / wb : -1;
    m->workload_share = total_cost > 0 ? (verified_cost ? (wb - wa) : wb) / total_cost : 0;
    m->calls = calls;
    m->saving_per_call = verified_cost && calls > 0 ? (wb - wa) / calls : -1;
    m->table_rows = ts.rows;
    m->writes = ts.writes;
    m->reads = ts.seq_scan + ts.idx_scan;
    m->table_bytes = ts.bytes;
    m->selectivity = sel;
    int prc = alchdb__adv_prioritize(m, verified_cost, strcmp(verified, "heuristic") != 0);
    if (prc)
        return prc;
    if (strcmp(verified, "hypopg")) {
        m->note = alchdb__strdup(!strcmp(verified, "explain")
                                     ? "unverified: HypoPG is not available; the current plan scans this table "
                                       "sequentially with a filter on these columns"
                                     : "unverified: the query could not be planned; suggested from its text and "
                                       "the table's sequential scans");
        if (!m->note)
            return alchdb__nomem("advisor suggestions");
    }
    k->accepted = true;
    return 0;
}

static int choose_hypopg(wctx *x, double total_cost)
{
    adv_ctx *c = x->c;
    const adv_settings *o = c->opts;
    double min_frac = (double)o->min_gain_pct / 100.0;
    for (size_t i = 0; i < x->nc; i++)
        if (!x->cs[i].dead)
            evaluate(x, &x->cs[i], min_frac);
    int64_t used = 0;
    int rc = 0;
    int64_t kept[1024];
    int nkept = 0;
    while (!rc && c->r->nmissing < (size_t)o->max_suggestions) {
        cand *best = NULL;
        for (size_t i = 0; i < x->nc; i++) {
            cand *k = &x->cs[i];
            if (k->dead || k->accepted)
                continue;
            if (o->max_index_bytes && used + k->bytes > o->max_index_bytes)
                continue;
            if (!best || k->gain > best->gain * 1.05 ||
                (k->gain >= best->gain * 0.95 && k->bytes < best->bytes) ||
                (k->gain >= best->gain * 0.95 && k->bytes == best->bytes && k->ncols < best->ncols))
                best = k;
        }
        if (!best)
            break;
        /* Re-check against the indexes chosen so far before accepting. */
        double g = best->gain;
        evaluate(x, best, min_frac);
        if (best->dead || best->gain < g * 0.5)
            continue;
        rc = emit(x, best, "hypopg", total_cost);
        if (rc)
            break;
        used += best->bytes;
        int64_t b;
        int64_t oid = hypo_create(c, best, &b);
        if (oid >= 0 && nkept < 1024)
            kept[nkept++] = oid;
        for (size_t i = 0; i < best->nq; i++) {
            wq *q = &x->w[best->qs[i]];
            if (best->after[i] >= 0 && best->after[i] < q->now)
                q->now = best->after[i];
        }
        /* Never both an index and its own extension or prefix on one table,
         * nor on a partition what the chosen index on its ancestor covers. */
        for (size_t i = 0; i < x->nc; i++) {
            cand *k = &x->cs[i];
            if (k == best || k->dead || k->accepted || k->pred || best->pred)
                continue;
            int n = k->ncols < best->ncols ? k->ncols : best->ncols;
            if (k->t == best->t ? same_names(k, best, n)
                                : alchdb__adv_inherits(k->t, best->t) && k->ncols <= best->ncols &&
                                      same_names(k, best, k->ncols))
                k->dead = true;
        }
        /* Candidates sharing a statement with the chosen one are worth less now. */
        for (size_t i = 0; i < x->nc; i++) {
            cand *k = &x->cs[i];
            if (k->dead || k->accepted)
                continue;
            bool shares = false;
            for (size_t a = 0; a < k->nq && !shares; a++)
                for (size_t bq = 0; bq < best->nq && !shares; bq++)
                    shares = k->qs[a] == best->qs[bq];
            if (shares)
                evaluate(x, k, min_frac);
        }
    }
    for (int i = 0; i < nkept; i++)
        hypo_drop(c, kept[i]);
    return rc;
}

static int choose_unverified(wctx *x, double total_cost)
{
    adv_ctx *c = x->c;
    int rc = 0;
    for (size_t i = 0; i < x->nc && !rc && c->r->nmissing < (size_t)c->opts->max_suggestions; i++) {
        cand *k = &x->cs[i];
        if (!k->primary)
            continue;
        const char *how = NULL;
        adv_tree_stats ts;
        alchdb__adv_tree_stats(c->r, k->t, &ts);
        for (size_t j = 0; j < k->nq && !how; j++) {
            wq *q = &x->w[k->qs[j]];
            if (q->usable) {
                for (int s = 0; s < q->nseq; s++)
                    if (q->seq[s] == k->t || alchdb__adv_inherits(q->seq[s], k->t))
                        how = "explain";
            } else if (q->parsed && ts.seq_scan > 0) {
                how = "heuristic";
            }
        }
        if (!how)
            continue;
        k->bytes = (int64_t)(ts.rows * (16.0 + 8.0 * k->ncols) * 1.2);
        if (c->opts->max_index_bytes && k->bytes > c->opts->max_index_bytes)
            continue;
        rc = emit(x, k, how, total_cost);
    }
    return rc;
}

/* ---- workload sources ------------------------------------------------------------- */

static int load_pgss(adv_ctx *c, adv_query **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    char lim[32];
    snprintf(lim, sizeof lim, "%lld", (long long)c->opts->max_queries);
    const char *p[1] = {lim};
    PGresult *res = alchdb__adv_query(
        c, "pg_stat_statements",
        "SELECT query, calls, total_exec_time, userid FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query IS NOT NULL ORDER BY total_exec_time DESC LIMIT $1::bigint",
        1, p);
    if (!res)
        return 0;
    int rows = PQntuples(res), hidden = 0;
    adv_query *qs = alchdb__calloc((size_t)rows + 1, sizeof *qs);
    if (!qs) {
        PQclear(res);
        return alchdb__nomem("advisor workload");
    }
    for (int i = 0; i < rows; i++) {
        const char *t = PQgetvalue(res, i, 0);
        if (!strcmp(t, "<insufficient privilege>")) {
            hidden++;
            continue;
        }
        adv_query *q = &qs[*n];
        if (!(q->sql = alchdb__strdup(t))) {
            PQclear(res);
            *out = qs;
            return alchdb__nomem("advisor workload");
        }
        q->calls = strtoll(PQgetvalue(res, i, 1), NULL, 10);
        if (q->calls < 1)
            q->calls = 1;
        q->total_ms = strtod(PQgetvalue(res, i, 2), NULL);
        q->source = "pg_stat_statements";
        q->userid = (uint32_t)strtoul(PQgetvalue(res, i, 3), NULL, 10);
        (*n)++;
    }
    PQclear(res);
    *out = qs;
    if (hidden)
        alchdb__adv_note(c->r,
                         "pg_stat_statements: the text of %d statement(s) of other users is hidden "
                         "(insufficient privilege: grant pg_read_all_stats); they were not analysed",
                         hidden);
    return 0;
}

/* The search_path a role's sessions in this database start with: its
 * per-database setting, its own, the database's, else the server's. */
static const char q_users[] =
    "SELECT r.oid, r.rolname, coalesce("
    "(SELECT substr(v, 13) FROM pg_db_role_setting s CROSS JOIN unnest(s.setconfig) v WHERE s.setrole = r.oid "
    " AND s.setdatabase = d.oid AND left(v, 12) = 'search_path=' LIMIT 1), "
    "(SELECT substr(v, 13) FROM pg_db_role_setting s CROSS JOIN unnest(s.setconfig) v WHERE s.setrole = r.oid "
    " AND s.setdatabase = 0 AND left(v, 12) = 'search_path=' LIMIT 1), "
    "(SELECT substr(v, 13) FROM pg_db_role_setting s CROSS JOIN unnest(s.setconfig) v WHERE s.setrole = 0 "
    " AND s.setdatabase = d.oid AND left(v, 12) = 'search_path=' LIMIT 1), "
    "(SELECT CASE WHEN source IN ('database', 'user', 'database user', 'client', 'session') THEN boot_val "
    " ELSE reset_val END FROM pg_settings WHERE name = 'search_path')), "
    "pg_has_role(current_user, r.oid, 'MEMBER') "
    "FROM pg_roles r CROSS JOIN pg_database d WHERE d.datname = current_database() AND r.oid = $1::oid";

static int user_index(wctx *x, uint32_t oid)
{
    for (size_t i = 0; i < x->nusers; i++)
        if (x->users[i].oid == oid)
            return (int)i;
    return -1;
}

/* The schemas an unqualified name is looked up in, for user u: asked of the
 * server as that role (so "$user" and schemas it may not use count as for
 * its own sessions). */
static int user_path(wctx *x, wuser *u)
{
    adv_ctx *c = x->c;
    bool switched = u->can_set && as_user(c->conn, u);
    if (!switched) {
        const char *p[1] = {u->path_setting};
        exec_ok(c->conn, "SELECT set_config('search_path', $1, false)", 1, p);
    }
    int rc = alchdb__adv_load_path(c->conn, &u->path, &u->npath);
    as_advisor(c->conn, x->saved_path);
    u->can_set = switched;
    return rc;
}

static int load_users(wctx *x)
{
    adv_ctx *c = x->c;
    PGresult *res = PQexecParams(c->conn, "SELECT current_setting('search_path')", 0, NULL, NULL, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        x->saved_path = alchdb__strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    if (!x->saved_path)
        return alchdb__nomem("advisor search path");
    x->users = alchdb__calloc(x->nw + 1, sizeof *x->users);
    if (!x->users)
        return alchdb__nomem("advisor roles");
    for (size_t i = 0; i < x->nw; i++) {
        wq *q = &x->w[i];
        q->user = -1;
        if (strcmp(q->source, "pg_stat_statements"))
            continue;
        uint32_t oid = q->userid;
        if ((q->user = user_index(x, oid)) >= 0)
            continue;
        wuser *u = &x->users[x->nusers];
        u->oid = oid;
        char buf[16];
        snprintf(buf, sizeof buf, "%u", oid);
        const char *p[1] = {buf};
        res = PQexecParams(c->conn, q_users, 1, NULL, p, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            u->exists = true;
            u->rolname = alchdb__strdup(PQgetvalue(res, 0, 1));
            u->path_setting = alchdb__strdup(PQgetvalue(res, 0, 2));
            u->can_set = PQgetvalue(res, 0, 3)[0] == 't';
            if (!u->rolname || !u->path_setting) {
                PQclear(res);
                return alchdb__nomem("advisor roles");
            }
        }
        PQclear(res);
        q->user = (int)x->nusers++;
        if (u->exists) {
            int rc = user_path(x, u);
            if (rc)
                return rc;
            if (!u->can_set && c->r->superuser)
                u->exists = false; /* never plan someone else's statement as a superuser */
        }
    }
    return 0;
}

/* Say which search_path unqualified names were resolved with. */
static int path_note(wctx *x)
{
    alchdb_advisor_report *r = x->c->r;
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sb_puts(&sb, "unqualified names resolved as PostgreSQL would for the session that ran the statement:");
    bool given = false;
    for (size_t i = 0; i < x->nw && !given; i++)
        given = x->w[i].user < 0;
    const char *sep = " ";
    if (given) {
        alchdb__sb_puts(&sb, " statements given to the advisor with its own search_path (");
        for (size_t i = 0; i < r->nsearch_path; i++)
            alchdb__sb_printf(&sb, "%s%s", i ? ", " : "", r->search_path[i]);
        alchdb__sb_puts(&sb, ")");
        sep = "; ";
    }
    for (size_t u = 0; u < x->nusers; u++) {
        const wuser *w = &x->users[u];
        if (!w->exists)
            continue;
        alchdb__sb_printf(&sb, "%sstatements of role %s (pg_stat_statements) planned as that role with its "
                               "search_path (", sep, w->rolname);
        for (size_t i = 0; i < w->npath; i++)
            alchdb__sb_printf(&sb, "%s%s", i ? ", " : "", w->path[i]);
        alchdb__sb_puts(&sb, ")");
        sep = "; ";
    }
    alchdb__free(r->search_path_note);
    r->search_path_note = alchdb__sb_finish(&sb);
    return r->search_path_note ? 0 : alchdb__nomem("advisor search path note");
}

static int level(const char *priority)
{
    return !strcmp(priority, "high") ? 0 : !strcmp(priority, "medium") ? 1 : 2;
}

int alchdb__adv_missing(adv_ctx *c)
{
    alchdb_advisor_report *r = c->r;
    const adv_settings *o = c->opts;
    adv_query *pg = NULL;
    size_t npg = 0;
    int rc = 0;
    if (o->use_pgss && r->has_pgss)
        rc = load_pgss(c, &pg, &npg);
    else if (o->use_pgss)
        alchdb__adv_note(r, "pg_stat_statements is not installed in this database: the workload is only what "
                            "was given (add_query, --queries)");
    wctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.nw = o->nqueries + npg;
    x.w = alchdb__calloc(x.nw + 1, sizeof *x.w);
    if (!rc && !x.w)
        rc = alchdb__nomem("advisor workload");
    for (size_t i = 0; !rc && i < x.nw; i++) {
        const adv_query *q = i < o->nqueries ? &o->queries[i] : &pg[i - o->nqueries];
        x.w[i].sql = q->sql;
        x.w[i].calls = q->calls;
        x.w[i].total_ms = q->total_ms;
        x.w[i].source = q->source;
        x.w[i].userid = q->userid;
        x.w[i].before = x.w[i].now = -1;
    }
    r->nqueries_seen = x.nw;
    if (!rc)
        rc = alchdb__adv_trust_load(c);
    if (!rc)
        rc = load_users(&x);
    for (size_t i = 0; !rc && i < x.nw; i++) {
        wq *q = &x.w[i];
        if (q->user >= 0 && !x.users[q->user].exists) {
            char *shortq = shorten(q->sql);
            note_limited(&x, 4, "query not planned: its role no longer exists or the advisor cannot take it", NULL,
                         shortq);
            alchdb__free(shortq);
        }
    }
    if (!rc && x.nw)
        rc = path_note(&x);
    for (size_t i = 0; !rc && i < x.nw; i++) {
        parse_one(&x, i);
        if (x.nomem)
            rc = alchdb__nomem("advisor workload");
    }
    /* Keep candidates that some statement still backs, on tables big enough,
     * not already served by an index. */
    size_t skipped_small = 0, skipped_part = 0;
    if (!rc) {
        merge_into_ancestors(&x);
        if (x.nomem)
            rc = alchdb__nomem("advisor candidates");
    }
    for (size_t i = 0; !rc && i < x.nc; i++) {
        cand *k = &x.cs[i];
        adv_tree_stats ts;
        alchdb__adv_tree_stats(r, k->t, &ts);
        if (k->dead || !k->nq || covered_by_existing(r, k) || (k->pred && distinct_texts(&x, k) < 2)) {
            k->dead = true;
        } else if (!alchdb__adv_indexable(r, k->t)) {
            k->dead = true;
            skipped_part++;
        } else if (ts.rows < (double)o->min_table_rows && ts.live < (double)o->min_table_rows) {
            k->dead = true;
            skipped_small++;
        }
        if (!k->dead && !(k->after = alchdb__calloc(k->nq, sizeof *k->after)))
            rc = alchdb__nomem("advisor candidates");
    }
    bool hypo = o->use_hypopg && r->has_hypopg;
    if (!rc) {
        if (o->use_hypopg && !r->has_hypopg)
            alchdb__adv_note(r, "HypoPG is not installed in this database (CREATE EXTENSION hypopg; Debian: "
                                "postgresql-15-hypopg): missing-index suggestions are unverified");
        PQclear(PQexecParams(c->conn, "SET plan_cache_mode = force_generic_plan", 0, NULL, NULL, NULL, NULL, 0));
        double total = 0;
        for (size_t i = 0; i < x.nw; i++) {
            wq *q = &x.w[i];
            if (!q->parsed)
                continue;
            char err[256], ss[6];
            q->before = q->now = plan_cost(&x, q, true, err, sizeof err, ss);
            q->usable = q->before >= 0;
            if (q->usable) {
                r->nqueries_used++;
                total += (double)q->calls * q->before;
            } else {
                char *shortq = shorten(q->sql);
                note_limited(&x, 3, "query could not be planned", err, shortq);
                alchdb__free(shortq);
                if (!strcmp(ss, "42P01") || !strcmp(ss, "42703") || !strcmp(ss, "42501") || !strncmp(ss, "57", 2))
                    q->parsed = false; /* gone, forbidden or cancelled: no heuristics either */
            }
        }
        r->missing = alchdb__calloc(x.nc + 1, sizeof *r->missing);
        if (!r->missing)
            rc = alchdb__nomem("advisor suggestions");
        else if (hypo)
            rc = choose_hypopg(&x, total);
        else
            rc = choose_unverified(&x, total);
        if (hypo)
            PQclear(PQexecParams(c->conn, "SELECT hypopg_reset()", 0, NULL, NULL, NULL, NULL, 0));
    }
    /* Highest priority first; within one, the largest saving x calls. */
    for (size_t i = 1; !rc && i < r->nmissing; i++) {
        adv_missing m = r->missing[i];
        size_t j = i;
        while (j > 0 && (level(r->missing[j - 1].priority) > level(m.priority) ||
                         (level(r->missing[j - 1].priority) == level(m.priority) &&
                          r->missing[j - 1].workload_share < m.workload_share))) {
            r->missing[j] = r->missing[j - 1];
            j--;
        }
        r->missing[j] = m;
    }
    if (skipped_part)
        alchdb__adv_note(r, "%zu candidate index(es) on partitioned tables with a partition that cannot hold an index "
                            "(a foreign table) were not considered", skipped_part);
    if (skipped_small)
        alchdb__adv_note(r, "%zu candidate index(es) on tables with fewer than %lld rows were not considered", skipped_small,
                         (long long)o->min_table_rows);
    for (size_t i = 0; i < x.nc; i++) {
        alchdb__free(x.cs[i].pred);
        alchdb__free(x.cs[i].qs);
        alchdb__free(x.cs[i].after);
    }
    alchdb__free(x.cs);
    alchdb__free(x.w);
    for (size_t i = 0; i < x.nusers; i++) {
        alchdb__free(x.users[i].rolname);
        alchdb__free(x.users[i].path_setting);
        for (size_t j = 0; j < x.users[i].npath; j++)
            alchdb__free(x.users[i].path[j]);
        alchdb__free(x.users[i].path);
    }
    alchdb__free(x.users);
    alchdb__free(x.saved_path);
    for (size_t i = 0; i < npg; i++)
        alchdb__free(pg[i].sql);
    alchdb__free(pg);
    return rc;
}
