//! Every capability's route rows, one line each: the table [`Api::new`] serves and documents,
//! and the answer shapes those rows share (the OpenAPI document's components).
//!
//! It sits above both the API machinery (`api/`, which knows rows but no capability) and the
//! capabilities (whose `routes.rs` declare their rows with `api::Route`), so neither imports
//! the other's registry. A new capability adds its `ROUTES` here.

use crate::api::{Api, Route};
use crate::manager::UserManager;
use std::sync::LazyLock;

/// The whole table: every capability's rows, in the order the metrics list them.
pub static ROUTES: LazyLock<Vec<Route>> = LazyLock::new(|| {
    [
        crate::api::ops::ROUTES,
        crate::auth::routes::ROUTES,
        crate::profile::routes::ROUTES,
        crate::sessions::routes::ROUTES,
        crate::two_factor::routes::ROUTES,
        crate::notifications::routes::ROUTES,
        crate::roles::routes::ROUTES,
        crate::admin::routes::ROUTES,
        crate::account::routes::ROUTES,
        crate::avatars::routes::ROUTES,
        crate::audit::routes::ROUTES,
        crate::api::openapi::ROUTES,
    ]
    .concat()
});

impl Api {
    /// The API over a manager, serving every capability's routes ([`ROUTES`]; the first
    /// seed's only when `Config::compatibility_routes` is on).
    pub fn new(manager: UserManager) -> Self {
        Self::with_routes(manager, &ROUTES, answer_shapes)
    }
}

/// The OpenAPI document of what an API with `config` serves (see `api::openapi::document`).
pub fn openapi_document(config: &crate::Config) -> serde_json::Value {
    crate::api::openapi::document(&ROUTES, answer_shapes(), config)
}

/// The named shapes answers share (`components.schemas`), derived from the DTOs they
/// serialise (`ToSchema`, named with `#[schema(as = …)]`), so a field added to a DTO appears
/// in the document by itself. Every field is present in every answer (an absent value is
/// `null`, never a missing key), so each is `required` (`api::openapi::derived::answer`). The
/// HTTP suite checks every answer of every case against them, treating objects as closed.
fn answer_shapes() -> Vec<(String, serde_json::Value)> {
    use crate::admin::routes::{AdminUserDto, UserDetailDto};
    use crate::api::openapi::derived::component;
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
        component::<UserDetailDto>(),
    ]
}
