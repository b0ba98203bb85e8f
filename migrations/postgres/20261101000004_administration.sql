-- Administration: user search must stay fast at 100k users, so the substring search over
-- email, username and names uses trigram indexes (pg_trgm is a trusted extension: a database
-- owner may create it), and the purge finds expired soft deletions by index.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX users_email_trgm_idx ON users USING gin (email gin_trgm_ops);
CREATE INDEX users_username_trgm_idx ON users USING gin (username gin_trgm_ops);
CREATE INDEX users_first_name_trgm_idx ON users USING gin (first_name gin_trgm_ops);
CREATE INDEX users_last_name_trgm_idx ON users USING gin (last_name gin_trgm_ops);
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX users_last_login_at_idx ON users (last_login_at);
CREATE INDEX sessions_expires_active_idx ON sessions (expires_at) WHERE revoked_at IS NULL;
