//! The storage of this capability: [`WebhookStore`], implemented by every store (`memory.rs`
//! beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL). Deliveries are
//! written by the stores' write of effects (`store/records/webhooks.rs::fan_out`), in the
//! transaction of the audit row they tell of.

use crate::error::Result;
use crate::store::records::*;
use async_trait::async_trait;
use time::Duration;
use uuid::Uuid;

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChange {
    /// A new URL.
    pub url: Option<String>,
    /// New event patterns.
    pub events: Option<Vec<String>>,
    /// A new description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// Enable or disable; enabling forgets the endpoint's failure period.
    pub enabled: Option<bool>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answered.
    Delivered {
        /// Its status.
        status_code: u16,
    },
    /// It failed; try again at `retry_at`, or never (`None`: the delivery is failed).
    Failed {
        /// The status, when the receiver answered.
        status_code: Option<u16>,
        /// What went wrong, in a few words.
        error: String,
        /// The next attempt.
        retry_at: Option<Timestamp>,
    },
}

/// Webhook endpoints and their delivery queue. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Adds an endpoint.
    async fn create_webhook(&self, endpoint: WebhookEndpointRecord, effects: Effects)
    -> Result<()>;
    /// Every endpoint, oldest first.
    async fn webhooks(&self) -> Result<Vec<WebhookEndpointRecord>>;
    /// One endpoint.
    async fn webhook(&self, id: Uuid) -> Result<Option<WebhookEndpointRecord>>;
    /// Changes an endpoint; `None` when there is none.
    async fn update_webhook(
        &self,
        id: Uuid,
        change: WebhookChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<WebhookEndpointRecord>>;
    /// Removes an endpoint and its deliveries; false when there is none.
    async fn delete_webhook(&self, id: Uuid, effects: Effects) -> Result<bool>;
    /// Makes `sealed_secret` the signing secret; the current one keeps signing until
    /// `previous_until`. With `replacing`, only while the current one is still those bytes (two
    /// instances rotating in the same secret at start: the second finds it done). `None` when
    /// there is no such endpoint, or it was rotated meanwhile.
    async fn rotate_webhook_secret(
        &self,
        id: Uuid,
        replacing: Option<&[u8]>,
        sealed_secret: Vec<u8>,
        previous_until: Timestamp,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<WebhookEndpointRecord>>;
    /// An endpoint's deliveries, newest first, optionally of one status; with the total.
    async fn webhook_deliveries(
        &self,
        endpoint_id: Uuid,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> Result<(Vec<WebhookDeliveryRecord>, u64)>;
    /// Puts a delivery of the endpoint back in the queue, due `now`; `None` when there is none.
    async fn retry_webhook_delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        now: Timestamp,
    ) -> Result<Option<WebhookDeliveryRecord>>;
    /// Queues one delivery (the test event), behind the endpoint's others.
    async fn enqueue_webhook_delivery(&self, delivery: WebhookDeliveryRecord) -> Result<()>;
    /// Claims the next due delivery, hidden from other workers for `lease`, with its endpoint.
    /// Only the oldest pending delivery of an enabled endpoint is due, and only while none of
    /// that endpoint's is claimed: each endpoint gets its events in order, one at a time.
    async fn claim_webhook_delivery(
        &self,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Option<(WebhookDeliveryRecord, WebhookEndpointRecord)>>;
    /// Records an attempt of a claimed delivery, and the endpoint's health: a success ends its
    /// failure period, a failure starts one (if none runs).
    async fn record_webhook_attempt(
        &self,
        delivery_id: Uuid,
        outcome: AttemptOutcome,
        now: Timestamp,
    ) -> Result<()>;
    /// Disables the endpoint if it is enabled and has been failing since `failing_before` or
    /// earlier (one instance wins); writes `effects` only then.
    async fn disable_failing_webhook(
        &self,
        id: Uuid,
        failing_before: Timestamp,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
    /// Active users holding `permission` through a role (whom an endpoint's disabling is told).
    async fn users_with_permission(&self, permission: &str) -> Result<Vec<Uuid>>;
    /// Deletes up to `limit` delivered or failed deliveries created before `before`.
    async fn delete_finished_webhook_deliveries(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64>;
    /// Pending deliveries, and the time of the oldest (the delivery lag).
    async fn webhook_backlog(&self) -> Result<(u64, Option<Timestamp>)>;
}
