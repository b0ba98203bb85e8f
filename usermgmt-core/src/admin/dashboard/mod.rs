//! The administrators' dashboard: figures over every user, session, role and 30 days of sign-ups
//! and sign-ins.
//!
//! Each figure is an exact count over a set that grows with the deployment: a few milliseconds at
//! ten thousand users, seconds at a million (on PostgreSQL with 50 million audit rows, 2 to 4½ s
//! for one request alone; docs/PERFORMANCE.md, "Scale"). So figures that were slow to read are kept
//! and answered again until they are [`Config::dashboard_max_age`] old; then the kept ones are
//! answered once more while one fresh read runs in the background, so no administrator waits for
//! it. Figures that were quick to read are not kept: a small deployment sees every change at once;
//! requests that arrive while figures are read wait for the next read and share it, so a burst of
//! them reads the figures twice at most, not once each. Every answer says when its figures were
//! read (`as_of`).
//!
//! [`Config::dashboard_max_age`]: crate::Config::dashboard_max_age

pub(crate) mod figures;

pub use figures::{DASHBOARD_DAYS, Dashboard};

use crate::auth::AuthenticatedUser;
use crate::error::Result;
use crate::manager::UserManager;
use figures::LastRead;
use std::sync::Arc;
use time::Duration;

impl UserManager {
    /// Dashboard figures (needs `admin:access`); "new" means the last 7 days. Figures that were
    /// slow to read may be up to [`Config::dashboard_max_age`](crate::Config::dashboard_max_age)
    /// old: see [`Dashboard::as_of`]. Other figures were read after the request arrived.
    pub async fn dashboard(&self, auth: &AuthenticatedUser) -> Result<Dashboard> {
        self.authorize(auth, "admin:access").await?;
        let arrived = std::time::Instant::now();
        if let Some(kept) = self.kept_dashboard() {
            return Ok(kept);
        }
        let memory = &self.inner.dashboard;
        let _reading = memory.reading.lock().await;
        // A read that started after this request arrived answers it as well as its own would.
        if let Some(figures) = memory.latest_if(|read| read.started >= arrived) {
            return Ok((*figures).clone());
        }
        if let Some(kept) = self.kept_dashboard() {
            return Ok(kept);
        }
        self.read_dashboard().await
    }

    /// The kept figures, when the last read was slow and reusing them is on. Past their age
    /// they are still answered, and one background read replaces them.
    fn kept_dashboard(&self) -> Option<Dashboard> {
        let max_age = self.inner.config.dashboard_max_age;
        if max_age <= Duration::ZERO {
            return None;
        }
        let kept = self.inner.dashboard.latest_if(|read| read.slow)?;
        if self.now() - kept.as_of > max_age
            && let Ok(turn) = self.inner.dashboard.reading.clone().try_lock_owned()
        {
            let manager = self.clone();
            tokio::spawn(async move {
                if let Err(err) = manager.read_dashboard().await {
                    tracing::warn!(error = %err, "reading the dashboard figures failed; the older ones stay");
                }
                drop(turn);
            });
        }
        Some((*kept).clone())
    }

    /// Reads every figure now and remembers them, as slow when they took at least
    /// [`Config::dashboard_slow_read`](crate::Config::dashboard_slow_read) (a quick read makes
    /// the kept ones live again). The caller holds the reading turn.
    async fn read_dashboard(&self) -> Result<Dashboard> {
        let config = &self.inner.config;
        let started = std::time::Instant::now();
        let figures = self.dashboard_figures().await?;
        let slow = started.elapsed() >= config.dashboard_slow_read;
        self.inner.dashboard.remember(LastRead {
            started,
            slow: slow && config.dashboard_max_age > Duration::ZERO,
            figures: Arc::new(figures.clone()),
        });
        Ok(figures)
    }

    async fn dashboard_figures(&self) -> Result<Dashboard> {
        let store = &self.inner.store;
        let now = self.now();
        let counts = store.dashboard_counts(now, now - Duration::days(7)).await?;
        let roles = store.list_roles().await?;
        let (_, organizations) = store
            .all_orgs(None, Some(false), crate::store::Page { page: 1, limit: 1 })
            .await?;
        // UTC midnights: a day is the same 24 hours on every store and every instance.
        let today = now
            .to_offset(time::UtcOffset::UTC)
            .date()
            .midnight()
            .assume_utc();
        let first_day = today - Duration::days(i64::from(DASHBOARD_DAYS) - 1);
        let daily = store.daily_activity(first_day, DASHBOARD_DAYS).await?;
        Ok(Dashboard {
            counts,
            roles,
            organizations,
            daily,
            as_of: now,
        })
    }
}
