//! Store conformance cases for avatars: the URL on the user row and concurrent changes. Each case
//! registers itself with `store_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::error::Error;
use crate::store::{Effects, Store, UserRecord};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Barrier;
use uuid::Uuid;

/// The avatar URL is set and cleared, with `updated_at` and the effects.
pub async fn set_avatar_sets_and_clears_the_url(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let bob = make_named(s, "bob").await;
    let url = "https://cdn.example.com/avatars/ann-1.webp".to_owned();
    let (event, effects) = marker("AVATAR_UPDATED", Some(ann.id), mins(1));
    let (u, previous) = s
        .set_avatar(ann.id, Some(url.clone()), mins(1), effects)
        .await
        .unwrap();
    assert_eq!(previous, None, "ann had no avatar");
    assert_eq!(u.avatar.as_deref(), Some(url.as_str()));
    assert_eq!(u.updated_at, mins(1));
    assert_eq!(
        u,
        UserRecord {
            avatar: Some(url.clone()),
            updated_at: mins(1),
            ..ann.clone()
        },
        "nothing else changes"
    );
    assert_eq!(fetch(s, ann.id).await, u);
    assert_eq!(written(s).await.audit, vec![event]);
    assert_eq!(fetch(s, bob.id).await, bob);

    let (event, effects) = marker("AVATAR_REMOVED", Some(ann.id), mins(2));
    let (u, previous) = s.set_avatar(ann.id, None, mins(2), effects).await.unwrap();
    assert_eq!(
        previous.as_deref(),
        Some(url.as_str()),
        "the URL it replaced"
    );
    assert_eq!(u.avatar, None);
    assert_eq!(u.updated_at, mins(2));
    assert_eq!(fetch(s, ann.id).await, u);
    assert_eq!(written(s).await.audit[0], event);

    // Clearing what is clear already writes nothing, its effects neither.
    let before = written(s).await;
    let (u, previous) = s
        .set_avatar(ann.id, None, mins(3), probe("avatar"))
        .await
        .unwrap();
    assert_eq!(previous, None);
    assert_eq!(u.updated_at, mins(2), "not touched");
    assert_eq!(written(s).await, before);

    let unknown = s
        .set_avatar(Uuid::now_v7(), Some(url), mins(3), probe("avatar"))
        .await;
    assert!(
        matches!(unknown, Err(Error::NotFound("user"))),
        "{unknown:?}"
    );
    assert_eq!(written(s).await, before);
}
store_case!(set_avatar_sets_and_clears_the_url);

/// Racing avatar changes of one user each learn exactly the URL they displaced: the displaced
/// URLs and the final one are every URL set (and the initial none) exactly once, so every
/// replaced file has exactly one caller to remove it. Each change writes its own audit row.
pub async fn concurrent_avatar_changes_each_return_what_they_replaced(store: Arc<dyn Store>) {
    const RACERS: usize = 16;
    let user = store
        .create_user(new_user("racer"), Effects::none())
        .await
        .unwrap();
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let url = format!("https://cdn.example.com/avatars/racer-{i}.png");
            let effects = Effects::audit(audit_event(
                "AVATAR_UPDATED",
                Some(user.id),
                Some(user.id),
                mins(1),
            ));
            tokio::spawn(async move {
                barrier.wait().await;
                let (changed, previous) = store
                    .set_avatar(user.id, Some(url.clone()), mins(1), effects)
                    .await
                    .unwrap();
                assert_eq!(changed.avatar.as_deref(), Some(url.as_str()));
                (url, previous)
            })
        })
        .collect();
    let mut set = HashSet::new();
    let mut displaced = Vec::new();
    for task in tasks {
        let (url, previous) = task.await.unwrap();
        set.insert(Some(url));
        displaced.push(previous);
    }
    let last = store.user_by_id(user.id).await.unwrap().unwrap().avatar;
    let mut returned: Vec<Option<String>> = displaced.clone();
    returned.push(last.clone());
    let unique: HashSet<_> = returned.iter().cloned().collect();
    assert_eq!(
        unique.len(),
        RACERS + 1,
        "each URL displaced once: {displaced:?}"
    );
    set.insert(None);
    assert_eq!(unique, set);
    assert!(
        !displaced.contains(&last),
        "the URL kept was displaced by none"
    );
    let rows = store
        .audit_events(Some(user.id), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "AVATAR_UPDATED")
        .count();
    assert_eq!(rows, RACERS);

    // Racing removals: one clears it (and writes its row), the others find none.
    let barrier = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (store, barrier) = (store.clone(), barrier.clone());
            let effects = Effects::audit(audit_event(
                "AVATAR_REMOVED",
                Some(user.id),
                Some(user.id),
                mins(2),
            ));
            tokio::spawn(async move {
                barrier.wait().await;
                store
                    .set_avatar(user.id, None, mins(2), effects)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut cleared = Vec::new();
    for task in tasks {
        let (changed, previous) = task.await.unwrap();
        assert_eq!(changed.avatar, None);
        cleared.extend(previous);
    }
    assert_eq!(cleared, [last.unwrap()], "one removal took the URL");
    let rows = store
        .audit_events(Some(user.id), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "AVATAR_REMOVED")
        .count();
    assert_eq!(rows, 1, "only the removal that cleared it is written");
}
store_case!(concurrent_avatar_changes_each_return_what_they_replaced);
