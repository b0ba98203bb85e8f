//! HTTP conformance cases for API keys: making, listing, using, rotating and deleting them;
//! what a key may reach (its scopes ∩ the owner's permissions now; never the keyless routes);
//! and the one 401 every unusable key answers. Each case registers itself with `http_case!`
//! right below its function (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use crate::testing::wire::TestRequest;
use serde_json::{Value, json};
use time::Duration;

/// Makes a key for the holder of `access`: (its DTO, its text).
async fn make_key(cx: &HttpCtx, access: &str, body: Value) -> (Value, String) {
    let r = cx.post("/api/v1/api-keys", Some(access), body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    (
        data["apiKey"].clone(),
        data["key"].as_str().unwrap().to_owned(),
    )
}

/// A GET presenting `key` in an `X-API-Key` header.
async fn get_with_header(cx: &HttpCtx, uri: &str, key: &str) -> TestResponse {
    cx.send(TestRequest {
        method: "GET".to_owned(),
        uri: uri.to_owned(),
        headers: vec![("x-api-key".to_owned(), key.to_owned())],
        body: Vec::new(),
    })
    .await
}

async fn keys(cx: &HttpCtx, access: &str) -> Vec<Value> {
    ok(&cx.get("/api/v1/api-keys", Some(access)).await, "list")["apiKeys"]
        .as_array()
        .unwrap()
        .clone()
}

/// Make → list → use (Bearer and X-API-Key) → delete: the key is shown once, listed without
/// it, stands for its owner, writes `lastUsedAt` (and a sampled `API_KEY_USED`), and stops at
/// once when deleted; making it is audited, notified and mailed.
pub async fn api_key_create_list_use_delete(cx: &HttpCtx) {
    let email = cx.register_verified("kim").await;
    let (access, _) = cx.login("kim", PASSWORD).await;
    let (dto, key) = make_key(
        cx,
        &access,
        json!({"name": "  CI deploy  ", "scopes": ["AUDIT_READ", "user:read"], "expiresInDays": 30}),
    )
    .await;
    assert!(key.starts_with("umk_"), "{key}");
    assert!(key.len() >= 4 + 12 + 1 + 43);
    assert_eq!(dto["name"], json!("CI deploy"));
    assert_eq!(dto["scopes"], json!(["audit:read", "user:read"]));
    assert_eq!(dto["orgId"], Value::Null);
    assert_eq!(dto["lastUsedAt"], Value::Null);
    assert!(key.starts_with(&format!("umk_{}_", dto["prefix"].as_str().unwrap())));
    let listed = keys(cx, &access).await;
    assert_eq!(listed, vec![dto.clone()]);
    assert!(
        !String::from_utf8_lossy(&cx.get("/api/v1/api-keys", Some(&access)).await.body)
            .contains(&key[17..]),
        "the list never shows the secret"
    );

    // The key stands for its owner, as a bearer token or in X-API-Key.
    let r = cx.get("/api/v1/users/profile", Some(&key)).await;
    assert_eq!(ok(&r, "profile by key")["user"]["username"], json!("kim"));
    let r = get_with_header(cx, "/api/v1/users/profile", &key).await;
    assert_eq!(
        ok(&r, "profile by header")["user"]["username"],
        json!("kim")
    );
    let used = keys(cx, &access).await[0]["lastUsedAt"].clone();
    assert!(used.is_string(), "lastUsedAt written: {used}");
    assert_eq!(
        audit_rows(cx, "API_KEY_USED").await.len(),
        1,
        "two uses within a minute: one sampled row"
    );
    cx.app.clock.advance(Duration::seconds(61));
    ok(&cx.get("/api/v1/notifications", Some(&key)).await, "again");
    assert_eq!(audit_rows(cx, "API_KEY_USED").await.len(), 2);

    let actions = cx.audit_actions(&email).await;
    assert!(
        actions.contains(&"API_KEY_CREATED".to_owned()),
        "{actions:?}"
    );
    let r = cx.get("/api/v1/notifications", Some(&access)).await;
    let body = ok(&r, "notifications");
    assert!(
        body["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == json!("API key created")),
        "{body}"
    );
    cx.app.deliver_mail().await;
    let subjects: Vec<String> = cx
        .app
        .mailer
        .sent()
        .into_iter()
        .filter(|m| m.to == email)
        .map(|m| m.subject)
        .collect();
    assert!(
        subjects.iter().any(|s| s.contains("new API key")),
        "{subjects:?}"
    );

    let id = dto["id"].as_str().unwrap();
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/api-keys/{id}"),
            Some(&access),
            None,
        )
        .await;
    ok(&r, "delete");
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&key)).await,
        401,
        "INVALID_TOKEN",
    );
    assert_eq!(keys(cx, &access).await, Vec::<Value>::new());
    assert!(
        cx.audit_actions(&email)
            .await
            .contains(&"API_KEY_REVOKED".to_owned())
    );
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/api-keys/{id}"),
            Some(&access),
            None,
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
}
http_case!(api_key_create_list_use_delete);

