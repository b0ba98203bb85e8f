//! `usermgmt-loadkit`: the helpers of the HTTP load script (`benches/load/run.sh`).
//!
//! - `argon2`: times one Argon2 verify at the server's default parameters
//!   (`HashingConfig::default()`, through the same `PasswordHasher` the server uses), one at a
//!   time, then `cores` at a time; prints `key value` lines for the results file.
//! - `prep`: against a running server, registers users, verifies their addresses with the links
//!   of the verification mails the server wrote to its log, logs every (user, client address)
//!   pair in once (so no login of the measurement is a "new device" login) and writes the files
//!   the wrk scripts read: login pairs, refresh tokens, access tokens and user ids.
//! - `peer-prep`: against a running better-auth peer (`benches/load/peers/better-auth`), signs
//!   users up and signs them in, and writes the files the wrk scripts read for it: e-mail
//!   addresses and session cookies.
//! - `report`: turns the `key value` results file of a run into Markdown: the figures, their
//!   ratios to the same-run baselines, the targets and a chart.
//!
//! Only loopback servers are accepted (127.0.0.0/8).

use clap::{Parser, Subcommand};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use usermgmt_core::auth::hashing::{PasswordHasher, Verification};
use usermgmt_core::config::HashingConfig;
use usermgmt_core::mail::token_from_link;
use usermgmt_core::secret::Password;

/// The password of every user `prep` registers; `benches/load/bench.lua` logs in with it.
const PASSWORD: &str = "Bench-Load-Passw0rd!";
/// The `User-Agent` of `prep` and of every wrk request, so a warmed-up (address, agent) pair is
/// a known device at the measured logins.
const USER_AGENT: &str = "usermgmt-wrk/1";

/// Helpers of the HTTP load script `benches/load/run.sh`.
#[derive(Debug, Parser)]
#[command(name = "usermgmt-loadkit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Time one Argon2 verify at the default parameters (alone, then `cores` at once).
    Argon2 {
        /// Seconds of each of the two measurements.
        #[arg(long, default_value_t = 2.0)]
        secs: f64,
    },
    /// Register and verify users, warm up their logins and write the wrk input files.
    Prep(PrepArgs),
    /// Sign users up on the better-auth peer, open sessions and write the wrk input files.
    PeerPrep(PeerPrepArgs),
    /// Print the Markdown report of a results file.
    Report {
        /// The `key value` file `run.sh` wrote.
        results: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct PeerPrepArgs {
    /// Base URL of the better-auth peer (loopback only).
    #[arg(long)]
    url: String,
    /// Directory to write `emails.txt` and `session_cookies.txt` into.
    #[arg(long)]
    out: PathBuf,
    /// Users to sign up.
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Sessions opened (signed in, round robin over the users) for the get-session requests.
    #[arg(long, default_value_t = 32)]
    sessions: usize,
}

#[derive(Debug, clap::Args)]
struct PrepArgs {
    /// Base URL of the server (loopback only).
    #[arg(long)]
    url: String,
    /// The server's log file, where its verification mails are written.
    #[arg(long)]
    log: PathBuf,
    /// Directory to write `login_pairs.tsv`, `refresh_tokens.txt`, `access_tokens.txt` and
    /// `user_ids.txt` into.
    #[arg(long)]
    out: PathBuf,
    /// Username prefix (letters, digits, `_`), unique per run.
    #[arg(long)]
    prefix: String,
    /// Users to register.
    #[arg(long, default_value_t = 16)]
    users: usize,
    /// Client addresses per user: the logins are spread over users × addresses pairs, each
    /// pair its own client (`X-Forwarded-For`, the server trusting 127.0.0.1 as a proxy), so
    /// the server's fixed login limit per client (10 a minute) is never reached.
    #[arg(long, default_value_t = 32)]
    ips_per_user: usize,
    /// Sessions opened for the refresh chains, and as many again for the profile requests.
    #[arg(long, default_value_t = 32)]
    sessions: usize,
    /// Logins in flight at once during the setup.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Argon2 { secs } => argon2(secs),
        Command::Prep(args) => block_on(prep(args)),
        Command::PeerPrep(args) => block_on(peer_prep(args)),
        Command::Report { results } => report(&results).map(|text| print!("{text}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usermgmt-loadkit: {e}");
            ExitCode::FAILURE
        }
    }
}

fn block_on(task: impl std::future::Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?
        .block_on(task)
}

// ---------------------------------------------------------------------------------------------
// argon2

fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn argon2(secs: f64) -> Result<(), String> {
    let secs = Duration::from_secs_f64(secs.clamp(0.5, 30.0));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio: {e}"))?;
    let config = HashingConfig::default();
    let cores = cores();
    let hasher = PasswordHasher::new(&config).map_err(|e| format!("hasher: {e}"))?;
    let password = Password::new(PASSWORD);
    let hash = rt
        .block_on(hasher.hash(&password))
        .map_err(|e| format!("hash: {e}"))?;
    let verify = |hasher: PasswordHasher, hash: String, password: Password| async move {
        match hasher.verify(&hash, &password).await {
            Ok(Verification::Match { .. }) => Ok(()),
            Ok(Verification::Mismatch) => Err("the fresh hash did not verify".to_owned()),
            Err(e) => Err(format!("verify: {e}")),
        }
    };
    // One warm-up verify, then one at a time: what one login spends on its password.
    rt.block_on(verify(hasher.clone(), hash.clone(), password.clone()))?;
    let mut times = Vec::new();
    let started = Instant::now();
    while started.elapsed() < secs || times.len() < 5 {
        let t = Instant::now();
        rt.block_on(verify(hasher.clone(), hash.clone(), password.clone()))?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    // `cores` at a time, as the server's pool allows: what this machine verifies right now.
    let parallel = rt.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..cores)
            .map(|_| {
                let (hasher, hash, password) = (hasher.clone(), hash.clone(), password.clone());
                tokio::spawn(async move {
                    let mut done = 0_u64;
                    while started.elapsed() < secs {
                        verify(hasher.clone(), hash.clone(), password.clone()).await?;
                        done += 1;
                    }
                    Ok::<u64, String>(done)
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.map_err(|e| format!("task: {e}"))??;
        }
        Ok::<f64, String>(total as f64 / started.elapsed().as_secs_f64())
    })?;
    println!(
        "params m={}KiB,t={},p={}",
        config.memory_kib, config.iterations, config.parallelism
    );
    println!("cores {cores}");
    println!("samples {}", times.len());
    println!("verify_ms {median:.3}");
    println!("verify_mean_ms {mean:.3}");
    println!("capacity_per_s {:.1}", cores as f64 * 1000.0 / median);
    println!("parallel_per_s {parallel:.1}");
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// prep

/// `http://127.x.y.z:port`, nothing else.
fn loopback_base(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw).map_err(|e| format!("--url {raw:?}: {e}"))?;
    let host_is_loopback = url
        .host_str()
        .and_then(|h| h.parse::<IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if url.scheme() != "http" || !host_is_loopback {
        return Err(format!(
            "refusing {raw:?}: only http:// to a loopback address (127.0.0.0/8, [::1])"
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// The client address of login pair `n`: 198.18.0.0/15, the range set aside for benchmarks
/// (RFC 2544).
fn pair_ip(n: usize) -> Ipv4Addr {
    let n = u32::try_from(n).unwrap_or(u32::MAX) & 0x1_ffff;
    Ipv4Addr::from(0xC612_0000_u32 | n)
}

/// The client address of registration `n`, apart from the login pairs (198.19.255.x).
fn register_ip(n: usize) -> Ipv4Addr {
    pair_ip(0x1_ff00 + (n & 0xff))
}

struct Http {
    client: Client,
    base: String,
}

impl Http {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        ip: Ipv4Addr,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Value), String> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("user-agent", USER_AGENT)
            .header("x-forwarded-for", ip.to_string());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// Logs `username` in from `ip`: (user id, access token, refresh token).
    async fn login(
        &self,
        username: &str,
        ip: Ipv4Addr,
    ) -> Result<(String, String, String), String> {
        let body = json!({"identifier": username, "password": PASSWORD});
        let (status, answer) = self
            .call(reqwest::Method::POST, "/api/v1/auth/login", ip, Some(&body))
            .await?;
        let field = |pointer: &str| answer.pointer(pointer).and_then(Value::as_str);
        match (
            status.is_success(),
            field("/data/user/id"),
            field("/data/tokens/accessToken"),
            field("/data/tokens/refreshToken"),
        ) {
            (true, Some(id), Some(access), Some(refresh)) => {
                Ok((id.to_owned(), access.to_owned(), refresh.to_owned()))
            }
            _ => Err(format!("login of {username} from {ip}: {status} {answer}")),
        }
    }
}

/// Every verification token in the log, in order.
fn verification_tokens(log: &str) -> Vec<String> {
    const LINK: &str = "/api/v1/auth/verify-email?token=";
    log.match_indices(LINK)
        .filter_map(|(at, _)| token_from_link(&log[at..]))
        .filter(|token| !token.is_empty())
        .collect()
}

async fn prep(args: PrepArgs) -> Result<(), String> {
    let base = loopback_base(&args.url)?;
    if args.prefix.is_empty()
        || args.prefix.len() > 20
        || !args
            .prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err("--prefix must be 1-20 letters, digits or _".into());
    }
    if !(1..=999).contains(&args.users)
        || !(1..=1000).contains(&args.ips_per_user)
        || args.users * args.ips_per_user > 0x1_ff00
    {
        return Err("--users 1-999, --ips-per-user 1-1000, pairs below 130816".into());
    }
    let http = Arc::new(Http {
        client: Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?,
        base,
    });
    let started = Instant::now();

    // Register.
    let usernames: Vec<String> = (0..args.users)
        .map(|i| format!("{}_{i}", args.prefix))
        .collect();
    for (i, username) in usernames.iter().enumerate() {
        let body = json!({
            "email": format!("{username}@example.com"),
            "username": username,
            "password": PASSWORD,
        });
        let (status, answer) = http
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/register",
                register_ip(i),
                Some(&body),
            )
            .await?;
        if status != StatusCode::CREATED {
            return Err(format!("register {username}: {status} {answer}"));
        }
    }
    let registered = started.elapsed();

    // Verify, with the links of the mails the server wrote to its log.
    let wanted: HashSet<&str> = usernames.iter().map(String::as_str).collect();
    let mut verified: HashSet<String> = HashSet::new();
    let mut tried: HashSet<String> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while verified.len() < wanted.len() {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {} verification mails reached {} in 30 s (is LOG_LEVEL letting usermgmt::mail=info through?)",
                verified.len(),
                wanted.len(),
                args.log.display()
            ));
        }
        let log = std::fs::read_to_string(&args.log)
            .map_err(|e| format!("cannot read {}: {e}", args.log.display()))?;
        for token in verification_tokens(&log) {
            if !tried.insert(token.clone()) {
                continue;
            }
            let (status, answer) = http
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/auth/verify-email?token={token}"),
                    register_ip(0),
                    None,
                )
                .await?;
            let username = answer
                .pointer("/data/user/username")
                .and_then(Value::as_str);
            let email_verified = answer.pointer("/data/user/emailVerified") == Some(&json!(true));
            match username {
                Some(name) if status.is_success() && email_verified && wanted.contains(name) => {
                    verified.insert(name.to_owned());
                }
                _ => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let verified_at = started.elapsed();

    // One login per (user, address) pair: afterwards each pair is a known device.
    let pairs: Vec<(String, Ipv4Addr)> = (0..args.users * args.ips_per_user)
        .map(|n| (usernames[n % args.users].clone(), pair_ip(n)))
        .collect();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(args.concurrency.max(1)));
    let mut tasks = Vec::new();
    for (username, ip) in pairs.iter().cloned() {
        let (http, semaphore) = (http.clone(), semaphore.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            http.login(&username, ip).await
        }));
    }
    let mut user_ids = BTreeMap::new();
    for (task, (username, _)) in tasks.into_iter().zip(&pairs) {
        let (id, _, _) = task.await.map_err(|e| format!("task: {e}"))??;
        user_ids.insert(username.clone(), id);
    }
    let warmed = started.elapsed();

    // Sessions of their own for the refresh chains and for the profile requests.
    let mut refresh_tokens = Vec::new();
    let mut access_tokens = Vec::new();
    for n in 0..args.sessions * 2 {
        let (username, ip) = &pairs[n % pairs.len()];
        let (_, access, refresh) = http.login(username, *ip).await?;
        if n % 2 == 0 {
            refresh_tokens.push(refresh);
        } else {
            access_tokens.push(access);
        }
    }

    // The new-device mails of the warm-up go to the log through the outbox worker: let it
    // finish before anything is measured (the log stops growing for a second, 15 s at most).
    let quiet_deadline = Instant::now() + Duration::from_secs(15);
    let mut last_len = None;
    while Instant::now() < quiet_deadline {
        let len = std::fs::metadata(&args.log).map(|m| m.len()).ok();
        if len.is_some() && len == last_len {
            break;
        }
        last_len = len;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let write = |name: &str, lines: Vec<String>| {
        let path = args.out.join(name);
        std::fs::write(&path, lines.join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    write(
        "login_pairs.tsv",
        pairs.iter().map(|(u, ip)| format!("{u}\t{ip}")).collect(),
    )?;
    write("refresh_tokens.txt", refresh_tokens)?;
    write("access_tokens.txt", access_tokens)?;
    write("user_ids.txt", user_ids.into_values().collect())?;
    eprintln!(
        "prep: {} users registered in {:.1} s, verified from the log by {:.1} s, {} (user, address) pairs logged in by {:.1} s, {} + {} sessions by {:.1} s",
        args.users,
        registered.as_secs_f64(),
        verified_at.as_secs_f64(),
        pairs.len(),
        warmed.as_secs_f64(),
        args.sessions,
        args.sessions,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The `name=value` of the session cookie in a better-auth answer's `Set-Cookie` headers.
fn session_cookie(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|pair| {
            pair.split_once('=').is_some_and(|(name, value)| {
                name.trim().ends_with("session_token") && !value.is_empty()
            })
        })
        .map(|pair| pair.trim().to_owned())
}

async fn peer_prep(args: PeerPrepArgs) -> Result<(), String> {
    let base = loopback_base(&args.url)?;
    if !(1..=999).contains(&args.users) || !(1..=10_000).contains(&args.sessions) {
        return Err("--users 1-999, --sessions 1-10000".into());
    }
    let client = Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| format!("HTTP client: {e}"))?;
    let post = |path: &str, body: Value| {
        client
            .post(format!("{base}{path}"))
            .header("user-agent", USER_AGENT)
            .json(&body)
            .send()
    };
    let started = Instant::now();
    let emails: Vec<String> = (0..args.users)
        .map(|i| format!("ba_{i}@example.com"))
        .collect();
    for (i, email) in emails.iter().enumerate() {
        let body = json!({"email": email, "password": PASSWORD, "name": format!("ba {i}")});
        let answer = post("/api/auth/sign-up/email", body)
            .await
            .map_err(|e| format!("sign-up {email}: {e}"))?;
        if !answer.status().is_success() {
            let status = answer.status();
            return Err(format!(
                "sign-up {email}: {status} {}",
                answer.text().await.unwrap_or_default()
            ));
        }
    }
    let signed_up = started.elapsed();
    let mut cookies = Vec::new();
    for n in 0..args.sessions {
        let email = &emails[n % emails.len()];
        let answer = post(
            "/api/auth/sign-in/email",
            json!({"email": email, "password": PASSWORD}),
        )
        .await
        .map_err(|e| format!("sign-in {email}: {e}"))?;
        let status = answer.status();
        let cookie = session_cookie(answer.headers());
        match cookie {
            Some(cookie) if status.is_success() => cookies.push(cookie),
            _ => return Err(format!("sign-in {email}: {status}, no session cookie")),
        }
    }
    // Every cookie must be a session the peer knows: it answers 200 `null` otherwise, and the
    // wrk script counts those as failures.
    for cookie in &cookies {
        let answer: Value = client
            .get(format!("{base}/api/auth/get-session"))
            .header("user-agent", USER_AGENT)
            .header("cookie", cookie)
            .send()
            .await
            .map_err(|e| format!("get-session: {e}"))?
            .json()
            .await
            .map_err(|e| format!("get-session: {e}"))?;
        if answer.pointer("/session/id").is_none() {
            return Err(format!("get-session did not find a session: {answer}"));
        }
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    for (name, lines) in [("emails.txt", &emails), ("session_cookies.txt", &cookies)] {
        let path = args.out.join(name);
        std::fs::write(&path, lines.join("\n") + "\n")
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    eprintln!(
        "peer-prep: {} users signed up in {:.1} s, {} sessions by {:.1} s",
        args.users,
        signed_up.as_secs_f64(),
        cookies.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// report

/// The `key value` lines of a results file.
struct Results(BTreeMap<String, String>);

impl Results {
    fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Ok(Self::parse(&text))
    }

    fn parse(text: &str) -> Self {
        let mut map = BTreeMap::new();
        for line in text.lines() {
            if let Some((key, value)) = line.trim().split_once(char::is_whitespace) {
                map.insert(key.to_owned(), value.trim().to_owned());
            }
        }
        Self(map)
    }

    fn text(&self, key: &str) -> &str {
        self.0.get(key).map_or("?", String::as_str)
    }

    fn num(&self, key: &str) -> Option<f64> {
        self.0.get(key).and_then(|v| v.parse::<f64>().ok())
    }

    /// One Argon2 verify in ms: the mean of the medians measured before and after the login
    /// measurement (or the one there is).
    fn verify_ms(&self, key: &str) -> Option<f64> {
        mean(&[
            self.num(&format!("{key}.argon2.verify_ms")),
            self.num(&format!("{key}.argon2_after.verify_ms")),
        ])
    }

    /// Verifies a second with `cores` at once, measured (mean of before and after).
    fn parallel(&self, key: &str) -> Option<f64> {
        mean(&[
            self.num(&format!("{key}.argon2.parallel_per_s")),
            self.num(&format!("{key}.argon2_after.parallel_per_s")),
        ])
    }

    /// Logins a second the machine can hash at most: cores × 1000 ÷ one verify in ms.
    fn capacity(&self, key: &str) -> Option<f64> {
        let cores = self.num("meta.cores").unwrap_or(2.0);
        self.verify_ms(key)
            .filter(|ms| *ms > 0.0)
            .map(|ms| cores * 1000.0 / ms)
    }

    fn mib(&self, key: &str) -> Option<f64> {
        self.num(key).map(|kib| kib / 1024.0)
    }
}

const STORES: [(&str, &str); 3] = [
    ("sqlite", "SQLite"),
    ("postgres", "PostgreSQL"),
    ("mysql", "MySQL"),
];
const FRAMEWORKS: [(&str, &str); 2] = [("axum", "Axum"), ("actix", "Actix")];

/// Memory one Argon2 verify at the default cost holds, in MiB (m = 19 456 KiB).
const ARGON2_MIB: f64 = 19_456.0 / 1024.0;
/// Growth of the RSS under the login flood that still counts as bounded: one Argon2 buffer per
/// hashing permit (cores) plus two, and 32 MiB for connections, sessions and allocator slack.
/// Unbounded (a buffer per waiting login) would be 64 × 19 MiB = 1.2 GiB.
/// Server + database + wrk CPU time per request of a figure, in µs (None when not recorded).
fn cpu_total(r: &Results, key: &str) -> Option<f64> {
    let part = |who: &str| r.num(&format!("{key}.cpu_us.{who}"));
    Some(part("server")? + part("database")? + part("wrk")?)
}

fn rss_bound_mib(cores: f64) -> f64 {
    (cores + 2.0) * ARGON2_MIB + 32.0
}

fn mean(values: &[Option<f64>]) -> Option<f64> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
}

fn f(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.decimals$}"))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

fn pct(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{:.0} %", v * 100.0))
}

fn mark(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "✅",
        Some(false) => "❌",
        None => "–",
    }
}

/// The top of a chart's y axis: `floor`, or the largest value rounded up to a half.
fn axis_top(values: &[String], floor: f64) -> String {
    let top = values
        .iter()
        .filter_map(|v| v.parse::<f64>().ok())
        .fold(floor, f64::max);
    format!("{:.1}", (top * 2.0).ceil() / 2.0)
}

fn report(path: &Path) -> Result<String, String> {
    Ok(report_text(&Results::load(path)?))
}

/// The stores and frameworks the results hold.
fn present<'a>(r: &Results, list: &[(&'a str, &'a str)], part: usize) -> Vec<(&'a str, &'a str)> {
    list.iter()
        .copied()
        .filter(|(name, _)| r.0.keys().any(|k| k.split('.').nth(part) == Some(*name)))
        .collect()
}

fn report_text(r: &Results) -> String {
    let mut out = String::new();
    let cores = r.num("meta.cores").unwrap_or(2.0);
    let stores = present(r, &STORES, 0);
    let frameworks = present(r, &FRAMEWORKS, 1);
    let combos: Vec<_> = stores
        .iter()
        .flat_map(|s| frameworks.iter().map(move |f| (*s, *f)))
        .collect();
    let _ = writeln!(
        out,
        "Run of {} (commit {}), {} cores, {}; {} s per throughput figure, {} s of login flood. \
         Load average (1/5/15 min) {} at the start, {} at the end ({} rustc processes running at the start); \
         the whole run took {} s.\n",
        r.text("meta.date"),
        r.text("meta.commit"),
        r.text("meta.cores"),
        r.text("meta.wrk").replace('_', " "),
        r.text("meta.wrk_secs"),
        r.text("meta.flood_secs"),
        r.text("meta.loadavg_start"),
        r.text("meta.loadavg_end"),
        r.text("meta.builds_running"),
        r.text("meta.duration_s"),
    );

    // Targets.
    let _ = writeln!(out, "### Targets\n");
    let mut header = "| target |".to_owned();
    let mut rule = "|---|".to_owned();
    for ((_, store), (_, fw)) in &combos {
        let _ = write!(header, " {store} {fw} |");
        rule.push_str("---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    type Cell<'a> = Box<dyn Fn(&str) -> (Option<bool>, String) + 'a>;
    let rows: Vec<(String, Cell<'_>)> = vec![
        (
            format!(
                "logins/s ≥ 90 % of the Argon2 verifies a second {} cores do at once",
                r.text("meta.cores")
            ),
            Box::new(|key: &str| {
                let rps = r.num(&format!("{key}.login.ok_rps"));
                let parallel = r.parallel(key);
                let share = ratio(rps, parallel);
                (
                    share.map(|s| s >= 0.9),
                    format!(
                        "{} ({} of {}/s; {} of cores ÷ one verify, {}/s)",
                        pct(share),
                        f(rps, 1),
                        f(parallel, 1),
                        pct(ratio(rps, r.capacity(key))),
                        f(r.capacity(key), 1),
                    ),
                )
            }),
        ),
        (
            "refresh req/s ≥ 35 % of the bare single-SELECT route".to_owned(),
            Box::new(|key: &str| {
                let store = key.split('.').next().unwrap_or_default();
                let rps = r.num(&format!("{key}.refresh.ok_rps"));
                let select = r.num(&format!("{store}.baseline.select.ok_rps"));
                let share = ratio(rps, select);
                (
                    share.map(|s| s >= 0.35),
                    format!("{} ({} of {}/s)", pct(share), f(rps, 0), f(select, 0)),
                )
            }),
        ),
        (
            "profile req/s ≥ 70 % of the bare single-SELECT route".to_owned(),
            Box::new(|key: &str| {
                let store = key.split('.').next().unwrap_or_default();
                let rps = r.num(&format!("{key}.profile.ok_rps"));
                let select = r.num(&format!("{store}.baseline.select.ok_rps"));
                let share = ratio(rps, select);
                (
                    share.map(|s| s >= 0.7),
                    format!("{} ({} of {}/s)", pct(share), f(rps, 0), f(select, 0)),
                )
            }),
        ),
        (
            "login flood: `GET /health` p99 < 10 ms".to_owned(),
            Box::new(|key: &str| {
                let p99 = r.num(&format!("{key}.flood.health.p99_ms"));
                (p99.map(|v| v < 10.0), format!("{} ms", f(p99, 2)))
            }),
        ),
        (
            "login flood: profile p99 < 25 ms".to_owned(),
            Box::new(|key: &str| {
                let p99 = r.num(&format!("{key}.flood.profile.p99_ms"));
                (p99.map(|v| v < 25.0), format!("{} ms", f(p99, 2)))
            }),
        ),
        (
            format!(
                "login flood: RSS bounded (growth ≤ {:.0} MiB: (cores + 2) Argon2 buffers + 32 MiB)",
                rss_bound_mib(cores)
            ),
            Box::new(move |key: &str| {
                let start = r.mib(&format!("{key}.rss.idle_kib"));
                let before = r.mib(&format!("{key}.rss.before_kib"));
                let peak = r.mib(&format!("{key}.rss.peak_kib"));
                let after = r.mib(&format!("{key}.rss.after_kib"));
                let growth = match (before, peak) {
                    (Some(b), Some(p)) => Some(p - b),
                    _ => None,
                };
                (
                    growth.map(|g| g <= rss_bound_mib(cores)),
                    format!(
                        "{} → {} → {} → {} MiB",
                        f(start, 0),
                        f(before, 0),
                        f(peak, 0),
                        f(after, 0)
                    ),
                )
            }),
        ),
    ];
    let mut verdicts: Vec<(String, usize, usize)> = Vec::new();
    for (label, cell) in &rows {
        let mut line = format!("| {label} |");
        let (mut held, mut measured) = (0, 0);
        for ((store, _), (fw, _)) in &combos {
            let (ok, text) = cell(&format!("{store}.{fw}"));
            if let Some(ok) = ok {
                measured += 1;
                held += usize::from(ok);
            }
            let _ = write!(line, " {} {text} |", mark(ok));
        }
        let _ = writeln!(out, "{line}");
        verdicts.push((label.clone(), held, measured));
    }
    let _ = writeln!(
        out,
        "\nRSS: at start → before the flood (after the warm-up and the other measurements) → peak \
         during the flood (sampled every 0.2 s) → 3 s after it. Bounded is judged on the growth \
         during the flood.\n"
    );

    // Actix against Axum.
    if frameworks.len() == 2 {
        let _ = writeln!(out, "### Actix within 10 % of Axum\n");
        let _ = writeln!(
            out,
            "Throughputs hold when Actix ≥ 0.9 × Axum, latencies and memory when Actix ≤ 1.1 × Axum \
             (a p99 under 1 ms is compared with 0.1 ms of tolerance instead). Login is compared \
             as a share of the hashing capacity each server's own run measured.\n"
        );
        let _ = writeln!(
            out,
            "| store | figure | Axum | Actix | Actix ÷ Axum | within 10 % |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---|");
        // (label, key suffix, higher is better, normalise login by capacity)
        let figures: [(&str, &str, bool, bool); 10] = [
            ("logins/s ÷ capacity", "login.ok_rps", true, true),
            ("refresh req/s", "refresh.ok_rps", true, false),
            ("profile req/s", "profile.ok_rps", true, false),
            ("login p99 ms", "login.p99_ms", false, false),
            ("refresh p99 ms", "refresh.p99_ms", false, false),
            ("profile p99 ms", "profile.p99_ms", false, false),
            (
                "flood: logins/s ÷ capacity",
                "flood.login.ok_rps",
                true,
                true,
            ),
            (
                "flood: `/health` p99 ms",
                "flood.health.p99_ms",
                false,
                false,
            ),
            (
                "flood: profile p99 ms",
                "flood.profile.p99_ms",
                false,
                false,
            ),
            ("flood: peak RSS MiB", "rss.peak_kib", false, false),
        ];
        let (mut held, mut measured) = (0, 0);
        for (store, store_name) in &stores {
            for (label, suffix, higher_better, per_capacity) in figures {
                let value = |fw: &str| {
                    let key = format!("{store}.{fw}");
                    let raw = r.num(&format!("{key}.{suffix}"));
                    let raw = if suffix.ends_with("_kib") {
                        raw.map(|v| v / 1024.0)
                    } else {
                        raw
                    };
                    if per_capacity {
                        ratio(raw, r.capacity(&key))
                    } else {
                        raw
                    }
                };
                let (axum, actix) = (value("axum"), value("actix"));
                let q = ratio(actix, axum);
                let ok = match (axum, actix) {
                    (Some(a), Some(b)) if higher_better => Some(b >= 0.9 * a),
                    (Some(a), Some(b)) if suffix.ends_with("p99_ms") && a.max(b) < 1.0 => {
                        Some(b <= a + 0.1)
                    }
                    (Some(a), Some(b)) => Some(b <= 1.1 * a),
                    _ => None,
                };
                if let Some(ok) = ok {
                    measured += 1;
                    held += usize::from(ok);
                }
                let decimals = if per_capacity || suffix.ends_with("_ms") {
                    2
                } else {
                    0
                };
                let _ = writeln!(
                    out,
                    "| {store_name} | {label} | {} | {} | {} | {} |",
                    f(axum, decimals),
                    f(actix, decimals),
                    f(q, 2),
                    mark(ok)
                );
            }
        }
        verdicts.push(("Actix within 10 % of Axum".to_owned(), held, measured));
        let _ = writeln!(out);
    }

    // Every figure of each store.
    for (store, store_name) in &stores {
        let base = format!("{store}.baseline");
        let hello = r.num(&format!("{base}.hello.ok_rps"));
        let select = r.num(&format!("{base}.select.ok_rps"));
        let _ = writeln!(out, "### {store_name}: every figure\n");
        let _ = writeln!(
            out,
            "| figure | req/s | p50 ms | p99 ms | non-2xx / socket errors | ratio |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
        let line = |out: &mut String, label: &str, key: &str, ratio_text: String| {
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} / {} | {ratio_text} |",
                f(r.num(&format!("{key}.ok_rps")), 1),
                f(r.num(&format!("{key}.p50_ms")), 2),
                f(r.num(&format!("{key}.p99_ms")), 2),
                r.text(&format!("{key}.non2xx")),
                r.text(&format!("{key}.socket_errors")),
            );
        };
        line(
            &mut out,
            "baseline `GET /hello` (bare Axum)",
            &format!("{base}.hello"),
            "1 (the floor)".to_owned(),
        );
        line(
            &mut out,
            "baseline `GET /users/{id}`: one primary-key SELECT (Axum + sqlx)",
            &format!("{base}.select"),
            format!("{} × hello", f(ratio(select, hello), 2)),
        );
        for (fw, fw_name) in &frameworks {
            let key = format!("{store}.{fw}");
            let _ = writeln!(
                out,
                "| **{fw_name}**: one Argon2 verify (m=19456 KiB, t=2, p=1), alone, before / after login | {} / {} ms | | | | capacity {} × 1000 ÷ {} = **{}/s**; {} at once: {}/s |",
                f(r.num(&format!("{key}.argon2.verify_ms")), 2),
                f(r.num(&format!("{key}.argon2_after.verify_ms")), 2),
                r.text("meta.cores"),
                f(r.verify_ms(&key), 2),
                f(r.capacity(&key), 1),
                r.text("meta.cores"),
                f(r.parallel(&key), 1),
            );
            let rps = |what: &str| r.num(&format!("{key}.{what}.ok_rps"));
            line(
                &mut out,
                &format!(
                    "{fw_name} `POST /auth/login` ({} conns)",
                    r.text("meta.login_conns")
                ),
                &format!("{key}.login"),
                format!("{} of capacity", pct(ratio(rps("login"), r.capacity(&key)))),
            );
            for (figure, route) in [
                ("refresh", "POST /auth/refresh"),
                ("profile", "GET /users/profile"),
            ] {
                line(
                    &mut out,
                    &format!("{fw_name} `{route}` ({} conns)", r.text("meta.conns")),
                    &format!("{key}.{figure}"),
                    format!(
                        "{} × SELECT, {} × hello",
                        f(ratio(rps(figure), select), 2),
                        f(ratio(rps(figure), hello), 3)
                    ),
                );
            }
            line(
                &mut out,
                &format!("{fw_name} idle probe `GET /health` (2 conns, paced)"),
                &format!("{key}.idle.health"),
                String::new(),
            );
            line(
                &mut out,
                &format!("{fw_name} idle probe profile (2 conns, paced)"),
                &format!("{key}.idle.profile"),
                String::new(),
            );
            line(
                &mut out,
                &format!(
                    "{fw_name} flood: login ({} conns)",
                    r.text("meta.flood_conns")
                ),
                &format!("{key}.flood.login"),
                format!(
                    "{} of capacity",
                    pct(ratio(rps("flood.login"), r.capacity(&key)))
                ),
            );
            line(
                &mut out,
                &format!("{fw_name} flood: probe `GET /health`"),
                &format!("{key}.flood.health"),
                format!(
                    "p99 {} × idle",
                    f(
                        ratio(
                            r.num(&format!("{key}.flood.health.p99_ms")),
                            r.num(&format!("{key}.idle.health.p99_ms"))
                        ),
                        1
                    )
                ),
            );
            line(
                &mut out,
                &format!("{fw_name} flood: probe profile"),
                &format!("{key}.flood.profile"),
                format!(
                    "p99 {} × idle",
                    f(
                        ratio(
                            r.num(&format!("{key}.flood.profile.p99_ms")),
                            r.num(&format!("{key}.idle.profile.p99_ms"))
                        ),
                        1
                    )
                ),
            );
            let _ = writeln!(
                out,
                "| {fw_name} RSS MiB: at start / before the flood / peak / after / high-water mark | {} / {} / {} / {} / {} | | | | |",
                f(r.mib(&format!("{key}.rss.idle_kib")), 1),
                f(r.mib(&format!("{key}.rss.before_kib")), 1),
                f(r.mib(&format!("{key}.rss.peak_kib")), 1),
                f(r.mib(&format!("{key}.rss.after_kib")), 1),
                f(r.mib(&format!("{key}.rss.hwm_kib")), 1),
            );
        }
        let _ = writeln!(
            out,
            "\nLoad average at the start of each part: {}.\n",
            std::iter::once(("baseline", "baseline"))
                .chain(frameworks.iter().copied())
                .map(|(k, name)| format!("{name} {}", r.text(&format!("{store}.{k}.loadavg"))))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    // CPU per request: where each figure's time goes, per process.
    for (store, store_name) in &stores {
        let select_total = cpu_total(r, &format!("{store}.baseline.select"));
        let mut rows = vec![
            (
                "baseline `GET /hello`".to_owned(),
                format!("{store}.baseline.hello"),
            ),
            (
                "baseline `GET /users/{id}` (one SELECT)".to_owned(),
                format!("{store}.baseline.select"),
            ),
        ];
        for (fw, fw_name) in &frameworks {
            for (figure, route) in [
                ("profile", "GET /users/profile"),
                ("refresh", "POST /auth/refresh"),
                ("login", "POST /auth/login"),
            ] {
                rows.push((
                    format!("{fw_name} `{route}`"),
                    format!("{store}.{fw}.{figure}"),
                ));
            }
        }
        if !rows.iter().any(|(_, key)| cpu_total(r, key).is_some()) {
            continue;
        }
        let _ = writeln!(out, "### {store_name}: CPU time per request\n");
        let _ = writeln!(
            out,
            "CPU time (user + system) each process used during the figure, divided by the requests \
             answered. On a machine whose cores are all busy, req/s is cores ÷ the total, so \
             `total ÷ SELECT's total` is the inverse of the throughput ratio, measured without \
             the noise of how much CPU the run happened to get.\n"
        );
        let _ = writeln!(
            out,
            "| figure | server µs | database µs | wrk µs | total µs | total ÷ SELECT's |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for (label, key) in rows {
            let total = cpu_total(r, &key);
            if total.is_none() {
                continue;
            }
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {} | {} | {} |",
                f(r.num(&format!("{key}.cpu_us.server")), 1),
                f(r.num(&format!("{key}.cpu_us.database")), 1),
                f(r.num(&format!("{key}.cpu_us.wrk")), 1),
                f(total, 1),
                f(ratio(total, select_total), 2),
            );
        }
        let _ = writeln!(out);
    }

    // Charts.
    for (store, store_name) in &stores {
        let select = r.num(&format!("{store}.baseline.select.ok_rps"));
        let mut labels = Vec::new();
        let mut values = Vec::new();
        for (what, label) in [
            ("login", "login ÷ capacity"),
            ("profile", "profile ÷ SELECT"),
            ("refresh", "refresh ÷ SELECT"),
        ] {
            for (fw, fw_name) in &frameworks {
                let key = format!("{store}.{fw}");
                let rps = r.num(&format!("{key}.{what}.ok_rps"));
                let v = if what == "login" {
                    ratio(rps, r.capacity(&key))
                } else {
                    ratio(rps, select)
                };
                labels.push(format!("\"{fw_name} {label}\""));
                values.push(f(v, 2).replace('–', "0"));
            }
        }
        let _ = writeln!(
            out,
            "```mermaid\nxychart-beta\n    title \"{store_name}: throughput as a ratio to its same-run baseline (targets: login 0.9, profile 0.7)\"\n    x-axis [{}]\n    y-axis \"ratio\" 0 --> {}\n    bar [{}]\n```\n",
            labels.join(", "),
            axis_top(&values, 1.2),
            values.join(", ")
        );
        let mut labels = Vec::new();
        let mut values = Vec::new();
        for (what, label, budget) in [
            ("health", "/health p99 ÷ 10 ms", 10.0),
            ("profile", "profile p99 ÷ 25 ms", 25.0),
        ] {
            for (fw, fw_name) in &frameworks {
                let p99 = r.num(&format!("{store}.{fw}.flood.{what}.p99_ms"));
                labels.push(format!("\"{fw_name} {label}\""));
                values.push(f(p99.map(|v| v / budget), 2).replace('–', "0"));
            }
        }
        let _ = writeln!(
            out,
            "```mermaid\nxychart-beta\n    title \"{store_name}: p99 under the login flood as a share of its budget (below 1 holds)\"\n    x-axis [{}]\n    y-axis \"share of budget\" 0 --> {}\n    bar [{}]\n```\n",
            labels.join(", "),
            axis_top(&values, 1.5),
            values.join(", ")
        );
    }

    peer_section(r, &frameworks, &mut out, &mut verdicts);

    let _ = writeln!(out, "### Summary\n");
    for (label, held, measured) in verdicts {
        let _ = writeln!(out, "- {label}: holds in {held} of {measured}.");
    }
    out
}

/// One row of "Against better-auth": label, better-auth's figure, usermgmt's figure given the
/// key prefix `postgres.<framework>`, whether higher is better, the target advantage, decimals.
type PeerFigure<'a> = (
    String,
    Option<f64>,
    Box<dyn Fn(&str) -> Option<f64> + 'a>,
    bool,
    Option<f64>,
    usize,
);

/// "Against better-auth": the peer's figures next to the server's on PostgreSQL (the same
/// PostgreSQL server, the same wrk settings), as usermgmt's advantage: throughput usermgmt ÷
/// better-auth, latency, CPU time and memory better-auth ÷ usermgmt (above 1: usermgmt is ahead).
fn peer_section(
    r: &Results,
    frameworks: &[(&str, &str)],
    out: &mut String,
    verdicts: &mut Vec<(String, usize, usize)>,
) {
    const PEER: &str = "peer.better_auth";
    if r.num(&format!("{PEER}.session.ok_rps")).is_none()
        && r.num(&format!("{PEER}.login.ok_rps")).is_none()
    {
        return;
    }
    let _ = writeln!(out, "### Against better-auth\n");
    let _ = writeln!(
        out,
        "better-auth {} on node {} (one process, its defaults: scrypt N=16384 r=16 p=1, sessions \
         read from the database on every get-session; its rate limiter off), on its own database \
         of the same PostgreSQL server, measured after the server with the same wrk settings. \
         usermgmt's side is the server on PostgreSQL (Argon2id m=19456 KiB t=2 p=1). Advantage: \
         throughput usermgmt ÷ better-auth; latency, CPU time and memory better-auth ÷ usermgmt \
         (above 1, usermgmt is ahead).\n",
        r.text(&format!("{PEER}.version")),
        r.text(&format!("{PEER}.node")),
    );
    let mut header = "| figure | better-auth |".to_owned();
    let mut rule = "|---|---:|".to_owned();
    for (_, fw_name) in frameworks {
        let _ = write!(header, " usermgmt {fw_name} | advantage |");
        rule.push_str("---:|---|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let cpu = |key: &str| -> Option<f64> {
        let part = |who: &str| r.num(&format!("{key}.cpu_us.{who}"));
        Some(part("server")? + part("database")?)
    };
    let figures: Vec<PeerFigure<'_>> = vec![
        (
            format!(
                "logins/s: sign-in ÷ `POST /auth/login` ({} conns)",
                r.text("meta.login_conns")
            ),
            r.num(&format!("{PEER}.login.ok_rps")),
            Box::new(|k: &str| r.num(&format!("{k}.login.ok_rps"))),
            true,
            Some(5.0),
            1,
        ),
        (
            "login p99 ms".to_owned(),
            r.num(&format!("{PEER}.login.p99_ms")),
            Box::new(|k: &str| r.num(&format!("{k}.login.p99_ms"))),
            false,
            None,
            2,
        ),
        (
            "login CPU µs (server + database) per login".to_owned(),
            cpu(&format!("{PEER}.login")),
            Box::new(|k: &str| cpu(&format!("{k}.login"))),
            false,
            None,
            0,
        ),
        (
            format!(
                "authenticated reads/s: get-session (cookie) ÷ `GET /users/profile` (bearer) ({} conns)",
                r.text("meta.conns")
            ),
            r.num(&format!("{PEER}.session.ok_rps")),
            Box::new(|k: &str| r.num(&format!("{k}.profile.ok_rps"))),
            true,
            Some(10.0),
            0,
        ),
        (
            "authenticated read p99 ms".to_owned(),
            r.num(&format!("{PEER}.session.p99_ms")),
            Box::new(|k: &str| r.num(&format!("{k}.profile.p99_ms"))),
            false,
            None,
            2,
        ),
        (
            "read CPU µs (server + database) per read".to_owned(),
            cpu(&format!("{PEER}.session")),
            Box::new(|k: &str| cpu(&format!("{k}.profile"))),
            false,
            None,
            0,
        ),
        (
            "peak RSS MiB over sign-up/registration, logins and reads (VmHWM; usermgmt's before its flood)"
                .to_owned(),
            r.mib(&format!("{PEER}.rss.hwm_kib")),
            Box::new(|k: &str| r.mib(&format!("{k}.rss.hwm_before_kib"))),
            false,
            None,
            1,
        ),
    ];
    for (label, peer, ours, higher_better, target, decimals) in &figures {
        let mut line = format!("| {label} | {} |", f(*peer, *decimals));
        let (mut held, mut measured) = (0, 0);
        for (fw, _) in frameworks {
            let value = ours(&format!("postgres.{fw}"));
            let advantage = if *higher_better {
                ratio(value, *peer)
            } else {
                ratio(*peer, value)
            };
            let ok = target.and_then(|t| advantage.map(|a| a >= t));
            if let Some(ok) = ok {
                measured += 1;
                held += usize::from(ok);
            }
            let verdict = match target {
                Some(t) => format!("{} {}× (target ≥ {t}×)", mark(ok), f(advantage, 1)),
                None => format!("{}×", f(advantage, 1)),
            };
            let _ = write!(line, " {} | {verdict} |", f(value, *decimals));
        }
        let _ = writeln!(out, "{line}");
        if let Some(t) = target {
            verdicts.push((format!("better-auth: {label} ≥ {t}×"), held, measured));
        }
    }
    let _ = writeln!(
        out,
        "\nbetter-auth's get-session answers 200 `null` to an unknown cookie; the wrk script reads \
         every answer and counts those as non-2xx: {} of {} here (sign-in: {} non-2xx). Node runs \
         the JavaScript of all requests on one core (one process, its default); the scrypt \
         hashes run on libuv's thread pool. RSS of the node process: {} MiB at start, {} MiB \
         peak sampled during the figures.\n",
        r.text(&format!("{PEER}.session.non2xx")),
        r.text(&format!("{PEER}.session.requests")),
        r.text(&format!("{PEER}.login.non2xx")),
        f(r.mib(&format!("{PEER}.rss.idle_kib")), 1),
        f(r.mib(&format!("{PEER}.rss.peak_kib")), 1),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_addresses_are_in_the_benchmark_range() {
        assert_eq!(pair_ip(0), Ipv4Addr::new(198, 18, 0, 0));
        assert_eq!(pair_ip(513), Ipv4Addr::new(198, 18, 2, 1));
        assert_eq!(register_ip(3), Ipv4Addr::new(198, 19, 255, 3));
        assert_ne!(pair_ip(511), register_ip(0));
    }

    #[test]
    fn tokens_are_found_in_a_log() {
        let log = "x email:\nhttp://127.0.0.1/api/v1/auth/verify-email?token=abc_D-1\n\
                   y http://127.0.0.1/api/v1/auth/verify-email?token=zz9 to=a@b";
        assert_eq!(verification_tokens(log), vec!["abc_D-1", "zz9"]);
    }

    #[test]
    fn only_loopback_urls() {
        assert!(loopback_base("http://127.0.0.1:3000/").is_ok());
        assert!(loopback_base("http://10.0.0.1:3000").is_err());
        assert!(loopback_base("https://127.0.0.1").is_err());
        assert!(loopback_base("http://example.com").is_err());
    }

    #[test]
    fn report_computes_ratios_and_verdicts() {
        let r = Results::parse(
            "meta.cores 2\n\
             sqlite.baseline.select.ok_rps 1000\n\
             sqlite.axum.argon2.verify_ms 25\n\
             sqlite.axum.argon2_after.verify_ms 15\n\
             sqlite.axum.argon2.parallel_per_s 100\n\
             sqlite.axum.argon2_after.parallel_per_s 90\n\
             sqlite.axum.login.ok_rps 95\n\
             sqlite.axum.refresh.ok_rps 300\n\
             sqlite.axum.profile.ok_rps 650\n\
             sqlite.axum.flood.health.p99_ms 3.5\n\
             sqlite.axum.flood.profile.p99_ms 30\n\
             sqlite.axum.rss.before_kib 20480\n\
             sqlite.axum.rss.peak_kib 61440\n",
        );
        let text = report_text(&r);
        // Logins against the verifies the cores did at once (95/s), the formula beside it.
        assert!(
            text.contains("✅ 100 % (95.0 of 95.0/s; 95 % of cores ÷ one verify, 100.0/s)"),
            "{text}"
        );
        assert!(text.contains("❌ 30 % (300 of 1000/s)"), "{text}");
        assert!(text.contains("❌ 65 % (650 of 1000/s)"), "{text}");
        assert!(text.contains("✅ 3.50 ms"), "{text}");
        assert!(text.contains("❌ 30.00 ms"), "{text}");
        assert!(text.contains("✅ – → 20 → 60 → – MiB"), "{text}");
        assert!(text.contains("xychart-beta"), "{text}");
        assert!(!text.contains("CPU time per request"), "{text}");
    }

    #[test]
    fn report_compares_with_better_auth() {
        let r = Results::parse(
            "meta.cores 2\n\
             meta.conns 16\n\
             meta.login_conns 8\n\
             postgres.axum.login.ok_rps 120\n\
             postgres.axum.login.p99_ms 90\n\
             postgres.axum.profile.ok_rps 6000\n\
             postgres.axum.profile.cpu_us.server 100\n\
             postgres.axum.profile.cpu_us.database 150\n\
             postgres.axum.rss.hwm_before_kib 51200\n\
             peer.better_auth.version 1.7.29\n\
             peer.better_auth.login.ok_rps 20\n\
             peer.better_auth.login.p99_ms 450\n\
             peer.better_auth.session.ok_rps 500\n\
             peer.better_auth.session.cpu_us.server 1500\n\
             peer.better_auth.session.cpu_us.database 1000\n\
             peer.better_auth.rss.hwm_kib 153600\n",
        );
        let text = report_text(&r);
        assert!(text.contains("### Against better-auth"), "{text}");
        assert!(text.contains("better-auth 1.7.29 on node ?"), "{text}");
        // Logins 120 ÷ 20 = 6× (target 5), reads 6000 ÷ 500 = 12× (target 10).
        assert!(text.contains("| 120.0 | ✅ 6.0× (target ≥ 5×) |"), "{text}");
        assert!(
            text.contains("| 6000 | ✅ 12.0× (target ≥ 10×) |"),
            "{text}"
        );
        // Latency, CPU and memory: better-auth ÷ usermgmt.
        assert!(text.contains("| 450.00 | 90.00 | 5.0× |"), "{text}");
        assert!(text.contains("| 2500 | 250 | 10.0× |"), "{text}");
        assert!(text.contains("| 150.0 | 50.0 | 3.0× |"), "{text}");
        assert!(
            text.contains("- better-auth: logins/s: sign-in ÷ `POST /auth/login` (8 conns) ≥ 5×: holds in 1 of 1."),
            "{text}"
        );
        // Without a peer, no section.
        let r = Results::parse("meta.cores 2\npostgres.axum.login.ok_rps 120\n");
        assert!(!report_text(&r).contains("better-auth"));
    }

    #[test]
    fn peer_session_cookie_is_found() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.append(
            reqwest::header::SET_COOKIE,
            "other=1; Path=/".parse().unwrap(),
        );
        headers.append(
            reqwest::header::SET_COOKIE,
            "better-auth.session_token=abc.d%3D; Max-Age=604800; Path=/; HttpOnly"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            session_cookie(&headers).as_deref(),
            Some("better-auth.session_token=abc.d%3D")
        );
        let mut cleared = reqwest::header::HeaderMap::new();
        cleared.append(
            reqwest::header::SET_COOKIE,
            "better-auth.session_token=; Max-Age=0".parse().unwrap(),
        );
        assert_eq!(session_cookie(&cleared), None);
    }

    #[test]
    fn report_divides_cpu_time_per_request() {
        let r = Results::parse(
            "meta.cores 2\n\
             postgres.baseline.select.ok_rps 10000\n\
             postgres.baseline.select.cpu_us.server 50\n\
             postgres.baseline.select.cpu_us.database 60\n\
             postgres.baseline.select.cpu_us.wrk 10\n\
             postgres.axum.profile.ok_rps 6000\n\
             postgres.axum.profile.cpu_us.server 90\n\
             postgres.axum.profile.cpu_us.database 95.5\n\
             postgres.axum.profile.cpu_us.wrk 14.5\n",
        );
        let text = report_text(&r);
        assert!(
            text.contains("### PostgreSQL: CPU time per request"),
            "{text}"
        );
        assert!(
            text.contains(
                "| baseline `GET /users/{id}` (one SELECT) | 50.0 | 60.0 | 10.0 | 120.0 | 1.00 |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| Axum `GET /users/profile` | 90.0 | 95.5 | 14.5 | 200.0 | 1.67 |"),
            "{text}"
        );
        // Figures without CPU figures are left out, not shown as zeros.
        assert!(!text.contains("Axum `POST /auth/refresh` |"), "{text}");
    }
}
