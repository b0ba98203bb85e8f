//! HTTP conformance cases for roles and permissions through the API, and role changes bounded by
//! the role's permissions. Each case registers itself with `http_case!` right below its
//! function (see [`crate::testing::runner`]).

use crate::store::USER_ROLE_ID;
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use futures_util::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

pub async fn roles_api_end_to_end(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());

    let roles = ok(&cx.get("/api/v1/roles", a).await, "list roles");
    let names: Vec<_> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "moderator", "user"]);
    assert_eq!(roles[0]["userCount"], json!(1));
    assert_eq!(roles[0]["isSystem"], json!(true));
    assert_eq!(roles[0]["permissions"].as_array().unwrap().len(), 14);
    let permissions = ok(&cx.get("/api/v1/roles/permissions", a).await, "permissions");
    assert_eq!(permissions.as_array().unwrap().len(), 14);
    assert!(permissions[0]["description"].is_string());

    // Validation reports every broken rule and creates nothing.
    let r = cx
        .post(
            "/api/v1/roles",
            a,
            json!({"name": "Bad-Name", "permissions": ["user:read", "root:everything"]}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), ["name", "permissions[1]"]);
    let r = cx
        .post(
            "/api/v1/roles",
            a,
            json!({"name": "editor", "permissions": []}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .post(
            "/api/v1/roles",
            a,
            json!({"name": "editor", "permissions": ["user:read"], "admin": true}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(
        ok(&cx.get("/api/v1/roles", a).await, "list")
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let r = cx
        .post(
            "/api/v1/roles",
            a,
            json!({"name": "support", "description": "Helps users", "permissions": ["role:read", "user:read", "user:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let role = r.data();
    assert_eq!(role["permissions"], json!(["role:read", "user:read"]));
    assert_eq!(role["isSystem"], json!(false));
    assert_eq!(role["userCount"], json!(0));
    let role_id = role["id"].as_str().unwrap().to_owned();
    let r = cx
        .post(
            "/api/v1/roles",
            a,
            json!({"name": "support", "permissions": ["user:read"]}),
        )
        .await;
    assert_error(&r, 409, "ROLE_NAME_TAKEN");

    let got = ok(
        &cx.get(&format!("/api/v1/roles/{role_id}"), a).await,
        "get role",
    );
    assert_eq!(got["name"], json!("support"));
    assert_error(
        &cx.get(&format!("/api/v1/roles/{}", Uuid::now_v7()), a)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.get("/api/v1/roles/not-a-uuid", a).await,
        404,
        "NOT_FOUND",
    );

    // Renaming: custom roles yes, system roles no (their permissions may change).
    let r = cx
        .request(
            "PUT",
            &format!("/api/v1/roles/{role_id}"),
            a,
            Some(json!({"name": "helpdesk", "description": null})),
        )
        .await;
    let updated = ok(&r, "rename");
    assert_eq!(updated["name"], json!("helpdesk"));
    assert_eq!(updated["description"], Value::Null);
    let r = cx
        .request(
            "PUT",
            &format!("/api/v1/roles/{USER_ROLE_ID}"),
            a,
            Some(json!({"name": "member"})),
        )
        .await;
    assert_error(&r, 409, "SYSTEM_ROLE");
    let r = cx
        .request(
            "PUT",
            &format!("/api/v1/roles/{role_id}"),
            a,
            Some(json!({"name": "moderator"})),
        )
        .await;
    assert_error(&r, 409, "ROLE_NAME_TAKEN");

    // Assignment takes effect on the next request.
    let email = cx.register_verified("carla").await;
    let carla = user_id(cx, &email).await;
    let (carla_token, _) = cx.login(&email, PASSWORD).await;
    let c = Some(carla_token.as_str());
    assert_error(&cx.get("/api/v1/roles", c).await, 403, "FORBIDDEN");
    let assign = format!("/api/v1/roles/user/{carla}/assign");
    let r = cx.post(&assign, a, json!({"roleId": role_id})).await;
    let body = ok(&r, "assign");
    assert_eq!(body["assigned"], json!(true));
    assert_eq!(body["roles"].as_array().unwrap().len(), 2);
    let again = ok(
        &cx.post(&assign, a, json!({"roleId": role_id})).await,
        "assign again",
    );
    assert_eq!(again["assigned"], json!(false));
    assert_eq!(cx.get("/api/v1/roles", c).await.status, 200);
    assert_error(
        &cx.post(&assign, a, json!({"roleId": Uuid::now_v7()})).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.post(
            &format!("/api/v1/roles/user/{}/assign", Uuid::now_v7()),
            a,
            json!({"roleId": role_id}),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.post(&assign, a, json!({})).await,
        422,
        "VALIDATION_ERROR",
    );
    let held = ok(
        &cx.get(&format!("/api/v1/roles/user/{carla}"), a).await,
        "user roles",
    );
    assert_eq!(held["roles"].as_array().unwrap().len(), 2);

    // A role with holders stays; a user keeps at least one role.
    assert_error(
        &cx.request("DELETE", &format!("/api/v1/roles/{role_id}"), a, None)
            .await,
        409,
        "ROLE_IN_USE",
    );
    let remove_user_role = format!("/api/v1/roles/user/{carla}/{USER_ROLE_ID}");
    ok(
        &cx.request("DELETE", &remove_user_role, a, None).await,
        "remove user role",
    );
    assert_error(
        &cx.request("DELETE", &remove_user_role, a, None).await,
        404,
        "NOT_FOUND",
    );
    let remove_custom = format!("/api/v1/roles/user/{carla}/{role_id}");
    assert_error(
        &cx.request("DELETE", &remove_custom, a, None).await,
        409,
        "LAST_ROLE",
    );
    ok(
        &cx.post(
            &format!("/api/v1/roles/user/{carla}/assign"),
            a,
            json!({"roleId": USER_ROLE_ID}),
        )
        .await,
        "re-add user",
    );
    ok(
        &cx.request("DELETE", &remove_custom, a, None).await,
        "remove custom",
    );
    assert_error(&cx.get("/api/v1/roles", c).await, 403, "FORBIDDEN");

    ok(
        &cx.request("DELETE", &format!("/api/v1/roles/{role_id}"), a, None)
            .await,
        "delete role",
    );
    assert_error(
        &cx.request("DELETE", &format!("/api/v1/roles/{role_id}"), a, None)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.request("DELETE", &format!("/api/v1/roles/{USER_ROLE_ID}"), a, None)
            .await,
        409,
        "SYSTEM_ROLE",
    );

    // Holding role:assign does not let anyone hand out more than they hold.
    let assigner_role = ok(
        &cx.post(
            "/api/v1/roles",
            a,
            json!({"name": "assigner", "permissions": ["role:assign", "role:create", "user:read"]}),
        )
        .await,
        "assigner",
    );
    ok(
        &cx.post(&assign, a, json!({"roleId": assigner_role["id"]}))
            .await,
        "give assigner",
    );
    let r = cx
        .post(&assign, c, json!({"roleId": crate::store::ADMIN_ROLE_ID}))
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    let r = cx
        .post(
            "/api/v1/roles",
            c,
            json!({"name": "sneaky", "permissions": ["system:manage"]}),
        )
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    let r = cx
        .post(
            "/api/v1/roles",
            c,
            json!({"name": "helper", "permissions": ["user:read"]}),
        )
        .await;
    assert_eq!(
        r.status, 201,
        "a grant within one's own permissions is fine"
    );
    // ... and nothing is taken away that one does not hold either.
    let root = user_id(cx, "root@example.com").await;
    let r = cx
        .request(
            "DELETE",
            &format!("/api/v1/roles/user/{root}/{}", crate::store::ADMIN_ROLE_ID),
            c,
            None,
        )
        .await;
    assert_error(&r, 403, "FORBIDDEN");
    ok(
        &cx.request(
            "DELETE",
            &format!(
                "/api/v1/roles/user/{carla}/{}",
                assigner_role["id"].as_str().unwrap()
            ),
            a,
            None,
        )
        .await,
        "take assigner",
    );

    let notes = ok(&cx.get("/api/v1/notifications", c).await, "notifications");
    assert!(
        notification_types(cx, &notes)
            .iter()
            .filter(|t| *t == "ROLE_CHANGED")
            .count()
            >= 3
    );
    let admin_actions = cx.audit_actions("root@example.com").await;
    for action in [
        "ROLE_CREATED",
        "ROLE_UPDATED",
        "ROLE_ASSIGNED",
        "ROLE_REMOVED",
        "ROLE_DELETED",
    ] {
        assert!(
            admin_actions.iter().any(|a| a == action),
            "{action} missing: {admin_actions:?}"
        );
    }
}
http_case!(roles_api_end_to_end);

pub async fn permission_denials_are_403(cx: &HttpCtx) {
    let plain = cx.app.access_token_for("pat", &["user"]).await;
    let moderator = cx.app.access_token_for("moe", &["moderator"]).await;
    let target = user_id(cx, "pat@example.com").await;
    let role = USER_ROLE_ID;
    // (method, path, body, moderator allowed)
    let calls: Vec<(&str, String, Option<Value>, bool)> = vec![
        ("GET", "/api/v1/roles".into(), None, true),
        ("GET", "/api/v1/roles/permissions".into(), None, true),
        ("GET", format!("/api/v1/roles/{role}"), None, true),
        (
            "POST",
            "/api/v1/roles".into(),
            Some(json!({"name": "x_role", "permissions": ["user:read"]})),
            false,
        ),
        (
            "PUT",
            format!("/api/v1/roles/{role}"),
            Some(json!({"description": "x"})),
            false,
        ),
        ("DELETE", format!("/api/v1/roles/{role}"), None, false),
        ("GET", format!("/api/v1/roles/user/{target}"), None, true),
        (
            "POST",
            format!("/api/v1/roles/user/{target}/assign"),
            Some(json!({"roleId": role})),
            false,
        ),
        (
            "DELETE",
            format!("/api/v1/roles/user/{target}/{role}"),
            None,
            false,
        ),
        ("GET", "/api/v1/admin/dashboard".into(), None, true),
        ("GET", "/api/v1/admin/users".into(), None, true),
        ("GET", format!("/api/v1/admin/users/{target}"), None, true),
        (
            "POST",
            format!("/api/v1/admin/users/{target}/reset-password"),
            None,
            false,
        ),
        (
            "POST",
            format!("/api/v1/admin/users/{target}/verify-email"),
            None,
            false,
        ),
        (
            "POST",
            format!("/api/v1/admin/users/{target}/unlock"),
            None,
            false,
        ),
        (
            "POST",
            format!("/api/v1/admin/users/{target}/suspend"),
            Some(json!({})),
            false,
        ),
        (
            "POST",
            format!("/api/v1/admin/users/{target}/reactivate"),
            None,
            false,
        ),
        (
            "DELETE",
            format!("/api/v1/admin/users/{target}"),
            None,
            false,
        ),
        (
            "POST",
            "/api/v1/admin/bulk/assign-role".into(),
            Some(json!({"userIds": [target], "roleId": role})),
            false,
        ),
    ];
    for (method, path, body, moderator_allowed) in &calls {
        let r = cx.request(method, path, None, body.clone()).await;
        assert_error(&r, 401, "UNAUTHENTICATED");
        let r = cx.request(method, path, Some(&plain), body.clone()).await;
        assert_error(&r, 403, "FORBIDDEN");
        let r = cx
            .request(method, path, Some(&moderator), body.clone())
            .await;
        if *moderator_allowed {
            assert_eq!(
                r.status,
                200,
                "moderator {method} {path}: {}",
                String::from_utf8_lossy(&r.body)
            );
        } else {
            assert_error(&r, 403, "FORBIDDEN");
        }
    }
    // Denials changed nothing.
    let user = cx
        .app
        .manager
        .store()
        .user_by_id(target)
        .await
        .unwrap()
        .unwrap();
    assert!(!user.is_suspended && user.deleted_at.is_none());
    assert_eq!(user.roles, ["user"]);
}
http_case!(permission_denials_are_403);

/// A role:update / role:delete holder can change or delete only roles whose every permission
/// they hold: renaming, re-describing and deleting a stronger role is refused and changes
/// nothing, also when tried many times at once.
pub async fn role_changes_need_every_permission_of_the_role(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let strong = create_role(cx, &admin, "strong_role", &["user:delete", "role:read"]).await;
    let weak = create_role(cx, &admin, "weak_role", &["role:read"]).await;
    create_role(
        cx,
        &admin,
        "role_editor",
        &["role:read", "role:update", "role:delete"],
    )
    .await;
    let editor = cx.app.access_token_for("eddie", &["role_editor"]).await;
    let e = Some(editor.as_str());
    let strong_uri = format!("/api/v1/roles/{strong}");
    let before = ok(&cx.get(&strong_uri, Some(&admin)).await, "strong role");

    for body in [
        json!({"name": "renamed_role"}),
        json!({"description": "harmless, hand it out"}),
        json!({"description": null}),
        json!({"permissions": ["role:read"]}),
    ] {
        let r = cx.request("PUT", &strong_uri, e, Some(body.clone())).await;
        assert_error(&r, 403, "FORBIDDEN");
    }
    assert_error(
        &cx.request("DELETE", &strong_uri, e, None).await,
        403,
        "FORBIDDEN",
    );

    // Many at once: every one refused, none slips through between check and write.
    let attempts = (0..16).map(|i| {
        let uri = strong_uri.clone();
        async move {
            if i % 2 == 0 {
                cx.request(
                    "PUT",
                    &uri,
                    e,
                    Some(json!({"name": format!("renamed_{}", "x".repeat(i + 1))})),
                )
                .await
            } else {
                cx.request("DELETE", &uri, e, None).await
            }
        }
    });
    for r in join_all(attempts).await {
        assert_error(&r, 403, "FORBIDDEN");
    }
    assert_eq!(
        ok(&cx.get(&strong_uri, Some(&admin)).await, "strong role"),
        before,
        "nothing changed"
    );
    let touched: Vec<_> = [
        audit_rows(cx, "ROLE_UPDATED").await,
        audit_rows(cx, "ROLE_DELETED").await,
    ]
    .concat()
    .into_iter()
    .filter(|a| a.resource_id.as_deref() == Some(strong.as_str()))
    .collect();
    assert!(touched.is_empty(), "{touched:?}");

    // A role within the editor's own permissions stays theirs to change and delete.
    let weak_uri = format!("/api/v1/roles/{weak}");
    let r = cx
        .request(
            "PUT",
            &weak_uri,
            e,
            Some(json!({"name": "weaker_role", "description": "reads roles"})),
        )
        .await;
    assert_eq!(ok(&r, "rename weak role")["name"], json!("weaker_role"));
    ok(
        &cx.request("DELETE", &weak_uri, e, None).await,
        "delete weak role",
    );
    // The administrator, who holds everything, still changes the strong one.
    let r = cx
        .request(
            "PUT",
            &strong_uri,
            Some(&admin),
            Some(json!({"description": "changed by root"})),
        )
        .await;
    assert_eq!(
        ok(&r, "admin updates")["description"],
        json!("changed by root")
    );
}
http_case!(role_changes_need_every_permission_of_the_role);

/// The second seed writes permissions `USER_READ`, `ROLE_ASSIGN`, … (its README's table). Its
/// role bodies and guards by name keep working: those names are read as ours (`user:read`,
/// `role:assign`), stored and answered as ours; a name that is neither is still 422.
pub async fn second_seed_permission_names_are_aliases(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());

    // The seed's moderator, as its clients would define it.
    let r = cx
        .send_text(
            "POST",
            "/api/v1/roles/",
            a,
            r#"{"name": "seed_moderator", "permissions": ["USER_READ", "USER_UPDATE", "AUDIT_READ", "user:read"]}"#,
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let role = r.json()["data"].clone();
    assert_eq!(
        role["permissions"],
        json!(["audit:read", "user:read", "user:update"])
    );
    let role_id = role["id"].as_str().unwrap().to_owned();
    let r = cx
        .send_text(
            "PUT",
            &format!("/api/v1/roles/{role_id}"),
            a,
            r#"{"permissions": ["ROLE_READ", "ROLE_ASSIGN"]}"#,
        )
        .await;
    assert_eq!(
        ok(&r, "update with the seed's names")["permissions"],
        json!(["role:assign", "role:read"])
    );
    let listed = ok(
        &cx.get(&format!("/api/v1/roles/{role_id}"), a).await,
        "read",
    );
    assert_eq!(listed["permissions"], json!(["role:assign", "role:read"]));

    // Unknown names are refused, in either spelling, and change nothing.
    for bad in [r#"["USER_READS"]"#, r#"["user_read"]"#, r#"["User_Read"]"#] {
        let r = cx
            .send_text(
                "PUT",
                &format!("/api/v1/roles/{role_id}"),
                a,
                &format!(r#"{{"permissions": {bad}}}"#),
            )
            .await;
        assert_error(&r, 422, "VALIDATION_ERROR");
        assert_eq!(error_fields(&r), ["permissions[0]"]);
    }
    let listed = ok(
        &cx.get(&format!("/api/v1/roles/{role_id}"), a).await,
        "unchanged",
    );
    assert_eq!(listed["permissions"], json!(["role:assign", "role:read"]));

    // Guards by name take either spelling; an unknown name grants nothing.
    let manager = &cx.app.manager;
    let reader = cx.app.access_token_for("reader", &["moderator"]).await;
    for name in ["USER_READ", "user:read"] {
        manager.authenticate_with(&reader, name).await.unwrap();
    }
    for name in ["ROLE_ASSIGN", "role:assign", "USER_READS"] {
        assert!(matches!(
            manager.authenticate_with(&reader, name).await,
            Err(crate::Error::Forbidden)
        ));
    }
}
http_case!(second_seed_permission_names_are_aliases);
