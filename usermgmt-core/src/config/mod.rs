//! Typed configuration with a builder. Every number of SPEC.md is a default here and can be
//! changed. `Debug` is written by hand so that secrets never reach a log.

mod cookie_sessions;
mod passkeys;
mod rate_limits;
mod webhooks;

pub use cookie_sessions::{CookieSessionConfig, SameSite};
pub use passkeys::PasskeyConfig;
pub use rate_limits::{Limit, RateLimitConfig};
pub use webhooks::WebhookConfig;

use crate::secret::{ExposeSecret, SecretString};
use std::fmt;
use time::Duration;

/// The path of the API's routes below the mount prefix (`crate::api::API_PREFIX` is this one):
/// defined here, below the API, because the links built from the configuration name it too.
pub const API_PREFIX: &str = "/api/v1";

/// The start of absolute links (in mails) when [`Config::public_url`] is not set: where the
/// standalone server listens by default.
pub const DEFAULT_PUBLIC_URL: &str = "http://localhost:3000";

/// Shortest accepted signing secret, in bytes (HS256 wants at least the hash size).
pub const MIN_SECRET_LEN: usize = 32;

/// Access tokens a [`crate::UserManager`] remembers as checked by default
/// ([`Config::token_cache_entries`]): about 6 MiB.
pub const DEFAULT_TOKEN_CACHE_ENTRIES: usize = 4096;

/// Largest accepted [`Config::token_cache_entries`]: about 14 GiB of memory, far beyond any
/// instance's live tokens; a larger value is a typo.
pub const MAX_TOKEN_CACHE_ENTRIES: usize = 10_000_000;

/// How many matches the administrators' user search and the audit listings count exactly by
/// default ([`Config::total_count_limit`]).
pub const DEFAULT_TOTAL_COUNT_LIMIT: u64 = 10_000;

/// Argon2id cost parameters and the size of the pool that runs them.
#[derive(Debug, Clone)]
pub struct HashingConfig {
    /// Memory cost in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Iterations (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
    /// How many hashes may run at once; the rest queue. Default: the number of cores.
    pub max_concurrent: usize,
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
            max_concurrent: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        }
    }
}

impl HashingConfig {
    /// Cheap parameters for tests only (never in production): the one place tests lower the cost.
    pub fn insecure_fast_for_tests() -> Self {
        Self {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
            max_concurrent: 4,
        }
    }
}

/// The password rules of SPEC §3.
#[derive(Debug, Clone)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters.
    pub max_length: usize,
    /// How many previous passwords a new one may not match.
    pub history: usize,
    /// Refuse passwords found in the bundled list of common passwords.
    pub reject_common: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            history: 5,
            reject_common: true,
        }
    }
}

/// Failed-login lockout.
#[derive(Debug, Clone)]
pub struct LockoutPolicy {
    /// Wrong answers within one window (as long as a lock) that lock the account.
    pub max_failures: u32,
    /// How long a lock lasts.
    pub duration: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            duration: Duration::minutes(15),
        }
    }
}

/// Mail delivery through the outbox.
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// The `From` address.
    pub from: String,
    /// Product name used in subjects and bodies.
    pub app_name: String,
    /// Base URL of the email-confirmation page; `?token=...` is appended. `None`: the API's
    /// own `GET /api/v1/auth/verify-email` at [`Config::api_base_url`].
    pub confirmation_url: Option<String>,
    /// Base URL of the password-reset page; `?token=...` is appended. `None`: the host app's
    /// `/reset-password` page at [`Config::public_url`].
    pub password_reset_url: Option<String>,
    /// Delivery attempts before a message is parked as failed.
    pub max_attempts: u32,
    /// First retry delay; doubles on each attempt.
    pub retry_base: Duration,
    /// How long delivered (and parked) messages are kept, recipient and metadata, before the
    /// outbox worker deletes them. Mail to an address no account holds any longer (a purged
    /// account's last notice) is deleted as soon as it is delivered.
    pub retention: Duration,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            from: "usermgmt <no-reply@localhost>".to_owned(),
            app_name: "usermgmt".to_owned(),
            confirmation_url: None,
            password_reset_url: None,
            // With the delay doubling from 5 s up to an hour, 34 attempts span a day (the life of
            // a verification link): an SMTP outage of up to a day loses no mail.
            max_attempts: 34,
            retry_base: Duration::seconds(5),
            retention: Duration::days(7),
        }
    }
}

/// Cross-origin access for browser clients on other origins. Off (no origin) by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsConfig {
    /// Origins allowed (`https://app.example.com`), or `*` for any (never with credentials).
    pub allowed_origins: Vec<String>,
    /// Let browsers send cookies/credentials (`Access-Control-Allow-Credentials`).
    pub allow_credentials: bool,
    /// How long browsers may cache a preflight answer, in seconds.
    pub max_age_secs: u64,
}

