//! The delivery worker: claims due deliveries (one per endpoint at a time, in order), signs and
//! POSTs them, and records the outcome; retries with exponential backoff and jitter for
//! `WebhookConfig::retry_for`, then marks the delivery failed; disables an endpoint that has
//! failed for that long without a success and tells the administrators.

use super::address::{parse_target, resolve_target};
use super::signing::signature_header;
use super::store::AttemptOutcome;
use crate::clock::Clock;
use crate::config::WebhookConfig;
use crate::domain::AuditAction;
use crate::error::Result;
use crate::secret::SealingKeyRing;
use crate::store::{
    AuditEvent, Effects, NotificationRecord, NotificationType, Store, Timestamp,
    WebhookDeliveryRecord, WebhookEndpointRecord,
};
use futures_util::StreamExt as _;
use secrecy::SecretString;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// How long a claimed delivery stays hidden from other workers: well over the attempt's
/// timeout, so a slow receiver never sees a second instance send the same delivery meanwhile.
const CLAIM_LEASE: Duration = Duration::minutes(2);
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::hours(1);
/// Bytes of a receiver's answer read (then dropped): its status is all that counts.
pub const MAX_RESPONSE_BYTES: usize = 4096;
/// Finished deliveries deleted per statement by the retention cleanup.
const CLEANUP_BATCH: usize = 1000;
/// How often a running worker removes finished deliveries past their retention.
const CLEANUP_EVERY: StdDuration = StdDuration::from_secs(3600);

/// Webhook attempts by outcome, counted by the workers of one manager.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    /// Answered with a 2xx.
    pub delivered: std::sync::atomic::AtomicU64,
    /// Failed and scheduled again.
    pub retried: std::sync::atomic::AtomicU64,
    /// Failed for good.
    pub failed: std::sync::atomic::AtomicU64,
}

impl DeliveryCounters {
    pub(crate) fn count(&self, counter: &std::sync::atomic::AtomicU64) {
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// (delivered, retried, failed) so far.
    pub fn totals(&self) -> (u64, u64, u64) {
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        (
            load(&self.delivered),
            load(&self.retried),
            load(&self.failed),
        )
    }
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WebhookReport {
    /// Answered with a 2xx.
    pub delivered: usize,
    /// Failed and scheduled again.
    pub retried: usize,
    /// Failed for good (past the retry period).
    pub failed: usize,
}

/// Delivers webhooks. Any number of workers, in any number of instances, may run: a delivery
/// is claimed by one at a time, and an endpoint's next delivery waits for the one before it.
#[derive(Clone)]
pub struct WebhookWorker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) sealing: SealingKeyRing,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: WebhookConfig,
    pub(crate) wake: Arc<Notify>,
    pub(crate) counters: Arc<DeliveryCounters>,
}

impl std::fmt::Debug for WebhookWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookWorker").finish_non_exhaustive()
    }
}

/// The wait before attempt `attempts + 1`: `base · 2^(attempts-1)`, capped at an hour, with up
/// to ±20 % jitter so endpoints that failed together are not retried together.
pub(crate) fn backoff(base: Duration, attempts: u32, jitter: f64) -> Duration {
    let factor = 2i32.saturating_pow(attempts.saturating_sub(1).min(16));
    let plain = (base * factor).min(MAX_BACKOFF);
    plain * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0))
}

/// How a delivery attempt went, before it is recorded.
struct Attempt {
    status_code: Option<u16>,
    error: Option<String>,
}

