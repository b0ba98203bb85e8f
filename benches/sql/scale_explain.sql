-- Scale on PostgreSQL: the plans and times of the statements behind the admin and audit figures
-- of benches/load/scale.sh, on a database benches/sql/scale.sql filled (any size).
--   psql -h 127.0.0.1 -U postgres -d usermgmt_scale_1m -f benches/sql/scale_explain.sql
-- Each statement is the one the store sends (admin/sql.rs, audit/sql.rs, roles/sql.rs), with
-- its parameters written in.
\timing on
SET jit = off;
SELECT id AS user42 FROM users WHERE email LIKE 'scale42@%' \gset

-- search_term (q=scale4242): total, then page 1 newest first.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) AS n FROM users WHERE deleted_at IS NULL
  AND (email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
      ILIKE '%scale4242%' ESCAPE '\';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM users WHERE deleted_at IS NULL
  AND (email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))
      ILIKE '%scale4242%' ESCAPE '\'
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;

-- search_all and search_late: the total (shared), page 1 and page 500.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT COUNT(*) AS n FROM users WHERE deleted_at IS NULL;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM users WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM users WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 8980;

-- audit_first and audit_late: the total (shared), page 1 and page 500.
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT COUNT(*) AS n FROM audit_logs WHERE 1 = 1;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 9980;

-- audit_user: total and page 1 of one user (target or actor).
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) AS n FROM audit_logs WHERE 1 = 1 AND (user_id = :'user42' OR actor_id = :'user42');
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM audit_logs WHERE 1 = 1 AND (user_id = :'user42' OR actor_id = :'user42')
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;

-- dashboard: user counts, active sessions, roles with their user counts, 30 days of activity
-- (shortened here to its shape: the store counts each of the 30 days in one pass).
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) AS total,
       COUNT(CASE WHEN is_active = TRUE AND is_suspended = FALSE THEN 1 END) AS active,
       COUNT(CASE WHEN email_verified = TRUE THEN 1 END) AS verified,
       COUNT(CASE WHEN two_factor_enabled = TRUE THEN 1 END) AS with_2fa,
       COUNT(CASE WHEN created_at >= now() - interval '7 days' THEN 1 END) AS new_users
FROM users WHERE deleted_at IS NULL;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > now();
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT r.id, r.name, (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS user_count
FROM roles r ORDER BY r.name;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT COUNT(CASE WHEN created_at >= date_trunc('day', now()) - interval '29 days'
                   AND created_at < date_trunc('day', now()) - interval '28 days' THEN 1 END) AS d0
FROM users WHERE created_at >= date_trunc('day', now()) - interval '29 days'
             AND created_at < date_trunc('day', now()) + interval '1 day';
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT action AS k,
       COUNT(CASE WHEN created_at >= date_trunc('day', now()) - interval '29 days'
                   AND created_at < date_trunc('day', now()) - interval '28 days' THEN 1 END) AS d0
FROM audit_logs
WHERE created_at >= date_trunc('day', now()) - interval '29 days'
  AND created_at < date_trunc('day', now()) + interval '1 day'
  AND action IN ('USER_LOGIN', 'LOGIN_FAILED', 'ACCOUNT_LOCKED')
GROUP BY action;
