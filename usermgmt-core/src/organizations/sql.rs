//! The SQL of [`OrgStore`](crate::organizations::store::OrgStore), written once for PostgreSQL
//! and SQLite: `store/postgres.rs` and `store/sqlite.rs` each invoke `organizations_sql!`
//! through `store_areas!`, after `sql_common!`, whose dialect shim, row mappers and transaction
//! the statements use (see `store/sql.rs`).
//!
//! Every membership change locks its organization's row first (`LOCK_ROW`: `FOR UPDATE` on
//! PostgreSQL; SQLite's `BEGIN IMMEDIATE` holds the database), so the roles it reads and the
//! owner count it decides on cannot change under it: of two owners demoting each other at
//! once, the second sees one owner left.

/// The columns a read of a session (`s`) takes its active organization by: the organization's id
/// and the user's role there, both NULL unless the user is a member of a live organization
/// (`active_org_joins!`).
macro_rules! active_org_columns {
    () => {
        ", o.id AS active_org_id, m.role AS active_org_role"
    };
}
pub(crate) use active_org_columns;

/// The joins of `active_org_columns!`, each meeting at most one row.
macro_rules! active_org_joins {
    () => {
        " LEFT JOIN session_orgs so ON so.session_id = s.id \
         LEFT JOIN org_members m ON m.org_id = so.org_id AND m.user_id = s.user_id \
         LEFT JOIN organizations o ON o.id = m.org_id AND o.deleted_at IS NULL"
    };
}
pub(crate) use active_org_joins;

