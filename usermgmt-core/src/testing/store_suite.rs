//! The store conformance suite. Every [`Store`] implementation (memory, SQLite, PostgreSQL) runs
//! every case with [`store_conformance_tests!`], so all of them are held to the one contract
//! documented on the trait, checked the same way.
//!
//! Each case receives a fresh, empty store. Times are fixed (never the system clock) and carry
//! whole microseconds only, the precision SQL stores keep, so round-tripped times compare equal.
//!
//! [`store_conformance_tests!`]: crate::store_conformance_tests

pub use super::store_admin_cases::*;
pub use super::store_avatar_cases::*;
use crate::domain::DeviceInfo;
use crate::error::{ConflictKind, Error};
use crate::secret::TokenDigest;
use crate::store::{
    ADMIN_ROLE, AccountChange, AuditEvent, CheckTurn, DEFAULT_ROLE, Effects, LockoutRule,
    LoginFailure, NewOneTimeToken, NewSession, NewUser, NotificationRecord, OneTimeTokenRecord,
    OutboxMessage, PasswordChange, ProfileRecord, ProfileUpdate, RefreshRotation, SessionRecord,
    Store, Timestamp, TokenPurpose, UserRecord,
};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use time::macros::datetime;
use time::{Date, Duration, Month};
use tokio::sync::Barrier;
use uuid::Uuid;

// --- fixtures ------------------------------------------------------------------------------

/// The fixed instant every case starts from (whole microseconds, like the SQL stores keep).
pub fn t0() -> Timestamp {
    datetime!(2024-03-01 12:00:00.123456 UTC)
}

/// `t0()` plus whole seconds.
pub fn secs(n: i64) -> Timestamp {
    t0() + Duration::seconds(n)
}

/// `t0()` plus whole minutes.
pub fn mins(n: i64) -> Timestamp {
    t0() + Duration::minutes(n)
}

/// A PHC-looking hash, distinct per label (stores never verify it).
pub fn hash(label: &str) -> String {
    format!("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0${label}")
}

/// A user named `name` (`name@example.com`, role `user`, password `hash("{name}-0")`),
/// created at `t0()`, unverified, without a verification token.
pub fn new_user(name: &str) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        email: format!("{name}@example.com"),
        username: name.to_owned(),
        password_hash: hash(&format!("{name}-0")),
        first_name: None,
        last_name: None,
        email_verified: false,
        roles: vec![DEFAULT_ROLE.to_owned()],
        created_at: t0(),
        verification: None,
    }
}

/// An audit row about `user`, done by `actor`.
pub fn audit_event(
    action: &str,
    actor: Option<Uuid>,
    user: Option<Uuid>,
    created_at: Timestamp,
) -> AuditEvent {
    AuditEvent {
        id: Uuid::now_v7(),
        action: action.to_owned(),
        actor_id: actor,
        user_id: user,
        resource: "user".to_owned(),
        resource_id: user.map(|u| u.to_string()),
        ip_address: Some("203.0.113.7".to_owned()),
        user_agent: Some("conformance-suite/1.0".to_owned()),
        details: json!({"reason": "test", "count": 2, "nested": {"ok": true}}),
        created_at,
    }
}

/// A payload with every byte value (not valid UTF-8), distinct per message.
fn sample_payload(salt: u8) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..=255u8).collect();
    bytes.extend([0, 0, salt, 0xC3, 0x28, 0xFF]);
    bytes
}

/// An outgoing mail due at `due`, never attempted.
pub fn outbox_message(recipient: &str, kind: &str, due: Timestamp) -> OutboxMessage {
    OutboxMessage {
        id: Uuid::now_v7(),
        recipient: recipient.to_owned(),
        kind: kind.to_owned(),
        sealed_payload: sample_payload(kind.len() as u8),
        attempts: 0,
        next_attempt_at: due,
        created_at: due,
    }
}

fn firefox() -> DeviceInfo {
    DeviceInfo {
        browser: "Firefox".to_owned(),
        browser_version: Some("120.0".to_owned()),
        os: "Linux".to_owned(),
        device_type: "pc".to_owned(),
    }
}

