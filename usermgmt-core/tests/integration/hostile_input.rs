//! Hostile input, generated: every route of the API with random JSON (deeply nested too), raw
//! bytes that are not UTF-8, query strings, path parameters, bearer tokens, content types,
//! multipart bodies and forwarded-for headers. Whatever arrives, the API must not panic, must not
//! answer 500, and must answer only what the OpenAPI document describes (the contract checker of
//! the HTTP suite). Runs through `Api::handle`, the code both adapters call.

use proptest::prelude::*;
use std::sync::Arc;
use usermgmt_core::ROUTES;
use usermgmt_core::api::{ApiRequest, ApiResponse};
use usermgmt_core::store::memory::MemoryStore;
use usermgmt_core::testing::contract::Contract;
use usermgmt_core::testing::http_suite::TestResponse;
use usermgmt_core::testing::{TestApp, test_config};

/// Any JSON value, nested a few levels, with the strings that break naive code.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| serde_json::json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::json!(f)),
        hostile_text().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::Array),
            prop::collection::vec((field_name(), inner), 0..6)
                .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
        ]
    })
}

/// Names the API reads, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "email",
            "username",
            "password",
            "identifier",
            "refreshToken",
            "token",
            "code",
            "challengeToken",
            "currentPassword",
            "newPassword",
            "confirmPassword",
            "firstName",
            "lastName",
            "bio",
            "phone",
            "dateOfBirth",
            "timezone",
            "language",
            "name",
            "description",
            "permissions",
            "roleId",
            "userIds",
            "reason",
            "confirmEmail",
            "retentionDays",
            "theme",
        ])
        .prop_map(str::to_owned),
        hostile_text(),
    ]
}

/// Text with control characters, header injection, SQL and path tricks, long runs.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::sample::select(vec![
            "a@b.co\r\nBcc: victim@example.com",
            "Eve\r\nSubject: pwned",
            "' OR 1=1 --",
            "../../etc/passwd",
            "%00",
            "\u{0}",
            "Passw0rd!",
            "admin",
            "2000-02-30",
            "+14155550123",
            "Europe/Paris",
            "00000000-0000-0000-0000-000000000000",
        ])
        .prop_map(str::to_owned),
        (1usize..5000).prop_map(|n| "x".repeat(n)),
    ]
}

/// A path parameter: an id, a name, or garbage (percent-encoded as a client would send it).
fn path_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(uuid::Uuid::nil().to_string()),
        Just(uuid::Uuid::new_v4().to_string()),
        Just("root".to_owned()),
        "[a-zA-Z0-9_.-]{1,40}",
        any::<String>().prop_map(|s| percent(&s)),
    ]
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Body {
    None,
    Json(serde_json::Value),
    /// Arrays nested this deep.
    Deep(usize),
    Bytes(Vec<u8>),
    Multipart(Vec<u8>),
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        Just(Body::None),
        json_value().prop_map(Body::Json),
        (1usize..4000).prop_map(Body::Deep),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Body::Bytes),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Body::Multipart),
    ]
}

#[derive(Debug, Clone)]
enum Credential {
    None,
    Admin,
    Garbage(String),
}

fn credential() -> impl Strategy<Value = Credential> {
    prop_oneof![
        Just(Credential::None),
        Just(Credential::Admin),
        Just(Credential::Admin),
        hostile_text().prop_map(Credential::Garbage),
    ]
}

#[derive(Debug, Clone)]
struct Hostile {
    route: usize,
    params: Vec<String>,
    query: Vec<(String, String)>,
    body: Body,
    content_type: Option<String>,
    credential: Credential,
    forwarded_for: Option<String>,
}

fn hostile_request() -> impl Strategy<Value = Hostile> {
    (
        0..ROUTES.len(),
        prop::collection::vec(path_value(), 3),
        prop::collection::vec((field_name(), hostile_text()), 0..4),
        body(),
        prop::option::of(prop::sample::select(vec![
            "application/json".to_owned(),
            "application/json; charset=utf-8".to_owned(),
            "text/plain".to_owned(),
            "multipart/form-data; boundary=XyZ".to_owned(),
            "multipart/form-data".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
            "\u{7f}garbage".to_owned(),
        ])),
        credential(),
        prop::option::of(prop_oneof![
            Just("127.0.0.1".to_owned()),
            Just("10.0.0.1, 203.0.113.9".to_owned()),
            hostile_text(),
        ]),
    )
        .prop_map(
            |(route, params, query, body, content_type, credential, forwarded_for)| Hostile {
                route,
                params,
                query,
                body,
                content_type,
                credential,
                forwarded_for,
            },
        )
}

