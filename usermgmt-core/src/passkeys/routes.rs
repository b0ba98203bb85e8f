//! The passkey routes: registering, listing, renaming and removing the caller's passkeys, and
//! usernameless sign-in. Their rows, handlers, request bodies and wire shapes.

use super::PasskeyOptions;
use super::store::PasskeyRecord;
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::caller;
use crate::api::{Api, ApiResponse, RequestContext};
use crate::auth::routes::{LoginSuccessDto, TokensDto, UserDto};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/passkeys",
        "ListPasskeys",
        "The caller's passkeys",
        handler!(list),
        |_| Docs::data(record(&[("passkeys", array(answer::<PasskeyDto>()))])),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/passkeys/register/options",
        "PasskeyRegistrationOptions",
        "Start registering a passkey: options for navigator.credentials.create",
        handler!(register_options),
        |_| Docs::data(options_shape()).body(request_body::<EmptyPasskeyBody>()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/passkeys/register/verify",
        "PasskeyRegistrationVerify",
        "Register the passkey the authenticator created",
        handler!(register_verify),
        |_| {
            Docs::data(record(&[("passkey", answer::<PasskeyDto>())]))
                .status(201)
                .body(request_body::<RegisterVerifyBody>())
        },
    )
    .bearer(),
    Route::new(
        "PATCH",
        "/api/v1/passkeys/{passkeyId}",
        "RenamePasskey",
        "Rename one of the caller's passkeys",
        handler!(rename),
        |_| {
            Docs::data(record(&[("passkey", answer::<PasskeyDto>())]))
                .body(request_body::<RenamePasskeyBody>())
        },
    )
    .bearer(),
    Route::new(
        "DELETE",
        "/api/v1/passkeys/{passkeyId}",
        "DeletePasskey",
        "Remove one of the caller's passkeys",
        handler!(remove),
        |_| Docs::data(null()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/auth/passkey/options",
        "PasskeySignInOptions",
        "Start a usernameless sign-in: options for navigator.credentials.get",
        handler!(sign_in_options),
        |_| Docs::data(options_shape()).body(request_body::<EmptyPasskeyBody>()),
    ),
    Route::new(
        "POST",
        "/api/v1/auth/passkey/verify",
        "PasskeySignIn",
        "Sign in with the passkey's assertion",
        handler!(sign_in),
        |_| Docs::data(reference("LoginSuccess")).body(request_body::<CeremonyAnswerBody>()),
    )
    .limit(RateLimit::Login),
    Route::new(
        "POST",
        "/api/v1/auth/login/2fa/passkey-options",
        "LoginTwoFactorPasskeyOptions",
        "Start answering a login's two-factor challenge with a passkey",
        handler!(second_factor_options),
        |_| Docs::data(options_shape()).body(request_body::<SecondFactorOptionsBody>()),
    )
    .limit(RateLimit::TwoFactor),
];

/// `{ceremonyId, publicKey}`.
fn options_shape() -> serde_json::Value {
    record(&[
        ("ceremonyId", uuid()),
        (
            "publicKey",
            json!({"type": "object", "description": "The publicKey member of the options of navigator.credentials.create or .get; binary values base64url"}),
        ),
    ])
}

fn options_answer(message: &str, options: PasskeyOptions) -> ApiResponse {
    ApiResponse::success(
        200,
        message,
        json!({"ceremonyId": options.ceremony_id, "publicKey": options.public_key}),
    )
}

fn passkey_id(ctx: &RequestContext) -> Result<Uuid> {
    ctx.param("passkeyId")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Error::NotFound("passkey"))
}

/// A required member that arrived absent or `null`.
fn required<T>(value: Option<T>, field: &str) -> Result<T> {
    value.ok_or_else(|| Error::invalid(field, "is required"))
}

async fn list(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let keys = api.manager().passkeys(&auth).await?;
    let keys: Vec<PasskeyDto> = keys.iter().map(PasskeyDto::from).collect();
    Ok(ApiResponse::success(200, "OK", json!({"passkeys": keys})))
}

async fn register_options(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let _: EmptyPasskeyBody = ctx.json()?;
    let options = api.manager().start_passkey_registration(&auth).await?;
    Ok(options_answer(
        "Pass publicKey to navigator.credentials.create, then send the result to /passkeys/register/verify",
        options,
    ))
}

