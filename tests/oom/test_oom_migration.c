/* Allocation failure through the migration assessor: options, a migration of
 * two files sharing state (one that does not parse), every accessor, JSON and
 * text. No server (live mode and trace are in the advisor/migration live
 * OOM suite). */
#include "oom.h"

typedef struct mig_state {
    alchdb_migration_config *opts;
    alchdb_migration *m;
} mig_state;

static const char file1[] =
    "CREATE TABLE accounts (id bigint PRIMARY KEY, email text);\n"
    "ALTER TABLE accounts ADD COLUMN active boolean NOT NULL DEFAULT true;\n"
    "ALTER TABLE accounts ALTER COLUMN email TYPE varchar(200);\n"
    "CREATE INDEX CONCURRENTLY accounts_email_idx ON accounts (email);\n"
    "ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id);\n"
    "DO $$BEGIN PERFORM 1; END$$;\n";
static const char file2[] = "ALTER TABLE accounts RENAME COLUMN email TO mail;\nALTER TABLE t ADD COLUMN;\n";

static int assess(alchdb_migration *m, oom_state *st)
{
    int rc = alchdb_migration_add_file(m, "0001_accounts.sql", file1, sizeof file1 - 1);
    if (st)
        rc = oom_note(st, "alchdb_migration_add_file(0001)", rc);
    if (rc)
        return rc;
    rc = alchdb_migration_add_file(m, "0002_rename.sql", file2, sizeof file2 - 1);
    if (st)
        rc = oom_note(st, "alchdb_migration_add_file(0002)", rc);
    return rc;
}

static int run(oom_state *st)
{
    mig_state *s = st->data;
    if (OOM_CALL(st, alchdb_migration_config_new(&s->opts)) ||
        OOM_CALL(st, alchdb_migration_config_set_from_string(s->opts, "lock_timeout", "3s")) ||
        OOM_CALL(st, alchdb_migration_new(s->opts, &s->m)))
        return -1;
    if (assess(s->m, st))
        return -1;
    for (size_t f = 0; f < alchdb_migration_file_count(s->m); f++)
        for (size_t i = 0; i < alchdb_migration_stmt_count(s->m, f); i++) {
            (void)alchdb_migration_stmt_text(s->m, f, i, "safer_rewrite");
            (void)alchdb_migration_stmt_text(s->m, f, i, "rollback");
            for (size_t l = 0; l < alchdb_migration_lock_count(s->m, f, i); l++) {
                int mode;
                (void)alchdb_migration_lock(s->m, f, i, l, &mode);
            }
        }
    char *out = NULL;
    int rc = OOM_CALL(st, alchdb_migration_to_json(s->m, &out));
    alchdb_free(out);
    out = NULL;
    if (!rc)
        rc = OOM_CALL(st, alchdb_migration_to_text(s->m, &out));
    alchdb_free(out);
    return rc;
}

/* An assessment that exists still reports, and takes another file. */
static void check(oom_state *st)
{
    mig_state *s = st->data;
    if (!s->m)
        return;
    char *out = NULL;
    ck_assert_int_eq(alchdb_migration_to_json(s->m, &out), 0);
    alchdb_free(out);
    const char more[] = "CREATE INDEX i2 ON accounts (active);\n";
    ck_assert_int_eq(alchdb_migration_add_file(s->m, "0003.sql", more, sizeof more - 1), 0);
    size_t n = alchdb_migration_file_count(s->m);
    ck_assert_int_ge(alchdb_migration_stmt_count(s->m, n - 1), 1);
    ck_assert_int_eq(alchdb_migration_to_text(s->m, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "0003.sql"));
    alchdb_free(out);
}

static void teardown(oom_state *st)
{
    mig_state *s = st->data;
    alchdb_migration_free(s->m);
    alchdb_migration_config_free(s->opts);
}

START_TEST(test_migration_oom)
{
    static const oom_case c = {"migration", sizeof(mig_state), run, check, teardown, NULL};
    ck_assert_int_gt(oom_sweep(&c, 20000), 100);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oom-migration");
    TCase *tc = tcase_create("migration");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_migration_oom);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
