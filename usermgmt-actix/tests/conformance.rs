//! The shared HTTP conformance suite, run through the real Actix stack on every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::App;
use actix_web::test as actix_test;
use std::net::SocketAddr;
use std::sync::Arc;
use usermgmt_core::api::Api;
use usermgmt_core::testing::http_suite::{TestRequest, TestResponse, TestServer};
use usermgmt_core::testing::runner::{self, LocalBoxFuture};

struct ActixServer(Api);

#[async_trait::async_trait(?Send)]
impl TestServer for ActixServer {
    async fn send(&self, request: TestRequest) -> TestResponse {
        let app = actix_test::init_service(
            App::new().configure(usermgmt_actix::configure(self.0.clone())),
        )
        .await;
        let method = actix_web::http::Method::from_bytes(request.method.as_bytes()).unwrap();
        let mut req = actix_test::TestRequest::default()
            .method(method)
            .uri(&request.uri)
            .peer_addr(SocketAddr::from(([127, 0, 0, 1], 40_000)));
        for (name, value) in &request.headers {
            req = req.insert_header((name.as_str(), value.as_str()));
        }
        let response =
            actix_test::call_service(&app, req.set_payload(request.body).to_request()).await;
        test_response(response).await
    }
}

/// An Actix response as the suites see it.
async fn test_response(
    response: actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
) -> TestResponse {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = actix_test::read_body(response).await.to_vec();
    TestResponse {
        status,
        headers,
        body,
    }
}

async fn actix_server(api: Api) -> Box<dyn TestServer> {
    Box::new(ActixServer(api))
}

/// Runs a test body on the runtime `#[actix_rt::test]` sets up: a fresh Actix system.
fn block_on(test: LocalBoxFuture<'static, ()>) {
    actix_rt::System::new().block_on(test);
}

/// Every registered HTTP case on every store through this adapter, plus the guard test.
fn main() -> std::process::ExitCode {
    let stores = runner::test_stores();
    let adapter = runner::HttpAdapter {
        server: |api| Box::pin(actix_server(api)),
        block_on,
    };
    let mut trials = runner::http_trials(adapter, &stores);
    trials.push(runner::Trial::test(
        "guards::permissions_guard_host_routes",
        || {
            block_on(Box::pin(guards::permissions_guard_host_routes()));
            Ok(())
        },
    ));
    trials.push(runner::Trial::test(
        "guards::cookie_sessions_reach_host_routes",
        || {
            block_on(Box::pin(guards::cookie_sessions_reach_host_routes()));
            Ok(())
        },
    ));
    runner::run(&stores, trials)
}

/// The host app's own routes, guarded by permission with the extractor and with the middleware.
mod guards {
    use super::*;
    use actix_web::{HttpResponse, web};
    use usermgmt_core::auth::AuthenticatedUser;
    use usermgmt_core::organizations::org_perm;
    use usermgmt_core::rbac::perm;
    use usermgmt_core::testing::TestApp;
    use usermgmt_core::testing::check_permission_guards;

    async fn report(
        usermgmt_actix::Authorized(caller, _): usermgmt_actix::Authorized<perm::AuditRead>,
    ) -> String {
        format!("report for {}", caller.user.username)
    }

    pub async fn cookie_sessions_reach_host_routes() {
        let app = TestApp::new(Arc::new(usermgmt_core::store::memory::MemoryStore::new()));
        let service = actix_test::init_service(
            App::new()
                .configure(usermgmt_actix::configure(app.api.clone()))
                .route("/report", web::get().to(report))
                .route("/report", web::post().to(report)),
        )
        .await;
        usermgmt_core::testing::check_cookie_session_guards(&app, |method, path, headers| {
            let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
            let mut req = actix_test::TestRequest::default().method(method).uri(path);
            for header in headers {
                req = req.insert_header(header);
            }
            let service = &service;
            async move { test_response(actix_test::call_service(service, req.to_request()).await).await }
        })
        .await;
    }

    async fn settings(caller: web::ReqData<AuthenticatedUser>) -> HttpResponse {
        HttpResponse::Ok().body(format!("settings for {}", caller.user.username))
    }

    async fn team(
        usermgmt_actix::OrgMember(caller, membership): usermgmt_actix::OrgMember,
    ) -> String {
        format!(
            "team {} for {} as {}",
            membership.org.slug,
            caller.user.username,
            membership.role.as_str()
        )
    }

    async fn invite(
        usermgmt_actix::OrgAuthorized(caller, _, _): usermgmt_actix::OrgAuthorized<
            org_perm::MemberInvite,
        >,
    ) -> String {
        format!("invite for {}", caller.user.username)
    }

    pub async fn permissions_guard_host_routes() {
        let app = TestApp::new(Arc::new(usermgmt_core::store::memory::MemoryStore::new()));
        let service = actix_test::init_service(
            App::new()
                .configure(usermgmt_actix::configure(app.api.clone()))
                .route("/report", web::get().to(report))
                .route("/team", web::get().to(team))
                .route("/invite", web::get().to(invite))
                .service(
                    web::scope("/settings")
                        .wrap(actix_web::middleware::from_fn(
                            usermgmt_actix::require::<perm::AdminSettings, _>,
                        ))
                        .route("", web::get().to(settings)),
                ),
        )
        .await;
        check_permission_guards(&app, |path, bearer| {
            let mut req = actix_test::TestRequest::get().uri(path);
            if let Some(b) = bearer {
                req = req.insert_header(("authorization", format!("Bearer {b}")));
            }
            let service = &service;
            async move { test_response(actix_test::call_service(service, req.to_request()).await).await }
        })
        .await;
    }
}
