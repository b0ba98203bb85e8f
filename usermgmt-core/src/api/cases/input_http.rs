//! HTTP conformance cases for input handling: the error envelope, media types, names, and rate
//! limits per client. Each case registers itself with `http_case!` right below its function
//! (see [`crate::testing::runner`]).

use crate::ratelimit::{Limit, RateLimitConfig};
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use futures_util::future::join_all;
use serde_json::{Value, json};
use time::Duration;

pub async fn bad_input_gets_the_envelope_and_changes_nothing(cx: &HttpCtx) {
    let reg = "/api/v1/auth/register";
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            b"{\"email\": ".to_vec(),
        )
        .await,
        400,
        "MALFORMED_JSON",
    );
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            b"\xff\xfe{}".to_vec(),
        )
        .await,
        400,
        "MALFORMED_JSON",
    );
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            "[".repeat(5000).into_bytes(),
        )
        .await,
        400,
        "MALFORMED_JSON",
    );
    let r = cx
        .post(
            reg,
            None,
            json!({"email": 5, "username": "eve", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["email"]);
    let r = cx.post(reg, None, json!({"email": "eve@example.com", "username": "eve", "password": PASSWORD, "isAdmin": true})).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert!(
        r.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("isAdmin")
    );
    assert_error(
        &cx.raw("POST", reg, Some("text/plain"), b"email=eve".to_vec())
            .await,
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    );
    let huge = format!("{{\"email\": \"{}\"}}", "a".repeat(2 * 1024 * 1024));
    assert_error(
        &cx.raw("POST", reg, Some("application/json"), huge.into_bytes())
            .await,
        413,
        "PAYLOAD_TOO_LARGE",
    );
    assert_error(
        &cx.raw(
            "POST",
            reg,
            Some("application/json"),
            b"\"a string\"".to_vec(),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    let r = cx
        .get("/api/v1/auth/check-email?email=eve@example.com", None)
        .await;
    assert_eq!(
        r.data()["available"],
        json!(true),
        "nothing was created by bad input"
    );
}
http_case!(bad_input_gets_the_envelope_and_changes_nothing);

pub async fn rate_limits_answer_429_with_headers(cx: &HttpCtx) {
    let limit = cx.app.manager.config().rate_limits.login;
    let attempt = || {
        cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "nobody", "password": PASSWORD}),
        )
    };
    let first = attempt().await;
    assert_eq!(
        first.header("x-ratelimit-limit"),
        Some(limit.max.to_string().as_str())
    );
    assert_eq!(
        first.header("x-ratelimit-remaining"),
        Some((limit.max - 1).to_string().as_str())
    );
    for _ in 1..limit.max {
        assert_eq!(attempt().await.status, 401);
    }
    let refused = attempt().await;
    assert_error(&refused, 429, "RATE_LIMITED");
    let retry: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!(retry >= 1 && retry <= limit.window.whole_seconds() as u64);
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert!(refused.header("x-ratelimit-reset").is_some());
    assert_eq!(
        cx.get("/health", None).await.status,
        200,
        "probes are never limited"
    );
    assert_eq!(
        cx.get("/api/v1/auth/check-username?username=free_name", None)
            .await
            .status,
        200,
        "other routes keep their own budget"
    );
    cx.app.clock.advance(limit.window);
    assert_eq!(attempt().await.status, 401, "a new window");
}
http_case!(rate_limits_answer_429_with_headers);

/// A registration of `name` (`name@example.com`) with `extra` members merged in.
fn registration(name: &str, extra: Value) -> Value {
    let mut body =
        json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    body
}

/// A request with a raw body and, when given, its `Content-Type`.
fn with_body(
    method: &str,
    uri: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
) -> TestRequest {
    let mut headers = Vec::new();
    if let Some(ct) = content_type {
        headers.push(("content-type".to_owned(), ct.to_owned()));
    }
    if let Some(t) = token {
        headers.push(("authorization".to_owned(), format!("Bearer {t}")));
    }
    TestRequest {
        method: method.to_owned(),
        uri: uri.to_owned(),
        headers,
        body: body.to_vec(),
    }
}

/// Whether an account exists for `email` (read from the store: nothing about the API's answer).
async fn stored(cx: &HttpCtx, email: &str) -> bool {
    cx.app
        .manager
        .store()
        .user_by_email(email)
        .await
        .unwrap()
        .is_some()
}

