//! HTTP conformance cases for notifications: new-device alerts, the notification API and host
//! apps' own notifications. Each case registers itself with `http_case!` right below its
//! function (see [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::json;
use uuid::Uuid;

/// A login from a new device or address raises a LOGIN_ALERT (audit row and mail); a known
/// one and the very first login do not.
pub async fn new_device_logins_raise_an_alert(cx: &HttpCtx) {
    let email = cx.register_verified("alert").await;
    let login_from = |agent: &'static str| {
        cx.send(TestRequest {
            method: "POST".to_owned(),
            uri: "/api/v1/auth/login".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), agent.to_owned()),
            ],
            body: serde_json::to_vec(&json!({"identifier": "alert", "password": PASSWORD}))
                .unwrap(),
        })
    };
    let alerts = |actions: Vec<String>| actions.iter().filter(|a| *a == "LOGIN_ALERT").count();
    assert_eq!(login_from("Firefox-like/1.0").await.status, 200);
    assert_eq!(alerts(cx.audit_actions(&email).await), 0, "the first login");
    assert_eq!(login_from("Firefox-like/1.0").await.status, 200);
    assert_eq!(alerts(cx.audit_actions(&email).await), 0, "a known device");
    assert_eq!(login_from("curl/8.5.0").await.status, 200);
    assert_eq!(alerts(cx.audit_actions(&email).await), 1, "a new device");
    cx.app.deliver_mail().await;
    let mail = cx.app.mailer.last_to(&email).expect("alert mail");
    assert!(mail.subject.contains("new sign-in"), "{}", mail.subject);
    let device = crate::domain::DeviceInfo::from_user_agent(Some("curl/8.5.0")).label();
    assert!(mail.text.contains(&device), "{device}: {}", mail.text);
}
http_case!(new_device_logins_raise_an_alert);

