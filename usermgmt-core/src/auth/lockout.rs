//! The lockout every credential check of an account is held to: passwords (login, reactivate,
//! recover, and the confirmations of a signed-in owner) and second-factor codes (login step two,
//! step-up, disable, backup-code regeneration).
//!
//! A check takes its turn from the store *before* it runs ([`Store::take_check_turn`]): the
//! turn is counted at once in the account's window (which starts at its first check and lasts
//! as long as a lock), and the turn that reaches the limit locks the account in the same
//! statement. A check that passes gives back its own turn and nothing more
//! ([`Store::release_check_turn`], or for a login the commit that opens its session): a right
//! password in a burst does not wipe the wrong ones
//! racing it. So however many requests race, at most `max_failures` wrong answers of one
//! account are checked per window, and a right password arriving after them is refused like a
//! wrong one. Every refused attempt is audited.
//!
//! [`Store::take_check_turn`]: crate::store::LockoutStore::take_check_turn
//! [`Store::release_check_turn`]: crate::store::LockoutStore::release_check_turn

use super::display_name;
use super::hashing::Verification;
use crate::domain::AuditAction;
use crate::error::{Error, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::secret::Password;
use crate::store::{CheckTurn, Effects, LockoutRule, NotificationType, PassedCheck, UserRecord};
use serde_json::json;
use std::future::Future;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Codes one two-factor challenge may check, whatever the account's count: a challenge is
/// spent after this many, and the password must be given again.
pub(crate) const MAX_CHALLENGE_ATTEMPTS: u32 = 5;

/// A granted turn of one credential check. A check that passed ends it with
/// [`UserManager::release_turn`].
#[must_use = "a passed check gives its turn back"]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Turn {
    user_id: Uuid,
    slot: u32,
}

impl UserManager {
    fn lockout_rule(&self) -> LockoutRule {
        let policy = &self.inner.config.lockout;
        LockoutRule {
            max_failures: policy.max_failures,
            lock_for: policy.duration,
        }
    }

    /// Runs `check` (true: the credential is right) under the lockout. A refused turn answers
    /// `AccountLocked` without running it; a failed check answers `wrong`, or `AccountLocked`
    /// when its turn was the last; a check that errs gives its turn back.
    pub(crate) async fn check_under_lockout<T>(
        &self,
        user: &UserRecord,
        reason: &str,
        client: &ClientInfo,
        wrong: Error,
        check: impl Future<Output = Result<Option<T>>>,
    ) -> Result<(Turn, T)> {
        let turn = self.take_turn(user, reason, client).await?;
        match check.await {
            Ok(Some(passed)) => Ok((turn, passed)),
            Ok(None) => Err(self
                .count_failure(user, turn, reason, client, wrong)
                .await?),
            Err(err) => {
                self.release_turn(turn).await?;
                Err(err)
            }
        }
    }

    /// [`check_under_lockout`](Self::check_under_lockout) of a check that opens no session:
    /// the turn is given back when it passed.
    pub(crate) async fn confirm_under_lockout(
        &self,
        user: &UserRecord,
        reason: &str,
        client: &ClientInfo,
        wrong: Error,
        check: impl Future<Output = Result<bool>>,
    ) -> Result<()> {
        let (turn, ()) = self
            .check_under_lockout(user, reason, client, wrong, async {
                Ok(check.await?.then_some(()))
            })
            .await?;
        self.release_turn(turn).await
    }

    /// [`confirm_under_lockout`](Self::confirm_under_lockout) of the account's password.
    pub(crate) async fn confirm_password_under_lockout(
        &self,
        user: &UserRecord,
        password: &Password,
        reason: &str,
        client: &ClientInfo,
        wrong: Error,
    ) -> Result<()> {
        let hasher = &self.inner.hasher;
        self.confirm_under_lockout(user, reason, client, wrong, async {
            Ok(matches!(
                hasher.verify(&user.password_hash, password).await?,
                Verification::Match { .. }
            ))
        })
        .await
    }

