/* The `alchdb` CLI (path in argv[1]): `sql analyze` JSON and text output, exit
 * status 2 on syntax errors, unreadable files and bad usage. */
#include <fcntl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capture.h"
#include "testutil.h"

static const char *cli;

/* Runs the CLI with args (NULL-terminated) and stdin_text (NULL: /dev/null). */
static cli_result run(const char *stdin_text, const char *const *args)
{
    return cli_run_input(cli, stdin_text, args);
}

static char *write_file(const char *text)
{
    static char path[64];
    strcpy(path, "/tmp/alchdb-cli-sql-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

START_TEST(test_json_from_file_and_stdin)
{
    const char *sql = "SELECT * FROM app.users WHERE id = 1;\nDELETE FROM t USING s WHERE t.id = s.id;\n"
                      "SELECT * FROM public.\"a.b\", \"a.b\";\n";
    char *path = write_file(sql);
    const char *args[] = {"sql", "analyze", path, NULL};
    cli_result r = run(NULL, args);
    unlink(path);
    ck_assert_msg(r.status == 0, "status %d, stderr: %s", r.status, r.err);
    json_error_t jerr;
    json_t *root = json_loads(r.out, 0, &jerr);
    ck_assert_msg(root != NULL, "not JSON: %s", r.out);
    json_t *stmts = json_object_get(root, "statements");
    ck_assert_uint_eq(json_array_size(stmts), 3);
    json_t *s0 = json_array_get(stmts, 0), *s1 = json_array_get(stmts, 1), *s2 = json_array_get(stmts, 2);
    ck_assert_str_eq(json_string_value(json_object_get(s0, "kind")), "select");
    ck_assert(json_is_true(json_object_get(s0, "read_only")));
    json_t *t0 = json_array_get(json_object_get(s0, "tables_read"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(t0, "schema")), "app");
    ck_assert_str_eq(json_string_value(json_object_get(t0, "name")), "users");
    ck_assert_str_eq(json_string_value(json_object_get(s1, "kind")), "delete");
    ck_assert_int_eq(json_integer_value(json_object_get(s1, "offset")), (json_int_t)(strstr(sql, "DELETE") - sql));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(s1, "tables_written"), 0), "name")),
                     "t");
    /* public."a.b" and "a.b" are told apart: schema and name never re-split */
    json_t *reads = json_object_get(s2, "tables_read");
    ck_assert_uint_eq(json_array_size(reads), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(reads, 0), "schema")), "public");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(reads, 0), "name")), "a.b");
    ck_assert(json_is_null(json_object_get(json_array_get(reads, 1), "schema")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(reads, 1), "name")), "a.b");
    json_decref(root);
    cli_done(&r);

    const char *args2[] = {"sql", "analyze", "--format", "json", "-", NULL};
    r = run("SELECT now()", args2);
    ck_assert_int_eq(r.status, 0);
    root = json_loads(r.out, 0, &jerr);
    ck_assert_ptr_nonnull(root);
    json_t *st = json_array_get(json_object_get(root, "statements"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(st, "not_cacheable_reason")), "volatile_function");
    json_decref(root);
    cli_done(&r);

    const char *args3[] = {"sql", "analyze", NULL}; /* default: stdin */
    r = run("-- nothing\n", args3);
    ck_assert_int_eq(r.status, 0);
    ck_assert_str_eq(r.out, "{\"statements\":[]}\n");
    cli_done(&r);
}
END_TEST

START_TEST(test_syntax_error_json)
{
    const char *args[] = {"sql", "analyze", "-", NULL};
    cli_result r = run("SELECT 1;\nSELECT 'abc", args);
    ck_assert_int_eq(r.status, 2);
    json_t *root = json_loads(r.out, 0, NULL);
    ck_assert_msg(root != NULL, "not JSON: %s", r.out);
    json_t *err = json_object_get(root, "error");
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(err, "message")), "unterminated"));
    ck_assert_int_eq(json_integer_value(json_object_get(err, "offset")), 17);
    json_decref(root);
    cli_done(&r);
}
END_TEST

