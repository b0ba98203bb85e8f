//! What each endpoint answers: the `data` of its success envelope, built from the same shapes
//! the DTOs serialise (`api::dto`). Objects list every field they carry, and every field is
//! present in every answer (an absent value is `null`, never a missing key), so each is
//! `required`. The HTTP suite checks every answer of every case against these schemas, treating
//! objects as closed, so a field added to a DTO without its schema fails the suite.

use super::super::routes::Endpoint;
use serde_json::{Map, Value, json};

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

fn integer() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn uuid() -> Value {
    json!({"type": "string", "format": "uuid"})
}

fn nullable_uuid() -> Value {
    json!({"type": ["string", "null"], "format": "uuid"})
}

fn date_time() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn nullable_date_time() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

fn strings() -> Value {
    array(string())
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// Any JSON object (free-form: preferences, notification data, audit details).
fn free_object() -> Value {
    json!({"type": "object"})
}

/// An object whose every member is always present.
fn record(members: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for (name, schema) in members {
        properties.insert((*name).to_owned(), schema.clone());
    }
    let required: Vec<&str> = members.iter().map(|(name, _)| *name).collect();
    json!({"type": "object", "properties": properties, "required": required})
}

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
fn exported_session() -> Value {
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

/// A page of `items` under `key`, with its position.
fn page(key: &str, items: Value) -> Value {
    record(&[
        (key, array(items)),
        ("total", integer()),
        ("page", json!({"type": "integer", "minimum": 1})),
        ("limit", json!({"type": "integer", "minimum": 1})),
        ("totalPages", integer()),
    ])
}

fn with_user(name: &str) -> Value {
    record(&[("user", reference(name))])
}

fn count(name: &str) -> Value {
    record(&[(name, integer())])
}

/// The `data` of an endpoint's success envelope (`None`: the endpoint answers outside the
/// envelope). `compatibility_routes`: whether the first seed's `GET /users/{id}` shares the
/// public-profile path (an id there answers the admin detail).
pub(super) fn data(endpoint: Endpoint, compatibility_routes: bool) -> Option<Value> {
    use Endpoint as E;
    let null = || json!({"type": "null"});
    let two_factor_codes = || record(&[("backupCodes", strings())]);
    Some(match endpoint {
        E::Metrics | E::Jwks | E::GetAvatar | E::Docs | E::DocsAsset | E::OpenApi => return None,
        E::Health => record(&[("status", json!({"const": "ok"}))]),
        E::Live => record(&[("status", json!({"const": "alive"}))]),
        E::Ready => record(&[("status", json!({"const": "ready"}))]),
        E::HealthDetailed => record(&[
            (
                "status",
                json!({"type": "string", "enum": ["ok", "degraded"]}),
            ),
            ("version", string()),
            (
                "checks",
                record(&[
                    (
                        "database",
                        record(&[
                            ("status", json!({"type": "string", "enum": ["up", "down"]})),
                            ("latencyMs", json!({"type": "number", "minimum": 0})),
                        ]),
                    ),
                    (
                        "mailQueue",
                        json!({
                            "type": "object",
                            "properties": {
                                "status": {"type": "string", "enum": ["up", "unknown"]},
                                "backlog": {"type": "integer", "minimum": 0, "description": "Mails waiting (absent when unknown)"},
                            },
                            "required": ["status"],
                        }),
                    ),
                ]),
            ),
        ]),
        E::Register
        | E::VerifyEmailGet
        | E::VerifyEmailPost
        | E::AccountReactivateTwoFactor
        | E::AccountRecoverTwoFactor
        | E::DeleteAvatar => with_user("User"),
        E::AccountReactivate | E::AccountRecover => {
            json!({"oneOf": [with_user("User"), reference("TwoFactorChallenge")]})
        }
        E::Login => json!({"oneOf": [reference("LoginSuccess"), reference("TwoFactorChallenge")]}),
        E::LoginTwoFactor => reference("LoginSuccess"),
        E::Refresh => reference("Tokens"),
        E::Logout
        | E::ResendVerification
        | E::ForgotPassword
        | E::ResetPassword
        | E::MarkNotificationRead
        | E::DeleteNotification
        | E::TwoFactorDisable
        | E::DeleteRole
        | E::RemoveRole
        | E::RevokeSession
        | E::AccountDeactivate
        | E::AccountPermanentDelete => null(),
        E::ChangePassword | E::AdminResetPassword => count("revokedSessions"),
        E::CheckEmail | E::CheckUsername => record(&[("available", boolean())]),
        E::GetProfile | E::ReplaceProfile | E::PatchProfile => record(&[
            ("user", reference("User")),
            ("profile", reference("Profile")),
        ]),
        E::UpdatePreferences => record(&[("preferences", free_object())]),
        E::PublicProfile if compatibility_routes => json!({"oneOf": [
            reference("PublicProfile"),
            {"allOf": [reference("UserDetail")], "description": "First seed: `GET /users/{id}` with a user id [user:read]"},
        ]}),
        E::PublicProfile => reference("PublicProfile"),
        E::ListSessions => array(reference("Session")),
        E::RevokeOtherSessions => count("revokedCount"),
        E::TwoFactorStatus => record(&[
            ("enabled", boolean()),
            ("pendingSetup", boolean()),
            ("enabledAt", nullable_date_time()),
            ("backupCodesRemaining", integer()),
        ]),
        E::TwoFactorSetup => record(&[
            ("secret", json!({"type": "string", "description": "Base32"})),
            ("otpauthUrl", string()),
            (
                "qrCode",
                json!({"type": "string", "description": "data: URL of a PNG"}),
            ),
        ]),
        E::TwoFactorEnable | E::TwoFactorBackupCodes => two_factor_codes(),
        E::TwoFactorVerify => record(&[("verified", json!({"const": true}))]),
        E::ListNotifications => {
            let mut schema = page("notifications", reference("Notification"));
            schema["properties"]["unreadCount"] = integer();
            if let Some(required) = schema["required"].as_array_mut() {
                required.push(json!("unreadCount"));
            }
            schema
        }
        E::MarkAllNotificationsRead => count("updatedCount"),
        E::DeleteAllNotifications | E::AuditCleanup => count("deletedCount"),
        E::ListRoles => array(reference("Role")),
        E::ListPermissions => array(record(&[("name", string()), ("description", string())])),
        E::GetRole | E::CreateRole | E::UpdateRole => reference("Role"),
        E::UserRoles => record(&[("userId", uuid()), ("roles", array(reference("Role")))]),
        E::AssignRole => record(&[
            ("userId", uuid()),
            ("assigned", boolean()),
            ("roles", array(reference("Role"))),
        ]),
        E::AdminDashboard => record(&[
            (
                "users",
                record(&[
                    ("total", integer()),
                    ("active", integer()),
                    ("verified", integer()),
                    ("with2FA", integer()),
                    ("newThisWeek", integer()),
                ]),
            ),
            ("sessions", record(&[("active", integer())])),
            (
                "roles",
                array(record(&[
                    ("id", uuid()),
                    ("name", string()),
                    ("userCount", integer()),
                ])),
            ),
        ]),
        E::AdminListUsers => page("users", reference("AdminUser")),
        E::AdminGetUser => reference("UserDetail"),
        E::AdminVerifyEmail
        | E::AdminUnlock
        | E::AdminSuspend
        | E::AdminReactivate
        | E::AdminDeleteUser
        | E::CompatDeleteUser => with_user("AdminUser"),
        E::AdminImpersonate => record(&[
            ("accessToken", string()),
            ("tokenType", json!({"const": "Bearer"})),
            (
                "expiresIn",
                json!({"type": "integer", "description": "Seconds"}),
            ),
            ("user", reference("User")),
            ("impersonatorId", uuid()),
        ]),
        E::AdminBulkAssignRole => record(&[("assigned", integer()), ("total", integer())]),
        E::AccountDelete => record(&[("recoveryDeadline", date_time())]),
        E::AccountExport => record(&[
            ("exportedAt", date_time()),
            ("format", json!({"const": "usermgmt-export/1"})),
            ("user", reference("AdminUser")),
            ("profile", reference("Profile")),
            (
                "twoFactor",
                record(&[
                    ("enabled", boolean()),
                    ("enabledAt", nullable_date_time()),
                    ("backupCodesRemaining", integer()),
                ]),
            ),
            ("passwordChanges", array(date_time())),
            ("sessions", array(exported_session())),
            ("notifications", array(reference("Notification"))),
            ("auditTrail", array(reference("AuditEvent"))),
        ]),
        E::UploadAvatar => record(&[("avatar", string()), ("user", reference("User"))]),
        E::AuditList | E::AuditUser => page("logs", reference("AuditEvent")),
        E::AuditStats => record(&[
            ("periodDays", integer()),
            ("total", integer()),
            (
                "topActions",
                array(record(&[("action", string()), ("count", integer())])),
            ),
            (
                "topResources",
                array(record(&[("resource", string()), ("count", integer())])),
            ),
        ]),
        E::AuditAnalytics => record(&[
            (
                "users",
                record(&[
                    ("total", integer()),
                    ("verified", integer()),
                    (
                        "verificationRate",
                        json!({"type": "number", "minimum": 0, "maximum": 100, "description": "Percent"}),
                    ),
                ]),
            ),
            (
                "activeUsers",
                record(&[
                    ("today", integer()),
                    ("week", integer()),
                    ("month", integer()),
                ]),
            ),
            ("newUsers", record(&[("last30Days", integer())])),
            (
                "logins",
                record(&[("last30Days", integer()), ("failedLast30Days", integer())]),
            ),
        ]),
    })
}
