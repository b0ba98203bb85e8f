//! The connections the SQL stores keep between their statements, so that a statement costs one
//! round trip to the database instead of two.
//!
//! sqlx checks every connection it takes back into its pool: a `ping` (PostgreSQL's Sync,
//! MySQL's `COM_PING`, a call to SQLite's connection thread), in a task spawned for it, with no
//! option to leave it out. A statement run on `&Pool` therefore pays a second round trip, and
//! measured on PostgreSQL that check was a quarter of a read's and a refresh's CPU
//! (`benches/load/results/2026-12-07-sqlx-release-ping-ab.txt`). The check exists for connections
//! whose last use may not have finished: a future dropped mid-statement, a statement that
//! failed, a transaction never committed.
//!
//! [`LeasePool`] skips the check exactly when none of that can have happened. A statement takes
//! a [`Lease`]; when the statement (or [`LeasedTransaction`]) completed, the lease is marked
//! [`completed`](Lease::completed) and its connection is kept here for the next statement.
//! Every other lease gives its connection back through sqlx's checked return, as before.
//!
//! sqlx's pool still opens every connection, enforces `max_connections` and `acquire_timeout`,
//! and checks each connection given back. Its other rules hold for kept connections too:
//! - one kept idle for [`CHECK_CONNECTIONS_IDLE_FOR`](super::CHECK_CONNECTIONS_IDLE_FOR) or longer
//!   is pinged before it is used (the pool's `before_acquire` rule, see
//!   [`check_idle_connections`](super::check_idle_connections));
//! - one taken from sqlx [`KEEP_AT_MOST_FOR`] ago goes back through sqlx at its next release, so
//!   sqlx's max lifetime, its `after_release` hook and its check still see every connection
//!   regularly;
//! - one kept unused for [`RETURN_IDLE_AFTER`] goes back to sqlx's idle queue (a sweep), so the
//!   pool's idle timeout and [`Pool::close`](sqlx::Pool::close) work as before;
//! - a quarter of `max_connections` (at least one) is never kept: a host application's own
//!   queries on the same pool (`pool()`) always find connections passing through sqlx's queue;
//! - while a statement waits in sqlx's `acquire`, no connection is kept: the next one freed
//!   goes back to sqlx, which hands it to the waiter.

use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::pool::PoolConnection;
use sqlx::{Database, Either, Execute, Executor, SqlStr};
use sqlx_core::transaction::TransactionManager as _;

use super::CHECK_CONNECTIONS_IDLE_FOR;

/// How long after sqlx handed a connection out it is given back through sqlx's checked return,
/// at its next release.
pub(crate) const KEEP_AT_MOST_FOR: Duration = Duration::from_secs(30);

/// How long a kept connection may go unused before the sweep gives it back to sqlx.
pub(crate) const RETURN_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A sqlx pool with the connections of completed statements kept for the next statement (see
/// the module doc). Cloning shares the pool and its kept connections.
pub(crate) struct LeasePool<DB: Database> {
    shared: Arc<Shared<DB>>,
}

impl<DB: Database> Clone for LeasePool<DB> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<DB: Database> std::fmt::Debug for LeasePool<DB> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.shared.state();
        f.debug_struct("LeasePool")
            .field("pool", &self.shared.pool)
            .field("kept", &state.kept.len())
            .field("members", &state.members)
            .field("keep_at_most", &self.shared.keep_at_most)
            .finish()
    }
}

struct Shared<DB: Database> {
    pool: sqlx::Pool<DB>,
    state: Mutex<State<DB>>,
    /// How many connections may belong to the kept set at once (kept or out on a lease).
    keep_at_most: usize,
    /// [`KEEP_AT_MOST_FOR`] (shorter in tests).
    keep_at_most_for: Duration,
}

struct State<DB: Database> {
    /// Idle kept connections, the most recently used last (taken first: it is the warmest).
    kept: Vec<Kept<DB>>,
    /// Connections of the kept set: those in `kept` and those out on a lease taken from it.
    members: usize,
    /// Leases waiting in sqlx's `acquire`.
    waiting: usize,
}

struct Kept<DB: Database> {
    connection: PoolConnection<DB>,
    taken_from_pool_at: Instant,
    idle_since: Instant,
}

