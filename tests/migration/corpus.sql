-- Migration corpus: each case is traced against a real PostgreSQL 15 by
-- tests/migration/test_migration_trace.c. Format:
--   -- case: NAME
--   setup SQL (run first, not assessed)
--   -- migrate
--   migration SQL (assessed statically, then traced statement by statement)
--   -- expect: risk=LEVEL [rewrite=yes|no] [rules=a,b] [norules=a,b]
-- risk is the file's maximum static risk; rewrite is whether PostgreSQL must
-- rewrite a table (checked statically AND against the file nodes); rules
-- must be among the findings, norules must not.

-- case: add-nullable-column
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN b int;
-- expect: risk=low rewrite=no

-- case: add-column-constant-default
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN b int DEFAULT 0;
-- expect: risk=low rewrite=no norules=adding-field-with-volatile-default

-- case: add-column-not-null-with-default
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0;
-- expect: risk=low rewrite=no norules=adding-required-field

-- case: add-column-volatile-default
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN r float8 DEFAULT random();
-- expect: risk=high rewrite=yes rules=adding-field-with-volatile-default

-- case: add-column-uuid-default
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid();
-- expect: risk=high rewrite=yes rules=adding-field-with-volatile-default

-- case: add-column-now-default
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN created timestamptz DEFAULT now();
-- expect: risk=low rewrite=no

-- case: add-column-serial
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN s bigserial;
-- expect: risk=high rewrite=yes

-- case: add-column-identity
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN s bigint GENERATED ALWAYS AS IDENTITY;
-- expect: risk=high rewrite=yes

-- case: add-column-stored-generated
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN twice int GENERATED ALWAYS AS (id * 2) STORED;
-- expect: risk=high rewrite=yes

-- case: add-required-column-empty-table
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t ADD COLUMN b int NOT NULL;
-- expect: risk=medium rewrite=no rules=adding-required-field

-- case: add-column-unique-inline
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN email text UNIQUE;
-- expect: risk=medium rewrite=no

-- case: add-column-references-inline
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD COLUMN p_id int REFERENCES p (id);
-- expect: risk=low rewrite=no

-- case: add-char-column
CREATE TABLE t (id int PRIMARY KEY);
-- migrate
ALTER TABLE t ADD COLUMN code char(3);
-- expect: risk=low rewrite=no rules=ban-char-field

-- case: drop-column
CREATE TABLE t (id int PRIMARY KEY, a text, b int);
INSERT INTO t SELECT g, 'x', g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t DROP COLUMN b;
-- expect: risk=high rewrite=no rules=ban-drop-column

-- case: alter-type-int-to-bigint
CREATE TABLE t (id int PRIMARY KEY, n int);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN n TYPE bigint;
-- expect: risk=high rewrite=yes rules=changing-column-type

-- case: alter-type-indexed-int-to-bigint
CREATE TABLE t (id int PRIMARY KEY, n int);
CREATE INDEX t_n ON t (n);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN n TYPE bigint;
-- expect: risk=high rewrite=yes rules=changing-column-type

-- case: alter-type-varchar-widen
CREATE TABLE t (id int PRIMARY KEY, v varchar(10));
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN v TYPE varchar(20);
-- expect: risk=low rewrite=no norules=changing-column-type

-- case: alter-type-varchar-to-text
CREATE TABLE t (id int PRIMARY KEY, v varchar(10));
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN v TYPE text;
-- expect: risk=low rewrite=no norules=changing-column-type

-- case: alter-type-varchar-narrow
CREATE TABLE t (id int PRIMARY KEY, v varchar(20));
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN v TYPE varchar(10);
-- expect: risk=high rewrite=yes rules=changing-column-type

-- case: alter-type-text-to-varchar-limit
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN v TYPE varchar(50);
-- expect: risk=high rewrite=yes

