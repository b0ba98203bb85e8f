//! TOTP two-factor authentication: setup, enabling with backup codes, disabling, step-up
//! checks, backup-code regeneration, and the second step of a login (SPEC §5, §6).
//!
//! The shared secret is sealed at rest under the configured key ring ([`crate::Config`]'s
//! encryption keys); backup codes are stored as SHA-256 digests (80 random bits each, so a digest
//! is as strong as a slow hash here and can be looked up atomically). A TOTP time step is accepted
//! once per user: the store refuses a step not newer than the last one used, so a code cannot be
//! replayed even by two racing requests.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;
pub mod totp;

use crate::auth::lockout::MAX_CHALLENGE_ATTEMPTS;
use crate::auth::{AuthenticatedUser, LoginSuccess};
use crate::domain::AuditAction;
use crate::error::{ConflictKind, Error, FieldError, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::secret::{ChallengeToken, Password, TokenDigest};
use crate::store::{
    Effects, NewOneTimeToken, Timestamp, TokenPurpose, TwoFactorRecord, UserRecord,
};
use serde_json::json;
use std::fmt;
use totp::TotpSecret;

/// The sealing domain of TOTP secrets.
const SEALING_LABEL: &str = "totp";

/// What `GET /2fa/status` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwoFactorStatus {
    /// Two-factor is required at login.
    pub enabled: bool,
    /// A setup was started and awaits its first code.
    pub pending_setup: bool,
    /// When it was enabled.
    pub enabled_at: Option<Timestamp>,
    /// Backup codes not yet used.
    pub backup_codes_remaining: u32,
}

/// A new secret for the user's authenticator app.
#[derive(Clone)]
pub struct TwoFactorSetup {
    /// Base32 secret, for typing into an app.
    pub secret: String,
    /// `otpauth://` URL (what the QR code holds).
    pub otpauth_url: String,
    /// PNG QR code as a `data:` URL.
    pub qr_code: String,
}

impl fmt::Debug for TwoFactorSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TwoFactorSetup([REDACTED])")
    }
}

/// Backup codes in clear: shown to their owner once, never stored so.
#[derive(Clone)]
pub struct BackupCodes(pub Vec<String>);

impl fmt::Debug for BackupCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BackupCodes([{} REDACTED])", self.0.len())
    }
}

pub use crate::auth::TwoFactorChallenge;

/// The second factors a challenge accepts.
pub const CHALLENGE_METHODS: &[&str] = &["totp", "backup_code"];

/// [`CHALLENGE_METHODS`] of a login challenge whose user has a passkey (`passkeys/`).
pub const CHALLENGE_METHODS_WITH_PASSKEY: &[&str] = &["totp", "backup_code", "passkey"];

fn required_code(field: &str, code: &str) -> Result<()> {
    if code.trim().is_empty() {
        return Err(Error::Validation(vec![FieldError::new(
            field,
            "is required",
        )]));
    }
    Ok(())
}

impl UserManager {
    fn totp_ring(&self) -> crate::secret::SealingKeyRing {
        self.inner.config.sealing_ring(SEALING_LABEL)
    }

    fn open_secret(&self, record: &TwoFactorRecord) -> Result<TotpSecret> {
        self.totp_ring()
            .open(&record.sealed_secret)
            .map(TotpSecret::from_bytes)
            .ok_or_else(|| {
                Error::internal("a TOTP secret cannot be opened: is its encryption key configured?")
            })
    }

    fn enabled_two_factor(record: Option<TwoFactorRecord>) -> Result<TwoFactorRecord> {
        record
            .filter(|r| r.enabled)
            .ok_or(Error::TwoFactorNotEnabled)
    }

    fn two_factor_mail(
        &self,
        user: &UserRecord,
        what: &str,
    ) -> Result<crate::store::OutboxMessage> {
        // The one greeting rule: no name for an address not yet verified.
        let name = crate::auth::display_name(user);
        let mail = templates::two_factor_changed(&self.inner.config.mail, &user.email, &name, what);
        self.outbox(MailKind::TwoFactorChanged, &mail)
    }

    fn two_factor_notice(
        &self,
        user_id: uuid::Uuid,
        what: &str,
    ) -> crate::store::NotificationRecord {
        self.notification(
            user_id,
            crate::store::NotificationType::SecurityAlert,
            "Two-factor authentication changed",
            &format!("Two-factor authentication: {what}."),
            json!({"change": what}),
        )
    }

