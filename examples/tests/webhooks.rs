//! Webhooks from the real `usermgmt-server`, configured by its environment (`WEBHOOK_URL`,
//! `WEBHOOK_SECRET`, `WEBHOOK_EVENTS`; loopback receivers allowed with `WEBHOOK_ALLOW_HTTP` and
//! `WEBHOOK_ALLOW_PRIVATE`): a sign-up reaches a receiver with a valid signature, and two
//! instances on one database deliver each event once across a receiver outage.
//!
//! Each runs on PostgreSQL (`USERMGMT_TEST_POSTGRES_URL`) and on MySQL
//! (`USERMGMT_TEST_MYSQL_URL`), a fresh database per test; unset, the tests print a notice and
//! pass.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Client, Server, ServerSpec, eventually, random_client_ip, run_tag};
use std::collections::HashSet;
use std::time::Duration;
use usermgmt_core::testing::webhook_receiver::{Receiver, signed_with};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

async fn postgres() -> Option<String> {
    usermgmt_core::testing::databases::postgres_test_database_url().await
}

/// Each test runs a second time on MySQL (`USERMGMT_TEST_MYSQL_URL`): the `_mysql` twins.
async fn mysql() -> Option<String> {
    usermgmt_core::testing::databases::mysql_test_database_url().await
}

fn spec(framework: &'static str, url: &str, receiver_port: u16) -> ServerSpec {
    ServerSpec::new(framework, url, None)
        .with(
            "WEBHOOK_URL",
            format!("http://127.0.0.1:{receiver_port}/hooks"),
        )
        .with("WEBHOOK_SECRET", SECRET)
        .with("WEBHOOK_EVENTS", "USER_REGISTERED")
        .with("WEBHOOK_ALLOW_HTTP", "true")
        .with("WEBHOOK_ALLOW_PRIVATE", "true")
}

/// The "done when": a sign-up on the standalone server reaches a receiver, signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_reaches_the_receiver_signed() {
    let Some(url) = postgres().await else { return };
    a_sign_up_reaches_the_receiver_signed_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_up_reaches_the_receiver_signed_mysql() {
    let Some(url) = mysql().await else { return };
    a_sign_up_reaches_the_receiver_signed_on(&url).await;
}

async fn a_sign_up_reaches_the_receiver_signed_on(url: &str) {
    let url = url.to_owned();
    let receiver = Receiver::start().await;
    let server = Server::start(&spec("axum", &url, receiver.port)).await;
    let client = Client::new(&server, &random_client_ip());
    let tag = run_tag();
    let user_id = client
        .register(&format!("w{tag}"), &format!("w-{tag}@example.com"))
        .await;

    let hook = eventually("the webhook", Duration::from_secs(20), || async {
        receiver.received().into_iter().next()
    })
    .await;
    assert!(
        signed_with(&hook, SECRET),
        "{}",
        hook.header("webhook-signature")
    );
    let payload = hook.json();
    assert_eq!(payload["type"], "USER_REGISTERED");
    assert_eq!(payload["subject"]["userId"], user_id.as_str());
    assert_eq!(payload["id"], hook.header("webhook-id"));
    assert!(!hook.body.contains(common::PASSWORD));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(receiver.received().len(), 1, "delivered once");
}

/// Two instances (Axum and Actix) on one database, the receiver down while users sign up on
/// both: once it is back, every event arrives, each once (one `Webhook-Id` per event), signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once_across_an_outage() {
    let Some(url) = postgres().await else { return };
    two_instances_deliver_each_event_once_across_an_outage_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_deliver_each_event_once_across_an_outage_mysql() {
    let Some(url) = mysql().await else { return };
    two_instances_deliver_each_event_once_across_an_outage_on(&url).await;
}

async fn two_instances_deliver_each_event_once_across_an_outage_on(url: &str) {
    let url = url.to_owned();
    let port = Receiver::free_port().await;
    let servers = Server::start_all(&[spec("axum", &url, port), spec("actix", &url, port)]).await;
    let ip = random_client_ip();
    let clients = [Client::new(&servers[0], &ip), Client::new(&servers[1], &ip)];
    let tag = run_tag();
    const N: usize = 6;
    let mut users = HashSet::new();
    for i in 0..N {
        let id = clients[i % 2]
            .register(&format!("o{i}{tag}"), &format!("o{i}-{tag}@example.com"))
            .await;
        users.insert(id);
    }
    // Let both workers fail their first attempts against the closed port.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let receiver = Receiver::on(port).await;
    eventually("every event", Duration::from_secs(90), || async {
        (receiver.received().len() >= N).then_some(())
    })
    .await;
    // Anything sent twice would arrive within a few more polls.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let received = receiver.received();
    let ids: HashSet<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(received.len(), N, "each event once");
    assert_eq!(ids.len(), N);
    let delivered: HashSet<String> = received
        .iter()
        .map(|r| r.json()["subject"]["userId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, users);
    assert!(received.iter().all(|r| signed_with(r, SECRET)));
}
