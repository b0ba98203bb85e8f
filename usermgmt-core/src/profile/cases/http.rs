//! HTTP conformance cases for profiles, preferences and public profiles. Each case registers
//! itself with `http_case!` right below its function (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::{Value, json};

pub async fn profile_and_preferences(cx: &HttpCtx) {
    cx.register_verified("pam").await;
    let (access, _) = cx.login("pam", PASSWORD).await;
    let url = "/api/v1/users/profile";
    let r = cx.request("PATCH", url, Some(&access), Some(json!({"firstName": "Pam", "bio": "Hi", "phone": "+14155550123", "language": "EN", "dateOfBirth": "1990-05-01", "timezone": "Europe/Paris"}))).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["user"]["firstName"], json!("Pam"));
    assert_eq!(r.data()["profile"]["language"], json!("en"));
    assert_eq!(r.data()["profile"]["dateOfBirth"], json!("1990-05-01"));
    let r = cx
        .request(
            "PATCH",
            url,
            Some(&access),
            Some(json!({"city": "Lyon", "bio": null})),
        )
        .await;
    assert_eq!(r.data()["profile"]["city"], json!("Lyon"));
    assert_eq!(r.data()["profile"]["bio"], json!(null), "null clears");
    assert_eq!(
        r.data()["profile"]["phone"],
        json!("+14155550123"),
        "absent keeps"
    );
    let r = cx
        .request(
            "PUT",
            url,
            Some(&access),
            Some(json!({"firstName": "Pamela"})),
        )
        .await;
    assert_eq!(r.data()["user"]["firstName"], json!("Pamela"));
    assert_eq!(
        r.data()["profile"]["city"],
        json!(null),
        "PUT replaces the whole profile"
    );
    let r = cx.request("PATCH", url, Some(&access), Some(json!({"phone": "0123", "language": "eng", "dateOfBirth": "2990-01-01", "timezone": "Not a zone"}))).await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let mut fields = error_fields(&r);
    fields.sort();
    assert_eq!(fields, vec!["dateOfBirth", "language", "phone", "timezone"]);
    assert_eq!(
        cx.get(url, Some(&access)).await.data()["user"]["firstName"],
        json!("Pamela"),
        "refused update changed nothing"
    );

    let prefs = "/api/v1/users/preferences";
    let r = cx
        .request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!({"theme": "dark", "lang": "fr"})),
        )
        .await;
    assert_eq!(
        r.data()["preferences"],
        json!({"theme": "dark", "lang": "fr"})
    );
    let r = cx
        .request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!({"theme": "light", "lang": null})),
        )
        .await;
    assert_eq!(r.data()["preferences"], json!({"theme": "light"}));
    assert_error(
        &cx.request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!(["not", "an", "object"])),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.request(
            "PUT",
            prefs,
            Some(&access),
            Some(json!({"big": "x".repeat(20_000)})),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    // Numbers at the edges of f64 are read back as they were written. PostgreSQL's jsonb keeps
    // them as exact decimals and writes them back expanded (f64::MAX as 309 digits), which the
    // default float parsing refused: the profile then answered 500 on every read.
    let edges = json!({
        "max": f64::MAX,
        "min": -f64::MAX,
        "tiny": 5e-324,
        "small": 1e-7,
        "wide": 123_456_789_012_345_678_901_234_567_890.0,
        "inexact": 0.300_000_000_000_000_04,
        "int": u64::MAX,
        "neg": i64::MIN,
    });
    let r = cx
        .request("PUT", prefs, Some(&access), Some(edges.clone()))
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let read = cx.get(url, Some(&access)).await;
    assert_eq!(read.status, 200, "{}", String::from_utf8_lossy(&read.body));
    for (key, value) in edges.as_object().unwrap() {
        assert_eq!(&read.data()["profile"]["preferences"][key], value, "{key}");
    }
    let clear: serde_json::Map<String, Value> = edges
        .as_object()
        .unwrap()
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    let r = cx
        .request("PUT", prefs, Some(&access), Some(Value::Object(clear)))
        .await;
    assert_eq!(r.data()["preferences"], json!({"theme": "light"}));
    // U+0000 anywhere (PostgreSQL's jsonb cannot hold it; found by fuzzing: it answered 500).
    for nul in [
        json!({"theme": "da\u{0}rk"}),
        json!({"a\u{0}": 1}),
        json!({"deep": [{"k": null}, {"x\u{0}y": "v"}]}),
        json!({"deep": {"list": ["ok", "n\u{0}"]}}),
    ] {
        assert_error(
            &cx.request("PUT", prefs, Some(&access), Some(nul)).await,
            422,
            "VALIDATION_ERROR",
        );
    }
    assert_eq!(
        cx.get(url, Some(&access)).await.data()["profile"]["preferences"],
        json!({"theme": "light"})
    );
    let actions = cx.audit_actions("pam@example.com").await;
    assert!(
        actions.contains(&"PROFILE_UPDATED".to_owned())
            && actions.contains(&"PREFERENCES_UPDATED".to_owned())
    );
}
http_case!(profile_and_preferences);

pub async fn public_profiles_show_public_fields_only(cx: &HttpCtx) {
    cx.register_verified("quinn").await;
    let r = cx.get("/api/v1/users/QUINN", None).await;
    assert_eq!(r.status, 200);
    let data = r.data();
    assert_eq!(data["username"], json!("quinn"));
    assert!(
        data.get("email").is_none(),
        "no email in a public profile: {data}"
    );
    assert!(data["createdAt"].is_string());
    assert_error(
        &cx.get("/api/v1/users/nobody_here", None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(&cx.get("/api/v1/users/x", None).await, 404, "NOT_FOUND");
}
http_case!(public_profiles_show_public_fields_only);