/// Events raise notifications (email verified, new sign-in, password changed, account
/// locked); the owner pages, filters, reads and deletes them; nobody else sees them.
pub async fn notifications_are_raised_and_managed(cx: &HttpCtx) {
    cx.register_verified("nina").await;
    cx.register_verified("otto").await;
    let (access, _) = cx.login("nina", PASSWORD).await;
    let (otto, _) = cx.login("otto", PASSWORD).await;
    // Another device: a LOGIN_ALERT.
    let r = cx
        .send(TestRequest {
            method: "POST".to_owned(),
            uri: "/api/v1/auth/login".to_owned(),
            headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("user-agent".to_owned(), "curl/8.5.0".to_owned()),
            ],
            body: serde_json::to_vec(&json!({"identifier": "nina", "password": PASSWORD})).unwrap(),
        })
        .await;
    assert_eq!(r.status, 200);
    let r = cx
        .post(
            "/api/v1/auth/change-password",
            Some(&access),
            json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));

    assert_error(
        &cx.get("/api/v1/notifications", None).await,
        401,
        "UNAUTHENTICATED",
    );
    let r = cx.get("/api/v1/notifications", Some(&access)).await;
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    let kinds: Vec<&str> = data["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["PASSWORD_CHANGED", "LOGIN_ALERT", "EMAIL_VERIFIED"],
        "newest first"
    );
    assert_eq!(data["unreadCount"], json!(3));
    assert_eq!(data["total"], json!(3));
    assert_eq!(data["page"], json!(1));
    assert_eq!(data["limit"], json!(20));
    assert_eq!(data["totalPages"], json!(1));
    assert_eq!(data["notifications"][0]["read"], json!(false));

    let page = cx
        .get("/api/v1/notifications?page=2&limit=2", Some(&access))
        .await
        .data();
    assert_eq!(page["notifications"].as_array().unwrap().len(), 1);
    assert_eq!(page["totalPages"], json!(2));
    let bad = cx
        .get("/api/v1/notifications?page=0&limit=101", Some(&access))
        .await;
    assert_error(&bad, 422, "VALIDATION_ERROR");
    assert_eq!(bad.json()["errors"].as_array().unwrap().len(), 2);
    assert_error(
        &cx.get("/api/v1/notifications?unreadOnly=maybe", Some(&access))
            .await,
        422,
        "VALIDATION_ERROR",
    );

    let first = data["notifications"][0]["id"].as_str().unwrap().to_owned();
    assert_error(
        &cx.request(
            "PATCH",
            &format!("/api/v1/notifications/{first}/read"),
            Some(&otto),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.request(
            "PATCH",
            "/api/v1/notifications/not-a-uuid/read",
            Some(&access),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/notifications/{first}/read"),
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let unread = cx
        .get("/api/v1/notifications?unreadOnly=true", Some(&access))
        .await
        .data();
    assert_eq!(unread["unreadCount"], json!(2));
    assert_eq!(unread["total"], json!(2));
    assert!(
        unread["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["id"] != json!(first))
    );

    let r = cx
        .request(
            "PATCH",
            "/api/v1/notifications/read-all",
            Some(&access),
            None,
        )
        .await;
    assert_eq!(r.data()["updatedCount"], json!(2));
    assert_eq!(
        cx.get("/api/v1/notifications", Some(&access)).await.data()["unreadCount"],
        json!(0)
    );

    assert_error(
        &cx.request(
            "DELETE",
            &format!("/api/v1/notifications/{first}"),
            Some(&otto),
            None,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        cx.request(
            "DELETE",
            &format!("/api/v1/notifications/{first}"),
            Some(&access),
            None
        )
        .await
        .status,
        200
    );
    let r = cx
        .request("DELETE", "/api/v1/notifications", Some(&access), None)
        .await;
    assert_eq!(r.data()["deletedCount"], json!(2));
    assert_eq!(
        cx.get("/api/v1/notifications", Some(&access)).await.data()["total"],
        json!(0)
    );
    let others = cx.get("/api/v1/notifications", Some(&otto)).await.data();
    assert_eq!(others["total"], json!(1), "otto's own EMAIL_VERIFIED stays");

    // Locking raises a SECURITY_ALERT.
    for _ in 0..5 {
        cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "otto", "password": "Wr0ng!pass"}),
        )
        .await;
    }
    let kinds = cx.get("/api/v1/notifications", Some(&otto)).await.data();
    assert_eq!(kinds["notifications"][0]["type"], json!("SECURITY_ALERT"));
}
http_case!(notifications_are_raised_and_managed);

pub async fn host_apps_raise_their_own_notifications(cx: &HttpCtx) {
    use crate::store::NotificationType;
    let email = cx.register_verified("nia").await;
    let nia = user_id(cx, &email).await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let m = &cx.app.manager;
    let raised = m
        .notify_user(
            nia,
            NotificationType::System,
            "Maintenance tonight",
            "The service pauses from 02:00 to 02:15 UTC.",
            json!({"window": "02:00-02:15"}),
        )
        .await
        .unwrap();
    let list = ok(
        &cx.get("/api/v1/notifications?unreadOnly=true", Some(&token))
            .await,
        "list",
    );
    let first = &list["notifications"][0];
    assert_eq!(first["id"], json!(raised.id.to_string()));
    assert_eq!(first["type"], json!("SYSTEM"));
    assert_eq!(first["data"]["window"], json!("02:00-02:15"));
    ok(
        &cx.request(
            "PATCH",
            &format!("/api/v1/notifications/{}/read", raised.id),
            Some(&token),
            None,
        )
        .await,
        "read",
    );
    // Bad input and unknown users change nothing.
    let before = ok(
        &cx.get("/api/v1/notifications", Some(&token)).await,
        "count",
    )["total"]
        .clone();
    assert!(matches!(
        m.notify_user(nia, NotificationType::System, " ", "x", json!({}))
            .await,
        Err(crate::Error::Validation(_))
    ));
    assert!(matches!(
        m.notify_user(
            Uuid::now_v7(),
            NotificationType::System,
            "Hi",
            "x",
            json!({})
        )
        .await,
        Err(crate::Error::NotFound("user"))
    ));
    assert_eq!(
        ok(
            &cx.get("/api/v1/notifications", Some(&token)).await,
            "count"
        )["total"],
        before
    );
}
http_case!(host_apps_raise_their_own_notifications);
