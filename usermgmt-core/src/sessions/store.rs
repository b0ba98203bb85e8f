//! The storage of this capability: [`SessionStore`], implemented by every store (`memory.rs` beside
//! this file for the memory store, `sql.rs` for SQLite and PostgreSQL).

use crate::error::Result;
use crate::secret::TokenDigest;
use crate::store::records::*;
use async_trait::async_trait;
use time::Duration;
use uuid::Uuid;

/// Login sessions and their refresh tokens. One atomic unit of work per method; part of
/// [`Store`](crate::store::Store).
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Opens a session after a successful login: sets `last_login_at`, replaces the password
    /// hash when `rehash` is given, and gives back the password check's turn when
    /// `session.passed_check` holds one (exactly what
    /// [`release_check_turn`](crate::auth::store::LockoutStore::release_check_turn) does, in the
    /// same commit). Nothing else of the lockout's count is touched.
    async fn start_session(
        &self,
        session: NewSession,
        rehash: Option<String>,
        effects: Effects,
    ) -> Result<()>;
    /// Whether the user logged in before from this IP with this User-Agent: `None` when the
    /// user never had a session (a first login alerts nobody), else `Some(seen)`.
    async fn client_seen_before(
        &self,
        user_id: Uuid,
        ip_address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Option<bool>>;
    /// The session and its user, for authenticating a request.
    async fn session_with_user(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord)>>;
    /// [`session_with_user`](SessionStore::session_with_user) and that user's profile (the default
    /// when none is stored), for `GET /users/profile`, the most frequent authenticated read. The
    /// memory store reads them one after the other; the SQL stores read all three in one
    /// statement.
    async fn session_with_user_and_profile(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord, ProfileRecord)>>;
    /// Records activity on a session.
    async fn touch_session(&self, session_id: Uuid, now: Timestamp) -> Result<()>;
    /// Rotates a refresh token (see [`RefreshRotation`]); on success `next` is stored with
    /// expiry `expires_at` and the session's expiry moves to it.
    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        now: Timestamp,
        expires_at: Timestamp,
        grace: Duration,
    ) -> Result<RefreshRotation>;
    /// Ends one session of the user. False when it was not an active session of theirs.
    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool>;
    /// Ends every active session of the user but `except`. Returns how many.
    async fn revoke_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<u64>;
    /// Active sessions of the user, newest first.
    async fn list_sessions(&self, user_id: Uuid, now: Timestamp) -> Result<Vec<SessionRecord>>;
}
