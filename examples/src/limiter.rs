//! The server's rate-limit store when `REDIS_URL` is set: Redis, held to a time budget, with
//! this process's own counts as the fallback while Redis is unreachable.
//!
//! Without the budget, a Redis that stops answering costs every request the Redis client's
//! whole reconnection schedule (measured: 10–16 s a request, `tests/scale_out.rs`), which is an
//! outage of the API though the limiter is meant to fail open. With it, a request waits at most
//! [`REDIS_BUDGET`] once, then for [`COOL_DOWN`] every request is counted in this process (the
//! limits of a server without Redis: per instance) before Redis is tried again.

use async_trait::async_trait;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use usermgmt_core::Result;
use usermgmt_core::ratelimit::{Limit, MemoryRateLimiter, RateDecision, RateLimitStore};
use usermgmt_core::store::Timestamp;

/// The longest a request waits on Redis (a healthy one answers in about a millisecond).
const REDIS_BUDGET: Duration = Duration::from_millis(250);
/// How long counting stays local after Redis failed, before Redis is tried again.
const COOL_DOWN: Duration = Duration::from_secs(5);

/// Redis first, this process's counts while Redis is unreachable.
pub struct ResilientLimiter {
    shared: Arc<dyn RateLimitStore>,
    local: MemoryRateLimiter,
    down_until: Mutex<Option<Instant>>,
}

impl ResilientLimiter {
    /// Wraps the shared (Redis) store.
    pub fn new(shared: Arc<dyn RateLimitStore>) -> Self {
        Self {
            shared,
            local: MemoryRateLimiter::new(),
            down_until: Mutex::new(None),
        }
    }

    fn shared_is_down(&self) -> bool {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        match *down {
            Some(until) if Instant::now() < until => true,
            Some(_) => {
                *down = None;
                false
            }
            None => false,
        }
    }

    fn mark_down(&self, cause: &str) {
        let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        if down.is_none() {
            tracing::warn!(
                error = cause,
                "Redis rate-limit store unavailable; counting in this process for now"
            );
        }
        *down = Some(Instant::now() + COOL_DOWN);
    }
}

#[async_trait]
impl RateLimitStore for ResilientLimiter {
    async fn hit(&self, key: &str, limit: Limit, now: Timestamp) -> Result<RateDecision> {
        if !self.shared_is_down() {
            match tokio::time::timeout(REDIS_BUDGET, self.shared.hit(key, limit, now)).await {
                Ok(Ok(decision)) => return Ok(decision),
                Ok(Err(err)) => self.mark_down(&err.to_string()),
                Err(_) => self.mark_down("no answer in time"),
            }
        }
        self.local.hit(key, limit, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A store that never answers, like a Redis behind a network partition.
    #[derive(Default)]
    struct Hung {
        calls: AtomicUsize,
    }

    #[async_trait]
    impl RateLimitStore for Hung {
        async fn hit(&self, _: &str, _: Limit, _: Timestamp) -> Result<RateDecision> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending().await
        }
    }

    #[tokio::test]
    async fn a_hung_store_is_waited_for_once_then_counting_is_local() {
        let hung = Arc::new(Hung::default());
        let limiter = ResilientLimiter::new(hung.clone());
        let limit = usermgmt_core::ratelimit::RateLimitConfig::default().login;
        let now = Timestamp::now_utc();
        let mut allowed = 0;
        for _ in 0..=limit.max {
            if limiter.hit("k", limit, now).await.unwrap().allowed {
                allowed += 1;
            }
        }
        assert_eq!(
            hung.calls.load(Ordering::SeqCst),
            1,
            "asked once, then left alone"
        );
        assert_eq!(allowed, limit.max, "the limit still holds, per process");
    }
}