impl CorsConfig {
    /// Whether `origin` may call the API, and the value to echo back.
    pub fn allow(&self, origin: &str) -> Option<String> {
        if self.allowed_origins.iter().any(|o| o == "*") && !self.allow_credentials {
            return Some("*".to_owned());
        }
        self.allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then(|| origin.to_owned())
    }
}

/// Who may read the operational detail (`/health/detailed`, `/metrics`). Those answers move
/// with what users do (the mail backlog grows by one after a reset request for a registered
/// address), so the rest of the world gets the 404 of an unknown route.
#[derive(Clone)]
pub struct OpsAccess {
    /// Client networks allowed without a token. The client is the address the API resolves
    /// (the socket peer, or the `X-Forwarded-For` hop behind a trusted proxy). Default:
    /// loopback and private ranges ([`OpsAccess::default_networks`]).
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// A token that opens both routes from anywhere as `Authorization: Bearer <token>`
    /// (compared in constant time). `None`: only the allowed networks.
    pub(crate) token: Option<SecretString>,
}

impl OpsAccess {
    /// Loopback and private ranges: `127.0.0.0/8`, `::1/128`, `10.0.0.0/8`, `172.16.0.0/12`,
    /// `192.168.0.0/16`, `fc00::/7`.
    pub fn default_networks() -> Vec<ipnet::IpNet> {
        [
            "127.0.0.0/8",
            "::1/128",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "fc00::/7",
        ]
        .iter()
        .filter_map(|net| net.parse().ok())
        .collect()
    }

    /// Only these networks, no token.
    pub fn networks(allowed_networks: Vec<ipnet::IpNet>) -> Self {
        Self {
            allowed_networks,
            token: None,
        }
    }

    /// Also open to `Authorization: Bearer <token>` (at least [`MIN_SECRET_LEN`] bytes,
    /// checked by [`ConfigBuilder::build`]).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(SecretString::from(token.into()));
        self
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }
}

impl Default for OpsAccess {
    fn default() -> Self {
        Self::networks(Self::default_networks())
    }
}

impl fmt::Debug for OpsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpsAccess")
            .field("allowed_networks", &self.allowed_networks)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

