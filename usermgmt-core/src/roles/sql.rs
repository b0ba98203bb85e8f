//! The SQL of [`RoleStore`](crate::store::RoleStore), written once for PostgreSQL and SQLite:
//! `store/postgres.rs` and `store/sqlite.rs` each invoke `roles_sql!` after `sql_common!`, whose
//! dialect shim, row mappers and transaction the statements use (see `store/sql.rs`).

/// Implements [`RoleStore`](crate::store::RoleStore) for `$store`, in a module where
/// `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! roles_sql {
    ($store:ty) => {
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
            let rows = query(
                "SELECT r.id, r.name, r.description, r.is_system, r.created_at, r.updated_at, \
                 (SELECT COUNT(*) FROM user_roles ur WHERE ur.role_id = r.id) AS user_count \
                 FROM roles r WHERE ($1 IS NULL OR r.id = $1) ORDER BY r.name",
            )
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
            let grants = query(
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
            query("DELETE FROM role_permissions WHERE role_id = $1")
                .bind(role_id)
                .execute(&mut **tx)
                .await?;
            for permission in permissions {
                query("INSERT INTO role_permissions (role_id, permission) VALUES ($1, $2)")
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
            query(sqlx::AssertSqlSafe(sql))
                .bind(user_id)
                .fetch_optional(&mut **tx)
                .await?
                .map(|_| ())
                .ok_or(Error::NotFound("user"))
        }

        #[async_trait::async_trait]
        impl RoleStore for $store {
            async fn user_permissions(&self, user_id: Uuid) -> Result<Vec<String>> {
                let rows = query(
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

            async fn permission_catalog(&self) -> Result<Vec<(String, String)>> {
                let rows = query("SELECT name, description FROM permissions ORDER BY name")
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| Ok((r.try_get("name")?, r.try_get("description")?)))
                    .collect()
            }

            async fn list_roles(&self) -> Result<Vec<RoleRecord>> {
                let mut lease = self.pool.acquire().await?;
                let roles = load_roles(lease.connection(), None).await?;
                lease.completed();
                Ok(roles)
            }

            async fn role_by_id(&self, id: Uuid) -> Result<Option<RoleRecord>> {
                let mut lease = self.pool.acquire().await?;
                let role = load_roles(lease.connection(), Some(id)).await?.pop();
                lease.completed();
                Ok(role)
            }

            async fn create_role(&self, role: NewRole, effects: Effects) -> Result<RoleRecord> {
                let mut tx = begin(self).await?;
                query(
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
                query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let current = role_in_tx(&mut tx, id).await?;
                if !$crate::store::permissions_unchanged(
                    &current.permissions,
                    change.checked_permissions.as_deref(),
                ) {
                    return Err(Error::Conflict(ConflictKind::Other));
                }
                if let Some(name) = change.name.as_ref().filter(|n| **n != current.name) {
                    // The name check is in the WHERE so a concurrent flag change cannot slip by.
                    let renamed = query(
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
                    query("UPDATE roles SET description = $1 WHERE id = $2")
                        .bind(description)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(permissions) = &change.permissions {
                    grant_permissions(&mut tx, id, permissions).await?;
                }
                query("UPDATE roles SET updated_at = $1 WHERE id = $2")
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
                query(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                let current = role_in_tx(&mut tx, id).await?;
                if current.is_system {
                    return Err(Error::SystemRole);
                }
                if !$crate::store::permissions_unchanged(&current.permissions, checked_permissions) {
                    return Err(Error::Conflict(ConflictKind::Other));
                }
                let deleted = query(
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
                let inserted = query(
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
                query("UPDATE users SET updated_at = $1 WHERE id = $2")
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
                let held: i64 = query("SELECT COUNT(*) AS n FROM user_roles WHERE user_id = $1")
                    .bind(user_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get("n")?;
                let has = query("SELECT 1 FROM user_roles WHERE user_id = $1 AND role_id = $2")
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
                query("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2")
                    .bind(user_id)
                    .bind(role_id)
                    .execute(&mut *tx)
                    .await?;
                query("UPDATE users SET updated_at = $1 WHERE id = $2")
                    .bind(ts(now))
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use roles_sql;
