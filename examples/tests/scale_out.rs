//! SPEC §10, as an operator sees it: several `usermgmt-server` processes (Axum and Actix) on one
//! PostgreSQL database and one Redis agree on everything a user can observe; background jobs run
//! once, not once per instance; and the service rides out its dependencies failing — the
//! database going away (503, then recovery without a restart), SMTP down (mail waits in the
//! outbox), a crash before a mail is sent, a SIGTERM under load.
//!
//! Every test gets its own PostgreSQL database (`USERMGMT_TEST_POSTGRES_URL`), and runs a second
//! time on a MySQL one (`USERMGMT_TEST_MYSQL_URL`, the `_mysql` twins), and its own client
//! address (so its rate-limit counters are its own, even in a shared Redis:
//! `USERMGMT_TEST_REDIS_URL`). Unset, the tests print a notice and pass. Faults are injected by
//! a TCP proxy in the test process (`common::Proxy`); the machine's PostgreSQL and Redis are
//! never stopped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    Client, PASSWORD, Proxy, Server, ServerSpec, assert_error, claims, count_where, database_port,
    db, eventually, outbox, random_client_ip, run_tag, scalar, sessions_of, tables_containing,
    through_port, user_id,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use usermgmt_core::testing::smtp::SmtpTestServer;

const WRONG: &str = "Wr0ng!Passw0rd";
const VERIFY_SUBJECT: &str = "confirm your email";
const RESET_SUBJECT: &str = "reset your password";
/// The server's grace for in-flight requests (`SHUTDOWN_GRACE` in examples/src/serve.rs).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

async fn postgres() -> Option<String> {
    usermgmt_core::testing::databases::postgres_test_database_url().await
}

/// Every test runs on MySQL too (`USERMGMT_TEST_MYSQL_URL`), the fault tests cutting its
/// connections as they cut PostgreSQL's.
async fn mysql() -> Option<String> {
    usermgmt_core::testing::databases::mysql_test_database_url().await
}

fn redis_url() -> Option<String> {
    let url = std::env::var("USERMGMT_TEST_REDIS_URL")
        .ok()
        .filter(|v| !v.trim().is_empty());
    if url.is_none() {
        eprintln!("notice: USERMGMT_TEST_REDIS_URL is unset; skipping a Redis test");
    }
    url
}

/// Mails received by `smtp` for `to` whose text contains `subject`.
fn mails(smtp: &SmtpTestServer, to: &str, subject: &str) -> usize {
    smtp.received()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to) && m.decoded().contains(subject))
        .count()
}

/// Waits until every outbox row addressed to one of `recipients` is out of `pending` (sent, or
/// failed for good), and returns those rows. Other rows are left alone: a test may hold mail
/// whose claim a database cut interrupted, which rightly waits out its lease.
async fn outbox_drained(pool: &common::TestDb, recipients: &[String]) -> Vec<common::OutboxRow> {
    eventually("the outbox to drain", Duration::from_secs(40), || async {
        let rows: Vec<_> = outbox(pool)
            .await
            .into_iter()
            .filter(|r| recipients.contains(&r.recipient))
            .collect();
        rows.iter().all(|r| r.status != "pending").then_some(rows)
    })
    .await
}

/// Waits until each of `recipients` got its mail about `subject`, then checks that every one
/// got exactly one and that the outbox holds nothing left to send to them.
async fn assert_delivered_once(
    smtp: &SmtpTestServer,
    pool: &common::TestDb,
    recipients: &[String],
    subject: &str,
) {
    eventually(
        &format!("{} mails '{subject}'", recipients.len()),
        Duration::from_secs(40),
        || async {
            recipients
                .iter()
                .all(|r| mails(smtp, r, subject) >= 1)
                .then_some(())
        },
    )
    .await;
    let rows = outbox_drained(pool, recipients).await;
    for r in recipients {
        assert_eq!(mails(smtp, r, subject), 1, "'{subject}' to {r}: {rows:?}");
    }
    assert!(
        rows.iter().all(|r| r.status == "sent"),
        "every mail sent: {rows:?}"
    );
}

// --- 1. two instances, one database ------------------------------------------------------------

/// Logout, session revocation and suspension done on one instance are enforced by the other on
/// the next request; failed logins split across both lock the account at the threshold. Both
/// instances start at once with the same bootstrap administrator (created once, no start-up
/// failure of the slower one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_lockout_hold_across_instances() {
    let Some(url) = postgres().await else { return };
    sessions_and_lockout_hold_across_instances_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_and_lockout_hold_across_instances_mysql() {
    let Some(url) = mysql().await else { return };
    sessions_and_lockout_hold_across_instances_on(&url).await;
}