-- case: alter-type-text-to-varchar-unlimited
CREATE TABLE t (id int PRIMARY KEY, v text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN v TYPE varchar;
-- expect: risk=low rewrite=no

-- case: alter-type-numeric-more-precision
CREATE TABLE t (id int PRIMARY KEY, amount numeric(10,2));
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN amount TYPE numeric(14,2);
-- expect: risk=low rewrite=no

-- case: alter-type-numeric-scale-change
CREATE TABLE t (id int PRIMARY KEY, amount numeric(10,2));
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN amount TYPE numeric(10,3);
-- expect: risk=high rewrite=yes

-- case: alter-type-numeric-unconstrained
CREATE TABLE t (id int PRIMARY KEY, amount numeric(10,2));
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN amount TYPE numeric;
-- expect: risk=low rewrite=no

-- case: alter-type-timestamptz-utc
CREATE TABLE t (id int PRIMARY KEY, at timestamp);
INSERT INTO t SELECT g, now() FROM generate_series(1, 200) g;
-- migrate
SET timezone = 'UTC';
ALTER TABLE t ALTER COLUMN at TYPE timestamptz;
-- expect: risk=low rewrite=no

-- case: alter-type-timestamptz-new-york
CREATE TABLE t (id int PRIMARY KEY, at timestamp);
INSERT INTO t SELECT g, now() FROM generate_series(1, 200) g;
-- migrate
SET timezone = 'America/New_York';
ALTER TABLE t ALTER COLUMN at TYPE timestamptz;
-- expect: risk=high rewrite=yes rules=changing-column-type-timezone-dependent

-- case: alter-type-using
CREATE TABLE t (id int PRIMARY KEY, n int);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN n TYPE text USING n::text;
-- expect: risk=high rewrite=yes

-- case: alter-type-in-new-table
-- migrate
CREATE TABLE t (id int PRIMARY KEY, n int);
ALTER TABLE t ALTER COLUMN n TYPE bigint;
-- expect: risk=low

-- case: set-not-null
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ALTER COLUMN a SET NOT NULL;
-- expect: risk=medium rewrite=no rules=setting-not-null-scans

-- case: set-not-null-after-validated-check
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD CONSTRAINT a_not_null CHECK (a IS NOT NULL) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT a_not_null;
ALTER TABLE t ALTER COLUMN a SET NOT NULL;
ALTER TABLE t DROP CONSTRAINT a_not_null;
-- expect: risk=low rewrite=no norules=setting-not-null-scans,constraint-missing-not-valid

-- case: drop-not-null
CREATE TABLE t (id int PRIMARY KEY, a text NOT NULL);
-- migrate
ALTER TABLE t ALTER COLUMN a DROP NOT NULL;
-- expect: risk=low rewrite=no

-- case: set-default
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t ALTER COLUMN a SET DEFAULT 'none';
-- expect: risk=low rewrite=no

-- case: drop-default
CREATE TABLE t (id int PRIMARY KEY, a text DEFAULT 'x');
-- migrate
ALTER TABLE t ALTER COLUMN a DROP DEFAULT;
-- expect: risk=low rewrite=no

-- case: add-check
CREATE TABLE t (id int PRIMARY KEY, n int);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD CONSTRAINT n_positive CHECK (n > 0);
-- expect: risk=medium rewrite=no rules=constraint-missing-not-valid

-- case: add-check-not-valid
CREATE TABLE t (id int PRIMARY KEY, n int);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD CONSTRAINT n_positive CHECK (n > 0) NOT VALID;
-- expect: risk=low rewrite=no norules=constraint-missing-not-valid

-- case: validate-check
CREATE TABLE t (id int PRIMARY KEY, n int);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
ALTER TABLE t ADD CONSTRAINT n_positive CHECK (n > 0) NOT VALID;
-- migrate
ALTER TABLE t VALIDATE CONSTRAINT n_positive;
-- expect: risk=low rewrite=no

-- case: add-foreign-key
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT g FROM generate_series(1, 50) g;
CREATE TABLE t (id int PRIMARY KEY, p_id int);
INSERT INTO t SELECT g, 1 + g % 50 FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p (id);
-- expect: risk=medium rewrite=no rules=constraint-missing-not-valid

-- case: add-foreign-key-not-valid
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, p_id int);
-- migrate
ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID;
-- expect: risk=low rewrite=no norules=constraint-missing-not-valid

