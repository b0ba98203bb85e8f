//! MySQL / MariaDB store (feature `mysql`): the third SQL dialect, on the statements every
//! dialect shares (`store/sql.rs` and each capability's `sql.rs`).
//!
//! Types (`usermgmt-core/migrations/mysql`): ids are `BINARY(16)` (sqlx's `Uuid` encoding for MySQL: 16
//! bytes rather than `CHAR(36)`'s 36, compared bytewise, UUIDv7 ids sorting by time as in the
//! other dialects); times `DATETIME(6)` in UTC (sqlx sets the connection's `time_zone` to
//! `+00:00`; microseconds as PostgreSQL keeps); JSON `JSON`; text utf8mb4 with the binary
//! collation, so equality, uniqueness and order are byte comparisons as in PostgreSQL and
//! SQLite.
//!
//! The shared statements are PostgreSQL's text. `query` and `query_scalar` translate it
//! for MySQL once per call (`translate`): `$n` parameters become `?` with the bound values
//! re-ordered (and repeated: `$1` used twice is bound twice), and `INSERT ... ON CONFLICT ...
//! DO NOTHING` becomes `INSERT IGNORE`. The few statements MySQL cannot say at all
//! (`UPDATE ... RETURNING`, `DELETE ... RETURNING`, an `UPDATE` whose `SET` expressions read
//! columns it assigns) are written for it beside the shared ones, chosen by `RETURNING`.
//!
//! Concurrency: every connection runs READ COMMITTED (set in `after_connect`), as PostgreSQL
//! does: InnoDB's default REPEATABLE READ takes gap locks on the ranges a locking statement
//! scans, which turns concurrent inserts beside one another into deadlocks, and its
//! consistent snapshot would make a conditional `UPDATE` retried after a lock wait read
//! values older than the row it then changes. Under READ COMMITTED a conditional `UPDATE`
//! re-reads the latest committed row after waiting for its lock, so the decisive checks
//! (`... WHERE used_at IS NULL`) hold across instances as on PostgreSQL. A deadlock InnoDB
//! still picks (two transactions locking the same rows in opposite orders, e.g. a foreign key's
//! shared lock on a parent row that the other then updates) rolls one of them back whole: that
//! is `Error::Contention`, and the HTTP layer runs the request's handler again when nothing
//! else it did was kept (`store::replay`). A lock wait timeout is a 503
//! `SERVICE_UNAVAILABLE`. Neither is ever a 500.

use crate::store::Timestamp;
use sqlx::mysql::{MySql, MySqlArguments, MySqlConnectOptions, MySqlPoolOptions, MySqlRow};
use sqlx::{Arguments as _, Encode, Executor, Type};
use std::str::FromStr;

/// Row lock suffix of `SELECT ... FOR UPDATE`.
const LOCK_ROW: &str = " FOR UPDATE";
/// Suffix of a `SELECT` of rows that the transaction's own inserts will reference: a shared
/// lock, so they cannot be deleted before it commits (MariaDB knows no `FOR SHARE`).
const LOCK_REFERENCED: &str = " LOCK IN SHARE MODE";
/// A case-insensitive `LIKE` of `lhs`: the text before the pattern, and after it. Both sides
/// lower-cased, then compared under the columns' binary collation: what PostgreSQL's `ILIKE`
/// does (a `_ci` collation would also ignore accents, and MariaDB has no accent-sensitive one).
fn like_ci_around(lhs: &str) -> (String, &'static str) {
    (format!("LOWER({lhs}) LIKE LOWER("), ")")
}
/// MySQL has no `RETURNING` on `UPDATE` (nor, unlike MariaDB, on `DELETE`): the statements
/// that read what they changed are written for it in two steps inside their transaction.
const RETURNING: bool = false;
/// How a refresh token is rotated (`sessions/sql.rs`).
const ROTATION: crate::sessions::sql::Rotation = crate::sessions::sql::Rotation::InSteps;
type Db = MySql;
/// A time as stored: `DATETIME(6)` in UTC.
type Ts = Timestamp;

fn ts(t: Timestamp) -> Ts {
    t
}

#[allow(clippy::unnecessary_wraps)] // the signature is shared with the SQLite dialect
fn from_ts(t: Ts) -> crate::Result<Timestamp> {
    Ok(t)
}

/// `col DESC NULLS FIRST` / `col ASC NULLS LAST`: MySQL has no `NULLS` clause (and sorts
/// NULL first ascending), so the NULL test sorts first.
fn order_nulls(column: &str, descending: bool) -> String {
    let direction = if descending { "DESC" } else { "ASC" };
    format!("{column} IS NULL {direction}, {column} {direction}")
}

/// A write transaction (rows are locked where they are changed; see `sql.rs`).
type DbTx = super::lease::LeasedTransaction<Db>;