/// The whole configuration of a [`crate::UserManager`].
#[derive(Clone)]
pub struct Config {
    pub(crate) jwt_secret: SecretString,
    /// `iss` claim of access tokens.
    pub issuer: String,
    /// `aud` claim of access tokens.
    pub audience: String,
    /// Access token lifetime (15 minutes).
    pub access_token_ttl: Duration,
    /// Refresh token lifetime (7 days); a session lives as long as its newest refresh token.
    pub refresh_token_ttl: Duration,
    /// How many checked access tokens are remembered, so a client's next requests skip the
    /// signature check ([`DEFAULT_TOKEN_CACHE_ENTRIES`], about 1.4 KiB each; 0: none, every
    /// request checks its token in full). Raise it when an instance sees more live access
    /// tokens within one token lifetime than this.
    pub token_cache_entries: usize,
    /// How many matches the administrators' user search and the audit listings count before
    /// they stop ([`DEFAULT_TOTAL_COUNT_LIMIT`]; 0: count every match). Past it, `total` is
    /// "at least this many" and `totalExact` is false: an exact count reads every matching row,
    /// which takes seconds on tens of millions of audit rows, while a page costs the same at any
    /// size. A page past the limit is counted to its own end.
    pub total_count_limit: u64,
    /// How old the administrators' dashboard figures may be when they were slow to read
    /// (60 s; 0: always read them anew). Past this age the kept figures are answered once more
    /// while fresh ones are read in the background. See `admin/dashboard/`.
    pub dashboard_max_age: Duration,
    /// Dashboard figures that took at least this long to read are kept for
    /// [`Config::dashboard_max_age`] (200 ms); quicker ones are read anew for every request.
    pub dashboard_slow_read: Duration,
    /// Window in which an already-rotated refresh token still yields a pair (10 s).
    pub refresh_reuse_grace: Duration,
    /// Email verification token lifetime (24 hours).
    pub verification_token_ttl: Duration,
    /// Password reset token lifetime (1 hour).
    pub reset_token_ttl: Duration,
    /// Refuse login until the email address is verified.
    pub require_verified_email: bool,
    /// Password rules.
    pub password_policy: PasswordPolicy,
    /// Hashing cost and pool.
    pub hashing: HashingConfig,
    /// Lockout rules.
    pub lockout: LockoutPolicy,
    /// Mail settings.
    pub mail: MailConfig,
    /// Largest JSON body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest serialised preferences object, in bytes.
    pub max_preferences_bytes: usize,
    /// Minimum gap between two writes of a session's last-activity time.
    pub session_touch_interval: Duration,
    /// Request rate limits and trusted proxies.
    pub rate_limits: RateLimitConfig,
    /// Keys that seal secrets kept at rest (TOTP secrets), newest first: `(id, secret)`.
    /// Empty: one key derived from the JWT secret (id `jwt`), so rotating that secret would void
    /// every enrolled authenticator; production deployments set their own.
    pub(crate) encryption_keys: Vec<(String, SecretString)>,
    /// Ed25519 keys signing access tokens (EdDSA), newest first. Empty: HS256 with the JWT
    /// secret.
    pub(crate) ed25519_keys: Vec<crate::secret::Ed25519Key>,
    /// Issuer shown in authenticator apps (defaults to `mail.app_name`).
    pub two_factor_issuer: Option<String>,
    /// Cross-origin access (off by default).
    pub cors: CorsConfig,
    /// `Strict-Transport-Security` max-age to send (only behind HTTPS); `None` sends none.
    pub hsts_max_age: Option<Duration>,
    /// Lifetime of a login's second-factor challenge (5 minutes).
    pub two_factor_challenge_ttl: Duration,
    /// How many backup codes enabling two-factor hands out (10).
    pub backup_code_count: usize,
    /// How long a soft-deleted account can be recovered before the purge removes it (30 days).
    pub account_recovery_window: Duration,
    /// Lifetime of an impersonation token (15 minutes; it has no refresh token).
    pub impersonation_ttl: Duration,
    /// Where clients reach the host app: scheme, host, port and, when a proxy serves the app
    /// under a path, that path (`https://example.com`, no trailing `/`). Every link the API
    /// hands out starts with it: mail links, avatar URLs, the OpenAPI document's `servers`.
    /// `None` (the default): the links a browser follows on the same site (avatar URLs, the
    /// OpenAPI `servers`, the API page) are relative paths from the mount prefix, and mail
    /// links, which must be absolute, start with [`DEFAULT_PUBLIC_URL`] — set it for any mail
    /// that leaves a development machine.
    pub public_url: Option<String>,
    /// The path the host app mounts the API under (`/identity`; empty, the default: the
    /// root). The adapters' mount helpers serve every route below it (`/identity/api/v1/…`,
    /// `/identity/docs`, `/identity/health`), and the links, the OpenAPI `servers` and the API
    /// page follow it.
    pub mount_prefix: String,
    /// URL prefix of the avatar URLs handed out; the stored key is appended. `None`: the API's
    /// own `/api/v1/upload/avatars` at [`Config::api_base_url`]. Set it when a CDN serves them.
    pub avatar_base_url: Option<String>,
    /// Serve the first seed's compatibility routes (SPEC §6, last paragraph).
    pub compatibility_routes: bool,
    /// Serve the first seed's paths at the server root as well (`POST /users/register`,
    /// `POST /auth/login`, …: the rows marked `at_root`), as that seed did. Takes effect only
    /// with `compatibility_routes` on. Off by default: a host app embedding the library keeps
    /// its own root paths (`/users`, `/auth/login`) unless it asks for these.
    pub compatibility_root_routes: bool,
    /// Who may read `/health/detailed` and `/metrics` (loopback and private networks).
    pub ops_access: OpsAccess,
    /// The WebAuthn relying party passkeys are bound to (RP id, origins, name).
    pub passkeys: PasskeyConfig,
    /// Outgoing webhooks: which URLs may be called, timeouts, retries.
    pub webhooks: WebhookConfig,
    /// Sessions in cookies for browser apps (`None`, the default: bearer tokens only).
    pub cookie_sessions: Option<CookieSessionConfig>,
    /// Social and enterprise sign-in: providers, landing URLs, automatic linking.
    pub oauth: crate::oauth::config::OAuthConfig,
    /// Serve the hosted pages and the web console (`/`, `/signin`, `/account`, `/admin`, …;
    /// feature `console`). Off by default: a host app keeps its root paths unless it asks.
    /// Needs [`Config::cookie_sessions`]: the console's sign-ins are cookie sessions.
    pub console: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("jwt_secret", &"[REDACTED]")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("access_token_ttl", &self.access_token_ttl)
            .field("refresh_token_ttl", &self.refresh_token_ttl)
            .field("token_cache_entries", &self.token_cache_entries)
            .field("total_count_limit", &self.total_count_limit)
            .field("dashboard_max_age", &self.dashboard_max_age)
            .field("dashboard_slow_read", &self.dashboard_slow_read)
            .field("refresh_reuse_grace", &self.refresh_reuse_grace)
            .field("verification_token_ttl", &self.verification_token_ttl)
            .field("reset_token_ttl", &self.reset_token_ttl)
            .field("require_verified_email", &self.require_verified_email)
            .field("password_policy", &self.password_policy)
            .field("hashing", &self.hashing)
            .field("lockout", &self.lockout)
            .field("mail", &self.mail)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("rate_limits", &self.rate_limits)
            .field(
                "encryption_keys",
                &self
                    .encryption_keys
                    .iter()
                    .map(|(id, _)| format!("{id}: [REDACTED]"))
                    .collect::<Vec<_>>(),
            )
            .field("ed25519_keys", &self.ed25519_keys)
            .field("two_factor_issuer", &self.two_factor_issuer)
            .field("cors", &self.cors)
            .field("hsts_max_age", &self.hsts_max_age)
            .field("public_url", &self.public_url)
            .field("mount_prefix", &self.mount_prefix)
            .field("avatar_base_url", &self.avatar_base_url)
            .field("account_recovery_window", &self.account_recovery_window)
            .field("impersonation_ttl", &self.impersonation_ttl)
            .field("compatibility_routes", &self.compatibility_routes)
            .field("compatibility_root_routes", &self.compatibility_root_routes)
            .field("ops_access", &self.ops_access)
            .field("cookie_sessions", &self.cookie_sessions)
            .field("console", &self.console)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Starts a builder; only the signing secret is required.
    pub fn builder(jwt_secret: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder {
            config: Config {
                jwt_secret: SecretString::from(jwt_secret.into()),
                issuer: "usermgmt".to_owned(),
                audience: "usermgmt".to_owned(),
                access_token_ttl: Duration::minutes(15),
                refresh_token_ttl: Duration::days(7),
                token_cache_entries: DEFAULT_TOKEN_CACHE_ENTRIES,
                total_count_limit: DEFAULT_TOTAL_COUNT_LIMIT,
                dashboard_max_age: Duration::seconds(60),
                dashboard_slow_read: Duration::milliseconds(200),
                refresh_reuse_grace: Duration::seconds(10),
                verification_token_ttl: Duration::hours(24),
                reset_token_ttl: Duration::hours(1),
                require_verified_email: false,
                password_policy: PasswordPolicy::default(),
                hashing: HashingConfig::default(),
                lockout: LockoutPolicy::default(),
                mail: MailConfig::default(),
                max_body_bytes: 64 * 1024,
                max_preferences_bytes: 16 * 1024,
                session_touch_interval: Duration::minutes(1),
                rate_limits: RateLimitConfig::default(),
                encryption_keys: Vec::new(),
                ed25519_keys: Vec::new(),
                two_factor_issuer: None,
                cors: CorsConfig::default(),
                hsts_max_age: None,
                account_recovery_window: Duration::days(30),
                impersonation_ttl: Duration::minutes(15),
                public_url: None,
                mount_prefix: String::new(),
                avatar_base_url: None,
                compatibility_routes: false,
                compatibility_root_routes: false,
                two_factor_challenge_ttl: Duration::minutes(5),
                backup_code_count: 10,
                ops_access: OpsAccess::default(),
                passkeys: PasskeyConfig::default(),
                webhooks: WebhookConfig::default(),
                cookie_sessions: None,
                oauth: crate::oauth::config::OAuthConfig::default(),
                console: false,
            },
        }
    }

