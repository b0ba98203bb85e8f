//! HTTP conformance cases for the audit trail API and events reaching subscribers after commit.
//! Each case registers itself with `http_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::json;
use time::Duration;
use uuid::Uuid;

pub async fn audit_trail_api(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let moderator = cx.app.access_token_for("moe", &["moderator"]).await;
    let a = Some(admin.as_str());
    let email = cx.register_verified("tara").await;
    let tara = user_id(cx, &email).await;
    let (tara_token, _) = cx.login(&email, PASSWORD).await;
    cx.post(
        "/api/v1/auth/login",
        None,
        json!({"identifier": email, "password": "Wrong!Passw0rd"}),
    )
    .await;

    for path in [
        "/api/v1/audit",
        "/api/v1/audit/stats",
        "/api/v1/audit/analytics",
        &format!("/api/v1/audit/user/{tara}"),
    ] {
        assert_error(&cx.get(path, Some(&tara_token)).await, 403, "FORBIDDEN");
        assert_error(&cx.get(path, None).await, 401, "UNAUTHENTICATED");
        assert_eq!(cx.get(path, Some(&moderator)).await.status, 200, "{path}");
    }

    let all = ok(&cx.get("/api/v1/audit?limit=100", a).await, "list");
    let logs = all["logs"].as_array().unwrap();
    assert_eq!(all["total"].as_u64().unwrap() as usize, logs.len());
    let times: Vec<&str> = logs
        .iter()
        .map(|l| l["createdAt"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    for field in [
        "id",
        "action",
        "resource",
        "ipAddress",
        "userAgent",
        "details",
        "createdAt",
    ] {
        assert!(logs[0].get(field).is_some(), "{field} missing");
    }

    let r = ok(
        &cx.get("/api/v1/audit?action=user_login", a).await,
        "by action",
    );
    assert!(
        r["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["action"] == "USER_LOGIN")
    );
    assert!(r["total"].as_u64().unwrap() >= 3);
    let r = ok(
        &cx.get(
            &format!("/api/v1/audit?userId={tara}&action=LOGIN_FAILED"),
            a,
        )
        .await,
        "by user",
    );
    assert_eq!(r["total"], json!(1));
    assert_eq!(r["logs"][0]["userId"], json!(tara.to_string()));
    let r = ok(
        &cx.get(&format!("/api/v1/audit?userId={tara}&resource=SESSION"), a)
            .await,
        "by resource",
    );
    assert!(
        r["logs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["resource"] == "session")
    );
    let today = cx.app.manager.now().date();
    let r = ok(
        &cx.get(
            &format!("/api/v1/audit?startDate={today}&endDate={today}"),
            a,
        )
        .await,
        "today",
    );
    assert_eq!(r["total"], all["total"]);
    let r = ok(
        &cx.get(
            &format!("/api/v1/audit?endDate={}", today - time::Duration::days(1)),
            a,
        )
        .await,
        "yesterday",
    );
    assert_eq!(r["total"], json!(0));
    let r = cx
        .get("/api/v1/audit?userId=nope&startDate=yesterday&page=0", a)
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let mut fields = error_fields(&r);
    fields.sort();
    assert_eq!(fields, ["page", "startDate", "userId"]);
    let r = cx
        .get(
            &format!(
                "/api/v1/audit?startDate={today}&endDate={}",
                today - time::Duration::days(2)
            ),
            a,
        )
        .await;
    assert_eq!(error_fields(&r), ["endDate"]);

    let mine = ok(
        &cx.get(&format!("/api/v1/audit/user/{tara}?limit=100"), a)
            .await,
        "user activity",
    );
    let mine = mine["logs"].as_array().unwrap().clone();
    assert!(mine.iter().any(|l| l["action"] == "USER_REGISTERED"));
    assert!(
        mine.iter()
            .all(|l| l["userId"] == json!(tara.to_string())
                || l["actorId"] == json!(tara.to_string()))
    );
    assert_error(
        &cx.get(&format!("/api/v1/audit/user/{}", Uuid::now_v7()), a)
            .await,
        404,
        "NOT_FOUND",
    );

    let stats = ok(&cx.get("/api/v1/audit/stats", a).await, "stats");
    assert_eq!(stats["periodDays"], json!(30));
    assert_eq!(stats["total"], all["total"]);
    let top: Vec<_> = stats["topActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    assert!(
        top.contains(&"USER_LOGIN") && top.contains(&"LOGIN_FAILED"),
        "{top:?}"
    );
    assert!(stats["topResources"][0]["count"].as_u64().unwrap() >= 1);

    let analytics = ok(&cx.get("/api/v1/audit/analytics", a).await, "analytics");
    assert_eq!(analytics["users"]["total"], json!(3));
    assert_eq!(analytics["users"]["verified"], json!(3));
    assert_eq!(analytics["users"]["verificationRate"], json!(100.0));
    assert_eq!(analytics["activeUsers"]["today"], json!(3));
    assert_eq!(analytics["newUsers"]["last30Days"], json!(3));
    assert!(analytics["logins"]["last30Days"].as_u64().unwrap() >= 3);
    assert_eq!(analytics["logins"]["failedLast30Days"], json!(1));

    // Retention: system:manage only; bounds checked; the cleanup's own row stays.
    let cleanup = "/api/v1/audit/cleanup";
    assert_error(
        &cx.post(cleanup, Some(&moderator), json!({})).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &cx.post(cleanup, a, json!({"retentionDays": 0})).await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.post(cleanup, a, json!({"retentionDays": "ninety"}))
            .await,
        422,
        "VALIDATION_ERROR",
    );
    let none = ok(&cx.post(cleanup, a, json!({})).await, "nothing to clean");
    assert_eq!(none["deletedCount"], json!(0));
    let before = ok(&cx.get("/api/v1/audit", a).await, "count")["total"]
        .as_u64()
        .unwrap();
    cx.app.clock.advance(Duration::days(91));
    let (admin2, _) = cx.login("root@example.com", PASSWORD).await;
    let cleaned = ok(
        &cx.post(cleanup, Some(&admin2), json!({"retentionDays": 90}))
            .await,
        "cleanup",
    );
    assert_eq!(cleaned["deletedCount"], json!(before));
    let left = ok(&cx.get("/api/v1/audit", Some(&admin2)).await, "after");
    let actions: Vec<_> = left["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    // Only the cleanup and the rows of the login just made (login, new-device alert) are left.
    assert_eq!(actions[0], "AUDIT_CLEANUP");
    assert!(actions.contains(&"USER_LOGIN"), "{actions:?}");
    assert!(!actions.contains(&"USER_REGISTERED"), "{actions:?}");
}
http_case!(audit_trail_api);

pub async fn events_reach_subscribers_after_commit(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let mut events = cx.app.manager.subscribe();
    let email = cx.register_verified("eli").await;
    let eli = user_id(cx, &email).await;
    cx.login(&email, PASSWORD).await;
    // Refused changes publish nothing: a taken address, a wrong password is published (it is
    // recorded), a role held already is not.
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "username": "eli2", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "EMAIL_TAKEN");
    cx.post(
        "/api/v1/auth/login",
        None,
        json!({"identifier": email, "password": "Wrong!Passw0rd"}),
    )
    .await;
    let assign = format!("/api/v1/roles/user/{eli}/assign");
    let role = json!({"roleId": crate::store::MODERATOR_ROLE_ID});
    ok(
        &cx.post(&assign, Some(&admin), role.clone()).await,
        "assign",
    );
    ok(&cx.post(&assign, Some(&admin), role).await, "assign again");

    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push((event.action.clone(), event.user_id));
    }
    let actions: Vec<&str> = seen.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "USER_REGISTERED",
            "EMAIL_VERIFIED",
            "USER_LOGIN",
            "LOGIN_FAILED",
            "ROLE_ASSIGNED"
        ],
        "{seen:?}"
    );
    assert!(seen.iter().all(|(_, user)| *user == Some(eli)));

    // A purge is told with the user's id, though the stored row names no one.
    let (token, _) = cx.login(&email, PASSWORD).await;
    ok(
        &cx.post(
            "/api/v1/account/permanent-delete",
            Some(&token),
            json!({"password": PASSWORD, "confirmEmail": email}),
        )
        .await,
        "permanent delete",
    );
    let mut purged = None;
    while let Ok(event) = events.try_recv() {
        if event.action == "ACCOUNT_PURGED" {
            purged = Some(event);
        }
    }
    assert_eq!(purged.expect("purge published").user_id, Some(eli));
    let stored = cx
        .app
        .manager
        .store()
        .audit_events(None, 1000)
        .await
        .unwrap();
    let row = stored
        .iter()
        .find(|e| e.action == "ACCOUNT_PURGED")
        .unwrap();
    assert_eq!(row.user_id, None);
}
http_case!(events_reach_subscribers_after_commit);
