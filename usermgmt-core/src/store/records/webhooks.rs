//! Webhook endpoints and deliveries (`webhooks/`), and the fan-out of committed audit rows into
//! deliveries. They sit here, below the stores, because every store's write of effects
//! (`write_effects`, the memory store's `Locked::apply`) turns audit rows into deliveries in
//! the same transaction.

use super::{AuditEvent, Timestamp};
use serde_json::json;
use std::fmt;
use uuid::Uuid;

/// A registered receiver of events.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookEndpointRecord {
    /// UUID v7.
    pub id: Uuid,
    /// Where events are POSTed (checked when set, and again, resolved, at every delivery).
    pub url: String,
    /// Event patterns: an action (`USER_REGISTERED`), a prefix wildcard (`USER_*`) or `*`.
    pub events: Vec<String>,
    /// Free text for the operators.
    pub description: Option<String>,
    /// Disabled endpoints get no new deliveries; their pending ones wait.
    pub enabled: bool,
    /// The signing secret (`whsec_…`), sealed.
    pub sealed_secret: Vec<u8>,
    /// The secret before the last rotation, sealed; it signs too until `previous_secret_until`.
    pub sealed_previous_secret: Option<Vec<u8>>,
    /// End of the rotation overlap.
    pub previous_secret_until: Option<Timestamp>,
    /// The first failure since the last success (None while healthy).
    pub failing_since: Option<Timestamp>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

impl fmt::Debug for WebhookEndpointRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookEndpointRecord")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("enabled", &self.enabled)
            .field("failing_since", &self.failing_since)
            .finish_non_exhaustive()
    }
}

impl WebhookEndpointRecord {
    /// Whether this endpoint takes events of `action`.
    pub fn wants(&self, action: &str) -> bool {
        self.enabled && event_matches(&self.events, action)
    }
}

/// Whether `action` matches one of `patterns`: `*`, a prefix ending in `*`, or the exact name.
pub fn event_matches(patterns: &[String], action: &str) -> bool {
    patterns
        .iter()
        .any(|pattern| match pattern.strip_suffix('*') {
            Some(prefix) => action.starts_with(prefix),
            None => pattern == action,
        })
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// Given up after the retry period, or by an endpoint's removal of its queue.
    Failed,
}

impl DeliveryStatus {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// The status of a stored or wire name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One event for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDeliveryRecord {
    /// UUID v7; deliveries of one endpoint are sent in `(created_at, id)` order.
    pub id: Uuid,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The event's id (the audit row's), sent as `Webhook-Id` and the payload's `id`: the same
    /// on every attempt, so a receiver can drop a repeat.
    pub event_id: Uuid,
    /// The event's type (`USER_REGISTERED`, …).
    pub event_type: String,
    /// The JSON body, exactly as signed and sent ([`webhook_payload`]).
    pub payload: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it is due.
    pub next_attempt_at: Timestamp,
    /// The last attempt's HTTP status, if it got an answer.
    pub last_status_code: Option<u16>,
    /// The last failure, in a few words.
    pub last_error: Option<String>,
    /// When the event happened.
    pub created_at: Timestamp,
    /// When a 2xx answered.
    pub delivered_at: Option<Timestamp>,
}

/// The body a receiver gets for an audit row: `{id, type, occurredAt, actor, subject, data}`.
/// The audit row's `details` never hold a secret, hash or token (see `AuditEvent::details`);
/// the client's IP address and User-Agent are left out, they are personal data a receiver
/// does not need to react.
pub fn webhook_payload(event: &AuditEvent) -> String {
    let occurred_at = event
        .created_at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "id": event.id,
        "type": event.action,
        "occurredAt": occurred_at,
        "actor": event.actor_id.map(|id| json!({"id": id})),
        "subject": {
            "type": event.resource,
            "id": event.resource_id,
            "userId": event.user_id,
        },
        "data": event.details,
    })
    .to_string()
}

/// A delivery of `event` for each endpoint of `endpoints` that wants it, due at the event's time.
pub fn fan_out(
    events: &[AuditEvent],
    endpoints: &[WebhookEndpointRecord],
) -> Vec<WebhookDeliveryRecord> {
    let mut deliveries = Vec::new();
    for event in events {
        let mut payload = None;
        for endpoint in endpoints.iter().filter(|e| e.wants(&event.action)) {
            let body = payload.get_or_insert_with(|| webhook_payload(event));
            deliveries.push(WebhookDeliveryRecord {
                id: Uuid::now_v7(),
                endpoint_id: endpoint.id,
                event_id: event.id,
                event_type: event.action.clone(),
                payload: body.clone(),
                status: DeliveryStatus::Pending,
                attempts: 0,
                next_attempt_at: event.created_at,
                last_status_code: None,
                last_error: None,
                created_at: event.created_at,
                delivered_at: None,
            });
        }
    }
    deliveries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_exact_names_prefixes_and_everything() {
        let p = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(event_matches(&p(&["*"]), "USER_LOGIN"));
        assert!(event_matches(&p(&["USER_*"]), "USER_LOGIN"));
        assert!(!event_matches(&p(&["USER_*"]), "ACCOUNT_LOCKED"));
        assert!(event_matches(&p(&["ACCOUNT_LOCKED"]), "ACCOUNT_LOCKED"));
        assert!(!event_matches(&p(&["ACCOUNT_LOCK"]), "ACCOUNT_LOCKED"));
        assert!(!event_matches(&p(&[]), "USER_LOGIN"));
    }
}
