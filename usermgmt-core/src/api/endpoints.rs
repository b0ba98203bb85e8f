//! One function per endpoint: read the request, call the service, shape the response.

use super::dto::*;
use super::routes::Endpoint;
use super::{Api, ApiResponse, RequestContext};
use crate::auth::{AuthenticatedUser, LoginOutcome, LoginSuccess, Registration};
use crate::error::{Error, FieldError, Result};
use crate::secret::Password;
use serde_json::json;
use uuid::Uuid;

fn required(field: &str, value: Option<String>, errors: &mut Vec<FieldError>) -> String {
    match value {
        Some(v) if !v.trim().is_empty() => v,
        _ => {
            errors.push(FieldError::new(field, "is required"));
            String::new()
        }
    }
}

fn password(value: Option<String>) -> Password {
    Password::new(value.unwrap_or_default())
}

impl Api {
    async fn auth(&self, ctx: &RequestContext) -> Result<AuthenticatedUser> {
        let token = ctx.bearer().ok_or(Error::Unauthenticated)?;
        self.manager().authenticate(token).await
    }

    pub(super) async fn dispatch(
        &self,
        endpoint: Endpoint,
        ctx: &RequestContext,
    ) -> Result<ApiResponse> {
        let m = self.manager();
        let client = &ctx.client;
        match endpoint {
            Endpoint::Health => Ok(ApiResponse::success(
                200,
                "OK",
                json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "uptimeSeconds": self.started.elapsed().as_secs()}),
            )),
            Endpoint::Live => Ok(ApiResponse::success(200, "OK", json!({"status": "alive"}))),
            Endpoint::HealthDetailed => {
                // Each check reports on its own; the probe is degraded (503) when storage is
                // down. A mail backlog is reported, not fatal: the outbox keeps mail safe.
                let started = std::time::Instant::now();
                let database = m.ping().await;
                let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                let backlog = m.store().mail_backlog().await;
                let healthy = database.is_ok();
                let checks = json!({
                    "database": {
                        "status": if healthy { "up" } else { "down" },
                        "latencyMs": (latency_ms * 100.0).round() / 100.0,
                    },
                    "mailQueue": match &backlog {
                        Ok(n) => json!({"status": "up", "backlog": n}),
                        Err(_) => json!({"status": "unknown"}),
                    },
                });
                let (status, message, overall) = if healthy {
                    (200, "OK", "ok")
                } else {
                    (503, "Degraded", "degraded")
                };
                Ok(ApiResponse::success(
                    status,
                    message,
                    json!({"status": overall, "version": env!("CARGO_PKG_VERSION"), "checks": checks}),
                ))
            }
            Endpoint::Metrics => Ok(ApiResponse {
                status: 200,
                headers: vec![(
                    "content-type".to_owned(),
                    "text/plain; version=0.0.4; charset=utf-8".to_owned(),
                )],
                body: self.metrics_text().await.into_bytes(),
            }),
            Endpoint::Jwks => {
                // A plain JWK set, not the envelope: JWT libraries read this document as is.
                let mut response = ApiResponse::json(200, m.jwks());
                response.push_header("cache-control", "public, max-age=300");
                Ok(response)
            }
            Endpoint::Ready => {
                m.ping().await?;
                Ok(ApiResponse::success(
                    200,
                    "Ready",
                    json!({"status": "ready", "database": "up"}),
                ))
            }
            Endpoint::Register => {
                let body: RegisterBody = ctx.json()?;
                let registration = Registration {
                    email: body.email.unwrap_or_default(),
                    username: body.username.unwrap_or_default(),
                    password: body.password.map(Password::new),
                    first_name: body.first_name,
                    last_name: body.last_name,
                };
                let user = m.register(registration, client).await?;
                Ok(ApiResponse::success(
                    201,
                    "Registration successful. Check your email to verify your address.",
                    json!({"user": UserDto::from(&user)}),
                ))
            }
            Endpoint::Login => {
                let body: LoginBody = ctx.json()?;
                let identifier = body
                    .identifier
                    .or(body.email)
                    .or(body.username)
                    .unwrap_or_default();
                match m
                    .login(&identifier, &password(body.password), client)
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
            Endpoint::LoginTwoFactor => {
                let body: LoginTwoFactorBody = ctx.json()?;
                let success = m
                    .complete_two_factor_login(
                        &body.challenge_token.unwrap_or_default(),
                        &body.code.unwrap_or_default(),
                        client,
                    )
                    .await?;
                Ok(login_success(&success))
            }
            Endpoint::ListNotifications => {
                let auth = self.auth(ctx).await?;
                let page = ctx.page()?;
                let unread_only = ctx.flag("unreadOnly")?;
                let found = m.notifications(&auth, unread_only, page).await?;
                let items: Vec<NotificationDto> =
                    found.items.iter().map(NotificationDto::from).collect();
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({
                        "notifications": items,
                        "unreadCount": found.unread,
                        "total": found.total,
                        "page": page.page,
                        "limit": page.limit,
                        "totalPages": page.total_pages(found.total),
                    }),
                ))
            }
            Endpoint::MarkNotificationRead => {
                let auth = self.auth(ctx).await?;
                m.mark_notification_read(&auth, notification_id(ctx)?)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Notification marked read",
                    json!(null),
                ))
            }
            Endpoint::MarkAllNotificationsRead => {
                let auth = self.auth(ctx).await?;
                let updated = m.mark_all_notifications_read(&auth).await?;
                Ok(ApiResponse::success(
                    200,
                    "All notifications marked read",
                    json!({"updatedCount": updated}),
                ))
            }
            Endpoint::DeleteNotification => {
                let auth = self.auth(ctx).await?;
                m.delete_notification(&auth, notification_id(ctx)?).await?;
                Ok(ApiResponse::success(
                    200,
                    "Notification deleted",
                    json!(null),
                ))
            }
            Endpoint::DeleteAllNotifications => {
                let auth = self.auth(ctx).await?;
                let deleted = m.delete_all_notifications(&auth).await?;
                Ok(ApiResponse::success(
                    200,
                    "All notifications deleted",
                    json!({"deletedCount": deleted}),
                ))
            }
            Endpoint::TwoFactorStatus => {
                let auth = self.auth(ctx).await?;
                let status = m.two_factor_status(&auth).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    TwoFactorStatusDto::from(&status),
                ))
            }
            Endpoint::TwoFactorSetup => {
                let auth = self.auth(ctx).await?;
                let _: EmptyBody = ctx.json()?;
                let setup = m.setup_two_factor(&auth).await?;
                Ok(ApiResponse::success(
                    200,
                    "Scan the QR code with an authenticator app, then confirm with a code",
                    json!({"secret": setup.secret, "otpauthUrl": setup.otpauth_url, "qrCode": setup.qr_code}),
                ))
            }
            Endpoint::TwoFactorEnable => {
                let auth = self.auth(ctx).await?;
                let body: CodeBody = ctx.json()?;
                let codes = m
                    .enable_two_factor(&auth, &body.code.unwrap_or_default(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Two-factor authentication enabled. Keep the backup codes somewhere safe: they are shown once.",
                    json!({"backupCodes": codes.0}),
                ))
            }
            Endpoint::TwoFactorDisable => {
                let auth = self.auth(ctx).await?;
                let body: DisableTwoFactorBody = ctx.json()?;
                let pw = body.password.map(Password::new);
                m.disable_two_factor(&auth, body.code.as_deref(), pw.as_ref(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Two-factor authentication disabled",
                    json!(null),
                ))
            }
            Endpoint::TwoFactorVerify => {
                let auth = self.auth(ctx).await?;
                let body: CodeBody = ctx.json()?;
                m.verify_two_factor(&auth, &body.code.unwrap_or_default(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Code verified",
                    json!({"verified": true}),
                ))
            }
            Endpoint::TwoFactorBackupCodes => {
                let auth = self.auth(ctx).await?;
                let body: CodeBody = ctx.json()?;
                let codes = m
                    .regenerate_backup_codes(&auth, &body.code.unwrap_or_default(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "New backup codes; the old ones no longer work",
                    json!({"backupCodes": codes.0}),
                ))
            }
            Endpoint::Logout => {
                let auth = self.auth(ctx).await?;
                // The body is optional; when present it must still be well-formed.
                let _: RefreshBody = ctx.json()?;
                m.logout(&auth, client).await?;
                Ok(ApiResponse::success(200, "Logged out", json!(null)))
            }
            Endpoint::Refresh => {
                let body: RefreshBody = ctx.json()?;
                let mut errors = Vec::new();
                let token = required("refreshToken", body.refresh_token, &mut errors);
                if !errors.is_empty() {
                    return Err(Error::Validation(errors));
                }
                let pair = m.refresh(&token, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Token refreshed",
                    TokensDto::from(&pair),
                ))
            }
            Endpoint::VerifyEmailGet => {
                let token = ctx.query_param("token").unwrap_or_default();
                let user = m.verify_email(&token, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Email verified",
                    json!({"user": UserDto::from(&user)}),
                ))
            }
            Endpoint::VerifyEmailPost => {
                let body: TokenBody = ctx.json()?;
                let user = m
                    .verify_email(&body.token.unwrap_or_default(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Email verified",
                    json!({"user": UserDto::from(&user)}),
                ))
            }
            Endpoint::ResendVerification => {
                let body: EmailBody = ctx.json()?;
                m.resend_verification(&body.email.unwrap_or_default(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "If the address is registered and not yet verified, a new link is on its way",
                    json!(null),
                ))
            }
            Endpoint::ForgotPassword => {
                let body: EmailBody = ctx.json()?;
                m.forgot_password(&body.email.unwrap_or_default(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "If the address is registered, a password reset link is on its way",
                    json!(null),
                ))
            }
            Endpoint::ResetPassword => {
                let body: ResetPasswordBody = ctx.json()?;
                m.reset_password(
                    &body.token.unwrap_or_default(),
                    &password(body.password),
                    &password(body.confirm_password),
                    client,
                )
                .await?;
                Ok(ApiResponse::success(
                    200,
                    "Password reset. Every session has been signed out; log in with the new password.",
                    json!(null),
                ))
            }
            Endpoint::ChangePassword => {
                let auth = self.auth(ctx).await?;
                let body: ChangePasswordBody = ctx.json()?;
                let revoked = m
                    .change_password(
                        &auth,
                        &password(body.current_password),
                        &password(body.new_password),
                        &password(body.confirm_password),
                        client,
                    )
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Password changed. Other sessions have been signed out.",
                    json!({"revokedSessions": revoked}),
                ))
            }
            Endpoint::CheckEmail => {
                let email = ctx.query_param("email").unwrap_or_default();
                let available = m.email_available(&email).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({"available": available}),
                ))
            }
            Endpoint::CheckUsername => {
                let username = ctx.query_param("username").unwrap_or_default();
                let available = m.username_available(&username).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({"available": available}),
                ))
            }
            Endpoint::GetProfile => {
                let auth = self.auth(ctx).await?;
                let (user, profile) = m.profile(&auth).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    profile_dto(&user, &profile),
                ))
            }
            Endpoint::ReplaceProfile | Endpoint::PatchProfile => {
                let auth = self.auth(ctx).await?;
                let body: ProfileBody = ctx.json()?;
                let mut input = crate::profile::ProfileInput::from(body);
                if endpoint == Endpoint::ReplaceProfile {
                    input = input.as_replacement();
                }
                let (user, profile) = m.update_profile(&auth, input, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Profile updated",
                    profile_dto(&user, &profile),
                ))
            }
            Endpoint::UpdatePreferences => {
                let auth = self.auth(ctx).await?;
                let patch: serde_json::Value = ctx.json()?;
                let preferences = m.update_preferences(&auth, patch, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Preferences updated",
                    json!({"preferences": preferences}),
                ))
            }
            Endpoint::PublicProfile => {
                let username = ctx.param("username").unwrap_or_default();
                let user = m.public_profile(username).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    PublicProfileDto::from(&user),
                ))
            }
            Endpoint::ListSessions => {
                let auth = self.auth(ctx).await?;
                let sessions = m.list_sessions(&auth).await?;
                let list: Vec<SessionDto> = sessions
                    .iter()
                    .map(|s| SessionDto::new(s, auth.session_id))
                    .collect();
                Ok(ApiResponse::success(200, "OK", list))
            }
            Endpoint::RevokeSession => {
                let auth = self.auth(ctx).await?;
                let session_id = ctx
                    .param("sessionId")
                    .and_then(|s| Uuid::parse_str(s).ok())
                    .ok_or(Error::NotFound("session"))?;
                m.revoke_own_session(&auth, session_id, client).await?;
                Ok(ApiResponse::success(200, "Session revoked", json!(null)))
            }
            Endpoint::RevokeOtherSessions => {
                let auth = self.auth(ctx).await?;
                let revoked = m.revoke_other_sessions(&auth, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Other sessions revoked",
                    json!({"revokedCount": revoked}),
                ))
            }
        }
    }
}

/// The `{id}` of a notification route; a malformed id is simply not found.
fn notification_id(ctx: &RequestContext) -> Result<Uuid> {
    ctx.param("id")
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Error::NotFound("notification"))
}

fn login_success(success: &LoginSuccess) -> ApiResponse {
    ApiResponse::success(
        200,
        "Login successful",
        json!({"user": UserDto::from(&success.user), "tokens": TokensDto::from(&success.tokens)}),
    )
}

fn profile_dto(
    user: &crate::store::UserRecord,
    profile: &crate::store::ProfileRecord,
) -> UserWithProfileDto {
    UserWithProfileDto {
        user: UserDto::from(user),
        profile: ProfileDto::from(profile),
    }
}
