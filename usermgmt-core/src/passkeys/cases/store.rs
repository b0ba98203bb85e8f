//! Store conformance cases for passkeys and their ceremonies. Each case registers itself with
//! `store_case!` right below its function (see [`crate::testing::runner`]).

use crate::error::{ConflictKind, Error};
use crate::passkeys::store::{CeremonyKind, CeremonyRecord, PasskeyRecord};
use crate::store::{Effects, Store};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use tokio::sync::Barrier;
use uuid::Uuid;

fn passkey(user_id: Uuid, credential_id: &str, at: crate::store::Timestamp) -> PasskeyRecord {
    PasskeyRecord {
        id: Uuid::now_v7(),
        user_id,
        credential_id: credential_id.to_owned(),
        credential: format!(r#"{{"cred":{{"counter":0,"id":"{credential_id}"}}}}"#),
        name: "Laptop — ünïcode".to_owned(),
        sign_count: 0,
        backed_up: true,
        transports: vec!["internal".to_owned(), "hybrid".to_owned()],
        created_at: at,
        last_used_at: None,
    }
}

fn ceremony(
    kind: CeremonyKind,
    user_id: Option<Uuid>,
    expires_at: crate::store::Timestamp,
) -> CeremonyRecord {
    CeremonyRecord {
        id: Uuid::new_v4(),
        kind,
        user_id,
        sealed_state: sample_payload(7),
        expires_at,
    }
}

/// A passkey is stored with every field, found by its credential id, listed oldest first for
/// its owner only; a second registration of the credential id is a conflict and an unknown user
/// is not found; rename and remove act on the owner's passkey only; a use moves the counter
/// only from the count it saw; purging the user removes their passkeys.
pub async fn passkeys_are_stored_per_user(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let first = passkey(ann.id, "cred-1", secs(1));
    let audit = audit_event("PASSKEY_REGISTERED", Some(ann.id), Some(ann.id), secs(1));
    store
        .add_passkey(first.clone(), Effects::audit(audit.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.audit_events(Some(ann.id), 10).await.unwrap(),
        vec![audit]
    );
    let second = passkey(ann.id, "cred-2", secs(2));
    store
        .add_passkey(second.clone(), Effects::none())
        .await
        .unwrap();
    store
        .add_passkey(passkey(bob.id, "cred-3", secs(3)), Effects::none())
        .await
        .unwrap();
    assert_eq!(
        store.passkeys(ann.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.passkey_by_credential_id("cred-2").await.unwrap(),
        Some(second.clone())
    );
    assert_eq!(store.passkey_by_credential_id("nope").await.unwrap(), None);

    let err = store
        .add_passkey(passkey(bob.id, "cred-1", secs(4)), Effects::none())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictKind::Other)),
        "{err:?}"
    );
    let err = store
        .add_passkey(passkey(Uuid::now_v7(), "cred-9", secs(4)), Effects::none())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(store.passkeys(bob.id).await.unwrap().len(), 1);

    assert!(
        !store
            .rename_passkey(bob.id, first.id, "stolen")
            .await
            .unwrap()
    );
    assert!(
        store
            .rename_passkey(ann.id, first.id, "Phone")
            .await
            .unwrap()
    );
    let renamed = store.passkeys(ann.id).await.unwrap().remove(0);
    assert_eq!(renamed.name, "Phone");

    let used = PasskeyRecord {
        credential: r#"{"cred":{"counter":5}}"#.to_owned(),
        sign_count: 5,
        backed_up: false,
        last_used_at: Some(secs(5)),
        ..renamed.clone()
    };
    assert!(
        store
            .record_passkey_use(&used, 0, Effects::none())
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_passkey_use(&used, 0, Effects::none())
            .await
            .unwrap(),
        "a use from a stale count is refused"
    );
    assert_eq!(store.passkeys(ann.id).await.unwrap().remove(0), used);

    assert!(
        !store
            .remove_passkey(bob.id, first.id, Effects::none())
            .await
            .unwrap()
    );
    let removed = audit_event("PASSKEY_REMOVED", Some(ann.id), Some(ann.id), secs(6));
    assert!(
        store
            .remove_passkey(ann.id, first.id, Effects::audit(removed))
            .await
            .unwrap()
    );
    assert!(
        !store
            .remove_passkey(ann.id, first.id, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(store.passkeys(ann.id).await.unwrap(), vec![second]);
    assert_eq!(audit_count(&*store, "PASSKEY_REMOVED").await, 1);

    assert!(
        store
            .delete_user_permanently(ann.id, None, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(store.passkeys(ann.id).await.unwrap(), vec![]);
    assert_eq!(
        store.passkey_by_credential_id("cred-2").await.unwrap(),
        None
    );
    assert_eq!(store.passkeys(bob.id).await.unwrap().len(), 1);
}
store_case!(passkeys_are_stored_per_user);

/// A ceremony is taken once, only as the kind it was started for and only before it expires;
/// a wrong-kind or expired attempt consumes it too. Starting one drops the expired ones.
pub async fn passkey_ceremonies_are_single_use(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let registration = ceremony(CeremonyKind::Registration, Some(ann.id), mins(5));
    store
        .start_ceremony(registration.clone(), secs(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_ceremony(registration.id, CeremonyKind::Registration, secs(10))
            .await
            .unwrap(),
        Some(registration.clone())
    );
    assert_eq!(
        store
            .take_ceremony(registration.id, CeremonyKind::Registration, secs(11))
            .await
            .unwrap(),
        None,
        "taken once"
    );

    let sign_in = ceremony(CeremonyKind::SignIn, None, mins(5));
    store
        .start_ceremony(sign_in.clone(), secs(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_ceremony(sign_in.id, CeremonyKind::SecondFactor, secs(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_ceremony(sign_in.id, CeremonyKind::SignIn, secs(2))
            .await
            .unwrap(),
        None,
        "a wrong-kind attempt used it up"
    );

    let expiring = ceremony(CeremonyKind::SecondFactor, Some(ann.id), mins(5));
    store
        .start_ceremony(expiring.clone(), secs(0))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_ceremony(expiring.id, CeremonyKind::SecondFactor, mins(5))
            .await
            .unwrap(),
        None,
        "expired at its expiry"
    );

    let old = ceremony(CeremonyKind::SignIn, None, mins(1));
    store.start_ceremony(old.clone(), secs(0)).await.unwrap();
    store
        .start_ceremony(ceremony(CeremonyKind::SignIn, None, mins(10)), mins(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_ceremony(old.id, CeremonyKind::SignIn, secs(1))
            .await
            .unwrap(),
        None,
        "dropped when a later one started after it expired"
    );
}
store_case!(passkey_ceremonies_are_single_use);

/// Racing takers of one ceremony: exactly one gets it.
pub async fn a_passkey_ceremony_is_taken_once_under_concurrency(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    for round in 0..3 {
        let started = ceremony(CeremonyKind::SignIn, Some(ann.id), mins(5));
        store
            .start_ceremony(started.clone(), secs(round))
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(4));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .take_ceremony(started.id, CeremonyKind::SignIn, secs(30))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap().is_some());
        }
        assert_eq!(wins, 1, "round {round}");
    }
}
store_case!(a_passkey_ceremony_is_taken_once_under_concurrency);

/// A user without a password keeps one passkey: of two removals racing for their last two, one
/// succeeds and the other is refused (`LastSignInMethod`), every round; with a password, both
/// go.
pub async fn the_last_passkey_of_a_passwordless_user_survives_racing_removals(
    store: Arc<dyn Store>,
) {
    let ann = create(&*store, "ann").await;
    store
        .change_password(
            ann.id,
            crate::store::PasswordChange {
                new_hash: String::new(),
                now: secs(1),
                history_limit: 5,
                keep_session: None,
            },
            Effects::none(),
        )
        .await
        .unwrap();
    for round in 0..3 {
        let keys = [
            passkey(ann.id, &format!("ann-{round}-a"), secs(2)),
            passkey(ann.id, &format!("ann-{round}-b"), secs(2)),
        ];
        for key in &keys {
            store
                .add_passkey(key.clone(), Effects::none())
                .await
                .unwrap();
        }
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = keys
            .iter()
            .map(|key| {
                let (store, barrier, id) = (store.clone(), barrier.clone(), key.id);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.remove_passkey(ann.id, id, Effects::none()).await
                })
            })
            .collect();
        let mut removed = 0;
        let mut refused = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(true) => removed += 1,
                Err(Error::LastSignInMethod) => refused += 1,
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!((removed, refused), (1, 1), "round {round}");
        let left = store.passkeys(ann.id).await.unwrap();
        assert_eq!(left.len(), 1, "round {round}");
        // Clear the survivor for the next round by giving ann a password for a moment.
        store
            .change_password(
                ann.id,
                crate::store::PasswordChange {
                    new_hash: "a-hash".to_owned(),
                    now: secs(3),
                    history_limit: 5,
                    keep_session: None,
                },
                Effects::none(),
            )
            .await
            .unwrap();
        assert!(
            store
                .remove_passkey(ann.id, left[0].id, Effects::none())
                .await
                .unwrap(),
            "with a password the last passkey goes"
        );
        store
            .change_password(
                ann.id,
                crate::store::PasswordChange {
                    new_hash: String::new(),
                    now: secs(4),
                    history_limit: 5,
                    keep_session: None,
                },
                Effects::none(),
            )
            .await
            .unwrap();
    }
}
store_case!(the_last_passkey_of_a_passwordless_user_survives_racing_removals);