impl<DB: Database> Shared<DB> {
    fn state(&self) -> MutexGuard<'_, State<DB>> {
        // The state is a list and two counters, changed without any call that can panic.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<DB: Database> LeasePool<DB> {
    /// Wraps `pool`. Keeps at most three quarters of its `max_connections` (none of a pool of
    /// one), and starts the sweep of idle kept connections on the current Tokio runtime.
    pub(crate) fn new(pool: sqlx::Pool<DB>) -> Self {
        Self::with_times(pool, KEEP_AT_MOST_FOR, RETURN_IDLE_AFTER)
    }

    fn with_times(
        pool: sqlx::Pool<DB>,
        keep_at_most_for: Duration,
        return_idle_after: Duration,
    ) -> Self {
        let max = pool.options().get_max_connections() as usize;
        let keep_at_most = max - (max / 4).max(1).min(max);
        let shared = Arc::new(Shared {
            pool,
            state: Mutex::new(State {
                kept: Vec::new(),
                members: 0,
                waiting: 0,
            }),
            keep_at_most,
            keep_at_most_for,
        });
        if let (true, Ok(runtime)) = (keep_at_most > 0, tokio::runtime::Handle::try_current()) {
            runtime.spawn(sweep(Arc::downgrade(&shared), return_idle_after));
        }
        Self { shared }
    }

    /// The sqlx pool, for queries of the host application's own.
    pub(crate) fn pool(&self) -> &sqlx::Pool<DB> {
        &self.shared.pool
    }

    /// How many connections are kept idle now (tests).
    #[cfg(test)]
    fn kept(&self) -> usize {
        self.shared.state().kept.len()
    }

    /// A connection for one statement or transaction: the warmest kept one, else one from sqlx.
    pub(crate) async fn acquire(&self) -> Result<Lease<DB>, sqlx::Error> {
        loop {
            let (taken, too_old) = self.take_kept();
            drop(too_old);
            let Some(kept) = taken else {
                // Counted by `take_kept` under the lock; uncounted however the wait ends,
                // cancellation included.
                let waiting = Waiting(&self.shared);
                let connection = self.shared.pool.acquire().await;
                drop(waiting);
                return Ok(self.lease(connection?, Instant::now(), false));
            };
            let idle_for = kept.idle_since.elapsed();
            let mut lease = self.lease(kept.connection, kept.taken_from_pool_at, true);
            if idle_for < CHECK_CONNECTIONS_IDLE_FOR {
                return Ok(lease);
            }
            // As the pool's own rule: a connection idle this long is checked before it is used.
            // A failed check leaves the lease incomplete, so sqlx's return closes it.
            if sqlx::Connection::ping(lease.connection()).await.is_ok() {
                return Ok(lease);
            }
        }
    }

    /// A lease of `connection`, taken from sqlx at `taken_from_pool_at`; `member` when it
    /// comes from the kept set.
    fn lease(
        &self,
        connection: PoolConnection<DB>,
        taken_from_pool_at: Instant,
        member: bool,
    ) -> Lease<DB> {
        Lease {
            connection: Some(connection),
            taken_from_pool_at,
            member,
            completed: false,
            close_unless_completed: false,
            shared: Arc::clone(&self.shared),
        }
    }

    /// The warmest kept connection still young enough, with those found past
    /// [`KEEP_AT_MOST_FOR`] (dropped by the caller outside the lock: back through sqlx's
    /// checked return). With none, counts the caller as waiting before the lock is released,
    /// so that no connection is kept while it waits in sqlx's `acquire`.
    fn take_kept(&self) -> (Option<Kept<DB>>, Vec<PoolConnection<DB>>) {
        let mut too_old = Vec::new();
        let mut state = self.shared.state();
        while let Some(kept) = state.kept.pop() {
            if kept.taken_from_pool_at.elapsed() < self.shared.keep_at_most_for {
                return (Some(kept), too_old);
            }
            state.members -= 1;
            too_old.push(kept.connection);
        }
        state.waiting += 1;
        (None, too_old)
    }
}

struct Waiting<'a, DB: Database>(&'a Shared<DB>);

impl<DB: Database> Drop for Waiting<'_, DB> {
    fn drop(&mut self) {
        self.0.state().waiting -= 1;
    }
}

/// Gives kept connections unused for `idle_after` ([`RETURN_IDLE_AFTER`]) back to sqlx, and all
/// of them once the pool is closed; ends with the last [`LeasePool`] clone.
async fn sweep<DB: Database>(shared: Weak<Shared<DB>>, idle_after: Duration) {
    loop {
        tokio::time::sleep(idle_after).await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let closed = shared.pool.is_closed();
        let returned: Vec<Kept<DB>> = {
            let mut state = shared.state();
            // Oldest first: the most recently used are at the end.
            let idle = state
                .kept
                .iter()
                .take_while(|kept| closed || kept.idle_since.elapsed() >= idle_after)
                .count();
            state.members -= idle;
            state.kept.drain(..idle).collect()
        };
        drop(returned);
    }
}

