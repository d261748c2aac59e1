/* The parse-tree layer and the text scanner of lib/sql, white-box: other
 * modules reach them through sql/tree.h and sql/sql_internal.h, so they are
 * tested here directly: token boundaries on hostile text, names (quoting,
 * qualified names read back), type names rendered from the tree, relation
 * references and CTE scoping, constants and parameters, allocation failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "testutil.h"

#include <alchdb/alchdb.h>

#include "internal.h"
#include "sql/sql_internal.h"
#include "sql/sql_priv.h"
#include "sql/tree.h"

/* ---- the scanner ----------------------------------------------------------------------- */

/* The tokens of s, spaces and comments left out, as "kind:text|...". */
static void tokens(const char *s, char *out, size_t cap)
{
    static const char *const names[] = {"end", "sp", "cm", "str", "qid", "w", "num", "par", "op", "p", "x"};
    size_t len = strlen(s), o = 0;
    out[0] = '\0';
    alchdb__sql_tok t;
    for (size_t pos = 0; pos < len;) {
        size_t next = alchdb__sql_token(s, len, pos, &t);
        ck_assert_uint_gt(next, pos); /* always progresses */
        ck_assert_uint_eq(t.start, pos);
        ck_assert_uint_eq(t.start + t.len, next);
        pos = next;
        if (t.kind == ALCHDB__SQL_TOK_SPACE || t.kind == ALCHDB__SQL_TOK_COMMENT)
            continue;
        o += (size_t)snprintf(out + o, cap - o, "%s%s:%.*s", o ? "|" : "", names[t.kind], (int)t.len, s + t.start);
        ck_assert_uint_lt(o, cap);
    }
}

START_TEST(test_scanner)
{
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"SELECT a,b FROM t", "w:SELECT|w:a|p:,|w:b|w:FROM|w:t"},
        {"'it''s' E'a\\'b' B'01' X'1F' N'n' U&'\\0041'", "str:'it''s'|str:E'a\\'b'|str:B'01'|str:X'1F'|str:N'n'|str:U&'\\0041'"},
        {"'a\\' , 'b'", "str:'a\\'|p:,|str:'b'"}, /* standard strings: a backslash is a character */
        {"$$ a ' b $$ $t$ $$ $t$ $1 $12x", "str:$$ a ' b $$|str:$t$ $$ $t$|par:$1|par:$12|w:x"},
        {"\"a\"\"b\" U&\"d\\0061\" \"x.y\"", "qid:\"a\"\"b\"|qid:U&\"d\\0061\"|qid:\"x.y\""},
        {"/* a /* nested */ still */ x -- to the end\ny", "w:x|w:y"},
        {"a$b _x é1 ü", "w:a$b|w:_x|w:é1|w:ü"},
        {"1 1.5 .5 1e9 1e-3 1.e2 1..2 0x1F 12abc", "num:1|num:1.5|num:.5|num:1e9|num:1e-3|num:1.e2|num:1|p:.|num:.2|num:0|w:x1F|num:12|w:abc"},
        {"a=-1 b<=>c d?|e f?&g h ? i j||k", "w:a|op:=|op:-|num:1|w:b|op:<=>|w:c|w:d|op:?||w:e|w:f|op:?&|w:g|w:h|op:?|w:i|w:j|op:|||w:k"},
        {"x::int y:=1 z[1].f (a)", "w:x|p:::|w:int|w:y|p::=|num:1|w:z|p:[|num:1|p:]|p:.|w:f|p:(|w:a|p:)"},
        {"a+/*c*/b a*-b a@-b", "w:a|op:+|w:b|w:a|op:*|op:-|w:b|w:a|op:@-|w:b"},
        {"'unterminated", "str:'unterminated"},
        {"\"unterminated", "qid:\"unterminated"},
        {"$tag$ unterminated", "str:$tag$ unterminated"},
        {"/* unterminated", ""},
        {"\\ { } $ ;", "x:\\|x:{|x:}|x:$|p:;"},
        {"be'x' e'y'", "w:be|str:'x'|str:e'y'"},
    };
    char got[1024];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tokens(cases[i].in, got, sizeof got);
        ck_assert_msg(!strcmp(got, cases[i].want), "%s\n got  %s\n want %s", cases[i].in, got, cases[i].want);
    }
    alchdb__sql_tok t;
    ck_assert_uint_eq(alchdb__sql_token("x", 1, 1, &t), 1);
    ck_assert_int_eq(t.kind, ALCHDB__SQL_TOK_END);
    const char *s = "  /* c */ -- d\n\t SELECT";
    ck_assert_uint_eq(alchdb__sql_skip_space_comments(s, 0, strlen(s)), strlen(s) - 6);
    ck_assert(alchdb__sql_word_is("SeLeCt", &(alchdb__sql_tok){ALCHDB__SQL_TOK_WORD, 0, 6}, "select"));
    ck_assert(!alchdb__sql_word_is("selects", &(alchdb__sql_tok){ALCHDB__SQL_TOK_WORD, 0, 7}, "select"));
}
END_TEST

