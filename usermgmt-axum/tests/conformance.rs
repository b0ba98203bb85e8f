//! The shared HTTP conformance suite, run through the real Axum stack on every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use std::net::SocketAddr;
use std::sync::Arc;
use tower::ServiceExt;
use usermgmt_core::Store;
use usermgmt_core::api::Api;
use usermgmt_core::testing::http_suite::{TestRequest, TestResponse, TestServer};

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

usermgmt_core::http_conformance_tests!(memory, tokio::test, axum_server, async {
    Some(Arc::new(usermgmt_core::store::memory::MemoryStore::new()) as Arc<dyn Store>)
});

usermgmt_core::http_conformance_tests!(sqlite, tokio::test, axum_server, async {
    Some(usermgmt_core::testing::databases::sqlite_test_store().await)
});

usermgmt_core::http_conformance_tests!(postgres, tokio::test, axum_server, async {
    usermgmt_core::testing::databases::postgres_test_store().await
});

/// The host app's own routes, guarded by permission with the extractor and with the layer.
mod guards {
    use super::*;
    use axum::routing::get;
    use usermgmt_core::auth::AuthenticatedUser;
    use usermgmt_core::rbac::perm;
    use usermgmt_core::testing::TestApp;
    use usermgmt_core::testing::http_suite::check_permission_guards;

    async fn report(
        usermgmt_axum::Authorized(caller, _): usermgmt_axum::Authorized<perm::AuditRead>,
    ) -> String {
        format!("report for {}", caller.user.username)
    }

    async fn settings(axum::Extension(caller): axum::Extension<AuthenticatedUser>) -> String {
        format!("settings for {}", caller.user.username)
    }

    #[tokio::test]
    async fn permissions_guard_host_routes() {
        let app = TestApp::new(Arc::new(usermgmt_core::store::memory::MemoryStore::new()));
        let router = axum::Router::new()
            .route("/report", get(report))
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
