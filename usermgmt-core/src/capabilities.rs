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
        crate::passkeys::routes::ROUTES,
        crate::oauth::routes::ROUTES,
        crate::api_keys::routes::ROUTES,
        crate::organizations::routes::ROUTES,
        crate::notifications::routes::ROUTES,
        crate::roles::routes::ROUTES,
        crate::admin::routes::ROUTES,
        crate::account::routes::ROUTES,
        crate::avatars::routes::ROUTES,
        crate::audit::routes::ROUTES,
        crate::webhooks::routes::ROUTES,
        crate::api::openapi::ROUTES,
        #[cfg(feature = "console")]
        crate::console::ROUTES,
    ]
    .concat()
    .into_iter()
    .map(crate::api_keys::routes::refuse_keys_where_forbidden)
    .collect()
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

#[cfg(test)]
mod tests {
    use super::ROUTES;
    use crate::domain::{RESERVED_USERNAMES, Username};
    use std::collections::BTreeSet;

    /// The fixed segments of the table that sit where a route has `{param}`, under the same
    /// parent path: a request for such a segment reaches the fixed route, never the parameter.
    fn fixed_siblings_of(param: &str) -> BTreeSet<String> {
        let paths: Vec<Vec<&str>> = ROUTES
            .iter()
            .map(|r| r.path.trim_matches('/').split('/').collect())
            .collect();
        let mut siblings = BTreeSet::new();
        for with_param in &paths {
            for (at, segment) in with_param.iter().enumerate() {
                if *segment != param {
                    continue;
                }
                let parent = &with_param[..at];
                siblings.extend(
                    paths
                        .iter()
                        .filter(|p| p.len() > at && &p[..at] == parent)
                        .map(|p| p[at])
                        .filter(|s| !s.starts_with('{'))
                        .map(str::to_owned),
                );
            }
        }
        siblings
    }

    #[test]
    fn reserved_usernames_are_the_fixed_paths_beside_the_public_profile() {
        let shadowing = fixed_siblings_of("{username}");
        assert!(
            shadowing.contains("profile"),
            "the table still has /users/profile beside /users/{{username}}: {shadowing:?}"
        );
        // Only those a username could spell need reserving (a `-` never passes the rule).
        let spellable: BTreeSet<String> = shadowing
            .into_iter()
            .filter_map(|s| Username::parse(&s).ok())
            .map(|u| u.as_str().to_owned())
            .collect();
        let reserved: BTreeSet<String> =
            RESERVED_USERNAMES.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(
            spellable, reserved,
            "domain::RESERVED_USERNAMES must list every fixed segment beside /users/{{username}}"
        );
    }
}
