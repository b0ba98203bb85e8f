//! Store conformance cases for the account lifecycle: account changes from their states, unlock,
//! export and permanent deletion. Each case registers itself with `store_case!` right below its
//! function (see [`crate::testing::runner`]).

use crate::error::Error;
use crate::secret::TokenDigest;
use crate::store::{
    AccountChange, AuditEvent, DEFAULT_ROLE, Effects, MODERATOR_ROLE_ID, NewUser, PasswordChange,
    ProfileUpdate, RefreshRotation, Store, Timestamp, TokenPurpose, UserRecord,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use serde_json::json;
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;
use uuid::Uuid;

/// Asserts that `change` does not apply to the user now: `None`, the user unchanged and none
/// of the effects written.
async fn refused(store: &dyn Store, id: Uuid, change: AccountChange, now: Timestamp) {
    let user = fetch(store, id).await;
    let before = written(store).await;
    let outcome = store
        .change_account(id, change, now, probe("account_change"))
        .await
        .unwrap();
    assert_eq!(outcome, None, "{change:?} must not apply to {user:?}");
    assert_eq!(fetch(store, id).await, user, "{change:?} changed nothing");
    assert_eq!(written(store).await, before, "{change:?} wrote nothing");
}

/// Asserts that `change` applies: the changed user (as stored) is returned, `updated_at` is
/// `now` and the effects are written.
async fn applied(store: &dyn Store, id: Uuid, change: AccountChange, now: Timestamp) -> UserRecord {
    let (event, effects) = marker("ACCOUNT_CHANGED", Some(id), now);
    let user = store
        .change_account(id, change, now, effects)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("{change:?} must apply"));
    assert_eq!(user.updated_at, now, "{change:?}");
    assert_eq!(
        fetch(store, id).await,
        user,
        "{change:?}: stored as returned"
    );
    assert_eq!(
        store.audit_events(Some(id), 1).await.unwrap(),
        vec![event],
        "{change:?}: effects written"
    );
    user
}

