//! The storage of this capability: [`OAuthStore`], implemented by every store (`memory.rs`
//! beside this file for the memory store, `sql.rs` for SQLite and PostgreSQL), and its records.

use crate::error::Result;
use crate::secret::TokenDigest;
use crate::store::records::{Effects, NewUser, Timestamp, UserRecord};
use async_trait::async_trait;
use uuid::Uuid;

/// A provider account linked to one of our users.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityRecord {
    /// Our id of the link (what `DELETE /users/identities/{id}` names).
    pub id: Uuid,
    /// The user it signs in.
    pub user_id: Uuid,
    /// The provider's configured name (`google`, `github`, `corp`).
    pub provider: String,
    /// The provider's stable id of the account (`sub`; GitHub's numeric user id).
    pub subject: String,
    /// The address the provider gave when it was linked or last used.
    pub email: Option<String>,
    /// The provider's tokens, sealed, when its `store_tokens` is on; else none.
    pub sealed_tokens: Option<Vec<u8>>,
    /// When it was linked.
    pub created_at: Timestamp,
    /// When it last signed the user in.
    pub last_used_at: Option<Timestamp>,
}

impl std::fmt::Debug for IdentityRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityRecord")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("provider", &self.provider)
            .field("subject", &self.subject)
            .field("created_at", &self.created_at)
            .field("last_used_at", &self.last_used_at)
            .finish_non_exhaustive()
    }
}

/// What an authorization was started for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptPurpose {
    /// Signing in (or up) with the provider.
    Login,
    /// Linking the provider account to the signed-in user of [`AttemptRecord::user_id`].
    Link,
}

impl AttemptPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptPurpose::Login => "login",
            AttemptPurpose::Link => "link",
        }
    }

    /// The purpose of a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Login, Self::Link]
            .into_iter()
            .find(|p| p.as_str() == name)
    }
}

/// A started authorization: the browser was sent to the provider and is expected back at the
/// callback with the same `state`, from the same browser (its binding cookie).
#[derive(Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// SHA-256 of the `state` sent to the provider (the key).
    pub state_digest: TokenDigest,
    /// SHA-256 of the binding cookie set on the browser that started it.
    pub browser_digest: TokenDigest,
    /// The provider it was started with.
    pub provider: String,
    /// The PKCE verifier and the nonce, sealed (label `oauth-attempt`).
    pub sealed_secrets: Vec<u8>,
    /// Where the browser goes after success (checked against the allowed origins at the start).
    pub redirect_to: Option<String>,
    /// Login or link.
    pub purpose: AttemptPurpose,
    /// The user a link is for.
    pub user_id: Option<Uuid>,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for AttemptRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptRecord")
            .field("provider", &self.provider)
            .field("purpose", &self.purpose)
            .field("user_id", &self.user_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A one-time code handed to the browser after a successful callback, exchanged for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExchangeCodeRecord {
    /// SHA-256 of the code (the key).
    pub digest: TokenDigest,
    /// The user it signs in.
    pub user_id: Uuid,
    /// The identity that proved it.
    pub identity_id: Uuid,
    /// Where the browser was sent (informational for the client).
    pub redirect_to: Option<String>,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

/// Linked identities, started authorizations and exchange codes. One atomic unit of work per
/// method; part of [`Store`](crate::store::Store).
#[async_trait]
pub trait OAuthStore: Send + Sync + 'static {
    /// The user's linked identities, oldest first.
    async fn identities(&self, user_id: Uuid) -> Result<Vec<IdentityRecord>>;
    /// The identity of a provider account, whoever it is linked to.
    async fn identity_by_subject(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<IdentityRecord>>;
    /// Links an identity to an existing user. `Conflict(Other)` when the provider account is
    /// linked already (to anyone: the unique (provider, subject) decides a race); `NotFound`
    /// for an unknown user.
    async fn link_identity(&self, identity: IdentityRecord, effects: Effects) -> Result<()>;
    /// Creates a user (as `IdentityStore::create_user`) and links the identity to it, in one
    /// transaction. `Conflict(Email | Username)` as a registration; `Conflict(Other)` when the
    /// provider account is linked already.
    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: IdentityRecord,
        effects: Effects,
    ) -> Result<UserRecord>;
    /// Records a sign-in with the identity: its time, the address and tokens the provider gave
    /// now. False when it is gone (unlinked meanwhile).
    async fn record_identity_use(
        &self,
        identity: &IdentityRecord,
        effects: Effects,
    ) -> Result<bool>;
    /// Unlinks an identity of the user; false when the user has no such identity.
    /// `LastSignInMethod` when it is the user's last way to sign in (no password, no other
    /// identity, no passkey): decided under the user's row lock, so two unlinks racing for a
    /// user's last two identities cannot both succeed.
    async fn unlink_identity(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool>;
    /// Stores a started authorization, dropping expired ones (`now`).
    async fn start_oauth_attempt(&self, attempt: AttemptRecord, now: Timestamp) -> Result<()>;
    /// Takes an authorization out by its state, once: the first caller gets it, every later
    /// one (and a racing one) `None`. An expired one is consumed and `None`.
    async fn take_oauth_attempt(
        &self,
        state_digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<AttemptRecord>>;
    /// Stores an exchange code, dropping expired ones (`now`).
    async fn issue_exchange_code(&self, code: ExchangeCodeRecord, now: Timestamp) -> Result<()>;
    /// Takes an exchange code out, once (as [`OAuthStore::take_oauth_attempt`]).
    async fn take_exchange_code(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<ExchangeCodeRecord>>;
}
