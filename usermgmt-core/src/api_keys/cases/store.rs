//! Store conformance cases for API keys. Each case registers itself with `store_case!` right
//! below its function (see [`crate::testing::runner`]).

use crate::api_keys::store::{ApiKeyRecord, PreviousKey, Rotation};
use crate::error::{ConflictKind, Error};
use crate::secret::TokenDigest;
use crate::store::{Effects, Store};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use tokio::sync::Barrier;
use uuid::Uuid;

fn key(user_id: Uuid, prefix: &str, at: crate::store::Timestamp) -> ApiKeyRecord {
    ApiKeyRecord {
        id: Uuid::now_v7(),
        user_id,
        name: "CI — ünïcode".to_owned(),
        prefix: prefix.to_owned(),
        digest: TokenDigest::of(&format!("umk_{prefix}_secret")),
        scopes: vec!["audit:read".to_owned(), "user:read".to_owned()],
        expires_at: Some(at + time::Duration::days(30)),
        created_at: at,
        last_used_at: None,
        previous: None,
        org_id: None,
    }
}

/// The cap the cases store keys under (the API's own, `MAX_KEYS_PER_USER`).
const MAX: usize = crate::api_keys::MAX_KEYS_PER_USER;

fn rotation(
    expected: &str,
    prefix: &str,
    grace_until: Option<crate::store::Timestamp>,
) -> Rotation {
    Rotation {
        expected_prefix: expected.to_owned(),
        prefix: prefix.to_owned(),
        digest: TokenDigest::of(&format!("umk_{prefix}_secret")),
        previous_until: grace_until,
    }
}