    /// New backup codes, the digests to store, and the effects of handing them out (audit row
    /// `action`, mail and notification saying `what` happened).
    fn backup_codes_change(
        &self,
        user: &UserRecord,
        action: AuditAction,
        what: &str,
        client: &ClientInfo,
    ) -> Result<(BackupCodes, Vec<TokenDigest>, Effects)> {
        let codes = totp::generate_backup_codes(self.inner.config.backup_code_count);
        let digests: Vec<_> = codes
            .iter()
            .filter_map(|c| totp::normalize_backup_code(c))
            .map(|c| TokenDigest::of(&c))
            .collect();
        let effects = Effects::audit(self.audit(
            action,
            Some(user.id),
            Some(user.id),
            "two_factor",
            client,
            json!({"backupCodes": digests.len()}),
        ))
        .with_mail(self.two_factor_mail(user, what)?)
        .with_notification(self.two_factor_notice(user.id, what));
        Ok((BackupCodes(codes), digests, effects))
    }

    /// Checks a second factor and uses it up: a TOTP code (its time step is then spent) or a
    /// backup code (then gone). False when wrong, expired or already used.
    async fn use_second_factor(
        &self,
        user: &UserRecord,
        record: &TwoFactorRecord,
        code: &str,
        client: &ClientInfo,
    ) -> Result<bool> {
        let store = &self.inner.store;
        if totp::looks_like_totp(code) {
            let secret = self.open_secret(record)?;
            let Some(step) = totp::verify(&secret, code, self.now()) else {
                return Ok(false);
            };
            let accepted = store.use_totp_step(user.id, step).await?;
            let ring = self.totp_ring();
            if accepted && ring.is_stale(&record.sealed_secret) {
                // Move the secret to the current key, so rotated-out keys can be retired.
                let resealed = ring.seal(secret.as_bytes());
                store
                    .reseal_two_factor_secret(user.id, &record.sealed_secret, resealed)
                    .await?;
            }
            return Ok(accepted);
        }
        let Some(normalized) = totp::normalize_backup_code(code) else {
            return Ok(false);
        };
        let audit = self.audit(
            AuditAction::BackupCodeUsed,
            Some(user.id),
            Some(user.id),
            "two_factor",
            client,
            json!({"remaining": record.backup_codes_remaining.saturating_sub(1)}),
        );
        store
            .use_backup_code(
                user.id,
                &TokenDigest::of(&normalized),
                self.now(),
                Effects::audit(audit),
            )
            .await
    }

    /// Whether the caller has two-factor enabled, pending, and how many backup codes remain.
    pub async fn two_factor_status(&self, auth: &AuthenticatedUser) -> Result<TwoFactorStatus> {
        self.ensure_not_api_key(auth)?;
        let record = self.inner.store.two_factor(auth.user.id).await?;
        Ok(match record {
            Some(r) => TwoFactorStatus {
                enabled: r.enabled,
                pending_setup: !r.enabled,
                enabled_at: r.enabled_at,
                backup_codes_remaining: if r.enabled {
                    r.backup_codes_remaining
                } else {
                    0
                },
            },
            None => TwoFactorStatus {
                enabled: false,
                pending_setup: false,
                enabled_at: None,
                backup_codes_remaining: 0,
            },
        })
    }

    /// Starts (or restarts) a setup: a new secret for the caller's authenticator app. Two-factor
    /// is on only once [`UserManager::enable_two_factor`] confirms a first code.
    #[tracing::instrument(skip_all)]
    pub async fn setup_two_factor(&self, auth: &AuthenticatedUser) -> Result<TwoFactorSetup> {
        self.ensure_not_api_key(auth)?;
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let secret = TotpSecret::generate();
        let sealed = self.totp_ring().seal(secret.as_bytes());
        self.inner
            .store
            .begin_two_factor_setup(auth.user.id, sealed, self.now())
            .await
            .map_err(|e| match e {
                Error::Conflict(ConflictKind::Other) => Error::TwoFactorAlreadyEnabled,
                other => other,
            })?;
        let issuer = self.inner.config.two_factor_issuer();
        let otpauth_url = totp::otpauth_url(&secret, issuer, &auth.user.email)?;
        let qr_code = totp::qr_code_data_url(&secret, issuer, &auth.user.email)?;
        Ok(TwoFactorSetup {
            secret: secret.base32(),
            otpauth_url,
            qr_code,
        })
    }

