/* Long and deep legal SQL never crashes the library: tens of thousands of
 * chained "+" and "||", UNION ALL arms, nested parentheses, sub-selects and
 * NOTs, long IN lists. Each statement of the corpus goes through the SQL
 * analysis, the monitor, the migration assessor and the internal entry
 * points other modules use, on the main thread and on a thread with a
 * 256 KiB stack. A statement too deep to analyse gets the conservative
 * answers and ALCHDB_E_RANGE as its status; the other statements of its
 * script are analysed in full.
 *
 * White-box where the internal entry points of lib/sql (fingerprint, parse
 * tree, row target, tree layer) are checked: other modules reach deep input
 * through them. (The routing decision and the advisor need servers:
 * tests/sql/test_sql_live.c.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include <alchdb/alchdb.h>

#include "internal.h"
#include "sql/sql_internal.h"
#include "sql/tree.h"

#define SMALL_STACK (256 * 1024)

/* ---- the corpus ------------------------------------------------------------------ */

typedef struct gen {
    const char *name;
    const char *head, *unit, *mid, *tail_unit, *tail;
} gen;

/* head + unit x n + mid + tail_unit x n + tail */
static const gen shapes[] = {
    {"plus", "SELECT 1", " + 1", "", "", " FROM t"},
    {"concat", "SELECT 'a'", " || 'b'", "", "", ""},
    {"union", "SELECT 1", " UNION ALL SELECT 2", "", "", ""},
    {"parens", "SELECT ", "(", "1", ")", ""},
    {"scalar_subselects", "SELECT ", "(SELECT ", "1", ")", ""},
    {"from_subselects", "SELECT * FROM ", "(SELECT * FROM ", "t", ") x", ""},
    {"not", "SELECT ", "NOT ", "true", "", ""},
    {"in_list", "SELECT * FROM t WHERE id IN (0", ", 7", "", "", ")"},
    {"and", "SELECT * FROM t WHERE a = 0", " AND a = 1", "", "", ""},
    {"case", "SELECT ", "CASE WHEN a THEN ", "1", " END", " FROM t"},
    {"funcs", "SELECT ", "abs(", "1", ")", ""},
    {"arrays", "SELECT ", "ARRAY[", "1", "]", ""},
    {"casts", "SELECT 1", "::int", "", "", ""},
    {"row", "SELECT ", "ROW(", "1", ")", ""},
    {"exists", "SELECT ", "EXISTS (SELECT ", "1", ")", ""},
    {"between", "SELECT ", "NOT x BETWEEN 1 AND ", "2", "", " FROM t"},
    {"nested_with", "", "WITH c AS (", "SELECT 1", ") SELECT * FROM c", ""},
    {"tilde", "SELECT ", "~ ", "1", "", ""},
    {"joins", "SELECT * FROM a", " CROSS JOIN a", "", "", ""},
    {"update_plus", "UPDATE t SET v = v", " + 1", "", "", " WHERE id = 1"},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static char *make(const gen *g, size_t n)
{
    size_t cap = strlen(g->head) + strlen(g->mid) + strlen(g->tail) + 1 +
                 n * (strlen(g->unit) + strlen(g->tail_unit));
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    char *p = stpcpy(s, g->head);
    for (size_t i = 0; i < n; i++)
        p = stpcpy(p, g->unit);
    p = stpcpy(p, g->mid);
    for (size_t i = 0; i < n; i++)
        p = stpcpy(p, g->tail_unit);
    strcpy(p, g->tail);
    return s;
}

/* ---- running on a small stack ------------------------------------------------------ */

typedef void (*body_fn)(void *arg);

typedef struct run_ctx {
    body_fn fn;
    void *arg;
} run_ctx;

static void *trampoline(void *p)
{
    run_ctx *r = p;
    r->fn(r->arg);
    return NULL;
}

/* fn(arg) on a thread with a stack of `stack` bytes (0: here). Check's
 * assertions in that thread end the forked test process, which fails it. */
static void on_stack(size_t stack, body_fn fn, void *arg)
{
    if (!stack) {
        fn(arg);
        return;
    }
    pthread_attr_t attr;
    ck_assert_int_eq(pthread_attr_init(&attr), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&attr, stack), 0);
    run_ctx r = {fn, arg};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, &attr, trampoline, &r), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
}

/* ---- the checks ------------------------------------------------------------------------ */

typedef struct job {
    const char *sql;
    bool expect_unanalysed; /* too deep for the library */
    bool expect_parse_error; /* refused by PostgreSQL's parser itself */
} job;

