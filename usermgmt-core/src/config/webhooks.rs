//! Outgoing webhooks (`webhooks/`): which URLs may be called, and how deliveries are timed.

use time::Duration;

/// The settings of webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Accept `http://` endpoint URLs (`WEBHOOK_ALLOW_HTTP`, off): only `https://` otherwise.
    pub allow_http: bool,
    /// Accept endpoints whose host resolves to a loopback, private, link-local, shared,
    /// unspecified or metadata address (`WEBHOOK_ALLOW_PRIVATE`, off): a server-side request
    /// forgery guard, to be lifted only for receivers on a trusted internal network.
    pub allow_private: bool,
    /// How long one delivery attempt may take, connection to last body byte (10 s).
    pub timeout: std::time::Duration,
    /// How long a delivery is retried before it is marked failed, and how long an endpoint may
    /// fail without a success before it is disabled (24 hours).
    pub retry_for: Duration,
    /// The first retry's delay; each next one doubles, with jitter, up to one hour (5 s).
    pub retry_base: Duration,
    /// How long the previous secret still signs after a rotation (24 hours).
    pub rotation_overlap: Duration,
    /// How long delivered and failed deliveries are kept (7 days).
    pub retention: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            allow_http: false,
            allow_private: false,
            timeout: std::time::Duration::from_secs(10),
            retry_for: Duration::hours(24),
            retry_base: Duration::seconds(5),
            rotation_overlap: Duration::hours(24),
            retention: Duration::days(7),
        }
    }
}
