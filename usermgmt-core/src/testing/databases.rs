//! Fresh test databases: a SQLite file in a temporary directory, or a new PostgreSQL database
//! on the server named by `USERMGMT_TEST_POSTGRES_URL` (skipped with a printed notice when the
//! variable is unset, so a newcomer's `cargo test` passes without PostgreSQL), or a new
//! MySQL / MariaDB database on the server named by `USERMGMT_TEST_MYSQL_URL` (likewise).

#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use crate::store::Store;
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
use std::sync::Arc;

/// The variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "USERMGMT_TEST_POSTGRES_URL";

/// The variable naming the MySQL / MariaDB server for tests.
pub const MYSQL_URL_VAR: &str = "USERMGMT_TEST_MYSQL_URL";

/// Every SQLite test database file's name starts with this (and its `-wal`/`-shm` files').
const SQLITE_TEST_FILE_PREFIX: &str = "usermgmt-test-";

/// A test database file untouched for this long belongs to no running test.
const SQLITE_LEFTOVER_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The URL of a new, empty SQLite database file (in the system's temporary directory). A suite
/// trial's file is removed when the trial passes ([`remove_trial_databases`]); the first call of
/// a test process removes the files earlier runs left there (failed trials', other tests').
pub fn sqlite_test_database_url() -> String {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let dir = std::env::temp_dir();
    #[allow(clippy::disallowed_methods)] // file ages are the file system's wall clock
    ONCE.call_once(|| remove_leftover_sqlite_files(&dir, std::time::SystemTime::now()));
    let path = dir.join(format!(
        "{SQLITE_TEST_FILE_PREFIX}{}.db",
        uuid::Uuid::new_v4()
    ));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    created(Created::SqliteFile(path));
    url
}

/// Removes the SQLite test files in `dir` last modified [`SQLITE_LEFTOVER_AGE`] or more before
/// `now`. A younger file may belong to a test process running now and is kept.
fn remove_leftover_sqlite_files(dir: &std::path::Path, now: std::time::SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(SQLITE_TEST_FILE_PREFIX) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|modified| {
                now.duration_since(modified)
                    .is_ok_and(|age| age >= SQLITE_LEFTOVER_AGE)
            });
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// A [`SqliteStore`](crate::store::sqlite::SqliteStore) on a new database file.
#[cfg(feature = "sqlite")]
pub async fn sqlite_test_store() -> Arc<dyn Store> {
    let url = sqlite_test_database_url();
    Arc::new(
        crate::store::sqlite::SqliteStore::connect(&url)
            .await
            .expect("SQLite test database opens"),
    )
}

/// Creates a new database on the test PostgreSQL server and returns its URL; `None` (after a
/// printed notice) when `USERMGMT_TEST_POSTGRES_URL` is unset. Panics when it is set but the
/// server cannot be used: a configured test must not silently pass.
#[cfg(feature = "postgres")]
pub async fn postgres_test_database_url() -> Option<String> {
    use sqlx::Connection;
    let Some(base) = std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        eprintln!("notice: {POSTGRES_URL_VAR} is unset; skipping a PostgreSQL test");
        return None;
    };
    let name = format!("{TEST_DATABASE_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base)
        .await
        .unwrap_or_else(|e| panic!("{POSTGRES_URL_VAR} is set but unreachable: {e}"));
    drop_leftover_databases(&mut admin).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE for a test");
    let _ = admin.close().await;
    created(Created::Postgres {
        server: base.clone(),
        name: name.clone(),
    });
    Some(with_database(&base, &name))
}

/// Every test database's name starts with this.
#[cfg(feature = "postgres")]
const TEST_DATABASE_PREFIX: &str = "usermgmt_test_";

/// Once per test process: drops the test databases earlier runs left behind. A database still
/// in use (another test process running now) refuses `DROP DATABASE` and is kept.
#[cfg(feature = "postgres")]
async fn drop_leftover_databases(admin: &mut sqlx::PgConnection) {
    use sqlx::Row;
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let names = sqlx::query("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{TEST_DATABASE_PREFIX}%"))
            .fetch_all(&mut *admin)
            .await
            .unwrap_or_default();
        for row in names {
            let Ok(name) = row.try_get::<String, _>("datname") else {
                continue;
            };
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS \"{name}\""
            )))
            .execute(&mut *admin)
            .await;
        }
    })
    .await;
}

/// A [`PostgresStore`](crate::store::postgres::PostgresStore) on a new database, or `None`
/// when `USERMGMT_TEST_POSTGRES_URL` is unset.
#[cfg(feature = "postgres")]
pub async fn postgres_test_store() -> Option<Arc<dyn Store>> {
    let url = postgres_test_database_url().await?;
    let store = crate::store::postgres::PostgresStore::connect(&url)
        .await
        .expect("PostgreSQL test database opens");
    Some(Arc::new(store))
}

/// Every MySQL test database's name starts with this.
#[cfg(feature = "mysql")]
const MYSQL_TEST_DATABASE_PREFIX: &str = "usermgmt_test_";

