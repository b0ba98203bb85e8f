//! Roles and permissions (SPEC §7). Permissions are evaluated from the user's current role
//! assignments on every check, so a change takes effect on the next request.
//!
//! Host apps protect their own routes with a permission *type*, checked at compile time for
//! spelling: `Authorized<perm::UserRead>` in either adapter, or their guard/middleware.

use crate::auth::AuthenticatedUser;
use crate::error::{Error, Result};
use crate::manager::UserManager;

pub use crate::store::seed::{MODERATOR_PERMISSIONS, PERMISSION_CATALOG, PERMISSIONS};

/// Our name of a permission written ours (`user:read`) or the second seed's way (`USER_READ`,
/// `ROLE_ASSIGN`, `ADMIN_ACCESS`: upper case, `_` for `:`), so that seed's role definitions
/// and guards keep working; `None` for a name that is neither. Answers always use ours.
pub fn canonical_permission(name: &str) -> Option<&'static str> {
    PERMISSIONS
        .iter()
        .copied()
        .find(|ours| *ours == name || seed_spelling(ours).eq(name.chars()))
}

/// The second seed's spelling of one of our permission names.
fn seed_spelling(ours: &str) -> impl Iterator<Item = char> + '_ {
    ours.chars().map(|c| match c {
        ':' => '_',
        c => c.to_ascii_uppercase(),
    })
}

/// Every permission name [`canonical_permission`] reads: ours, then the second seed's.
pub fn accepted_permission_names() -> Vec<String> {
    let seed = PERMISSIONS.iter().map(|p| seed_spelling(p).collect());
    PERMISSIONS
        .iter()
        .map(|p| (*p).to_owned())
        .chain(seed)
        .collect()
}

/// A permission named by a type, so a misspelt permission does not compile.
pub trait Permission: Send + Sync + 'static {
    /// The permission's name (`user:read`).
    const NAME: &'static str;
}

/// One marker type per permission of [`PERMISSIONS`].
pub mod perm {
    macro_rules! permissions {
        ($($ty:ident = $name:literal),* $(,)?) => {
            $(
                #[doc = concat!("The `", $name, "` permission.")]
                #[derive(Debug, Clone, Copy)]
                pub struct $ty;
                impl super::Permission for $ty {
                    const NAME: &'static str = $name;
                }
            )*
        };
    }
    permissions!(
        UserRead = "user:read",
        UserCreate = "user:create",
        UserUpdate = "user:update",
        UserDelete = "user:delete",
        UserManage = "user:manage",
        RoleRead = "role:read",
        RoleCreate = "role:create",
        RoleUpdate = "role:update",
        RoleDelete = "role:delete",
        RoleAssign = "role:assign",
        AdminAccess = "admin:access",
        AdminSettings = "admin:settings",
        AuditRead = "audit:read",
        SystemManage = "system:manage",
    );
}

impl UserManager {
    /// The caller's permissions from their current roles, sorted. On an impersonation token
    /// they are those the user AND the impersonating administrator hold now: acting as someone
    /// never lends the user's permissions to an administrator who lacks them (or lost them
    /// after the impersonation began), nor the administrator's to the user's session.
    pub async fn permissions(&self, auth: &AuthenticatedUser) -> Result<Vec<String>> {
        let store = &self.inner.store;
        let mut held = store.user_permissions(auth.user.id).await?;
        if auth.is_impersonated() {
            // `admit` refuses an `act` that names no one; should one get here, it grants nothing.
            let admins = match auth.impersonator() {
                Some(admin_id) => store.user_permissions(admin_id).await?,
                None => Vec::new(),
            };
            held.retain(|p| admins.contains(p));
        }
        // A key grants at most its scopes, and only while the owner holds them.
        if let Some(key) = &auth.api_key {
            held.retain(|p| key.scopes.contains(p));
        }
        Ok(held)
    }