/* Every byte value in every position: the scanner never stops short. */
START_TEST(test_scanner_any_bytes)
{
    char s[3];
    for (int a = 1; a < 256; a++)
        for (int b = 1; b < 256; b += 7) {
            s[0] = (char)a;
            s[1] = (char)b;
            s[2] = '\0';
            char out[64];
            tokens(s, out, sizeof out);
        }
}
END_TEST

/* ---- names ------------------------------------------------------------------------------ */

static char *quoted(const char *ident)
{
    alchdb__strbuf sb;
    alchdb__sb_init(&sb);
    alchdb__sql_quote_ident(&sb, ident);
    return alchdb__sb_finish(&sb);
}

START_TEST(test_quote_ident)
{
    static const char *const cases[][2] = {
        {"users", "users"},         {"Users", "\"Users\""},       {"a.b", "\"a.b\""},   {"a b", "\"a b\""},
        {"q\"x", "\"q\"\"x\""},     {"é", "\"é\""},               {"_x9", "_x9"},       {"9x", "\"9x\""},
        {"a$", "\"a$\""},           {"select", "\"select\""},     {"char", "\"char\""}, {"between", "\"between\""},
        {"join", "\"join\""},       {"abort", "abort"},           {"text", "text"},     {"", "\"\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *q = quoted(cases[i][0]);
        ck_assert_msg(!strcmp(q, cases[i][1]), "%s -> %s", cases[i][0], q);
        alchdb__free(q);
    }
    /* the keyword table is sorted (it is searched by bisection) */
    for (size_t i = 1; i < sql__quoted_keyword_count(); i++)
        ck_assert_msg(strcmp(sql__quoted_keyword(i - 1), sql__quoted_keyword(i)) < 0, "%s", sql__quoted_keyword(i));
}
END_TEST

START_TEST(test_qualified_name)
{
    static const struct {
        const char *in, *schema, *name;
    } ok[] = {
        {"users", NULL, "users"},
        {"App.Users", "app", "users"},
        {"\"App\".\"Users\"", "App", "Users"},
        {"public.\"a.b\"", "public", "a.b"},
        {"\"a.b\"", NULL, "a.b"},
        {" \"q\"\"x\" . t ", "q\"x", "t"},
        {"db.s.t", "s", "t"},
        {"\"ünï\".\"t.x\"", "ünï", "t.x"},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        char *schema = NULL, *name = NULL;
        ck_assert_msg(alchdb__sql_qualified_name(ok[i].in, (size_t)-1, &schema, &name) == 0, "%s: %s", ok[i].in,
                      alchdb_last_error_message());
        ck_assert_msg(ok[i].schema ? schema && !strcmp(schema, ok[i].schema) : !schema, "%s: schema %s", ok[i].in,
                      schema ? schema : "(null)");
        ck_assert_str_eq(name, ok[i].name);
        alchdb__free(schema);
        alchdb__free(name);
    }
    static const char *const bad[] = {"", "a b", "a.", ".a", "a..b", "a.b.c.d", "\"\"", "'a'", "a;b", "U&\"a\"", "1a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *schema = (char *)1, *name = (char *)1;
        ck_assert_msg(alchdb__sql_qualified_name(bad[i], (size_t)-1, &schema, &name) == ALCHDB_E_INVALID, "%s",
                      bad[i]);
        ck_assert_ptr_null(schema);
        ck_assert_ptr_null(name);
    }
}
END_TEST

/* ---- the tree ---------------------------------------------------------------------------- */

static alchdb__sql_tree *parse(const char *sql)
{
    alchdb__sql_tree *t = NULL;
    int rc = alchdb__sql_tree_parse(sql, (size_t)-1, &t, NULL);
    ck_assert_msg(rc == 0, "%s: %s", sql, alchdb_last_error_message());
    return t;
}

/* The first node of `type` under n (depth first), via the visitor. */
typedef struct find_ctx {
    const char *type;
    const alchdb__sql_node *found;
} find_ctx;

static int find_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                      uintptr_t *state)
{
    (void)key, (void)parent, (void)state;
    find_ctx *f = ud;
    if (alchdb__sql_node_is(n, f->type)) {
        f->found = n;
        return ALCHDB__SQL_VISIT_STOP;
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

static const alchdb__sql_node *find(const alchdb__sql_tree *t, const char *type)
{
    find_ctx f = {type, NULL};
    alchdb__sql_visit(alchdb__sql_tree_stmt(t, 0, NULL, NULL), 10000, 0, find_enter, NULL, &f);
    ck_assert_msg(f.found != NULL, "no %s", type);
    return f.found;
}

START_TEST(test_type_render)
{
    static const char *const cases[][2] = {
        {"int", "pg_catalog.int4"},
        {"\"char\"", "\"char\""},
        {"char", "pg_catalog.bpchar(1)"},
        {"char(10)", "pg_catalog.bpchar(10)"},
        {"\"My Type\"", "\"My Type\""},
        {"app.\"My Type\"[]", "app.\"My Type\"[]"},
        {"int[3][]", "pg_catalog.int4[3][]"},
        {"numeric(10, 2)", "pg_catalog.\"numeric\"(10, 2)"},
        {"varchar(20)", "pg_catalog.\"varchar\"(20)"},
        {"timestamp with time zone", "pg_catalog.timestamptz"},
        {"interval day to second(3)", "INTERVAL DAY TO SECOND(3)"},
        {"interval(2)", "INTERVAL(2)"},
        {"interval year", "INTERVAL YEAR"},
        {"interval", "pg_catalog.\"interval\""},
        {"interval[]", "pg_catalog.\"interval\"[]"},
        {"interval minute to second[]", "INTERVAL MINUTE TO SECOND[]"},
        {"\"ünï\".t", "\"ünï\".t"},
        {"text", "text"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT NULL::%s", cases[i][0]);
        alchdb__sql_tree *t = parse(sql);
        const alchdb__sql_node *tn = alchdb__sql_node_get(find(t, "TypeCast"), "typeName");
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        ck_assert_int_eq(alchdb__sql_type_render(tn, &sb), 0);
        char *got = alchdb__sb_finish(&sb);
        ck_assert_msg(!strcmp(got, cases[i][1]), "%s -> %s, want %s", cases[i][0], got, cases[i][1]);
        alchdb__free(got);
        alchdb__sql_tree_free(t);
    }
    /* the rendering reads back as the same type */
    alchdb__sql_tree *t = parse("CREATE TABLE x (a \"char\", b char, c \"My \"\"T\"\"\".\"ty.pe\"(7))");
    const alchdb__sql_node *cols = alchdb__sql_node_get(alchdb__sql_tree_stmt(t, 0, NULL, NULL), "tableElts");
    const char *want[] = {"\"char\"", "pg_catalog.bpchar(1)", "\"My \"\"T\"\"\".\"ty.pe\"(7)"};
    for (size_t i = 0; i < 3; i++) {
        alchdb__strbuf sb;
        alchdb__sb_init(&sb);
        ck_assert_int_eq(alchdb__sql_type_render(alchdb__sql_node_get(alchdb__sql_node_item(cols, i), "typeName"), &sb),
                         0);
        char *got = alchdb__sb_finish(&sb);
        ck_assert_str_eq(got, want[i]);
        alchdb__free(got);
    }
    alchdb__sql_tree_free(t);
}
END_TEST

START_TEST(test_refs_and_values)
{
    alchdb__sql_tree *t = parse("SELECT x.\"Col\", y.*, -7, 0, 'it''s', 1.5, true, NULL, B'101', $3, "
                                "\"Sch.x\".\"F n\"(1), lower('A') FROM db.\"Sch.x\".\"t.y\" AS x, pg_temp.tmp y");
    const alchdb__sql_node *stmt = alchdb__sql_tree_stmt(t, 0, NULL, NULL);
    const alchdb__sql_node *from = alchdb__sql_node_get(stmt, "fromClause");
    alchdb__sql_relref r;
    ck_assert(alchdb__sql_relref_of(alchdb__sql_node_item(from, 0), &r));
    ck_assert_str_eq(r.catalog, "db");
    ck_assert_str_eq(r.schema, "Sch.x");
    ck_assert_str_eq(r.name, "t.y");
    ck_assert_str_eq(r.alias, "x");
    ck_assert(!r.cte && !r.temp);
    ck_assert(alchdb__sql_relref_of(alchdb__sql_node_item(from, 1), &r));
    ck_assert(r.temp);
    const alchdb__sql_node *tl = alchdb__sql_node_get(stmt, "targetList");
    const char *f[4];
    bool star;
    ck_assert_uint_eq(alchdb__sql_column_of(alchdb__sql_node_get(alchdb__sql_node_item(tl, 0), "val"), f, 4, &star), 2);
    ck_assert_str_eq(f[1], "Col");
    ck_assert(!star);
    ck_assert_uint_eq(alchdb__sql_column_of(alchdb__sql_node_get(alchdb__sql_node_item(tl, 1), "val"), f, 4, &star), 2);
    ck_assert(star);
    static const struct {
        int kind;
        const char *text;
    } consts[] = {
        {ALCHDB__SQL_CONST_INT, "-7"},    {ALCHDB__SQL_CONST_INT, "0"},     {ALCHDB__SQL_CONST_STRING, "it's"},
        {ALCHDB__SQL_CONST_FLOAT, "1.5"}, {ALCHDB__SQL_CONST_BOOL, "true"}, {ALCHDB__SQL_CONST_NULL, "NULL"},
        {ALCHDB__SQL_CONST_BITS, "b101"},
    };
    for (size_t i = 0; i < sizeof consts / sizeof consts[0]; i++) {
        alchdb__sql_const k;
        ck_assert_msg(alchdb__sql_const_of(t, alchdb__sql_node_get(alchdb__sql_node_item(tl, 2 + i), "val"), &k),
                      "constant %zu", i);
        ck_assert_int_eq(k.kind, consts[i].kind);
        ck_assert_str_eq(k.text, consts[i].text);
    }
    ck_assert_int_eq(alchdb__sql_param_of(alchdb__sql_node_get(alchdb__sql_node_item(tl, 9), "val")), 3);
    const char *schema, *name;
    ck_assert(alchdb__sql_func_of(alchdb__sql_node_get(alchdb__sql_node_item(tl, 10), "val"), &schema, &name));
    ck_assert_str_eq(schema, "Sch.x");
    ck_assert_str_eq(name, "F n");
    ck_assert(alchdb__sql_func_of(alchdb__sql_node_get(alchdb__sql_node_item(tl, 11), "val"), &schema, &name));
    ck_assert_ptr_null(schema);
    ck_assert_str_eq(name, "lower");
    alchdb__sql_tree_free(t);
}
END_TEST

/* CTE references are resolved once at parse time: scoping as PostgreSQL's. */
typedef struct rels {
    char out[512];
} rels;

static int rel_enter(void *ud, const alchdb__sql_node *n, const char *key, const alchdb__sql_node *parent,
                     uintptr_t *state)
{
    (void)key, (void)parent, (void)state;
    rels *r = ud;
    alchdb__sql_relref ref;
    if (alchdb__sql_relref_of(n, &ref)) {
        size_t o = strlen(r->out);
        snprintf(r->out + o, sizeof r->out - o, "%s%s%s", o ? " " : "", ref.name, ref.cte ? "(cte)" : "");
    }
    return ALCHDB__SQL_VISIT_DESCEND;
}

START_TEST(test_cte_scoping)
{
    static const char *const cases[][2] = {
        {"WITH x AS (SELECT * FROM x) SELECT * FROM x", "x x(cte)"},
        {"WITH RECURSIVE x AS (SELECT 1 UNION ALL SELECT * FROM x) SELECT * FROM x", "x(cte) x(cte)"},
        {"WITH a AS (SELECT 1), b AS (SELECT * FROM a, c) SELECT * FROM b, a, d", "a(cte) c b(cte) a(cte) d"},
        {"SELECT * FROM (WITH q AS (SELECT 1) SELECT * FROM q) s, q", "q(cte) q"},
        {"WITH t AS (SELECT 1) INSERT INTO t SELECT * FROM t", "t t(cte)"},
        {"WITH t AS (SELECT 1) UPDATE t SET v = 1 FROM t AS u", "t t(cte)"},
        {"WITH t AS (SELECT 1) DELETE FROM t USING t u", "t t(cte)"},
        {"WITH t AS (SELECT 1) SELECT * FROM s.t, t", "t t(cte)"},
        {"WITH w AS (DELETE FROM w RETURNING *) SELECT * FROM w", "w w(cte)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        alchdb__sql_tree *t = parse(cases[i][0]);
        rels r = {{0}};
        ck_assert_int_eq(alchdb__sql_visit(alchdb__sql_tree_stmt(t, 0, NULL, NULL), 1000, 0, rel_enter, NULL, &r), 0);
        ck_assert_msg(!strcmp(r.out, cases[i][1]), "%s: %s, want %s", cases[i][0], r.out, cases[i][1]);
        alchdb__sql_tree_free(t);
    }
    /* ... and the analysis reports a DML target named like a CTE as written */
    alchdb_sql_analysis *a;
    ck_assert_int_eq(alchdb_sql_analyze("WITH t AS (SELECT 1) INSERT INTO t SELECT * FROM t", (size_t)-1, &a), 0);
    ck_assert_uint_eq(alchdb_sql_stmt_table_count(a, 0, ALCHDB_SQL_TABLES_WRITTEN), 1);
    ck_assert_str_eq(alchdb_sql_stmt_table(a, 0, ALCHDB_SQL_TABLES_WRITTEN, 0), "t");
    ck_assert_uint_eq(alchdb_sql_stmt_table_count(a, 0, ALCHDB_SQL_TABLES_READ), 0);
    alchdb_sql_analysis_free(a);
}
END_TEST

START_TEST(test_tree_errors)
{
    alchdb__sql_tree *t = (alchdb__sql_tree *)&t;
    int64_t off = 0;
    ck_assert_int_eq(alchdb__sql_tree_parse("SELECT FROM WHERE", (size_t)-1, &t, &off), ALCHDB_E_PARSE);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(off, 12);
    ck_assert_int_eq(alchdb__sql_tree_parse(NULL, 0, &t, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__sql_tree_parse("SELECT 1", 8, NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb__sql_tree_parse("SELECT '\xff'", (size_t)-1, &t, NULL), ALCHDB_E_INVALID);
    t = parse("SELECT 1; SELECT 2");
    ck_assert_uint_eq(alchdb__sql_tree_count(t), 2);
    size_t offset, length;
    ck_assert(alchdb__sql_node_is(alchdb__sql_tree_stmt(t, 1, &offset, &length), "SelectStmt"));
    ck_assert_uint_eq(offset, 9);
    ck_assert_ptr_null(alchdb__sql_tree_stmt(t, 2, NULL, NULL));
    /* accessors on the wrong kind of node answer "nothing" */
    const alchdb__sql_node *s = alchdb__sql_tree_stmt(t, 0, NULL, NULL);
    ck_assert_ptr_null(alchdb__sql_node_get(NULL, "x"));
    ck_assert_ptr_null(alchdb__sql_node_item(s, 0));
    ck_assert_uint_eq(alchdb__sql_node_count(s), 0);
    ck_assert_ptr_null(alchdb__sql_node_str(s));
    ck_assert_int_eq(alchdb__sql_node_int(s, -3), -3);
    ck_assert(!alchdb__sql_node_true(s));
    alchdb__sql_relref r;
    ck_assert(!alchdb__sql_relref_of(s, &r));
    ck_assert_int_eq(alchdb__sql_param_of(s), 0);
    alchdb__sql_tree_free(t);
    alchdb__sql_tree_free(NULL);
}
END_TEST

/* Every allocation of a parse, a walk and the name helpers may fail:
 * ALCHDB_E_NOMEM, nothing leaks. */
START_TEST(test_allocation_failures)
{
    const char *sql = "WITH a AS (SELECT * FROM \"x.y\" WHERE v IN (1, 2, 3)) SELECT lower(n), * FROM a, b.c "
                      "WHERE id = $1 AND t::int[] IS NOT NULL; UPDATE t SET v = 1 WHERE id = 2";
    alchdb_sql_cache_clear();
    ck_assert_int_eq(alchdb_set_allocator(&failalloc), 0);
    long before = alchdb__alloc_outstanding();
    bool done = false;
    for (long n = 1; n < 5000 && !done; n++) {
        failalloc_at = n;
        failalloc_calls = 0;
        alchdb__sql_tree *t = NULL;
        int rc = alchdb__sql_tree_parse(sql, (size_t)-1, &t, NULL);
        if (rc == 0) {
            char *schema = NULL, *name = NULL;
            rc = alchdb__sql_qualified_name("\"Sch\".\"t.x\"", (size_t)-1, &schema, &name);
            alchdb__free(schema);
            alchdb__free(name);
            done = rc == 0 && failalloc_calls < failalloc_at;
        }
        ck_assert_msg(rc == 0 || rc == ALCHDB_E_NOMEM, "allocation %ld: %d", n, rc);
        alchdb__sql_tree_free(t);
        ck_assert_int_eq(alchdb__alloc_outstanding(), before);
    }
    ck_assert(done);
    failalloc_at = -1;
    ck_assert_int_eq(alchdb_set_allocator(NULL), 0);
}
END_TEST

/* ---- the walker of docs/sql.md, as written there ---- */
static int count_tables(void *ud, const alchdb__sql_node *n, const char *key,
                        const alchdb__sql_node *parent, uintptr_t *state)
{
    alchdb__sql_relref r;
    if (alchdb__sql_relref_of(n, &r) && !r.cte)
        ++*(size_t *)ud; /* r.schema and r.name: two fields, never split on dots */
    return ALCHDB__SQL_VISIT_DESCEND;
}

static size_t tables_named(const char *sql)
{
    size_t n = 0;
    alchdb__sql_tree *t;
    if (alchdb__sql_tree_parse(sql, (size_t)-1, &t, NULL) == 0) {
        for (size_t i = 0; i < alchdb__sql_tree_count(t); i++)
            alchdb__sql_visit(alchdb__sql_tree_stmt(t, i, NULL, NULL), alchdb__sql_tree_depth(t), 0,
                              count_tables, NULL, &n);
        alchdb__sql_tree_free(t);
    }
    return n;
}
/* ---- end of the docs/sql.md walker ---- */

START_TEST(test_doc_walker)
{
    ck_assert_uint_eq(tables_named("WITH c AS (SELECT * FROM a) SELECT * FROM c, b.\"x.y\"; DELETE FROM d"), 3);
    ck_assert_uint_eq(tables_named("SELEC nothing"), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sql-layer");
    TCase *tc = tcase_create("layer");
    tcase_add_test(tc, test_scanner);
    tcase_add_test(tc, test_scanner_any_bytes);
    tcase_add_test(tc, test_quote_ident);
    tcase_add_test(tc, test_qualified_name);
    tcase_add_test(tc, test_type_render);
    tcase_add_test(tc, test_refs_and_values);
    tcase_add_test(tc, test_cte_scoping);
    tcase_add_test(tc, test_tree_errors);
    tcase_add_test(tc, test_allocation_failures);
    tcase_add_test(tc, test_doc_walker);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
