/* Static migration assessment (no server): rules, state across statements and
 * files, plan, JSON shape, bad input. */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include <alchdb/alchdb.h>
#include <alchdb/migration.h>

#include "testutil.h"

static alchdb_migration *assess(const char *sql)
{
    alchdb_migration *m = NULL;
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "m.sql", sql, (size_t)-1), 0);
    return m;
}

static bool has_rule(const alchdb_migration *m, size_t file, const char *rule)
{
    for (size_t s = 0; s < alchdb_migration_stmt_count(m, file); s++)
        for (size_t f = 0; f < alchdb_migration_finding_count(m, file, s); f++)
            if (!strcmp(alchdb_migration_finding(m, file, s, f, "rule"), rule))
                return true;
    return false;
}

static int lock_of(const alchdb_migration *m, size_t stmt, const char *rel)
{
    for (size_t i = 0; i < alchdb_migration_lock_count(m, 0, stmt); i++) {
        int mode;
        const char *r = alchdb_migration_lock(m, 0, stmt, i, &mode);
        if (!strcmp(r, rel))
            return mode;
    }
    return 0;
}

static const struct rule_case {
    const char *sql;
    int risk;
    const char *rule;    /* must be present (or NULL) */
    const char *absent;  /* must not be present (or NULL) */
} rule_cases[] = {
    {"ALTER TABLE t ADD COLUMN b int", ALCHDB_RISK_LOW, NULL, "adding-required-field"},
    {"ALTER TABLE t ADD COLUMN b int NOT NULL", ALCHDB_RISK_MEDIUM, "adding-required-field", NULL},
    {"ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0", ALCHDB_RISK_LOW, NULL, "adding-required-field"},
    {"ALTER TABLE t ADD COLUMN b float8 DEFAULT random()", ALCHDB_RISK_HIGH, "adding-field-with-volatile-default", NULL},
    {"ALTER TABLE t ADD COLUMN b timestamptz DEFAULT now()", ALCHDB_RISK_LOW, NULL, "adding-field-with-volatile-default"},
    {"ALTER TABLE t DROP COLUMN b", ALCHDB_RISK_HIGH, "ban-drop-column", NULL},
    {"ALTER TABLE t ALTER COLUMN b TYPE bigint", ALCHDB_RISK_HIGH, "changing-column-type", NULL},
    {"ALTER TABLE t ALTER COLUMN b SET NOT NULL", ALCHDB_RISK_MEDIUM, "setting-not-null-scans", NULL},
    {"ALTER TABLE t ADD CONSTRAINT c CHECK (b > 0)", ALCHDB_RISK_MEDIUM, "constraint-missing-not-valid", NULL},
    {"ALTER TABLE t ADD CONSTRAINT c CHECK (b > 0) NOT VALID", ALCHDB_RISK_LOW, NULL, "constraint-missing-not-valid"},
    {"ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES p (id)", ALCHDB_RISK_MEDIUM,
     "constraint-missing-not-valid", NULL},
    {"CREATE INDEX i ON t (b)", ALCHDB_RISK_MEDIUM, "require-concurrent-index-creation", NULL},
    {"CREATE INDEX CONCURRENTLY i ON t (b)", ALCHDB_RISK_LOW, NULL, "require-concurrent-index-creation"},
    {"DROP INDEX i", ALCHDB_RISK_MEDIUM, "require-concurrent-index-deletion", NULL},
    {"DROP INDEX CONCURRENTLY i", ALCHDB_RISK_LOW, NULL, "require-concurrent-index-deletion"},
    {"ALTER TABLE t RENAME COLUMN a TO b", ALCHDB_RISK_HIGH, "renaming-column", NULL},
    {"ALTER TABLE t RENAME TO u", ALCHDB_RISK_HIGH, "renaming-table", NULL},
    {"TRUNCATE t", ALCHDB_RISK_HIGH, "truncate", NULL},
    {"VACUUM FULL t", ALCHDB_RISK_HIGH, "vacuum-full", NULL},
    {"VACUUM t", ALCHDB_RISK_LOW, NULL, "vacuum-full"},
    {"CLUSTER t USING i", ALCHDB_RISK_HIGH, "cluster", NULL},
    {"ALTER TABLE t SET UNLOGGED", ALCHDB_RISK_HIGH, "set-unlogged", NULL},
    {"BEGIN; LOCK TABLE t; COMMIT", ALCHDB_RISK_HIGH, "lock-table", NULL},
    {"LOCK TABLE t", ALCHDB_RISK_HIGH, "lock-outside-transaction", NULL},
    {"ALTER TYPE mood RENAME VALUE 'a' TO 'b'", ALCHDB_RISK_HIGH, "enum-rename-value", NULL},
    {"ALTER TYPE mood ADD VALUE 'c'", ALCHDB_RISK_LOW, NULL, NULL},
    {"DELETE FROM t", ALCHDB_RISK_HIGH, "delete-all-rows", NULL},
    {"UPDATE t SET a = 1", ALCHDB_RISK_HIGH, "update-all-rows", NULL},
    {"UPDATE t SET a = 1 WHERE id = 3", ALCHDB_RISK_LOW, NULL, "update-all-rows"},
    {"DROP DATABASE prod", ALCHDB_RISK_HIGH, "ban-drop-database", NULL},
    {"DROP SCHEMA app CASCADE", ALCHDB_RISK_HIGH, "ban-drop-schema", NULL},
    {"DROP TABLE t", ALCHDB_RISK_HIGH, "ban-drop-table", NULL},
    {"REINDEX TABLE t", ALCHDB_RISK_MEDIUM, "reindex-without-concurrently", NULL},
    {"REINDEX TABLE CONCURRENTLY t", ALCHDB_RISK_LOW, NULL, "reindex-without-concurrently"},
    {"DO $$ BEGIN EXECUTE 'DROP TABLE t'; END $$", ALCHDB_RISK_UNKNOWN, "opaque-code", NULL},
    {"BEGIN; CREATE INDEX CONCURRENTLY i ON t (a); COMMIT", ALCHDB_RISK_MEDIUM, "concurrent-in-transaction", NULL},
    {"ALTER TABLE t ADD PRIMARY KEY (id)", ALCHDB_RISK_HIGH, "adding-index-constraint-blocks", NULL},
    {"ALTER TABLE t ADD CONSTRAINT k UNIQUE USING INDEX i", ALCHDB_RISK_LOW, NULL, "adding-index-constraint-blocks"},
    {"ALTER TABLE m DETACH PARTITION p", ALCHDB_RISK_MEDIUM, "detach-partition-blocks", NULL},
    {"ALTER TABLE t ADD COLUMN c char(2)", ALCHDB_RISK_LOW, "ban-char-field", NULL},
    /* safe operations are not flagged when the script shows they are safe */
    {"CREATE TABLE x (v varchar(10)); COMMIT; ALTER TABLE x ALTER COLUMN v TYPE varchar(20)", ALCHDB_RISK_LOW,
     NULL, "changing-column-type"},
    {"ALTER TABLE t ADD CONSTRAINT nn CHECK (a IS NOT NULL) NOT VALID; ALTER TABLE t VALIDATE CONSTRAINT nn; "
     "ALTER TABLE t ALTER COLUMN a SET NOT NULL",
     ALCHDB_RISK_LOW, NULL, "setting-not-null-scans"},
    {"SET lock_timeout = '2s'; ALTER TABLE t ADD COLUMN z int", ALCHDB_RISK_LOW, NULL, NULL},
};

