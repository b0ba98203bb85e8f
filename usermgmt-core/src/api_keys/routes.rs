//! The API key routes: making, listing, rotating and deleting the caller's keys. Their rows,
//! handlers, request bodies and wire shapes; and which rows of the whole table refuse keys.

use super::ApiKeyInput;
use super::store::ApiKeyRecord;
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, Route, handler};
use crate::api::support::{caller, path_id};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/api-keys",
        "ListApiKeys",
        "The caller's API keys (never their secrets)",
        handler!(list),
        |_| Docs::data(record(&[("apiKeys", array(answer::<ApiKeyDto>()))])),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/api-keys",
        "CreateApiKey",
        "Make an API key; its text (key) is shown this once",
        handler!(create),
        |_| {
            Docs::data(key_answer())
                .status(201)
                .body(request_body::<CreateApiKeyBody>().require(&["name", "scopes"]))
        },
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/api-keys/{apiKeyId}",
        "DeleteApiKey",
        "Delete one of the caller's API keys: it stops working at once",
        handler!(remove),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/api-keys/{apiKeyId}/rotate",
        "RotateApiKey",
        "Give an API key a new secret; the old one stops at once or after graceSeconds",
        handler!(rotate),
        |_| Docs::data(key_answer()).body(request_body::<RotateApiKeyBody>()),
    )
    .bearer(),
];

/// Paths under which every row refuses API keys: keys never manage keys, passwords,
/// two-factor, sessions, passkeys, linked identities or the account, nor sign in, refresh or out (`/auth/…`).
const KEYLESS_PATHS: &[&str] = &[
    "/api/v1/api-keys",
    "/api/v1/auth/",
    "/api/v1/2fa/",
    "/api/v1/sessions",
    "/api/v1/passkeys",
    "/api/v1/account",
    "/api/v1/users/change-password",
    "/api/v1/users/reset-password",
    "/api/v1/users/identities",
];

/// Rows outside those paths that refuse keys too: acting as another user, and ending that.
const KEYLESS_ROUTES: &[&str] = &["AdminImpersonate", "AdminStopImpersonation"];

/// Marks the rows a key may not use ([`KEYLESS_PATHS`], [`KEYLESS_ROUTES`]); `Api` answers
/// them 403 `API_KEY_NOT_ALLOWED` before their handler runs. Applied to the whole table
/// (`capabilities.rs`), so a row added under those paths refuses keys by itself.
pub(crate) fn refuse_keys_where_forbidden(mut route: Route) -> Route {
    if KEYLESS_PATHS.iter().any(|p| route.path.starts_with(p))
        || KEYLESS_ROUTES.contains(&route.name)
    {
        route.refuses_api_keys = true;
    }
    route
}

/// `{apiKey, key}`.
fn key_answer() -> serde_json::Value {
    record(&[
        ("apiKey", answer::<ApiKeyDto>()),
        (
            "key",
            json!({"type": "string", "pattern": "^umk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$", "description": "The key's text: shown this once, never again"}),
        ),
    ])
}

/// A new API key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateApiKeyBody {
    /// Its name (1–64 printable characters).
    #[schema(required, value_type = Option<String>, max_length = 64)]
    pub name: Option<String>,
    /// Permission names it may use (ours, or the second seed's spelling); it gets at most
    /// those the owner holds at each request. May be empty: the key then reaches only the
    /// owner's self-service routes.
    #[schema(required, value_type = Option<Vec<String>>)]
    pub scopes: Option<Vec<String>>,
    /// Days until it expires (1–3650); absent: never.
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<i64>,
    /// The organization the key belongs to; the caller must hold `apikey:manage` there.
    #[schema(value_type = Option<Uuid>)]
    pub org_id: Option<Uuid>,
}

/// A rotation.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateApiKeyBody {
    /// Seconds the replaced key keeps working (0–86400); absent or 0: it stops at once.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 86400)]
    pub grace_seconds: Option<i64>,
}

/// An API key as the API shows it: names, scopes and dates, never its secret or digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct ApiKeyDto {
    pub id: Uuid,
    pub name: String,
    /// The key's lookup part (`umk_<prefix>_…`), to recognise it by.
    pub prefix: String,
    /// Permission names it may use.
    pub scopes: Vec<String>,
    /// The organization it belongs to, if any.
    #[schema(value_type = Option<Uuid>)]
    pub org_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

impl From<&ApiKeyRecord> for ApiKeyDto {
    fn from(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k.scopes.clone(),
            org_id: k.org_id,
            expires_at: k.expires_at,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
        }
    }
}

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let keys = api.manager().api_keys(&auth).await?;
    let keys: Vec<ApiKeyDto> = keys.iter().map(ApiKeyDto::from).collect();
    Ok(ApiResponse::success(200, "OK", json!({"apiKeys": keys})))
}

async fn create(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: CreateApiKeyBody = ctx.json()?;
    let input = ApiKeyInput {
        name: body.name,
        scopes: body.scopes,
        expires_in_days: body.expires_in_days,
        org_id: body.org_id,
    };
    let (key, secret) = api
        .manager()
        .create_api_key(&auth, input, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        201,
        "API key created; store it now, it is not shown again",
        json!({"apiKey": ApiKeyDto::from(&key), "key": secret.expose()}),
    ))
}

async fn remove(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = path_id(ctx, "apiKeyId", "API key")?;
    api.manager().revoke_api_key(&auth, id, &ctx.client).await?;
    Ok(ApiResponse::success(200, "API key deleted", json!(null)))
}

async fn rotate(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = path_id(ctx, "apiKeyId", "API key")?;
    let body: RotateApiKeyBody = ctx.json()?;
    let (key, secret) = api
        .manager()
        .rotate_api_key(&auth, id, body.grace_seconds, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "API key rotated; store the new key now, it is not shown again",
        json!({"apiKey": ApiKeyDto::from(&key), "key": secret.expose()}),
    ))
}