impl<DB: Database> LeasePool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Runs `batch`, a whole write transaction written as one batch of statements (its `BEGIN`
    /// first, its `COMMIT` last), and returns the rows its statements answered. On SQLite that
    /// is one hand-off to the connection's thread, where a transaction begun and committed
    /// through sqlx takes three (`BEGIN`, the statements, `COMMIT`).
    ///
    /// sqlx does not know of a transaction begun inside a statement: it would neither roll it
    /// back nor close the connection if the batch stopped halfway. So the batch runs to its end
    /// in a task of its own, holding `turn` (the dialect's writer turn) until its connection is
    /// back: a caller cancelled meanwhile cannot leave a connection inside a transaction, and
    /// what the batch committed stays committed, as if the answer had been lost on the way. A
    /// batch that fails is rolled back here before its connection goes back through sqlx's
    /// checked return.
    pub(crate) async fn transaction_in_one_batch<T, Q>(
        &self,
        turn: T,
        batch: Q,
    ) -> Result<Vec<DB::Row>, sqlx::Error>
    where
        T: Send + 'static,
        Q: Execute<'static, DB> + Send + 'static,
    {
        let pool = self.clone();
        let run = tokio::spawn(async move {
            let mut lease = pool.acquire().await?;
            let answered = lease.connection().fetch_all(batch).await;
            match answered {
                Ok(_) => lease.completed(),
                // A `ROLLBACK` that fails found no transaction open (the `BEGIN` itself failed)
                // or a broken connection, which sqlx's check then closes.
                Err(_) => {
                    if lease.connection().execute("ROLLBACK").await.is_ok() {
                        lease.completed();
                    }
                }
            }
            drop(lease);
            drop(turn);
            answered
        });
        match run.await {
            Ok(answered) => answered,
            Err(stopped) if stopped.is_panic() => std::panic::resume_unwind(stopped.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(sqlx::Error::PoolClosed),
        }
    }
}

/// One connection out of a [`LeasePool`], for one statement or transaction. Dropped after
/// [`completed`](Self::completed), its connection is kept for the next lease (within the limits
/// of the module doc); dropped otherwise, it goes back through sqlx's checked return.
pub(crate) struct Lease<DB: Database> {
    connection: Option<PoolConnection<DB>>,
    taken_from_pool_at: Instant,
    /// Whether the connection counts among the kept set's members.
    member: bool,
    completed: bool,
    /// Set while a `BEGIN` awaits its answer: dropped then, the connection is closed.
    close_unless_completed: bool,
    shared: Arc<Shared<DB>>,
}

impl<DB: Database> Lease<DB> {
    /// The connection, to run statements on.
    #[allow(clippy::expect_used)] // `connection` is emptied only by `drop`, which moves it out
    pub(crate) fn connection(&mut self) -> &mut DB::Connection {
        self.connection
            .as_mut()
            .expect("a lease holds its connection until it is dropped")
    }

    /// Marks the lease's work as finished: every statement answered in full, no transaction
    /// left open. Its connection is then in the state sqlx's check would have found.
    pub(crate) fn completed(&mut self) {
        self.completed = true;
    }
}

impl<DB: Database> Drop for Lease<DB> {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        let shared = &self.shared;
        let mut state = shared.state();
        let keep = self.completed
            && state.waiting == 0
            && (self.member || state.members < shared.keep_at_most)
            && self.taken_from_pool_at.elapsed() < shared.keep_at_most_for
            && !shared.pool.is_closed();
        if keep {
            if !self.member {
                state.members += 1;
            }
            state.kept.push(Kept {
                connection,
                taken_from_pool_at: self.taken_from_pool_at,
                idle_since: Instant::now(),
            });
            return;
        }
        if self.member {
            state.members -= 1;
        }
        drop(state);
        let mut connection = connection;
        if self.close_unless_completed && !self.completed {
            connection.close_on_drop();
        }
        // sqlx's checked return: its ping, then its idle queue or a close.
        drop(connection);
    }
}

