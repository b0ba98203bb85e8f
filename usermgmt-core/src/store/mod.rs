//! Storage behind one object-safe trait. Every method is one atomic unit of work: the change,
//! its audit rows and its outgoing mail ([`Effects`]) are written together or not at all.
//!
//! Implementations: [`memory::MemoryStore`] (tests, prototypes), `sqlite::SqliteStore`
//! (feature `sqlite`) and `postgres::PostgresStore` (feature `postgres`). All three pass the
//! same conformance suite (`testing::store_suite`).

use crate::domain::DeviceInfo;
use crate::error::Result;
use crate::secret::TokenDigest;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use time::{Date, Duration, OffsetDateTime};
use uuid::Uuid;

mod admin;
mod events;
pub mod memory;
#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[macro_use]
mod sql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use admin::*;
pub use events::{EVENT_BUFFER, EventBus};

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

/// Storage for everything usermgmt keeps. Object-safe; held as `Arc<dyn Store>`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The bus this store publishes its committed audit rows on (see [`EventBus`]).
    fn events(&self) -> &EventBus;
    /// Checks that storage answers (readiness probe).
    async fn ping(&self) -> Result<()>;
    /// Writes effects that belong to no other change (an audit row of a read, such as a data
    /// export or the start of an impersonation).
    async fn record_effects(&self, effects: Effects) -> Result<()>;

    // --- users -----------------------------------------------------------------------------

    /// Creates a user with profile, history entry, roles, optional verification token and
    /// effects. `Conflict(Email|Username)` when either is taken.
    async fn create_user(&self, user: NewUser, effects: Effects) -> Result<UserRecord>;
    /// The permissions the user's current roles grant, sorted, without duplicates.
    async fn user_permissions(&self, user_id: Uuid) -> Result<Vec<String>>;
    /// A user by id (deleted ones included; the caller decides).
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>>;
    /// A user by normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>>;
    /// A user by normalised username.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;

    // --- one-time tokens ---------------------------------------------------------------------

    /// Stores a token, marking the user's older unused tokens of the same purpose used.
    async fn issue_one_time_token(&self, token: NewOneTimeToken, effects: Effects) -> Result<()>;
    /// Looks a token up without using it.
    async fn one_time_token(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeTokenRecord>>;
    /// Uses an email-verification token and marks the email verified.
    /// `InvalidOneTimeToken` when unknown, used or expired.
    async fn verify_email(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
        effects: Effects,
    ) -> Result<UserRecord>;
    /// Uses a reset token: sets the password, records history, ends every session and clears the
    /// lockout. `InvalidOneTimeToken` when unknown, used or expired (only one concurrent use wins).
    async fn reset_password(
        &self,
        digest: &TokenDigest,
        change: PasswordChange,
        effects: Effects,
    ) -> Result<UserRecord>;

    /// Uses a single-use token of any purpose (login challenges): the check and the use are
    /// one atomic step. Returns the owner; `InvalidOneTimeToken` when unknown, used or expired.
    async fn use_one_time_token(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> Result<Uuid>;

    // --- two-factor ----------------------------------------------------------------------------

    /// The user's TOTP enrolment, if any.
    async fn two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactorRecord>>;
    /// Stores a new pending secret, replacing a pending one. `Conflict(Other)` when two-factor
    /// is already enabled; `NotFound` for an unknown user.
    async fn begin_two_factor_setup(
        &self,
        user_id: Uuid,
        sealed_secret: Vec<u8>,
        now: Timestamp,
    ) -> Result<()>;
    /// Enables the pending secret with its first code's `step` as the last used one, stores the
    /// backup codes (digests) and sets the user's flag. `NotFound` without a pending setup;
    /// `Conflict(Other)` when already enabled.
    async fn enable_two_factor(
        &self,
        user_id: Uuid,
        step: i64,
        backup_codes: Vec<TokenDigest>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()>;
    /// Removes the secret and every backup code and clears the user's flag. False when
    /// nothing was enrolled.
    async fn disable_two_factor(
        &self,
        user_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
    /// Replaces the sealed secret (re-sealed under a newer key) if it is still `current`;
    /// false when it changed meanwhile or there is no enrolment.
    async fn reseal_two_factor_secret(
        &self,
        user_id: Uuid,
        current: &[u8],
        resealed: Vec<u8>,
    ) -> Result<bool>;
    /// Accepts a TOTP time step once: true when `step` is newer than the last used one (and
    /// records it), false for a replay. Atomic under concurrency.
    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool>;
    /// Uses a backup code of the user once; false when unknown or already used. `effects` are
    /// written only when it was used.
    async fn use_backup_code(
        &self,
        user_id: Uuid,
        digest: &TokenDigest,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
    /// Replaces every backup code of the user.
    async fn replace_backup_codes(
        &self,
        user_id: Uuid,
        backup_codes: Vec<TokenDigest>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()>;

    // --- passwords ---------------------------------------------------------------------------

    /// The newest `limit` password hashes of the user (the current one first).
    async fn password_history(&self, user_id: Uuid, limit: usize) -> Result<Vec<String>>;
    /// Sets a new password, records history and ends every session but `keep_session`.
    /// Returns how many sessions were ended.
    async fn change_password(
        &self,
        user_id: Uuid,
        change: PasswordChange,
        effects: Effects,
    ) -> Result<u64>;

    // --- login -------------------------------------------------------------------------------

    /// Asks for the turn of one credential check (password or second-factor code) before it
    /// runs, in one atomic step: refused while a lock runs (then `refused` is written);
    /// otherwise the check is counted at once in the account's window (an expired lock, or a
    /// window started `rule.lock_for` ago or more, starts a new one), and the turn that reaches
    /// `rule.max_failures` starts the lock. So at most `max_failures` wrong answers are checked
    /// per account and window, whatever the concurrency.
    async fn take_check_turn(
        &self,
        user_id: Uuid,
        now: Timestamp,
        rule: LockoutRule,
        refused: Effects,
    ) -> Result<CheckTurn>;
    /// Records that the check of turn `slot` failed (it was counted when granted): writes
    /// `effects`, and when that turn took the last slot and its lock still runs, `lock_effects`
    /// too (`newly_locked`).
    async fn record_check_failure(
        &self,
        user_id: Uuid,
        slot: u32,
        now: Timestamp,
        rule: LockoutRule,
        effects: Effects,
        lock_effects: Effects,
    ) -> Result<LoginFailure>;
    /// Gives back the turn of a check that passed without opening a session (the count goes
    /// down by one; the lock that turn started ends).
    async fn release_check_turn(&self, user_id: Uuid, slot: u32, rule: LockoutRule) -> Result<()>;
    /// Spends one of a login challenge's attempts before its code is checked: the owner when
    /// the challenge is unused, unexpired and has spent fewer than `max_attempts`, else `None`.
    async fn claim_challenge_attempt(
        &self,
        digest: &TokenDigest,
        purpose: TokenPurpose,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Uuid>>;
    /// Opens a session after a successful login: sets `last_login_at` and replaces the password
    /// hash when `rehash` is given. The lockout's count is not touched: the login's check gave
    /// its own turn back ([`release_check_turn`](Store::release_check_turn)).
    async fn start_session(
        &self,
        session: NewSession,
        rehash: Option<String>,
        effects: Effects,
    ) -> Result<()>;

    // --- sessions ----------------------------------------------------------------------------

    /// Whether the user logged in before from this IP with this User-Agent: `None` when the
    /// user never had a session (a first login alerts nobody), else `Some(seen)`.
    async fn client_seen_before(
        &self,
        user_id: Uuid,
        ip_address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Option<bool>>;
    /// The session and its user, for authenticating a request.
    async fn session_with_user(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord)>>;
    /// [`session_with_user`](Store::session_with_user) and that user's profile (the default
    /// when none is stored), for `GET /users/profile`, the most frequent authenticated read. The
    /// default reads them one after the other; the SQL stores read all three in one statement.
    async fn session_with_user_and_profile(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord, ProfileRecord)>> {
        let Some((session, user)) = self.session_with_user(session_id).await? else {
            return Ok(None);
        };
        let profile = self.profile(user.id).await?.unwrap_or_default();
        Ok(Some((session, user, profile)))
    }
    /// Records activity on a session.
    async fn touch_session(&self, session_id: Uuid, now: Timestamp) -> Result<()>;
    /// Rotates a refresh token (see [`RefreshRotation`]); on success `next` is stored with
    /// expiry `expires_at` and the session's expiry moves to it.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        now: Timestamp,
        expires_at: Timestamp,
        grace: Duration,
    ) -> Result<RefreshRotation>;
    /// Ends one session of the user. False when it was not an active session of theirs.
    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
    /// Ends every active session of the user but `except`. Returns how many.
    async fn revoke_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<u64>;
    /// Active sessions of the user, newest first.
    async fn list_sessions(&self, user_id: Uuid, now: Timestamp) -> Result<Vec<SessionRecord>>;

    // --- profile -----------------------------------------------------------------------------

    /// The profile of a user (every user has one).
    async fn profile(&self, user_id: Uuid) -> Result<Option<ProfileRecord>>;
    /// Applies a profile change.
    async fn update_profile(
        &self,
        user_id: Uuid,
        update: ProfileUpdate,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, ProfileRecord)>;
    /// Shallow-merges `patch` into the preferences (a `null` value removes the key).
    /// `Validation` when the result exceeds `max_bytes`.
    async fn merge_preferences(
        &self,
        user_id: Uuid,
        patch: serde_json::Map<String, serde_json::Value>,
        max_bytes: usize,
        now: Timestamp,
        effects: Effects,
    ) -> Result<serde_json::Value>;

    // --- notifications -----------------------------------------------------------------------

    /// A page of the user's notifications, newest first (`unread_only` filters), with totals.
    async fn notifications(
        &self,
        user_id: Uuid,
        unread_only: bool,
        offset: u64,
        limit: u64,
    ) -> Result<NotificationPage>;
    /// Marks one notification of the user read; false when it is not theirs or unknown.
    async fn mark_notification_read(&self, user_id: Uuid, id: Uuid, now: Timestamp)
    -> Result<bool>;
    /// Marks every unread notification of the user read; returns how many.
    async fn mark_all_notifications_read(&self, user_id: Uuid, now: Timestamp) -> Result<u64>;
    /// Deletes one notification of the user; false when it is not theirs or unknown.
    /// `effects` are written only when it was deleted.
    async fn delete_notification(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool>;
    /// Deletes every notification of the user; returns how many. When any went, `audit` is
    /// written in the same transaction with `details.count` set to that number (see
    /// [`counted`]); when none did, nothing is written.
    async fn delete_all_notifications(&self, user_id: Uuid, audit: AuditEvent) -> Result<u64>;

    // --- roles -------------------------------------------------------------------------------

    /// Every permission with its description, sorted by name.
    async fn permission_catalog(&self) -> Result<Vec<(String, String)>>;
    /// Every role with permissions and user count, sorted by name.
    async fn list_roles(&self) -> Result<Vec<RoleRecord>>;
    /// One role.
    async fn role_by_id(&self, id: Uuid) -> Result<Option<RoleRecord>>;
    /// Creates a role. `Conflict(RoleName)` when the name is taken.
    async fn create_role(&self, role: NewRole, effects: Effects) -> Result<RoleRecord>;
    /// Changes a role. `NotFound("role")`; `SystemRole` when renaming a system role;
    /// `Conflict(RoleName)` when the new name is taken.
    async fn update_role(
        &self,
        id: Uuid,
        change: RoleChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<RoleRecord>;
    /// Deletes a role. `NotFound("role")`; `SystemRole`; `RoleInUse` while a user holds it;
    /// `Conflict(Other)` when `checked_permissions` is given and the role no longer holds
    /// exactly those (see [`RoleChange::checked_permissions`]).
    async fn delete_role(
        &self,
        id: Uuid,
        checked_permissions: Option<&[String]>,
        effects: Effects,
    ) -> Result<()>;
    /// Gives a user a role. `NotFound("user" | "role")`; false (and no effects) when the user
    /// holds it already.
    async fn assign_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
    /// Takes a role from a user. `NotFound("user" | "role assignment")`; `LastRole` when it is the
    /// user's only one (decided under a lock on the user, so concurrent removals cannot leave
    /// a user with no role).
    async fn remove_role(
        &self,
        user_id: Uuid,
        role_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()>;

    // --- administration ----------------------------------------------------------------------

    /// One page of users matching `search`, and how many match in all.
    async fn search_users(&self, search: &UserSearch) -> Result<(Vec<UserRecord>, u64)>;
    /// Dashboard figures; "new" means registered at or after `new_since`.
    async fn dashboard_counts(
        &self,
        now: Timestamp,
        new_since: Timestamp,
    ) -> Result<DashboardCounts>;
    /// Applies an account state change (see [`AccountChange`]); `None` when the account is not
    /// in a state the change applies to (nothing written), `NotFound("user")` when unknown.
    async fn change_account(
        &self,
        user_id: Uuid,
        change: AccountChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<UserRecord>>;
    /// Sets or clears the avatar URL; returns the user as changed and the URL it replaced, read
    /// under the same lock as the write: of any number of concurrent changes each learns
    /// exactly the URL it displaced, so every displaced file has exactly one caller to remove
    /// it. When `avatar` is what is stored already, nothing is written (`effects` neither).
    /// `NotFound("user")` when unknown.
    async fn set_avatar(
        &self,
        user_id: Uuid,
        avatar: Option<String>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, Option<String>)>;
    /// What is stored about a user besides the user row and profile (GDPR export).
    async fn user_data_export(&self, user_id: Uuid) -> Result<UserDataExport>;
    /// Ids of users soft-deleted before `cutoff`, oldest first.
    async fn users_deleted_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Uuid>>;
    /// Removes a user and everything stored about them; their audit rows stay, anonymised
    /// (no user, IP, User-Agent or details). With `deleted_before`, only a user soft-deleted
    /// before that time is removed (the purge: a recovered account is kept). False when
    /// nothing was removed; `effects` are written only when something was.
    async fn delete_user_permanently(
        &self,
        user_id: Uuid,
        deleted_before: Option<Timestamp>,
        effects: Effects,
    ) -> Result<bool>;

    // --- audit -------------------------------------------------------------------------------

    /// Audit rows, newest first, optionally of one user (as actor or target).
    async fn audit_events(&self, user_id: Option<Uuid>, limit: usize) -> Result<Vec<AuditEvent>>;
    /// One page of the audit rows matching `filter`, newest first, and how many match.
    async fn search_audit(
        &self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEvent>, u64)>;
    /// Counts of rows at or after `since`, with the `top` most frequent actions and resources.
    async fn audit_stats(&self, since: Timestamp, top: usize) -> Result<AuditStats>;
    /// User activity figures as of `now` (days counted back from it).
    async fn activity_counts(&self, now: Timestamp) -> Result<ActivityCounts>;
    /// Deletes audit rows older than `cutoff` (retention); returns how many. `effects` are
    /// written after, so the cleanup's own row survives it.
    async fn delete_audit_before(&self, cutoff: Timestamp, effects: Effects) -> Result<u64>;

    // --- outbox ------------------------------------------------------------------------------

    /// Claims up to `limit` due messages for delivery, hiding them from other workers for
    /// `lease` (a crashed worker's claim expires and the message is retried).
    async fn claim_due_mail(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>>;
    /// Marks a message delivered and drops its sealed payload; deletes it instead when its
    /// recipient is no account's address any longer (a purged account's last notice), so the
    /// address leaves no row behind.
    async fn mark_mail_sent(&self, id: Uuid, now: Timestamp) -> Result<()>;
    /// Deletes up to `limit` delivered or parked messages finished before `before`; returns how
    /// many (retention of the outbox's recipients and metadata).
    async fn delete_finished_mail(&self, before: Timestamp, limit: usize) -> Result<u64>;
    /// Records a failed attempt: retry at `retry_at`, or park it as failed when `None` (deleted
    /// instead, like a delivered one, when the recipient is no account's address any longer).
    async fn mark_mail_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()>;
    /// Messages not yet delivered nor parked.
    async fn mail_backlog(&self) -> Result<u64>;
    /// Outbox rows addressed to `recipient`, in any state (what an erasure leaves behind).
    async fn mail_rows_to(&self, recipient: &str) -> Result<u64>;
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

/// Escapes `\`, `%` and `_` so a search term matches literally inside `LIKE ... ESCAPE '\'`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn escape_like(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The details an anonymised audit row carries.
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

/// How long a pooled database connection may sit idle and still be handed out without a
/// liveness check first.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub const CHECK_CONNECTIONS_IDLE_FOR: std::time::Duration = std::time::Duration::from_millis(500);

/// The pool policy of the SQL stores: a connection idle for [`CHECK_CONNECTIONS_IDLE_FOR`] or
/// longer is pinged before it is handed out (a broken one is closed and another taken), one
/// used more recently is not. sqlx's default pings every connection on every acquire, a round
/// trip to the database in front of every statement under load; a connection that answered
/// its release check (sqlx pings each connection it takes back) less than half a second ago is
/// live. A database restart takes longer than that, so connections it broke are idle longer
/// and checked as before. HikariCP's `aliveBypassWindowMs` is the same rule, at the same
/// 500 ms. For a host app's own pool: `check_idle_connections(PgPoolOptions::new())`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub fn check_idle_connections<DB: sqlx::Database>(
    options: sqlx::pool::PoolOptions<DB>,
) -> sqlx::pool::PoolOptions<DB> {
    use sqlx::Connection;
    options
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_CONNECTIONS_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

#[cfg(all(test, feature = "sqlite"))]
mod pool_policy_tests {
    use super::*;

    /// Only idle connections are checked: sqlx's check of every connection on every acquire is
    /// off, the idle check is what replaces it (its recovery after an outage is held by
    /// `examples/tests/scale_out.rs`).
    #[tokio::test]
    async fn connections_are_checked_only_when_idle() {
        let options = check_idle_connections(sqlx::sqlite::SqlitePoolOptions::new());
        assert!(!options.get_test_before_acquire());
        let pool = options
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        // Taken again at once (no check) and after the idle window (checked): both live.
        for pause in [0, CHECK_CONNECTIONS_IDLE_FOR.as_millis() as u64 + 50] {
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            let one: i64 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(one, 1);
        }
    }
}
