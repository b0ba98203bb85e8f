//! Running on PostgreSQL with rate limits counted in Redis, the set-up for several instances
//! behind a load balancer:
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test REDIS_URL=redis://127.0.0.1:6379 \
//!   cargo run -p usermgmt-server --example postgres_redis        # on 127.0.0.1:3001
//! ```
//!
//! Every instance connects to the same database (migrations run under an advisory lock, so
//! instances may start together) and the same Redis: a client's login attempts and requests
//! are counted once across all of them. If Redis goes away, `FallbackRateLimiter` counts in
//! the instance until it is back, rather than refusing every request. Sessions, lockout,
//! single-use tokens and the outbox need nothing but the database (docs/OPERATIONS.md).

use std::sync::Arc;
use std::time::Duration;
use usermgmt_core::api::Api;
use usermgmt_core::mail::LogMailer;
use usermgmt_core::ratelimit::{FallbackRateLimiter, RedisRateLimiter};
use usermgmt_core::store::postgres::PostgresStore;
use usermgmt_core::{Config, UserManager};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let database_url = std::env::var("DATABASE_URL")?;
    let redis_url = std::env::var("REDIS_URL")?;
    // Every instance must share the secret (tokens issued by one are checked by the others).
    let secret = std::env::var("JWT_SECRET")
        .unwrap_or_else(|_| "example-only-secret-example-only-secret".to_owned());
    let config = Config::builder(secret)
        .public_url("http://127.0.0.1:3001")
        .build()?;

    let store = PostgresStore::connect(&database_url).await?; // pools and migrates
    let manager = UserManager::builder(config)
        .store(Arc::new(store))
        .build()?;
    // Any number of instances may run the outbox worker: each message is claimed by one.
    let mail = manager.outbox_worker(Arc::new(LogMailer));
    tokio::spawn(mail.run(Duration::from_secs(5), std::future::pending()));

    let redis = RedisRateLimiter::connect(&redis_url, "myapp:ratelimit").await?;
    let api = Api::new(manager)
        .with_rate_limit_store(Arc::new(FallbackRateLimiter::new(Arc::new(redis))));

    let app = axum::Router::new()
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