/// A transaction on a [`Lease`]. Committed, its connection is kept like that of any completed
/// statement; dropped open, its rollback is started (as sqlx's own transaction does) and the
/// connection goes back through sqlx's checked return, whose ping sends the rollback.
pub(crate) struct LeasedTransaction<DB: Database> {
    lease: Lease<DB>,
    open: bool,
}

impl<DB: Database> LeasedTransaction<DB> {
    /// Begins a transaction with `statement` (the dialect's `BEGIN` when `None`).
    pub(crate) async fn begin(
        pool: &LeasePool<DB>,
        statement: Option<SqlStr>,
    ) -> Result<Self, sqlx::Error> {
        let mut lease = pool.acquire().await?;
        // A `BEGIN` sent without its answer read (the future dropped, or an error) may leave the
        // server inside a transaction that sqlx does not know of: sqlx-mysql's depth counts
        // only answered `BEGIN`s (sqlx-postgres's too before 0.9.1), so its rollback on drop does
        // nothing, its ping does not end a transaction, and the next statements on that
        // connection would never be committed. sqlx's own `Pool::begin` returns such a
        // connection to its pool; this one is closed. Not on SQLite: its connection thread rolls
        // back a `BEGIN` nobody awaited any more, and closing the only connection of an
        // in-memory database would delete the database.
        lease.close_unless_completed = DB::NAME != "SQLite"; // `sqlx::Sqlite::NAME`
        DB::TransactionManager::begin(lease.connection(), statement).await?;
        lease.close_unless_completed = false;
        Ok(Self { lease, open: true })
    }

    /// Commits; the connection is then kept for the next lease.
    pub(crate) async fn commit(mut self) -> Result<(), sqlx::Error> {
        DB::TransactionManager::commit(self.lease.connection()).await?;
        self.open = false;
        self.lease.completed();
        Ok(())
    }
}

impl<DB: Database> Drop for LeasedTransaction<DB> {
    fn drop(&mut self) {
        if self.open {
            DB::TransactionManager::start_rollback(self.lease.connection());
        }
    }
}

impl<DB: Database> std::ops::Deref for LeasedTransaction<DB> {
    type Target = DB::Connection;

    #[allow(clippy::expect_used)] // `connection` is emptied only by the lease's `drop`
    fn deref(&self) -> &Self::Target {
        self.lease
            .connection
            .as_ref()
            .expect("a lease holds its connection until it is dropped")
    }
}

impl<DB: Database> std::ops::DerefMut for LeasedTransaction<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.lease.connection()
    }
}

/// Statements run on `&LeasePool` as on `&Pool`: each on a lease, marked completed once its
/// answer was read in full.
impl<'p, DB: Database> Executor<'p> for &'p LeasePool<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn execute<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<DB::QueryResult, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut lease = self.acquire().await?;
            let done = lease.connection().execute(query).await?;
            lease.completed();
            Ok(done)
        })
    }

    fn fetch_all<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Vec<DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut lease = self.acquire().await?;
            let rows = lease.connection().fetch_all(query).await?;
            lease.completed();
            Ok(rows)
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        Box::pin(async move {
            let mut lease = self.acquire().await?;
            // Every dialect reads a statement's answer to its end before it answers the row.
            let row = lease.connection().fetch_optional(query).await?;
            lease.completed();
            Ok(row)
        })
    }

    /// Read in full before the first item is yielded (no store streams its rows), so that the
    /// connection is released complete.
    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let everything = async move {
            let mut lease = self.acquire().await?;
            let items: Vec<_> = lease.connection().fetch_many(query).try_collect().await?;
            lease.completed();
            Ok::<_, sqlx::Error>(items)
        };
        stream::once(everything)
            .map(|answer| match answer {
                Ok(items) => stream::iter(items.into_iter().map(Ok)).left_stream(),
                Err(error) => stream::once(async move { Err(error) }).right_stream(),
            })
            .flatten()
            .boxed()
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move {
            let mut lease = self.acquire().await?;
            let statement = lease.connection().prepare_with(sql, parameters).await?;
            lease.completed();
            Ok(statement)
        })
    }

    /// sqlx's query macros describe statements through this (its `offline` feature, which
    /// `sqlx::migrate!` brings into every build).
    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<sqlx::Describe<DB>, sqlx::Error>>
    where
        'p: 'e,
    {
        Box::pin(async move {
            let mut lease = self.acquire().await?;
            let description = lease.connection().describe(sql).await?;
            lease.completed();
            Ok(description)
        })
    }
}

