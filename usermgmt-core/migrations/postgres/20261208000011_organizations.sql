-- Organizations: named groups of users with an org role each (owner, admin, member), and the
-- invitations that bring new members in. An organization is soft-deleted (`deleted_at`) and
-- purged once the account recovery window has passed. `slug` is unique whatever its case
-- (stored lower-case). An invitation keeps only the SHA-256 digest of its token; its `state`
-- moves once from `pending` to `accepted`, `declined` or `revoked` by a conditional UPDATE.
CREATE TABLE organizations (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX organizations_deleted_idx ON organizations (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE org_members (
    org_id    UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role      TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    joined_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX org_members_user_idx ON org_members (user_id);

CREATE TABLE org_invitations (
    id           UUID PRIMARY KEY,
    org_id       UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
    token_digest TEXT NOT NULL UNIQUE,
    inviter_id   UUID REFERENCES users (id) ON DELETE SET NULL,
    state        TEXT NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'accepted', 'declined', 'revoked')),
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    decided_at   TIMESTAMPTZ
);
CREATE INDEX org_invitations_org_idx ON org_invitations (org_id, created_at);
CREATE INDEX org_invitations_email_idx ON org_invitations (email) WHERE state = 'pending';

-- The active organization of a session (`POST /auth/switch-org`), so a refresh keeps it. The
-- org is a hint for the tokens: membership is read again on every use.
CREATE TABLE session_orgs (
    session_id UUID PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    org_id     UUID NOT NULL REFERENCES organizations (id) ON DELETE CASCADE
);
CREATE INDEX session_orgs_org_idx ON session_orgs (org_id);

-- An API key may belong to an organization its owner manages keys of (`apikey:manage`).
ALTER TABLE api_keys ADD COLUMN org_id UUID REFERENCES organizations (id) ON DELETE CASCADE;
