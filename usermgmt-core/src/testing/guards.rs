//! What both adapters' guard tests assert about their extractors and middleware
//! (`Authorized<P>`, `require::<P>`), on a host app of their own.

use crate::auth::AuthenticatedUser;
use crate::roles::RoleInput;
use crate::testing::TestApp;
use crate::testing::http_suite::*;
use std::future::Future;

/// The assertions of both adapters' guard tests. The host app under test serves `/report`
/// behind `audit:read` (the extractor) and `/settings` behind `admin:settings` (the
/// middleware), each answering `"<route> for <username>"`; `get` sends a GET with an optional
/// bearer token.
pub async fn check_permission_guards<F, Fut>(app: &TestApp, get: F)
where
    F: Fn(&'static str, Option<String>) -> Fut,
    Fut: Future<Output = TestResponse>,
{
    let admin = app.access_token_for("root", &["admin"]).await;
    let moderator = app.access_token_for("moe", &["moderator"]).await;
    let plain = app.access_token_for("pat", &["user"]).await;
    assert_error(&get("/report", None).await, 401, "UNAUTHENTICATED");
    let denied = get("/report", Some(plain)).await;
    assert_error(&denied, 403, "FORBIDDEN");
    assert!(denied.header("x-request-id").is_some());
    assert_eq!(denied.header("x-frame-options"), Some("DENY"));
    let ok = get("/report", Some(moderator.clone())).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, b"report for moe");
    assert_error(&get("/settings", Some(moderator)).await, 403, "FORBIDDEN");
    assert_error(
        &get("/settings", Some("garbage".to_owned())).await,
        401,
        "INVALID_TOKEN",
    );
    let ok = get("/settings", Some(admin)).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body, b"settings for root");
    check_impersonation_guards(app, &get).await;
    check_api_key_guards(app, &get).await;
    check_org_guards(app, &get).await;
}

