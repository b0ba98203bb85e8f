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
/// Messages claimed at a time: one, claimed right before it is sent. A claim on a batch would
/// lapse while its last messages wait behind slow sends (32 × a 10 s SMTP timeout outlasts the
/// lease), and another instance would claim and send them a second time.
const BATCH: usize = 1;
/// How long a worker keeps trying to record a delivered message while the database is
/// unreachable: well inside the claim, so no other worker sends the message again meanwhile.
const RECORD_SENT_FOR: StdDuration = StdDuration::from_secs(60);

/// Finished messages deleted per statement by the retention cleanup.
const CLEANUP_BATCH: usize = 1000;
/// How often a running worker removes finished mail past its retention.
const CLEANUP_EVERY: StdDuration = StdDuration::from_secs(3600);

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
                        self.record_sent(message.id).await?;
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

    /// Marks a delivered message sent. The mail is out: when the database is unreachable right
    /// now, keep trying for [`RECORD_SENT_FOR`] (within the claim), so a short outage does not
    /// leave the message pending for another worker to send again once the claim lapses.
    async fn record_sent(&self, id: uuid::Uuid) -> Result<()> {
        let started = std::time::Instant::now();
        let mut pause = StdDuration::from_millis(200);
        loop {
            match self.store.mark_mail_sent(id, self.clock.now()).await {
                Err(crate::Error::Unavailable(cause)) if started.elapsed() < RECORD_SENT_FOR => {
                    tracing::warn!(mail_id = %id, error = %cause, "mail delivered but not yet recorded; retrying");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(StdDuration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// Deletes delivered and parked messages older than the retention (`MailConfig::retention`),
    /// in batches; returns how many.
    pub async fn remove_finished(&self) -> Result<u64> {
        let before = self.clock.now() - self.config.retention;
        let mut removed = 0;
        loop {
            let batch = self
                .store
                .delete_finished_mail(before, CLEANUP_BATCH)
                .await?;
            removed += batch;
            if batch < CLEANUP_BATCH as u64 {
                return Ok(removed);
            }
        }
    }

    /// Runs until `shutdown` resolves: delivers whenever mail is enqueued by this instance and
    /// at least every `poll` (mail enqueued by other instances, and retries); removes finished
    /// mail past its retention at start and every `CLEANUP_EVERY` (an hour).
    pub async fn run(self, poll: StdDuration, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut last_cleanup: Option<std::time::Instant> = None;
        loop {
            if let Err(err) = self.deliver_due().await {
                tracing::warn!(error = %err, "outbox pass failed; will retry");
            }
            if last_cleanup.is_none_or(|at| at.elapsed() >= CLEANUP_EVERY) {
                last_cleanup = Some(std::time::Instant::now());
                match self.remove_finished().await {
                    Ok(0) => {}
                    Ok(removed) => {
                        tracing::info!(removed, "finished mail past its retention removed")
                    }
                    Err(err) => tracing::warn!(error = %err, "outbox cleanup failed; will retry"),
                }
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

    use crate::store::OutboxMessage;
    use crate::store::memory::MemoryStore;
    use crate::store::{Effects, Store};
    use async_trait::async_trait;
    use std::sync::Mutex;
    use time::OffsetDateTime;

    #[derive(Debug)]
    struct StepClock(Mutex<OffsetDateTime>);

    impl Clock for StepClock {
        fn now(&self) -> OffsetDateTime {
            *self.0.lock().unwrap()
        }
    }

    /// An SMTP server taking 10 s a message; during each send another instance's worker polls
    /// the outbox and takes what it can claim.
    struct SlowSmtp {
        store: Arc<dyn Store>,
        clock: Arc<StepClock>,
        sent: Mutex<Vec<String>>,
        claimed_by_other: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Mailer for SlowSmtp {
        async fn send(&self, email: &Email) -> std::result::Result<(), super::super::MailError> {
            *self.clock.0.lock().unwrap() += Duration::seconds(10);
            self.sent.lock().unwrap().push(email.to.clone());
            let other = self
                .store
                .claim_due_mail(self.clock.now(), 100, CLAIM_LEASE)
                .await
                .unwrap();
            self.claimed_by_other
                .lock()
                .unwrap()
                .extend(other.into_iter().map(|m| m.recipient));
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_slow_smtp_server_never_lets_two_workers_send_one_message() {
        let t0 = OffsetDateTime::UNIX_EPOCH + Duration::days(20_000);
        let clock = Arc::new(StepClock(Mutex::new(t0)));
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let sealing = SealingKeyRing::single("k", b"0123456789abcdef0123456789abcdef", "mail");
        let mail = (0..20)
            .map(|i| {
                let email = Email {
                    to: format!("r{i}@example.com"),
                    subject: "s".into(),
                    text: "t".into(),
                    html: "h".into(),
                };
                OutboxMessage {
                    id: uuid::Uuid::now_v7(),
                    recipient: email.to.clone(),
                    kind: "test".into(),
                    sealed_payload: sealing.seal(&serde_json::to_vec(&email).unwrap()),
                    attempts: 0,
                    next_attempt_at: t0,
                    created_at: t0,
                }
            })
            .collect();
        store
            .record_effects(Effects {
                mail,
                ..Effects::default()
            })
            .await
            .unwrap();
        let smtp = Arc::new(SlowSmtp {
            store: store.clone(),
            clock: clock.clone(),
            sent: Mutex::new(Vec::new()),
            claimed_by_other: Mutex::new(Vec::new()),
        });
        let worker = OutboxWorker {
            store: store.clone(),
            mailer: smtp.clone(),
            sealing,
            clock,
            config: MailConfig::default(),
            wake: Arc::new(Notify::new()),
        };
        worker.deliver_due().await.unwrap();
        let sent = smtp.sent.lock().unwrap().clone();
        let other = smtp.claimed_by_other.lock().unwrap().clone();
        assert!(!sent.is_empty());
        let twice: Vec<_> = sent.iter().filter(|r| other.contains(r)).collect();
        assert!(
            twice.is_empty(),
            "sent here and claimed by another worker: {twice:?}"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let base = Duration::seconds(5);
        assert_eq!(backoff(base, 1), Duration::seconds(5));
        assert_eq!(backoff(base, 3), Duration::seconds(20));
        assert_eq!(backoff(base, 40), Duration::hours(1));
    }
}
