//! The shapes answers share (`components.schemas`), built from the same shapes the DTOs
//! serialise; each route's own `data` is documented on its row. Objects list every field they carry, and every field is
//! present in every answer (an absent value is `null`, never a missing key), so each is
//! `required`. The HTTP suite checks every answer of every case against these schemas, treating
//! objects as closed, so a field added to a DTO without its schema fails the suite.

use super::schema::*;
use serde_json::{Value, json};

/// `UserDto`'s members (shared with `AdminUserDto`, which flattens it).
fn user_members() -> Vec<(&'static str, Value)> {
    vec![
        ("id", uuid()),
        ("email", json!({"type": "string", "format": "email"})),
        ("username", string()),
        ("firstName", nullable_string()),
        ("lastName", nullable_string()),
        (
            "avatar",
            json!({"type": ["string", "null"], "description": "URL of the avatar image"}),
        ),
        ("emailVerified", boolean()),
        ("isActive", boolean()),
        ("isSuspended", boolean()),
        ("twoFactorEnabled", boolean()),
        ("roles", strings()),
        ("createdAt", date_time()),
        ("lastLoginAt", nullable_date_time()),
    ]
}

fn admin_user() -> Value {
    let mut members = user_members();
    members.extend([
        (
            "status",
            json!({"type": "string", "enum": ["active", "inactive", "suspended", "deleted"]}),
        ),
        ("failedLoginAttempts", integer()),
        ("lockedUntil", nullable_date_time()),
        ("deletedAt", nullable_date_time()),
        ("updatedAt", date_time()),
    ]);
    record(&members)
}

fn session() -> Value {
    record(&[
        ("id", uuid()),
        ("deviceInfo", reference("DeviceInfo")),
        ("ipAddress", nullable_string()),
        ("userAgent", nullable_string()),
        ("lastActivity", date_time()),
        ("createdAt", date_time()),
        ("expiresAt", date_time()),
        ("isCurrent", boolean()),
    ])
}

/// A session as the GDPR export lists it (ended ones too, without the "current" flag).
pub(crate) fn exported_session() -> Value {
    record(&[
        ("id", uuid()),
        ("deviceInfo", reference("DeviceInfo")),
        ("ipAddress", nullable_string()),
        ("userAgent", nullable_string()),
        ("createdAt", date_time()),
        ("lastActivity", date_time()),
        ("expiresAt", date_time()),
        ("revokedAt", nullable_date_time()),
    ])
}

/// The named shapes answers share, for `components.schemas`.
pub(super) fn components() -> Vec<(&'static str, Value)> {
    let mut shapes = account_shapes();
    shapes.extend(activity_shapes());
    shapes
}

/// A user, their profile and their tokens.
fn account_shapes() -> Vec<(&'static str, Value)> {
    vec![
        ("User", record(&user_members())),
        ("AdminUser", admin_user()),
        (
            "PublicProfile",
            record(&[
                ("id", uuid()),
                ("username", string()),
                ("firstName", nullable_string()),
                ("lastName", nullable_string()),
                ("avatar", nullable_string()),
                ("createdAt", date_time()),
            ]),
        ),
        (
            "Profile",
            record(&[
                ("bio", nullable_string()),
                ("phone", nullable_string()),
                (
                    "dateOfBirth",
                    json!({"type": ["string", "null"], "format": "date"}),
                ),
                ("address", nullable_string()),
                ("city", nullable_string()),
                ("country", nullable_string()),
                ("timezone", nullable_string()),
                ("language", nullable_string()),
                ("preferences", free_object()),
            ]),
        ),
        (
            "Tokens",
            record(&[
                ("accessToken", string()),
                ("refreshToken", string()),
                ("tokenType", json!({"const": "Bearer"})),
                (
                    "expiresIn",
                    json!({"type": "integer", "description": "Seconds"}),
                ),
            ]),
        ),
        (
            "DeviceInfo",
            record(&[
                ("browser", string()),
                ("browserVersion", nullable_string()),
                ("os", string()),
                ("deviceType", string()),
            ]),
        ),
    ]
}

/// What users do and hold: sessions, notifications, roles, the audit trail, and the answers
/// built of them.
fn activity_shapes() -> Vec<(&'static str, Value)> {
    vec![
        ("Session", session()),
        (
            "Notification",
            record(&[
                ("id", uuid()),
                (
                    "type",
                    json!({"type": "string", "description": "PASSWORD_CHANGED, EMAIL_VERIFIED, LOGIN_ALERT, SECURITY_ALERT, ROLE_CHANGED, ACCOUNT_UPDATE or an application's own"}),
                ),
                ("title", string()),
                ("message", string()),
                ("data", json!({})),
                ("read", boolean()),
                ("readAt", nullable_date_time()),
                ("createdAt", date_time()),
            ]),
        ),
        (
            "Role",
            record(&[
                ("id", uuid()),
                ("name", string()),
                ("description", nullable_string()),
                ("isSystem", boolean()),
                ("permissions", strings()),
                ("userCount", integer()),
                ("createdAt", date_time()),
                ("updatedAt", date_time()),
            ]),
        ),
        (
            "AuditEvent",
            record(&[
                ("id", uuid()),
                ("action", string()),
                ("actorId", nullable_uuid()),
                ("userId", nullable_uuid()),
                ("resource", string()),
                ("resourceId", nullable_string()),
                ("ipAddress", nullable_string()),
                ("userAgent", nullable_string()),
                ("details", json!({})),
                ("createdAt", date_time()),
            ]),
        ),
        (
            "UserDetail",
            record(&[
                ("user", reference("AdminUser")),
                ("profile", reference("Profile")),
                ("roles", strings()),
                ("permissions", strings()),
                ("sessions", array(reference("Session"))),
                (
                    "twoFactor",
                    record(&[("enabled", boolean()), ("backupCodesRemaining", integer())]),
                ),
                (
                    "lockout",
                    record(&[
                        ("failedAttempts", integer()),
                        ("locked", boolean()),
                        ("lockedUntil", nullable_date_time()),
                    ]),
                ),
            ]),
        ),
        (
            "LoginSuccess",
            record(&[("user", reference("User")), ("tokens", reference("Tokens"))]),
        ),
        (
            "TwoFactorChallenge",
            record(&[
                ("twoFactorRequired", json!({"const": true})),
                ("challengeToken", string()),
                (
                    "expiresIn",
                    json!({"type": "integer", "description": "Seconds"}),
                ),
                ("methods", strings()),
            ]),
        ),
    ]
}
