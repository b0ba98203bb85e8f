-- Every refresh moves its session's expiry (and last activity) forward. While `expires_at` was
-- indexed (sessions_expires_active_idx), each refresh also rewrote that index's entry
-- (docs/PERFORMANCE.md, "Refresh"). Its only reader was the active-session count of the admin
-- statistics, which now checks revocation and expiry on the rows.
DROP INDEX sessions_expires_active_idx ON sessions;