async fn register_verify(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: RegisterVerifyBody = ctx.json()?;
    let ceremony_id = required(body.ceremony_id, "ceremonyId")?;
    let credential = required(body.credential, "credential")?;
    let passkey = api
        .manager()
        .finish_passkey_registration(
            &auth,
            ceremony_id,
            credential,
            body.name.as_deref(),
            &ctx.client,
        )
        .await?;
    Ok(ApiResponse::success(
        201,
        "Passkey registered",
        json!({"passkey": PasskeyDto::from(&passkey)}),
    ))
}

async fn rename(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = passkey_id(ctx)?;
    let body: RenamePasskeyBody = ctx.json()?;
    let passkey = api
        .manager()
        .rename_passkey(&auth, id, body.name.as_deref())
        .await?;
    Ok(ApiResponse::success(
        200,
        "Passkey renamed",
        json!({"passkey": PasskeyDto::from(&passkey)}),
    ))
}

async fn remove(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let id = passkey_id(ctx)?;
    api.manager().remove_passkey(&auth, id, &ctx.client).await?;
    Ok(ApiResponse::success(200, "Passkey removed", json!(null)))
}

async fn sign_in_options(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let _: EmptyPasskeyBody = ctx.json()?;
    let options = api.manager().start_passkey_sign_in().await?;
    Ok(options_answer(
        "Pass publicKey to navigator.credentials.get, then send the result to /auth/passkey/verify",
        options,
    ))
}

async fn sign_in(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: CeremonyAnswerBody = ctx.json()?;
    let ceremony_id = required(body.ceremony_id, "ceremonyId")?;
    let credential = required(body.credential, "credential")?;
    let success = api
        .manager()
        .finish_passkey_sign_in(ceremony_id, credential, &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Login successful",
        LoginSuccessDto {
            user: UserDto::from(&success.user),
            tokens: TokensDto::from(&success.tokens),
        },
    ))
}

async fn second_factor_options(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: SecondFactorOptionsBody = ctx.json()?;
    let challenge = body
        .challenge_token
        .map(|t| t.into_inner())
        .unwrap_or_default();
    let options = api
        .manager()
        .start_second_factor_passkey(&challenge)
        .await?;
    Ok(options_answer(
        "Pass publicKey to navigator.credentials.get, then send the result to /auth/login/2fa",
        options,
    ))
}

/// The login's two-factor challenge a passkey is to answer.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecondFactorOptionsBody {
    /// The `challengeToken` of `POST /auth/login`.
    #[schema(required, value_type = Option<String>)]
    pub challenge_token: Option<crate::secret::SecretText>,
}

/// No members (a ceremony's options need nothing from the client).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyPasskeyBody {}

/// The authenticator's answer to a registration ceremony.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterVerifyBody {
    /// The `ceremonyId` of the options.
    #[schema(required, value_type = Option<Uuid>)]
    pub ceremony_id: Option<Uuid>,
    /// The `PublicKeyCredential` of `navigator.credentials.create`, in WebAuthn's JSON form
    /// (`id`, `rawId`, `type`, `response.attestationObject`, `response.clientDataJSON`,
    /// `response.transports`; binary values base64url).
    #[schema(required, value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
    /// A name for it (`Passkey` when absent).
    #[schema(value_type = Option<String>, max_length = 64)]
    pub name: Option<String>,
}

/// The authenticator's answer to a sign-in ceremony.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CeremonyAnswerBody {
    /// The `ceremonyId` of the options.
    #[schema(required, value_type = Option<Uuid>)]
    pub ceremony_id: Option<Uuid>,
    /// The `PublicKeyCredential` of `navigator.credentials.get`, in WebAuthn's JSON form
    /// (`id`, `rawId`, `type`, `response.authenticatorData`, `response.clientDataJSON`,
    /// `response.signature`, `response.userHandle`; binary values base64url).
    #[schema(required, value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

/// A passkey's new name.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RenamePasskeyBody {
    /// The new name.
    #[schema(required, value_type = Option<String>, max_length = 64)]
    pub name: Option<String>,
}

/// A passkey as the API shows it: names and dates, never key material.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct PasskeyDto {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    /// Whether the passkey is synced (backed up) by its provider.
    pub backed_up: bool,
    /// How its authenticator is reached (`internal`, `usb`, `hybrid`, …).
    pub transports: Vec<String>,
}

impl From<&PasskeyRecord> for PasskeyDto {
    fn from(p: &PasskeyRecord) -> Self {
        Self {
            id: p.id,
            name: p.name.clone(),
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backed_up: p.backed_up,
            transports: p.transports.clone(),
        }
    }
}
