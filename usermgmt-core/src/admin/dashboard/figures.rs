//! What the dashboard answers and what an instance remembers of it: kept apart from the
//! reading (`mod.rs`), so the manager, which holds the memory, imports no code that imports it.

use crate::store::{DailyActivity, DashboardCounts, RoleRecord, Timestamp};
use std::sync::{Arc, Mutex, PoisonError};

/// Dashboard figures with the roles and their holders.
#[derive(Debug, Clone)]
pub struct Dashboard {
    /// User and session counts.
    pub counts: DashboardCounts,
    /// Every role with its user count.
    pub roles: Vec<RoleRecord>,
    /// Organizations not deleted.
    pub organizations: u64,
    /// The last [`DASHBOARD_DAYS`] UTC days, today last (today so far).
    pub daily: Vec<DailyActivity>,
    /// When these figures were read: now, or earlier when they were slow to read and are
    /// answered again (see `admin/dashboard/mod.rs`).
    pub as_of: Timestamp,
}

/// Days the dashboard's per-day figures cover, today included.
pub const DASHBOARD_DAYS: u32 = 30;

/// The last figures this instance read, and the one read at a time.
#[derive(Default)]
pub(crate) struct DashboardMemory {
    latest: Mutex<Option<LastRead>>,
    /// Held while figures are read: requests that wait for it answer the figures of a read that
    /// started after they arrived rather than read them again, and a background read is one.
    pub(super) reading: Arc<tokio::sync::Mutex<()>>,
}

/// Figures and how they were read.
pub(super) struct LastRead {
    /// When the read started (the process's clock: only the order of events matters here).
    pub(super) started: std::time::Instant,
    /// Whether it took at least `Config::dashboard_slow_read`: only then are they reused
    /// by later requests.
    pub(super) slow: bool,
    pub(super) figures: Arc<Dashboard>,
}

impl DashboardMemory {
    /// The latest figures, if `keep` says they may answer.
    pub(super) fn latest_if(&self, keep: impl FnOnce(&LastRead) -> bool) -> Option<Arc<Dashboard>> {
        self.latest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|read| keep(read))
            .map(|read| read.figures.clone())
    }

    pub(super) fn remember(&self, read: LastRead) {
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = Some(read);
    }
}
