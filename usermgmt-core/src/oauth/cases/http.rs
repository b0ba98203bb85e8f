//! HTTP conformance cases for social sign-in, against a real OpenID provider (`oidc-provider`,
//! see `provider.rs`): sign-up, sign-in again, linking (automatic and by the user), unlinking,
//! two-factor, and every refusal: wrong state, another browser, replayed codes, a wrong nonce,
//! an expired ID token, one signed by a key the provider does not publish, a foreign
//! `redirectTo`, an unverified address; and the provider rotating its keys. Each case registers
//! itself with `http_case!` right below its function (see [`crate::testing::runner`]).

use super::provider::{
    Browser, CLIENT_ID, CLIENT_SECRET, Tenant, TenantOptions, app_path, query_value, with_param,
};
use crate::oauth::{AutoLink, OAuthConfig, ProviderConfig};
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use crate::testing::test_config_builder;
use serde_json::{Value, json};

const SUCCESS_URL: &str = "http://localhost:3000/signed-in";
const ERROR_URL: &str = "http://localhost:3000/sign-in-failed";

fn callback_url(cx: &HttpCtx) -> String {
    format!(
        "{}/api/v1/auth/oauth/corp/callback",
        cx.app.manager.config().api_base_url()
    )
}

/// A world whose `corp` provider is a fresh tenant of the OpenID provider fixture with these
/// accounts; `None` (the case passes with a printed notice) when the fixture cannot run here.
async fn with_corp(
    cx: &HttpCtx,
    accounts: Value,
    id_token_ttl: Option<u64>,
    foreign_key: bool,
    auto_link: AutoLink,
) -> Option<(HttpCtx, Tenant)> {
    let tenant = Tenant::new(TenantOptions {
        redirect_uris: vec![callback_url(cx)],
        accounts,
        id_token_ttl,
        foreign_key,
    })
    .await?;
    let config = test_config_builder()
        .oauth(OAuthConfig {
            providers: vec![ProviderConfig::oidc(
                "corp",
                &tenant.issuer,
                CLIENT_ID,
                CLIENT_SECRET,
            )],
            success_url: Some(SUCCESS_URL.to_owned()),
            error_url: Some(ERROR_URL.to_owned()),
            auto_link,
            allowed_redirect_origins: vec!["https://app.example.com".to_owned()],
        })
        .build()
        .expect("valid config");
    Some((cx.with_config(config).await, tenant))
}

fn corp_account(email: &str, verified: bool, username: &str) -> Value {
    json!({
        "email": email,
        "email_verified": verified,
        "preferred_username": username,
        "given_name": "Casey",
        "family_name": "Corp",
    })
}

/// Starts a sign-in in `browser`: the provider URL our authorize redirected to.
async fn authorize(cx: &HttpCtx, browser: &Browser, query: &str) -> String {
    let r = browser
        .get_app(
            cx,
            &format!("/api/v1/auth/oauth/corp/authorize{query}"),
            None,
        )
        .await;
    assert_eq!(r.status, 302, "{}", String::from_utf8_lossy(&r.body));
    r.header("location").expect("a Location").to_owned()
}

/// Walks authorize → provider (as `account`) → callback: the callback's redirect.
async fn sign_in(cx: &HttpCtx, browser: &Browser, account: &str) -> TestResponse {
    let to_provider = authorize(cx, browser, "").await;
    let back = browser
        .through_provider(&to_provider, account, &callback_url(cx))
        .await;
    browser.get_app(cx, &app_path(cx, &back), None).await
}

/// The one-time code of a callback that landed on the success URL.
fn landed_code(r: &TestResponse) -> String {
    let location = r.header("location").expect("a Location");
    assert_eq!(r.status, 302);
    assert!(location.starts_with(SUCCESS_URL), "{location}");
    query_value(location, "code").expect("a code")
}

/// The error code of a callback that landed on the error URL.
fn landed_error(r: &TestResponse) -> String {
    let location = r.header("location").expect("a Location");
    assert_eq!(r.status, 302);
    assert!(location.starts_with(ERROR_URL), "{location}");
    assert!(query_value(location, "code").is_none(), "{location}");
    query_value(location, "error").expect("an error code")
}

