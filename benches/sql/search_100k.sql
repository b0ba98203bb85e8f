-- Admin user search at 100k users on PostgreSQL: fills a migrated database with 100 000 users
-- (names from a small vocabulary, 1 in 50 suspended, 1 in 100 soft-deleted, every user holding
-- the `user` role) and prints the plans and timings of the statements `search_users` runs.
-- Usage (an EMPTY, migrated database; see benches/README.md):
--   psql -h 127.0.0.1 -U postgres -d usermgmt_search_bench -f benches/sql/search_100k.sql
\timing on
INSERT INTO users (id, email, username, password_hash, first_name, last_name, email_verified,
                   is_suspended, deleted_at, created_at, updated_at, last_login_at)
SELECT gen_random_uuid(),
       'user' || g || '@' || (ARRAY['example.com','mail.test','corp.example'])[1 + g % 3],
       (ARRAY['alex','sam','kim','lee','noor','ivo','mia','otto'])[1 + g % 8] || '_' || g,
       '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
       (ARRAY['Anna','Bruno','Chen','Dana','Emil','Fatima','Goran','Hana'])[1 + g % 8],
       (ARRAY['Smith','Nguyen','Garcia','Okafor','Kowalski','Tanaka','Silva','Berg'])[1 + (g / 8) % 8] || (g % 997),
       g % 3 <> 0,
       g % 50 = 0,
       CASE WHEN g % 100 = 0 THEN now() - interval '1 day' END,
       now() - (g || ' minutes')::interval,
       now() - (g || ' minutes')::interval,
       CASE WHEN g % 4 = 0 THEN now() - (g || ' seconds')::interval END
FROM generate_series(1, 100000) AS g;
INSERT INTO user_roles (user_id, role_id, assigned_at)
SELECT id, '00000000-0000-7000-8000-000000000003', now() FROM users;
ANALYZE users;
ANALYZE user_roles;

-- A rare substring (the store's query: one expression, the trigram index's) (a few dozen matches): page and total.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM users WHERE deleted_at IS NULL
  AND (email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
      ILIKE '%r4242%' ESCAPE '\'
ORDER BY created_at DESC NULLS FIRST, id DESC LIMIT 20 OFFSET 0;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND (email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
      ILIKE '%r4242%' ESCAPE '\';

-- A common substring (thousands of matches): the page stops early on the time index.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM users WHERE deleted_at IS NULL
  AND (email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
      ILIKE '%okafor%' ESCAPE '\'
ORDER BY created_at DESC NULLS FIRST, id DESC LIMIT 20 OFFSET 0;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND (email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
      ILIKE '%okafor%' ESCAPE '\';

-- No filter, newest first, a deep page.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM users WHERE deleted_at IS NULL
ORDER BY created_at DESC NULLS FIRST, id DESC LIMIT 20 OFFSET 2000;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL;

-- Status filter and sort by last login.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM users WHERE deleted_at IS NULL AND is_suspended = TRUE
ORDER BY last_login_at ASC NULLS LAST, id ASC LIMIT 20 OFFSET 0;

-- First and last name together.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND (email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
      ILIKE '%dana okafor%' ESCAPE '\';

-- Role filter.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND EXISTS (SELECT 1 FROM user_roles ur
  JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = users.id AND r.name = 'admin');
