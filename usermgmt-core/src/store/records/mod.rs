//! The records the stores read and write: users, tokens, sessions, notifications, audit rows,
//! outbox mail, the effects a change carries (and, in `admin.rs`, roles, account changes, the
//! search, the export and the audit figures). They sit below every area's store trait, which
//! imports them from here, so the facade (`store/mod.rs`) re-exporting both forms no cycle.

use crate::domain::DeviceInfo;
use crate::error::Result;
use crate::secret::TokenDigest;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

mod admin;
mod webhooks;

pub use admin::*;
pub(crate) use admin::{day_bounds, permissions_unchanged};
pub use webhooks::*;

/// A point in time (UTC, microsecond precision).
pub type Timestamp = OffsetDateTime;

/// The seeded role every new user receives.
pub const DEFAULT_ROLE: &str = "user";
/// The seeded role holding every permission.
pub const ADMIN_ROLE: &str = "admin";

/// A user row with its role names (sorted).
#[derive(Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// UUID v7.
    pub id: Uuid,
    /// Normalised email.
    pub email: String,
    /// Normalised username.
    pub username: String,
    /// PHC string (Argon2id) or an imported bcrypt hash.
    pub password_hash: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// Whether the email address was confirmed.
    pub email_verified: bool,
    /// False while the owner has deactivated the account.
    pub is_active: bool,
    /// True while an administrator has suspended the account.
    pub is_suspended: bool,
    /// Whether TOTP is enabled.
    pub two_factor_enabled: bool,
    /// Consecutive failed logins.
    pub failed_login_attempts: u32,
    /// End of the current lock, if any.
    pub locked_until: Option<Timestamp>,
    /// Soft-deletion time, if deleted.
    pub deleted_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Last successful login.
    pub last_login_at: Option<Timestamp>,
    /// Assigned role names, sorted.
    pub roles: Vec<String>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password_hash", &"[REDACTED]")
            .field("email_verified", &self.email_verified)
            .field("is_active", &self.is_active)
            .field("is_suspended", &self.is_suspended)
            .field("deleted_at", &self.deleted_at)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// A user to create, with the initial role assignments.
#[derive(Clone)]
pub struct NewUser {
    /// UUID v7.
    pub id: Uuid,
    /// Normalised email.
    pub email: String,
    /// Normalised username.
    pub username: String,
    /// PHC string.
    pub password_hash: String,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Pre-verified (bootstrap admin) or not.
    pub email_verified: bool,
    /// Role names to assign; each must exist.
    pub roles: Vec<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// An email verification token to store with the user, if any.
    pub verification: Option<NewOneTimeToken>,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("username", &self.username)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// The extended profile of a user.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProfileRecord {
    /// Free text.
    pub bio: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<Date>,
    /// Street address.
    pub address: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country.
    pub country: Option<String>,
    /// IANA time zone name.
    pub timezone: Option<String>,
    /// ISO 639-1 language code.
    pub language: Option<String>,
    /// A JSON object of user preferences.
    pub preferences: serde_json::Value,
}

/// A change to the profile: `None` keeps a field, `Some(None)` clears it, `Some(Some(v))` sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// Given name (stored on the user).
    pub first_name: Option<Option<String>>,
    /// Family name (stored on the user).
    pub last_name: Option<Option<String>>,
    /// Bio.
    pub bio: Option<Option<String>>,
    /// Phone.
    pub phone: Option<Option<String>>,
    /// Date of birth.
    pub date_of_birth: Option<Option<Date>>,
    /// Address.
    pub address: Option<Option<String>>,
    /// City.
    pub city: Option<Option<String>>,
    /// Country.
    pub country: Option<Option<String>>,
    /// Time zone.
    pub timezone: Option<Option<String>>,
    /// Language.
    pub language: Option<Option<String>>,
}

