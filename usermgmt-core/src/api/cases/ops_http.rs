//! HTTP conformance cases for operations: health probes, detailed health, metrics and who may read
//! them. Each case registers itself with `http_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::config::OpsAccess;
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::{Value, json};

pub async fn health_probes_answer(cx: &HttpCtx) {
    for path in ["/health", "/ready", "/live"] {
        let r = cx.get(path, None).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.json()["success"], json!(true));
        assert!(
            r.header("x-request-id").is_some(),
            "{path} has no request id"
        );
    }
    let r = cx.request("GET", "/health", None, None).await;
    assert_eq!(r.header("content-type"), Some("application/json"));
}
http_case!(health_probes_answer);

/// `/health/detailed` reports the database and the mail backlog.
pub async fn detailed_health_reports_its_checks(cx: &HttpCtx) {
    let r = cx.get("/health/detailed", None).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    assert_eq!(data["status"], json!("ok"));
    assert_eq!(data["checks"]["database"]["status"], json!("up"));
    assert!(data["checks"]["database"]["latencyMs"].as_f64().unwrap() >= 0.0);
    assert_eq!(data["checks"]["mailQueue"]["backlog"], json!(0));
    // A registration queues its verification mail until the worker runs.
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "health@example.com", "username": "health", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201);
    let data = cx.get("/health/detailed", None).await.data();
    assert_eq!(data["checks"]["mailQueue"]["backlog"], json!(1));
    cx.app.deliver_mail().await;
    let data = cx.get("/health/detailed", None).await.data();
    assert_eq!(data["checks"]["mailQueue"]["backlog"], json!(0));
}
http_case!(detailed_health_reports_its_checks);

