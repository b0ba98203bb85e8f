//! Mail: the sender and the links in mail (`MailConfig`), and SMTP delivery (`EMAIL_HOST` and
//! its companions; unset, mail is written to the log).

use super::AppEnv;
use super::reader::{ConfigError, Result, Vars};
use super::values::{is_address, looks_like_host, parse_http_url, parse_port};
use secrecy::SecretString;
use std::time::Duration;
use usermgmt_core::config::MailConfig;
use usermgmt_core::mail::{SmtpConfig, SmtpSecurity};

/// The SMTP per-message timeout when `EMAIL_TIMEOUT` is unset.
const DEFAULT_SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// The variables that only matter when `EMAIL_HOST` is set.
const SMTP_PARTS: &[&str] = &[
    "EMAIL_PORT",
    "SMTP_PORT",
    "SMTP_SECURE",
    "SMTP_SECURITY",
    "EMAIL_USER",
    "SMTP_USER",
    "EMAIL_PASSWORD",
    "SMTP_PASSWORD",
    "EMAIL_TIMEOUT",
];

/// The first seed's SMTP names, then the second seed's (read in that order of precedence).
const HOST_NAMES: &[&str] = &["EMAIL_HOST", "SMTP_HOST"];
const PORT_NAMES: &[&str] = &["EMAIL_PORT", "SMTP_PORT"];
const USER_NAMES: &[&str] = &["EMAIL_USER", "SMTP_USER"];
const PASSWORD_NAMES: &[&str] = &["EMAIL_PASSWORD", "SMTP_PASSWORD"];

