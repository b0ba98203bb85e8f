//! Rate limits: fixed windows counted per client (and per route class for the sensitive
//! routes), behind a [`RateLimitStore`] so the count can live in process
//! ([`MemoryRateLimiter`]) or in Redis (`RedisRateLimiter`, feature `redis`) where it holds
//! across instances. Both stores use the same algorithm and the injected clock, so instances
//! agree on every window.

use crate::error::Result;
use crate::store::Timestamp;
use async_trait::async_trait;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use time::Duration;

/// At most `max` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window.
    pub max: u32,
    /// Window length.
    pub window: Duration,
}

impl Limit {
    /// `max` per `window`.
    pub const fn new(max: u32, window: Duration) -> Self {
        Self { max, window }
    }

    fn window_secs(&self) -> i64 {
        self.window.whole_seconds().max(1)
    }
}

/// Which limits apply, and how client addresses are found.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Off: no limits, no headers.
    pub enabled: bool,
    /// Every request of a client (health probes excepted).
    pub global: Limit,
    /// `POST /auth/login`.
    pub login: Limit,
    /// Every route that checks a second-factor code (`/auth/login/2fa`, `/2fa/verify`,
    /// `/2fa/enable`, `/2fa/disable`, `/2fa/backup-codes`).
    pub two_factor: Limit,
    /// Mail-sending routes: `forgot-password`, `resend-verification`.
    pub email_actions: Limit,
    /// `check-email`, `check-username` (enumeration).
    pub availability: Limit,
    /// `POST /auth/register`.
    pub register: Limit,
    /// Proxies whose `X-Forwarded-For` is believed. Empty: the socket address is the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            global: Limit::new(100, Duration::minutes(1)),
            login: Limit::new(10, Duration::minutes(1)),
            two_factor: Limit::new(10, Duration::minutes(1)),
            email_actions: Limit::new(5, Duration::minutes(15)),
            availability: Limit::new(30, Duration::minutes(1)),
            register: Limit::new(20, Duration::hours(1)),
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitConfig {
    /// The client address: the socket peer, or — only when the peer is a trusted proxy — the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?;
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let Some(chain) = forwarded_for else {
            return Some(peer);
        };
        let mut client = peer;
        for hop in chain.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.is_trusted(ip) {
                        break;
                    }
                }
                // An unparsable hop ends the trusted chain; the last good address is the client.
                Err(_) => break,
            }
        }
        Some(client)
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

/// The state of one limit after a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    /// Whether the request may go on.
    pub allowed: bool,
    /// The limit's maximum (`x-ratelimit-limit`).
    pub limit: u32,
    /// Requests left in the window (`x-ratelimit-remaining`).
    pub remaining: u32,
    /// Seconds until the window resets (`x-ratelimit-reset`, `Retry-After`).
    pub reset_secs: u64,
}

impl RateDecision {
    fn from_count(count: u64, limit: Limit, now: Timestamp) -> Self {
        let window = limit.window_secs();
        let elapsed = now.unix_timestamp().rem_euclid(window);
        Self {
            allowed: count <= u64::from(limit.max),
            limit: limit.max,
            remaining: u64::from(limit.max)
                .saturating_sub(count)
                .try_into()
                .unwrap_or(0),
            reset_secs: u64::try_from(window - elapsed).unwrap_or(1).max(1),
        }
    }
}

/// Where hits are counted.
#[async_trait]
pub trait RateLimitStore: Send + Sync + 'static {
    /// Counts one hit on `key` in the window of `limit` that contains `now`.
    async fn hit(&self, key: &str, limit: Limit, now: Timestamp) -> Result<RateDecision>;
}

fn window_index(limit: Limit, now: Timestamp) -> i64 {
    now.unix_timestamp().div_euclid(limit.window_secs())
}

/// Counts in this process only (one instance, or per-instance limits).
#[derive(Debug, Default)]
pub struct MemoryRateLimiter {
    windows: Mutex<HashMap<String, (i64, u64)>>,
}

/// Past this many tracked keys, windows that have ended are dropped.
const MEMORY_SWEEP_AT: usize = 10_000;

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateLimitStore for MemoryRateLimiter {
    async fn hit(&self, key: &str, limit: Limit, now: Timestamp) -> Result<RateDecision> {
        let index = window_index(limit, now);
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        if windows.len() >= MEMORY_SWEEP_AT {
            windows.retain(|_, (i, _)| *i >= index);
        }
        let entry = windows.entry(key.to_owned()).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        entry.1 += 1;
        Ok(RateDecision::from_count(entry.1, limit, now))
    }
}

