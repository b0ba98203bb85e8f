//! HTTP cases of roles, administration, impersonation, the account lifecycle, avatars and the
//! first seed's routes (part of the shared suite: see [`super::http_suite`]).

use super::http_suite::{
    HttpCtx, NEW_PASSWORD, PASSWORD, TestRequest, TestResponse, assert_error, error_fields,
};
use crate::store::USER_ROLE_ID;
use base64::Engine as _;
use serde_json::{Value, json};
use time::Duration;
use uuid::Uuid;

pub(crate) async fn user_id(cx: &HttpCtx, email: &str) -> Uuid {
    cx.app
        .manager
        .store()
        .user_by_email(email)
        .await
        .unwrap()
        .expect("user exists")
        .id
}

/// The claims of a JWT, read without checking it (the client's view).
pub(crate) fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url claims");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

pub(crate) fn ok(r: &TestResponse, what: &str) -> Value {
    assert!(
        (200..300).contains(&r.status),
        "{what}: {} {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    r.data()
}

fn notification_types(cx: &HttpCtx, body: &Value) -> Vec<String> {
    let _ = cx;
    body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap().to_owned())
        .collect()
}

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

pub async fn admin_user_search_filters_sorts_and_pages(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    for name in ["anna", "bert", "cleo", "dora_x"] {
        cx.register_verified(name).await;
    }
    cx.post(
        "/api/v1/auth/register",
        None,
        json!({"email": "ezra@example.org", "username": "ezra", "password": PASSWORD, "firstName": "Zed"}),
    )
    .await;
    let bert = user_id(cx, "bert@example.com").await;
    let cleo = user_id(cx, "cleo@example.com").await;
    ok(
        &cx.post(
            &format!("/api/v1/admin/users/{bert}/suspend"),
            a,
            json!({"reason": "spam"}),
        )
        .await,
        "suspend",
    );
    ok(
        &cx.request("DELETE", &format!("/api/v1/admin/users/{cleo}"), a, None)
            .await,
        "delete",
    );

    let names = |r: &TestResponse| -> Vec<String> {
        r.data()["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = cx
        .get("/api/v1/admin/users?sortBy=username&order=asc", a)
        .await;
    assert_eq!(names(&all), ["anna", "bert", "dora_x", "ezra", "root"]);
    assert_eq!(all.data()["total"], json!(5));
    assert_eq!(all.data()["users"][1]["status"], json!("suspended"));
    let r = cx
        .get("/api/v1/admin/users?q=DOR&sortBy=username&order=asc", a)
        .await;
    assert_eq!(names(&r), ["dora_x"]);
    let r = cx.get("/api/v1/admin/users?q=zed", a).await;
    assert_eq!(names(&r), ["ezra"]);
    // LIKE wildcards in the term match literally.
    let r = cx.get("/api/v1/admin/users?q=a_x", a).await;
    assert_eq!(names(&r), ["dora_x"]);
    let r = cx.get("/api/v1/admin/users?q=%25", a).await;
    assert_eq!(names(&r), Vec::<String>::new());
    let r = cx.get("/api/v1/admin/users?role=admin", a).await;
    assert_eq!(names(&r), ["root"]);
    let r = cx.get("/api/v1/admin/users?status=suspended", a).await;
    assert_eq!(names(&r), ["bert"]);
    let r = cx.get("/api/v1/admin/users?status=deleted", a).await;
    assert_eq!(names(&r), ["cleo"]);
    let r = cx.get("/api/v1/admin/users?verified=false", a).await;
    assert_eq!(names(&r), ["ezra"]);
    let r = cx
        .get(
            "/api/v1/admin/users?status=active&sortBy=email&order=desc",
            a,
        )
        .await;
    assert_eq!(names(&r), ["root", "ezra", "dora_x", "anna"]);
    let r = cx
        .get(
            "/api/v1/admin/users?sortBy=username&order=asc&page=2&limit=2",
            a,
        )
        .await;
    assert_eq!(names(&r), ["dora_x", "ezra"]);
    assert_eq!(r.data()["totalPages"], json!(3));
    assert_eq!(r.data()["page"], json!(2));

    let r = cx
        .get(
            "/api/v1/admin/users?status=gone&verified=maybe&sortBy=password_hash&order=up&limit=0",
            a,
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let mut fields = error_fields(&r);
    fields.sort();
    assert_eq!(fields, ["limit", "order", "sortBy", "status", "verified"]);
}

pub async fn admin_actions_on_accounts(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    let email = cx.register_verified("uma").await;
    let uma = user_id(cx, &email).await;
    let (uma_token, _) = cx.login(&email, PASSWORD).await;
    let base = format!("/api/v1/admin/users/{uma}");

    let dash = ok(&cx.get("/api/v1/admin/dashboard", a).await, "dashboard");
    assert_eq!(dash["users"]["total"], json!(2));
    assert_eq!(dash["users"]["active"], json!(2));
    assert_eq!(dash["users"]["verified"], json!(2));
    assert_eq!(dash["users"]["with2FA"], json!(0));
    assert_eq!(dash["users"]["newThisWeek"], json!(2));
    assert_eq!(dash["sessions"]["active"], json!(2));
    assert_eq!(dash["roles"].as_array().unwrap().len(), 3);

    let detail = ok(&cx.get(&base, a).await, "detail");
    assert_eq!(detail["user"]["email"], json!(email));
    assert_eq!(detail["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(detail["twoFactor"]["enabled"], json!(false));
    assert_eq!(detail["lockout"]["locked"], json!(false));
    assert!(detail["profile"].is_object());
    assert!(!detail.to_string().contains("argon2"));
    let unknown = format!("/api/v1/admin/users/{}", Uuid::now_v7());
    assert_error(&cx.get(&unknown, a).await, 404, "NOT_FOUND");
    for action in [
        "verify-email",
        "unlock",
        "suspend",
        "reactivate",
        "reset-password",
        "impersonate",
    ] {
        let r = cx.post(&format!("{unknown}/{action}"), a, json!({})).await;
        assert_error(&r, 404, "NOT_FOUND");
    }
    assert_error(
        &cx.request("DELETE", &unknown, a, None).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &cx.post(&format!("{base}/verify-email"), a, json!({})).await,
        409,
        "INVALID_ACCOUNT_STATE",
    );

    // Unlock: a locked account logs in again at once.
    for _ in 0..5 {
        cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": email, "password": "Wrong!Passw0rd"}),
        )
        .await;
    }
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": email, "password": PASSWORD}),
        )
        .await,
        423,
        "ACCOUNT_LOCKED",
    );
    assert_eq!(
        ok(&cx.get(&base, a).await, "detail")["lockout"]["locked"],
        json!(true)
    );
    ok(
        &cx.post(&format!("{base}/unlock"), a, json!({})).await,
        "unlock",
    );
    let (uma_token2, _) = cx.login(&email, PASSWORD).await;

    // Suspend: every session ends, login and requests are refused; reactivation restores.
    let r = cx
        .post(
            &format!("{base}/suspend"),
            a,
            json!({"reason": "abuse report #12"}),
        )
        .await;
    assert_eq!(ok(&r, "suspend")["user"]["status"], json!("suspended"));
    assert_error(
        &cx.post(&format!("{base}/suspend"), a, json!({})).await,
        409,
        "INVALID_ACCOUNT_STATE",
    );
    for token in [&uma_token, &uma_token2] {
        assert_eq!(
            cx.get("/api/v1/users/profile", Some(token)).await.status,
            401
        );
    }
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": email, "password": PASSWORD}),
        )
        .await,
        403,
        "ACCOUNT_SUSPENDED",
    );
    cx.app.deliver_mail().await;
    assert!(
        cx.app
            .mailer
            .last_to(&email)
            .unwrap()
            .text
            .contains("abuse report #12")
    );
    ok(
        &cx.post(&format!("{base}/reactivate"), a, json!({})).await,
        "reactivate",
    );
    // A fresh rate-limit window for the logins below (this case logs in more than 10 times).
    cx.app.clock.advance(Duration::minutes(1));
    assert_error(
        &cx.post(&format!("{base}/reactivate"), a, json!({})).await,
        409,
        "INVALID_ACCOUNT_STATE",
    );
    let (uma_token3, _) = cx.login(&email, PASSWORD).await;

    // Force reset: sessions end and the mailed link sets a new password.
    let r = ok(
        &cx.post(&format!("{base}/reset-password"), a, json!({}))
            .await,
        "force reset",
    );
    assert_eq!(r["revokedSessions"], json!(1));
    assert_eq!(
        cx.get("/api/v1/users/profile", Some(&uma_token3))
            .await
            .status,
        401
    );
    let token = cx.app.token_mailed_to(&email).await.expect("reset mail");
    ok(
        &cx.post(
            "/api/v1/auth/reset-password",
            None,
            json!({"token": token, "password": NEW_PASSWORD, "confirmPassword": NEW_PASSWORD}),
        )
        .await,
        "reset",
    );
    cx.login(&email, NEW_PASSWORD).await;

    // Verify by an administrator.
    cx.post(
        "/api/v1/auth/register",
        None,
        json!({"email": "vic@example.com", "username": "vic", "password": PASSWORD}),
    )
    .await;
    let vic = user_id(cx, "vic@example.com").await;
    let r = ok(
        &cx.post(
            &format!("/api/v1/admin/users/{vic}/verify-email"),
            a,
            json!({}),
        )
        .await,
        "verify",
    );
    assert_eq!(r["user"]["emailVerified"], json!(true));

    // A lesser role cannot act on a greater one.
    let helpdesk = ok(
        &cx.post(
            "/api/v1/roles",
            a,
            json!({"name": "helpdesk", "permissions": ["user:read", "user:manage", "user:delete"]}),
        )
        .await,
        "helpdesk role",
    );
    let (helper_token, _) = {
        let helper = cx.register_verified("hal").await;
        let hal = user_id(cx, &helper).await;
        ok(
            &cx.post(
                &format!("/api/v1/roles/user/{hal}/assign"),
                a,
                json!({"roleId": helpdesk["id"]}),
            )
            .await,
            "assign helpdesk",
        );
        cx.login(&helper, PASSWORD).await
    };
    let root_id = user_id(cx, "root@example.com").await;
    for action in ["suspend", "reset-password", "unlock"] {
        let r = cx
            .post(
                &format!("/api/v1/admin/users/{root_id}/{action}"),
                Some(&helper_token),
                json!({}),
            )
            .await;
        assert_error(&r, 403, "FORBIDDEN");
    }
    assert_error(
        &cx.request(
            "DELETE",
            &format!("/api/v1/admin/users/{root_id}"),
            Some(&helper_token),
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    // Control characters are refused with 422 on every store (PostgreSQL cannot keep NUL).
    let r = cx
        .post(
            &format!("{base}/suspend"),
            a,
            json!({"reason": "bad\u{0}reason"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_error(
        &cx.get("/api/v1/admin/users?q=a%00b", a).await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.get("/api/v1/audit?endDate=9999-12-31", a).await,
        422,
        "VALIDATION_ERROR",
    );

    // An administrator cannot lock themself out.
    let root = user_id(cx, "root@example.com").await;
    assert_error(
        &cx.post(&format!("/api/v1/admin/users/{root}/suspend"), a, json!({}))
            .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.request("DELETE", &format!("/api/v1/admin/users/{root}"), a, None)
            .await,
        422,
        "VALIDATION_ERROR",
    );

    // Soft delete: login refused, public profile gone, shown as deleted.
    ok(&cx.request("DELETE", &base, a, None).await, "delete");
    assert_error(
        &cx.request("DELETE", &base, a, None).await,
        409,
        "INVALID_ACCOUNT_STATE",
    );
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": email, "password": NEW_PASSWORD}),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(cx.get("/api/v1/users/uma", None).await.status, 404);
    assert_eq!(
        ok(&cx.get(&base, a).await, "detail")["user"]["status"],
        json!("deleted")
    );

    // Bulk assignment counts new holders only; bad input changes nothing.
    let bulk = "/api/v1/admin/bulk/assign-role";
    let moderator_role = crate::store::MODERATOR_ROLE_ID;
    let r = cx
        .post(
            bulk,
            a,
            json!({"userIds": [vic, root, Uuid::now_v7(), vic], "roleId": moderator_role}),
        )
        .await;
    let r = ok(&r, "bulk");
    assert_eq!(r["assigned"], json!(2));
    assert_eq!(r["total"], json!(4));
    assert_error(
        &cx.post(bulk, a, json!({"userIds": [], "roleId": moderator_role}))
            .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.post(
            bulk,
            a,
            json!({"userIds": ["nope"], "roleId": moderator_role}),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &cx.post(bulk, a, json!({"userIds": [vic], "roleId": Uuid::now_v7()}))
            .await,
        404,
        "NOT_FOUND",
    );

    let actions = cx.audit_actions(&email).await;
    for action in [
        "ADMIN_USER_UNLOCKED",
        "ADMIN_USER_SUSPENDED",
        "ADMIN_USER_REACTIVATED",
        "ADMIN_PASSWORD_RESET",
        "ADMIN_USER_DELETED",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} missing: {actions:?}"
        );
    }
}

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

pub async fn account_lifecycle_end_to_end(cx: &HttpCtx) {
    let email = cx.register_verified("lena").await;
    let lena = user_id(cx, &email).await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let t = Some(token.as_str());
    let creds = json!({"email": email, "password": PASSWORD});

    // Deactivate: wrong password first (changes nothing), then for real.
    assert_error(
        &cx.post(
            "/api/v1/account/deactivate",
            t,
            json!({"password": "Wrong!Passw0rd"}),
        )
        .await,
        400,
        "INCORRECT_PASSWORD",
    );
    assert_error(
        &cx.post("/api/v1/account/deactivate", t, json!({})).await,
        422,
        "VALIDATION_ERROR",
    );
    assert_eq!(cx.get("/api/v1/users/profile", t).await.status, 200);
    ok(
        &cx.post(
            "/api/v1/account/deactivate",
            t,
            json!({"password": PASSWORD}),
        )
        .await,
        "deactivate",
    );
    assert_eq!(cx.get("/api/v1/users/profile", t).await.status, 401);
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": email, "password": PASSWORD}),
        )
        .await,
        403,
        "ACCOUNT_DEACTIVATED",
    );
    assert_eq!(cx.get("/api/v1/users/lena", None).await.status, 404);
    assert_error(
        &cx.post(
            "/api/v1/account/reactivate",
            None,
            json!({"email": email, "password": "Wrong!Passw0rd"}),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_error(
        &cx.post(
            "/api/v1/account/reactivate",
            None,
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    let r = ok(
        &cx.post("/api/v1/account/reactivate", None, creds.clone())
            .await,
        "reactivate",
    );
    assert_eq!(r["user"]["isActive"], json!(true));
    assert_error(
        &cx.post("/api/v1/account/reactivate", None, creds.clone())
            .await,
        409,
        "INVALID_ACCOUNT_STATE",
    );

    // Soft delete with a 30-day recovery window. (A new lockout window first: the two wrong
    // passwords above still count in theirs.)
    cx.app.clock.advance(Duration::minutes(15));
    let (token, _) = cx.login(&email, PASSWORD).await;
    let t = Some(token.as_str());
    // Wrong confirmations count toward the lockout; during a lock none is checked.
    let wrong = json!({"password": "Wrong!Passw0rd"});
    for _ in 0..4 {
        assert_error(
            &cx.request("DELETE", "/api/v1/account", t, Some(wrong.clone()))
                .await,
            400,
            "INCORRECT_PASSWORD",
        );
    }
    assert_error(
        &cx.request("DELETE", "/api/v1/account", t, Some(wrong.clone()))
            .await,
        423,
        "ACCOUNT_LOCKED",
    );
    assert_error(
        &cx.request(
            "DELETE",
            "/api/v1/account",
            t,
            Some(json!({"password": PASSWORD})),
        )
        .await,
        423,
        "ACCOUNT_LOCKED",
    );
    cx.app.clock.advance(Duration::minutes(31));
    let (token, _) = cx.login(&email, PASSWORD).await;
    let t = Some(token.as_str());
    let r = cx
        .request(
            "DELETE",
            "/api/v1/account",
            t,
            Some(json!({"password": PASSWORD})),
        )
        .await;
    let deadline = ok(&r, "delete")["recoveryDeadline"]
        .as_str()
        .unwrap()
        .to_owned();
    let deadline =
        time::OffsetDateTime::parse(&deadline, &time::format_description::well_known::Rfc3339)
            .unwrap();
    let expected = cx.app.manager.now() + Duration::days(30);
    assert!((deadline - expected).abs() < Duration::seconds(2));
    assert_eq!(cx.get("/api/v1/users/profile", t).await.status, 401);
    assert_error(
        &cx.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": email, "password": PASSWORD}),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    // Registering the address again is refused while it can be recovered.
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "username": "lena2", "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 409, "EMAIL_TAKEN");
    cx.app.clock.advance(Duration::days(29));
    ok(
        &cx.post("/api/v1/account/recover", None, creds.clone())
            .await,
        "recover",
    );
    assert_error(
        &cx.post("/api/v1/account/recover", None, creds.clone())
            .await,
        409,
        "INVALID_ACCOUNT_STATE",
    );
    let (token, _) = cx.login(&email, PASSWORD).await;

    // Deleted again and left past the window: recovery is refused, the purge removes it.
    ok(
        &cx.request(
            "DELETE",
            "/api/v1/account",
            Some(&token),
            Some(json!({"password": PASSWORD})),
        )
        .await,
        "delete again",
    );
    assert_eq!(cx.app.manager.purge_expired_accounts().await.unwrap(), 0);
    cx.app
        .clock
        .advance(Duration::days(30) + Duration::minutes(1));
    assert_error(
        &cx.post("/api/v1/account/recover", None, creds.clone())
            .await,
        409,
        "INVALID_ACCOUNT_STATE",
    );
    assert_eq!(cx.app.manager.purge_expired_accounts().await.unwrap(), 1);
    assert_eq!(cx.app.manager.purge_expired_accounts().await.unwrap(), 0);
    let store = cx.app.manager.store();
    assert!(store.user_by_id(lena).await.unwrap().is_none());
    assert_error(
        &cx.post("/api/v1/account/recover", None, creds.clone())
            .await,
        401,
        "INVALID_CREDENTIALS",
    );
    // The trail stays, anonymised: nothing points at the person any more.
    let all = store.audit_events(None, 10_000).await.unwrap();
    assert!(
        all.iter()
            .all(|e| e.user_id != Some(lena) && e.actor_id != Some(lena))
    );
    assert!(!serde_json::to_string(&all).unwrap().contains(&email));
    let purged = all
        .iter()
        .find(|e| e.action == "ACCOUNT_PURGED")
        .expect("purge audited");
    assert_eq!(purged.details["reason"], json!("recovery_window_expired"));
    assert!(
        all.iter()
            .any(|e| e.action == "ACCOUNT_RECOVERED" && e.details["anonymized"] == json!(true))
    );
    // The address is free again.
    let r = cx
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": email, "username": "lena", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 201);
}

pub async fn permanent_delete_and_export(cx: &HttpCtx) {
    let email = cx.register_verified("paul").await;
    let paul = user_id(cx, &email).await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let t = Some(token.as_str());
    ok(
        &cx.request(
            "PATCH",
            "/api/v1/users/profile",
            t,
            Some(json!({"bio": "hello", "city": "Lyon"})),
        )
        .await,
        "profile",
    );

    // Staff acting on the account: the export keeps what happened, not who or from where.
    let me = cx.get("/api/v1/users/profile", t).await.data()["user"]["id"].clone();
    let staff = cx.app.access_token_for("exporter_staff", &["admin"]).await;
    let r = cx
        .post(
            &format!("/api/v1/admin/users/{}/unlock", me.as_str().unwrap()),
            Some(&staff),
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200);

    let r = cx.get("/api/v1/account/export", t).await;
    let export = ok(&r, "export");
    let staff_row = export["auditTrail"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "ADMIN_USER_UNLOCKED")
        .expect("the staff action is in the trail")
        .clone();
    assert_eq!(staff_row["userId"], me);
    for hidden in ["actorId", "ipAddress", "userAgent"] {
        assert_eq!(staff_row[hidden], Value::Null, "{hidden} of staff exported");
    }
    assert!(
        r.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(export["user"]["email"], json!(email));
    assert_eq!(export["profile"]["city"], json!("Lyon"));
    assert_eq!(export["sessions"].as_array().unwrap().len(), 1);
    assert!(
        export["auditTrail"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "USER_REGISTERED")
    );
    assert!(
        export["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["type"] == "EMAIL_VERIFIED")
    );
    assert_eq!(export["passwordChanges"].as_array().unwrap().len(), 1);
    let text = export.to_string();
    for secret in [
        "argon2",
        "passwordHash",
        "password_hash",
        "sealed",
        "digest",
        &token,
    ] {
        assert!(!text.contains(secret), "export leaks {secret}");
    }
    assert!(
        cx.audit_actions(&email)
            .await
            .iter()
            .any(|a| a == "DATA_EXPORTED")
    );

    let r = cx
        .post(
            "/api/v1/account/permanent-delete",
            t,
            json!({"password": PASSWORD, "confirmEmail": "other@example.com"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), ["confirmEmail"]);
    let r = cx
        .post(
            "/api/v1/account/permanent-delete",
            t,
            json!({"password": "Wrong!Passw0rd", "confirmEmail": email}),
        )
        .await;
    assert_error(&r, 400, "INCORRECT_PASSWORD");
    assert!(
        cx.app
            .manager
            .store()
            .user_by_id(paul)
            .await
            .unwrap()
            .is_some()
    );
    let r = cx
        .post(
            "/api/v1/account/permanent-delete",
            t,
            json!({"password": PASSWORD, "confirmEmail": email.to_uppercase()}),
        )
        .await;
    ok(&r, "permanent delete");
    let store = cx.app.manager.store();
    assert!(store.user_by_id(paul).await.unwrap().is_none());
    assert_eq!(cx.get("/api/v1/users/profile", t).await.status, 401);
    let all = store.audit_events(None, 10_000).await.unwrap();
    assert!(
        all.iter()
            .all(|e| e.user_id != Some(paul) && e.actor_id != Some(paul))
    );
    assert!(
        all.iter()
            .any(|e| e.action == "ACCOUNT_PURGED" && e.details["reason"] == json!("owner_request"))
    );
    cx.app.deliver_mail().await;
    assert!(
        cx.app
            .mailer
            .last_to(&email)
            .unwrap()
            .subject
            .contains("removed")
    );
    // Erasure: once the last notice is delivered, the address is in no outbox row either.
    assert_eq!(store.mail_rows_to(&email).await.unwrap(), 0);
}

/// A multipart body with one file part.
pub(crate) fn multipart(
    boundary: &str,
    declared_type: &str,
    file_name: &str,
    bytes: &[u8],
) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"avatar\"; filename=\"{file_name}\"\r\nContent-Type: {declared_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

/// A tiny valid PNG (1×1).
pub const PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
    0x89, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
    0x42, 0x60, 0x82,
];

/// The start of a JPEG (SOI, APP0/JFIF).
pub const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xFF, 0xD9,
];

pub async fn avatars_upload_serve_replace_delete(cx: &HttpCtx) {
    let email = cx.register_verified("ava").await;
    let (token, _) = cx.login(&email, PASSWORD).await;
    let upload = |ct: String, body: Vec<u8>| {
        let token = token.clone();
        async move {
            cx.send(super::http_suite::TestRequest {
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
    use crate::api::ROUTES;
    use crate::api::openapi::documented_path;
    let r = cx.get("/api/v1/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], json!("3.1.0"));
    // Every served route is documented, and nothing else.
    let served: std::collections::BTreeSet<_> = ROUTES
        .iter()
        .filter(|r| !r.compat)
        .map(|r| (r.method.to_owned(), documented_path(r.path)))
        .collect();
    assert_eq!(documented_operations(&doc), served);
    for route in ROUTES.iter().filter(|r| !r.compat) {
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
    assert_eq!(documented_operations(&doc).len(), ROUTES.len());

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
