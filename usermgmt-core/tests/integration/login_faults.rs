//! A login whose password was right but whose session does not open: the database refuses the
//! session's insert (a trigger planted for the test), after the password check's lockout turn
//! was handed to `start_session`. The turn is given back only where the store surely wrote
//! nothing (a MySQL deadlock victim, rolled back whole); after any other failure it stays
//! counted like a wrong password, and nothing of the login is kept (no session, no audit row).

use std::sync::Arc;
use usermgmt_core::ClientInfo;
use usermgmt_core::secret::Password;
use usermgmt_core::store::Store;
use usermgmt_core::testing::{PASSWORD, TestApp};
use usermgmt_core::{Clock, Error, LoginOutcome};

/// What the planted failure should do to the password check's turn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Turn {
    /// Stays counted: it is unknown whether the commit happened.
    Counted,
    /// Given back: the store surely wrote nothing.
    GivenBack,
}

/// Logs `anna` in once (a session, the count at 0), plants the failure with `plant`, logs in
/// again with the right password, and checks the error, the count, and that nothing was kept.
async fn login_after_a_planted_failure(
    store: Arc<dyn Store>,
    plant: impl AsyncFnOnce(),
    expected: Turn,
) {
    let app = TestApp::new(store.clone());
    app.access_token_for("anna", &["user"]).await;
    let anna = store
        .user_by_email("anna@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(anna.failed_login_attempts, 0);
    let logins_before = logins(&*store, anna.id).await;
    let sessions = async || {
        store
            .list_sessions(anna.id, app.clock.now())
            .await
            .unwrap()
            .len()
    };
    assert_eq!(sessions().await, 1);

    plant().await;
    let outcome = app
        .manager
        .login("anna", &Password::new(PASSWORD), &ClientInfo::default())
        .await;
    let err = match outcome {
        Err(err) => err,
        Ok(LoginOutcome::Authenticated(_)) => panic!("a session opened despite the failure"),
        Ok(LoginOutcome::TwoFactorRequired(_)) => panic!("anna has no second factor"),
    };
    let after = store.user_by_id(anna.id).await.unwrap().unwrap();
    match expected {
        Turn::Counted => {
            assert!(
                !matches!(err, Error::Contention(_)),
                "a failure that may have committed: {err:?}"
            );
            assert_eq!(after.failed_login_attempts, 1, "the turn stays counted");
        }
        Turn::GivenBack => {
            assert!(matches!(err, Error::Contention(_)), "{err:?}");
            assert_eq!(after.failed_login_attempts, 0, "the turn was given back");
        }
    }
    assert_eq!(after.locked_until, None);
    assert_eq!(
        after.last_login_at, anna.last_login_at,
        "no login was recorded"
    );
    assert_eq!(sessions().await, 1, "no session opened");
    assert_eq!(
        logins(&*store, anna.id).await,
        logins_before,
        "no USER_LOGIN row kept"
    );
}

async fn logins(store: &dyn Store, user: uuid::Uuid) -> usize {
    store
        .audit_events(Some(user), 1000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.action == "USER_LOGIN")
        .count()
}

#[cfg(feature = "sqlite")]
#[tokio::test]
async fn sqlite_a_refused_session_keeps_the_turn_counted() {
    use usermgmt_core::store::sqlite::SqliteStore;
    use usermgmt_core::testing::databases::sqlite_test_database_url;
    let store = SqliteStore::connect(&sqlite_test_database_url())
        .await
        .unwrap();
    let pool = store.pool().clone();
    let plant = async || {
        sqlx::raw_sql(
            "CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions \
             BEGIN SELECT RAISE(ABORT, 'refused for the test'); END",
        )
        .execute(&pool)
        .await
        .unwrap();
    };
    login_after_a_planted_failure(Arc::new(store), plant, Turn::Counted).await;
}

/// PostgreSQL: a plain error and a deadlock victim both keep the turn (the PostgreSQL store does
/// not treat a deadlock as "nothing written": its statements outside transactions are not
/// replayed).
#[cfg(feature = "postgres")]
#[tokio::test]
async fn postgres_a_refused_session_keeps_the_turn_counted() {
    use usermgmt_core::store::postgres::PostgresStore;
    use usermgmt_core::testing::databases::postgres_test_database_url;
    for code in ["P0001", "40P01"] {
        let Some(url) = postgres_test_database_url().await else {
            return;
        };
        let store = PostgresStore::connect(&url).await.unwrap();
        let pool = store.pool().clone();
        let plant = async || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE FUNCTION refuse_sessions() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'refused for the test' USING ERRCODE = '{code}'; END $$; \
                 CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions \
                 FOR EACH ROW EXECUTE FUNCTION refuse_sessions();"
            )))
            .execute(&pool)
            .await
            .unwrap();
        };
        login_after_a_planted_failure(Arc::new(store), plant, Turn::Counted).await;
    }
}

/// MySQL: a deadlock's victim (1213) was rolled back whole, so its turn is given back; any
/// other error keeps it.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn mysql_a_refused_session_gives_the_turn_back_only_after_a_deadlock() {
    use usermgmt_core::store::mysql::MySqlStore;
    use usermgmt_core::testing::databases::mysql_test_database_url;
    for (signal, expected) in [
        (
            "SQLSTATE '45000' SET MESSAGE_TEXT = 'refused for the test'",
            Turn::Counted,
        ),
        (
            "SQLSTATE '40001' SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'a deadlock for the test'",
            Turn::GivenBack,
        ),
    ] {
        let Some(url) = mysql_test_database_url().await else {
            return;
        };
        let store = MySqlStore::connect(&url).await.unwrap();
        let pool = store.pool().clone();
        let plant = async || {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE TRIGGER refuse_sessions BEFORE INSERT ON sessions \
                 FOR EACH ROW SIGNAL {signal}"
            )))
            .execute(&pool)
            .await
            .unwrap();
        };
        login_after_a_planted_failure(Arc::new(store), plant, expected).await;
    }
}