async fn sessions_and_lockout_hold_across_instances_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let admin_email = format!("boss-{tag}@example.com");
    let spec = |framework| {
        ServerSpec::new(framework, &url, None)
            .with("ADMIN_EMAIL", admin_email.as_str())
            .with("ADMIN_PASSWORD", PASSWORD)
    };
    let servers = Server::start_all(&[spec("axum"), spec("actix")]).await;
    let ip = random_client_ip();
    let (a, b) = (Client::new(&servers[0], &ip), Client::new(&servers[1], &ip));
    let pool = db(&url).await;
    assert_eq!(
        count_where(&pool, "users", "email", &admin_email).await,
        1,
        "one administrator"
    );
    let (admin, _) = b.login(&admin_email, PASSWORD).await;

    let ann = format!("ann-{tag}@example.com");
    let ann_id = a.register("ann", &ann).await;
    let profile = "/api/v1/users/profile";

    // Logout on A: the token is refused on B at once.
    let (token, _) = a.login("ann", PASSWORD).await;
    assert_eq!(b.get(profile, Some(&token)).await.0, 200);
    assert_eq!(
        a.post("/api/v1/auth/logout", Some(&token), json!({}))
            .await
            .0,
        200
    );
    assert_error(
        &b.get(profile, Some(&token)).await,
        401,
        "INVALID_TOKEN",
        "logged out on A, used on B",
    );

    // A session revoked through A stops working on B; the other session lives on.
    let (keep, _) = b.login("ann", PASSWORD).await;
    let (doomed, _) = b.login("ann", PASSWORD).await;
    let sid = claims(&doomed)["sid"].as_str().unwrap().to_owned();
    let (s, body) = a
        .delete(&format!("/api/v1/sessions/{sid}"), Some(&keep), None)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_error(
        &b.get(profile, Some(&doomed)).await,
        401,
        "INVALID_TOKEN",
        "revoked on A, used on B",
    );
    assert_eq!(b.get(profile, Some(&keep)).await.0, 200);

    // An administrator suspends Ann through A: her session on B ends, and neither instance lets
    // her log in.
    let (s, body) = a
        .post(
            &format!("/api/v1/admin/users/{ann_id}/suspend"),
            Some(&admin),
            json!({"reason": "scale-out test"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_error(
        &b.get(profile, Some(&keep)).await,
        401,
        "INVALID_TOKEN",
        "suspended on A, used on B",
    );
    for (client, name) in [(&a, "A"), (&b, "B")] {
        let answer = client
            .post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": "ann", "password": PASSWORD}),
            )
            .await;
        assert_error(
            &answer,
            403,
            "ACCOUNT_SUSPENDED",
            &format!("login on {name}"),
        );
    }

    // Lockout: failures alternate between the instances; the fifth locks (SPEC §5), and the
    // lock holds on both, even for the right password.
    let bob = format!("bob-{tag}@example.com");
    b.register("bob", &bob).await;
    for attempt in 1..=5 {
        let client = if attempt % 2 == 1 { &a } else { &b };
        let answer = client
            .post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": "bob", "password": WRONG}),
            )
            .await;
        if attempt < 5 {
            assert_error(
                &answer,
                401,
                "INVALID_CREDENTIALS",
                &format!("failure {attempt}"),
            );
        } else {
            assert_error(&answer, 423, "ACCOUNT_LOCKED", "the fifth failure locks");
        }
    }
    for (client, name) in [(&a, "A"), (&b, "B")] {
        let answer = client
            .post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": "bob", "password": PASSWORD}),
            )
            .await;
        assert_error(&answer, 423, "ACCOUNT_LOCKED", &format!("locked on {name}"));
    }
    assert_eq!(
        count_where(&pool, "audit_logs", "action", "ACCOUNT_LOCKED").await,
        1,
        "locked once"
    );
}

/// A deployment starts every instance at once, each with the same `ADMIN_EMAIL`: all of them
/// come up, and the administrator exists once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_together_bootstrap_one_administrator() {
    let Some(url) = postgres().await else { return };
    instances_started_together_bootstrap_one_administrator_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_started_together_bootstrap_one_administrator_mysql() {
    let Some(url) = mysql().await else { return };
    instances_started_together_bootstrap_one_administrator_on(&url).await;
}

async fn instances_started_together_bootstrap_one_administrator_on(url: &str) {
    let url = url.to_owned();
    let admin_email = format!("chief-{}@example.com", run_tag());
    let spec = |framework| {
        ServerSpec::new(framework, &url, None)
            .with("ADMIN_EMAIL", admin_email.as_str())
            .with("ADMIN_PASSWORD", PASSWORD)
    };
    let servers =
        Server::start_all(&[spec("axum"), spec("actix"), spec("axum"), spec("actix")]).await;
    let pool = db(&url).await;
    assert_eq!(count_where(&pool, "users", "email", &admin_email).await, 1);
    let ip = random_client_ip();
    for server in &servers {
        Client::new(server, &ip).login(&admin_email, PASSWORD).await;
    }
}

/// A refresh token rotated on one instance and presented again on the other, past the grace
/// window, is a reuse: the whole session ends on both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_reuse_is_caught_on_every_instance() {
    let Some(url) = postgres().await else { return };
    refresh_token_reuse_is_caught_on_every_instance_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_reuse_is_caught_on_every_instance_mysql() {
    let Some(url) = mysql().await else { return };
    refresh_token_reuse_is_caught_on_every_instance_on(&url).await;
}

async fn refresh_token_reuse_is_caught_on_every_instance_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let servers = Server::start_all(&[
        ServerSpec::new("axum", &url, None),
        ServerSpec::new("actix", &url, None),
    ])
    .await;
    let ip = random_client_ip();
    let (a, b) = (Client::new(&servers[0], &ip), Client::new(&servers[1], &ip));
    a.register("carl", &format!("carl-{tag}@example.com")).await;
    let (access0, refresh0) = a.login("carl", PASSWORD).await;
    let refresh = |client: &Client, token: &str| {
        let (client, token) = (client.clone(), token.to_owned());
        async move {
            client
                .post("/api/v1/auth/refresh", None, json!({"refreshToken": token}))
                .await
        }
    };
    // Rotated on B.
    let (s, body) = refresh(&b, &refresh0).await;
    assert_eq!(s, 200, "{body}");
    let access1 = body["data"]["accessToken"].as_str().unwrap().to_owned();
    let refresh1 = body["data"]["refreshToken"].as_str().unwrap().to_owned();
    assert_eq!(
        a.get("/api/v1/users/profile", Some(&access1)).await.0,
        200,
        "B's token works on A"
    );
    // Past the 10-second grace window the old token is a reuse, wherever it is presented.
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    assert_error(
        &refresh(&a, &refresh0).await,
        401,
        "TOKEN_REUSE_DETECTED",
        "old refresh token on A",
    );
    for (client, token) in [(&b, &access1), (&a, &access1), (&b, &access0)] {
        assert_error(
            &client.get("/api/v1/users/profile", Some(token)).await,
            401,
            "INVALID_TOKEN",
            "the session was revoked",
        );
    }
    let (s, _) = refresh(&b, &refresh1).await;
    assert_eq!(s, 401, "the newest refresh token died with the session");
    let pool = db(&url).await;
    assert_eq!(
        count_where(&pool, "audit_logs", "action", "TOKEN_REUSE_DETECTED").await,
        1
    );
}

