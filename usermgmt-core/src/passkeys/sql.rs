//! The SQL of [`PasskeyStore`](crate::store::PasskeyStore), written once for PostgreSQL and
//! SQLite: `store/postgres.rs` and `store/sqlite.rs` each invoke `passkeys_sql!` through
//! `store_areas!`, after `sql_common!`, whose dialect shim, row mappers and transaction the
//! statements use (see `store/sql.rs`).

/// Implements [`PasskeyStore`](crate::store::PasskeyStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! passkeys_sql {
    ($store:ty) => {
        fn passkey_from_row(row: &DbRow) -> Result<$crate::passkeys::store::PasskeyRecord> {
            let transports: String = row.try_get("transports")?;
            Ok($crate::passkeys::store::PasskeyRecord {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                credential_id: row.try_get("credential_id")?,
                credential: row.try_get("credential")?,
                name: row.try_get("name")?,
                sign_count: row.try_get("sign_count")?,
                backed_up: row.try_get("backed_up")?,
                transports: serde_json::from_str(&transports).map_err(Error::internal)?,
                created_at: from_ts(row.try_get("created_at")?)?,
                last_used_at: opt_from_ts(row.try_get("last_used_at")?)?,
            })
        }

        #[async_trait::async_trait]
        impl $crate::passkeys::store::PasskeyStore for $store {
            async fn passkeys(
                &self,
                user_id: Uuid,
            ) -> Result<Vec<$crate::passkeys::store::PasskeyRecord>> {
                let rows = query(
                    "SELECT id, user_id, credential_id, credential, name, sign_count, backed_up, \
                     transports, created_at, last_used_at FROM passkeys WHERE user_id = $1 \
                     ORDER BY created_at, id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(passkey_from_row).collect()
            }

            async fn passkey_by_credential_id(
                &self,
                credential_id: &str,
            ) -> Result<Option<$crate::passkeys::store::PasskeyRecord>> {
                let row = query(
                    "SELECT id, user_id, credential_id, credential, name, sign_count, backed_up, \
                     transports, created_at, last_used_at FROM passkeys WHERE credential_id = $1",
                )
                .bind(credential_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(passkey_from_row).transpose()
            }

            async fn add_passkey(
                &self,
                passkey: $crate::passkeys::store::PasskeyRecord,
                effects: Effects,
            ) -> Result<()> {
                let transports =
                    serde_json::to_string(&passkey.transports).map_err(Error::internal)?;
                let mut tx = begin(self).await?;
                ensure_user(&mut tx, passkey.user_id).await?;
                // The unique credential id decides a race between two registrations of one
                // authenticator: the loser inserts nothing.
                let stored = query(
                    "INSERT INTO passkeys (id, user_id, credential_id, credential, name, \
                     sign_count, backed_up, transports, created_at, last_used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                )
                .bind(passkey.id)
                .bind(passkey.user_id)
                .bind(&passkey.credential_id)
                .bind(&passkey.credential)
                .bind(&passkey.name)
                .bind(passkey.sign_count)
                .bind(passkey.backed_up)
                .bind(transports)
                .bind(ts(passkey.created_at))
                .bind(opt_ts(passkey.last_used_at))
                .execute(&mut *tx)
                .await?;
                if stored.rows_affected() == 0 {
                    return Err(Error::Conflict(ConflictKind::Other));
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<bool> {
                let renamed =
                    query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
                        .bind(name)
                        .bind(id)
                        .bind(user_id)
                        .execute(&self.pool)
                        .await?;
                Ok(renamed.rows_affected() == 1)
            }

            async fn remove_passkey(
                &self,
                user_id: Uuid,
                id: Uuid,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                // The user's row lock (SQLite: `BEGIN IMMEDIATE`) serialises removals of one
                // user's passkeys, so the count below cannot go stale. Safe: both parts are
                // constants.
                let sql = format!("SELECT password_hash FROM users WHERE id = $1{LOCK_ROW}");
                let password: Option<String> = query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(password) = password else {
                    return Ok(false);
                };
                let removed = query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if removed.rows_affected() == 0 {
                    return Ok(false);
                }
                if password.is_empty() {
                    let left: i64 =
                        query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
                            .bind(user_id)
                            .fetch_one(&mut *tx)
                            .await?;
                    if left == 0 {
                        // Dropped uncommitted: the delete is rolled back.
                        return Err(Error::LastSignInMethod);
                    }
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn record_passkey_use(
                &self,
                passkey: &$crate::passkeys::store::PasskeyRecord,
                seen_count: i64,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let used = query(
                    "UPDATE passkeys SET credential = $1, sign_count = $2, backed_up = $3, \
                     last_used_at = $4 WHERE id = $5 AND sign_count = $6",
                )
                .bind(&passkey.credential)
                .bind(passkey.sign_count)
                .bind(passkey.backed_up)
                .bind(opt_ts(passkey.last_used_at))
                .bind(passkey.id)
                .bind(seen_count)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, used.rows_affected(), effects).await
            }

            async fn start_ceremony(
                &self,
                ceremony: $crate::passkeys::store::CeremonyRecord,
                now: Timestamp,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                query("DELETE FROM passkey_ceremonies WHERE expires_at <= $1")
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                query(
                    "INSERT INTO passkey_ceremonies (id, kind, user_id, sealed_state, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(ceremony.id)
                .bind(ceremony.kind.as_str())
                .bind(ceremony.user_id)
                .bind(ceremony.sealed_state)
                .bind(ts(ceremony.expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_ceremony(
                &self,
                id: Uuid,
                kind: $crate::passkeys::store::CeremonyKind,
                now: Timestamp,
            ) -> Result<Option<$crate::passkeys::store::CeremonyRecord>> {
                // One DELETE finds and consumes it: of two racing takers only one gets the row.
                let row = if RETURNING {
                    query(
                        "DELETE FROM passkey_ceremonies WHERE id = $1 RETURNING kind, user_id, sealed_state, expires_at",
                    )
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
                } else {
                    // MySQL: no DELETE ... RETURNING. The locking read makes a racing taker
                    // wait, and then find nothing.
                    let mut tx = begin(self).await?;
                    let row = query(
                        "SELECT kind, user_id, sealed_state, expires_at FROM passkey_ceremonies WHERE id = $1 FOR UPDATE",
                    )
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if row.is_some() {
                        query("DELETE FROM passkey_ceremonies WHERE id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                    }
                    row
                };
                let Some(row) = row else { return Ok(None) };
                let stored_kind: String = row.try_get("kind")?;
                let expires_at = from_ts(row.try_get("expires_at")?)?;
                if $crate::passkeys::store::CeremonyKind::parse(&stored_kind) != Some(kind)
                    || expires_at <= now
                {
                    return Ok(None);
                }
                Ok(Some($crate::passkeys::store::CeremonyRecord {
                    id,
                    kind,
                    user_id: row.try_get("user_id")?,
                    sealed_state: row.try_get("sealed_state")?,
                    expires_at,
                }))
            }
        }
    };
}
pub(crate) use passkeys_sql;
