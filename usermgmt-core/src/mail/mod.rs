//! Outgoing mail. Services never send mail themselves: they render an [`Email`], seal it into the
//! outbox in the same transaction as the event, and an [`OutboxWorker`] delivers it through a
//! [`Mailer`] with retries and backoff. An SMTP outage delays mail; it loses none.

#[cfg(feature = "test-util")]
mod cases;
mod kind;
mod memory;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

mod outbox;
#[cfg(feature = "smtp")]
mod smtp;
pub(crate) mod templates;

pub use kind::MailKind;
pub use outbox::{DeliveryReport, OutboxWorker};
#[cfg(feature = "smtp")]
pub use smtp::{SmtpConfig, SmtpMailer, SmtpSecurity};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::{Arc, Mutex};

/// A rendered email.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    /// Recipient address.
    pub to: String,
    /// Subject line (single line; never contains user-controlled line breaks).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Bodies carry single-use links: never in logs.
        f.debug_struct("Email")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A delivery failure, with whether trying again may help.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct MailError {
    /// What went wrong.
    pub message: String,
    /// False for failures a retry cannot fix (e.g. the server rejected the recipient).
    pub retryable: bool,
}

/// Something that delivers an [`Email`].
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers one email.
    async fn send(&self, email: &Email) -> Result<(), MailError>;
}

/// Writes each email to the log instead of sending it, the default of the standalone server
/// with no SMTP configured: the links are in the log, ready to click during development. With
/// no `tracing` subscriber that takes `usermgmt::mail` at INFO (a fresh host app has none),
/// it prints the email to stderr instead, so a link is never silently lost.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        // Deliberately logs the body: this mailer exists to show the links in development.
        let logged = tracing::enabled!(target: "usermgmt::mail", tracing::Level::INFO);
        if logged {
            tracing::info!(
                target: "usermgmt::mail",
                to = %email.to,
                subject = %email.subject,
                "email (not sent; no SMTP configured):\n{}",
                email.text
            );
        }
        if let Some(text) = log_mailer_stderr(email, logged) {
            eprintln!("{text}");
        }
        Ok(())
    }
}

/// What [`LogMailer`] prints to stderr: the email when no `tracing` subscriber took its log
/// (`logged` false). The quick start must still show the verification link, and the stored
/// copy is sealed, so nothing else would.
fn log_mailer_stderr(email: &Email, logged: bool) -> Option<String> {
    (!logged).then(|| log_mailer_text(email))
}

fn log_mailer_text(email: &Email) -> String {
    format!(
        "usermgmt: email (not sent; no SMTP configured; install a tracing subscriber to log it instead)\nTo: {}\nSubject: {}\n\n{}",
        email.to, email.subject, email.text
    )
}

/// Keeps delivered emails in memory; for tests and for host apps that want to inspect mail.
#[derive(Debug, Default, Clone)]
pub struct MemoryMailer {
    sent: Arc<Mutex<Vec<Email>>>,
}

impl MemoryMailer {
    /// An empty mailbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every email delivered so far.
    pub fn sent(&self) -> Vec<Email> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The newest email to `to`, if any.
    pub fn last_to(&self, to: &str) -> Option<Email> {
        self.sent().into_iter().rev().find(|e| e.to == to)
    }
}

#[async_trait]
impl Mailer for MemoryMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(email.clone());
        Ok(())
    }
}

/// Pulls the value of `token=` out of the first link in a text body (tests and tools).
pub fn token_from_link(body: &str) -> Option<String> {
    let start = body.find("token=")? + "token=".len();
    let rest = &body[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .unwrap_or(rest.len());
    Some(rest[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_mailer_prints_what_a_reader_needs_without_a_subscriber() {
        let email = Email {
            to: "ann@example.com".to_owned(),
            subject: "usermgmt: confirm your email".to_owned(),
            text: "Open http://localhost:3000/api/v1/auth/verify-email?token=abc".to_owned(),
            html: String::new(),
        };
        assert_eq!(
            log_mailer_stderr(&email, true),
            None,
            "logged: not printed twice"
        );
        let text = log_mailer_stderr(&email, false).expect("printed without a subscriber");
        for part in [
            "ann@example.com",
            "confirm your email",
            "token=abc",
            "tracing subscriber",
        ] {
            assert!(text.contains(part), "{part} in {text}");
        }
    }
}
