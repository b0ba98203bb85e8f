//! Operations: the log filter, who may read `/health/detailed` and `/metrics`, and how far the
//! admin and audit listings count.

use super::reader::{ConfigError, Result, Vars};
use super::values::parse_networks;
use usermgmt_core::config::{ConfigBuilder, MIN_SECRET_LEN, OpsAccess};

/// `TOTAL_COUNT_LIMIT` (10000): how many matches the admin user search and the audit listings
/// count before their `total` becomes "at least" (0 counts every match).
pub(super) fn total_count_limit(vars: &Vars<'_>, builder: ConfigBuilder) -> Result<ConfigBuilder> {
    let Some(value) = vars.text("TOTAL_COUNT_LIMIT") else {
        return Ok(builder);
    };
    match value.parse::<u64>() {
        Ok(limit) if limit <= MAX_TOTAL_COUNT_LIMIT => Ok(builder.total_count_limit(limit)),
        _ => Err(ConfigError::new(
            "TOTAL_COUNT_LIMIT",
            format!(
                "TOTAL_COUNT_LIMIT must be a whole number from 0 (count every match) to {MAX_TOTAL_COUNT_LIMIT}, got {value:?}"
            ),
        )),
    }
}

/// `DASHBOARD_MAX_AGE` (60 s): how old the admin dashboard's figures may get when they were slow
/// to read (0 reads them anew for every request).
pub(super) fn dashboard_max_age(vars: &Vars<'_>, builder: ConfigBuilder) -> Result<ConfigBuilder> {
    if vars.text("DASHBOARD_MAX_AGE").as_deref() == Some("0") {
        return Ok(builder.dashboard_max_age(time::Duration::ZERO));
    }
    Ok(match vars.core_duration("DASHBOARD_MAX_AGE")? {
        Some(age) => builder.dashboard_max_age(age),
        None => builder,
    })
}

/// Largest `TOTAL_COUNT_LIMIT`: past a billion rows a bound saves nothing, so a larger value is a
/// typo (use 0 to count every match).
const MAX_TOTAL_COUNT_LIMIT: u64 = 1_000_000_000;

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
    fn total_count_limit_from_zero_to_a_billion() {
        assert_eq!(ok(&[]).core.total_count_limit, 10_000);
        for (value, limit) in [("0", 0), (" 500 ", 500), ("1000000000", 1_000_000_000)] {
            let config = ok(&[("TOTAL_COUNT_LIMIT", value)]);
            assert_eq!(config.core.total_count_limit, limit, "{value}");
        }
        for value in ["1000000001", "-1", "10k", "all"] {
            err(
                &[("TOTAL_COUNT_LIMIT", value)],
                "TOTAL_COUNT_LIMIT",
                &format!("a whole number from 0 (count every match) to 1000000000, got {value:?}"),
            );
        }
    }

    #[test]
    fn dashboard_max_age_as_a_duration_or_zero() {
        let age = |pairs: &[(&str, &str)]| ok(pairs).core.dashboard_max_age;
        assert_eq!(age(&[]), time::Duration::seconds(60));
        assert_eq!(
            age(&[("DASHBOARD_MAX_AGE", "5m")]),
            time::Duration::minutes(5)
        );
        assert_eq!(age(&[("DASHBOARD_MAX_AGE", " 0 ")]), time::Duration::ZERO);
        err(
            &[("DASHBOARD_MAX_AGE", "soon")],
            "DASHBOARD_MAX_AGE",
            "\"soon\"",
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
}
