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

use secrecy::SecretString;
use std::fmt;
use std::time::Duration;
use usermgmt_core::Config;
use usermgmt_core::config::{HashingConfig, LockoutPolicy, MIN_SECRET_LEN, MailConfig};
use usermgmt_core::mail::{SmtpConfig, SmtpSecurity};
use usermgmt_core::ratelimit::Limit;

/// Signing secrets published in tutorials, seeds and `.env` examples; refused outside
/// development (compared case-insensitively, surrounding blanks ignored).
const WELL_KNOWN_SECRETS: &[&str] = &[
    "secret",
    "secretkey",
    "secret-key",
    "secret_key",
    "mysecret",
    "my-secret",
    "my_secret",
    "supersecret",
    "super-secret",
    "super_secret",
    "changeme",
    "change-me",
    "change_me",
    "password",
    "jwt_secret",
    "jwt-secret",
    "jwtsecret",
    "your-secret",
    "your_secret",
    "your-secret-key",
    "your_secret_key",
    "your-jwt-secret",
    "your_jwt_secret",
    "your-access-secret-min-32-chars",
    "your-refresh-secret-min-32-chars",
];

/// Fragments that only placeholder secrets contain ("change-me-to-something-long...").
const PLACEHOLDER_FRAGMENTS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "replace-me",
    "replace_me",
    "replaceme",
    "your-secret",
    "your_secret",
    "your-access-secret",
    "your-jwt-secret",
];

/// Length of the random per-start secret used in development when `JWT_SECRET` is unset.
const GENERATED_SECRET_LEN: usize = 48;

/// Longest accepted duration (100 years): anything longer is a typo.
const MAX_DURATION_SECS: u64 = 100 * 365 * 24 * 3600;

/// Argon2id memory cost recommended by OWASP, in KiB (SPEC §3).
const OWASP_MEMORY_KIB: u32 = 19_456;

/// Argon2id iterations recommended by OWASP (SPEC §3).
const OWASP_ITERATIONS: u32 = 2;

/// The SMTP per-message timeout when `EMAIL_TIMEOUT` is unset.
const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(10);

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

/// The web framework serving the API (`SERVER_FRAMEWORK`; the `--framework` flag overrides it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framework {
    /// `usermgmt-axum` (the default).
    #[default]
    Axum,
    /// `usermgmt-actix`.
    Actix,
}

impl Framework {
    /// `"axum"` or `"actix"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Axum => "axum",
            Framework::Actix => "actix",
        }
    }
}

impl fmt::Display for Framework {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where users are stored. `Debug` redacts any password inside the URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file (the default: `sqlite://usermgmt.db?mode=rwc`).
    Sqlite {
        /// A sqlx SQLite URL, e.g. `sqlite://data/usermgmt.db?mode=rwc`.
        url: String,
    },
    /// A PostgreSQL server.
    Postgres {
        /// A `postgres://user:password@host:port/name` URL (it may carry the password).
        url: String,
    },
}

impl Database {
    /// The connection URL, password included: hand it to the driver, never to a log.
    pub fn url(&self) -> &str {
        match self {
            Database::Sqlite { url } | Database::Postgres { url } => url,
        }
    }

    /// The connection URL with any password replaced by `[REDACTED]`, for logs and errors.
    pub fn redacted_url(&self) -> String {
        redact_url(self.url())
    }

    /// `"sqlite"` or `"postgres"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Database::Sqlite { .. } => "sqlite",
            Database::Postgres { .. } => "postgres",
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Database::Sqlite { .. } => "Sqlite",
            Database::Postgres { .. } => "Postgres",
        };
        f.debug_struct(name)
            .field("url", &self.redacted_url())
            .finish()
    }
}

/// Request rate limit: at most `max` requests per `window` (parsed and validated here; enforced by
/// the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Length of the counting window (`RATE_LIMIT_WINDOW` or `THROTTLE_TTL`; 60 s).
    pub window: Duration,
    /// Requests allowed per window (`RATE_LIMIT_MAX` or `THROTTLE_LIMIT`; 100).
    pub max: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(60),
            max: 100,
        }
    }
}

/// Limits on client connections, the same under both frameworks (`serve.rs`, `guard.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Longest time a client may take to send a request's head (`HTTP_HEADER_READ_TIMEOUT`;
    /// 10 s), from the accept for the first request, from its first byte for later ones.
    pub header_read_timeout: Duration,
    /// Longest time a client may take to send a request's body once its head is in
    /// (`HTTP_BODY_READ_TIMEOUT`; 30 s).
    pub body_read_timeout: Duration,
    /// Longest idle time of a kept-alive connection between two requests
    /// (`HTTP_KEEP_ALIVE_TIMEOUT`; 75 s, longer than the 60 s idle timeout of common load
    /// balancers, so the balancer, not the server, closes first).
    pub keep_alive_timeout: Duration,
    /// Most client connections open at once (`HTTP_MAX_CONNECTIONS`; 4096); past it, new ones
    /// wait in the listen backlog until one closes.
    pub max_connections: u32,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(75),
            max_connections: 4096,
        }
    }
}

/// The administrator created at start-up when absent (`ADMIN_EMAIL` + `ADMIN_PASSWORD`).
#[derive(Clone)]
pub struct AdminBootstrap {
    /// `ADMIN_EMAIL`.
    pub email: String,
    /// `ADMIN_USERNAME` (default `admin`).
    pub username: String,
    /// `ADMIN_PASSWORD` (redacted in `Debug`).
    pub password: SecretString,
}

impl fmt::Debug for AdminBootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdminBootstrap")
            .field("email", &self.email)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
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

/// A configuration that cannot work. The message is one line, starts with the variable's name and
/// never contains a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    variable: String,
    message: String,
}

impl ConfigError {
    fn new(variable: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            variable: variable.into(),
            message: message.into(),
        }
    }

    /// The variable at fault (for a few errors, two names joined by `/`).
    #[cfg(test)]
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

type Result<T> = std::result::Result<T, ConfigError>;

/// Reads the server configuration through `vars` (a variable's value, or `None` when unset).
pub fn load(vars: &dyn Fn(&str) -> Option<String>) -> Result<ServerConfig> {
    let mut vars = Vars {
        get: vars,
        warnings: Vec::new(),
    };
    let (env, env_source) = app_env(&mut vars)?;
    let host = vars.text("HOST").unwrap_or_else(|| {
        match env {
            AppEnv::Development => "127.0.0.1",
            AppEnv::Production => "0.0.0.0",
        }
        .to_owned()
    });
    let port = match vars.pick(&["APP_PORT", "PORT"]) {
        Some((name, value)) => parse_port(name, &value, true)?,
        None => 3000,
    };
    let framework = match vars.text("SERVER_FRAMEWORK") {
        Some(value) => parse_framework(&value)?,
        None => Framework::default(),
    };
    let database = database(&mut vars)?;
    let (core, secret_generated) = core_config(&mut vars, env, &env_source)?;
    let smtp = smtp(&mut vars, env, &core.mail.from)?;
    let rate_limit = rate_limit(&mut vars)?;
    let mut core = core;
    core.rate_limits.global = Limit::new(
        rate_limit.max,
        to_core("RATE_LIMIT_WINDOW", rate_limit.window)?,
    );
    route_limits(&mut vars, &mut core.rate_limits)?;
    core.rate_limits.trusted_proxies = trusted_proxies(&mut vars)?;
    let redis_url = vars.raw("REDIS_URL");
    let log_level = match vars.text("LOG_LEVEL") {
        Some(value) => parse_log_level(&value)?,
        None => "info".to_owned(),
    };
    let admin = admin(&mut vars)?;
    let avatar_dir = vars
        .text("AVATAR_DIR")
        .map_or_else(|| std::path::PathBuf::from("uploads/avatars"), Into::into);
    let purge_interval = match vars.text("ACCOUNT_PURGE_INTERVAL") {
        Some(value) => {
            let interval = parse_duration("ACCOUNT_PURGE_INTERVAL", &value)?;
            if interval.is_zero() {
                return Err(ConfigError::new(
                    "ACCOUNT_PURGE_INTERVAL",
                    "ACCOUNT_PURGE_INTERVAL must be longer than zero",
                ));
            }
            interval
        }
        None => Duration::from_secs(3600),
    };
    let http = http_limits(&mut vars)?;
    Ok(ServerConfig {
        env,
        host,
        port,
        framework,
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
        warnings: vars.warnings,
    })
}

/// The variable source, and the warnings gathered while reading it.
struct Vars<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    warnings: Vec<String>,
}

impl Vars<'_> {
    /// The value as given; empty or blank counts as unset.
    fn raw(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|value| !value.trim().is_empty())
    }

    /// The trimmed value; empty or blank counts as unset.
    fn text(&self, name: &str) -> Option<String> {
        self.raw(name).map(|value| value.trim().to_owned())
    }

    fn is_set(&self, name: &str) -> bool {
        self.raw(name).is_some()
    }

    /// The first of several alternative names that is set, trimmed.
    fn pick(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        self.pick_inner(names, true)
    }

    /// The first of several alternative names that is set, exactly as given (secrets).
    fn pick_raw(&mut self, names: &[&'static str]) -> Option<(&'static str, String)> {
        self.pick_inner(names, false)
    }

    fn pick_inner(&mut self, names: &[&'static str], trim: bool) -> Option<(&'static str, String)> {
        let mut chosen: Option<(&'static str, String)> = None;
        for &name in names {
            let Some(value) = self.raw(name) else {
                continue;
            };
            let value = if trim { value.trim().to_owned() } else { value };
            match &chosen {
                None => chosen = Some((name, value)),
                Some((first, kept)) if *kept != value => self.warnings.push(format!(
                    "{name} is ignored because {first} is set to a different value"
                )),
                Some(_) => {}
            }
        }
        chosen
    }
}

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

fn parse_framework(value: &str) -> Result<Framework> {
    match value.to_ascii_lowercase().as_str() {
        "axum" => Ok(Framework::Axum),
        "actix" | "actix-web" | "actix_web" => Ok(Framework::Actix),
        _ => Err(ConfigError::new(
            "SERVER_FRAMEWORK",
            format!("SERVER_FRAMEWORK must be axum or actix, got {value:?}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Database

/// The `DB_*` variables of the first seed, besides `DB_HOST`.
const DB_PARTS: &[&str] = &[
    "DB_PORT",
    "DB_USERNAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_NAME",
];

fn database(vars: &mut Vars<'_>) -> Result<Database> {
    if let Some(url) = vars.text("DATABASE_URL") {
        let ignored: Vec<&str> = std::iter::once("DB_HOST")
            .chain(DB_PARTS.iter().copied())
            .filter(|name| vars.is_set(name))
            .collect();
        if !ignored.is_empty() {
            vars.warnings.push(format!(
                "{} ignored because DATABASE_URL is set",
                if ignored.len() == 1 {
                    format!("{} is", ignored[0])
                } else {
                    format!("{} are", ignored.join(", "))
                }
            ));
        }
        return classify_database_url(url);
    }
    if let Some(host) = vars.text("DB_HOST") {
        return Ok(Database::Postgres {
            url: postgres_url_from_parts(vars, &host)?,
        });
    }
    if let Some(name) = DB_PARTS.iter().find(|name| vars.is_set(name)) {
        return Err(ConfigError::new(
            *name,
            format!(
                "{name} is set but DB_HOST is not: set DB_HOST (or DATABASE_URL) to use PostgreSQL, or unset {name} to use the embedded SQLite file"
            ),
        ));
    }
    let url = match vars.text("USERMGMT_DATA_DIR") {
        Some(dir) => {
            let dir = dir.trim_end_matches('/');
            let dir = if dir.is_empty() { "/" } else { dir };
            let sep = if dir.ends_with('/') { "" } else { "/" };
            format!(
                "sqlite://{}{sep}usermgmt.db?mode=rwc",
                encode_sqlite_path(dir)
            )
        }
        None => "sqlite://usermgmt.db?mode=rwc".to_owned(),
    };
    Ok(Database::Sqlite { url })
}

fn classify_database_url(url: String) -> Result<Database> {
    let lower = url.to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        if url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.is_empty())
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "DATABASE_URL must name a server, e.g. postgres://user:password@localhost:5432/usermgmt",
            ));
        }
        Ok(Database::Postgres { url })
    } else if lower.starts_with("sqlite:") {
        if url.len() == "sqlite:".len() || lower == "sqlite://" {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "DATABASE_URL must name a file, e.g. sqlite://usermgmt.db?mode=rwc",
            ));
        }
        Ok(Database::Sqlite { url })
    } else {
        Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:, got {:?}",
                redact_url(&url)
            ),
        ))
    }
}