static void check_analysis(void *arg)
{
    const job *j = arg;
    alchdb_sql_analysis *a = NULL;
    int rc = alchdb_sql_analyze(j->sql, (size_t)-1, &a);
    if (j->expect_parse_error) {
        ck_assert_int_eq(rc, ALCHDB_E_PARSE);
        ck_assert_ptr_nonnull(alchdb_sql_analysis_error(a, NULL));
        alchdb_sql_analysis_free(a);
        return;
    }
    ck_assert_msg(rc == 0, "rc %d: %s", rc, alchdb_last_error_message());
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 1);
    uint32_t f;
    ck_assert_int_eq(alchdb_sql_stmt_flags(a, 0, &f), 0);
    const char *msg = (const char *)1;
    int st = alchdb_sql_stmt_status(a, 0, &msg);
    if (j->expect_unanalysed) {
        ck_assert_int_eq(st, ALCHDB_E_RANGE);
        ck_assert_ptr_nonnull(msg);
        ck_assert_ptr_nonnull(strstr(msg, "too deeply"));
        ck_assert(!(f & ALCHDB_SQL_READ_ONLY));
        ck_assert(!(f & ALCHDB_SQL_CACHEABLE));
        ck_assert_str_eq(alchdb_sql_stmt_not_cacheable_reason(a, 0),
                         alchdb_sql_stmt_kind(a, 0) == ALCHDB_SQL_SELECT ? "too_complex" : "not_select");
        ck_assert_uint_eq(alchdb_sql_stmt_table_count(a, 0, ALCHDB_SQL_TABLES_READ), 0);
    } else {
        ck_assert_msg(st == 0, "status %d: %s", st, msg ? msg : "");
        ck_assert_ptr_null(msg);
        int kind = alchdb_sql_stmt_kind(a, 0);
        /* The deep reads stay what they are: read-only and cacheable. */
        if (kind == ALCHDB_SQL_SELECT)
            ck_assert_msg(f & ALCHDB_SQL_READ_ONLY, "%.60s...: not read-only", j->sql);
        else
            ck_assert(!(f & ALCHDB_SQL_READ_ONLY));
    }
    char *json = NULL;
    ck_assert_int_eq(alchdb_sql_analysis_to_json(a, &json), 0);
    ck_assert_ptr_nonnull(strstr(json, j->expect_unanalysed ? "\"unanalysed\":\"" : "\"unanalysed\":null"));
    alchdb_free(json);
    alchdb_sql_analysis_free(a);
}

static void check_internal(void *arg)
{
    const job *j = arg;
    uint64_t fp = 0;
    char *norm = NULL;
    int rc = alchdb__sql_fingerprint(j->sql, (size_t)-1, &fp, &norm);
    ck_assert_int_eq(rc, j->expect_parse_error ? ALCHDB_E_PARSE : j->expect_unanalysed ? ALCHDB_E_RANGE : 0);
    ck_assert(rc == 0 ? norm != NULL : norm == NULL);
    alchdb__free(norm);
    char *tree = NULL;
    rc = alchdb__sql_parse_tree(j->sql, (size_t)-1, &tree, NULL);
    ck_assert(rc == 0 || rc == ALCHDB_E_RANGE || (j->expect_parse_error && rc == ALCHDB_E_PARSE));
    ck_assert(rc == 0 ? tree != NULL : tree == NULL);
    alchdb__free(tree);
    alchdb__sql_row_target *t = NULL;
    rc = alchdb__sql_row_target_parse(j->sql, (size_t)-1, &t);
    ck_assert_int_eq(rc, j->expect_parse_error ? ALCHDB_E_PARSE : 0);
    alchdb__sql_row_target_free(t);
}

static void check_monitor(void *arg)
{
    const job *j = arg;
    alchdb_monitor *m = NULL;
    ck_assert_int_eq(alchdb_monitor_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_monitor_record_simple(m, j->sql, 1000, NULL), 0);
    char *json = NULL;
    ck_assert_int_eq(alchdb_monitor_patterns_to_json(m, ALCHDB_MONITOR_SORT_CALLS, 0, 0, &json), 0);
    /* Texts over the monitor's max_parse_length (1 MiB) are grouped unparsed
     * without being parsed. */
    const char *want = j->expect_parse_error || strlen(j->sql) > (1u << 20) ? "\"kind\":\"unparsed\""
                       : j->expect_unanalysed                              ? "\"kind\":\"unanalysed\""
                                                                           : "\"kind\":\"parsed\"";
    ck_assert_msg(strstr(json, want) != NULL, "monitor: %s not in %.200s", want, json);
    alchdb_free(json);
    alchdb_monitor_free(m);
}

