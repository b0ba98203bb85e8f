//! Store conformance cases for two-factor enrolment, TOTP steps, backup codes and login
//! challenges. Each case registers itself with `store_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::error::{ConflictKind, Error};
use crate::store::{Effects, Store, TokenPurpose};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use tokio::sync::Barrier;
use uuid::Uuid;

/// Setup stores a pending secret (replaceable), enabling needs it, sets the user's flag and the
/// backup codes; a second setup or enable is a conflict once enabled; disabling removes it all.
pub async fn two_factor_enrolment_lifecycle(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    assert_eq!(store.two_factor(ann.id).await.unwrap(), None);
    let err = store
        .enable_two_factor(ann.id, 1, vec![], secs(1), Effects::none())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    let err = store
        .begin_two_factor_setup(Uuid::now_v7(), vec![1, 2, 3], secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    store
        .begin_two_factor_setup(ann.id, vec![1, 2, 3], secs(1))
        .await
        .unwrap();
    store
        .begin_two_factor_setup(ann.id, vec![9, 8, 7, 0, 255], secs(2))
        .await
        .unwrap();
    let pending = store.two_factor(ann.id).await.unwrap().unwrap();
    assert_eq!(
        pending.sealed_secret,
        vec![9, 8, 7, 0, 255],
        "a pending setup is replaced"
    );
    assert!(!pending.enabled);
    assert_eq!(pending.enabled_at, None);
    assert_eq!(pending.created_at, secs(2));
    assert!(!user(&*store, ann.id).await.two_factor_enabled);

    let codes: Vec<_> = (0..10).map(|i| digest(&format!("code-{i}"))).collect();
    let audit = audit_event("2FA_ENABLED", Some(ann.id), Some(ann.id), secs(3));
    store
        .enable_two_factor(ann.id, 1000, codes, secs(3), Effects::audit(audit.clone()))
        .await
        .unwrap();
    let enabled = store.two_factor(ann.id).await.unwrap().unwrap();
    assert!(enabled.enabled);
    assert_eq!(enabled.enabled_at, Some(secs(3)));
    assert_eq!(enabled.last_used_step, Some(1000));
    assert_eq!(enabled.backup_codes_remaining, 10);
    assert!(user(&*store, ann.id).await.two_factor_enabled);
    assert_eq!(
        store.audit_events(Some(ann.id), 10).await.unwrap(),
        vec![audit]
    );

    let err = store
        .begin_two_factor_setup(ann.id, vec![4], secs(4))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictKind::Other)),
        "{err:?}"
    );
    let err = store
        .enable_two_factor(ann.id, 1001, vec![], secs(4), Effects::none())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictKind::Other)),
        "{err:?}"
    );
    assert_eq!(
        store
            .two_factor(ann.id)
            .await
            .unwrap()
            .unwrap()
            .sealed_secret,
        vec![9, 8, 7, 0, 255],
        "an enabled secret is never replaced"
    );

    assert!(
        store
            .disable_two_factor(ann.id, secs(5), Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(store.two_factor(ann.id).await.unwrap(), None);
    assert!(!user(&*store, ann.id).await.two_factor_enabled);
    assert!(
        !store
            .use_backup_code(ann.id, &digest("code-1"), secs(6), Effects::none())
            .await
            .unwrap(),
        "backup codes go with the enrolment"
    );
    assert!(
        !store
            .disable_two_factor(ann.id, secs(6), Effects::none())
            .await
            .unwrap()
    );
}
store_case!(two_factor_enrolment_lifecycle);

/// A TOTP step is accepted once, and never one older than the last accepted.
pub async fn totp_steps_are_accepted_once(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    assert!(
        !store.use_totp_step(ann.id, 5).await.unwrap(),
        "no enrolment"
    );
    store
        .begin_two_factor_setup(ann.id, vec![1], secs(1))
        .await
        .unwrap();
    store
        .enable_two_factor(ann.id, 100, vec![], secs(1), Effects::none())
        .await
        .unwrap();
    assert!(
        !store.use_totp_step(ann.id, 100).await.unwrap(),
        "the enabling code"
    );
    assert!(!store.use_totp_step(ann.id, 99).await.unwrap());
    assert!(store.use_totp_step(ann.id, 101).await.unwrap());
    assert!(!store.use_totp_step(ann.id, 101).await.unwrap(), "replay");
    assert!(
        !store
            .reseal_two_factor_secret(ann.id, &[9, 9], vec![2])
            .await
            .unwrap(),
        "only the current secret is replaced"
    );
    assert!(
        store
            .reseal_two_factor_secret(ann.id, &[1], vec![2, 0, 255])
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .two_factor(ann.id)
            .await
            .unwrap()
            .unwrap()
            .sealed_secret,
        vec![2, 0, 255]
    );
    assert_eq!(
        store
            .two_factor(ann.id)
            .await
            .unwrap()
            .unwrap()
            .last_used_step,
        Some(101)
    );
    // Two requests racing with one code: exactly one wins.
    for step in 200..204 {
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (store, barrier) = (store.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.use_totp_step(ann.id, step).await.unwrap()
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            wins += usize::from(task.await.unwrap());
        }
        assert_eq!(wins, 1, "step {step}");
    }
}
store_case!(totp_steps_are_accepted_once);

/// Backup codes: each works once, only for its owner; effects only on use; replacing them
/// voids the old ones.
pub async fn backup_codes_are_single_use_and_replaceable(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    store
        .begin_two_factor_setup(ann.id, vec![1], secs(1))
        .await
        .unwrap();
    let codes: Vec<_> = ["a1", "a2", "a3"].iter().map(|c| digest(c)).collect();
    store
        .enable_two_factor(ann.id, 1, codes, secs(1), Effects::none())
        .await
        .unwrap();
    let used = audit_event("BACKUP_CODE_USED", Some(ann.id), Some(ann.id), secs(2));
    assert!(
        !store
            .use_backup_code(bob.id, &digest("a1"), secs(2), Effects::audit(used.clone()))
            .await
            .unwrap(),
        "not bob's code"
    );
    assert!(
        !store
            .use_backup_code(ann.id, &digest("zz"), secs(2), Effects::audit(used.clone()))
            .await
            .unwrap()
    );
    assert!(store.audit_events(None, 10).await.unwrap().is_empty());
    assert!(
        store
            .use_backup_code(ann.id, &digest("a1"), secs(2), Effects::audit(used.clone()))
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_backup_code(ann.id, &digest("a1"), secs(3), Effects::none())
            .await
            .unwrap(),
        "used once"
    );
    assert_eq!(store.audit_events(None, 10).await.unwrap(), vec![used]);
    assert_eq!(
        store
            .two_factor(ann.id)
            .await
            .unwrap()
            .unwrap()
            .backup_codes_remaining,
        2
    );

    let fresh: Vec<_> = ["b1", "b2", "b3", "b4"].iter().map(|c| digest(c)).collect();
    store
        .replace_backup_codes(ann.id, fresh, secs(4), Effects::none())
        .await
        .unwrap();
    assert_eq!(
        store
            .two_factor(ann.id)
            .await
            .unwrap()
            .unwrap()
            .backup_codes_remaining,
        4
    );
    assert!(
        !store
            .use_backup_code(ann.id, &digest("a2"), secs(5), Effects::none())
            .await
            .unwrap(),
        "old codes are void"
    );
    assert!(
        store
            .use_backup_code(ann.id, &digest("b2"), secs(5), Effects::none())
            .await
            .unwrap()
    );
    let err = store
        .replace_backup_codes(Uuid::now_v7(), vec![], secs(5), Effects::none())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
}
store_case!(backup_codes_are_single_use_and_replaceable);

/// A login challenge (any one-time token) is used once, only before it expires, only for its
/// purpose.
pub async fn one_time_tokens_of_any_purpose_are_used_once(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    store
        .issue_one_time_token(
            one_time_token(
                ann.id,
                "challenge",
                TokenPurpose::LoginChallenge,
                t0(),
                mins(5),
            ),
            Effects::none(),
        )
        .await
        .unwrap();
    let err = store
        .use_one_time_token(&digest("challenge"), TokenPurpose::PasswordReset, secs(1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOneTimeToken), "{err:?}");
    let err = store
        .use_one_time_token(&digest("challenge"), TokenPurpose::LoginChallenge, mins(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidOneTimeToken),
        "expired: {err:?}"
    );
    assert_eq!(
        store
            .use_one_time_token(&digest("challenge"), TokenPurpose::LoginChallenge, secs(1))
            .await
            .unwrap(),
        ann.id
    );
    let err = store
        .use_one_time_token(&digest("challenge"), TokenPurpose::LoginChallenge, secs(2))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidOneTimeToken), "used: {err:?}");
    assert_eq!(
        store
            .one_time_token(&digest("challenge"), TokenPurpose::LoginChallenge)
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(secs(1))
    );
}
store_case!(one_time_tokens_of_any_purpose_are_used_once);