START_TEST(test_rule_table)
{
    const struct rule_case *rc = &rule_cases[_i];
    alchdb_migration *m = assess(rc->sql);
    ck_assert_msg(alchdb_migration_max_risk(m) == rc->risk, "%s: risk %s, expected %s", rc->sql,
                  alchdb_migration_risk_name(alchdb_migration_max_risk(m)), alchdb_migration_risk_name(rc->risk));
    if (rc->rule)
        ck_assert_msg(has_rule(m, 0, rc->rule), "%s: missing rule %s", rc->sql, rc->rule);
    if (rc->absent)
        ck_assert_msg(!has_rule(m, 0, rc->absent), "%s: must not flag %s", rc->sql, rc->absent);
    alchdb_migration_free(m);
}
END_TEST

START_TEST(test_locks_and_flags)
{
    alchdb_migration *m = assess("CREATE INDEX i ON app.orders (customer_id);\n"
                                 "ALTER TABLE app.orders ADD CONSTRAINT f FOREIGN KEY (customer_id) "
                                 "REFERENCES app.customers (id);\n"
                                 "ALTER TABLE app.orders ALTER COLUMN total TYPE numeric(12,2) USING total::numeric;\n"
                                 "REINDEX INDEX i;\n");
    ck_assert_uint_eq(alchdb_migration_stmt_count(m, 0), 4);
    ck_assert_int_eq(lock_of(m, 0, "app.orders"), ALCHDB_LOCK_SHARE);
    ck_assert_int_eq(lock_of(m, 1, "app.orders"), ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE);
    ck_assert_int_eq(lock_of(m, 1, "app.customers"), ALCHDB_LOCK_SHARE_ROW_EXCLUSIVE);
    ck_assert_int_eq(lock_of(m, 2, "app.orders"), ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    ck_assert_int_eq(lock_of(m, 3, "i"), ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    uint32_t f;
    ck_assert_int_eq(alchdb_migration_stmt_flags(m, 0, 0, &f), 0);
    ck_assert(f & ALCHDB_MIG_BUILDS_INDEX);
    ck_assert(f & ALCHDB_MIG_BLOCKS_WRITES);
    ck_assert(!(f & ALCHDB_MIG_BLOCKS_READS));
    ck_assert_int_eq(alchdb_migration_stmt_flags(m, 0, 2, &f), 0);
    ck_assert(f & ALCHDB_MIG_REWRITES_TABLE);
    ck_assert(f & ALCHDB_MIG_BLOCKS_READS);
    ck_assert_int_eq(alchdb_migration_stmt_flags(m, 0, 3, &f), 0);
    ck_assert(f & ALCHDB_MIG_BLOCKS_READS); /* REINDEX blocks planning, so reads */
    ck_assert_str_eq(alchdb_lock_mode_name(ALCHDB_LOCK_SHARE_UPDATE_EXCLUSIVE), "SHARE UPDATE EXCLUSIVE");
    alchdb_migration_free(m);
}
END_TEST

START_TEST(test_state_across_files)
{
    alchdb_migration *m = NULL;
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "001.sql", "CREATE TABLE t (id int); CREATE INDEX a ON t (id);",
                                               (size_t)-1), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "002.sql", "CREATE INDEX b ON t (id);", (size_t)-1), 0);
    /* new in its own file: low; in a later file the table is no longer new */
    ck_assert_int_eq(alchdb_migration_stmt_risk(m, 0, 1), ALCHDB_RISK_LOW);
    ck_assert_int_eq(alchdb_migration_stmt_risk(m, 1, 0), ALCHDB_RISK_MEDIUM);
    alchdb_migration_free(m);
}
END_TEST

