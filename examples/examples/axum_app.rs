//! A host app that protects its own routes by permission, with Axum and with Actix:
//!
//! ```text
//! cargo run -p usermgmt-server --example guards            # Axum on 127.0.0.1:3001
//! cargo run -p usermgmt-server --example guards -- actix   # Actix on 127.0.0.1:3001
//! ```
//!
//! The whole user-management API is mounted beside the app's routes; `/reports` needs
//! `audit:read` (the extractor), everything under `/settings` needs `admin:settings` (the
//! Axum layer / Actix middleware). Permissions come from the caller's current roles.

use std::sync::Arc;
use usermgmt_core::api::Api;
use usermgmt_core::auth::AuthenticatedUser;
use usermgmt_core::rbac::perm;
use usermgmt_core::store::memory::MemoryStore;
use usermgmt_core::{Config, UserManager};

fn api() -> Result<Api, Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET")
        .unwrap_or_else(|_| "example-only-secret-example-only-secret".to_owned());
    let manager = UserManager::builder(Config::builder(secret).build()?)
        .store(Arc::new(MemoryStore::new()))
        .build()?;
    Ok(Api::new(manager))
}

mod with_axum {
    use super::*;
    use axum::routing::get;
    use usermgmt_axum::Authorized;

    async fn reports(Authorized(caller, _): Authorized<perm::AuditRead>) -> String {
        format!("reports for {}", caller.user.username)
    }

    async fn settings(axum::Extension(caller): axum::Extension<AuthenticatedUser>) -> String {
        format!("settings for {}", caller.user.username)
    }

    pub fn app(api: Api) -> axum::Router {
        let admin = axum::Router::new()
            .route("/settings", get(settings))
            .route_layer(axum::middleware::from_fn(
                usermgmt_axum::require::<perm::AdminSettings>,
            ));
        axum::Router::new()
            .route("/reports", get(reports))
            .merge(admin)
            .merge(usermgmt_axum::router(api.clone()))
            .layer(usermgmt_axum::extension(api))
    }
}

mod with_actix {
    use super::*;
    use actix_web::{HttpResponse, web};
    use usermgmt_actix::Authorized;

    async fn reports(Authorized(caller, _): Authorized<perm::AuditRead>) -> String {
        format!("reports for {}", caller.user.username)
    }

    async fn settings(caller: web::ReqData<AuthenticatedUser>) -> HttpResponse {
        HttpResponse::Ok().body(format!("settings for {}", caller.user.username))
    }

    pub fn configure(api: Api) -> impl FnOnce(&mut web::ServiceConfig) {
        move |cfg| {
            cfg.configure(usermgmt_actix::configure(api))
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
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let api = api()?;
    let addr = ("127.0.0.1", 3001);
    if std::env::args().nth(1).as_deref() == Some("actix") {
        actix_web::HttpServer::new(move || {
            actix_web::App::new().configure(with_actix::configure(api.clone()))
        })
        .bind(addr)?
        .run()
        .await?;
    } else {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        axum::serve(
            listener,
            with_axum::app(api).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await?;
    }
    Ok(())
}
