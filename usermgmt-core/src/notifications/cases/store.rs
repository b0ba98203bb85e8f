//! Store conformance cases for notifications: paging, reading and deleting. Each case registers
//! itself with `store_case!` right below its function (see [`crate::testing::runner`]).

use crate::store::{Effects, Store};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use uuid::Uuid;

/// Notifications: paged newest first with totals and unread counts; read and delete one or
/// all, only the owner's.
pub async fn notifications_are_paged_read_and_deleted(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let mut raised = Vec::new();
    for i in 0..5 {
        let n = notification(ann.id, "LOGIN_ALERT", secs(i));
        raised.push(n.clone());
        write_effects(
            &*store,
            ann.id,
            secs(i),
            Effects::none().with_notification(n),
        )
        .await;
    }
    let theirs = notification(bob.id, "SYSTEM", secs(9));
    write_effects(
        &*store,
        bob.id,
        secs(9),
        Effects::none().with_notification(theirs.clone()),
    )
    .await;

    let page = store.notifications(ann.id, false, 0, 2).await.unwrap();
    assert_eq!(page.total, 5);
    assert_eq!(page.unread, 5);
    assert_eq!(
        page.items,
        vec![raised[4].clone(), raised[3].clone()],
        "newest first, exactly as raised"
    );
    let page = store.notifications(ann.id, false, 4, 2).await.unwrap();
    assert_eq!(page.items, vec![raised[0].clone()]);

    assert!(
        store
            .mark_notification_read(ann.id, raised[1].id, mins(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .mark_notification_read(ann.id, raised[1].id, mins(2))
            .await
            .unwrap(),
        "idempotent"
    );
    assert!(
        !store
            .mark_notification_read(ann.id, theirs.id, mins(1))
            .await
            .unwrap(),
        "not ann's"
    );
    assert!(
        !store
            .mark_notification_read(ann.id, Uuid::now_v7(), mins(1))
            .await
            .unwrap()
    );
    let unread = store.notifications(ann.id, true, 0, 10).await.unwrap();
    assert_eq!(unread.total, 4);
    assert_eq!(unread.unread, 4);
    assert!(unread.items.iter().all(|n| n.id != raised[1].id));
    let all = store.notifications(ann.id, false, 0, 10).await.unwrap();
    let read = all.items.iter().find(|n| n.id == raised[1].id).unwrap();
    assert_eq!(read.read_at, Some(mins(1)), "the first read time stays");

    assert_eq!(
        store
            .mark_all_notifications_read(ann.id, mins(3))
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        store
            .notifications(ann.id, false, 0, 10)
            .await
            .unwrap()
            .unread,
        0
    );
    assert_eq!(
        store
            .notifications(bob.id, false, 0, 10)
            .await
            .unwrap()
            .unread,
        1,
        "bob's stay unread"
    );

    let deleted_audit =
        || audit_event("NOTIFICATIONS_DELETED", Some(ann.id), Some(ann.id), mins(4));
    assert!(
        store
            .delete_notification(ann.id, raised[0].id, Effects::audit(deleted_audit()))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_notification(ann.id, raised[0].id, Effects::audit(deleted_audit()))
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_notification(ann.id, theirs.id, Effects::audit(deleted_audit()))
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .delete_all_notifications(ann.id, deleted_audit())
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        store
            .delete_all_notifications(ann.id, deleted_audit())
            .await
            .unwrap(),
        0
    );
    // One row per deletion that removed something, the bulk one with its count.
    let rows: Vec<_> = store
        .audit_events(Some(ann.id), 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "NOTIFICATIONS_DELETED")
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows.iter().filter(|e| e.details["count"] == 4).count(), 1);
    assert_eq!(
        store
            .notifications(ann.id, false, 0, 10)
            .await
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        store
            .notifications(bob.id, false, 0, 10)
            .await
            .unwrap()
            .items,
        vec![theirs]
    );
}
store_case!(notifications_are_paged_read_and_deleted);
