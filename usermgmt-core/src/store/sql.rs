//! The one SQL implementation of [`Store`](super::Store), instantiated for each dialect.
//!
//! PostgreSQL and SQLite take the same statements here (`$n` parameters, `RETURNING`,
//! conditional `UPDATE`s instead of row locks), so the logic is written once. What differs is
//! supplied by the module that invokes [`impl_sql_store!`]:
//!
//! - `type Db` (the sqlx database) and `type Ts` (how a time is stored: `timestamptz` in
//!   PostgreSQL, integer microseconds in SQLite, whose text timestamps do not sort);
//! - `fn ts(Timestamp) -> Ts` and `fn from_ts(Ts) -> Result<Timestamp>`;
//! - `type DbTx` and `async fn begin_db(&Store) -> Result<DbTx>`, a write transaction that
//!   derefs to the connection and has `commit` (SQLite's writers take their turn in the store,
//!   in order, and then the write lock up front with `BEGIN IMMEDIATE`, so two writers never
//!   deadlock on a lock upgrade). The methods take it wrapped in `Tx`, which publishes the
//!   audit rows written in it on the store's `events` bus once it committed.
//!
//! Concurrency rule of every method: the decisive check and the change are one conditional
//! `UPDATE` (`... WHERE used_at IS NULL`, `... WHERE rotated_at IS NULL`), so two instances racing
//! on one database cannot both win, under PostgreSQL's READ COMMITTED as under SQLite's single
//! writer.

/// The selected columns of a user, in [`impl_sql_store!`]'s `user_from_row` order.
macro_rules! user_columns {
    () => {
        "id, email, username, password_hash, first_name, last_name, avatar, email_verified, \
         is_active, is_suspended, two_factor_enabled, failed_login_attempts, locked_until, \
         deleted_at, created_at, updated_at, last_login_at"
    };
}

/// [`user_columns!`] of the `users` table aliased `u`, for joins (the result columns keep the
/// plain names `user_from_row` reads).
macro_rules! user_columns_u {
    () => {
        "u.id, u.email, u.username, u.password_hash, u.first_name, u.last_name, u.avatar, \
         u.email_verified, u.is_active, u.is_suspended, u.two_factor_enabled, \
         u.failed_login_attempts, u.locked_until, u.deleted_at, u.created_at, u.updated_at, \
         u.last_login_at"
    };
}

/// The roles of the user aliased `u`, as `r.name` (one row per role, one with NULL when none):
/// every read of a user takes them in its own statement.
macro_rules! roles_of_u_join {
    () => {
        " LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles r ON r.id = ur.role_id "
    };
}

/// A user with their roles in one statement, one row per role (read by `user_from_rows`); the
/// caller appends `WHERE u.… = $1` (`roles_from_rows` sorts the roles). One trip to the pool
/// instead of two: each trip also costs sqlx's liveness checks of the connection.
macro_rules! user_with_roles_select {
    () => {
        concat!(
            "SELECT ",
            user_columns_u!(),
            ", r.name AS role_name FROM users u",
            roles_of_u_join!()
        )
    };
}

/// [`session_columns!`] of the `sessions` table aliased `s`, renamed `s_*` so they do not
/// collide with a joined user's columns (read with [`SESSION_COLUMNS_S`]).
macro_rules! session_columns_s {
    () => {
        "s.id AS s_id, s.user_id AS s_user_id, s.device_info AS s_device_info, \
         s.ip_address AS s_ip_address, s.user_agent AS s_user_agent, \
         s.created_at AS s_created_at, s.last_activity_at AS s_last_activity_at, \
         s.expires_at AS s_expires_at, s.revoked_at AS s_revoked_at"
    };
}

macro_rules! session_columns {
    () => {
        "id, user_id, device_info, ip_address, user_agent, created_at, last_activity_at, \
         expires_at, revoked_at"
    };
}

/// The result-column names a session is read under, made at compile time by
/// [`session_column_names!`], not with `format!` per read: the session is read on every
/// authenticated request, and nine allocations a read showed in its profile.
pub(crate) struct SessionColumnNames {
    pub(crate) id: &'static str,
    pub(crate) user_id: &'static str,
    pub(crate) device_info: &'static str,
    pub(crate) ip_address: &'static str,
    pub(crate) user_agent: &'static str,
    pub(crate) created_at: &'static str,
    pub(crate) last_activity_at: &'static str,
    pub(crate) expires_at: &'static str,
    pub(crate) revoked_at: &'static str,
}

/// [`SessionColumnNames`] with `$prefix` before each of [`session_columns!`].
macro_rules! session_column_names {
    ($prefix:literal) => {
        SessionColumnNames {
            id: concat!($prefix, "id"),
            user_id: concat!($prefix, "user_id"),
            device_info: concat!($prefix, "device_info"),
            ip_address: concat!($prefix, "ip_address"),
            user_agent: concat!($prefix, "user_agent"),
            created_at: concat!($prefix, "created_at"),
            last_activity_at: concat!($prefix, "last_activity_at"),
            expires_at: concat!($prefix, "expires_at"),
            revoked_at: concat!($prefix, "revoked_at"),
        }
    };
}

/// [`session_columns!`] as they are.
pub(crate) const SESSION_COLUMNS: SessionColumnNames = session_column_names!("");

/// [`session_columns_s!`]: the same columns renamed `s_*`.
pub(crate) const SESSION_COLUMNS_S: SessionColumnNames = session_column_names!("s_");

macro_rules! profile_columns {
    () => {
        "bio, phone, date_of_birth, address, city, country, timezone, language, preferences"
    };
}

/// [`profile_columns!`] of the `user_profiles` table aliased `p`, under their own names (no user
/// or session column shares one), read by `profile_from_row`.
macro_rules! profile_columns_p {
    () => {
        "p.bio, p.phone, p.date_of_birth, p.address, p.city, p.country, p.timezone, p.language, \
         p.preferences"
    };
}

macro_rules! audit_columns {
    () => {
        "id, action, actor_id, user_id, resource, resource_id, ip_address, user_agent, details, \
         created_at"
    };
}

/// The text a user search matches against: email, username and names, space-separated (so
/// "anna smith" finds first and last name together).
macro_rules! search_text {
    () => {
        "email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')"
    };
}

