//! Every capability's route rows, one line each: the table [`Api::new`] serves and documents.
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
        Self::with_routes(manager, &ROUTES)
    }
}

/// The OpenAPI document of what an API with `config` serves (see `api::openapi::document`).
pub fn openapi_document(config: &crate::Config) -> serde_json::Value {
    crate::api::openapi::document(&ROUTES, config)
}
