//! Store conformance cases for sessions and refresh tokens: listing, touching, revoking, rotation
//! with its grace window, known clients. Each case registers itself with `store_case!` right
//! below its function (see [`crate::testing::runner`]).

use crate::store::{Effects, RefreshRotation, SessionRecord, Store, Timestamp};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;
use uuid::Uuid;

pub async fn sessions_are_listed_touched_and_revoked(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let week = Duration::days(7);
    let s1 = open_session(store, alice, "r-1", t0(), t0() + week).await;
    let s2 = open_session(store, alice, "r-2", mins(1), t0() + week).await;
    let s3 = open_session(store, alice, "r-3", mins(2), t0() + week).await;
    let short = open_session(store, alice, "r-4", mins(3), mins(4)).await;
    let sb = open_session(store, bob, "r-bob", secs(30), t0() + week).await;

    let now = mins(10);
    assert_eq!(
        ids(&store.list_sessions(alice, now).await.unwrap()),
        vec![s3, s2, s1],
        "active only, newest first"
    );
    assert_eq!(
        ids(&store
            .list_sessions(alice, mins(3) + Duration::seconds(30))
            .await
            .unwrap()),
        vec![short, s3, s2, s1],
        "active before its expiry"
    );
    let bobs = store.list_sessions(bob, now).await.unwrap();
    assert_eq!(bobs, vec![session(store, sb).await]);
    assert!(
        store
            .list_sessions(Uuid::now_v7(), now)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.session_with_user(Uuid::now_v7()).await.unwrap(), None);
    let (_, owner) = store.session_with_user(sb).await.unwrap().unwrap();
    assert_eq!(owner, user(store, bob).await);

    // touch
    let before = session(store, s1).await;
    store.touch_session(s1, now).await.unwrap();
    assert_eq!(
        session(store, s1).await,
        SessionRecord {
            last_activity_at: now,
            ..before
        }
    );
    store.touch_session(Uuid::now_v7(), now).await.unwrap();

    // revoke one
    let revoke_effects = || {
        Effects::audit(audit_event(
            "SESSION_REVOKED",
            Some(alice),
            Some(alice),
            now,
        ))
    };
    assert!(
        !store
            .revoke_session(bob, s1, now, revoke_effects())
            .await
            .unwrap(),
        "not a session of bob's"
    );
    assert_eq!(session(store, s1).await.revoked_at, None);
    assert_eq!(audit_count(store, "SESSION_REVOKED").await, 0);
    assert!(
        store
            .revoke_session(alice, s1, now, revoke_effects())
            .await
            .unwrap()
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert_eq!(audit_count(store, "SESSION_REVOKED").await, 1);
    assert!(
        !store
            .revoke_session(alice, s1, now + Duration::minutes(1), revoke_effects())
            .await
            .unwrap(),
        "already revoked"
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert!(
        !store
            .revoke_session(alice, short, now, revoke_effects())
            .await
            .unwrap(),
        "already expired"
    );
    assert!(
        !store
            .revoke_session(alice, Uuid::now_v7(), now, revoke_effects())
            .await
            .unwrap()
    );
    assert_eq!(
        audit_count(store, "SESSION_REVOKED").await,
        1,
        "no effects without a revocation"
    );
    assert_eq!(
        ids(&store.list_sessions(alice, now).await.unwrap()),
        vec![s3, s2]
    );

    // revoke all but one, then all
    let t = now + Duration::minutes(2);
    assert_eq!(
        store
            .revoke_sessions(
                alice,
                Some(s3),
                t,
                Effects::audit(audit_event("SESSIONS_REVOKED", Some(alice), Some(alice), t)),
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(ids(&store.list_sessions(alice, t).await.unwrap()), vec![s3]);
    assert_eq!(session(store, s2).await.revoked_at, Some(t));
    assert_eq!(audit_count(store, "SESSIONS_REVOKED").await, 1);
    let t2 = t + Duration::minutes(1);
    assert_eq!(
        store
            .revoke_sessions(alice, None, t2, Effects::none())
            .await
            .unwrap(),
        1
    );
    assert_eq!(session(store, s3).await.revoked_at, Some(t2));
    assert!(store.list_sessions(alice, t2).await.unwrap().is_empty());
    assert_eq!(
        store
            .revoke_sessions(alice, None, t2 + Duration::minutes(1), Effects::none())
            .await
            .unwrap(),
        0
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now), "unchanged");
    assert_eq!(ids(&store.list_sessions(bob, t2).await.unwrap()), vec![sb]);
}
store_case!(sessions_are_listed_touched_and_revoked);

pub async fn refresh_tokens_rotate_with_a_grace_window_and_reuse_detection(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let week = Duration::days(7);
    let grace = Duration::seconds(10);
    let s = open_session(store, alice, "r-0", t0(), t0() + week).await;
    let rotated = RefreshRotation::Rotated {
        session_id: s,
        user_id: alice,
    };
    let reused = RefreshRotation::Reused {
        session_id: s,
        user_id: alice,
    };
    let rotate = |presented: &'static str, next: &'static str, now: Timestamp| async move {
        store
            .rotate_refresh_token(&digest(presented), &digest(next), now, now + week, grace)
            .await
            .unwrap()
    };

    let t1 = mins(60);
    assert_eq!(rotate("r-0", "r-1", t1).await, rotated);
    assert_eq!(
        session(store, s).await.expires_at,
        t1 + week,
        "the session's expiry moves forward"
    );
    let t2 = mins(120);
    assert_eq!(
        rotate("r-1", "r-2", t2).await,
        rotated,
        "the next token works"
    );
    assert_eq!(session(store, s).await.expires_at, t2 + week);

    // An old token, rotated before the grace window: reuse.
    assert_eq!(rotate("r-0", "r-x", t2).await, reused);
    assert_eq!(
        rotate("r-x", "r-y", t2 + Duration::seconds(1)).await,
        RefreshRotation::Invalid,
        "a reused token's successor is never stored"
    );

    // Within the grace window the previous token still rotates (two tabs refreshing at once).
    let t3 = t2 + Duration::seconds(5);
    assert_eq!(rotate("r-1", "r-2b", t3).await, rotated);
    assert_eq!(
        rotate("r-2b", "r-3b", t3 + Duration::seconds(1)).await,
        rotated,
        "the pair handed out within grace works"
    );
    assert_eq!(
        rotate("r-2", "r-3", t3 + Duration::seconds(2)).await,
        rotated,
        "the other tab's token works too"
    );
    assert_eq!(
        session(store, s).await.expires_at,
        t3 + Duration::seconds(2) + week
    );

    // After the grace window, the same token is a reuse.
    assert_eq!(
        rotate("r-1", "r-z", t2 + Duration::minutes(1)).await,
        reused
    );
    assert_eq!(
        rotate("r-z", "r-zz", t2 + Duration::minutes(2)).await,
        RefreshRotation::Invalid
    );
    let after = session(store, s).await;
    assert_eq!(
        after.revoked_at, None,
        "the store reports reuse; revoking is the caller's decision"
    );
    assert_eq!(after.expires_at, t3 + Duration::seconds(2) + week);

    assert_eq!(
        rotate("never-issued", "r-n", t2).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        rotate("r-3", "r-4", t2 + Duration::minutes(3)).await,
        rotated,
        "the current token still works"
    );
}
store_case!(refresh_tokens_rotate_with_a_grace_window_and_reuse_detection);

pub async fn refresh_tokens_of_expired_or_ended_sessions_are_invalid(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let week = Duration::days(7);
    let grace = Duration::seconds(10);
    let rotate = |presented: &'static str, next: &'static str, now: Timestamp| async move {
        store
            .rotate_refresh_token(&digest(presented), &digest(next), now, now + week, grace)
            .await
            .unwrap()
    };

    // Expired session and token.
    let short = open_session(store, alice, "short-0", t0(), mins(60)).await;
    assert_eq!(
        rotate("short-0", "short-1", mins(60) + Duration::seconds(1)).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        rotate("short-1", "short-2", mins(61)).await,
        RefreshRotation::Invalid,
        "nothing was stored"
    );
    assert_eq!(
        session(store, short).await.expires_at,
        mins(60),
        "an expired session is not extended"
    );

    // Revoked session: neither the current token nor the previous one (within grace) rotate.
    let ended = open_session(store, alice, "ended-0", t0(), t0() + week).await;
    assert_eq!(
        rotate("ended-0", "ended-1", mins(1)).await,
        RefreshRotation::Rotated {
            session_id: ended,
            user_id: alice,
        }
    );
    assert!(
        store
            .revoke_session(
                alice,
                ended,
                mins(1) + Duration::seconds(1),
                Effects::none()
            )
            .await
            .unwrap()
    );
    assert_eq!(
        rotate("ended-1", "ended-2", mins(1) + Duration::seconds(2)).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        rotate("ended-0", "ended-3", mins(1) + Duration::seconds(3)).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        session(store, ended).await.expires_at,
        mins(1) + week,
        "an ended session is not extended"
    );

    // Sessions ended in bulk too.
    let bulk = open_session(store, alice, "bulk-0", mins(2), mins(2) + week).await;
    store
        .revoke_sessions(alice, None, mins(3), Effects::none())
        .await
        .unwrap();
    assert_eq!(session(store, bulk).await.revoked_at, Some(mins(3)));
    assert_eq!(
        rotate("bulk-0", "bulk-1", mins(4)).await,
        RefreshRotation::Invalid
    );
}
store_case!(refresh_tokens_of_expired_or_ended_sessions_are_invalid);

pub async fn concurrent_rotations_within_the_grace_window_both_succeed(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    let week = Duration::days(7);
    let grace = Duration::seconds(10);
    for round in 0..8 {
        let first = format!("r-{round}");
        let s = open_session(&*store, alice, &first, t0(), t0() + week).await;
        let rotated = RefreshRotation::Rotated {
            session_id: s,
            user_id: alice,
        };
        let now = mins(1);
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|tab| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let presented = digest(&first);
                let next = digest(&format!("r-{round}-{tab}"));
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .rotate_refresh_token(&presented, &next, now, now + week, grace)
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), rotated, "round {round}");
        }
        for (i, tab) in ["a", "b"].into_iter().enumerate() {
            let later = now + Duration::seconds(1 + i as i64);
            assert_eq!(
                store
                    .rotate_refresh_token(
                        &digest(&format!("r-{round}-{tab}")),
                        &digest(&format!("r-{round}-{tab}-next")),
                        later,
                        later + week,
                        grace,
                    )
                    .await
                    .unwrap(),
                rotated,
                "round {round}: tab {tab}'s new token works"
            );
        }
    }
}
store_case!(concurrent_rotations_within_the_grace_window_both_succeed);

