//! Store conformance cases for linked identities, started authorizations and exchange codes.
//! Each case registers itself with `store_case!` right below its function (see
//! [`crate::testing::runner`]).

use crate::error::{ConflictKind, Error};
use crate::oauth::store::{AttemptPurpose, AttemptRecord, ExchangeCodeRecord, IdentityRecord};
use crate::store::{Effects, Store, Timestamp};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use std::sync::Arc;
use tokio::sync::Barrier;
use uuid::Uuid;

fn identity(user_id: Uuid, provider: &str, subject: &str, at: Timestamp) -> IdentityRecord {
    IdentityRecord {
        id: Uuid::now_v7(),
        user_id,
        provider: provider.to_owned(),
        subject: subject.to_owned(),
        email: Some(format!("{subject}@idp.example")),
        sealed_tokens: None,
        created_at: at,
        last_used_at: None,
    }
}

fn attempt(state: &str, user_id: Option<Uuid>, expires_at: Timestamp) -> AttemptRecord {
    AttemptRecord {
        state_digest: digest(state),
        browser_digest: digest(&format!("{state}-browser")),
        provider: "corp".to_owned(),
        sealed_secrets: sample_payload(3),
        redirect_to: Some("/dashboard?tab=1".to_owned()),
        purpose: if user_id.is_some() {
            AttemptPurpose::Link
        } else {
            AttemptPurpose::Login
        },
        user_id,
        expires_at,
    }
}

fn exchange_code(
    code: &str,
    user_id: Uuid,
    identity_id: Uuid,
    at: Timestamp,
) -> ExchangeCodeRecord {
    ExchangeCodeRecord {
        digest: digest(code),
        user_id,
        identity_id,
        redirect_to: None,
        expires_at: at,
    }
}

async fn passwordless(store: &dyn Store, user_id: Uuid) {
    store
        .change_password(
            user_id,
            password(String::new(), secs(1), None),
            Effects::none(),
        )
        .await
        .unwrap();
}

