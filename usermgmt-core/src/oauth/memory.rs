//! [`OAuthStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use super::store::{AttemptRecord, ExchangeCodeRecord, IdentityRecord, OAuthStore};
use crate::error::{ConflictKind, Error, Result};
use crate::secret::TokenDigest;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

fn linked_already(st: &State, identity: &IdentityRecord) -> bool {
    st.oauth_identities.values().any(|i| {
        i.id == identity.id || (i.provider == identity.provider && i.subject == identity.subject)
    })
}

#[async_trait]
impl OAuthStore for MemoryStore {
    async fn identities(&self, user_id: Uuid) -> Result<Vec<IdentityRecord>> {
        let st = self.lock();
        let mut found: Vec<_> = st
            .oauth_identities
            .values()
            .filter(|i| i.user_id == user_id)
            .cloned()
            .collect();
        found.sort_by_key(|i| (i.created_at, i.id));
        Ok(found)
    }

    async fn identity_by_subject(
        &self,
        provider: &str,
        subject: &str,
    ) -> Result<Option<IdentityRecord>> {
        let st = self.lock();
        Ok(st
            .oauth_identities
            .values()
            .find(|i| i.provider == provider && i.subject == subject)
            .cloned())
    }

    async fn link_identity(&self, identity: IdentityRecord, effects: Effects) -> Result<()> {
        let mut st = self.lock();
        st.user_mut(identity.user_id)?;
        if linked_already(&st, &identity) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        st.oauth_identities.insert(identity.id, identity);
        st.apply(effects);
        Ok(())
    }

    async fn create_user_with_identity(
        &self,
        user: NewUser,
        identity: IdentityRecord,
        effects: Effects,
    ) -> Result<UserRecord> {
        let mut st = self.lock();
        if linked_already(&st, &identity) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        let record = crate::auth::memory::insert_user(&mut st, user)?;
        st.oauth_identities.insert(identity.id, identity);
        st.apply(effects);
        Ok(record)
    }

    async fn record_identity_use(
        &self,
        identity: &IdentityRecord,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.oauth_identities.get_mut(&identity.id) {
            Some(stored) => {
                stored.email = identity.email.clone();
                stored.last_used_at = identity.last_used_at;
                if identity.sealed_tokens.is_some() {
                    stored.sealed_tokens = identity.sealed_tokens.clone();
                }
            }
            None => return Ok(false),
        }
        st.apply(effects);
        Ok(true)
    }

    async fn unlink_identity(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        if st
            .oauth_identities
            .get(&id)
            .is_none_or(|i| i.user_id != user_id)
        {
            return Ok(false);
        }
        let passwordless = st
            .users
            .get(&user_id)
            .is_some_and(|u| u.password_hash.is_empty());
        let other_identities = st
            .oauth_identities
            .values()
            .filter(|i| i.user_id == user_id && i.id != id)
            .count();
        let passkeys = st
            .passkeys
            .values()
            .filter(|p| p.user_id == user_id)
            .count();
        if passwordless && other_identities == 0 && passkeys == 0 {
            return Err(Error::LastSignInMethod);
        }
        st.oauth_identities.remove(&id);
        st.apply(effects);
        Ok(true)
    }

    async fn start_oauth_attempt(&self, attempt: AttemptRecord, now: Timestamp) -> Result<()> {
        let mut st = self.lock();
        st.oauth_attempts.retain(|_, a| a.expires_at > now);
        st.oauth_attempts
            .insert(attempt.state_digest.as_str().to_owned(), attempt);
        Ok(())
    }

    async fn take_oauth_attempt(
        &self,
        state_digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<AttemptRecord>> {
        let mut st = self.lock();
        Ok(st
            .oauth_attempts
            .remove(state_digest.as_str())
            .filter(|a| a.expires_at > now))
    }

    async fn issue_exchange_code(&self, code: ExchangeCodeRecord, now: Timestamp) -> Result<()> {
        let mut st = self.lock();
        st.oauth_exchange_codes.retain(|_, c| c.expires_at > now);
        st.user_mut(code.user_id)?;
        st.oauth_exchange_codes
            .insert(code.digest.as_str().to_owned(), code);
        Ok(())
    }

    async fn take_exchange_code(
        &self,
        digest: &TokenDigest,
        now: Timestamp,
    ) -> Result<Option<ExchangeCodeRecord>> {
        let mut st = self.lock();
        Ok(st
            .oauth_exchange_codes
            .remove(digest.as_str())
            .filter(|c| c.expires_at > now))
    }
}
