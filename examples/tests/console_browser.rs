//! The web console walked in a real browser (headless Chromium through ChromeDriver), on the
//! standalone server of each framework: sign up → follow the link from the test SMTP server →
//! sign in → enable two-step verification reading the key from the page → sign out → sign in
//! with a TOTP code → revoke the other session; an administrator finds that user and suspends
//! them, and the user's open page is signed out on its next request; the administrator adds a
//! passkey with Chromium's virtual authenticator and signs in with it. Along the way: a user
//! without `admin:access` sees no admin link and gets the refusal page; the administrator
//! creates a role with a permission and gives it to the user, acts as the user (the banner on
//! every page) and returns; another user uploads a picture, downloads the data export and
//! deletes the account. A listener installed
//! before every page's own script fails the test on any Content-Security-Policy violation.
//!
//! With `CONSOLE_SCREENSHOTS=1` the Axum walk also writes screenshots of every page (light and
//! dark, desktop and phone width) to `docs/console/`.
//!
//! Skipped with a notice when Chromium or ChromeDriver is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::browser::{Browser, Driver, available, free_port};
use common::{Client, PASSWORD, Server, ServerSpec, random_client_ip};
use serde_json::json;
use std::time::{Duration, Instant};
use usermgmt_core::mail::token_from_link;
use usermgmt_core::testing::smtp::SmtpTestServer;
use usermgmt_core::two_factor::totp::{TotpSecret, code_at};

#[tokio::test]
async fn the_console_walk_in_chromium_axum() {
    walk("axum").await;
}

#[tokio::test]
async fn the_console_walk_in_chromium_actix() {
    walk("actix").await;
}

/// Installed by the browser before each page's own script: it records every violation of the
/// page's policy (including the policy forbidding inline code), read after each step.
const CSP_PROBE: &str = "window.__cspViolations = []; \
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(\
    `${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`));";

async fn probed<'d>(driver: &'d Driver, profile: &std::path::Path) -> Browser<'d> {
    let browser = driver.session(profile).await;
    browser.cdp("Page.enable", json!({})).await;
    browser
        .cdp(
            "Page.addScriptToEvaluateOnNewDocument",
            json!({"source": CSP_PROBE}),
        )
        .await;
    browser
}

/// Fails on any recorded violation (and when the probe did not run: it would prove nothing).
async fn no_csp_violation(browser: &Browser<'_>, step: &str) {
    let seen = browser
        .run(
            "return Array.isArray(window.__cspViolations) ? window.__cspViolations : ['the probe did not run'];",
            json!([]),
        )
        .await;
    assert_eq!(seen, json!([]), "CSP violations at {step}");
}

/// axe-core's script, from its test fixture (`npm ci` in `examples/tests/fixtures/axe-core`,
/// which `.ci/run` does); without it the accessibility check is skipped with a notice.
fn axe_script() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/axe-core/node_modules/axe-core/axe.min.js");
    let script = std::fs::read_to_string(path).ok();
    if script.is_none() {
        eprintln!(
            "note: the console walk's accessibility check is skipped: run `npm ci` in examples/tests/fixtures/axe-core"
        );
    }
    script
}

/// Fails on any serious or critical axe-core violation of the page as it is now (WCAG 2.x A
/// and AA rules and axe's best practices). The script is injected by WebDriver, not by the
/// page: the page's policy still allows no inline or foreign script.
async fn no_serious_accessibility_violation(browser: &Browser<'_>, axe: &str, step: &str) {
    browser.run(axe, json!([])).await;
    let found = browser
        .run_async(
            "const done = arguments[arguments.length - 1]; \
             axe.run(document, {resultTypes: ['violations']}).then( \
               (r) => done(r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical') \
                 .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)), \
               (e) => done([`axe failed: ${e}`]));",
            json!([]),
        )
        .await;
    assert_eq!(found, json!([]), "accessibility violations at {step}");
}

/// Screenshots of the page as it is, in light and dark, desktop and phone width; each page
/// photographed is also checked by axe-core in both schemes.
struct Shots {
    dir: Option<std::path::PathBuf>,
    axe: Option<String>,
}

