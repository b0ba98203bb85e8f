//! SQLite store (feature `sqlite`): the embedded default of the standalone server.
//!
//! Ids are 16-byte BLOBs and times INTEGER microseconds since the Unix epoch (SQLite's text
//! timestamps would not sort). Write transactions start with `BEGIN IMMEDIATE` and the database
//! runs in WAL mode with a busy timeout, so concurrent requests queue for the single writer
//! instead of failing with `SQLITE_BUSY`.

use crate::store::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;

/// Row lock suffix of `SELECT ... FOR UPDATE` (SQLite's `BEGIN IMMEDIATE` locks the database).
const LOCK_ROW: &str = "";
/// Suffix of a `SELECT` of rows that the transaction's own inserts will reference: they
/// cannot be deleted before it commits (SQLite's `BEGIN IMMEDIATE` locks the database).
const LOCK_REFERENCED: &str = "";
/// A case-insensitive `LIKE` of `lhs` (ASCII only in SQLite): the text before the pattern, and
/// after it.
fn like_ci_around(lhs: &str) -> (String, &'static str) {
    (format!("{lhs} LIKE "), "")
}
/// `UPDATE`/`DELETE ... RETURNING` is available (MySQL's dialect goes without).
const RETURNING: bool = true;
/// How a refresh token is rotated (`sessions/sql.rs`).
const ROTATION: crate::sessions::sql::Rotation = crate::sessions::sql::Rotation::OneBatch;
use sqlx::{query, query_scalar};

/// `col DESC NULLS FIRST` / `col ASC NULLS LAST`.
fn order_nulls(column: &str, descending: bool) -> String {
    if descending {
        format!("{column} DESC NULLS FIRST")
    } else {
        format!("{column} ASC NULLS LAST")
    }
}
type Db = sqlx::Sqlite;
/// A time as stored: microseconds since the Unix epoch.
type Ts = i64;

fn ts(t: Timestamp) -> Ts {
    i64::try_from(t.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn from_ts(micros: Ts) -> crate::Result<Timestamp> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(crate::Error::internal)
}

/// How long a writer waits for its turn: SQLite's own busy timeout, set below.
const WRITER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// A write transaction holding the store's writer turn. SQLite has one writer at a time; the
/// store's writers queue for it here, first come first served, instead of in SQLite's busy
/// handler, which retries by sleeping in steps of up to 100 ms (refreshes with 16 connections
/// had a p99 of 210–385 ms that way). Another process writing the same file still meets the
/// busy handler.
struct DbTx {
    // Declared first so it is dropped first: an abandoned transaction's rollback is queued
    // before the next writer may begin.
    tx: super::lease::LeasedTransaction<Db>,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl DbTx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        let DbTx { tx, _turn } = self;
        tx.commit().await
    }
}

impl std::ops::Deref for DbTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for DbTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// The store's writer turn (see [`DbTx`]), for a write transaction.
async fn write_turn(store: &SqliteStore) -> crate::Result<tokio::sync::OwnedMutexGuard<()>> {
    // A bounded wait, as SQLite's busy timeout was: a writer that never gets its turn fails
    // with 503 instead of hanging.
    tokio::time::timeout(WRITER_WAIT, store.writer.clone().lock_owned())
        .await
        .map_err(|_| crate::Error::Unavailable("the database is busy".to_owned()))
}

async fn begin_db(store: &SqliteStore) -> crate::Result<DbTx> {
    let turn = write_turn(store).await?;
    let begin = sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE");
    let tx = super::lease::LeasedTransaction::begin(&store.pool, Some(begin)).await?;
    Ok(DbTx { tx, _turn: turn })
}

/// The pool of [`SqliteStore::connect`]: up to 8 connections to a file. An in-memory database
/// lives only as long as a connection to it is open, so its pool is one connection that sqlx
/// never closes: sqlx's defaults (closed after 10 minutes idle or 30 minutes of use) would
/// delete every table, data and schema alike.
fn pool_options(in_memory: bool) -> SqlitePoolOptions {
    let options = super::check_idle_connections(SqlitePoolOptions::new());
    if in_memory {
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
    } else {
        options.max_connections(8)
    }
}

