//! The shared HTTP conformance suite, run through the real Axum stack on every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;
use usermgmt_core::api::Api;
use usermgmt_core::testing::http_suite::{TestRequest, TestResponse, TestServer};
use usermgmt_core::testing::runner::{self, LocalBoxFuture};

struct AxumServer(axum::Router);

#[async_trait::async_trait(?Send)]
impl TestServer for AxumServer {
    async fn send(&self, request: TestRequest) -> TestResponse {
        let mut builder = Request::builder()
            .method(request.method.as_str())
            .uri(&request.uri);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let mut req = builder.body(Body::from(request.body)).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40_000))));
        let response = self.0.clone().oneshot(req).await.unwrap();
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
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

async fn axum_server(api: Api) -> Box<dyn TestServer> {
    Box::new(AxumServer(usermgmt_axum::router(api)))
}

/// Runs a test body on the runtime `#[tokio::test]` sets up: current-thread, all drivers on.
fn block_on(test: LocalBoxFuture<'static, ()>) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("test runtime builds")
        .block_on(test);
}

/// Every registered HTTP case on every store through this adapter, plus the guard test.
fn main() -> std::process::ExitCode {
    let stores = runner::test_stores();
    let adapter = runner::HttpAdapter {
        server: |api| Box::pin(axum_server(api)),
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

/// The host app's own routes, guarded by permission with the extractor and with the layer.
mod guards {
    use super::*;
    use axum::routing::get;
    use usermgmt_core::auth::AuthenticatedUser;
    use usermgmt_core::organizations::org_perm;
    use usermgmt_core::rbac::perm;
    use usermgmt_core::testing::TestApp;
    use usermgmt_core::testing::check_permission_guards;

    async fn report(
        usermgmt_axum::Authorized(caller, _): usermgmt_axum::Authorized<perm::AuditRead>,
    ) -> String {
        format!("report for {}", caller.user.username)
    }

    pub async fn cookie_sessions_reach_host_routes() {
        let app = TestApp::new(Arc::new(usermgmt_core::store::memory::MemoryStore::new()));
        let router = axum::Router::new()
            .route("/report", get(report).post(report))
            .layer(usermgmt_axum::extension(app.api.clone()));
        let server = AxumServer(router);
        usermgmt_core::testing::check_cookie_session_guards(&app, |method, path, headers| {
            server.send(TestRequest {
                method: method.to_owned(),
                uri: path.to_owned(),
                headers,
                body: Vec::new(),
            })
        })
        .await;
    }

    async fn settings(axum::Extension(caller): axum::Extension<AuthenticatedUser>) -> String {
        format!("settings for {}", caller.user.username)
    }

    async fn team(
        usermgmt_axum::OrgMember(caller, membership): usermgmt_axum::OrgMember,
    ) -> String {
        format!(
            "team {} for {} as {}",
            membership.org.slug,
            caller.user.username,
            membership.role.as_str()
        )
    }

    async fn invite(
        usermgmt_axum::OrgAuthorized(caller, _, _): usermgmt_axum::OrgAuthorized<
            org_perm::MemberInvite,
        >,
    ) -> String {
        format!("invite for {}", caller.user.username)
    }

    pub async fn permissions_guard_host_routes() {
        let app = TestApp::new(Arc::new(usermgmt_core::store::memory::MemoryStore::new()));
        let router = axum::Router::new()
            .route("/report", get(report))
            .route("/team", get(team))
            .route("/invite", get(invite))
            .merge(
                axum::Router::new()
                    .route("/settings", get(settings))
                    .route_layer(axum::middleware::from_fn(
                        usermgmt_axum::require::<perm::AdminSettings>,
                    )),
            )
            .layer(usermgmt_axum::extension(app.api.clone()));
        let server = AxumServer(router);
        check_permission_guards(&app, |path, bearer| {
            let headers = bearer
                .map(|b| ("authorization".to_owned(), format!("Bearer {b}")))
                .into_iter()
                .collect();
            server.send(TestRequest {
                method: "GET".to_owned(),
                uri: path.to_owned(),
                headers,
                body: Vec::new(),
            })
        })
        .await;
    }
}
