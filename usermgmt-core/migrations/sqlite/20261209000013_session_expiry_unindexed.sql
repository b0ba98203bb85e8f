-- Every refresh moves its session's expiry (and last activity) forward. While `expires_at` was
-- indexed (sessions_expires_active_idx), each refresh also deleted and inserted an entry of that
-- index (docs/PERFORMANCE.md, "Refresh"). Its only reader was the active-session count of the
-- admin statistics, which now reads the unrevoked sessions through sessions_user_active_idx
-- (partial, revoked_at IS NULL) and checks the expiry on the row.
DROP INDEX sessions_expires_active_idx;
