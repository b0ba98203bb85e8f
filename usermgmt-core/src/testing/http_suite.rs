//! The HTTP conformance suite. Every adapter runs every case through its real framework stack
//! (routing, body limits, header handling) with [`http_conformance_tests!`], so behaviour parity
//! between Axum and Actix is tested rather than hoped for.
//!
//! [`http_conformance_tests!`]: crate::http_conformance_tests

use super::TestApp;
pub use super::admin_cases::*;
pub use super::authz_cases::*;
pub use super::credential_cases::*;
pub use super::input_cases::*;
pub use super::ops_cases::*;
use crate::store::Store;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use time::Duration;

/// A request as a client would send it.
#[derive(Debug, Clone, Default)]
pub struct TestRequest {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A response as a client would see it.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The body as JSON (panics with the body when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `data` of the success envelope.
    pub fn data(&self) -> Value {
        self.json()["data"].clone()
    }
}

/// An app mounted in a framework, answering requests in-process through the whole stack.
#[async_trait::async_trait(?Send)]
pub trait TestServer {
    /// Sends one request.
    async fn send(&self, request: TestRequest) -> TestResponse;
}

/// Mounts an API in the adapter under test.
type ServerFactory =
    Arc<dyn Fn(crate::api::Api) -> std::pin::Pin<Box<dyn Future<Output = Box<dyn TestServer>>>>>;

/// The contract of an app's routes and policies.
fn contract_for(app: &TestApp) -> Arc<super::contract::Contract> {
    Arc::new(super::contract::Contract::new(app.api.manager().config()))
}

/// One case's world: the test app and the framework server in front of it.
pub struct HttpCtx {
    pub app: TestApp,
    server: Box<dyn TestServer>,
    /// Every answer is held to the OpenAPI document of this app's routes.
    contract: Arc<super::contract::Contract>,
    store: Arc<dyn Store>,
    make_server: ServerFactory,
}

impl HttpCtx {
    /// Builds the store and the server; `None` when the store is skipped (no database URL).
    pub async fn start<S, F, Fut>(store: S, make_server: F) -> Option<Self>
    where
        S: Future<Output = Option<Arc<dyn Store>>>,
        F: Fn(crate::api::Api) -> Fut + 'static,
        Fut: Future<Output = Box<dyn TestServer>> + 'static,
    {
        let store = store.await?;
        let make_server: ServerFactory = Arc::new(move |api| Box::pin(make_server(api)));
        let app = TestApp::new(store.clone());
        let server = make_server(app.api.clone()).await;
        let contract = contract_for(&app);
        Some(Self {
            app,
            server,
            contract,
            store,
            make_server,
        })
    }

    /// Another app with `config` over the same store, mounted in the same adapter (cases
    /// that need a non-default configuration, or two instances on one database).
    pub async fn with_config(&self, config: crate::Config) -> Self {
        let app = TestApp::with_config(self.store.clone(), config);
        let server = (self.make_server)(app.api.clone()).await;
        let contract = contract_for(&app);
        Self {
            app,
            server,
            contract,
            store: self.store.clone(),
            make_server: self.make_server.clone(),
        }
    }

    /// The same world with the first seed's routes served.
    pub async fn with_compatibility_routes(&self) -> Self {
        let config = super::harness::test_config_builder()
            .compatibility_routes(true)
            .build()
            .expect("test config is valid");
        self.with_config(config).await
    }

    /// Sends one request through the framework and holds the answer to the OpenAPI document
    /// (panics naming the contradiction).
    pub async fn send(&self, request: TestRequest) -> TestResponse {
        let method = request.method.clone();
        let uri = request.uri.clone();
        let response = self.server.send(request).await;
        if let Err(contradiction) = self.contract.check(&method, &uri, &response) {
            panic!(
                "{method} {uri} answered {} against the OpenAPI document: {contradiction}\nbody: {}",
                response.status,
                String::from_utf8_lossy(&response.body[..response.body.len().min(2000)])
            );
        }
        response
    }

    pub async fn request(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut headers = vec![(
            "user-agent".to_owned(),
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0".to_owned(),
        )];
        if let Some(t) = token {
            headers.push(("authorization".to_owned(), format!("Bearer {t}")));
        }
        let body = match body {
            Some(v) => {
                headers.push(("content-type".to_owned(), "application/json".to_owned()));
                serde_json::to_vec(&v).unwrap()
            }
            None => Vec::new(),
        };
        self.send(TestRequest {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers,
            body,
        })
        .await
    }

    pub async fn raw(
        &self,
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> TestResponse {
        let mut headers = Vec::new();
        if let Some(ct) = content_type {
            headers.push(("content-type".to_owned(), ct.to_owned()));
        }
        self.send(TestRequest {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers,
            body,
        })
        .await
    }

    pub async fn get(&self, uri: &str, token: Option<&str>) -> TestResponse {
        self.request("GET", uri, token, None).await
    }

    pub async fn post(&self, uri: &str, token: Option<&str>, body: Value) -> TestResponse {
        self.request("POST", uri, token, Some(body)).await
    }

    /// Registers `name` (email `name@example.com`, password [`PASSWORD`]) and verifies the
    /// address through the mailed link.
    pub async fn register_verified(&self, name: &str) -> String {
        let email = format!("{name}@example.com");
        let r = self
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "username": name, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            r.status,
            201,
            "register {name}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let token = self
            .app
            .token_mailed_to(&email)
            .await
            .expect("verification mail");
        let r = self
            .get(&format!("/api/v1/auth/verify-email?token={token}"), None)
            .await;
        assert_eq!(r.status, 200, "verify {name}");
        email
    }

    /// Logs in and returns (access token, refresh token).
    pub async fn login(&self, identifier: &str, password: &str) -> (String, String) {
        let r = self
            .post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": identifier, "password": password}),
            )
            .await;
        assert_eq!(
            r.status,
            200,
            "login {identifier}: {}",
            String::from_utf8_lossy(&r.body)
        );
        let tokens = &r.json()["data"]["tokens"];
        (
            tokens["accessToken"].as_str().unwrap().to_owned(),
            tokens["refreshToken"].as_str().unwrap().to_owned(),
        )
    }