/// Each account change applies only from its states, answers `None` (writing nothing)
/// otherwise, and `NotFound("user")` for an unknown user.
pub async fn account_changes_apply_only_from_their_states(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let id = ann.id;
    let long_ago = t0() - Duration::days(365);

    // From active, verified or not.
    refused(s, id, AccountChange::Reactivate, mins(1)).await;
    refused(s, id, AccountChange::Unsuspend, mins(1)).await;
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        mins(1),
    )
    .await;

    let u = applied(s, id, AccountChange::VerifyEmail, mins(2)).await;
    assert!(u.email_verified);
    refused(s, id, AccountChange::VerifyEmail, mins(3)).await;

    // Deactivate / Reactivate
    let u = applied(s, id, AccountChange::Deactivate, mins(4)).await;
    assert!(!u.is_active);
    assert!(!u.is_suspended);
    refused(s, id, AccountChange::Deactivate, mins(5)).await;
    let u = applied(s, id, AccountChange::Reactivate, mins(6)).await;
    assert!(u.is_active);
    refused(s, id, AccountChange::Reactivate, mins(7)).await;

    // Unsuspend lifts a deactivation too.
    applied(s, id, AccountChange::Deactivate, mins(8)).await;
    let u = applied(s, id, AccountChange::Unsuspend, mins(9)).await;
    assert!(u.is_active);
    assert!(!u.is_suspended);

    // Suspend / Unsuspend
    let u = applied(s, id, AccountChange::Suspend, mins(10)).await;
    assert!(u.is_suspended);
    assert!(u.is_active);
    refused(s, id, AccountChange::Suspend, mins(11)).await;
    let u = applied(s, id, AccountChange::Deactivate, mins(12)).await;
    assert!(!u.is_active && u.is_suspended, "suspended and deactivated");
    let u = applied(s, id, AccountChange::Unsuspend, mins(13)).await;
    assert!(u.is_active && !u.is_suspended, "both lifted");
    refused(s, id, AccountChange::Unsuspend, mins(14)).await;

    // Unlock applies to any live account.
    let u = applied(s, id, AccountChange::Unlock, mins(15)).await;
    assert_eq!(u.failed_login_attempts, 0);
    assert_eq!(u.locked_until, None);

    // SoftDelete, then nothing but Recover applies.
    let deleted_at = mins(20);
    let u = applied(s, id, AccountChange::SoftDelete, deleted_at).await;
    assert_eq!(u.deleted_at, Some(deleted_at));
    for change in [
        AccountChange::Deactivate,
        AccountChange::Reactivate,
        AccountChange::Suspend,
        AccountChange::Unsuspend,
        AccountChange::SoftDelete,
        AccountChange::VerifyEmail,
        AccountChange::Unlock,
    ] {
        refused(s, id, change, mins(21)).await;
    }
    assert_eq!(fetch(s, id).await.deleted_at, Some(deleted_at));

    // A deleted account in every other state refuses every change as well.
    let bob = make_named(s, "bob").await;
    applied(s, bob.id, AccountChange::Suspend, mins(1)).await;
    applied(s, bob.id, AccountChange::Deactivate, mins(2)).await;
    applied(s, bob.id, AccountChange::SoftDelete, mins(3)).await;
    assert!(!fetch(s, bob.id).await.email_verified);
    for change in [
        AccountChange::Deactivate,
        AccountChange::Reactivate,
        AccountChange::Suspend,
        AccountChange::Unsuspend,
        AccountChange::SoftDelete,
        AccountChange::VerifyEmail,
        AccountChange::Unlock,
    ] {
        refused(s, bob.id, change, mins(4)).await;
    }

    // Recover: only a deletion made after `deleted_after`.
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: deleted_at + Duration::seconds(1),
        },
        mins(22),
    )
    .await;
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: deleted_at,
        },
        mins(22),
    )
    .await;
    let u = applied(
        s,
        id,
        AccountChange::Recover {
            deleted_after: deleted_at - Duration::seconds(1),
        },
        mins(23),
    )
    .await;
    assert_eq!(u.deleted_at, None);
    assert!(u.is_active && !u.is_suspended && u.email_verified);
    refused(
        s,
        id,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        mins(24),
    )
    .await;
    let u = applied(
        s,
        bob.id,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        mins(24),
    )
    .await;
    assert!(
        !u.is_active && u.is_suspended,
        "recovery keeps the other states"
    );

    // Unknown users.
    let before = written(s).await;
    for change in [
        AccountChange::Deactivate,
        AccountChange::Reactivate,
        AccountChange::Suspend,
        AccountChange::Unsuspend,
        AccountChange::SoftDelete,
        AccountChange::Recover {
            deleted_after: long_ago,
        },
        AccountChange::VerifyEmail,
        AccountChange::Unlock,
    ] {
        let outcome = s
            .change_account(Uuid::now_v7(), change, mins(30), probe("unknown"))
            .await;
        assert!(
            matches!(outcome, Err(Error::NotFound("user"))),
            "{change:?}: {outcome:?}"
        );
    }
    assert_eq!(written(s).await, before);
}
store_case!(account_changes_apply_only_from_their_states);

/// Deactivate, Suspend and SoftDelete end every active session of the user (and nobody
/// else's); the other changes end none.
pub async fn account_changes_that_end_access_revoke_sessions(store: Arc<dyn Store>) {
    let s = &*store;
    let bystander = make_named(s, "bystander").await;
    let theirs = login(s, bystander.id, "bystander-r", t0()).await;
    for (i, change) in [
        AccountChange::Deactivate,
        AccountChange::Suspend,
        AccountChange::SoftDelete,
    ]
    .into_iter()
    .enumerate()
    {
        let u = make_named(s, &format!("ender{i}")).await;
        let first = login(s, u.id, &format!("ender{i}-a"), t0()).await;
        let second = login(s, u.id, &format!("ender{i}-b"), secs(1)).await;
        let now = mins(5);
        assert_eq!(s.list_sessions(u.id, now).await.unwrap().len(), 2);
        applied(s, u.id, change, now).await;
        for session in [first, second] {
            assert_eq!(
                fetch_session(s, session).await.revoked_at,
                Some(now),
                "{change:?} ends the session"
            );
        }
        assert!(s.list_sessions(u.id, now).await.unwrap().is_empty());
    }
    assert_eq!(
        fetch_session(s, theirs).await.revoked_at,
        None,
        "another user's session stays"
    );

    // The other changes leave sessions alone.
    let keeper = make_named(s, "keeper").await;
    applied(s, keeper.id, AccountChange::Suspend, mins(1)).await;
    let session = login(s, keeper.id, "keeper-r", mins(2)).await;
    applied(s, keeper.id, AccountChange::Unsuspend, mins(3)).await;
    applied(s, keeper.id, AccountChange::VerifyEmail, mins(4)).await;
    applied(s, keeper.id, AccountChange::Unlock, mins(5)).await;
    assert_eq!(fetch_session(s, session).await.revoked_at, None);
    // A refused change ends nothing either.
    applied(s, keeper.id, AccountChange::Deactivate, mins(6)).await;
    let later = login(s, keeper.id, "keeper-r2", mins(7)).await;
    refused(s, keeper.id, AccountChange::Deactivate, mins(8)).await;
    assert_eq!(fetch_session(s, later).await.revoked_at, None);
}
store_case!(account_changes_that_end_access_revoke_sessions);

