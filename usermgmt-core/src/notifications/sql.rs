//! The SQL of [`NotificationStore`](crate::store::NotificationStore), written once for PostgreSQL
//! and SQLite: `store/postgres.rs` and `store/sqlite.rs` each invoke `notifications_sql!` after
//! `sql_common!`, whose dialect shim, row mappers and transaction the statements use (see
//! `store/sql.rs`).

/// Implements [`NotificationStore`](crate::store::NotificationStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! notifications_sql {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl NotificationStore for $store {
            async fn notifications(
                &self,
                user_id: Uuid,
                unread_only: bool,
                offset: u64,
                limit: u64,
            ) -> Result<NotificationPage> {
                let counts = query(
                    "SELECT COUNT(*) AS total, \
                     COUNT(CASE WHEN read_at IS NULL THEN 1 END) AS unread \
                     FROM notifications WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
                let all: i64 = counts.try_get("total")?;
                let unread: i64 = counts.try_get("unread")?;
                let rows = query(
                    "SELECT id, user_id, type, title, message, data, read_at, created_at \
                     FROM notifications WHERE user_id = $1 AND ($2 = FALSE OR read_at IS NULL) \
                     ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4",
                )
                .bind(user_id)
                .bind(unread_only)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .bind(i64::try_from(offset).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
                Ok(NotificationPage {
                    items: rows.iter().map(notification_from_row).collect::<Result<_>>()?,
                    total: count(if unread_only { unread } else { all }),
                    unread: count(unread),
                })
            }

            async fn mark_notification_read(
                &self,
                user_id: Uuid,
                id: Uuid,
                now: Timestamp,
            ) -> Result<bool> {
                let done = query(
                    "UPDATE notifications SET read_at = COALESCE(read_at, $1) \
                     WHERE id = $2 AND user_id = $3",
                )
                .bind(ts(now))
                .bind(id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn mark_all_notifications_read(&self, user_id: Uuid, now: Timestamp) -> Result<u64> {
                let done = query(
                    "UPDATE notifications SET read_at = $1 WHERE user_id = $2 AND read_at IS NULL",
                )
                .bind(ts(now))
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn delete_notification(
                &self,
                user_id: Uuid,
                id: Uuid,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let done = query("DELETE FROM notifications WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                commit_if_changed(tx, done.rows_affected(), effects).await
            }

            async fn delete_all_notifications(&self, user_id: Uuid, audit: AuditEvent) -> Result<u64> {
                let mut tx = begin(self).await?;
                let done = query("DELETE FROM notifications WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                let deleted = done.rows_affected();
                if deleted == 0 {
                    return Ok(0);
                }
                write_effects(&mut tx, Effects::audit(counted(audit, deleted))).await?;
                tx.commit().await?;
                Ok(deleted)
            }
        }
    };
}
pub(crate) use notifications_sql;
