//! A full in-process login, authenticate and refresh through the framework-neutral HTTP contract
//! ([`usermgmt_core::api::Api`]) on the memory store, at the test hashing cost
//! (Argon2id m=64 KiB, t=1), to show what a request costs besides the password hash.
//!
//! Baseline in the same run: `baseline_api_health`, `GET /health` through the same `Api`
//! (routing, envelope, security headers). `test_cost_argon2_verify` is the hashing part of a
//! login at this cost, to subtract; `manager_login_authenticate_refresh` is the same cycle
//! through the `UserManager` methods, without the HTTP contract (JSON in and out, routing).
//!
//! A passkey sign-in (`api_passkey_sign_in`: the options, the software authenticator's
//! signature, the verification) costs no password hash; `test_authenticator_sign` is the
//! client's part of it (one P-256 signature), to subtract.
//!
//! Rate limits stay on (the in-memory limiter is part of every request's cost) with limits too
//! high to be reached: the test app's mock clock never advances, so the default login limit
//! (10 a minute) would otherwise answer 429 from the eleventh iteration on.
//!
//! Run: `cargo bench -p usermgmt-benches --bench flow`.

// A benchmark harness: a failed setup step or a request that does not answer 200 must stop the
// run loudly (timing error paths would be meaningless), and panicking with the cause is exactly
// that. Library code keeps the lints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use usermgmt_core::api::{ApiRequest, ApiResponse};
use usermgmt_core::ratelimit::{Limit, RateLimitConfig};
use usermgmt_core::secret::Password;
use usermgmt_core::store::Store;
use usermgmt_core::store::memory::MemoryStore;
use usermgmt_core::store::sqlite::SqliteStore;
use usermgmt_core::testing::authenticator::SoftAuthenticator;
use usermgmt_core::testing::{TestApp, test_config_builder};
use usermgmt_core::{ClientInfo, LoginOutcome, Registration};

const PASSWORD: &str = "Correct-Horse-Battery-9";
const USER_AGENT: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The default limits with every maximum out of reach (still counted, never refused).
fn unreachable_limits() -> RateLimitConfig {
    let defaults = RateLimitConfig::default();
    let high = |limit: Limit| Limit::new(u32::MAX, limit.window);
    RateLimitConfig {
        enabled: true,
        global: high(defaults.global),
        login: high(defaults.login),
        two_factor: high(defaults.two_factor),
        email_actions: high(defaults.email_actions),
        availability: high(defaults.availability),
        register: high(defaults.register),
        api_key: high(defaults.api_key),
        trusted_proxies: Vec::new(),
    }
}

fn request(method: &str, path: &str) -> ApiRequest {
    let mut req = ApiRequest::new(method, path).header("user-agent", USER_AGENT);
    req.peer_ip = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    req
}

fn post_json(path: &str, body: &Value) -> ApiRequest {
    request("POST", path)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("JSON body"))
}

fn login_request(identifier: &str) -> ApiRequest {
    post_json(
        "/api/v1/auth/login",
        &json!({"identifier": identifier, "password": PASSWORD}),
    )
}

fn profile_request(access_token: &str) -> ApiRequest {
    request("GET", "/api/v1/users/profile")
        .header("authorization", &format!("Bearer {access_token}"))
}

fn bearer_post(path: &str, access_token: &str, body: &Value) -> ApiRequest {
    post_json(path, body).header("authorization", &format!("Bearer {access_token}"))
}

/// The test config's relying party origin.
const PASSKEY_ORIGIN: &str = "http://localhost:3000";

/// Registers a passkey for the fixture's user through the API; returns its authenticator.
fn register_passkey(
    rt: &tokio::runtime::Runtime,
    app: &TestApp,
    access: &str,
) -> SoftAuthenticator {
    let options = ok_data(&rt.block_on(app.api.handle(bearer_post(
        "/api/v1/passkeys/register/options",
        access,
        &json!({}),
    ))));
    let mut authenticator = SoftAuthenticator::new(PASSKEY_ORIGIN);
    let credential = authenticator.create(&options["publicKey"]);
    let registered = rt.block_on(app.api.handle(bearer_post(
        "/api/v1/passkeys/register/verify",
        access,
        &json!({"ceremonyId": options["ceremonyId"], "credential": credential}),
    )));
    assert_eq!(
        registered.status,
        201,
        "{}",
        String::from_utf8_lossy(&registered.body)
    );
    authenticator
}

fn refresh_request(refresh_token: &str) -> ApiRequest {
    post_json(
        "/api/v1/auth/refresh",
        &json!({"refreshToken": refresh_token}),
    )
}

