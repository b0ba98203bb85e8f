//! The shapes answers share (`components.schemas`): derived from the DTOs they serialise
//! (`ToSchema`, named with `#[schema(as = …)]`), so a field added to a DTO appears here by
//! itself. Every field is present in every answer (an absent value is `null`, never a missing
//! key), so each is `required` ([`super::derived::answer`]). The HTTP suite checks every answer
//! of every case against these schemas, treating objects as closed. Only the answers built
//! with `json!` in their handlers, having no type, are written here by hand.

use super::derived::component;
use super::schema::*;
use serde_json::Value;

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
pub(super) fn components() -> Vec<(String, Value)> {
    use crate::admin::routes::AdminUserDto;
    use crate::audit::routes::AuditEventDto;
    use crate::auth::routes::{LoginSuccessDto, TokensDto, UserDto};
    use crate::domain::DeviceInfo;
    use crate::notifications::routes::NotificationDto;
    use crate::profile::routes::{ProfileDto, PublicProfileDto};
    use crate::roles::routes::RoleDto;
    use crate::sessions::routes::SessionDto;
    use crate::two_factor::routes::TwoFactorChallengeDto;
    vec![
        component::<UserDto>(),
        component::<AdminUserDto>(),
        component::<PublicProfileDto>(),
        component::<ProfileDto>(),
        component::<TokensDto>(),
        component::<DeviceInfo>(),
        component::<SessionDto>(),
        component::<NotificationDto>(),
        component::<RoleDto>(),
        component::<AuditEventDto>(),
        component::<LoginSuccessDto>(),
        component::<TwoFactorChallengeDto>(),
        ("UserDetail".to_owned(), user_detail()),
    ]
}

/// `GET /admin/users/{userId}` (built in `admin/routes.rs::user_detail_data`).
fn user_detail() -> Value {
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
    ])
}
