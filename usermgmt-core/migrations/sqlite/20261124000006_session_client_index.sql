-- Every login asks whether the user signed in from this client before (if not: the new-device
-- alert). Without an index for it that read scanned the whole sessions table, every user's rows,
-- on every login: 1.3 ms of PostgreSQL time at 4 864 sessions, growing with the table
-- (docs/PERFORMANCE.md, "Logins"). The store's query asks two EXISTS questions this index answers
-- with one probe each, in the same expressions. Leading on user_id, it also serves the cascade
-- when a user is deleted.
CREATE INDEX sessions_user_client_idx ON sessions (user_id, COALESCE(ip_address, ''), COALESCE(user_agent, ''));
