//! Mail through a real SMTP conversation: lettre talking to an SMTP server in this process.

use std::sync::Arc;
use std::time::Duration;
use usermgmt_core::auth::Registration;
use usermgmt_core::mail::{SmtpConfig, SmtpMailer, SmtpSecurity, token_from_link};
use usermgmt_core::secret::Password;
use usermgmt_core::store::memory::MemoryStore;
use usermgmt_core::testing::TestApp;
use usermgmt_core::testing::smtp::SmtpTestServer;
use usermgmt_core::{ClientInfo, Store};

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        from: "usermgmt <no-reply@example.com>".into(),
        timeout: Duration::from_secs(5),
    }
}

fn registration(name: &str) -> Registration {
    Registration {
        email: format!("{name}@example.com"),
        username: name.into(),
        password: Some(Password::new("Str0ng!Passw0rd")),
        first_name: Some("Ann".into()),
        last_name: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_mail_arrives_over_smtp_with_a_working_link() {
    let smtp = SmtpTestServer::start();
    let app = TestApp::new(Arc::new(MemoryStore::new()));
    let worker = app
        .manager
        .outbox_worker(Arc::new(SmtpMailer::new(&smtp_config(smtp.port)).unwrap()));
    app.manager
        .register(registration("ann"), &ClientInfo::default())
        .await
        .unwrap();
    let report = worker.deliver_due().await.unwrap();
    assert_eq!(report.sent, 1);
    let mail = smtp
        .last_to("ann@example.com")
        .expect("mail received by the SMTP server");
    let text = mail.decoded();
    assert!(
        text.contains("Subject: usermgmt: confirm your email address"),
        "{text}"
    );
    assert!(
        text.contains("multipart/alternative"),
        "plain text and HTML bodies"
    );
    // The address is not verified yet: its names are a stranger's words, and the mail greets no
    // one by them (names are escaped in HTML: `mail::templates` tests).
    assert!(
        text.contains("Hello,") && !text.contains("Hello Ann"),
        "a neutral greeting: {text}"
    );
    let token = token_from_link(&text).expect("link with a token");
    let user = app
        .manager
        .verify_email(&token, &ClientInfo::default())
        .await
        .unwrap();
    assert!(user.email_verified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_delays_mail_but_loses_none() {
    let smtp = SmtpTestServer::start();
    let app = TestApp::new(Arc::new(MemoryStore::new()));
    let worker = app
        .manager
        .outbox_worker(Arc::new(SmtpMailer::new(&smtp_config(smtp.port)).unwrap()));
    smtp.set_failing(true);
    app.manager
        .register(registration("bea"), &ClientInfo::default())
        .await
        .unwrap();
    let report = worker.deliver_due().await.unwrap();
    assert_eq!((report.sent, report.retried), (0, 1));
    assert_eq!(
        app.manager.store().mail_backlog().await.unwrap(),
        1,
        "still waiting in the outbox"
    );
    // Not due again until the backoff has passed.
    assert_eq!(worker.deliver_due().await.unwrap().sent, 0);
    smtp.set_failing(false);
    app.clock.advance(time::Duration::seconds(6));
    assert_eq!(worker.deliver_due().await.unwrap().sent, 1);
    assert_eq!(app.manager.store().mail_backlog().await.unwrap(), 0);
    assert_eq!(smtp.received().len(), 1, "delivered exactly once");
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_failure() {
    // Nothing listens on this port once the listener is dropped.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::new(Arc::new(MemoryStore::new()));
    let worker = app
        .manager
        .outbox_worker(Arc::new(SmtpMailer::new(&smtp_config(port)).unwrap()));
    app.manager
        .register(registration("cat"), &ClientInfo::default())
        .await
        .unwrap();
    let report = worker.deliver_due().await.unwrap();
    assert_eq!(report.retried, 1);
    let store: &Arc<dyn Store> = app.manager.store();
    assert_eq!(store.mail_backlog().await.unwrap(), 1);
}
