use super::hashing::Verification;
use super::tokens::AccessClaims;
use super::{AuthenticatedUser, LoginOutcome, LoginSuccess, Registration, TokenPair};
use crate::domain::AuditAction;
use crate::domain::{DeviceInfo, Email, Username, check_password_policy, clean_name};
use crate::error::{ConflictKind, Error, FieldError, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::secret::{Password, RefreshToken, ResetToken, TokenDigest, VerificationToken};
use crate::store::{
    DEFAULT_ROLE, Effects, NewOneTimeToken, NewSession, NewUser, NotificationType, PasswordChange,
    ProfileRecord, RefreshRotation, SessionRecord, Timestamp, TokenPurpose, UserRecord,
};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The name a mail to `user` greets them by: none while their address is unverified
/// ([`templates::greeting_name`]).
pub(crate) fn display_name(user: &UserRecord) -> String {
    templates::greeting_name(
        user.email_verified,
        user.first_name.as_deref(),
        &user.username,
    )
}

impl UserManager {
    fn password_errors(
        &self,
        field: &str,
        password: &str,
        email: Option<&str>,
        username: Option<&str>,
    ) -> Vec<FieldError> {
        check_password_policy(
            &self.inner.config.password_policy,
            password,
            email,
            username,
        )
        .into_iter()
        .map(|m| FieldError::new(field, m))
        .collect()
    }

    /// Fails with a validation error when `password` matches one of the last N passwords.
    async fn ensure_not_reused(
        &self,
        user_id: Uuid,
        field: &str,
        password: &Password,
    ) -> Result<()> {
        let limit = self.inner.config.password_policy.history;
        for old in self.inner.store.password_history(user_id, limit).await? {
            if let Verification::Match { .. } = self.inner.hasher.verify(&old, password).await? {
                return Err(Error::invalid(
                    field,
                    format!("must not be one of your last {limit} passwords"),
                ));
            }
        }
        Ok(())
    }

    fn verification_mail(
        &self,
        to: &str,
        name: &str,
        token: &VerificationToken,
    ) -> Result<crate::store::OutboxMessage> {
        let cfg = &self.inner.config;
        let email = templates::verify_email(
            &cfg.mail,
            to,
            name,
            token.expose(),
            cfg.verification_token_ttl.whole_hours(),
        );
        self.outbox(MailKind::VerifyEmail, &email)
    }

    fn password_changed_mail(&self, user: &UserRecord) -> Result<crate::store::OutboxMessage> {
        let when = self.now().format(&Rfc3339).unwrap_or_default();
        let email = templates::password_changed(
            &self.inner.config.mail,
            &user.email,
            &display_name(user),
            &when,
        );
        self.outbox(MailKind::PasswordChanged, &email)
    }

    fn password_changed_notice(&self, user_id: Uuid) -> crate::store::NotificationRecord {
        self.notification(
            user_id,
            NotificationType::PasswordChanged,
            "Password changed",
            "Your password was changed. If this was not you, reset it at once.",
            json!({}),
        )
    }

    /// Registers a user: validates every rule, hashes the password, stores the user with the
    /// default role, a verification token, an audit row and the verification mail at once.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, input: Registration, client: &ClientInfo) -> Result<UserRecord> {
        let mut errors = Vec::new();
        let email = Email::parse(&input.email)
            .map_err(|m| errors.push(FieldError::new("email", m)))
            .ok();
        let username = Username::parse(&input.username)
            .map_err(|m| errors.push(FieldError::new("username", m)))
            .ok();
        match &input.password {
            None => errors.push(FieldError::new("password", "is required")),
            Some(pw) => errors.extend(self.password_errors(
                "password",
                pw.expose(),
                email.as_ref().map(Email::as_str),
                username.as_ref().map(Username::as_str),
            )),
        }
        let first_name = clean_name("firstName", input.first_name.as_deref(), &mut errors);
        let last_name = clean_name("lastName", input.last_name.as_deref(), &mut errors);
        let (Some(email), Some(username), Some(password), true) =
            (email, username, input.password, errors.is_empty())
        else {
            return Err(Error::Validation(errors));
        };
        // Cheap checks first, so a taken address does not cost a hash. The unique constraints
        // in the store remain the authority under concurrency.
        if self
            .inner
            .store
            .user_by_email(email.as_str())
            .await?
            .is_some()
        {
            return Err(Error::Conflict(ConflictKind::Email));
        }
        if self
            .inner
            .store
            .user_by_username(username.as_str())
            .await?
            .is_some()
        {
            return Err(Error::Conflict(ConflictKind::Username));
        }
        let password_hash = self.inner.hasher.hash(&password).await?;
        let now = self.now();
        let id = Uuid::now_v7();
        let token = VerificationToken::generate();
        let new_user = NewUser {
            id,
            email: email.as_str().to_owned(),
            username: username.as_str().to_owned(),
            password_hash,
            first_name,
            last_name,
            email_verified: false,
            roles: vec![DEFAULT_ROLE.to_owned()],
            created_at: now,
            verification: Some(NewOneTimeToken {
                digest: token.digest(),
                user_id: id,
                purpose: TokenPurpose::EmailVerification,
                created_at: now,
                expires_at: now + self.inner.config.verification_token_ttl,
            }),
        };
        let name = templates::greeting_name(
            new_user.email_verified,
            new_user.first_name.as_deref(),
            &new_user.username,
        );
        let effects = Effects::audit(self.audit(
            AuditAction::UserRegistered,
            Some(id),
            Some(id),
            "user",
            client,
            json!({"username": new_user.username}),
        ))
        .with_mail(self.verification_mail(&new_user.email, &name, &token)?);
        let user = self.inner.store.create_user(new_user, effects).await?;
        self.wake_mail();
        tracing::info!(user_id = %user.id, "user registered");
        Ok(user)
    }

    /// Creates a verified user with the given roles (bootstrap admin, CLI, host-app seeding).
    /// Skips the common-password list only if the policy says so; every other rule applies.
    pub async fn create_user_with_roles(
        &self,
        email: &str,
        username: &str,
        password: &Password,
        roles: &[&str],
    ) -> Result<UserRecord> {
        let mut errors = Vec::new();
        let email = Email::parse(email)
            .map_err(|m| errors.push(FieldError::new("email", m)))
            .ok();
        let username = Username::parse(username)
            .map_err(|m| errors.push(FieldError::new("username", m)))
            .ok();
        errors.extend(self.password_errors(
            "password",
            password.expose(),
            email.as_ref().map(Email::as_str),
            username.as_ref().map(Username::as_str),
        ));
        let (Some(email), Some(username), true) = (email, username, errors.is_empty()) else {
            return Err(Error::Validation(errors));
        };
        let now = self.now();
        let id = Uuid::now_v7();
        let new_user = NewUser {
            id,
            email: email.as_str().to_owned(),
            username: username.as_str().to_owned(),
            password_hash: self.inner.hasher.hash(password).await?,
            first_name: None,
            last_name: None,
            email_verified: true,
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            created_at: now,
            verification: None,
        };
        let audit = self.audit(
            AuditAction::UserRegistered,
            None,
            Some(id),
            "user",
            &ClientInfo::default(),
            json!({"roles": roles, "source": "bootstrap"}),
        );
        self.inner
            .store
            .create_user(new_user, Effects::audit(audit))
            .await
    }

    /// Confirms an email address with the token from the verification mail.
    #[tracing::instrument(skip_all)]
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> Result<UserRecord> {
        if token.trim().is_empty() {
            return Err(Error::invalid("token", "is required"));
        }
        let digest = VerificationToken::from_presented(token.trim()).digest();
        let owner = self
            .inner
            .store
            .one_time_token(&digest, TokenPurpose::EmailVerification)
            .await?
            .ok_or(Error::InvalidOneTimeToken)?;
        let audit = self.audit(
            AuditAction::EmailVerified,
            Some(owner.user_id),
            Some(owner.user_id),
            "user",
            client,
            json!({}),
        );
        let notice = self.notification(
            owner.user_id,
            NotificationType::EmailVerified,
            "Email verified",
            "Your email address is confirmed.",
            json!({}),
        );
        self.inner
            .store
            .verify_email(
                &digest,
                self.now(),
                Effects::audit(audit).with_notification(notice),
            )
            .await
    }

    /// Sends a new verification mail (older links stop working). Silent for unknown or
    /// already-verified addresses, so the answer reveals nothing.
    #[tracing::instrument(skip_all)]
    pub async fn resend_verification(&self, email: &str, client: &ClientInfo) -> Result<()> {
        let email = Email::parse(email).map_err(|m| Error::invalid("email", m))?;
        let Some(user) = self.inner.store.user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        if user.email_verified || user.deleted_at.is_some() {
            return Ok(());
        }
        let now = self.now();
        let token = VerificationToken::generate();
        let effects = Effects::audit(self.audit(
            AuditAction::VerificationResent,
            Some(user.id),
            Some(user.id),
            "user",
            client,
            json!({}),
        ))
        .with_mail(self.verification_mail(&user.email, &display_name(&user), &token)?);
        self.inner
            .store
            .issue_one_time_token(
                NewOneTimeToken {
                    digest: token.digest(),
                    user_id: user.id,
                    purpose: TokenPurpose::EmailVerification,
                    created_at: now,
                    expires_at: now + self.inner.config.verification_token_ttl,
                },
                effects,
            )
            .await?;
        self.wake_mail();
        Ok(())
    }

    /// Finds a user by email (when the identifier has an `@`) or username, case-insensitively.
    async fn find_by_identifier(&self, identifier: &str) -> Result<Option<UserRecord>> {
        let identifier = identifier.trim();
        if identifier.contains('@') {
            match Email::parse(identifier) {
                Ok(email) => self.inner.store.user_by_email(email.as_str()).await,
                Err(_) => Ok(None),
            }
        } else {
            match Username::parse(identifier) {
                Ok(name) => self.inner.store.user_by_username(name.as_str()).await,
                Err(_) => Ok(None),
            }
        }
    }

    /// Logs in with email or username and password. Order of checks (SPEC §5): find → locked →
    /// password → suspended/deactivated → verified email. The account state is revealed only
    /// to a caller who knows the password (see docs/ARCHITECTURE.md, "Decisions").
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        identifier: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<LoginOutcome> {
        let mut errors = Vec::new();
        if identifier.trim().is_empty() {
            errors.push(FieldError::new("identifier", "is required"));
        }
        if password.expose().is_empty() {
            errors.push(FieldError::new("password", "is required"));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let user = match self.find_by_identifier(identifier).await? {
            Some(user) if user.deleted_at.is_none() => user,
            _ => {
                // Same cost as a real check: no timing oracle for account existence.
                self.inner.hasher.verify_dummy(password).await?;
                tracing::info!(reason = "unknown_user", "login failed");
                return Err(Error::InvalidCredentials);
            }
        };
        let hasher = &self.inner.hasher;
        let (turn, needs_rehash) = self
            .check_under_lockout(
                &user,
                "invalid_password",
                client,
                Error::InvalidCredentials,
                async {
                    Ok(match hasher.verify(&user.password_hash, password).await? {
                        Verification::Match { needs_rehash } => Some(needs_rehash),
                        Verification::Mismatch => None,
                    })
                },
            )
            .await?;
        // The password was right: its turn goes back, and the wrong answers of the window stay
        // counted (a right one in a burst frees no turn but its own).
        self.release_turn(turn).await?;
        self.ensure_may_log_in(&user)?;
        if user.two_factor_enabled {
            // An outdated hash of a two-factor user is upgraded at a later password check
            // (change or reset); the challenge carries no password.
            return Ok(LoginOutcome::TwoFactorRequired(
                self.issue_two_factor_challenge(&user, TokenPurpose::LoginChallenge)
                    .await?,
            ));
        }
        let rehash = if needs_rehash {
            Some(self.inner.hasher.hash(password).await?)
        } else {
            None
        };
        let success = self.open_session(user, rehash, client).await?;
        Ok(LoginOutcome::Authenticated(Box::new(success)))
    }

    /// Account states that refuse a login even with the right password (SPEC §5 order: after
    /// the password, so the state is revealed only to someone who knows it).
    pub(crate) fn ensure_may_log_in(&self, user: &UserRecord) -> Result<()> {
        if user.is_suspended {
            return Err(Error::AccountSuspended);
        }
        if !user.is_active {
            return Err(Error::AccountDeactivated);
        }
        if self.inner.config.require_verified_email && !user.email_verified {
            return Err(Error::EmailNotVerified);
        }
        Ok(())
    }

    /// Opens a session for a user who has proven who they are.
    pub(crate) async fn open_session(
        &self,
        user: UserRecord,
        rehash: Option<String>,
        client: &ClientInfo,
    ) -> Result<LoginSuccess> {
        let now = self.now();
        let session_id = Uuid::now_v7();
        let refresh = RefreshToken::generate();
        let device = DeviceInfo::from_user_agent(client.user_agent.as_deref());
        let mut effects = Effects::audit(self.audit(
            AuditAction::UserLogin,
            Some(user.id),
            Some(user.id),
            "session",
            client,
            json!({"sessionId": session_id, "device": device.label()}),
        ));
        let seen = self
            .inner
            .store
            .client_seen_before(user.id, client.ip.as_deref(), client.user_agent.as_deref())
            .await?;
        if seen == Some(false) {
            let ip = client.ip.clone().unwrap_or_else(|| "unknown".to_owned());
            let when = now.format(&Rfc3339).unwrap_or_default();
            let mail = templates::new_login(
                &self.inner.config.mail,
                &user.email,
                &display_name(&user),
                &device.label(),
                &ip,
                &when,
            );
            effects = effects
                .with_audit(self.audit(
                    AuditAction::LoginAlert,
                    None,
                    Some(user.id),
                    "session",
                    client,
                    json!({"sessionId": session_id, "device": device.label(), "newDevice": true}),
                ))
                .with_mail(self.outbox(MailKind::NewLogin, &mail)?)
                .with_notification(self.notification(
                    user.id,
                    NotificationType::LoginAlert,
                    "New sign-in",
                    &format!("Signed in from {} ({ip}).", device.label()),
                    json!({"sessionId": session_id, "device": device, "ipAddress": client.ip}),
                ));
        }
        self.inner
            .store
            .start_session(
                NewSession {
                    id: session_id,
                    user_id: user.id,
                    device_info: device,
                    ip_address: client.ip.clone(),
                    user_agent: client.user_agent.clone(),
                    created_at: now,
                    expires_at: now + self.inner.config.refresh_token_ttl,
                    refresh_digest: refresh.digest(),
                },
                rehash,
                effects,
            )
            .await?;
        if seen == Some(false) {
            self.wake_mail();
        }
        let (access_token, _) = self
            .inner
            .tokens
            .issue(&user, session_id, now, None, None)?;
        let user = UserRecord {
            last_login_at: Some(now),
            failed_login_attempts: 0,
            locked_until: None,
            ..user
        };
        Ok(LoginSuccess {
            user,
            tokens: TokenPair {
                access_token,
                refresh_token: refresh,
                expires_in: self.inner.tokens.ttl().whole_seconds(),
            },
            session_id,
        })
    }

    /// Exchanges a refresh token for a new pair. A token rotated more than the grace window ago
    /// is a theft signal: the whole session is revoked.
    #[tracing::instrument(skip_all)]
    pub async fn refresh(&self, refresh_token: &str, client: &ClientInfo) -> Result<TokenPair> {
        if refresh_token.trim().is_empty() {
            return Err(Error::invalid("refreshToken", "is required"));
        }
        let presented = TokenDigest::of(refresh_token.trim());
        let next = RefreshToken::generate();
        let now = self.now();
        let config = &self.inner.config;
        let rotation = self
            .inner
            .store
            .rotate_refresh_token(
                &presented,
                &next.digest(),
                now,
                now + config.refresh_token_ttl,
                config.refresh_reuse_grace,
            )
            .await?;
        match rotation {
            RefreshRotation::Invalid => Err(Error::InvalidRefreshToken),
            RefreshRotation::Reused {
                session_id,
                user_id,
            } => {
                let audit = self.audit(
                    AuditAction::TokenReuseDetected,
                    None,
                    Some(user_id),
                    "session",
                    client,
                    json!({"sessionId": session_id}),
                );
                let notice = self.notification(
                    user_id,
                    NotificationType::SecurityAlert,
                    "Session ended for your safety",
                    "An old sign-in token was used again, so that session was signed out everywhere. If you did not expect this, change your password.",
                    json!({"sessionId": session_id, "ipAddress": client.ip}),
                );
                self.inner
                    .store
                    .revoke_session(
                        user_id,
                        session_id,
                        now,
                        Effects::audit(audit).with_notification(notice),
                    )
                    .await?;
                tracing::warn!(%user_id, %session_id, "refresh token reuse; session revoked");
                Err(Error::RefreshTokenReused)
            }
            RefreshRotation::Rotated { session_id, .. } => {
                let (_, user) = self
                    .inner
                    .store
                    .session_with_user(session_id)
                    .await?
                    .ok_or(Error::InvalidRefreshToken)?;
                if user.deleted_at.is_some() || user.is_suspended || !user.is_active {
                    return Err(Error::InvalidRefreshToken);
                }
                let (access_token, _) = self
                    .inner
                    .tokens
                    .issue(&user, session_id, now, None, None)?;
                Ok(TokenPair {
                    access_token,
                    refresh_token: next,
                    expires_in: self.inner.tokens.ttl().whole_seconds(),
                })
            }
        }
    }

    /// Checks a bearer token: signature and expiry, then its session (so an ended session ends
    /// the token at once, on every instance), then the user's current state.
    pub async fn authenticate(&self, bearer: &str) -> Result<AuthenticatedUser> {
        let now = self.now();
        let claims = self.inner.tokens.verify(bearer, now)?;
        let session_id = claims.session_id()?;
        let (session, user) = self
            .inner
            .store
            .session_with_user(session_id)
            .await?
            .ok_or(Error::InvalidAccessToken)?;
        self.admit(claims, session, user, now).await
    }

    /// [`authenticate`](Self::authenticate), and the caller's profile read in the same trip
    /// to the store (one statement on the SQL stores): `GET /users/profile`.
    pub async fn authenticate_with_profile(
        &self,
        bearer: &str,
    ) -> Result<(AuthenticatedUser, ProfileRecord)> {
        let now = self.now();
        let claims = self.inner.tokens.verify(bearer, now)?;
        let session_id = claims.session_id()?;
        let (session, user, profile) = self
            .inner
            .store
            .session_with_user_and_profile(session_id)
            .await?
            .ok_or(Error::InvalidAccessToken)?;
        let session_owner = user.id;
        let auth = self.admit(claims, session, user, now).await?;
        // Impersonating, the session (and so the profile read with it) is the administrator's.
        let profile = if auth.user.id == session_owner {
            profile
        } else {
            self.inner
                .store
                .profile(auth.user.id)
                .await?
                .unwrap_or_default()
        };
        Ok((auth, profile))
    }

    /// The checks of [`authenticate`](Self::authenticate) once the token is verified and its
    /// session and the session's user are read.
    async fn admit(
        &self,
        claims: AccessClaims,
        session: SessionRecord,
        user: UserRecord,
        now: Timestamp,
    ) -> Result<AuthenticatedUser> {
        let session_id = session.id;
        // An impersonation token rides on the administrator's session: ending that session (or
        // the administrator losing admin:access) ends the impersonation at once.
        let acting_admin = match &claims.act {
            Some(act) => Some(Uuid::parse_str(&act.sub).map_err(|_| Error::InvalidAccessToken)?),
            None => None,
        };
        let session_owner = acting_admin.unwrap_or(claims.user_id()?);
        if !session.is_active(now) || session.user_id != session_owner {
            return Err(Error::InvalidAccessToken);
        }
        let user = match acting_admin {
            None => user,
            Some(admin_id) => {
                if user.deleted_at.is_some() || !user.is_active || user.is_suspended {
                    return Err(Error::InvalidAccessToken);
                }
                let admin_permissions = self.inner.store.user_permissions(admin_id).await?;
                if !admin_permissions.iter().any(|p| p == "admin:access") {
                    return Err(Error::InvalidAccessToken);
                }
                self.inner
                    .store
                    .user_by_id(claims.user_id()?)
                    .await?
                    .ok_or(Error::InvalidAccessToken)?
            }
        };
        if user.deleted_at.is_some() || !user.is_active {
            return Err(Error::InvalidAccessToken);
        }
        if user.is_suspended {
            return Err(Error::AccountSuspended);
        }
        if now - session.last_activity_at >= self.inner.config.session_touch_interval {
            self.inner.store.touch_session(session_id, now).await?;
        }
        Ok(AuthenticatedUser {
            user,
            session_id,
            claims,
        })
    }

    /// Ends the caller's session (its access and refresh tokens stop working at once).
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, auth: &AuthenticatedUser, client: &ClientInfo) -> Result<()> {
        // The session belongs to the administrator: an impersonation ends when its token
        // expires or the administrator logs out, never silently here.
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let audit = self.audit(
            AuditAction::UserLogout,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "session",
            client,
            json!({"sessionId": auth.session_id}),
        );
        self.inner
            .store
            .revoke_session(
                auth.user.id,
                auth.session_id,
                self.now(),
                Effects::audit(audit),
            )
            .await?;
        Ok(())
    }

    /// Mails a password-reset link. Silent for unknown addresses.
    #[tracing::instrument(skip_all)]
    pub async fn forgot_password(&self, email: &str, client: &ClientInfo) -> Result<()> {
        let email = Email::parse(email).map_err(|m| Error::invalid("email", m))?;
        let Some(user) = self.inner.store.user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        if user.deleted_at.is_some() {
            return Ok(());
        }
        self.send_password_reset(&user, None, client).await
    }

    /// Issues a reset token and mails it (also used by the admin's forced reset).
    pub(crate) async fn send_password_reset(
        &self,
        user: &UserRecord,
        actor: Option<Uuid>,
        client: &ClientInfo,
    ) -> Result<()> {
        let now = self.now();
        let cfg = &self.inner.config;
        let token = ResetToken::generate();
        let mail = templates::password_reset(
            &cfg.mail,
            &user.email,
            &display_name(user),
            token.expose(),
            cfg.reset_token_ttl.whole_minutes(),
        );
        let effects = Effects::audit(self.audit(
            AuditAction::PasswordResetRequested,
            actor.or(Some(user.id)),
            Some(user.id),
            "user",
            client,
            json!({}),
        ))
        .with_mail(self.outbox(MailKind::PasswordReset, &mail)?);
        self.inner
            .store
            .issue_one_time_token(
                NewOneTimeToken {
                    digest: token.digest(),
                    user_id: user.id,
                    purpose: TokenPurpose::PasswordReset,
                    created_at: now,
                    expires_at: now + cfg.reset_token_ttl,
                },
                effects,
            )
            .await?;
        self.wake_mail();
        Ok(())
    }

    /// Sets a new password with a reset token: ends every session and clears the lockout.
    #[tracing::instrument(skip_all)]
    pub async fn reset_password(
        &self,
        token: &str,
        password: &Password,
        confirm: &Password,
        client: &ClientInfo,
    ) -> Result<()> {
        let mut errors = Vec::new();
        if token.trim().is_empty() {
            errors.push(FieldError::new("token", "is required"));
        }
        errors.extend(self.password_errors("password", password.expose(), None, None));
        if password.expose() != confirm.expose() {
            errors.push(FieldError::new("confirmPassword", "must match password"));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let digest = ResetToken::from_presented(token.trim()).digest();
        let record = self
            .inner
            .store
            .one_time_token(&digest, TokenPurpose::PasswordReset)
            .await?
            .filter(|t| t.used_at.is_none() && t.expires_at > self.now())
            .ok_or(Error::InvalidOneTimeToken)?;
        let user = self
            .inner
            .store
            .user_by_id(record.user_id)
            .await?
            .ok_or(Error::InvalidOneTimeToken)?;
        let identity_errors = self.password_errors(
            "password",
            password.expose(),
            Some(&user.email),
            Some(&user.username),
        );
        if !identity_errors.is_empty() {
            return Err(Error::Validation(identity_errors));
        }
        self.ensure_not_reused(user.id, "password", password)
            .await?;
        let change = PasswordChange {
            new_hash: self.inner.hasher.hash(password).await?,
            now: self.now(),
            history_limit: self.inner.config.password_policy.history,
            keep_session: None,
        };
        let effects = Effects::audit(self.audit(
            AuditAction::PasswordResetCompleted,
            Some(user.id),
            Some(user.id),
            "user",
            client,
            json!({}),
        ))
        .with_mail(self.password_changed_mail(&user)?)
        .with_notification(self.password_changed_notice(user.id));
        self.inner
            .store
            .reset_password(&digest, change, effects)
            .await?;
        self.wake_mail();
        Ok(())
    }

    /// Changes the caller's password; every other session ends.
    #[tracing::instrument(skip_all)]
    pub async fn change_password(
        &self,
        auth: &AuthenticatedUser,
        current: &Password,
        new: &Password,
        confirm: &Password,
        client: &ClientInfo,
    ) -> Result<u64> {
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let user = &auth.user;
        let mut errors = Vec::new();
        if current.expose().is_empty() {
            errors.push(FieldError::new("currentPassword", "is required"));
        }
        errors.extend(self.password_errors(
            "newPassword",
            new.expose(),
            Some(&user.email),
            Some(&user.username),
        ));
        if new.expose() != confirm.expose() {
            errors.push(FieldError::new("confirmPassword", "must match newPassword"));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        self.confirm_password_under_lockout(
            user,
            current,
            "invalid_password_confirmation",
            client,
            Error::IncorrectPassword,
        )
        .await?;
        self.ensure_not_reused(user.id, "newPassword", new).await?;
        let change = PasswordChange {
            new_hash: self.inner.hasher.hash(new).await?,
            now: self.now(),
            history_limit: self.inner.config.password_policy.history,
            keep_session: Some(auth.session_id),
        };
        let effects = Effects::audit(self.audit(
            AuditAction::PasswordChanged,
            Some(user.id),
            Some(user.id),
            "user",
            client,
            json!({}),
        ))
        .with_mail(self.password_changed_mail(user)?)
        .with_notification(self.password_changed_notice(user.id));
        let revoked = self
            .inner
            .store
            .change_password(user.id, change, effects)
            .await?;
        self.wake_mail();
        Ok(revoked)
    }

    /// Whether an email address is free to register.
    pub async fn email_available(&self, email: &str) -> Result<bool> {
        let email = Email::parse(email).map_err(|m| Error::invalid("email", m))?;
        Ok(self
            .inner
            .store
            .user_by_email(email.as_str())
            .await?
            .is_none())
    }

    /// Whether a username is free to register.
    pub async fn username_available(&self, username: &str) -> Result<bool> {
        let username = Username::parse(username).map_err(|m| Error::invalid("username", m))?;
        Ok(self
            .inner
            .store
            .user_by_username(username.as_str())
            .await?
            .is_none())
    }
}
