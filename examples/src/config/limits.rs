//! Limits: request rate limits (global and per sensitive route, the trusted proxies that name
//! the client) and the limits on client connections that `serve.rs` and `guard.rs` enforce.

use super::reader::{ConfigError, Result, Vars};
use super::values::{format_duration, parse_count, parse_duration, parse_networks, to_core};
use std::time::Duration;
use usermgmt_core::ratelimit::{Limit, RateLimitConfig};

/// Request rate limit: at most `max` requests per `window` (parsed and validated here; enforced by
/// the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Length of the counting window (`RATE_LIMIT_WINDOW` or `THROTTLE_TTL`; 60 s).
    pub window: Duration,
    /// Requests allowed per window (`RATE_LIMIT_MAX` or `THROTTLE_LIMIT`; 100).
    pub max: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            max: 100,
        }
    }
}

/// Limits on client connections, the same under both frameworks (`serve.rs`, `guard.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest time a client may take to send a request's head (`HTTP_HEADER_READ_TIMEOUT`;
    /// 10 s), from the accept for the first request, from its first byte for later ones.
    pub header_read_timeout: Duration,
    /// Longest time a client may take to send a request's body once its head is in
    /// (`HTTP_BODY_READ_TIMEOUT`; 30 s).
    pub body_read_timeout: Duration,
    /// Longest idle time of a kept-alive connection between two requests
    /// (`HTTP_KEEP_ALIVE_TIMEOUT`; 75 s, longer than the 60 s idle timeout of common load
    /// balancers, so the balancer, not the server, closes first).
    pub keep_alive_timeout: Duration,
    /// Most client connections open at once (`HTTP_MAX_CONNECTIONS`; 4096); past it, new ones
    /// wait in the listen backlog until one closes.
    pub max_connections: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 4096,
        }
    }
}

/// The global limit (returned, and set as the core's global limit), the sensitive routes' own
/// limits and `TRUSTED_PROXIES`, all written into `limits`.
pub(super) fn rate_limits(
    vars: &mut Vars<'_>,
    limits: &mut RateLimitConfig,
) -> Result<RateLimitSettings> {
    let settings = global_limit(vars)?;
    limits.global = Limit::new(settings.max, to_core("RATE_LIMIT_WINDOW", settings.window)?);
    route_limits(vars, limits)?;
    limits.trusted_proxies = trusted_proxies(vars)?;
    Ok(settings)
}

fn global_limit(vars: &mut Vars<'_>) -> Result<RateLimitSettings> {
    let mut settings = RateLimitSettings::default();
    if let Some((name, value)) = vars.pick(&["RATE_LIMIT_WINDOW", "THROTTLE_TTL"]) {
        settings.window = parse_duration(name, &value)?;
        if name == "THROTTLE_TTL"
            && value.bytes().all(|b| b.is_ascii_digit())
            && settings.window >= Duration::from_secs(1000)
        {
            vars.warn(format!(
                "THROTTLE_TTL is in seconds: {value} means {}; write it in seconds, or with a unit such as 60s or 1m",
                format_duration(settings.window)
            ));
        }
    }
    if let Some((name, value)) = vars.pick(&["RATE_LIMIT_MAX", "THROTTLE_LIMIT"]) {
        settings.max = parse_count(name, &value)?;
    }
    Ok(settings)
}

/// The sensitive routes' own limits, each `<count>/<window>` (e.g. `10/1m`), on top of the
/// global one: `RATE_LIMIT_LOGIN`, `RATE_LIMIT_TWO_FACTOR`, `RATE_LIMIT_EMAIL`,
/// `RATE_LIMIT_AVAILABILITY`, `RATE_LIMIT_REGISTER`; and each API key's, `RATE_LIMIT_API_KEY`.
fn route_limits(vars: &mut Vars<'_>, limits: &mut RateLimitConfig) -> Result<()> {
    let routes: [(&str, &mut Limit); 6] = [
        ("RATE_LIMIT_LOGIN", &mut limits.login),
        ("RATE_LIMIT_TWO_FACTOR", &mut limits.two_factor),
        ("RATE_LIMIT_EMAIL", &mut limits.email_actions),
        ("RATE_LIMIT_AVAILABILITY", &mut limits.availability),
        ("RATE_LIMIT_REGISTER", &mut limits.register),
        ("RATE_LIMIT_API_KEY", &mut limits.api_key),
    ];
    for (name, limit) in routes {
        let Some(value) = vars.text(name) else {
            continue;
        };
        let (count, window) = value.split_once('/').ok_or_else(|| {
            ConfigError::new(
                name,
                format!("{name} must be <count>/<window> such as 10/1m, got {value:?}"),
            )
        })?;
        let max = parse_count(name, count)?;
        let window = parse_duration(name, window)?;
        *limit = Limit::new(max, to_core(name, window)?);
    }
    Ok(())
}

/// `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges whose `X-Forwarded-For` is
/// believed (a load balancer's). Unset: the socket address is the client.
fn trusted_proxies(vars: &mut Vars<'_>) -> Result<Vec<ipnet::IpNet>> {
    match vars.text("TRUSTED_PROXIES") {
        Some(value) => parse_networks("TRUSTED_PROXIES", &value),
        None => Ok(Vec::new()),
    }
}