/// The host-app guards take an API key like the API does: its scopes ∩ what its owner holds
/// now; an unusable key is the one 401.
pub async fn check_api_key_guards<F, Fut>(app: &TestApp, get: &F)
where
    F: Fn(&'static str, Option<String>) -> Fut,
    Fut: Future<Output = TestResponse>,
{
    let client = crate::ClientInfo::default();
    let token = app.access_token_for("kai", &["moderator"]).await;
    let kai = app.manager.authenticate(&token).await.unwrap();
    let key = |scopes: &[&str]| {
        let input = crate::api_keys::ApiKeyInput {
            name: Some("guard".into()),
            scopes: Some(scopes.iter().map(|s| (*s).to_owned()).collect()),
            expires_in_days: None,
            org_id: None,
        };
        let (manager, kai, client) = (&app.manager, &kai, &client);
        async move {
            let (_, secret) = manager.create_api_key(kai, input, client).await.unwrap();
            secret.expose().to_owned()
        }
    };
    let reader = key(&["audit:read", "admin:settings"]).await;
    let bare = key(&[]).await;
    let r = get("/report", Some(reader.clone())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"report for kai");
    // In the scopes, but kai (a moderator) lacks it.
    assert_error(
        &get("/settings", Some(reader.clone())).await,
        403,
        "FORBIDDEN",
    );
    // Kai holds it, the key was not given it.
    assert_error(&get("/report", Some(bare)).await, 403, "FORBIDDEN");
    let last = if reader.ends_with('x') { "y" } else { "x" };
    let unknown = format!("{}{last}", &reader[..reader.len() - 1]);
    assert_error(&get("/report", Some(unknown)).await, 401, "INVALID_TOKEN");
}

/// The host-app guards (`Authorized<P>`, `require::<P>`) read an impersonation token's
/// permissions like the API does: what both sides hold now. Run by each adapter's guard test
/// through [`check_permission_guards`] (`/report` needs `audit:read`,
/// `/settings` needs `admin:settings`).
pub async fn check_impersonation_guards<F, Fut>(app: &TestApp, get: &F)
where
    F: Fn(&'static str, Option<String>) -> Fut,
    Fut: Future<Output = TestResponse>,
{
    let root_token = app.access_token_for("guard_root", &["admin"]).await;
    let root = app.manager.authenticate(&root_token).await.unwrap();
    let client = crate::ClientInfo::default();
    let role = |name: &str, permissions: &[&str]| RoleInput {
        name: Some(name.to_owned()),
        description: None,
        permissions: Some(permissions.iter().map(|p| (*p).to_owned()).collect()),
    };
    let desk = app
        .manager
        .create_role(
            &root,
            role(
                "guard_desk",
                &["admin:access", "audit:read", "admin:settings"],
            ),
            &client,
        )
        .await
        .unwrap();
    app.manager
        .create_role(&root, role("guard_reader", &["audit:read"]), &client)
        .await
        .unwrap();
    let desk_token = app.access_token_for("gil", &["guard_desk"]).await;
    let gil: AuthenticatedUser = app.manager.authenticate(&desk_token).await.unwrap();
    app.access_token_for("tia", &["guard_reader"]).await;
    let tia = app
        .manager
        .store()
        .user_by_username("tia")
        .await
        .unwrap()
        .unwrap();
    let token = app
        .manager
        .impersonate(&gil, tia.id, &client)
        .await
        .unwrap()
        .access_token;

    let r = get("/report", Some(token.clone())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"report for tia");
    // Gil holds admin:settings, tia does not: not lent to the impersonation.
    assert_error(
        &get("/settings", Some(token.clone())).await,
        403,
        "FORBIDDEN",
    );
    // Gil loses audit:read: so does the impersonation, on the host's routes too.
    app.manager
        .update_role(
            &root,
            desk.id,
            RoleInput {
                permissions: Some(vec!["admin:access".into(), "admin:settings".into()]),
                ..RoleInput::default()
            },
            &client,
        )
        .await
        .unwrap();
    assert_error(&get("/report", Some(token)).await, 403, "FORBIDDEN");
}

/// The host-app guards take a cookie session like the API does: the access cookie when no
/// header brings a credential, with the CSRF rule on methods that change something, and never
/// renewed (an extractor cannot set cookies). Run by each adapter's guard test on a host app
/// whose `/report` answers GET and POST behind `audit:read`; `send` sends a request with the
/// given method, path and headers.
pub async fn check_cookie_session_guards<F, Fut>(app: &TestApp, send: F)
where
    F: Fn(&'static str, &'static str, Vec<(String, String)>) -> Fut,
    Fut: Future<Output = TestResponse>,
{
    let config = app.manager.config();
    let settings = config
        .cookie_sessions
        .clone()
        .expect("the test config has cookie sessions on");
    let moderator = app.access_token_for("cookie_moe", &["moderator"]).await;
    let plain = app.access_token_for("cookie_pat", &["user"]).await;
    let session = app
        .manager
        .authenticate(&moderator)
        .await
        .unwrap()
        .session_id;
    let csrf = crate::api::cookies::csrf_token(config, session);
    let h = |name: &str, value: &str| (name.to_owned(), value.to_owned());
    let cookie = h(
        "cookie",
        &format!("theme=dark; {}={moderator}", settings.name),
    );

    let r = send("GET", "/report", vec![cookie.clone()]).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.body, b"report for cookie_moe");
    assert_error(
        &send("POST", "/report", vec![cookie.clone()]).await,
        403,
        "CSRF_FAILED",
    );
    assert_error(
        &send(
            "POST",
            "/report",
            vec![
                cookie.clone(),
                h("origin", "https://evil.example"),
                h("x-csrf-token", &csrf),
            ],
        )
        .await,
        403,
        "CSRF_FAILED",
    );
    let r = send(
        "POST",
        "/report",
        vec![
            cookie.clone(),
            h("sec-fetch-site", "same-origin"),
            h("x-csrf-token", &csrf),
        ],
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    // A header wins over the cookie: pat's token, pat's permissions.
    assert_error(
        &send(
            "GET",
            "/report",
            vec![
                cookie.clone(),
                h("authorization", &format!("Bearer {plain}")),
            ],
        )
        .await,
        403,
        "FORBIDDEN",
    );
    // Expired: a guard does not renew it.
    app.clock
        .advance(config.access_token_ttl + time::Duration::seconds(1));
    assert_error(
        &send("GET", "/report", vec![cookie]).await,
        401,
        "INVALID_TOKEN",
    );
}

/// The host-app org guards (`OrgMember`, `OrgAuthorized<P>`): the host app under test serves
/// `/team` behind `OrgMember` (answering `"team <slug> for <username> as <role>"`) and
/// `/invite` behind `OrgAuthorized<org_perm::MemberInvite>` (`"invite for <username>"`). They
/// act in the token's active organization (`switch_org`) or the key's, with the membership as
/// stored at each request: a removed member's org token grants nothing at once.
pub async fn check_org_guards<F, Fut>(app: &TestApp, get: &F)
where
    F: Fn(&'static str, Option<String>) -> Fut,
    Fut: Future<Output = TestResponse>,
{
    let client = crate::ClientInfo::default();
    let manager = &app.manager;
    let olga_token = app.access_token_for("olga", &["user"]).await;
    let olga = manager.authenticate(&olga_token).await.unwrap();
    let org = manager
        .create_org(&olga, Some("Guarded"), None, &client)
        .await
        .unwrap()
        .org;
    // No active organization: nothing to act in.
    assert_error(
        &get("/team", Some(olga_token.clone())).await,
        403,
        "FORBIDDEN",
    );
    assert_error(&get("/team", None).await, 401, "UNAUTHENTICATED");
    let (pair, _) = manager.switch_org(&olga, Some(org.id)).await.unwrap();
    let olga_org = pair.access_token.clone();
    let r = get("/team", Some(olga_org.clone())).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"team guarded for olga as owner");
    let r = get("/invite", Some(olga_org.clone())).await;
    assert_eq!(r.body, b"invite for olga");

    // Mia joins as a member: she may read, not invite; removed, she may do nothing at once.
    let mia_token = app.access_token_for("mia", &["user"]).await;
    let (_, invitation) = manager
        .invite_to_org(
            &olga,
            org.id,
            Some("mia@example.com"),
            Some("member"),
            &client,
        )
        .await
        .unwrap();
    let mia = manager.authenticate(&mia_token).await.unwrap();
    manager
        .accept_invitation(&mia, invitation.expose(), &client)
        .await
        .unwrap();
    let (mia_pair, _) = manager.switch_org(&mia, Some(org.id)).await.unwrap();
    let mia_org = mia_pair.access_token.clone();
    let r = get("/team", Some(mia_org.clone())).await;
    assert_eq!(r.body, b"team guarded for mia as member");
    assert_error(
        &get("/invite", Some(mia_org.clone())).await,
        403,
        "FORBIDDEN",
    );
    manager
        .change_org_member(&olga, org.id, mia.user.id, None, &client)
        .await
        .unwrap();
    assert_error(&get("/team", Some(mia_org)).await, 403, "FORBIDDEN");

    // A key of the organization acts in it with its owner's org role now.
    let input = crate::api_keys::ApiKeyInput {
        name: Some("org key".into()),
        scopes: Some(Vec::new()),
        expires_in_days: None,
        org_id: Some(org.id),
    };
    let (_, key) = manager.create_api_key(&olga, input, &client).await.unwrap();
    let r = get("/invite", Some(key.expose().to_owned())).await;
    assert_eq!(r.body, b"invite for olga");
}
