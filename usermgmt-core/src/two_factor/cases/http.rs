//! HTTP conformance cases for two-factor login with TOTP and backup codes, and TOTP secrets across
//! a key rotation. Each case registers itself with `http_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::json;
use time::Duration;

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
http_case!(two_factor_login_with_totp);

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
http_case!(two_factor_backup_codes_and_lockout);

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
            crate::testing::test_config_builder()
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
            crate::testing::test_config_builder()
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
            crate::testing::test_config_builder()
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
http_case!(totp_secrets_follow_a_key_rotation);