/// Polls `work` up to `polls` times (a yield before each poll but the first), then drops it
/// unless it finished: whether it was cancelled. The drop comes right after a poll, so a
/// `BEGIN` sent by that poll is dropped in flight; tokio's timer, which counts in milliseconds,
/// could not place a cancellation that precisely.
#[cfg(test)]
pub(crate) async fn cancelled_after_polls<F: std::future::Future>(work: F, polls: u32) -> bool {
    // Boxed, so that dropping it drops the future itself.
    let mut work = Box::pin(work);
    for poll in 0..polls.max(1) {
        if poll > 0 {
            tokio::task::yield_now().await;
        }
        let polled = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(work.as_mut(), cx))
        })
        .await;
        if polled.is_ready() {
            return false;
        }
    }
    true
}

/// One round of the cancelled-`BEGIN` tests: a `BEGIN` dropped after 1 to 30 polls (by
/// `round`), then time for sqlx's checked return, which runs in a task of its own. Whether the
/// `BEGIN` was cancelled.
#[cfg(test)]
async fn cancel_a_begin<DB: Database>(pool: &LeasePool<DB>, round: u64) -> bool {
    let polls = u32::try_from(round % 30).unwrap_or(0) + 1;
    let cancelled = cancelled_after_polls(LeasedTransaction::begin(pool, None), polls).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    cancelled
}