/// A shared store (such as [`RedisRateLimiter`]) held to a time budget, with this process's own
/// counts as the fallback while the shared store is unreachable.
///
/// Without it, a shared store that stops answering costs every request its whole wait (for
/// Redis, core's 250 ms budget; without that, the client's reconnection schedule: 10–16 s a
/// request, measured). With it, one request waits at most [`SHARED_BUDGET`], then for
/// [`LOCAL_COOL_DOWN`] every hit is counted in this process (the limits of an instance without
/// a shared store) before the shared store is asked again. Limits never fail open.
pub struct FallbackRateLimiter {
    shared: std::sync::Arc<dyn RateLimitStore>,
    local: MemoryRateLimiter,
    shared_down_until: Mutex<Option<Timestamp>>,
}

/// The longest a hit waits on the shared store (a healthy Redis answers in about a millisecond).
pub const SHARED_BUDGET: std::time::Duration = std::time::Duration::from_millis(250);
/// How long counting stays in this process after the shared store failed.
pub const LOCAL_COOL_DOWN: Duration = Duration::seconds(5);

impl std::fmt::Debug for FallbackRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FallbackRateLimiter")
            .field("shared_down_until", &self.shared_down_until)
            .finish_non_exhaustive()
    }
}

impl FallbackRateLimiter {
    /// Counts in `shared`, or in this process while `shared` fails or is slow.
    pub fn new(shared: std::sync::Arc<dyn RateLimitStore>) -> Self {
        Self {
            shared,
            local: MemoryRateLimiter::new(),
            shared_down_until: Mutex::new(None),
        }
    }

    fn shared_is_down(&self, now: Timestamp) -> bool {
        let mut down = self
            .shared_down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match *down {
            Some(until) if now < until => true,
            Some(_) => {
                *down = None;
                false
            }
            None => false,
        }
    }

    fn mark_down(&self, now: Timestamp, cause: &str) {
        let mut down = self
            .shared_down_until
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if down.is_none() {
            tracing::warn!(
                error = cause,
                "shared rate-limit store unavailable; counting in this process for now"
            );
        }
        *down = Some(now + LOCAL_COOL_DOWN);
    }
}

#[async_trait]
impl RateLimitStore for FallbackRateLimiter {
    async fn hit(&self, key: &str, limit: Limit, now: Timestamp) -> Result<RateDecision> {
        if !self.shared_is_down(now) {
            match tokio::time::timeout(SHARED_BUDGET, self.shared.hit(key, limit, now)).await {
                Ok(Ok(decision)) => return Ok(decision),
                Ok(Err(err)) => self.mark_down(now, &err.to_string()),
                Err(_) => self.mark_down(now, "no answer in time"),
            }
        }
        self.local.hit(key, limit, now).await
    }
}

/// Counts in Redis, so a limit holds across every instance sharing it. Wrap it in a
/// [`FallbackRateLimiter`] so a Redis outage neither slows nor unlimits requests.
#[cfg(feature = "redis")]
#[derive(Clone)]
pub struct RedisRateLimiter {
    connection: redis::aio::ConnectionManager,
    prefix: String,
}

#[cfg(feature = "redis")]
impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "redis")]
impl RedisRateLimiter {
    /// Connects (with automatic reconnection) to `url`, e.g. `redis://127.0.0.1:6379`.
    /// Keys are written under `prefix` (e.g. `usermgmt:rl`).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client =
            redis::Client::open(url).map_err(|e| crate::Error::Unavailable(e.to_string()))?;
        let connection = client
            .get_connection_manager()
            .await
            .map_err(|e| crate::Error::Unavailable(e.to_string()))?;
        Ok(Self {
            connection,
            prefix: prefix.to_owned(),
        })
    }
}

/// How long a rate-limit count may take in Redis before the request goes on without it.
#[cfg(feature = "redis")]
const REDIS_ANSWER_WITHIN: std::time::Duration = SHARED_BUDGET;

