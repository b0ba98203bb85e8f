//! Passwords: the policy and history checks, the reset link, the change, and their notices.

use crate::auth::AuthenticatedUser;
use crate::auth::display_name;
use crate::auth::hashing::Verification;
use crate::domain::AuditAction;
use crate::domain::{Email, check_password_policy};
use crate::error::{Error, FieldError, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::secret::{Password, ResetToken};
use crate::store::{
    Effects, NewOneTimeToken, NotificationType, PasswordChange, TokenPurpose, UserRecord,
};
use serde_json::json;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

impl UserManager {
    pub(super) fn password_errors(
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
    pub(super) async fn ensure_not_reused(
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

    pub(super) fn password_changed_mail(
        &self,
        user: &UserRecord,
    ) -> Result<crate::store::OutboxMessage> {
        let when = self.now().format(&Rfc3339).unwrap_or_default();
        let email = templates::password_changed(
            &self.inner.config.mail,
            &user.email,
            &display_name(user),
            &when,
        );
        self.outbox(MailKind::PasswordChanged, &email)
    }

    pub(super) fn password_changed_notice(
        &self,
        user_id: Uuid,
    ) -> crate::store::NotificationRecord {
        self.notification(
            user_id,
            NotificationType::PasswordChanged,
            "Password changed",
            "Your password was changed. If this was not you, reset it at once.",
            json!({}),
        )
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
            &cfg.password_reset_link_base(),
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
        self.ensure_not_api_key(auth)?;
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
}
