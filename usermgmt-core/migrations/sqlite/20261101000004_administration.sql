-- Administration: the purge finds expired soft deletions by index; sorting by last login and
-- counting active sessions use indexes too. (SQLite has no trigram index: a substring search
-- scans, which suits the embedded single-node default.)

CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_last_login_at_idx ON users (last_login_at);
CREATE INDEX sessions_expires_active_idx ON sessions (expires_at) WHERE revoked_at IS NULL;