async fn exchange(cx: &HttpCtx, code: &str) -> TestResponse {
    cx.post("/api/v1/auth/oauth/exchange", None, json!({"code": code}))
        .await
}

/// The session of a full sign-in as `account`: the exchange's data.
async fn signed_in(cx: &HttpCtx, account: &str) -> Value {
    let r = sign_in(cx, &Browser::default(), account).await;
    ok(&exchange(cx, &landed_code(&r)).await, "exchange")
}

/// A first sign-in creates the account (the provider's verified address and names, a username
/// from `preferred_username`, no password) with its identity; the exchange answers the password
/// login's body; the next sign-in finds the same user. The redirect to the provider carries
/// PKCE S256, state and nonce, and the binding cookie is HttpOnly and SameSite=Lax; codes and
/// callbacks are single use; password login stays refused.
pub async fn a_provider_sign_in_creates_the_user_then_signs_them_in(cx: &HttpCtx) {
    let Some((cx, _tenant)) = with_corp(
        cx,
        json!({"sub-ann": corp_account("Ann.Corp@Example.com", true, "Ann.Corp")}),
        None,
        false,
        AutoLink::Verified,
    )
    .await
    else {
        return;
    };
    let cx = &cx;
    let providers = ok(
        &cx.get("/api/v1/auth/oauth/providers", None).await,
        "providers",
    );
    assert_eq!(providers, json!([{"name": "corp", "displayName": "Corp"}]));

    let browser = Browser::default();
    let r = browser
        .get_app(
            cx,
            "/api/v1/auth/oauth/corp/authorize?redirectTo=%2Fdashboard",
            None,
        )
        .await;
    assert_eq!(r.status, 302);
    let cookie = r.header("set-cookie").expect("a binding cookie");
    assert!(cookie.starts_with("usermgmt_oauth="), "{cookie}");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/api/v1/auth/oauth",
        "Max-Age=600",
    ] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let to_provider = r.header("location").unwrap().to_owned();
    assert_eq!(
        query_value(&to_provider, "response_type").as_deref(),
        Some("code")
    );
    assert_eq!(
        query_value(&to_provider, "code_challenge_method").as_deref(),
        Some("S256")
    );
    for param in ["state", "nonce", "code_challenge"] {
        assert!(
            query_value(&to_provider, param).is_some_and(|v| v.len() >= 43),
            "{param} in {to_provider}"
        );
    }
    assert_eq!(
        query_value(&to_provider, "redirect_uri"),
        Some(callback_url(cx))
    );
    let back = browser
        .through_provider(&to_provider, "sub-ann", &callback_url(cx))
        .await;
    let callback_path = app_path(cx, &back);
    let r = browser.get_app(cx, &callback_path, None).await;
    let code = landed_code(&r);
    assert_eq!(
        query_value(r.header("location").unwrap(), "redirectTo").as_deref(),
        Some("/dashboard")
    );
    assert!(
        r.header("set-cookie")
            .is_some_and(|c| c.contains("Max-Age=0")),
        "the binding cookie is cleared"
    );

    let r = exchange(cx, &code).await;
    let data = ok(&r, "exchange");
    let user = &data["user"];
    assert_eq!(user["email"], json!("ann.corp@example.com"));
    assert_eq!(user["username"], json!("anncorp"));
    assert_eq!(user["emailVerified"], json!(true));
    assert_eq!(user["firstName"], json!("Casey"));
    assert_eq!(data["tokens"]["tokenType"], json!("Bearer"));
    let access = data["tokens"]["accessToken"].as_str().unwrap().to_owned();
    let user_id = user["id"].clone();

    // Single use: the code and the callback.
    assert_error(&exchange(cx, &code).await, 401, "INVALID_OAUTH_CODE");
    let replayed = browser.get_app(cx, &callback_path, None).await;
    assert_eq!(landed_error(&replayed), "INVALID_OAUTH_STATE");

    let identities = ok(
        &cx.get("/api/v1/users/identities", Some(&access)).await,
        "list",
    );
    let identities = identities["identities"].as_array().unwrap().clone();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0]["provider"], json!("corp"));
    assert_eq!(identities[0]["subject"], json!("sub-ann"));
    assert_eq!(identities[0]["email"], json!("Ann.Corp@Example.com"));

    // The GDPR export and the administrator's user detail list the identity, never tokens.
    let export = ok(
        &cx.get("/api/v1/account/export", Some(&access)).await,
        "export",
    );
    assert_eq!(export["identities"][0]["subject"], json!("sub-ann"));
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let user_id_text = user_id.as_str().unwrap();
    let detail = ok(
        &cx.get(&format!("/api/v1/admin/users/{user_id_text}"), Some(&admin))
            .await,
        "user detail",
    );
    assert_eq!(detail["identities"][0]["provider"], json!("corp"));
    for shown in [export.to_string(), detail.to_string()] {
        assert!(
            !shown.contains("id_token") && !shown.contains("access_token"),
            "{shown}"
        );
    }

    // No password: a password login is refused.
    let r = cx
        .post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "ann.corp@example.com", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 401, "INVALID_CREDENTIALS");

    // Signing in again finds the same user.
    let again = signed_in(cx, "sub-ann").await;
    assert_eq!(again["user"]["id"], user_id);
    let actions = cx.audit_actions("ann.corp@example.com").await;
    for action in [
        "USER_REGISTERED",
        "IDENTITY_LINKED",
        "OAUTH_LOGIN",
        "USER_LOGIN",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    assert_eq!(actions.iter().filter(|a| *a == "OAUTH_LOGIN").count(), 2);
    assert_eq!(
        actions.iter().filter(|a| *a == "USER_REGISTERED").count(),
        1
    );
}
http_case!(a_provider_sign_in_creates_the_user_then_signs_them_in);

