//! Value syntax shared by every concern: booleans, ports, counts, durations, URLs, networks.
//! Each parser names the variable in its error (see `docs/CONFIGURATION.md`, "Value syntax").

use super::reader::{ConfigError, Result};
use std::time::Duration;

/// Longest accepted duration (100 years): anything longer is a typo.
const MAX_DURATION_SECS: u64 = 100 * 365 * 24 * 3600;

pub(super) fn parse_bool(name: &str, value: &str) -> Result<bool> {
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
pub(super) fn parse_port(name: &str, value: &str, allow_zero: bool) -> Result<u16> {
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
pub(super) fn parse_count(name: &str, value: &str) -> Result<u32> {
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
pub(super) fn parse_duration(name: &str, value: &str) -> Result<Duration> {
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
pub(super) fn to_core<T: TryFrom<Duration>>(name: &str, duration: Duration) -> Result<T> {
    T::try_from(duration)
        .map_err(|_| ConfigError::new(name, format!("{name} must be at most 100 years")))
}

/// Compact form for messages: `15m`, `7d`, `1h30m`, `45s`.
pub(super) fn format_duration(duration: Duration) -> String {
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
pub(super) fn parse_http_url(name: &str, value: &str) -> Result<String> {
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

/// Comma-separated IP addresses or CIDR ranges (an address is a range of one).
pub(super) fn parse_networks(name: &str, value: &str) -> Result<Vec<ipnet::IpNet>> {
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

/// `user@domain` (a rough check; the mailer does the exact one).
pub(super) fn is_address(text: &str) -> bool {
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

/// A host name or an IP address: no blanks and none of the URL syntax `/ ? # @`.
pub(super) fn looks_like_host(host: &str) -> bool {
    !host
        .chars()
        .any(|c| c.is_whitespace() || matches!(c, '/' | '?' | '#' | '@'))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

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
    fn format_duration_is_compact() {
        assert_eq!(format_duration(Duration::from_secs(900)), "15m");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(604_800)), "7d");
        assert_eq!(format_duration(Duration::from_secs(45)), "45s");
    }
}
