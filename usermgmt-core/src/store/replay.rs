//! Whether a piece of work that failed on a deadlock may simply be run again.
//!
//! A database that resolves a deadlock rolls one of the two transactions back whole
//! ([`Error::Contention`](crate::Error::Contention)). The store cannot run that transaction again
//! by itself: its statements were chosen by the code around them, from what it read. The HTTP
//! layer can run the whole handler again, but only when nothing the handler did before the
//! deadlock was kept: a login that already counted a failure, then deadlocked on a later write,
//! must not count it twice. So the stores report every change that became durable (a committed
//! transaction, a statement outside one that changed rows) to the [`WriteLedger`] of the task
//! they run in, and [`run_tracked`] answers how many there were.
//!
//! Outside [`run_tracked`] (a host app calling the services) nothing is counted and nothing is
//! run again.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

tokio::task_local! {
    static LEDGER: Arc<WriteLedger>;
}

/// What a tracked piece of work made durable so far.
#[derive(Debug, Default)]
pub(crate) struct WriteLedger {
    durable_writes: AtomicU32,
    /// Inside [`unrecorded`]: writes are not counted.
    paused: AtomicU32,
}

/// Runs `work` with a fresh ledger; returns its output and how many durable writes the stores
/// reported while it ran.
pub(crate) async fn run_tracked<F: Future>(work: F) -> (F::Output, u32) {
    let ledger = Arc::new(WriteLedger::default());
    let output = LEDGER.scope(ledger.clone(), work).await;
    (output, ledger.durable_writes.load(Ordering::Relaxed))
}

/// A change became durable: a transaction committed, or a statement outside one changed rows.
/// Called by the SQL stores; a no-op outside [`run_tracked`].
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres", feature = "mysql")),
    allow(dead_code)
)]
pub(crate) fn record_durable_write() {
    let _ = LEDGER.try_with(|ledger| {
        if ledger.paused.load(Ordering::Relaxed) == 0 {
            ledger.durable_writes.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Runs `work` without counting its writes: for a change that the same handler undoes before it
/// can fail on a deadlock, whatever the outcome (the lockout's check turn, taken before a
/// password is checked and given back or counted as a failure right after). The caller makes
/// sure nothing in between can end as [`Error::Contention`](crate::Error::Contention) with the
/// change still in place.
pub(crate) async fn unrecorded<F: Future>(work: F) -> F::Output {
    let ledger = LEDGER.try_with(Arc::clone).ok();
    if let Some(ledger) = &ledger {
        ledger.paused.fetch_add(1, Ordering::Relaxed);
    }
    let output = work.await;
    if let Some(ledger) = &ledger {
        ledger.paused.fetch_sub(1, Ordering::Relaxed);
    }
    output
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn counts_only_inside_its_own_scope() {
        record_durable_write(); // outside any scope: ignored, no panic
        let ((), writes) = run_tracked(async {
            record_durable_write();
            tokio::task::yield_now().await;
            record_durable_write();
        })
        .await;
        assert_eq!(writes, 2);
        let ((), nested_outer) = run_tracked(async {
            let ((), inner) = run_tracked(async { record_durable_write() }).await;
            assert_eq!(inner, 1);
        })
        .await;
        assert_eq!(nested_outer, 0, "a nested scope counts for itself");
        let ((), writes) = run_tracked(async {
            unrecorded(async { record_durable_write() }).await;
            record_durable_write();
        })
        .await;
        assert_eq!(
            writes, 1,
            "an unrecorded write is not counted, the next one is"
        );
    }
}