    /// `Forbidden` unless the caller's current roles grant `permission` (ours, `user:read`, or
    /// the second seed's spelling, `USER_READ`; an unknown name grants nothing).
    pub async fn authorize(&self, auth: &AuthenticatedUser, permission: &str) -> Result<()> {
        let permission = canonical_permission(permission).unwrap_or(permission);
        if self
            .permissions(auth)
            .await?
            .iter()
            .any(|p| p == permission)
        {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// `Forbidden` on an impersonation token: such a token cannot change password, two-factor
    /// or account state, nor impersonate (SPEC §6 Admin).
    pub fn ensure_not_impersonated(&self, auth: &AuthenticatedUser) -> Result<()> {
        if auth.is_impersonated() {
            Err(Error::Forbidden)
        } else {
            Ok(())
        }
    }

    /// `Forbidden` unless the caller holds every one of `permissions`: nobody hands out (by
    /// role definition, assignment or impersonation) more than they hold themselves.
    pub(crate) async fn ensure_holds_all(
        &self,
        auth: &AuthenticatedUser,
        permissions: &[String],
    ) -> Result<()> {
        let held = self.permissions(auth).await?;
        if permissions.iter().all(|p| held.contains(p)) {
            Ok(())
        } else {
            Err(Error::Forbidden)
        }
    }

    /// Who really acts, for audit rows: the impersonating administrator, else the user.
    pub(crate) fn actor_id(&self, auth: &AuthenticatedUser) -> uuid::Uuid {
        auth.actor_id()
    }

    /// `ApiKeyNotAllowed` on an API key: what a key may never do (manage keys, passwords,
    /// two-factor, sessions, passkeys or the account; sign in or out). The API refuses such
    /// routes before their handler runs (`api_keys::routes::refuse_keys_where_forbidden`); the
    /// services that manage keys check it too, for host apps calling core directly.
    pub fn ensure_not_api_key(&self, auth: &AuthenticatedUser) -> Result<()> {
        if auth.is_api_key() {
            Err(Error::ApiKeyNotAllowed)
        } else {
            Ok(())
        }
    }

    /// Authenticates a bearer token and checks a permission in one step (for guards).
    pub async fn authenticate_with(
        &self,
        bearer: &str,
        permission: &str,
    ) -> Result<AuthenticatedUser> {
        let auth = self.authenticate(bearer).await?;
        self.authorize(&auth, permission).await?;
        Ok(auth)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_seeds_permission_names_read_as_ours() {
        for (seed, ours) in [
            ("USER_READ", "user:read"),
            ("USER_CREATE", "user:create"),
            ("USER_UPDATE", "user:update"),
            ("USER_DELETE", "user:delete"),
            ("USER_MANAGE", "user:manage"),
            ("ROLE_READ", "role:read"),
            ("ROLE_CREATE", "role:create"),
            ("ROLE_UPDATE", "role:update"),
            ("ROLE_DELETE", "role:delete"),
            ("ROLE_ASSIGN", "role:assign"),
            ("ADMIN_ACCESS", "admin:access"),
            ("ADMIN_SETTINGS", "admin:settings"),
            ("AUDIT_READ", "audit:read"),
            ("SYSTEM_MANAGE", "system:manage"),
        ] {
            assert_eq!(canonical_permission(seed), Some(ours), "{seed}");
            assert_eq!(canonical_permission(ours), Some(ours), "{ours}");
        }
        for unknown in [
            "USER_READS",
            "user_read",
            "User_Read",
            "USER:READ",
            "user:Read",
            "",
        ] {
            assert_eq!(canonical_permission(unknown), None, "{unknown:?}");
        }
        assert_eq!(accepted_permission_names().len(), 2 * PERMISSIONS.len());
    }

    #[test]
    fn marker_types_name_seeded_permissions() {
        assert!(PERMISSIONS.contains(&perm::UserRead::NAME));
        assert!(PERMISSIONS.contains(&perm::SystemManage::NAME));
        assert_eq!(PERMISSIONS.len(), 14);
        assert_eq!(PERMISSION_CATALOG.len(), 14);
        assert!(
            PERMISSION_CATALOG
                .iter()
                .all(|(p, _)| PERMISSIONS.contains(p))
        );
        assert!(
            MODERATOR_PERMISSIONS
                .iter()
                .all(|p| PERMISSIONS.contains(p))
        );
    }
}
