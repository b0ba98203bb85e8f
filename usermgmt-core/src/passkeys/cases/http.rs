//! HTTP conformance cases for passkeys: registration, usernameless sign-in, managing them, and
//! every answer that must be refused. The authenticator is `testing::authenticator`'s software
//! one, producing real attestation and assertion answers. Each case registers itself with
//! `http_case!` right below its function (see [`crate::testing::runner`]).

use crate::testing::authenticator::{SoftAuthenticator, tamper_client_data};
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

/// The origin of the test configuration's relying party.
const ORIGIN: &str = "http://localhost:3000";

/// Registration options for the holder of `access`: (ceremony id, publicKey).
async fn registration_options(cx: &HttpCtx, access: &str) -> (Value, Value) {
    let data = ok(
        &cx.post("/api/v1/passkeys/register/options", Some(access), json!({}))
            .await,
        "registration options",
    );
    (data["ceremonyId"].clone(), data["publicKey"].clone())
}

async fn verify_registration(
    cx: &HttpCtx,
    access: &str,
    ceremony: &Value,
    credential: Value,
) -> TestResponse {
    cx.post(
        "/api/v1/passkeys/register/verify",
        Some(access),
        json!({"ceremonyId": ceremony, "credential": credential, "name": "Laptop"}),
    )
    .await
}

/// Registers a passkey for the holder of `access`: its authenticator and its DTO.
async fn register_passkey(cx: &HttpCtx, access: &str) -> (SoftAuthenticator, Value) {
    let (ceremony, public_key) = registration_options(cx, access).await;
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let credential = authenticator.create(&public_key);
    let r = verify_registration(cx, access, &ceremony, credential).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    (authenticator, r.data()["passkey"].clone())
}

/// Usernameless sign-in options: (ceremony id, publicKey).
async fn sign_in_options(cx: &HttpCtx) -> (Value, Value) {
    let data = ok(
        &cx.post("/api/v1/auth/passkey/options", None, json!({}))
            .await,
        "sign-in options",
    );
    (data["ceremonyId"].clone(), data["publicKey"].clone())
}

async fn sign_in(cx: &HttpCtx, ceremony: &Value, credential: &Value) -> TestResponse {
    cx.post(
        "/api/v1/auth/passkey/verify",
        None,
        json!({"ceremonyId": ceremony, "credential": credential}),
    )
    .await
}

async fn passkeys(cx: &HttpCtx, access: &str) -> Vec<Value> {
    ok(&cx.get("/api/v1/passkeys", Some(access)).await, "list")["passkeys"]
        .as_array()
        .unwrap()
        .clone()
}

