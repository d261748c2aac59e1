-- Grouping corpus: the monitor's patterns against PostgreSQL 15's
-- pg_stat_statements queryid (tests/monitor/test_monitor_pgss.c).
-- One statement per line, run in order in a database of its own.
-- "!" lines are setup: run, not compared.
-- A trailing "-- merge:CLASS" marks a statement that may share a pattern
-- with others of the same CLASS although PostgreSQL 15 keeps them apart
-- (the deliberate merges documented in docs/monitor.md).
!CREATE TABLE author (id int PRIMARY KEY, name text NOT NULL, email text, born date, score numeric, tags text[], meta jsonb)
!CREATE TABLE book (id int PRIMARY KEY, author_id int REFERENCES author(id), title text, year int, price numeric(10,2), isbn text UNIQUE)
!CREATE TABLE sale (id bigserial PRIMARY KEY, book_id int, qty int, sold_at timestamptz DEFAULT now(), region text)
!CREATE TABLE events_a (id int, kind text, at timestamptz)
!CREATE TABLE kv (k text PRIMARY KEY, v text)
!CREATE FUNCTION add1(x int) RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN x + 1; END'
!CREATE FUNCTION add2(x int, y int) RETURNS int LANGUAGE plpgsql AS 'BEGIN RETURN x + y; END'
!INSERT INTO author SELECT g, 'name' || g, 'a' || g || '@example.com', date '1950-01-01' + g, g * 1.5, ARRAY['t' || (g % 5)], jsonb_build_object('k', g, 'tags', jsonb_build_array('x', 'y')) FROM generate_series(1, 200) g
!INSERT INTO book SELECT g, 1 + g % 200, 'title ' || g, 1900 + g % 120, (g % 50) + 0.99, 'isbn-' || g FROM generate_series(1, 1000) g
!INSERT INTO sale (book_id, qty, region) SELECT 1 + g % 1000, 1 + g % 4, CASE WHEN g % 2 = 0 THEN 'eu' ELSE 'us' END FROM generate_series(1, 3000) g
!INSERT INTO kv SELECT 'k' || g, 'v' || g FROM generate_series(1, 50) g
!ANALYZE
-- plain reads
SELECT 1
SELECT 1, 2
SELECT 'a'
SELECT 1 AS one
SELECT name FROM author WHERE id = 1
SELECT name FROM author WHERE id = 2
SELECT name FROM author WHERE id = 42
SELECT name, email FROM author WHERE id = 1
SELECT email, name FROM author WHERE id = 1
SELECT name FROM author WHERE id > 10
SELECT name FROM author WHERE id >= 10
SELECT name FROM author WHERE id < 10 AND score > 3
SELECT name FROM author WHERE id < 10 OR score > 3
SELECT name FROM author WHERE name = 'name1'
SELECT name FROM author WHERE name LIKE 'name1%'
SELECT name FROM author WHERE name ILIKE 'NAME1%'
SELECT name FROM author WHERE name ~ '^name1'
SELECT name FROM author WHERE email IS NULL
SELECT name FROM author WHERE email IS NOT NULL
SELECT name FROM author WHERE born BETWEEN '1950-01-01' AND '1950-06-01'
SELECT * FROM author WHERE id = 7
SELECT author.* FROM author WHERE id = 7
SELECT count(*) FROM author
SELECT count(id) FROM author
SELECT count(DISTINCT name) FROM author
SELECT max(score), min(score) FROM author
SELECT min(score), max(score) FROM author
SELECT avg(score) FROM author
SELECT sum(qty) FROM sale
SELECT sum(qty) FROM sale WHERE region = 'eu'
SELECT region, sum(qty) FROM sale GROUP BY region
SELECT region, sum(qty) FROM sale GROUP BY region HAVING sum(qty) > 10
SELECT region, sum(qty) FROM sale GROUP BY 1
SELECT region, count(*) FROM sale GROUP BY region ORDER BY 2 DESC
SELECT name FROM author ORDER BY name
SELECT name FROM author ORDER BY name DESC
SELECT name FROM author ORDER BY name LIMIT 5
SELECT name FROM author ORDER BY name LIMIT 5 OFFSET 10
SELECT name FROM author ORDER BY id DESC NULLS LAST LIMIT 3
SELECT name, id FROM author ORDER BY 1
SELECT name, id FROM author ORDER BY 2
SELECT DISTINCT region FROM sale
SELECT DISTINCT ON (region) region, qty FROM sale ORDER BY region, qty
SELECT a.name, b.title FROM author a JOIN book b ON b.author_id = a.id WHERE a.id = 3
SELECT a.name, b.title FROM author a LEFT JOIN book b ON b.author_id = a.id WHERE a.id = 3
SELECT a.name, b.title FROM author a RIGHT JOIN book b ON b.author_id = a.id WHERE b.id = 3
SELECT a.name, b.title FROM author a FULL JOIN book b ON b.author_id = a.id WHERE b.id = 3
SELECT a.name, b.title FROM author a, book b WHERE b.author_id = a.id AND a.id = 3
SELECT a.name, count(b.id) FROM author a JOIN book b ON b.author_id = a.id GROUP BY a.name ORDER BY 2 DESC LIMIT 10
SELECT b.title, s.qty FROM book b JOIN sale s ON s.book_id = b.id WHERE s.region = 'us' LIMIT 20
SELECT title FROM book WHERE author_id IN (SELECT id FROM author WHERE score > 100)
SELECT title FROM book WHERE EXISTS (SELECT 1 FROM sale WHERE sale.book_id = book.id)
SELECT title FROM book WHERE NOT EXISTS (SELECT 1 FROM sale WHERE sale.book_id = book.id)
SELECT title, (SELECT count(*) FROM sale WHERE sale.book_id = book.id) FROM book WHERE id < 5
SELECT * FROM (SELECT id, title FROM book WHERE year > 2000) s WHERE id < 100
WITH recent AS (SELECT * FROM sale WHERE qty > 2) SELECT count(*) FROM recent
WITH recent AS (SELECT * FROM sale WHERE qty > 3) SELECT count(*) FROM recent
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10) SELECT sum(i) FROM n
SELECT id FROM book WHERE year = 2001 UNION SELECT id FROM book WHERE year = 2002
SELECT id FROM book WHERE year = 2001 UNION ALL SELECT id FROM book WHERE year = 2002
SELECT id FROM book WHERE year = 2001 INTERSECT SELECT id FROM book WHERE price > 10
SELECT id FROM book WHERE year = 2001 EXCEPT SELECT id FROM book WHERE price > 10
SELECT title, rank() OVER (PARTITION BY author_id ORDER BY price DESC) FROM book WHERE author_id < 3
SELECT title, row_number() OVER (ORDER BY price) FROM book WHERE author_id < 3
SELECT title, sum(price) OVER (PARTITION BY author_id) FROM book WHERE author_id < 3
SELECT CASE WHEN qty > 2 THEN 'big' ELSE 'small' END FROM sale WHERE id < 5
SELECT CASE WHEN qty > 2 THEN 'big' WHEN qty > 1 THEN 'mid' ELSE 'small' END FROM sale WHERE id < 5
SELECT coalesce(email, 'none') FROM author WHERE id = 1
SELECT nullif(qty, 0) FROM sale WHERE id = 1
SELECT greatest(qty, 2) FROM sale WHERE id = 1
SELECT id::text FROM sale WHERE id = 1
SELECT CAST(id AS text) FROM sale WHERE id = 1
SELECT id::bigint FROM sale WHERE id = 1
SELECT upper(name) FROM author WHERE id = 1
SELECT lower(name) FROM author WHERE id = 1
SELECT length(name) FROM author WHERE id = 1
SELECT substr(name, 1, 3) FROM author WHERE id = 1
SELECT substr(name, 2) FROM author WHERE id = 1
SELECT now()
SELECT current_date
SELECT current_timestamp
SELECT date_trunc('day', sold_at), count(*) FROM sale GROUP BY 1
SELECT date_trunc('hour', sold_at), count(*) FROM sale GROUP BY 1
SELECT extract(year FROM born) FROM author WHERE id = 1
SELECT meta->>'k' FROM author WHERE id = 1
SELECT meta->'k' FROM author WHERE id = 1
SELECT meta #> '{tags,0}' FROM author WHERE id = 1
SELECT count(*) FROM author WHERE meta ? 'k'
SELECT count(*) FROM author WHERE meta ?| array['k', 'z']
SELECT count(*) FROM author WHERE meta ?& array['k', 'tags']
SELECT count(*) FROM author WHERE meta @> '{"k": 1}'
SELECT count(*) FROM author WHERE tags @> ARRAY['t1']
SELECT count(*) FROM author WHERE 't1' = ANY(tags)
SELECT unnest(tags) FROM author WHERE id = 1
SELECT array_agg(name) FROM author WHERE id < 4
SELECT string_agg(name, ',') FROM author WHERE id < 4
SELECT string_agg(name, ';' ORDER BY name) FROM author WHERE id < 4
SELECT json_agg(name) FROM author WHERE id < 4
SELECT add1(1)
SELECT add1(2)
SELECT add2(1, 2)
SELECT add1(add1(1))
SELECT generate_series(1, 3)
SELECT * FROM generate_series(1, 3) g
SELECT a, a FROM (SELECT 1 AS a) s
SELECT a FROM (SELECT 1 AS a) s
SELECT a, b FROM (SELECT 1 AS a, 2 AS b) s
SELECT b, a FROM (SELECT 1 AS a, 2 AS b) s
SELECT name FROM author WHERE id = 1 FOR UPDATE
SELECT name FROM author WHERE id = 1 FOR SHARE
SELECT name FROM author WHERE id = 1 FOR UPDATE SKIP LOCKED
SELECT name FROM author WHERE id = 1 FOR UPDATE NOWAIT
TABLE kv
VALUES (1)
VALUES (1, 2)
SELECT k FROM kv WHERE k = $$k1$$
SELECT title FROM book WHERE price > 10.5
SELECT title FROM book WHERE price > 10
SELECT title FROM book WHERE isbn = 'isbn-1' AND year = 1901
SELECT title FROM book TABLESAMPLE SYSTEM (10) WHERE id < 0
SELECT title FROM book b WHERE b.id = 1
SELECT title FROM ONLY book WHERE id = 1
-- constant lists: squashed like PostgreSQL 18 (deliberate)
SELECT name FROM author WHERE id IN (1, 2, 3) -- merge:inlist
SELECT name FROM author WHERE id IN (4, 5, 6, 7) -- merge:inlist
SELECT name FROM author WHERE id IN (8) -- merge:inlist
SELECT name FROM author WHERE id IN (9, 10) -- merge:inlist
SELECT name FROM author WHERE id = ANY(ARRAY[1, 2, 3]) -- merge:arraylist
SELECT name FROM author WHERE id = ANY(ARRAY[4, 5]) -- merge:arraylist
SELECT name FROM author WHERE id NOT IN (1, 2) -- merge:notinlist
SELECT name FROM author WHERE id NOT IN (1, 2, 3) -- merge:notinlist
SELECT name FROM author WHERE name IN ('name1', 'name2') -- merge:inlist-text
SELECT name FROM author WHERE name IN ('name1', 'name2', 'name3') -- merge:inlist-text
-- writes
INSERT INTO kv (k, v) VALUES ('a1', 'x') -- merge:valuesrows
INSERT INTO kv (k, v) VALUES ('a2', 'y') -- merge:valuesrows
INSERT INTO kv (v, k) VALUES ('y', 'a3')
INSERT INTO kv VALUES ('a4', 'z')
INSERT INTO kv (k) VALUES ('a5')
INSERT INTO kv (k, v) VALUES ('a6', 'x'), ('a7', 'y') -- merge:valuesrows
INSERT INTO kv (k, v) VALUES ('a8', 'x'), ('a9', 'y'), ('a10', 'z') -- merge:valuesrows
INSERT INTO kv (k, v) VALUES ('b1', 'x') ON CONFLICT DO NOTHING
INSERT INTO kv (k, v) VALUES ('b1', 'x') ON CONFLICT (k) DO UPDATE SET v = excluded.v
INSERT INTO kv (k, v) VALUES ('b2', 'x') RETURNING k
INSERT INTO kv (k, v) VALUES ('b3', 'x') RETURNING k, v
INSERT INTO kv (k, v) SELECT 'c' || g, 'v' FROM generate_series(1, 3) g
INSERT INTO sale (book_id, qty, region) VALUES (1, 1, 'eu')
INSERT INTO sale (book_id, qty, region) VALUES (2, 2, 'us')
INSERT INTO sale (book_id, qty) VALUES (2, 2)
INSERT INTO sale DEFAULT VALUES
UPDATE kv SET v = 'new' WHERE k = 'a1'
UPDATE kv SET v = 'new2' WHERE k = 'a2'
UPDATE kv SET v = v || '!' WHERE k = 'a1'
UPDATE kv SET v = 'n', k = k WHERE k = 'a1'
UPDATE kv SET k = k, v = 'n' WHERE k = 'a1'
UPDATE kv SET v = 'new' WHERE k LIKE 'c%'
UPDATE kv SET v = 'x' WHERE k = 'a1' RETURNING v
UPDATE sale SET qty = qty + 1 WHERE id = 1
UPDATE sale SET qty = qty + 1 FROM book WHERE book.id = sale.book_id AND book.id = 1
UPDATE book SET price = price * 1.1 WHERE year < 1901
DELETE FROM kv WHERE k = 'a5'
DELETE FROM kv WHERE k = 'a4'
DELETE FROM kv WHERE k LIKE 'c%'
DELETE FROM kv WHERE k = 'b3' RETURNING v
DELETE FROM sale USING book WHERE book.id = sale.book_id AND book.id = 2
WITH d AS (DELETE FROM kv WHERE k = 'b2' RETURNING *) SELECT count(*) FROM d
WITH u AS (UPDATE kv SET v = 'w' WHERE k = 'a1' RETURNING *) SELECT * FROM u
MERGE INTO kv t USING (SELECT 'm1' AS k, 'v' AS v) s ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT (k, v) VALUES (s.k, s.v)
-- transactions
BEGIN
COMMIT
BEGIN ISOLATION LEVEL SERIALIZABLE
COMMIT
BEGIN ISOLATION LEVEL REPEATABLE READ
COMMIT
BEGIN READ ONLY
COMMIT
BEGIN READ WRITE
COMMIT
BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE
COMMIT
START TRANSACTION
ROLLBACK
START TRANSACTION READ ONLY
ROLLBACK
BEGIN
SAVEPOINT sp_a
RELEASE SAVEPOINT sp_a
SAVEPOINT sp_b
ROLLBACK TO SAVEPOINT sp_b
SET TRANSACTION ISOLATION LEVEL READ COMMITTED
DECLARE cur_a CURSOR FOR SELECT id FROM book
FETCH 10 FROM cur_a
FETCH NEXT FROM cur_a
MOVE 5 IN cur_a
CLOSE cur_a
DECLARE cur_b CURSOR FOR SELECT id FROM author
CLOSE cur_b
COMMIT
BEGIN
LOCK TABLE kv IN SHARE MODE
LOCK TABLE kv IN ACCESS EXCLUSIVE MODE
ROLLBACK
-- procedural and prepared
DO $$ BEGIN PERFORM 1; END $$
DO $$ BEGIN PERFORM 2; END $$
DO $$ BEGIN UPDATE kv SET v = 'do' WHERE k = 'a1'; END $$
DO LANGUAGE plpgsql $$ BEGIN PERFORM 3; END $$
PREPARE get_author(int) AS SELECT name FROM author WHERE id = $1
PREPARE get_book(int) AS SELECT title FROM book WHERE id = $1
EXECUTE get_author(1)
EXECUTE get_author(2)
EXECUTE get_book(1)
DEALLOCATE get_author
DEALLOCATE get_book
-- session
SET work_mem = '4MB'
SET work_mem = '8MB'
SET statement_timeout = 0
SET statement_timeout = '5s'
SET search_path = public
SET search_path TO public, pg_catalog
SET LOCAL work_mem = '4MB'
SET TIME ZONE 'UTC'
RESET work_mem
RESET ALL
SHOW work_mem
SHOW search_path
SELECT set_config('work_mem', '4MB', false)
SELECT current_setting('work_mem')
DISCARD ALL
LISTEN chan_a
LISTEN chan_b
NOTIFY chan_a
NOTIFY chan_a, 'payload'
UNLISTEN chan_a
UNLISTEN *
-- DDL
CREATE TABLE t_new1 (id int)
CREATE TABLE t_new2 (id int, v text)
CREATE TABLE IF NOT EXISTS t_new1 (id int)
CREATE TEMP TABLE tmp_a (id int)
CREATE UNLOGGED TABLE t_unl (id int)
CREATE TABLE t_ctas1 AS SELECT id FROM book WHERE id < 10
CREATE TABLE t_ctas2 AS SELECT id FROM book WHERE id < 10
CREATE TABLE t_ctas3 AS SELECT id FROM book WHERE id < 20
SELECT id INTO t_into1 FROM book WHERE id < 5
CREATE TABLE t_like (LIKE book)
CREATE INDEX idx_t_new2_v ON t_new2 (v)
CREATE INDEX idx_t_new2_id ON t_new2 (id)
CREATE UNIQUE INDEX idx_t_new2_idv ON t_new2 (id, v)
CREATE INDEX idx_t_new2_vid ON t_new2 (v, id)
CREATE INDEX idx_t_new2_low ON t_new2 (lower(v))
CREATE INDEX idx_t_new2_part ON t_new2 (id) WHERE v IS NOT NULL
ALTER TABLE t_new1 ADD COLUMN a int
ALTER TABLE t_new1 ADD COLUMN b text DEFAULT 'x'
ALTER TABLE t_new1 ADD COLUMN c int NOT NULL DEFAULT 0
ALTER TABLE t_new1 ALTER COLUMN a TYPE bigint
ALTER TABLE t_new1 ALTER COLUMN b SET DEFAULT 'y'
ALTER TABLE t_new1 ALTER COLUMN b DROP DEFAULT
ALTER TABLE t_new1 DROP COLUMN c
ALTER TABLE t_new1 RENAME COLUMN a TO a2
ALTER TABLE t_new1 ADD CONSTRAINT t_new1_pk PRIMARY KEY (id)
ALTER TABLE t_new2 ADD CONSTRAINT t_new2_fk FOREIGN KEY (id) REFERENCES t_new1 (id) NOT VALID
ALTER TABLE t_new2 VALIDATE CONSTRAINT t_new2_fk
ALTER TABLE t_new2 DROP CONSTRAINT t_new2_fk
ALTER TABLE t_new1 RENAME TO t_new1b
CREATE VIEW v_auth AS SELECT id, name FROM author
CREATE OR REPLACE VIEW v_auth AS SELECT id, name, email FROM author
CREATE MATERIALIZED VIEW mv_sales AS SELECT region, sum(qty) AS q FROM sale GROUP BY region
REFRESH MATERIALIZED VIEW mv_sales
CREATE SEQUENCE seq_a
CREATE SEQUENCE seq_b START 100
SELECT nextval('seq_a')
SELECT nextval('seq_b')
ALTER SEQUENCE seq_a RESTART WITH 5
CREATE SCHEMA s_a
CREATE SCHEMA s_b
CREATE TABLE s_a.t (id int)
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')
CREATE TYPE mood2 AS ENUM ('sad', 'ok')
CREATE DOMAIN posint AS int CHECK (VALUE > 0)
CREATE FUNCTION f_a() RETURNS int LANGUAGE sql AS 'SELECT 1'
CREATE FUNCTION f_b() RETURNS int LANGUAGE sql AS 'SELECT 2'
CREATE OR REPLACE FUNCTION f_a() RETURNS int LANGUAGE sql AS 'SELECT 3'
CREATE PROCEDURE p_a() LANGUAGE sql AS 'SELECT 1'
CALL p_a()
COMMENT ON TABLE author IS 'writers'
COMMENT ON TABLE author IS 'authors'
COMMENT ON TABLE book IS 'writers'
GRANT SELECT ON author TO PUBLIC
REVOKE SELECT ON author FROM PUBLIC
GRANT SELECT ON book TO PUBLIC
CREATE ROLE r_mon_a NOLOGIN
CREATE ROLE r_mon_b NOLOGIN
ALTER ROLE r_mon_a SET work_mem = '4MB'
DROP ROLE r_mon_a
DROP ROLE r_mon_b
TRUNCATE t_new2
TRUNCATE t_ctas1, t_ctas2
ANALYZE author
ANALYZE book
VACUUM kv
VACUUM (ANALYZE) kv
CLUSTER author USING author_pkey
REINDEX TABLE kv
REINDEX INDEX kv_pkey
CHECKPOINT
EXPLAIN SELECT name FROM author WHERE id = 1
EXPLAIN SELECT name FROM author WHERE id = 2
EXPLAIN (COSTS OFF) SELECT name FROM author WHERE id = 1
EXPLAIN ANALYZE SELECT name FROM author WHERE id = 1
COPY kv TO STDOUT
COPY (SELECT k FROM kv WHERE k = 'a1') TO STDOUT
DROP VIEW v_auth
DROP MATERIALIZED VIEW mv_sales
DROP INDEX idx_t_new2_v
DROP INDEX IF EXISTS idx_t_new2_nope
DROP TABLE t_ctas1
DROP TABLE t_ctas2
DROP TABLE IF EXISTS t_ctas3
DROP TABLE t_into1, t_like
DROP TABLE t_new2
DROP TABLE t_new1b CASCADE
DROP SEQUENCE seq_a
DROP SCHEMA s_a CASCADE
DROP SCHEMA s_b
DROP TYPE mood
DROP FUNCTION f_a()
DROP PROCEDURE p_a()
