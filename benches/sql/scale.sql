-- Scale on PostgreSQL (issue 22, item 5): fills a migrated database (the server migrated it, and
-- may already hold its own users) with generated users up to :users, :sessions_per_user sessions
-- per generated user (each with its current refresh token) and :audit_per_user audit rows per
-- generated user spread over 90 days. Defaults: 1 000 000 users, 5 sessions and 50 audit rows a
-- user, i.e. 5 000 000 sessions and refresh tokens and 50 000 000 audit rows.
--
--   psql -h 127.0.0.1 -U postgres -d usermgmt_scale_1m -f benches/sql/scale.sql
--   psql ... -v users=10000 -f benches/sql/scale.sql        # the 10k reference, same shape
--
-- benches/load/scale.sh runs it for both sizes; benches/README.md ("Scale") has the times.
--
-- The rows are what the server writes: time-ordered (version 7) UUIDs, unique e-mails and user
-- names, an Argon2id-shaped password hash, every user holding the `user` role and a profile row,
-- sessions with parsed device information, refresh tokens stored as 64-hex SHA-256 digests (of
-- nothing anyone holds: the generated sessions cannot be refreshed), audit rows with actor,
-- target, address and agent. Generated users cannot log in (the hash is not of a password):
-- the load run logs in users it registers itself, on top of these.
--
-- Speed: everything is one transaction of set-based INSERT ... SELECT generate_series. The
-- secondary indexes of the six filled tables (not those behind a primary key or unique
-- constraint) are dropped first and built again from their own definitions (pg_get_indexdef,
-- so exactly what the migrations made) before the COMMIT: building an index once is many times
-- faster than 50M random insertions into it. Constraints and foreign keys stay on. Rows are
-- inserted in the order of their primary key, so those indexes only ever grow at their end.
\set ON_ERROR_STOP on
\if :{?users}
\else
\set users 1000000
\endif
\if :{?sessions_per_user}
\else
\set sessions_per_user 5
\endif
\if :{?audit_per_user}
\else
\set audit_per_user 50
\endif
\timing on

SET maintenance_work_mem = '1GB';
SET work_mem = '256MB';
SET jit = off;

BEGIN;

-- A version 7 UUID: 48 bits of Unix milliseconds, then a tag per table and a sequence number,
-- so ids sort by time as the server's do and never collide with each other.
CREATE FUNCTION pg_temp.scale_uuid(t timestamptz, tag int, n bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE AS $$
  SELECT (lpad(to_hex((extract(epoch FROM t) * 1000)::bigint), 12, '0') || '7'
          || lpad(to_hex(tag), 3, '0') || '8' || lpad(to_hex(n), 15, '0'))::uuid
$$;

SELECT count(*) AS existing FROM users \gset
SELECT greatest(:users - :existing, 0) AS generated \gset
SELECT :generated::bigint * :sessions_per_user AS session_rows,
       :generated::bigint * :audit_per_user AS audit_rows \gset
\echo existing users :existing, generating :generated users, :session_rows sessions, :audit_rows audit rows

-- Generated user g (1..:generated) signed up ((:generated - g) / :generated) of two years ago:
-- the newest last, as many new this week (in proportion) at every size.
CREATE TEMP TABLE scale_clock AS
SELECT now() AS t0, 63072000.0 / greatest(:generated, 1) AS user_gap_s,
       7776000.0 / greatest(:audit_rows, 1) AS audit_gap_s;

CREATE TEMP TABLE scale_indexes AS
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
FROM pg_index i
WHERE i.indrelid IN ('users'::regclass, 'user_roles'::regclass, 'user_profiles'::regclass,
                     'sessions'::regclass, 'refresh_tokens'::regclass, 'audit_logs'::regclass)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid);
SELECT name AS dropped_index FROM scale_indexes ORDER BY name;
SELECT format('DROP INDEX %s', name) FROM scale_indexes \gexec

INSERT INTO users (id, email, username, password_hash, first_name, last_name, email_verified,
                   is_active, is_suspended, deleted_at, created_at, updated_at, last_login_at)
SELECT pg_temp.scale_uuid(c.created, 1, g),
       'scale' || g || '@' || (ARRAY['example.com','mail.test','corp.example'])[1 + g % 3],
       (ARRAY['alex','sam','kim','lee','noor','ivo','mia','otto'])[1 + g % 8] || '_s' || g,
       '$argon2id$v=19$m=19456,t=2,p=1$c2NhbGVzYWx0c2NhbGU$c2NhbGVoYXNoc2NhbGVoYXNoc2NhbGVoYXNoMDA',
       (ARRAY['Anna','Bruno','Chen','Dana','Emil','Fatima','Goran','Hana'])[1 + g % 8],
       (ARRAY['Smith','Nguyen','Garcia','Okafor','Kowalski','Tanaka','Silva','Berg'])[1 + (g / 8) % 8] || (g % 997),
       g % 3 <> 0,
       g % 200 <> 0,
       g % 50 = 0,
       -- Within the recovery window (30 days), or the server's purge removes them at start.
       CASE WHEN g % 100 = 0 THEN greatest(c.created, c.t0 - ((g / 100) % 28 || ' days')::interval) END,
       c.created,
       c.created,
       CASE WHEN g % 4 <> 0 THEN c.created + ((g % 86400) || ' seconds')::interval END