/// Register → list → usernameless sign-in (a normal session, the password login's body) →
/// rename → delete; the options ask for a resident key and user verification and exclude the
/// passkeys the user has; every step is audited, and the owner hears of the changes.
pub async fn passkey_register_sign_in_rename_delete(cx: &HttpCtx) {
    let email = cx.register_verified("pia").await;
    let pia = user_id(cx, &email).await;
    let (access, _) = cx.login("pia", PASSWORD).await;
    assert_eq!(passkeys(cx, &access).await, Vec::<Value>::new());

    let (ceremony, public_key) = registration_options(cx, &access).await;
    assert!(Uuid::parse_str(ceremony.as_str().unwrap()).is_ok());
    assert_eq!(public_key["rp"]["id"], json!("localhost"));
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        json!("required")
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        json!("required")
    );
    assert_eq!(public_key["attestation"], json!("none"));
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let credential = authenticator.create(&public_key);
    let r = verify_registration(cx, &access, &ceremony, credential).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let passkey = r.data()["passkey"].clone();
    assert_eq!(passkey["name"], json!("Laptop"));
    assert_eq!(passkey["backedUp"], json!(true));
    assert_eq!(passkey["transports"], json!(["internal", "hybrid"]));
    assert_eq!(passkey["lastUsedAt"], Value::Null);
    assert!(
        !String::from_utf8_lossy(&r.body).contains("publicKey"),
        "no key material"
    );
    assert_eq!(passkeys(cx, &access).await, vec![passkey.clone()]);

    // The next registration excludes it.
    let (_, again) = registration_options(cx, &access).await;
    let excluded = again["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 1);
    assert_eq!(
        excluded[0]["id"],
        authenticator_id(&authenticator),
        "the registered credential is excluded"
    );

    // Usernameless sign-in: the options name no user and allow no credential in particular.
    let (ceremony, public_key) = sign_in_options(cx).await;
    assert_eq!(public_key["userVerification"], json!("required"));
    assert!(
        public_key["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
    let assertion = authenticator.get(&public_key);
    let r = sign_in(cx, &ceremony, &assertion).await;
    let data = ok(&r, "passkey sign-in");
    assert_eq!(data["user"]["id"], json!(pia.to_string()));
    assert_eq!(data["tokens"]["tokenType"], json!("Bearer"));
    let token = data["tokens"]["accessToken"].as_str().unwrap();
    let me = ok(
        &cx.get("/api/v1/users/profile", Some(token)).await,
        "profile",
    );
    assert_eq!(me["user"]["email"], json!(email));
    let refreshed = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": data["tokens"]["refreshToken"]}),
        )
        .await;
    ok(&refreshed, "refresh of a passkey session");
    let listed = passkeys(cx, &access).await;
    assert!(listed[0]["lastUsedAt"].is_string());

    // The GDPR export lists it by name and dates, the administrator's user detail too; neither
    // shows key material.
    let export = ok(
        &cx.get("/api/v1/account/export", Some(&access)).await,
        "export",
    );
    assert_eq!(export["passkeys"].as_array().unwrap().len(), 1);
    assert_eq!(export["passkeys"][0]["name"], json!("Laptop"));
    assert!(export["passkeys"][0]["lastUsedAt"].is_string());
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let detail = ok(
        &cx.get(&format!("/api/v1/admin/users/{pia}"), Some(&admin))
            .await,
        "user detail",
    );
    assert_eq!(detail["passkeys"][0]["id"], passkey["id"]);
    for shown in [export.to_string(), detail.to_string()] {
        assert!(
            !shown.contains("credential") && !shown.contains("cred_id"),
            "{shown}"
        );
    }

    // Rename, then delete.
    let path = format!("/api/v1/passkeys/{}", passkey["id"].as_str().unwrap());
    let renamed = ok(
        &cx.request(
            "PATCH",
            &path,
            Some(&access),
            Some(json!({"name": "  Phone  "})),
        )
        .await,
        "rename",
    );
    assert_eq!(renamed["passkey"]["name"], json!("Phone"));
    assert_eq!(passkeys(cx, &access).await[0]["name"], json!("Phone"));
    assert_error(
        &cx.request("PATCH", &path, Some(&access), Some(json!({"name": " "})))
            .await,
        422,
        "VALIDATION_ERROR",
    );
    ok(
        &cx.request("DELETE", &path, Some(&access), None).await,
        "delete",
    );
    assert_eq!(passkeys(cx, &access).await, Vec::<Value>::new());
    assert_error(
        &cx.request("DELETE", &path, Some(&access), None).await,
        404,
        "NOT_FOUND",
    );
    // A deleted passkey signs no one in.
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = authenticator.get(&public_key);
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );

    let actions = cx.audit_actions(&email).await;
    for action in ["PASSKEY_REGISTERED", "PASSKEY_LOGIN", "PASSKEY_REMOVED"] {
        assert_eq!(
            actions.iter().filter(|a| *a == action).count(),
            1,
            "{action} in {actions:?}"
        );
    }
    let notifications = ok(
        &cx.get("/api/v1/notifications", Some(&access)).await,
        "notifications",
    );
    let titles: Vec<_> = notifications["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect();
    assert!(titles.contains(&"Passkey added".to_owned()), "{titles:?}");
    assert!(titles.contains(&"Passkey removed".to_owned()), "{titles:?}");
    cx.app.deliver_mail().await;
    let subjects: Vec<String> = cx
        .app
        .mailer
        .sent()
        .into_iter()
        .filter(|m| m.to == email)
        .map(|m| m.subject)
        .collect();
    for change in ["passkey added", "passkey removed"] {
        assert!(
            subjects.iter().any(|s| s.contains(change)),
            "{change} in {subjects:?}"
        );
    }
}
http_case!(passkey_register_sign_in_rename_delete);

/// An account whose address is not verified yet may sign in (the default
/// `require_verified_email: false`) and so may add a passkey: the authenticator is shown the
/// username (or the person's name) as the account's display name, never an empty one.
pub async fn passkey_for_an_account_not_yet_verified(cx: &HttpCtx) {
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "uma@example.com", "username": "uma", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let (access, _) = cx.login("uma", PASSWORD).await;
    let (ceremony, public_key) = registration_options(cx, &access).await;
    assert_eq!(public_key["user"]["name"], json!("uma"));
    assert_eq!(public_key["user"]["displayName"], json!("uma"));
    let mut authenticator = SoftAuthenticator::new(ORIGIN);
    let credential = authenticator.create(&public_key);
    let r = verify_registration(cx, &access, &ceremony, credential).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));

    // With names given, the authenticator shows them.
    let r = cx
        .request(
            "PATCH",
            "/api/v1/users/profile",
            Some(&access),
            Some(json!({"firstName": "Uma", "lastName": "Ito"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let (_, public_key) = registration_options(cx, &access).await;
    assert_eq!(public_key["user"]["displayName"], json!("Uma Ito"));
}
http_case!(passkey_for_an_account_not_yet_verified);

fn authenticator_id(authenticator: &SoftAuthenticator) -> Value {
    use base64::Engine as _;
    json!(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&authenticator.credential_id))
}

/// Registration answers from the wrong origin, for the wrong RP id or with tampered client
/// data are refused with `INVALID_PASSKEY` and store nothing; the refused ceremony is used up.
pub async fn passkey_registration_refuses_answers_that_do_not_verify(cx: &HttpCtx) {
    cx.register_verified("rex").await;
    let (access, _) = cx.login("rex", PASSWORD).await;

    let (ceremony, public_key) = registration_options(cx, &access).await;
    let mut elsewhere = SoftAuthenticator::new("http://evil.example:3000");
    let credential = elsewhere.create(&public_key);
    let r = verify_registration(cx, &access, &ceremony, credential).await;
    assert_error(&r, 401, "INVALID_PASSKEY");
    // The ceremony is gone: even a right answer to it is refused now.
    let mut right = SoftAuthenticator::new(ORIGIN);
    let credential = right.create(&public_key);
    assert_error(
        &verify_registration(cx, &access, &ceremony, credential).await,
        401,
        "INVALID_PASSKEY",
    );

    let (ceremony, public_key) = registration_options(cx, &access).await;
    let mut other_rp = SoftAuthenticator::new(ORIGIN);
    other_rp.rp_id = Some("evil.example".to_owned());
    let credential = other_rp.create(&public_key);
    assert_error(
        &verify_registration(cx, &access, &ceremony, credential).await,
        401,
        "INVALID_PASSKEY",
    );

    let (ceremony, public_key) = registration_options(cx, &access).await;
    let mut credential = SoftAuthenticator::new(ORIGIN).create(&public_key);
    tamper_client_data(&mut credential, |data| {
        data["challenge"] = json!("c29tZXRoaW5nIGVsc2U");
    });
    assert_error(
        &verify_registration(cx, &access, &ceremony, credential).await,
        401,
        "INVALID_PASSKEY",
    );

    // A ceremony that never existed, and answers that are not WebAuthn answers at all.
    let credential = SoftAuthenticator::new(ORIGIN).create(&public_key);
    assert_error(
        &verify_registration(cx, &access, &json!(Uuid::new_v4()), credential).await,
        401,
        "INVALID_PASSKEY",
    );
    let (ceremony, _) = registration_options(cx, &access).await;
    let r = verify_registration(cx, &access, &ceremony, json!({"id": "x"})).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), ["credential"]);
    let r = cx
        .post("/api/v1/passkeys/register/verify", Some(&access), json!({}))
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .post(
            "/api/v1/passkeys/register/verify",
            Some(&access),
            json!({"ceremonyId": ceremony, "credential": {}, "name": "x".repeat(65)}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_error(
        &cx.post("/api/v1/passkeys/register/options", None, json!({}))
            .await,
        401,
        "UNAUTHENTICATED",
    );

    assert_eq!(passkeys(cx, &access).await, Vec::<Value>::new());
    assert!(
        !cx.audit_actions("rex@example.com")
            .await
            .contains(&"PASSKEY_REGISTERED".to_owned())
    );
}
http_case!(passkey_registration_refuses_answers_that_do_not_verify);

/// Sign-in answers that must fail: a replayed assertion (same ceremony, or a new one), an
/// expired ceremony, and a signature counter that went back (a cloned authenticator: refused
/// and audited). None opens a session; the real authenticator still signs in afterwards.
pub async fn passkey_sign_in_refuses_replays_expiry_and_clones(cx: &HttpCtx) {
    let email = cx.register_verified("sia").await;
    let (access, _) = cx.login("sia", PASSWORD).await;
    let (mut authenticator, _) = register_passkey(cx, &access).await;

    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = authenticator.get(&public_key);
    ok(&sign_in(cx, &ceremony, &assertion).await, "first sign-in");
    let sessions_before = session_count(cx, &access).await;
    // The same answer again: the ceremony is used up.
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );
    // The same answer to a new ceremony: its challenge is not this one's.
    let (fresh, _) = sign_in_options(cx).await;
    assert_error(
        &sign_in(cx, &fresh, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );

    // Five minutes later the ceremony is gone.
    let (ceremony, public_key) = sign_in_options(cx).await;
    cx.app
        .clock
        .advance(Duration::minutes(5) + Duration::seconds(1));
    let assertion = authenticator.get(&public_key);
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );

    // A clone: its counter is behind the one stored.
    let stored = authenticator.counter;
    authenticator.counter = 0;
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = authenticator.get(&public_key);
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );
    let actions = cx.audit_actions(&email).await;
    let count = |action: &str| actions.iter().filter(|a| *a == action).count();
    assert_eq!(count("PASSKEY_COUNTER_REGRESSION"), 1, "{actions:?}");
    assert_eq!(
        count("PASSKEY_LOGIN"),
        1,
        "only the first sign-in: {actions:?}"
    );
    assert_eq!(session_count(cx, &access).await, sessions_before);

    // The real authenticator, ahead of the stored counter, still signs in.
    authenticator.counter = stored + 5;
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = authenticator.get(&public_key);
    ok(
        &sign_in(cx, &ceremony, &assertion).await,
        "sign-in after the refusals",
    );
}
http_case!(passkey_sign_in_refuses_replays_expiry_and_clones);

