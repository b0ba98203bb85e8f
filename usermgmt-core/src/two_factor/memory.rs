//! [`TwoFactorStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::{ConflictKind, Error, Result};
use crate::secret::TokenDigest;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl TwoFactorStore for MemoryStore {
    async fn two_factor(&self, user_id: Uuid) -> Result<Option<TwoFactorRecord>> {
        let st = self.lock();
        Ok(st.two_factor.get(&user_id).map(|record| TwoFactorRecord {
            backup_codes_remaining: st.backup_codes_remaining(user_id),
            ..record.clone()
        }))
    }

    async fn begin_two_factor_setup(
        &self,
        user_id: Uuid,
        sealed_secret: Vec<u8>,
        now: Timestamp,
    ) -> Result<()> {
        let mut st = self.lock();
        st.user_mut(user_id)?;
        if st.two_factor.get(&user_id).is_some_and(|r| r.enabled) {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        st.two_factor.insert(
            user_id,
            TwoFactorRecord {
                sealed_secret,
                enabled: false,
                last_used_step: None,
                created_at: now,
                enabled_at: None,
                backup_codes_remaining: 0,
            },
        );
        Ok(())
    }

    async fn enable_two_factor(
        &self,
        user_id: Uuid,
        step: i64,
        backup_codes: Vec<TokenDigest>,
        now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        let record = st
            .two_factor
            .get_mut(&user_id)
            .ok_or(Error::NotFound("two-factor setup"))?;
        if record.enabled {
            return Err(Error::Conflict(ConflictKind::Other));
        }
        record.enabled = true;
        record.enabled_at = Some(now);
        record.last_used_step = Some(step);
        st.store_backup_codes(user_id, backup_codes);
        let user = st.user_mut(user_id)?;
        user.two_factor_enabled = true;
        user.updated_at = now;
        st.apply(effects);
        Ok(())
    }

    async fn disable_two_factor(
        &self,
        user_id: Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        if st.two_factor.remove(&user_id).is_none() {
            return Ok(false);
        }
        st.backup_codes.retain(|_, (owner, _)| *owner != user_id);
        let user = st.user_mut(user_id)?;
        user.two_factor_enabled = false;
        user.updated_at = now;
        st.apply(effects);
        Ok(true)
    }

    async fn reseal_two_factor_secret(
        &self,
        user_id: Uuid,
        current: &[u8],
        resealed: Vec<u8>,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.two_factor.get_mut(&user_id) {
            Some(record) if record.sealed_secret == current => {
                record.sealed_secret = resealed;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn use_totp_step(&self, user_id: Uuid, step: i64) -> Result<bool> {
        let mut st = self.lock();
        let Some(record) = st.two_factor.get_mut(&user_id) else {
            return Ok(false);
        };
        if record.last_used_step.is_some_and(|last| last >= step) {
            return Ok(false);
        }
        record.last_used_step = Some(step);
        Ok(true)
    }

    async fn use_backup_code(
        &self,
        user_id: Uuid,
        digest: &TokenDigest,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        match st.backup_codes.get_mut(digest.as_str()) {
            Some((owner, used @ None)) if *owner == user_id => {
                *used = Some(now);
            }
            _ => return Ok(false),
        }
        st.apply(effects);
        Ok(true)
    }

    async fn replace_backup_codes(
        &self,
        user_id: Uuid,
        backup_codes: Vec<TokenDigest>,
        _now: Timestamp,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        st.user_mut(user_id)?;
        st.store_backup_codes(user_id, backup_codes);
        st.apply(effects);
        Ok(())
    }
}