/// `postgres://user:password@host:port/name` from the first seed's `DB_*` variables.
fn postgres_url_from_parts(vars: &mut Vars<'_>, host: &str) -> Result<String> {
    let Some(name) = vars.text("DB_NAME") else {
        return Err(ConfigError::new(
            "DB_NAME",
            "DB_NAME is required when DB_HOST is set (the PostgreSQL database name)",
        ));
    };
    let port = match vars.text("DB_PORT") {
        Some(value) => parse_port("DB_PORT", &value, false)?,
        None => 5432,
    };
    let user = vars.pick(&["DB_USERNAME", "DB_USER"]);
    let password = vars.raw("DB_PASSWORD");
    let userinfo = match (user, password) {
        (Some((_, user)), Some(password)) => {
            format!("{}:{}@", percent_encode(&user), percent_encode(&password))
        }
        (Some((_, user)), None) => format!("{}@", percent_encode(&user)),
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "DB_PASSWORD",
                "DB_PASSWORD is set but DB_USERNAME is not (set both, or neither)",
            ));
        }
        (None, None) => String::new(),
    };
    let host = if host.starts_with('/') {
        // A Unix socket directory: sqlx reads a percent-encoded host starting with '/' as one.
        percent_encode(host)
    } else if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else if host
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@'))
    {
        return Err(ConfigError::new(
            "DB_HOST",
            format!("DB_HOST must be a host name or an IP address, got {host:?}"),
        ));
    } else {
        host.to_owned()
    };
    Ok(format!(
        "postgres://{userinfo}{host}:{port}/{}",
        percent_encode(&name)
    ))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Escapes the characters sqlx would otherwise read as URL syntax in an SQLite path.
fn encode_sqlite_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => out.push_str("%25"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            _ => out.push(c),
        }
    }
    out
}

/// Replaces the password of a URL (`scheme://user:password@host`) and any `password=` query
/// parameter with `[REDACTED]`. Errs on the side of hiding too much on malformed URLs.
pub fn redact_url(url: &str) -> String {
    const REDACTED: &str = "[REDACTED]";
    // A password may hold an unencoded '?': the query starts at the first '?' that is
    // followed by a `key=value` pair.
    let query_start = url.match_indices('?').map(|(i, _)| i).find(|&i| {
        url[i + 1..]
            .split('&')
            .next()
            .is_some_and(|pair| pair.contains('='))
    });
    let (base, query) = match query_start {
        Some(i) => (&url[..i], Some(&url[i + 1..])),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            // The last '@' ends the user information even when a password holds an unencoded '@'.
            match rest.rfind('@') {
                Some(at) => {
                    let (userinfo, host_and_path) = rest.split_at(at);
                    match userinfo.split_once(':') {
                        Some((user, _)) => {
                            out.push_str(user);
                            out.push(':');
                            out.push_str(REDACTED);
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push_str(host_and_path);
                }
                None => out.push_str(rest),
            }
        }
        None => out.push_str(base),
    }
    if let Some(query) = query {
        out.push('?');
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.to_ascii_lowercase().contains("password") => {
                    format!("{key}={REDACTED}")
                }
                _ => pair.to_owned(),
            })
            .collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Core configuration

fn core_config(
    vars: &mut Vars<'_>,
    env: AppEnv,
    env_source: &Option<(&'static str, String)>,
) -> Result<(Config, bool)> {
    let (secret, secret_generated) = jwt_secret(vars, env, env_source)?;
    let mut builder = Config::builder(secret);

    let mut mail = MailConfig::default();
    if let Some(from) = vars.text("EMAIL_FROM") {
        if !is_mailbox(&from) {
            return Err(ConfigError::new(
                "EMAIL_FROM",
                format!(
                    "EMAIL_FROM must be an email address such as no-reply@example.com or \"App <no-reply@example.com>\", got {from:?}"
                ),
            ));
        }
        mail.from = from;
    }
    if let Some(name) = vars.text("APP_NAME") {
        mail.app_name = name;
    }
    match vars.text("EMAIL_CONFIRMATION_URL") {
        Some(url) => mail.confirmation_url = parse_http_url("EMAIL_CONFIRMATION_URL", &url)?,
        None if env.is_production() => vars.warnings.push(format!(
            "EMAIL_CONFIRMATION_URL is not set: verification links point to {}",
            mail.confirmation_url
        )),
        None => {}
    }
    match vars.text("PASSWORD_RESET_URL") {
        Some(url) => mail.password_reset_url = parse_http_url("PASSWORD_RESET_URL", &url)?,
        None if env.is_production() => vars.warnings.push(format!(
            "PASSWORD_RESET_URL is not set: password reset links point to {}",
            mail.password_reset_url
        )),
        None => {}
    }
    if let Some(value) = vars.text("MAIL_OUTBOX_RETENTION") {
        let retention = parse_duration("MAIL_OUTBOX_RETENTION", &value)?;
        mail.retention = to_core("MAIL_OUTBOX_RETENTION", retention)?;
    }
    builder = builder.mail(mail);

    let access = match vars.pick(&["JWT_EXPIRES_IN", "JWT_EXPIRES", "JWT_ACCESS_EXPIRY"]) {
        Some((name, value)) => {
            let ttl = parse_duration(name, &value)?;
            builder = builder.access_token_ttl(to_core(name, ttl)?);
            Some((name, ttl))
        }
        None => None,
    };
    if let Some((name, value)) = vars.pick(&["JWT_REFRESH_EXPIRES_IN", "JWT_REFRESH_EXPIRY"]) {
        let ttl = parse_duration(name, &value)?;
        let access_ttl = access.map_or(Duration::from_secs(15 * 60), |(_, ttl)| ttl);
        if ttl <= access_ttl {
            vars.warnings.push(format!(
                "{name} ({}) is not longer than the access token lifetime ({}): clients will have to log in again when access tokens expire",
                format_duration(ttl),
                format_duration(access_ttl)
            ));
        }
        builder = builder.refresh_token_ttl(to_core(name, ttl)?);
    }
    if vars.is_set("JWT_REFRESH_SECRET") {
        vars.warnings.push(
            "JWT_REFRESH_SECRET is ignored: refresh tokens are random opaque strings, not JWTs"
                .to_owned(),
        );
    }
    if let Some(value) = vars.text("EMAIL_VERIFICATION_EXPIRES_IN") {
        let ttl = parse_duration("EMAIL_VERIFICATION_EXPIRES_IN", &value)?;
        builder = builder.verification_token_ttl(to_core("EMAIL_VERIFICATION_EXPIRES_IN", ttl)?);
    }
    if let Some(value) = vars.text("PASSWORD_RESET_EXPIRES_IN") {
        let ttl = parse_duration("PASSWORD_RESET_EXPIRES_IN", &value)?;
        builder = builder.reset_token_ttl(to_core("PASSWORD_RESET_EXPIRES_IN", ttl)?);
    }
    if let Some(issuer) = vars.text("JWT_ISSUER") {
        builder = builder.issuer(issuer);
    }
    if let Some(audience) = vars.text("JWT_AUDIENCE") {
        builder = builder.audience(audience);
    }
    if let Some(value) = vars.text("REQUIRE_VERIFIED_EMAIL") {
        builder = builder.require_verified_email(parse_bool("REQUIRE_VERIFIED_EMAIL", &value)?);
    }

    let mut lockout = LockoutPolicy::default();
    if let Some(value) = vars.text("LOCKOUT_MAX_FAILURES") {
        lockout.max_failures = parse_count("LOCKOUT_MAX_FAILURES", &value)?;
    }
    if let Some(value) = vars.text("LOCKOUT_DURATION") {
        let duration = parse_duration("LOCKOUT_DURATION", &value)?;
        lockout.duration = to_core("LOCKOUT_DURATION", duration)?;
    }
    builder = builder.lockout(lockout);

    builder = builder.hashing(hashing(vars, env)?);
    builder = encryption_keys(vars, env, builder)?;
    builder = signing_keys(vars, builder)?;
    builder = builder.cors(cors(vars)?);
    if let Some(value) = vars.text("HSTS_MAX_AGE") {
        let max_age = parse_duration("HSTS_MAX_AGE", &value)?;
        builder = builder.hsts_max_age(Some(to_core("HSTS_MAX_AGE", max_age)?));
    }
    if let Some(issuer) = vars.text("TWO_FACTOR_ISSUER") {
        builder = builder.two_factor_issuer(issuer);
    }
    if let Some(value) = vars.text("ACCOUNT_RECOVERY_WINDOW") {
        let window = parse_duration("ACCOUNT_RECOVERY_WINDOW", &value)?;
        builder = builder.account_recovery_window(to_core("ACCOUNT_RECOVERY_WINDOW", window)?);
    }
    if let Some(value) = vars.text("IMPERSONATION_TTL") {
        let ttl = parse_duration("IMPERSONATION_TTL", &value)?;
        builder = builder.impersonation_ttl(to_core("IMPERSONATION_TTL", ttl)?);
    }
    if let Some(url) = vars.text("AVATAR_BASE_URL") {
        builder = builder.avatar_base_url(url);
    }
    // The standalone server keeps the first seed's routes on unless told otherwise.
    let compat = match vars.text("COMPATIBILITY_ROUTES") {
        Some(value) => parse_bool("COMPATIBILITY_ROUTES", &value)?,
        None => true,
    };
    builder = builder.compatibility_routes(compat);
    builder = builder.ops_access(ops_access(vars)?);

    let config = builder.build().map_err(|err| {
        // Everything the builder checks was checked above with the variable's name; this is a
        // safety net for checks added to core later.
        ConfigError::new("configuration", format!("invalid configuration: {err}"))
    })?;
    Ok((config, secret_generated))
}

fn jwt_secret(
    vars: &mut Vars<'_>,
    env: AppEnv,
    env_source: &Option<(&'static str, String)>,
) -> Result<(String, bool)> {
    let mode = match env_source {
        Some((name, value)) => format!("{name}={value}"),
        None => format!("APP_ENV={env}"),
    };
    let Some((name, secret)) = vars.pick_raw(&["JWT_SECRET", "JWT_ACCESS_SECRET"]) else {
        if env.is_production() {
            return Err(ConfigError::new(
                "JWT_SECRET",
                format!(
                    "JWT_SECRET is required outside development ({mode}): set it to a random string of at least {MIN_SECRET_LEN} characters"
                ),
            ));
        }
        return Ok((generate_secret(), true));
    };
    let length = secret.chars().count();
    if is_well_known_secret(&secret) {
        if env.is_production() {
            return Err(ConfigError::new(
                name,
                format!(
                    "{name} is a well-known example value and is refused outside development ({mode}): use a random string of at least {MIN_SECRET_LEN} characters"
                ),
            ));
        }
        vars.warnings.push(format!(
            "{name} is a well-known example value: fine for development, refused in production"
        ));
    }
    if length < MIN_SECRET_LEN {
        return Err(ConfigError::new(
            name,
            if env.is_production() {
                format!(
                    "{name} must be at least {MIN_SECRET_LEN} characters outside development ({mode}), got {length}"
                )
            } else {
                format!(
                    "{name} must be at least {MIN_SECRET_LEN} characters, got {length} (unset it in development to use a random secret for each run)"
                )
            },
        ));
    }
    Ok((secret, false))
}

/// `ENCRYPTION_KEYS`: `id:secret` pairs separated by commas, the first sealing new TOTP
/// secrets and every one opening what it sealed (rotation: put a new key first, keep the old
/// ones). Unset: a key derived from `JWT_SECRET`, with a warning in production, since rotating
/// that secret would then void every enrolled authenticator.
fn encryption_keys(
    vars: &mut Vars<'_>,
    env: AppEnv,
    mut builder: usermgmt_core::ConfigBuilder,
) -> Result<usermgmt_core::ConfigBuilder> {
    let Some(value) = vars.raw("ENCRYPTION_KEYS") else {
        if env.is_production() {
            vars.warnings.push(
                "ENCRYPTION_KEYS is not set: TOTP secrets are sealed with a key derived from JWT_SECRET, so rotating JWT_SECRET would disable every authenticator".to_owned(),
            );
        }
        return Ok(builder);
    };
    let mut seen = std::collections::HashSet::new();
    for item in value.split(',').filter(|i| !i.trim().is_empty()) {
        let bad = |why: &str| ConfigError::new("ENCRYPTION_KEYS", format!("ENCRYPTION_KEYS {why}"));
        let Some((id, secret)) = item.split_once(':') else {
            return Err(bad("must be id:secret pairs separated by commas"));
        };
        let id = id.trim();
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad("ids must be 1-64 letters, digits, '-' or '_'"));
        }
        if secret.len() < MIN_SECRET_LEN {
            return Err(bad(&format!(
                "key {id:?} must be at least {MIN_SECRET_LEN} characters"
            )));
        }
        if !seen.insert(id.to_owned()) {
            return Err(bad(&format!("names key {id:?} twice")));
        }
        builder = builder.encryption_key(id, secret);
    }
    if seen.is_empty() {
        return Err(ConfigError::new(
            "ENCRYPTION_KEYS",
            "ENCRYPTION_KEYS must name at least one id:secret pair",
        ));
    }
    Ok(builder)
}

/// `JWT_ALGORITHM` (`HS256`, the default, or `EdDSA`) and, for EdDSA, `JWT_PRIVATE_KEYS`:
/// comma-separated `kid=path` entries naming PKCS#8 PEM Ed25519 private keys; the first signs,
/// all verify and are published at `/.well-known/jwks.json`.
fn signing_keys(
    vars: &mut Vars<'_>,
    mut builder: usermgmt_core::ConfigBuilder,
) -> Result<usermgmt_core::ConfigBuilder> {
    let algorithm = vars
        .text("JWT_ALGORITHM")
        .unwrap_or_else(|| "HS256".to_owned());
    let keys = vars.text("JWT_PRIVATE_KEYS");
    match algorithm.to_ascii_uppercase().as_str() {
        "HS256" => {
            if keys.is_some() {
                vars.warnings
                    .push("JWT_PRIVATE_KEYS is ignored because JWT_ALGORITHM is HS256".to_owned());
            }
            return Ok(builder);
        }
        "EDDSA" => {}
        _ => {
            return Err(ConfigError::new(
                "JWT_ALGORITHM",
                format!("JWT_ALGORITHM must be HS256 or EdDSA, got {algorithm:?}"),
            ));
        }
    }
    let bad = |why: String| ConfigError::new("JWT_PRIVATE_KEYS", format!("JWT_PRIVATE_KEYS {why}"));
    let Some(keys) = keys else {
        return Err(bad(
            "must name the Ed25519 keys when JWT_ALGORITHM is EdDSA (kid=path,...; usermgmt-server generate-key writes one)".to_owned(),
        ));
    };
    let mut seen = std::collections::HashSet::new();
    for entry in keys.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((kid, path)) = entry.split_once('=') else {
            return Err(bad(format!("entries must be kid=path, got {entry:?}")));
        };
        let (kid, path) = (kid.trim(), path.trim());
        if kid.is_empty() || !seen.insert(kid.to_owned()) {
            return Err(bad(format!(
                "key ids must be present and unique, got {kid:?}"
            )));
        }
        let pem =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read {path}: {e}")))?;
        let key = usermgmt_core::auth::tokens::Ed25519Key::from_pkcs8_pem(kid, &pem)
            .map_err(|e| bad(format!("{path}: {e}")))?;
        builder = builder.ed25519_key(key);
    }
    if seen.is_empty() {
        return Err(bad("must name at least one key".to_owned()));
    }
    Ok(builder)
}

