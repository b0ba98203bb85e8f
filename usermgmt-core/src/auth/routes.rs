//! The authentication routes: register, log in (and its second step), log out, refresh,
//! verify the email address, reset and change the password, check a name is free. Their rows,
//! handlers, request bodies and the wire shapes of users and tokens.

use super::{LoginOutcome, LoginSuccess, Registration, TokenPair};
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::{caller, password, required, secret};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::{Error, Result};
use crate::secret::{Password, SecretText};
use crate::store::{Timestamp, UserRecord};
use crate::two_factor::routes::TwoFactorChallengeDto;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// The rows.
pub(crate) static ROUTES: &[Route] = &[
    Route::new(
        "POST",
        "/api/v1/auth/register",
        "Register",
        "Register a user and mail a verification link",
        handler!(register),
        register_docs,
    )
    .limit(RateLimit::Register),
    Route::new(
        "POST",
        "/api/v1/auth/login",
        "Login",
        "Log in with email or username and password",
        handler!(login),
        |_| {
            let mut body = object(&[
                ("identifier", string(), false),
                ("email", string(), false),
                ("username", string(), false),
                ("password", typed_password(), true),
            ]);
            one_of_members(&mut body, &["identifier", "email", "username"]);
            Docs::data(
                json!({"oneOf": [reference("LoginSuccess"), reference("TwoFactorChallenge")]}),
            )
            .body(body)
        },
    )
    .limit(RateLimit::Login),
    Route::new(
        "POST",
        "/api/v1/auth/login/2fa",
        "LoginTwoFactor",
        "Complete a login with a TOTP or backup code",
        handler!(login_two_factor),
        |_| Docs::data(reference("LoginSuccess")).body(challenge_body()),
    )
    .limit(RateLimit::TwoFactor),
    Route::new(
        "POST",
        "/api/v1/auth/logout",
        "Logout",
        "End the current session",
        handler!(logout),
        |_| Docs::data(null()).body(object(&[("refreshToken", string(), false)])),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/auth/refresh",
        "Refresh",
        "Rotate a refresh token for a new token pair",
        handler!(refresh),
        |_| Docs::data(reference("Tokens")).body(object(&[("refreshToken", string(), true)])),
    ),
    Route::new(
        "GET",
        "/api/v1/auth/verify-email",
        "VerifyEmailGet",
        "Confirm an email address (link from the mail)",
        handler!(verify_email_link),
        |_| {
            Docs::data(with_user("User")).query(vec![required_query(
                "token",
                json!({"type": "string", "pattern": "\\S"}),
                "The token from the email",
            )])
        },
    ),
    Route::new(
        "POST",
        "/api/v1/auth/verify-email",
        "VerifyEmailPost",
        "Confirm an email address",
        handler!(verify_email),
        verify_email_docs,
    ),
    Route::new(
        "POST",
        "/api/v1/auth/resend-verification",
        "ResendVerification",
        "Mail a new verification link",
        handler!(resend_verification),
        email_docs,
    )
    .limit(RateLimit::Email),
    Route::new(
        "POST",
        "/api/v1/auth/forgot-password",
        "ForgotPassword",
        "Mail a password-reset link",
        handler!(forgot_password),
        email_docs,
    )
    .limit(RateLimit::Email),
    Route::new(
        "POST",
        "/api/v1/auth/reset-password",
        "ResetPassword",
        "Set a new password with a reset token",
        handler!(reset_password),
        |config| {
            Docs::data(null()).body(object(&[
                ("token", string(), true),
                ("password", new_password(&config.password_policy), true),
                ("confirmPassword", confirm_password("password"), true),
            ]))
        },
    ),
    Route::new(
        "POST",
        "/api/v1/auth/change-password",
        "ChangePassword",
        "Change the password (ends other sessions)",
        handler!(change_password),
        change_password_docs,
    )
    .bearer(),
    Route::new(
        "GET",
        "/api/v1/auth/check-email",
        "CheckEmail",
        "Is an email address free?",
        handler!(check_email),
        |_| {
            Docs::data(record(&[("available", boolean())])).query(vec![required_query(
                "email",
                json!({"type": "string", "format": "email"}),
                "The address to check",
            )])
        },
    )
    .limit(RateLimit::Availability),
    Route::new(
        "GET",
        "/api/v1/auth/check-username",
        "CheckUsername",
        "Is a username free?",
        handler!(check_username),
        |_| {
            Docs::data(record(&[("available", boolean())])).query(vec![required_query(
                "username",
                json!({"type": "string", "pattern": "^[A-Za-z0-9_]{3,30}$"}),
                "The name to check",
            )])
        },
    )
    .limit(RateLimit::Availability),
    Route::new(
        "POST",
        "/api/v1/users/register",
        "Register",
        "First seed: register (as POST /auth/register)",
        handler!(register),
        register_docs,
    )
    .limit(RateLimit::Register)
    .compat(),
    Route::new(
        "POST",
        "/api/v1/users/reset-password",
        "ForgotPassword",
        "First seed: mail a reset link (never a password)",
        handler!(forgot_password),
        email_docs,
    )
    .limit(RateLimit::Email)
    .compat(),
    Route::new(
        "PUT",
        "/api/v1/users/change-password",
        "ChangePassword",
        "First seed: change password (as POST /auth/change-password)",
        handler!(change_password),
        change_password_docs,
    )
    .bearer()
    .compat(),
    Route::new(
        "POST",
        "/api/v1/auth/confirm-email",
        "VerifyEmailPost",
        "First seed: confirm an email address",
        handler!(verify_email),
        verify_email_docs,
    )
    .compat(),
];