/// A session whose first refresh token is `refresh`.
pub fn new_session(
    user_id: Uuid,
    refresh: &str,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> NewSession {
    NewSession {
        id: Uuid::now_v7(),
        user_id,
        device_info: firefox(),
        ip_address: Some("198.51.100.4".to_owned()),
        user_agent: Some(
            "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0".to_owned(),
        ),
        created_at,
        expires_at,
        refresh_digest: TokenDigest::of(refresh),
    }
}

/// A one-time token whose text is `token`.
pub fn one_time_token(
    user_id: Uuid,
    token: &str,
    purpose: TokenPurpose,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> NewOneTimeToken {
    NewOneTimeToken {
        digest: TokenDigest::of(token),
        user_id,
        purpose,
        created_at,
        expires_at,
    }
}

fn digest(token: &str) -> TokenDigest {
    TokenDigest::of(token)
}

fn password(new_hash: String, now: Timestamp, keep_session: Option<Uuid>) -> PasswordChange {
    PasswordChange {
        new_hash,
        now,
        history_limit: 5,
        keep_session,
    }
}

fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn ids(sessions: &[SessionRecord]) -> Vec<Uuid> {
    sessions.iter().map(|s| s.id).collect()
}

async fn create(store: &dyn Store, name: &str) -> UserRecord {
    store
        .create_user(new_user(name), Effects::none())
        .await
        .unwrap()
}

async fn user(store: &dyn Store, id: Uuid) -> UserRecord {
    store.user_by_id(id).await.unwrap().expect("user exists")
}

async fn session(store: &dyn Store, id: Uuid) -> SessionRecord {
    store
        .session_with_user(id)
        .await
        .unwrap()
        .expect("session exists")
        .0
}

async fn open_session(
    store: &dyn Store,
    user_id: Uuid,
    refresh: &str,
    created_at: Timestamp,
    expires_at: Timestamp,
) -> Uuid {
    let s = new_session(user_id, refresh, created_at, expires_at);
    let id = s.id;
    store.start_session(s, None, Effects::none()).await.unwrap();
    id
}

async fn issue(store: &dyn Store, token: NewOneTimeToken) {
    store
        .issue_one_time_token(token, Effects::none())
        .await
        .unwrap();
}

/// Writes `effects` through an empty profile update of `user_id` (a change that is otherwise
/// a no-op), for cases about audit rows and the outbox.
async fn write_effects(store: &dyn Store, user_id: Uuid, now: Timestamp, effects: Effects) {
    store
        .update_profile(user_id, ProfileUpdate::default(), now, effects)
        .await
        .unwrap();
}

async fn all_audit(store: &dyn Store) -> Vec<AuditEvent> {
    store.audit_events(None, 10_000).await.unwrap()
}

async fn audit_count(store: &dyn Store, action: &str) -> usize {
    all_audit(store)
        .await
        .iter()
        .filter(|e| e.action == action)
        .count()
}

async fn backlog(store: &dyn Store) -> u64 {
    store.mail_backlog().await.unwrap()
}

/// One credential check that failed: its turn, then the failure (`None` when refused).
pub(crate) async fn failed_check(
    store: &dyn Store,
    user_id: Uuid,
    now: Timestamp,
    max_failures: u32,
    lock_for: Duration,
) -> Option<LoginFailure> {
    let rule = LockoutRule {
        max_failures,
        lock_for,
    };
    match store
        .take_check_turn(user_id, now, rule, Effects::none())
        .await
        .unwrap()
    {
        CheckTurn::Granted { slot } => Some(
            store
                .record_check_failure(user_id, slot, now, rule, Effects::none(), Effects::none())
                .await
                .unwrap(),
        ),
        CheckTurn::Refused { .. } => None,
    }
}

async fn lock_user(store: &dyn Store, user_id: Uuid, from: Timestamp, lock_for: Duration) {
    for i in 0..3 {
        failed_check(store, user_id, from + Duration::seconds(i), 3, lock_for).await;
    }
    assert!(
        user(store, user_id).await.locked_until.is_some(),
        "three failures with max 3 lock the account"
    );
}

// --- basics --------------------------------------------------------------------------------

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

// --- users ---------------------------------------------------------------------------------

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

pub async fn duplicate_username_is_a_conflict_and_writes_nothing(store: Arc<dyn Store>) {
    let existing = create(&*store, "alice").await;
    let dup = NewUser {
        email: "someone.else@example.com".to_owned(),
        ..new_user("alice")
    };
    assert_conflict_writes_nothing(&*store, &existing, dup, ConflictKind::Username).await;
}

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

// --- one-time tokens -----------------------------------------------------------------------

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

pub async fn reset_password_sets_the_password_ends_sessions_and_clears_the_lockout(
    store: Arc<dyn Store>,
) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let week = Duration::days(7);
    let s1 = open_session(store, alice, "r-1", t0(), t0() + week).await;
    let s2 = open_session(store, alice, "r-2", secs(1), t0() + week).await;
    let sb = open_session(store, bob, "r-bob", t0(), t0() + week).await;
    lock_user(store, alice, mins(1), Duration::hours(1)).await;
    issue(
        store,
        one_time_token(
            alice,
            "reset-1",
            TokenPurpose::PasswordReset,
            mins(2),
            mins(62),
        ),
    )
    .await;

    let now = mins(5);
    let effects = Effects::audit(audit_event("PASSWORD_RESET", None, Some(alice), now))
        .with_mail(outbox_message("alice@example.com", "password_changed", now));
    let updated = store
        .reset_password(
            &digest("reset-1"),
            password(hash("alice-1"), now, None),
            effects,
        )
        .await
        .unwrap();
    assert_eq!(updated.id, alice);
    assert_eq!(updated.password_hash, hash("alice-1"));
    assert_eq!(updated.failed_login_attempts, 0, "lockout cleared");
    assert_eq!(updated.locked_until, None, "lockout cleared");
    assert_eq!(updated.updated_at, now);
    assert_eq!(store.user_by_id(alice).await.unwrap(), Some(updated));
    assert_eq!(
        store.password_history(alice, 5).await.unwrap(),
        vec![hash("alice-1"), hash("alice-0")]
    );
    assert!(
        store.list_sessions(alice, now).await.unwrap().is_empty(),
        "every session ends"
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert_eq!(session(store, s2).await.revoked_at, Some(now));
    assert_eq!(
        ids(&store.list_sessions(bob, now).await.unwrap()),
        vec![sb],
        "other users keep their sessions"
    );
    assert_eq!(
        store
            .one_time_token(&digest("reset-1"), TokenPurpose::PasswordReset)
            .await
            .unwrap()
            .map(|t| t.used_at),
        Some(Some(now))
    );
    assert_eq!(audit_count(store, "PASSWORD_RESET").await, 1);
    assert_eq!(backlog(store).await, 1);

    let later = now + Duration::minutes(1);
    let again = store
        .reset_password(
            &digest("reset-1"),
            password(hash("alice-2"), later, None),
            Effects::audit(audit_event("PASSWORD_RESET", None, Some(alice), later)).with_mail(
                outbox_message("alice@example.com", "password_changed", later),
            ),
        )
        .await;
    assert!(
        matches!(again, Err(Error::InvalidOneTimeToken)),
        "single use: {again:?}"
    );
    assert_eq!(user(store, alice).await.password_hash, hash("alice-1"));
    assert_eq!(store.password_history(alice, 5).await.unwrap().len(), 2);
    assert_eq!(audit_count(store, "PASSWORD_RESET").await, 1);
    assert_eq!(backlog(store).await, 1);
}

pub async fn concurrent_uses_of_a_reset_token_have_one_winner(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    const ROUNDS: i64 = 8;
    for round in 0..ROUNDS {
        let token = format!("reset-{round}");
        issue(
            &*store,
            one_time_token(
                alice,
                &token,
                TokenPurpose::PasswordReset,
                mins(round),
                mins(round + 60),
            ),
        )
        .await;
        let barrier = Arc::new(Barrier::new(2));
        let now = mins(round) + Duration::seconds(1);
        let tasks: Vec<_> = (0..2)
            .map(|contender| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let token = digest(&token);
                let new_hash = hash(&format!("alice-{round}-{contender}"));
                tokio::spawn(async move {
                    let change = PasswordChange {
                        new_hash: new_hash.clone(),
                        now,
                        history_limit: 100,
                        keep_session: None,
                    };
                    let effects =
                        Effects::audit(audit_event("PASSWORD_RESET", None, Some(alice), now));
                    barrier.wait().await;
                    (
                        new_hash,
                        store.reset_password(&token, change, effects).await,
                    )
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (new_hash, result) = task.await.unwrap();
            match result {
                Ok(u) => {
                    assert_eq!(u.password_hash, new_hash);
                    winners.push(new_hash);
                }
                Err(Error::InvalidOneTimeToken) => {}
                Err(other) => panic!("the loser must see InvalidOneTimeToken, got {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: exactly one use wins");
        assert_eq!(user(&*store, alice).await.password_hash, winners[0]);
        let history = store.password_history(alice, 100).await.unwrap();
        assert_eq!(history[0], winners[0]);
        assert_eq!(
            history.len() as i64,
            round + 2,
            "one history entry per winning reset"
        );
    }
    assert_eq!(
        audit_count(&*store, "PASSWORD_RESET").await,
        ROUNDS as usize,
        "only the winners' effects are written"
    );
}

// --- passwords -----------------------------------------------------------------------------

pub async fn password_history_is_newest_first_and_trimmed(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    for i in 1..=3 {
        let change = PasswordChange {
            new_hash: hash(&format!("alice-{i}")),
            now: mins(i),
            history_limit: 3,
            keep_session: None,
        };
        assert_eq!(
            store
                .change_password(alice, change, Effects::none())
                .await
                .unwrap(),
            0
        );
    }
    assert_eq!(
        store.password_history(alice, 10).await.unwrap(),
        vec![hash("alice-3"), hash("alice-2"), hash("alice-1")],
        "newest first, trimmed to the 3 kept (the current one included)"
    );
    assert_eq!(
        store.password_history(alice, 2).await.unwrap(),
        vec![hash("alice-3"), hash("alice-2")]
    );
    assert_eq!(
        store.password_history(alice, 1).await.unwrap(),
        vec![hash("alice-3")]
    );
    assert_eq!(user(store, alice).await.password_hash, hash("alice-3"));
    assert_eq!(user(store, alice).await.updated_at, mins(3));
    assert_eq!(
        store.password_history(bob, 10).await.unwrap(),
        vec![hash("bob-0")],
        "other users' history is untouched"
    );
    assert!(
        store
            .password_history(Uuid::now_v7(), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let change = PasswordChange {
        new_hash: hash("alice-4"),
        now: mins(4),
        history_limit: 5,
        keep_session: None,
    };
    store
        .change_password(alice, change, Effects::none())
        .await
        .unwrap();
    assert_eq!(
        store.password_history(alice, 10).await.unwrap(),
        vec![
            hash("alice-4"),
            hash("alice-3"),
            hash("alice-2"),
            hash("alice-1")
        ]
    );
}

pub async fn change_password_ends_every_other_session(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let week = Duration::days(7);
    let s1 = open_session(store, alice, "r-1", t0(), t0() + week).await;
    let s2 = open_session(store, alice, "r-2", secs(1), t0() + week).await;
    let s3 = open_session(store, alice, "r-3", secs(2), t0() + week).await;
    let revoked = open_session(store, alice, "r-4", secs(3), t0() + week).await;
    assert!(
        store
            .revoke_session(alice, revoked, secs(4), Effects::none())
            .await
            .unwrap()
    );
    let _expired = open_session(store, alice, "r-5", secs(5), mins(1)).await;
    let sb = open_session(store, bob, "r-bob", t0(), t0() + week).await;

    let now = mins(60);
    let ended = store
        .change_password(
            alice,
            password(hash("alice-1"), now, Some(s2)),
            Effects::audit(audit_event(
                "PASSWORD_CHANGED",
                Some(alice),
                Some(alice),
                now,
            )),
        )
        .await
        .unwrap();
    assert_eq!(
        ended, 2,
        "the two other active sessions end (not the kept, revoked or expired ones)"
    );
    let u = user(store, alice).await;
    assert_eq!(u.password_hash, hash("alice-1"));
    assert_eq!(u.updated_at, now);
    assert_eq!(
        ids(&store.list_sessions(alice, now).await.unwrap()),
        vec![s2]
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert_eq!(session(store, s3).await.revoked_at, Some(now));
    assert_eq!(session(store, s2).await.revoked_at, None);
    assert_eq!(
        session(store, revoked).await.revoked_at,
        Some(secs(4)),
        "an ended session keeps its end time"
    );
    assert_eq!(ids(&store.list_sessions(bob, now).await.unwrap()), vec![sb]);
    assert_eq!(audit_count(store, "PASSWORD_CHANGED").await, 1);

    let later = now + Duration::minutes(1);
    let ended = store
        .change_password(
            alice,
            password(hash("alice-2"), later, None),
            Effects::none(),
        )
        .await
        .unwrap();
    assert_eq!(ended, 1, "without keep_session the last one ends too");
    assert!(store.list_sessions(alice, later).await.unwrap().is_empty());
    assert_eq!(
        store.password_history(alice, 10).await.unwrap(),
        vec![hash("alice-2"), hash("alice-1"), hash("alice-0")]
    );
}

// --- login ---------------------------------------------------------------------------------

pub async fn login_failures_are_counted_and_lock_the_account(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let rule = LockoutRule {
        max_failures: 3,
        lock_for: Duration::minutes(15),
    };
    let lock_for = rule.lock_for;
    let turn = |now: Timestamp| async move {
        store
            .take_check_turn(
                alice,
                now,
                rule,
                Effects::audit(audit_event("LOGIN_REFUSED", None, Some(alice), now)),
            )
            .await
            .unwrap()
    };
    let fail = |slot: u32, now: Timestamp| async move {
        store
            .record_check_failure(
                alice,
                slot,
                now,
                rule,
                Effects::audit(audit_event("LOGIN_FAILED", None, Some(alice), now)),
                Effects::audit(audit_event("ACCOUNT_LOCKED", None, Some(alice), now))
                    .with_mail(outbox_message("alice@example.com", "account_locked", now)),
            )
            .await
            .unwrap()
    };

    // Each check is counted when it takes its turn, before it runs.
    for i in 1..=2u32 {
        let now = secs(i64::from(i));
        assert_eq!(turn(now).await, CheckTurn::Granted { slot: i });
        assert_eq!(user(store, alice).await.failed_login_attempts, i);
        assert_eq!(
            fail(i, now).await,
            LoginFailure {
                attempts: i,
                locked_until: None,
                newly_locked: false,
            }
        );
    }
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (2, None));
    assert_eq!(audit_count(store, "LOGIN_FAILED").await, 2);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 0);
    assert_eq!(backlog(store).await, 0);

    // The last turn locks at once, while its check still runs.
    let until = secs(3) + lock_for;
    assert_eq!(turn(secs(3)).await, CheckTurn::Granted { slot: 3 });
    assert_eq!(user(store, alice).await.locked_until, Some(until));
    assert_eq!(turn(secs(4)).await, CheckTurn::Refused { until });
    assert_eq!(audit_count(store, "LOGIN_REFUSED").await, 1);
    assert_eq!(
        fail(3, secs(3)).await,
        LoginFailure {
            attempts: 3,
            locked_until: Some(until),
            newly_locked: true,
        }
    );
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (3, Some(until)));
    assert_eq!(audit_count(store, "LOGIN_FAILED").await, 3);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 1);
    assert_eq!(backlog(store).await, 1, "the lock mail is enqueued");

    // During the lock: refused (audited), not counted, the lock does not move.
    assert_eq!(turn(mins(5)).await, CheckTurn::Refused { until });
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (3, Some(until)));
    assert_eq!(audit_count(store, "LOGIN_REFUSED").await, 2);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 1);

    // After the lock: the counter starts again.
    let after = until + Duration::seconds(1);
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 1 });
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (1, None));
    fail(1, after).await;

    // A passed check gives its turn back; the last turn released ends the lock it started.
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 2 });
    store.release_check_turn(alice, 2, rule).await.unwrap();
    assert_eq!(user(store, alice).await.failed_login_attempts, 1);
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 2 });
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 3 });
    assert!(user(store, alice).await.locked_until.is_some());
    store.release_check_turn(alice, 3, rule).await.unwrap();
    let u = user(store, alice).await;
    assert_eq!((u.failed_login_attempts, u.locked_until), (2, None));
    // A failure of the last turn after a success ended its lock announces no lock.
    assert_eq!(turn(after).await, CheckTurn::Granted { slot: 3 });
    store.release_check_turn(alice, 3, rule).await.unwrap();
    assert!(!fail(3, after).await.newly_locked);
    assert_eq!(audit_count(store, "ACCOUNT_LOCKED").await, 1);
    // A window lasts as long as a lock: its failures are forgotten once it is that old.
    let later = after + lock_for;
    let u = user(store, alice).await;
    assert_eq!(u.failed_login_attempts, 2);
    assert_eq!(turn(later).await, CheckTurn::Granted { slot: 1 });
    assert_eq!(turn(later).await, CheckTurn::Granted { slot: 2 });
    // Within the window, a right answer gives back its own turn and nothing more.
    store.release_check_turn(alice, 2, rule).await.unwrap();
    assert_eq!(user(store, alice).await.failed_login_attempts, 1);
    assert_eq!(
        user(store, bob).await.failed_login_attempts,
        0,
        "other users are not counted"
    );
}

