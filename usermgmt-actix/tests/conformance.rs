//! The shared HTTP conformance suite, run through the real Actix stack on every store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use actix_web::App;
use actix_web::test as actix_test;
use std::net::SocketAddr;
use std::sync::Arc;
use usermgmt_core::Store;
use usermgmt_core::api::Api;
use usermgmt_core::testing::http_suite::{TestRequest, TestResponse, TestServer};

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
}

async fn actix_server(api: Api) -> Box<dyn TestServer> {
    Box::new(ActixServer(api))
}

usermgmt_core::http_conformance_tests!(memory, actix_rt::test, actix_server, async {
    Some(Arc::new(usermgmt_core::store::memory::MemoryStore::new()) as Arc<dyn Store>)
});

usermgmt_core::http_conformance_tests!(sqlite, actix_rt::test, actix_server, async {
    Some(usermgmt_core::testing::databases::sqlite_test_store().await)
});

usermgmt_core::http_conformance_tests!(postgres, actix_rt::test, actix_server, async {
    usermgmt_core::testing::databases::postgres_test_store().await
});