    /// The signing secret, for the token issuer only.
    pub(crate) fn jwt_secret_bytes(&self) -> &[u8] {
        self.jwt_secret.expose_secret().as_bytes()
    }

    /// The ring that seals secrets at rest under `label`.
    pub(crate) fn sealing_ring(&self, label: &str) -> crate::secret::SealingKeyRing {
        let configured = self
            .encryption_keys
            .iter()
            .map(|(id, secret)| (id.as_str(), secret.expose_secret().as_bytes()));
        crate::secret::SealingKeyRing::derive(configured, label).unwrap_or_else(|| {
            crate::secret::SealingKeyRing::single("jwt", self.jwt_secret_bytes(), label)
        })
    }

    /// [`Config::public_url`], else [`DEFAULT_PUBLIC_URL`]: the start of a link that must be
    /// absolute (one in a mail, a redirect URI registered with another party).
    pub fn absolute_public_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or(DEFAULT_PUBLIC_URL)
    }

    /// The absolute URL the API's paths hang under: [`Config::absolute_public_url`] then
    /// [`Config::mount_prefix`] (`https://example.com/identity`).
    pub fn api_base_url(&self) -> String {
        format!("{}{}", self.absolute_public_url(), self.mount_prefix)
    }

    /// The path part of [`Config::api_base_url`] (`/identity`; empty at the root): what a page
    /// served by the API puts before its absolute paths, so the browser's requests come back
    /// here through the prefix and any proxy path.
    pub fn api_base_path(&self) -> String {
        let proxy_path = self
            .public_url
            .as_deref()
            .and_then(|url| url::Url::parse(url).ok())
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        format!("{proxy_path}{}", self.mount_prefix)
    }

    /// Where links a client follows on this site start: [`Config::api_base_url`] when
    /// [`Config::public_url`] is set, else the path alone ([`Config::api_base_path`]), so an
    /// app that never set its address hands out no `localhost` URL. The OpenAPI document's
    /// server (`/` at the root) and the prefix of avatar URLs.
    pub fn api_link_base(&self) -> String {
        if self.public_url.is_some() {
            self.api_base_url()
        } else {
            self.api_base_path()
        }
    }

    /// The base of verification links: [`MailConfig::confirmation_url`], else the API's
    /// `GET /api/v1/auth/verify-email`.
    pub fn confirmation_link_base(&self) -> String {
        self.mail.confirmation_url.clone().unwrap_or_else(|| {
            if self.console {
                // The console's landing page, which confirms and says so in plain words.
                format!("{}/verify-email", self.api_base_url())
            } else {
                format!("{}{}/auth/verify-email", self.api_base_url(), API_PREFIX)
            }
        })
    }

    /// The base of password-reset links: [`MailConfig::password_reset_url`], else the host
    /// app's `/reset-password` page (a page of the app, not of the API: no mount prefix).
    pub fn password_reset_link_base(&self) -> String {
        self.mail
            .password_reset_url
            .clone()
            .unwrap_or_else(|| format!("{}/reset-password", self.absolute_public_url()))
    }

    /// The prefix of avatar URLs: [`Config::avatar_base_url`], else the API's own
    /// `/api/v1/upload/avatars` at [`Config::api_link_base`] (a path when no public URL is set).
    pub fn avatar_link_base(&self) -> String {
        self.avatar_base_url
            .clone()
            .unwrap_or_else(|| format!("{}{}/upload/avatars", self.api_link_base(), API_PREFIX))
    }

    /// The issuer name authenticator apps show.
    pub fn two_factor_issuer(&self) -> &str {
        self.two_factor_issuer
            .as_deref()
            .unwrap_or(&self.mail.app_name)
    }
}

