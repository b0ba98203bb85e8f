//! The roles API (SPEC §6 Roles): define roles over the fixed permission set and assign them.
//! Every call checks the caller's permission itself, so a host app calling core directly is as
//! safe as the HTTP API.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub mod rbac;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::domain::AuditAction;
use crate::error::{ConflictKind, Error, FieldError, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{
    AuditEvent, Effects, NewRole, NotificationType, RoleChange, RoleRecord, UserRecord,
};
use serde_json::json;
use uuid::Uuid;

/// A role to create, as received.
#[derive(Debug, Clone, Default)]
pub struct RoleInput {
    /// `[a-z_]`, 3–50 characters.
    pub name: Option<String>,
    /// Free text (at most 500 characters); `Some(None)` clears it on update.
    pub description: Option<Option<String>>,
    /// Permissions; at least one.
    pub permissions: Option<Vec<String>>,
}

/// Whether a user gained or lost a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Membership {
    Gained,
    Lost,
}

/// The largest number of users one bulk assignment takes.
pub const MAX_BULK_USERS: usize = 1000;

fn validate_name(name: &str, errors: &mut Vec<FieldError>) {
    let ok_len = (3..=50).contains(&name.len());
    let ok_chars = name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !ok_len || !ok_chars {
        errors.push(FieldError::new(
            "name",
            "must be 3 to 50 characters of a-z and _",
        ));
    }
}

fn validate_permissions(permissions: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if permissions.is_empty() {
        errors.push(FieldError::new(
            "permissions",
            "must name at least one permission",
        ));
    }
    // The second seed's spelling (`USER_READ`) is read as ours (`user:read`); only ours is
    // stored and answered.
    let mut unique = Vec::with_capacity(permissions.len());
    for (i, p) in permissions.iter().enumerate() {
        match rbac::canonical_permission(p) {
            Some(name) => unique.push(name.to_owned()),
            None => errors.push(FieldError::new(
                format!("permissions[{i}]"),
                format!("unknown permission {p:?}"),
            )),
        }
    }
    unique.sort();
    unique.dedup();
    unique
}

fn validate_description(description: &Option<String>, errors: &mut Vec<FieldError>) {
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 500 || crate::domain::has_control_chars(d))
    {
        errors.push(FieldError::new(
            "description",
            "must be at most 500 characters, without control characters",
        ));
    }
}

/// How often a role change or deletion re-reads the role and checks it again when the role's
/// permissions changed between the check and the write (then 409 `CONFLICT`).
const ROLE_CHECK_ATTEMPTS: u32 = 3;

