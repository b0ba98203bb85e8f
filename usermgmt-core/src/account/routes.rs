//! The account routes: deactivate and reactivate, delete and recover (each with its
//! two-factor step), delete for good, and the GDPR export. Their rows, handlers, request bodies
//! and the export document.

use super::{AccountExport, AccountRestore};
use crate::admin::routes::AdminUserDto;
use crate::api::openapi::derived::{answer, request_body};
use crate::api::openapi::responses::exported_session;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::{caller, password, secret};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::audit::routes::AuditEventDto;
use crate::auth::routes::{LoginTwoFactorBody, UserDto};
use crate::error::Result;
use crate::notifications::routes::NotificationDto;
use crate::profile::routes::ProfileDto;
use crate::secret::SecretText;
use crate::store::Timestamp;
use crate::two_factor::routes::TwoFactorChallengeDto;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "POST",
        "/api/v1/account/deactivate",
        "AccountDeactivate",
        "Deactivate the caller's account",
        handler!(deactivate),
        |_| Docs::data(null()).body(password_body()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/account/reactivate",
        "AccountReactivate",
        "Reactivate a deactivated account with email and password",
        handler!(reactivate),
        restore_docs,
    )
    .limit(RateLimit::Login),
    Route::new(
        "DELETE",
        "/api/v1/account",
        "AccountDelete",
        "Soft-delete the caller's account (30-day recovery window)",
        handler!(delete),
        |_| Docs::data(record(&[("recoveryDeadline", date_time())])).body(password_body()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/account/recover",
        "AccountRecover",
        "Recover a deleted account within the window",
        handler!(recover),
        restore_docs,
    )
    .limit(RateLimit::Login),
    Route::new(
        "POST",
        "/api/v1/account/reactivate/2fa",
        "AccountReactivateTwoFactor",
        "Complete the reactivation of a two-factor account with a TOTP or backup code",
        handler!(reactivate_with_code),
        restore_with_code_docs,
    )
    .limit(RateLimit::TwoFactor),
    Route::new(
        "POST",
        "/api/v1/account/recover/2fa",
        "AccountRecoverTwoFactor",
        "Complete the recovery of a two-factor account with a TOTP or backup code",
        handler!(recover_with_code),
        restore_with_code_docs,
    )
    .limit(RateLimit::TwoFactor),
    Route::new(
        "POST",
        "/api/v1/account/permanent-delete",
        "AccountPermanentDelete",
        "Delete the caller's account and data for good",
        handler!(delete_permanently),
        |_| Docs::data(null()).body(request_body::<PermanentDeleteBody>()),
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/account/export",
        "AccountExport",
        "Every stored datum of the caller (GDPR), as a JSON attachment",
        handler!(export),
        |_| {
            Docs::data(record(&[
                ("exportedAt", date_time()),
                ("format", json!({"const": "usermgmt-export/1"})),
                ("user", reference("AdminUser")),
                ("profile", reference("Profile")),
                (
                    "twoFactor",
                    record(&[
                        ("enabled", boolean()),
                        ("enabledAt", nullable_date_time()),
                        ("backupCodesRemaining", integer()),
                    ]),
                ),
                ("passwordChanges", array(date_time())),
                (
                    "passkeys",
                    array(record(&[
                        ("name", string()),
                        ("createdAt", date_time()),
                        ("lastUsedAt", nullable_date_time()),
                    ])),
                ),
                (
                    "apiKeys",
                    array(record(&[
                        ("name", string()),
                        ("prefix", string()),
                        ("scopes", strings()),
                        ("expiresAt", nullable_date_time()),
                        ("createdAt", date_time()),
                        ("lastUsedAt", nullable_date_time()),
                    ])),
                ),
                (
                    "organizations",
                    array(record(&[
                        ("id", uuid()),
                        ("name", string()),
                        ("slug", string()),
                        ("role", string()),
                        ("joinedAt", date_time()),
                    ])),
                ),
                (
                    "identities",
                    array(answer::<crate::oauth::routes::IdentityDto>()),
                ),
                ("sessions", array(exported_session())),
                ("notifications", array(reference("Notification"))),
                ("auditTrail", array(reference("AuditEvent"))),
            ]))
        },
    )
    .bearer(),
];

fn password_body() -> serde_json::Value {
    request_body::<PasswordBody>().schema()
}

fn restore_docs(_: &crate::Config) -> Docs {
    Docs::data(json!({"oneOf": [with_user("User"), reference("TwoFactorChallenge")]}))
        .body(request_body::<CredentialsBody>())
}

fn restore_with_code_docs(_: &crate::Config) -> Docs {
    Docs::data(with_user("User")).body(request_body::<LoginTwoFactorBody>())
}

async fn deactivate(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: PasswordBody = ctx.json()?;
    api.manager()
        .deactivate_account(&auth, &password(body.password), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Account deactivated. Reactivate it with your email and password.",
        json!(null),
    ))
}

async fn reactivate(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    restore(api, ctx, false).await
}

async fn recover(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    restore(api, ctx, true).await
}

/// Reactivates (`deleted` false) or recovers (true) an account with email and password.
async fn restore(api: &Api, ctx: &RequestContext, deleted: bool) -> Result<ApiResponse> {
    let m = api.manager();
    let body: CredentialsBody = ctx.json()?;
    let email = body.email.unwrap_or_default();
    let pw = password(body.password);
    let (restore, message) = if deleted {
        (
            m.recover_account(&email, &pw, &ctx.client).await?,
            "Account recovered",
        )
    } else {
        (
            m.reactivate_account(&email, &pw, &ctx.client).await?,
            "Account reactivated",
        )
    };
    Ok(match restore {
        AccountRestore::Done(user) => {
            ApiResponse::success(200, message, json!({"user": UserDto::from(&*user)}))
        }
        AccountRestore::TwoFactorRequired(challenge) => ApiResponse::success(
            200,
            "Two-factor authentication required",
            TwoFactorChallengeDto::from(&challenge),
        ),
    })
}

