//! The SQL of [`AuditStore`](crate::store::AuditStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `audit_sql!` after `sql_common!`, whose
//! dialect shim, row mappers and transaction the statements use (see `store/sql.rs`).

/// Implements [`AuditStore`](crate::store::AuditStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! audit_sql {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl AuditStore for $store {
            async fn audit_events(&self, user_id: Option<Uuid>, limit: usize) -> Result<Vec<AuditEvent>> {
                let rows = query(concat!(
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
                count_up_to: Option<u64>,
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
                let mut qb = sqlx::QueryBuilder::<Db>::new(concat!("SELECT ", audit_columns!(), " FROM audit_logs"));
                push_filters(&mut qb, filter);
                qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
                    .push_bind(i64::try_from(page.limit).unwrap_or(i64::MAX))
                    .push(" OFFSET ")
                    .push_bind(i64::try_from(page.offset()).unwrap_or(i64::MAX));
                let rows = qb.build().fetch_all(&self.pool).await?;
                let total = page_total(
                    &self.pool,
                    "audit_logs",
                    |qb| push_filters(qb, filter),
                    page,
                    rows.len(),
                    count_up_to,
                )
                .await?;
                let events = rows.iter().map(audit_from_row).collect::<Result<Vec<_>>>()?;
                Ok((events, total))
            }

            async fn audit_stats(&self, since: Timestamp, top: usize) -> Result<AuditStats> {
                let total: i64 = query("SELECT COUNT(*) AS n FROM audit_logs WHERE created_at >= $1")
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
                    let rows = query(sqlx::AssertSqlSafe(sql))
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
                let users = query(
                    "SELECT COUNT(*) AS total, \
                     COUNT(CASE WHEN email_verified = TRUE THEN 1 END) AS verified, \
                     COUNT(CASE WHEN last_login_at >= $1 THEN 1 END) AS day, \
                     COUNT(CASE WHEN last_login_at >= $2 THEN 1 END) AS week, \
                     COUNT(CASE WHEN last_login_at >= $3 THEN 1 END) AS month, \
                     COUNT(CASE WHEN created_at >= $3 THEN 1 END) AS new_users \
                     FROM users WHERE deleted_at IS NULL",
                )
                .bind(ts(day))
                .bind(ts(week))
                .bind(ts(month))
                .fetch_one(&self.pool)
                .await?;
                // Two index range scans on (action, created_at).
                let logins = query(
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
                let deleted = query("DELETE FROM audit_logs WHERE created_at < $1")
                    .bind(ts(cutoff))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(deleted)
            }
        }
    };
}
pub(crate) use audit_sql;