/// A key is stored with every field (its effects with it), found by its prefix, listed oldest
/// first for its owner only; a second key with its prefix is a conflict and an unknown owner is
/// not found; removal acts on the owner's key only; purging the owner removes their keys.
pub async fn api_keys_are_stored_per_user(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let first = key(ann.id, "aaaaaaaaaaaa", secs(1));
    let audit = audit_event("API_KEY_CREATED", Some(ann.id), Some(ann.id), secs(1));
    assert!(
        store
            .add_api_key(first.clone(), MAX, Effects::audit(audit.clone()))
            .await
            .unwrap()
    );
    assert_eq!(
        store.audit_events(Some(ann.id), 10).await.unwrap(),
        vec![audit]
    );
    let mut second = key(ann.id, "bbbbbbbbbbbb", secs(2));
    second.expires_at = None;
    second.scopes = vec![];
    assert!(
        store
            .add_api_key(second.clone(), MAX, Effects::none())
            .await
            .unwrap()
    );
    let bobs = key(bob.id, "cccccccccccc", secs(3));
    assert!(
        store
            .add_api_key(bobs.clone(), MAX, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(
        store.api_keys(ann.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.api_key_by_prefix("bbbbbbbbbbbb").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.api_key_by_prefix("dddddddddddd").await.unwrap(), None);

    let err = store
        .add_api_key(key(bob.id, "aaaaaaaaaaaa", secs(4)), MAX, Effects::none())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictKind::Other)),
        "{err:?}"
    );
    let err = store
        .add_api_key(
            key(Uuid::now_v7(), "eeeeeeeeeeee", secs(4)),
            MAX,
            Effects::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    // Bob cannot remove Ann's key; Ann can, once, with its effects.
    assert!(
        !store
            .remove_api_key(bob.id, first.id, Effects::none())
            .await
            .unwrap()
    );
    let revoked = audit_event("API_KEY_REVOKED", Some(ann.id), Some(ann.id), secs(5));
    assert!(
        store
            .remove_api_key(ann.id, first.id, Effects::audit(revoked))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_api_key(ann.id, first.id, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(audit_count(&*store, "API_KEY_REVOKED").await, 1);
    assert_eq!(store.api_key_by_prefix("aaaaaaaaaaaa").await.unwrap(), None);
    assert_eq!(store.api_keys(ann.id).await.unwrap(), vec![second]);

    assert!(
        store
            .delete_user_permanently(ann.id, None, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(store.api_keys(ann.id).await.unwrap(), vec![]);
    assert_eq!(store.api_key_by_prefix("bbbbbbbbbbbb").await.unwrap(), None);
    assert_eq!(store.api_keys(bob.id).await.unwrap(), vec![bobs]);
}
store_case!(api_keys_are_stored_per_user);

/// A key past its owner's cap is refused with nothing written (no key, no effects), also when
/// creations race: of eight at once with room for three, exactly three are stored. Another
/// user's keys do not count.
pub async fn api_keys_stop_at_the_owners_cap(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let prefix = |n: usize| format!("{n:012}");
    for n in 0..2 {
        assert!(
            store
                .add_api_key(key(ann.id, &prefix(n), secs(n as i64)), 5, Effects::none())
                .await
                .unwrap()
        );
    }
    assert!(
        store
            .add_api_key(key(bob.id, &prefix(99), secs(0)), 1, Effects::none())
            .await
            .unwrap(),
        "ann's keys are not bob's"
    );
    let racing = (10..18).map(|n| {
        let store = store.clone();
        let audit = audit_event(
            "API_KEY_CREATED",
            Some(ann.id),
            Some(ann.id),
            secs(n as i64),
        );
        async move {
            store
                .add_api_key(
                    key(ann.id, &prefix(n), secs(n as i64)),
                    5,
                    Effects::audit(audit),
                )
                .await
                .unwrap()
        }
    });
    let stored = futures_util::future::join_all(racing).await;
    assert_eq!(stored.iter().filter(|s| **s).count(), 3, "{stored:?}");
    assert_eq!(store.api_keys(ann.id).await.unwrap().len(), 5);
    assert_eq!(
        store.audit_events(Some(ann.id), 100).await.unwrap().len(),
        3,
        "only the stored keys' effects"
    );
    assert!(
        !store
            .add_api_key(key(ann.id, &prefix(30), secs(30)), 5, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(store.api_key_by_prefix(&prefix(30)).await.unwrap(), None);
}
store_case!(api_keys_stop_at_the_owners_cap);

/// `lastUsedAt` moves only when unset or stale, and the effects (the sampled `API_KEY_USED`
/// row) are written only by the update that moved it.
pub async fn api_key_use_is_written_once_a_minute(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let k = key(ann.id, "aaaaaaaaaaaa", secs(0));
    assert!(
        store
            .add_api_key(k.clone(), MAX, Effects::none())
            .await
            .unwrap()
    );
    let used = |at| Effects::audit(audit_event("API_KEY_USED", Some(ann.id), Some(ann.id), at));
    assert!(
        store
            .touch_api_key(
                k.id,
                secs(10),
                secs(10) - time::Duration::minutes(1),
                used(secs(10))
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .touch_api_key(
                k.id,
                secs(40),
                secs(40) - time::Duration::minutes(1),
                used(secs(40))
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .touch_api_key(
                k.id,
                secs(70),
                secs(70) - time::Duration::minutes(1),
                used(secs(70))
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .touch_api_key(Uuid::now_v7(), secs(70), secs(0), used(secs(70)))
            .await
            .unwrap()
    );
    assert_eq!(audit_count(&*store, "API_KEY_USED").await, 2);
    let stored = store
        .api_key_by_prefix("aaaaaaaaaaaa")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.last_used_at, Some(secs(70)));

    // Racing uses within one minute write once.
    let barrier = Arc::new(Barrier::new(4));
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let effects = used(mins(3));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .touch_api_key(k.id, mins(3), mins(2), effects)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wrote = 0;
    for t in tasks {
        wrote += usize::from(t.await.unwrap());
    }
    assert_eq!(wrote, 1);
    assert_eq!(audit_count(&*store, "API_KEY_USED").await, 3);
}
store_case!(api_key_use_is_written_once_a_minute);

/// A rotation replaces the secret only from the prefix it saw: with a grace period the old
/// prefix still finds the key (with its old digest and the grace's end), without one it finds
/// nothing; of racing rotations exactly one happens, and only the winner's effects are written.
pub async fn api_key_rotation_is_a_compare_and_set(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let k = key(ann.id, "aaaaaaaaaaaa", secs(0));
    assert!(
        store
            .add_api_key(k.clone(), MAX, Effects::none())
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_api_key(
                bob.id,
                k.id,
                rotation("aaaaaaaaaaaa", "bbbbbbbbbbbb", None),
                Effects::none()
            )
            .await
            .unwrap(),
        "not the owner"
    );
    assert!(
        store
            .rotate_api_key(
                ann.id,
                k.id,
                rotation("aaaaaaaaaaaa", "bbbbbbbbbbbb", Some(mins(5))),
                Effects::none()
            )
            .await
            .unwrap()
    );
    let expected = ApiKeyRecord {
        prefix: "bbbbbbbbbbbb".to_owned(),
        digest: TokenDigest::of("umk_bbbbbbbbbbbb_secret"),
        previous: Some(PreviousKey {
            prefix: "aaaaaaaaaaaa".to_owned(),
            digest: k.digest.clone(),
            expires_at: mins(5),
        }),
        ..k.clone()
    };
    assert_eq!(
        store.api_key_by_prefix("aaaaaaaaaaaa").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store.api_key_by_prefix("bbbbbbbbbbbb").await.unwrap(),
        Some(expected)
    );
    assert!(
        !store
            .rotate_api_key(
                ann.id,
                k.id,
                rotation("aaaaaaaaaaaa", "cccccccccccc", None),
                Effects::none()
            )
            .await
            .unwrap(),
        "a stale prefix rotates nothing"
    );
    // Without a grace period the replaced key is gone at once.
    assert!(
        store
            .rotate_api_key(
                ann.id,
                k.id,
                rotation("bbbbbbbbbbbb", "cccccccccccc", None),
                Effects::none()
            )
            .await
            .unwrap()
    );
    assert_eq!(store.api_key_by_prefix("aaaaaaaaaaaa").await.unwrap(), None);
    assert_eq!(store.api_key_by_prefix("bbbbbbbbbbbb").await.unwrap(), None);
    let now = store
        .api_key_by_prefix("cccccccccccc")
        .await
        .unwrap()
        .unwrap();
    assert!(now.previous.is_none());

    let barrier = Arc::new(Barrier::new(4));
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let effects = Effects::audit(audit_event(
                "API_KEY_ROTATED",
                Some(ann.id),
                Some(ann.id),
                secs(9),
            ));
            tokio::spawn(async move {
                barrier.wait().await;
                let next = format!("{i}{i}{i}{i}{i}{i}{i}{i}{i}{i}{i}{i}");
                store
                    .rotate_api_key(ann.id, k.id, rotation("cccccccccccc", &next, None), effects)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap());
    }
    assert_eq!(won, 1, "one rotation wins");
    assert_eq!(audit_count(&*store, "API_KEY_ROTATED").await, 1);
    assert_eq!(store.api_keys(ann.id).await.unwrap().len(), 1);
}
store_case!(api_key_rotation_is_a_compare_and_set);
