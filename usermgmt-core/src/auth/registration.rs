//! Registration, address verification and the availability checks.

use crate::auth::Registration;
use crate::domain::AuditAction;
use crate::domain::{Email, Username, clean_name};
use crate::error::{ConflictKind, Error, FieldError, Result};
use crate::mail::MailKind;
use crate::mail::templates;
use crate::manager::{ClientInfo, UserManager};
use crate::secret::{Password, VerificationToken};
use crate::store::{
    DEFAULT_ROLE, Effects, NewOneTimeToken, NewUser, NotificationType, TokenPurpose, UserRecord,
};
use serde_json::json;
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
    pub(super) fn verification_mail(
        &self,
        to: &str,
        name: &str,
        token: &VerificationToken,
    ) -> Result<crate::store::OutboxMessage> {
        let cfg = &self.inner.config;
        let email = templates::verify_email(
            &cfg.mail,
            &cfg.confirmation_link_base(),
            to,
            name,
            token.expose(),
            cfg.verification_token_ttl.whole_hours(),
        );
        self.outbox(MailKind::VerifyEmail, &email)
    }

    /// Registers a user: validates every rule, hashes the password, stores the user with the
    /// default role, a verification token, an audit row and the verification mail at once.
    /// A reserved username ([`crate::domain::RESERVED_USERNAMES`]) is taken.
    #[tracing::instrument(skip_all)]
    pub async fn register(&self, input: Registration, client: &ClientInfo) -> Result<UserRecord> {
        self.register_user(input, NameChoice::Given, client).await
    }

    /// Registers a user as the first seed did, without a username (`input.username` is
    /// ignored): the username is derived from the email's local part
    /// ([`Username::derived_from_email`]); when that name is taken or reserved, a short random
    /// suffix is added, up to eight tries in all (then `USERNAME_TAKEN`). The store's unique
    /// constraint decides each try, so two registrations racing for one name both succeed
    /// under different names. Every other rule, the mail and the audit row are
    /// [`Self::register`]'s.
    #[tracing::instrument(skip_all)]
    pub async fn register_with_derived_username(
        &self,
        input: Registration,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        self.register_user(input, NameChoice::Derived, client).await
    }

    async fn register_user(
        &self,
        input: Registration,
        choice: NameChoice,
        client: &ClientInfo,
    ) -> Result<UserRecord> {
        let mut errors = Vec::new();
        let email = Email::parse(&input.email)
            .map_err(|m| errors.push(FieldError::new("email", m)))
            .ok();
        let username = match choice {
            NameChoice::Given => Username::parse(&input.username)
                .map_err(|m| errors.push(FieldError::new("username", m)))
                .ok(),
            // The base name stands for the username in the password rule: a suffix, if one is
            // needed, only makes them differ more.
            NameChoice::Derived => email
                .as_ref()
                .map(|e| Username::derived_from_email(e, None)),
        };
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
        if choice == NameChoice::Given
            && (username.is_reserved()
                || self
                    .inner
                    .store
                    .user_by_username(username.as_str())
                    .await?
                    .is_some())
        {
            return Err(Error::Conflict(ConflictKind::Username));
        }
        let password_hash = self.inner.hasher.hash(&password).await?;
        let now = self.now();
        let id = Uuid::now_v7();
        let token = VerificationToken::generate();
        let mut candidate = username;
        let mut attempt = 1;
        let user = loop {
            if candidate.is_reserved() {
                candidate = Username::derived_from_email(&email, Some(&random_suffix()));
            }
            let new_user = NewUser {
                id,
                email: email.as_str().to_owned(),
                username: candidate.as_str().to_owned(),
                password_hash: password_hash.clone(),
                first_name: first_name.clone(),
                last_name: last_name.clone(),
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
            match self.inner.store.create_user(new_user, effects).await {
                Err(Error::Conflict(ConflictKind::Username))
                    if choice == NameChoice::Derived && attempt < DERIVED_USERNAME_ATTEMPTS =>
                {
                    attempt += 1;
                    candidate = Username::derived_from_email(&email, Some(&random_suffix()));
                }
                created => break created?,
            }
        };
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
        if username.is_reserved() {
            return Err(Error::Conflict(ConflictKind::Username));
        }
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

    /// Whether a username is free to register (a reserved one never is).
    pub async fn username_available(&self, username: &str) -> Result<bool> {
        let username = Username::parse(username).map_err(|m| Error::invalid("username", m))?;
        Ok(!username.is_reserved()
            && self
                .inner
                .store
                .user_by_username(username.as_str())
                .await?
                .is_none())
    }
}

/// How many names a registration without a username tries (the base name, then suffixed
/// ones) before it answers `USERNAME_TAKEN`. With 36⁴ suffixes, running out means something
/// other than bad luck.
pub(crate) const DERIVED_USERNAME_ATTEMPTS: u32 = 8;

/// Where a new account's username comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum NameChoice {
    /// The client's, parsed; taken or reserved is a conflict.
    Given,
    /// Derived from the email address, suffixed until the store takes it.
    Derived,
}

/// Four random characters of `[a-z0-9]` for a derived username that collided. Not a secret:
/// it only has to make a second collision unlikely.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 4];
    rand::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}
