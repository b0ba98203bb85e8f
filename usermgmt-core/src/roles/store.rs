//! The storage of this capability: [`RoleStore`], implemented by every store (`memory.rs` beside
//! this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// Roles, their permissions and their assignment to users. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait RoleStore: Send + Sync + 'static {
    /// The permissions the user's current roles grant, sorted, without duplicates.
    async fn user_permissions(&self, user_id: Uuid) -> Result<Vec<String>>;
    /// Every permission with its description, sorted by name.
    async fn permission_catalog(&self) -> Result<Vec<(String, String)>>;
    /// Every role with permissions and user count, sorted by name.
    async fn list_roles(&self) -> Result<Vec<RoleRecord>>;
    /// One role.
    async fn role_by_id(&self, id: Uuid) -> Result<Option<RoleRecord>>;
    /// Creates a role. `Conflict(RoleName)` when the name is taken.
    async fn create_role(&self, role: NewRole, effects: Effects) -> Result<RoleRecord>;
    /// Changes a role. `NotFound("role")`; `SystemRole` when renaming a system role;
    /// `Conflict(RoleName)` when the new name is taken.
    async fn update_role(
        &self,
        id: Uuid,
        change: RoleChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<RoleRecord>;
    /// Deletes a role. `NotFound("role")`; `SystemRole`; `RoleInUse` while a user holds it;
    /// `Conflict(Other)` when `checked_permissions` is given and the role no longer holds
    /// exactly those (see [`RoleChange::checked_permissions`]).
    async fn delete_role(
        &self,
        id: Uuid,
        checked_permissions: Option<&[String]>,
        effects: Effects,
    ) -> Result<()>;
    /// Gives a user a role. `NotFound("user" | "role")`; false (and no effects) when the user
    /// holds it already.
    async fn assign_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
    /// Takes a role from a user. `NotFound("user" | "role assignment")`; `LastRole` when it is the
    /// user's only one (decided under a lock on the user, so concurrent removals cannot leave
    /// a user with no role).
    async fn remove_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()>;
}