/// A configuration value that cannot work, naming the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Builds a [`Config`], checking it as a whole.
#[derive(Debug)]
pub struct ConfigBuilder {
    config: Config,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: Duration) => {
        $(#[$doc])*
        pub fn $name(mut self, value: impl IntoDuration) -> Self {
            self.config.$name = value.into_duration();
            self
        }
    };
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name = value;
            self
        }
    };
}

/// A length of time the builder takes: `std::time::Duration` (what a host app usually holds)
/// or `time::Duration` (what `Config` stores). A `std` duration too long for `time` (hundreds of
/// billions of years) is taken as the longest one.
pub trait IntoDuration {
    /// The length as `time::Duration`.
    fn into_duration(self) -> Duration;
}

impl IntoDuration for Duration {
    fn into_duration(self) -> Duration {
        self
    }
}

impl IntoDuration for std::time::Duration {
    fn into_duration(self) -> Duration {
        Duration::try_from(self).unwrap_or(Duration::MAX)
    }
}

impl ConfigBuilder {
    setter!(/// `iss` claim.
        issuer: String);
    setter!(/// `aud` claim.
        audience: String);
    setter!(/// Access token lifetime.
        access_token_ttl: Duration);
    setter!(/// Refresh token lifetime.
        refresh_token_ttl: Duration);
    setter!(/// Checked access tokens remembered (0: none; at most
        /// [`MAX_TOKEN_CACHE_ENTRIES`]).
        token_cache_entries: usize);
    setter!(/// Matches counted exactly by paged admin and audit listings (0: all).
        total_count_limit: u64);
    setter!(/// Age at which kept dashboard figures are read again (0: never kept).
        dashboard_max_age: Duration);
    setter!(/// Read time from which dashboard figures are kept.
        dashboard_slow_read: Duration);
    setter!(/// Grace window for concurrent refreshes.
        refresh_reuse_grace: Duration);
    setter!(/// Verification token lifetime.
        verification_token_ttl: Duration);
    setter!(/// Reset token lifetime.
        reset_token_ttl: Duration);
    setter!(/// Require a verified email to log in.
        require_verified_email: bool);
    setter!(/// Password rules.
        password_policy: PasswordPolicy);
    setter!(/// Hashing cost and pool.
        hashing: HashingConfig);
    setter!(/// Lockout rules.
        lockout: LockoutPolicy);
    setter!(/// Mail settings.
        mail: MailConfig);
    setter!(/// Largest JSON body.
        max_body_bytes: usize);
    setter!(/// Largest preferences object.
        max_preferences_bytes: usize);
    setter!(/// Minimum gap between session activity writes.
        session_touch_interval: Duration);
    setter!(/// Rate limits and trusted proxies.
        rate_limits: RateLimitConfig);
    setter!(/// Cross-origin access.
        cors: CorsConfig);
    setter!(/// `Strict-Transport-Security` max-age (only when served over HTTPS).
        hsts_max_age: Option<Duration>);
    setter!(/// Lifetime of a second-factor login challenge.
        two_factor_challenge_ttl: Duration);
    setter!(/// Backup codes handed out when two-factor is enabled.
        backup_code_count: usize);
    setter!(/// Recovery window of a soft-deleted account.
        account_recovery_window: Duration);
    setter!(/// Lifetime of an impersonation token.
        impersonation_ttl: Duration);
    setter!(/// Serve the first seed's compatibility routes.
        compatibility_routes: bool);
    setter!(/// Serve the first seed's paths at the server root too (with `compatibility_routes`).
        compatibility_root_routes: bool);
    setter!(/// Who may read `/health/detailed` and `/metrics`.
        ops_access: OpsAccess);
    setter!(/// The WebAuthn relying party of passkeys.
        passkeys: PasskeyConfig);
    setter!(/// Outgoing webhooks (allowed URLs, timeouts, retries).
        webhooks: WebhookConfig);
    setter!(/// Social and enterprise sign-in (providers, landing URLs, automatic linking).
        oauth: crate::oauth::config::OAuthConfig);
    setter!(/// Serve the hosted pages and the web console (feature `console`; needs cookie
        /// sessions).
        console: bool);

