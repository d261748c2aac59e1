/* Row targets (lib/sql/pk.c): the relation and the key equalities the cache
 * uses for primary-key invalidation. A table of statements with the expected
 * outcome (refused, or kind/table/equalities/SET columns/ON CONFLICT), the
 * table name checked against the analysis, errors, leaks and allocation
 * failures, and the cost of one call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "failalloc.h"
#include "testutil.h"

#include <alchdb/alchdb.h>

#include "internal.h"
#include "sql/sql_internal.h"

enum { NONE = -1, S = ALCHDB_SQL_SELECT, I = ALCHDB_SQL_INSERT, U = ALCHDB_SQL_UPDATE, D = ALCHDB_SQL_DELETE };

/* eq: "col=$n" or "col=#literal", joined by '|' (in order); set and conflict:
 * comma-separated. kind NONE: *out must be NULL. */
typedef struct row {
    const char *sql;
    int kind;
    const char *table, *eq, *set;
    int on_conflict;
    const char *conflict;
} row;

static const row rows[] = {
    /* ---- SELECT: accepted shapes ---- */
    {"SELECT * FROM users WHERE id = $1", S, "users", "id=$1", "", 0, ""},
    {"SELECT name FROM app.users WHERE users.id = 42", S, "app.users", "id=#42", "", 0, ""},
    {"SELECT u.name FROM app.users u WHERE u.id = $1 AND u.org = $2", S, "app.users", "id=$1|org=$2", "", 0, ""},
    {"SELECT * FROM Users WHERE ID = $1", S, "users", "id=$1", "", 0, ""},
    {"SELECT * FROM \"Order Items\" oi WHERE oi.\"Customer Ref\" = 'it''s'", S, "\"Order Items\"",
     "Customer Ref=#it's", "", 0, ""},
    {"SELECT * FROM \"Order Items\" WHERE \"Order Items\".\"Customer Ref\" = $1", S, "\"Order Items\"",
     "Customer Ref=$1", "", 0, ""},
    {"SELECT * FROM \"App\".\"Users\" WHERE \"App\".\"Users\".\"Id\" = $1 AND \"Users\".k = 2", S, "\"App\".\"Users\"",
     "Id=$1|k=#2", "", 0, ""},
    {"SELECT * FROM db.app.t WHERE db.app.t.id = 1 AND app.t.k = 2 AND t.m = 3 AND other.t.n = 4", S, "db.app.t",
     "id=#1|k=#2|m=#3", "", 0, ""},
    {"SELECT * FROM t WHERE $1 = id AND 'x' = name", S, "t", "id=$1|name=#x", "", 0, ""},
    {"SELECT * FROM t WHERE id = $1::int AND k = CAST($2 AS bigint) AND s = 'x'::text AND n = 5::numeric"
     " AND v = $3::pg_catalog.varchar AND i = int4 '9' AND w = (-4)::int8",
     S, "t", "id=$1|k=$2|s=#x|n=#5|v=$3|i=#9|w=#-4", "", 0, ""},
    /* casts that may change the value or the comparison: skipped */
    {"SELECT * FROM t WHERE a = $1::varchar(3) AND b = 1.5::int AND c = $2::citext AND d = $3::int[]"
     " AND f = 'x'::text::int AND g = 1e3::text AND e = 1.5::numeric",
     S, "t", "e=#1.5", "", 0, ""},
    {"SELECT * FROM t WHERE a = -5 AND b = 0 AND c = -2147483648 AND d = - 7 AND e = -(3) AND f = -$1"
     " AND g = 3000000000 AND h = -1.5 AND i = -00012 AND j = 007 AND k = 2147483647",
     S, "t", "a=#-5|b=#0|c=#-2147483648|g=#3000000000|h=#-1.5|i=#-12|j=#7|k=#2147483647", "", 0, ""},
    {"SELECT * FROM t WHERE s = 'O''Brien' AND e = E'a\\'b' AND z = '' AND u = U&'d\\0061t'", S, "t",
     "s=#O'Brien|e=#a'b|z=#|u=#dat", "", 0, ""},
    {"SELECT * FROM t WHERE (a = 1 AND (b = 2 AND (c = $1))) AND d > 5", S, "t", "a=#1|b=#2|c=$1", "", 0, ""},
    {"SELECT * FROM t WHERE id = $1 AND (a = 1 OR b = 2) AND NOT (c = 3)", S, "t", "id=$1", "", 0, ""},
    {"SELECT * FROM t WHERE id = 1 OR id = 2", S, "t", "", "", 0, ""},
    {"SELECT * FROM t WHERE NOT (id = 1 AND x = 2)", S, "t", "", "", 0, ""},
    {"SELECT * FROM t WHERE (id = 1 AND a = 2) OR (id = 3 AND a = 4)", S, "t", "", "", 0, ""},
    {"SELECT * FROM t WHERE a IS NULL AND b IN (1, 2) AND c BETWEEN 1 AND 2 AND d <> 1"
     " AND e IS NOT DISTINCT FROM 1 AND f OPERATOR(pg_catalog.=) 1 AND g = NULL AND h = true"
     " AND x.y = 1 AND a = b AND $1 = $2 AND 1 = 1 AND k = ANY($3) AND m = lower($4) AND arr[1] = 5"
     " AND b = B'101' AND p = +3 AND q = $1 + 1",
     S, "t", "", "", 0, ""},
    {"SELECT * FROM t AS x WHERE t.id = 1 AND x.k = 2", S, "t", "k=#2", "", 0, ""},
    {"SELECT count(*), max(v) FROM t WHERE id = $1 GROUP BY g HAVING count(*) > 1 ORDER BY 1 LIMIT 10 OFFSET 2",
     S, "t", "id=$1", "", 0, ""},
    {"SELECT DISTINCT ON (a) a, row_number() OVER (PARTITION BY b) FROM t WHERE id = $1", S, "t", "id=$1", "", 0,
     ""},
    {"SELECT * FROM ONLY t WHERE id = 1", S, "t", "id=#1", "", 0, ""},
    {"SELECT * FROM t", S, "t", "", "", 0, ""},
    {"TABLE t", S, "t", "", "", 0, ""},
    {"  /* hi */ SELECT * FROM t WHERE id = $1 -- trailing\n", S, "t", "id=$1", "", 0, ""},
    /* ---- SELECT: refused ---- */
    {"SELECT 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t JOIN u ON u.id = t.uid WHERE t.id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t, u WHERE t.id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t, t WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM (SELECT * FROM t) s WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t, LATERAL (SELECT 1) l WHERE t.id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = (SELECT max(id) FROM t)", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = 1 AND x IN (SELECT y FROM u)", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = 1 AND EXISTS (SELECT 1)", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT id, (SELECT count(*) FROM u WHERE u.tid = t.id) FROM t WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT g FROM t WHERE id = 1 GROUP BY g HAVING count(*) > (SELECT 1)", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = 1 ORDER BY (SELECT 1)", NONE, NULL, NULL, NULL, 0, NULL},
    {"WITH x AS (SELECT 1) SELECT * FROM t WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"WITH t AS (SELECT * FROM u) SELECT * FROM t WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = 1 UNION SELECT * FROM t WHERE id = 2", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = 1 INTERSECT SELECT * FROM t", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = $1 FOR UPDATE", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t WHERE id = $1 FOR SHARE SKIP LOCKED", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * INTO x FROM t WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"VALUES (1), (2)", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t TABLESAMPLE SYSTEM (10) WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM generate_series(1, 10) g WHERE g = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM t AS x(a, b) WHERE a = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"SELECT * FROM XMLTABLE('/r' PASSING '<r/>' COLUMNS a int) x WHERE a = 1", NONE, NULL, NULL, NULL, 0, NULL},
    /* ---- UPDATE ---- */
    {"UPDATE t SET a = $1 WHERE id = $2", U, "t", "id=$2", "a", 0, ""},
    {"UPDATE app.accounts AS acc SET balance = balance + $1, (x, y) = ($3, $4), rec.f = 1, a = 2"
     " WHERE acc.id = $2 AND acc.owner = 'bob' AND accounts.z = 1 RETURNING *",
     U, "app.accounts", "id=$2|owner=#bob", "balance,x,y,rec,a", 0, ""},
    {"UPDATE \"Order Items\" SET \"Qty\" = 3 WHERE \"Customer Ref\" = $1", U, "\"Order Items\"", "Customer Ref=$1",
     "Qty", 0, ""},
    {"UPDATE ONLY t SET a = 1", U, "t", "", "a", 0, ""},
    {"UPDATE t SET a = 1 WHERE id = 1 OR id = 2", U, "t", "", "a", 0, ""},
    {"UPDATE t SET a = 1 FROM u WHERE t.id = u.tid", NONE, NULL, NULL, NULL, 0, NULL},
    {"UPDATE t SET a = (SELECT max(b) FROM u) WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"UPDATE t SET (a, b) = (SELECT 1, 2) WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"UPDATE t SET a = 1 WHERE id IN (SELECT tid FROM u)", NONE, NULL, NULL, NULL, 0, NULL},
    {"UPDATE t SET a = 1 WHERE id = 1 RETURNING (SELECT 1)", NONE, NULL, NULL, NULL, 0, NULL},
    {"WITH x AS (SELECT 1) UPDATE t SET a = 1 WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"UPDATE t SET a = 1 WHERE CURRENT OF c", NONE, NULL, NULL, NULL, 0, NULL},
    /* ---- DELETE ---- */
    {"DELETE FROM t WHERE id = 42", D, "t", "id=#42", "", 0, ""},
    {"DELETE FROM app.\"Line Items\" li WHERE li.\"Order Id\" = $1 AND li.n = -3 RETURNING li.n", D,
     "app.\"Line Items\"", "Order Id=$1|n=#-3", "", 0, ""},
    {"DELETE FROM t", D, "t", "", "", 0, ""},
    {"DELETE FROM t WHERE NOT id = 1", D, "t", "", "", 0, ""},
    {"DELETE FROM t USING u WHERE t.id = u.id", NONE, NULL, NULL, NULL, 0, NULL},
    {"DELETE FROM t WHERE CURRENT OF c", NONE, NULL, NULL, NULL, 0, NULL},
    {"DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)", NONE, NULL, NULL, NULL, 0, NULL},
    {"WITH d AS (DELETE FROM u RETURNING id) DELETE FROM t WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    /* ---- INSERT ---- */
    {"INSERT INTO t (id, name) VALUES ($1, $2)", I, "t", "id=$1|name=$2", "", 0, ""},
    {"INSERT INTO app.t (id, name, ts, n, z) VALUES (7, 'O''Brien', now(), DEFAULT, NULL) RETURNING id", I, "app.t",
     "id=#7|name=#O'Brien", "", 0, ""},
    {"INSERT INTO \"Order Items\" (\"Customer Ref\", qty) VALUES ($2, -1)", I, "\"Order Items\"",
     "Customer Ref=$2|qty=#-1", "", 0, ""},
    {"INSERT INTO t (id, v) VALUES ($1::bigint, -12) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", I, "t",
     "id=$1|v=#-12", "v", 2, "id"},
    {"INSERT INTO t (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET id = t.id + 100, v = $2", I, "t",
     "id=$1|v=$2", "id,v", 2, "id"},
    {"INSERT INTO t (a, b) VALUES ($1, $2) ON CONFLICT (a, b) DO NOTHING", I, "t", "a=$1|b=$2", "", 1, "a,b"},
    {"INSERT INTO t (id) VALUES ($1) ON CONFLICT (id) WHERE x > 0 DO NOTHING", I, "t", "id=$1", "", 1, "id"},
    {"INSERT INTO t (id) VALUES ($1) ON CONFLICT ON CONSTRAINT t_pkey DO UPDATE SET n = t.n + 1", I, "t", "id=$1",
     "n", 2, ""},
    {"INSERT INTO t (id) VALUES ($1) ON CONFLICT ON CONSTRAINT t_pkey DO NOTHING", I, "t", "id=$1", "", 1, ""},
    {"INSERT INTO t (id) VALUES ($1) ON CONFLICT DO NOTHING", I, "t", "id=$1", "", 1, ""},
    {"INSERT INTO t (id) VALUES ($1) ON CONFLICT (lower(id)) DO NOTHING", I, "t", "id=$1", "", 1, ""},
    {"INSERT INTO t AS z (a[1], b.c, d, e) VALUES (1, 2, $1, $2 || 'x')", I, "t", "d=$1", "", 0, ""},
    {"INSERT INTO t (id, x) OVERRIDING SYSTEM VALUE VALUES (1, 2)", I, "t", "id=#1|x=#2", "", 0, ""},
    {"INSERT INTO t (id, x) VALUES (1, 2), (3, 4)", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t (id) SELECT id FROM u", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t (id) SELECT 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t DEFAULT VALUES", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t VALUES (1, 2)", NONE, NULL, NULL, NULL, 0, NULL},
    {"WITH s AS (SELECT 1) INSERT INTO t (id) VALUES (1)", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t (id, x) VALUES (1, (SELECT max(x) FROM u))", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t (id, x) VALUES (1)", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t (id) VALUES (1) LIMIT 0", NONE, NULL, NULL, NULL, 0, NULL},
    {"INSERT INTO t (id) VALUES ($1) ON CONFLICT (id) DO UPDATE SET x = (SELECT 1)", NONE, NULL, NULL, NULL, 0,
     NULL},
    {"INSERT INTO t (id) VALUES ($1) RETURNING (SELECT 1)", NONE, NULL, NULL, NULL, 0, NULL},
    /* ---- other statements and scripts ---- */
    {"SELECT * FROM t WHERE id = 1; SELECT 2", NONE, NULL, NULL, NULL, 0, NULL},
    {"DELETE FROM t WHERE id = 1; DELETE FROM t WHERE id = 2", NONE, NULL, NULL, NULL, 0, NULL},
    {"MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE", NONE, NULL, NULL, NULL, 0, NULL},
    {"EXPLAIN SELECT * FROM t WHERE id = 1", NONE, NULL, NULL, NULL, 0, NULL},
    {"CREATE TABLE x (id int PRIMARY KEY)", NONE, NULL, NULL, NULL, 0, NULL},
    {"COPY t FROM STDIN", NONE, NULL, NULL, NULL, 0, NULL},
    {"BEGIN", NONE, NULL, NULL, NULL, 0, NULL},
    {"", NONE, NULL, NULL, NULL, 0, NULL},
    {"-- only a comment", NONE, NULL, NULL, NULL, 0, NULL},
};

#define NROWS (sizeof rows / sizeof rows[0])

/* "a|b" style list against n strings produced by get(i). */
static void expect_list(const char *what, const char *sqltext, const char *spec, char sep, size_t n,
                        const char *(*get)(const void *, size_t, char *, size_t), const void *obj)
{
    size_t k = 0;
    const char *p = spec;
    char buf[256];
    while (*p) {
        const char *e = strchr(p, sep);
        size_t l = e ? (size_t)(e - p) : strlen(p);
        ck_assert_msg(k < n, "%s: %s: fewer items than expected (%zu) in \"%s\"", sqltext, what, n, spec);
        const char *got = get(obj, k, buf, sizeof buf);
        ck_assert_msg(strlen(got) == l && !memcmp(got, p, l), "%s: %s[%zu] is \"%s\", expected \"%.*s\"", sqltext,
                      what, k, got, (int)l, p);
        k++;
        p += l;
        if (*p)
            p++;
    }
    ck_assert_msg(k == n, "%s: %s: %zu items, expected %zu (\"%s\")", sqltext, what, n, k, spec);
}

static const char *get_eq(const void *obj, size_t i, char *buf, size_t size)
{
    const alchdb__sql_row_target *t = obj;
    if (t->eq[i].param > 0) {
        ck_assert_ptr_null(t->eq[i].literal);
        snprintf(buf, size, "%s=$%d", t->eq[i].column, t->eq[i].param);
    } else {
        ck_assert_ptr_nonnull(t->eq[i].literal);
        snprintf(buf, size, "%s=#%s", t->eq[i].column, t->eq[i].literal);
    }
    return buf;
}

static const char *get_set(const void *obj, size_t i, char *buf, size_t size)
{
    (void)buf;
    (void)size;
    return ((const alchdb__sql_row_target *)obj)->set_cols[i];
}

static const char *get_conflict(const void *obj, size_t i, char *buf, size_t size)
{
    (void)buf;
    (void)size;
    return ((const alchdb__sql_row_target *)obj)->conflict_cols[i];
}

START_TEST(test_row_table)
{
    const row *r = &rows[_i];
    alchdb__sql_row_target *t = (alchdb__sql_row_target *)&t;
    int rc = alchdb__sql_row_target_parse(r->sql, (size_t)-1, &t);
    ck_assert_msg(rc == 0, "%s: rc %d (%s)", r->sql, rc, alchdb_last_error_message());
    /* The analysis computes the same target from its own parse tree. */
    alchdb_sql_analysis *an = NULL;
    if (alchdb_sql_analyze(r->sql, (size_t)-1, &an) == 0) {
        const alchdb__sql_row_target *at = alchdb__sql_row_target_of(an);
        ck_assert_msg((at == NULL) == (t == NULL), "%s: analysis and parse disagree", r->sql);
        if (at) {
            ck_assert_str_eq(at->table, t->table);
            ck_assert_int_eq(at->kind, t->kind);
            ck_assert_uint_eq(at->neq, t->neq);
            for (size_t i = 0; i < at->neq; i++) {
                ck_assert_str_eq(at->eq[i].column, t->eq[i].column);
                ck_assert_int_eq(at->eq[i].param, t->eq[i].param);
            }
            ck_assert_uint_eq(at->nset, t->nset);
            ck_assert_int_eq(at->on_conflict, t->on_conflict);
        }
    }
    alchdb_sql_analysis_free(an);
    if (r->kind == NONE) {
        ck_assert_msg(t == NULL, "%s: expected no target, got table %s", r->sql, t ? t->table : "");
        return;
    }
    ck_assert_msg(t != NULL, "%s: expected a target", r->sql);
    ck_assert_int_eq(t->kind, r->kind);
    ck_assert_str_eq(t->table, r->table);
    ck_assert_ptr_nonnull(t->name);
    ck_assert_msg(strstr(t->table, t->name) != NULL, "%s: name %s not in %s", r->sql, t->name, t->table);
    ck_assert_msg(!t->schema || strstr(t->table, t->schema) != NULL, "%s: schema %s", r->sql, t->schema);
    expect_list("eq", r->sql, r->eq, '|', t->neq, get_eq, t);
    expect_list("set_cols", r->sql, r->set, ',', t->nset, get_set, t);
    ck_assert_msg(t->on_conflict == r->on_conflict, "%s: on_conflict %d", r->sql, t->on_conflict);
    expect_list("conflict_cols", r->sql, r->conflict, ',', t->nconflict, get_conflict, t);
    if (r->kind != U && t->on_conflict != 2)
        ck_assert_uint_eq(t->nset, 0); /* only UPDATE and ON CONFLICT DO UPDATE assign */

    /* The analysis names the same relation, in the list the kind implies. */
    alchdb_sql_analysis *a = NULL;
    ck_assert_int_eq(alchdb_sql_analyze(r->sql, (size_t)-1, &a), 0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 1);
    int which = r->kind == S ? ALCHDB_SQL_TABLES_READ : ALCHDB_SQL_TABLES_WRITTEN;
    ck_assert_uint_eq(alchdb_sql_stmt_table_count(a, 0, which), 1);
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 0, which, 0), t->table);
    ck_assert_uint_eq(alchdb_sql_stmt_table_count(a, 0, !which), 0);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 0), r->kind);
    alchdb_sql_analysis_free(a);
    alchdb__sql_row_target_free(t);
}
END_TEST

