//! [`ApiKeyStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use super::store::{ApiKeyRecord, ApiKeyStore, PreviousKey, Rotation};
use crate::error::{ConflictKind, Error, Result};
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl ApiKeyStore for MemoryStore {
    async fn api_keys(&self, user_id: Uuid) -> Result<Vec<ApiKeyRecord>> {
        let st = self.lock();
        let mut keys: Vec<_> = st
            .api_keys
            .values()
            .filter(|k| k.user_id == user_id)
            .cloned()
            .collect();
        keys.sort_by_key(|k| (k.created_at, k.id));
        Ok(keys)
    }

    async fn api_key_by_prefix(&self, prefix: &str) -> Result<Option<ApiKeyRecord>> {
        let st = self.lock();
        Ok(st
            .api_keys
            .values()
            .find(|k| k.prefix == prefix || k.previous.as_ref().is_some_and(|p| p.prefix == prefix))
            .cloned())
    }

    async fn add_api_key(
        &self,
        key: ApiKeyRecord,
        max_per_user: usize,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        st.user_mut(key.user_id)?;
        let held = st
            .api_keys
            .values()
            .filter(|k| k.user_id == key.user_id)
            .count();
        if held >= max_per_user {
            return Ok(false);
        }
        if st.api_keys.values().any(|k| {
            k.id == key.id
                || k.prefix == key.prefix
                || k.previous.as_ref().is_some_and(|p| p.prefix == key.prefix)
        }) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        st.api_keys.insert(key.id, key);
        st.apply(effects);
        Ok(true)
    }

    async fn remove_api_key(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        if st.api_keys.get(&id).is_none_or(|k| k.user_id != user_id) {
            return Ok(false);
        }
        st.api_keys.remove(&id);
        st.apply(effects);
        Ok(true)
    }

    async fn rotate_api_key(
        &self,
        user_id: Uuid,
        id: Uuid,
        rotation: Rotation,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.api_keys.get_mut(&id) {
            Some(k) if k.user_id == user_id && k.prefix == rotation.expected_prefix => {
                k.previous = rotation.previous_until.map(|until| PreviousKey {
                    prefix: std::mem::take(&mut k.prefix),
                    digest: k.digest.clone(),
                    expires_at: until,
                });
                k.prefix = rotation.prefix;
                k.digest = rotation.digest;
            }
            _ => return Ok(false),
        }
        st.apply(effects);
        Ok(true)
    }

    async fn touch_api_key(
        &self,
        id: Uuid,
        now: Timestamp,
        stale_before: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.api_keys.get_mut(&id) {
            Some(k) if k.last_used_at.is_none_or(|at| at <= stale_before) => {
                k.last_used_at = Some(now);
            }
            _ => return Ok(false),
        }
        st.apply(effects);
        Ok(true)
    }
}
