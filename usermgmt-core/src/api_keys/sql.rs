//! The SQL of [`ApiKeyStore`](crate::store::ApiKeyStore), written once for PostgreSQL and
//! SQLite: `store/postgres.rs` and `store/sqlite.rs` each invoke `api_keys_sql!` through
//! `store_areas!`, after `sql_common!`, whose dialect shim, row mappers and transaction the
//! statements use (see `store/sql.rs`).

/// Implements [`ApiKeyStore`](crate::store::ApiKeyStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! api_keys_sql {
    ($store:ty) => {
        const API_KEY_COLUMNS: &str = "id, user_id, name, prefix, key_digest, scopes, \
             expires_at, created_at, last_used_at, previous_prefix, previous_digest, \
             previous_expires_at, org_id";

        fn api_key_from_row(row: &DbRow) -> Result<$crate::api_keys::store::ApiKeyRecord> {
            let scopes: String = row.try_get("scopes")?;
            let previous_prefix: Option<String> = row.try_get("previous_prefix")?;
            let previous_digest: Option<String> = row.try_get("previous_digest")?;
            let previous_until = opt_from_ts(row.try_get("previous_expires_at")?)?;
            let previous = match (previous_prefix, previous_digest, previous_until) {
                (Some(prefix), Some(digest), Some(expires_at)) => {
                    Some($crate::api_keys::store::PreviousKey {
                        prefix,
                        digest: $crate::secret::TokenDigest::from_stored(digest),
                        expires_at,
                    })
                }
                _ => None,
            };
            Ok($crate::api_keys::store::ApiKeyRecord {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                name: row.try_get("name")?,
                prefix: row.try_get("prefix")?,
                digest: $crate::secret::TokenDigest::from_stored(row.try_get("key_digest")?),
                scopes: serde_json::from_str(&scopes).map_err(Error::internal)?,
                expires_at: opt_from_ts(row.try_get("expires_at")?)?,
                created_at: from_ts(row.try_get("created_at")?)?,
                last_used_at: opt_from_ts(row.try_get("last_used_at")?)?,
                previous,
                org_id: row.try_get("org_id")?,
            })
        }

        #[async_trait::async_trait]
        impl $crate::api_keys::store::ApiKeyStore for $store {
            async fn api_keys(
                &self,
                user_id: Uuid,
            ) -> Result<Vec<$crate::api_keys::store::ApiKeyRecord>> {
                // Safe: both parts are constants.
                let sql = format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 \
                     ORDER BY created_at, id"
                );
                let rows = query(sqlx::AssertSqlSafe(sql))
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(api_key_from_row).collect()
            }

            async fn api_key_by_prefix(
                &self,
                prefix: &str,
            ) -> Result<Option<$crate::api_keys::store::ApiKeyRecord>> {
                // Both columns are unique, so each side of the OR is an index lookup.
                let sql = format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys \
                     WHERE prefix = $1 OR previous_prefix = $1"
                );
                let row = query(sqlx::AssertSqlSafe(sql))
                    .bind(prefix)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(api_key_from_row).transpose()
            }

            async fn add_api_key(
                &self,
                key: $crate::api_keys::store::ApiKeyRecord,
                max_per_user: usize,
                effects: Effects,
            ) -> Result<bool> {
                let scopes = serde_json::to_string(&key.scopes).map_err(Error::internal)?;
                let mut tx = begin(self).await?;
                // The owner's row lock orders racing creations: each counts what the ones
                // before it committed (SQLite's write transaction locks the database).
                let sql = format!("SELECT id FROM users WHERE id = $1{LOCK_ROW}");
                query(sqlx::AssertSqlSafe(sql))
                    .bind(key.user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                let held: i64 = query("SELECT COUNT(*) AS n FROM api_keys WHERE user_id = $1")
                    .bind(key.user_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                if count(held) >= max_per_user as u64 {
                    return Ok(false);
                }
                let stored = query(
                    "INSERT INTO api_keys (id, user_id, name, prefix, key_digest, scopes, \
                     expires_at, created_at, last_used_at, org_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                )
                .bind(key.id)
                .bind(key.user_id)
                .bind(&key.name)
                .bind(&key.prefix)
                .bind(key.digest.as_str())
                .bind(scopes)
                .bind(opt_ts(key.expires_at))
                .bind(ts(key.created_at))
                .bind(opt_ts(key.last_used_at))
                .bind(key.org_id)
                .execute(&mut *tx)
                .await?;
                if stored.rows_affected() == 0 {
                    return Err(Error::Conflict(ConflictKind::Other));
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn remove_api_key(
                &self,
                user_id: Uuid,
                id: Uuid,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let removed = query("DELETE FROM api_keys WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                commit_if_changed(tx, removed.rows_affected(), effects).await
            }

            async fn rotate_api_key(
                &self,
                user_id: Uuid,
                id: Uuid,
                rotation: $crate::api_keys::store::Rotation,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                // The compare-and-set on the prefix decides a race: the second rotation finds
                // the prefix changed and updates nothing. Without a grace period the previous
                // columns are cleared, so the old key stops at once.
                let grace = rotation.previous_until.is_some();
                let rotated = query(
                    "UPDATE api_keys SET \
                     previous_prefix = CASE WHEN $1 THEN prefix ELSE NULL END, \
                     previous_digest = CASE WHEN $1 THEN key_digest ELSE NULL END, \
                     previous_expires_at = $2, prefix = $3, key_digest = $4 \
                     WHERE id = $5 AND user_id = $6 AND prefix = $7",
                )
                .bind(grace)
                .bind(opt_ts(rotation.previous_until))
                .bind(&rotation.prefix)
                .bind(rotation.digest.as_str())
                .bind(id)
                .bind(user_id)
                .bind(&rotation.expected_prefix)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, rotated.rows_affected(), effects).await
            }

            async fn touch_api_key(
                &self,
                id: Uuid,
                now: Timestamp,
                stale_before: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let touched = query(
                    "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 \
                     AND (last_used_at IS NULL OR last_used_at <= $3)",
                )
                .bind(ts(now))
                .bind(id)
                .bind(ts(stale_before))
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, touched.rows_affected(), effects).await
            }
        }
    };
}
pub(crate) use api_keys_sql;
