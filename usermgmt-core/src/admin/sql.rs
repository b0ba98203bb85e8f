//! The SQL of [`AdminStore`](crate::store::AdminStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `admin_sql!` after `sql_common!`, whose
//! dialect shim, row mappers and transaction the statements use (see `store/sql.rs`).

/// Implements [`AdminStore`](crate::store::AdminStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! admin_sql {
    ($store:ty) => {
        const SEARCH_TEXT: &str = search_text!();

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
                let (before, after) = like_ci_around(&format!("({SEARCH_TEXT})"));
                qb.push(format!(" AND {before}"))
                    .push_bind(pattern)
                    .push(format!("{after} ESCAPE '\\'"));
            }
        }

        #[async_trait::async_trait]
        impl AdminStore for $store {
            async fn search_users(
                &self,
                search: &UserSearch,
                count_up_to: Option<u64>,
            ) -> Result<(Vec<UserRecord>, u64)> {
                let mut qb = sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", user_columns!(), " FROM users"));
                push_search_filters(&mut qb, search);
                // Never-set values (a user who never signed in) last ascending, first descending.
                // A column that is never NULL is ordered plainly, so its index serves the page
                // on every dialect (MySQL's NULL ordering is an expression no index serves).
                let tie = if search.descending { "DESC" } else { "ASC" };
                let order = if search.sort_by.nullable() {
                    order_nulls(search.sort_by.column(), search.descending)
                } else {
                    format!("{} {tie}", search.sort_by.column())
                };
                qb.push(format!(" ORDER BY {order}, id {tie} LIMIT "))
                .push_bind(i64::try_from(search.page.limit).unwrap_or(i64::MAX))
                .push(" OFFSET ")
                .push_bind(i64::try_from(search.page.offset()).unwrap_or(i64::MAX));
                let rows = qb.build().fetch_all(&self.pool).await?;
                // Most searches for one user fit one page: it then shows the total itself.
                let total = page_total(
                    &self.pool,
                    "users",
                    |qb| push_search_filters(qb, search),
                    search.page,
                    rows.len(),
                    count_up_to,
                )
                .await?;
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
                Ok((users, total))
            }

            async fn dashboard_counts(
                &self,
                now: Timestamp,
                new_since: Timestamp,
            ) -> Result<DashboardCounts> {
                let row = query(
                    "SELECT COUNT(*) AS total, \
                     COUNT(CASE WHEN is_active = TRUE AND is_suspended = FALSE THEN 1 END) AS active, \
                     COUNT(CASE WHEN email_verified = TRUE THEN 1 END) AS verified, \
                     COUNT(CASE WHEN two_factor_enabled = TRUE THEN 1 END) AS with_2fa, \
                     COUNT(CASE WHEN created_at >= $1 THEN 1 END) AS new_users \
                     FROM users WHERE deleted_at IS NULL",
                )
                .bind(ts(new_since))
                .fetch_one(&self.pool)
                .await?;
                let sessions: i64 = query(
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

            async fn daily_activity(
                &self,
                first_day: Timestamp,
                days: u32,
            ) -> Result<Vec<$crate::store::DailyActivity>> {
                use $crate::domain::AuditAction;
                use $crate::store::{DailyActivity, day_bounds};
                // One COUNT per day over the window's rows, the bounds bound as times: the same
                // statement in every dialect (no date functions, whose bucketing and time zones
                // differ between them), UTC by construction (the bounds are UTC midnights), and
                // one range scan of `created_at` per table.
                let bounds: Vec<Timestamp> = day_bounds(first_day, days)
                    .map(|(start, _)| start)
                    .chain(std::iter::once(first_day + Duration::days(i64::from(days))))
                    .collect();
                let per_day = (0..days)
                    .map(|i| {
                        format!(
                            "COUNT(CASE WHEN created_at >= ${} AND created_at < ${} THEN 1 END) AS d{i}",
                            i + 1,
                            i + 2
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                let window = format!("created_at >= $1 AND created_at < ${}", days + 1);
                let counts = |row: &<Db as sqlx::Database>::Row| {
                    (0..days)
                        .map(|i| Ok(count(row.try_get(format!("d{i}").as_str())?)))
                        .collect::<Result<Vec<u64>>>()
                };
                // Safe: only numbers and the actions' constant names are formatted in.
                let mut users = query(sqlx::AssertSqlSafe(format!(
                    "SELECT {per_day} FROM users WHERE {window}"
                )));
                for bound in &bounds {
                    users = users.bind(ts(*bound));
                }
                let sign_ups = counts(&users.fetch_one(&self.pool).await?)?;
                let actions = [
                    AuditAction::UserLogin,
                    AuditAction::LoginFailed,
                    AuditAction::AccountLocked,
                ];
                let listed = actions
                    .iter()
                    .map(|a| format!("'{}'", a.as_str()))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut audit = query(sqlx::AssertSqlSafe(format!(
                    "SELECT action AS k, {per_day} FROM audit_logs \
                     WHERE {window} AND action IN ({listed}) GROUP BY action"
                )));
                for bound in &bounds {
                    audit = audit.bind(ts(*bound));
                }
                let mut by_action = std::collections::HashMap::new();
                for row in audit.fetch_all(&self.pool).await? {
                    by_action.insert(row.try_get::<String, _>("k")?, counts(&row)?);
                }
                let of = |action: AuditAction, day: usize| {
                    by_action
                        .get(action.as_str())
                        .map_or(0, |per_day: &Vec<u64>| per_day[day])
                };
                Ok(day_bounds(first_day, days)
                    .enumerate()
                    .map(|(i, (start, _))| DailyActivity {
                        day: start.date(),
                        sign_ups: sign_ups[i],
                        sign_ins: of(AuditAction::UserLogin, i),
                        failed_sign_ins: of(AuditAction::LoginFailed, i),
                        lockouts: of(AuditAction::AccountLocked, i),
                    })
                    .collect())
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
                let mut query = query(sqlx::AssertSqlSafe(sql)).bind(ts(now)).bind(user_id);
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
        }
    };
}
pub(crate) use admin_sql;
