//! HTTP conformance cases for cookie sessions (`api/cookies.rs`): signing in with
//! `X-Auth-Mode: cookie`, the cookies' attributes, CSRF, renewal by the server, logout and
//! revocation. These cases send their own headers, as a browser would; every other case also
//! runs with its client presenting tokens as cookies (the `cookie::` trials).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::{Value, json};
use time::Duration;

/// What a browser keeps of a cookie session.
struct Browser {
    access: String,
    refresh: String,
    csrf: String,
}

/// The `Set-Cookie` headers of an answer, by cookie name: (value, attributes as written).
fn set_cookies(r: &TestResponse) -> Vec<(String, String, String)> {
    r.headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, line)| {
            let (pair, attributes) = line.split_once(';').unwrap_or((line, ""));
            let (name, value) = pair.split_once('=').expect("name=value");
            (
                name.trim().to_owned(),
                value.trim().to_owned(),
                attributes.to_owned(),
            )
        })
        .collect()
}

fn cookie(r: &TestResponse, name: &str) -> Option<(String, String)> {
    set_cookies(r)
        .into_iter()
        .find(|(n, _, _)| n == name)
        .map(|(_, value, attributes)| (value, attributes))
}

/// `POST` (or any method) with a JSON body and the given extra headers.
async fn send(
    cx: &HttpCtx,
    method: &str,
    uri: &str,
    headers: Vec<(String, String)>,
    body: Option<Value>,
) -> TestResponse {
    let mut all = headers;
    let body = match body {
        Some(body) => {
            all.push(("content-type".to_owned(), "application/json".to_owned()));
            serde_json::to_vec(&body).unwrap()
        }
        None => Vec::new(),
    };
    cx.send(TestRequest {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers: all,
        body,
    })
    .await
}

fn h(name: &str, value: &str) -> (String, String) {
    (name.to_owned(), value.to_owned())
}

impl Browser {
    /// The `Cookie` header this browser sends to the API's paths.
    fn cookies(&self) -> (String, String) {
        h(
            "cookie",
            &format!(
                "usermgmt_session={}; usermgmt_session_refresh={}; usermgmt_session_csrf={}",
                self.access, self.refresh, self.csrf
            ),
        )
    }

    /// The headers of a same-origin page's unsafe request.
    fn unsafe_headers(&self) -> Vec<(String, String)> {
        vec![
            self.cookies(),
            h("sec-fetch-site", "same-origin"),
            h("x-csrf-token", &self.csrf),
        ]
    }

    /// Takes the cookies an answer sets.
    fn keep(&mut self, r: &TestResponse) {
        if let Some((value, _)) = cookie(r, "usermgmt_session") {
            self.access = value;
        }
        if let Some((value, _)) = cookie(r, "usermgmt_session_refresh") {
            self.refresh = value;
        }
        if let Some((value, _)) = cookie(r, "usermgmt_session_csrf") {
            self.csrf = value;
        }
    }
}

