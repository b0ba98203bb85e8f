//! Store conformance cases for webhook endpoints and their delivery queue. Each case registers
//! itself with `store_case!` right below its function (see [`crate::testing::runner`]).

use crate::store::{
    ADMIN_ROLE, DeliveryStatus, Effects, NewUser, Page, Store, Timestamp, WebhookEndpointRecord,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use crate::webhooks::store::{AttemptOutcome, WebhookChange};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;
use uuid::Uuid;

const LEASE: Duration = Duration::minutes(2);

fn endpoint(url: &str, events: &[&str], at: Timestamp) -> WebhookEndpointRecord {
    WebhookEndpointRecord {
        id: Uuid::now_v7(),
        url: url.to_owned(),
        events: strings(events),
        description: Some("CRM — ünïcode".to_owned()),
        enabled: true,
        sealed_secret: sample_payload(1),
        sealed_previous_secret: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: at,
        updated_at: at,
    }
}

async fn add(store: &dyn Store, url: &str, events: &[&str]) -> WebhookEndpointRecord {
    let w = endpoint(url, events, t0());
    store
        .create_webhook(w.clone(), Effects::none())
        .await
        .unwrap();
    w
}

async fn all_deliveries(store: &dyn Store, id: Uuid) -> Vec<crate::store::WebhookDeliveryRecord> {
    let (rows, total) = store
        .webhook_deliveries(
            id,
            None,
            Page {
                page: 1,
                limit: 100,
            },
        )
        .await
        .unwrap();
    assert_eq!(rows.len() as u64, total);
    rows
}

/// An endpoint is stored with every field and listed oldest first; the audit rows of any
/// write become one delivery per enabled endpoint whose patterns match (exact, prefix, `*`),
/// written with them, with the payload `{id, type, occurredAt, actor, subject, data}` (no IP
/// address nor User-Agent); a disabled endpoint gets none.
pub async fn webhook_deliveries_are_written_with_their_audit_rows(store: Arc<dyn Store>) {
    let users = add(&*store, "https://a.example/in", &["USER_*"]).await;
    let all = add(&*store, "https://b.example/in", &["*"]).await;
    let locks = add(&*store, "https://c.example/in", &["ACCOUNT_LOCKED"]).await;
    let off = add(&*store, "https://d.example/in", &["*"]).await;
    store
        .update_webhook(
            off.id,
            WebhookChange {
                enabled: Some(false),
                ..WebhookChange::default()
            },
            secs(1),
            Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.webhook(users.id).await.unwrap(), Some(users.clone()));
    let listed: Vec<Uuid> = store
        .webhooks()
        .await
        .unwrap()
        .iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(listed, vec![users.id, all.id, locks.id, off.id]);

    let ann = create(&*store, "ann").await;
    let registered = audit_event("USER_REGISTERED", None, Some(ann.id), secs(2));
    let locked = audit_event("ACCOUNT_LOCKED", Some(ann.id), Some(ann.id), secs(2));
    store
        .record_effects(Effects::audit(registered.clone()).with_audit(locked.clone()))
        .await
        .unwrap();

    let types = |rows: Vec<crate::store::WebhookDeliveryRecord>| {
        let mut t: Vec<String> = rows.into_iter().map(|d| d.event_type).collect();
        t.sort();
        t
    };
    assert_eq!(
        types(all_deliveries(&*store, users.id).await),
        strings(&["USER_REGISTERED"])
    );
    assert_eq!(
        types(all_deliveries(&*store, all.id).await),
        strings(&["ACCOUNT_LOCKED", "USER_REGISTERED"])
    );
    assert_eq!(
        types(all_deliveries(&*store, locks.id).await),
        strings(&["ACCOUNT_LOCKED"])
    );
    assert!(all_deliveries(&*store, off.id).await.is_empty());

    let delivery = all_deliveries(&*store, users.id).await.remove(0);
    assert_eq!(delivery.event_id, registered.id);
    assert_eq!(delivery.status, DeliveryStatus::Pending);
    assert_eq!(delivery.attempts, 0);
    assert_eq!(delivery.created_at, secs(2));
    let payload: serde_json::Value = serde_json::from_str(&delivery.payload).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({
            "id": registered.id,
            "type": "USER_REGISTERED",
            "occurredAt": "2024-03-01T12:00:02.123456Z",
            "actor": null,
            "subject": {"type": "user", "id": ann.id.to_string(), "userId": ann.id},
            "data": {"reason": "test", "count": 2, "nested": {"ok": true}},
        })
    );
    assert!(!delivery.payload.contains("203.0.113.7"));
    assert!(!delivery.payload.contains("conformance-suite"));
    assert_eq!(store.webhook_backlog().await.unwrap(), (4, Some(secs(2))));
}
store_case!(webhook_deliveries_are_written_with_their_audit_rows);

