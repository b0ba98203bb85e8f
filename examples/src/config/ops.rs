//! Operations: the log filter and who may read `/health/detailed` and `/metrics`.

use super::reader::{ConfigError, Result, Vars};
use super::values::parse_networks;
use usermgmt_core::config::{MIN_SECRET_LEN, OpsAccess};

/// `LOG_LEVEL` (`info`): a level or an `EnvFilter` directive list.
pub(super) fn log_level(vars: &Vars<'_>) -> Result<String> {
    match vars.text("LOG_LEVEL") {
        Some(value) => parse_log_level(&value),
        None => Ok("info".to_owned()),
    }
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

/// Who may read `/health/detailed` and `/metrics`: `OPS_ALLOWED_NETWORKS` (default loopback
/// and private ranges; `none` for no network, the token only) and `METRICS_TOKEN`.
pub(super) fn ops_access(vars: &Vars<'_>) -> Result<OpsAccess> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::config::tests::{err, ok};

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
}
