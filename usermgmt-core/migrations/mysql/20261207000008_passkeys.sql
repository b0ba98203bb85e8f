-- Passkeys (WebAuthn credentials). `credential` is webauthn-rs's serialised Passkey: the public
-- key, its algorithm and the signature counter, no secret. `sign_count` repeats the counter so a
-- sign-in moves it with one compare-and-set UPDATE. `transports` is a JSON array of strings.
-- `credential_id` is base64url (ASCII): as ASCII its full length fits in an index key.
CREATE TABLE passkeys (
    id            BINARY(16) NOT NULL PRIMARY KEY,
    user_id       BINARY(16) NOT NULL,
    credential_id VARCHAR(1400) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    credential    TEXT NOT NULL,
    name          TEXT NOT NULL,
    sign_count    BIGINT NOT NULL DEFAULT 0,
    backed_up     BOOLEAN NOT NULL DEFAULT FALSE,
    transports    TEXT NOT NULL DEFAULT ('[]'),
    created_at    DATETIME(6) NOT NULL,
    last_used_at  DATETIME(6),
    CONSTRAINT passkeys_credential_id_key UNIQUE (credential_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- Started ceremonies (registration, sign-in, second factor): the server half of a challenge,
-- sealed like the TOTP secrets. Single use: taken by a locking read and a DELETE in one
-- transaction (MySQL has no DELETE ... RETURNING).
CREATE TABLE passkey_ceremonies (
    id           BINARY(16) NOT NULL PRIMARY KEY,
    kind         VARCHAR(32) NOT NULL,
    user_id      BINARY(16),
    sealed_state LONGBLOB NOT NULL,
    expires_at   DATETIME(6) NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX passkey_ceremonies_expiry_idx ON passkey_ceremonies (expires_at);
