//! One function per endpoint: read the request, call the service, shape the response.

use super::dto::*;
use super::routes::Endpoint;
use super::{Api, ApiResponse, RequestContext};
use crate::account::AccountRestore;
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

    fn compatibility_routes(&self) -> bool {
        self.manager().config().compatibility_routes
    }

    /// `GET /admin/users/:userId` data (also the first seed's `GET /users/:id`).
    async fn user_detail_data(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
    ) -> Result<serde_json::Value> {
        let d = self.manager().user_detail(auth, user_id).await?;
        let sessions: Vec<SessionDto> = d
            .sessions
            .iter()
            .map(|s| SessionDto::new(s, auth.session_id))
            .collect();
        let now = self.manager().now();
        Ok(json!({
            "user": AdminUserDto::from(&d.user),
            "profile": ProfileDto::from(&d.profile),
            "roles": d.user.roles,
            "permissions": d.permissions,
            "sessions": sessions,
            "twoFactor": {
                "enabled": d.two_factor.as_ref().is_some_and(|t| t.enabled),
                "backupCodesRemaining": d.two_factor.as_ref().map_or(0, |t| t.backup_codes_remaining),
            },
            "lockout": {
                "failedAttempts": d.user.failed_login_attempts,
                "locked": d.user.locked_until.is_some_and(|t| t > now),
                "lockedUntil": d.user.locked_until.filter(|t| *t > now)
                    .map(|t| t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()),
            },
        }))
    }

    pub(super) async fn dispatch(
        &self,
        endpoint: Endpoint,
        ctx: &RequestContext,
    ) -> Result<ApiResponse> {
        let m = self.manager();
        let client = &ctx.client;
        match endpoint {
            // The public probes say up or down and nothing more (no version, no uptime: a
            // version tells an attacker which advisories apply, an uptime when patches landed).
            // The detail is in `/health/detailed` and `/metrics`, behind `Config::ops_access`.
            Endpoint::Health => Ok(ApiResponse::success(200, "OK", json!({"status": "ok"}))),
            Endpoint::Live => Ok(ApiResponse::success(200, "OK", json!({"status": "alive"}))),
            Endpoint::HealthDetailed => {
                // Each check reports on its own; the probe is degraded (503) when storage is
                // down. A mail backlog is reported, not fatal: the outbox keeps mail safe.
                let started = std::time::Instant::now();
                let database = m.ping().await;
                let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                // With the database down the count fails too: do not wait for it a second time.
                let backlog = match &database {
                    Ok(()) => m.store().mail_backlog().await,
                    Err(_) => Err(Error::Unavailable("database down".into())),
                };
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
                    json!({"status": "ready"}),
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
                m.delete_notification(&auth, notification_id(ctx)?, client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Notification deleted",
                    json!(null),
                ))
            }
            Endpoint::DeleteAllNotifications => {
                let auth = self.auth(ctx).await?;
                let deleted = m.delete_all_notifications(&auth, client).await?;
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
                let token = ctx.bearer().ok_or(Error::Unauthenticated)?;
                let (auth, profile) = m.authenticate_with_profile(token).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    profile_dto(&auth.user, &profile),
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
            Endpoint::ListRoles => {
                let auth = self.auth(ctx).await?;
                let roles = m.list_roles(&auth).await?;
                Ok(ApiResponse::success(200, "OK", roles_data(&roles)))
            }
            Endpoint::ListPermissions => {
                let auth = self.auth(ctx).await?;
                let catalog = m.permission_catalog(&auth).await?;
                let list: Vec<_> = catalog
                    .iter()
                    .map(|(name, description)| json!({"name": name, "description": description}))
                    .collect();
                Ok(ApiResponse::success(200, "OK", list))
            }
            Endpoint::GetRole => {
                let auth = self.auth(ctx).await?;
                let role = m.role(&auth, path_id(ctx, "id", "role")?).await?;
                Ok(ApiResponse::success(200, "OK", RoleDto::from(&role)))
            }
            Endpoint::CreateRole => {
                let auth = self.auth(ctx).await?;
                let body: RoleBody = ctx.json()?;
                let role = m.create_role(&auth, body.into(), client).await?;
                Ok(ApiResponse::success(
                    201,
                    "Role created",
                    RoleDto::from(&role),
                ))
            }
            Endpoint::UpdateRole => {
                let auth = self.auth(ctx).await?;
                let id = path_id(ctx, "id", "role")?;
                let body: RoleBody = ctx.json()?;
                let role = m.update_role(&auth, id, body.into(), client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Role updated",
                    RoleDto::from(&role),
                ))
            }
            Endpoint::DeleteRole => {
                let auth = self.auth(ctx).await?;
                m.delete_role(&auth, path_id(ctx, "id", "role")?, client)
                    .await?;
                Ok(ApiResponse::success(200, "Role deleted", json!(null)))
            }
            Endpoint::UserRoles => {
                let auth = self.auth(ctx).await?;
                let user_id = path_id(ctx, "userId", "user")?;
                let (user, roles) = m.roles_of_user(&auth, user_id).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({"userId": user.id, "roles": roles_data(&roles)}),
                ))
            }
            Endpoint::AssignRole => {
                let auth = self.auth(ctx).await?;
                let user_id = path_id(ctx, "userId", "user")?;
                let body: AssignRoleBody = ctx.json()?;
                let role_id = body
                    .role_id
                    .ok_or_else(|| Error::invalid("roleId", "is required"))?;
                let added = m.assign_role(&auth, user_id, role_id, client).await?;
                // Answered without asking for user:read: role:assign was enough to get here.
                let user = m.existing_user(user_id).await?;
                let roles = m.roles_held(&user).await?;
                Ok(ApiResponse::success(
                    200,
                    if added {
                        "Role assigned"
                    } else {
                        "The user holds this role already"
                    },
                    json!({"userId": user.id, "assigned": added, "roles": roles_data(&roles)}),
                ))
            }
            Endpoint::RemoveRole => {
                let auth = self.auth(ctx).await?;
                let user_id = path_id(ctx, "userId", "user")?;
                let role_id = path_id(ctx, "roleId", "role assignment")?;
                m.remove_role(&auth, user_id, role_id, client).await?;
                Ok(ApiResponse::success(200, "Role removed", json!(null)))
            }
            Endpoint::AdminDashboard => {
                let auth = self.auth(ctx).await?;
                let d = m.dashboard(&auth).await?;
                let c = &d.counts;
                let roles: Vec<_> = d
                    .roles
                    .iter()
                    .map(|r| json!({"id": r.id, "name": r.name, "userCount": r.user_count}))
                    .collect();
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({
                        "users": {
                            "total": c.users_total,
                            "active": c.users_active,
                            "verified": c.users_verified,
                            "with2FA": c.users_with_two_factor,
                            "newThisWeek": c.users_new,
                        },
                        "sessions": {"active": c.active_sessions},
                        "roles": roles,
                    }),
                ))
            }
            Endpoint::AdminListUsers => {
                let auth = self.auth(ctx).await?;
                let search = user_search(ctx)?;
                let (users, total) = m.search_users(&auth, &search).await?;
                let list: Vec<AdminUserDto> = users.iter().map(AdminUserDto::from).collect();
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({
                        "users": list,
                        "total": total,
                        "page": search.page.page,
                        "limit": search.page.limit,
                        "totalPages": search.page.total_pages(total),
                    }),
                ))
            }
            Endpoint::AdminGetUser => {
                let auth = self.auth(ctx).await?;
                let user_id = path_id(ctx, "userId", "user")?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    self.user_detail_data(&auth, user_id).await?,
                ))
            }
            Endpoint::AdminResetPassword => {
                let auth = self.auth(ctx).await?;
                let user_id = path_id(ctx, "userId", "user")?;
                let ended = m.admin_reset_password(&auth, user_id, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "The user was signed out everywhere and a reset link was mailed",
                    json!({"revokedSessions": ended}),
                ))
            }
            Endpoint::AdminVerifyEmail
            | Endpoint::AdminUnlock
            | Endpoint::AdminSuspend
            | Endpoint::AdminReactivate
            | Endpoint::AdminDeleteUser
            | Endpoint::CompatDeleteUser => {
                use crate::admin::AdminAction;
                let auth = self.auth(ctx).await?;
                let user_id = match endpoint {
                    Endpoint::CompatDeleteUser => path_id(ctx, "username", "user")?,
                    _ => path_id(ctx, "userId", "user")?,
                };
                let (action, message, reason) = match endpoint {
                    Endpoint::AdminVerifyEmail => {
                        (AdminAction::VerifyEmail, "Email marked verified", None)
                    }
                    Endpoint::AdminUnlock => (AdminAction::Unlock, "Account unlocked", None),
                    Endpoint::AdminSuspend => {
                        let body: SuspendBody = ctx.json()?;
                        (AdminAction::Suspend, "Account suspended", body.reason)
                    }
                    Endpoint::AdminReactivate => {
                        (AdminAction::Reactivate, "Account reactivated", None)
                    }
                    _ => (AdminAction::Delete, "User deleted", None),
                };
                let user = m
                    .admin_account_action(&auth, user_id, action, reason, client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    message,
                    json!({"user": AdminUserDto::from(&user)}),
                ))
            }
            Endpoint::AdminImpersonate => {
                let auth = self.auth(ctx).await?;
                let user_id = path_id(ctx, "userId", "user")?;
                let imp = m.impersonate(&auth, user_id, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Impersonation token issued",
                    json!({
                        "accessToken": imp.access_token,
                        "tokenType": "Bearer",
                        "expiresIn": imp.expires_in,
                        "user": UserDto::from(&imp.user),
                        "impersonatorId": auth.user.id,
                    }),
                ))
            }
            Endpoint::AdminBulkAssignRole => {
                let auth = self.auth(ctx).await?;
                let body: BulkAssignRoleBody = ctx.json()?;
                let mut errors = Vec::new();
                if body.user_ids.is_none() {
                    errors.push(FieldError::new("userIds", "is required"));
                }
                if body.role_id.is_none() {
                    errors.push(FieldError::new("roleId", "is required"));
                }
                let (Some(user_ids), Some(role_id)) = (body.user_ids, body.role_id) else {
                    return Err(Error::Validation(errors));
                };
                let assigned = m
                    .assign_role_bulk(&auth, &user_ids, role_id, client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Role assigned",
                    json!({"assigned": assigned, "total": user_ids.len()}),
                ))
            }
            Endpoint::AccountDeactivate => {
                let auth = self.auth(ctx).await?;
                let body: PasswordBody = ctx.json()?;
                m.deactivate_account(&auth, &password(body.password), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Account deactivated. Reactivate it with your email and password.",
                    json!(null),
                ))
            }
            Endpoint::AccountReactivate | Endpoint::AccountRecover => {
                let body: CredentialsBody = ctx.json()?;
                let email = body.email.unwrap_or_default();
                let pw = password(body.password);
                let (restore, message) = if endpoint == Endpoint::AccountReactivate {
                    (
                        m.reactivate_account(&email, &pw, client).await?,
                        "Account reactivated",
                    )
                } else {
                    (
                        m.recover_account(&email, &pw, client).await?,
                        "Account recovered",
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
            Endpoint::AccountReactivateTwoFactor | Endpoint::AccountRecoverTwoFactor => {
                let body: LoginTwoFactorBody = ctx.json()?;
                let challenge = body.challenge_token.unwrap_or_default();
                let code = body.code.unwrap_or_default();
                let (user, message) = if endpoint == Endpoint::AccountReactivateTwoFactor {
                    (
                        m.reactivate_account_with_code(&challenge, &code, client)
                            .await?,
                        "Account reactivated",
                    )
                } else {
                    (
                        m.recover_account_with_code(&challenge, &code, client)
                            .await?,
                        "Account recovered",
                    )
                };
                Ok(ApiResponse::success(
                    200,
                    message,
                    json!({"user": UserDto::from(&user)}),
                ))
            }
            Endpoint::AccountDelete => {
                let auth = self.auth(ctx).await?;
                let body: PasswordBody = ctx.json()?;
                let deadline = m
                    .delete_account(&auth, &password(body.password), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Account deleted. It can be recovered until the deadline.",
                    json!({"recoveryDeadline": deadline
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default()}),
                ))
            }
            Endpoint::AccountPermanentDelete => {
                let auth = self.auth(ctx).await?;
                let body: PermanentDeleteBody = ctx.json()?;
                m.delete_account_permanently(
                    &auth,
                    &password(body.password),
                    &body.confirm_email.unwrap_or_default(),
                    client,
                )
                .await?;
                Ok(ApiResponse::success(
                    200,
                    "Account and data deleted for good",
                    json!(null),
                ))
            }
            Endpoint::AccountExport => {
                let auth = self.auth(ctx).await?;
                let export = m.export_account(&auth, client).await?;
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
            Endpoint::UploadAvatar => {
                let auth = self.auth(ctx).await?;
                let content_type = ctx.content_type().unwrap_or_default();
                let user = m
                    .upload_avatar(&auth, content_type, ctx.body().to_vec(), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Avatar updated",
                    json!({"avatar": user.avatar, "user": UserDto::from(&user)}),
                ))
            }
            Endpoint::DeleteAvatar => {
                let auth = self.auth(ctx).await?;
                let user = m.delete_avatar(&auth, client).await?;
                Ok(ApiResponse::success(
                    200,
                    "Avatar removed",
                    json!({"user": UserDto::from(&user)}),
                ))
            }
            Endpoint::GetAvatar => {
                let (kind, bytes) = m.avatar_image(ctx.param("key").unwrap_or_default()).await?;
                let mut response = ApiResponse {
                    status: 200,
                    headers: vec![("content-type".to_owned(), kind.mime().to_owned())],
                    body: bytes,
                };
                // Keys are never reused (a new upload gets a new key), so the image is immutable.
                response.push_header("cache-control", "public, max-age=31536000, immutable");
                Ok(response)
            }
            Endpoint::AuditList => {
                let auth = self.auth(ctx).await?;
                let (filter, page) = audit_filter(ctx)?;
                let (events, total) = m.audit_log(&auth, &filter, page).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    audit_page(&events, total, page),
                ))
            }
            Endpoint::AuditUser => {
                let auth = self.auth(ctx).await?;
                let user_id = path_id(ctx, "userId", "user")?;
                let page = ctx.page()?;
                let (events, total) = m.user_activity(&auth, user_id, page).await?;
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    audit_page(&events, total, page),
                ))
            }
            Endpoint::AuditStats => {
                let auth = self.auth(ctx).await?;
                let stats = m.audit_stats(&auth).await?;
                let ranked = |list: &[(String, u64)], key: &str| -> Vec<serde_json::Value> {
                    list.iter()
                        .map(|(k, n)| json!({key: k, "count": n}))
                        .collect()
                };
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({
                        "periodDays": crate::audit::STATS_DAYS,
                        "total": stats.total,
                        "topActions": ranked(&stats.top_actions, "action"),
                        "topResources": ranked(&stats.top_resources, "resource"),
                    }),
                ))
            }
            Endpoint::AuditAnalytics => {
                let auth = self.auth(ctx).await?;
                let a = m.audit_analytics(&auth).await?;
                let rate = if a.users_total == 0 {
                    0.0
                } else {
                    (a.users_verified as f64 / a.users_total as f64 * 10_000.0).round() / 100.0
                };
                Ok(ApiResponse::success(
                    200,
                    "OK",
                    json!({
                        "users": {
                            "total": a.users_total,
                            "verified": a.users_verified,
                            "verificationRate": rate,
                        },
                        "activeUsers": {
                            "today": a.active_day,
                            "week": a.active_week,
                            "month": a.active_month,
                        },
                        "newUsers": {"last30Days": a.new_users},
                        "logins": {"last30Days": a.logins, "failedLast30Days": a.failed_logins},
                    }),
                ))
            }
            Endpoint::AuditCleanup => {
                let auth = self.auth(ctx).await?;
                let body: RetentionBody = ctx.json()?;
                let deleted = m
                    .cleanup_audit(&auth, body.retention_days.unwrap_or(90), client)
                    .await?;
                Ok(ApiResponse::success(
                    200,
                    "Audit rows past retention deleted",
                    json!({"deletedCount": deleted}),
                ))
            }
            Endpoint::OpenApi => {
                let mut response = ApiResponse::json(200, &super::openapi::document(m.config()));
                response.push_header("cache-control", "public, max-age=300");
                Ok(response)
            }
            Endpoint::Docs | Endpoint::DocsAsset => {
                let tail = match endpoint {
                    Endpoint::Docs => "",
                    _ => ctx.param("file").unwrap_or_default(),
                };
                let (content_type, mut body) =
                    super::openapi::docs_file(tail).ok_or(Error::RouteNotFound)?;
                if tail.is_empty() || tail == "index.html" {
                    // Served at /docs (no trailing slash): point its relative links under /docs/.
                    body = String::from_utf8_lossy(&body)
                        .replace("\"./", "\"/docs/")
                        .replace("href=\"index.css\"", "href=\"/docs/index.css\"")
                        .into_bytes();
                }
                let mut response = ApiResponse {
                    status: 200,
                    headers: vec![("content-type".to_owned(), content_type)],
                    body,
                };
                response.push_header(
                    "content-security-policy",
                    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
                );
                response.push_header("cache-control", "public, max-age=3600");
                Ok(response)
            }
            Endpoint::PublicProfile => {
                let username = ctx.param("username").unwrap_or_default();
                // The first seed's GET /users/:id shares this path: an id (usernames cannot
                // look like one) is the admin detail when those routes are on.
                if self.compatibility_routes()
                    && username.len() == 36
                    && let Ok(user_id) = Uuid::parse_str(username)
                {
                    let auth = self.auth(ctx).await?;
                    return Ok(ApiResponse::success(
                        200,
                        "OK",
                        self.user_detail_data(&auth, user_id).await?,
                    ));
                }
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

/// A UUID path parameter; a malformed one is simply not found.
fn path_id(ctx: &RequestContext, name: &str, what: &'static str) -> Result<Uuid> {
    ctx.param(name)
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or(Error::NotFound(what))
}

/// The page of a query that reports every bad parameter at once: a bad `page`/`limit` joins
/// `errors` (the returned page is then a placeholder, never used).
fn page_or_report(
    page: Result<crate::store::Page>,
    errors: &mut Vec<FieldError>,
) -> Result<crate::store::Page> {
    match page {
        Ok(page) => Ok(page),
        Err(Error::Validation(mut more)) => {
            errors.append(&mut more);
            Ok(crate::store::Page { page: 1, limit: 20 })
        }
        Err(err) => Err(err),
    }
}

/// The admin user search from the query string, every bad value reported.
fn user_search(ctx: &RequestContext) -> Result<crate::store::UserSearch> {
    use crate::store::{UserSearch, UserSortField, UserStatus};
    let page = ctx.page();
    let mut errors = Vec::new();
    let query = ctx
        .query_param("q")
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if query
        .as_ref()
        .is_some_and(|q| q.chars().count() > 100 || crate::domain::has_control_chars(q))
    {
        errors.push(FieldError::new(
            "q",
            "must be at most 100 characters, without control characters",
        ));
    }
    let role = ctx
        .query_param("role")
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if role
        .as_deref()
        .is_some_and(crate::domain::has_control_chars)
    {
        errors.push(FieldError::new(
            "role",
            "must not contain control characters",
        ));
    }
    let status = match ctx.query_param("status").as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => {
            let parsed = UserStatus::parse(s);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "status",
                    "must be one of active, inactive, suspended, deleted",
                ));
            }
            parsed
        }
    };
    let verified = match ctx.query_param("verified").as_deref().map(str::trim) {
        None | Some("") => None,
        Some("true") | Some("1") => Some(true),
        Some("false") | Some("0") => Some(false),
        Some(_) => {
            errors.push(FieldError::new("verified", "must be true or false"));
            None
        }
    };
    let sort_by = match ctx.query_param("sortBy").as_deref().map(str::trim) {
        None | Some("") => UserSortField::CreatedAt,
        Some(s) => UserSortField::parse(s).unwrap_or_else(|| {
            let names: Vec<_> = UserSortField::ALL.iter().map(|(n, _)| *n).collect();
            errors.push(FieldError::new(
                "sortBy",
                format!("must be one of {}", names.join(", ")),
            ));
            UserSortField::CreatedAt
        }),
    };
    let descending = match ctx
        .query_param("order")
        .map(|o| o.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("") | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            errors.push(FieldError::new("order", "must be asc or desc"));
            true
        }
    };
    let page = page_or_report(page, &mut errors)?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok(UserSearch {
        query,
        role,
        status,
        verified,
        sort_by,
        descending,
        page,
    })
}

