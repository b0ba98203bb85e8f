-- Every login asks whether the user signed in from this client before (if not: the new-device
-- alert). MariaDB has no index on expressions, so this one holds the columns (the user agent's
-- first 255 characters): the store's COALESCE(...) probes read the user's entries in it and no
-- table row. Leading on user_id, it also serves the cascade when a user is deleted.
CREATE INDEX sessions_user_client_idx ON sessions (user_id, ip_address, user_agent(255));