/// `CORS_ORIGINS` (or `CORS_ORIGIN`): comma-separated origins allowed to call the API from a
/// browser, or `*`; `CORS_CREDENTIALS`: allow credentials (not with `*`); `CORS_MAX_AGE`:
/// preflight cache (10m).
fn cors(vars: &mut Vars<'_>) -> Result<usermgmt_core::config::CorsConfig> {
    let mut cors = usermgmt_core::config::CorsConfig {
        max_age_secs: 600,
        ..Default::default()
    };
    if let Some((name, value)) = vars.pick(&["CORS_ORIGINS", "CORS_ORIGIN"]) {
        for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            let valid = origin == "*"
                || ((origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin.trim_end_matches('/').contains(['?', '#'])
                    && origin.matches('/').count() == 2);
            if !valid {
                return Err(ConfigError::new(
                    name,
                    format!(
                        "{name} must be origins such as https://app.example.com (scheme and host, no path) or *, got {origin:?}"
                    ),
                ));
            }
            cors.allowed_origins.push(origin.to_owned());
        }
    }
    if let Some(value) = vars.text("CORS_CREDENTIALS") {
        cors.allow_credentials = parse_bool("CORS_CREDENTIALS", &value)?;
        if cors.allow_credentials && cors.allowed_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::new(
                "CORS_CREDENTIALS",
                "CORS_CREDENTIALS cannot be true while CORS_ORIGINS is * (name the origins)",
            ));
        }
    }
    if let Some(value) = vars.text("CORS_MAX_AGE") {
        cors.max_age_secs = parse_duration("CORS_MAX_AGE", &value)?.as_secs();
    }
    Ok(cors)
}

fn is_well_known_secret(secret: &str) -> bool {
    let lower = secret.trim().to_ascii_lowercase();
    let mut chars = lower.chars();
    let single_repeated = chars.next().is_some_and(|first| chars.all(|c| c == first));
    single_repeated
        || WELL_KNOWN_SECRETS.contains(&lower.as_str())
        || PLACEHOLDER_FRAGMENTS
            .iter()
            .any(|fragment| lower.contains(fragment))
}

/// A random secret for one development run (URL-safe base64 of OS randomness).
fn generate_secret() -> String {
    let mut secret = String::with_capacity(2 * 43);
    while secret.len() < GENERATED_SECRET_LEN {
        secret.push_str(&usermgmt_core::secret::random_token());
    }
    secret.truncate(GENERATED_SECRET_LEN);
    secret
}

fn hashing(vars: &mut Vars<'_>, env: AppEnv) -> Result<HashingConfig> {
    let mut hashing = HashingConfig::default();
    if let Some(value) = vars.text("HASH_MEMORY_KIB") {
        hashing.memory_kib = parse_count("HASH_MEMORY_KIB", &value)?;
    }
    if let Some(value) = vars.text("HASH_ITERATIONS") {
        hashing.iterations = parse_count("HASH_ITERATIONS", &value)?;
    }
    if let Some(value) = vars.text("HASH_PARALLELISM") {
        let lanes = parse_count("HASH_PARALLELISM", &value)?;
        if lanes > 0x00FF_FFFF {
            return Err(ConfigError::new(
                "HASH_PARALLELISM",
                format!("HASH_PARALLELISM must be at most 16777215, got {value:?}"),
            ));
        }
        hashing.parallelism = lanes;
    }
    if let Some(value) = vars.text("HASH_MAX_CONCURRENT") {
        hashing.max_concurrent =
            usize::try_from(parse_count("HASH_MAX_CONCURRENT", &value)?).unwrap_or(usize::MAX);
    }
    let floor = hashing.parallelism.saturating_mul(8);
    if hashing.memory_kib < floor {
        return Err(ConfigError::new(
            "HASH_MEMORY_KIB",
            format!(
                "HASH_MEMORY_KIB must be at least 8 times HASH_PARALLELISM ({floor}), got {}",
                hashing.memory_kib
            ),
        ));
    }
    if env.is_production()
        && (hashing.memory_kib < OWASP_MEMORY_KIB || hashing.iterations < OWASP_ITERATIONS)
    {
        vars.warnings.push(format!(
            "HASH_MEMORY_KIB={} / HASH_ITERATIONS={} are below the OWASP recommendation for Argon2id ({OWASP_MEMORY_KIB} KiB, {OWASP_ITERATIONS} iterations)",
            hashing.memory_kib, hashing.iterations
        ));
    }
    Ok(hashing)
}

// ---------------------------------------------------------------------------------------------
// SMTP

/// The variables that only matter when `EMAIL_HOST` is set.
const SMTP_PARTS: &[&str] = &[
    "EMAIL_PORT",
    "SMTP_SECURE",
    "SMTP_SECURITY",
    "EMAIL_USER",
    "EMAIL_PASSWORD",
    "EMAIL_TIMEOUT",
];