fn register_docs(config: &crate::Config) -> Docs {
    Docs::data(with_user("User")).status(201).body(object(&[
        ("email", email(), true),
        (
            "username",
            json!({"type": "string", "pattern": "^[A-Za-z0-9_]{3,30}$"}),
            true,
        ),
        ("password", new_password(&config.password_policy), true),
        ("firstName", person_name(), false),
        ("lastName", person_name(), false),
    ]))
}

/// `{challengeToken, code}`: the second step of a login, a reactivation or a recovery.
pub(crate) fn challenge_body() -> serde_json::Value {
    object(&[("challengeToken", string(), true), ("code", string(), true)])
}

fn verify_email_docs(_: &crate::Config) -> Docs {
    Docs::data(with_user("User")).body(object(&[("token", string(), true)]))
}

fn email_docs(_: &crate::Config) -> Docs {
    Docs::data(null()).body(object(&[("email", email(), true)]))
}

fn change_password_docs(config: &crate::Config) -> Docs {
    Docs::data(count("revokedSessions")).body(object(&[
        ("currentPassword", typed_password(), true),
        ("newPassword", new_password(&config.password_policy), true),
        ("confirmPassword", confirm_password("newPassword"), true),
    ]))
}

async fn register(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: RegisterBody = ctx.json()?;
    let registration = Registration {
        email: body.email.unwrap_or_default(),
        username: body.username.unwrap_or_default(),
        password: body.password.map(|p| Password::new(p.into_inner())),
        first_name: body.first_name,
        last_name: body.last_name,
    };
    let user = api.manager().register(registration, &ctx.client).await?;
    Ok(ApiResponse::success(
        201,
        "Registration successful. Check your email to verify your address.",
        json!({"user": UserDto::from(&user)}),
    ))
}

async fn login(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: LoginBody = ctx.json()?;
    let identifier = body
        .identifier
        .or(body.email)
        .or(body.username)
        .unwrap_or_default();
    match api
        .manager()
        .login(&identifier, &password(body.password), &ctx.client)
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

async fn login_two_factor(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: LoginTwoFactorBody = ctx.json()?;
    let success = api
        .manager()
        .complete_two_factor_login(
            &secret(body.challenge_token),
            &secret(body.code),
            &ctx.client,
        )
        .await?;
    Ok(login_success(&success))
}

fn login_success(success: &LoginSuccess) -> ApiResponse {
    ApiResponse::success(
        200,
        "Login successful",
        json!({"user": UserDto::from(&success.user), "tokens": TokensDto::from(&success.tokens)}),
    )
}

async fn logout(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    // The body is optional; when present it must still be well-formed.
    let _: RefreshBody = ctx.json()?;
    api.manager().logout(&auth, &ctx.client).await?;
    Ok(ApiResponse::success(200, "Logged out", json!(null)))
}

async fn refresh(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: RefreshBody = ctx.json()?;
    let mut errors = Vec::new();
    let token = required(
        "refreshToken",
        body.refresh_token.map(SecretText::into_inner),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let pair = api.manager().refresh(&token, &ctx.client).await?;
    Ok(ApiResponse::success(
        200,
        "Token refreshed",
        TokensDto::from(&pair),
    ))
}

async fn verify_email_link(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let token = ctx.query_param("token").unwrap_or_default();
    let user = api.manager().verify_email(&token, &ctx.client).await?;
    Ok(ApiResponse::success(
        200,
        "Email verified",
        json!({"user": UserDto::from(&user)}),
    ))
}

async fn verify_email(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: TokenBody = ctx.json()?;
    let user = api
        .manager()
        .verify_email(&secret(body.token), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "Email verified",
        json!({"user": UserDto::from(&user)}),
    ))
}

async fn resend_verification(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: EmailBody = ctx.json()?;
    api.manager()
        .resend_verification(&body.email.unwrap_or_default(), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "If the address is registered and not yet verified, a new link is on its way",
        json!(null),
    ))
}

