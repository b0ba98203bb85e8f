//! The SQL of [`ProfileStore`](crate::store::ProfileStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `profile_sql!` after `sql_common!`, whose
//! dialect shim, row mappers and transaction the statements use (see `store/sql.rs`).

/// Implements [`ProfileStore`](crate::store::ProfileStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! profile_sql {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl ProfileStore for $store {
            async fn profile(&self, user_id: Uuid) -> Result<Option<ProfileRecord>> {
                let row = query(concat!(
                    "SELECT ",
                    profile_columns!(),
                    " FROM user_profiles WHERE user_id = $1"
                ))
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(profile_from_row).transpose()
            }

            async fn update_profile(
                &self,
                user_id: Uuid,
                update: ProfileUpdate,
                now: Timestamp,
                effects: Effects,
            ) -> Result<(UserRecord, ProfileRecord)> {
                let mut tx = begin(self).await?;
                // Each field: keep when its flag is false, else set (possibly to NULL).
                query(
                    "UPDATE users SET \
                       first_name = CASE WHEN $1 THEN $2 ELSE first_name END, \
                       last_name = CASE WHEN $3 THEN $4 ELSE last_name END, \
                       updated_at = $5 \
                     WHERE id = $6",
                )
                .bind(update.first_name.is_some())
                .bind(update.first_name.clone().flatten())
                .bind(update.last_name.is_some())
                .bind(update.last_name.clone().flatten())
                .bind(ts(now))
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                let row = query(concat!(
                    "SELECT ",
                    profile_columns!(),
                    " FROM user_profiles WHERE user_id = $1"
                ))
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(Error::NotFound("user"))?;
                let mut profile = profile_from_row(&row)?;
                update.apply_to_profile(&mut profile);
                query(
                    "UPDATE user_profiles SET bio = $1, phone = $2, date_of_birth = $3, \
                     address = $4, city = $5, country = $6, timezone = $7, language = $8 \
                     WHERE user_id = $9",
                )
                .bind(&profile.bio)
                .bind(&profile.phone)
                .bind(profile.date_of_birth)
                .bind(&profile.address)
                .bind(&profile.city)
                .bind(&profile.country)
                .bind(&profile.timezone)
                .bind(&profile.language)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                write_effects(&mut tx, effects).await?;
                let user = user_in_tx(&mut tx, user_id).await?;
                tx.commit().await?;
                Ok((user, profile))
            }

            async fn merge_preferences(
                &self,
                user_id: Uuid,
                patch: serde_json::Map<String, serde_json::Value>,
                max_bytes: usize,
                now: Timestamp,
                effects: Effects,
            ) -> Result<serde_json::Value> {
                let mut tx = begin(self).await?;
                // Touching the user first takes its row lock (PostgreSQL), so two concurrent
                // merges apply one after the other instead of losing a key.
                let touched = query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if touched.rows_affected() == 0 {
                    return Err(Error::NotFound("user"));
                }
                let row = query("SELECT preferences FROM user_profiles WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                let Json(current): Json<serde_json::Value> = row.try_get("preferences")?;
                let merged = merge_preferences_value(&current, patch, max_bytes)?;
                query("UPDATE user_profiles SET preferences = $1 WHERE user_id = $2")
                    .bind(Json(&merged))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(merged)
            }

            async fn set_avatar(
                &self,
                user_id: Uuid,
                avatar: Option<String>,
                now: Timestamp,
                effects: Effects,
            ) -> Result<(UserRecord, Option<String>)> {
                let mut tx = begin(self).await?;
                // The previous URL is read under the row lock the UPDATE then holds (SQLite: the
                // write lock of BEGIN IMMEDIATE), so no other change can slip in between.
                // Safe: both parts are constants.
                let sql = format!("SELECT avatar FROM users WHERE id = $1{LOCK_ROW}");
                let previous: Option<String> = query(sqlx::AssertSqlSafe(sql))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("user"))?
                    .try_get("avatar")?;
                if previous == avatar {
                    let user = user_in_tx(&mut tx, user_id).await?;
                    return Ok((user, previous));
                }
                query("UPDATE users SET avatar = $1, updated_at = $2 WHERE id = $3")
                    .bind(avatar)
                    .bind(ts(now))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                let user = user_in_tx(&mut tx, user_id).await?;
                tx.commit().await?;
                Ok((user, previous))
            }
        }
    };
}
pub(crate) use profile_sql;
