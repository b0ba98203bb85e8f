//! Sending the library's mail through your own delivery service instead of SMTP:
//!
//! ```text
//! cargo run -p usermgmt-server --example custom_mailer
//! MAIL_API_URL=https://mail.example/send MAIL_API_KEY=… cargo run -p usermgmt-server --example custom_mailer
//! ```
//!
//! A `Mailer` is one `async fn send`. The library writes every email into its outbox in the
//! same transaction as the change that causes it (a registration, a reset request), and the
//! outbox worker hands it to the mailer, retrying with backoff when `send` fails with
//! `retryable: true`. So a mailer never needs its own queue or retries.
//!
//! This one posts each email as JSON to an HTTP mail API (`MAIL_API_URL`, the shape most
//! transactional mail services accept); without `MAIL_API_URL` it only prints what it would
//! post. The program registers a user and delivers the verification email once.

use std::sync::Arc;
use usermgmt_core::auth::Registration;
use usermgmt_core::mail::{Email, MailError, Mailer};
use usermgmt_core::secret::Password;
use usermgmt_core::store::memory::MemoryStore;
use usermgmt_core::{ClientInfo, Config, UserManager};

/// Delivers through an HTTP mail API.
struct HttpApiMailer {
    http: reqwest::Client,
    url: Option<String>,
    api_key: String,
    from: String,
}

#[usermgmt_core::async_trait]
impl Mailer for HttpApiMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let body = serde_json::json!({
            "from": self.from,
            "to": email.to,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        });
        let Some(url) = &self.url else {
            println!("would POST to the mail API: {body:#}");
            return Ok(());
        };
        let answer = self
            .http
            .post(url)
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| MailError {
                message: format!("mail API unreachable: {e}"),
                retryable: true,
            })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        // 4xx other than 429 means the service refused this message: retrying cannot help, so
        // the outbox parks it. 429 and 5xx are worth another attempt later.
        Err(MailError {
            message: format!("mail API answered {status}"),
            retryable: status.is_server_error() || status.as_u16() == 429,
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::builder("example-only-secret-example-only-secret")
        .public_url("http://127.0.0.1:3000")
        .build()?;
    let manager = UserManager::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .build()?;
    let mailer = HttpApiMailer {
        http: reqwest::Client::new(),
        url: std::env::var("MAIL_API_URL").ok(),
        api_key: std::env::var("MAIL_API_KEY").unwrap_or_default(),
        from: "Example <no-reply@example.com>".to_owned(),
    };

    manager
        .register(
            Registration {
                email: "alice@example.com".into(),
                username: "alice".into(),
                password: Some(Password::new("Correct-Horse-9")),
                ..Registration::default()
            },
            &ClientInfo::default(),
        )
        .await?;

    // A server runs `worker.run(poll, shutdown)` in the background instead.
    let worker = manager.outbox_worker(Arc::new(mailer));
    let report = worker.deliver_due().await?;
    println!(
        "sent {}, to retry {}, parked {}",
        report.sent, report.retried, report.parked
    );
    Ok(())
}