    /// Audit actions recorded for a user, oldest first.
    pub async fn audit_actions(&self, email: &str) -> Vec<String> {
        let store = self.app.manager.store();
        let user = store
            .user_by_email(email)
            .await
            .unwrap()
            .expect("user exists");
        let mut actions: Vec<String> = store
            .audit_events(Some(user.id), 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        actions.reverse();
        actions
    }
}

/// The password every suite user registers with.
pub const PASSWORD: &str = "Str0ng!Passw0rd";
/// A second valid password.
pub const NEW_PASSWORD: &str = "An0ther!Secret9";

/// Asserts an error envelope with the given status and code.
#[track_caller]
pub fn assert_error(r: &TestResponse, status: u16, code: &str) {
    let body = r.json();
    assert_eq!(r.status, status, "status for {code}: {body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["code"], json!(code), "{body}");
    assert_eq!(body["statusCode"], json!(status), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// Field names listed in a 422 envelope.
pub fn error_fields(r: &TestResponse) -> Vec<String> {
    r.json()["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

// ------------------------------------------------------------------------------------------
// Cases
// ------------------------------------------------------------------------------------------

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

pub async fn unknown_routes_and_methods_get_the_envelope(cx: &HttpCtx) {
    assert_error(&cx.get("/api/v1/nope", None).await, 404, "ROUTE_NOT_FOUND");
    assert_error(
        &cx.get("/api/v1/auth/login/extra/segments", None).await,
        404,
        "ROUTE_NOT_FOUND",
    );
    let r = cx.request("DELETE", "/api/v1/auth/login", None, None).await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("POST"));
}

pub async fn registration_reports_every_broken_rule_and_changes_nothing(cx: &HttpCtx) {
    let r = cx.post("/api/v1/auth/register", None, json!({})).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let fields = error_fields(&r);
    for f in ["email", "username", "password"] {
        assert!(
            fields.contains(&f.to_owned()),
            "{f} missing from {fields:?}"
        );
    }
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "not-an-email", "username": "a!", "password": "short"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let fields = error_fields(&r);
    assert!(
        fields.iter().filter(|f| *f == "password").count() >= 3,
        "{fields:?}"
    );
    let r = cx.post("/api/v1/auth/register", None, json!({"email": "same@example.com", "username": "same_user", "password": "Same@example.com1"})).await;
    assert_eq!(
        r.status, 201,
        "a password that merely contains the email is fine"
    );
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "p@example.com", "username": "pw_user", "password": "P@ssw0rd"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .get("/api/v1/auth/check-email?email=p@example.com", None)
        .await;
    assert_eq!(
        r.data()["available"],
        json!(true),
        "a refused registration created nothing"
    );
    cx.app.deliver_mail().await;
    assert!(cx.app.mailer.last_to("p@example.com").is_none());
}

pub async fn registration_conflicts_are_409(cx: &HttpCtx) {
    cx.register_verified("carol").await;
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": " CAROL@Example.com ", "username": "carol2", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "EMAIL_TAKEN");
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "carol2@example.com", "username": "CAROL", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "USERNAME_TAKEN");
    assert_eq!(
        cx.get("/api/v1/auth/check-username?username=Carol", None)
            .await
            .data()["available"],
        json!(false)
    );
    assert_eq!(
        cx.get("/api/v1/auth/check-username?username=dave", None)
            .await
            .data()["available"],
        json!(true)
    );
    assert_eq!(
        cx.get("/api/v1/auth/check-email?email=CAROL%40example.com", None)
            .await
            .data()["available"],
        json!(false)
    );
    assert_error(
        &cx.get("/api/v1/auth/check-email?email=nope", None).await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.get("/api/v1/auth/check-username", None).await,
        422,
        "VALIDATION_ERROR",
    );
}

pub async fn bad_input_gets_the_envelope_and_changes_nothing(cx: &HttpCtx) {
    let reg = "/api/v1/auth/register";
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            b"{\"email\": ".to_vec(),
        )
        .await,
        400,
        "MALFORMED_JSON",
    );
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            b"\xff\xfe{}".to_vec(),
        )
        .await,
        400,
        "MALFORMED_JSON",
    );
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            "[".repeat(5000).into_bytes(),
        )
        .await,
        400,
        "MALFORMED_JSON",
    );
    let r = cx
        .post(
            reg,
            None,
            json!({"email": 5, "username": "eve", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["email"]);
    let r = cx.post(reg, None, json!({"email": "eve@example.com", "username": "eve", "password": PASSWORD, "isAdmin": true})).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("isAdmin")
    );
    assert_error(
        &cx.raw("POST", reg, Some("text/plain"), b"email=eve".to_vec())
            .await,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    assert_error(
        &cx.raw("POST", reg, Some("application/json"), huge.into_bytes())
            .await,
        413,
        "PAYLOAD_TOO_LARGE",
    );
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            b"\"a string\"".to_vec(),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    let r = cx
        .get("/api/v1/auth/check-email?email=eve@example.com", None)
        .await;
    assert_eq!(
        r.data()["available"],
        json!(true),
        "nothing was created by bad input"
    );
}

pub async fn full_account_flow(cx: &HttpCtx) {
    // Register: 201 with the user and never a hash.
    let r = cx.post("/api/v1/auth/register", None, json!({"email": "Alice@Example.com", "username": "Alice_1", "password": PASSWORD, "firstName": "Alice"})).await;
    assert_eq!(r.status, 201);
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert!(
        !body.contains("argon2") && !body.contains("assword"),
        "{body}"
    );
    let user = r.data()["user"].clone();
    assert_eq!(user["email"], json!("alice@example.com"));
    assert_eq!(user["username"], json!("alice_1"));
    assert_eq!(user["emailVerified"], json!(false));
    assert_eq!(user["roles"], json!(["user"]));
    let stored = cx
        .app
        .manager
        .store()
        .user_by_email("alice@example.com")
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$v=19$"),
        "PHC string"
    );

    // The verification mail carries a working link.
    let token = cx
        .app
        .token_mailed_to("alice@example.com")
        .await
        .expect("verification mail");
    let mail = cx.app.mailer.last_to("alice@example.com").unwrap();
    assert!(mail.html.contains("token="));
    let r = cx
        .get(&format!("/api/v1/auth/verify-email?token={token}"), None)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["user"]["emailVerified"], json!(true));
    assert_error(
        &cx.get(&format!("/api/v1/auth/verify-email?token={token}"), None)
            .await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );

    // Login by username, case-insensitively; `email` accepted in place of `identifier`.
    let r = cx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "ALICE_1", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    let data = r.data();
    assert_eq!(data["tokens"]["tokenType"], json!("Bearer"));
    assert_eq!(data["tokens"]["expiresIn"], json!(900));
    assert!(data["user"]["lastLoginAt"].is_string());
    let access = data["tokens"]["accessToken"].as_str().unwrap().to_owned();
    let refresh = data["tokens"]["refreshToken"].as_str().unwrap().to_owned();
    let r = cx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "alice@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);

    // Profile with the access token.
    let r = cx.get("/api/v1/users/profile", Some(&access)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["user"]["username"], json!("alice_1"));
    assert_eq!(r.data()["profile"]["preferences"], json!({}));

    // Refresh rotates; the new pair works.
    let r = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(r.status, 200);
    let access2 = r.data()["accessToken"].as_str().unwrap().to_owned();
    let refresh2 = r.data()["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(refresh2, refresh);
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&access2)).await.status,
        200
    );

    // After the grace window the old refresh token is a theft signal: the session dies.
    cx.app.clock.advance(Duration::seconds(11));
    assert_error(
        &cx.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await,
        401,
        "TOKEN_REUSE_DETECTED",
    );
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&access2)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh2}),
        )
        .await,
        401,
        "INVALID_REFRESH_TOKEN",
    );

    let actions = cx.audit_actions("alice@example.com").await;
    for a in [
        "USER_REGISTERED",
        "EMAIL_VERIFIED",
        "USER_LOGIN",
        "TOKEN_REUSE_DETECTED",
    ] {
        assert!(
            actions.contains(&a.to_owned()),
            "{a} not audited: {actions:?}"
        );
    }
}

pub async fn concurrent_refresh_within_grace_gets_valid_pairs(cx: &HttpCtx) {
    cx.register_verified("tabs").await;
    let (_, refresh) = cx.login("tabs", PASSWORD).await;
    let first = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    cx.app.clock.advance(Duration::seconds(5));
    let second = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200, "second tab within the grace window");
    for r in [&first, &second] {
        let access = r.data()["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(
            cx.get("/api/v1/users/profile", Some(&access)).await.status,
            200
        );
        let next = r.data()["refreshToken"].as_str().unwrap().to_owned();
        assert_eq!(
            cx.post("/api/v1/auth/refresh", None, json!({"refreshToken": next}))
                .await
                .status,
            200
        );
    }
}

