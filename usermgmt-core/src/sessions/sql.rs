//! The SQL of [`SessionStore`](crate::store::SessionStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `sessions_sql!` after `sql_common!`, whose
//! dialect shim, row mappers and transaction the statements use (see `store/sql.rs`).

/// The columns `refresh_rotation` judges a presented refresh token by: its row and its
/// session's (`rt`, `s`).
macro_rules! rotate_columns {
    () => {
        "rt.session_id, rt.expires_at, rt.rotated_at, s.user_id, \
         s.expires_at AS session_expires_at, s.revoked_at"
    };
}
pub(crate) use rotate_columns;

/// The presented token (`$1`) may rotate: its session is unrevoked and unexpired at `$3`, and it
/// is unexpired and either current or rotated no earlier than `$5` (the grace window's start).
macro_rules! may_rotate {
    () => {
        "s.revoked_at IS NULL AND s.expires_at > $3 AND rt.expires_at > $3 \
         AND (rt.rotated_at IS NULL OR rt.rotated_at >= $5)"
    };
}
pub(crate) use may_rotate;

/// The session of the presented token (`$1`) when the token may rotate (`may_rotate!`).
macro_rules! rotatable_session {
    () => {
        concat!(
            "SELECT rt.session_id FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id \
             WHERE rt.digest = $1 AND ",
            $crate::sessions::sql::may_rotate!()
        )
    };
}
pub(crate) use rotatable_session;

/// The statement reading a session with its user and roles by the session's id (`$1`, or the
/// SQL expression `id`), one row per role (read back by `session_and_user_from_rows`), with
/// `columns` more columns (each starting with a comma) and `joins` more joins (each meeting at
/// most one row, so still one row per role): `session_with_user`, the profile read, and the
/// refresh's read of the active organization (`organizations/sql.rs`).
macro_rules! session_and_user_by_id {
    (columns: [$($columns:tt)*], joins: [$($joins:tt)*]) => {
        $crate::sessions::sql::session_and_user_by_id!(
            columns: [$($columns)*], joins: [$($joins)*], id: ["$1"]
        )
    };
    (columns: [$($columns:tt)*], joins: [$($joins:tt)*], id: [$($id:tt)*]) => {
        concat!(
            "SELECT ",
            session_columns_s!(),
            ", ",
            user_columns_u!(),
            ", r.name AS role_name",
            $($columns)*,
            " FROM sessions s JOIN users u ON u.id = s.user_id",
            $($joins)*,
            roles_of_u_join!(),
            "WHERE s.id = ",
            $($id)*
        )
    };
}
pub(crate) use session_and_user_by_id;

