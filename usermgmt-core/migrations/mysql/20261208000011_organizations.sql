-- Organizations: named groups of users with an org role each (owner, admin, member), and the
-- invitations that bring new members in. An organization is soft-deleted (`deleted_at`) and
-- purged once the account recovery window has passed. `slug` is unique whatever its case
-- (stored lower-case). An invitation keeps only the SHA-256 digest of its token; its `state`
-- moves once from `pending` to `accepted`, `declined` or `revoked` by a conditional UPDATE.
CREATE TABLE organizations (
    id         BINARY(16) NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       VARCHAR(255) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    deleted_at DATETIME(6),
    CONSTRAINT organizations_slug_key UNIQUE (slug)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX organizations_deleted_idx ON organizations (deleted_at);

CREATE TABLE org_members (
    org_id    BINARY(16) NOT NULL,
    user_id   BINARY(16) NOT NULL,
    role      VARCHAR(16) NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at DATETIME(6) NOT NULL,
    PRIMARY KEY (org_id, user_id),
    FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX org_members_user_idx ON org_members (user_id);

CREATE TABLE org_invitations (
    id           BINARY(16) NOT NULL PRIMARY KEY,
    org_id       BINARY(16) NOT NULL,
    email        VARCHAR(320) NOT NULL,
    role         VARCHAR(16) NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_digest VARCHAR(128) NOT NULL,
    inviter_id   BINARY(16),
    state        VARCHAR(16) NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'accepted', 'declined', 'revoked')),
    created_at   DATETIME(6) NOT NULL,
    expires_at   DATETIME(6) NOT NULL,
    decided_at   DATETIME(6),
    CONSTRAINT org_invitations_token_digest_key UNIQUE (token_digest),
    FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE,
    FOREIGN KEY (inviter_id) REFERENCES users (id) ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX org_invitations_org_idx ON org_invitations (org_id, created_at);
CREATE INDEX org_invitations_email_idx ON org_invitations (email, state);

-- The active organization of a session (`POST /auth/switch-org`), so a refresh keeps it.
CREATE TABLE session_orgs (
    session_id BINARY(16) NOT NULL PRIMARY KEY,
    org_id     BINARY(16) NOT NULL,
    FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE,
    FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX session_orgs_org_idx ON session_orgs (org_id);

-- An API key may belong to an organization its owner manages keys of (`apikey:manage`).
ALTER TABLE api_keys ADD COLUMN org_id BINARY(16);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_org_fk FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