pub async fn logout_ends_the_session_at_once(cx: &HttpCtx) {
    cx.register_verified("bob").await;
    let (access, refresh) = cx.login("bob@example.com", PASSWORD).await;
    let (other_access, _) = cx.login("bob", PASSWORD).await;
    assert_error(
        &cx.post("/api/v1/auth/logout", None, json!({})).await,
        401,
        "UNAUTHENTICATED",
    );
    let r = cx
        .post(
            "/api/v1/auth/logout",
            Some(&access),
            json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = cx.get("/api/v1/users/profile", Some(&access)).await;
    assert_error(&r, 401, "INVALID_TOKEN");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await,
        401,
        "INVALID_REFRESH_TOKEN",
    );
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&other_access))
            .await
            .status,
        200,
        "other sessions live on"
    );
    assert!(
        cx.audit_actions("bob@example.com")
            .await
            .contains(&"USER_LOGOUT".to_owned())
    );
}

pub async fn access_tokens_are_checked(cx: &HttpCtx) {
    cx.register_verified("tok").await;
    let (access, _) = cx.login("tok", PASSWORD).await;
    let r = cx.get("/api/v1/users/profile", None).await;
    assert_error(&r, 401, "UNAUTHENTICATED");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_error(
        &cx.get("/api/v1/users/profile", Some("garbage")).await,
        401,
        "INVALID_TOKEN",
    );
    let mut tampered = access.clone();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&tampered)).await,
        401,
        "INVALID_TOKEN",
    );
    let r = cx.request("GET", "/api/v1/users/profile", None, None).await;
    assert_eq!(r.status, 401);
    cx.app.clock.advance(Duration::minutes(15));
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&access)).await,
        401,
        "INVALID_TOKEN",
    );
}

pub async fn login_failures_lock_the_account(cx: &HttpCtx) {
    cx.register_verified("lock").await;
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "ghost", "password": PASSWORD}),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "", "password": ""}),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    for _ in 0..4 {
        assert_error(
            &cx.post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": "lock", "password": "Wr0ng!pass"}),
            )
            .await,
            401,
            "INVALID_CREDENTIALS",
        );
    }
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "lock", "password": "Wr0ng!pass"}),
        )
        .await,
        423,
        "ACCOUNT_LOCKED",
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "lock", "password": PASSWORD}),
        )
        .await,
        423,
        "ACCOUNT_LOCKED",
    );
    cx.app.deliver_mail().await;
    assert!(
        cx.app
            .mailer
            .last_to("lock@example.com")
            .is_some_and(|m| m.subject.contains("locked"))
    );
    cx.app.clock.advance(Duration::minutes(15));
    cx.login("lock", PASSWORD).await;
    let actions = cx.audit_actions("lock@example.com").await;
    // Four wrong passwords, the fifth that locked, and the right one refused during the lock.
    assert_eq!(actions.iter().filter(|a| *a == "LOGIN_FAILED").count(), 6);
    assert!(actions.contains(&"ACCOUNT_LOCKED".to_owned()));
}

pub async fn password_reset_flow(cx: &HttpCtx) {
    cx.register_verified("rita").await;
    let (access, _) = cx.login("rita", PASSWORD).await;
    // Unknown addresses get the same answer and no mail.
    assert_eq!(
        cx.post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": "nobody@example.com"})
        )
        .await
        .status,
        200
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": "bad"}),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_eq!(
        cx.post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": "RITA@example.com"})
        )
        .await
        .status,
        200
    );
    let token = cx
        .app
        .token_mailed_to("rita@example.com")
        .await
        .expect("reset mail");
    assert!(cx.app.mailer.last_to("nobody@example.com").is_none());
    let reset = "/api/v1/auth/reset-password";
    let r = cx
        .post(
            reset,
            None,
            json!({"token": token, "password": "weak", "confirmPassword": "weak"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .post(
            reset,
            None,
            json!({"token": token, "password": NEW_PASSWORD, "confirmPassword": "Different!1a"}),
        )
        .await;
    assert_eq!(error_fields(&r), vec!["confirmPassword"]);
    let r = cx
        .post(
            reset,
            None,
            json!({"token": token, "password": PASSWORD, "confirmPassword": PASSWORD}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("last"),
        "history applies to resets"
    );
    assert_error(
        &cx.post(
            reset,
            None,
            json!({"token": "forged", "password": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD}),
        )
        .await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );
    assert_eq!(
        cx.post(
            reset,
            None,
            json!({"token": token, "password": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD})
        )
        .await
        .status,
        200
    );
    assert_error(&cx.post(reset, None, json!({"token": token, "password": "Th1rd!Password", "confirmPassword": "Th1rd!Password"})).await, 400, "INVALID_OR_EXPIRED_TOKEN");
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&access)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "rita", "password": PASSWORD}),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    cx.login("rita", NEW_PASSWORD).await;
    cx.app.deliver_mail().await;
    assert!(
        cx.app
            .mailer
            .last_to("rita@example.com")
            .is_some_and(|m| m.subject.contains("password was changed"))
    );
    // Reset links expire after an hour.
    cx.post(
        "/api/v1/auth/forgot-password",
        None,
        json!({"email": "rita@example.com"}),
    )
    .await;
    let late = cx.app.token_mailed_to("rita@example.com").await.unwrap();
    cx.app.clock.advance(Duration::minutes(61));
    assert_error(&cx.post(reset, None, json!({"token": late, "password": "Th1rd!Password", "confirmPassword": "Th1rd!Password"})).await, 400, "INVALID_OR_EXPIRED_TOKEN");
    let actions = cx.audit_actions("rita@example.com").await;
    assert!(
        actions.contains(&"PASSWORD_RESET_REQUESTED".to_owned())
            && actions.contains(&"PASSWORD_RESET_COMPLETED".to_owned())
    );
}

pub async fn change_password_keeps_only_the_current_session(cx: &HttpCtx) {
    cx.register_verified("chad").await;
    let (access, _) = cx.login("chad", PASSWORD).await;
    let (other, other_refresh) = cx.login("chad", PASSWORD).await;
    let url = "/api/v1/auth/change-password";
    assert_error(&cx.post(url, Some(&access), json!({"currentPassword": "Wr0ng!pass", "newPassword": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD})).await, 400, "INCORRECT_PASSWORD");
    let r = cx.post(url, Some(&access), json!({"currentPassword": PASSWORD, "newPassword": PASSWORD, "confirmPassword": PASSWORD})).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_error(&cx.post(url, None, json!({})).await, 401, "UNAUTHENTICATED");
    let r = cx.post(url, Some(&access), json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["revokedSessions"], json!(1));
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&access)).await.status,
        200,
        "current session lives"
    );
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&other)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": other_refresh}),
        )
        .await,
        401,
        "INVALID_REFRESH_TOKEN",
    );
    // Back to the first password: refused by history.
    let r = cx.post(url, Some(&access), json!({"currentPassword": NEW_PASSWORD, "newPassword": PASSWORD, "confirmPassword": PASSWORD})).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert!(
        cx.audit_actions("chad@example.com")
            .await
            .contains(&"PASSWORD_CHANGED".to_owned())
    );
}

