//! Which endpoint URLs and addresses a webhook may be sent to: a server-side request forgery
//! guard. A URL is checked when it is set (scheme, host) and again at every delivery, after DNS
//! resolution; the delivery then connects to the very address that was checked (pinned in the
//! HTTP client), so a name that resolves elsewhere the second time cannot redirect it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A URL that may not be used, and why (shown to the administrator).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The parts of an endpoint URL a delivery needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The parsed URL.
    pub url: reqwest::Url,
    /// Its host (a name or an address literal, without brackets).
    pub host: String,
    /// Its port (the scheme's default when absent).
    pub port: u16,
}

/// Checks the form of an endpoint URL: `https://` (or `http://` when `allow_http`), a host, no
/// credentials. Address literals are checked here too; names are checked when resolved.
pub fn parse_target(url: &str, allow_http: bool, allow_private: bool) -> Result<Target, Refused> {
    let parsed = reqwest::Url::parse(url).map_err(|e| Refused(format!("not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(Refused("must be an https:// URL".into())),
        _ => return Err(Refused("must be an https:// URL".into())),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(Refused("must not carry credentials".into()));
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(name)) => name.to_owned(),
        Some(url::Host::Ipv4(ip)) => {
            check_address(IpAddr::V4(ip), allow_private)?;
            ip.to_string()
        }
        Some(url::Host::Ipv6(ip)) => {
            check_address(IpAddr::V6(ip), allow_private)?;
            ip.to_string()
        }
        None => return Err(Refused("must name a host".into())),
    };
    let port = parsed
        .port_or_known_default()
        .ok_or_else(|| Refused("must name a port".into()))?;
    Ok(Target {
        url: parsed,
        host,
        port,
    })
}

/// Resolves the target's host and returns the first address, after checking that none of the
/// addresses it resolves to is refused (a name with one public and one private address is
/// refused: which one a connection would use is not ours to choose).
pub async fn resolve_target(target: &Target, allow_private: bool) -> Result<SocketAddr, Refused> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|e| Refused(format!("cannot resolve {}: {e}", target.host)))?
        .collect();
    let first = *addresses
        .first()
        .ok_or_else(|| Refused(format!("{} resolves to no address", target.host)))?;
    for address in &addresses {
        check_address(address.ip(), allow_private)?;
    }
    Ok(first)
}

/// Refuses an address a webhook must not reach unless `allow_private`.
pub fn check_address(ip: IpAddr, allow_private: bool) -> Result<(), Refused> {
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(Refused(format!("{ip} is not a public address")))
    }
}

/// Whether `ip` is a public unicast address: not loopback, private, link-local (which holds
/// the cloud metadata address 169.254.169.254), shared (CGNAT), unspecified, broadcast,
/// multicast, documentation or reserved; an IPv6 address that carries an IPv4 one (mapped,
/// compatible, NAT64, 6to4) is judged by that IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0                                   // "this network"
        || (a == 100 && (64..128).contains(&b))     // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0)           // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19))       // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4
    // address a gateway may forward to.
    if segments[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return is_public_v4(Ipv4Addr::from(
            ip.octets()[12..16].try_into().unwrap_or([0; 4]),
        ));
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(Ipv4Addr::from(
            ip.octets()[12..16].try_into().unwrap_or([0; 4]),
        ));
    }
    if segments[0] == 0x2002 {
        return is_public_v4(Ipv4Addr::from(
            ip.octets()[2..6].try_into().unwrap_or([0; 4]),
        ));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00  // unique local
        || (segments[0] & 0xffc0) == 0xfe80  // link-local
        || (segments[0] & 0xffc0) == 0xfec0  // site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0])) // discard-only
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(text: &str) -> bool {
        is_public(text.parse().unwrap())
    }

    #[test]
    fn private_and_special_addresses_are_refused() {
        for refused in [
            "127.0.0.1",
            "127.5.5.5",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:7f00:1::",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert!(!public(refused), "{refused} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for allowed in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(public(allowed), "{allowed} must pass");
        }
    }

    #[test]
    fn urls_need_https_a_host_and_no_credentials() {
        assert!(parse_target("https://hooks.example.com/in", false, false).is_ok());
        assert!(parse_target("http://hooks.example.com/in", false, false).is_err());
        assert!(parse_target("http://hooks.example.com/in", true, false).is_ok());
        assert!(parse_target("ftp://hooks.example.com/in", true, false).is_err());
        assert!(parse_target("https://user:pw@hooks.example.com/", false, false).is_err());
        assert!(parse_target("https://127.0.0.1/in", false, false).is_err());
        assert!(parse_target("https://[::1]/in", false, false).is_err());
        assert!(parse_target("https://169.254.169.254/latest", false, false).is_err());
        assert!(parse_target("https://127.0.0.1/in", false, true).is_ok());
        assert!(parse_target("not a url", false, false).is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let target = parse_target("https://localhost:9/in", false, false).unwrap();
        assert!(resolve_target(&target, false).await.is_err());
        assert!(resolve_target(&target, true).await.is_ok());
    }
}

/// An endpoint's URL as the audit trail keeps it: the origin, and `/…` for whatever follows.
/// Receivers often carry their credential in the path or the query (`/services/T0/B0/XXXX`,
/// `?token=`), and audit rows are read by `audit:read` holders and fanned out to every other
/// webhook receiver; the full URL stays on the endpoint, for `webhooks:manage` only.
pub fn for_audit(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(parsed) => {
            let rest = parsed.path() != "/" || parsed.query().is_some();
            format!(
                "{}{}",
                parsed.origin().ascii_serialization(),
                if rest { "/…" } else { "" }
            )
        }
        Err(_) => "[unparsable]".to_owned(),
    }
}

#[cfg(test)]
mod audit_form {
    #[test]
    fn the_audit_keeps_the_origin_only() {
        assert_eq!(
            super::for_audit("https://hooks.example.com/services/T0/B0/SECRET?x=1"),
            "https://hooks.example.com/…"
        );
        assert_eq!(
            super::for_audit("https://crm.example:8443/"),
            "https://crm.example:8443"
        );
        assert_eq!(super::for_audit("not a url"), "[unparsable]");
    }
}
