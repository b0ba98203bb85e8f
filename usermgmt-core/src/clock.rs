//! Time is a parameter: every service reads "now" from a [`Clock`], so expiry, lockout and
//! TOTP windows can be tested by moving a [`MockClock`] instead of sleeping.

use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};

/// A source of the current time.
pub trait Clock: Send + Sync + Debug + 'static {
    /// The current UTC time, truncated to microseconds (the precision every store keeps).
    fn now(&self) -> OffsetDateTime;
}

/// Truncates to whole microseconds so a value read back from PostgreSQL equals the one written.
pub fn truncate_to_micros(t: OffsetDateTime) -> OffsetDateTime {
    let micros = t.microsecond();
    t.replace_nanosecond(micros * 1_000).unwrap_or(t)
}

/// The real wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one reading of the wall clock
    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(OffsetDateTime::now_utc())
    }
}

/// A clock that only moves when told to. Cheap to clone; clones share the same time.
#[derive(Debug, Clone)]
pub struct MockClock {
    now: Arc<Mutex<OffsetDateTime>>,
}

impl MockClock {
    /// A clock standing at the given time.
    pub fn at(t: OffsetDateTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(truncate_to_micros(t))),
        }
    }

    /// A clock standing at the current wall-clock time.
    #[allow(clippy::disallowed_methods)] // a mock clock starts from the real one
    pub fn starting_now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    /// Moves the clock forward (or backward, with a negative duration).
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    /// Sets the clock.
    pub fn set(&self, t: OffsetDateTime) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = truncate_to_micros(t);
    }
}

impl Clock for MockClock {
    fn now(&self) -> OffsetDateTime {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}
