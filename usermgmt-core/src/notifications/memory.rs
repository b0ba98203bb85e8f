//! [`NotificationStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::Result;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use uuid::Uuid;

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn notifications(
        &self,
        user_id: Uuid,
        unread_only: bool,
        offset: u64,
        limit: u64,
    ) -> Result<NotificationPage> {
        let st = self.lock();
        let mut mine: Vec<_> = st
            .notifications
            .iter()
            .filter(|n| n.user_id == user_id)
            .collect();
        let unread = mine.iter().filter(|n| n.read_at.is_none()).count() as u64;
        if unread_only {
            mine.retain(|n| n.read_at.is_none());
        }
        mine.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total = mine.len() as u64;
        let items = mine
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok(NotificationPage {
            items,
            total,
            unread,
        })
    }

    async fn mark_notification_read(
        &self,
        user_id: Uuid,
        id: Uuid,
        now: Timestamp,
    ) -> Result<bool> {
        let mut st = self.lock();
        let Some(n) = st
            .notifications
            .iter_mut()
            .find(|n| n.id == id && n.user_id == user_id)
        else {
            return Ok(false);
        };
        if n.read_at.is_none() {
            n.read_at = Some(now);
        }
        Ok(true)
    }

    async fn mark_all_notifications_read(&self, user_id: Uuid, now: Timestamp) -> Result<u64> {
        let mut st = self.lock();
        let mut count = 0;
        for n in st
            .notifications
            .iter_mut()
            .filter(|n| n.user_id == user_id && n.read_at.is_none())
        {
            n.read_at = Some(now);
            count += 1;
        }
        Ok(count)
    }

    async fn delete_notification(&self, user_id: Uuid, id: Uuid, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        let before = st.notifications.len();
        st.notifications
            .retain(|n| !(n.id == id && n.user_id == user_id));
        let deleted = st.notifications.len() < before;
        if deleted {
            st.apply(effects);
        }
        Ok(deleted)
    }

    async fn delete_all_notifications(&self, user_id: Uuid, audit: AuditEvent) -> Result<u64> {
        let mut st = self.lock();
        let before = st.notifications.len();
        st.notifications.retain(|n| n.user_id != user_id);
        let deleted = (before - st.notifications.len()) as u64;
        if deleted > 0 {
            st.apply(Effects::audit(counted(audit, deleted)));
        }
        Ok(deleted)
    }
}