-- case: validate-foreign-key
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT g FROM generate_series(1, 50) g;
CREATE TABLE t (id int PRIMARY KEY, p_id int);
INSERT INTO t SELECT g, 1 + g % 50 FROM generate_series(1, 200) g;
ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID;
-- migrate
ALTER TABLE t VALIDATE CONSTRAINT t_p_fk;
-- expect: risk=low rewrite=no

-- case: fk-not-valid-then-validate
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p SELECT g FROM generate_series(1, 50) g;
CREATE TABLE t (id int PRIMARY KEY, p_id int);
INSERT INTO t SELECT g, 1 + g % 50 FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD CONSTRAINT t_p_fk FOREIGN KEY (p_id) REFERENCES p (id) NOT VALID;
ALTER TABLE t VALIDATE CONSTRAINT t_p_fk;
-- expect: risk=low rewrite=no

-- case: drop-foreign-key
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, p_id int CONSTRAINT t_p_fk REFERENCES p (id));
-- migrate
ALTER TABLE t DROP CONSTRAINT t_p_fk;
-- expect: risk=low rewrite=no

-- case: drop-check-constraint
CREATE TABLE t (id int PRIMARY KEY, n int CONSTRAINT n_pos CHECK (n > 0));
-- migrate
ALTER TABLE t DROP CONSTRAINT n_pos;
-- expect: risk=low rewrite=no

-- case: add-primary-key
CREATE TABLE t (id int NOT NULL, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY (id);
-- expect: risk=high rewrite=no rules=adding-index-constraint-blocks

-- case: add-unique-constraint
CREATE TABLE t (id int PRIMARY KEY, email text);
INSERT INTO t SELECT g, 'u' || g FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE (email);
-- expect: risk=high rewrite=no rules=adding-index-constraint-blocks

-- case: add-unique-using-index
CREATE TABLE t (id int PRIMARY KEY, email text);
INSERT INTO t SELECT g, 'u' || g FROM generate_series(1, 200) g;
CREATE UNIQUE INDEX t_email_idx ON t (email);
-- migrate
ALTER TABLE t ADD CONSTRAINT t_email_key UNIQUE USING INDEX t_email_idx;
-- expect: risk=low rewrite=no norules=adding-index-constraint-blocks

-- case: create-index
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' || g FROM generate_series(1, 200) g;
-- migrate
CREATE INDEX t_a_idx ON t (a);
-- expect: risk=medium rewrite=no rules=require-concurrent-index-creation

-- case: create-unique-index
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' || g FROM generate_series(1, 200) g;
-- migrate
CREATE UNIQUE INDEX t_a_idx ON t (a);
-- expect: risk=medium rewrite=no rules=require-concurrent-index-creation

-- case: create-partial-index
CREATE TABLE t (id int PRIMARY KEY, a text, deleted bool);
-- migrate
CREATE INDEX t_live_idx ON t (a) WHERE NOT deleted;
-- expect: risk=medium rewrite=no rules=require-concurrent-index-creation

-- case: create-index-concurrently
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' || g FROM generate_series(1, 200) g;
-- migrate
CREATE INDEX CONCURRENTLY t_a_idx ON t (a);
-- expect: risk=low rewrite=no norules=require-concurrent-index-creation,concurrent-in-transaction

-- case: create-index-concurrently-in-transaction
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
BEGIN;
CREATE INDEX CONCURRENTLY t_a_idx ON t (a);
COMMIT;
-- expect: risk=medium rules=concurrent-in-transaction

-- case: create-index-on-new-table
-- migrate
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE INDEX t_a_idx ON t (a);
-- expect: risk=low norules=require-concurrent-index-creation

-- case: drop-index
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE INDEX t_a_idx ON t (a);
-- migrate
DROP INDEX t_a_idx;
-- expect: risk=medium rewrite=no rules=require-concurrent-index-deletion

-- case: drop-index-concurrently
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE INDEX t_a_idx ON t (a);
-- migrate
DROP INDEX CONCURRENTLY t_a_idx;
-- expect: risk=low rewrite=no norules=require-concurrent-index-deletion

-- case: reindex-index
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE INDEX t_a_idx ON t (a);
-- migrate
REINDEX INDEX t_a_idx;
-- expect: risk=medium rewrite=no rules=reindex-without-concurrently

-- case: reindex-table
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE INDEX t_a_idx ON t (a);
-- migrate
REINDEX TABLE t;
-- expect: risk=medium rewrite=no rules=reindex-without-concurrently

-- case: reindex-index-concurrently
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE INDEX t_a_idx ON t (a);
-- migrate
REINDEX INDEX CONCURRENTLY t_a_idx;
-- expect: risk=low rewrite=no norules=reindex-without-concurrently

-- case: rename-column
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t RENAME COLUMN a TO b;
-- expect: risk=high rewrite=no rules=renaming-column

-- case: rename-table
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t RENAME TO t2;
-- expect: risk=high rewrite=no rules=renaming-table

-- case: rename-index
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE INDEX t_a_idx ON t (a);
-- migrate
ALTER INDEX t_a_idx RENAME TO t_a_index;
-- expect: risk=low rewrite=no

-- case: truncate
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
TRUNCATE t;
-- expect: risk=high rules=truncate

-- case: truncate-cascade
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));
-- migrate
TRUNCATE p CASCADE;
-- expect: risk=high rules=truncate

