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

/// Puts the library's OpenAPI document ([`openapi_document`]) into the host app's own
/// `document` (an OpenAPI 3.1 JSON value, e.g. `serde_json::to_value(AppDoc::openapi())` of a
/// utoipa document): every path (under `config.mount_prefix`, as the host's paths start at
/// the app's root), every component (schemas, responses, security schemes, …) and every tag
/// the library documents is added to it. The host's `info`, `servers` and top-level
/// `security` are kept.
///
/// Where both documents have the same path or component name, the host's entry is kept and
/// the name is returned, sorted (`"components.schemas.Tokens"`, `"paths./api/v1/auth/login"`), so an
/// app can refuse to start or fail a test on a collision instead of serving half of a route's
/// documentation.
///
/// The merge is done on JSON rather than on utoipa's `OpenApi` model because that model cannot
/// hold the JSON Schema 2020-12 parts of the library's document (`const`, typeless schemas,
/// `anyOf` of `required` lists): reading the document into it fails.
pub fn merge_openapi_document(
    document: &mut serde_json::Value,
    config: &crate::Config,
) -> Vec<String> {
    use serde_json::{Map, Value};
    /// The object at `key` of `parent`, created when missing (or not an object).
    fn object_at<'a>(parent: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
        let slot = parent
            .entry(key)
            .or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot {
            Value::Object(map) => map,
            _ => unreachable!("made an object above"),
        }
    }
    /// Adds `from`'s entries to `into`, keeping `into`'s on a collision (named in `collisions`).
    fn add_entries(
        into: &mut Map<String, Value>,
        from: Map<String, Value>,
        place: &str,
        collisions: &mut Vec<String>,
    ) {
        for (name, value) in from {
            if into.contains_key(&name) {
                collisions.push(format!("{place}.{name}"));
            } else {
                into.insert(name, value);
            }
        }
    }

    let mut collisions = Vec::new();
    let Value::Object(library) = openapi_document(config) else {
        return collisions;
    };
    if !document.is_object() {
        *document = Value::Object(Map::new());
    }
    let Value::Object(host) = document else {
        return collisions;
    };
    for (key, value) in library {
        match (key.as_str(), value) {
            ("paths", Value::Object(paths)) => {
                // The library's paths are relative to its `servers` entry, which ends in the
                // mount prefix; the host's start at the app's root.
                let rooted = paths
                    .into_iter()
                    .map(|(path, item)| (format!("{}{path}", config.mount_prefix), item))
                    .collect();
                add_entries(object_at(host, "paths"), rooted, "paths", &mut collisions);
            }
            ("components", Value::Object(components)) => {
                let into = object_at(host, "components");
                for (kind, entries) in components {
                    if let Value::Object(entries) = entries {
                        let place = format!("components.{kind}");
                        add_entries(object_at(into, &kind), entries, &place, &mut collisions);
                    }
                }
            }
            ("tags", Value::Array(tags)) => {
                let slot = host
                    .entry("tags")
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(host_tags) = slot {
                    for tag in tags {
                        let name = tag.get("name").cloned();
                        if !host_tags.iter().any(|t| t.get("name").cloned() == name) {
                            host_tags.push(tag);
                        }
                    }
                }
            }
            // The host's own `openapi`, `info`, `servers`, `security` stay.
            _ => {}
        }
    }
    collisions.sort();
    collisions
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

    #[test]
    fn the_library_document_merges_into_a_host_document_and_names_collisions() {
        let config = crate::Config::builder("a-test-secret-of-at-least-32-bytes!")
            .mount_prefix("/identity")
            .build()
            .unwrap_or_else(|e| panic!("test config: {e}"));
        let mut host = serde_json::json!({
            "openapi": "3.1.0",
            "info": {"title": "My app", "version": "1.0.0"},
            "paths": {
                "/me/plan": {"get": {"responses": {"200": {"description": "the plan"}}}},
                "/identity/api/v1/auth/login": {"post": {"summary": "the host's own"}}
            },
            "components": {"schemas": {"Plan": {"type": "string"}, "Tokens": {"type": "object"}}}
        });
        let collisions = super::merge_openapi_document(&mut host, &config);
        assert_eq!(
            collisions,
            vec![
                "components.schemas.Tokens".to_owned(),
                "paths./identity/api/v1/auth/login".to_owned()
            ]
        );
        let library = super::openapi_document(&config);
        assert_eq!(host["info"]["title"], "My app", "the host's info is kept");
        assert_eq!(
            host["paths"]["/identity/api/v1/auth/login"]["post"]["summary"],
            "the host's own"
        );
        assert!(host["paths"]["/me/plan"].is_object());
        assert_eq!(
            host["paths"]["/identity/api/v1/auth/register"],
            library["paths"]["/api/v1/auth/register"],
            "the library's paths are put under the mount prefix"
        );
        let library_paths = library["paths"].as_object().map_or(0, |p| p.len());
        assert!(library_paths > 50, "the library documents its routes");
        assert_eq!(
            host["paths"].as_object().map_or(0, |p| p.len()),
            library_paths + 1,
            "every library path but the colliding one, and the host's own"
        );
        assert_eq!(host["components"]["schemas"]["Plan"]["type"], "string");
        assert_eq!(
            host["components"]["schemas"]["AuditEvent"],
            library["components"]["schemas"]["AuditEvent"]
        );
        assert_eq!(
            host["components"]["securitySchemes"]["bearerAuth"],
            library["components"]["securitySchemes"]["bearerAuth"]
        );
        assert_eq!(host["tags"], library["tags"]);
    }
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
