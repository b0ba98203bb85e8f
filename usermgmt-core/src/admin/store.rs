//! The storage of this capability: [`AdminStore`], implemented by every store (`memory.rs` beside
//! this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use uuid::Uuid;

/// The administrators' user search, dashboard figures and account state changes. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// One page of users matching `search`, and how many match in all, counting no further
    /// than `count_up_to` when given (the answer is then at most `count_up_to`).
    async fn search_users(
        &self,
        search: &UserSearch,
        count_up_to: Option<u64>,
    ) -> Result<(Vec<UserRecord>, u64)>;
    /// Dashboard figures; "new" means registered at or after `new_since`.
    async fn dashboard_counts(
        &self,
        now: Timestamp,
        new_since: Timestamp,
    ) -> Result<DashboardCounts>;
    /// The figures of `days` UTC days from midnight `first_day` on, one entry per day in order
    /// (days without rows answer zeros). Rows count for the day whose `[midnight, next
    /// midnight)` holds their time, whatever the database's or the server's time zone.
    async fn daily_activity(&self, first_day: Timestamp, days: u32) -> Result<Vec<DailyActivity>>;
    /// Applies an account state change (see [`AccountChange`]); `None` when the account is not
    /// in a state the change applies to (nothing written), `NotFound("user")` when unknown.
    async fn change_account(
        &self,
        user_id: Uuid,
        change: AccountChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<UserRecord>>;
}