impl ProfileUpdate {
    /// Applies the change to a profile in memory (used by the memory store and as the reference).
    pub fn apply_to_profile(&self, p: &mut ProfileRecord) {
        fn set<T: Clone>(target: &mut Option<T>, change: &Option<Option<T>>) {
            if let Some(v) = change {
                *target = v.clone();
            }
        }
        set(&mut p.bio, &self.bio);
        set(&mut p.phone, &self.phone);
        set(&mut p.date_of_birth, &self.date_of_birth);
        set(&mut p.address, &self.address);
        set(&mut p.city, &self.city);
        set(&mut p.country, &self.country);
        set(&mut p.timezone, &self.timezone);
        set(&mut p.language, &self.language);
    }
}

/// Why a one-time token exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Confirms an email address.
    EmailVerification,
    /// Allows one password reset.
    PasswordReset,
    /// Completes one login with a second factor (the password was right).
    LoginChallenge,
    /// Completes one reactivation of a deactivated two-factor account.
    ReactivationChallenge,
    /// Completes one recovery of a deleted two-factor account.
    RecoveryChallenge,
}

impl TokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::EmailVerification => "email_verification",
            TokenPurpose::PasswordReset => "password_reset",
            TokenPurpose::LoginChallenge => "login_challenge",
            TokenPurpose::ReactivationChallenge => "reactivation_challenge",
            TokenPurpose::RecoveryChallenge => "recovery_challenge",
        }
    }
}

/// A single-use token to store (by digest only).
#[derive(Debug, Clone)]
pub struct NewOneTimeToken {
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// Owner.
    pub user_id: Uuid,
    /// What it allows.
    pub purpose: TokenPurpose,
    /// Issue time.
    pub created_at: Timestamp,
    /// Expiry.
    pub expires_at: Timestamp,
}

/// A stored single-use token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeTokenRecord {
    /// Owner.
    pub user_id: Uuid,
    /// Expiry.
    pub expires_at: Timestamp,
    /// When it was used (or superseded), if it was.
    pub used_at: Option<Timestamp>,
}

/// A new password replacing the current one.
#[derive(Debug, Clone)]
pub struct PasswordChange {
    /// The new PHC string.
    pub new_hash: String,
    /// Time of the change.
    pub now: Timestamp,
    /// How many hashes of history to keep (the current one included).
    pub history_limit: usize,
    /// Session to keep alive (the caller's own, for a change from a logged-in client).
    pub keep_session: Option<Uuid>,
}

/// An audit row, written in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    /// UUID v7.
    pub id: Uuid,
    /// `USER_LOGIN`, `PASSWORD_CHANGED`, ...
    pub action: String,
    /// Who did it (None for anonymous or system).
    pub actor_id: Option<Uuid>,
    /// Whose account it concerns.
    pub user_id: Option<Uuid>,
    /// What kind of thing changed: `user`, `session`, `profile`, ...
    pub resource: String,
    /// Which one.
    pub resource_id: Option<String>,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Client User-Agent.
    pub user_agent: Option<String>,
    /// Further facts (never secrets).
    pub details: serde_json::Value,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
}

/// An email waiting in (or delivered from) the outbox. The payload is sealed (encrypted) because
/// it carries verification and reset links.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    /// UUID v7.
    pub id: Uuid,
    /// Recipient address.
    pub recipient: String,
    /// Template name (`verify_email`, `password_reset`, ...).
    pub kind: String,
    /// Encrypted [`crate::mail::Email`].
    pub sealed_payload: Vec<u8>,
    /// Delivery attempts made.
    pub attempts: u32,
    /// Earliest time of the next attempt.
    pub next_attempt_at: Timestamp,
    /// Enqueue time.
    pub created_at: Timestamp,
}

impl fmt::Debug for OutboxMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutboxMessage")
            .field("id", &self.id)
            .field("recipient", &self.recipient)
            .field("kind", &self.kind)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// A page request: `page` from 1, `limit` 1..=100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based page number.
    pub page: u64,
    /// Items per page.
    pub limit: u64,
}