/// Delivers due mail and returns every mail sent to `to`.
async fn mail_to(cx: &HttpCtx, to: &str) -> Vec<crate::mail::Email> {
    cx.app.deliver_mail().await;
    cx.app
        .mailer
        .sent()
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

/// The fields a 422 names, each once (a field breaking two rules has two entries).
fn fields_named(r: &TestResponse) -> Vec<String> {
    let mut fields = error_fields(r);
    fields.dedup();
    fields
}

fn body_text(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

/// A body is read only when its media type is JSON (`application/json` or
/// `application/<name>+json`, parameters allowed, any case): a browser sends the types a
/// cross-site form can carry (`text/plain` with any parameters, form encodings) without a
/// preflight, so they must never reach an endpoint.
pub async fn json_bodies_need_a_json_media_type(cx: &HttpCtx) {
    let refused: [Option<&str>; 11] = [
        Some("text/plain;+json"),
        Some("text/plain; application/json"),
        Some("text/plain"),
        Some("text/json"),
        Some("application/jsonx"),
        Some("application/+json"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json, text/plain"),
        None,
    ];
    // All at once: a refusal holds under concurrency too, and stores nothing.
    let answers = join_all(refused.iter().enumerate().map(|(i, content_type)| {
        let body = serde_json::to_vec(&registration(&format!("csrf{i}"), json!({}))).unwrap();
        cx.send(with_body(
            "POST",
            "/api/v1/auth/register",
            None,
            *content_type,
            &body,
        ))
    }))
    .await;
    for (i, (content_type, r)) in refused.iter().zip(&answers).enumerate() {
        assert_eq!(r.status, 415, "{content_type:?}: {}", body_text(r));
        assert_error(r, 415, "UNSUPPORTED_MEDIA_TYPE");
        let email = format!("csrf{i}@example.com");
        assert!(!stored(cx, &email).await, "{content_type:?} created a user");
        assert!(
            mail_to(cx, &email).await.is_empty(),
            "{content_type:?} mailed"
        );
    }
    // The login, the other target of a cross-site form: refused before the password is read.
    cx.register_verified("lena").await;
    let login = serde_json::to_vec(&json!({"identifier": "lena", "password": PASSWORD})).unwrap();
    for content_type in ["text/plain;+json", "application/x-www-form-urlencoded"] {
        let r = cx
            .send(with_body(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(content_type),
                &login,
            ))
            .await;
        assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    }
    assert!(
        !cx.audit_actions("lena@example.com")
            .await
            .iter()
            .any(|a| a == "USER_LOGIN"),
        "no login happened"
    );

    // JSON by its parsed media type passes, whatever the case and parameters.
    for (i, content_type) in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/problem+json",
        "APPLICATION/VND.API+JSON; ext=bulk",
        "application/json;charset=\"UTF-8\"",
    ]
    .iter()
    .enumerate()
    {
        let email = format!("json{i}@example.com");
        let body = serde_json::to_vec(&registration(&format!("json{i}"), json!({}))).unwrap();
        let r = cx
            .send(with_body(
                "POST",
                "/api/v1/auth/register",
                None,
                Some(content_type),
                &body,
            ))
            .await;
        assert_eq!(r.status, 201, "{content_type}: {}", body_text(&r));
        assert!(stored(cx, &email).await);
    }

    // A route that reads no body refuses one that is not JSON too: nothing runs.
    let (first, _) = cx.login("lena", PASSWORD).await;
    let (second, _) = cx.login("lena", PASSWORD).await;
    let r = cx
        .send(with_body(
            "POST",
            "/api/v1/sessions/revoke-all",
            Some(&first),
            Some("text/plain"),
            b"x",
        ))
        .await;
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&second)).await.status,
        200,
        "the other session lives on"
    );
    // An empty body is no body, whatever it declares.
    let r = cx
        .send(with_body(
            "POST",
            "/api/v1/sessions/revoke-all",
            Some(&first),
            Some("text/plain"),
            b"",
        ))
        .await;
    assert_eq!(r.status, 200, "{}", body_text(&r));
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&second)).await,
        401,
        "INVALID_TOKEN",
    );
    // The avatar takes its multipart form, and nothing else.
    let r = cx
        .send(with_body(
            "POST",
            "/api/v1/upload/avatar",
            Some(&first),
            Some("application/json"),
            b"{}",
        ))
        .await;
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
}
http_case!(json_bodies_need_a_json_media_type);

