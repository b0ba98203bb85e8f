//! The SQL of [`AccountStore`](crate::store::AccountStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `account_sql!` after `sql_common!`, whose
//! dialect shim, row mappers and transaction the statements use (see `store/sql.rs`).

/// Implements [`AccountStore`](crate::store::AccountStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! account_sql {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl AccountStore for $store {
            async fn user_data_export(&self, user_id: Uuid) -> Result<UserDataExport> {
                let sessions = query(concat!(
                    "SELECT ", session_columns!(), " FROM sessions WHERE user_id = $1 ORDER BY created_at, id"
                ))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(session_from_row)
                .collect::<Result<Vec<_>>>()?;
                let audit = query(concat!(
                    "SELECT ", audit_columns!(), " FROM audit_logs WHERE user_id = $1 OR actor_id = $1 \
                     ORDER BY created_at, id"
                ))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?;
                let notifications = query(
                    "SELECT id, user_id, type, title, message, data, read_at, created_at \
                     FROM notifications WHERE user_id = $1 ORDER BY created_at, id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(notification_from_row)
                .collect::<Result<Vec<_>>>()?;
                let password_changes = query(
                    "SELECT created_at FROM password_history WHERE user_id = $1 ORDER BY id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| from_ts(r.try_get("created_at")?))
                .collect::<Result<Vec<_>>>()?;
                Ok(UserDataExport {
                    sessions,
                    audit,
                    notifications,
                    password_changes,
                })
            }

            async fn users_deleted_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Uuid>> {
                let rows = query(
                    "SELECT id FROM users WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
                     ORDER BY deleted_at, id LIMIT $2",
                )
                .bind(ts(cutoff))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| r.try_get::<Uuid, _>("id").map_err(Error::from))
                    .collect()
            }

            async fn delete_user_permanently(
                &self,
                user_id: Uuid,
                deleted_before: Option<Timestamp>,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let gone: Option<Uuid> = query_scalar(
                    "SELECT id FROM users WHERE id = $1 \
                     AND ($2 IS NULL OR (deleted_at IS NOT NULL AND deleted_at < $2))",
                )
                .bind(user_id)
                .bind(opt_ts(deleted_before))
                .fetch_optional(&mut *tx)
                .await?;
                if gone.is_some() {
                    // Their organizations keep an owner (organizations_sql!).
                    leave_all_orgs_in_tx(&mut tx, user_id).await?;
                }
                // Child rows go by ON DELETE CASCADE; the condition makes a purge that raced a
                // recovery (or another instance's purge) remove nothing.
                let deleted = if RETURNING {
                    query(
                        "DELETE FROM users WHERE id = $1 \
                         AND ($2 IS NULL OR (deleted_at IS NOT NULL AND deleted_at < $2)) \
                         RETURNING email",
                    )
                    .bind(user_id)
                    .bind(opt_ts(deleted_before))
                    .fetch_optional(&mut *tx)
                    .await?
                } else {
                    // No DELETE ... RETURNING in MySQL: the row is read under its lock, then
                    // deleted by the same condition.
                    let row = query(concat!(
                        "SELECT email FROM users WHERE id = $1 \
                         AND ($2 IS NULL OR (deleted_at IS NOT NULL AND deleted_at < $2))",
                        " FOR UPDATE"
                    ))
                    .bind(user_id)
                    .bind(opt_ts(deleted_before))
                    .fetch_optional(&mut *tx)
                    .await?;
                    let removed = query(
                        "DELETE FROM users WHERE id = $1 \
                         AND ($2 IS NULL OR (deleted_at IS NOT NULL AND deleted_at < $2))",
                    )
                    .bind(user_id)
                    .bind(opt_ts(deleted_before))
                    .execute(&mut *tx)
                    .await?;
                    row.filter(|_| removed.rows_affected() > 0)
                };
                let Some(deleted) = deleted else {
                    return Ok(false);
                };
                // Delivered or abandoned mail still names the address; mail not yet sent stays
                // (it is on its way to the person, the last notice among it).
                let email: String = deleted.try_get("email")?;
                query("DELETE FROM mail_outbox WHERE recipient = $1 AND status <> 'pending'")
                    .bind(&email)
                    .execute(&mut *tx)
                    .await?;
                query(
                    "UPDATE audit_logs SET \
                     user_id = CASE WHEN user_id = $1 THEN NULL ELSE user_id END, \
                     actor_id = CASE WHEN actor_id = $1 THEN NULL ELSE actor_id END, \
                     resource_id = CASE WHEN resource_id = $2 THEN NULL ELSE resource_id END, \
                     ip_address = NULL, user_agent = NULL, details = $3 \
                     WHERE user_id = $1 OR actor_id = $1",
                )
                .bind(user_id)
                .bind(user_id.to_string())
                .bind(Json(anonymised_details()))
                .execute(&mut *tx)
                .await?;
                write_effects(&mut tx, effects).await?;
                tx.name_user_in_published(user_id);
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}
pub(crate) use account_sql;
