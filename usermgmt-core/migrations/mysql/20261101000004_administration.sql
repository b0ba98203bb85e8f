-- Administration. The user search is a substring match (LIKE '%term%') over email, username
-- and names: no B-tree index serves a leading wildcard and MySQL has no trigram index (a
-- FULLTEXT index matches words, not substrings), so the search reads the users table; the
-- filters and sort columns below are indexed. The purge finds expired soft deletions by index.
CREATE INDEX users_deleted_at_idx ON users (deleted_at);
CREATE INDEX users_last_login_at_idx ON users (last_login_at);
CREATE INDEX sessions_expires_active_idx ON sessions (expires_at, revoked_at);
