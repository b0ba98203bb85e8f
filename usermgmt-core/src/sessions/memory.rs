//! [`SessionStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::Result;
use crate::secret::TokenDigest;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use time::Duration;
use uuid::Uuid;

#[async_trait]
impl SessionStore for MemoryStore {
    async fn start_session(
        &self,
        session: NewSession,
        rehash: Option<String>,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let user = st.user_mut(session.user_id)?;
        user.last_login_at = Some(session.created_at);
        if let Some(hash) = rehash {
            user.password_hash = hash;
        }
        if let Some(check) = session.passed_check {
            user.failed_login_attempts = user.failed_login_attempts.saturating_sub(1);
            if check.ends_lock {
                user.locked_until = None;
            }
        }
        st.refresh_tokens.insert(
            session.refresh_digest.as_str().to_owned(),
            StoredRefresh {
                session_id: session.id,
                expires_at: session.expires_at,
                rotated_at: None,
            },
        );
        st.sessions.insert(
            session.id,
            SessionRecord {
                id: session.id,
                user_id: session.user_id,
                device_info: session.device_info,
                ip_address: session.ip_address,
                user_agent: session.user_agent,
                created_at: session.created_at,
                last_activity_at: session.created_at,
                expires_at: session.expires_at,
                revoked_at: None,
            },
        );
        st.apply(effects);
        Ok(())
    }

    async fn client_seen_before(
        &self,
        user_id: Uuid,
        ip_address: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<Option<bool>> {
        let st = self.lock();
        let mut sessions = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .peekable();
        if sessions.peek().is_none() {
            return Ok(None);
        }
        Ok(Some(sessions.any(|s| {
            s.ip_address.as_deref() == ip_address && s.user_agent.as_deref() == user_agent
        })))
    }

    async fn session_with_user(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord)>> {
        let st = self.lock();
        Ok(st
            .sessions
            .get(&session_id)
            .and_then(|s| st.users.get(&s.user_id).map(|u| (s.clone(), u.clone()))))
    }

    async fn touch_session(&self, session_id: Uuid, now: Timestamp) -> Result<()> {
        if let Some(s) = self.lock().sessions.get_mut(&session_id) {
            s.last_activity_at = now;
        }
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenDigest,
        next: &TokenDigest,
        now: Timestamp,
        expires_at: Timestamp,
        grace: Duration,
    ) -> Result<RefreshRotation> {
        let mut st = self.lock();
        let Some(token) = st.refresh_tokens.get(presented.as_str()).cloned() else {
            return Ok(RefreshRotation::Invalid);
        };
        let Some(session) = st.sessions.get(&token.session_id).cloned() else {
            return Ok(RefreshRotation::Invalid);
        };
        if !session.is_active(now) || token.expires_at <= now {
            return Ok(RefreshRotation::Invalid);
        }
        let (session_id, user_id) = (session.id, session.user_id);
        match token.rotated_at {
            Some(rotated) if now - rotated > grace => {
                return Ok(RefreshRotation::Reused {
                    session_id,
                    user_id,
                });
            }
            Some(_) => {}
            None => {
                if let Some(t) = st.refresh_tokens.get_mut(presented.as_str()) {
                    t.rotated_at = Some(now);
                }
            }
        }
        st.refresh_tokens.insert(
            next.as_str().to_owned(),
            StoredRefresh {
                session_id,
                expires_at,
                rotated_at: None,
            },
        );
        if let Some(s) = st.sessions.get_mut(&session_id) {
            s.expires_at = expires_at;
            s.last_activity_at = now;
        }
        Ok(RefreshRotation::Rotated {
            session_id,
            user_id,
        })
    }

    async fn revoke_session(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        let Some(s) = st
            .sessions
            .get_mut(&session_id)
            .filter(|s| s.user_id == user_id && s.is_active(now))
        else {
            return Ok(false);
        };
        s.revoked_at = Some(now);
        st.apply(effects);
        Ok(true)
    }

    async fn revoke_sessions(
        &self,
        user_id: Uuid,
        except: Option<Uuid>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<u64> {
        let mut st = self.lock();
        let count = st.revoke_sessions(user_id, except, now);
        st.apply(effects);
        Ok(count)
    }

    async fn list_sessions(&self, user_id: Uuid, now: Timestamp) -> Result<Vec<SessionRecord>> {
        let st = self.lock();
        let mut sessions: Vec<_> = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id && s.is_active(now))
            .cloned()
            .collect();
        sessions.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(sessions)
    }

    async fn session_with_user_and_profile(
        &self,
        session_id: Uuid,
    ) -> Result<Option<(SessionRecord, UserRecord, ProfileRecord)>> {
        let Some((session, user)) = self.session_with_user(session_id).await? else {
            return Ok(None);
        };
        let profile = self.profile(user.id).await?.unwrap_or_default();
        Ok(Some((session, user, profile)))
    }
}
