//! The route table: one row per endpoint. Adapters mount [`super::API_PREFIX`] and
//! [`super::ROOT_PATHS`]; everything below is matched here, so both frameworks serve exactly
//! the same routes (and the OpenAPI document can be checked against this table).

/// Every endpoint the API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Endpoint {
    Health,
    Ready,
    Live,
    HealthDetailed,
    Metrics,
    Jwks,
    Register,
    Login,
    Logout,
    Refresh,
    VerifyEmailGet,
    VerifyEmailPost,
    ResendVerification,
    ForgotPassword,
    ResetPassword,
    ChangePassword,
    CheckEmail,
    CheckUsername,
    GetProfile,
    ReplaceProfile,
    PatchProfile,
    UpdatePreferences,
    PublicProfile,
    ListSessions,
    RevokeSession,
    RevokeOtherSessions,
    LoginTwoFactor,
    TwoFactorStatus,
    TwoFactorSetup,
    TwoFactorEnable,
    TwoFactorDisable,
    TwoFactorVerify,
    TwoFactorBackupCodes,
    ListNotifications,
    MarkNotificationRead,
    MarkAllNotificationsRead,
    DeleteNotification,
    DeleteAllNotifications,
    ListRoles,
    ListPermissions,
    GetRole,
    CreateRole,
    UpdateRole,
    DeleteRole,
    UserRoles,
    AssignRole,
    RemoveRole,
    AdminDashboard,
    AdminListUsers,
    AdminGetUser,
    AdminResetPassword,
    AdminVerifyEmail,
    AdminUnlock,
    AdminSuspend,
    AdminReactivate,
    AdminDeleteUser,
    AdminImpersonate,
    AdminBulkAssignRole,
    AccountDeactivate,
    AccountReactivate,
    AccountDelete,
    AccountRecover,
    AccountPermanentDelete,
    AccountExport,
    UploadAvatar,
    DeleteAvatar,
    GetAvatar,
    CompatDeleteUser,
    AuditList,
    AuditStats,
    AuditAnalytics,
    AuditUser,
    AuditCleanup,
    OpenApi,
    Docs,
    DocsAsset,
}

/// One row of the route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Upper-case method.
    pub method: &'static str,
    /// Full path with `{param}` segments.
    pub path: &'static str,
    /// What serves it.
    pub endpoint: Endpoint,
    /// Whether it needs a bearer token.
    pub authenticated: bool,
    /// One line for humans (and the OpenAPI document).
    pub summary: &'static str,
    /// A route of the first seed, served only when `Config::compatibility_routes` is on.
    pub compat: bool,
}

const fn route(
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    authenticated: bool,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        authenticated,
        summary,
        compat: false,
    }
}

/// A compatibility route of the first seed (see [`Route::compat`]).
const fn compat(
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    authenticated: bool,
    summary: &'static str,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        authenticated,
        summary,
        compat: true,
    }
}

use Endpoint as E;

