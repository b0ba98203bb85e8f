//! The SQL of [`IdentityStore`](crate::store::IdentityStore),
//! [`LockoutStore`](crate::store::LockoutStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `identity_sql!`, `lockout_sql!` after
//! `sql_common!`, whose dialect shim, row mappers and transaction the statements use (see
//! `store/sql.rs`).

/// Implements [`IdentityStore`](crate::store::IdentityStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! identity_sql {
    ($store:ty) => {
        async fn insert_one_time_token(tx: &mut Tx, token: &NewOneTimeToken) -> Result<()> {
            query(
                "INSERT INTO one_time_tokens (digest, user_id, purpose, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token.digest.as_str())
            .bind(token.user_id)
            .bind(token.purpose.as_str())
            .bind(ts(token.created_at))
            .bind(ts(token.expires_at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Uses a one-time token: the check and the use are one statement, so only one
        /// concurrent use wins. Returns the owner.
        async fn use_one_time_token(
            tx: &mut Tx,
            digest: &TokenDigest,
            purpose: TokenPurpose,
            now: Timestamp,
        ) -> Result<Uuid> {
            let row = if RETURNING {
                query(concat!(
                    "UPDATE one_time_tokens SET used_at = $1 \
                     WHERE digest = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
                    " RETURNING user_id"
                ))
                .bind(ts(now))
                .bind(digest.as_str())
                .bind(purpose.as_str())
                .fetch_optional(&mut **tx)
                .await?
            } else {
                // The UPDATE decides and locks the row; the owner is read after it.
                let used = query(
                    "UPDATE one_time_tokens SET used_at = $1 \
                     WHERE digest = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1",
                )
                    .bind(ts(now))
                    .bind(digest.as_str())
                    .bind(purpose.as_str())
                    .execute(&mut **tx)
                    .await?;
                if used.rows_affected() == 0 {
                    None
                } else {
                    query("SELECT user_id FROM one_time_tokens WHERE digest = $1")
                        .bind(digest.as_str())
                        .fetch_optional(&mut **tx)
                        .await?
                }
            };
            let row = row.ok_or(Error::InvalidOneTimeToken)?;
            Ok(row.try_get("user_id")?)
        }

        /// Sets the password and keeps the newest `history_limit` hashes of history.
        async fn record_password(tx: &mut Tx, user_id: Uuid, change: &PasswordChange) -> Result<()> {
            let updated = query(
                "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(&change.new_hash)
            .bind(ts(change.now))
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
            if updated.rows_affected() == 0 {
                return Err(Error::NotFound("user"));
            }
            query(
                "INSERT INTO password_history (user_id, password_hash, created_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(&change.new_hash)
            .bind(ts(change.now))
            .execute(&mut **tx)
            .await?;
            let keep = i64::try_from(change.history_limit.max(1)).unwrap_or(i64::MAX);
            query(
                // The kept ids are a derived table: MySQL allows no LIMIT in an IN subquery,
                // nor a subquery on the table a DELETE changes.
                "DELETE FROM password_history WHERE user_id = $1 AND id NOT IN \
                 (SELECT id FROM (SELECT id FROM password_history WHERE user_id = $1 \
                 ORDER BY id DESC LIMIT $2) kept)",
            )
            .bind(user_id)
            .bind(keep)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Inserts a new user (row, profile, password history, roles, verification token) in
        /// `tx`, without its effects: `create_user`, and the social sign-in's user created with
        /// its identity (`oauth/sql.rs`) in the same transaction.
        async fn insert_user(tx: &mut Tx, user: &NewUser) -> Result<()> {
            query(
                "INSERT INTO users (id, email, username, password_hash, first_name, \
                 last_name, email_verified, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
            )
            .bind(user.id)
            .bind(&user.email)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(&user.first_name)
            .bind(&user.last_name)
            .bind(user.email_verified)
            .bind(ts(user.created_at))
            .execute(&mut **tx)
            .await?;
            query("INSERT INTO user_profiles (user_id) VALUES ($1)")
                .bind(user.id)
                .execute(&mut **tx)
                .await?;
            query(
                "INSERT INTO password_history (user_id, password_hash, created_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(user.id)
            .bind(&user.password_hash)
            .bind(ts(user.created_at))
            .execute(&mut **tx)
            .await?;
            for role in &user.roles {
                let assigned = query(
                    "INSERT INTO user_roles (user_id, role_id, assigned_at) \
                     SELECT $1, id, $2 FROM roles WHERE name = $3 \
                     ON CONFLICT DO NOTHING",
                )
                .bind(user.id)
                .bind(ts(user.created_at))
                .bind(role)
                .execute(&mut **tx)
                .await?;
                if assigned.rows_affected() == 0 {
                    let exists = query("SELECT 1 FROM roles WHERE name = $1")
                        .bind(role)
                        .fetch_optional(&mut **tx)
                        .await?;
                    if exists.is_none() {
                        return Err(Error::internal(format!("role {role} does not exist")));
                    }
                }
            }
            if let Some(token) = &user.verification {
                insert_one_time_token(tx, token).await?;
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl IdentityStore for $store {
            async fn create_user(&self, user: NewUser, effects: Effects) -> Result<UserRecord> {
                let mut tx = begin(self).await?;
                insert_user(&mut tx, &user).await?;
                write_effects(&mut tx, effects).await?;
                let record = user_in_tx(&mut tx, user.id).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>> {
                let rows = query(concat!(user_with_roles_select!(), " WHERE u.id = $1"))
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
                user_from_rows(&rows)
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
                let rows = query(concat!(user_with_roles_select!(), " WHERE u.email = $1"))
                    .bind(email)
                    .fetch_all(&self.pool)
                    .await?;
                user_from_rows(&rows)
            }

            async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
                let rows = query(concat!(user_with_roles_select!(), " WHERE u.username = $1"))
                    .bind(username)
                    .fetch_all(&self.pool)
                    .await?;
                user_from_rows(&rows)
            }

            async fn issue_one_time_token(&self, token: NewOneTimeToken, effects: Effects) -> Result<()> {
                let mut tx = begin(self).await?;
                let owner = query("SELECT 1 FROM users WHERE id = $1")
                    .bind(token.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if owner.is_none() {
                    return Err(Error::NotFound("user"));
                }
                // Older unused tokens of the same purpose are superseded: only the newest works.
                query(
                    "UPDATE one_time_tokens SET used_at = $1 \
                     WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
                )
                .bind(ts(token.created_at))
                .bind(token.user_id)
                .bind(token.purpose.as_str())
                .execute(&mut *tx)
                .await?;
                insert_one_time_token(&mut tx, &token).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn one_time_token(
                &self,
                digest: &TokenDigest,
                purpose: TokenPurpose,
            ) -> Result<Option<OneTimeTokenRecord>> {
                let row = query(
                    "SELECT user_id, expires_at, used_at FROM one_time_tokens \
                     WHERE digest = $1 AND purpose = $2",
                )
                .bind(digest.as_str())
                .bind(purpose.as_str())
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| {
                    Ok(OneTimeTokenRecord {
                        user_id: row.try_get("user_id")?,
                        expires_at: from_ts(row.try_get("expires_at")?)?,
                        used_at: opt_from_ts(row.try_get("used_at")?)?,
                    })
                })
                .transpose()
            }

            async fn use_one_time_token(
                &self,
                digest: &TokenDigest,
                purpose: TokenPurpose,
                now: Timestamp,
            ) -> Result<Uuid> {
                let mut tx = begin(self).await?;
                let owner = use_one_time_token(&mut tx, digest, purpose, now).await?;
                tx.commit().await?;
                Ok(owner)
            }

            async fn verify_email(
                &self,
                digest: &TokenDigest,
                now: Timestamp,
                effects: Effects,
            ) -> Result<UserRecord> {
                let mut tx = begin(self).await?;
                let user_id =
                    use_one_time_token(&mut tx, digest, TokenPurpose::EmailVerification, now).await?;
                query("UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                let user = user_in_tx(&mut tx, user_id).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn reset_password(
                &self,
                digest: &TokenDigest,
                change: PasswordChange,
                effects: Effects,
            ) -> Result<UserRecord> {
                let mut tx = begin(self).await?;
                let user_id =
                    use_one_time_token(&mut tx, digest, TokenPurpose::PasswordReset, change.now)
                        .await?;
                record_password(&mut tx, user_id, &change).await?;
                revoke_sessions_in_tx(&mut tx, user_id, change.keep_session, change.now).await?;
                expire_password_tokens(&mut tx, user_id, change.now).await?;
                query(
                    "UPDATE users SET failed_login_attempts = 0, locked_until = NULL WHERE id = $1",
                )
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                write_effects(&mut tx, effects).await?;
                let user = user_in_tx(&mut tx, user_id).await?;
                tx.commit().await?;
                Ok(user)
            }

            async fn password_history(&self, user_id: Uuid, limit: usize) -> Result<Vec<String>> {
                let rows = query(
                    "SELECT password_hash FROM password_history WHERE user_id = $1 \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(user_id)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| r.try_get::<String, _>("password_hash").map_err(Error::from))
                    .collect()
            }

            async fn change_password(
                &self,
                user_id: Uuid,
                change: PasswordChange,
                effects: Effects,
            ) -> Result<u64> {
                let mut tx = begin(self).await?;
                record_password(&mut tx, user_id, &change).await?;
                let revoked =
                    revoke_sessions_in_tx(&mut tx, user_id, change.keep_session, change.now).await?;
                expire_password_tokens(&mut tx, user_id, change.now).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(revoked)
            }
        }
    };
}
pub(crate) use identity_sql;

/// Implements [`LockoutStore`](crate::store::LockoutStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! lockout_sql {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl LockoutStore for $store {
            async fn take_check_turn(
                &self,
                user_id: Uuid,
                now: Timestamp,
                rule: LockoutRule,
                refused: Effects,
            ) -> Result<CheckTurn> {
                let mut tx = begin(self).await?;
                // Counted before the check runs, in the statement that reads the lock, so
                // concurrent checks each see the ones before them. Outside a running lock, a
                // `locked_until` is an expired one and a window older than `lock_for` is over:
                // either starts the count afresh. The right-hand sides read the row as it was
                // (PostgreSQL and SQLite alike).
                let counted: Option<(i32, Option<Timestamp>)> = if RETURNING {
                    query(
                        "UPDATE users SET \
                           failed_login_attempts = CASE WHEN locked_until IS NOT NULL \
                             OR failures_started_at IS NULL OR failures_started_at <= $5 \
                             THEN 1 ELSE failed_login_attempts + 1 END, \
                           failures_started_at = CASE WHEN locked_until IS NOT NULL \
                             OR failures_started_at IS NULL OR failures_started_at <= $5 \
                             THEN $2 ELSE failures_started_at END, \
                           locked_until = CASE WHEN (CASE WHEN locked_until IS NOT NULL \
                             OR failures_started_at IS NULL OR failures_started_at <= $5 \
                             THEN 1 ELSE failed_login_attempts + 1 END) >= $3 THEN $4 ELSE NULL END \
                         WHERE id = $1 AND (locked_until IS NULL OR locked_until <= $2) \
                         RETURNING failed_login_attempts, locked_until",
                    )
                    .bind(user_id)
                    .bind(ts(now))
                    .bind(i32::try_from(rule.max_failures).unwrap_or(i32::MAX))
                    .bind(ts(now + rule.lock_for))
                    .bind(ts(now - rule.lock_for))
                    .fetch_optional(&mut *tx)
                    .await?
                    .map(|row| -> Result<_> {
                        Ok((
                            row.try_get::<i32, _>("failed_login_attempts")?,
                            opt_from_ts(row.try_get("locked_until")?)?,
                        ))
                    })
                    .transpose()?
                } else {
                    // MySQL evaluates SET assignments left to right, each reading the columns
                    // assigned before it, so the statement above would count from half-updated
                    // values: the row is read under its lock and the same rule computed here.
                    let current = query(concat!(
                        "SELECT failed_login_attempts, failures_started_at, locked_until \
                         FROM users WHERE id = $1",
                        " FOR UPDATE"
                    ))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                    match current {
                        None => None,
                        Some(row) => {
                            let attempts: i32 = row.try_get("failed_login_attempts")?;
                            let started = opt_from_ts(row.try_get("failures_started_at")?)?;
                            let locked = opt_from_ts(row.try_get("locked_until")?)?;
                            if locked.is_some_and(|until| until > now) {
                                None
                            } else {
                                let fresh = locked.is_some()
                                    || started.is_none_or(|at| at <= now - rule.lock_for);
                                let attempts = if fresh { 1 } else { attempts.saturating_add(1) };
                                let started = if fresh { now } else { started.unwrap_or(now) };
                                let max = i32::try_from(rule.max_failures).unwrap_or(i32::MAX);
                                let until = (attempts >= max).then(|| now + rule.lock_for);
                                query(
                                    "UPDATE users SET failed_login_attempts = $1, \
                                     failures_started_at = $2, locked_until = $3 WHERE id = $4",
                                )
                                .bind(attempts)
                                .bind(ts(started))
                                .bind(opt_ts(until))
                                .bind(user_id)
                                .execute(&mut *tx)
                                .await?;
                                Some((attempts, until))
                            }
                        }
                    }
                };
                let turn = match counted {
                    Some((attempts, locked_until)) => {
                        let slot = u32::try_from(attempts).unwrap_or_default();
                        match locked_until {
                            // A count already past the limit (left by an older release): this
                            // statement locked the account, and this check must not run.
                            Some(until) if slot > rule.max_failures => CheckTurn::Refused { until },
                            _ => CheckTurn::Granted { slot },
                        }
                    }
                    None => {
                        let row = query("SELECT locked_until FROM users WHERE id = $1")
                            .bind(user_id)
                            .fetch_optional(&mut *tx)
                            .await?
                            .ok_or(Error::NotFound("user"))?;
                        let until = opt_from_ts(row.try_get("locked_until")?)?.unwrap_or(now);
                        CheckTurn::Refused { until }
                    }
                };
                if let CheckTurn::Refused { .. } = turn {
                    write_effects(&mut tx, refused).await?;
                }
                tx.commit().await?;
                Ok(turn)
            }

            async fn record_check_failure(
                &self,
                user_id: Uuid,
                slot: u32,
                now: Timestamp,
                rule: LockoutRule,
                effects: Effects,
                lock_effects: Effects,
            ) -> Result<LoginFailure> {
                let mut tx = begin(self).await?;
                let row = query("SELECT locked_until FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                let locked_until =
                    opt_from_ts(row.try_get("locked_until")?)?.filter(|until| *until > now);
                // The turn that took the last slot started the lock; a success since (a login,
                // a reset) may have ended it, and then there is nothing to announce.
                let newly_locked = slot >= rule.max_failures && locked_until.is_some();
                write_effects(&mut tx, effects).await?;
                if newly_locked {
                    write_effects(&mut tx, lock_effects).await?;
                }
                tx.commit().await?;
                Ok(LoginFailure {
                    attempts: slot,
                    locked_until,
                    newly_locked,
                })
            }

            async fn release_check_turn(
                &self,
                user_id: Uuid,
                slot: u32,
                rule: LockoutRule,
            ) -> Result<()> {
                query(
                    "UPDATE users SET \
                       failed_login_attempts = CASE WHEN failed_login_attempts > 0 \
                         THEN failed_login_attempts - 1 ELSE 0 END, \
                       locked_until = CASE WHEN $2 THEN NULL ELSE locked_until END \
                     WHERE id = $1",
                )
                .bind(user_id)
                .bind(slot >= rule.max_failures)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn claim_challenge_attempt(
                &self,
                digest: &TokenDigest,
                purpose: TokenPurpose,
                now: Timestamp,
                max_attempts: u32,
            ) -> Result<Option<Uuid>> {
                let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
                let row = if RETURNING {
                    query(
                        "UPDATE one_time_tokens SET attempts = attempts + 1 \
                         WHERE digest = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                           AND attempts < $4 \
                         RETURNING user_id",
                    )
                    .bind(digest.as_str())
                    .bind(purpose.as_str())
                    .bind(ts(now))
                    .bind(max_attempts)
                    .fetch_optional(&self.pool)
                    .await?
                } else {
                    // The UPDATE decides (and locks the row until the commit); the owner is
                    // read after it in the same transaction.
                    let mut tx = begin(self).await?;
                    let claimed = query(
                        "UPDATE one_time_tokens SET attempts = attempts + 1 \
                         WHERE digest = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                           AND attempts < $4",
                    )
                    .bind(digest.as_str())
                    .bind(purpose.as_str())
                    .bind(ts(now))
                    .bind(max_attempts)
                    .execute(&mut *tx)
                    .await?;
                    if claimed.rows_affected() == 0 {
                        return Ok(None);
                    }
                    let row = query("SELECT user_id FROM one_time_tokens WHERE digest = $1")
                        .bind(digest.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    row
                };
                row.map(|row| row.try_get("user_id").map_err(Error::from))
                    .transpose()
            }
        }
    };
}
pub(crate) use lockout_sql;
