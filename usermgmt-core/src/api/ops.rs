//! Who may read the operational detail: `/health/detailed` and `/metrics`.
//!
//! Both report figures that move with what users do — the mail backlog grows by one after a
//! reset request for a registered address, so a public reader could tell registered addresses
//! from the rest. They answer a client in `Config::ops_access.allowed_networks` (loopback and
//! private ranges by default) or one presenting the configured token as
//! `Authorization: Bearer <token>`. Everyone else gets exactly what an unknown path gets: the
//! 404 `ROUTE_NOT_FOUND` envelope (any method, so not even a 405 tells the route exists), the
//! global rate limit, and the `unmatched` metrics series.

use super::routes::{Endpoint, Route};
use crate::config::OpsAccess;
use crate::secret::ExposeSecret;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// Whether `endpoint` is one of the gated routes.
pub(super) fn is_gated(endpoint: Endpoint) -> bool {
    matches!(endpoint, Endpoint::HealthDetailed | Endpoint::Metrics)
}

/// Whether a path's routes are gated (all routes of a path share the gate: a 405 would tell).
pub(super) fn path_is_gated(routes: &[&'static Route]) -> bool {
    routes.iter().any(|r| is_gated(r.endpoint))
}

impl OpsAccess {
    /// Whether a client at `client_ip` presenting `authorization` (the header's value) may read
    /// the operational detail. No known address is no network: only the token opens then.
    pub(crate) fn allows(&self, client_ip: Option<IpAddr>, authorization: Option<&str>) -> bool {
        let from_allowed_network = client_ip.is_some_and(|ip| {
            // `::ffff:10.0.0.1` (an IPv4 client on a dual-stack socket) is 10.0.0.1.
            let ip = ip.to_canonical();
            self.allowed_networks.iter().any(|net| net.contains(&ip))
        });
        from_allowed_network || self.token_matches(authorization)
    }

    /// `Bearer <token>` with the configured token. The digests are compared, in constant time,
    /// so neither the token's bytes nor its length show in the time taken.
    fn token_matches(&self, authorization: Option<&str>) -> bool {
        let (Some(expected), Some(presented)) = (
            self.token.as_ref(),
            authorization.and_then(super::bearer_token),
        ) else {
            return false;
        };
        let expected = Sha256::digest(expected.expose_secret().as_bytes());
        let presented = Sha256::digest(presented.as_bytes());
        expected.ct_eq(&presented).into()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn default_networks_are_loopback_and_private() {
        let access = OpsAccess::default();
        for allowed in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(access.allows(ip(allowed), None), "{allowed}");
        }
        for refused in [
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
            "fe80::1",
        ] {
            assert!(!access.allows(ip(refused), None), "{refused}");
        }
        assert!(!access.allows(None, None), "no address is no network");
    }

    #[test]
    fn the_token_opens_from_anywhere_and_only_the_exact_token() {
        let token = "m".repeat(40);
        let access = OpsAccess::networks(Vec::new()).with_token(token.clone());
        assert!(
            !access.allows(ip("127.0.0.1"), None),
            "no network is allowed"
        );
        assert!(access.allows(ip("8.8.8.8"), Some(&format!("Bearer {token}"))));
        assert!(access.allows(None, Some(&format!("bearer {token}"))));
        for wrong in [
            format!("Bearer {token}x"),
            format!("Bearer {}", &token[1..]),
            format!("Basic {token}"),
            token.clone(),
            "Bearer ".to_owned(),
        ] {
            assert!(!access.allows(ip("8.8.8.8"), Some(&wrong)), "{wrong}");
        }
        // Without a configured token, no header opens anything.
        assert!(!OpsAccess::networks(Vec::new()).allows(ip("8.8.8.8"), Some("Bearer ")));
    }
}
