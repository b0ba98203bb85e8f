//! The sign-in flow: start (authorize, link), callback, exchange.

use super::config::{AutoLink, ProviderConfig, origin_of};
use super::provider::{self, AttemptSecrets, ProviderProfile};
use super::store::{AttemptPurpose, AttemptRecord, ExchangeCodeRecord, IdentityRecord};
use super::{ATTEMPT_TTL, EXCHANGE_CODE_TTL};
use crate::auth::{AuthenticatedUser, LoginOutcome};
use crate::domain::{AuditAction, Email, Username, clean_name};
use crate::error::{ConflictKind, Error, OAuthFailure, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::secret::{OAuthBrowserBinding, OAuthExchangeCode, OAuthState};
use crate::store::{DEFAULT_ROLE, Effects, NewUser, TokenPurpose, UserRecord};
use serde_json::json;
use subtle::ConstantTimeEq as _;
use uuid::Uuid;

/// The longest `redirectTo` accepted.
const MAX_REDIRECT_CHARS: usize = 2048;

/// How many usernames a new account tries (the provider's, then suffixed ones).
const USERNAME_ATTEMPTS: u32 = 8;

/// A started authorization: where to send the browser, and the cookie that binds it.
#[derive(Debug)]
pub struct Authorization {
    /// The provider's authorization URL (code flow, PKCE S256, `state`, `nonce`).
    pub url: String,
    /// The value of the HttpOnly cookie [`super::BROWSER_COOKIE`] the browser must carry back
    /// to the callback.
    pub browser_binding: OAuthBrowserBinding,
}

/// Where the callback sends the browser: the success URL with the one-time `code` (or
/// `linked=<provider>` after a link), or the error URL with `error=<CODE>`. `Debug` leaves the
/// query out (it carries the code).
#[derive(Clone, PartialEq, Eq)]
pub struct Landing {
    /// The absolute URL.
    pub location: String,
}

impl std::fmt::Debug for Landing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let without_query = self.location.split('?').next().unwrap_or_default();
        f.debug_struct("Landing")
            .field("location", &format_args!("{without_query}?[REDACTED]"))
            .finish()
    }
}

/// `base` with `params` appended to its query.
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
            }
            url.to_string()
        }
        Err(_) => base.to_owned(),
    }
}

/// Four random characters of `[a-z0-9]` for a username that collided.
fn random_suffix() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 4];
    rand::fill(&mut bytes);
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// A new account's username: the provider's `preferred_username` when it makes a valid one
/// (lower-cased, `[a-z0-9_]` kept), else the address's local part; `suffix` on a collision.
fn username_for(profile: &ProviderProfile, email: &Email, suffix: Option<&str>) -> Username {
    let preferred: String = profile
        .preferred_username
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    if preferred.len() < Username::MIN_LEN {
        return Username::derived_from_email(email, suffix);
    }
    let text = match suffix {
        Some(suffix) => {
            let mut base = preferred;
            base.truncate(Username::MAX_LEN.saturating_sub(suffix.len() + 1));
            format!("{base}_{suffix}")
        }
        None => {
            let mut base = preferred;
            base.truncate(Username::MAX_LEN);
            base
        }
    };
    Username::parse(&text).unwrap_or_else(|_| Username::derived_from_email(email, suffix))
}

impl UserManager {
    fn oauth_provider(&self, name: &str) -> Result<&ProviderConfig> {
        self.inner
            .config
            .oauth
            .provider(name)
            .ok_or(Error::OAuth(OAuthFailure::ProviderNotFound))
    }

    /// The redirect URI registered at the providers for `provider`:
    /// `<api base>/api/v1/auth/oauth/<provider>/callback`.
    pub fn oauth_redirect_uri(&self, provider: &str) -> String {
        format!(
            "{}/api/v1/auth/oauth/{provider}/callback",
            self.inner.config.api_base_url()
        )
    }

    /// Where a failed callback sends the browser: `OAUTH_ERROR_URL?error=<CODE>`.
    pub fn oauth_error_landing(&self, err: &Error) -> Landing {
        let config = &self.inner.config;
        let base = config
            .oauth
            .error_url
            .clone()
            .unwrap_or_else(|| format!("{}/oauth/error", config.absolute_public_url()));
        Landing {
            location: with_query(&base, &[("error", err.code())]),
        }
    }

