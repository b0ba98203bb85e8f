//! `usermgmt-load`: a small, bounded HTTP load generator for the standalone server.
//!
//! It registers a few users, logs each in once, then for `--duration-secs` (or until
//! `--max-requests`) runs `--concurrency` workers over a fixed mix of `GET /health` (the
//! baseline), `GET /api/v1/users/profile` (bearer token), `POST /api/v1/auth/refresh` and
//! `POST /api/v1/auth/login`, and prints per endpoint: requests, successes, 429s, errors,
//! p50/p95/p99 latency, req/s and the p50 as a ratio to `/health`'s p50.
//!
//! Only loopback servers are accepted (127.0.0.0/8, `::1`, `localhost`): this is a
//! benchmarking tool for a server you started yourself, not a way to load anyone else's.
//!
//! Start the server with a global limit out of reach, or most answers will be 429:
//! `RATE_LIMIT_MAX=1000000 cargo run --release -p usermgmt-server`. Login (10 a minute) and
//! register (20 an hour) keep their own fixed limits per client address; the tool keeps logins
//! under `--logins-per-minute` and reports 429s apart from errors. See `benches/README.md`.

use clap::Parser;
use reqwest::{Client, Method, StatusCode, Url};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The server's fixed login limit per client address (`RateLimitConfig::default().login`).
const SERVER_LOGIN_LIMIT_PER_MINUTE: u32 = 10;
/// The server's fixed register limit per client address (`RateLimitConfig::default().register`).
const SERVER_REGISTER_LIMIT_PER_HOUR: usize = 20;
/// A global limit below this is reported as distorting the results.
const LOW_GLOBAL_LIMIT: u64 = 100_000;
const PASSWORD: &str = "Load-Test-Passw0rd!";

/// Bounded HTTP load against a usermgmt server on this machine.
#[derive(Debug, Parser)]
#[command(name = "usermgmt-load", version, about)]
struct Args {
    /// Base URL of the server; loopback only (127.0.0.0/8, ::1, localhost).
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// Length of the mixed phase in seconds (1 to 600).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Requests in flight at once (1 to 256).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop the mixed phase after this many requests (default: only the duration bounds it).
    #[arg(long)]
    max_requests: Option<u64>,
    /// Users registered up front (1 to 20): each costs an Argon2 hash on the server, and the
    /// server allows 20 registrations an hour per client address.
    #[arg(long, default_value_t = 3)]
    users: usize,
    /// Logins sent per rolling minute, the setup's included (the server allows 10).
    #[arg(long, default_value_t = 8)]
    logins_per_minute: u32,
    /// Timeout of each request in seconds.
    #[arg(long, default_value_t = 10)]
    timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Health,
    Profile,
    Refresh,
    Login,
}

impl Op {
    const ALL: [Op; 4] = [Op::Health, Op::Profile, Op::Refresh, Op::Login];

    fn label(self) -> &'static str {
        match self {
            Op::Health => "GET /health",
            Op::Profile => "GET /api/v1/users/profile",
            Op::Refresh => "POST /api/v1/auth/refresh",
            Op::Login => "POST /api/v1/auth/login",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The mix, cycled by every worker from its own offset: 3 health, 4 profile, 2 refresh,
/// 1 login in 10 (a login slot whose budget is spent becomes a profile request).
const SCHEDULE: [Op; 10] = [
    Op::Health,
    Op::Profile,
    Op::Refresh,
    Op::Profile,
    Op::Health,
    Op::Profile,
    Op::Login,
    Op::Health,
    Op::Profile,
    Op::Refresh,
];

/// What one endpoint saw.
#[derive(Debug, Default, Clone)]
struct Stats {
    /// Latencies of 2xx answers, in microseconds.
    ok_micros: Vec<u64>,
    limited: u64,
    errors: u64,
    first_error: Option<String>,
}

impl Stats {
    fn merge(&mut self, other: Stats) {
        self.ok_micros.extend(other.ok_micros);
        self.limited += other.limited;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what);
        }
    }

