//! HTTP conformance cases for impersonation: its rules, the permissions it acts with, what it
//! cannot erase, and the host-app guards. Each case registers itself with `http_case!` right
//! below its function (see [`crate::testing::runner`]).

use crate::store::NotificationType;
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use futures_util::future::join_all;
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

pub async fn impersonation_rules(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let moderator = cx.app.access_token_for("moe", &["moderator"]).await;
    let email = cx.register_verified("ivy").await;
    let ivy = user_id(cx, &email).await;
    let root = user_id(cx, "root@example.com").await;
    let moe = user_id(cx, "moe@example.com").await;

    let r = cx
        .post(
            &format!("/api/v1/admin/users/{ivy}/impersonate"),
            Some(&admin),
            json!({}),
        )
        .await;
    let data = ok(&r, "impersonate");
    assert!(data.get("refreshToken").is_none());
    assert_eq!(data["expiresIn"], json!(900));
    let token = data["accessToken"].as_str().unwrap().to_owned();
    let c = claims(&token);
    assert_eq!(c["sub"], json!(ivy.to_string()));
    assert_eq!(c["act"]["sub"], json!(root.to_string()));
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 900);

    let me = ok(
        &cx.get("/api/v1/users/profile", Some(&token)).await,
        "profile as ivy",
    );
    assert_eq!(me["user"]["email"], json!(email));
    ok(
        &cx.request(
            "PATCH",
            "/api/v1/users/profile",
            Some(&token),
            Some(json!({"bio": "set by support"})),
        )
        .await,
        "profile update as ivy",
    );
    // Read back through the impersonation: ivy's profile, not the administrator's (whose
    // session the token rides on).
    let me = ok(
        &cx.get("/api/v1/users/profile", Some(&token)).await,
        "profile as ivy",
    );
    assert_eq!(me["profile"]["bio"], json!("set by support"));
    assert_eq!(me["user"]["id"], json!(ivy.to_string()));
    // Forbidden with an impersonation token: password, 2FA, account state, impersonation.
    let forbidden: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            "/api/v1/auth/change-password".into(),
            json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD}),
        ),
        ("POST", "/api/v1/2fa/setup".into(), json!({})),
        (
            "POST",
            "/api/v1/account/deactivate".into(),
            json!({"password": PASSWORD}),
        ),
        (
            "DELETE",
            "/api/v1/account".into(),
            json!({"password": PASSWORD}),
        ),
        (
            "POST",
            "/api/v1/account/permanent-delete".into(),
            json!({"password": PASSWORD, "confirmEmail": email}),
        ),
        ("GET", "/api/v1/account/export".into(), Value::Null),
        ("POST", "/api/v1/sessions/revoke-all".into(), json!({})),
        (
            "POST",
            "/api/v1/2fa/verify".into(),
            json!({"code": "123456"}),
        ),
        (
            "POST",
            format!("/api/v1/admin/users/{moe}/impersonate"),
            json!({}),
        ),
    ];
    for (method, path, body) in forbidden {
        let body = (!body.is_null()).then_some(body);
        let r = cx.request(method, &path, Some(&token), body).await;
        assert_error(&r, 403, "FORBIDDEN");
    }
    let user = cx
        .app
        .manager
        .store()
        .user_by_id(ivy)
        .await
        .unwrap()
        .unwrap();
    assert!(user.is_active && user.deleted_at.is_none() && !user.two_factor_enabled);

    // Logging out with it is refused: the session is the administrator's.
    assert_error(
        &cx.post("/api/v1/auth/logout", Some(&token), json!({}))
            .await,
        403,
        "FORBIDDEN",
    );
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&token)).await.status,
        200
    );

    // Nobody lends themself a permission by impersonation: a moderator cannot act as a user
    // holding one the moderator lacks.
    let holder = cx.app.access_token_for("rolf", &["user"]).await;
    let rolf = user_id(cx, "rolf@example.com").await;
    let role = ok(
        &cx.post(
            "/api/v1/roles",
            Some(&admin),
            json!({"name": "role_editor", "permissions": ["role:update"]}),
        )
        .await,
        "role",
    );
    ok(
        &cx.post(
            &format!("/api/v1/roles/user/{rolf}/assign"),
            Some(&admin),
            json!({"roleId": role["id"]}),
        )
        .await,
        "assign",
    );
    drop(holder);
    assert_error(
        &cx.post(
            &format!("/api/v1/admin/users/{rolf}/impersonate"),
            Some(&moderator),
            json!({}),
        )
        .await,
        403,
        "FORBIDDEN",
    );

    // A moderator may impersonate plain users, not holders of admin:access.
    ok(
        &cx.post(
            &format!("/api/v1/admin/users/{ivy}/impersonate"),
            Some(&moderator),
            json!({}),
        )
        .await,
        "moderator impersonates a user",
    );
    assert_error(
        &cx.post(
            &format!("/api/v1/admin/users/{root}/impersonate"),
            Some(&moderator),
            json!({}),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    ok(
        &cx.post(
            &format!("/api/v1/admin/users/{moe}/impersonate"),
            Some(&admin),
            json!({}),
        )
        .await,
        "admin (system:manage) impersonates a moderator",
    );
    assert_error(
        &cx.post(
            &format!("/api/v1/admin/users/{root}/impersonate"),
            Some(&admin),
            json!({}),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );

    // Audited on both sides; the impersonated change names the administrator as actor.
    let events = cx
        .app
        .manager
        .store()
        .audit_events(Some(ivy), 100)
        .await
        .unwrap();
    let starters: Vec<_> = events
        .iter()
        .filter(|e| e.action == "ADMIN_IMPERSONATION_STARTED")
        .map(|e| e.actor_id)
        .collect();
    assert_eq!(starters, [Some(moe), Some(root)]);
    let updated = events
        .iter()
        .find(|e| e.action == "PROFILE_UPDATED")
        .expect("profile audited");
    assert_eq!(updated.actor_id, Some(root));
    assert_eq!(updated.user_id, Some(ivy));

    // It rides on the administrator's session: logging out ends it, and it expires.
    ok(
        &cx.post("/api/v1/auth/logout", Some(&admin), json!({}))
            .await,
        "admin logout",
    );
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&token)).await,
        401,
        "INVALID_TOKEN",
    );
    let (admin2, _) = cx.login("root@example.com", PASSWORD).await;
    let token2 = ok(
        &cx.post(
            &format!("/api/v1/admin/users/{ivy}/impersonate"),
            Some(&admin2),
            json!({}),
        )
        .await,
        "again",
    )["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    cx.app.clock.advance(Duration::minutes(16));
    assert_error(
        &cx.get("/api/v1/users/profile", Some(&token2)).await,
        401,
        "INVALID_TOKEN",
    );
}
http_case!(impersonation_rules);