static void check_migration(void *arg)
{
    const job *j = arg;
    alchdb_migration *m = NULL;
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "deep.sql", j->sql, (size_t)-1), 0);
    const char *err = alchdb_migration_file_error(m, 0, NULL, NULL);
    if (err) /* too deep (or refused by PostgreSQL): unknown risk, never a guess */
        ck_assert_int_eq(alchdb_migration_max_risk(m), ALCHDB_RISK_UNKNOWN);
    ck_assert(err || (!j->expect_unanalysed && !j->expect_parse_error));
    alchdb_migration_free(m);
}

static void check_all(void *arg)
{
    check_analysis(arg);
    check_internal(arg);
    check_monitor(arg);
    check_migration(arg);
}

/* ---- cases --------------------------------------------------------------------------- */

/* Every shape at sizes around where libpg_query would overflow a 256 KiB
 * stack (a few hundred levels) and well past it: analysed in full, on the
 * small stack too. */
static void shapes_at(const gen *g, const size_t *sizes, size_t nsizes)
{
    for (size_t k = 0; k < nsizes; k++) {
        char *sql = make(g, sizes[k]);
        job j = {sql, false, false};
        alchdb_sql_cache_clear();
        on_stack(SMALL_STACK, check_analysis, &j);
        alchdb_sql_cache_clear();
        on_stack(SMALL_STACK, check_internal, &j);
        free(sql);
    }
}

START_TEST(test_shapes_analysed)
{
    static const size_t sizes[] = {40, 400}; /* on 256 KiB: libpg_query on the thread itself, on a helper */
    shapes_at(&shapes[_i], sizes, sizeof sizes / sizeof sizes[0]);
}
END_TEST

START_TEST(test_shapes_analysed_large)
{
    static const size_t sizes[] = {150, 1000};
    shapes_at(&shapes[_i], sizes, sizeof sizes / sizeof sizes[0]);
}
END_TEST

/* Tens of thousands: what PostgreSQL's grammar accepts is analysed (on a
 * helper thread when the caller's stack is small), what its parser refuses
 * ("memory exhausted" past 10000 nested levels) is a syntax error, what is
 * deeper than the library follows is unanalysed. Through every consumer. */
START_TEST(test_tens_of_thousands)
{
    static const struct {
        const char *shape;
        size_t n;
        bool unanalysed, parse_error;
    } cases[] = {
        {"plus", 20000, false, false},       {"concat", 20000, false, false},
        {"union", 10000, false, false},      {"in_list", 100000, false, false},
        {"and", 20000, false, false},        {"parens", 5000, false, false},
        {"parens", 20000, false, true},      {"scalar_subselects", 20000, false, true},
        {"from_subselects", 20000, false, true}, {"not", 5000, false, false},
        {"plus", 140000, true, false},       {"concat", 140000, true, false},
        {"union", 70000, true, false},       {"update_plus", 140000, true, false},
    };
    size_t stack = _i ? SMALL_STACK : 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const gen *g = NULL;
        for (size_t k = 0; k < NSHAPES; k++)
            if (!strcmp(shapes[k].name, cases[c].shape))
                g = &shapes[k];
        ck_assert_ptr_nonnull(g);
        char *sql = make(g, cases[c].n);
        job j = {sql, cases[c].unanalysed, cases[c].parse_error};
        alchdb_sql_cache_clear();
        on_stack(stack, check_all, &j);
        free(sql);
    }
}
END_TEST

/* A script with a statement too deep to analyse: the others are analysed in
 * full, with their own spans. */
