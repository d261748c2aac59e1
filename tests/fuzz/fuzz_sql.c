/* SQL analysis: alchdb_sql_analyze() and the internal parse entry points
 * (parse tree, fingerprint and normalized text, statement split, primary-key
 * row targets) on any bytes. Properties: no crash, known return codes with a
 * message, every accessor answers within range, the analysis JSON parses,
 * statement spans lie inside the input. */
#include "fuzz.h"
#include "internal.h"
#include "sql/sql_internal.h"


static void check_analysis(const alchdb_sql_analysis *a, size_t size)
{
    int64_t off = -2;
    const char *err = alchdb_sql_analysis_error(a, &off);
    if (err)
        FUZZ_CHECK(off >= -1 && off <= (int64_t)size, "error offset %lld outside the input", (long long)off);
    size_t n = alchdb_sql_analysis_count(a);
    for (size_t i = 0; i < n; i++) {
        int kind = alchdb_sql_stmt_kind(a, i);
        FUZZ_CHECK(kind >= 0 && alchdb_sql_kind_name(kind) != NULL, "kind %d", kind);
        uint32_t flags = 0;
        fuzz_check_rc("alchdb_sql_stmt_flags", alchdb_sql_stmt_flags(a, i, &flags));
        size_t o = 0, l = 0;
        fuzz_check_rc("alchdb_sql_stmt_span", alchdb_sql_stmt_span(a, i, &o, &l));
        FUZZ_CHECK(o <= size && l <= size - o, "span %zu+%zu outside %zu bytes", o, l, size);
        uint64_t fp;
        alchdb_sql_stmt_fingerprint(a, i, &fp);
        (void)alchdb_sql_stmt_normalized(a, i);
        for (int w = ALCHDB_SQL_TABLES_READ; w <= ALCHDB_SQL_TABLES_WRITTEN; w++)
            for (size_t j = 0; j < alchdb_sql_stmt_table_count(a, i, w); j++)
                FUZZ_CHECK(alchdb_sql_stmt_table(a, i, w, j) != NULL, "table %zu missing", j);
        for (size_t j = 0; j < alchdb_sql_stmt_volatile_count(a, i); j++)
            FUZZ_CHECK(alchdb_sql_stmt_volatile(a, i, j) != NULL, "volatile %zu missing", j);
        (void)alchdb_sql_stmt_not_cacheable_reason(a, i);
    }
    char *json = NULL;
    int rc = alchdb_sql_analysis_to_json(a, &json);
    fuzz_json_ok("alchdb_sql_analysis_to_json", rc, json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *sql = (const char *)data;
    alchdb_sql_analysis *a = NULL;
    int rc = alchdb_sql_analyze(sql, size, &a);
    fuzz_check_rc("alchdb_sql_analyze", rc);
    FUZZ_CHECK((rc == 0 || rc == ALCHDB_E_PARSE) == (a != NULL), "rc %d with analysis %p", rc, (void *)a);
    if (a)
        check_analysis(a, size);
    alchdb_sql_analysis_free(a);
    if (rc == ALCHDB_E_INVALID)
        return 0; /* not UTF-8 or NUL inside: the internal entry points are behind that check */

    char *tree = NULL;
    int64_t off = -2;
    rc = alchdb__sql_parse_tree(sql, size, &tree, &off);
    fuzz_check_rc("alchdb__sql_parse_tree", rc);
    if (rc == 0) {
        json_error_t e;
        json_t *v = json_loads(tree, 0, &e);
        /* jansson refuses documents nested deeper than 2048 levels, which a
         * deeply nested statement's tree is: valid, but not checkable here */
        FUZZ_CHECK(v != NULL || strstr(e.text, "maximum parsing depth"), "parse tree is not JSON: %s", e.text);
        json_decref(v);
    }
    alchdb__free(tree);

    size_t *offs = NULL, *lens = NULL, n = 0;
    rc = alchdb__sql_split(sql, size, &offs, &lens, &n);
    fuzz_check_rc("alchdb__sql_split", rc);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        FUZZ_CHECK(offs[i] <= size && lens[i] <= size - offs[i], "split %zu outside the input", i);
        uint64_t fp = 0;
        char *norm = NULL;
        int frc = alchdb__sql_fingerprint(sql + offs[i], lens[i], &fp, &norm);
        fuzz_check_rc("alchdb__sql_fingerprint", frc);
        alchdb__free(norm);
        alchdb__sql_row_target *t = NULL;
        int prc = alchdb__sql_row_target_parse(sql + offs[i], lens[i], &t);
        fuzz_check_rc("alchdb__sql_row_target_parse", prc);
        alchdb__sql_row_target_free(t);
    }
    alchdb__free(offs);
    alchdb__free(lens);
    return 0;
}
