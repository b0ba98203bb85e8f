-- Admin user search at 100k users on MySQL / MariaDB: fills a migrated database with 100 000
-- users (the same rows as ../search_100k.sql makes on PostgreSQL: names from a small
-- vocabulary, 1 in 50 suspended, 1 in 100 soft-deleted, every user holding the `user` role) and
-- prints the plans and timings of the statements `search_users` runs on MySQL.
-- Usage (an EMPTY, migrated database; see benches/README.md):
--   mariadb -vvv -h 127.0.0.1 -u root usermgmt_search_bench < benches/sql/mysql/search_100k.sql
-- (`mysql` on MySQL 8.) Run with -vvv for each statement's time; each runs once after its
-- EXPLAIN (the plan).
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT');
SET time_zone = '+00:00';

-- 0..99999 without a numbers table: five cross-joined digits (portable to MySQL 8).
CREATE TEMPORARY TABLE digits (d INT PRIMARY KEY);
INSERT INTO digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);
CREATE TEMPORARY TABLE seq (g INT PRIMARY KEY);
INSERT INTO seq
SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d
FROM digits a, digits b, digits c, digits e, digits f;

INSERT INTO users (id, email, username, password_hash, first_name, last_name, email_verified,
                   is_suspended, deleted_at, created_at, updated_at, last_login_at)
SELECT UNHEX(REPLACE(UUID(), '-', '')),
       CONCAT('user', g, '@', ELT(1 + g % 3, 'example.com', 'mail.test', 'corp.example')),
       CONCAT(ELT(1 + g % 8, 'alex','sam','kim','lee','noor','ivo','mia','otto'), '_', g),
       '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA',
       ELT(1 + g % 8, 'Anna','Bruno','Chen','Dana','Emil','Fatima','Goran','Hana'),
       CONCAT(ELT(1 + (g DIV 8) % 8, 'Smith','Nguyen','Garcia','Okafor','Kowalski','Tanaka','Silva','Berg'), g % 997),
       g % 3 <> 0,
       g % 50 = 0,
       CASE WHEN g % 100 = 0 THEN UTC_TIMESTAMP(6) - INTERVAL 1 DAY END,
       UTC_TIMESTAMP(6) - INTERVAL g MINUTE,
       UTC_TIMESTAMP(6) - INTERVAL g MINUTE,
       CASE WHEN g % 4 = 0 THEN UTC_TIMESTAMP(6) - INTERVAL g SECOND END
FROM seq;
INSERT INTO user_roles (user_id, role_id, assigned_at)
SELECT u.id, r.id, UTC_TIMESTAMP(6) FROM users u JOIN roles r ON r.name = 'user';
ANALYZE TABLE users, user_roles;

-- A rare substring (11 matches on PostgreSQL's data): page and total. The store's text and its
-- case-insensitive match (`like_ci_around` in store/mysql.rs; the pattern arrives lower-cased
-- from LOWER(?)).
EXPLAIN SELECT id FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%r4242%' ESCAPE '\'
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
SELECT id FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%r4242%' ESCAPE '\'
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%r4242%' ESCAPE '\';
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%r4242%' ESCAPE '\';
-- A common one (12 504 matches on PostgreSQL's data): newest-first page, and total.
EXPLAIN SELECT id FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%okafor%' ESCAPE '\'
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
SELECT id FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%okafor%' ESCAPE '\'
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%okafor%' ESCAPE '\';
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%okafor%' ESCAPE '\';
-- First and last name.
EXPLAIN SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%dana okafor%' ESCAPE '\';
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL
  AND LOWER((email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')))
      LIKE '%dana okafor%' ESCAPE '\';
-- No filter: page 101 and the total.
EXPLAIN SELECT id FROM users WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 2000;
SELECT id FROM users WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 2000;
EXPLAIN SELECT COUNT(*) FROM users WHERE deleted_at IS NULL;
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL;
-- Suspended, by last login (MySQL has no NULLS LAST: `order_nulls`).
EXPLAIN SELECT id FROM users WHERE deleted_at IS NULL AND is_suspended = TRUE
ORDER BY last_login_at IS NULL ASC, last_login_at ASC, id ASC LIMIT 20 OFFSET 0;
SELECT id FROM users WHERE deleted_at IS NULL AND is_suspended = TRUE
ORDER BY last_login_at IS NULL ASC, last_login_at ASC, id ASC LIMIT 20 OFFSET 0;
-- role=admin: total.
EXPLAIN SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND EXISTS (SELECT 1 FROM user_roles ur
  JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = users.id AND r.name = 'admin');
SELECT COUNT(*) FROM users WHERE deleted_at IS NULL AND EXISTS (SELECT 1 FROM user_roles ur
  JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = users.id AND r.name = 'admin');