START_TEST(test_length_and_errors)
{
    alchdb__sql_row_target *t = NULL;
    /* explicit length: only the first statement's text is seen */
    const char *two = "DELETE FROM t WHERE id = -5; DELETE FROM u";
    ck_assert_int_eq(alchdb__sql_row_target_parse(two, 27, &t), 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(t->table, "t");
    ck_assert_uint_eq(t->neq, 1);
    ck_assert_str_eq(t->eq[0].literal, "-5");
    alchdb__sql_row_target_free(t);
    ck_assert_int_eq(alchdb__sql_row_target_parse(two, strlen(two), &t), 0);
    ck_assert_ptr_null(t);

    /* parse errors */
    t = (alchdb__sql_row_target *)&t;
    ck_assert_int_eq(alchdb__sql_row_target_parse("SELECT * FROM", (size_t)-1, &t), ALCHDB_E_PARSE);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_PARSE);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "syntax error"));
    ck_assert_int_eq(alchdb__sql_row_target_parse("SELECT 1; SELEC 2", (size_t)-1, &t), ALCHDB_E_PARSE);
    ck_assert_ptr_null(t);

    /* bad arguments */
    ck_assert_int_eq(alchdb__sql_row_target_parse(NULL, 0, &t), ALCHDB_E_INVALID);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(alchdb__sql_row_target_parse("SELECT 1", 8, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__sql_row_target_parse("SELECT \xff FROM t", (size_t)-1, &t), ALCHDB_E_INVALID);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(alchdb__sql_row_target_parse("SELECT 1\0 FROM t", 16, &t), ALCHDB_E_INVALID);
    ck_assert_ptr_null(t);

    /* A deep expression (3000 chained "+", tens of thousands of tree levels
     * in libpg_query's output) is walked without recursion: the top-level
     * equality still pins the row. */
    size_t depth = 3000;
    char *deep = malloc(64 + depth * 4);
    ck_assert_ptr_nonnull(deep);
    char *p = deep + sprintf(deep, "SELECT * FROM t WHERE id = 1 AND a = a");
    for (size_t k = 0; k < depth; k++)
        p += sprintf(p, " + a");
    t = (alchdb__sql_row_target *)&t;
    ck_assert_int_eq(alchdb__sql_row_target_parse(deep, (size_t)-1, &t), 0);
    ck_assert_ptr_nonnull(t);
    ck_assert_uint_eq(t->neq, 1);
    ck_assert_str_eq(t->eq[0].column, "id");
    ck_assert_str_eq(t->eq[0].literal, "1");
    alchdb__sql_row_target_free(t);
    free(deep);

    alchdb__sql_row_target_free(NULL);
}
END_TEST

