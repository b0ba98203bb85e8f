//! HTTP conformance cases for the lockout and what a password or reset link may still do after a
//! change: concurrent guesses at every credential check, reset links after a password or
//! account change, and two-factor accounts coming back. Each case registers itself with
//! `http_case!` right below its function (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::{Value, json};
use time::Duration;

const WRONG: &str = "Wr0ng!Guess1";

/// An app that believes `X-Forwarded-For` from the test adapters' loopback peer, so a case can
/// speak from several client addresses (each within its per-address limits).
async fn behind_proxy(cx: &HttpCtx) -> HttpCtx {
    let limits = crate::ratelimit::RateLimitConfig {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Default::default()
    };
    let config = crate::testing::test_config_builder()
        .rate_limits(limits)
        .build()
        .unwrap();
    cx.with_config(config).await
}

async fn post_from(cx: &HttpCtx, client_ip: &str, uri: &str, body: Value) -> TestResponse {
    cx.send(TestRequest {
        method: "POST".to_owned(),
        uri: uri.to_owned(),
        headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("x-forwarded-for".to_owned(), client_ip.to_owned()),
            ("user-agent".to_owned(), "lockout-case".to_owned()),
        ],
        body: serde_json::to_vec(&body).unwrap(),
    })
    .await
}

/// `POST /auth/change-password` with `body`, signed in with `access`.
async fn change_password(cx: &HttpCtx, access: &str, body: Value) -> TestResponse {
    cx.request(
        "POST",
        "/api/v1/auth/change-password",
        Some(access),
        Some(body),
    )
    .await
}

