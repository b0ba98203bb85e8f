//! The README's passkey snippet, run by a real browser: headless Chromium, driven through
//! ChromeDriver (WebDriver), with a virtual platform authenticator (WebDriver's WebAuthn
//! extension), on a page of the standalone server's origin. The snippet is read from README.md
//! itself, so the documented browser code cannot drift from what the server accepts: it
//! registers a passkey for a signed-in user, then signs in with it without a username.
//!
//! Skipped with a notice when Chromium or ChromeDriver is not installed
//! (`apt-get install chromium chromium-driver`; `.ci/run` installs them).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::browser::{CHROMIUM, Driver, available, free_port};
use common::{Client, PASSWORD, Server, ServerSpec, random_client_ip};
use serde_json::json;
use std::time::{Duration, Instant};
use usermgmt_core::mail::token_from_link;
use usermgmt_core::testing::smtp::SmtpTestServer;

/// The fenced `js` block of README.md's passkeys section (the one calling
/// `navigator.credentials`).
fn readme_passkey_snippet() -> String {
    let readme = include_str!("../../README.md");
    let section = &readme[readme
        .find("### Passkeys")
        .expect("README has a Passkeys section")..];
    let start = section
        .find("```js\n")
        .expect("a js block in the Passkeys section")
        + 6;
    let block = &section[start..];
    let snippet = &block[..block.find("\n```").expect("the js block ends")];
    assert!(
        snippet.contains("navigator.credentials.create")
            && snippet.contains("navigator.credentials.get"),
        "the Passkeys section's js block is the browser snippet"
    );
    snippet.to_owned()
}

/// Registers and verifies a user through the API (the verification link comes over SMTP);
/// returns (user id, access token).
async fn signed_in_user(client: &Client, smtp: &SmtpTestServer) -> (String, String) {
    let user_id = client.register("petra", "petra@example.com").await;
    let deadline = Instant::now() + Duration::from_secs(15);
    let token = loop {
        let mail = smtp
            .received()
            .into_iter()
            .find(|m| m.to.iter().any(|t| t == "petra@example.com"));
        if let Some(link) = mail.and_then(|m| token_from_link(&m.decoded())) {
            break link;
        }
        assert!(Instant::now() < deadline, "no verification mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (status, body) = client
        .get(&format!("/api/v1/auth/verify-email?token={token}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (access, _) = client.login("petra", PASSWORD).await;
    (user_id, access)
}

#[tokio::test]
async fn the_readme_passkey_snippet_works_in_chromium_axum() {
    readme_snippet_in_chromium("axum").await;
}

#[tokio::test]
async fn the_readme_passkey_snippet_works_in_chromium_actix() {
    readme_snippet_in_chromium("actix").await;
}

/// Registers a passkey and signs in with it through `framework`'s server, in Chromium, with the
/// README's code.
async fn readme_snippet_in_chromium(framework: &'static str) {
    if !available() {
        return;
    }
    let snippet = readme_passkey_snippet();

    // WebAuthn needs a secure context and a domain as relying party id (an IP address is
    // refused): the page is served as http://localhost:<port>, the server's default RP id.
    let port = free_port();
    let origin = format!("http://localhost:{port}");
    let smtp = SmtpTestServer::start();
    let dir = std::env::temp_dir().join(format!("usermgmt-passkey-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database_url = format!("sqlite://{}/passkeys.db?mode=rwc", dir.display());
    let server = Server::start(
        &ServerSpec::new(framework, &database_url, Some(smtp.port))
            .with("APP_PORT", port.to_string())
            .with("WEBAUTHN_RP_ID", "localhost")
            .with("WEBAUTHN_RP_ORIGIN", &origin),
    )
    .await;
    let client = Client::new(&server, &random_client_ip());
    let (user_id, access) = signed_in_user(&client, &smtp).await;

    let driver = Driver::start().await;
    let profile = dir.join("profile");
    let session = driver
        .command(
            reqwest::Method::POST,
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": CHROMIUM,
                    // As the API page test: no network beyond loopback, no background services.
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                },
            }}})),
        )
        .await;
    let session_id = session["sessionId"].as_str().unwrap().to_owned();
    let at = |path: &str| format!("/session/{session_id}{path}");

    // A page of the server's origin, as the host app's page would be (the snippet calls the API
    // with relative URLs): the API page, whose policy allows `connect-src 'self'` (the API's
    // JSON answers carry `default-src 'none'`, under which a page could fetch nothing).
    driver
        .command(
            reqwest::Method::POST,
            &at("/url"),
            Some(json!({"url": format!("{origin}/docs")})),
        )
        .await;
    // A platform authenticator that holds discoverable credentials and verifies its user.
    driver
        .command(
            reqwest::Method::POST,
            &at("/webauthn/authenticator"),
            Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserConsenting": true,
                "isUserVerified": true,
            })),
        )
        .await;
    driver
        .command(
            reqwest::Method::POST,
            &at("/timeouts"),
            Some(json!({"script": 60_000})),
        )
        .await;

    let script = format!(
        "{snippet}\n\
         const done = arguments[arguments.length - 1];\n\
         (async () => {{\n\
           const registered = await registerPasskey(arguments[0], 'Laptop');\n\
           const signedIn = await signInWithPasskey();\n\
           return {{ registered, signedIn }};\n\
         }})().then(done, (e) => done({{ pageError: String(e) }}));"
    );
    let outcome = driver
        .command(
            reqwest::Method::POST,
            &at("/execute/async"),
            Some(json!({"script": script, "args": [access]})),
        )
        .await;
    driver.command(reqwest::Method::DELETE, &at(""), None).await;
    drop(driver);

    assert!(outcome.get("pageError").is_none(), "in the page: {outcome}");
    let registered = &outcome["registered"];
    assert_eq!(registered["success"], json!(true), "{registered}");
    let passkey = &registered["data"]["passkey"];
    assert_eq!(passkey["name"], json!("Laptop"), "{registered}");

    // The usernameless sign-in found the account by the credential alone.
    let signed_in = &outcome["signedIn"];
    assert_eq!(signed_in["success"], json!(true), "{signed_in}");
    assert_eq!(
        signed_in["data"]["user"]["id"],
        json!(user_id),
        "{signed_in}"
    );
    let browser_access = signed_in["data"]["tokens"]["accessToken"]
        .as_str()
        .expect("an access token");
    assert!(signed_in["data"]["tokens"]["refreshToken"].is_string());

    // The tokens work, and the passkey records its use.
    let (status, body) = client.get("/api/v1/passkeys", Some(browser_access)).await;
    assert_eq!(status, 200, "{body}");
    let listed = body["data"]["passkeys"]
        .as_array()
        .expect("a list of passkeys")
        .clone();
    assert_eq!(listed.len(), 1, "{body}");
    assert_eq!(listed[0]["id"], passkey["id"], "{body}");
    assert!(listed[0]["lastUsedAt"].is_string(), "{body}");

    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
