//! Outgoing webhooks: `WEBHOOK_ALLOW_HTTP` and `WEBHOOK_ALLOW_PRIVATE` (off: only `https://`
//! URLs of public addresses), and one endpoint configured at start without an administrator:
//! `WEBHOOK_URL` with `WEBHOOK_SECRET` (`whsec_<base64>`, required with it) and
//! `WEBHOOK_EVENTS` (a comma-separated list of event types, `PREFIX_*` or `*`; default `*`).

use super::reader::{ConfigError, Result, Vars};
use secrecy::SecretString;
use std::fmt;
use usermgmt_core::ConfigBuilder;
use usermgmt_core::config::WebhookConfig;

/// The endpoint `WEBHOOK_URL` configures (created or brought up to date at start).
#[derive(Clone)]
pub struct ConfiguredWebhook {
    /// Where events are POSTed.
    pub url: String,
    /// Its signing secret.
    pub secret: SecretString,
    /// Event types.
    pub events: Vec<String>,
}

impl fmt::Debug for ConfiguredWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfiguredWebhook")
            .field("url", &self.url)
            .field("secret", &"[REDACTED]")
            .field("events", &self.events)
            .finish()
    }
}

pub(super) fn settings(vars: &Vars<'_>, builder: ConfigBuilder) -> Result<ConfigBuilder> {
    let defaults = WebhookConfig::default();
    let config = WebhookConfig {
        allow_http: vars
            .flag("WEBHOOK_ALLOW_HTTP")?
            .unwrap_or(defaults.allow_http),
        allow_private: vars
            .flag("WEBHOOK_ALLOW_PRIVATE")?
            .unwrap_or(defaults.allow_private),
        ..defaults
    };
    Ok(builder.webhooks(config))
}

pub(super) fn configured(vars: &Vars<'_>) -> Result<Option<ConfiguredWebhook>> {
    let url = vars.text("WEBHOOK_URL");
    let secret = vars.raw("WEBHOOK_SECRET");
    let (url, secret) = match (url, secret) {
        (None, None) => {
            if vars.is_set("WEBHOOK_EVENTS") {
                return Err(ConfigError::new(
                    "WEBHOOK_EVENTS",
                    "WEBHOOK_EVENTS needs WEBHOOK_URL",
                ));
            }
            return Ok(None);
        }
        (Some(_), None) => {
            return Err(ConfigError::new(
                "WEBHOOK_SECRET",
                "WEBHOOK_SECRET is required with WEBHOOK_URL (whsec_ followed by base64)",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "WEBHOOK_URL",
                "WEBHOOK_URL is required with WEBHOOK_SECRET",
            ));
        }
        (Some(url), Some(secret)) => (url, secret),
    };
    if usermgmt_core::webhooks::signing::secret_key(&secret).is_none() {
        return Err(ConfigError::new(
            "WEBHOOK_SECRET",
            "WEBHOOK_SECRET must be whsec_ followed by base64",
        ));
    }
    let events: Vec<String> = vars
        .text("WEBHOOK_EVENTS")
        .unwrap_or_else(|| "*".to_owned())
        .split(',')
        .map(str::trim)
        .filter(|event| !event.is_empty())
        .map(str::to_owned)
        .collect();
    if events.is_empty() {
        return Err(ConfigError::new(
            "WEBHOOK_EVENTS",
            "WEBHOOK_EVENTS must list at least one event type",
        ));
    }
    Ok(Some(ConfiguredWebhook {
        url,
        secret: SecretString::from(secret),
        events,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{err, ok};

    #[test]
    fn webhooks_are_https_and_public_by_default() {
        let config = ok(&[]);
        assert!(!config.core.webhooks.allow_http);
        assert!(!config.core.webhooks.allow_private);
        assert!(config.webhook.is_none());
        let open = ok(&[
            ("WEBHOOK_ALLOW_HTTP", "true"),
            ("WEBHOOK_ALLOW_PRIVATE", "1"),
        ]);
        assert!(open.core.webhooks.allow_http && open.core.webhooks.allow_private);
        err(&[("WEBHOOK_ALLOW_HTTP", "maybe")], "WEBHOOK_ALLOW_HTTP", "");
    }

    #[test]
    fn a_configured_endpoint_needs_url_and_a_whsec_secret() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let config = ok(&[
            ("WEBHOOK_URL", "https://hooks.example.com/in"),
            ("WEBHOOK_SECRET", secret),
            ("WEBHOOK_EVENTS", "USER_REGISTERED, ACCOUNT_*"),
        ]);
        let hook = config.webhook.unwrap();
        assert_eq!(hook.url, "https://hooks.example.com/in");
        assert_eq!(hook.events, ["USER_REGISTERED", "ACCOUNT_*"]);
        assert!(!format!("{hook:?}").contains(secret));
        let all = ok(&[
            ("WEBHOOK_URL", "https://h.example/"),
            ("WEBHOOK_SECRET", secret),
        ]);
        assert_eq!(all.webhook.unwrap().events, ["*"]);
        err(
            &[("WEBHOOK_URL", "https://h.example/")],
            "WEBHOOK_SECRET",
            "required",
        );
        err(&[("WEBHOOK_SECRET", secret)], "WEBHOOK_URL", "required");
        err(
            &[
                ("WEBHOOK_URL", "https://h.example/"),
                ("WEBHOOK_SECRET", "plain"),
            ],
            "WEBHOOK_SECRET",
            "whsec_",
        );
        err(&[("WEBHOOK_EVENTS", "*")], "WEBHOOK_EVENTS", "WEBHOOK_URL");
    }
}
