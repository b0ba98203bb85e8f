//! The admin API (SPEC §6 Admin): dashboard, user search and detail, account actions on other
//! users, impersonation. Each call checks the caller's permission itself; every action is
//! audited as `ADMIN_*` with the administrator as actor and the user as target.

#[cfg(feature = "test-util")]
mod cases;
pub(crate) mod dashboard;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::auth::tokens::Actor;
use crate::domain::AuditAction;
use crate::error::{Error, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::store::{
    AccountChange, Effects, NotificationType, ProfileRecord, SessionRecord, Timestamp, Total,
    TwoFactorRecord, UserRecord, UserSearch,
};
use serde_json::json;
use uuid::Uuid;

pub use dashboard::{DASHBOARD_DAYS, Dashboard};

/// Everything an administrator sees of one user.
#[derive(Debug, Clone)]
pub struct UserDetail {
    /// The user.
    pub user: UserRecord,
    /// The profile.
    pub profile: ProfileRecord,
    /// Active sessions, newest first.
    pub sessions: Vec<SessionRecord>,
    /// The two-factor enrolment, if any (never its secret).
    pub two_factor: Option<TwoFactorRecord>,
    /// The user's passkeys (never their key material on the wire).
    pub passkeys: Vec<crate::passkeys::store::PasskeyRecord>,
    /// The user's API keys (never their secrets or digests on the wire).
    pub api_keys: Vec<crate::api_keys::store::ApiKeyRecord>,
    /// The user's linked sign-in providers (never their tokens on the wire).
    pub identities: Vec<crate::oauth::store::IdentityRecord>,
    /// The permissions the roles grant.
    pub permissions: Vec<String>,
}

/// An impersonation token: a short-lived access token with no refresh token.
#[derive(Debug, Clone)]
pub struct Impersonation {
    /// The access token (its `act.sub` claim names the administrator).
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
    /// The impersonated user.
    pub user: UserRecord,
}

/// The account actions an administrator can take on a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// Mark the email address verified.
    VerifyEmail,
    /// Clear the failure counter and any lock.
    Unlock,
    /// Suspend: login and every authenticated request are refused; sessions end.
    Suspend,
    /// Lift a suspension (and a deactivation).
    Reactivate,
    /// Soft delete (recoverable by the owner within the recovery window).
    Delete,
}

impl AdminAction {
    fn permission(self) -> &'static str {
        match self {
            AdminAction::Delete => "user:delete",
            _ => "user:manage",
        }
    }

    fn audit_action(self) -> AuditAction {
        match self {
            AdminAction::VerifyEmail => AuditAction::AdminEmailVerified,
            AdminAction::Unlock => AuditAction::AdminUserUnlocked,
            AdminAction::Suspend => AuditAction::AdminUserSuspended,
            AdminAction::Reactivate => AuditAction::AdminUserReactivated,
            AdminAction::Delete => AuditAction::AdminUserDeleted,
        }
    }

    fn change(self) -> AccountChange {
        match self {
            AdminAction::VerifyEmail => AccountChange::VerifyEmail,
            AdminAction::Unlock => AccountChange::Unlock,
            AdminAction::Suspend => AccountChange::Suspend,
            AdminAction::Reactivate => AccountChange::Unsuspend,
            AdminAction::Delete => AccountChange::SoftDelete,
        }
    }

    /// Why the change did not apply.
    fn refused(self) -> Error {
        Error::AccountState(match self {
            AdminAction::VerifyEmail => "the email address is verified already",
            AdminAction::Unlock => "the account is deleted",
            AdminAction::Suspend => "the account is suspended already",
            AdminAction::Reactivate => "the account is neither suspended nor deactivated",
            AdminAction::Delete => "the account is deleted already",
        })
    }

    /// Whether the action locks the user out, so an administrator may not aim it at themself.
    fn locks_out(self) -> bool {
        matches!(self, AdminAction::Suspend | AdminAction::Delete)
    }
}

impl UserManager {
    /// `Forbidden` unless the caller holds every permission of the user they act on: a
    /// lesser role cannot reset, suspend or delete a greater one.
    async fn ensure_outranks(&self, auth: &AuthenticatedUser, user_id: Uuid) -> Result<()> {
        let theirs = self.inner.store.user_permissions(user_id).await?;
        self.ensure_holds_all(auth, &theirs).await
    }

    /// A page of users matching `search`, and how many match, counted up to
    /// [`Config::total_count_limit`](crate::Config::total_count_limit) (needs `user:read`).
    pub async fn search_users(
        &self,
        auth: &AuthenticatedUser,
        search: &UserSearch,
    ) -> Result<(Vec<UserRecord>, Total)> {
        self.authorize(auth, "user:read").await?;
        let bound = search.page.count_bound(self.inner.config.total_count_limit);
        let (users, counted) = self.inner.store.search_users(search, bound).await?;
        Ok((users, Total::of(counted, bound)))
    }