    fn total(&self) -> u64 {
        self.ok_micros.len() as u64 + self.limited + self.errors
    }
}

/// A logged-in user: refreshes of one session are serialised (presenting a rotated refresh
/// token outside the grace window would revoke the session, by design).
struct Session {
    username: String,
    access: RwLock<String>,
    refresh: tokio::sync::Mutex<String>,
}

/// Logins allowed in any rolling 60 s.
struct LoginBudget {
    per_minute: u32,
    sent: Mutex<VecDeque<Instant>>,
}

impl LoginBudget {
    fn try_take(&self) -> bool {
        let now = Instant::now();
        let Ok(mut sent) = self.sent.lock() else {
            return false;
        };
        while sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60))
        {
            sent.pop_front();
        }
        if sent.len() < self.per_minute as usize {
            sent.push_back(now);
            true
        } else {
            false
        }
    }
}

struct Shared {
    client: Client,
    base: Url,
    sessions: Vec<Session>,
    budget: LoginBudget,
    issued: AtomicU64,
    max_requests: u64,
    deadline: Instant,
}

/// One answer: status, headers of interest and body.
struct Answer {
    status: StatusCode,
    limit_header: Option<u64>,
    retry_after: Option<u64>,
    body: Vec<u8>,
    elapsed: Duration,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(200).collect();
        format!("{} {body}", self.status)
    }
}