#[cfg(all(test, feature = "sqlite"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod sqlite_tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    async fn lease_pool(
        max_connections: u32,
        return_idle_after: Duration,
    ) -> LeasePool<sqlx::Sqlite> {
        let path = std::env::temp_dir().join(format!("usermgmt-lease-{}.db", uuid::Uuid::new_v4()));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = super::super::check_idle_connections(SqlitePoolOptions::new())
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(2))
            .connect_with(options)
            .await
            .unwrap();
        LeasePool::with_times(pool, KEEP_AT_MOST_FOR, return_idle_after)
    }

    async fn select_one(pool: &LeasePool<sqlx::Sqlite>) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar("SELECT 1").fetch_one(pool).await
    }

    #[tokio::test]
    async fn a_completed_statement_keeps_its_connection_and_a_failed_one_does_not() {
        let pool = lease_pool(4, RETURN_IDLE_AFTER).await;
        for _ in 0..5 {
            assert_eq!(select_one(&pool).await.unwrap(), 1);
        }
        assert_eq!(
            pool.kept(),
            1,
            "one connection served five statements in turn"
        );

        let failed = sqlx::query("SELECT * FROM no_such_table")
            .execute(&pool)
            .await;
        assert!(failed.is_err());
        assert_eq!(
            pool.kept(),
            0,
            "the failed statement's connection went back to sqlx"
        );
        assert_eq!(select_one(&pool).await.unwrap(), 1);
    }

    /// Rows in `t`, read on a connection outside the lease pool's.
    async fn rows_in_t(pool: &LeasePool<sqlx::Sqlite>) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM t")
            .fetch_one(pool.pool())
            .await
            .unwrap()
    }

    /// A write transaction that must start at once: one left open by a batch would hold the
    /// write lock, and this one would wait for it.
    async fn write_at_once(pool: &LeasePool<sqlx::Sqlite>) {
        let write = async {
            let begin = sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE");
            let tx = LeasedTransaction::begin(pool, Some(begin)).await.unwrap();
            tx.commit().await.unwrap();
        };
        tokio::time::timeout(Duration::from_secs(1), write)
            .await
            .expect("no write lock was left behind");
    }

    #[tokio::test]
    async fn a_batch_transaction_that_fails_is_rolled_back_and_its_connection_kept() {
        let pool = lease_pool(4, RETURN_IDLE_AFTER).await;
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        let committed = pool
            .transaction_in_one_batch(
                (),
                sqlx::query("BEGIN IMMEDIATE; INSERT INTO t VALUES (1) RETURNING n; COMMIT"),
            )
            .await
            .unwrap();
        assert_eq!(committed.len(), 1, "the rows of the batch's statements");
        let failed = pool
            .transaction_in_one_batch(
                (),
                sqlx::query("BEGIN IMMEDIATE; INSERT INTO t VALUES (2); INSERT INTO no_such_table VALUES (3); COMMIT"),
            )
            .await;
        assert!(failed.is_err());
        assert_eq!(
            rows_in_t(&pool).await,
            1,
            "the failed batch's first write is gone"
        );
        assert_eq!(pool.kept(), 1, "rolled back, the connection was kept");
        write_at_once(&pool).await;
    }

    /// A caller that stops waiting does not stop the batch: it runs to its `COMMIT`, holding
    /// the turn until its connection is back, and leaves no transaction open.
    #[tokio::test]
    async fn a_batch_transaction_runs_to_its_end_when_its_caller_is_cancelled() {
        let pool = lease_pool(4, RETURN_IDLE_AFTER).await;
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        let turn = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        let mut cancelled = 0;
        for round in 0..200i64 {
            let taken = turn.clone().lock_owned().await;
            let batch = sqlx::query(
                "BEGIN IMMEDIATE; INSERT INTO t VALUES ($1); INSERT INTO t VALUES ($1); COMMIT",
            )
            .bind(round);
            let polls = u32::try_from(round % 20).unwrap() + 1;
            if cancelled_after_polls(pool.transaction_in_one_batch(taken, batch), polls).await {
                cancelled += 1;
            }
            // The turn comes back only once the batch is over.
            let _next = turn.lock().await;
            assert_eq!(rows_in_t(&pool).await, 2 * (round + 1), "round {round}");
        }
        assert!(cancelled > 0, "some callers were cancelled");
        write_at_once(&pool).await;
        eprintln!("{cancelled} of 200 callers cancelled");
    }

    /// While a statement waits in sqlx's `acquire`, a connection freed is not kept but given
    /// back to sqlx, which hands it to the waiter (kept, it would serve nobody while the waiter
    /// waited out its timeout).
    #[tokio::test]
    async fn a_connection_freed_while_a_statement_waits_goes_to_the_waiter() {
        let pool = lease_pool(4, RETURN_IDLE_AFTER).await;
        let mut all = Vec::new();
        for _ in 0..4 {
            all.push(pool.acquire().await.unwrap());
        }
        let waiter = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.acquire().await.map(drop) })
        };
        while pool.shared.state().waiting == 0 {
            tokio::task::yield_now().await;
        }
        let mut freed = all.pop().unwrap();
        freed.completed();
        drop(freed);
        assert_eq!(pool.kept(), 0, "nothing is kept while a statement waits");
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the waiter got the freed connection")
            .unwrap()
            .unwrap();
    }

    /// A `BEGIN` cancelled while SQLite still had it (waiting here for another connection's
    /// write lock) does not close its connection: SQLite's connection thread rolls back a
    /// `BEGIN` nobody awaits any more, and closing the one connection of an in-memory database
    /// would delete the database.
    #[tokio::test]
    async fn a_cancelled_begin_on_sqlite_keeps_its_connection() {
        let path = std::env::temp_dir().join(format!("usermgmt-lease-{}.db", uuid::Uuid::new_v4()));
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .busy_timeout(Duration::from_secs(5));
        let connects = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = connects.clone();
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(move |_, _| {
                let counted = counted.clone();
                Box::pin(async move {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok(())
                })
            })
            .connect_with(options.clone())
            .await
            .unwrap();
        let pool = LeasePool::new(pool);
        let mut blocker: sqlx::SqliteConnection =
            <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
                .await
                .unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut blocker)
            .await
            .unwrap();
        let begin = LeasedTransaction::begin(
            &pool,
            Some(sqlx::SqlSafeStr::into_sql_str("BEGIN IMMEDIATE")),
        );
        assert!(
            tokio::time::timeout(Duration::from_millis(200), begin)
                .await
                .is_err(),
            "the BEGIN waits for the other connection's write lock"
        );
        sqlx::Executor::execute(&mut blocker, "COMMIT")
            .await
            .unwrap();
        write_at_once(&pool).await;
        assert_eq!(
            connects.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the connection of the cancelled BEGIN was not closed"
        );
    }

    #[tokio::test]
    async fn a_pool_of_one_keeps_nothing() {
        let pool = lease_pool(1, RETURN_IDLE_AFTER).await;
        for _ in 0..3 {
            assert_eq!(select_one(&pool).await.unwrap(), 1);
        }
        assert_eq!(pool.kept(), 0);
    }

    #[tokio::test]
    async fn a_transaction_is_kept_only_once_committed() {
        let pool = lease_pool(4, RETURN_IDLE_AFTER).await;
        sqlx::query("CREATE TABLE t (n INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(pool.kept(), 1);

        let mut open = LeasedTransaction::begin(&pool, None).await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)")
            .execute(&mut *open)
            .await
            .unwrap();
        drop(open);
        assert_eq!(
            pool.kept(),
            0,
            "an open transaction's connection went back to sqlx"
        );

        let mut committed = LeasedTransaction::begin(&pool, None).await.unwrap();
        sqlx::query("INSERT INTO t VALUES (2)")
            .execute(&mut *committed)
            .await
            .unwrap();
        committed.commit().await.unwrap();
        assert_eq!(pool.kept(), 1);
        let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM t")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows, [2], "the dropped transaction was rolled back");
    }

    /// More statements at once than the pool has connections: each waiter in sqlx's `acquire`
    /// is served by a connection freed here (none is kept while one waits), and so are queries
    /// of the host application's own on the same pool.
    #[tokio::test]
    async fn statements_and_host_queries_beyond_the_pool_size_are_all_served() {
        let pool = lease_pool(3, RETURN_IDLE_AFTER).await;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let pool = pool.clone();
            tasks.spawn(async move {
                for _ in 0..50 {
                    select_one(&pool).await?;
                }
                Ok::<_, sqlx::Error>(())
            });
        }
        for _ in 0..4 {
            let host = pool.pool().clone();
            tasks.spawn(async move {
                for _ in 0..20 {
                    sqlx::query_scalar::<_, i64>("SELECT 2")
                        .fetch_one(&host)
                        .await?;
                }
                Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap()
                .expect("no statement timed out waiting for a connection");
        }
        assert!(
            pool.kept() <= 2,
            "at most three quarters of the pool is kept"
        );
    }

    #[tokio::test]
    async fn kept_connections_go_back_to_sqlx_when_idle_and_when_the_pool_closes() {
        let pool = lease_pool(4, Duration::from_millis(100)).await;
        assert_eq!(select_one(&pool).await.unwrap(), 1);
        assert_eq!(pool.kept(), 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(pool.kept(), 0, "the sweep gave the idle connection back");
        assert!(pool.pool().num_idle() >= 1);

        let pool = lease_pool(4, Duration::from_millis(100)).await;
        assert_eq!(select_one(&pool).await.unwrap(), 1);
        assert_eq!(pool.kept(), 1);
        tokio::time::timeout(Duration::from_secs(2), pool.pool().close())
            .await
            .expect("closing the pool does not wait on kept connections");
    }

    #[tokio::test]
    async fn a_connection_taken_long_ago_goes_back_through_sqlx() {
        let path = std::env::temp_dir().join(format!("usermgmt-lease-{}.db", uuid::Uuid::new_v4()));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true),
            )
            .await
            .unwrap();
        let pool = LeasePool::with_times(pool, Duration::from_millis(50), RETURN_IDLE_AFTER);
        assert_eq!(select_one(&pool).await.unwrap(), 1);
        assert_eq!(pool.kept(), 1);
        tokio::time::sleep(Duration::from_millis(80)).await;
        // Taken from the kept set past its time: given back, and a connection from sqlx used
        // (and kept in its place, with its own time).
        assert_eq!(select_one(&pool).await.unwrap(), 1);
        let state = pool.shared.state();
        assert_eq!((state.kept.len(), state.members), (1, 1));
        assert!(
            state.kept[0].taken_from_pool_at.elapsed() < Duration::from_millis(50),
            "the connection kept now was taken from sqlx by the second statement"
        );
    }
}

