//! Where and how the API is served: the address, the port, the web framework, and what the
//! answers tell browsers (CORS, HSTS).

use super::AppEnv;
use super::reader::{ConfigError, Result, Vars};
use super::values::{parse_http_url, parse_port};
use std::fmt;
use usermgmt_core::ConfigBuilder;
use usermgmt_core::config::{CookieSessionConfig, CorsConfig, SameSite};

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

/// Address, port and framework, as read by [`listen`].
pub(super) struct Listen {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) framework: Framework,
}

/// `HOST` (127.0.0.1 in development, 0.0.0.0 in production), `APP_PORT` or `PORT` (3000) and
/// `SERVER_FRAMEWORK` (axum).
pub(super) fn listen(vars: &mut Vars<'_>, env: AppEnv) -> Result<Listen> {
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
    Ok(Listen {
        host,
        port,
        framework,
    })
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

/// `PUBLIC_URL`: where clients reach the server (`https://users.example.com`), the start of
/// every link it hands out (mail, avatars, the OpenAPI `servers`); default
/// `http://localhost:<port>`. Whether it was set is returned too (production warns of links
/// left on localhost).
pub(super) fn public_url(
    vars: &mut Vars<'_>,
    port: u16,
    builder: ConfigBuilder,
) -> Result<(ConfigBuilder, bool)> {
    match vars.text("PUBLIC_URL") {
        Some(url) => {
            let url = parse_http_url("PUBLIC_URL", &url)?;
            if url.contains(['?', '#']) {
                return Err(ConfigError::new(
                    "PUBLIC_URL",
                    format!("PUBLIC_URL must be a base URL without query or fragment, got {url:?}"),
                ));
            }
            Ok((builder.public_url(url), true))
        }
        None => Ok((
            builder.public_url(format!("http://localhost:{port}")),
            false,
        )),
    }
}

/// What the answers tell browsers: CORS (below), `HSTS_MAX_AGE` and cookie sessions.
pub(super) fn browsers(vars: &mut Vars<'_>, builder: ConfigBuilder) -> Result<ConfigBuilder> {
    let mut builder = builder.cors(cors(vars)?);
    if let Some(max_age) = vars.core_duration("HSTS_MAX_AGE")? {
        builder = builder.hsts_max_age(Some(max_age));
    }
    // `CONSOLE` (true): the hosted pages and the web console at `/`.
    let console = vars.flag("CONSOLE")?.unwrap_or(true);
    if let Some(cookies) = cookie_sessions(vars, console)? {
        builder = builder.cookie_sessions(cookies);
    }
    Ok(builder.console(console))
}

/// Cookie sessions are on with `COOKIE_SESSIONS=true`, and with the console (its sign-ins are
/// cookie sessions). When on, `COOKIE_NAME` (`usermgmt_session`), `COOKIE_DOMAIN` (unset: the
/// answering host), `COOKIE_PATH` (`/`), `COOKIE_SECURE` and `COOKIE_SAME_SITE` (`lax`,
/// `strict` or `none`) shape the cookies. `COOKIE_SECURE` defaults to true, except when the
/// console alone turned them on and the server is reached over plain HTTP (a development
/// machine's http://127.0.0.1:3000, where a browser would drop `Secure` cookies).
fn cookie_sessions(vars: &mut Vars<'_>, console: bool) -> Result<Option<CookieSessionConfig>> {
    let asked = vars.flag("COOKIE_SESSIONS")?.unwrap_or(false);
    if !asked && !console {
        for name in [
            "COOKIE_NAME",
            "COOKIE_DOMAIN",
            "COOKIE_PATH",
            "COOKIE_SECURE",
            "COOKIE_SAME_SITE",
        ] {
            if vars.is_set(name) {
                vars.warn(format!(
                    "{name} is ignored: COOKIE_SESSIONS is not true and CONSOLE is off"
                ));
            }
        }
        return Ok(None);
    }
    let mut cookies = CookieSessionConfig::default();
    if !asked {
        cookies.secure = !vars
            .text("PUBLIC_URL")
            .is_none_or(|url| url.trim().to_ascii_lowercase().starts_with("http://"));
    }
    if let Some(name) = vars.text("COOKIE_NAME") {
        cookies.name = name;
    }
    cookies.domain = vars.text("COOKIE_DOMAIN");
    if let Some(path) = vars.text("COOKIE_PATH") {
        if console && path != "/" {
            vars.warn(format!(
                "COOKIE_PATH={path}: the console's pages see the session only under it"
            ));
        }
        cookies.path = path;
    }
    if let Some(secure) = vars.flag("COOKIE_SECURE")? {
        cookies.secure = secure;
    }
    if let Some(same_site) = vars.text("COOKIE_SAME_SITE") {
        cookies.same_site = match same_site.to_ascii_lowercase().as_str() {
            "lax" => SameSite::Lax,
            "strict" => SameSite::Strict,
            "none" => SameSite::None,
            _ => {
                return Err(ConfigError::new(
                    "COOKIE_SAME_SITE",
                    format!("COOKIE_SAME_SITE must be lax, strict or none, got {same_site:?}"),
                ));
            }
        };
    }
    // The builder would refuse the same; checked here so each problem names its variable.
    let variable = |why: &str| {
        if why.starts_with("name") {
            "COOKIE_NAME"
        } else if why.starts_with("path") {
            "COOKIE_PATH"
        } else if why.starts_with("domain") {
            "COOKIE_DOMAIN"
        } else {
            "COOKIE_SECURE"
        }
    };
    if let Err(why) = cookies.check() {
        let name = variable(&why);
        return Err(ConfigError::new(name, format!("{name}: {why}")));
    }
    Ok(Some(cookies))
}

/// `CORS_ORIGINS` (or `CORS_ORIGIN`): comma-separated origins allowed to call the API from a
/// browser, or `*`; `CORS_CREDENTIALS`: allow credentials (not with `*`); `CORS_MAX_AGE`:
/// preflight cache (10m).
fn cors(vars: &mut Vars<'_>) -> Result<CorsConfig> {
    let mut cors = CorsConfig {
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
    if let Some(allow) = vars.flag("CORS_CREDENTIALS")? {
        cors.allow_credentials = allow;
        if cors.allow_credentials && cors.allowed_origins.iter().any(|o| o == "*") {
            return Err(ConfigError::new(
                "CORS_CREDENTIALS",
                "CORS_CREDENTIALS cannot be true while CORS_ORIGINS is * (name the origins)",
            ));
        }
    }
    if let Some(max_age) = vars.duration("CORS_MAX_AGE")? {
        cors.max_age_secs = max_age.as_secs();
    }
    Ok(cors)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::tests::{err, ok};

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
    fn the_console_is_on_by_default_with_cookie_sessions() {
        let config = ok(&[]).core;
        assert!(config.console);
        let cookies = config
            .cookie_sessions
            .expect("the console's cookie sessions");
        // Plain HTTP on a development machine: Secure cookies would be dropped.
        assert!(!cookies.secure);
        let config = ok(&[("PUBLIC_URL", "https://id.example.com")]).core;
        assert!(config.cookie_sessions.expect("cookies").secure);
        let config = ok(&[("CONSOLE", "false")]).core;
        assert!(!config.console && config.cookie_sessions.is_none());
        err(&[("CONSOLE", "maybe")], "CONSOLE", "CONSOLE");
    }

    #[test]
    fn the_consoles_cookie_sessions_honour_the_cookie_variables() {
        let config = ok(&[
            ("COOKIE_NAME", "sid"),
            ("COOKIE_DOMAIN", "example.com"),
            ("COOKIE_PATH", "/auth"),
            ("COOKIE_SAME_SITE", "strict"),
        ]);
        let about_cookies: Vec<_> = config
            .warnings
            .iter()
            .filter(|w| w.contains("COOKIE"))
            .collect();
        assert_eq!(about_cookies.len(), 1, "{about_cookies:?}");
        assert!(about_cookies[0].starts_with("COOKIE_PATH=/auth"));
        let cookies = config
            .core
            .cookie_sessions
            .expect("the console's cookie sessions");
        assert_eq!(cookies.name, "sid");
        assert_eq!(cookies.domain.as_deref(), Some("example.com"));
        assert_eq!(cookies.path, "/auth");
        assert_eq!(cookies.same_site, SameSite::Strict);
        // Plain HTTP: not Secure unless asked.
        assert!(!cookies.secure);
        let cookies = ok(&[("COOKIE_SECURE", "true")])
            .core
            .cookie_sessions
            .unwrap();
        assert!(cookies.secure);
        let cookies = ok(&[
            ("PUBLIC_URL", "https://id.example.com"),
            ("COOKIE_SECURE", "false"),
        ])
        .core
        .cookie_sessions
        .unwrap();
        assert!(!cookies.secure);
        // Still checked as when asked for by COOKIE_SESSIONS.
        err(
            &[("COOKIE_SAME_SITE", "sometimes")],
            "COOKIE_SAME_SITE",
            "lax, strict or none",
        );
        err(&[("COOKIE_NAME", "a b")], "COOKIE_NAME", "name must be");
    }

    #[test]
    fn cookie_sessions_from_the_environment() {
        assert!(ok(&[("CONSOLE", "false")]).core.cookie_sessions.is_none());
        let config = ok(&[("CONSOLE", "false"), ("COOKIE_NAME", "sid")]);
        assert!(config.core.cookie_sessions.is_none());
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("COOKIE_NAME is ignored"))
        );
        let cookies = ok(&[
            ("COOKIE_SESSIONS", "true"),
            ("COOKIE_NAME", "sid"),
            ("COOKIE_DOMAIN", "example.com"),
            ("COOKIE_SAME_SITE", "Strict"),
        ])
        .core
        .cookie_sessions
        .unwrap();
        assert_eq!(cookies.name, "sid");
        assert_eq!(cookies.domain.as_deref(), Some("example.com"));
        assert_eq!(cookies.same_site, SameSite::Strict);
        assert!(cookies.secure);
        err(
            &[
                ("COOKIE_SESSIONS", "true"),
                ("COOKIE_SAME_SITE", "sometimes"),
            ],
            "COOKIE_SAME_SITE",
            "lax, strict or none",
        );
        err(
            &[("COOKIE_SESSIONS", "true"), ("COOKIE_NAME", "a b")],
            "COOKIE_NAME",
            "name must be",
        );
        err(
            &[
                ("COOKIE_SESSIONS", "true"),
                ("COOKIE_SAME_SITE", "none"),
                ("COOKIE_SECURE", "false"),
            ],
            "COOKIE_SECURE",
            "SameSite=None needs secure",
        );
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
}
