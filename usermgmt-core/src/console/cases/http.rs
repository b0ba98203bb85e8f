//! HTTP conformance cases for the console (`console/`): served only when switched on, every
//! page under the strict policy, each admin page and control by permission, a signed-out visit
//! answered with the resume page, and the root paths the adapters mount. The pages' behaviour
//! in a browser is walked by `examples/tests/console_browser.rs`.

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;

/// The same world with the console on.
async fn with_console(cx: &HttpCtx) -> HttpCtx {
    let config = crate::testing::test_config_builder()
        .console(true)
        .build()
        .expect("test config is valid");
    cx.with_config(config).await
}

fn header<'r>(r: &'r TestResponse, name: &str) -> Option<&'r str> {
    r.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn text(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

pub async fn console_is_served_only_when_switched_on(cx: &HttpCtx) {
    // Off: the adapters mount none of its paths (the host app keeps them), core itself knows
    // none of them, and the document names none.
    let roots = cx.app.api.root_paths();
    for path in [
        "/",
        "/signin",
        "/account",
        "/admin",
        "/console/assets/console.js",
    ] {
        assert!(!roots.iter().any(|p| p == path), "{path} mounted");
        let answer = cx
            .app
            .api
            .handle(crate::api::ApiRequest::new("GET", path))
            .await;
        assert_eq!(answer.status, 404, "{path}");
        assert!(String::from_utf8_lossy(&answer.body).contains("ROUTE_NOT_FOUND"));
    }
    let document = crate::capabilities::openapi_document(cx.app.manager.config());
    assert!(document["paths"].get("/signin").is_none(), "not documented");
    let on = with_console(cx).await;
    let roots = on.app.api.root_paths();
    for path in [
        "/",
        "/signin",
        "/admin/users/{userId}",
        "/console/assets/{file}",
    ] {
        assert!(roots.iter().any(|p| p == path), "{path} not mounted");
    }
    let r = on.get("/signin", None).await;
    assert_eq!(r.status, 200, "{}", text(&r));
}
http_case!(console_is_served_only_when_switched_on);

pub async fn console_pages_carry_the_strict_policy(cx: &HttpCtx) {
    let cx = with_console(cx).await;
    for path in [
        "/",
        "/signin",
        "/signup",
        "/verify-email",
        "/forgot-password",
        "/reset-password",
        "/oauth/success",
        "/accept-invitation",
        "/account",
        "/admin",
    ] {
        let r = cx.get(path, None).await;
        assert_eq!(r.status, 200, "{path}: {}", text(&r));
        assert_eq!(
            header(&r, "content-type"),
            Some("text/html; charset=utf-8"),
            "{path}"
        );
        assert_eq!(
            header(&r, "content-security-policy"),
            Some(crate::console::PAGE_POLICY),
            "{path}"
        );
        assert_eq!(header(&r, "x-frame-options"), Some("DENY"), "{path}");
        let page = text(&r);
        // Nothing inline: the one script and stylesheet are files of this origin.
        assert!(
            !page.contains("<script>") && !page.contains("style="),
            "{path}"
        );
        assert!(
            page.contains("src=\"/console/assets/console.js\""),
            "{path}"
        );
    }
    let script = cx.get("/console/assets/console.js", None).await;
    assert_eq!(script.status, 200);
    assert_eq!(
        header(&script, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let style = cx.get("/console/assets/console.css", None).await;
    assert_eq!(style.status, 200);
    assert!(text(&style).contains("prefers-color-scheme: dark"));
    assert_error(
        &cx.get("/console/assets/other.js", None).await,
        404,
        "ROUTE_NOT_FOUND",
    );
}
http_case!(console_pages_carry_the_strict_policy);

pub async fn console_signed_in_pages_follow_the_session(cx: &HttpCtx) {
    let cx = with_console(cx).await;
    // Signed out: the resume page (one refresh, then the sign-in page), not the account.
    let r = cx.get("/account", None).await;
    assert_eq!(r.status, 200);
    assert!(text(&r).contains("data-next=\"/account\""), "{}", text(&r));
    assert!(!text(&r).contains("id=\"profile\""));

    cx.register_verified("ann").await;
    let (access, _) = cx.login("ann", PASSWORD).await;
    let r = cx.get("/account", Some(&access)).await;
    assert_eq!(r.status, 200);
    let page = text(&r);
    assert!(page.contains("id=\"profile\"") && page.contains("Signed in as ann"));
    assert!(
        !page.contains("href=\"/admin\""),
        "no admin link without admin:access"
    );
    // The theme preference applies to the pages: the system's until chosen.
    assert!(page.contains("data-theme=\"system\""));
    assert!(page.contains("content=\"light dark\""));
    ok(
        &cx.request(
            "PUT",
            "/api/v1/users/preferences",
            Some(&access),
            Some(serde_json::json!({"theme": "dark"})),
        )
        .await,
        "theme",
    );
    let page = text(&cx.get("/account", Some(&access)).await);
    assert!(
        page.contains("data-theme=\"dark\"")
            && page.contains("name=\"color-scheme\" content=\"dark\"")
    );
    assert!(page.contains("<option value=\"dark\" selected>"), "{page}");
    // A value the pages do not know is the system's.
    ok(
        &cx.request(
            "PUT",
            "/api/v1/users/preferences",
            Some(&access),
            Some(serde_json::json!({"theme": "sepia"})),
        )
        .await,
        "theme",
    );
    assert!(text(&cx.get("/account", Some(&access)).await).contains("data-theme=\"system\""));
    // `/` shows a signed-in visitor the account.
    let home = cx.get("/", Some(&access)).await;
    assert_eq!(home.status, 200);
    assert!(text(&home).contains("id=\"profile\""));

    // Ended session: the same cookie no longer opens the account.
    ok(
        &cx.post("/api/v1/auth/logout", Some(&access), serde_json::json!({}))
            .await,
        "logout",
    );
    let r = cx.get("/account", Some(&access)).await;
    assert!(text(&r).contains("data-next=\"/account\""), "{}", text(&r));
}
http_case!(console_signed_in_pages_follow_the_session);

pub async fn console_admin_pages_and_controls_follow_permissions(cx: &HttpCtx) {
    let cx = with_console(cx).await;
    let user = cx.app.access_token_for("plain", &["user"]).await;
    let moderator = cx.app.access_token_for("mod", &["moderator"]).await;
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let target = user_id(&cx, "plain@example.com").await;
    let detail = format!("/admin/users/{target}");

    for path in [
        "/admin",
        "/admin/users",
        detail.as_str(),
        "/admin/audit",
        "/admin/roles",
    ] {
        let r = cx.get(path, Some(&user)).await;
        assert_eq!(r.status, 403, "{path} without admin:access");
        assert!(text(&r).contains("FORBIDDEN"));
    }

    // A moderator reads users but manages none: no action shown.
    let r = cx.get(&detail, Some(&moderator)).await;
    assert_eq!(r.status, 200, "{}", text(&r));
    assert!(!text(&r).contains("id=\"action-suspend\""));
    assert!(!text(&r).contains("id=\"user-roles\""));

    let r = cx.get(&detail, Some(&admin)).await;
    assert_eq!(r.status, 200);
    let page = text(&r);
    assert!(page.contains("id=\"action-suspend\"") && page.contains("id=\"user-roles\""));
    assert!(page.contains(&format!("data-detail=\"/admin/users/{target}\"")));

    // The roles editor: shown to who may update roles, not to a reader of them.
    let editor = "data-api=\"PUT /roles/";
    let r = cx.get("/admin/roles", Some(&moderator)).await;
    assert_eq!(r.status, 200);
    assert!(!text(&r).contains(editor));
    let r = cx.get("/admin/roles", Some(&admin)).await;
    assert!(text(&r).contains(editor) && text(&r).contains("data-api=\"POST /roles\""));

    // The dashboard's charts are drawn here, as SVG.
    let r = cx.get("/admin", Some(&admin)).await;
    assert_eq!(r.status, 200);
    assert!(text(&r).contains("<svg") && text(&r).contains("Users by role"));
    // The per-day charts, each titled and described for assistive technology.
    for chart in [
        "sign-ups-per-day",
        "sign-ins-per-day",
        "failed-sign-ins-per-day",
        "lockouts-per-day",
        "two-step-adoption",
    ] {
        assert!(
            text(&r).contains(&format!("aria-labelledby=\"{chart}-title {chart}-desc\"")),
            "{chart}"
        );
    }
    assert!(text(&r).contains("have two-step verification on."));

    // A malformed id is an unknown user, and nothing is rendered for it.
    assert_error(
        &cx.get("/admin/users/not-a-uuid", Some(&admin)).await,
        404,
        "NOT_FOUND",
    );
}
http_case!(console_admin_pages_and_controls_follow_permissions);

/// The cookies a browser holds for this console, by name.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    /// Keeps the cookies an answer sets (a cleared one is dropped); returns their names.
    fn keep(&mut self, r: &TestResponse) -> Vec<String> {
        let mut set = Vec::new();
        for (_, line) in r
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
        {
            let pair = line.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').expect("name=value");
            self.0.retain(|(n, _)| n != name);
            if !value.is_empty() {
                self.0.push((name.to_owned(), value.to_owned()));
            }
            set.push(name.to_owned());
        }
        set
    }

    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    /// The headers of the page's script calling the API: cookie mode, and on unsafe methods
    /// the same-origin fetch with the CSRF token.
    fn headers(&self, method: &str) -> Vec<(String, String)> {
        let cookies = self
            .0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut headers = vec![
            ("cookie".to_owned(), cookies),
            ("x-auth-mode".to_owned(), "cookie".to_owned()),
        ];
        if method != "GET" {
            headers.push(("sec-fetch-site".to_owned(), "same-origin".to_owned()));
            headers.push(("x-csrf-token".to_owned(), self.get("usermgmt_session_csrf")));
            headers.push(("content-type".to_owned(), "application/json".to_owned()));
        }
        headers
    }

    async fn send(&self, cx: &HttpCtx, method: &str, uri: &str) -> TestResponse {
        let body = if method == "GET" {
            Vec::new()
        } else {
            b"{}".to_vec()
        };
        cx.send(TestRequest {
            method: method.to_owned(),
            uri: uri.to_owned(),
            headers: self.headers(method),
            body,
        })
        .await
    }
}

pub async fn console_impersonation_uses_cookies_shows_a_banner_and_returns(cx: &HttpCtx) {
    let cx = with_console(cx).await;
    cx.app.access_token_for("root", &["admin"]).await;
    let email = cx.register_verified("ivy").await;
    let ivy = user_id(&cx, &email).await;
    let mut jar = Jar::default();
    let r = cx
        .send(TestRequest {
            method: "POST".into(),
            uri: "/api/v1/auth/login".into(),
            headers: vec![
                ("x-auth-mode".into(), "cookie".into()),
                ("content-type".into(), "application/json".into()),
            ],
            body: serde_json::to_vec(
                &serde_json::json!({"identifier": "root", "password": PASSWORD}),
            )
            .unwrap(),
        })
        .await;
    assert_eq!(r.status, 200, "{}", text(&r));
    jar.keep(&r);
    let admin_access = jar.get("usermgmt_session");
    let admin_refresh = jar.get("usermgmt_session_refresh");
    let csrf = jar.get("usermgmt_session_csrf");
    let impersonate = format!("/api/v1/admin/users/{ivy}/impersonate");

    // Cookie mode from a bearer caller would have to put the token in the body: refused.
    let bearer = vec![
        ("authorization".into(), format!("Bearer {admin_access}")),
        ("x-auth-mode".into(), "cookie".into()),
        ("content-type".into(), "application/json".into()),
    ];
    let r = cx
        .send(TestRequest {
            method: "POST".into(),
            uri: impersonate.clone(),
            headers: bearer,
            body: b"{}".to_vec(),
        })
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");

    // Started from the cookie session: the access cookie alone changes, no token in the body.
    let r = jar.send(&cx, "POST", &impersonate).await;
    let data = ok(&r, "impersonate in cookie mode");
    assert_eq!(data["tokenType"], serde_json::json!("Cookie"));
    assert_eq!(data["csrfToken"], serde_json::json!(csrf));
    assert!(data.get("accessToken").is_none());
    assert_eq!(jar.keep(&r), ["usermgmt_session"]);
    let line = r
        .headers
        .iter()
        .find(|(n, v)| n.eq_ignore_ascii_case("set-cookie") && v.starts_with("usermgmt_session="))
        .map(|(_, v)| v.clone())
        .unwrap();
    assert!(line.contains("HttpOnly"), "{line}");
    let token = jar.get("usermgmt_session");
    assert!(!text(&r).contains(&token));
    assert_eq!(claims(&token)["sub"], serde_json::json!(ivy.to_string()));
    assert!(claims(&token)["act"]["sub"].is_string());
    assert_eq!(jar.get("usermgmt_session_refresh"), admin_refresh);

    // Every page shows whose account it is and the way back; signing out is not offered.
    let page = text(&jar.send(&cx, "GET", "/account").await);
    assert!(page.contains("id=\"impersonation-banner\""), "{page}");
    assert!(page.contains("You are acting as ivy"));
    assert!(page.contains("data-call=\"POST /admin/impersonation/stop\""));
    assert!(page.contains(&format!("data-next=\"/admin/users/{ivy}\"")));
    assert!(!page.contains("id=\"sign-out\""));
    // The user's permissions, not the administrator's.
    assert_eq!(jar.send(&cx, "GET", "/admin").await.status, 403);

    // The way back: the administrator's fresh session in all three cookies.
    let r = jar
        .send(&cx, "POST", "/api/v1/admin/impersonation/stop")
        .await;
    let data = ok(&r, "stop");
    assert_eq!(data["tokens"]["tokenType"], serde_json::json!("Cookie"));
    assert_eq!(data["user"]["username"], serde_json::json!("root"));
    let mut set = jar.keep(&r);
    set.sort();
    assert_eq!(
        set,
        [
            "usermgmt_session",
            "usermgmt_session_csrf",
            "usermgmt_session_refresh"
        ]
    );
    assert!(claims(&jar.get("usermgmt_session")).get("act").is_none());
    assert_ne!(jar.get("usermgmt_session_refresh"), admin_refresh);
    let page = jar.send(&cx, "GET", "/admin").await;
    assert_eq!(page.status, 200);
    assert!(!text(&page).contains("impersonation-banner"));
    assert!(text(&page).contains("Signed in as root"));
    // The impersonation token ended with the session it rode on.
    let old = cx.get("/account", Some(&token)).await;
    assert!(!text(&old).contains("impersonation-banner"));
    assert!(text(&old).contains("data-next=\"/account\""));

    // Left to expire, an impersonation renews from the refresh cookie to the administrator.
    let r = jar.send(&cx, "POST", &impersonate).await;
    ok(&r, "again");
    jar.keep(&r);
    cx.app.clock.advance(time::Duration::minutes(16));
    let r = jar.send(&cx, "GET", "/api/v1/users/profile").await;
    assert_eq!(
        ok(&r, "renewed")["user"]["username"],
        serde_json::json!("root")
    );
    jar.keep(&r);
    assert!(claims(&jar.get("usermgmt_session")).get("act").is_none());
}
http_case!(console_impersonation_uses_cookies_shows_a_banner_and_returns);
