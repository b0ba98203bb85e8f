//! The SQL stores' shared part, instantiated for each dialect: the column lists, and
//! [`sql_common!`] (the row mappers, the write transaction with its post-commit publishing,
//! `write_effects`, helpers several areas use, and [`BaseStore`](super::BaseStore)). Each
//! area's statements are in its capability folder's `sql.rs` (`sessions_sql!`, `roles_sql!`,
//! ...), invoked by `store/sqlite.rs` and `store/postgres.rs` after [`sql_common!`].
//!
//! PostgreSQL and SQLite take the same statements here (`$n` parameters, `RETURNING`,
//! conditional `UPDATE`s instead of row locks), so the logic is written once; MySQL takes them
//! through `store/mysql.rs`'s translation (`?` parameters), and the few it cannot say are
//! written for it beside the shared ones under `if RETURNING`. What differs is supplied by the
//! module that invokes [`sql_common!`]:
//!
//! - `query` and `query_scalar` (sqlx's own, or MySQL's translating ones), `const RETURNING`
//!   (whether `UPDATE`/`DELETE ... RETURNING` may be used), `const ROTATION` (how a refresh
//!   token is rotated: `sessions/sql.rs`), `LOCK_ROW`, `LOCK_REFERENCED`,
//!   `fn like_ci_around` (a case-insensitive `LIKE`) and `fn order_nulls`;
//! - `type Db` (the sqlx database) and `type Ts` (how a time is stored: `timestamptz` in
//!   PostgreSQL, integer microseconds in SQLite, whose text timestamps do not sort);
//! - `fn ts(Timestamp) -> Ts` and `fn from_ts(Ts) -> Result<Timestamp>`;
//! - `type DbTx` and `async fn begin_db(&Store) -> Result<DbTx>`, a write transaction that
//!   derefs to the connection and has `commit` (SQLite's writers take their turn in the store,
//!   in order, and then the write lock up front with `BEGIN IMMEDIATE`, so two writers never
//!   deadlock on a lock upgrade). The methods take it wrapped in `Tx`, which publishes the
//!   audit rows written in it on the store's `events` bus once it committed;
//! - `async fn write_turn(&Store) -> Result<_>`, the turn `begin_db` takes before its `BEGIN`
//!   (SQLite's writer turn; nothing elsewhere), for a transaction written as one batch
//!   ([`LeasePool::transaction_in_one_batch`](super::lease::LeasePool::transaction_in_one_batch)).
//!
//! Concurrency rule of every method: the decisive check and the change are one conditional
//! `UPDATE` (`... WHERE used_at IS NULL`, `... WHERE rotated_at IS NULL`), so two instances racing
//! on one database cannot both win, under PostgreSQL's (and MySQL's) READ COMMITTED as under
//! SQLite's single writer.

/// The selected columns of a user, in [`sql_common!`]'s `user_from_row` order.
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

/// The selected columns of a webhook endpoint, read by `webhook_from_row`.
macro_rules! webhook_columns {
    () => {
        "id, url, events, description, enabled, sealed_secret, sealed_previous_secret, \
         previous_secret_until, failing_since, created_at, updated_at"
    };
}

/// The selected columns of a webhook delivery, read by `delivery_from_row`.
macro_rules! delivery_columns {
    () => {
        "id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at, \
         last_status_code, last_error, created_at, delivered_at"
    };
}

/// The text a user search matches against: email, username and names, space-separated (so
/// "anna smith" finds first and last name together).
macro_rules! search_text {
    () => {
        "email || ' ' || username || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, '')"
    };
}

