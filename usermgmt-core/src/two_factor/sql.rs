//! The SQL of [`TwoFactorStore`](crate::store::TwoFactorStore), written once for PostgreSQL and
//! SQLite: `store/postgres.rs` and `store/sqlite.rs` each invoke `two_factor_sql!` after
//! `sql_common!`, whose dialect shim, row mappers and transaction the statements use (see
//! `store/sql.rs`).

/// Implements [`TwoFactorStore`](crate::store::TwoFactorStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! two_factor_sql {
    ($store:ty) => {
        async fn store_backup_codes(
            tx: &mut Tx,
            user_id: Uuid,
            codes: Vec<TokenDigest>,
            now: Timestamp,
        ) -> Result<()> {
            query("DELETE FROM backup_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            for code in codes {
                query(
                    "INSERT INTO backup_codes (digest, user_id, created_at) VALUES ($1, $2, $3)",
                )
                .bind(code.as_str())
                .bind(user_id)
                .bind(ts(now))
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        async fn set_two_factor_flag(tx: &mut Tx, user_id: Uuid, on: bool, now: Timestamp) -> Result<()> {
            query("UPDATE users SET two_factor_enabled = $1, updated_at = $2 WHERE id = $3")
                .bind(on)
                .bind(ts(now))
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl TwoFactorStore for $store {
            async fn two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactorRecord>> {
                let row = query(
                    "SELECT t.sealed_secret, t.enabled, t.last_used_step, t.created_at,                      t.enabled_at, (SELECT COUNT(*) FROM backup_codes b                      WHERE b.user_id = t.user_id AND b.used_at IS NULL) AS remaining                      FROM two_factor t WHERE t.user_id = $1",
                )
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| {
                    Ok(TwoFactorRecord {
                        sealed_secret: row.try_get("sealed_secret")?,
                        enabled: row.try_get("enabled")?,
                        last_used_step: row.try_get("last_used_step")?,
                        created_at: from_ts(row.try_get("created_at")?)?,
                        enabled_at: opt_from_ts(row.try_get("enabled_at")?)?,
                        backup_codes_remaining: u32::try_from(row.try_get::<i64, _>("remaining")?)
                            .unwrap_or(u32::MAX),
                    })
                })
                .transpose()
            }

            async fn begin_two_factor_setup(
                &self,
                user_id: Uuid,
                sealed_secret: Vec<u8>,
                now: Timestamp,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                ensure_user(&mut tx, user_id).await?;
                // A pending setup is replaced; an enabled one is left alone (0 rows).
                let stored = if RETURNING {
                    query(
                        "INSERT INTO two_factor (user_id, sealed_secret, enabled, created_at) \
                         VALUES ($1, $2, FALSE, $3) \
                         ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
                         created_at = excluded.created_at, last_used_step = NULL, enabled_at = NULL \
                         WHERE two_factor.enabled = FALSE",
                    )
                    .bind(user_id)
                    .bind(sealed_secret)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                } else {
                    // MySQL's upsert has no WHERE (and counts an unchanged row as found): the
                    // row is read under its lock and replaced only while not enabled. A setup
                    // racing to insert the first row meets the primary key (a conflict).
                    let enabled: Option<bool> = query_scalar(
                        "SELECT enabled FROM two_factor WHERE user_id = $1 FOR UPDATE",
                    )
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match enabled {
                        Some(true) => 0,
                        Some(false) => query(
                            "UPDATE two_factor SET sealed_secret = $1, created_at = $2, \
                             last_used_step = NULL, enabled_at = NULL \
                             WHERE user_id = $3 AND enabled = FALSE",
                        )
                        .bind(sealed_secret)
                        .bind(ts(now))
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                        None => query(
                            "INSERT INTO two_factor (user_id, sealed_secret, enabled, created_at) \
                             VALUES ($1, $2, FALSE, $3)",
                        )
                        .bind(user_id)
                        .bind(sealed_secret)
                        .bind(ts(now))
                        .execute(&mut *tx)
                        .await?
                        .rows_affected(),
                    }
                };
                if stored == 0 {
                    return Err(Error::Conflict(ConflictKind::Other));
                }
                tx.commit().await?;
                Ok(())
            }

            async fn enable_two_factor(
                &self,
                user_id: Uuid,
                step: i64,
                backup_codes: Vec<TokenDigest>,
                now: Timestamp,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                let enabled = query(
                    "UPDATE two_factor SET enabled = TRUE, enabled_at = $1, last_used_step = $2                      WHERE user_id = $3 AND enabled = FALSE",
                )
                .bind(ts(now))
                .bind(step)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                if enabled.rows_affected() == 0 {
                    let exists = query("SELECT 1 FROM two_factor WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                    return Err(match exists {
                        Some(_) => Error::Conflict(ConflictKind::Other),
                        None => Error::NotFound("two-factor setup"),
                    });
                }
                store_backup_codes(&mut tx, user_id, backup_codes, now).await?;
                set_two_factor_flag(&mut tx, user_id, true, now).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn disable_two_factor(
                &self,
                user_id: Uuid,
                now: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let removed = query("DELETE FROM two_factor WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if removed.rows_affected() == 0 {
                    return Ok(false);
                }
                store_backup_codes(&mut tx, user_id, Vec::new(), now).await?;
                set_two_factor_flag(&mut tx, user_id, false, now).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn reseal_two_factor_secret(
                &self,
                user_id: Uuid,
                current: &[u8],
                resealed: Vec<u8>,
            ) -> Result<bool> {
                let done = query(
                    "UPDATE two_factor SET sealed_secret = $1 \
                     WHERE user_id = $2 AND sealed_secret = $3",
                )
                .bind(resealed)
                .bind(user_id)
                .bind(current)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool> {
                let used = query(
                    "UPDATE two_factor SET last_used_step = $1                      WHERE user_id = $2 AND (last_used_step IS NULL OR last_used_step < $1)",
                )
                .bind(step)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(used.rows_affected() == 1)
            }

            async fn use_backup_code(
                &self,
                user_id: Uuid,
                digest: &TokenDigest,
                now: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let used = query(
                    "UPDATE backup_codes SET used_at = $1                      WHERE digest = $2 AND user_id = $3 AND used_at IS NULL",
                )
                .bind(ts(now))
                .bind(digest.as_str())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, used.rows_affected(), effects).await
            }

            async fn replace_backup_codes(
                &self,
                user_id: Uuid,
                backup_codes: Vec<TokenDigest>,
                now: Timestamp,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                ensure_user(&mut tx, user_id).await?;
                store_backup_codes(&mut tx, user_id, backup_codes, now).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use two_factor_sql;
