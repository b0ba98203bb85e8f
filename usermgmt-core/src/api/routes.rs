//! The route table: one row per endpoint, each row saying everything about its route — method
//! and path, whether it needs a bearer token, its rate-limit class, how large and of what type
//! its body may be, its handler, and its documentation. Each capability declares its rows next
//! to its handlers (`<capability>/routes.rs`); `crate::capabilities::ROUTES` concatenates them. Adapters mount
//! [`super::API_PREFIX`] and [`super::ROOT_PATHS`]; everything below is matched here, so both
//! frameworks serve exactly the same routes, and the OpenAPI document is generated from the
//! same rows.

use super::{Api, ApiResponse, RequestContext};
use crate::error::Result;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};

/// What serves a route: reads the request, calls the service, shapes the response.
pub type Handler = for<'a> fn(&'a Api, &'a RequestContext) -> BoxFuture<'a, Result<ApiResponse>>;

/// Turns `async fn name(&Api, &RequestContext) -> Result<ApiResponse>` into a [`Handler`].
macro_rules! handler {
    ($function:path) => {
        |api, ctx| Box::pin($function(api, ctx))
    };
}
pub(crate) use handler;

/// The stricter limit a route counts against besides the client's global one
/// (`RateLimitConfig` holds the figures). The name is the key its counters are kept under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// The probes: not counted at all (a load balancer polls them).
    Exempt,
    /// The global limit only.
    Global,
    /// A password checked without a session: counts as a login attempt.
    Login,
    /// A second-factor code checked.
    TwoFactor,
    /// A registration.
    Register,
    /// A request that mails someone.
    Email,
    /// An availability check (it tells whether an account exists).
    Availability,
}

/// What a route's body may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON (by its media type) or empty, at most `Config::max_body_bytes`.
    Json,
    /// A multipart form of at most this many bytes; the handler checks its media type.
    Multipart {
        /// Largest body an adapter reads for this route.
        max_bytes: usize,
    },
}

/// One row of the route table.
#[derive(Clone, Copy)]
pub struct Route {
    /// Upper-case method.
    pub method: &'static str,
    /// Full path with `{param}` segments.
    pub path: &'static str,
    /// A stable name: the OpenAPI `operationId`.
    pub name: &'static str,
    /// Whether it needs a bearer token.
    pub authenticated: bool,
    /// One line for humans (and the OpenAPI document).
    pub summary: &'static str,
    /// A route of the first seed, served only when `Config::compatibility_routes` is on.
    pub compat: bool,
    /// A path of the first seed, served at the server root too (without `/api/v1`) when
    /// `Config::compatibility_root_routes` is on as well (see [`crate::api::Api::root_paths`]).
    pub at_root: bool,
    /// Operational detail, answered only to `Config::ops_access` (see `ops.rs`).
    pub(crate) ops_only: bool,
    /// A page of the web console at the root (not under `/api/v1`), served, mounted by the
    /// adapters ([`crate::api::Api::root_paths`]) and documented only when `Config::console`
    /// is on.
    pub console_page: bool,
    /// Refuses API keys (403 `API_KEY_NOT_ALLOWED` before the handler runs); set by
    /// `api_keys::routes::refuse_keys_where_forbidden` over the whole table.
    pub(crate) refuses_api_keys: bool,
    pub(crate) rate_limit: RateLimit,
    pub(crate) body: BodyKind,
    pub(crate) handler: Handler,
    pub(crate) docs: fn(&crate::Config) -> Docs,
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("name", &self.name)
            .field("authenticated", &self.authenticated)
            .field("compat", &self.compat)
            .field("at_root", &self.at_root)
            .field("ops_only", &self.ops_only)
            .field("console_page", &self.console_page)
            .field("refuses_api_keys", &self.refuses_api_keys)
            .field("rate_limit", &self.rate_limit)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl Route {
    /// A public route with a JSON body, counted against the global limit only. Its handler and
    /// its documentation are not optional: a row without them does not compile.
    pub(crate) const fn new(
        method: &'static str,
        path: &'static str,
        name: &'static str,
        summary: &'static str,
        handler: Handler,
        docs: fn(&crate::Config) -> Docs,
    ) -> Self {
        Self {
            method,
            path,
            name,
            authenticated: false,
            summary,
            compat: false,
            at_root: false,
            ops_only: false,
            console_page: false,
            refuses_api_keys: false,
            rate_limit: RateLimit::Global,
            body: BodyKind::Json,
            handler,
            docs,
        }
    }

    /// Needs a bearer token (answered 401 before anything else without one).
    pub(crate) const fn bearer(mut self) -> Self {
        self.authenticated = true;
        self
    }

    /// Counts against `limit` too.
    pub(crate) const fn limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// Takes a multipart form of at most `max_bytes`.
    pub(crate) const fn multipart(mut self, max_bytes: usize) -> Self {
        self.body = BodyKind::Multipart { max_bytes };
        self
    }

    /// A route of the first seed (see [`Route::compat`]).
    pub(crate) const fn compat(mut self) -> Self {
        self.compat = true;
        self
    }

    /// A path the first seed served at its root (see [`Route::at_root`]).
    pub(crate) const fn at_root(mut self) -> Self {
        self.at_root = true;
        self
    }

    /// Operational detail behind `Config::ops_access`.
    pub(crate) const fn ops_only(mut self) -> Self {
        self.ops_only = true;
        self
    }

    /// A console page at the root, behind `Config::console` (see [`Route::console_page`]).
    #[cfg(feature = "console")]
    pub(crate) const fn console_page(mut self) -> Self {
        self.console_page = true;
        self
    }

    /// The route's documentation under `config`.
    pub(crate) fn docs(&self, config: &crate::Config) -> Docs {
        (self.docs)(config)
    }
}

/// What the OpenAPI document says of one route besides its row: the body it reads, its query
/// parameters, and what a success answers.
#[derive(Debug, Clone)]
pub struct Docs {
    pub(crate) request: Option<RequestDocs>,
    pub(crate) query: Vec<Value>,
    pub(crate) status: u16,
    /// The `content` of the success response.
    pub(crate) content: Value,
    /// Other statuses answered with the same content (status, description).
    pub(crate) also: Vec<(u16, &'static str)>,
}

/// The body a route reads.
#[derive(Debug, Clone)]
pub(crate) enum RequestDocs {
    /// A JSON body with this schema (required when the schema requires a member).
    Json(Value),
    /// A multipart form with this schema (always required).
    Multipart(Value),
}

impl Docs {
    /// A 200 whose success envelope carries `data`.
    pub(crate) fn data(data: Value) -> Self {
        Self::content(
            json!({"application/json": {"schema": super::openapi::schema::envelope(data)}}),
        )
    }

