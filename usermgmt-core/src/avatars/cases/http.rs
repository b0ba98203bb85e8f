//! HTTP conformance cases for avatars: upload, serve, replace, delete, and concurrent uploads.
//! Each case registers itself with `http_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::avatars::{AvatarKey, AvatarStorage, ImageKind};
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use futures_util::future::join_all;
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

pub async fn avatars_upload_serve_replace_delete(cx: &HttpCtx) {
    let email = cx.register_verified("ava").await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let upload = |ct: String, body: Vec<u8>| {
        let token = token.clone();
        async move {
            cx.send(crate::testing::http_suite::TestRequest {
                method: "POST".into(),
                uri: "/api/v1/upload/avatar".into(),
                headers: vec![
                    ("authorization".into(), format!("Bearer {token}")),
                    ("content-type".into(), ct),
                ],
                body,
            })
            .await
        }
    };
    let ct = "multipart/form-data; boundary=XyZ-Boundary-42".to_owned();

    let r = upload(
        ct.clone(),
        multipart("XyZ-Boundary-42", "application/octet-stream", "me.bin", PNG),
    )
    .await;
    let data = ok(&r, "upload png");
    let url = data["avatar"].as_str().unwrap().to_owned();
    // By default the API's own path; relative, as the test app sets no public URL (a host
    // app that never said where it lives gets no guessed `localhost` link).
    assert!(url.starts_with("/api/v1/upload/avatars/"), "{url}");
    assert_eq!(data["user"]["avatar"], json!(url));
    let served = cx.get(&url, None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(served.body, PNG);
    assert_eq!(served.header("x-content-type-options"), Some("nosniff"));

    // Disguised, oversized, malformed or unauthenticated uploads change nothing.
    let html = b"<html><script>alert(1)</script></html>";
    let r = upload(
        ct.clone(),
        multipart("XyZ-Boundary-42", "image/png", "cat.png", html),
    )
    .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let big = [PNG, &vec![0u8; 2 * 1024 * 1024 + 1][..]].concat();
    let r = upload(
        ct.clone(),
        multipart("XyZ-Boundary-42", "image/png", "big.png", &big),
    )
    .await;
    assert_error(&r, 413, "PAYLOAD_TOO_LARGE");
    let r = upload("application/json".into(), b"{}".to_vec()).await;
    assert_error(&r, 415, "UNSUPPORTED_MEDIA_TYPE");
    let r = upload(ct.clone(), b"--XyZ-Boundary-42\r\ngarbage".to_vec()).await;
    assert_error(&r, 400, "BAD_REQUEST");
    let r = cx
        .raw(
            "POST",
            "/api/v1/upload/avatar",
            Some(&ct),
            multipart("XyZ-Boundary-42", "image/png", "a.png", PNG),
        )
        .await;
    assert_error(&r, 401, "UNAUTHENTICATED");
    let me = ok(
        &cx.get("/api/v1/users/profile", Some(&token)).await,
        "profile",
    );
    assert_eq!(me["user"]["avatar"], json!(url));

    // Replacing serves the new image and drops the old one.
    let r = upload(
        ct.clone(),
        multipart("XyZ-Boundary-42", "image/jpeg", "me.jpg", JPEG),
    )
    .await;
    let new_url = ok(&r, "upload jpeg")["avatar"].as_str().unwrap().to_owned();
    assert_ne!(new_url, url);
    assert_eq!(
        cx.get(&new_url, None).await.header("content-type"),
        Some("image/jpeg")
    );
    assert_error(&cx.get(&url, None).await, 404, "NOT_FOUND");
    assert_eq!(
        ok(&cx.get("/api/v1/users/ava", None).await, "public")["avatar"],
        json!(new_url)
    );

    // Keys that try to leave the directory are simply not found.
    for path in [
        "/api/v1/upload/avatars/..%2F..%2Fetc%2Fpasswd",
        "/api/v1/upload/avatars/%2e%2e",
        "/api/v1/upload/avatars/passwd",
    ] {
        // Either no route matches (the adapter decoded a slash) or no such key: 404 both.
        assert_eq!(cx.get(path, None).await.status, 404, "{path}");
    }

    let r = cx
        .request("DELETE", "/api/v1/upload/avatar", Some(&token), None)
        .await;
    assert_eq!(ok(&r, "delete avatar")["user"]["avatar"], Value::Null);
    assert_error(&cx.get(&new_url, None).await, 404, "NOT_FOUND");
    assert_error(
        &cx.request("DELETE", "/api/v1/upload/avatar", Some(&token), None)
            .await,
        404,
        "NOT_FOUND",
    );
    assert!(
        cx.audit_actions(&email)
            .await
            .iter()
            .filter(|a| *a == "AVATAR_UPDATED")
            .count()
            >= 3
    );
}
http_case!(avatars_upload_serve_replace_delete);

/// Sends one avatar upload of `bytes` (a PNG) with `token`.
async fn upload_avatar(cx: &HttpCtx, token: &str, bytes: &[u8]) -> TestResponse {
    cx.send(TestRequest {
        method: "POST".into(),
        uri: "/api/v1/upload/avatar".into(),
        headers: vec![
            ("authorization".into(), format!("Bearer {token}")),
            (
                "content-type".into(),
                "multipart/form-data; boundary=AvAtAr-7".into(),
            ),
        ],
        body: multipart("AvAtAr-7", "image/png", "me.png", bytes),
    })
    .await
}

/// Concurrent uploads leave exactly one file, the one the row points at, served; every other
/// URL answers 404; removing the avatar leaves none. Racing removals: one wins. Orphans older
/// than the grace are swept, younger ones kept; a permanent delete removes every file.
pub async fn concurrent_avatar_uploads_leave_one_file(cx: &HttpCtx) {
    let email = cx.register_verified("ava").await;
    let ava = user_id(cx, &email).await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let files = || cx.app.avatars.len();

    let answers = join_all((0..20).map(|_| upload_avatar(cx, &token, PNG))).await;
    let urls: Vec<String> = answers
        .iter()
        .map(|r| ok(r, "upload")["avatar"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files(), 1, "one file stored of 20 racing uploads");
    let me = ok(&cx.get("/api/v1/users/profile", Some(&token)).await, "me");
    let current = me["user"]["avatar"].as_str().unwrap().to_owned();
    assert!(urls.contains(&current));
    let served = cx.get(&current, None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, PNG);
    for url in urls.iter().filter(|u| **u != current) {
        assert_error(&cx.get(url, None).await, 404, "NOT_FOUND");
    }
    assert_eq!(
        cx.app.manager.sweep_orphan_avatars().await.unwrap(),
        0,
        "nothing left to sweep"
    );

    // Racing removals: one removes it, the others find none; no file, no URL left.
    let removals =
        join_all((0..8).map(|_| cx.request("DELETE", "/api/v1/upload/avatar", Some(&token), None)))
            .await;
    let removed = removals.iter().filter(|r| r.status == 200).count();
    assert_eq!(removed, 1, "exactly one removal wins");
    for r in removals.iter().filter(|r| r.status != 200) {
        assert_error(r, 404, "NOT_FOUND");
    }
    assert_eq!(files(), 0);
    for url in &urls {
        assert_error(&cx.get(url, None).await, 404, "NOT_FOUND");
    }
    let audited = cx
        .audit_actions(&email)
        .await
        .iter()
        .filter(|a| *a == "AVATAR_UPDATED")
        .count();
    assert_eq!(audited, 21, "20 uploads and one removal");

    // A file no row refers to (a crash mid-upload) is swept once older than the grace, not
    // before: it could be an upload whose row is not committed yet.
    let current = ok(&upload_avatar(cx, &token, PNG).await, "upload")["avatar"]
        .as_str()
        .unwrap()
        .to_owned();
    let orphan = AvatarKey::generate(ava, ImageKind::Png);
    cx.app.avatars.put(&orphan, PNG).await.unwrap();
    let stranger = AvatarKey::generate(Uuid::now_v7(), ImageKind::Png);
    cx.app.avatars.put(&stranger, PNG).await.unwrap();
    assert_eq!(cx.app.manager.sweep_orphan_avatars().await.unwrap(), 0);
    assert_eq!(files(), 3);
    // A file's age is read from the storage's own times (the wall clock: file modification
    // times), the cutoff from the manager's clock: the mock clock must pass the grace with a
    // margin for the real seconds this case has taken (a loaded PostgreSQL run took more than
    // the one second this used to allow).
    cx.app
        .clock
        .advance(crate::upload::AVATAR_SWEEP_GRACE + Duration::hours(1));
    assert_eq!(cx.app.manager.sweep_orphan_avatars().await.unwrap(), 2);
    assert_eq!(files(), 1);
    assert_eq!(cx.get(&current, None).await.status, 200, "the avatar stays");

    // Removing the account for good removes every file of the user, a stray one too.
    let (token, _) = cx.login(&email, PASSWORD).await;
    cx.app
        .avatars
        .put(&AvatarKey::generate(ava, ImageKind::Png), PNG)
        .await
        .unwrap();
    assert_eq!(files(), 2);
    let r = cx
        .post(
            "/api/v1/account/permanent-delete",
            Some(&token),
            json!({"password": PASSWORD, "confirmEmail": email}),
        )
        .await;
    ok(&r, "permanent delete");
    assert_eq!(files(), 0);
    assert_error(&cx.get(&current, None).await, 404, "NOT_FOUND");
}
http_case!(concurrent_avatar_uploads_leave_one_file);
