//! The caller's sessions across devices.

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::domain::AuditAction;
use crate::error::{Error, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{Effects, SessionRecord};
use serde_json::json;
use uuid::Uuid;

impl UserManager {
    /// The caller's active sessions, newest first.
    pub async fn list_sessions(&self, auth: &AuthenticatedUser) -> Result<Vec<SessionRecord>> {
        self.ensure_not_api_key(auth)?;
        self.inner
            .store
            .list_sessions(auth.user.id, self.now())
            .await
    }

    /// Ends one of the caller's sessions; `NotFound` when it is not an active session of theirs.
    pub async fn revoke_own_session(
        &self,
        auth: &AuthenticatedUser,
        session_id: Uuid,
        client: &ClientInfo,
    ) -> Result<()> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let audit = self.audit(
            AuditAction::SessionRevoked,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "session",
            client,
            json!({"sessionId": session_id}),
        );
        if self
            .inner
            .store
            .revoke_session(auth.user.id, session_id, self.now(), Effects::audit(audit))
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("session"))
        }
    }

    /// Ends every session of the caller but the current one.
    pub async fn revoke_other_sessions(
        &self,
        auth: &AuthenticatedUser,
        client: &ClientInfo,
    ) -> Result<u64> {
        self.ensure_not_api_key(auth)?;
        self.ensure_not_impersonated(auth)?;
        let audit = self.audit(
            AuditAction::AllSessionsRevoked,
            Some(auth.actor_id()),
            Some(auth.user.id),
            "session",
            client,
            json!({"keptSessionId": auth.session_id}),
        );
        self.inner
            .store
            .revoke_sessions(
                auth.user.id,
                Some(auth.session_id),
                self.now(),
                Effects::audit(audit),
            )
            .await
    }
}
