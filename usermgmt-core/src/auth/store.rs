//! The storage of this capability: [`IdentityStore`], [`LockoutStore`], implemented by every store
//! (`memory.rs` beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::secret::TokenDigest;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// Users (create, find), their one-time tokens (email verification, password reset, login challenges) and their password history. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait IdentityStore: Send + Sync + 'static {
    /// Creates a user with profile, history entry, roles, optional verification token and
    /// effects. `Conflict(Email|Username)` when either is taken.
    async fn create_user(&self, user: NewUser, effects: Effects) -> Result<UserRecord>;
    /// A user by id (deleted ones included; the caller decides).
    async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRecord>>;
    /// A user by normalised email.
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>>;
    /// A user by normalised username.
    async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>>;
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
}

/// The turns of credential checks (the lockout) and the attempts of login challenges. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait LockoutStore: Send + Sync + 'static {
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
}
