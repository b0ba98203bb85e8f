//! HTTP conformance cases for registration, verification, login failures, password reset and
//! change, and the whole account flow. Each case registers itself with `http_case!` right below
//! its function (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::json;
use time::Duration;

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
http_case!(registration_reports_every_broken_rule_and_changes_nothing);

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
http_case!(registration_conflicts_are_409);

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
http_case!(full_account_flow);

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
http_case!(login_failures_lock_the_account);

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
http_case!(password_reset_flow);

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
http_case!(change_password_keeps_only_the_current_session);

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
http_case!(email_verification_tokens);

/// The first seed's registration body, byte for byte as its document shows it (the address is
/// the document's obfuscated `[email protected]`, with its no-break space).
const SEED_REGISTER: &str = "{ \"email\": \"[email\u{a0}protected]\", \"password\": \"secretpassword\", \"firstName\": \"John\", \"lastName\": \"Doe\" }";

/// The first seed's change-password body, byte for byte as its document shows it.
const SEED_CHANGE_PASSWORD: &str = "{ \"userId\": \"user-id-123\", \"oldPassword\": \"old-password\", \"newPassword\": \"new-password\" }";

/// The seed's registration text with a real address and a password the policy accepts in
/// place of the document's placeholders: the same members, order and spacing.
fn seed_registration(email: &str) -> String {
    SEED_REGISTER
        .replace("[email\u{a0}protected]", email)
        .replace("secretpassword", PASSWORD)
}

/// The seed's change-password text with real values in place of its placeholders.
fn seed_change_password(user_id: &str, old: &str, new: &str) -> String {
    SEED_CHANGE_PASSWORD
        .replace("user-id-123", user_id)
        .replace("old-password", old)
        .replace("new-password", new)
}

/// Sends `text` as a JSON body, as a client that writes its bodies by hand would.
async fn send_json_text(
    cx: &HttpCtx,
    method: &str,
    uri: &str,
    token: Option<&str>,
    text: &str,
) -> TestResponse {
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(t) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    cx.send(TestRequest {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers,
        body: text.as_bytes().to_vec(),
    })
    .await
}

async fn is_stored(cx: &HttpCtx, email: &str) -> bool {
    cx.app
        .manager
        .store()
        .user_by_email(email)
        .await
        .unwrap()
        .is_some()
}

async fn mailed_to(cx: &HttpCtx, to: &str) -> usize {
    cx.app.deliver_mail().await;
    cx.app
        .mailer
        .sent()
        .into_iter()
        .filter(|m| m.to == to)
        .count()
}