    /// Confirms the pending setup with a first code; returns the backup codes (shown once).
    #[tracing::instrument(skip_all)]
    pub async fn enable_two_factor(
        &self,
        auth: &AuthenticatedUser,
        code: &str,
        client: &ClientInfo,
    ) -> Result<BackupCodes> {
        self.ensure_not_api_key(auth)?;
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        required_code("code", code)?;
        let user = &auth.user;
        let record = match self.inner.store.two_factor(user.id).await? {
            Some(r) if r.enabled => return Err(Error::TwoFactorAlreadyEnabled),
            Some(r) => r,
            None => return Err(Error::TwoFactorNotEnabled),
        };
        let secret = self.open_secret(&record)?;
        let step = totp::verify(&secret, code, self.now()).ok_or(Error::InvalidTwoFactorCode)?;
        let (codes, digests, effects) =
            self.backup_codes_change(user, AuditAction::TwoFactorEnabled, "enabled", client)?;
        self.inner
            .store
            .enable_two_factor(user.id, step, digests, self.now(), effects)
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::TwoFactorAlreadyEnabled,
                Error::NotFound(_) => Error::TwoFactorNotEnabled,
                other => other,
            })?;
        self.wake_mail();
        Ok(codes)
    }

    /// Turns two-factor off, proven by a current code (TOTP or backup) or the password.
    #[tracing::instrument(skip_all)]
    pub async fn disable_two_factor(
        &self,
        auth: &AuthenticatedUser,
        code: Option<&str>,
        password: Option<&Password>,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let user = &auth.user;
        let record = Self::enabled_two_factor(self.inner.store.two_factor(user.id).await?)?;
        match (code.filter(|c| !c.trim().is_empty()), password) {
            (_, Some(password)) if !password.expose().is_empty() => {
                self.confirm_password_under_lockout(
                    user,
                    password,
                    "invalid_password_confirmation",
                    client,
                    Error::IncorrectPassword,
                )
                .await?;
            }
            (Some(code), _) => {
                self.confirm_code(user, &record, code, client).await?;
            }
            _ => {
                return Err(Error::Validation(vec![FieldError::new(
                    "code",
                    "a current code or the password is required",
                )]));
            }
        }
        let effects = Effects::audit(self.audit(
            AuditAction::TwoFactorDisabled,
            Some(user.id),
            Some(user.id),
            "two_factor",
            client,
            json!({}),
        ))
        .with_mail(self.two_factor_mail(user, "disabled")?)
        .with_notification(self.two_factor_notice(user.id, "disabled"));
        self.inner
            .store
            .disable_two_factor(user.id, self.now(), effects)
            .await?;
        self.wake_mail();
        Ok(())
    }

    /// A step-up check: the caller proves possession of the second factor again.
    #[tracing::instrument(skip_all)]
    pub async fn verify_two_factor(
        &self,
        auth: &AuthenticatedUser,
        code: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        // A step-up check spends the user's codes and counts toward their lockout.
        self.ensure_not_impersonated(auth)?;
        required_code("code", code)?;
        let record = Self::enabled_two_factor(self.inner.store.two_factor(auth.user.id).await?)?;
        self.confirm_code(&auth.user, &record, code, client).await
    }

    /// A signed-in user's code (step-up, disable, backup-code regeneration), held to the
    /// account's lockout like a password: a wrong one counts, none is checked during a lock.
    async fn confirm_code(
        &self,
        user: &UserRecord,
        record: &TwoFactorRecord,
        code: &str,
        client: &ClientInfo,
    ) -> Result<()> {
        self.confirm_under_lockout(
            user,
            "invalid_2fa_code",
            client,
            Error::InvalidTwoFactorCode,
            self.use_second_factor(user, record, code, client),
        )
        .await
    }

    /// Replaces every backup code, proven by a current TOTP code (or a backup code).
    #[tracing::instrument(skip_all)]
    pub async fn regenerate_backup_codes(
        &self,
        auth: &AuthenticatedUser,
        code: &str,
        client: &ClientInfo,
    ) -> Result<BackupCodes> {
        self.ensure_not_api_key(auth)?;
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        required_code("code", code)?;
        let user = &auth.user;
        let record = Self::enabled_two_factor(self.inner.store.two_factor(user.id).await?)?;
        self.confirm_code(user, &record, code, client).await?;
        let (codes, digests, effects) = self.backup_codes_change(
            user,
            AuditAction::BackupCodesRegenerated,
            "new backup codes",
            client,
        )?;
        self.inner
            .store
            .replace_backup_codes(user.id, digests, self.now(), effects)
            .await?;
        self.wake_mail();
        Ok(codes)
    }

    /// Issues the challenge a password check of a user with two-factor answers instead of
    /// its result (a login's tokens, a reactivation, a recovery), for that `purpose` only.
    pub(crate) async fn issue_two_factor_challenge(
        &self,
        user: &UserRecord,
        purpose: TokenPurpose,
    ) -> Result<TwoFactorChallenge> {
        let now = self.now();
        let ttl = self.inner.config.two_factor_challenge_ttl;
        let token = ChallengeToken::generate();
        self.inner
            .store
            .issue_one_time_token(
                NewOneTimeToken {
                    digest: token.digest(),
                    user_id: user.id,
                    purpose,
                    created_at: now,
                    expires_at: now + ttl,
                },
                Effects::none(),
            )
            .await?;
        // A passkey answers only a login's challenge (`POST /auth/login/2fa`).
        let passkey = purpose == TokenPurpose::LoginChallenge
            && !self.inner.store.passkeys(user.id).await?.is_empty();
        Ok(TwoFactorChallenge {
            challenge_token: token,
            expires_in: ttl.whole_seconds(),
            methods: if passkey {
                CHALLENGE_METHODS_WITH_PASSKEY
            } else {
                CHALLENGE_METHODS
            },
        })
    }

    /// Answers a two-factor challenge of `purpose` with a TOTP or backup code: the check takes
    /// a turn of the account's lockout, and the challenge spends one of its
    /// [`MAX_CHALLENGE_ATTEMPTS`] before the code is compared (an error gives the turn back),
    /// so a concurrent burst checks no more codes than either bound. Returns the owner once
    /// this right code has used the challenge up; the account's turn is given back.
    pub(crate) async fn answer_two_factor_challenge(
        &self,
        challenge: &str,
        code: &str,
        purpose: TokenPurpose,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let mut errors = Vec::new();
        if challenge.trim().is_empty() {
            errors.push(FieldError::new("challengeToken", "is required"));
        }
        if code.trim().is_empty() {
            errors.push(FieldError::new("code", "is required"));
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        let store = &self.inner.store;
        let now = self.now();
        let digest = ChallengeToken::from_presented(challenge.trim()).digest();
        let pending = store
            .one_time_token(&digest, purpose)
            .await?
            .filter(|t| t.used_at.is_none() && t.expires_at > now)
            .ok_or(Error::InvalidTwoFactorChallenge)?;
        let user = store
            .user_by_id(pending.user_id)
            .await?
            // Only a recovery's challenge belongs to a deleted account.
            .filter(|u| u.deleted_at.is_none() || purpose == TokenPurpose::RecoveryChallenge)
            .ok_or(Error::InvalidTwoFactorChallenge)?;
        if purpose == TokenPurpose::LoginChallenge {
            self.ensure_may_log_in(&user)?;
        }
        let record = store
            .two_factor(user.id)
            .await?
            .filter(|r| r.enabled)
            .ok_or(Error::InvalidTwoFactorChallenge)?;
        // The account's turn first, so a locked account answers 423 as at the first step;
        // then the challenge's own attempt, spent in the statement that finds it unused.
        let (turn, ()) = self
            .check_under_lockout(
                &user,
                "invalid_2fa_code",
                client,
                Error::InvalidTwoFactorCode,
                async {
                    if store
                        .claim_challenge_attempt(&digest, purpose, now, MAX_CHALLENGE_ATTEMPTS)
                        .await?
                        != Some(user.id)
                    {
                        return Err(Error::InvalidTwoFactorChallenge);
                    }
                    Ok(self
                        .use_second_factor(&user, &record, code, client)
                        .await?
                        .then_some(()))
                },
            )
            .await?;
        // The right code gives its turn back either way; a concurrent right code may have used
        // the challenge first.
        let used = store.use_one_time_token(&digest, purpose, now).await;
        self.release_turn(turn).await?;
        used.map_err(|_| Error::InvalidTwoFactorChallenge)?;
        Ok(user)
    }

    /// The second step of a login: a challenge from the first step and a TOTP or backup code.
    /// A wrong code counts towards the lockout like a wrong password.
    #[tracing::instrument(skip_all)]
    pub async fn complete_two_factor_login(
        &self,
        challenge: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<LoginSuccess> {
        let user = self
            .answer_two_factor_challenge(challenge, code, TokenPurpose::LoginChallenge, client)
            .await?;
        self.open_session(user, None, client).await
    }
}