/// The `data` of a 200 answer; panics with the body otherwise.
fn ok_data(response: &ApiResponse) -> Value {
    assert_eq!(
        response.status,
        200,
        "unexpected answer: {}",
        String::from_utf8_lossy(&response.body)
    );
    let mut body: Value = serde_json::from_slice(&response.body).expect("JSON answer");
    body["data"].take()
}

/// `(access, refresh)` from a login's or a refresh's `data`.
fn token_pair(data: &Value) -> (String, String) {
    let tokens = data.get("tokens").unwrap_or(data);
    let access = tokens["accessToken"].as_str().expect("accessToken");
    let refresh = tokens["refreshToken"].as_str().expect("refreshToken");
    (access.to_owned(), refresh.to_owned())
}

/// A fresh app on its own memory store with one registered, logged-in user. Each benchmark
/// gets its own: logins add sessions and audit rows, and a store grown by an earlier benchmark
/// would slow the next one down.
struct Fixture {
    app: TestApp,
    client: ClientInfo,
    password: Password,
    access: String,
    refresh: String,
}

fn fixture(rt: &tokio::runtime::Runtime) -> Fixture {
    fixture_on(rt, Arc::new(MemoryStore::new()))
}

fn fixture_on(rt: &tokio::runtime::Runtime, store: Arc<dyn Store>) -> Fixture {
    let config = test_config_builder()
        .rate_limits(unreachable_limits())
        .build()
        .expect("test config");
    let app = TestApp::with_config(store, config);
    let client = ClientInfo {
        ip: Some("127.0.0.1".into()),
        user_agent: Some(USER_AGENT.into()),
    };
    let password = Password::new(PASSWORD);
    rt.block_on(app.manager.register(
        Registration {
            email: "bench@example.com".into(),
            username: "bench_user".into(),
            password: Some(password.clone()),
            ..Registration::default()
        },
        &client,
    ))
    .expect("register");
    let (access, refresh) = token_pair(&ok_data(
        &rt.block_on(app.api.handle(login_request("bench_user"))),
    ));
    Fixture {
        app,
        client,
        password,
        access,
        refresh,
    }
}

fn flow(c: &mut Criterion) {
    let rt = runtime();

    let mut group = c.benchmark_group("flow");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));

    let Fixture { app, .. } = fixture(&rt);
    group.bench_function("baseline_api_health", |b| {
        b.to_async(&rt).iter(|| async {
            let response = app.api.handle(request("GET", "/health")).await;
            assert_eq!(response.status, 200);
            response
        });
    });

    let Fixture { app, password, .. } = fixture(&rt);
    let test_hash = rt
        .block_on(app.manager.hasher().hash(&password))
        .expect("hash at the test cost");
    group.bench_function("test_cost_argon2_verify", |b| {
        b.to_async(&rt).iter(|| async {
            app.manager
                .hasher()
                .verify(black_box(&test_hash), black_box(&password))
                .await
                .unwrap()
        });
    });

    let Fixture { app, .. } = fixture(&rt);
    group.bench_function("api_login", |b| {
        b.to_async(&rt).iter(|| async {
            let response = app.api.handle(login_request("bench_user")).await;
            assert_eq!(response.status, 200);
            response
        });
    });

    let Fixture { app, access, .. } = fixture(&rt);
    group.bench_function("api_profile_authenticated", |b| {
        b.to_async(&rt).iter(|| async {
            let response = app.api.handle(profile_request(&access)).await;
            assert_eq!(response.status, 200);
            response
        });
    });

    // Each refresh rotates the token: the next iteration presents the new one.
    let Fixture { app, refresh, .. } = fixture(&rt);
    let current_refresh = Mutex::new(refresh);
    group.bench_function("api_refresh", |b| {
        b.to_async(&rt).iter(|| async {
            let presented = current_refresh.lock().unwrap().clone();
            let response = app.api.handle(refresh_request(&presented)).await;
            let (_, next) = token_pair(&ok_data(&response));
            *current_refresh.lock().unwrap() = next;
        });
    });

    let Fixture { app, .. } = fixture(&rt);
    group.bench_function("api_login_profile_refresh", |b| {
        b.to_async(&rt).iter(|| async {
            let login = app.api.handle(login_request("bench_user")).await;
            let (access, refresh) = token_pair(&ok_data(&login));
            let profile = app.api.handle(profile_request(&access)).await;
            assert_eq!(profile.status, 200);
            let refreshed = app.api.handle(refresh_request(&refresh)).await;
            ok_data(&refreshed)
        });
    });

    // A usernameless passkey sign-in: new options (a ceremony) each time, as a browser would.
    let Fixture { app, access, .. } = fixture(&rt);
    let authenticator = Mutex::new(register_passkey(&rt, &app, &access));
    group.bench_function("api_passkey_sign_in", |b| {
        b.to_async(&rt).iter(|| async {
            let options = ok_data(
                &app.api
                    .handle(post_json("/api/v1/auth/passkey/options", &json!({})))
                    .await,
            );
            let assertion = authenticator.lock().unwrap().get(&options["publicKey"]);
            let response = app
                .api
                .handle(post_json(
                    "/api/v1/auth/passkey/verify",
                    &json!({"ceremonyId": options["ceremonyId"], "credential": assertion}),
                ))
                .await;
            ok_data(&response)
        });
    });

    let Fixture { app, access, .. } = fixture(&rt);
    let signer = Mutex::new(register_passkey(&rt, &app, &access));
    let options = ok_data(
        &rt.block_on(
            app.api
                .handle(post_json("/api/v1/auth/passkey/options", &json!({}))),
        ),
    );
    group.bench_function("test_authenticator_sign", |b| {
        b.iter(|| signer.lock().unwrap().get(black_box(&options["publicKey"])));
    });

    let Fixture {
        app,
        client,
        password,
        ..
    } = fixture(&rt);
    group.bench_function("manager_login_authenticate_refresh", |b| {
        b.to_async(&rt).iter(|| async {
            let outcome = app
                .manager
                .login("bench_user", &password, &client)
                .await
                .unwrap();
            let LoginOutcome::Authenticated(success) = outcome else {
                panic!("two-factor is not enabled for the bench user");
            };
            let caller = app
                .manager
                .authenticate(&success.tokens.access_token)
                .await
                .unwrap();
            assert_eq!(caller.session_id, success.session_id);
            app.manager
                .refresh(success.tokens.refresh_token.expose(), &client)
                .await
                .unwrap()
        });
    });

    group.finish();
}

