//! The two-factor routes: status, setup and its confirmation, turning it off, step-up checks and
//! new backup codes. Their rows, handlers, request bodies and wire shapes.

use super::{TwoFactorChallenge, TwoFactorStatus};
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::{caller, password, secret};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::Result;
use crate::secret::SecretText;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "GET",
        "/api/v1/2fa/status",
        "TwoFactorStatus",
        "Two-factor state and backup codes left",
        handler!(status),
        |_| Docs::data(answer::<TwoFactorStatusDto>()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/2fa/setup",
        "TwoFactorSetup",
        "A new TOTP secret, otpauth URL and QR code",
        handler!(setup),
        |_| {
            Docs::data(record(&[
                ("secret", json!({"type": "string", "description": "Base32"})),
                ("otpauthUrl", string()),
                (
                    "qrCode",
                    json!({"type": "string", "description": "data: URL of a PNG"}),
                ),
            ]))
            .body(request_body::<EmptyBody>())
        },
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/2fa/enable",
        "TwoFactorEnable",
        "Confirm the setup with a code; returns backup codes",
        handler!(enable),
        backup_codes_docs,
    )
    .bearer()
    .limit(RateLimit::TwoFactor),
    Route::new(
        "POST",
        "/api/v1/2fa/disable",
        "TwoFactorDisable",
        "Turn two-factor off with a code or the password",
        handler!(disable),
        |_| {
            let mut body = request_body::<DisableTwoFactorBody>().schema();
            one_of_members(&mut body, &["code", "password"]);
            Docs::data(null()).body(body)
        },
    )
    .bearer()
    .limit(RateLimit::TwoFactor),
    Route::new(
        "POST",
        "/api/v1/2fa/verify",
        "TwoFactorVerify",
        "Step-up check of a TOTP or backup code",
        handler!(verify),
        |_| Docs::data(record(&[("verified", json!({"const": true}))])).body(code_body()),
    )
    .bearer()
    .limit(RateLimit::TwoFactor),
    Route::new(
        "POST",
        "/api/v1/2fa/backup-codes",
        "TwoFactorBackupCodes",
        "Replace the backup codes",
        handler!(backup_codes),
        backup_codes_docs,
    )
    .bearer()
    .limit(RateLimit::TwoFactor),
];

fn code_body() -> serde_json::Value {
    request_body::<CodeBody>().schema()
}

fn backup_codes_docs(_: &crate::Config) -> Docs {
    Docs::data(record(&[("backupCodes", strings())])).body(code_body())
}

async fn status(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let status = api.manager().two_factor_status(&auth).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        TwoFactorStatusDto::from(&status),
    ))
}

async fn setup(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let _: EmptyBody = ctx.json()?;
    let setup = api.manager().setup_two_factor(&auth).await?;
    Ok(ApiResponse::success(
        200,
        "Scan the QR code with an authenticator app, then confirm with a code",
        json!({"secret": setup.secret, "otpauthUrl": setup.otpauth_url, "qrCode": setup.qr_code}),
    ))
}

async fn enable(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: CodeBody = ctx.json()?;
    let codes = api
        .manager()
        .enable_two_factor(&auth, &secret(body.code), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Two-factor authentication enabled. Keep the backup codes somewhere safe: they are shown once.",
        json!({"backupCodes": codes.0}),
    ))
}

async fn disable(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: DisableTwoFactorBody = ctx.json()?;
    let pw = body.password.map(|p| password(Some(p)));
    api.manager()
        .disable_two_factor(
            &auth,
            body.code.as_ref().map(SecretText::expose),
            pw.as_ref(),
            &ctx.client,
        )
        .await?;
    Ok(ApiResponse::success(
        200,
        "Two-factor authentication disabled",
        json!(null),
    ))
}

async fn verify(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: CodeBody = ctx.json()?;
    api.manager()
        .verify_two_factor(&auth, &secret(body.code), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Code verified",
        json!({"verified": true}),
    ))
}

async fn backup_codes(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: CodeBody = ctx.json()?;
    let codes = api
        .manager()
        .regenerate_backup_codes(&auth, &secret(body.code), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "New backup codes; the old ones no longer work",
        json!({"backupCodes": codes.0}),
    ))
}

/// A body that must be empty (`{}`) or absent.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

/// `POST /2fa/enable`, `/2fa/verify`, `/2fa/backup-codes`: a TOTP code (or a backup code where
/// accepted).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CodeBody {
    #[schema(required, value_type = Option<String>)]
    pub code: Option<SecretText>,
}

/// `POST /2fa/disable`: a TOTP code or a backup code, or the account password.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct DisableTwoFactorBody {
    #[schema(value_type = Option<String>)]
    pub code: Option<SecretText>,
    #[schema(value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
}

/// `GET /2fa/status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TwoFactorStatusDto {
    pub enabled: bool,
    pub pending_setup: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub enabled_at: Option<OffsetDateTime>,
    pub backup_codes_remaining: u32,
}

impl From<&TwoFactorStatus> for TwoFactorStatusDto {
    fn from(s: &TwoFactorStatus) -> Self {
        Self {
            enabled: s.enabled,
            pending_setup: s.pending_setup,
            enabled_at: s.enabled_at,
            backup_codes_remaining: s.backup_codes_remaining,
        }
    }
}

/// A login answered with a second-factor challenge.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = TwoFactorChallenge)]
#[allow(missing_docs)]
pub struct TwoFactorChallengeDto {
    #[schema(schema_with = always_true)]
    pub two_factor_required: bool,
    pub challenge_token: String,
    /// Seconds
    pub expires_in: i64,
    pub methods: Vec<String>,
}

/// `twoFactorRequired`: always `true`.
fn always_true() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([true]))
        .into()
}

impl From<&TwoFactorChallenge> for TwoFactorChallengeDto {
    fn from(c: &TwoFactorChallenge) -> Self {
        Self {
            two_factor_required: true,
            challenge_token: c.challenge_token.expose().to_owned(),
            expires_in: c.expires_in,
            methods: c.methods.iter().map(|m| (*m).to_owned()).collect(),
        }
    }
}