pub async fn email_verification_tokens(cx: &HttpCtx) {
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "vera@example.com", "username": "vera", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201);
    let first = cx.app.token_mailed_to("vera@example.com").await.unwrap();
    assert_eq!(
        cx.post(
            "/api/v1/auth/resend-verification",
            None,
            json!({"email": "vera@example.com"})
        )
        .await
        .status,
        200
    );
    let second = cx.app.token_mailed_to("vera@example.com").await.unwrap();
    assert_ne!(first, second);
    assert_error(
        &cx.post("/api/v1/auth/verify-email", None, json!({"token": first}))
            .await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );
    assert_error(
        &cx.post("/api/v1/auth/verify-email", None, json!({})).await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.get("/api/v1/auth/verify-email", None).await,
        422,
        "VALIDATION_ERROR",
    );
    assert_eq!(
        cx.post(
            "/api/v1/auth/resend-verification",
            None,
            json!({"email": "ghost@example.com"})
        )
        .await
        .status,
        200
    );
    let r = cx
        .post("/api/v1/auth/verify-email", None, json!({"token": second}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data()["user"]["emailVerified"], json!(true));
    // Expired links are refused.
    cx.post(
        "/api/v1/auth/register",
        None,
        json!({"email": "late@example.com", "username": "late", "password": PASSWORD}),
    )
    .await;
    let late = cx.app.token_mailed_to("late@example.com").await.unwrap();
    cx.app.clock.advance(Duration::hours(25));
    assert_error(
        &cx.post("/api/v1/auth/verify-email", None, json!({"token": late}))
            .await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );
}

pub async fn profile_and_preferences(cx: &HttpCtx) {
    cx.register_verified("pam").await;
    let (access, _) = cx.login("pam", PASSWORD).await;
    let url = "/api/v1/users/profile";
    let r = cx.request("PATCH", url, Some(&access), Some(json!({"firstName": "Pam", "bio": "Hi", "phone": "+14155550123", "language": "EN", "dateOfBirth": "1990-05-01", "timezone": "Europe/Paris"}))).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["user"]["firstName"], json!("Pam"));
    assert_eq!(r.data()["profile"]["language"], json!("en"));
    assert_eq!(r.data()["profile"]["dateOfBirth"], json!("1990-05-01"));
    let r = cx
        .request(
            "PATCH",
            url,
            Some(&access),
            Some(json!({"city": "Lyon", "bio": null})),
        )
        .await;
    assert_eq!(r.data()["profile"]["city"], json!("Lyon"));
    assert_eq!(r.data()["profile"]["bio"], json!(null), "null clears");
    assert_eq!(
        r.data()["profile"]["phone"],
        json!("+14155550123"),
        "absent keeps"
    );
    let r = cx
        .request(
            "PUT",
            url,
            Some(&access),
            Some(json!({"firstName": "Pamela"})),
        )
        .await;
    assert_eq!(r.data()["user"]["firstName"], json!("Pamela"));
    assert_eq!(
        r.data()["profile"]["city"],
        json!(null),
        "PUT replaces the whole profile"
    );
    let r = cx.request("PATCH", url, Some(&access), Some(json!({"phone": "0123", "language": "eng", "dateOfBirth": "2990-01-01", "timezone": "Not a zone"}))).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let mut fields = error_fields(&r);
    fields.sort();
    assert_eq!(fields, vec!["dateOfBirth", "language", "phone", "timezone"]);
    assert_eq!(
        cx.get(url, Some(&access)).await.data()["user"]["firstName"],
        json!("Pamela"),
        "refused update changed nothing"
    );

    let prefs = "/api/v1/users/preferences";
    let r = cx
        .request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!({"theme": "dark", "lang": "fr"})),
        )
        .await;
    assert_eq!(
        r.data()["preferences"],
        json!({"theme": "dark", "lang": "fr"})
    );
    let r = cx
        .request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!({"theme": "light", "lang": null})),
        )
        .await;
    assert_eq!(r.data()["preferences"], json!({"theme": "light"}));
    assert_error(
        &cx.request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!(["not", "an", "object"])),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!({"big": "x".repeat(20_000)})),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    // Numbers at the edges of f64 are read back as they were written. PostgreSQL's jsonb keeps
    // them as exact decimals and writes them back expanded (f64::MAX as 309 digits), which the
    // default float parsing refused: the profile then answered 500 on every read.
    let edges = json!({
        "max": f64::MAX,
        "min": -f64::MAX,
        "tiny": 5e-324,
        "small": 1e-7,
        "wide": 123_456_789_012_345_678_901_234_567_890.0,
        "inexact": 0.300_000_000_000_000_04,
        "int": u64::MAX,
        "neg": i64::MIN,
    });
    let r = cx
        .request("PUT", prefs, Some(&access), Some(edges.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let read = cx.get(url, Some(&access)).await;
    assert_eq!(read.status, 200, "{}", String::from_utf8_lossy(&read.body));
    for (key, value) in edges.as_object().unwrap() {
        assert_eq!(&read.data()["profile"]["preferences"][key], value, "{key}");
    }
    let clear: serde_json::Map<String, Value> = edges
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    let r = cx
        .request("PUT", prefs, Some(&access), Some(Value::Object(clear)))
        .await;
    assert_eq!(r.data()["preferences"], json!({"theme": "light"}));
    // U+0000 anywhere (PostgreSQL's jsonb cannot hold it; found by fuzzing: it answered 500).
    for nul in [
        json!({"theme": "da\u{0}rk"}),
        json!({"a\u{0}": 1}),
        json!({"deep": [{"k": null}, {"x\u{0}y": "v"}]}),
        json!({"deep": {"list": ["ok", "n\u{0}"]}}),
    ] {
        assert_error(
            &cx.request("PUT", prefs, Some(&access), Some(nul)).await,
            422,
            "VALIDATION_ERROR",
        );
    }
    assert_eq!(
        cx.get(url, Some(&access)).await.data()["profile"]["preferences"],
        json!({"theme": "light"})
    );
    let actions = cx.audit_actions("pam@example.com").await;
    assert!(
        actions.contains(&"PROFILE_UPDATED".to_owned())
            && actions.contains(&"PREFERENCES_UPDATED".to_owned())
    );
}

pub async fn public_profiles_show_public_fields_only(cx: &HttpCtx) {
    cx.register_verified("quinn").await;
    let r = cx.get("/api/v1/users/QUINN", None).await;
    assert_eq!(r.status, 200);
    let data = r.data();
    assert_eq!(data["username"], json!("quinn"));
    assert!(
        data.get("email").is_none(),
        "no email in a public profile: {data}"
    );
    assert!(data["createdAt"].is_string());
    assert_error(
        &cx.get("/api/v1/users/nobody_here", None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(&cx.get("/api/v1/users/x", None).await, 404, "NOT_FOUND");
}

pub async fn sessions_are_listed_and_revoked(cx: &HttpCtx) {
    cx.register_verified("sam").await;
    let (a, _) = cx.login("sam", PASSWORD).await;
    let (b, _) = cx.login("sam", PASSWORD).await;
    let (c, _) = cx.login("sam", PASSWORD).await;
    let r = cx.get("/api/v1/sessions", Some(&a)).await;
    let list = r.data();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .filter(|s| s["isCurrent"] == json!(true))
            .count(),
        1
    );
    assert_eq!(list[0]["deviceInfo"]["browser"], json!("Firefox"));
    let b_id = cx.app.manager.authenticate(&b).await.unwrap().session_id;
    assert_eq!(
        cx.request(
            "DELETE",
            &format!("/api/v1/sessions/{b_id}"),
            Some(&a),
            None
        )
        .await
        .status,
        200
    );
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&b)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &cx.request(
            "DELETE",
            &format!("/api/v1/sessions/{b_id}"),
            Some(&a),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.request("DELETE", "/api/v1/sessions/not-a-uuid", Some(&a), None)
            .await,
        404,
        "NOT_FOUND",
    );
    let r = cx
        .post("/api/v1/sessions/revoke-all", Some(&a), json!({}))
        .await;
    assert_eq!(r.data()["revokedCount"], json!(1));
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&c)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_eq!(cx.get("/api/v1/users/profile", Some(&a)).await.status, 200);
}