-- case: vacuum
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
VACUUM t;
-- expect: risk=low rewrite=no norules=vacuum-full

-- case: vacuum-full
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
VACUUM FULL t;
-- expect: risk=high rewrite=yes rules=vacuum-full

-- case: analyze
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ANALYZE t;
-- expect: risk=low rewrite=no

-- case: cluster
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
CLUSTER t USING t_pkey;
-- expect: risk=high rewrite=yes rules=cluster

-- case: set-unlogged
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t SET UNLOGGED;
-- expect: risk=high rewrite=yes rules=set-unlogged

-- case: set-logged
CREATE UNLOGGED TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
ALTER TABLE t SET LOGGED;
-- expect: risk=high rewrite=yes rules=set-logged

-- case: lock-table-share
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
BEGIN;
LOCK TABLE t IN SHARE MODE;
COMMIT;
-- expect: risk=medium rules=lock-table

-- case: lock-table-access-exclusive
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
BEGIN;
LOCK TABLE t;
COMMIT;
-- expect: risk=high rules=lock-table

-- case: lock-table-row-exclusive
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
BEGIN;
LOCK TABLE t IN ROW EXCLUSIVE MODE;
COMMIT;
-- expect: risk=low norules=lock-table

-- case: create-table
-- migrate
CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
-- expect: risk=low

-- case: create-table-with-foreign-key
CREATE TABLE p (id int PRIMARY KEY);
-- migrate
CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));
-- expect: risk=low