impl UserManager {
    /// An audit row about a role (`resource_id` names the role).
    fn role_audit(
        &self,
        action: AuditAction,
        auth: &AuthenticatedUser,
        user: Option<Uuid>,
        role_id: Uuid,
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> AuditEvent {
        let mut event = self.audit(
            action,
            Some(self.actor_id(auth)),
            user,
            "role",
            client,
            details,
        );
        event.resource_id = Some(role_id.to_string());
        event
    }

    /// A role that exists; `NotFound("role")` otherwise.
    async fn existing_role(&self, id: Uuid) -> Result<RoleRecord> {
        self.inner
            .store
            .role_by_id(id)
            .await?
            .ok_or(Error::NotFound("role"))
    }

    /// The audit row and ROLE_CHANGED notification of a user gaining or losing `role`.
    fn role_change_effects(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        role: &RoleRecord,
        change: Membership,
        client: &ClientInfo,
    ) -> Effects {
        let (action, title, message, word) = match change {
            Membership::Gained => (
                AuditAction::RoleAssigned,
                "Role added",
                format!("You were given the role \"{}\".", role.name),
                "assigned",
            ),
            Membership::Lost => (
                AuditAction::RoleRemoved,
                "Role removed",
                format!("The role \"{}\" was taken from you.", role.name),
                "removed",
            ),
        };
        Effects::audit(self.role_audit(
            action,
            auth,
            Some(user_id),
            role.id,
            client,
            json!({"role": role.name}),
        ))
        .with_notification(self.notification(
            user_id,
            NotificationType::RoleChanged,
            title,
            &message,
            json!({"role": role.name, "change": word}),
        ))
    }

    /// Every permission with its description (needs `role:read`).
    pub async fn permission_catalog(
        &self,
        auth: &AuthenticatedUser,
    ) -> Result<Vec<(String, String)>> {
        self.authorize(auth, "role:read").await?;
        self.inner.store.permission_catalog().await
    }

    /// Every role with permissions and user count (needs `role:read`).
    pub async fn list_roles(&self, auth: &AuthenticatedUser) -> Result<Vec<RoleRecord>> {
        self.authorize(auth, "role:read").await?;
        self.inner.store.list_roles().await
    }

    /// One role (needs `role:read`).
    pub async fn role(&self, auth: &AuthenticatedUser, id: Uuid) -> Result<RoleRecord> {
        self.authorize(auth, "role:read").await?;
        self.existing_role(id).await
    }

    /// Creates a role (needs `role:create`).
    pub async fn create_role(
        &self,
        auth: &AuthenticatedUser,
        input: RoleInput,
        client: &ClientInfo,
    ) -> Result<RoleRecord> {
        self.authorize(auth, "role:create").await?;
        self.ensure_not_impersonated(auth)?;
        let mut errors = Vec::new();
        let name = input.name.unwrap_or_default();
        validate_name(&name, &mut errors);
        let description = input.description.flatten();
        validate_description(&description, &mut errors);
        let permissions = validate_permissions(&input.permissions.unwrap_or_default(), &mut errors);
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        self.ensure_holds_all(auth, &permissions).await?;
        let id = Uuid::now_v7();
        let audit = self.role_audit(
            AuditAction::RoleCreated,
            auth,
            None,
            id,
            client,
            json!({"name": name, "permissions": permissions}),
        );
        self.inner
            .store
            .create_role(
                NewRole {
                    id,
                    name,
                    description,
                    permissions,
                    created_at: self.now(),
                },
                Effects::audit(audit),
            )
            .await
    }

    /// Changes a role's name, description or permissions (needs `role:update`); the caller must hold
    /// every permission the role holds, and every one it is given. System roles keep their
    /// names.
    pub async fn update_role(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        input: RoleInput,
        client: &ClientInfo,
    ) -> Result<RoleRecord> {
        self.authorize(auth, "role:update").await?;
        self.ensure_not_impersonated(auth)?;
        let mut errors = Vec::new();
        if let Some(name) = &input.name {
            validate_name(name, &mut errors);
        }
        if let Some(description) = &input.description {
            validate_description(description, &mut errors);
        }
        let permissions = input
            .permissions
            .as_ref()
            .map(|p| validate_permissions(p, &mut errors));
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let audit = self.role_audit(
            AuditAction::RoleUpdated,
            auth,
            None,
            id,
            client,
            json!({
                "name": input.name,
                "descriptionChanged": input.description.is_some(),
                "permissions": permissions,
            }),
        );
        let change = RoleChange {
            name: input.name,
            description: input.description,
            permissions,
            checked_permissions: None,
        };
        let mut attempt = 0;
        loop {
            // Any change to a role, even of its name or description, needs every permission it
            // holds: otherwise an editor could rename a stronger role, or re-describe it, to
            // mislead whoever hands it out. The store applies the change only while the role
            // still holds what was checked here.
            let current = self.role_within_reach(auth, id).await?;
            // What it is given must be the caller's as well.
            if let Some(permissions) = &change.permissions {
                self.ensure_holds_all(auth, permissions).await?;
            }
            let checked = RoleChange {
                checked_permissions: Some(current.permissions),
                ..change.clone()
            };
            match self
                .inner
                .store
                .update_role(id, checked, self.now(), Effects::audit(audit.clone()))
                .await
            {
                Err(Error::Conflict(ConflictKind::Other)) if attempt + 1 < ROLE_CHECK_ATTEMPTS => {
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    /// Deletes a role no user holds (needs `role:delete`), when the caller holds every permission it
    /// holds; system roles stay.
    pub async fn delete_role(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.authorize(auth, "role:delete").await?;
        self.ensure_not_impersonated(auth)?;
        let mut attempt = 0;
        loop {
            // Deleting is bounded like changing: a lesser editor cannot remove a stronger role,
            // nor one made stronger between this check and the delete.
            let role = self.role_within_reach(auth, id).await?;
            let audit = self.role_audit(
                AuditAction::RoleDeleted,
                auth,
                None,
                id,
                client,
                json!({"name": role.name}),
            );
            match self
                .inner
                .store
                .delete_role(id, Some(&role.permissions), Effects::audit(audit))
                .await
            {
                Err(Error::Conflict(ConflictKind::Other)) if attempt + 1 < ROLE_CHECK_ATTEMPTS => {
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    /// The role, when the caller holds every permission it holds (403 otherwise).
    async fn role_within_reach(&self, auth: &AuthenticatedUser, id: Uuid) -> Result<RoleRecord> {
        let role = self.existing_role(id).await?;
        self.ensure_holds_all(auth, &role.permissions).await?;
        Ok(role)
    }

    /// A user's roles (needs `user:read`).
    pub async fn roles_of_user(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
    ) -> Result<(UserRecord, Vec<RoleRecord>)> {
        self.authorize(auth, "user:read").await?;
        let user = self.existing_user(user_id).await?;
        let roles = self.roles_held(&user).await?;
        Ok((user, roles))
    }

    /// The roles `user` holds (no permission check: for answers of calls already authorised).
    pub(crate) async fn roles_held(&self, user: &UserRecord) -> Result<Vec<RoleRecord>> {
        Ok(self
            .inner
            .store
            .list_roles()
            .await?
            .into_iter()
            .filter(|r| user.roles.contains(&r.name))
            .collect())
    }

    /// Gives a user a role (needs `role:assign`); true when it was new. Raises ROLE_CHANGED.
    pub async fn assign_role(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        role_id: Uuid,
        client: &ClientInfo,
    ) -> Result<bool> {
        self.authorize(auth, "role:assign").await?;
        self.ensure_not_impersonated(auth)?;
        self.assign_role_checked(auth, user_id, role_id, client)
            .await
    }

    async fn assign_role_checked(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        role_id: Uuid,
        client: &ClientInfo,
    ) -> Result<bool> {
        let role = self.existing_role(role_id).await?;
        self.ensure_holds_all(auth, &role.permissions).await?;
        self.existing_user(user_id).await?;
        let effects = self.role_change_effects(auth, user_id, &role, Membership::Gained, client);
        self.inner
            .store
            .assign_role(user_id, role_id, self.now(), effects)
            .await
    }

    /// Takes a role from a user (needs `role:assign`); a user keeps at least one role.
    pub async fn remove_role(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        role_id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.authorize(auth, "role:assign").await?;
        self.ensure_not_impersonated(auth)?;
        let role = self.existing_role(role_id).await?;
        // Taking a role away is bounded like giving it.
        self.ensure_holds_all(auth, &role.permissions).await?;
        let effects = self.role_change_effects(auth, user_id, &role, Membership::Lost, client);
        self.inner
            .store
            .remove_role(user_id, role_id, self.now(), effects)
            .await
    }

    /// Gives many users one role (needs `role:assign`); returns how many did not hold it before.
    /// Unknown or deleted users are skipped (counted in the total, not in `assigned`).
    pub async fn assign_role_bulk(
        &self,
        auth: &AuthenticatedUser,
        user_ids: &[Uuid],
        role_id: Uuid,
        client: &ClientInfo,
    ) -> Result<u64> {
        self.authorize(auth, "role:assign").await?;
        self.ensure_not_impersonated(auth)?;
        if user_ids.is_empty() || user_ids.len() > MAX_BULK_USERS {
            return Err(Error::invalid(
                "userIds",
                format!("must hold 1 to {MAX_BULK_USERS} user ids"),
            ));
        }
        self.existing_role(role_id).await?;
        let mut assigned = 0;
        let mut seen = std::collections::HashSet::new();
        for &user_id in user_ids {
            if !seen.insert(user_id) {
                continue;
            }
            match self
                .assign_role_checked(auth, user_id, role_id, client)
                .await
            {
                Ok(true) => assigned += 1,
                Ok(false) | Err(Error::NotFound("user")) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(assigned)
    }

    /// A user that exists and is not deleted; `NotFound("user")` otherwise.
    pub(crate) async fn existing_user(&self, user_id: Uuid) -> Result<UserRecord> {
        self.inner
            .store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(Error::NotFound("user"))
    }
}