/// Registers `name` and signs in with `X-Auth-Mode: cookie`; the answer and the browser.
async fn cookie_sign_in(cx: &HttpCtx, name: &str) -> (TestResponse, Browser) {
    cx.register_verified(name).await;
    let r = send(
        cx,
        "POST",
        "/api/v1/auth/login",
        vec![h("x-auth-mode", "cookie")],
        Some(json!({"identifier": name, "password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let mut browser = Browser {
        access: String::new(),
        refresh: String::new(),
        csrf: String::new(),
    };
    browser.keep(&r);
    (r, browser)
}

pub async fn a_cookie_sign_in_sets_http_only_cookies_and_no_token_in_the_body(cx: &HttpCtx) {
    let (r, browser) = cookie_sign_in(cx, "cookie_alice").await;
    let data = r.data();
    assert_eq!(data["user"]["username"], json!("cookie_alice"));
    let tokens = &data["tokens"];
    assert_eq!(tokens["tokenType"], json!("Cookie"));
    assert_eq!(tokens["expiresIn"], json!(900));
    assert_eq!(tokens["csrfToken"], json!(browser.csrf));
    let text = String::from_utf8_lossy(&r.body);
    assert!(
        !text.contains(&browser.access),
        "no access token in the body"
    );
    assert!(
        !text.contains(&browser.refresh),
        "no refresh token in the body"
    );
    assert!(!text.contains("accessToken") && !text.contains("refreshToken"));

    let (_, access) = cookie(&r, "usermgmt_session").unwrap();
    let (_, refresh) = cookie(&r, "usermgmt_session_refresh").unwrap();
    let (_, csrf) = cookie(&r, "usermgmt_session_csrf").unwrap();
    for attributes in [&access, &refresh, &csrf] {
        for wanted in ["Secure", "SameSite=Lax", "Max-Age=604800"] {
            assert!(
                attributes.split(';').any(|a| a.trim() == wanted),
                "{wanted}: {attributes}"
            );
        }
    }
    let has = |attributes: &str, wanted: &str| attributes.split(';').any(|a| a.trim() == wanted);
    assert!(
        has(&access, "HttpOnly") && has(&access, "Path=/"),
        "{access}"
    );
    assert!(has(&refresh, "HttpOnly"), "{refresh}");
    assert!(
        has(&refresh, "Path=/api/v1"),
        "refresh only to the API: {refresh}"
    );
    assert!(
        !has(&csrf, "HttpOnly") && has(&csrf, "Path=/"),
        "the page's script reads it: {csrf}"
    );

    // The session is an ordinary one: the cookie reads the profile and lists it as current.
    let me = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_eq!(me.status, 200, "{}", String::from_utf8_lossy(&me.body));
    assert_eq!(me.data()["user"]["username"], json!("cookie_alice"));
    let sessions = send(cx, "GET", "/api/v1/sessions", vec![browser.cookies()], None).await;
    let sessions = ok(&sessions, "sessions");
    let listed = sessions.as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["isCurrent"], json!(true), "{sessions}");
    assert!(
        cx.audit_actions("cookie_alice@example.com")
            .await
            .contains(&"USER_LOGIN".to_owned())
    );
}
http_case!(a_cookie_sign_in_sets_http_only_cookies_and_no_token_in_the_body);

pub async fn cookie_requests_that_change_something_need_the_csrf_token(cx: &HttpCtx) {
    let (_, browser) = cookie_sign_in(cx, "cookie_bob").await;
    let change = |headers: Vec<(String, String)>| {
        send(
            cx,
            "PUT",
            "/api/v1/users/profile",
            headers,
            Some(json!({"firstName": "Mallory"})),
        )
    };
    let refused = [
        // No token at all.
        vec![browser.cookies(), h("sec-fetch-site", "same-origin")],
        // A wrong one.
        vec![
            browser.cookies(),
            h("sec-fetch-site", "same-origin"),
            h("x-csrf-token", "bm90LXRoZS10b2tlbg"),
        ],
        // The right one, from another site.
        vec![
            browser.cookies(),
            h("sec-fetch-site", "cross-site"),
            h("origin", "https://evil.example"),
            h("x-csrf-token", &browser.csrf),
        ],
        vec![
            browser.cookies(),
            h("origin", "https://evil.example"),
            h("x-csrf-token", &browser.csrf),
        ],
    ];
    for headers in refused {
        assert_error(&change(headers).await, 403, "CSRF_FAILED");
    }
    let profile = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_eq!(
        profile.data()["user"]["firstName"],
        Value::Null,
        "nothing changed"
    );

    let r = change(browser.unsafe_headers()).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["user"]["firstName"], json!("Mallory"));
    // A client that is no browser (no Sec-Fetch-Site, no Origin) still needs the token.
    let r = change(vec![browser.cookies(), h("x-csrf-token", &browser.csrf)]).await;
    assert_eq!(r.status, 200);
}
http_case!(cookie_requests_that_change_something_need_the_csrf_token);

pub async fn an_expired_cookie_session_is_renewed_by_the_server(cx: &HttpCtx) {
    let (_, mut browser) = cookie_sign_in(cx, "cookie_carol").await;
    let first = (browser.access.clone(), browser.refresh.clone());
    cx.app.clock.advance(Duration::minutes(16));
    let r = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_eq!(
        r.status,
        200,
        "renewed: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.data()["user"]["username"], json!("cookie_carol"));
    browser.keep(&r);
    assert_ne!(browser.access, first.0, "a new access cookie");
    assert_ne!(browser.refresh, first.1, "the refresh token rotated");
    // The same session, so the same CSRF token still works.
    let r = send(
        cx,
        "PUT",
        "/api/v1/users/profile",
        browser.unsafe_headers(),
        Some(json!({"lastName": "Renewed"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    // The rotated-away refresh cookie, replayed after the grace window: theft, the session ends.
    cx.app.clock.advance(Duration::minutes(16));
    let stolen = Browser {
        access: first.0,
        refresh: first.1,
        csrf: browser.csrf.clone(),
    };
    let r = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![stolen.cookies()],
        None,
    )
    .await;
    assert_error(&r, 401, "TOKEN_REUSE_DETECTED");
    let cleared = cookie(&r, "usermgmt_session").expect("the cookies are cleared");
    assert!(cleared.1.contains("Max-Age=0"), "{cleared:?}");
    let r = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_eq!(r.status, 401, "the whole session ended");
    assert!(
        cx.audit_actions("cookie_carol@example.com")
            .await
            .contains(&"TOKEN_REUSE_DETECTED".to_owned())
    );
}
http_case!(an_expired_cookie_session_is_renewed_by_the_server);

/// Two requests of one page at once with the same expired cookie (tabs, parallel fetches):
/// both renew within the refresh grace, neither signs the user out.
pub async fn concurrent_renewals_of_one_cookie_session_all_succeed(cx: &HttpCtx) {
    let (_, browser) = cookie_sign_in(cx, "cookie_dave").await;
    cx.app.clock.advance(Duration::minutes(16));
    let requests = (0..4).map(|_| {
        send(
            cx,
            "GET",
            "/api/v1/users/profile",
            vec![browser.cookies()],
            None,
        )
    });
    let answers = futures_util::future::join_all(requests).await;
    for r in &answers {
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        assert!(
            cookie(r, "usermgmt_session").is_some(),
            "renewed cookies set"
        );
    }
    // Every renewed pair works.
    for r in &answers {
        let mut tab = Browser {
            access: String::new(),
            refresh: String::new(),
            csrf: browser.csrf.clone(),
        };
        tab.keep(r);
        let me = send(
            cx,
            "GET",
            "/api/v1/users/profile",
            vec![tab.cookies()],
            None,
        )
        .await;
        assert_eq!(me.status, 200);
    }
}
http_case!(concurrent_renewals_of_one_cookie_session_all_succeed);

pub async fn refresh_on_demand_and_logout_in_cookie_mode(cx: &HttpCtx) {
    let (_, mut browser) = cookie_sign_in(cx, "cookie_erin").await;
    let old_access = browser.access.clone();
    let r = send(
        cx,
        "POST",
        "/api/v1/auth/refresh",
        vec![h("x-auth-mode", "cookie"), browser.cookies()],
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["tokenType"], json!("Cookie"));
    assert_eq!(r.data()["csrfToken"], json!(browser.csrf));
    assert!(r.data().get("refreshToken").is_none());
    browser.keep(&r);
    assert_ne!(browser.access, old_access);
    // Without its cookie (and without a body token) a cookie-mode refresh is refused.
    let r = send(
        cx,
        "POST",
        "/api/v1/auth/refresh",
        vec![h("x-auth-mode", "cookie")],
        Some(json!({})),
    )
    .await;
    assert_error(&r, 422, "VALIDATION_ERROR");

    // Logout without the CSRF token changes nothing.
    let r = send(
        cx,
        "POST",
        "/api/v1/auth/logout",
        vec![browser.cookies(), h("sec-fetch-site", "same-origin")],
        Some(json!({})),
    )
    .await;
    assert_error(&r, 403, "CSRF_FAILED");
    let r = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_eq!(r.status, 200);

    let r = send(
        cx,
        "POST",
        "/api/v1/auth/logout",
        browser.unsafe_headers(),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    for name in [
        "usermgmt_session",
        "usermgmt_session_refresh",
        "usermgmt_session_csrf",
    ] {
        let (value, attributes) = cookie(&r, name).unwrap_or_else(|| panic!("{name} cleared"));
        assert!(
            value.is_empty() && attributes.contains("Max-Age=0"),
            "{name}: {attributes}"
        );
    }
    let r = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_error(&r, 401, "INVALID_TOKEN");
    let r = send(
        cx,
        "POST",
        "/api/v1/auth/refresh",
        vec![h("x-auth-mode", "cookie"), browser.cookies()],
        Some(json!({})),
    )
    .await;
    assert_error(&r, 401, "INVALID_REFRESH_TOKEN");
    assert!(cookie(&r, "usermgmt_session_refresh").is_some_and(|(v, _)| v.is_empty()));
}
http_case!(refresh_on_demand_and_logout_in_cookie_mode);

pub async fn a_cookie_session_revoked_elsewhere_ends_at_once(cx: &HttpCtx) {
    let (_, browser) = cookie_sign_in(cx, "cookie_faye").await;
    let (phone, _) = cx.login("cookie_faye", PASSWORD).await;
    let sessions = ok(&cx.get("/api/v1/sessions", Some(&phone)).await, "sessions");
    let browser_session = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["isCurrent"] == json!(false))
        .expect("the browser's session")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/sessions/{browser_session}"),
            Some(&phone),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let r = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_error(&r, 401, "INVALID_TOKEN");
    assert!(
        cookie(&r, "usermgmt_session")
            .is_some_and(|(v, a)| v.is_empty() && a.contains("Max-Age=0"))
    );
}
http_case!(a_cookie_session_revoked_elsewhere_ends_at_once);

pub async fn headers_win_over_cookies_and_the_mode_header_is_checked(cx: &HttpCtx) {
    let (_, browser) = cookie_sign_in(cx, "cookie_gus").await;
    cx.register_verified("bearer_hal").await;
    let (hal, _) = cx.login("bearer_hal", PASSWORD).await;
    let r = send(
        cx,
        "GET",
        "/api/v1/users/profile",
        vec![
            browser.cookies(),
            h("authorization", &format!("Bearer {hal}")),
        ],
        None,
    )
    .await;
    assert_eq!(r.data()["user"]["username"], json!("bearer_hal"));
    // A bearer request needs no CSRF token, whatever cookies ride along.
    let r = send(
        cx,
        "PUT",
        "/api/v1/users/profile",
        vec![
            browser.cookies(),
            h("authorization", &format!("Bearer {hal}")),
        ],
        Some(json!({"firstName": "Hal"})),
    )
    .await;
    assert_eq!(r.status, 200);

    let r = send(
        cx,
        "POST",
        "/api/v1/auth/login",
        vec![h("x-auth-mode", "session")],
        Some(json!({"identifier": "bearer_hal", "password": PASSWORD})),
    )
    .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["X-Auth-Mode"]);
    // A server without cookie sessions says so instead of answering tokens in the body.
    let bearer_only = cx
        .with_config(
            crate::testing::test_config_builder()
                .build()
                .map(|mut config| {
                    config.cookie_sessions = None;
                    config
                })
                .unwrap(),
        )
        .await;
    bearer_only.register_verified("plain_ivy").await;
    let r = send(
        &bearer_only,
        "POST",
        "/api/v1/auth/login",
        vec![h("x-auth-mode", "cookie")],
        Some(json!({"identifier": "plain_ivy", "password": PASSWORD})),
    )
    .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert!(set_cookies(&r).is_empty());
    assert!(
        !cx.audit_actions("plain_ivy@example.com")
            .await
            .contains(&"USER_LOGIN".to_owned())
    );
    // Nor does it take a cookie as a credential.
    let r = send(
        &bearer_only,
        "GET",
        "/api/v1/users/profile",
        vec![browser.cookies()],
        None,
    )
    .await;
    assert_error(&r, 401, "UNAUTHENTICATED");
}
http_case!(headers_win_over_cookies_and_the_mode_header_is_checked);
