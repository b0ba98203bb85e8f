//! The emails usermgmt sends, each with a plain-text and an HTML body. User-supplied values
//! (names) only ever appear HTML-escaped in bodies, never in headers.

use super::Email;
use crate::config::MailConfig;

fn link(base: &str, token: &str) -> String {
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}token={token}")
}

fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Strips line breaks and control characters from text that ends up on a single line.
fn single_line(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// The name a mail greets its recipient by: none while the address is unverified (empty, so the
/// greeting is a neutral "Hello,"), else the first name or, without one, the username.
///
/// Anyone can register anyone's address and choose the account's names: until the owner of the
/// address has confirmed it, those names are a stranger's words, and must not appear at the top
/// of a mail the owner receives from us.
pub(crate) fn greeting_name(
    email_verified: bool,
    first_name: Option<&str>,
    username: &str,
) -> String {
    if email_verified {
        first_name.unwrap_or(username).to_owned()
    } else {
        String::new()
    }
}

fn render(
    config: &MailConfig,
    to: &str,
    subject: &str,
    greeting_name: &str,
    paragraphs: &[String],
    action: Option<(&str, &str)>,
) -> Email {
    let app = single_line(&config.app_name);
    let name = single_line(greeting_name);
    // No name (an unverified address): a greeting that names no one.
    let greeting = match name.trim() {
        "" => "Hello".to_owned(),
        name => format!("Hello {name}"),
    };
    let mut text = format!("{greeting},\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><p>{},</p>",
        escape_html(&greeting)
    );
    for p in paragraphs {
        text.push_str(p);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape_html(p)));
    }
    if let Some((label, url)) = action {
        text.push_str(&format!("{label}: {url}\n\n"));
        let url = escape_html(url);
        html.push_str(&format!(
            "<p><a href=\"{url}\">{}</a></p><p style=\"font-size:small\">{url}</p>",
            escape_html(label)
        ));
    }
    text.push_str(&format!("-- {app}\n"));
    html.push_str(&format!("<p>-- {}</p></body></html>", escape_html(&app)));
    Email {
        to: to.to_owned(),
        subject: format!("{app}: {}", single_line(subject)),
        text,
        html,
    }
}

/// `link_base`: [`crate::Config::confirmation_link_base`].
pub(crate) fn verify_email(
    config: &MailConfig,
    link_base: &str,
    to: &str,
    name: &str,
    token: &str,
    hours: i64,
) -> Email {
    render(
        config,
        to,
        "confirm your email address",
        name,
        &[format!(
            "Please confirm your email address. The link is valid for {hours} hours and can be used once."
        )],
        Some(("Confirm your email", &link(link_base, token))),
    )
}

/// `link_base`: [`crate::Config::password_reset_link_base`].
pub(crate) fn password_reset(
    config: &MailConfig,
    link_base: &str,
    to: &str,
    name: &str,
    token: &str,
    minutes: i64,
) -> Email {
    render(
        config,
        to,
        "reset your password",
        name,
        &[
            format!(
                "Someone asked to reset the password of your account. The link is valid for {minutes} minutes and can be used once."
            ),
            "If it was not you, ignore this email: your password stays as it is.".to_owned(),
        ],
        Some(("Reset your password", &link(link_base, token))),
    )
}

pub(crate) fn password_changed(config: &MailConfig, to: &str, name: &str, when: &str) -> Email {
    render(
        config,
        to,
        "your password was changed",
        name,
        &[
            format!("The password of your account was changed at {when}."),
            "If you did not do this, reset your password at once and contact support.".to_owned(),
        ],
        None,
    )
}

pub(crate) fn account_locked(config: &MailConfig, to: &str, name: &str, until: &str) -> Email {
    render(
        config,
        to,
        "your account was locked",
        name,
        &[
            format!("After several failed sign-in attempts your account is locked until {until}."),
            "If these attempts were not yours, consider changing your password.".to_owned(),
        ],
        None,
    )
}

/// A login from a device or address not seen before for the account.
pub(crate) fn new_login(
    config: &MailConfig,
    to: &str,
    name: &str,
    device: &str,
    ip: &str,
    when: &str,
) -> Email {
    render(
        config,
        to,
        "new sign-in to your account",
        name,
        &[
            format!("Your account was signed in to from {device} (address {ip}) at {when}."),
            "If this was you, there is nothing to do. If not, change your password at once and review your sessions.".to_owned(),
        ],
        None,
    )
}

