//! Store conformance cases for role assignment: adding and removing a user's roles, and the last
//! role kept under races. Each case registers itself with `store_case!` right below its
//! function (see [`crate::testing::runner`]).

use crate::error::Error;
use crate::store::{
    ADMIN_ROLE_ID, DEFAULT_ROLE, Effects, MODERATOR_ROLE_ID, NewUser, Store, USER_ROLE_ID,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use tokio::sync::Barrier;
use uuid::Uuid;

/// Assigning is idempotent (false and no effects the second time); removing refuses a role
/// not held and the user's last role, writing nothing either time.
pub async fn roles_are_assigned_and_removed(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let bob = make_named(s, "bob").await;

    let (event, effects) = marker("ROLE_ASSIGNED", Some(ann.id), mins(1));
    assert!(
        s.assign_role(ann.id, MODERATOR_ROLE_ID, mins(1), effects)
            .await
            .unwrap()
    );
    let after = fetch(s, ann.id).await;
    assert_eq!(after.roles, ["moderator", "user"]);
    assert_eq!(after.updated_at, mins(1));
    assert_eq!(written(s).await.audit, vec![event]);
    assert_eq!(
        s.user_permissions(ann.id).await.unwrap(),
        sorted(crate::rbac::MODERATOR_PERMISSIONS)
    );
    assert_eq!(
        s.role_by_id(MODERATOR_ROLE_ID)
            .await
            .unwrap()
            .unwrap()
            .user_count,
        1
    );

    // Refusals write nothing and change nobody.
    let before = written(s).await;
    assert!(
        !s.assign_role(ann.id, MODERATOR_ROLE_ID, mins(2), probe("assign_again"))
            .await
            .unwrap(),
        "already held"
    );
    let unknown_user = s
        .assign_role(Uuid::now_v7(), MODERATOR_ROLE_ID, mins(2), probe("assign"))
        .await;
    assert!(
        matches!(unknown_user, Err(Error::NotFound("user"))),
        "{unknown_user:?}"
    );
    let unknown_role = s
        .assign_role(ann.id, Uuid::now_v7(), mins(2), probe("assign"))
        .await;
    assert!(
        matches!(unknown_role, Err(Error::NotFound("role"))),
        "{unknown_role:?}"
    );
    let not_held = s
        .remove_role(ann.id, ADMIN_ROLE_ID, mins(2), probe("remove"))
        .await;
    assert!(
        matches!(not_held, Err(Error::NotFound("role assignment"))),
        "{not_held:?}"
    );
    let unknown_role = s
        .remove_role(ann.id, Uuid::now_v7(), mins(2), probe("remove"))
        .await;
    assert!(
        matches!(unknown_role, Err(Error::NotFound("role assignment"))),
        "{unknown_role:?}"
    );
    let unknown_user = s
        .remove_role(Uuid::now_v7(), USER_ROLE_ID, mins(2), probe("remove"))
        .await;
    assert!(
        matches!(
            unknown_user,
            Err(Error::NotFound("user" | "role assignment"))
        ),
        "{unknown_user:?}"
    );
    let last = s
        .remove_role(bob.id, USER_ROLE_ID, mins(2), probe("remove_last"))
        .await;
    assert!(matches!(last, Err(Error::LastRole)), "{last:?}");
    assert_eq!(fetch(s, ann.id).await, after);
    assert_eq!(fetch(s, bob.id).await, bob, "bob keeps his only role");
    assert_eq!(written(s).await, before, "refusals write nothing");

    // Removal of one of two roles.
    let (event, effects) = marker("ROLE_REMOVED", Some(ann.id), mins(3));
    s.remove_role(ann.id, USER_ROLE_ID, mins(3), effects)
        .await
        .unwrap();
    let after = fetch(s, ann.id).await;
    assert_eq!(after.roles, ["moderator"]);
    assert_eq!(after.updated_at, mins(3));
    assert_eq!(written(s).await.audit[0], event);
    let before = written(s).await;
    let last = s
        .remove_role(ann.id, MODERATOR_ROLE_ID, mins(4), probe("remove_last"))
        .await;
    assert!(matches!(last, Err(Error::LastRole)), "{last:?}");
    let gone = s
        .remove_role(ann.id, USER_ROLE_ID, mins(4), probe("remove_gone"))
        .await;
    assert!(
        matches!(gone, Err(Error::NotFound("role assignment"))),
        "{gone:?}"
    );
    assert_eq!(fetch(s, ann.id).await, after);
    assert_eq!(written(s).await, before);

    // Assigning back works.
    assert!(
        s.assign_role(ann.id, USER_ROLE_ID, mins(5), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(fetch(s, ann.id).await.roles, ["moderator", "user"]);
}
store_case!(roles_are_assigned_and_removed);

/// Two concurrent removals of a user's only two roles: exactly one succeeds, the other gets
/// `LastRole`, and the user always keeps one role.
pub async fn concurrent_removals_of_the_last_two_roles_leave_one(store: Arc<dyn Store>) {
    const ROUNDS: i64 = 10;
    for round in 0..ROUNDS {
        let racer = make(
            &*store,
            NewUser {
                roles: vec![DEFAULT_ROLE.to_owned(), "moderator".to_owned()],
                ..new_user(&format!("racer{round}"))
            },
        )
        .await;
        let barrier = Arc::new(Barrier::new(2));
        let now = mins(round);
        let tasks: Vec<_> = [(USER_ROLE_ID, "user"), (MODERATOR_ROLE_ID, "moderator")]
            .into_iter()
            .map(|(role_id, name)| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let user_id = racer.id;
                tokio::spawn(async move {
                    let effects =
                        Effects::audit(audit_event("ROLE_REMOVED", None, Some(user_id), now));
                    barrier.wait().await;
                    (
                        name,
                        store.remove_role(user_id, role_id, now, effects).await,
                    )
                })
            })
            .collect();
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for task in tasks {
            let (name, result) = task.await.unwrap();
            match result {
                Ok(()) => removed.push(name),
                Err(Error::LastRole) => kept.push(name),
                Err(other) => panic!("round {round}: the loser must see LastRole, got {other:?}"),
            }
        }
        assert_eq!(removed.len(), 1, "round {round}: exactly one removal wins");
        assert_eq!(kept.len(), 1, "round {round}: the other is refused");
        assert_eq!(
            fetch(&*store, racer.id).await.roles,
            [kept[0]],
            "round {round}: the user keeps the role the loser tried to remove"
        );
        assert_eq!(
            store.audit_events(Some(racer.id), 10).await.unwrap().len(),
            1,
            "round {round}: only the winner's effects are written"
        );
    }
}
store_case!(concurrent_removals_of_the_last_two_roles_leave_one);