    fn oauth_success_url(&self) -> String {
        let config = &self.inner.config;
        config
            .oauth
            .success_url
            .clone()
            .unwrap_or_else(|| format!("{}/oauth/success", config.absolute_public_url()))
    }

    /// A `redirectTo` the landing page may move on to: a path on its own origin, or a URL on
    /// the public URL's origin, the success URL's or one of the allowed redirect origins.
    fn checked_redirect_to(&self, redirect_to: Option<&str>) -> Result<Option<String>> {
        let Some(target) = redirect_to.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let refuse =
            || Error::invalid("redirectTo", "must be a path or a URL on an allowed origin");
        if target.chars().count() > MAX_REDIRECT_CHARS || target.chars().any(char::is_control) {
            return Err(refuse());
        }
        // A path of the landing page's origin; `//host` and `/\host` would leave it.
        if target.starts_with('/') && !target.starts_with("//") && !target.contains('\\') {
            return Ok(Some(target.to_owned()));
        }
        let origin = origin_of(target).ok_or_else(refuse)?;
        let config = &self.inner.config;
        let allowed = [
            origin_of(config.absolute_public_url()),
            origin_of(&self.oauth_success_url()),
        ]
        .into_iter()
        .flatten()
        .chain(
            config
                .oauth
                .allowed_redirect_origins
                .iter()
                .filter_map(|o| origin_of(o)),
        )
        .any(|allowed| allowed == origin);
        if allowed {
            Ok(Some(target.to_owned()))
        } else {
            Err(refuse())
        }
    }

    /// Starts signing in (or up) with `provider`: the authorization URL and the browser's
    /// binding cookie (the one it carries already, `browser`, when it has a well-formed one).
    #[tracing::instrument(skip_all, fields(provider = %provider))]
    pub async fn start_oauth_login(
        &self,
        provider: &str,
        redirect_to: Option<&str>,
        browser: Option<&str>,
    ) -> Result<Authorization> {
        self.start_oauth(provider, AttemptPurpose::Login, None, redirect_to, browser)
            .await
    }

    /// Starts linking `provider` to the caller's account. Not on an impersonation token or
    /// an API key.
    #[tracing::instrument(skip_all, fields(provider = %provider))]
    pub async fn start_oauth_link(
        &self,
        auth: &AuthenticatedUser,
        provider: &str,
        redirect_to: Option<&str>,
        browser: Option<&str>,
    ) -> Result<Authorization> {
        if auth.is_impersonated() || auth.is_api_key() {
            return Err(Error::Forbidden);
        }
        self.start_oauth(
            provider,
            AttemptPurpose::Link,
            Some(auth.user.id),
            redirect_to,
            browser,
        )
        .await
    }

    async fn start_oauth(
        &self,
        provider_name: &str,
        purpose: AttemptPurpose,
        user_id: Option<Uuid>,
        redirect_to: Option<&str>,
        browser: Option<&str>,
    ) -> Result<Authorization> {
        let provider = self.oauth_provider(provider_name)?;
        let redirect_to = self.checked_redirect_to(redirect_to)?;
        let binding = browser
            .filter(|b| {
                b.len() == 43
                    && b.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            })
            .map(OAuthBrowserBinding::from_presented)
            .unwrap_or_else(OAuthBrowserBinding::generate);
        let state = OAuthState::generate();
        let now = self.now();
        let started = provider::start(
            provider,
            &self.oauth_redirect_uri(provider_name),
            state.expose(),
            now,
        )
        .await?;
        let secrets = serde_json::to_vec(&started.secrets).map_err(Error::internal)?;
        self.inner
            .store
            .start_oauth_attempt(
                AttemptRecord {
                    state_digest: state.digest(),
                    browser_digest: binding.digest(),
                    provider: provider_name.to_owned(),
                    sealed_secrets: self
                        .inner
                        .config
                        .sealing_ring("oauth-attempt")
                        .seal(&secrets),
                    redirect_to,
                    purpose,
                    user_id,
                    expires_at: now + ATTEMPT_TTL,
                },
                now,
            )
            .await?;
        Ok(Authorization {
            url: started.url,
            browser_binding: binding,
        })
    }

