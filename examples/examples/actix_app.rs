//! Adding the user-management API to an existing Actix-web app that has its own guarded routes:
//!
//! ```text
//! cargo run -p usermgmt-server --example actix_app    # on 127.0.0.1:3001
//! ```
//!
//! The whole API is mounted beside the app's routes (`/api/v1/...`, the probes, `/docs`).
//! `/me` needs any signed-in caller, `/reports` needs `audit:read` (the `Authorized`
//! extractor), everything under `/settings` needs `admin:settings` (the `require` middleware).
//! Permissions come from the caller's current roles (`POST /api/v1/admin/users/{id}/roles`).

use actix_web::{App, HttpResponse, HttpServer, web};
use std::sync::Arc;
use std::time::Duration;
use usermgmt_actix::{Authorized, CurrentUser};
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

/// Behind the `require` middleware, the caller is in the request's data.
async fn settings(caller: web::ReqData<AuthenticatedUser>) -> HttpResponse {
    HttpResponse::Ok().body(format!("settings for {}", caller.user.username))
}

/// The app: its own routes, the admin scope behind one permission, and the whole API.
fn configure(api: Api) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.configure(usermgmt_actix::configure(api))
            .route("/me", web::get().to(me))
            .route("/reports", web::get().to(reports))
            .service(
                web::scope("/settings")
                    .wrap(actix_web::middleware::from_fn(
                        usermgmt_actix::require::<perm::AdminSettings, _>,
                    ))
                    .route("", web::get().to(settings)),
            );
    }
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET")
        .unwrap_or_else(|_| "example-only-secret-example-only-secret".to_owned());
    let config = Config::builder(secret)
        .public_url("http://127.0.0.1:3001")
        .build()?;
    let store = SqliteStore::connect("sqlite://actix_app.db").await?; // creates it, migrates
    let manager = UserManager::builder(config)
        .store(Arc::new(store))
        .build()?;
    // Mail (verification links, resets) waits in the outbox until a worker delivers it; the
    // log mailer prints it.
    let mail = manager.outbox_worker(Arc::new(LogMailer));
    actix_web::rt::spawn(mail.run(Duration::from_secs(5), std::future::pending()));

    let api = Api::new(manager);
    HttpServer::new(move || App::new().configure(configure(api.clone())))
        .bind(("127.0.0.1", 3001))?
        .run()
        .await?;
    Ok(())
}