/// A user holds at most `MAX_KEYS_PER_USER` keys: past it a creation is refused in the
/// envelope with nothing made, also when creations race for the last places.
pub async fn api_keys_stop_at_the_cap_under_racing_creations(cx: &HttpCtx) {
    let max = crate::api_keys::MAX_KEYS_PER_USER;
    let access = cx.app.access_token_for("kim", &["user"]).await;
    for n in 0..max - 2 {
        make_key(cx, &access, json!({"name": format!("key {n}")})).await;
    }
    let racing = (0..6).map(|n| {
        cx.post(
            "/api/v1/api-keys",
            Some(&access),
            json!({"name": format!("racing {n}")}),
        )
    });
    let answers = futures_util::future::join_all(racing).await;
    let made = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(made, 2, "two places were left");
    for refused in answers.iter().filter(|r| r.status != 201) {
        assert_error(refused, 422, "VALIDATION_ERROR");
        assert!(
            String::from_utf8_lossy(&refused.body).contains("delete one first"),
            "{}",
            String::from_utf8_lossy(&refused.body)
        );
    }
    assert_eq!(keys(cx, &access).await.len(), max);
    let r = cx
        .post(
            "/api/v1/api-keys",
            Some(&access),
            json!({"name": "one more"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(keys(cx, &access).await.len(), max);
}
http_case!(api_keys_stop_at_the_cap_under_racing_creations);

/// A key gets the permissions of its scopes that its owner holds now: a role taken from the
/// owner takes its permission from the key on the next request; a scope the owner lacks grants
/// nothing; a suspended owner's key stops at once.
pub async fn api_key_scopes_intersect_the_owners_permissions(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    let role = create_role(cx, &admin, "auditor", &["audit:read"]).await;
    let email = cx.register_verified("ida").await;
    let ida = user_id(cx, &email).await;
    ok(
        &cx.post(
            &format!("/api/v1/roles/user/{ida}/assign"),
            a,
            json!({"roleId": role}),
        )
        .await,
        "assign",
    );
    let (access, _) = cx.login("ida", PASSWORD).await;
    let (_, scoped) = make_key(
        cx,
        &access,
        json!({"name": "reader", "scopes": ["audit:read", "user:read"]}),
    )
    .await;
    let (_, unscoped) = make_key(cx, &access, json!({"name": "bare", "scopes": []})).await;

    ok(
        &cx.get("/api/v1/audit", Some(&scoped)).await,
        "audit by key",
    );
    // user:read is in the scopes but not the owner's.
    assert_error(
        &cx.get("/api/v1/admin/users", Some(&scoped)).await,
        403,
        "FORBIDDEN",
    );
    // The owner holds audit:read, the key was not given it.
    assert_error(
        &cx.get("/api/v1/audit", Some(&unscoped)).await,
        403,
        "FORBIDDEN",
    );
    ok(
        &cx.get("/api/v1/users/profile", Some(&unscoped)).await,
        "self-service",
    );

    // The role goes: the key loses it on the next request.
    ok(
        &cx.request(
            "DELETE",
            &format!("/api/v1/roles/user/{ida}/{role}"),
            a,
            None,
        )
        .await,
        "remove role",
    );
    assert_error(
        &cx.get("/api/v1/audit", Some(&scoped)).await,
        403,
        "FORBIDDEN",
    );

    // Suspension stops the key at once.
    ok(
        &cx.post(&format!("/api/v1/admin/users/{ida}/suspend"), a, json!({}))
            .await,
        "suspend",
    );
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&unscoped)).await,
        403,
        "ACCOUNT_SUSPENDED",
    );
}
http_case!(api_key_scopes_intersect_the_owners_permissions);

