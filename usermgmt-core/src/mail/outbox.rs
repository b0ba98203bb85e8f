use super::{Email, Mailer};
use crate::clock::Clock;
use crate::config::MailConfig;
use crate::error::Result;
use crate::secret::SealingKeyRing;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration as StdDuration;
use time::Duration;
use tokio::sync::Notify;

/// How long a claimed message stays hidden from other workers (a crashed worker's claim
/// expires after this and the message is retried).
const CLAIM_LEASE: Duration = Duration::minutes(2);
/// Messages claimed per pass.
const BATCH: usize = 32;

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Delivered.
    pub sent: usize,
    /// Failed and scheduled again.
    pub retried: usize,
    /// Failed for good (attempts exhausted, permanent rejection, or unreadable payload).
    pub parked: usize,
}

/// Delivers the outbox. Any number of workers (in any number of instances) may run: a message
/// is claimed by one at a time.
#[derive(Clone)]
pub struct OutboxWorker {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) mailer: Arc<dyn Mailer>,
    pub(crate) sealing: SealingKeyRing,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: MailConfig,
    pub(crate) wake: Arc<Notify>,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker").finish_non_exhaustive()
    }
}

impl OutboxWorker {
    /// Delivers every message that is due now, once.
    pub async fn deliver_due(&self) -> Result<DeliveryReport> {
        let mut report = DeliveryReport::default();
        loop {
            let now = self.clock.now();
            let batch = self.store.claim_due_mail(now, BATCH, CLAIM_LEASE).await?;
            if batch.is_empty() {
                return Ok(report);
            }
            for message in batch {
                let email: Option<Email> = self
                    .sealing
                    .open(&message.sealed_payload)
                    .and_then(|plain| serde_json::from_slice(&plain).ok());
                let Some(email) = email else {
                    tracing::error!(mail_id = %message.id, "outbox payload cannot be opened; parked");
                    self.store
                        .mark_mail_failed(
                            message.id,
                            "payload cannot be opened",
                            None,
                            self.clock.now(),
                        )
                        .await?;
                    report.parked += 1;
                    continue;
                };
                match self.mailer.send(&email).await {
                    Ok(()) => {
                        self.store
                            .mark_mail_sent(message.id, self.clock.now())
                            .await?;
                        tracing::debug!(mail_id = %message.id, kind = %message.kind, "mail delivered");
                        report.sent += 1;
                    }
                    Err(err) => {
                        let attempts = message.attempts + 1;
                        let now = self.clock.now();
                        let retry_at = (err.retryable && attempts < self.config.max_attempts)
                            .then(|| now + backoff(self.config.retry_base, attempts));
                        tracing::warn!(mail_id = %message.id, attempts, error = %err, retry = retry_at.is_some(), "mail delivery failed");
                        self.store
                            .mark_mail_failed(message.id, &err.message, retry_at, now)
                            .await?;
                        if retry_at.is_some() {
                            report.retried += 1;
                        } else {
                            report.parked += 1;
                        }
                    }
                }
            }
        }
    }

    /// Runs until `shutdown` resolves: delivers whenever mail is enqueued by this instance and
    /// at least every `poll` (mail enqueued by other instances, and retries).
    pub async fn run(self, poll: StdDuration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(err) = self.deliver_due().await {
                tracing::warn!(error = %err, "outbox pass failed; will retry");
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }
}

/// Exponential backoff: base, 2·base, 4·base, ... capped at one hour.
fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 2i32.saturating_pow(attempts.saturating_sub(1).min(16));
    (base * factor).min(Duration::hours(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::seconds(5);
        assert_eq!(backoff(base, 1), Duration::seconds(5));
        assert_eq!(backoff(base, 3), Duration::seconds(20));
        assert_eq!(backoff(base, 40), Duration::hours(1));
    }
}
