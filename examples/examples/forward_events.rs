//! Reacting to what happens to accounts, in the host app's own process:
//!
//! ```text
//! cargo run -p usermgmt-server --example forward_events
//! EVENTS_URL=https://hooks.example/usermgmt cargo run -p usermgmt-server --example forward_events
//! ```
//!
//! Every change the library makes writes an audit row in the same transaction, and after the
//! commit the store publishes that row to `UserManager::subscribe()`. A host app reacts there:
//! welcome a new user, tell a chat channel about lockouts, update its own tables. This
//! program forwards sign-ups, sign-ins and lockouts as JSON to `EVENTS_URL` (or prints them).
//!
//! The bus is in-process and best effort: a subscriber that lags loses the oldest events, and
//! an instance only sees its own changes. For deliveries that must arrive — to another service,
//! signed, retried, from every instance — configure the library's own webhooks instead
//! (`manager.configure_webhook(url, secret, events)`, or `WEBHOOK_URL` in the standalone
//! server); the audit log (`GET /api/v1/admin/audit-logs`) is the complete record.

use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use usermgmt_core::auth::Registration;
use usermgmt_core::secret::Password;
use usermgmt_core::store::memory::MemoryStore;
use usermgmt_core::{ClientInfo, Config, UserManager};

/// The audit actions this app cares about (every action: `usermgmt_core::domain::AuditAction`).
const FORWARDED: &[&str] = &["USER_REGISTERED", "USER_LOGIN", "ACCOUNT_LOCKED"];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::builder("example-only-secret-example-only-secret").build()?;
    let manager = UserManager::builder(config)
        .store(Arc::new(MemoryStore::new()))
        .build()?;

    let mut events = manager.subscribe();
    let target = std::env::var("EVENTS_URL").ok();
    let forwarder = tokio::spawn(async move {
        let http = reqwest::Client::new();
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(RecvError::Lagged(missed)) => {
                    eprintln!("forwarder fell behind: {missed} events not forwarded");
                    continue;
                }
                Err(RecvError::Closed) => return,
            };
            if !FORWARDED.contains(&event.action.as_str()) {
                continue;
            }
            // The row carries ids, the client's address and the action's facts, never secrets.
            let body = serde_json::to_value(&*event).unwrap_or_default();
            match &target {
                Some(url) => {
                    if let Err(e) = http.post(url).json(&body).send().await {
                        eprintln!("could not forward {}: {e}", event.action);
                    }
                }
                None => println!("{} for user {:?}", event.action, event.user_id),
            }
        }
    });

    let client = ClientInfo {
        ip: Some("203.0.113.7".to_owned()),
        user_agent: Some("forward_events example".to_owned()),
    };
    manager
        .register(
            Registration {
                email: "alice@example.com".into(),
                username: "alice".into(),
                password: Some(Password::new("Correct-Horse-9")),
                ..Registration::default()
            },
            &client,
        )
        .await?;
    manager
        .login("alice", &Password::new("Correct-Horse-9"), &client)
        .await?;

    // Give the forwarder a moment, then stop (a server keeps it running).
    tokio::time::sleep(Duration::from_millis(200)).await;
    forwarder.abort();
    Ok(())
}