START_TEST(test_rewrite_and_rollback_text)
{
    alchdb_migration *m = assess("ALTER TABLE \"Order Items\" ADD COLUMN \"Qty\" int;\n"
                                 "CREATE INDEX CONCURRENTLY \"Idx\" ON \"Order Items\" (\"Qty\");\n"
                                 "ALTER TABLE t ALTER COLUMN a SET NOT NULL;\n"
                                 "ALTER TABLE t DROP COLUMN z;");
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 0, "rollback"), "ALTER TABLE \"Order Items\" DROP COLUMN \"Qty\";");
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 1, "rollback"), "DROP INDEX CONCURRENTLY IF EXISTS \"Idx\";");
    const char *safer = alchdb_migration_stmt_text(m, 0, 2, "safer_rewrite");
    ck_assert_ptr_nonnull(safer);
    ck_assert_ptr_nonnull(strstr(safer, "NOT VALID"));
    ck_assert_ptr_nonnull(strstr(safer, "VALIDATE CONSTRAINT"));
    ck_assert_ptr_null(alchdb_migration_stmt_text(m, 0, 3, "rollback")); /* irreversible */
    uint32_t f;
    alchdb_migration_stmt_flags(m, 0, 3, &f);
    ck_assert(!(f & ALCHDB_MIG_REVERSIBLE));
    ck_assert_ptr_null(alchdb_migration_stmt_text(m, 0, 0, "nonsense"));
    ck_assert_int_eq(alchdb_last_error_code(), ALCHDB_E_INVALID);
    alchdb_migration_free(m);
}
END_TEST

