-- Audit listing at a million rows on MySQL / MariaDB: fills the audit trail of a migrated
-- database that holds users (run search_100k.sql first) with 1 000 000 rows over 90 days (the
-- rows ../audit_1m.sql makes on PostgreSQL), then prints the plans and timings of the
-- statements the audit API runs.
-- Usage: mariadb -vvv -h 127.0.0.1 -u root usermgmt_search_bench < benches/sql/mysql/audit_1m.sql
SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;
SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES,PIPES_AS_CONCAT');
SET time_zone = '+00:00';

CREATE TEMPORARY TABLE digits (d INT PRIMARY KEY);
INSERT INTO digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);
CREATE TEMPORARY TABLE seq (g INT PRIMARY KEY);
INSERT INTO seq
SELECT 1 + a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * h.d
FROM digits a, digits b, digits c, digits e, digits f, digits h;
CREATE TEMPORARY TABLE some_users (n INT PRIMARY KEY, id BINARY(16));
INSERT INTO some_users SELECT ROW_NUMBER() OVER (ORDER BY id), id FROM users LIMIT 10000;

INSERT INTO audit_logs (id, action, actor_id, user_id, resource, resource_id, ip_address,
                        user_agent, details, created_at)
SELECT UNHEX(REPLACE(UUID(), '-', '')),
       ELT(1 + g % 10, 'USER_LOGIN','USER_LOGIN','USER_LOGIN','LOGIN_FAILED','PROFILE_UPDATED',
           'USER_LOGOUT','PASSWORD_CHANGED','SESSION_REVOKED','ROLE_ASSIGNED','EMAIL_VERIFIED'),
       u.id, u.id,
       ELT(1 + g % 10, 'session','session','session','user','profile','session','user','session','role','user'),
       LOWER(CONCAT_WS('-', HEX(SUBSTR(u.id, 1, 4)), HEX(SUBSTR(u.id, 5, 2)), HEX(SUBSTR(u.id, 7, 2)),
                       HEX(SUBSTR(u.id, 9, 2)), HEX(SUBSTR(u.id, 11, 6)))),
       CONCAT('203.0.113.', g % 250), 'Mozilla/5.0 (bench)', '{}',
       UTC_TIMESTAMP(6) - INTERVAL ROUND(g * 7.776) SECOND
FROM seq JOIN some_users u ON u.n = 1 + g % 10000;
ANALYZE TABLE audit_logs;

-- Page 1, no filter: newest first.
EXPLAIN SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
-- A deep page.
EXPLAIN SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 10000;
SELECT id FROM audit_logs WHERE 1 = 1 ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 10000;
-- The total without filter.
EXPLAIN SELECT COUNT(*) FROM audit_logs WHERE 1 = 1;
SELECT COUNT(*) FROM audit_logs WHERE 1 = 1;
-- One user (as target or actor): page and total.
SET @who = (SELECT id FROM some_users WHERE n = 42);
EXPLAIN SELECT id FROM audit_logs WHERE 1 = 1 AND (user_id = @who OR actor_id = @who)
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
SELECT id FROM audit_logs WHERE 1 = 1 AND (user_id = @who OR actor_id = @who)
ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN SELECT COUNT(*) FROM audit_logs WHERE 1 = 1 AND (user_id = @who OR actor_id = @who);
SELECT COUNT(*) FROM audit_logs WHERE 1 = 1 AND (user_id = @who OR actor_id = @who);
-- One action over the last week: page and total.
EXPLAIN SELECT id FROM audit_logs WHERE 1 = 1 AND action = 'PASSWORD_CHANGED'
  AND created_at >= UTC_TIMESTAMP(6) - INTERVAL 7 DAY ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
SELECT id FROM audit_logs WHERE 1 = 1 AND action = 'PASSWORD_CHANGED'
  AND created_at >= UTC_TIMESTAMP(6) - INTERVAL 7 DAY ORDER BY created_at DESC, id DESC LIMIT 20 OFFSET 0;
EXPLAIN SELECT COUNT(*) FROM audit_logs WHERE 1 = 1 AND action = 'PASSWORD_CHANGED'
  AND created_at >= UTC_TIMESTAMP(6) - INTERVAL 7 DAY;
SELECT COUNT(*) FROM audit_logs WHERE 1 = 1 AND action = 'PASSWORD_CHANGED'
  AND created_at >= UTC_TIMESTAMP(6) - INTERVAL 7 DAY;
-- Statistics: 30 days, top actions.
EXPLAIN SELECT action AS k, COUNT(*) AS n FROM audit_logs WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL 30 DAY
GROUP BY action ORDER BY n DESC, k ASC LIMIT 10;
SELECT action AS k, COUNT(*) AS n FROM audit_logs WHERE created_at >= UTC_TIMESTAMP(6) - INTERVAL 30 DAY
GROUP BY action ORDER BY n DESC, k ASC LIMIT 10;
-- Analytics: logins of 30 days.
EXPLAIN SELECT COUNT(*) FROM audit_logs WHERE action = 'USER_LOGIN' AND created_at >= UTC_TIMESTAMP(6) - INTERVAL 30 DAY;
SELECT COUNT(*) FROM audit_logs WHERE action = 'USER_LOGIN' AND created_at >= UTC_TIMESTAMP(6) - INTERVAL 30 DAY;