/* Every row again: nothing outlives the call but the target, and freeing the
 * target returns every allocation. */
START_TEST(test_no_leaks)
{
    alchdb_sql_cache_clear();
    long before = alchdb__alloc_outstanding();
    for (int round = 0; round < 3; round++) {
        for (size_t k = 0; k < NROWS; k++) {
            alchdb__sql_row_target *t = NULL;
            ck_assert_int_eq(alchdb__sql_row_target_parse(rows[k].sql, (size_t)-1, &t), 0);
            if (t)
                ck_assert_int_gt(alchdb__alloc_outstanding(), before);
            alchdb__sql_row_target_free(t);
            ck_assert_int_eq(alchdb__alloc_outstanding(), before);
        }
        alchdb__sql_row_target *t = NULL;
        ck_assert_int_eq(alchdb__sql_row_target_parse("SELECT * FROM", (size_t)-1, &t), ALCHDB_E_PARSE);
        ck_assert_int_eq(alchdb__alloc_outstanding(), before);
    }
}
END_TEST

/* ---- allocation failures: every failing allocation gives ALCHDB_E_NOMEM,
 * *out = NULL and no leak; the loop ends when nothing failed ---- */

static void oom_loop(const char *sql, bool expect_target, long min_allocs)
{
    alchdb_sql_cache_clear();
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    long n;
    bool done = false;
    for (n = 1; n < 10000 && !done; n++) {
        failalloc_at = n;
        failalloc_calls = 0;
        alchdb__sql_row_target *t = (alchdb__sql_row_target *)&t;
        int rc = alchdb__sql_row_target_parse(sql, (size_t)-1, &t);
        if (rc == 0) {
            ck_assert_msg(failalloc_calls < failalloc_at, "%s: success although allocation %ld failed", sql, n);
            ck_assert(expect_target ? t != NULL : t == NULL);
            alchdb__sql_row_target_free(t);
            done = true;
        } else {
            ck_assert_msg(rc == ALCHDB_E_NOMEM, "%s: failure at allocation %ld returned %d", sql, n, rc);
            ck_assert_ptr_null(t);
        }
        ck_assert_int_eq(alchdb__alloc_outstanding(), 0);
    }
    ck_assert(done);
    ck_assert_int_gt(n, min_allocs);
    failalloc_at = -1;
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}

