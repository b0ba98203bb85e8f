-- Audit listing at a million rows on PostgreSQL: fills the audit trail of a migrated database
-- that holds users (run search_100k.sql first) with 1 000 000 rows over 90 days, then prints the
-- plans and timings of the statements `search_audit` runs for the audit API.
-- Usage: psql -h 127.0.0.1 -U postgres -d usermgmt_search_bench -f benches/sql/audit_1m.sql
\timing on
CREATE TEMP TABLE some_users AS SELECT id, row_number() OVER () AS n FROM users LIMIT 10000;
INSERT INTO audit_logs (id, action, actor_id, user_id, resource, resource_id, ip_address,
                        user_agent, details, created_at)
SELECT gen_random_uuid(),
       (ARRAY['USER_LOGIN','USER_LOGIN','USER_LOGIN','LOGIN_FAILED','PROFILE_UPDATED',
              'USER_LOGOUT','PASSWORD_CHANGED','SESSION_REVOKED','ROLE_ASSIGNED','EMAIL_VERIFIED'])[1 + g % 10],
       u.id, u.id,
       (ARRAY['session','session','session','user','profile','session','user','session','role','user'])[1 + g % 10],
       u.id::text, '203.0.113.' || (g % 250), 'Mozilla/5.0 (bench)', '{}'::jsonb,
       now() - ((g * 7.776) || ' seconds')::interval
FROM generate_series(1, 1000000) AS g
JOIN some_users u ON u.n = 1 + g % 10000;
-- VACUUM as autovacuum would have done on a table this size (insert-driven since PostgreSQL
-- 13): it sets the visibility map that index-only scans and counts rely on.
VACUUM ANALYZE audit_logs;

-- Page 1, no filter: newest first.
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
-- A deep page.
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 10000;
-- The total without filter.
EXPLAIN (ANALYZE, COSTS OFF) SELECT COUNT(*) FROM audit_logs WHERE 1 = 1;
-- One user (as target or actor): page and total.
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id FROM audit_logs WHERE 1 = 1
  AND (user_id = (SELECT id FROM some_users WHERE n = 42) OR actor_id = (SELECT id FROM some_users WHERE n = 42))
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT COUNT(*) FROM audit_logs WHERE 1 = 1
  AND (user_id = (SELECT id FROM some_users WHERE n = 42) OR actor_id = (SELECT id FROM some_users WHERE n = 42));
-- One action over the last week: page and total.
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id FROM audit_logs WHERE 1 = 1 AND action = 'PASSWORD_CHANGED' AND created_at >= now() - interval '7 days'
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT COUNT(*) FROM audit_logs WHERE 1 = 1 AND action = 'PASSWORD_CHANGED' AND created_at >= now() - interval '7 days';
-- Statistics: 30 days, top actions.
EXPLAIN (ANALYZE, COSTS OFF)
SELECT action AS k, COUNT(*) AS n FROM audit_logs WHERE created_at >= now() - interval '30 days'
GROUP BY action ORDER BY n DESC, k ASC LIMIT 10;
-- Analytics: logins of 30 days.
EXPLAIN (ANALYZE, COSTS OFF)
SELECT COUNT(*) FROM audit_logs WHERE action = 'USER_LOGIN' AND created_at >= now() - interval '30 days';
