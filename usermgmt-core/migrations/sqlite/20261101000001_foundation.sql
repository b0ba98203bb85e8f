-- SQLite dialect of the foundation schema (ids are 16-byte BLOBs, times are INTEGER
-- microseconds since the Unix epoch, JSON is TEXT). The foundation schema: users and their profiles, roles and permissions (seeded, SPEC §7),
-- password history, one-time tokens, sessions with rotating refresh tokens, the audit trail and
-- the mail outbox. Bearer secrets are never stored: only their SHA-256 digests (hex).

CREATE TABLE permissions (
    name        TEXT PRIMARY KEY,
    description TEXT NOT NULL
);

CREATE TABLE roles (
    id          BLOB PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    is_system   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL DEFAULT 0,
    updated_at  INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT roles_name_key UNIQUE (name)
);

CREATE TABLE role_permissions (
    role_id    BLOB NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
    permission TEXT NOT NULL REFERENCES permissions (name) ON DELETE CASCADE,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE users (
    id                    BLOB PRIMARY KEY,
    email                 TEXT NOT NULL,
    username              TEXT NOT NULL,
    password_hash         TEXT NOT NULL,
    first_name            TEXT,
    last_name             TEXT,
    avatar                TEXT,
    email_verified        INTEGER NOT NULL DEFAULT 0,
    is_active             INTEGER NOT NULL DEFAULT 1,
    is_suspended          INTEGER NOT NULL DEFAULT 0,
    two_factor_enabled    INTEGER NOT NULL DEFAULT 0,
    failed_login_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until          INTEGER,
    deleted_at            INTEGER,
    created_at            INTEGER NOT NULL,
    updated_at            INTEGER NOT NULL,
    last_login_at         INTEGER,
    -- Names matter: a unique violation is mapped to EMAIL_TAKEN / USERNAME_TAKEN by them.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username)
);
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE user_roles (
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role_id     BLOB NOT NULL REFERENCES roles (id) ON DELETE RESTRICT,
    assigned_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, role_id)
);
CREATE INDEX user_roles_role_idx ON user_roles (role_id);

CREATE TABLE user_profiles (
    user_id       BLOB PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bio           TEXT,
    phone         TEXT,
    date_of_birth DATE,
    address       TEXT,
    city          TEXT,
    country       TEXT,
    timezone      TEXT,
    language      TEXT,
    preferences   TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE password_history (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE INDEX password_history_user_idx ON password_history (user_id, id DESC);

CREATE TABLE one_time_tokens (
    digest     TEXT PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose) WHERE used_at IS NULL;

CREATE TABLE sessions (
    id               BLOB PRIMARY KEY,
    user_id          BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    device_info      TEXT NOT NULL,
    ip_address       TEXT,
    user_agent       TEXT,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    revoked_at       INTEGER
);
CREATE INDEX sessions_user_active_idx ON sessions (user_id, created_at DESC) WHERE revoked_at IS NULL;

CREATE TABLE refresh_tokens (
    digest     TEXT PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- No foreign keys: audit rows outlive the accounts they mention (they are anonymised instead).
CREATE TABLE audit_logs (
    id          BLOB PRIMARY KEY,
    action      TEXT NOT NULL,
    actor_id    BLOB,
    user_id     BLOB,
    resource    TEXT NOT NULL,
    resource_id TEXT,
    ip_address  TEXT,
    user_agent  TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);
CREATE INDEX audit_logs_created_idx ON audit_logs (created_at DESC, id DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, created_at DESC);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, created_at DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, created_at DESC);

-- status: pending -> sent | failed. The payload is sealed (encrypted) and dropped once sent.
CREATE TABLE mail_outbox (
    id              BLOB PRIMARY KEY,
    recipient       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    sealed_payload  BLOB NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
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
    (X'00000000000070008000000000000001', 'admin', 'Every permission', 1),
    (X'00000000000070008000000000000002', 'moderator', 'Reads users, roles and the audit trail', 1),
    (X'00000000000070008000000000000003', 'user', 'Authenticated self-service', 1);

INSERT INTO role_permissions (role_id, permission)
    SELECT X'00000000000070008000000000000001', name FROM permissions;
INSERT INTO role_permissions (role_id, permission) VALUES
    (X'00000000000070008000000000000002', 'user:read'),
    (X'00000000000070008000000000000002', 'user:update'),
    (X'00000000000070008000000000000002', 'role:read'),
    (X'00000000000070008000000000000002', 'audit:read'),
    (X'00000000000070008000000000000002', 'admin:access');