impl Shots {
    async fn take(&self, browser: &Browser<'_>, name: &str) {
        no_csp_violation(browser, name).await;
        if let Some(axe) = &self.axe {
            for scheme in ["light", "dark"] {
                browser
                    .cdp(
                        "Emulation.setEmulatedMedia",
                        json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
                    )
                    .await;
                no_serious_accessibility_violation(browser, axe, &format!("{name} ({scheme})"))
                    .await;
            }
            browser
                .cdp("Emulation.setEmulatedMedia", json!({"features": []}))
                .await;
        }
        let Some(dir) = &self.dir else { return };
        for scheme in ["light", "dark"] {
            browser
                .cdp(
                    "Emulation.setEmulatedMedia",
                    json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
                )
                .await;
            for (label, width, height, mobile) in
                [("desktop", 1280, 900, false), ("phone", 390, 844, true)]
            {
                browser
                    .cdp(
                        "Emulation.setDeviceMetricsOverride",
                        json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
                    )
                    .await;
                tokio::time::sleep(Duration::from_millis(150)).await;
                let png = browser.screenshot().await;
                std::fs::write(dir.join(format!("{name}-{scheme}-{label}.png")), png).unwrap();
            }
        }
        browser
            .cdp("Emulation.clearDeviceMetricsOverride", json!({}))
            .await;
        browser
            .cdp("Emulation.setEmulatedMedia", json!({"features": []}))
            .await;
    }
}