impl WebhookWorker {
    /// Delivers every delivery that is due now, once each.
    pub async fn deliver_due(&self) -> Result<WebhookReport> {
        let mut report = WebhookReport::default();
        while let Some((delivery, endpoint)) = self
            .store
            .claim_webhook_delivery(self.clock.now(), CLAIM_LEASE)
            .await?
        {
            let attempt = self.attempt(&delivery, &endpoint).await;
            let now = self.clock.now();
            let outcome = match attempt.error {
                None => AttemptOutcome::Delivered {
                    status_code: attempt.status_code.unwrap_or(200),
                },
                Some(error) => {
                    let attempts = delivery.attempts + 1;
                    let mut bytes = [0u8; 4];
                    rand::fill(&mut bytes);
                    let jitter =
                        f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX) * 2.0 - 1.0;
                    let retry_at = now + backoff(self.config.retry_base, attempts, jitter);
                    let retry_at = (retry_at <= delivery.created_at + self.config.retry_for)
                        .then_some(retry_at);
                    tracing::warn!(
                        webhook_id = %endpoint.id, delivery_id = %delivery.id, attempts,
                        error = %error, retry = retry_at.is_some(), "webhook delivery failed"
                    );
                    AttemptOutcome::Failed {
                        status_code: attempt.status_code,
                        error,
                        retry_at,
                    }
                }
            };
            match &outcome {
                AttemptOutcome::Delivered { .. } => {
                    report.delivered += 1;
                    self.counters.count(&self.counters.delivered);
                }
                AttemptOutcome::Failed {
                    retry_at: Some(_), ..
                } => {
                    report.retried += 1;
                    self.counters.count(&self.counters.retried);
                }
                AttemptOutcome::Failed { retry_at: None, .. } => {
                    report.failed += 1;
                    self.counters.count(&self.counters.failed);
                }
            }
            let failed = matches!(outcome, AttemptOutcome::Failed { .. });
            let given_up = matches!(outcome, AttemptOutcome::Failed { retry_at: None, .. });
            self.store
                .record_webhook_attempt(delivery.id, outcome, now)
                .await?;
            if failed {
                self.disable_if_failing_too_long(&endpoint, given_up, now)
                    .await?;
            }
        }
        Ok(report)
    }

    /// One POST of `delivery` to `endpoint`: the URL checked again and resolved, the connection
    /// pinned to the checked address, no redirect followed, the answer read up to
    /// [`MAX_RESPONSE_BYTES`].
    async fn attempt(
        &self,
        delivery: &WebhookDeliveryRecord,
        endpoint: &WebhookEndpointRecord,
    ) -> Attempt {
        let failed = |error: String| Attempt {
            status_code: None,
            error: Some(error),
        };
        let target = match parse_target(
            &endpoint.url,
            self.config.allow_http,
            self.config.allow_private,
        ) {
            Ok(target) => target,
            Err(refused) => return failed(format!("URL refused: {refused}")),
        };
        let address = match resolve_target(&target, self.config.allow_private).await {
            Ok(address) => address,
            Err(refused) => return failed(format!("address refused: {refused}")),
        };
        let secrets = self.signing_secrets(endpoint);
        if secrets.is_empty() {
            return failed("signing secret cannot be opened".into());
        }
        let timestamp = self.clock.now().unix_timestamp();
        let id = delivery.event_id.to_string();
        let signature = signature_header(&secrets, &id, timestamp, &delivery.payload);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(self.config.timeout)
            .resolve(&target.host, address)
            .build();
        let client = match client {
            Ok(client) => client,
            Err(e) => return failed(format!("HTTP client: {e}")),
        };
        let sent = client
            .post(target.url.clone())
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("usermgmt-webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(e) if e.is_timeout() => return failed("timed out".into()),
            Err(e) => return failed(format!("request failed: {}", describe(e))),
        };
        let status = response.status().as_u16();
        // Read a little of the answer so the connection ends cleanly, and nothing more.
        let mut body = response.bytes_stream();
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match body.next().await {
                Some(Ok(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
        Attempt {
            status_code: Some(status),
            error: (!(200..300).contains(&status)).then(|| format!("answered {status}")),
        }
    }

    /// The secrets that sign now: the current one, and the previous one during its overlap.
    fn signing_secrets(&self, endpoint: &WebhookEndpointRecord) -> Vec<SecretString> {
        let open = |sealed: &[u8]| {
            self.sealing
                .open(sealed)
                .and_then(|plain| String::from_utf8(plain).ok())
                .map(SecretString::from)
        };
        let mut secrets: Vec<SecretString> = open(&endpoint.sealed_secret).into_iter().collect();
        let overlapping = endpoint
            .previous_secret_until
            .is_some_and(|until| until > self.clock.now());
        if overlapping {
            secrets.extend(endpoint.sealed_previous_secret.as_deref().and_then(open));
        }
        secrets
    }

    /// Disables `endpoint` when it has been failing since `retry_for` ago or earlier, or when
    /// a delivery was just given up (`given_up`: it was the head of the endpoint's queue for the
    /// whole retry period, so nothing reached the endpoint meanwhile), with an audit row and a
    /// notification to every holder of `system:manage`.
    async fn disable_if_failing_too_long(
        &self,
        endpoint: &WebhookEndpointRecord,
        given_up: bool,
        now: Timestamp,
    ) -> Result<()> {
        let failing_since = endpoint.failing_since.unwrap_or(now);
        let failing_before = if given_up {
            now
        } else {
            now - self.config.retry_for
        };
        if failing_since > failing_before {
            return Ok(());
        }
        let details = json!({
            "webhookId": endpoint.id,
            "url": endpoint.url,
            "failingSince": failing_since
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        });
        let mut effects = Effects::audit(AuditEvent {
            id: Uuid::now_v7(),
            action: AuditAction::WebhookDisabled.as_str().to_owned(),
            actor_id: None,
            user_id: None,
            resource: "webhook".to_owned(),
            resource_id: Some(endpoint.id.to_string()),
            ip_address: None,
            user_agent: None,
            details: details.clone(),
            created_at: now,
        });
        for admin in self.store.users_with_permission("system:manage").await? {
            effects = effects.with_notification(NotificationRecord {
                id: Uuid::now_v7(),
                user_id: admin,
                kind: NotificationType::System.as_str().to_owned(),
                title: "Webhook disabled".to_owned(),
                message: format!(
                    "The webhook to {} failed for {} hours and was disabled.",
                    endpoint.url,
                    self.config.retry_for.whole_hours()
                ),
                data: details.clone(),
                read_at: None,
                created_at: now,
            });
        }
        if self
            .store
            .disable_failing_webhook(endpoint.id, failing_before, now, effects)
            .await?
        {
            tracing::warn!(webhook_id = %endpoint.id, "webhook failing for the whole retry period; disabled");
        }
        Ok(())
    }

    /// Deletes delivered and failed deliveries older than `WebhookConfig::retention`.
    pub async fn remove_finished(&self) -> Result<u64> {
        let before = self.clock.now() - self.config.retention;
        let mut removed = 0;
        loop {
            let batch = self
                .store
                .delete_finished_webhook_deliveries(before, CLEANUP_BATCH)
                .await?;
            removed += batch;
            if batch < CLEANUP_BATCH as u64 {
                return Ok(removed);
            }
        }
    }

    /// Runs until `shutdown` resolves: delivers whenever this instance wrote an event and at
    /// least every `poll` (events of other instances, and retries); removes finished deliveries
    /// past their retention at start and every hour.
    pub async fn run(self, poll: StdDuration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        // Every audit row this store commits is an event that may have deliveries.
        let mut events = self.store.events().subscribe();
        let mut last_cleanup: Option<std::time::Instant> = None;
        loop {
            if let Err(err) = self.deliver_due().await {
                tracing::warn!(error = %err, "webhook pass failed; will retry");
            }
            if last_cleanup.is_none_or(|at| at.elapsed() >= CLEANUP_EVERY) {
                last_cleanup = Some(std::time::Instant::now());
                if let Err(err) = self.remove_finished().await {
                    tracing::warn!(error = %err, "webhook cleanup failed; will retry");
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = events.recv() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// A request error and its causes, without its URL (which may carry a token in its query).
fn describe(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_within_a_fifth() {
        let base = Duration::seconds(5);
        assert_eq!(backoff(base, 1, 0.0), Duration::seconds(5));
        assert_eq!(backoff(base, 3, 0.0), Duration::seconds(20));
        assert_eq!(backoff(base, 40, 0.0), Duration::hours(1));
        assert_eq!(backoff(base, 1, 1.0), Duration::seconds(6));
        assert_eq!(backoff(base, 1, -1.0), Duration::seconds(4));
    }
}