/// Creates a new database on the test MySQL / MariaDB server and returns its URL; `None` (after
/// a printed notice) when `USERMGMT_TEST_MYSQL_URL` is unset. Panics when it is set but the
/// server cannot be used: a configured test must not silently pass.
#[cfg(feature = "mysql")]
pub async fn mysql_test_database_url() -> Option<String> {
    use sqlx::Connection;
    let Some(base) = std::env::var(MYSQL_URL_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
    else {
        eprintln!("notice: {MYSQL_URL_VAR} is unset; skipping a MySQL test");
        return None;
    };
    let name = format!(
        "{MYSQL_TEST_DATABASE_PREFIX}{}",
        uuid::Uuid::new_v4().simple()
    );
    let options = crate::store::mysql::MySqlStore::connect_options(&base)
        .unwrap_or_else(|e| panic!("{MYSQL_URL_VAR} is not a MySQL URL: {e}"));
    let mut admin = sqlx::MySqlConnection::connect_with(&options)
        .await
        .unwrap_or_else(|e| panic!("{MYSQL_URL_VAR} is set but unreachable: {e}"));
    drop_leftover_mysql_databases(&mut admin).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    )))
    .execute(&mut admin)
    .await
    .expect("CREATE DATABASE for a test");
    let _ = admin.close().await;
    created(Created::MySql {
        server: base.clone(),
        name: name.clone(),
    });
    Some(with_database(&base, &name))
}

/// Once per test process: drops the MySQL test databases earlier runs left behind. MySQL drops
/// a database in use without a word, so only those whose tables are an hour old or more go
/// (a test runs for seconds; a database of a test process running now is younger).
#[cfg(feature = "mysql")]
async fn drop_leftover_mysql_databases(admin: &mut sqlx::MySqlConnection) {
    use sqlx::Row;
    static ONCE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    ONCE.get_or_init(|| async {
        let names = sqlx::query(
            "SELECT s.SCHEMA_NAME AS name FROM information_schema.SCHEMATA s \
             WHERE s.SCHEMA_NAME LIKE ? AND NOT EXISTS (SELECT 1 FROM information_schema.TABLES t \
             WHERE t.TABLE_SCHEMA = s.SCHEMA_NAME AND t.CREATE_TIME > NOW() - INTERVAL 1 HOUR)",
        )
        .bind(format!("{MYSQL_TEST_DATABASE_PREFIX}%"))
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
        for row in names {
            let Ok(name) = row.try_get::<String, _>("name") else {
                continue;
            };
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS `{name}`"
            )))
            .execute(&mut *admin)
            .await;
        }
    })
    .await;
}

/// A [`MySqlStore`](crate::store::mysql::MySqlStore) on a new database, or `None` when
/// `USERMGMT_TEST_MYSQL_URL` is unset.
#[cfg(feature = "mysql")]
pub async fn mysql_test_store() -> Option<Arc<dyn Store>> {
    let url = mysql_test_database_url().await?;
    let store = crate::store::mysql::MySqlStore::connect(&url)
        .await
        .expect("MySQL test database opens");
    Some(Arc::new(store))
}

/// A database made for a test, to be removed when the test has passed.
enum Created {
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
    SqliteFile(std::path::PathBuf),
    #[cfg(feature = "postgres")]
    Postgres { server: String, name: String },
    #[cfg(feature = "mysql")]
    MySql { server: String, name: String },
}

thread_local! {
    /// The databases made on this thread since its last trial ended. A suite trial opens its
    /// store on the thread that runs it (the runtime's `block_on` polls the trial there), so
    /// these are the trial's own.
    static CREATED: std::cell::RefCell<Vec<Created>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn created(database: Created) {
    CREATED.with(|list| list.borrow_mut().push(database));
}

/// Removes the databases made on this thread: called by the suites' runner when a trial has
/// passed, so a full run leaves none behind (a failed trial's are kept to be looked at, and go
/// with the next run's sweep of leftovers an hour old). Best effort: a database that cannot be
/// dropped now is left to that sweep.
pub fn remove_trial_databases() {
    let databases = CREATED.with(|list| std::mem::take(&mut *list.borrow_mut()));
    if databases.is_empty() {
        return;
    }
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("cleanup runtime builds");
    for database in databases {
        match database {
            Created::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            // WITH (FORCE): the trial's pool was dropped with its runtime, and the server may
            // not have seen all of its connections close yet.
            #[cfg(feature = "postgres")]
            Created::Postgres { server, name } => runtime.block_on(async {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            }),
            #[cfg(feature = "mysql")]
            Created::MySql { server, name } => runtime.block_on(async {
                use sqlx::Connection;
                let Ok(options) = crate::store::mysql::MySqlStore::connect_options(&server) else {
                    return;
                };
                if let Ok(mut admin) = sqlx::MySqlConnection::connect_with(&options).await {
                    let drop = format!("DROP DATABASE IF EXISTS `{name}`");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(drop))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            }),
        }
    }
}

/// `base` with its database name replaced by `name` (query parameters kept).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn with_database(base: &str, name: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((head, q)) => (head, Some(q)),
        None => (base, None),
    };
    let authority_start = without_query.find("://").map_or(0, |i| i + 3);
    let root = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::{SQLITE_LEFTOVER_AGE, remove_leftover_sqlite_files, with_database};

    #[test]
    fn leftover_sqlite_files_go_and_young_ones_stay() {
        let dir = std::env::temp_dir().join(format!("usermgmt-cleanup-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        #[allow(clippy::disallowed_methods)] // file ages are the file system's wall clock
        let now = std::time::SystemTime::now();
        let file = |name: &str, age: std::time::Duration| {
            let path = dir.join(name);
            let f = std::fs::File::create(&path).unwrap();
            f.set_modified(now - age).unwrap();
            path
        };
        let hour = SQLITE_LEFTOVER_AGE;
        let old_db = file("usermgmt-test-a.db", hour * 2);
        let old_wal = file("usermgmt-test-a.db-wal", hour * 2);
        let young_db = file("usermgmt-test-b.db", hour / 2);
        let other = file("someone-else.db", hour * 2);
        remove_leftover_sqlite_files(&dir, now);
        assert!(
            !old_db.exists() && !old_wal.exists(),
            "old test files are removed"
        );
        assert!(young_db.exists(), "a file a running test may use is kept");
        assert!(other.exists(), "files that are not ours are kept");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/test?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
