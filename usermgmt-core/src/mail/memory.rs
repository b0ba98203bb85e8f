//! [`OutboxStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::Result;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use time::Duration;
use uuid::Uuid;

#[async_trait]
impl OutboxStore for MemoryStore {
    async fn claim_due_mail(
        &self,
        now: Timestamp,
        limit: usize,
        lease: Duration,
    ) -> Result<Vec<OutboxMessage>> {
        let mut st = self.lock();
        let mut claimed = Vec::new();
        for m in st.outbox.iter_mut() {
            if claimed.len() >= limit {
                break;
            }
            let free = m.locked_until.is_none_or(|until| until <= now);
            if m.status == MailStatus::Pending && m.message.next_attempt_at <= now && free {
                m.locked_until = Some(now + lease);
                claimed.push(m.message.clone());
            }
        }
        Ok(claimed)
    }

    async fn mark_mail_sent(&self, id: Uuid, now: Timestamp) -> Result<()> {
        let mut st = self.lock();
        if let Some(m) = st.outbox.iter_mut().find(|m| m.message.id == id) {
            m.status = MailStatus::Sent;
            m.locked_until = None;
            m.finished_at = Some(now);
            m.message.sealed_payload.clear();
            m.message.attempts += 1;
        }
        st.delete_mail_to_nobody(id);
        Ok(())
    }

    async fn delete_finished_mail(&self, before: Timestamp, limit: usize) -> Result<u64> {
        let mut st = self.lock();
        let mut deleted = 0;
        st.outbox.retain(|m| {
            let expired = m.status != MailStatus::Pending
                && m.finished_at.unwrap_or(m.message.created_at) < before
                && deleted < limit;
            if expired {
                deleted += 1;
            }
            !expired
        });
        Ok(deleted as u64)
    }

    async fn mark_mail_failed(
        &self,
        id: Uuid,
        _error: &str,
        retry_at: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let mut st = self.lock();
        if let Some(m) = st.outbox.iter_mut().find(|m| m.message.id == id) {
            m.message.attempts += 1;
            m.locked_until = None;
            match retry_at {
                Some(at) => m.message.next_attempt_at = at,
                None => {
                    m.status = MailStatus::Failed;
                    m.finished_at = Some(now);
                }
            }
        }
        if retry_at.is_none() {
            st.delete_mail_to_nobody(id);
        }
        Ok(())
    }

    async fn mail_rows_to(&self, recipient: &str) -> Result<u64> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| m.message.recipient == recipient)
            .count() as u64)
    }

    async fn mail_backlog(&self) -> Result<u64> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|m| m.status == MailStatus::Pending)
            .count() as u64)
    }
}