START_TEST(test_json_shape_and_plan)
{
    alchdb_migration *m = assess("-- add a column\nALTER TABLE app.users ADD COLUMN x int;\n"
                                 "/* then index it */ CREATE INDEX CONCURRENTLY ux ON app.users (x);\n"
                                 "ALTER TABLE app.users ALTER COLUMN y SET DEFAULT 1;\n");
    char *json = NULL;
    ck_assert_int_eq(alchdb_migration_to_json(m, &json), 0);
    json_error_t e;
    json_t *root = json_loads(json, 0, &e);
    ck_assert_msg(root != NULL, "invalid JSON: %s", e.text);
    json_t *file = json_array_get(json_object_get(root, "files"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(file, "file")), "m.sql");
    ck_assert_str_eq(json_string_value(json_object_get(file, "max_risk")), "low");
    json_t *st0 = json_array_get(json_object_get(file, "statements"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(st0, "line")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(st0, "sql")), "ALTER TABLE app.users ADD COLUMN x int");
    json_t *lock0 = json_array_get(json_object_get(st0, "locks"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(lock0, "relation")), "app.users");
    ck_assert_str_eq(json_string_value(json_object_get(lock0, "mode")), "ACCESS EXCLUSIVE");
    const char *keys[] = {"blocks_reads", "blocks_writes", "rewrites_table", "scans_table", "builds_index", "risk",
                          "reason", "findings", "safer_rewrite", "rollback", "reversible", "estimated_seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        ck_assert_msg(json_object_get(st0, keys[i]) != NULL, "missing key %s", keys[i]);
    json_t *st1 = json_array_get(json_object_get(file, "statements"), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(st1, "line")), 3);
    /* plan: brief change, then the concurrent build alone, then another brief change */
    json_t *plan = json_object_get(file, "plan");
    ck_assert_uint_eq(json_array_size(plan), 3);
    ck_assert(json_is_true(json_object_get(json_array_get(plan, 0), "transactional")));
    ck_assert(json_is_false(json_object_get(json_array_get(plan, 1), "transactional")));
    ck_assert_ptr_nonnull(json_object_get(json_array_get(plan, 1), "checkpoint"));
    json_decref(root);
    alchdb_free(json);
    char *text = NULL;
    ck_assert_int_eq(alchdb_migration_to_text(m, &text), 0);
    ck_assert_ptr_nonnull(strstr(text, "ACCESS EXCLUSIVE on app.users"));
    alchdb_free(text);
    alchdb_migration_free(m);
}
END_TEST

/* Names come from the parse tree as (schema, name): a dot inside a quoted
 * name is part of the name, never a schema separator; every name written
 * into generated SQL or a report line is quoted, with control characters
 * escaped so that no line of it can end a comment. */
