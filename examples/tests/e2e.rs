//! End to end, as an outside client sees it: the real `usermgmt-server` binary on a loopback port,
//! real HTTP, a real SMTP conversation for every mail, on SQLite and PostgreSQL, through Axum and
//! through Actix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Client, PASSWORD, Server, ServerSpec, claims, random_client_ip};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use usermgmt_core::mail::token_from_link;
use usermgmt_core::testing::smtp::SmtpTestServer;

const SECOND: &str = "An0ther!Secret9";
const THIRD: &str = "Th1rd!Secret77";

/// Waits for the outbox worker to deliver a mail to `to` whose subject contains `subject`;
/// returns the token of its link (if any) and the count of such mails.
async fn wait_for_mail(
    smtp: &SmtpTestServer,
    to: &str,
    subject: &str,
    count: usize,
) -> Option<String> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let matching: Vec<_> = smtp
            .received()
            .into_iter()
            .filter(|m| m.to.iter().any(|t| t == to) && m.decoded().contains(subject))
            .collect();
        if matching.len() >= count {
            return token_from_link(&matching[count - 1].decoded());
        }
        assert!(
            Instant::now() < deadline,
            "no mail '{subject}' #{count} to {to}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn full_flow(framework: &'static str, database_url: &str) {
    let smtp = SmtpTestServer::start();
    let server = Server::start(&ServerSpec::new(framework, database_url, Some(smtp.port))).await;
    let c = Client::new(&server, &random_client_ip());

    let (s, body) = c.get("/health", None).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c.get("/nope", None).await;
    assert_eq!(
        (s.as_u16(), body["code"].as_str()),
        (404, Some("ROUTE_NOT_FOUND"))
    );

    // Register; the verification mail arrives over SMTP with a working link.
    let (s, body) = c
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "Erin@Example.com", "username": "erin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let token = wait_for_mail(&smtp, "erin@example.com", "confirm your email", 1)
        .await
        .expect("verification link");
    let (s, body) = c
        .get(&format!("/api/v1/auth/verify-email?token={token}"), None)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["user"]["emailVerified"], json!(true));

    // Login, profile, refresh; the old refresh token is refused and its reuse kills the session.
    let (s, body) = c
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "erin", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let access = body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = body["data"]["tokens"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(access.split('.').count(), 3, "a standard JWT");
    let (s, body) = c.get("/api/v1/users/profile", Some(&access)).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let access2 = body["data"]["accessToken"].as_str().unwrap().to_owned();
    // Past the 10-second grace window the old token is a reuse.
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let (s, body) = c
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(
        (s.as_u16(), body["code"].as_str()),
        (401, Some("TOKEN_REUSE_DETECTED"))
    );
    let (s, _) = c.get("/api/v1/users/profile", Some(&access2)).await;
    assert_eq!(s, 401, "the session was revoked");

    // Forgot password → mail → reset → old sessions dead.
    let (_, body) = c
        .post(
            "/api/v1/auth/login",
            None,
            json!({"email": "erin@example.com", "password": PASSWORD}),
        )
        .await;
    let old_session = body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, _) = c
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": "erin@example.com"}),
        )
        .await;
    assert_eq!(s, 200);
    let reset = wait_for_mail(&smtp, "erin@example.com", "reset your password", 1)
        .await
        .expect("reset link");
    let (s, body) = c
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({"token": reset, "password": SECOND, "confirmPassword": SECOND}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = c.get("/api/v1/users/profile", Some(&old_session)).await;
    assert_eq!(s, 401, "reset ends every session");

    // Change password, then logout: the access token is refused at once.
    let (_, body) = c
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "erin", "password": SECOND}),
        )
        .await;
    let access = body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, body) = c
        .post(
            "/api/v1/auth/change-password",
            Some(&access),
            json!({"currentPassword": SECOND, "newPassword": THIRD, "confirmPassword": THIRD}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    wait_for_mail(&smtp, "erin@example.com", "password was changed", 2).await;
    let (s, _) = c
        .post("/api/v1/auth/logout", Some(&access), json!({}))
        .await;
    assert_eq!(s, 200);
    let (s, body) = c.get("/api/v1/users/profile", Some(&access)).await;
    assert_eq!(
        (s.as_u16(), body["code"].as_str()),
        (401, Some("INVALID_TOKEN"))
    );
    let (s, _) = c
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "erin", "password": THIRD}),
        )
        .await;
    assert_eq!(s, 200);

    // Bad input of every kind: the envelope, never a 500.
    let raw = |body: &'static [u8], ct: &'static str| {
        c.http
            .post(format!("{}/api/v1/auth/register", c.base))
            .header("content-type", ct)
            .body(body)
    };
    for (body, ct, status) in [
        (&b"{\"email\":"[..], "application/json", 400u16),
        (b"{\"email\": 1}", "application/json", 422),
        (b"x=1", "text/plain", 415),
    ] {
        let resp = raw(body, ct).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["success"], json!(false));
    }
    let resp = c
        .http
        .post(format!("{}/api/v1/auth/register", c.base))
        .header("content-type", "application/json")
        .body(vec![b' '; 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 413);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_axum_sqlite() {
    let dir = std::env::temp_dir().join(format!("usermgmt-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    full_flow(
        "axum",
        &format!("sqlite://{}/axum.db?mode=rwc", dir.display()),
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_actix_sqlite() {
    let dir = std::env::temp_dir().join(format!("usermgmt-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    full_flow(
        "actix",
        &format!("sqlite://{}/actix.db?mode=rwc", dir.display()),
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_axum_postgres() {
    let Some(url) = usermgmt_core::testing::databases::postgres_test_database_url().await else {
        return;
    };
    full_flow("axum", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_actix_postgres() {
    let Some(url) = usermgmt_core::testing::databases::postgres_test_database_url().await else {
        return;
    };
    full_flow("actix", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_axum_mysql() {
    let Some(url) = usermgmt_core::testing::databases::mysql_test_database_url().await else {
        return;
    };
    full_flow("axum", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_actix_mysql() {
    let Some(url) = usermgmt_core::testing::databases::mysql_test_database_url().await else {
        return;
    };
    full_flow("actix", &url).await;
}

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// Administration as an outside client sees it: a bootstrap admin, roles, impersonation, an
/// avatar on disk, the first seed's routes, and an account purged by the server's own job.
async fn admin_flow(framework: &'static str, database_url: &str) {
    let smtp = SmtpTestServer::start();
    let avatars = std::env::temp_dir().join(format!("usermgmt-avatars-{}", uuid::Uuid::new_v4()));
    let avatar_dir = avatars.display().to_string();
    let server = Server::start(
        &ServerSpec::new(framework, database_url, Some(smtp.port))
            .with("ADMIN_EMAIL", "boss@example.com")
            .with("ADMIN_PASSWORD", PASSWORD)
            .with("AVATAR_DIR", avatar_dir)
            // The address clients are told (a proxy's, say): the avatar URL starts with it.
            .with("PUBLIC_URL", "https://users.example.test")
            .with("ACCOUNT_RECOVERY_WINDOW", "2s")
            .with("ACCOUNT_PURGE_INTERVAL", "1s"),
    )
    .await;
    let c = Client::new(&server, &random_client_ip());
    let login = |who: &'static str, password: &'static str| {
        let c = &c;
        async move {
            let (s, body) = c
                .post(
                    "/api/v1/auth/login",
                    None,
                    json!({"identifier": who, "password": password}),
                )
                .await;
            assert_eq!(s, 200, "login {who}: {body}");
            body["data"]["tokens"]["accessToken"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let admin = login("boss@example.com", PASSWORD).await;
    let a = Some(admin.as_str());

    let (s, body) = c
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "eve@example.com", "username": "eve", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let eve_id = body["data"]["user"]["id"].as_str().unwrap().to_owned();
    let token = wait_for_mail(&smtp, "eve@example.com", "confirm your email", 1)
        .await
        .unwrap();
    // The first seed's confirm route (on by default in the server).
    let (s, body) = c
        .post("/api/v1/auth/confirm-email", None, json!({"token": token}))
        .await;
    assert_eq!(s, 200, "{body}");
    let eve = login("eve", PASSWORD).await;

    // A role, assigned, takes effect on Eve's next request.
    let (s, _) = c.get("/api/v1/roles", Some(&eve)).await;
    assert_eq!(s, 403);
    let (s, body) = c
        .post(
            "/api/v1/roles",
            a,
            json!({"name": "auditor", "permissions": ["role:read", "audit:read"]}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let role_id = body["data"]["id"].as_str().unwrap().to_owned();
    let (s, body) = c
        .post(
            &format!("/api/v1/roles/user/{eve_id}/assign"),
            a,
            json!({"roleId": role_id}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c.get("/api/v1/roles", Some(&eve)).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c.get("/api/v1/admin/dashboard", a).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["users"]["total"], json!(2));
    let (s, body) = c.get("/api/v1/users?q=eve", a).await;
    assert_eq!(
        (s.as_u16(), body["data"]["total"].clone()),
        (200, json!(1)),
        "{body}"
    );

    // Impersonation: a 15-minute token naming the administrator, refused for password changes.
    let (s, body) = c
        .post(
            &format!("/api/v1/admin/users/{eve_id}/impersonate"),
            a,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let as_eve = body["data"]["accessToken"].as_str().unwrap().to_owned();
    let claims = claims(&as_eve);
    assert_eq!(claims["sub"], json!(eve_id));
    assert!(claims["act"]["sub"].is_string());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let (s, body) = c.get("/api/v1/users/profile", Some(&as_eve)).await;
    assert_eq!(
        (s.as_u16(), body["data"]["user"]["username"].clone()),
        (200, json!("eve"))
    );
    let (s, _) = c
        .post(
            "/api/v1/auth/change-password",
            Some(&as_eve),
            json!({"currentPassword": PASSWORD, "newPassword": SECOND, "confirmPassword": SECOND}),
        )
        .await;
    assert_eq!(s, 403);

    // An avatar: multipart upload, kept in AVATAR_DIR, served back at its URL.
    let mut multipart = b"--b0undary\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n".to_vec();
    multipart.extend_from_slice(PNG);
    multipart.extend_from_slice(b"\r\n--b0undary--\r\n");
    let resp = c
        .http
        .post(format!("{}/api/v1/upload/avatar", c.base))
        .bearer_auth(&eve)
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(multipart)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let url = body["data"]["avatar"].as_str().unwrap().to_owned();
    let path = url
        .strip_prefix("https://users.example.test")
        .unwrap_or_else(|| panic!("{url} is under PUBLIC_URL"));
    let resp = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), PNG);
    assert_eq!(std::fs::read_dir(&avatars).unwrap().count(), 1);

    // Eve deletes her account; the server's purge job removes it after the window.
    let (s, body) = c
        .call(
            reqwest::Method::DELETE,
            "/api/v1/account",
            Some(&eve),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(body["data"]["recoveryDeadline"].is_string());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (s, _) = c.get(&format!("/api/v1/admin/users/{eve_id}"), a).await;
        if s == 404 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the purge job did not remove the account"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    wait_for_mail(&smtp, "eve@example.com", "removed", 1).await;
    assert_eq!(
        std::fs::read_dir(&avatars).unwrap().count(),
        0,
        "avatar file left behind"
    );
    let (s, _) = c.get(path, None).await;
    assert_eq!(s, 404);
    drop(server);
    let _ = std::fs::remove_dir_all(avatars);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_flow_axum_sqlite() {
    let dir = std::env::temp_dir().join(format!("usermgmt-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    admin_flow(
        "axum",
        &format!("sqlite://{}/admin.db?mode=rwc", dir.display()),
    )
    .await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_flow_actix_postgres() {
    let Some(url) = usermgmt_core::testing::databases::postgres_test_database_url().await else {
        return;
    };
    admin_flow("actix", &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_flow_axum_mysql() {
    let Some(url) = usermgmt_core::testing::databases::mysql_test_database_url().await else {
        return;
    };
    admin_flow("axum", &url).await;
}

/// A client of the first seed, unchanged: its own paths at the server root and its own bodies
/// (register without a username, login by email, confirm-email, change-password with `userId`
/// and `oldPassword`, reset-password), with the standalone server's compatibility defaults.
async fn first_seed_client(framework: &'static str) {
    let dir = std::env::temp_dir().join(format!("usermgmt-e2e-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let smtp = SmtpTestServer::start();
    let database = format!("sqlite://{}/seed.db?mode=rwc", dir.display());
    let spec = ServerSpec::new(framework, &database, Some(smtp.port))
        .with("COMPATIBILITY_ROUTES", "true")
        .with("COMPATIBILITY_ROOT_ROUTES", "true");
    let server = Server::start(&spec).await;
    let c = Client::new(&server, &random_client_ip());

    let (s, body) = c
        .post(
            "/users/register",
            None,
            json!({"email": "john.doe@example.com", "password": PASSWORD, "firstName": "John", "lastName": "Doe"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let user_id = body["data"]["user"]["id"].as_str().unwrap().to_owned();
    assert_eq!(body["data"]["user"]["username"], json!("johndoe"));
    let token = wait_for_mail(&smtp, "john.doe@example.com", "confirm your email", 1)
        .await
        .expect("verification link");
    let (s, body) = c
        .post("/auth/confirm-email", None, json!({"token": token}))
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["data"]["user"]["emailVerified"], json!(true));

    let (s, body) = c
        .post(
            "/auth/login",
            None,
            json!({"email": "john.doe@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let access = body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let (s, body) = c
        .call(
            reqwest::Method::PUT,
            "/users/change-password",
            Some(&access),
            Some(json!({"userId": user_id, "oldPassword": PASSWORD, "newPassword": SECOND})),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    let (s, body) = c
        .post(
            "/users/reset-password",
            None,
            json!({"email": "john.doe@example.com"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // The password-changed notice says "reset your password" too: match the reset mail's own text.
    let reset = wait_for_mail(
        &smtp,
        "john.doe@example.com",
        "asked to reset the password",
        1,
    )
    .await
    .expect("reset link");
    // The first seed has no route that completes a reset: its link leads to ours.
    let (s, body) = c
        .post(
            "/api/v1/auth/reset-password",
            None,
            json!({"token": reset, "password": THIRD, "confirmPassword": THIRD}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c
        .post(
            "/auth/login",
            None,
            json!({"email": "john.doe@example.com", "password": THIRD}),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    // Only the first seed's paths are served at the root.
    let (s, body) = c.get("/users/profile", Some(&access)).await;
    assert_eq!(
        (s.as_u16(), body["code"].as_str()),
        (404, Some("ROUTE_NOT_FOUND"))
    );
    drop(server);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_seed_client_axum() {
    first_seed_client("axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_seed_client_actix() {
    first_seed_client("actix").await;
}
