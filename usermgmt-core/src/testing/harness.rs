//! A ready-made manager for tests: mock clock, in-memory mailbox, cheap hashing.

use crate::api::Api;
use crate::clock::MockClock;
use crate::config::{Config, HashingConfig};
use crate::mail::{DeliveryReport, MemoryMailer, OutboxWorker, token_from_link};
use crate::manager::UserManager;
use crate::store::Store;
use std::sync::Arc;

/// The password every suite user registers with.
pub const PASSWORD: &str = "Str0ng!Passw0rd";
/// A second valid password.
pub const NEW_PASSWORD: &str = "An0ther!Secret9";

/// The secret every test manager signs with.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";

/// The builder of every test configuration. The ONE place tests lower the Argon2 cost.
/// Cookie sessions are on (bearer clients do not notice them), so every HTTP case can run with
/// its client in either transport (`http_suite::Transport`).
pub fn test_config_builder() -> crate::config::ConfigBuilder {
    Config::builder(TEST_JWT_SECRET)
        .hashing(HashingConfig::insecure_fast_for_tests())
        .cookie_sessions(crate::config::CookieSessionConfig::default())
}

/// The configuration of every test manager.
pub fn test_config() -> Config {
    test_config_builder().build().expect("test config is valid")
}

/// A manager over a store, with handles on its clock and mailbox.
#[derive(Clone)]
pub struct TestApp {
    /// The HTTP API.
    pub api: Api,
    /// The manager.
    pub manager: UserManager,
    /// The clock the manager reads.
    pub clock: MockClock,
    /// Where delivered mail lands.
    pub mailer: MemoryMailer,
    /// Where the manager keeps avatar files (tests count and plant them).
    pub avatars: Arc<crate::avatars::MemoryAvatarStorage>,
    worker: OutboxWorker,
}

impl TestApp {
    /// A test app over `store` with [`test_config`].
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_config(store, test_config())
    }

    /// A test app over `store` with a given configuration.
    pub fn with_config(store: Arc<dyn Store>, config: Config) -> Self {
        let clock = MockClock::starting_now();
        let avatars = Arc::new(crate::avatars::MemoryAvatarStorage::default());
        let manager = UserManager::builder(config)
            .store(store)
            .clock(Arc::new(clock.clone()))
            .avatar_storage(avatars.clone())
            .build()
            .expect("manager builds");
        let mailer = MemoryMailer::new();
        let worker = manager.outbox_worker(Arc::new(mailer.clone()));
        Self {
            api: Api::new(manager.clone()),
            manager,
            clock,
            mailer,
            avatars,
            worker,
        }
    }

    /// Creates `name` (`name@example.com`, password [`PASSWORD`]) with `roles` and
    /// returns an access token of a fresh session.
    pub async fn access_token_for(&self, name: &str, roles: &[&str]) -> String {
        use crate::secret::Password;
        let password = Password::new(PASSWORD);
        self.manager
            .create_user_with_roles(&format!("{name}@example.com"), name, &password, roles)
            .await
            .expect("user created");
        match self
            .manager
            .login(name, &password, &Default::default())
            .await
            .expect("login")
        {
            crate::LoginOutcome::Authenticated(s) => s.tokens.access_token,
            crate::LoginOutcome::TwoFactorRequired(_) => panic!("{name} has no second factor"),
        }
    }

    /// Delivers every due outbox message into [`TestApp::mailer`].
    pub async fn deliver_mail(&self) -> DeliveryReport {
        self.worker.deliver_due().await.expect("outbox delivery")
    }

    /// Delivers due mail, then returns the token in the newest mail to `to`.
    pub async fn token_mailed_to(&self, to: &str) -> Option<String> {
        self.deliver_mail().await;
        self.mailer
            .last_to(to)
            .and_then(|m| token_from_link(&m.text))
    }
}
