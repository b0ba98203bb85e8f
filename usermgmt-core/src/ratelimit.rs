//! Rate limits: fixed windows counted per client (and per route class for the sensitive
//! routes), behind a [`RateLimitStore`] so the count can live in process
//! ([`MemoryRateLimiter`]) or in Redis (`RedisRateLimiter`, feature `redis`) where it holds
//! across instances. Both stores use the same algorithm and the injected clock, so instances
//! agree on every window.

use crate::error::Result;
use crate::store::Timestamp;
use async_trait::async_trait;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use time::Duration;

pub use crate::config::{Limit, RateLimitConfig};

/// The name a client's requests are counted under: an IPv4 address as itself, an IPv6 address
/// by its /64 prefix (`2001:db8:1:2::/64`), an IPv4-mapped IPv6 address as the IPv4 address.
///
/// A /64 is the smallest network an IPv6 host is given (SLAAC needs one per link, and
/// providers hand out a /64 or more per customer), and a host picks addresses in it freely:
/// counted per address, one machine would get 2^64 fresh budgets.
pub fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & (u128::MAX << 64);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
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
///
/// Every hit does a bounded amount of work whatever the number of keys: the keys are spread
/// over [`MEMORY_SHARDS`] maps with a lock each, and every map keeps its keys in the order their
/// windows end (one queue per window length: fixed windows of one length end in the order they
/// were opened), so a hit drops at most [`MEMORY_SWEEP_PER_HIT`] windows that have ended, from
/// the front of its map's queues, and never looks at the others. As a hit opens at most one
/// window and drops up to four, ended windows are dropped faster than they can pile up.
#[derive(Debug)]
pub struct MemoryRateLimiter {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

/// How many maps (and locks) the memory limiter spreads its keys over.
pub const MEMORY_SHARDS: usize = 32;
/// The most ended windows one hit drops.
pub const MEMORY_SWEEP_PER_HIT: usize = 4;

/// The window a key is counting in.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// Unix second the window ends at (exclusive).
    end: i64,
    count: u64,
}

/// `(end, key)` of every window opened with one window length, oldest first.
type EndQueue = VecDeque<(i64, Arc<str>)>;

#[derive(Debug, Default)]
struct Shard {
    windows: HashMap<Arc<str>, Window>,
    /// Per window length (seconds): `(end, key)` for every window opened, oldest first. A key
    /// whose window was renewed has its old item here too; it is recognised by its `end` and
    /// skipped.
    ends: Vec<(i64, EndQueue)>,
}

impl Shard {
    /// Drops up to `budget` windows that ended at or before `now`, oldest first.
    fn sweep(&mut self, now: i64, mut budget: usize) {
        let Self { windows, ends } = self;
        for (_, queue) in ends.iter_mut() {
            while budget > 0 && queue.front().is_some_and(|(end, _)| *end <= now) {
                let Some((end, key)) = queue.pop_front() else {
                    break;
                };
                budget -= 1;
                if windows.get(&key).is_some_and(|w| w.end == end) {
                    windows.remove(&key);
                }
            }
        }
    }

    fn queue(&mut self, window_secs: i64) -> &mut EndQueue {
        let at = match self.ends.iter().position(|(secs, _)| *secs == window_secs) {
            Some(at) => at,
            None => {
                self.ends.push((window_secs, VecDeque::new()));
                self.ends.len() - 1
            }
        };
        &mut self.ends[at].1
    }

    /// Counts a hit in the window ending at `end`, opening it (and queueing its end) when the
    /// key has no window or an older one.
    fn hit(&mut self, key: &str, end: i64, window_secs: i64) -> u64 {
        let opened = match self.windows.get_mut(key) {
            Some(window) if window.end == end => {
                window.count = window.count.saturating_add(1);
                return window.count;
            }
            Some(window) => {
                *window = Window { end, count: 1 };
                self.windows
                    .get_key_value(key)
                    .map(|(stored, _)| stored.clone())
            }
            None => {
                let stored: Arc<str> = Arc::from(key);
                self.windows
                    .insert(stored.clone(), Window { end, count: 1 });
                Some(stored)
            }
        };
        if let Some(stored) = opened {
            self.queue(window_secs).push_back((end, stored));
        }
        1
    }
}

impl Default for MemoryRateLimiter {
    fn default() -> Self {
        Self {
            shards: (0..MEMORY_SHARDS)
                .map(|_| Mutex::new(Shard::default()))
                .collect(),
            hasher: RandomState::new(),
        }
    }
}

impl MemoryRateLimiter {
    /// An empty limiter.
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, key: &str) -> std::sync::MutexGuard<'_, Shard> {
        let at = (self.hasher.hash_one(key) % MEMORY_SHARDS as u64) as usize;
        self.shards[at].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many keys have a window in memory (ended ones not yet dropped included). Locks each
    /// map in turn: for tests and diagnostics, not for the request path.
    pub fn tracked_keys(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).windows.len())
            .sum()
    }
}

