/* Partitioned tables on the rig: a suggested index is created the way
 * PostgreSQL 15 allows (ON ONLY the parent, CONCURRENTLY per partition,
 * ATTACH), applying it leaves a valid index the planner uses, no partition
 * gets an index its parent's index already gives it, a partition's own index
 * like the parent's is attached rather than doubled, foreign keys of a
 * partitioned table are advised once, a tree with a foreign partition gets no
 * suggestion, and a failed apply leaves nothing of its own behind. */
#include "advtest.h"

static const char *const tree_schema[] = {
    "CREATE EXTENSION hypopg",
    "CREATE TABLE devices (id int PRIMARY KEY)",
    "INSERT INTO devices SELECT generate_series(0, 999)",
    /* two levels: m1 a plain partition, m2 itself partitioned by hash */
    "CREATE TABLE m (id int, dev int REFERENCES devices (id), ts int) PARTITION BY RANGE (ts)",
    "CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (15000) WITH (autovacuum_enabled = off)",
    "CREATE TABLE m2 PARTITION OF m FOR VALUES FROM (15000) TO (30001) PARTITION BY HASH (id)",
    "CREATE TABLE m2a PARTITION OF m2 FOR VALUES WITH (MODULUS 2, REMAINDER 0) WITH (autovacuum_enabled = off)",
    /* a partition whose columns are numbered differently from its parent's */
    "CREATE TABLE m2b (x int, ts int, dev int, id int) WITH (autovacuum_enabled = off)",
    "ALTER TABLE m2b DROP COLUMN x",
    "ALTER TABLE m2 ATTACH PARTITION m2b FOR VALUES WITH (MODULUS 2, REMAINDER 1)",
    "INSERT INTO m SELECT n, n % 1000, n FROM generate_series(1, 30000) n",
    /* the foreign key's own index is what this suite checks apart */
    "CREATE INDEX m_id_idx ON m (id)",
    "ANALYZE",
};

static void setup(const char *db)
{
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    for (size_t i = 0; i < sizeof tree_schema / sizeof *tree_schema; i++)
        exec_ok(c, "%s", tree_schema[i]);
    PQfinish(c);
}

static void parent_and_partition(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS, 0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM m WHERE dev = $1", 500, 900.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM m1 WHERE dev = $1", 300, 400.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM m2b WHERE dev = $1", 300, 400.0), 0);
}

static alchdb_advisor_config *apply_opts(const char *db)
{
    alchdb_advisor_config *o;
    ck_assert_int_eq(alchdb_advisor_config_new(&o), 0);
    ck_assert_int_eq(alchdb_advisor_config_set_string(o, ALCHDB_ADVISOR_OPT_CONNINFO, db_conninfo(db, NULL)), 0);
    return o;
}

static int count_rows(PGconn *c, const char *sql)
{
    char *v = scalar(c, sql);
    int n = atoi(v);
    free(v);
    return n;
}

/* The parent's suggestion, made the documented way, applied: a valid index
 * on the parent with one attached on every partition, used by the planner. */
START_TEST(test_apply_partitioned)
{
    const char *db = "adv_part_apply";
    setup(db);
    alchdb_advisor_report *r = analyze(db, NULL, true, parent_and_partition);
    ck_assert_msg(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING) == 1, "one suggestion expected");
    ck_assert_str_eq(alchdb_advisor_report_item_table(r, ALCHDB_ADVISOR_MISSING, 0), "m");
    ck_assert_str_eq(alchdb_advisor_report_item_detail(r, ALCHDB_ADVISOR_MISSING, 0), "dev");
    const char *sql = alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, 0);
    ck_assert_msg(!strncmp(sql, "CREATE INDEX m_dev_idx ON ONLY public.m (dev);\n", 47), "%s", sql);
    ck_assert_msg(strstr(sql, "CREATE INDEX CONCURRENTLY m1_dev_idx ON public.m1 (dev);"), "%s", sql);
    ck_assert_msg(strstr(sql, "\nALTER INDEX public.m_dev_idx ATTACH PARTITION public.m1_dev_idx;\n"), "%s", sql);
    ck_assert_msg(strstr(sql, "CREATE INDEX m2_dev_idx ON ONLY public.m2 (dev);"), "%s", sql);
    ck_assert_msg(strstr(sql, "ALTER INDEX public.m2_dev_idx ATTACH PARTITION public.m2b_dev_idx;"), "%s", sql);
    ck_assert_msg(strstr(sql, "ALTER INDEX public.m_dev_idx ATTACH PARTITION public.m2_dev_idx;"), "%s", sql);
    ck_assert_msg(!strstr(sql, "CONCURRENTLY m_dev_idx") && !strstr(sql, "CONCURRENTLY m2_dev_idx"), "%s", sql);
    /* the foreign key on dev is the same index: advised once, on the parent */
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_FK), 1);
    ck_assert_str_eq(alchdb_advisor_report_item_table(r, ALCHDB_ADVISOR_FK, 0), "m");
    ck_assert_msg(strstr(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_FK, 0), " ON ONLY public.m (dev);"), "%s",
                  alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_FK, 0));
    char *text = NULL;
    ck_assert_int_eq(alchdb_advisor_report_to_text(r, &text), 0);
    ck_assert_msg(strstr(text, "\n    CREATE INDEX CONCURRENTLY m2a_dev_idx ON public.m2a (dev);\n"), "%s", text);
    alchdb_free(text);

    alchdb_advisor_config *o = apply_opts(db);
    ck_assert_msg(alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_MISSING, 0) == 0, "%s", alchdb_last_error_message());
    PGconn *c = connect_to(db, NULL);
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_index WHERE indisvalid AND indexrelid::regclass::text "
                                   "IN ('m_dev_idx', 'm1_dev_idx', 'm2_dev_idx', 'm2a_dev_idx', 'm2b_dev_idx')"),
                     5);
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_partition_tree('m_dev_idx')"), 5);
    exec_ok(c, "SET enable_seqscan = off");
    char *plan = scalar(c, "EXPLAIN (FORMAT JSON) SELECT * FROM m WHERE dev = 5");
    ck_assert_msg(strstr(plan, "m2b_dev_idx") && strstr(plan, "m1_dev_idx") && !strstr(plan, "Seq Scan"), "%s", plan);
    free(plan);
    PQfinish(c);
    alchdb_advisor_report_free(r);

    /* Now the parent's index serves all three statements. */
    r = analyze(db, NULL, true, parent_and_partition);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING), 0);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_FK), 0);
    alchdb_advisor_report_free(r);
    alchdb_advisor_config_free(o);
    drop_db(db);
}
END_TEST

