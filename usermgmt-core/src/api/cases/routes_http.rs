//! HTTP conformance cases for the HTTP surface: unknown routes, browser-facing headers, the first
//! seed's routes, the OpenAPI document and what contract fuzzing found. Each case registers
//! itself with `http_case!` right below its function (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::{Value, json};
use time::Duration;

pub async fn unknown_routes_and_methods_get_the_envelope(cx: &HttpCtx) {
    assert_error(&cx.get("/api/v1/nope", None).await, 404, "ROUTE_NOT_FOUND");
    assert_error(
        &cx.get("/api/v1/auth/login/extra/segments", None).await,
        404,
        "ROUTE_NOT_FOUND",
    );
    let r = cx.request("DELETE", "/api/v1/auth/login", None, None).await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("allow"), Some("POST"));
}
http_case!(unknown_routes_and_methods_get_the_envelope);

/// A CORS preflight for `POST /auth/login` from `origin`.
async fn preflight(cx: &HttpCtx, origin: &str) -> TestResponse {
    cx.send(TestRequest {
        method: "OPTIONS".to_owned(),
        uri: "/api/v1/auth/login".to_owned(),
        headers: vec![
            ("origin".to_owned(), origin.to_owned()),
            (
                "access-control-request-method".to_owned(),
                "POST".to_owned(),
            ),
            (
                "access-control-request-headers".to_owned(),
                "content-type".to_owned(),
            ),
        ],
        body: Vec::new(),
    })
    .await
}

/// Every answer carries the security headers; CORS is off by default, and when configured
/// answers preflights for allowed origins only and marks real answers for them.
pub async fn security_headers_and_cors(cx: &HttpCtx) {
    for r in [
        cx.get("/health", None).await,
        cx.get("/api/v1/users/profile", None).await,
        cx.get("/api/v1/nowhere", None).await,
        cx.raw(
            "POST",
            "/api/v1/auth/login",
            Some("application/json"),
            vec![b' '; 2 << 20],
        )
        .await,
    ] {
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{}",
            r.status
        );
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{}", r.status);
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert!(
            r.header("content-security-policy")
                .is_some_and(|v| v.contains("frame-ancestors 'none'"))
        );
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(
            r.header("access-control-allow-origin").is_none(),
            "CORS is off by default"
        );
        assert!(r.header("strict-transport-security").is_none());
    }
    assert_error(
        &preflight(cx, "https://app.example.com").await,
        403,
        "FORBIDDEN",
    );

    let browser = cx
        .with_config(
            crate::testing::test_config_builder()
                .cors(crate::config::CorsConfig {
                    allowed_origins: vec!["https://app.example.com".to_owned()],
                    allow_credentials: true,
                    max_age_secs: 600,
                })
                .hsts_max_age(Some(Duration::days(365)))
                .build()
                .unwrap(),
        )
        .await;
    let r = preflight(&browser, "https://app.example.com").await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert_eq!(r.header("access-control-allow-methods"), Some("POST"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(r.header("access-control-allow-credentials"), Some("true"));
    assert_eq!(r.header("access-control-max-age"), Some("600"));
    let r = preflight(&browser, "https://evil.example.net").await;
    assert_error(&r, 403, "FORBIDDEN");
    assert!(r.header("access-control-allow-origin").is_none());

    let r = browser
        .send(TestRequest {
            method: "GET".to_owned(),
            uri: "/api/v1/auth/check-username?username=somebody".to_owned(),
            headers: vec![("origin".to_owned(), "https://app.example.com".to_owned())],
            body: Vec::new(),
        })
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        r.header("access-control-expose-headers")
            .is_some_and(|h| h.contains("x-ratelimit-remaining"))
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000; includeSubDomains")
    );
    // An error the adapter raises itself (413) is readable by the allowed origin too.
    let r = browser
        .send(TestRequest {
            method: "POST".to_owned(),
            uri: "/api/v1/auth/login".to_owned(),
            headers: vec![
                ("origin".to_owned(), "https://app.example.com".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ],
            body: vec![b' '; 2 << 20],
        })
        .await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
}
http_case!(security_headers_and_cors);

pub async fn first_seed_routes_behind_one_switch(cx: &HttpCtx) {
    let body = json!({"email": "sam@example.com", "username": "sam", "password": PASSWORD});
    // Off by default in the library.
    assert!(matches!(
        cx.post("/api/v1/users/register", None, body.clone())
            .await
            .status,
        404 | 405
    ));

    let cx = cx.with_compatibility_routes().await;
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    let r = cx.post("/api/v1/users/register", None, body).await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let token = cx.app.token_mailed_to("sam@example.com").await.unwrap();
    ok(
        &cx.post("/api/v1/auth/confirm-email", None, json!({"token": token}))
            .await,
        "confirm",
    );
    let (sam_token, _) = cx.login("sam", PASSWORD).await;
    let sam = user_id(&cx, "sam@example.com").await;

    let r = cx
        .request(
            "PUT",
            "/api/v1/users/change-password",
            Some(&sam_token),
            Some(json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD})),
        )
        .await;
    ok(&r, "change password");
    // The first seed mailed a new password here; this sends a reset link only.
    ok(
        &cx.post(
            "/api/v1/users/reset-password",
            None,
            json!({"email": "sam@example.com"}),
        )
        .await,
        "reset",
    );
    cx.app.deliver_mail().await;
    let mail = cx.app.mailer.last_to("sam@example.com").unwrap();
    assert!(mail.subject.contains("reset"), "{}", mail.subject);
    assert!(mail.text.contains("token="));
    assert!(!mail.text.contains(NEW_PASSWORD));

    let list = ok(&cx.get("/api/v1/users", a).await, "list");
    assert_eq!(list["total"], json!(2));
    assert_error(
        &cx.get("/api/v1/users", Some(&sam_token)).await,
        403,
        "FORBIDDEN",
    );
    let one = ok(
        &cx.get(&format!("/api/v1/users/{sam}"), a).await,
        "get by id",
    );
    assert_eq!(one["user"]["username"], json!("sam"));
    assert_error(
        &cx.get(&format!("/api/v1/users/{sam}"), Some(&sam_token))
            .await,
        403,
        "FORBIDDEN",
    );
    // The public profile by username still answers on the same path.
    assert_eq!(
        ok(&cx.get("/api/v1/users/sam", None).await, "public")["username"],
        json!("sam")
    );
    assert_error(
        &cx.request(
            "DELETE",
            &format!("/api/v1/users/{sam}"),
            Some(&sam_token),
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    ok(
        &cx.request("DELETE", &format!("/api/v1/users/{sam}"), a, None)
            .await,
        "delete",
    );
    assert_error(
        &cx.request("DELETE", "/api/v1/users/not-an-id", a, None)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "sam", "password": NEW_PASSWORD}),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
}
http_case!(first_seed_routes_behind_one_switch);

