//! The framework-neutral HTTP contract. Core owns the protocol: the route table, body parsing,
//! validation, authentication, the envelope and every status code. An adapter only turns its
//! framework's request head into an [`ApiRequest`], hands it with the body's byte stream to
//! [`Api::handle_with_body`], and sends the [`ApiResponse`] back — so Axum and Actix cannot
//! drift apart.

mod body;
#[cfg(feature = "test-util")]
mod cases;
pub mod cookies;
mod http;
mod metrics;
pub mod openapi;
pub(crate) mod ops;
pub(crate) mod routes;
pub(crate) mod support;

pub use http::{ApiRequest, ApiResponse, RequestContext, bearer_token, credential, parse_json};
pub use routes::{BodyKind, Docs, Handler, RateLimit, Route};

use crate::error::Error;
use crate::manager::UserManager;
use crate::ratelimit::{Limit, MemoryRateLimiter, RateDecision, RateLimitConfig, RateLimitStore};
use futures_util::FutureExt;
use std::borrow::Cow;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

/// Base path of the versioned API (defined with the configuration, whose links name it).
pub use crate::config::API_PREFIX;
/// Root-level paths served by the API besides [`API_PREFIX`] (health probes).
pub const ROOT_PATHS: &[&str] = &[
    "/health",
    "/health/detailed",
    "/metrics",
    "/ready",
    "/live",
    "/.well-known/jwks.json",
    "/docs",
];

/// Root-level prefix whose every sub-path the API serves (the files of the API page).
pub const DOCS_PREFIX: &str = "/docs";

/// The HTTP API over a [`UserManager`]. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    manager: UserManager,
    limiter: Arc<dyn RateLimitStore>,
    router: Arc<matchit::Router<Vec<&'static Route>>>,
    started: Instant,
    metrics: Arc<metrics::Metrics>,
    /// Every row this API knows (the compatibility rows too, mounted or not).
    routes: &'static [Route],
    answer_shapes: AnswerShapes,
}

/// The named shapes the rows' answers share (`components.schemas` of the OpenAPI document).
pub(crate) type AnswerShapes = fn() -> Vec<(String, serde_json::Value)>;

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

impl Api {
    /// The API over a manager, serving `table` and documenting its answers' shared shapes with
    /// `answer_shapes` (`Api::new` hands it every capability's, from `crate::capabilities`).
    pub(crate) fn with_routes(
        manager: UserManager,
        table: &'static [Route],
        answer_shapes: AnswerShapes,
    ) -> Self {
        let mut by_path: Vec<(&'static str, Vec<&'static Route>)> = Vec::new();
        let compat = manager.config().compatibility_routes;
        let console = manager.config().console;
        let served = |r: &&Route| (compat || !r.compat) && (console || !r.console_page);
        for route in table.iter().filter(served) {
            match by_path.iter_mut().find(|(p, _)| *p == route.path) {
                Some((_, list)) => list.push(route),
                None => by_path.push((route.path, vec![route])),
            }
        }
        let mut router = matchit::Router::new();
        for (path, routes) in by_path {
            // The table is static and tested: a conflict here is a programming error caught by
            // `routes::tests::table_builds`.
            if let Err(err) = router.insert(path, routes) {
                tracing::error!(%path, error = %err, "route table conflict");
            }
        }
        Self {
            manager,
            limiter: Arc::new(MemoryRateLimiter::new()),
            router: Arc::new(router),
            started: Instant::now(),
            metrics: Arc::new(metrics::Metrics::new(table)),
            routes: table,
            answer_shapes,
        }
    }

    /// Counts rate limits in `store` instead of this process (e.g. `RedisRateLimiter`, so the
    /// limits hold across instances; wrapped in a `FallbackRateLimiter`, so an outage of Redis
    /// neither slows requests nor lifts the limits).
    pub fn with_rate_limit_store(mut self, store: Arc<dyn RateLimitStore>) -> Self {
        self.limiter = store;
        self
    }