START_TEST(test_script_with_unanalysed_statement)
{
    gen g = shapes[0];
    char *deep = make(&g, 140000);
    size_t n = strlen(deep);
    char *sql = malloc(n + 128);
    ck_assert_ptr_nonnull(sql);
    sprintf(sql, "SELECT * FROM a WHERE id = 1;\n%s;\nDELETE FROM zz WHERE id = 2", deep);
    free(deep);
    alchdb_sql_analysis *a = NULL;
    ck_assert_int_eq(alchdb_sql_analyze(sql, (size_t)-1, &a), 0);
    ck_assert_uint_eq(alchdb_sql_analysis_count(a), 3);
    uint32_t f;
    alchdb_sql_stmt_flags(a, 0, &f);
    ck_assert(f & ALCHDB_SQL_CACHEABLE);
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 0, ALCHDB_SQL_TABLES_READ, 0), "a");
    ck_assert_int_eq(alchdb_sql_stmt_status(a, 1, NULL), ALCHDB_E_RANGE);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 1), ALCHDB_SQL_SELECT);
    alchdb_sql_stmt_flags(a, 1, &f);
    ck_assert(!(f & ALCHDB_SQL_READ_ONLY));
    size_t off, len;
    alchdb_sql_stmt_span(a, 1, &off, &len);
    ck_assert_uint_eq(off, 30);
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(alchdb_sql_stmt_status(a, 2, NULL), 0);
    ck_assert_int_eq(alchdb_sql_stmt_kind(a, 2), ALCHDB_SQL_DELETE);
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 2, ALCHDB_SQL_TABLES_WRITTEN, 0), "zz");
    alchdb_sql_stmt_span(a, 2, &off, NULL);
    ck_assert_uint_eq(off, 30 + n + 2);
    /* two unanalysed statements share one fingerprint */
    uint64_t fp1, fp2;
    alchdb_sql_stmt_fingerprint(a, 1, &fp1);
    alchdb_sql_analysis_free(a);
    gen g2 = shapes[1];
    deep = make(&g2, 140000);
    ck_assert_int_eq(alchdb_sql_analyze(deep, (size_t)-1, &a), 0);
    alchdb_sql_stmt_fingerprint(a, 0, &fp2);
    ck_assert(fp1 == fp2);
    alchdb_sql_analysis_free(a);
    free(deep);
    free(sql);
}
END_TEST

/* The migration assessor reads statements through the tree layer and walks
 * expressions with its iterative visitor: a volatile default at the bottom
 * of a chain far deeper than jansson's 2,048 levels is found on a 256 KiB
 * stack. */
static void assess_default(void *arg)
{
    const char *sql = arg;
    alchdb_migration *m = NULL;
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "deep.sql", sql, (size_t)-1), 0);
    ck_assert_msg(alchdb_migration_file_error(m, 0, NULL, NULL) == NULL, "refused: %s",
                  alchdb_migration_file_error(m, 0, NULL, NULL));
    uint32_t f = 0;
    ck_assert_int_eq(alchdb_migration_stmt_flags(m, 0, 0, &f), 0);
    ck_assert_msg(f & ALCHDB_MIG_REWRITES_TABLE, "a volatile default rewrites the table: flags 0x%x", f);
    alchdb_migration_free(m);
}

START_TEST(test_migration_deep_default)
{
    /* random() at the bottom of a left-deep chain */
    gen g = {"default", "ALTER TABLE t ADD COLUMN c float DEFAULT random()", " + 1", "", "", ""};
    static const size_t sizes[] = {250, 3000, 20000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        char *sql = make(&g, sizes[k]);
        on_stack(SMALL_STACK, assess_default, sql);
        free(sql);
    }
}
END_TEST

/* The kind of an unanalysed statement comes from its first words. */
START_TEST(test_unanalysed_kinds)
{
    static const struct {
        const char *head;
        int kind;
    } heads[] = {
        {"SELECT 1", ALCHDB_SQL_SELECT},
        {"(SELECT 1", ALCHDB_SQL_SELECT},
        {"WITH x AS (SELECT 1) SELECT 1", ALCHDB_SQL_SELECT},
        {"WITH x AS (SELECT 1) UPDATE t SET v = 1", ALCHDB_SQL_UPDATE},
        {"/* c */ INSERT INTO t SELECT 1", ALCHDB_SQL_INSERT},
        {"DELETE FROM t WHERE v = 1", ALCHDB_SQL_DELETE},
        {"CREATE TABLE t AS SELECT 1", ALCHDB_SQL_DDL},
        {"EXPLAIN SELECT 1", ALCHDB_SQL_UTILITY},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        gen g = {"x", heads[i].head, " + 1", "", "", strchr(heads[i].head, '(') == heads[i].head ? ")" : ""};
        char *sql = make(&g, 140000);
        alchdb_sql_analysis *a = NULL;
        ck_assert_int_eq(alchdb_sql_analyze(sql, (size_t)-1, &a), 0);
        ck_assert_int_eq(alchdb_sql_stmt_status(a, 0, NULL), ALCHDB_E_RANGE);
        ck_assert_msg(alchdb_sql_stmt_kind(a, 0) == heads[i].kind, "%s: kind %d", heads[i].head,
                      alchdb_sql_stmt_kind(a, 0));
        uint32_t f;
        alchdb_sql_stmt_flags(a, 0, &f);
        ck_assert(!(f & ALCHDB_SQL_READ_ONLY));
        alchdb_sql_analysis_free(a);
        free(sql);
    }
}
END_TEST

