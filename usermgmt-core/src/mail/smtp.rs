use super::{Email, MailError, Mailer};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (local relays and test servers only).
    None,
    /// Upgrade with STARTTLS (usually port 587).
    StartTls,
    /// Implicit TLS (usually port 465).
    Tls,
}

/// SMTP connection settings.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// Server host name.
    pub host: String,
    /// Server port.
    pub port: u16,
    /// Connection security.
    pub security: SmtpSecurity,
    /// Login name, if the server wants authentication.
    pub username: Option<String>,
    /// Password (redacted in `Debug`).
    pub password: Option<SecretString>,
    /// `From` header.
    pub from: String,
    /// Per-message timeout.
    pub timeout: Duration,
}

/// Sends mail over SMTP with lettre (pooled connections).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the transport; no connection is made until the first message.
    pub fn new(config: &SmtpConfig) -> Result<Self, MailError> {
        let permanent = |message: String| MailError {
            message,
            retryable: false,
        };
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| permanent(format!("EMAIL_FROM is not a valid address: {e}")))?;
        let builder = match config.security {
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.host)
                .map_err(|e| permanent(format!("SMTP TLS setup failed: {e}")))?,
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.host)
                    .map_err(|e| permanent(format!("SMTP STARTTLS setup failed: {e}")))?
            }
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.host)
            }
        };
        let mut builder = builder.port(config.port).timeout(Some(config.timeout));
        if let (Some(user), Some(password)) = (&config.username, &config.password) {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                password.expose_secret().to_owned(),
            ));
        }
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let to: Mailbox = email.to.parse().map_err(|e| MailError {
            message: format!("invalid recipient: {e}"),
            retryable: false,
        })?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .multipart(MultiPart::alternative_plain_html(
                email.text.clone(),
                email.html.clone(),
            ))
            .map_err(|e| MailError {
                message: format!("cannot build message: {e}"),
                retryable: false,
            })?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError {
                retryable: !e.is_permanent(),
                message: e.to_string(),
            })
    }
}
