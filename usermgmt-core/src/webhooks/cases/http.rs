//! HTTP conformance cases for webhooks: endpoints through both adapters, deliveries to a
//! receiver on a loopback port that checks the signatures itself. Each case registers itself
//! with `http_case!` right below its function (see [`crate::testing::runner`]).

use crate::config::WebhookConfig;
use crate::testing::http_suite::*;
use crate::testing::runner::http_case;
use crate::testing::test_config_builder;
use crate::testing::webhook_receiver::{Receiver, signed_with};
use crate::webhooks::WebhookReport;
use serde_json::{Value, json};
use time::Duration;

/// The same world with these webhook settings.
async fn with_webhooks(cx: &HttpCtx, allow_http: bool, allow_private: bool) -> HttpCtx {
    let config = test_config_builder()
        .webhooks(WebhookConfig {
            allow_http,
            allow_private,
            ..WebhookConfig::default()
        })
        .build()
        .expect("test config is valid");
    cx.with_config(config).await
}

/// The same world with loopback `http://` receivers allowed (the cases' receivers).
async fn allowing_loopback(cx: &HttpCtx) -> HttpCtx {
    with_webhooks(cx, true, true).await
}

async fn deliver(cx: &HttpCtx) -> WebhookReport {
    cx.app
        .manager
        .webhook_worker()
        .deliver_due()
        .await
        .expect("delivery pass")
}