/// With `REDIS_URL`, the rate limit is one budget for every instance; with Redis unreachable
/// (hung or refusing connections) each instance counts on its own instead of failing or
/// stalling requests, and the shared count is back when Redis is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_add_up_across_instances_with_redis() {
    let Some(redis) = redis_url() else { return };
    let Some(url) = postgres().await else { return };
    rate_limits_add_up_across_instances_with_redis_on(&redis, &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_add_up_across_instances_with_redis_mysql() {
    let Some(redis) = redis_url() else { return };
    let Some(url) = mysql().await else { return };
    rate_limits_add_up_across_instances_with_redis_on(&redis, &url).await;
}

async fn rate_limits_add_up_across_instances_with_redis_on(redis: &str, url: &str) {
    let url = url.to_owned();
    let redis_proxy = Proxy::cut_to(&through_port(redis, 0, 6379).1);
    redis_proxy.restore().await;
    let (redis_via_proxy, _) = through_port(redis, redis_proxy.port, 6379);
    const MAX: usize = 10;
    let spec = |framework| {
        ServerSpec::new(framework, &url, None)
            .with("REDIS_URL", redis_via_proxy.as_str())
            .with("RATE_LIMIT_MAX", MAX.to_string())
            .with("RATE_LIMIT_WINDOW", "1h")
    };
    let servers = Server::start_all(&[spec("axum"), spec("actix")]).await;
    // Windows are fixed (aligned to the hour here): do not start just before one ends.
    #[allow(clippy::disallowed_methods)] // the servers' rate-limit windows follow the wall clock
    let into_hour = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 3600;
    if into_hour > 3600 - 60 {
        tokio::time::sleep(Duration::from_secs(3600 - into_hour + 1)).await;
    }
    let ip = random_client_ip();
    let (a, b) = (Client::new(&servers[0], &ip), Client::new(&servers[1], &ip));
    let hit = |client: &Client| {
        let client = client.clone();
        async move {
            let resp = client
                .request(
                    reqwest::Method::GET,
                    "/api/v1/auth/check-email?email=x%40example.com",
                )
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
            };
            let remaining = header("x-ratelimit-remaining");
            let retry_after = header("retry-after");
            let body = resp.json::<Value>().await.unwrap_or(Value::Null);
            (status, remaining, retry_after, body)
        }
    };
    for i in 1..=MAX {
        let client = if i % 2 == 1 { &a } else { &b };
        let (status, remaining, _, body) = hit(client).await;
        assert_eq!(status, 200, "request {i}: {body}");
        // The global budget is the tighter one here (check-email also has its own, 30/min).
        assert_eq!(
            remaining.as_deref(),
            Some((MAX - i).to_string().as_str()),
            "request {i} counted once across both instances"
        );
    }
    for (client, name) in [(&a, "A"), (&b, "B")] {
        let (status, _, retry_after, body) = hit(client).await;
        assert_eq!(status, 429, "over the shared budget on {name}: {body}");
        assert_eq!(body["code"], json!("RATE_LIMITED"));
        assert!(retry_after.is_some(), "Retry-After on {name}");
    }
    // Another client has its own budget.
    let other = Client::new(&servers[1], &random_client_ip());
    assert_eq!(hit(&other).await.0, 200);

    // Redis hangs (accepts connections, never answers), then refuses them: every request is
    // answered — neither failed nor left waiting on Redis — and counted by its own instance
    // meanwhile (the limits of a server without Redis).
    for outage in ["hung", "refusing connections"] {
        if outage == "hung" {
            redis_proxy.hold().await;
        } else {
            redis_proxy.cut().await;
        }
        let fresh = random_client_ip();
        let (fa, fb) = (
            Client::new(&servers[0], &fresh),
            Client::new(&servers[1], &fresh),
        );
        let started = Instant::now();
        for i in 1..=MAX {
            let (status, remaining, _, body) = hit(&fa).await;
            assert_eq!(status, 200, "Redis {outage}: request {i}: {body}");
            assert_eq!(
                remaining.as_deref(),
                Some((MAX - i).to_string().as_str()),
                "Redis {outage}: counted by A alone"
            );
        }
        assert_eq!(hit(&fa).await.0, 429, "Redis {outage}: A's own limit holds");
        assert_eq!(hit(&fb).await.0, 200, "Redis {outage}: B counts on its own");
        eprintln!(
            "Redis {outage}: {} requests answered in {:?}",
            MAX + 2,
            started.elapsed()
        );
    }
    // Redis is back: counts are shared again (the connection comes back by itself), and the
    // budget spent before the outage is still spent.
    redis_proxy.restore().await;
    eventually(
        "shared counting after Redis returns",
        Duration::from_secs(30),
        || async {
            let fresh = random_client_ip();
            let (fa, fb) = (
                Client::new(&servers[0], &fresh),
                Client::new(&servers[1], &fresh),
            );
            hit(&fa).await;
            let shared = hit(&fb).await.1.as_deref() == Some((MAX - 2).to_string().as_str());
            shared.then_some(())
        },
    )
    .await;
    for (client, name) in [(&a, "A"), (&b, "B")] {
        assert_eq!(
            hit(client).await.0,
            429,
            "the shared budget is still spent on {name}"
        );
    }
}

/// Mail goes out once, not once per instance: two instances, each with its worker, one SMTP
/// server; N mails triggered across both give exactly N deliveries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_delivers_each_mail_once_with_two_workers() {
    let Some(url) = postgres().await else { return };
    outbox_delivers_each_mail_once_with_two_workers_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_delivers_each_mail_once_with_two_workers_mysql() {
    let Some(url) = mysql().await else { return };
    outbox_delivers_each_mail_once_with_two_workers_on(&url).await;
}