pub async fn rate_limits_answer_429_with_headers(cx: &HttpCtx) {
    let limit = cx.app.manager.config().rate_limits.login;
    let attempt = || {
        cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "nobody", "password": PASSWORD}),
        )
    };
    let first = attempt().await;
    assert_eq!(
        first.header("x-ratelimit-limit"),
        Some(limit.max.to_string().as_str())
    );
    assert_eq!(
        first.header("x-ratelimit-remaining"),
        Some((limit.max - 1).to_string().as_str())
    );
    for _ in 1..limit.max {
        assert_eq!(attempt().await.status, 401);
    }
    let refused = attempt().await;
    assert_error(&refused, 429, "RATE_LIMITED");
    let retry: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry >= 1 && retry <= limit.window.whole_seconds() as u64);
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert!(refused.header("x-ratelimit-reset").is_some());
    assert_eq!(
        cx.get("/health", None).await.status,
        200,
        "probes are never limited"
    );
    assert_eq!(
        cx.get("/api/v1/auth/check-username?username=free_name", None)
            .await
            .status,
        200,
        "other routes keep their own budget"
    );
    cx.app.clock.advance(limit.window);
    assert_eq!(attempt().await.status, 401, "a new window");
}

// --- two-factor -----------------------------------------------------------------------------

/// Enrols `name` (registered, verified, logged in with `access`) in two-factor through the API;
/// returns the base32 secret and the backup codes.
pub async fn enrol_two_factor(
    cx: &HttpCtx,
    access: &str,
) -> (crate::totp::TotpSecret, Vec<String>) {
    let r = cx.post("/api/v1/2fa/setup", Some(access), json!({})).await;
    assert_eq!(r.status, 200, "setup: {}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    let secret_b32 = data["secret"].as_str().unwrap().to_owned();
    assert!(
        data["otpauthUrl"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(data["otpauthUrl"].as_str().unwrap().contains(&secret_b32));
    assert!(
        data["qrCode"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    let secret = secret_from_base32(&secret_b32);
    let status = cx.get("/api/v1/2fa/status", Some(access)).await.data();
    assert_eq!(status["enabled"], json!(false));
    assert_eq!(status["pendingSetup"], json!(true));
    let code = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    let r = cx
        .post("/api/v1/2fa/enable", Some(access), json!({"code": code}))
        .await;
    assert_eq!(
        r.status,
        200,
        "enable: {}",
        String::from_utf8_lossy(&r.body)
    );
    let codes: Vec<String> = serde_json::from_value(r.data()["backupCodes"].clone()).unwrap();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn secret_from_base32(b32: &str) -> crate::totp::TotpSecret {
    crate::totp::TotpSecret::from_base32(b32).expect("the setup returns base32")
}

/// The first step of a login of a two-factor user: the challenge token.
pub(crate) async fn login_challenge(cx: &HttpCtx, identifier: &str, password: &str) -> String {
    let r = cx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": identifier, "password": password}),
        )
        .await;
    assert_eq!(r.status, 200, "login: {}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    assert_eq!(data["twoFactorRequired"], json!(true));
    assert_eq!(data["methods"], json!(["totp", "backup_code"]));
    assert!(
        data.get("tokens").is_none(),
        "no tokens before the second factor"
    );
    data["challengeToken"].as_str().unwrap().to_owned()
}

/// Setup → enable → login answers a challenge → TOTP completes it; replays, wrong codes and
/// bad challenges are refused; status, step-up verify and disable work.
pub async fn two_factor_login_with_totp(cx: &HttpCtx) {
    let email = cx.register_verified("tfa").await;
    let (access, _) = cx.login("tfa", PASSWORD).await;
    assert_error(
        &cx.post(
            "/api/v1/2fa/enable",
            Some(&access),
            json!({"code": "123456"}),
        )
        .await,
        400,
        "TWO_FACTOR_NOT_ENABLED",
    );
    assert_error(
        &cx.post(
            "/api/v1/2fa/verify",
            Some(&access),
            json!({"code": "123456"}),
        )
        .await,
        400,
        "TWO_FACTOR_NOT_ENABLED",
    );
    assert_error(
        &cx.post("/api/v1/2fa/setup", None, json!({})).await,
        401,
        "UNAUTHENTICATED",
    );
    // A wrong first code leaves it disabled.
    let r = cx.post("/api/v1/2fa/setup", Some(&access), json!({})).await;
    assert_eq!(r.status, 200);
    assert_error(
        &cx.post(
            "/api/v1/2fa/enable",
            Some(&access),
            json!({"code": "000000x"}),
        )
        .await,
        400,
        "INVALID_2FA_CODE",
    );
    let (secret, backup) = enrol_two_factor(cx, &access).await;
    assert_error(
        &cx.post("/api/v1/2fa/setup", Some(&access), json!({})).await,
        409,
        "TWO_FACTOR_ALREADY_ENABLED",
    );
    let status = cx.get("/api/v1/2fa/status", Some(&access)).await.data();
    assert_eq!(status["enabled"], json!(true));
    assert_eq!(status["backupCodesRemaining"], json!(10));
    let profile = cx.get("/api/v1/users/profile", Some(&access)).await.data();
    assert_eq!(profile["user"]["twoFactorEnabled"], json!(true));
    assert!(!backup[0].is_empty());

    // The code that enabled it is spent: the next login needs the next time step.
    cx.app.clock.advance(Duration::seconds(30));
    let challenge = login_challenge(cx, "tfa", PASSWORD).await;
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": "nope", "code": "123456"}),
        )
        .await,
        401,
        "INVALID_2FA_CHALLENGE",
    );
    assert_error(
        &cx.post("/api/v1/auth/login/2fa", None, json!({})).await,
        422,
        "VALIDATION_ERROR",
    );
    let code = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let tokens = r.data()["tokens"].clone();
    let second_access = tokens["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&second_access))
            .await
            .status,
        200
    );
    // The challenge is single use, and the code is spent.
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": code}),
        )
        .await,
        401,
        "INVALID_2FA_CHALLENGE",
    );
    let challenge = login_challenge(cx, "tfa", PASSWORD).await;
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": code}),
        )
        .await,
        400,
        "INVALID_2FA_CODE",
    );
    // Challenges expire after five minutes.
    cx.app
        .clock
        .advance(Duration::minutes(5) + Duration::seconds(1));
    let code = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": code}),
        )
        .await,
        401,
        "INVALID_2FA_CHALLENGE",
    );

    // Step-up verify spends a code too.
    let r = cx
        .post(
            "/api/v1/2fa/verify",
            Some(&second_access),
            json!({"code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_error(
        &cx.post(
            "/api/v1/2fa/verify",
            Some(&second_access),
            json!({"code": code}),
        )
        .await,
        400,
        "INVALID_2FA_CODE",
    );

    // Disable with the password; login then answers tokens at once.
    assert_error(
        &cx.post(
            "/api/v1/2fa/disable",
            Some(&second_access),
            json!({"password": "Wr0ng!pass"}),
        )
        .await,
        400,
        "INCORRECT_PASSWORD",
    );
    assert_error(
        &cx.post("/api/v1/2fa/disable", Some(&second_access), json!({}))
            .await,
        422,
        "VALIDATION_ERROR",
    );
    let r = cx
        .post(
            "/api/v1/2fa/disable",
            Some(&second_access),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    cx.login("tfa", PASSWORD).await;
    let status = cx
        .get("/api/v1/2fa/status", Some(&second_access))
        .await
        .data();
    assert_eq!(status["enabled"], json!(false));
    let actions = cx.audit_actions(&email).await;
    for action in ["2FA_ENABLED", "2FA_DISABLED"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    cx.app.deliver_mail().await;
    assert!(
        cx.app
            .mailer
            .last_to(&email)
            .is_some_and(|m| m.subject.contains("two-factor"))
    );
}

/// Backup codes complete a login once each; regeneration voids the old ones; wrong second
/// factors count towards the lockout.
pub async fn two_factor_backup_codes_and_lockout(cx: &HttpCtx) {
    let email = cx.register_verified("bkp").await;
    let (access, _) = cx.login("bkp", PASSWORD).await;
    let (secret, backup) = enrol_two_factor(cx, &access).await;

    let challenge = login_challenge(cx, "bkp", PASSWORD).await;
    let spaced = backup[0].to_uppercase().replace('-', " ");
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": spaced}),
        )
        .await;
    assert_eq!(
        r.status,
        200,
        "a backup code as typed: {}",
        String::from_utf8_lossy(&r.body)
    );
    let challenge = login_challenge(cx, "bkp", PASSWORD).await;
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": backup[0]}),
        )
        .await,
        400,
        "INVALID_2FA_CODE",
    );
    let status = cx.get("/api/v1/2fa/status", Some(&access)).await.data();
    assert_eq!(status["backupCodesRemaining"], json!(9));
    assert!(
        cx.audit_actions(&email)
            .await
            .iter()
            .any(|a| a == "BACKUP_CODE_USED")
    );

    // Regenerate with a TOTP code: the old codes stop working.
    cx.app.clock.advance(Duration::seconds(30));
    let code = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    let r = cx
        .post(
            "/api/v1/2fa/backup-codes",
            Some(&access),
            json!({"code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let fresh: Vec<String> = serde_json::from_value(r.data()["backupCodes"].clone()).unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !backup.contains(c)));
    assert!(
        cx.audit_actions(&email)
            .await
            .iter()
            .any(|a| a == "BACKUP_CODES_REGENERATED")
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": backup[1]}),
        )
        .await,
        400,
        "INVALID_2FA_CODE",
    );
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": fresh[3]}),
        )
        .await;
    assert_eq!(r.status, 200);

    // Wrong second factors lock the account like wrong passwords: five wrong answers within
    // one window (as long as a lock, 15 minutes) lock it. A new window first, so the two wrong
    // codes above are forgotten and the fifth failure from here locks (it also gives the
    // second-factor rate limit, 10 a minute, a new minute).
    cx.app.clock.advance(Duration::minutes(15));
    let challenge = login_challenge(cx, "bkp", PASSWORD).await;
    for _ in 0..4 {
        assert_error(
            &cx.post(
                "/api/v1/auth/login/2fa",
                None,
                json!({"challengeToken": challenge, "code": "999999"}),
            )
            .await,
            400,
            "INVALID_2FA_CODE",
        );
    }
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": "zzzz-zzzz-zzzz-zzzz"}),
        )
        .await;
    assert_error(&r, 423, "ACCOUNT_LOCKED");
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": fresh[4]}),
        )
        .await,
        423,
        "ACCOUNT_LOCKED",
    );
    assert!(
        cx.audit_actions(&email)
            .await
            .iter()
            .any(|a| a == "ACCOUNT_LOCKED")
    );
    // After the lock, the pending challenge (still within its 5 minutes? no: 15 have passed)
    // is gone, and a fresh login works with a backup code.
    cx.app
        .clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    let challenge = login_challenge(cx, "bkp", PASSWORD).await;
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": fresh[4]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}

