//! Rate-limit settings: which limits apply and which proxies are believed. The limiter that
//! counts against them is `crate::ratelimit`; these are plain values so the configuration
//! layer depends on nothing above it.

use std::net::IpAddr;
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

    pub(crate) fn window_secs(&self) -> i64 {
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
    /// Every request presenting one API key (counted by the key's prefix, whatever the client
    /// address), on top of the client's limits.
    pub api_key: Limit,
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
            api_key: Limit::new(100, Duration::minutes(1)),
            trusted_proxies: Vec::new(),
        }
    }
}

impl RateLimitConfig {
    /// The client address: the socket peer, or — only when the peer is a trusted proxy — the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy. An IPv4-mapped
    /// IPv6 address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4 peer) is
    /// read as the IPv4 address, so it matches IPv4 proxy networks and is counted as itself.
    pub fn client_ip(&self, peer: Option<IpAddr>, forwarded_for: Option<&str>) -> Option<IpAddr> {
        let peer = peer?.to_canonical();
        if !self.is_trusted(peer) {
            return Some(peer);
        }
        let Some(chain) = forwarded_for else {
            return Some(peer);
        };
        let mut client = peer;
        for hop in chain.rsplit(',') {
            match hop.trim().parse::<IpAddr>().map(|ip| ip.to_canonical()) {
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
