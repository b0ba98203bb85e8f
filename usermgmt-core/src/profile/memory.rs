//! [`ProfileStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::Result;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl ProfileStore for MemoryStore {
    async fn profile(&self, user_id: Uuid) -> Result<Option<ProfileRecord>> {
        Ok(self.lock().profiles.get(&user_id).cloned())
    }

    async fn update_profile(
        &self,
        user_id: Uuid,
        update: ProfileUpdate,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, ProfileRecord)> {
        let mut st = self.lock();
        let user = st.user_mut(user_id)?;
        if let Some(first) = &update.first_name {
            user.first_name = first.clone();
        }
        if let Some(last) = &update.last_name {
            user.last_name = last.clone();
        }
        user.updated_at = now;
        let user = user.clone();
        let profile = st.profiles.entry(user_id).or_default();
        update.apply_to_profile(profile);
        let profile = profile.clone();
        st.apply(effects);
        Ok((user, profile))
    }

    async fn merge_preferences(
        &self,
        user_id: Uuid,
        patch: serde_json::Map<String, serde_json::Value>,
        max_bytes: usize,
        now: Timestamp,
        effects: Effects,
    ) -> Result<serde_json::Value> {
        let mut st = self.lock();
        st.user_mut(user_id)?;
        let current = st
            .profiles
            .get(&user_id)
            .map(|p| p.preferences.clone())
            .unwrap_or_default();
        // Validate before touching anything: a refused merge changes nothing.
        let merged = merge_preferences_value(&current, patch, max_bytes)?;
        st.user_mut(user_id)?.updated_at = now;
        st.profiles.entry(user_id).or_default().preferences = merged.clone();
        st.apply(effects);
        Ok(merged)
    }

    async fn set_avatar(
        &self,
        user_id: Uuid,
        avatar: Option<String>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<(UserRecord, Option<String>)> {
        let mut st = self.lock();
        let user = st.user_mut(user_id)?;
        if user.avatar == avatar {
            return Ok((user.clone(), avatar));
        }
        let previous = std::mem::replace(&mut user.avatar, avatar);
        user.updated_at = now;
        let record = user.clone();
        st.apply(effects);
        Ok((record, previous))
    }
}