/// Two-factor was turned on or off, or its backup codes were replaced.
pub(crate) fn two_factor_changed(config: &MailConfig, to: &str, name: &str, what: &str) -> Email {
    render(
        config,
        to,
        &format!("two-factor authentication: {what}"),
        name,
        &[
            format!("Two-factor authentication on your account: {what}."),
            "If you did not do this, reset your password at once and contact support.".to_owned(),
        ],
        None,
    )
}

/// A passkey was added to or removed from the account (`what`: `added`, `removed`).
pub(crate) fn passkey_changed(
    config: &MailConfig,
    to: &str,
    name: &str,
    what: &str,
    passkey: &str,
) -> Email {
    render(
        config,
        to,
        &format!("passkey {what}"),
        name,
        &[
            format!("The passkey \"{passkey}\" was {what} on your account."),
            "If you did not do this, reset your password at once and contact support.".to_owned(),
        ],
        None,
    )
}

/// An API key was made on the account.
pub(crate) fn api_key_created(
    config: &MailConfig,
    to: &str,
    name: &str,
    key_name: &str,
    prefix: &str,
) -> Email {
    render(
        config,
        to,
        "new API key",
        name,
        &[
            format!("An API key \"{key_name}\" (umk_{prefix}_…) was created on your account."),
            "If you did not do this, delete the key, reset your password at once and contact support.".to_owned(),
        ],
        None,
    )
}

/// An invitation to join an organization. It greets no one by name (the address may have no
/// account yet) and names only the organization (whose name cannot hold an address or link)
/// and the role. `link_base`: the host app's page that accepts it.
pub(crate) fn org_invitation(
    config: &MailConfig,
    link_base: &str,
    to: &str,
    org_name: &str,
    role: &str,
    token: &str,
    days: i64,
) -> Email {
    render(
        config,
        to,
        "you are invited to an organization",
        "",
        &[
            format!(
                "You are invited to join the organization \"{}\" as {role}. The link is valid for {days} days and can be used once; sign in with this address (verified) to accept.",
                single_line(org_name)
            ),
            "If you did not expect this, ignore this email.".to_owned(),
        ],
        Some(("Accept the invitation", &link(link_base, token))),
    )
}

/// A change of the account's state the owner must hear of (deleted, suspended, reactivated,
/// purged): `what` completes "Your account ...", `detail` says what follows from it.
pub(crate) fn account_notice(
    config: &MailConfig,
    to: &str,
    name: &str,
    what: &str,
    detail: &str,
) -> Email {
    render(
        config,
        to,
        &format!("your account {what}"),
        name,
        &[
            format!("Your account {what}."),
            detail.to_owned(),
            "If you did not expect this, contact support.".to_owned(),
        ],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unverified_addresses_are_greeted_by_no_name() {
        let config = MailConfig::default();
        assert_eq!(greeting_name(false, Some("Zoë"), "zoe"), "");
        assert_eq!(greeting_name(true, Some("Zoë"), "zoe"), "Zoë");
        assert_eq!(greeting_name(true, None, "zoe"), "zoe");
        let neutral = verify_email(
            &config,
            "https://x/v",
            "a@x.io",
            &greeting_name(false, Some("Zoë"), "zoe"),
            "t",
            24,
        );
        assert!(neutral.text.starts_with("Hello,\n"), "{}", neutral.text);
        assert!(neutral.html.contains("<p>Hello,</p>"), "{}", neutral.html);
        assert!(!neutral.text.contains("zoe") && !neutral.html.contains("Zo"));
        let named = password_reset(&config, "https://x/r", "a@x.io", "Zoë", "t", 30);
        assert!(named.text.starts_with("Hello Zoë,\n"), "{}", named.text);
        assert!(named.html.contains("<p>Hello Zoë,</p>"), "{}", named.html);
    }

    #[test]
    fn names_are_escaped_and_subjects_stay_single_line() {
        let config = MailConfig::default();
        let base = "https://x/v";
        let mail = verify_email(
            &config,
            base,
            "a@x.io",
            "<script>\r\nBcc: evil@x.io",
            "tok",
            24,
        );
        assert!(!mail.html.contains("<script>"));
        assert!(!mail.subject.contains('\n'));
        assert!(mail.text.contains("token=tok"));
        assert_eq!(
            super::super::token_from_link(&mail.text).as_deref(),
            Some("tok")
        );
        assert!(
            verify_email(&config, "https://x/v?lang=en", "a@x.io", "A", "t", 24)
                .text
                .contains("v?lang=en&token=t")
        );
    }
}
