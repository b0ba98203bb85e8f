//! Records of the roles and administration part of the [`Store`](super::Store): roles, account
//! state changes, user search, dashboard figures and the GDPR export.

use super::{AuditEvent, NotificationRecord, Page, SessionRecord, Timestamp};
use uuid::Uuid;

/// Fixed id of the seeded `admin` role (first migration).
pub const ADMIN_ROLE_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0001);
/// Fixed id of the seeded `moderator` role.
pub const MODERATOR_ROLE_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0002);
/// Fixed id of the seeded `user` role.
pub const USER_ROLE_ID: Uuid = Uuid::from_u128(0x0000_0000_0000_7000_8000_0000_0000_0003);

/// A role with its permissions and how many users hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// Role id (the seeded ones are fixed, see [`ADMIN_ROLE_ID`]).
    pub id: Uuid,
    /// `[a-z_]`, 3–50 characters.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Seeded roles cannot be renamed or deleted.
    pub is_system: bool,
    /// Granted permissions, sorted.
    pub permissions: Vec<String>,
    /// Users holding the role.
    pub user_count: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A role to create.
#[derive(Debug, Clone)]
pub struct NewRole {
    /// UUID v7.
    pub id: Uuid,
    /// Validated name.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Permissions (each one of [`crate::store::seed::PERMISSIONS`]).
    pub permissions: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// A change to a role: `None` keeps a field.
#[derive(Debug, Clone, Default)]
pub struct RoleChange {
    /// New name (refused for system roles unless unchanged).
    pub name: Option<String>,
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// The new, complete permission set.
    pub permissions: Option<Vec<String>>,
    /// The permissions the caller was checked against: the change applies only while the role
    /// still holds exactly these, decided under the role's lock (`Conflict(Other)` otherwise),
    /// so a role strengthened between the check and the write is not changed by a weaker
    /// caller. `None` applies unconditionally (seeding, host code that checked nothing).
    pub checked_permissions: Option<Vec<String>>,
}

/// Whether a role's permissions are still the ones a caller was checked against (`None`:
/// nothing was checked). Order and repeats do not matter.
pub(crate) fn permissions_unchanged(current: &[String], checked: Option<&[String]>) -> bool {
    fn set(p: &[String]) -> std::collections::BTreeSet<&str> {
        p.iter().map(String::as_str).collect()
    }
    checked.is_none_or(|checked| set(current) == set(checked))
}

/// A change of an account's state. Each applies only from the states named, so two concurrent
/// changes cannot both win; the store answers `None` when the account is not (or no longer) in
/// such a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// The owner deactivates: from active, not deleted. Ends every session.
    Deactivate,
    /// The owner reactivates: from deactivated, not deleted.
    Reactivate,
    /// An administrator suspends: from not suspended, not deleted. Ends every session.
    Suspend,
    /// An administrator lifts a suspension and a deactivation: from suspended or deactivated.
    Unsuspend,
    /// Soft delete: from not deleted. Ends every session.
    SoftDelete,
    /// Undo a soft delete made after `deleted_after` (the recovery window).
    Recover {
        /// Oldest deletion time still recoverable.
        deleted_after: Timestamp,
    },
    /// An administrator marks the email verified: from unverified, not deleted.
    VerifyEmail,
    /// An administrator clears the failure counter and any lock: from not deleted.
    Unlock,
}

/// Account states a search can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    /// Not deactivated, not suspended, not deleted.
    Active,
    /// Deactivated by the owner, not deleted.
    Inactive,
    /// Suspended by an administrator, not deleted.
    Suspended,
    /// Soft-deleted (inside the recovery window).
    Deleted,
}

impl UserStatus {
    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "inactive" => Some(Self::Inactive),
            "suspended" => Some(Self::Suspended),
            "deleted" => Some(Self::Deleted),
            _ => None,
        }
    }
}

/// The columns a user search may sort by (a whitelist: never interpolated from input).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortField {
    /// Registration time (the default).
    CreatedAt,
    /// Last change.
    UpdatedAt,
    /// Last successful login.
    LastLoginAt,
    /// Email address.
    Email,
    /// Username.
    Username,
    /// Given name.
    FirstName,
    /// Family name.
    LastName,
}