/// `/metrics` is Prometheus text: per-route counts and latency histograms, login outcomes,
/// hash queue and mail backlog; every sample line parses.
pub async fn metrics_are_prometheus_text(cx: &HttpCtx) {
    cx.register_verified("metric").await;
    cx.login("metric", PASSWORD).await;
    cx.post(
        "/api/v1/auth/login",
        None,
        json!({"identifier": "metric", "password": "Wr0ng!pass"}),
    )
    .await;
    cx.get("/api/v1/nowhere", None).await;
    let r = cx.get("/metrics", None).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(r.body.clone()).unwrap();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        // name{labels} value — the value must be a number.
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        assert!(value.parse::<f64>().is_ok(), "bad value in {line:?}");
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line:?}"
        );
        assert!(
            text.contains(&format!(
                "# TYPE {}",
                name.trim_end_matches("_bucket")
                    .trim_end_matches("_sum")
                    .trim_end_matches("_count")
            )),
            "{line:?} has no TYPE"
        );
    }
    assert!(text.contains(
        r#"usermgmt_http_requests_total{method="POST",route="/api/v1/auth/login",status="2xx"} 1"#
    ), "{text}");
    assert!(text.contains(
        r#"usermgmt_http_requests_total{method="POST",route="/api/v1/auth/login",status="4xx"} 1"#
    ));
    assert!(text.contains(
        r#"usermgmt_http_requests_total{method="ANY",route="unmatched",status="4xx"} 1"#
    ));
    assert!(text.contains(r#"usermgmt_logins_total{result="success"} 1"#));
    assert!(text.contains(r#"usermgmt_logins_total{result="failure"} 1"#));
    assert!(text.contains(r#"le="+Inf"} "#));
    assert!(text.contains("usermgmt_hash_queue_depth 0"));
    assert!(text.contains("usermgmt_mail_outbox_backlog"));
    assert!(text.contains("usermgmt_account_lockouts_total 0"));
    // Failures up to the threshold lock the account once; the refusals after it are not
    // new lockouts (they are `locked` login outcomes).
    cx.register_verified("locked_out").await;
    let max = cx.app.manager.config().lockout.max_failures;
    for _ in 0..max + 2 {
        cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "locked_out", "password": "Wr0ng!pass"}),
        )
        .await;
    }
    let text = String::from_utf8(cx.get("/metrics", None).await.body).unwrap();
    assert!(text.contains("usermgmt_account_lockouts_total 1"), "{text}");
    assert!(
        text.contains(r#"usermgmt_logins_total{result="locked"} "#),
        "{text}"
    );
}
http_case!(metrics_are_prometheus_text);

/// A public address (TEST-NET-3, RFC 5737).
const PUBLIC_IP: &str = "203.0.113.7";

/// A private address (allowed by default).
const PRIVATE_IP: &str = "10.20.30.40";

/// The metrics token the cases configure.
const TOKEN: &str = "ops-token-ops-token-ops-token-0123456789";

/// `GET path` from `client` (through the trusted proxy 127.0.0.1), with `authorization`.
async fn get_from(
    cx: &HttpCtx,
    method: &str,
    path: &str,
    client: Option<&str>,
    authorization: Option<&str>,
) -> TestResponse {
    let mut headers = vec![("user-agent".to_owned(), "ops-case/1.0".to_owned())];
    if let Some(ip) = client {
        headers.push(("x-forwarded-for".to_owned(), ip.to_owned()));
    }
    if let Some(value) = authorization {
        headers.push(("authorization".to_owned(), value.to_owned()));
    }
    cx.send(TestRequest {
        method: method.to_owned(),
        uri: path.to_owned(),
        headers,
        body: Vec::new(),
    })
    .await
}

/// The test configuration behind a trusted proxy on 127.0.0.1, with `ops`.
fn behind_proxy(ops: OpsAccess) -> crate::Config {
    let mut limits = crate::testing::test_config().rate_limits;
    limits.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a network")];
    crate::testing::test_config_builder()
        .rate_limits(limits)
        .ops_access(ops)
        .build()
        .expect("test config is valid")
}

/// Asserts `r` is exactly the answer to an unknown path: same status, same body, the same
/// headers but the request id.
#[track_caller]
fn assert_like_unknown_route(r: &TestResponse, unknown: &TestResponse, what: &str) {
    assert_error(r, 404, "ROUTE_NOT_FOUND");
    assert_eq!(r.json(), unknown.json(), "{what}: body");
    let headers = |r: &TestResponse| {
        let mut h: Vec<(String, String)> = r
            .headers
            .iter()
            // Per answer by nature: its id, the clock where a framework stamps one, and the
            // rate-limit count, which each of these answers takes one from (as an unknown
            // path does; the limit itself is compared).
            .filter(|(n, _)| {
                ![
                    "x-request-id",
                    "date",
                    "x-ratelimit-remaining",
                    "x-ratelimit-reset",
                ]
                .iter()
                .any(|skip| n.eq_ignore_ascii_case(skip))
            })
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect();
        h.sort();
        h
    };
    assert_eq!(headers(r), headers(unknown), "{what}: headers");
}

/// `/health/detailed` and `/metrics` answer a public client with the 404 of an unknown path
/// (any method), a loopback or private client with the detail, and the configured bearer token
/// from anywhere; a wrong token opens nothing. The hidden answers are counted as unmatched.
pub async fn ops_detail_answers_only_private_networks_or_the_token(cx: &HttpCtx) {
    let ops = cx
        .with_config(behind_proxy(OpsAccess::default().with_token(TOKEN)))
        .await;
    let bearer = format!("Bearer {TOKEN}");
    for path in ["/health/detailed", "/metrics"] {
        let unknown = get_from(
            &ops,
            "GET",
            "/api/v1/no-such-ops-path",
            Some(PUBLIC_IP),
            None,
        )
        .await;
        let public = get_from(&ops, "GET", path, Some(PUBLIC_IP), None).await;
        assert_like_unknown_route(&public, &unknown, path);
        // Not a 405 with `Allow` either: another method tells nothing.
        let post = get_from(&ops, "POST", path, Some(PUBLIC_IP), None).await;
        assert_like_unknown_route(&post, &unknown, path);
        for wrong in [
            format!("Bearer {TOKEN}x"),
            format!("Bearer {}", &TOKEN[1..]),
            format!("Basic {TOKEN}"),
            "Bearer not-the-token".to_owned(),
            TOKEN.to_owned(),
        ] {
            let r = get_from(&ops, "GET", path, Some(PUBLIC_IP), Some(&wrong)).await;
            assert_like_unknown_route(&r, &unknown, &format!("{path} with {wrong:?}"));
        }
        let r = get_from(&ops, "GET", path, Some(PUBLIC_IP), Some(&bearer)).await;
        assert_eq!(r.status, 200, "{path} with the token");
        let r = get_from(&ops, "GET", path, Some(PRIVATE_IP), None).await;
        assert_eq!(r.status, 200, "{path} from a private network");
        let r = get_from(&ops, "GET", path, Some("::ffff:192.168.1.9"), None).await;
        assert_eq!(r.status, 200, "{path} from a mapped private IPv4 address");
        let r = get_from(&ops, "GET", path, None, None).await;
        assert_eq!(r.status, 200, "{path} from loopback");
        let r = get_from(&ops, "GET", path, Some("2001:db8::5"), None).await;
        assert_like_unknown_route(&r, &unknown, &format!("{path} from public IPv6"));
    }
    let detail = get_from(&ops, "GET", "/health/detailed", Some(PRIVATE_IP), None).await;
    assert_eq!(detail.data()["checks"]["database"]["status"], json!("up"));

    // The hidden answers went to the `unmatched` series, none to the routes'.
    let text = String::from_utf8(
        get_from(&ops, "GET", "/metrics", None, None)
            .await
            .body
            .clone(),
    )
    .expect("metrics are text");
    for path in ["/health/detailed", "/metrics"] {
        assert!(
            !text.contains(&format!("route=\"{path}\",status=\"4xx\"")),
            "{path} counted a hidden answer: {text}"
        );
    }
    assert!(
        text.contains(
            r#"usermgmt_http_requests_total{method="ANY",route="unmatched",status="4xx"} "#
        ),
        "{text}"
    );

    // Many clients at once: each gets the answer of its own address and header.
    let requests = (0..24).map(|i| {
        let (client, auth, expected) = match i % 4 {
            0 => (PUBLIC_IP, None, 404),
            1 => (PRIVATE_IP, None, 200),
            2 => (PUBLIC_IP, Some(bearer.as_str()), 200),
            _ => (PUBLIC_IP, Some("Bearer wrong-wrong-wrong"), 404),
        };
        let path = if i % 2 == 0 {
            "/metrics"
        } else {
            "/health/detailed"
        };
        let ops = &ops;
        async move {
            let r = get_from(ops, "GET", path, Some(client), auth).await;
            (i, path, r.status, expected)
        }
    });
    for (i, path, status, expected) in futures_util::future::join_all(requests).await {
        assert_eq!(status, expected, "request {i} to {path}");
    }
}
http_case!(ops_detail_answers_only_private_networks_or_the_token);

/// Without a token, only the allowed networks open the routes; with networks that exclude
/// loopback, a direct (loopback) client is refused too, and no header helps.
pub async fn ops_networks_are_configurable(cx: &HttpCtx) {
    let only_office = cx
        .with_config(
            crate::testing::test_config_builder()
                .ops_access(OpsAccess::networks(vec![
                    "192.168.7.0/24".parse().expect("a network"),
                ]))
                .build()
                .expect("test config is valid"),
        )
        .await;
    let unknown = get_from(&only_office, "GET", "/api/v1/not-here", None, None).await;
    for path in ["/health/detailed", "/metrics"] {
        let r = get_from(&only_office, "GET", path, None, None).await;
        assert_like_unknown_route(&r, &unknown, path);
        // Untrusted peer: its X-Forwarded-For is not believed.
        let r = get_from(&only_office, "GET", path, Some("192.168.7.3"), None).await;
        assert_like_unknown_route(&r, &unknown, path);
        let r = get_from(
            &only_office,
            "GET",
            path,
            None,
            Some("Bearer anything-at-all"),
        )
        .await;
        assert_like_unknown_route(&r, &unknown, path);
    }
    // The default lets loopback in.
    assert_eq!(cx.get("/health/detailed", None).await.status, 200);
    assert_eq!(cx.get("/metrics", None).await.status, 200);
}
http_case!(ops_networks_are_configurable);

/// The public probes stay public and say up or down, nothing more: no version, no uptime, no
/// database or mail detail, whoever asks.
pub async fn public_probes_say_only_up_or_down(cx: &HttpCtx) {
    let ops = cx.with_config(behind_proxy(OpsAccess::default())).await;
    for (path, status) in [("/health", "ok"), ("/ready", "ready"), ("/live", "alive")] {
        for client in [Some(PUBLIC_IP), Some(PRIVATE_IP), None] {
            let r = get_from(&ops, "GET", path, client, None).await;
            assert_eq!(r.status, 200, "{path} from {client:?}");
            let body = r.json();
            assert_eq!(body["data"], json!({"status": status}), "{path}: {body}");
            let keys: Vec<&String> = body
                .as_object()
                .map(|o| o.keys().collect())
                .unwrap_or_default();
            assert_eq!(keys.len(), 3, "{path}: only success, message, data: {body}");
            assert!(
                !matches!(&body["message"], Value::String(m) if m.contains(env!("CARGO_PKG_VERSION"))),
                "{path}: {body}"
            );
        }
    }
}
http_case!(public_probes_say_only_up_or_down);