static void partition_only(alchdb_advisor_config *o)
{
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS, 0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM m2a WHERE id = $1", 300, 400.0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM m1 WHERE ts = $1", 300, 400.0), 0);
}

/* An index of the partitioned parent is inherited: a statement on a
 * partition gets no index of its own for it, while a column nobody indexed
 * does get one, on that partition alone, CONCURRENTLY. */
START_TEST(test_inherited_index_covers)
{
    const char *db = "adv_part_cover";
    setup(db);
    alchdb_advisor_report *r = analyze(db, NULL, true, partition_only);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING), 1);
    ck_assert_str_eq(alchdb_advisor_report_item_table(r, ALCHDB_ADVISOR_MISSING, 0), "m1");
    ck_assert_str_eq(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, 0),
                     "CREATE INDEX CONCURRENTLY m1_ts_idx ON public.m1 (ts);");
    /* Unused: the parent's index (its partitions' scans are its scans), dropped
     * without CONCURRENTLY (refused on it); its partitions' indexes go with it. */
    int u = find_item(r, ALCHDB_ADVISOR_UNUSED, "m", "m_id_idx");
    ck_assert_int_ge(u, 0);
    ck_assert_str_eq(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_UNUSED, (size_t)u),
                     "DROP INDEX IF EXISTS public.m_id_idx;");
    ck_assert_int_eq(find_item(r, ALCHDB_ADVISOR_UNUSED, "m1", "m1_id_idx"), -1);
    ck_assert_int_eq(find_item(r, ALCHDB_ADVISOR_UNUSED, "m2b", "m2b_id_idx"), -1);
    alchdb_advisor_config *o = apply_opts(db);
    ck_assert_msg(alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_UNUSED, (size_t)u) == 0, "%s", alchdb_last_error_message());
    alchdb_advisor_config_free(o);
    alchdb_advisor_report_free(r);
    drop_db(db);
}
END_TEST

/* A partition that cannot hold an index (a foreign table): no suggestion
 * that could never become valid, and a note says why. */
START_TEST(test_foreign_partition)
{
    const char *db = "adv_part_foreign";
    fresh_db(db);
    PGconn *c = connect_to(db, NULL);
    exec_ok(c, "CREATE EXTENSION hypopg");
    exec_ok(c, "CREATE EXTENSION file_fdw");
    exec_ok(c, "CREATE SERVER files FOREIGN DATA WRAPPER file_fdw");
    exec_ok(c, "CREATE TABLE f (id int, dev int) PARTITION BY RANGE (id)");
    exec_ok(c, "CREATE TABLE f1 PARTITION OF f FOR VALUES FROM (0) TO (100000) WITH (autovacuum_enabled = off)");
    exec_ok(c, "CREATE FOREIGN TABLE f2 PARTITION OF f FOR VALUES FROM (100000) TO (200000) SERVER files "
               "OPTIONS (filename '/dev/null', format 'csv')");
    exec_ok(c, "INSERT INTO f1 SELECT n, n %% 1000 FROM generate_series(1, 20000) n");
    exec_ok(c, "ANALYZE f1");
    PQfinish(c);
    alchdb_advisor_report *r = NULL;
    alchdb_advisor_config *o = apply_opts(db);
    ck_assert_int_eq(alchdb_advisor_config_set_int64(o, ALCHDB_ADVISOR_OPT_USE_PG_STAT_STATEMENTS, 0), 0);
    ck_assert_int_eq(alchdb_advisor_config_add_query(o, "SELECT * FROM f WHERE dev = $1", 300, 400.0), 0);
    ck_assert_int_eq(alchdb_advisor_analyze(o, &r), 0);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING), 0);
    ck_assert_msg(has_note(r, "partition that cannot hold an index"), "no note");
    alchdb_advisor_report_free(r);
    alchdb_advisor_config_free(o);
    drop_db(db);
}
END_TEST