-- case: create-table-partition-of
CREATE TABLE m (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- migrate
CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
-- expect: risk=medium

-- case: create-table-inherits
CREATE TABLE base (id int, a text);
-- migrate
CREATE TABLE child (b int) INHERITS (base);
-- expect: risk=low

-- case: attach-partition
CREATE TABLE m (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE m_2026 (id int, at date NOT NULL);
INSERT INTO m_2026 VALUES (1, '2026-03-01');
-- migrate
ALTER TABLE m ATTACH PARTITION m_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
-- expect: risk=medium rewrite=no

-- case: detach-partition
CREATE TABLE m (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- migrate
ALTER TABLE m DETACH PARTITION m_2025;
-- expect: risk=medium rules=detach-partition-blocks

-- case: detach-partition-concurrently
CREATE TABLE m (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
-- migrate
ALTER TABLE m DETACH PARTITION m_2025 CONCURRENTLY;
-- expect: risk=low norules=detach-partition-blocks

-- case: detach-partition-concurrently-with-readers
CREATE TABLE m (id int, at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE m_2025 PARTITION OF m FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE m_2026 PARTITION OF m FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO m VALUES (1, '2025-03-01'), (2, '2026-03-01');
-- migrate
ALTER TABLE m DETACH PARTITION m_2026 CONCURRENTLY;
-- expect: risk=low norules=detach-partition-blocks

-- case: domain-add-check
CREATE DOMAIN posint AS int;
CREATE DOMAIN small_posint AS posint;
CREATE TABLE t (id int PRIMARY KEY, n posint);
CREATE TABLE u (id int PRIMARY KEY, n small_posint);
CREATE TABLE p (id int, n posint) PARTITION BY RANGE (id);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (1000);
CREATE VIEW tv AS SELECT n FROM t;
CREATE TABLE other (id int PRIMARY KEY, n int);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
INSERT INTO p SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0);
-- expect: risk=medium rewrite=no rules=domain-constraint-scans

-- case: domain-add-check-not-valid
CREATE DOMAIN posint AS int;
CREATE TABLE t (id int PRIMARY KEY, n posint);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;
-- expect: risk=low rewrite=no norules=domain-constraint-scans

-- case: domain-validate-constraint
CREATE DOMAIN posint AS int;
CREATE TABLE t (id int PRIMARY KEY, n posint);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
ALTER DOMAIN posint ADD CONSTRAINT pos CHECK (VALUE > 0) NOT VALID;
-- migrate
ALTER DOMAIN posint VALIDATE CONSTRAINT pos;
-- expect: risk=medium rewrite=no rules=domain-constraint-scans

-- case: domain-set-not-null
CREATE DOMAIN posint AS int;
CREATE TABLE t (id int PRIMARY KEY, n posint);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER DOMAIN posint SET NOT NULL;
-- expect: risk=medium rewrite=no rules=domain-constraint-scans

-- case: domain-drop-not-null
CREATE DOMAIN posint AS int NOT NULL;
CREATE TABLE t (id int PRIMARY KEY, n posint);
INSERT INTO t SELECT g, g FROM generate_series(1, 200) g;
-- migrate
ALTER DOMAIN posint DROP NOT NULL;
-- expect: risk=low rewrite=no norules=domain-constraint-scans

-- case: drop-table
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
DROP TABLE t;
-- expect: risk=high rules=ban-drop-table

-- case: drop-table-with-foreign-key
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));
-- migrate
DROP TABLE c;
-- expect: risk=high rules=ban-drop-table

-- case: drop-table-cascade
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p (id));
-- migrate
DROP TABLE p CASCADE;
-- expect: risk=high rules=ban-drop-table,drop-cascade

-- case: drop-table-created-here
-- migrate
CREATE TABLE scratch (id int);
DROP TABLE scratch;
-- expect: risk=low norules=ban-drop-table

-- case: create-view
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
CREATE VIEW v AS SELECT id, a FROM t;
-- expect: risk=low

-- case: replace-view
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE VIEW v AS SELECT id FROM t;
-- migrate
CREATE OR REPLACE VIEW v AS SELECT id, a FROM t;
-- expect: risk=low

-- case: drop-view
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE VIEW v AS SELECT id FROM t;
-- migrate
DROP VIEW v;
-- expect: risk=medium

-- case: refresh-matview
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t;
-- migrate
REFRESH MATERIALIZED VIEW mv;
-- expect: risk=medium rewrite=yes

-- case: refresh-matview-concurrently
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 50) g;
CREATE MATERIALIZED VIEW mv AS SELECT id, a FROM t;
CREATE UNIQUE INDEX mv_id ON mv (id);
-- migrate
REFRESH MATERIALIZED VIEW CONCURRENTLY mv;
-- expect: risk=low rewrite=no

-- case: create-trigger
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
-- migrate
CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();
-- expect: risk=low

-- case: disable-trigger
CREATE TABLE t (id int PRIMARY KEY, a text);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER t_touch BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION touch();
-- migrate
ALTER TABLE t DISABLE TRIGGER t_touch;
-- expect: risk=low

-- case: create-policy
CREATE TABLE t (id int PRIMARY KEY, owner text);
-- migrate
CREATE POLICY own_rows ON t USING (owner = current_user);
-- expect: risk=low

-- case: enable-row-level-security
CREATE TABLE t (id int PRIMARY KEY, owner text);
-- migrate
ALTER TABLE t ENABLE ROW LEVEL SECURITY;
-- expect: risk=low

-- case: comment-on-table
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
COMMENT ON TABLE t IS 'things';
-- expect: risk=low

-- case: comment-on-column
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
COMMENT ON COLUMN t.a IS 'the a';
-- expect: risk=low

