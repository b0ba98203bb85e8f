//! HTTP cases of what the API accepts as input from anyone: the media type of bodies, the
//! names that reach mail, and the client a rate limit counts (part of the shared suite: see
//! [`super::http_suite`]).

use super::http_suite::{HttpCtx, PASSWORD, TestRequest, TestResponse, assert_error};
use futures_util::future::join_all;
use serde_json::{Value, json};

/// A registration of `name` (`name@example.com`) with `extra` members merged in.
fn registration(name: &str, extra: Value) -> Value {
    let mut body = json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD});
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

fn body_text(r: &TestResponse) -> String {
    String::from_utf8_lossy(&r.body).into_owned()
}

// --- media types ------------------------------------------------------------------------------

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
        assert!(mail_to(cx, &email).await.is_empty(), "{content_type:?} mailed");
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
