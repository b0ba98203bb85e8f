//! The public handle: [`UserManager`] is cheap to clone, has no type parameters, and owns the
//! store, the clock, the hashing pool and the token issuer. Services are `impl` blocks on it,
//! one file per area (`auth/flows.rs`, `profile.rs`, ...).

use crate::auth::hashing::PasswordHasher;
use crate::auth::tokens::TokenIssuer;
use crate::avatars::{AvatarStorage, LocalDirectoryStorage};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::AuditAction;
use crate::error::{Error, Result};
use crate::mail::{Email, Mailer, OutboxWorker};
use crate::secret::SealingKeyRing;
use crate::store::{AuditEvent, OutboxMessage, Store, Timestamp};
use crate::webhooks::delivery::{DeliveryCounters, WebhookWorker};
use std::sync::Arc;
use tokio::sync::Notify;
use uuid::Uuid;

/// Where a request came from, for audit rows, sessions and alerts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client IP address.
    pub ip: Option<String>,
    /// Raw User-Agent header.
    pub user_agent: Option<String>,
}

pub(crate) struct Inner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) config: Config,
    pub(crate) hasher: PasswordHasher,
    pub(crate) tokens: TokenIssuer,
    pub(crate) sealing: SealingKeyRing,
    pub(crate) mail_wake: Arc<Notify>,
    pub(crate) avatars: Arc<dyn AvatarStorage>,
    /// Accounts this instance locked after repeated failures (for `/metrics`).
    pub(crate) lockouts: std::sync::atomic::AtomicU64,
    /// Seals webhook signing secrets (their own domain label).
    pub(crate) webhook_sealing: SealingKeyRing,
    /// Wakes this instance's webhook worker when an event was written.
    pub(crate) webhook_wake: Arc<Notify>,
    /// Webhook attempts of this instance's workers (for `/metrics`).
    pub(crate) webhook_counts: Arc<DeliveryCounters>,
    /// The dashboard figures kept because they were slow to read.
    pub(crate) dashboard: crate::admin::dashboard::figures::DashboardMemory,
}

/// User management: every flow of SPEC.md, storage-agnostic. Clone it freely.
#[derive(Clone)]
pub struct UserManager {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for UserManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserManager")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`UserManager`].
pub struct UserManagerBuilder {
    config: Config,
    store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
    avatars: Option<Arc<dyn AvatarStorage>>,
}

impl std::fmt::Debug for UserManagerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserManagerBuilder").finish_non_exhaustive()
    }
}

impl UserManagerBuilder {
    /// The store to use (required).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock to use (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where avatar images are kept (default: the local directory `uploads/avatars`).
    pub fn avatar_storage(mut self, storage: Arc<dyn AvatarStorage>) -> Self {
        self.avatars = Some(storage);
        self
    }

    /// Builds the manager (computes the dummy hash, derives keys).
    pub fn build(self) -> Result<UserManager> {
        let store = self
            .store
            .ok_or_else(|| Error::internal("UserManager needs a store"))?;
        let config = self.config;
        let hasher = PasswordHasher::new(&config.hashing)?;
        let tokens = if config.ed25519_keys.is_empty() {
            TokenIssuer::hs256(
                config.jwt_secret_bytes(),
                &config.issuer,
                &config.audience,
                config.access_token_ttl,
            )
        } else {
            TokenIssuer::ed25519(
                &config.ed25519_keys,
                &config.issuer,
                &config.audience,
                config.access_token_ttl,
            )?
        }
        .with_cache_entries(config.token_cache_entries);
        // Outbox payloads use the same key ring as TOTP secrets (another domain label), so
        // rotating JWT_SECRET does not strand queued mail when ENCRYPTION_KEYS is set.
        let sealing = config.sealing_ring("outbox");
        let webhook_sealing = config.sealing_ring("webhooks");
        Ok(UserManager {
            inner: Arc::new(Inner {
                store,
                clock: self.clock,
                config,
                hasher,
                tokens,
                sealing,
                mail_wake: Arc::new(Notify::new()),
                avatars: self
                    .avatars
                    .unwrap_or_else(|| Arc::new(LocalDirectoryStorage::new("uploads/avatars"))),
                lockouts: std::sync::atomic::AtomicU64::new(0),
                webhook_sealing,
                webhook_wake: Arc::new(Notify::new()),
                webhook_counts: Arc::new(DeliveryCounters::default()),
                dashboard: crate::admin::dashboard::figures::DashboardMemory::default(),
            }),
        })
    }
}

