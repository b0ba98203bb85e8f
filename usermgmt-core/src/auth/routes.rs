//! The authentication routes: register, log in (and its second step), log out, refresh,
//! verify the email address, reset and change the password, check a name is free. Their rows,
//! handlers, request bodies and the wire shapes of users and tokens.

use super::{LoginOutcome, LoginSuccess, Registration, TokenPair};
use crate::api::openapi::derived::request_body;
use crate::api::openapi::rules;
use crate::api::openapi::schema::*;
use crate::api::routes::{Docs, RateLimit, Route, handler};
use crate::api::support::{caller, password, required, secret};
use crate::api::{Api, ApiResponse, RequestContext};
use crate::error::{Error, Result};
use crate::secret::{Password, SecretText};
use crate::store::UserRecord;
use crate::two_factor::routes::TwoFactorChallengeDto;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;
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
            let mut body = request_body::<LoginBody>().schema();
            one_of_members(&mut body, &["identifier", "email", "username"]);
            Docs::data(
                json!({"oneOf": [reference("LoginSuccess"), reference("TwoFactorChallenge")]}),
            )
            .body(body)
        },
    )
    .limit(RateLimit::Login)
    .at_root(),
    Route::new(
        "POST",
        "/api/v1/auth/login/2fa",
        "LoginTwoFactor",
        "Complete a login with a TOTP or backup code, or a passkey",
        handler!(login_two_factor),
        |_| {
            let mut body = request_body::<LoginTwoFactorBody>().schema();
            body["properties"]["code"]["minLength"] = json!(1);
            body["anyOf"] =
                json!([{"required": ["code"]}, {"required": ["ceremonyId", "credential"]}]);
            Docs::data(reference("LoginSuccess")).body(body)
        },
    )
    .limit(RateLimit::TwoFactor),
    Route::new(
        "POST",
        "/api/v1/auth/logout",
        "Logout",
        "End the current session",
        handler!(logout),
        |_| Docs::data(null()).body(request_body::<RefreshBody>()),
    )
    .bearer(),
    Route::new(
        "POST",
        "/api/v1/auth/refresh",
        "Refresh",
        "Rotate a refresh token for a new token pair",
        handler!(refresh),
        |config| {
            let body = request_body::<RefreshBody>();
            // With cookie sessions on, a cookie-mode refresh sends no body (its cookie has the
            // token); for every other client the member stays required (422 without it).
            let body = if config.cookie_sessions.is_some() {
                body
            } else {
                body.require(&["refreshToken"])
            };
            Docs::data(reference("Tokens")).body(body)
        },
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
            Docs::data(null()).body(
                request_body::<ResetPasswordBody>()
                    .member("password", new_password(&config.password_policy)),
            )
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
        "CompatRegister",
        "First seed: register (as POST /auth/register; the username may be left out)",
        handler!(register_first_seed),
        |config| {
            Docs::data(with_user("User")).status(201).body(
                request_body::<FirstSeedRegisterBody>()
                    .member("password", new_password(&config.password_policy)),
            )
        },
    )
    .limit(RateLimit::Register)
    .compat()
    .at_root(),
    Route::new(
        "POST",
        "/api/v1/users/reset-password",
        "CompatForgotPassword",
        "First seed: mail a reset link (never a password)",
        handler!(forgot_password),
        email_docs,
    )
    .limit(RateLimit::Email)
    .compat()
    .at_root(),
    Route::new(
        "PUT",
        "/api/v1/users/change-password",
        "CompatChangePassword",
        "First seed: change password (as POST /auth/change-password; userId must be the caller)",
        handler!(change_password_first_seed),
        |config| {
            Docs::data(count("revokedSessions")).body(
                request_body::<FirstSeedChangePasswordBody>()
                    .member("newPassword", new_password(&config.password_policy)),
            )
        },
    )
    .bearer()
    .compat()
    .at_root(),
    Route::new(
        "POST",
        "/api/v1/auth/confirm-email",
        "CompatConfirmEmail",
        "First seed: confirm an email address",
        handler!(verify_email),
        verify_email_docs,
    )
    .compat()
    .at_root(),
];

fn register_docs(config: &crate::Config) -> Docs {
    Docs::data(with_user("User")).status(201).body(
        request_body::<RegisterBody>().member("password", new_password(&config.password_policy)),
    )
}

fn verify_email_docs(_: &crate::Config) -> Docs {
    Docs::data(with_user("User")).body(request_body::<TokenBody>())
}

fn email_docs(_: &crate::Config) -> Docs {
    Docs::data(null()).body(request_body::<EmailBody>())
}