fn roles_data(roles: &[crate::store::RoleRecord]) -> Vec<RoleDto> {
    roles.iter().map(RoleDto::from).collect()
}

/// A `startDate`/`endDate` query value: RFC 3339, or a calendar date (`endDate` then includes
/// the whole day).
fn date_param(
    ctx: &RequestContext,
    name: &str,
    end_of_day: bool,
    errors: &mut Vec<FieldError>,
) -> Option<crate::store::Timestamp> {
    use time::format_description::well_known::Rfc3339;
    let raw = ctx.query_param(name)?;
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(t) = time::OffsetDateTime::parse(raw, &Rfc3339) {
        return Some(t);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match time::Date::parse(raw, &format) {
        Ok(date) => {
            let start = date.midnight().assume_utc();
            if !end_of_day {
                return Some(start);
            }
            let end = start.checked_add(time::Duration::days(1));
            if end.is_none() {
                errors.push(FieldError::new(name, "is out of range"));
            }
            end
        }
        Err(_) => {
            errors.push(FieldError::new(
                name,
                "must be a date (YYYY-MM-DD) or an RFC 3339 time",
            ));
            None
        }
    }
}

/// The audit filter from the query string, every bad value reported.
fn audit_filter(ctx: &RequestContext) -> Result<(crate::store::AuditFilter, crate::store::Page)> {
    let page = ctx.page();
    let mut errors = Vec::new();
    let user_id = match ctx.query_param("userId").as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => match Uuid::parse_str(raw) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("userId", "must be a user id (UUID)"));
                None
            }
        },
    };
    let text = |name: &str| {
        ctx.query_param(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let action = text("action").map(|a| a.to_ascii_uppercase());
    let resource = text("resource").map(|r| r.to_ascii_lowercase());
    for (name, value) in [("action", &action), ("resource", &resource)] {
        if value
            .as_deref()
            .is_some_and(crate::domain::has_control_chars)
        {
            errors.push(FieldError::new(name, "must not contain control characters"));
        }
    }
    let from = date_param(ctx, "startDate", false, &mut errors);
    let until = date_param(ctx, "endDate", true, &mut errors);
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        errors.push(FieldError::new("endDate", "must be after startDate"));
    }
    let page = page_or_report(page, &mut errors)?;
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    Ok((
        crate::store::AuditFilter {
            user_id,
            action,
            resource,
            from,
            until,
        },
        page,
    ))
}

fn audit_page(
    events: &[crate::store::AuditEvent],
    total: u64,
    page: crate::store::Page,
) -> serde_json::Value {
    json!({
        "logs": events,
        "total": total,
        "page": page.page,
        "limit": page.limit,
        "totalPages": page.total_pages(total),
    })
}
