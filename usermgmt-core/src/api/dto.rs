//! Wire shapes (camelCase JSON). Request bodies refuse unknown fields; every field is optional
//! at the serde level so that validation can report all missing fields at once.

use crate::auth::TokenPair;
use crate::domain::DeviceInfo;
use crate::store::{ProfileRecord, SessionRecord, Timestamp, UserRecord};
use serde::{Deserialize, Deserializer, Serialize};
use time::Date;
use uuid::Uuid;

/// Distinguishes "absent" (`None`) from "null" (`Some(None)`).
fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// `POST /auth/register`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    /// Email.
    pub email: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// `POST /auth/login` (`email` accepted in place of `identifier`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    /// Email or username.
    pub identifier: Option<String>,
    /// Email (alias of identifier, as the first seed sent it).
    pub email: Option<String>,
    /// Username (alias of identifier).
    pub username: Option<String>,
    /// Password.
    pub password: Option<String>,
}

/// `POST /auth/refresh`, `POST /auth/logout`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token.
    pub refresh_token: Option<String>,
}

/// `POST /auth/verify-email`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenBody {
    /// The token from the email.
    pub token: Option<String>,
}

/// `POST /auth/resend-verification`, `POST /auth/forgot-password`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailBody {
    /// Email.
    pub email: Option<String>,
}

/// `POST /auth/reset-password`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordBody {
    /// The token from the email.
    pub token: Option<String>,
    /// New password.
    pub password: Option<String>,
    /// Repeated.
    pub confirm_password: Option<String>,
}

/// `POST /auth/change-password`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// Current password.
    pub current_password: Option<String>,
    /// New password.
    pub new_password: Option<String>,
    /// Repeated.
    pub confirm_password: Option<String>,
}

/// `POST /auth/login/2fa`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginTwoFactorBody {
    /// The challenge from the first step.
    pub challenge_token: Option<String>,
    /// A TOTP code or a backup code.
    pub code: Option<String>,
}

/// A body that must be empty (`{}`) or absent.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// `POST /2fa/enable`, `/2fa/verify`, `/2fa/backup-codes`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CodeBody {
    /// A TOTP code (or a backup code where accepted).
    pub code: Option<String>,
}

/// `POST /2fa/disable`: a current code or the password.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisableTwoFactorBody {
    /// A TOTP code or a backup code.
    pub code: Option<String>,
    /// The account password.
    pub password: Option<String>,
}

/// `GET /2fa/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TwoFactorStatusDto {
    pub enabled: bool,
    pub pending_setup: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub enabled_at: Option<Timestamp>,
    pub backup_codes_remaining: u32,
}

impl From<&crate::two_factor::TwoFactorStatus> for TwoFactorStatusDto {
    fn from(s: &crate::two_factor::TwoFactorStatus) -> Self {
        Self {
            enabled: s.enabled,
            pending_setup: s.pending_setup,
            enabled_at: s.enabled_at,
            backup_codes_remaining: s.backup_codes_remaining,
        }
    }
}

/// A login answered with a second-factor challenge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TwoFactorChallengeDto {
    pub two_factor_required: bool,
    pub challenge_token: String,
    pub expires_in: i64,
    pub methods: Vec<String>,
}

impl From<&crate::two_factor::TwoFactorChallenge> for TwoFactorChallengeDto {
    fn from(c: &crate::two_factor::TwoFactorChallenge) -> Self {
        Self {
            two_factor_required: true,
            challenge_token: c.challenge_token.expose().to_owned(),
            expires_in: c.expires_in,
            methods: c.methods.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}

/// `PUT|PATCH /users/profile`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ProfileBody {
    #[serde(default, deserialize_with = "double_option")]
    pub first_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub last_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub bio: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub date_of_birth: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub address: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub city: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub country: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub timezone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    pub language: Option<Option<String>>,
}

impl From<ProfileBody> for crate::profile::ProfileInput {
    fn from(b: ProfileBody) -> Self {
        Self {
            first_name: b.first_name,
            last_name: b.last_name,
            bio: b.bio,
            phone: b.phone,
            date_of_birth: b.date_of_birth,
            address: b.address,
            city: b.city,
            country: b.country,
            timezone: b.timezone,
            language: b.language,
        }
    }
}

/// The `User` object of SPEC §5. Never a hash or a secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub avatar: Option<String>,
    pub email_verified: bool,
    pub is_active: bool,
    pub is_suspended: bool,
    pub two_factor_enabled: bool,
    pub roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<Timestamp>,
}