    /// A 200 answering `content` (media type → schema) outside the envelope.
    pub(crate) fn content(content: Value) -> Self {
        Self {
            request: None,
            query: Vec::new(),
            status: 200,
            content,
            also: Vec::new(),
        }
    }

    /// A redirect (302) without a body: the route answers with `Location`
    /// ([`super::ApiResponse::redirect`]), errors included where its docs say so.
    pub(crate) fn redirect() -> Self {
        Self {
            request: None,
            query: Vec::new(),
            status: 302,
            content: Value::Null,
            also: Vec::new(),
        }
    }

    /// Success is `status` instead of 200.
    pub(crate) fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Reads a JSON body with `schema` (usually derived from the body's type:
    /// [`super::openapi::derived::request_body`]).
    pub(crate) fn body(mut self, schema: impl Into<Value>) -> Self {
        self.request = Some(RequestDocs::Json(schema.into()));
        self
    }

    /// Reads a multipart form with `schema`.
    pub(crate) fn multipart(mut self, schema: Value) -> Self {
        self.request = Some(RequestDocs::Multipart(schema));
        self
    }

    /// Reads these query parameters.
    pub(crate) fn query(mut self, params: Vec<Value>) -> Self {
        self.query = params;
        self
    }

    /// Also answers `status` with the success content.
    pub(crate) fn also(mut self, status: u16, description: &'static str) -> Self {
        self.also.push((status, description));
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::capabilities::ROUTES;

    #[test]
    fn table_builds_without_conflicts_and_has_no_duplicates() {
        let mut router = matchit::Router::new();
        let mut seen = std::collections::HashSet::new();
        for r in ROUTES.iter() {
            assert!(
                seen.insert((r.method, r.path)),
                "duplicate {} {}",
                r.method,
                r.path
            );
            let _ = router.insert(r.path, ());
        }
        for r in ROUTES.iter() {
            assert!(router.at(r.path).is_ok(), "{} unreachable", r.path);
        }
        assert_eq!(router.at("/api/v1/users/profile").unwrap().params.len(), 0);
        assert_eq!(
            router
                .at("/api/v1/users/alice")
                .unwrap()
                .params
                .get("username"),
            Some("alice")
        );
    }

    #[test]
    fn every_route_is_documented_and_names_its_operation() {
        let config = crate::Config::builder("a-test-secret-of-at-least-thirty-two-bytes!!")
            .build()
            .unwrap();
        for r in ROUTES.iter() {
            let docs = r.docs(&config);
            // A redirect documents no content (its target is in `Location`).
            assert!(
                docs.content.is_object() || (docs.content.is_null() && docs.status == 302),
                "{} {}",
                r.method,
                r.path
            );
            assert!(!r.name.is_empty() && !r.summary.is_empty());
        }
    }
}