/// The first seed's clients call its paths at the server root (`POST /users/register`,
/// `POST /auth/login`, …). With `compatibility_root_routes` (and the compatibility routes) on,
/// the root path is the same row as under `/api/v1`: the same handler, envelope, rate-limit
/// counter and bearer check. Bodies are the seed document's, byte for byte, where they work
/// as written (register and change-password use today's bodies; the seed's own are item 1's
/// and 2's cases).
pub async fn first_seed_paths_at_the_root(cx: &HttpCtx) {
    use crate::api::ApiRequest;
    // Either setting off, the root paths are not the API's: the adapters do not mount them,
    // and core does not route them.
    for (compat, root) in [(false, true), (true, false), (false, false)] {
        let config = crate::testing::test_config_builder()
            .compatibility_routes(compat)
            .compatibility_root_routes(root)
            .build()
            .unwrap();
        let off = cx.with_config(config).await;
        let roots = off.app.api.root_paths();
        assert!(
            !roots
                .iter()
                .any(|p| p.starts_with("/users") || p.starts_with("/auth")),
            "{roots:?}"
        );
        let mut request = ApiRequest::new("POST", "/auth/login");
        request.headers = vec![("content-type".into(), "application/json".into())];
        request.body = br#"{ "email": "x@example.com", "password": "secretpassword" }"#.to_vec();
        assert_eq!(off.app.api.handle(request).await.status, 404);
        // Trailing-slash forms are served whatever the compatibility settings.
        let r = off
            .get("/api/v1/auth/check-username/?username=someone", None)
            .await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    let cx = cx.with_first_seed_at_root().await;
    let roots = cx.app.api.root_paths();
    for path in [
        "/health",
        "/users",
        "/users/register",
        "/users/reset-password",
        "/users/change-password",
        "/users/{username}",
        "/auth/login",
        "/auth/confirm-email",
        "/users/register/",
    ] {
        assert!(roots.iter().any(|p| p == path), "{path} in {roots:?}");
    }
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());

    // Register (with a username: the seed's body without one is issue 15 item 1's case). It
    // counts against the same register limit as the /api/v1 path.
    let r = cx
        .send_text(
            "POST",
            "/users/register",
            None,
            &format!(
                r#"{{ "email": "john@example.com", "username": "john", "password": "{PASSWORD}", "firstName": "John", "lastName": "Doe" }}"#
            ),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["success"], json!(true));
    let next = cx
        .post(
            "/api/v1/users/register",
            None,
            json!({"email": "jane@example.com", "username": "jane", "password": PASSWORD}),
        )
        .await;
    assert_eq!(next.status, 201);
    assert_eq!(
        r.header("x-ratelimit-limit"),
        next.header("x-ratelimit-limit")
    );
    if let (Some(first), Some(second)) = (
        r.header("x-ratelimit-remaining"),
        next.header("x-ratelimit-remaining"),
    ) {
        let (first, second): (u32, u32) = (first.parse().unwrap(), second.parse().unwrap());
        assert_eq!(second + 1, first, "one counter for both paths");
    }

    // Confirm the address, as the seed document writes it.
    let token = cx.app.token_mailed_to("john@example.com").await.unwrap();
    ok(
        &cx.send_text(
            "POST",
            "/auth/confirm-email",
            None,
            &format!(r#"{{ "token": "{token}" }}"#),
        )
        .await,
        "confirm at the root",
    );

    // Log in with the seed's body (its `email` member); a wrong password is the same 401.
    assert_error(
        &cx.send_text(
            "POST",
            "/auth/login",
            None,
            r#"{ "email": "john@example.com", "password": "secretpassword" }"#,
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    let r = cx
        .send_text(
            "POST",
            "/auth/login",
            None,
            &format!(r#"{{ "email": "john@example.com", "password": "{PASSWORD}" }}"#),
        )
        .await;
    let john_token = ok(&r, "login at the root")["tokens"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();

    // Change password: the bearer is required as under /api/v1 (401 before anything else).
    let change = format!(
        r#"{{"currentPassword": "{PASSWORD}", "newPassword": "{NEW_PASSWORD}", "confirmPassword": "{NEW_PASSWORD}"}}"#
    );
    assert_error(
        &cx.send_text("PUT", "/users/change-password", None, &change)
            .await,
        401,
        "UNAUTHENTICATED",
    );
    ok(
        &cx.send_text("PUT", "/users/change-password", Some(&john_token), &change)
            .await,
        "change password at the root",
    );

    // The reset request as the seed sends it: a link is mailed.
    ok(
        &cx.send_text(
            "POST",
            "/users/reset-password",
            None,
            r#"{ "email": "john@example.com" }"#,
        )
        .await,
        "reset at the root",
    );

    // The administrator's reads and delete, by permission as under /api/v1.
    let john = user_id(&cx, "john@example.com").await;
    let list = ok(&cx.get("/users", a).await, "list at the root");
    assert_eq!(list["total"], json!(3));
    assert_error(&cx.get("/users", Some(&john_token)).await, 403, "FORBIDDEN");
    assert_error(&cx.get("/users", None).await, 401, "UNAUTHENTICATED");
    let one = ok(&cx.get(&format!("/users/{john}"), a).await, "get by id");
    assert_eq!(one["user"]["username"], json!("john"));
    ok(
        &cx.request("DELETE", &format!("/users/{john}"), a, None)
            .await,
        "delete at the root",
    );

    // Only the first seed's paths: other rows stay under /api/v1 alone.
    assert_error(&cx.get("/users/profile", a).await, 404, "ROUTE_NOT_FOUND");
    let mut request = ApiRequest::new("POST", "/auth/register");
    request.headers = vec![("content-type".into(), "application/json".into())];
    request.body = b"{}".to_vec();
    assert_eq!(cx.app.api.handle(request).await.status, 404);
    assert!(!roots.iter().any(|p| p == "/auth/register"));
}
http_case!(first_seed_paths_at_the_root);

/// The second seed's clients write some paths with a trailing slash (`GET /sessions/`,
/// `POST /roles/`, `DELETE /account/`, …), which Fastify served as the same routes. One
/// trailing slash names the same row here too (no redirect: a POST keeps its body), through
/// both adapters and in the body limits; two slashes do not.
pub async fn one_trailing_slash_names_the_same_route(cx: &HttpCtx) {
    let email = cx.register_verified("slashed").await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let t = Some(token.as_str());
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());

    let sessions = ok(&cx.get("/api/v1/sessions/", t).await, "GET /sessions/");
    assert_eq!(
        sessions,
        ok(&cx.get("/api/v1/sessions", t).await, "GET /sessions")
    );
    let roles = ok(&cx.get("/api/v1/roles/", a).await, "GET /roles/");
    assert_eq!(roles.as_array().unwrap().len(), 3);
    // The seed's role body, as its clients send it (its permission names are item 5's case).
    let r = cx
        .send_text(
            "POST",
            "/api/v1/roles/",
            a,
            r#"{"name": "support", "description": "Support desk", "permissions": ["user:read"]}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.json()["data"]["name"], json!("support"));
    ok(&cx.get("/api/v1/audit/", a).await, "GET /audit/");
    ok(
        &cx.get("/api/v1/notifications/", t).await,
        "GET /notifications/",
    );
    ok(
        &cx.request("DELETE", "/api/v1/notifications/", t, None)
            .await,
        "DELETE /notifications/",
    );
    // Authentication, body checks and 405 are the route's own.
    assert_error(
        &cx.get("/api/v1/sessions/", None).await,
        401,
        "UNAUTHENTICATED",
    );
    let r = cx
        .send(TestRequest {
            method: "POST".into(),
            uri: "/api/v1/roles/".into(),
            headers: vec![
                ("authorization".into(), format!("Bearer {admin}")),
                ("content-type".into(), "text/plain".into()),
            ],
            body: b"{}".to_vec(),
        })
        .await;
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    let r = cx.request("PATCH", "/api/v1/sessions/", t, None).await;
    assert_error(&r, 405, "METHOD_NOT_ALLOWED");
    // One slash only, and not a second name for a missing path.
    assert_error(
        &cx.get("/api/v1/sessions//", t).await,
        404,
        "ROUTE_NOT_FOUND",
    );
    assert_error(&cx.get("/api/v1/no-such/", t).await, 404, "ROUTE_NOT_FOUND");
    // The body limit is the row's: the avatar upload's, not the default.
    let api = &cx.app.api;
    assert_eq!(
        api.max_body_bytes_for("POST", "/api/v1/upload/avatar/"),
        api.max_body_bytes_for("POST", "/api/v1/upload/avatar")
    );
    assert!(api.max_body_bytes_for("POST", "/api/v1/upload/avatar/") > api.max_body_bytes());
    // Deleting the account with the slash, as the second seed's clients do.
    let r = cx
        .send_text(
            "DELETE",
            "/api/v1/account/",
            t,
            &format!(r#"{{"password": "{PASSWORD}"}}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
}
http_case!(one_trailing_slash_names_the_same_route);

fn documented_operations(doc: &Value) -> std::collections::BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, methods)| {
            methods
                .as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

pub async fn openapi_document_and_api_page(cx: &HttpCtx) {
    use crate::ROUTES;
    use crate::api::openapi::documented_path;
    let r = cx.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], json!("3.1.0"));
    // Every served route is documented, and nothing else (the console's pages are served
    // only with `Config::console` on).
    let served: std::collections::BTreeSet<_> = ROUTES
        .iter()
        .filter(|r| !r.compat && !r.console_page)
        .map(|r| (r.method.to_owned(), documented_path(r.path)))
        .collect();
    assert_eq!(documented_operations(&doc), served);
    for route in ROUTES.iter().filter(|r| !r.compat && !r.console_page) {
        let op = &doc["paths"][documented_path(route.path)][route.method.to_ascii_lowercase()];
        assert_eq!(
            op["security"].is_array(),
            route.authenticated,
            "{} {}",
            route.method,
            route.path
        );
        assert!(op["responses"]["default"].is_object());
    }
    let register = &doc["paths"]["/api/v1/auth/register"]["post"];
    assert_eq!(
        register["requestBody"]["content"]["application/json"]["schema"]["required"],
        json!(["email", "username", "password"])
    );
    let codes = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(codes, crate::error::ALL_CODES.len());
    // With the first seed's routes on, they are documented too.
    let compat = cx.with_compatibility_routes().await;
    let doc = compat.get("/api/v1/openapi.json", None).await.json();
    let not_console = ROUTES.iter().filter(|r| !r.console_page).count();
    assert_eq!(documented_operations(&doc).len(), not_console);

    // The page works with no network: every file it needs is served here.
    let page = cx.get("/docs", None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let html = String::from_utf8_lossy(&page.body).to_string();
    assert!(html.contains("swagger-ui"), "{html}");
    // Served at /docs, so every file it links is named under /docs/.
    for link in [
        "/docs/swagger-ui.css",
        "/docs/index.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        assert!(html.contains(link), "{link} in {html}");
        assert_eq!(cx.get(link, None).await.status, 200, "{link}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no remote asset"
    );
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    let init = cx.get("/docs/swagger-initializer.js", None).await;
    assert_eq!(init.status, 200, "{}", String::from_utf8_lossy(&init.body));
    assert!(String::from_utf8_lossy(&init.body).contains("/api/v1/openapi.json"));
    for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js"] {
        let r = cx.get(asset, None).await;
        assert_eq!(r.status, 200, "{asset}");
        assert!(r.body.len() > 1000, "{asset}");
    }
    assert_error(
        &cx.get("/docs/no-such-file.js", None).await,
        404,
        "ROUTE_NOT_FOUND",
    );
}
http_case!(openapi_document_and_api_page);

/// What the contract fuzzing (examples/contract) found, held here: a body must be an object
/// (serde would read a struct from an array), a whole number may be written `90.0`, a body of
/// only spaces is not JSON (it was read as `{}`), blank query values read as absent as the
/// document says, and a request without credentials learns it must authenticate even when its
/// budget is spent.
pub async fn contract_fuzzing_findings(cx: &HttpCtx) {
    let email = cx.register_verified("fuzzed").await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let before = cx.get("/api/v1/users/profile", Some(&token)).await.data();
    for body in [
        json!([null, null]),
        json!(["Ada", "Lovelace"]),
        json!("text"),
        json!(7),
    ] {
        let r = cx
            .request("PATCH", "/api/v1/users/profile", Some(&token), Some(body))
            .await;
        assert_error(&r, 422, "VALIDATION_ERROR");
        assert_eq!(r.json()["errors"][0]["field"], json!("body"));
    }
    let after = cx.get("/api/v1/users/profile", Some(&token)).await.data();
    assert_eq!(before["profile"], after["profile"], "nothing changed");

    for blank_body in ["\t", " \r\n "] {
        let r = cx
            .send(TestRequest {
                method: "PUT".to_owned(),
                uri: "/api/v1/users/preferences".to_owned(),
                headers: vec![
                    ("authorization".to_owned(), format!("Bearer {token}")),
                    ("content-type".to_owned(), "application/json".to_owned()),
                ],
                body: blank_body.as_bytes().to_vec(),
            })
            .await;
        assert_error(&r, 400, "MALFORMED_JSON");
    }

    let admin = cx.app.access_token_for("keeper", &["admin"]).await;
    // Blank filters, as an HTML form sends them, are no filters (the document says so too:
    // each of these parameters' schemas admits a blank value).
    let all = cx.get("/api/v1/admin/users", Some(&admin)).await.data();
    let blank = cx
        .get(
            "/api/v1/admin/users?status=&verified=%20&sortBy=&order=&q=&role=",
            Some(&admin),
        )
        .await
        .data();
    assert_eq!(all["total"], blank["total"]);
    let cleanup = "/api/v1/audit/cleanup";
    let r = cx
        .post(cleanup, Some(&admin), json!({"retentionDays": 90.0}))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    for days in [json!(1.5), json!(-3), json!("90")] {
        let r = cx
            .post(cleanup, Some(&admin), json!({"retentionDays": days}))
            .await;
        assert_error(&r, 422, "VALIDATION_ERROR");
        assert_eq!(r.json()["errors"][0]["field"], json!("retentionDays"));
    }

    // Spend the client's whole global budget, then ask without credentials.
    let global = cx.app.manager.config().rate_limits.global.max;
    let mut refused = None;
    for _ in 0..=global {
        let r = cx.get("/api/v1/users/profile", Some(&token)).await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
    }
    assert_error(&refused.expect("the budget runs out"), 429, "RATE_LIMITED");
    let r = cx.get("/api/v1/users/profile", None).await;
    assert_error(&r, 401, "UNAUTHENTICATED");
}
http_case!(contract_fuzzing_findings);
