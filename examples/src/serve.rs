//! Serving through either adapter, with the outbox worker and graceful shutdown.

use crate::app::{self, AppResult};
use crate::config::{Framework, HttpLimits, ServerConfig};
use crate::guard::{Guarded, Timeouts};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, watch};
use usermgmt_core::api::Api;
use usermgmt_core::ratelimit::{FallbackRateLimiter, RedisRateLimiter};

/// How often the outbox is polled for mail from other instances and for retries.
const OUTBOX_POLL: Duration = Duration::from_secs(5);
/// How often webhook deliveries are polled for events of other instances and for retries
/// (events of this instance wake the worker at once).
const WEBHOOK_POLL: Duration = Duration::from_secs(2);
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

    if let Some(hook) = &config.webhook {
        let endpoint = manager
            .configure_webhook(&hook.url, &hook.secret, hook.events.clone())
            .await
            .map_err(|e| {
                format!(
                    "WEBHOOK_URL / WEBHOOK_EVENTS cannot be used: {}",
                    describe(&e)
                )
            })?;
        tracing::info!(webhook_id = %endpoint.id, url = %endpoint.url, "webhook configured from the environment");
    }
    let webhooks = manager.webhook_worker();
    let mut webhooks_stop = stop_rx.clone();
    let webhooks_task = tokio::spawn(webhooks.run(WEBHOOK_POLL, async move {
        let _ = webhooks_stop.wait_for(|stop| *stop).await;
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
        Framework::Axum => serve_axum(api, listener, config.http, stop_rx).await,
        Framework::Actix => serve_actix(api, listener, config.http, stop_rx).await,
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
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, webhooks_task).await;
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, purge_task).await;
    Ok(())
}

/// An error with its field messages (a validation error's `Display` is only its summary).
fn describe(error: &usermgmt_core::Error) -> String {
    match error {
        usermgmt_core::Error::Validation(fields) => fields
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// Removes accounts and organizations whose recovery window has ended, and orphan avatar files,
/// at start and then every `interval`.
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
        // Organizations deleted longer ago than the recovery window, on the same beat.
        if let Err(err) = manager.purge_deleted_orgs().await {
            tracing::warn!(error = %err, "organization purge failed; retrying at the next interval");
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

fn timeouts(limits: &HttpLimits) -> Timeouts {
    Timeouts {
        header_read: limits.header_read_timeout,
        body_read: limits.body_read_timeout,
        keep_alive: limits.keep_alive_timeout,
    }
}

/// Why a body read ended early, as the adapters see it (they answer 400 and the framework
/// closes the connection, the body being unread).
fn body_timed_out() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        "request body not received in time",
    )
}

/// The request body, ending in an error once `limit` has passed since the head was read: a
/// body that stops arriving would otherwise hold its connection (the socket guard only sees
/// bytes that do arrive).
fn body_with_deadline<S, T, E>(
    body: S,
    limit: Duration,
    timed_out: fn() -> E,
) -> impl futures_util::Stream<Item = Result<T, E>>
where
    S: futures_util::Stream<Item = Result<T, E>> + Unpin,
{
    use futures_util::StreamExt as _;
    let deadline = tokio::time::Instant::now() + limit;
    futures_util::stream::unfold(Some(body), move |body| async move {
        let mut stream = body?;
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            // The error ends the stream: nothing more is read.
            Err(_) => Some((Err(timed_out()), None)),
        }
    })
}