/// Implements [`Store`](crate::store::Store) for `$store`, a struct with a `pool: Pool<Db>` field
/// and an `events: EventBus` field.
macro_rules! impl_sql_store {
    ($store:ty) => {
        use $crate::domain::DeviceInfo;
        use $crate::error::{ConflictKind, Error, Result};
        use $crate::secret::TokenDigest;
        use $crate::store::*;
        use sqlx::types::Json;
        use sqlx::Row as _;
        use time::Duration;
        use uuid::Uuid;

        type DbRow = <Db as sqlx::Database>::Row;
        const SEARCH_TEXT: &str = search_text!();

        fn opt_ts(t: Option<Timestamp>) -> Option<Ts> {
            t.map(ts)
        }

        fn opt_from_ts(t: Option<Ts>) -> Result<Option<Timestamp>> {
            t.map(from_ts).transpose()
        }

        fn count(n: i64) -> u64 {
            u64::try_from(n).unwrap_or_default()
        }

        fn user_from_row(row: &DbRow, roles: Vec<String>) -> Result<UserRecord> {
            Ok(UserRecord {
                id: row.try_get("id")?,
                email: row.try_get("email")?,
                username: row.try_get("username")?,
                password_hash: row.try_get("password_hash")?,
                first_name: row.try_get("first_name")?,
                last_name: row.try_get("last_name")?,
                avatar: row.try_get("avatar")?,
                email_verified: row.try_get("email_verified")?,
                is_active: row.try_get("is_active")?,
                is_suspended: row.try_get("is_suspended")?,
                two_factor_enabled: row.try_get("two_factor_enabled")?,
                failed_login_attempts: u32::try_from(
                    row.try_get::<i32, _>("failed_login_attempts")?,
                )
                .unwrap_or_default(),
                locked_until: opt_from_ts(row.try_get("locked_until")?)?,
                deleted_at: opt_from_ts(row.try_get("deleted_at")?)?,
                created_at: from_ts(row.try_get("created_at")?)?,
                updated_at: from_ts(row.try_get("updated_at")?)?,
                last_login_at: opt_from_ts(row.try_get("last_login_at")?)?,
                roles,
            })
        }

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

        /// The user of [`user_with_roles_select!`]'s rows (one per role, or one with a NULL role).
        fn user_from_rows(rows: &[DbRow]) -> Result<Option<UserRecord>> {
            match rows.first() {
                Some(first) => Ok(Some(user_from_row(first, roles_from_rows(rows)?)?)),
                None => Ok(None),
            }
        }

        /// The `role_name` column of a user joined with their roles, in byte order (the memory
        /// store's order; sorted here rather than by `ORDER BY r.name`, which costs every user
        /// read a sort step in the database and would follow the database's collation).
        fn roles_from_rows(rows: &[DbRow]) -> Result<Vec<String>> {
            let mut roles = Vec::with_capacity(rows.len());
            for row in rows {
                if let Some(role) = row.try_get::<Option<String>, _>("role_name")? {
                    roles.push(role);
                }
            }
            roles.sort_unstable();
            Ok(roles)
        }

        fn session_from_row(row: &DbRow) -> Result<SessionRecord> {
            session_from_columns(row, &crate::store::sql::SESSION_COLUMNS)
        }

        /// A session read under the column names `names` gives (the `s_` ones in joins).
        fn session_from_columns(
            row: &DbRow,
            names: &crate::store::sql::SessionColumnNames,
        ) -> Result<SessionRecord> {
            let Json(device_info): Json<DeviceInfo> = row.try_get(names.device_info)?;
            Ok(SessionRecord {
                id: row.try_get(names.id)?,
                user_id: row.try_get(names.user_id)?,
                device_info,
                ip_address: row.try_get(names.ip_address)?,
                user_agent: row.try_get(names.user_agent)?,
                created_at: from_ts(row.try_get(names.created_at)?)?,
                last_activity_at: from_ts(row.try_get(names.last_activity_at)?)?,
                expires_at: from_ts(row.try_get(names.expires_at)?)?,
                revoked_at: opt_from_ts(row.try_get(names.revoked_at)?)?,
            })
        }

        fn profile_from_row(row: &DbRow) -> Result<ProfileRecord> {
            let Json(preferences): Json<serde_json::Value> = row.try_get("preferences")?;
            Ok(ProfileRecord {
                bio: row.try_get("bio")?,
                phone: row.try_get("phone")?,
                date_of_birth: row.try_get("date_of_birth")?,
                address: row.try_get("address")?,
                city: row.try_get("city")?,
                country: row.try_get("country")?,
                timezone: row.try_get("timezone")?,
                language: row.try_get("language")?,
                preferences,
            })
        }

        fn audit_from_row(row: &DbRow) -> Result<AuditEvent> {
            let Json(details): Json<serde_json::Value> = row.try_get("details")?;
            Ok(AuditEvent {
                id: row.try_get("id")?,
                action: row.try_get("action")?,
                actor_id: row.try_get("actor_id")?,
                user_id: row.try_get("user_id")?,
                resource: row.try_get("resource")?,
                resource_id: row.try_get("resource_id")?,
                ip_address: row.try_get("ip_address")?,
                user_agent: row.try_get("user_agent")?,
                details,
                created_at: from_ts(row.try_get("created_at")?)?,
            })
        }

        fn notification_from_row(row: &DbRow) -> Result<NotificationRecord> {
            let Json(data): Json<serde_json::Value> = row.try_get("data")?;
            Ok(NotificationRecord {
                id: row.try_get("id")?,
                user_id: row.try_get("user_id")?,
                kind: row.try_get("type")?,
                title: row.try_get("title")?,
                message: row.try_get("message")?,
                data,
                read_at: opt_from_ts(row.try_get("read_at")?)?,
                created_at: from_ts(row.try_get("created_at")?)?,
            })
        }

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

        /// A write transaction: the dialect's (`DbTx`, which derefs to the connection), and
        /// the audit rows [`write_effects`] wrote in it, published on the store's
        /// [`EventBus`] once [`Tx::commit`] succeeded. Dropped without commit, it rolls back
        /// and publishes nothing.
        struct Tx {
            db: DbTx,
            events: EventBus,
            written: Vec<AuditEvent>,
        }

        impl Tx {
            /// Commits, then publishes the audit rows written in the transaction.
            async fn commit(self) -> std::result::Result<(), sqlx::Error> {
                let Tx { db, events, written } = self;
                db.commit().await?;
                events.publish(written);
                Ok(())
            }

            /// The published copies of the rows written so far name `user_id` as the user
            /// they concern, while the stored rows do not: a permanent deletion's row keeps no
            /// trace of the person, but the host app still has to learn whose data to drop.
            fn name_user_in_published(&mut self, user_id: Uuid) {
                for event in &mut self.written {
                    event.user_id = Some(user_id);
                }
            }
        }

        impl std::ops::Deref for Tx {
            type Target = <Db as sqlx::Database>::Connection;
            fn deref(&self) -> &Self::Target {
                &self.db
            }
        }

        impl std::ops::DerefMut for Tx {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.db
            }
        }

        async fn begin(store: &$store) -> Result<Tx> {
            Ok(Tx {
                db: begin_db(store).await?,
                events: store.events.clone(),
                written: Vec::new(),
            })
        }

        /// Writes the audit rows and outbox mail of a change, inside its transaction; the
        /// audit rows are published when it commits (see [`Tx`]).
        async fn write_effects(tx: &mut Tx, effects: Effects) -> Result<()> {
            for event in effects.audit {
                sqlx::query(
                    "INSERT INTO audit_logs (id, action, actor_id, user_id, resource, \
                     resource_id, ip_address, user_agent, details, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(event.id)
                .bind(&event.action)
                .bind(event.actor_id)
                .bind(event.user_id)
                .bind(&event.resource)
                .bind(&event.resource_id)
                .bind(&event.ip_address)
                .bind(&event.user_agent)
                .bind(Json(&event.details))
                .bind(ts(event.created_at))
                .execute(&mut **tx)
                .await?;
                tx.written.push(event);
            }
            for n in effects.notifications {
                sqlx::query(
                    "INSERT INTO notifications (id, user_id, type, title, message, data, \
                     read_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(n.id)
                .bind(n.user_id)
                .bind(n.kind)
                .bind(n.title)
                .bind(n.message)
                .bind(Json(n.data))
                .bind(opt_ts(n.read_at))
                .bind(ts(n.created_at))
                .execute(&mut **tx)
                .await?;
            }
            for mail in effects.mail {
                sqlx::query(
                    "INSERT INTO mail_outbox (id, recipient, kind, sealed_payload, status, \
                     attempts, next_attempt_at, created_at) \
                     VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)",
                )
                .bind(mail.id)
                .bind(mail.recipient)
                .bind(mail.kind)
                .bind(mail.sealed_payload)
                .bind(i32::try_from(mail.attempts).unwrap_or(i32::MAX))
                .bind(ts(mail.next_attempt_at))
                .bind(ts(mail.created_at))
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        async fn user_in_tx(tx: &mut Tx, user_id: Uuid) -> Result<UserRecord> {
            let rows = sqlx::query(concat!(user_with_roles_select!(), " WHERE u.id = $1"))
                .bind(user_id)
                .fetch_all(&mut **tx)
                .await?;
            user_from_rows(&rows)?.ok_or(Error::NotFound("user"))
        }

        async fn insert_one_time_token(tx: &mut Tx, token: &NewOneTimeToken) -> Result<()> {
            sqlx::query(
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
            let row = sqlx::query(
                "UPDATE one_time_tokens SET used_at = $1 \
                 WHERE digest = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
                 RETURNING user_id",
            )
            .bind(ts(now))
            .bind(digest.as_str())
            .bind(purpose.as_str())
            .fetch_optional(&mut **tx)
            .await?
            .ok_or(Error::InvalidOneTimeToken)?;
            Ok(row.try_get("user_id")?)
        }

        /// Ends the user's outstanding password-reset links and login challenges: a password
        /// change, a reset, and every change that locks the owner out leave none behind (a
        /// link mailed before a change must not undo it).
        async fn expire_password_tokens(tx: &mut Tx, user_id: Uuid, now: Timestamp) -> Result<()> {
            sqlx::query(
                "UPDATE one_time_tokens SET used_at = $1 \
                 WHERE user_id = $2 AND used_at IS NULL AND purpose IN ($3, $4)",
            )
            .bind(ts(now))
            .bind(user_id)
            .bind(TokenPurpose::PasswordReset.as_str())
            .bind(TokenPurpose::LoginChallenge.as_str())
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Deletes a finished message whose recipient no account holds any longer: a purged
        /// account's address stays only while its last notice waits to be sent.
        async fn delete_mail_to_nobody(tx: &mut Tx, id: Uuid) -> Result<()> {
            sqlx::query(
                "DELETE FROM mail_outbox WHERE id = $1 AND status <> 'pending' \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE users.email = mail_outbox.recipient)",
            )
            .bind(id)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        /// Sets the password and keeps the newest `history_limit` hashes of history.
        async fn record_password(tx: &mut Tx, user_id: Uuid, change: &PasswordChange) -> Result<()> {
            let updated = sqlx::query(
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
            sqlx::query(
                "INSERT INTO password_history (user_id, password_hash, created_at) \
                 VALUES ($1, $2, $3)",
            )
            .bind(user_id)
            .bind(&change.new_hash)
            .bind(ts(change.now))
            .execute(&mut **tx)
            .await?;
            let keep = i64::try_from(change.history_limit.max(1)).unwrap_or(i64::MAX);
            sqlx::query(
                "DELETE FROM password_history WHERE user_id = $1 AND id NOT IN \
                 (SELECT id FROM password_history WHERE user_id = $1 ORDER BY id DESC LIMIT $2)",
            )
            .bind(user_id)
            .bind(keep)
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        async fn store_backup_codes(
            tx: &mut Tx,
            user_id: Uuid,
            codes: Vec<TokenDigest>,
            now: Timestamp,
        ) -> Result<()> {
            sqlx::query("DELETE FROM backup_codes WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            for code in codes {
                sqlx::query(
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

        async fn ensure_user(tx: &mut Tx, user_id: Uuid) -> Result<()> {
            sqlx::query("SELECT 1 FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?
                .map(|_| ())
                .ok_or(Error::NotFound("user"))
        }

        async fn set_two_factor_flag(tx: &mut Tx, user_id: Uuid, on: bool, now: Timestamp) -> Result<()> {
            sqlx::query("UPDATE users SET two_factor_enabled = $1, updated_at = $2 WHERE id = $3")
                .bind(on)
                .bind(ts(now))
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            Ok(())
        }

        async fn revoke_sessions_in_tx(
            tx: &mut Tx,
            user_id: Uuid,
            except: Option<Uuid>,
            now: Timestamp,
        ) -> Result<u64> {
            let done = sqlx::query(
                "UPDATE sessions SET revoked_at = $1 \
                 WHERE user_id = $2 AND revoked_at IS NULL AND expires_at > $1 \
                 AND ($3 IS NULL OR id <> $3)",
            )
            .bind(ts(now))
            .bind(user_id)
            .bind(except)
            .execute(&mut **tx)
            .await?;
            Ok(done.rows_affected())
        }

        fn role_from_row(row: &DbRow, permissions: Vec<String>) -> Result<RoleRecord> {
            Ok(RoleRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                description: row.try_get("description")?,
                is_system: row.try_get("is_system")?,
                permissions,
                user_count: count(row.try_get::<i64, _>("user_count")?),
                created_at: from_ts(row.try_get("created_at")?)?,
                updated_at: from_ts(row.try_get("updated_at")?)?,
            })
        }

        /// Roles (all, or the one with `id`), with permissions and user counts.
        async fn load_roles(
            conn: &mut <Db as sqlx::Database>::Connection,
            id: Option<Uuid>,
        ) -> Result<Vec<RoleRecord>> {
            let rows = sqlx::query(
                "SELECT r.id, r.name, r.description, r.is_system, r.created_at, r.updated_at, \
                 (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS user_count \
                 FROM roles r WHERE ($1 IS NULL OR r.id = $1) ORDER BY r.name",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            let grants = sqlx::query(
                "SELECT role_id, permission FROM role_permissions \
                 WHERE ($1 IS NULL OR role_id = $1) ORDER BY permission",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            rows.iter()
                .map(|row| {
                    let role_id: Uuid = row.try_get("id")?;
                    let mut permissions = Vec::new();
                    for grant in &grants {
                        if grant.try_get::<Uuid, _>("role_id")? == role_id {
                            permissions.push(grant.try_get::<String, _>("permission")?);
                        }
                    }
                    role_from_row(row, permissions)
                })
                .collect()
        }

        async fn role_in_tx(tx: &mut Tx, id: Uuid) -> Result<RoleRecord> {
            load_roles(&mut **tx, Some(id))
                .await?
                .pop()
                .ok_or(Error::NotFound("role"))
        }

        async fn grant_permissions(tx: &mut Tx, role_id: Uuid, permissions: &[String]) -> Result<()> {
            sqlx::query("DELETE FROM role_permissions WHERE role_id = $1")
                .bind(role_id)
                .execute(&mut **tx)
                .await?;
            for permission in permissions {
                sqlx::query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
                    .bind(role_id)
                    .bind(permission)
                    .execute(&mut **tx)
                    .await?;
            }
            Ok(())
        }

        /// Takes the user's row lock until the transaction ends (a no-op under SQLite, whose
        /// `BEGIN IMMEDIATE` already serialises writers). `NotFound("user")` when unknown.
        async fn lock_user(tx: &mut Tx, user_id: Uuid) -> Result<()> {
            // Safe: both parts are constants.
            let sql = format!("SELECT id FROM users WHERE id = $1{LOCK_ROW}");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?
                .map(|_| ())
                .ok_or(Error::NotFound("user"))
        }

        /// Adds the WHERE clause of a user search (shared by the page and the count).
        fn push_search_filters(qb: &mut sqlx::QueryBuilder<Db>, search: &UserSearch) {
            qb.push(" WHERE ");
            qb.push(match search.status {
                None => "deleted_at IS NULL",
                Some(UserStatus::Active) => {
                    "deleted_at IS NULL AND is_active = TRUE AND is_suspended = FALSE"
                }
                Some(UserStatus::Inactive) => "deleted_at IS NULL AND is_active = FALSE",
                Some(UserStatus::Suspended) => "deleted_at IS NULL AND is_suspended = TRUE",
                Some(UserStatus::Deleted) => "deleted_at IS NOT NULL",
            });
            if let Some(verified) = search.verified {
                qb.push(" AND email_verified = ").push_bind(verified);
            }
            if let Some(role) = &search.role {
                qb.push(
                    " AND EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                     WHERE ur.user_id = users.id AND r.name = ",
                )
                .push_bind(role.clone())
                .push(")");
            }
            if let Some(query) = &search.query {
                // The expression of the PostgreSQL trigram index (migration 4), verbatim.
                let pattern = format!("%{}%", escape_like(query));
                qb.push(format!(" AND ({SEARCH_TEXT}) {LIKE_CI} "))
                    .push_bind(pattern)
                    .push(" ESCAPE '\\'");
            }
        }

        #[async_trait::async_trait]
        impl Store for $store {
            fn events(&self) -> &EventBus {
                &self.events
            }

            async fn ping(&self) -> Result<()> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn record_effects(&self, effects: Effects) -> Result<()> {
                let mut tx = begin(self).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn create_user(&self, user: NewUser, effects: Effects) -> Result<UserRecord> {
                let mut tx = begin(self).await?;
                sqlx::query(
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
                .execute(&mut *tx)
                .await?;
                sqlx::query("INSERT INTO user_profiles (user_id) VALUES ($1)")
                    .bind(user.id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
                    "INSERT INTO password_history (user_id, password_hash, created_at) \
                     VALUES ($1, $2, $3)",
                )
                .bind(user.id)
                .bind(&user.password_hash)
                .bind(ts(user.created_at))
                .execute(&mut *tx)
                .await?;
                for role in &user.roles {
                    let assigned = sqlx::query(
                        "INSERT INTO user_roles (user_id, role_id, assigned_at) \
                         SELECT $1, id, $2 FROM roles WHERE name = $3 \
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(user.id)
                    .bind(ts(user.created_at))
                    .bind(role)
                    .execute(&mut *tx)
                    .await?;
                    if assigned.rows_affected() == 0 {
                        let exists = sqlx::query("SELECT 1 FROM roles WHERE name = $1")
                            .bind(role)
                            .fetch_optional(&mut *tx)
                            .await?;
                        if exists.is_none() {
                            return Err(Error::internal(format!("role {role} does not exist")));
                        }
                    }
                }
                if let Some(token) = &user.verification {
                    insert_one_time_token(&mut tx, token).await?;
                }
                write_effects(&mut tx, effects).await?;
                let record = user_in_tx(&mut tx, user.id).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn user_permissions(&self, user_id: Uuid) -> Result<Vec<String>> {
                let rows = sqlx::query(
                    "SELECT DISTINCT rp.permission FROM user_roles ur \
                     JOIN role_permissions rp ON rp.role_id = ur.role_id \
                     WHERE ur.user_id = $1 ORDER BY rp.permission",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?;
                rows.iter()
                    .map(|r| r.try_get::<String, _>("permission").map_err(Error::from))
                    .collect()
            }

            async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>> {
                let rows = sqlx::query(concat!(user_with_roles_select!(), " WHERE u.id = $1"))
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await?;
                user_from_rows(&rows)
            }

            async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>> {
                let rows = sqlx::query(concat!(user_with_roles_select!(), " WHERE u.email = $1"))
                    .bind(email)
                    .fetch_all(&self.pool)
                    .await?;
                user_from_rows(&rows)
            }

            async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
                let rows = sqlx::query(concat!(user_with_roles_select!(), " WHERE u.username = $1"))
                    .bind(username)
                    .fetch_all(&self.pool)
                    .await?;
                user_from_rows(&rows)
            }

            async fn issue_one_time_token(&self, token: NewOneTimeToken, effects: Effects) -> Result<()> {
                let mut tx = begin(self).await?;
                let owner = sqlx::query("SELECT 1 FROM users WHERE id = $1")
                    .bind(token.user_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if owner.is_none() {
                    return Err(Error::NotFound("user"));
                }
                // Older unused tokens of the same purpose are superseded: only the newest works.
                sqlx::query(
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
                let row = sqlx::query(
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

            async fn two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactorRecord>> {
                let row = sqlx::query(
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
                let stored = sqlx::query(
                    "INSERT INTO two_factor (user_id, sealed_secret, enabled, created_at)                      VALUES ($1, $2, FALSE, $3)                      ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret,                      created_at = excluded.created_at, last_used_step = NULL, enabled_at = NULL                      WHERE two_factor.enabled = FALSE",
                )
                .bind(user_id)
                .bind(sealed_secret)
                .bind(ts(now))
                .execute(&mut *tx)
                .await?;
                if stored.rows_affected() == 0 {
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
                let enabled = sqlx::query(
                    "UPDATE two_factor SET enabled = TRUE, enabled_at = $1, last_used_step = $2                      WHERE user_id = $3 AND enabled = FALSE",
                )
                .bind(ts(now))
                .bind(step)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                if enabled.rows_affected() == 0 {
                    let exists = sqlx::query("SELECT 1 FROM two_factor WHERE user_id = $1")
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
                let removed = sqlx::query("DELETE FROM two_factor WHERE user_id = $1")
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
                let done = sqlx::query(
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
                let used = sqlx::query(
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
                let used = sqlx::query(
                    "UPDATE backup_codes SET used_at = $1                      WHERE digest = $2 AND user_id = $3 AND used_at IS NULL",
                )
                .bind(ts(now))
                .bind(digest.as_str())
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                if used.rows_affected() == 0 {
                    return Ok(false);
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
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

            async fn verify_email(
                &self,
                digest: &TokenDigest,
                now: Timestamp,
                effects: Effects,
            ) -> Result<UserRecord> {
                let mut tx = begin(self).await?;
                let user_id =
                    use_one_time_token(&mut tx, digest, TokenPurpose::EmailVerification, now).await?;
                sqlx::query("UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2")
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
                sqlx::query(
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
                let rows = sqlx::query(
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
                let counted = sqlx::query(
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
                .await?;
                let turn = match counted {
                    Some(row) => {
                        let slot = u32::try_from(row.try_get::<i32, _>("failed_login_attempts")?)
                            .unwrap_or_default();
                        match opt_from_ts(row.try_get("locked_until")?)? {
                            // A count already past the limit (left by an older release): this
                            // statement locked the account, and this check must not run.
                            Some(until) if slot > rule.max_failures => CheckTurn::Refused { until },
                            _ => CheckTurn::Granted { slot },
                        }
                    }
                    None => {
                        let row = sqlx::query("SELECT locked_until FROM users WHERE id = $1")
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
                let row = sqlx::query("SELECT locked_until FROM users WHERE id = $1")
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
                sqlx::query(
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
                let row = sqlx::query(
                    "UPDATE one_time_tokens SET attempts = attempts + 1 \
                     WHERE digest = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                       AND attempts < $4 \
                     RETURNING user_id",
                )
                .bind(digest.as_str())
                .bind(purpose.as_str())
                .bind(ts(now))
                .bind(i32::try_from(max_attempts).unwrap_or(i32::MAX))
                .fetch_optional(&self.pool)
                .await?;
                row.map(|row| row.try_get("user_id").map_err(Error::from))
                    .transpose()
            }

            async fn start_session(
                &self,
                session: NewSession,
                rehash: Option<String>,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                let updated = sqlx::query(
                    "UPDATE users SET last_login_at = $1, \
                     password_hash = COALESCE($2, password_hash) WHERE id = $3",
                )
                .bind(ts(session.created_at))
                .bind(rehash)
                .bind(session.user_id)
                .execute(&mut *tx)
                .await?;
                if updated.rows_affected() == 0 {
                    return Err(Error::NotFound("user"));
                }
                sqlx::query(
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
                sqlx::query(
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
                let row = sqlx::query(
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
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    session_columns_s!(),
                    ", ",
                    user_columns_u!(),
                    ", r.name AS role_name FROM sessions s JOIN users u ON u.id = s.user_id",
                    roles_of_u_join!(),
                    "WHERE s.id = $1"
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
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    session_columns_s!(),
                    ", ",
                    user_columns_u!(),
                    ", r.name AS role_name, p.user_id AS p_user_id, ",
                    profile_columns_p!(),
                    " FROM sessions s JOIN users u ON u.id = s.user_id \
                     LEFT JOIN user_profiles p ON p.user_id = u.id",
                    roles_of_u_join!(),
                    "WHERE s.id = $1"
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
                sqlx::query("UPDATE sessions SET last_activity_at = $1 WHERE id = $2")
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
                let mut tx = begin(self).await?;
                let Some(row) = sqlx::query(
                    "SELECT rt.session_id, rt.expires_at, rt.rotated_at, s.user_id, \
                     s.expires_at AS session_expires_at, s.revoked_at \
                     FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id \
                     WHERE rt.digest = $1",
                )
                .bind(presented.as_str())
                .fetch_optional(&mut *tx)
                .await?
                else {
                    return Ok(RefreshRotation::Invalid);
                };
                let session_id: Uuid = row.try_get("session_id")?;
                let user_id: Uuid = row.try_get("user_id")?;
                let token_expires = from_ts(row.try_get("expires_at")?)?;
                let session_expires = from_ts(row.try_get("session_expires_at")?)?;
                let revoked = opt_from_ts(row.try_get("revoked_at")?)?;
                if revoked.is_some() || session_expires <= now || token_expires <= now {
                    return Ok(RefreshRotation::Invalid);
                }
                match opt_from_ts(row.try_get("rotated_at")?)? {
                    Some(rotated) if now - rotated > grace => {
                        return Ok(RefreshRotation::Reused {
                            session_id,
                            user_id,
                        });
                    }
                    // Rotated moments ago by a concurrent client: it gets a pair of its own.
                    Some(_) => {}
                    None => {
                        // Losing this race means another request rotated it just now: the same
                        // grace case as above.
                        sqlx::query(
                            "UPDATE refresh_tokens SET rotated_at = $1 \
                             WHERE digest = $2 AND rotated_at IS NULL",
                        )
                        .bind(ts(now))
                        .bind(presented.as_str())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
                let extended = sqlx::query(
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
                sqlx::query(
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
                Ok(RefreshRotation::Rotated {
                    session_id,
                    user_id,
                })
            }

            async fn revoke_session(
                &self,
                user_id: Uuid,
                session_id: Uuid,
                now: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let done = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 \
                     WHERE id = $2 AND user_id = $3 AND revoked_at IS NULL AND expires_at > $1",
                )
                .bind(ts(now))
                .bind(session_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
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
                let rows = sqlx::query(concat!(
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

            async fn profile(&self, user_id: Uuid) -> Result<Option<ProfileRecord>> {
                let row = sqlx::query(concat!(
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
                sqlx::query(
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
                let row = sqlx::query(concat!(
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
                sqlx::query(
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
                let touched = sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if touched.rows_affected() == 0 {
                    return Err(Error::NotFound("user"));
                }
                let row = sqlx::query("SELECT preferences FROM user_profiles WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("user"))?;
                let Json(current): Json<serde_json::Value> = row.try_get("preferences")?;
                let merged = merge_preferences_value(&current, patch, max_bytes)?;
                sqlx::query("UPDATE user_profiles SET preferences = $1 WHERE user_id = $2")
                    .bind(Json(&merged))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(merged)
            }

            async fn notifications(
                &self,
                user_id: Uuid,
                unread_only: bool,
                offset: u64,
                limit: u64,
            ) -> Result<NotificationPage> {
                let counts = sqlx::query(
                    "SELECT COUNT(*) AS total, \
                     COALESCE(SUM(CASE WHEN read_at IS NULL THEN 1 ELSE 0 END), 0) AS unread \
                     FROM notifications WHERE user_id = $1",
                )
                .bind(user_id)
                .fetch_one(&self.pool)
                .await?;
                let all: i64 = counts.try_get("total")?;
                let unread: i64 = counts.try_get("unread")?;
                let rows = sqlx::query(
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
                let done = sqlx::query(
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
                let done = sqlx::query(
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
                let done = sqlx::query("DELETE FROM notifications WHERE id = $1 AND user_id = $2")
                    .bind(id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Ok(false);
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_all_notifications(&self, user_id: Uuid, audit: AuditEvent) -> Result<u64> {
                let mut tx = begin(self).await?;
                let done = sqlx::query("DELETE FROM notifications WHERE user_id = $1")
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

            async fn permission_catalog(&self) -> Result<Vec<(String, String)>> {
                let rows = sqlx::query("SELECT name, description FROM permissions ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("name")?, r.try_get("description")?)))
                    .collect()
            }

            async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
                let mut conn = self.pool.acquire().await?;
                load_roles(&mut conn, None).await
            }

            async fn role_by_id(&self, id: Uuid) -> Result<Option<RoleRecord>> {
                let mut conn = self.pool.acquire().await?;
                Ok(load_roles(&mut conn, Some(id)).await?.pop())
            }

            async fn create_role(&self, role: NewRole, effects: Effects) -> Result<RoleRecord> {
                let mut tx = begin(self).await?;
                sqlx::query(
                    "INSERT INTO roles (id, name, description, is_system, created_at, updated_at) \
                     VALUES ($1, $2, $3, FALSE, $4, $4)",
                )
                .bind(role.id)
                .bind(&role.name)
                .bind(&role.description)
                .bind(ts(role.created_at))
                .execute(&mut *tx)
                .await?;
                grant_permissions(&mut tx, role.id, &role.permissions).await?;
                write_effects(&mut tx, effects).await?;
                let record = role_in_tx(&mut tx, role.id).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn update_role(
                &self,
                id: Uuid,
                change: RoleChange,
                now: Timestamp,
                effects: Effects,
            ) -> Result<RoleRecord> {
                let mut tx = begin(self).await?;
                // Two edits of one role's permissions must not interleave their delete-and-insert.
                let sql = format!("SELECT id FROM roles WHERE id = $1{LOCK_ROW}");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let current = role_in_tx(&mut tx, id).await?;
                if !$crate::store::admin::permissions_unchanged(
                    &current.permissions,
                    change.checked_permissions.as_deref(),
                ) {
                    return Err(Error::Conflict(ConflictKind::Other));
                }
                if let Some(name) = change.name.as_ref().filter(|n| **n != current.name) {
                    // The name check is in the WHERE so a concurrent flag change cannot slip by.
                    let renamed = sqlx::query(
                        "UPDATE roles SET name = $1 WHERE id = $2 AND is_system = FALSE",
                    )
                    .bind(name)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                    if renamed.rows_affected() == 0 {
                        return Err(Error::SystemRole);
                    }
                }
                if let Some(description) = &change.description {
                    sqlx::query("UPDATE roles SET description = $1 WHERE id = $2")
                        .bind(description)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(permissions) = &change.permissions {
                    grant_permissions(&mut tx, id, permissions).await?;
                }
                sqlx::query("UPDATE roles SET updated_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                let record = role_in_tx(&mut tx, id).await?;
                tx.commit().await?;
                Ok(record)
            }

            async fn delete_role(
                &self,
                id: Uuid,
                checked_permissions: Option<&[String]>,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                // The same lock as `update_role`, so the permissions compared below are the
                // ones the role still holds when it goes.
                let sql = format!("SELECT id FROM roles WHERE id = $1{LOCK_ROW}");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let current = role_in_tx(&mut tx, id).await?;
                if current.is_system {
                    return Err(Error::SystemRole);
                }
                if !$crate::store::admin::permissions_unchanged(&current.permissions, checked_permissions) {
                    return Err(Error::Conflict(ConflictKind::Other));
                }
                let deleted = sqlx::query(
                    "DELETE FROM roles WHERE id = $1 AND is_system = FALSE \
                     AND NOT EXISTS (SELECT 1 FROM user_roles WHERE role_id = $1)",
                )
                .bind(id)
                .execute(&mut *tx)
                .await
                // An assignment committed meanwhile trips the RESTRICT foreign key.
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::RoleInUse,
                    _ => Error::from(e),
                })?;
                if deleted.rows_affected() == 0 {
                    return Err(Error::RoleInUse);
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn assign_role(
                &self,
                user_id: Uuid,
                role_id: Uuid,
                now: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                lock_user(&mut tx, user_id).await?;
                role_in_tx(&mut tx, role_id).await?;
                let inserted = sqlx::query(
                    "INSERT INTO user_roles (user_id, role_id, assigned_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id, role_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(role_id)
                .bind(ts(now))
                .execute(&mut *tx)
                .await
                // The role was deleted meanwhile.
                .map_err(|e| match &e {
                    sqlx::Error::Database(db) if db.is_foreign_key_violation() => Error::NotFound("role"),
                    _ => Error::from(e),
                })?;
                if inserted.rows_affected() == 0 {
                    return Ok(false);
                }
                sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn remove_role(
                &self,
                user_id: Uuid,
                role_id: Uuid,
                now: Timestamp,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                // Under the user's row lock the count below cannot change until commit: two
                // concurrent removals of the user's last two roles are decided one after the other.
                lock_user(&mut tx, user_id).await?;
                let held: i64 = sqlx::query("SELECT COUNT(*) AS n FROM user_roles WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                let has = sqlx::query("SELECT 1 FROM user_roles WHERE user_id = $1 AND role_id = $2")
                    .bind(user_id)
                    .bind(role_id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if has.is_none() {
                    return Err(Error::NotFound("role assignment"));
                }
                if held <= 1 {
                    return Err(Error::LastRole);
                }
                sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
                    .bind(user_id)
                    .bind(role_id)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn search_users(&self, search: &UserSearch) -> Result<(Vec<UserRecord>, u64)> {
                let mut counter = sqlx::QueryBuilder::<Db>::new("SELECT COUNT(*) AS n FROM users");
                push_search_filters(&mut counter, search);
                let total: i64 = counter.build().fetch_one(&self.pool).await?.try_get("n")?;
                let mut qb = sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", user_columns!(), " FROM users"));
                push_search_filters(&mut qb, search);
                let direction = if search.descending { "DESC NULLS FIRST" } else { "ASC NULLS LAST" };
                let tie = if search.descending { "DESC" } else { "ASC" };
                qb.push(format!(
                    " ORDER BY {} {direction}, id {tie} LIMIT ",
                    search.sort_by.column()
                ))
                .push_bind(i64::try_from(search.page.limit).unwrap_or(i64::MAX))
                .push(" OFFSET ")
                .push_bind(i64::try_from(search.page.offset()).unwrap_or(i64::MAX));
                let rows = qb.build().fetch_all(&self.pool).await?;
                let ids: Vec<Uuid> = rows
                    .iter()
                    .map(|r| r.try_get::<Uuid, _>("id"))
                    .collect::<std::result::Result<_, _>>()?;
                // One query for the roles of the whole page.
                let mut roles: std::collections::HashMap<Uuid, Vec<String>> = Default::default();
                if !ids.is_empty() {
                    let mut rq = sqlx::QueryBuilder::<Db>::new(
                        "SELECT ur.user_id, r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id \
                         WHERE ur.user_id IN (",
                    );
                    let mut list = rq.separated(", ");
                    for id in &ids {
                        list.push_bind(*id);
                    }
                    rq.push(") ORDER BY r.name");
                    for row in rq.build().fetch_all(&self.pool).await? {
                        roles
                            .entry(row.try_get("user_id")?)
                            .or_default()
                            .push(row.try_get("name")?);
                    }
                }
                let users = rows
                    .iter()
                    .zip(&ids)
                    .map(|(row, id)| user_from_row(row, roles.remove(id).unwrap_or_default()))
                    .collect::<Result<Vec<_>>>()?;
                Ok((users, count(total)))
            }

            async fn dashboard_counts(
                &self,
                now: Timestamp,
                new_since: Timestamp,
            ) -> Result<DashboardCounts> {
                let row = sqlx::query(
                    "SELECT COUNT(*) AS total, \
                     COALESCE(SUM(CASE WHEN is_active = TRUE AND is_suspended = FALSE THEN 1 ELSE 0 END), 0) AS active, \
                     COALESCE(SUM(CASE WHEN email_verified = TRUE THEN 1 ELSE 0 END), 0) AS verified, \
                     COALESCE(SUM(CASE WHEN two_factor_enabled = TRUE THEN 1 ELSE 0 END), 0) AS with_2fa, \
                     COALESCE(SUM(CASE WHEN created_at >= $1 THEN 1 ELSE 0 END), 0) AS new_users \
                     FROM users WHERE deleted_at IS NULL",
                )
                .bind(ts(new_since))
                .fetch_one(&self.pool)
                .await?;
                let sessions: i64 = sqlx::query(
                    "SELECT COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL AND expires_at > $1",
                )
                .bind(ts(now))
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
                Ok(DashboardCounts {
                    users_total: count(row.try_get("total")?),
                    users_active: count(row.try_get("active")?),
                    users_verified: count(row.try_get("verified")?),
                    users_with_two_factor: count(row.try_get("with_2fa")?),
                    users_new: count(row.try_get("new_users")?),
                    active_sessions: count(sessions),
                })
            }

            async fn change_account(
                &self,
                user_id: Uuid,
                change: AccountChange,
                now: Timestamp,
                effects: Effects,
            ) -> Result<Option<UserRecord>> {
                let mut tx = begin(self).await?;
                ensure_user(&mut tx, user_id).await?;
                // The state check is the WHERE of the update: of two racing changes one wins.
                let (set, condition, end_sessions) = match change {
                    AccountChange::Deactivate => ("is_active = FALSE", "deleted_at IS NULL AND is_active = TRUE", true),
                    AccountChange::Reactivate => ("is_active = TRUE", "deleted_at IS NULL AND is_active = FALSE", false),
                    AccountChange::Suspend => ("is_suspended = TRUE", "deleted_at IS NULL AND is_suspended = FALSE", true),
                    AccountChange::Unsuspend => (
                        "is_suspended = FALSE, is_active = TRUE",
                        "deleted_at IS NULL AND (is_suspended = TRUE OR is_active = FALSE)",
                        false,
                    ),
                    AccountChange::SoftDelete => ("deleted_at = $1", "deleted_at IS NULL", true),
                    AccountChange::Recover { .. } => ("deleted_at = NULL", "deleted_at > $3", false),
                    AccountChange::VerifyEmail => ("email_verified = TRUE", "deleted_at IS NULL AND email_verified = FALSE", false),
                    AccountChange::Unlock => ("failed_login_attempts = 0, locked_until = NULL", "deleted_at IS NULL", false),
                };
                let sql = format!("UPDATE users SET {set}, updated_at = $1 WHERE id = $2 AND {condition}");
                // Safe: `set` and `condition` are chosen from the constants above.
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(ts(now)).bind(user_id);
                if let AccountChange::Recover { deleted_after } = change {
                    query = query.bind(ts(deleted_after));
                }
                let changed = query.execute(&mut *tx).await?;
                if changed.rows_affected() == 0 {
                    return Ok(None);
                }
                if end_sessions {
                    revoke_sessions_in_tx(&mut tx, user_id, None, now).await?;
                    expire_password_tokens(&mut tx, user_id, now).await?;
                }
                write_effects(&mut tx, effects).await?;
                let user = user_in_tx(&mut tx, user_id).await?;
                tx.commit().await?;
                Ok(Some(user))
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
                let previous: Option<String> = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("user"))?
                    .try_get("avatar")?;
                if previous == avatar {
                    let user = user_in_tx(&mut tx, user_id).await?;
                    return Ok((user, previous));
                }
                sqlx::query("UPDATE users SET avatar = $1, updated_at = $2 WHERE id = $3")
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

            async fn user_data_export(&self, user_id: Uuid) -> Result<UserDataExport> {
                let sessions = sqlx::query(concat!(
                    "SELECT ", session_columns!(), " FROM sessions WHERE user_id = $1 ORDER BY created_at, id"
                ))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(session_from_row)
                .collect::<Result<Vec<_>>>()?;
                let audit = sqlx::query(concat!(
                    "SELECT ", audit_columns!(), " FROM audit_logs WHERE user_id = $1 OR actor_id = $1 \
                     ORDER BY created_at, id"
                ))
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(audit_from_row)
                .collect::<Result<Vec<_>>>()?;
                let notifications = sqlx::query(
                    "SELECT id, user_id, type, title, message, data, read_at, created_at \
                     FROM notifications WHERE user_id = $1 ORDER BY created_at, id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(notification_from_row)
                .collect::<Result<Vec<_>>>()?;
                let password_changes = sqlx::query(
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
                let rows = sqlx::query(
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
                // Child rows go by ON DELETE CASCADE; the condition makes a purge that raced a
                // recovery (or another instance's purge) remove nothing.
                let deleted = sqlx::query(
                    "DELETE FROM users WHERE id = $1 \
                     AND ($2 IS NULL OR (deleted_at IS NOT NULL AND deleted_at < $2)) \
                     RETURNING email",
                )
                .bind(user_id)
                .bind(opt_ts(deleted_before))
                .fetch_optional(&mut *tx)
                .await?;
                let Some(deleted) = deleted else {
                    return Ok(false);
                };
                // Delivered or abandoned mail still names the address; mail not yet sent stays
                // (it is on its way to the person, the last notice among it).
                let email: String = deleted.try_get("email")?;
                sqlx::query("DELETE FROM mail_outbox WHERE recipient = $1 AND status <> 'pending'")
                    .bind(&email)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(
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

            async fn audit_events(&self, user_id: Option<Uuid>, limit: usize) -> Result<Vec<AuditEvent>> {
                let rows = sqlx::query(concat!(
                    "SELECT ",
                    audit_columns!(),
                    " FROM audit_logs WHERE ($1 IS NULL OR user_id = $1 OR actor_id = $1) \
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ))
                .bind(user_id)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(audit_from_row).collect()
            }

            async fn search_audit(
                &self,
                filter: &AuditFilter,
                page: Page,
            ) -> Result<(Vec<AuditEvent>, u64)> {
                fn push_filters(qb: &mut sqlx::QueryBuilder<Db>, filter: &AuditFilter) {
                    qb.push(" WHERE 1 = 1");
                    if let Some(user_id) = filter.user_id {
                        qb.push(" AND (user_id = ")
                            .push_bind(user_id)
                            .push(" OR actor_id = ")
                            .push_bind(user_id)
                            .push(")");
                    }
                    if let Some(action) = &filter.action {
                        qb.push(" AND action = ").push_bind(action.clone());
                    }
                    if let Some(resource) = &filter.resource {
                        qb.push(" AND resource = ").push_bind(resource.clone());
                    }
                    if let Some(from) = filter.from {
                        qb.push(" AND created_at >= ").push_bind(ts(from));
                    }
                    if let Some(until) = filter.until {
                        qb.push(" AND created_at < ").push_bind(ts(until));
                    }
                }
                let mut counter = sqlx::QueryBuilder::<Db>::new("SELECT COUNT(*) AS n FROM audit_logs");
                push_filters(&mut counter, filter);
                let total: i64 = counter.build().fetch_one(&self.pool).await?.try_get("n")?;
                let mut qb = sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", audit_columns!(), " FROM audit_logs"));
                push_filters(&mut qb, filter);
                qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                    .push_bind(i64::try_from(page.limit).unwrap_or(i64::MAX))
                    .push(" OFFSET ")
                    .push_bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
                let rows = qb.build().fetch_all(&self.pool).await?;
                let events = rows.iter().map(audit_from_row).collect::<Result<Vec<_>>>()?;
                Ok((events, count(total)))
            }

            async fn audit_stats(&self, since: Timestamp, top: usize) -> Result<AuditStats> {
                let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM audit_logs WHERE created_at >= $1")
                    .bind(ts(since))
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("n")?;
                let limit = i64::try_from(top).unwrap_or(i64::MAX);
                let mut ranked = Vec::new();
                for column in ["action", "resource"] {
                    // Safe: the column name is one of the two constants above.
                    let sql = format!(
                        "SELECT {column} AS k, COUNT(*) AS n FROM audit_logs WHERE created_at >= $1 \
                         GROUP BY {column} ORDER BY n DESC, k ASC LIMIT $2"
                    );
                    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .bind(ts(since))
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?;
                    ranked.push(
                        rows.iter()
                            .map(|r| Ok((r.try_get::<String, _>("k")?, count(r.try_get("n")?))))
                            .collect::<Result<Vec<_>>>()?,
                    );
                }
                let top_resources = ranked.pop().unwrap_or_default();
                let top_actions = ranked.pop().unwrap_or_default();
                Ok(AuditStats {
                    total: count(total),
                    top_actions,
                    top_resources,
                })
            }

            async fn activity_counts(&self, now: Timestamp) -> Result<ActivityCounts> {
                let day = now - Duration::days(1);
                let week = now - Duration::days(7);
                let month = now - Duration::days(30);
                let users = sqlx::query(
                    "SELECT COUNT(*) AS total, \
                     COALESCE(SUM(CASE WHEN email_verified = TRUE THEN 1 ELSE 0 END), 0) AS verified, \
                     COALESCE(SUM(CASE WHEN last_login_at >= $1 THEN 1 ELSE 0 END), 0) AS day, \
                     COALESCE(SUM(CASE WHEN last_login_at >= $2 THEN 1 ELSE 0 END), 0) AS week, \
                     COALESCE(SUM(CASE WHEN last_login_at >= $3 THEN 1 ELSE 0 END), 0) AS month, \
                     COALESCE(SUM(CASE WHEN created_at >= $3 THEN 1 ELSE 0 END), 0) AS new_users \
                     FROM users WHERE deleted_at IS NULL",
                )
                .bind(ts(day))
                .bind(ts(week))
                .bind(ts(month))
                .fetch_one(&self.pool)
                .await?;
                // Two index range scans on (action, created_at).
                let logins = sqlx::query(
                    "SELECT \
                     (SELECT COUNT(*) FROM audit_logs WHERE action = 'USER_LOGIN' AND created_at >= $1) AS ok, \
                     (SELECT COUNT(*) FROM audit_logs WHERE action = 'LOGIN_FAILED' AND created_at >= $1) AS failed",
                )
                .bind(ts(month))
                .fetch_one(&self.pool)
                .await?;
                Ok(ActivityCounts {
                    users_total: count(users.try_get("total")?),
                    users_verified: count(users.try_get("verified")?),
                    active_day: count(users.try_get("day")?),
                    active_week: count(users.try_get("week")?),
                    active_month: count(users.try_get("month")?),
                    new_users: count(users.try_get("new_users")?),
                    logins: count(logins.try_get("ok")?),
                    failed_logins: count(logins.try_get("failed")?),
                })
            }

            async fn delete_audit_before(&self, cutoff: Timestamp, effects: Effects) -> Result<u64> {
                let mut tx = begin(self).await?;
                let deleted = sqlx::query("DELETE FROM audit_logs WHERE created_at < $1")
                    .bind(ts(cutoff))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(deleted)
            }

            async fn claim_due_mail(
                &self,
                now: Timestamp,
                limit: usize,
                lease: Duration,
            ) -> Result<Vec<OutboxMessage>> {
                // The lease test is repeated in the outer WHERE: a worker that waited on a row
                // another worker just claimed re-reads it and skips it.
                let rows = sqlx::query(
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
                .await?;
                let mut claimed = rows.iter().map(mail_from_row).collect::<Result<Vec<_>>>()?;
                claimed.sort_by(|a, b| a.next_attempt_at.cmp(&b.next_attempt_at).then(a.id.cmp(&b.id)));
                Ok(claimed)
            }

            async fn mark_mail_sent(&self, id: Uuid, now: Timestamp) -> Result<()> {
                let mut tx = begin(self).await?;
                sqlx::query(
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
                let deleted = sqlx::query(
                    "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox \
                     WHERE status <> 'pending' AND COALESCE(sent_at, created_at) < $1 LIMIT $2)",
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
                sqlx::query(
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
                let row = sqlx::query("SELECT COUNT(*) AS n FROM mail_outbox WHERE recipient = $1")
                    .bind(recipient)
                    .fetch_one(&self.pool)
                    .await?;
                Ok(count(row.try_get::<i64, _>("n")?))
            }

            async fn mail_backlog(&self) -> Result<u64> {
                let row = sqlx::query("SELECT COUNT(*) AS n FROM mail_outbox WHERE status = 'pending'")
                    .fetch_one(&self.pool)
                    .await?;
                Ok(count(row.try_get::<i64, _>("n")?))
            }
        }
    };
}