START_TEST(test_text_mode)
{
    const char *args[] = {"sql", "analyze", "--format=text", NULL};
    cli_result r = run("SELECT * FROM users FOR UPDATE;\nINSERT INTO t VALUES (1)", args);
    ck_assert_msg(r.status == 0, "status %d: %s", r.status, r.err);
    ck_assert_ptr_nonnull(strstr(r.out, "statement 0"));
    ck_assert_ptr_nonnull(strstr(r.out, "statement 1"));
    ck_assert_ptr_nonnull(strstr(r.out, "locking"));
    ck_assert_ptr_nonnull(strstr(r.out, "no (locking_clause)"));
    ck_assert_ptr_nonnull(strstr(r.out, "insert"));
    ck_assert_ptr_nonnull(strstr(r.out, "offset 32"));
    cli_done(&r);

    /* syntax error: message, the line, and a caret under the offending token */
    r = run("SELECT 1;\n  SELECT 'é' FROM WHERE x", args);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "<stdin>:2:"));
    ck_assert_ptr_nonnull(strstr(r.err, "syntax error"));
    const char *line = strstr(r.err, "\n    SELECT 'é' FROM WHERE x\n");
    ck_assert_msg(line != NULL, "no source line in: %s", r.err);
    line++;
    const char *caret_line = strchr(line, '\n') + 1;
    const char *caret = strchr(caret_line, '^');
    ck_assert_ptr_nonnull(caret);
    /* columns count characters: the caret sits under "WHERE" */
    size_t caret_col = (size_t)(caret - caret_line);
    const char *where = strstr(line, "WHERE");
    size_t chars = 0;
    for (const char *p = line; p < where; p++)
        chars += ((unsigned char)*p & 0xC0) != 0x80;
    ck_assert_uint_eq(caret_col, chars);
    cli_done(&r);
}
END_TEST

START_TEST(test_usage_errors)
{
    const char *missing[] = {"sql", "analyze", "/nonexistent/dir/file.sql", NULL};
    cli_result r = run(NULL, missing);
    ck_assert_int_eq(r.status, 2);
    ck_assert_str_eq(r.out, "");
    ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/dir/file.sql"));
    ck_assert_ptr_eq(strchr(r.err, '\n'), r.err + strlen(r.err) - 1); /* one line */
    cli_done(&r);

    const char *badfmt[] = {"sql", "analyze", "--format", "xml", NULL};
    r = run("SELECT 1", badfmt);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "xml"));
    cli_done(&r);

    const char *badopt[] = {"sql", "analyze", "--frobnicate", NULL};
    r = run("SELECT 1", badopt);
    ck_assert_int_eq(r.status, 2);
    cli_done(&r);

    const char *badutf[] = {"sql", "analyze", NULL};
    r = run("SELECT '\xff'", badutf);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "UTF-8"));
    cli_done(&r);

    const char *unknown[] = {"frobnicate", NULL};
    r = run(NULL, unknown);
    ck_assert_int_eq(r.status, 2);
    cli_done(&r);

    const char *none[] = {NULL};
    r = run(NULL, none);
    ck_assert_int_eq(r.status, 2);
    ck_assert_ptr_nonnull(strstr(r.err, "usage"));
    cli_done(&r);
}
END_TEST

START_TEST(test_help_and_version)
{
    const char *help[] = {"--help", NULL};
    cli_result r = run(NULL, help);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "sql"));
    cli_done(&r);
    const char *sqlhelp[] = {"sql", "--help", NULL};
    r = run(NULL, sqlhelp);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "analyze"));
    cli_done(&r);
    const char *ahelp[] = {"sql", "analyze", "--help", NULL};
    r = run(NULL, ahelp);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "--format"));
    cli_done(&r);
    const char *ver[] = {"--version", NULL};
    r = run(NULL, ver);
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "alchdb 0."));
    cli_done(&r);
}
END_TEST

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH-TO-alchdb\n", argv[0]);
        return EXIT_FAILURE;
    }
    cli = argv[1];
    Suite *s = suite_create("sql-cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_json_from_file_and_stdin);
    tcase_add_test(tc, test_syntax_error_json);
    tcase_add_test(tc, test_text_mode);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_help_and_version);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