    /// Turns cookie sessions on for browser apps (see [`CookieSessionConfig`];
    /// `CookieSessionConfig::default()` for `usermgmt_session` cookies on `/`, `Secure`,
    /// `SameSite=Lax`). Bearer tokens keep working beside them.
    pub fn cookie_sessions(mut self, cookies: CookieSessionConfig) -> Self {
        self.config.cookie_sessions = Some(cookies);
        self
    }

    /// Prefix of the avatar URLs handed out (a trailing `/` is dropped); by default the API's
    /// own, under [`ConfigBuilder::public_url`].
    pub fn avatar_base_url(mut self, url: impl Into<String>) -> Self {
        self.config.avatar_base_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// Where clients reach the host app (`https://example.com`; a trailing `/` is dropped):
    /// the start of every link the API hands out. Checked by [`ConfigBuilder::build`].
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.config.public_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The path the host app mounts the API under (`/identity`; a trailing `/` is dropped, a
    /// missing leading one added). The adapters' `router`/`configure` serve the routes there.
    pub fn mount_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        let trimmed = prefix.trim_matches('/');
        self.config.mount_prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("/{trimmed}")
        };
        self
    }

    /// Issuer shown in authenticator apps.
    pub fn two_factor_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.config.two_factor_issuer = Some(issuer.into());
        self
    }

    /// Signs access tokens with EdDSA (Ed25519) instead of HS256. The first key added signs;
    /// every key added verifies (rotation), and all are published at
    /// `/.well-known/jwks.json`. Key ids must be unique.
    pub fn ed25519_key(mut self, key: crate::secret::Ed25519Key) -> Self {
        self.config.ed25519_keys.push(key);
        self
    }

    /// Adds a key sealing secrets at rest (TOTP secrets). The first key added seals; later ones
    /// only open what they sealed before a rotation. Ids are 1–255 bytes, secrets at least
    /// 32 bytes.
    pub fn encryption_key(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.config
            .encryption_keys
            .push((id.into(), SecretString::from(secret.into())));
        self
    }

    /// Checks the configuration and returns it.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config;
        let bad = |var: &str, why: &str| Err(ConfigError(format!("{var}: {why}")));
        if c.jwt_secret.expose_secret().len() < MIN_SECRET_LEN {
            return bad(
                "jwt_secret",
                &format!("must be at least {MIN_SECRET_LEN} bytes"),
            );
        }
        if c.access_token_ttl <= Duration::ZERO || c.refresh_token_ttl <= Duration::ZERO {
            return bad("token lifetimes", "must be positive");
        }
        if c.token_cache_entries > MAX_TOKEN_CACHE_ENTRIES {
            return bad(
                "token_cache_entries",
                &format!(
                    "must be at most {MAX_TOKEN_CACHE_ENTRIES} (0 turns the memory off), got {}",
                    c.token_cache_entries
                ),
            );
        }
        if c.console && c.cookie_sessions.is_none() {
            return bad(
                "console",
                "needs cookie_sessions: the console signs in with cookie sessions",
            );
        }
        if c.hashing.max_concurrent == 0 {
            return bad("hashing.max_concurrent", "must be at least 1");
        }
        if argon2::Params::new(
            c.hashing.memory_kib,
            c.hashing.iterations,
            c.hashing.parallelism,
            None,
        )
        .is_err()
        {
            return bad("hashing", "Argon2 parameters out of range");
        }
        for (id, secret) in &c.encryption_keys {
            if id.is_empty() || id.len() > 255 || id.contains(':') || id.contains(',') {
                return bad(
                    "encryption key id",
                    "must be 1-255 bytes without ':' or ','",
                );
            }
            if secret.expose_secret().len() < MIN_SECRET_LEN {
                return bad(
                    "encryption key",
                    &format!("{id}: must be at least {MIN_SECRET_LEN} bytes"),
                );
            }
        }
        let mut kids = std::collections::HashSet::new();
        for key in &c.ed25519_keys {
            if key.kid().is_empty() || !kids.insert(key.kid().to_owned()) {
                return bad(
                    "ed25519 key id",
                    &format!("{:?} is empty or repeated", key.kid()),
                );
            }
        }
        if c.cors.allow_credentials && c.cors.allowed_origins.iter().any(|o| o == "*") {
            return bad(
                "cors",
                "credentials cannot be allowed for every origin ('*')",
            );
        }
        if c.two_factor_challenge_ttl <= Duration::ZERO {
            return bad("two_factor_challenge_ttl", "must be positive");
        }
        if c.backup_code_count == 0 || c.backup_code_count > 100 {
            return bad("backup_code_count", "must be between 1 and 100");
        }
        if c.password_policy.min_length > c.password_policy.max_length {
            return bad("password_policy", "min_length exceeds max_length");
        }
        if let Some(token) = &c.ops_access.token {
            let token = token.expose_secret();
            // Sent as a header value after `Bearer `: no blanks, no control characters.
            if token.len() < MIN_SECRET_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return bad(
                    "ops_access.token",
                    &format!(
                        "must be at least {MIN_SECRET_LEN} printable ASCII characters without spaces"
                    ),
                );
            }
        }
        if let Some(Err(why)) = c.public_url.as_deref().map(check_public_url) {
            return bad("public_url", &why);
        }
        if !c.mount_prefix.is_empty()
            && (!c.mount_prefix.starts_with('/')
                || !c.mount_prefix.split('/').skip(1).all(|segment| {
                    !segment.is_empty()
                        && segment
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
                }))
        {
            return bad(
                "mount_prefix",
                "must be a path such as /identity: segments of letters, digits, '-', '.', '_' and '~'",
            );
        }
        if let Some(Err(why)) = c.cookie_sessions.as_ref().map(CookieSessionConfig::check) {
            return bad("cookie_sessions", &why);
        }
        // A relying party left at its default follows the public URL: it is the site the
        // browser shows, not `localhost`. WebAuthn binds passkeys to a domain, so a public URL
        // on an IP address leaves the default.
        let mut c = c;
        let default_rp = PasskeyConfig::default();
        if c.passkeys.rp_id == default_rp.rp_id
            && c.passkeys.rp_origins == default_rp.rp_origins
            && let Some(site) = c
                .public_url
                .as_deref()
                .and_then(|u| url::Url::parse(u).ok())
            && let Some(domain) = site.domain()
        {
            c.passkeys.rp_id = domain.to_owned();
            c.passkeys.rp_origins = vec![site.origin().ascii_serialization()];
        }
        if let Err(why) = c.passkeys.webauthn() {
            return bad("passkeys (WEBAUTHN_RP_*)", &why);
        }
        if let Err(why) = c.oauth.check() {
            return bad("oauth", &why);
        }
        Ok(c)
    }
}