impl Page {
    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        (self.page - 1).saturating_mul(self.limit)
    }

    /// Pages needed for `total` items.
    pub fn total_pages(&self, total: u64) -> u64 {
        total.div_ceil(self.limit)
    }

    /// The number of matches this page's `found` rows prove, when they prove one: a page with
    /// fewer rows than its limit holds the last match (unless it is empty past page 1, when the
    /// matches may end on any earlier page). A listing needs no count then.
    pub fn total_shown_by(&self, found: usize) -> Option<u64> {
        let found = found as u64;
        (found < self.limit && (found > 0 || self.page == 1)).then(|| self.offset() + found)
    }

    /// How far a listing of this page counts its matches, given the configured bound
    /// (`Config::total_count_limit`, 0 = count them all): past the bound, and at least to the
    /// end of this page (so the count costs no more than reading the page does). `None` = count
    /// them all. One more than the bound is asked for, to tell "exactly the bound" from "more".
    pub fn count_bound(&self, limit: u64) -> Option<u64> {
        (limit > 0).then(|| {
            limit
                .max(self.offset().saturating_add(self.limit))
                .saturating_add(1)
        })
    }
}

/// How many rows a listing matched: exactly, or at least `count` when its count stopped at
/// [`Page::count_bound`]. An exact count of every match grows with the table (50 million audit
/// rows take seconds to count); a bounded one costs what its bound does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    /// The matches counted: all of them when `exact`, else a lower bound.
    pub count: u64,
    /// Whether `count` is every match.
    pub exact: bool,
}

impl Total {
    /// Reads a store's answer to a count bounded by `bound` (see [`Page::count_bound`]):
    /// reaching the bound means more matched than the bound's lower side.
    pub fn of(counted: u64, bound: Option<u64>) -> Total {
        match bound {
            Some(bound) if counted >= bound => Total {
                count: bound - 1,
                exact: false,
            },
            _ => Total {
                count: counted,
                exact: true,
            },
        }
    }
}

/// The kinds of in-app notification (SPEC §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum NotificationType {
    EmailVerified,
    PasswordChanged,
    LoginAlert,
    SecurityAlert,
    AccountUpdate,
    RoleChanged,
    System,
}

impl NotificationType {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::EmailVerified => "EMAIL_VERIFIED",
            NotificationType::PasswordChanged => "PASSWORD_CHANGED",
            NotificationType::LoginAlert => "LOGIN_ALERT",
            NotificationType::SecurityAlert => "SECURITY_ALERT",
            NotificationType::AccountUpdate => "ACCOUNT_UPDATE",
            NotificationType::RoleChanged => "ROLE_CHANGED",
            NotificationType::System => "SYSTEM",
        }
    }
}

/// An in-app notification for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationRecord {
    /// UUID v7.
    pub id: Uuid,
    /// Recipient.
    pub user_id: Uuid,
    /// `LOGIN_ALERT`, `SECURITY_ALERT`, ... (see [`NotificationType`]).
    pub kind: String,
    /// Short title.
    pub title: String,
    /// One or two sentences.
    pub message: String,
    /// Facts for clients (never secrets).
    pub data: serde_json::Value,
    /// When the user marked it read.
    pub read_at: Option<Timestamp>,
    /// When it was raised.
    pub created_at: Timestamp,
}

/// One page of a user's notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationPage {
    /// The page, newest first.
    pub items: Vec<NotificationRecord>,
    /// How many match the filter in all.
    pub total: u64,
    /// How many of the user's notifications are unread.
    pub unread: u64,
}

/// What a change writes besides itself, in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Audit rows.
    pub audit: Vec<AuditEvent>,
    /// Outgoing mail.
    pub mail: Vec<OutboxMessage>,
    /// In-app notifications.
    pub notifications: Vec<NotificationRecord>,
}

impl Effects {
    /// No effects.
    pub fn none() -> Self {
        Self::default()
    }
    /// One audit row.
    pub fn audit(event: AuditEvent) -> Self {
        Self {
            audit: vec![event],
            ..Self::default()
        }
    }
    /// Adds an in-app notification.
    pub fn with_notification(mut self, notification: NotificationRecord) -> Self {
        self.notifications.push(notification);
        self
    }
    /// Adds an outgoing mail.
    pub fn with_mail(mut self, mail: OutboxMessage) -> Self {
        self.mail.push(mail);
        self
    }
    /// Adds an audit row.
    pub fn with_audit(mut self, event: AuditEvent) -> Self {
        self.audit.push(event);
        self
    }
}

