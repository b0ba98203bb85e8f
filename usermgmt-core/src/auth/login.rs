//! Login step 1, sessions opened and refreshed, authentication of a bearer token, logout.

use crate::auth::display_name;
use crate::auth::hashing::Verification;
use crate::auth::lockout::Turn;
use crate::auth::tokens::AccessClaims;
use crate::auth::{AuthenticatedUser, LoginOutcome, LoginSuccess, TokenPair};
use crate::domain::AuditAction;
use crate::domain::{DeviceInfo, Email, Username};
use crate::error::{Error, FieldError, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::organizations::store::SessionInOrg;
use crate::secret::{Password, RefreshToken, TokenDigest};
use crate::store::{
    Effects, NewSession, NotificationType, ProfileRecord, RefreshRotation, SessionRecord,
    Timestamp, TokenPurpose, UserRecord,
};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

impl UserManager {
    /// Finds a user by email (when the identifier has an `@`) or username, case-insensitively.
    pub(super) async fn find_by_identifier(&self, identifier: &str) -> Result<Option<UserRecord>> {
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
        // counted (a right one in a burst frees no turn but its own). When a session opens, the
        // turn goes back in the session's own commit: one durable commit fewer per login.
        let refusal = self.ensure_may_log_in(&user);
        if refusal.is_err() || user.two_factor_enabled {
            self.release_turn(turn).await?;
            refusal?;
            // An outdated hash of a two-factor user is upgraded at a later password check
            // (change or reset); the challenge carries no password.
            return Ok(LoginOutcome::TwoFactorRequired(
                self.issue_two_factor_challenge(&user, TokenPurpose::LoginChallenge)
                    .await?,
            ));
        }
        let rehash = if needs_rehash {
            match self.inner.hasher.hash(password).await {
                Ok(hash) => Some(hash),
                Err(err) => {
                    self.release_turn(turn).await?;
                    return Err(err);
                }
            }
        } else {
            None
        };
        let success = self
            .open_session_giving_back(user, rehash, client, Some(turn))
            .await?;
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

    /// Opens a session for a user who has proven who they are (no check turn held).
    pub(crate) async fn open_session(
        &self,
        user: UserRecord,
        rehash: Option<String>,
        client: &ClientInfo,
    ) -> Result<LoginSuccess> {
        self.open_session_giving_back(user, rehash, client, None)
            .await
    }

    /// [`open_session`](Self::open_session) for a login whose password check holds `turn`: the
    /// store gives the turn back in the commit that opens the session
    /// ([`NewSession::passed_check`]). When no session opens, the turn is given back on its own
    /// if the store surely wrote nothing (an error before the store's call, or a deadlock, whose
    /// transaction was rolled back); any other store error leaves it unknown whether the commit
    /// happened, and the turn stays counted, like a failure, rather than risk giving it back
    /// twice (which would free a turn of a racing wrong password).
    async fn open_session_giving_back(
        &self,
        user: UserRecord,
        rehash: Option<String>,
        client: &ClientInfo,
        turn: Option<Turn>,
    ) -> Result<LoginSuccess> {
        let release = |err: Error| async move {
            if let Some(turn) = turn {
                self.release_turn(turn).await?;
            }
            Err(err)
        };
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
        let seen = match self
            .inner
            .store
            .client_seen_before(user.id, client.ip.as_deref(), client.user_agent.as_deref())
            .await
        {
            Ok(seen) => seen,
            Err(err) => return release(err).await,
        };
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
                .with_mail(match self.outbox(MailKind::NewLogin, &mail) {
                    Ok(outbox) => outbox,
                    Err(err) => return release(err).await,
                })
                .with_notification(self.notification(
                    user.id,
                    NotificationType::LoginAlert,
                    "New sign-in",
                    &format!("Signed in from {} ({ip}).", device.label()),
                    json!({"sessionId": session_id, "device": device, "ipAddress": client.ip}),
                ));
        }
        let opened = self
            .inner
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
                    passed_check: turn.map(|turn| self.passed_check(turn)),
                },
                rehash,
                effects,
            )
            .await;
        match opened {
            Ok(()) => {}
            Err(err @ Error::Contention(_)) => return release(err).await,
            Err(err) => return Err(err),
        }
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
        // The rotation, and with it the session's user and active organization (while the
        // user is still a member): one trip to the SQL stores.
        let (rotation, rotated) = self
            .inner
            .store
            .rotate_refresh_token_in_org(
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
                let SessionInOrg {
                    user, active_org, ..
                } = rotated.ok_or(Error::InvalidRefreshToken)?;
                if user.deleted_at.is_some() || user.is_suspended || !user.is_active {
                    return Err(Error::InvalidRefreshToken);
                }
                let (access_token, _) = self.inner.tokens.issue_in_org(
                    &user,
                    session_id,
                    now,
                    None,
                    None,
                    active_org.map(|(id, role)| (id, role.as_str())),
                )?;
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
    /// An API key (`umk_…`) is checked instead by [`authenticate_api_key`](Self::authenticate_api_key).
    pub async fn authenticate(&self, bearer: &str) -> Result<AuthenticatedUser> {
        if crate::secret::is_api_key(bearer) {
            return self.authenticate_api_key(bearer).await;
        }
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
        if crate::secret::is_api_key(bearer) {
            let auth = self.authenticate_api_key(bearer).await?;
            let profile = self
                .inner
                .store
                .profile(auth.user.id)
                .await?
                .unwrap_or_default();
            return Ok((auth, profile));
        }
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
    pub(super) async fn admit(
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
            api_key: None,
        })
    }

    /// Ends the caller's session (its access and refresh tokens stop working at once).
    #[tracing::instrument(skip_all)]
    pub async fn logout(&self, auth: &AuthenticatedUser, client: &ClientInfo) -> Result<()> {
        self.ensure_not_api_key(auth)?;
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
}
