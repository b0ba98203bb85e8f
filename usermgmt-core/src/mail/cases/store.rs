//! Store conformance cases for the mail outbox: claims, leases, sealed payloads and retention.
//! Each case registers itself with `store_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::store::{Effects, OutboxMessage, Store};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;
use uuid::Uuid;

/// Delivered mail to an address no account holds any longer leaves no row; finished mail
/// older than the retention is deleted, pending mail never.
pub async fn outbox_rows_go_with_the_address_and_the_retention(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await;
    let bob = create(store, "bob").await;
    let to_alice = outbox_message(&alice.email, "welcome", secs(1));
    let farewell = outbox_message(&alice.email, "account_removed", secs(2));
    let parked = outbox_message(&alice.email, "notice", secs(2));
    let to_bob = outbox_message(&bob.email, "welcome", secs(1));
    let bob_pending = outbox_message(&bob.email, "later", secs(1));
    for m in [&to_alice, &to_bob, &bob_pending] {
        write_effects(store, bob.id, secs(1), Effects::none().with_mail(m.clone())).await;
    }
    store.mark_mail_sent(to_alice.id, secs(3)).await.unwrap();
    assert_eq!(
        store.mail_rows_to(&alice.email).await.unwrap(),
        1,
        "kept while alice exists"
    );
    store
        .delete_user_permanently(
            alice.id,
            None,
            Effects::none()
                .with_mail(farewell.clone())
                .with_mail(parked.clone()),
        )
        .await
        .unwrap();
    // The purge took the finished row; the last notices wait to be sent.
    assert_eq!(store.mail_rows_to(&alice.email).await.unwrap(), 2);
    store.mark_mail_sent(farewell.id, secs(4)).await.unwrap();
    store
        .mark_mail_failed(parked.id, "rejected", None, secs(4))
        .await
        .unwrap();
    assert_eq!(
        store.mail_rows_to(&alice.email).await.unwrap(),
        0,
        "the purged address is gone once its last mail is finished"
    );

    store.mark_mail_sent(to_bob.id, secs(5)).await.unwrap();
    assert_eq!(store.mail_rows_to(&bob.email).await.unwrap(), 2);
    assert_eq!(
        store.delete_finished_mail(secs(5), 100).await.unwrap(),
        0,
        "not older yet"
    );
    assert_eq!(store.delete_finished_mail(secs(6), 100).await.unwrap(), 1);
    assert_eq!(
        store.mail_rows_to(&bob.email).await.unwrap(),
        1,
        "pending mail is never removed"
    );
    assert_eq!(store.delete_finished_mail(mins(600), 100).await.unwrap(), 0);
    assert_eq!(backlog(store).await, 1);
}
store_case!(outbox_rows_go_with_the_address_and_the_retention);

