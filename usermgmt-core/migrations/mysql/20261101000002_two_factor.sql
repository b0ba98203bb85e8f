-- TOTP two-factor authentication. The shared secret is sealed (ChaCha20-Poly1305 under a
-- configured key ring) and backup codes are stored only as SHA-256 digests. `last_used_step`
-- refuses a replayed code: a step is accepted once, and never one older than the last used.

CREATE TABLE two_factor (
    user_id        BINARY(16) NOT NULL PRIMARY KEY,
    sealed_secret  BLOB NOT NULL,
    enabled        BOOLEAN NOT NULL DEFAULT FALSE,
    last_used_step BIGINT,
    created_at     DATETIME(6) NOT NULL,
    enabled_at     DATETIME(6),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE backup_codes (
    digest     VARCHAR(128) NOT NULL PRIMARY KEY,
    user_id    BINARY(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX backup_codes_user_idx ON backup_codes (user_id);
