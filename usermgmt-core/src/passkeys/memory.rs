//! [`PasskeyStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use super::store::{CeremonyKind, CeremonyRecord, PasskeyRecord, PasskeyStore};
use crate::error::{ConflictKind, Error, Result};
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl PasskeyStore for MemoryStore {
    async fn passkeys(&self, user_id: Uuid) -> Result<Vec<PasskeyRecord>> {
        let st = self.lock();
        let mut keys: Vec<_> = st
            .passkeys
            .values()
            .filter(|p| p.user_id == user_id)
            .cloned()
            .collect();
        keys.sort_by_key(|p| (p.created_at, p.id));
        Ok(keys)
    }

    async fn passkey_by_credential_id(&self, credential_id: &str) -> Result<Option<PasskeyRecord>> {
        let st = self.lock();
        Ok(st
            .passkeys
            .values()
            .find(|p| p.credential_id == credential_id)
            .cloned())
    }

    async fn add_passkey(&self, passkey: PasskeyRecord, effects: Effects) -> Result<()> {
        let mut st = self.lock();
        st.user_mut(passkey.user_id)?;
        if st
            .passkeys
            .values()
            .any(|p| p.credential_id == passkey.credential_id || p.id == passkey.id)
        {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        st.passkeys.insert(passkey.id, passkey);
        st.apply(effects);
        Ok(())
    }

    async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<bool> {
        let mut st = self.lock();
        match st.passkeys.get_mut(&id) {
            Some(p) if p.user_id == user_id => {
                p.name = name.to_owned();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove_passkey(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        if st.passkeys.get(&id).is_none_or(|p| p.user_id != user_id) {
            return Ok(false);
        }
        let passwordless = st
            .users
            .get(&user_id)
            .is_some_and(|u| u.password_hash.is_empty());
        let others = st
            .passkeys
            .values()
            .filter(|p| p.user_id == user_id && p.id != id)
            .count();
        if passwordless && others == 0 {
            return Err(Error::LastSignInMethod);
        }
        st.passkeys.remove(&id);
        st.apply(effects);
        Ok(true)
    }

    async fn record_passkey_use(
        &self,
        passkey: &PasskeyRecord,
        seen_count: i64,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.passkeys.get_mut(&passkey.id) {
            Some(stored) if stored.sign_count == seen_count => {
                stored.credential = passkey.credential.clone();
                stored.sign_count = passkey.sign_count;
                stored.backed_up = passkey.backed_up;
                stored.last_used_at = passkey.last_used_at;
            }
            _ => return Ok(false),
        }
        st.apply(effects);
        Ok(true)
    }

    async fn start_ceremony(&self, ceremony: CeremonyRecord, now: Timestamp) -> Result<()> {
        let mut st = self.lock();
        st.passkey_ceremonies.retain(|_, c| c.expires_at > now);
        st.passkey_ceremonies.insert(ceremony.id, ceremony);
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id: Uuid,
        kind: CeremonyKind,
        now: Timestamp,
    ) -> Result<Option<CeremonyRecord>> {
        let mut st = self.lock();
        Ok(st
            .passkey_ceremonies
            .remove(&id)
            .filter(|c| c.kind == kind && c.expires_at > now))
    }
}
