//! The storage of this capability: [`AuditStore`], implemented by every store (`memory.rs` beside
//! this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// The audit trail: reads, figures and retention. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Audit rows, newest first, optionally of one user (as actor or target).
    async fn audit_events(&self, user_id: Option<Uuid>, limit: usize) -> Result<Vec<AuditEvent>>;
    /// One page of the audit rows matching `filter`, newest first, and how many match,
    /// counting no further than `count_up_to` when given (the answer is then at most
    /// `count_up_to`).
    async fn search_audit(
        &self,
        filter: &AuditFilter,
        page: Page,
        count_up_to: Option<u64>,
    ) -> Result<(Vec<AuditEvent>, u64)>;
    /// Counts of rows at or after `since`, with the `top` most frequent actions and resources.
    async fn audit_stats(&self, since: Timestamp, top: usize) -> Result<AuditStats>;
    /// User activity figures as of `now` (days counted back from it).
    async fn activity_counts(&self, now: Timestamp) -> Result<ActivityCounts>;
    /// Deletes audit rows older than `cutoff` (retention); returns how many. `effects` are
    /// written after, so the cleanup's own row survives it.
    async fn delete_audit_before(&self, cutoff: Timestamp, effects: Effects) -> Result<u64>;
}