// --- signing keys ---------------------------------------------------------------------------

/// With Ed25519 keys, access tokens are EdDSA JWTs whose `kid` names a key published at
/// `/.well-known/jwks.json`; a rotation keeps old tokens valid; HS256 publishes no key.
pub async fn eddsa_tokens_verify_against_the_jwks(cx: &HttpCtx) {
    use crate::auth::tokens::{AccessClaims, Ed25519Key};
    let r = cx.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"keys": []}),
        "a shared secret is never published"
    );

    let first = Ed25519Key::generate("key-1");
    let eddsa = cx
        .with_config(
            super::test_config_builder()
                .ed25519_key(first.clone())
                .build()
                .unwrap(),
        )
        .await;
    eddsa.register_verified("eddie").await;
    let (access, _) = eddsa.login("eddie", PASSWORD).await;
    let jwks = eddsa.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200);
    assert!(jwks.header("cache-control").is_some());
    let jwks = jwks.json();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some("key-1"));
    // A relying party with nothing but the JWKS verifies the token.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["usermgmt"]);
    validation.set_issuer(&["usermgmt"]);
    let claims = jsonwebtoken::decode::<AccessClaims>(
        &access,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .expect("verifies with the published key")
    .claims;
    assert_eq!(claims.username, "eddie");
    assert_eq!(
        eddsa
            .get("/api/v1/users/profile", Some(&access))
            .await
            .status,
        200
    );
    // The default (HS256) instance refuses the EdDSA token.
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&access)).await,
        401,
        "INVALID_TOKEN",
    );

    // Rotation: a new key signs, the old one still verifies until its tokens expire.
    let rotated = cx
        .with_config(
            super::test_config_builder()
                .ed25519_key(Ed25519Key::generate("key-2"))
                .ed25519_key(first)
                .build()
                .unwrap(),
        )
        .await;
    assert_eq!(
        rotated
            .get("/api/v1/users/profile", Some(&access))
            .await
            .status,
        200
    );
    let (fresh, _) = rotated.login("eddie", PASSWORD).await;
    assert_eq!(
        jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
        Some("key-2")
    );
    let kids: Vec<_> = rotated.get("/.well-known/jwks.json", None).await.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, ["key-2", "key-1"]);
}

// --- browser-facing headers ---------------------------------------------------------------

/// A CORS preflight for `POST /auth/login` from `origin`.
async fn preflight(cx: &HttpCtx, origin: &str) -> TestResponse {
    cx.send(TestRequest {
        method: "OPTIONS".to_owned(),
        uri: "/api/v1/auth/login".to_owned(),
        headers: vec![
            ("origin".to_owned(), origin.to_owned()),
            (
                "access-control-request-method".to_owned(),
                "POST".to_owned(),
            ),
            (
                "access-control-request-headers".to_owned(),
                "content-type".to_owned(),
            ),
        ],
        body: Vec::new(),
    })
    .await
}