/// A user's TOTP enrolment: pending after setup, enabled once a first code was confirmed.
#[derive(Clone, PartialEq, Eq)]
pub struct TwoFactorRecord {
    /// The shared secret, sealed under the configured key ring.
    pub sealed_secret: Vec<u8>,
    /// False between setup and the first confirmed code.
    pub enabled: bool,
    /// The newest TOTP time step accepted; older and equal steps are refused (replay).
    pub last_used_step: Option<i64>,
    /// Setup time.
    pub created_at: Timestamp,
    /// When it was enabled.
    pub enabled_at: Option<Timestamp>,
    /// Backup codes not yet used.
    pub backup_codes_remaining: u32,
}

impl fmt::Debug for TwoFactorRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorRecord")
            .field("sealed_secret", &"[REDACTED]")
            .field("enabled", &self.enabled)
            .field("last_used_step", &self.last_used_step)
            .field("enabled_at", &self.enabled_at)
            .field("backup_codes_remaining", &self.backup_codes_remaining)
            .finish_non_exhaustive()
    }
}

/// A login session, one per successful login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// UUID v7; the `sid` claim of its access tokens.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Parsed User-Agent.
    pub device_info: DeviceInfo,
    /// Client IP at login.
    pub ip_address: Option<String>,
    /// Raw User-Agent at login.
    pub user_agent: Option<String>,
    /// Login time.
    pub created_at: Timestamp,
    /// Last authenticated request or refresh (written at most once per touch interval).
    pub last_activity_at: Timestamp,
    /// Expiry (moves forward with each refresh).
    pub expires_at: Timestamp,
    /// When it ended, if it did.
    pub revoked_at: Option<Timestamp>,
}

impl SessionRecord {
    /// True while the session can be used.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at > now
    }
}

/// A session to open, with the digest of its first refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// UUID v7.
    pub id: Uuid,
    /// Owner.
    pub user_id: Uuid,
    /// Parsed User-Agent.
    pub device_info: DeviceInfo,
    /// Client IP.
    pub ip_address: Option<String>,
    /// Raw User-Agent.
    pub user_agent: Option<String>,
    /// Login time.
    pub created_at: Timestamp,
    /// Expiry of the session and of its first refresh token.
    pub expires_at: Timestamp,
    /// SHA-256 of the first refresh token.
    pub refresh_digest: TokenDigest,
    /// The turn of the password check that let this login in, given back by the statement that
    /// opens the session (as [`release_check_turn`](crate::store::LockoutStore::release_check_turn)
    /// would, but without a commit of its own). `None` when no turn is held: a second factor, a
    /// passkey, a provider sign-in, or a turn already given back.
    pub passed_check: Option<PassedCheck>,
}

/// A granted check turn ([`CheckTurn::Granted`]) whose check passed, to be given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassedCheck {
    /// The slot the turn was granted.
    pub slot: u32,
    /// Whether giving it back ends the lock it started (it took the last slot).
    pub ends_lock: bool,
}

/// The lockout rule every credential check of an account is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    /// Checks (in flight or failed) that lock the account when reached.
    pub max_failures: u32,
    /// How long a lock lasts.
    pub lock_for: Duration,
}

/// The store's answer when a credential check asks for its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckTurn {
    /// The check may run; `slot` is its place among the counted checks (1-based). The turn
    /// that takes the last slot locks the account at once, so no further check starts while
    /// it runs; it is counted as a failure unless released.
    Granted {
        /// 1 ..= `max_failures`.
        slot: u32,
    },
    /// The account is locked: the check must not run.
    Refused {
        /// End of the lock.
        until: Timestamp,
    },
}

