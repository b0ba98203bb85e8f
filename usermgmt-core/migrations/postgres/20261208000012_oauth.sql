-- Social and enterprise sign-in (OAuth 2.0 / OpenID Connect).
--
-- A linked identity: the provider's stable subject for one of our users. (provider, subject) is
-- unique, so one account at a provider signs in to exactly one user. `sealed_tokens` holds the
-- provider's tokens only when its STORE_TOKENS setting is on, sealed like the TOTP secrets.
CREATE TABLE oauth_identities (
    id            UUID PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider      TEXT NOT NULL,
    subject       TEXT NOT NULL,
    email         TEXT,
    sealed_tokens BYTEA,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ,
    UNIQUE (provider, subject)
);
CREATE INDEX oauth_identities_user_idx ON oauth_identities (user_id);

-- A started authorization (the browser went to the provider): found by the SHA-256 of its
-- `state`, bound to the browser by the SHA-256 of its cookie; the PKCE verifier and the nonce
-- sealed. Single use: taking one is a DELETE ... RETURNING.
CREATE TABLE oauth_attempts (
    state_digest   TEXT PRIMARY KEY,
    browser_digest TEXT NOT NULL,
    provider       TEXT NOT NULL,
    sealed_secrets BYTEA NOT NULL,
    redirect_to    TEXT,
    purpose        TEXT NOT NULL,
    user_id        UUID REFERENCES users (id) ON DELETE CASCADE,
    expires_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_attempts_expiry_idx ON oauth_attempts (expires_at);

-- The one-time code the browser carries from the callback to POST /auth/oauth/exchange (60 s,
-- single use): only its SHA-256 is kept.
CREATE TABLE oauth_exchange_codes (
    digest      TEXT PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_id UUID NOT NULL REFERENCES oauth_identities (id) ON DELETE CASCADE,
    redirect_to TEXT,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_exchange_codes_expiry_idx ON oauth_exchange_codes (expires_at);