START_TEST(test_names_from_the_tree)
{
    alchdb_migration *m = assess("ALTER TABLE \"a.b\" ADD COLUMN c2 int;\n"
                                 "ALTER TABLE a.b ADD COLUMN c2 int;\n"
                                 "ALTER TABLE \"sch.dot\".\"t.x\" ADD COLUMN \"Q\"\"x\" int;\n"
                                 "CREATE /* index */ UNIQUE INDEX \"i.x\" ON \"sch.dot\".\"t.x\" (v);\n"
                                 "ALTER TABLE \"a.b\" ALTER COLUMN v TYPE \"My Type\";\n"
                                 "ALTER TABLE t ALTER COLUMN v TYPE app.\"Money\"(10);\n"
                                 "ALTER TABLE \"nl\nDROP TABLE victim; --\" ADD COLUMN u uuid DEFAULT gen_random_uuid();\n"
                                 "ALTER TYPE mood RENAME VALUE 'o''k\\' TO 'fine';\n"
                                 "CREATE TABLE \"a.b\" (\"char\" \"char\");\n"
                                 "ALTER TABLE \"a.b\" ALTER COLUMN \"char\" TYPE \"char\";\n");
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 0, "rollback"), "ALTER TABLE \"a.b\" DROP COLUMN c2;");
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 1, "rollback"), "ALTER TABLE a.b DROP COLUMN c2;");
    ck_assert_int_eq(lock_of(m, 0, "\"a.b\""), ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    ck_assert_int_eq(lock_of(m, 0, "a.b"), 0);
    ck_assert_int_eq(lock_of(m, 1, "a.b"), ALCHDB_LOCK_ACCESS_EXCLUSIVE);
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 2, "rollback"),
                     "ALTER TABLE \"sch.dot\".\"t.x\" DROP COLUMN \"Q\"\"x\";");
    /* CONCURRENTLY after the INDEX keyword, not inside the comment */
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 3, "safer_rewrite"),
                     "CREATE /* index */ UNIQUE INDEX CONCURRENTLY \"i.x\" ON \"sch.dot\".\"t.x\" (v)");
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 3, "rollback"),
                     "DROP INDEX CONCURRENTLY IF EXISTS \"sch.dot\".\"i.x\";");
    /* types rendered from the tree: quotes and schema kept */
    ck_assert_ptr_nonnull(strstr(alchdb_migration_stmt_text(m, 0, 4, "safer_rewrite"), "ADD COLUMN v_new \"My Type\";"));
    ck_assert_ptr_nonnull(strstr(alchdb_migration_stmt_text(m, 0, 5, "safer_rewrite"), "v_new app.\"Money\"(10);"));
    /* a newline in a name never reaches a line of its own */
    const char *safer = alchdb_migration_stmt_text(m, 0, 6, "safer_rewrite");
    ck_assert_ptr_nonnull(safer);
    ck_assert_ptr_null(strstr(safer, "\nDROP TABLE victim"));
    ck_assert_ptr_nonnull(strstr(safer, "-- then: ALTER TABLE U&\"nl\\000ADROP TABLE victim; --\" ALTER COLUMN u"));
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 6, "rollback"),
                     "ALTER TABLE U&\"nl\\000ADROP TABLE victim; --\" DROP COLUMN u;");
    /* labels are literals */
    ck_assert_str_eq(alchdb_migration_stmt_text(m, 0, 7, "rollback"), "ALTER TYPE mood RENAME VALUE 'fine' TO E'o''k\\\\';");
    /* "char" is not char */
    ck_assert_ptr_nonnull(strstr(alchdb_migration_stmt_text(m, 0, 9, "rollback"), "TYPE \"char\";"));

    char *json = NULL;
    ck_assert_int_eq(alchdb_migration_to_json(m, &json), 0);
    json_error_t e;
    json_t *root = json_loads(json, 0, &e);
    ck_assert_msg(root != NULL, "invalid JSON: %s", e.text);
    json_t *sts = json_object_get(json_array_get(json_object_get(root, "files"), 0), "statements");
    json_t *l0 = json_array_get(json_object_get(json_array_get(sts, 0), "locks"), 0);
    json_t *l1 = json_array_get(json_object_get(json_array_get(sts, 1), "locks"), 0);
    json_t *l2 = json_array_get(json_object_get(json_array_get(sts, 2), "locks"), 0);
    json_t *l6 = json_array_get(json_object_get(json_array_get(sts, 6), "locks"), 0);
    ck_assert(json_is_null(json_object_get(l0, "schema")));
    ck_assert_str_eq(json_string_value(json_object_get(l0, "name")), "a.b");
    ck_assert_str_eq(json_string_value(json_object_get(l1, "schema")), "a");
    ck_assert_str_eq(json_string_value(json_object_get(l1, "name")), "b");
    ck_assert_str_eq(json_string_value(json_object_get(l2, "schema")), "sch.dot");
    ck_assert_str_eq(json_string_value(json_object_get(l2, "name")), "t.x");
    ck_assert_str_eq(json_string_value(json_object_get(l6, "name")), "nl\nDROP TABLE victim; --");
    json_decref(root);
    alchdb_free(json);

    /* the text report: every line is one line of the report */
    char *text = NULL;
    ck_assert_int_eq(alchdb_migration_to_text(m, &text), 0);
    ck_assert_ptr_null(strstr(text, "\nDROP TABLE victim"));
    alchdb_free(text);
    alchdb_migration_free(m);

    /* a file name with a newline stays on its line too */
    m = NULL;
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "x\nDROP TABLE victim;", "SELECT 1;", (size_t)-1), 0);
    ck_assert_int_eq(alchdb_migration_to_text(m, &text), 0);
    ck_assert_ptr_null(strstr(text, "\nDROP TABLE victim"));
    ck_assert_ptr_nonnull(strstr(text, "x\\nDROP TABLE victim;"));
    alchdb_free(text);
    alchdb_migration_free(m);
}
END_TEST

