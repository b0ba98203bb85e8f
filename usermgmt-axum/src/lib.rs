#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The workspace README's Rust snippets (its "First hour" apps, for Axum and for Actix), compiled
/// as doctests here so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeSnippets;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use std::marker::PhantomData;
use std::net::SocketAddr;
use usermgmt_core::api::{API_PREFIX, Api, ApiRequest, ApiResponse, DOCS_PREFIX};
use usermgmt_core::organizations::OrgPermission;
use usermgmt_core::organizations::store::OrgMembership;
use usermgmt_core::rbac::Permission;
use usermgmt_core::{AuthenticatedUser, Error};

/// The routes of the whole API (`/api/v1/...`, the root health probes and, when configured, the
/// first seed's root paths: [`Api::root_paths`]), ready to merge into a host app's router of
/// any state type. They are served under the configuration's `mount_prefix`
/// (`Config::builder(…).mount_prefix("/identity")` gives `/identity/api/v1/…`): merge the router
/// as it is rather than `nest` it, so that mail links, avatar URLs and the API page know the
/// prefix too.
pub fn router<S>(api: Api) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    // Asked before `api` moves into the handler: which root paths it serves depends on its
    // configuration (the first seed's paths, trailing-slash forms).
    let root_paths = api.root_paths();
    let mount_prefix = api.manager().config().mount_prefix.clone();
    mounted_api_set(&api);
    let handler = move |request: Request| {
        let api = api.clone();
        async move { handle(&api, request).await }
    };
    let mut router = Router::new()
        .route(API_PREFIX, any(handler.clone()))
        .route(&format!("{API_PREFIX}/{{*rest}}"), any(handler.clone()));
    router = router.route(&format!("{DOCS_PREFIX}/{{*rest}}"), any(handler.clone()));
    for path in &root_paths {
        router = router.route(path, any(handler.clone()));
    }
    // Under `Config::mount_prefix`, nested: Axum hands the nested routes the path below the
    // prefix, which is what core's route table names.
    match mount_prefix.as_str() {
        "" => router,
        prefix => Router::new().nest(prefix, router),
    }
}

/// The layer that makes [`CurrentUser`] work in the host app's own handlers. Optional when the
/// app mounts one API with [`router`]: the extractors then fall back to that one, so a route
/// added after `.layer(extension(api))` (which Axum's layers do not wrap) works all the same.
/// It decides when one process serves several APIs.
pub fn extension(api: Api) -> Extension<Api> {
    Extension(api)
}

/// What [`router`] mounted in this process: the extractors' fallback for routes the
/// [`extension`] layer does not wrap — only while it is one API, since with several the
/// fallback could authenticate against the wrong one.
enum Mounted {
    Nothing,
    One(Api),
    Several,
}

static MOUNTED_API: std::sync::RwLock<Mounted> = std::sync::RwLock::new(Mounted::Nothing);

fn mounted_api_set(api: &Api) {
    let mut mounted = MOUNTED_API.write().unwrap_or_else(|p| p.into_inner());
    *mounted = match &*mounted {
        Mounted::Nothing => Mounted::One(api.clone()),
        Mounted::One(known) if known.is_same_api(api) => Mounted::One(api.clone()),
        Mounted::One(_) | Mounted::Several => Mounted::Several,
    };
}

/// The one API [`router`] mounted, or why there is none to fall back on.
fn mounted_api() -> Result<Api, &'static str> {
    match &*MOUNTED_API.read().unwrap_or_else(|p| p.into_inner()) {
        Mounted::One(api) => Ok(api.clone()),
        Mounted::Nothing => Err(
            "usermgmt extractors found no API: merge `usermgmt_axum::router(api)` into the app or add `.layer(usermgmt_axum::extension(api))` after the routes that use them",
        ),
        Mounted::Several => Err(
            "usermgmt extractors found no API for this route: this process mounted several APIs with `usermgmt_axum::router`, so each route using the extractors needs `.layer(usermgmt_axum::extension(api))` (added after it) to say which",
        ),
    }
}

/// The enveloped 404 for a host app's fallback: `.fallback(usermgmt_axum::not_found(api))`.
pub fn not_found(
    api: Api,
) -> impl Fn() -> std::future::Ready<Response> + Clone + Send + Sync + 'static {
    move || std::future::ready(into_response(api.not_found()))
}

/// Translates one request into core's contract and back.
async fn handle(api: &Api, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    into_response(
        api.handle_with_body(api_request(&parts), body.into_data_stream())
            .await,
    )
}

/// The request head; core reads the body.
fn api_request(parts: &Parts) -> ApiRequest {
    ApiRequest {
        method: parts.method.as_str().to_owned(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: Vec::new(),
        peer_ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip()),
    }
}

fn into_response(response: ApiResponse) -> Response {
    let mut out = Response::new(Body::from(response.body));
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            out.headers_mut().append(name, value);
        }
    }
    out
}

/// A core error as an Axum response (the documented envelope).
#[derive(Debug)]
pub struct ApiError(pub Error);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        into_response(usermgmt_core::api::error_envelope(&self.0))
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

