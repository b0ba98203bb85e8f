//! Probes when storage is down: `/ready` and `/health/detailed` answer 503 in the envelope,
//! `/live` and `/health` still answer 200 (the process is alive).

use std::sync::Arc;
use usermgmt_core::api::ApiRequest;
use usermgmt_core::store::sqlite::SqliteStore;
use usermgmt_core::testing::{TestApp, databases::sqlite_test_database_url};

fn get(path: &str) -> ApiRequest {
    ApiRequest {
        method: "GET".to_owned(),
        path: path.to_owned(),
        query: None,
        headers: Vec::new(),
        body: Vec::new(),
        // Loopback: `/health/detailed` answers only loopback, private networks or the token.
        peer_ip: Some(std::net::IpAddr::from([127, 0, 0, 1])),
    }
}

#[tokio::test]
async fn probes_report_a_database_outage() {
    let store = SqliteStore::connect(&sqlite_test_database_url())
        .await
        .unwrap();
    let pool = store.pool().clone();
    let app = TestApp::new(Arc::new(store));
    assert_eq!(app.api.handle(get("/health/detailed")).await.status, 200);
    pool.close().await;
    let detailed = app.api.handle(get("/health/detailed")).await;
    assert_eq!(detailed.status, 503);
    let body: serde_json::Value = serde_json::from_slice(&detailed.body).unwrap();
    assert_eq!(body["data"]["status"], "degraded");
    assert_eq!(body["data"]["checks"]["database"]["status"], "down");
    let ready = app.api.handle(get("/ready")).await;
    assert_eq!(ready.status, 503);
    let body: serde_json::Value = serde_json::from_slice(&ready.body).unwrap();
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    assert!(
        !String::from_utf8_lossy(&ready.body).contains("pool"),
        "no internals"
    );
    assert_eq!(app.api.handle(get("/live")).await.status, 200);
    assert_eq!(app.api.handle(get("/health")).await.status, 200);
}
