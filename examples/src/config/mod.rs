//! Configuration of the standalone server from environment variables (SPEC §9).
//!
//! [`load`] is pure: it reads variables through a closure (`main` passes `std::env::var` after
//! reading `.env`; tests pass a map) and returns a typed [`ServerConfig`] or one [`ConfigError`]
//! whose one-line message names the variable and what is wrong with it.
//!
//! Both seed systems' names are accepted (`APP_PORT`/`PORT`, `JWT_EXPIRES`/`JWT_EXPIRES_IN`/
//! `JWT_ACCESS_EXPIRY`, `THROTTLE_*`/`RATE_LIMIT_*`, `DATABASE_URL`/`DB_*`, ...). A variable set to
//! an empty (or blank) value counts as unset. Values are trimmed, except secrets, which are taken
//! exactly as given. `docs/CONFIGURATION.md` is the operator's reference for every variable.
//!
//! One module per concern, each with its tests: `listen` (address, port, framework, CORS,
//! HSTS), `database`, `tokens` (secret, lifetimes, the memory of checked tokens, signing and
//! sealing keys), `mail`, `limits` (rate limits, connection limits), `accounts` (hashing,
//! lockout, lifecycle, avatars, bootstrap administrator), `ops` (log filter, ops endpoints),
//! `passkeys`, `oauth` (social sign-in providers) and `webhooks` (allowed URLs, the endpoint
//! configured at start). They read through `reader` (empty means unset, aliases in order of
//! precedence with a warning for an ignored one, typed values) and parse with `values`.
//!
//! The reader is hand-written rather than a crate's (envy, figment, clap's `env`): those read
//! the process environment or a serde struct, with one name per setting and their own error
//! wording, while the server must keep the seeds' aliases with the warning above, count blank
//! values as unset, keep secrets untrimmed and name the variable in a one-line message.

mod accounts;
mod database;
mod limits;
mod listen;
mod mail;
mod oauth;
mod ops;
mod passkeys;
mod reader;
#[cfg(test)]
mod tests;
mod tokens;
mod values;
mod webhooks;

pub use accounts::AdminBootstrap;
pub use database::{Database, redact_url};
pub use limits::{HttpLimits, RateLimitSettings};
pub use listen::Framework;
pub use reader::ConfigError;
pub use webhooks::ConfiguredWebhook;

use reader::{Result, Vars};
use std::fmt;
use std::time::Duration;
use usermgmt_core::Config;
use usermgmt_core::mail::SmtpConfig;

/// Development or production mode (`APP_ENV`, else `NODE_ENV`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppEnv {
    /// Lenient defaults: listens on 127.0.0.1 and generates a JWT secret when none is set.
    #[default]
    Development,
    /// Listens on 0.0.0.0 and refuses to start without a strong `JWT_SECRET`.
    Production,
}

impl AppEnv {
    /// True in production mode.
    pub fn is_production(self) -> bool {
        self == AppEnv::Production
    }

    /// `"development"` or `"production"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppEnv::Development => "development",
            AppEnv::Production => "production",
        }
    }
}

impl fmt::Display for AppEnv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the standalone server needs, read from the environment by [`load`].
///
/// `Debug` prints no secret: the JWT secret, the database password (inside the URL), the SMTP
/// password and the administrator's password are all redacted.
#[derive(Clone)]
pub struct ServerConfig {
    /// Development or production (`APP_ENV`/`NODE_ENV`).
    pub env: AppEnv,
    /// Address to listen on (`HOST`; 127.0.0.1 in development, 0.0.0.0 in production).
    pub host: String,
    /// Port to listen on (`APP_PORT` or `PORT`; 3000; 0 picks a free port).
    pub port: u16,
    /// Web framework (`SERVER_FRAMEWORK`; the CLI flag overrides it).
    pub framework: Framework,
    /// Database (`DATABASE_URL`, else `DB_*`, else an SQLite file).
    pub database: Database,
    /// The core configuration: JWT secret and lifetimes, mail links, hashing, lockout.
    pub core: Config,
    /// True when no `JWT_SECRET` was set and a random one was generated for this run
    /// (development only): tokens will not survive a restart, which `main` should log.
    pub secret_generated: bool,
    /// SMTP delivery; `None` (no `EMAIL_HOST`) means emails are written to the log.
    pub smtp: Option<SmtpConfig>,
    /// Request rate limit per client (applied as the core's global limit).
    pub rate_limit: RateLimitSettings,
    /// Redis holding the rate-limit counts, so limits hold across instances (`REDIS_URL`;
    /// unset: counted in this process). Redacted in `Debug`.
    pub redis_url: Option<String>,
    /// Log filter (`LOG_LEVEL`; `info`): a level or an `EnvFilter` directive list.
    pub log_level: String,
    /// The administrator to create at start-up, if any.
    pub admin: Option<AdminBootstrap>,
    /// Directory holding avatar images (`AVATAR_DIR`; `uploads/avatars`).
    pub avatar_dir: std::path::PathBuf,
    /// How often expired soft-deleted accounts are purged (`ACCOUNT_PURGE_INTERVAL`; 1 hour).
    pub purge_interval: Duration,
    /// Limits on client connections (`HTTP_*`): slow or idle clients cannot hold the server.
    pub http: HttpLimits,
    /// The webhook endpoint configured by `WEBHOOK_URL`, `WEBHOOK_SECRET`, `WEBHOOK_EVENTS`
    /// (its secret redacted in `Debug`).
    pub webhook: Option<ConfiguredWebhook>,
    /// Things worth a warning in the log that do not stop the server (ignored aliases, weak
    /// settings in production, ...). They never contain a secret.
    pub warnings: Vec<String>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let smtp = self.smtp.as_ref().map(|smtp| {
            format!(
                "SmtpConfig {{ host: {:?}, port: {}, security: {:?}, username: {:?}, password: {}, from: {:?}, timeout: {:?} }}",
                smtp.host,
                smtp.port,
                smtp.security,
                smtp.username,
                if smtp.password.is_some() {
                    "Some([REDACTED])"
                } else {
                    "None"
                },
                smtp.from,
                smtp.timeout,
            )
        });
        f.debug_struct("ServerConfig")
            .field("env", &self.env)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("framework", &self.framework)
            .field("database", &self.database)
            .field("core", &self.core)
            .field("secret_generated", &self.secret_generated)
            .field("smtp", &DebugRaw(smtp.as_deref().unwrap_or("None")))
            .field("rate_limit", &self.rate_limit)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("log_level", &self.log_level)
            .field("admin", &self.admin)
            .field("http", &self.http)
            .field("webhook", &self.webhook)
            .field("warnings", &self.warnings)
            .finish()
    }
}

