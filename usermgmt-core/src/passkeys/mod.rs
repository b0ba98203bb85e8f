//! Passkeys (WebAuthn): registering a passkey for a signed-in user, usernameless sign-in with
//! one, and listing, renaming and removing them. The ceremonies are `webauthn-rs`'s (user
//! verification required, attestation none); their server half is kept in the store, sealed,
//! for five minutes, and is taken out once, so a replayed answer or a reused ceremony fails.
//!
//! A passkey sign-in is verified by the authenticator itself (user verification), so it is a
//! complete sign-in: it satisfies two-factor.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::{AuthenticatedUser, LoginSuccess, display_name};
use crate::domain::AuditAction;
use crate::error::FieldError;
use crate::error::{ConflictKind, Error, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::secret::{ChallengeToken, TokenDigest};
use crate::store::{Effects, NotificationType, TokenPurpose, UserRecord};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use store::{CeremonyKind, CeremonyRecord, PasskeyRecord};
use time::Duration;
use uuid::Uuid;
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Webauthn, WebauthnError,
};

/// How long a started ceremony is accepted.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);

/// The longest name a passkey may have, in characters.
pub const MAX_NAME_CHARS: usize = 64;

pub use crate::config::PasskeyConfig;

/// A started ceremony: its id (sent back with the answer) and the options to hand to
/// `navigator.credentials.create` or `.get` (`publicKey`, binary values base64url).
#[derive(Debug, Clone)]
pub struct PasskeyOptions {
    /// The ceremony id.
    pub ceremony_id: Uuid,
    /// The `publicKey` member of the browser call's options.
    pub public_key: Value,
}