/// The authenticated request on the SQLite store (a WAL file, the standalone server's default),
/// against the least such a request could cost in process: one primary-key `SELECT` of the same
/// user on the same pool, its row read and written as JSON (what the HTTP load benchmark's bare
/// baseline route does). `sqlite_authenticate` is the token → session → user step alone;
/// `sqlite_api_profile_authenticated` the whole `GET /users/profile` through `Api::handle`.
fn sqlite(c: &mut Criterion) {
    let rt = runtime();
    let dir = std::env::temp_dir().join(format!("usermgmt-flow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}/bench.db?mode=rwc", dir.display());
    let store = rt.block_on(SqliteStore::connect(&url)).unwrap();
    let pool = store.pool().clone();
    let Fixture { app, access, .. } = fixture_on(&rt, Arc::new(store));
    let user_id = rt
        .block_on(app.manager.authenticate(&access))
        .unwrap()
        .user
        .id;

    let mut group = c.benchmark_group("flow");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    group.bench_function("sqlite_baseline_select_user", |b| {
        b.to_async(&rt).iter(|| async {
            use sqlx::Row;
            let row = sqlx::query(
                "SELECT id, email, username, first_name, last_name, email_verified \
                 FROM users WHERE id = ?",
            )
            .bind(user_id)
            .fetch_one(&pool)
            .await
            .unwrap();
            serde_json::to_vec(&json!({
                "id": row.get::<uuid::Uuid, _>("id"),
                "email": row.get::<String, _>("email"),
                "username": row.get::<String, _>("username"),
                "firstName": row.get::<Option<String>, _>("first_name"),
                "lastName": row.get::<Option<String>, _>("last_name"),
                "emailVerified": row.get::<bool, _>("email_verified"),
            }))
            .unwrap()
        });
    });
    group.bench_function("sqlite_authenticate", |b| {
        b.to_async(&rt)
            .iter(|| async { app.manager.authenticate(black_box(&access)).await.unwrap() });
    });
    // An API key next to the token: one read by prefix, a constant-time digest compare, the
    // owner's row (and, once a minute, the conditional lastUsedAt update).
    let owner = rt.block_on(app.manager.authenticate(&access)).unwrap();
    let (_, key) = rt
        .block_on(app.manager.create_api_key(
            &owner,
            usermgmt_core::api_keys::ApiKeyInput {
                name: Some("bench".into()),
                scopes: Some(vec![]),
                expires_in_days: None,
                org_id: None,
            },
            &ClientInfo::default(),
        ))
        .unwrap();
    let key = key.expose().to_owned();
    group.bench_function("sqlite_authenticate_api_key", |b| {
        b.to_async(&rt)
            .iter(|| async { app.manager.authenticate(black_box(&key)).await.unwrap() });
    });
    group.bench_function("sqlite_api_profile_authenticated", |b| {
        b.to_async(&rt).iter(|| async {
            let response = app.api.handle(profile_request(&access)).await;
            assert_eq!(response.status, 200);
            response
        });
    });
    group.finish();
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, flow, sqlite);
criterion_main!(benches);
