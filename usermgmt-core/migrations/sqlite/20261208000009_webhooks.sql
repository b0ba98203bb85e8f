-- Webhook endpoints. `events` is a JSON array of patterns (an action, `PREFIX_*` or `*`).
-- The signing secret is needed in clear to sign, so it is sealed like the TOTP secrets; the
-- previous one keeps signing until `previous_secret_until` after a rotation.
-- `failing_since`: the first failed attempt since the last success (disabled after 24 h).
CREATE TABLE webhook_endpoints (
    id                     BLOB PRIMARY KEY,
    url                    TEXT NOT NULL,
    events                 TEXT NOT NULL,
    description            TEXT,
    enabled                INTEGER NOT NULL DEFAULT 1,
    sealed_secret          BLOB NOT NULL,
    sealed_previous_secret BLOB,
    previous_secret_until  INTEGER,
    failing_since          INTEGER,
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL
);

-- One row per (event, endpoint that wanted it), written in the transaction of the audit row.
-- Claimed with a lease (`locked_until`) like the mail outbox; an endpoint's rows are sent in
-- (created_at, id) order, one at a time.
CREATE TABLE webhook_deliveries (
    id               BLOB PRIMARY KEY,
    endpoint_id      BLOB NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         BLOB NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    locked_until     INTEGER,
    last_status_code INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    delivered_at     INTEGER
);
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (endpoint_id, status, created_at, id);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (status, next_attempt_at);