    /// Every route row this API knows, the first seed's included whether mounted or not (the
    /// OpenAPI document and the metrics read them).
    pub fn routes(&self) -> &'static [Route] {
        self.routes
    }

    /// The shapes the answers share, for the OpenAPI document's components.
    pub(crate) fn answer_shapes(&self) -> Vec<(String, serde_json::Value)> {
        (self.answer_shapes)()
    }

    /// Whether `other` is this API or a clone of it (not another `Api::new`).
    pub fn is_same_api(&self, other: &Api) -> bool {
        Arc::ptr_eq(&self.metrics, &other.metrics)
    }

    /// The manager behind the API.
    pub fn manager(&self) -> &UserManager {
        &self.manager
    }

    /// Whether the first seed's paths are served at the root too (both settings on).
    fn serves_root(&self) -> bool {
        let config = self.manager.config();
        config.compatibility_routes && config.compatibility_root_routes
    }

    /// Every path outside [`API_PREFIX`] an adapter must hand to this API (besides the files
    /// under [`DOCS_PREFIX`]): the probes of [`ROOT_PATHS`] and, when
    /// `Config::compatibility_root_routes` and `compatibility_routes` are on, the first seed's
    /// paths at the root (`/users/register`, `/users/{username}`, `/auth/login`, …); each also
    /// with one trailing slash, which names the same route. Parameters are `{name}` segments,
    /// which Axum and Actix both read. A host app's own route on one of these paths conflicts
    /// with the API's: Axum refuses the merge at start-up, Actix serves whichever was
    /// registered first — so the root serving is a setting of its own.
    pub fn root_paths(&self) -> Vec<String> {
        let mut paths: Vec<String> = ROOT_PATHS.iter().map(|p| (*p).to_owned()).collect();
        if self.serves_root() {
            let roots = self.routes.iter().filter(|r| r.at_root);
            for root in roots.filter_map(|r| r.path.strip_prefix(API_PREFIX)) {
                if !paths.iter().any(|p| p == root) {
                    paths.push(root.to_owned());
                }
            }
        }
        let with_slash: Vec<String> = paths
            .iter()
            // `/docs/` is the docs scope's own (its catch-all), not a second name of `/docs`.
            .filter(|p| p.as_str() != DOCS_PREFIX)
            .map(|p| format!("{p}/"))
            .collect();
        paths.extend(with_slash);
        // The console's pages (rows marked `console_page`), when it is on.
        if self.manager.config().console {
            let pages = self.routes.iter().filter(|r| r.console_page);
            for page in pages {
                if !paths.iter().any(|p| p == page.path) {
                    paths.push(page.path.to_owned());
                }
            }
        }
        paths
    }

    /// The path of the table a request's path names: the path itself when the table has it;
    /// else the same without one trailing slash (the second seed's `GET /sessions/`, which
    /// Fastify served as `/sessions`; not a redirect, so a POST keeps its body); else, when
    /// the first seed's paths are served at the root, that path under [`API_PREFIX`] if its
    /// row is one of them (so `/users/profile` at the root stays unknown).
    fn table_path<'p>(&self, path: &'p str) -> Cow<'p, str> {
        if self.router.at(path).is_ok() {
            return Cow::Borrowed(path);
        }
        let trimmed = match path.strip_suffix('/') {
            Some(rest) if !rest.is_empty() && !rest.ends_with('/') => rest,
            _ => path,
        };
        if trimmed.len() != path.len() && self.router.at(trimmed).is_ok() {
            return Cow::Borrowed(trimmed);
        }
        let under_prefix = trimmed == API_PREFIX || trimmed.starts_with(&format!("{API_PREFIX}/"));
        if self.serves_root() && !under_prefix {
            let prefixed = format!("{API_PREFIX}{trimmed}");
            if self
                .router
                .at(&prefixed)
                .is_ok_and(|found| found.value.iter().any(|r| r.at_root))
            {
                return Cow::Owned(prefixed);
            }
        }
        Cow::Borrowed(path)
    }

    /// Largest body an adapter should read before answering 413.
    pub fn max_body_bytes(&self) -> usize {
        self.manager.config().max_body_bytes
    }

    /// Largest body an adapter should read for one request: what its route's row allows (the
    /// avatar upload takes a 2 MB image plus its multipart framing), `max_body_bytes()` for
    /// every other request.
    pub fn max_body_bytes_for(&self, method: &str, path: &str) -> usize {
        let path = self.table_path(path);
        let route = self.router.at(&path).ok().and_then(|found| {
            found
                .value
                .iter()
                .find(|r| r.method.eq_ignore_ascii_case(method))
        });
        match route.map(|r| r.body) {
            Some(BodyKind::Multipart { max_bytes }) => max_bytes,
            Some(BodyKind::Json) | None => self.max_body_bytes(),
        }
    }

    /// How much of an oversized body an adapter reads and drops before answering 413. Reading
    /// on lets the client finish sending and see the 413; closing at once would leave it a
    /// broken pipe instead of an answer. A body declared larger than
    /// `max_body_bytes() + body_drain_bytes()` is refused without reading.
    pub fn body_drain_bytes(&self) -> usize {
        16 * 1024 * 1024
    }

    /// The enveloped response for an error raised in the adapter (e.g. a body over the limit).
    pub fn error_response(&self, err: &Error) -> ApiResponse {
        self.error_response_for(err, None)
    }

    /// [`Api::error_response`] for a request from `origin`, so a browser on an allowed origin
    /// can read the error too.
    pub fn error_response_for(&self, err: &Error, origin: Option<&str>) -> ApiResponse {
        let mut response = finish(ApiResponse::error(err), &uuid::Uuid::new_v4().to_string());
        self.cors_headers(&mut response, origin, false);
        self.security_headers(&mut response);
        response
    }

    /// The enveloped 404 for paths outside the API (for a host app's fallback).
    pub fn not_found(&self) -> ApiResponse {
        self.error_response(&Error::RouteNotFound)
    }

    /// Handles one request.
    pub async fn handle(&self, req: ApiRequest) -> ApiResponse {
        let origin = req.header_value("origin").map(str::to_owned);
        let preflight =
            req.method == "OPTIONS" && req.header_value("access-control-request-method").is_some();
        let started = Instant::now();
        let (mut response, route) = if preflight {
            (self.preflight(&req), None)
        } else {
            self.route(req).await
        };
        self.metrics
            .record(route, response.status, started.elapsed(), &response.body);
        self.cors_headers(&mut response, origin.as_deref(), preflight);
        self.security_headers(&mut response);
        response
    }

    /// A CORS preflight: 204 with the methods and headers allowed for an allowed origin, 403
    /// otherwise (the browser then refuses the real request).
    fn preflight(&self, req: &ApiRequest) -> ApiResponse {
        let cors = &self.manager.config().cors;
        let request_id = uuid::Uuid::new_v4().to_string();
        let allowed = req.header_value("origin").and_then(|o| cors.allow(o));
        let client_ip = self
            .manager
            .config()
            .rate_limits
            .client_ip(req.peer_ip, req.header_value("x-forwarded-for"));
        let path = self.table_path(&req.path);
        let methods = self.router.at(&path).ok().filter(|m| {
            // A preflight carries no credentials: the gate opens by network only.
            !ops::path_is_gated(m.value) || self.manager.config().ops_access.allows(client_ip, None)
        });
        let methods = methods.map(|m| {
            m.value
                .iter()
                .map(|r| r.method)
                .collect::<Vec<_>>()
                .join(", ")
        });
        let (Some(_), Some(methods)) = (allowed, methods) else {
            return finish(ApiResponse::error(&Error::Forbidden), &request_id);
        };
        let mut response = ApiResponse {
            status: 204,
            headers: Vec::new(),
            body: Vec::new(),
        };
        response.push_header("access-control-allow-methods", &methods);
        response.push_header(
            "access-control-allow-headers",
            req.header_value("access-control-request-headers")
                .unwrap_or("authorization, content-type, x-auth-mode, x-csrf-token"),
        );
        response.push_header("access-control-max-age", &cors.max_age_secs.to_string());
        finish(response, &request_id)
    }

    fn cors_headers(&self, response: &mut ApiResponse, origin: Option<&str>, preflight: bool) {
        let cors = &self.manager.config().cors;
        if cors.allowed_origins.is_empty() {
            return;
        }
        response.push_header("vary", "Origin");
        let Some(allowed) = origin.and_then(|o| cors.allow(o)) else {
            return;
        };
        response.push_header("access-control-allow-origin", &allowed);
        if cors.allow_credentials {
            response.push_header("access-control-allow-credentials", "true");
        }
        if !preflight {
            response.push_header(
                "access-control-expose-headers",
                "x-request-id, retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset",
            );
        }
    }

    /// Headers that keep browsers from sniffing, framing or leaking what the API answers.
    fn security_headers(&self, response: &mut ApiResponse) {
        fixed_security_headers(response);
        if let Some(max_age) = self.manager.config().hsts_max_age {
            response.push_header(
                "strict-transport-security",
                &format!("max-age={}; includeSubDomains", max_age.whole_seconds()),
            );
        }
    }

    /// The Prometheus exposition of this API's counters and gauges.
    pub(crate) async fn metrics_text(&self) -> String {
        let backlog = self.manager.store().mail_backlog().await.ok();
        let webhooks =
            self.manager
                .store()
                .webhook_backlog()
                .await
                .ok()
                .map(|(backlog, oldest)| {
                    let (delivered, retried, failed) = self.manager.webhook_attempts();
                    metrics::WebhookFigures {
                        delivered,
                        retried,
                        failed,
                        backlog,
                        lag_seconds: oldest
                            .map_or(0, |t| (self.manager.now() - t).whole_seconds().max(0)),
                    }
                });
        self.metrics.render(
            self.manager.hash_queue_depth(),
            self.manager.lockouts_total(),
            backlog,
            webhooks,
            self.started.elapsed(),
        )
    }

    async fn route(&self, req: ApiRequest) -> (ApiResponse, Option<&'static Route>) {
        // `routes` borrows the router (not the request), so it outlives `req` below.
        let router: &matchit::Router<Vec<&'static Route>> = &self.router;
        let path = self.table_path(&req.path).into_owned();
        let (routes, params) = match router.at(&path) {
            Ok(m) => {
                let params: Vec<(String, String)> = m
                    .params
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                (Some(m.value.as_slice()), params)
            }
            Err(_) => (None, Vec::new()),
        };
        let limits = &self.manager.config().rate_limits;
        let client_ip = limits.client_ip(req.peer_ip, req.header_value("x-forwarded-for"));
        // The operational detail is hidden, not refused: outside its audience the path is
        // answered as one that does not exist (see `ops.rs`).
        let (routes, params) = match routes {
            Some(found)
                if ops::path_is_gated(found)
                    && !self
                        .manager
                        .config()
                        .ops_access
                        .allows(client_ip, req.header_value("authorization")) =>
            {
                (None, Vec::new())
            }
            found => (found, params),
        };
        let method = req.method.clone();
        let route = routes.and_then(|routes| routes.iter().find(|r| r.method == method).copied());
        let config = self.manager.config();
        let auth_mode = req
            .header_value(cookies::AUTH_MODE_HEADER)
            .map(str::to_owned);
        let browser = config
            .cookie_sessions
            .as_ref()
            .map(|_| cookies::BrowserHeaders::of(&req));
        let mut ctx = RequestContext::from_request(req, params, client_ip);
        let request_id = ctx.request_id.clone();
        match cookies::wants_cookies(config, auth_mode.as_deref()) {
            Ok(wants) => ctx.cookies.wants_cookies = wants,
            Err(err) => return (finish(ApiResponse::error(&err), &request_id), route),
        }
        if let Some(settings) = &config.cookie_sessions {
            ctx.cookies.refresh =
                cookies::session_cookie(ctx.cookie_header(), &settings.refresh_name())
                    .map(|token| crate::secret::SecretString::from(token.to_owned()));
            // Headers win: a cookie is the credential only of a request that brought none, on
            // a route that needs one — or that reads a caller when there is one (the first
            // seed's `GET /users/{id}` beside the public profile), for safe methods only.
            if ctx.bearer().is_none()
                && route.is_some_and(|r| r.authenticated || cookies::is_safe(&method))
                && let Some(access) =
                    cookies::session_cookie(ctx.cookie_header(), &settings.name).map(str::to_owned)
            {
                ctx.replace_credential(access);
                ctx.cookies.authenticated_by_cookie = true;
            }
        }
        if route.is_some_and(|r| r.authenticated) && ctx.bearer().is_none() {
            // No credentials at all: answered before the limiter counts anything, so a client
            // learns it must authenticate (401) rather than that it was too fast (429).
            return (
                finish(ApiResponse::error(&Error::Unauthenticated), &request_id),
                route,
            );
        }
        if route.is_some_and(|r| r.refuses_api_keys)
            && ctx.bearer().is_some_and(crate::secret::is_api_key)
        {
            // Decided by the route, before any handler: a key never reaches these.
            return (
                finish(ApiResponse::error(&Error::ApiKeyNotAllowed), &request_id),
                route,
            );
        }
        let api_key = ctx.bearer().filter(|c| crate::secret::is_api_key(c));
        let rate = match self
            .check_rate_limits(route.map(|r| r.rate_limit), client_ip, api_key)
            .await
        {
            Ok(rate) => rate,
            Err((err, decision)) => {
                let mut response = ApiResponse::error(&err);
                rate_headers(&mut response, &decision);
                return (finish(response, &request_id), route);
            }
        };
        let mut renewed = None;
        if let (true, Some(browser)) = (ctx.cookies.authenticated_by_cookie, &browser) {
            let header = |name: &str| browser.get(name);
            let required = route.is_some_and(|r| r.authenticated);
            match cookies::admit(&self.manager, &method, required, &mut ctx, &header).await {
                Ok(pair) => renewed = pair,
                Err(err) => {
                    let mut response = ApiResponse::error(&err);
                    cookies::finish_answer(
                        &self.manager,
                        route.map(|r| r.name),
                        &ctx.cookies,
                        None,
                        &mut response,
                    );
                    if let Some(decision) = rate {
                        rate_headers(&mut response, &decision);
                    }
                    return (finish(response, &request_id), route);
                }
            }
        }
        let result = match (route, routes) {
            (Some(route), _) => {
                // Every body must be JSON by its media type, whether or not the endpoint reads
                // it: checked here, once, before any endpoint runs, so a cross-site form
                // (text/plain and the other types a browser sends without a CORS preflight)
                // reaches none of them. A multipart route (the avatar's) takes only its form and
                // refuses anything else itself.
                let media_type = match route.body {
                    BodyKind::Multipart { .. } => Ok(()),
                    BodyKind::Json => ctx.ensure_json_body(),
                };
                match media_type {
                    Ok(()) => self.dispatch_guarded(route, &ctx).await,
                    Err(err) => Err(err),
                }
            }
            (None, Some(routes)) => {
                let allowed = routes.iter().map(|r| r.method).collect::<Vec<_>>();
                let mut response = ApiResponse::error(&Error::MethodNotAllowed);
                response.push_header("allow", &allowed.join(", "));
                Ok(response)
            }
            (None, None) => Err(Error::RouteNotFound),
        };
        let response = result.unwrap_or_else(|err| {
            if err.is_server_error() {
                // Logged once, here, with the cause; the client only sees the code.
                tracing::error!(request_id = %request_id, %method, code = err.code(), error = %err, "request failed");
            }
            ApiResponse::error(&err)
        });
        let mut response = response;
        cookies::finish_answer(
            &self.manager,
            route.map(|r| r.name),
            &ctx.cookies,
            renewed.as_ref(),
            &mut response,
        );
        if let Some(decision) = rate {
            rate_headers(&mut response, &decision);
        }
        (finish(response, &request_id), route)
    }

    /// Calls the route's handler; a bug must still answer with the envelope (and never take
    /// the worker down). A handler whose transaction the database rolled back to resolve a
    /// deadlock ([`Error::Contention`]) is run again, after a short pause, when nothing it did
    /// before was kept (`store::replay`): the client then sees one ordinary answer instead of
    /// a 503. At most [`CONTENTION_ATTEMPTS`] runs.
    async fn dispatch_guarded(
        &self,
        route: &Route,
        ctx: &RequestContext,
    ) -> Result<ApiResponse, Error> {
        let mut attempt = 1;
        loop {
            let (result, durable_writes) = crate::store::replay::run_tracked(
                AssertUnwindSafe((route.handler)(self, ctx)).catch_unwind(),
            )
            .await;
            let result = result.unwrap_or_else(|_| Err(Error::internal("handler panicked")));
            match result {
                Err(Error::Contention(cause))
                    if durable_writes == 0 && attempt < CONTENTION_ATTEMPTS =>
                {
                    tracing::debug!(%cause, attempt, "deadlock victim; running the handler again");
                    // Apart in time from the transaction it collided with, which is still
                    // finishing: a pause of 5–15 ms, longer on each try.
                    let pause = 5 * attempt + u64::from(rand::random::<u8>() % 10);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Counts the request against the client's global limit and its route's own limit.
    /// Returns the tighter decision for the headers, or the refusal. A limiter that cannot be
    /// reached lets the request through (logged): lockout still guards every account.
    async fn check_rate_limits(
        &self,
        class: Option<RateLimit>,
        client_ip: Option<std::net::IpAddr>,
        api_key: Option<&str>,
    ) -> Result<Option<RateDecision>, (Error, RateDecision)> {
        let limits = &self.manager.config().rate_limits;
        if !limits.enabled || class == Some(RateLimit::Exempt) {
            return Ok(None);
        }
        // IPv6 clients are counted by their /64 (see `client_key`).
        let client = client_ip.map_or_else(|| "unknown".to_owned(), crate::ratelimit::client_key);
        let mut checks = vec![(format!("global:{client}"), limits.global)];
        if let Some((class, limit)) = class.and_then(|c| route_limit(c, limits)) {
            checks.push((format!("{class}:{client}"), limit));
        }
        // A key is counted by the digest of its whole text, before it is checked: the real key
        // always lands in its own bucket, and a stranger who knows its prefix (shown in lists
        // and audit rows) spends only the buckets of the keys he makes up, never the real
        // one's. A malformed key has no budget of its own (it is refused as it is).
        if let Some(key) = api_key.filter(|key| crate::api_keys::key_prefix(key).is_some()) {
            let digest = crate::secret::TokenDigest::of(key);
            let bucket = digest.as_str().get(..32).unwrap_or(digest.as_str());
            checks.push((format!("api_key:{bucket}"), limits.api_key));
        }
        let now = self.manager.now();
        let mut tightest: Option<RateDecision> = None;
        for (key, limit) in checks {
            let decision = match self.limiter.hit(&key, limit, now).await {
                Ok(d) => d,
                Err(err) => {
                    tracing::warn!(error = %err, "rate limiter unavailable; request allowed");
                    continue;
                }
            };
            if !decision.allowed {
                return Err((
                    Error::RateLimited {
                        retry_after_secs: decision.reset_secs,
                    },
                    decision,
                ));
            }
            if tightest.is_none_or(|t| decision.remaining < t.remaining) {
                tightest = Some(decision);
            }
        }
        Ok(tightest)
    }
}

/// How many times a handler runs at most when each run is a deadlock's victim.
const CONTENTION_ATTEMPTS: u64 = 3;

/// The stricter limit of a route's class, with the name its counter is kept under.
fn route_limit(class: RateLimit, limits: &RateLimitConfig) -> Option<(&'static str, Limit)> {
    match class {
        RateLimit::Exempt | RateLimit::Global => None,
        RateLimit::Login => Some(("login", limits.login)),
        RateLimit::TwoFactor => Some(("two_factor", limits.two_factor)),
        RateLimit::Register => Some(("register", limits.register)),
        RateLimit::Email => Some(("email", limits.email_actions)),
        RateLimit::Availability => Some(("availability", limits.availability)),
    }
}

fn rate_headers(response: &mut ApiResponse, decision: &RateDecision) {
    response.push_header("x-ratelimit-limit", &decision.limit.to_string());
    response.push_header("x-ratelimit-remaining", &decision.remaining.to_string());
    response.push_header("x-ratelimit-reset", &decision.reset_secs.to_string());
}

/// Headers every API response carries.
/// The headers every answer carries whatever the configuration.
fn fixed_security_headers(response: &mut ApiResponse) {
    response.push_header("x-frame-options", "DENY");
    response.push_header("referrer-policy", "no-referrer");
    // The API page sets its own (it must load its scripts); everything else loads nothing.
    if response.header_value("content-security-policy").is_none() {
        response.push_header(
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        );
    }
}

/// The enveloped answer to an error raised where no [`Api`] is at hand (an adapter's
/// extractor or guard in a host app): request id and the fixed security headers included.
pub fn error_envelope(err: &Error) -> ApiResponse {
    let mut response = finish(ApiResponse::error(err), &uuid::Uuid::new_v4().to_string());
    fixed_security_headers(&mut response);
    response
}

fn finish(mut response: ApiResponse, request_id: &str) -> ApiResponse {
    response.push_header("x-request-id", request_id);
    response.push_header("x-content-type-options", "nosniff");
    // Bodies carry tokens and personal data: never cache them (unless the endpoint said so).
    if response.header_value("cache-control").is_none() {
        response.push_header("cache-control", "no-store");
    }
    response
}