/// The `reason` of every `LOGIN_FAILED` row of the user.
async fn failure_reasons(cx: &HttpCtx, email: &str) -> Vec<String> {
    let store = cx.app.manager.store();
    let user = store.user_by_email(email).await.unwrap().unwrap();
    store
        .audit_events(Some(user.id), 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "LOGIN_FAILED")
        .map(|e| e.details["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn count(reasons: &[String], reason: &str) -> usize {
    reasons.iter().filter(|r| *r == reason).count()
}

fn codes(answers: &[TestResponse]) -> Vec<(u16, String)> {
    answers
        .iter()
        .map(|r| {
            let body = r.json();
            (r.status, body["code"].as_str().unwrap_or("OK").to_owned())
        })
        .collect()
}

/// 30 concurrent logins of one account from three addresses (10 each, inside the per-address
/// limit), 29 wrong and one right: at most five passwords are checked, the rest answer 423
/// before any hash, a right password after the fifth failure is refused, and every attempt
/// leaves an audit row.
pub async fn concurrent_logins_check_at_most_five_passwords(cx: &HttpCtx) {
    let cx = behind_proxy(cx).await;
    let email = cx.register_verified("burst").await;
    let attempts = (0..30).map(|i| {
        let ip = format!("203.0.113.{}", i % 3 + 1);
        let password = if i == 17 { PASSWORD } else { WRONG };
        let cx = &cx;
        async move {
            post_from(
                cx,
                &ip,
                "/api/v1/auth/login",
                json!({"identifier": "burst", "password": password}),
            )
            .await
        }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let seen = codes(&answers);
    let succeeded = seen.iter().filter(|(s, _)| *s == 200).count();
    let wrong = seen
        .iter()
        .filter(|(s, c)| *s == 401 && c == "INVALID_CREDENTIALS")
        .count();
    let locked = seen
        .iter()
        .filter(|(s, c)| *s == 423 && c == "ACCOUNT_LOCKED")
        .count();
    assert_eq!(succeeded + wrong + locked, 30, "{seen:?}");
    let reasons = failure_reasons(&cx, &email).await;
    let checked_wrong = count(&reasons, "invalid_password");
    assert!(
        checked_wrong <= 5 && succeeded <= 1,
        "at most five wrong passwords checked, whether or not the right one got in: \
         {checked_wrong} wrong + {succeeded} right; {seen:?}"
    );
    assert_eq!(
        checked_wrong + count(&reasons, "account_locked"),
        30 - succeeded,
        "every refused attempt is audited: {reasons:?}"
    );
    if succeeded == 0 {
        // The lock holds against the right password too, until it ends.
        let r = post_from(
            &cx,
            "203.0.113.9",
            "/api/v1/auth/login",
            json!({"identifier": "burst", "password": PASSWORD}),
        )
        .await;
        assert_error(&r, 423, "ACCOUNT_LOCKED");
    }
    // Once the window is over (as long as a lock), the right password signs in.
    cx.app.clock.advance(Duration::minutes(15));
    cx.login("burst", PASSWORD).await;
}
http_case!(concurrent_logins_check_at_most_five_passwords);

/// A challenge checks at most five codes, and the account's lockout holds codes too: a burst
/// of wrong codes on one challenge is cut at five, the right code after them is refused, and
/// a new challenge waits for the lock to end.
pub async fn concurrent_second_factor_codes_are_bounded(cx: &HttpCtx) {
    let cx = behind_proxy(cx).await;
    let email = cx.register_verified("codes").await;
    let (access, _) = cx.login("codes", PASSWORD).await;
    let (secret, _backup) = enrol_two_factor(&cx, &access).await;
    let challenge = login_challenge(&cx, "codes", PASSWORD).await;
    let attempts = (0..20).map(|i| {
        let ip = format!("198.51.100.{}", i % 4 + 1);
        let cx = &cx;
        let challenge = challenge.clone();
        async move {
            post_from(
                cx,
                &ip,
                "/api/v1/auth/login/2fa",
                json!({"challengeToken": challenge, "code": format!("{:06}", 100_000 + i)}),
            )
            .await
        }
    });
    let seen = codes(&futures_util::future::join_all(attempts).await);
    // A checked wrong code answers 400, except the one whose failure locks (423).
    let checked_wrong = seen
        .iter()
        .filter(|(s, c)| *s == 400 && c == "INVALID_2FA_CODE")
        .count();
    assert!(
        checked_wrong <= 4,
        "at most five codes checked, the fifth locking: {seen:?}"
    );
    let reasons = failure_reasons(&cx, &email).await;
    assert!(
        count(&reasons, "invalid_2fa_code") <= 5,
        "at most five codes checked: {reasons:?} {seen:?}"
    );
    assert_eq!(reasons.len(), 20, "every attempt is audited: {reasons:?}");
    assert!(
        seen.iter().all(|(s, _)| [400, 401, 423].contains(s)),
        "{seen:?}"
    );
    cx.app.clock.advance(Duration::seconds(30));
    let right = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    let r = post_from(
        &cx,
        "198.51.100.9",
        "/api/v1/auth/login/2fa",
        json!({"challengeToken": challenge, "code": right}),
    )
    .await;
    assert!(
        [401, 423].contains(&r.status),
        "the right code after the burst is refused: {}",
        String::from_utf8_lossy(&r.body)
    );
    let r = post_from(
        &cx,
        "198.51.100.9",
        "/api/v1/auth/login",
        json!({"identifier": "codes", "password": PASSWORD}),
    )
    .await;
    assert_error(&r, 423, "ACCOUNT_LOCKED");
}
http_case!(concurrent_second_factor_codes_are_bounded);

/// One challenge checks at most five codes even where the account's lockout would allow more
/// (here: 50): the sixth, the right one included, finds the challenge spent.
pub async fn one_challenge_checks_at_most_five_codes(cx: &HttpCtx) {
    let limits = crate::ratelimit::RateLimitConfig {
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        ..Default::default()
    };
    let cx = cx
        .with_config(
            crate::testing::test_config_builder()
                .rate_limits(limits)
                .lockout(crate::config::LockoutPolicy {
                    max_failures: 50,
                    duration: Duration::minutes(15),
                })
                .build()
                .unwrap(),
        )
        .await;
    let email = cx.register_verified("spent").await;
    let (access, _) = cx.login("spent", PASSWORD).await;
    let (secret, _backup) = enrol_two_factor(&cx, &access).await;
    let challenge = login_challenge(&cx, "spent", PASSWORD).await;
    let attempts = (0..12).map(|i| {
        let cx = &cx;
        let challenge = challenge.clone();
        async move {
            post_from(
                cx,
                &format!("198.51.100.{}", 20 + i),
                "/api/v1/auth/login/2fa",
                json!({"challengeToken": challenge, "code": format!("{:06}", 200_000 + i)}),
            )
            .await
        }
    });
    let seen = codes(&futures_util::future::join_all(attempts).await);
    assert_eq!(
        seen.iter()
            .filter(|(s, c)| *s == 400 && c == "INVALID_2FA_CODE")
            .count(),
        5,
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|(s, c)| *s == 401 && c == "INVALID_2FA_CHALLENGE")
            .count(),
        7,
        "{seen:?}"
    );
    cx.app.clock.advance(Duration::seconds(30));
    let right = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    let r = post_from(
        &cx,
        "198.51.100.90",
        "/api/v1/auth/login/2fa",
        json!({"challengeToken": challenge, "code": right}),
    )
    .await;
    assert_error(&r, 401, "INVALID_2FA_CHALLENGE");
    let reasons = failure_reasons(&cx, &email).await;
    assert_eq!(count(&reasons, "invalid_2fa_code"), 5, "{reasons:?}");
    // The account is not locked: a new challenge and the right code sign in.
    let challenge = login_challenge(&cx, "spent", PASSWORD).await;
    let r = post_from(
        &cx,
        "198.51.100.91",
        "/api/v1/auth/login/2fa",
        json!({"challengeToken": challenge, "code": right}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
http_case!(one_challenge_checks_at_most_five_codes);

/// Reactivate and recover take an email and a password without a session: a concurrent burst
/// of wrong passwords there checks at most five too, and a locked account answers 423.
pub async fn reactivate_and_recover_guesses_are_bounded(cx: &HttpCtx) {
    let cx = behind_proxy(cx).await;
    let email = cx.register_verified("dormant").await;
    let (access, _) = cx.login("dormant", PASSWORD).await;
    let r = cx
        .post(
            "/api/v1/account/deactivate",
            Some(&access),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let attempts = (0..24).map(|i| {
        let ip = format!("192.0.2.{}", i % 3 + 1);
        let uri = if i % 2 == 0 {
            "/api/v1/account/reactivate"
        } else {
            "/api/v1/account/recover"
        };
        let cx = &cx;
        let email = email.clone();
        async move { post_from(cx, &ip, uri, json!({"email": email, "password": WRONG})).await }
    });
    let seen = codes(&futures_util::future::join_all(attempts).await);
    let reasons = failure_reasons(&cx, &email).await;
    assert!(
        count(&reasons, "invalid_password") <= 5,
        "{reasons:?} {seen:?}"
    );
    assert_eq!(reasons.len(), 24, "every attempt is audited: {reasons:?}");
    let r = post_from(
        &cx,
        "192.0.2.9",
        "/api/v1/account/reactivate",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_error(&r, 423, "ACCOUNT_LOCKED");
    cx.app.clock.advance(Duration::minutes(15));
    let r = post_from(
        &cx,
        "192.0.2.9",
        "/api/v1/account/reactivate",
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
http_case!(reactivate_and_recover_guesses_are_bounded);

/// Wrong passwords and codes a signed-in owner gives (change-password, deactivate, delete,
/// permanent delete, two-factor disable, step-up) count toward the same lockout: the fifth
/// locks, then every check answers 423 without a hash, the right password included.
pub async fn signed_in_checks_count_toward_the_lockout(cx: &HttpCtx) {
    let email = cx.register_verified("stepup").await;
    let (access, _) = cx.login("stepup", PASSWORD).await;
    let (_secret, backup) = enrol_two_factor(cx, &access).await;
    let change = json!({
        "currentPassword": WRONG,
        "newPassword": NEW_PASSWORD,
        "confirmPassword": NEW_PASSWORD,
    });
    let r = change_password(cx, &access, change.clone()).await;
    assert_error(&r, 400, "INCORRECT_PASSWORD");
    let r = cx
        .post(
            "/api/v1/2fa/disable",
            Some(&access),
            json!({"password": WRONG}),
        )
        .await;
    assert_error(&r, 400, "INCORRECT_PASSWORD");
    let r = cx
        .post(
            "/api/v1/2fa/verify",
            Some(&access),
            json!({"code": "123456"}),
        )
        .await;
    assert_error(&r, 400, "INVALID_2FA_CODE");
    let r = cx
        .post(
            "/api/v1/account/deactivate",
            Some(&access),
            json!({"password": WRONG}),
        )
        .await;
    assert_error(&r, 400, "INCORRECT_PASSWORD");
    let r = change_password(cx, &access, change.clone()).await;
    assert_error(&r, 423, "ACCOUNT_LOCKED");
    // Locked: the right password is not checked either, anywhere.
    let right_change = json!({
        "currentPassword": PASSWORD,
        "newPassword": NEW_PASSWORD,
        "confirmPassword": NEW_PASSWORD,
    });
    let r = change_password(cx, &access, right_change.clone()).await;
    assert_error(&r, 423, "ACCOUNT_LOCKED");
    let r = cx
        .post(
            "/api/v1/2fa/disable",
            Some(&access),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_error(&r, 423, "ACCOUNT_LOCKED");
    let reasons = failure_reasons(cx, &email).await;
    assert_eq!(reasons.len(), 7, "{reasons:?}");
    assert_eq!(count(&reasons, "account_locked"), 2, "{reasons:?}");
    assert!(
        cx.audit_actions(&email)
            .await
            .contains(&"ACCOUNT_LOCKED".to_owned())
    );
    cx.app.clock.advance(Duration::minutes(15));
    // The access token lived 15 minutes too: sign in again (password, then a backup code).
    let challenge = login_challenge(cx, "stepup", PASSWORD).await;
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": backup[0]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let access = r.data()["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = change_password(cx, &access, right_change).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
http_case!(signed_in_checks_count_toward_the_lockout);

/// Concurrent wrong current passwords from one stolen session: at most five are checked.
pub async fn concurrent_change_password_guesses_are_bounded(cx: &HttpCtx) {
    let email = cx.register_verified("chg").await;
    let (access, _) = cx.login("chg", PASSWORD).await;
    let attempts = (0..15).map(|i| {
        let body = json!({
            "currentPassword": format!("Wr0ng!Guess{i}"),
            "newPassword": NEW_PASSWORD,
            "confirmPassword": NEW_PASSWORD,
        });
        let cx = &cx;
        let access = access.clone();
        async move { change_password(cx, &access, body).await }
    });
    let seen = codes(&futures_util::future::join_all(attempts).await);
    let reasons = failure_reasons(cx, &email).await;
    assert!(
        count(&reasons, "invalid_password_confirmation") <= 5,
        "{reasons:?} {seen:?}"
    );
    assert_eq!(reasons.len(), 15, "{reasons:?}");
}
http_case!(concurrent_change_password_guesses_are_bounded);

/// A reset link mailed before a password change, a deactivation, a suspension or a deletion
/// no longer works after it; a newer link replaces an older one.
pub async fn changes_end_outstanding_reset_links(cx: &HttpCtx) {
    let cx = &behind_proxy(cx).await;
    async fn reset_link(cx: &HttpCtx, email: &str) -> String {
        // From an address of its own each time: the mail routes allow 5 per 15 minutes.
        let ip = format!(
            "192.0.2.{}",
            email.bytes().map(usize::from).sum::<usize>() % 250
        );
        let r = post_from(
            cx,
            &ip,
            "/api/v1/auth/forgot-password",
            json!({"email": email}),
        )
        .await;
        assert_eq!(r.status, 200);
        cx.app.token_mailed_to(email).await.expect("reset mail")
    }
    async fn reset_with(cx: &HttpCtx, token: &str, password: &str) -> TestResponse {
        cx.post(
            "/api/v1/auth/reset-password",
            None,
            json!({"token": token, "password": password, "confirmPassword": password}),
        )
        .await
    }

    // A password change.
    let email = cx.register_verified("links").await;
    let (access, _) = cx.login("links", PASSWORD).await;
    let before = reset_link(cx, &email).await;
    let r = change_password(
        cx,
        &access,
        json!({
            "currentPassword": PASSWORD,
            "newPassword": NEW_PASSWORD,
            "confirmPassword": NEW_PASSWORD,
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_error(
        &reset_with(cx, &before, "Th1rd!Passw0rd").await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );
    cx.login("links", NEW_PASSWORD).await;

    // A deactivation by the owner.
    let email = cx.register_verified("links2").await;
    let (access, _) = cx.login("links2", PASSWORD).await;
    let before = reset_link(cx, &email).await;
    let r = cx
        .post(
            "/api/v1/account/deactivate",
            Some(&access),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_error(
        &reset_with(cx, &before, NEW_PASSWORD).await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );

    // A deletion by the owner.
    let email = cx.register_verified("links3").await;
    let (access, _) = cx.login("links3", PASSWORD).await;
    let before = reset_link(cx, &email).await;
    let r = cx
        .request(
            "DELETE",
            "/api/v1/account",
            Some(&access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_error(
        &reset_with(cx, &before, NEW_PASSWORD).await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );

    // A suspension, and a deletion, by an administrator.
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    for (name, action) in [("links4", "suspend"), ("links5", "delete")] {
        let email = cx.register_verified(name).await;
        let before = reset_link(cx, &email).await;
        let id = cx
            .app
            .manager
            .store()
            .user_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .id;
        let r = if action == "suspend" {
            cx.post(
                &format!("/api/v1/admin/users/{id}/suspend"),
                Some(&admin),
                json!({"reason": "policy"}),
            )
            .await
        } else {
            cx.request(
                "DELETE",
                &format!("/api/v1/admin/users/{id}"),
                Some(&admin),
                None,
            )
            .await
        };
        assert_eq!(
            r.status,
            200,
            "{action}: {}",
            String::from_utf8_lossy(&r.body)
        );
        assert_error(
            &reset_with(cx, &before, NEW_PASSWORD).await,
            400,
            "INVALID_OR_EXPIRED_TOKEN",
        );
    }

    // An administrator's forced reset replaces the owner's older link.
    let email = cx.register_verified("links6").await;
    let before = reset_link(cx, &email).await;
    let id = cx
        .app
        .manager
        .store()
        .user_by_email(&email)
        .await
        .unwrap()
        .unwrap()
        .id;
    let r = cx
        .post(
            &format!("/api/v1/admin/users/{id}/reset-password"),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_error(
        &reset_with(cx, &before, NEW_PASSWORD).await,
        400,
        "INVALID_OR_EXPIRED_TOKEN",
    );
    let admins_link = cx.app.token_mailed_to(&email).await.unwrap();
    assert_ne!(admins_link, before);
    assert_eq!(reset_with(cx, &admins_link, NEW_PASSWORD).await.status, 200);
}
http_case!(changes_end_outstanding_reset_links);

/// Reactivating or recovering an account with two-factor answers the same challenge as a
/// login; only the code completes it (at `/account/reactivate/2fa`, `/account/recover/2fa`),
/// and a login's challenge does not.
pub async fn two_factor_accounts_need_their_code_to_come_back(cx: &HttpCtx) {
    let email = cx.register_verified("back").await;
    let (access, _) = cx.login("back", PASSWORD).await;
    let (secret, backup) = enrol_two_factor(cx, &access).await;
    let r = cx
        .post(
            "/api/v1/account/deactivate",
            Some(&access),
            json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);

    let r = cx
        .post(
            "/api/v1/account/reactivate",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    assert_eq!(data["twoFactorRequired"], json!(true), "{data}");
    assert!(data.get("user").is_none(), "{data}");
    let challenge = data["challengeToken"].as_str().unwrap().to_owned();
    let store = cx.app.manager.store();
    assert!(
        !store
            .user_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .is_active,
        "the password alone changes nothing"
    );
    // The challenge is for reactivation only.
    assert_error(
        &cx.post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": challenge, "code": backup[0]}),
        )
        .await,
        401,
        "INVALID_2FA_CHALLENGE",
    );
    assert_error(
        &cx.post(
            "/api/v1/account/reactivate/2fa",
            None,
            json!({"challengeToken": challenge, "code": "000000"}),
        )
        .await,
        400,
        "INVALID_2FA_CODE",
    );
    assert_error(
        &cx.post(
            "/api/v1/account/reactivate/2fa",
            None,
            json!({"challengeToken": "", "code": ""}),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    cx.app.clock.advance(Duration::seconds(30));
    let code = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    let r = cx
        .post(
            "/api/v1/account/reactivate/2fa",
            None,
            json!({"challengeToken": challenge, "code": code}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["user"]["email"], json!(email));
    assert!(
        store
            .user_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .is_active
    );

    // Deleted, then recovered with a backup code.
    let (access, _) = {
        let challenge = login_challenge(cx, "back", PASSWORD).await;
        let r = cx
            .post(
                "/api/v1/auth/login/2fa",
                None,
                json!({"challengeToken": challenge, "code": backup[1]}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let tokens = &r.data()["tokens"];
        (
            tokens["accessToken"].as_str().unwrap().to_owned(),
            tokens["refreshToken"].as_str().unwrap().to_owned(),
        )
    };
    let r = cx
        .request(
            "DELETE",
            "/api/v1/account",
            Some(&access),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let r = cx
        .post(
            "/api/v1/account/recover",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200);
    let challenge = r.data()["challengeToken"].as_str().unwrap().to_owned();
    assert!(
        store
            .user_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_some()
    );
    assert_error(
        &cx.post(
            "/api/v1/account/reactivate/2fa",
            None,
            json!({"challengeToken": challenge, "code": backup[2]}),
        )
        .await,
        401,
        "INVALID_2FA_CHALLENGE",
    );
    let r = cx
        .post(
            "/api/v1/account/recover/2fa",
            None,
            json!({"challengeToken": challenge, "code": backup[2]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert!(
        store
            .user_by_email(&email)
            .await
            .unwrap()
            .unwrap()
            .deleted_at
            .is_none()
    );
    // Used: the challenge completes once.
    assert_error(
        &cx.post(
            "/api/v1/account/recover/2fa",
            None,
            json!({"challengeToken": challenge, "code": backup[3]}),
        )
        .await,
        401,
        "INVALID_2FA_CHALLENGE",
    );
    let actions = cx.audit_actions(&email).await;
    assert!(actions.contains(&"ACCOUNT_REACTIVATED".to_owned()));
    assert!(actions.contains(&"ACCOUNT_RECOVERED".to_owned()));
}
http_case!(two_factor_accounts_need_their_code_to_come_back);
