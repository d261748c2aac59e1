/* A minimal program using libalchdb's public API, built against an installed
 * copy:
 *
 *   cc consumer.c $(pkg-config --cflags --libs libalchdb) -o consumer
 *   ./consumer ["SQL"]
 *
 * It prints the library version, shows how errors are reported (a negative
 * ALCHDB_E_* code plus the calling thread's detail message) and analyses one
 * SQL statement. Exit status 0 on success. */
#include <stdio.h>
#include <string.h>

#include <alchdb/alchdb.h>

int main(int argc, char **argv)
{
    const char *sql = argc > 1 ? argv[1] : "SELECT * FROM app.users WHERE id = 1";

    /* Compile-time and run-time versions: a program may refuse to run on an
     * older library than the headers it was built with. */
    printf("headers %s, library %s\n", ALCHDB_VERSION_STRING, alchdb_version_string());
    if (alchdb_version() < ALCHDB_VERSION_NUMBER) {
        fprintf(stderr, "libalchdb is older than its headers\n");
        return 1;
    }

    /* Errors: the return value is the code; the detail is thread-local. */
    int rc = alchdb_set_log_handler(NULL, NULL, 99);
    printf("error %d (%s): %s\n", rc, alchdb_strerror(rc), alchdb_last_error_message());
    if (rc != ALCHDB_E_INVALID || alchdb_last_error_code() != ALCHDB_E_INVALID)
        return 1;

    /* SQL analysis: an opaque result rendered as owned JSON. */
    alchdb_sql_analysis *a = NULL;
    rc = alchdb_sql_analyze(sql, strlen(sql), &a);
    if (rc != 0) {
        fprintf(stderr, "analyze failed: %s: %s\n", alchdb_strerror(rc), alchdb_last_error_message());
        return 1;
    }
    char *json = NULL;
    rc = alchdb_sql_analysis_to_json(a, &json);
    if (rc != 0) {
        fprintf(stderr, "to_json failed: %s\n", alchdb_last_error_message());
        alchdb_sql_analysis_free(a);
        return 1;
    }
    printf("analysis %s\n", json);
    alchdb_free(json);           /* owned: alchdb_free(), never free() */
    alchdb_sql_analysis_free(a);

    /* Bad SQL is an error, not a crash. */
    a = NULL;
    rc = alchdb_sql_analyze("SELECT FROM WHERE (", 19, &a);
    printf("bad sql: %s (%s)\n", alchdb_strerror(rc), rc < 0 ? "rejected" : "accepted");
    alchdb_sql_analysis_free(a);
    if (rc >= 0)
        return 1;
    printf("consumer ok\n");
    return 0;
}
