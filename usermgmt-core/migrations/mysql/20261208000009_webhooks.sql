-- Webhook endpoints. `events` is a JSON array of patterns (an action, `PREFIX_*` or `*`).
-- The signing secret is needed in clear to sign, so it is sealed like the TOTP secrets; the
-- previous one keeps signing until `previous_secret_until` after a rotation.
-- `failing_since`: the first failed attempt since the last success (disabled after 24 h).
CREATE TABLE webhook_endpoints (
    id                     BINARY(16) NOT NULL PRIMARY KEY,
    url                    TEXT NOT NULL,
    events                 TEXT NOT NULL,
    description            TEXT,
    enabled                BOOLEAN NOT NULL DEFAULT TRUE,
    sealed_secret          BLOB NOT NULL,
    sealed_previous_secret BLOB,
    previous_secret_until  DATETIME(6),
    failing_since          DATETIME(6),
    created_at             DATETIME(6) NOT NULL,
    updated_at             DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- One row per (event, endpoint that wanted it), written in the transaction of the audit row.
-- Claimed with a lease (`locked_until`) like the mail outbox; an endpoint's rows are sent in
-- (created_at, id) order, one at a time.
CREATE TABLE webhook_deliveries (
    id               BINARY(16) NOT NULL PRIMARY KEY,
    endpoint_id      BINARY(16) NOT NULL,
    event_id         BINARY(16) NOT NULL,
    event_type       VARCHAR(100) NOT NULL,
    payload          LONGTEXT NOT NULL,
    status           VARCHAR(16) NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  DATETIME(6) NOT NULL,
    locked_until     DATETIME(6),
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       DATETIME(6) NOT NULL,
    delivered_at     DATETIME(6),
    FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status, created_at, id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
