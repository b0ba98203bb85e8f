//! HTTP conformance cases for the account lifecycle end to end, permanent deletion and the data
//! export. Each case registers itself with `http_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use serde_json::{Value, json};
use time::Duration;

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
http_case!(account_lifecycle_end_to_end);

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
http_case!(permanent_delete_and_export);
