//! Helpers for tests that run the real `usermgmt-server` binary: starting and stopping server
//! processes, an HTTP client that speaks the envelope, a TCP proxy that can cut a dependency
//! (PostgreSQL, SMTP, Redis) away from the server and bring it back, and direct reads of the
//! test database.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use reqwest::StatusCode;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub const PASSWORD: &str = "Str0ng!Passw0rd";
pub const JWT_SECRET: &str = "scale-out-secret-scale-out-secret-0123456789";

/// A short random tag, so emails and names are unique per test run.
pub fn run_tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

/// A random address in 10.0.0.0/8: sent as `X-Forwarded-For` (the servers trust 127.0.0.1), it
/// gives each test its own rate-limit counters, even in a Redis shared with other test runs.
pub fn random_client_ip() -> String {
    let b = uuid::Uuid::new_v4().into_bytes();
    format!("10.{}.{}.{}", b[0], b[1], b[2].max(1))
}

/// What to start.
#[derive(Clone)]
pub struct ServerSpec {
    pub framework: &'static str,
    pub database_url: String,
    /// SMTP port on 127.0.0.1; `None` writes mail to the log.
    pub smtp_port: Option<u16>,
    /// Extra variables; they win over the defaults.
    pub env: Vec<(String, String)>,
}

impl ServerSpec {
    pub fn new(framework: &'static str, database_url: &str, smtp_port: Option<u16>) -> Self {
        Self {
            framework,
            database_url: database_url.to_owned(),
            smtp_port,
            env: Vec::new(),
        }
    }

    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }
}

/// A started server process; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub framework: &'static str,
    /// The process's stderr (its log).
    pub log: PathBuf,
    dir: PathBuf,
}

/// A server process that has been spawned but may not listen yet.
pub struct Starting {
    child: Child,
    framework: &'static str,
    log: PathBuf,
    dir: PathBuf,
}

impl Starting {
    /// Waits until the server prints its address.
    pub async fn ready(mut self) -> Server {
        let stdout = self.child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            line
        })
        .await
        .unwrap();
        let Some(base) = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .map(str::to_owned)
        else {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "{} server did not start (stdout {line:?}); its log:\n{}",
                self.framework,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        };
        Server {
            child: self.child,
            base,
            framework: self.framework,
            log: self.log,
            dir: self.dir,
        }
    }
}