#[async_trait]
impl RateLimitStore for MemoryRateLimiter {
    async fn hit(&self, key: &str, limit: Limit, now: Timestamp) -> Result<RateDecision> {
        let window_secs = limit.window_secs();
        let end = window_index(limit, now)
            .saturating_add(1)
            .saturating_mul(window_secs);
        let mut shard = self.shard(key);
        shard.sweep(now.unix_timestamp(), MEMORY_SWEEP_PER_HIT);
        let count = shard.hit(key, end, window_secs);
        drop(shard);
        Ok(RateDecision::from_count(count, limit, now))
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
    fn ipv6_clients_are_counted_by_their_64_and_mapped_ipv4_as_ipv4() {
        let key = |ip: &str| client_key(ip.parse().unwrap());
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_ne!(key("203.0.113.9"), key("203.0.113.10"), "IPv4 per address");
        assert_eq!(key("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:DB8:1:2:a:b:c:d"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::1"), "::/64");
        assert_eq!(key("fe80::1"), "fe80::/64");
    }

    #[test]
    fn mapped_ipv4_peers_and_hops_read_as_ipv4() {
        let config = RateLimitConfig {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..RateLimitConfig::default()
        };
        let mapped_proxy: IpAddr = "::ffff:10.0.0.2".parse().unwrap();
        assert_eq!(
            config.client_ip(Some(mapped_proxy), Some("::ffff:198.51.100.7")),
            Some("198.51.100.7".parse().unwrap()),
            "a dual-stack socket's view of an IPv4 proxy is still the proxy"
        );
        assert_eq!(
            config.client_ip(Some("::ffff:198.51.100.7".parse().unwrap()), None),
            Some("198.51.100.7".parse().unwrap())
        );
        assert_eq!(
            config.client_ip(Some(mapped_proxy), Some("2001:db8::5, ::ffff:10.0.0.9")),
            Some("2001:db8::5".parse().unwrap()),
            "a mapped trusted hop is skipped like its IPv4 address"
        );
    }

    #[tokio::test]
    async fn many_keys_count_right_and_ended_windows_go_a_few_per_hit() {
        const KEYS: usize = 200_000;
        let limiter = MemoryRateLimiter::new();
        let minute = Limit::new(2, Duration::minutes(1));
        let hour = Limit::new(2, Duration::hours(1));
        let t0 = datetime!(2026-01-01 00:00:10 UTC);
        for i in 0..KEYS {
            let d = limiter
                .hit(&format!("global:{i}"), minute, t0)
                .await
                .unwrap();
            assert_eq!((d.allowed, d.remaining), (true, 1), "key {i}");
        }
        for i in 0..1000 {
            limiter
                .hit(&format!("register:{i}"), hour, t0)
                .await
                .unwrap();
        }
        assert_eq!(limiter.tracked_keys(), KEYS + 1000);
        for i in (0..KEYS).step_by(997) {
            let key = format!("global:{i}");
            let second = limiter.hit(&key, minute, t0).await.unwrap();
            assert_eq!((second.allowed, second.remaining), (true, 0));
            assert!(!limiter.hit(&key, minute, t0).await.unwrap().allowed);
        }

        // The minute ends. One hit drops a few ended windows, never all of them at once (the
        // limiter used to scan every key under one lock on every hit past 10 000 keys).
        let t1 = t0 + Duration::minutes(1);
        let before = limiter.tracked_keys();
        limiter.hit("global:fresh", minute, t1).await.unwrap();
        let dropped = before + 1 - limiter.tracked_keys();
        assert!(
            (1..=MEMORY_SWEEP_PER_HIT).contains(&dropped),
            "dropped {dropped}"
        );
        // Traffic of new keys drops every ended window as it goes, and keeps the live ones.
        for i in 0..KEYS {
            let d = limiter
                .hit(&format!("global:new:{i}"), minute, t1)
                .await
                .unwrap();
            assert_eq!(d.remaining, 1);
        }
        assert_eq!(
            limiter.tracked_keys(),
            KEYS + 1 + 1000,
            "only the new keys and the hour's windows are left"
        );
        let queued: usize = limiter
            .shards
            .iter()
            .map(|s| {
                s.lock()
                    .unwrap()
                    .ends
                    .iter()
                    .map(|(_, q)| q.len())
                    .sum::<usize>()
            })
            .sum();
        assert_eq!(queued, KEYS + 1 + 1000, "no queued end outlives its window");
        // An old key starts a new window; an hour key still counts in its own.
        assert_eq!(
            limiter.hit("global:0", minute, t1).await.unwrap().remaining,
            1
        );
        let again = limiter.hit("register:7", hour, t1).await.unwrap();
        assert_eq!((again.allowed, again.remaining), (true, 0));
        assert!(!limiter.hit("register:7", hour, t1).await.unwrap().allowed);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_hits_on_one_key_are_all_counted() {
        let limiter = Arc::new(MemoryRateLimiter::new());
        let limit = Limit::new(100, Duration::minutes(1));
        let now = datetime!(2026-01-01 00:00:10 UTC);
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    for _ in 0..10 {
                        let d = limiter.hit("login:k", limit, now).await.unwrap();
                        seen.push((d.allowed, d.remaining));
                    }
                    seen
                })
            })
            .collect();
        let mut allowed_remaining = Vec::new();
        let mut refused = 0;
        for seen in futures_util::future::join_all(tasks).await {
            for (allowed, remaining) in seen.unwrap() {
                if allowed {
                    allowed_remaining.push(remaining);
                } else {
                    refused += 1;
                }
            }
        }
        allowed_remaining.sort_unstable();
        assert_eq!(
            allowed_remaining,
            (0..100).collect::<Vec<u32>>(),
            "each count once"
        );
        assert_eq!(refused, 220);
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