/// A first sign-in with the address of an existing account links to it only when the provider
/// says the address is verified AND the local one is (and automatic linking is on); otherwise
/// it ends in `ACCOUNT_EXISTS`, creating and linking nothing.
pub async fn automatic_linking_needs_both_addresses_verified(cx: &HttpCtx) {
    let accounts = json!({
        "unverified": corp_account("ann@example.com", false, "ann"),
        "verified": corp_account("ann@example.com", true, "ann"),
        "for-bob": corp_account("bob@example.com", true, "bob"),
    });
    let Some((cx, _tenant)) = with_corp(cx, accounts, None, false, AutoLink::Verified).await else {
        return;
    };
    let cx = &cx;
    cx.register_verified("ann").await;
    let r = sign_in(cx, &Browser::default(), "unverified").await;
    assert_eq!(landed_error(&r), "ACCOUNT_EXISTS");
    let (ann_access, _) = cx.login("ann", PASSWORD).await;
    let list = ok(
        &cx.get("/api/v1/users/identities", Some(&ann_access)).await,
        "list",
    );
    assert_eq!(list["identities"], json!([]));

    let data = signed_in(cx, "verified").await;
    assert_eq!(data["user"]["email"], json!("ann@example.com"));
    assert_eq!(data["user"]["username"], json!("ann"));
    let list = ok(
        &cx.get("/api/v1/users/identities", Some(&ann_access)).await,
        "list",
    );
    assert_eq!(list["identities"].as_array().unwrap().len(), 1);
    let linked = audit_rows(cx, "IDENTITY_LINKED").await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].details["automatic"], json!(true));

    // Bob's address is unverified locally: no automatic link.
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "bob@example.com", "username": "bob", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201);
    let r = sign_in(cx, &Browser::default(), "for-bob").await;
    assert_eq!(landed_error(&r), "ACCOUNT_EXISTS");

    // OAUTH_AUTO_LINK=never: never, even with both addresses verified.
    let accounts = json!({"carol": corp_account("carol@example.com", true, "carol")});
    let Some((never, _tenant)) = with_corp(cx, accounts, None, false, AutoLink::Never).await else {
        return;
    };
    never.register_verified("carol").await;
    let r = sign_in(&never, &Browser::default(), "carol").await;
    assert_eq!(landed_error(&r), "ACCOUNT_EXISTS");
}
http_case!(automatic_linking_needs_both_addresses_verified);

