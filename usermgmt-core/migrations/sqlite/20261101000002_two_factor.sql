-- TOTP two-factor authentication. The shared secret is sealed (ChaCha20-Poly1305 under a
-- configured key ring) and backup codes are stored only as SHA-256 digests. `last_used_step`
-- refuses a replayed code: a step is accepted once, and never one older than the last used.

CREATE TABLE two_factor (
    user_id        BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret  BLOB NOT NULL,
    enabled        INTEGER NOT NULL DEFAULT 0,
    last_used_step INTEGER,
    created_at     INTEGER NOT NULL,
    enabled_at     INTEGER
);

CREATE TABLE backup_codes (
    digest     TEXT PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX backup_codes_user_idx ON backup_codes (user_id);