/// Keys never reach the keyless routes (managing keys, password, two-factor, sessions,
/// passkeys, the account; logging out), whatever their scopes: 403 `API_KEY_NOT_ALLOWED`,
/// in either header; an access token still does.
pub async fn api_key_is_refused_on_keyless_routes(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let (_, key) = make_key(
        cx,
        &admin,
        json!({"name": "all", "scopes": ["admin:access", "user:read", "system:manage"]}),
    )
    .await;
    let root = user_id(cx, "root@example.com").await;
    for (method, uri, body) in [
        ("GET", "/api/v1/api-keys".to_owned(), None),
        (
            "POST",
            "/api/v1/api-keys".to_owned(),
            Some(json!({"name": "more", "scopes": []})),
        ),
        ("GET", "/api/v1/sessions".to_owned(), None),
        (
            "POST",
            "/api/v1/sessions/revoke-all".to_owned(),
            Some(json!({})),
        ),
        ("GET", "/api/v1/2fa/status".to_owned(), None),
        ("POST", "/api/v1/2fa/setup".to_owned(), Some(json!({}))),
        ("GET", "/api/v1/passkeys".to_owned(), None),
        (
            "POST",
            "/api/v1/auth/change-password".to_owned(),
            Some(
                json!({"currentPassword": PASSWORD, "newPassword": "N3w!Passw0rd", "confirmPassword": "N3w!Passw0rd"}),
            ),
        ),
        ("POST", "/api/v1/auth/logout".to_owned(), Some(json!({}))),
        ("GET", "/api/v1/account/export".to_owned(), None),
        (
            "POST",
            format!("/api/v1/admin/users/{root}/impersonate"),
            Some(json!({})),
        ),
    ] {
        let r = cx.request(method, &uri, Some(&key), body).await;
        assert_error(&r, 403, "API_KEY_NOT_ALLOWED");
    }
    assert_error(
        &get_with_header(cx, "/api/v1/sessions", &key).await,
        403,
        "API_KEY_NOT_ALLOWED",
    );
    ok(&cx.get("/api/v1/sessions", Some(&admin)).await, "token");
    ok(&cx.get("/api/v1/admin/dashboard", Some(&key)).await, "key");
}
http_case!(api_key_is_refused_on_keyless_routes);

/// Unknown, malformed, deleted, rotated-out and expired keys all answer the one 401
/// `INVALID_TOKEN`, with the same message, in either header.
pub async fn unusable_api_keys_answer_one_401(cx: &HttpCtx) {
    cx.register_verified("una").await;
    let (access, _) = cx.login("una", PASSWORD).await;
    let (expiring, expiring_key) = make_key(
        cx,
        &access,
        json!({"name": "short", "scopes": [], "expiresInDays": 1}),
    )
    .await;
    let (deleted, deleted_key) = make_key(cx, &access, json!({"name": "gone", "scopes": []})).await;
    let (rotated, rotated_key) = make_key(cx, &access, json!({"name": "old", "scopes": []})).await;
    ok(
        &cx.request(
            "DELETE",
            &format!("/api/v1/api-keys/{}", deleted["id"].as_str().unwrap()),
            Some(&access),
            None,
        )
        .await,
        "delete",
    );
    ok(
        &cx.post(
            &format!(
                "/api/v1/api-keys/{}/rotate",
                rotated["id"].as_str().unwrap()
            ),
            Some(&access),
            json!({}),
        )
        .await,
        "rotate",
    );
    ok(
        &cx.get("/api/v1/users/profile", Some(&expiring_key)).await,
        "alive for now",
    );
    cx.app.clock.advance(Duration::days(1));
    let prefix = expiring["prefix"].as_str().unwrap();
    let unknown = format!("umk_{}_{}", "0".repeat(12), &expiring_key[17..]);
    let wrong_secret = format!("umk_{prefix}_{}", "A".repeat(43));
    let mut messages = Vec::new();
    for key in [
        expiring_key.as_str(),
        deleted_key.as_str(),
        rotated_key.as_str(),
        unknown.as_str(),
        wrong_secret.as_str(),
        "umk_",
        "umk_short",
        "umk_zzzzzzzzzzzz_x",
    ] {
        let r = cx.get("/api/v1/users/profile", Some(key)).await;
        assert_error(&r, 401, "INVALID_TOKEN");
        messages.push(r.json()["message"].clone());
        let r = get_with_header(cx, "/api/v1/users/profile", key).await;
        assert_error(&r, 401, "INVALID_TOKEN");
        messages.push(r.json()["message"].clone());
    }
    let r = get_with_header(cx, "/api/v1/users/profile", "not-a-key").await;
    assert_error(&r, 401, "INVALID_TOKEN");
    messages.push(r.json()["message"].clone());
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(expiring["expiresAt"].is_string());
}
http_case!(unusable_api_keys_answer_one_401);

