//! The SQL of [`OutboxStore`](crate::store::OutboxStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `outbox_sql!` after `sql_common!`, whose
//! dialect shim, row mappers and transaction the statements use (see `store/sql.rs`).

/// Implements [`OutboxStore`](crate::store::OutboxStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! outbox_sql {
    ($store:ty) => {
        fn mail_from_row(row: &DbRow) -> Result<OutboxMessage> {
            Ok(OutboxMessage {
                id: row.try_get("id")?,
                recipient: row.try_get("recipient")?,
                kind: row.try_get("kind")?,
                sealed_payload: row.try_get("sealed_payload")?,
                attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or_default(),
                next_attempt_at: from_ts(row.try_get("next_attempt_at")?)?,
                created_at: from_ts(row.try_get("created_at")?)?,
            })
        }

        /// Deletes a finished message whose recipient no account holds any longer: a purged
        /// account's address stays only while its last notice waits to be sent.
        async fn delete_mail_to_nobody(tx: &mut Tx, id: Uuid) -> Result<()> {
            query(
                "DELETE FROM mail_outbox WHERE id = $1 AND status <> 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE users.email = mail_outbox.recipient)",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl OutboxStore for $store {
            async fn claim_due_mail(
                &self,
                now: Timestamp,
                limit: usize,
                lease: Duration,
            ) -> Result<Vec<OutboxMessage>> {
                // The lease test is repeated in the outer WHERE: a worker that waited on a row
                // another worker just claimed re-reads it and skips it.
                let rows = if RETURNING {
                    query(
                        "UPDATE mail_outbox SET locked_until = $1 \
                         WHERE id IN (SELECT id FROM mail_outbox \
                                      WHERE status = 'pending' AND next_attempt_at <= $2 \
                                      AND (locked_until IS NULL OR locked_until <= $2) \
                                      ORDER BY next_attempt_at, id LIMIT $3) \
                         AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $2) \
                         RETURNING id, recipient, kind, sealed_payload, attempts, next_attempt_at, \
                         created_at",
                    )
                    .bind(ts(now + lease))
                    .bind(ts(now))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?
                } else {
                    // MySQL has no UPDATE ... RETURNING and no LIMIT in an IN subquery: the due
                    // rows are read under their locks, skipping rows another worker is
                    // claiming right now, and leased in the same transaction.
                    let mut tx = begin(self).await?;
                    let rows = query(
                        "SELECT id, recipient, kind, sealed_payload, attempts, next_attempt_at, \
                         created_at FROM mail_outbox \
                         WHERE status = 'pending' AND next_attempt_at <= $1 \
                         AND (locked_until IS NULL OR locked_until <= $1) \
                         ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED",
                    )
                    .bind(ts(now))
                    .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                    .fetch_all(&mut *tx)
                    .await?;
                    if !rows.is_empty() {
                        let mut lease_rows =
                            sqlx::QueryBuilder::<Db>::new("UPDATE mail_outbox SET locked_until = ");
                        lease_rows.push_bind(ts(now + lease)).push(" WHERE id IN (");
                        let mut ids = lease_rows.separated(", ");
                        for row in &rows {
                            ids.push_bind(row.try_get::<Uuid, _>("id")?);
                        }
                        lease_rows.push(")");
                        lease_rows.build().execute(&mut *tx).await?;
                    }
                    tx.commit().await?;
                    rows
                };
                let mut claimed = rows.iter().map(mail_from_row).collect::<Result<Vec<_>>>()?;
                claimed.sort_by(|a, b| a.next_attempt_at.cmp(&b.next_attempt_at).then(a.id.cmp(&b.id)));
                Ok(claimed)
            }

            async fn mark_mail_sent(&self, id: Uuid, now: Timestamp) -> Result<()> {
                let mut tx = begin(self).await?;
                query(
                    "UPDATE mail_outbox SET status = 'sent', sent_at = $1, locked_until = NULL, \
                     attempts = attempts + 1, sealed_payload = $2, last_error = NULL WHERE id = $3",
                )
                .bind(ts(now))
                .bind(Vec::<u8>::new())
                .bind(id)
                .execute(&mut *tx)
                .await?;
                delete_mail_to_nobody(&mut tx, id).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn delete_finished_mail(&self, before: Timestamp, limit: usize) -> Result<u64> {
                let deleted = query(
                    // The batch is a derived table: MySQL allows no LIMIT in an IN subquery,
                    // nor a subquery on the table a DELETE changes.
                    "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM (SELECT id FROM mail_outbox \
                     WHERE status <> 'pending' AND COALESCE(sent_at, created_at) < $1 LIMIT $2) batch)",
                )
                .bind(ts(before))
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .execute(&self.pool)
                .await?;
                Ok(deleted.rows_affected())
            }

            async fn mark_mail_failed(
                &self,
                id: Uuid,
                error: &str,
                retry_at: Option<Timestamp>,
                _now: Timestamp,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                query(
                    "UPDATE mail_outbox SET attempts = attempts + 1, locked_until = NULL, \
                     last_error = $1, \
                     status = CASE WHEN $2 IS NULL THEN 'failed' ELSE status END, \
                     next_attempt_at = COALESCE($2, next_attempt_at) \
                     WHERE id = $3",
                )
                .bind(error)
                .bind(opt_ts(retry_at))
                .bind(id)
                .execute(&mut *tx)
                .await?;
                if retry_at.is_none() {
                    delete_mail_to_nobody(&mut tx, id).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn mail_rows_to(&self, recipient: &str) -> Result<u64> {
                let row = query("SELECT COUNT(*) AS n FROM mail_outbox WHERE recipient = $1")
                    .bind(recipient)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(count(row.try_get::<i64, _>("n")?))
            }

            async fn mail_backlog(&self) -> Result<u64> {
                let row = query("SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'pending'")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(count(row.try_get::<i64, _>("n")?))
            }
        }
    };
}
pub(crate) use outbox_sql;
