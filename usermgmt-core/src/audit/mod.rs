//! The audit API (SPEC §6 Audit): the trail with filters, 30-day statistics, user activity
//! analytics, per-user activity and retention cleanup. Rows are written by every service in the
//! same transaction as the change they record; this module only reads (and trims) them.

pub use crate::domain::AuditAction;

#[cfg(feature = "test-util")]
mod cases;
mod memory;
pub(crate) mod routes;
#[cfg(any(feature = "postgres", feature = "sqlite", feature = "mysql"))]
pub(crate) mod sql;
pub mod store;

use crate::auth::AuthenticatedUser;
use crate::error::{Error, Result};
use crate::manager::{ClientInfo, UserManager};
use crate::store::{ActivityCounts, AuditEvent, AuditFilter, AuditStats, Effects, Page, Total};
use serde_json::json;
use time::Duration;
use uuid::Uuid;

/// Days the statistics look back.
pub const STATS_DAYS: i64 = 30;
/// How many actions and resources the statistics rank.
pub const STATS_TOP: usize = 10;
/// Retention bounds of a cleanup, in days.
pub const RETENTION_DAYS: std::ops::RangeInclusive<u32> = 1..=3650;

impl UserManager {
    /// A page of the trail, newest first (needs `audit:read`).
    pub async fn audit_log(
        &self,
        auth: &AuthenticatedUser,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEvent>, Total)> {
        self.authorize(auth, "audit:read").await?;
        self.search_audit(filter, page).await
    }

    /// A page of the trail and its total, counted up to
    /// [`Config::total_count_limit`](crate::Config::total_count_limit).
    async fn search_audit(
        &self,
        filter: &AuditFilter,
        page: Page,
    ) -> Result<(Vec<AuditEvent>, Total)> {
        let bound = page.count_bound(self.inner.config.total_count_limit);
        let (events, counted) = self.inner.store.search_audit(filter, page, bound).await?;
        Ok((events, Total::of(counted, bound)))
    }

    /// Rows of the last 30 days with the most frequent actions and resources (needs `audit:read`).
    pub async fn audit_stats(&self, auth: &AuthenticatedUser) -> Result<AuditStats> {
        self.authorize(auth, "audit:read").await?;
        let since = self.now() - Duration::days(STATS_DAYS);
        self.inner.store.audit_stats(since, STATS_TOP).await
    }

    /// User activity figures (needs `audit:read`).
    pub async fn audit_analytics(&self, auth: &AuthenticatedUser) -> Result<ActivityCounts> {
        self.authorize(auth, "audit:read").await?;
        self.inner.store.activity_counts(self.now()).await
    }

    /// A page of one user's rows (as target or actor), newest first (needs `audit:read`).
    /// `NotFound("user")` for an unknown id (a purged user's rows are anonymised: they are no
    /// longer anyone's).
    pub async fn user_activity(
        &self,
        auth: &AuthenticatedUser,
        user_id: Uuid,
        page: Page,
    ) -> Result<(Vec<AuditEvent>, Total)> {
        self.authorize(auth, "audit:read").await?;
        self.inner
            .store
            .user_by_id(user_id)
            .await?
            .ok_or(Error::NotFound("user"))?;
        let filter = AuditFilter {
            user_id: Some(user_id),
            ..AuditFilter::default()
        };
        self.search_audit(&filter, page).await
    }

    /// Deletes rows older than `retention_days` (needs `system:manage`); the cleanup itself is audited
    /// (its row is written after the deletion, so it stays).
    pub async fn cleanup_audit(
        &self,
        auth: &AuthenticatedUser,
        retention_days: u32,
        client: &ClientInfo,
    ) -> Result<u64> {
        self.authorize(auth, "system:manage").await?;
        self.ensure_not_impersonated(auth)?;
        if !RETENTION_DAYS.contains(&retention_days) {
            return Err(Error::invalid(
                "retentionDays",
                format!(
                    "must be a whole number from {} to {}",
                    RETENTION_DAYS.start(),
                    RETENTION_DAYS.end()
                ),
            ));
        }
        let cutoff = self.now() - Duration::days(i64::from(retention_days));
        let mut audit = self.audit(
            AuditAction::AuditCleanup,
            Some(auth.user.id),
            None,
            "audit",
            client,
            json!({"retentionDays": retention_days}),
        );
        audit.resource_id = None;
        self.inner
            .store
            .delete_audit_before(cutoff, Effects::audit(audit))
            .await
    }
}