/// A signed-in user links a provider account (`POST /auth/oauth/{provider}/link` →
/// `authorizeUrl`), signs in with it, and unlinks it; an account linked to another user is
/// refused (`IDENTITY_ALREADY_LINKED`); a user without a password cannot unlink their last way
/// to sign in (409).
pub async fn a_user_links_and_unlinks_a_provider(cx: &HttpCtx) {
    let accounts = json!({
        "dave-at-corp": corp_account("dave.work@corp.example", true, "dave_work"),
        "erin-at-corp": corp_account("erin@corp.example", true, "erin"),
    });
    let Some((cx, _tenant)) = with_corp(cx, accounts, None, false, AutoLink::Verified).await else {
        return;
    };
    let cx = &cx;
    cx.register_verified("dave").await;
    let (access, _) = cx.login("dave", PASSWORD).await;
    let browser = Browser::default();
    let r = cx
        .post("/api/v1/auth/oauth/corp/link", Some(&access), json!({}))
        .await;
    let data = ok(&r, "link");
    browser.remember(
        r.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str()),
    );
    let url = data["authorizeUrl"].as_str().unwrap();
    let back = browser
        .through_provider(url, "dave-at-corp", &callback_url(cx))
        .await;
    let r = browser.get_app(cx, &app_path(cx, &back), None).await;
    let location = r.header("location").unwrap();
    assert!(location.starts_with(SUCCESS_URL), "{location}");
    assert_eq!(query_value(location, "linked").as_deref(), Some("corp"));
    assert!(query_value(location, "code").is_none());

    let list = ok(
        &cx.get("/api/v1/users/identities", Some(&access)).await,
        "list",
    );
    let identity_id = list["identities"][0]["id"].as_str().unwrap().to_owned();
    let data = signed_in(cx, "dave-at-corp").await;
    assert_eq!(data["user"]["username"], json!("dave"));

    // Erin's provider account signs in Erin (a new user); Dave cannot link it.
    let erin = signed_in(cx, "erin-at-corp").await;
    let erin_access = erin["tokens"]["accessToken"].as_str().unwrap().to_owned();
    let browser = Browser::default();
    let r = cx
        .post("/api/v1/auth/oauth/corp/link", Some(&access), json!({}))
        .await;
    browser.remember(
        r.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str()),
    );
    let back = browser
        .through_provider(
            r.data()["authorizeUrl"].as_str().unwrap(),
            "erin-at-corp",
            &callback_url(cx),
        )
        .await;
    let r = browser.get_app(cx, &app_path(cx, &back), None).await;
    assert_eq!(landed_error(&r), "IDENTITY_ALREADY_LINKED");

    // Erin has no password and one identity: it stays.
    let erin_list = ok(
        &cx.get("/api/v1/users/identities", Some(&erin_access)).await,
        "list",
    );
    let erin_identity = erin_list["identities"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/users/identities/{erin_identity}"),
            Some(&erin_access),
            None,
        )
        .await;
    assert_error(&r, 409, "LAST_SIGN_IN_METHOD");
    // Not someone else's.
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/users/identities/{erin_identity}"),
            Some(&access),
            None,
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");

    // Dave has a password: the identity goes.
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/users/identities/{identity_id}"),
            Some(&access),
            None,
        )
        .await;
    ok(&r, "unlink");
    let list = ok(
        &cx.get("/api/v1/users/identities", Some(&access)).await,
        "list",
    );
    assert_eq!(list["identities"], json!([]));
    let actions = cx.audit_actions("dave@example.com").await;
    for action in ["IDENTITY_LINKED", "OAUTH_LOGIN", "IDENTITY_UNLINKED"] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} in {actions:?}"
        );
    }
    // An API-key-free bearer is required to link.
    let r = cx
        .post("/api/v1/auth/oauth/corp/link", None, json!({}))
        .await;
    assert_error(&r, 401, "UNAUTHENTICATED");
}
http_case!(a_user_links_and_unlinks_a_provider);