impl From<&UserRecord> for UserDto {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            avatar: u.avatar.clone(),
            email_verified: u.email_verified,
            is_active: u.is_active,
            is_suspended: u.is_suspended,
            two_factor_enabled: u.two_factor_enabled,
            roles: u.roles.clone(),
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// A public profile: nothing private.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct PublicProfileDto {
    pub id: Uuid,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub avatar: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

impl From<&UserRecord> for PublicProfileDto {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id,
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            avatar: u.avatar.clone(),
            created_at: u.created_at,
        }
    }
}

time::serde::format_description!(date_format, Date, "[year]-[month]-[day]");

/// The extended profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ProfileDto {
    pub bio: Option<String>,
    pub phone: Option<String>,
    #[serde(with = "date_format::option")]
    pub date_of_birth: Option<Date>,
    pub address: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub timezone: Option<String>,
    pub language: Option<String>,
    pub preferences: serde_json::Value,
}

impl From<&ProfileRecord> for ProfileDto {
    fn from(p: &ProfileRecord) -> Self {
        Self {
            bio: p.bio.clone(),
            phone: p.phone.clone(),
            date_of_birth: p.date_of_birth,
            address: p.address.clone(),
            city: p.city.clone(),
            country: p.country.clone(),
            timezone: p.timezone.clone(),
            language: p.language.clone(),
            preferences: p.preferences.clone(),
        }
    }
}

/// `GET /users/profile`: the user with their profile.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct UserWithProfileDto {
    pub user: UserDto,
    pub profile: ProfileDto,
}

/// Tokens as returned by login and refresh.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TokensDto {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

impl From<&TokenPair> for TokensDto {
    fn from(t: &TokenPair) -> Self {
        Self {
            access_token: t.access_token.clone(),
            refresh_token: t.refresh_token.expose().to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in: t.expires_in,
        }
    }
}

/// A session in the sessions list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct SessionDto {
    pub id: Uuid,
    pub device_info: DeviceInfo,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub last_activity: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: Timestamp,
    pub is_current: bool,
}

impl SessionDto {
    /// The DTO, marking the caller's own session.
    pub fn new(s: &SessionRecord, current: Uuid) -> Self {
        Self {
            id: s.id,
            device_info: s.device_info.clone(),
            ip_address: s.ip_address.clone(),
            user_agent: s.user_agent.clone(),
            last_activity: s.last_activity_at,
            created_at: s.created_at,
            expires_at: s.expires_at,
            is_current: s.id == current,
        }
    }
}

/// An in-app notification.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct NotificationDto {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub message: String,
    pub data: serde_json::Value,
    pub read: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub read_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

impl From<&crate::store::NotificationRecord> for NotificationDto {
    fn from(n: &crate::store::NotificationRecord) -> Self {
        Self {
            id: n.id,
            kind: n.kind.clone(),
            title: n.title.clone(),
            message: n.message.clone(),
            data: n.data.clone(),
            read: n.read_at.is_some(),
            read_at: n.read_at,
            created_at: n.created_at,
        }
    }
}

/// `POST /roles`, `PUT /roles/:id`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RoleBody {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    pub description: Option<Option<String>>,
    pub permissions: Option<Vec<String>>,
}

impl From<RoleBody> for crate::roles::RoleInput {
    fn from(b: RoleBody) -> Self {
        Self {
            name: b.name,
            description: b.description,
            permissions: b.permissions,
        }
    }
}

/// `POST /roles/user/:userId/assign`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct AssignRoleBody {
    pub role_id: Option<Uuid>,
}

