//! PostgreSQL store (feature `postgres`): native `uuid`, `timestamptz` and `jsonb` columns.
//!
//! Statements run under READ COMMITTED; every decisive check is a conditional `UPDATE`, so any
//! number of instances can share one database (see `store/sql.rs`).

use crate::store::Timestamp;
use sqlx::postgres::PgPoolOptions;

/// Row lock suffix of `SELECT ... FOR UPDATE` (SQLite's `BEGIN IMMEDIATE` locks the database).
const LOCK_ROW: &str = " FOR UPDATE";
/// Suffix of a `SELECT` of rows that the transaction's own inserts will reference: they
/// cannot be deleted before it commits (SQLite's `BEGIN IMMEDIATE` locks the database).
const LOCK_REFERENCED: &str = " FOR KEY SHARE";
/// A case-insensitive `LIKE` of `lhs`: the text before the pattern, and after it.
fn like_ci_around(lhs: &str) -> (String, &'static str) {
    (format!("{lhs} ILIKE "), "")
}
/// `UPDATE`/`DELETE ... RETURNING` is available (MySQL's dialect goes without).
const RETURNING: bool = true;
/// How a refresh token is rotated (`sessions/sql.rs`).
const ROTATION: crate::sessions::sql::Rotation = crate::sessions::sql::Rotation::OneStatement;
use sqlx::{query, query_scalar};

/// `col DESC NULLS FIRST` / `col ASC NULLS LAST`.
fn order_nulls(column: &str, descending: bool) -> String {
    if descending {
        format!("{column} DESC NULLS FIRST")
    } else {
        format!("{column} ASC NULLS LAST")
    }
}
type Db = sqlx::Postgres;
/// A time as stored: `timestamptz`.
type Ts = Timestamp;

fn ts(t: Timestamp) -> Ts {
    t
}

#[allow(clippy::unnecessary_wraps)] // the signature is shared with the SQLite dialect
fn from_ts(t: Ts) -> crate::Result<Timestamp> {
    Ok(t)
}

/// A write transaction (rows are locked where they are changed; see `sql.rs`).
type DbTx = super::lease::LeasedTransaction<Db>;

/// A writer's turn in the store: none, PostgreSQL's row locks order its writers.
async fn write_turn(_: &PostgresStore) -> crate::Result<()> {
    Ok(())
}

async fn begin_db(store: &PostgresStore) -> crate::Result<DbTx> {
    Ok(DbTx::begin(&store.pool, None).await?)
}

/// The migrations of the PostgreSQL dialect (`usermgmt-core/migrations/postgres`), embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// A [`Store`] on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: super::lease::LeasePool<Db>,
    /// Where committed audit rows are published.
    events: crate::store::EventBus,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies pending
    /// migrations (concurrent starts are serialised by the migrator's advisory lock).
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let pool = super::check_idle_connections(PgPoolOptions::new())
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect(url)
            .await?;
        Self::from_pool(pool).await
    }

    /// Wraps an existing pool and applies pending migrations.
    pub async fn from_pool(pool: sqlx::PgPool) -> crate::Result<Self> {
        MIGRATOR.run(&pool).await.map_err(crate::Error::internal)?;
        Ok(Self {
            pool: super::lease::LeasePool::new(pool),
            events: crate::store::EventBus::new(),
        })
    }

    /// The connection pool, for the host application's own queries.
    pub fn pool(&self) -> &sqlx::PgPool {
        self.pool.pool()
    }
}

sql_common!(PostgresStore);
store_areas!(sql_areas!(PostgresStore));