pub async fn outbox_claims_respect_schedule_limit_and_lease(store: Arc<dyn Store>) {
    let store = &*store;
    let a = create(store, "alice").await.id;
    let m1 = outbox_message("alice@example.com", "verify_email", t0());
    let m2 = outbox_message("alice@example.com", "password_reset", secs(1));
    let m3 = outbox_message("alice@example.com", "login_alert", mins(60));
    for m in [&m3, &m1, &m2] {
        write_effects(store, a, t0(), Effects::none().with_mail(m.clone())).await;
    }
    assert_eq!(backlog(store).await, 3);
    assert!(
        store
            .claim_due_mail(t0() - Duration::seconds(1), 10, Duration::minutes(1))
            .await
            .unwrap()
            .is_empty(),
        "nothing is due yet"
    );

    let lease = Duration::minutes(1);
    let now = secs(10);
    let first = store.claim_due_mail(now, 1, lease).await.unwrap();
    assert_eq!(first.len(), 1, "the limit holds");
    let second = store.claim_due_mail(now, 10, lease).await.unwrap();
    assert_eq!(second.len(), 1, "only the other due message is left");
    let claimed: HashMap<Uuid, OutboxMessage> =
        first.into_iter().chain(second).map(|m| (m.id, m)).collect();
    assert_eq!(
        claimed,
        HashMap::from([(m1.id, m1.clone()), (m2.id, m2.clone())]),
        "due messages, exactly as enqueued"
    );
    assert!(
        store
            .claim_due_mail(now, 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "claimed messages are hidden"
    );
    assert!(
        store
            .claim_due_mail(now + Duration::seconds(30), 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "while the lease runs"
    );
    assert_eq!(backlog(store).await, 3, "claiming delivers nothing");

    // A lapsed lease (crashed worker): claimable again.
    let retake = now + lease + Duration::seconds(1);
    let again: HashSet<Uuid> = store
        .claim_due_mail(retake, 10, lease)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(again, HashSet::from([m1.id, m2.id]));

    // Sent: out of the backlog for good.
    let done = retake + Duration::seconds(5);
    store.mark_mail_sent(m1.id, done).await.unwrap();
    assert_eq!(backlog(store).await, 2);

    // Failed with a retry: rescheduled, with the attempt counted.
    let retry_at = mins(30);
    store
        .mark_mail_failed(m2.id, "451 try again later", Some(retry_at), done)
        .await
        .unwrap();
    assert_eq!(
        backlog(store).await,
        2,
        "a retried message is still pending"
    );
    assert!(
        store
            .claim_due_mail(mins(10), 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "m1 was sent, m2 waits for its retry, m3 is not due"
    );
    assert_eq!(
        store.claim_due_mail(retry_at, 10, lease).await.unwrap(),
        vec![OutboxMessage {
            attempts: 1,
            next_attempt_at: retry_at,
            ..m2.clone()
        }]
    );

    // Failed for good: parked.
    store
        .mark_mail_failed(
            m2.id,
            "550 no such user",
            None,
            retry_at + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(
        backlog(store).await,
        1,
        "a parked message leaves the backlog"
    );
    assert_eq!(
        store.claim_due_mail(mins(120), 10, lease).await.unwrap(),
        vec![m3.clone()],
        "neither the sent nor the parked message comes back"
    );
    store.mark_mail_sent(m3.id, mins(121)).await.unwrap();
    assert_eq!(backlog(store).await, 0);
    assert!(
        store
            .claim_due_mail(t0() + Duration::days(30), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
}
store_case!(outbox_claims_respect_schedule_limit_and_lease);

pub async fn concurrent_claims_never_share_a_message(store: Arc<dyn Store>) {
    let a = create(&*store, "alice").await.id;
    let mut all = HashSet::new();
    for batch in 0..3 {
        let mail: Vec<_> = (0..10)
            .map(|i| outbox_message(&format!("user{batch}_{i}@example.com"), "notice", t0()))
            .collect();
        all.extend(mail.iter().map(|m| m.id));
        write_effects(
            &*store,
            a,
            t0(),
            Effects {
                mail,
                ..Effects::default()
            },
        )
        .await;
    }
    assert_eq!(backlog(&*store).await, 30);
    let now = mins(1);
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .claim_due_mail(now, 3, Duration::minutes(5))
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break got;
                    }
                    got.extend(batch.into_iter().map(|m| m.id));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        for id in worker.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "message {id} was handed out twice");
        }
    }
    assert_eq!(total, 30);
    assert_eq!(seen, all, "every message was claimed once");
}
store_case!(concurrent_claims_never_share_a_message);

pub async fn sealed_payloads_round_trip_exactly(store: Arc<dyn Store>) {
    let store = &*store;
    let a = create(store, "alice").await.id;
    // A deterministic pseudo-random 64 KiB payload (xorshift), plus odd small ones.
    let mut x: u32 = 0x9E37_79B9;
    let big: Vec<u8> = (0..65_536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let payloads = [
        big,
        vec![0u8; 40],
        vec![0xFF; 40],
        [0xC3u8, 0x28, 0x00, 0xA0, 0xA1, 0xE2, 0x28, 0xA1].repeat(5),
        sample_payload(7),
    ];
    let messages: Vec<_> = payloads
        .iter()
        .map(|p| OutboxMessage {
            sealed_payload: p.clone(),
            recipient: "zoë@example.com".to_owned(),
            ..outbox_message("", "verify_email", t0())
        })
        .collect();
    write_effects(
        store,
        a,
        t0(),
        Effects {
            mail: messages.clone(),
            ..Effects::default()
        },
    )
    .await;
    let claimed: HashMap<Uuid, OutboxMessage> = store
        .claim_due_mail(t0(), 10, Duration::minutes(5))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    assert_eq!(claimed.len(), messages.len());
    for m in &messages {
        let got = &claimed[&m.id];
        assert_eq!(got.sealed_payload, m.sealed_payload, "payload bytes");
        assert_eq!(got, m);
    }
}
store_case!(sealed_payloads_round_trip_exactly);