impl UserManager {
    /// Every user event, as its audit row, once it is committed: `USER_REGISTERED`,
    /// `USER_LOGIN`, `ROLE_ASSIGNED`, `ACCOUNT_DELETED`, ... ([`crate::AuditAction`] lists them).
    /// Events of this store (its [`BaseStore::events`](crate::store::BaseStore::events) bus)
    /// only; a subscriber that falls more than 1024 events behind gets `RecvError::Lagged` and
    /// can catch up from the audit API. Read it in a task of your own:
    ///
    /// ```no_run
    /// # async fn example(manager: usermgmt_core::UserManager) {
    /// let mut events = manager.subscribe();
    /// tokio::spawn(async move {
    ///     while let Ok(event) = events.recv().await {
    ///         if event.action == usermgmt_core::AuditAction::UserRegistered {
    ///             // create the user's workspace, send a welcome, ...
    ///         }
    ///     }
    /// });
    /// # }
    /// ```
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Arc<AuditEvent>> {
        self.inner.store.events().subscribe()
    }

    /// Starts a builder with the given configuration.
    pub fn builder(config: Config) -> UserManagerBuilder {
        UserManagerBuilder {
            config,
            store: None,
            clock: Arc::new(SystemClock),
            avatars: None,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The current time on the injected clock.
    pub fn now(&self) -> Timestamp {
        self.inner.clock.now()
    }

    /// The password hashing pool (for metrics and benchmarks).
    pub fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    /// The access-token issuer (for benchmarks and host apps that verify tokens themselves).
    pub fn token_issuer(&self) -> &TokenIssuer {
        &self.inner.tokens
    }

    /// A worker delivering this manager's outbox through `mailer`. Run it with
    /// [`OutboxWorker::run`]; mail enqueued by this manager wakes it at once.
    pub fn outbox_worker(&self, mailer: Arc<dyn Mailer>) -> OutboxWorker {
        OutboxWorker {
            store: self.inner.store.clone(),
            mailer,
            sealing: self.inner.sealing.clone(),
            clock: self.inner.clock.clone(),
            config: self.inner.config.mail.clone(),
            wake: self.inner.mail_wake.clone(),
        }
    }

    /// A worker delivering this store's webhooks. Run it with [`WebhookWorker::run`]; events
    /// written by this manager wake it at once.
    pub fn webhook_worker(&self) -> WebhookWorker {
        WebhookWorker {
            store: self.inner.store.clone(),
            sealing: self.inner.webhook_sealing.clone(),
            clock: self.inner.clock.clone(),
            config: self.inner.config.webhooks.clone(),
            wake: self.inner.webhook_wake.clone(),
            counters: self.inner.webhook_counts.clone(),
        }
    }

    /// Webhook attempts of this manager's workers: (delivered, retried, failed).
    pub fn webhook_attempts(&self) -> (u64, u64, u64) {
        self.inner.webhook_counts.totals()
    }

    /// Accounts this instance has locked after repeated failed sign-ins since it started.
    pub fn lockouts_total(&self) -> u64 {
        self.inner
            .lockouts
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Password hashes waiting for a pool permit right now.
    pub fn hash_queue_depth(&self) -> usize {
        self.inner.hasher.queue_depth()
    }

    /// Checks that storage answers.
    pub async fn ping(&self) -> Result<()> {
        self.inner.store.ping().await
    }

    // --- helpers shared by the services --------------------------------------------------

    /// An in-app notification for `user`, stamped now (written as an effect of the change).
    pub(crate) fn notification(
        &self,
        user: Uuid,
        kind: crate::store::NotificationType,
        title: &str,
        message: &str,
        data: serde_json::Value,
    ) -> crate::store::NotificationRecord {
        crate::store::NotificationRecord {
            id: Uuid::now_v7(),
            user_id: user,
            kind: kind.as_str().to_owned(),
            title: title.to_owned(),
            message: message.to_owned(),
            data,
            read_at: None,
            created_at: self.now(),
        }
    }

    /// An audit row stamped now.
    pub(crate) fn audit(
        &self,
        action: AuditAction,
        actor: Option<Uuid>,
        user: Option<Uuid>,
        resource: &str,
        client: &ClientInfo,
        details: serde_json::Value,
    ) -> AuditEvent {
        AuditEvent {
            id: Uuid::now_v7(),
            action: action.as_str().to_owned(),
            actor_id: actor,
            user_id: user,
            resource: resource.to_owned(),
            resource_id: user.map(|u| u.to_string()),
            ip_address: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            details,
            created_at: self.now(),
        }
    }

    /// Seals a rendered email into an outbox row.
    pub(crate) fn outbox(
        &self,
        kind: crate::mail::MailKind,
        email: &Email,
    ) -> Result<OutboxMessage> {
        let plain = serde_json::to_vec(email).map_err(Error::internal)?;
        let now = self.now();
        Ok(OutboxMessage {
            id: Uuid::now_v7(),
            recipient: email.to.clone(),
            kind: kind.as_str().to_owned(),
            sealed_payload: self.inner.sealing.seal(&plain),
            attempts: 0,
            next_attempt_at: now,
            created_at: now,
        })
    }

    /// Tells this instance's outbox worker that mail is waiting.
    /// The public keys verifying access tokens, as a JWK set (empty for HS256).
    pub fn jwks(&self) -> &serde_json::Value {
        self.inner.tokens.jwks()
    }

    pub(crate) fn wake_mail(&self) {
        self.inner.mail_wake.notify_one();
    }
}