async fn create_webhook(cx: &HttpCtx, admin: &str, url: &str, events: Value) -> (String, String) {
    let r = cx
        .post(
            "/api/v1/webhooks",
            Some(admin),
            json!({"url": url, "events": events, "description": "CRM"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let data = r.data();
    (
        data["webhook"]["id"].as_str().unwrap().to_owned(),
        data["secret"].as_str().unwrap().to_owned(),
    )
}

/// A sign-up reaches the receiver once, signed (checked with the `hmac` crate here), with the
/// payload `{id, type, occurredAt, actor, subject, data}` that carries no password, secret,
/// hash or token; only the events asked for are sent; endpoints answer to `system:manage`
/// only, and never show the secret again.
pub async fn webhooks_deliver_signed_events(cx: &HttpCtx) {
    let cx = &allowing_loopback(cx).await;
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let moderator = cx.app.access_token_for("moe", &["moderator"]).await;
    let a = Some(admin.as_str());
    let receiver = Receiver::start().await;

    let r = cx
        .post(
            "/api/v1/webhooks",
            a,
            json!({"url": receiver.url(), "events": ["USER_REGISTERED"], "description": "CRM"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    let created = r.data();
    let webhook = &created["webhook"];
    let id = webhook["id"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(webhook["url"], json!(receiver.url()));
    assert_eq!(webhook["events"], json!(["USER_REGISTERED"]));
    // The audit trail (read by audit:read holders, fanned out to every receiver) keeps the
    // origin only: receivers carry credentials in their paths.
    let created_rows = audit_rows(cx, "WEBHOOK_CREATED").await;
    let audited = created_rows[0].details["url"].as_str().unwrap();
    assert!(!audited.contains("/hooks"), "{audited}");
    assert!(
        receiver.url().starts_with(audited.trim_end_matches("/…")),
        "{audited}"
    );
    assert_eq!(webhook["enabled"], json!(true));
    assert!(webhook["createdAt"].is_string());

    for path in [
        "/api/v1/webhooks".to_owned(),
        format!("/api/v1/webhooks/{id}"),
    ] {
        let listed = cx.get(&path, a).await;
        assert_eq!(listed.status, 200);
        assert!(
            !String::from_utf8_lossy(&listed.body).contains(&secret),
            "secret shown again"
        );
        assert_error(&cx.get(&path, Some(&moderator)).await, 403, "FORBIDDEN");
        assert_error(&cx.get(&path, None).await, 401, "UNAUTHENTICATED");
    }
    assert_error(
        &cx.post(
            "/api/v1/webhooks",
            Some(&moderator),
            json!({"url": receiver.url(), "events": ["*"]}),
        )
        .await,
        403,
        "FORBIDDEN",
    );

    let email = cx.register_verified("wendy").await;
    let wendy = user_id(cx, &email).await;
    let (access, refresh) = cx.login(&email, PASSWORD).await;
    let report = deliver(cx).await;
    assert_eq!(report.delivered, 1, "{report:?}");
    assert_eq!(deliver(cx).await, WebhookReport::default(), "nothing twice");

    let received = receiver.received();
    assert_eq!(received.len(), 1, "only USER_REGISTERED was asked for");
    let hook = &received[0];
    assert!(
        signed_with(hook, &secret),
        "signature: {}",
        hook.header("webhook-signature")
    );
    assert_eq!(hook.header("content-type"), "application/json");
    let payload = hook.json();
    assert_eq!(payload["id"], json!(hook.header("webhook-id")));
    assert_eq!(payload["type"], json!("USER_REGISTERED"));
    assert_eq!(payload["subject"]["userId"], json!(wendy.to_string()));
    assert!(payload["occurredAt"].is_string());
    let keys: Vec<&str> = payload
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    for key in ["id", "type", "occurredAt", "actor", "subject", "data"] {
        assert!(keys.contains(&key), "{key} missing");
    }
    let sent_at: i64 = hook.header("webhook-timestamp").parse().unwrap();
    assert!((sent_at - cx.app.manager.now().unix_timestamp()).abs() < 60);
    for leaked in [
        PASSWORD,
        secret.as_str(),
        access.as_str(),
        refresh.as_str(),
        "$argon2",
        "whsec_",
    ] {
        assert!(!hook.body.contains(leaked), "the payload carries {leaked}");
    }

    let page = ok(
        &cx.get(
            &format!("/api/v1/webhooks/{id}/deliveries?status=delivered"),
            a,
        )
        .await,
        "deliveries",
    );
    assert_eq!(page["total"], json!(1));
    let delivery = &page["deliveries"][0];
    assert_eq!(delivery["status"], json!("delivered"));
    assert_eq!(delivery["attempts"], json!(1));
    assert_eq!(delivery["lastStatusCode"], json!(204));
    assert_eq!(delivery["eventId"], json!(hook.header("webhook-id")));
    let none = ok(
        &cx.get(
            &format!("/api/v1/webhooks/{id}/deliveries?status=failed"),
            a,
        )
        .await,
        "failed",
    );
    assert_eq!(none["total"], json!(0));
    let r = cx
        .get(&format!("/api/v1/webhooks/{id}/deliveries?status=lost"), a)
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["status"]);

    // Delete: gone with its deliveries; the change is audited.
    let r = cx
        .request("DELETE", &format!("/api/v1/webhooks/{id}"), a, None)
        .await;
    assert_eq!(r.status, 200);
    assert_error(
        &cx.get(&format!("/api/v1/webhooks/{id}"), a).await,
        404,
        "NOT_FOUND",
    );
    let actions: Vec<String> = audit_rows(cx, "WEBHOOK_CREATED")
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.len(), 1);
    assert_eq!(audit_rows(cx, "WEBHOOK_DELETED").await.len(), 1);
}
http_case!(webhooks_deliver_signed_events);

/// A receiver that is down: the delivery is retried with backoff and reaches it once when it
/// is back; a redirect is not followed; an endpoint failing for the whole retry period gets
/// its delivery marked failed, is disabled, and the administrators are notified; a failed
/// delivery can be sent again once it is enabled.
pub async fn webhook_outages_are_retried_and_deliver_once(cx: &HttpCtx) {
    let cx = &allowing_loopback(cx).await;
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    let port = Receiver::free_port().await;
    let url = format!("http://127.0.0.1:{port}/hooks");
    let (id, secret) = create_webhook(cx, &admin, &url, json!(["USER_*"])).await;

    cx.register_verified("otto").await;
    let report = deliver(cx).await;
    assert_eq!((report.delivered, report.retried), (0, 1), "{report:?}");
    let page = ok(
        &cx.get(&format!("/api/v1/webhooks/{id}/deliveries"), a)
            .await,
        "deliveries",
    );
    let first = &page["deliveries"][page["total"].as_u64().unwrap() as usize - 1];
    assert_eq!(first["status"], json!("pending"));
    assert_eq!(first["attempts"], json!(1));
    assert!(first["lastError"].is_string());
    let webhook = ok(
        &cx.get(&format!("/api/v1/webhooks/{id}"), a).await,
        "webhook",
    );
    assert!(webhook["webhook"]["failingSince"].is_string());

    // Back up: nothing is sent before the retry is due, then each event once, in order.
    let receiver = Receiver::on(port).await;
    assert_eq!(deliver(cx).await.delivered, 0, "not due yet");
    cx.app.clock.advance(Duration::minutes(1));
    let report = deliver(cx).await;
    assert!(report.delivered >= 1, "{report:?}");
    let events: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    let ids: std::collections::HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    assert_eq!(
        ids.len(),
        events.len(),
        "an event was delivered twice: {events:?}"
    );
    assert_eq!(
        events.first().map(String::as_str),
        Some("USER_REGISTERED"),
        "{events:?}"
    );
    assert!(receiver.received().iter().all(|r| signed_with(r, &secret)));
    assert_eq!(deliver(cx).await, WebhookReport::default());
    let webhook = ok(
        &cx.get(&format!("/api/v1/webhooks/{id}"), a).await,
        "webhook",
    );
    assert_eq!(webhook["webhook"]["failingSince"], Value::Null);

    // A redirect is an answer that is not a 2xx: not followed, retried.
    receiver.answer_with(302);
    let before = receiver.received().len();
    cx.register_verified("rita").await;
    let report = deliver(cx).await;
    assert_eq!((report.delivered, report.retried), (0, 1), "{report:?}");
    assert_eq!(
        receiver.received().len(),
        before + 1,
        "the redirect was not followed"
    );

    // Failing for a whole day: failed, endpoint disabled, administrators told.
    receiver.answer_with(500);
    for _ in 0..40 {
        cx.app.clock.advance(Duration::hours(1));
        deliver(cx).await;
    }
    // The access token expired on the way; the administrator signs in again.
    let (admin, _) = cx.login("root", PASSWORD).await;
    let a = Some(admin.as_str());
    let webhook = ok(
        &cx.get(&format!("/api/v1/webhooks/{id}"), a).await,
        "webhook",
    );
    assert_eq!(webhook["webhook"]["enabled"], json!(false));
    let failed = ok(
        &cx.get(
            &format!("/api/v1/webhooks/{id}/deliveries?status=failed"),
            a,
        )
        .await,
        "failed",
    );
    assert_eq!(failed["total"], json!(1));
    let failed_id = failed["deliveries"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(failed["deliveries"][0]["lastStatusCode"], json!(500));
    assert_eq!(audit_rows(cx, "WEBHOOK_DISABLED").await.len(), 1);
    let notices = ok(&cx.get("/api/v1/notifications", a).await, "notifications");
    assert!(
        notices.to_string().contains("Webhook disabled"),
        "the administrator is told: {notices}"
    );

    // Enabled again and the failed delivery queued again: delivered.
    receiver.answer_with(200);
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            a,
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!(ok(&r, "enable")["webhook"]["enabled"], json!(true));
    let r = cx
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/{failed_id}/retry"),
            a,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["delivery"]["status"], json!("pending"));
    assert!(deliver(cx).await.delivered >= 1);
    let r = cx
        .post(
            &format!("/api/v1/webhooks/{id}/deliveries/{id}/retry"),
            a,
            json!({}),
        )
        .await;
    assert_error(&r, 404, "NOT_FOUND");
}
http_case!(webhook_outages_are_retried_and_deliver_once);

/// A rotated secret: for the overlap every delivery carries a signature with each secret (both
/// verify); after it, only the new one signs. The test event reaches the endpoint whatever its
/// patterns.
pub async fn webhook_secret_rotation_signs_with_both_during_the_overlap(cx: &HttpCtx) {
    let cx = &allowing_loopback(cx).await;
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    let receiver = Receiver::start().await;
    let (id, old) = create_webhook(cx, &admin, &receiver.url(), json!(["ACCOUNT_LOCKED"])).await;

    let r = cx
        .post(
            &format!("/api/v1/webhooks/{id}/rotate-secret"),
            a,
            json!({}),
        )
        .await;
    let rotated = ok(&r, "rotate");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(new.starts_with("whsec_"));

    let r = cx
        .post(&format!("/api/v1/webhooks/{id}/test"), a, json!({}))
        .await;
    assert_eq!(r.status, 202, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.data()["delivery"]["eventType"], json!("WEBHOOK_TEST"));
    assert_eq!(deliver(cx).await.delivered, 1);
    let during = receiver.received().pop().unwrap();
    assert_eq!(during.header("webhook-signature").split(' ').count(), 2);
    assert!(signed_with(&during, &old) && signed_with(&during, &new));
    assert_eq!(during.json()["type"], json!("WEBHOOK_TEST"));

    cx.app.clock.advance(Duration::hours(25));
    let (admin, _) = cx.login("root", PASSWORD).await;
    let a = Some(admin.as_str());
    let r = cx
        .post(&format!("/api/v1/webhooks/{id}/test"), a, json!({}))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(deliver(cx).await.delivered, 1);
    let after = receiver.received().pop().unwrap();
    assert_eq!(after.header("webhook-signature").split(' ').count(), 1);
    assert!(signed_with(&after, &new) && !signed_with(&after, &old));
    assert_eq!(audit_rows(cx, "WEBHOOK_SECRET_ROTATED").await.len(), 1);
    assert_error(
        &cx.post(
            &format!("/api/v1/webhooks/{}/rotate-secret", uuid::Uuid::now_v7()),
            a,
            json!({}),
        )
        .await,
        404,
        "NOT_FOUND",
    );
}
http_case!(webhook_secret_rotation_signs_with_both_during_the_overlap);

/// Server-side request forgery refusals: with the default settings only `https://` URLs of
/// public addresses are accepted — loopback, private, link-local (the metadata address),
/// v4-mapped and names resolving to them are 422 on `url` and create nothing; a bad event
/// pattern is 422 on its index; a change to a refused URL changes nothing; and a delivery to an
/// endpoint stored while private addresses were allowed is refused at send time.
pub async fn webhook_urls_are_refused_for_private_addresses(cx: &HttpCtx) {
    let admin = cx.app.access_token_for("root", &["admin"]).await;
    let a = Some(admin.as_str());
    for url in [
        "http://93.184.216.34/in",
        "https://127.0.0.1/in",
        "https://localhost/in",
        "https://10.1.2.3/in",
        "https://192.168.0.10/in",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/in",
        "https://[::ffff:169.254.169.254]/in",
        "https://[fd00::1]/in",
        "https://0.0.0.0/in",
        "https://user:pw@93.184.216.34/in",
        "ftp://93.184.216.34/in",
        "not a url",
    ] {
        let r = cx
            .post("/api/v1/webhooks", a, json!({"url": url, "events": ["*"]}))
            .await;
        assert_error(&r, 422, "VALIDATION_ERROR");
        assert_eq!(error_fields(&r), vec!["url"], "{url}");
    }
    let r = cx
        .post(
            "/api/v1/webhooks",
            a,
            json!({"url": "https://93.184.216.34/in", "events": ["USER_*", "NO_SUCH_EVENT", "x*"]}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(error_fields(&r), vec!["events[1]", "events[2]"]);
    let r = cx
        .post("/api/v1/webhooks", a, json!({"events": ["*"]}))
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let r = cx
        .post(
            "/api/v1/webhooks",
            a,
            json!({"url": "https://93.184.216.34/in", "events": []}),
        )
        .await;
    assert_eq!(error_fields(&r), vec!["events"]);
    let r = cx
        .post(
            "/api/v1/webhooks",
            a,
            json!({"url": "https://93.184.216.34/in", "events": ["*"], "secret": "x"}),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    assert_eq!(
        ok(&cx.get("/api/v1/webhooks", a).await, "list")["webhooks"],
        json!([])
    );

    // A public address passes; changing it to a private one is refused and changes nothing.
    let (id, _) = create_webhook(cx, &admin, "https://93.184.216.34/in", json!(["*"])).await;
    let r = cx
        .request(
            "PATCH",
            &format!("/api/v1/webhooks/{id}"),
            a,
            Some(json!({"url": "https://127.0.0.1/x"})),
        )
        .await;
    assert_error(&r, 422, "VALIDATION_ERROR");
    let kept = ok(
        &cx.get(&format!("/api/v1/webhooks/{id}"), a).await,
        "webhook",
    );
    assert_eq!(kept["webhook"]["url"], json!("https://93.184.216.34/in"));
    cx.request("DELETE", &format!("/api/v1/webhooks/{id}"), a, None)
        .await;

    // Stored while private addresses were allowed, refused at delivery by an instance that
    // does not allow them: retried, never sent.
    let open = allowing_loopback(cx).await;
    let receiver = Receiver::start().await;
    create_webhook(&open, &admin, &receiver.url(), json!(["*"])).await;
    let strict = with_webhooks(cx, true, false).await;
    strict.register_verified("sam").await;
    let report = deliver(&strict).await;
    assert_eq!(report.delivered, 0, "{report:?}");
    assert!(report.retried >= 1, "{report:?}");
    assert!(
        receiver.received().is_empty(),
        "a refused address was called"
    );
    let (_, failing) = open
        .app
        .manager
        .store()
        .webhooks()
        .await
        .unwrap()
        .into_iter()
        .map(|w| (w.id, w.failing_since))
        .next()
        .unwrap();
    assert!(failing.is_some());
}
http_case!(webhook_urls_are_refused_for_private_addresses);