fn change_password_docs(config: &crate::Config) -> Docs {
    Docs::data(count("revokedSessions")).body(
        request_body::<ChangePasswordBody>()
            .member("newPassword", new_password(&config.password_policy)),
    )
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

/// `POST /users/register`: as [`register`], but a body without a username (the first seed's)
/// gets one derived from the email address.
async fn register_first_seed(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let body: FirstSeedRegisterBody = ctx.json()?;
    let derive = body.username.is_none();
    let registration = Registration {
        email: body.email.unwrap_or_default(),
        username: body.username.unwrap_or_default(),
        password: body.password.map(|p| Password::new(p.into_inner())),
        first_name: body.first_name,
        last_name: body.last_name,
    };
    let manager = api.manager();
    let user = if derive {
        manager
            .register_with_derived_username(registration, &ctx.client)
            .await?
    } else {
        manager.register(registration, &ctx.client).await?
    };
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
    let success = if let Some(credential) = body.credential {
        let ceremony_id = body
            .ceremony_id
            .ok_or_else(|| Error::invalid("ceremonyId", "is required"))?;
        api.manager()
            .complete_two_factor_login_with_passkey(
                &secret(body.challenge_token),
                ceremony_id,
                credential,
                &ctx.client,
            )
            .await?
    } else {
        api.manager()
            .complete_two_factor_login(
                &secret(body.challenge_token),
                &secret(body.code),
                &ctx.client,
            )
            .await?
    };
    Ok(login_success(&success))
}

pub(crate) fn login_success(success: &LoginSuccess) -> ApiResponse {
    ApiResponse::success(
        200,
        "Login successful",
        LoginSuccessDto {
            user: UserDto::from(&success.user),
            tokens: TokensDto::from(&success.tokens),
        },
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
    // A cookie session (`X-Auth-Mode: cookie`) may leave the token to its refresh cookie.
    let token = required(
        "refreshToken",
        body.refresh_token
            .map(SecretText::into_inner)
            .or_else(|| ctx.cookies.refresh_token()),
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

/// `PUT /users/change-password`: the first seed's body (`userId`, `oldPassword`,
/// `newPassword`) or `/auth/change-password`'s. The seed changed the password of whichever
/// `userId` it was sent; here it must name the caller, or the answer is 403 and nothing changes.
async fn change_password_first_seed(api: &Api, ctx: &RequestContext) -> Result<ApiResponse> {
    let auth = caller(api, ctx).await?;
    let body: FirstSeedChangePasswordBody = ctx.json()?;
    if let Some(user_id) = &body.user_id
        && Uuid::parse_str(user_id.trim()).ok() != Some(auth.user.id)
    {
        return Err(Error::Forbidden);
    }
    let seed_field = body.current_password.is_none();
    let current = match (body.old_password, body.current_password) {
        (Some(_), Some(_)) => {
            return Err(Error::invalid(
                "oldPassword",
                "give oldPassword or currentPassword, not both",
            ));
        }
        (old, current) => password(old.or(current)),
    };
    let new = password(body.new_password);
    // The first seed sent the new password once; a confirmation, when given, must match.
    let confirm = body
        .confirm_password
        .map_or_else(|| new.clone(), |c| password(Some(c)));
    let revoked = api
        .manager()
        .change_password(&auth, &current, &new, &confirm, &ctx.client)
        .await
        .map_err(|err| match err {
            // Name the current password as the client sent it.
            Error::Validation(errors) if seed_field => Error::Validation(
                errors
                    .into_iter()
                    .map(|mut e| {
                        if e.field == "currentPassword" {
                            e.field = "oldPassword".to_owned();
                        }
                        e
                    })
                    .collect(),
            ),
            other => other,
        })?;
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

/// `POST /auth/register`. The password's lengths are the configured policy's (set by the
/// route's docs).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RegisterBody {
    #[schema(required, format = Email)]
    pub email: Option<String>,
    #[schema(required, pattern = "^[A-Za-z0-9_]{3,30}$")]
    pub username: Option<String>,
    #[schema(required, value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
    #[schema(schema_with = rules::person_name)]
    pub first_name: Option<String>,
    #[schema(schema_with = rules::person_name)]
    pub last_name: Option<String>,
}

/// `POST /users/register` (the first seed's route): as `POST /auth/register`, but the username
/// is optional. The password's lengths are the configured policy's (set by the route's docs).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FirstSeedRegisterBody {
    #[schema(required, format = Email)]
    pub email: Option<String>,
    /// Optional on this route only. Left out (or null), it is derived from the email's local
    /// part: lower-cased, characters outside [a-z0-9_] dropped, padded with _ to 3 characters,
    /// cut to 30; when that name is taken or reserved, _ and 4 random characters of [a-z0-9]
    /// are added.
    #[schema(pattern = "^[A-Za-z0-9_]{3,30}$")]
    pub username: Option<String>,
    #[schema(required, value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
    #[schema(schema_with = rules::person_name)]
    pub first_name: Option<String>,
    #[schema(schema_with = rules::person_name)]
    pub last_name: Option<String>,
}

/// `PUT /users/change-password` (the first seed's route): the first seed's body (`userId`,
/// `oldPassword`, `newPassword`) or `POST /auth/change-password`'s. Give `oldPassword` or
/// `currentPassword`. The new password's lengths are the configured policy's (set by the
/// route's docs).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FirstSeedChangePasswordBody {
    /// The caller's own id, if given (any other value is refused with 403)
    pub user_id: Option<String>,
    /// The current password (the first seed's name for it)
    #[schema(value_type = Option<String>, format = Password)]
    pub old_password: Option<SecretText>,
    /// The current password (the name of POST /auth/change-password)
    #[schema(value_type = Option<String>, format = Password)]
    pub current_password: Option<SecretText>,
    #[schema(required, value_type = Option<String>, format = Password)]
    pub new_password: Option<SecretText>,
    /// Optional here; when given, the same as newPassword
    #[schema(value_type = Option<String>, format = Password)]
    pub confirm_password: Option<SecretText>,
}

/// `POST /auth/login`: `identifier` is the email or the username; `email` and `username` are
/// accepted in its place (as the first seed sent them). One of the three must be given.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LoginBody {
    pub identifier: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    #[schema(required, value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
}

/// `POST /auth/refresh` (the token required), `POST /auth/logout` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RefreshBody {
    #[schema(value_type = Option<String>)]
    pub refresh_token: Option<SecretText>,
}