/// The verification link mailed to `email`.
async fn mailed_link(smtp: &SmtpTestServer, email: &str, base: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mail = smtp
            .received()
            .into_iter()
            .find(|m| m.to.iter().any(|t| t == email));
        if let Some(body) = mail.map(|m| m.decoded()) {
            assert!(body.contains(&format!("{base}?token=")), "{body}");
            let token = token_from_link(&body).expect("a token in the mail");
            return format!("{base}?token={token}");
        }
        assert!(Instant::now() < deadline, "no verification mail");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The current TOTP code of `secret`, taken in a later 30-second step than `after` (a code is
/// accepted once); returns the code and its step.
// The server is a separate process on the real clock: the code must be of the wall clock too.
#[allow(clippy::disallowed_methods)]
async fn totp_code(secret: &TotpSecret, after: Option<i64>) -> (String, i64) {
    loop {
        let now = time::OffsetDateTime::now_utc();
        let step = now.unix_timestamp() / 30;
        // Not in the last two seconds of a step: the code must still be valid when it arrives.
        if after.is_none_or(|a| step > a) && now.unix_timestamp() % 30 < 28 {
            return (code_at(secret, now), step);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn sign_in(browser: &Browser<'_>, origin: &str, identifier: &str, password: &str) {
    browser.goto(&format!("{origin}/signin")).await;
    browser.fill("#identifier", identifier).await;
    browser.fill("#password", password).await;
    browser.click("#signin-form button[type=submit]").await;
}

async fn walk(framework: &'static str) {
    if !available() {
        return;
    }
    let port = free_port();
    // WebAuthn needs a secure context and a domain as relying party id: localhost.
    let origin = format!("http://localhost:{port}");
    let smtp = SmtpTestServer::start();
    let dir = std::env::temp_dir().join(format!("usermgmt-console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let database_url = format!("sqlite://{}/console.db?mode=rwc", dir.display());
    let server = Server::start(
        &ServerSpec::new(framework, &database_url, Some(smtp.port))
            .with("APP_PORT", port.to_string())
            .with("PUBLIC_URL", &origin)
            .with("EMAIL_CONFIRMATION_URL", format!("{origin}/verify-email"))
            .with("PASSWORD_RESET_URL", format!("{origin}/reset-password"))
            .with("WEBAUTHN_RP_ID", "localhost")
            .with("WEBAUTHN_RP_ORIGIN", &origin)
            .with("ADMIN_EMAIL", "root@example.com")
            .with("ADMIN_USERNAME", "root")
            .with("ADMIN_PASSWORD", PASSWORD),
    )
    .await;
    let client = Client::new(&server, &random_client_ip());
    let shots = Shots {
        axe: axe_script(),
        dir: (framework == "axum" && std::env::var_os("CONSOLE_SCREENSHOTS").is_some()).then(
            || {
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
                std::fs::create_dir_all(&dir).unwrap();
                dir
            },
        ),
    };
    let driver = Driver::start().await;
    let user = probed(&driver, &dir.join("user-profile")).await;

    // Sign up.
    user.goto(&format!("{origin}/signup")).await;
    user.fill("#email", "walker@example.com").await;
    user.fill("#username", "walker").await;
    user.fill("#firstName", "Wanda").await;
    user.fill("#password", PASSWORD).await;
    shots.take(&user, "signup").await;
    user.click("#signup-form button[type=submit]").await;
    user.wait_until("visible('#signup-status.ok')", "the sign-up's confirmation")
        .await;
    no_csp_violation(&user, "sign-up").await;

    // The link from the mail confirms the address, and leaves the address bar at once.
    let link = mailed_link(
        &smtp,
        "walker@example.com",
        &format!("{origin}/verify-email"),
    )
    .await;
    user.goto(&link).await;
    user.wait_until("visible('#verify-status.ok')", "the confirmation")
        .await;
    assert!(
        !user.url().await.contains("token="),
        "the token left the address bar"
    );
    shots.take(&user, "verify-email").await;

    // Sign in with the password.
    user.goto(&format!("{origin}/signin")).await;
    shots.take(&user, "signin").await;
    sign_in(&user, &origin, "walker", PASSWORD).await;
    user.wait_for_path("/account").await;
    shots.take(&user, "account").await;

    // Without admin:access: no admin link, and an admin page answers the refusal page.
    assert_eq!(
        user.run(
            "return document.querySelectorAll('header.top a[href*=\"/admin\"]').length;",
            json!([])
        )
        .await,
        json!(0),
        "no admin links"
    );
    user.goto(&format!("{origin}/admin")).await;
    user.wait_until(
        "document.querySelector('main[data-page=refused]') !== null",
        "the refusal page",
    )
    .await;
    assert!(user.text("main").await.contains("Code: FORBIDDEN"));
    shots.take(&user, "refused").await;
    user.goto(&format!("{origin}/account")).await;
    user.wait_for_path("/account").await;

    // Two-step verification, with the key read from the page.
    user.click("#two-factor-setup").await;
    user.wait_until(
        "document.getElementById('totp-secret').textContent.length >= 16 && document.getElementById('totp-qr').complete",
        "the authenticator key",
    )
    .await;
    shots.take(&user, "account-two-factor-setup").await;
    let secret = TotpSecret::from_base32(user.text("#totp-secret").await.trim()).expect("a key");
    let (code, step) = totp_code(&secret, None).await;
    user.fill("#enable-code", &code).await;
    user.click("#totp-setup button[type=submit]").await;
    user.wait_until("visible('#backup-codes li')", "the backup codes")
        .await;
    let backup_codes = user
        .run(
            "return [...document.querySelectorAll('#backup-codes li')].map((li) => li.textContent);",
            json!([]),
        )
        .await;
    assert_eq!(backup_codes.as_array().unwrap().len(), 10, "{backup_codes}");
    shots.take(&user, "account-backup-codes").await;

    // Sign out, and in again with a TOTP code.
    user.click("#sign-out").await;
    user.wait_for_path("/signin").await;
    sign_in(&user, &origin, "walker", PASSWORD).await;
    user.wait_until("visible('#two-factor-step')", "the two-factor step")
        .await;
    shots.take(&user, "signin-two-factor").await;
    let (code, _) = totp_code(&secret, Some(step)).await;
    user.fill("#code", &code).await;
    user.click("#two-factor-step button[type=submit]").await;
    user.wait_for_path("/account").await;
    user.wait_until("visible('#two-factor-state')", "the account")
        .await;
    assert!(user.text("#two-factor-state").await.starts_with("On"));

    // Another session (an API client, second factor by backup code), revoked from the page.
    let (status, body) = client
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "walker", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": body["data"]["challengeToken"], "code": backup_codes[0]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let other = body["data"]["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    user.goto(&format!("{origin}/account")).await;
    user.wait_until(
        "document.querySelectorAll('#sessions-list tr[data-session]').length === 2",
        "two sessions listed",
    )
    .await;
    assert_eq!(
        user.run(
            "return document.querySelectorAll('#sessions-list tr[data-current=true]').length;",
            json!([])
        )
        .await,
        json!(1),
        "this device is marked"
    );
    shots.take(&user, "account-sessions").await;
    user.click("#sessions-list tr[data-current=false] button")
        .await;
    user.wait_until(
        "document.querySelectorAll('#sessions-list tr[data-session]').length === 1",
        "the other session gone",
    )
    .await;
    let (status, body) = client.get("/api/v1/users/profile", Some(&other)).await;
    assert_eq!(status, 401, "the revoked session's token: {body}");

    // An administrator finds the user and suspends them.
    let admin = probed(&driver, &dir.join("admin-profile")).await;
    sign_in(&admin, &origin, "root", PASSWORD).await;
    admin.wait_for_path("/account").await;
    admin.goto(&format!("{origin}/admin")).await;
    admin
        .wait_until("visible('svg.chart rect')", "the dashboard's chart")
        .await;
    shots.take(&admin, "admin-dashboard").await;

    // The roles editor: a new role with one permission.
    admin.goto(&format!("{origin}/admin/roles")).await;
    admin.fill("#role-name", "walk_readers").await;
    admin.fill("#role-description", "Reads users").await;
    admin
        .click("form[data-api='POST /roles'] input[value='user:read']")
        .await;
    admin
        .click("form[data-api='POST /roles'] button[type=submit]")
        .await;
    admin
        .wait_until(
            "[...document.querySelectorAll('main tbody tr')].some((tr) => \
             tr.querySelector('strong')?.textContent === 'walk_readers' && tr.textContent.includes('user:read'))",
            "the new role listed with its permission",
        )
        .await;
    admin.goto(&format!("{origin}/admin/users?q=walker")).await;
    admin
        .wait_until("visible('#users tr[data-user] a')", "the search's answer")
        .await;
    shots.take(&admin, "admin-users").await;
    admin.click("#users tr[data-user] a").await;
    admin
        .wait_until(
            "visible('#user-detail dd') && visible('#action-suspend')",
            "the user's page",
        )
        .await;
    shots.take(&admin, "admin-user").await;

    // The new role, given to the user from their page.
    admin
        .run(
            "const s = document.getElementById('assign-role'); \
             s.value = [...s.options].find((o) => o.text === 'walk_readers').value;",
            json!([]),
        )
        .await;
    admin
        .click("#user-roles form:first-of-type button[type=submit]")
        .await;
    admin
        .wait_until("visible('#assign-status.ok')", "the role assigned")
        .await;
    admin
        .wait_until(
            "document.getElementById('user-detail').textContent.includes('walk_readers')",
            "the role on the user's page",
        )
        .await;

    // The administrator acts as the user: a banner on every page, then the way back.
    let user_page = admin.url().await;
    admin.click("#action-impersonate").await; // its confirm() is accepted
    admin.wait_for_path("/account").await;
    admin
        .wait_until(
            "visible('#impersonation-banner')",
            "the impersonation banner",
        )
        .await;
    assert!(
        admin
            .text("#impersonation-banner")
            .await
            .contains("You are acting as walker")
    );
    assert!(admin.text("header.top").await.contains("Acting as walker"));
    shots.take(&admin, "impersonation-banner").await;
    admin.click("#stop-impersonating").await;
    admin
        .wait_until(
            "visible('#action-suspend') && !document.getElementById('impersonation-banner')",
            "the administrator's own page again",
        )
        .await;
    assert_eq!(admin.url().await, user_page);
    assert!(admin.text("header.top").await.contains("Signed in as root"));
    no_csp_violation(&admin, "back from impersonating").await;

    admin.fill("#reason", "walk test").await;
    admin.click("#action-suspend").await; // its confirm() is accepted
    admin
        .wait_until("visible('#suspend-status.ok')", "the suspension")
        .await;
    admin
        .wait_until(
            "document.getElementById('user-detail').dataset.state === 'suspended'",
            "the page showing the suspension",
        )
        .await;

    // The user's open page: its next request finds the session ended.
    user.goto(&format!("{origin}/account")).await;
    user.wait_for_path("/signin").await;
    no_csp_violation(&user, "signed out by the suspension").await;
    sign_in(&user, &origin, "walker", PASSWORD).await;
    user.wait_until("visible('#signin-status.error')", "the refusal")
        .await;
    assert!(
        user.text("#signin-status")
            .await
            .contains("ACCOUNT_SUSPENDED")
    );

    // The rest of the admin console.
    admin.goto(&format!("{origin}/admin/audit")).await;
    admin
        .wait_until(
            "document.querySelectorAll('#audit tbody tr').length > 3",
            "audit rows",
        )
        .await;
    shots.take(&admin, "admin-audit").await;
    admin.goto(&format!("{origin}/admin/roles")).await;
    shots.take(&admin, "admin-roles").await;

    // A passkey: added with the virtual authenticator, then the sign-in with it alone.
    admin
        .post(
            "/webauthn/authenticator",
            json!({
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
            }),
        )
        .await;
    admin.goto(&format!("{origin}/account")).await;
    admin.fill("#passkey-name", "Laptop").await;
    admin.click("#passkey-add").await;
    admin
        .wait_until(
            "document.querySelector('#passkeys-list tbody').textContent.includes('Laptop')",
            "the new passkey listed",
        )
        .await;
    admin.click("#sign-out").await;
    admin.wait_for_path("/signin").await;
    admin.click("#passkey-signin").await;
    admin.wait_for_path("/account").await;
    assert!(admin.text("header.top").await.contains("root"));
    no_csp_violation(&admin, "passkey sign-in").await;

    // The remaining pages, for their pictures and their policy.
    for page in ["forgot-password", "reset-password", "accept-invitation"] {
        user.goto(&format!("{origin}/{page}")).await;
        user.wait_for_path(&format!("/{page}")).await;
        shots.take(&user, page).await;
    }

    // Another user: a picture, the data export as a download, then the account deleted.
    let (status, body) = client
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "leaver@example.com", "username": "leaver", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let link = mailed_link(
        &smtp,
        "leaver@example.com",
        &format!("{origin}/verify-email"),
    )
    .await;
    let token = token_from_link(&link).expect("a token in the link");
    let (status, body) = client
        .post("/api/v1/auth/verify-email", None, json!({"token": token}))
        .await;
    assert_eq!(status, 200, "{body}");
    sign_in(&user, &origin, "leaver", PASSWORD).await;
    user.wait_for_path("/account").await;
    let picture = dir.join("avatar.png");
    std::fs::write(&picture, usermgmt_core::testing::http_suite::PNG).unwrap();
    user.upload("#avatar-file", &picture).await;
    user.click("#avatar button[type=submit]").await;
    user.wait_until(
        "(() => { const i = document.querySelector('#avatar img'); return !!i && i.complete && i.naturalWidth > 0; })()",
        "the new picture shown",
    )
    .await;
    no_csp_violation(&user, "the picture").await;
    // An API key: made on the page, shown once, working; revoked from its row, it stops.
    user.fill("#api-key-name", "CI deploys").await;
    user.click("#api-key-create button[type=submit]").await;
    user.wait_until(
        "document.getElementById('api-key-secret').textContent.startsWith('umk_') && !!document.querySelector('#api-keys-list tr[data-key]')",
        "the new key shown once and listed",
    )
    .await;
    let key = user.text("#api-key-secret").await;
    assert_eq!(
        client.get("/api/v1/users/profile", Some(&key)).await.0,
        200,
        "the key from the page works"
    );
    user.click("#api-keys-list tr[data-key] button[data-call]")
        .await; // its confirm() is accepted
    user.wait_until(
        "!document.querySelector('#api-keys-list tr[data-key]')",
        "the revoked key gone from the list",
    )
    .await;
    assert_eq!(
        client.get("/api/v1/users/profile", Some(&key)).await.0,
        401,
        "the revoked key stops at once"
    );
    no_csp_violation(&user, "the API key").await;
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    user.download_to(&downloads).await;
    user.click("#your-data button[data-export]").await;
    let exported = downloads.join("my-data.json");
    let deadline = Instant::now() + Duration::from_secs(15);
    let export: serde_json::Value = loop {
        // Chromium writes `.crdownload` first and renames it when done.
        if let Ok(bytes) = std::fs::read(&exported)
            && let Ok(value) = serde_json::from_slice(&bytes)
        {
            break value;
        }
        assert!(Instant::now() < deadline, "no export downloaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        export.to_string().contains("leaver@example.com"),
        "{export}"
    );
    assert!(!export.to_string().contains("argon2"), "no hash exported");
    user.fill("#delete-password", PASSWORD).await;
    user.click("#delete button[type=submit]").await; // its confirm() is accepted
    user.wait_for_path("/signin").await;
    no_csp_violation(&user, "the deletion").await;
    let (status, body) = client
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "leaver", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401, "the deleted account signs in no more: {body}");

    // The pages carry the policy and refuse framing.
    let answer = client
        .request(reqwest::Method::GET, "/signin")
        .send()
        .await
        .unwrap();
    let headers = answer.headers();
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert_eq!(headers["x-frame-options"], "DENY");

    user.close().await;
    admin.close().await;
    drop(driver);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
