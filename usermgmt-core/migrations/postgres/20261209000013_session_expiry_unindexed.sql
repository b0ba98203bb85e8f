-- Every refresh moves its session's expiry (and last activity) forward. While `expires_at` was
-- indexed (sessions_expires_active_idx), that UPDATE was never a HOT update: each refresh wrote
-- a new entry into every index of the table and left a dead one behind (docs/PERFORMANCE.md,
-- "Refresh"). Its only reader was the active-session count of the admin statistics, which now
-- reads the unrevoked sessions through sessions_user_active_idx (partial, revoked_at IS NULL)
-- and checks the expiry on the row: the same rows the expiry index walked, plus those expired
-- but never revoked.
DROP INDEX sessions_expires_active_idx;

-- Room on each page for the new versions of its rows: a HOT update needs free space on the
-- row's own page. Sessions are updated on every refresh (expiry) and once a minute while used
-- (last activity); a refresh token once (rotated_at). Applies to pages filled from now on.
ALTER TABLE sessions SET (fillfactor = 80);
ALTER TABLE refresh_tokens SET (fillfactor = 90);
