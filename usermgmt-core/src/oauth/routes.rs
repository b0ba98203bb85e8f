//! The social sign-in routes: the providers, authorize and callback (browser redirects with
//! the binding cookie), the exchange of the one-time code, linking, and the caller's linked
//! identities. Their rows, handlers, request bodies and wire shapes.

use super::store::IdentityRecord;
use super::{ATTEMPT_TTL, Authorization, BROWSER_COOKIE};
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::caller;
use crate::api::{Api, ApiResponse, RequestContext};
use crate::auth::LoginOutcome;
use crate::auth::routes::login_success;
use crate::error::{Error, Result};
use crate::two_factor::routes::TwoFactorChallengeDto;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/auth/oauth/providers",
        "OAuthProviders",
        "The social and enterprise sign-in providers offered",
        handler!(providers),
        |_| Docs::data(array(answer::<OAuthProviderDto>())),
    ),
    Route::new(
        "GET",
        "/api/v1/auth/oauth/{provider}/authorize",
        "OAuthAuthorize",
        "Start signing in with a provider: a redirect to it (PKCE, state, nonce) and a cookie binding the browser",
        handler!(authorize),
        |_| {
            Docs::redirect().query(vec![query(
                "redirectTo",
                string(),
                "Where the landing page may send the browser after the exchange: a path, or a URL on an allowed origin",
            )])
        },
    ),
    Route::new(
        "GET",
        "/api/v1/auth/oauth/{provider}/callback",
        "OAuthCallback",
        "The provider's redirect back: a redirect to OAUTH_SUCCESS_URL with a one-time code, or to OAUTH_ERROR_URL with the error code",
        handler!(callback),
        |_| {
            Docs::redirect().query(vec![
                query("code", string(), "The provider's authorization code"),
                query("state", string(), "The state sent to the provider"),
                query("error", string(), "The provider's error, when it refused"),
                query("error_description", string(), "The provider's error text"),
                query("iss", string(), "The provider's issuer (RFC 9207)"),
                query("scope", string(), "The scopes the provider granted"),
            ])
        },
    )
    .limit(RateLimit::Login),
    Route::new(
        "POST",
        "/api/v1/auth/oauth/exchange",
        "OAuthExchange",
        "Exchange the one-time code of a provider sign-in for a session (or the two-factor challenge)",
        handler!(exchange),
        |_| {
            Docs::data(
                json!({"oneOf": [reference("LoginSuccess"), reference("TwoFactorChallenge")]}),
            )
            .body(request_body::<ExchangeBody>())
        },
    )
    .limit(RateLimit::Login),
    Route::new(
        "POST",
        "/api/v1/auth/oauth/{provider}/link",
        "OAuthLink",
        "Start linking a provider account to the caller: the URL to send the browser to",
        handler!(link),
        |_| {
            Docs::data(record(&[("authorizeUrl", string())])).body(request_body::<LinkBody>())
        },
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/users/identities",
        "ListIdentities",
        "The provider accounts linked to the caller",
        handler!(list),
        |_| Docs::data(record(&[("identities", array(answer::<IdentityDto>()))])),
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/users/identities/{id}",
        "UnlinkIdentity",
        "Unlink a provider account from the caller (409 when it is the last way to sign in)",
        handler!(unlink),
        |_| Docs::data(null()),
    )
    .bearer(),
];

