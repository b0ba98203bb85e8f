-- In-app notifications, raised in the same transaction as the event they tell of.
CREATE TABLE notifications (
    id         BINARY(16) NOT NULL PRIMARY KEY,
    user_id    BINARY(16) NOT NULL,
    type       VARCHAR(64) NOT NULL,
    title      TEXT NOT NULL,
    message    TEXT NOT NULL,
    data       JSON NOT NULL DEFAULT ('{}'),
    read_at    DATETIME(6),
    created_at DATETIME(6) NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX notifications_user_idx ON notifications (user_id, created_at DESC, id DESC);
-- No partial indexes in MySQL: the unread count reads this one's (user_id, read_at) keys.
CREATE INDEX notifications_unread_idx ON notifications (user_id, read_at);