START_TEST(test_bad_input)
{
    alchdb_migration *m = NULL;
    ck_assert_int_eq(alchdb_migration_new(NULL, NULL), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_migration_new(NULL, &m), 0);
    ck_assert_int_eq(alchdb_migration_add_file(NULL, "x", "select 1", 8), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_migration_add_file(m, NULL, "select 1", 8), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_migration_add_file(m, "x", NULL, 8), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_migration_add_file(m, "bad.sql", "SELECT '\xff\xfe'", (size_t)-1), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "UTF-8"));
    /* a syntax error is reported with line and column; later files are still assessed */
    ck_assert_int_eq(alchdb_migration_add_file(m, "broken.sql", "ALTER TABLE t ADD COLUMN a int;\nALTER TABLE t ADDD b;",
                                               (size_t)-1), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "empty.sql", "", 0), 0);
    ck_assert_int_eq(alchdb_migration_add_file(m, "ok.sql", "DROP TABLE t;", (size_t)-1), 0);
    ck_assert_uint_eq(alchdb_migration_file_count(m), 3);
    int64_t line = 0, col = 0;
    const char *err = alchdb_migration_file_error(m, 0, &line, &col);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(line, 2);
    ck_assert_int_ge(col, 14);
    ck_assert_uint_eq(alchdb_migration_stmt_count(m, 1), 0);
    ck_assert_ptr_null(alchdb_migration_file_error(m, 1, NULL, NULL));
    ck_assert_int_eq(alchdb_migration_stmt_risk(m, 2, 0), ALCHDB_RISK_HIGH);
    ck_assert_int_eq(alchdb_migration_max_risk(m), ALCHDB_RISK_HIGH);
    ck_assert_int_eq(alchdb_migration_stmt_risk(m, 9, 0), ALCHDB_E_INVALID);
    ck_assert_ptr_null(alchdb_migration_lock(m, 2, 0, 99, NULL));
    ck_assert_int_eq(alchdb_migration_max_risk(NULL), ALCHDB_E_INVALID);
    alchdb_migration_free(m);
    alchdb_migration_free(NULL);

    alchdb_migration_config *o;
    ck_assert_int_eq(alchdb_migration_config_new(&o), 0);
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "lock_timeout", "3s"), 0);
    int64_t v = 0;
    ck_assert_int_eq(alchdb_migration_config_get_int64(o, ALCHDB_MIGRATION_OPT_LOCK_TIMEOUT, &v), 0);
    ck_assert_int_eq(v, 3000000); /* microseconds, like every duration */
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "lock_timeout", "soon"), ALCHDB_E_INVALID);
    /* a bare number is no duration: it was milliseconds once, and would be misread */
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "lock_timeout", "2000"), ALCHDB_E_INVALID);
    ck_assert_ptr_nonnull(strstr(alchdb_last_error_message(), "lock_timeout"));
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "Statement_Timeout", "1m"), 0);
    ck_assert_int_eq(alchdb_migration_config_get_int64(o, ALCHDB_MIGRATION_OPT_STATEMENT_TIMEOUT, &v), 0);
    ck_assert_int_eq(v, 60000000);
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "pg_version", "150004"), 0);
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "pg_version", "160000"), ALCHDB_E_INVALID);
    ck_assert_int_eq(alchdb_migration_config_set_from_string(o, "colour", "red"), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_migration_config_set_int64(o, 999, 1), ALCHDB_E_NOTFOUND);
    ck_assert_int_eq(alchdb_migration_config_set_string(o, ALCHDB_MIGRATION_OPT_CONNINFO,
                                                         "host=127.0.0.1 port=1 connect_timeout=2"), 0);
    ck_assert_int_eq(alchdb_migration_new(o, &m), ALCHDB_E_CONNECT);
    ck_assert_ptr_null(m);
    char *json = NULL;
    ck_assert_int_eq(alchdb_migration_trace(NULL, "select 1", 8, &json, NULL, NULL), ALCHDB_E_INVALID);
    alchdb_migration_config_free(o);
}
END_TEST