fn smtp(vars: &mut Vars<'_>, env: AppEnv, from: &str) -> Result<Option<SmtpConfig>> {
    let Some(host) = vars.text("EMAIL_HOST") else {
        let stray: Vec<&str> = SMTP_PARTS
            .iter()
            .copied()
            .filter(|name| vars.is_set(name))
            .collect();
        if !stray.is_empty() {
            vars.warnings.push(format!(
                "{} set but EMAIL_HOST is not: emails are written to the log",
                if stray.len() == 1 {
                    format!("{} is", stray[0])
                } else {
                    format!("{} are", stray.join(", "))
                }
            ));
        } else if env.is_production() {
            vars.warnings.push(
                "EMAIL_HOST is not set: emails (verification, password reset, alerts) are only written to the log"
                    .to_owned(),
            );
        }
        return Ok(None);
    };
    if host
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@'))
    {
        return Err(ConfigError::new(
            "EMAIL_HOST",
            format!("EMAIL_HOST must be a host name or an IP address, got {host:?}"),
        ));
    }
    let secure = vars
        .text("SMTP_SECURE")
        .map(|value| parse_bool("SMTP_SECURE", &value))
        .transpose()?;
    let explicit = vars
        .text("SMTP_SECURITY")
        .map(|value| parse_security(&value))
        .transpose()?;
    let wants_tls = explicit.map_or(secure == Some(true), |s| s == SmtpSecurity::Tls);
    let port = match vars.text("EMAIL_PORT") {
        Some(value) => parse_port("EMAIL_PORT", &value, false)?,
        None if wants_tls => 465,
        None => 587,
    };
    let security = match (explicit, secure) {
        (Some(security), _) => security,
        (None, Some(true)) => SmtpSecurity::Tls,
        (None, Some(false)) if port == 587 => SmtpSecurity::StartTls,
        (None, Some(false)) => SmtpSecurity::None,
        // Not said: what the well-known ports mean.
        (None, None) if port == 465 => SmtpSecurity::Tls,
        (None, None) if port == 587 => SmtpSecurity::StartTls,
        (None, None) => SmtpSecurity::None,
    };
    let username = vars.text("EMAIL_USER");
    let password = vars.raw("EMAIL_PASSWORD");
    match (&username, &password) {
        (Some(_), None) => {
            return Err(ConfigError::new(
                "EMAIL_PASSWORD",
                "EMAIL_USER is set but EMAIL_PASSWORD is not (set both for SMTP authentication, or neither)",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "EMAIL_USER",
                "EMAIL_PASSWORD is set but EMAIL_USER is not (set both for SMTP authentication, or neither)",
            ));
        }
        _ => {}
    }
    if password.is_some() && security == SmtpSecurity::None && env.is_production() {
        vars.warnings.push(format!(
            "EMAIL_PASSWORD is sent without encryption to {host}:{port} (SMTP_SECURE=false on a port other than 587): set SMTP_SECURE=true or SMTP_SECURITY=starttls"
        ));
    }
    let timeout = match vars.text("EMAIL_TIMEOUT") {
        Some(value) => parse_duration("EMAIL_TIMEOUT", &value)?,
        None => DEFAULT_SMTP_TIMEOUT,
    };
    Ok(Some(SmtpConfig {
        host,
        port,
        security,
        username,
        password: password.map(SecretString::from),
        from: from.to_owned(),
        timeout,
    }))
}

fn parse_security(value: &str) -> Result<SmtpSecurity> {
    match value.to_ascii_lowercase().as_str() {
        "none" | "plain" | "off" => Ok(SmtpSecurity::None),
        "starttls" | "start_tls" | "start-tls" => Ok(SmtpSecurity::StartTls),
        "tls" | "ssl" | "implicit" => Ok(SmtpSecurity::Tls),
        _ => Err(ConfigError::new(
            "SMTP_SECURITY",
            format!("SMTP_SECURITY must be none, starttls or tls, got {value:?}"),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Rate limit, log level, administrator

fn rate_limit(vars: &mut Vars<'_>) -> Result<RateLimitSettings> {
    let mut settings = RateLimitSettings::default();
    if let Some((name, value)) = vars.pick(&["RATE_LIMIT_WINDOW", "THROTTLE_TTL"]) {
        settings.window = parse_duration(name, &value)?;
        if name == "THROTTLE_TTL"
            && value.bytes().all(|b| b.is_ascii_digit())
            && settings.window >= Duration::from_secs(1000)
        {
            vars.warnings.push(format!(
                "THROTTLE_TTL is in seconds: {value} means {}; write it in seconds, or with a unit such as 60s or 1m",
                format_duration(settings.window)
            ));
        }
    }
    if let Some((name, value)) = vars.pick(&["RATE_LIMIT_MAX", "THROTTLE_LIMIT"]) {
        settings.max = parse_count(name, &value)?;
    }
    Ok(settings)
}

/// The sensitive routes' own limits, each `<count>/<window>` (e.g. `10/1m`), on top of the
/// global one: `RATE_LIMIT_LOGIN`, `RATE_LIMIT_TWO_FACTOR`, `RATE_LIMIT_EMAIL`,
/// `RATE_LIMIT_AVAILABILITY`, `RATE_LIMIT_REGISTER`.
fn route_limits(
    vars: &mut Vars<'_>,
    limits: &mut usermgmt_core::ratelimit::RateLimitConfig,
) -> Result<()> {
    let routes: [(&str, &mut Limit); 5] = [
        ("RATE_LIMIT_LOGIN", &mut limits.login),
        ("RATE_LIMIT_TWO_FACTOR", &mut limits.two_factor),
        ("RATE_LIMIT_EMAIL", &mut limits.email_actions),
        ("RATE_LIMIT_AVAILABILITY", &mut limits.availability),
        ("RATE_LIMIT_REGISTER", &mut limits.register),
    ];
    for (name, limit) in routes {
        let Some(value) = vars.text(name) else {
            continue;
        };
        let (count, window) = value.split_once('/').ok_or_else(|| {
            ConfigError::new(
                name,
                format!("{name} must be <count>/<window> such as 10/1m, got {value:?}"),
            )
        })?;
        let max = parse_count(name, count)?;
        let window = parse_duration(name, window)?;
        *limit = Limit::new(max, to_core(name, window)?);
    }
    Ok(())
}

/// `TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges whose `X-Forwarded-For` is
/// believed (a load balancer's). Unset: the socket address is the client.
fn trusted_proxies(vars: &mut Vars<'_>) -> Result<Vec<ipnet::IpNet>> {
    match vars.text("TRUSTED_PROXIES") {
        Some(value) => parse_networks("TRUSTED_PROXIES", &value),
        None => Ok(Vec::new()),
    }
}

/// Comma-separated IP addresses or CIDR ranges (an address is a range of one).
fn parse_networks(name: &str, value: &str) -> Result<Vec<ipnet::IpNet>> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    ConfigError::new(
                        name,
                        format!(
                            "{name} must be comma-separated IP addresses or CIDR ranges, got {item:?}"
                        ),
                    )
                })
        })
        .collect()
}

/// Who may read `/health/detailed` and `/metrics`: `OPS_ALLOWED_NETWORKS` (default loopback
/// and private ranges; `none` for no network, the token only) and `METRICS_TOKEN`.
fn ops_access(vars: &mut Vars<'_>) -> Result<usermgmt_core::config::OpsAccess> {
    use usermgmt_core::config::OpsAccess;
    let networks = match vars.text("OPS_ALLOWED_NETWORKS") {
        Some(value) if value.eq_ignore_ascii_case("none") => Vec::new(),
        Some(value) => parse_networks("OPS_ALLOWED_NETWORKS", &value)?,
        None => OpsAccess::default_networks(),
    };
    let mut access = OpsAccess::networks(networks);
    // A secret: taken exactly as given (no trimming), checked, never echoed.
    if let Some(token) = vars.raw("METRICS_TOKEN") {
        if token.len() < MIN_SECRET_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ConfigError::new(
                "METRICS_TOKEN",
                format!(
                    "METRICS_TOKEN must be at least {MIN_SECRET_LEN} printable ASCII characters without spaces (e.g. openssl rand -hex 32)"
                ),
            ));
        }
        access = access.with_token(token);
    }
    Ok(access)
}

/// `HTTP_HEADER_READ_TIMEOUT`, `HTTP_BODY_READ_TIMEOUT`, `HTTP_KEEP_ALIVE_TIMEOUT`,
/// `HTTP_MAX_CONNECTIONS`.
fn http_limits(vars: &mut Vars<'_>) -> Result<HttpLimits> {
    let mut limits = HttpLimits::default();
    for (name, slot) in [
        ("HTTP_HEADER_READ_TIMEOUT", &mut limits.header_read_timeout),
        ("HTTP_BODY_READ_TIMEOUT", &mut limits.body_read_timeout),
        ("HTTP_KEEP_ALIVE_TIMEOUT", &mut limits.keep_alive_timeout),
    ] {
        if let Some(value) = vars.text(name) {
            *slot = parse_duration(name, &value)?;
        }
    }
    if let Some(value) = vars.text("HTTP_MAX_CONNECTIONS") {
        limits.max_connections = parse_count("HTTP_MAX_CONNECTIONS", &value)?;
    }
    Ok(limits)
}

fn parse_log_level(value: &str) -> Result<String> {
    const LEVELS: &[&str] = &["off", "error", "warn", "info", "debug", "trace"];
    let bad = || {
        ConfigError::new(
            "LOG_LEVEL",
            format!(
                "LOG_LEVEL must be error, warn, info, debug or trace (or a filter such as \"info,usermgmt_core=debug\"), got {value:?}"
            ),
        )
    };
    let lower = value.to_ascii_lowercase();
    if LEVELS.contains(&lower.as_str()) {
        return Ok(lower);
    }
    if lower == "warning" {
        return Ok("warn".to_owned());
    }
    // A filter list: every directive is a level or `target[span{field}]=level`. A bare word would
    // be read as a target name (so a misspelt "inof" would silently log everything of "inof").
    for directive in value.split(',').map(str::trim) {
        if directive.is_empty() {
            return Err(bad());
        }
        let level = match directive.rsplit_once('=') {
            Some((target, level)) if !target.trim().is_empty() => level,
            Some(_) => return Err(bad()),
            None => directive,
        };
        if !LEVELS.contains(&level.trim().to_ascii_lowercase().as_str()) {
            return Err(bad());
        }
    }
    tracing_subscriber::EnvFilter::try_new(value).map_err(|_| bad())?;
    Ok(value.to_owned())
}

fn admin(vars: &mut Vars<'_>) -> Result<Option<AdminBootstrap>> {
    let email = vars.text("ADMIN_EMAIL");
    let password = vars.raw("ADMIN_PASSWORD");
    match (email, password) {
        (Some(email), Some(password)) => {
            if !is_address(&email) {
                return Err(ConfigError::new(
                    "ADMIN_EMAIL",
                    format!("ADMIN_EMAIL must be an email address, got {email:?}"),
                ));
            }
            Ok(Some(AdminBootstrap {
                email,
                username: vars
                    .text("ADMIN_USERNAME")
                    .unwrap_or_else(|| "admin".to_owned()),
                password: SecretString::from(password),
            }))
        }
        (Some(_), None) => Err(ConfigError::new(
            "ADMIN_PASSWORD",
            "ADMIN_EMAIL is set but ADMIN_PASSWORD is not (set both to create an administrator at start-up, or neither)",
        )),
        // `create-admin --email ...` reads ADMIN_PASSWORD alone, so this is no error.
        (None, Some(_)) => {
            vars.warnings.push(
                "ADMIN_PASSWORD is set but ADMIN_EMAIL is not: no administrator is created at start-up (create-admin uses the password)"
                    .to_owned(),
            );
            Ok(None)
        }
        (None, None) => {
            if vars.is_set("ADMIN_USERNAME") {
                vars.warnings.push(
                    "ADMIN_USERNAME is ignored because ADMIN_EMAIL and ADMIN_PASSWORD are not set"
                        .to_owned(),
                );
            }
            Ok(None)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Value parsers

fn parse_bool(name: &str, value: &str) -> Result<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "on" => Ok(true),
        "false" | "0" | "no" | "n" | "off" => Ok(false),
        _ => Err(ConfigError::new(
            name,
            format!("{name} must be true or false, got {value:?}"),
        )),
    }
}

/// A port; `allow_zero` for the listening port, where 0 asks the system for a free one.
fn parse_port(name: &str, value: &str, allow_zero: bool) -> Result<u16> {
    let range = if allow_zero {
        "0-65535, 0 picks a free port"
    } else {
        "1-65535"
    };
    match value.trim().parse::<u16>() {
        Ok(0) if !allow_zero => Err(ConfigError::new(
            name,
            format!("{name} must be a port number ({range}), got {value:?}"),
        )),
        Ok(port) => Ok(port),
        Err(_) => Err(ConfigError::new(
            name,
            format!("{name} must be a port number ({range}), got {value:?}"),
        )),
    }
}

/// A whole number of at least 1.
fn parse_count(name: &str, value: &str) -> Result<u32> {
    match value.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(ConfigError::new(
            name,
            format!(
                "{name} must be a whole number from 1 to {}, got {value:?}",
                u32::MAX
            ),
        )),
    }
}