/// The state after a failed login was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    /// Consecutive failures, this one included.
    pub attempts: u32,
    /// Set when this failure locked the account (or a lock is running).
    pub locked_until: Option<Timestamp>,
    /// True when this very failure started the lock.
    pub newly_locked: bool,
}

/// The outcome of presenting a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was current (or rotated within the grace window): `next` is now valid.
    Rotated {
        /// The session.
        session_id: Uuid,
        /// Its owner.
        user_id: Uuid,
    },
    /// The token was rotated before the grace window: the caller must revoke the session.
    Reused {
        /// The session.
        session_id: Uuid,
        /// Its owner.
        user_id: Uuid,
    },
    /// Unknown token, expired token, or ended session.
    Invalid,
}

/// What a permanent deletion leaves of an audit row that names the user: the action, resource
/// kind and time stay (the trail keeps its shape and counts), nothing that points at the person.
pub(crate) fn anonymise(event: &mut AuditEvent, user_id: Uuid) {
    if event.user_id == Some(user_id) {
        event.user_id = None;
    }
    if event.actor_id == Some(user_id) {
        event.actor_id = None;
    }
    if event.resource_id.as_deref() == Some(user_id.to_string().as_str()) {
        event.resource_id = None;
    }
    event.ip_address = None;
    event.user_agent = None;
    event.details = anonymised_details();
}

/// `event` with `details.count = count`: the audit row of a deletion whose size only the
/// store learns (the stored and the published row are the same).
pub fn counted(mut event: AuditEvent, count: u64) -> AuditEvent {
    match event.details.as_object_mut() {
        Some(details) => {
            details.insert("count".to_owned(), count.into());
        }
        None => event.details = serde_json::json!({ "count": count }),
    }
    event
}

/// The details an anonymised audit row carries.
pub(crate) fn anonymised_details() -> serde_json::Value {
    serde_json::json!({"anonymized": true})
}

/// Shallow merge shared by every store: `null` removes a key; the result must fit `max_bytes`.
pub fn merge_preferences_value(
    current: &serde_json::Value,
    patch: serde_json::Map<String, serde_json::Value>,
    max_bytes: usize,
) -> Result<serde_json::Value> {
    let mut merged = match current {
        serde_json::Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            merged.remove(&key);
        } else {
            merged.insert(key, value);
        }
    }
    let merged = serde_json::Value::Object(merged);
    let size = serde_json::to_vec(&merged)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > max_bytes {
        return Err(crate::Error::invalid(
            "preferences",
            format!("must be at most {max_bytes} bytes once merged"),
        ));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::{Page, Total};

    #[test]
    fn a_count_is_bounded_past_the_limit_and_to_the_end_of_the_page() {
        let page = |page, limit| Page { page, limit };
        assert_eq!(page(1, 20).count_bound(0), None, "0 counts every match");
        assert_eq!(page(1, 20).count_bound(10_000), Some(10_001));
        assert_eq!(
            page(600, 20).count_bound(10_000),
            Some(12_001),
            "to the page's end"
        );
        assert_eq!(page(u64::MAX, 100).count_bound(10), Some(u64::MAX));

        let bound = Some(10_001);
        let exact = |count| Total { count, exact: true };
        assert_eq!(Total::of(0, bound), exact(0));
        assert_eq!(Total::of(10_000, bound), exact(10_000), "exactly the limit");
        assert_eq!(
            Total::of(10_001, bound),
            Total {
                count: 10_000,
                exact: false
            },
            "more than the limit: at least the limit"
        );
        assert_eq!(Total::of(123_456, None), exact(123_456));

        assert_eq!(page(1, 20).total_shown_by(0), Some(0), "nothing matches");
        assert_eq!(page(1, 20).total_shown_by(7), Some(7));
        assert_eq!(page(3, 20).total_shown_by(7), Some(47), "the last page");
        assert_eq!(
            page(1, 20).total_shown_by(20),
            None,
            "a full page: more may follow"
        );
        assert_eq!(
            page(3, 20).total_shown_by(0),
            None,
            "past the end: where it ended is unknown"
        );
    }
}
