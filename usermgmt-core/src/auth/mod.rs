//! Authentication: registration, email verification, login, sessions with rotating refresh
//! tokens, password reset and change, and authenticating a bearer token.

#[cfg(feature = "test-util")]
mod cases;
pub(crate) mod memory;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

pub(crate) mod lockout;
mod login;
mod password;
mod registration;
pub(crate) mod routes;
pub(crate) use registration::display_name;
pub mod hashing;
pub mod tokens;

use crate::secret::{ChallengeToken, Password, RefreshToken};
use crate::store::UserRecord;
use std::fmt;
use tokens::AccessClaims;
use uuid::Uuid;

/// What a client sends to register. Validated as a whole; every broken rule is reported.
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Email address (normalised by validation).
    pub email: String,
    /// Username (normalised by validation).
    pub username: String,
    /// Password.
    pub password: Option<Password>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
}

/// An access token with its refresh token.
#[derive(Debug, Clone)]
pub struct TokenPair {
    /// Signed JWT.
    pub access_token: String,
    /// Opaque refresh token (only ever shown to its owner).
    pub refresh_token: RefreshToken,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// The user.
    pub user: UserRecord,
    /// The new session's tokens.
    pub tokens: TokenPair,
    /// The new session.
    pub session_id: Uuid,
}

/// What a correct password leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// A session was opened.
    Authenticated(Box<LoginSuccess>),
    /// Two-factor is enabled: no tokens yet, a challenge to answer at `POST /auth/login/2fa`.
    TwoFactorRequired(TwoFactorChallenge),
}

/// The caller of an authenticated request.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser {
    /// The user as stored now (current roles, current state).
    pub user: UserRecord,
    /// The session the token belongs to (for an API key: the key's id).
    pub session_id: Uuid,
    /// The verified claims (for an API key: claims made up from the key, never signed).
    pub claims: AccessClaims,
    /// Set when the caller presented an API key instead of an access token.
    pub api_key: Option<ApiKeyGrant>,
}

/// What an API key grants: its scopes, intersected per request with the owner's current
/// permissions (`roles::rbac`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyGrant {
    /// The key's id.
    pub id: Uuid,
    /// The permission names the key may use.
    pub scopes: Vec<String>,
    /// The organization the key belongs to: the host app's org guards act in it, with the
    /// owner's org role there as stored at each request.
    pub org_id: Option<Uuid>,
}

impl AuthenticatedUser {
    /// True when the caller presented an API key.
    pub fn is_api_key(&self) -> bool {
        self.api_key.is_some()
    }

    /// True when an administrator is acting as this user.
    pub fn is_impersonated(&self) -> bool {
        self.claims.act.is_some()
    }

    /// The administrator acting as this user, on an impersonation token.
    pub fn impersonator(&self) -> Option<Uuid> {
        self.claims
            .act
            .as_ref()
            .and_then(|a| Uuid::parse_str(&a.sub).ok())
    }

    /// Who really acts: the impersonating administrator, else the user.
    pub fn actor_id(&self) -> Uuid {
        self.impersonator().unwrap_or(self.user.id)
    }
}

/// What a right password of a user with two-factor enabled answers (a login, a reactivation, a
/// recovery): a challenge for that purpose only.
#[derive(Clone)]
pub struct TwoFactorChallenge {
    /// Presented with the code to `POST /auth/login/2fa` (or `/account/reactivate/2fa`,
    /// `/account/recover/2fa`).
    pub challenge_token: ChallengeToken,
    /// Seconds the challenge stays valid.
    pub expires_in: i64,
    /// Second factors accepted.
    pub methods: &'static [&'static str],
}

impl fmt::Debug for TwoFactorChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwoFactorChallenge")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}