/// `HTTP_HEADER_READ_TIMEOUT`, `HTTP_BODY_READ_TIMEOUT`, `HTTP_KEEP_ALIVE_TIMEOUT`,
/// `HTTP_MAX_CONNECTIONS`.
pub(super) fn http_limits(vars: &Vars<'_>) -> Result<HttpLimits> {
    let mut limits = HttpLimits::default();
    for (name, slot) in [
        ("HTTP_HEADER_READ_TIMEOUT", &mut limits.header_read_timeout),
        ("HTTP_BODY_READ_TIMEOUT", &mut limits.body_read_timeout),
        ("HTTP_KEEP_ALIVE_TIMEOUT", &mut limits.keep_alive_timeout),
    ] {
        if let Some(timeout) = vars.duration(name)? {
            *slot = timeout;
        }
    }
    if let Some(max) = vars.count("HTTP_MAX_CONNECTIONS")? {
        limits.max_connections = max;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::tests::{err, ok};

    #[test]
    fn rate_limit_from_both_seeds() {
        let config = ok(&[("THROTTLE_TTL", "30"), ("THROTTLE_LIMIT", "10")]);
        assert_eq!(
            config.rate_limit,
            RateLimitSettings {
                window: Duration::from_secs(30),
                max: 10
            }
        );
        let config = ok(&[("RATE_LIMIT_WINDOW", "15m"), ("RATE_LIMIT_MAX", "500")]);
        assert_eq!(
            config.rate_limit,
            RateLimitSettings {
                window: Duration::from_secs(900),
                max: 500
            }
        );
        let config = ok(&[("RATE_LIMIT_MAX", "5")]);
        assert_eq!(
            config.rate_limit,
            RateLimitSettings {
                window: Duration::from_secs(60),
                max: 5
            }
        );
        let config = ok(&[("THROTTLE_TTL", "60000")]);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("THROTTLE_TTL is in seconds"))
        );
        err(&[("THROTTLE_TTL", "soon")], "THROTTLE_TTL", "duration");
        err(&[("THROTTLE_LIMIT", "0")], "THROTTLE_LIMIT", "whole number");
        err(&[("RATE_LIMIT_WINDOW", "0s")], "RATE_LIMIT_WINDOW", "zero");
        err(&[("RATE_LIMIT_MAX", "lots")], "RATE_LIMIT_MAX", "\"lots\"");
    }

    #[test]
    fn rate_limit_and_proxies_reach_the_core() {
        let config = ok(&[
            ("RATE_LIMIT_WINDOW", "30s"),
            ("RATE_LIMIT_MAX", "7"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
            ("REDIS_URL", "redis://:pw@127.0.0.1:6379"),
        ]);
        let limits = &config.core.rate_limits;
        assert_eq!(limits.global.max, 7);
        assert_eq!(limits.global.window.whole_seconds(), 30);
        // Untouched route limits keep the core's defaults.
        assert_eq!(limits.login.max, 10);
        let routes = ok(&[
            ("RATE_LIMIT_LOGIN", "50/1m"),
            ("RATE_LIMIT_TWO_FACTOR", "5/30s"),
            ("RATE_LIMIT_EMAIL", "3/1h"),
            ("RATE_LIMIT_AVAILABILITY", "100/60"),
            ("RATE_LIMIT_REGISTER", "1000/1d"),
            ("RATE_LIMIT_API_KEY", "600/10s"),
        ]);
        let route_limits = &routes.core.rate_limits;
        let seen = [
            &route_limits.login,
            &route_limits.two_factor,
            &route_limits.email_actions,
            &route_limits.availability,
            &route_limits.register,
            &route_limits.api_key,
        ]
        .map(|l| (l.max, l.window.whole_seconds()));
        assert_eq!(
            seen,
            [
                (50, 60),
                (5, 30),
                (3, 3600),
                (100, 60),
                (1000, 86_400),
                (600, 10)
            ]
        );
        err(
            &[("RATE_LIMIT_LOGIN", "50")],
            "RATE_LIMIT_LOGIN",
            "<count>/<window>",
        );
        err(
            &[("RATE_LIMIT_REGISTER", "0/1h")],
            "RATE_LIMIT_REGISTER",
            "whole number",
        );
        err(
            &[("RATE_LIMIT_EMAIL", "5/soon")],
            "RATE_LIMIT_EMAIL",
            "duration",
        );
        assert_eq!(limits.trusted_proxies.len(), 2);
        assert_eq!(
            config.redis_url.as_deref(),
            Some("redis://:pw@127.0.0.1:6379")
        );
        assert!(!format!("{config:?}").contains(":pw@"));
        err(
            &[("TRUSTED_PROXIES", "10.0.0.0/8,lb.internal")],
            "TRUSTED_PROXIES",
            "TRUSTED_PROXIES must be",
        );
    }

    #[test]
    fn http_limits_have_defaults_and_read_their_variables() {
        let config = ok(&[]);
        assert_eq!(config.http, HttpLimits::default());
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(10));
        let config = ok(&[
            ("HTTP_HEADER_READ_TIMEOUT", "2s"),
            ("HTTP_BODY_READ_TIMEOUT", "1m"),
            ("HTTP_KEEP_ALIVE_TIMEOUT", "5"),
            ("HTTP_MAX_CONNECTIONS", "64"),
        ]);
        assert_eq!(
            config.http,
            HttpLimits {
                header_read_timeout: Duration::from_secs(2),
                body_read_timeout: Duration::from_secs(60),
                keep_alive_timeout: Duration::from_secs(5),
                max_connections: 64,
            }
        );
        err(
            &[("HTTP_HEADER_READ_TIMEOUT", "0")],
            "HTTP_HEADER_READ_TIMEOUT",
            "longer than zero",
        );
        err(
            &[("HTTP_KEEP_ALIVE_TIMEOUT", "soon")],
            "HTTP_KEEP_ALIVE_TIMEOUT",
            "duration",
        );
        err(
            &[("HTTP_MAX_CONNECTIONS", "0")],
            "HTTP_MAX_CONNECTIONS",
            "whole number",
        );
    }
}
