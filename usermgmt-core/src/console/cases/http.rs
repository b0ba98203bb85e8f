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

    // A malformed id is an unknown user, and nothing is rendered for it.
    assert_error(
        &cx.get("/admin/users/not-a-uuid", Some(&admin)).await,
        404,
        "NOT_FOUND",
    );
}
http_case!(console_admin_pages_and_controls_follow_permissions);