async fn reactivate_with_code(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    restore_with_code(api, ctx, false).await
}

async fn recover_with_code(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    restore_with_code(api, ctx, true).await
}

/// The two-factor step of a reactivation (`deleted` false) or a recovery (true).
async fn restore_with_code(api: &Api, ctx: &RequestContext, deleted: bool) -> Result<ApiResponse> {
    let m = api.manager();
    let body: LoginTwoFactorBody = ctx.json()?;
    let challenge = secret(body.challenge_token);
    let code = secret(body.code);
    let (user, message) = if deleted {
        (
            m.recover_account_with_code(&challenge, &code, &ctx.client)
                .await?,
            "Account recovered",
        )
    } else {
        (
            m.reactivate_account_with_code(&challenge, &code, &ctx.client)
                .await?,
            "Account reactivated",
        )
    };
    Ok(ApiResponse::success(
        200,
        message,
        json!({"user": UserDto::from(&user)}),
    ))
}

async fn delete(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: PasswordBody = ctx.json()?;
    let deadline = api
        .manager()
        .delete_account(&auth, &password(body.password), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Account deleted. It can be recovered until the deadline.",
        json!({"recoveryDeadline": rfc3339(deadline)}),
    ))
}

async fn delete_permanently(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: PermanentDeleteBody = ctx.json()?;
    api.manager()
        .delete_account_permanently(
            &auth,
            &password(body.password),
            &body.confirm_email.unwrap_or_default(),
            &ctx.client,
        )
        .await?;
    Ok(ApiResponse::success(
        200,
        "Account and data deleted for good",
        json!(null),
    ))
}

async fn export(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let export = api.manager().export_account(&auth, &ctx.client).await?;
    let mut response = ApiResponse::success(200, "OK", account_export(&export));
    response.push_header(
        "content-disposition",
        &format!(
            "attachment; filename=\"usermgmt-export-{}.json\"",
            auth.user.id
        ),
    );
    Ok(response)
}

fn rfc3339(t: Timestamp) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The GDPR export document: every stored datum of the user, never a hash or a secret.
pub fn account_export(export: &AccountExport) -> serde_json::Value {
    let AccountExport {
        user,
        profile,
        two_factor,
        passkeys,
        api_keys,
        organizations,
        identities,
        data,
        exported_at,
    } = export;
    let two_factor = two_factor.as_ref();
    let sessions: Vec<_> = data
        .sessions
        .iter()
        .map(|s| {
            json!({
                "id": s.id,
                "deviceInfo": s.device_info,
                "ipAddress": s.ip_address,
                "userAgent": s.user_agent,
                "createdAt": rfc3339(s.created_at),
                "lastActivity": rfc3339(s.last_activity_at),
                "expiresAt": rfc3339(s.expires_at),
                "revokedAt": s.revoked_at.map(rfc3339),
            })
        })
        .collect();
    let notifications: Vec<_> = data
        .notifications
        .iter()
        .map(NotificationDto::from)
        .collect();
    json!({
        "exportedAt": rfc3339(*exported_at),
        "format": "usermgmt-export/1",
        "user": AdminUserDto::from(user),
        "profile": ProfileDto::from(profile),
        "twoFactor": {
            "enabled": two_factor.is_some_and(|t| t.enabled),
            "enabledAt": two_factor.and_then(|t| t.enabled_at).map(rfc3339),
            "backupCodesRemaining": two_factor.map_or(0, |t| t.backup_codes_remaining),
        },
        "passwordChanges": data.password_changes.iter().map(|t| rfc3339(*t)).collect::<Vec<_>>(),
        "passkeys": passkeys
            .iter()
            .map(|p| json!({
                "name": p.name,
                "createdAt": rfc3339(p.created_at),
                "lastUsedAt": p.last_used_at.map(rfc3339),
            }))
            .collect::<Vec<_>>(),
        "apiKeys": api_keys
            .iter()
            .map(|k| json!({
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes,
                "expiresAt": k.expires_at.map(rfc3339),
                "createdAt": rfc3339(k.created_at),
                "lastUsedAt": k.last_used_at.map(rfc3339),
            }))
            .collect::<Vec<_>>(),
        "organizations": organizations
            .iter()
            .map(|m| json!({
                "id": m.org.id,
                "name": m.org.name,
                "slug": m.org.slug,
                "role": m.role.as_str(),
                "joinedAt": rfc3339(m.joined_at),
            }))
            .collect::<Vec<_>>(),
        "identities": identities
            .iter()
            .map(crate::oauth::routes::IdentityDto::from)
            .collect::<Vec<_>>(),
        "sessions": sessions,
        "notifications": notifications,
        "auditTrail": data.audit.iter().map(AuditEventDto::from).collect::<Vec<_>>(),
    })
}

/// `POST /account/deactivate`, `DELETE /account`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PasswordBody {
    #[schema(required, value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
}

/// `POST /account/reactivate`, `POST /account/recover`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct CredentialsBody {
    #[schema(required, format = Email)]
    pub email: Option<String>,
    #[schema(required, value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
}

/// `POST /account/permanent-delete`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct PermanentDeleteBody {
    #[schema(required, value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
    #[schema(required, format = Email)]
    pub confirm_email: Option<String>,
}
