//! The store's event bus: every audit row a store commits is published here, once its
//! transaction committed, for [`crate::UserManager::subscribe`].
//!
//! Publishing happens in one place per store, on the write path every change with effects
//! takes: the SQL stores' transaction (`store/sql.rs`: `write_effects` notes the audit rows,
//! `Tx::commit` publishes them after the commit succeeded; a transaction dropped without
//! commit publishes nothing), and the memory store's `Locked::apply`. A store method that
//! returns false or `None` wrote nothing and so publishes nothing.

use super::records::AuditEvent;
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many events a slow subscriber may fall behind before it misses some (it is told how
/// many with `RecvError::Lagged`).
pub const EVENT_BUFFER: usize = 1024;

/// The channel a store publishes its committed audit rows on. Cheap to clone; clones publish
/// to the same subscribers.
#[derive(Debug, Clone)]
pub struct EventBus {
    sender: Arc<broadcast::Sender<Arc<AuditEvent>>>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self::new()
    }
}

impl EventBus {
    /// A bus with no subscriber yet, buffering [`EVENT_BUFFER`] events per subscriber.
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(EVENT_BUFFER);
        Self {
            sender: Arc::new(sender),
        }
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<AuditEvent>> {
        self.sender.subscribe()
    }

    /// Tells the subscribers of committed audit rows. Call it only after the commit: a store
    /// implemented outside this crate publishes here what it wrote.
    pub fn publish(&self, events: impl IntoIterator<Item = AuditEvent>) {
        for event in events {
            // No subscriber is not an error: the events are in the audit table anyway.
            let _ = self.sender.send(Arc::new(event));
        }
    }
}
