-- The lockout counts every credential check before it runs (UserManager's auth/lockout.rs):
-- failed_login_attempts holds the checks of the current window, which starts at its first check
-- (failures_started_at) and lasts as long as a lock; a right answer gives its own check back, and
-- a window past its length starts afresh. So at most LOCKOUT_MAX_FAILURES wrong answers are
-- checked per account and window, however many requests race and whichever of them is right.
ALTER TABLE users ADD COLUMN failures_started_at TIMESTAMPTZ;

-- A two-factor challenge (login, reactivation, recovery) allows a bounded number of code checks:
-- each check spends one attempt before the code is compared, in the same conditional UPDATE that
-- finds the challenge, so a concurrent burst cannot check more codes than the bound
-- (MAX_CHALLENGE_ATTEMPTS).
ALTER TABLE one_time_tokens ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