START_TEST(test_allocation_failures)
{
    oom_loop("UPDATE app.t AS x SET a = 1, b = 2, c = 3, d = 4, e = 5 WHERE x.id = $1 AND k = 'v' AND m = -3 "
             "AND n = 4 AND o = 5 AND p = 6",
             true, 10);
    oom_loop("INSERT INTO t (a, b, c, d, e, f) VALUES ($1, $2, 'x', -1, 2.5, 7) ON CONFLICT (a, b, c) DO NOTHING",
             true, 10);
    oom_loop("SELECT * FROM t JOIN u USING (id)", false, 1);
}
END_TEST

/* Not an assertion: the cost of one call, for the record. */
START_TEST(test_speed)
{
    const char *sql = "SELECT * FROM users WHERE id = $1";
    enum { N = 20000 };
    struct timespec a, b;
    alchdb__sql_row_target *t = NULL;
    for (int k = 0; k < 200; k++) { /* warm up */
        ck_assert_int_eq(alchdb__sql_row_target_parse(sql, (size_t)-1, &t), 0);
        alchdb__sql_row_target_free(t);
    }
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < N; k++) {
        alchdb__sql_row_target_parse(sql, (size_t)-1, &t);
        alchdb__sql_row_target_free(t);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / N;

    /* for scale: the bare parse to a JSON tree */
    char *tree = NULL;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < N; k++) {
        alchdb__sql_parse_tree(sql, (size_t)-1, &tree, NULL);
        alchdb__free(tree);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double parse_us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / N;
    printf("row target of \"%s\": %.2f us/call (pg_query_parse to JSON alone: %.2f us)\n", sql, us, parse_us);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sql-pk");
    TCase *tc = tcase_create("row_target");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_row_table, 0, (int)NROWS);
    tcase_add_test(tc, test_length_and_errors);
    tcase_add_test(tc, test_no_leaks);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_speed);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
