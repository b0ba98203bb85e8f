//! The operational routes (the probes, the metrics, the key set: their rows and handlers), and
//! who may read the operational detail: `/health/detailed` and `/metrics`.
//!
//! Both report figures that move with what users do — the mail backlog grows by one after a
//! reset request for a registered address, so a public reader could tell registered addresses
//! from the rest. They answer a client in `Config::ops_access.allowed_networks` (loopback and
//! private ranges by default) or one presenting the configured token as
//! `Authorization: Bearer <token>`. Everyone else gets exactly what an unknown path gets: the
//! 404 `ROUTE_NOT_FOUND` envelope (any method, so not even a 405 tells the route exists), the
//! global rate limit, and the `unmatched` metrics series.

use super::openapi::schema::*;
use super::routes::{Docs, RateLimit, Route, handler};
use super::{Api, ApiResponse, RequestContext};
use crate::config::OpsAccess;
use crate::error::{Error, Result};
use crate::secret::ExposeSecret;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use subtle::ConstantTimeEq;

/// The probes, the metrics and the key set. None is rate limited: a load balancer or a
/// scraper polls them.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/health",
        "Health",
        "Liveness and version",
        handler!(health),
        |_| Docs::data(record(&[("status", json!({"const": "ok"}))])),
    )
    .limit(RateLimit::Exempt),
    Route::new(
        "GET",
        "/ready",
        "Ready",
        "Readiness: storage answers",
        handler!(ready),
        |_| Docs::data(record(&[("status", json!({"const": "ready"}))])),
    )
    .limit(RateLimit::Exempt),
    Route::new(
        "GET",
        "/live",
        "Live",
        "Liveness probe",
        handler!(live),
        |_| Docs::data(record(&[("status", json!({"const": "alive"}))])),
    )
    .limit(RateLimit::Exempt),
    Route::new(
        "GET",
        "/health/detailed",
        "HealthDetailed",
        "Database and mail outbox; 503 when degraded",
        handler!(health_detailed),
        |_| {
            Docs::data(record(&[
                (
                    "status",
                    json!({"type": "string", "enum": ["ok", "degraded"]}),
                ),
                ("version", string()),
                (
                    "checks",
                    record(&[
                        (
                            "database",
                            record(&[
                                ("status", json!({"type": "string", "enum": ["up", "down"]})),
                                ("latencyMs", json!({"type": "number", "minimum": 0})),
                            ]),
                        ),
                        (
                            "mailQueue",
                            json!({
                                "type": "object",
                                "properties": {
                                    "status": {"type": "string", "enum": ["up", "unknown"]},
                                    "backlog": {"type": "integer", "minimum": 0, "description": "Mails waiting (absent when unknown)"},
                                },
                                "required": ["status"],
                            }),
                        ),
                    ]),
                ),
            ]))
            // Degraded is still a report (the success envelope), not an error.
            .also(503, "Degraded: the database is down")
        },
    )
    .limit(RateLimit::Exempt)
    .ops_only(),
    Route::new(
        "GET",
        "/metrics",
        "Metrics",
        "Prometheus metrics: requests, latencies, logins, hash queue, mail backlog",
        handler!(metrics),
        |_| Docs::content(json!({"text/plain": {"schema": {"type": "string"}}})),
    )
    .limit(RateLimit::Exempt)
    .ops_only(),
    Route::new(
        "GET",
        "/.well-known/jwks.json",
        "Jwks",
        "Public keys verifying access tokens (EdDSA)",
        handler!(jwks),
        |_| {
            Docs::content(json!({"application/json": {"schema": {
                "type": "object",
                "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
                "required": ["keys"],
            }}}))
        },
    )
    .limit(RateLimit::Exempt),
];

// The public probes say up or down and nothing more (no version, no uptime: a version tells an
// attacker which advisories apply, an uptime when patches landed). The detail is in
// `/health/detailed` and `/metrics`, behind `Config::ops_access`.
async fn health(_: &Api, _: &RequestContext) -> Result<ApiResponse> {
    Ok(ApiResponse::success(200, "OK", json!({"status": "ok"})))
}

async fn live(_: &Api, _: &RequestContext) -> Result<ApiResponse> {
    Ok(ApiResponse::success(200, "OK", json!({"status": "alive"})))
}

async fn ready(api: &Api, _: &RequestContext) -> Result<ApiResponse> {
    api.manager().ping().await?;
    Ok(ApiResponse::success(
        200,
        "Ready",
        json!({"status": "ready"}),
    ))
}

/// Each check reports on its own; the probe is degraded (503) when storage is down. A mail
/// backlog is reported, not fatal: the outbox keeps mail safe.
async fn health_detailed(api: &Api, _: &RequestContext) -> Result<ApiResponse> {
    let m = api.manager();
    let started = std::time::Instant::now();
    let database = m.ping().await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    // With the database down the count fails too: do not wait for it a second time.
    let backlog = match &database {
        Ok(()) => m.store().mail_backlog().await,
        Err(_) => Err(Error::Unavailable("database down".into())),
    };
    let healthy = database.is_ok();
    let checks = json!({
        "database": {
            "status": if healthy { "up" } else { "down" },
            "latencyMs": (latency_ms * 100.0).round() / 100.0,
        },
        "mailQueue": match &backlog {
            Ok(n) => json!({"status": "up", "backlog": n}),
            Err(_) => json!({"status": "unknown"}),
        },
    });
    let (status, message, overall) = if healthy {
        (200, "OK", "ok")
    } else {
        (503, "Degraded", "degraded")
    };
    Ok(ApiResponse::success(
        status,
        message,
        json!({"status": overall, "version": env!("CARGO_PKG_VERSION"), "checks": checks}),
    ))
}

async fn metrics(api: &Api, _: &RequestContext) -> Result<ApiResponse> {
    Ok(ApiResponse {
        status: 200,
        headers: vec![(
            "content-type".to_owned(),
            "text/plain; version=0.0.4; charset=utf-8".to_owned(),
        )],
        body: api.metrics_text().await.into_bytes(),
    })
}

async fn jwks(api: &Api, _: &RequestContext) -> Result<ApiResponse> {
    // A plain JWK set, not the envelope: JWT libraries read this document as is.
    let mut response = ApiResponse::json(200, api.manager().jwks());
    response.push_header("cache-control", "public, max-age=300");
    Ok(response)
}

/// Whether a path's routes are gated (all routes of a path share the gate: a 405 would tell).
pub(super) fn path_is_gated(routes: &[&'static Route]) -> bool {
    routes.iter().any(|r| r.ops_only)
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