/// How a dialect rotates a refresh token in as few trips to the database as it can (each
/// dialect's `ROTATION` constant, beside its `RETURNING`).
#[cfg_attr(
    not(all(feature = "postgres", feature = "sqlite", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) enum Rotation {
    /// `rotate_in_one_statement!`: PostgreSQL's data-modifying CTEs.
    OneStatement,
    /// `rotate_in_one_batch!`, its transaction included: SQLite.
    OneBatch,
    /// A read and three writes in one transaction: MySQL (no data-modifying CTE, one statement
    /// per prepared statement).
    InSteps,
}

/// The presented token (`$1`) and its session, as `refresh_rotation` reads them.
pub(crate) const ROTATE_READ: &str = concat!(
    "SELECT ",
    rotate_columns!(),
    " FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.digest = $1"
);

/// PostgreSQL's rotation in one statement, ending in `select` (which reads the CTEs `presented`
/// and `extended`). `$1` presented digest, `$2` next digest, `$3` now, `$4` new expiry, `$5`
/// start of the grace window. `presented` is the presented token's row as it was
/// (`ROTATE_READ`'s columns, and `may_rotate`); `extended` the session's row as the rotation
/// left it, present when the session's expiry moved, the new token was stored and the presented
/// one marked rotated. The session's `UPDATE` re-checks `revoked_at` on the row it locks, so a
/// revocation committed meanwhile stops all three. Used by the refresh's statement
/// (`organizations/sql.rs`), whose `select` also reads the session's user and organization.
macro_rules! rotate_in_one_statement {
    (select: [$($select:expr),* $(,)?]) => {
        concat!(
            "WITH presented AS (SELECT ",
            $crate::sessions::sql::rotate_columns!(),
            ", ",
            $crate::sessions::sql::may_rotate!(),
            " AS may_rotate \
             FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.digest = $1), \
             extended AS (UPDATE sessions SET expires_at = $4, last_activity_at = $3 \
             WHERE id = (SELECT session_id FROM presented WHERE may_rotate) AND revoked_at IS NULL \
             RETURNING *), \
             issued AS (INSERT INTO refresh_tokens (digest, session_id, created_at, expires_at) \
             SELECT $2, id, $3, $4 FROM extended), \
             marked AS (UPDATE refresh_tokens SET rotated_at = $3 \
             WHERE digest = $1 AND rotated_at IS NULL AND EXISTS (SELECT 1 FROM extended)) ",
            $($select),*
        )
    };
}
pub(crate) use rotate_in_one_statement;

/// SQLite's rotation as one batch of statements, its transaction included (one hand-off to the
/// connection's thread, run by `LeasePool::transaction_in_one_batch`): `BEGIN IMMEDIATE`, then
/// `ROTATE_READ`, then the three writes, each under `may_rotate!`'s condition (which the
/// session's new expiry keeps true: it moves to `$4`, after `$3`), then `then` (statements, each
/// ending in `; `), then `COMMIT`. Under the write lock the read and the writes' conditions see
/// the same state, so the writes happen exactly when the read row is one `refresh_rotation`
/// calls rotated. The session's `UPDATE` answers a row of its own (`extended`) when it happened.
/// Parameters as `rotate_in_one_statement!`'s. Used by the refresh's batch
/// (`organizations/sql.rs`), whose `then` reads the session's user and organization.
macro_rules! rotate_in_one_batch {
    (then: [$($then:expr),* $(,)?]) => {
        concat!(
            "BEGIN IMMEDIATE; SELECT ",
            $crate::sessions::sql::rotate_columns!(),
            " FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id WHERE rt.digest = $1; \
             UPDATE sessions SET expires_at = $4, last_activity_at = $3 WHERE id = (",
            $crate::sessions::sql::rotatable_session!(),
            ") RETURNING 1 AS extended; \
             INSERT INTO refresh_tokens (digest, session_id, created_at, expires_at) \
             SELECT $2, id, $3, $4 FROM sessions WHERE id = (",
            $crate::sessions::sql::rotatable_session!(),
            "); UPDATE refresh_tokens SET rotated_at = $3 \
             WHERE digest = $1 AND rotated_at IS NULL AND session_id = (",
            $crate::sessions::sql::rotatable_session!(),
            "); ",
            $($then,)*
            "COMMIT"
        )
    };
}
pub(crate) use rotate_in_one_batch;

/// Implements [`SessionStore`](crate::store::SessionStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! sessions_sql {
    ($store:ty) => {
        /// The session and its user from the rows of a `sessions JOIN users LEFT JOIN roles`
        /// read (`s_*` session columns, one row per role in `role_name`, NULL when none).
        fn session_and_user_from_rows(
            rows: &[DbRow],
        ) -> Result<Option<(SessionRecord, UserRecord)>> {
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            Ok(Some((
                session_from_columns(first, &crate::store::sql::SESSION_COLUMNS_S)?,
                user_from_row(first, roles_from_rows(rows)?)?,
            )))
        }

        /// What presenting a refresh token comes to, judged on its row and its session's as
        /// they were before the rotation (the columns of `ROTATE_READ`).
        fn refresh_rotation(row: &DbRow, now: Timestamp, grace: Duration) -> Result<RefreshRotation> {
            let session_id: Uuid = row.try_get("session_id")?;
            let user_id: Uuid = row.try_get("user_id")?;
            let token_expires = from_ts(row.try_get("expires_at")?)?;
            let session_expires = from_ts(row.try_get("session_expires_at")?)?;
            let revoked = opt_from_ts(row.try_get("revoked_at")?)?;
            if revoked.is_some() || session_expires <= now || token_expires <= now {
                return Ok(RefreshRotation::Invalid);
            }
            Ok(match opt_from_ts(row.try_get("rotated_at")?)? {
                Some(rotated) if now - rotated > grace => RefreshRotation::Reused {
                    session_id,
                    user_id,
                },
                // Current, or rotated moments ago by a concurrent client: it gets a pair of its
                // own.
                _ => RefreshRotation::Rotated {
                    session_id,
                    user_id,
                },
            })
        }

        /// What presenting a refresh token came to, from its row as read before the rotation
        /// and whether the rotation's writes happened (`extended`): the writes' own conditions
        /// decided, the row says why not.
        fn rotation_as_written(
            row: &DbRow,
            extended: bool,
            now: Timestamp,
            grace: Duration,
        ) -> Result<RefreshRotation> {
            Ok(match refresh_rotation(row, now, grace)? {
                RefreshRotation::Reused { .. } | RefreshRotation::Invalid if extended => {
                    RefreshRotation::Rotated {
                        session_id: row.try_get("session_id")?,
                        user_id: row.try_get("user_id")?,
                    }
                }
                RefreshRotation::Rotated { .. } if !extended => RefreshRotation::Invalid,
                judged => judged,
            })
        }

        /// The rotation as separate statements in one transaction: MySQL, which has no
        /// data-modifying CTE and whose prepared statements are one statement each.
        async fn rotate_in_steps(
            store: &$store,
            presented: &TokenDigest,
            next: &TokenDigest,
            now: Timestamp,
            expires_at: Timestamp,
            grace: Duration,
        ) -> Result<RefreshRotation> {
            let mut tx = begin(store).await?;
            let Some(row) = query(crate::sessions::sql::ROTATE_READ)
            .bind(presented.as_str())
            .fetch_optional(&mut *tx)
            .await?
            else {
                return Ok(RefreshRotation::Invalid);
            };
            let rotation = refresh_rotation(&row, now, grace)?;
            let RefreshRotation::Rotated { session_id, .. } = rotation else {
                return Ok(rotation);
            };
            // Losing this race means another request rotated it just now: the grace case.
            query(
                "UPDATE refresh_tokens SET rotated_at = $1 \
                 WHERE digest = $2 AND rotated_at IS NULL",
            )
            .bind(ts(now))
            .bind(presented.as_str())
            .execute(&mut *tx)
            .await?;
            let extended = query(
                "UPDATE sessions SET expires_at = $1, last_activity_at = $2 \
                 WHERE id = $3 AND revoked_at IS NULL",
            )
            .bind(ts(expires_at))
            .bind(ts(now))
            .bind(session_id)
            .execute(&mut *tx)
            .await?;
            if extended.rows_affected() == 0 {
                // Revoked between our read and this write.
                return Ok(RefreshRotation::Invalid);
            }
            query(
                "INSERT INTO refresh_tokens (digest, session_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(next.as_str())
            .bind(session_id)
            .bind(ts(now))
            .bind(ts(expires_at))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(rotation)
        }

        #[async_trait::async_trait]
        impl SessionStore for $store {
            async fn start_session(
                &self,
                session: NewSession,
                rehash: Option<String>,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                // The passed check's turn goes back in this statement (as `release_check_turn`
                // does), so a login commits twice, not three times. No assignment reads a column
                // another assigns (MySQL evaluates them left to right).
                let updated = query(
                    "UPDATE users SET last_login_at = $1, \
                     password_hash = COALESCE($2, password_hash), \
                     failed_login_attempts = CASE WHEN $4 AND failed_login_attempts > 0 \
                       THEN failed_login_attempts - 1 ELSE failed_login_attempts END, \
                     locked_until = CASE WHEN $5 THEN NULL ELSE locked_until END \
                     WHERE id = $3",
                )
                .bind(ts(session.created_at))
                .bind(rehash)
                .bind(session.user_id)
                .bind(session.passed_check.is_some())
                .bind(session.passed_check.is_some_and(|check| check.ends_lock))
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Err(Error::NotFound("user"));
                }
                query(
                    "INSERT INTO sessions (id, user_id, device_info, ip_address, user_agent, \
                     created_at, last_activity_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
                )
                .bind(session.id)
                .bind(session.user_id)
                .bind(Json(&session.device_info))
                .bind(&session.ip_address)
                .bind(&session.user_agent)
                .bind(ts(session.created_at))
                .bind(ts(session.expires_at))
                .execute(&mut *tx)
                .await?;
                query(
                    "INSERT INTO refresh_tokens (digest, session_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(session.refresh_digest.as_str())
                .bind(session.id)
                .bind(ts(session.created_at))
                .bind(ts(session.expires_at))
                .execute(&mut *tx)
                .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn client_seen_before(
                &self,
                user_id: Uuid,
                ip_address: Option<&str>,
                user_agent: Option<&str>,
            ) -> Result<Option<bool>> {
                // Two index probes (`sessions_user_client_idx`, same expressions), not a count
                // of the user's sessions. COALESCE: NULL-safe equality both dialects share.
                let row = query(
                    "SELECT EXISTS (SELECT 1 FROM sessions WHERE user_id = $1) AS seen_any, \
                     EXISTS (SELECT 1 FROM sessions WHERE user_id = $1 \
                     AND COALESCE(ip_address, '') = COALESCE($2, '') \
                     AND COALESCE(user_agent, '') = COALESCE($3, '')) AS seen_client",
                )
                .bind(user_id)
                .bind(ip_address)
                .bind(user_agent)
                .fetch_one(&self.pool)
                .await?;
                let seen_any: bool = row.try_get("seen_any")?;
                let seen_client: bool = row.try_get("seen_client")?;
                Ok(seen_any.then_some(seen_client))
            }

            async fn session_with_user(
                &self,
                session_id: Uuid,
            ) -> Result<Option<(SessionRecord, UserRecord)>> {
                // One statement on every authenticated request (it was three: session, user,
                // roles): one row per role of the user, or one with a NULL role.
                let rows = query($crate::sessions::sql::session_and_user_by_id!(
                    columns: [""],
                    joins: [""]
                ))
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
                session_and_user_from_rows(&rows)
            }

            async fn session_with_user_and_profile(
                &self,
                session_id: Uuid,
            ) -> Result<Option<(SessionRecord, UserRecord, ProfileRecord)>> {
                // `session_with_user`'s statement with the profile joined (its columns do not
                // collide with the user's): `GET /users/profile` in one round trip, not two.
                let rows = query($crate::sessions::sql::session_and_user_by_id!(
                    columns: [", p.user_id AS p_user_id, ", profile_columns_p!()],
                    joins: [" LEFT JOIN user_profiles p ON p.user_id = u.id"]
                ))
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
                let Some((session, user)) = session_and_user_from_rows(&rows)? else {
                    return Ok(None);
                };
                let profile = match rows[0].try_get::<Option<Uuid>, _>("p_user_id")? {
                    Some(_) => profile_from_row(&rows[0])?,
                    None => ProfileRecord::default(),
                };
                Ok(Some((session, user, profile)))
            }

            async fn touch_session(&self, session_id: Uuid, now: Timestamp) -> Result<()> {
                query("UPDATE sessions SET last_activity_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(session_id)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn rotate_refresh_token(
                &self,
                presented: &TokenDigest,
                next: &TokenDigest,
                now: Timestamp,
                expires_at: Timestamp,
                grace: Duration,
            ) -> Result<RefreshRotation> {
                match ROTATION {
                    // One rotation in SQL per dialect: the refresh's, which reads the session's
                    // user and organization in the same trip (organizations/sql.rs).
                    crate::sessions::sql::Rotation::OneStatement
                    | crate::sessions::sql::Rotation::OneBatch => {
                        let (rotation, _) = OrgStore::rotate_refresh_token_in_org(
                            self, presented, next, now, expires_at, grace,
                        )
                        .await?;
                        Ok(rotation)
                    }
                    crate::sessions::sql::Rotation::InSteps => {
                        rotate_in_steps(self, presented, next, now, expires_at, grace).await
                    }
                }
            }

            async fn revoke_session(
                &self,
                user_id: Uuid,
                session_id: Uuid,
                now: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let done = query(
                    "UPDATE sessions SET revoked_at = $1 \
                     WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $1",
                )
                .bind(ts(now))
                .bind(session_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, done.rows_affected(), effects).await
            }

            async fn revoke_sessions(
                &self,
                user_id: Uuid,
                except: Option<Uuid>,
                now: Timestamp,
                effects: Effects,
            ) -> Result<u64> {
                let mut tx = begin(self).await?;
                let revoked = revoke_sessions_in_tx(&mut tx, user_id, except, now).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(revoked)
            }

            async fn list_sessions(&self, user_id: Uuid, now: Timestamp) -> Result<Vec<SessionRecord>> {
                let rows = query(concat!(
                    "SELECT ",
                    session_columns!(),
                    " FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                     ORDER BY created_at DESC, id DESC"
                ))
                .bind(user_id)
                .bind(ts(now))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(session_from_row).collect()
            }
        }
    };
}
pub(crate) use sessions_sql;