/// The name the outside review used: a phishing line at the top of a mail to someone else.
const PHISHING_NAME: &str = "Support: your account is compromised, visit https://evil.example/fix";

/// Names hold letters, combining marks, spaces, `'`, `-`, `.` (at most 50): nothing that links,
/// numbers or hides text. And mail to an address nobody has confirmed greets no one by name,
/// since the names are whatever the stranger who registered it typed.
pub async fn names_are_plain_and_unverified_addresses_are_greeted_by_no_name(cx: &HttpCtx) {
    // Refused, all at once, naming the field: no account, no mail.
    let bad: [(&str, Value); 8] = [
        ("firstName", json!({"firstName": PHISHING_NAME})),
        ("lastName", json!({"lastName": "visit evil.example/fix"})),
        ("firstName", json!({"firstName": "Call 0800 123"})),
        ("lastName", json!({"lastName": "eve@example.com"})),
        ("firstName", json!({"firstName": "Anna 😀"})),
        ("lastName", json!({"lastName": "Ann\u{202E}gnp"})),
        (
            "firstName",
            json!({"firstName": "Eve\r\nBcc: x@example.com"}),
        ),
        ("lastName", json!({"lastName": "a".repeat(51)})),
    ];
    let answers = join_all(bad.iter().map(|(_, extra)| {
        cx.post(
            "/api/v1/auth/register",
            None,
            registration("victim", extra.clone()),
        )
    }))
    .await;
    for ((field, extra), r) in bad.iter().zip(&answers) {
        assert_error(r, 422, "VALIDATION_ERROR");
        assert_eq!(fields_named(r), vec![field.to_owned()], "{extra}");
    }
    assert!(!stored(cx, "victim@example.com").await);
    assert!(mail_to(cx, "victim@example.com").await.is_empty());
    // The first seed's registration route is the same endpoint, with the same rule.
    let compat = cx.with_compatibility_routes().await;
    let r = compat
        .post(
            "/api/v1/users/register",
            None,
            registration("victim", json!({"firstName": PHISHING_NAME})),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(fields_named(&r), vec!["firstName"]);
    assert!(!stored(cx, "victim@example.com").await);
    assert!(mail_to(&compat, "victim@example.com").await.is_empty());

    // Names of every script pass.
    for (i, (first, last)) in [
        ("Zoë", "Đặng"),
        ("José", "O'Brien"),
        ("Jean-Luc", "李"),
        ("Zoe\u{308}", "St. John"),
    ]
    .iter()
    .enumerate()
    {
        let r = cx
            .post(
                "/api/v1/auth/register",
                None,
                registration(
                    &format!("named{i}"),
                    json!({"firstName": first, "lastName": last}),
                ),
            )
            .await;
        assert_eq!(r.status, 201, "{first} {last}: {}", body_text(&r));
        assert_eq!(r.data()["user"]["firstName"], json!(first));
    }

    // Every mail to the unverified address greets no one: the verification at registration and
    // on resend, a reset link, the lock notice (the registrant knows the password and can lock
    // the account at will). Resends race each other: every one of them is neutral.
    let email = "named0@example.com";
    // (3 resends and 2 reset requests: the limit of mail-sending requests is 5 per client.)
    let resends = join_all((0..3).map(|_| {
        cx.post(
            "/api/v1/auth/resend-verification",
            None,
            json!({"email": email}),
        )
    }))
    .await;
    assert!(resends.iter().all(|r| r.status == 200));
    let r = cx
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": email}),
        )
        .await;
    assert_eq!(r.status, 200);
    for _ in 0..5 {
        cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "named0", "password": "Wr0ng!Password"}),
        )
        .await;
    }
    let mails = mail_to(cx, email).await;
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert_eq!(mails.len(), 1 + 3 + 1 + 1, "{subjects:?}");
    for mail in &mails {
        // The names as written (the HTML escaping leaves letters alone); not "Zo" alone, which
        // a random base64url token in a link contains now and then.
        for text in [&mail.text, &mail.html] {
            assert!(
                ["Zoë", "Đặng", "named0"]
                    .iter()
                    .all(|name| !text.contains(name)),
                "{}: {text}",
                mail.subject
            );
        }
        assert!(mail.text.starts_with("Hello,\n"), "{}", mail.text);
    }

    // Once the owner confirmed the address, the names are theirs to see.
    let token = cx.app.token_mailed_to("named1@example.com").await.unwrap();
    let r = cx
        .get(&format!("/api/v1/auth/verify-email?token={token}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", body_text(&r));
    let r = cx
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": "named1@example.com"}),
        )
        .await;
    assert_eq!(r.status, 200);
    cx.app.deliver_mail().await;
    let greeted = cx.app.mailer.last_to("named1@example.com").unwrap();
    assert!(
        greeted.text.starts_with("Hello José,\n"),
        "{}",
        greeted.text
    );

    // A profile change holds to the same rule, and changes nothing when refused.
    let (access, _) = cx.login("named1", PASSWORD).await;
    for method in ["PATCH", "PUT"] {
        let r = cx
            .request(
                method,
                "/api/v1/users/profile",
                Some(&access),
                Some(json!({"firstName": "José", "lastName": PHISHING_NAME})),
            )
            .await;
        assert_error(&r, 422, "VALIDATION_ERROR");
        assert_eq!(fields_named(&r), vec!["lastName"]);
    }
    let profile = cx.get("/api/v1/users/profile", Some(&access)).await.data();
    assert_eq!(profile["user"]["lastName"], json!("O'Brien"));
    let r = cx
        .request(
            "PATCH",
            "/api/v1/users/profile",
            Some(&access),
            Some(json!({"lastName": "Ngũgĩ wa Thiong'o"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", body_text(&r));
}
http_case!(names_are_plain_and_unverified_addresses_are_greeted_by_no_name);

/// Sends a failed login as if from `client` (the test peer is a trusted proxy).
async fn login_from(cx: &HttpCtx, client: &str) -> TestResponse {
    let mut request = with_body(
        "POST",
        "/api/v1/auth/login",
        None,
        Some("application/json"),
        &serde_json::to_vec(&json!({"identifier": "nobody", "password": PASSWORD})).unwrap(),
    );
    request
        .headers
        .push(("x-forwarded-for".to_owned(), client.to_owned()));
    cx.send(request).await
}

/// An IPv6 client is counted by its /64: rotating through the addresses of its own network
/// gets it no fresh budget. IPv4 clients stay per address, and an IPv4-mapped IPv6 address
/// counts as the IPv4 address.
pub async fn rate_limits_count_ipv6_clients_by_their_64(cx: &HttpCtx) {
    let login = Limit::new(3, Duration::minutes(1));
    let config = crate::testing::test_config_builder()
        .rate_limits(RateLimitConfig {
            login,
            // Both adapters' test servers see the peer 127.0.0.1.
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..RateLimitConfig::default()
        })
        .build()
        .unwrap();
    let cx = cx.with_config(config).await;

    // Ten addresses of one /64 at once: exactly the limit gets through.
    let addresses: Vec<String> = (1..=10)
        .map(|i| format!("2001:db8:1:2:{i:x}:{i:x}:{i:x}:{i:x}"))
        .collect();
    let answers = join_all(addresses.iter().map(|a| login_from(&cx, a))).await;
    let through = answers.iter().filter(|r| r.status == 401).count();
    let limited = answers.iter().filter(|r| r.status == 429).count();
    assert_eq!((through, limited), (3, 7), "one /64, one budget");
    assert_error(
        &login_from(&cx, "2001:db8:1:2:ffff:ffff:ffff:fffe").await,
        429,
        "RATE_LIMITED",
    );
    // The next /64 is someone else.
    assert_eq!(login_from(&cx, "2001:db8:1:3::1").await.status, 401);

    // IPv4: per address.
    for _ in 0..3 {
        assert_eq!(login_from(&cx, "192.0.2.7").await.status, 401);
    }
    assert_error(&login_from(&cx, "192.0.2.7").await, 429, "RATE_LIMITED");
    assert_eq!(login_from(&cx, "192.0.2.8").await.status, 401);
    // The same IPv4 client written as an IPv4-mapped IPv6 address: the same budget.
    assert_error(
        &login_from(&cx, "::ffff:192.0.2.7").await,
        429,
        "RATE_LIMITED",
    );
    for _ in 0..2 {
        assert_eq!(login_from(&cx, "::ffff:192.0.2.9").await.status, 401);
    }
    assert_eq!(login_from(&cx, "192.0.2.9").await.status, 401);
    assert_error(&login_from(&cx, "192.0.2.9").await, 429, "RATE_LIMITED");

    // A new window for everyone.
    cx.app.clock.advance(login.window);
    assert_eq!(login_from(&cx, "2001:db8:1:2::99").await.status, 401);
}
http_case!(rate_limits_count_ipv6_clients_by_their_64);