/// A writer's turn in the store: none, MySQL's row locks order its writers.
async fn write_turn(_: &MySqlStore) -> crate::Result<()> {
    Ok(())
}

async fn begin_db(store: &MySqlStore) -> crate::Result<DbTx> {
    Ok(DbTx::begin(&store.pool, None).await?)
}

/// The migrations of the MySQL dialect (`usermgmt-core/migrations/mysql`), embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/mysql");

/// A [`Store`] on a MySQL 8 or MariaDB (10.6 and later) database.
#[derive(Debug, Clone)]
pub struct MySqlStore {
    pool: super::lease::LeasePool<Db>,
    /// Where committed audit rows are published.
    events: crate::store::EventBus,
}

impl MySqlStore {
    /// Connects to `url` (`mysql://user:password@host:port/database`; `mariadb://` is taken
    /// as the same) and applies pending migrations.
    pub async fn connect(url: &str) -> crate::Result<Self> {
        let pool = Self::pool_options()
            .connect_with(Self::connect_options(url)?)
            .await?;
        Self::from_pool(pool).await
    }

    /// The connect options of `url` (`mysql://` or `mariadb://`).
    pub fn connect_options(url: &str) -> crate::Result<MySqlConnectOptions> {
        let url = match url.strip_prefix("mariadb://") {
            Some(rest) => format!("mysql://{rest}"),
            None => url.to_owned(),
        };
        MySqlConnectOptions::from_str(&url).map_err(|e| crate::Error::Unavailable(e.to_string()))
    }

    /// The pool policy of this store: [`check_idle_connections`]
    /// and each connection's session settings ([`SESSION_SETTINGS`]). A host app's own pool
    /// handed to [`from_pool`](Self::from_pool) must be built from these options.
    pub fn pool_options() -> MySqlPoolOptions {
        super::check_idle_connections(MySqlPoolOptions::new())
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .after_connect(|connection, _meta| {
                Box::pin(async move {
                    for setting in SESSION_SETTINGS {
                        connection.execute(*setting).await?;
                    }
                    Ok(())
                })
            })
    }

    /// Wraps an existing pool (built from [`pool_options`](Self::pool_options)) and applies
    /// pending migrations.
    pub async fn from_pool(pool: sqlx::MySqlPool) -> crate::Result<Self> {
        migrate(&pool).await?;
        Ok(Self {
            pool: super::lease::LeasePool::new(pool),
            events: crate::store::EventBus::new(),
        })
    }

    /// The connection pool, for the host application's own queries.
    pub fn pool(&self) -> &sqlx::MySqlPool {
        self.pool.pool()
    }
}

/// How long a starting instance waits for another one's migrations.
const MIGRATION_LOCK_WAIT_SECS: i64 = 600;

/// Applies pending migrations, one instance at a time. sqlx's migrator takes
/// `GET_LOCK(name, -1)`, which MySQL reads as "wait forever" but MariaDB as "do not wait"
/// (it answers NULL at once, and sqlx ignores the answer): instances started together on
/// MariaDB ran the same migration twice (a duplicate key in `_sqlx_migrations`, or a
/// migration left "partially applied"). So the migrations run on a connection holding a lock of
/// this store's own, taken with a bounded wait whose answer is checked.
async fn migrate(pool: &sqlx::MySqlPool) -> crate::Result<()> {
    let mut connection = pool.acquire().await?;
    let locked: Option<i64> = sqlx::query_scalar(
        "SELECT GET_LOCK(CONCAT('usermgmt-migrations-', COALESCE(DATABASE(), '')), ?)",
    )
    .bind(MIGRATION_LOCK_WAIT_SECS)
    .fetch_one(&mut *connection)
    .await?;
    if locked != Some(1) {
        return Err(crate::Error::Unavailable(
            "another instance is still applying the database migrations".to_owned(),
        ));
    }
    let migrated = MIGRATOR
        .run(&mut *connection)
        .await
        .map_err(crate::Error::internal);
    let released = sqlx::query(
        "SELECT RELEASE_LOCK(CONCAT('usermgmt-migrations-', COALESCE(DATABASE(), '')))",
    )
    .execute(&mut *connection)
    .await;
    migrated?;
    released?;
    Ok(())
}

/// Run on every new connection: READ COMMITTED (see the module doc) and
/// `NO_BACKSLASH_ESCAPES`, so the shared statements' `LIKE ... ESCAPE '\'` is a string of one
/// backslash, as in standard SQL (sqlx already adds `PIPES_AS_CONCAT`: `||` concatenates).
pub const SESSION_SETTINGS: &[&str] = &[
    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')",
];

/// A statement of the shared PostgreSQL text in MySQL's: `?` parameters, and the order in
/// which the bound values (0-based, by `$n`) fill them.
#[derive(Debug, PartialEq, Eq)]
struct Translated {
    sql: String,
    order: Vec<usize>,
}