async fn outbox_delivers_each_mail_once_with_two_workers_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let smtp = SmtpTestServer::start();
    let servers = Server::start_all(&[
        ServerSpec::new("axum", &url, Some(smtp.port)),
        ServerSpec::new("actix", &url, Some(smtp.port)),
    ])
    .await;
    let ip = random_client_ip();
    let clients = [Client::new(&servers[0], &ip), Client::new(&servers[1], &ip)];
    const N: usize = 8;
    let emails: Vec<String> = (0..N).map(|i| format!("m{i}-{tag}@example.com")).collect();
    // Registrations at once, spread over both instances; then a reset request for each, on the
    // other instance.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, email) in emails.iter().enumerate() {
        let (client, email) = (clients[i % 2].clone(), email.clone());
        tasks.spawn(async move { client.register(&format!("mm{i}"), &email).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    for (i, email) in emails.iter().enumerate() {
        let (client, email) = (clients[(i + 1) % 2].clone(), email.clone());
        tasks.spawn(async move {
            let (s, body) = client
                .post(
                    "/api/v1/auth/forgot-password",
                    None,
                    json!({"email": email}),
                )
                .await;
            assert_eq!(s, 200, "{body}");
            String::new()
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let pool = db(&url).await;
    assert_delivered_once(&smtp, &pool, &emails, VERIFY_SUBJECT).await;
    assert_delivered_once(&smtp, &pool, &emails, RESET_SUBJECT).await;
    assert_eq!(
        smtp.received().len(),
        2 * N,
        "no mail besides the 2N triggered"
    );
}

/// The account purge runs on every instance, yet each expired account is purged once: one
/// `ACCOUNT_PURGED` row and one "removed" mail per account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_purge_runs_once_across_instances() {
    let Some(url) = postgres().await else { return };
    account_purge_runs_once_across_instances_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_purge_runs_once_across_instances_mysql() {
    let Some(url) = mysql().await else { return };
    account_purge_runs_once_across_instances_on(&url).await;
}

async fn account_purge_runs_once_across_instances_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let smtp = SmtpTestServer::start();
    let admin_email = format!("root-{tag}@example.com");
    let spec = |framework| {
        ServerSpec::new(framework, &url, Some(smtp.port))
            .with("ADMIN_EMAIL", admin_email.as_str())
            .with("ADMIN_PASSWORD", PASSWORD)
            .with("ACCOUNT_RECOVERY_WINDOW", "2s")
            .with("ACCOUNT_PURGE_INTERVAL", "1s")
    };
    let servers = Server::start_all(&[spec("axum"), spec("actix")]).await;
    let ip = random_client_ip();
    let (a, b) = (Client::new(&servers[0], &ip), Client::new(&servers[1], &ip));
    let emails: Vec<String> = (0..3).map(|i| format!("p{i}-{tag}@example.com")).collect();
    for (i, email) in emails.iter().enumerate() {
        let client = if i % 2 == 0 { &a } else { &b };
        client.register(&format!("pp{i}"), email).await;
        let (token, _) = client.login(email, PASSWORD).await;
        let (s, body) = client
            .delete(
                "/api/v1/account",
                Some(&token),
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
    }
    let pool = db(&url).await;
    for email in &emails {
        let pool = &pool;
        eventually(
            &format!("the purge of {email}"),
            Duration::from_secs(30),
            || async { (count_where(pool, "users", "email", email).await == 0).then_some(()) },
        )
        .await;
    }
    // Both instances kept purging every second meanwhile; give them two more rounds.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (admin, _) = a.login(&admin_email, PASSWORD).await;
    let (s, body) = b
        .get(
            "/api/v1/audit?action=ACCOUNT_PURGED&limit=100",
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["data"]["total"],
        json!(3),
        "one purge per account: {body}"
    );
    assert_delivered_once(&smtp, &pool, &emails, "account was removed").await;
}

// --- 2. faults -------------------------------------------------------------------------------

/// The database goes away: requests answer 503 in the error envelope (within the pool's acquire
/// timeout, not hanging), `/health/detailed` says degraded; registrations cut off mid-way leave
/// nothing half-written; when it comes back the same process recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_recovers() {
    let Some(url) = postgres().await else { return };
    database_outage_answers_503_and_recovers_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_recovers_mysql() {
    let Some(url) = mysql().await else { return };
    database_outage_answers_503_and_recovers_on(&url).await;
}

async fn database_outage_answers_503_and_recovers_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let smtp = SmtpTestServer::start();
    let proxy = Proxy::cut_to(&through_port(&url, 0, database_port(&url)).1);
    proxy.restore().await;
    let (proxied, _) = through_port(&url, proxy.port, database_port(&url));
    // One hash at a time, and slow enough that a burst of registrations is still in flight
    // when the database goes.
    let server = Server::start(
        &ServerSpec::new("axum", &proxied, Some(smtp.port))
            .with("HASH_MEMORY_KIB", "4096")
            .with("HASH_MAX_CONCURRENT", "1"),
    )
    .await;
    let c = Client::new(&server, &random_client_ip());
    let pool = db(&url).await;
    let dora = format!("dora-{tag}@example.com");
    c.register("dora", &dora).await;
    let (token, _) = c.login("dora", PASSWORD).await;

    proxy.cut().await;
    let eve = format!("eve-{tag}@example.com");
    let started = Instant::now();
    let (profile, register, login, detailed, ready, health, live) = tokio::join!(
        c.get("/api/v1/users/profile", Some(&token)),
        c.post(
            "/api/v1/auth/register",
            None,
            json!({"email": eve, "username": "eve", "password": PASSWORD}),
        ),
        c.post(
            "/api/v1/auth/login",
            None,
            json!({"identifier": "dora", "password": PASSWORD}),
        ),
        c.get("/health/detailed", None),
        c.get("/ready", None),
        c.get("/health", None),
        c.get("/live", None),
    );
    eprintln!(
        "database down: every answer in {:?} (the pool's acquire_timeout is 5 s)",
        started.elapsed()
    );
    for (answer, what) in [
        (&profile, "an authenticated read"),
        (&register, "a registration"),
        (&login, "a login"),
        (&ready, "readiness"),
    ] {
        assert_error(answer, 503, "SERVICE_UNAVAILABLE", what);
        let text = answer.1.to_string();
        let port = database_port(&url).to_string();
        for leak in [port.as_str(), "127.0.0.1", "sqlx", "pool", "connection"] {
            assert!(!text.contains(leak), "{what} leaks {leak}: {text}");
        }
    }
    let (s, body) = &detailed;
    assert_eq!(s.as_u16(), 503, "{body}");
    assert_eq!(body["data"]["status"], json!("degraded"), "{body}");
    assert_eq!(body["data"]["checks"]["database"]["status"], json!("down"));
    assert_eq!(health.0, 200, "liveness does not depend on the database");
    assert_eq!(live.0, 200);

    proxy.restore().await;
    let restored = Instant::now();
    eventually(
        "readiness after the database returns",
        Duration::from_secs(30),
        || async { (c.get("/ready", None).await.0 == 200).then_some(()) },
    )
    .await;
    eprintln!("database back: ready again in {:?}", restored.elapsed());
    let (s, body) = c.get("/health/detailed", None).await;
    assert_eq!(
        (s.as_u16(), body["data"]["status"].clone()),
        (200, json!("ok"))
    );
    assert_eq!(c.get("/api/v1/users/profile", Some(&token)).await.0, 200);
    c.login("dora", PASSWORD).await;
    assert_eq!(count_where(&pool, "users", "email", &eve).await, 0);
    assert_eq!(
        count_where(&pool, "mail_outbox", "recipient", &eve).await,
        0
    );
    c.register("eve", &eve).await;
    // The worker recovered too: the mail of the registrations before and after the outage is
    // delivered, once. (Waited for here, before the next cut can interrupt eve's claim.)
    let before_burst = [dora, eve];
    assert_delivered_once(&smtp, &pool, &before_burst, VERIFY_SUBJECT).await;

    // A burst of registrations, with the database cut while they run: each one is all there
    // (user, its audit row, its mail) or not there at all — whatever its client was told.
    let burst: Vec<String> = (0..10).map(|i| format!("b{i}-{tag}@example.com")).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, email) in burst.iter().enumerate() {
        let (c, email) = (c.clone(), email.clone());
        tasks.spawn(async move {
            let answer = c
                .post(
                    "/api/v1/auth/register",
                    None,
                    json!({"email": email, "username": format!("bb{i}"), "password": PASSWORD}),
                )
                .await;
            (email, answer)
        });
    }
    let mut answers = vec![tasks.join_next().await.unwrap().unwrap()];
    proxy.cut().await;
    while let Some(done) = tasks.join_next().await {
        answers.push(done.unwrap());
    }
    proxy.restore().await;
    let mut created = Vec::new();
    for (email, (status, body)) in &answers {
        match status.as_u16() {
            201 => created.push(email.clone()),
            503 => assert_eq!(body["code"], json!("SERVICE_UNAVAILABLE"), "{body}"),
            other => panic!("registration during the cut answered {other}: {body}"),
        }
    }
    eprintln!(
        "registrations: {} of {} answered 201 around the cut",
        created.len(),
        burst.len()
    );
    let mut committed = Vec::new();
    for email in &burst {
        let users = count_where(&pool, "users", "email", email).await;
        let mails = count_where(&pool, "mail_outbox", "recipient", email).await;
        assert_eq!(users, mails, "{email}: user row and its mail go together");
        assert!(users <= 1);
        if users == 1 {
            committed.push(email.clone());
        }
    }
    for email in &created {
        assert!(
            committed.contains(email),
            "{email} answered 201 but is missing"
        );
    }
    let users = scalar(&pool, "SELECT COUNT(*) FROM users").await;
    let registered = scalar(
        &pool,
        "SELECT COUNT(*) FROM audit_logs WHERE action = 'USER_REGISTERED'",
    )
    .await;
    assert_eq!(
        users, registered,
        "every user has its USER_REGISTERED row, and no more"
    );
    // Each committed registration's mail is delivered once or still waits — a claim the cut
    // interrupted keeps it for the claim's two minutes — and none is lost; none of the earlier
    // mail went out again.
    let rows = eventually(
        "the burst's mail delivered or waiting",
        Duration::from_secs(40),
        || async {
            let rows = outbox(&pool).await;
            committed
                .iter()
                .all(|email| {
                    let sent = mails(&smtp, email, VERIFY_SUBJECT) == 1;
                    let waiting = rows
                        .iter()
                        .any(|r| &r.recipient == email && r.status == "pending" && r.claimed);
                    sent || waiting
                })
                .then_some(rows)
        },
    )
    .await;
    for email in &committed {
        assert!(mails(&smtp, email, VERIFY_SUBJECT) <= 1, "{email} twice");
    }
    for email in &before_burst {
        assert_eq!(mails(&smtp, email, VERIFY_SUBJECT), 1, "{email}");
    }
    assert!(rows.iter().all(|r| r.status != "failed"), "{rows:?}");
}

/// The database goes away between a mail's send and its record: the worker keeps the fact and
/// records it when the database is back, so the mail is not sent again when its claim lapses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_sent_while_the_database_is_away_is_not_sent_again() {
    let Some(url) = postgres().await else { return };
    a_mail_sent_while_the_database_is_away_is_not_sent_again_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_sent_while_the_database_is_away_is_not_sent_again_mysql() {
    let Some(url) = mysql().await else { return };
    a_mail_sent_while_the_database_is_away_is_not_sent_again_on(&url).await;
}

async fn a_mail_sent_while_the_database_is_away_is_not_sent_again_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let smtp = SmtpTestServer::start();
    let relay = Proxy::cut_to(&format!("127.0.0.1:{}", smtp.port));
    relay.hold().await;
    let database = Proxy::start(&through_port(&url, 0, database_port(&url)).1).await;
    let server = Server::start(
        &ServerSpec::new(
            "axum",
            &through_port(&url, database.port, database_port(&url)).0,
            Some(relay.port),
        )
        .with("EMAIL_TIMEOUT", "60s"),
    )
    .await;
    let c = Client::new(&server, &random_client_ip());
    let ida = format!("ida-{tag}@example.com");
    c.register("ida", &ida).await;
    // The worker has claimed the mail and waits on SMTP; the database goes; SMTP answers.
    eventually(
        "the worker to reach SMTP",
        Duration::from_secs(20),
        || async { (relay.accepted() >= 1).then_some(()) },
    )
    .await;
    database.cut().await;
    relay.release();
    eventually("the mail", Duration::from_secs(20), || async {
        (mails(&smtp, &ida, VERIFY_SUBJECT) == 1).then_some(())
    })
    .await;
    // Its record has failed once (the pool's acquire timeout is 5 s).
    eventually(
        "a failed attempt to record it",
        Duration::from_secs(20),
        || async {
            let log = server.log_text();
            (log.contains("not yet recorded") || log.contains("outbox pass failed")).then_some(())
        },
    )
    .await;
    database.restore().await;
    let pool = db(&url).await;
    let rows = eventually(
        "the mail recorded as sent",
        Duration::from_secs(30),
        || async {
            let rows = outbox(&pool).await;
            rows.iter().all(|r| r.status == "sent").then_some(rows)
        },
    )
    .await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(mails(&smtp, &ida, VERIFY_SUBJECT), 1);
}

/// SMTP is down (nothing listens on its port): mail triggered on both instances waits in the
/// outbox, tried and rescheduled; when SMTP comes up each is delivered exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_outage_delays_mail_but_loses_none() {
    let Some(url) = postgres().await else { return };
    smtp_outage_delays_mail_but_loses_none_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_outage_delays_mail_but_loses_none_mysql() {
    let Some(url) = mysql().await else { return };
    smtp_outage_delays_mail_but_loses_none_on(&url).await;
}

async fn smtp_outage_delays_mail_but_loses_none_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let smtp = SmtpTestServer::start();
    let relay = Proxy::cut_to(&format!("127.0.0.1:{}", smtp.port));
    let servers = Server::start_all(&[
        ServerSpec::new("axum", &url, Some(relay.port)),
        ServerSpec::new("actix", &url, Some(relay.port)),
    ])
    .await;
    let ip = random_client_ip();
    let clients = [Client::new(&servers[0], &ip), Client::new(&servers[1], &ip)];
    let emails: Vec<String> = (0..6).map(|i| format!("s{i}-{tag}@example.com")).collect();
    for (i, email) in emails.iter().enumerate() {
        clients[i % 2].register(&format!("ss{i}"), email).await;
    }
    let (s, _) = clients[1]
        .post(
            "/api/v1/auth/forgot-password",
            None,
            json!({"email": emails[0]}),
        )
        .await;
    assert_eq!(s, 200);
    let pool = db(&url).await;
    // Each was tried (the worker of the instance that enqueued it wakes at once), failed, and
    // waits for its retry.
    let rows = eventually(
        "a failed first attempt of every mail",
        Duration::from_secs(20),
        || async {
            let rows = outbox(&pool).await;
            (rows.len() == emails.len() + 1
                && rows
                    .iter()
                    .all(|r| r.status == "pending" && r.attempts >= 1 && !r.claimed))
            .then_some(rows)
        },
    )
    .await;
    assert_eq!(relay.accepted(), 0);
    assert!(smtp.received().is_empty(), "{rows:?}");
    for c in &clients {
        let (s, body) = c.get("/health/detailed", None).await;
        assert_eq!(s, 200, "a mail backlog is not an outage of the API: {body}");
        assert_eq!(
            body["data"]["checks"]["mailQueue"]["backlog"],
            json!(emails.len() + 1),
            "{body}"
        );
    }
    relay.restore().await;
    assert_delivered_once(&smtp, &pool, &emails, VERIFY_SUBJECT).await;
    assert_delivered_once(&smtp, &pool, &emails[..1], RESET_SUBJECT).await;
    for c in &clients {
        let (_, body) = c.get("/health/detailed", None).await;
        assert_eq!(body["data"]["checks"]["mailQueue"]["backlog"], json!(0));
    }
}

