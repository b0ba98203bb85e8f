-- API keys: long-lived credentials a user makes for machines. Only the key's SHA-256 digest is
-- kept; `prefix` is the random lookup part of the key (`umk_<prefix>_<secret>`), unique.
-- `scopes` is a JSON array of permission names. A rotation with a grace period keeps the
-- previous secret's prefix and digest until `previous_expires_at`.
CREATE TABLE api_keys (
    id                  BINARY(16) NOT NULL PRIMARY KEY,
    user_id             BINARY(16) NOT NULL,
    name                TEXT NOT NULL,
    prefix              VARCHAR(64) NOT NULL,
    key_digest          VARCHAR(128) NOT NULL,
    scopes              TEXT NOT NULL DEFAULT ('[]'),
    expires_at          DATETIME(6),
    created_at          DATETIME(6) NOT NULL,
    last_used_at        DATETIME(6),
    previous_prefix     VARCHAR(64),
    previous_digest     VARCHAR(128),
    previous_expires_at DATETIME(6),
    CONSTRAINT api_keys_prefix_key UNIQUE (prefix),
    CONSTRAINT api_keys_previous_prefix_key UNIQUE (previous_prefix),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX api_keys_user_idx ON api_keys (user_id);
