-- Passkeys (WebAuthn credentials). `credential` is webauthn-rs's serialised Passkey: the public
-- key, its algorithm and the signature counter, no secret. `sign_count` repeats the counter so a
-- sign-in moves it with one compare-and-set UPDATE; a counter that goes back is refused as a
-- cloned authenticator. `transports` is a JSON array of strings.
CREATE TABLE passkeys (
    id            BLOB PRIMARY KEY,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    name          TEXT NOT NULL,
    sign_count    INTEGER NOT NULL DEFAULT 0,
    backed_up     INTEGER NOT NULL DEFAULT 0,
    transports    TEXT NOT NULL DEFAULT '[]',
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- Started ceremonies (registration, sign-in, second factor): the server half of a challenge,
-- sealed like the TOTP secrets. Single use: taking one is a DELETE ... RETURNING.
CREATE TABLE passkey_ceremonies (
    id           BLOB PRIMARY KEY,
    kind         TEXT NOT NULL,
    user_id      BLOB REFERENCES users (id) ON DELETE CASCADE,
    sealed_state BLOB NOT NULL,
    expires_at   INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry_idx ON passkey_ceremonies (expires_at);