#[cfg(all(test, feature = "postgres"))]
#[allow(clippy::unwrap_used)]
mod postgres_tests {
    use super::*;

    async fn lease_pool(return_idle_after: Duration) -> Option<LeasePool<sqlx::Postgres>> {
        let Ok(url) = std::env::var("USERMGMT_TEST_POSTGRES_URL") else {
            eprintln!("notice: USERMGMT_TEST_POSTGRES_URL is unset; skipping a PostgreSQL test");
            return None;
        };
        let pool = super::super::check_idle_connections(sqlx::postgres::PgPoolOptions::new())
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&url)
            .await
            .unwrap();
        Some(LeasePool::with_times(
            pool,
            KEEP_AT_MOST_FOR,
            return_idle_after,
        ))
    }

    async fn backend(pool: &LeasePool<sqlx::Postgres>) -> i32 {
        sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(pool)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn statements_in_turn_run_on_one_connection() {
        let Some(pool) = lease_pool(RETURN_IDLE_AFTER).await else {
            return;
        };
        let first = backend(&pool).await;
        for _ in 0..5 {
            assert_eq!(backend(&pool).await, first);
        }
    }

    /// A statement abandoned mid-answer is not kept: its connection goes through sqlx's check,
    /// and no later statement reads the abandoned answer.
    #[tokio::test]
    async fn a_cancelled_statement_is_not_kept() {
        let Some(pool) = lease_pool(RETURN_IDLE_AFTER).await else {
            return;
        };
        assert!(backend(&pool).await > 0);
        let slow = sqlx::query_scalar::<_, i32>("SELECT 7 FROM pg_sleep(0.5)").fetch_one(&pool);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slow)
                .await
                .is_err()
        );
        assert_eq!(pool.kept(), 0);
        for n in 1..=3 {
            let answer: i32 = sqlx::query_scalar("SELECT $1")
                .bind(n)
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(answer, n);
        }
    }

    /// A kept connection whose server process ended is found by the idle check and replaced.
    #[tokio::test]
    async fn a_kept_connection_that_died_while_idle_is_replaced() {
        let Some(pool) = lease_pool(Duration::from_secs(60)).await else {
            return;
        };
        let victim = backend(&pool).await;
        assert_eq!(pool.kept(), 1);
        let host = pool.pool().clone();
        let ended: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(victim)
            .fetch_one(&host)
            .await
            .unwrap();
        assert!(ended);
        tokio::time::sleep(CHECK_CONNECTIONS_IDLE_FOR + Duration::from_millis(100)).await;
        assert_ne!(backend(&pool).await, victim);
    }

    /// A `BEGIN` whose future is dropped before its answer leaves no connection of the pool
    /// idle inside a transaction (where the next statements would never be committed).
    #[tokio::test]
    async fn a_cancelled_begin_leaves_no_connection_in_a_transaction() {
        let Ok(url) = std::env::var("USERMGMT_TEST_POSTGRES_URL") else {
            eprintln!("notice: USERMGMT_TEST_POSTGRES_URL is unset; skipping a PostgreSQL test");
            return;
        };
        let name = format!("lease-cancel-{}", uuid::Uuid::new_v4().simple());
        let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
            .unwrap()
            .application_name(&name);
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .unwrap();
        let watcher = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let pool = LeasePool::new(pool);
        let mut cancelled = 0;
        for round in 0..300u64 {
            if cancel_a_begin(&pool, round).await {
                cancelled += 1;
            }
            let stuck: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
            )
            .bind(&name)
            .fetch_one(&watcher)
            .await
            .unwrap();
            assert_eq!(
                stuck, 0,
                "round {round}: a connection was left inside a transaction"
            );
        }
        eprintln!("{cancelled} of 300 begins cancelled");
    }
}

