//! The storage of this capability: [`TwoFactorStore`], implemented by every store (`memory.rs`
//! beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::secret::TokenDigest;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// TOTP enrolments, used time steps and backup codes. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait TwoFactorStore: Send + Sync + 'static {
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
}
