//! `usermgmt-baseline`: the bare Axum + sqlx app that the HTTP load script (`benches/load/run.sh`)
//! measures next to the usermgmt server, so that every server figure is a ratio to the same run.
//!
//! Two routes, nothing else (no middleware, no envelope, no security headers, no rate limit):
//!
//! - `GET /hello`: a fixed 13-byte text answer, the floor of any HTTP request on this stack;
//! - `GET /users/{id}`: one primary-key `SELECT` on the server's own `users` table (the database
//!   the server migrated and filled), answered as a small JSON object, or 404.
//!
//! The pools are opened with the settings `usermgmt-core`'s stores use (SQLite: WAL,
//! `synchronous=NORMAL`, 10 s busy timeout, 8 connections; PostgreSQL: 16 connections, 5 s
//! acquire timeout; MySQL: core's own `MySqlStore::pool_options`, so 16 connections and each
//! connection's READ COMMITTED and `sql_mode`), so the difference to the server is usermgmt's own
//! work.
//!
//! It listens on 127.0.0.1 only and prints `usermgmt-baseline listening on http://ADDR` as its
//! first line on stdout (port 0 picks a free port).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use clap::Parser;
use serde_json::json;
use sqlx::mysql::MySqlPool;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;
use usermgmt_core::store::check_idle_connections;
use usermgmt_core::store::mysql::MySqlStore;
use uuid::Uuid;

/// Bare Axum + sqlx baseline for the HTTP load script (loopback only).
#[derive(Debug, Parser)]
#[command(name = "usermgmt-baseline", version, about)]
struct Args {
    /// `sqlite://path?mode=rw`, `postgres://...` or `mysql://...`: a database the usermgmt server
    /// migrated.
    #[arg(long)]
    database_url: String,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

/// The same kind of store the server runs on.
#[derive(Clone)]
enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
    MySql(MySqlPool),
}

/// The columns of a user the `SELECT` reads.
type UserRow = (Uuid, String, String, Option<String>, Option<String>, bool);

const SELECT_USER: &str =
    "SELECT id, email, username, first_name, last_name, email_verified FROM users WHERE id = $1";
/// The same statement in MySQL's placeholders (`id` is `BINARY(16)`, bound as sqlx encodes a
/// `Uuid` for MySQL, as core's store does).
const SELECT_USER_MYSQL: &str =
    "SELECT id, email, username, first_name, last_name, email_verified FROM users WHERE id = ?";

impl Db {
    async fn connect(url: &str) -> Result<Self, String> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| format!("bad SQLite URL: {e}"))?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            // The pool policy of core's stores (max connections, when idle ones are checked),
            // so the baseline's statement pays what the server's does.
            let pool = check_idle_connections(SqlitePoolOptions::new())
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(|e| format!("cannot open SQLite: {e}"))?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = check_idle_connections(PgPoolOptions::new())
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect(url)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            Ok(Db::Postgres(pool))
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            // Core's pool policy and session settings themselves, not a copy of them.
            let options =
                MySqlStore::connect_options(url).map_err(|e| format!("bad MySQL URL: {e}"))?;
            let pool = MySqlStore::pool_options()
                .connect_with(options)
                .await
                .map_err(|e| format!("cannot connect to MySQL: {e}"))?;
            Ok(Db::MySql(pool))
        } else {
            Err("--database-url must start with sqlite:, postgres:// or mysql://".to_owned())
        }
    }

    async fn user(&self, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
        match self {
            Db::Sqlite(pool) => {
                sqlx::query_as::<_, UserRow>(SELECT_USER)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
            Db::Postgres(pool) => {
                sqlx::query_as::<_, UserRow>(SELECT_USER)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
            Db::MySql(pool) => {
                sqlx::query_as::<_, UserRow>(SELECT_USER_MYSQL)
                    .bind(id)
                    .fetch_optional(pool)
                    .await
            }
        }
    }
}

async fn hello() -> &'static str {
    "Hello, World!"
}

async fn user(State(db): State<Db>, Path(id): Path<String>) -> Response {
    let Ok(id) = Uuid::parse_str(&id) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match db.user(id).await {
        Ok(Some((id, email, username, first_name, last_name, email_verified))) => {
            axum::Json(json!({
                "id": id,
                "email": email,
                "username": username,
                "firstName": first_name,
                "lastName": last_name,
                "emailVerified": email_verified,
            }))
            .into_response()
        }
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

async fn run(args: Args) -> Result<(), String> {
    let db = Db::connect(&args.database_url).await?;
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/users/{id}", get(user))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // A fixed form on stdout, as the server's, so the script can find the port.
    println!("usermgmt-baseline listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| format!("server error: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("usermgmt-baseline: {e}");
            ExitCode::FAILURE
        }
    }
}