/// Prints a pre-formatted string without quotes inside a `debug_struct`.
struct DebugRaw<'a>(&'a str);

impl fmt::Debug for DebugRaw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Reads the server configuration through `vars` (a variable's value, or `None` when unset).
///
/// The concerns are read in a fixed order, which decides which error is reported when several
/// variables are wrong and the order of the warnings.
pub fn load(vars: &dyn Fn(&str) -> Option<String>) -> Result<ServerConfig> {
    let mut vars = Vars::new(vars);
    let (env, env_source) = app_env(&mut vars)?;
    let listen = listen::listen(&mut vars, env)?;
    let database = database::database(&mut vars)?;
    let (mut core, secret_generated) = core_config(&mut vars, env, &env_source, listen.port)?;
    let smtp = mail::smtp(&mut vars, env, &core.mail.from)?;
    let rate_limit = limits::rate_limits(&mut vars, &mut core.rate_limits)?;
    let redis_url = vars.raw("REDIS_URL");
    let log_level = ops::log_level(&vars)?;
    let admin = accounts::admin(&mut vars)?;
    let avatar_dir = accounts::avatar_dir(&mut vars);
    accounts::second_seed_notes(&mut vars)?;
    let purge_interval = accounts::purge_interval(&vars)?;
    let http = limits::http_limits(&vars)?;
    let webhook = webhooks::configured(&vars)?;
    Ok(ServerConfig {
        env,
        host: listen.host,
        port: listen.port,
        framework: listen.framework,
        database,
        core,
        secret_generated,
        smtp,
        rate_limit,
        redis_url,
        log_level,
        admin,
        avatar_dir,
        purge_interval,
        http,
        webhook,
        warnings: vars.into_warnings(),
    })
}

/// The mode, and the variable and value it came from (for messages), if one was set.
fn app_env(vars: &mut Vars<'_>) -> Result<(AppEnv, Option<(&'static str, String)>)> {
    let Some((name, value)) = vars.pick(&["APP_ENV", "NODE_ENV"]) else {
        return Ok((AppEnv::Development, None));
    };
    let env = match value.to_ascii_lowercase().as_str() {
        "production" | "prod" => AppEnv::Production,
        "development" | "dev" | "local" | "test" => AppEnv::Development,
        _ => {
            return Err(ConfigError::new(
                name,
                format!("{name} must be development or production, got {value:?}"),
            ));
        }
    };
    Ok((env, Some((name, value))))
}

/// The core library's `Config`, built from every concern that feeds it, and whether the JWT
/// secret was generated for this run.
fn core_config(
    vars: &mut Vars<'_>,
    env: AppEnv,
    env_source: &Option<(&'static str, String)>,
    port: u16,
) -> Result<(Config, bool)> {
    let (secret, secret_generated) = tokens::jwt_secret(vars, env, env_source)?;
    let (builder, public_url_set) = listen::public_url(vars, port, Config::builder(secret))?;
    let mut builder = builder.mail(mail::mail(vars, env, public_url_set)?);
    builder = tokens::lifetimes(vars, builder)?;
    builder = tokens::token_cache(vars, builder)?;
    builder = ops::total_count_limit(vars, builder)?;
    builder = ops::dashboard_max_age(vars, builder)?;
    builder = accounts::sign_in_rules(vars, builder)?;
    builder = builder.hashing(accounts::hashing(vars, env)?);
    builder = tokens::two_factor(vars, env, builder)?;
    builder = tokens::signing_keys(vars, builder)?;
    builder = listen::browsers(vars, builder)?;
    builder = accounts::lifecycle(vars, builder)?;
    builder = builder.ops_access(ops::ops_access(vars)?);
    builder = passkeys::relying_party(vars, port, builder)?;
    builder = webhooks::settings(vars, builder)?;
    builder = oauth::settings(vars, builder)?;
    let config = builder.build().map_err(|err| {
        // Everything the builder checks was checked above with the variable's name; this is a
        // safety net for checks added to core later.
        ConfigError::new("configuration", format!("invalid configuration: {err}"))
    })?;
    Ok((config, secret_generated))
}