/// The `Set-Cookie` value binding a sign-in to this browser: HttpOnly, SameSite=Lax (it must
/// come along on the provider's top-level redirect back), for the OAuth paths only, as long
/// as an attempt lives; `Secure` when the public URL is https.
fn binding_cookie(api: &Api, value: &str, max_age: i64) -> String {
    let config = api.manager().config();
    cookie::Cookie::build((BROWSER_COOKIE, value))
        .path(format!("{}/api/v1/auth/oauth", config.api_base_path()))
        .max_age(cookie::time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(config.absolute_public_url().starts_with("https://"))
        .build()
        .to_string()
}

fn with_binding(api: &Api, mut response: ApiResponse, started: &Authorization) -> ApiResponse {
    response.push_header(
        "set-cookie",
        &binding_cookie(
            api,
            started.browser_binding.expose(),
            ATTEMPT_TTL.whole_seconds(),
        ),
    );
    response
}

fn provider_param(ctx: &RequestContext) -> &str {
    ctx.param("provider").unwrap_or_default()
}

async fn providers(api: &Api, _ctx: &RequestContext) -> Result<ApiResponse> {
    let list: Vec<OAuthProviderDto> = api
        .manager()
        .oauth_providers()
        .into_iter()
        .map(|(name, display_name)| OAuthProviderDto { name, display_name })
        .collect();
    Ok(ApiResponse::success(200, "OK", list))
}

async fn authorize(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let redirect_to = ctx.query_param("redirectTo");
    let started = api
        .manager()
        .start_oauth_login(
            provider_param(ctx),
            redirect_to.as_deref(),
            ctx.cookie(BROWSER_COOKIE),
        )
        .await?;
    Ok(with_binding(
        api,
        ApiResponse::redirect(&started.url),
        &started,
    ))
}

async fn callback(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let manager = api.manager();
    let code = ctx.query_param("code");
    let state = ctx.query_param("state");
    let error = ctx.query_param("error");
    let landing = match manager
        .finish_oauth(
            provider_param(ctx),
            code.as_deref(),
            state.as_deref(),
            error.as_deref(),
            ctx.cookie(BROWSER_COOKIE),
            &ctx.client,
        )
        .await
    {
        Ok(landing) => landing,
        Err(err) => {
            // The browser is sent on either way; a server-side failure is logged here, as
            // `Api::handle` would have for an error answer.
            if err.is_server_error() {
                tracing::error!(request_id = %ctx.request_id, error = %err, "OAuth callback failed");
            } else {
                tracing::info!(code = err.code(), "OAuth callback refused");
            }
            manager.oauth_error_landing(&err)
        }
    };
    let mut response = ApiResponse::redirect(&landing.location);
    // The attempt is used up whatever happened: the cookie goes too.
    response.push_header("set-cookie", &binding_cookie(api, "", 0));
    Ok(response)
}

async fn exchange(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: ExchangeBody = ctx.json()?;
    let code = body.code.map(|c| c.into_inner()).unwrap_or_default();
    match api
        .manager()
        .exchange_oauth_code(&code, &ctx.client)
        .await?
    {
        LoginOutcome::Authenticated(success) => Ok(login_success(&success)),
        LoginOutcome::TwoFactorRequired(challenge) => Ok(ApiResponse::success(
            200,
            "Two-factor authentication required",
            TwoFactorChallengeDto::from(&challenge),
        )),
    }
}

async fn link(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: LinkBody = ctx.json()?;
    let started = api
        .manager()
        .start_oauth_link(
            &auth,
            provider_param(ctx),
            body.redirect_to.as_deref(),
            ctx.cookie(BROWSER_COOKIE),
        )
        .await?;
    let response = ApiResponse::success(
        200,
        "Send the browser to authorizeUrl",
        json!({"authorizeUrl": started.url}),
    );
    Ok(with_binding(api, response, &started))
}

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let identities: Vec<IdentityDto> = api
        .manager()
        .identities(&auth)
        .await?
        .iter()
        .map(IdentityDto::from)
        .collect();
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"identities": identities}),
    ))
}

async fn unlink(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = ctx
        .param("id")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Error::NotFound("identity"))?;
    api.manager()
        .unlink_identity(&auth, id, &ctx.client)
        .await?;
    Ok(ApiResponse::success(200, "Identity unlinked", json!(null)))
}

/// The one-time code of a provider sign-in.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExchangeBody {
    /// The `code` the callback put on `OAUTH_SUCCESS_URL` (single use, 60 s).
    #[schema(required, value_type = Option<String>)]
    pub code: Option<crate::secret::SecretText>,
}

/// Where the landing page may send the browser after a link.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkBody {
    /// A path, or a URL on an allowed origin.
    #[schema(value_type = Option<String>, max_length = 2048)]
    pub redirect_to: Option<String>,
}

/// A sign-in provider as offered to clients.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthProviderDto {
    /// The name in `/auth/oauth/{provider}/…`.
    pub name: String,
    /// What a sign-in button says.
    pub display_name: String,
}

/// A linked provider account as the API shows it: never tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct IdentityDto {
    pub id: Uuid,
    /// The provider's name.
    pub provider: String,
    /// The provider's id of the account.
    pub subject: String,
    /// The address the provider gave.
    pub email: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<&IdentityRecord> for IdentityDto {
    fn from(i: &IdentityRecord) -> Self {
        Self {
            id: i.id,
            provider: i.provider.clone(),
            subject: i.subject.clone(),
            email: i.email.clone(),
            created_at: i.created_at,
            last_used_at: i.last_used_at,
        }
    }
}