async fn session_count(cx: &HttpCtx, access: &str) -> usize {
    ok(&cx.get("/api/v1/sessions", Some(access)).await, "sessions")
        .as_array()
        .unwrap()
        .len()
}

/// Assertions with tampered client data, from the wrong origin or for the wrong RP id are
/// refused; each counts against the account's lockout like a wrong password, and a locked
/// account is not signed in even by its right passkey.
pub async fn passkey_sign_in_refuses_tampering_under_the_lockout(cx: &HttpCtx) {
    let email = cx.register_verified("tim").await;
    let (access, _) = cx.login("tim", PASSWORD).await;
    let (mut authenticator, _) = register_passkey(cx, &access).await;
    let sessions_before = session_count(cx, &access).await;

    let (ceremony, public_key) = sign_in_options(cx).await;
    let mut assertion = authenticator.get(&public_key);
    tamper_client_data(&mut assertion, |data| data["crossOrigin"] = json!(true));
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );

    authenticator.origin = "https://evil.example".to_owned();
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = authenticator.get(&public_key);
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );
    authenticator.origin = ORIGIN.to_owned();

    authenticator.rp_id = Some("evil.example".to_owned());
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = authenticator.get(&public_key);
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );
    authenticator.rp_id = None;
    assert_eq!(session_count(cx, &access).await, sessions_before);

    // Two more wrong answers (the default lock is at five) lock the account.
    for _ in 0..2 {
        let (ceremony, public_key) = sign_in_options(cx).await;
        let mut assertion = authenticator.get(&public_key);
        tamper_client_data(&mut assertion, |data| data["extra"] = json!("x"));
        let r = sign_in(cx, &ceremony, &assertion).await;
        assert!(r.status == 401 || r.status == 423, "{}", r.status);
    }
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = authenticator.get(&public_key);
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        423,
        "ACCOUNT_LOCKED",
    );
    assert!(
        !cx.audit_actions(&email)
            .await
            .contains(&"PASSKEY_LOGIN".to_owned())
    );
}
http_case!(passkey_sign_in_refuses_tampering_under_the_lockout);

