//! Serving through either adapter, with the outbox worker and graceful shutdown.

use crate::app::{self, AppResult};
use crate::config::{Framework, ServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use usermgmt_core::api::Api;
use usermgmt_core::ratelimit::{FallbackRateLimiter, RedisRateLimiter};

/// How often the outbox is polled for mail from other instances and for retries.
const OUTBOX_POLL: Duration = Duration::from_secs(5);
/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the server until SIGINT/SIGTERM.
pub async fn run(config: ServerConfig) -> AppResult<()> {
    if config.secret_generated {
        tracing::warn!(
            "JWT_SECRET is not set: using a random secret for this run (development only); tokens will not survive a restart"
        );
    }
    let manager = app::build_manager(&config).await?;
    app::bootstrap_admin(&manager, &config).await?;
    let mailer = app::build_mailer(&config)?;
    let mut api = Api::new(manager.clone());
    if let Some(url) = &config.redis_url {
        let limiter = RedisRateLimiter::connect(url, "usermgmt:ratelimit")
            .await
            .map_err(|e| format!("cannot connect to Redis (REDIS_URL): {e}"))?;
        api = api.with_rate_limit_store(Arc::new(FallbackRateLimiter::new(Arc::new(limiter))));
        tracing::info!("rate limits are counted in Redis (shared by every instance)");
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let worker = manager.outbox_worker(mailer);
    let mut worker_stop = stop_rx.clone();
    let worker_task = tokio::spawn(worker.run(OUTBOX_POLL, async move {
        let _ = worker_stop.wait_for(|stop| *stop).await;
    }));

    let purge_task = tokio::spawn(purge_expired_accounts(
        manager.clone(),
        config.purge_interval,
        stop_rx.clone(),
    ));

    let listener =
        std::net::TcpListener::bind((config.host.as_str(), config.port)).map_err(|e| {
            format!(
                "cannot listen on {}:{} (HOST/APP_PORT): {e}",
                config.host, config.port
            )
        })?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let framework = match config.framework {
        Framework::Axum => "axum",
        Framework::Actix => "actix",
    };
    // Printed on stdout in a fixed form so scripts and tests can find the port.
    println!("usermgmt-server listening on http://{addr} ({framework})");
    tracing::info!(%addr, framework, "listening");

    let served = match config.framework {
        Framework::Axum => serve_axum(api, listener, stop_rx).await,
        Framework::Actix => serve_actix(api, listener, stop_rx).await,
    };
    let mut server_task = tokio::spawn(served);
    tokio::select! {
        ended = &mut server_task => {
            // The server stopped without being asked: that is an error worth reporting.
            let _ = stop_tx.send(true);
            ended.map_err(|e| format!("server task failed: {e}"))??;
        }
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing in-flight requests");
            let _ = stop_tx.send(true);
            match tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(1), server_task).await {
                Ok(Ok(result)) => result?,
                Ok(Err(e)) => return Err(format!("server task failed: {e}")),
                Err(_) => tracing::warn!("in-flight requests did not finish in time"),
            }
        }
    }
    // Give the worker its last pass; mail not delivered stays in the outbox for next time.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, worker_task).await;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, purge_task).await;
    Ok(())
}

/// Removes accounts whose recovery window has ended, and orphan avatar files, at start and then
/// every `interval`.
/// Several instances may run this at once: each account is removed (and its mail and audit
/// row written) by exactly one of them, since the store's delete is conditional.
async fn purge_expired_accounts(
    manager: usermgmt_core::UserManager,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match manager.purge_expired_accounts().await {
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "account purge failed; retrying at the next interval")
            }
        }
        // Avatar files no row refers to (a crash mid-upload, a failed removal), on the same beat.
        if let Err(err) = manager.sweep_orphan_avatars().await {
            tracing::warn!(error = %err, "avatar sweep failed; retrying at the next interval");
        }
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}

type Served = std::pin::Pin<Box<dyn std::future::Future<Output = AppResult<()>> + Send>>;

async fn serve_axum(
    api: Api,
    listener: std::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> Served {
    let app = axum::Router::new()
        .merge(usermgmt_axum::router(api.clone()))
        .fallback(usermgmt_axum::not_found(api.clone()))
        .layer(usermgmt_axum::extension(api));
    Box::pin(async move {
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
        .map_err(|e| format!("server error: {e}"))
    })
}

async fn serve_actix(
    api: Api,
    listener: std::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) -> Served {
    let factory_api = api.clone();
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .configure(usermgmt_actix::configure(factory_api.clone()))
            .default_service(actix_web::web::to(usermgmt_actix::not_found))
    })
    .disable_signals()
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .listen(listener);
    let server = match server {
        Ok(s) => s.run(),
        Err(e) => return Box::pin(async move { Err(format!("cannot start actix: {e}")) }),
    };
    let handle = server.handle();
    tokio::spawn(async move {
        let _ = stop.wait_for(|s| *s).await;
        handle.stop(true).await;
    });
    Box::pin(async move { server.await.map_err(|e| format!("server error: {e}")) })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