/// The path of a route with its `{param}` segments filled in.
fn fill(path: &str, values: &[String]) -> String {
    let mut values = values.iter().cycle();
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                values.next().cloned().unwrap_or_default()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn multipart(bytes: &[u8]) -> Vec<u8> {
    let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    body
}

fn to_test_response(r: ApiResponse) -> TestResponse {
    TestResponse {
        status: r.status,
        headers: r.headers,
        body: r.body,
    }
}

async fn answer(app: &TestApp, admin: &str, h: &Hostile) -> (String, String, TestResponse) {
    let route = &ROUTES[h.route];
    let path = fill(route.path, &h.params);
    let query: Vec<String> = h
        .query
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect();
    let mut headers = Vec::new();
    match &h.credential {
        Credential::None => {}
        Credential::Admin => headers.push(("authorization".to_owned(), format!("Bearer {admin}"))),
        Credential::Garbage(g) => headers.push(("authorization".to_owned(), format!("Bearer {g}"))),
    }
    if let Some(ct) = &h.content_type {
        headers.push(("content-type".to_owned(), ct.clone()));
    }
    if let Some(xff) = &h.forwarded_for {
        headers.push(("x-forwarded-for".to_owned(), xff.clone()));
    }
    let body = match &h.body {
        Body::None => Vec::new(),
        Body::Json(v) => serde_json::to_vec(v).unwrap(),
        Body::Deep(depth) => format!("{}{}", "[".repeat(*depth), "]".repeat(*depth)).into_bytes(),
        Body::Bytes(b) => b.clone(),
        Body::Multipart(b) => multipart(b),
    };
    let uri = if query.is_empty() {
        path.clone()
    } else {
        format!("{path}?{}", query.join("&"))
    };
    let request = ApiRequest {
        method: route.method.to_owned(),
        path,
        query: (!query.is_empty()).then(|| query.join("&")),
        headers,
        body,
        peer_ip: Some("127.0.0.1".parse().unwrap()),
    };
    let response = to_test_response(app.api.handle(request).await);
    (route.method.to_owned(), uri, response)
}

proptest! {
    // 400 cases in the suite (a few seconds); `PROPTEST_CASES=20000` for a long search.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(400),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_input_panics_answers_500_or_leaves_the_document(h in hostile_request()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let config = usermgmt_core::testing::test_config_builder()
            .compatibility_routes(true)
            .build()
            .unwrap();
        let contract = Contract::new(&config);
        let (method, uri, response) = runtime.block_on(async {
            let app = TestApp::with_config(Arc::new(MemoryStore::new()), config);
            let admin = app.access_token_for("root", &["admin"]).await;
            answer(&app, &admin, &h).await
        });
        prop_assert!(response.status < 500, "{method} {uri} answered {}: {}", response.status, String::from_utf8_lossy(&response.body));
        if let Err(contradiction) = contract.check(&method, &uri, &response) {
            prop_assert!(false, "{method} {uri} answered {} against the document: {contradiction}\n{}", response.status, String::from_utf8_lossy(&response.body));
        }
    }
}

/// Header injection through the fields that end up in mail: refused before anything is stored
/// or sent.
#[tokio::test]
async fn header_injection_in_mail_fields_is_refused() {
    let app = TestApp::new(Arc::new(MemoryStore::new()));
    let contract = Contract::new(&test_config());
    let register = |body: serde_json::Value| {
        let mut request = ApiRequest::new("POST", "/api/v1/auth/register");
        request
            .headers
            .push(("content-type".to_owned(), "application/json".to_owned()));
        request.body = serde_json::to_vec(&body).unwrap();
        request
    };
    for body in [
        serde_json::json!({"email": "eve@example.com\r\nBcc: victim@example.com", "username": "eve", "password": "Str0ng!Passw0rd"}),
        serde_json::json!({"email": "eve@example.com", "username": "eve", "password": "Str0ng!Passw0rd", "firstName": "Eve\r\nBcc: victim@example.com"}),
        serde_json::json!({"email": "eve@example.com", "username": "eve", "password": "Str0ng!Passw0rd", "lastName": "Eve\nSubject: pwned"}),
    ] {
        let response = to_test_response(app.api.handle(register(body.clone())).await);
        assert_eq!(
            response.status,
            422,
            "{body}: {}",
            String::from_utf8_lossy(&response.body)
        );
        contract
            .check("POST", "/api/v1/auth/register", &response)
            .unwrap();
    }
    let report = app.deliver_mail().await;
    assert_eq!(app.mailer.sent().len(), 0, "nothing was mailed: {report:?}");
    let mut check = ApiRequest::new("GET", "/api/v1/auth/check-email?email=eve%40example.com");
    check.peer_ip = Some("127.0.0.1".parse().unwrap());
    let available = to_test_response(app.api.handle(check).await);
    let data: serde_json::Value = serde_json::from_slice(&available.body).unwrap();
    assert_eq!(
        data["data"]["available"],
        serde_json::json!(true),
        "nothing was stored"
    );
}