/// A client is "seen" when an earlier session of the user had the same IP and User-Agent.
pub async fn clients_seen_before_are_recognised(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    assert_eq!(
        store
            .client_seen_before(ann.id, Some("198.51.100.4"), Some(ua))
            .await
            .unwrap(),
        None,
        "no session yet"
    );
    let s = open_session(&*store, ann.id, "r1", t0(), mins(60)).await;
    store
        .revoke_session(ann.id, s, secs(1), Effects::none())
        .await
        .unwrap();
    let seen = |ip: Option<&'static str>, ua: Option<&'static str>| {
        let store = store.clone();
        async move { store.client_seen_before(ann.id, ip, ua).await.unwrap() }
    };
    assert_eq!(
        seen(Some("198.51.100.4"), Some(ua)).await,
        Some(true),
        "ended sessions count"
    );
    assert_eq!(seen(Some("203.0.113.1"), Some(ua)).await, Some(false));
    assert_eq!(
        seen(Some("198.51.100.4"), Some("curl/8.0")).await,
        Some(false)
    );
    assert_eq!(seen(None, None).await, Some(false));
    let bob = create(&*store, "bob").await;
    assert_eq!(
        store
            .client_seen_before(bob.id, Some("198.51.100.4"), Some(ua))
            .await
            .unwrap(),
        None,
        "another user's sessions do not count"
    );
}
store_case!(clients_seen_before_are_recognised);