/// `900` (seconds), `900s`, `15m`, `12h` or `7d`; positive and at most 100 years.
fn parse_duration(name: &str, value: &str) -> Result<Duration> {
    let text = value.trim();
    let bad = || {
        ConfigError::new(
            name,
            format!("{name} must be a duration such as 900, 900s, 15m, 12h or 7d, got {value:?}"),
        )
    };
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return Err(bad());
    }
    let unit_secs: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1,
        "m" | "min" | "mins" | "minute" | "minutes" => 60,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
        "d" | "day" | "days" => 86_400,
        _ => return Err(bad()),
    };
    let too_long = || {
        ConfigError::new(
            name,
            format!("{name} must be at most 100 years, got {value:?}"),
        )
    };
    let count: u64 = digits.parse().map_err(|_| too_long())?;
    if count == 0 {
        return Err(ConfigError::new(
            name,
            format!("{name} must be longer than zero, got {value:?}"),
        ));
    }
    let secs = count
        .checked_mul(unit_secs)
        .filter(|secs| *secs <= MAX_DURATION_SECS)
        .ok_or_else(too_long)?;
    Ok(Duration::from_secs(secs))
}

/// Converts to the core's duration type (`time::Duration`, inferred from the setter).
fn to_core<T: TryFrom<Duration>>(name: &str, duration: Duration) -> Result<T> {
    T::try_from(duration)
        .map_err(|_| ConfigError::new(name, format!("{name} must be at most 100 years")))
}

/// Compact form for messages: `15m`, `7d`, `1h30m`, `45s`.
fn format_duration(duration: Duration) -> String {
    let mut secs = duration.as_secs();
    if secs == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// An `http://` or `https://` URL with a host.
fn parse_http_url(name: &str, value: &str) -> Result<String> {
    let lower = value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let ok = rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.starts_with(':')
    }) && !value.chars().any(char::is_whitespace);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(ConfigError::new(
            name,
            format!("{name} must be an http:// or https:// URL, got {value:?}"),
        ))
    }
}