fn is_suffixed(username: &serde_json::Value, base: &str) -> bool {
    username.as_str().is_some_and(|name| {
        name.strip_prefix(base)
            .and_then(|rest| rest.strip_prefix('_'))
            .is_some_and(|suffix| {
                suffix.len() == 4
                    && suffix
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    })
}

pub async fn first_seed_registration_derives_the_username(cx: &HttpCtx) {
    let compat = cx.with_compatibility_routes().await;
    let url = "/api/v1/users/register";
    // The seed's text as its document shows it: its placeholders fail the address and password
    // rules, and nothing asks for a username.
    let r = send_json_text(&compat, "POST", url, None, SEED_REGISTER).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let mut fields = error_fields(&r);
    fields.dedup();
    assert_eq!(fields, vec!["email", "password"]);

    let r = send_json_text(
        &compat,
        "POST",
        url,
        None,
        &seed_registration("John.Doe@example.com"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let user = &r.data()["user"];
    assert_eq!(user["username"], json!("johndoe"));
    assert_eq!(user["email"], json!("john.doe@example.com"));
    assert_eq!(user["firstName"], json!("John"));
    assert_eq!(user["lastName"], json!("Doe"));
    assert_eq!(user["emailVerified"], json!(false));
    // Otherwise as /auth/register: the audit row, the verification mail, then a login.
    assert_eq!(
        compat.audit_actions("john.doe@example.com").await,
        vec!["USER_REGISTERED"]
    );
    let token = compat
        .app
        .token_mailed_to("john.doe@example.com")
        .await
        .expect("verification mail");
    ok(
        &compat
            .post("/api/v1/auth/confirm-email", None, json!({"token": token}))
            .await,
        "confirm",
    );
    compat.login("johndoe", PASSWORD).await;
    assert_error(
        &send_json_text(
            &compat,
            "POST",
            url,
            None,
            &seed_registration("JOHN.DOE@example.com"),
        )
        .await,
        409,
        "EMAIL_TAKEN",
    );

    // The name is taken: a suffix.
    let r = send_json_text(
        &compat,
        "POST",
        url,
        None,
        &seed_registration("johndoe@example.org"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        is_suffixed(&r.data()["user"]["username"], "johndoe"),
        "{}",
        r.data()
    );
    // Too short: padded.
    let r = send_json_text(
        &compat,
        "POST",
        url,
        None,
        &seed_registration("jo@example.com"),
    )
    .await;
    assert_eq!(r.data()["user"]["username"], json!("jo_"));

    // A username given is used as at /auth/register, taken or not.
    let r = compat
        .post(
            url,
            None,
            json!({"email": "jd3@example.com", "username": "JD_Three", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["user"]["username"], json!("jd_three"));
    let r = compat
        .post(
            url,
            None,
            json!({"email": "jd4@example.com", "username": "johndoe", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "USERNAME_TAKEN");
    assert!(!is_stored(cx, "jd4@example.com").await);

    // Nothing changes for /api/v1 clients: /auth/register still requires the username.
    let r = compat
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "nouser@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["username"]);
    assert!(!is_stored(cx, "nouser@example.com").await);
    // And the document says so: the username is optional on the first seed's route only.
    let doc = compat.get("/api/v1/openapi.json", None).await.json();
    let required = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["required"]
            .clone()
    };
    assert_eq!(required(url), json!(["email", "password"]));
    assert_eq!(
        required("/api/v1/auth/register"),
        json!(["email", "username", "password"])
    );
}
http_case!(first_seed_registration_derives_the_username);

pub async fn first_seed_registrations_racing_for_one_name_both_succeed(cx: &HttpCtx) {
    let compat = cx.with_compatibility_routes().await;
    let emails = ["same.name@example.com", "same-name@example.net"];
    let answers =
        futures_util::future::join_all(
            emails.iter().map(|email| {
                let body = seed_registration(email);
                let compat = &compat;
                async move {
                    send_json_text(compat, "POST", "/api/v1/users/register", None, &body).await
                }
            }),
        )
        .await;
    let mut names = Vec::new();
    for r in &answers {
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        names.push(r.data()["user"]["username"].clone());
    }
    assert_ne!(names[0], names[1]);
    assert!(names.contains(&json!("samename")), "{names:?}");
    assert!(
        names.iter().any(|n| is_suffixed(n, "samename")),
        "{names:?}"
    );
    for email in emails {
        assert!(is_stored(cx, email).await, "{email}");
    }
}
http_case!(first_seed_registrations_racing_for_one_name_both_succeed);

pub async fn usernames_the_routes_shadow_are_reserved(cx: &HttpCtx) {
    // `/users/profile`, `/users/preferences` and `/users/register` are routes of their own, so
    // a user of that name would have a public profile nobody can fetch.
    for name in ["profile", "Preferences", "register"] {
        let email = format!("{}@example.com", name.to_ascii_lowercase());
        let r = cx
            .post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "username": name, "password": PASSWORD}),
            )
            .await;
        assert_error(&r, 409, "USERNAME_TAKEN");
        assert!(!is_stored(cx, &email).await, "{name} created");
        assert_eq!(mailed_to(cx, &email).await, 0, "{name} mailed");
        let r = cx
            .get(
                &format!("/api/v1/auth/check-username?username={name}"),
                None,
            )
            .await;
        assert_eq!(r.data()["available"], json!(false), "{name}");
    }
    assert_eq!(
        cx.get("/api/v1/auth/check-username?username=profiles", None)
            .await
            .data()["available"],
        json!(true)
    );
    // A name derived from such an address is suffixed instead.
    let compat = cx.with_compatibility_routes().await;
    let r = send_json_text(
        &compat,
        "POST",
        "/api/v1/users/register",
        None,
        &seed_registration("profile@example.com"),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        is_suffixed(&r.data()["user"]["username"], "profile"),
        "{}",
        r.data()
    );
    // Given explicitly on the first seed's route: refused the same way.
    let r = compat
        .post(
            "/api/v1/users/register",
            None,
            json!({"email": "reg@example.com", "username": "register", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "USERNAME_TAKEN");
    assert!(!is_stored(cx, "reg@example.com").await);
}
http_case!(usernames_the_routes_shadow_are_reserved);

pub async fn first_seed_change_password_body(cx: &HttpCtx) {
    let compat = cx.with_compatibility_routes().await;
    compat.register_verified("paula").await;
    compat.register_verified("quinn").await;
    let (access, _) = compat.login("paula", PASSWORD).await;
    let (other, _) = compat.login("paula", PASSWORD).await;
    let paula = user_id(&compat, "paula@example.com").await.to_string();
    let quinn = user_id(&compat, "quinn@example.com").await.to_string();
    let url = "/api/v1/users/change-password";
    let put = |text: String| {
        let compat = &compat;
        let access = access.clone();
        async move { send_json_text(compat, "PUT", url, Some(&access), &text).await }
    };

    // The seed's text as its document shows it: its userId is not the caller's.
    assert_error(
        &put(SEED_CHANGE_PASSWORD.to_owned()).await,
        403,
        "FORBIDDEN",
    );
    // Another user's id, with the caller's right password: refused, nothing changes (the
    // first seed changed that user's password).
    assert_error(
        &put(seed_change_password(&quinn, PASSWORD, NEW_PASSWORD)).await,
        403,
        "FORBIDDEN",
    );
    compat.login("quinn", PASSWORD).await;
    ok(
        &compat.get("/api/v1/users/profile", Some(&other)).await,
        "other session",
    );
    for email in ["paula@example.com", "quinn@example.com"] {
        assert!(
            !compat
                .audit_actions(email)
                .await
                .contains(&"PASSWORD_CHANGED".to_owned())
        );
    }
    // An unknown member is refused on both routes.
    let r =
        put(seed_change_password(&paula, PASSWORD, NEW_PASSWORD).replace(" }", ", \"extra\": 1 }"))
            .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = compat
        .post(
            "/api/v1/auth/change-password",
            Some(&access),
            json!({"userId": paula, "currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    // /auth/change-password still asks for the confirmation.
    let r = compat
        .post(
            "/api/v1/auth/change-password",
            Some(&access),
            json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["confirmPassword"]);
    // The rules of /auth/change-password, named as the seed's client named the fields.
    let r = put(seed_change_password(&paula, PASSWORD, "weak")).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert!(
        error_fields(&r).iter().all(|f| f == "newPassword"),
        "{:?}",
        error_fields(&r)
    );
    let r = put(format!(
        "{{ \"userId\": \"{paula}\", \"newPassword\": \"{NEW_PASSWORD}\" }}"
    ))
    .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["oldPassword"]);
    assert_error(
        &put(seed_change_password(&paula, "Wr0ng!pass", NEW_PASSWORD)).await,
        400,
        "INCORRECT_PASSWORD",
    );

    // The caller's own id (in any case): changed, the other sessions end.
    let r = put(seed_change_password(
        &paula.to_ascii_uppercase(),
        PASSWORD,
        NEW_PASSWORD,
    ))
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["revokedSessions"], json!(1));
    assert_error(
        &compat.get("/api/v1/users/profile", Some(&other)).await,
        401,
        "INVALID_TOKEN",
    );
    ok(
        &compat.get("/api/v1/users/profile", Some(&access)).await,
        "own session",
    );
    assert_error(
        &compat
            .post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": "paula", "password": PASSWORD}),
            )
            .await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert!(
        compat
            .audit_actions("paula@example.com")
            .await
            .contains(&"PASSWORD_CHANGED".to_owned())
    );
    // History: back to the first password is refused.
    let r = put(seed_change_password(&paula, NEW_PASSWORD, PASSWORD)).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["newPassword"]);
    compat.login("paula", NEW_PASSWORD).await;
}
http_case!(first_seed_change_password_body);
