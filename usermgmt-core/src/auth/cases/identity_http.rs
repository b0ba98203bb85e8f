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
