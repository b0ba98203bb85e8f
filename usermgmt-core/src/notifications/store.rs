//! The storage of this capability: [`NotificationStore`], implemented by every store (`memory.rs`
//! beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// In-app notifications. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait NotificationStore: Send + Sync + 'static {
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
}