impl UserSortField {
    /// Every field with its wire name.
    pub const ALL: &'static [(&'static str, UserSortField)] = &[
        ("createdAt", UserSortField::CreatedAt),
        ("updatedAt", UserSortField::UpdatedAt),
        ("lastLoginAt", UserSortField::LastLoginAt),
        ("email", UserSortField::Email),
        ("username", UserSortField::Username),
        ("firstName", UserSortField::FirstName),
        ("lastName", UserSortField::LastName),
    ];

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == s).map(|(_, f)| *f)
    }

    /// Whether the column may be NULL (a user who never signed in, one without names): those
    /// need the dialect's NULL ordering, which keeps MySQL from walking the column's index.
    pub fn nullable(self) -> bool {
        matches!(self, Self::LastLoginAt | Self::FirstName | Self::LastName)
    }

    /// The column name.
    pub fn column(self) -> &'static str {
        match self {
            Self::CreatedAt => "created_at",
            Self::UpdatedAt => "updated_at",
            Self::LastLoginAt => "last_login_at",
            Self::Email => "email",
            Self::Username => "username",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
        }
    }
}

/// A search over users (admin API).
#[derive(Debug, Clone)]
pub struct UserSearch {
    /// Case-insensitive substring of email, username, first or last name.
    pub query: Option<String>,
    /// Only holders of this role name.
    pub role: Option<String>,
    /// Only this state; without it, deleted users are left out.
    pub status: Option<UserStatus>,
    /// Only (un)verified addresses.
    pub verified: Option<bool>,
    /// Sort column.
    pub sort_by: UserSortField,
    /// Descending order.
    pub descending: bool,
    /// Which page.
    pub page: Page,
}

/// Figures for the admin dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DashboardCounts {
    /// Users not deleted.
    pub users_total: u64,
    /// Active users (not deactivated, suspended or deleted).
    pub users_active: u64,
    /// Users with a verified address (not deleted).
    pub users_verified: u64,
    /// Users with two-factor enabled (not deleted).
    pub users_with_two_factor: u64,
    /// Users registered since the given time (not deleted).
    pub users_new: u64,
    /// Sessions neither revoked nor expired.
    pub active_sessions: u64,
}

/// One UTC day of the dashboard's charts: counted from `users.created_at` and the audit rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailyActivity {
    /// The day (UTC), from its midnight to the next.
    pub day: time::Date,
    /// Accounts created that day still on record (soft-deleted ones included: they signed up).
    pub sign_ups: u64,
    /// Sessions opened that day (`USER_LOGIN` rows: password, two-factor, passkey and social
    /// sign-ins alike).
    pub sign_ins: u64,
    /// Refused sign-in attempts that day (`LOGIN_FAILED` rows).
    pub failed_sign_ins: u64,
    /// Accounts locked that day by failed attempts (`ACCOUNT_LOCKED` rows).
    pub lockouts: u64,
}

/// The `[start, end)` of each of `days` days from `first_day` on (a UTC midnight), for the
/// stores' [`DailyActivity`].
pub(crate) fn day_bounds(
    first_day: Timestamp,
    days: u32,
) -> impl Iterator<Item = (Timestamp, Timestamp)> {
    (0..i64::from(days)).map(move |i| {
        let start = first_day + time::Duration::days(i);
        (start, start + time::Duration::days(1))
    })
}

/// What the store keeps of a user beyond the user row and profile, for the GDPR export.
/// Secrets and hashes are never part of it.
#[derive(Debug, Clone, Default)]
pub struct UserDataExport {
    /// Every session, ended ones included.
    pub sessions: Vec<SessionRecord>,
    /// Audit rows about the user or by the user, oldest first.
    pub audit: Vec<AuditEvent>,
    /// Every notification.
    pub notifications: Vec<NotificationRecord>,
    /// When the password was set or changed (the hashes stay out).
    pub password_changes: Vec<Timestamp>,
}

/// Which audit rows to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Rows about this user or done by them.
    pub user_id: Option<Uuid>,
    /// Exact action (`USER_LOGIN`).
    pub action: Option<String>,
    /// Exact resource kind (`user`, `session`, `role`, ...).
    pub resource: Option<String>,
    /// At or after.
    pub from: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
}

/// Audit figures since a point in time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditStats {
    /// Rows since then.
    pub total: u64,
    /// The most frequent actions with their counts, most frequent first.
    pub top_actions: Vec<(String, u64)>,
    /// The most frequent resource kinds with their counts, most frequent first.
    pub top_resources: Vec<(String, u64)>,
}

/// User activity figures (audit analytics).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActivityCounts {
    /// Users not deleted.
    pub users_total: u64,
    /// Of those, with a verified address.
    pub users_verified: u64,
    /// Users whose last login is in the last day.
    pub active_day: u64,
    /// ... in the last 7 days.
    pub active_week: u64,
    /// ... in the last 30 days.
    pub active_month: u64,
    /// Users registered in the last 30 days (not deleted).
    pub new_users: u64,
    /// `USER_LOGIN` rows in the last 30 days.
    pub logins: u64,
    /// `LOGIN_FAILED` rows in the last 30 days.
    pub failed_logins: u64,
}