/// Every answer carries the security headers; CORS is off by default, and when configured
/// answers preflights for allowed origins only and marks real answers for them.
pub async fn security_headers_and_cors(cx: &HttpCtx) {
    for r in [
        cx.get("/health", None).await,
        cx.get("/api/v1/users/profile", None).await,
        cx.get("/api/v1/nowhere", None).await,
        cx.raw(
            "POST",
            "/api/v1/auth/login",
            Some("application/json"),
            vec![b' '; 2 << 20],
        )
        .await,
    ] {
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{}",
            r.status
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{}", r.status);
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert!(
            r.header("content-security-policy")
                .is_some_and(|v| v.contains("frame-ancestors 'none'"))
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "CORS is off by default"
        );
        assert!(r.header("strict-transport-security").is_none());
    }
    assert_error(
        &preflight(cx, "https://app.example.com").await,
        403,
        "FORBIDDEN",
    );

    let browser = cx
        .with_config(
            super::test_config_builder()
                .cors(crate::config::CorsConfig {
                    allowed_origins: vec!["https://app.example.com".to_owned()],
                    allow_credentials: true,
                    max_age_secs: 600,
                })
                .hsts_max_age(Some(Duration::days(365)))
                .build()
                .unwrap(),
        )
        .await;
    let r = preflight(&browser, "https://app.example.com").await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    let r = preflight(&browser, "https://evil.example.net").await;
    assert_error(&r, 403, "FORBIDDEN");
    assert!(r.header("access-control-allow-origin").is_none());

    let r = browser
        .send(TestRequest {
            method: "GET".to_owned(),
            uri: "/api/v1/auth/check-username?username=somebody".to_owned(),
            headers: vec![("origin".to_owned(), "https://app.example.com".to_owned())],
            body: Vec::new(),
        })
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("x-ratelimit-remaining"))
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    // An error the adapter raises itself (413) is readable by the allowed origin too.
    let r = browser
        .send(TestRequest {
            method: "POST".to_owned(),
            uri: "/api/v1/auth/login".to_owned(),
            headers: vec![
                ("origin".to_owned(), "https://app.example.com".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ],
            body: vec![b' '; 2 << 20],
        })
        .await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}

/// A login from a new device or address raises a LOGIN_ALERT (audit row and mail); a known
/// one and the very first login do not.
pub async fn new_device_logins_raise_an_alert(cx: &HttpCtx) {
    let email = cx.register_verified("alert").await;
    let login_from = |agent: &'static str| {
        cx.send(TestRequest {
            method: "POST".to_owned(),
            uri: "/api/v1/auth/login".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), agent.to_owned()),
            ],
            body: serde_json::to_vec(&json!({"identifier": "alert", "password": PASSWORD}))
                .unwrap(),
        })
    };
    let alerts = |actions: Vec<String>| actions.iter().filter(|a| *a == "LOGIN_ALERT").count();
    assert_eq!(login_from("Firefox-like/1.0").await.status, 200);
    assert_eq!(alerts(cx.audit_actions(&email).await), 0, "the first login");
    assert_eq!(login_from("Firefox-like/1.0").await.status, 200);
    assert_eq!(alerts(cx.audit_actions(&email).await), 0, "a known device");
    assert_eq!(login_from("curl/8.5.0").await.status, 200);
    assert_eq!(alerts(cx.audit_actions(&email).await), 1, "a new device");
    cx.app.deliver_mail().await;
    let mail = cx.app.mailer.last_to(&email).expect("alert mail");
    assert!(mail.subject.contains("new sign-in"), "{}", mail.subject);
    let device = crate::domain::DeviceInfo::from_user_agent(Some("curl/8.5.0")).label();
    assert!(mail.text.contains(&device), "{device}: {}", mail.text);
}

// --- notifications --------------------------------------------------------------------------

