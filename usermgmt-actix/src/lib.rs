#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use usermgmt_core::api::{API_PREFIX, Api, ApiRequest, ApiResponse, DOCS_PREFIX};
use usermgmt_core::organizations::OrgPermission;
use usermgmt_core::organizations::store::OrgMembership;
use usermgmt_core::rbac::Permission;
use usermgmt_core::{AuthenticatedUser, Error};

/// Mounts the whole API (`/api/v1/...`, the root health probes and, when configured, the first
/// seed's root paths: [`Api::root_paths`]), under the configuration's `mount_prefix` when it has
/// one (`/identity/api/v1/…`; call it on the app, not inside a scope of your own, so that mail
/// links, avatar URLs and the API page know the prefix too), and registers the [`Api`]
/// as app data, so [`CurrentUser`] works in the host app's own handlers:
/// `App::new().configure(usermgmt_actix::configure(api.clone()))`.
pub fn configure(api: Api) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let prefix = api.manager().config().mount_prefix.clone();
        // Which root paths the API serves depends on its configuration (the first seed's
        // paths, trailing-slash forms).
        let root_paths = api.root_paths();
        let routes = move |cfg: &mut web::ServiceConfig| {
            for path in root_paths {
                cfg.route(&path, web::to(handle));
            }
            cfg.service(web::scope(API_PREFIX).default_service(web::to(handle)));
            cfg.service(web::scope(DOCS_PREFIX).default_service(web::to(handle)));
        };
        cfg.app_data(web::Data::new(api));
        // Under `Config::mount_prefix`; `handle` hands core the path below it.
        match prefix.as_str() {
            "" => routes(cfg),
            prefix => {
                cfg.service(web::scope(prefix).configure(routes));
            }
        }
    }
}

/// The enveloped 404 for a host app's default service:
/// `App::new().default_service(web::to(usermgmt_actix::not_found))`.
pub async fn not_found(api: web::Data<Api>) -> HttpResponse {
    into_response(api.not_found())
}

/// Translates one request into core's contract and back.
async fn handle(request: HttpRequest, payload: web::Payload, api: web::Data<Api>) -> HttpResponse {
    let head = ApiRequest {
        method: request.method().as_str().to_owned(),
        // Actix keeps the whole path in scopes: core's table names the one below the prefix.
        path: below_prefix(request.path(), &api.manager().config().mount_prefix).to_owned(),
        query: Some(request.query_string().to_owned()).filter(|q| !q.is_empty()),
        headers: request
            .headers()
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect(),
        body: Vec::new(), // read by core from the payload
        peer_ip: request.peer_addr().map(|addr| addr.ip()),
    };
    into_response(api.handle_with_body(head, payload).await)
}

/// `path` without the mount prefix the scope of [`configure`] matched.
fn below_prefix<'a>(path: &'a str, prefix: &str) -> &'a str {
    match path.strip_prefix(prefix) {
        Some(rest) if !prefix.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
        _ => path,
    }
}

fn into_response(response: ApiResponse) -> HttpResponse {
    let status = StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = HttpResponse::build(status);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            out.append_header((name, value));
        }
    }
    out.body(response.body)
}

/// A core error as an Actix error (the documented envelope).
#[derive(Debug)]
pub struct ApiError(pub Error);

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        into_response(usermgmt_core::api::error_envelope(&self.0))
    }
}

impl From<Error> for ApiError {
    fn from(err: Error) -> Self {
        ApiError(err)
    }
}

/// The authenticated caller, for the host app's own handlers. Rejects with the same 401/403
/// envelope as the API. Needs [`configure`] on the app.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub AuthenticatedUser);

/// The API (from [`configure`]) and the request's credential (bearer token, API key or session
/// cookie), taken before the future runs.
fn api_and_token(req: &HttpRequest) -> Result<(web::Data<Api>, String), Error> {
    let api = req.app_data::<web::Data<Api>>().cloned().ok_or_else(|| {
        Error::internal("usermgmt extractors need `.configure(usermgmt_actix::configure(api))`")
    })?;
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let token = api
        .guard_credential(req.method().as_str(), &headers)?
        .ok_or(Error::Unauthenticated)?;
    Ok((api, token))
}

/// Authenticates the request, checking `permission` when given.
async fn caller(
    found: Result<(web::Data<Api>, String), Error>,
    permission: Option<&str>,
) -> Result<AuthenticatedUser, ApiError> {
    let (api, token) = found?;
    Ok(match permission {
        Some(permission) => api.manager().authenticate_with(&token, permission).await?,
        None => api.manager().authenticate(&token).await?,
    })
}

impl FromRequest for CurrentUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = api_and_token(req);
        Box::pin(async move { caller(found, None).await.map(CurrentUser) })
    }
}

/// The authenticated caller holding permission `P` by their current roles; 401/403 in the
/// API's envelope otherwise. `async fn h(Authorized(caller, _): Authorized<perm::UserRead>)`.
#[derive(Debug, Clone)]
pub struct Authorized<P: Permission>(pub AuthenticatedUser, pub PhantomData<P>);

impl<P: Permission> FromRequest for Authorized<P> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = api_and_token(req);
        Box::pin(async move {
            let caller = caller(found, Some(P::NAME)).await?;
            Ok(Authorized(caller, PhantomData))
        })
    }
}

/// The caller and their membership of the organization they act in: the access token's `org`
/// (set by `POST /auth/switch-org`) or the API key's `orgId`, with the membership read from the
/// store on every request (a removed member is refused at once). 401 without a credential, 403
/// without an active organization or membership there.
#[derive(Debug, Clone)]
pub struct OrgMember(pub AuthenticatedUser, pub OrgMembership);

/// Authenticates the request in its active organization, checking `permission` when given.
async fn org_caller(
    found: Result<(web::Data<Api>, String), Error>,
    permission: Option<&'static str>,
) -> Result<(AuthenticatedUser, OrgMembership), ApiError> {
    let (api, token) = found?;
    Ok(api.manager().authenticate_org(&token, permission).await?)
}

impl FromRequest for OrgMember {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = api_and_token(req);
        Box::pin(async move {
            let (caller, membership) = org_caller(found, None).await?;
            Ok(OrgMember(caller, membership))
        })
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

impl<P: OrgPermission> FromRequest for OrgAuthorized<P> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = api_and_token(req);
        Box::pin(async move {
            let (caller, membership) = org_caller(found, Some(P::NAME)).await?;
            Ok(OrgAuthorized(caller, membership, PhantomData))
        })
    }
}

/// Middleware guarding every route of a scope by permission `P`:
/// `web::scope("/admin").wrap(actix_web::middleware::from_fn(usermgmt_actix::require::<perm::AdminAccess, _>))`.
/// The caller is then in the request's extensions (`web::ReqData<AuthenticatedUser>`).
pub async fn require<P: Permission, B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    let found = api_and_token(req.request());
    match caller(found, Some(P::NAME)).await {
        Ok(caller) => {
            req.extensions_mut().insert(caller);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        // Answered here, in the envelope, like the extractor's rejection.
        Err(rejection) => Ok(req
            .into_response(rejection.error_response())
            .map_into_right_body()),
    }
}
