//! The storage of this capability: [`ProfileStore`], implemented by every store (`memory.rs` beside
//! this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// Profiles, preferences and the avatar URL. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait ProfileStore: Send + Sync + 'static {
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
}