/// Refusals that change nothing: a wrong `state`, the right one from another browser, a
/// tampered `nonce`, a `redirectTo` to a foreign origin, an unknown provider, a blank or made-up
/// exchange code.
pub async fn forged_or_foreign_callbacks_are_refused(cx: &HttpCtx) {
    let accounts = json!({"fay": corp_account("fay@corp.example", true, "fay")});
    let Some((cx, _tenant)) = with_corp(cx, accounts, None, false, AutoLink::Verified).await else {
        return;
    };
    let cx = &cx;
    // A wrong state.
    let browser = Browser::default();
    let to_provider = authorize(cx, &browser, "").await;
    let back = browser
        .through_provider(&to_provider, "fay", &callback_url(cx))
        .await;
    let forged = with_param(
        &back,
        "state",
        "not-the-state-we-sent-aaaaaaaaaaaaaaaaaaaaa",
    );
    let r = browser.get_app(cx, &app_path(cx, &forged), None).await;
    assert_eq!(landed_error(&r), "INVALID_OAUTH_STATE");

    // The right state in another browser (no binding cookie).
    let browser = Browser::default();
    let to_provider = authorize(cx, &browser, "").await;
    let back = browser
        .through_provider(&to_provider, "fay", &callback_url(cx))
        .await;
    let other = Browser::default();
    let r = other.get_app(cx, &app_path(cx, &back), None).await;
    assert_eq!(landed_error(&r), "INVALID_OAUTH_STATE");
    // It used the attempt up: the right browser cannot finish it either.
    let r = browser.get_app(cx, &app_path(cx, &back), None).await;
    assert_eq!(landed_error(&r), "INVALID_OAUTH_STATE");

    // A nonce the browser changed on its way to the provider.
    let browser = Browser::default();
    let to_provider = authorize(cx, &browser, "").await;
    let tampered = with_param(
        &to_provider,
        "nonce",
        "a-nonce-usermgmt-never-issued-aaaaaaaaaaaa",
    );
    let back = browser
        .through_provider(&tampered, "fay", &callback_url(cx))
        .await;
    let r = browser.get_app(cx, &app_path(cx, &back), None).await;
    assert_eq!(landed_error(&r), "INVALID_ID_TOKEN");

    // The provider's refusal (the user declined).
    let browser = Browser::default();
    let to_provider = authorize(cx, &browser, "").await;
    let state = query_value(&to_provider, "state").unwrap();
    let declined = format!("/api/v1/auth/oauth/corp/callback?error=access_denied&state={state}");
    let r = browser.get_app(cx, &declined, None).await;
    assert_eq!(landed_error(&r), "OAUTH_PROVIDER_ERROR");

    // redirectTo: a path or an allowed origin only.
    let browser = Browser::default();
    for allowed in [
        "%2Fhome",
        "https%3A%2F%2Fapp.example.com%2Fafter",
        "http%3A%2F%2Flocalhost%3A3000%2Fx",
    ] {
        authorize(cx, &browser, &format!("?redirectTo={allowed}")).await;
    }
    for foreign in [
        "https%3A%2F%2Fevil.example%2Fsteal",
        "%2F%2Fevil.example%2Fsteal",
        "javascript%3Aalert(1)",
        "%2F%5Cevil.example",
    ] {
        let r = browser
            .get_app(
                cx,
                &format!("/api/v1/auth/oauth/corp/authorize?redirectTo={foreign}"),
                None,
            )
            .await;
        assert_error(&r, 422, "VALIDATION_ERROR");
        assert_eq!(error_fields(&r), vec!["redirectTo"]);
    }

    // Unknown provider.
    let r = browser
        .get_app(cx, "/api/v1/auth/oauth/nope/authorize", None)
        .await;
    assert_error(&r, 404, "OAUTH_PROVIDER_NOT_FOUND");
    let r = browser
        .get_app(cx, "/api/v1/auth/oauth/nope/callback?code=x&state=y", None)
        .await;
    assert_eq!(landed_error(&r), "OAUTH_PROVIDER_NOT_FOUND");

    // Exchange: a code is required, a made-up one is refused.
    let r = exchange(cx, "").await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = exchange(cx, "made-up-code").await;
    assert_error(&r, 401, "INVALID_OAUTH_CODE");
    let r = cx
        .post(
            "/api/v1/auth/oauth/exchange",
            None,
            json!({"code": "x", "extra": 1}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");

    // Nothing of the above created a user.
    assert_eq!(
        cx.app
            .manager
            .store()
            .user_by_email("fay@corp.example")
            .await
            .unwrap(),
        None
    );
}
http_case!(forged_or_foreign_callbacks_are_refused);

/// ID tokens the client must not accept: expired (the manager's clock past `exp`), and signed by
/// a key the provider does not publish (checked again after re-reading its keys).
pub async fn expired_or_foreign_signed_id_tokens_are_refused(cx: &HttpCtx) {
    let accounts = json!({"gus": corp_account("gus@corp.example", true, "gus")});
    let Some((short, _tenant)) =
        with_corp(cx, accounts.clone(), Some(60), false, AutoLink::Verified).await
    else {
        return;
    };
    let browser = Browser::default();
    let to_provider = authorize(&short, &browser, "").await;
    let back = browser
        .through_provider(&to_provider, "gus", &callback_url(&short))
        .await;
    // Five minutes on: the attempt (10 min) is alive, the ID token (60 s, with 60 s of leeway)
    // is not.
    short.app.clock.advance(time::Duration::minutes(5));
    let r = browser
        .get_app(&short, &app_path(&short, &back), None)
        .await;
    assert_eq!(landed_error(&r), "INVALID_ID_TOKEN");

    let Some((foreign, _tenant)) = with_corp(cx, accounts, None, true, AutoLink::Verified).await
    else {
        return;
    };
    let r = sign_in(&foreign, &Browser::default(), "gus").await;
    assert_eq!(landed_error(&r), "INVALID_ID_TOKEN");
    for world in [&short, &foreign] {
        assert_eq!(
            world
                .app
                .manager
                .store()
                .user_by_email("gus@corp.example")
                .await
                .unwrap(),
            None
        );
    }
}
http_case!(expired_or_foreign_signed_id_tokens_are_refused);

/// The provider rotates its signing key between two sign-ins (the old one retired, so the new
/// one signs): the second ID token names a key the cached JWKS does not hold, the keys are read
/// again, and it is accepted.
pub async fn a_provider_key_rotation_is_followed(cx: &HttpCtx) {
    let accounts = json!({"hal": corp_account("hal@corp.example", true, "hal")});
    let Some((cx, tenant)) = with_corp(cx, accounts, None, false, AutoLink::Verified).await else {
        return;
    };
    let first = signed_in(&cx, "hal").await;
    tenant.rotate_keys().await;
    let second = signed_in(&cx, "hal").await;
    assert_eq!(first["user"]["id"], second["user"]["id"]);
    tenant.rotate_keys().await;
    tenant
        .set_account("ivy", corp_account("ivy@corp.example", true, "ivy"))
        .await;
    let third = signed_in(&cx, "ivy").await;
    assert_eq!(third["user"]["username"], json!("ivy"));
}
http_case!(a_provider_key_rotation_is_followed);

/// A user with two-factor gets the login's challenge from the exchange, not tokens; the code
/// completes it at `POST /auth/login/2fa`.
pub async fn a_two_factor_user_gets_the_challenge_from_the_exchange(cx: &HttpCtx) {
    let accounts = json!({"jo": corp_account("jo@corp.example", true, "jo")});
    let Some((cx, _tenant)) = with_corp(cx, accounts, None, false, AutoLink::Verified).await else {
        return;
    };
    let cx = &cx;
    let first = signed_in(cx, "jo").await;
    let access = first["tokens"]["accessToken"].as_str().unwrap().to_owned();
    let (secret, _) = enrol_two_factor(cx, &access).await;
    let r = sign_in(cx, &Browser::default(), "jo").await;
    let data = ok(&exchange(cx, &landed_code(&r)).await, "exchange");
    assert_eq!(data["twoFactorRequired"], json!(true));
    assert!(data.get("tokens").is_none());
    cx.app.clock.advance(time::Duration::seconds(31));
    let code = crate::totp::code_at(&secret, crate::clock::Clock::now(&cx.app.clock));
    let r = cx
        .post(
            "/api/v1/auth/login/2fa",
            None,
            json!({"challengeToken": data["challengeToken"], "code": code}),
        )
        .await;
    let done = ok(&r, "second factor");
    assert_eq!(done["user"]["email"], json!("jo@corp.example"));
}
http_case!(a_two_factor_user_gets_the_challenge_from_the_exchange);

/// GitHub (OAuth 2.0, no OpenID Connect) against a local stand-in for its token endpoint and
/// REST API: the user is read from `/user` and the primary verified address from
/// `/user/emails`; the first sign-in creates the account, the next finds it.
pub async fn a_github_sign_in_reads_the_user_from_its_api(cx: &HttpCtx) {
    let github = super::github::GitHubStandIn::start().await;
    let mut provider =
        ProviderConfig::github(super::github::CLIENT_ID, super::github::CLIENT_SECRET);
    provider.kind = crate::oauth::ProviderKind::GitHub {
        web_url: github.base.clone(),
        api_url: format!("{}/api", github.base),
    };
    let config = test_config_builder()
        .oauth(OAuthConfig {
            providers: vec![provider],
            success_url: Some(SUCCESS_URL.to_owned()),
            error_url: Some(ERROR_URL.to_owned()),
            ..OAuthConfig::default()
        })
        .build()
        .expect("valid config");
    let cx = &cx.with_config(config).await;
    let callback = format!(
        "{}/api/v1/auth/oauth/github/callback",
        cx.app.manager.config().api_base_url()
    );
    let mut first_id = None;
    for _ in 0..2 {
        let browser = Browser::default();
        let r = browser
            .get_app(cx, "/api/v1/auth/oauth/github/authorize", None)
            .await;
        assert_eq!(r.status, 302);
        let to_github = r.header("location").unwrap().to_owned();
        assert!(to_github.starts_with(&github.base), "{to_github}");
        assert_eq!(
            query_value(&to_github, "code_challenge_method").as_deref(),
            Some("S256")
        );
        let back = browser.through_provider(&to_github, "", &callback).await;
        let r = browser.get_app(cx, &app_path(cx, &back), None).await;
        let data = ok(&exchange(cx, &landed_code(&r)).await, "exchange");
        assert_eq!(data["user"]["email"], json!("octo.cat@example.com"));
        assert_eq!(data["user"]["username"], json!("octocat"));
        assert_eq!(data["user"]["emailVerified"], json!(true));
        assert_eq!(data["user"]["firstName"], json!("Octo"));
        match &first_id {
            None => first_id = Some(data["user"]["id"].clone()),
            Some(id) => assert_eq!(&data["user"]["id"], id),
        }
    }
    let store = cx.app.manager.store();
    let identity = store
        .identity_by_subject("github", "4242")
        .await
        .unwrap()
        .expect("linked");
    assert_eq!(identity.email.as_deref(), Some("octo.cat@example.com"));
    assert!(
        identity.sealed_tokens.is_none(),
        "tokens are not kept by default"
    );

    // A state the stand-in never saw a code for: the code exchange is refused.
    let browser = Browser::default();
    let r = browser
        .get_app(cx, "/api/v1/auth/oauth/github/authorize", None)
        .await;
    let state = query_value(r.header("location").unwrap(), "state").unwrap();
    let r = browser
        .get_app(
            cx,
            &format!("/api/v1/auth/oauth/github/callback?code=forged&state={state}"),
            None,
        )
        .await;
    assert_eq!(landed_error(&r), "OAUTH_PROVIDER_ERROR");
}
http_case!(a_github_sign_in_reads_the_user_from_its_api);
