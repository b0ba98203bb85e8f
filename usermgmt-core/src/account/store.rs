//! The storage of this capability: [`AccountStore`], implemented by every store (`memory.rs` beside
//! this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// The end of an account's life: the data export, the purge of deleted accounts. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
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
}
