//! A host app that keeps its own table of customers, linked to the library's users by id:
//!
//! ```text
//! cargo run -p usermgmt-server --example own_users_table     # on 127.0.0.1:3001
//! ```
//!
//! The library owns `users` (credentials, sessions, roles); the app owns `app_customers` (what
//! the business knows: a plan, a billing id). The link is the user's id — the `sub` of every
//! access token, `caller.user.id` in a handler — stored in the app's row. There is no foreign
//! key into the library's tables: their schema is the library's to migrate.
//!
//! - The app creates its row lazily, the first time a user comes to it (`GET /me/plan`), so a
//!   user created by any path (sign-up, social sign-in, an admin) is served, and a missed
//!   event costs nothing.
//! - It removes the row when the library purges the account (`ACCOUNT_PURGED`, after the grace
//!   period of a deletion), so the app keeps no personal data the user asked to erase. The
//!   event bus is in-process and best effort, so a server would also sweep rows whose user no
//!   longer exists (`manager.store().user_by_id(id)` finds none) now and then.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use sqlx::SqlitePool;
use std::sync::Arc;
use std::time::Duration;
use usermgmt_axum::{ApiError, CurrentUser};
use usermgmt_core::api::Api;
use usermgmt_core::mail::LogMailer;
use usermgmt_core::store::sqlite::SqliteStore;
use usermgmt_core::{Config, UserManager};

/// `GET /me/plan`: the caller's row in the app's table, created on first use.
async fn my_plan(
    State(pool): State<SqlitePool>,
    CurrentUser(caller): CurrentUser,
) -> Result<Json<serde_json::Value>, ApiError> {
    let user_id = caller.user.id.to_string();
    let internal = |e: sqlx::Error| ApiError(usermgmt_core::Error::Internal(e.to_string()));
    sqlx::query(
        "INSERT INTO app_customers (user_id, plan) VALUES (?, 'free') ON CONFLICT DO NOTHING",
    )
    .bind(&user_id)
    .execute(&pool)
    .await
    .map_err(internal)?;
    let plan: String = sqlx::query_scalar("SELECT plan FROM app_customers WHERE user_id = ?")
        .bind(&user_id)
        .fetch_one(&pool)
        .await
        .map_err(internal)?;
    Ok(Json(serde_json::json!({ "userId": user_id, "plan": plan })))
}

/// Removes the app's row of every account the library purges.
async fn forget_purged_users(manager: UserManager, pool: SqlitePool) {
    let mut events = manager.subscribe();
    loop {
        match events.recv().await {
            Ok(event) if event.action == "ACCOUNT_PURGED" => {
                if let Some(user_id) = event.user_id {
                    let removed = sqlx::query("DELETE FROM app_customers WHERE user_id = ?")
                        .bind(user_id.to_string())
                        .execute(&pool)
                        .await;
                    if let Err(e) = removed {
                        tracing::error!("could not remove the customer row of {user_id}: {e}");
                    }
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secret = std::env::var("JWT_SECRET")
        .unwrap_or_else(|_| "example-only-secret-example-only-secret".to_owned());
    let config = Config::builder(secret)
        .public_url("http://127.0.0.1:3001")
        .build()?;
    // One SQLite file for both: the library's tables and the app's own.
    let store = SqliteStore::connect("sqlite://own_users_table.db").await?;
    let pool = store.pool().clone();
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS app_customers (
             user_id TEXT PRIMARY KEY,   -- the library's user id
             plan    TEXT NOT NULL
         )",
    )
    .execute(&pool)
    .await?;

    let manager = UserManager::builder(config)
        .store(Arc::new(store))
        .build()?;
    let mail = manager.outbox_worker(Arc::new(LogMailer));
    tokio::spawn(mail.run(Duration::from_secs(5), std::future::pending()));
    tokio::spawn(forget_purged_users(manager.clone(), pool.clone()));

    let api = Api::new(manager);
    let app = Router::new()
        .route("/me/plan", get(my_plan))
        .with_state(pool)
        .merge(usermgmt_axum::router(api.clone()))
        .layer(usermgmt_axum::extension(api));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3001").await?;
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await?;
    Ok(())
}
