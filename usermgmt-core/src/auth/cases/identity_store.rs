//! Store conformance cases for accounts and identity: creating users, finding them, and the
//! one-time tokens that verify an address. Each case registers itself with `store_case!` right
//! below its function (see [`crate::testing::runner`]).

use crate::error::{ConflictKind, Error};
use crate::store::{
    ADMIN_ROLE, DEFAULT_ROLE, Effects, NewUser, OneTimeTokenRecord, ProfileRecord, Store,
    TokenPurpose, UserRecord,
};
use crate::testing::runner::store_case;
use crate::testing::store_suite::*;
use serde_json::json;
use std::sync::Arc;
use time::Duration;
use tokio::sync::Barrier;
use uuid::Uuid;

pub async fn fresh_store_answers_ping_and_is_empty(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    assert!(store.audit_events(None, 100).await.unwrap().is_empty());
    assert_eq!(backlog(&*store).await, 0);
    assert!(
        store
            .claim_due_mail(t0() + Duration::days(3650), 100, Duration::minutes(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.user_by_email("nobody@example.com").await.unwrap(),
        None
    );
    store.ping().await.unwrap();
}
store_case!(fresh_store_answers_ping_and_is_empty);

pub async fn create_user_round_trips_every_field(store: Arc<dyn Store>) {
    let id = Uuid::now_v7();
    let verify = digest("verify-ada");
    let new = NewUser {
        id,
        email: "ada@example.com".to_owned(),
        username: "ada_l".to_owned(),
        password_hash: hash("ada-0"),
        first_name: Some("Ada Zoë".to_owned()),
        last_name: Some("Lovelace-李".to_owned()),
        email_verified: false,
        roles: vec![DEFAULT_ROLE.to_owned(), ADMIN_ROLE.to_owned()],
        created_at: t0(),
        verification: Some(one_time_token(
            id,
            "verify-ada",
            TokenPurpose::EmailVerification,
            t0(),
            t0() + Duration::days(1),
        )),
    };
    let event = audit_event("USER_REGISTERED", None, Some(id), t0());
    let mail = outbox_message("ada@example.com", "verify_email", t0());
    let created = store
        .create_user(new, Effects::audit(event.clone()).with_mail(mail.clone()))
        .await
        .unwrap();
    let expected = UserRecord {
        id,
        email: "ada@example.com".to_owned(),
        username: "ada_l".to_owned(),
        password_hash: hash("ada-0"),
        first_name: Some("Ada Zoë".to_owned()),
        last_name: Some("Lovelace-李".to_owned()),
        avatar: None,
        email_verified: false,
        is_active: true,
        is_suspended: false,
        two_factor_enabled: false,
        failed_login_attempts: 0,
        locked_until: None,
        deleted_at: None,
        created_at: t0(),
        updated_at: t0(),
        last_login_at: None,
        roles: vec!["admin".to_owned(), "user".to_owned()],
    };
    assert_eq!(created, expected);
    assert_eq!(created.password_hash, expected.password_hash);
    assert_eq!(created.first_name, expected.first_name);
    assert_eq!(created.last_name, expected.last_name);
    assert_eq!(created.created_at, expected.created_at);
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        store.user_by_email("ada@example.com").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store.user_by_username("ada_l").await.unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        store.profile(id).await.unwrap(),
        Some(ProfileRecord {
            preferences: json!({}),
            ..ProfileRecord::default()
        }),
        "every user gets an empty profile with `{{}}` preferences"
    );
    assert_eq!(
        store.password_history(id, 5).await.unwrap(),
        vec![hash("ada-0")],
        "the first password is the first history entry"
    );
    assert_eq!(
        store
            .one_time_token(&verify, TokenPurpose::EmailVerification)
            .await
            .unwrap(),
        Some(OneTimeTokenRecord {
            user_id: id,
            expires_at: t0() + Duration::days(1),
            used_at: None,
        })
    );
    assert_eq!(store.audit_events(Some(id), 10).await.unwrap(), vec![event]);
    assert_eq!(backlog(&*store).await, 1);
    assert_eq!(
        store
            .claim_due_mail(t0(), 10, Duration::minutes(5))
            .await
            .unwrap(),
        vec![mail]
    );

    // A pre-verified administrator (bootstrap), without names nor verification token.
    let root = NewUser {
        email_verified: true,
        roles: vec![ADMIN_ROLE.to_owned()],
        created_at: secs(1),
        ..new_user("root")
    };
    let root_id = root.id;
    let created = store.create_user(root, Effects::none()).await.unwrap();
    assert!(created.email_verified);
    assert_eq!(created.roles, vec!["admin".to_owned()]);
    assert_eq!(created.first_name, None);
    assert_eq!(created.last_name, None);
    assert_eq!(created.created_at, secs(1));
    assert_eq!(created.updated_at, secs(1));
    assert_eq!(store.user_by_id(root_id).await.unwrap(), Some(created));
    assert_eq!(
        store.password_history(root_id, 5).await.unwrap(),
        vec![hash("root-0")]
    );
    assert_eq!(
        store.audit_events(None, 10).await.unwrap().len(),
        1,
        "no effects given, none written"
    );

    // The authentication reads take the roles in their own statement: in the same order.
    let session = new_session(id, "r-ada", secs(2), secs(2) + Duration::days(7));
    let session_id = session.id;
    store
        .start_session(session, None, Effects::none())
        .await
        .unwrap();
    let (_, authenticated) = store.session_with_user(session_id).await.unwrap().unwrap();
    assert_eq!(authenticated.roles, expected.roles);
    let (_, with_profile, _) = store
        .session_with_user_and_profile(session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(with_profile.roles, expected.roles);
}
store_case!(create_user_round_trips_every_field);

async fn assert_conflict_writes_nothing(
    store: &dyn Store,
    existing: &UserRecord,
    mut dup: NewUser,
    kind: ConflictKind,
) {
    let audit_before = all_audit(store).await;
    let backlog_before = backlog(store).await;
    let dup_id = dup.id;
    let dup_email = dup.email.clone();
    let dup_username = dup.username.clone();
    dup.verification = Some(one_time_token(
        dup_id,
        "verify-dup",
        TokenPurpose::EmailVerification,
        t0(),
        t0() + Duration::days(1),
    ));
    let effects = Effects::audit(audit_event("USER_REGISTERED", None, Some(dup_id), secs(5)))
        .with_mail(outbox_message(&dup_email, "verify_email", secs(5)));
    let result = store.create_user(dup, effects).await;
    assert!(
        matches!(&result, Err(Error::Conflict(k)) if *k == kind),
        "expected Conflict({kind:?}), got {result:?}"
    );
    assert_eq!(store.user_by_id(dup_id).await.unwrap(), None);
    assert_eq!(store.profile(dup_id).await.unwrap(), None);
    assert!(store.password_history(dup_id, 5).await.unwrap().is_empty());
    assert_eq!(
        store
            .one_time_token(&digest("verify-dup"), TokenPurpose::EmailVerification)
            .await
            .unwrap(),
        None,
        "the verification token of a refused user is not stored"
    );
    if kind == ConflictKind::Email {
        assert_eq!(store.user_by_username(&dup_username).await.unwrap(), None);
    } else {
        assert_eq!(store.user_by_email(&dup_email).await.unwrap(), None);
    }
    assert_eq!(
        store.user_by_id(existing.id).await.unwrap().as_ref(),
        Some(existing),
        "the existing user is unchanged"
    );
    assert_eq!(
        store.user_by_email(&existing.email).await.unwrap().as_ref(),
        Some(existing)
    );
    assert_eq!(
        store
            .user_by_username(&existing.username)
            .await
            .unwrap()
            .as_ref(),
        Some(existing)
    );
    assert_eq!(all_audit(store).await, audit_before, "no audit row written");
    assert_eq!(backlog(store).await, backlog_before, "no mail enqueued");
}

pub async fn duplicate_email_is_a_conflict_and_writes_nothing(store: Arc<dyn Store>) {
    let existing = create(&*store, "alice").await;
    let dup = NewUser {
        email: existing.email.clone(),
        ..new_user("alice2")
    };
    assert_conflict_writes_nothing(&*store, &existing, dup, ConflictKind::Email).await;
}
store_case!(duplicate_email_is_a_conflict_and_writes_nothing);

pub async fn duplicate_username_is_a_conflict_and_writes_nothing(store: Arc<dyn Store>) {
    let existing = create(&*store, "alice").await;
    let dup = NewUser {
        email: "someone.else@example.com".to_owned(),
        ..new_user("alice")
    };
    assert_conflict_writes_nothing(&*store, &existing, dup, ConflictKind::Username).await;
}
store_case!(duplicate_username_is_a_conflict_and_writes_nothing);

/// Registrations racing for one email (and, in a second round, one username): exactly one
/// succeeds, every other gets the conflict naming what was taken, and only the winner's row,
/// audit row and mail exist.
pub async fn concurrent_registrations_of_one_identity_have_one_winner(store: Arc<dyn Store>) {
    const CONTENDERS: usize = 6;
    for kind in [ConflictKind::Email, ConflictKind::Username] {
        let audit_before = all_audit(&*store).await.len();
        let backlog_before = backlog(&*store).await;
        let barrier = Arc::new(Barrier::new(CONTENDERS));
        let tasks: Vec<_> = (0..CONTENDERS)
            .map(|i| {
                let (store, barrier) = (store.clone(), barrier.clone());
                let mut user = new_user(&format!("racer_{kind:?}_{i}").to_lowercase());
                if kind == ConflictKind::Email {
                    user.email = "contested@example.com".to_owned();
                } else {
                    user.username = "contested".to_owned();
                }
                let effects =
                    Effects::audit(audit_event("USER_REGISTERED", None, Some(user.id), secs(1)))
                        .with_mail(outbox_message(&user.email, "verify_email", secs(1)));
                tokio::spawn(async move {
                    barrier.wait().await;
                    store.create_user(user, effects).await
                })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => winners += 1,
                Err(Error::Conflict(k)) => assert_eq!(k, kind),
                Err(other) => panic!("{kind:?}: unexpected {other:?}"),
            }
        }
        assert_eq!(winners, 1, "{kind:?}: one registration wins");
        assert_eq!(all_audit(&*store).await.len(), audit_before + 1, "{kind:?}");
        assert_eq!(backlog(&*store).await, backlog_before + 1, "{kind:?}");
    }
}
store_case!(concurrent_registrations_of_one_identity_have_one_winner);

pub async fn users_are_found_by_id_email_and_username(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await;
    let bob = create(&*store, "bob").await;
    for u in [&alice, &bob] {
        assert_eq!(store.user_by_id(u.id).await.unwrap().as_ref(), Some(u));
        assert_eq!(
            store.user_by_email(&u.email).await.unwrap().as_ref(),
            Some(u)
        );
        assert_eq!(
            store.user_by_username(&u.username).await.unwrap().as_ref(),
            Some(u)
        );
    }
    assert_eq!(store.user_by_id(Uuid::now_v7()).await.unwrap(), None);
    assert_eq!(
        store.user_by_email("carol@example.com").await.unwrap(),
        None
    );
    assert_eq!(store.user_by_username("carol").await.unwrap(), None);
    // Email and username are separate keys.
    assert_eq!(store.user_by_email("alice").await.unwrap(), None);
    assert_eq!(
        store.user_by_username("alice@example.com").await.unwrap(),
        None
    );
}
store_case!(users_are_found_by_id_email_and_username);

pub async fn issuing_a_token_supersedes_older_ones_of_the_same_purpose_only(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let day = Duration::days(1);
    use TokenPurpose::{EmailVerification as Verify, PasswordReset as Reset};

    let sent = audit_event("VERIFICATION_SENT", Some(alice), Some(alice), t0());
    store
        .issue_one_time_token(
            one_time_token(alice, "verify-1", Verify, t0(), t0() + day),
            Effects::audit(sent.clone()).with_mail(outbox_message(
                "alice@example.com",
                "verify_email",
                t0(),
            )),
        )
        .await
        .unwrap();
    assert_eq!(
        store.audit_events(Some(alice), 10).await.unwrap(),
        vec![sent]
    );
    assert_eq!(
        backlog(store).await,
        1,
        "the token's mail is enqueued with it"
    );
    issue(
        store,
        one_time_token(alice, "reset-1", Reset, t0(), t0() + Duration::hours(1)),
    )
    .await;
    issue(
        store,
        one_time_token(bob, "verify-bob", Verify, t0(), t0() + day),
    )
    .await;
    assert_eq!(
        store
            .one_time_token(&digest("verify-1"), Verify)
            .await
            .unwrap(),
        Some(OneTimeTokenRecord {
            user_id: alice,
            expires_at: t0() + day,
            used_at: None,
        })
    );

    // A newer verification token supersedes the older one, and only that one.
    issue(
        store,
        one_time_token(alice, "verify-2", Verify, mins(1), mins(1) + day),
    )
    .await;
    assert_eq!(
        store
            .one_time_token(&digest("verify-1"), Verify)
            .await
            .unwrap(),
        Some(OneTimeTokenRecord {
            user_id: alice,
            expires_at: t0() + day,
            used_at: Some(mins(1)),
        }),
        "superseded at the new token's issue time"
    );
    assert_eq!(
        store
            .one_time_token(&digest("verify-2"), Verify)
            .await
            .unwrap(),
        Some(OneTimeTokenRecord {
            user_id: alice,
            expires_at: mins(1) + day,
            used_at: None,
        })
    );
    assert_eq!(
        store
            .one_time_token(&digest("reset-1"), Reset)
            .await
            .unwrap()
            .map(|t| t.used_at),
        Some(None),
        "a token of another purpose is kept"
    );
    assert_eq!(
        store
            .one_time_token(&digest("verify-bob"), Verify)
            .await
            .unwrap()
            .map(|t| (t.user_id, t.used_at)),
        Some((bob, None)),
        "another user's token is kept"
    );

    // Lookup is by purpose.
    assert_eq!(
        store
            .one_time_token(&digest("verify-2"), Reset)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .one_time_token(&digest("reset-1"), Verify)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .one_time_token(&digest("never-issued"), Verify)
            .await
            .unwrap(),
        None
    );

    let superseded = store
        .verify_email(&digest("verify-1"), mins(2), Effects::none())
        .await;
    assert!(
        matches!(superseded, Err(Error::InvalidOneTimeToken)),
        "a superseded token is refused, got {superseded:?}"
    );
    let verified = store
        .verify_email(&digest("verify-2"), mins(2), Effects::none())
        .await
        .unwrap();
    assert_eq!(verified.id, alice);
    assert!(verified.email_verified);
    assert!(!user(store, bob).await.email_verified);
}
store_case!(issuing_a_token_supersedes_older_ones_of_the_same_purpose_only);

pub async fn verify_email_uses_a_token_once(store: Arc<dyn Store>) {
    let store = &*store;
    let new = new_user("ada");
    let id = new.id;
    let new = NewUser {
        verification: Some(one_time_token(
            id,
            "verify-ada",
            TokenPurpose::EmailVerification,
            t0(),
            t0() + Duration::days(1),
        )),
        ..new
    };
    store.create_user(new, Effects::none()).await.unwrap();
    let now = t0() + Duration::hours(1);
    let verified = store
        .verify_email(
            &digest("verify-ada"),
            now,
            Effects::audit(audit_event("EMAIL_VERIFIED", Some(id), Some(id), now)),
        )
        .await
        .unwrap();
    assert_eq!(verified.id, id);
    assert!(verified.email_verified);
    assert_eq!(verified.updated_at, now);
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(verified.clone()));
    assert_eq!(
        store
            .one_time_token(&digest("verify-ada"), TokenPurpose::EmailVerification)
            .await
            .unwrap()
            .map(|t| t.used_at),
        Some(Some(now))
    );
    assert_eq!(audit_count(store, "EMAIL_VERIFIED").await, 1);

    let later = now + Duration::minutes(1);
    let again = store
        .verify_email(
            &digest("verify-ada"),
            later,
            Effects::audit(audit_event("EMAIL_VERIFIED", Some(id), Some(id), later)),
        )
        .await;
    assert!(
        matches!(again, Err(Error::InvalidOneTimeToken)),
        "second use: {again:?}"
    );
    assert_eq!(
        audit_count(store, "EMAIL_VERIFIED").await,
        1,
        "a refused use writes no effects"
    );
    assert_eq!(user(store, id).await.updated_at, now);
    let unknown = store
        .verify_email(&digest("never-issued"), later, Effects::none())
        .await;
    assert!(
        matches!(unknown, Err(Error::InvalidOneTimeToken)),
        "{unknown:?}"
    );
}
store_case!(verify_email_uses_a_token_once);

pub async fn expired_and_wrong_purpose_tokens_are_refused(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let hour = Duration::hours(1);
    use TokenPurpose::{EmailVerification as Verify, PasswordReset as Reset};

    // Expired verification token.
    issue(
        store,
        one_time_token(alice, "verify-short", Verify, t0(), t0() + hour),
    )
    .await;
    let expired = store
        .verify_email(
            &digest("verify-short"),
            t0() + hour + Duration::seconds(1),
            Effects::audit(audit_event("EMAIL_VERIFIED", None, Some(alice), t0())),
        )
        .await;
    assert!(
        matches!(expired, Err(Error::InvalidOneTimeToken)),
        "{expired:?}"
    );
    assert!(!user(store, alice).await.email_verified);
    assert_eq!(
        store
            .one_time_token(&digest("verify-short"), Verify)
            .await
            .unwrap()
            .map(|t| t.used_at),
        Some(None),
        "a refused token is not spent"
    );
    assert_eq!(audit_count(store, "EMAIL_VERIFIED").await, 0);

    // A reset token does not verify an email, and a verification token does not reset.
    issue(
        store,
        one_time_token(alice, "reset-1", Reset, t0(), t0() + hour),
    )
    .await;
    let wrong = store
        .verify_email(&digest("reset-1"), mins(1), Effects::none())
        .await;
    assert!(
        matches!(wrong, Err(Error::InvalidOneTimeToken)),
        "{wrong:?}"
    );
    assert!(!user(store, alice).await.email_verified);
    issue(
        store,
        one_time_token(
            alice,
            "verify-long",
            Verify,
            mins(2),
            mins(2) + Duration::days(1),
        ),
    )
    .await;
    let wrong = store
        .reset_password(
            &digest("verify-long"),
            password(hash("alice-x"), mins(3), None),
            Effects::none(),
        )
        .await;
    assert!(
        matches!(wrong, Err(Error::InvalidOneTimeToken)),
        "{wrong:?}"
    );
    assert_eq!(user(store, alice).await.password_hash, hash("alice-0"));

    // The refused attempts spent neither token.
    let reset = store
        .reset_password(
            &digest("reset-1"),
            password(hash("alice-1"), mins(5), None),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(reset.password_hash, hash("alice-1"));
    assert!(
        store
            .verify_email(&digest("verify-long"), mins(6), Effects::none())
            .await
            .unwrap()
            .email_verified
    );

    // Expired reset token.
    issue(
        store,
        one_time_token(alice, "reset-2", Reset, mins(10), mins(20)),
    )
    .await;
    let expired = store
        .reset_password(
            &digest("reset-2"),
            password(hash("alice-2"), mins(21), None),
            Effects::none(),
        )
        .await;
    assert!(
        matches!(expired, Err(Error::InvalidOneTimeToken)),
        "{expired:?}"
    );
    assert_eq!(user(store, alice).await.password_hash, hash("alice-1"));
    assert_eq!(
        store.password_history(alice, 10).await.unwrap(),
        vec![hash("alice-1"), hash("alice-0")]
    );
}
store_case!(expired_and_wrong_purpose_tokens_are_refused);
