//! Store cases of avatars under concurrency (part of the store suite: see
//! [`super::store_suite`]).

use super::store_suite::{audit_event, mins, new_user};
use crate::store::{Effects, Store};
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::Barrier;

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
