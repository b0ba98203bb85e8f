//! Storage, by capability. Every method is one atomic unit of work: the change, its audit rows
//! and its outgoing mail ([`Effects`]) are written together or not at all.
//!
//! Each capability folder defines the trait of its area in its `store.rs` ([`IdentityStore`]
//! and [`LockoutStore`] in `auth/`, [`TwoFactorStore`], [`SessionStore`], [`ProfileStore`],
//! [`NotificationStore`], [`RoleStore`], [`AdminStore`], [`AccountStore`], [`AuditStore`],
//! [`OutboxStore`] in `mail/`, [`WebhookStore`] in `webhooks/`), its memory implementation in `memory.rs` and its SQL, written
//! once for every dialect, in `sql.rs`. [`Store`] is all of them and [`BaseStore`], implemented
//! for every type that implements each: it is what the manager holds, as `Arc<dyn Store>`.
//! A new area is a trait in its folder, its two implementations, and one line in [`Store`]'s
//! list (and in the dialects' list of `sql.rs` macros).
//!
//! Implementations: [`memory::MemoryStore`] (tests, prototypes), `sqlite::SqliteStore`
//! (feature `sqlite`), `postgres::PostgresStore` (feature `postgres`) and
//! `mysql::MySqlStore` (feature `mysql`, MySQL 8 and MariaDB). All four pass the same
//! conformance suite (`testing::store_suite`).
//!
//! Events: every store owns an [`EventBus`] ([`BaseStore::events`]) and publishes on it the
//! audit rows it committed, in one place per store: the SQL stores' write transaction (`Tx` of
//! `store/sql.rs`: `write_effects` notes the rows, `commit` publishes them once the commit
//! succeeded) and the memory store's `Locked::apply`. A store method writes its effects
//! through that path and so cannot forget to publish them; a method that returns false or
//! `None` wrote nothing and publishes nothing; a new method needs no publishing code.

/// Every storage area, once: its trait and the SQL macro in its capability folder
/// (`crate::<folder>::sql::<macro>`). The `Store` supertrait and every SQL dialect are
/// generated from this list, so a new capability's store joins with one line here.
macro_rules! store_areas {
    ($then:ident!($($args:tt)*)) => {
        $then! { ($($args)*)
            IdentityStore: auth::identity_sql,
            LockoutStore: auth::lockout_sql,
            TwoFactorStore: two_factor::two_factor_sql,
            SessionStore: sessions::sessions_sql,
            ProfileStore: profile::profile_sql,
            NotificationStore: notifications::notifications_sql,
            RoleStore: roles::roles_sql,
            AdminStore: admin::admin_sql,
            AccountStore: account::account_sql,
            AuditStore: audit::audit_sql,
            OutboxStore: mail::outbox_sql,
            PasskeyStore: passkeys::passkeys_sql,
            WebhookStore: webhooks::webhooks_sql,
            ApiKeyStore: api_keys::api_keys_sql,
            OrgStore: organizations::organizations_sql,
            OAuthStore: oauth::oauth_sql,
        }
    };
}

/// `Store`: `BaseStore` and every area of `store_areas!`.
macro_rules! define_store {
    (() $($area:ident: $folder:ident::$sql:ident,)*) => {
        /// Storage for everything usermgmt keeps: every capability's area trait. Object-safe;
        /// held as `Arc<dyn Store>`. Implemented for every type that implements all the areas.
        pub trait Store: BaseStore $(+ $area)* {}

        impl<T> Store for T where T: BaseStore $(+ $area)* {}
    };
}

/// Every area's SQL for one dialect's store type (`store_areas!(sql_areas!(SqliteStore))`).
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
macro_rules! sql_areas {
    (($store:ty) $($area:ident: $folder:ident::$sql:ident,)*) => {
        $(crate::$folder::sql::$sql!($store);)*
    };
}

mod base;
mod events;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
mod lease;
pub mod memory;
pub mod records;
pub(crate) mod replay;
pub mod seed;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
#[macro_use]
mod sql;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use crate::account::store::AccountStore;
pub use crate::admin::store::AdminStore;
pub use crate::api_keys::store::ApiKeyStore;
pub use crate::audit::store::AuditStore;
pub use crate::auth::store::{IdentityStore, LockoutStore};
pub use crate::mail::store::OutboxStore;
pub use crate::notifications::store::NotificationStore;
pub use crate::oauth::store::OAuthStore;
pub use crate::organizations::store::OrgStore;
pub use crate::passkeys::store::PasskeyStore;
pub use crate::profile::store::ProfileStore;
pub use crate::roles::store::RoleStore;
pub use crate::sessions::store::SessionStore;
pub use crate::two_factor::store::TwoFactorStore;
pub use crate::webhooks::store::WebhookStore;
pub use base::BaseStore;
pub use events::{EVENT_BUFFER, EventBus};
pub use records::*;
pub(crate) use records::{day_bounds, permissions_unchanged};

store_areas!(define_store!());

/// Escapes `\`, `%` and `_` so a search term matches literally inside `LIKE ... ESCAPE '\'`.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub(crate) fn escape_like(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len());
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// How long a pooled database connection may sit idle and still be handed out without a
/// liveness check first.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub const CHECK_CONNECTIONS_IDLE_FOR: std::time::Duration = std::time::Duration::from_millis(500);

/// The pool policy of the SQL stores: a connection idle for [`CHECK_CONNECTIONS_IDLE_FOR`] or
/// longer is pinged before it is handed out (a broken one is closed and another taken), one
/// used more recently is not. sqlx's default pings every connection on every acquire, a round
/// trip to the database in front of every statement under load; a connection that finished a
/// statement (and answered sqlx's release check, or was kept by the store's `LeasePool`
/// because the statement completed) less than half a second ago is live. A database restart takes longer than that, so connections it broke are idle longer
/// and checked as before. HikariCP's `aliveBypassWindowMs` is the same rule, at the same
/// 500 ms. For a host app's own pool: `check_idle_connections(PgPoolOptions::new())`.
#[cfg(any(feature = "sqlite", feature = "postgres", feature = "mysql"))]
pub fn check_idle_connections<DB: sqlx::Database>(
    options: sqlx::pool::PoolOptions<DB>,
) -> sqlx::pool::PoolOptions<DB> {
    use sqlx::Connection;
    options
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_CONNECTIONS_IDLE_FOR {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

#[cfg(all(test, feature = "sqlite"))]
mod pool_policy_tests {
    use super::*;

    /// Only idle connections are checked: sqlx's check of every connection on every acquire is
    /// off, the idle check is what replaces it (its recovery after an outage is held by
    /// `examples/tests/scale_out.rs`).
    #[tokio::test]
    async fn connections_are_checked_only_when_idle() {
        let options = check_idle_connections(sqlx::sqlite::SqlitePoolOptions::new());
        assert!(!options.get_test_before_acquire());
        let pool = options
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        // Taken again at once (no check) and after the idle window (checked): both live.
        for pause in [0, CHECK_CONNECTIONS_IDLE_FOR.as_millis() as u64 + 50] {
            tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            let one: i64 = sqlx::query_scalar("SELECT 1")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(one, 1);
        }
    }
}