/// The shared part of the SQL stores (see the module doc) for `$store`, a struct with a
/// `pool: LeasePool<Db>` field (`store/lease.rs`) and an `events: EventBus` field, in the module of its dialect shim.
macro_rules! sql_common {
    ($store:ty) => {
        use sqlx::Row as _;
        use sqlx::types::Json;
        use time::Duration;
        use uuid::Uuid;
        use $crate::domain::DeviceInfo;
        use $crate::error::{ConflictKind, Error, Result};
        use $crate::secret::TokenDigest;
        use $crate::store::*;

        type DbRow = <Db as sqlx::Database>::Row;

        fn opt_ts(t: Option<Timestamp>) -> Option<Ts> {
            t.map(ts)
        }

        /// `lhs` matched case-insensitively against the pattern `rhs` (a parameter), in the
        /// dialect's words (`like_ci_around`).
        fn like_ci(lhs: &str, rhs: &str) -> String {
            let (before, after) = like_ci_around(lhs);
            format!("{before}{rhs}{after}")
        }

        fn opt_from_ts(t: Option<Ts>) -> Result<Option<Timestamp>> {
            t.map(from_ts).transpose()
        }

        fn count(n: i64) -> u64 {
            u64::try_from(n).unwrap_or_default()
        }

        /// The total of a listing whose page (`page`) held `found` rows: what the page shows
        /// when it holds the last match (`Page::total_shown_by`), else `count_matches`. At
        /// most `up_to` either way.
        async fn page_total(
            pool: &crate::store::lease::LeasePool<Db>,
            table: &str,
            push_filters: impl FnOnce(&mut sqlx::QueryBuilder<Db>),
            page: Page,
            found: usize,
            up_to: Option<u64>,
        ) -> Result<u64> {
            match page.total_shown_by(found) {
                Some(total) => Ok(total.min(up_to.unwrap_or(u64::MAX))),
                None => count_matches(pool, table, push_filters, up_to).await,
            }
        }

        /// How many rows of `table` the WHERE clause that `push_filters` adds matches, counting
        /// no further than `up_to` when given. The bounded count reads at most `up_to` rows
        /// (`LIMIT` in a derived table), so it costs what its bound does, however big the table.
        async fn count_matches(
            pool: &crate::store::lease::LeasePool<Db>,
            table: &str,
            push_filters: impl FnOnce(&mut sqlx::QueryBuilder<Db>),
            up_to: Option<u64>,
        ) -> Result<u64> {
            let mut counter = match up_to {
                None => sqlx::QueryBuilder::<Db>::new(format!("SELECT COUNT(*) AS n FROM {table}")),
                Some(_) => sqlx::QueryBuilder::<Db>::new(format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 AS matched FROM {table}"
                )),
            };
            push_filters(&mut counter);
            if let Some(up_to) = up_to {
                counter
                    .push(" LIMIT ")
                    .push_bind(i64::try_from(up_to).unwrap_or(i64::MAX))
                    .push(") AS bounded");
            }
            let n: i64 = counter.build().fetch_one(pool).await?.try_get("n")?;
            Ok(count(n))
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
                let Tx {
                    db,
                    events,
                    written,
                } = self;

                db.commit().await?;
                crate::store::replay::record_durable_write();

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

        /// Ends a change that one conditional statement decided: when it touched no row,
        /// nothing happened (`false`; dropping the transaction rolls it back); otherwise the
        /// change's effects are written and it commits (`true`).
        async fn commit_if_changed(mut tx: Tx, rows: u64, effects: Effects) -> Result<bool> {
            if rows == 0 {
                return Ok(false);
            }
            write_effects(&mut tx, effects).await?;
            tx.commit().await?;
            Ok(true)
        }

        /// Writes the audit rows and outbox mail of a change, inside its transaction; the
        /// audit rows are published when it commits (see [`Tx`]).
        async fn write_effects(tx: &mut Tx, effects: Effects) -> Result<()> {
            for event in &effects.audit {
                query(
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
            }
            write_webhook_deliveries(tx, &effects.audit).await?;
            tx.written.extend(effects.audit);
            for n in effects.notifications {
                query(
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
                query(
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

        /// The deliveries of `events` to every enabled endpoint that wants them, in the
        /// transaction of their audit rows (`webhooks/`): committed together or not at all.
        async fn write_webhook_deliveries(tx: &mut Tx, events: &[AuditEvent]) -> Result<()> {
            if events.is_empty() {
                return Ok(());
            }
            // Locked against deletion until this commits: an endpoint deleted between this read
            // and the inserts below would make them break its foreign key, and fail the change.
            // Built once: this runs with every audited change. Safe: both parts are constants.
            static ENDPOINTS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
                format!(
                    concat!(
                        "SELECT ",
                        webhook_columns!(),
                        " FROM webhook_endpoints WHERE enabled = TRUE ORDER BY created_at, id{}"
                    ),
                    LOCK_REFERENCED
                )
            });
            let rows = query(ENDPOINTS.as_str()).fetch_all(&mut **tx).await?;
            if rows.is_empty() {
                return Ok(());
            }
            let endpoints = rows
                .iter()
                .map(webhook_from_row)
                .collect::<Result<Vec<_>>>()?;
            for d in fan_out(events, &endpoints) {
                insert_webhook_delivery(tx, &d).await?;
            }
            Ok(())
        }

        async fn insert_webhook_delivery(tx: &mut Tx, d: &WebhookDeliveryRecord) -> Result<()> {
            query(
                "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, \
                 status, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(d.id)
            .bind(d.endpoint_id)
            .bind(d.event_id)
            .bind(&d.event_type)
            .bind(&d.payload)
            .bind(d.status.as_str())
            .bind(i32::try_from(d.attempts).unwrap_or(i32::MAX))
            .bind(ts(d.next_attempt_at))
            .bind(ts(d.created_at))
            .execute(&mut **tx)
            .await?;
            Ok(())
        }

        fn webhook_from_row(row: &DbRow) -> Result<WebhookEndpointRecord> {
            let events: String = row.try_get("events")?;
            Ok(WebhookEndpointRecord {
                id: row.try_get("id")?,
                url: row.try_get("url")?,
                events: serde_json::from_str(&events).map_err(Error::internal)?,
                description: row.try_get("description")?,
                enabled: row.try_get("enabled")?,
                sealed_secret: row.try_get("sealed_secret")?,
                sealed_previous_secret: row.try_get("sealed_previous_secret")?,
                previous_secret_until: opt_from_ts(row.try_get("previous_secret_until")?)?,
                failing_since: opt_from_ts(row.try_get("failing_since")?)?,
                created_at: from_ts(row.try_get("created_at")?)?,
                updated_at: from_ts(row.try_get("updated_at")?)?,
            })
        }

        async fn user_in_tx(tx: &mut Tx, user_id: Uuid) -> Result<UserRecord> {
            let rows = query(concat!(user_with_roles_select!(), " WHERE u.id = $1"))
                .bind(user_id)
                .fetch_all(&mut **tx)
                .await?;
            user_from_rows(&rows)?.ok_or(Error::NotFound("user"))
        }

        /// Ends the user's outstanding password-reset links and login challenges: a password
        /// change, a reset, and every change that locks the owner out leave none behind (a
        /// link mailed before a change must not undo it).
        async fn expire_password_tokens(tx: &mut Tx, user_id: Uuid, now: Timestamp) -> Result<()> {
            query(
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

        async fn ensure_user(tx: &mut Tx, user_id: Uuid) -> Result<()> {
            query("SELECT 1 FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?
                .map(|_| ())
                .ok_or(Error::NotFound("user"))
        }

        async fn revoke_sessions_in_tx(
            tx: &mut Tx,
            user_id: Uuid,
            except: Option<Uuid>,
            now: Timestamp,
        ) -> Result<u64> {
            let done = query(
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

        #[async_trait::async_trait]
        impl BaseStore for $store {
            fn events(&self) -> &EventBus {
                &self.events
            }

            async fn ping(&self) -> Result<()> {
                query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn record_effects(&self, effects: Effects) -> Result<()> {
                let mut tx = begin(self).await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
