-- Social and enterprise sign-in (OAuth 2.0 / OpenID Connect).
--
-- A linked identity: the provider's stable subject for one of our users. (provider, subject) is
-- unique, so one account at a provider signs in to exactly one user. `sealed_tokens` holds the
-- provider's tokens only when its STORE_TOKENS setting is on, sealed like the TOTP secrets.
CREATE TABLE oauth_identities (
    id            BINARY(16) NOT NULL PRIMARY KEY,
    user_id       BINARY(16) NOT NULL,
    provider      VARCHAR(64) NOT NULL,
    subject       VARCHAR(255) NOT NULL,
    email         TEXT,
    sealed_tokens BLOB,
    created_at    DATETIME(6) NOT NULL,
    last_used_at  DATETIME(6),
    CONSTRAINT oauth_identities_provider_subject_key UNIQUE (provider, subject),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX oauth_identities_user_idx ON oauth_identities (user_id);

-- A started authorization: found by the SHA-256 of its `state`, bound to the browser by the
-- SHA-256 of its cookie; the PKCE verifier and the nonce sealed. Single use: taken by a locking
-- read and a DELETE in one transaction (MySQL has no DELETE ... RETURNING).
CREATE TABLE oauth_attempts (
    state_digest   VARCHAR(128) NOT NULL PRIMARY KEY,
    browser_digest VARCHAR(128) NOT NULL,
    provider       VARCHAR(64) NOT NULL,
    sealed_secrets BLOB NOT NULL,
    redirect_to    TEXT,
    purpose        VARCHAR(32) NOT NULL,
    user_id        BINARY(16),
    expires_at     DATETIME(6) NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX oauth_attempts_expiry_idx ON oauth_attempts (expires_at);

-- The one-time code the browser carries from the callback to POST /auth/oauth/exchange (60 s,
-- single use): only its SHA-256 is kept.
CREATE TABLE oauth_exchange_codes (
    digest      VARCHAR(128) NOT NULL PRIMARY KEY,
    user_id     BINARY(16) NOT NULL,
    identity_id BINARY(16) NOT NULL,
    redirect_to TEXT,
    expires_at  DATETIME(6) NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (identity_id) REFERENCES oauth_identities (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX oauth_exchange_codes_expiry_idx ON oauth_exchange_codes (expires_at);