/// `POST /admin/bulk/assign-role`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct BulkAssignRoleBody {
    pub user_ids: Option<Vec<Uuid>>,
    pub role_id: Option<Uuid>,
}

/// `POST /admin/users/:userId/suspend`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct SuspendBody {
    pub reason: Option<String>,
}

/// `POST /account/deactivate`, `DELETE /account`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PasswordBody {
    pub password: Option<String>,
}

/// `POST /account/reactivate`, `POST /account/recover`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CredentialsBody {
    pub email: Option<String>,
    pub password: Option<String>,
}

/// `POST /account/permanent-delete`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PermanentDeleteBody {
    pub password: Option<String>,
    pub confirm_email: Option<String>,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct RoleDto {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub is_system: bool,
    pub permissions: Vec<String>,
    pub user_count: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
}

impl From<&crate::store::RoleRecord> for RoleDto {
    fn from(r: &crate::store::RoleRecord) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            description: r.description.clone(),
            is_system: r.is_system,
            permissions: r.permissions.clone(),
            user_count: r.user_count,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A user as administrators see it: the public `User` plus account state.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AdminUserDto {
    #[serde(flatten)]
    pub user: UserDto,
    pub status: String,
    pub failed_login_attempts: u32,
    #[serde(with = "time::serde::rfc3339::option")]
    pub locked_until: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<Timestamp>,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: Timestamp,
}

/// `active`, `inactive`, `suspended` or `deleted` (the search filter's names).
pub fn user_status(u: &UserRecord) -> &'static str {
    if u.deleted_at.is_some() {
        "deleted"
    } else if u.is_suspended {
        "suspended"
    } else if !u.is_active {
        "inactive"
    } else {
        "active"
    }
}

impl From<&UserRecord> for AdminUserDto {
    fn from(u: &UserRecord) -> Self {
        Self {
            user: UserDto::from(u),
            status: user_status(u).to_owned(),
            failed_login_attempts: u.failed_login_attempts,
            locked_until: u.locked_until,
            deleted_at: u.deleted_at,
            updated_at: u.updated_at,
        }
    }
}

fn rfc3339(t: Timestamp) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The GDPR export document: every stored datum of the user, never a hash or a secret.
pub fn account_export(export: &crate::account::AccountExport) -> serde_json::Value {
    let crate::account::AccountExport {
        user,
        profile,
        two_factor,
        data,
        exported_at,
    } = export;
    let two_factor = two_factor.as_ref();
    let sessions: Vec<_> = data
        .sessions
        .iter()
        .map(|s| {
            serde_json::json!({
                "id": s.id,
                "deviceInfo": s.device_info,
                "ipAddress": s.ip_address,
                "userAgent": s.user_agent,
                "createdAt": rfc3339(s.created_at),
                "lastActivity": rfc3339(s.last_activity_at),
                "expiresAt": rfc3339(s.expires_at),
                "revokedAt": s.revoked_at.map(rfc3339),
            })
        })
        .collect();
    let notifications: Vec<_> = data
        .notifications
        .iter()
        .map(NotificationDto::from)
        .collect();
    serde_json::json!({
        "exportedAt": rfc3339(*exported_at),
        "format": "usermgmt-export/1",
        "user": AdminUserDto::from(user),
        "profile": ProfileDto::from(profile),
        "twoFactor": {
            "enabled": two_factor.is_some_and(|t| t.enabled),
            "enabledAt": two_factor.and_then(|t| t.enabled_at).map(rfc3339),
            "backupCodesRemaining": two_factor.map_or(0, |t| t.backup_codes_remaining),
        },
        "passwordChanges": data.password_changes.iter().map(|t| rfc3339(*t)).collect::<Vec<_>>(),
        "sessions": sessions,
        "notifications": notifications,
        "auditTrail": data.audit,
    })
}

/// `POST /audit/cleanup`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RetentionBody {
    #[serde(default, deserialize_with = "whole_number")]
    pub retention_days: Option<u32>,
}

/// A count that JSON may write as `90` or `90.0` (both are the integer 90 to JSON Schema).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                .map(|f| f as u64)
        })
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must be a whole number of days"))
}