impl Server {
    /// Spawns the binary with test settings (fast hashing, trusted loopback proxy, a high global
    /// rate limit) and `spec`; its working directory is a fresh temporary directory, so no
    /// `.env` file of the developer's is read.
    pub fn spawn(spec: &ServerSpec) -> Starting {
        let dir = std::env::temp_dir().join(format!("usermgmt-scale-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("server.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_usermgmt-server"));
        command
            .env_clear()
            .current_dir(&dir)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOST", "127.0.0.1")
            .env("APP_PORT", "0")
            .env("SERVER_FRAMEWORK", spec.framework)
            .env("DATABASE_URL", &spec.database_url)
            .env("JWT_SECRET", JWT_SECRET)
            .env("EMAIL_FROM", "usermgmt <no-reply@example.com>")
            .env("EMAIL_CONFIRMATION_URL", "http://app.example.com/verify")
            .env("PASSWORD_RESET_URL", "http://app.example.com/reset")
            .env("HASH_MEMORY_KIB", "64")
            .env("HASH_ITERATIONS", "1")
            .env("TRUSTED_PROXIES", "127.0.0.1/32")
            .env("RATE_LIMIT_MAX", "100000")
            .env("AVATAR_DIR", dir.join("avatars").display().to_string())
            .env("LOG_LEVEL", "warn");
        if let Some(port) = spec.smtp_port {
            command
                .env("EMAIL_HOST", "127.0.0.1")
                .env("EMAIL_PORT", port.to_string())
                .env("SMTP_SECURE", "false");
        }
        for (name, value) in &spec.env {
            command.env(name, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start usermgmt-server");
        Starting {
            child,
            framework: spec.framework,
            log,
            dir,
        }
    }

    /// Spawns and waits until it listens.
    pub async fn start(spec: &ServerSpec) -> Server {
        Self::spawn(spec).ready().await
    }

    /// Starts several at once (as a deployment does), then waits for each.
    pub async fn start_all(specs: &[ServerSpec]) -> Vec<Server> {
        let starting: Vec<Starting> = specs.iter().map(Self::spawn).collect();
        let mut servers = Vec::new();
        for s in starting {
            servers.push(s.ready().await);
        }
        servers
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to finish anything.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, the orchestrator's polite stop.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits for the process to exit, up to `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "--- log of the {} server at {} ---\n{}",
                self.framework,
                self.base,
                self.log_text()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An HTTP client for one server, sending a fixed client address.
#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    client_ip: String,
}

/// An answer: status and JSON body (`Null` when the body is not JSON).
pub type Answer = (StatusCode, Value);

impl Client {
    /// A client of `server` appearing as `client_ip`.
    pub fn new(server: &Server, client_ip: &str) -> Self {
        Self {
            // Requests that hang fail the test instead of stalling it.
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: server.base.clone(),
            client_ip: client_ip.to_owned(),
        }
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .header("user-agent", "scale-out-test/1.0")
            .header("x-forwarded-for", &self.client_ip)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut req = self.request(method.clone(), path);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", self.base));
        let status = resp.status();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call(reqwest::Method::POST, path, token, Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.call(reqwest::Method::GET, path, token, None).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        self.call(reqwest::Method::DELETE, path, token, body).await
    }

    /// Registers `username` / `email` with [`PASSWORD`]; returns the user id.
    pub async fn register(&self, username: &str, email: &str) -> String {
        let (s, body) = self
            .post(
                "/api/v1/auth/register",
                None,
                serde_json::json!({"email": email, "username": username, "password": PASSWORD}),
            )
            .await;
        assert_eq!(s, 201, "register {email}: {body}");
        body["data"]["user"]["id"].as_str().unwrap().to_owned()
    }

    /// Logs in; returns `(access token, refresh token)`.
    pub async fn login(&self, identifier: &str, password: &str) -> (String, String) {
        let (s, body) = self
            .post(
                "/api/v1/auth/login",
                None,
                serde_json::json!({"identifier": identifier, "password": password}),
            )
            .await;
        assert_eq!(s, 200, "login {identifier} on {}: {body}", self.base);
        let tokens = &body["data"]["tokens"];
        (
            tokens["accessToken"].as_str().unwrap().to_owned(),
            tokens["refreshToken"].as_str().unwrap().to_owned(),
        )
    }
}

/// Asserts the error envelope with `status` and `code`.
pub fn assert_error(answer: &Answer, status: u16, code: &str, what: &str) {
    let (s, body) = answer;
    assert_eq!(
        (s.as_u16(), body["code"].as_str()),
        (status, Some(code)),
        "{what}: {body}"
    );
    assert_eq!(body["success"], Value::Bool(false), "{what}: {body}");
    assert_eq!(
        body["statusCode"].as_u64(),
        Some(u64::from(status)),
        "{what}"
    );
    assert!(body["message"].is_string(), "{what}: {body}");
}

/// The claims of a JWT (unverified).
pub fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

/// Polls `check` every 100 ms until it returns `Some`, failing after `limit`.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// --- the fault-injecting proxy ---------------------------------------------------------------

/// A TCP proxy on 127.0.0.1 in front of a dependency. [`Proxy::cut`] closes every connection and
/// stops listening (connections are refused, as when the dependency's host is down);
/// [`Proxy::restore`] listens on the same port again; [`Proxy::hold`] accepts connections but
/// passes nothing on (a hung dependency) until [`Proxy::release`].
pub struct Proxy {
    pub port: u16,
    target: String,
    task: Mutex<Option<JoinHandle<()>>>,
    gate: tokio::sync::watch::Sender<bool>,
    accepted: Arc<AtomicUsize>,
}

impl Proxy {
    /// A forwarding proxy to `target` (`host:port`).
    pub async fn start(target: &str) -> Proxy {
        let proxy = Self::cut_to(target);
        proxy.restore().await;
        proxy
    }

    /// A proxy to `target` that starts cut: its port is reserved, nothing listens on it yet.
    pub fn cut_to(target: &str) -> Proxy {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Proxy {
            port,
            target: target.to_owned(),
            task: Mutex::new(None),
            gate: tokio::sync::watch::Sender::new(false),
            accepted: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Closes every connection and stops listening; returns once they are gone.
    pub async fn cut(&self) {
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens again and forwards.
    pub async fn restore(&self) {
        self.listen(true).await;
    }

    /// Listens again, accepting connections but passing nothing on.
    pub async fn hold(&self) {
        self.listen(false).await;
    }

    /// Lets held connections (and new ones) through, without closing any.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }

    async fn listen(&self, open: bool) {
        self.cut().await;
        self.gate.send_replace(open);
        let listener = self.bind().await;
        let task = tokio::spawn(accept_loop(
            listener,
            self.target.clone(),
            self.gate.subscribe(),
            self.accepted.clone(),
        ));
        *self.task.lock().unwrap() = Some(task);
    }

    async fn bind(&self) -> TcpListener {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(("127.0.0.1", self.port)).await {
                Ok(listener) => return listener,
                Err(e) => {
                    assert!(
                        Instant::now() < deadline,
                        "cannot listen on port {} again: {e}",
                        self.port
                    );
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }
}

/// Owns the listener and every connection: aborting it drops them all.
async fn accept_loop(
    listener: TcpListener,
    target: String,
    gate: tokio::sync::watch::Receiver<bool>,
    accepted: Arc<AtomicUsize>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            incoming = listener.accept() => {
                let Ok((mut inbound, _)) = incoming else { continue };
                accepted.fetch_add(1, Ordering::SeqCst);
                let (target, mut gate) = (target.clone(), gate.clone());
                connections.spawn(async move {
                    // Held: the socket stays open, nothing is read or answered.
                    if gate.wait_for(|open| *open).await.is_err() {
                        std::future::pending::<()>().await;
                    }
                    let Ok(mut outbound) = TcpStream::connect(&target).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

// --- the test database, read directly ---------------------------------------------------------

/// `url` with its host and port replaced by 127.0.0.1:`port`; also returns the original
/// `host:port` (the proxy's target; `default_port` when the URL names none).
pub fn through_port(url: &str, port: u16, default_port: u16) -> (String, String) {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let target = if hostport.contains(':') {
        hostport.to_owned()
    } else {
        format!("{hostport}:{default_port}")
    };
    let proxied = format!(
        "{}{userinfo}127.0.0.1:{port}{}",
        &url[..scheme_end],
        &rest[authority_end..]
    );
    (proxied, target)
}

/// A connection pool on the test database (PostgreSQL or MySQL, by the URL's scheme), for
/// checks behind the API's back.
pub enum TestDb {
    Postgres(sqlx::PgPool),
    MySql(sqlx::MySqlPool),
}

pub async fn db(url: &str) -> TestDb {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        let options =
            usermgmt_core::store::mysql::MySqlStore::connect_options(url).expect("a MySQL URL");
        return TestDb::MySql(
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(2)
                .connect_with(options)
                .await
                .expect("connect to the test database"),
        );
    }
    TestDb::Postgres(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(url)
            .await
            .expect("connect to the test database"),
    )
}

/// The port a database URL names when it names none: MySQL's or PostgreSQL's.
pub fn database_port(url: &str) -> u16 {
    if url.starts_with("mysql://") || url.starts_with("mariadb://") {
        3306
    } else {
        5432
    }
}

/// The one integer a query without parameters answers (a `COUNT(*)`), on either database.
pub async fn scalar(db: &TestDb, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        TestDb::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
        TestDb::MySql(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.unwrap(),
    }
}

/// The id of the user with this email address.
pub async fn user_id(db: &TestDb, email: &str) -> uuid::Uuid {
    let sql = "SELECT id FROM users WHERE email = ";
    match db {
        TestDb::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{sql}$1")))
            .bind(email)
            .fetch_one(pool)
            .await
            .unwrap(),
        TestDb::MySql(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{sql}?")))
            .bind(email)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// How many sessions the user has (open or not).
pub async fn sessions_of(db: &TestDb, user: uuid::Uuid) -> i64 {
    let sql = "SELECT COUNT(*) FROM sessions WHERE user_id = ";
    match db {
        TestDb::Postgres(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{sql}$1")))
            .bind(user)
            .fetch_one(pool)
            .await
            .unwrap(),
        TestDb::MySql(pool) => sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{sql}?")))
            .bind(user)
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

/// The tables of the test database (from its catalogue) with a row any of whose columns, read
/// as text, contains `needle`; and every table looked at.
pub async fn tables_containing(db: &TestDb, needle: &str) -> (Vec<String>, Vec<String>) {
    let mut holding = Vec::new();
    let tables: Vec<String> = match db {
        TestDb::Postgres(pool) => sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
        TestDb::MySql(pool) => sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'",
        )
        .fetch_all(pool)
        .await
        .unwrap(),
    };
    for table in &tables {
        // Safe: the names come from the catalogue, quoted.
        let found: i64 = match db {
            TestDb::Postgres(pool) => {
                let sql =
                    format!("SELECT COUNT(*) FROM \"{table}\" t WHERE strpos(t::text, $1) > 0");
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(needle)
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
            TestDb::MySql(pool) => {
                // MySQL cannot read a row as text: every column, cast, joined.
                let columns: Vec<String> = sqlx::query_scalar(
                    "SELECT CAST(column_name AS CHAR) FROM information_schema.columns \
                     WHERE table_schema = DATABASE() AND table_name = ?",
                )
                .bind(table)
                .fetch_all(pool)
                .await
                .unwrap();
                let row_text = columns
                    .iter()
                    .map(|c| format!("COALESCE(CAST(`{c}` AS CHAR), '')"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let sql = format!(
                    "SELECT COUNT(*) FROM `{table}` WHERE LOCATE(?, CONCAT_WS('|', {row_text})) > 0"
                );
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(needle)
                    .fetch_one(pool)
                    .await
                    .unwrap()
            }
        };
        if found > 0 {
            holding.push(table.clone());
        }
    }
    (holding, tables)
}

/// One outbox row, as a test looks at it.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub recipient: String,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub claimed: bool,
}

pub async fn outbox(db: &TestDb) -> Vec<OutboxRow> {
    use sqlx::Row;
    // `claimed` compares with the database's clock: the stores write UTC, and so does MySQL's
    // UTC_TIMESTAMP (its NOW() is in the session's time zone).
    macro_rules! rows {
        ($pool:expr, $now:literal) => {
            sqlx::query(concat!(
                "SELECT recipient, kind, status, attempts, \
                 (locked_until IS NOT NULL AND locked_until > ",
                $now,
                ") AS claimed FROM mail_outbox ORDER BY created_at, id"
            ))
            .fetch_all($pool)
            .await
            .unwrap()
            .iter()
            .map(|r| OutboxRow {
                recipient: r.get("recipient"),
                kind: r.get("kind"),
                status: r.get("status"),
                attempts: r.get("attempts"),
                claimed: r.get("claimed"),
            })
            .collect()
        };
    }
    match db {
        TestDb::Postgres(pool) => rows!(pool, "now()"),
        TestDb::MySql(pool) => rows!(pool, "UTC_TIMESTAMP(6)"),
    }
}

/// Rows of `table` where `column` = `value` (`table` and `column` are the test's constants).
pub async fn count_where(db: &TestDb, table: &str, column: &str, value: &str) -> i64 {
    use sqlx::Row;
    match db {
        TestDb::Postgres(pool) => {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = $1");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(value)
                .fetch_one(pool)
                .await
                .unwrap()
                .get::<i64, _>("n")
        }
        TestDb::MySql(pool) => {
            let sql = format!("SELECT COUNT(*) AS n FROM {table} WHERE {column} = ?");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(value)
                .fetch_one(pool)
                .await
                .unwrap()
                .get::<i64, _>("n")
        }
    }
}
pub mod browser;
