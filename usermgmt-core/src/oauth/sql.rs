//! The SQL of [`OAuthStore`](crate::store::OAuthStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `oauth_sql!` through `store_areas!`,
//! after `sql_common!`, whose dialect shim, row mappers and transaction the statements use
//! (see `store/sql.rs`).

/// Implements [`OAuthStore`](crate::store::OAuthStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! oauth_sql {
    ($store:ty) => {
        fn oauth_identity_from_row(row: &DbRow) -> Result<$crate::oauth::store::IdentityRecord> {
            Ok($crate::oauth::store::IdentityRecord {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                provider: row.try_get("provider")?,
                subject: row.try_get("subject")?,
                email: row.try_get("email")?,
                sealed_tokens: row.try_get("sealed_tokens")?,
                created_at: from_ts(row.try_get("created_at")?)?,
                last_used_at: opt_from_ts(row.try_get("last_used_at")?)?,
            })
        }

        /// Inserts an identity unless its provider account is linked already (the unique
        /// (provider, subject) decides a race: the loser inserts nothing).
        async fn insert_oauth_identity(
            tx: &mut Tx,
            identity: &$crate::oauth::store::IdentityRecord,
        ) -> Result<()> {
            let stored = query(
                "INSERT INTO oauth_identities (id, user_id, provider, subject, email, \
                 sealed_tokens, created_at, last_used_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(identity.id)
            .bind(identity.user_id)
            .bind(&identity.provider)
            .bind(&identity.subject)
            .bind(&identity.email)
            .bind(&identity.sealed_tokens)
            .bind(ts(identity.created_at))
            .bind(opt_ts(identity.last_used_at))
            .execute(&mut **tx)
            .await?;
            if stored.rows_affected() == 0 {
                return Err(Error::Conflict(ConflictKind::Other));
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::oauth::store::OAuthStore for $store {
            async fn identities(
                &self,
                user_id: Uuid,
            ) -> Result<Vec<$crate::oauth::store::IdentityRecord>> {
                let rows = query(
                    "SELECT id, user_id, provider, subject, email, sealed_tokens, created_at, \
                     last_used_at FROM oauth_identities WHERE user_id = $1 \
                     ORDER BY created_at, id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(oauth_identity_from_row).collect()
            }

            async fn identity_by_subject(
                &self,
                provider: &str,
                subject: &str,
            ) -> Result<Option<$crate::oauth::store::IdentityRecord>> {
                let row = query(
                    "SELECT id, user_id, provider, subject, email, sealed_tokens, created_at, \
                     last_used_at FROM oauth_identities WHERE provider = $1 AND subject = $2",
                )
                .bind(provider)
                .bind(subject)
                .fetch_optional(&self.pool)
                .await?;
                row.as_ref().map(oauth_identity_from_row).transpose()
            }

            async fn link_identity(
                &self,
                identity: $crate::oauth::store::IdentityRecord,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                ensure_user(&mut tx, identity.user_id).await?;
                insert_oauth_identity(&mut tx, &identity).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_user_with_identity(
                &self,
                user: NewUser,
                identity: $crate::oauth::store::IdentityRecord,
                effects: Effects,
            ) -> Result<UserRecord> {
                let mut tx = begin(self).await?;
                insert_user(&mut tx, &user).await?;
                insert_oauth_identity(&mut tx, &identity).await?;
                write_effects(&mut tx, effects).await?;
                let record = user_in_tx(&mut tx, user.id).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn record_identity_use(
                &self,
                identity: &$crate::oauth::store::IdentityRecord,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let used = query(
                    "UPDATE oauth_identities SET email = $1, last_used_at = $2, \
                     sealed_tokens = COALESCE($3, sealed_tokens) WHERE id = $4",
                )
                .bind(&identity.email)
                .bind(opt_ts(identity.last_used_at))
                .bind(&identity.sealed_tokens)
                .bind(identity.id)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, used.rows_affected(), effects).await
            }

            async fn unlink_identity(
                &self,
                user_id: Uuid,
                id: Uuid,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                // The user's row lock (SQLite: `BEGIN IMMEDIATE`) serialises changes to one
                // user's ways of signing in, so the counts below cannot go stale. Safe: both
                // parts are constants.
                let sql = format!("SELECT password_hash FROM users WHERE id = $1{LOCK_ROW}");
                let password: Option<String> = query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(password) = password else {
                    return Ok(false);
                };
                let removed =
                    query("DELETE FROM oauth_identities WHERE id = $1 AND user_id = $2")
                        .bind(id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                if removed.rows_affected() == 0 {
                    return Ok(false);
                }
                if password.is_empty() {
                    let left: i64 = query_scalar(
                        "SELECT (SELECT COUNT(*) FROM oauth_identities WHERE user_id = $1) \
                         + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)",
                    )
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

            async fn start_oauth_attempt(
                &self,
                attempt: $crate::oauth::store::AttemptRecord,
                now: Timestamp,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                query("DELETE FROM oauth_attempts WHERE expires_at <= $1")
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                query(
                    "INSERT INTO oauth_attempts (state_digest, browser_digest, provider, \
                     sealed_secrets, redirect_to, purpose, user_id, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(attempt.state_digest.as_str())
                .bind(attempt.browser_digest.as_str())
                .bind(&attempt.provider)
                .bind(&attempt.sealed_secrets)
                .bind(&attempt.redirect_to)
                .bind(attempt.purpose.as_str())
                .bind(attempt.user_id)
                .bind(ts(attempt.expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_oauth_attempt(
                &self,
                state_digest: &TokenDigest,
                now: Timestamp,
            ) -> Result<Option<$crate::oauth::store::AttemptRecord>> {
                // One DELETE finds and consumes it: of two racing takers only one gets the row.
                let row = if RETURNING {
                    query(
                        "DELETE FROM oauth_attempts WHERE state_digest = $1 RETURNING browser_digest, provider, sealed_secrets, redirect_to, purpose, user_id, expires_at",
                    )
                    .bind(state_digest.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                } else {
                    // MySQL: no DELETE ... RETURNING. The locking read makes a racing taker
                    // wait, and then find nothing.
                    let mut tx = begin(self).await?;
                    let row = query(
                        "SELECT browser_digest, provider, sealed_secrets, redirect_to, purpose, user_id, expires_at FROM oauth_attempts WHERE state_digest = $1 FOR UPDATE",
                    )
                    .bind(state_digest.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if row.is_some() {
                        query("DELETE FROM oauth_attempts WHERE state_digest = $1")
                            .bind(state_digest.as_str())
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                    }
                    row
                };
                let Some(row) = row else { return Ok(None) };
                let expires_at = from_ts(row.try_get("expires_at")?)?;
                let purpose: String = row.try_get("purpose")?;
                let Some(purpose) = $crate::oauth::store::AttemptPurpose::parse(&purpose) else {
                    return Err(Error::internal(format!("unknown attempt purpose {purpose}")));
                };
                if expires_at <= now {
                    return Ok(None);
                }
                Ok(Some($crate::oauth::store::AttemptRecord {
                    state_digest: state_digest.clone(),
                    browser_digest: TokenDigest::from_stored(row.try_get("browser_digest")?),
                    provider: row.try_get("provider")?,
                    sealed_secrets: row.try_get("sealed_secrets")?,
                    redirect_to: row.try_get("redirect_to")?,
                    purpose,
                    user_id: row.try_get("user_id")?,
                    expires_at,
                }))
            }

            async fn issue_exchange_code(
                &self,
                code: $crate::oauth::store::ExchangeCodeRecord,
                now: Timestamp,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                query("DELETE FROM oauth_exchange_codes WHERE expires_at <= $1")
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                ensure_user(&mut tx, code.user_id).await?;
                query(
                    "INSERT INTO oauth_exchange_codes (digest, user_id, identity_id, \
                     redirect_to, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(code.digest.as_str())
                .bind(code.user_id)
                .bind(code.identity_id)
                .bind(&code.redirect_to)
                .bind(ts(code.expires_at))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_exchange_code(
                &self,
                digest: &TokenDigest,
                now: Timestamp,
            ) -> Result<Option<$crate::oauth::store::ExchangeCodeRecord>> {
                let row = if RETURNING {
                    query(
                        "DELETE FROM oauth_exchange_codes WHERE digest = $1 RETURNING user_id, identity_id, redirect_to, expires_at",
                    )
                    .bind(digest.as_str())
                    .fetch_optional(&self.pool)
                    .await?
                } else {
                    // MySQL: no DELETE ... RETURNING. The locking read makes a racing taker
                    // wait, and then find nothing.
                    let mut tx = begin(self).await?;
                    let row = query(
                        "SELECT user_id, identity_id, redirect_to, expires_at FROM oauth_exchange_codes WHERE digest = $1 FOR UPDATE",
                    )
                    .bind(digest.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
                    if row.is_some() {
                        query("DELETE FROM oauth_exchange_codes WHERE digest = $1")
                            .bind(digest.as_str())
                            .execute(&mut *tx)
                            .await?;
                        tx.commit().await?;
                    }
                    row
                };
                let Some(row) = row else { return Ok(None) };
                let expires_at = from_ts(row.try_get("expires_at")?)?;
                if expires_at <= now {
                    return Ok(None);
                }
                Ok(Some($crate::oauth::store::ExchangeCodeRecord {
                    digest: digest.clone(),
                    user_id: row.try_get("user_id")?,
                    identity_id: row.try_get("identity_id")?,
                    redirect_to: row.try_get("redirect_to")?,
                    expires_at,
                }))
            }
        }
    };
}
pub(crate) use oauth_sql;
