//! HTTP conformance cases for administration: the user search and the actions on accounts. Each
//! case registers itself with `http_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::clock::Clock;
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::json;
use time::Duration;
use uuid::Uuid;

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
http_case!(admin_user_search_filters_sorts_and_pages);

/// The admin user search and the audit listings count their matches up to
/// `Config::total_count_limit`: past it `total` is a lower bound and `totalExact` false; below
/// it, or when the page itself lies past it, the total is exact; the pages are the same.
pub async fn listing_totals_stop_at_the_count_limit(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    for name in ["anna", "bert", "cleo", "dora", "ezra"] {
        cx.register_verified(name).await;
    }
    let bounded = cx
        .with_config(
            crate::testing::test_config_builder()
                .total_count_limit(3)
                .build()
                .unwrap(),
        )
        .await;
    let totals = |r: &TestResponse| {
        let data = ok(r, "listing");
        (
            data["total"].as_u64().unwrap(),
            data["totalExact"].as_bool().unwrap(),
            data["totalPages"].as_u64().unwrap(),
        )
    };
    let rows = |r: &TestResponse, key: &str| r.data()[key].clone();

    // Six live users (root and five), two to a page.
    let users = "/api/v1/admin/users?sortBy=username&order=asc&limit=2";
    for page in 1..=3 {
        let uri = format!("{users}&page={page}");
        let (exact, bounded_answer) = (cx.get(&uri, a).await, bounded.get(&uri, a).await);
        assert_eq!(totals(&exact), (6, true, 3), "{uri}");
        assert_eq!(
            rows(&bounded_answer, "users"),
            rows(&exact, "users"),
            "{uri}"
        );
        let expected = match page {
            // Counting stopped at the limit (3): at least 3.
            1 => (3, false, 2),
            // The page ends at row 4, past the limit: counted to its end, at least 4.
            2 => (4, false, 2),
            // The page ends at row 6, counted to 7: every match was seen.
            _ => (6, true, 3),
        };
        assert_eq!(totals(&bounded_answer), expected, "{uri}");
    }
    let r = bounded.get("/api/v1/admin/users?q=anna", a).await;
    assert_eq!(totals(&r), (1, true, 1), "below the limit: exact");
    let r = bounded.get("/api/v1/admin/users?q=nobody-at-all", a).await;
    assert_eq!(totals(&r), (0, true, 0));

    // The audit trail: six registrations (root and five).
    let audit = "/api/v1/audit?action=USER_REGISTERED&limit=2";
    let (exact, bounded_answer) = (cx.get(audit, a).await, bounded.get(audit, a).await);
    assert_eq!(totals(&exact), (6, true, 3));
    assert_eq!(totals(&bounded_answer), (3, false, 2));
    assert_eq!(rows(&bounded_answer, "logs"), rows(&exact, "logs"));
    let anna = user_id(cx, "anna@example.com").await;
    // Registered, verified and two sign-ins: four rows, one past the limit.
    for _ in 0..2 {
        cx.login("anna@example.com", PASSWORD).await;
    }
    let uri = format!("/api/v1/audit/user/{anna}?limit=1");
    let (exact, bounded_answer) = (cx.get(&uri, a).await, bounded.get(&uri, a).await);
    let (anna_rows, exact_flag, _) = totals(&exact);
    assert!(
        exact_flag && anna_rows > 3,
        "anna has more rows than the limit: {anna_rows}"
    );
    assert_eq!(totals(&bounded_answer), (3, false, 3));
    assert_eq!(rows(&bounded_answer, "logs"), rows(&exact, "logs"));

    // Counting everything stays available.
    let unbounded = cx
        .with_config(
            crate::testing::test_config_builder()
                .total_count_limit(0)
                .build()
                .unwrap(),
        )
        .await;
    assert_eq!(
        totals(&unbounded.get(&format!("{users}&page=1"), a).await),
        (6, true, 3)
    );
}
http_case!(listing_totals_stop_at_the_count_limit);

