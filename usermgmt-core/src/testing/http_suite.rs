//! The HTTP conformance suite's world: [`HttpCtx`] (a test app mounted in an adapter) and the
//! request helpers the cases in `testing/http_cases/` share. Every adapter runs every case
//! through its real framework stack (routing, body limits, header handling), one trial per
//! store and case (see [`super::runner`]), so behaviour parity between Axum and Actix is tested
//! rather than hoped for.

pub use super::harness::{NEW_PASSWORD, PASSWORD};
pub use super::wire::{TestRequest, TestResponse, TestServer};
use crate::store::Store;
use crate::testing::TestApp;
use base64::Engine as _;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use uuid::Uuid;

/// Mounts an API in the adapter under test.
pub type ServerFactory =
    Arc<dyn Fn(crate::api::Api) -> std::pin::Pin<Box<dyn Future<Output = Box<dyn TestServer>>>>>;

/// The contract of an app's routes and policies.
pub fn contract_for(app: &TestApp) -> Arc<super::contract::Contract> {
    Arc::new(super::contract::Contract::new(app.api.manager().config()))
}

/// How the test client presents the access tokens a case hands it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// As a browser on the site would with a cookie session: the token in the session cookie,
    /// and on unsafe methods the session's CSRF token in `X-CSRF-Token` with a same-origin
    /// `Sec-Fetch-Site`. API keys stay headers (they are never cookies).
    Cookie,
}

/// One case's world: the test app and the framework server in front of it.
pub struct HttpCtx {
    pub app: TestApp,
    server: Box<dyn TestServer>,
    /// Every answer is held to the OpenAPI document of this app's routes.
    contract: Arc<super::contract::Contract>,
    store: Arc<dyn Store>,
    make_server: ServerFactory,
    transport: Transport,
}

impl HttpCtx {
    /// Builds the store and the server; `None` when the store is skipped (no database URL).
    pub async fn start<S, F, Fut>(store: S, make_server: F, transport: Transport) -> Option<Self>
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
            transport,
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
            transport: self.transport,
        }
    }

    /// How this world's client presents tokens.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The headers that present `token` for a `method` request, as [`HttpCtx::transport`]
    /// says.
    pub fn credential_headers(&self, method: &str, token: &str) -> Vec<(String, String)> {
        let config = self.app.manager.config();
        match (self.transport, &config.cookie_sessions) {
            (Transport::Cookie, Some(cookies)) if !crate::secret::is_api_key(token) => {
                let mut headers = vec![("cookie".to_owned(), format!("{}={token}", cookies.name))];
                if !matches!(method, "GET" | "HEAD" | "OPTIONS") {
                    headers.push(("sec-fetch-site".to_owned(), "same-origin".to_owned()));
                    // A token the server did not sign has no session: no CSRF token either.
                    if let Ok(session) = self
                        .app
                        .manager
                        .inner
                        .tokens
                        .genuine(token)
                        .and_then(|claims| claims.session_id())
                    {
                        headers.push((
                            crate::api::cookies::CSRF_HEADER.to_owned(),
                            crate::api::cookies::csrf_token(config, session),
                        ));
                    }
                }
                headers
            }
            _ => vec![("authorization".to_owned(), format!("Bearer {token}"))],
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

    /// The same world with the first seed's routes served under `/api/v1` and at the root
    /// (`Config::compatibility_root_routes`), as the standalone server serves them.
    pub async fn with_first_seed_at_root(&self) -> Self {
        let config = super::harness::test_config_builder()
            .compatibility_routes(true)
            .compatibility_root_routes(true)
            .build()
            .expect("test config is valid");
        self.with_config(config).await
    }

    /// Sends a JSON body exactly as written (a seed's request, byte for byte), with a bearer
    /// token when given.
    pub async fn send_text(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        json_text: &str,
    ) -> TestResponse {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(t) = token {
            headers.extend(self.credential_headers(method, t));
        }
        self.send(TestRequest {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers,
            body: json_text.as_bytes().to_vec(),
        })
        .await
    }

    /// Sends one request through the framework and holds the answer to the OpenAPI document
    /// (panics naming the contradiction).
    pub async fn send(&self, mut request: TestRequest) -> TestResponse {
        // A link the API handed out (an avatar URL) is requested as a client following it
        // would: by its path on this server.
        if let Some(path) = self
            .app
            .manager
            .config()
            .public_url
            .as_deref()
            .and_then(|public| request.uri.strip_prefix(public))
        {
            request.uri = path.to_owned();
        }
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
            headers.extend(self.credential_headers(method, t));
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

pub fn secret_from_base32(b32: &str) -> crate::totp::TotpSecret {
    crate::totp::TotpSecret::from_base32(b32).expect("the setup returns base32")
}

/// The first step of a login of a two-factor user: the challenge token.
pub async fn login_challenge(cx: &HttpCtx, identifier: &str, password: &str) -> String {
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

pub async fn user_id(cx: &HttpCtx, email: &str) -> Uuid {
    cx.app
        .manager
        .store()
        .user_by_email(email)
        .await
        .unwrap()
        .expect("user exists")
        .id
}

/// The claims of a JWT, read without checking it (the client's view).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url claims");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub fn ok(r: &TestResponse, what: &str) -> Value {
    assert!(
        (200..300).contains(&r.status),
        "{what}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.data()
}

pub fn notification_types(cx: &HttpCtx, body: &Value) -> Vec<String> {
    let _ = cx;
    body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_owned())
        .collect()
}

/// A multipart body with one file part.
pub fn multipart(boundary: &str, declared_type: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"{file_name}\"\r\nContent-Type: {declared_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// A tiny valid PNG (1×1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// The start of a JPEG (SOI, APP0/JFIF).
pub const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
];

/// Creates a role through the API as `admin`; returns its id.
pub async fn create_role(cx: &HttpCtx, admin: &str, name: &str, permissions: &[&str]) -> String {
    let r = cx
        .post(
            "/api/v1/roles",
            Some(admin),
            json!({"name": name, "description": "as created", "permissions": permissions}),
        )
        .await;
    ok(&r, "create role")["id"].as_str().unwrap().to_owned()
}

/// Audit rows of `action` about or by anyone, newest first.
pub async fn audit_rows(cx: &HttpCtx, action: &str) -> Vec<crate::store::AuditEvent> {
    cx.app
        .manager
        .store()
        .audit_events(None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == action)
        .collect()
}
