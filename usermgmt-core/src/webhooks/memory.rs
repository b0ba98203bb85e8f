//! [`WebhookStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use super::store::{AttemptOutcome, WebhookChange, WebhookStore};
use crate::error::Result;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use time::Duration;
use uuid::Uuid;

/// Newest first, as the SQL stores order `(created_at, id)` descending.
fn newest_first(a: &WebhookDeliveryRecord, b: &WebhookDeliveryRecord) -> std::cmp::Ordering {
    b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id))
}

#[async_trait]
impl WebhookStore for MemoryStore {
    async fn create_webhook(
        &self,
        endpoint: WebhookEndpointRecord,
        effects: Effects,
    ) -> Result<()> {
        let mut st = self.lock();
        if st.webhooks.iter().any(|w| w.id == endpoint.id) {
            return Err(crate::Error::Conflict(crate::error::ConflictKind::Other));
        }
        st.webhooks.push(endpoint);
        st.apply(effects);
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<WebhookEndpointRecord>> {
        Ok(self.lock().webhooks.clone())
    }

    async fn webhook(&self, id: Uuid) -> Result<Option<WebhookEndpointRecord>> {
        Ok(self.lock().webhooks.iter().find(|w| w.id == id).cloned())
    }

    async fn update_webhook(
        &self,
        id: Uuid,
        change: WebhookChange,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<WebhookEndpointRecord>> {
        let mut st = self.lock();
        let Some(w) = st.webhooks.iter_mut().find(|w| w.id == id) else {
            return Ok(None);
        };
        if let Some(url) = change.url {
            w.url = url;
        }
        if let Some(events) = change.events {
            w.events = events;
        }
        if let Some(description) = change.description {
            w.description = description;
        }
        if let Some(enabled) = change.enabled {
            if enabled {
                w.failing_since = None;
            }
            w.enabled = enabled;
        }
        w.updated_at = now;
        let updated = w.clone();
        st.apply(effects);
        Ok(Some(updated))
    }

    async fn delete_webhook(&self, id: Uuid, effects: Effects) -> Result<bool> {
        let mut st = self.lock();
        let before = st.webhooks.len();
        st.webhooks.retain(|w| w.id != id);
        if st.webhooks.len() == before {
            return Ok(false);
        }
        st.webhook_deliveries.retain(|d| d.record.endpoint_id != id);
        st.apply(effects);
        Ok(true)
    }

    async fn rotate_webhook_secret(
        &self,
        id: Uuid,
        replacing: Option<&[u8]>,
        sealed_secret: Vec<u8>,
        previous_until: Timestamp,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<WebhookEndpointRecord>> {
        let mut st = self.lock();
        let Some(w) = st
            .webhooks
            .iter_mut()
            .find(|w| w.id == id && replacing.is_none_or(|current| w.sealed_secret == current))
        else {
            return Ok(None);
        };
        w.sealed_previous_secret = Some(std::mem::replace(&mut w.sealed_secret, sealed_secret));
        w.previous_secret_until = Some(previous_until);
        w.updated_at = now;
        let rotated = w.clone();
        st.apply(effects);
        Ok(Some(rotated))
    }

    async fn webhook_deliveries(
        &self,
        endpoint_id: Uuid,
        status: Option<DeliveryStatus>,
        page: Page,
    ) -> Result<(Vec<WebhookDeliveryRecord>, u64)> {
        let st = self.lock();
        let mut found: Vec<WebhookDeliveryRecord> = st
            .webhook_deliveries
            .iter()
            .map(|d| &d.record)
            .filter(|d| d.endpoint_id == endpoint_id && status.is_none_or(|s| d.status == s))
            .cloned()
            .collect();
        found.sort_by(newest_first);
        let total = found.len() as u64;
        let rows = found
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
            .collect();
        Ok((rows, total))
    }

    async fn retry_webhook_delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        now: Timestamp,
    ) -> Result<Option<WebhookDeliveryRecord>> {
        let mut st = self.lock();
        let Some(d) = st
            .webhook_deliveries
            .iter_mut()
            .find(|d| d.record.id == delivery_id && d.record.endpoint_id == endpoint_id)
        else {
            return Ok(None);
        };
        if d.record.status != DeliveryStatus::Pending {
            d.record.status = DeliveryStatus::Pending;
            d.record.next_attempt_at = now;
        }
        Ok(Some(d.record.clone()))
    }

    async fn enqueue_webhook_delivery(&self, delivery: WebhookDeliveryRecord) -> Result<()> {
        self.lock().webhook_deliveries.push(StoredDelivery {
            record: delivery,
            locked_until: None,
        });
        Ok(())
    }

    async fn claim_webhook_delivery(
        &self,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Option<(WebhookDeliveryRecord, WebhookEndpointRecord)>> {
        let mut st = self.lock();
        // The head of each enabled endpoint's queue: its oldest pending delivery.
        let mut heads: Vec<usize> = Vec::new();
        for endpoint in st.webhooks.iter().filter(|w| w.enabled) {
            let head = st
                .webhook_deliveries
                .iter()
                .enumerate()
                .filter(|(_, d)| {
                    d.record.endpoint_id == endpoint.id
                        && d.record.status == DeliveryStatus::Pending
                })
                .min_by(|(_, a), (_, b)| {
                    a.record
                        .created_at
                        .cmp(&b.record.created_at)
                        .then(a.record.id.cmp(&b.record.id))
                })
                .map(|(i, _)| i);
            heads.extend(head);
        }
        let due = heads
            .into_iter()
            .filter(|&i| {
                let d = &st.webhook_deliveries[i];
                d.record.next_attempt_at <= now && d.locked_until.is_none_or(|until| until <= now)
            })
            .min_by(|&a, &b| {
                let (a, b) = (
                    &st.webhook_deliveries[a].record,
                    &st.webhook_deliveries[b].record,
                );
                a.next_attempt_at
                    .cmp(&b.next_attempt_at)
                    .then(a.id.cmp(&b.id))
            });
        let Some(i) = due else {
            return Ok(None);
        };
        st.webhook_deliveries[i].locked_until = Some(now + lease);
        let delivery = st.webhook_deliveries[i].record.clone();
        let endpoint = st
            .webhooks
            .iter()
            .find(|w| w.id == delivery.endpoint_id)
            .cloned()
            .ok_or(crate::Error::NotFound("webhook"))?;
        Ok(Some((delivery, endpoint)))
    }

    async fn record_webhook_attempt(
        &self,
        delivery_id: Uuid,
        outcome: AttemptOutcome,
        now: Timestamp,
    ) -> Result<()> {
        let mut st = self.lock();
        let Some(d) = st
            .webhook_deliveries
            .iter_mut()
            .find(|d| d.record.id == delivery_id)
        else {
            return Ok(());
        };
        d.locked_until = None;
        d.record.attempts += 1;
        let endpoint_id = d.record.endpoint_id;
        let succeeded = match outcome {
            AttemptOutcome::Delivered { status_code } => {
                d.record.status = DeliveryStatus::Delivered;
                d.record.delivered_at = Some(now);
                d.record.last_status_code = Some(status_code);
                d.record.last_error = None;
                true
            }
            AttemptOutcome::Failed {
                status_code,
                error,
                retry_at,
            } => {
                d.record.last_status_code = status_code;
                d.record.last_error = Some(error);
                match retry_at {
                    Some(at) => d.record.next_attempt_at = at,
                    None => d.record.status = DeliveryStatus::Failed,
                }
                false
            }
        };
        if let Some(w) = st.webhooks.iter_mut().find(|w| w.id == endpoint_id) {
            if succeeded {
                w.failing_since = None;
            } else if w.failing_since.is_none() {
                w.failing_since = Some(now);
            }
        }
        Ok(())
    }

    async fn disable_failing_webhook(
        &self,
        id: Uuid,
        failing_before: Timestamp,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool> {
        let mut st = self.lock();
        let Some(w) = st.webhooks.iter_mut().find(|w| {
            w.id == id && w.enabled && w.failing_since.is_some_and(|since| since <= failing_before)
        }) else {
            return Ok(false);
        };
        w.enabled = false;
        w.updated_at = now;
        st.apply(effects);
        Ok(true)
    }

    async fn users_with_permission(&self, permission: &str) -> Result<Vec<Uuid>> {
        let st = self.lock();
        let roles: Vec<&str> = st
            .roles
            .iter()
            .filter(|r| r.permissions.contains(permission))
            .map(|r| r.name.as_str())
            .collect();
        let mut users: Vec<Uuid> = st
            .users
            .values()
            .filter(|u| {
                u.deleted_at.is_none() && u.roles.iter().any(|r| roles.contains(&r.as_str()))
            })
            .map(|u| u.id)
            .collect();
        users.sort_unstable();
        Ok(users)
    }

    async fn delete_finished_webhook_deliveries(
        &self,
        before: Timestamp,
        limit: usize,
    ) -> Result<u64> {
        let mut st = self.lock();
        let mut deleted = 0;
        st.webhook_deliveries.retain(|d| {
            let expired = d.record.status != DeliveryStatus::Pending
                && d.record.created_at < before
                && deleted < limit;
            if expired {
                deleted += 1;
            }
            !expired
        });
        Ok(deleted as u64)
    }

    async fn webhook_backlog(&self) -> Result<(u64, Option<Timestamp>)> {
        let st = self.lock();
        let pending = st
            .webhook_deliveries
            .iter()
            .filter(|d| d.record.status == DeliveryStatus::Pending);
        let (count, oldest) =
            pending.fold((0u64, None), |(n, oldest): (u64, Option<Timestamp>), d| {
                (
                    n + 1,
                    Some(oldest.map_or(d.record.created_at, |o| o.min(d.record.created_at))),
                )
            });
        Ok((count, oldest))
    }
}