/// An `http://` or `https://` URL with a host, without user, query or fragment.
fn check_public_url(url: &str) -> Result<(), String> {
    let refused = || {
        format!(
            "must be an http:// or https:// URL with a host and no query, such as https://example.com, got {url:?}"
        )
    };
    // `Url` would quietly percent-encode a blank or drop a control character; the setting is
    // refused instead, as written.
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(refused());
    }
    let parsed = url::Url::parse(url).map_err(|_| refused())?;
    let fits = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some_and(|host| !host.is_empty())
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.query().is_none()
        && parsed.fragment().is_none();
    if fits { Ok(()) } else { Err(refused()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_follow_the_public_url_and_the_mount_prefix() {
        let defaults = Config::builder("x".repeat(40)).build().unwrap();
        assert_eq!(
            defaults.confirmation_link_base(),
            "http://localhost:3000/api/v1/auth/verify-email"
        );
        assert_eq!(
            defaults.password_reset_link_base(),
            "http://localhost:3000/reset-password"
        );
        // Links a browser follows on the same site stay relative without a public URL.
        assert_eq!(defaults.avatar_link_base(), "/api/v1/upload/avatars");
        assert_eq!(defaults.api_base_path(), "");
        assert_eq!(defaults.api_link_base(), "");
        let prefixed = Config::builder("x".repeat(40))
            .mount_prefix("/identity")
            .build()
            .unwrap();
        assert_eq!(
            prefixed.avatar_link_base(),
            "/identity/api/v1/upload/avatars"
        );
        assert_eq!(
            prefixed.confirmation_link_base(),
            "http://localhost:3000/identity/api/v1/auth/verify-email"
        );

        let mounted = Config::builder("x".repeat(40))
            .public_url("https://acme.test/app/")
            .mount_prefix("identity/")
            .build()
            .unwrap();
        assert_eq!(mounted.api_base_url(), "https://acme.test/app/identity");
        assert_eq!(mounted.api_base_path(), "/app/identity");
        assert_eq!(
            mounted.confirmation_link_base(),
            "https://acme.test/app/identity/api/v1/auth/verify-email"
        );
        assert_eq!(
            mounted.password_reset_link_base(),
            "https://acme.test/app/reset-password"
        );
        assert_eq!(
            mounted.avatar_link_base(),
            "https://acme.test/app/identity/api/v1/upload/avatars"
        );

        // Explicit per-link URLs win.
        let mail = MailConfig {
            confirmation_url: Some("https://front.test/verify".into()),
            password_reset_url: Some("https://front.test/reset".into()),
            ..MailConfig::default()
        };
        let explicit = Config::builder("x".repeat(40))
            .public_url("https://acme.test")
            .mail(mail)
            .avatar_base_url("https://cdn.test/a/")
            .build()
            .unwrap();
        assert_eq!(
            explicit.confirmation_link_base(),
            "https://front.test/verify"
        );
        assert_eq!(
            explicit.password_reset_link_base(),
            "https://front.test/reset"
        );
        assert_eq!(explicit.avatar_link_base(), "https://cdn.test/a");
    }

    #[test]
    fn passkeys_left_at_their_defaults_follow_the_public_url() {
        let config = Config::builder("x".repeat(40))
            .public_url("https://id.acme.test:8443/app")
            .build()
            .unwrap();
        assert_eq!(config.passkeys.rp_id, "id.acme.test");
        assert_eq!(config.passkeys.rp_origins, ["https://id.acme.test:8443"]);
        let explicit = PasskeyConfig {
            rp_id: "acme.test".into(),
            rp_origins: vec!["https://acme.test".into()],
            rp_name: "Acme".into(),
        };
        let config = Config::builder("x".repeat(40))
            .public_url("https://id.acme.test")
            .passkeys(explicit.clone())
            .build()
            .unwrap();
        assert_eq!(config.passkeys, explicit);
        let unset = Config::builder("x".repeat(40)).build().unwrap();
        assert_eq!(unset.passkeys, PasskeyConfig::default());
        let on_an_address = Config::builder("x".repeat(40))
            .public_url("http://127.0.0.1:8080")
            .build()
            .unwrap();
        assert_eq!(on_an_address.passkeys, PasskeyConfig::default());
    }

    #[test]
    fn a_bad_public_url_or_mount_prefix_is_refused() {
        for url in [
            "acme.test",
            "ftp://acme.test",
            "https://",
            "https://a.test/?x=1",
            "https://a.test/#top",
            "https://user:pw@a.test",
            "http://a b",
        ] {
            let err = Config::builder("x".repeat(40))
                .public_url(url)
                .build()
                .unwrap_err();
            assert!(err.0.starts_with("public_url"), "{url}: {err}");
        }
        for prefix in ["/a b", "/{id}", "/a//b", "/a?b"] {
            let err = Config::builder("x".repeat(40))
                .mount_prefix(prefix)
                .build()
                .unwrap_err();
            assert!(err.0.starts_with("mount_prefix"), "{prefix}: {err}");
        }
        let root = Config::builder("x".repeat(40))
            .mount_prefix("/")
            .build()
            .unwrap();
        assert_eq!(root.mount_prefix, "");
    }

    #[test]
    fn lifetimes_are_taken_as_std_or_time_durations() {
        let config = Config::builder("x".repeat(40))
            .access_token_ttl(std::time::Duration::from_secs(300))
            .refresh_token_ttl(Duration::days(2))
            .impersonation_ttl(std::time::Duration::MAX)
            .build()
            .unwrap();
        assert_eq!(config.access_token_ttl, Duration::minutes(5));
        assert_eq!(config.refresh_token_ttl, Duration::days(2));
        assert_eq!(config.impersonation_ttl, Duration::MAX);
    }

    #[test]
    fn the_token_memory_is_bounded() {
        let defaults = Config::builder("x".repeat(40)).build().unwrap();
        assert_eq!(defaults.token_cache_entries, DEFAULT_TOKEN_CACHE_ENTRIES);
        for entries in [0, 1, MAX_TOKEN_CACHE_ENTRIES] {
            let config = Config::builder("x".repeat(40))
                .token_cache_entries(entries)
                .build()
                .unwrap();
            assert_eq!(config.token_cache_entries, entries);
        }
        let err = Config::builder("x".repeat(40))
            .token_cache_entries(MAX_TOKEN_CACHE_ENTRIES + 1)
            .build()
            .unwrap_err();
        assert!(err.0.starts_with("token_cache_entries"), "{err}");
    }

    #[test]
    fn debug_hides_the_secret_and_short_secrets_are_refused() {
        let secret = "x".repeat(40);
        let config = Config::builder(secret.clone()).build().unwrap();
        assert!(!format!("{config:?}").contains(&secret));
        assert!(Config::builder("short").build().is_err());
    }

    #[test]
    fn ops_token_is_redacted_and_must_be_long_and_printable() {
        let token = "t".repeat(40);
        let config = Config::builder("x".repeat(40))
            .ops_access(OpsAccess::default().with_token(token.clone()))
            .build()
            .unwrap();
        assert!(!format!("{config:?}").contains(&token));
        assert!(format!("{config:?}").contains("[REDACTED]"));
        for bad in [
            "short".to_owned(),
            format!("{} {}", "a".repeat(20), "b".repeat(20)),
        ] {
            let err = Config::builder("x".repeat(40))
                .ops_access(OpsAccess::default().with_token(bad))
                .build()
                .unwrap_err();
            assert!(err.0.starts_with("ops_access.token"), "{err}");
        }
    }
}
