-- A two-factor challenge (login, reactivation, recovery) allows a bounded number of code checks:
-- each check spends one attempt before the code is compared, in the same conditional UPDATE that
-- finds the challenge, so a concurrent burst cannot check more codes than the bound
-- (UserManager's `MAX_CHALLENGE_ATTEMPTS`).
ALTER TABLE one_time_tokens ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