/// Events raise notifications (email verified, new sign-in, password changed, account
/// locked); the owner pages, filters, reads and deletes them; nobody else sees them.
pub async fn notifications_are_raised_and_managed(cx: &HttpCtx) {
    cx.register_verified("nina").await;
    cx.register_verified("otto").await;
    let (access, _) = cx.login("nina", PASSWORD).await;
    let (otto, _) = cx.login("otto", PASSWORD).await;
    // Another device: a LOGIN_ALERT.
    let r = cx
        .send(TestRequest {
            method: "POST".to_owned(),
            uri: "/api/v1/auth/login".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), "curl/8.5.0".to_owned()),
            ],
            body: serde_json::to_vec(&json!({"identifier": "nina", "password": PASSWORD})).unwrap(),
        })
        .await;
    assert_eq!(r.status, 200);
    let r = cx
        .post(
            "/api/v1/auth/change-password",
            Some(&access),
            json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    assert_error(
        &cx.get("/api/v1/notifications", None).await,
        401,
        "UNAUTHENTICATED",
    );
    let r = cx.get("/api/v1/notifications", Some(&access)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    let kinds: Vec<&str> = data["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["PASSWORD_CHANGED", "LOGIN_ALERT", "EMAIL_VERIFIED"],
        "newest first"
    );
    assert_eq!(data["unreadCount"], json!(3));
    assert_eq!(data["total"], json!(3));
    assert_eq!(data["page"], json!(1));
    assert_eq!(data["limit"], json!(20));
    assert_eq!(data["totalPages"], json!(1));
    assert_eq!(data["notifications"][0]["read"], json!(false));

    let page = cx
        .get("/api/v1/notifications?page=2&limit=2", Some(&access))
        .await
        .data();
    assert_eq!(page["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(page["totalPages"], json!(2));
    let bad = cx
        .get("/api/v1/notifications?page=0&limit=101", Some(&access))
        .await;
    assert_error(&bad, 422, "VALIDATION_ERROR");
    assert_eq!(bad.json()["errors"].as_array().unwrap().len(), 2);
    assert_error(
        &cx.get("/api/v1/notifications?unreadOnly=maybe", Some(&access))
            .await,
        422,
        "VALIDATION_ERROR",
    );

    let first = data["notifications"][0]["id"].as_str().unwrap().to_owned();
    assert_error(
        &cx.request(
            "PATCH",
            &format!("/api/v1/notifications/{first}/read"),
            Some(&otto),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.request(
            "PATCH",
            "/api/v1/notifications/not-a-uuid/read",
            Some(&access),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/notifications/{first}/read"),
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let unread = cx
        .get("/api/v1/notifications?unreadOnly=true", Some(&access))
        .await
        .data();
    assert_eq!(unread["unreadCount"], json!(2));
    assert_eq!(unread["total"], json!(2));
    assert!(
        unread["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["id"] != json!(first))
    );

    let r = cx
        .request(
            "PATCH",
            "/api/v1/notifications/read-all",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.data()["updatedCount"], json!(2));
    assert_eq!(
        cx.get("/api/v1/notifications", Some(&access)).await.data()["unreadCount"],
        json!(0)
    );

    assert_error(
        &cx.request(
            "DELETE",
            &format!("/api/v1/notifications/{first}"),
            Some(&otto),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        cx.request(
            "DELETE",
            &format!("/api/v1/notifications/{first}"),
            Some(&access),
            None
        )
        .await
        .status,
        200
    );
    let r = cx
        .request("DELETE", "/api/v1/notifications", Some(&access), None)
        .await;
    assert_eq!(r.data()["deletedCount"], json!(2));
    assert_eq!(
        cx.get("/api/v1/notifications", Some(&access)).await.data()["total"],
        json!(0)
    );
    let others = cx.get("/api/v1/notifications", Some(&otto)).await.data();
    assert_eq!(others["total"], json!(1), "otto's own EMAIL_VERIFIED stays");

    // Locking raises a SECURITY_ALERT.
    for _ in 0..5 {
        cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "otto", "password": "Wr0ng!pass"}),
        )
        .await;
    }
    let kinds = cx.get("/api/v1/notifications", Some(&otto)).await.data();
    assert_eq!(kinds["notifications"][0]["type"], json!("SECURITY_ALERT"));
}

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

/// The second login step with the TOTP code of the app's current time.
async fn complete_with_totp(
    cx: &HttpCtx,
    secret: &crate::totp::TotpSecret,
    challenge: String,
) -> TestResponse {
    let code = crate::totp::code_at(secret, crate::clock::Clock::now(&cx.app.clock));
    cx.post(
        "/api/v1/auth/login/2fa",
        None,
        json!({"challengeToken": challenge, "code": code}),
    )
    .await
}

/// Rotating the keys that seal TOTP secrets: a secret sealed under an old key still works, is
/// moved to the current key at its next use, and the old key can then be retired.
pub async fn totp_secrets_follow_a_key_rotation(cx: &HttpCtx) {
    const K1: &str = "first-key-first-key-first-key-0001";
    const K2: &str = "second-key-second-key-second-key-02";
    let first = cx
        .with_config(
            super::test_config_builder()
                .encryption_key("k1", K1)
                .build()
                .unwrap(),
        )
        .await;
    first.register_verified("rota").await;
    let (access, _) = first.login("rota", PASSWORD).await;
    let (secret, _) = enrol_two_factor(&first, &access).await;
    let rotated = cx
        .with_config(
            super::test_config_builder()
                .encryption_key("k2", K2)
                .encryption_key("k1", K1)
                .build()
                .unwrap(),
        )
        .await;
    rotated
        .app
        .clock
        .set(crate::clock::Clock::now(&first.app.clock) + Duration::seconds(30));
    let challenge = login_challenge(&rotated, "rota", PASSWORD).await;
    assert_eq!(
        complete_with_totp(&rotated, &secret, challenge)
            .await
            .status,
        200,
        "the old key still opens it"
    );

    let retired = cx
        .with_config(
            super::test_config_builder()
                .encryption_key("k2", K2)
                .build()
                .unwrap(),
        )
        .await;
    retired
        .app
        .clock
        .set(crate::clock::Clock::now(&rotated.app.clock) + Duration::seconds(30));
    let challenge = login_challenge(&retired, "rota", PASSWORD).await;
    let r = complete_with_totp(&retired, &secret, challenge).await;
    assert_eq!(
        r.status,
        200,
        "re-sealed under k2: {}",
        String::from_utf8_lossy(&r.body)
    );
}

/// The assertions of both adapters' guard tests. The host app under test serves `/report`
/// behind `audit:read` (the extractor) and `/settings` behind `admin:settings` (the
/// middleware), each answering `"<route> for <username>"`; `get` sends a GET with an optional
/// bearer token.
pub async fn check_permission_guards<F, Fut>(app: &TestApp, get: F)
where
    F: Fn(&'static str, Option<String>) -> Fut,
    Fut: Future<Output = TestResponse>,
{
    let admin = app.access_token_for("root", &["admin"]).await;
    let moderator = app.access_token_for("moe", &["moderator"]).await;
    let plain = app.access_token_for("pat", &["user"]).await;
    assert_error(&get("/report", None).await, 401, "UNAUTHENTICATED");
    let denied = get("/report", Some(plain)).await;
    assert_error(&denied, 403, "FORBIDDEN");
    assert!(denied.header("x-request-id").is_some());
    assert_eq!(denied.header("x-frame-options"), Some("DENY"));
    let ok = get("/report", Some(moderator.clone())).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, b"report for moe");
    assert_error(&get("/settings", Some(moderator)).await, 403, "FORBIDDEN");
    assert_error(
        &get("/settings", Some("garbage".to_owned())).await,
        401,
        "INVALID_TOKEN",
    );
    let ok = get("/settings", Some(admin)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, b"settings for root");
    check_impersonation_guards(app, &get).await;
}

/// Instantiates every HTTP case as its own test for one adapter and one store.
///
/// `$test_attr`: the async test attribute of the adapter's runtime (e.g. `tokio::test`).
/// `$server`: `FnOnce(Api) -> impl Future<Output = Box<dyn TestServer>>`.
/// `$store`: an `async` block yielding `Option<Arc<dyn Store>>` (`None` skips).
#[macro_export]
macro_rules! http_conformance_tests {
    ($name:ident, $test_attr:meta, $server:expr, $store:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::http_conformance_tests!(@cases $test_attr, $server, $store;
                health_probes_answer,
                unknown_routes_and_methods_get_the_envelope,
                registration_reports_every_broken_rule_and_changes_nothing,
                registration_conflicts_are_409,
                bad_input_gets_the_envelope_and_changes_nothing,
                full_account_flow,
                concurrent_refresh_within_grace_gets_valid_pairs,
                logout_ends_the_session_at_once,
                access_tokens_are_checked,
                login_failures_lock_the_account,
                password_reset_flow,
                change_password_keeps_only_the_current_session,
                email_verification_tokens,
                profile_and_preferences,
                public_profiles_show_public_fields_only,
                sessions_are_listed_and_revoked,
                rate_limits_answer_429_with_headers,
                two_factor_login_with_totp,
                two_factor_backup_codes_and_lockout,
                eddsa_tokens_verify_against_the_jwks,
                security_headers_and_cors,
                new_device_logins_raise_an_alert,
                notifications_are_raised_and_managed,
                detailed_health_reports_its_checks,
                metrics_are_prometheus_text,
                totp_secrets_follow_a_key_rotation,
                roles_api_end_to_end,
                permission_denials_are_403,
                admin_user_search_filters_sorts_and_pages,
                admin_actions_on_accounts,
                impersonation_rules,
                account_lifecycle_end_to_end,
                permanent_delete_and_export,
                avatars_upload_serve_replace_delete,
                first_seed_routes_behind_one_switch,
                audit_trail_api,
                host_apps_raise_their_own_notifications,
                events_reach_subscribers_after_commit,
                openapi_document_and_api_page,
                contract_fuzzing_findings,
                concurrent_logins_check_at_most_five_passwords,
                concurrent_second_factor_codes_are_bounded,
                one_challenge_checks_at_most_five_codes,
                reactivate_and_recover_guesses_are_bounded,
                signed_in_checks_count_toward_the_lockout,
                concurrent_change_password_guesses_are_bounded,
                changes_end_outstanding_reset_links,
                two_factor_accounts_need_their_code_to_come_back,
                role_changes_need_every_permission_of_the_role,
                impersonation_acts_with_both_sides_permissions,
                impersonators_cannot_erase_notifications,
                concurrent_avatar_uploads_leave_one_file,
                json_bodies_need_a_json_media_type,
                names_are_plain_and_unverified_addresses_are_greeted_by_no_name,
                rate_limits_count_ipv6_clients_by_their_64,
                ops_detail_answers_only_private_networks_or_the_token,
                ops_networks_are_configurable,
                public_probes_say_only_up_or_down,
            );
        }
    };
    (@cases $test_attr:meta, $server:expr, $store:expr; $($case:ident),* $(,)?) => {
        $(
            #[$test_attr]
            async fn $case() {
                let Some(cx) = $crate::testing::http_suite::HttpCtx::start($store, $server).await else { return };
                $crate::testing::http_suite::$case(&cx).await;
            }
        )*
    };
}
