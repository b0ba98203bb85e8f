//! Social and enterprise sign-in: OAuth 2.0 / OpenID Connect providers (Google, Microsoft,
//! GitLab, a company's IdP by its issuer) and GitHub, account linking, and the one-time code
//! that turns a provider's callback into a session.
//!
//! The flow: `authorize` keeps an attempt (state digest, the browser's cookie digest, the PKCE
//! verifier and nonce sealed, `redirectTo`, login or link) for ten minutes and sends the
//! browser to the provider; `callback` takes the attempt out once, checks the browser, exchanges
//! the code, checks the ID token (signature by the provider's keys, `iss`, `aud`, `azp`, `exp`,
//! `nonce`), finds, links or creates the user and hands the browser a one-time code (60 s);
//! `exchange` turns that code into the password login's answer (`{user, tokens}`, or the
//! two-factor challenge), through the same session opening.

#[cfg(feature = "test-util")]
mod cases;
pub mod config;
mod memory;
mod provider;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::domain::AuditAction;
use crate::error::{Error, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::Effects;
use serde_json::json;
use store::IdentityRecord;
use time::Duration;
use uuid::Uuid;

pub use flow::{Authorization, Landing};

pub use config::{AutoLink, OAuthConfig, ProviderConfig, ProviderKind};

/// How long a started authorization is accepted (the browser's round trip to the provider).
pub const ATTEMPT_TTL: Duration = Duration::minutes(10);

/// How long the one-time code of a successful callback can be exchanged.
pub const EXCHANGE_CODE_TTL: Duration = Duration::seconds(60);

/// The cookie binding an authorization to the browser that started it.
pub const BROWSER_COOKIE: &str = "usermgmt_oauth";

impl UserManager {
    /// The configured providers: `(name, display name)`, in configuration order.
    pub fn oauth_providers(&self) -> Vec<(String, String)> {
        self.inner
            .config
            .oauth
            .providers
            .iter()
            .map(|p| (p.name.clone(), p.display_name.clone()))
            .collect()
    }

    /// The caller's linked identities, oldest first.
    pub async fn identities(&self, auth: &AuthenticatedUser) -> Result<Vec<IdentityRecord>> {
        self.inner.store.identities(auth.user.id).await
    }

    /// Unlinks one of the caller's identities. Not on an impersonation token; refused (409
    /// `LAST_SIGN_IN_METHOD`, decided by the store under the user's lock) when it is the last
    /// way the user can sign in: no password, no other identity, no passkey.
    #[tracing::instrument(skip_all)]
    pub async fn unlink_identity(
        &self,
        auth: &AuthenticatedUser,
        id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        if auth.is_impersonated() {
            return Err(Error::Forbidden);
        }
        let identities = self.inner.store.identities(auth.user.id).await?;
        let Some(identity) = identities.iter().find(|i| i.id == id) else {
            return Err(Error::NotFound("identity"));
        };
        let effects = Effects::audit(self.audit(
            AuditAction::IdentityUnlinked,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "identity",
            client,
            json!({"provider": identity.provider, "identityId": id}),
        ));
        if !self
            .inner
            .store
            .unlink_identity(auth.user.id, id, effects)
            .await?
        {
            return Err(Error::NotFound("identity"));
        }
        Ok(())
    }
}

mod flow;
