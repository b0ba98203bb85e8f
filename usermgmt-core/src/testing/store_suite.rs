//! The store conformance suite's fixtures. Every [`Store`] implementation (memory, SQLite,
//! PostgreSQL) runs every case in `testing/store_cases/` (one trial per store and case, see
//! [`super::runner`]), so all of them are held to the one contract documented on the trait,
//! checked the same way. Each case receives a fresh, empty store. Times are fixed (never the
//! system clock) and carry whole microseconds only, the precision SQL stores keep, so
//! round-tripped times compare equal.

use crate::domain::DeviceInfo;
use crate::secret::TokenDigest;
use crate::store::{
    AuditEvent, CheckTurn, DEFAULT_ROLE, Effects, LockoutRule, LoginFailure, NewOneTimeToken,
    NewRole, NewSession, NewUser, NotificationRecord, OutboxMessage, PasswordChange, ProfileUpdate,
    RoleRecord, SessionRecord, Store, Timestamp, TokenPurpose, UserRecord,
};
use serde_json::{Map, Value, json};
use time::Duration;
use time::macros::datetime;
use uuid::Uuid;

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
pub fn sample_payload(salt: u8) -> Vec<u8> {
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

pub fn firefox() -> DeviceInfo {
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
        passed_check: None,
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

pub fn digest(token: &str) -> TokenDigest {
    TokenDigest::of(token)
}

pub fn password(new_hash: String, now: Timestamp, keep_session: Option<Uuid>) -> PasswordChange {
    PasswordChange {
        new_hash,
        now,
        history_limit: 5,
        keep_session,
    }
}

pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

pub fn ids(sessions: &[SessionRecord]) -> Vec<Uuid> {
    sessions.iter().map(|s| s.id).collect()
}

pub async fn create(store: &dyn Store, name: &str) -> UserRecord {
    store
        .create_user(new_user(name), Effects::none())
        .await
        .unwrap()
}

pub async fn user(store: &dyn Store, id: Uuid) -> UserRecord {
    store.user_by_id(id).await.unwrap().expect("user exists")
}

pub async fn session(store: &dyn Store, id: Uuid) -> SessionRecord {
    store
        .session_with_user(id)
        .await
        .unwrap()
        .expect("session exists")
        .0
}

pub async fn open_session(
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

pub async fn issue(store: &dyn Store, token: NewOneTimeToken) {
    store
        .issue_one_time_token(token, Effects::none())
        .await
        .unwrap();
}

/// Writes `effects` through an empty profile update of `user_id` (a change that is otherwise
/// a no-op), for cases about audit rows and the outbox.
pub async fn write_effects(store: &dyn Store, user_id: Uuid, now: Timestamp, effects: Effects) {
    store
        .update_profile(user_id, ProfileUpdate::default(), now, effects)
        .await
        .unwrap();
}

pub async fn all_audit(store: &dyn Store) -> Vec<AuditEvent> {
    store.audit_events(None, 10_000).await.unwrap()
}

pub async fn audit_count(store: &dyn Store, action: &str) -> usize {
    all_audit(store)
        .await
        .iter()
        .filter(|e| e.action == action)
        .count()
}

pub async fn backlog(store: &dyn Store) -> u64 {
    store.mail_backlog().await.unwrap()
}

/// One credential check that failed: its turn, then the failure (`None` when refused).
pub async fn failed_check(
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

pub async fn lock_user(store: &dyn Store, user_id: Uuid, from: Timestamp, lock_for: Duration) {
    for i in 0..3 {
        failed_check(store, user_id, from + Duration::seconds(i), 3, lock_for).await;
    }
    assert!(
        user(store, user_id).await.locked_until.is_some(),
        "three failures with max 3 lock the account"
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

pub async fn make(store: &dyn Store, user: NewUser) -> UserRecord {
    store.create_user(user, Effects::none()).await.unwrap()
}

pub async fn make_named(store: &dyn Store, name: &str) -> UserRecord {
    make(store, new_user(name)).await
}

pub async fn fetch(store: &dyn Store, id: Uuid) -> UserRecord {
    store.user_by_id(id).await.unwrap().expect("user exists")
}

pub async fn fetch_session(store: &dyn Store, id: Uuid) -> SessionRecord {
    store
        .session_with_user(id)
        .await
        .unwrap()
        .expect("session exists")
        .0
}

/// Opens a session of `user_id` created at `at`, valid for an hour; returns its id.
pub async fn login(store: &dyn Store, user_id: Uuid, refresh: &str, at: Timestamp) -> Uuid {
    let session = new_session(user_id, refresh, at, at + Duration::hours(1));
    let id = session.id;
    store
        .start_session(session, None, Effects::none())
        .await
        .unwrap();
    id
}

/// Everything effects can leave behind that a case can read back: audit rows and the outbox.
#[derive(Debug, PartialEq)]
pub struct Written {
    pub audit: Vec<AuditEvent>,
    pub backlog: u64,
}

pub async fn written(store: &dyn Store) -> Written {
    Written {
        audit: store.audit_events(None, 10_000).await.unwrap(),
        backlog: store.mail_backlog().await.unwrap(),
    }
}

/// Effects a refused operation must not write.
pub fn probe(label: &str) -> Effects {
    Effects::audit(audit_event(
        &format!("SHOULD_NOT_EXIST_{label}"),
        None,
        None,
        t0(),
    ))
    .with_mail(outbox_message(
        "probe@example.com",
        &format!("should_not_exist_{label}"),
        t0(),
    ))
}

/// One audit row about `user` (or about nothing), written when the change succeeds.
pub fn marker(action: &str, user: Option<Uuid>, at: Timestamp) -> (AuditEvent, Effects) {
    let event = audit_event(action, None, user, at);
    (event.clone(), Effects::audit(event))
}

pub fn role_names(roles: &[RoleRecord]) -> Vec<&str> {
    roles.iter().map(|r| r.name.as_str()).collect()
}

pub fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

pub fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

pub fn new_role(name: &str, permissions: &[&str], at: Timestamp) -> NewRole {
    NewRole {
        id: Uuid::now_v7(),
        name: name.to_owned(),
        description: Some(format!("{name} role")),
        permissions: strings(permissions),
        created_at: at,
    }
}