/// An identity is stored with every field, found by (provider, subject), listed oldest first
/// for its owner only; the same provider account cannot be linked twice (to anyone); a use
/// records its time, address and tokens; unlinking acts on the owner's identity only; a user
/// created with an identity gets both at once (or neither); purging the user removes them.
pub async fn identities_are_stored_per_user(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let bob = create(&*store, "bob").await;
    let first = identity(ann.id, "google", "g-1", secs(1));
    let audit = audit_event("IDENTITY_LINKED", Some(ann.id), Some(ann.id), secs(1));
    store
        .link_identity(first.clone(), Effects::audit(audit.clone()))
        .await
        .unwrap();
    assert_eq!(
        store.audit_events(Some(ann.id), 10).await.unwrap(),
        vec![audit]
    );
    let second = IdentityRecord {
        sealed_tokens: Some(sample_payload(9)),
        ..identity(ann.id, "corp", "c-1", secs(2))
    };
    store
        .link_identity(second.clone(), Effects::none())
        .await
        .unwrap();
    store
        .link_identity(identity(bob.id, "corp", "c-2", secs(3)), Effects::none())
        .await
        .unwrap();
    assert_eq!(
        store.identities(ann.id).await.unwrap(),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.identity_by_subject("corp", "c-1").await.unwrap(),
        Some(second.clone())
    );
    // The subject is per provider.
    assert_eq!(
        store.identity_by_subject("google", "c-1").await.unwrap(),
        None
    );

    // Linked already: to the same user or to another, nothing is stored.
    for owner in [ann.id, bob.id] {
        let err = store
            .link_identity(identity(owner, "google", "g-1", secs(4)), Effects::none())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Conflict(ConflictKind::Other)),
            "{err:?}"
        );
    }
    let err = store
        .link_identity(
            identity(Uuid::now_v7(), "google", "g-9", secs(4)),
            Effects::none(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert_eq!(store.identities(bob.id).await.unwrap().len(), 1);

    let used = IdentityRecord {
        email: Some("new@idp.example".to_owned()),
        last_used_at: Some(secs(5)),
        sealed_tokens: None,
        ..second.clone()
    };
    let login = audit_event("OAUTH_LOGIN", Some(ann.id), Some(ann.id), secs(5));
    assert!(
        store
            .record_identity_use(&used, Effects::audit(login))
            .await
            .unwrap()
    );
    let stored = store
        .identity_by_subject("corp", "c-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.email.as_deref(), Some("new@idp.example"));
    assert_eq!(stored.last_used_at, Some(secs(5)));
    // A use without tokens keeps the sealed ones it had.
    assert_eq!(stored.sealed_tokens, Some(sample_payload(9)));
    assert_eq!(audit_count(&*store, "OAUTH_LOGIN").await, 1);

    // Bob cannot unlink Ann's identity; Ann can (she has a password).
    assert!(
        !store
            .unlink_identity(bob.id, first.id, Effects::none())
            .await
            .unwrap()
    );
    assert!(
        store
            .unlink_identity(ann.id, first.id, Effects::none())
            .await
            .unwrap()
    );
    assert!(
        !store
            .unlink_identity(ann.id, first.id, Effects::none())
            .await
            .unwrap()
    );
    let gone = IdentityRecord {
        last_used_at: Some(secs(6)),
        ..first.clone()
    };
    assert!(
        !store
            .record_identity_use(&gone, Effects::none())
            .await
            .unwrap()
    );

    // A user created with an identity; a taken address or provider account stores neither.
    let carl = new_user("carl");
    let carl_identity = identity(carl.id, "github", "1234", secs(7));
    let created = store
        .create_user_with_identity(
            without_password(carl.clone()),
            carl_identity.clone(),
            Effects::audit(audit_event(
                "USER_REGISTERED",
                Some(carl.id),
                Some(carl.id),
                secs(7),
            )),
        )
        .await
        .unwrap();
    assert_eq!(created.email, "carl@example.com");
    assert!(created.password_hash.is_empty());
    assert_eq!(
        store.identities(carl.id).await.unwrap(),
        vec![carl_identity]
    );
    let dup_address = crate::store::NewUser {
        username: "carl_again".to_owned(),
        ..new_user("carl")
    };
    let err = store
        .create_user_with_identity(
            dup_address.clone(),
            identity(dup_address.id, "github", "5678", secs(8)),
            Effects::none(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictKind::Email)),
        "{err:?}"
    );
    assert_eq!(
        store.identity_by_subject("github", "5678").await.unwrap(),
        None
    );
    let dora = new_user("dora");
    let err = store
        .create_user_with_identity(
            dora.clone(),
            identity(dora.id, "github", "1234", secs(8)),
            Effects::none(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Conflict(ConflictKind::Other)),
        "{err:?}"
    );
    assert_eq!(store.user_by_email("dora@example.com").await.unwrap(), None);

    assert!(
        store
            .delete_user_permanently(ann.id, None, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(store.identities(ann.id).await.unwrap(), vec![]);
    assert_eq!(
        store.identity_by_subject("corp", "c-1").await.unwrap(),
        None
    );
}
store_case!(identities_are_stored_per_user);

/// The user of a first provider sign-in: no password, the provider's verified address.
fn without_password(user: crate::store::NewUser) -> crate::store::NewUser {
    crate::store::NewUser {
        password_hash: String::new(),
        email_verified: true,
        ..user
    }
}

/// Attempts and exchange codes are taken once, by their digest, only before they expire (an
/// expired one is consumed too); starting drops expired ones; a purge removes a user's.
pub async fn attempts_and_exchange_codes_are_single_use(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let started = attempt("state-1", None, mins(10));
    store
        .start_oauth_attempt(started.clone(), secs(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_oauth_attempt(&digest("state-2"), secs(2))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_oauth_attempt(&digest("state-1"), secs(2))
            .await
            .unwrap(),
        Some(started.clone())
    );
    assert_eq!(
        store
            .take_oauth_attempt(&digest("state-1"), secs(3))
            .await
            .unwrap(),
        None,
        "single use"
    );
    let link = attempt("state-3", Some(ann.id), mins(10));
    store
        .start_oauth_attempt(link.clone(), secs(4))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_oauth_attempt(&digest("state-3"), mins(11))
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store
            .take_oauth_attempt(&digest("state-3"), secs(5))
            .await
            .unwrap(),
        None,
        "an expired attempt is consumed when taken"
    );
    let linked = attempt("state-4", Some(ann.id), mins(10));
    store
        .start_oauth_attempt(linked.clone(), secs(5))
        .await
        .unwrap();
    let taken = store
        .take_oauth_attempt(&digest("state-4"), secs(6))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.purpose, AttemptPurpose::Link);
    assert_eq!(taken.user_id, Some(ann.id));

    let ann_identity = identity(ann.id, "corp", "c-ann", secs(1));
    store
        .link_identity(ann_identity.clone(), Effects::none())
        .await
        .unwrap();
    let code = exchange_code("code-1", ann.id, ann_identity.id, secs(60));
    store
        .issue_exchange_code(code.clone(), secs(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_exchange_code(&digest("code-1"), secs(61))
            .await
            .unwrap(),
        None,
        "expired after 60 s"
    );
    let code = exchange_code("code-2", ann.id, ann_identity.id, secs(60));
    store
        .issue_exchange_code(code.clone(), secs(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_exchange_code(&digest("code-2"), secs(2))
            .await
            .unwrap(),
        Some(code)
    );
    assert_eq!(
        store
            .take_exchange_code(&digest("code-2"), secs(3))
            .await
            .unwrap(),
        None,
        "single use"
    );
    let err = store
        .issue_exchange_code(
            exchange_code("code-3", Uuid::now_v7(), ann_identity.id, secs(60)),
            secs(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");

    store
        .start_oauth_attempt(attempt("state-5", Some(ann.id), mins(10)), secs(7))
        .await
        .unwrap();
    store
        .issue_exchange_code(
            exchange_code("code-4", ann.id, ann_identity.id, secs(60)),
            secs(7),
        )
        .await
        .unwrap();
    assert!(
        store
            .delete_user_permanently(ann.id, None, Effects::none())
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .take_oauth_attempt(&digest("state-5"), secs(8))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .take_exchange_code(&digest("code-4"), secs(8))
            .await
            .unwrap(),
        None
    );
}
store_case!(attempts_and_exchange_codes_are_single_use);

/// Racing takers of one attempt, and of one exchange code: exactly one gets it, every round.
pub async fn an_attempt_and_a_code_are_taken_once_under_concurrency(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let ann_identity = identity(ann.id, "corp", "c-race", secs(1));
    store
        .link_identity(ann_identity.clone(), Effects::none())
        .await
        .unwrap();
    for round in 0..3 {
        let state = format!("race-state-{round}");
        store
            .start_oauth_attempt(attempt(&state, None, mins(10)), secs(round))
            .await
            .unwrap();
        let code = format!("race-code-{round}");
        store
            .issue_exchange_code(
                exchange_code(&code, ann.id, ann_identity.id, mins(1)),
                secs(round),
            )
            .await
            .unwrap();
        let barrier = Arc::new(Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let (state, code) = (state.clone(), code.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    if i % 2 == 0 {
                        (
                            store
                                .take_oauth_attempt(&digest(&state), secs(30))
                                .await
                                .unwrap()
                                .is_some(),
                            false,
                        )
                    } else {
                        (
                            false,
                            store
                                .take_exchange_code(&digest(&code), secs(30))
                                .await
                                .unwrap()
                                .is_some(),
                        )
                    }
                })
            })
            .collect();
        let (mut attempts, mut codes) = (0, 0);
        for task in tasks {
            let (a, c) = task.await.unwrap();
            attempts += usize::from(a);
            codes += usize::from(c);
        }
        assert_eq!((attempts, codes), (1, 1), "round {round}");
    }
}
store_case!(an_attempt_and_a_code_are_taken_once_under_concurrency);

/// A user without a password keeps one way to sign in: of two unlinks racing for their last two
/// identities, one succeeds and the other is refused (`LastSignInMethod`), every round; a
/// passkey counts as a way to sign in; with a password, the last identity goes.
pub async fn the_last_identity_of_a_passwordless_user_survives_racing_unlinks(
    store: Arc<dyn Store>,
) {
    let ann = create(&*store, "ann").await;
    passwordless(&*store, ann.id).await;
    for round in 0..3 {
        let pair = [
            identity(ann.id, "google", &format!("ann-{round}-g"), secs(2)),
            identity(ann.id, "corp", &format!("ann-{round}-c"), secs(2)),
        ];
        for linked in &pair {
            store
                .link_identity(linked.clone(), Effects::none())
                .await
                .unwrap();
        }
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = pair
            .iter()
            .map(|linked| {
                let (store, barrier, id) = (store.clone(), barrier.clone(), linked.id);
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.unlink_identity(ann.id, id, Effects::none()).await
                })
            })
            .collect();
        let (mut removed, mut refused) = (0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(true) => removed += 1,
                Err(Error::LastSignInMethod) => refused += 1,
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!((removed, refused), (1, 1), "round {round}");
        let left = store.identities(ann.id).await.unwrap();
        assert_eq!(left.len(), 1, "round {round}");
        // With a password for a moment, the survivor goes.
        store
            .change_password(
                ann.id,
                password(hash("ann-1"), secs(3), None),
                Effects::none(),
            )
            .await
            .unwrap();
        assert!(
            store
                .unlink_identity(ann.id, left[0].id, Effects::none())
                .await
                .unwrap()
        );
        passwordless(&*store, ann.id).await;
    }
    // A passkey is a way to sign in too.
    let last = identity(ann.id, "google", "ann-last", secs(5));
    store
        .link_identity(last.clone(), Effects::none())
        .await
        .unwrap();
    let err = store
        .unlink_identity(ann.id, last.id, Effects::none())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::LastSignInMethod), "{err:?}");
    store
        .add_passkey(
            crate::passkeys::store::PasskeyRecord {
                id: Uuid::now_v7(),
                user_id: ann.id,
                credential_id: "ann-passkey".to_owned(),
                credential: r#"{"cred":{"counter":0}}"#.to_owned(),
                name: "Laptop".to_owned(),
                sign_count: 0,
                backed_up: false,
                transports: vec![],
                created_at: secs(5),
                last_used_at: None,
            },
            Effects::none(),
        )
        .await
        .unwrap();
    assert!(
        store
            .unlink_identity(ann.id, last.id, Effects::none())
            .await
            .unwrap()
    );
}
store_case!(the_last_identity_of_a_passwordless_user_survives_racing_unlinks);
