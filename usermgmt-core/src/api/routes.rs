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
    }
}

use Endpoint as E;

/// The whole table.
pub const ROUTES: &[Route] = &[
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