#[cfg(feature = "redis")]
#[async_trait]
impl RateLimitStore for RedisRateLimiter {
    async fn hit(&self, key: &str, limit: Limit, now: Timestamp) -> Result<RateDecision> {
        let index = window_index(limit, now);
        let redis_key = format!("{}:{key}:{}:{index}", self.prefix, limit.window_secs());
        let mut connection = self.connection.clone();
        // INCR and EXPIRE in one round trip and one atomic step.
        let mut pipe = redis::pipe();
        pipe.atomic()
            .incr(&redis_key, 1u64)
            .expire(&redis_key, limit.window_secs() + 1)
            .ignore();
        let query = pipe.query_async::<(u64,)>(&mut connection);
        // A Redis that hangs or reconnects must not hold the request: past this, the API lets
        // the request through (the limiter is unavailable; lockout still guards accounts).
        let (count,) = tokio::time::timeout(REDIS_ANSWER_WITHIN, query)
            .await
            .map_err(|_| crate::Error::Unavailable("Redis did not answer in time".into()))?
            .map_err(|e| crate::Error::Unavailable(e.to_string()))?;
        Ok(RateDecision::from_count(count, limit, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use time::macros::datetime;

    /// A shared store that never answers, like a Redis behind a network partition.
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

    /// A shared store that answers at once, or fails while `down`.
    #[derive(Default)]
    struct Flaky {
        down: std::sync::atomic::AtomicBool,
        counts: MemoryRateLimiter,
    }

    #[async_trait]
    impl RateLimitStore for Flaky {
        async fn hit(&self, key: &str, limit: Limit, now: Timestamp) -> Result<RateDecision> {
            if self.down.load(Ordering::SeqCst) {
                return Err(crate::Error::Unavailable("connection refused".into()));
            }
            self.counts.hit(key, limit, now).await
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_shared_store_is_waited_for_once_then_counting_is_local() {
        let hung = Arc::new(Hung::default());
        let limiter = FallbackRateLimiter::new(hung.clone());
        let limit = Limit::new(3, Duration::minutes(1));
        let now = datetime!(2026-01-01 00:00:10 UTC);
        let mut allowed = 0;
        for _ in 0..5 {
            if limiter.hit("k", limit, now).await.unwrap().allowed {
                allowed += 1;
            }
        }
        assert_eq!(
            hung.calls.load(Ordering::SeqCst),
            1,
            "asked once, then left alone"
        );
        assert_eq!(allowed, 3, "the limit still holds, in this process");
    }

    #[tokio::test]
    async fn the_shared_store_is_asked_again_after_the_cool_down() {
        let shared = Arc::new(Flaky::default());
        let limiter = FallbackRateLimiter::new(shared.clone());
        let limit = Limit::new(100, Duration::minutes(10));
        let t0 = datetime!(2026-01-01 00:00:10 UTC);
        assert_eq!(limiter.hit("k", limit, t0).await.unwrap().remaining, 99);
        shared.down.store(true, Ordering::SeqCst);
        // Refused: counted locally from zero, and the shared store is left alone meanwhile.
        assert_eq!(limiter.hit("k", limit, t0).await.unwrap().remaining, 99);
        shared.down.store(false, Ordering::SeqCst);
        let cooling = t0 + LOCAL_COOL_DOWN - Duration::seconds(1);
        assert_eq!(
            limiter.hit("k", limit, cooling).await.unwrap().remaining,
            98
        );
        // Back to the shared count, which kept what was spent before the outage.
        let after = t0 + LOCAL_COOL_DOWN;
        assert_eq!(limiter.hit("k", limit, after).await.unwrap().remaining, 98);
    }

    #[tokio::test]
    async fn a_window_allows_max_then_refuses_until_it_resets() {
        let limiter = MemoryRateLimiter::new();
        let limit = Limit::new(3, Duration::minutes(1));
        let t = datetime!(2026-01-01 00:00:10 UTC);
        for remaining in [2, 1, 0] {
            let d = limiter.hit("k", limit, t).await.unwrap();
            assert!(d.allowed);
            assert_eq!(d.remaining, remaining);
        }
        let d = limiter.hit("k", limit, t).await.unwrap();
        assert!(!d.allowed);
        assert_eq!(d.reset_secs, 50);
        assert!(
            limiter.hit("other", limit, t).await.unwrap().allowed,
            "keys are separate"
        );
        assert!(
            limiter
                .hit("k", limit, t + Duration::seconds(50))
                .await
                .unwrap()
                .allowed
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        let config = RateLimitConfig::default();
        assert_eq!(config.client_ip(Some(peer), Some("1.2.3.4")), Some(peer));
        let trusted = RateLimitConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..config
        };
        assert_eq!(
            trusted.client_ip(Some(peer), Some("6.6.6.6, 1.2.3.4, 10.0.0.1")),
            Some("1.2.3.4".parse().unwrap())
        );
        assert_eq!(trusted.client_ip(Some(peer), Some("garbage")), Some(peer));
        assert_eq!(
            trusted.client_ip(Some("8.8.8.8".parse().unwrap()), Some("1.2.3.4")),
            Some("8.8.8.8".parse().unwrap())
        );
    }
}