/// A crash between the commit and the send loses no mail: the worker is busy on one message
/// (SMTP hangs), a second is committed, the process is killed with SIGKILL; a new instance
/// delivers the second once. The first, claimed by the dead worker, is still pending: its
/// claim lapses (2 minutes) and it is retried then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_survives_a_crash_before_delivery() {
    let Some(url) = postgres().await else { return };
    mail_survives_a_crash_before_delivery_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_survives_a_crash_before_delivery_mysql() {
    let Some(url) = mysql().await else { return };
    mail_survives_a_crash_before_delivery_on(&url).await;
}

async fn mail_survives_a_crash_before_delivery_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let smtp = SmtpTestServer::start();
    let hung = Proxy::cut_to(&format!("127.0.0.1:{}", smtp.port));
    hung.hold().await;
    let mut first = Server::start(
        &ServerSpec::new("actix", &url, Some(hung.port)).with("EMAIL_TIMEOUT", "60s"),
    )
    .await;
    let c = Client::new(&first, &random_client_ip());
    let busy = format!("busy-{tag}@example.com");
    let lost = format!("late-{tag}@example.com");
    c.register("busy", &busy).await;
    eventually(
        "the worker to hang on SMTP",
        Duration::from_secs(20),
        || async { (hung.accepted() >= 1).then_some(()) },
    )
    .await;
    c.register("late", &lost).await;
    let pool = db(&url).await;
    let rows = outbox(&pool).await;
    let row = |email: &str| rows.iter().find(|r| r.recipient == email).unwrap().clone();
    assert!(
        row(&busy).claimed && row(&busy).status == "pending",
        "{rows:?}"
    );
    assert!(
        !row(&lost).claimed && row(&lost).attempts == 0,
        "committed, never tried: {rows:?}"
    );
    first.kill_hard();

    let second = Server::start(&ServerSpec::new("axum", &url, Some(smtp.port))).await;
    eventually(
        "the mail after the crash",
        Duration::from_secs(30),
        || async { (mails(&smtp, &lost, VERIFY_SUBJECT) >= 1).then_some(()) },
    )
    .await;
    // Nothing else is due: one delivery, and the dead worker's claim is kept, not lost.
    let rows = outbox(&pool).await;
    assert_eq!(mails(&smtp, &lost, VERIFY_SUBJECT), 1);
    let row = |email: &str| rows.iter().find(|r| r.recipient == email).unwrap().clone();
    assert_eq!(row(&lost).status, "sent", "{rows:?}");
    assert_eq!(row(&busy).status, "pending", "still to be sent: {rows:?}");
    assert_eq!(mails(&smtp, &busy, VERIFY_SUBJECT), 0);
    drop(second);
}

