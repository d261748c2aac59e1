-- The demo's SQL script: what an application sends, analysed statement by
-- statement (kind, read-only, tables, volatility, cacheability).
SELECT id, email FROM app.users WHERE id = 42;
SELECT u.id, count(o.id)
  FROM app.users u JOIN app.orders o ON o.user_id = u.id
 WHERE o.created_at > now() - interval '7 days'
 GROUP BY u.id;
SELECT * FROM app.orders WHERE id = 7 FOR UPDATE;
BEGIN;
INSERT INTO app.orders (user_id, total) VALUES (42, 19.90) RETURNING id;
UPDATE app.users SET last_seen = now() WHERE id = 42;
COMMIT;
WITH gone AS (DELETE FROM app.sessions WHERE expires_at < now() RETURNING user_id)
SELECT count(*) FROM gone;
SELECT nextval('app.order_seq');
SELECT random();
CREATE INDEX CONCURRENTLY orders_user_idx ON app.orders (user_id);