async fn send(
    client: &Client,
    base: &Url,
    method: Method,
    path: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Result<Answer, String> {
    let url = base
        .join(path)
        .map_err(|e| format!("bad path {path}: {e}"))?;
    let mut request = client
        .request(method, url)
        .header("user-agent", "usermgmt-load/0.1");
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let started = Instant::now();
    let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
    let status = response.status();
    let header_u64 = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let limit_header = header_u64("x-ratelimit-limit");
    let retry_after = header_u64("retry-after");
    let body = response
        .bytes()
        .await
        .map_err(|e| format!("{path}: reading the body: {e}"))?
        .to_vec();
    Ok(Answer {
        status,
        limit_header,
        retry_after,
        body,
        elapsed: started.elapsed(),
    })
}

/// `(access, refresh)` from a login's (`data.tokens`) or a refresh's (`data`) answer.
fn token_pair(answer: &Answer) -> Option<(String, String)> {
    let body = answer.json()?;
    let data = body.get("data")?;
    let tokens = data.get("tokens").unwrap_or(data);
    Some((
        tokens.get("accessToken")?.as_str()?.to_owned(),
        tokens.get("refreshToken")?.as_str()?.to_owned(),
    ))
}

/// Refuses anything that is not plain HTTP to this machine.
async fn loopback_base(raw: &str) -> Result<Url, String> {
    let mut url = Url::parse(raw).map_err(|e| format!("--url {raw:?} is not a URL: {e}"))?;
    if url.scheme() != "http" {
        return Err(format!(
            "--url must be plain http:// to a local server, got {:?}",
            url.scheme()
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("--url {raw:?} has no host"))?
        .to_owned();
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => {}
        Ok(ip) => {
            return Err(format!(
                "refusing {ip}: only loopback targets are allowed (127.0.0.0/8, ::1, localhost)"
            ));
        }
        Err(_) if host.eq_ignore_ascii_case("localhost") => {
            // `localhost` must really resolve to loopback here, every address of it.
            let port = url.port_or_known_default().unwrap_or(80);
            let addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| format!("cannot resolve localhost: {e}"))?
                .collect();
            if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
                return Err(format!(
                    "refusing localhost: it resolves to {addrs:?}, not only to loopback"
                ));
            }
        }
        Err(_) => {
            return Err(format!(
                "refusing host {host:?}: only loopback targets are allowed (127.0.0.0/8, ::1, localhost)"
            ));
        }
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

fn check_args(args: &Args) -> Result<(), String> {
    if !(1..=600).contains(&args.duration_secs) {
        return Err("--duration-secs must be between 1 and 600".into());
    }
    if !(1..=256).contains(&args.concurrency) {
        return Err("--concurrency must be between 1 and 256".into());
    }
    if args.max_requests == Some(0) {
        return Err("--max-requests must be at least 1".into());
    }
    if !(1..=SERVER_REGISTER_LIMIT_PER_HOUR).contains(&args.users) {
        return Err(format!(
            "--users must be between 1 and {SERVER_REGISTER_LIMIT_PER_HOUR} (the server's register limit per hour)"
        ));
    }
    if (args.logins_per_minute as usize) < args.users {
        return Err(
            "--logins-per-minute must be at least --users (each user logs in once up front)".into(),
        );
    }
    if args.logins_per_minute > SERVER_LOGIN_LIMIT_PER_MINUTE {
        println!(
            "note: --logins-per-minute {} is above the server's {SERVER_LOGIN_LIMIT_PER_MINUTE}; expect 429s on login",
            args.logins_per_minute
        );
    }
    if !(1..=120).contains(&args.timeout_secs) {
        return Err("--timeout-secs must be between 1 and 120".into());
    }
    Ok(())
}

fn run_id() -> String {
    #[allow(clippy::disallowed_methods)] // a run id, not a time the library reads
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}", nanos % (1 << 40))
}

/// Registers and logs in the users; returns the sessions obtained.
async fn setup(
    client: &Client,
    base: &Url,
    users: usize,
    budget: &LoginBudget,
) -> Result<Vec<Session>, String> {
    let health = send(client, base, Method::GET, "health", None, None).await?;
    if !health.status.is_success() {
        return Err(format!("GET /health answered {}", health.describe()));
    }
    let run = run_id();
    let mut registered = Vec::new();
    let started = Instant::now();
    for i in 0..users {
        let username = format!("load_{run}_{i}");
        let body = json!({
            "email": format!("{username}@example.com"),
            "username": username,
            "password": PASSWORD,
        });
        let answer = send(
            client,
            base,
            Method::POST,
            "api/v1/auth/register",
            None,
            Some(&body),
        )
        .await?;
        match answer.status {
            StatusCode::CREATED | StatusCode::OK => registered.push(username),
            StatusCode::TOO_MANY_REQUESTS => {
                println!(
                    "setup: register answered 429 after {} users (the server allows {SERVER_REGISTER_LIMIT_PER_HOUR} an hour per address; retry in {} s); going on with {}",
                    registered.len(),
                    answer.retry_after.unwrap_or(0),
                    registered.len()
                );
                break;
            }
            _ => return Err(format!("register answered {}", answer.describe())),
        }
    }
    println!(
        "setup: registered {} users in {:.2} s (Argon2 hash on the server each)",
        registered.len(),
        started.elapsed().as_secs_f64()
    );
    let mut sessions = Vec::new();
    for username in registered {
        let body = json!({"identifier": username, "password": PASSWORD});
        let mut answer = None;
        for attempt in 0..2 {
            if !budget.try_take() {
                println!("setup: login budget spent; {username} gets no session");
                break;
            }
            let a = send(
                client,
                base,
                Method::POST,
                "api/v1/auth/login",
                None,
                Some(&body),
            )
            .await?;
            if a.status == StatusCode::TOO_MANY_REQUESTS && attempt == 0 {
                let wait = a.retry_after.unwrap_or(60).min(65);
                println!(
                    "setup: login answered 429 (an earlier run used this minute's logins); waiting {wait} s"
                );
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
            answer = Some(a);
            break;
        }
        let Some(answer) = answer else { continue };
        match token_pair(&answer) {
            Some((access, refresh)) if answer.status.is_success() => sessions.push(Session {
                username,
                access: RwLock::new(access),
                refresh: tokio::sync::Mutex::new(refresh),
            }),
            _ => println!("setup: login of {username} answered {}", answer.describe()),
        }
    }
    if sessions.is_empty() {
        return Err("no session could be opened; see the messages above".into());
    }
    Ok(sessions)
}

/// Sends one request of the mix and records its outcome.
async fn one(shared: &Shared, op: Op, session: &Session, stats: &mut [Stats; 4]) {
    let (op, answer) = match op {
        Op::Health => (
            op,
            send(
                &shared.client,
                &shared.base,
                Method::GET,
                "health",
                None,
                None,
            )
            .await,
        ),
        Op::Profile => {
            let access = session.access.read().map(|a| a.clone()).unwrap_or_default();
            (
                op,
                send(
                    &shared.client,
                    &shared.base,
                    Method::GET,
                    "api/v1/users/profile",
                    Some(&access),
                    None,
                )
                .await,
            )
        }
        Op::Refresh => {
            let mut refresh = session.refresh.lock().await;
            let body = json!({"refreshToken": *refresh});
            let answer = send(
                &shared.client,
                &shared.base,
                Method::POST,
                "api/v1/auth/refresh",
                None,
                Some(&body),
            )
            .await;
            if let Ok(a) = &answer
                && a.status.is_success()
                && let Some((access, next)) = token_pair(a)
            {
                *refresh = next;
                if let Ok(mut current) = session.access.write() {
                    *current = access;
                }
            }
            (op, answer)
        }
        Op::Login => {
            let body = json!({"identifier": session.username, "password": PASSWORD});
            (
                op,
                send(
                    &shared.client,
                    &shared.base,
                    Method::POST,
                    "api/v1/auth/login",
                    None,
                    Some(&body),
                )
                .await,
            )
        }
    };
    let stats = &mut stats[op.index()];
    match answer {
        Ok(a) if a.status.is_success() => {
            stats
                .ok_micros
                .push(u64::try_from(a.elapsed.as_micros()).unwrap_or(u64::MAX));
        }
        Ok(a) if a.status == StatusCode::TOO_MANY_REQUESTS => stats.limited += 1,
        Ok(a) => stats.error(a.describe()),
        Err(e) => stats.error(e),
    }
}

async fn worker(shared: Arc<Shared>, index: usize) -> ([Stats; 4], u64) {
    let mut stats: [Stats; 4] = Default::default();
    let mut skipped_logins = 0;
    let mut slot = index;
    loop {
        if Instant::now() >= shared.deadline
            || shared.issued.fetch_add(1, Ordering::Relaxed) >= shared.max_requests
        {
            break;
        }
        let mut op = SCHEDULE[slot % SCHEDULE.len()];
        if op == Op::Login && !shared.budget.try_take() {
            skipped_logins += 1;
            op = Op::Profile;
        }
        let session = &shared.sessions[(slot / SCHEDULE.len() + index) % shared.sessions.len()];
        slot += 1;
        one(&shared, op, session, &mut stats).await;
    }
    (stats, skipped_logins)
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank.
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted
        .get(rank.min(sorted.len()) - 1)
        .map(|&us| us as f64 / 1000.0)
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"))
}

fn report(stats: &mut [Stats; 4], elapsed: Duration, skipped_logins: u64) -> String {
    for s in stats.iter_mut() {
        s.ok_micros.sort_unstable();
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    let health_p50 = percentile(&stats[Op::Health.index()].ok_micros, 0.50);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| endpoint | requests | ok | 429 | errors | p50 ms | p95 ms | p99 ms | req/s | p50 / health p50 |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut total = 0;
    for op in Op::ALL {
        let s = &stats[op.index()];
        total += s.total();
        let p50 = percentile(&s.ok_micros, 0.50);
        let ratio = match (p50, health_p50) {
            (Some(p), Some(h)) if h > 0.0 => format!("{:.1}×", p / h),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} |",
            op.label(),
            s.total(),
            s.ok_micros.len(),
            s.limited,
            s.errors,
            ms(p50),
            ms(percentile(&s.ok_micros, 0.95)),
            ms(percentile(&s.ok_micros, 0.99)),
            s.total() as f64 / secs,
            ratio
        );
    }
    let _ = writeln!(
        out,
        "\n{total} requests in {secs:.2} s = {:.1} req/s overall; latencies are of 2xx answers only.",
        total as f64 / secs
    );
    if skipped_logins > 0 {
        let _ = writeln!(
            out,
            "Login was budget-limited: {skipped_logins} login slots became profile requests (--logins-per-minute; the server allows {SERVER_LOGIN_LIMIT_PER_MINUTE} a minute per address)."
        );
    }
    for op in Op::ALL {
        let s = &stats[op.index()];
        if s.limited > 0 {
            let _ = writeln!(
                out,
                "{}: {} answers were 429 (rate limited), not counted as errors.",
                op.label(),
                s.limited
            );
        }
        if let Some(e) = &s.first_error {
            let _ = writeln!(out, "{}: first error: {e}", op.label());
        }
    }
    out
}

async fn run(args: Args) -> Result<(), String> {
    check_args(&args)?;
    let base = loopback_base(&args.url).await?;
    let client = Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(args.timeout_secs))
        .pool_max_idle_per_host(args.concurrency)
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let budget = LoginBudget {
        per_minute: args.logins_per_minute,
        sent: Mutex::new(VecDeque::new()),
    };
    println!(
        "usermgmt-load → {base} ({} s, concurrency {}, max requests {}, {} users, {} logins/min)",
        args.duration_secs,
        args.concurrency,
        args.max_requests
            .map_or_else(|| "unbounded".to_owned(), |n| n.to_string()),
        args.users,
        args.logins_per_minute
    );
    let sessions = setup(&client, &base, args.users, &budget).await?;

    // The global limit the server announces on a counted route.
    let probe = send(
        &client,
        &base,
        Method::GET,
        "api/v1/users/profile",
        sessions[0]
            .access
            .read()
            .ok()
            .as_deref()
            .map(String::as_str),
        None,
    )
    .await?;
    match probe.limit_header {
        Some(limit) if limit < LOW_GLOBAL_LIMIT => println!(
            "WARNING: the server's global rate limit is {limit} per window: results will be mostly 429. Restart it with RATE_LIMIT_MAX=1000000."
        ),
        Some(limit) => println!("server global rate limit: {limit} per window"),
        None => println!("server sent no x-ratelimit-limit header (limits off?)"),
    }

    let started = Instant::now();
    let shared = Arc::new(Shared {
        client,
        base,
        sessions,
        budget,
        issued: AtomicU64::new(0),
        max_requests: args.max_requests.unwrap_or(u64::MAX),
        deadline: started + Duration::from_secs(args.duration_secs),
    });
    let workers: Vec<_> = (0..args.concurrency)
        .map(|i| tokio::spawn(worker(shared.clone(), i)))
        .collect();
    let mut stats: [Stats; 4] = Default::default();
    let mut skipped_logins = 0;
    for handle in workers {
        let (worker_stats, skipped) = handle.await.map_err(|e| format!("worker failed: {e}"))?;
        for (total, part) in stats.iter_mut().zip(worker_stats) {
            total.merge(part);
        }
        skipped_logins += skipped;
    }
    let elapsed = started.elapsed();
    print!("{}", report(&mut stats, elapsed, skipped_logins));
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usermgmt-load: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_loopback_targets_are_accepted() {
        for ok in [
            "http://127.0.0.1:3000",
            "http://127.1.2.3:8080/",
            "http://[::1]:3000",
        ] {
            assert!(loopback_base(ok).await.is_ok(), "{ok}");
        }
        for refused in [
            "http://10.0.0.1:3000",
            "http://example.com",
            "http://[::2]:3000",
            "https://127.0.0.1",
            "http://0.0.0.0:3000",
            "http://localhost.example.com",
        ] {
            assert!(loopback_base(refused).await.is_err(), "{refused}");
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.50), Some(50.0));
        assert_eq!(percentile(&v, 0.99), Some(99.0));
        assert_eq!(percentile(&[7000], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