/// Starts an impersonation of `user_id` by the holder of `admin_token`; returns its token.
async fn impersonate(cx: &HttpCtx, admin_token: &str, user_id: Uuid) -> String {
    let r = cx
        .post(
            &format!("/api/v1/admin/users/{user_id}/impersonate"),
            Some(admin_token),
            json!({}),
        )
        .await;
    ok(&r, "impersonate")["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An impersonation token acts with the permissions both the user and the administrator hold
/// now: a permission the administrator loses after the start is lost in the user's name too,
/// and one only the administrator holds is never the user's.
pub async fn impersonation_acts_with_both_sides_permissions(cx: &HttpCtx) {
    let root = cx.app.access_token_for("root", &["admin"]).await;
    let support = create_role(
        cx,
        &root,
        "support_desk",
        &["admin:access", "audit:read", "user:read"],
    )
    .await;
    create_role(cx, &root, "auditor", &["audit:read"]).await;
    let sue = cx.app.access_token_for("sue", &["support_desk"]).await;
    cx.app.access_token_for("ida", &["auditor"]).await;
    let ida = user_id(cx, "ida@example.com").await;
    let token = impersonate(cx, &sue, ida).await;
    let t = Some(token.as_str());

    ok(
        &cx.get("/api/v1/audit", t).await,
        "audit as ida, both hold it",
    );
    // Sue reads users; ida does not: the token does not either.
    assert_error(&cx.get("/api/v1/admin/users", t).await, 403, "FORBIDDEN");

    // Sue loses audit:read: acting as ida she has lost it too, at once.
    let r = cx
        .request(
            "PUT",
            &format!("/api/v1/roles/{support}"),
            Some(&root),
            Some(json!({"permissions": ["admin:access", "user:read"]})),
        )
        .await;
    ok(&r, "take audit:read from support_desk");
    let reads = join_all((0..12).map(|_| cx.get("/api/v1/audit", t))).await;
    for r in &reads {
        assert_error(r, 403, "FORBIDDEN");
    }
    // The impersonation itself lives on (sue keeps admin:access), and ida's own session keeps
    // ida's permission.
    ok(&cx.get("/api/v1/users/profile", t).await, "profile as ida");
    let (own, _) = cx.login("ida@example.com", PASSWORD).await;
    ok(&cx.get("/api/v1/audit", Some(&own)).await, "ida herself");
    assert_eq!(claims(&token)["sub"], json!(ida.to_string()));
}
http_case!(impersonation_acts_with_both_sides_permissions);

/// An impersonation token cannot delete notifications (one or all); the owner can, and every
/// deletion that removed something is audited with its count, also under concurrent deletes.
pub async fn impersonators_cannot_erase_notifications(cx: &HttpCtx) {
    let root = cx.app.access_token_for("root", &["admin"]).await;
    let email = cx.register_verified("nia").await;
    let nia = user_id(cx, &email).await;
    let raise = |n: usize| async move {
        let mut ids = Vec::new();
        for i in 0..n {
            let note = cx
                .app
                .manager
                .notify_user(
                    nia,
                    NotificationType::SecurityAlert,
                    "New sign-in",
                    &format!("sign-in {i}"),
                    json!({}),
                )
                .await
                .unwrap();
            ids.push(note.id);
        }
        ids
    };
    let ids = raise(3).await;
    let (own, _) = cx.login(&email, PASSWORD).await;
    let listed_before = ok(&cx.get("/api/v1/notifications", Some(&own)).await, "list");

    let token = impersonate(cx, &root, nia).await;
    let t = Some(token.as_str());
    let tries = (0..12).map(|i| {
        let uri = if i % 2 == 0 {
            "/api/v1/notifications".to_owned()
        } else {
            format!("/api/v1/notifications/{}", ids[i % ids.len()])
        };
        async move { cx.request("DELETE", &uri, t, None).await }
    });
    for r in join_all(tries).await {
        assert_error(&r, 403, "FORBIDDEN");
    }
    assert_eq!(
        ok(&cx.get("/api/v1/notifications", Some(&own)).await, "list"),
        listed_before,
        "nothing erased"
    );
    assert!(audit_rows(cx, "NOTIFICATIONS_DELETED").await.is_empty());

    // The owner deletes one: audited, with the count and the id.
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/notifications/{}", ids[0]),
            Some(&own),
            None,
        )
        .await;
    ok(&r, "delete one");
    let rows = audit_rows(cx, "NOTIFICATIONS_DELETED").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user_id, Some(nia));
    assert_eq!(rows[0].actor_id, Some(nia));
    assert_eq!(rows[0].details["count"], json!(1));
    assert_eq!(rows[0].details["notificationId"], json!(ids[0].to_string()));

    // Many "delete all" at once: the deleted counts add up to what there was, and exactly the
    // deletions that removed something are audited, each with its own count.
    raise(5).await;
    let there = cx
        .app
        .manager
        .store()
        .notifications(nia, false, 0, 100)
        .await
        .unwrap()
        .total;
    let answers =
        join_all((0..10).map(|_| cx.request("DELETE", "/api/v1/notifications", Some(&own), None)))
            .await;
    let counts: Vec<u64> = answers
        .iter()
        .map(|r| ok(r, "delete all")["deletedCount"].as_u64().unwrap())
        .collect();
    assert_eq!(counts.iter().sum::<u64>(), there, "{counts:?}");
    let mut audited: Vec<u64> = audit_rows(cx, "NOTIFICATIONS_DELETED")
        .await
        .iter()
        .filter(|e| e.details.get("notificationId").is_none())
        .map(|e| e.details["count"].as_u64().unwrap())
        .collect();
    let mut removed: Vec<u64> = counts.into_iter().filter(|c| *c > 0).collect();
    audited.sort_unstable();
    removed.sort_unstable();
    assert_eq!(audited, removed);
}
http_case!(impersonators_cannot_erase_notifications);

