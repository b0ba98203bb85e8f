//! The owner's account lifecycle (SPEC §6 Account): deactivate and reactivate, soft delete with
//! a recovery window, recovery, permanent deletion, the purge of expired deletions, and the
//! GDPR export.
//!
//! Life of an account: active ⇄ deactivated (owner) · active ⇄ suspended (administrator) ·
//! any → deleted (soft; recoverable for `account_recovery_window`) → purged (gone; audit rows
//! anonymised). Every step that locks the owner out ends their sessions in the same transaction.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::domain::AuditAction;
use crate::domain::Email;
use crate::error::{Error, FieldError, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::secret::Password;
use crate::store::{AccountChange, Effects, Timestamp, TokenPurpose, UserRecord};
use serde_json::json;
use time::format_description::well_known::Rfc3339;

/// How many expired accounts one purge pass removes at most (the job runs again later).
const PURGE_BATCH: usize = 500;

fn rfc3339(t: Timestamp) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn require_password(password: &Password) -> Result<()> {
    if password.expose().is_empty() {
        Err(Error::invalid("password", "is required"))
    } else {
        Ok(())
    }
}

/// What reactivate and recover answer: done, or the same two-factor challenge as a login.
#[derive(Debug, Clone)]
pub enum AccountRestore {
    /// The account is open again.
    Done(Box<UserRecord>),
    /// The password was right; a TOTP or backup code must follow with the challenge.
    TwoFactorRequired(crate::two_factor::TwoFactorChallenge),
}

/// The two ways the owner brings an account back with email and password.
#[derive(Debug, Clone, Copy)]
enum Restore {
    /// From deactivated (not deleted; a suspension only an administrator lifts).
    Reactivate,
    /// From deleted, within the recovery window.
    Recover,
}

impl Restore {
    /// The purpose a two-factor challenge of this restore is bound to.
    fn challenge_purpose(self) -> TokenPurpose {
        match self {
            Restore::Reactivate => TokenPurpose::ReactivationChallenge,
            Restore::Recover => TokenPurpose::RecoveryChallenge,
        }
    }

    /// The state checks after a right password (or code), revealed only then.
    fn ensure_applies(self, user: &UserRecord) -> Result<()> {
        match self {
            Restore::Reactivate if user.deleted_at.is_some() => Err(Error::InvalidCredentials),
            Restore::Reactivate if user.is_suspended => Err(Error::AccountSuspended),
            Restore::Recover if user.deleted_at.is_none() => {
                Err(Error::AccountState("the account is not deleted"))
            }
            _ => Ok(()),
        }
    }
}

/// What a GDPR export holds (shaped for the wire by `account::routes::account_export`).
#[derive(Debug, Clone)]
pub struct AccountExport {
    /// The account.
    pub user: crate::store::UserRecord,
    /// Its profile.
    pub profile: crate::store::ProfileRecord,
    /// Its two-factor state (never the secret nor the codes).
    pub two_factor: Option<crate::store::TwoFactorRecord>,
    /// Its passkeys (the wire shows names and dates, never key material).
    pub passkeys: Vec<crate::passkeys::store::PasskeyRecord>,
    /// Its API keys (the wire shows names, scopes and dates, never secrets or digests).
    pub api_keys: Vec<crate::api_keys::store::ApiKeyRecord>,
    /// Its memberships of organizations, with its role in each.
    pub organizations: Vec<crate::organizations::store::OrgMembership>,
    /// Its linked sign-in providers (the wire shows provider, subject, address and dates,
    /// never tokens).
    pub identities: Vec<crate::oauth::store::IdentityRecord>,
    /// Sessions, notifications, password-change times, the audit trail (staff anonymised).
    pub data: crate::store::UserDataExport,
    /// When.
    pub exported_at: crate::store::Timestamp,
}

impl UserManager {
    /// The caller's password must be right; a wrong one is `IncorrectPassword` and counts
    /// toward the lockout like a failed login (a stolen session cannot guess it freely).
    async fn confirm_own_password(
        &self,
        auth: &AuthenticatedUser,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<()> {
        require_password(password)?;
        self.confirm_password_under_lockout(
            &auth.user,
            password,
            "invalid_password_confirmation",
            client,
            Error::IncorrectPassword,
        )
        .await
    }

    /// Email and password of an account that cannot log in (deactivated or deleted): the same
    /// answers, costs and lockout as a login, so these routes reveal nothing a login would not
    /// and guess no faster. The turn of the check is given back when it passed.
    async fn credentials_for(
        &self,
        email: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let mut errors = Vec::new();
        if email.trim().is_empty() {
            errors.push(FieldError::new("email", "is required"));
        }
        if password.expose().is_empty() {
            errors.push(FieldError::new("password", "is required"));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let email = Email::parse(email).map_err(|m| Error::invalid("email", m))?;
        let Some(user) = self.inner.store.user_by_email(email.as_str()).await? else {
            self.inner.hasher.verify_dummy(password).await?;
            return Err(Error::InvalidCredentials);
        };
        self.confirm_password_under_lockout(
            &user,
            password,
            "invalid_password",
            client,
            Error::InvalidCredentials,
        )
        .await?;
        Ok(user)
    }

    /// Deactivates the caller's account: login is refused until they reactivate; every
    /// session ends.
    pub async fn deactivate_account(
        &self,
        auth: &AuthenticatedUser,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        self.confirm_own_password(auth, password, client).await?;
        let user = &auth.user;
        let effects = Effects::audit(self.audit(
            AuditAction::AccountDeactivated,
            Some(user.id),
            Some(user.id),
            "user",
            client,
            json!({}),
        ))
        .with_mail(self.outbox(
            MailKind::AccountDeactivated,
            &templates::account_notice(
                &self.inner.config.mail,
                &user.email,
                &crate::auth::display_name(user),
                "was deactivated",
                "Sign-in is refused until you reactivate it with your email address and password.",
            ),
        )?);
        let now = self.now();
        self.inner
            .store
            .change_account(user.id, AccountChange::Deactivate, now, effects)
            .await?
            .ok_or(Error::AccountState("the account is deactivated already"))?;
        self.wake_mail();
        Ok(())
    }

    /// Reactivates a deactivated account with its email and password. A suspension is lifted
    /// only by an administrator. An account with two-factor answers the same challenge as a
    /// login, completed by [`reactivate_account_with_code`](Self::reactivate_account_with_code).
    pub async fn reactivate_account(
        &self,
        email: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<AccountRestore> {
        self.restore_with_password(Restore::Reactivate, email, password, client)
            .await
    }

    /// The second step of reactivating a two-factor account: the challenge and a TOTP or
    /// backup code, held to the same bounds as a login's second step.
    pub async fn reactivate_account_with_code(
        &self,
        challenge: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        self.restore_with_code(Restore::Reactivate, challenge, code, client)
            .await
    }

    /// Undoes a soft delete within the recovery window, with email and password. An account
    /// with two-factor answers the same challenge as a login, completed by
    /// [`recover_account_with_code`](Self::recover_account_with_code).
    pub async fn recover_account(
        &self,
        email: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<AccountRestore> {
        self.restore_with_password(Restore::Recover, email, password, client)
            .await
    }

    /// The second step of recovering a two-factor account: the challenge and a TOTP or backup
    /// code, held to the same bounds as a login's second step.
    pub async fn recover_account_with_code(
        &self,
        challenge: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        self.restore_with_code(Restore::Recover, challenge, code, client)
            .await
    }

    /// Email and password, then the restore, or the two-factor challenge bound to it.
    async fn restore_with_password(
        &self,
        restore: Restore,
        email: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<AccountRestore> {
        let user = self.credentials_for(email, password, client).await?;
        restore.ensure_applies(&user)?;
        if user.two_factor_enabled {
            return Ok(AccountRestore::TwoFactorRequired(
                self.issue_two_factor_challenge(&user, restore.challenge_purpose())
                    .await?,
            ));
        }
        Ok(AccountRestore::Done(Box::new(
            self.finish_restore(restore, &user, client).await?,
        )))
    }

    /// The challenge of [`restore_with_password`](Self::restore_with_password) and a code,
    /// then the restore.
    async fn restore_with_code(
        &self,
        restore: Restore,
        challenge: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let user = self
            .answer_two_factor_challenge(challenge, code, restore.challenge_purpose(), client)
            .await?;
        restore.ensure_applies(&user)?;
        self.finish_restore(restore, &user, client).await
    }

    /// The change itself: one conditional store change from the state it undoes (of racing
    /// restores one wins), with its audit row and notification.
    async fn finish_restore(
        &self,
        restore: Restore,
        user: &UserRecord,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let now = self.now();
        let (action, title, message, change, refusal) = match restore {
            Restore::Reactivate => (
                AuditAction::AccountReactivated,
                "Account reactivated",
                "Your account is active again.",
                AccountChange::Reactivate,
                "the account is not deactivated",
            ),
            Restore::Recover => (
                AuditAction::AccountRecovered,
                "Account recovered",
                "Your account was restored.",
                AccountChange::Recover {
                    deleted_after: now - self.inner.config.account_recovery_window,
                },
                "the recovery window has ended",
            ),
        };
        let effects = Effects::audit(self.audit(
            action,
            Some(user.id),
            Some(user.id),
            "user",
            client,
            json!({}),
        ))
        .with_notification(self.notification(
            user.id,
            crate::store::NotificationType::AccountUpdate,
            title,
            message,
            json!({}),
        ));
        self.inner
            .store
            .change_account(user.id, change, now, effects)
            .await?
            .ok_or(Error::AccountState(refusal))
    }

    /// Soft-deletes the caller's account; returns the end of the recovery window, after which
    /// the purge removes it for good.
    pub async fn delete_account(
        &self,
        auth: &AuthenticatedUser,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<Timestamp> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        self.confirm_own_password(auth, password, client).await?;
        let user = &auth.user;
        let now = self.now();
        let deadline = now + self.inner.config.account_recovery_window;
        let effects = Effects::audit(self.audit(
            AuditAction::AccountDeleted,
            Some(user.id),
            Some(user.id),
            "user",
            client,
            json!({"recoveryDeadline": rfc3339(deadline)}),
        ))
        .with_mail(self.outbox(
            MailKind::AccountDeleted,
            &templates::account_notice(
                &self.inner.config.mail,
                &user.email,
                &crate::auth::display_name(user),
                "was deleted",
                &format!(
                    "You can recover it with your email address and password until {}; after that it is removed for good.",
                    rfc3339(deadline)
                ),
            ),
        )?);
        self.inner
            .store
            .change_account(user.id, AccountChange::SoftDelete, now, effects)
            .await?
            .ok_or(Error::AccountState("the account is deleted already"))?;
        self.wake_mail();
        Ok(deadline)
    }

    /// Removes the caller's account and everything stored about them at once; the audit trail
    /// keeps anonymised rows. `confirm_email` must repeat the account's address.
    pub async fn delete_account_permanently(
        &self,
        auth: &AuthenticatedUser,
        password: &Password,
        confirm_email: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let user = &auth.user;
        let confirmed = Email::parse(confirm_email)
            .map(|e| e.as_str() == user.email)
            .unwrap_or(false);
        let mut errors = Vec::new();
        if password.expose().is_empty() {
            errors.push(FieldError::new("password", "is required"));
        }
        if !confirmed {
            errors.push(FieldError::new(
                "confirmEmail",
                "must repeat the account's email address",
            ));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        self.confirm_own_password(auth, password, client).await?;
        self.remove_user_data(user, None, "owner_request", client)
            .await?;
        Ok(())
    }

    /// Removes a user for good (see [`crate::store::AccountStore::delete_user_permanently`]), mails a last
    /// notice and drops every avatar file of theirs.
    async fn remove_user_data(
        &self,
        user: &UserRecord,
        deleted_before: Option<Timestamp>,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<bool> {
        // The purge row names no one: the user's id would point back at the person.
        let mut audit = self.audit(
            AuditAction::AccountPurged,
            None,
            None,
            "user",
            client,
            json!({"reason": reason}),
        );
        audit.ip_address = None;
        audit.user_agent = None;
        let effects = Effects::audit(audit).with_mail(self.outbox(
            MailKind::AccountPurged,
            &templates::account_notice(
                &self.inner.config.mail,
                &user.email,
                &crate::auth::display_name(user),
                "was removed",
                "Your account and the data kept with it were deleted for good.",
            ),
        )?);
        let removed = self
            .inner
            .store
            .delete_user_permanently(user.id, deleted_before, effects)
            .await?;
        if removed {
            self.remove_avatar_files(user).await;
            self.wake_mail();
        }
        Ok(removed)
    }

    /// Removes every account whose recovery window has ended; returns how many. Safe to run on
    /// several instances at once: each account is removed by exactly one of them.
    pub async fn purge_expired_accounts(&self) -> Result<u64> {
        let cutoff = self.now() - self.inner.config.account_recovery_window;
        let due = self
            .inner
            .store
            .users_deleted_before(cutoff, PURGE_BATCH)
            .await?;
        let mut purged = 0;
        let system = ClientInfo::default();
        for user_id in due {
            let Some(user) = self.inner.store.user_by_id(user_id).await? else {
                continue;
            };
            if self
                .remove_user_data(&user, Some(cutoff), "recovery_window_expired", &system)
                .await?
            {
                purged += 1;
            }
        }
        if purged > 0 {
            tracing::info!(purged, "expired accounts purged");
        }
        Ok(purged)
    }

    /// Every stored datum of the caller (GDPR art. 15/20), never hashes or secrets. Audited.
    /// Rows about the user written by staff keep what happened, not who of the staff did it nor
    /// from where: that is the staff member's data, not the user's.
    pub async fn export_account(
        &self,
        auth: &AuthenticatedUser,
        client: &ClientInfo,
    ) -> Result<AccountExport> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let store = &self.inner.store;
        let user = &auth.user;
        let profile = store.profile(user.id).await?.unwrap_or_default();
        let mut data = store.user_data_export(user.id).await?;
        for event in &mut data.audit {
            if event.actor_id.is_some_and(|a| a != user.id) {
                event.actor_id = None;
                event.ip_address = None;
                event.user_agent = None;
                if let Some(details) = event.details.as_object_mut() {
                    details.remove("adminSessionId");
                }
            }
        }
        let export = AccountExport {
            user: user.clone(),
            profile,
            two_factor: store.two_factor(user.id).await?,
            passkeys: store.passkeys(user.id).await?,
            api_keys: store.api_keys(user.id).await?,
            organizations: store.user_orgs(user.id).await?,
            identities: store.identities(user.id).await?,
            data,
            exported_at: self.now(),
        };
        store
            .record_effects(Effects::audit(self.audit(
                AuditAction::DataExported,
                Some(user.id),
                Some(user.id),
                "user",
                client,
                json!({}),
            )))
            .await?;
        Ok(export)
    }
}