    async fn take_turn(
        &self,
        user: &UserRecord,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<Turn> {
        let now = self.now();
        let refused = Effects::audit(self.audit(
            AuditAction::LoginFailed,
            None,
            Some(user.id),
            "user",
            client,
            json!({"reason": "account_locked", "attempt": reason}),
        ));
        // A taken turn is given back or counted right after the check, and neither of those
        // can end as a deadlock to be run again (`release_turn`, `count_failure`; a session
        // whose commit would have given it back and was a deadlock's victim gives it back on
        // its own first): so the turn does not keep the handler from being run again
        // (`store::replay`).
        let taken = crate::store::replay::unrecorded(self.inner.store.take_check_turn(
            user.id,
            now,
            self.lockout_rule(),
            refused,
        ))
        .await?;
        match taken {
            CheckTurn::Granted { slot } => Ok(Turn {
                user_id: user.id,
                slot,
            }),
            CheckTurn::Refused { until } => {
                tracing::info!(reason = "account_locked", attempt = reason, "check refused");
                Err(Error::AccountLocked { until })
            }
        }
    }

    /// Gives back the turn of a check that passed: it undoes what `take_turn` did, and is not
    /// counted either. A deadlock here is a plain 503: the turn is still taken, so the handler
    /// must not run again.
    pub(crate) async fn release_turn(&self, turn: Turn) -> Result<()> {
        let store = &self.inner.store;
        crate::store::replay::unrecorded(store.release_check_turn(
            turn.user_id,
            turn.slot,
            self.lockout_rule(),
        ))
        .await
        .map_err(Error::not_to_be_run_again)
    }

    /// The turn of a check that passed, as the store gives it back in the commit that opens a
    /// session ([`NewSession::passed_check`](crate::store::NewSession::passed_check)): the same
    /// change as [`release_turn`](Self::release_turn).
    pub(crate) fn passed_check(&self, turn: Turn) -> PassedCheck {
        PassedCheck {
            slot: turn.slot,
            ends_lock: turn.slot >= self.lockout_rule().max_failures,
        }
    }

    /// Records a failed check, audited; the error to answer: `AccountLocked` when this failure
    /// completed the lock (its mail, notification and audit row written with it), else `wrong`.
    async fn count_failure(
        &self,
        user: &UserRecord,
        turn: Turn,
        reason: &str,
        client: &ClientInfo,
        wrong: Error,
    ) -> Result<Error> {
        let now = self.now();
        let rule = self.lockout_rule();
        let failed = self.audit(
            AuditAction::LoginFailed,
            None,
            Some(user.id),
            "user",
            client,
            json!({"reason": reason}),
        );
        let until = (now + rule.lock_for).format(&Rfc3339).unwrap_or_default();
        let lock_mail = templates::account_locked(
            &self.inner.config.mail,
            &user.email,
            &display_name(user),
            &until,
        );
        let lock_effects = Effects::audit(self.audit(
            AuditAction::AccountLocked,
            None,
            Some(user.id),
            "user",
            client,
            json!({"until": until, "failures": rule.max_failures}),
        ))
        .with_mail(self.outbox(MailKind::AccountLocked, &lock_mail)?)
        .with_notification(self.notification(
            user.id,
            NotificationType::SecurityAlert,
            "Account locked",
            &format!("Too many failed sign-in attempts: your account is locked until {until}."),
            json!({"until": until, "ipAddress": client.ip}),
        ));
        let outcome = self
            .inner
            .store
            .record_check_failure(
                user.id,
                turn.slot,
                now,
                rule,
                Effects::audit(failed),
                lock_effects,
            )
            .await
            .map_err(Error::not_to_be_run_again)?;
        tracing::info!(reason, "credential check failed");
        if let (true, Some(until)) = (outcome.newly_locked, outcome.locked_until) {
            self.wake_mail();
            self.inner
                .lockouts
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::warn!(user_id = %user.id, "account locked after repeated failures");
            return Ok(Error::AccountLocked { until });
        }
        Ok(wrong)
    }
}