/// An endpoint's deliveries are claimed in order, one at a time: while the head is claimed or
/// waiting for its retry, the next one is not due; a lapsed claim is taken again; a success
/// lets the next one through; endpoints do not wait for each other.
pub async fn webhook_claims_keep_each_endpoints_order(store: Arc<dyn Store>) {
    let first = add(&*store, "https://a.example/in", &["*"]).await;
    let other = add(&*store, "https://b.example/in", &["USER_LOGIN"]).await;
    for (i, action) in ["USER_REGISTERED", "USER_UPDATED", "USER_LOGIN"]
        .iter()
        .enumerate()
    {
        store
            .record_effects(Effects::audit(audit_event(
                action,
                None,
                None,
                secs(i as i64),
            )))
            .await
            .unwrap();
    }
    let now = secs(10);
    let (head, owner) = store
        .claim_webhook_delivery(now, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (head.event_type.as_str(), owner.id),
        ("USER_REGISTERED", first.id)
    );
    // The other endpoint's only delivery is due; `first`'s second is not.
    let (d, owner) = store
        .claim_webhook_delivery(now, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((d.event_type.as_str(), owner.id), ("USER_LOGIN", other.id));
    assert!(
        store
            .claim_webhook_delivery(now, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    store
        .record_webhook_attempt(d.id, AttemptOutcome::Delivered { status_code: 200 }, now)
        .await
        .unwrap();

    // A lapsed claim is taken again.
    let later = now + LEASE + Duration::seconds(1);
    let (again, _) = store
        .claim_webhook_delivery(later, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.id, head.id);

    // A failure with a retry keeps the head: the next delivery waits for it.
    store
        .record_webhook_attempt(
            head.id,
            AttemptOutcome::Failed {
                status_code: Some(503),
                error: "answered 503".into(),
                retry_at: Some(later + Duration::minutes(5)),
            },
            later,
        )
        .await
        .unwrap();
    assert!(
        store
            .claim_webhook_delivery(later, LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let failing = store.webhook(first.id).await.unwrap().unwrap();
    assert_eq!(failing.failing_since, Some(later));

    let retry = later + Duration::minutes(5);
    let (head_again, _) = store
        .claim_webhook_delivery(retry, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(head_again.id, head.id);
    assert_eq!(head_again.attempts, 1);
    assert_eq!(head_again.last_status_code, Some(503));
    store
        .record_webhook_attempt(
            head.id,
            AttemptOutcome::Delivered { status_code: 204 },
            retry,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .webhook(first.id)
            .await
            .unwrap()
            .unwrap()
            .failing_since,
        None
    );
    let (next, _) = store
        .claim_webhook_delivery(retry, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.event_type, "USER_UPDATED");

    let delivered = store
        .webhook_deliveries(
            first.id,
            Some(DeliveryStatus::Delivered),
            Page { page: 1, limit: 10 },
        )
        .await
        .unwrap();
    assert_eq!(delivered.1, 1);
    assert_eq!(delivered.0[0].attempts, 2);
    assert_eq!(delivered.0[0].delivered_at, Some(retry));
    assert_eq!(delivered.0[0].last_error, None);

    // A delivery failed for good is no longer the head; it can be queued again.
    store
        .record_webhook_attempt(
            next.id,
            AttemptOutcome::Failed {
                status_code: None,
                error: "timed out".into(),
                retry_at: None,
            },
            retry,
        )
        .await
        .unwrap();
    let (third, _) = store
        .claim_webhook_delivery(retry, LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (third.event_type.as_str(), third.endpoint_id),
        ("USER_LOGIN", first.id)
    );
    let requeued = store
        .retry_webhook_delivery(first.id, next.id, retry)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(requeued.status, DeliveryStatus::Pending);
    assert!(
        store
            .retry_webhook_delivery(other.id, next.id, retry)
            .await
            .unwrap()
            .is_none()
    );
}
store_case!(webhook_claims_keep_each_endpoints_order);

/// Eight workers claiming at once over one queue: no delivery is claimed twice, and no
/// endpoint has two deliveries claimed at the same time.
pub async fn racing_webhook_claims_take_each_delivery_once(store: Arc<dyn Store>) {
    let mut endpoints = Vec::new();
    for i in 0..3 {
        endpoints.push(add(&*store, &format!("https://{i}.example/in"), &["*"]).await);
    }
    for i in 0..4 {
        store
            .record_effects(Effects::audit(audit_event(
                "USER_LOGIN",
                None,
                None,
                secs(i),
            )))
            .await
            .unwrap();
    }
    let barrier = Arc::new(Barrier::new(8));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut claimed = Vec::new();
            while let Some((d, _)) = store.claim_webhook_delivery(secs(60), LEASE).await.unwrap() {
                claimed.push(d);
            }
            claimed
        }));
    }
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.unwrap());
    }
    let unique: HashSet<Uuid> = claimed.iter().map(|d| d.id).collect();
    assert_eq!(unique.len(), claimed.len(), "a delivery was claimed twice");
    let mut per_endpoint: HashMap<Uuid, usize> = HashMap::new();
    for d in &claimed {
        *per_endpoint.entry(d.endpoint_id).or_default() += 1;
    }
    assert_eq!(per_endpoint.len(), 3);
    assert!(per_endpoint.values().all(|n| *n == 1), "{per_endpoint:?}");
    for d in &claimed {
        assert_eq!(
            d.created_at,
            secs(0),
            "only each endpoint's oldest delivery is due"
        );
    }
}
store_case!(racing_webhook_claims_take_each_delivery_once);