/// MySQL resolves a deadlock by rolling one transaction back whole (error 1213); the server runs
/// that request's handler again, so the client gets its ordinary answer, not a 503. The deadlock
/// is made on purpose: a transaction of the test locks the user's other session, the password
/// change locks the user's row and waits for that session, then the test's transaction asks for
/// the user's row. InnoDB rolls back the lighter of the two (fewer rows changed): the test's has
/// changed a hundred rows of a scratch table, so the request is the victim.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadlock_victim_request_is_run_again_mysql() {
    use sqlx::{Connection, Executor};
    let Some(url) = mysql().await else { return };
    let tag = run_tag();
    let server = Server::start(&ServerSpec::new("axum", &url, None)).await;
    let c = Client::new(&server, &random_client_ip());
    let email = format!("dl-{tag}@example.com");
    let user = c.register("deadlock", &email).await;
    let (access, _) = c.login("deadlock", PASSWORD).await;
    let (_other_device, _) = c.login("deadlock", PASSWORD).await;

    let options = usermgmt_core::store::mysql::MySqlStore::connect_options(&url).unwrap();
    let mut test_tx = sqlx::MySqlConnection::connect_with(&options).await.unwrap();
    let watcher = sqlx::MySqlPool::connect_with(options.clone())
        .await
        .unwrap();
    test_tx
        .execute("CREATE TABLE deadlock_weight (n INT PRIMARY KEY)")
        .await
        .unwrap();
    test_tx.execute("BEGIN").await.unwrap();
    test_tx
        .execute(
            "INSERT INTO deadlock_weight (n) WITH RECURSIVE s (n) AS \
             (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100) SELECT n FROM s",
        )
        .await
        .unwrap();
    let user_id = uuid::Uuid::parse_str(&user).unwrap();
    // Every session of the user but the caller's: the newest one is the other device's.
    let locked: Vec<uuid::Uuid> = sqlx::query_scalar(
        "SELECT id FROM sessions WHERE user_id = ? ORDER BY created_at DESC LIMIT 1 FOR UPDATE",
    )
    .bind(user_id)
    .fetch_all(&mut test_tx)
    .await
    .unwrap();
    assert_eq!(locked.len(), 1);

    let change = {
        let c = c.clone();
        tokio::spawn(async move {
            c.post(
                "/api/v1/auth/change-password",
                Some(&access),
                json!({
                    "currentPassword": PASSWORD,
                    "newPassword": "N3w!Passw0rd-dl",
                    "confirmPassword": "N3w!Passw0rd-dl",
                }),
            )
            .await
        })
    };
    eventually(
        "the password change to wait for the locked session",
        Duration::from_secs(20),
        || async {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'",
            )
            .fetch_one(&watcher)
            .await
            .unwrap();
            (waiting == 1).then_some(())
        },
    )
    .await;
    // Closes the cycle: the request holds the user's row and waits for us. This statement
    // succeeds only because the request is the one rolled back.
    sqlx::query("UPDATE users SET updated_at = updated_at WHERE id = ?")
        .bind(user_id)
        .execute(&mut test_tx)
        .await
        .expect("the test's transaction is not the deadlock's victim");
    test_tx.execute("ROLLBACK").await.unwrap();

    let (status, body) = change.await.unwrap();
    assert_eq!(status, 200, "the victim's request, run again: {body}");
    assert_eq!(body["data"]["revokedSessions"], json!(1), "{body}");
    c.login("deadlock", "N3w!Passw0rd-dl").await;
    test_tx.execute("DROP TABLE deadlock_weight").await.unwrap();
}