/// `POST /auth/verify-email`: the token from the email.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct TokenBody {
    #[schema(required, value_type = Option<String>)]
    pub token: Option<SecretText>,
}

/// `POST /auth/resend-verification`, `POST /auth/forgot-password`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct EmailBody {
    #[schema(required, format = Email)]
    pub email: Option<String>,
}

/// `POST /auth/reset-password`: the token from the email and the new password, twice. The
/// password's lengths are the configured policy's (set by the route's docs).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ResetPasswordBody {
    #[schema(required, value_type = Option<String>)]
    pub token: Option<SecretText>,
    #[schema(required, value_type = Option<String>, format = Password)]
    pub password: Option<SecretText>,
    /// The same as password
    #[schema(required, value_type = Option<String>, format = Password)]
    pub confirm_password: Option<SecretText>,
}

/// `POST /auth/change-password`. The new password's lengths are the configured policy's (set
/// by the route's docs).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct ChangePasswordBody {
    #[schema(required, value_type = Option<String>, format = Password)]
    pub current_password: Option<SecretText>,
    #[schema(required, value_type = Option<String>, format = Password)]
    pub new_password: Option<SecretText>,
    /// The same as newPassword
    #[schema(required, value_type = Option<String>, format = Password)]
    pub confirm_password: Option<SecretText>,
}

/// `POST /auth/login/2fa` (and the second step of a reactivation or recovery): the challenge
/// from the first step, and a TOTP code or a backup code.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub struct LoginTwoFactorBody {
    #[schema(required, value_type = Option<String>)]
    pub challenge_token: Option<SecretText>,
    /// A TOTP or backup code (or a passkey: `ceremonyId` and `credential`).
    #[schema(value_type = Option<String>)]
    pub code: Option<SecretText>,
    /// With a passkey: the `ceremonyId` of `/auth/login/2fa/passkey-options`.
    #[schema(value_type = Option<Uuid>)]
    pub ceremony_id: Option<Uuid>,
    /// With a passkey: the `PublicKeyCredential` of `navigator.credentials.get`.
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

/// The `User` object of SPEC §5. Never a hash or a secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = User)]
#[allow(missing_docs)]
pub struct UserDto {
    pub id: Uuid,
    #[schema(format = Email)]
    pub email: String,
    pub username: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// URL of the avatar image
    pub avatar: Option<String>,
    pub email_verified: bool,
    pub is_active: bool,
    pub is_suspended: bool,
    pub two_factor_enabled: bool,
    pub roles: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_login_at: Option<OffsetDateTime>,
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
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Tokens)]
#[allow(missing_docs)]
pub struct TokensDto {
    pub access_token: String,
    pub refresh_token: String,
    #[schema(schema_with = bearer)]
    pub token_type: String,
    /// Seconds
    pub expires_in: i64,
}

/// `tokenType`: always `Bearer`.
fn bearer() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(["Bearer"]))
        .into()
}

/// A login that succeeded: the user and their tokens.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = LoginSuccess)]
pub(crate) struct LoginSuccessDto {
    pub(crate) user: UserDto,
    pub(crate) tokens: TokensDto,
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
