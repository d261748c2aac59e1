/* The migration assessor on any file: alchdb_migration_add_file() of the
 * input (split into two files at the first 0x00, which the files share state
 * across), then every accessor, the JSON (must parse) and the text report.
 * Properties: add_file returns 0 or a documented error; a file that does not
 * parse is kept with its error and a position inside the file; risks, lock
 * modes and names are in range. */
#include "fuzz.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    alchdb_migration *m = NULL;
    if (alchdb_migration_new(NULL, &m))
        abort();
    const uint8_t *nul = memchr(data, 0, size);
    size_t first = nul ? (size_t)(nul - data) : size;
    const struct {
        const char *name;
        const char *sql;
        size_t len;
    } files[2] = {{"0001.sql", (const char *)data, first},
                  {"0002.sql", nul ? (const char *)nul + 1 : "", nul ? size - first - 1 : 0}};
    for (int f = 0; f < (nul ? 2 : 1); f++) {
        int rc = alchdb_migration_add_file(m, files[f].name, files[f].sql, files[f].len);
        fuzz_check_rc("alchdb_migration_add_file", rc);
        FUZZ_CHECK(rc == 0 || rc == ALCHDB_E_INVALID || rc == ALCHDB_E_NOMEM || rc == ALCHDB_E_RANGE,
                   "add_file returned %d", rc);
    }
    for (size_t f = 0; f < alchdb_migration_file_count(m); f++) {
        int64_t line = -1, col = -1;
        if (alchdb_migration_file_error(m, f, &line, &col))
            FUZZ_CHECK(line >= 1 && col >= 1, "error at line %lld column %lld", (long long)line, (long long)col);
        FUZZ_CHECK(alchdb_migration_file_name(m, f) != NULL, "file %zu has no name", f);
        for (size_t s = 0; s < alchdb_migration_stmt_count(m, f); s++) {
            int risk = alchdb_migration_stmt_risk(m, f, s);
            FUZZ_CHECK(alchdb_migration_risk_name(risk) != NULL, "risk %d", risk);
            uint32_t flags;
            fuzz_check_rc("alchdb_migration_stmt_flags", alchdb_migration_stmt_flags(m, f, s, &flags));
            static const char *const what[] = {"sql", "reason", "safer_rewrite", "rollback"};
            for (int w = 0; w < 4; w++)
                (void)alchdb_migration_stmt_text(m, f, s, what[w]);
            FUZZ_CHECK(alchdb_migration_stmt_text(m, f, s, "sql") != NULL, "statement without its SQL");
            for (size_t l = 0; l < alchdb_migration_lock_count(m, f, s); l++) {
                int mode = -1;
                FUZZ_CHECK(alchdb_migration_lock(m, f, s, l, &mode) != NULL, "lock %zu without a relation", l);
                FUZZ_CHECK(mode >= 1 && mode <= 8 && alchdb_lock_mode_name(mode), "lock mode %d", mode);
            }
            for (size_t k = 0; k < alchdb_migration_finding_count(m, f, s); k++)
                FUZZ_CHECK(alchdb_migration_finding(m, f, s, k, "rule") != NULL, "finding %zu without a rule", k);
        }
    }
    int worst = alchdb_migration_max_risk(m);
    FUZZ_CHECK(alchdb_migration_risk_name(worst) != NULL, "max risk %d", worst);
    char *json = NULL;
    int rc = alchdb_migration_to_json(m, &json);
    fuzz_json_ok("alchdb_migration_to_json", rc, json);
    char *text = NULL;
    rc = alchdb_migration_to_text(m, &text);
    fuzz_check_rc("alchdb_migration_to_text", rc);
    alchdb_free(text);
    alchdb_migration_free(m);
    return 0;
}