/// Translates a shared statement: `$n` outside quotes becomes `?` (its value's index noted,
/// once per use), and `INSERT INTO ... ON CONFLICT [(cols)] DO NOTHING` becomes
/// `INSERT IGNORE INTO ...` (a duplicate key inserts nothing and counts 0 rows, as the
/// PostgreSQL statement does). One pass over the text and one output string per statement
/// (not measured separately; each statement also costs a round trip to the database).
fn translate(sql: &str) -> Translated {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut chars = sql.char_indices().peekable();
    let mut quoted = false;
    while let Some((_, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(c);
            continue;
        }
        if c == '$' && !quoted {
            let mut n = 0usize;
            let mut digits = 0;
            while let Some(&(_, d)) = chars.peek() {
                match d.to_digit(10) {
                    Some(v) => {
                        n = n * 10 + v as usize;
                        digits += 1;
                        chars.next();
                    }
                    None => break,
                }
            }
            if digits > 0 && n > 0 {
                out.push('?');
                order.push(n - 1);
                continue;
            }
            out.push('$');
            continue;
        }
        out.push(c);
    }
    if let Some(at) = find_on_conflict_do_nothing(&out) {
        out.truncate(at);
        if let Some(rest) = out.trim_start().strip_prefix("INSERT INTO") {
            out = format!("INSERT IGNORE INTO{rest}");
        }
    }
    Translated { sql: out, order }
}

/// Where a trailing ` ON CONFLICT [(cols)] DO NOTHING` starts, if the statement ends with one.
fn find_on_conflict_do_nothing(sql: &str) -> Option<usize> {
    let at = sql.rfind(" ON CONFLICT")?;
    let tail = sql[at + " ON CONFLICT".len()..].trim();
    let rest = match tail.strip_prefix('(') {
        Some(cols) => cols.split_once(')')?.1.trim(),
        None => tail,
    };
    (rest == "DO NOTHING").then_some(at)
}

/// A bound value, kept until the statement is built so it can be placed (and repeated) where
/// its `$n` stands.
trait Bind<'q>: Send + 'q {
    fn add_to(&self, args: &mut MySqlArguments) -> Result<(), sqlx::error::BoxDynError>;
}

struct Value<T>(T);

impl<'q, T> Bind<'q> for Value<T>
where
    T: Encode<'q, MySql> + Type<MySql> + Send + 'q,
{
    fn add_to(&self, args: &mut MySqlArguments) -> Result<(), sqlx::error::BoxDynError> {
        args.add(&self.0)
    }
}

/// The dialect's `sqlx::query`: the shared statement, translated ([`translate`]), with its
/// values bound in `$n` order.
fn query<'q>(sql: impl sqlx::SqlSafeStr) -> Query<'q> {
    Query {
        translated: translate(sql.into_sql_str().as_str()),
        binds: Vec::new(),
    }
}

/// The dialect's `sqlx::query_scalar` (see [`query`]).
fn query_scalar<'q, O>(sql: impl sqlx::SqlSafeStr) -> QueryScalar<'q, O> {
    QueryScalar {
        inner: query(sql),
        output: std::marker::PhantomData,
    }
}

struct Query<'q> {
    translated: Translated,
    binds: Vec<Box<dyn Bind<'q>>>,
}

impl<'q> Query<'q> {
    fn bind<T>(mut self, value: T) -> Self
    where
        T: Encode<'q, MySql> + Type<MySql> + Send + 'q,
    {
        self.binds.push(Box::new(Value(value)));
        self
    }

    /// The translated text and its arguments, each value where its `$n` stood.
    fn build(self) -> Result<(sqlx::AssertSqlSafe<String>, MySqlArguments), sqlx::Error> {
        let Query { translated, binds } = self;
        let mut args = MySqlArguments::default();
        for &i in &translated.order {
            let value = binds.get(i).ok_or_else(|| {
                sqlx::Error::Encode(format!("no value bound for ${}", i + 1).into())
            })?;
            value.add_to(&mut args).map_err(sqlx::Error::Encode)?;
        }
        Ok((sqlx::AssertSqlSafe(translated.sql), args))
    }

    /// Runs a statement that changes rows. One outside a transaction is durable at once and is
    /// reported to the replay ledger (`store::replay`); one inside is counted when its
    /// transaction commits.
    async fn execute<'c, E>(self, executor: E) -> Result<sqlx::mysql::MySqlQueryResult, sqlx::Error>
    where
        E: Executor<'c, Database = MySql> + Placement,
    {
        let (sql, args) = self.build()?;
        let autocommit = executor.autocommit();
        let done = sqlx::query_with(sql, args).execute(executor).await?;
        if autocommit && done.rows_affected() > 0 {
            crate::store::replay::record_durable_write();
        }
        Ok(done)
    }

