//! [`AccountStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::Result;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use std::collections::BTreeSet;
use uuid::Uuid;

#[async_trait]
impl AccountStore for MemoryStore {
    async fn user_data_export(&self, user_id: Uuid) -> Result<UserDataExport> {
        let st = self.lock();
        let mut sessions: Vec<_> = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .cloned()
            .collect();
        sessions.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let mut audit: Vec<_> = st
            .audit
            .iter()
            .filter(|e| e.user_id == Some(user_id) || e.actor_id == Some(user_id))
            .cloned()
            .collect();
        audit.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let mut notifications: Vec<_> = st
            .notifications
            .iter()
            .filter(|n| n.user_id == user_id)
            .cloned()
            .collect();
        notifications.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        let password_changes = st
            .password_history
            .iter()
            .filter(|(uid, _, _)| *uid == user_id)
            .map(|(_, _, at)| *at)
            .collect();
        Ok(UserDataExport {
            sessions,
            audit,
            notifications,
            password_changes,
        })
    }

    async fn users_deleted_before(&self, cutoff: Timestamp, limit: usize) -> Result<Vec<Uuid>> {
        let st = self.lock();
        let mut due: Vec<_> = st
            .users
            .values()
            .filter_map(|u| u.deleted_at.filter(|at| *at < cutoff).map(|at| (at, u.id)))
            .collect();
        due.sort();
        Ok(due.into_iter().take(limit).map(|(_, id)| id).collect())
    }

    async fn delete_user_permanently(
        &self,
        user_id: Uuid,
        deleted_before: Option<Timestamp>,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        let Some(user) = st.users.get(&user_id) else {
            return Ok(false);
        };
        if let Some(cutoff) = deleted_before
            && user.deleted_at.is_none_or(|at| at >= cutoff)
        {
            return Ok(false);
        }
        let email = user.email.clone();
        st.users.remove(&user_id);
        st.outbox
            .retain(|m| m.message.recipient != email || m.status == MailStatus::Pending);
        st.profiles.remove(&user_id);
        st.password_history.retain(|(uid, _, _)| *uid != user_id);
        st.one_time_tokens.retain(|_, t| t.user_id != user_id);
        let sessions: BTreeSet<Uuid> = st
            .sessions
            .values()
            .filter(|s| s.user_id == user_id)
            .map(|s| s.id)
            .collect();
        st.sessions.retain(|id, _| !sessions.contains(id));
        st.session_orgs.retain(|id, _| !sessions.contains(id));
        st.refresh_tokens
            .retain(|_, r| !sessions.contains(&r.session_id));
        st.two_factor.remove(&user_id);
        st.backup_codes.retain(|_, (owner, _)| *owner != user_id);
        st.passkeys.retain(|_, p| p.user_id != user_id);
        st.api_keys.retain(|_, k| k.user_id != user_id);
        crate::organizations::memory::leave_all_orgs(&mut st, user_id);
        for invitation in st.org_invitations.values_mut() {
            if invitation.inviter_id == Some(user_id) {
                invitation.inviter_id = None;
            }
        }
        st.oauth_identities.retain(|_, i| i.user_id != user_id);
        st.oauth_attempts.retain(|_, a| a.user_id != Some(user_id));
        st.oauth_exchange_codes.retain(|_, c| c.user_id != user_id);
        st.passkey_ceremonies
            .retain(|_, c| c.user_id != Some(user_id));
        st.notifications.retain(|n| n.user_id != user_id);
        for event in &mut st.audit {
            if event.user_id == Some(user_id) || event.actor_id == Some(user_id) {
                anonymise(event, user_id);
            }
        }
        // The stored row names no one; the published copy names whom to forget.
        st.apply_publishing(effects, |event| event.user_id = Some(user_id));
        Ok(true)
    }
}