FROM generate_series(1, :generated) AS g,
     LATERAL (SELECT k.t0, k.t0 - ((:generated - g) * k.user_gap_s || ' seconds')::interval AS created
              FROM scale_clock k) AS c;

-- The generated users, by number, for the tables below.
CREATE TEMP TABLE scale_users AS
SELECT row_number() OVER (ORDER BY id) AS g, id, created_at
FROM users WHERE email LIKE 'scale%@%' AND username LIKE '%\_s%';
ALTER TABLE scale_users ADD PRIMARY KEY (g);

INSERT INTO user_roles (user_id, role_id, assigned_at)
SELECT u.id, r.id, u.created_at FROM scale_users u, roles r WHERE r.name = 'user';
INSERT INTO user_profiles (user_id) SELECT id FROM scale_users;

-- Sessions: session s of user g began within the last 30 days (spread by a hash of g and s),
-- lasts the default refresh lifetime (7 days); one in five was revoked after an hour, so some
-- are live, some expired, some revoked, as in a deployment.
INSERT INTO sessions (id, user_id, device_info, ip_address, user_agent, created_at,
                      last_activity_at, expires_at, revoked_at)
SELECT pg_temp.scale_uuid(x.created, 2, x.g * 16 + x.s), x.user_id,
       (ARRAY['{"browser":"Chrome","browserVersion":"120.0.0.0","os":"Windows 10","deviceType":"pc"}',
              '{"browser":"Firefox","browserVersion":"121.0","os":"Linux","deviceType":"pc"}',
              '{"browser":"Safari","browserVersion":"17.1","os":"iPhone","deviceType":"smartphone"}',
              '{"browser":"curl","browserVersion":"8.5.0","os":"UNKNOWN","deviceType":"UNKNOWN"}'])[1 + (x.g + x.s) % 4]::jsonb,
       '203.0.113.' || (x.g % 250),
       (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
              'Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0',
              'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
              'curl/8.5.0'])[1 + (x.g + x.s) % 4],
       x.created,
       x.created + interval '20 minutes',
       x.created + interval '7 days',
       CASE WHEN x.s = 5 THEN least(x.created + interval '1 hour', x.t0) END
FROM (SELECT u.g, s, u.id AS user_id,
             k.t0, k.t0 - (((u.g * 7919 + s * 104729) % 2592000) || ' seconds')::interval AS created
      FROM scale_users u, generate_series(1, :sessions_per_user) AS s, scale_clock k) AS x
ORDER BY 1;

-- The current refresh token of each generated session: a 64-hex SHA-256 digest, in digest order.
INSERT INTO refresh_tokens (digest, session_id, created_at, expires_at)
SELECT encode(sha256(convert_to(s.id::text || '/scale', 'UTF8')), 'hex'), s.id, s.created_at, s.expires_at
FROM sessions s JOIN scale_users u ON u.id = s.user_id
ORDER BY 1;

-- Audit: row r belongs to generated user 1 + r % :generated (so :audit_per_user each) and is
-- r × (90 days / rows) old: newest first in r, inserted oldest first (the primary key's order).
-- Actions as in audit_1m.sql: three logins in ten, a third of them within 30 days.
INSERT INTO audit_logs (id, action, actor_id, user_id, resource, resource_id, ip_address,
                        user_agent, details, created_at)
SELECT pg_temp.scale_uuid(x.created, 3, x.r), x.action, u.id, u.id, x.resource, u.id::text,
       '203.0.113.' || (x.r % 250), 'Mozilla/5.0 (scale)', '{}'::jsonb, x.created
FROM (SELECT r,
             (ARRAY['USER_LOGIN','USER_LOGIN','USER_LOGIN','LOGIN_FAILED','PROFILE_UPDATED',
                    'USER_LOGOUT','PASSWORD_CHANGED','SESSION_REVOKED','ROLE_ASSIGNED','EMAIL_VERIFIED'])[1 + r % 10] AS action,
             (ARRAY['session','session','session','user','profile','session','user','session','role','user'])[1 + r % 10] AS resource,
             k.t0 - ((r * k.audit_gap_s) || ' seconds')::interval AS created
      FROM generate_series(:audit_rows, 1, -1) AS r, scale_clock k) AS x
JOIN scale_users u ON u.g = 1 + x.r % :generated;

SELECT name AS rebuilt_index FROM scale_indexes ORDER BY name;
SELECT def FROM scale_indexes ORDER BY name \gexec

COMMIT;

-- As autovacuum would have done (this machine runs without it): the visibility map that
-- index-only scans and counts rely on, and the planner's statistics.
VACUUM (ANALYZE) users, user_roles, user_profiles, sessions, refresh_tokens, audit_logs;

SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM sessions) AS sessions,
       (SELECT count(*) FROM refresh_tokens) AS refresh_tokens,
       (SELECT count(*) FROM audit_logs) AS audit_rows,
       pg_size_pretty(pg_database_size(current_database())) AS database_size;
