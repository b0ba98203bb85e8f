-- Passkeys (WebAuthn credentials). `credential` is webauthn-rs's serialised Passkey: the public
-- key, its algorithm and the signature counter, no secret. `sign_count` repeats the counter so a
-- sign-in moves it with one compare-and-set UPDATE; a counter that goes back is refused as a
-- cloned authenticator. `transports` is a JSON array of strings.
CREATE TABLE passkeys (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id TEXT NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    name          TEXT NOT NULL,
    sign_count    BIGINT NOT NULL DEFAULT 0,
    backed_up     BOOLEAN NOT NULL DEFAULT FALSE,
    transports    TEXT NOT NULL DEFAULT '[]',
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX passkeys_user_idx ON passkeys (user_id);

-- Started ceremonies (registration, sign-in, second factor): the server half of a challenge,
-- sealed like the TOTP secrets. Single use: taking one is a DELETE ... RETURNING.
CREATE TABLE passkey_ceremonies (
    id           UUID PRIMARY KEY,
    kind         TEXT NOT NULL,
    user_id      UUID REFERENCES users (id) ON DELETE CASCADE,
    sealed_state BYTEA NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry_idx ON passkey_ceremonies (expires_at);