/// The authenticated caller, for the host app's own handlers. Rejects with the same 401/403
/// envelope as the API. Finds the API through [`extension`] or [`router`].
#[derive(Debug, Clone)]
pub struct CurrentUser(pub AuthenticatedUser);

/// The API (from [`extension`], else the one [`router`] mounted) and the request's bearer
/// token.
fn api_and_token(parts: &Parts) -> Result<(Api, String), Error> {
    let found = match parts.extensions.get::<Api>() {
        Some(api) => Ok(api.clone()),
        None => mounted_api(),
    };
    let api = match found {
        Ok(api) => api,
        Err(fix) => {
            // A 500 hides its cause from the client: the log is where the fix is read.
            tracing::error!("{fix}");
            eprintln!("{fix}");
            return Err(Error::internal(fix));
        }
    };
    let headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let token = api
        .guard_credential(parts.method.as_str(), &headers)?
        .ok_or(Error::Unauthenticated)?;
    Ok((api, token))
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (api, token) = api_and_token(parts)?;
        Ok(CurrentUser(api.manager().authenticate(&token).await?))
    }
}

/// The authenticated caller holding permission `P` by their current roles; 401/403 in the
/// API's envelope otherwise. `async fn h(Authorized(caller, _): Authorized<perm::UserRead>)`.
#[derive(Debug, Clone)]
pub struct Authorized<P: Permission>(pub AuthenticatedUser, pub PhantomData<P>);

impl<P: Permission, S: Send + Sync> FromRequestParts<S> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (api, token) = api_and_token(parts)?;
        let caller = api.manager().authenticate_with(&token, P::NAME).await?;
        Ok(Authorized(caller, PhantomData))
    }
}

/// The caller and their membership of the organization they act in: the access token's `org`
/// (set by `POST /auth/switch-org`) or the API key's `orgId`, with the membership read from the
/// store on every request (a removed member is refused at once). 401 without a credential, 403
/// without an active organization or membership there.
#[derive(Debug, Clone)]
pub struct OrgMember(pub AuthenticatedUser, pub OrgMembership);

impl<S: Send + Sync> FromRequestParts<S> for OrgMember {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (api, token) = api_and_token(parts)?;
        let (caller, membership) = api.manager().authenticate_org(&token, None).await?;
        Ok(OrgMember(caller, membership))
    }
}

/// [`OrgMember`] whose org role grants `P` now; 403 otherwise.
/// `async fn h(OrgAuthorized(caller, membership, _): OrgAuthorized<org_perm::MemberInvite>)`.
#[derive(Debug, Clone)]
pub struct OrgAuthorized<P: OrgPermission>(
    pub AuthenticatedUser,
    pub OrgMembership,
    pub PhantomData<P>,
);

impl<P: OrgPermission, S: Send + Sync> FromRequestParts<S> for OrgAuthorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let (api, token) = api_and_token(parts)?;
        let (caller, membership) = api
            .manager()
            .authenticate_org(&token, Some(P::NAME))
            .await?;
        Ok(OrgAuthorized(caller, membership, PhantomData))
    }
}

/// Middleware guarding every route of a router by permission `P`:
/// `.route_layer(axum::middleware::from_fn(usermgmt_axum::require::<perm::AdminAccess>))`.
/// The caller is then available to handlers as `Extension<AuthenticatedUser>`.
pub async fn require<P: Permission>(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match Authorized::<P>::from_request_parts(&mut parts, &()).await {
        Ok(Authorized(caller, _)) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(rejection) => rejection.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use std::sync::Arc;
    use tower::ServiceExt;
    use usermgmt_core::store::memory::MemoryStore;
    use usermgmt_core::testing::TestApp;

    async fn me(CurrentUser(caller): CurrentUser) -> String {
        caller.user.username
    }

    /// A route added after the `extension` layer (which Axum's layers do not wrap) still finds
    /// the API: the one `router` mounted.
    #[tokio::test]
    async fn the_extractors_do_not_depend_on_the_layer_order() {
        let app = TestApp::new(Arc::new(MemoryStore::new()));
        let token = app.access_token_for("ann", &["user"]).await;
        let router: Router = Router::new()
            .merge(router(app.api.clone()))
            .layer(extension(app.api.clone()))
            .route("/me", get(me));
        let request = Request::builder()
            .uri("/me")
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"ann");

        // A second API mounted in the process: the fallback could pick the wrong one, so the
        // route without the layer fails loudly instead (in the same test: the state is the
        // process's)…
        let other = TestApp::new(Arc::new(MemoryStore::new()));
        let _second: Router = super::router(other.api.clone());
        let request = || {
            Request::builder()
                .uri("/me")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap()
        };
        let response = router.clone().oneshot(request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        // …while a route the layer wraps still says which.
        let layered: Router = Router::new()
            .route("/me", get(me))
            .layer(extension(app.api.clone()));
        let response = layered.oneshot(request()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