/* A partition that already has an index like the one the parent gets: it is
 * attached, as a plain CREATE INDEX on the parent would do, instead of a
 * second one being built next to it; one that differs (DESC) is not. */
START_TEST(test_attach_existing)
{
    const char *db = "adv_part_attach";
    setup(db);
    PGconn *c = connect_to(db, NULL);
    exec_ok(c, "CREATE INDEX m1_dev_own ON m1 (dev)");
    exec_ok(c, "CREATE INDEX m2b_dev_desc ON m2b (dev DESC)");
    exec_ok(c, "ANALYZE");
    alchdb_advisor_report *r = analyze(db, NULL, true, parent_and_partition);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING), 1);
    const char *sql = alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_MISSING, 0);
    ck_assert_msg(strstr(sql, "\nALTER INDEX public.m_dev_idx ATTACH PARTITION public.m1_dev_own;\n"), "%s", sql);
    ck_assert_msg(!strstr(sql, "m1_dev_idx") && !strstr(sql, "m2b_dev_desc"), "%s", sql);
    ck_assert_msg(strstr(sql, "CREATE INDEX CONCURRENTLY m2b_dev_idx ON public.m2b (dev);"), "%s", sql);
    ck_assert_msg(strstr(sql, "CREATE INDEX CONCURRENTLY m2a_dev_idx ON public.m2a (dev);"), "%s", sql);
    /* an index the suggestion attaches is not also advised for dropping */
    ck_assert_int_eq(find_item(r, ALCHDB_ADVISOR_UNUSED, "m1", "m1_dev_own"), -1);
    /* the foreign key's suggestion is the same sequence */
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_FK), 1);
    ck_assert_msg(strstr(alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_FK, 0), "ATTACH PARTITION public.m1_dev_own;"),
                  "%s", alchdb_advisor_report_item_sql(r, ALCHDB_ADVISOR_FK, 0));
    alchdb_advisor_config *o = apply_opts(db);
    ck_assert_msg(alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_MISSING, 0) == 0, "%s", alchdb_last_error_message());
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_partition_tree('m_dev_idx') t JOIN pg_index i "
                                   "ON i.indexrelid = t.relid WHERE i.indisvalid"),
                     5);
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_partition_tree('m_dev_idx') WHERE relid = "
                                   "'m1_dev_own'::regclass"),
                     1);
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_index WHERE indrelid = 'm1'::regclass"), 2); /* and m1_id_idx */
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_index WHERE indrelid = 'm2b'::regclass"), 3); /* and m2b_id_idx */
    PQfinish(c);
    alchdb_advisor_report_free(r);
    alchdb_advisor_config_free(o);
    drop_db(db);
}
END_TEST

/* A statement of the sequence fails (a name taken after the analysis): the
 * indexes the apply made are dropped, the one someone else made is kept. */
START_TEST(test_failed_apply_cleans_up)
{
    const char *db = "adv_part_fail";
    setup(db);
    alchdb_advisor_report *r = analyze(db, NULL, true, parent_and_partition);
    ck_assert_int_eq(alchdb_advisor_report_count(r, ALCHDB_ADVISOR_MISSING), 1);
    PGconn *c = connect_to(db, NULL);
    exec_ok(c, "CREATE INDEX m2a_dev_idx ON m2a (ts)");
    alchdb_advisor_config *o = apply_opts(db);
    ck_assert_int_eq(alchdb_advisor_apply(o, r, ALCHDB_ADVISOR_MISSING, 0), ALCHDB_E_QUERY);
    const char *msg = alchdb_last_error_message();
    ck_assert_msg(strstr(msg, "CREATE INDEX CONCURRENTLY m2a_dev_idx") && strstr(msg, "already exists") &&
                      strstr(msg, "the indexes it made were dropped"),
                  "%s", msg);
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_class WHERE relname IN ('m_dev_idx', 'm1_dev_idx', "
                                   "'m2_dev_idx', 'm2b_dev_idx')"),
                     0);
    ck_assert_int_eq(count_rows(c, "SELECT count(*) FROM pg_class WHERE relname = 'm2a_dev_idx'"), 1);
    PQfinish(c);
    alchdb_advisor_report_free(r);
    alchdb_advisor_config_free(o);
    drop_db(db);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("advisor-partition");
    TCase *tc = tcase_create("rig");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_apply_partitioned);
    tcase_add_test(tc, test_inherited_index_covers);
    tcase_add_test(tc, test_foreign_partition);
    tcase_add_test(tc, test_failed_apply_cleans_up);
    tcase_add_test(tc, test_attach_existing);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