/// Bad input is a 422 naming each broken field and makes nothing: a missing or long name, an
/// unknown scope, an out-of-range lifetime, an `orgId` of no organization of the caller's (404), a
/// grace period out of range. An impersonation token cannot make keys.
pub async fn api_key_input_is_checked(cx: &HttpCtx) {
    cx.register_verified("val").await;
    let (access, _) = cx.login("val", PASSWORD).await;
    let r = cx
        .post(
            "/api/v1/api-keys",
            Some(&access),
            json!({"name": " ", "scopes": ["user:read", "user:fly"], "expiresInDays": 0}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), ["name", "scopes[1]", "expiresInDays"]);
    let r = cx
        .post(
            "/api/v1/api-keys",
            Some(&access),
            json!({"name": "x".repeat(65), "scopes": [], "expiresInDays": 3651}),
        )
        .await;
    assert_eq!(error_fields(&r), ["name", "expiresInDays"]);
    let r = cx
        .post(
            "/api/v1/api-keys",
            Some(&access),
            json!({"name": "org", "scopes": [], "orgId": "0190d7e2-7a4c-7000-8000-000000000000"}),
        )
        .await;
    // An organization the caller is not a member of does not exist for them.
    assert_error(&r, 404, "NOT_FOUND");
    let r = cx
        .post(
            "/api/v1/api-keys",
            Some(&access),
            json!({"name": "s", "scopes": "user:read"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(keys(cx, &access).await, Vec::<Value>::new(), "nothing made");

    let (dto, _) = make_key(cx, &access, json!({"name": "ok", "scopes": []})).await;
    let rotate = format!("/api/v1/api-keys/{}/rotate", dto["id"].as_str().unwrap());
    for grace in [-1, 86_401] {
        let r = cx
            .post(&rotate, Some(&access), json!({"graceSeconds": grace}))
            .await;
        assert_error(&r, 422, "VALIDATION_ERROR");
        assert_eq!(error_fields(&r), ["graceSeconds"]);
    }
    assert_eq!(keys(cx, &access).await, vec![dto], "nothing rotated");
    let r = cx
        .post(
            &format!("/api/v1/api-keys/{}/rotate", uuid::Uuid::now_v7()),
            Some(&access),
            json!({}),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");

    // An expired key is not rotated into a key born dead.
    let (short, _) = make_key(
        cx,
        &access,
        json!({"name": "short", "scopes": [], "expiresInDays": 1}),
    )
    .await;
    cx.app
        .clock
        .advance(Duration::days(1) + Duration::seconds(1));
    let (access, _) = cx.login("val", PASSWORD).await;
    let before = keys(cx, &access).await;
    let r = cx
        .post(
            &format!("/api/v1/api-keys/{}/rotate", short["id"].as_str().unwrap()),
            Some(&access),
            json!({}),
        )
        .await;
    assert_error(&r, 400, "BAD_REQUEST");
    assert_eq!(keys(cx, &access).await, before, "nothing rotated");
}
http_case!(api_key_input_is_checked);

/// A rotation answers the new key: without a grace period the old one stops at once, with one
/// it works until the grace ends; two rotations racing from one state: one wins, the other is
/// a 409 and its key never works.
pub async fn api_key_rotation_with_and_without_grace(cx: &HttpCtx) {
    cx.register_verified("rox").await;
    let (access, _) = cx.login("rox", PASSWORD).await;
    let (dto, first) = make_key(cx, &access, json!({"name": "svc", "scopes": []})).await;
    let rotate = format!("/api/v1/api-keys/{}/rotate", dto["id"].as_str().unwrap());
    let profile = |key: String| async move { cx.get("/api/v1/users/profile", Some(&key)).await };

    let r = cx.post(&rotate, Some(&access), json!({})).await;
    let data = ok(&r, "rotate");
    let second = data["key"].as_str().unwrap().to_owned();
    assert_eq!(data["apiKey"]["id"], dto["id"]);
    assert_ne!(data["apiKey"]["prefix"], dto["prefix"]);
    assert_error(&profile(first.clone()).await, 401, "INVALID_TOKEN");
    ok(&profile(second.clone()).await, "new key");

    let r = cx
        .post(&rotate, Some(&access), json!({"graceSeconds": 60}))
        .await;
    let third = ok(&r, "rotate with grace")["key"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(&profile(second.clone()).await, "old key in grace");
    ok(&profile(third.clone()).await, "new key");
    cx.app.clock.advance(Duration::seconds(60));
    assert_error(&profile(second).await, 401, "INVALID_TOKEN");
    ok(&profile(third.clone()).await, "new key");

    let (x, y) = tokio::join!(
        cx.post(&rotate, Some(&access), json!({})),
        cx.post(&rotate, Some(&access), json!({}))
    );
    let mut statuses = [x.status, y.status];
    statuses.sort_unstable();
    assert!(
        statuses == [200, 409] || statuses == [200, 200],
        "{statuses:?}"
    );
    let winners: Vec<String> = [&x, &y]
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.data()["key"].as_str().unwrap().to_owned())
        .collect();
    let working = {
        let mut n = 0;
        for key in &winners {
            n += usize::from(profile(key.clone()).await.status == 200);
        }
        n
    };
    assert_eq!(working, 1, "exactly one rotation's key works");
    for r in [&x, &y] {
        if r.status == 409 {
            assert_error(r, 409, "CONFLICT");
        }
    }
    assert_error(&profile(third).await, 401, "INVALID_TOKEN");
}
http_case!(api_key_rotation_with_and_without_grace);

/// Each key has its own budget (`RateLimitConfig::api_key`, `RATE_LIMIT_API_KEY`): past it the
/// key answers 429 with `Retry-After`, while another key of the same client goes on — and a
/// made-up key with another key's prefix does not spend that key's budget.
pub async fn api_keys_are_rate_limited_per_key(cx: &HttpCtx) {
    let limits = crate::ratelimit::RateLimitConfig {
        api_key: crate::ratelimit::Limit::new(3, Duration::minutes(1)),
        ..Default::default()
    };
    let config = crate::testing::test_config_builder()
        .rate_limits(limits)
        .build()
        .unwrap();
    let cx = &cx.with_config(config).await;
    cx.register_verified("rae").await;
    let (access, _) = cx.login("rae", PASSWORD).await;
    let (_, busy) = make_key(cx, &access, json!({"name": "busy", "scopes": []})).await;
    let (_, calm) = make_key(cx, &access, json!({"name": "calm", "scopes": []})).await;
    // Made-up keys with calm's prefix (a stranger may know it) spend their own buckets, not
    // calm's.
    for attempt in 0..4 {
        let forged = format!("{}zzz{attempt}", &calm[..calm.len() - 4]);
        assert_error(
            &cx.get("/api/v1/users/profile", Some(&forged)).await,
            401,
            "INVALID_TOKEN",
        );
    }
    for _ in 0..3 {
        ok(
            &cx.get("/api/v1/users/profile", Some(&busy)).await,
            "within",
        );
    }
    let r = get_with_header(cx, "/api/v1/users/profile", &busy).await;
    assert_error(&r, 429, "RATE_LIMITED");
    assert!(r.header("retry-after").is_some());
    ok(
        &cx.get("/api/v1/users/profile", Some(&calm)).await,
        "other key",
    );
    ok(
        &cx.get("/api/v1/users/profile", Some(&access)).await,
        "token",
    );
}
http_case!(api_keys_are_rate_limited_per_key);

/// A host app calling the services directly with a key's caller (from its own guard) meets
/// the same refusal as the API's routes: the services decide it, not only the route table.
pub async fn services_refuse_a_key_caller_as_the_routes_do(cx: &HttpCtx) {
    cx.register_verified("svc").await;
    let (access, _) = cx.login("svc", PASSWORD).await;
    let (_, key) = make_key(cx, &access, json!({"name": "svc", "scopes": []})).await;
    let manager = &cx.app.manager;
    let caller = manager.authenticate(&key).await.unwrap();
    let client = crate::ClientInfo::default();
    let password = crate::secret::Password::new(PASSWORD);
    let refused = |result: crate::Result<()>, what: &str| {
        assert!(
            matches!(result, Err(crate::Error::ApiKeyNotAllowed)),
            "{what}: {result:?}"
        );
    };
    let new = crate::secret::Password::new(NEW_PASSWORD);
    refused(
        manager
            .change_password(&caller, &password, &new, &new, &client)
            .await
            .map(|_| ()),
        "change password",
    );
    refused(manager.logout(&caller, &client).await, "logout");
    refused(
        manager.setup_two_factor(&caller).await.map(|_| ()),
        "2FA setup",
    );
    refused(manager.list_sessions(&caller).await.map(|_| ()), "sessions");
    refused(
        manager
            .revoke_other_sessions(&caller, &client)
            .await
            .map(|_| ()),
        "revoke sessions",
    );
    refused(manager.passkeys(&caller).await.map(|_| ()), "passkeys");
    refused(
        manager
            .delete_account(&caller, &password, &client)
            .await
            .map(|_| ()),
        "delete account",
    );
    refused(
        manager.export_account(&caller, &client).await.map(|_| ()),
        "export",
    );
    // Nothing happened: the password and the sessions are as they were.
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&access)).await.status,
        200
    );
    cx.login("svc", PASSWORD).await;
}
http_case!(services_refuse_a_key_caller_as_the_routes_do);