/// The name an authenticator shows beside the account in its own picker: the person's name as
/// they gave it, else the username. Never empty (WebAuthn requires a display name), unlike a
/// mail greeting, which stays empty until the address is verified: only the account's owner
/// sees this one, on their own device.
fn authenticator_display_name(user: &UserRecord) -> String {
    match (user.first_name.as_deref(), user.last_name.as_deref()) {
        (Some(first), Some(last)) => format!("{first} {last}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => user.username.clone(),
    }
}

impl UserManager {
    fn webauthn(&self) -> Result<Webauthn> {
        self.inner
            .config
            .passkeys
            .webauthn()
            .map_err(Error::internal)
    }

    /// Keeps a ceremony's state, sealed, for [`CEREMONY_TTL`]; its id.
    async fn keep_ceremony(
        &self,
        kind: CeremonyKind,
        user_id: Option<Uuid>,
        state: &impl Serialize,
    ) -> Result<Uuid> {
        let plain = serde_json::to_vec(state).map_err(Error::internal)?;
        let now = self.now();
        let id = Uuid::new_v4();
        self.inner
            .store
            .start_ceremony(
                CeremonyRecord {
                    id,
                    kind,
                    user_id,
                    sealed_state: self
                        .inner
                        .config
                        .sealing_ring("passkey-ceremony")
                        .seal(&plain),
                    expires_at: now + CEREMONY_TTL,
                },
                now,
            )
            .await?;
        Ok(id)
    }

    /// Takes a ceremony of `kind` out of the store, once; `InvalidPasskey` when it is unknown,
    /// used, expired or of another kind.
    async fn take_ceremony<S: DeserializeOwned>(
        &self,
        id: Uuid,
        kind: CeremonyKind,
    ) -> Result<(CeremonyRecord, S)> {
        let ceremony = self
            .inner
            .store
            .take_ceremony(id, kind, self.now())
            .await?
            .ok_or(Error::InvalidPasskey)?;
        let plain = self
            .inner
            .config
            .sealing_ring("passkey-ceremony")
            .open(&ceremony.sealed_state)
            .ok_or(Error::InvalidPasskey)?;
        let state = serde_json::from_slice(&plain).map_err(Error::internal)?;
        Ok((ceremony, state))
    }

    /// The caller's passkeys, oldest first.
    pub async fn passkeys(&self, auth: &AuthenticatedUser) -> Result<Vec<PasskeyRecord>> {
        self.ensure_not_api_key(auth)?;
        self.inner.store.passkeys(auth.user.id).await
    }

    /// Starts registering a passkey for the caller: a resident (discoverable) key with user
    /// verification, the caller's existing passkeys excluded. Not on an impersonation token.
    #[tracing::instrument(skip_all)]
    pub async fn start_passkey_registration(
        &self,
        auth: &AuthenticatedUser,
    ) -> Result<PasskeyOptions> {
        self.ensure_not_api_key(auth)?;
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let user = &auth.user;
        let existing = self.inner.store.passkeys(user.id).await?;
        let exclude = existing
            .iter()
            .map(|p| {
                URL_SAFE_NO_PAD
                    .decode(&p.credential_id)
                    .map_err(Error::internal)
            })
            .collect::<Result<Vec<_>>>()?;
        let (challenge, state) = self
            .webauthn()?
            .start_passkey_registration(
                user.id,
                &user.username,
                &authenticator_display_name(user),
                (!exclude.is_empty()).then_some(exclude),
            )
            .map_err(Error::internal)?;
        let mut public_key =
            serde_json::to_value(&challenge.public_key).map_err(Error::internal)?;
        // webauthn-rs asks for a resident key only opportunistically; usernameless sign-in
        // needs one, so it is required here (the browser refuses authenticators without).
        if let Some(selection) = public_key
            .get_mut("authenticatorSelection")
            .and_then(Value::as_object_mut)
        {
            selection.insert("residentKey".to_owned(), json!("required"));
            selection.insert("requireResidentKey".to_owned(), json!(true));
        }
        let ceremony_id = self
            .keep_ceremony(CeremonyKind::Registration, Some(user.id), &state)
            .await?;
        Ok(PasskeyOptions {
            ceremony_id,
            public_key,
        })
    }

    /// Completes a registration with the authenticator's answer (`credential`, the
    /// `PublicKeyCredential` of `navigator.credentials.create` in WebAuthn's JSON form): the
    /// new passkey. `InvalidPasskey` for an unknown, used or expired ceremony, one of another
    /// user, or an answer that does not verify (origin, RP id, challenge, signature, user
    /// verification); `Conflict` when the credential is registered already.
    #[tracing::instrument(skip_all)]
    pub async fn finish_passkey_registration(
        &self,
        auth: &AuthenticatedUser,
        ceremony_id: Uuid,
        credential: Value,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<PasskeyRecord> {
        self.ensure_not_api_key(auth)?;
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let name = passkey_name(name)?;
        let answer: RegisterPublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| Error::invalid("credential", "is not a WebAuthn registration answer"))?;
        let (ceremony, state): (_, PasskeyRegistration) = self
            .take_ceremony(ceremony_id, CeremonyKind::Registration)
            .await?;
        if ceremony.user_id != Some(auth.user.id) {
            return Err(Error::InvalidPasskey);
        }
        let passkey = self
            .webauthn()?
            .finish_passkey_registration(&answer, &state)
            .map_err(|e| refused("registration", &e))?;
        let now = self.now();
        let facts = CredentialFacts::of(&passkey)?;
        let transports = answer
            .response
            .transports
            .iter()
            .flatten()
            .filter_map(|t| serde_json::to_value(t).ok())
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect();
        let record = PasskeyRecord {
            id: Uuid::now_v7(),
            user_id: auth.user.id,
            credential_id: URL_SAFE_NO_PAD.encode(passkey.cred_id()),
            credential: facts.json,
            name: name.unwrap_or_else(|| "Passkey".to_owned()),
            sign_count: facts.counter,
            backed_up: facts.backed_up,
            transports,
            created_at: now,
            last_used_at: None,
        };
        let details = json!({"passkeyId": record.id, "name": record.name});
        let effects = self
            .passkey_change_effects(&auth.user, "added", &record.name, client)?
            .with_audit(self.audit(
                AuditAction::PasskeyRegistered,
                Some(auth.actor_id()),
                Some(auth.user.id),
                "passkey",
                client,
                details,
            ));
        self.inner
            .store
            .add_passkey(record.clone(), effects)
            .await
            .map_err(|e| match e {
                Error::Conflict(_) => Error::Conflict(ConflictKind::Other),
                other => other,
            })?;
        self.wake_mail();
        Ok(record)
    }

    /// Renames a passkey of the caller.
    pub async fn rename_passkey(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        name: Option<&str>,
    ) -> Result<PasskeyRecord> {
        self.ensure_not_api_key(auth)?;
        let name = passkey_name(name)?.ok_or_else(|| Error::invalid("name", "is required"))?;
        if !self
            .inner
            .store
            .rename_passkey(auth.user.id, id, &name)
            .await?
        {
            return Err(Error::NotFound("passkey"));
        }
        self.inner
            .store
            .passkeys(auth.user.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(Error::NotFound("passkey"))
    }

    /// Removes a passkey of the caller. Not on an impersonation token; refused (409, decided by
    /// the store under the user's lock) when it is the last way a user without a password can
    /// sign in.
    #[tracing::instrument(skip_all)]
    pub async fn remove_passkey(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let keys = self.inner.store.passkeys(auth.user.id).await?;
        let Some(passkey) = keys.iter().find(|p| p.id == id) else {
            return Err(Error::NotFound("passkey"));
        };
        let effects = self
            .passkey_change_effects(&auth.user, "removed", &passkey.name, client)?
            .with_audit(self.audit(
                AuditAction::PasskeyRemoved,
                Some(auth.actor_id()),
                Some(auth.user.id),
                "passkey",
                client,
                json!({"passkeyId": id, "name": passkey.name}),
            ));
        if !self
            .inner
            .store
            .remove_passkey(auth.user.id, id, effects)
            .await?
        {
            return Err(Error::NotFound("passkey"));
        }
        self.wake_mail();
        Ok(())
    }

    /// Starts a usernameless sign-in: a challenge any discoverable passkey of this RP can
    /// answer. It names no user, so it reveals nothing about which accounts exist.
    #[tracing::instrument(skip_all)]
    pub async fn start_passkey_sign_in(&self) -> Result<PasskeyOptions> {
        let (challenge, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(Error::internal)?;
        let public_key = serde_json::to_value(&challenge.public_key).map_err(Error::internal)?;
        let ceremony_id = self
            .keep_ceremony(CeremonyKind::SignIn, None, &state)
            .await?;
        Ok(PasskeyOptions {
            ceremony_id,
            public_key,
        })
    }

    /// Completes a usernameless sign-in with the authenticator's assertion: a session, as a
    /// password login's. The check takes a turn of the account's lockout like a password
    /// check; a counter that went back (a cloned authenticator) is refused and audited.
    #[tracing::instrument(skip_all)]
    pub async fn finish_passkey_sign_in(
        &self,
        ceremony_id: Uuid,
        credential: Value,
        client: &ClientInfo,
    ) -> Result<LoginSuccess> {
        let assertion: PublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| Error::invalid("credential", "is not a WebAuthn assertion"))?;
        let (_, state): (_, DiscoverableAuthentication) = self
            .take_ceremony(ceremony_id, CeremonyKind::SignIn)
            .await?;
        let webauthn = self.webauthn()?;
        let (user_handle, credential_id) = webauthn
            .identify_discoverable_authentication(&assertion)
            .map_err(|e| refused("sign-in", &e))?;
        let passkey = self
            .inner
            .store
            .passkey_by_credential_id(&URL_SAFE_NO_PAD.encode(credential_id))
            .await?
            .filter(|p| p.user_id == user_handle)
            .ok_or(Error::InvalidPasskey)?;
        let user = match self.inner.store.user_by_id(passkey.user_id).await? {
            Some(user) if user.deleted_at.is_none() => user,
            _ => return Err(Error::InvalidPasskey),
        };
        let verified = self
            .verify_assertion(&user, &passkey, client, |credential| {
                webauthn.finish_discoverable_authentication_v2(&assertion, state, credential)
            })
            .await?;
        self.ensure_may_log_in(&user)?;
        self.record_sign_in(&user, &passkey, verified, client)
            .await?;
        self.open_session(user, None, client).await
    }

    /// The user of an unused, unexpired login challenge (`POST /auth/login` of a two-factor
    /// user); `InvalidTwoFactorChallenge` otherwise.
    async fn login_challenge_user(&self, challenge: &str) -> Result<(TokenDigest, UserRecord)> {
        if challenge.trim().is_empty() {
            return Err(Error::Validation(vec![FieldError::new(
                "challengeToken",
                "is required",
            )]));
        }
        let store = &self.inner.store;
        let now = self.now();
        let digest = ChallengeToken::from_presented(challenge.trim()).digest();
        let pending = store
            .one_time_token(&digest, TokenPurpose::LoginChallenge)
            .await?
            .filter(|t| t.used_at.is_none() && t.expires_at > now)
            .ok_or(Error::InvalidTwoFactorChallenge)?;
        let user = store
            .user_by_id(pending.user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(Error::InvalidTwoFactorChallenge)?;
        Ok((digest, user))
    }

    /// Starts a passkey answer to a login's two-factor challenge: options allowing that user's
    /// passkeys only. `InvalidPasskey` when the user has none.
    #[tracing::instrument(skip_all)]
    pub async fn start_second_factor_passkey(&self, challenge: &str) -> Result<PasskeyOptions> {
        let (_, user) = self.login_challenge_user(challenge).await?;
        let credentials = self
            .inner
            .store
            .passkeys(user.id)
            .await?
            .iter()
            .map(|p| serde_json::from_str::<Passkey>(&p.credential).map_err(Error::internal))
            .collect::<Result<Vec<_>>>()?;
        if credentials.is_empty() {
            return Err(Error::InvalidPasskey);
        }
        let (challenge, state) = self
            .webauthn()?
            .start_passkey_authentication(&credentials)
            .map_err(Error::internal)?;
        let public_key = serde_json::to_value(&challenge.public_key).map_err(Error::internal)?;
        let ceremony_id = self
            .keep_ceremony(CeremonyKind::SecondFactor, Some(user.id), &state)
            .await?;
        Ok(PasskeyOptions {
            ceremony_id,
            public_key,
        })
    }

    /// The second step of a login answered with a passkey of the challenge's user instead of
    /// a code: the session. The passkey check takes a turn of the lockout like a code; the
    /// challenge is used up by the right answer.
    #[tracing::instrument(skip_all)]
    pub async fn complete_two_factor_login_with_passkey(
        &self,
        challenge: &str,
        ceremony_id: Uuid,
        credential: Value,
        client: &ClientInfo,
    ) -> Result<LoginSuccess> {
        let assertion: PublicKeyCredential = serde_json::from_value(credential)
            .map_err(|_| Error::invalid("credential", "is not a WebAuthn assertion"))?;
        let (digest, user) = self.login_challenge_user(challenge).await?;
        self.ensure_may_log_in(&user)?;
        let (ceremony, state): (_, PasskeyAuthentication) = self
            .take_ceremony(ceremony_id, CeremonyKind::SecondFactor)
            .await?;
        if ceremony.user_id != Some(user.id) {
            return Err(Error::InvalidPasskey);
        }
        let passkey = self
            .inner
            .store
            .passkey_by_credential_id(&URL_SAFE_NO_PAD.encode(assertion.get_credential_id()))
            .await?
            .filter(|p| p.user_id == user.id)
            .ok_or(Error::InvalidPasskey)?;
        let webauthn = self.webauthn()?;
        let verified = self
            .verify_assertion(&user, &passkey, client, |_| {
                webauthn.finish_passkey_authentication(&assertion, &state)
            })
            .await?;
        self.inner
            .store
            .use_one_time_token(&digest, TokenPurpose::LoginChallenge, self.now())
            .await
            .map_err(|_| Error::InvalidTwoFactorChallenge)?;
        self.record_sign_in(&user, &passkey, verified, client)
            .await?;
        self.open_session(user, None, client).await
    }

    /// Checks an assertion of `passkey` under the account's lockout (the turn is taken before
    /// the check runs, as for a password): the passkey with its new counter and flags. A
    /// counter regression is audited before it is refused.
    async fn verify_assertion(
        &self,
        user: &UserRecord,
        passkey: &PasskeyRecord,
        client: &ClientInfo,
        check: impl FnOnce(&Passkey) -> std::result::Result<AuthenticationResult, WebauthnError>,
    ) -> Result<Passkey> {
        let mut credential: Passkey =
            serde_json::from_str(&passkey.credential).map_err(Error::internal)?;
        let (turn, result) = self
            .check_under_lockout(
                user,
                "invalid_passkey",
                client,
                Error::InvalidPasskey,
                async {
                    match check(&credential) {
                        Ok(result) if result.user_verified() => Ok(Some(result)),
                        Ok(_) => Ok(None),
                        Err(WebauthnError::CredentialPossibleCompromise) => {
                            tracing::warn!(passkey = %passkey.id, "passkey counter went back");
                            self.inner
                                .store
                                .record_effects(Effects::audit(self.audit(
                                    AuditAction::PasskeyCounterRegression,
                                    None,
                                    Some(user.id),
                                    "passkey",
                                    client,
                                    json!({"passkeyId": passkey.id, "storedCount": passkey.sign_count}),
                                )))
                                .await?;
                            Ok(None)
                        }
                        Err(e) => {
                            tracing::info!(error = %e, "passkey assertion refused");
                            Ok(None)
                        }
                    }
                },
            )
            .await?;
        self.release_turn(turn).await?;
        credential.update_credential(&result);
        Ok(credential)
    }

    /// Stores a verified sign-in's new counter and flags with its audit row; `InvalidPasskey`
    /// when another sign-in with the same passkey moved the counter meanwhile.
    async fn record_sign_in(
        &self,
        user: &UserRecord,
        passkey: &PasskeyRecord,
        verified: Passkey,
        client: &ClientInfo,
    ) -> Result<()> {
        let facts = CredentialFacts::of(&verified)?;
        let used = PasskeyRecord {
            credential: facts.json,
            sign_count: facts.counter,
            backed_up: facts.backed_up,
            last_used_at: Some(self.now()),
            ..passkey.clone()
        };
        let effects = Effects::audit(self.audit(
            AuditAction::PasskeyLogin,
            Some(user.id),
            Some(user.id),
            "passkey",
            client,
            json!({"passkeyId": passkey.id}),
        ));
        if !self
            .inner
            .store
            .record_passkey_use(&used, passkey.sign_count, effects)
            .await?
        {
            return Err(Error::InvalidPasskey);
        }
        Ok(())
    }

    /// A passkey was added or removed: the owner is told in the app and by mail.
    fn passkey_change_effects(
        &self,
        user: &UserRecord,
        what: &str,
        name: &str,
        client: &ClientInfo,
    ) -> Result<Effects> {
        let mail = crate::mail::templates::passkey_changed(
            &self.inner.config.mail,
            &user.email,
            &display_name(user),
            what,
            name,
        );
        let ip = client.ip.clone().unwrap_or_else(|| "unknown".to_owned());
        Ok(Effects::none()
            .with_mail(self.outbox(crate::mail::MailKind::PasskeyChanged, &mail)?)
            .with_notification(self.notification(
                user.id,
                NotificationType::SecurityAlert,
                &format!("Passkey {what}"),
                &format!("The passkey \"{name}\" was {what} ({ip})."),
                json!({"passkeyName": name, "change": what}),
            )))
    }
}

/// A trimmed, non-empty name of at most [`MAX_NAME_CHARS`]; `None` when none was given.
fn passkey_name(name: Option<&str>) -> Result<Option<String>> {
    let Some(name) = name else { return Ok(None) };
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            format!("must be at most {MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(Some(name.to_owned()))
}

/// A refused ceremony answer: logged with its reason, answered with the one code.
fn refused(step: &str, cause: &WebauthnError) -> Error {
    tracing::info!(step, error = %cause, "passkey answer refused");
    Error::InvalidPasskey
}

/// What the store keeps beside the serialised credential.
struct CredentialFacts {
    json: String,
    counter: i64,
    backed_up: bool,
}

impl CredentialFacts {
    fn of(passkey: &Passkey) -> Result<Self> {
        let value = serde_json::to_value(passkey).map_err(Error::internal)?;
        let cred = &value["cred"];
        Ok(Self {
            counter: cred["counter"].as_i64().unwrap_or(0),
            backed_up: cred["backup_state"].as_bool().unwrap_or(false),
            json: value.to_string(),
        })
    }
}