/// Another user's credential or ceremony does not work for anyone else, other users' passkeys
/// cannot be renamed or removed, and an impersonation token may list but not register or
/// remove passkeys.
pub async fn passkeys_of_other_users_and_impersonation_are_refused(cx: &HttpCtx) {
    let ann_email = cx.register_verified("ann").await;
    let ann = user_id(cx, &ann_email).await;
    let (ann_access, _) = cx.login("ann", PASSWORD).await;
    cx.register_verified("bob").await;
    let bob = user_id(cx, "bob@example.com").await;
    let (bob_access, _) = cx.login("bob", PASSWORD).await;
    let (mut anns_key, anns_passkey) = register_passkey(cx, &ann_access).await;

    // Ann's credential presented as Bob's (his user handle): refused.
    anns_key.user_handle = bob.as_bytes().to_vec();
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = anns_key.get(&public_key);
    assert_error(
        &sign_in(cx, &ceremony, &assertion).await,
        401,
        "INVALID_PASSKEY",
    );
    anns_key.user_handle = ann.as_bytes().to_vec();

    // Bob answering Ann's registration ceremony: refused, nothing stored for either.
    let (ceremony, public_key) = registration_options(cx, &ann_access).await;
    let credential = SoftAuthenticator::new(ORIGIN).create(&public_key);
    assert_error(
        &verify_registration(cx, &bob_access, &ceremony, credential).await,
        401,
        "INVALID_PASSKEY",
    );
    assert_eq!(passkeys(cx, &bob_access).await, Vec::<Value>::new());
    assert_eq!(passkeys(cx, &ann_access).await.len(), 1);

    let path = format!("/api/v1/passkeys/{}", anns_passkey["id"].as_str().unwrap());
    assert_error(
        &cx.request(
            "PATCH",
            &path,
            Some(&bob_access),
            Some(json!({"name": "mine"})),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.request("DELETE", &path, Some(&bob_access), None).await,
        404,
        "NOT_FOUND",
    );

    // An administrator acting as Ann.
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let data = ok(
        &cx.post(
            &format!("/api/v1/admin/users/{ann}/impersonate"),
            Some(&admin),
            json!({}),
        )
        .await,
        "impersonate",
    );
    let acting = data["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(passkeys(cx, &acting).await.len(), 1);
    assert_error(
        &cx.post(
            "/api/v1/passkeys/register/options",
            Some(&acting),
            json!({}),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &verify_registration(cx, &acting, &json!(Uuid::new_v4()), json!({})).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &cx.request("DELETE", &path, Some(&acting), None).await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(passkeys(cx, &ann_access).await.len(), 1);

    // Ann's own key still signs her in.
    let (ceremony, public_key) = sign_in_options(cx).await;
    let assertion = anns_key.get(&public_key);
    let data = ok(&sign_in(cx, &ceremony, &assertion).await, "ann signs in");
    assert_eq!(data["user"]["id"], json!(ann.to_string()));
}
http_case!(passkeys_of_other_users_and_impersonation_are_refused);

/// A login challenge of a user with a passkey lists `passkey`; its options allow that user's
/// passkeys only, and `POST /auth/login/2fa` with `{challengeToken, ceremonyId, credential}`
/// completes it like a code (once). Another user's passkey, or a user without one, is refused.
pub async fn passkey_answers_a_login_two_factor_challenge(cx: &HttpCtx) {
    let email = cx.register_verified("tess").await;
    let (access, _) = cx.login("tess", PASSWORD).await;
    let (mut authenticator, _) = register_passkey(cx, &access).await;
    enrol_two_factor(cx, &access).await;
    cx.register_verified("bob").await;
    let (bo_access, _) = cx.login("bob", PASSWORD).await;
    let (mut bos_key, _) = register_passkey(cx, &bo_access).await;

    let login = |who: &'static str| async move {
        ok(
            &cx.post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": who, "password": PASSWORD}),
            )
            .await,
            "login",
        )
    };
    let challenge = login("tess").await;
    assert_eq!(challenge["twoFactorRequired"], json!(true));
    assert_eq!(
        challenge["methods"],
        json!(["totp", "backup_code", "passkey"])
    );
    let token = challenge["challengeToken"].clone();

    let options = |token: Value| async move {
        cx.post(
            "/api/v1/auth/login/2fa/passkey-options",
            None,
            json!({"challengeToken": token}),
        )
        .await
    };
    let data = ok(&options(token.clone()).await, "2fa passkey options");
    let allowed = data["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    assert_eq!(allowed[0]["id"], authenticator_id(&authenticator));

    // Bo's passkey does not answer Tess's challenge.
    let assertion = bos_key.get(&data["publicKey"]);
    let answer = |ceremony: &Value, credential: &Value| json!({"challengeToken": token, "ceremonyId": ceremony, "credential": credential});
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            answer(&data["ceremonyId"], &assertion),
        )
        .await;
    assert_error(&r, 401, "INVALID_PASSKEY");

    let data = ok(&options(token.clone()).await, "2fa passkey options");
    let assertion = authenticator.get(&data["publicKey"]);
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            answer(&data["ceremonyId"], &assertion),
        )
        .await;
    let success = ok(&r, "2fa with a passkey");
    assert_eq!(success["user"]["email"], json!(email));
    assert!(success["tokens"]["accessToken"].is_string());
    // The challenge is used up.
    assert_error(&options(token.clone()).await, 401, "INVALID_2FA_CHALLENGE");
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            answer(&data["ceremonyId"], &assertion),
        )
        .await;
    assert_error(&r, 401, "INVALID_2FA_CHALLENGE");
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": token, "credential": assertion}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_error(&options(json!("nope")).await, 401, "INVALID_2FA_CHALLENGE");

    // A two-factor user without a passkey is offered none (a minute on: the two-factor rows
    // share a rate-limit class, and this case has used its window).
    cx.app.clock.advance(Duration::minutes(1));
    cx.register_verified("cyd").await;
    let (cy_access, _) = cx.login("cyd", PASSWORD).await;
    enrol_two_factor(cx, &cy_access).await;
    let challenge = login("cyd").await;
    assert_eq!(challenge["methods"], json!(["totp", "backup_code"]));
    assert_error(
        &options(challenge["challengeToken"].clone()).await,
        401,
        "INVALID_PASSKEY",
    );
    let actions = cx.audit_actions(&email).await;
    assert_eq!(
        actions.iter().filter(|a| *a == "PASSKEY_LOGIN").count(),
        1,
        "{actions:?}"
    );
}
http_case!(passkey_answers_a_login_two_factor_challenge);