-- case: set-statistics
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t ALTER COLUMN a SET STATISTICS 500;
-- expect: risk=low

-- case: set-fillfactor
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t SET (fillfactor = 80);
-- expect: risk=low

-- case: set-autovacuum-parameter
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t SET (autovacuum_vacuum_scale_factor = 0.01);
-- expect: risk=low

-- case: update-all-rows
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
UPDATE t SET a = 'y';
-- expect: risk=high rewrite=no rules=update-all-rows

-- case: delete-all-rows
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
DELETE FROM t;
-- expect: risk=high rules=delete-all-rows

-- case: update-some-rows
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
UPDATE t SET a = 'y' WHERE id < 10;
-- expect: risk=low norules=update-all-rows

-- case: insert-rows
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
INSERT INTO t VALUES (1, 'seed');
-- expect: risk=low

-- case: access-exclusive-held-across-statements
CREATE TABLE t (id int PRIMARY KEY, a text);
INSERT INTO t SELECT g, 'x' FROM generate_series(1, 200) g;
-- migrate
BEGIN;
ALTER TABLE t ADD COLUMN b int;
UPDATE t SET b = 1 WHERE id < 100;
COMMIT;
-- expect: risk=medium rules=access-exclusive-held

-- case: enum-add-value
CREATE TYPE mood AS ENUM ('sad', 'ok');
-- migrate
ALTER TYPE mood ADD VALUE 'happy';
-- expect: risk=low

-- case: enum-rename-value
CREATE TYPE mood AS ENUM ('sad', 'ok');
-- migrate
ALTER TYPE mood RENAME VALUE 'ok' TO 'fine';
-- expect: risk=high rules=enum-rename-value

-- case: create-sequence
-- migrate
CREATE SEQUENCE order_numbers START 1000;
-- expect: risk=low

-- case: create-extension
-- migrate
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- expect: risk=low

-- case: create-function
-- migrate
CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT i + 1; $$;
-- expect: risk=low

-- case: do-block
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
DO $$ BEGIN PERFORM count(*) FROM t; END $$;
-- expect: risk=unknown rules=opaque-code

-- case: drop-schema
CREATE SCHEMA old_stuff;
-- migrate
DROP SCHEMA old_stuff;
-- expect: risk=high rules=ban-drop-schema

-- case: schema-qualified-add-column
CREATE SCHEMA app;
CREATE TABLE app.users (id int PRIMARY KEY, name text);
INSERT INTO app.users SELECT g, 'u' FROM generate_series(1, 100) g;
-- migrate
ALTER TABLE app.users ADD COLUMN email text;
CREATE INDEX CONCURRENTLY users_email_idx ON app.users (email);
-- expect: risk=low rewrite=no

-- case: quoted-mixed-case-table
CREATE TABLE "Order Items" (id int PRIMARY KEY, qty int);
-- migrate
ALTER TABLE "Order Items" ALTER COLUMN qty TYPE bigint;
-- expect: risk=high rewrite=yes

-- case: add-column-with-check-inline
CREATE TABLE t (id int PRIMARY KEY);
INSERT INTO t SELECT g FROM generate_series(1, 50) g;
-- migrate
ALTER TABLE t ADD COLUMN n int CHECK (n > 0);
-- expect: risk=medium rewrite=no

-- case: multi-command-alter
CREATE TABLE t (id int PRIMARY KEY, a text, b int);
INSERT INTO t SELECT g, 'x', g FROM generate_series(1, 100) g;
-- migrate
ALTER TABLE t ADD COLUMN c int, ALTER COLUMN b SET DEFAULT 0, ALTER COLUMN a SET STATISTICS 200;
-- expect: risk=low rewrite=no

-- case: replica-identity
CREATE TABLE t (id int PRIMARY KEY, a text);
-- migrate
ALTER TABLE t REPLICA IDENTITY FULL;
-- expect: risk=low

-- case: create-statistics
CREATE TABLE t (id int PRIMARY KEY, a int, b int);
-- migrate
CREATE STATISTICS t_ab (dependencies) ON a, b FROM t;
-- expect: risk=low
