-- The foundation schema: users and their profiles, roles and permissions (seeded, SPEC §7),
-- password history, one-time tokens, sessions with rotating refresh tokens, the audit trail and
-- the mail outbox. Bearer secrets are never stored: only their SHA-256 digests (hex).

CREATE TABLE permissions (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL
);

CREATE TABLE roles (
    id          UUID PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    is_system   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT roles_name_key UNIQUE (name)
);

CREATE TABLE role_permissions (
    role_id    UUID NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE users (
    id                    UUID PRIMARY KEY,
    email                 TEXT NOT NULL,
    username              TEXT NOT NULL,
    password_hash         TEXT NOT NULL,
    first_name            TEXT,
    last_name             TEXT,
    avatar                TEXT,
    email_verified        BOOLEAN NOT NULL DEFAULT FALSE,
    is_active             BOOLEAN NOT NULL DEFAULT TRUE,
    is_suspended          BOOLEAN NOT NULL DEFAULT FALSE,
    two_factor_enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    failed_login_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until          TIMESTAMPTZ,
    deleted_at            TIMESTAMPTZ,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    last_login_at         TIMESTAMPTZ,
    -- Names matter: a unique violation is mapped to EMAIL_TAKEN / USERNAME_TAKEN by them.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username)
);
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE user_roles (
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     UUID NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    assigned_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_idx ON user_roles (role_id);

CREATE TABLE user_profiles (
    user_id       UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bio           TEXT,
    phone         TEXT,
    date_of_birth DATE,
    address       TEXT,
    city          TEXT,
    country       TEXT,
    timezone      TEXT,
    language      TEXT,
    preferences   JSONB NOT NULL DEFAULT '{}'::jsonb
);

CREATE TABLE password_history (
    id            BIGSERIAL PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX password_history_user_idx ON password_history (user_id, id DESC);

CREATE TABLE one_time_tokens (
    digest     TEXT PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE sessions (
    id               UUID PRIMARY KEY,
    user_id          UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_info      JSONB NOT NULL,
    ip_address       TEXT,
    user_agent       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    last_activity_at TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    revoked_at       TIMESTAMPTZ
);
CREATE INDEX sessions_user_active_idx ON sessions (user_id, created_at DESC) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    digest     TEXT PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- No foreign keys: audit rows outlive the accounts they mention (they are anonymised instead).
CREATE TABLE audit_logs (
    id          UUID PRIMARY KEY,
    action      TEXT NOT NULL,
    actor_id    UUID,
    user_id     UUID,
    resource    TEXT NOT NULL,
    resource_id TEXT,
    ip_address  TEXT,
    user_agent  TEXT,
    details     JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_logs_created_idx ON audit_logs (created_at DESC, id DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, created_at DESC);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, created_at DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, created_at DESC);

-- status: pending -> sent | failed. The payload is sealed (encrypted) and dropped once sent.
CREATE TABLE mail_outbox (
    id              UUID PRIMARY KEY,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    sealed_payload  BYTEA NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    locked_until    TIMESTAMPTZ,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';

INSERT INTO permissions (name, description) VALUES
    ('user:read', 'Read any user'),
    ('user:create', 'Create users'),
    ('user:update', 'Update any user'),
    ('user:delete', 'Delete users'),
    ('user:manage', 'Manage accounts: reset, verify, unlock, suspend, reactivate'),
    ('role:read', 'Read roles and permissions'),
    ('role:create', 'Create roles'),
    ('role:update', 'Update roles'),
    ('role:delete', 'Delete roles'),
    ('role:assign', 'Assign and remove roles'),
    ('admin:access', 'Use the admin API'),
    ('admin:settings', 'Change settings'),
    ('audit:read', 'Read the audit trail'),
    ('system:manage', 'Operate the system');

INSERT INTO roles (id, name, description, is_system) VALUES
    ('00000000-0000-7000-8000-000000000001', 'admin', 'Every permission', TRUE),
    ('00000000-0000-7000-8000-000000000002', 'moderator', 'Reads users, roles and the audit trail', TRUE),
    ('00000000-0000-7000-8000-000000000003', 'user', 'Authenticated self-service', TRUE);

INSERT INTO role_permissions (role_id, permission)
    SELECT '00000000-0000-7000-8000-000000000001', name FROM permissions;
INSERT INTO role_permissions (role_id, permission) VALUES
    ('00000000-0000-7000-8000-000000000002', 'user:read'),
    ('00000000-0000-7000-8000-000000000002', 'user:update'),
    ('00000000-0000-7000-8000-000000000002', 'role:read'),
    ('00000000-0000-7000-8000-000000000002', 'audit:read'),
    ('00000000-0000-7000-8000-000000000002', 'admin:access');
