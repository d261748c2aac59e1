-- Advisor decision corpus: Dexter's kind of cases (its documented behaviour,
-- restated as facts), each with the decision we expect and why. Run by
-- tests/advisor/test_advisor_corpus.c on the rig with HypoPG, twice: with the
-- statement given to the advisor (as from a file) and with the statement run
-- 3 times and read back from pg_stat_statements. Format:
--   -- case: NAME
--   one statement (one line)
--   -- expect: TABLE(COL,COL) | none     -- why: ...
--   -- note: TEXT     (optional: a note the report must hold)
-- TABLE(COLS) means exactly that one missing-index suggestion (table as the
-- report names it, columns in order); none means no suggestion.

-- setup
CREATE EXTENSION hypopg;
CREATE EXTENSION pg_stat_statements;
-- Autovacuum stays off for the corpus's tables: whether it has vacuumed them
-- (setting the visibility map, which decides what an index-only scan costs)
-- would otherwise depend on how long the run took, and so would the advice.
CREATE TABLE posts (id int, blog_id int, user_id int, indexed int, title text) WITH (autovacuum_enabled = off);
INSERT INTO posts (id, blog_id, user_id, indexed, title) SELECT n, n % 1000, n % 10, n, 't' || n FROM generate_series(1, 100000) n;
CREATE INDEX ON posts (indexed);
CREATE MATERIALIZED VIEW posts_materialized AS SELECT * FROM posts;
CREATE VIEW posts_view AS SELECT id AS view_id FROM posts;
CREATE VIEW recent_posts AS SELECT id, user_id, blog_id, title FROM posts WHERE id > 1000;
CREATE EXTENSION file_fdw;
CREATE SERVER other FOREIGN DATA WRAPPER file_fdw;
CREATE FOREIGN TABLE comments (post_id int) SERVER other OPTIONS (filename '/dev/null', format 'csv');
CREATE SCHEMA "Bar";
CREATE TABLE "Bar"."Foo" ("Id" int) WITH (autovacuum_enabled = off);
INSERT INTO "Bar"."Foo" SELECT * FROM generate_series(1, 100000);
CREATE TABLE feed (id int, author int, score int, body text) WITH (autovacuum_enabled = off);
INSERT INTO feed SELECT n, n % 500, (n * 7919) % 100000, 'b' || n FROM generate_series(1, 100000) n;
CREATE INDEX ON feed (author, score);
ANALYZE;
-- end setup

-- case: equality
SELECT * FROM posts WHERE id = 1
-- expect: posts(id)  -- why: one row of 100,000 by a column with no index

-- case: no-where
SELECT * FROM posts
-- expect: none  -- why: a full read; no index helps

-- case: existing-index
SELECT * FROM posts WHERE indexed = 1
-- expect: none  -- why: posts(indexed) exists already

-- case: equality-then-sort
SELECT * FROM posts WHERE user_id = 1 ORDER BY blog_id LIMIT 1000
-- expect: posts(user_id,blog_id)  -- why: equality column first, then the sort column: no sort needed

-- case: update
UPDATE posts SET title = 'x' WHERE id = 1
-- expect: posts(id)  -- why: the row to update is found by id

-- case: delete
DELETE FROM posts WHERE id = 1
-- expect: posts(id)  -- why: the row to delete is found by id

-- case: materialized-view
SELECT * FROM posts_materialized WHERE id = 1
-- expect: posts_materialized(id)  -- why: a materialized view is indexed itself

-- case: cte
WITH cte AS (SELECT * FROM posts WHERE id = 1) SELECT * FROM cte
-- expect: posts(id)  -- why: an inlined CTE is seen through

-- case: order-limit
SELECT * FROM posts ORDER BY user_id DESC LIMIT 10
-- expect: posts(user_id)  -- why: a top-N sort over the table; the index reads it in order (backwards)

-- case: order-multiple
SELECT * FROM posts ORDER BY user_id, blog_id LIMIT 10
-- expect: posts(user_id,blog_id)  -- why: both sort columns, in order

-- case: order-by-position
SELECT id, user_id FROM posts ORDER BY 2 LIMIT 10
-- expect: posts(user_id)  -- why: ORDER BY 2 is the second output column

-- case: order-by-alias
SELECT id, user_id AS u FROM posts ORDER BY u LIMIT 10
-- expect: posts(user_id)  -- why: u is the output alias of user_id

-- case: quoted-schema
SELECT * FROM "Bar"."Foo" WHERE "Id" = 10000
-- expect: "Bar"."Foo"(Id)  -- why: names needing quotes are found and quoted

-- case: low-selectivity-aggregate
SELECT count(*) FROM posts WHERE user_id < 4
-- expect: none  -- why: 40 % of the table: a sequential scan stays cheaper

-- case: one-literal-no-partial
SELECT title FROM posts WHERE blog_id = 5
-- expect: posts(blog_id)  -- why: blog_id = 5 is one execution's value, not a hot set: the plain index, not a partial one WHERE blog_id = 5


-- case: view
SELECT * FROM posts_view WHERE view_id = 1
-- expect: posts(id)  -- why: posts_view is a view of posts, its view_id is posts.id: index the base table
-- note: view: seen through to its base table(s), which the suggestions index (public.posts_view)

-- case: view-own-condition
SELECT * FROM recent_posts WHERE user_id = 1 ORDER BY blog_id LIMIT 100
-- expect: posts(user_id,blog_id)  -- why: through the view, posts is filtered by user_id and sorted by blog_id

-- case: foreign-table
SELECT * FROM comments WHERE post_id = 1
-- expect: none  -- why: a foreign table is indexed on its own server; nothing to create here
-- note: foreign table: its indexes live on its own server, not analysed here (public.comments)

-- case: order-mixed
SELECT * FROM posts ORDER BY user_id, blog_id DESC LIMIT 10
-- expect: posts(user_id,blog_id DESC)  -- why: the directions differ, so only an index with them reads the rows in order (no sort)

-- case: order-mixed-reversed
SELECT * FROM posts ORDER BY user_id DESC, blog_id LIMIT 10
-- expect: posts(user_id,blog_id DESC)  -- why: the same index read backwards; written with the first column ascending

-- case: order-same-direction
SELECT * FROM posts ORDER BY user_id DESC, blog_id DESC LIMIT 10
-- expect: posts(user_id,blog_id)  -- why: one direction for all: the plain index read backwards serves it

-- case: existing-index-backwards
SELECT * FROM feed ORDER BY author DESC, score DESC LIMIT 10
-- expect: none  -- why: feed(author, score) exists; read backwards it gives this order

-- case: existing-index-wrong-directions
SELECT * FROM feed ORDER BY author, score DESC LIMIT 10
-- expect: feed(author,score DESC)  -- why: feed(author, score) gives either both ascending or both descending, never this order

-- case: order-nulls-last-descending
SELECT * FROM posts ORDER BY blog_id DESC NULLS LAST LIMIT 10
-- expect: posts(blog_id NULLS FIRST)  -- why: read backwards, an index with nulls first gives descending with nulls last; the plain index cannot

-- case: saving-under-minimum
SELECT * FROM posts WHERE blog_id < 150
-- expect: none  -- why: 15 % of the rows: an index lowers the plan cost by about 40 %, under the 50 % minimum saving (Dexter's default)
