-- MySQL / MariaDB dialect of the foundation schema: users and their profiles, roles and
-- permissions (seeded, SPEC §7), password history, one-time tokens, sessions with rotating
-- refresh tokens, the audit trail and the mail outbox. Bearer secrets are never stored: only
-- their SHA-256 digests (hex).
--
-- Types: ids are BINARY(16) (the UUID's bytes, what sqlx's `Uuid` encodes for MySQL: 16 bytes
-- instead of CHAR(36)'s 36, compared bytewise, and UUIDv7 ids sort by time as in the other
-- dialects); times are DATETIME(6) in UTC (the connection's time zone is +00:00, microseconds
-- as in PostgreSQL); JSON is JSON (an alias of LONGTEXT with a validity check in MariaDB).
-- Text is utf8mb4 with the binary collation, so equality, uniqueness and ORDER BY compare
-- bytes as PostgreSQL's and SQLite's do (a `_ci` collation would make `Anna` and `anna`
-- collide); emails and usernames are stored normalised, their uniqueness is the plain UNIQUE
-- of the other dialects. Indexed text is VARCHAR (an index key has a bounded length).
-- Foreign keys are table constraints: MySQL ignores a column's inline REFERENCES.

CREATE TABLE permissions (
    name        VARCHAR(100) NOT NULL PRIMARY KEY,
    description TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE roles (
    id          BINARY(16) NOT NULL PRIMARY KEY,
    name        VARCHAR(100) NOT NULL,
    description TEXT,
    is_system   BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT roles_name_key UNIQUE (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE role_permissions (
    role_id    BINARY(16) NOT NULL,
    permission VARCHAR(100) NOT NULL,
    PRIMARY KEY (role_id, permission),
    FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE CASCADE,
    FOREIGN KEY (permission) REFERENCES permissions (name) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE users (
    id                    BINARY(16) NOT NULL PRIMARY KEY,
    email                 VARCHAR(320) NOT NULL,
    username              VARCHAR(255) NOT NULL,
    password_hash         TEXT NOT NULL,
    first_name            TEXT,
    last_name             TEXT,
    avatar                TEXT,
    email_verified        BOOLEAN NOT NULL DEFAULT FALSE,
    is_active             BOOLEAN NOT NULL DEFAULT TRUE,
    is_suspended          BOOLEAN NOT NULL DEFAULT FALSE,
    two_factor_enabled    BOOLEAN NOT NULL DEFAULT FALSE,
    failed_login_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until          DATETIME(6),
    deleted_at            DATETIME(6),
    created_at            DATETIME(6) NOT NULL,
    updated_at            DATETIME(6) NOT NULL,
    last_login_at         DATETIME(6),
    -- Names matter: a unique violation is mapped to EMAIL_TAKEN / USERNAME_TAKEN by them.
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX users_created_at_idx ON users (created_at);

CREATE TABLE user_roles (
    user_id     BINARY(16) NOT NULL,
    role_id     BINARY(16) NOT NULL,
    assigned_at DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, role_id),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    FOREIGN KEY (role_id) REFERENCES roles (id) ON DELETE RESTRICT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX user_roles_role_idx ON user_roles (role_id);

CREATE TABLE user_profiles (
    user_id       BINARY(16) NOT NULL PRIMARY KEY,
    bio           TEXT,
    phone         TEXT,
    date_of_birth DATE,
    address       TEXT,
    city          TEXT,
    country       TEXT,
    timezone      TEXT,
    language      TEXT,
    preferences   JSON NOT NULL DEFAULT ('{}'),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE password_history (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id       BINARY(16) NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    DATETIME(6) NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX password_history_user_idx ON password_history (user_id, id DESC);

CREATE TABLE one_time_tokens (
    digest     VARCHAR(128) NOT NULL PRIMARY KEY,
    user_id    BINARY(16) NOT NULL,
    purpose    VARCHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    used_at    DATETIME(6),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
-- No partial indexes in MySQL: the index holds used tokens too.
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);

CREATE TABLE sessions (
    id               BINARY(16) NOT NULL PRIMARY KEY,
    user_id          BINARY(16) NOT NULL,
    device_info      JSON NOT NULL,
    ip_address       VARCHAR(64),
    user_agent       TEXT,
    created_at       DATETIME(6) NOT NULL,
    last_activity_at DATETIME(6) NOT NULL,
    expires_at       DATETIME(6) NOT NULL,
    revoked_at       DATETIME(6),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX sessions_user_active_idx ON sessions (user_id, created_at DESC);

CREATE TABLE refresh_tokens (
    digest     VARCHAR(128) NOT NULL PRIMARY KEY,
    session_id BINARY(16) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    rotated_at DATETIME(6),
    FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- No foreign keys: audit rows outlive the accounts they mention (they are anonymised instead).
CREATE TABLE audit_logs (
    id          BINARY(16) NOT NULL PRIMARY KEY,
    action      VARCHAR(100) NOT NULL,
    actor_id    BINARY(16),
    user_id     BINARY(16),
    resource    TEXT NOT NULL,
    resource_id TEXT,
    ip_address  VARCHAR(64),
    user_agent  TEXT,
    details     JSON NOT NULL DEFAULT ('{}'),
    created_at  DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX audit_logs_created_idx ON audit_logs (created_at DESC, id DESC);
CREATE INDEX audit_logs_user_idx ON audit_logs (user_id, created_at DESC);
CREATE INDEX audit_logs_actor_idx ON audit_logs (actor_id, created_at DESC);
CREATE INDEX audit_logs_action_idx ON audit_logs (action, created_at DESC);

-- status: pending -> sent | failed. The payload is sealed (encrypted) and dropped once sent.
CREATE TABLE mail_outbox (
    id              BINARY(16) NOT NULL PRIMARY KEY,
    recipient       TEXT NOT NULL,
    kind            VARCHAR(64) NOT NULL,
    sealed_payload  LONGBLOB NOT NULL,
    status          VARCHAR(16) NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NOT NULL,
    locked_until    DATETIME(6),
    last_error      TEXT,
    created_at      DATETIME(6) NOT NULL,
    sent_at         DATETIME(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX mail_outbox_due_idx ON mail_outbox (status, next_attempt_at);

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
    (UNHEX('00000000000070008000000000000001'), 'admin', 'Every permission', TRUE),
    (UNHEX('00000000000070008000000000000002'), 'moderator', 'Reads users, roles and the audit trail', TRUE),
    (UNHEX('00000000000070008000000000000003'), 'user', 'Authenticated self-service', TRUE);

INSERT INTO role_permissions (role_id, permission)
    SELECT UNHEX('00000000000070008000000000000001'), name FROM permissions;
INSERT INTO role_permissions (role_id, permission) VALUES
    (UNHEX('00000000000070008000000000000002'), 'user:read'),
    (UNHEX('00000000000070008000000000000002'), 'user:update'),
    (UNHEX('00000000000070008000000000000002'), 'role:read'),
    (UNHEX('00000000000070008000000000000002'), 'audit:read'),
    (UNHEX('00000000000070008000000000000002'), 'admin:access');