/// Logins of one user at once, on two instances: each takes and gives back a lockout turn on
/// the user's row and opens a session whose insert checks its foreign key against that row.
/// Every login succeeds: no lock order between them makes InnoDB roll one back (its
/// `Innodb_deadlocks` count stays put over these runs), and none waits for a lock timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_of_one_user_all_succeed_mysql() {
    let Some(url) = mysql().await else { return };
    let tag = run_tag();
    let servers = Server::start_all(&[
        ServerSpec::new("axum", &url, None).with("RATE_LIMIT_LOGIN", "1000/1m"),
        ServerSpec::new("actix", &url, None).with("RATE_LIMIT_LOGIN", "1000/1m"),
    ])
    .await;
    let ip = random_client_ip();
    let clients = [Client::new(&servers[0], &ip), Client::new(&servers[1], &ip)];
    clients[0]
        .register("racer", &format!("racer-{tag}@example.com"))
        .await;
    // Four at once: a fifth concurrent check would be refused by the lockout, which counts a
    // check as a failure until it passed (docs/SECURITY.md). Rounds of four, for the race.
    const ROUNDS: usize = 5;
    const AT_ONCE: usize = 4;
    for _ in 0..ROUNDS {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..AT_ONCE {
            let c = clients[i % 2].clone();
            tasks.spawn(async move {
                c.post(
                    "/api/v1/auth/login",
                    None,
                    json!({"identifier": "racer", "password": PASSWORD}),
                )
                .await
            });
        }
        while let Some(answer) = tasks.join_next().await {
            let (status, body) = answer.unwrap();
            assert_eq!(status, 200, "{body}");
        }
    }
    let pool = db(&url).await;
    let racer = user_id(&pool, &format!("racer-{tag}@example.com")).await;
    assert_eq!(sessions_of(&pool, racer).await, (ROUNDS * AT_ONCE) as i64);
}

// --- 3. graceful shutdown under load -----------------------------------------------------------