pub async fn concurrent_check_turns_never_exceed_the_limit(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    let rule = LockoutRule {
        max_failures: 5,
        lock_for: Duration::minutes(15),
    };
    let now = secs(10);
    let turns = futures_util::future::join_all((0..30).map(|i| {
        let store = store.clone();
        async move {
            store
                .take_check_turn(
                    alice,
                    now,
                    rule,
                    Effects::audit(audit_event("LOGIN_REFUSED", None, Some(alice), now)),
                )
                .await
                .map_err(|e| format!("turn {i}: {e}"))
        }
    }))
    .await;
    let mut granted: Vec<u32> = turns
        .iter()
        .filter_map(|t| match t.as_ref().unwrap() {
            CheckTurn::Granted { slot } => Some(*slot),
            CheckTurn::Refused { .. } => None,
        })
        .collect();
    granted.sort_unstable();
    assert_eq!(granted, vec![1, 2, 3, 4, 5], "exactly five checks may run");
    assert_eq!(audit_count(&*store, "LOGIN_REFUSED").await, 25);
    let u = user(&*store, alice).await;
    assert_eq!(u.failed_login_attempts, 5);
    assert_eq!(u.locked_until, Some(now + rule.lock_for));
}

pub async fn concurrent_challenge_attempts_are_bounded(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    let digest = TokenDigest::of("challenge-a");
    store
        .issue_one_time_token(
            NewOneTimeToken {
                digest: digest.clone(),
                user_id: alice,
                purpose: TokenPurpose::LoginChallenge,
                created_at: secs(0),
                expires_at: mins(5),
            },
            Effects::none(),
        )
        .await
        .unwrap();
    let claims = futures_util::future::join_all((0..20).map(|_| {
        let store = store.clone();
        let digest = digest.clone();
        async move {
            store
                .claim_challenge_attempt(&digest, TokenPurpose::LoginChallenge, secs(1), 5)
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(claims.iter().filter(|c| **c == Some(alice)).count(), 5);
    assert_eq!(claims.iter().filter(|c| c.is_none()).count(), 15);
    // Another purpose, an expired or a used challenge has no attempt to give.
    assert_eq!(
        store
            .claim_challenge_attempt(&digest, TokenPurpose::RecoveryChallenge, secs(1), 50)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .claim_challenge_attempt(&digest, TokenPurpose::LoginChallenge, mins(6), 50)
            .await
            .unwrap(),
        None
    );
    store
        .use_one_time_token(&digest, TokenPurpose::LoginChallenge, secs(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .claim_challenge_attempt(&digest, TokenPurpose::LoginChallenge, secs(3), 50)
            .await
            .unwrap(),
        None
    );
}

/// A password change, a reset and every account change that ends access also end the
/// user's outstanding reset links and login challenges (and nobody else's).
pub async fn password_and_account_changes_end_reset_links(store: Arc<dyn Store>) {
    let store = &*store;
    let issue = |user_id: Uuid, token: &'static str, purpose: TokenPurpose, at: Timestamp| async move {
        store
            .issue_one_time_token(
                one_time_token(user_id, token, purpose, at, at + Duration::hours(1)),
                Effects::none(),
            )
            .await
            .unwrap();
    };
    let open = |token: &'static str, purpose: TokenPurpose| async move {
        store
            .one_time_token(&digest(token), purpose)
            .await
            .unwrap()
            .is_some_and(|t| t.used_at.is_none())
    };
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    issue(alice, "reset-a", TokenPurpose::PasswordReset, secs(1)).await;
    issue(alice, "challenge-a", TokenPurpose::LoginChallenge, secs(1)).await;
    issue(alice, "verify-a", TokenPurpose::EmailVerification, secs(1)).await;
    issue(bob, "reset-b", TokenPurpose::PasswordReset, secs(1)).await;
    store
        .change_password(
            alice,
            password(hash("alice-2"), secs(2), None),
            Effects::none(),
        )
        .await
        .unwrap();
    assert!(!open("reset-a", TokenPurpose::PasswordReset).await);
    assert!(!open("challenge-a", TokenPurpose::LoginChallenge).await);
    assert!(
        open("verify-a", TokenPurpose::EmailVerification).await,
        "not a password token"
    );
    assert!(
        open("reset-b", TokenPurpose::PasswordReset).await,
        "other users keep theirs"
    );

    for (i, change) in [
        AccountChange::Deactivate,
        AccountChange::Suspend,
        AccountChange::SoftDelete,
    ]
    .into_iter()
    .enumerate()
    {
        let name = ["carol", "dave", "erin"][i];
        let token: &'static str = ["reset-c", "reset-d", "reset-e"][i];
        let id = create(store, name).await.id;
        issue(id, token, TokenPurpose::PasswordReset, secs(3)).await;
        store
            .change_account(id, change, secs(4), Effects::none())
            .await
            .unwrap()
            .expect("applies");
        assert!(
            !open(token, TokenPurpose::PasswordReset).await,
            "{change:?}"
        );
    }
    // A reset with one link ends the others (none can be outstanding, but none may survive).
    issue(bob, "reset-b2", TokenPurpose::PasswordReset, secs(5)).await;
    assert!(
        !open("reset-b", TokenPurpose::PasswordReset).await,
        "superseded"
    );
    store
        .reset_password(
            &digest("reset-b2"),
            password(hash("bob-2"), secs(6), None),
            Effects::none(),
        )
        .await
        .unwrap();
    assert!(!open("reset-b2", TokenPurpose::PasswordReset).await);
}

/// Delivered mail to an address no account holds any longer leaves no row; finished mail
/// older than the retention is deleted, pending mail never.
pub async fn outbox_rows_go_with_the_address_and_the_retention(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await;
    let bob = create(store, "bob").await;
    let to_alice = outbox_message(&alice.email, "welcome", secs(1));
    let farewell = outbox_message(&alice.email, "account_removed", secs(2));
    let parked = outbox_message(&alice.email, "notice", secs(2));
    let to_bob = outbox_message(&bob.email, "welcome", secs(1));
    let bob_pending = outbox_message(&bob.email, "later", secs(1));
    for m in [&to_alice, &to_bob, &bob_pending] {
        write_effects(store, bob.id, secs(1), Effects::none().with_mail(m.clone())).await;
    }
    store.mark_mail_sent(to_alice.id, secs(3)).await.unwrap();
    assert_eq!(
        store.mail_rows_to(&alice.email).await.unwrap(),
        1,
        "kept while alice exists"
    );
    store
        .delete_user_permanently(
            alice.id,
            None,
            Effects::none()
                .with_mail(farewell.clone())
                .with_mail(parked.clone()),
        )
        .await
        .unwrap();
    // The purge took the finished row; the last notices wait to be sent.
    assert_eq!(store.mail_rows_to(&alice.email).await.unwrap(), 2);
    store.mark_mail_sent(farewell.id, secs(4)).await.unwrap();
    store
        .mark_mail_failed(parked.id, "rejected", None, secs(4))
        .await
        .unwrap();
    assert_eq!(
        store.mail_rows_to(&alice.email).await.unwrap(),
        0,
        "the purged address is gone once its last mail is finished"
    );

    store.mark_mail_sent(to_bob.id, secs(5)).await.unwrap();
    assert_eq!(store.mail_rows_to(&bob.email).await.unwrap(), 2);
    assert_eq!(
        store.delete_finished_mail(secs(5), 100).await.unwrap(),
        0,
        "not older yet"
    );
    assert_eq!(store.delete_finished_mail(secs(6), 100).await.unwrap(), 1);
    assert_eq!(
        store.mail_rows_to(&bob.email).await.unwrap(),
        1,
        "pending mail is never removed"
    );
    assert_eq!(store.delete_finished_mail(mins(600), 100).await.unwrap(), 0);
    assert_eq!(backlog(store).await, 1);
}

pub async fn start_session_applies_rehash_and_leaves_the_lockout_count(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    for i in 1..=2 {
        failed_check(store, alice, secs(i), 5, Duration::minutes(15)).await;
    }
    assert_eq!(user(store, alice).await.failed_login_attempts, 2);

    let now = mins(1);
    let new = new_session(alice, "r-1", now, now + Duration::days(7));
    let s1 = new.id;
    store
        .start_session(
            new,
            Some(hash("alice-rehashed")),
            Effects::audit(audit_event("USER_LOGIN", Some(alice), Some(alice), now)),
        )
        .await
        .unwrap();
    let u = user(store, alice).await;
    assert_eq!(
        u.failed_login_attempts, 2,
        "the login's own turn was given back by the caller; the window's failures stay"
    );
    assert_eq!(u.locked_until, None);
    assert_eq!(u.last_login_at, Some(now));
    assert_eq!(u.password_hash, hash("alice-rehashed"));
    let (s, su) = store.session_with_user(s1).await.unwrap().unwrap();
    assert_eq!(
        s,
        SessionRecord {
            id: s1,
            user_id: alice,
            device_info: firefox(),
            ip_address: Some("198.51.100.4".to_owned()),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0".to_owned()
            ),
            created_at: now,
            last_activity_at: now,
            expires_at: now + Duration::days(7),
            revoked_at: None,
        }
    );
    assert_eq!(su, u);
    // The same read with the user's profile (the empty one made with the user).
    let with_profile = store.session_with_user_and_profile(s1).await.unwrap();
    let profile = store.profile(alice).await.unwrap().unwrap_or_default();
    assert_eq!(with_profile, Some((s, su, profile)));
    assert_eq!(
        store
            .session_with_user_and_profile(Uuid::now_v7())
            .await
            .unwrap(),
        None
    );
    assert_eq!(audit_count(store, "USER_LOGIN").await, 1);

    // A login leaves a lock as it is (only the turn that set it ends it, by giving itself
    // back); without rehash the hash is kept.
    lock_user(store, alice, mins(2), Duration::days(1)).await;
    let later = mins(60);
    let bare_device = DeviceInfo {
        browser: "UNKNOWN".to_owned(),
        browser_version: None,
        os: "UNKNOWN".to_owned(),
        device_type: "UNKNOWN".to_owned(),
    };
    let new = NewSession {
        device_info: bare_device.clone(),
        ip_address: None,
        user_agent: None,
        ..new_session(alice, "r-2", later, later + Duration::days(7))
    };
    let s2 = new.id;
    store
        .start_session(new, None, Effects::none())
        .await
        .unwrap();
    let u = user(store, alice).await;
    assert_eq!(u.failed_login_attempts, 3);
    assert_eq!(u.locked_until, Some(mins(2) + Duration::days(1)));
    assert_eq!(u.last_login_at, Some(later));
    assert_eq!(u.password_hash, hash("alice-rehashed"));
    let s = session(store, s2).await;
    assert_eq!(s.device_info, bare_device);
    assert_eq!((s.ip_address, s.user_agent), (None, None));
    assert_eq!(
        ids(&store.list_sessions(alice, later).await.unwrap()),
        vec![s2, s1]
    );
}

// --- sessions ------------------------------------------------------------------------------

pub async fn sessions_are_listed_touched_and_revoked(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let bob = create(store, "bob").await.id;
    let week = Duration::days(7);
    let s1 = open_session(store, alice, "r-1", t0(), t0() + week).await;
    let s2 = open_session(store, alice, "r-2", mins(1), t0() + week).await;
    let s3 = open_session(store, alice, "r-3", mins(2), t0() + week).await;
    let short = open_session(store, alice, "r-4", mins(3), mins(4)).await;
    let sb = open_session(store, bob, "r-bob", secs(30), t0() + week).await;

    let now = mins(10);
    assert_eq!(
        ids(&store.list_sessions(alice, now).await.unwrap()),
        vec![s3, s2, s1],
        "active only, newest first"
    );
    assert_eq!(
        ids(&store
            .list_sessions(alice, mins(3) + Duration::seconds(30))
            .await
            .unwrap()),
        vec![short, s3, s2, s1],
        "active before its expiry"
    );
    let bobs = store.list_sessions(bob, now).await.unwrap();
    assert_eq!(bobs, vec![session(store, sb).await]);
    assert!(
        store
            .list_sessions(Uuid::now_v7(), now)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.session_with_user(Uuid::now_v7()).await.unwrap(), None);
    let (_, owner) = store.session_with_user(sb).await.unwrap().unwrap();
    assert_eq!(owner, user(store, bob).await);

    // touch
    let before = session(store, s1).await;
    store.touch_session(s1, now).await.unwrap();
    assert_eq!(
        session(store, s1).await,
        SessionRecord {
            last_activity_at: now,
            ..before
        }
    );
    store.touch_session(Uuid::now_v7(), now).await.unwrap();

    // revoke one
    let revoke_effects = || {
        Effects::audit(audit_event(
            "SESSION_REVOKED",
            Some(alice),
            Some(alice),
            now,
        ))
    };
    assert!(
        !store
            .revoke_session(bob, s1, now, revoke_effects())
            .await
            .unwrap(),
        "not a session of bob's"
    );
    assert_eq!(session(store, s1).await.revoked_at, None);
    assert_eq!(audit_count(store, "SESSION_REVOKED").await, 0);
    assert!(
        store
            .revoke_session(alice, s1, now, revoke_effects())
            .await
            .unwrap()
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert_eq!(audit_count(store, "SESSION_REVOKED").await, 1);
    assert!(
        !store
            .revoke_session(alice, s1, now + Duration::minutes(1), revoke_effects())
            .await
            .unwrap(),
        "already revoked"
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now));
    assert!(
        !store
            .revoke_session(alice, short, now, revoke_effects())
            .await
            .unwrap(),
        "already expired"
    );
    assert!(
        !store
            .revoke_session(alice, Uuid::now_v7(), now, revoke_effects())
            .await
            .unwrap()
    );
    assert_eq!(
        audit_count(store, "SESSION_REVOKED").await,
        1,
        "no effects without a revocation"
    );
    assert_eq!(
        ids(&store.list_sessions(alice, now).await.unwrap()),
        vec![s3, s2]
    );

    // revoke all but one, then all
    let t = now + Duration::minutes(2);
    assert_eq!(
        store
            .revoke_sessions(
                alice,
                Some(s3),
                t,
                Effects::audit(audit_event("SESSIONS_REVOKED", Some(alice), Some(alice), t)),
            )
            .await
            .unwrap(),
        1
    );
    assert_eq!(ids(&store.list_sessions(alice, t).await.unwrap()), vec![s3]);
    assert_eq!(session(store, s2).await.revoked_at, Some(t));
    assert_eq!(audit_count(store, "SESSIONS_REVOKED").await, 1);
    let t2 = t + Duration::minutes(1);
    assert_eq!(
        store
            .revoke_sessions(alice, None, t2, Effects::none())
            .await
            .unwrap(),
        1
    );
    assert_eq!(session(store, s3).await.revoked_at, Some(t2));
    assert!(store.list_sessions(alice, t2).await.unwrap().is_empty());
    assert_eq!(
        store
            .revoke_sessions(alice, None, t2 + Duration::minutes(1), Effects::none())
            .await
            .unwrap(),
        0
    );
    assert_eq!(session(store, s1).await.revoked_at, Some(now), "unchanged");
    assert_eq!(ids(&store.list_sessions(bob, t2).await.unwrap()), vec![sb]);
}

pub async fn refresh_tokens_rotate_with_a_grace_window_and_reuse_detection(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let week = Duration::days(7);
    let grace = Duration::seconds(10);
    let s = open_session(store, alice, "r-0", t0(), t0() + week).await;
    let rotated = RefreshRotation::Rotated {
        session_id: s,
        user_id: alice,
    };
    let reused = RefreshRotation::Reused {
        session_id: s,
        user_id: alice,
    };
    let rotate = |presented: &'static str, next: &'static str, now: Timestamp| async move {
        store
            .rotate_refresh_token(&digest(presented), &digest(next), now, now + week, grace)
            .await
            .unwrap()
    };

    let t1 = mins(60);
    assert_eq!(rotate("r-0", "r-1", t1).await, rotated);
    assert_eq!(
        session(store, s).await.expires_at,
        t1 + week,
        "the session's expiry moves forward"
    );
    let t2 = mins(120);
    assert_eq!(
        rotate("r-1", "r-2", t2).await,
        rotated,
        "the next token works"
    );
    assert_eq!(session(store, s).await.expires_at, t2 + week);

    // An old token, rotated before the grace window: reuse.
    assert_eq!(rotate("r-0", "r-x", t2).await, reused);
    assert_eq!(
        rotate("r-x", "r-y", t2 + Duration::seconds(1)).await,
        RefreshRotation::Invalid,
        "a reused token's successor is never stored"
    );

    // Within the grace window the previous token still rotates (two tabs refreshing at once).
    let t3 = t2 + Duration::seconds(5);
    assert_eq!(rotate("r-1", "r-2b", t3).await, rotated);
    assert_eq!(
        rotate("r-2b", "r-3b", t3 + Duration::seconds(1)).await,
        rotated,
        "the pair handed out within grace works"
    );
    assert_eq!(
        rotate("r-2", "r-3", t3 + Duration::seconds(2)).await,
        rotated,
        "the other tab's token works too"
    );
    assert_eq!(
        session(store, s).await.expires_at,
        t3 + Duration::seconds(2) + week
    );

    // After the grace window, the same token is a reuse.
    assert_eq!(
        rotate("r-1", "r-z", t2 + Duration::minutes(1)).await,
        reused
    );
    assert_eq!(
        rotate("r-z", "r-zz", t2 + Duration::minutes(2)).await,
        RefreshRotation::Invalid
    );
    let after = session(store, s).await;
    assert_eq!(
        after.revoked_at, None,
        "the store reports reuse; revoking is the caller's decision"
    );
    assert_eq!(after.expires_at, t3 + Duration::seconds(2) + week);

    assert_eq!(
        rotate("never-issued", "r-n", t2).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        rotate("r-3", "r-4", t2 + Duration::minutes(3)).await,
        rotated,
        "the current token still works"
    );
}

pub async fn refresh_tokens_of_expired_or_ended_sessions_are_invalid(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await.id;
    let week = Duration::days(7);
    let grace = Duration::seconds(10);
    let rotate = |presented: &'static str, next: &'static str, now: Timestamp| async move {
        store
            .rotate_refresh_token(&digest(presented), &digest(next), now, now + week, grace)
            .await
            .unwrap()
    };

    // Expired session and token.
    let short = open_session(store, alice, "short-0", t0(), mins(60)).await;
    assert_eq!(
        rotate("short-0", "short-1", mins(60) + Duration::seconds(1)).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        rotate("short-1", "short-2", mins(61)).await,
        RefreshRotation::Invalid,
        "nothing was stored"
    );
    assert_eq!(
        session(store, short).await.expires_at,
        mins(60),
        "an expired session is not extended"
    );

    // Revoked session: neither the current token nor the previous one (within grace) rotate.
    let ended = open_session(store, alice, "ended-0", t0(), t0() + week).await;
    assert_eq!(
        rotate("ended-0", "ended-1", mins(1)).await,
        RefreshRotation::Rotated {
            session_id: ended,
            user_id: alice,
        }
    );
    assert!(
        store
            .revoke_session(
                alice,
                ended,
                mins(1) + Duration::seconds(1),
                Effects::none()
            )
            .await
            .unwrap()
    );
    assert_eq!(
        rotate("ended-1", "ended-2", mins(1) + Duration::seconds(2)).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        rotate("ended-0", "ended-3", mins(1) + Duration::seconds(3)).await,
        RefreshRotation::Invalid
    );
    assert_eq!(
        session(store, ended).await.expires_at,
        mins(1) + week,
        "an ended session is not extended"
    );

    // Sessions ended in bulk too.
    let bulk = open_session(store, alice, "bulk-0", mins(2), mins(2) + week).await;
    store
        .revoke_sessions(alice, None, mins(3), Effects::none())
        .await
        .unwrap();
    assert_eq!(session(store, bulk).await.revoked_at, Some(mins(3)));
    assert_eq!(
        rotate("bulk-0", "bulk-1", mins(4)).await,
        RefreshRotation::Invalid
    );
}

pub async fn concurrent_rotations_within_the_grace_window_both_succeed(store: Arc<dyn Store>) {
    let alice = create(&*store, "alice").await.id;
    let week = Duration::days(7);
    let grace = Duration::seconds(10);
    for round in 0..8 {
        let first = format!("r-{round}");
        let s = open_session(&*store, alice, &first, t0(), t0() + week).await;
        let rotated = RefreshRotation::Rotated {
            session_id: s,
            user_id: alice,
        };
        let now = mins(1);
        let barrier = Arc::new(Barrier::new(2));
        let tasks: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|tab| {
                let store = Arc::clone(&store);
                let barrier = Arc::clone(&barrier);
                let presented = digest(&first);
                let next = digest(&format!("r-{round}-{tab}"));
                tokio::spawn(async move {
                    barrier.wait().await;
                    store
                        .rotate_refresh_token(&presented, &next, now, now + week, grace)
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), rotated, "round {round}");
        }
        for (i, tab) in ["a", "b"].into_iter().enumerate() {
            let later = now + Duration::seconds(1 + i as i64);
            assert_eq!(
                store
                    .rotate_refresh_token(
                        &digest(&format!("r-{round}-{tab}")),
                        &digest(&format!("r-{round}-{tab}-next")),
                        later,
                        later + week,
                        grace,
                    )
                    .await
                    .unwrap(),
                rotated,
                "round {round}: tab {tab}'s new token works"
            );
        }
    }
}

// --- profile -------------------------------------------------------------------------------

pub async fn profile_updates_set_keep_and_clear_fields(store: Arc<dyn Store>) {
    let store = &*store;
    let new = NewUser {
        first_name: Some("Ada".to_owned()),
        last_name: Some("Lovelace".to_owned()),
        ..new_user("ada")
    };
    let id = new.id;
    store.create_user(new, Effects::none()).await.unwrap();
    let dob = Date::from_calendar_date(1815, Month::December, 10).unwrap();
    let s = |v: &str| Some(Some(v.to_owned()));

    let t1 = mins(1);
    let update = ProfileUpdate {
        first_name: s("Augusta"),
        last_name: None,
        bio: s("Analyst ✓ — first programmer"),
        phone: s("+447700900123"),
        date_of_birth: Some(Some(dob)),
        address: s("12 St James's Square"),
        city: s("London"),
        country: s("GB"),
        timezone: s("Europe/London"),
        language: s("en"),
    };
    let (u, profile) = store
        .update_profile(
            id,
            update,
            t1,
            Effects::audit(audit_event("PROFILE_UPDATED", Some(id), Some(id), t1)),
        )
        .await
        .unwrap();
    let expected = ProfileRecord {
        bio: Some("Analyst ✓ — first programmer".to_owned()),
        phone: Some("+447700900123".to_owned()),
        date_of_birth: Some(dob),
        address: Some("12 St James's Square".to_owned()),
        city: Some("London".to_owned()),
        country: Some("GB".to_owned()),
        timezone: Some("Europe/London".to_owned()),
        language: Some("en".to_owned()),
        preferences: json!({}),
    };
    assert_eq!(profile, expected);
    assert_eq!(u.first_name.as_deref(), Some("Augusta"));
    assert_eq!(u.last_name.as_deref(), Some("Lovelace"), "None keeps");
    assert_eq!(u.updated_at, t1);
    assert_eq!(store.profile(id).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(u));

    // Preferences are not touched by a profile update.
    store
        .merge_preferences(
            id,
            obj(json!({"theme": "dark"})),
            4096,
            mins(2),
            Effects::none(),
        )
        .await
        .unwrap();
    let t3 = mins(3);
    let update = ProfileUpdate {
        last_name: Some(None),
        bio: Some(None),
        city: s("Paris"),
        ..ProfileUpdate::default()
    };
    let (u, profile) = store
        .update_profile(
            id,
            update,
            t3,
            Effects::audit(audit_event("PROFILE_UPDATED", Some(id), Some(id), t3)),
        )
        .await
        .unwrap();
    let expected = ProfileRecord {
        bio: None,
        city: Some("Paris".to_owned()),
        preferences: json!({"theme": "dark"}),
        ..expected
    };
    assert_eq!(profile, expected, "Some(None) clears, None keeps");
    assert_eq!(u.first_name.as_deref(), Some("Augusta"));
    assert_eq!(u.last_name, None, "Some(None) clears");
    assert_eq!(u.updated_at, t3);
    assert_eq!(store.profile(id).await.unwrap(), Some(expected.clone()));
    assert_eq!(store.user_by_id(id).await.unwrap(), Some(u.clone()));
    // What authentication for `GET /users/profile` reads: the session, the user with their
    // roles, and this profile, together.
    let new = new_session(id, "ada-1", t3, t3 + Duration::days(1));
    let session_id = new.id;
    store
        .start_session(new, None, Effects::none())
        .await
        .unwrap();
    let (session, user, profile) = store
        .session_with_user_and_profile(session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.id, session_id);
    assert_eq!(Some(user), store.user_by_id(id).await.unwrap());
    assert_eq!(profile, expected);

    let (same_user, same_profile) = store
        .update_profile(id, ProfileUpdate::default(), mins(4), Effects::none())
        .await
        .unwrap();
    assert_eq!(same_profile, expected, "an empty update keeps everything");
    assert_eq!(
        (same_user.first_name, same_user.last_name),
        (u.first_name, u.last_name)
    );
    assert_eq!(audit_count(store, "PROFILE_UPDATED").await, 2);

    let unknown = Uuid::now_v7();
    assert_eq!(store.profile(unknown).await.unwrap(), None);
    let missing = store
        .update_profile(
            unknown,
            ProfileUpdate {
                city: s("Rome"),
                ..ProfileUpdate::default()
            },
            mins(5),
            Effects::audit(audit_event("PROFILE_UPDATED", None, Some(unknown), mins(5))),
        )
        .await;
    assert!(
        matches!(missing, Err(Error::NotFound(_))),
        "unknown user: {missing:?}"
    );
    assert_eq!(audit_count(store, "PROFILE_UPDATED").await, 2);
}

/// Any JSON a client can send as preferences reads back as the same JSON: strings with quotes,
/// escapes, control characters (but U+0000, refused before the store), line separators and
/// astral characters, and numbers at the edges of f64 and of the integers. PostgreSQL's jsonb
/// normalises (key order, number spelling): equal means equal as JSON, numbers by value.
pub async fn preferences_round_trip_any_json_value(store: Arc<dyn Store>) {
    let store = &*store;
    let id = create(store, "alice").await.id;
    // A fixed xorshift sequence: the same 40 documents on every store and every run.
    let mut state = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..40 {
        let mut doc = Map::new();
        for k in 0..4 {
            doc.insert(
                format!("{}{k}", random_text(&mut next)),
                random_json(&mut next, 3),
            );
        }
        let at = mins(round + 1);
        store
            .merge_preferences(id, doc.clone(), 1 << 20, at, Effects::none())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?} storing {doc:?}"));
        let stored = store.profile(id).await.unwrap().unwrap().preferences;
        for (key, value) in &doc {
            assert!(
                same_json(&stored[key], value),
                "round {round}, {key:?}: stored {:?}, read back {:?}",
                value,
                stored[key]
            );
        }
        let clear = doc.keys().map(|k| (k.clone(), Value::Null)).collect();
        store
            .merge_preferences(id, clear, 1 << 20, at, Effects::none())
            .await
            .unwrap();
    }
}

fn random_text(next: &mut impl FnMut() -> u64) -> String {
    const PALETTE: &[char] = &[
        'a',
        'Z',
        '0',
        ' ',
        '"',
        '\\',
        '/',
        '\n',
        '\t',
        '\u{1}',
        '\u{1f}',
        '\u{7f}',
        'é',
        '中',
        '\u{2028}',
        '\u{fffd}',
        '\u{ffff}',
        '😀',
        '\u{10ffff}',
        '%',
        '_',
        '\'',
    ];
    let len = (next() % 12) as usize;
    (0..len)
        .map(|_| PALETTE[(next() % PALETTE.len() as u64) as usize])
        .collect()
}

fn random_json(next: &mut impl FnMut() -> u64, depth: u32) -> Value {
    const EDGES: &[f64] = &[
        f64::MAX,
        -f64::MAX,
        f64::MIN_POSITIVE,
        5e-324,
        -0.0,
        1e-7,
        0.1,
        1e16,
        1e21,
        123_456_789.123_456_79,
    ];
    let pick = next() % if depth == 0 { 6 } else { 8 };
    match pick {
        0 => Value::Null,
        1 => Value::Bool(next().is_multiple_of(2)),
        2 => json!(EDGES[(next() % EDGES.len() as u64) as usize]),
        3 => {
            // Any finite f64, from random bits.
            let f = f64::from_bits(next());
            if f.is_finite() {
                json!(f)
            } else {
                json!(next() as i64)
            }
        }
        4 => {
            if next().is_multiple_of(2) {
                json!(next())
            } else {
                json!(next() as i64)
            }
        }
        5 => Value::String(random_text(next)),
        6 => Value::Array(
            (0..next() % 4)
                .map(|_| random_json(next, depth - 1))
                .collect(),
        ),
        _ => Value::Object(
            (0..next() % 4)
                .map(|i| {
                    (
                        format!("{}{i}", random_text(next)),
                        random_json(next, depth - 1),
                    )
                })
                .collect(),
        ),
    }
}

/// Equal as JSON: numbers by value (an integral float may come back as an integer).
fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

pub async fn preferences_merge_shallowly_within_the_size_limit(store: Arc<dyn Store>) {
    let store = &*store;
    let id = create(store, "alice").await.id;
    let prefs = |effects_at: Timestamp| {
        Effects::audit(audit_event(
            "PREFERENCES_UPDATED",
            Some(id),
            Some(id),
            effects_at,
        ))
    };
    let first = json!({
        "theme": "dark",
        "lang": "en",
        "notifications": {"email": true, "sms": false},
        "pinned": [1, 2, 3],
    });
    let merged = store
        .merge_preferences(id, obj(first.clone()), 4096, mins(1), prefs(mins(1)))
        .await
        .unwrap();
    assert_eq!(merged, first);
    assert_eq!(store.profile(id).await.unwrap().unwrap().preferences, first);
    assert_eq!(user(store, id).await.updated_at, mins(1));

    let merged = store
        .merge_preferences(
            id,
            obj(json!({"theme": null, "notifications": {"push": true}, "fontSize": 14, "absent": null})),
            4096,
            mins(2),
            prefs(mins(2)),
        )
        .await
        .unwrap();
    let expected = json!({
        "lang": "en",
        "notifications": {"push": true},
        "pinned": [1, 2, 3],
        "fontSize": 14,
    });
    assert_eq!(
        merged, expected,
        "null removes a key; nested objects are replaced, not merged"
    );
    assert_eq!(
        store.profile(id).await.unwrap().unwrap().preferences,
        expected
    );
    assert_eq!(audit_count(store, "PREFERENCES_UPDATED").await, 2);

    // Too big once merged: refused, nothing changed, no effects.
    let user_before = user(store, id).await;
    let too_big = store
        .merge_preferences(
            id,
            obj(json!({"blob": "x".repeat(200)})),
            128,
            mins(3),
            prefs(mins(3)),
        )
        .await;
    assert!(
        matches!(too_big, Err(Error::Validation(_))),
        "too big: {too_big:?}"
    );
    assert_eq!(
        store.profile(id).await.unwrap().unwrap().preferences,
        expected
    );
    assert_eq!(
        user(store, id).await.updated_at,
        user_before.updated_at,
        "a refused merge does not touch the user"
    );
    assert_eq!(user(store, id).await, user_before);
    assert_eq!(audit_count(store, "PREFERENCES_UPDATED").await, 2);

    // The limit is inclusive of an exact fit (size of the compact JSON).
    let mut fit = expected.clone();
    fit["k"] = json!("vvvv");
    let size = serde_json::to_vec(&fit).unwrap().len();
    let merged = store
        .merge_preferences(id, obj(json!({"k": "vvvv"})), size, mins(4), prefs(mins(4)))
        .await
        .unwrap();
    assert_eq!(merged, fit);
    let over = store
        .merge_preferences(id, obj(json!({"k2": "v"})), size, mins(5), prefs(mins(5)))
        .await;
    assert!(matches!(over, Err(Error::Validation(_))), "{over:?}");
    assert_eq!(store.profile(id).await.unwrap().unwrap().preferences, fit);
    assert_eq!(audit_count(store, "PREFERENCES_UPDATED").await, 3);
}

// --- audit and effects ---------------------------------------------------------------------

pub async fn audit_events_filter_by_user_newest_first(store: Arc<dyn Store>) {
    let store = &*store;
    let a = create(store, "alice").await.id;
    let b = create(store, "bob").await.id;
    let c = create(store, "carol").await.id;
    let e1 = AuditEvent {
        ip_address: None,
        user_agent: None,
        details: json!({}),
        ..audit_event("USER_LOGIN", Some(a), Some(a), mins(1))
    };
    let e2 = audit_event("USER_SUSPENDED", Some(b), Some(a), mins(2));
    let e3 = AuditEvent {
        resource: "role".to_owned(),
        resource_id: Some("moderator".to_owned()),
        ..audit_event("ROLE_ASSIGNED", Some(a), Some(b), mins(3))
    };
    let e4 = audit_event("PASSWORD_RESET_REQUESTED", None, Some(b), mins(4));
    let e5 = AuditEvent {
        resource: "system".to_owned(),
        details: json!({"purged": [1, 2], "note": "ünïcode"}),
        ..audit_event("SYSTEM_CLEANUP", None, None, mins(5))
    };
    // Written out of order: the order comes from created_at.
    for e in [&e3, &e1, &e5, &e2, &e4] {
        write_effects(store, a, mins(6), Effects::audit(e.clone())).await;
    }
    assert_eq!(
        store.audit_events(Some(a), 10).await.unwrap(),
        vec![e3.clone(), e2.clone(), e1.clone()],
        "as actor or as target, newest first"
    );
    assert_eq!(
        store.audit_events(Some(b), 10).await.unwrap(),
        vec![e4.clone(), e3.clone(), e2.clone()]
    );
    assert!(store.audit_events(Some(c), 10).await.unwrap().is_empty());
    assert_eq!(
        store.audit_events(None, 10).await.unwrap(),
        vec![e5.clone(), e4.clone(), e3.clone(), e2, e1]
    );
    assert_eq!(store.audit_events(None, 2).await.unwrap(), vec![e5, e4]);
    assert_eq!(store.audit_events(Some(a), 1).await.unwrap(), vec![e3]);
}

pub async fn effects_are_written_with_the_change_and_only_then(store: Arc<dyn Store>) {
    let store = &*store;
    let alice = create(store, "alice").await;
    let a = alice.id;
    let probe = |kind: &str| {
        Effects::audit(audit_event("SHOULD_NOT_EXIST", None, Some(a), t0())).with_mail(
            outbox_message(
                "alice@example.com",
                &format!("should_not_exist_{kind}"),
                t0(),
            ),
        )
    };

    let dup_email = store
        .create_user(
            NewUser {
                email: alice.email.clone(),
                ..new_user("other")
            },
            probe("dup_email"),
        )
        .await;
    assert!(matches!(
        dup_email,
        Err(Error::Conflict(ConflictKind::Email))
    ));
    let dup_username = store
        .create_user(
            NewUser {
                email: "other@example.com".to_owned(),
                ..new_user("alice")
            },
            probe("dup_username"),
        )
        .await;
    assert!(matches!(
        dup_username,
        Err(Error::Conflict(ConflictKind::Username))
    ));
    let verify = store
        .verify_email(&digest("never-issued"), mins(1), probe("verify"))
        .await;
    assert!(matches!(verify, Err(Error::InvalidOneTimeToken)));
    let reset = store
        .reset_password(
            &digest("never-issued"),
            password(hash("x"), mins(1), None),
            probe("reset"),
        )
        .await;
    assert!(matches!(reset, Err(Error::InvalidOneTimeToken)));
    assert!(
        !store
            .revoke_session(a, Uuid::now_v7(), mins(1), probe("revoke"))
            .await
            .unwrap()
    );
    let merge = store
        .merge_preferences(
            a,
            obj(json!({"blob": "x".repeat(100)})),
            16,
            mins(1),
            probe("merge"),
        )
        .await;
    assert!(matches!(merge, Err(Error::Validation(_))));
    let profile = store
        .update_profile(
            Uuid::now_v7(),
            ProfileUpdate::default(),
            mins(1),
            probe("profile"),
        )
        .await;
    assert!(matches!(profile, Err(Error::NotFound(_))));

    assert!(
        all_audit(store).await.is_empty(),
        "no failed change wrote audit rows"
    );
    assert_eq!(backlog(store).await, 0, "no failed change enqueued mail");
    assert!(
        store
            .claim_due_mail(mins(10), 100, Duration::minutes(5))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        user(store, a).await.updated_at,
        alice.updated_at,
        "no failed change touched alice"
    );
    assert_eq!(user(store, a).await, alice, "alice is unchanged");

    // A successful change writes every audit row and every mail it carries.
    let now = mins(20);
    let audit_1 = audit_event("PASSWORD_RESET_REQUESTED", None, Some(a), now);
    let audit_2 = audit_event("SECURITY_NOTICE", None, Some(a), now + Duration::seconds(1));
    let mail_1 = outbox_message("alice@example.com", "password_reset", now);
    let mail_2 = outbox_message("alice@example.com", "security_notice", now);
    store
        .issue_one_time_token(
            one_time_token(
                a,
                "reset-1",
                TokenPurpose::PasswordReset,
                now,
                now + Duration::hours(1),
            ),
            Effects {
                audit: vec![audit_1.clone(), audit_2.clone()],
                mail: vec![mail_1.clone(), mail_2.clone()],
                notifications: vec![notification(a, "SECURITY_ALERT", now)],
            },
        )
        .await
        .unwrap();
    assert_eq!(all_audit(store).await, vec![audit_2, audit_1]);
    assert_eq!(
        store
            .notifications(a, false, 0, 10)
            .await
            .unwrap()
            .items
            .len(),
        1,
        "notifications are effects too"
    );
    assert_eq!(backlog(store).await, 2);
    let claimed: HashMap<Uuid, OutboxMessage> = store
        .claim_due_mail(now, 10, Duration::minutes(5))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    assert_eq!(
        claimed,
        HashMap::from([(mail_1.id, mail_1), (mail_2.id, mail_2)])
    );
}

// --- outbox --------------------------------------------------------------------------------

pub async fn outbox_claims_respect_schedule_limit_and_lease(store: Arc<dyn Store>) {
    let store = &*store;
    let a = create(store, "alice").await.id;
    let m1 = outbox_message("alice@example.com", "verify_email", t0());
    let m2 = outbox_message("alice@example.com", "password_reset", secs(1));
    let m3 = outbox_message("alice@example.com", "login_alert", mins(60));
    for m in [&m3, &m1, &m2] {
        write_effects(store, a, t0(), Effects::none().with_mail(m.clone())).await;
    }
    assert_eq!(backlog(store).await, 3);
    assert!(
        store
            .claim_due_mail(t0() - Duration::seconds(1), 10, Duration::minutes(1))
            .await
            .unwrap()
            .is_empty(),
        "nothing is due yet"
    );

    let lease = Duration::minutes(1);
    let now = secs(10);
    let first = store.claim_due_mail(now, 1, lease).await.unwrap();
    assert_eq!(first.len(), 1, "the limit holds");
    let second = store.claim_due_mail(now, 10, lease).await.unwrap();
    assert_eq!(second.len(), 1, "only the other due message is left");
    let claimed: HashMap<Uuid, OutboxMessage> =
        first.into_iter().chain(second).map(|m| (m.id, m)).collect();
    assert_eq!(
        claimed,
        HashMap::from([(m1.id, m1.clone()), (m2.id, m2.clone())]),
        "due messages, exactly as enqueued"
    );
    assert!(
        store
            .claim_due_mail(now, 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "claimed messages are hidden"
    );
    assert!(
        store
            .claim_due_mail(now + Duration::seconds(30), 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "while the lease runs"
    );
    assert_eq!(backlog(store).await, 3, "claiming delivers nothing");

    // A lapsed lease (crashed worker): claimable again.
    let retake = now + lease + Duration::seconds(1);
    let again: HashSet<Uuid> = store
        .claim_due_mail(retake, 10, lease)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(again, HashSet::from([m1.id, m2.id]));

    // Sent: out of the backlog for good.
    let done = retake + Duration::seconds(5);
    store.mark_mail_sent(m1.id, done).await.unwrap();
    assert_eq!(backlog(store).await, 2);

    // Failed with a retry: rescheduled, with the attempt counted.
    let retry_at = mins(30);
    store
        .mark_mail_failed(m2.id, "451 try again later", Some(retry_at), done)
        .await
        .unwrap();
    assert_eq!(
        backlog(store).await,
        2,
        "a retried message is still pending"
    );
    assert!(
        store
            .claim_due_mail(mins(10), 10, lease)
            .await
            .unwrap()
            .is_empty(),
        "m1 was sent, m2 waits for its retry, m3 is not due"
    );
    assert_eq!(
        store.claim_due_mail(retry_at, 10, lease).await.unwrap(),
        vec![OutboxMessage {
            attempts: 1,
            next_attempt_at: retry_at,
            ..m2.clone()
        }]
    );

    // Failed for good: parked.
    store
        .mark_mail_failed(
            m2.id,
            "550 no such user",
            None,
            retry_at + Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(
        backlog(store).await,
        1,
        "a parked message leaves the backlog"
    );
    assert_eq!(
        store.claim_due_mail(mins(120), 10, lease).await.unwrap(),
        vec![m3.clone()],
        "neither the sent nor the parked message comes back"
    );
    store.mark_mail_sent(m3.id, mins(121)).await.unwrap();
    assert_eq!(backlog(store).await, 0);
    assert!(
        store
            .claim_due_mail(t0() + Duration::days(30), 10, lease)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn concurrent_claims_never_share_a_message(store: Arc<dyn Store>) {
    let a = create(&*store, "alice").await.id;
    let mut all = HashSet::new();
    for batch in 0..3 {
        let mail: Vec<_> = (0..10)
            .map(|i| outbox_message(&format!("user{batch}_{i}@example.com"), "notice", t0()))
            .collect();
        all.extend(mail.iter().map(|m| m.id));
        write_effects(
            &*store,
            a,
            t0(),
            Effects {
                mail,
                ..Effects::default()
            },
        )
        .await;
    }
    assert_eq!(backlog(&*store).await, 30);
    let now = mins(1);
    let barrier = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let store = Arc::clone(&store);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                let mut got = Vec::new();
                loop {
                    let batch = store
                        .claim_due_mail(now, 3, Duration::minutes(5))
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break got;
                    }
                    got.extend(batch.into_iter().map(|m| m.id));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for worker in workers {
        for id in worker.await.unwrap() {
            total += 1;
            assert!(seen.insert(id), "message {id} was handed out twice");
        }
    }
    assert_eq!(total, 30);
    assert_eq!(seen, all, "every message was claimed once");
}

pub async fn sealed_payloads_round_trip_exactly(store: Arc<dyn Store>) {
    let store = &*store;
    let a = create(store, "alice").await.id;
    // A deterministic pseudo-random 64 KiB payload (xorshift), plus odd small ones.
    let mut x: u32 = 0x9E37_79B9;
    let big: Vec<u8> = (0..65_536)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect();
    let payloads = [
        big,
        vec![0u8; 40],
        vec![0xFF; 40],
        [0xC3u8, 0x28, 0x00, 0xA0, 0xA1, 0xE2, 0x28, 0xA1].repeat(5),
        sample_payload(7),
    ];
    let messages: Vec<_> = payloads
        .iter()
        .map(|p| OutboxMessage {
            sealed_payload: p.clone(),
            recipient: "zoë@example.com".to_owned(),
            ..outbox_message("", "verify_email", t0())
        })
        .collect();
    write_effects(
        store,
        a,
        t0(),
        Effects {
            mail: messages.clone(),
            ..Effects::default()
        },
    )
    .await;
    let claimed: HashMap<Uuid, OutboxMessage> = store
        .claim_due_mail(t0(), 10, Duration::minutes(5))
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    assert_eq!(claimed.len(), messages.len());
    for m in &messages {
        let got = &claimed[&m.id];
        assert_eq!(got.sealed_payload, m.sealed_payload, "payload bytes");
        assert_eq!(got, m);
    }
}

// --- two-factor -----------------------------------------------------------------------------

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

/// A client is "seen" when an earlier session of the user had the same IP and User-Agent.
pub async fn clients_seen_before_are_recognised(store: Arc<dyn Store>) {
    let ann = create(&*store, "ann").await;
    let ua = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
    assert_eq!(
        store
            .client_seen_before(ann.id, Some("198.51.100.4"), Some(ua))
            .await
            .unwrap(),
        None,
        "no session yet"
    );
    let s = open_session(&*store, ann.id, "r1", t0(), mins(60)).await;
    store
        .revoke_session(ann.id, s, secs(1), Effects::none())
        .await
        .unwrap();
    let seen = |ip: Option<&'static str>, ua: Option<&'static str>| {
        let store = store.clone();
        async move { store.client_seen_before(ann.id, ip, ua).await.unwrap() }
    };
    assert_eq!(
        seen(Some("198.51.100.4"), Some(ua)).await,
        Some(true),
        "ended sessions count"
    );
    assert_eq!(seen(Some("203.0.113.1"), Some(ua)).await, Some(false));
    assert_eq!(
        seen(Some("198.51.100.4"), Some("curl/8.0")).await,
        Some(false)
    );
    assert_eq!(seen(None, None).await, Some(false));
    let bob = create(&*store, "bob").await;
    assert_eq!(
        store
            .client_seen_before(bob.id, Some("198.51.100.4"), Some(ua))
            .await
            .unwrap(),
        None,
        "another user's sessions do not count"
    );
}

/// A notification for `user` raised at `at`.
pub fn notification(user: Uuid, kind: &str, at: Timestamp) -> NotificationRecord {
    NotificationRecord {
        id: Uuid::now_v7(),
        user_id: user,
        kind: kind.to_owned(),
        title: format!("{kind} title"),
        message: "Something happened to your account.".to_owned(),
        data: json!({"ip": "203.0.113.9", "n": 1}),
        read_at: None,
        created_at: at,
    }
}

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

/// Permissions come from the seeded roles the user holds now.
pub async fn permissions_follow_the_seeded_roles(store: Arc<dyn Store>) {
    let plain = create(&*store, "plain").await;
    assert!(store.user_permissions(plain.id).await.unwrap().is_empty());
    let mut admin = new_user("boss");
    admin.roles = vec![ADMIN_ROLE.to_owned(), DEFAULT_ROLE.to_owned()];
    let admin = store.create_user(admin, Effects::none()).await.unwrap();
    let mut expected: Vec<String> = crate::rbac::PERMISSIONS
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    expected.sort();
    assert_eq!(store.user_permissions(admin.id).await.unwrap(), expected);
    let mut moderator = new_user("mod");
    moderator.roles = vec!["moderator".to_owned()];
    let moderator = store.create_user(moderator, Effects::none()).await.unwrap();
    let mut expected: Vec<String> = crate::rbac::MODERATOR_PERMISSIONS
        .iter()
        .map(|p| (*p).to_owned())
        .collect();
    expected.sort();
    assert_eq!(
        store.user_permissions(moderator.id).await.unwrap(),
        expected
    );
    assert!(
        store
            .user_permissions(Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
}

/// Instantiates every store case as its own test for one store.
///
/// `$store`: an `async` block yielding `Option<Arc<dyn Store>>` (`None` skips the case, e.g. when
/// a database is not configured). It is evaluated once per case and must yield a fresh, empty
/// store each time. Cases run on a two-worker multi-threaded runtime so that the concurrency
/// cases really race.
#[macro_export]
macro_rules! store_conformance_tests {
    ($name:ident, $store:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::store_conformance_tests!(@cases $store;
                fresh_store_answers_ping_and_is_empty,
                create_user_round_trips_every_field,
                duplicate_email_is_a_conflict_and_writes_nothing,
                duplicate_username_is_a_conflict_and_writes_nothing,
                concurrent_registrations_of_one_identity_have_one_winner,
                users_are_found_by_id_email_and_username,
                issuing_a_token_supersedes_older_ones_of_the_same_purpose_only,
                verify_email_uses_a_token_once,
                expired_and_wrong_purpose_tokens_are_refused,
                reset_password_sets_the_password_ends_sessions_and_clears_the_lockout,
                concurrent_uses_of_a_reset_token_have_one_winner,
                password_history_is_newest_first_and_trimmed,
                change_password_ends_every_other_session,
                login_failures_are_counted_and_lock_the_account,
                concurrent_check_turns_never_exceed_the_limit,
                concurrent_challenge_attempts_are_bounded,
                password_and_account_changes_end_reset_links,
                outbox_rows_go_with_the_address_and_the_retention,
                start_session_applies_rehash_and_leaves_the_lockout_count,
                sessions_are_listed_touched_and_revoked,
                refresh_tokens_rotate_with_a_grace_window_and_reuse_detection,
                refresh_tokens_of_expired_or_ended_sessions_are_invalid,
                concurrent_rotations_within_the_grace_window_both_succeed,
                profile_updates_set_keep_and_clear_fields,
                preferences_merge_shallowly_within_the_size_limit,
                preferences_round_trip_any_json_value,
                audit_events_filter_by_user_newest_first,
                effects_are_written_with_the_change_and_only_then,
                outbox_claims_respect_schedule_limit_and_lease,
                concurrent_claims_never_share_a_message,
                sealed_payloads_round_trip_exactly,
                two_factor_enrolment_lifecycle,
                totp_steps_are_accepted_once,
                backup_codes_are_single_use_and_replaceable,
                one_time_tokens_of_any_purpose_are_used_once,
                clients_seen_before_are_recognised,
                notifications_are_paged_read_and_deleted,
                permissions_follow_the_seeded_roles,
                seeded_roles_and_permission_catalog_are_listed,
                roles_are_created_updated_and_deleted,
                role_changes_apply_only_to_the_permissions_checked,
                roles_are_assigned_and_removed,
                concurrent_removals_of_the_last_two_roles_leave_one,
                search_users_filters_sorts_and_pages,
                account_changes_apply_only_from_their_states,
                account_changes_that_end_access_revoke_sessions,
                unlock_clears_failures_and_the_lock,
                concurrent_suspensions_have_one_winner,
                dashboard_counts_users_and_active_sessions,
                set_avatar_sets_and_clears_the_url,
                user_data_export_holds_only_the_users_records,
                users_deleted_before_are_listed_oldest_first,
                delete_user_permanently_removes_everything_but_anonymised_audit,
                record_effects_writes_audit_rows_and_mail,
                concurrent_avatar_changes_each_return_what_they_replaced,
            );
        }
    };
    (@cases $store:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(store) = $store.await else { return };
                $crate::testing::store_suite::$case(store).await;
            }
        )*
    };
}