    async fn fetch_all<'c, E>(self, executor: E) -> Result<Vec<MySqlRow>, sqlx::Error>
    where
        E: Executor<'c, Database = MySql>,
    {
        let (sql, args) = self.build()?;
        sqlx::query_with(sql, args).fetch_all(executor).await
    }

    async fn fetch_one<'c, E>(self, executor: E) -> Result<MySqlRow, sqlx::Error>
    where
        E: Executor<'c, Database = MySql>,
    {
        let (sql, args) = self.build()?;
        sqlx::query_with(sql, args).fetch_one(executor).await
    }

    async fn fetch_optional<'c, E>(self, executor: E) -> Result<Option<MySqlRow>, sqlx::Error>
    where
        E: Executor<'c, Database = MySql>,
    {
        let (sql, args) = self.build()?;
        sqlx::query_with(sql, args).fetch_optional(executor).await
    }
}

/// Whether a statement sent through an executor is its own transaction (autocommit).
trait Placement {
    fn autocommit(&self) -> bool;
}

impl Placement for &super::lease::LeasePool<Db> {
    fn autocommit(&self) -> bool {
        true
    }
}

impl Placement for &mut sqlx::MySqlConnection {
    fn autocommit(&self) -> bool {
        use sqlx::Connection as _;
        !self.is_in_transaction()
    }
}

struct QueryScalar<'q, O> {
    inner: Query<'q>,
    output: std::marker::PhantomData<fn() -> O>,
}

impl<'q, O> QueryScalar<'q, O>
where
    O: Send + Unpin,
    (O,): for<'r> sqlx::FromRow<'r, MySqlRow>,
{
    fn bind<T>(mut self, value: T) -> Self
    where
        T: Encode<'q, MySql> + Type<MySql> + Send + 'q,
    {
        self.inner = self.inner.bind(value);
        self
    }

    async fn fetch_all<'c, E>(self, executor: E) -> Result<Vec<O>, sqlx::Error>
    where
        E: Executor<'c, Database = MySql>,
    {
        let (sql, args) = self.inner.build()?;
        sqlx::query_scalar_with(sql, args).fetch_all(executor).await
    }

    async fn fetch_one<'c, E>(self, executor: E) -> Result<O, sqlx::Error>
    where
        E: Executor<'c, Database = MySql>,
    {
        let (sql, args) = self.inner.build()?;
        sqlx::query_scalar_with(sql, args).fetch_one(executor).await
    }

    async fn fetch_optional<'c, E>(self, executor: E) -> Result<Option<O>, sqlx::Error>
    where
        E: Executor<'c, Database = MySql>,
    {
        let (sql, args) = self.inner.build()?;
        sqlx::query_scalar_with(sql, args)
            .fetch_optional(executor)
            .await
    }
}

sql_common!(MySqlStore);
store_areas!(sql_areas!(MySqlStore));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_question_marks_in_use_order() {
        let t = translate(
            "UPDATE t SET a = $1 WHERE b = $2 AND c > $1 AND d = '$3' AND e IN ($10, $3)",
        );
        assert_eq!(
            t.sql,
            "UPDATE t SET a = ? WHERE b = ? AND c > ? AND d = '$3' AND e IN (?, ?)"
        );
        assert_eq!(t.order, vec![0, 1, 0, 9, 2]);
    }

    #[test]
    fn on_conflict_do_nothing_becomes_insert_ignore() {
        let t = translate("INSERT INTO r (a, b) VALUES ($1, $2) ON CONFLICT (a, b) DO NOTHING");
        assert_eq!(t.sql, "INSERT IGNORE INTO r (a, b) VALUES (?, ?)");
        let t = translate("INSERT INTO r (a) SELECT $1 FROM x ON CONFLICT DO NOTHING");
        assert_eq!(t.sql, "INSERT IGNORE INTO r (a) SELECT ? FROM x");
        // An upsert is not rewritten (it is written for MySQL beside the shared text).
        let upsert = "INSERT INTO r (a) VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2";
        assert_eq!(translate(upsert).sql, upsert);
    }

    #[test]
    fn values_fill_their_parameters_and_a_missing_one_is_an_error() {
        let (sql, args) = query("SELECT $2, $1, $2")
            .bind(1_i64)
            .bind(2_i64)
            .build()
            .unwrap();
        assert_eq!(sql.0, "SELECT ?, ?, ?");
        assert_eq!(args.len(), 3);
        assert!(query("SELECT $1, $2").bind(1_i64).build().is_err());
    }

    #[test]
    fn null_order_matches_postgres_clauses() {
        assert_eq!(order_nulls("c", true), "c IS NULL DESC, c DESC");
        assert_eq!(order_nulls("c", false), "c IS NULL ASC, c ASC");
    }
}
