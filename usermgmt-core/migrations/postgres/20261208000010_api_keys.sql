-- API keys: long-lived credentials a user makes for machines. The key text is shown once and
-- only its SHA-256 digest is kept (the key carries 256 random bits, so a fast digest is enough);
-- `prefix` is the random lookup part of the key (`umk_<prefix>_<secret>`), unique, so checking
-- a key is one indexed read and one constant-time digest compare. `scopes` is a JSON array of
-- permission names. A rotation with a grace period keeps the previous secret's prefix and
-- digest until `previous_expires_at`.
CREATE TABLE api_keys (
    id                  UUID PRIMARY KEY,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    prefix              TEXT NOT NULL UNIQUE,
    key_digest          TEXT NOT NULL,
    scopes              TEXT NOT NULL DEFAULT '[]',
    expires_at          TIMESTAMPTZ,
    created_at          TIMESTAMPTZ NOT NULL,
    last_used_at        TIMESTAMPTZ,
    previous_prefix     TEXT UNIQUE,
    previous_digest     TEXT,
    previous_expires_at TIMESTAMPTZ
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id);
