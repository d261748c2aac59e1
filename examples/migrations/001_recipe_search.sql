-- A migration an Alchemorsel developer might write to speed up recipe search,
-- against the perftest's schema (examples/run-demo.sh loads it). Each
-- statement is a classic risk the migration check explains.

-- rewrites the table and blocks reads and writes while it does
ALTER TABLE alchdb_perftest.recipe_views ALTER COLUMN user_id TYPE integer;

-- blocks writes to recipes for the whole build (not CONCURRENTLY)
CREATE INDEX recipes_title_idx ON alchdb_perftest.recipes (title);

-- safe on PostgreSQL 11+: a constant default needs no rewrite
ALTER TABLE alchdb_perftest.users ADD COLUMN verified boolean NOT NULL DEFAULT false;

-- validates every row under an ACCESS EXCLUSIVE lock
ALTER TABLE alchdb_perftest.recipe_ratings
  ADD CONSTRAINT recipe_ratings_recipe_fk FOREIGN KEY (recipe_id) REFERENCES alchdb_perftest.recipes (id);