/// Resolves once a stop is asked for (holding no lock of the channel while waiting on more).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Axum on hyper, served connection by connection: each socket is [`Guarded`], and at most
/// `max_connections` are open (the next accept waits for a free slot, so excess clients wait
/// in the listen backlog).
async fn serve_axum(
    api: Api,
    listener: std::net::TcpListener,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) -> Served {
    let body_limit = limits.body_read_timeout;
    let app = axum::Router::new()
        .merge(usermgmt_axum::router(api.clone()))
        .fallback(usermgmt_axum::not_found(api.clone()))
        .layer(tower::util::MapRequestLayer::new(
            move |request: axum::extract::Request| {
                request.map(|body| {
                    axum::body::Body::from_stream(body_with_deadline(
                        body.into_data_stream(),
                        body_limit,
                        || axum::Error::new(body_timed_out()),
                    ))
                })
            },
        ))
        .layer(usermgmt_axum::extension(api));
    let timeouts = timeouts(&limits);
    Box::pin(async move {
        use tower::ServiceExt as _;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        let slots = Arc::new(Semaphore::new(limits.max_connections as usize));
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new())
            // A backstop: hyper counts from the moment a connection is idle, so `Guarded` (head
            // time from its first byte, idle time apart) always closes first.
            .header_read_timeout(limits.header_read_timeout + limits.keep_alive_timeout)
            .keep_alive(true);
        loop {
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.map_err(|e| e.to_string())?,
                () = stopped(&mut stop) => break,
            };
            let (stream, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors, or a connection reset before its accept:
                        // wait a little rather than spin.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
                () = stopped(&mut stop) => break,
            };
            let _ = stream.set_nodelay(true);
            let app = app.clone();
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    app.clone().oneshot(request)
                },
            );
            let io = hyper_util::rt::TokioIo::new(Guarded::new(stream, timeouts));
            let connection = graceful.watch(http.serve_connection(io, service));
            tokio::spawn(async move {
                // Errors here are the client's: a timeout, a reset, a malformed request.
                if let Err(err) = connection.await {
                    tracing::debug!(%peer, error = %err, "connection ended");
                }
                drop(slot);
            });
        }
        drop(listener);
        if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after the shutdown grace period");
        }
        Ok(())
    })
}

/// Actix on its own server, built by hand (as `HttpServer` does) so that each socket is
/// [`Guarded`]. Actix caps connections per worker: the cap is split over the workers (fewer
/// workers than the cap, at most one per core), rounded down.
async fn serve_actix(
    api: Api,
    listener: std::net::TcpListener,
    limits: HttpLimits,
    mut stop: watch::Receiver<bool>,
) -> Served {
    use actix_service::ServiceFactoryExt as _;
    let max = limits.max_connections as usize;
    let workers = std::thread::available_parallelism()
        .map_or(2, std::num::NonZeroUsize::get)
        .min(max)
        .max(1);
    let per_worker = (max / workers).max(1);
    let timeouts = timeouts(&limits);
    let body_limit = limits.body_read_timeout;
    let builder = actix_server::Server::build()
        .workers(workers)
        .max_concurrent_connections(per_worker)
        .disable_signals()
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs());
    // Told to the connections at a stop, so idle kept-alive ones close at once instead of
    // holding the shutdown for its whole grace period (as `HttpServer` does).
    let shutdown = builder.graceful_shutdown_signal();
    let built = builder.listen("usermgmt", listener, move || {
        let shutdown = shutdown.clone();
        let app = actix_web::App::new()
            .wrap_fn(move |mut request, service| {
                use actix_web::HttpMessage as _;
                use actix_web::dev::Service as _;
                let payload = request.take_payload();
                let stream = body_with_deadline(payload, body_limit, || {
                    actix_web::error::PayloadError::Io(body_timed_out())
                });
                request.set_payload(actix_web::dev::Payload::from(
                    Box::pin(stream) as actix_http::BoxedPayloadStream
                ));
                service.call(request)
            })
            .configure(usermgmt_actix::configure(api.clone()))
            .default_service(actix_web::web::to(usermgmt_actix::not_found));
        let http = actix_http::HttpService::build()
            .graceful_shutdown_signal(move || {
                let shutdown = shutdown.clone();
                async move { shutdown.notified().await }
            })
            .keep_alive(actix_http::KeepAlive::Timeout(limits.keep_alive_timeout))
            // Actix's own head timer (first request only) answers 408 at the same moment
            // the guard would close.
            .client_request_timeout(limits.header_read_timeout)
            .client_disconnect_timeout(Duration::from_secs(1))
            .finish(actix_service::map_config(
                actix_service::IntoServiceFactory::into_factory(app)
                    .map_err(|err: actix_web::Error| err.error_response()),
                |_| actix_web::dev::AppConfig::default(),
            ));
        actix_service::fn_service(move |stream: actix_rt::net::TcpStream| async move {
            let _ = stream.set_nodelay(true);
            let peer = stream.peer_addr().ok();
            Ok::<_, actix_http::error::DispatchError>((
                Guarded::new(stream, timeouts),
                actix_http::Protocol::Http1,
                peer,
            ))
        })
        .and_then(http)
    });
    let server = match built {
        Ok(builder) => builder.run(),
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