/// `EMAIL_FROM`, `APP_NAME`, the link bases `EMAIL_CONFIRMATION_URL` and `PASSWORD_RESET_URL`
/// (unset, they follow `PUBLIC_URL`; a warning in production when that is unset too, leaving
/// them on localhost) and `MAIL_OUTBOX_RETENTION`.
pub(super) fn mail(vars: &mut Vars<'_>, env: AppEnv, public_url_set: bool) -> Result<MailConfig> {
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
    let on_localhost = env.is_production() && !public_url_set;
    match vars.text("EMAIL_CONFIRMATION_URL") {
        Some(url) => {
            mail.confirmation_url = Some(parse_http_url("EMAIL_CONFIRMATION_URL", &url)?);
        }
        None if on_localhost => vars.warn(
            "neither EMAIL_CONFIRMATION_URL nor PUBLIC_URL is set: verification links point to localhost",
        ),
        None => {}
    }
    // The first seed's `FRONTEND_URL` names the app whose `/reset-password` page takes the
    // link; `PASSWORD_RESET_URL` names the page itself and wins.
    let from_frontend = match vars.text("FRONTEND_URL") {
        Some(url) => {
            let base = parse_http_url("FRONTEND_URL", &url)?;
            Some(format!("{}/reset-password", base.trim_end_matches('/')))
        }
        None => None,
    };
    match (vars.text("PASSWORD_RESET_URL"), from_frontend) {
        (Some(url), frontend) => {
            let page = parse_http_url("PASSWORD_RESET_URL", &url)?;
            if frontend.is_some_and(|f| f != page) {
                vars.warn(
                    "FRONTEND_URL is ignored for reset links because PASSWORD_RESET_URL is set to a different page",
                );
            }
            mail.password_reset_url = Some(page);
        }
        (None, Some(page)) => mail.password_reset_url = Some(page),
        (None, None) if on_localhost => vars.warn(
            "neither PASSWORD_RESET_URL nor PUBLIC_URL is set: password reset links point to localhost",
        ),
        (None, None) => {}
    }
    if let Some(retention) = vars.core_duration("MAIL_OUTBOX_RETENTION")? {
        mail.retention = retention;
    }
    Ok(mail)
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

/// SMTP delivery, or `None` (mail to the log) when `EMAIL_HOST` is unset; `from` is the
/// sender read by [`mail`].
pub(super) fn smtp(vars: &mut Vars<'_>, env: AppEnv, from: &str) -> Result<Option<SmtpConfig>> {
    let Some((host_name, host)) = vars.pick(HOST_NAMES) else {
        warn_without_host(vars, env);
        return Ok(None);
    };
    if !looks_like_host(&host) {
        return Err(ConfigError::new(
            host_name,
            format!("{host_name} must be a host name or an IP address, got {host:?}"),
        ));
    }
    let (port, security) = port_and_security(vars)?;
    let username = vars.pick(USER_NAMES);
    let password = vars.pick_raw(PASSWORD_NAMES);
    match (&username, &password) {
        (Some((user_name, _)), None) => {
            return Err(ConfigError::new(
                "EMAIL_PASSWORD",
                format!(
                    "{user_name} is set but EMAIL_PASSWORD (or SMTP_PASSWORD) is not (set both for SMTP authentication, or neither)"
                ),
            ));
        }
        (None, Some((password_name, _))) => {
            return Err(ConfigError::new(
                "EMAIL_USER",
                format!(
                    "{password_name} is set but EMAIL_USER (or SMTP_USER) is not (set both for SMTP authentication, or neither)"
                ),
            ));
        }
        _ => {}
    }
    let username = username.map(|(_, user)| user);
    let password = password.map(|(_, password)| password);
    if password.is_some() && security == SmtpSecurity::None && env.is_production() {
        vars.warn(format!(
            "EMAIL_PASSWORD is sent without encryption to {host}:{port} (SMTP_SECURE=false on a port other than 587): set SMTP_SECURE=true or SMTP_SECURITY=starttls"
        ));
    }
    let timeout = vars
        .duration("EMAIL_TIMEOUT")?
        .unwrap_or(DEFAULT_SMTP_TIMEOUT);
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

/// Without `EMAIL_HOST`: a warning for SMTP settings that are then ignored, else (in
/// production) one saying mail only goes to the log.
fn warn_without_host(vars: &mut Vars<'_>, env: AppEnv) {
    let stray: Vec<&str> = SMTP_PARTS
        .iter()
        .copied()
        .filter(|name| vars.is_set(name))
        .collect();
    if !stray.is_empty() {
        vars.warn(format!(
            "{} set but EMAIL_HOST is not: emails are written to the log",
            if stray.len() == 1 {
                format!("{} is", stray[0])
            } else {
                format!("{} are", stray.join(", "))
            }
        ));
    } else if env.is_production() {
        vars.warn(
            "EMAIL_HOST is not set: emails (verification, password reset, alerts) are only written to the log",
        );
    }
}

/// `EMAIL_PORT` with `SMTP_SECURE` and `SMTP_SECURITY` (which wins): docs/CONFIGURATION.md
/// tabulates the choice.
fn port_and_security(vars: &mut Vars<'_>) -> Result<(u16, SmtpSecurity)> {
    let secure = vars.flag("SMTP_SECURE")?;
    let explicit = vars
        .text("SMTP_SECURITY")
        .map(|value| parse_security(&value))
        .transpose()?;
    let wants_tls = explicit.map_or(secure == Some(true), |s| s == SmtpSecurity::Tls);
    let port = match vars.pick(PORT_NAMES) {
        Some((name, value)) => parse_port(name, &value, false)?,
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
    Ok((port, security))
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::config::tests::{err, ok, prod};
    use secrecy::ExposeSecret;

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

    #[test]
    fn the_second_seeds_smtp_names_are_read_after_the_first_seeds() {
        use secrecy::ExposeSecret;
        let smtp = ok(&[
            ("SMTP_HOST", "smtp.seed.test"),
            ("SMTP_PORT", "2525"),
            ("SMTP_USER", "mailer"),
            ("SMTP_PASSWORD", " p w "),
        ])
        .smtp
        .unwrap();
        assert_eq!(smtp.host, "smtp.seed.test");
        assert_eq!(smtp.port, 2525);
        assert_eq!(smtp.username.as_deref(), Some("mailer"));
        assert_eq!(smtp.password.unwrap().expose_secret(), " p w ");
        // Both names set: the first seed's wins, a different second one is a warning.
        let config = ok(&[
            ("EMAIL_HOST", "smtp.acme.test"),
            ("SMTP_HOST", "smtp.seed.test"),
            ("EMAIL_PORT", "587"),
            ("SMTP_PORT", "587"),
        ]);
        assert_eq!(config.smtp.unwrap().host, "smtp.acme.test");
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w == "SMTP_HOST is ignored because EMAIL_HOST is set to a different value"),
            "{:?}",
            config.warnings
        );
        assert!(!config.warnings.iter().any(|w| w.contains("SMTP_PORT")));
        err(&[("SMTP_HOST", "smtp://mail")], "SMTP_HOST", "host name");
        err(
            &[("SMTP_HOST", "mail"), ("SMTP_PORT", "x")],
            "SMTP_PORT",
            "",
        );
        err(
            &[("SMTP_HOST", "mail"), ("SMTP_USER", "me")],
            "EMAIL_PASSWORD",
            "SMTP_USER",
        );
        err(
            &[("SMTP_HOST", "mail"), ("SMTP_PASSWORD", "pw")],
            "EMAIL_USER",
            "SMTP_PASSWORD",
        );
        // Without a host, the second seed's parts are stray settings too.
        let config = ok(&[("SMTP_USER", "me"), ("SMTP_PASSWORD", "pw")]);
        assert!(config.smtp.is_none());
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("SMTP_USER, SMTP_PASSWORD are set but EMAIL_HOST is not")),
            "{:?}",
            config.warnings
        );
    }

    #[test]
    fn frontend_url_points_reset_links_at_its_page() {
        let config = ok(&[("FRONTEND_URL", "https://app.example.com/")]);
        assert_eq!(
            config.core.mail.password_reset_url.as_deref(),
            Some("https://app.example.com/reset-password")
        );
        // The page named outright wins, with a warning when the two disagree.
        let config = ok(&[
            ("FRONTEND_URL", "https://app.example.com"),
            (
                "PASSWORD_RESET_URL",
                "https://app.example.com/account/reset",
            ),
        ]);
        assert_eq!(
            config.core.mail.password_reset_url.as_deref(),
            Some("https://app.example.com/account/reset")
        );
        assert!(
            config
                .warnings
                .iter()
                .any(|w| w.contains("FRONTEND_URL is ignored"))
        );
        // In production it answers the missing reset page.
        let config = ok(&prod(&[("FRONTEND_URL", "https://app.example.com")]));
        assert!(
            !config
                .warnings
                .iter()
                .any(|w| w.contains("PASSWORD_RESET_URL"))
        );
        err(&[("FRONTEND_URL", "app.example.com")], "FRONTEND_URL", "");
    }
}
