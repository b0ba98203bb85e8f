//! The base area of every store: its event bus, its readiness, and effects of no other change.

use crate::error::Result;
use crate::store::EventBus;
use crate::store::records::Effects;
use async_trait::async_trait;

/// What every store has besides its capabilities' areas; part of [`Store`](crate::store::Store).
#[async_trait]
pub trait BaseStore: Send + Sync + 'static {
    /// The bus this store publishes its committed audit rows on (see [`EventBus`]).
    fn events(&self) -> &EventBus;
    /// Checks that storage answers (readiness probe).
    async fn ping(&self) -> Result<()>;
    /// Writes effects that belong to no other change (an audit row of a read, such as a data
    /// export or the start of an impersonation).
    async fn record_effects(&self, effects: Effects) -> Result<()>;
}