/// The migrations of the SQLite dialect (`usermgmt-core/migrations/sqlite`), embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// A [`Store`] on a SQLite database file (or `sqlite::memory:`).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: super::lease::LeasePool<Db>,
    /// The writer turn of [`begin_db`]: one write transaction of this store at a time.
    writer: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Where committed audit rows are published.
    events: crate::store::EventBus,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://path/to/file.db`, a plain
    /// path, or `sqlite::memory:`) and applies pending migrations.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let url = if url.starts_with("sqlite:") {
            url.to_owned()
        } else {
            format!("sqlite://{url}")
        };
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| crate::Error::Unavailable(e.to_string()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(WRITER_WAIT)
            .foreign_keys(true);
        let pool = pool_options(in_memory).connect_with(options).await?;
        Self::from_pool(pool).await
    }

    /// Wraps an existing pool and applies pending migrations.
    pub async fn from_pool(pool: sqlx::SqlitePool) -> crate::Result<Self> {
        MIGRATOR.run(&pool).await.map_err(crate::Error::internal)?;
        Ok(Self {
            pool: super::lease::LeasePool::new(pool),
            writer: std::sync::Arc::default(),
            events: crate::store::EventBus::new(),
        })
    }

    /// The connection pool, for the host application's own queries.
    pub fn pool(&self) -> &sqlx::SqlitePool {
        self.pool.pool()
    }
}

sql_common!(SqliteStore);
store_areas!(sql_areas!(SqliteStore));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Effects;
    use std::time::Duration;

    /// The writer turn is what orders this store's writers: while it is held a write waits for
    /// it (not in SQLite's busy handler), reads go on, and the write proceeds once it is free.
    #[tokio::test]
    async fn writers_take_the_store_turn_and_readers_do_not() {
        let dir = std::env::temp_dir().join(format!("usermgmt-turn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = SqliteStore::connect(&format!("sqlite://{}/t.db", dir.display()))
            .await
            .unwrap();
        let turn = store.writer.clone().lock_owned().await;
        let writer = {
            let store = store.clone();
            tokio::spawn(async move { store.record_effects(Effects::none()).await })
        };
        assert_eq!(store.user_by_id(uuid::Uuid::now_v7()).await.unwrap(), None);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!writer.is_finished(), "a write waits for the turn");
        drop(turn);
        tokio::time::timeout(Duration::from_secs(5), writer)
            .await
            .expect("the write goes on once the turn is free")
            .unwrap()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// An in-memory database lives as long as its one connection, so the pool never closes it
    /// for being idle or old (sqlx's defaults would, after 10 and 30 minutes of it).
    #[tokio::test]
    async fn an_in_memory_database_keeps_its_one_connection_open() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let options = store.pool().options();
        assert_eq!(options.get_max_connections(), 1);
        assert_eq!(options.get_min_connections(), 1);
        assert_eq!(options.get_idle_timeout(), None);
        assert_eq!(options.get_max_lifetime(), None);
    }

    /// Write transactions cancelled anywhere in their `BEGIN IMMEDIATE` leave an in-memory
    /// database in place: the connection is not closed (which would delete the database) but
    /// given back, and SQLite's connection thread rolls back what it began.
    #[tokio::test]
    async fn cancelled_begins_leave_an_in_memory_database_in_place() {
        let store = SqliteStore::connect("sqlite::memory:").await.unwrap();
        let mut cancelled = 0;
        for round in 0..300u32 {
            if crate::store::lease::cancelled_after_polls(begin_db(&store), round % 60 + 1).await {
                cancelled += 1;
            }
            // sqlx's checked returns (and its closes) run in tasks of their own.
            tokio::time::sleep(Duration::from_millis(2)).await;
            assert_eq!(
                store.user_by_id(uuid::Uuid::now_v7()).await.unwrap(),
                None,
                "round {round}: the database is still there"
            );
            // And no transaction was left open: a write takes the turn and commits.
            tokio::time::timeout(
                Duration::from_secs(5),
                store.record_effects(Effects::none()),
            )
            .await
            .expect("no write lock left behind")
            .unwrap();
        }
        assert!(cancelled > 0, "some begins were cancelled");
        eprintln!("{cancelled} of 300 begins cancelled");
    }
}
