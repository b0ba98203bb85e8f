-- The lockout counts every credential check before it runs (UserManager's auth/lockout.rs):
-- failed_login_attempts holds the checks of the current window, which starts at its first check
-- (failures_started_at) and lasts as long as a lock; a right answer gives its own check back, and
-- a window past its length starts afresh.
ALTER TABLE users ADD COLUMN failures_started_at DATETIME(6);

-- A two-factor challenge allows a bounded number of code checks: each check spends one attempt
-- before the code is compared, in the same conditional UPDATE that finds the challenge.
ALTER TABLE one_time_tokens ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