/// Unlock clears the failure counter and a running lock.
pub async fn unlock_clears_failures_and_the_lock(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    for i in 0..3 {
        failed_check(s, ann.id, secs(i), 3, Duration::minutes(15)).await;
    }
    let locked = fetch(s, ann.id).await;
    assert_eq!(locked.failed_login_attempts, 3);
    assert_eq!(locked.locked_until, Some(secs(2) + Duration::minutes(15)));
    let u = applied(s, ann.id, AccountChange::Unlock, mins(1)).await;
    assert_eq!(u.failed_login_attempts, 0);
    assert_eq!(u.locked_until, None);
    // The next failure counts from zero again.
    let failure = failed_check(s, ann.id, mins(2), 3, Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(failure.attempts, 1);
    assert_eq!(failure.locked_until, None);
    let u = applied(s, ann.id, AccountChange::Unlock, mins(3)).await;
    assert_eq!(u.failed_login_attempts, 0);

    // A deleted account keeps its counter.
    let bob = make_named(s, "bob").await;
    failed_check(s, bob.id, secs(1), 3, Duration::minutes(15)).await;
    applied(s, bob.id, AccountChange::SoftDelete, mins(1)).await;
    refused(s, bob.id, AccountChange::Unlock, mins(2)).await;
    assert_eq!(fetch(s, bob.id).await.failed_login_attempts, 1);
}
store_case!(unlock_clears_failures_and_the_lock);

/// Two concurrent suspensions of one account: exactly one applies (and writes its effects).
pub async fn concurrent_suspensions_have_one_winner(store: Arc<dyn Store>) {
    const ROUNDS: i64 = 10;
    for round in 0..ROUNDS {
        let target = make_named(&*store, &format!("target{round}")).await;
        let session = login(&*store, target.id, &format!("target{round}-r"), mins(round)).await;
        let barrier = Arc::new(Barrier::new(2));
        let now = mins(round) + Duration::seconds(1);
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let user_id = target.id;
                tokio::spawn(async move {
                    let effects =
                        Effects::audit(audit_event("USER_SUSPENDED", None, Some(user_id), now));
                    barrier.wait().await;
                    store
                        .change_account(user_id, AccountChange::Suspend, now, effects)
                        .await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(Some(u)) => {
                    assert!(u.is_suspended);
                    winners += 1;
                }
                Ok(None) => {}
                Err(other) => panic!("round {round}: unexpected {other:?}"),
            }
        }
        assert_eq!(winners, 1, "round {round}: exactly one suspension applies");
        assert!(fetch(&*store, target.id).await.is_suspended);
        assert_eq!(fetch_session(&*store, session).await.revoked_at, Some(now));
        assert_eq!(
            store.audit_events(Some(target.id), 10).await.unwrap().len(),
            1,
            "round {round}: only the winner's effects are written"
        );
    }
}
store_case!(concurrent_suspensions_have_one_winner);

/// The export holds the user's sessions (ended ones too), the audit rows naming them as target
/// or actor, their notifications and password change times, each oldest first; nobody
/// else's.
pub async fn user_data_export_holds_only_the_users_records(store: Arc<dyn Store>) {
    let s = &*store;
    let ann = make_named(s, "ann").await;
    let bob = make_named(s, "bob").await;
    let change = |new_hash: String, now| PasswordChange {
        new_hash,
        now,
        history_limit: 10,
        keep_session: None,
    };
    s.change_password(ann.id, change(hash("ann-1"), mins(1)), Effects::none())
        .await
        .unwrap();
    s.change_password(bob.id, change(hash("bob-1"), mins(2)), Effects::none())
        .await
        .unwrap();
    let ended = login(s, ann.id, "ann-a", mins(3)).await;
    let live = login(s, ann.id, "ann-b", mins(4)).await;
    assert!(
        s.revoke_session(ann.id, ended, mins(5), Effects::none())
            .await
            .unwrap()
    );
    login(s, bob.id, "bob-a", mins(3)).await;

    let about_ann = audit_event("USER_SUSPENDED", Some(bob.id), Some(ann.id), mins(6));
    let by_ann = audit_event("ROLE_ASSIGNED", Some(ann.id), Some(bob.id), mins(7));
    let own = audit_event("PROFILE_UPDATED", Some(ann.id), Some(ann.id), mins(8));
    let bobs = audit_event("USER_LOGIN", Some(bob.id), Some(bob.id), mins(9));
    let nobodys = audit_event("SYSTEM_STARTED", None, None, mins(9));
    let n1 = notification(ann.id, "LOGIN_ALERT", mins(10));
    let n2 = notification(ann.id, "SYSTEM", mins(11));
    let nb = notification(bob.id, "SYSTEM", mins(10));
    s.record_effects(Effects {
        audit: vec![
            own.clone(),
            bobs.clone(),
            nobodys,
            by_ann.clone(),
            about_ann.clone(),
        ],
        mail: vec![],
        notifications: vec![n2.clone(), nb, n1.clone()],
    })
    .await
    .unwrap();

    let export = s.user_data_export(ann.id).await.unwrap();
    let ended_session = fetch_session(s, ended).await;
    assert_eq!(ended_session.revoked_at, Some(mins(5)));
    assert_eq!(
        export.sessions,
        vec![ended_session, fetch_session(s, live).await],
        "every session, ended ones included, oldest first"
    );
    assert_eq!(export.audit, vec![about_ann, by_ann.clone(), own]);
    assert_eq!(export.notifications, vec![n1, n2]);
    assert_eq!(export.password_changes, vec![t0(), mins(1)]);

    let bob_export = s.user_data_export(bob.id).await.unwrap();
    assert_eq!(bob_export.sessions.len(), 1);
    assert_eq!(bob_export.audit.len(), 3);
    assert_eq!(bob_export.audit[2], bobs);
    assert_eq!(bob_export.audit[1], by_ann);
    assert_eq!(bob_export.notifications.len(), 1);
    assert_eq!(bob_export.password_changes, vec![t0(), mins(2)]);

    let nobody = s.user_data_export(Uuid::now_v7()).await.unwrap();
    assert!(nobody.sessions.is_empty());
    assert!(nobody.audit.is_empty());
    assert!(nobody.notifications.is_empty());
    assert!(nobody.password_changes.is_empty());
}
store_case!(user_data_export_holds_only_the_users_records);

/// Soft-deleted users before a cutoff (strictly), oldest deletion first, up to a limit.
pub async fn users_deleted_before_are_listed_oldest_first(store: Arc<dyn Store>) {
    let s = &*store;
    assert!(
        s.users_deleted_before(mins(100), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut deleted = Vec::new();
    for (name, at) in [("third", 3), ("first", 1), ("second", 2), ("late", 10)] {
        let u = make_named(s, name).await;
        s.change_account(u.id, AccountChange::SoftDelete, mins(at), Effects::none())
            .await
            .unwrap()
            .unwrap();
        deleted.push(u.id);
    }
    let [third, first, second, late] = deleted[..] else {
        unreachable!()
    };
    let live = make_named(s, "live").await;
    s.change_account(live.id, AccountChange::Suspend, mins(1), Effects::none())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(
        s.users_deleted_before(mins(5), 10).await.unwrap(),
        [first, second, third]
    );
    assert_eq!(
        s.users_deleted_before(mins(5), 2).await.unwrap(),
        [first, second]
    );
    assert_eq!(
        s.users_deleted_before(mins(2), 10).await.unwrap(),
        [first],
        "the cutoff is exclusive"
    );
    assert!(
        s.users_deleted_before(mins(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.users_deleted_before(mins(11), 10).await.unwrap(),
        [first, second, third, late]
    );
    assert!(
        s.users_deleted_before(mins(11), 0)
            .await
            .unwrap()
            .is_empty()
    );

    // A recovered user is no longer listed.
    s.change_account(
        second,
        AccountChange::Recover {
            deleted_after: t0(),
        },
        mins(12),
        Effects::none(),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        s.users_deleted_before(mins(11), 10).await.unwrap(),
        [first, third, late]
    );
}
store_case!(users_deleted_before_are_listed_oldest_first);

/// Permanent deletion removes the user and everything stored about them; their audit rows
/// stay, anonymised. With `deleted_before` only a user soft-deleted before it goes; a refusal
/// or a second call removes and writes nothing. The address can be registered again.
pub async fn delete_user_permanently_removes_everything_but_anonymised_audit(
    store: Arc<dyn Store>,
) {
    let s = &*store;
    let admin = make_named(s, "admin_x").await;
    let victim = make(
        s,
        NewUser {
            first_name: Some("Vic".to_owned()),
            roles: vec![DEFAULT_ROLE.to_owned(), "moderator".to_owned()],
            ..new_user("victim")
        },
    )
    .await;
    let witness = make_named(s, "witness").await;
    let v = victim.id;

    // Everything a user can have.
    s.update_profile(
        v,
        ProfileUpdate {
            bio: Some(Some("About me".to_owned())),
            city: Some(Some("Lyon".to_owned())),
            ..ProfileUpdate::default()
        },
        mins(1),
        Effects::none(),
    )
    .await
    .unwrap();
    s.change_password(
        v,
        PasswordChange {
            new_hash: hash("victim-1"),
            now: mins(1),
            history_limit: 5,
            keep_session: None,
        },
        Effects::none(),
    )
    .await
    .unwrap();
    s.issue_one_time_token(
        one_time_token(
            v,
            "victim-reset",
            TokenPurpose::PasswordReset,
            mins(1),
            mins(500),
        ),
        Effects::none(),
    )
    .await
    .unwrap();
    s.begin_two_factor_setup(v, vec![9, 9, 9], mins(1))
        .await
        .unwrap();
    s.enable_two_factor(
        v,
        1,
        vec![TokenDigest::of("victim-backup")],
        mins(1),
        Effects::none(),
    )
    .await
    .unwrap();
    let ended = login(s, v, "victim-a", mins(2)).await;
    s.revoke_session(v, ended, mins(2), Effects::none())
        .await
        .unwrap();
    let open = login(s, v, "victim-b", mins(3)).await;
    let witness_session = login(s, witness.id, "witness-a", mins(3)).await;
    let witness = fetch(s, witness.id).await;
    let about_victim = audit_event("USER_SUSPENDED", Some(admin.id), Some(v), mins(4));
    let by_victim = audit_event("ROLE_ASSIGNED", Some(v), Some(witness.id), mins(5));
    let own = audit_event("USER_LOGIN", Some(v), Some(v), mins(6));
    let unrelated = audit_event("USER_LOGIN", Some(witness.id), Some(witness.id), mins(7));
    let witness_note = notification(witness.id, "SYSTEM", mins(8));
    s.record_effects(Effects {
        audit: vec![
            about_victim.clone(),
            by_victim.clone(),
            own.clone(),
            unrelated.clone(),
        ],
        mail: vec![],
        notifications: vec![
            notification(v, "LOGIN_ALERT", mins(8)),
            notification(v, "SYSTEM", mins(9)),
            witness_note.clone(),
        ],
    })
    .await
    .unwrap();

    // Refusals with `deleted_before`: not deleted, deleted at or after the cutoff.
    let refuse = |cutoff: Timestamp| async move {
        let user = fetch(s, v).await;
        let before = written(s).await;
        assert!(
            !s.delete_user_permanently(v, Some(cutoff), probe("purge"))
                .await
                .unwrap(),
            "cutoff {cutoff}"
        );
        assert_eq!(fetch(s, v).await, user);
        assert_eq!(written(s).await, before, "a refused purge writes nothing");
        assert!(s.profile(v).await.unwrap().is_some());
        assert!(s.two_factor(v).await.unwrap().is_some());
        fetch_session(s, open).await;
        assert_eq!(s.notifications(v, false, 0, 10).await.unwrap().total, 2);
    };
    refuse(mins(1000)).await;
    let deleted_at = mins(10);
    s.change_account(v, AccountChange::SoftDelete, deleted_at, Effects::none())
        .await
        .unwrap()
        .unwrap();
    refuse(deleted_at).await;
    refuse(mins(5)).await;
    assert_eq!(fetch_session(s, open).await.revoked_at, Some(deleted_at));

    // The purge.
    let purged = audit_event("USER_PURGED", Some(admin.id), None, mins(20));
    let farewell = outbox_message(&victim.email, "account_deleted", mins(20));
    let backlog_before = s.mail_backlog().await.unwrap();
    assert!(
        s.delete_user_permanently(
            v,
            Some(deleted_at + Duration::seconds(1)),
            Effects::audit(purged.clone()).with_mail(farewell)
        )
        .await
        .unwrap()
    );
    assert_eq!(s.user_by_id(v).await.unwrap(), None);
    assert_eq!(s.user_by_email(&victim.email).await.unwrap(), None);
    assert_eq!(s.user_by_username(&victim.username).await.unwrap(), None);
    assert_eq!(s.profile(v).await.unwrap(), None);
    assert_eq!(s.two_factor(v).await.unwrap(), None);
    assert!(
        !s.use_backup_code(
            v,
            &TokenDigest::of("victim-backup"),
            mins(21),
            Effects::none()
        )
        .await
        .unwrap()
    );
    assert!(s.password_history(v, 10).await.unwrap().is_empty());
    assert_eq!(
        s.one_time_token(
            &TokenDigest::of("victim-reset"),
            TokenPurpose::PasswordReset
        )
        .await
        .unwrap(),
        None
    );
    assert_eq!(s.session_with_user(ended).await.unwrap(), None);
    assert_eq!(s.session_with_user(open).await.unwrap(), None);
    assert_eq!(
        s.rotate_refresh_token(
            &TokenDigest::of("victim-b"),
            &TokenDigest::of("victim-b2"),
            mins(21),
            mins(200),
            Duration::seconds(30),
        )
        .await
        .unwrap(),
        RefreshRotation::Invalid
    );
    assert_eq!(s.notifications(v, false, 0, 10).await.unwrap().total, 0);
    assert_eq!(s.user_permissions(v).await.unwrap(), Vec::<String>::new());
    let export = s.user_data_export(v).await.unwrap();
    assert!(export.sessions.is_empty());
    assert!(export.audit.is_empty(), "no row names the user any more");
    assert!(export.notifications.is_empty());
    assert!(export.password_changes.is_empty());
    assert!(s.audit_events(Some(v), 10).await.unwrap().is_empty());
    assert_eq!(
        s.role_by_id(MODERATOR_ROLE_ID)
            .await
            .unwrap()
            .unwrap()
            .user_count,
        0,
        "role assignments went too"
    );

    // The audit trail keeps its rows, anonymised, plus the purge's own.
    let anonymised = |event: &AuditEvent, actor, user, resource_id| AuditEvent {
        actor_id: actor,
        user_id: user,
        resource_id,
        ip_address: None,
        user_agent: None,
        details: json!({"anonymized": true}),
        ..event.clone()
    };
    assert_eq!(
        s.audit_events(None, 100).await.unwrap(),
        vec![
            purged,
            unrelated,
            anonymised(&own, None, None, None),
            anonymised(
                &by_victim,
                None,
                Some(witness.id),
                Some(witness.id.to_string())
            ),
            anonymised(&about_victim, Some(admin.id), None, None),
        ]
    );
    assert_eq!(s.mail_backlog().await.unwrap(), backlog_before + 1);

    // Nobody else lost anything.
    assert_eq!(fetch(s, witness.id).await, witness);
    assert_eq!(fetch_session(s, witness_session).await.revoked_at, None);
    assert_eq!(
        s.notifications(witness.id, false, 0, 10)
            .await
            .unwrap()
            .items,
        vec![witness_note]
    );
    assert_eq!(fetch(s, admin.id).await, admin);

    // A second call finds nothing and writes nothing.
    let before = written(s).await;
    assert!(
        !s.delete_user_permanently(v, None, probe("purge_again"))
            .await
            .unwrap()
    );
    assert!(
        !s.delete_user_permanently(v, Some(mins(1000)), probe("purge_again"))
            .await
            .unwrap()
    );
    assert_eq!(written(s).await, before);

    // The address and username are free again; the old trail is not the new user's.
    let again = make_named(s, "victim").await;
    assert_ne!(again.id, v);
    assert!(s.audit_events(Some(again.id), 10).await.unwrap().is_empty());

    // Without `deleted_before`, a live user is removed at once.
    assert!(
        s.delete_user_permanently(witness.id, None, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(s.user_by_id(witness.id).await.unwrap(), None);
    assert_eq!(s.session_with_user(witness_session).await.unwrap(), None);
}
store_case!(delete_user_permanently_removes_everything_but_anonymised_audit);