START_TEST(test_large_file)
{
    size_t n = 10000;
    char *sql = malloc(n * 64);
    size_t off = 0;
    for (size_t i = 0; i < n; i++)
        off += (size_t)sprintf(sql + off, "ALTER TABLE t%zu ADD COLUMN c int;\n", i % 50);
    alchdb_migration *m = assess(sql);
    ck_assert_uint_eq(alchdb_migration_stmt_count(m, 0), n);
    ck_assert_int_eq(alchdb_migration_max_risk(m), ALCHDB_RISK_LOW);
    alchdb_migration_free(m);
    free(sql);
}
END_TEST

START_TEST(test_dollar_quoted_and_comments)
{
    alchdb_migration *m = assess("/* header; with a semicolon */\n"
                                 "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;\n"
                                 "-- trailing; comment\n"
                                 "ALTER TABLE t ADD COLUMN a int; -- done\n");
    ck_assert_uint_eq(alchdb_migration_stmt_count(m, 0), 2);
    ck_assert_int_eq(alchdb_migration_stmt_risk(m, 0, 1), ALCHDB_RISK_LOW);
    uint32_t f;
    alchdb_migration_stmt_flags(m, 0, 0, &f);
    ck_assert(f & ALCHDB_MIG_OPAQUE);
    alchdb_migration_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("migration");
    TCase *tc = tcase_create("static");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_rule_table, 0, (int)(sizeof rule_cases / sizeof rule_cases[0]));
    tcase_add_test(tc, test_locks_and_flags);
    tcase_add_test(tc, test_state_across_files);
    tcase_add_test(tc, test_rewrite_and_rollback_text);
    tcase_add_test(tc, test_json_shape_and_plan);
    tcase_add_test(tc, test_names_from_the_tree);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_large_file);
    tcase_add_test(tc, test_dollar_quoted_and_comments);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