/* The layer's visitor: a depth limit leaves the deeper nodes out and says
 * so; document order with the WITH clause first. */
typedef struct vis {
    size_t nodes, max_depth_seen;
    char order[256];
} vis;

static int count_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                       uintptr_t *state)
{
    (void)key, (void)parent;
    vis *v = ud;
    v->nodes++;
    *state += 1;
    if (*state > v->max_depth_seen)
        v->max_depth_seen = *state;
    alchdb__sql_relref r;
    const char *name = NULL, *mark = " ";
    if (alchdb__sql_relref_of(n, &r)) {
        name = r.name;
        mark = r.cte ? "(cte) " : " ";
    } else if (alchdb__sql_node_is(n, "CommonTableExpr")) {
        name = alchdb__sql_field_str(n, "ctename");
        mark = "= ";
    }
    if (name && strlen(v->order) + strlen(name) + 8 < sizeof v->order) {
        strcat(v->order, name);
        strcat(v->order, mark);
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

START_TEST(test_visitor)
{
    gen g = shapes[0];
    char *sql = make(&g, 2000);
    alchdb__sql_tree *t = NULL;
    ck_assert_int_eq(alchdb__sql_tree_parse(sql, (size_t)-1, &t, NULL), 0);
    ck_assert_uint_gt(alchdb__sql_tree_depth(t), 4000);
    vis v = {0};
    const alchdb__sql_node *root = alchdb__sql_tree_stmt(t, 0, NULL, NULL);
    ck_assert_int_eq(alchdb__sql_visit(root, 100, 0, count_enter, NULL, &v), ALCHDB_E_RANGE);
    ck_assert_uint_eq(v.max_depth_seen, 100);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "too deeply"));
    memset(&v, 0, sizeof v);
    ck_assert_int_eq(alchdb__sql_visit(root, (size_t)1 << 20, 0, count_enter, NULL, &v), 0);
    ck_assert_uint_gt(v.max_depth_seen, 2000);
    alchdb__sql_tree_free(t);
    free(sql);

    /* WITH first, CTE scoping resolved once: the inner "x" is the table */
    ck_assert_int_eq(alchdb__sql_tree_parse("SELECT * FROM y, x WHERE a IN (SELECT b FROM z) "
                                            "AND 0 = 0 LIMIT 1", (size_t)-1, &t, NULL), 0);
    alchdb__sql_tree_free(t);
    ck_assert_int_eq(alchdb__sql_tree_parse("WITH x AS (SELECT * FROM x), w AS (SELECT * FROM x) "
                                            "SELECT * FROM w, x, y", (size_t)-1, &t, NULL), 0);
    memset(&v, 0, sizeof v);
    ck_assert_int_eq(alchdb__sql_visit(alchdb__sql_tree_stmt(t, 0, NULL, NULL), 1000, 0, count_enter, NULL, &v), 0);
    ck_assert_str_eq(v.order, "x= x w= x(cte) w(cte) x(cte) y ");
    alchdb__sql_tree_free(t);
}
END_TEST

/* "large": the tens-of-thousands corpus (seconds of parsing; the valgrind
 * phase leaves it out). Otherwise everything else. */
int main(int argc, char **argv)
{
    bool large = argc > 1 && !strcmp(argv[1], "large");
    Suite *s = suite_create(large ? "sql-deep-large" : "sql-deep");
    TCase *tc = tcase_create("deep");
    tcase_set_timeout(tc, 600);
    if (large) {
        tcase_add_loop_test(tc, test_shapes_analysed_large, 0, (int)NSHAPES);
        tcase_add_loop_test(tc, test_tens_of_thousands, 0, 2);
        tcase_add_test(tc, test_unanalysed_kinds);
    } else {
        tcase_add_loop_test(tc, test_shapes_analysed, 0, (int)NSHAPES);
        tcase_add_test(tc, test_script_with_unanalysed_statement);
        tcase_add_test(tc, test_visitor);
        tcase_add_test(tc, test_migration_deep_default);
    }
    suite_add_tcase(s, tc);
    return run_suite(s);
}