/// Audited changes racing the deletion of the endpoint they fan out to all succeed: the
/// deletion never lands between a change's read of the endpoints and its deliveries' inserts
/// (which would break their foreign key and fail the change, a sign-in say, with it).
pub async fn changes_racing_an_endpoint_deletion_all_succeed(store: Arc<dyn Store>) {
    for round in 0..5 {
        let endpoint = add(&*store, &format!("https://race{round}.example/in"), &["*"]).await;
        let barrier = Arc::new(Barrier::new(9));
        let mut writes = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let barrier = barrier.clone();
            writes.push(tokio::spawn(async move {
                barrier.wait().await;
                store
                    .record_effects(Effects::audit(audit_event(
                        "USER_LOGIN",
                        None,
                        None,
                        secs(i),
                    )))
                    .await
            }));
        }
        barrier.wait().await;
        assert!(
            store
                .delete_webhook(endpoint.id, Effects::none())
                .await
                .unwrap()
        );
        for write in writes {
            write
                .await
                .unwrap()
                .expect("an audited change beside the deletion");
        }
        assert!(all_deliveries(&*store, endpoint.id).await.is_empty());
    }
}
store_case!(changes_racing_an_endpoint_deletion_all_succeed);

/// Changes, rotation, disabling after a failure period, deletion, retention: an update changes
/// what it names (enabling forgets the failure period); a rotation keeps the current secret as
/// the previous one; a failing endpoint is disabled once and only when failing long enough,
/// with its effects; holders of `system:manage` are found; a removed endpoint takes its
/// deliveries along; finished deliveries past retention go, pending ones stay.
pub async fn webhook_endpoints_change_rotate_disable_and_go(store: Arc<dyn Store>) {
    let w = add(&*store, "https://a.example/in", &["*"]).await;
    let changed = store
        .update_webhook(
            w.id,
            WebhookChange {
                url: Some("https://b.example/in".into()),
                events: Some(strings(&["USER_*", "ACCOUNT_LOCKED"])),
                description: Some(None),
                enabled: None,
            },
            secs(5),
            Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.url, "https://b.example/in");
    assert_eq!(changed.events, strings(&["USER_*", "ACCOUNT_LOCKED"]));
    assert_eq!(changed.description, None);
    assert_eq!(changed.updated_at, secs(5));
    assert_eq!(changed.sealed_secret, w.sealed_secret);
    assert!(
        store
            .update_webhook(
                Uuid::now_v7(),
                WebhookChange::default(),
                secs(5),
                Effects::none()
            )
            .await
            .unwrap()
            .is_none()
    );

    let rotated = store
        .rotate_webhook_secret(
            w.id,
            None,
            sample_payload(2),
            mins(60),
            secs(6),
            Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.sealed_secret, sample_payload(2));
    assert_eq!(
        rotated.sealed_previous_secret,
        Some(w.sealed_secret.clone())
    );
    assert_eq!(rotated.previous_secret_until, Some(mins(60)));
    // Over a secret that is no longer current (another instance rotated first): nothing.
    assert_eq!(
        store
            .rotate_webhook_secret(
                w.id,
                Some(&w.sealed_secret),
                sample_payload(3),
                mins(61),
                secs(6),
                Effects::none(),
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.webhook(w.id).await.unwrap(), Some(rotated.clone()));
    // Over the current one: rotated.
    let rotated = store
        .rotate_webhook_secret(
            w.id,
            Some(&rotated.sealed_secret),
            sample_payload(2),
            mins(60),
            secs(6),
            Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        rotated.sealed_previous_secret,
        Some(sample_payload(2)),
        "rotated over the current secret"
    );

    // A failure starts the failure period; disabling needs it to have started early enough.
    store
        .record_effects(Effects::audit(audit_event(
            "USER_LOGIN",
            None,
            None,
            secs(7),
        )))
        .await
        .unwrap();
    let (d, _) = store
        .claim_webhook_delivery(secs(8), LEASE)
        .await
        .unwrap()
        .unwrap();
    store
        .record_webhook_attempt(
            d.id,
            AttemptOutcome::Failed {
                status_code: Some(500),
                error: "answered 500".into(),
                retry_at: Some(secs(30)),
            },
            secs(8),
        )
        .await
        .unwrap();
    let admin = store
        .create_user(
            NewUser {
                roles: vec![ADMIN_ROLE.to_owned()],
                ..new_user("root")
            },
            Effects::none(),
        )
        .await
        .unwrap();
    create(&*store, "plain").await;
    assert_eq!(
        store.users_with_permission("system:manage").await.unwrap(),
        vec![admin.id]
    );
    let (marker_row, effects) = marker("WEBHOOK_DISABLED", None, secs(9));
    assert!(
        !store
            .disable_failing_webhook(w.id, secs(7), secs(9), probe("too early"))
            .await
            .unwrap()
    );
    assert!(
        store
            .disable_failing_webhook(w.id, secs(8), secs(9), effects)
            .await
            .unwrap()
    );
    assert!(
        !store
            .disable_failing_webhook(w.id, secs(8), secs(9), probe("twice"))
            .await
            .unwrap()
    );
    assert_eq!(audit_count(&*store, "WEBHOOK_DISABLED").await, 1);
    assert!(all_audit(&*store).await.contains(&marker_row));
    let disabled = store.webhook(w.id).await.unwrap().unwrap();
    assert!(!disabled.enabled);
    // Disabled: its pending delivery waits, it is not claimed.
    assert!(
        store
            .claim_webhook_delivery(secs(60), LEASE)
            .await
            .unwrap()
            .is_none()
    );
    let enabled = store
        .update_webhook(
            w.id,
            WebhookChange {
                enabled: Some(true),
                ..WebhookChange::default()
            },
            secs(61),
            Effects::none(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.failing_since, None);
    let (d2, _) = store
        .claim_webhook_delivery(secs(61), LEASE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d2.id, d.id);
    store
        .record_webhook_attempt(
            d.id,
            AttemptOutcome::Delivered { status_code: 200 },
            secs(62),
        )
        .await
        .unwrap();

    // Retention: delivered rows before the cut go, pending ones stay.
    store
        .record_effects(Effects::audit(audit_event(
            "USER_LOGIN",
            None,
            None,
            secs(70),
        )))
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_finished_webhook_deliveries(secs(69), 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(all_deliveries(&*store, w.id).await.len(), 1);

    assert!(store.delete_webhook(w.id, Effects::none()).await.unwrap());
    assert!(!store.delete_webhook(w.id, Effects::none()).await.unwrap());
    assert_eq!(store.webhook(w.id).await.unwrap(), None);
    assert!(all_deliveries(&*store, w.id).await.is_empty());
    assert_eq!(store.webhook_backlog().await.unwrap(), (0, None));
}
store_case!(webhook_endpoints_change_rotate_disable_and_go);
