//! The storage of this capability: [`OutboxStore`], implemented by every store (`memory.rs` beside
//! this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use time::Duration;
use uuid::Uuid;

/// The mail outbox: claiming, delivering, retrying and retention. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
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