#[cfg(all(test, feature = "mysql"))]
#[allow(clippy::unwrap_used)]
mod mysql_tests {
    use super::*;

    /// sqlx-mysql (0.9.1) counts a transaction only once its `BEGIN` was answered, so a `BEGIN`
    /// cancelled in flight would leave its connection inside a transaction nobody ends, and
    /// the statements later run on it would never be committed. Here every statement after a
    /// cancelled `BEGIN` must be seen by another connection. One connection, kept by nobody,
    /// so each statement runs on the connection the `BEGIN` was cancelled on.
    #[tokio::test]
    async fn a_cancelled_begin_leaves_no_connection_in_a_transaction() {
        let Ok(url) = std::env::var("USERMGMT_TEST_MYSQL_URL") else {
            eprintln!("notice: USERMGMT_TEST_MYSQL_URL is unset; skipping a MySQL test");
            return;
        };
        let pool = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let watcher = sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let table = format!("lease_cancel_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TABLE {table} (n INT) ENGINE=InnoDB"
        )))
        .execute(&watcher)
        .await
        .unwrap();
        let pool = LeasePool::new(pool);
        let insert = format!("INSERT INTO {table} VALUES (?)");
        let count = format!("SELECT count(*) FROM {table}");
        let mut cancelled = 0;
        for round in 0..300u64 {
            if cancel_a_begin(&pool, round).await {
                cancelled += 1;
            }
            sqlx::query(sqlx::AssertSqlSafe(insert.clone()))
                .bind(round)
                .execute(&pool)
                .await
                .unwrap();
            let seen: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone()))
                .fetch_one(&watcher)
                .await
                .unwrap();
            assert_eq!(
                seen,
                i64::try_from(round + 1).unwrap(),
                "round {round}: a write was left inside a transaction nobody ends"
            );
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}")))
            .execute(&watcher)
            .await
            .unwrap();
        assert!(cancelled > 0, "some begins were cancelled");
        eprintln!("{cancelled} of 300 begins cancelled");
    }
}