    /// Finishes an authorization at the callback: where to send the browser. The attempt is
    /// taken out once (a replayed callback fails), must be this provider's and this browser's
    /// (`browser`: its binding cookie); a provider `error` ends it. Then the code is exchanged
    /// and the ID token checked, and the user found, linked or created (see the module docs);
    /// a sign-in gets a one-time code for [`UserManager::exchange_oauth_code`].
    #[tracing::instrument(skip_all, fields(provider = %provider_name))]
    pub async fn finish_oauth(
        &self,
        provider_name: &str,
        code: Option<&str>,
        state: Option<&str>,
        provider_error: Option<&str>,
        browser: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Landing> {
        let provider = self.oauth_provider(provider_name)?;
        let invalid_state = || Error::OAuth(OAuthFailure::InvalidState);
        let state = state
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(invalid_state)?;
        let now = self.now();
        let attempt = self
            .inner
            .store
            .take_oauth_attempt(&OAuthState::from_presented(state).digest(), now)
            .await?
            .ok_or_else(invalid_state)?;
        let presented = OAuthBrowserBinding::from_presented(browser.unwrap_or_default()).digest();
        let same_browser: bool = presented
            .as_str()
            .as_bytes()
            .ct_eq(attempt.browser_digest.as_str().as_bytes())
            .into();
        if attempt.provider != provider_name || browser.is_none() || !same_browser {
            return Err(invalid_state());
        }
        if let Some(error) = provider_error {
            tracing::info!(error, "the provider ended the sign-in");
            return Err(Error::OAuth(OAuthFailure::ProviderError));
        }
        let code = code
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or(Error::OAuth(OAuthFailure::ProviderError))?;
        let secrets: AttemptSecrets = self
            .inner
            .config
            .sealing_ring("oauth-attempt")
            .open(&attempt.sealed_secrets)
            .and_then(|plain| serde_json::from_slice(&plain).ok())
            .ok_or_else(invalid_state)?;
        let profile = provider::finish(
            provider,
            &self.oauth_redirect_uri(provider_name),
            code,
            &secrets,
            now,
        )
        .await?;
        if profile.subject.is_empty() {
            return Err(Error::OAuth(OAuthFailure::InvalidIdToken));
        }
        let mut params: Vec<(&str, String)> = Vec::new();
        match attempt.purpose {
            AttemptPurpose::Login => {
                let (user, identity_id) = self.oauth_sign_in(provider, &profile, client).await?;
                let code = OAuthExchangeCode::generate();
                self.inner
                    .store
                    .issue_exchange_code(
                        ExchangeCodeRecord {
                            digest: code.digest(),
                            user_id: user.id,
                            identity_id,
                            redirect_to: attempt.redirect_to.clone(),
                            expires_at: now + EXCHANGE_CODE_TTL,
                        },
                        now,
                    )
                    .await?;
                params.push(("code", code.expose().to_owned()));
            }
            AttemptPurpose::Link => {
                let user_id = attempt.user_id.ok_or_else(invalid_state)?;
                self.oauth_link(provider, user_id, &profile, client).await?;
                params.push(("linked", provider_name.to_owned()));
            }
        }
        if let Some(redirect_to) = &attempt.redirect_to {
            params.push(("redirectTo", redirect_to.clone()));
        }
        let pairs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        Ok(Landing {
            location: with_query(&self.oauth_success_url(), &pairs),
        })
    }

    /// The identity as it is used now: the address the provider gave, the time, the tokens
    /// sealed when the provider keeps them.
    fn identity_now(
        &self,
        provider: &ProviderConfig,
        base: IdentityRecord,
        profile: &ProviderProfile,
    ) -> Result<IdentityRecord> {
        let sealed_tokens = match (&profile.tokens, provider.store_tokens) {
            (Some(tokens), true) => Some(
                self.inner
                    .config
                    .sealing_ring("oauth-tokens")
                    .seal(&serde_json::to_vec(tokens).map_err(Error::internal)?),
            ),
            _ => None,
        };
        Ok(IdentityRecord {
            email: profile.email.clone(),
            last_used_at: Some(self.now()),
            sealed_tokens,
            ..base
        })
    }

    /// The `OAUTH_LOGIN` row of a sign-in with `identity`.
    fn oauth_login_audit(
        &self,
        user_id: Uuid,
        identity: &IdentityRecord,
        client: &ClientInfo,
    ) -> crate::store::AuditEvent {
        self.audit(
            AuditAction::OAuthLogin,
            Some(user_id),
            Some(user_id),
            "identity",
            client,
            json!({"provider": identity.provider, "identityId": identity.id}),
        )
    }

    fn identity_linked_audit(
        &self,
        user_id: Uuid,
        identity: &IdentityRecord,
        automatic: bool,
        client: &ClientInfo,
    ) -> crate::store::AuditEvent {
        self.audit(
            AuditAction::IdentityLinked,
            Some(user_id),
            Some(user_id),
            "identity",
            client,
            json!({"provider": identity.provider, "identityId": identity.id, "automatic": automatic}),
        )
    }

    /// The user a provider sign-in is for (found by the identity, linked to the account of
    /// the same address when the rules allow, or created), and the identity's id.
    async fn oauth_sign_in(
        &self,
        provider: &ProviderConfig,
        profile: &ProviderProfile,
        client: &ClientInfo,
    ) -> Result<(UserRecord, Uuid)> {
        let store = &self.inner.store;
        // Twice at most: a first sign-in that raced another for the same provider account
        // finds the identity the other one stored.
        for _ in 0..2 {
            if let Some(identity) = store
                .identity_by_subject(&provider.name, &profile.subject)
                .await?
            {
                let user = store
                    .user_by_id(identity.user_id)
                    .await?
                    .filter(|u| u.deleted_at.is_none())
                    .ok_or(Error::InvalidCredentials)?;
                self.ensure_may_log_in(&user)?;
                let used = self.identity_now(provider, identity, profile)?;
                let effects = Effects::audit(self.oauth_login_audit(user.id, &used, client));
                if !store.record_identity_use(&used, effects).await? {
                    continue;
                }
                return Ok((user, used.id));
            }
            let email = profile
                .email
                .as_deref()
                .and_then(|e| Email::parse(e).ok())
                .ok_or(Error::OAuth(OAuthFailure::EmailRequired))?;
            let now = self.now();
            let identity = self.identity_now(
                provider,
                IdentityRecord {
                    id: Uuid::now_v7(),
                    user_id: Uuid::nil(),
                    provider: provider.name.clone(),
                    subject: profile.subject.clone(),
                    email: None,
                    sealed_tokens: None,
                    created_at: now,
                    last_used_at: None,
                },
                profile,
            )?;
            if let Some(existing) = store.user_by_email(email.as_str()).await? {
                let may_link = self.inner.config.oauth.auto_link == AutoLink::Verified
                    && profile.email_verified
                    && existing.email_verified
                    && existing.deleted_at.is_none();
                if !may_link {
                    return Err(Error::OAuth(OAuthFailure::AccountExists));
                }
                self.ensure_may_log_in(&existing)?;
                let identity = IdentityRecord {
                    user_id: existing.id,
                    ..identity
                };
                let effects = Effects::audit(self.identity_linked_audit(
                    existing.id,
                    &identity,
                    true,
                    client,
                ))
                .with_audit(self.oauth_login_audit(
                    existing.id,
                    &identity,
                    client,
                ));
                match store.link_identity(identity.clone(), effects).await {
                    Ok(()) => return Ok((existing, identity.id)),
                    Err(Error::Conflict(ConflictKind::Other)) => continue,
                    Err(other) => return Err(other),
                }
            }
            match self
                .create_oauth_user(profile, &email, identity, client)
                .await
            {
                Ok(found) => return Ok(found),
                Err(Error::Conflict(ConflictKind::Other)) => continue,
                // Another sign-in registered the address meanwhile: as above, it is taken.
                Err(Error::Conflict(ConflictKind::Email)) => {
                    return Err(Error::OAuth(OAuthFailure::AccountExists));
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::OAuth(OAuthFailure::InvalidState))
    }

    /// Creates the account of a first sign-in, with its identity, in one store call: the
    /// provider's address (verified when it says so), a username from `preferred_username` or
    /// the address (suffixed until free), the names it gave, no password.
    async fn create_oauth_user(
        &self,
        profile: &ProviderProfile,
        email: &Email,
        identity: IdentityRecord,
        client: &ClientInfo,
    ) -> Result<(UserRecord, Uuid)> {
        let mut ignored = Vec::new();
        let first_name = clean_name("firstName", profile.given_name.as_deref(), &mut ignored);
        let last_name = clean_name("lastName", profile.family_name.as_deref(), &mut ignored);
        let (first_name, last_name) = if ignored.is_empty() {
            (first_name, last_name)
        } else {
            (None, None)
        };
        let now = self.now();
        let id = Uuid::now_v7();
        let identity = IdentityRecord {
            user_id: id,
            ..identity
        };
        let mut suffix: Option<String> = None;
        for _ in 0..USERNAME_ATTEMPTS {
            let username = username_for(profile, email, suffix.as_deref());
            if username.is_reserved()
                || self
                    .inner
                    .store
                    .user_by_username(username.as_str())
                    .await?
                    .is_some()
            {
                suffix = Some(random_suffix());
                continue;
            }
            let user = NewUser {
                id,
                email: email.as_str().to_owned(),
                username: username.as_str().to_owned(),
                // No password: password login is refused until one is set (forgot-password).
                password_hash: String::new(),
                first_name: first_name.clone(),
                last_name: last_name.clone(),
                email_verified: profile.email_verified,
                roles: vec![DEFAULT_ROLE.to_owned()],
                created_at: now,
                verification: None,
            };
            let effects = Effects::audit(self.audit(
                AuditAction::UserRegistered,
                Some(id),
                Some(id),
                "user",
                client,
                json!({"username": user.username, "source": "oauth", "provider": identity.provider}),
            ))
            .with_audit(self.identity_linked_audit(id, &identity, false, client))
            .with_audit(self.oauth_login_audit(id, &identity, client));
            match self
                .inner
                .store
                .create_user_with_identity(user, identity.clone(), effects)
                .await
            {
                Ok(user) => {
                    tracing::info!(user_id = %user.id, "user registered through a provider");
                    return Ok((user, identity.id));
                }
                Err(Error::Conflict(ConflictKind::Username)) => {
                    suffix = Some(random_suffix());
                }
                Err(other) => return Err(other),
            }
        }
        Err(Error::Conflict(ConflictKind::Username))
    }

    /// Links the provider account to `user_id` (a link started by that signed-in user).
    async fn oauth_link(
        &self,
        provider: &ProviderConfig,
        user_id: Uuid,
        profile: &ProviderProfile,
        client: &ClientInfo,
    ) -> Result<()> {
        let store = &self.inner.store;
        let user = store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(Error::OAuth(OAuthFailure::InvalidState))?;
        if let Some(existing) = store
            .identity_by_subject(&provider.name, &profile.subject)
            .await?
        {
            return if existing.user_id == user.id {
                Ok(())
            } else {
                Err(Error::OAuth(OAuthFailure::AlreadyLinked))
            };
        }
        let now = self.now();
        let identity = self.identity_now(
            provider,
            IdentityRecord {
                id: Uuid::now_v7(),
                user_id: user.id,
                provider: provider.name.clone(),
                subject: profile.subject.clone(),
                email: None,
                sealed_tokens: None,
                created_at: now,
                last_used_at: None,
            },
            profile,
        )?;
        let identity = IdentityRecord {
            last_used_at: None,
            ..identity
        };
        let effects = Effects::audit(self.identity_linked_audit(user.id, &identity, false, client));
        match store.link_identity(identity, effects).await {
            Ok(()) => Ok(()),
            Err(Error::Conflict(ConflictKind::Other)) => {
                Err(Error::OAuth(OAuthFailure::AlreadyLinked))
            }
            Err(other) => Err(other),
        }
    }

    /// Exchanges the one-time code of a successful callback (single use, 60 s) for what a
    /// password login answers: a session (`{user, tokens}`; new-device alert and `USER_LOGIN`
    /// as for a password), or the two-factor challenge when the user has two-factor on.
    #[tracing::instrument(skip_all)]
    pub async fn exchange_oauth_code(
        &self,
        code: &str,
        client: &ClientInfo,
    ) -> Result<LoginOutcome> {
        if code.trim().is_empty() {
            return Err(Error::invalid("code", "is required"));
        }
        let store = &self.inner.store;
        let taken = store
            .take_exchange_code(
                &OAuthExchangeCode::from_presented(code.trim()).digest(),
                self.now(),
            )
            .await?
            .ok_or(Error::OAuth(OAuthFailure::InvalidCode))?;
        let user = store
            .user_by_id(taken.user_id)
            .await?
            .filter(|u| u.deleted_at.is_none())
            .ok_or(Error::OAuth(OAuthFailure::InvalidCode))?;
        self.ensure_may_log_in(&user)?;
        if user.two_factor_enabled {
            return Ok(LoginOutcome::TwoFactorRequired(
                self.issue_two_factor_challenge(&user, TokenPurpose::LoginChallenge)
                    .await?,
            ));
        }
        let success = self.open_session(user, None, client).await?;
        Ok(LoginOutcome::Authenticated(Box::new(success)))
    }
}