/// SIGTERM while logins and registrations wait for the (deliberately slow, one-at-a-time)
/// password hasher: every one of them gets its normal answer, the process exits 0 within the
/// grace period, and their effects are all there — sessions, users, and mail, which the next
/// instance delivers if this one did not.
async fn graceful_shutdown(url: &str, framework: &'static str, next: &'static str) {
    let url = url.to_owned();
    let tag = run_tag();
    let smtp = SmtpTestServer::start();
    let slow = ServerSpec::new(framework, &url, Some(smtp.port))
        .with("HASH_MEMORY_KIB", "32768")
        .with("HASH_ITERATIONS", "3")
        .with("HASH_MAX_CONCURRENT", "1");
    let mut server = Server::start(&slow).await;
    let c = Client::new(&server, &random_client_ip());
    let gus = format!("gus-{tag}@example.com");
    c.register("gus", &gus).await;

    const LOGINS: usize = 5;
    let newcomers: Vec<String> = (0..2).map(|i| format!("n{i}-{tag}@example.com")).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..LOGINS {
        let c = c.clone();
        tasks.spawn(async move {
            c.post(
                "/api/v1/auth/login",
                None,
                json!({"identifier": "gus", "password": PASSWORD}),
            )
            .await
        });
    }
    for (i, email) in newcomers.iter().enumerate() {
        let (c, email) = (c.clone(), email.clone());
        tasks.spawn(async move {
            c.post(
                "/api/v1/auth/register",
                None,
                json!({"email": email, "username": format!("nn{i}"), "password": PASSWORD}),
            )
            .await
        });
    }
    // In flight: several requests queue for the hasher.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let resp = c
            .request(reqwest::Method::GET, "/metrics")
            .send()
            .await
            .unwrap();
        let text = resp.text().await.unwrap();
        let depth: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("usermgmt_hash_queue_depth "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if depth >= 3 {
            break;
        }
        assert!(Instant::now() < deadline, "requests never queued up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    server.terminate();
    let stopping = Instant::now();
    let mut logins = 0;
    let mut registrations = 0;
    while let Some(done) = tasks.join_next().await {
        let (status, body) = done.unwrap();
        match status {
            StatusCode::OK => logins += 1,
            StatusCode::CREATED => registrations += 1,
            other => panic!("an in-flight request answered {other}: {body}"),
        }
    }
    assert_eq!((logins, registrations), (LOGINS, newcomers.len()));
    let status = server
        .wait_exit(SHUTDOWN_GRACE + Duration::from_secs(5))
        .await
        .expect("the server exits within its grace period");
    assert!(status.success(), "exit status {status:?}");
    eprintln!(
        "{framework}: in-flight requests answered and exit 0 in {:?} after SIGTERM",
        stopping.elapsed()
    );

    let pool = db(&url).await;
    let gus_id = user_id(&pool, &gus).await;
    assert_eq!(
        sessions_of(&pool, gus_id).await,
        i64::try_from(LOGINS).unwrap()
    );
    for email in &newcomers {
        assert_eq!(count_where(&pool, "users", "email", email).await, 1);
    }
    // Mail the stopped instance had not sent waits in the outbox for the next one.
    let next = Server::start(&ServerSpec::new(next, &url, Some(smtp.port))).await;
    let mut everyone = newcomers.clone();
    everyone.push(gus);
    assert_delivered_once(&smtp, &pool, &everyone, VERIFY_SUBJECT).await;
    drop(next);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_axum() {
    let Some(url) = postgres().await else { return };
    graceful_shutdown(&url, "axum", "actix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_actix() {
    let Some(url) = postgres().await else { return };
    graceful_shutdown(&url, "actix", "axum").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_axum_mysql() {
    let Some(url) = mysql().await else { return };
    graceful_shutdown(&url, "axum", "actix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_actix_mysql() {
    let Some(url) = mysql().await else { return };
    graceful_shutdown(&url, "actix", "axum").await;
}

/// An API key deleted on one instance stops at once on the other (no cache in between), in
/// either header; and the database holds its digest only: no row of any table contains the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_revocation_holds_across_instances_and_only_its_digest_is_stored() {
    let Some(url) = postgres().await else { return };
    api_key_revocation_holds_across_instances_and_only_its_digest_is_stored_on(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_key_revocation_holds_across_instances_and_only_its_digest_is_stored_mysql() {
    let Some(url) = mysql().await else { return };
    api_key_revocation_holds_across_instances_and_only_its_digest_is_stored_on(&url).await;
}

async fn api_key_revocation_holds_across_instances_and_only_its_digest_is_stored_on(url: &str) {
    let url = url.to_owned();
    let tag = run_tag();
    let servers = Server::start_all(&[
        ServerSpec::new("axum", &url, None),
        ServerSpec::new("actix", &url, None),
    ])
    .await;
    let ip = random_client_ip();
    let (a, b) = (Client::new(&servers[0], &ip), Client::new(&servers[1], &ip));
    a.register("kira", &format!("kira-{tag}@example.com")).await;
    let (access, _) = a.login("kira", PASSWORD).await;
    let (s, body) = a
        .post(
            "/api/v1/api-keys",
            Some(&access),
            json!({"name": "ci", "scopes": []}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let key = body["data"]["key"].as_str().unwrap().to_owned();
    let id = body["data"]["apiKey"]["id"].as_str().unwrap().to_owned();
    let by_header = |client: &Client| {
        client
            .request(reqwest::Method::GET, "/api/v1/users/profile")
            .header("x-api-key", &key)
            .send()
    };
    assert_eq!(b.get("/api/v1/users/profile", Some(&key)).await.0, 200);
    assert_eq!(by_header(&b).await.unwrap().status(), 200);

    let pool = db(&url).await;
    let secret = &key[key.len() - 43..];
    let (holding, tables) = tables_containing(&pool, secret).await;
    assert!(tables.iter().any(|t| t == "api_keys"), "{tables:?}");
    assert!(
        holding.is_empty(),
        "tables holding the key's secret: {holding:?}"
    );
    let digest = usermgmt_core::secret::TokenDigest::of(&key);
    assert_eq!(
        count_where(&pool, "api_keys", "key_digest", digest.as_str()).await,
        1
    );

    let (s, body) = a
        .delete(&format!("/api/v1/api-keys/{id}"), Some(&access), None)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_error(
        &b.get("/api/v1/users/profile", Some(&key)).await,
        401,
        "INVALID_TOKEN",
        "deleted on A, presented on B",
    );
    assert_eq!(by_header(&b).await.unwrap().status(), 401);
}