/// Dashboard figures that were slow to read are answered again until they are
/// `dashboard_max_age` old, with the time they were read; past it the kept ones are answered
/// once more while one background read replaces them. Quick reads are never kept.
pub async fn slow_dashboard_figures_are_kept_until_their_max_age(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    let keeping = |max_age: Duration| {
        crate::testing::test_config_builder()
            // Every read counts as slow, so this case does not need a slow database.
            .dashboard_slow_read(Duration::ZERO)
            .dashboard_max_age(max_age)
            .build()
            .unwrap()
    };
    let kept = cx.with_config(keeping(Duration::seconds(60))).await;
    let figures = |r: &TestResponse| {
        let data = ok(r, "dashboard");
        (
            data["users"]["total"].as_u64().unwrap(),
            data["asOf"].as_str().unwrap().to_owned(),
        )
    };
    let (users, read_at) = figures(&kept.get("/api/v1/admin/dashboard", a).await);
    assert_eq!(users, 1, "the administrator");
    let first_read =
        time::OffsetDateTime::parse(&read_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert_eq!(first_read, kept.app.clock.now(), "read now");

    cx.register_verified("anna").await;
    kept.app.clock.advance(Duration::seconds(60));
    assert_eq!(
        figures(&kept.get("/api/v1/admin/dashboard", a).await),
        (1, read_at.clone()),
        "kept up to their max age"
    );
    // The default configuration reads them anew: quick reads are not kept.
    let r = cx.get("/api/v1/admin/dashboard", a).await;
    assert_eq!(figures(&r).0, 2);

    kept.app.clock.advance(Duration::seconds(1));
    assert_eq!(
        figures(&kept.get("/api/v1/admin/dashboard", a).await),
        (1, read_at.clone()),
        "past their age, answered once more while fresh ones are read"
    );
    let mut fresh = None;
    for _ in 0..200 {
        let answer = figures(&kept.get("/api/v1/admin/dashboard", a).await);
        if answer.1 != read_at {
            fresh = Some(answer);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let (users, read_again_at) = fresh.expect("the background read replaced the kept figures");
    assert_eq!(users, 2);
    assert_eq!(
        time::OffsetDateTime::parse(
            &read_again_at,
            &time::format_description::well_known::Rfc3339
        )
        .unwrap(),
        first_read + Duration::seconds(61)
    );

    // A max age of zero keeps nothing, however slow the read.
    let live = cx.with_config(keeping(Duration::ZERO)).await;
    assert_eq!(figures(&live.get("/api/v1/admin/dashboard", a).await).0, 2);
    cx.register_verified("bert").await;
    assert_eq!(figures(&live.get("/api/v1/admin/dashboard", a).await).0, 3);
}
http_case!(slow_dashboard_figures_are_kept_until_their_max_age);

/// Quick dashboard figures are read for each request, or shared with a read that started after
/// it arrived: a burst of requests never answers figures from before a change it followed.
pub async fn concurrent_dashboard_requests_see_every_earlier_change(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    for (round, name) in ["anna", "bert", "cleo"].into_iter().enumerate() {
        cx.register_verified(name).await;
        let answers =
            futures_util::future::join_all((0..8).map(|_| cx.get("/api/v1/admin/dashboard", a)))
                .await;
        for answer in &answers {
            assert_eq!(
                ok(answer, "dashboard")["users"]["total"],
                json!(round + 2),
                "after registering {name}"
            );
        }
    }
}
http_case!(concurrent_dashboard_requests_see_every_earlier_change);

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
    // 30 UTC days, today last; the two sign-ups and two sign-ins are in them.
    let daily = dash["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    use crate::clock::Clock as _;
    let today = cx.app.clock.now().date().to_string();
    assert_eq!(daily[29]["date"], json!(today));
    let sum = |field: &str| {
        daily
            .iter()
            .map(|d| d[field].as_u64().unwrap())
            .sum::<u64>()
    };
    assert_eq!(
        (sum("signUps"), sum("signIns"), sum("failedSignIns")),
        (2, 2, 0)
    );

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
http_case!(admin_actions_on_accounts);
