//! Passkeys' relying party: `WEBAUTHN_RP_ID` and `WEBAUTHN_RP_ORIGIN` (one origin or a
//! comma-separated list), both by default the host and origin of `PUBLIC_URL` (so
//! `localhost` and `http://localhost:<port>` without it), and `WEBAUTHN_RP_NAME` (default
//! `usermgmt`). Every origin must be the RP id or a subdomain of it: a browser refuses
//! any other, so the server refuses to start with one.

use super::reader::{ConfigError, Result, Vars};
use usermgmt_core::ConfigBuilder;
use usermgmt_core::passkeys::PasskeyConfig;

pub(super) fn relying_party(
    vars: &mut Vars<'_>,
    port: u16,
    builder: ConfigBuilder,
) -> Result<ConfigBuilder> {
    let defaults = PasskeyConfig::default();
    let rp_origins = match vars.text("WEBAUTHN_RP_ORIGIN") {
        Some(list) => list
            .split(',')
            .map(str::trim)
            .filter(|origin| !origin.is_empty())
            .map(str::to_owned)
            .collect(),
        // Neither set: the library takes both from `PUBLIC_URL` (which is
        // `http://localhost:<port>` when unset).
        None if !vars.is_set("WEBAUTHN_RP_ID") => defaults.rp_origins.clone(),
        None => vec![format!("http://localhost:{port}")],
    };
    let config = PasskeyConfig {
        rp_id: vars.text("WEBAUTHN_RP_ID").unwrap_or(defaults.rp_id),
        rp_origins,
        rp_name: vars.text("WEBAUTHN_RP_NAME").unwrap_or(defaults.rp_name),
    };
    if let Err(why) = config.webauthn() {
        return Err(ConfigError::new(
            "WEBAUTHN_RP_ORIGIN",
            format!("WEBAUTHN_RP_ID / WEBAUTHN_RP_ORIGIN cannot work: {why}"),
        ));
    }
    Ok(builder.passkeys(config))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, ok};

    #[test]
    fn the_relying_party_defaults_to_localhost_on_the_port() {
        let rp = ok(&[("PORT", "4100")]).core.passkeys;
        assert_eq!(rp.rp_id, "localhost");
        assert_eq!(rp.rp_origins, ["http://localhost:4100"]);
        assert_eq!(rp.rp_name, "usermgmt");
    }

    #[test]
    fn the_relying_party_follows_the_public_url() {
        let rp = ok(&[("PUBLIC_URL", "https://users.acme.test")])
            .core
            .passkeys;
        assert_eq!(rp.rp_id, "users.acme.test");
        assert_eq!(rp.rp_origins, ["https://users.acme.test"]);
        let rp = ok(&[
            ("PUBLIC_URL", "https://users.acme.test"),
            ("WEBAUTHN_RP_NAME", "Acme"),
        ])
        .core
        .passkeys;
        assert_eq!(
            (rp.rp_id.as_str(), rp.rp_name.as_str()),
            ("users.acme.test", "Acme")
        );
    }

    #[test]
    fn origins_are_a_list_on_the_rp_id() {
        let rp = ok(&[
            ("WEBAUTHN_RP_ID", "example.com"),
            (
                "WEBAUTHN_RP_ORIGIN",
                "https://example.com, https://app.example.com",
            ),
            ("WEBAUTHN_RP_NAME", "Acme"),
        ])
        .core
        .passkeys;
        assert_eq!(
            rp.rp_origins,
            ["https://example.com", "https://app.example.com"]
        );
        assert_eq!(rp.rp_name, "Acme");
        err(
            &[
                ("WEBAUTHN_RP_ID", "example.com"),
                (
                    "WEBAUTHN_RP_ORIGIN",
                    "https://example.com,https://evil.example",
                ),
            ],
            "WEBAUTHN_RP_ORIGIN",
            "evil.example",
        );
    }
}