    /// One user with profile, sessions, two-factor and lockout state (needs `user:read`). Deleted
    /// users are visible here (an administrator needs to find them).
    pub async fn user_detail(&self, auth: &AuthenticatedUser, user_id: Uuid) -> Result<UserDetail> {
        self.authorize(auth, "user:read").await?;
        let store = &self.inner.store;
        let user = store
            .user_by_id(user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let profile = store.profile(user_id).await?.unwrap_or_default();
        let sessions = store.list_sessions(user_id, self.now()).await?;
        let two_factor = store.two_factor(user_id).await?;
        let passkeys = store.passkeys(user_id).await?;
        let api_keys = store.api_keys(user_id).await?;
        let identities = store.identities(user_id).await?;
        let permissions = store.user_permissions(user_id).await?;
        Ok(UserDetail {
            user,
            profile,
            sessions,
            two_factor,
            passkeys,
            api_keys,
            identities,
            permissions,
        })
    }

    /// Forces a password reset (needs `user:manage`): every session ends and a reset link is mailed.
    pub async fn admin_reset_password(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        client: &ClientInfo,
    ) -> Result<u64> {
        self.authorize(auth, "user:manage").await?;
        self.ensure_not_impersonated(auth)?;
        let user = self.existing_user(user_id).await?;
        self.ensure_outranks(auth, user.id).await?;
        // The link first: should ending the sessions fail, a retry is harmless, whereas the
        // other order could leave the user signed out with no way back in.
        self.send_password_reset(&user, Some(auth.user.id), client)
            .await?;
        let audit = self.audit(
            AuditAction::AdminPasswordReset,
            Some(auth.user.id),
            Some(user.id),
            "user",
            client,
            json!({}),
        );
        let notice = self.notification(
            user.id,
            NotificationType::SecurityAlert,
            "Password reset required",
            "An administrator signed you out everywhere and sent you a link to set a new password.",
            json!({}),
        );
        let ended = self
            .inner
            .store
            .revoke_sessions(
                user.id,
                None,
                self.now(),
                Effects::audit(audit).with_notification(notice),
            )
            .await?;
        Ok(ended)
    }

    /// Applies an account action to another user [user:manage; delete: user:delete].
    pub async fn admin_account_action(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        action: AdminAction,
        reason: Option<String>,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        self.authorize(auth, action.permission()).await?;
        self.ensure_not_impersonated(auth)?;
        if action.locks_out() && user_id == auth.user.id {
            return Err(Error::invalid(
                "userId",
                "administrators cannot suspend or delete themselves",
            ));
        }
        if reason
            .as_deref()
            .is_some_and(crate::domain::has_control_chars)
        {
            return Err(Error::invalid(
                "reason",
                "must not contain control characters",
            ));
        }
        let reason = reason.map(|r| r.trim().chars().take(500).collect::<String>());
        let user = self
            .inner
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        self.ensure_outranks(auth, user.id).await?;
        let now = self.now();
        let effects = Effects::audit(self.audit(
            action.audit_action(),
            Some(auth.user.id),
            Some(user.id),
            "user",
            client,
            json!({"reason": reason}),
        ));
        let effects = self.account_action_notice(action, &user, reason.as_deref(), now, effects)?;
        let changed = self
            .inner
            .store
            .change_account(user.id, action.change(), now, effects)
            .await?
            .ok_or_else(|| action.refused())?;
        self.wake_mail();
        Ok(changed)
    }

    /// What the user is told of an administrator's action on their account: a notification,
    /// a mail, or both, added to the action's `effects`.
    fn account_action_notice(
        &self,
        action: AdminAction,
        user: &UserRecord,
        reason: Option<&str>,
        now: Timestamp,
        mut effects: Effects,
    ) -> Result<Effects> {
        let name = crate::auth::display_name(user);
        let cfg = &self.inner.config;
        match action {
            AdminAction::VerifyEmail => {
                effects = effects.with_notification(self.notification(
                    user.id,
                    NotificationType::EmailVerified,
                    "Email address verified",
                    "An administrator confirmed your email address.",
                    json!({}),
                ));
            }
            AdminAction::Unlock => {
                effects = effects.with_notification(self.notification(
                    user.id,
                    NotificationType::AccountUpdate,
                    "Account unlocked",
                    "An administrator lifted the lock on your account.",
                    json!({}),
                ));
            }
            AdminAction::Suspend => {
                let detail = match reason {
                    Some(r) if !r.is_empty() => {
                        format!("You cannot sign in until it is lifted. Reason given: {r}")
                    }
                    _ => "You cannot sign in until it is lifted.".to_owned(),
                };
                effects = effects.with_mail(self.outbox(
                    MailKind::AccountSuspended,
                    &templates::account_notice(
                        &cfg.mail,
                        &user.email,
                        &name,
                        "was suspended",
                        &detail,
                    ),
                )?);
            }
            AdminAction::Reactivate => {
                effects = effects
                    .with_mail(self.outbox(
                        MailKind::AccountReactivated,
                        &templates::account_notice(
                            &cfg.mail,
                            &user.email,
                            &name,
                            "was reactivated",
                            "You can sign in again.",
                        ),
                    )?)
                    .with_notification(self.notification(
                        user.id,
                        NotificationType::AccountUpdate,
                        "Account reactivated",
                        "An administrator reactivated your account.",
                        json!({}),
                    ));
            }
            AdminAction::Delete => {
                let deadline = (now + cfg.account_recovery_window)
                    .format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
                effects = effects.with_mail(self.outbox(
                    MailKind::AccountDeleted,
                    &templates::account_notice(
                        &cfg.mail,
                        &user.email,
                        &name,
                        "was deleted by an administrator",
                        &format!("It will be removed for good after {deadline}."),
                    ),
                )?);
            }
        }
        Ok(effects)
    }

    /// Issues a short-lived token acting as another user (needs `admin:access`). Impersonating a
    /// holder of admin:access needs system:manage; an impersonation token cannot start another.
    pub async fn impersonate(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        client: &ClientInfo,
    ) -> Result<Impersonation> {
        self.ensure_not_api_key(auth)?;
        self.authorize(auth, "admin:access").await?;
        self.ensure_not_impersonated(auth)?;
        if user_id == auth.user.id {
            return Err(Error::invalid("userId", "you cannot impersonate yourself"));
        }
        let target = self.existing_user(user_id).await?;
        if target.is_suspended || !target.is_active {
            return Err(Error::AccountState(
                "a suspended or deactivated account cannot be impersonated",
            ));
        }
        let target_permissions = self.inner.store.user_permissions(target.id).await?;
        if target_permissions.iter().any(|p| p == "admin:access") {
            self.authorize(auth, "system:manage").await?;
        }
        // Acting as someone must not lend permissions the administrator lacks.
        self.ensure_holds_all(auth, &target_permissions).await?;
        let now = self.now();
        let ttl = self.inner.config.impersonation_ttl;
        let (access_token, _) = self.inner.tokens.issue(
            &target,
            auth.session_id,
            now,
            Some(Actor {
                sub: auth.user.id.to_string(),
            }),
            Some(ttl),
        )?;
        // Both sides are on record: the administrator as actor, the user as target.
        let audit = self.audit(
            AuditAction::AdminImpersonationStarted,
            Some(auth.user.id),
            Some(target.id),
            "user",
            client,
            json!({"expiresIn": ttl.whole_seconds(), "adminSessionId": auth.session_id}),
        );
        self.inner
            .store
            .record_effects(Effects::audit(audit))
            .await?;
        Ok(Impersonation {
            access_token,
            expires_in: ttl.whole_seconds(),
            user: target,
        })
    }

    /// Ends the impersonation `auth` carries and signs the administrator back in, on the word
    /// of the administrator's own refresh token (`admin_refresh`) for the session the
    /// impersonation rides on: an impersonation token alone must never buy an administrator's
    /// session. That session ends (so the impersonation token stops working at once, on every
    /// instance, wherever a copy of it is) and a fresh one opens for the administrator, whose
    /// pair is returned.
    ///
    /// Refused with 409 `INVALID_ACCOUNT_STATE` when `auth` is no impersonation, and with 401
    /// `INVALID_REFRESH_TOKEN` when the refresh token is not that session's (or a concurrent
    /// call ended it first: one of two racing calls wins).
    pub async fn end_impersonation(
        &self,
        auth: &AuthenticatedUser,
        admin_refresh: &str,
        client: &ClientInfo,
    ) -> Result<crate::auth::LoginSuccess> {
        self.ensure_not_api_key(auth)?;
        let Some(admin_id) = auth.impersonator() else {
            return Err(Error::AccountState(
                "this session is not impersonating anyone",
            ));
        };
        // Proof of the administrator's session: its refresh token rotates (reuse detection
        // included) and must belong to the session the impersonation token names.
        let pair = self.refresh(admin_refresh, client).await?;
        let proven = self
            .inner
            .tokens
            .genuine(&pair.access_token)
            .and_then(|claims| claims.session_id())?;
        if proven != auth.session_id {
            return Err(Error::InvalidRefreshToken);
        }
        let admin = self
            .inner
            .store
            .user_by_id(admin_id)
            .await?
            .ok_or(Error::InvalidRefreshToken)?;
        let audit = self.audit(
            AuditAction::AdminImpersonationEnded,
            Some(admin_id),
            Some(auth.user.id),
            "user",
            client,
            json!({"adminSessionId": auth.session_id}),
        );
        let ended = self
            .inner
            .store
            .revoke_session(admin_id, auth.session_id, self.now(), Effects::audit(audit))
            .await?;
        if !ended {
            return Err(Error::InvalidRefreshToken);
        }
        self.open_session(admin, None, client).await
    }
}