/// Implements [`OrgStore`](crate::organizations::store::OrgStore) for `$store`, in a module
/// where `sql_common!` (`store/sql.rs`) was invoked for it.
macro_rules! organizations_sql {
    ($store:ty) => {
        /// PostgreSQL's refresh in one statement: the rotation (`rotate_in_one_statement!`, its
        /// parameters), then the presented token's row as it was (`ROTATE_READ`'s columns),
        /// `extended` (whether the rotation's writes happened) and, when they did, the session
        /// as they left it (the CTE `extended`'s row) with its user, roles and active
        /// organization, one row per role as `session_in_org` reads them.
        const REFRESH_IN_ONE_STATEMENT: &str = $crate::sessions::sql::rotate_in_one_statement!(
            select: [
                "SELECT presented.*, s.id IS NOT NULL AS extended, ",
                session_columns_s!(),
                ", ",
                user_columns_u!(),
                ", r.name AS role_name",
                $crate::organizations::sql::active_org_columns!(),
                " FROM presented LEFT JOIN (extended s JOIN users u ON u.id = s.user_id",
                $crate::organizations::sql::active_org_joins!(),
                roles_of_u_join!(),
                ") ON true",
            ]
        );

        /// SQLite's refresh in one batch: the rotation's (`rotate_in_one_batch!`, its
        /// parameters), then, still inside its transaction, `session_in_org`'s read of the
        /// session the new token (`$2`) was stored for, which meets no row unless the rotation's
        /// writes happened.
        const REFRESH_IN_ONE_BATCH: &str = $crate::sessions::sql::rotate_in_one_batch!(
            then: [
                $crate::sessions::sql::session_and_user_by_id!(
                    columns: [$crate::organizations::sql::active_org_columns!()],
                    joins: [$crate::organizations::sql::active_org_joins!()],
                    id: ["(SELECT session_id FROM refresh_tokens WHERE digest = $2)"]
                ),
                "; ",
            ]
        );

        const ORG_COLUMNS: &str = "o.id, o.name, o.slug, o.created_at, o.updated_at, o.deleted_at";
        const INVITATION_COLUMNS: &str = "i.id, i.org_id, i.email, i.role, i.token_digest, \
             i.inviter_id, i.state, i.created_at, i.expires_at, i.decided_at";
        const MEMBER_SEARCH: &str = "u.email || ' ' || u.username || ' ' || \
             coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')";

        fn org_from_row(row: &DbRow) -> Result<$crate::organizations::store::OrgRecord> {
            Ok($crate::organizations::store::OrgRecord {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                slug: row.try_get("slug")?,
                created_at: from_ts(row.try_get("created_at")?)?,
                updated_at: from_ts(row.try_get("updated_at")?)?,
                deleted_at: opt_from_ts(row.try_get("deleted_at")?)?,
            })
        }

        /// A session with its user and active organization from the rows of a
        /// `session_and_user_by_id!` read with `active_org_columns!` (one row per role).
        fn session_in_org_from_rows(
            rows: &[DbRow],
        ) -> Result<Option<$crate::organizations::store::SessionInOrg>> {
            let Some((session, user)) = session_and_user_from_rows(rows)? else {
                return Ok(None);
            };
            let active_org = match rows[0].try_get::<Option<Uuid>, _>("active_org_id")? {
                Some(org_id) => {
                    let role: String = rows[0].try_get("active_org_role")?;
                    Some((org_id, org_role_from(&role)?))
                }
                None => None,
            };
            Ok(Some($crate::organizations::store::SessionInOrg {
                session,
                user,
                active_org,
            }))
        }

        const ORG_MEMBER_COUNT: &str =
            "(SELECT COUNT(*) FROM org_members m WHERE m.org_id = o.id) AS members";

        fn org_summary_from_row(
            row: &DbRow,
        ) -> Result<$crate::organizations::store::OrgSummary> {
            Ok($crate::organizations::store::OrgSummary {
                org: org_from_row(row)?,
                members: count(row.try_get("members")?),
            })
        }

        fn org_role_from(text: &str) -> Result<$crate::organizations::store::OrgRole> {
            $crate::organizations::store::OrgRole::parse(text)
                .ok_or_else(|| Error::internal(format!("unknown org role {text:?}")))
        }

        fn membership_from_row(
            row: &DbRow,
        ) -> Result<$crate::organizations::store::OrgMembership> {
            let role: String = row.try_get("role")?;
            Ok($crate::organizations::store::OrgMembership {
                org: org_from_row(row)?,
                role: org_role_from(&role)?,
                joined_at: from_ts(row.try_get("joined_at")?)?,
            })
        }

        fn invitation_from_row(
            row: &DbRow,
        ) -> Result<$crate::organizations::store::InvitationRecord> {
            let role: String = row.try_get("role")?;
            let state: String = row.try_get("state")?;
            Ok($crate::organizations::store::InvitationRecord {
                id: row.try_get("id")?,
                org_id: row.try_get("org_id")?,
                email: row.try_get("email")?,
                role: org_role_from(&role)?,
                digest: TokenDigest::from_stored(row.try_get("token_digest")?),
                inviter_id: row.try_get("inviter_id")?,
                state: $crate::organizations::store::InvitationState::parse(&state)
                    .ok_or_else(|| Error::internal(format!("unknown invitation state {state:?}")))?,
                created_at: from_ts(row.try_get("created_at")?)?,
                expires_at: from_ts(row.try_get("expires_at")?)?,
                decided_at: opt_from_ts(row.try_get("decided_at")?)?,
            })
        }

        /// The invitation columns, then the organization's under `org_` names.
        fn invitation_and_org_from_row(
            row: &DbRow,
        ) -> Result<(
            $crate::organizations::store::InvitationRecord,
            $crate::organizations::store::OrgRecord,
        )> {
            let org = $crate::organizations::store::OrgRecord {
                id: row.try_get("org_id")?,
                name: row.try_get("org_name")?,
                slug: row.try_get("org_slug")?,
                created_at: from_ts(row.try_get("org_created_at")?)?,
                updated_at: from_ts(row.try_get("org_updated_at")?)?,
                deleted_at: opt_from_ts(row.try_get("org_deleted_at")?)?,
            };
            Ok((invitation_from_row(row)?, org))
        }

        const INVITATION_WITH_ORG: &str = "o.name AS org_name, o.slug AS org_slug, \
             o.created_at AS org_created_at, o.updated_at AS org_updated_at, \
             o.deleted_at AS org_deleted_at";

        /// Locks a live organization's row for the rest of the transaction; false when it is
        /// not live.
        async fn lock_live_org(tx: &mut Tx, org_id: Uuid) -> Result<bool> {
            let sql = format!(
                "SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL{LOCK_ROW}"
            );
            Ok(query(sqlx::AssertSqlSafe(sql))
                .bind(org_id)
                .fetch_optional(&mut **tx)
                .await?
                .is_some())
        }

        async fn member_role_in_tx(
            tx: &mut Tx,
            org_id: Uuid,
            user_id: Uuid,
        ) -> Result<Option<$crate::organizations::store::OrgRole>> {
            let role: Option<String> = query_scalar(
                "SELECT role FROM org_members WHERE org_id = $1 AND user_id = $2",
            )
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&mut **tx)
            .await?;
            role.as_deref().map(org_role_from).transpose()
        }

        /// Removes a user's memberships inside their account's removal: an organization they
        /// alone owned passes (under its row lock) to its longest-standing admin, else its
        /// longest-standing member; one left with no member is removed.
        async fn leave_all_orgs_in_tx(tx: &mut Tx, user_id: Uuid) -> Result<()> {
            let owned: Vec<Uuid> = query_scalar(
                "SELECT org_id FROM org_members WHERE user_id = $1 AND role = 'owner'",
            )
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?;
            for org_id in &owned {
                let sql = format!("SELECT id FROM organizations WHERE id = $1{LOCK_ROW}");
                query(sqlx::AssertSqlSafe(sql))
                    .bind(org_id)
                    .fetch_optional(&mut **tx)
                    .await?;
            }
            query("DELETE FROM org_members WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
            for org_id in owned {
                query(
                    "UPDATE org_members SET role = 'owner' WHERE org_id = $1 \
                     AND NOT EXISTS (SELECT 1 FROM org_members o \
                                     WHERE o.org_id = $1 AND o.role = 'owner') \
                     AND user_id = (SELECT m.user_id FROM org_members m WHERE m.org_id = $1 \
                                    ORDER BY CASE m.role WHEN 'admin' THEN 0 ELSE 1 END, \
                                    m.joined_at, m.user_id LIMIT 1)",
                )
                .bind(org_id)
                .execute(&mut **tx)
                .await?;
                query(
                    "DELETE FROM organizations WHERE id = $1 \
                     AND NOT EXISTS (SELECT 1 FROM org_members WHERE org_id = $1)",
                )
                .bind(org_id)
                .execute(&mut **tx)
                .await?;
            }
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::organizations::store::OrgStore for $store {
            async fn create_org(
                &self,
                org: $crate::organizations::store::OrgRecord,
                owner: Uuid,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                ensure_user(&mut tx, owner).await?;
                query(
                    "INSERT INTO organizations (id, name, slug, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(org.id)
                .bind(&org.name)
                .bind(&org.slug)
                .bind(ts(org.created_at))
                .bind(ts(org.updated_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| match Error::from(e) {
                    Error::Conflict(_) => Error::Conflict(ConflictKind::Other),
                    other => other,
                })?;
                query(
                    "INSERT INTO org_members (org_id, user_id, role, joined_at) \
                     VALUES ($1, $2, 'owner', $3)",
                )
                .bind(org.id)
                .bind(owner)
                .bind(ts(org.created_at))
                .execute(&mut *tx)
                .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn membership(
                &self,
                org_id: Uuid,
                user_id: Uuid,
            ) -> Result<Option<$crate::organizations::store::OrgMembership>> {
                let sql = format!(
                    "SELECT {ORG_COLUMNS}, m.role, m.joined_at FROM org_members m \
                     JOIN organizations o ON o.id = m.org_id \
                     WHERE m.org_id = $1 AND m.user_id = $2 AND o.deleted_at IS NULL"
                );
                let row = query(sqlx::AssertSqlSafe(sql))
                    .bind(org_id)
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(membership_from_row).transpose()
            }

            async fn user_orgs(
                &self,
                user_id: Uuid,
            ) -> Result<Vec<$crate::organizations::store::OrgMembership>> {
                let sql = format!(
                    "SELECT {ORG_COLUMNS}, m.role, m.joined_at FROM org_members m \
                     JOIN organizations o ON o.id = m.org_id \
                     WHERE m.user_id = $1 AND o.deleted_at IS NULL \
                     ORDER BY m.joined_at, o.id"
                );
                let rows = query(sqlx::AssertSqlSafe(sql))
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(membership_from_row).collect()
            }

            async fn update_org(
                &self,
                org_id: Uuid,
                name: &str,
                slug: &str,
                now: Timestamp,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                let updated = query(
                    "UPDATE organizations SET name = $1, slug = $2, updated_at = $3 \
                     WHERE id = $4 AND deleted_at IS NULL",
                )
                .bind(name)
                .bind(slug)
                .bind(ts(now))
                .bind(org_id)
                .execute(&mut *tx)
                .await
                .map_err(|e| match Error::from(e) {
                    Error::Conflict(_) => Error::Conflict(ConflictKind::Other),
                    other => other,
                })?;
                commit_if_changed(tx, updated.rows_affected(), effects).await
            }

            async fn delete_org(&self, org_id: Uuid, now: Timestamp, effects: Effects) -> Result<bool> {
                let mut tx = begin(self).await?;
                let deleted = query(
                    "UPDATE organizations SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
                )
                .bind(ts(now))
                .bind(org_id)
                .execute(&mut *tx)
                .await?;
                commit_if_changed(tx, deleted.rows_affected(), effects).await
            }

            async fn org_members(
                &self,
                org_id: Uuid,
                search: Option<&str>,
                page: Page,
            ) -> Result<(Vec<$crate::organizations::store::MemberRecord>, u64)> {
                let pattern = search.map(|q| format!("%{}%", escape_like(q)));
                let matches = like_ci(&format!("({MEMBER_SEARCH})"), "$2");
                let filter = format!(
                    "FROM org_members m JOIN users u ON u.id = m.user_id WHERE m.org_id = $1 \
                     AND ($2 IS NULL OR {matches} ESCAPE '\\')"
                );
                let total: i64 =
                    query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {filter}")))
                        .bind(org_id)
                        .bind(pattern.clone())
                        .fetch_one(&self.pool)
                        .await?;
                let sql = format!(
                    "SELECT m.user_id, u.email, u.username, u.first_name, u.last_name, m.role, \
                     m.joined_at {filter} ORDER BY m.joined_at, m.user_id LIMIT $3 OFFSET $4"
                );
                let rows = query(sqlx::AssertSqlSafe(sql))
                    .bind(org_id)
                    .bind(pattern)
                    .bind(i64::try_from(page.limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                let members = rows
                    .iter()
                    .map(|row| {
                        let role: String = row.try_get("role")?;
                        Ok($crate::organizations::store::MemberRecord {
                            user_id: row.try_get("user_id")?,
                            email: row.try_get("email")?,
                            username: row.try_get("username")?,
                            first_name: row.try_get("first_name")?,
                            last_name: row.try_get("last_name")?,
                            role: org_role_from(&role)?,
                            joined_at: from_ts(row.try_get("joined_at")?)?,
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok((members, count(total)))
            }

            async fn change_member(
                &self,
                change: $crate::organizations::store::MemberChange,
                effects: Effects,
            ) -> Result<$crate::organizations::store::MemberOutcome> {
                use $crate::organizations::store::{MemberOutcome, OrgRole, may_change};
                let mut tx = begin(self).await?;
                // Every change of this organization's members waits here for the one before.
                if !lock_live_org(&mut tx, change.org_id).await? {
                    return Ok(MemberOutcome::ActorNotMember);
                }
                let Some(actor) = member_role_in_tx(&mut tx, change.org_id, change.actor_id).await?
                else {
                    return Ok(MemberOutcome::ActorNotMember);
                };
                let Some(target) = member_role_in_tx(&mut tx, change.org_id, change.user_id).await?
                else {
                    return Ok(MemberOutcome::NotMember);
                };
                if !may_change(actor, target, &change) {
                    return Ok(MemberOutcome::Forbidden);
                }
                if target == OrgRole::Owner && change.role != Some(OrgRole::Owner) {
                    let owners: i64 = query_scalar(
                        "SELECT COUNT(*) FROM org_members WHERE org_id = $1 AND role = 'owner'",
                    )
                    .bind(change.org_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    if owners <= 1 {
                        return Ok(MemberOutcome::LastOwner);
                    }
                }
                let done = match change.role {
                    Some(role) => {
                        query(
                            "UPDATE org_members SET role = $1 WHERE org_id = $2 AND user_id = $3",
                        )
                        .bind(role.as_str())
                        .bind(change.org_id)
                        .bind(change.user_id)
                        .execute(&mut *tx)
                        .await?
                    }
                    None => {
                        query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
                            .bind(change.org_id)
                            .bind(change.user_id)
                            .execute(&mut *tx)
                            .await?
                    }
                };
                if commit_if_changed(tx, done.rows_affected(), effects).await? {
                    Ok(MemberOutcome::Changed { previous: target })
                } else {
                    Ok(MemberOutcome::NotMember)
                }
            }

            async fn add_invitation(
                &self,
                invitation: $crate::organizations::store::InvitationRecord,
                effects: Effects,
            ) -> Result<()> {
                let mut tx = begin(self).await?;
                let sql = format!(
                    "SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL{LOCK_REFERENCED}"
                );
                query(sqlx::AssertSqlSafe(sql))
                    .bind(invitation.org_id)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(Error::NotFound("organization"))?;
                query(
                    "INSERT INTO org_invitations (id, org_id, email, role, token_digest, \
                     inviter_id, state, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8)",
                )
                .bind(invitation.id)
                .bind(invitation.org_id)
                .bind(&invitation.email)
                .bind(invitation.role.as_str())
                .bind(invitation.digest.as_str())
                .bind(invitation.inviter_id)
                .bind(ts(invitation.created_at))
                .bind(ts(invitation.expires_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| match Error::from(e) {
                    Error::Conflict(_) => Error::Conflict(ConflictKind::Other),
                    other => other,
                })?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(())
            }

            async fn org_invitations(
                &self,
                org_id: Uuid,
                now: Timestamp,
            ) -> Result<Vec<$crate::organizations::store::InvitationRecord>> {
                let sql = format!(
                    "SELECT {INVITATION_COLUMNS} FROM org_invitations i \
                     WHERE i.org_id = $1 AND i.state = 'pending' AND i.expires_at > $2 \
                     ORDER BY i.created_at, i.id"
                );
                let rows = query(sqlx::AssertSqlSafe(sql))
                    .bind(org_id)
                    .bind(ts(now))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(invitation_from_row).collect()
            }

            async fn invitations_for(
                &self,
                email: &str,
                now: Timestamp,
            ) -> Result<
                Vec<(
                    $crate::organizations::store::InvitationRecord,
                    $crate::organizations::store::OrgRecord,
                )>,
            > {
                let sql = format!(
                    "SELECT {INVITATION_COLUMNS}, {INVITATION_WITH_ORG} FROM org_invitations i \
                     JOIN organizations o ON o.id = i.org_id \
                     WHERE i.email = $1 AND i.state = 'pending' AND i.expires_at > $2 \
                     AND o.deleted_at IS NULL ORDER BY i.created_at, i.id"
                );
                let rows = query(sqlx::AssertSqlSafe(sql))
                    .bind(email)
                    .bind(ts(now))
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(invitation_and_org_from_row).collect()
            }

            async fn invitation_by_digest(
                &self,
                digest: &TokenDigest,
            ) -> Result<
                Option<(
                    $crate::organizations::store::InvitationRecord,
                    $crate::organizations::store::OrgRecord,
                )>,
            > {
                let sql = format!(
                    "SELECT {INVITATION_COLUMNS}, {INVITATION_WITH_ORG} FROM org_invitations i \
                     JOIN organizations o ON o.id = i.org_id WHERE i.token_digest = $1"
                );
                let row = query(sqlx::AssertSqlSafe(sql))
                    .bind(digest.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(invitation_and_org_from_row).transpose()
            }

            async fn decide_invitation(
                &self,
                org_id: Uuid,
                id: Uuid,
                decision: $crate::organizations::store::InvitationDecision,
                now: Timestamp,
                effects: Effects,
            ) -> Result<$crate::organizations::store::InvitationOutcome> {
                use $crate::organizations::store::{InvitationDecision, InvitationOutcome};
                let mut tx = begin(self).await?;
                if !lock_live_org(&mut tx, org_id).await? {
                    return Ok(InvitationOutcome::NotPending);
                }
                let state = match decision {
                    InvitationDecision::Accept { .. } => "accepted",
                    InvitationDecision::Decline => "declined",
                    InvitationDecision::Revoke => "revoked",
                };
                // The single use: only the update that finds it pending decides it.
                let role: Option<String> = if RETURNING {
                    query_scalar(
                        "UPDATE org_invitations SET state = $1, decided_at = $2 \
                         WHERE id = $3 AND org_id = $4 AND state = 'pending' AND expires_at > $2 \
                         RETURNING role",
                    )
                    .bind(state)
                    .bind(ts(now))
                    .bind(id)
                    .bind(org_id)
                    .fetch_optional(&mut *tx)
                    .await?
                } else {
                    // MySQL: no UPDATE ... RETURNING; the row the UPDATE decided (and holds
                    // locked) is read back.
                    let decided = query(
                        "UPDATE org_invitations SET state = $1, decided_at = $2 \
                         WHERE id = $3 AND org_id = $4 AND state = 'pending' AND expires_at > $2",
                    )
                    .bind(state)
                    .bind(ts(now))
                    .bind(id)
                    .bind(org_id)
                    .execute(&mut *tx)
                    .await?;
                    if decided.rows_affected() == 0 {
                        None
                    } else {
                        query_scalar("SELECT role FROM org_invitations WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                };
                let Some(role) = role else {
                    return Ok(InvitationOutcome::NotPending);
                };
                if let InvitationDecision::Accept { user_id } = decision {
                    ensure_user(&mut tx, user_id).await?;
                    let joined = query(
                        "INSERT INTO org_members (org_id, user_id, role, joined_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    )
                    .bind(org_id)
                    .bind(user_id)
                    .bind(&role)
                    .bind(ts(now))
                    .execute(&mut *tx)
                    .await?;
                    if joined.rows_affected() == 0 {
                        // Rolled back: the invitation stays pending.
                        return Ok(InvitationOutcome::AlreadyMember);
                    }
                }
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(InvitationOutcome::Done)
            }

            async fn all_orgs(
                &self,
                search: Option<&str>,
                deleted: Option<bool>,
                page: Page,
            ) -> Result<(Vec<$crate::organizations::store::OrgSummary>, u64)> {
                let pattern = search.map(|q| format!("%{}%", escape_like(q)));
                let matches = like_ci("(o.name || ' ' || o.slug)", "$1");
                let filter = format!(
                    "FROM organizations o WHERE ($1 IS NULL OR {matches} ESCAPE '\\') \
                     AND ($2 IS NULL OR (o.deleted_at IS NOT NULL) = $2)"
                );
                let total: i64 =
                    query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) {filter}")))
                        .bind(pattern.clone())
                        .bind(deleted)
                        .fetch_one(&self.pool)
                        .await?;
                let sql = format!(
                    "SELECT {ORG_COLUMNS}, {ORG_MEMBER_COUNT} \
                     {filter} ORDER BY o.created_at DESC, o.id DESC LIMIT $3 OFFSET $4"
                );
                let rows = query(sqlx::AssertSqlSafe(sql))
                    .bind(pattern)
                    .bind(deleted)
                    .bind(i64::try_from(page.limit).unwrap_or(i64::MAX))
                    .bind(i64::try_from(page.offset()).unwrap_or(i64::MAX))
                    .fetch_all(&self.pool)
                    .await?;
                let orgs = rows
                    .iter()
                    .map(org_summary_from_row)
                    .collect::<Result<Vec<_>>>()?;
                Ok((orgs, count(total)))
            }

            async fn org_summary(
                &self,
                org_id: Uuid,
            ) -> Result<Option<$crate::organizations::store::OrgSummary>> {
                let sql = format!(
                    "SELECT {ORG_COLUMNS}, {ORG_MEMBER_COUNT} FROM organizations o WHERE o.id = $1"
                );
                let row = query(sqlx::AssertSqlSafe(sql))
                    .bind(org_id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(org_summary_from_row).transpose()
            }

            async fn switch_session_org(
                &self,
                switch: $crate::organizations::store::SessionOrgSwitch,
                effects: Effects,
            ) -> Result<bool> {
                let mut tx = begin(self).await?;
                // The session first (it is extended, so it cannot end under the switch), then
                // the membership under a share lock of its organization.
                let extended = query(
                    "UPDATE sessions SET expires_at = $1, last_activity_at = $2 \
                     WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL AND expires_at > $2",
                )
                .bind(ts(switch.expires_at))
                .bind(ts(switch.now))
                .bind(switch.session_id)
                .bind(switch.user_id)
                .execute(&mut *tx)
                .await?;
                if extended.rows_affected() == 0 {
                    return Ok(false);
                }
                query("DELETE FROM session_orgs WHERE session_id = $1")
                    .bind(switch.session_id)
                    .execute(&mut *tx)
                    .await?;
                if let Some(org_id) = switch.org_id {
                    let sql = format!(
                        "SELECT id FROM organizations WHERE id = $1 AND deleted_at IS NULL{LOCK_REFERENCED}"
                    );
                    let org_live = query(sqlx::AssertSqlSafe(sql))
                        .bind(org_id)
                        .fetch_optional(&mut *tx)
                        .await?
                        .is_some();
                    if !org_live || member_role_in_tx(&mut tx, org_id, switch.user_id).await?.is_none() {
                        return Ok(false);
                    }
                    query("INSERT INTO session_orgs (session_id, org_id) VALUES ($1, $2)")
                        .bind(switch.session_id)
                        .bind(org_id)
                        .execute(&mut *tx)
                        .await?;
                }
                query(
                    "UPDATE refresh_tokens SET rotated_at = $1 \
                     WHERE session_id = $2 AND rotated_at IS NULL",
                )
                .bind(ts(switch.now))
                .bind(switch.session_id)
                .execute(&mut *tx)
                .await?;
                query(
                    "INSERT INTO refresh_tokens (digest, session_id, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(switch.next_refresh.as_str())
                .bind(switch.session_id)
                .bind(ts(switch.now))
                .bind(ts(switch.expires_at))
                .execute(&mut *tx)
                .await?;
                write_effects(&mut tx, effects).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn session_in_org(
                &self,
                session_id: Uuid,
            ) -> Result<Option<$crate::organizations::store::SessionInOrg>> {
                // `session_with_user`'s statement and row reader (sessions/sql.rs) with the
                // active membership joined.
                let rows = query($crate::sessions::sql::session_and_user_by_id!(
                    columns: [$crate::organizations::sql::active_org_columns!()],
                    joins: [$crate::organizations::sql::active_org_joins!()]
                ))
                .bind(session_id)
                .fetch_all(&self.pool)
                .await?;
                session_in_org_from_rows(&rows)
            }

            async fn rotate_refresh_token_in_org(
                &self,
                presented: &TokenDigest,
                next: &TokenDigest,
                now: Timestamp,
                expires_at: Timestamp,
                grace: Duration,
            ) -> Result<(RefreshRotation, Option<$crate::organizations::store::SessionInOrg>)> {
                let grace_from = ts(now - grace);
                match ROTATION {
                    // One statement, so one round trip and its own commit: the read, the three
                    // writes (data-modifying CTEs; every part sees the same snapshot, and the
                    // session's UPDATE re-checks `revoked_at` on the row it locks), and the read
                    // of what the access token needs.
                    $crate::sessions::sql::Rotation::OneStatement => {
                        let rows = query(REFRESH_IN_ONE_STATEMENT)
                            .bind(presented.as_str())
                            .bind(next.as_str())
                            .bind(ts(now))
                            .bind(ts(expires_at))
                            .bind(grace_from)
                            .fetch_all(&self.pool)
                            .await?;
                        let Some(row) = rows.first() else {
                            return Ok((RefreshRotation::Invalid, None));
                        };
                        let extended: bool = row.try_get("extended")?;
                        let session = if extended {
                            session_in_org_from_rows(&rows)?
                        } else {
                            None
                        };
                        Ok((rotation_as_written(row, extended, now, grace)?, session))
                    }
                    // One hand-off to the connection's thread inside the writer's turn: the
                    // transaction, its read, its writes and the read of what the access token
                    // needs as one batch of statements (SQLite runs them in order, under the
                    // write lock `BEGIN IMMEDIATE` took, so the state the first read saw is the
                    // state the writes' conditions see).
                    $crate::sessions::sql::Rotation::OneBatch => {
                        // sqlx's own `query`, which is SQLite's (MySQL's translating one,
                        // compiled here too, makes no batch).
                        let batch =
                            sqlx::query::<Db>(REFRESH_IN_ONE_BATCH)
                                .bind(presented.as_str())
                                .bind(next.as_str())
                                .bind(ts(now))
                                .bind(ts(expires_at))
                                .bind(grace_from);
                        let rows = self
                            .pool
                            .transaction_in_one_batch(write_turn(self).await?, batch)
                            .await?;
                        // The first read's row; when the writes happened, the session `UPDATE`'s
                        // row, then the session read's rows.
                        let Some(row) = rows.first() else {
                            return Ok((RefreshRotation::Invalid, None));
                        };
                        let extended = rows.len() > 1;
                        let session = if extended {
                            crate::store::replay::record_durable_write();
                            session_in_org_from_rows(&rows[2..])?
                        } else {
                            None
                        };
                        Ok((rotation_as_written(row, extended, now, grace)?, session))
                    }
                    $crate::sessions::sql::Rotation::InSteps => {
                        let rotation =
                            rotate_in_steps(self, presented, next, now, expires_at, grace).await?;
                        $crate::organizations::store::with_session_read(self, rotation).await
                    }
                }
            }

            async fn purge_deleted_orgs(&self, cutoff: Timestamp, limit: u64) -> Result<Vec<Uuid>> {
                let mut tx = begin(self).await?;
                // Memberships and invitations go by ON DELETE CASCADE.
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let ids: Vec<Uuid> = if RETURNING {
                    query_scalar(
                        "DELETE FROM organizations WHERE id IN (SELECT id FROM organizations \
                         WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
                         ORDER BY deleted_at LIMIT $2) RETURNING id",
                    )
                    .bind(ts(cutoff))
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?
                } else {
                    // MySQL: no DELETE ... RETURNING, no LIMIT in an IN subquery. The batch is
                    // read under its locks, then deleted row by row by the same condition.
                    let batch: Vec<Uuid> = query_scalar(
                        "SELECT id FROM organizations \
                         WHERE deleted_at IS NOT NULL AND deleted_at < $1 \
                         ORDER BY deleted_at LIMIT $2 FOR UPDATE",
                    )
                    .bind(ts(cutoff))
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut deleted = Vec::with_capacity(batch.len());
                    for id in batch {
                        let gone = query(
                            "DELETE FROM organizations WHERE id = $1 \
                             AND deleted_at IS NOT NULL AND deleted_at < $2",
                        )
                        .bind(id)
                        .bind(ts(cutoff))
                        .execute(&mut *tx)
                        .await?;
                        if gone.rows_affected() > 0 {
                            deleted.push(id);
                        }
                    }
                    deleted
                };
                tx.commit().await?;
                Ok(ids)
            }
        }
    };
}
pub(crate) use organizations_sql;