async fn forgot_password(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: EmailBody = ctx.json()?;
    api.manager()
        .forgot_password(&body.email.unwrap_or_default(), &ctx.client)
        .await?;
    Ok(ApiResponse::success(
        200,
        "If the address is registered, a password reset link is on its way",
        json!(null),
    ))
}

async fn reset_password(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: ResetPasswordBody = ctx.json()?;
    api.manager()
        .reset_password(
            &secret(body.token),
            &password(body.password),
            &password(body.confirm_password),
            &ctx.client,
        )
        .await?;
    Ok(ApiResponse::success(
        200,
        "Password reset. Every session has been signed out; log in with the new password.",
        json!(null),
    ))
}

async fn change_password(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: ChangePasswordBody = ctx.json()?;
    let revoked = api
        .manager()
        .change_password(
            &auth,
            &password(body.current_password),
            &password(body.new_password),
            &password(body.confirm_password),
            &ctx.client,
        )
        .await?;
    Ok(ApiResponse::success(
        200,
        "Password changed. Other sessions have been signed out.",
        json!({"revokedSessions": revoked}),
    ))
}

async fn check_email(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let email = ctx.query_param("email").unwrap_or_default();
    let available = api.manager().email_available(&email).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"available": available}),
    ))
}

async fn check_username(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let username = ctx.query_param("username").unwrap_or_default();
    let available = api.manager().username_available(&username).await?;
    Ok(ApiResponse::success(
        200,
        "OK",
        json!({"available": available}),
    ))
}

/// `POST /auth/register`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterBody {
    /// Email.
    pub email: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Password.
    pub password: Option<SecretText>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// `POST /auth/login` (`email` accepted in place of `identifier`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginBody {
    /// Email or username.
    pub identifier: Option<String>,
    /// Email (alias of identifier, as the first seed sent it).
    pub email: Option<String>,
    /// Username (alias of identifier).
    pub username: Option<String>,
    /// Password.
    pub password: Option<SecretText>,
}

/// `POST /auth/refresh`, `POST /auth/logout`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefreshBody {
    /// The refresh token.
    pub refresh_token: Option<SecretText>,
}

/// `POST /auth/verify-email`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenBody {
    /// The token from the email.
    pub token: Option<SecretText>,
}

/// `POST /auth/resend-verification`, `POST /auth/forgot-password`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailBody {
    /// Email.
    pub email: Option<String>,
}

/// `POST /auth/reset-password`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResetPasswordBody {
    /// The token from the email.
    pub token: Option<SecretText>,
    /// New password.
    pub password: Option<SecretText>,
    /// Repeated.
    pub confirm_password: Option<SecretText>,
}

/// `POST /auth/change-password`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChangePasswordBody {
    /// Current password.
    pub current_password: Option<SecretText>,
    /// New password.
    pub new_password: Option<SecretText>,
    /// Repeated.
    pub confirm_password: Option<SecretText>,
}

/// `POST /auth/login/2fa` (and the second step of a reactivation or recovery).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginTwoFactorBody {
    /// The challenge from the first step.
    pub challenge_token: Option<SecretText>,
    /// A TOTP code or a backup code.
    pub code: Option<SecretText>,
}

/// The `User` object of SPEC §5. Never a hash or a secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct UserDto {
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub avatar: Option<String>,
    pub email_verified: bool,
    pub is_active: bool,
    pub is_suspended: bool,
    pub two_factor_enabled: bool,
    pub roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<Timestamp>,
}

impl From<&UserRecord> for UserDto {
    fn from(u: &UserRecord) -> Self {
        Self {
            id: u.id,
            email: u.email.clone(),
            username: u.username.clone(),
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            avatar: u.avatar.clone(),
            email_verified: u.email_verified,
            is_active: u.is_active,
            is_suspended: u.is_suspended,
            two_factor_enabled: u.two_factor_enabled,
            roles: u.roles.clone(),
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// Tokens as returned by login and refresh.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TokensDto {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

impl From<&TokenPair> for TokensDto {
    fn from(t: &TokenPair) -> Self {
        Self {
            access_token: t.access_token.clone(),
            refresh_token: t.refresh_token.expose().to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in: t.expires_in,
        }
    }
}