/// An account without a password (one the host app created passwordless) keeps its last
/// passkey: deleting it is 409 `LAST_SIGN_IN_METHOD` while it is the only one, and allowed once
/// another exists. The sign-in options need no body at all.
pub async fn the_last_passkey_of_a_passwordless_account_stays(cx: &HttpCtx) {
    let email = cx.register_verified("pat").await;
    let pat = user_id(cx, &email).await;
    let (access, _) = cx.login("pat", PASSWORD).await;
    let (mut first, first_dto) = register_passkey(cx, &access).await;
    // The host app made the account passwordless (every session ends with the password).
    let store = cx.app.manager.store();
    store
        .change_password(
            pat,
            crate::store::PasswordChange {
                new_hash: String::new(),
                now: cx.app.manager.now(),
                history_limit: 5,
                keep_session: None,
            },
            crate::store::Effects::none(),
        )
        .await
        .unwrap();
    let r = cx
        .request("POST", "/api/v1/auth/passkey/options", None, None)
        .await;
    let data = ok(&r, "options without a body");
    let assertion = first.get(&data["publicKey"]);
    let signed_in = ok(
        &sign_in(cx, &data["ceremonyId"], &assertion).await,
        "passkey sign-in",
    );
    let access = signed_in["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let first_path = format!("/api/v1/passkeys/{}", first_dto["id"].as_str().unwrap());
    assert_error(
        &cx.request("DELETE", &first_path, Some(&access), None).await,
        409,
        "LAST_SIGN_IN_METHOD",
    );
    assert_eq!(passkeys(cx, &access).await.len(), 1);
    register_passkey(cx, &access).await;
    ok(
        &cx.request("DELETE", &first_path, Some(&access), None).await,
        "delete with another left",
    );
    assert_eq!(passkeys(cx, &access).await.len(), 1);
}
http_case!(the_last_passkey_of_a_passwordless_account_stays);
