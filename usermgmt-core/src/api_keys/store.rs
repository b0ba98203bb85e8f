//! The storage of this capability: [`ApiKeyStore`], implemented by every store (`memory.rs`
//! beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL), and its record.

use crate::error::Result;
use crate::secret::TokenDigest;
use crate::store::records::{Effects, Timestamp};
use async_trait::async_trait;
use uuid::Uuid;

/// An API key of a user. The key text itself is never stored: only its digest.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    /// Our id of the key (what the API names it by).
    pub id: Uuid,
    /// Its owner.
    pub user_id: Uuid,
    /// The owner's name for it.
    pub name: String,
    /// The lookup part of the current key (`umk_<prefix>_…`); unique, not secret.
    pub prefix: String,
    /// SHA-256 of the current key's whole text.
    pub digest: TokenDigest,
    /// The permission names the key may use (canonical spelling).
    pub scopes: Vec<String>,
    /// When the key stops working (`None`: never).
    pub expires_at: Option<Timestamp>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<Timestamp>,
    /// The key a rotation replaced, while its grace period lasts.
    pub previous: Option<PreviousKey>,
    /// The organization it belongs to (its owner managed that org's keys when it was made).
    pub org_id: Option<Uuid>,
}

/// The secret a rotation replaced, accepted until `expires_at`.
#[derive(Clone, PartialEq, Eq)]
pub struct PreviousKey {
    /// Its lookup part.
    pub prefix: String,
    /// SHA-256 of its whole text.
    pub digest: TokenDigest,
    /// The end of its grace period.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for ApiKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeyRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .field("scopes", &self.scopes)
            .field("expires_at", &self.expires_at)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .field("in_grace", &self.previous.is_some())
            .field("org_id", &self.org_id)
            .finish_non_exhaustive()
    }
}

/// A rotation's new secret.
#[derive(Debug, Clone)]
pub struct Rotation {
    /// The prefix the key had when the rotation was decided: the rotation happens only if it
    /// still has it (of two racing rotations one wins).
    pub expected_prefix: String,
    /// The new lookup part.
    pub prefix: String,
    /// SHA-256 of the new key's text.
    pub digest: TokenDigest,
    /// Until when the replaced key keeps working (`None`: it stops at once).
    pub previous_until: Option<Timestamp>,
}

/// The storage of API keys. One method per atomic unit of work.
#[async_trait]
pub trait ApiKeyStore: Send + Sync {
    /// The user's keys, oldest first.
    async fn api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKeyRecord>>;

    /// The key whose current or (in grace) previous prefix is `prefix`: one indexed read.
    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>>;

    /// Stores a new key with its effects, unless its owner already holds `max_per_user` keys
    /// (false, nothing written). The keys are counted under the owner's row lock, so creations
    /// racing each other cannot pass the cap together. `Conflict` if its id or prefix exists;
    /// `NotFound` when the owner is gone.
    async fn add_api_key(
        &self,
        key: ApiKeyRecord,
        max_per_user: usize,
        effects: Effects,
    ) -> Result<bool>;

    /// Deletes one of the user's keys with its effects; false when there is no such key.
    async fn remove_api_key(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool>;

    /// Replaces the key's secret if its prefix is still `rotation.expected_prefix` (a
    /// compare-and-set: of two racing rotations only one happens); false otherwise.
    async fn rotate_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        rotation: Rotation,
        effects: Effects,
    ) -> Result<bool>;

    /// Sets `last_used_at = now` if it is unset or not after `stale_before` (a conditional
    /// update, so a busy key writes once a minute whatever the instances), writing `effects`
    /// only then; true when it wrote.
    async fn touch_api_key(
        &self,
        id: Uuid,
        now: Timestamp,
        stale_before: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
}
