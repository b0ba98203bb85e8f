//! What the first migration seeds, for the memory store and the permission checks alike:
//! the permissions, their catalog, and the grants of the seeded `moderator` role (the seeded
//! role names and ids are in `store/mod.rs` and `store/admin.rs`).

/// Every permission, as seeded by the first migration.
pub const PERMISSIONS: &[&str] = &[
    "user:read",
    "user:create",
    "user:update",
    "user:delete",
    "user:manage",
    "role:read",
    "role:create",
    "role:update",
    "role:delete",
    "role:assign",
    "admin:access",
    "admin:settings",
    "audit:read",
    "system:manage",
];

/// Every permission with its description, as seeded (the memory store's catalog; the SQL
/// stores read theirs from the `permissions` table, filled with the same rows).
pub const PERMISSION_CATALOG: &[(&str, &str)] = &[
    ("admin:access", "Use the admin API"),
    ("admin:settings", "Change settings"),
    ("audit:read", "Read the audit trail"),
    ("role:assign", "Assign and remove roles"),
    ("role:create", "Create roles"),
    ("role:delete", "Delete roles"),
    ("role:read", "Read roles and permissions"),
    ("role:update", "Update roles"),
    ("system:manage", "Operate the system"),
    ("user:create", "Create users"),
    ("user:delete", "Delete users"),
    (
        "user:manage",
        "Manage accounts: reset, verify, unlock, suspend, reactivate",
    ),
    ("user:read", "Read any user"),
    ("user:update", "Update any user"),
];

/// The permissions of the seeded `moderator` role.
pub const MODERATOR_PERMISSIONS: &[&str] = &[
    "user:read",
    "user:update",
    "role:read",
    "audit:read",
    "admin:access",
];
