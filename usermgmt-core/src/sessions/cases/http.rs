//! HTTP conformance cases for sessions and tokens: refresh, logout, access-token checks, session
//! listing, EdDSA keys. Each case registers itself with `http_case!` right below its function
//! (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::json;
use time::Duration;

pub async fn concurrent_refresh_within_grace_gets_valid_pairs(cx: &HttpCtx) {
    cx.register_verified("tabs").await;
    let (_, refresh) = cx.login("tabs", PASSWORD).await;
    let first = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    cx.app.clock.advance(Duration::seconds(5));
    let second = cx
        .post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200, "second tab within the grace window");
    for r in [&first, &second] {
        let access = r.data()["accessToken"].as_str().unwrap().to_owned();
        assert_eq!(
            cx.get("/api/v1/users/profile", Some(&access)).await.status,
            200
        );
        let next = r.data()["refreshToken"].as_str().unwrap().to_owned();
        assert_eq!(
            cx.post("/api/v1/auth/refresh", None, json!({"refreshToken": next}))
                .await
                .status,
            200
        );
    }
}
http_case!(concurrent_refresh_within_grace_gets_valid_pairs);

pub async fn logout_ends_the_session_at_once(cx: &HttpCtx) {
    cx.register_verified("bob").await;
    let (access, refresh) = cx.login("bob@example.com", PASSWORD).await;
    let (other_access, _) = cx.login("bob", PASSWORD).await;
    assert_error(
        &cx.post("/api/v1/auth/logout", None, json!({})).await,
        401,
        "UNAUTHENTICATED",
    );
    let r = cx
        .post(
            "/api/v1/auth/logout",
            Some(&access),
            json!({"refreshToken": refresh}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = cx.get("/api/v1/users/profile", Some(&access)).await;
    assert_error(&r, 401, "INVALID_TOKEN");
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer"))
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        )
        .await,
        401,
        "INVALID_REFRESH_TOKEN",
    );
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&other_access))
            .await
            .status,
        200,
        "other sessions live on"
    );
    assert!(
        cx.audit_actions("bob@example.com")
            .await
            .contains(&"USER_LOGOUT".to_owned())
    );
}
http_case!(logout_ends_the_session_at_once);

pub async fn access_tokens_are_checked(cx: &HttpCtx) {
    cx.register_verified("tok").await;
    let (access, _) = cx.login("tok", PASSWORD).await;
    let r = cx.get("/api/v1/users/profile", None).await;
    assert_error(&r, 401, "UNAUTHENTICATED");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert_error(
        &cx.get("/api/v1/users/profile", Some("garbage")).await,
        401,
        "INVALID_TOKEN",
    );
    let mut tampered = access.clone();
    tampered.pop();
    tampered.push(if access.ends_with('A') { 'B' } else { 'A' });
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&tampered)).await,
        401,
        "INVALID_TOKEN",
    );
    let r = cx.request("GET", "/api/v1/users/profile", None, None).await;
    assert_eq!(r.status, 401);
    cx.app.clock.advance(Duration::minutes(15));
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&access)).await,
        401,
        "INVALID_TOKEN",
    );
}
http_case!(access_tokens_are_checked);

pub async fn sessions_are_listed_and_revoked(cx: &HttpCtx) {
    cx.register_verified("sam").await;
    let (a, _) = cx.login("sam", PASSWORD).await;
    let (b, _) = cx.login("sam", PASSWORD).await;
    let (c, _) = cx.login("sam", PASSWORD).await;
    let r = cx.get("/api/v1/sessions", Some(&a)).await;
    let list = r.data();
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(
        list.as_array()
            .unwrap()
            .iter()
            .filter(|s| s["isCurrent"] == json!(true))
            .count(),
        1
    );
    assert_eq!(list[0]["deviceInfo"]["browser"], json!("Firefox"));
    let b_id = cx.app.manager.authenticate(&b).await.unwrap().session_id;
    assert_eq!(
        cx.request(
            "DELETE",
            &format!("/api/v1/sessions/{b_id}"),
            Some(&a),
            None
        )
        .await
        .status,
        200
    );
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&b)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_error(
        &cx.request(
            "DELETE",
            &format!("/api/v1/sessions/{b_id}"),
            Some(&a),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.request("DELETE", "/api/v1/sessions/not-a-uuid", Some(&a), None)
            .await,
        404,
        "NOT_FOUND",
    );
    let r = cx
        .post("/api/v1/sessions/revoke-all", Some(&a), json!({}))
        .await;
    assert_eq!(r.data()["revokedCount"], json!(1));
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&c)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_eq!(cx.get("/api/v1/users/profile", Some(&a)).await.status, 200);
}
http_case!(sessions_are_listed_and_revoked);

