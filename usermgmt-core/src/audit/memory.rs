//! [`AuditStore`] in process memory: the [`MemoryStore`]'s state, under its one lock
//! (`store/memory.rs`).

use crate::error::Result;
use crate::store::memory::*;
use crate::store::*;
use async_trait::async_trait;
use std::collections::HashMap;
use time::Duration;
use uuid::Uuid;

#[async_trait]
impl AuditStore for MemoryStore {
    async fn audit_events(&self, user_id: Option<Uuid>, limit: usize) -> Result<Vec<AuditEvent>> {
        let st = self.lock();
        let mut events: Vec<_> = st
            .audit
            .iter()
            .filter(|e| user_id.is_none() || e.user_id == user_id || e.actor_id == user_id)
            .cloned()
            .collect();
        events.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        events.truncate(limit);
        Ok(events)
    }

    async fn search_audit(
        &self,
        filter: &AuditFilter,
        page: Page,
        count_up_to: Option<u64>,
    ) -> Result<(Vec<AuditEvent>, u64)> {
        let st = self.lock();
        let mut found: Vec<_> = st
            .audit
            .iter()
            .filter(|e| {
                filter
                    .user_id
                    .is_none_or(|u| e.user_id == Some(u) || e.actor_id == Some(u))
                    && filter.action.as_ref().is_none_or(|a| e.action == *a)
                    && filter.resource.as_ref().is_none_or(|r| e.resource == *r)
                    && filter.from.is_none_or(|t| e.created_at >= t)
                    && filter.until.is_none_or(|t| e.created_at < t)
            })
            .collect();
        found.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let total = (found.len() as u64).min(count_up_to.unwrap_or(u64::MAX));
        let items = found
            .into_iter()
            .skip(usize::try_from(page.offset()).unwrap_or(usize::MAX))
            .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        Ok((items, total))
    }

    async fn audit_stats(&self, since: Timestamp, top: usize) -> Result<AuditStats> {
        let st = self.lock();
        let recent: Vec<_> = st.audit.iter().filter(|e| e.created_at >= since).collect();
        let rank = |key: &dyn Fn(&AuditEvent) -> &str| {
            let mut counts: HashMap<String, u64> = HashMap::new();
            for e in &recent {
                *counts.entry(key(e).to_owned()).or_default() += 1;
            }
            let mut ranked: Vec<_> = counts.into_iter().collect();
            // Most frequent first; ties by name, as the SQL stores order them.
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            ranked.truncate(top);
            ranked
        };
        Ok(AuditStats {
            total: recent.len() as u64,
            top_actions: rank(&|e| e.action.as_str()),
            top_resources: rank(&|e| e.resource.as_str()),
        })
    }

    async fn activity_counts(&self, now: Timestamp) -> Result<ActivityCounts> {
        let st = self.lock();
        let live: Vec<_> = st
            .users
            .values()
            .filter(|u| u.deleted_at.is_none())
            .collect();
        let active_since = |days: i64| {
            live.iter()
                .filter(|u| {
                    u.last_login_at
                        .is_some_and(|t| t >= now - Duration::days(days))
                })
                .count() as u64
        };
        let month = now - Duration::days(30);
        let actions = |action: &str| {
            st.audit
                .iter()
                .filter(|e| e.action == action && e.created_at >= month)
                .count() as u64
        };
        Ok(ActivityCounts {
            users_total: live.len() as u64,
            users_verified: live.iter().filter(|u| u.email_verified).count() as u64,
            active_day: active_since(1),
            active_week: active_since(7),
            active_month: active_since(30),
            new_users: live.iter().filter(|u| u.created_at >= month).count() as u64,
            logins: actions("USER_LOGIN"),
            failed_logins: actions("LOGIN_FAILED"),
        })
    }

    async fn delete_audit_before(&self, cutoff: Timestamp, effects: Effects) -> Result<u64> {
        let mut st = self.lock();
        let before = st.audit.len();
        st.audit.retain(|e| e.created_at >= cutoff);
        let deleted = (before - st.audit.len()) as u64;
        st.apply(effects);
        Ok(deleted)
    }
}