/// Stopping an impersonation takes the impersonation token and the administrator's own
/// refresh token for the session it rides on: that session ends (the impersonation token with
/// it), a fresh one opens for the administrator, and both ends are audited. Neither token
/// alone does it, and of two racing stops one wins.
pub async fn impersonation_stops_with_the_administrators_refresh_token(cx: &HttpCtx) {
    cx.app.access_token_for("root", &["admin"]).await;
    let email = cx.register_verified("ivo").await;
    let ivo = user_id(cx, &email).await;
    let root = user_id(cx, "root@example.com").await;
    let (admin, admin_refresh) = cx.login("root@example.com", PASSWORD).await;
    let token = impersonate(cx, &admin, ivo).await;
    let stop = "/api/v1/admin/impersonation/stop";

    // Not an impersonation: nothing to stop.
    assert_error(
        &cx.post(stop, Some(&admin), json!({"refreshToken": admin_refresh}))
            .await,
        409,
        "INVALID_ACCOUNT_STATE",
    );
    // The impersonation token alone buys no administrator's session.
    assert_error(
        &cx.post(stop, Some(&token), json!({})).await,
        422,
        "VALIDATION_ERROR",
    );
    let (_, ivo_refresh) = cx.login(&email, PASSWORD).await;
    assert_error(
        &cx.post(stop, Some(&token), json!({"refreshToken": ivo_refresh}))
            .await,
        401,
        "INVALID_REFRESH_TOKEN",
    );
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&token)).await.status,
        200,
        "still impersonating"
    );

    // Two stops at once with the administrator's refresh token: one wins.
    let answers = join_all(
        (0..2).map(|_| cx.post(stop, Some(&token), json!({"refreshToken": admin_refresh}))),
    )
    .await;
    let won: Vec<&TestResponse> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for lost in answers.iter().filter(|r| r.status != 200) {
        // Refused at the refresh proof, or already at the token (its session just ended).
        assert_eq!(lost.status, 401);
        let code = lost.json()["code"].as_str().unwrap_or_default().to_owned();
        assert!(
            ["INVALID_REFRESH_TOKEN", "INVALID_TOKEN"].contains(&code.as_str()),
            "{code}"
        );
    }
    let data = won[0].data();
    assert_eq!(data["user"]["id"], json!(root.to_string()));
    let fresh = data["tokens"]["accessToken"].as_str().unwrap().to_owned();
    assert!(
        claims(&fresh).get("act").is_none(),
        "the administrator's own token"
    );
    assert_ne!(
        claims(&fresh)["sid"],
        claims(&token)["sid"],
        "a fresh session"
    );

    // The impersonation token, the old access token and the old refresh token are dead.
    for dead in [&token, &admin] {
        assert_error(
            &cx.get("/api/v1/users/profile", Some(dead)).await,
            401,
            "INVALID_TOKEN",
        );
    }
    assert_eq!(
        cx.post(
            "/api/v1/auth/refresh",
            None,
            json!({"refreshToken": admin_refresh})
        )
        .await
        .status,
        401
    );
    let me = ok(
        &cx.get("/api/v1/users/profile", Some(&fresh)).await,
        "admin again",
    );
    assert_eq!(me["user"]["id"], json!(root.to_string()));

    // Both ends on record, with the administrator as actor and the user as target.
    let events = cx
        .app
        .manager
        .store()
        .audit_events(Some(ivo), 100)
        .await
        .unwrap();
    let ended: Vec<_> = events
        .iter()
        .filter(|e| e.action == "ADMIN_IMPERSONATION_ENDED")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].actor_id, Some(root));
    assert_eq!(ended[0].details["adminSessionId"], claims(&token)["sid"]);
}
http_case!(impersonation_stops_with_the_administrators_refresh_token);