/// A session revoked while its refresh token is being rotated ends at once, whichever of the
/// two the store decides first: once the revocation has answered, neither the old refresh token
/// nor a new one yields a pair, and no access token of the session is accepted.
pub async fn a_revocation_racing_a_refresh_ends_the_session(cx: &HttpCtx) {
    cx.register_verified("race").await;
    // Sessions are opened by the manager: twelve rounds of HTTP logins would meet their limit.
    let open = async || match cx
        .app
        .manager
        .login(
            "race",
            &crate::secret::Password::new(PASSWORD),
            &Default::default(),
        )
        .await
        .unwrap()
    {
        crate::LoginOutcome::Authenticated(s) => (
            s.tokens.access_token,
            s.tokens.refresh_token.expose().to_owned(),
            s.session_id,
        ),
        crate::LoginOutcome::TwoFactorRequired(_) => panic!("no second factor"),
    };
    for round in 0..12 {
        // Another session of the same user revokes this one (a reuse alarm in an earlier round
        // may have ended every session, so it is opened anew).
        let (keeper, _, _) = open().await;
        let (access, refresh, sid) = open().await;
        let revoke = format!("/api/v1/sessions/{sid}");
        let refreshing = cx.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": refresh}),
        );
        let revoking = cx.request("DELETE", &revoke, Some(&keeper), None);
        // Each side is sent first in every other round.
        let (refreshed, revoked) = if round % 2 == 0 {
            futures_util::future::join(refreshing, revoking).await
        } else {
            let (revoked, refreshed) = futures_util::future::join(revoking, refreshing).await;
            (refreshed, revoked)
        };
        assert_eq!(revoked.status, 200, "round {round}: the revocation");
        let mut refresh_tokens = vec![refresh];
        let mut access_tokens = vec![access];
        match refreshed.status {
            200 => {
                let pair = refreshed.data();
                refresh_tokens.push(pair["refreshToken"].as_str().unwrap().to_owned());
                access_tokens.push(pair["accessToken"].as_str().unwrap().to_owned());
            }
            401 => {}
            other => panic!("round {round}: the refresh answered {other}"),
        }
        for token in &access_tokens {
            assert_eq!(
                cx.get("/api/v1/users/profile", Some(token)).await.status,
                401,
                "round {round}: an access token of the revoked session"
            );
        }
        for token in &refresh_tokens {
            assert_eq!(
                cx.post("/api/v1/auth/refresh", None, json!({"refreshToken": token}))
                    .await
                    .status,
                401,
                "round {round}: a refresh token of the revoked session"
            );
        }
    }
}
http_case!(a_revocation_racing_a_refresh_ends_the_session);

/// With Ed25519 keys, access tokens are EdDSA JWTs whose `kid` names a key published at
/// `/.well-known/jwks.json`; a rotation keeps old tokens valid; HS256 publishes no key.
pub async fn eddsa_tokens_verify_against_the_jwks(cx: &HttpCtx) {
    use crate::auth::tokens::{AccessClaims, Ed25519Key};
    let r = cx.get("/.well-known/jwks.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"keys": []}),
        "a shared secret is never published"
    );

    let first = Ed25519Key::generate("key-1");
    let eddsa = cx
        .with_config(
            crate::testing::test_config_builder()
                .ed25519_key(first.clone())
                .build()
                .unwrap(),
        )
        .await;
    eddsa.register_verified("eddie").await;
    let (access, _) = eddsa.login("eddie", PASSWORD).await;
    let jwks = eddsa.get("/.well-known/jwks.json", None).await;
    assert_eq!(jwks.status, 200);
    assert!(jwks.header("cache-control").is_some());
    let jwks = jwks.json();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(jwks["keys"][0].get("d").is_none(), "no private part");
    let header = jsonwebtoken::decode_header(&access).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.kid.as_deref(), Some("key-1"));
    // A relying party with nothing but the JWKS verifies the token.
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks["keys"][0].clone()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["usermgmt"]);
    validation.set_issuer(&["usermgmt"]);
    let claims = jsonwebtoken::decode::<AccessClaims>(
        &access,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .expect("verifies with the published key")
    .claims;
    assert_eq!(claims.username, "eddie");
    assert_eq!(
        eddsa
            .get("/api/v1/users/profile", Some(&access))
            .await
            .status,
        200
    );
    // The default (HS256) instance refuses the EdDSA token.
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&access)).await,
        401,
        "INVALID_TOKEN",
    );

    // Rotation: a new key signs, the old one still verifies until its tokens expire.
    let rotated = cx
        .with_config(
            crate::testing::test_config_builder()
                .ed25519_key(Ed25519Key::generate("key-2"))
                .ed25519_key(first)
                .build()
                .unwrap(),
        )
        .await;
    assert_eq!(
        rotated
            .get("/api/v1/users/profile", Some(&access))
            .await
            .status,
        200
    );
    let (fresh, _) = rotated.login("eddie", PASSWORD).await;
    assert_eq!(
        jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(),
        Some("key-2")
    );
    let kids: Vec<_> = rotated.get("/.well-known/jwks.json", None).await.json()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kids, ["key-2", "key-1"]);
}
http_case!(eddsa_tokens_verify_against_the_jwks);
