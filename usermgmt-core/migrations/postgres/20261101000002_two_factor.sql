-- TOTP two-factor authentication. The shared secret is sealed (ChaCha20-Poly1305 under a
-- configured key ring) and backup codes are stored only as SHA-256 digests. `last_used_step`
-- refuses a replayed code: a step is accepted once, and never one older than the last used.

CREATE TABLE two_factor (
    user_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed_secret  BYTEA NOT NULL,
    enabled        BOOLEAN NOT NULL DEFAULT FALSE,
    last_used_step BIGINT,
    created_at     TIMESTAMPTZ NOT NULL,
    enabled_at     TIMESTAMPTZ
);

CREATE TABLE backup_codes (
    digest     TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX backup_codes_user_idx ON backup_codes (user_id);