/// `user@domain` (a rough check; the mailer does the exact one).
fn is_address(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// `user@domain` or `Display Name <user@domain>`.
fn is_mailbox(text: &str) -> bool {
    match text.rsplit_once('<') {
        Some((_, inner)) => inner
            .strip_suffix('>')
            .is_some_and(|address| is_address(address.trim())),
        None => is_address(text),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    const GOOD_SECRET: &str = "k3Jd8s0qLz1xPq7Vb2Nw9Ye4Rt6Uo5Ia0Sd";

    fn load_with(pairs: &[(&str, &str)]) -> Result<ServerConfig> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        load(&|name| map.get(name).cloned())
    }

    fn ok(pairs: &[(&str, &str)]) -> ServerConfig {
        match load_with(pairs) {
            Ok(config) => config,
            Err(err) => panic!("unexpected error: {err}"),
        }
    }

    /// Asserts an error on `variable` whose message names it and contains `fragment`.
    fn err(pairs: &[(&str, &str)], variable: &str, fragment: &str) -> ConfigError {
        let error = match load_with(pairs) {
            Ok(config) => panic!("expected an error on {variable}, got {config:?}"),
            Err(error) => error,
        };
        let message = error.to_string();
        assert_eq!(error.variable(), variable, "{message}");
        assert!(message.contains(variable), "{message}");
        assert!(message.contains(fragment), "{message:?} lacks {fragment:?}");
        assert!(!message.contains('\n'), "{message}");
        error
    }

    fn prod<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut pairs = vec![("APP_ENV", "production"), ("JWT_SECRET", GOOD_SECRET)];
        pairs.extend_from_slice(extra);
        pairs
    }

    // --- defaults ---------------------------------------------------------------------------

    #[test]
    fn defaults_with_no_variables() {
        let config = ok(&[]);
        assert_eq!(config.env, AppEnv::Development);
        assert_eq!(config.host, "127.0.0.1");
        assert_eq!(config.port, 3000);
        assert_eq!(config.framework, Framework::Axum);
        assert_eq!(
            config.database,
            Database::Sqlite {
                url: "sqlite://usermgmt.db?mode=rwc".to_owned()
            }
        );
        assert!(config.secret_generated);
        assert!(config.smtp.is_none());
        assert_eq!(config.rate_limit, RateLimitSettings::default());
        assert_eq!(config.rate_limit.window, Duration::from_secs(60));
        assert_eq!(config.rate_limit.max, 100);
        assert_eq!(config.log_level, "info");
        assert!(config.admin.is_none());
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.core.access_token_ttl.whole_seconds(), 900);
        assert_eq!(config.core.refresh_token_ttl.whole_seconds(), 7 * 86_400);
        assert!(!config.core.require_verified_email);
        assert_eq!(config.core.mail.from, MailConfig::default().from);
        assert_eq!(config.core.hashing.memory_kib, 19_456);
    }

    #[test]
    fn generated_secrets_are_random_per_load() {
        let a = generate_secret();
        let b = generate_secret();
        assert_eq!(a.len(), GENERATED_SECRET_LEN);
        assert_ne!(a, b);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = ok(&[
            ("EMAIL_HOST", ""),
            ("APP_PORT", "  "),
            ("DATABASE_URL", ""),
            ("JWT_SECRET", ""),
        ]);
        assert!(config.smtp.is_none());
        assert_eq!(config.port, 3000);
        assert_eq!(config.database.kind(), "sqlite");
        assert!(config.secret_generated);
    }

    #[test]
    fn production_defaults() {
        let config = ok(&prod(&[]));
        assert_eq!(config.env, AppEnv::Production);
        assert_eq!(config.host, "0.0.0.0");
        assert!(!config.secret_generated);
        // Missing mail settings are worth a warning in production.
        assert!(config.warnings.iter().any(|w| w.contains("EMAIL_HOST")));
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("EMAIL_CONFIRMATION_URL"))
        );
    }

    // --- environment, host, port, framework -------------------------------------------------

    #[test]
    fn app_env_and_node_env() {
        for (name, value) in [
            ("APP_ENV", "production"),
            ("APP_ENV", "PROD"),
            ("NODE_ENV", "production"),
        ] {
            let config = ok(&[(name, value), ("JWT_SECRET", GOOD_SECRET)]);
            assert_eq!(config.env, AppEnv::Production, "{name}={value}");
        }
        for value in ["development", "dev", "test", "local"] {
            assert_eq!(ok(&[("NODE_ENV", value)]).env, AppEnv::Development);
        }
        // APP_ENV wins over NODE_ENV.
        let config = ok(&[("APP_ENV", "development"), ("NODE_ENV", "production")]);
        assert_eq!(config.env, AppEnv::Development);
        assert!(config.warnings.iter().any(|w| w.contains("NODE_ENV")));
        err(&[("APP_ENV", "staging")], "APP_ENV", "\"staging\"");
        err(
            &[("NODE_ENV", "qa")],
            "NODE_ENV",
            "development or production",
        );
    }

    #[test]
    fn host_and_port_from_both_seeds() {
        let config = ok(&[("HOST", "::1"), ("APP_PORT", "8080")]);
        assert_eq!(config.host, "::1");
        assert_eq!(config.port, 8080);
        assert_eq!(ok(&[("PORT", "5001")]).port, 5001);
        assert_eq!(ok(&[("APP_PORT", "0")]).port, 0);
        let config = ok(&[("APP_PORT", "4000"), ("PORT", "5001")]);
        assert_eq!(config.port, 4000);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("PORT is ignored"))
        );
        err(&[("APP_PORT", "abc")], "APP_PORT", "port number");
        err(&[("PORT", "70000")], "PORT", "\"70000\"");
        err(&[("PORT", "-1")], "PORT", "port number");
    }

    #[test]
    fn framework() {
        assert_eq!(
            ok(&[("SERVER_FRAMEWORK", "Actix")]).framework,
            Framework::Actix
        );
        assert_eq!(
            ok(&[("SERVER_FRAMEWORK", "axum")]).framework,
            Framework::Axum
        );
        err(
            &[("SERVER_FRAMEWORK", "rocket")],
            "SERVER_FRAMEWORK",
            "axum or actix",
        );
    }

    // --- database ---------------------------------------------------------------------------

    #[test]
    fn database_url_kinds() {
        for url in [
            "postgres://u:p@localhost/db",
            "postgresql://localhost:5433/db",
            "POSTGRES://host/db",
        ] {
            assert_eq!(
                ok(&[("DATABASE_URL", url)]).database.kind(),
                "postgres",
                "{url}"
            );
        }
        for url in [
            "sqlite://data.db?mode=rwc",
            "sqlite::memory:",
            "sqlite:///tmp/x.db",
        ] {
            let config = ok(&[("DATABASE_URL", url)]);
            assert_eq!(
                config.database,
                Database::Sqlite {
                    url: url.to_owned()
                }
            );
        }
        let error = err(
            &[("DATABASE_URL", "mysql://root:hunter2@db/app")],
            "DATABASE_URL",
            "postgres://, postgresql:// or sqlite:",
        );
        assert!(!error.to_string().contains("hunter2"), "{error}");
        err(&[("DATABASE_URL", "sqlite:")], "DATABASE_URL", "file");
        err(&[("DATABASE_URL", "postgres://")], "DATABASE_URL", "server");
    }

    #[test]
    fn database_url_wins_over_db_parts() {
        let config = ok(&[
            ("DATABASE_URL", "postgres://a@b/c"),
            ("DB_HOST", "other"),
            ("DB_NAME", "x"),
        ]);
        assert_eq!(config.database.url(), "postgres://a@b/c");
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("DB_HOST") && w.contains("DATABASE_URL"))
        );
    }

    #[test]
    fn db_parts_build_an_encoded_postgres_url() {
        let config = ok(&[
            ("DB_HOST", "db.internal"),
            ("DB_PORT", "6543"),
            ("DB_USERNAME", "app user"),
            ("DB_PASSWORD", "p@ss:w/rd?#%é"),
            ("DB_NAME", "user management"),
        ]);
        assert_eq!(
            config.database,
            Database::Postgres {
                url: "postgres://app%20user:p%40ss%3Aw%2Frd%3F%23%25%C3%A9@db.internal:6543/user%20management"
                    .to_owned()
            }
        );
        let config = ok(&[("DB_HOST", "localhost"), ("DB_NAME", "db")]);
        assert_eq!(config.database.url(), "postgres://localhost:5432/db");
        let config = ok(&[
            ("DB_HOST", "localhost"),
            ("DB_USER", "me"),
            ("DB_NAME", "db"),
        ]);
        assert_eq!(config.database.url(), "postgres://me@localhost:5432/db");
        let config = ok(&[("DB_HOST", "::1"), ("DB_NAME", "db")]);
        assert_eq!(config.database.url(), "postgres://[::1]:5432/db");
        let config = ok(&[("DB_HOST", "/var/run/postgresql"), ("DB_NAME", "db")]);
        assert_eq!(
            config.database.url(),
            "postgres://%2Fvar%2Frun%2Fpostgresql:5432/db"
        );
    }

    #[test]
    fn db_parts_errors() {
        err(&[("DB_HOST", "localhost")], "DB_NAME", "DB_HOST");
        err(
            &[
                ("DB_HOST", "localhost"),
                ("DB_NAME", "x"),
                ("DB_PORT", "five"),
            ],
            "DB_PORT",
            "port number (1-65535)",
        );
        err(
            &[("DB_HOST", "localhost"), ("DB_NAME", "x"), ("DB_PORT", "0")],
            "DB_PORT",
            "\"0\"",
        );
        err(
            &[
                ("DB_HOST", "localhost"),
                ("DB_NAME", "x"),
                ("DB_PASSWORD", "pw"),
            ],
            "DB_PASSWORD",
            "DB_USERNAME",
        );
        err(
            &[("DB_HOST", "a b"), ("DB_NAME", "x")],
            "DB_HOST",
            "host name",
        );
        // Parts without a host would silently fall back to SQLite.
        err(&[("DB_NAME", "x")], "DB_NAME", "DB_HOST");
        let error = err(&[("DB_PASSWORD", "hunter2")], "DB_PASSWORD", "DB_HOST");
        assert!(!error.to_string().contains("hunter2"));
    }

    #[test]
    fn data_dir_moves_the_sqlite_file() {
        let config = ok(&[("USERMGMT_DATA_DIR", "/var/lib/usermgmt/")]);
        assert_eq!(
            config.database.url(),
            "sqlite:///var/lib/usermgmt/usermgmt.db?mode=rwc"
        );
        let config = ok(&[("USERMGMT_DATA_DIR", "data?v2")]);
        assert_eq!(
            config.database.url(),
            "sqlite://data%3Fv2/usermgmt.db?mode=rwc"
        );
        let config = ok(&[("USERMGMT_DATA_DIR", "/")]);
        assert_eq!(config.database.url(), "sqlite:///usermgmt.db?mode=rwc");
    }

    #[test]
    fn redact_url_hides_passwords() {
        assert_eq!(
            redact_url("postgres://user:hunter2@host:5432/db"),
            "postgres://user:[REDACTED]@host:5432/db"
        );
        assert_eq!(
            redact_url("postgres://user:p@ss/w?rd@host/db"),
            "postgres://user:[REDACTED]@host/db"
        );
        assert_eq!(
            redact_url("postgres://host/db?user=u&password=hunter2&sslmode=require"),
            "postgres://host/db?user=u&password=[REDACTED]&sslmode=require"
        );
        assert_eq!(
            redact_url("postgres://user@host/db"),
            "postgres://user@host/db"
        );
        assert_eq!(
            redact_url("sqlite://usermgmt.db?mode=rwc"),
            "sqlite://usermgmt.db?mode=rwc"
        );
    }

    // --- JWT secret -------------------------------------------------------------------------

    #[test]
    fn production_refuses_a_missing_secret() {
        let error = err(
            &[("APP_ENV", "production")],
            "JWT_SECRET",
            "required outside development",
        );
        assert!(error.to_string().contains("APP_ENV=production"));
        let error = err(&[("NODE_ENV", "prod")], "JWT_SECRET", "NODE_ENV=prod");
        assert!(error.to_string().contains("32"));
    }

    #[test]
    fn production_refuses_a_short_secret() {
        err(
            &[
                ("APP_ENV", "production"),
                ("JWT_SECRET", "abcdefghijklmnopqrstuvwxyz01234"),
            ],
            "JWT_SECRET",
            "JWT_SECRET must be at least 32 characters outside development (APP_ENV=production)",
        );
        // 32 characters is enough.
        let config = ok(&[
            ("APP_ENV", "production"),
            ("JWT_SECRET", "abcdefghijklmnopqrstuvwxyz012345"),
        ]);
        assert!(!config.secret_generated);
    }

    #[test]
    fn production_refuses_well_known_secrets() {
        for secret in [
            "secret",
            "changeme",
            "your-secret",
            "your-access-secret-min-32-chars",
            "jwt_secret",
            "supersecret",
            "SuperSecret",
            "change-me-to-a-long-random-string-please",
            "your_secret_key_here_make_it_long_enough",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ] {
            err(
                &[("APP_ENV", "production"), ("JWT_SECRET", secret)],
                "JWT_SECRET",
                "well-known",
            );
        }
        // Accepted (with a warning) in development when long enough.
        let config = ok(&[("JWT_SECRET", "change-me-to-a-long-random-string-please")]);
        assert!(!config.secret_generated);
        assert!(config.warnings.iter().any(|w| w.contains("well-known")));
    }

    #[test]
    fn development_refuses_a_short_secret_it_was_given() {
        err(
            &[("JWT_SECRET", "short")],
            "JWT_SECRET",
            "at least 32 characters",
        );
    }

    #[test]
    fn secret_from_the_second_seed_name() {
        let config = ok(&[
            ("APP_ENV", "production"),
            ("JWT_ACCESS_SECRET", GOOD_SECRET),
            ("JWT_REFRESH_SECRET", "anything"),
        ]);
        assert!(!config.secret_generated);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("JWT_REFRESH_SECRET"))
        );
        err(
            &[
                ("APP_ENV", "production"),
                ("JWT_ACCESS_SECRET", "your-access-secret-min-32-chars"),
            ],
            "JWT_ACCESS_SECRET",
            "well-known",
        );
    }

    // --- durations --------------------------------------------------------------------------

    #[test]
    fn duration_syntax() {
        let d = |v: &str| parse_duration("X", v).map(|d| d.as_secs());
        assert_eq!(d("900"), Ok(900));
        assert_eq!(d("900s"), Ok(900));
        assert_eq!(d("15m"), Ok(900));
        assert_eq!(d("12h"), Ok(43_200));
        assert_eq!(d("7d"), Ok(604_800));
        assert_eq!(d(" 7D "), Ok(604_800));
        assert_eq!(d("15 min"), Ok(900));
        for bad in ["", "abc", "15x", "1.5h", "-5m", "m", "15m30s"] {
            let error = d(bad).unwrap_err();
            assert!(
                error
                    .to_string()
                    .starts_with("X must be a duration such as 900"),
                "{error}"
            );
        }
        assert!(d("0").unwrap_err().to_string().contains("longer than zero"));
        assert!(
            d("99999999999999999999999")
                .unwrap_err()
                .to_string()
                .contains("100 years")
        );
        assert!(d("36500d").is_ok());
        assert!(d("36501d").unwrap_err().to_string().contains("100 years"));
    }

    #[test]
    fn token_lifetimes_from_both_seeds() {
        for name in ["JWT_EXPIRES", "JWT_EXPIRES_IN", "JWT_ACCESS_EXPIRY"] {
            let config = ok(&[(name, "30m")]);
            assert_eq!(config.core.access_token_ttl.whole_seconds(), 1800, "{name}");
        }
        let config = ok(&[("JWT_EXPIRES", "3600")]);
        assert_eq!(config.core.access_token_ttl.whole_seconds(), 3600);
        for name in ["JWT_REFRESH_EXPIRES_IN", "JWT_REFRESH_EXPIRY"] {
            let config = ok(&[(name, "30d")]);
            assert_eq!(
                config.core.refresh_token_ttl.whole_seconds(),
                30 * 86_400,
                "{name}"
            );
        }
        err(&[("JWT_EXPIRES", "soon")], "JWT_EXPIRES", "\"soon\"");
        err(
            &[("JWT_REFRESH_EXPIRES_IN", "0")],
            "JWT_REFRESH_EXPIRES_IN",
            "zero",
        );
        let config = ok(&[("JWT_EXPIRES_IN", "1h"), ("JWT_REFRESH_EXPIRES_IN", "30m")]);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("JWT_REFRESH_EXPIRES_IN"))
        );
    }

    #[test]
    fn other_core_settings() {
        let config = ok(&[
            ("EMAIL_FROM", "Acme <no-reply@acme.test>"),
            ("APP_NAME", "Acme"),
            ("EMAIL_CONFIRMATION_URL", "https://acme.test/verify"),
            ("PASSWORD_RESET_URL", "http://localhost:5173/reset"),
            ("REQUIRE_VERIFIED_EMAIL", "YES"),
            ("JWT_ISSUER", "acme"),
            ("JWT_AUDIENCE", "acme-web"),
            ("EMAIL_VERIFICATION_EXPIRES_IN", "48h"),
            ("PASSWORD_RESET_EXPIRES_IN", "30m"),
            ("LOCKOUT_MAX_FAILURES", "10"),
            ("LOCKOUT_DURATION", "1h"),
            ("HASH_MEMORY_KIB", "65536"),
            ("HASH_ITERATIONS", "3"),
            ("HASH_PARALLELISM", "2"),
            ("HASH_MAX_CONCURRENT", "8"),
        ]);
        let core = &config.core;
        assert_eq!(core.mail.from, "Acme <no-reply@acme.test>");
        assert_eq!(core.mail.app_name, "Acme");
        assert_eq!(core.mail.confirmation_url, "https://acme.test/verify");
        assert_eq!(core.mail.password_reset_url, "http://localhost:5173/reset");
        assert!(core.require_verified_email);
        assert_eq!(core.issuer, "acme");
        assert_eq!(core.audience, "acme-web");
        assert_eq!(core.verification_token_ttl.whole_seconds(), 48 * 3600);
        assert_eq!(core.reset_token_ttl.whole_seconds(), 1800);
        assert_eq!(core.lockout.max_failures, 10);
        assert_eq!(core.lockout.duration.whole_seconds(), 3600);
        assert_eq!(core.hashing.memory_kib, 65_536);
        assert_eq!(core.hashing.iterations, 3);
        assert_eq!(core.hashing.parallelism, 2);
        assert_eq!(core.hashing.max_concurrent, 8);
    }

    #[test]
    fn core_setting_errors_name_their_variable() {
        err(&[("EMAIL_FROM", "nobody")], "EMAIL_FROM", "email address");
        err(
            &[("EMAIL_FROM", "App <nobody>")],
            "EMAIL_FROM",
            "email address",
        );
        err(
            &[("EMAIL_CONFIRMATION_URL", "acme.test/verify")],
            "EMAIL_CONFIRMATION_URL",
            "http:// or https://",
        );
        err(
            &[("PASSWORD_RESET_URL", "ftp://acme.test/reset")],
            "PASSWORD_RESET_URL",
            "http:// or https://",
        );
        err(
            &[("PASSWORD_RESET_URL", "https://")],
            "PASSWORD_RESET_URL",
            "http://",
        );
        err(
            &[("REQUIRE_VERIFIED_EMAIL", "maybe")],
            "REQUIRE_VERIFIED_EMAIL",
            "true or false",
        );
        err(
            &[("HASH_MEMORY_KIB", "lots")],
            "HASH_MEMORY_KIB",
            "whole number",
        );
        err(&[("HASH_MEMORY_KIB", "4")], "HASH_MEMORY_KIB", "at least 8");
        err(&[("HASH_ITERATIONS", "0")], "HASH_ITERATIONS", "\"0\"");
        err(
            &[("HASH_MAX_CONCURRENT", "-2")],
            "HASH_MAX_CONCURRENT",
            "whole number",
        );
        err(
            &[("HASH_PARALLELISM", "99999999")],
            "HASH_PARALLELISM",
            "at most",
        );
        err(
            &[("LOCKOUT_MAX_FAILURES", "0")],
            "LOCKOUT_MAX_FAILURES",
            "whole number",
        );
        err(
            &[("LOCKOUT_DURATION", "forever")],
            "LOCKOUT_DURATION",
            "duration",
        );
    }

    #[test]
    fn weak_hashing_is_a_warning_in_production_only() {
        let dev = ok(&[("HASH_MEMORY_KIB", "64"), ("HASH_ITERATIONS", "1")]);
        assert_eq!(dev.core.hashing.memory_kib, 64);
        assert!(!dev.warnings.iter().any(|w| w.contains("OWASP")));
        let prod_pairs = prod(&[("HASH_MEMORY_KIB", "64")]);
        let config = ok(&prod_pairs);
        assert!(config.warnings.iter().any(|w| w.contains("OWASP")));
    }

    // --- SMTP -------------------------------------------------------------------------------

    #[test]
    fn smtp_defaults() {
        let smtp = ok(&[("EMAIL_HOST", "smtp.acme.test")]).smtp.unwrap();
        assert_eq!(smtp.host, "smtp.acme.test");
        assert_eq!(smtp.port, 587);
        assert_eq!(smtp.security, SmtpSecurity::StartTls);
        assert_eq!(smtp.username, None);
        assert!(smtp.password.is_none());
        assert_eq!(smtp.from, MailConfig::default().from);
        assert_eq!(smtp.timeout, Duration::from_secs(10));
    }

    #[test]
    fn smtp_secure_is_a_real_boolean() {
        let security = |pairs: &[(&str, &str)]| {
            let mut all = vec![("EMAIL_HOST", "mail")];
            all.extend_from_slice(pairs);
            let smtp = ok(&all).smtp.unwrap();
            (smtp.port, smtp.security)
        };
        assert_eq!(
            security(&[("SMTP_SECURE", "true")]),
            (465, SmtpSecurity::Tls)
        );
        assert_eq!(
            security(&[("SMTP_SECURE", "TRUE"), ("EMAIL_PORT", "2465")]),
            (2465, SmtpSecurity::Tls)
        );
        assert_eq!(security(&[("SMTP_SECURE", "1")]).1, SmtpSecurity::Tls);
        assert_eq!(security(&[("SMTP_SECURE", "Yes")]).1, SmtpSecurity::Tls);
        // "false" is false (the first seed's string "false" was truthy).
        assert_eq!(
            security(&[("SMTP_SECURE", "false")]),
            (587, SmtpSecurity::StartTls)
        );
        assert_eq!(
            security(&[("SMTP_SECURE", "0"), ("EMAIL_PORT", "587")]).1,
            SmtpSecurity::StartTls
        );
        assert_eq!(
            security(&[("SMTP_SECURE", "no"), ("EMAIL_PORT", "1025")]),
            (1025, SmtpSecurity::None)
        );
        assert_eq!(
            security(&[("SMTP_SECURE", "false"), ("EMAIL_PORT", "465")]).1,
            SmtpSecurity::None
        );
        // Unset: the well-known ports decide.
        assert_eq!(security(&[("EMAIL_PORT", "465")]).1, SmtpSecurity::Tls);
        assert_eq!(security(&[("EMAIL_PORT", "25")]).1, SmtpSecurity::None);
        // SMTP_SECURITY wins.
        assert_eq!(
            security(&[("SMTP_SECURITY", "starttls"), ("SMTP_SECURE", "true")]),
            (587, SmtpSecurity::StartTls)
        );
        assert_eq!(
            security(&[("SMTP_SECURITY", "TLS")]),
            (465, SmtpSecurity::Tls)
        );
        assert_eq!(
            security(&[("SMTP_SECURITY", "none"), ("EMAIL_PORT", "587")]).1,
            SmtpSecurity::None
        );
        err(
            &[("EMAIL_HOST", "mail"), ("SMTP_SECURE", "maybe")],
            "SMTP_SECURE",
            "SMTP_SECURE must be true or false, got \"maybe\"",
        );
        err(
            &[("EMAIL_HOST", "mail"), ("SMTP_SECURITY", "ssl3")],
            "SMTP_SECURITY",
            "none, starttls or tls",
        );
    }

    #[test]
    fn smtp_errors_name_their_variable() {
        err(
            &[("EMAIL_HOST", "mail"), ("EMAIL_PORT", "abc")],
            "EMAIL_PORT",
            "EMAIL_PORT must be a port number (1-65535), got \"abc\"",
        );
        err(
            &[("EMAIL_HOST", "mail"), ("EMAIL_PORT", "0")],
            "EMAIL_PORT",
            "1-65535",
        );
        err(
            &[("EMAIL_HOST", "mail"), ("EMAIL_USER", "me")],
            "EMAIL_PASSWORD",
            "EMAIL_USER is set",
        );
        let error = err(
            &[("EMAIL_HOST", "mail"), ("EMAIL_PASSWORD", "hunter2")],
            "EMAIL_USER",
            "EMAIL_PASSWORD is set",
        );
        assert!(!error.to_string().contains("hunter2"));
        err(&[("EMAIL_HOST", "smtp://mail")], "EMAIL_HOST", "host name");
        err(
            &[("EMAIL_HOST", "mail"), ("EMAIL_TIMEOUT", "x")],
            "EMAIL_TIMEOUT",
            "duration",
        );
    }

    #[test]
    fn smtp_with_credentials_and_from() {
        let config = ok(&[
            ("EMAIL_HOST", "smtp.acme.test"),
            ("EMAIL_PORT", "2525"),
            ("EMAIL_USER", "mailer"),
            ("EMAIL_PASSWORD", " pass with spaces "),
            ("EMAIL_FROM", "no-reply@acme.test"),
            ("EMAIL_TIMEOUT", "30s"),
        ]);
        let smtp = config.smtp.unwrap();
        assert_eq!(smtp.port, 2525);
        assert_eq!(smtp.username.as_deref(), Some("mailer"));
        assert_eq!(
            smtp.password.as_ref().map(|p| p.expose_secret().to_owned()),
            Some(" pass with spaces ".to_owned())
        );
        assert_eq!(smtp.from, "no-reply@acme.test");
        assert_eq!(config.core.mail.from, "no-reply@acme.test");
        assert_eq!(smtp.timeout, Duration::from_secs(30));
    }

    #[test]
    fn smtp_warnings() {
        let config = ok(&[("EMAIL_USER", "me"), ("EMAIL_PASSWORD", "pw")]);
        assert!(config.smtp.is_none());
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("EMAIL_USER, EMAIL_PASSWORD are set but EMAIL_HOST is not"))
        );
        let prod_pairs = prod(&[
            ("EMAIL_HOST", "mail"),
            ("EMAIL_PORT", "25"),
            ("SMTP_SECURE", "false"),
            ("EMAIL_USER", "me"),
            ("EMAIL_PASSWORD", "hunter2"),
        ]);
        let config = ok(&prod_pairs);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("without encryption"))
        );
        assert!(!config.warnings.iter().any(|w| w.contains("hunter2")));
    }

    // --- rate limit, log level, admin -------------------------------------------------------

    #[test]
    fn rate_limit_from_both_seeds() {
        let config = ok(&[("THROTTLE_TTL", "30"), ("THROTTLE_LIMIT", "10")]);
        assert_eq!(
            config.rate_limit,
            RateLimitSettings {
                window: Duration::from_secs(30),
                max: 10
            }
        );
        let config = ok(&[("RATE_LIMIT_WINDOW", "15m"), ("RATE_LIMIT_MAX", "500")]);
        assert_eq!(
            config.rate_limit,
            RateLimitSettings {
                window: Duration::from_secs(900),
                max: 500
            }
        );
        let config = ok(&[("RATE_LIMIT_MAX", "5")]);
        assert_eq!(
            config.rate_limit,
            RateLimitSettings {
                window: Duration::from_secs(60),
                max: 5
            }
        );
        let config = ok(&[("THROTTLE_TTL", "60000")]);
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("THROTTLE_TTL is in seconds"))
        );
        err(&[("THROTTLE_TTL", "soon")], "THROTTLE_TTL", "duration");
        err(&[("THROTTLE_LIMIT", "0")], "THROTTLE_LIMIT", "whole number");
        err(&[("RATE_LIMIT_WINDOW", "0s")], "RATE_LIMIT_WINDOW", "zero");
        err(&[("RATE_LIMIT_MAX", "lots")], "RATE_LIMIT_MAX", "\"lots\"");
    }

    #[test]
    fn log_level() {
        assert_eq!(ok(&[("LOG_LEVEL", "DEBUG")]).log_level, "debug");
        assert_eq!(ok(&[("LOG_LEVEL", "warning")]).log_level, "warn");
        assert_eq!(
            ok(&[("LOG_LEVEL", "info,usermgmt_core=debug,sqlx=warn")]).log_level,
            "info,usermgmt_core=debug,sqlx=warn"
        );
        err(&[("LOG_LEVEL", "inof")], "LOG_LEVEL", "\"inof\"");
        err(
            &[("LOG_LEVEL", "info,usermgmt=loud")],
            "LOG_LEVEL",
            "error, warn, info",
        );
        err(
            &[("LOG_LEVEL", "info,,debug")],
            "LOG_LEVEL",
            "LOG_LEVEL must be",
        );
        err(&[("LOG_LEVEL", "=debug")], "LOG_LEVEL", "LOG_LEVEL must be");
    }

    #[test]
    fn rate_limit_and_proxies_reach_the_core() {
        let config = ok(&[
            ("RATE_LIMIT_WINDOW", "30s"),
            ("RATE_LIMIT_MAX", "7"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1"),
            ("REDIS_URL", "redis://:pw@127.0.0.1:6379"),
        ]);
        let limits = &config.core.rate_limits;
        assert_eq!(limits.global.max, 7);
        assert_eq!(limits.global.window.whole_seconds(), 30);
        // Untouched route limits keep the core's defaults.
        assert_eq!(limits.login.max, 10);
        let routes = ok(&[
            ("RATE_LIMIT_LOGIN", "50/1m"),
            ("RATE_LIMIT_TWO_FACTOR", "5/30s"),
            ("RATE_LIMIT_EMAIL", "3/1h"),
            ("RATE_LIMIT_AVAILABILITY", "100/60"),
            ("RATE_LIMIT_REGISTER", "1000/1d"),
        ]);
        let route_limits = &routes.core.rate_limits;
        let seen = [
            &route_limits.login,
            &route_limits.two_factor,
            &route_limits.email_actions,
            &route_limits.availability,
            &route_limits.register,
        ]
        .map(|l| (l.max, l.window.whole_seconds()));
        assert_eq!(
            seen,
            [(50, 60), (5, 30), (3, 3600), (100, 60), (1000, 86_400)]
        );
        err(
            &[("RATE_LIMIT_LOGIN", "50")],
            "RATE_LIMIT_LOGIN",
            "<count>/<window>",
        );
        err(
            &[("RATE_LIMIT_REGISTER", "0/1h")],
            "RATE_LIMIT_REGISTER",
            "whole number",
        );
        err(
            &[("RATE_LIMIT_EMAIL", "5/soon")],
            "RATE_LIMIT_EMAIL",
            "duration",
        );
        assert_eq!(limits.trusted_proxies.len(), 2);
        assert_eq!(
            config.redis_url.as_deref(),
            Some("redis://:pw@127.0.0.1:6379")
        );
        assert!(!format!("{config:?}").contains(":pw@"));
        err(
            &[("TRUSTED_PROXIES", "10.0.0.0/8,lb.internal")],
            "TRUSTED_PROXIES",
            "TRUSTED_PROXIES must be",
        );
    }

    #[test]
    fn eddsa_keys_are_read_from_files() {
        let dir = std::env::temp_dir().join(format!("usermgmt-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k1.pem");
        let pem = usermgmt_core::auth::tokens::Ed25519Key::generate("k1")
            .to_pkcs8_pem()
            .unwrap();
        std::fs::write(&path, pem).unwrap();
        let entry = format!("k1={}", path.display());
        let config = ok(&[("JWT_ALGORITHM", "EdDSA"), ("JWT_PRIVATE_KEYS", &entry)]);
        assert!(format!("{:?}", config.core).contains("Ed25519Key(k1"));
        err(
            &[("JWT_ALGORITHM", "EdDSA")],
            "JWT_PRIVATE_KEYS",
            "must name",
        );
        err(
            &[("JWT_ALGORITHM", "RS256")],
            "JWT_ALGORITHM",
            "HS256 or EdDSA",
        );
        err(
            &[
                ("JWT_ALGORITHM", "EdDSA"),
                ("JWT_PRIVATE_KEYS", "k1=/nonexistent/x.pem"),
            ],
            "JWT_PRIVATE_KEYS",
            "cannot read",
        );
        std::fs::write(&path, "garbage").unwrap();
        err(
            &[("JWT_ALGORITHM", "EdDSA"), ("JWT_PRIVATE_KEYS", &entry)],
            "JWT_PRIVATE_KEYS",
            "PKCS#8",
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn cors_and_hsts() {
        let config = ok(&[
            (
                "CORS_ORIGINS",
                "https://app.example.com, http://localhost:5173",
            ),
            ("CORS_CREDENTIALS", "true"),
            ("HSTS_MAX_AGE", "365d"),
        ]);
        assert_eq!(config.core.cors.allowed_origins.len(), 2);
        assert!(config.core.cors.allow_credentials);
        assert_eq!(config.core.hsts_max_age.unwrap().whole_days(), 365);
        err(
            &[("CORS_ORIGINS", "app.example.com")],
            "CORS_ORIGINS",
            "origins such as",
        );
        err(
            &[("CORS_ORIGIN", "https://a.example/path")],
            "CORS_ORIGIN",
            "no path",
        );
        err(
            &[("CORS_ORIGINS", "*"), ("CORS_CREDENTIALS", "yes")],
            "CORS_CREDENTIALS",
            "cannot be true",
        );
    }

    #[test]
    fn encryption_keys_are_pairs() {
        let config = ok(&[(
            "ENCRYPTION_KEYS",
            "k2:0123456789abcdef0123456789abcdef-new,k1:0123456789abcdef0123456789abcdef-old",
        )]);
        let debug = format!("{:?}", config.core);
        assert!(debug.contains("k2") && debug.contains("k1"));
        assert!(!debug.contains("-new"), "{debug}");
        err(&[("ENCRYPTION_KEYS", "k1")], "ENCRYPTION_KEYS", "id:secret");
        err(
            &[("ENCRYPTION_KEYS", "k1:short")],
            "ENCRYPTION_KEYS",
            "at least",
        );
        err(
            &[(
                "ENCRYPTION_KEYS",
                "a:0123456789abcdef0123456789abcdef,a:0123456789abcdef0123456789abcdef",
            )],
            "ENCRYPTION_KEYS",
            "twice",
        );
        let config = ok(&[("TWO_FACTOR_ISSUER", "Acme Corp")]);
        assert_eq!(config.core.two_factor_issuer(), "Acme Corp");
    }

    #[test]
    fn account_lifecycle_and_avatar_settings() {
        let defaults = ok(&[]);
        assert_eq!(defaults.core.account_recovery_window.whole_days(), 30);
        assert_eq!(defaults.core.impersonation_ttl.whole_minutes(), 15);
        assert!(defaults.core.compatibility_routes);
        assert_eq!(defaults.purge_interval, Duration::from_secs(3600));
        assert_eq!(
            defaults.avatar_dir,
            std::path::PathBuf::from("uploads/avatars")
        );
        let set = ok(&[
            ("ACCOUNT_RECOVERY_WINDOW", "2m"),
            ("ACCOUNT_PURGE_INTERVAL", "10s"),
            ("IMPERSONATION_TTL", "5m"),
            ("COMPATIBILITY_ROUTES", "false"),
            ("AVATAR_DIR", "/var/lib/usermgmt/avatars"),
            ("AVATAR_BASE_URL", "https://cdn.example.com/avatars/"),
        ]);
        assert_eq!(set.core.account_recovery_window.whole_seconds(), 120);
        assert_eq!(set.purge_interval, Duration::from_secs(10));
        assert_eq!(set.core.impersonation_ttl.whole_minutes(), 5);
        assert!(!set.core.compatibility_routes);
        assert_eq!(set.core.avatar_base_url, "https://cdn.example.com/avatars");
        err(
            &[("ACCOUNT_PURGE_INTERVAL", "0s")],
            "ACCOUNT_PURGE_INTERVAL",
            "longer than zero",
        );
        err(
            &[("COMPATIBILITY_ROUTES", "maybe")],
            "COMPATIBILITY_ROUTES",
            "",
        );
        err(
            &[("ACCOUNT_RECOVERY_WINDOW", "soon")],
            "ACCOUNT_RECOVERY_WINDOW",
            "",
        );
    }

    #[test]
    fn admin_bootstrap() {
        let admin = ok(&[
            ("ADMIN_EMAIL", "root@acme.test"),
            ("ADMIN_PASSWORD", "S3cure!Pass"),
        ])
        .admin
        .unwrap();
        assert_eq!(admin.email, "root@acme.test");
        assert_eq!(admin.username, "admin");
        assert_eq!(admin.password.expose_secret(), "S3cure!Pass");
        let admin = ok(&[
            ("ADMIN_EMAIL", "root@acme.test"),
            ("ADMIN_PASSWORD", "S3cure!Pass"),
            ("ADMIN_USERNAME", "root"),
        ])
        .admin
        .unwrap();
        assert_eq!(admin.username, "root");
        err(
            &[("ADMIN_EMAIL", "root@acme.test")],
            "ADMIN_PASSWORD",
            "ADMIN_EMAIL is set",
        );
        let config = ok(&[("ADMIN_PASSWORD", "S3cure!Pass")]);
        assert!(config.admin.is_none());
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("ADMIN_EMAIL is not"))
        );
        assert!(!config.warnings.iter().any(|w| w.contains("S3cure")));
        err(
            &[("ADMIN_EMAIL", "root"), ("ADMIN_PASSWORD", "x")],
            "ADMIN_EMAIL",
            "email address",
        );
        let config = ok(&[("ADMIN_USERNAME", "root")]);
        assert!(config.warnings.iter().any(|w| w.contains("ADMIN_USERNAME")));
    }

    // --- Debug ------------------------------------------------------------------------------

    #[test]
    fn http_limits_have_defaults_and_read_their_variables() {
        let config = ok(&[]);
        assert_eq!(config.http, HttpLimits::default());
        assert_eq!(config.http.header_read_timeout, Duration::from_secs(10));
        let config = ok(&[
            ("HTTP_HEADER_READ_TIMEOUT", "2s"),
            ("HTTP_BODY_READ_TIMEOUT", "1m"),
            ("HTTP_KEEP_ALIVE_TIMEOUT", "5"),
            ("HTTP_MAX_CONNECTIONS", "64"),
        ]);
        assert_eq!(
            config.http,
            HttpLimits {
                header_read_timeout: Duration::from_secs(2),
                body_read_timeout: Duration::from_secs(60),
                keep_alive_timeout: Duration::from_secs(5),
                max_connections: 64,
            }
        );
        err(
            &[("HTTP_HEADER_READ_TIMEOUT", "0")],
            "HTTP_HEADER_READ_TIMEOUT",
            "longer than zero",
        );
        err(
            &[("HTTP_KEEP_ALIVE_TIMEOUT", "soon")],
            "HTTP_KEEP_ALIVE_TIMEOUT",
            "duration",
        );
        err(
            &[("HTTP_MAX_CONNECTIONS", "0")],
            "HTTP_MAX_CONNECTIONS",
            "whole number",
        );
    }

    #[test]
    fn ops_access_from_networks_and_token() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let default = ok(&[]).core.ops_access;
        assert_eq!(
            default.allowed_networks,
            usermgmt_core::config::OpsAccess::default_networks()
        );
        assert!(!default.has_token());
        let config = ok(&[
            ("OPS_ALLOWED_NETWORKS", "10.1.0.0/16, 192.0.2.7"),
            ("METRICS_TOKEN", "0123456789abcdef0123456789abcdef"),
        ]);
        let ops = &config.core.ops_access;
        assert_eq!(ops.allowed_networks.len(), 2);
        assert!(ops.allowed_networks[1].contains(&ip("192.0.2.7")));
        assert!(ops.has_token());
        assert!(
            !format!("{config:?}").contains("0123456789abcdef0123456789abcdef"),
            "the token is redacted"
        );
        let none = ok(&[("OPS_ALLOWED_NETWORKS", "none")]);
        assert!(none.core.ops_access.allowed_networks.is_empty());
        err(
            &[("OPS_ALLOWED_NETWORKS", "10.0.0.0/8, office")],
            "OPS_ALLOWED_NETWORKS",
            "CIDR",
        );
        let e = err(
            &[("METRICS_TOKEN", "short-token")],
            "METRICS_TOKEN",
            "at least 32",
        );
        assert!(!e.to_string().contains("short-token"), "{e}");
        err(
            &[("METRICS_TOKEN", "0123456789abcdef 0123456789abcdef")],
            "METRICS_TOKEN",
            "without spaces",
        );
    }

    #[test]
    fn debug_hides_every_secret() {
        let jwt = "Zx9-top-secret-jwt-signing-key-0123456789";
        let pairs = [
            ("APP_ENV", "production"),
            ("JWT_SECRET", jwt),
            ("DB_HOST", "db"),
            ("DB_USERNAME", "app"),
            ("DB_PASSWORD", "db-password-xyzzy"),
            ("DB_NAME", "users"),
            ("EMAIL_HOST", "smtp.acme.test"),
            ("EMAIL_USER", "mailer"),
            ("EMAIL_PASSWORD", "smtp-password-plugh"),
            ("ADMIN_EMAIL", "root@acme.test"),
            ("ADMIN_PASSWORD", "admin-password-frotz"),
            ("METRICS_TOKEN", "metrics-token-xyzzy-metrics-token-xyzzy"),
        ];
        let config = ok(&pairs);
        let debug = format!("{config:?}");
        let pretty = format!("{config:#?}");
        for secret in [
            jwt,
            "db-password-xyzzy",
            "smtp-password-plugh",
            "admin-password-frotz",
            "metrics-token-xyzzy-metrics-token-xyzzy",
        ] {
            assert!(!debug.contains(secret), "{secret} leaked: {debug}");
            assert!(!pretty.contains(secret), "{secret} leaked: {pretty}");
        }
        // The rest is there, so the redaction is not an accident of an empty Debug.
        for visible in [
            "postgres://app:[REDACTED]@db:5432/users",
            "smtp.acme.test",
            "mailer",
            "root@acme.test",
            "Production",
        ] {
            assert!(debug.contains(visible), "{visible} missing: {debug}");
        }
        // And the secrets are really in the config.
        assert!(config.database.url().contains("db-password-xyzzy"));

        let db = Database::Postgres {
            url: "postgresql://u:hunter2@h/d?password=hunter3".to_owned(),
        };
        let debug = format!("{db:?}");
        assert!(
            !debug.contains("hunter2") && !debug.contains("hunter3"),
            "{debug}"
        );
    }

    #[test]
    fn debug_hides_a_generated_secret_and_url_passwords() {
        let config = ok(&[("DATABASE_URL", "postgres://u:pw-in-url-42@h/d")]);
        assert!(config.secret_generated);
        let debug = format!("{config:?}");
        assert!(!debug.contains("pw-in-url-42"), "{debug}");
        assert!(debug.contains("jwt_secret: \"[REDACTED]\""), "{debug}");
    }

    #[test]
    fn format_duration_is_compact() {
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(604_800)), "7d");
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
    }
}