/// The whole table.
pub static ROUTES: &[Route] = &[
    route("GET", "/health", E::Health, false, "Liveness and version"),
    route(
        "GET",
        "/ready",
        E::Ready,
        false,
        "Readiness: storage answers",
    ),
    route("GET", "/live", E::Live, false, "Liveness probe"),
    route(
        "GET",
        "/health/detailed",
        E::HealthDetailed,
        false,
        "Database and mail outbox; 503 when degraded",
    ),
    route(
        "GET",
        "/metrics",
        E::Metrics,
        false,
        "Prometheus metrics: requests, latencies, logins, hash queue, mail backlog",
    ),
    route(
        "GET",
        "/.well-known/jwks.json",
        E::Jwks,
        false,
        "Public keys verifying access tokens (EdDSA)",
    ),
    route(
        "POST",
        "/api/v1/auth/register",
        E::Register,
        false,
        "Register a user and mail a verification link",
    ),
    route(
        "POST",
        "/api/v1/auth/login",
        E::Login,
        false,
        "Log in with email or username and password",
    ),
    route(
        "POST",
        "/api/v1/auth/login/2fa",
        E::LoginTwoFactor,
        false,
        "Complete a login with a TOTP or backup code",
    ),
    route(
        "POST",
        "/api/v1/auth/logout",
        E::Logout,
        true,
        "End the current session",
    ),
    route(
        "POST",
        "/api/v1/auth/refresh",
        E::Refresh,
        false,
        "Rotate a refresh token for a new token pair",
    ),
    route(
        "GET",
        "/api/v1/auth/verify-email",
        E::VerifyEmailGet,
        false,
        "Confirm an email address (link from the mail)",
    ),
    route(
        "POST",
        "/api/v1/auth/verify-email",
        E::VerifyEmailPost,
        false,
        "Confirm an email address",
    ),
    route(
        "POST",
        "/api/v1/auth/resend-verification",
        E::ResendVerification,
        false,
        "Mail a new verification link",
    ),
    route(
        "POST",
        "/api/v1/auth/forgot-password",
        E::ForgotPassword,
        false,
        "Mail a password-reset link",
    ),
    route(
        "POST",
        "/api/v1/auth/reset-password",
        E::ResetPassword,
        false,
        "Set a new password with a reset token",
    ),
    route(
        "POST",
        "/api/v1/auth/change-password",
        E::ChangePassword,
        true,
        "Change the password (ends other sessions)",
    ),
    route(
        "GET",
        "/api/v1/auth/check-email",
        E::CheckEmail,
        false,
        "Is an email address free?",
    ),
    route(
        "GET",
        "/api/v1/auth/check-username",
        E::CheckUsername,
        false,
        "Is a username free?",
    ),
    route(
        "GET",
        "/api/v1/users/profile",
        E::GetProfile,
        true,
        "The caller's user and profile",
    ),
    route(
        "PUT",
        "/api/v1/users/profile",
        E::ReplaceProfile,
        true,
        "Replace the caller's profile",
    ),
    route(
        "PATCH",
        "/api/v1/users/profile",
        E::PatchProfile,
        true,
        "Update fields of the caller's profile",
    ),
    route(
        "PUT",
        "/api/v1/users/preferences",
        E::UpdatePreferences,
        true,
        "Shallow-merge preferences",
    ),
    route(
        "GET",
        "/api/v1/users/{username}",
        E::PublicProfile,
        false,
        "A user's public profile",
    ),
    route(
        "GET",
        "/api/v1/sessions",
        E::ListSessions,
        true,
        "The caller's active sessions",
    ),
    route(
        "DELETE",
        "/api/v1/sessions/{sessionId}",
        E::RevokeSession,
        true,
        "End one of the caller's sessions",
    ),
    route(
        "POST",
        "/api/v1/sessions/revoke-all",
        E::RevokeOtherSessions,
        true,
        "End every other session",
    ),
    route(
        "GET",
        "/api/v1/2fa/status",
        E::TwoFactorStatus,
        true,
        "Two-factor state and backup codes left",
    ),
    route(
        "POST",
        "/api/v1/2fa/setup",
        E::TwoFactorSetup,
        true,
        "A new TOTP secret, otpauth URL and QR code",
    ),
    route(
        "POST",
        "/api/v1/2fa/enable",
        E::TwoFactorEnable,
        true,
        "Confirm the setup with a code; returns backup codes",
    ),
    route(
        "POST",
        "/api/v1/2fa/disable",
        E::TwoFactorDisable,
        true,
        "Turn two-factor off with a code or the password",
    ),
    route(
        "POST",
        "/api/v1/2fa/verify",
        E::TwoFactorVerify,
        true,
        "Step-up check of a TOTP or backup code",
    ),
    route(
        "POST",
        "/api/v1/2fa/backup-codes",
        E::TwoFactorBackupCodes,
        true,
        "Replace the backup codes",
    ),
    route(
        "GET",
        "/api/v1/notifications",
        E::ListNotifications,
        true,
        "The caller's notifications, newest first, with unreadCount",
    ),
    route(
        "PATCH",
        "/api/v1/notifications/{id}/read",
        E::MarkNotificationRead,
        true,
        "Mark a notification read",
    ),
    route(
        "PATCH",
        "/api/v1/notifications/read-all",
        E::MarkAllNotificationsRead,
        true,
        "Mark every notification read",
    ),
    route(
        "DELETE",
        "/api/v1/notifications/{id}",
        E::DeleteNotification,
        true,
        "Delete a notification",
    ),
    route(
        "DELETE",
        "/api/v1/notifications",
        E::DeleteAllNotifications,
        true,
        "Delete every notification",
    ),
    route(
        "GET",
        "/api/v1/roles",
        E::ListRoles,
        true,
        "Every role with permissions and user count [role:read]",
    ),
    route(
        "GET",
        "/api/v1/roles/permissions",
        E::ListPermissions,
        true,
        "Every permission [role:read]",
    ),
    route(
        "GET",
        "/api/v1/roles/{id}",
        E::GetRole,
        true,
        "One role [role:read]",
    ),
    route(
        "POST",
        "/api/v1/roles",
        E::CreateRole,
        true,
        "Create a role [role:create]",
    ),
    route(
        "PUT",
        "/api/v1/roles/{id}",
        E::UpdateRole,
        true,
        "Change a role [role:update]",
    ),
    route(
        "DELETE",
        "/api/v1/roles/{id}",
        E::DeleteRole,
        true,
        "Delete a role no user holds [role:delete]",
    ),
    route(
        "GET",
        "/api/v1/roles/user/{userId}",
        E::UserRoles,
        true,
        "A user's roles [user:read]",
    ),
    route(
        "POST",
        "/api/v1/roles/user/{userId}/assign",
        E::AssignRole,
        true,
        "Give a user a role [role:assign]",
    ),
    route(
        "DELETE",
        "/api/v1/roles/user/{userId}/{roleId}",
        E::RemoveRole,
        true,
        "Take a role from a user [role:assign]",
    ),
    route(
        "GET",
        "/api/v1/admin/dashboard",
        E::AdminDashboard,
        true,
        "User, session and role figures [admin:access]",
    ),
    route(
        "GET",
        "/api/v1/admin/users",
        E::AdminListUsers,
        true,
        "Search users: q, role, status, verified, sortBy, order, page, limit [user:read]",
    ),
    route(
        "GET",
        "/api/v1/admin/users/{userId}",
        E::AdminGetUser,
        true,
        "A user with profile, roles, sessions, 2FA and lockout state [user:read]",
    ),
    route(
        "POST",
        "/api/v1/admin/users/{userId}/reset-password",
        E::AdminResetPassword,
        true,
        "End a user's sessions and mail a reset link [user:manage]",
    ),
    route(
        "POST",
        "/api/v1/admin/users/{userId}/verify-email",
        E::AdminVerifyEmail,
        true,
        "Mark a user's email verified [user:manage]",
    ),
    route(
        "POST",
        "/api/v1/admin/users/{userId}/unlock",
        E::AdminUnlock,
        true,
        "Clear a user's lockout [user:manage]",
    ),
    route(
        "POST",
        "/api/v1/admin/users/{userId}/suspend",
        E::AdminSuspend,
        true,
        "Suspend a user; sessions end [user:manage]",
    ),
    route(
        "POST",
        "/api/v1/admin/users/{userId}/reactivate",
        E::AdminReactivate,
        true,
        "Lift a suspension or deactivation [user:manage]",
    ),
    route(
        "DELETE",
        "/api/v1/admin/users/{userId}",
        E::AdminDeleteUser,
        true,
        "Soft-delete a user [user:delete]",
    ),
    route(
        "POST",
        "/api/v1/admin/users/{userId}/impersonate",
        E::AdminImpersonate,
        true,
        "A 15-minute token acting as the user [admin:access]",
    ),
    route(
        "POST",
        "/api/v1/admin/bulk/assign-role",
        E::AdminBulkAssignRole,
        true,
        "Give many users one role [role:assign]",
    ),
    route(
        "POST",
        "/api/v1/account/deactivate",
        E::AccountDeactivate,
        true,
        "Deactivate the caller's account",
    ),
    route(
        "POST",
        "/api/v1/account/reactivate",
        E::AccountReactivate,
        false,
        "Reactivate a deactivated account with email and password",
    ),
    route(
        "DELETE",
        "/api/v1/account",
        E::AccountDelete,
        true,
        "Soft-delete the caller's account (30-day recovery window)",
    ),
    route(
        "POST",
        "/api/v1/account/recover",
        E::AccountRecover,
        false,
        "Recover a deleted account within the window",
    ),
    route(
        "POST",
        "/api/v1/account/permanent-delete",
        E::AccountPermanentDelete,
        true,
        "Delete the caller's account and data for good",
    ),
    route(
        "GET",
        "/api/v1/account/export",
        E::AccountExport,
        true,
        "Every stored datum of the caller (GDPR), as a JSON attachment",
    ),
    route(
        "POST",
        "/api/v1/upload/avatar",
        E::UploadAvatar,
        true,
        "Upload the caller's avatar (multipart, JPEG/PNG/WebP, at most 2 MB)",
    ),
    route(
        "DELETE",
        "/api/v1/upload/avatar",
        E::DeleteAvatar,
        true,
        "Remove the caller's avatar",
    ),
    route(
        "GET",
        "/api/v1/upload/avatars/{key}",
        E::GetAvatar,
        false,
        "An avatar image",
    ),
    route(
        "GET",
        "/api/v1/audit",
        E::AuditList,
        true,
        "The audit trail, newest first: userId, action, resource, startDate, endDate, page, limit [audit:read]",
    ),
    route(
        "GET",
        "/api/v1/audit/stats",
        E::AuditStats,
        true,
        "Rows of the last 30 days, top actions and resources [audit:read]",
    ),
    route(
        "GET",
        "/api/v1/audit/analytics",
        E::AuditAnalytics,
        true,
        "Users, activity and logins of the last 30 days [audit:read]",
    ),
    route(
        "GET",
        "/api/v1/audit/user/{userId}",
        E::AuditUser,
        true,
        "One user's activity, newest first [audit:read]",
    ),
    route(
        "POST",
        "/api/v1/audit/cleanup",
        E::AuditCleanup,
        true,
        "Delete rows older than retentionDays (90) [system:manage]",
    ),
    route(
        "GET",
        "/api/v1/openapi.json",
        E::OpenApi,
        false,
        "This API as an OpenAPI 3.1 document",
    ),
    route(
        "GET",
        "/docs",
        E::Docs,
        false,
        "The interactive API page (Swagger UI, served offline)",
    ),
    route(
        "GET",
        "/docs/{*file}",
        E::DocsAsset,
        false,
        "Files of the API page",
    ),
    compat(
        "POST",
        "/api/v1/users/register",
        E::Register,
        false,
        "First seed: register (as POST /auth/register)",
    ),
    compat(
        "GET",
        "/api/v1/users",
        E::AdminListUsers,
        true,
        "First seed: list users (as GET /admin/users) [user:read]",
    ),
    compat(
        "POST",
        "/api/v1/users/reset-password",
        E::ForgotPassword,
        false,
        "First seed: mail a reset link (never a password)",
    ),
    compat(
        "PUT",
        "/api/v1/users/change-password",
        E::ChangePassword,
        true,
        "First seed: change password (as POST /auth/change-password)",
    ),
    compat(
        "DELETE",
        "/api/v1/users/{username}",
        E::CompatDeleteUser,
        true,
        "First seed: soft-delete a user by id [user:delete]",
    ),
    compat(
        "POST",
        "/api/v1/auth/confirm-email",
        E::VerifyEmailPost,
        false,
        "First seed: confirm an email address",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_builds_without_conflicts_and_has_no_duplicates() {
        let mut router = matchit::Router::new();
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES {
            assert!(
                seen.insert((r.method, r.path)),
                "duplicate {} {}",
                r.method,
                r.path
            );
            let _ = router.insert(r.path, ());
        }
        for r in ROUTES {
            assert!(router.at(r.path).is_ok(), "{} unreachable", r.path);
        }
        assert_eq!(router.at("/api/v1/users/profile").unwrap().params.len(), 0);
        assert_eq!(
            router
                .at("/api/v1/users/alice")
                .unwrap()
                .params
                .get("username"),
            Some("alice")
        );
    }
}
