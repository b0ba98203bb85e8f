//! Adding the user-management API to an existing Axum app that has its own guarded routes:
//!
//! ```text
//! cargo run -p usermgmt-server --example axum_app     # on 127.0.0.1:3001
//! ```
//!
//! The whole API is mounted beside the app's routes (`/api/v1/...`, the probes, `/docs`).
//! `/me` needs any signed-in caller, `/reports` needs `audit:read` (the `Authorized`
//! extractor), everything under `/settings` needs `admin:settings` (the `require` layer).
//! Permissions come from the caller's current roles (`POST /api/v1/admin/users/{id}/roles`).

use axum::routing::get;
use axum::{Extension, Router};
use std::sync::Arc;
use std::time::Duration;
use usermgmt_axum::{Authorized, CurrentUser};
use usermgmt_core::api::Api;
use usermgmt_core::auth::AuthenticatedUser;
use usermgmt_core::mail::LogMailer;
use usermgmt_core::rbac::perm;
use usermgmt_core::store::sqlite::SqliteStore;
use usermgmt_core::{Config, UserManager};

async fn me(CurrentUser(caller): CurrentUser) -> String {
    format!("hello {}", caller.user.username)
}

async fn reports(Authorized(caller, _): Authorized<perm::AuditRead>) -> String {
    format!("reports for {}", caller.user.username)
}

/// Behind the `require` layer, the caller is in the request's extensions.
async fn settings(Extension(caller): Extension<AuthenticatedUser>) -> String {
    format!("settings for {}", caller.user.username)
}

/// The app: its own routes, the admin part behind one permission, and the whole API.
fn app(api: Api) -> Router {
    let admin =
        Router::new()
            .route("/settings", get(settings))
            .route_layer(axum::middleware::from_fn(
                usermgmt_axum::require::<perm::AdminSettings>,
            ));
    Router::new()
        .route("/me", get(me))
        .route("/reports", get(reports))
        .merge(admin)
        .merge(usermgmt_axum::router(api.clone()))
        .layer(usermgmt_axum::extension(api))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET")
        .unwrap_or_else(|_| "example-only-secret-example-only-secret".to_owned());
    let config = Config::builder(secret)
        .public_url("http://127.0.0.1:3001")
        .build()?;
    let store = SqliteStore::connect("sqlite://axum_app.db").await?; // creates it, migrates
    let manager = UserManager::builder(config)
        .store(Arc::new(store))
        .build()?;
    // Mail (verification links, resets) waits in the outbox until a worker delivers it; the
    // log mailer prints it.
    let mail = manager.outbox_worker(Arc::new(LogMailer));
    tokio::spawn(mail.run(Duration::from_secs(5), std::future::pending()));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    // The peer address feeds the per-client rate limits.
    let service =
        app(Api::new(manager)).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service).await?;
    Ok(())
}
